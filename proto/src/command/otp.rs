//! Yubico OTP AEAD commands (docs/PROTOCOL.md §7.5; layouts as python-yubihsm sends
//! them): put-otp-aead-key, generate-otp-aead-key and create-otp-aead.

use alloc::vec::Vec;

use super::{Command, ObjectHeader, Redact, Response, check_created_id, header_names, id_response};
use crate::codec::{DecodeError, Reader, Writer};
use crate::frame::CommandCode;
use crate::object::ObjectId;
use crate::secret::{SecretArray, SecretBytes};

/// PUT_OTP_AEAD_KEY (65): `hdr nonce_id(4) key` → id. Whether the key's length suits the
/// algorithm (aes128/192/256-yubico-otp) is the device's call: the decoder takes any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutOtpAeadKey {
    pub header: ObjectHeader,
    pub nonce_id: u32,
    pub key: SecretBytes,
}

id_response! {
    /// The answer to [`PutOtpAeadKey`].
    PutOtpAeadKeyResponse, "put-otp-aead-key"
}

impl Command for PutOtpAeadKey {
    const CODE: CommandCode = CommandCode::PUT_OTP_AEAD_KEY;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = PutOtpAeadKeyResponse;

    fn encode(&self, w: &mut Writer) {
        self.header.encode(w);
        w.u32(self.nonce_id).bytes(self.key.expose_secret());
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let header = ObjectHeader::read(&mut r, &header_names!("put-otp-aead-key"))?;
        let nonce_id = r.u32("put-otp-aead-key: nonce id")?;
        Ok(Self { header, nonce_id, key: SecretBytes::from_slice(r.rest()) })
    }

    fn check_response(&self, response: &PutOtpAeadKeyResponse) -> Result<(), DecodeError> {
        check_created_id(self.header.id, response.id, "put-otp-aead-key response: id")
    }

    /// The nonce id goes with the key.
    fn secret_in_request(_data: &[u8]) -> Redact {
        Redact::From(ObjectHeader::LEN)
    }
}

/// GENERATE_OTP_AEAD_KEY (66): `hdr nonce_id(4)` → id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GenerateOtpAeadKey {
    pub header: ObjectHeader,
    pub nonce_id: u32,
}

id_response! {
    /// The answer to [`GenerateOtpAeadKey`].
    GenerateOtpAeadKeyResponse, "generate-otp-aead-key"
}

impl Command for GenerateOtpAeadKey {
    const CODE: CommandCode = CommandCode::GENERATE_OTP_AEAD_KEY;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = GenerateOtpAeadKeyResponse;

    fn encode(&self, w: &mut Writer) {
        self.header.encode(w);
        w.u32(self.nonce_id);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let header = ObjectHeader::read(&mut r, &header_names!("generate-otp-aead-key"))?;
        let nonce_id = r.u32("generate-otp-aead-key: nonce id")?;
        r.finish("generate-otp-aead-key")?;
        Ok(Self { header, nonce_id })
    }

    fn check_response(&self, response: &GenerateOtpAeadKeyResponse) -> Result<(), DecodeError> {
        check_created_id(self.header.id, response.id, "generate-otp-aead-key response: id")
    }
}

/// CREATE_OTP_AEAD (61): `key_id(2) key(16) private_id(6)` → an AEAD holding a YubiKey's
/// OTP key and private id under the OTP AEAD key `key_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateOtpAead {
    pub key_id: ObjectId,
    pub key: SecretArray<16>,
    pub private_id: SecretArray<6>,
}

/// The answer to [`CreateOtpAead`]: the AEAD (nonce, ciphertext and tag).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateOtpAeadResponse {
    pub aead: Vec<u8>,
}

impl Command for CreateOtpAead {
    const CODE: CommandCode = CommandCode::CREATE_OTP_AEAD;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = CreateOtpAeadResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.key_id).bytes(self.key.expose_secret()).bytes(self.private_id.expose_secret());
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let key_id = r.u16("create-otp-aead: key id")?;
        let key = SecretArray::new(r.array("create-otp-aead: key")?);
        let private_id = SecretArray::new(r.array("create-otp-aead: private id")?);
        r.finish("create-otp-aead")?;
        Ok(Self { key_id, key, private_id })
    }

    fn secret_in_request(_data: &[u8]) -> Redact {
        Redact::From(2)
    }
}

impl Response for CreateOtpAeadResponse {
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.aead);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        if data.is_empty() {
            return Err(DecodeError::bad_length("create-otp-aead response", 0));
        }
        Ok(Self { aead: data.to_vec() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{Algorithm, Capabilities, Domains, Label};
    use alloc::vec;

    #[test]
    fn round_trips_otp_requests_in_wire_order() {
        let header = ObjectHeader {
            id: 5,
            label: Label::default(),
            domains: Domains(1),
            capabilities: Capabilities(0),
            algorithm: Algorithm::AES128_YUBICO_OTP,
        };
        let put =
            PutOtpAeadKey { header, nonce_id: 0x0102_0304, key: SecretBytes::new(vec![9; 16]) };
        let data = put.to_data();
        assert_eq!(&data[ObjectHeader::LEN..ObjectHeader::LEN + 4], &[1, 2, 3, 4]);
        assert_eq!(PutOtpAeadKey::decode(&data), Ok(put));
        let generate = GenerateOtpAeadKey { header, nonce_id: 7 };
        let mut data = generate.to_data().to_vec();
        assert_eq!(GenerateOtpAeadKey::decode(&data), Ok(generate));
        data.push(0);
        assert!(GenerateOtpAeadKey::decode(&data).is_err());
        let create = CreateOtpAead {
            key_id: 3,
            key: SecretArray::new([4; 16]),
            private_id: SecretArray::new([5; 6]),
        };
        let data = create.to_data();
        assert_eq!(data.len(), 24);
        assert_eq!(CreateOtpAead::decode(&data), Ok(create));
        assert_eq!(
            CreateOtpAead::decode(&data[..23]).unwrap_err().what,
            "create-otp-aead: private id"
        );
    }
}
