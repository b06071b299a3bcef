//! Framing (docs/PROTOCOL.md §2): `cmd(1) || len(2) || data`, command codes, device error codes
//! and the frame size limits.

use alloc::vec::Vec;
use core::fmt;

use crate::codec::{DecodeError, Reader, Writer};
use crate::wire::wire_code;

/// Bytes before the data in every frame: the code and the 16-bit length.
pub const HEADER_LEN: usize = 3;
/// The largest data field a device with firmware >= 2.4 accepts or sends.
pub const MAX_DATA_LEN: usize = 3136;
/// The largest whole frame (data plus header); also the bound on USB and HTTP bodies.
pub const MAX_FRAME_LEN: usize = HEADER_LEN + MAX_DATA_LEN;
/// The largest whole frame clients send to firmware older than 2.4.
pub const MAX_FRAME_LEN_PRE_2_4: usize = 2048;

/// The largest whole frame for a device running firmware `version` (major, minor, patch).
pub fn max_frame_len(version: (u8, u8, u8)) -> usize {
    if (version.0, version.1) >= (2, 4) { MAX_FRAME_LEN } else { MAX_FRAME_LEN_PRE_2_4 }
}

wire_code! {
    /// A command code (docs/PROTOCOL.md §2.3 "Command codes"). A response carries `code | 0x80`.
    pub struct CommandCode(u8);
    "command code";
    ECHO = 0x01 => "echo",
    CREATE_SESSION = 0x03 => "create-session",
    AUTHENTICATE_SESSION = 0x04 => "authenticate-session",
    SESSION_MESSAGE = 0x05 => "session-message",
    GET_DEVICE_INFO = 0x06 => "get-device-info",
    RESET_DEVICE = 0x08 => "reset-device",
    GET_DEVICE_PUBLIC_KEY = 0x0a => "get-device-public-key",
    CLOSE_SESSION = 0x40 => "close-session",
    GET_STORAGE_INFO = 0x41 => "get-storage-info",
    PUT_OPAQUE = 0x42 => "put-opaque",
    GET_OPAQUE = 0x43 => "get-opaque",
    PUT_AUTHENTICATION_KEY = 0x44 => "put-authentication-key",
    PUT_ASYMMETRIC_KEY = 0x45 => "put-asymmetric-key",
    GENERATE_ASYMMETRIC_KEY = 0x46 => "generate-asymmetric-key",
    SIGN_PKCS1 = 0x47 => "sign-pkcs1",
    LIST_OBJECTS = 0x48 => "list-objects",
    DECRYPT_PKCS1 = 0x49 => "decrypt-pkcs1",
    EXPORT_WRAPPED = 0x4a => "export-wrapped",
    IMPORT_WRAPPED = 0x4b => "import-wrapped",
    PUT_WRAP_KEY = 0x4c => "put-wrap-key",
    GET_LOG_ENTRIES = 0x4d => "get-log-entries",
    GET_OBJECT_INFO = 0x4e => "get-object-info",
    SET_OPTION = 0x4f => "set-option",
    GET_OPTION = 0x50 => "get-option",
    GET_PSEUDO_RANDOM = 0x51 => "get-pseudo-random",
    PUT_HMAC_KEY = 0x52 => "put-hmac-key",
    SIGN_HMAC = 0x53 => "sign-hmac",
    GET_PUBLIC_KEY = 0x54 => "get-public-key",
    SIGN_PSS = 0x55 => "sign-pss",
    SIGN_ECDSA = 0x56 => "sign-ecdsa",
    DERIVE_ECDH = 0x57 => "derive-ecdh",
    DELETE_OBJECT = 0x58 => "delete-object",
    DECRYPT_OAEP = 0x59 => "decrypt-oaep",
    GENERATE_HMAC_KEY = 0x5a => "generate-hmac-key",
    GENERATE_WRAP_KEY = 0x5b => "generate-wrap-key",
    VERIFY_HMAC = 0x5c => "verify-hmac",
    SIGN_SSH_CERTIFICATE = 0x5d => "sign-ssh-certificate",
    PUT_TEMPLATE = 0x5e => "put-template",
    GET_TEMPLATE = 0x5f => "get-template",
    DECRYPT_OTP = 0x60 => "decrypt-otp",
    CREATE_OTP_AEAD = 0x61 => "create-otp-aead",
    RANDOMIZE_OTP_AEAD = 0x62 => "randomize-otp-aead",
    REWRAP_OTP_AEAD = 0x63 => "rewrap-otp-aead",
    SIGN_ATTESTATION_CERTIFICATE = 0x64 => "sign-attestation-certificate",
    PUT_OTP_AEAD_KEY = 0x65 => "put-otp-aead-key",
    GENERATE_OTP_AEAD_KEY = 0x66 => "generate-otp-aead-key",
    SET_LOG_INDEX = 0x67 => "set-log-index",
    WRAP_DATA = 0x68 => "wrap-data",
    UNWRAP_DATA = 0x69 => "unwrap-data",
    SIGN_EDDSA = 0x6a => "sign-eddsa",
    BLINK_DEVICE = 0x6b => "blink-device",
    CHANGE_AUTHENTICATION_KEY = 0x6c => "change-authentication-key",
    PUT_SYMMETRIC_KEY = 0x6d => "put-symmetric-key",
    GENERATE_SYMMETRIC_KEY = 0x6e => "generate-symmetric-key",
    DECRYPT_ECB = 0x6f => "decrypt-ecb",
    ENCRYPT_ECB = 0x70 => "encrypt-ecb",
    DECRYPT_CBC = 0x71 => "decrypt-cbc",
    ENCRYPT_CBC = 0x72 => "encrypt-cbc",
    PUT_PUBLIC_WRAP_KEY = 0x73 => "put-public-wrap-key",
    GET_RSA_WRAPPED_KEY = 0x74 => "get-rsa-wrapped-key",
    PUT_RSA_WRAPPED_KEY = 0x75 => "put-rsa-wrapped-key",
    EXPORT_RSA_WRAPPED = 0x76 => "export-rsa-wrapped",
    IMPORT_RSA_WRAPPED = 0x77 => "import-rsa-wrapped",
    ERROR = 0x7f => "error",
}

impl CommandCode {
    /// The code a successful response to this command carries.
    pub const fn response(self) -> u8 {
        self.0 | 0x80
    }
}

wire_code! {
    /// A device error code (docs/PROTOCOL.md §2.4 "Device error codes"), the data byte of a
    /// `7f 00 01 code` frame.
    pub struct ErrorCode(u8);
    "device error code";
    OK = 0x00 => "ok",
    INVALID_COMMAND = 0x01 => "invalid-command",
    INVALID_DATA = 0x02 => "invalid-data",
    INVALID_SESSION = 0x03 => "invalid-session",
    AUTHENTICATION_FAILED = 0x04 => "authentication-failed",
    SESSIONS_FULL = 0x05 => "sessions-full",
    SESSION_FAILED = 0x06 => "session-failed",
    STORAGE_FAILED = 0x07 => "storage-failed",
    WRONG_LENGTH = 0x08 => "wrong-length",
    INSUFFICIENT_PERMISSIONS = 0x09 => "insufficient-permissions",
    LOG_FULL = 0x0a => "log-full",
    OBJECT_NOT_FOUND = 0x0b => "object-not-found",
    INVALID_ID = 0x0c => "invalid-id",
    SSH_CA_CONSTRAINT_VIOLATION = 0x0e => "ssh-ca-constraint-violation",
    INVALID_OTP = 0x0f => "invalid-otp",
    DEMO_MODE = 0x10 => "demo-mode",
    OBJECT_EXISTS = 0x11 => "object-exists",
    ALGORITHM_DISABLED = 0x12 => "algorithm-disabled",
    COMMAND_UNEXECUTED = 0xff => "command-unexecuted",
}

/// Builds the frame `code || len(2) || data`. An error when `data` is longer than
/// [`MAX_DATA_LEN`].
pub fn encode(code: u8, data: &[u8]) -> Result<Vec<u8>, FrameError> {
    let len = u16::try_from(data.len())
        .ok()
        .filter(|&l| usize::from(l) <= MAX_DATA_LEN)
        .ok_or(FrameError::TooLong { len: data.len() })?;
    let mut w = Writer::with_capacity(HEADER_LEN + data.len());
    w.u8(code).u16(len).bytes(data);
    Ok(w.into_vec())
}

/// The error frame `7f 00 01 code`.
pub fn encode_error(code: ErrorCode) -> Vec<u8> {
    alloc::vec![CommandCode::ERROR.0, 0, 1, code.0]
}

/// Splits a frame into its code and data, checking that the length field matches the
/// number of bytes exactly.
pub fn decode(frame: &[u8]) -> Result<(u8, &[u8]), DecodeError> {
    let mut r = Reader::new(frame);
    let code = r.u8("frame: code")?;
    let len = r.u16("frame: length")?;
    let data = r.take(usize::from(len), "frame: data")?;
    r.finish("frame")?;
    Ok((code, data))
}

/// What went wrong with a response frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame could not be split into code, length and data.
    Malformed(DecodeError),
    /// The device answered `7f 00 01 code`.
    Device(ErrorCode),
    /// The device answered with the response code of another command.
    UnexpectedCode { expected: u8, got: u8 },
    /// The data would not fit in one frame.
    TooLong { len: usize },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "malformed frame: {e}"),
            Self::Device(code) => write!(f, "device error {code} (0x{:02x})", code.0),
            Self::UnexpectedCode { expected, got } => {
                write!(f, "unexpected response code 0x{got:02x} (expected 0x{expected:02x})")
            }
            Self::TooLong { len } => {
                write!(f, "{len} bytes of data do not fit in one frame (at most {MAX_DATA_LEN})")
            }
        }
    }
}

impl core::error::Error for FrameError {}

impl From<DecodeError> for FrameError {
    fn from(e: DecodeError) -> Self {
        Self::Malformed(e)
    }
}

/// Checks a response frame to `command` and returns its data: the device's error code
/// when it answered `7f`, an error when the code is not `command | 0x80`.
pub fn decode_response(command: CommandCode, frame: &[u8]) -> Result<&[u8], FrameError> {
    let (code, data) = decode(frame)?;
    if code == CommandCode::ERROR.0 {
        return match data {
            [e] => Err(FrameError::Device(ErrorCode(*e))),
            _ => Err(FrameError::Malformed(DecodeError::bad_length("error frame", data.len()))),
        };
    }
    if code != command.response() {
        return Err(FrameError::UnexpectedCode { expected: command.response(), got: code });
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn round_trips_frames() {
        let f = encode(0x01, b"hello").unwrap();
        assert_eq!(f, [0x01, 0x00, 0x05, b'h', b'e', b'l', b'l', b'o']);
        assert_eq!(decode(&f).unwrap(), (0x01, &b"hello"[..]));
    }

    #[test]
    fn rejects_every_truncation_and_trailing_bytes() {
        let f = encode(0x01, b"hello").unwrap();
        for n in 0..f.len() {
            assert!(decode(&f[..n]).is_err(), "prefix {n}");
        }
        let mut long = f.clone();
        long.push(0);
        assert!(decode(&long).is_err());
    }

    #[test]
    fn enforces_the_frame_size_limit() {
        assert!(encode(0x01, &[0; MAX_DATA_LEN]).is_ok());
        assert_eq!(
            encode(0x01, &[0; MAX_DATA_LEN + 1]),
            Err(FrameError::TooLong { len: MAX_DATA_LEN + 1 })
        );
        assert_eq!(max_frame_len((2, 4, 0)), 3139);
        assert_eq!(max_frame_len((2, 3, 1)), 2048);
        assert_eq!(max_frame_len((3, 0, 0)), 3139);
    }

    #[test]
    fn decodes_device_errors_and_wrong_codes() {
        assert_eq!(
            decode_response(CommandCode::ECHO, &encode_error(ErrorCode::OBJECT_NOT_FOUND)),
            Err(FrameError::Device(ErrorCode::OBJECT_NOT_FOUND))
        );
        assert_eq!(decode_response(CommandCode::ECHO, &[0x81, 0, 1, 9]), Ok(&[9u8][..]));
        assert_eq!(
            decode_response(CommandCode::ECHO, &[0x82, 0, 0]),
            Err(FrameError::UnexpectedCode { expected: 0x81, got: 0x82 })
        );
        assert!(decode_response(CommandCode::ECHO, &[0x7f, 0, 2, 1, 1]).is_err());
    }

    #[test]
    fn every_named_error_code_prints_its_name() {
        assert_eq!(ErrorCode(0x0b).to_string(), "object-not-found");
        assert_eq!(ErrorCode(0x0d).to_string(), "0x0d");
        assert_eq!(CommandCode(0x4a).to_string(), "export-wrapped");
    }
}
