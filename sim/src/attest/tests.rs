//! Attestation certificates read back with x509-cert and checked field by field, signatures
//! checked with the `p256` and `rsa` crates; python-yubihsm's `test_attestation` and the
//! interop suite check the same with pyca/cryptography.

use chacha20::ChaCha20Rng;
use der::asn1::{BitString, OctetString};
use der::{Decode, Encode};
use rand_core::SeedableRng;
use x509_cert::Certificate;
use x509_cert::der::asn1::ObjectIdentifier;
use yhsm_proto::wrap::Body;
use yhsm_proto::{Algorithm, Capabilities, Domains, Label, Origin};

use super::*;
use crate::keys::{self, rsa};

const DEVICE: DeviceIdentity = DeviceIdentity { version: (2, 4, 0), serial: 1_000_001 };

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::from_seed([42; 32])
}

/// The raw value inside extension `oid` (its extnValue's contents).
fn ext_value(cert: &Certificate, oid: &str) -> Vec<u8> {
    let oid = ObjectIdentifier::new(oid).unwrap();
    let ext = cert
        .tbs_certificate()
        .extensions()
        .unwrap()
        .iter()
        .find(|e| e.extn_id == oid)
        .unwrap_or_else(|| panic!("extension {oid}"));
    assert!(!ext.critical);
    ext.extn_value.as_bytes().to_vec()
}

/// The RSA test key made by OpenSSL (tests/data/rsa_keys.json), as a body.
fn rsa2048() -> Body {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rsa_keys.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let key = &json["keys"][0];
    let pq = [key["p"].as_str().unwrap(), key["q"].as_str().unwrap()].concat();
    rsa::from_primes(Algorithm::RSA2048, &hex::decode(pq).unwrap()).unwrap()
}

/// Checks the certificate's signature with the attester's public key.
fn verify(cert: &Certificate, alg: Algorithm, body: &Body) {
    use ecdsa::signature::hazmat::PrehashVerifier;
    let tbs = cert.tbs_certificate().to_der().unwrap();
    let digest = <Sha256 as Digest>::digest(&tbs);
    let sig = cert.signature().raw_bytes();
    match alg {
        Algorithm::ECP256 => {
            let Body::Ec { x, y, .. } = body else { panic!("not EC") };
            let vk =
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&[&[4][..], x, y].concat()).unwrap();
            let sig = p256::ecdsa::DerSignature::from_bytes(sig).unwrap();
            vk.verify_prehash(&digest, &sig).unwrap();
            assert_eq!(cert.signature_algorithm().oid.to_string(), "1.2.840.10045.4.3.2");
        }
        Algorithm::RSA2048 => {
            let n = body.public_key().unwrap();
            let public = ::rsa::PublicKey::new(
                ::rsa::BoxedUint::from_be_slice_vartime(&n),
                ::rsa::BoxedUint::from(65537u64),
            )
            .unwrap();
            public.verify(::rsa::pkcs1v15::Pkcs1v15Sign::new::<Sha256>(), &digest, sig).unwrap();
            assert_eq!(cert.signature_algorithm().oid.to_string(), "1.2.840.113549.1.1.11");
        }
        other => panic!("no verifier for {other}"),
    }
}

#[test]
fn attests_every_key_type_with_yubicos_fields() {
    let mut rng = rng();
    let device = DeviceAttestation::generate(DEVICE, &mut rng).unwrap();
    let template = Certificate::from_der(device.certificate()).unwrap();
    let rsa_key = rsa2048();
    let mut keys: Vec<(Algorithm, Body)> = [
        Algorithm::ECP224,
        Algorithm::ECP256,
        Algorithm::ECP384,
        Algorithm::ECP521,
        Algorithm::ECK256,
        Algorithm::ECBP256,
        Algorithm::ECBP384,
        Algorithm::ECBP512,
        Algorithm::ED25519,
    ]
    .into_iter()
    .map(|alg| (alg, keys::asymmetric_generate(alg, &mut rng).unwrap()))
    .collect();
    keys.push((Algorithm::RSA2048, rsa_key.clone()));
    // Both kinds of attesting key: the device's (EC) and an RSA key with a template.
    let rsa_attester = Attester {
        algorithm: Algorithm::RSA2048,
        body: &rsa_key,
        certificate: device.certificate(),
    };
    for attester in [device.attester(), rsa_attester] {
        for (i, (alg, body)) in keys.iter().enumerate() {
            let id = 0x0100 + u16::try_from(i).unwrap();
            let key = Attested {
                id,
                algorithm: *alg,
                label: Label::from_bytes(b"Test Attestation").unwrap(),
                domains: Domains(0x8001),
                capabilities: Capabilities(0x8000_0000_0000_0001),
                origin: Origin(0x11),
                body,
            };
            let der = attest(&key, &attester, DEVICE, &mut rng).unwrap();
            let cert = Certificate::from_der(&der).unwrap();
            let tbs = cert.tbs_certificate();
            assert_eq!(tbs.version(), Version::V3);
            assert_eq!(tbs.serial_number().as_bytes().len(), 16);
            assert_eq!(tbs.issuer(), template.tbs_certificate().subject(), "{alg}");
            assert_eq!(tbs.validity(), template.tbs_certificate().validity());
            assert_eq!(tbs.subject().to_string(), format!("CN=YubiHSM Attestation id 0x{id:04x}"));
            assert_eq!(tbs.subject_public_key_info(), &public_key_info(*alg, body).unwrap());
            // Yubico's extensions, as python-yubihsm reads them: the value's bytes after
            // tag and length, big-endian.
            assert_eq!(ext_value(&cert, "1.3.6.1.4.1.41482.4.1"), [4, 3, 2, 4, 0]);
            assert_eq!(ext_value(&cert, "1.3.6.1.4.1.41482.4.2"), [2, 3, 0x0f, 0x42, 0x41]);
            assert_eq!(ext_value(&cert, "1.3.6.1.4.1.41482.4.3"), [3, 2, 0, 0x11]);
            assert_eq!(ext_value(&cert, "1.3.6.1.4.1.41482.4.4"), [3, 3, 0, 0x80, 0x01]);
            assert_eq!(
                ext_value(&cert, "1.3.6.1.4.1.41482.4.5"),
                [3, 9, 0, 0x80, 0, 0, 0, 0, 0, 0, 1]
            );
            let id_der = id.to_der().unwrap();
            assert_eq!(ext_value(&cert, "1.3.6.1.4.1.41482.4.6"), id_der);
            assert_eq!(ext_value(&cert, "1.3.6.1.4.1.41482.4.9"), b"\x0c\x10Test Attestation");
            verify(&cert, attester.algorithm, attester.body);
        }
    }
}

#[test]
fn the_public_key_is_the_attested_keys() {
    // An EC point and an RSA modulus, decoded back from the SPKI.
    let mut rng = rng();
    let body = keys::asymmetric_generate(Algorithm::ECP384, &mut rng).unwrap();
    let spki = public_key_info(Algorithm::ECP384, &body).unwrap();
    assert_eq!(
        spki.subject_public_key.raw_bytes(),
        [&[4][..], &body.public_key().unwrap()].concat()
    );
    let rsa_key = rsa2048();
    let spki = public_key_info(Algorithm::RSA2048, &rsa_key).unwrap();
    let n = rsa_key.public_key().unwrap();
    let rsa_der = spki.subject_public_key.raw_bytes();
    // SEQUENCE { INTEGER 00||n (the top bit is set), INTEGER 65537 }.
    assert_eq!(&rsa_der[..4], [0x30, 0x82, 0x01, 0x0a]);
    assert_eq!(&rsa_der[4..9], [0x02, 0x82, 0x01, 0x01, 0x00]);
    assert_eq!(&rsa_der[9..9 + 256], n.as_slice());
    assert_eq!(&rsa_der[9 + 256..], [0x02, 0x03, 0x01, 0x00, 0x01]);
}

#[test]
fn refuses_what_cannot_attest_or_be_attested() {
    let mut rng = rng();
    let device = DeviceAttestation::generate(DEVICE, &mut rng).unwrap();
    let ec = keys::asymmetric_generate(Algorithm::ECP256, &mut rng).unwrap();
    let ed = keys::asymmetric_generate(Algorithm::ED25519, &mut rng).unwrap();
    let key = |body| Attested {
        id: 1,
        algorithm: Algorithm::ECP256,
        label: Label::default(),
        domains: Domains(1),
        capabilities: Capabilities::NONE,
        origin: Origin::GENERATED,
        body,
    };
    // The template is not a certificate (or a truncated one).
    let cert = device.certificate();
    for bad in [&b"not a certificate"[..], &cert[..cert.len() - 1], &[]] {
        let attester = Attester { algorithm: Algorithm::ECP256, body: &ec, certificate: bad };
        assert_eq!(attest(&key(&ec), &attester, DEVICE, &mut rng), Err(ErrorCode::INVALID_DATA));
    }
    // An ed25519 key does not sign attestations.
    let attester = Attester { algorithm: Algorithm::ED25519, body: &ed, certificate: cert };
    assert_eq!(attest(&key(&ec), &attester, DEVICE, &mut rng), Err(ErrorCode::INVALID_DATA));
    // A key whose body is not its algorithm's.
    let mut wrong = key(&ed);
    wrong.algorithm = Algorithm::RSA2048;
    assert!(attest(&wrong, &device.attester(), DEVICE, &mut rng).is_err());
}

#[test]
fn the_device_certificate_is_self_signed_and_survives_a_round_trip() {
    let mut rng = rng();
    let device = DeviceAttestation::generate(DEVICE, &mut rng).unwrap();
    let cert = Certificate::from_der(device.certificate()).unwrap();
    let tbs = cert.tbs_certificate();
    assert_eq!(tbs.issuer(), tbs.subject());
    assert_eq!(tbs.subject().to_string(), "CN=YubiHSM Attestation (simulator serial 1000001)");
    assert_eq!(ext_value(&cert, "1.3.6.1.4.1.41482.4.1"), [4, 3, 2, 4, 0]);
    assert_eq!(ext_value(&cert, "1.3.6.1.4.1.41482.4.2"), [2, 3, 0x0f, 0x42, 0x41]);
    verify(&cert, Algorithm::ECP256, &device.key);
    // Same seed, same device; the saved parts rebuild it.
    assert_eq!(DeviceAttestation::generate(DEVICE, &mut self::rng()).unwrap(), device);
    let again =
        DeviceAttestation::from_parts(device.scalar(), device.certificate().to_vec()).unwrap();
    assert_eq!(again, device);
    // A certificate of another key, or not a certificate, is refused.
    let other = DeviceAttestation::generate(DEVICE, &mut rng).unwrap();
    assert!(DeviceAttestation::from_parts(device.scalar(), other.certificate().to_vec()).is_err());
    assert!(DeviceAttestation::from_parts(device.scalar(), vec![0x30, 0]).is_err());
    assert!(DeviceAttestation::from_parts(&[0; 32], device.certificate().to_vec()).is_err());
}

#[test]
fn extension_values_are_the_der_python_yubihsm_slices() {
    // python-yubihsm reads an integer as `value[2:]` big-endian: check the encodings it
    // relies on (a one-byte tag and length, no sign byte lost).
    assert_eq!(
        BitString::from_bytes(&[0xff, 0xff]).unwrap().to_der().unwrap(),
        [3, 3, 0, 0xff, 0xff]
    );
    assert_eq!(OctetString::new([2, 4, 0]).unwrap().to_der().unwrap(), [4, 3, 2, 4, 0]);
    assert_eq!(0xffffu16.to_der().unwrap(), [2, 3, 0, 0xff, 0xff]);
    assert_eq!(u32::MAX.to_der().unwrap(), [2, 5, 0, 0xff, 0xff, 0xff, 0xff]);
}

#[test]
fn openssl_verifies_an_attestation_under_the_device_certificate() {
    use crate::test_support::{Scratch, openssl};
    let mut rng = rng();
    let device = DeviceAttestation::generate(DEVICE, &mut rng).unwrap();
    let body = keys::asymmetric_generate(Algorithm::ECBP512, &mut rng).unwrap();
    let key = Attested {
        id: 0x64,
        algorithm: Algorithm::ECBP512,
        label: Label::from_bytes(b"bp512").unwrap(),
        domains: Domains(1),
        capabilities: Capabilities::SIGN_ECDSA,
        origin: Origin::GENERATED,
        body: &body,
    };
    let att = attest(&key, &device.attester(), DEVICE, &mut rng).unwrap();
    let dir = Scratch::new("attest");
    let path = |f: &str| dir.path(f).to_str().unwrap().to_owned();
    std::fs::write(dir.path("ca.der"), device.certificate()).unwrap();
    std::fs::write(dir.path("att.der"), &att).unwrap();
    if openssl(&["x509", "-inform", "DER", "-in", &path("ca.der"), "-out", &path("ca.pem")])
        .is_none()
    {
        return;
    }
    openssl(&["x509", "-inform", "DER", "-in", &path("att.der"), "-out", &path("att.pem")])
        .unwrap();
    let verified = openssl(&["verify", "-CAfile", &path("ca.pem"), &path("att.pem")]).unwrap();
    assert!(String::from_utf8_lossy(&verified).contains("OK"));
    let text = openssl(&["x509", "-in", &path("att.pem"), "-noout", "-text"]).unwrap();
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("Subject: CN = YubiHSM Attestation id 0x0064"), "{text}");
    assert!(text.contains("ASN1 OID: brainpoolP512r1"), "{text}");
    assert!(text.contains("1.3.6.1.4.1.41482.4.9"), "{text}");
}
