//! Attestation through the device (SIGN_ATTESTATION_CERTIFICATE and opaque object 0):
//! access control, the template certificate, and the device attestation key and
//! certificate, made once, kept through reset and in the state file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail by panicking"
)]

mod common;

use common::*;
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};
use yhsm_proto::command::{
    AuthenticationKey, GenerateAsymmetricKey, GetOpaque, PutAsymmetricKey, PutAuthenticationKey,
    PutOpaque, SignAttestationCertificate,
};
use yhsm_proto::frame::{CommandCode, ErrorCode};
use yhsm_proto::secret::SecretBytes;
use yhsm_proto::{Algorithm, Capabilities, Domains, Label};
use yhsm_sim::{Device, state};

const ATTEST: Capabilities = Capabilities::SIGN_ATTESTATION_CERTIFICATE;

fn generate(s: &mut Session, dev: &mut Device, id: u16, domains: u16, caps: Capabilities) {
    let req = GenerateAsymmetricKey { header: header(id, "k", domains, caps, Algorithm::ECP256) };
    s.call(dev, &req).unwrap();
}

/// An authentication key `id` with the factory password, in `domains`, with `caps`.
fn put_auth_key(s: &mut Session, dev: &mut Device, id: u16, domains: u16, caps: Capabilities) {
    let keys = factory_keys();
    let key = AuthenticationKey::Symmetric { enc: keys.enc.clone(), mac: keys.mac.clone() };
    let req = PutAuthenticationKey::new(
        id,
        Label::default(),
        Domains(domains),
        caps,
        Capabilities::NONE,
        key,
    );
    s.call(dev, &req).unwrap();
}

fn attest(s: &mut Session, dev: &mut Device, key_id: u16, by: u16) -> Result<Vec<u8>, ErrorCode> {
    let req = SignAttestationCertificate { key_id, attesting_key_id: by };
    s.call(dev, &req).map(|r| r.certificate)
}

#[test]
fn attests_with_the_device_key_and_serves_its_certificate_as_opaque_0() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    generate(&mut s, &mut dev, 0x10, 1, Capabilities::SIGN_ECDSA);
    let der = attest(&mut s, &mut dev, 0x10, 0).unwrap();
    let cert = Certificate::from_der(&der).unwrap();
    let device_cert = s.call(&mut dev, &GetOpaque { id: 0 }).unwrap().data;
    assert_eq!(device_cert, dev.device_attestation().unwrap().certificate());
    let device_cert = Certificate::from_der(&device_cert).unwrap();
    assert_eq!(cert.tbs_certificate().issuer(), device_cert.tbs_certificate().subject());
    assert_eq!(cert.tbs_certificate().subject().to_string(), "CN=YubiHSM Attestation id 0x0010");
    // Two attestations of one key differ (a random serial), both of the same key.
    let again = Certificate::from_der(&attest(&mut s, &mut dev, 0x10, 0).unwrap()).unwrap();
    assert_ne!(again.tbs_certificate().serial_number(), cert.tbs_certificate().serial_number());
    assert_eq!(
        again.tbs_certificate().subject_public_key_info().to_der().unwrap(),
        cert.tbs_certificate().subject_public_key_info().to_der().unwrap()
    );
}

#[test]
fn a_user_attesting_key_needs_its_capability_and_a_certificate_under_its_id() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    generate(&mut s, &mut dev, 0x10, 1, Capabilities::SIGN_ECDSA);
    // The attesting key without the capability, then with it but no certificate.
    generate(&mut s, &mut dev, 0x20, 1, Capabilities::SIGN_ECDSA);
    assert_eq!(attest(&mut s, &mut dev, 0x10, 0x20), Err(ErrorCode::INSUFFICIENT_PERMISSIONS));
    let put = PutAsymmetricKey {
        header: header(0x21, "attester", 1, ATTEST, Algorithm::ECP256),
        key: SecretBytes::new(vec![0x42; 32]),
    };
    s.call(&mut dev, &put).unwrap();
    assert_eq!(attest(&mut s, &mut dev, 0x10, 0x21), Err(ErrorCode::OBJECT_NOT_FOUND));
    // An opaque object that is not a certificate.
    let junk = PutOpaque {
        header: header(0x21, "t", 1, Capabilities::NONE, Algorithm::OPAQUE_X509_CERTIFICATE),
        data: b"not a certificate".to_vec(),
    };
    s.call(&mut dev, &junk).unwrap();
    assert_eq!(attest(&mut s, &mut dev, 0x10, 0x21), Err(ErrorCode::INVALID_DATA));
    s.send(&mut dev, CommandCode::DELETE_OBJECT, &[0, 0x21, 1]).unwrap();
    // With a certificate (any: its subject and validity are what count), it signs.
    let template = dev.device_attestation().unwrap().certificate().to_vec();
    let cert = PutOpaque {
        header: header(0x21, "t", 1, Capabilities::NONE, Algorithm::OPAQUE_X509_CERTIFICATE),
        data: template,
    };
    s.call(&mut dev, &cert).unwrap();
    let der = attest(&mut s, &mut dev, 0x10, 0x21).unwrap();
    assert!(Certificate::from_der(&der).is_ok());
    // The attested key must be an asymmetric key the session sees.
    assert_eq!(attest(&mut s, &mut dev, 0x99, 0x21), Err(ErrorCode::OBJECT_NOT_FOUND));
    generate(&mut s, &mut dev, 0x11, 2, Capabilities::NONE);
    put_auth_key(&mut s, &mut dev, 2, 1, ATTEST);
    let mut other = open(&mut dev, 2, &factory_keys()).unwrap();
    assert_eq!(attest(&mut other, &mut dev, 0x11, 0x21), Err(ErrorCode::OBJECT_NOT_FOUND));
    assert_eq!(attest(&mut other, &mut dev, 0x10, 0x21).map(|_| ()), Ok(()));
    // A session key without the capability.
    put_auth_key(&mut s, &mut dev, 3, 1, Capabilities::GET_OPAQUE);
    let mut weak = open(&mut dev, 3, &factory_keys()).unwrap();
    assert_eq!(attest(&mut weak, &mut dev, 0x10, 0), Err(ErrorCode::INSUFFICIENT_PERMISSIONS));
    // Bad lengths.
    assert_eq!(
        s.send(&mut dev, CommandCode::SIGN_ATTESTATION_CERTIFICATE, &[0, 0x10, 0]),
        Err(ErrorCode::WRONG_LENGTH)
    );
}

#[test]
fn the_device_attestation_is_made_once_and_survives_reset_and_the_state_file() {
    let (mut dev, _) = device();
    let cert = dev.device_attestation().unwrap().certificate().to_vec();
    assert!(dev.take_changed(), "a new attestation key is a change to save");
    assert_eq!(dev.device_attestation().unwrap().certificate(), cert);
    assert!(!dev.take_changed());
    // A reset keeps it: it is the device's, not the user's.
    let mut s = open_factory(&mut dev);
    s.send(&mut dev, CommandCode::RESET_DEVICE, &[]).unwrap();
    assert_eq!(dev.device_attestation().unwrap().certificate(), cert);

    let dir = std::env::temp_dir().join(format!("yhsm-sim-attestation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("device.state");
    state::save(&dev, &path).unwrap();
    let mut back = state::load(&path).unwrap();
    assert_eq!(back.device_attestation().unwrap().certificate(), cert);
    assert!(!back.take_changed(), "loaded, not made again");

    // A state file from before the attestation existed loads, and makes one when needed.
    let (fresh, _) = device();
    let old = state::encode(&fresh);
    let mut loaded = state::decode(&old).unwrap();
    assert_ne!(loaded.device_attestation().unwrap().certificate(), cert);

    // A damaged attestation section is a corrupt file, whatever part is hit: its tag, the
    // key, the length, the certificate's structure, its signature.
    let bytes = state::encode(&dev);
    let start = bytes.len() - (1 + 32 + 2 + cert.len());
    for at in [start, start + 1, start + 32, start + 33, start + 40, bytes.len() - 1] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x01;
        std::fs::write(&path, &bad).unwrap();
        let err = state::load(&path).unwrap_err().to_string();
        assert!(err.contains("corrupt"), "byte {at}: {err}");
    }
    let mut short = bytes.clone();
    short.truncate(bytes.len() - 1);
    std::fs::write(&path, &short).unwrap();
    assert!(state::load(&path).unwrap_err().to_string().contains("corrupt"));
    std::fs::remove_dir_all(&dir).unwrap();
}
