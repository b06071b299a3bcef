//! `yhsm list`: every visible object's info.

use yhsm::error::EXIT_OK;
use yhsm::{GlobalOptions, Result, list};

use super::terminal::{connect, print_json_or};

pub fn run(global: &GlobalOptions, json: bool) -> Result<u8> {
    let mut client = connect(global)?;
    let objects = list::list_objects(&mut client)?;
    print_json_or(json, || list::to_json(&objects), || list::render_human(&objects))?;
    Ok(EXIT_OK)
}
