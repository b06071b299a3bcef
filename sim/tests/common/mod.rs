//! A tiny host for driving the simulator in tests, built on proto's client half of SCP03
//! and its typed commands (the real client layer lives in the transport crate).

#![allow(dead_code, reason = "each test binary uses a different part of the helper")]

use std::time::Duration;

use yhsm_proto::command::{Command, ObjectHeader, Response};
use yhsm_proto::frame::{self, CommandCode, ErrorCode};
use yhsm_proto::scp03::{AsymmetricClientHandshake, ClientHandshake, ClientSession, StaticKeys};
use yhsm_proto::secret::SecretArray;
use yhsm_proto::{Algorithm, Capabilities, Domains, Label};
use yhsm_sim::{Config, Device, ManualClock, Reply};

/// A device on a manual clock with a fixed seed, and its clock.
pub fn device() -> (Device, ManualClock) {
    let clock = ManualClock::new();
    let dev = Device::with_clock_and_seed(Config::default(), Box::new(clock.clone()), [7; 32]);
    (dev, clock)
}

/// Sends a raw frame, expecting a response frame.
pub fn raw(dev: &mut Device, request: &[u8]) -> Vec<u8> {
    match dev.handle(request) {
        Reply::Frame(f) => f,
        other => panic!("expected a frame, got {other:?}"),
    }
}

/// The static keys of the factory password.
pub fn factory_keys() -> StaticKeys {
    StaticKeys::from_password(b"password")
}

/// An authenticated session.
pub struct Session {
    pub inner: ClientSession,
}

/// Opens a symmetric session with key `id` and `keys`.
pub fn open(dev: &mut Device, id: u16, keys: &StaticKeys) -> Result<Session, ErrorCode> {
    let hs = ClientHandshake::new(id, keys, [0xa5; 8]);
    let resp = raw(dev, &hs.request());
    let (auth, req) = hs.on_create_session_response(&resp).map_err(session_error)?;
    let resp = raw(dev, &req);
    let inner = auth.on_authenticate_response(&resp).map_err(session_error)?;
    Ok(Session { inner })
}

/// Opens a session with the factory key.
pub fn open_factory(dev: &mut Device) -> Session {
    open(dev, 1, &factory_keys()).expect("factory session")
}

/// Opens an asymmetric session with key `id` whose private key is `secret`.
pub fn open_asymmetric(
    dev: &mut Device,
    id: u16,
    secret: &SecretArray<32>,
) -> Result<Session, ErrorCode> {
    let pk = raw(dev, &[0x0a, 0, 0]);
    let device_pk = pk.get(4..).expect("device public key");
    let hs = AsymmetricClientHandshake::new(id, secret, device_pk, &SecretArray::new([0x33; 32]))
        .expect("handshake");
    let resp = raw(dev, &hs.request());
    let inner = hs.on_create_session_response(&resp).map_err(session_error)?;
    Ok(Session { inner })
}

fn session_error(e: yhsm_proto::SessionError) -> ErrorCode {
    match e {
        yhsm_proto::SessionError::Device(code) => code,
        other => panic!("session failed: {other}"),
    }
}

impl Session {
    /// Sends `code || data`, returns the response data or the device error.
    pub fn send(
        &mut self,
        dev: &mut Device,
        code: CommandCode,
        data: &[u8],
    ) -> Result<Vec<u8>, ErrorCode> {
        let inner = frame::encode(code.0, data).expect("frame");
        let sealed = self.inner.seal(&inner).expect("seal");
        let resp = raw(dev, &sealed);
        let inner = self.inner.open(&resp).map_err(session_error)?;
        frame::decode_response(code, &inner).map(<[u8]>::to_vec).map_err(|e| match e {
            yhsm_proto::FrameError::Device(c) => c,
            other => panic!("bad inner response: {other}"),
        })
    }

    /// Sends a typed command and parses its answer.
    pub fn call<C: Command>(
        &mut self,
        dev: &mut Device,
        cmd: &C,
    ) -> Result<C::Response, ErrorCode> {
        let data = self.send(dev, C::CODE, &cmd.to_data())?;
        Ok(C::Response::decode(&data).expect("typed response"))
    }
}

/// An object header.
pub fn header(
    id: u16,
    label: &str,
    domains: u16,
    caps: Capabilities,
    alg: Algorithm,
) -> ObjectHeader {
    ObjectHeader {
        id,
        label: Label::from_bytes(label.as_bytes()).expect("label"),
        domains: Domains(domains),
        capabilities: caps,
        algorithm: alg,
    }
}

/// Thirty-one seconds.
pub const PAST_TIMEOUT: Duration = Duration::from_secs(31);
