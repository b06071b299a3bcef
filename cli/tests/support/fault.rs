//! What the three fault matrices (`fault_matrix.rs` for restore, `fault_matrix_setup.rs`,
//! `fault_matrix_clone.rs`) share: the simulator each run starts from, the fault kinds
//! tried at one exchange, how a run that may have panicked ended, and the end of the
//! totals.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use yhsm::backup::restore::{self, Event, Line};
use yhsm_proto::frame::ErrorCode;
use yhsm_sim::{Action, Config, Device, ManualClock, SharedDevice};

/// A simulator on a manual clock with a fixed seed: every run of a matrix sees the
/// exchanges of the fault-free run at the same indices.
pub fn device() -> SharedDevice {
    SharedDevice::new(Device::with_clock_and_seed(
        Config::default(),
        Box::new(ManualClock::new()),
        [0x5e; 32],
    ))
}

/// The fault kinds for one exchange of `command` whose fault-free response was
/// `response_len` bytes: the response lost; its code, middle or last byte flipped;
/// storage-failed, insufficient-permissions, invalid-data, and the refusal typical of the
/// command (sessions-full, authentication-failed, or object-not-found for the commands
/// in `not_found`); the session expired; the device unplugged.
pub fn kinds(command: &str, response_len: usize, not_found: &[&str]) -> Vec<(String, Action)> {
    let len = response_len.max(1);
    let mut out = vec![
        ("lost".to_owned(), Action::DropResponse),
        ("corrupt-code".to_owned(), Action::CorruptResponse { offset: 0 }),
        ("corrupt-middle".to_owned(), Action::CorruptResponse { offset: len / 2 }),
        ("corrupt-last".to_owned(), Action::CorruptResponse { offset: len - 1 }),
    ];
    let mut codes = vec![
        ErrorCode::STORAGE_FAILED,
        ErrorCode::INSUFFICIENT_PERMISSIONS,
        ErrorCode::INVALID_DATA,
    ];
    codes.extend(match command {
        "create-session" => Some(ErrorCode::SESSIONS_FULL),
        "authenticate-session" => Some(ErrorCode::AUTHENTICATION_FAILED),
        c if not_found.contains(&c) => Some(ErrorCode::OBJECT_NOT_FOUND),
        _ => None,
    });
    for code in codes {
        out.push((format!("error-{code}"), Action::Error(code)));
    }
    out.push(("expired".to_owned(), Action::ExpireSession));
    out.push(("unplugged".to_owned(), Action::Unplug));
    out
}

/// How a command run under `catch_unwind` ended, as the binary would end: `Ok` with its
/// report, or `Err` with the exit code — 101 for a panic (`panicked` set), else the
/// error's, whose rendering is appended to `stderr`.
pub fn ended<R>(
    outcome: std::thread::Result<yhsm::Result<R>>,
    stderr: &mut String,
    panicked: &mut bool,
) -> Result<R, u8> {
    match outcome {
        Err(_) => {
            *panicked = true;
            Err(101)
        }
        Ok(Err(e)) => {
            stderr.push_str(&e.render());
            Err(e.exit_code())
        }
        Ok(Ok(report)) => Ok(report),
    }
}

/// Appends what the binary prints of a restore or clone `event` to `stdout` and `stderr`.
pub fn render(event: &Event, stdout: &mut String, stderr: &mut String) {
    for line in restore::render(event) {
        match line {
            Line::Out(text) => writeln!(stdout, "{text}").unwrap(),
            Line::Warning(text) => writeln!(stderr, "yhsm: warning: {text}").unwrap(),
        }
    }
}

/// Appends the totals by fault kind — tried, then the two outcomes `heading` names.
pub fn write_by_kind(
    report: &mut String,
    heading: &str,
    by_kind: &BTreeMap<String, (usize, usize, usize)>,
) {
    writeln!(report, "{heading}").unwrap();
    for (kind, (tried, first, second)) in by_kind {
        writeln!(report, "  {kind:<36} {tried:>4} {first:>4} {second:>4}").unwrap();
    }
}

/// Appends the time taken and every problem, then prints the totals (`--nocapture`).
pub fn print_end(report: &mut String, elapsed: Duration, problems: &[String]) {
    writeln!(report, "time: {:.1} s", elapsed.as_secs_f64()).unwrap();
    for p in problems {
        writeln!(report, "\n{p}").unwrap();
    }
    print!("{report}");
}

/// `name` in the cargo target directory, where a matrix leaves its totals.
pub fn target_file(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().join(name)
}
