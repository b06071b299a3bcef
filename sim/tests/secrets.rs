//! Secrets in the simulator (see SECURITY.md "How it is checked"): `Debug` of the device,
//! with keys of every kind stored and a session open, shows no key material; HMAC
//! verification compares in constant time (`ct_eq` sees the MAC it refuses). That stored
//! objects keep their keys in proto's zeroizing bodies is the lint `tests/lint`.
//!
//! The simulator is a test tool: its state file holds every key in the clear by design
//! (see `state.rs`); what is checked here is that nothing leaks through `Debug` or the
//! wire.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::expect_used,
    reason = "tests, and test helpers outside #[test] functions"
)]

mod common;

use std::path::Path;

use common::{device, factory_keys, header, open_factory, raw};
use yhsm_proto::command::{
    AuthenticationKey, GetPseudoRandom, ImportWrapped, PutAsymmetricKey, PutAuthenticationKey,
    PutHmacKey, PutWrapKey,
};
use yhsm_proto::frame::CommandCode;
use yhsm_proto::secret::audit::{comparisons, saw};
use yhsm_proto::{Algorithm, Capabilities, Domains, Label, SecretArray, SecretBytes};
use yhsm_sim::SharedDevice;
use yhsm_test_support::leaks::{self, assert_debug_hides, marker, marker_array};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors");

#[test]
fn the_device_debug_shows_no_key_material() {
    let (mut dev, _clock) = device();
    let mut s = open_factory(&mut dev);
    let all = Capabilities::ALL;

    let wrap_key = marker(0x70, 32);
    s.call(
        &mut dev,
        &PutWrapKey {
            header: header(0x10, "wrap", 1, all, Algorithm::AES256_CCM_WRAP),
            delegated: all,
            key: SecretBytes::new(wrap_key.clone()),
        },
    )
    .unwrap();
    // A P-256 scalar below the group order.
    let mut d = marker(0x71, 32);
    d[0] = 0x7f;
    s.call(
        &mut dev,
        &PutAsymmetricKey {
            header: header(0x21, "ec", 1, all, Algorithm::ECP256),
            key: SecretBytes::new(d.clone()),
        },
    )
    .unwrap();
    let hmac = marker(0x72, 32);
    s.call(
        &mut dev,
        &PutHmacKey {
            header: header(0x30, "hmac", 1, all, Algorithm::HMAC_SHA256),
            key: SecretBytes::new(hmac.clone()),
        },
    )
    .unwrap();
    let (enc, mac) = (marker_array::<16>(0x73), marker_array::<16>(0x74));
    s.call(
        &mut dev,
        &PutAuthenticationKey::new(
            2,
            Label::default(),
            Domains(1),
            all,
            all,
            AuthenticationKey::Symmetric { enc: SecretArray::new(enc), mac: SecretArray::new(mac) },
        ),
    )
    .unwrap();
    // An ed25519 key from Yubico's vector, imported under a key `00 01 .. 1f`.
    let vector_key: Vec<u8> = (0u8..32).collect();
    s.call(
        &mut dev,
        &PutWrapKey {
            header: header(0x11, "vector wrap", 1, all, Algorithm::AES256_CCM_WRAP),
            delegated: all,
            key: SecretBytes::new(vector_key.clone()),
        },
    )
    .unwrap();
    let text = std::fs::read(Path::new(VECTORS).join("wrapped/ed25519.yhw")).unwrap();
    let blob = yhsm_proto::wrap::decode_text(&text).unwrap();
    let object =
        yhsm_proto::wrap::unwrap(&yhsm_proto::wrap::WrapKey::new(&vector_key).unwrap(), &blob)
            .unwrap();
    let yhsm_proto::wrap::Body::Ed25519 { scalar, prefix, .. } = &object.body else {
        panic!("the vector is an ed25519 key");
    };
    s.call(&mut dev, &ImportWrapped { wrap_id: 0x11, blob }).unwrap();
    // Random bytes go out sealed; the device keeps no copy.
    let random = s.call(&mut dev, &GetPseudoRandom { len: 32 }).unwrap();

    let factory = factory_keys();
    let secrets: Vec<&[u8]> = vec![
        &wrap_key,
        &d,
        &hmac,
        &enc,
        &mac,
        &vector_key,
        scalar.expose_secret(),
        prefix.expose_secret(),
        random.bytes.expose_secret(),
        factory.enc.expose_secret(),
        factory.mac.expose_secret(),
    ];
    // With the session still open (its keys are inside the device).
    assert_debug_hides("Device", &dev, &secrets);
    for o in dev.store().iter() {
        assert_debug_hides("stored object", o, &secrets);
    }
    let shared = SharedDevice::new(dev);
    assert_debug_hides("SharedDevice", &shared, &secrets);
}

#[test]
fn the_factory_password_is_not_in_the_device_debug() {
    let (dev, _clock) = device();
    assert_debug_hides("Device", &dev, &[b"password"]);
}

#[test]
fn a_plain_answer_carries_no_session_secret() {
    // Outside a session only public data goes out: device info, public key, echo.
    let (mut dev, _clock) = device();
    let factory = factory_keys();
    for request in [&[0x06, 0, 0][..], &[0x0a, 0, 0], &[0x01, 0, 2, 1, 2]] {
        let answer = raw(&mut dev, request);
        let text = format!("{answer:?}");
        leaks::assert_hidden("plain answer", &text, factory.enc.expose_secret());
        leaks::assert_hidden("plain answer", &text, factory.mac.expose_secret());
    }
}

#[test]
fn hmac_verification_compares_in_constant_time() {
    let (mut dev, _clock) = device();
    let mut s = open_factory(&mut dev);
    let key = marker(0x75, 32);
    s.call(
        &mut dev,
        &PutHmacKey {
            header: header(0x31, "hmac", 1, Capabilities::ALL, Algorithm::HMAC_SHA256),
            key: SecretBytes::new(key.clone()),
        },
    )
    .unwrap();
    let message = b"verify me";
    let mac =
        s.send(&mut dev, CommandCode::SIGN_HMAC, &[&[0, 0x31][..], message].concat()).unwrap();
    let verify = |s: &mut common::Session, dev: &mut yhsm_sim::Device, mac: &[u8]| {
        s.send(dev, CommandCode::VERIFY_HMAC, &[&[0, 0x31][..], mac, message].concat()).unwrap()
    };
    assert_eq!(verify(&mut s, &mut dev, &mac), [1]);
    let mut wrong = mac.clone();
    wrong[31] ^= 0x01;
    let (answer, seen) = comparisons(|| verify(&mut s, &mut dev, &wrong));
    assert_eq!(answer, [0], "a wrong MAC verified");
    assert!(saw(&seen, &wrong), "the MAC was not compared with ct_eq");
}
