//! `yhsm list`: every visible object's info.

use yhsm::error::EXIT_OK;
use yhsm::{GlobalOptions, Result, list};

use super::terminal::{connect, print};

pub fn run(global: &GlobalOptions, json: bool) -> Result<u8> {
    let mut client = connect(global)?;
    let objects = list::list_objects(&mut client)?;
    if json {
        print(&list::to_json(&objects).to_pretty())?;
    } else {
        print(&list::render_human(&objects))?;
    }
    Ok(EXIT_OK)
}
