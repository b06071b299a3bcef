//! A hook that sees every exchange, for verbose output and trace files (docs/PROTOCOL.md
//! §7.9 "Secrets in traces").
//!
//! An observer is handed frames redacted by `yhsm_proto::command::redact_request` /
//! `redact_response`: key material, and everything of the session layer but the key id
//! and the session id. It never holds a secret, nor anything that would let someone who
//! knows or guesses the password derive the session keys: no challenge, cryptogram,
//! ephemeral key, receipt, sealed message or MAC. What a session carried is shown by its
//! inner frames, redacted.
//!
//! An observer for protocol research may ask for the raw frames of the session layer
//! ([`Observer::exposure`]). Those let anyone with the password decrypt the session, so
//! the client then refuses to send a command that moves key material
//! (`yhsm_proto::command::carries_key_material`) unless the observer says it accepts that
//! ([`Exposure::RawWithKeyMaterial`]).

use std::fmt;
use std::time::{Duration, SystemTime};

use yhsm_proto::frame::CommandCode;

use crate::TransportError;

/// What an observer is shown of the session layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exposure {
    /// Redacted frames only: nothing that helps open a session (the default).
    #[default]
    Redacted,
    /// Also the raw frames of the handshake and the sealed messages
    /// ([`ExchangeEvent::raw`]); commands that move key material are refused
    /// ([`crate::ClientError::RawTraceRefused`]).
    Raw,
    /// The raw frames, key material included: whoever holds the record and the password
    /// can read every key sent or received.
    RawWithKeyMaterial,
}

impl Exposure {
    /// Whether the raw frames are shown.
    pub fn is_raw(self) -> bool {
        self != Self::Redacted
    }
}

/// Receives one event per frame exchanged with the device.
pub trait Observer: Send {
    /// Called after each exchange (also a failed one), before the client acts on it.
    fn exchange(&mut self, event: &ExchangeEvent<'_>);

    /// What this observer is shown. [`Exposure::Redacted`] unless it says otherwise.
    fn exposure(&self) -> Exposure {
        Exposure::Redacted
    }
}

/// One request frame and what came back, redacted (see the module header).
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
    /// The request frame as sent, redacted: a session message keeps its header and
    /// session id, a handshake step its key id or session id; the rest is `2a` bytes of
    /// the same length.
    pub request: &'a [u8],
    /// The response frame as received, redacted likewise, or the transport error.
    pub response: Result<&'a [u8], &'a TransportError>,
    /// For session messages: the inner command frame, redacted.
    pub inner_request: Option<&'a [u8]>,
    /// For session messages whose response opened: the inner response frame, redacted.
    pub inner_response: Option<&'a [u8]>,
    /// For observers whose [`Observer::exposure`] is raw, and only for frames of the
    /// session layer (handshake steps and session messages): the frames as they were on
    /// the wire. `None` otherwise: frames outside a session stay redacted even then.
    pub raw: Option<RawFrames<'a>>,
}

/// The session-layer frames of one exchange as they were on the wire.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct RawFrames<'a> {
    /// The request as sent.
    pub request: &'a [u8],
    /// The response as received, if one came.
    pub response: Option<&'a [u8]>,
}

impl ExchangeEvent<'_> {
    /// Whether the exchange was a session message (its frames are sealed; the inner ones
    /// say what it carried).
    pub fn is_session_message(&self) -> bool {
        self.inner_request.is_some()
    }

    /// This event as an observer of [`Exposure::Redacted`] is shown it: without the raw
    /// frames. For observers that pass events on to others.
    #[must_use]
    pub fn redacted(&self) -> Self {
        Self { raw: None, ..*self }
    }
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
            .field("raw", &self.raw.is_some())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RawFrames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawFrames")
            .field("request_len", &self.request.len())
            .field("response_len", &self.response.map(<[u8]>::len))
            .finish()
    }
}
