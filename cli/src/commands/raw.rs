//! `yhsm raw CODE [HEX]`: the response frame; a device error frame fails the run.

use yhsm::error::EXIT_OK;
use yhsm::{GlobalOptions, Result, raw};

use super::terminal::{connect, print};
use crate::args::RawArgs;

pub fn run(global: &GlobalOptions, a: &RawArgs) -> Result<u8> {
    let mut client = connect(global)?;
    let response = raw::send(&mut client, a.code, &a.data)?;
    print(&response.render())?;
    match response.device_error() {
        Some(e) => Err(e),
        None => Ok(EXIT_OK),
    }
}
