//! Asymmetric wrap commands (firmware 2.4; docs/PROTOCOL.md §7.7 "Asymmetric wrap"):
//! put-public-wrap-key, get-rsa-wrapped-key, put-rsa-wrapped-key, export-rsa-wrapped and
//! import-rsa-wrapped. Layouts as python-yubihsm 3.1.2 sends them (`PublicWrapKey.put`,
//! `export_raw_key`, `export_wrapped_rsa`, `WrapKey.import_raw_key`,
//! `import_wrapped_rsa`).
//!
//! The wrapped data is `RSA-OAEP(ephemeral AES key) || AES-KWP(payload)`; it is carried as
//! opaque bytes here. Every request names the OAEP hash (rsa-oaep-sha*) and the MGF1 hash
//! (mgf1-sha*) and carries the hash of the OAEP label (not the label), last.

use alloc::vec::Vec;

use super::{
    Command, ImportWrappedResponse, ObjectHeader, Redact, Response, check_created_id, header_names,
    id_response, non_empty_rest,
};
use crate::codec::{DecodeError, Reader, Writer};
use crate::frame::CommandCode;
use crate::object::{Algorithm, Capabilities, ObjectId, ObjectType};

/// The digest length of an rsa-oaep-sha* algorithm: the length of the label hash.
pub fn oaep_hash_len(oaep: Algorithm) -> Option<usize> {
    match oaep {
        Algorithm::RSA_OAEP_SHA1 => Some(20),
        Algorithm::RSA_OAEP_SHA256 => Some(32),
        Algorithm::RSA_OAEP_SHA384 => Some(48),
        Algorithm::RSA_OAEP_SHA512 => Some(64),
        _ => None,
    }
}

/// Splits `wrapped || label_hash`: the label hash has the OAEP hash's length, so an
/// unknown OAEP algorithm cannot be split.
fn split_label_hash<'a>(
    rest: &'a [u8],
    oaep: Algorithm,
    what: &'static str,
) -> Result<(&'a [u8], &'a [u8]), DecodeError> {
    let len = oaep_hash_len(oaep).ok_or(DecodeError::invalid(what))?;
    match rest.len().checked_sub(len) {
        Some(at) if at > 0 => Ok(rest.split_at(at)),
        _ => Err(DecodeError::bad_length(what, rest.len())),
    }
}

/// PUT_PUBLIC_WRAP_KEY (73): hdr + delegated(8) + modulus → id. The algorithm is
/// rsa2048/3072/4096 and the modulus has its size (checked for those three); the public
/// exponent is 65537 and is not sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutPublicWrapKey {
    pub header: ObjectHeader,
    /// Capabilities an object exported under this key may have.
    pub delegated: Capabilities,
    /// The RSA modulus, big-endian, the algorithm's size.
    pub modulus: Vec<u8>,
}

id_response! {
    /// The answer to [`PutPublicWrapKey`].
    PutPublicWrapKeyResponse, "put-public-wrap-key"
}

impl Command for PutPublicWrapKey {
    const CODE: CommandCode = CommandCode::PUT_PUBLIC_WRAP_KEY;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = PutPublicWrapKeyResponse;

    fn encode(&self, w: &mut Writer) {
        self.header.encode(w);
        w.u64(self.delegated.0).bytes(&self.modulus);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let header = ObjectHeader::read(&mut r, &header_names!("put-public-wrap-key"))?;
        let delegated = Capabilities(r.u64("put-public-wrap-key: delegated capabilities")?);
        let modulus = non_empty_rest(&mut r, "put-public-wrap-key: modulus")?;
        if header.algorithm.rsa_modulus_size().is_some_and(|n| n != modulus.len()) {
            return Err(DecodeError::bad_length("put-public-wrap-key: modulus", modulus.len()));
        }
        Ok(Self { header, delegated, modulus: modulus.to_vec() })
    }

    fn check_response(&self, response: &PutPublicWrapKeyResponse) -> Result<(), DecodeError> {
        check_created_id(self.header.id, response.id, "put-public-wrap-key response: id")
    }
}

/// The answer to [`GetRsaWrappedKey`] and [`ExportRsaWrapped`]:
/// `RSA-OAEP(ephemeral AES key) || AES-KWP(payload)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsaWrapped {
    pub wrapped: Vec<u8>,
}

impl Response for RsaWrapped {
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.wrapped);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        // At least a 2048-bit OAEP block and the two semiblocks of AES-KWP.
        if data.len() < 256 + 16 {
            return Err(DecodeError::bad_length("rsa-wrapped response", data.len()));
        }
        Ok(Self { wrapped: data.to_vec() })
    }
}

/// Declares a request `wrap_id(2) type(1) id(2) aes(1) oaep(1) mgf1(1) label_hash` that
/// exports an object under a public wrap key.
macro_rules! rsa_export_request {
    ($(#[$meta:meta])* $name:ident, $code:ident, $cmd:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            /// The public wrap key.
            pub wrap_id: ObjectId,
            pub object_type: ObjectType,
            pub id: ObjectId,
            /// The ephemeral AES key: aes128, aes192 or aes256.
            pub aes: Algorithm,
            /// The OAEP hash: rsa-oaep-sha1/256/384/512.
            pub oaep: Algorithm,
            /// The MGF1 hash: mgf1-sha1/256/384/512.
            pub mgf1: Algorithm,
            /// The hash of the OAEP label, with the OAEP hash (empty label: the hash of
            /// nothing).
            pub label_hash: Vec<u8>,
        }

        impl Command for $name {
            const CODE: CommandCode = CommandCode::$code;
            const REPEATABLE: bool = false;
            const MUTATING: bool = true;
            type Response = RsaWrapped;

            fn encode(&self, w: &mut Writer) {
                w.u16(self.wrap_id)
                    .u8(self.object_type.0)
                    .u16(self.id)
                    .u8(self.aes.0)
                    .u8(self.oaep.0)
                    .u8(self.mgf1.0)
                    .bytes(&self.label_hash);
            }

            fn decode(data: &[u8]) -> Result<Self, DecodeError> {
                let mut r = Reader::new(data);
                let wrap_id = r.u16(concat!($cmd, ": wrap key id"))?;
                let object_type = ObjectType(r.u8(concat!($cmd, ": type"))?);
                let id = r.u16(concat!($cmd, ": id"))?;
                let aes = Algorithm(r.u8(concat!($cmd, ": aes algorithm"))?);
                let oaep = Algorithm(r.u8(concat!($cmd, ": oaep algorithm"))?);
                let mgf1 = Algorithm(r.u8(concat!($cmd, ": mgf1 algorithm"))?);
                let label_hash = r.rest();
                let expected =
                    oaep_hash_len(oaep).ok_or(DecodeError::invalid(concat!($cmd, ": oaep algorithm")))?;
                if label_hash.len() != expected {
                    return Err(DecodeError::bad_length(
                        concat!($cmd, ": label hash"),
                        label_hash.len(),
                    ));
                }
                Ok(Self { wrap_id, object_type, id, aes, oaep, mgf1, label_hash: label_hash.to_vec() })
            }
        }
    };
}

rsa_export_request! {
    /// GET_RSA_WRAPPED_KEY (74): the key material only of an asymmetric or symmetric key
    /// (python-yubihsm's `export_raw_key`: asymmetric keys as PKCS#8, symmetric keys as
    /// raw bytes), wrapped under a public wrap key.
    GetRsaWrappedKey, GET_RSA_WRAPPED_KEY, "get-rsa-wrapped-key"
}

rsa_export_request! {
    /// EXPORT_RSA_WRAPPED (76): a whole object (metadata included) wrapped under a public
    /// wrap key.
    ExportRsaWrapped, EXPORT_RSA_WRAPPED, "export-rsa-wrapped"
}

/// PUT_RSA_WRAPPED_KEY (75): `wrap_id(2) type(1) hdr oaep(1) mgf1(1) wrapped label_hash`
/// → `type(1) id(2)`. Key material from [`GetRsaWrappedKey`] becomes a new asymmetric or
/// symmetric key with the metadata given here, unwrapped with an RSA wrap key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutRsaWrappedKey {
    /// The RSA wrap key (a wrap key of algorithm rsa2048/3072/4096).
    pub wrap_id: ObjectId,
    pub object_type: ObjectType,
    pub header: ObjectHeader,
    pub oaep: Algorithm,
    pub mgf1: Algorithm,
    pub wrapped: Vec<u8>,
    pub label_hash: Vec<u8>,
}

impl Command for PutRsaWrappedKey {
    const CODE: CommandCode = CommandCode::PUT_RSA_WRAPPED_KEY;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = ImportWrappedResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.wrap_id).u8(self.object_type.0);
        self.header.encode(w);
        w.u8(self.oaep.0).u8(self.mgf1.0).bytes(&self.wrapped).bytes(&self.label_hash);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let wrap_id = r.u16("put-rsa-wrapped-key: wrap key id")?;
        let object_type = ObjectType(r.u8("put-rsa-wrapped-key: type")?);
        let header = ObjectHeader::read(&mut r, &header_names!("put-rsa-wrapped-key"))?;
        let oaep = Algorithm(r.u8("put-rsa-wrapped-key: oaep algorithm")?);
        let mgf1 = Algorithm(r.u8("put-rsa-wrapped-key: mgf1 algorithm")?);
        let (wrapped, label_hash) =
            split_label_hash(r.rest(), oaep, "put-rsa-wrapped-key: wrapped key")?;
        Ok(Self {
            wrap_id,
            object_type,
            header,
            oaep,
            mgf1,
            wrapped: wrapped.to_vec(),
            label_hash: label_hash.to_vec(),
        })
    }

    fn check_response(&self, response: &ImportWrappedResponse) -> Result<(), DecodeError> {
        if response.object_type != self.object_type {
            return Err(DecodeError::invalid("put-rsa-wrapped-key response: type"));
        }
        check_created_id(self.header.id, response.id, "put-rsa-wrapped-key response: id")
    }

    /// RSA-wrapped key material; the layout is not needed to hide it, so all of it goes.
    fn secret_in_request(_data: &[u8]) -> Redact {
        Redact::From(0)
    }
}

/// IMPORT_RSA_WRAPPED (77): `wrap_id(2) oaep(1) mgf1(1) wrapped label_hash` →
/// `type(1) id(2)`. An object from [`ExportRsaWrapped`], unwrapped with an RSA wrap key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportRsaWrapped {
    pub wrap_id: ObjectId,
    pub oaep: Algorithm,
    pub mgf1: Algorithm,
    pub wrapped: Vec<u8>,
    pub label_hash: Vec<u8>,
}

impl Command for ImportRsaWrapped {
    const CODE: CommandCode = CommandCode::IMPORT_RSA_WRAPPED;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = ImportWrappedResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.wrap_id)
            .u8(self.oaep.0)
            .u8(self.mgf1.0)
            .bytes(&self.wrapped)
            .bytes(&self.label_hash);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let wrap_id = r.u16("import-rsa-wrapped: wrap key id")?;
        let oaep = Algorithm(r.u8("import-rsa-wrapped: oaep algorithm")?);
        let mgf1 = Algorithm(r.u8("import-rsa-wrapped: mgf1 algorithm")?);
        let (wrapped, label_hash) =
            split_label_hash(r.rest(), oaep, "import-rsa-wrapped: wrapped object")?;
        Ok(Self { wrap_id, oaep, mgf1, wrapped: wrapped.to_vec(), label_hash: label_hash.to_vec() })
    }

    /// As put-rsa-wrapped-key: all of it.
    fn secret_in_request(_data: &[u8]) -> Redact {
        Redact::From(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{Domains, Label};
    use alloc::vec;

    fn header(algorithm: Algorithm) -> ObjectHeader {
        ObjectHeader {
            id: 0x10,
            label: Label::from_bytes(b"w").unwrap(),
            domains: Domains(1),
            capabilities: Capabilities::EXPORT_WRAPPED,
            algorithm,
        }
    }

    #[test]
    fn round_trips_public_wrap_keys_and_checks_the_modulus_size() {
        let req = PutPublicWrapKey {
            header: header(Algorithm::RSA2048),
            delegated: Capabilities::EXPORTABLE_UNDER_WRAP,
            modulus: vec![0xc5; 256],
        };
        let data = req.to_data();
        assert_eq!(data.len(), 53 + 8 + 256);
        assert_eq!(&data[53..61], &(1u64 << 16).to_be_bytes());
        assert_eq!(PutPublicWrapKey::decode(&data).unwrap(), req);
        let err = PutPublicWrapKey::decode(&data[..data.len() - 1]).unwrap_err();
        assert_eq!(err, DecodeError::bad_length("put-public-wrap-key: modulus", 255));
        assert!(PutPublicWrapKey::decode(&data[..61]).is_err());
    }

    #[test]
    fn round_trips_exports_in_python_yubihsms_layout() {
        let req = ExportRsaWrapped {
            wrap_id: 0x0102,
            object_type: ObjectType::ASYMMETRIC_KEY,
            id: 0x0304,
            aes: Algorithm::AES256,
            oaep: Algorithm::RSA_OAEP_SHA256,
            mgf1: Algorithm::MGF1_SHA256,
            label_hash: vec![0xee; 32],
        };
        let data = req.to_data();
        assert_eq!(&data[..8], &[1, 2, 3, 3, 4, 52, 26, 33]);
        assert_eq!(ExportRsaWrapped::decode(&data).unwrap(), req);
        assert_eq!(
            ExportRsaWrapped::decode(&data[..data.len() - 1]).unwrap_err().what,
            "export-rsa-wrapped: label hash"
        );
        let mut unknown = data.to_vec();
        unknown[6] = Algorithm::RSA_PKCS1_SHA256.0;
        assert_eq!(
            GetRsaWrappedKey::decode(&unknown).unwrap_err().what,
            "get-rsa-wrapped-key: oaep algorithm"
        );
    }

    #[test]
    fn splits_the_label_hash_by_the_oaep_hash_length() {
        let req = PutRsaWrappedKey {
            wrap_id: 7,
            object_type: ObjectType::SYMMETRIC_KEY,
            header: header(Algorithm::AES256),
            oaep: Algorithm::RSA_OAEP_SHA1,
            mgf1: Algorithm::MGF1_SHA1,
            wrapped: vec![1; 296],
            label_hash: vec![2; 20],
        };
        let data = req.to_data();
        assert_eq!(data.len(), 2 + 1 + 53 + 2 + 296 + 20);
        assert_eq!(PutRsaWrappedKey::decode(&data).unwrap(), req);
        let import = ImportRsaWrapped {
            wrap_id: 7,
            oaep: Algorithm::RSA_OAEP_SHA512,
            mgf1: Algorithm::MGF1_SHA256,
            wrapped: vec![3; 400],
            label_hash: vec![4; 64],
        };
        assert_eq!(ImportRsaWrapped::decode(&import.to_data()).unwrap(), import);
        // Nothing but a label hash: no wrapped data.
        assert!(ImportRsaWrapped::decode(&[0, 7, 26, 33, 0, 0]).is_err());
        assert!(ImportRsaWrapped::decode(&[0, 7, 26, 33]).is_err());
    }

    #[test]
    fn put_rsa_wrapped_key_checks_the_answered_type_and_id() {
        let req = PutRsaWrappedKey {
            wrap_id: 7,
            object_type: ObjectType::ASYMMETRIC_KEY,
            header: header(Algorithm::ECP256),
            oaep: Algorithm::RSA_OAEP_SHA256,
            mgf1: Algorithm::MGF1_SHA256,
            wrapped: vec![1; 300],
            label_hash: vec![2; 32],
        };
        let ok = ImportWrappedResponse { object_type: ObjectType::ASYMMETRIC_KEY, id: 0x10 };
        assert!(req.check_response(&ok).is_ok());
        let other = ImportWrappedResponse { object_type: ObjectType::SYMMETRIC_KEY, id: 0x10 };
        assert!(req.check_response(&other).is_err());
        assert!(req.check_response(&ImportWrappedResponse { id: 0x11, ..ok }).is_err());
    }
}
