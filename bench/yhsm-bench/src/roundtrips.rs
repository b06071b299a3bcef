//! Benchmark 1, round trips: each client in turn (A B C, B C A, …) runs COUNT echoes of
//! each size against its own fresh simulator; the table gives medians with min–max and
//! the speed-up of yhsm as a ratio of medians, with the range of the per-run ratios
//! (run i of a peer against run i of yhsm, which ran right next to it).

use std::fmt::Write as _;

use crate::host::{Hosted, Run};
use crate::stats::{Summary, fmt_range};

/// A client and how to start it; the placeholders `{url}`, `{host}`, `{port}`, `{count}`
/// and `{size}` are filled in per run.
#[derive(Clone, Debug)]
pub struct Client {
    pub name: String,
    pub argv: Vec<String>,
}

#[derive(Debug)]
pub struct Options {
    pub runs: usize,
    pub count: usize,
    pub sizes: Vec<usize>,
    /// The first client is the one the others are compared with (yhsm).
    pub clients: Vec<Client>,
}

#[derive(Default)]
struct Samples {
    loop_ns: Vec<f64>,
    cpu_ns: Vec<f64>,
    wall_ns: Vec<f64>,
    exchanges: Vec<u64>,
}

fn run_once(client: &Client, count: usize, size: usize) -> Result<Run, String> {
    let hosted = Hosted::start()?;
    let argv: Vec<String> = client
        .argv
        .iter()
        .map(|a| a.replace("{count}", &count.to_string()).replace("{size}", &size.to_string()))
        .collect();
    let run = hosted.run(&argv)?;
    if run.field("echo_ns").is_none() {
        return Err(format!("{} printed no echo_ns=: {}", client.name, run.stdout.trim()));
    }
    Ok(run)
}

/// Runs the benchmark and returns its Markdown section.
pub fn run(opts: &Options) -> Result<String, String> {
    // One short untimed run each: compiled caches, page cache, Python byte code.
    for size in &opts.sizes {
        for client in &opts.clients {
            run_once(client, 10, *size)?;
        }
    }
    let mut samples: Vec<Vec<Samples>> = opts
        .sizes
        .iter()
        .map(|_| opts.clients.iter().map(|_| Samples::default()).collect())
        .collect();
    for r in 0..opts.runs {
        for (s, size) in opts.sizes.iter().enumerate() {
            // Each run starts with the next client (A B C, B C A, …): no client always
            // follows the same one.
            let n = opts.clients.len();
            for c in (0..n).map(|i| (i + r) % n) {
                let Some(client) = opts.clients.get(c) else { continue };
                let run = run_once(client, opts.count, *size)?;
                eprintln!(
                    "round trips: run {}/{} {size} B {}: {:.1} ms",
                    r + 1,
                    opts.runs,
                    client.name,
                    run.field("echo_ns").unwrap_or(f64::NAN) / 1e6
                );
                if let Some(slot) = samples.get_mut(s).and_then(|v| v.get_mut(c)) {
                    slot.loop_ns.push(run.field("echo_ns").unwrap_or(f64::NAN));
                    if let Some(cpu) = run.field("cpu_ns") {
                        slot.cpu_ns.push(cpu);
                    }
                    slot.wall_ns.push(run.wall.as_secs_f64() * 1e9);
                    slot.exchanges.push(run.exchanges);
                }
            }
        }
    }
    Ok(table(opts, &samples))
}

/// A client's speed-up target: yhsm at least `min`× faster.
fn target_for(name: &str) -> Option<f64> {
    if name.starts_with("python-yubihsm") {
        Some(10.0)
    } else if name.starts_with("yubihsm ") {
        Some(1.0)
    } else {
        None
    }
}

fn table(opts: &Options, samples: &[Vec<Samples>]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} authenticated ECHO commands in one session per run, {} runs per client and size, \
         clients alternating, each run starting with the next client; each run against its own fresh simulator. Loop time: first echo \
         to last (the session already open); process time: the whole client process, start-up, \
         connection and authentication included. Speed-up: the peer's median loop time over \
         yhsm's (in brackets: the range of the ratios of runs made side by side). Client CPU: \
         the CPU time of the client's thread during the loop (Linux schedstat), its own work \
         without the simulator's or the scheduler's, so the least disturbed by other load.\n",
        opts.count, opts.runs
    );
    let _ = writeln!(
        out,
        "| size | client | loop time, ms | per echo, µs | yhsm speed-up | client CPU per echo, µs | CPU ratio | process time, ms | exchanges per run |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    let count = opts.count.max(1) as f64;
    let mut verdicts = Vec::new();
    for (size, per_size) in opts.sizes.iter().zip(samples) {
        let Some(base) = per_size.first() else { continue };
        let base_median = Summary::of(&base.loop_ns).map(|b| b.median);
        let base_cpu = Summary::of(&base.cpu_ns).map(|b| b.median);
        for (i, (client, s)) in opts.clients.iter().zip(per_size).enumerate() {
            let (Some(loop_ns), Some(wall)) = (Summary::of(&s.loop_ns), Summary::of(&s.wall_ns))
            else {
                continue;
            };
            let ratios: Vec<f64> =
                s.loop_ns.iter().zip(&base.loop_ns).map(|(peer, ours)| peer / ours).collect();
            let speedup = match (i, base_median, Summary::of(&ratios)) {
                (0, _, _) => "1 (reference)".to_owned(),
                (_, Some(b), Some(r)) => {
                    let ratio = loop_ns.median / b;
                    if let Some(min) = target_for(&client.name) {
                        let met = if ratio >= min { "met" } else { "**not met**" };
                        verdicts.push(format!(
                            "- {size} B, {}: yhsm {ratio:.2}× as fast, per-run ratios {:.2}–{:.2} \
                             (target ≥ {min}×): {met}",
                            client.name, r.min, r.max
                        ));
                    }
                    format!("**{ratio:.1}×** ({:.1}–{:.1})", r.min, r.max)
                }
                _ => "—".to_owned(),
            };
            let cpu = Summary::of(&s.cpu_ns);
            let cpu_cell =
                cpu.map_or_else(|| "—".to_owned(), |c| fmt_range(c.scaled(count * 1e3), 1));
            let cpu_ratio = match (i, cpu, base_cpu) {
                (0, Some(_), _) => "1".to_owned(),
                (_, Some(c), Some(b)) => format!("{:.1}×", c.median / b),
                _ => "—".to_owned(),
            };
            let exchanges = match (s.exchanges.iter().min(), s.exchanges.iter().max()) {
                (Some(a), Some(b)) if a == b => a.to_string(),
                (Some(a), Some(b)) => format!("{a}–{b}"),
                _ => "—".to_owned(),
            };
            let _ = writeln!(
                out,
                "| {size} B | {} | {} | {:.1} | {speedup} | {cpu_cell} | {cpu_ratio} | {} | {exchanges} |",
                client.name,
                fmt_range(loop_ns.scaled(1e6), 1),
                loop_ns.median / count / 1e3,
                fmt_range(wall.scaled(1e6), 0),
            );
        }
    }
    if !verdicts.is_empty() {
        let _ = writeln!(out, "\n{}", verdicts.join("\n"));
    }
    out
}
