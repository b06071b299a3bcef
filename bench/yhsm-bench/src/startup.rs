//! Start-up time of a command: wall time from spawn to exit, over many runs after a few
//! untimed ones (so the file cache is warm: this is a fresh process, not a cold disk).

use std::process::{Command, Stdio};
use std::time::Instant;

use crate::stats::{Summary, fmt_range};

/// Runs `argv` `runs` times and returns `median (min–max)` in milliseconds.
pub fn run(runs: usize, argv: &[String]) -> Result<String, String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("startup needs a command".to_owned());
    };
    let once = || -> Result<f64, String> {
        let start = Instant::now();
        let status = Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        if status.success() { Ok(ms) } else { Err(format!("{program} failed: {status}")) }
    };
    for _ in 0..3 {
        once()?;
    }
    let times = (0..runs).map(|_| once()).collect::<Result<Vec<_>, _>>()?;
    let s = Summary::of(&times).ok_or("no start-up measurement")?;
    Ok(format!("{} ms", fmt_range(s, 2)))
}
