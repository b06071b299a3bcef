//! `yhsm shares combine`, `split` and `convert`: offline, on wrap-key shares.

use yhsm::Result;
use yhsm::backup::description;
use yhsm::error::EXIT_OK;
use yhsm::wrapkey::{self, shares};

use super::terminal::{TtyPrompter, print, print_json_or};
use crate::args::{CombineArgs, ConvertArgs, SplitArgs};

pub fn combine(a: &CombineArgs) -> Result<u8> {
    let described = a.description.as_deref().map(description::read_described).transpose()?;
    let checks = description::share_checks(described.as_slice());
    let recovered = if a.shares_files.is_empty() {
        shares::combine_prompted_checked(&mut TtyPrompter, &checks)?
    } else {
        shares::combine_files_checked(&a.shares_files, &mut TtyPrompter, &checks)?
    };
    let checked = described.as_ref().map(|d| description::check_recovered(d, &recovered));
    let matched = described.as_ref().filter(|_| matches!(checked, Some(Ok(())))).map(|d| &d.file);
    print_json_or(
        a.json,
        || recovered.to_json(a.reveal, matched.map(String::as_str)),
        || {
            let mut text = recovered.render_human(a.reveal);
            if let Some(file) = matched {
                text.push_str(&format!("It matches the wrap-key description {file}\n"));
            }
            text
        },
    )?;
    checked.transpose()?;
    Ok(EXIT_OK)
}

pub fn split(a: &SplitArgs) -> Result<u8> {
    let key = wrapkey::load(&a.key, &mut TtyPrompter)?.key;
    let made = shares::split(&key, &a.options)?;
    print(&shares::render_shares(&made)).map(|()| EXIT_OK)
}

pub fn convert(a: &ConvertArgs) -> Result<u8> {
    let file = shares::read_shares_files(&a.shares_files, &mut TtyPrompter)?;
    let recovered = shares::combine_shares_file(&file, &shares::files_name(&a.shares_files))?;
    let made = shares::convert(&file, &recovered, a.to, a.count)?;
    print(&shares::render_shares(&made)).map(|()| EXIT_OK)
}
