//! The protocol crate built without P-256 arithmetic (the auditor's minimal build):
//! ecp256 keys still unwrap, with their point taken as it is (no d·G check, which the
//! restore replaces with a byte comparison against the device's public key), and asking
//! for a computed point is an error naming the feature.
//!
//! Compiled only without the feature `p256`; `.ci/run` runs it through
//! `bash tests/minimal/run.sh`:
//! `cargo test -p yhsm-proto --no-default-features --test without_p256`.

#![cfg(not(feature = "p256"))]
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::fs;

use serde_json::Value;
use yhsm_proto::wrap::{self, Body, CHECKS_P256_PUBLIC_KEYS, WrapKey, WrappedObject};
use yhsm_proto::{Algorithm, ObjectType};

/// vectors/wrapped/ec_p256.json: the wrap key, the blob yubihsm-wrap made and its body.
fn vector() -> (WrapKey, Vec<u8>, Vec<u8>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/wrapped/ec_p256.json");
    let v: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let hex = |field: &Value| hex::decode(field.as_str().unwrap()).unwrap();
    let key = WrapKey::new(&hex(&v["wrap_key"]["hex"])).unwrap();
    let blob = wrap::decode_text(v["yhw_base64"].as_str().unwrap().as_bytes()).unwrap();
    (key, blob, hex(&v["body_hex"]))
}

#[test]
fn an_ecp256_vector_unwraps_with_its_public_key() {
    let (key, blob, body) = vector();
    let object = wrap::unwrap(&key, &blob).unwrap();
    assert_eq!(object.header.algorithm, Algorithm::ECP256);
    assert_eq!(object.public_key().unwrap(), body[32..]);
    assert_eq!(*object.body.to_bytes(), body);
}

/// What the d·G check would refuse is accepted here, as the build says
/// (`CHECKS_P256_PUBLIC_KEYS`): the restore's comparison of the device's public key with
/// these bytes is what catches it (cli/src/verify.rs).
#[test]
fn a_point_that_is_not_d_g_is_kept_as_it_is() {
    const { assert!(!CHECKS_P256_PUBLIC_KEYS) };
    let (key, blob, body) = vector();
    let mut object = wrap::unwrap(&key, &blob).unwrap();
    let mut tampered = body.clone();
    tampered[95] ^= 1;
    object.body = Body::decode(ObjectType::ASYMMETRIC_KEY, Algorithm::ECP256, &tampered).unwrap();
    let rewrapped = wrap::wrap(&key, [7; 13], &object).unwrap();
    let back: WrappedObject = wrap::unwrap(&key, &rewrapped).unwrap();
    assert_eq!(back.public_key().unwrap(), tampered[32..]);
    assert_ne!(back.public_key().unwrap(), body[32..]);
}

#[test]
fn computing_a_p256_point_is_an_error_naming_the_feature() {
    let (_, _, body) = vector();
    let e = Body::ec_from_private(Algorithm::ECP256, &body[..32]).unwrap_err();
    let message = e.to_string();
    assert!(message.contains("`p256`"), "{message}");
    assert!(message.contains("give x and y"), "{message}");
    // With the point given, the key is made as on every other curve.
    let ec = Body::ec(Algorithm::ECP256, &body[..32], &body[32..64], &body[64..]).unwrap();
    assert_eq!(*ec.to_bytes(), body);
}
