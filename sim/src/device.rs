//! The device: one request frame in, one [`Reply`] out (docs/PROTOCOL.md §2 framing, §4
//! sessions). Sans-IO: time comes from a [`Clock`], randomness from a seeded ChaCha20 RNG.
//!
//! Outside a session the device answers ECHO, GET_DEVICE_INFO, GET_DEVICE_PUBLIC_KEY and
//! the session commands; anything else is invalid-command. Errors inside a session come
//! back as an inner `7f 00 01 code` sealed in a normal `85` envelope; a bare `7f` only
//! where the device cannot MAC (malformed outer frame, unknown or expired session id, a
//! failed MAC — which also closes the session).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::Duration;

use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;
use yhsm_proto::command::{
    Command, DeviceInfo, DevicePublicKey, GetDeviceInfo, GetPartNumber, PartNumber, Response,
};
use yhsm_proto::frame::{self, CommandCode, ErrorCode};
use yhsm_proto::scp03::{self, CreateSessionRequest, DeviceHandshake, StaticKeys};
use yhsm_proto::secret::SecretArray;
use yhsm_proto::wrap::Body;
use yhsm_proto::{Algorithm, Capabilities, Domains, Label, ObjectType, Origin};

use crate::attest::{DeviceAttestation, DeviceIdentity};
use crate::clock::{Clock, SystemClock};
use crate::cmd::{self, After, Ctx};
use crate::fault::{Action, Fault, FaultPlan};
use crate::log::{AuditLog, Event, NONE};
use crate::session::{Sessions, Slot};
use crate::store::{Authority, Object, Store};

/// What the device answers to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A response frame.
    Frame(Vec<u8>),
    /// No response: it was lost (fault injection). The host sees a timeout.
    Dropped,
    /// The device is unplugged: nothing reaches it until it is plugged back in.
    Unplugged,
}

impl Reply {
    /// The response frame, if there is one.
    pub fn frame(&self) -> Option<&[u8]> {
        match self {
            Self::Frame(f) => Some(f),
            _ => None,
        }
    }
}

/// The fixed properties of a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Serial number (GET_DEVICE_INFO, the connector status page).
    pub serial: u32,
    /// Firmware version; 2.4.0 by default.
    pub version: (u8, u8, u8),
    /// The part number GET_DEVICE_INFO answers with data `01` (firmware >= 2.4).
    pub part_number: String,
}

impl Default for Config {
    fn default() -> Self {
        Self { serial: 1_000_001, version: (2, 4, 0), part_number: "YHSM2-SIM".to_owned() }
    }
}

/// Label of the factory authentication key (Yubico's `test_reset` checks it).
pub const FACTORY_LABEL: &str = "DEFAULT AUTHKEY CHANGE THIS ASAP";
/// Id of the factory authentication key.
pub const FACTORY_KEY_ID: u16 = 1;
/// Password of the factory authentication key.
pub const FACTORY_PASSWORD: &[u8] = b"password";

/// The static keys of [`FACTORY_PASSWORD`], derived once per process: PBKDF2 with 10000
/// iterations is most of the cost of making a device, and the fuzz target makes one per
/// input. The password is public, so keeping its keys for the life of the process hides
/// nothing.
pub(crate) fn factory_keys() -> StaticKeys {
    static KEYS: OnceLock<StaticKeys> = OnceLock::new();
    KEYS.get_or_init(|| StaticKeys::from_password(FACTORY_PASSWORD)).clone()
}

/// A simulated YubiHSM 2.
#[derive(Debug)]
pub struct Device {
    pub(crate) config: Config,
    pub(crate) store: Store,
    pub(crate) sessions: Sessions,
    pub(crate) log: AuditLog,
    pub(crate) disabled_algorithms: BTreeSet<u8>,
    pub(crate) device_key: SecretArray<32>,
    /// The device attestation key and certificate, made when first needed.
    pub(crate) attestation: Option<DeviceAttestation>,
    pub(crate) rng: ChaCha20Rng,
    clock: Box<dyn Clock>,
    faults: FaultPlan,
    exchanges: u64,
    counts: Counts,
    unplugged: bool,
    changed: bool,
}

/// What the device did since it was made, for tests (not kept in the state file).
#[derive(Debug, Default)]
struct Counts {
    /// Commands run, by code: outer commands and the inner commands of session messages
    /// that reached their handler, whatever they answered.
    ran: BTreeMap<u8, u64>,
    /// Sessions authenticated.
    sessions_opened: u64,
}

impl Device {
    /// A factory-fresh device on the system clock with an RNG seeded from the OS.
    pub fn new(config: Config) -> Result<Self, getrandom::Error> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)?;
        Ok(Self::with_clock_and_seed(config, Box::new(SystemClock::new()), seed))
    }

    /// A factory-fresh device with the given clock and RNG seed (tests: a
    /// [`crate::ManualClock`] and a fixed seed make every run identical).
    pub fn with_clock_and_seed(config: Config, clock: Box<dyn Clock>, seed: [u8; 32]) -> Self {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let device_key = scp03::random_secret(&mut rng);
        let mut device = Self {
            config,
            store: Store::new(),
            sessions: Sessions::default(),
            log: AuditLog::default(),
            disabled_algorithms: BTreeSet::new(),
            device_key,
            attestation: None,
            rng,
            clock,
            faults: FaultPlan::default(),
            exchanges: 0,
            counts: Counts::default(),
            unplugged: false,
            changed: false,
        };
        device.factory_reset();
        device
    }

    /// A device rebuilt from saved state (see [`crate::state`]): it boots, so a boot line
    /// is logged, no session is open, and the RNG is freshly seeded from the OS.
    pub(crate) fn restore(
        config: Config,
        store: Store,
        log: AuditLog,
        disabled_algorithms: BTreeSet<u8>,
        device_key: SecretArray<32>,
        attestation: Option<DeviceAttestation>,
    ) -> Result<Self, getrandom::Error> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)?;
        let mut device = Self {
            config,
            store,
            sessions: Sessions::default(),
            log,
            disabled_algorithms,
            device_key,
            attestation,
            rng: ChaCha20Rng::from_seed(seed),
            clock: Box::new(SystemClock::new()),
            faults: FaultPlan::default(),
            exchanges: 0,
            counts: Counts::default(),
            unplugged: false,
            changed: false,
        };
        device.log.boot();
        Ok(device)
    }

    /// Replaces the clock (tests drive a restored device with a [`crate::ManualClock`]).
    pub fn set_clock(&mut self, clock: Box<dyn Clock>) {
        self.clock = clock;
    }

    /// The device's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The serial number.
    pub fn serial(&self) -> u32 {
        self.config.serial
    }

    /// The stored objects.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The audit log.
    pub fn audit_log(&self) -> &AuditLog {
        &self.log
    }

    /// Sessions currently open or being opened.
    pub fn sessions_in_use(&self) -> usize {
        self.sessions.in_use()
    }

    /// Arms a fault.
    pub fn add_fault(&mut self, fault: Fault) {
        self.faults.add(fault);
    }

    /// Disarms every fault.
    pub fn clear_faults(&mut self) {
        self.faults.clear();
    }

    /// Whether the device is unplugged.
    pub fn is_unplugged(&self) -> bool {
        self.unplugged
    }

    /// Unplugs the device: every exchange fails until [`Device::replug`].
    pub fn unplug(&mut self) {
        self.unplugged = true;
        self.sessions.clear();
    }

    /// Plugs the device back in: it boots (sessions are gone, a boot line is logged).
    pub fn replug(&mut self) {
        if self.unplugged {
            self.unplugged = false;
            self.sessions.clear();
            self.log.boot();
            self.changed = true;
        }
    }

    /// Number of exchanges handled so far (the index the next one gets).
    pub fn exchanges(&self) -> u64 {
        self.exchanges
    }

    /// How many times the device ran `code` since it was made: an outer command, or the
    /// inner command of a session message, that reached its handler (whatever it
    /// answered). A request refused before that (an expired session, a bad MAC, an
    /// injected error, a full log under force-audit) ran nothing.
    pub fn ran(&self, code: CommandCode) -> u64 {
        self.counts.ran.get(&code.0).copied().unwrap_or(0)
    }

    /// How many sessions were authenticated since the device was made.
    pub fn sessions_opened(&self) -> u64 {
        self.counts.sessions_opened
    }

    fn count_run(&mut self, code: CommandCode) {
        *self.counts.ran.entry(code.0).or_default() += 1;
    }

    /// Whether persistent state changed since the last call (the HTTP server saves the
    /// state file when it did).
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// The device attestation key and its certificate (opaque object 0), made from the RNG
    /// the first time they are needed and kept from then on: through resets, and in the
    /// state file.
    pub fn device_attestation(&mut self) -> Result<&DeviceAttestation, ErrorCode> {
        if self.attestation.is_none() {
            let identity =
                DeviceIdentity { version: self.config.version, serial: self.config.serial };
            self.attestation = Some(DeviceAttestation::generate(identity, &mut self.rng)?);
            self.changed = true;
        }
        self.attestation.as_ref().ok_or(ErrorCode::INVALID_DATA)
    }

    /// The factory state: one authentication key (docs/PROTOCOL.md §3.9 "Factory state"),
    /// default options, a reset and a boot line in the log, no session.
    pub fn factory_reset(&mut self) {
        let keys = factory_keys();
        let all = Capabilities::ALL;
        self.store = Store::new();
        let factory = Object {
            id: FACTORY_KEY_ID,
            object_type: ObjectType::AUTHENTICATION_KEY,
            algorithm: Algorithm::AES128_YUBICO_AUTHENTICATION,
            label: Label::from_bytes(FACTORY_LABEL.as_bytes()).unwrap_or_default(),
            domains: Domains::ALL,
            capabilities: all,
            delegated: all,
            sequence: 0,
            origin: Origin::IMPORTED,
            body: Body::AuthenticationKey {
                delegated: all,
                enc: keys.enc.clone(),
                mac: keys.mac.clone(),
            },
        };
        // An empty store always has room for one object.
        let _ = self.store.insert(factory);
        self.sessions.clear();
        self.log.reset();
        self.disabled_algorithms.clear();
        self.changed = true;
    }

    /// Device ticks for log entries: milliseconds since the clock's start.
    fn tick(&self) -> u32 {
        u32::try_from(self.clock.now().as_millis() & 0xffff_ffff).unwrap_or(0)
    }

    pub(crate) fn record(&mut self, event: Event) {
        if self.log.audits(event.command) {
            let tick = self.tick();
            self.log.record(event, tick);
            self.changed = true;
        }
    }

    pub(crate) fn mark_changed(&mut self) {
        self.changed = true;
    }

    /// Handles one request frame.
    pub fn handle(&mut self, request: &[u8]) -> Reply {
        let index = self.exchanges;
        self.exchanges += 1;
        if self.unplugged {
            return Reply::Unplugged;
        }
        self.sessions.expire(self.clock.now());

        let outer = request.first().map(|c| CommandCode(*c));
        let mut faults = Pending::default();
        if let Some(action) = self.faults.fire(Some(index), outer) {
            match action {
                Action::Unplug => {
                    self.unplug();
                    return Reply::Unplugged;
                }
                Action::ExpireSession => self.expire_for(request),
                Action::Error(e) => faults.error = Some(e),
                other => faults.post = Some(other),
            }
        }
        let frame = match self.dispatch(request, &mut faults) {
            Ok(frame) => frame,
            Err(Unplugged) => return Reply::Unplugged,
        };
        match faults.post {
            Some(Action::DropResponse) => Reply::Dropped,
            Some(Action::CorruptResponse { offset }) => {
                let mut frame = frame;
                let len = frame.len();
                if let Some(b) = frame.get_mut(offset % len.max(1)) {
                    *b ^= 0xff;
                }
                Reply::Frame(frame)
            }
            _ => Reply::Frame(frame),
        }
    }

    /// Expires the session a request belongs to, or every session.
    fn expire_for(&mut self, request: &[u8]) {
        let code = request.first().copied().map(CommandCode);
        match (code, request.get(3)) {
            (Some(CommandCode::SESSION_MESSAGE | CommandCode::AUTHENTICATE_SESSION), Some(sid)) => {
                self.sessions.close(*sid);
            }
            _ => self.sessions.clear(),
        }
    }

    fn dispatch(&mut self, request: &[u8], faults: &mut Pending) -> Result<Vec<u8>, Unplugged> {
        let Ok((code, data)) = frame::decode(request) else {
            return Ok(frame::encode_error(ErrorCode::WRONG_LENGTH));
        };
        let code = CommandCode(code);
        if let Some(e) = faults.error.filter(|_| code != CommandCode::SESSION_MESSAGE) {
            return Ok(frame::encode_error(e));
        }
        if code != CommandCode::SESSION_MESSAGE && self.log.blocks(code) {
            return Ok(frame::encode_error(ErrorCode::LOG_FULL));
        }
        if code != CommandCode::SESSION_MESSAGE {
            self.count_run(code);
        }
        let result = match code {
            CommandCode::ECHO => Ok((NONE, frame_of(CommandCode::ECHO, data))),
            CommandCode::GET_DEVICE_INFO => self.device_info(data),
            CommandCode::GET_DEVICE_PUBLIC_KEY => self.device_public_key(data),
            CommandCode::CREATE_SESSION => self.create_session(request, data),
            CommandCode::AUTHENTICATE_SESSION => self.authenticate_session(request, data),
            CommandCode::SESSION_MESSAGE => return self.session_message(request, data, faults),
            _ => Err(ErrorCode::INVALID_COMMAND),
        };
        let (session_key, frame) = match result {
            Ok((key, frame)) => (key, frame),
            Err(e) => (NONE, frame::encode_error(e)),
        };
        let result = frame.first().copied().unwrap_or(0x7f);
        self.record(Event {
            command: code,
            length: len16(data.len()),
            session_key,
            target_key: NONE,
            second_key: NONE,
            result,
        });
        Ok(frame)
    }

    fn device_info(&mut self, data: &[u8]) -> Result<(u16, Vec<u8>), ErrorCode> {
        if GetDeviceInfo::decode(data).is_ok() {
            let info = DeviceInfo {
                version: self.config.version,
                serial: self.config.serial,
                log_total: u8::try_from(crate::log::CAPACITY).unwrap_or(u8::MAX),
                log_used: u8::try_from(self.log.used()).unwrap_or(u8::MAX),
                algorithms: Algorithm::ALL.iter().map(|(a, _)| *a).collect(),
            };
            return Ok((NONE, frame_of(CommandCode::GET_DEVICE_INFO, &info.to_data())));
        }
        let has_part_number = (self.config.version.0, self.config.version.1) >= (2, 4);
        if has_part_number && GetPartNumber::decode(data).is_ok() {
            let pn = PartNumber(self.config.part_number.clone());
            return Ok((NONE, frame_of(CommandCode::GET_DEVICE_INFO, &pn.to_data())));
        }
        Err(ErrorCode::INVALID_DATA)
    }

    fn device_public_key(&mut self, data: &[u8]) -> Result<(u16, Vec<u8>), ErrorCode> {
        if !data.is_empty() {
            return Err(ErrorCode::WRONG_LENGTH);
        }
        let pk = scp03::public_key(&self.device_key).map_err(|_| ErrorCode::INVALID_DATA)?;
        let mut key = DevicePublicKey { x: [0; 32], y: [0; 32] };
        key.x.copy_from_slice(pk.get(1..33).unwrap_or(&[0; 32]));
        key.y.copy_from_slice(pk.get(33..65).unwrap_or(&[0; 32]));
        Ok((NONE, frame_of(CommandCode::GET_DEVICE_PUBLIC_KEY, &key.to_data())))
    }

    fn create_session(&mut self, request: &[u8], data: &[u8]) -> Result<(u16, Vec<u8>), ErrorCode> {
        let req = CreateSessionRequest::parse(request).map_err(|_| {
            if data.len() < 2 { ErrorCode::WRONG_LENGTH } else { ErrorCode::INVALID_DATA }
        })?;
        let key_id = req.auth_key_id();
        let key = self
            .store
            .get(key_id, ObjectType::AUTHENTICATION_KEY)
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)?
            .clone();
        let sid = self.sessions.free_slot().ok_or(ErrorCode::SESSIONS_FULL)?;
        let authority = Authority {
            key_id,
            capabilities: key.capabilities,
            delegated: key.delegated,
            domains: key.domains,
        };
        let now = self.clock.now();
        match (req, &key.body) {
            (
                CreateSessionRequest::Symmetric { host_challenge, .. },
                Body::AuthenticationKey { enc, mac, .. },
            ) => {
                let keys = StaticKeys::new(enc.clone(), mac.clone());
                let mut card = [0u8; 8];
                rand_core::Rng::fill_bytes(&mut self.rng, &mut card);
                let (handshake, response) =
                    DeviceHandshake::new(key_id, host_challenge, &keys, card, sid);
                self.sessions.put(
                    sid,
                    Slot::Pending { handshake: Box::new(handshake), authority, last_used: now },
                );
                Ok((key_id, response))
            }
            (CreateSessionRequest::Asymmetric { epk_oce, .. }, Body::Raw(raw))
                if key.algorithm == Algorithm::ECP256_YUBICO_AUTHENTICATION =>
            {
                let client_public = raw.expose_secret().get(8..).ok_or(ErrorCode::INVALID_DATA)?;
                let ephemeral = scp03::random_secret(&mut self.rng);
                let (session, response) = scp03::accept_asymmetric(
                    key_id,
                    &epk_oce,
                    client_public,
                    &self.device_key,
                    &ephemeral,
                    sid,
                )
                .map_err(|_| ErrorCode::INVALID_DATA)?;
                self.sessions
                    .put(sid, Slot::Open { session: Box::new(session), authority, last_used: now });
                self.counts.sessions_opened += 1;
                Ok((key_id, response))
            }
            _ => Err(ErrorCode::INVALID_DATA),
        }
    }

    fn authenticate_session(
        &mut self,
        request: &[u8],
        data: &[u8],
    ) -> Result<(u16, Vec<u8>), ErrorCode> {
        let sid = *data.first().ok_or(ErrorCode::WRONG_LENGTH)?;
        match self.sessions.take(sid) {
            Slot::Pending { handshake, authority, .. } => {
                let (session, response) = handshake
                    .on_authenticate_request(request)
                    .map_err(|_| ErrorCode::AUTHENTICATION_FAILED)?;
                let now = self.clock.now();
                self.sessions
                    .put(sid, Slot::Open { session: Box::new(session), authority, last_used: now });
                self.counts.sessions_opened += 1;
                Ok((authority.key_id, response))
            }
            other => {
                self.sessions.put(sid, other);
                Err(ErrorCode::INVALID_SESSION)
            }
        }
    }

    fn session_message(
        &mut self,
        request: &[u8],
        data: &[u8],
        faults: &mut Pending,
    ) -> Result<Vec<u8>, Unplugged> {
        let Some(&sid) = data.first() else {
            return Ok(frame::encode_error(ErrorCode::WRONG_LENGTH));
        };
        let (mut session, authority) = match self.sessions.take(sid) {
            Slot::Open { session, authority, .. } => (session, authority),
            other => {
                self.sessions.put(sid, other);
                return Ok(frame::encode_error(ErrorCode::INVALID_SESSION));
            }
        };
        // A bad MAC or padding ends the session; the answer cannot be MACed.
        let Ok(inner) = session.open_command(request) else {
            return Ok(frame::encode_error(ErrorCode::AUTHENTICATION_FAILED));
        };
        let inner_code = inner.first().map(|c| CommandCode(*c));
        if let Some(action) = self.faults.fire(None, inner_code) {
            match action {
                Action::Unplug => {
                    self.unplug();
                    return Err(Unplugged);
                }
                Action::ExpireSession => {
                    return Ok(frame::encode_error(ErrorCode::INVALID_SESSION));
                }
                Action::Error(e) => faults.error = Some(e),
                other => faults.post = Some(other),
            }
        }
        let (response, after) = match faults.error {
            Some(e) => (frame::encode_error(e), After::Nothing),
            None => self.run_inner(&Ctx { authority }, &inner),
        };
        let sealed = match session.seal_response(&response) {
            Ok(sealed) => sealed,
            Err(_) => match session.seal_response(&frame::encode_error(ErrorCode::INVALID_DATA)) {
                Ok(sealed) => sealed,
                Err(_) => return Ok(frame::encode_error(ErrorCode::INVALID_SESSION)),
            },
        };
        match after {
            After::Nothing => {
                let now = self.clock.now();
                self.sessions.put(sid, Slot::Open { session, authority, last_used: now });
            }
            After::CloseSession => {}
            After::Reset => self.factory_reset(),
        }
        Ok(sealed)
    }

    /// Runs one decrypted command and returns the inner response frame.
    fn run_inner(&mut self, ctx: &Ctx, inner: &[u8]) -> (Vec<u8>, After) {
        let Ok((code, data)) = frame::decode(inner) else {
            return (frame::encode_error(ErrorCode::WRONG_LENGTH), After::Nothing);
        };
        let code = CommandCode(code);
        if self.log.blocks(code) {
            return (frame::encode_error(ErrorCode::LOG_FULL), After::Nothing);
        }
        let mut event = Event {
            command: code,
            length: len16(data.len()),
            session_key: ctx.authority.key_id,
            target_key: NONE,
            second_key: NONE,
            result: 0x7f,
        };
        self.count_run(code);
        let (frame, after) = match cmd::execute(self, ctx, code, data) {
            Ok(done) => match frame::encode(code.response(), &done.data) {
                Ok(frame) => {
                    event.result = code.response();
                    event.target_key = done.target;
                    event.second_key = done.second;
                    if cmd::handler(code).is_some_and(|h| h.mutating) {
                        self.changed = true;
                    }
                    (frame, done.after)
                }
                Err(_) => (frame::encode_error(ErrorCode::INVALID_DATA), After::Nothing),
            },
            Err(e) => (frame::encode_error(e), After::Nothing),
        };
        // The reset line replaces the log; nothing is recorded after a reset.
        if after != After::Reset {
            self.record(event);
        }
        (frame, after)
    }

    /// Whether the algorithm is enabled (ALGORITHM_TOGGLE).
    pub(crate) fn algorithm_enabled(&self, alg: Algorithm) -> bool {
        !self.disabled_algorithms.contains(&alg.0)
    }

    /// Fills `buf` from the device RNG.
    pub(crate) fn random(&mut self, buf: &mut [u8]) {
        rand_core::Rng::fill_bytes(&mut self.rng, buf);
    }

    /// The time since the clock started.
    pub fn now(&self) -> Duration {
        self.clock.now()
    }
}

/// Fault actions waiting for the request to reach them.
#[derive(Debug, Default)]
struct Pending {
    error: Option<ErrorCode>,
    post: Option<Action>,
}

/// The device was unplugged while handling the request.
struct Unplugged;

fn frame_of(code: CommandCode, data: &[u8]) -> Vec<u8> {
    frame::encode(code.response(), data)
        .unwrap_or_else(|_| frame::encode_error(ErrorCode::INVALID_DATA))
}

fn len16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}
