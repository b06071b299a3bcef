//! RSA key operations (docs/PROTOCOL.md §7.5; layouts as python-yubihsm sends them):
//! sign-pkcs1, sign-pss, decrypt-pkcs1 and decrypt-oaep. The host hashes; the device
//! learns the hash from the digest's (or the label hash's) length.

use alloc::vec::Vec;

use super::{Command, Redact, Response, key_and_data_request};
use crate::codec::{DecodeError, Reader, Writer};
use crate::frame::CommandCode;
use crate::object::{Algorithm, ObjectId};
use crate::secret::SecretBytes;

key_and_data_request! {
    /// SIGN_PKCS1 (47): `key_id(2) digest` → a PKCS#1 v1.5 signature.
    SignPkcs1 { digest: Vec<u8> },
    /// The answer to [`SignPkcs1`]: the signature (the modulus' size).
    SignPkcs1Response { signature: Vec<u8> },
    SIGN_PKCS1, "sign-pkcs1", repeatable: false, mutating: true,
}

key_and_data_request! {
    /// DECRYPT_PKCS1 (49): `key_id(2) ciphertext` → the plaintext of PKCS#1 v1.5
    /// encryption.
    DecryptPkcs1 { ciphertext: Vec<u8> },
    /// The answer to [`DecryptPkcs1`]: the plaintext (secret).
    DecryptPkcs1Response { plaintext: SecretBytes },
    DECRYPT_PKCS1, "decrypt-pkcs1", repeatable: false, mutating: true,
    secret_in_response: Redact::From(0),
}

/// SIGN_PSS (55): `key_id(2) mgf1(1) salt_len(2) digest` → an RSASSA-PSS signature. The
/// digest may be empty here: whether its length names a hash is the device's call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignPss {
    pub key_id: ObjectId,
    /// The MGF1 hash: mgf1-sha1/256/384/512.
    pub mgf1: Algorithm,
    pub salt_len: u16,
    pub digest: Vec<u8>,
}

/// The answer to [`SignPss`]: the signature (the modulus' size).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignPssResponse {
    pub signature: Vec<u8>,
}

impl Command for SignPss {
    const CODE: CommandCode = CommandCode::SIGN_PSS;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = SignPssResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.key_id).u8(self.mgf1.0).u16(self.salt_len).bytes(&self.digest);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let key_id = r.u16("sign-pss: key id")?;
        let mgf1 = Algorithm(r.u8("sign-pss: mgf1 algorithm")?);
        let salt_len = r.u16("sign-pss: salt length")?;
        Ok(Self { key_id, mgf1, salt_len, digest: r.rest().to_vec() })
    }
}

impl Response for SignPssResponse {
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.signature);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self { signature: data.to_vec() })
    }
}

/// DECRYPT_OAEP (59): `key_id(2) mgf1(1) ciphertext label_hash` → the plaintext of
/// RSAES-OAEP. The ciphertext is the modulus' size, which only the device knows: the
/// request carries the two as one field, and [`DecryptOaep::split`] cuts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecryptOaep {
    pub key_id: ObjectId,
    /// The MGF1 hash: mgf1-sha1/256/384/512.
    pub mgf1: Algorithm,
    /// `ciphertext || label_hash`; the label hash's length tells the OAEP hash.
    pub ciphertext_and_label_hash: Vec<u8>,
}

impl DecryptOaep {
    /// The request for `ciphertext` with the hash of the OAEP label.
    pub fn new(key_id: ObjectId, mgf1: Algorithm, ciphertext: &[u8], label_hash: &[u8]) -> Self {
        let mut both = Vec::with_capacity(ciphertext.len() + label_hash.len());
        both.extend_from_slice(ciphertext);
        both.extend_from_slice(label_hash);
        Self { key_id, mgf1, ciphertext_and_label_hash: both }
    }

    /// The ciphertext and the label hash of a key whose modulus is `modulus_len` bytes;
    /// `None` when the field is shorter.
    pub fn split(&self, modulus_len: usize) -> Option<(&[u8], &[u8])> {
        self.ciphertext_and_label_hash.split_at_checked(modulus_len)
    }
}

/// The answer to [`DecryptOaep`]: the plaintext (secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecryptOaepResponse {
    pub plaintext: SecretBytes,
}

impl Command for DecryptOaep {
    const CODE: CommandCode = CommandCode::DECRYPT_OAEP;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = DecryptOaepResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.key_id).u8(self.mgf1.0).bytes(&self.ciphertext_and_label_hash);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let key_id = r.u16("decrypt-oaep: key id")?;
        let mgf1 = Algorithm(r.u8("decrypt-oaep: mgf1 algorithm")?);
        Ok(Self { key_id, mgf1, ciphertext_and_label_hash: r.rest().to_vec() })
    }

    fn secret_in_response(_data: &[u8]) -> Redact {
        Redact::From(0)
    }
}

impl Response for DecryptOaepResponse {
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
    use alloc::vec;

    #[test]
    fn round_trips_pss_and_oaep_in_python_yubihsm_order() {
        let pss =
            SignPss { key_id: 0x0102, mgf1: Algorithm(0x21), salt_len: 32, digest: vec![7; 32] };
        let data = pss.to_data();
        assert_eq!(&data[..5], &[0x01, 0x02, 0x21, 0x00, 0x20]);
        assert_eq!(SignPss::decode(&data), Ok(pss));
        let err = SignPss::decode(&data[..4]).unwrap_err();
        assert_eq!(err.what, "sign-pss: salt length");

        let oaep = DecryptOaep::new(3, Algorithm(0x21), &[1; 256], &[2; 32]);
        let data = oaep.to_data();
        assert_eq!(&data[..3], &[0, 3, 0x21]);
        let back = DecryptOaep::decode(&data).unwrap();
        assert_eq!(back.split(256), Some((&[1u8; 256][..], &[2u8; 32][..])));
        assert_eq!(back.split(512), None);
    }

    #[test]
    fn rejects_pkcs1_requests_without_data() {
        let err = SignPkcs1::decode(&[0, 1]).unwrap_err();
        assert_eq!(err.what, "sign-pkcs1: digest");
        let err = DecryptPkcs1::decode(&[0]).unwrap_err();
        assert_eq!(err.what, "decrypt-pkcs1: key id");
        let ok = DecryptPkcs1::decode(&[0, 1, 9]).unwrap();
        assert_eq!(ok, DecryptPkcs1 { key_id: 1, ciphertext: vec![9] });
    }
}
