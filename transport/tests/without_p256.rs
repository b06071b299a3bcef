//! The client built without P-256 arithmetic (the auditor's minimal build): asymmetric
//! credentials are refused with an error naming the feature, before anything reaches the
//! device, and password sessions work as before.
//!
//! Compiled only without the feature `p256`; `.ci/run` runs it through
//! `bash tests/minimal/run.sh`:
//! `cargo test -p yhsm-transport --no-default-features --features sim --test without_p256`.

#![cfg(all(not(feature = "p256"), feature = "sim"))]
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::sync::{Arc, Mutex};

use yhsm_proto::SecretArray;
use yhsm_proto::command::DevicePublicKey;
use yhsm_proto::frame::CommandCode;
use yhsm_transport::sim::SimTransport;
use yhsm_transport::{Client, ClientError, Credentials, ExchangeEvent, Observer};

/// Records the command of every exchange.
#[derive(Clone, Default)]
struct Commands(Arc<Mutex<Vec<CommandCode>>>);

impl Observer for Commands {
    fn exchange(&mut self, event: &ExchangeEvent<'_>) {
        self.0.lock().unwrap().push(event.command);
    }
}

fn client() -> (Client, Commands) {
    let mut client = Client::with_transport(Box::new(SimTransport::open(None).unwrap())).unwrap();
    let seen = Commands::default();
    client.set_observer(Box::new(seen.clone()));
    (client, seen)
}

#[test]
fn asymmetric_authentication_is_refused_naming_the_feature_and_nothing_is_sent() {
    let (mut client, seen) = client();
    let credentials = Credentials::asymmetric(2, SecretArray::new([0x11; 32]));
    let e = client.authenticate(credentials).unwrap_err();
    assert_eq!(
        e,
        ClientError::FeatureDisabled { what: "asymmetric (P-256) authentication", feature: "p256" }
    );
    let message = e.to_string();
    assert!(message.contains("`p256`"), "{message}");
    assert!(message.contains("--features p256"), "{message}");
    assert!(!e.may_have_executed());
    assert_eq!(*seen.0.lock().unwrap(), [], "nothing may reach the device");
    assert!(!client.is_authenticated());

    // The same with a pinned device key: no GET_DEVICE_PUBLIC_KEY either.
    let pinned = Credentials::asymmetric(2, SecretArray::new([0x11; 32]))
        .with_device_public_key(DevicePublicKey { x: [1; 32], y: [2; 32] });
    assert!(matches!(client.authenticate(pinned), Err(ClientError::FeatureDisabled { .. })));
    assert_eq!(*seen.0.lock().unwrap(), []);
}

#[test]
fn a_password_session_works_without_p256() {
    let (mut client, seen) = client();
    client.authenticate(Credentials::password(1, b"password")).unwrap();
    assert_eq!(client.echo(b"minimal").unwrap(), b"minimal");
    let seen = seen.0.lock().unwrap();
    assert_eq!(
        seen[..2],
        [CommandCode::CREATE_SESSION, CommandCode::AUTHENTICATE_SESSION],
        "a symmetric handshake"
    );
}
