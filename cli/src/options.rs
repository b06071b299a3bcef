//! The options every subcommand takes (docs/PROTOCOL.md §1.3 for connector URLs, §4 for the
//! authentication key and its password). Offline commands accept and ignore them; device
//! commands use them to open a session.

use std::path::PathBuf;
use std::time::Duration;

use yhsm_proto::ObjectId;
use yhsm_transport::ConnectorUrl;

use crate::util::password::PasswordOptions;

/// The authentication key used when `-k` is not given: the factory key.
pub const DEFAULT_AUTHKEY: ObjectId = 1;

/// Global options, parsed and validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalOptions {
    /// `-c, --connector URL` (default `yhusb://`).
    pub connector: ConnectorUrl,
    /// `-k, --authkey ID` (default 1).
    pub authkey: ObjectId,
    /// `--password-file FILE`, `-p PASSWORD`.
    pub password: PasswordOptions,
    /// `-v`, repeatable: show the frames exchanged on standard error (redacted: key
    /// material, and what would open the session); `-vv` adds durations. See
    /// [`crate::trace`].
    pub verbose: u8,
    /// `--trace FILE`: record every exchange of a device command as JSON lines, redacted
    /// as `-v` is.
    pub trace: Option<PathBuf>,
    /// `--trace-raw FILE`: record the raw session frames too (protocol research; anyone
    /// with the password can decrypt them).
    pub trace_raw: Option<PathBuf>,
    /// `--trace-raw-keys`: let commands that move key material run under `--trace-raw`.
    pub trace_raw_keys: bool,
    /// `--force`: replace existing output files (trace files; dump's and wrap's outputs).
    pub force: bool,
    /// `--timeout SECONDS` (or `YHSM_TIMEOUT`): how long one exchange may take; `None`
    /// for the default, long enough for RSA-4096 key generation. See
    /// [`crate::util::timeout`].
    pub timeout: Option<Duration>,
}

impl Default for GlobalOptions {
    fn default() -> Self {
        Self {
            connector: ConnectorUrl::default(),
            authkey: DEFAULT_AUTHKEY,
            password: PasswordOptions::default(),
            verbose: 0,
            trace: None,
            trace_raw: None,
            trace_raw_keys: false,
            force: false,
            timeout: None,
        }
    }
}
