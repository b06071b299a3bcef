//! Property tests: the client and device halves of SCP03 stay in step over many messages of
//! every size, for symmetric and asymmetric (P-256) authentication.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions; a failure is a test failure"
)]

use proptest::prelude::*;
use yhsm_proto::SecretArray;
use yhsm_proto::frame::{MAX_FRAME_LEN, max_frame_len};
use yhsm_proto::scp03::{
    AsymmetricClientHandshake, ClientHandshake, ClientSession, CreateSessionRequest,
    DeviceHandshake, DeviceSession, MAX_INNER_LEN, SessionError, StaticKeys, accept_asymmetric,
    max_inner_len, public_key, random_secret,
};
use yhsm_test_support::TestRng;

fn inner_frame(code: u8, data: &[u8]) -> Vec<u8> {
    yhsm_proto::frame::encode(code, data).unwrap_or_else(|_| {
        // Longer than a frame allows: build it by hand, seal must refuse it.
        let mut f = vec![code];
        f.extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
        f.extend_from_slice(data);
        f
    })
}

/// Runs `messages` exchanges (command data, response data) and checks both halves agree.
fn exchange(
    client: &mut ClientSession,
    device: &mut DeviceSession,
    messages: &[(Vec<u8>, Vec<u8>)],
) {
    for (i, (cmd, resp)) in messages.iter().enumerate() {
        let command = inner_frame(0x42, cmd);
        let response = inner_frame(0xc2, resp);
        assert_eq!(client.counter(), device.counter(), "message {i}");
        let sealed = client.seal(&command).unwrap();
        assert!(sealed.len() <= MAX_FRAME_LEN);
        assert_eq!(device.open_command(&sealed).unwrap(), command, "message {i}");
        let sealed = device.seal_response(&response).unwrap();
        assert!(sealed.len() <= MAX_FRAME_LEN);
        assert_eq!(client.open(&sealed).unwrap(), response, "message {i}");
    }
    assert_eq!(client.counter(), 1 + messages.len() as u64);
    assert_eq!(device.counter(), client.counter());
}

fn symmetric_pair(
    enc: [u8; 16],
    mac: [u8; 16],
    host_challenge: [u8; 8],
    card_challenge: [u8; 8],
    session_id: u8,
) -> (ClientSession, DeviceSession) {
    let keys = StaticKeys::new(SecretArray::new(enc), SecretArray::new(mac));
    let client = ClientHandshake::new(0x1234, &keys, host_challenge);
    let request = CreateSessionRequest::parse(&client.request()).unwrap();
    let CreateSessionRequest::Symmetric { auth_key_id, host_challenge } = request else {
        panic!("parsed as {request:?}");
    };
    assert_eq!(auth_key_id, 0x1234);
    let (device, response) =
        DeviceHandshake::new(auth_key_id, host_challenge, &keys, card_challenge, session_id);
    let (client, request) = client.on_create_session_response(&response).unwrap();
    let (device, response) = device.on_authenticate_request(&request).unwrap();
    let client = client.on_authenticate_response(&response).unwrap();
    assert_eq!(client.session_id(), session_id);
    assert_eq!(device.session_id(), session_id);
    assert_eq!(device.auth_key_id(), 0x1234);
    (client, device)
}

fn message() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    let data = || {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..=40),
            proptest::collection::vec(any::<u8>(), 0..=MAX_INNER_LEN - 3),
        ]
    };
    (data(), data())
}

fn valid_secret() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
        .prop_filter("a valid P-256 scalar", |s| public_key(&SecretArray::new(*s)).is_ok())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn round_trips_symmetric_sessions(
        enc in any::<[u8; 16]>(),
        mac in any::<[u8; 16]>(),
        host in any::<[u8; 8]>(),
        card in any::<[u8; 8]>(),
        session_id in 0u8..16,
        messages in proptest::collection::vec(message(), 1..8),
    ) {
        let (mut client, mut device) = symmetric_pair(enc, mac, host, card, session_id);
        exchange(&mut client, &mut device, &messages);
    }

    #[test]
    fn round_trips_asymmetric_sessions(
        client_secret in valid_secret(),
        device_secret in valid_secret(),
        seed in any::<u64>(),
        session_id in 0u8..16,
        messages in proptest::collection::vec(message(), 1..4),
    ) {
        let mut rng = TestRng(seed);
        let client_secret = SecretArray::new(client_secret);
        let device_secret = SecretArray::new(device_secret);
        let device_public = public_key(&device_secret).unwrap();
        let client_public = public_key(&client_secret).unwrap();

        // The device public key as GET_DEVICE_PUBLIC_KEY gives it: X || Y.
        let hs = AsymmetricClientHandshake::with_rng(
            7, &client_secret, &device_public[1..], &mut rng,
        ).unwrap();
        let request = CreateSessionRequest::parse(&hs.request()).unwrap();
        let CreateSessionRequest::Asymmetric { auth_key_id, epk_oce } = request else {
            panic!("parsed as {request:?}");
        };
        prop_assert_eq!(auth_key_id, 7);
        let ephemeral = random_secret(&mut rng);
        let (mut device, response) = accept_asymmetric(
            auth_key_id, &epk_oce, &client_public[1..], &device_secret, &ephemeral, session_id,
        ).unwrap();
        prop_assert_eq!(response.len(), 3 + 1 + 65 + 16);
        let mut client = hs.on_create_session_response(&response).unwrap();
        prop_assert_eq!(client.session_id(), session_id);
        exchange(&mut client, &mut device, &messages);
    }
}

#[test]
fn asymmetric_handshake_rejects_wrong_keys_and_receipts() {
    let mut rng = TestRng(1);
    let client_secret = random_secret(&mut rng);
    let device_secret = random_secret(&mut rng);
    let client_public = public_key(&client_secret).unwrap();
    let device_public = public_key(&device_secret).unwrap();
    let run = |client_key: &SecretArray<32>, stored_public: &[u8], edit: &dyn Fn(&mut Vec<u8>)| {
        let mut rng = TestRng(2);
        let hs =
            AsymmetricClientHandshake::with_rng(3, client_key, &device_public, &mut rng).unwrap();
        let CreateSessionRequest::Asymmetric { epk_oce, .. } =
            CreateSessionRequest::parse(&hs.request()).unwrap()
        else {
            panic!("not asymmetric");
        };
        let ephemeral = random_secret(&mut rng);
        let (_, mut response) =
            accept_asymmetric(3, &epk_oce, stored_public, &device_secret, &ephemeral, 9).unwrap();
        edit(&mut response);
        hs.on_create_session_response(&response)
    };

    assert!(run(&client_secret, &client_public, &|_| {}).is_ok());
    for i in 69..85 {
        assert_eq!(
            run(&client_secret, &client_public, &|r| r[i] ^= 0x20).err(),
            Some(SessionError::ReceiptMismatch),
            "receipt byte {i}"
        );
    }
    // A client key that is not the one the device has stored for the key id.
    let other = random_secret(&mut rng);
    assert_eq!(run(&other, &client_public, &|_| {}).err(), Some(SessionError::ReceiptMismatch));
    // EPK-SD altered: either no longer on the curve, or a different key and a bad receipt.
    let err = run(&client_secret, &client_public, &|r| r[40] ^= 0x01).err();
    assert!(
        matches!(err, Some(SessionError::InvalidKey { .. } | SessionError::ReceiptMismatch)),
        "{err:?}"
    );
    assert!(matches!(
        run(&client_secret, &client_public, &|r| r.truncate(84)).err(),
        Some(SessionError::Malformed(_))
    ));
    // Invalid key material is refused up front.
    assert_eq!(
        AsymmetricClientHandshake::new(
            3,
            &SecretArray::new([0; 32]),
            &device_public,
            &random_secret(&mut rng)
        )
        .err()
        .map(|e| e.to_string()),
        Some("invalid P-256 key: client private key".to_owned())
    );
    let mut off_curve = device_public;
    off_curve[64] ^= 1;
    assert!(matches!(
        AsymmetricClientHandshake::new(3, &client_secret, &off_curve, &random_secret(&mut rng)),
        Err(SessionError::InvalidKey { what: "device public key" })
    ));
}

#[test]
fn asymmetric_request_carries_the_ephemeral_public_key() {
    let client_secret = SecretArray::new([0x11; 32]);
    let device_public = public_key(&SecretArray::new([0x22; 32])).unwrap();
    let ephemeral = SecretArray::new([0x33; 32]);
    let hs =
        AsymmetricClientHandshake::new(0x0102, &client_secret, &device_public, &ephemeral).unwrap();
    let mut expected = vec![0x03, 0x00, 0x43, 0x01, 0x02];
    expected.extend_from_slice(&public_key(&ephemeral).unwrap());
    assert_eq!(hs.request(), expected);
}

#[test]
fn seal_enforces_the_frame_size_limit_and_keeps_the_session() {
    let (mut client, mut device) = symmetric_pair([1; 16], [2; 16], [3; 8], [4; 8], 0);
    let largest = inner_frame(0x42, &vec![0xab; MAX_INNER_LEN - 3]);
    assert_eq!(largest.len(), 3119);
    let too_long = inner_frame(0x42, &vec![0xab; MAX_INNER_LEN - 2]);
    assert_eq!(client.seal(&too_long), Err(SessionError::TooLong { len: 3145, max: 3136 }));
    assert!(!client.is_poisoned());
    // 3119 bytes pad to 3120: with session id and MAC, 3129 of the 3136 data bytes.
    let sealed = client.seal(&largest).unwrap();
    assert_eq!(sealed.len(), 3 + 1 + 3120 + 8);
    device.open_command(&sealed).unwrap();

    // The device may not send more than a frame either; it can still answer afterwards.
    assert!(matches!(device.seal_response(&too_long), Err(SessionError::TooLong { .. })));
    let sealed = device.seal_response(&largest).unwrap();
    assert_eq!(sealed.len(), 3 + 1 + 3120 + 8);
    assert_eq!(client.open(&sealed).unwrap(), largest);

    // Firmware before 2.4 takes frames of at most 2048 bytes.
    client.set_max_frame_len(max_frame_len((2, 3, 1)));
    let limit = max_inner_len(2048 - 3);
    assert_eq!(limit, 2031);
    assert!(matches!(
        client.seal(&inner_frame(0x42, &vec![0; limit - 2])),
        Err(SessionError::TooLong { max: 2045, .. })
    ));
    let sealed = client.seal(&inner_frame(0x42, &vec![0; limit - 3])).unwrap();
    assert!(sealed.len() <= 2048);
}

#[test]
fn with_rng_draws_the_host_challenge() {
    let keys = StaticKeys::from_password(b"password");
    let a = ClientHandshake::with_rng(1, &keys, &mut TestRng(1)).request();
    let b = ClientHandshake::with_rng(1, &keys, &mut TestRng(2)).request();
    assert_eq!(a.len(), 13);
    assert_eq!(a[..5], [0x03, 0x00, 0x0a, 0x00, 0x01]);
    assert_ne!(a[5..], b[5..]);
}
