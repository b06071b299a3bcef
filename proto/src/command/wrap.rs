//! Wrap-key commands (docs/PROTOCOL.md §7.6 "Wrap commands"): put-wrap-key,
//! generate-wrap-key, export-wrapped, import-wrapped, wrap-data and unwrap-data.
//!
//! Wrapped blobs are carried as opaque bytes here; the `.yhw` module decrypts and parses
//! them.

use alloc::vec::Vec;

use super::{
    Command, ObjectHeader, Redact, Response, check_created_id, header_names, id_response,
    key_and_data_request, non_empty_rest,
};
use crate::codec::{DecodeError, Reader, Writer};
use crate::frame::CommandCode;
use crate::object::{Capabilities, ObjectId, ObjectType};
use crate::secret::SecretBytes;

/// The shortest blob a wrap can produce: a 13-byte CCM nonce and a 16-byte tag (the
/// ciphertext in between is not inspected here).
pub const MIN_WRAPPED_LEN: usize = 13 + 16;

/// PUT_WRAP_KEY (4c): hdr + delegated(8) + key → id.
///
/// For the AES-CCM wrap algorithms (29/41/42) the decoder requires the matching key length
/// (16/24/32); other algorithms (RSA wrap keys, unknown values) only need a non-empty key
/// and are left to the device to judge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutWrapKey {
    pub header: ObjectHeader,
    /// Capabilities an object imported under this key may have.
    pub delegated: Capabilities,
    pub key: SecretBytes,
}

id_response! {
    /// The answer to [`PutWrapKey`].
    PutWrapKeyResponse, "put-wrap-key"
}

impl Command for PutWrapKey {
    const CODE: CommandCode = CommandCode::PUT_WRAP_KEY;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = PutWrapKeyResponse;

    fn encode(&self, w: &mut Writer) {
        self.header.encode(w);
        w.u64(self.delegated.0).bytes(self.key.expose_secret());
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let header = ObjectHeader::read(&mut r, &header_names!("put-wrap-key"))?;
        let delegated = Capabilities(r.u64("put-wrap-key: delegated capabilities")?);
        let key = non_empty_rest(&mut r, "put-wrap-key: key")?;
        if header.algorithm.wrap_key_size().is_some_and(|n| n != key.len()) {
            return Err(DecodeError::bad_length("put-wrap-key: key", key.len()));
        }
        Ok(Self { header, delegated, key: SecretBytes::from_slice(key) })
    }

    fn check_response(&self, response: &PutWrapKeyResponse) -> Result<(), DecodeError> {
        check_created_id(self.header.id, response.id, "put-wrap-key response: id")
    }

    /// `hdr delegated(8) key`: the key.
    fn secret_in_request(_data: &[u8]) -> Redact {
        Redact::From(ObjectHeader::LEN + 8)
    }
}

/// GENERATE_WRAP_KEY (5b): hdr + delegated(8) → id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GenerateWrapKey {
    pub header: ObjectHeader,
    pub delegated: Capabilities,
}

id_response! {
    /// The answer to [`GenerateWrapKey`].
    GenerateWrapKeyResponse, "generate-wrap-key"
}

impl Command for GenerateWrapKey {
    const CODE: CommandCode = CommandCode::GENERATE_WRAP_KEY;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = GenerateWrapKeyResponse;

    fn encode(&self, w: &mut Writer) {
        self.header.encode(w);
        w.u64(self.delegated.0);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let header = ObjectHeader::read(&mut r, &header_names!("generate-wrap-key"))?;
        let delegated = Capabilities(r.u64("generate-wrap-key: delegated capabilities")?);
        r.finish("generate-wrap-key")?;
        Ok(Self { header, delegated })
    }

    fn check_response(&self, response: &GenerateWrapKeyResponse) -> Result<(), DecodeError> {
        check_created_id(self.header.id, response.id, "generate-wrap-key response: id")
    }
}

/// EXPORT_WRAPPED (4a): `wrap_id(2) type(1) id(2) [format(1)]` → the wrapped blob.
///
/// `format` is the optional last byte: `None` sends the 5-byte form every firmware knows;
/// `Some(1)` ([`ExportWrapped::FORMAT_ED25519_SEED`]) asks firmware >= 2.4 to include the
/// ed25519 seed. Build requests with [`ExportWrapped::new`] / [`ExportWrapped::with_format`],
/// which send the byte only when it is non-zero. Decoding keeps what was on the wire, so
/// an explicit `00` byte survives a round trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExportWrapped {
    pub wrap_id: ObjectId,
    pub object_type: ObjectType,
    pub id: ObjectId,
    pub format: Option<u8>,
}

impl ExportWrapped {
    /// The format byte asking for an ed25519 key's seed to be included (firmware >= 2.4).
    pub const FORMAT_ED25519_SEED: u8 = 1;

    /// Export object (`object_type`, `id`) under wrap key `wrap_id`, default format.
    pub const fn new(wrap_id: ObjectId, object_type: ObjectType, id: ObjectId) -> Self {
        Self { wrap_id, object_type, id, format: None }
    }

    /// The same request with format byte `format` (left out when 0).
    pub const fn with_format(self, format: u8) -> Self {
        Self { format: if format == 0 { None } else { Some(format) }, ..self }
    }
}

/// The answer to [`ExportWrapped`]: `nonce(13) || ciphertext || tag(16)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportWrappedResponse {
    pub blob: Vec<u8>,
}

impl Command for ExportWrapped {
    const CODE: CommandCode = CommandCode::EXPORT_WRAPPED;
    const REPEATABLE: bool = true;
    const MUTATING: bool = true;
    type Response = ExportWrappedResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.wrap_id).u8(self.object_type.0).u16(self.id);
        if let Some(f) = self.format {
            w.u8(f);
        }
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let wrap_id = r.u16("export-wrapped: wrap key id")?;
        let object_type = ObjectType(r.u8("export-wrapped: type")?);
        let id = r.u16("export-wrapped: id")?;
        let format = if r.is_empty() { None } else { Some(r.u8("export-wrapped: format")?) };
        r.finish("export-wrapped")?;
        Ok(Self { wrap_id, object_type, id, format })
    }
}

impl Response for ExportWrappedResponse {
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.blob);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        if data.len() < MIN_WRAPPED_LEN {
            return Err(DecodeError::bad_length("export-wrapped response", data.len()));
        }
        Ok(Self { blob: data.to_vec() })
    }
}

/// IMPORT_WRAPPED (4b): `wrap_id(2) blob` → `type(1) id(2)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportWrapped {
    pub wrap_id: ObjectId,
    /// `nonce(13) || ciphertext || tag(16)`, at least [`MIN_WRAPPED_LEN`] bytes.
    pub blob: Vec<u8>,
}

/// The answer to [`ImportWrapped`]: which object was created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ImportWrappedResponse {
    pub object_type: ObjectType,
    pub id: ObjectId,
}

impl Command for ImportWrapped {
    const CODE: CommandCode = CommandCode::IMPORT_WRAPPED;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = ImportWrappedResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.wrap_id).bytes(&self.blob);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let wrap_id = r.u16("import-wrapped: wrap key id")?;
        let blob = r.rest();
        if blob.len() < MIN_WRAPPED_LEN {
            return Err(DecodeError::bad_length("import-wrapped: blob", blob.len()));
        }
        Ok(Self { wrap_id, blob: blob.to_vec() })
    }

    /// `wrap_id(2) blob`: the blob is ciphertext, but it is a whole object's key material,
    /// and traces get shared.
    fn secret_in_request(_data: &[u8]) -> Redact {
        Redact::From(2)
    }
}

impl Response for ImportWrappedResponse {
    fn encode(&self, w: &mut Writer) {
        w.u8(self.object_type.0).u16(self.id);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let object_type = ObjectType(r.u8("import-wrapped response: type")?);
        let id = r.u16("import-wrapped response: id")?;
        r.finish("import-wrapped response")?;
        Ok(Self { object_type, id })
    }
}

key_and_data_request! {
    /// WRAP_DATA (68): `key_id(2) plaintext` → `nonce(13) ciphertext tag(16)` under the
    /// wrap key's AES-CCM.
    WrapData { plaintext: SecretBytes },
    /// The answer to [`WrapData`].
    WrapDataResponse { wrapped: Vec<u8> },
    WRAP_DATA, "wrap-data", repeatable: false, mutating: true,
    secret_in_request: Redact::From(2),
}

key_and_data_request! {
    /// UNWRAP_DATA (69): `key_id(2) nonce(13) ciphertext tag(16)` → the plaintext.
    UnwrapData { wrapped: Vec<u8> },
    /// The answer to [`UnwrapData`]: the plaintext (secret).
    UnwrapDataResponse { plaintext: SecretBytes },
    UNWRAP_DATA, "unwrap-data", repeatable: false, mutating: true,
    secret_in_response: Redact::From(0),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{Algorithm, Domains, Label};
    use alloc::vec;

    fn header(algorithm: Algorithm) -> ObjectHeader {
        ObjectHeader {
            id: 2,
            label: Label::default(),
            domains: Domains::ALL,
            capabilities: Capabilities::NONE,
            algorithm,
        }
    }

    #[test]
    fn sends_the_format_byte_only_when_non_zero() {
        let plain = ExportWrapped::new(1, ObjectType::ASYMMETRIC_KEY, 0x20);
        assert_eq!(plain.to_data().as_slice(), &[0, 1, 3, 0, 0x20]);
        assert_eq!(plain.with_format(0), plain);
        let seed = plain.with_format(ExportWrapped::FORMAT_ED25519_SEED);
        assert_eq!(seed.to_data().as_slice(), &[0, 1, 3, 0, 0x20, 1]);
        assert_eq!(ExportWrapped::decode(&[0, 1, 3, 0, 0x20]).unwrap(), plain);
        assert_eq!(ExportWrapped::decode(&[0, 1, 3, 0, 0x20, 1]).unwrap(), seed);
        let explicit_zero = ExportWrapped::decode(&[0, 1, 3, 0, 0x20, 0]).unwrap();
        assert_eq!(explicit_zero.to_data().as_slice(), &[0, 1, 3, 0, 0x20, 0]);
        assert!(ExportWrapped::decode(&[0, 1, 3, 0, 0x20, 1, 0]).is_err());
    }

    #[test]
    fn checks_aes_wrap_key_lengths_and_leaves_others_to_the_device() {
        for (alg, len) in [
            (Algorithm::AES128_CCM_WRAP, 16),
            (Algorithm::AES192_CCM_WRAP, 24),
            (Algorithm::AES256_CCM_WRAP, 32),
        ] {
            let mut req = PutWrapKey {
                header: header(alg),
                delegated: Capabilities::ALL,
                key: SecretBytes::new(vec![7; len]),
            };
            assert_eq!(PutWrapKey::decode(&req.to_data()).unwrap(), req);
            req.key = SecretBytes::new(vec![7; len + 8]);
            let err = PutWrapKey::decode(&req.to_data()).unwrap_err();
            assert_eq!(err, DecodeError::bad_length("put-wrap-key: key", len + 8));
        }
        let rsa = PutWrapKey {
            header: header(Algorithm::RSA2048),
            delegated: Capabilities::NONE,
            key: SecretBytes::new(vec![1; 256]),
        };
        assert_eq!(PutWrapKey::decode(&rsa.to_data()).unwrap(), rsa);
    }

    #[test]
    fn rejects_blobs_too_short_to_hold_a_nonce_and_tag() {
        let mut data = vec![0, 1];
        data.extend_from_slice(&[0; MIN_WRAPPED_LEN - 1]);
        assert_eq!(ImportWrapped::decode(&data).unwrap_err().what, "import-wrapped: blob");
        data.push(0);
        assert!(ImportWrapped::decode(&data).is_ok());
        assert!(ExportWrappedResponse::decode(&[0; MIN_WRAPPED_LEN - 1]).is_err());
    }
}
