//! `yhsm restore`: the engine's events printed as they come (progress on standard output,
//! warnings on standard error), or with `--json` one report at the end.

use yhsm::backup::restore::{self, Args, Event, Line};
use yhsm::{GlobalOptions, Result};

use super::terminal::{TtyPrompter, env_password, print, report, warn};

pub fn run(global: &GlobalOptions, a: &Args) -> Result<u8> {
    let mut show = |event: &Event| {
        for line in restore::render(event).into_iter().filter(|_| !a.json) {
            match line {
                Line::Out(text) => drop(print(&format!("{text}\n"))),
                Line::Warning(text) => warn(&text),
            }
        }
    };
    let outcome = restore::command(global, a, &mut TtyPrompter, env_password(), &mut show)?;
    if a.json {
        print(&outcome.to_json().to_pretty())?;
    }
    let code = outcome.exit_code();
    if let Some(e) = outcome.into_failure() {
        report(&e);
    }
    Ok(code)
}
