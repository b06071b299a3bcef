//! The entry point of the `device_command` fuzz target (`fuzz/`): arbitrary frames into a
//! simulator, before and after authentication, with every answer checked by proto's
//! client half and typed response decoders.
//!
//! A broken property panics: that is what a fuzzer detects. So this module is compiled
//! only for this crate's tests (which run it over the seed corpus and the saved
//! regression inputs in `fuzz/regressions/device_command/`) and with the `fuzzing`
//! feature, which only the fuzz package turns on.

#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "a fuzz entry point reports a broken property by panicking"
)]

use std::fmt::Debug;
use std::time::Duration;

use yhsm_proto::command::{self, Command, GetLogEntries, Response};
use yhsm_proto::frame::{self, CommandCode, FrameError, MAX_FRAME_LEN};
use yhsm_proto::scp03::{ClientHandshake, ClientSession, SessionError};

use crate::clock::ManualClock;
use crate::device::{self, Config, Device, Reply};

pub mod rsa_work;

/// The RNG seed of the fuzzed device: a fixed seed and a manual clock make every run of
/// an input identical, so a saved crash replays.
pub const SEED: [u8; 32] = [0x5e; 32];
/// The host challenge of every session the host opens.
const HOST_CHALLENGE: [u8; 8] = [0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7];
/// Steps after this many are ignored: enough to build and use objects, and a bound on
/// the time one input takes.
pub const MAX_STEPS: usize = 48;
/// Steps after the one that brings the input's RSA work to this cost
/// ([`rsa_work::Work::cost_ms`]: Miller-Rabin rounds, private-key operations, keys built
/// from primes outside the pool) are ignored: two RSA-2048 operations, or one of a larger
/// key, per input reach every RSA path, and more would only slow the fuzzer down. One
/// step adds at most about 300 ms (an RSA-4096 key built from other primes and used), so
/// no input does more than about 0.4 s of RSA work in the instrumented build.
pub const RSA_COST_BUDGET_MS: u32 = 120;

/// One step of an input: a kind byte, a big-endian 16-bit length, then that many bytes
/// (fewer at the end of the input). Kinds are taken modulo 4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// Kind 0: the bytes as a whole outer frame, sent as they are.
    Raw(&'a [u8]),
    /// Kind 1: `code || data`, framed and sealed in the host's session (opened with the
    /// factory key when there is none). Without authentication: sent as a plain frame.
    Command(&'a [u8]),
    /// Kind 2: the bytes as an inner frame, sealed as they are (a malformed one is
    /// refused by the client half and never sent).
    Inner(&'a [u8]),
    /// Kind 3: the clock moves on by the first byte's number of seconds (session
    /// timeouts are 30 s).
    Wait(&'a [u8]),
}

impl<'a> Step<'a> {
    fn kind_and_bytes(&self) -> (u8, &'a [u8]) {
        match *self {
            Self::Raw(b) => (0, b),
            Self::Command(b) => (1, b),
            Self::Inner(b) => (2, b),
            Self::Wait(b) => (3, b),
        }
    }
}

/// Splits an input (after its mode byte) into steps.
pub fn steps(mut data: &[u8]) -> impl Iterator<Item = Step<'_>> {
    std::iter::from_fn(move || {
        let (&kind, rest) = data.split_first()?;
        let (len, rest) = match rest {
            [hi, lo, rest @ ..] => (usize::from(u16::from_be_bytes([*hi, *lo])), rest),
            _ => (0, &[][..]),
        };
        let (bytes, rest) = rest.split_at(len.min(rest.len()));
        data = rest;
        Some(match kind % 4 {
            0 => Step::Raw(bytes),
            1 => Step::Command(bytes),
            2 => Step::Inner(bytes),
            _ => Step::Wait(bytes),
        })
    })
    .take(MAX_STEPS)
}

/// The input for `steps`, authenticated first or not (for seeds and tests).
pub fn encode_input(authenticated: bool, steps: &[Step<'_>]) -> Vec<u8> {
    let mut out = vec![u8::from(authenticated)];
    for step in steps {
        let (kind, bytes) = step.kind_and_bytes();
        out.push(kind);
        out.extend_from_slice(&u16::try_from(bytes.len()).unwrap_or(u16::MAX).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

/// Arbitrary steps against a fresh simulator (fixed seed, manual clock). The first byte
/// chooses the start: odd opens a session with the factory key first (post-
/// authentication), even starts without one.
///
/// - the device never panics, and every request gets exactly one well-formed frame no
///   longer than [`MAX_FRAME_LEN`]: `7f 00 01 code`, or the request's code `| 0x80`;
/// - a successful answer to a request proto can decode satisfies proto's typed response
///   decoder and its checks against the request (`Command::parse_response`);
/// - inside a session, every answer opens with proto's client half (R-MAC, counter,
///   padding, inner length), unless it is a bare error that ended the session;
/// - every audit log read chains (`verify_log_chain`).
///
/// RSA work is bounded so that every input runs in well under a second with
/// AddressSanitizer: generated RSA keys come from a fixed pool, prime checks are cheaper,
/// and steps after [`RSA_COST_BUDGET_MS`] of RSA work are ignored ([`rsa_work`]).
pub fn device_command(data: &[u8]) {
    run(data);
}

/// [`device_command`], returning the device afterwards (`None` for an empty input).
pub fn run(data: &[u8]) -> Option<Device> {
    run_metered(data).map(|(dev, _)| dev)
}

/// [`run`], also returning the RSA work the input caused.
pub fn run_metered(data: &[u8]) -> Option<(Device, rsa_work::Work)> {
    let (&mode, rest) = data.split_first()?;
    let rsa = rsa_work::Scope::enter();
    let clock = ManualClock::new();
    let mut dev = Device::with_clock_and_seed(Config::default(), Box::new(clock.clone()), SEED);
    let mut host = Host { session: None, authenticated: mode & 1 == 1 };
    if host.authenticated {
        host.session = host.open(&mut dev);
        assert!(host.session.is_some(), "a fresh device opens a session with the factory key");
    }
    for step in steps(rest) {
        if rsa.work().cost_ms >= RSA_COST_BUDGET_MS {
            break;
        }
        match step {
            Step::Raw(request) => {
                send(&mut dev, request);
            }
            Step::Command(bytes) => {
                let (code, data) = bytes.split_first().unwrap_or((&0, &[]));
                // Longer than a frame: the client side never builds it.
                let Ok(inner) = frame::encode(*code, data) else { continue };
                host.sealed(&mut dev, &inner);
            }
            Step::Inner(inner) => host.sealed(&mut dev, inner),
            Step::Wait(bytes) => {
                let seconds = bytes.first().copied().unwrap_or(0);
                clock.advance(Duration::from_secs(u64::from(seconds)));
            }
        }
    }
    let work = rsa.work();
    Some((dev, work))
}

/// The host side: proto's client half with the factory key.
struct Host {
    session: Option<ClientSession>,
    authenticated: bool,
}

impl Host {
    /// A session with the factory key, or `None` when the device refuses (the fuzzer may
    /// have changed or deleted the key, or filled the session slots).
    fn open(&self, dev: &mut Device) -> Option<ClientSession> {
        let hs =
            ClientHandshake::new(device::FACTORY_KEY_ID, &device::factory_keys(), HOST_CHALLENGE);
        let answer = send(dev, &hs.request());
        let (authenticating, request) = hs.on_create_session_response(&answer).ok()?;
        let answer = send(dev, &request);
        authenticating.on_authenticate_response(&answer).ok()
    }

    /// Seals `inner` in the session (opening one first when authenticated) and checks the
    /// answer; without authentication, sends `inner` as a plain frame.
    fn sealed(&mut self, dev: &mut Device, inner: &[u8]) {
        if self.session.is_none() && self.authenticated {
            self.session = self.open(dev);
        }
        let Some(session) = self.session.as_mut() else {
            send(dev, inner);
            return;
        };
        let command = match session.seal(inner) {
            Ok(command) => command,
            Err(e) => {
                assert!(!session.is_poisoned(), "a refused seal leaves the session usable: {e}");
                return;
            }
        };
        let answer = send(dev, &command);
        match session.open(&answer) {
            Ok(inner_answer) => {
                check_answer(inner, &inner_answer);
                let code = inner.first().copied().map(CommandCode);
                let ended =
                    matches!(code, Some(CommandCode::CLOSE_SESSION | CommandCode::RESET_DEVICE))
                        && inner_answer.first() != Some(&CommandCode::ERROR.0);
                if ended {
                    self.session = None;
                }
            }
            // A bare error: the session expired, or a raw frame with its id ended it.
            Err(SessionError::Device(_)) => self.session = None,
            Err(e) => panic!("the device's answer to a sealed command does not open: {e}"),
        }
    }
}

/// Sends one frame and checks the answer.
fn send(dev: &mut Device, request: &[u8]) -> Vec<u8> {
    let reply = dev.handle(request);
    let Reply::Frame(answer) = reply else {
        panic!("no fault is armed, yet the device answered {reply:?}");
    };
    assert!(answer.len() <= MAX_FRAME_LEN, "an answer of {} bytes", answer.len());
    check_answer(request, &answer);
    answer
}

/// Calls `$f::<C>($request, $answer)` for every command type of proto.
macro_rules! for_every_command {
    ($request:expr, $answer:expr, $f:ident) => {{
        use yhsm_proto::command::*;
        $f::<BlinkDevice>($request, $answer);
        $f::<ChangeAuthenticationKey>($request, $answer);
        $f::<CloseSession>($request, $answer);
        $f::<DeleteObject>($request, $answer);
        $f::<Echo>($request, $answer);
        $f::<ExportWrapped>($request, $answer);
        $f::<GenerateAsymmetricKey>($request, $answer);
        $f::<GenerateWrapKey>($request, $answer);
        $f::<GetDeviceInfo>($request, $answer);
        $f::<GetDevicePublicKey>($request, $answer);
        $f::<GetLogEntries>($request, $answer);
        $f::<GetObjectInfo>($request, $answer);
        $f::<GetOpaque>($request, $answer);
        $f::<GetOption>($request, $answer);
        $f::<GetPartNumber>($request, $answer);
        $f::<GetPseudoRandom>($request, $answer);
        $f::<GetPublicKey>($request, $answer);
        $f::<GetStorageInfo>($request, $answer);
        $f::<ImportWrapped>($request, $answer);
        $f::<ListObjects>($request, $answer);
        $f::<PutAsymmetricKey>($request, $answer);
        $f::<PutAuthenticationKey>($request, $answer);
        $f::<PutHmacKey>($request, $answer);
        $f::<PutOpaque>($request, $answer);
        $f::<PutWrapKey>($request, $answer);
        $f::<ResetDevice>($request, $answer);
        $f::<SetLogIndex>($request, $answer);
        $f::<SetOption>($request, $answer);
        $f::<SignEcdsa>($request, $answer);
    }};
}

/// Checks an answer (outer or inner) to a request frame.
fn check_answer(request: &[u8], answer: &[u8]) {
    let (code, data) = frame::decode(answer).expect("the device answers one well-formed frame");
    if code == CommandCode::ERROR.0 {
        assert_eq!(data.len(), 1, "an error frame carries one code");
        return;
    }
    assert_eq!(request.first().map(|c| c | 0x80), Some(code), "answer code");
    for_every_command!(request, answer, typed);
    if code == CommandCode::GET_LOG_ENTRIES.response() {
        let entries =
            command::decode_response_frame::<GetLogEntries>(answer).expect("the log decodes");
        let chain = command::verify_log_chain(&entries.entries, None);
        assert!(chain.is_ok(), "the audit log chains: {chain:?}");
    }
}

/// When `request` decodes as a `C`, its successful answer must pass `C`'s response
/// decoder and checks.
fn typed<C>(request: &[u8], answer: &[u8])
where
    C: Command + Debug,
    C::Response: Debug,
{
    let Ok(req) = C::from_frame(request) else { return };
    match req.parse_response(answer) {
        Ok(response) => {
            // And the typed answer is the answer, byte for byte.
            let again = command::encode_response_frame::<C>(&response).expect("fits");
            assert_eq!(again.as_slice(), answer, "{} answer round trip", C::CODE);
            let _ = response.to_data();
        }
        Err(FrameError::Device(_)) => {}
        Err(e) => panic!("the answer to {req:?} fails proto's checks: {e}"),
    }
}

#[cfg(test)]
mod tests;
