//! Symmetric (AES) key commands (docs/PROTOCOL.md §7.5; layouts as python-yubihsm
//! sends them): put-symmetric-key, generate-symmetric-key, encrypt/decrypt-ecb and
//! encrypt/decrypt-cbc.

use alloc::vec::Vec;

use super::{
    Command, ObjectHeader, Redact, Response, check_created_id, header_names, id_response,
    key_and_data_request,
};
use crate::codec::{DecodeError, Reader, Writer};
use crate::frame::CommandCode;
use crate::object::ObjectId;
use crate::secret::SecretBytes;

/// PUT_SYMMETRIC_KEY (6d): hdr + key → id. Whether the key's length suits the algorithm
/// (16, 24 or 32 bytes) is the device's call, made after its permission checks: the
/// decoder takes any key, even an empty one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutSymmetricKey {
    pub header: ObjectHeader,
    pub key: SecretBytes,
}

id_response! {
    /// The answer to [`PutSymmetricKey`].
    PutSymmetricKeyResponse, "put-symmetric-key"
}

impl Command for PutSymmetricKey {
    const CODE: CommandCode = CommandCode::PUT_SYMMETRIC_KEY;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = PutSymmetricKeyResponse;

    fn encode(&self, w: &mut Writer) {
        self.header.encode(w);
        w.bytes(self.key.expose_secret());
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let header = ObjectHeader::read(&mut r, &header_names!("put-symmetric-key"))?;
        Ok(Self { header, key: SecretBytes::from_slice(r.rest()) })
    }

    fn check_response(&self, response: &PutSymmetricKeyResponse) -> Result<(), DecodeError> {
        check_created_id(self.header.id, response.id, "put-symmetric-key response: id")
    }

    fn secret_in_request(_data: &[u8]) -> Redact {
        Redact::From(ObjectHeader::LEN)
    }
}

/// GENERATE_SYMMETRIC_KEY (6e): hdr → id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GenerateSymmetricKey {
    pub header: ObjectHeader,
}

id_response! {
    /// The answer to [`GenerateSymmetricKey`].
    GenerateSymmetricKeyResponse, "generate-symmetric-key"
}

impl Command for GenerateSymmetricKey {
    const CODE: CommandCode = CommandCode::GENERATE_SYMMETRIC_KEY;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = GenerateSymmetricKeyResponse;

    fn encode(&self, w: &mut Writer) {
        self.header.encode(w);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let header = ObjectHeader::read(&mut r, &header_names!("generate-symmetric-key"))?;
        r.finish("generate-symmetric-key")?;
        Ok(Self { header })
    }

    fn check_response(&self, response: &GenerateSymmetricKeyResponse) -> Result<(), DecodeError> {
        check_created_id(self.header.id, response.id, "generate-symmetric-key response: id")
    }
}

key_and_data_request! {
    /// ENCRYPT_ECB (70): `key_id(2) plaintext` → the AES-ECB ciphertext.
    EncryptEcb { plaintext: SecretBytes },
    /// The answer to [`EncryptEcb`].
    EncryptEcbResponse { ciphertext: Vec<u8> },
    ENCRYPT_ECB, "encrypt-ecb", repeatable: false, mutating: true,
    secret_in_request: Redact::From(2),
}

key_and_data_request! {
    /// DECRYPT_ECB (6f): `key_id(2) ciphertext` → the AES-ECB plaintext.
    DecryptEcb { ciphertext: Vec<u8> },
    /// The answer to [`DecryptEcb`]: the plaintext (secret).
    DecryptEcbResponse { plaintext: SecretBytes },
    DECRYPT_ECB, "decrypt-ecb", repeatable: false, mutating: true,
    secret_in_response: Redact::From(0),
}

/// ENCRYPT_CBC (72): `key_id(2) iv(16) plaintext` → the AES-CBC ciphertext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptCbc {
    pub key_id: ObjectId,
    pub iv: [u8; 16],
    pub plaintext: SecretBytes,
}

/// The answer to [`EncryptCbc`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptCbcResponse {
    pub ciphertext: Vec<u8>,
}

/// DECRYPT_CBC (71): `key_id(2) iv(16) ciphertext` → the AES-CBC plaintext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecryptCbc {
    pub key_id: ObjectId,
    pub iv: [u8; 16],
    pub ciphertext: Vec<u8>,
}

/// The answer to [`DecryptCbc`]: the plaintext (secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecryptCbcResponse {
    pub plaintext: SecretBytes,
}

impl Command for EncryptCbc {
    const CODE: CommandCode = CommandCode::ENCRYPT_CBC;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = EncryptCbcResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.key_id).bytes(&self.iv).bytes(self.plaintext.expose_secret());
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let key_id = r.u16("encrypt-cbc: key id")?;
        let iv = r.array("encrypt-cbc: iv")?;
        Ok(Self { key_id, iv, plaintext: SecretBytes::from_slice(r.rest()) })
    }

    /// The iv goes too: with the ciphertext it gives the first plaintext block away.
    fn secret_in_request(_data: &[u8]) -> Redact {
        Redact::From(2)
    }
}

impl Response for EncryptCbcResponse {
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.ciphertext);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self { ciphertext: data.to_vec() })
    }
}

impl Command for DecryptCbc {
    const CODE: CommandCode = CommandCode::DECRYPT_CBC;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = DecryptCbcResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.key_id).bytes(&self.iv).bytes(&self.ciphertext);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let key_id = r.u16("decrypt-cbc: key id")?;
        let iv = r.array("decrypt-cbc: iv")?;
        Ok(Self { key_id, iv, ciphertext: r.rest().to_vec() })
    }

    fn secret_in_response(_data: &[u8]) -> Redact {
        Redact::From(0)
    }
}

impl Response for DecryptCbcResponse {
    fn encode(&self, w: &mut Writer) {
        w.bytes(self.plaintext.expose_secret());
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self { plaintext: SecretBytes::from_slice(data) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{Algorithm, Capabilities, Domains, Label};
    use alloc::vec;

    #[test]
    fn round_trips_symmetric_requests_in_wire_order() {
        let header = ObjectHeader {
            id: 5,
            label: Label::default(),
            domains: Domains(1),
            capabilities: Capabilities(0),
            algorithm: Algorithm::AES128,
        };
        let put = PutSymmetricKey { header, key: SecretBytes::new(vec![9; 16]) };
        let data = put.to_data();
        assert_eq!(data.len(), ObjectHeader::LEN + 16);
        assert_eq!(PutSymmetricKey::decode(&data), Ok(put));
        let cbc = EncryptCbc { key_id: 5, iv: [1; 16], plaintext: SecretBytes::new(vec![2; 16]) };
        let data = cbc.to_data();
        assert_eq!(&data[..3], &[0, 5, 1]);
        assert_eq!(EncryptCbc::decode(&data), Ok(cbc));
        assert_eq!(DecryptCbc::decode(&data[..17]).unwrap_err().what, "decrypt-cbc: iv");
        assert_eq!(EncryptEcb::decode(&[0, 5]).unwrap_err().what, "encrypt-ecb: plaintext");
    }
}
