//! Our side of the round-trip benchmark: COUNT authenticated ECHO commands of SIZE bytes
//! in one session through `yhsm_transport::Client`, timed from the first echo to the
//! last, exactly as the peers (bench/peers/) time theirs, and the CPU time the client's
//! thread used meanwhile (its own work, without the simulator's or the scheduler's).

use std::time::Instant;

use yhsm_transport::{Client, ConnectorUrl, Credentials, Timeouts};

/// Runs the loop and prints `echo_ns=<total> cpu_ns=<client cpu> count=<n> size=<bytes>`.
pub fn run(url: &str, count: usize, size: usize) -> Result<(), String> {
    let url: ConnectorUrl = url.parse().map_err(|e| format!("connector URL {url}: {e}"))?;
    let mut client =
        Client::connect(&url, Timeouts::default()).map_err(|e| format!("connect: {e}"))?;
    client
        .authenticate(Credentials::password(1, b"password"))
        .map_err(|e| format!("authenticate: {e}"))?;
    let message = pattern(size);
    let cpu_start = thread_cpu_ns();
    let start = Instant::now();
    for i in 0..count {
        let answer = client.echo(&message).map_err(|e| format!("echo {i}: {e}"))?;
        if answer != message {
            return Err(format!("echo {i} answered different bytes"));
        }
    }
    let elapsed = start.elapsed();
    let cpu = thread_cpu_ns().zip(cpu_start).map(|(end, start)| end - start);
    client.close_session().map_err(|e| format!("close session: {e}"))?;
    println!("echo_ns={} cpu_ns={} count={count} size={size}", elapsed.as_nanos(), cpu_field(cpu));
    Ok(())
}

/// CPU time this thread has run, in ns (Linux: the first field of
/// `/proc/thread-self/schedstat`); every client reads the same counter.
pub fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn cpu_field(cpu: Option<u64>) -> String {
    cpu.map_or_else(|| "-".to_owned(), |c| c.to_string())
}

/// The message every client sends: `i mod 251`, so a shifted or truncated answer shows.
pub fn pattern(size: usize) -> Vec<u8> {
    (0..size).map(|i| u8::try_from(i % 251).unwrap_or(0)).collect()
}
