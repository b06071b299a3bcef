//! `yhsm setup`: the engine's progress printed as it comes (warnings on standard error),
//! then the summary.

use yhsm::backup::setup::{self, Args, Line};
use yhsm::error::EXIT_OK;
use yhsm::{Error, GlobalOptions, Result};

use super::terminal::{TtyPrompter, env_password, interactive, print, warn};

pub fn run(global: &GlobalOptions, a: &Args) -> Result<u8> {
    let mut unwritten: Option<Error> = None;
    let mut show = |line: Line| match line {
        Line::Out(text) => {
            if let Err(e) = print(&format!("{text}\n")) {
                unwritten.get_or_insert(e);
            }
        }
        Line::Warning(text) => warn(&text),
    };
    let report =
        setup::command(global, a, interactive(), &mut TtyPrompter, env_password(), &mut show)?;
    print(&report.render())?;
    match unwritten {
        Some(e) => Err(e.with_hint("the setup finished; its summary is above")),
        None => Ok(EXIT_OK),
    }
}
