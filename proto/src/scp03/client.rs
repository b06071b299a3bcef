//! The client half of SCP03 (docs/PROTOCOL.md §4): CREATE_SESSION, AUTHENTICATE_SESSION and
//! session messages, as states consumed by value.

use alloc::vec::Vec;
use core::fmt;

use cmac::Mac;
use rand_core::CryptoRng;

use super::SessionError;
use super::channel::{Channel, MAC_LEN};
use super::keys::{CHALLENGE_LEN, StaticKeys, card_cryptogram, cmac_aes128, host_cryptogram};
use crate::codec::{DecodeError, Reader, Writer};
use crate::frame::{self, CommandCode, ErrorCode, FrameError, HEADER_LEN, MAX_DATA_LEN};
use crate::secret::ct_eq;

/// The first step of a symmetric session: holds the static keys and the host challenge
/// until the device answers CREATE_SESSION.
pub struct ClientHandshake {
    auth_key_id: u16,
    keys: StaticKeys,
    host_challenge: [u8; CHALLENGE_LEN],
}

impl ClientHandshake {
    /// A handshake for authentication key `auth_key_id` with a host challenge chosen by the
    /// caller (it must be unpredictable; see [`ClientHandshake::with_rng`]).
    pub fn new(auth_key_id: u16, keys: &StaticKeys, host_challenge: [u8; CHALLENGE_LEN]) -> Self {
        Self { auth_key_id, keys: keys.clone(), host_challenge }
    }

    /// A handshake with a host challenge drawn from `rng`.
    pub fn with_rng<R: CryptoRng + ?Sized>(
        auth_key_id: u16,
        keys: &StaticKeys,
        rng: &mut R,
    ) -> Self {
        let mut host_challenge = [0u8; CHALLENGE_LEN];
        rng.fill_bytes(&mut host_challenge);
        Self::new(auth_key_id, keys, host_challenge)
    }

    /// The authentication key this handshake is for.
    pub fn auth_key_id(&self) -> u16 {
        self.auth_key_id
    }

    /// The CREATE_SESSION request: `03 00 0a key_id(2) host_challenge(8)`.
    pub fn request(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(HEADER_LEN + 2 + CHALLENGE_LEN);
        w.u8(CommandCode::CREATE_SESSION.0)
            .u16(2 + 8)
            .u16(self.auth_key_id)
            .bytes(&self.host_challenge);
        w.into_vec()
    }

    /// Checks the card cryptogram of the CREATE_SESSION response (constant time) and
    /// returns the next state with the AUTHENTICATE_SESSION request to send.
    pub fn on_create_session_response(
        self,
        frame: &[u8],
    ) -> Result<(Authenticating, Vec<u8>), SessionError> {
        let data = frame::decode_response(CommandCode::CREATE_SESSION, frame)?;
        let mut r = Reader::new(data);
        let session_id = r.u8("create-session response: session id")?;
        let card_challenge: [u8; CHALLENGE_LEN] =
            r.array("create-session response: card challenge")?;
        let cryptogram: [u8; 8] = r.array("create-session response: card cryptogram")?;
        r.finish("create-session response")?;

        let keys = self.keys.derive_session_keys(&self.host_challenge, &card_challenge);
        let expected = card_cryptogram(&keys, &self.host_challenge, &card_challenge);
        if !ct_eq(&expected, &cryptogram) {
            return Err(SessionError::CardCryptogramMismatch);
        }

        let mut w = Writer::with_capacity(HEADER_LEN + 1 + 8 + MAC_LEN);
        w.u8(CommandCode::AUTHENTICATE_SESSION.0)
            .u16(1 + 8 + 8)
            .u8(session_id)
            .bytes(&host_cryptogram(&keys, &self.host_challenge, &card_challenge));
        let mut request = w.into_vec();
        let chain = authenticate_chain(&keys.mac, &request);
        request.extend_from_slice(&chain[..MAC_LEN]);

        let channel = Channel::new(keys, session_id, chain);
        Ok((Authenticating { channel, auth_key_id: self.auth_key_id }, request))
    }
}

impl fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientHandshake")
            .field("auth_key_id", &self.auth_key_id)
            .finish_non_exhaustive()
    }
}

/// The MAC chaining value that the AUTHENTICATE_SESSION request starts:
/// CMAC(S-MAC, 16 zero bytes || the request without its MAC).
pub(crate) fn authenticate_chain(
    s_mac: &crate::secret::SecretArray<16>,
    request_without_mac: &[u8],
) -> [u8; 16] {
    let mut m = cmac_aes128(s_mac.expose_secret());
    m.update(&[0u8; 16]);
    m.update(request_without_mac);
    m.finalize().into_bytes().into()
}

/// The card has proven it knows the keys; waiting for it to accept the host cryptogram.
pub struct Authenticating {
    channel: Channel,
    auth_key_id: u16,
}

impl Authenticating {
    /// The session id the device assigned.
    pub fn session_id(&self) -> u8 {
        self.channel.session_id()
    }

    /// Accepts the AUTHENTICATE_SESSION response, which must be `84 00 00`.
    pub fn on_authenticate_response(self, frame: &[u8]) -> Result<ClientSession, SessionError> {
        let data = frame::decode_response(CommandCode::AUTHENTICATE_SESSION, frame)?;
        if !data.is_empty() {
            return Err(DecodeError::bad_length("authenticate-session response", data.len()).into());
        }
        Ok(ClientSession::new(self.channel, self.auth_key_id))
    }
}

impl fmt::Debug for Authenticating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticating")
            .field("auth_key_id", &self.auth_key_id)
            .field("session_id", &self.channel.session_id())
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Ready,
    AwaitingResponse,
    Poisoned,
}

/// An authenticated session, client side: [`seal`](Self::seal) a command, send it,
/// [`open`](Self::open) the response; repeat.
pub struct ClientSession {
    channel: Channel,
    auth_key_id: u16,
    phase: Phase,
    max_data_len: usize,
}

impl ClientSession {
    pub(crate) fn new(channel: Channel, auth_key_id: u16) -> Self {
        Self { channel, auth_key_id, phase: Phase::Ready, max_data_len: MAX_DATA_LEN }
    }

    /// The session id the device assigned.
    pub fn session_id(&self) -> u8 {
        self.channel.session_id()
    }

    /// The authentication key the session was opened with.
    pub fn auth_key_id(&self) -> u16 {
        self.auth_key_id
    }

    /// The counter of the next exchange (1 for the first message).
    pub fn counter(&self) -> u64 {
        self.channel.counter()
    }

    /// Whether an earlier failure ended this session.
    pub fn is_poisoned(&self) -> bool {
        self.phase == Phase::Poisoned
    }

    /// Limits sealed frames to `max_frame_len` bytes including the header, e.g.
    /// [`frame::max_frame_len`] of the device's firmware version. Never above
    /// [`frame::MAX_FRAME_LEN`].
    pub fn set_max_frame_len(&mut self, max_frame_len: usize) {
        self.max_data_len = max_frame_len.saturating_sub(HEADER_LEN).min(MAX_DATA_LEN);
    }

    /// Encrypts and MACs the inner command frame `cmd len(2) data` into a `05` session
    /// message. A malformed inner frame or one too long for a frame is an error that
    /// leaves the session usable (nothing was produced); sealing again before opening the
    /// previous response ends the session.
    pub fn seal(&mut self, inner_frame: &[u8]) -> Result<Vec<u8>, SessionError> {
        match self.phase {
            Phase::Poisoned => Err(SessionError::Poisoned),
            Phase::AwaitingResponse => {
                self.phase = Phase::Poisoned;
                Err(SessionError::OutOfOrder { expected: "open of the pending response" })
            }
            Phase::Ready => {
                let sealed = self.channel.seal_command(inner_frame, self.max_data_len)?;
                self.phase = Phase::AwaitingResponse;
                Ok(sealed)
            }
        }
    }

    /// Checks the R-MAC of a `85` response (constant time, before decrypting), decrypts
    /// it and returns the inner response frame (`cmd|0x80 len data`, or an inner
    /// `7f 00 01 code` for the caller to interpret). Any failure, a bare `7f` error frame
    /// included, ends the session.
    pub fn open(&mut self, response_frame: &[u8]) -> Result<Vec<u8>, SessionError> {
        match self.phase {
            Phase::Poisoned => return Err(SessionError::Poisoned),
            Phase::Ready => {
                self.phase = Phase::Poisoned;
                return Err(SessionError::OutOfOrder { expected: "seal of a command first" });
            }
            Phase::AwaitingResponse => self.phase = Phase::Poisoned,
        }
        if let Ok((code, data)) = frame::decode(response_frame)
            && code == CommandCode::ERROR.0
        {
            return Err(match data {
                [e] => SessionError::Device(ErrorCode(*e)),
                _ => DecodeError::bad_length("error frame", data.len()).into(),
            });
        }
        let inner = self.channel.open_response(response_frame)?;
        self.phase = Phase::Ready;
        Ok(inner)
    }
}

impl fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSession")
            .field("auth_key_id", &self.auth_key_id)
            .field("session_id", &self.channel.session_id())
            .field("counter", &self.channel.counter())
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl From<FrameError> for SessionError {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::Malformed(d) => Self::Malformed(d),
            FrameError::Device(code) => Self::Device(code),
            FrameError::UnexpectedCode { expected, got } => Self::UnexpectedCode { expected, got },
            FrameError::TooLong { len } => Self::TooLong { len, max: MAX_DATA_LEN },
        }
    }
}
