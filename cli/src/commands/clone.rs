//! `yhsm clone`: the events of the export and of the restore engine printed as they come
//! (progress on standard output, warnings on standard error), or with `--json` one report
//! at the end. As for restore, a standard output that fails does not stop the clone.

use yhsm::backup::clone::{self, Args};
use yhsm::backup::restore::{self, Event, Line};
use yhsm::{Error, GlobalOptions, Result};

use super::terminal::{TtyPrompter, env_password, print, report, warn};

pub fn run(global: &GlobalOptions, a: &Args) -> Result<u8> {
    let mut unwritten: Option<Error> = None;
    let mut show = |event: &Event| {
        for line in restore::render(event).into_iter().filter(|_| !a.json) {
            match line {
                Line::Out(text) => {
                    if let Err(e) = print(&format!("{text}\n")) {
                        unwritten.get_or_insert(e);
                    }
                }
                Line::Warning(text) => warn(&text),
            }
        }
    };
    let outcome = clone::command(global, a, &mut TtyPrompter, env_password(), &mut show)?;
    if a.json {
        print(&outcome.to_json().to_pretty())?;
    } else {
        print(&format!("{}\n", outcome.summary()))?;
    }
    let code = outcome.exit_code();
    if let Some(e) = outcome.into_failure() {
        report(&e);
    }
    if let Some(e) = unwritten {
        return Err(e.with_hint(
            "the clone ran to its end regardless, without showing its progress: run it again \
             with standard output on a terminal or a file (objects already on the target are \
             skipped and verified), or use --json",
        ));
    }
    Ok(code)
}
