//! The authentication key's password (docs/PROTOCOL.md §4.1 derives the session keys from it):
//! from `--password-file`, `-p`, the `YHSM_PASSWORD` environment variable, or a no-echo
//! prompt, in that order.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use yhsm_proto::{ObjectId, SecretBytes};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::util::prompt::Prompter;
use crate::util::{files, text};

/// The environment variable a password is taken from.
pub const PASSWORD_ENV: &str = "YHSM_PASSWORD";

/// Printed when `-p` is used.
pub const PASSWORD_ARGUMENT_WARNING: &str = "a password given with -p is visible to other \
    users in the process list and stays in your shell history; use --password-file FILE or \
    the YHSM_PASSWORD environment variable instead";

/// A password: zeroized on drop, redacted by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(SecretBytes);

impl Password {
    pub fn new(bytes: SecretBytes) -> Self {
        Self(bytes)
    }

    /// The password bytes (UTF-8 when typed, any bytes from a file).
    pub fn expose_secret(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(redacted)")
    }
}

/// Where the command line says the password comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PasswordOptions {
    /// `--password-file FILE`.
    pub file: Option<PathBuf>,
    /// `-p PASSWORD`.
    pub argument: Option<Password>,
}

/// The first line of `bytes`, without its line ending (`\n` or `\r\n`).
pub fn first_line(bytes: &[u8]) -> &[u8] {
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Reads a password file: its first line, line ending and a UTF-8 byte order mark
/// stripped. `what` names the file's role in errors. An empty first line is an error (an
/// empty file is almost always a mistake, and no YubiHSM password is empty).
pub fn read_password_file(path: &Path, what: &str) -> Result<Password> {
    let bytes = files::read_file(path, what)?;
    let line = first_line(text::without_bom(&bytes));
    if line.is_empty() {
        return Err(Error::failure(format!(
            "{what} `{}` is empty (the password is its first line)",
            path.display()
        )));
    }
    Ok(Password(SecretBytes::from_slice(line)))
}

/// Resolves the password: `--password-file`, then `-p`, then `env` (the value of
/// [`PASSWORD_ENV`]; empty counts as unset), then `prompt`, which is shown `Password for
/// authentication key 0x0001: ` and returns the typed line, or `None` at end of input.
pub fn resolve_password(
    options: &PasswordOptions,
    authkey: ObjectId,
    env: Option<OsString>,
    prompt: &mut dyn FnMut(&str) -> io::Result<Option<Zeroizing<String>>>,
) -> Result<Password> {
    if let Some(path) = &options.file {
        return read_password_file(path, "password file");
    }
    if let Some(password) = &options.argument {
        return Ok(password.clone());
    }
    if let Some(value) = env.filter(|v| !v.is_empty()) {
        return os_string_password(value);
    }
    read_typed_password(
        &format!("Password for authentication key 0x{authkey:04x}: "),
        prompt,
        Some(&format!(
            "give it with --password-file FILE or the {PASSWORD_ENV} environment variable"
        )),
    )
}

/// A password typed once without echo at `prompt` (`read` shows it and returns the typed
/// line, or `None` at end of input); an empty one is refused. `hint` says where else the
/// password can come from when the terminal cannot be read.
pub fn read_typed_password(
    prompt: &str,
    read: &mut dyn FnMut(&str) -> io::Result<Option<Zeroizing<String>>>,
    hint: Option<&str>,
) -> Result<Password> {
    let typed = read(prompt)
        .map_err(|e| {
            let e = Error::failure("cannot read the password from the terminal").with_source(e);
            match hint {
                Some(hint) => e.with_hint(hint),
                None => e,
            }
        })?
        .filter(|typed| !typed.is_empty())
        .ok_or_else(|| Error::failure("no password entered"))?;
    Ok(Password(SecretBytes::from_slice(typed.as_bytes())))
}

/// Where a new password comes from: a file, or typed twice at the terminal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NewPassword {
    /// `--new-password-file FILE`: its first line.
    File(PathBuf),
    /// Typed twice without echo.
    Prompt,
}

/// What a new password's file is called in errors.
pub const NEW_PASSWORD_FILE: &str = "new password file";

/// How many times a new password may be typed before the command gives up.
pub const NEW_PASSWORD_ATTEMPTS: usize = 3;

/// Reads a new password for `whom` (`authentication key 0x0003`): the first line of a
/// file, or typed twice without echo at `prompter` (an empty password or two that differ
/// are refused and asked again, up to [`NEW_PASSWORD_ATTEMPTS`] times). The two typed
/// passwords are compared in constant time and zeroized.
pub fn read_new_password(
    source: &NewPassword,
    whom: &str,
    prompter: &mut dyn Prompter,
) -> Result<Password> {
    if let NewPassword::File(path) = source {
        return read_password_file(path, NEW_PASSWORD_FILE);
    }
    let read = |p: &mut dyn Prompter, prompt: &str| -> Result<Password> {
        let typed = p
            .read_secret(prompt)
            .map_err(|e| {
                Error::failure("cannot read the new password from the terminal")
                    .with_source(e)
                    .with_hint("give it with --new-password-file FILE")
            })?
            .ok_or_else(|| Error::failure("no new password entered"))?;
        Ok(Password(SecretBytes::from_slice(typed.as_bytes())))
    };
    for _ in 0..NEW_PASSWORD_ATTEMPTS {
        let first = read(prompter, &format!("New password for {whom}: "))?;
        if first.expose_secret().is_empty() {
            say(prompter, "The password is empty; type one.")?;
            continue;
        }
        let second = read(prompter, "Type the new password again: ")?;
        if first == second {
            return Ok(first);
        }
        say(prompter, "The two passwords differ; type them again.")?;
    }
    Err(Error::failure(format!(
        "no new password for {whom}: {NEW_PASSWORD_ATTEMPTS} attempts, none typed the same twice"
    )))
}

fn say(p: &mut dyn Prompter, text: &str) -> Result<()> {
    p.message(text).map_err(|e| Error::failure("cannot write to the terminal").with_source(e))
}

#[cfg(unix)]
fn os_string_password(value: OsString) -> Result<Password> {
    use std::os::unix::ffi::OsStringExt;
    let bytes = Zeroizing::new(value.into_vec());
    Ok(Password(SecretBytes::from_slice(&bytes)))
}

#[cfg(not(unix))]
fn os_string_password(value: OsString) -> Result<Password> {
    let text = Zeroizing::new(value.into_string().map_err(|_| {
        Error::failure(format!("the {PASSWORD_ENV} environment variable is not valid Unicode"))
    })?);
    Ok(Password(SecretBytes::from_slice(text.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_password_that_is_empty_or_missing_is_refused() {
        let mut empty = |_: &str| Ok(Some(Zeroizing::new(String::new())));
        let e = read_typed_password("p: ", &mut empty, None).unwrap_err();
        assert!(e.to_string().contains("no password entered"), "{e}");
        let mut eof = |_: &str| Ok(None);
        assert!(read_typed_password("p: ", &mut eof, None).is_err());
        let mut broken = |_: &str| Err(io::Error::other("no tty"));
        let e = read_typed_password("p: ", &mut broken, Some("use a file")).unwrap_err();
        assert_eq!(e.hint(), Some("use a file"));
        let mut typed = |p: &str| {
            assert_eq!(p, "p: ");
            Ok(Some(Zeroizing::new("secret".to_owned())))
        };
        let password = read_typed_password("p: ", &mut typed, None).unwrap();
        assert_eq!(password.expose_secret(), b"secret");
    }
}
