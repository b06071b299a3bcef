//! HMAC key commands (docs/PROTOCOL.md §7.5; layouts as python-yubihsm sends them):
//! put-hmac-key, generate-hmac-key, sign-hmac and verify-hmac.

use alloc::vec::Vec;

use super::{
    Command, ObjectHeader, Redact, Response, check_created_id, header_names, id_response,
    key_and_data_request, non_empty_rest,
};
use crate::codec::{DecodeError, Reader, Writer};
use crate::frame::CommandCode;
use crate::object::ObjectId;
use crate::secret::SecretBytes;

/// PUT_HMAC_KEY (52): hdr + key → id. The decoder requires a non-empty key of at most the
/// hash block size for the known HMAC algorithms (longer keys must be hashed first, as
/// python-yubihsm does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutHmacKey {
    pub header: ObjectHeader,
    pub key: SecretBytes,
}

id_response! {
    /// The answer to [`PutHmacKey`].
    PutHmacKeyResponse, "put-hmac-key"
}

impl Command for PutHmacKey {
    const CODE: CommandCode = CommandCode::PUT_HMAC_KEY;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = PutHmacKeyResponse;

    fn encode(&self, w: &mut Writer) {
        self.header.encode(w);
        w.bytes(self.key.expose_secret());
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let header = ObjectHeader::read(&mut r, &header_names!("put-hmac-key"))?;
        let key = non_empty_rest(&mut r, "put-hmac-key: key")?;
        if header.algorithm.hmac_block_size().is_some_and(|n| key.len() > n) {
            return Err(DecodeError::bad_length("put-hmac-key: key", key.len()));
        }
        Ok(Self { header, key: SecretBytes::from_slice(key) })
    }

    fn check_response(&self, response: &PutHmacKeyResponse) -> Result<(), DecodeError> {
        check_created_id(self.header.id, response.id, "put-hmac-key response: id")
    }

    fn secret_in_request(_data: &[u8]) -> Redact {
        Redact::From(ObjectHeader::LEN)
    }
}

/// GENERATE_HMAC_KEY (5a): hdr → id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GenerateHmacKey {
    pub header: ObjectHeader,
}

id_response! {
    /// The answer to [`GenerateHmacKey`].
    GenerateHmacKeyResponse, "generate-hmac-key"
}

impl Command for GenerateHmacKey {
    const CODE: CommandCode = CommandCode::GENERATE_HMAC_KEY;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = GenerateHmacKeyResponse;

    fn encode(&self, w: &mut Writer) {
        self.header.encode(w);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let header = ObjectHeader::read(&mut r, &header_names!("generate-hmac-key"))?;
        r.finish("generate-hmac-key")?;
        Ok(Self { header })
    }

    fn check_response(&self, response: &GenerateHmacKeyResponse) -> Result<(), DecodeError> {
        check_created_id(self.header.id, response.id, "generate-hmac-key response: id")
    }
}

key_and_data_request! {
    /// SIGN_HMAC (53): `key_id(2) message` → the MAC.
    SignHmac { message: Vec<u8> },
    /// The answer to [`SignHmac`]: the MAC (the hash's size).
    SignHmacResponse { mac: Vec<u8> },
    SIGN_HMAC, "sign-hmac", repeatable: false, mutating: true,
}

/// VERIFY_HMAC (5c): `key_id(2) mac message` → `1` when the MAC is right. The MAC is the
/// key's hash size, which only the device knows: the request carries the two as one
/// field, and [`VerifyHmac::split`] cuts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyHmac {
    pub key_id: ObjectId,
    /// `mac || message`, not empty.
    pub mac_and_message: Vec<u8>,
}

impl VerifyHmac {
    /// The request checking `mac` over `message`.
    pub fn new(key_id: ObjectId, mac: &[u8], message: &[u8]) -> Self {
        let mut both = Vec::with_capacity(mac.len() + message.len());
        both.extend_from_slice(mac);
        both.extend_from_slice(message);
        Self { key_id, mac_and_message: both }
    }

    /// The MAC and the message for a key whose MACs are `mac_len` bytes; `None` when the
    /// field is shorter.
    pub fn split(&self, mac_len: usize) -> Option<(&[u8], &[u8])> {
        self.mac_and_message.split_at_checked(mac_len)
    }
}

/// The answer to [`VerifyHmac`]: one byte, 1 when the MAC verified and 0 when not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifyHmacResponse {
    pub verified: bool,
}

impl Command for VerifyHmac {
    const CODE: CommandCode = CommandCode::VERIFY_HMAC;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = VerifyHmacResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.key_id).bytes(&self.mac_and_message);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let key_id = r.u16("verify-hmac: key id")?;
        let rest = non_empty_rest(&mut r, "verify-hmac: mac and message")?;
        Ok(Self { key_id, mac_and_message: rest.to_vec() })
    }
}

impl Response for VerifyHmacResponse {
    fn encode(&self, w: &mut Writer) {
        w.u8(u8::from(self.verified));
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        match data {
            [0] => Ok(Self { verified: false }),
            [1] => Ok(Self { verified: true }),
            [_] => Err(DecodeError::invalid("verify-hmac response")),
            _ => Err(DecodeError::bad_length("verify-hmac response", data.len())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn limits_hmac_keys_to_the_block_size() {
        let mut req = PutHmacKey {
            header: ObjectHeader {
                id: 0,
                label: crate::object::Label::default(),
                domains: crate::object::Domains::ALL,
                capabilities: crate::object::Capabilities::SIGN_HMAC,
                algorithm: crate::object::Algorithm::HMAC_SHA256,
            },
            key: SecretBytes::new(vec![1; 64]),
        };
        assert_eq!(PutHmacKey::decode(&req.to_data()).unwrap(), req);
        req.key = SecretBytes::new(vec![1; 65]);
        assert_eq!(PutHmacKey::decode(&req.to_data()).unwrap_err().what, "put-hmac-key: key");
        req.header.algorithm = crate::object::Algorithm::HMAC_SHA512;
        assert!(PutHmacKey::decode(&req.to_data()).is_ok());
    }

    #[test]
    fn splits_the_mac_from_the_message_at_the_device_s_length() {
        let verify = VerifyHmac::new(7, &[1; 32], b"msg");
        let back = VerifyHmac::decode(&verify.to_data()).unwrap();
        assert_eq!(back.split(32), Some((&[1u8; 32][..], &b"msg"[..])));
        assert_eq!(back.split(64), None);
        assert_eq!(VerifyHmac::decode(&[0, 7]).unwrap_err().what, "verify-hmac: mac and message");
        assert_eq!(VerifyHmacResponse::decode(&[1]), Ok(VerifyHmacResponse { verified: true }));
        assert!(VerifyHmacResponse::decode(&[2]).is_err());
        assert!(VerifyHmacResponse::decode(&[]).is_err());
        let sign = SignHmac { key_id: 7, message: vec![5] };
        assert_eq!(sign.to_data().as_slice(), &[0, 7, 5]);
    }
}
