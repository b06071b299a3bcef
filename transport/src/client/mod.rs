//! The client layer (docs/PROTOCOL.md §2 "Framing", §4 "SCP03 sessions"): a [`Transport`], the
//! device's info, the credentials to re-open a session, and the current SCP03 session of
//! `yhsm-proto`, driven exchange by exchange.
//!
//! - Right after connecting, GET_DEVICE_INFO (outside a session) tells the firmware
//!   version and so the frame limit: sessions to firmware older than 2.4 seal frames of at
//!   most 2048 bytes.
//! - [`Client::authenticate`] opens a session from a password, raw keys or a P-256
//!   private key; [`Client::send`] runs any typed command inside it, [`Client::send_plain`]
//!   outside. The typed methods (`list_objects`, `put_wrap_key`, ...) are thin wrappers.
//! - A broken session is re-created once and the command repeated only when that is safe:
//!   the rules are in the `retry` module, the table in [`is_safe_to_repeat`].
//! - An [`Observer`] sees every exchange redacted: key material, and everything of the
//!   session layer that would help open a session. One that asks for raw session frames
//!   ([`Exposure`]) gets them, and commands that move key material are then refused.
//! - Dropping the client closes its session (best effort).

mod commands;
mod credentials;
mod error;
mod observer;
mod retry;
mod rng;

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use rand_core::CryptoRng;
#[cfg(feature = "p256")]
use yhsm_proto::AsymmetricClientHandshake;
#[cfg(feature = "p256")]
use yhsm_proto::command::GetDevicePublicKey;
use yhsm_proto::command::{
    CloseSession, Command, DeviceInfo, DevicePublicKey, GetDeviceInfo, carries_key_material,
    redact_request, redact_response,
};
use yhsm_proto::frame::{
    self, CommandCode, ErrorCode, FrameError, HEADER_LEN, MAX_DATA_LEN, MAX_FRAME_LEN_PRE_2_4,
};
use yhsm_proto::object::ObjectId;
#[cfg(feature = "p256")]
use yhsm_proto::scp03;
use yhsm_proto::scp03::{CHALLENGE_LEN, EC_SECRET_LEN};
use yhsm_proto::{ClientHandshake, ClientSession, SecretArray, SessionError};
use zeroize::Zeroizing;

pub use credentials::{CredentialKind, Credentials};
pub use error::ClientError;
pub use observer::{ExchangeEvent, Exposure, Observer, RawFrames};
pub use retry::is_safe_to_repeat;

use crate::{ConnectorUrl, Timeouts, Transport, TransportError};
use credentials::Secret;
use rng::Randomness;

/// A session idle for longer than this is replaced before a command that is not safe to
/// repeat: the device drops sessions after 30 s idle, and such a command could not be
/// sent again on a new session if it met an expired one.
pub const DEFAULT_SESSION_IDLE_LIMIT: Duration = Duration::from_secs(20);

/// How many random scalars to draw for an ephemeral P-256 key before giving up; one fails
/// with probability below 2^-32.
#[cfg(feature = "p256")]
const EPHEMERAL_KEY_DRAWS: usize = 8;

/// What a client starts with besides its transport.
pub struct ClientOptions {
    observer: Option<Box<dyn Observer>>,
    rng: Option<Box<dyn CryptoRng + Send>>,
}

impl ClientOptions {
    /// No observer, the operating system's random generator.
    pub fn new() -> Self {
        Self { observer: None, rng: None }
    }

    /// Sees every exchange, the first GET_DEVICE_INFO included.
    #[must_use]
    pub fn observer(mut self, observer: Box<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Draws host challenges, ephemeral keys and session tags from `rng` instead of the
    /// operating system.
    #[must_use]
    pub fn rng(mut self, rng: Box<dyn CryptoRng + Send>) -> Self {
        self.rng = Some(rng);
        self
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("observer", &self.observer.is_some())
            .field("rng", &if self.rng.is_some() { "injected" } else { "os" })
            .finish()
    }
}

/// The open session and what the client knows about it.
struct Session {
    channel: ClientSession,
    /// Passed to the transport with each message (yubihsm-connector's `YubiHSM-Session`).
    tag: [u8; 8],
    last_used: Instant,
}

/// How an exchange inside a session failed.
enum Failure {
    /// The session is gone (expired, or the exchange was lost): a new one may carry a
    /// repeat, if the command is safe to repeat.
    SessionLost(ClientError),
    /// Anything else: reported as it is.
    Fatal(ClientError),
}

impl Failure {
    fn into_error(self) -> ClientError {
        match self {
            Self::SessionLost(e) | Self::Fatal(e) => e,
        }
    }
}

/// A connection to one YubiHSM 2: its transport, its device info and, once authenticated,
/// a session that the client keeps alive across commands.
pub struct Client {
    transport: Box<dyn Transport>,
    device_info: DeviceInfo,
    max_frame_len: usize,
    credentials: Option<Credentials>,
    session: Option<Session>,
    rng: Randomness,
    observer: Option<Box<dyn Observer>>,
    idle_limit: Option<Duration>,
}

impl Client {
    /// Opens the transport `url` names (`yhusb://[serial=N]`, `http://…`; `sim:` is wired
    /// by the binary through [`Client::with_transport`]) and reads the device info.
    pub fn connect(url: &ConnectorUrl, timeouts: Timeouts) -> Result<Self, ClientError> {
        Self::connect_with(url, timeouts, ClientOptions::new())
    }

    /// [`Client::connect`] with an observer or a random generator.
    pub fn connect_with(
        url: &ConnectorUrl,
        timeouts: Timeouts,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let transport =
            crate::open(url, timeouts).map_err(|source| ClientError::Connect { source })?;
        Self::with_transport_options(transport, options)
    }

    /// A client on an open transport; sends GET_DEVICE_INFO to learn the firmware.
    pub fn with_transport(transport: Box<dyn Transport>) -> Result<Self, ClientError> {
        Self::with_transport_options(transport, ClientOptions::new())
    }

    /// [`Client::with_transport`] with an observer or a random generator.
    pub fn with_transport_options(
        transport: Box<dyn Transport>,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let mut client = Self {
            transport,
            // Replaced by the device's answer below; until then the smallest frame limit.
            device_info: DeviceInfo {
                version: (0, 0, 0),
                serial: 0,
                log_total: 0,
                log_used: 0,
                algorithms: Vec::new(),
            },
            max_frame_len: MAX_FRAME_LEN_PRE_2_4,
            credentials: None,
            session: None,
            rng: options.rng.map_or(Randomness::Os, Randomness::Injected),
            observer: options.observer,
            idle_limit: Some(DEFAULT_SESSION_IDLE_LIMIT),
        };
        client.refresh_device_info()?;
        Ok(client)
    }

    /// The device info read when connecting (or by [`Client::refresh_device_info`]).
    pub fn device_info(&self) -> &DeviceInfo {
        &self.device_info
    }

    /// Reads the device info again (log usage changes as commands run).
    pub fn refresh_device_info(&mut self) -> Result<&DeviceInfo, ClientError> {
        let info = self.send_plain(&GetDeviceInfo)?;
        self.max_frame_len = info.max_frame_len();
        if let Some(session) = &mut self.session {
            session.channel.set_max_frame_len(self.max_frame_len);
        }
        self.device_info = info;
        Ok(&self.device_info)
    }

    /// The largest frame this device accepts, header included.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    /// What the transport talks to, for messages.
    pub fn describe(&self) -> String {
        self.transport.describe()
    }

    /// Sets (replaces) the observer of exchanges.
    pub fn set_observer(&mut self, observer: Box<dyn Observer>) {
        self.observer = Some(observer);
    }

    /// Removes the observer and returns it.
    pub fn take_observer(&mut self) -> Option<Box<dyn Observer>> {
        self.observer.take()
    }

    /// Draws randomness from `rng` from now on.
    pub fn set_rng(&mut self, rng: Box<dyn CryptoRng + Send>) {
        self.rng = Randomness::Injected(rng);
    }

    /// After how long idle a session is replaced before a command that is not safe to
    /// repeat ([`DEFAULT_SESSION_IDLE_LIMIT`]); `None` never replaces it early.
    pub fn set_session_idle_limit(&mut self, limit: Option<Duration>) {
        self.idle_limit = limit;
    }

    /// Opens a session with `credentials` and keeps them (zeroized) to re-open it later.
    /// An open session is closed first; on failure the client is left unauthenticated.
    ///
    /// A wrong password or key is [`ClientError::AuthenticationFailed`]. Asymmetric
    /// credentials without a pinned device key fetch it with GET_DEVICE_PUBLIC_KEY.
    pub fn authenticate(&mut self, credentials: Credentials) -> Result<(), ClientError> {
        self.close_quietly();
        self.credentials = None;
        let mut credentials = credentials;
        let session = self.handshake(&mut credentials)?;
        self.credentials = Some(credentials);
        self.session = Some(session);
        Ok(())
    }

    /// The id the device gave the open session.
    pub fn session_id(&self) -> Option<u8> {
        self.session.as_ref().map(|s| s.channel.session_id())
    }

    /// The authentication key of the credentials in use.
    pub fn auth_key_id(&self) -> Option<ObjectId> {
        self.credentials.as_ref().map(Credentials::key_id)
    }

    /// Whether credentials are set (a session is open, or will be for the next command).
    pub fn is_authenticated(&self) -> bool {
        self.credentials.is_some()
    }

    /// Sends `command` inside the session and returns its checked answer: opens the
    /// session first if there is none (after an earlier failure), and applies the repeat
    /// rules of [`is_safe_to_repeat`].
    pub fn send<C: Command>(&mut self, command: &C) -> Result<C::Response, ClientError> {
        let frame = request_frame(command)?;
        let response = self.session_exchange(C::CODE, &frame)?;
        parse(command, &response)
    }

    /// Sends `command` outside any session (echo, get-device-info, get-part-number,
    /// get-device-public-key). Never repeated.
    pub fn send_plain<C: Command>(&mut self, command: &C) -> Result<C::Response, ClientError> {
        let frame = request_frame(command)?;
        let response = self.outer_exchange(C::CODE, &frame, None, None)?;
        parse(command, &response)
    }

    /// Sends the command `code` with `data` inside the session and returns the inner
    /// response frame as it is, device errors (`7f 00 01 code`) included: for protocol
    /// research. Repeated after a broken session only when [`is_safe_to_repeat`] says so;
    /// refused like any command when an observer records raw frames and it moves key
    /// material.
    pub fn raw(&mut self, code: u8, data: &[u8]) -> Result<Vec<u8>, ClientError> {
        let command = CommandCode(code);
        let frame = raw_frame(command, data)?;
        self.session_exchange(command, &frame).map(|r| r.to_vec())
    }

    /// Sends the command `code` with `data` outside any session and returns the response
    /// frame as it is.
    pub fn raw_plain(&mut self, code: u8, data: &[u8]) -> Result<Vec<u8>, ClientError> {
        let command = CommandCode(code);
        let frame = raw_frame(command, data)?;
        self.outer_exchange(command, &frame, None, None).map(|r| r.to_vec())
    }

    /// Closes the session (CLOSE_SESSION inside it). The credentials stay: a later command
    /// that needs a session opens a new one. A session the device had already dropped
    /// counts as closed.
    pub fn close_session(&mut self) -> Result<(), ClientError> {
        if self.session.is_none() {
            return Ok(());
        }
        let frame = request_frame(&CloseSession)?;
        let result = self.attempt(CommandCode::CLOSE_SESSION, &frame, false);
        self.session = None;
        match result {
            Ok(response) => parse(&CloseSession, &response).map(|_| ()),
            Err(failure) => match failure.into_error() {
                e if e.is_invalid_session() => Ok(()),
                e => Err(e),
            },
        }
    }

    /// Drops the credentials and the session, closing it first (best effort).
    pub fn logout(&mut self) {
        self.close_quietly();
        self.credentials = None;
    }

    fn close_quietly(&mut self) {
        // Best effort by design: the session ends on the device after 30 s anyway.
        let _ = self.close_session();
    }

    /// One command inside the session, with at most one repeat on a new session.
    fn session_exchange(
        &mut self,
        command: CommandCode,
        inner: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, ClientError> {
        self.check_exposure(command, inner)?;
        self.ensure_session(command)?;
        let result = match self.attempt(command, inner, false) {
            Ok(response) => Ok(response),
            Err(Failure::Fatal(e)) => Err(e),
            Err(Failure::SessionLost(e)) => {
                if !is_safe_to_repeat(command) {
                    return Err(e);
                }
                self.open_session()?;
                self.attempt(command, inner, true).map_err(Failure::into_error)
            }
        };
        // A close sent through `send` or `raw` ends the session as surely as
        // `close_session` does.
        if command == CommandCode::CLOSE_SESSION && result.is_ok() {
            self.session = None;
        }
        result
    }

    /// Refuses, before anything is sent, a command that moves key material while the
    /// observer records raw session frames without accepting key material in them: with
    /// the password, those frames decrypt.
    fn check_exposure(&self, command: CommandCode, inner: &[u8]) -> Result<(), ClientError> {
        let exposure = self.observer.as_ref().map_or(Exposure::Redacted, |o| o.exposure());
        if exposure == Exposure::Raw && carries_key_material(inner) {
            return Err(ClientError::RawTraceRefused { command });
        }
        Ok(())
    }

    /// Makes sure a session is open for `command`.
    fn ensure_session(&mut self, command: CommandCode) -> Result<(), ClientError> {
        if self.credentials.is_none() {
            return Err(ClientError::NotAuthenticated { command });
        }
        let stale = match (&self.session, self.idle_limit) {
            (Some(s), Some(limit)) => !is_safe_to_repeat(command) && s.last_used.elapsed() >= limit,
            _ => false,
        };
        if stale {
            self.close_quietly();
        }
        if self.session.is_none() {
            self.open_session()?;
        }
        Ok(())
    }

    /// Opens a new session with the stored credentials.
    fn open_session(&mut self) -> Result<(), ClientError> {
        self.session = None;
        let Some(mut credentials) = self.credentials.take() else {
            return Err(ClientError::NotAuthenticated { command: CommandCode::CREATE_SESSION });
        };
        let result = self.handshake(&mut credentials);
        self.credentials = Some(credentials);
        self.session = Some(result?);
        Ok(())
    }

    /// Runs the handshake for `credentials`; fetches and stores the device public key for
    /// asymmetric credentials that have none.
    fn handshake(&mut self, credentials: &mut Credentials) -> Result<Session, ClientError> {
        let key_id = credentials.key_id();
        let kind = credentials.kind();
        let refused = |command| move |e| handshake_error(command, key_id, kind, e);
        let mut tag = [0u8; 8];
        self.rng.fill(&mut tag)?;
        let mut channel = match &mut credentials.secret {
            Secret::Symmetric { keys, .. } => {
                let mut challenge = [0u8; CHALLENGE_LEN];
                self.rng.fill(&mut challenge)?;
                let handshake = ClientHandshake::new(key_id, keys, challenge);
                let create = CommandCode::CREATE_SESSION;
                let response =
                    self.outer_exchange(create, &handshake.request(), Some(tag), None)?;
                let (authenticating, request) =
                    handshake.on_create_session_response(&response).map_err(refused(create))?;
                let sid = Some(authenticating.session_id());
                let auth = CommandCode::AUTHENTICATE_SESSION;
                let response = self.outer_exchange(auth, &request, Some(tag), sid)?;
                authenticating.on_authenticate_response(&response).map_err(refused(auth))?
            }
            Secret::Asymmetric { private_key, device_public_key } => {
                self.asymmetric_handshake(key_id, kind, private_key, device_public_key, tag)?
            }
        };
        channel.set_max_frame_len(self.max_frame_len);
        Ok(Session { channel, tag, last_used: Instant::now() })
    }

    /// The asymmetric handshake (docs/PROTOCOL.md §4.5): fetches the
    /// device public key unless it is known, then one CREATE_SESSION with an ephemeral key.
    #[cfg(feature = "p256")]
    fn asymmetric_handshake(
        &mut self,
        key_id: ObjectId,
        kind: CredentialKind,
        private_key: &SecretArray<EC_SECRET_LEN>,
        device_public_key: &mut Option<DevicePublicKey>,
        tag: [u8; 8],
    ) -> Result<ClientSession, ClientError> {
        let device_key = match device_public_key {
            Some(key) => *key,
            None => *device_public_key.insert(self.send_plain(&GetDevicePublicKey)?),
        };
        let create = CommandCode::CREATE_SESSION;
        let ephemeral = self.ephemeral_secret()?;
        let handshake = AsymmetricClientHandshake::new(
            key_id,
            private_key,
            &device_key.to_sec1_uncompressed(),
            &ephemeral,
        )
        .map_err(|source| ClientError::Session { command: create, source })?;
        let response = self.outer_exchange(create, &handshake.request(), Some(tag), None)?;
        handshake
            .on_create_session_response(&response)
            .map_err(|e| handshake_error(create, key_id, kind, e))
    }

    /// Without P-256 arithmetic there is no asymmetric handshake: refused before anything
    /// is sent, naming the feature that brings it.
    #[cfg(not(feature = "p256"))]
    fn asymmetric_handshake(
        &mut self,
        _: ObjectId,
        _: CredentialKind,
        _: &SecretArray<EC_SECRET_LEN>,
        _: &mut Option<DevicePublicKey>,
        _: [u8; 8],
    ) -> Result<ClientSession, ClientError> {
        Err(ClientError::FeatureDisabled {
            what: "asymmetric (P-256) authentication",
            feature: "p256",
        })
    }

    /// A fresh P-256 scalar: uniform bytes, redrawn in the rare case they are not a valid
    /// key (zero, or not below the group order).
    #[cfg(feature = "p256")]
    fn ephemeral_secret(&mut self) -> Result<SecretArray<EC_SECRET_LEN>, ClientError> {
        for _ in 0..EPHEMERAL_KEY_DRAWS {
            let mut bytes = Zeroizing::new([0u8; EC_SECRET_LEN]);
            self.rng.fill(bytes.as_mut_slice())?;
            let secret = SecretArray::new(*bytes);
            if scp03::public_key(&secret).is_ok() {
                return Ok(secret);
            }
        }
        Err(ClientError::Random {
            detail: format!("no valid P-256 key in {EPHEMERAL_KEY_DRAWS} draws"),
        })
    }

    /// One session message: seal, exchange, open. The session is put back only when the
    /// exchange completed and left it usable.
    fn attempt(
        &mut self,
        command: CommandCode,
        inner: &[u8],
        repeat: bool,
    ) -> Result<Zeroizing<Vec<u8>>, Failure> {
        let Some(mut session) = self.session.take() else {
            return Err(Failure::Fatal(ClientError::NotAuthenticated { command }));
        };
        let sealed = match session.channel.seal(inner) {
            Ok(sealed) => sealed,
            Err(source) => {
                // Refused before anything was produced: the session is still in step.
                if !session.channel.is_poisoned() {
                    self.session = Some(session);
                }
                return Err(Failure::Fatal(match source {
                    SessionError::TooLong { len, max } => {
                        ClientError::TooLong { command, len, max }
                    }
                    source => ClientError::Session { command, source },
                }));
            }
        };
        let session_id = Some(session.channel.session_id());
        self.transport.set_session_tag(Some(session.tag));
        let (result, started, elapsed) = self.timed_exchange(&sealed);
        let event = |response, inner_response| ExchangeEvent {
            command,
            session_id,
            repeat,
            started,
            elapsed,
            request: &sealed,
            response,
            inner_request: Some(inner),
            inner_response,
            raw: None,
        };
        let response = match result {
            Ok(response) => response,
            Err(source) => {
                self.notify(&event(Err(&source), None));
                // Our side of the MAC chain has moved on; the device's may or may not
                // have: the session is over either way.
                return Err(Failure::SessionLost(ClientError::Transport { command, source }));
            }
        };
        let opened = session.channel.open(&response).map(Zeroizing::new);
        self.notify(&event(Ok(&response), opened.as_ref().ok().map(|r| r.as_slice())));
        match opened {
            Ok(inner_response) => {
                if is_error_frame(&inner_response, ErrorCode::INVALID_SESSION) {
                    let e = ClientError::Device { command, code: ErrorCode::INVALID_SESSION };
                    return Err(Failure::SessionLost(e));
                }
                session.last_used = Instant::now();
                self.session = Some(session);
                Ok(inner_response)
            }
            Err(SessionError::Device(code)) => {
                let e = ClientError::Device { command, code };
                if code == ErrorCode::INVALID_SESSION {
                    Err(Failure::SessionLost(e))
                } else {
                    Err(Failure::Fatal(e))
                }
            }
            // A bad R-MAC, padding or frame: never repeated (see the `retry` module).
            Err(source) => Err(Failure::Fatal(ClientError::Session { command, source })),
        }
    }

    /// One exchange of a plaintext frame: outside a session, or a handshake step.
    fn outer_exchange(
        &mut self,
        command: CommandCode,
        frame: &[u8],
        tag: Option<[u8; 8]>,
        session_id: Option<u8>,
    ) -> Result<Zeroizing<Vec<u8>>, ClientError> {
        if frame.len() > self.max_frame_len {
            return Err(ClientError::TooLong {
                command,
                len: frame.len().saturating_sub(HEADER_LEN),
                max: self.max_frame_len.saturating_sub(HEADER_LEN),
            });
        }
        self.transport.set_session_tag(tag);
        let (result, started, elapsed) = self.timed_exchange(frame);
        self.notify(&ExchangeEvent {
            command,
            session_id,
            repeat: false,
            started,
            elapsed,
            request: frame,
            response: result.as_deref(),
            inner_request: None,
            inner_response: None,
            raw: None,
        });
        result.map(Zeroizing::new).map_err(|source| ClientError::Transport { command, source })
    }

    fn timed_exchange(
        &mut self,
        frame: &[u8],
    ) -> (Result<Vec<u8>, TransportError>, SystemTime, Duration) {
        let started = SystemTime::now();
        let clock = Instant::now();
        let result = self.transport.exchange(frame);
        (result, started, clock.elapsed())
    }

    /// Hands the observer a redacted copy of `event` (built from the frames as they are),
    /// with the raw session-layer frames if it asked for them.
    fn notify(&mut self, event: &ExchangeEvent<'_>) {
        let Some(observer) = self.observer.as_mut() else { return };
        let raw = (observer.exposure().is_raw() && is_session_layer(event.request))
            .then(|| RawFrames { request: event.request, response: event.response.ok() });
        let request = redact_request(event.request);
        let response = event.response.map(|r| redact_response(event.command, r));
        let inner_request = event.inner_request.map(redact_request);
        let inner_response = event.inner_response.map(|r| redact_response(event.command, r));
        observer.exchange(&ExchangeEvent {
            request: &request,
            response: match &response {
                Ok(r) => Ok(r),
                Err(e) => Err(*e),
            },
            inner_request: inner_request.as_deref(),
            inner_response: inner_response.as_deref(),
            raw,
            ..*event
        });
    }
}

impl Drop for Client {
    /// Closes the session, ignoring errors. Only a session whose last exchange succeeded
    /// is still held, so this does not wait on a connection already known to be broken.
    fn drop(&mut self) {
        self.close_quietly();
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("transport", &self.transport.describe())
            .field("firmware", &self.device_info.version)
            .field("serial", &self.device_info.serial)
            .field("credentials", &self.credentials)
            .field("session_id", &self.session_id())
            .finish_non_exhaustive()
    }
}

/// The request frame of a typed command.
fn request_frame<C: Command>(command: &C) -> Result<Zeroizing<Vec<u8>>, ClientError> {
    command.to_frame().map_err(|e| frame_error(C::CODE, e))
}

fn raw_frame(command: CommandCode, data: &[u8]) -> Result<Zeroizing<Vec<u8>>, ClientError> {
    frame::encode(command.0, data).map(Zeroizing::new).map_err(|e| frame_error(command, e))
}

/// Parses the answer to `command`: device error codes become [`ClientError::Device`].
fn parse<C: Command>(command: &C, response: &[u8]) -> Result<C::Response, ClientError> {
    command.parse_response(response).map_err(|e| frame_error(C::CODE, e))
}

fn frame_error(command: CommandCode, e: FrameError) -> ClientError {
    match e {
        FrameError::Device(code) => ClientError::Device { command, code },
        FrameError::TooLong { len } => ClientError::TooLong { command, len, max: MAX_DATA_LEN },
        source => ClientError::Frame { command, source },
    }
}

/// Whether `request` is a frame of the session layer: a handshake step or a session
/// message.
fn is_session_layer(request: &[u8]) -> bool {
    matches!(
        request.first().map(|&c| CommandCode(c)),
        Some(
            CommandCode::CREATE_SESSION
                | CommandCode::AUTHENTICATE_SESSION
                | CommandCode::SESSION_MESSAGE
        )
    )
}

fn is_error_frame(frame: &[u8], code: ErrorCode) -> bool {
    frame == [CommandCode::ERROR.0, 0, 1, code.0]
}

/// A failed handshake step: a wrong password or key shows as a card cryptogram (or
/// receipt) that does not check out, or as the device's authentication-failed.
fn handshake_error(
    command: CommandCode,
    key_id: ObjectId,
    credential: CredentialKind,
    e: SessionError,
) -> ClientError {
    match e {
        SessionError::CardCryptogramMismatch
        | SessionError::ReceiptMismatch
        | SessionError::Device(ErrorCode::AUTHENTICATION_FAILED) => {
            ClientError::AuthenticationFailed { key_id, credential }
        }
        SessionError::Device(code) => ClientError::Device { command, code },
        source => ClientError::Session { command, source },
    }
}
