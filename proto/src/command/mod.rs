//! Typed commands (docs/PROTOCOL.md §2.3 "Command codes", §7 "Commands and their payloads"): one
//! request type per command, each knowing its code and its response type, with codecs for both
//! sides of the wire.
//!
//! The host encodes a request with [`Command::to_frame`] and parses the answer with
//! [`Command::parse_response`] (or [`decode_response_frame`] when it has no request at
//! hand). The device side (the simulator) parses requests with [`Command::decode`] /
//! [`Command::from_frame`] and builds answers with [`encode_response_frame`].
//!
//! Each command type declares its facts next to its codec: [`Command::REPEATABLE`],
//! [`Command::MUTATING`] and what traces hide ([`Command::secret_in_request`],
//! [`Command::secret_in_response`]). [`info`] finds them by code (for `yhsm raw`, traces
//! and the client's retry rule); [`redact_request`] and [`redact_response`] hide the key
//! material of plaintext frames with them.
//!
//! Every decoder reads the whole data field and rejects missing and trailing bytes; its
//! [`DecodeError::what`] starts with the command's hyphenated name (`"put-wrap-key: label"`,
//! `"list-objects response"`), never with the bytes themselves.
//!
//! Sessions (create-session, authenticate-session, session-message) live in the SCP03
//! module, not here: their payloads are not plain requests.

use alloc::vec::Vec;

use zeroize::Zeroizing;

use crate::codec::{DecodeError, Reader, Writer};
use crate::frame::{self, CommandCode, FrameError};
use crate::object::{Algorithm, Capabilities, Domains, Label, ObjectId};

mod asymmetric;
mod auth;
mod device;
mod hmac;
mod log;
mod object;
mod option;
mod otp;
mod redact;
mod registry;
mod rsa;
mod rsa_wrap;
mod symmetric;
mod template;
mod wrap;

pub use asymmetric::{
    DeriveEcdh, DeriveEcdhResponse, GenerateAsymmetricKey, GenerateAsymmetricKeyResponse,
    GetPublicKey, PublicKey, PutAsymmetricKey, PutAsymmetricKeyResponse,
    SignAttestationCertificate, SignAttestationCertificateResponse, SignEcdsa, SignEcdsaResponse,
    SignEddsa, SignEddsaResponse,
};
pub use auth::{
    AuthenticationKey, ChangeAuthenticationKey, ChangeAuthenticationKeyResponse,
    PutAuthenticationKey, PutAuthenticationKeyResponse,
};
pub use device::{
    BlinkDevice, BlinkDeviceResponse, CloseSession, CloseSessionResponse, DeviceInfo,
    DevicePublicKey, Echo, EchoResponse, GetDeviceInfo, GetDevicePublicKey, GetPartNumber,
    GetPseudoRandom, GetStorageInfo, PartNumber, PseudoRandom, ResetDevice, ResetDeviceResponse,
    StorageInfo,
};
pub use hmac::{
    GenerateHmacKey, GenerateHmacKeyResponse, PutHmacKey, PutHmacKeyResponse, SignHmac,
    SignHmacResponse, VerifyHmac, VerifyHmacResponse,
};
pub use log::{
    GetLogEntries, LogChainError, LogChainErrorKind, LogEntries, LogEntry, SetLogIndex,
    SetLogIndexResponse, verify_log_chain,
};
pub use object::{
    DeleteObject, DeleteObjectResponse, Filter, GetObjectInfo, GetOpaque, GetOpaqueResponse,
    ListEntry, ListObjects, ListObjectsResponse, PutOpaque, PutOpaqueResponse,
};
pub use option::{
    AuditMode, DeviceOption, GetOption, GetOptionResponse, SetOption, SetOptionResponse,
};
pub use otp::{
    CreateOtpAead, CreateOtpAeadResponse, DecryptOtp, DecryptOtpResponse, GenerateOtpAeadKey,
    GenerateOtpAeadKeyResponse, OTP_AEAD_LEN, OTP_LEN, PutOtpAeadKey, PutOtpAeadKeyResponse,
    RandomizeOtpAead, RandomizeOtpAeadResponse, RewrapOtpAead, RewrapOtpAeadResponse,
};
pub use redact::{REDACTED_BYTE, Redact, carries_key_material, redact_request, redact_response};
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use registry::every_command;
pub use registry::{CommandInfo, info, infos};
pub use rsa::{
    DecryptOaep, DecryptOaepResponse, DecryptPkcs1, DecryptPkcs1Response, SignPkcs1,
    SignPkcs1Response, SignPss, SignPssResponse,
};
pub use rsa_wrap::{
    ExportRsaWrapped, GetRsaWrappedKey, ImportRsaWrapped, PutPublicWrapKey,
    PutPublicWrapKeyResponse, PutRsaWrappedKey, RsaWrapped, oaep_hash_len,
};
pub use symmetric::{
    DecryptCbc, DecryptCbcResponse, DecryptEcb, DecryptEcbResponse, EncryptCbc, EncryptCbcResponse,
    EncryptEcb, EncryptEcbResponse, GenerateSymmetricKey, GenerateSymmetricKeyResponse,
    PutSymmetricKey, PutSymmetricKeyResponse,
};
pub use template::{
    GetTemplate, GetTemplateResponse, PutTemplate, PutTemplateResponse, SignSshCertificate,
    SignSshCertificateResponse,
};
pub use wrap::{
    ExportWrapped, ExportWrappedResponse, GenerateWrapKey, GenerateWrapKeyResponse, ImportWrapped,
    ImportWrappedResponse, MIN_WRAPPED_LEN, PutWrapKey, PutWrapKeyResponse, UnwrapData,
    UnwrapDataResponse, WrapData, WrapDataResponse,
};

/// A request: the data field of one command, the type of its answer, and every fact the
/// rest of the workspace needs about the command (whether it may be repeated, whether it
/// changes the device, what traces must hide). Those facts are declared here and nowhere
/// else; [`info`] finds them by code for frames that were not built from a type.
pub trait Command: Sized {
    /// The command code of the request frame.
    const CODE: CommandCode;
    /// Whether a client may send the command a second time after the session broke under
    /// it (the retry rule of `transport`'s client): true only when running it twice gives
    /// the caller what it asked for and leaves the device as one run would (apart from the
    /// audit log). Reads are; anything that creates, changes, deletes, signs, decrypts or
    /// closes is not.
    const REPEATABLE: bool;
    /// Whether a successful run may change the device's state, so that the simulator
    /// saves its state file after it. False only for the commands that read stored data,
    /// device data or random bytes (and blink-device, close-session); commands that use a
    /// key (sign, decrypt, derive, wrap, export) count as mutating.
    const MUTATING: bool;
    /// What the device answers.
    type Response: Response;

    /// Appends the data field (everything after `code || len`).
    fn encode(&self, w: &mut Writer);

    /// Parses a data field exactly (device side). Errors name the command.
    fn decode(data: &[u8]) -> Result<Self, DecodeError>;

    /// The part of a request data field that traces and verbose output must hide (see
    /// [`redact_request`]). `data` may be truncated or malformed: decide by position and
    /// never by decoding. Nothing by default.
    fn secret_in_request(_data: &[u8]) -> Redact {
        Redact::Nothing
    }

    /// The part of a successful answer's data field that traces must hide (see
    /// [`redact_response`]). Nothing by default. Whether it is `Nothing` must not depend
    /// on `data`: a client asks before the answer exists ([`carries_key_material`]).
    fn secret_in_response(_data: &[u8]) -> Redact {
        Redact::Nothing
    }

    /// Checks the parts of a well-formed response that depend on this request (an echo
    /// that echoes something else, a random string of the wrong length, a created object
    /// with another id than the one asked for). Nothing by default.
    fn check_response(&self, _response: &Self::Response) -> Result<(), DecodeError> {
        Ok(())
    }

    /// The data field. Zeroized on drop: some requests carry key material.
    fn to_data(&self) -> Zeroizing<Vec<u8>> {
        // Room for the largest frame up front, so no reallocation leaves a stray copy of
        // key material behind.
        let mut w = Writer::with_capacity(frame::MAX_DATA_LEN);
        self.encode(&mut w);
        Zeroizing::new(w.into_vec())
    }

    /// The whole request frame `code || len(2) || data`; an error if it does not fit in
    /// one frame. Zeroized on drop.
    fn to_frame(&self) -> Result<Zeroizing<Vec<u8>>, FrameError> {
        frame::encode(Self::CODE.0, &self.to_data()).map(Zeroizing::new)
    }

    /// Parses a whole request frame (device side): its code must be [`Self::CODE`].
    fn from_frame(frame: &[u8]) -> Result<Self, FrameError> {
        let (code, data) = frame::decode(frame)?;
        if code != Self::CODE.0 {
            return Err(FrameError::UnexpectedCode { expected: Self::CODE.0, got: code });
        }
        Ok(Self::decode(data)?)
    }

    /// Parses the device's answer to this request: the frame, the response data, then
    /// [`Command::check_response`].
    fn parse_response(&self, frame: &[u8]) -> Result<Self::Response, FrameError> {
        let response = decode_response_frame::<Self>(frame)?;
        self.check_response(&response)?;
        Ok(response)
    }
}

/// An answer: the data field of a successful response frame.
pub trait Response: Sized {
    /// Appends the data field (device side).
    fn encode(&self, w: &mut Writer);

    /// Parses a data field exactly. Errors name the command.
    fn decode(data: &[u8]) -> Result<Self, DecodeError>;

    /// The data field. Zeroized on drop: some answers carry secrets (random key bytes).
    fn to_data(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::with_capacity(frame::MAX_DATA_LEN);
        self.encode(&mut w);
        Zeroizing::new(w.into_vec())
    }
}

/// Parses a response frame to a `C` request: the device's error code when it answered
/// `7f`, an error when the code is not `C::CODE | 0x80`, then the data field.
pub fn decode_response_frame<C: Command>(frame: &[u8]) -> Result<C::Response, FrameError> {
    let data = frame::decode_response(C::CODE, frame)?;
    Ok(C::Response::decode(data)?)
}

/// Builds the frame `(C::CODE | 0x80) || len(2) || data` answering a `C` request (device
/// side).
pub fn encode_response_frame<C: Command>(
    response: &C::Response,
) -> Result<Zeroizing<Vec<u8>>, FrameError> {
    frame::encode(C::CODE.response(), &response.to_data()).map(Zeroizing::new)
}

/// The object header "hdr" that starts every put and generate command (docs/PROTOCOL.md §7.1):
/// `id(2) label(40) domains(2) capabilities(8) algorithm(1)`. Id 0 asks the device to
/// pick a free id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ObjectHeader {
    pub id: ObjectId,
    pub label: Label,
    pub domains: Domains,
    pub capabilities: Capabilities,
    pub algorithm: Algorithm,
}

impl ObjectHeader {
    /// The encoded length.
    pub const LEN: usize = 53;

    /// Appends the 53-byte header.
    pub fn encode(&self, w: &mut Writer) {
        w.u16(self.id)
            .bytes(&self.label.0)
            .u16(self.domains.0)
            .u64(self.capabilities.0)
            .u8(self.algorithm.0);
    }

    /// Reads the header; `names` says which command's fields are being read.
    pub(crate) fn read(r: &mut Reader<'_>, names: &HeaderNames) -> Result<Self, DecodeError> {
        Ok(Self {
            id: r.u16(names.id)?,
            label: Label(r.array(names.label)?),
            domains: Domains(r.u16(names.domains)?),
            capabilities: Capabilities(r.u64(names.capabilities)?),
            algorithm: Algorithm(r.u8(names.algorithm)?),
        })
    }
}

/// The error names of the header fields of one command.
pub(crate) struct HeaderNames {
    pub id: &'static str,
    pub label: &'static str,
    pub domains: &'static str,
    pub capabilities: &'static str,
    pub algorithm: &'static str,
}

/// The [`HeaderNames`] of the command spelled `$cmd`.
macro_rules! header_names {
    ($cmd:literal) => {
        $crate::command::HeaderNames {
            id: concat!($cmd, ": id"),
            label: concat!($cmd, ": label"),
            domains: concat!($cmd, ": domains"),
            capabilities: concat!($cmd, ": capabilities"),
            algorithm: concat!($cmd, ": algorithm"),
        }
    };
}
pub(crate) use header_names;

/// Declares a request with an empty data field.
macro_rules! empty_request {
    (
        $(#[$meta:meta])* $name:ident, $code:ident, $response:ty, $cmd:literal,
        repeatable: $repeatable:literal, mutating: $mutating:literal
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name;

        impl $crate::command::Command for $name {
            const CODE: $crate::frame::CommandCode = $crate::frame::CommandCode::$code;
            const REPEATABLE: bool = $repeatable;
            const MUTATING: bool = $mutating;
            type Response = $response;

            fn encode(&self, _w: &mut $crate::codec::Writer) {}

            fn decode(data: &[u8]) -> Result<Self, $crate::codec::DecodeError> {
                $crate::codec::Reader::new(data).finish($cmd).map(|()| Self)
            }
        }
    };
}
pub(crate) use empty_request;

/// Declares a response with an empty data field.
macro_rules! empty_response {
    ($(#[$meta:meta])* $name:ident, $cmd:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name;

        impl $crate::command::Response for $name {
            fn encode(&self, _w: &mut $crate::codec::Writer) {}

            fn decode(data: &[u8]) -> Result<Self, $crate::codec::DecodeError> {
                $crate::codec::Reader::new(data).finish(concat!($cmd, " response")).map(|()| Self)
            }
        }
    };
}
pub(crate) use empty_response;

/// Declares the response `id(2)` of a command that creates an object.
macro_rules! id_response {
    ($(#[$meta:meta])* $name:ident, $cmd:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $name {
            /// The id of the object (chosen by the device when the request asked for 0).
            pub id: $crate::object::ObjectId,
        }

        impl $crate::command::Response for $name {
            fn encode(&self, w: &mut $crate::codec::Writer) {
                w.u16(self.id);
            }

            fn decode(data: &[u8]) -> Result<Self, $crate::codec::DecodeError> {
                let mut r = $crate::codec::Reader::new(data);
                let id = r.u16(concat!($cmd, " response: id"))?;
                r.finish(concat!($cmd, " response"))?;
                Ok(Self { id })
            }
        }
    };
}
pub(crate) use id_response;

/// A field that is the rest of a data field: public bytes or a secret.
pub(crate) trait RestField {
    fn wire(&self) -> &[u8];
    fn from_wire(bytes: &[u8]) -> Self;
}

impl RestField for Vec<u8> {
    fn wire(&self) -> &[u8] {
        self
    }

    fn from_wire(bytes: &[u8]) -> Self {
        bytes.to_vec()
    }
}

impl RestField for crate::secret::SecretBytes {
    fn wire(&self) -> &[u8] {
        self.expose_secret()
    }

    fn from_wire(bytes: &[u8]) -> Self {
        Self::from_slice(bytes)
    }
}

/// Declares a request `key_id(2) || $field` (the field not empty) and its answer, one
/// byte string of any length. A field of type `SecretBytes` is a secret: say so with
/// `secret_in_request` / `secret_in_response` (e.g. `Redact::From(2)`).
macro_rules! key_and_data_request {
    (
        $(#[$meta:meta])*
        $name:ident { $field:ident: $ty:ty },
        $(#[$rmeta:meta])*
        $response:ident { $rfield:ident: $rty:ty },
        $code:ident, $cmd:literal, repeatable: $repeatable:literal, mutating: $mutating:literal
        $(, secret_in_request: $request_secret:expr)?
        $(, secret_in_response: $response_secret:expr)?
        $(,)?
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            pub key_id: $crate::object::ObjectId,
            pub $field: $ty,
        }

        $(#[$rmeta])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $response {
            pub $rfield: $rty,
        }

        impl $crate::command::Command for $name {
            const CODE: $crate::frame::CommandCode = $crate::frame::CommandCode::$code;
            const REPEATABLE: bool = $repeatable;
            const MUTATING: bool = $mutating;
            type Response = $response;

            fn encode(&self, w: &mut $crate::codec::Writer) {
                w.u16(self.key_id).bytes($crate::command::RestField::wire(&self.$field));
            }

            fn decode(data: &[u8]) -> Result<Self, $crate::codec::DecodeError> {
                let mut r = $crate::codec::Reader::new(data);
                let key_id = r.u16(concat!($cmd, ": key id"))?;
                let rest = $crate::command::non_empty_rest(
                    &mut r,
                    concat!($cmd, ": ", stringify!($field)),
                )?;
                Ok(Self { key_id, $field: $crate::command::RestField::from_wire(rest) })
            }

            $(
                fn secret_in_request(_data: &[u8]) -> $crate::command::Redact {
                    $request_secret
                }
            )?

            $(
                fn secret_in_response(_data: &[u8]) -> $crate::command::Redact {
                    $response_secret
                }
            )?
        }

        impl $crate::command::Response for $response {
            fn encode(&self, w: &mut $crate::codec::Writer) {
                w.bytes($crate::command::RestField::wire(&self.$rfield));
            }

            fn decode(data: &[u8]) -> Result<Self, $crate::codec::DecodeError> {
                Ok(Self { $rfield: $crate::command::RestField::from_wire(data) })
            }
        }
    };
}
pub(crate) use key_and_data_request;

/// A created object must carry the id that was asked for, unless the device was asked to
/// pick one (id 0).
pub(crate) fn check_created_id(
    requested: ObjectId,
    got: ObjectId,
    what: &'static str,
) -> Result<(), DecodeError> {
    if requested == 0 || requested == got { Ok(()) } else { Err(DecodeError::invalid(what)) }
}

/// Reads the rest of the data as a field that may not be empty.
pub(crate) fn non_empty_rest<'a>(
    r: &mut Reader<'a>,
    what: &'static str,
) -> Result<&'a [u8], DecodeError> {
    let rest = r.rest();
    if rest.is_empty() { Err(DecodeError::bad_length(what, 0)) } else { Ok(rest) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::DecodeErrorKind;
    use crate::frame::ErrorCode;

    #[test]
    fn round_trips_object_headers_in_wire_order() {
        let hdr = ObjectHeader {
            id: 0x0102,
            label: Label::from_bytes(b"k").unwrap(),
            domains: Domains(0x0304),
            capabilities: Capabilities(0x0506_0708_090a_0b0c),
            algorithm: Algorithm::AES256_CCM_WRAP,
        };
        let mut w = Writer::new();
        hdr.encode(&mut w);
        let bytes = w.into_vec();
        assert_eq!(bytes.len(), ObjectHeader::LEN);
        assert_eq!(&bytes[..3], &[0x01, 0x02, b'k']);
        assert_eq!(&bytes[42..], &[3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 42]);
        let names = header_names!("test");
        let mut r = Reader::new(&bytes);
        assert_eq!(ObjectHeader::read(&mut r, &names).unwrap(), hdr);
        assert!(r.is_empty());
        let err = ObjectHeader::read(&mut Reader::new(&bytes[..52]), &names).unwrap_err();
        assert_eq!(err.what, "test: algorithm");
    }

    #[test]
    fn parses_frames_with_codes_and_device_errors() {
        let echo = Echo { data: b"hi".to_vec() };
        let frame = echo.to_frame().unwrap();
        assert_eq!(frame.as_slice(), &[0x01, 0x00, 0x02, b'h', b'i']);
        assert_eq!(Echo::from_frame(&frame).unwrap(), echo);
        assert_eq!(
            ResetDevice::from_frame(&frame),
            Err(FrameError::UnexpectedCode { expected: 0x08, got: 0x01 })
        );
        let answer = encode_response_frame::<Echo>(&EchoResponse { data: b"hi".to_vec() });
        assert_eq!(answer.unwrap().as_slice(), &[0x81, 0x00, 0x02, b'h', b'i']);
        assert_eq!(
            echo.parse_response(&frame::encode_error(ErrorCode::INVALID_DATA)),
            Err(FrameError::Device(ErrorCode::INVALID_DATA))
        );
        let wrong = echo.parse_response(&[0x81, 0x00, 0x02, b'h', b'o']).unwrap_err();
        assert_eq!(wrong, FrameError::Malformed(DecodeError::invalid("echo response: data")));
    }

    #[test]
    fn checks_the_id_of_created_objects() {
        let err = check_created_id(5, 6, "x response: id").unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::InvalidValue);
        assert!(check_created_id(0, 6, "x").is_ok());
        assert!(check_created_id(6, 6, "x").is_ok());
    }
}
