//! The authentication key's password (PROTOCOL.md §4 derives the session keys from it):
//! from `--password-file`, `-p`, the `YHSM_PASSWORD` environment variable, or a no-echo
//! prompt, in that order.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use yhsm_proto::{ObjectId, SecretBytes};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
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
    let typed = prompt(&format!("Password for authentication key 0x{authkey:04x}: "))
        .map_err(|e| {
            Error::failure("cannot read the password from the terminal").with_source(e).with_hint(
                format!(
                    "give it with --password-file FILE or the {PASSWORD_ENV} environment variable"
                ),
            )
        })?
        .ok_or_else(|| Error::failure("no password entered"))?;
    if typed.is_empty() {
        return Err(Error::failure("no password entered"));
    }
    Ok(Password(SecretBytes::from_slice(typed.as_bytes())))
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
