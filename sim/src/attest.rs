//! Attestation certificates (SIGN_ATTESTATION_CERTIFICATE, docs/PROTOCOL.md §7.5; Yubico's
//! "Attestation" concept page and OID reference, checked by python-yubihsm's
//! `test_attestation` and libyubihsm's `attest` example).
//!
//! An attestation is an X.509 v3 certificate for an asymmetric key of the device, signed by
//! an attesting key: one of the user's asymmetric keys with sign-attestation-certificate and
//! an X.509 certificate stored as an opaque object under the same id (its "template"), or
//! the device's own attestation key (id 0). As the device makes it:
//! - the public key is the attested key's;
//! - the serial number is a random 16-byte positive integer;
//! - the issuer is the template's subject, the validity the template's;
//! - the subject is `CN=YubiHSM Attestation id 0x` and the attested id (four hex digits);
//! - an RSA attesting key signs with SHA-256 and PKCS#1 v1.5, an EC key with ECDSA-SHA256;
//! - extensions under 1.3.6.1.4.1.41482.4 carry the firmware version (.1, OCTET STRING),
//!   the device serial (.2, INTEGER), and the key's origin (.3), domains (.4) and
//!   capabilities (.5) as big-endian BIT STRINGs, its id (.6, INTEGER) and label (.9,
//!   UTF8String).
//!
//! The device attestation key stands for the one a real device carries from the factory
//! (whose certificate Yubico's CA signs): here an EC P-256 key made from the simulator's
//! RNG the first time it is needed, with a self-signed certificate carrying the firmware and
//! serial extensions. It survives reset and is kept in the state file; the certificate is
//! readable as opaque object 0, as on a device.

use der::asn1::{AnyRef, BitString, Null, ObjectIdentifier, OctetString};
use der::{DateTime, Decode, Encode, Sequence, Tag};
use sha2::{Digest, Sha256};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, Version};
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::wrap::Body;
use yhsm_proto::{Algorithm, Capabilities, Domains, Label, ObjectId, Origin};

use chacha20::ChaCha20Rng;
use rand_core::Rng as _;

use crate::keys::{self, rsa};

const OID_FIRMWARE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.41482.4.1");
const OID_SERIAL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.41482.4.2");
const OID_ORIGIN: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.41482.4.3");
const OID_DOMAINS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.41482.4.4");
const OID_CAPABILITIES: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.41482.4.5");
const OID_OBJECT_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.41482.4.6");
const OID_LABEL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.41482.4.9");

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");

/// What an attestation says about the attested key.
#[derive(Clone, Copy, Debug)]
pub struct Attested<'a> {
    pub id: ObjectId,
    pub algorithm: Algorithm,
    pub label: Label,
    pub domains: Domains,
    pub capabilities: Capabilities,
    pub origin: Origin,
    pub body: &'a Body,
}

/// The key that signs an attestation and the certificate whose subject and validity the
/// attestation takes.
#[derive(Clone, Copy, Debug)]
pub struct Attester<'a> {
    pub algorithm: Algorithm,
    pub body: &'a Body,
    pub certificate: &'a [u8],
}

/// The device's identity as the extensions carry it.
#[derive(Clone, Copy, Debug)]
pub struct DeviceIdentity {
    pub version: (u8, u8, u8),
    pub serial: u32,
}

/// TBSCertificate (RFC 5280 §4.1), v3 with extensions, as this module writes it.
#[derive(Clone, Debug, Sequence)]
struct Tbs {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    version: Version,
    serial_number: SerialNumber,
    signature: AlgorithmIdentifierOwned,
    issuer: Name,
    validity: Validity,
    subject: Name,
    subject_public_key_info: SubjectPublicKeyInfoOwned,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT")]
    extensions: Vec<Extension>,
}

/// Certificate (RFC 5280 §4.1) around an already encoded TBSCertificate.
#[derive(Clone, Debug, Sequence)]
struct SignedCertificate<'a> {
    tbs_certificate: AnyRef<'a>,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
}

/// Any failure to read or write DER, or to verify, is invalid data.
fn invalid<E>(_: E) -> ErrorCode {
    ErrorCode::INVALID_DATA
}

/// An attestation certificate for `key`, signed by `attester`.
pub fn attest(
    key: &Attested<'_>,
    attester: &Attester<'_>,
    device: DeviceIdentity,
    rng: &mut ChaCha20Rng,
) -> Result<Vec<u8>, ErrorCode> {
    let template = Certificate::from_der(attester.certificate).map_err(invalid)?;
    let subject = format!("CN=YubiHSM Attestation id 0x{:04x}", key.id);
    let mut extensions = device_extensions(device)?;
    let label_len = key.label.0.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    let label = key.label.0.get(..label_len).unwrap_or_default();
    extensions.extend([
        extension(OID_ORIGIN, &BitString::from_bytes(&[key.origin.0]).map_err(invalid)?)?,
        extension(
            OID_DOMAINS,
            &BitString::from_bytes(&key.domains.0.to_be_bytes()).map_err(invalid)?,
        )?,
        extension(
            OID_CAPABILITIES,
            &BitString::from_bytes(&key.capabilities.0.to_be_bytes()).map_err(invalid)?,
        )?,
        extension(OID_OBJECT_ID, &key.id)?,
        // A label is 40 bytes the host chose: written as they are, UTF-8 or not.
        extension(OID_LABEL, &AnyRef::new(Tag::Utf8String, label).map_err(invalid)?)?,
    ]);
    let tbs = Tbs {
        version: Version::V3,
        serial_number: random_serial(rng)?,
        signature: signature_algorithm(attester.algorithm)?,
        issuer: template.tbs_certificate().subject().clone(),
        validity: *template.tbs_certificate().validity(),
        subject: subject.parse().map_err(invalid)?,
        subject_public_key_info: public_key_info(key.algorithm, key.body)?,
        extensions,
    };
    sign(&tbs, attester.algorithm, attester.body, rng)
}

/// The extensions of every certificate the device makes: firmware version and serial.
fn device_extensions(device: DeviceIdentity) -> Result<Vec<Extension>, ErrorCode> {
    let (major, minor, patch) = device.version;
    Ok(vec![
        extension(OID_FIRMWARE, &OctetString::new([major, minor, patch]).map_err(invalid)?)?,
        extension(OID_SERIAL, &device.serial)?,
    ])
}

fn extension(oid: ObjectIdentifier, value: &impl Encode) -> Result<Extension, ErrorCode> {
    let extn_value = OctetString::new(value.to_der().map_err(invalid)?).map_err(invalid)?;
    Ok(Extension { extn_id: oid, critical: false, extn_value })
}

/// A random positive 16-byte serial number (the top bit clear, the next one set so that it
/// is always 16 bytes long).
fn random_serial(rng: &mut ChaCha20Rng) -> Result<SerialNumber, ErrorCode> {
    let mut serial = [0u8; 16];
    rng.fill_bytes(&mut serial);
    serial[0] = (serial[0] & 0x7f) | 0x40;
    SerialNumber::new(&serial).map_err(invalid)
}

/// The signature algorithm of an attesting key: ECDSA-SHA256 or SHA-256 with PKCS#1 v1.5.
fn signature_algorithm(alg: Algorithm) -> Result<AlgorithmIdentifierOwned, ErrorCode> {
    if alg.ec_field_size().is_some() {
        Ok(AlgorithmIdentifierOwned { oid: OID_ECDSA_SHA256, parameters: None })
    } else if alg.rsa_modulus_size().is_some() {
        Ok(AlgorithmIdentifierOwned { oid: OID_RSA_SHA256, parameters: Some(Null.into()) })
    } else {
        Err(ErrorCode::INVALID_DATA)
    }
}

/// SubjectPublicKeyInfo of an asymmetric key (RFC 5480, RFC 8410, RFC 8017).
pub fn public_key_info(
    alg: Algorithm,
    body: &Body,
) -> Result<SubjectPublicKeyInfoOwned, ErrorCode> {
    let public = body.public_key().ok_or(ErrorCode::INVALID_DATA)?;
    // The body must be of the algorithm's kind and size.
    let fits = match body {
        Body::Ec { .. } => alg.ec_field_size().map(|n| 2 * n) == Some(public.len()),
        Body::Ed25519 { .. } => alg == Algorithm::ED25519,
        Body::Rsa { .. } => alg.rsa_modulus_size() == Some(public.len()),
        _ => false,
    };
    if !fits {
        return Err(ErrorCode::INVALID_DATA);
    }
    let (algorithm, key) = if let Some(curve) = yhsm_keys::curve::oid(alg) {
        let params = der::asn1::Any::encode_from(&curve).map_err(invalid)?;
        let mut point = vec![0x04];
        point.extend_from_slice(&public);
        (AlgorithmIdentifierOwned { oid: OID_EC_PUBLIC_KEY, parameters: Some(params) }, point)
    } else if alg == Algorithm::ED25519 {
        (AlgorithmIdentifierOwned { oid: OID_ED25519, parameters: None }, public)
    } else if alg.rsa_modulus_size().is_some() {
        let rsa_key = RsaPublicKey {
            modulus: der::asn1::UintRef::new(&public).map_err(invalid)?,
            exponent: der::asn1::UintRef::new(&[1, 0, 1]).map_err(invalid)?,
        };
        let algorithm =
            AlgorithmIdentifierOwned { oid: OID_RSA_ENCRYPTION, parameters: Some(Null.into()) };
        (algorithm, rsa_key.to_der().map_err(invalid)?)
    } else {
        return Err(ErrorCode::INVALID_DATA);
    };
    let subject_public_key = BitString::from_bytes(&key).map_err(invalid)?;
    Ok(SubjectPublicKeyInfoOwned { algorithm, subject_public_key })
}

/// RSAPublicKey (RFC 8017 A.1.1).
#[derive(Clone, Debug, Sequence)]
struct RsaPublicKey<'a> {
    modulus: der::asn1::UintRef<'a>,
    exponent: der::asn1::UintRef<'a>,
}

/// Encodes `tbs`, signs it with the key `body` and returns the whole certificate.
fn sign(
    tbs: &Tbs,
    alg: Algorithm,
    body: &Body,
    rng: &mut ChaCha20Rng,
) -> Result<Vec<u8>, ErrorCode> {
    let tbs_der = tbs.to_der().map_err(invalid)?;
    let digest = Sha256::digest(&tbs_der);
    let signature = if alg.ec_field_size().is_some() {
        keys::sign_ecdsa(alg, body, &digest, rng)?
    } else if alg.rsa_modulus_size().is_some() {
        rsa::sign_pkcs1(alg, body, &digest, rng)?
    } else {
        return Err(ErrorCode::INVALID_DATA);
    };
    let cert = SignedCertificate {
        tbs_certificate: AnyRef::from_der(&tbs_der).map_err(invalid)?,
        signature_algorithm: tbs.signature.clone(),
        signature: BitString::from_bytes(&signature).map_err(invalid)?,
    };
    cert.to_der().map_err(invalid)
}

/// The device's own attestation key (EC P-256) and its self-signed certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceAttestation {
    key: Body,
    certificate: Vec<u8>,
}

impl DeviceAttestation {
    /// The algorithm of the device attestation key.
    pub const ALGORITHM: Algorithm = Algorithm::ECP256;

    /// A new key and its certificate, valid from 2024-01-01 without expiry (RFC 5280
    /// §4.1.2.5: 99991231235959Z), subject and issuer `CN=YubiHSM Attestation (simulator
    /// serial N)`, a CA (it issues the attestations).
    pub fn generate(device: DeviceIdentity, rng: &mut ChaCha20Rng) -> Result<Self, ErrorCode> {
        let key = keys::asymmetric_generate(Self::ALGORITHM, rng)?;
        let name: Name = format!("CN=YubiHSM Attestation (simulator serial {})", device.serial)
            .parse()
            .map_err(invalid)?;
        let not_before = DateTime::new(2024, 1, 1, 0, 0, 0).map_err(invalid)?;
        let validity = Validity::new(
            Time::UtcTime(der::asn1::UtcTime::from_date_time(not_before).map_err(invalid)?),
            Time::INFINITY,
        );
        let mut extensions = device_extensions(device)?;
        // BasicConstraints { cA TRUE }.
        let ca = OctetString::new([0x30, 0x03, 0x01, 0x01, 0xff]).map_err(invalid)?;
        extensions.push(Extension {
            extn_id: OID_BASIC_CONSTRAINTS,
            critical: true,
            extn_value: ca,
        });
        let tbs = Tbs {
            version: Version::V3,
            serial_number: random_serial(rng)?,
            signature: signature_algorithm(Self::ALGORITHM)?,
            issuer: name.clone(),
            validity,
            subject: name,
            subject_public_key_info: public_key_info(Self::ALGORITHM, &key)?,
            extensions,
        };
        let certificate = sign(&tbs, Self::ALGORITHM, &key, rng)?;
        Ok(Self { key, certificate })
    }

    /// Rebuilds a saved attestation identity (the state file): the private scalar and the
    /// certificate, which must be a certificate for that key.
    pub fn from_parts(scalar: &[u8], certificate: Vec<u8>) -> Result<Self, ErrorCode> {
        use ecdsa::signature::hazmat::PrehashVerifier;
        let key = keys::asymmetric_from_private(Self::ALGORITHM, scalar)?;
        let cert = Certificate::from_der(&certificate).map_err(invalid)?;
        let tbs = cert.tbs_certificate();
        if tbs.subject_public_key_info() != &public_key_info(Self::ALGORITHM, &key)? {
            return Err(ErrorCode::INVALID_DATA);
        }
        // Its self-signature must verify.
        let point = [&[4][..], &key.public_key().ok_or(ErrorCode::INVALID_DATA)?].concat();
        let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(invalid)?;
        let signature =
            p256::ecdsa::DerSignature::from_bytes(cert.signature().raw_bytes()).map_err(invalid)?;
        let digest = Sha256::digest(tbs.to_der().map_err(invalid)?);
        vk.verify_prehash(&digest, &signature).map_err(invalid)?;
        Ok(Self { key, certificate })
    }

    /// The private scalar (for the state file).
    pub fn scalar(&self) -> &[u8] {
        match &self.key {
            Body::Ec { d, .. } => d.expose_secret(),
            _ => &[],
        }
    }

    /// The certificate (DER).
    pub fn certificate(&self) -> &[u8] {
        &self.certificate
    }

    /// This key as an attester.
    pub fn attester(&self) -> Attester<'_> {
        Attester { algorithm: Self::ALGORITHM, body: &self.key, certificate: &self.certificate }
    }
}

#[cfg(test)]
mod tests;
