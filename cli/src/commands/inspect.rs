//! `yhsm inspect FILE…`: every file decrypted and shown; one that fails is named on
//! standard error (after the others, in human output) and makes the exit status 1.

use yhsm::backup::inspect::{self, Inspected};
use yhsm::error::{EXIT_FAILURE, EXIT_OK};
use yhsm::util::text;
use yhsm::{Result, wrapkey};

use super::terminal::{TtyPrompter, eprintln_safe, print};
use crate::args::InspectArgs;

pub fn run(a: &InspectArgs) -> Result<u8> {
    let key = wrapkey::load_or_prompt(a.key.as_ref(), &mut TtyPrompter)?.key;
    let results: Vec<Inspected> = a.files.iter().map(|f| inspect::inspect_file(&key, f)).collect();
    if a.json {
        print(&inspect::to_json(&results).to_pretty())?;
    } else {
        print(&inspect::render_human(&results))?;
        for r in &results {
            if let Err(e) = &r.result {
                eprintln_safe(&format!("yhsm: error: {}: {e}", text::printable(&r.file)));
            }
        }
    }
    Ok(if results.iter().all(|r| r.result.is_ok()) { EXIT_OK } else { EXIT_FAILURE })
}
