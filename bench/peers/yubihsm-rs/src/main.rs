//! Benchmark peer: N authenticated ECHO commands of SIZE bytes in one session through the
//! `yubihsm` crate's HTTP connector, timed from the first echo to the last.
//!
//! Usage: yubihsm-rs-peer HOST PORT COUNT SIZE
//! Prints `echo_ns=<total> cpu_ns=<client thread cpu> count=<n> size=<bytes>` on success.

use std::process::ExitCode;
use std::time::Instant;

use yubihsm::{Client, Connector, Credentials, HttpConfig};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("yubihsm-rs-peer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [host, port, count, size] = args.as_slice() else {
        return Err("usage: yubihsm-rs-peer HOST PORT COUNT SIZE".to_owned());
    };
    let port: u16 = port.parse().map_err(|_| format!("bad port `{port}`"))?;
    let count: usize = count.parse().map_err(|_| format!("bad count `{count}`"))?;
    let size: usize = size.parse().map_err(|_| format!("bad size `{size}`"))?;

    let config = HttpConfig { addr: host.clone(), port, timeout_ms: 30_000 };
    let connector = Connector::http(&config);
    let credentials = Credentials::from_password(1, b"password");
    let client = Client::open(connector, credentials, false).map_err(|e| e.to_string())?;

    let message: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let cpu_start = thread_cpu_ns();
    let start = Instant::now();
    for _ in 0..count {
        let answer = client.echo(message.as_slice()).map_err(|e| e.to_string())?;
        if answer != message {
            return Err("echo answered different bytes".to_owned());
        }
    }
    let elapsed = start.elapsed();
    let cpu = match (cpu_start, thread_cpu_ns()) {
        (Some(start), Some(end)) => (end - start).to_string(),
        _ => "-".to_owned(),
    };
    println!("echo_ns={} cpu_ns={cpu} count={count} size={size}", elapsed.as_nanos());
    Ok(())
}

/// CPU time this thread has run, in ns (Linux: `/proc/thread-self/schedstat`).
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}
