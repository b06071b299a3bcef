//! `yhsm shares combine`, `split` and `convert`: offline, on wrap-key shares.

use yhsm::Result;
use yhsm::error::EXIT_OK;
use yhsm::wrapkey::{self, shares};

use super::terminal::{TtyPrompter, print, print_json_or};
use crate::args::{CombineArgs, ConvertArgs, SplitArgs};

pub fn combine(a: &CombineArgs) -> Result<u8> {
    let recovered = match &a.shares_file {
        Some(path) => shares::combine_file(path)?,
        None => shares::combine_prompted(&mut TtyPrompter)?,
    };
    print_json_or(a.json, || recovered.to_json(a.reveal), || recovered.render_human(a.reveal))?;
    Ok(EXIT_OK)
}

pub fn split(a: &SplitArgs) -> Result<u8> {
    let key = wrapkey::load(&a.key)?.key;
    let made = shares::split(&key, &a.options)?;
    print(&shares::render_shares(&made)).map(|()| EXIT_OK)
}

pub fn convert(a: &ConvertArgs) -> Result<u8> {
    let file = shares::read_shares_file(&a.shares_file)?;
    let recovered = shares::combine_shares_file(&file, &a.shares_file.display().to_string())?;
    let made = shares::convert(&file, &recovered, a.to, a.count)?;
    print(&shares::render_shares(&made)).map(|()| EXIT_OK)
}
