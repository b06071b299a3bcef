//! `yhsm clone`: the events of the export and of the restore engine printed as they come
//! (progress on standard output, warnings on standard error), or with `--json` one report
//! at the end. As for restore, a standard output that fails does not stop the clone.

use yhsm::backup::clone::{self, Args};
use yhsm::{Error, GlobalOptions, Result};

use super::restore::{finish, show_events};
use super::terminal::{TtyPrompter, env_password, print};

pub fn run(global: &GlobalOptions, a: &Args) -> Result<u8> {
    let mut unwritten: Option<Error> = None;
    let outcome = clone::command(
        global,
        a,
        &mut TtyPrompter,
        env_password(),
        &mut show_events(a.json, &mut unwritten),
    )?;
    if a.json {
        print(&outcome.to_json().to_pretty())?;
    } else {
        print(&format!("{}\n", outcome.summary()))?;
    }
    finish(outcome.exit_code(), outcome.into_failure(), unwritten, "clone", "target")
}
