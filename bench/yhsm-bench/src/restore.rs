//! Benchmark 2, restore: a backup that fills the device (bench/make-backup.sh: 254 wrapped
//! objects; with the wrap key from the shares and the login key, 256 objects, the
//! YubiHSM 2's maximum) restored onto a fresh simulator by `yhsm restore` and by the
//! equivalent python-yubihsm script (bench/peers/python_restore.py), in turn. Wall time
//! is the whole process; round trips are the exchanges the simulator answered.

use std::fmt::Write as _;

use crate::host::Hosted;
use crate::stats::{Summary, fmt_range};

#[derive(Debug)]
pub struct Options {
    pub runs: usize,
    /// Wrapped objects in the backup.
    pub files: usize,
    /// (name, argv) of each client, yhsm first; `{url}` is filled in per run.
    pub clients: Vec<(String, Vec<String>)>,
}

/// Runs the benchmark and returns its Markdown section.
pub fn run(opts: &Options) -> Result<String, String> {
    let expected_objects = opts.files + 2;
    let mut wall: Vec<Vec<f64>> = opts.clients.iter().map(|_| Vec::new()).collect();
    let mut trips: Vec<Vec<u64>> = opts.clients.iter().map(|_| Vec::new()).collect();
    for r in 0..opts.runs {
        let n = opts.clients.len();
        for c in (0..n).map(|i| (i + r) % n) {
            let Some((name, argv)) = opts.clients.get(c) else { continue };
            let hosted = Hosted::start()?;
            let run = hosted.run(argv)?;
            let objects = hosted.objects();
            if objects != expected_objects {
                return Err(format!(
                    "{name} left {objects} objects on the device, not {expected_objects}"
                ));
            }
            eprintln!(
                "restore: run {}/{} {name}: {:.1} ms, {} round trips",
                r + 1,
                opts.runs,
                run.wall.as_secs_f64() * 1e3,
                run.exchanges
            );
            if let (Some(w), Some(t)) = (wall.get_mut(c), trips.get_mut(c)) {
                w.push(run.wall.as_secs_f64() * 1e3);
                t.push(run.exchanges);
            }
        }
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "A backup of {} wrapped objects (opaque data, EC P-256, ed25519 and HMAC keys in turn; \
         `bench/make-backup.sh`) restored onto a fresh simulator; with the wrap key and the \
         login key the device then holds {expected_objects} objects (a YubiHSM 2 holds at most \
         256). {} runs per \
         client, alternating (each run starting with the other client). yhsm: `yhsm restore` with the wrap key from 2 of 3 shares, \
         preflight decryption of every file, and verification of every object afterwards. \
         python-yubihsm: `bench/peers/python_restore.py`, the script a user would write \
         (wrap key given in hex, put it, import every file, list; no verification). Wall \
         time is the whole process, interpreter start-up included; round trips are the \
         requests the simulator answered.\n",
        opts.files, opts.runs
    );
    let _ = writeln!(out, "| client | wall time, ms | yhsm speed-up | round trips |");
    let _ = writeln!(out, "|---|---|---|---|");
    let base = wall.first().and_then(|w| Summary::of(w)).map(|s| s.median);
    let mut verdicts = Vec::new();
    for (i, ((name, _), (w, t))) in opts.clients.iter().zip(wall.iter().zip(&trips)).enumerate() {
        let Some(s) = Summary::of(w) else { continue };
        let speedup = match (i, base) {
            (0, _) => "1 (reference)".to_owned(),
            (_, Some(b)) => {
                let ratio = s.median / b;
                verdicts.push(format!(
                    "- restore, {name}: yhsm {ratio:.1}× faster (target ≥ 10×): {}",
                    if ratio >= 10.0 { "met" } else { "**not met**" }
                ));
                format!("**{ratio:.1}×**")
            }
            _ => "—".to_owned(),
        };
        let trips = match (t.iter().min(), t.iter().max()) {
            (Some(a), Some(b)) if a == b => a.to_string(),
            (Some(a), Some(b)) => format!("{a}–{b}"),
            _ => "—".to_owned(),
        };
        if i == 0 {
            let limit = expected_objects * 2 + 10;
            let worst = t.iter().max().copied().unwrap_or(0);
            verdicts.insert(
                0,
                format!(
                    "- restore, yhsm round trips: {worst} for {expected_objects} objects with \
                     verification (target ≤ {expected_objects} × 2 + 10 = {limit}): {}",
                    if worst <= limit as u64 { "met" } else { "**not met**" }
                ),
            );
        }
        let _ = writeln!(out, "| {name} | {} | {speedup} | {trips} |", fmt_range(s, 1));
    }
    let _ = writeln!(out, "\n{}", verdicts.join("\n"));
    Ok(out)
}
