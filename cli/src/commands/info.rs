//! `yhsm info`: the device info and storage.

use yhsm::error::EXIT_OK;
use yhsm::{GlobalOptions, Result, info};

use super::terminal::{connect, print};

pub fn run(global: &GlobalOptions, json: bool) -> Result<u8> {
    let mut client = connect(global)?;
    let info = info::read(&mut client)?;
    if json {
        print(&info::to_json(&info).to_pretty())?;
    } else {
        print(&info::render_human(&info))?;
    }
    Ok(EXIT_OK)
}
