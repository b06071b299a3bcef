//! What `-v`, `--trace FILE` and `--trace-raw FILE` show of the exchanges with the device
//! (docs/PROTOCOL.md §2 frames, §4.4 session messages, §7.9 secrets in traces): observers
//! on the client layer's [`Observer`] hook.
//!
//! The client redacts before an observer sees an event (`yhsm_proto::command::redact_request`
//! / `redact_response`): the key material of the commands that carry some (put-wrap-key,
//! put-authentication-key and the other puts, the blobs of import-wrapped, random bytes),
//! and everything of the session layer but the key id and the session id. So `-v` and
//! `--trace` hold no challenge, cryptogram, ephemeral key, receipt, sealed message or MAC:
//! nothing that would let someone who knows or guesses the password derive the session
//! keys, or check a guess offline. What a session carried is shown by its inner frames,
//! redacted. The password itself never reaches a frame. Nothing here decides what is
//! secret; it prints what it is given.
//!
//! - `-v` writes one line per frame to standard error: `-> ` for a request, `<- ` for its
//!   response, each with the command's name. A session message shows its sealed length
//!   (`sealed, 35 bytes`) and is followed by its inner frame (`   inner -> ` /
//!   `   inner <- `); the handshake shows its frames with everything but the ids as `2a`
//!   bytes. `-vv` adds each exchange's duration.
//! - `--trace FILE` writes one JSON object per exchange (JSON Lines): see
//!   [`trace_record`] for the keys.
//! - `--trace-raw FILE`, for protocol research, writes the same records with the raw
//!   frames of the session layer, after a first line that says what the file gives away
//!   ([`RAW_TRACE_WARNING`]). The client then refuses commands that move key material,
//!   unless `--trace-raw-keys` is given.
//!
//! Trace files are created with mode 0600 and never replace an existing file without
//! `--force` ([`crate::util::files::create_file`]).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use yhsm_transport::{ExchangeEvent, Exposure, Observer};

use crate::error::Result;
use crate::options::GlobalOptions;
use crate::util::files::create_file;
use crate::util::json::Value;

/// What a raw trace gives away: its first line, and a warning on standard error.
pub const RAW_TRACE_WARNING: &str = "this raw trace holds the session frames as sent \
    (challenges, cryptograms, sealed messages, MACs): anyone who knows or guesses the \
    password of an authentication key used in it can decrypt its sessions. Keep it private";

/// The hint for a command the client refused to send while a raw trace is recorded.
pub const RAW_TRACE_REFUSED_HINT: &str = "record with --trace FILE instead (it shows every \
    exchange without what opens the session), or, on a test device whose keys may be read, \
    add --trace-raw-keys";

/// The observer the global options ask for: `-v` to standard error, `--trace FILE`,
/// `--trace-raw FILE`, several, or none.
pub fn observer(global: &GlobalOptions) -> Result<Option<Box<dyn Observer>>> {
    let mut observers: Vec<Box<dyn Observer>> = Vec::new();
    if global.verbose > 0 {
        observers.push(Box::new(VerboseObserver::new(io::stderr(), global.verbose)));
    }
    if let Some(path) = &global.trace {
        observers.push(Box::new(TraceObserver::create(path, global.force, Exposure::Redacted)?));
    }
    if let Some(path) = &global.trace_raw {
        let exposure =
            if global.trace_raw_keys { Exposure::RawWithKeyMaterial } else { Exposure::Raw };
        observers.push(Box::new(TraceObserver::create(path, global.force, exposure)?));
    }
    Ok(match observers.len() {
        0 => None,
        1 => observers.pop(),
        _ => Some(Box::new(Fanout(observers))),
    })
}

/// Hands each event to several observers in turn, each shown what it asked for.
pub struct Fanout(pub Vec<Box<dyn Observer>>);

impl Observer for Fanout {
    fn exchange(&mut self, event: &ExchangeEvent<'_>) {
        let redacted = event.redacted();
        for observer in &mut self.0 {
            observer.exchange(if observer.exposure().is_raw() { event } else { &redacted });
        }
    }

    /// Raw frames if any member asks for them; key material in them only if none refuses.
    fn exposure(&self) -> Exposure {
        let exposures = || self.0.iter().map(|o| o.exposure());
        if exposures().any(|e| e == Exposure::Raw) {
            Exposure::Raw
        } else {
            exposures().max().unwrap_or_default()
        }
    }
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fanout({} observers)", self.0.len())
    }
}

/// `-v`: the frames, redacted, as lines of text.
#[derive(Debug)]
pub struct VerboseObserver<W> {
    out: W,
    level: u8,
}

impl<W: Write + Send> VerboseObserver<W> {
    /// Writes to `out`; `level` is how many `-v` were given (2 and more add durations).
    pub fn new(out: W, level: u8) -> Self {
        Self { out, level }
    }
}

impl<W: Write + Send> Observer for VerboseObserver<W> {
    fn exchange(&mut self, event: &ExchangeEvent<'_>) {
        // Verbose output is a diagnostic: a closed stderr must not stop the command.
        let _ = self.out.write_all(render_verbose(event, self.level).as_bytes());
        let _ = self.out.flush();
    }
}

/// A frame as `-v` shows it: a session message by its sealed length (its inner frame
/// follows), anything else in hex, redacted.
fn shown(event: &ExchangeEvent<'_>, frame: &[u8]) -> String {
    if event.is_session_message() {
        format!("sealed, {} bytes", frame.len())
    } else {
        hex::encode(frame)
    }
}

/// The `-v` lines of one exchange. Never the raw frames, whatever the event holds.
pub fn render_verbose(event: &ExchangeEvent<'_>, level: u8) -> String {
    let mut label = event.command.to_string();
    if event.is_session_message() {
        match event.session_id {
            Some(id) => {
                let _ = write!(label, " [session {id}]");
            }
            None => label.push_str(" [session]"),
        }
    }
    if event.repeat {
        label.push_str(" (repeat)");
    }
    let mut out = String::new();
    let _ = writeln!(out, "-> {label}: {}", shown(event, event.request));
    if let Some(inner) = event.inner_request {
        let _ = writeln!(out, "   inner -> {}", hex::encode(inner));
    }
    let timing =
        if level >= 2 { format!(" ({} ms)", event.elapsed.as_millis()) } else { String::new() };
    match event.response {
        Ok(response) => {
            let _ = writeln!(out, "<- {label}{timing}: {}", shown(event, response));
            match (event.inner_request, event.inner_response) {
                (_, Some(inner)) => {
                    let _ = writeln!(out, "   inner <- {}", hex::encode(inner));
                }
                (Some(_), None) => out.push_str("   inner <- (the response did not open)\n"),
                (None, None) => {}
            }
        }
        Err(e) => {
            let _ = writeln!(out, "<- {label}{timing}: no response: {e}");
        }
    }
    out
}

/// The JSON record of one exchange, as a `--trace` line holds it:
///
/// - `time_ms`: when the request was sent, milliseconds since the Unix epoch;
/// - `elapsed_us`: how long the exchange took, in microseconds;
/// - `command`: the command's name (the inner command for a session message), `code` its
///   number;
/// - `session_id`: the session, or null; `repeat`: whether this is a repeat on a new
///   session after the first one broke;
/// - `request`, `response`: the frames as sent and received, in hex, redacted: key
///   material, and all of a handshake step or a session message but its key id or
///   session id, are `2a` bytes of the same length (`response` is null when no response
///   came; then `error` says why, otherwise `error` is null);
/// - `inner_request`, `inner_response`: for session messages, the decrypted inner frames
///   in hex, redacted (null outside a session, or when the response did not open).
///
/// With `raw` (`--trace-raw`), `request` and `response` of the handshake and of session
/// messages are the frames as they were on the wire.
pub fn trace_record(event: &ExchangeEvent<'_>, raw: bool) -> Value {
    let time_ms = event
        .started
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let elapsed_us = u64::try_from(event.elapsed.as_micros()).unwrap_or(u64::MAX);
    let raw = event.raw.filter(|_| raw);
    let request = raw.map_or(event.request, |r| r.request);
    let response = match raw {
        Some(r) => r.response,
        None => event.response.ok(),
    };
    Value::Object(vec![
        ("time_ms", Value::Number(time_ms)),
        ("elapsed_us", Value::Number(elapsed_us)),
        ("command", Value::string(event.command.to_string())),
        ("code", Value::Number(u64::from(event.command.0))),
        ("session_id", Value::number_or_null(event.session_id.map(u64::from))),
        ("repeat", Value::Bool(event.repeat)),
        ("request", Value::string(hex::encode(request))),
        ("response", Value::string_or_null(response.map(hex::encode))),
        ("error", Value::string_or_null(event.response.err().map(ToString::to_string))),
        ("inner_request", Value::string_or_null(event.inner_request.map(hex::encode))),
        ("inner_response", Value::string_or_null(event.inner_response.map(hex::encode))),
    ])
}

/// `--trace FILE` and `--trace-raw FILE`: one JSON line per exchange, flushed as it
/// happens, so a trace of a run that fails or hangs is complete up to that point.
#[derive(Debug)]
pub struct TraceObserver {
    file: File,
    path: PathBuf,
    exposure: Exposure,
    failed: bool,
}

/// The trace files this process created: a command that opens the device a second time
/// (logging in again) goes on writing its own file rather than finding it already there.
static CREATED: Mutex<Vec<(PathBuf, File)>> = Mutex::new(Vec::new());

impl TraceObserver {
    /// Creates `path` (mode 0600; an existing file only with `overwrite`), or goes on
    /// with the file of that path this process already created. A raw trace (`exposure`
    /// other than [`Exposure::Redacted`]) starts with a line
    /// `{"warning": RAW_TRACE_WARNING}`.
    pub fn create(path: &Path, overwrite: bool, exposure: Exposure) -> Result<Self> {
        let what = if exposure.is_raw() { "raw trace file" } else { "trace file" };
        let mut created = CREATED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, file)) = created.iter().find(|(p, _)| p == path) {
            let file = file.try_clone().map_err(|e| {
                crate::Error::failure(format!("cannot write {what} `{}`", path.display()))
                    .with_source(e)
            })?;
            return Ok(Self { file, path: path.to_path_buf(), exposure, failed: false });
        }
        let mut file = create_file(path, overwrite, what)?;
        if exposure.is_raw() {
            let mut line =
                Value::Object(vec![("warning", Value::string(RAW_TRACE_WARNING))]).to_compact();
            line.push('\n');
            file.write_all(line.as_bytes()).map_err(|e| {
                crate::Error::failure(format!("cannot write {what} `{}`", path.display()))
                    .with_source(e)
            })?;
        }
        if let Ok(copy) = file.try_clone() {
            created.push((path.to_path_buf(), copy));
        }
        Ok(Self { file, path: path.to_path_buf(), exposure, failed: false })
    }
}

impl Observer for TraceObserver {
    fn exchange(&mut self, event: &ExchangeEvent<'_>) {
        if self.failed {
            return;
        }
        let mut line = trace_record(event, self.exposure.is_raw()).to_compact();
        line.push('\n');
        if let Err(e) = self.file.write_all(line.as_bytes()).and_then(|()| self.file.flush()) {
            // The command goes on: the trace is a by-product. Said once, then dropped.
            self.failed = true;
            let _ = writeln!(
                io::stderr(),
                "yhsm: warning: cannot write trace file `{}`: {e}; tracing stopped",
                self.path.display()
            );
        }
    }

    fn exposure(&self) -> Exposure {
        self.exposure
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_login_in_one_run_goes_on_writing_its_own_trace() {
        let dir = std::env::temp_dir().join(format!("yhsm-trace-again-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("raw.jsonl");
        let mut first = TraceObserver::create(&path, false, Exposure::Raw).unwrap();
        first.file.write_all(b"first\n").unwrap();
        let mut again = TraceObserver::create(&path, false, Exposure::Raw).unwrap();
        again.file.write_all(b"again\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "one warning line, then both: {text}");
        assert!(lines[0].contains(RAW_TRACE_WARNING), "{text}");
        assert_eq!(lines[1..], ["first", "again"]);
        // A file of the same name made by someone else is still refused.
        let other = dir.join("other.jsonl");
        std::fs::write(&other, "theirs").unwrap();
        assert!(TraceObserver::create(&other, false, Exposure::Redacted).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
