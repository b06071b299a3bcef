//! What `-v` and `--trace FILE` show of the exchanges with the device (PROTOCOL.md §2
//! frames, §4 session messages): observers on the client layer's [`Observer`] hook.
//!
//! The client redacts key material before an observer sees an event
//! (`yhsm_proto::command::redact_request` / `redact_response`): the keys of put-wrap-key,
//! put-authentication-key and the other puts, the blobs of import-wrapped, random bytes.
//! The password never reaches a frame at all (only the keys derived from it do, inside the
//! session handshake's cryptograms). So nothing here needs to know which bytes are secret;
//! it only prints what it is given.
//!
//! - `-v` writes one line per frame to standard error: `-> ` for a request, `<- ` for its
//!   response, each with the command's name; session messages are followed by their
//!   decrypted inner frame (`   inner -> ` / `   inner <- `). `-vv` adds each exchange's
//!   duration.
//! - `--trace FILE` writes one JSON object per exchange (JSON Lines): see
//!   [`trace_record`] for the keys.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use yhsm_transport::{ExchangeEvent, Observer};

use crate::error::{Error, Result};
use crate::options::GlobalOptions;
use crate::util::json::Value;

/// The observer the global options ask for: `-v` to standard error, `--trace FILE`, both,
/// or none.
pub fn observer(global: &GlobalOptions) -> Result<Option<Box<dyn Observer>>> {
    let mut observers: Vec<Box<dyn Observer>> = Vec::new();
    if global.verbose > 0 {
        observers.push(Box::new(VerboseObserver::new(io::stderr(), global.verbose)));
    }
    if let Some(path) = &global.trace {
        observers.push(Box::new(TraceObserver::create(path)?));
    }
    Ok(match observers.len() {
        0 => None,
        1 => observers.pop(),
        _ => Some(Box::new(Fanout(observers))),
    })
}

/// Hands each event to several observers in turn.
pub struct Fanout(pub Vec<Box<dyn Observer>>);

impl Observer for Fanout {
    fn exchange(&mut self, event: &ExchangeEvent<'_>) {
        for observer in &mut self.0 {
            observer.exchange(event);
        }
    }
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fanout({} observers)", self.0.len())
    }
}

/// `-v`: the frames, in hex, as lines of text.
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

/// The `-v` lines of one exchange.
pub fn render_verbose(event: &ExchangeEvent<'_>, level: u8) -> String {
    let mut label = event.command.to_string();
    if event.inner_request.is_some() {
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
    let _ = writeln!(out, "-> {label}: {}", hex::encode(event.request));
    if let Some(inner) = event.inner_request {
        let _ = writeln!(out, "   inner -> {}", hex::encode(inner));
    }
    let timing =
        if level >= 2 { format!(" ({} ms)", event.elapsed.as_millis()) } else { String::new() };
    match event.response {
        Ok(response) => {
            let _ = writeln!(out, "<- {label}{timing}: {}", hex::encode(response));
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
/// - `request`, `response`: the frames as sent and received, in hex (null when no
///   response came; then `error` says why, otherwise `error` is null);
/// - `inner_request`, `inner_response`: for session messages, the decrypted inner frames
///   in hex (null outside a session, or when the response did not open).
pub fn trace_record(event: &ExchangeEvent<'_>) -> Value {
    let time_ms = event
        .started
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let elapsed_us = u64::try_from(event.elapsed.as_micros()).unwrap_or(u64::MAX);
    Value::Object(vec![
        ("time_ms", Value::Number(time_ms)),
        ("elapsed_us", Value::Number(elapsed_us)),
        ("command", Value::string(event.command.to_string())),
        ("code", Value::Number(u64::from(event.command.0))),
        ("session_id", Value::number_or_null(event.session_id.map(u64::from))),
        ("repeat", Value::Bool(event.repeat)),
        ("request", Value::string(hex::encode(event.request))),
        ("response", Value::string_or_null(event.response.ok().map(hex::encode))),
        ("error", Value::string_or_null(event.response.err().map(ToString::to_string))),
        ("inner_request", Value::string_or_null(event.inner_request.map(hex::encode))),
        ("inner_response", Value::string_or_null(event.inner_response.map(hex::encode))),
    ])
}

/// `--trace FILE`: one JSON line per exchange, flushed as it happens, so a trace of a run
/// that fails or hangs is complete up to that point.
#[derive(Debug)]
pub struct TraceObserver {
    file: File,
    path: PathBuf,
    failed: bool,
}

impl TraceObserver {
    /// Creates (or truncates) `path`, readable by its owner only.
    pub fn create(path: &Path) -> Result<Self> {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path).map_err(|e| {
            Error::failure(format!("cannot create trace file `{}`", path.display())).with_source(e)
        })?;
        Ok(Self { file, path: path.to_path_buf(), failed: false })
    }
}

impl Observer for TraceObserver {
    fn exchange(&mut self, event: &ExchangeEvent<'_>) {
        if self.failed {
            return;
        }
        let mut line = trace_record(event).to_compact();
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
}
