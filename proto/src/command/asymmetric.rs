//! Asymmetric key commands (docs/PROTOCOL.md §7 "Commands and their payloads"): put-asymmetric-key,
//! generate-asymmetric-key, get-public-key, sign-ecdsa, sign-eddsa, derive-ecdh and
//! sign-attestation-certificate. The RSA operations are in `rsa`.

use alloc::vec::Vec;

use super::{
    Command, ObjectHeader, Redact, Response, check_created_id, header_names, id_response,
    key_and_data_request, non_empty_rest,
};
use crate::codec::{DecodeError, Reader, Writer};
use crate::frame::CommandCode;
use crate::object::{Algorithm, ObjectId, ObjectType};
use crate::secret::SecretBytes;

/// PUT_ASYMMETRIC_KEY (45): hdr + private key → id. EC: the private scalar (field size);
/// ed25519: the 32-byte seed; RSA: `p || q`.
///
/// The decoder only requires a non-empty key: whether its length suits the algorithm is
/// the device's call (a simulator can use [`PutAsymmetricKey::expected_key_len`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutAsymmetricKey {
    pub header: ObjectHeader,
    pub key: SecretBytes,
}

impl PutAsymmetricKey {
    /// The private-key length `algorithm` calls for, if it is an asymmetric key algorithm.
    pub fn expected_key_len(algorithm: Algorithm) -> Option<usize> {
        match algorithm {
            Algorithm::ED25519 => Some(32),
            a => a.ec_field_size().or_else(|| a.rsa_modulus_size()),
        }
    }
}

id_response! {
    /// The answer to [`PutAsymmetricKey`].
    PutAsymmetricKeyResponse, "put-asymmetric-key"
}

impl Command for PutAsymmetricKey {
    const CODE: CommandCode = CommandCode::PUT_ASYMMETRIC_KEY;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = PutAsymmetricKeyResponse;

    fn encode(&self, w: &mut Writer) {
        self.header.encode(w);
        w.bytes(self.key.expose_secret());
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let header = ObjectHeader::read(&mut r, &header_names!("put-asymmetric-key"))?;
        let key = SecretBytes::from_slice(non_empty_rest(&mut r, "put-asymmetric-key: key")?);
        Ok(Self { header, key })
    }

    fn check_response(&self, response: &PutAsymmetricKeyResponse) -> Result<(), DecodeError> {
        check_created_id(self.header.id, response.id, "put-asymmetric-key response: id")
    }

    fn secret_in_request(_data: &[u8]) -> Redact {
        Redact::From(ObjectHeader::LEN)
    }
}

/// GENERATE_ASYMMETRIC_KEY (46): hdr → id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GenerateAsymmetricKey {
    pub header: ObjectHeader,
}

id_response! {
    /// The answer to [`GenerateAsymmetricKey`].
    GenerateAsymmetricKeyResponse, "generate-asymmetric-key"
}

impl Command for GenerateAsymmetricKey {
    const CODE: CommandCode = CommandCode::GENERATE_ASYMMETRIC_KEY;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = GenerateAsymmetricKeyResponse;

    fn encode(&self, w: &mut Writer) {
        self.header.encode(w);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let header = ObjectHeader::read(&mut r, &header_names!("generate-asymmetric-key"))?;
        r.finish("generate-asymmetric-key")?;
        Ok(Self { header })
    }

    fn check_response(&self, response: &GenerateAsymmetricKeyResponse) -> Result<(), DecodeError> {
        check_created_id(self.header.id, response.id, "generate-asymmetric-key response: id")
    }
}

/// GET_PUBLIC_KEY (54): `id(2) [type(1)]` → `algorithm(1) key`.
///
/// Without a type the device looks up an asymmetric key. python-yubihsm appends the type
/// byte to read the public half of a wrap key or public wrap key (newer firmware).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GetPublicKey {
    pub id: ObjectId,
    pub object_type: Option<ObjectType>,
}

impl GetPublicKey {
    /// The public key of asymmetric key `id` (the 2-byte form).
    pub const fn asymmetric(id: ObjectId) -> Self {
        Self { id, object_type: None }
    }
}

/// The answer to [`GetPublicKey`]. EC keys are `X || Y` without the 0x04 prefix, ed25519
/// keys the 32-byte point, RSA keys the modulus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    pub algorithm: Algorithm,
    pub key: Vec<u8>,
}

impl PublicKey {
    /// The key length `algorithm` calls for, if this crate knows it.
    pub fn expected_len(algorithm: Algorithm) -> Option<usize> {
        match algorithm {
            Algorithm::ED25519 => Some(32),
            a => a.ec_field_size().map(|n| 2 * n).or_else(|| a.rsa_modulus_size()),
        }
    }
}

impl Command for GetPublicKey {
    const CODE: CommandCode = CommandCode::GET_PUBLIC_KEY;
    const REPEATABLE: bool = true;
    const MUTATING: bool = false;
    type Response = PublicKey;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.id);
        if let Some(t) = self.object_type {
            w.u8(t.0);
        }
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let id = r.u16("get-public-key: id")?;
        let object_type =
            if r.is_empty() { None } else { Some(ObjectType(r.u8("get-public-key: type")?)) };
        r.finish("get-public-key")?;
        Ok(Self { id, object_type })
    }
}

impl Response for PublicKey {
    fn encode(&self, w: &mut Writer) {
        w.u8(self.algorithm.0).bytes(&self.key);
    }

    /// Known algorithms must come with exactly their key length; unknown ones (newer
    /// firmware) with at least one byte.
    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let algorithm = Algorithm(r.u8("get-public-key response: algorithm")?);
        let key = non_empty_rest(&mut r, "get-public-key response: key")?;
        if Self::expected_len(algorithm).is_some_and(|n| n != key.len()) {
            return Err(DecodeError::bad_length("get-public-key response: key", key.len()));
        }
        Ok(Self { algorithm, key: key.to_vec() })
    }
}

/// SIGN_ECDSA (56): `key_id(2) digest` → DER signature. The digest is sent as computed
/// (left-padded or truncated to the curve size by the caller if it wishes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignEcdsa {
    pub key_id: ObjectId,
    pub digest: Vec<u8>,
}

/// The answer to [`SignEcdsa`]: a DER `SEQUENCE { r INTEGER, s INTEGER }`. Only the outer
/// length is checked here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignEcdsaResponse {
    pub signature: Vec<u8>,
}

impl Command for SignEcdsa {
    const CODE: CommandCode = CommandCode::SIGN_ECDSA;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = SignEcdsaResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.key_id).bytes(&self.digest);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let key_id = r.u16("sign-ecdsa: key id")?;
        let digest = non_empty_rest(&mut r, "sign-ecdsa: digest")?.to_vec();
        Ok(Self { key_id, digest })
    }
}

/// Whether `der` is one DER SEQUENCE whose length field matches its size. ECDSA signatures
/// up to P-521 need at most the one-byte long form (`81 len`).
fn is_der_sequence(der: &[u8]) -> bool {
    match der {
        [0x30, len, body @ ..] if *len < 0x80 => body.len() == usize::from(*len),
        [0x30, 0x81, len, body @ ..] if *len >= 0x80 => body.len() == usize::from(*len),
        _ => false,
    }
}

impl Response for SignEcdsaResponse {
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.signature);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        if !is_der_sequence(data) {
            return Err(DecodeError::bad_length("sign-ecdsa response", data.len()));
        }
        Ok(Self { signature: data.to_vec() })
    }
}

/// SIGN_EDDSA (6a): `key_id(2) message` → a 64-byte ed25519 signature. The message is
/// signed as it is (ed25519 hashes it itself) and may be empty (RFC 8032, test 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignEddsa {
    pub key_id: ObjectId,
    pub message: Vec<u8>,
}

/// The answer to [`SignEddsa`]: `R || S`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignEddsaResponse {
    pub signature: [u8; 64],
}

impl Command for SignEddsa {
    const CODE: CommandCode = CommandCode::SIGN_EDDSA;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = SignEddsaResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.key_id).bytes(&self.message);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let key_id = r.u16("sign-eddsa: key id")?;
        Ok(Self { key_id, message: r.rest().to_vec() })
    }
}

impl Response for SignEddsaResponse {
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.signature);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let signature = data
            .try_into()
            .map_err(|_| DecodeError::bad_length("sign-eddsa response", data.len()))?;
        Ok(Self { signature })
    }
}

key_and_data_request! {
    /// DERIVE_ECDH (57): `key_id(2) point` → the x coordinate of the shared point. The
    /// peer's public point is uncompressed (`04 || X || Y`).
    DeriveEcdh { point: Vec<u8> },
    /// The answer to [`DeriveEcdh`]: the shared secret (the curve's field size).
    DeriveEcdhResponse { shared_secret: SecretBytes },
    DERIVE_ECDH, "derive-ecdh", repeatable: false, mutating: true,
    secret_in_response: Redact::From(0),
}

/// SIGN_ATTESTATION_CERTIFICATE (64): `key_id(2) attesting_key_id(2)` → an X.509
/// certificate (DER) for the asymmetric key `key_id`, signed by the asymmetric key
/// `attesting_key_id` with the certificate stored as opaque object `attesting_key_id` as
/// template; `attesting_key_id` 0 is the device's own attestation key (docs/PROTOCOL.md
/// §7.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignAttestationCertificate {
    pub key_id: ObjectId,
    pub attesting_key_id: ObjectId,
}

/// The answer to [`SignAttestationCertificate`]: one DER SEQUENCE (only its outer length
/// is checked here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignAttestationCertificateResponse {
    pub certificate: Vec<u8>,
}

impl Command for SignAttestationCertificate {
    const CODE: CommandCode = CommandCode::SIGN_ATTESTATION_CERTIFICATE;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = SignAttestationCertificateResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.key_id).u16(self.attesting_key_id);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let key_id = r.u16("sign-attestation-certificate: key id")?;
        let attesting_key_id = r.u16("sign-attestation-certificate: attesting key id")?;
        r.finish("sign-attestation-certificate")?;
        Ok(Self { key_id, attesting_key_id })
    }
}

impl Response for SignAttestationCertificateResponse {
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.certificate);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        // A certificate needs the two-byte long form of the length (`82 hi lo`).
        let fits = match data {
            [0x30, 0x82, hi, lo, body @ ..] => {
                *hi != 0 && body.len() == usize::from(u16::from_be_bytes([*hi, *lo]))
            }
            _ => is_der_sequence(data),
        };
        if !fits {
            return Err(DecodeError::bad_length(
                "sign-attestation-certificate response",
                data.len(),
            ));
        }
        Ok(Self { certificate: data.to_vec() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn knows_key_lengths_per_algorithm() {
        assert_eq!(PutAsymmetricKey::expected_key_len(Algorithm::ECP256), Some(32));
        assert_eq!(PutAsymmetricKey::expected_key_len(Algorithm::ECP521), Some(66));
        assert_eq!(PutAsymmetricKey::expected_key_len(Algorithm::ED25519), Some(32));
        assert_eq!(PutAsymmetricKey::expected_key_len(Algorithm::RSA2048), Some(256));
        assert_eq!(PutAsymmetricKey::expected_key_len(Algorithm::AES128), None);
        assert_eq!(PublicKey::expected_len(Algorithm::ECP384), Some(96));
        assert_eq!(PublicKey::expected_len(Algorithm::ECP224), Some(56));
        assert_eq!(PublicKey::expected_len(Algorithm::RSA4096), Some(512));
        assert_eq!(PublicKey::expected_len(Algorithm(0xc8)), None);
    }

    #[test]
    fn checks_public_key_lengths_for_known_algorithms() {
        let mut data = vec![Algorithm::ECP256.0];
        data.extend_from_slice(&[9; 64]);
        assert_eq!(PublicKey::decode(&data).unwrap().key.len(), 64);
        data.push(0);
        assert_eq!(
            PublicKey::decode(&data).unwrap_err(),
            DecodeError::bad_length("get-public-key response: key", 65)
        );
        assert_eq!(PublicKey::decode(&[0xc8, 1, 2, 3]).unwrap().key, [1, 2, 3]);
        assert!(PublicKey::decode(&[0xc8]).is_err());
    }

    #[test]
    fn the_type_byte_of_get_public_key_is_optional() {
        assert_eq!(GetPublicKey::asymmetric(0x10).to_data().as_slice(), &[0, 0x10]);
        let wrap = GetPublicKey { id: 0x10, object_type: Some(ObjectType::WRAP_KEY) };
        assert_eq!(wrap.to_data().as_slice(), &[0, 0x10, 4]);
        assert_eq!(GetPublicKey::decode(&[0, 0x10, 4]).unwrap(), wrap);
        assert!(GetPublicKey::decode(&[0, 0x10, 4, 0]).is_err());
    }

    #[test]
    fn checks_the_der_length_of_signatures() {
        assert!(SignEcdsaResponse::decode(&[0x30, 2, 5, 0]).is_ok());
        assert!(SignEcdsaResponse::decode(&[0x30, 3, 5, 0]).is_err());
        assert!(SignEcdsaResponse::decode(&[0x31, 2, 5, 0]).is_err());
        assert!(SignEcdsaResponse::decode(&[]).is_err());
        let mut long = vec![0x30, 0x81, 0x88];
        long.extend_from_slice(&[0; 0x88]);
        assert!(SignEcdsaResponse::decode(&long).is_ok());
        // The long form for a short length is not DER.
        assert!(SignEcdsaResponse::decode(&[0x30, 0x81, 2, 5, 0]).is_err());
    }

    #[test]
    fn round_trips_attestation_requests_and_checks_the_certificate_length() {
        let req = SignAttestationCertificate { key_id: 0x0102, attesting_key_id: 0 };
        assert_eq!(req.to_data().as_slice(), &[1, 2, 0, 0]);
        assert_eq!(SignAttestationCertificate::decode(&req.to_data()), Ok(req));
        for len in 0..4 {
            assert!(SignAttestationCertificate::decode(&req.to_data()[..len]).is_err());
        }
        assert!(SignAttestationCertificate::decode(&[1, 2, 0, 0, 0]).is_err());

        let mut cert = vec![0x30, 0x82, 0x01, 0x00];
        cert.extend_from_slice(&[0; 0x100]);
        let answer = SignAttestationCertificateResponse::decode(&cert).unwrap();
        assert_eq!(answer.to_data().as_slice(), cert.as_slice());
        for len in [0, 1, 4, cert.len() - 1] {
            assert!(SignAttestationCertificateResponse::decode(&cert[..len]).is_err(), "{len}");
        }
        let mut longer = cert.clone();
        longer.push(0);
        assert!(SignAttestationCertificateResponse::decode(&longer).is_err());
        // Not a SEQUENCE; the long form with a leading zero length byte.
        assert!(SignAttestationCertificateResponse::decode(&[0x31, 0]).is_err());
        assert!(SignAttestationCertificateResponse::decode(&[0x30, 0x82, 0, 1, 5]).is_err());
    }
}
