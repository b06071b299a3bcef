//! The device the client-layer tests talk to: the simulator (`yhsm-sim`) through the
//! `sim:` transport, on a manual clock with a fixed seed, set up over the wire with the
//! factory key before a test starts; faults come from the simulator's fault injection.
//! What the simulator cannot do — fail to send a request at all — is [`Undelivered`], a
//! transport that fails before passing a request on.

#![allow(dead_code, reason = "each test binary uses a different part of the helper")]
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions fail loudly on purpose"
)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, MutexGuard};

use yhsm_proto::command::{
    AuthenticationKey, DevicePublicKey, ObjectHeader, PutAuthenticationKey, PutOpaque,
};
use yhsm_proto::frame::CommandCode;
use yhsm_proto::object::{Algorithm, Capabilities, Domains, Label, ObjectId, ObjectType};
use yhsm_proto::scp03::StaticKeys;
use yhsm_sim::{Config, Device, Fault, ManualClock, SharedDevice};
use yhsm_test_support::TestRng;
use yhsm_transport::sim::SimTransport;
use yhsm_transport::{Client, ClientOptions, Credentials, Transport, TransportError};

/// The simulator's serial number in these tests.
pub const SERIAL: u32 = 0x0012_3456;

/// A simulated device and what it did since the test's own exchanges began (the setup's
/// exchanges are not counted).
pub struct Sim {
    device: SharedDevice,
    public_key: DevicePublicKey,
    /// `ran` of every command code, and `sessions_opened`, when the setup ended.
    base: (Vec<u64>, u64),
}

impl Sim {
    /// A factory-fresh device with firmware `version`: authentication key 1, password
    /// `password`.
    pub fn new(version: (u8, u8, u8)) -> Self {
        let config = Config { serial: SERIAL, version, ..Config::default() };
        let device = Device::with_clock_and_seed(config, Box::new(ManualClock::new()), [7; 32]);
        let device = SharedDevice::new(device);
        let mut plain =
            Client::with_transport(Box::new(SimTransport::from_shared(device.clone()))).unwrap();
        let public_key = plain.get_device_public_key().unwrap();
        let mut sim = Self { device, public_key, base: (Vec::new(), 0) };
        sim.rebase();
        sim
    }

    fn rebase(&mut self) {
        let d = self.device.lock();
        self.base = ((0..=u8::MAX).map(|c| d.ran(CommandCode(c))).collect(), d.sessions_opened());
    }

    pub fn transport(&self) -> Box<dyn Transport> {
        Box::new(SimTransport::from_shared(self.device.clone()))
    }

    /// Runs `f` in a session of the factory key, before the test's exchanges begin.
    pub fn setup(&mut self, f: impl FnOnce(&mut Client)) {
        let options = ClientOptions::new().rng(Box::new(TestRng(99)));
        let mut c = Client::with_transport_options(self.transport(), options).unwrap();
        c.authenticate(Credentials::password(1, b"password")).unwrap();
        f(&mut c);
        drop(c);
        self.rebase();
    }

    pub fn add_symmetric_key(&mut self, id: ObjectId, keys: &StaticKeys) {
        let key = AuthenticationKey::Symmetric { enc: keys.enc.clone(), mac: keys.mac.clone() };
        self.add_authentication_key(id, key);
    }

    /// An asymmetric authentication key with the host's public key `X || Y`.
    pub fn add_asymmetric_key(&mut self, id: ObjectId, public: [u8; 64]) {
        let (x, y) = public.split_at(32);
        let key = AuthenticationKey::EcP256 { x: x.try_into().unwrap(), y: y.try_into().unwrap() };
        self.add_authentication_key(id, key);
    }

    fn add_authentication_key(&mut self, id: ObjectId, key: AuthenticationKey) {
        let all = Capabilities::ALL;
        let label = Label::from_bytes(b"auth").unwrap();
        let put = PutAuthenticationKey::new(id, label, Domains::ALL, all, all, key);
        self.setup(|c| assert_eq!(c.put_authentication_key(&put).unwrap(), id));
    }

    pub fn add_opaque(&mut self, id: ObjectId, label: &str, data: &[u8]) {
        let put =
            PutOpaque { header: header(id, label, Algorithm::OPAQUE_DATA), data: data.to_vec() };
        self.setup(|c| assert_eq!(c.put_opaque(&put).unwrap(), id));
    }

    /// The device itself (faults, its store, its counters).
    pub fn device(&self) -> MutexGuard<'_, Device> {
        self.device.lock()
    }

    pub fn inject(&self, fault: Fault) {
        self.device().add_fault(fault);
    }

    /// How many times the device ran `code` since the setup.
    pub fn ran(&self, code: CommandCode) -> u64 {
        self.device().ran(code) - self.base.0[usize::from(code.0)]
    }

    /// Sessions authenticated since the setup.
    pub fn sessions_opened(&self) -> u64 {
        self.device().sessions_opened() - self.base.1
    }

    /// Sessions open (or being opened) now.
    pub fn open_sessions(&self) -> usize {
        self.device().sessions_in_use()
    }

    /// Request frames the device received, of any kind.
    pub fn exchanges(&self) -> u64 {
        self.device().exchanges()
    }

    pub fn has_object(&self, id: ObjectId, object_type: ObjectType) -> bool {
        self.device().store().get(id, object_type).is_some()
    }

    /// The device's P-256 key, as read before the test began.
    pub fn public_key(&self) -> DevicePublicKey {
        self.public_key
    }
}

/// An object header with every capability and domain and `label`.
pub fn header(id: u16, label: &str, algorithm: Algorithm) -> ObjectHeader {
    ObjectHeader {
        id,
        label: Label::from_bytes(label.as_bytes()).unwrap(),
        domains: Domains::ALL,
        capabilities: Capabilities::ALL,
        algorithm,
    }
}

/// A transport whose next requests fail before they are sent (a write to a disconnected
/// device, a refused connection): as many as the counter [`Undelivered::new`] returns
/// holds.
pub struct Undelivered {
    inner: Box<dyn Transport>,
    failures: Arc<AtomicUsize>,
}

impl Undelivered {
    pub fn new(inner: Box<dyn Transport>) -> (Self, Arc<AtomicUsize>) {
        let failures = Arc::new(AtomicUsize::new(0));
        (Self { inner, failures: failures.clone() }, failures)
    }
}

impl Transport for Undelivered {
    fn exchange(&mut self, request: &[u8]) -> Result<Vec<u8>, TransportError> {
        let take =
            self.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if take.is_ok() {
            return Err(TransportError::Disconnected {
                detail: "test: the request was not sent".to_owned(),
                request_sent: false,
            });
        }
        self.inner.exchange(request)
    }

    fn describe(&self) -> String {
        format!("{} (requests may fail before they are sent)", self.inner.describe())
    }

    fn set_session_tag(&mut self, tag: Option<[u8; 8]>) {
        self.inner.set_session_tag(tag);
    }
}
