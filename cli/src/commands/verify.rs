//! `yhsm verify DIR`: the comparison's report, human or JSON, and what failed last.

use yhsm::backup::verify::{self, Args};
use yhsm::{GlobalOptions, Result};

use super::terminal::{TtyPrompter, env_password, print_json_or, report};

pub fn run(global: &GlobalOptions, a: &Args) -> Result<u8> {
    let outcome = verify::command(global, a, &mut TtyPrompter, env_password())?;
    print_json_or(a.json, || outcome.to_json(), || outcome.render_human())?;
    let code = outcome.exit_code();
    if let Some(e) = outcome.into_failure() {
        report(&e);
    }
    Ok(code)
}
