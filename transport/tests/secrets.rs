//! Secrets in the client layer (see SECURITY.md "How it is checked"): `Debug` of
//! credentials, options and a client holding a session shows no password or key, nor do
//! the errors of a failed login. That credentials keep only zeroizing keys and that
//! nothing compares check values with `==` is the lint `tests/lint`.
//!
//! What observers (and so the CLI's `-v` frame log) are shown is tested in `client.rs`
//! (`observers_never_see_key_material`).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests, and test helpers outside #[test] functions"
)]

mod support;

use support::Sim;
use yhsm_proto::command::{DevicePublicKey, ObjectHeader, PutWrapKey};
use yhsm_proto::object::{Algorithm, Capabilities, Domains, Label};
use yhsm_proto::scp03::public_key;
use yhsm_proto::{SecretArray, SecretBytes, StaticKeys};
use yhsm_test_support::TestRng;
use yhsm_test_support::leaks::{self, assert_debug_hides, marker, marker_array};
use yhsm_transport::{Client, ClientOptions, Credentials};

const PASSWORD: &[u8] = b"Zq9!vK3#pW8$-transport-marker";

fn client(device: &Sim) -> Client {
    let options = ClientOptions::new().rng(Box::new(TestRng(3)));
    Client::with_transport_options(device.transport(), options).unwrap()
}

#[test]
fn credentials_redact_passwords_and_keys() {
    let from_password = Credentials::password(4, PASSWORD);
    let derived = StaticKeys::from_password(PASSWORD);
    assert_debug_hides(
        "Credentials::password",
        &from_password,
        &[PASSWORD, derived.enc.expose_secret(), derived.mac.expose_secret()],
    );

    let (enc, mac) = (marker_array::<16>(0x80), marker_array::<16>(0x81));
    let keys = Credentials::keys(5, StaticKeys::new(SecretArray::new(enc), SecretArray::new(mac)));
    assert_debug_hides("Credentials::keys", &keys, &[&enc, &mac]);

    let mut private = marker_array::<32>(0x82);
    private[0] = 0x7f;
    let device_public = public_key(&SecretArray::new(marker_array::<32>(0x83))).unwrap();
    let pinned = DevicePublicKey {
        x: device_public[1..33].try_into().unwrap(),
        y: device_public[33..].try_into().unwrap(),
    };
    let asymmetric =
        Credentials::asymmetric(6, SecretArray::new(private)).with_device_public_key(pinned);
    assert_debug_hides("Credentials::asymmetric", &asymmetric, &[&private]);
    assert_debug_hides("ClientOptions", &ClientOptions::new(), &[PASSWORD]);
}

#[test]
fn a_client_with_a_session_redacts_its_keys() {
    let mut device = Sim::new((2, 4, 0));
    device.add_symmetric_key(4, &StaticKeys::from_password(PASSWORD));
    let mut c = client(&device);
    c.authenticate(Credentials::password(4, PASSWORD)).unwrap();
    let wrap_key = marker(0x84, 32);
    c.put_wrap_key(&PutWrapKey {
        header: ObjectHeader {
            id: 0x10,
            label: Label::from_bytes(b"wrap").unwrap(),
            domains: Domains(1),
            capabilities: Capabilities::ALL,
            algorithm: Algorithm::AES256_CCM_WRAP,
        },
        delegated: Capabilities::ALL,
        key: SecretBytes::new(wrap_key.clone()),
    })
    .unwrap();
    let random = c.get_pseudo_random(32).unwrap();
    let derived = StaticKeys::from_password(PASSWORD);
    let secrets: [&[u8]; 5] = [
        PASSWORD,
        derived.enc.expose_secret(),
        derived.mac.expose_secret(),
        &wrap_key,
        random.expose_secret(),
    ];
    assert_debug_hides("Client", &c, &secrets);
    assert_debug_hides("random bytes", &random, &[random.expose_secret()]);
}

#[test]
fn a_failed_login_names_the_key_not_the_password() {
    let device = Sim::new((2, 4, 0));
    let mut c = client(&device);
    let err = c.authenticate(Credentials::password(1, PASSWORD)).unwrap_err();
    let text = format!("{err} {err:?}");
    let derived = StaticKeys::from_password(PASSWORD);
    for secret in [PASSWORD, derived.enc.expose_secret(), derived.mac.expose_secret()] {
        leaks::assert_hidden("login error", &text, secret);
    }
    assert!(text.contains("0x0001"), "{text}");
    assert_debug_hides("Client after a failed login", &c, &[PASSWORD]);
}
