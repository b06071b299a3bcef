//! `yhsm restore`: the engine's events printed as they come (progress on standard output,
//! warnings on standard error), or with `--json` one report at the end.
//!
//! A standard output that fails (`> /dev/full`) does not stop the restore half way: the
//! device is better left restored than half restored. The first failure is kept, and
//! the command exits 1 with it at the end.

use yhsm::backup::restore::{self, Args, Event, Line};
use yhsm::{Error, GlobalOptions, Result};

use super::terminal::{TtyPrompter, env_password, print, report, warn};

pub fn run(global: &GlobalOptions, a: &Args) -> Result<u8> {
    let mut unwritten: Option<Error> = None;
    let outcome = restore::command(
        global,
        a,
        &mut TtyPrompter,
        env_password(),
        &mut show_events(a.json, &mut unwritten),
    )?;
    if a.json {
        print(&outcome.to_json().to_pretty())?;
    }
    finish(outcome.exit_code(), outcome.into_failure(), unwritten, "restore", "device")
}

/// Prints the restore engine's events as they come (nothing with `--json`), keeping the
/// first failure to write standard output in `unwritten` (restore and clone).
pub(super) fn show_events(
    json: bool,
    unwritten: &mut Option<Error>,
) -> impl FnMut(&Event) + use<'_> {
    move |event: &Event| {
        for line in restore::render(event).into_iter().filter(|_| !json) {
            match line {
                Line::Out(text) => {
                    if let Err(e) = print(&format!("{text}\n")) {
                        unwritten.get_or_insert(e);
                    }
                }
                Line::Warning(text) => warn(&text),
            }
        }
    }
}

/// The end of a restore or a clone (`command`, on the `device`): the error that stopped
/// it printed last, then a standard output that failed, as the command's error.
pub(super) fn finish(
    code: u8,
    failure: Option<Error>,
    unwritten: Option<Error>,
    command: &str,
    device: &str,
) -> Result<u8> {
    if let Some(e) = failure {
        report(&e);
    }
    if let Some(e) = unwritten {
        return Err(e.with_hint(format!(
            "the {command} ran to its end regardless, without showing its progress: run it \
             again with standard output on a terminal or a file (objects already on the \
             {device} are skipped and verified), or use --json"
        )));
    }
    Ok(code)
}
