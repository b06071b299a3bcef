//! Secrets in proto (see SECURITY.md "How it is checked"):
//!
//! - `Debug` of every type that holds key material, a password or a share shows none of
//!   it (no `Display` is implemented on any of them), nor do the errors made from secret
//!   input;
//! - zeroization: the containers zeroize on drop (checked at compile time), and no
//!   secret-holding type keeps a raw byte buffer outside them except fields listed here as
//!   public (checked on the sources);
//! - MACs, cryptograms, receipts, tags and digests are compared with `ct_eq`, never `==`
//!   (checked on the sources).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail loudly on purpose"
)]

use std::path::{Path, PathBuf};

use yhsm_proto::command::{
    AuthenticationKey, ChangeAuthenticationKey, Command, GetPseudoRandom, ObjectHeader,
    PseudoRandom, PutAsymmetricKey, PutAuthenticationKey, PutHmacKey, PutWrapKey, Response,
};
use yhsm_proto::object::{Algorithm, Capabilities, Domains, Label, ObjectType};
use yhsm_proto::scp03::{
    self, AsymmetricClientHandshake, ClientHandshake, DeviceHandshake, SessionKeys, StaticKeys,
};
use yhsm_proto::shares::{self, Share, ShareFormat, WrapKeySecret};
use yhsm_proto::wrap::{self, Body, WrapHeader, WrapKey, WrappedObject};
use yhsm_proto::{SecretArray, SecretBytes};
use zeroize::{ZeroizeOnDrop, Zeroizing};

mod leaks;
use leaks::{assert_debug_hides, assert_hidden, is_check_value, marker, marker_array};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors");

#[test]
fn the_checker_finds_secrets_in_every_spelling() {
    let secret = marker(1, 8);
    let spellings = [
        format!("{secret:?}"),
        format!("{secret:#?}"),
        format!("{secret:02x?}"),
        hex::encode(&secret),
        hex::encode_upper(&secret),
        secret.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"),
    ];
    for text in spellings {
        let caught = std::panic::catch_unwind(|| assert_hidden("probe", &text, &secret));
        assert!(caught.is_err(), "missed {text}");
    }
    let password = b"Zq9!vK3#pW8$";
    let caught =
        std::panic::catch_unwind(|| assert_hidden("probe", "pw: \"Zq9!vK3#pW8$\"", password));
    assert!(caught.is_err());
    assert_hidden("probe", "SecretBytes(8 bytes, redacted)", &secret);
}

#[test]
fn secret_containers_redact() {
    let a = marker_array::<32>(2);
    assert_debug_hides("SecretArray", &SecretArray::new(a), &[&a]);
    let b = marker(3, 40);
    assert_debug_hides("SecretBytes", &SecretBytes::new(b.clone()), &[&b]);
    assert_debug_hides("Zeroizing<Vec<u8>>", &Zeroizing::new(b.clone()), &[&b]);
}

#[test]
fn scp03_keys_handshakes_and_sessions_redact() {
    let password = b"Zq9!vK3#pW8$marker";
    let from_password = StaticKeys::from_password(password);
    assert_debug_hides(
        "StaticKeys (password)",
        &from_password,
        &[password, from_password.enc.expose_secret(), from_password.mac.expose_secret()],
    );

    let (enc, mac) = (marker_array::<16>(4), marker_array::<16>(5));
    let keys = StaticKeys::new(SecretArray::new(enc), SecretArray::new(mac));
    let host = [0xa0; 8];
    let card = [0x0c; 8];
    let session_keys = keys.derive_session_keys(&host, &card);
    let session_secrets = |k: &SessionKeys| {
        [
            k.enc.expose_secret().to_vec(),
            k.mac.expose_secret().to_vec(),
            k.rmac.expose_secret().to_vec(),
        ]
    };
    let mut all: Vec<Vec<u8>> = vec![enc.to_vec(), mac.to_vec()];
    all.extend(session_secrets(&session_keys));
    let all: Vec<&[u8]> = all.iter().map(Vec::as_slice).collect();
    assert_debug_hides("StaticKeys", &keys, &all);
    assert_debug_hides("SessionKeys", &session_keys, &all);

    let client = ClientHandshake::new(1, &keys, host);
    assert_debug_hides("ClientHandshake", &client, &all);
    let (device, create) = DeviceHandshake::new(1, host, &keys, card, 7);
    assert_debug_hides("DeviceHandshake", &device, &all);
    let (authenticating, authenticate) = client.on_create_session_response(&create).unwrap();
    assert_debug_hides("Authenticating", &authenticating, &all);
    let (mut device, ok) = device.on_authenticate_request(&authenticate).unwrap();
    let mut client = authenticating.on_authenticate_response(&ok).unwrap();
    // After an exchange carrying a key in clear inside the session.
    let inner = PutWrapKey {
        header: header(Algorithm::AES128_CCM_WRAP),
        delegated: Capabilities::ALL,
        key: SecretBytes::new(marker(6, 16)),
    }
    .to_frame()
    .unwrap();
    let sealed = client.seal(&inner).unwrap();
    assert_eq!(device.open_command(&sealed).unwrap(), inner.as_slice());
    let answer = device.seal_response(&[0xcc, 0, 2, 0, 2]).unwrap();
    client.open(&answer).unwrap();
    let mut with_key = all.clone();
    let wrap_key = marker(6, 16);
    with_key.push(&wrap_key);
    assert_debug_hides("ClientSession", &client, &with_key);
    assert_debug_hides("DeviceSession", &device, &with_key);
}

#[test]
fn asymmetric_handshakes_redact_private_keys() {
    let client_secret = marker_array::<32>(0x10);
    let ephemeral = marker_array::<32>(0x20);
    let device_secret = SecretArray::new(marker_array::<32>(0x30));
    let hs = AsymmetricClientHandshake::new(
        3,
        &SecretArray::new(client_secret),
        &scp03::public_key(&device_secret).unwrap(),
        &SecretArray::new(ephemeral),
    )
    .unwrap();
    assert_debug_hides("AsymmetricClientHandshake", &hs, &[&client_secret, &ephemeral]);
}

fn header(algorithm: Algorithm) -> ObjectHeader {
    ObjectHeader {
        id: 0x0102,
        label: Label::from_bytes(b"secret test").unwrap(),
        domains: Domains(1),
        capabilities: Capabilities::ALL,
        algorithm,
    }
}

/// The secret parts of a body (what `Debug` must not show).
fn body_secrets(body: &Body) -> Vec<Vec<u8>> {
    match body {
        Body::AuthenticationKey { enc, mac, .. } => {
            vec![enc.expose_secret().to_vec(), mac.expose_secret().to_vec()]
        }
        Body::WrapKey { key, .. } | Body::Hmac { key, .. } => vec![key.expose_secret().to_vec()],
        Body::Ec { d, .. } => vec![d.expose_secret().to_vec()],
        Body::Ed25519 { seed, scalar, prefix, .. } => {
            let mut v = vec![scalar.expose_secret().to_vec(), prefix.expose_secret().to_vec()];
            v.extend(seed.iter().map(|s| s.expose_secret().to_vec()));
            v
        }
        Body::Rsa { p, q, dp, dq, qinv, .. } => {
            [p, q, dp, dq, qinv].iter().map(|s| s.expose_secret().to_vec()).collect()
        }
        Body::Raw(raw) => vec![raw.expose_secret().to_vec()],
        other => panic!("a body variant this test does not know: add it: {other:?}"),
    }
}

fn assert_body_hidden(what: &str, body: &Body) {
    let secrets = body_secrets(body);
    let secrets: Vec<&[u8]> = secrets.iter().map(Vec::as_slice).filter(|s| s.len() >= 4).collect();
    assert!(!secrets.is_empty(), "{what}: no secret to look for");
    assert_debug_hides(what, body, &secrets);
}

#[test]
fn every_body_variant_redacts_its_private_parts() {
    let seed = SecretArray::new(marker_array::<32>(0x40));
    let rsa_half = |s| marker(s, 128);
    let (p, q, dp, dq, qinv) = (rsa_half(1), rsa_half(2), rsa_half(3), rsa_half(4), rsa_half(5));
    let bodies = [
        Body::AuthenticationKey {
            delegated: Capabilities::ALL,
            enc: SecretArray::new(marker_array(0x41)),
            mac: SecretArray::new(marker_array(0x42)),
        },
        Body::authentication_key_from_password(Capabilities::ALL, b"Zq9!vK3#pW8$marker"),
        Body::WrapKey { delegated: Capabilities::ALL, key: SecretBytes::new(marker(0x43, 32)) },
        Body::ec_from_private(Algorithm::ECP256, &marker(0x44, 32)).unwrap(),
        Body::ed25519_from_seed(&seed, [9; 32]),
        Body::ed25519_from_seed_with_seed(&seed, [9; 32]),
        Body::rsa(Algorithm::RSA2048, [&p, &q, &dp, &dq, &qinv], &[0xc1; 256]).unwrap(),
        Body::hmac(Algorithm::HMAC_SHA256, &marker(0x45, 40)).unwrap(),
        Body::Raw(SecretBytes::new(marker(0x46, 48))),
    ];
    for body in &bodies {
        assert_body_hidden("Body", body);
    }
    // The password itself is not in the body either.
    assert_debug_hides("Body (password)", &bodies[1], &[b"Zq9!vK3#pW8$marker"]);
}

#[test]
fn unwrapped_vectors_and_wrap_keys_redact() {
    let dir = Path::new(VECTORS).join("wrapped");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yhw"))
        .collect();
    names.sort();
    assert!(names.len() >= 10);
    let key_bytes: Vec<u8> = (0u8..32).collect();
    for path in names {
        let blob = wrap::decode_text(&std::fs::read(&path).unwrap()).unwrap();
        let (key, object) = [16, 24, 32]
            .into_iter()
            .map(|n| WrapKey::new(&key_bytes[..n]).unwrap())
            .find_map(|k| wrap::unwrap(&k, &blob).ok().map(|o| (k, o)))
            .unwrap();
        let what = path.display().to_string();
        assert_debug_hides(&what, &key, &[key.expose_secret()]);
        let secrets = body_secrets(&object.body);
        let secrets: Vec<&[u8]> =
            secrets.iter().map(Vec::as_slice).filter(|s| s.len() >= 4).collect();
        assert_debug_hides(&what, &object, &secrets);
        // A wrong key: the error names neither key nor plaintext.
        let wrong = WrapKey::new(&marker(0x47, key.len())).unwrap();
        let err = wrap::unwrap(&wrong, &blob).unwrap_err();
        let text = format!("{err} {err:?}");
        assert_hidden(&what, &text, wrong.expose_secret());
        assert_hidden(&what, &text, key.expose_secret());
    }
}

#[test]
fn a_wrapped_object_made_here_redacts() {
    let key = WrapKey::new(&marker(0x48, 24)).unwrap();
    let body =
        Body::WrapKey { delegated: Capabilities::ALL, key: SecretBytes::new(marker(0x49, 16)) };
    let object = WrappedObject {
        header: WrapHeader {
            wrap_algorithm: key.algorithm(),
            capabilities: Capabilities::ALL,
            id: 5,
            length: 24,
            domains: Domains(1),
            object_type: ObjectType::WRAP_KEY,
            algorithm: Algorithm::AES128_CCM_WRAP,
            sequence: 0,
            origin: yhsm_proto::Origin::IMPORTED,
            label: Label::default(),
        },
        body,
    };
    let blob = wrap::wrap(&key, [1; 13], &object).unwrap();
    let back = wrap::unwrap(&key, &blob).unwrap();
    assert_debug_hides("WrappedObject", &back, &[&marker(0x49, 16), key.expose_secret()]);
}

#[test]
fn shares_and_recovered_secrets_redact() {
    let key = marker(0x50, 32);
    let secret = WrapKeySecret::new(
        0x1234,
        Domains(1),
        Capabilities::ALL,
        Capabilities::ALL,
        SecretBytes::new(key.clone()),
    )
    .unwrap();
    assert_debug_hides("WrapKeySecret", &secret, &[&key]);
    for format in ShareFormat::ALL {
        let rows = [marker(0x51, 52), marker(0x52, 52)];
        let list = shares::split_with_coefficients(&secret, &rows, 5, format).unwrap();
        for share in &list {
            let data = share.data().expose_secret().to_vec();
            let text = share.render();
            assert_debug_hides("Share", share, &[&data, text.as_bytes(), &key]);
        }
        let recovered = shares::combine(&list[..3]).unwrap();
        assert_debug_hides("Recovered", &recovered, &[&key]);
        // A mistyped share: the error names its position, not its text.
        let mut typo = list[1].render().to_string();
        typo.replace_range(10..11, "!");
        let err = Share::parse(&typo).unwrap_err();
        let text = format!("{err} {err:?}");
        assert_hidden("share error", &text, &typo.as_bytes()[4..]);
        // Shares that disagree: the error names the share, not its bytes.
        let mut other = list.clone();
        other[4] =
            shares::split_with_coefficients(&secret, &[marker(9, 52), marker(8, 52)], 5, format)
                .unwrap()
                .remove(4);
        let err = shares::combine(&other).unwrap_err();
        let text = format!("{err} {err:?}");
        for share in &other {
            assert_hidden("combine error", &text, share.data().expose_secret());
        }
        assert_hidden("combine error", &text, &key);
    }
}

#[test]
fn commands_carrying_keys_redact() {
    let key = marker(0x60, 32);
    let put_wrap = PutWrapKey {
        header: header(Algorithm::AES256_CCM_WRAP),
        delegated: Capabilities::ALL,
        key: SecretBytes::new(key.clone()),
    };
    assert_debug_hides("PutWrapKey", &put_wrap, &[&key]);
    assert_debug_hides("PutWrapKey data", &put_wrap.to_data(), &[&key]);
    assert_debug_hides("PutWrapKey frame", &put_wrap.to_frame().unwrap(), &[&key]);

    let (enc, mac) = (marker_array::<16>(0x61), marker_array::<16>(0x62));
    let auth =
        AuthenticationKey::Symmetric { enc: SecretArray::new(enc), mac: SecretArray::new(mac) };
    assert_debug_hides("AuthenticationKey", &auth, &[&enc, &mac]);
    let put_auth = PutAuthenticationKey::new(
        2,
        Label::default(),
        Domains(1),
        Capabilities(1),
        Capabilities(1),
        auth.clone(),
    );
    assert_debug_hides("PutAuthenticationKey", &put_auth, &[&enc, &mac]);
    let change = ChangeAuthenticationKey { key_id: 2, key: auth };
    assert_debug_hides("ChangeAuthenticationKey", &change, &[&enc, &mac]);

    let d = marker(0x63, 32);
    let put_asym =
        PutAsymmetricKey { header: header(Algorithm::ECP256), key: SecretBytes::new(d.clone()) };
    assert_debug_hides("PutAsymmetricKey", &put_asym, &[&d]);
    let hmac = marker(0x64, 32);
    let put_hmac =
        PutHmacKey { header: header(Algorithm::HMAC_SHA256), key: SecretBytes::new(hmac.clone()) };
    assert_debug_hides("PutHmacKey", &put_hmac, &[&hmac]);

    let random = marker(0x65, 32);
    let answer = PseudoRandom { bytes: SecretBytes::new(random.clone()) };
    assert_debug_hides("PseudoRandom", &answer, &[&random]);
    assert_debug_hides("PseudoRandom data", &answer.to_data(), &[&random]);
    let _ = GetPseudoRandom { len: 32 };

    // A key of the wrong length: the decode error names the field, not the bytes.
    let mut data = put_wrap.to_data().to_vec();
    data.push(0xee);
    let err = PutWrapKey::decode(&data).unwrap_err();
    assert_hidden("decode error", &format!("{err} {err:?}"), &key);
}

/// Compile-time: these types wipe their memory when dropped.
fn zeroize_on_drop<T: ZeroizeOnDrop>() {}

#[test]
fn secret_containers_zeroize_on_drop() {
    zeroize_on_drop::<SecretArray<16>>();
    zeroize_on_drop::<SecretArray<32>>();
    zeroize_on_drop::<SecretBytes>();
    zeroize_on_drop::<Zeroizing<Vec<u8>>>();
    zeroize_on_drop::<Zeroizing<String>>();
    zeroize_on_drop::<Zeroizing<[u8; 32]>>();
    // Third-party types that hold keys inside proto's own types.
    zeroize_on_drop::<p256::SecretKey>();
    zeroize_on_drop::<aes::Aes128>();
    zeroize_on_drop::<aes::Aes256>();
    // `Cmac` itself lacks the marker trait (cmac 0.8), but the core inside it that holds
    // the cipher and the MAC state has it; the block buffer wipes itself too.
    zeroize_on_drop::<cmac::block_api::CmacCore<aes::Aes128>>();
}

#[test]
fn secret_holders_keep_no_raw_byte_buffers() {
    // (file, type, fields that are raw bytes on purpose: public values, or wiped by a
    // `Drop` checked below). Any other `Vec<u8>`, `[u8; N]` or `String` field in these
    // types would be a secret left behind after drop.
    let holders: &[(&str, &str, &[&str])] = &[
        ("scp03/keys.rs", "StaticKeys", &[]),
        ("scp03/keys.rs", "SessionKeys", &[]),
        ("scp03/channel.rs", "Channel", &["chain"]),
        ("scp03/client.rs", "ClientHandshake", &["host_challenge"]),
        ("scp03/client.rs", "Authenticating", &[]),
        ("scp03/client.rs", "ClientSession", &[]),
        ("scp03/asymmetric.rs", "AsymmetricClientHandshake", &["epk_oce"]),
        ("scp03/device.rs", "DeviceHandshake", &["host_challenge", "card_challenge"]),
        ("scp03/device.rs", "DeviceSession", &[]),
        ("wrap/mod.rs", "WrapKey", &[]),
        ("wrap/mod.rs", "WrappedObject", &[]),
        ("wrap/body.rs", "Body", &["x", "y", "public", "n"]),
        ("shares/wrap_key.rs", "WrapKeySecret", &[]),
        ("shares/mod.rs", "Share", &[]),
        ("shares/mod.rs", "Recovered", &[]),
        ("command/auth.rs", "AuthenticationKey", &["x", "y"]),
        ("command/auth.rs", "PutAuthenticationKey", &[]),
        ("command/auth.rs", "ChangeAuthenticationKey", &[]),
        ("command/wrap.rs", "PutWrapKey", &[]),
        ("command/asymmetric.rs", "PutAsymmetricKey", &[]),
        ("command/hmac.rs", "PutHmacKey", &[]),
        ("command/symmetric.rs", "PutSymmetricKey", &[]),
        ("command/symmetric.rs", "EncryptCbc", &["iv"]),
        ("command/symmetric.rs", "DecryptCbcResponse", &[]),
        ("command/rsa.rs", "DecryptOaepResponse", &[]),
        ("command/otp.rs", "PutOtpAeadKey", &[]),
        ("command/otp.rs", "CreateOtpAead", &[]),
        ("command/device.rs", "PseudoRandom", &[]),
    ];
    leaks::assert_no_raw_buffers(Path::new(SRC), holders);
}

#[test]
fn the_self_wiping_types_zeroize_in_drop() {
    for (file, ty, field) in [
        ("secret.rs", "Drop for SecretArray<N>", "self.0.zeroize()"),
        ("secret.rs", "Drop for SecretBytes", "self.0.zeroize()"),
        ("scp03/channel.rs", "Drop for Channel", "self.chain.zeroize()"),
    ] {
        let text = std::fs::read_to_string(Path::new(SRC).join(file)).unwrap();
        let start = text.find(ty).unwrap_or_else(|| panic!("{file}: no {ty}"));
        let body = &text[start..start + text[start..].find("\n}").unwrap()];
        assert!(body.contains(field), "{file}: {ty} does not call {field}");
    }
}

#[test]
fn check_values_are_compared_in_constant_time() {
    // No `==` or `!=` between MACs, cryptograms, receipts, tags or digests.
    leaks::assert_no_plain_check_comparisons(Path::new(SRC));
    // And the places that must compare them do so with `ct_eq` (subtle). The CCM tag of
    // wrapped objects is checked inside the `ccm` crate, with subtle as well.
    for (file, at_least) in [
        ("secret.rs", 3),           // SecretArray, SecretBytes equality; ct_eq itself
        ("scp03/client.rs", 1),     // card cryptogram
        ("scp03/device.rs", 2),     // host cryptogram, authenticate MAC
        ("scp03/channel.rs", 2),    // C-MAC, R-MAC
        ("scp03/asymmetric.rs", 1), // receipt
        ("command/log.rs", 1),      // log digest chain
        ("wrap/body.rs", 3),        // EC public point, ed25519 prefix and scalar
        ("shares/mod.rs", 1),       // shares beyond the threshold
    ] {
        let count = leaks::ct_eq_calls(Path::new(SRC), file);
        assert!(count >= at_least, "{file}: {count} ct_eq calls, expected {at_least}");
    }
}

#[test]
fn the_check_value_lint_catches_a_plain_comparison() {
    assert!(is_check_value("mac"));
    assert!(is_check_value("&expected_mac"));
    assert!(is_check_value("self.chain"));
    assert!(is_check_value("receipt"));
    assert!(!is_check_value("mac.len()"));
    assert!(!is_check_value("MAC_LEN"));
    assert!(!is_check_value("algorithm"));
    assert!(!is_check_value("TagNumber(0)"));
    assert!(!is_check_value("Ok(expected.len()"));
}

#[test]
fn response_types_with_secrets_stay_redacted_after_decoding() {
    // Random bytes are often a key: decoding an answer keeps them redacted.
    let random = marker(0x66, 48);
    let decoded = PseudoRandom::decode(&random).unwrap();
    assert_debug_hides("PseudoRandom (decoded)", &decoded, &[&random]);
}

/// A buffer that grows leaves the bytes it held in the freed allocation. The buffers that
/// carry secrets are sized up front; check at run time that they never grew.
#[test]
fn buffers_holding_secrets_never_grow() {
    let key = PutWrapKey {
        header: header(Algorithm::AES256_CCM_WRAP),
        delegated: Capabilities::ALL,
        key: SecretBytes::new(marker(0x67, 32)),
    };
    let data = key.to_data();
    assert_eq!(data.capacity(), yhsm_proto::frame::MAX_DATA_LEN, "request data grew");
    let frame = key.to_frame().unwrap();
    assert_eq!(frame.capacity(), frame.len(), "request frame grew");

    let seed = SecretArray::new(marker_array::<32>(0x68));
    let (p, q) = (marker(1, 128), marker(2, 128));
    for body in [
        Body::WrapKey { delegated: Capabilities::ALL, key: SecretBytes::new(marker(0x69, 24)) },
        Body::ec_from_private(Algorithm::ECP256, &marker(0x6a, 32)).unwrap(),
        Body::ed25519_from_seed_with_seed(&seed, [9; 32]),
        Body::rsa(Algorithm::RSA2048, [&p, &q, &p, &q, &p], &[0xc1; 256]).unwrap(),
        Body::hmac(Algorithm::HMAC_SHA512, &marker(0x6b, 100)).unwrap(),
    ] {
        let bytes = body.to_bytes();
        assert_eq!(bytes.capacity(), bytes.len(), "body encoding grew: {body:?}");
    }

    let secret = WrapKeySecret::new(
        1,
        Domains(1),
        Capabilities::ALL,
        Capabilities::ALL,
        SecretBytes::new(marker(0x6c, 32)),
    )
    .unwrap();
    let bytes = secret.to_bytes();
    assert_eq!(bytes.capacity(), bytes.len(), "wrap-key secret encoding grew");
    for format in ShareFormat::ALL {
        let rows = [marker(0x6d, 52)];
        for share in shares::split_with_coefficients(&secret, &rows, 3, format).unwrap() {
            let text = share.render();
            assert_eq!(text.capacity(), text.len(), "rendered share grew");
        }
    }
}
