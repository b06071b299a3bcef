//! The device half of SCP03 (docs/PROTOCOL.md §4), for the simulator: answers CREATE_SESSION,
//! checks AUTHENTICATE_SESSION, then opens commands and seals responses.

use alloc::vec::Vec;
use core::fmt;

use super::channel::{Channel, MAC_LEN};
use super::client::authenticate_chain;
use super::keys::{
    CHALLENGE_LEN, CRYPTOGRAM_LEN, SessionKeys, StaticKeys, card_cryptogram, host_cryptogram,
};
use super::{EC_PUBLIC_KEY_LEN, SessionError};
use crate::codec::{DecodeError, Reader, Writer};
use crate::frame::{self, CommandCode, HEADER_LEN, MAX_DATA_LEN};
use crate::secret::ct_eq;

/// A CREATE_SESSION request as the device sees it: the data length tells symmetric
/// (a host challenge) from asymmetric (an ephemeral public key) authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateSessionRequest {
    /// `key_id(2) host_challenge(8)`.
    Symmetric { auth_key_id: u16, host_challenge: [u8; CHALLENGE_LEN] },
    /// `key_id(2) EPK-OCE(65)`, the client's ephemeral P-256 key `04 || X || Y`.
    Asymmetric { auth_key_id: u16, epk_oce: [u8; EC_PUBLIC_KEY_LEN] },
}

impl CreateSessionRequest {
    /// Parses a whole `03` request frame.
    pub fn parse(frame: &[u8]) -> Result<Self, SessionError> {
        let (code, data) = frame::decode(frame)?;
        if code != CommandCode::CREATE_SESSION.0 {
            return Err(SessionError::UnexpectedCode {
                expected: CommandCode::CREATE_SESSION.0,
                got: code,
            });
        }
        let mut r = Reader::new(data);
        let auth_key_id = r.u16("create-session request: key id")?;
        match r.remaining() {
            CHALLENGE_LEN => Ok(Self::Symmetric {
                auth_key_id,
                host_challenge: r.array("create-session request: host challenge")?,
            }),
            EC_PUBLIC_KEY_LEN => Ok(Self::Asymmetric {
                auth_key_id,
                epk_oce: r.array("create-session request: ephemeral public key")?,
            }),
            _ => Err(DecodeError::bad_length("create-session request", data.len()).into()),
        }
    }

    /// The authentication key the client asks for.
    pub fn auth_key_id(&self) -> u16 {
        match self {
            Self::Symmetric { auth_key_id, .. } | Self::Asymmetric { auth_key_id, .. } => {
                *auth_key_id
            }
        }
    }
}

/// The device has answered CREATE_SESSION; waiting for AUTHENTICATE_SESSION.
pub struct DeviceHandshake {
    keys: SessionKeys,
    auth_key_id: u16,
    session_id: u8,
    host_challenge: [u8; CHALLENGE_LEN],
    card_challenge: [u8; CHALLENGE_LEN],
}

impl DeviceHandshake {
    /// Answers a symmetric CREATE_SESSION for `auth_key_id`, whose static keys the device
    /// looked up, with a fresh card challenge and the session id it allocated. Returns
    /// the state and the `83` response `session_id card_challenge(8) card_cryptogram(8)`.
    pub fn new(
        auth_key_id: u16,
        host_challenge: [u8; CHALLENGE_LEN],
        keys: &StaticKeys,
        card_challenge: [u8; CHALLENGE_LEN],
        session_id: u8,
    ) -> (Self, Vec<u8>) {
        let keys = keys.derive_session_keys(&host_challenge, &card_challenge);
        let mut w = Writer::with_capacity(HEADER_LEN + 1 + CHALLENGE_LEN + CRYPTOGRAM_LEN);
        w.u8(CommandCode::CREATE_SESSION.response())
            .u16(1 + 8 + 8)
            .u8(session_id)
            .bytes(&card_challenge)
            .bytes(&card_cryptogram(&keys, &host_challenge, &card_challenge));
        let state = Self { keys, auth_key_id, session_id, host_challenge, card_challenge };
        (state, w.into_vec())
    }

    /// The session id this handshake allocated.
    pub fn session_id(&self) -> u8 {
        self.session_id
    }

    /// Checks the host cryptogram and the MAC of the AUTHENTICATE_SESSION request
    /// (constant time) and returns the session with the `84 00 00` response.
    pub fn on_authenticate_request(
        self,
        frame: &[u8],
    ) -> Result<(DeviceSession, Vec<u8>), SessionError> {
        let (code, data) = frame::decode(frame)?;
        let expected_code = CommandCode::AUTHENTICATE_SESSION.0;
        if code != expected_code {
            return Err(SessionError::UnexpectedCode { expected: expected_code, got: code });
        }
        let mut r = Reader::new(data);
        let session_id = r.u8("authenticate-session request: session id")?;
        let cryptogram: [u8; CRYPTOGRAM_LEN] =
            r.array("authenticate-session request: host cryptogram")?;
        let mac: [u8; MAC_LEN] = r.array("authenticate-session request: mac")?;
        r.finish("authenticate-session request")?;
        if session_id != self.session_id {
            return Err(SessionError::SessionIdMismatch {
                expected: self.session_id,
                got: session_id,
            });
        }

        let expected = host_cryptogram(&self.keys, &self.host_challenge, &self.card_challenge);
        if !ct_eq(&expected, &cryptogram) {
            return Err(SessionError::HostCryptogramMismatch);
        }
        let macced = frame
            .get(..HEADER_LEN + 1 + CRYPTOGRAM_LEN)
            .ok_or(DecodeError::invalid("authenticate-session request"))?;
        let chain = authenticate_chain(&self.keys.mac, macced);
        if !ct_eq(&chain[..MAC_LEN], &mac) {
            return Err(SessionError::CommandMacMismatch);
        }

        let response = frame::encode(CommandCode::AUTHENTICATE_SESSION.response(), &[])?;
        let channel = Channel::new(self.keys, self.session_id, chain);
        Ok((DeviceSession::new(channel, self.auth_key_id), response))
    }
}

impl fmt::Debug for DeviceHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceHandshake")
            .field("auth_key_id", &self.auth_key_id)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    AwaitingCommand,
    AwaitingResponse,
    Poisoned,
}

/// An authenticated session, device side: [`open_command`](Self::open_command), run it,
/// [`seal_response`](Self::seal_response); repeat.
pub struct DeviceSession {
    channel: Channel,
    auth_key_id: u16,
    phase: Phase,
}

impl DeviceSession {
    pub(crate) fn new(channel: Channel, auth_key_id: u16) -> Self {
        Self { channel, auth_key_id, phase: Phase::AwaitingCommand }
    }

    /// The session id.
    pub fn session_id(&self) -> u8 {
        self.channel.session_id()
    }

    /// The authentication key the client proved it holds.
    pub fn auth_key_id(&self) -> u16 {
        self.auth_key_id
    }

    /// The counter of the current (or next) exchange.
    pub fn counter(&self) -> u64 {
        self.channel.counter()
    }

    /// Whether an earlier failure ended this session.
    pub fn is_poisoned(&self) -> bool {
        self.phase == Phase::Poisoned
    }

    /// Checks the C-MAC of a `05` frame (constant time), decrypts it and strips the
    /// padding. The inner frame's own length field is not checked here: the command
    /// decoder does that, so the device can answer a malformed command within the session.
    /// Any failure ends the session.
    pub fn open_command(&mut self, frame: &[u8]) -> Result<Vec<u8>, SessionError> {
        match self.phase {
            Phase::Poisoned => return Err(SessionError::Poisoned),
            Phase::AwaitingResponse => {
                self.phase = Phase::Poisoned;
                return Err(SessionError::OutOfOrder { expected: "seal of the pending response" });
            }
            Phase::AwaitingCommand => self.phase = Phase::Poisoned,
        }
        let inner = self.channel.open_command(frame)?;
        self.phase = Phase::AwaitingResponse;
        Ok(inner)
    }

    /// Seals the inner response frame (`cmd|0x80 len data`, or `7f 00 01 code`) into an
    /// `85` frame with its R-MAC. A malformed or too long inner frame is an error that
    /// leaves the session waiting for a response to seal (e.g. an error frame instead).
    pub fn seal_response(&mut self, inner_response: &[u8]) -> Result<Vec<u8>, SessionError> {
        match self.phase {
            Phase::Poisoned => Err(SessionError::Poisoned),
            Phase::AwaitingCommand => {
                self.phase = Phase::Poisoned;
                Err(SessionError::OutOfOrder { expected: "open of a command first" })
            }
            Phase::AwaitingResponse => {
                let sealed = self.channel.seal_response(inner_response, MAX_DATA_LEN)?;
                self.phase = Phase::AwaitingCommand;
                Ok(sealed)
            }
        }
    }
}

impl fmt::Debug for DeviceSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceSession")
            .field("auth_key_id", &self.auth_key_id)
            .field("session_id", &self.channel.session_id())
            .field("counter", &self.channel.counter())
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}
