//! `yhsm delete`, `reset`, `change-password` and `put-authkey`: what cannot be undone is
//! confirmed at the terminal, or on the command line when standard input is not one.

use yhsm::admin::{Confirmation, authkey, delete, password, reset};
use yhsm::device::{self, Login};
use yhsm::error::EXIT_OK;
use yhsm::util::password::{
    NEW_PASSWORD_FILE, NewPassword, Password, read_new_password, read_password_file,
};
use yhsm::{Error, GlobalOptions, Result};

use super::terminal::{TtyPrompter, connect, env_password, interactive, print, warn};

/// Refuses, before the device is touched, a question nobody is there to answer.
fn need_terminal(what: &str, hint: &str) -> Result<()> {
    if interactive() {
        return Ok(());
    }
    Err(Error::usage(format!("{what}, and standard input is not a terminal")).with_hint(hint))
}

pub fn delete(global: &GlobalOptions, a: &delete::Args) -> Result<u8> {
    if !a.yes {
        need_terminal(
            "`yhsm delete` asks for confirmation at the terminal",
            "add --yes to delete without asking",
        )?;
    }
    let mut client = connect(global)?;
    let target = delete::find(&mut client, a.id, a.object_type)?;
    let mut tty = TtyPrompter;
    let confirmation = if a.yes {
        target.notes.iter().for_each(|n| warn(n));
        Confirmation::Given
    } else {
        Confirmation::Ask(&mut tty)
    };
    let deleted = delete::delete(&mut client, target, confirmation)?;
    print(&deleted.render()).map(|()| EXIT_OK)
}

pub fn reset(global: &GlobalOptions, a: &reset::Args) -> Result<u8> {
    if a.serial.is_none() {
        need_terminal(
            "`yhsm reset` asks for the device's serial at the terminal",
            "give it with --serial N (`yhsm info` shows it)",
        )?;
    }
    let mut client = connect(global)?;
    let plan = reset::plan(&mut client, a)?;
    let mut tty = TtyPrompter;
    let confirmation =
        if a.serial.is_some() { Confirmation::Given } else { Confirmation::Ask(&mut tty) };
    let done = reset::reset(&mut client, plan, confirmation, &mut || device::reopen(global))?;
    print(&done.render()).map(|()| EXIT_OK)
}

/// A new password from its file, read before the device is touched (a missing file then
/// writes nothing), or `None` when it is to be typed (after the checks, so nobody types a
/// password for a command the device would refuse).
fn new_password_first(source: &NewPassword) -> Result<Option<Password>> {
    match source {
        NewPassword::File(path) => read_password_file(path, NEW_PASSWORD_FILE).map(Some),
        NewPassword::Prompt => {
            need_terminal(
                "the new password is asked for at the terminal",
                "give it with --new-password-file FILE",
            )?;
            Ok(None)
        }
    }
}

/// The new password read first, or typed now.
fn new_password(first: Option<Password>, whom: &str) -> Result<Password> {
    match first {
        Some(password) => Ok(password),
        None => read_new_password(&NewPassword::Prompt, whom, &mut TtyPrompter),
    }
}

pub fn change_password(global: &GlobalOptions, a: &password::Args) -> Result<u8> {
    let first = new_password_first(&a.new_password)?;
    let mut tty = TtyPrompter;
    let Login { mut client, credentials } =
        device::login(global, env_password(), &mut tty)?.authenticate()?;
    let plan = password::plan(&mut client)?;
    let new = new_password(first, &format!("authentication key 0x{:04x}", plan.key.id))?;
    let changed = password::change(&mut client, plan, &new, &credentials)?;
    print(&changed.render()).map(|()| EXIT_OK)
}

pub fn put_authkey(global: &GlobalOptions, a: &authkey::Args) -> Result<u8> {
    let spec = a.spec()?;
    let first = new_password_first(&a.new_password)?;
    let mut tty = TtyPrompter;
    let Login { mut client, credentials } =
        device::login(global, env_password(), &mut tty)?.authenticate()?;
    let spec = authkey::plan(&mut client, spec)?;
    let whom = match spec.id {
        0 => "the new authentication key".to_owned(),
        id => format!("authentication key 0x{id:04x}"),
    };
    let password = new_password(first, &whom)?;
    let created = authkey::create(&mut client, spec, &password, &credentials)?;
    print(&created.render()).map(|()| EXIT_OK)
}
