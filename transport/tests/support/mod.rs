//! A small YubiHSM 2 for the client tests, built from the DEVICE half of `yhsm-proto`
//! (CreateSessionRequest, DeviceHandshake, accept_asymmetric, DeviceSession and the
//! command decoders). Not the simulator: it keeps objects in a map, fakes the crypto of
//! wrapped blobs and signatures, and can be told to misbehave on the next session
//! messages (expire, lose a response, corrupt an R-MAC).

#![allow(dead_code, reason = "each test file uses a different part of the test device")]
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test support outside #[test] functions fails loudly on purpose"
)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand_core::{TryCryptoRng, TryRng};
use yhsm_proto::command::*;
use yhsm_proto::frame::{self, CommandCode, ErrorCode, MAX_FRAME_LEN};
use yhsm_proto::object::{
    Algorithm, Capabilities, Domains, Label, ObjectId, ObjectInfo, ObjectType, Origin,
};
use yhsm_proto::scp03::{
    CreateSessionRequest, DeviceHandshake, DeviceSession, accept_asymmetric, public_key,
    random_secret,
};
use yhsm_proto::{SecretArray, SecretBytes, StaticKeys};
use yhsm_transport::{Transport, TransportError};

/// A deterministic generator (splitmix64), so runs repeat exactly.
#[derive(Clone, Debug)]
pub struct TestRng(pub u64);

impl TryRng for TestRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dest.chunks_mut(8) {
            let v = self.try_next_u64()?.to_be_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

impl TryCryptoRng for TestRng {}

/// What the device does to the next session message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The session has expired: forget it and answer a bare `7f 00 01 03`; nothing runs.
    Expire,
    /// Answer an inner `7f 00 01 03` inside a valid envelope and forget the session.
    InnerInvalidSession,
    /// Run the command, then lose the response (a timeout after the request was sent).
    LoseResponse,
    /// Run the command, then flip a bit of the R-MAC.
    CorruptRmac,
    /// Fail before the request reaches the device (nothing runs).
    DropBeforeDelivery,
}

enum AuthKey {
    Symmetric(StaticKeys),
    Asymmetric([u8; 64]),
}

struct Object {
    info: ObjectInfo,
    data: Vec<u8>,
}

struct State {
    version: (u8, u8, u8),
    rng: TestRng,
    device_secret: SecretArray<32>,
    auth_keys: BTreeMap<ObjectId, AuthKey>,
    objects: BTreeMap<(ObjectId, u8), Object>,
    handshakes: HashMap<u8, DeviceHandshake>,
    sessions: HashMap<u8, DeviceSession>,
    next_session_id: u8,
    faults: VecDeque<Fault>,
    executed: Vec<CommandCode>,
    closed: Vec<u8>,
    sessions_opened: usize,
    requests: usize,
    log_index: u16,
    options: HashMap<u8, Vec<u8>>,
}

/// The device; clones share it, so a test keeps one while the client owns a transport.
#[derive(Clone)]
pub struct TestDevice(Arc<Mutex<State>>);

/// The transport the client gets.
pub struct TestTransport(TestDevice);

pub const SERIAL: u32 = 0x0012_3456;

impl TestDevice {
    /// A device with firmware `version` and authentication key 1 with password
    /// `password` (the factory state).
    pub fn new(version: (u8, u8, u8)) -> Self {
        let mut rng = TestRng(7);
        let device_secret = random_secret(&mut rng);
        let device = Self(Arc::new(Mutex::new(State {
            version,
            rng,
            device_secret,
            auth_keys: BTreeMap::new(),
            objects: BTreeMap::new(),
            handshakes: HashMap::new(),
            sessions: HashMap::new(),
            next_session_id: 0,
            faults: VecDeque::new(),
            executed: Vec::new(),
            closed: Vec::new(),
            sessions_opened: 0,
            requests: 0,
            log_index: 0,
            options: HashMap::new(),
        })));
        device.add_symmetric_key(1, StaticKeys::from_password(b"password"));
        device
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }

    pub fn transport(&self) -> Box<dyn Transport> {
        Box::new(TestTransport(self.clone()))
    }

    pub fn add_symmetric_key(&self, id: ObjectId, keys: StaticKeys) {
        self.state().add_auth_key(id, AuthKey::Symmetric(keys), Algorithm(38));
    }

    pub fn add_asymmetric_key(&self, id: ObjectId, public: [u8; 64]) {
        self.state().add_auth_key(id, AuthKey::Asymmetric(public), Algorithm(49));
    }

    pub fn add_opaque(&self, id: ObjectId, label: &str, data: &[u8]) {
        let mut s = self.state();
        let info = info(id, ObjectType::OPAQUE, Algorithm::OPAQUE_DATA, label, data.len());
        s.objects.insert((id, ObjectType::OPAQUE.0), Object { info, data: data.to_vec() });
    }

    /// The device's P-256 key as GET_DEVICE_PUBLIC_KEY gives it.
    pub fn public_key(&self) -> DevicePublicKey {
        let sec1 = public_key(&self.state().device_secret).unwrap();
        DevicePublicKey { x: sec1[1..33].try_into().unwrap(), y: sec1[33..].try_into().unwrap() }
    }

    pub fn inject(&self, fault: Fault) {
        self.state().faults.push_back(fault);
    }

    /// Forgets every session now, as after 30 s idle.
    pub fn expire_sessions(&self) {
        self.state().sessions.clear();
    }

    /// Every command the device ran (in and outside sessions), in order.
    pub fn executed(&self) -> Vec<CommandCode> {
        self.state().executed.clone()
    }

    pub fn count(&self, code: CommandCode) -> usize {
        self.state().executed.iter().filter(|c| **c == code).count()
    }

    /// Session ids closed with CLOSE_SESSION.
    pub fn closed(&self) -> Vec<u8> {
        self.state().closed.clone()
    }

    pub fn sessions_opened(&self) -> usize {
        self.state().sessions_opened
    }

    pub fn open_sessions(&self) -> usize {
        self.state().sessions.len()
    }

    /// Request frames received, of any kind.
    pub fn requests(&self) -> usize {
        self.state().requests
    }

    pub fn has_object(&self, id: ObjectId, object_type: ObjectType) -> bool {
        self.state().objects.contains_key(&(id, object_type.0))
    }

    pub fn auth_key_is(&self, id: ObjectId, keys: &StaticKeys) -> bool {
        matches!(self.state().auth_keys.get(&id), Some(AuthKey::Symmetric(k)) if k == keys)
    }

    pub fn log_index(&self) -> u16 {
        self.state().log_index
    }
}

fn info(
    id: ObjectId,
    object_type: ObjectType,
    algorithm: Algorithm,
    label: &str,
    length: usize,
) -> ObjectInfo {
    ObjectInfo {
        capabilities: Capabilities::ALL,
        id,
        length: u16::try_from(length).unwrap(),
        domains: Domains::ALL,
        object_type,
        algorithm,
        sequence: 0,
        origin: Origin::IMPORTED,
        label: Label::from_bytes(label.as_bytes()).unwrap(),
        delegated_capabilities: Capabilities::ALL,
    }
}

fn header_info(header: &ObjectHeader, object_type: ObjectType, length: usize) -> ObjectInfo {
    ObjectInfo {
        capabilities: header.capabilities,
        id: header.id,
        length: u16::try_from(length).unwrap(),
        domains: header.domains,
        object_type,
        algorithm: header.algorithm,
        sequence: 0,
        origin: Origin::IMPORTED,
        label: header.label,
        delegated_capabilities: Capabilities::NONE,
    }
}

/// Decodes a `C` request, runs `f`, encodes the answer or the error.
fn handle<C: Command>(
    inner: &[u8],
    f: impl FnOnce(C) -> Result<C::Response, ErrorCode>,
) -> Vec<u8> {
    match C::from_frame(inner) {
        Ok(request) => match f(request) {
            Ok(response) => encode_response_frame::<C>(&response).unwrap().to_vec(),
            Err(code) => frame::encode_error(code),
        },
        Err(_) => frame::encode_error(ErrorCode::INVALID_DATA),
    }
}

impl State {
    fn add_auth_key(&mut self, id: ObjectId, key: AuthKey, algorithm: Algorithm) {
        self.auth_keys.insert(id, key);
        let info = info(id, ObjectType::AUTHENTICATION_KEY, algorithm, "auth", 32);
        self.objects.insert((id, ObjectType::AUTHENTICATION_KEY.0), Object { info, data: vec![] });
    }

    fn allocate_session_id(&mut self) -> u8 {
        let id = self.next_session_id;
        self.next_session_id = (id + 1) % 16;
        id
    }

    /// Creates an object; id 0 picks the first free id.
    fn create(&mut self, mut info: ObjectInfo, data: Vec<u8>) -> Result<ObjectId, ErrorCode> {
        let t = info.object_type.0;
        if info.id == 0 {
            info.id = (1..=u16::MAX)
                .find(|id| !self.objects.contains_key(&(*id, t)))
                .ok_or(ErrorCode::STORAGE_FAILED)?;
        }
        if self.objects.contains_key(&(info.id, t)) {
            return Err(ErrorCode::OBJECT_EXISTS);
        }
        let id = info.id;
        self.objects.insert((id, t), Object { info, data });
        Ok(id)
    }

    fn object(&self, id: ObjectId, t: ObjectType) -> Result<&Object, ErrorCode> {
        self.objects.get(&(id, t.0)).ok_or(ErrorCode::OBJECT_NOT_FOUND)
    }

    fn device_info(&self) -> DeviceInfo {
        DeviceInfo {
            version: self.version,
            serial: SERIAL,
            log_total: 62,
            log_used: 0,
            algorithms: vec![Algorithm::AES128_CCM_WRAP, Algorithm::ECP256],
        }
    }

    /// GET_DEVICE_INFO and its part-number page share a code.
    fn device_info_or_part_number(&self, inner: &[u8]) -> Vec<u8> {
        if GetPartNumber::from_frame(inner).is_ok() {
            if (self.version.0, self.version.1) < (2, 4) {
                return frame::encode_error(ErrorCode::INVALID_DATA);
            }
            return handle::<GetPartNumber>(inner, |_| Ok(PartNumber("YHSM2-TEST".into())));
        }
        handle::<GetDeviceInfo>(inner, |_| Ok(self.device_info()))
    }

    /// Commands outside a session.
    fn plain(&mut self, request: &[u8]) -> Vec<u8> {
        let code = CommandCode(request[0]);
        match code {
            CommandCode::ECHO => {
                self.executed.push(code);
                handle::<Echo>(request, |e| Ok(EchoResponse { data: e.data }))
            }
            CommandCode::GET_DEVICE_INFO => {
                self.executed.push(code);
                self.device_info_or_part_number(request)
            }
            CommandCode::GET_DEVICE_PUBLIC_KEY => {
                self.executed.push(code);
                let sec1 = public_key(&self.device_secret).unwrap();
                handle::<GetDevicePublicKey>(request, |_| {
                    Ok(DevicePublicKey {
                        x: sec1[1..33].try_into().unwrap(),
                        y: sec1[33..].try_into().unwrap(),
                    })
                })
            }
            CommandCode::CREATE_SESSION => self.create_session(request),
            CommandCode::AUTHENTICATE_SESSION => self.authenticate_session(request),
            _ => frame::encode_error(ErrorCode::INVALID_COMMAND),
        }
    }

    fn create_session(&mut self, request: &[u8]) -> Vec<u8> {
        let Ok(parsed) = CreateSessionRequest::parse(request) else {
            return frame::encode_error(ErrorCode::INVALID_DATA);
        };
        let sid = self.allocate_session_id();
        match (parsed, self.auth_keys.get(&parsed.auth_key_id())) {
            (
                CreateSessionRequest::Symmetric { auth_key_id, host_challenge },
                Some(AuthKey::Symmetric(keys)),
            ) => {
                let mut card_challenge = [0u8; 8];
                self.rng.try_fill_bytes(&mut card_challenge).unwrap();
                let (handshake, response) =
                    DeviceHandshake::new(auth_key_id, host_challenge, keys, card_challenge, sid);
                self.handshakes.insert(sid, handshake);
                response
            }
            (
                CreateSessionRequest::Asymmetric { auth_key_id, epk_oce },
                Some(AuthKey::Asymmetric(public)),
            ) => {
                let ephemeral = random_secret(&mut self.rng);
                let (session, response) = accept_asymmetric(
                    auth_key_id,
                    &epk_oce,
                    public,
                    &self.device_secret,
                    &ephemeral,
                    sid,
                )
                .unwrap();
                self.sessions.insert(sid, session);
                self.sessions_opened += 1;
                response
            }
            (_, None) => frame::encode_error(ErrorCode::OBJECT_NOT_FOUND),
            _ => frame::encode_error(ErrorCode::INVALID_DATA),
        }
    }

    fn authenticate_session(&mut self, request: &[u8]) -> Vec<u8> {
        let Some(handshake) = request.get(3).and_then(|sid| self.handshakes.remove(sid)) else {
            return frame::encode_error(ErrorCode::INVALID_SESSION);
        };
        match handshake.on_authenticate_request(request) {
            Ok((session, response)) => {
                self.sessions.insert(session.session_id(), session);
                self.sessions_opened += 1;
                response
            }
            Err(_) => frame::encode_error(ErrorCode::AUTHENTICATION_FAILED),
        }
    }

    fn session_message(&mut self, request: &[u8]) -> Result<Vec<u8>, TransportError> {
        let sid = request[3];
        let fault = self.faults.pop_front();
        match fault {
            Some(Fault::Expire) => {
                self.sessions.remove(&sid);
                return Ok(frame::encode_error(ErrorCode::INVALID_SESSION));
            }
            Some(Fault::DropBeforeDelivery) => {
                return Err(TransportError::Disconnected {
                    detail: "test: dropped".into(),
                    request_sent: false,
                });
            }
            _ => {}
        }
        let Some(mut session) = self.sessions.remove(&sid) else {
            return Ok(frame::encode_error(ErrorCode::INVALID_SESSION));
        };
        let Ok(inner) = session.open_command(request) else {
            return Ok(frame::encode_error(ErrorCode::INVALID_SESSION));
        };
        if fault == Some(Fault::InnerInvalidSession) {
            return Ok(session
                .seal_response(&frame::encode_error(ErrorCode::INVALID_SESSION))
                .unwrap());
        }
        let code = CommandCode(inner[0]);
        let answer = self.execute(&inner);
        let mut sealed = session.seal_response(&answer).unwrap();
        if code == CommandCode::CLOSE_SESSION && answer[0] == code.response() {
            self.closed.push(sid);
        } else if code == CommandCode::RESET_DEVICE && answer[0] == code.response() {
            self.sessions.clear();
        } else {
            self.sessions.insert(sid, session);
        }
        match fault {
            Some(Fault::LoseResponse) => {
                Err(TransportError::Timeout { after: Duration::from_secs(1), request_sent: true })
            }
            Some(Fault::CorruptRmac) => {
                *sealed.last_mut().unwrap() ^= 1;
                Ok(sealed)
            }
            _ => Ok(sealed),
        }
    }

    /// Runs one inner command and returns the inner response frame.
    fn execute(&mut self, inner: &[u8]) -> Vec<u8> {
        let code = CommandCode(inner[0]);
        self.executed.push(code);
        match code {
            CommandCode::ECHO => handle::<Echo>(inner, |e| Ok(EchoResponse { data: e.data })),
            CommandCode::GET_DEVICE_INFO => self.device_info_or_part_number(inner),
            CommandCode::CLOSE_SESSION => {
                handle::<CloseSession>(inner, |_| Ok(CloseSessionResponse))
            }
            CommandCode::GET_STORAGE_INFO => {
                let used = u16::try_from(self.objects.len()).unwrap();
                handle::<GetStorageInfo>(inner, |_| {
                    Ok(StorageInfo {
                        total_records: 256,
                        free_records: 256 - used,
                        total_pages: 1024,
                        free_pages: 1024 - used,
                        page_size: 126,
                    })
                })
            }
            CommandCode::LIST_OBJECTS => handle::<ListObjects>(inner, |req| {
                let objects = self
                    .objects
                    .values()
                    .filter(|o| {
                        req.filters.iter().all(|f| match f {
                            Filter::Id(id) => o.info.id == *id,
                            Filter::Type(t) => o.info.object_type == *t,
                            Filter::Label(l) => o.info.label == *l,
                            Filter::Algorithm(a) => o.info.algorithm == *a,
                            Filter::Domains(d) => o.info.domains.intersects(*d),
                            Filter::Capabilities(c) => {
                                !o.info.capabilities.intersection(*c).is_empty()
                            }
                        })
                    })
                    .map(|o| ListEntry {
                        id: o.info.id,
                        object_type: o.info.object_type,
                        sequence: o.info.sequence,
                    })
                    .collect();
                Ok(ListObjectsResponse { objects })
            }),
            CommandCode::GET_OBJECT_INFO => {
                handle::<GetObjectInfo>(inner, |req| Ok(self.object(req.id, req.object_type)?.info))
            }
            CommandCode::DELETE_OBJECT => handle::<DeleteObject>(inner, |req| {
                self.objects
                    .remove(&(req.id, req.object_type.0))
                    .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
                if req.object_type == ObjectType::AUTHENTICATION_KEY {
                    self.auth_keys.remove(&req.id);
                }
                Ok(DeleteObjectResponse)
            }),
            CommandCode::PUT_OPAQUE => handle::<PutOpaque>(inner, |req| {
                let info = header_info(&req.header, ObjectType::OPAQUE, req.data.len());
                Ok(PutOpaqueResponse { id: self.create(info, req.data)? })
            }),
            CommandCode::GET_OPAQUE => handle::<GetOpaque>(inner, |req| {
                Ok(GetOpaqueResponse {
                    data: self.object(req.id, ObjectType::OPAQUE)?.data.clone(),
                })
            }),
            CommandCode::PUT_WRAP_KEY => handle::<PutWrapKey>(inner, |req| {
                let mut info = header_info(&req.header, ObjectType::WRAP_KEY, req.key.len());
                info.delegated_capabilities = req.delegated;
                let id = self.create(info, req.key.expose_secret().to_vec())?;
                Ok(PutWrapKeyResponse { id })
            }),
            CommandCode::GENERATE_WRAP_KEY => handle::<GenerateWrapKey>(inner, |req| {
                let mut key = vec![0u8; req.header.algorithm.wrap_key_size().unwrap_or(16)];
                self.rng.try_fill_bytes(&mut key).unwrap();
                let mut info = header_info(&req.header, ObjectType::WRAP_KEY, key.len());
                info.delegated_capabilities = req.delegated;
                info.origin = Origin::GENERATED;
                Ok(GenerateWrapKeyResponse { id: self.create(info, key)? })
            }),
            CommandCode::PUT_AUTHENTICATION_KEY => handle::<PutAuthenticationKey>(inner, |req| {
                let mut info = header_info(&req.header, ObjectType::AUTHENTICATION_KEY, 32);
                info.delegated_capabilities = req.delegated;
                let id = self.create(info, vec![])?;
                let key = match req.key {
                    AuthenticationKey::Symmetric { enc, mac } => {
                        AuthKey::Symmetric(StaticKeys::new(enc, mac))
                    }
                    AuthenticationKey::EcP256 { x, y } => {
                        let mut public = [0u8; 64];
                        public[..32].copy_from_slice(&x);
                        public[32..].copy_from_slice(&y);
                        AuthKey::Asymmetric(public)
                    }
                };
                self.auth_keys.insert(id, key);
                Ok(PutAuthenticationKeyResponse { id })
            }),
            CommandCode::CHANGE_AUTHENTICATION_KEY => {
                handle::<ChangeAuthenticationKey>(inner, |req| {
                    let slot =
                        self.auth_keys.get_mut(&req.key_id).ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
                    match (slot, req.key) {
                        (AuthKey::Symmetric(keys), AuthenticationKey::Symmetric { enc, mac }) => {
                            *keys = StaticKeys::new(enc, mac);
                        }
                        _ => return Err(ErrorCode::INVALID_DATA),
                    }
                    Ok(ChangeAuthenticationKeyResponse { id: req.key_id })
                })
            }
            CommandCode::PUT_ASYMMETRIC_KEY => handle::<PutAsymmetricKey>(inner, |req| {
                let info = header_info(&req.header, ObjectType::ASYMMETRIC_KEY, req.key.len());
                let id = self.create(info, req.key.expose_secret().to_vec())?;
                Ok(PutAsymmetricKeyResponse { id })
            }),
            CommandCode::GENERATE_ASYMMETRIC_KEY => handle::<GenerateAsymmetricKey>(inner, |req| {
                if req.header.algorithm != Algorithm::ECP256 {
                    return Err(ErrorCode::INVALID_DATA);
                }
                let secret = random_secret(&mut self.rng);
                let mut info = header_info(&req.header, ObjectType::ASYMMETRIC_KEY, 32);
                info.origin = Origin::GENERATED;
                let id = self.create(info, secret.expose_secret().to_vec())?;
                Ok(GenerateAsymmetricKeyResponse { id })
            }),
            CommandCode::GET_PUBLIC_KEY => handle::<GetPublicKey>(inner, |req| {
                let o = self.object(req.id, ObjectType::ASYMMETRIC_KEY)?;
                if o.info.algorithm != Algorithm::ECP256 {
                    return Err(ErrorCode::INVALID_DATA);
                }
                let secret = SecretArray::<32>::from_slice(&o.data).unwrap();
                let sec1 = public_key(&secret).map_err(|_| ErrorCode::INVALID_DATA)?;
                Ok(PublicKey { algorithm: Algorithm::ECP256, key: sec1[1..].to_vec() })
            }),
            // Not a real signature: the client only checks the DER framing.
            CommandCode::SIGN_ECDSA => handle::<SignEcdsa>(inner, |req| {
                self.object(req.key_id, ObjectType::ASYMMETRIC_KEY)?;
                Ok(SignEcdsaResponse { signature: vec![0x30, 6, 2, 1, 1, 2, 1, 1] })
            }),
            // Fake blobs: zero nonce || type || id || data || zero tag.
            CommandCode::EXPORT_WRAPPED => handle::<ExportWrapped>(inner, |req| {
                self.object(req.wrap_id, ObjectType::WRAP_KEY)?;
                let o = self.object(req.id, req.object_type)?;
                let mut blob = vec![0u8; 13];
                blob.push(req.object_type.0);
                blob.extend_from_slice(&req.id.to_be_bytes());
                blob.extend_from_slice(&o.data);
                blob.extend_from_slice(&[0u8; 16]);
                Ok(ExportWrappedResponse { blob })
            }),
            CommandCode::IMPORT_WRAPPED => handle::<ImportWrapped>(inner, |req| {
                self.object(req.wrap_id, ObjectType::WRAP_KEY)?;
                let body = &req.blob[13..req.blob.len() - 16];
                let (&[t, hi, lo], data) =
                    body.split_first_chunk::<3>().ok_or(ErrorCode::INVALID_DATA)?;
                let id = u16::from_be_bytes([hi, lo]);
                let object_type = ObjectType(t);
                let info = info(id, object_type, Algorithm::OPAQUE_DATA, "imported", data.len());
                self.create(info, data.to_vec())?;
                Ok(ImportWrappedResponse { object_type, id })
            }),
            CommandCode::GET_PSEUDO_RANDOM => handle::<GetPseudoRandom>(inner, |req| {
                let mut bytes = vec![0u8; usize::from(req.len)];
                self.rng.try_fill_bytes(&mut bytes).unwrap();
                Ok(PseudoRandom { bytes: SecretBytes::new(bytes) })
            }),
            CommandCode::GET_LOG_ENTRIES => handle::<GetLogEntries>(inner, |_| {
                Ok(LogEntries { unlogged_boot: 0, unlogged_auth: 0, entries: vec![] })
            }),
            CommandCode::SET_LOG_INDEX => handle::<SetLogIndex>(inner, |req| {
                self.log_index = req.index;
                Ok(SetLogIndexResponse)
            }),
            CommandCode::SET_OPTION => handle::<SetOption>(inner, |req| {
                self.options.insert(req.option.0, req.value);
                Ok(SetOptionResponse)
            }),
            CommandCode::GET_OPTION => handle::<GetOption>(inner, |req| {
                let value = self.options.get(&req.option.0).ok_or(ErrorCode::INVALID_DATA)?;
                Ok(GetOptionResponse { value: value.clone() })
            }),
            CommandCode::BLINK_DEVICE => handle::<BlinkDevice>(inner, |_| Ok(BlinkDeviceResponse)),
            CommandCode::RESET_DEVICE => handle::<ResetDevice>(inner, |_| {
                self.objects.clear();
                self.auth_keys.clear();
                self.add_auth_key(
                    1,
                    AuthKey::Symmetric(StaticKeys::from_password(b"password")),
                    Algorithm(38),
                );
                Ok(ResetDeviceResponse)
            }),
            _ => frame::encode_error(ErrorCode::INVALID_COMMAND),
        }
    }
}

impl Transport for TestTransport {
    fn exchange(&mut self, request: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut s = self.0.state();
        s.requests += 1;
        if request.len() > MAX_FRAME_LEN || frame::decode(request).is_err() {
            return Ok(frame::encode_error(ErrorCode::WRONG_LENGTH));
        }
        let max = frame::max_frame_len(s.version);
        if request.len() > max {
            return Ok(frame::encode_error(ErrorCode::WRONG_LENGTH));
        }
        if request[0] == CommandCode::SESSION_MESSAGE.0 {
            s.session_message(request)
        } else {
            Ok(s.plain(request))
        }
    }

    fn describe(&self) -> String {
        "test device".into()
    }
}
