//! Entry points of the fuzz targets in `fuzz/` (cargo-fuzz), one per target. Each takes
//! arbitrary bytes, decodes them, re-encodes whatever decoded and asserts the round trip,
//! plus the properties the code must keep on any input (STYLE.md "Tests": a fuzz target
//! is one line calling a function like these).
//!
//! A broken property panics: that is what a fuzzer detects. So this module is compiled
//! only for this crate's tests (which run every entry over the seed corpus and over the
//! saved regression inputs in `fuzz/regressions/`) and with the `fuzzing` feature, which
//! only the fuzz package turns on.

#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "a fuzz entry point reports a broken property by panicking"
)]

use alloc::format;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Debug;

use crate::command::{self, Command};
use crate::frame::{self, MAX_DATA_LEN};
use crate::scp03::{
    self, AsymmetricClientHandshake, ClientHandshake, ClientSession, DeviceHandshake,
    DeviceSession, SessionError, StaticKeys,
};
use crate::secret::SecretArray;
use crate::shares::{self, Share};
use crate::wrap::{self, WrapError, WrapHeader, WrapKey, WrappedBlob};

/// At most this many share lines are read: nine shares can exist, the rest is noise.
const MAX_SHARE_LINES: usize = 16;

/// The wrap keys of `vectors/wrapped/`: `00 01 02 ..` of 16, 24 and 32 bytes, so every
/// vector unwraps under one of them.
fn wrap_keys() -> [WrapKey; 3] {
    let bytes: [u8; 32] = core::array::from_fn(|i| u8::try_from(i).unwrap_or(0));
    [16, 24, 32].map(|n| WrapKey::new(&bytes[..n]).expect("16, 24 and 32 are wrap key sizes"))
}

/// `.yhw` file (base64 text, or raw bytes) → blob → parts → unwrap under each fixed key
/// → typed body → wrap again.
///
/// - a file read as text is text ([`wrap::is_text`]), and its blob re-encodes to the same
///   text once the byte order mark, the surrounding whitespace and the line breaks are
///   taken out: the decoder accepts one spelling per blob, laid out on one line or wrapped;
///   the blob written as text reads back as the same blob;
/// - a file read as raw bytes is not text, and is the blob itself;
/// - a blob splits into parts that join back into the same blob;
/// - an object that unwraps wraps again, under the same key and the blob's nonce, into
///   exactly the same blob;
/// - the tag stops the fuzzer from reaching the body decoders, so the blob's ciphertext
///   part is also taken as a plaintext, sealed under a fixed key and unwrapped: that can
///   never fail authentication, and whatever decodes wraps back to the sealed blob. When
///   the first nonce byte is odd, the header's wrap algorithm and length are set to fit,
///   so that most inputs get through to the body decoders.
pub fn yhw_text(data: &[u8]) {
    let blob = match wrap::decode_file(data) {
        Ok((blob, wrap::Encoding::Base64)) => {
            assert!(wrap::is_text(data), "only text is read as base64");
            let spelled: Vec<u8> = data
                .strip_prefix(wrap::UTF8_BOM)
                .unwrap_or(data)
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            assert_eq!(wrap::encode_text(&blob).as_bytes(), spelled, "base64 round trip");
            let again = wrap::decode_file(&wrap::encode_file(&blob, wrap::Encoding::Base64));
            assert_eq!(again, Ok((blob.clone(), wrap::Encoding::Base64)), "text re-read");
            blob
        }
        Ok((blob, wrap::Encoding::Binary)) => {
            assert!(!wrap::is_text(data), "text is never read as raw bytes");
            assert_eq!(blob, data, "raw bytes are the blob");
            assert_eq!(wrap::encode_file(&blob, wrap::Encoding::Binary), data, "raw round trip");
            blob
        }
        Err(e) => return check_display(&e),
    };
    let parts = match WrappedBlob::parse(&blob) {
        Ok(parts) => parts,
        Err(e) => {
            assert!(blob.len() < wrap::MIN_BLOB_LEN, "a long enough blob always splits");
            return check_display(&e);
        }
    };
    assert_eq!(parts.to_bytes(), blob, "blob parts round trip");

    let keys = wrap_keys();
    for key in &keys {
        match wrap::unwrap(key, &blob) {
            Ok(object) => check_rewrap(key, parts.nonce, &object, &blob),
            Err(e) => check_display(&e),
        }
    }

    let key = &keys[usize::from(parts.nonce[1] % 3)];
    let mut plaintext = parts.ciphertext.clone();
    if parts.nonce[0] & 1 == 1 {
        let body_len = plaintext.len().saturating_sub(WrapHeader::LEN);
        let length = u16::try_from(body_len).unwrap_or(u16::MAX).to_be_bytes();
        plaintext[0] = key.algorithm().0;
        // The length field sits after wrap algorithm (1), capabilities (8) and id (2).
        plaintext[11..13].copy_from_slice(&length);
    }
    let Ok(tag) = wrap::ccm_seal(key, &parts.nonce, &mut plaintext) else {
        assert!(plaintext.len() > wrap::MAX_PLAINTEXT_LEN, "CCM seals any short plaintext");
        return;
    };
    let sealed = WrappedBlob { nonce: parts.nonce, ciphertext: plaintext, tag }.to_bytes();
    match wrap::unwrap(key, &sealed) {
        Ok(object) => check_rewrap(key, parts.nonce, &object, &sealed),
        Err(WrapError::Authentication) => panic!("a blob sealed under the key did not open"),
        Err(e) => check_display(&e),
    }
}

fn check_rewrap(
    key: &WrapKey,
    nonce: [u8; wrap::NONCE_LEN],
    object: &wrap::WrappedObject,
    blob: &[u8],
) {
    let again = wrap::wrap(key, nonce, object).expect("an unwrapped object wraps again");
    assert_eq!(again, blob, "unwrap then wrap gives back the blob");
    assert_eq!(wrap::unwrap(key, &again).as_ref(), Ok(object), "the re-wrapped blob unwraps alike");
    if let Some(public) = object.public_key() {
        assert!(!public.is_empty(), "a public key has bytes");
    }
}

/// Share lines → shares → combine.
///
/// - a share re-renders to canonical text that parses back to the same share;
/// - whatever combines, combines to the same result in reverse order and from the last
///   `threshold` shares alone (every share lies on one polynomial);
/// - the recovered secret, split again with fixed coefficients, combines back to itself.
pub fn shares(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else { return };
    let mut parsed = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()).take(MAX_SHARE_LINES) {
        match Share::parse(line) {
            Ok(share) => {
                let rendered = share.render();
                assert_eq!(Share::parse(&rendered).as_ref(), Ok(&share), "render then parse");
                parsed.push(share);
            }
            Err(e) => check_display(&e),
        }
    }
    let recovered = match shares::combine(&parsed) {
        Ok(recovered) => recovered,
        Err(e) => return check_display(&e),
    };
    assert_eq!(recovered.combined, parsed.len(), "every share is counted");
    // What the shares hold, whichever of them were combined.
    let held = |r: &shares::Recovered| (r.secret.clone(), r.format, r.threshold);
    let mut reversed = parsed.clone();
    reversed.reverse();
    let again = shares::combine(&reversed);
    assert_eq!(again.as_ref().map(held), Ok(held(&recovered)), "combine in reverse order");
    let k = usize::from(recovered.threshold);
    let last = parsed.get(parsed.len().saturating_sub(k)..).unwrap_or_default();
    let again = shares::combine(last);
    assert_eq!(again.as_ref().map(held), Ok(held(&recovered)), "combine the last k shares");

    if recovered.threshold >= 2 {
        let len = recovered.secret.to_bytes().len();
        let rows: Vec<Vec<u8>> = (1..recovered.threshold)
            .map(|t| (0..len).map(|i| t ^ u8::try_from(i % 251).unwrap_or(0) | 1).collect())
            .collect();
        let again = shares::split_with_coefficients(&recovered.secret, &rows, 9, recovered.format)
            .expect("a recovered secret splits again");
        let back = shares::combine(&again).expect("fresh shares combine");
        assert_eq!(back.secret, recovered.secret, "split then combine");
    }
}

/// Calls `$f::<C>($data)` for every command type of [`command`]: the registry's list
/// and the second form of get-device-info. The test `the_frame_entry_covers_every_command`
/// checks that none is missing.
macro_rules! for_every_command {
    ($data:expr, $f:ident) => {{
        command::every_command!(call_each($data, $f));
        $f::<command::GetPartNumber>($data);
    }};
}

macro_rules! call_each {
    ($data:expr, $f:ident; $($t:ident),* $(,)?) => {
        $($f::<command::$t>($data);)*
    };
}

/// The command types [`for_every_command`] covers, for the test that compares them with
/// the `impl Command for` blocks in the sources.
#[cfg(test)]
pub(crate) fn covered_commands() -> Vec<&'static str> {
    fn record<C: Command>(names: &mut Vec<&'static str>) {
        let full = core::any::type_name::<C>();
        names.push(full.rsplit("::").next().unwrap_or(full));
    }
    let mut names = Vec::new();
    for_every_command!(&mut names, record);
    names
}

/// Every frame parser on the same bytes: the framing itself, then each typed request and
/// response decoder (and the trace redaction) for every command of [`command`].
///
/// - a frame that splits re-encodes to the same bytes (or is too long to build);
/// - a request or response that decodes re-encodes to the same frame and decodes again
///   to the same value;
/// - redaction keeps the length and the frame header.
pub fn response_frame(data: &[u8]) {
    if let Ok((code, body)) = frame::decode(data) {
        match frame::encode(code, body) {
            Ok(again) => assert_eq!(again, data, "frame round trip"),
            Err(e) => assert!(body.len() > MAX_DATA_LEN, "{e}"),
        }
    }
    for_every_command!(data, both_ways);
    // What a host does next with some answers, on whatever decodes.
    if let Ok(log) = command::decode_response_frame::<command::GetLogEntries>(data) {
        let _ = command::verify_log_chain(&log.entries, None);
        let _ = command::verify_log_chain(&log.entries, log.entries.last());
    }
    if let Ok(option) = command::decode_response_frame::<command::GetOption>(data) {
        let _ = (option.pairs(), option.audit_mode());
    }
    if let Ok(info) = command::decode_response_frame::<command::GetDeviceInfo>(data) {
        let _ = (info.max_frame_len(), info.has_part_number());
    }
}

fn both_ways<C>(data: &[u8])
where
    C: Command + PartialEq + Debug,
    C::Response: PartialEq + Debug,
{
    match command::decode_response_frame::<C>(data) {
        Ok(response) => {
            let again = command::encode_response_frame::<C>(&response)
                .expect("a decoded response fits in a frame");
            assert_eq!(again.as_slice(), data, "{} response round trip", C::CODE);
            assert_eq!(command::decode_response_frame::<C>(&again), Ok(response));
        }
        Err(e) => check_display(&e),
    }
    match C::from_frame(data) {
        Ok(request) => {
            let again = request.to_frame().expect("a decoded request fits in a frame");
            assert_eq!(again.as_slice(), data, "{} request round trip", C::CODE);
            assert_eq!(C::from_frame(&again), Ok(request));
        }
        Err(e) => check_display(&e),
    }
    let redacted = command::redact_response(C::CODE, data);
    assert_eq!(redacted.len(), data.len(), "redaction keeps the length");
    assert_eq!(redacted.get(..3), data.get(..3), "redaction keeps the frame header");
    let redacted = command::redact_request(data);
    assert_eq!(redacted.len(), data.len(), "redaction keeps the length");
    assert_eq!(redacted.get(..3), data.get(..3), "redaction keeps the frame header");
}

// The fixed session of `session_open`: keys, challenges and ids are arbitrary constants
// (the real derivations are checked against Yubico's transcript elsewhere); what matters
// is that every run builds the same session, so that a saved input replays.
const AUTH_KEY_ID: u16 = 1;
const SESSION_ID: u8 = 3;
const HOST_CHALLENGE: [u8; 8] = [0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7];
const CARD_CHALLENGE: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
const CLIENT_SECRET: [u8; 32] = [0x11; 32];
const DEVICE_SECRET: [u8; 32] = [0x22; 32];
const CLIENT_EPHEMERAL: [u8; 32] = [0x33; 32];
const DEVICE_EPHEMERAL: [u8; 32] = [0x44; 32];
/// The command the client has sealed when the fuzz bytes arrive as its response.
const PENDING_COMMAND: [u8; 5] = [0x01, 0x00, 0x02, 0xfe, 0xed];

fn static_keys() -> StaticKeys {
    StaticKeys::new(SecretArray::new([0x40; 16]), SecretArray::new([0x4d; 16]))
}

/// The modes of [`session_open`], chosen by the first input byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionMode {
    /// The bytes answer a symmetric CREATE_SESSION.
    CreateSession,
    /// The bytes answer AUTHENTICATE_SESSION, after a genuine CREATE_SESSION answer.
    Authenticate,
    /// The bytes answer an asymmetric (P-256) CREATE_SESSION.
    CreateAsymmetric,
    /// The bytes answer a sealed command of an established session, after this many
    /// (0 to 3) genuine exchanges.
    Established(u8),
}

impl SessionMode {
    /// The mode of first byte `b`.
    pub fn from_byte(b: u8) -> Self {
        match b % 7 {
            0 => Self::CreateSession,
            1 => Self::Authenticate,
            2 => Self::CreateAsymmetric,
            n => Self::Established(n - 3),
        }
    }

    /// A first byte selecting this mode.
    pub fn to_byte(self) -> u8 {
        match self {
            Self::CreateSession => 0,
            Self::Authenticate => 1,
            Self::CreateAsymmetric => 2,
            Self::Established(n) => 3 + n % 4,
        }
    }
}

/// A client and a device session in step, after `exchanges` genuine exchanges.
fn established_pair(exchanges: u8) -> (ClientSession, DeviceSession) {
    let keys = static_keys();
    let client = ClientHandshake::new(AUTH_KEY_ID, &keys, HOST_CHALLENGE);
    let (device, create) =
        DeviceHandshake::new(AUTH_KEY_ID, HOST_CHALLENGE, &keys, CARD_CHALLENGE, SESSION_ID);
    let (client, authenticate) =
        client.on_create_session_response(&create).expect("genuine create-session answer");
    let (mut device, ok) =
        device.on_authenticate_request(&authenticate).expect("genuine authenticate request");
    let mut client = client.on_authenticate_response(&ok).expect("genuine authenticate answer");
    for i in 0..exchanges {
        let inner = [0x01, 0x00, 0x01, i];
        let command = client.seal(&inner).expect("seal");
        assert_eq!(device.open_command(&command).expect("open command"), inner);
        let response = device.seal_response(&[0x81, 0x00, 0x01, i]).expect("seal response");
        assert_eq!(client.open(&response).expect("open response"), [0x81, 0x00, 0x01, i]);
    }
    (client, device)
}

fn asymmetric_handshake() -> AsymmetricClientHandshake {
    let device_public =
        scp03::public_key(&SecretArray::new(DEVICE_SECRET)).expect("a valid P-256 secret");
    AsymmetricClientHandshake::new(
        AUTH_KEY_ID,
        &SecretArray::new(CLIENT_SECRET),
        &device_public,
        &SecretArray::new(CLIENT_EPHEMERAL),
    )
    .expect("valid P-256 keys")
}

/// The device's genuine answer to [`asymmetric_handshake`]'s request.
fn asymmetric_answer(request: &[u8]) -> Vec<u8> {
    let epk_oce: [u8; scp03::EC_PUBLIC_KEY_LEN] =
        request.get(5..).and_then(|k| k.try_into().ok()).expect("request carries EPK-OCE");
    let client_public =
        scp03::public_key(&SecretArray::new(CLIENT_SECRET)).expect("a valid P-256 secret");
    let (_, answer) = scp03::accept_asymmetric(
        AUTH_KEY_ID,
        &epk_oce,
        &client_public,
        &SecretArray::new(DEVICE_SECRET),
        &SecretArray::new(DEVICE_EPHEMERAL),
        SESSION_ID,
    )
    .expect("valid P-256 keys");
    answer
}

/// Arbitrary bytes as the device's answer at one step of the client half of SCP03; the
/// first byte picks the step ([`SessionMode`]). Mostly: an established session (after 0
/// to 3 exchanges) whose pending command gets the bytes as its response.
///
/// - a failed `open` poisons the session: every later `seal` and `open` fails with
///   [`SessionError::Poisoned`] (no plaintext, no corrupted state going on);
/// - an `open` that succeeds returns a whole inner frame, the bytes are exactly what the
///   device half seals for that frame, and the session goes on working;
/// - a handshake step succeeds only on the genuine answer, and then leads to a session
///   that works with the device half.
pub fn session_open(data: &[u8]) {
    let Some((&mode, answer)) = data.split_first() else { return };
    match SessionMode::from_byte(mode) {
        SessionMode::CreateSession => {
            let hs = ClientHandshake::new(AUTH_KEY_ID, &static_keys(), HOST_CHALLENGE);
            match hs.on_create_session_response(answer) {
                Ok((_, authenticate)) => {
                    // The cryptogram proves the answer came from the keys: the device
                    // half, given the answer's session id and card challenge, makes it.
                    let (device, genuine) = DeviceHandshake::new(
                        AUTH_KEY_ID,
                        HOST_CHALLENGE,
                        &static_keys(),
                        answer.get(4..12).and_then(|c| c.try_into().ok()).expect("challenge"),
                        answer.get(3).copied().expect("session id"),
                    );
                    assert_eq!(genuine, answer, "only the genuine create-session answer passes");
                    assert!(device.on_authenticate_request(&authenticate).is_ok());
                }
                Err(e) => check_display(&e),
            }
        }
        SessionMode::Authenticate => {
            let hs = ClientHandshake::new(AUTH_KEY_ID, &static_keys(), HOST_CHALLENGE);
            let (_, create) = DeviceHandshake::new(
                AUTH_KEY_ID,
                HOST_CHALLENGE,
                &static_keys(),
                CARD_CHALLENGE,
                SESSION_ID,
            );
            let (authenticating, _) = hs.on_create_session_response(&create).expect("genuine");
            match authenticating.on_authenticate_response(answer) {
                Ok(session) => {
                    assert_eq!(answer, [0x84, 0x00, 0x00], "only `84 00 00` authenticates");
                    assert!(!session.is_poisoned());
                }
                Err(e) => check_display(&e),
            }
        }
        SessionMode::CreateAsymmetric => {
            let hs = asymmetric_handshake();
            let request = hs.request();
            match hs.on_create_session_response(answer) {
                Ok(mut session) => {
                    let genuine = asymmetric_answer(&request);
                    // The receipt covers both ephemeral keys but not the session id (as
                    // the card cryptogram does not either): a changed id only makes the
                    // device refuse the session's messages later.
                    let mut expected = genuine;
                    if let (Some(sid), Some(&got)) = (expected.get_mut(3), answer.get(3)) {
                        *sid = got;
                    }
                    assert_eq!(expected, answer, "only the genuine asymmetric answer passes");
                    assert!(session.seal(&PENDING_COMMAND).is_ok());
                }
                Err(e) => check_display(&e),
            }
        }
        SessionMode::Established(exchanges) => {
            let (mut client, mut device) = established_pair(exchanges);
            let command = client.seal(&PENDING_COMMAND).expect("seal");
            device.open_command(&command).expect("the device opens the client's command");
            match client.open(answer) {
                Ok(inner) => {
                    assert!(frame::decode(&inner).is_ok(), "an opened response is one frame");
                    let genuine = device.seal_response(&inner).expect("the device seals it");
                    assert_eq!(genuine, answer, "only the device's own answer opens");
                    assert!(!client.is_poisoned());
                    let next = client.seal(&PENDING_COMMAND).expect("the session goes on");
                    assert_eq!(device.open_command(&next).expect("in step"), PENDING_COMMAND);
                }
                Err(e) => {
                    check_display(&e);
                    assert!(client.is_poisoned(), "a failed open ends the session: {e}");
                    assert_eq!(client.seal(&PENDING_COMMAND), Err(SessionError::Poisoned));
                    assert_eq!(client.open(answer), Err(SessionError::Poisoned));
                }
            }
        }
    }
}

/// Genuine answers for every mode of [`session_open`]: the seeds the fuzzer mutates, since
/// it cannot find a valid MAC, cryptogram or receipt by itself.
pub fn session_open_seeds() -> Vec<Vec<u8>> {
    let with_mode = |mode: SessionMode, answer: &[u8]| {
        let mut seed = vec![mode.to_byte()];
        seed.extend_from_slice(answer);
        seed
    };
    let mut seeds = Vec::new();
    let (_, create) = DeviceHandshake::new(
        AUTH_KEY_ID,
        HOST_CHALLENGE,
        &static_keys(),
        CARD_CHALLENGE,
        SESSION_ID,
    );
    seeds.push(with_mode(SessionMode::CreateSession, &create));
    seeds.push(with_mode(SessionMode::Authenticate, &[0x84, 0x00, 0x00]));
    seeds.push(with_mode(
        SessionMode::CreateAsymmetric,
        &asymmetric_answer(&asymmetric_handshake().request()),
    ));
    let inner_answers: [&[u8]; 4] = [
        &[0x81, 0x00, 0x02, 0xfe, 0xed],
        &[0x7f, 0x00, 0x01, 0x0b],
        &[0x81, 0x00, 0x00],
        &[0xc8, 0x00, 0x10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    ];
    for exchanges in 0..4 {
        for inner in inner_answers {
            let (mut client, mut device) = established_pair(exchanges);
            let command = client.seal(&PENDING_COMMAND).expect("seal");
            device.open_command(&command).expect("open");
            let answer = device.seal_response(inner).expect("seal response");
            seeds.push(with_mode(SessionMode::Established(exchanges), &answer));
        }
    }
    // A bare device error and a truncated answer.
    seeds.push(with_mode(
        SessionMode::Established(0),
        &frame::encode_error(frame::ErrorCode::INVALID_SESSION),
    ));
    seeds.push(with_mode(SessionMode::Established(1), &[0x85, 0x00]));
    seeds
}

/// Formatting an error must not panic (and is where a leak would show).
fn check_display<E: core::fmt::Display + Debug>(e: &E) {
    let text = e.to_string();
    let debug = format!("{e:?}");
    assert!(!text.is_empty() && !debug.is_empty());
}

#[cfg(test)]
mod tests;
