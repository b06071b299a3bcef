//! Both halves of SCP03 against the session transcript recorded with python-yubihsm
//! (`vectors/scp03-transcript.json`), plus tampering and ordering checks on real frames.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions; a failure is a test failure"
)]

use serde_json::Value;
use yhsm_proto::frame::encode_error;
use yhsm_proto::scp03::{
    ClientHandshake, ClientSession, CreateSessionRequest, DeviceHandshake, DeviceSession,
    SessionError, StaticKeys, card_cryptogram, host_cryptogram,
};
use yhsm_proto::{ErrorCode, SecretArray};

const TRANSCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/scp03-transcript.json");

struct Message {
    counter: u64,
    inner_command: Vec<u8>,
    inner_response: Vec<u8>,
    request: Vec<u8>,
    response: Vec<u8>,
}

struct Transcript {
    auth_key_id: u16,
    password: String,
    key_enc: [u8; 16],
    key_mac: [u8; 16],
    host_challenge: [u8; 8],
    card_challenge: [u8; 8],
    session_id: u8,
    s_enc: [u8; 16],
    s_mac: [u8; 16],
    s_rmac: [u8; 16],
    create: (Vec<u8>, Vec<u8>),
    authenticate: (Vec<u8>, Vec<u8>),
    messages: Vec<Message>,
}

fn hex_field(v: &Value, name: &str) -> Vec<u8> {
    hex::decode(v[name].as_str().unwrap_or_else(|| panic!("field {name}"))).unwrap()
}

fn arr<const N: usize>(v: &Value, name: &str) -> [u8; N] {
    hex_field(v, name).try_into().unwrap_or_else(|_| panic!("length of {name}"))
}

fn load() -> Transcript {
    let text = std::fs::read_to_string(TRANSCRIPT).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let frames: Vec<(Vec<u8>, Vec<u8>)> = v["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (hex_field(f, "request"), hex_field(f, "response")))
        .collect();
    let by_code = |code: u8| frames.iter().filter(move |(req, _)| req[0] == code).cloned();
    let create = by_code(0x03).next().unwrap();
    let authenticate = by_code(0x04).next().unwrap();
    let session_frames: Vec<_> = by_code(0x05).collect();
    let inner = v["session_messages"].as_array().unwrap();
    assert_eq!(session_frames.len(), inner.len());
    let messages = inner
        .iter()
        .zip(session_frames)
        .map(|(m, (request, response))| Message {
            counter: m["counter"].as_u64().unwrap(),
            inner_command: hex_field(m, "inner_command"),
            inner_response: hex_field(m, "inner_response"),
            request,
            response,
        })
        .collect();
    Transcript {
        auth_key_id: u16::try_from(v["auth_key_id"].as_u64().unwrap()).unwrap(),
        password: v["password"].as_str().unwrap().to_owned(),
        key_enc: arr(&v, "key_enc"),
        key_mac: arr(&v, "key_mac"),
        host_challenge: arr(&v, "host_challenge"),
        card_challenge: arr(&v, "card_challenge"),
        session_id: u8::try_from(v["session_id"].as_u64().unwrap()).unwrap(),
        s_enc: arr(&v, "s_enc"),
        s_mac: arr(&v, "s_mac"),
        s_rmac: arr(&v, "s_rmac"),
        create,
        authenticate,
        messages,
    }
}

fn static_keys(t: &Transcript) -> StaticKeys {
    StaticKeys::new(SecretArray::new(t.key_enc), SecretArray::new(t.key_mac))
}

/// A client session authenticated with the transcript's handshake frames.
fn client(t: &Transcript) -> ClientSession {
    let hs = ClientHandshake::new(t.auth_key_id, &static_keys(t), t.host_challenge);
    let (auth, _) = hs.on_create_session_response(&t.create.1).unwrap();
    auth.on_authenticate_response(&t.authenticate.1).unwrap()
}

/// A device session authenticated with the transcript's handshake frames.
fn device(t: &Transcript) -> DeviceSession {
    let (hs, _) = DeviceHandshake::new(
        t.auth_key_id,
        t.host_challenge,
        &static_keys(t),
        t.card_challenge,
        t.session_id,
    );
    hs.on_authenticate_request(&t.authenticate.0).unwrap().0
}

#[test]
fn derives_the_transcript_keys_and_cryptograms() {
    let t = load();
    let keys = StaticKeys::from_password(t.password.as_bytes());
    assert_eq!(keys.enc.expose_secret(), &t.key_enc);
    assert_eq!(keys.mac.expose_secret(), &t.key_mac);

    let s = keys.derive_session_keys(&t.host_challenge, &t.card_challenge);
    assert_eq!(s.enc.expose_secret(), &t.s_enc);
    assert_eq!(s.mac.expose_secret(), &t.s_mac);
    assert_eq!(s.rmac.expose_secret(), &t.s_rmac);

    // Card cryptogram: the last 8 bytes of the create-session response; host cryptogram:
    // bytes 4..12 of the authenticate-session request.
    let card = card_cryptogram(&s, &t.host_challenge, &t.card_challenge);
    assert_eq!(card[..], t.create.1[12..20]);
    let host = host_cryptogram(&s, &t.host_challenge, &t.card_challenge);
    assert_eq!(host[..], t.authenticate.0[4..12]);
    assert_ne!(card, host);
}

#[test]
fn client_reproduces_every_request_and_opens_every_response() {
    let t = load();
    let keys = StaticKeys::from_password(t.password.as_bytes());
    let hs = ClientHandshake::new(t.auth_key_id, &keys, t.host_challenge);
    assert_eq!(hs.request(), t.create.0);
    let (auth, request) = hs.on_create_session_response(&t.create.1).unwrap();
    assert_eq!(auth.session_id(), t.session_id);
    assert_eq!(request, t.authenticate.0);
    let mut session = auth.on_authenticate_response(&t.authenticate.1).unwrap();
    assert_eq!(session.session_id(), t.session_id);
    assert_eq!(session.auth_key_id(), t.auth_key_id);

    for (i, m) in t.messages.iter().enumerate() {
        assert_eq!(session.counter(), m.counter, "message {i}");
        assert_eq!(session.seal(&m.inner_command).unwrap(), m.request, "request {i}");
        assert_eq!(session.open(&m.response).unwrap(), m.inner_response, "response {i}");
    }
    assert_eq!(session.counter(), t.messages.last().unwrap().counter + 1);
}

#[test]
fn device_reproduces_every_response_and_opens_every_request() {
    let t = load();
    let request = CreateSessionRequest::parse(&t.create.0).unwrap();
    assert_eq!(
        request,
        CreateSessionRequest::Symmetric {
            auth_key_id: t.auth_key_id,
            host_challenge: t.host_challenge
        }
    );
    let keys = StaticKeys::from_password(t.password.as_bytes());
    let (hs, response) = DeviceHandshake::new(
        request.auth_key_id(),
        t.host_challenge,
        &keys,
        t.card_challenge,
        t.session_id,
    );
    assert_eq!(response, t.create.1);
    let (mut session, response) = hs.on_authenticate_request(&t.authenticate.0).unwrap();
    assert_eq!(response, t.authenticate.1);

    for (i, m) in t.messages.iter().enumerate() {
        assert_eq!(session.counter(), m.counter, "message {i}");
        assert_eq!(session.open_command(&m.request).unwrap(), m.inner_command, "request {i}");
        assert_eq!(session.seal_response(&m.inner_response).unwrap(), m.response, "response {i}");
    }
}

#[test]
fn rejects_every_flipped_bit_of_a_response_and_ends_the_session() {
    let t = load();
    let m = &t.messages[0];
    for bit in 0..m.response.len() * 8 {
        let mut session = client(&t);
        session.seal(&m.inner_command).unwrap();
        let mut bad = m.response.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(session.open(&bad).is_err(), "bit {bit} accepted");
        assert!(session.is_poisoned(), "bit {bit}");
        // Neither the genuine response nor a new command gets through afterwards.
        assert_eq!(session.open(&m.response), Err(SessionError::Poisoned));
        assert_eq!(session.seal(&m.inner_command), Err(SessionError::Poisoned));
    }
}

#[test]
fn names_the_failed_check_for_tampered_responses() {
    let t = load();
    let m = &t.messages[1];
    let open = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut session = client(&t);
        session.seal(&t.messages[0].inner_command).unwrap();
        session.open(&t.messages[0].response).unwrap();
        session.seal(&m.inner_command).unwrap();
        let mut frame = m.response.clone();
        edit(&mut frame);
        session.open(&frame)
    };
    let last = m.response.len() - 1;
    assert_eq!(open(&|f| f[last] ^= 0x01), Err(SessionError::ResponseMacMismatch));
    assert_eq!(open(&|f| f[10] ^= 0x80), Err(SessionError::ResponseMacMismatch));
    assert_eq!(open(&|f| f[3] = 2), Err(SessionError::SessionIdMismatch { expected: 3, got: 2 }));
    assert_eq!(
        open(&|f| f[0] = 0x86),
        Err(SessionError::UnexpectedCode { expected: 0x85, got: 0x86 })
    );
    assert!(matches!(open(&|f| f.truncate(last)), Err(SessionError::Malformed(_))));
    // A ciphertext that is not a whole number of blocks, with a consistent length field.
    assert!(matches!(
        open(&|f| {
            f.remove(5);
            f[2] -= 1;
        }),
        Err(SessionError::Malformed(_))
    ));
}

#[test]
fn a_bare_device_error_ends_the_session_with_its_code() {
    let t = load();
    let mut session = client(&t);
    session.seal(&t.messages[0].inner_command).unwrap();
    assert_eq!(
        session.open(&encode_error(ErrorCode::INVALID_SESSION)),
        Err(SessionError::Device(ErrorCode::INVALID_SESSION))
    );
    assert!(session.is_poisoned());
    assert_eq!(session.open(&t.messages[0].response), Err(SessionError::Poisoned));
}

#[test]
fn enforces_seal_open_alternation() {
    let t = load();
    let m = &t.messages[0];

    let mut session = client(&t);
    assert!(matches!(session.open(&m.response), Err(SessionError::OutOfOrder { .. })));
    assert!(session.is_poisoned());
    assert_eq!(session.seal(&m.inner_command), Err(SessionError::Poisoned));

    let mut session = client(&t);
    session.seal(&m.inner_command).unwrap();
    assert!(matches!(session.seal(&m.inner_command), Err(SessionError::OutOfOrder { .. })));
    assert_eq!(session.open(&m.response), Err(SessionError::Poisoned));

    let mut dev = device(&t);
    assert!(matches!(dev.seal_response(&m.inner_response), Err(SessionError::OutOfOrder { .. })));
    assert_eq!(dev.open_command(&m.request), Err(SessionError::Poisoned));

    let mut dev = device(&t);
    dev.open_command(&m.request).unwrap();
    assert!(matches!(dev.open_command(&m.request), Err(SessionError::OutOfOrder { .. })));
    assert_eq!(dev.seal_response(&m.inner_response), Err(SessionError::Poisoned));
}

#[test]
fn a_replayed_response_is_rejected() {
    let t = load();
    let mut session = client(&t);
    session.seal(&t.messages[0].inner_command).unwrap();
    session.open(&t.messages[0].response).unwrap();
    session.seal(&t.messages[1].inner_command).unwrap();
    assert_eq!(session.open(&t.messages[0].response), Err(SessionError::ResponseMacMismatch));
}

#[test]
fn rejects_a_wrong_card_cryptogram() {
    let t = load();
    let keys = static_keys(&t);
    for i in 12..20 {
        let mut bad = t.create.1.clone();
        bad[i] ^= 0x04;
        let hs = ClientHandshake::new(t.auth_key_id, &keys, t.host_challenge);
        assert_eq!(
            hs.on_create_session_response(&bad).err(),
            Some(SessionError::CardCryptogramMismatch)
        );
    }
    // The right response, the wrong password.
    let hs = ClientHandshake::new(1, &StaticKeys::from_password(b"passw0rd"), t.host_challenge);
    assert_eq!(
        hs.on_create_session_response(&t.create.1).err(),
        Some(SessionError::CardCryptogramMismatch)
    );
    // A different host challenge changes the expected cryptogram too.
    let hs = ClientHandshake::new(1, &keys, [0; 8]);
    assert_eq!(
        hs.on_create_session_response(&t.create.1).err(),
        Some(SessionError::CardCryptogramMismatch)
    );
}

#[test]
fn rejects_malformed_handshake_responses() {
    let t = load();
    let keys = static_keys(&t);
    let hs = || ClientHandshake::new(t.auth_key_id, &keys, t.host_challenge);
    for n in 0..t.create.1.len() {
        assert!(hs().on_create_session_response(&t.create.1[..n]).is_err(), "prefix {n}");
    }
    assert_eq!(
        hs().on_create_session_response(&encode_error(ErrorCode::AUTHENTICATION_FAILED)).err(),
        Some(SessionError::Device(ErrorCode::AUTHENTICATION_FAILED))
    );

    let auth = || hs().on_create_session_response(&t.create.1).unwrap().0;
    assert_eq!(
        auth().on_authenticate_response(&encode_error(ErrorCode::AUTHENTICATION_FAILED)).err(),
        Some(SessionError::Device(ErrorCode::AUTHENTICATION_FAILED))
    );
    assert!(matches!(
        auth().on_authenticate_response(&[0x84, 0, 1, 0]),
        Err(SessionError::Malformed(_))
    ));
    assert_eq!(
        auth().on_authenticate_response(&[0x83, 0, 0]).err(),
        Some(SessionError::UnexpectedCode { expected: 0x84, got: 0x83 })
    );
}

fn device_handshake(t: &Transcript) -> DeviceHandshake {
    DeviceHandshake::new(
        t.auth_key_id,
        t.host_challenge,
        &static_keys(t),
        t.card_challenge,
        t.session_id,
    )
    .0
}

#[test]
fn device_rejects_a_wrong_host_cryptogram_or_mac() {
    let t = load();
    for i in 4..12 {
        let mut bad = t.authenticate.0.clone();
        bad[i] ^= 0x10;
        assert_eq!(
            device_handshake(&t).on_authenticate_request(&bad).err(),
            Some(SessionError::HostCryptogramMismatch),
            "byte {i}"
        );
    }
    for i in 12..20 {
        let mut bad = t.authenticate.0.clone();
        bad[i] ^= 0x10;
        assert_eq!(
            device_handshake(&t).on_authenticate_request(&bad).err(),
            Some(SessionError::CommandMacMismatch),
            "byte {i}"
        );
    }
    let mut bad = t.authenticate.0.clone();
    bad[3] = 4;
    assert_eq!(
        device_handshake(&t).on_authenticate_request(&bad).err(),
        Some(SessionError::SessionIdMismatch { expected: 3, got: 4 })
    );
    // The genuine request under other static keys.
    let (hs, _) = DeviceHandshake::new(
        t.auth_key_id,
        t.host_challenge,
        &StaticKeys::from_password(b"other"),
        t.card_challenge,
        t.session_id,
    );
    assert_eq!(
        hs.on_authenticate_request(&t.authenticate.0).err(),
        Some(SessionError::HostCryptogramMismatch)
    );
    for n in 0..t.authenticate.0.len() {
        assert!(
            device_handshake(&t).on_authenticate_request(&t.authenticate.0[..n]).is_err(),
            "prefix {n}"
        );
    }
}

#[test]
fn device_rejects_every_flipped_bit_of_a_command_and_ends_the_session() {
    let t = load();
    let m = &t.messages[0];
    for bit in 0..m.request.len() * 8 {
        let mut dev = device(&t);
        let mut bad = m.request.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(dev.open_command(&bad).is_err(), "bit {bit} accepted");
        assert!(dev.is_poisoned());
        assert_eq!(dev.open_command(&m.request), Err(SessionError::Poisoned));
    }
    let mut dev = device(&t);
    let mut bad = m.request.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    assert_eq!(dev.open_command(&bad), Err(SessionError::CommandMacMismatch));
}

#[test]
fn parses_create_session_requests() {
    let t = load();
    for n in 0..t.create.0.len() {
        assert!(CreateSessionRequest::parse(&t.create.0[..n]).is_err(), "prefix {n}");
    }
    let mut long = t.create.0.clone();
    long.push(0);
    long[2] += 1;
    assert!(matches!(CreateSessionRequest::parse(&long), Err(SessionError::Malformed(_))));
    let mut asym = vec![0x03, 0x00, 0x43, 0x00, 0x07];
    asym.extend_from_slice(&[0x04; 65]);
    match CreateSessionRequest::parse(&asym).unwrap() {
        CreateSessionRequest::Asymmetric { auth_key_id, epk_oce } => {
            assert_eq!(auth_key_id, 7);
            assert_eq!(epk_oce, [0x04; 65]);
        }
        other => panic!("parsed as {other:?}"),
    }
}
