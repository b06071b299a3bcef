//! The terminal the glue talks to: standard output, standard error (errors are printed
//! once, as [`report`] does), and prompts on `/dev/tty` (never on standard output, which
//! may be redirected to a file), secrets without echo.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Read, Write};

use yhsm::util::json::Value;
use yhsm::util::password::PASSWORD_ENV;
use yhsm::util::prompt::Prompter;
use yhsm::util::timeout;
use yhsm::{Error, GlobalOptions, Result};
use yhsm_transport::Client;
use zeroize::Zeroizing;

/// Prints `e` on standard error (with what to do about a device that did not answer in
/// time, when that is among its causes); its exit code.
pub fn report(e: &Error) -> u8 {
    match timeout::hint(e) {
        Some(hint) => eprint_safe(&e.render_with_hint(Some(&hint))),
        None => eprint_safe(&e.render()),
    }
    e.exit_code()
}

/// `yhsm: warning: ` and `text` on standard error.
pub fn warn(text: &str) {
    eprintln_safe(&format!("yhsm: warning: {text}"));
}

/// Writes to stderr; a closed stderr is ignored (there is nowhere left to say so).
pub fn eprint_safe(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

pub fn eprintln_safe(text: &str) {
    eprint_safe(&format!("{text}\n"));
}

/// Writes to stdout. A closed pipe (`yhsm … | head`) ends the output quietly.
pub fn print(text: &str) -> Result<()> {
    print_bytes(text.as_bytes())
}

/// [`print`] for bytes that may not be text (a raw `.yhw` blob).
pub fn print_bytes(bytes: &[u8]) -> Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(Error::failure("cannot write to standard output").with_source(e))
        }
        _ => Ok(()),
    }
}

/// Prints the JSON value `as_json` makes (pretty) when `json` is set, else the text
/// `human` makes.
pub fn print_json_or<T: AsRef<str>>(
    json: bool,
    as_json: impl FnOnce() -> Value,
    human: impl FnOnce() -> T,
) -> Result<()> {
    if json { print(&as_json().to_pretty()) } else { print(human().as_ref()) }
}

/// Whether standard input is a terminal, so that a person can be asked to confirm.
pub fn interactive() -> bool {
    io::stdin().is_terminal()
}

/// Whether standard output is a terminal (raw bytes are not written to one).
pub fn stdout_is_terminal() -> bool {
    io::stdout().is_terminal()
}

/// The value of `YHSM_PASSWORD`.
pub fn env_password() -> Option<OsString> {
    std::env::var_os(PASSWORD_ENV)
}

/// Opens a session as the global options say; the password prompt is the terminal's.
pub fn connect(global: &GlobalOptions) -> Result<Client> {
    yhsm::connect(global, env_password(), &mut |prompt| TtyPrompter.read_secret(prompt))
}

/// Prompts on the controlling terminal; secrets are read with echo off (rpassword).
#[derive(Debug)]
pub struct TtyPrompter;

/// The longest line read at a prompt: a share is under 110 characters.
const MAX_LINE: usize = 4096;

fn open_tty() -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open("/dev/tty")
}

impl Prompter for TtyPrompter {
    fn read_line(&mut self, prompt: &str) -> io::Result<Option<Zeroizing<String>>> {
        let mut tty = open_tty()?;
        tty.write_all(prompt.as_bytes())?;
        tty.flush()?;
        let mut line = Zeroizing::new(Vec::with_capacity(MAX_LINE));
        let mut byte = [0u8; 1];
        loop {
            // Byte by byte: nothing typed after the newline is consumed here.
            if tty.read(&mut byte)? == 0 {
                if line.is_empty() {
                    return Ok(None);
                }
                break;
            }
            if byte[0] == b'\n' {
                break;
            }
            if line.len() >= MAX_LINE {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            line.push(byte[0]);
        }
        let text = std::str::from_utf8(&line)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))?;
        Ok(Some(Zeroizing::new(text.trim_end_matches('\r').to_owned())))
    }

    fn read_secret(&mut self, prompt: &str) -> io::Result<Option<Zeroizing<String>>> {
        match rpassword::prompt_password(prompt) {
            Ok(s) => Ok(Some(Zeroizing::new(s))),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn message(&mut self, text: &str) -> io::Result<()> {
        let mut tty = open_tty()?;
        tty.write_all(format!("{text}\n").as_bytes())
    }

    fn clear_screen(&mut self) -> io::Result<()> {
        // Cursor home, erase the screen, erase the scrollback (xterm and its kin; a
        // terminal without the last keeps the scrollback, as `clear` leaves it there).
        let mut tty = open_tty()?;
        tty.write_all(b"\x1b[H\x1b[2J\x1b[3J")?;
        tty.flush()
    }

    fn stdin_is_terminal(&self) -> bool {
        io::stdin().is_terminal()
    }

    fn is_interactive(&self) -> bool {
        // A prompt needs the controlling terminal; without one (cron, CI) nobody answers.
        open_tty().is_ok()
    }
}
