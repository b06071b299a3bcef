//! Secrets in proto (see SECURITY.md "How it is checked"):
//!
//! - `Debug` of every type that holds key material, a password or a share shows none of
//!   it (no `Display` is implemented on any of them), nor do the errors made from secret
//!   input;
//! - zeroization: the containers zeroize on drop (a probe inside them sees the wipe; the
//!   marker trait is checked at compile time);
//! - every MAC, cryptogram, receipt, digest and share beyond the threshold is compared by
//!   `ct_eq`: each check is run with a tampered value, which must be refused and must be
//!   an operand of a `ct_eq` call (feature `ct-audit`).
//!
//! What the sources may not contain (a raw byte buffer in a secret-holding type, `==` on a
//! MAC) is the lint `tests/lint` (`yhsm-lint secrets`), run by `.ci/run`.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail loudly on purpose"
)]

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use yhsm_proto::command::{
    AuthenticationKey, ChangeAuthenticationKey, Command, GetPseudoRandom, LogChainErrorKind,
    LogEntry, ObjectHeader, PseudoRandom, PutAsymmetricKey, PutAuthenticationKey, PutHmacKey,
    PutWrapKey, Response,
};
use yhsm_proto::object::{Algorithm, Capabilities, Domains, Label, ObjectType};
use yhsm_proto::scp03::{
    self, AsymmetricClientHandshake, ClientHandshake, CreateSessionRequest, DeviceHandshake,
    SessionKeys, StaticKeys,
};
use yhsm_proto::secret::audit::{comparisons, saw};
use yhsm_proto::secret::{Secret, ct_eq};
use yhsm_proto::shares::{self, Share, ShareError, ShareFormat, WrapKeySecret};
use yhsm_proto::wrap::{self, Body, WrapHeader, WrapKey, WrappedObject};
use yhsm_proto::{CommandCode, SecretArray, SecretBytes, SessionError};
use yhsm_test_support::leaks::{assert_debug_hides, assert_hidden, marker, marker_array};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors");

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

/// A stand-in for key bytes that records being wiped, and whether it was wiped before it
/// was dropped (what is dropped unwiped is what `zeroize` exists to prevent).
struct Probe {
    wiped: Rc<Cell<bool>>,
    dropped_unwiped: Rc<Cell<bool>>,
}

impl Zeroize for Probe {
    fn zeroize(&mut self) {
        self.wiped.set(true);
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        if !self.wiped.get() {
            self.dropped_unwiped.set(true);
        }
    }
}

fn probe() -> (Probe, Rc<Cell<bool>>, Rc<Cell<bool>>) {
    let (wiped, dropped_unwiped) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(false)));
    (
        Probe { wiped: wiped.clone(), dropped_unwiped: dropped_unwiped.clone() },
        wiped,
        dropped_unwiped,
    )
}

/// `SecretArray` and `SecretBytes` are `Secret<[u8; N]>` and `Secret<Vec<u8>>`: the
/// `Drop` the probe sees wiped is theirs. `Zeroizing` (request frames, plaintexts, the
/// MAC chain of a session) is checked the same way.
#[test]
fn dropping_a_secret_wipes_it_first() {
    let (inside, wiped, dropped_unwiped) = probe();
    let secret = Secret::wrap(inside);
    assert!(!wiped.get(), "wiped before the drop");
    drop(secret);
    assert!(wiped.get(), "Secret did not zeroize what it held");
    assert!(!dropped_unwiped.get(), "Secret dropped its content before wiping it");

    let (inside, wiped, dropped_unwiped) = probe();
    drop(Zeroizing::new(inside));
    assert!(wiped.get() && !dropped_unwiped.get(), "Zeroizing did not wipe before dropping");

    // Moving a secret (into a body, a session) does not wipe it; dropping the new owner
    // does.
    let (inside, wiped, _) = probe();
    let moved = Some(Secret::wrap(inside));
    assert!(!wiped.get(), "a move is not a drop");
    drop(moved);
    assert!(wiped.get());

    // What the probe stands for: the bytes themselves are zero after `zeroize`.
    let mut bytes = [0xa5u8; 32];
    bytes.zeroize();
    assert_eq!(bytes, [0; 32]);
    let mut vec = vec![0xa5u8; 40];
    vec.zeroize();
    assert!(vec.is_empty());
}

/// Runs `check` on tampered input: it must fail, and `ct_eq` must have been handed the
/// tampered value.
fn assert_refused_in_constant_time<T, E>(
    what: &str,
    tampered: &[u8],
    check: impl FnOnce() -> Result<T, E>,
) -> E {
    let (result, seen) = comparisons(check);
    let Err(e) = result else { panic!("{what}: a tampered value was accepted") };
    assert!(saw(&seen, tampered), "{what}: not compared with ct_eq ({} comparisons)", seen.len());
    e
}

fn flip_last(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    *out.last_mut().unwrap() ^= 0x01;
    out
}

/// The card cryptogram, the host cryptogram and the authenticate MAC of the handshake,
/// then the C-MAC and R-MAC of a session message.
#[test]
fn scp03_checks_compare_in_constant_time() {
    let keys = StaticKeys::new(SecretArray::new([1; 16]), SecretArray::new([2; 16]));
    let (host, card) = ([0xa0; 8], [0x0c; 8]);
    let handshake = || {
        let client = ClientHandshake::new(1, &keys, host);
        let (device, create) = DeviceHandshake::new(1, host, &keys, card, 7);
        (client, device, create)
    };

    // `83 00 11 sid card-challenge(8) card-cryptogram(8)`.
    let (client, _, create) = handshake();
    let bad = flip_last(&create);
    assert_refused_in_constant_time("card cryptogram", &bad[12..], || {
        client.on_create_session_response(&bad)
    });

    // `04 00 11 sid host-cryptogram(8) mac(8)`.
    let (client, device, create) = handshake();
    let (_, authenticate) = client.on_create_session_response(&create).unwrap();
    let mut bad = authenticate.clone();
    bad[4] ^= 0x01;
    assert_refused_in_constant_time("host cryptogram", &bad[4..12], || {
        device.on_authenticate_request(&bad)
    });
    let (client, device, create) = handshake();
    let (authenticating, authenticate) = client.on_create_session_response(&create).unwrap();
    let bad = flip_last(&authenticate);
    assert_refused_in_constant_time("authenticate MAC", &bad[12..], || {
        device.on_authenticate_request(&bad)
    });

    // A session message each way: `05|85 len sid ciphertext mac(8)`.
    let (mut device, ok) = device_after(&keys, host, card, &authenticate);
    let mut client = authenticating.on_authenticate_response(&ok).unwrap();
    let sealed = client.seal(&[0x01, 0, 1, 0x42]).unwrap();
    let bad = flip_last(&sealed);
    let e = assert_refused_in_constant_time("C-MAC", &bad[bad.len() - 8..], || {
        device.open_command(&bad)
    });
    assert_eq!(e, SessionError::CommandMacMismatch);

    let (mut device, ok) = device_after(&keys, host, card, &authenticate);
    let (client, _, create) = handshake();
    let (authenticating, _) = client.on_create_session_response(&create).unwrap();
    let mut client = authenticating.on_authenticate_response(&ok).unwrap();
    let sealed = client.seal(&[0x01, 0, 1, 0x42]).unwrap();
    device.open_command(&sealed).unwrap();
    let answer = device.seal_response(&[0x81, 0, 1, 0x42]).unwrap();
    let bad = flip_last(&answer);
    let e = assert_refused_in_constant_time("R-MAC", &bad[bad.len() - 8..], || client.open(&bad));
    assert_eq!(e, SessionError::ResponseMacMismatch);
}

/// A device half that accepted `authenticate`, and its answer.
fn device_after(
    keys: &StaticKeys,
    host: [u8; 8],
    card: [u8; 8],
    authenticate: &[u8],
) -> (scp03::DeviceSession, Vec<u8>) {
    let (device, _) = DeviceHandshake::new(1, host, keys, card, 7);
    device.on_authenticate_request(authenticate).unwrap()
}

#[test]
fn the_asymmetric_receipt_is_compared_in_constant_time() {
    let client_secret = SecretArray::new(marker_array::<32>(0x10));
    let device_secret = SecretArray::new(marker_array::<32>(0x30));
    let client = AsymmetricClientHandshake::new(
        3,
        &client_secret,
        &scp03::public_key(&device_secret).unwrap(),
        &SecretArray::new(marker_array::<32>(0x20)),
    )
    .unwrap();
    let CreateSessionRequest::Asymmetric { epk_oce, .. } =
        CreateSessionRequest::parse(&client.request()).unwrap()
    else {
        panic!("not an asymmetric request");
    };
    let (_, answer) = scp03::accept_asymmetric(
        3,
        &epk_oce,
        &scp03::public_key(&client_secret).unwrap(),
        &device_secret,
        &SecretArray::new(marker_array::<32>(0x40)),
        5,
    )
    .unwrap();
    // `83 len sid EPK-SD(65) receipt(16)`.
    let bad = flip_last(&answer);
    assert_refused_in_constant_time("receipt", &bad[bad.len() - 16..], || {
        client.on_create_session_response(&bad)
    });
}

#[test]
fn the_log_digest_chain_is_compared_in_constant_time() {
    let entry = |number| LogEntry {
        number,
        command: CommandCode::ECHO,
        length: 4,
        session_key: 1,
        target_key: 0xffff,
        second_key: 0xffff,
        result: 0x81,
        tick: u32::from(number),
        digest: [0; 16],
    };
    let first = entry(1).chained_to(&[7; 16]);
    let mut second = entry(2).chained_to(&first.digest);
    second.verify_after(&first).unwrap();
    second.digest[15] ^= 0x01;
    let e = assert_refused_in_constant_time("log digest", &second.digest, || {
        second.verify_after(&first)
    });
    assert_eq!(e, LogChainErrorKind::WrongDigest);
}

/// The consistency checks of wrapped bodies: a P-256 key's public point, an ed25519
/// key's prefix and scalar against its seed.
#[test]
fn body_consistency_checks_compare_in_constant_time() {
    let ec = Body::ec_from_private(Algorithm::ECP256, &marker(0x44, 32)).unwrap().to_bytes();
    let bad = flip_last(&ec);
    assert_refused_in_constant_time("EC public point", &bad[64..], || {
        Body::decode(ObjectType::ASYMMETRIC_KEY, Algorithm::ECP256, &bad)
    });

    // `seed(32) scalar(32) prefix(32) public(32)`.
    let seed = SecretArray::new(marker_array::<32>(0x40));
    let ed = Body::ed25519_from_seed_with_seed(&seed, [9; 32]).to_bytes();
    for (what, at) in [("ed25519 scalar", 32), ("ed25519 prefix", 64)] {
        let mut bad = ed.to_vec();
        bad[at + 31] ^= 0x01;
        assert_refused_in_constant_time(what, &bad[at..at + 32], || {
            Body::decode(ObjectType::ASYMMETRIC_KEY, Algorithm::ED25519, &bad)
        });
    }
}

#[test]
fn shares_beyond_the_threshold_are_compared_in_constant_time() {
    let secret = WrapKeySecret::new(
        0x1234,
        Domains(1),
        Capabilities::ALL,
        Capabilities::ALL,
        SecretBytes::new(marker(0x50, 32)),
    )
    .unwrap();
    for format in ShareFormat::ALL {
        let rows = [marker(0x51, 52), marker(0x52, 52)];
        let mut list = shares::split_with_coefficients(&secret, &rows, 4, format).unwrap();
        let good = list[3].data().expose_secret().to_vec();
        list[3] =
            shares::split_with_coefficients(&secret, &[marker(9, 52), marker(8, 52)], 4, format)
                .unwrap()
                .remove(3);
        let odd = list[3].data().expose_secret().to_vec();
        let (result, seen) = comparisons(|| shares::combine(&list));
        let e = result.unwrap_err();
        assert!(matches!(e, ShareError::Inconsistent { share: 4, .. }), "{e:?}");
        // The share was compared with the value the first three give it (the check that
        // decides), not only with the other shares (the duplicate check).
        assert!(
            seen.iter().any(|(a, b)| (a == &good && b == &odd) || (a == &odd && b == &good)),
            "{format}: the fourth share was not checked with ct_eq"
        );
    }
}

#[test]
fn secret_containers_compare_in_constant_time() {
    let (a, b) = (marker_array::<16>(0x61), marker_array::<16>(0x62));
    let (equal, seen) = comparisons(|| SecretArray::new(a) == SecretArray::new(b));
    assert!(!equal && saw(&seen, &b));
    let (equal, seen) = comparisons(|| SecretBytes::from_slice(&a) == SecretBytes::from_slice(&a));
    assert!(equal && saw(&seen, &a));
    // Outside `comparisons` nothing is recorded, and nothing leaks into the next call.
    assert!(ct_eq(&a, &a));
    let ((), seen) = comparisons(|| ());
    assert!(seen.is_empty());
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
