//! `yhsm info`: the device info and storage.

use yhsm::error::EXIT_OK;
use yhsm::{GlobalOptions, Result, info};

use super::terminal::{connect, print_json_or};

pub fn run(global: &GlobalOptions, json: bool) -> Result<u8> {
    let mut client = connect(global)?;
    let info = info::read(&mut client)?;
    print_json_or(json, || info::to_json(&info), || info::render_human(&info))?;
    Ok(EXIT_OK)
}
