//! The SCP03 secure channel (docs/PROTOCOL.md §4): static keys from a password, session keys,
//! cryptograms, and both halves of a session as sans-IO state machines.
//!
//! Each step of a handshake is its own type, consumed by value, so nothing can be sealed
//! before the device has proven it knows the keys:
//!
//! - client, symmetric: [`ClientHandshake`] → [`Authenticating`] → [`ClientSession`];
//! - client, asymmetric (P-256, feature `p256`): `AsymmetricClientHandshake` →
//!   [`ClientSession`];
//! - device: [`CreateSessionRequest::parse`], then [`DeviceHandshake`] → [`DeviceSession`],
//!   or `accept_asymmetric` → [`DeviceSession`] (feature `p256`).
//!
//! A session alternates strictly: the client seals a command, then opens its response; the
//! device opens a command, then seals its response. Any failed check (MAC, cryptogram,
//! receipt, padding, length, session id), an out-of-order call or a bare device error frame
//! ends the session for good: it never yields data again, and every later call fails with
//! [`SessionError::Poisoned`].

#[cfg(feature = "p256")]
mod asymmetric;
mod channel;
mod client;
mod device;
mod keys;

#[cfg(feature = "p256")]
pub use asymmetric::{AsymmetricClientHandshake, accept_asymmetric, public_key, random_secret};
pub use client::{Authenticating, ClientHandshake, ClientSession};
pub use device::{CreateSessionRequest, DeviceHandshake, DeviceSession};
pub use keys::{
    CHALLENGE_LEN, CRYPTOGRAM_LEN, KEY_LEN, PBKDF2_ITERATIONS, PBKDF2_SALT, SessionKeys,
    StaticKeys, card_cryptogram, host_cryptogram,
};

use core::fmt;

use crate::codec::DecodeError;
use crate::frame::{ErrorCode, MAX_DATA_LEN};

/// Length of a P-256 private key (a big-endian scalar).
pub const EC_SECRET_LEN: usize = 32;
/// Length of an uncompressed P-256 public key `04 || X || Y`.
pub const EC_PUBLIC_KEY_LEN: usize = 65;
/// Length of the receipt in the asymmetric CREATE_SESSION response.
pub const RECEIPT_LEN: usize = 16;

/// Why a handshake step or a session message failed. Messages name the check that failed,
/// never the bytes involved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    /// A frame could not be decoded (wrong length, truncated, trailing bytes).
    Malformed(DecodeError),
    /// The peer answered with the frame code of another command.
    UnexpectedCode { expected: u8, got: u8 },
    /// The device answered with a bare `7f 00 01 code` error frame.
    Device(ErrorCode),
    /// The card cryptogram in the create-session response is not the one the static keys
    /// give: wrong password or keys, or not the device we think.
    CardCryptogramMismatch,
    /// The host cryptogram in the authenticate-session request is wrong (device side).
    HostCryptogramMismatch,
    /// The MAC of a command (or of the authenticate-session request) is wrong (device side).
    CommandMacMismatch,
    /// The R-MAC of a session response is wrong (client side).
    ResponseMacMismatch,
    /// The receipt of an asymmetric create-session response is wrong.
    ReceiptMismatch,
    /// The decrypted message does not end in `80 00..` padding of 1 to 16 bytes.
    BadPadding,
    /// The frame carries another session's id.
    SessionIdMismatch { expected: u8, got: u8 },
    /// The sealed frame would carry `len` bytes of data, more than `max`.
    TooLong { len: usize, max: usize },
    /// A session method was called out of turn (e.g. two seals without an open).
    OutOfOrder { expected: &'static str },
    /// An earlier failure ended this session.
    Poisoned,
    /// A key given to the handshake is not a valid P-256 key (or the peer's is not).
    InvalidKey { what: &'static str },
    /// The message counter would overflow.
    CounterExhausted,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "malformed secure channel frame: {e}"),
            Self::UnexpectedCode { expected, got } => {
                write!(f, "unexpected frame code 0x{got:02x} (expected 0x{expected:02x})")
            }
            Self::Device(code) => {
                write!(f, "the device ended the session with error {code} (0x{:02x})", code.0)
            }
            Self::CardCryptogramMismatch => f.write_str(
                "card cryptogram mismatch: wrong password or authentication key for this key id",
            ),
            Self::HostCryptogramMismatch => f.write_str("host cryptogram mismatch"),
            Self::CommandMacMismatch => f.write_str("command MAC mismatch"),
            Self::ResponseMacMismatch => {
                f.write_str("response MAC (R-MAC) mismatch: the response was altered or is stale")
            }
            Self::ReceiptMismatch => f.write_str(
                "receipt mismatch: wrong private key for this key id, or wrong device public key",
            ),
            Self::BadPadding => f.write_str("bad padding in a decrypted session message"),
            Self::SessionIdMismatch { expected, got } => {
                write!(f, "frame for session {got}, expected session {expected}")
            }
            Self::TooLong { len, max } => {
                write!(f, "sealed message needs {len} bytes of data, more than the {max} allowed")
            }
            Self::OutOfOrder { expected } => {
                write!(f, "secure channel used out of order: expected {expected}")
            }
            Self::Poisoned => f.write_str("the session was ended by an earlier error"),
            Self::InvalidKey { what } => write!(f, "invalid P-256 key: {what}"),
            Self::CounterExhausted => f.write_str("session message counter exhausted"),
        }
    }
}

impl core::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Malformed(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DecodeError> for SessionError {
    fn from(e: DecodeError) -> Self {
        Self::Malformed(e)
    }
}

/// The largest inner frame (`cmd len data`) that fits in one session message of
/// [`MAX_DATA_LEN`] bytes: the padded inner frame plus session id and MAC.
pub const MAX_INNER_LEN: usize = max_inner_len(MAX_DATA_LEN);

/// The largest inner frame that fits in a session message whose data field may be
/// `max_data_len` bytes long.
pub const fn max_inner_len(max_data_len: usize) -> usize {
    // data = session id (1) + ciphertext (a multiple of 16) + MAC (8); the padding takes
    // at least one byte.
    let room = max_data_len.saturating_sub(1 + channel::MAC_LEN);
    (room / 16 * 16).saturating_sub(1)
}
