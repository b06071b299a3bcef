//! A hook that sees every exchange, for verbose output and trace files. Key material is
//! redacted before an event is built (`yhsm_proto::command::redact_request` /
//! `redact_response`), so an observer never holds a secret.

use std::fmt;
use std::time::{Duration, SystemTime};

use yhsm_proto::frame::CommandCode;

use crate::TransportError;

/// Receives one event per frame exchanged with the device.
pub trait Observer: Send {
    /// Called after each exchange (also a failed one), before the client acts on it.
    fn exchange(&mut self, event: &ExchangeEvent<'_>);
}

/// One request frame and what came back. Plaintext frames (outside a session, and the
/// inner frames of session messages) are redacted; session messages (`05`/`85`) are shown
/// as sent, encrypted.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct ExchangeEvent<'a> {
    /// The command this exchange carries: the inner command for a session message,
    /// create-session and authenticate-session for the handshake.
    pub command: CommandCode,
    /// The session the exchange belongs to, once the device has assigned one.
    pub session_id: Option<u8>,
    /// Whether this is the one repeat of a command after its session broke.
    pub repeat: bool,
    /// When the request was handed to the transport.
    pub started: SystemTime,
    /// How long the exchange took.
    pub elapsed: Duration,
    /// The request frame as sent (redacted when plaintext).
    pub request: &'a [u8],
    /// The response frame as received (redacted when plaintext), or the transport error.
    pub response: Result<&'a [u8], &'a TransportError>,
    /// For session messages: the inner command frame, redacted.
    pub inner_request: Option<&'a [u8]>,
    /// For session messages whose response opened: the inner response frame, redacted.
    pub inner_response: Option<&'a [u8]>,
}

impl fmt::Debug for ExchangeEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeEvent")
            .field("command", &self.command)
            .field("session_id", &self.session_id)
            .field("repeat", &self.repeat)
            .field("elapsed", &self.elapsed)
            .field("request_len", &self.request.len())
            .field("response", &self.response.map(<[u8]>::len))
            .finish_non_exhaustive()
    }
}
