//! `yhsm dump`: one line per object as it is exported (refusals on standard error), then
//! a summary, or with `--json` one report at the end.

use yhsm::backup::dump::{self, Outcome};
use yhsm::error::{EXIT_FAILURE, EXIT_OK};
use yhsm::{GlobalOptions, Result};

use super::terminal::{connect, eprintln_safe, print, print_json_or};
use crate::args::DumpArgs;

pub fn run(global: &GlobalOptions, a: &DumpArgs) -> Result<u8> {
    let mut client = connect(global)?;
    let json = a.json;
    let report = dump::dump(&mut client, &a.options, &mut |d| {
        if json {
            return;
        }
        match &d.outcome {
            Outcome::Failed { .. } => eprintln_safe(&format!("yhsm: error: {}", d.render())),
            // A failing stdout shows at the summary below.
            _ => drop(print(&format!("{}\n", d.render()))),
        }
    })?;
    print_json_or(json, || report.to_json(), || report.summary())?;
    Ok(if report.failed() == 0 { EXIT_OK } else { EXIT_FAILURE })
}
