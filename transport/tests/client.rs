//! The client layer against the simulator (`support/`): authentication, the typed
//! methods, the session recovery and repeat rules under the simulator's fault injection,
//! redaction for observers, closing on drop, and the frame limit of old firmware.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail loudly on purpose"
)]

mod support;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use support::{SERIAL, Sim, Undelivered};
use yhsm_proto::command::{
    AuthenticationKey, Command as _, DeviceOption, Filter, GenerateAsymmetricKey, GenerateWrapKey,
    ObjectHeader, PutAsymmetricKey, PutAuthenticationKey, PutOpaque, PutWrapKey, REDACTED_BYTE,
    SetOption, verify_log_chain,
};
use yhsm_proto::frame::{CommandCode, ErrorCode, MAX_FRAME_LEN, MAX_FRAME_LEN_PRE_2_4};
use yhsm_proto::object::{Algorithm, Capabilities, Domains, Label, ObjectType, Origin};
use yhsm_proto::scp03::{public_key, random_secret};
use yhsm_proto::wrap::{self, Body, WrapHeader, WrapKey, WrappedObject};
use yhsm_proto::{SecretArray, SecretBytes, SessionError, StaticKeys};
use yhsm_sim::{Action, Fault, Trigger};
use yhsm_test_support::TestRng;
use yhsm_transport::{
    Client, ClientError, ClientOptions, CredentialKind, Credentials, ExchangeEvent, Exposure,
    Observer,
};

const FIRMWARE: (u8, u8, u8) = (2, 4, 0);

fn client_with(device: &Sim, options: ClientOptions) -> Client {
    let options = options.rng(Box::new(TestRng(1)));
    Client::with_transport_options(device.transport(), options).unwrap()
}

fn client(device: &Sim) -> Client {
    client_with(device, ClientOptions::new())
}

/// A client authenticated with key 1 and the factory password.
fn session(device: &Sim) -> Client {
    let mut c = client(device);
    c.authenticate(Credentials::password(1, b"password")).unwrap();
    c
}

fn header(id: u16, algorithm: Algorithm) -> ObjectHeader {
    support::header(id, "test", algorithm)
}

fn opaque(id: u16, data: &[u8]) -> PutOpaque {
    PutOpaque { header: header(id, Algorithm::OPAQUE_DATA), data: data.to_vec() }
}

/// The session the next message belongs to expires before the device reads it: a bare
/// invalid-session answer, nothing runs.
fn expire() -> Fault {
    Fault::once(Trigger::Command(CommandCode::SESSION_MESSAGE), Action::ExpireSession)
}

/// The device runs `code`, then its response is lost (a timeout after the request went).
fn lose_response(code: CommandCode) -> Fault {
    Fault::once(Trigger::Command(code), Action::DropResponse)
}

/// The device runs `code`, then a byte of the sealed answer's ciphertext flips: the R-MAC
/// no longer verifies.
fn corrupt_response(code: CommandCode) -> Fault {
    Fault::once(Trigger::Command(code), Action::CorruptResponse { offset: 20 })
}

/// An observer that keeps owned copies of every event.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Recorded>>>, Exposure);

#[derive(Clone, Debug)]
struct Recorded {
    command: CommandCode,
    repeat: bool,
    request: Vec<u8>,
    response: Option<Vec<u8>>,
    inner_request: Option<Vec<u8>>,
    inner_response: Option<Vec<u8>>,
    /// The raw session-layer frames, for a recorder that asked for them.
    raw: Option<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Observer for Recorder {
    fn exchange(&mut self, e: &ExchangeEvent<'_>) {
        self.0.lock().unwrap().push(Recorded {
            command: e.command,
            repeat: e.repeat,
            request: e.request.to_vec(),
            response: e.response.ok().map(<[u8]>::to_vec),
            inner_request: e.inner_request.map(<[u8]>::to_vec),
            inner_response: e.inner_response.map(<[u8]>::to_vec),
            raw: e.raw.map(|r| (r.request.to_vec(), r.response.map(<[u8]>::to_vec))),
        });
    }

    fn exposure(&self) -> Exposure {
        self.1
    }
}

impl Recorder {
    fn raw(exposure: Exposure) -> Self {
        Self(Arc::default(), exposure)
    }

    fn events(&self) -> Vec<Recorded> {
        self.0.lock().unwrap().clone()
    }

    /// Every byte the observer was shown, frame after frame.
    fn all_bytes(&self) -> Vec<Vec<u8>> {
        self.events()
            .into_iter()
            .flat_map(|e| {
                [Some(e.request), e.response, e.inner_request, e.inner_response]
                    .into_iter()
                    .flatten()
            })
            .collect()
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A secret that no frame contains by chance: 32 distinct bytes from `start`.
fn secret(start: u8) -> [u8; 32] {
    std::array::from_fn(|i| start.wrapping_add(u8::try_from(i).unwrap()).wrapping_mul(7) | 0x80)
}

#[test]
fn connects_and_reads_the_device_info() {
    let device = Sim::new(FIRMWARE);
    let recorder = Recorder::default();
    let exchanges = device.exchanges();
    let c = client_with(&device, ClientOptions::new().observer(Box::new(recorder.clone())));
    assert_eq!(c.device_info().serial, SERIAL);
    assert_eq!(c.device_info().version, FIRMWARE);
    assert_eq!(c.max_frame_len(), MAX_FRAME_LEN);
    assert_eq!(c.session_id(), None);
    assert!(!c.is_authenticated());
    assert_eq!(device.exchanges(), exchanges + 1);
    assert_eq!(device.ran(CommandCode::GET_DEVICE_INFO), 1);
    let events = recorder.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].command, CommandCode::GET_DEVICE_INFO);
    assert_eq!(events[0].request, [0x06, 0, 0]);
}

#[test]
fn authenticates_with_a_password() {
    let device = Sim::new(FIRMWARE);
    let mut c = session(&device);
    assert_eq!(c.auth_key_id(), Some(1));
    assert!(c.session_id().is_some());
    let exchanges = device.exchanges();
    assert_eq!(c.echo(b"ping").unwrap(), b"ping");
    assert_eq!(device.sessions_opened(), 1);
    // The echo ran inside the session: one session message, the device ran one echo.
    assert_eq!(device.exchanges(), exchanges + 1);
    assert_eq!(device.ran(CommandCode::ECHO), 1);
}

#[test]
fn authenticates_with_raw_keys() {
    let mut device = Sim::new(FIRMWARE);
    let keys = StaticKeys::new(SecretArray::new([3; 16]), SecretArray::new([4; 16]));
    device.add_symmetric_key(2, &keys);
    let mut c = client(&device);
    c.authenticate(Credentials::keys(2, keys)).unwrap();
    assert_eq!(c.auth_key_id(), Some(2));
    assert_eq!(c.list_objects(&[Filter::Id(2)]).unwrap().len(), 1);

    let wrong = StaticKeys::new(SecretArray::new([3; 16]), SecretArray::new([5; 16]));
    let e = c.authenticate(Credentials::keys(2, wrong)).unwrap_err();
    assert_eq!(
        e,
        ClientError::AuthenticationFailed { key_id: 2, credential: CredentialKind::Keys }
    );
}

#[test]
fn authenticates_with_a_p256_key() {
    let mut device = Sim::new(FIRMWARE);
    let private = random_secret(&mut TestRng(99));
    let public: [u8; 64] = public_key(&private).unwrap()[1..].try_into().unwrap();
    device.add_asymmetric_key(3, public);

    let mut c = client(&device);
    c.authenticate(Credentials::asymmetric(3, private.clone())).unwrap();
    assert_eq!(device.ran(CommandCode::GET_DEVICE_PUBLIC_KEY), 1);
    assert_eq!(c.list_objects(&[Filter::Type(ObjectType::AUTHENTICATION_KEY)]).unwrap().len(), 2);
    // A re-opened session uses the key fetched the first time.
    device.inject(expire());
    assert_eq!(c.storage_info().unwrap().total_records, 256);
    assert_eq!(device.sessions_opened(), 2);
    assert_eq!(device.ran(CommandCode::GET_DEVICE_PUBLIC_KEY), 1);

    // Pinned: no fetch at all.
    let mut pinned = client(&device);
    let creds =
        Credentials::asymmetric(3, private.clone()).with_device_public_key(device.public_key());
    pinned.authenticate(creds).unwrap();
    assert_eq!(device.ran(CommandCode::GET_DEVICE_PUBLIC_KEY), 1);

    // The wrong private key, or a pinned key of another device, fails the receipt.
    let other = random_secret(&mut TestRng(5));
    let e = pinned.authenticate(Credentials::asymmetric(3, other)).unwrap_err();
    assert_eq!(
        e,
        ClientError::AuthenticationFailed { key_id: 3, credential: CredentialKind::PrivateKey }
    );
    let mut not_the_device = device.public_key();
    not_the_device.x = public[..32].try_into().unwrap();
    not_the_device.y = public[32..].try_into().unwrap();
    let creds = Credentials::asymmetric(3, private).with_device_public_key(not_the_device);
    assert!(matches!(
        pinned.authenticate(creds),
        Err(ClientError::AuthenticationFailed { key_id: 3, .. })
    ));
}

#[test]
fn wrong_password_names_the_key() {
    let device = Sim::new(FIRMWARE);
    let mut c = client(&device);
    let e = c.authenticate(Credentials::password(1, b"Password")).unwrap_err();
    assert_eq!(
        e,
        ClientError::AuthenticationFailed { key_id: 1, credential: CredentialKind::Password }
    );
    assert!(e.to_string().contains("check the password for authentication key 0x0001"), "{e}");
    assert!(!c.is_authenticated());
    assert_eq!(device.sessions_opened(), 0);
    assert_eq!(
        c.list_objects(&[]).unwrap_err(),
        ClientError::NotAuthenticated { command: CommandCode::LIST_OBJECTS }
    );
}

#[test]
fn unknown_authentication_key_is_a_device_error() {
    let device = Sim::new(FIRMWARE);
    let mut c = client(&device);
    let e = c.authenticate(Credentials::password(9, b"password")).unwrap_err();
    assert_eq!(
        e,
        ClientError::Device {
            command: CommandCode::CREATE_SESSION,
            code: ErrorCode::OBJECT_NOT_FOUND
        }
    );
}

#[test]
fn runs_object_commands() {
    let mut device = Sim::new(FIRMWARE);
    device.add_opaque(0x10, "preset", b"preset data");
    let mut c = session(&device);

    let listed = c.list_objects(&[]).unwrap();
    assert_eq!(listed.len(), 2);
    let opaque_only = c.list_objects(&[Filter::Type(ObjectType::OPAQUE)]).unwrap();
    assert_eq!(opaque_only.iter().map(|e| e.id).collect::<Vec<_>>(), [0x10]);

    let info = c.get_object_info(0x10, ObjectType::OPAQUE).unwrap();
    assert_eq!(info.label.to_string(), "preset");
    assert_eq!(info.length, 11);

    let id = c.put_opaque(&opaque(0, b"new data")).unwrap();
    assert_ne!(id, 0);
    assert_eq!(c.get_opaque(id).unwrap(), b"new data");
    let e = c.put_opaque(&opaque(id, b"again")).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::OBJECT_EXISTS));
    assert!(!e.may_have_executed());

    c.delete_object(id, ObjectType::OPAQUE).unwrap();
    assert!(!device.has_object(id, ObjectType::OPAQUE));
    let e = c.get_object_info(id, ObjectType::OPAQUE).unwrap_err();
    assert_eq!(
        e,
        ClientError::Device {
            command: CommandCode::GET_OBJECT_INFO,
            code: ErrorCode::OBJECT_NOT_FOUND
        }
    );

    let storage = c.storage_info().unwrap();
    assert_eq!(storage.total_records - storage.free_records, 2);
}

#[test]
fn runs_key_commands() {
    let mut device = Sim::new(FIRMWARE);
    device.add_opaque(0x40, "payload", b"exported bytes");
    let mut c = session(&device);

    let wrap = PutWrapKey {
        header: header(0x20, Algorithm::AES128_CCM_WRAP),
        delegated: Capabilities::ALL,
        key: SecretBytes::new(vec![9; 16]),
    };
    assert_eq!(c.put_wrap_key(&wrap).unwrap(), 0x20);
    let generated = GenerateWrapKey {
        header: header(0x21, Algorithm::AES128_CCM_WRAP),
        delegated: Capabilities::ALL,
    };
    assert_eq!(c.generate_wrap_key(&generated).unwrap(), 0x21);

    let ec = PutAsymmetricKey {
        header: header(0x30, Algorithm::ECP256),
        key: SecretBytes::new(random_secret(&mut TestRng(3)).expose_secret().to_vec()),
    };
    assert_eq!(c.put_asymmetric_key(&ec).unwrap(), 0x30);
    let public = c.get_public_key(0x30).unwrap();
    assert_eq!(public.algorithm, Algorithm::ECP256);
    assert_eq!(public.key, public_key(&random_secret(&mut TestRng(3))).unwrap()[1..]);
    let generated = GenerateAsymmetricKey { header: header(0x31, Algorithm::ECP256) };
    assert_eq!(c.generate_asymmetric_key(&generated).unwrap(), 0x31);
    assert_ne!(c.get_public_key(0x31).unwrap(), public);
    assert_eq!(c.sign_ecdsa(0x31, &[1; 32]).unwrap()[0], 0x30);

    // Export then import: the object comes back.
    let blob = c.export_wrapped(0x20, ObjectType::OPAQUE, 0x40, 0).unwrap();
    c.delete_object(0x40, ObjectType::OPAQUE).unwrap();
    let imported = c.import_wrapped(0x20, &blob).unwrap();
    assert_eq!((imported.object_type, imported.id), (ObjectType::OPAQUE, 0x40));
    assert_eq!(c.get_opaque(0x40).unwrap(), b"exported bytes");

    // A new authentication key, then a session with it.
    let keys = StaticKeys::from_password(b"second");
    let put = PutAuthenticationKey::new(
        5,
        Label::from_bytes(b"second").unwrap(),
        Domains::ALL,
        Capabilities::ALL,
        Capabilities::ALL,
        AuthenticationKey::Symmetric { enc: keys.enc.clone(), mac: keys.mac.clone() },
    );
    assert_eq!(c.put_authentication_key(&put).unwrap(), 5);
    c.authenticate(Credentials::password(5, b"second")).unwrap();
    assert_eq!(c.auth_key_id(), Some(5));
}

#[test]
fn changing_the_own_key_updates_the_stored_credentials() {
    let device = Sim::new(FIRMWARE);
    let mut c = session(&device);
    let new = StaticKeys::from_password(b"changed");
    let key = AuthenticationKey::Symmetric { enc: new.enc.clone(), mac: new.mac.clone() };
    c.change_authentication_key(1, key).unwrap();
    let stored =
        device.device().store().get(1, ObjectType::AUTHENTICATION_KEY).unwrap().body.clone();
    assert!(
        matches!(&stored, Body::AuthenticationKey { enc, mac, .. } if *enc == new.enc && *mac == new.mac),
        "the device does not hold the new keys"
    );
    // The next session is opened with the new keys.
    device.inject(expire());
    assert!(c.list_objects(&[]).is_ok());
    assert_eq!(device.sessions_opened(), 2);
}

#[test]
fn runs_device_commands() {
    let device = Sim::new(FIRMWARE);
    let mut c = client(&device);
    assert_eq!(c.echo(b"outside").unwrap(), b"outside");
    assert_eq!(c.part_number().unwrap(), "YHSM2-SIM");
    assert_eq!(c.get_device_public_key().unwrap(), device.public_key());
    assert_eq!(c.refresh_device_info().unwrap().serial, SERIAL);
    // Outside a session: nothing was authenticated, and no session was opened.
    assert_eq!(device.sessions_opened(), 0);
    assert_eq!(device.ran(CommandCode::ECHO), 1);

    let mut c = session(&device);
    let random = c.get_pseudo_random(24).unwrap();
    assert_eq!(random.len(), 24);
    assert_ne!(random.expose_secret(), c.get_pseudo_random(24).unwrap().expose_secret());
    // The factory log: a reset line and a boot line, chained.
    let log = c.get_log_entries().unwrap();
    assert_eq!(log.entries.len(), 2);
    verify_log_chain(&log.entries, None).unwrap();
    let last = log.entries[1].number;
    c.set_log_index(last).unwrap();
    assert!(c.get_log_entries().unwrap().entries.is_empty());
    let option = SetOption::force_audit(yhsm_proto::command::AuditMode::ON);
    c.set_option(&option).unwrap();
    assert_eq!(c.get_option(DeviceOption::FORCE_AUDIT).unwrap(), [1]);
    c.blink_device(3).unwrap();
    assert_eq!(device.ran(CommandCode::BLINK_DEVICE), 1);

    // raw: the inner frame as it came, errors included.
    assert_eq!(c.raw(0x01, b"hi").unwrap(), [0x81, 0, 2, b'h', b'i']);
    assert_eq!(c.raw(0x7e, &[]).unwrap(), [0x7f, 0, 1, ErrorCode::INVALID_COMMAND.0]);
    assert_eq!(c.raw_plain(0x01, b"x").unwrap(), [0x81, 0, 1, b'x']);

    assert_eq!(device.open_sessions(), 1);
    c.close_session().unwrap();
    assert_eq!(device.ran(CommandCode::CLOSE_SESSION), 1);
    assert_eq!(device.open_sessions(), 0);
    assert_eq!(c.session_id(), None);
    // The credentials stay: the next command opens a new session.
    assert!(c.list_objects(&[]).is_ok());
    assert_eq!(device.sessions_opened(), 2);
    // A close sent raw ends the session on both sides too.
    assert_eq!(c.raw(0x40, &[]).unwrap(), [0xc0, 0, 0]);
    assert_eq!(c.session_id(), None);
    assert_eq!(device.ran(CommandCode::CLOSE_SESSION), 2);
    assert_eq!(device.open_sessions(), 0);

    let put = opaque(0x50, b"gone after reset");
    c.put_opaque(&put).unwrap();
    c.reset_device().unwrap();
    assert!(!device.has_object(0x50, ObjectType::OPAQUE));
    assert!(!c.is_authenticated());
    assert!(matches!(c.list_objects(&[]), Err(ClientError::NotAuthenticated { .. })));
}

#[test]
fn bare_device_errors_outside_a_session() {
    let device = Sim::new((2, 3, 1));
    let mut c = client(&device);
    assert_eq!(
        c.part_number().unwrap_err(),
        ClientError::Device {
            command: CommandCode::GET_DEVICE_INFO,
            code: ErrorCode::INVALID_DATA
        }
    );
    assert_eq!(c.raw_plain(0x48, &[]).unwrap(), [0x7f, 0, 1, ErrorCode::INVALID_COMMAND.0]);
}

#[test]
fn recreates_an_expired_session_and_repeats_a_read() {
    let device = Sim::new(FIRMWARE);
    let recorder = Recorder::default();
    let mut c = client_with(&device, ClientOptions::new().observer(Box::new(recorder.clone())));
    c.authenticate(Credentials::password(1, b"password")).unwrap();

    device.inject(expire());
    assert_eq!(c.list_objects(&[]).unwrap().len(), 1);
    assert_eq!(device.sessions_opened(), 2);
    assert!(c.session_id().is_some());
    // The expired session ran nothing; the repeat ran once.
    assert_eq!(device.ran(CommandCode::LIST_OBJECTS), 1);
    let lists: Vec<bool> = recorder
        .events()
        .iter()
        .filter(|e| e.command == CommandCode::LIST_OBJECTS)
        .map(|e| e.repeat)
        .collect();
    assert_eq!(lists, [false, true]);
}

#[test]
fn recovers_from_an_inner_invalid_session_answer() {
    let device = Sim::new(FIRMWARE);
    let mut c = session(&device);
    // A valid envelope around an inner `7f 00 01 03`.
    device.inject(Fault::once(
        Trigger::Command(CommandCode::GET_STORAGE_INFO),
        Action::Error(ErrorCode::INVALID_SESSION),
    ));
    assert_eq!(c.storage_info().unwrap().total_records, 256);
    assert_eq!(device.sessions_opened(), 2);
    assert_eq!(device.ran(CommandCode::GET_STORAGE_INFO), 1);
}

#[test]
fn repeats_a_read_whose_response_was_lost() {
    let mut device = Sim::new(FIRMWARE);
    device.add_opaque(0x10, "x", b"data");
    let mut c = session(&device);
    device.inject(lose_response(CommandCode::GET_OPAQUE));
    assert_eq!(c.get_opaque(0x10).unwrap(), b"data");
    assert_eq!(device.ran(CommandCode::GET_OPAQUE), 2);
    assert_eq!(device.sessions_opened(), 2);
}

#[test]
fn does_not_repeat_a_change_after_expiry() {
    let device = Sim::new(FIRMWARE);
    let mut c = session(&device);
    device.inject(expire());
    let e = c.put_opaque(&opaque(0x60, b"once")).unwrap_err();
    assert!(e.is_invalid_session(), "{e:?}");
    assert!(e.may_have_executed());
    assert!(e.to_string().contains("put-opaque changes the device and was not sent again"), "{e}");
    assert_eq!(device.ran(CommandCode::PUT_OPAQUE), 0);
    assert_eq!(c.session_id(), None);
    assert_eq!(device.sessions_opened(), 1);

    // The next command opens a new session; the caller can then check and redo.
    assert!(c.list_objects(&[Filter::Id(0x60)]).unwrap().is_empty());
    assert_eq!(device.sessions_opened(), 2);
    assert_eq!(c.put_opaque(&opaque(0x60, b"once")).unwrap(), 0x60);
}

#[test]
fn does_not_repeat_a_change_whose_response_was_lost() {
    let device = Sim::new(FIRMWARE);
    let mut c = session(&device);
    device.inject(lose_response(CommandCode::PUT_OPAQUE));
    let e = c.put_opaque(&opaque(0x61, b"once")).unwrap_err();
    assert!(matches!(e, ClientError::Transport { command: CommandCode::PUT_OPAQUE, .. }), "{e:?}");
    assert!(e.may_have_executed());
    // It did run, once.
    assert_eq!(device.ran(CommandCode::PUT_OPAQUE), 1);
    assert!(device.has_object(0x61, ObjectType::OPAQUE));
    assert_eq!(c.list_objects(&[Filter::Id(0x61)]).unwrap().len(), 1);
}

#[test]
fn reports_an_undelivered_change_as_not_executed() {
    let device = Sim::new(FIRMWARE);
    let (transport, failures) = Undelivered::new(device.transport());
    let options = ClientOptions::new().rng(Box::new(TestRng(1)));
    let mut c = Client::with_transport_options(Box::new(transport), options).unwrap();
    c.authenticate(Credentials::password(1, b"password")).unwrap();
    let exchanges = device.exchanges();
    failures.store(1, Ordering::SeqCst);
    let e = c.delete_object(1, ObjectType::AUTHENTICATION_KEY).unwrap_err();
    assert!(!e.may_have_executed(), "{e:?}");
    assert!(!e.to_string().contains("not sent again"), "{e}");
    assert_eq!(device.exchanges(), exchanges, "the request reached the device");
    assert_eq!(device.ran(CommandCode::DELETE_OBJECT), 0);
    assert!(device.has_object(1, ObjectType::AUTHENTICATION_KEY));
}

#[test]
fn gives_up_after_one_repeat() {
    let device = Sim::new(FIRMWARE);
    let mut c = session(&device);
    device.inject(Fault { remaining: Some(2), ..expire() });
    let e = c.list_objects(&[]).unwrap_err();
    assert!(e.is_invalid_session(), "{e:?}");
    assert_eq!(device.ran(CommandCode::LIST_OBJECTS), 0);
    // One session at the start, one re-created: no third.
    assert_eq!(device.sessions_opened(), 2);
    // A safe command's failure after its repeat does not claim it was held back.
    assert!(!e.to_string().contains("not sent again"), "{e}");
    assert!(c.list_objects(&[]).is_ok());
    assert_eq!(device.sessions_opened(), 3);
}

#[test]
fn reports_a_bad_rmac_without_repeating() {
    let device = Sim::new(FIRMWARE);
    let mut c = session(&device);
    device.inject(corrupt_response(CommandCode::LIST_OBJECTS));
    let e = c.list_objects(&[]).unwrap_err();
    assert_eq!(
        e,
        ClientError::Session {
            command: CommandCode::LIST_OBJECTS,
            source: SessionError::ResponseMacMismatch
        }
    );
    assert!(e.may_have_executed());
    assert_eq!(device.ran(CommandCode::LIST_OBJECTS), 1);
    assert_eq!(device.sessions_opened(), 1);
    assert_eq!(c.session_id(), None);
    // The next command proves the device again with a fresh session.
    assert!(c.list_objects(&[]).is_ok());
    assert_eq!(device.sessions_opened(), 2);
}

#[test]
fn replaces_an_idle_session_before_a_change() {
    let device = Sim::new(FIRMWARE);
    let mut c = session(&device);
    c.set_session_idle_limit(Some(std::time::Duration::ZERO));
    // A read may be repeated, so it keeps the session.
    c.list_objects(&[]).unwrap();
    assert_eq!(device.sessions_opened(), 1);
    // A change gets a fresh session, the old one closed first.
    c.put_opaque(&opaque(0x70, b"x")).unwrap();
    assert_eq!(device.ran(CommandCode::CLOSE_SESSION), 1);
    assert_eq!(device.sessions_opened(), 2);
    assert_eq!(device.open_sessions(), 1);

    c.set_session_idle_limit(None);
    c.put_opaque(&opaque(0x71, b"x")).unwrap();
    assert_eq!(device.sessions_opened(), 2);
}

#[test]
fn observers_never_see_key_material() {
    let device = Sim::new(FIRMWARE);
    let recorder = Recorder::default();
    let mut c = client_with(&device, ClientOptions::new().observer(Box::new(recorder.clone())));
    let password_keys = StaticKeys::from_password(b"password");
    c.authenticate(Credentials::password(1, b"password")).unwrap();

    let wrap_key = secret(0x01);
    let enc = secret(0x21);
    let mac = secret(0x41);
    let new_enc = secret(0x61);
    let new_mac = secret(0x81);
    let asym = random_secret(&mut TestRng(11));
    let blob_secret = secret(0xa1);

    let wrap = PutWrapKey {
        header: header(0x20, Algorithm::AES256_CCM_WRAP),
        delegated: Capabilities::ALL,
        key: SecretBytes::new(wrap_key.to_vec()),
    };
    c.put_wrap_key(&wrap).unwrap();
    let key = |e: &[u8; 32], m: &[u8; 32]| AuthenticationKey::Symmetric {
        enc: SecretArray::from_slice(&e[..16]).unwrap(),
        mac: SecretArray::from_slice(&m[..16]).unwrap(),
    };
    let put = PutAuthenticationKey::new(
        6,
        Label::default(),
        Domains::ALL,
        Capabilities::ALL,
        Capabilities::ALL,
        key(&enc, &mac),
    );
    c.put_authentication_key(&put).unwrap();
    // A session changes its own key.
    let keys = StaticKeys::new(
        SecretArray::from_slice(&enc[..16]).unwrap(),
        SecretArray::from_slice(&mac[..16]).unwrap(),
    );
    c.authenticate(Credentials::keys(6, keys)).unwrap();
    c.change_authentication_key(6, key(&new_enc, &new_mac)).unwrap();
    let ec = PutAsymmetricKey {
        header: header(0x30, Algorithm::ECP256),
        key: SecretBytes::new(asym.expose_secret().to_vec()),
    };
    c.put_asymmetric_key(&ec).unwrap();
    // A wrapped object made here under the wrap key, imported.
    let object = WrappedObject {
        header: WrapHeader {
            wrap_algorithm: Algorithm::AES256_CCM_WRAP,
            capabilities: Capabilities::GET_OPAQUE,
            id: 0x44,
            length: 32,
            domains: Domains::ALL,
            object_type: ObjectType::OPAQUE,
            algorithm: Algorithm::OPAQUE_DATA,
            sequence: 0,
            origin: Origin::IMPORTED,
            label: Label::default(),
        },
        body: Body::Raw(SecretBytes::new(blob_secret.to_vec())),
    };
    let blob = wrap::wrap(&WrapKey::new(&wrap_key).unwrap(), [5; 13], &object).unwrap();
    c.import_wrapped(0x20, &blob).unwrap();
    assert!(device.has_object(0x44, ObjectType::OPAQUE), "the import worked");
    let random = c.get_pseudo_random(32).unwrap();

    let shown = recorder.all_bytes();
    assert!(recorder.events().iter().all(|e| e.raw.is_none()), "raw frames shown unasked");
    let secrets: [(&str, &[u8]); 8] = [
        ("wrap key", &wrap_key),
        ("enc", &enc[..16]),
        ("mac", &mac[..16]),
        ("new enc", &new_enc[..16]),
        ("new mac", &new_mac[..16]),
        ("asymmetric key", asym.expose_secret()),
        ("imported blob", &blob[13..]),
        ("random bytes", random.expose_secret()),
    ];
    let password: [(&str, &[u8]); 2] = [
        ("password K-ENC", password_keys.enc.expose_secret()),
        ("password K-MAC", password_keys.mac.expose_secret()),
    ];
    for (what, bytes) in secrets.iter().chain(&password) {
        // Any 8 consecutive bytes of a secret would be a leak.
        for part in bytes.windows(8) {
            assert!(!shown.iter().any(|f| contains(f, part)), "the observer saw the {what}");
        }
    }

    // The inner frames were shown, with the secrets replaced in place.
    let events = recorder.events();
    let inner = |code: CommandCode| {
        events
            .iter()
            .find(|e| e.command == code)
            .and_then(|e| e.inner_request.clone())
            .unwrap_or_else(|| panic!("no inner {code} request shown"))
    };
    let put_wrap = inner(CommandCode::PUT_WRAP_KEY);
    assert_eq!(put_wrap.len(), 3 + 53 + 8 + 32);
    assert_eq!(&put_wrap[3..5], &[0, 0x20]);
    assert!(put_wrap[3 + 61..].iter().all(|&b| b == REDACTED_BYTE));
    let import = inner(CommandCode::IMPORT_WRAPPED);
    assert_eq!(&import[3..5], &[0, 0x20]);
    let random_answer = events
        .iter()
        .find(|e| e.command == CommandCode::GET_PSEUDO_RANDOM)
        .and_then(|e| e.inner_response.clone())
        .unwrap();
    assert_eq!(random_answer[..3], [0xd1, 0, 32]);
    // Frames without secrets are shown as they are.
    assert_eq!(inner(CommandCode::GET_PSEUDO_RANDOM), [0x51, 0, 2, 0, 32]);
}

/// The session frames the device saw and answered, by a recorder that was shown them raw:
/// challenges, cryptograms, ephemeral keys, receipts, sealed messages and MACs.
fn session_material(events: &[Recorded]) -> Vec<(CommandCode, Vec<u8>)> {
    let mut material = Vec::new();
    for e in events {
        let Some((request, response)) = &e.raw else { continue };
        // After `code len(2)` and the key id (create-session) or the session id.
        let skip = if request[0] == CommandCode::CREATE_SESSION.0 { 5 } else { 4 };
        material.push((e.command, request[skip..].to_vec()));
        if let Some(response) = response.as_ref().filter(|r| r.len() > 4) {
            material.push((e.command, response[4..].to_vec()));
        }
    }
    material
}

#[test]
fn observers_see_nothing_that_opens_a_session() {
    let mut device = Sim::new(FIRMWARE);
    let private = random_secret(&mut TestRng(99));
    let public: [u8; 64] = public_key(&private).unwrap()[1..].try_into().unwrap();
    device.add_asymmetric_key(3, public);
    // A recorder shown the raw frames too, so the test knows what must not be shown.
    let recorder = Recorder::raw(Exposure::RawWithKeyMaterial);
    let mut c = client_with(&device, ClientOptions::new().observer(Box::new(recorder.clone())));
    c.authenticate(Credentials::password(1, b"password")).unwrap();
    c.list_objects(&[]).unwrap();
    c.put_opaque(&opaque(0x71, b"some data")).unwrap();
    c.authenticate(Credentials::asymmetric(3, private)).unwrap();
    c.storage_info().unwrap();
    c.logout();

    let events = recorder.events();
    let material = session_material(&events);
    let kinds: Vec<CommandCode> = material.iter().map(|(c, _)| *c).collect();
    for expected in [
        CommandCode::CREATE_SESSION,
        CommandCode::AUTHENTICATE_SESSION,
        CommandCode::LIST_OBJECTS,
        CommandCode::PUT_OPAQUE,
        CommandCode::GET_STORAGE_INFO,
        CommandCode::CLOSE_SESSION,
    ] {
        assert!(kinds.contains(&expected), "no raw {expected} frames to check");
    }
    let shown: Vec<Vec<u8>> = events
        .iter()
        .flat_map(|e| {
            [Some(e.request.clone()), e.response.clone(), e.inner_request.clone()]
                .into_iter()
                .chain([e.inner_response.clone()])
                .flatten()
        })
        .collect();
    for (command, bytes) in &material {
        for part in bytes.windows(4) {
            assert!(!shown.iter().any(|f| contains(f, part)), "{command}: {part:02x?} shown");
        }
    }
    // What is shown: the key id, the session id and the lengths, and the inner frames.
    let first = &events[1];
    assert_eq!(first.command, CommandCode::CREATE_SESSION);
    assert_eq!(first.request[..5], [0x03, 0, 10, 0, 1]);
    assert_eq!(first.request[5..], [REDACTED_BYTE; 8]);
    let list = events.iter().find(|e| e.command == CommandCode::LIST_OBJECTS).unwrap();
    let (raw_request, _) = list.raw.as_ref().unwrap();
    assert_eq!(list.request.len(), raw_request.len());
    assert_eq!(list.request[..4], raw_request[..4]);
    assert_eq!(list.inner_request.as_deref(), Some(&[0x48, 0, 0][..]));
}

#[test]
fn a_raw_observer_stops_commands_that_move_key_material() {
    let device = Sim::new(FIRMWARE);
    let recorder = Recorder::raw(Exposure::Raw);
    let mut c = client_with(&device, ClientOptions::new().observer(Box::new(recorder.clone())));
    c.authenticate(Credentials::password(1, b"password")).unwrap();
    let wrap = PutWrapKey {
        header: header(0x20, Algorithm::AES256_CCM_WRAP),
        delegated: Capabilities::ALL,
        key: SecretBytes::new(secret(0x01).to_vec()),
    };
    let sym = AuthenticationKey::Symmetric {
        enc: SecretArray::from_slice(&secret(0x21)[..16]).unwrap(),
        mac: SecretArray::from_slice(&secret(0x41)[..16]).unwrap(),
    };
    let put_auth = PutAuthenticationKey::new(
        6,
        Label::default(),
        Domains::ALL,
        Capabilities::ALL,
        Capabilities::ALL,
        sym.clone(),
    );
    let refused = |e: ClientError, command| {
        assert_eq!(e, ClientError::RawTraceRefused { command });
        assert!(!e.may_have_executed());
        assert!(e.to_string().contains("was not sent"), "{e}");
    };
    let before = device.exchanges();
    refused(c.put_wrap_key(&wrap).unwrap_err(), CommandCode::PUT_WRAP_KEY);
    refused(c.put_authentication_key(&put_auth).unwrap_err(), CommandCode::PUT_AUTHENTICATION_KEY);
    refused(
        c.change_authentication_key(1, sym).unwrap_err(),
        CommandCode::CHANGE_AUTHENTICATION_KEY,
    );
    refused(c.import_wrapped(0x20, &[0; 40]).unwrap_err(), CommandCode::IMPORT_WRAPPED);
    // An answer that carries a secret is refused before it is asked for.
    refused(c.get_pseudo_random(16).unwrap_err(), CommandCode::GET_PSEUDO_RANDOM);
    refused(c.raw(0x4c, &wrap.to_frame().unwrap()[3..]).unwrap_err(), CommandCode::PUT_WRAP_KEY);
    assert_eq!(device.exchanges(), before, "a refused command reached the device");
    assert!(recorder.events().iter().all(|e| e.command != CommandCode::PUT_WRAP_KEY));
    // The session is untouched: commands without key material go on, raw frames shown.
    assert_eq!(c.list_objects(&[]).unwrap().len(), 1);
    assert!(recorder.events().last().unwrap().raw.is_some());

    // An observer that accepts key material in raw frames lets them through.
    let mut c = client_with(
        &device,
        ClientOptions::new().observer(Box::new(Recorder::raw(Exposure::RawWithKeyMaterial))),
    );
    c.authenticate(Credentials::password(1, b"password")).unwrap();
    c.put_wrap_key(&wrap).unwrap();
    assert_eq!(device.ran(CommandCode::PUT_WRAP_KEY), 1);
}

#[test]
fn dropping_the_client_closes_its_session() {
    let device = Sim::new(FIRMWARE);
    let c = session(&device);
    assert_eq!(device.open_sessions(), 1);
    drop(c);
    assert_eq!(device.ran(CommandCode::CLOSE_SESSION), 1);
    assert_eq!(device.open_sessions(), 0);

    // A client whose session broke holds none, and sends nothing when dropped.
    let mut c = session(&device);
    device.inject(corrupt_response(CommandCode::ECHO));
    assert!(c.echo(b"x").is_err());
    let exchanges = device.exchanges();
    drop(c);
    assert_eq!(device.exchanges(), exchanges);
    assert_eq!(device.ran(CommandCode::CLOSE_SESSION), 1);
}

#[test]
fn old_firmware_limits_the_frame_size() {
    let device = Sim::new((2, 3, 1));
    let mut c = session(&device);
    assert_eq!(c.max_frame_len(), MAX_FRAME_LEN_PRE_2_4);
    let sid = c.session_id();
    let exchanges = device.exchanges();

    // 3 + 53 + 2000 bytes of inner frame do not fit in a 2048-byte session message.
    let e = c.put_opaque(&opaque(0x80, &[7; 2000])).unwrap_err();
    let ClientError::TooLong { command, len, max } = e.clone() else { panic!("{e:?}") };
    assert_eq!(command, CommandCode::PUT_OPAQUE);
    assert_eq!(max, MAX_FRAME_LEN_PRE_2_4 - 3);
    assert!(len > max);
    assert!(!e.may_have_executed());
    assert!(e.to_string().contains("older than 2.4"), "{e}");
    assert_eq!(device.exchanges(), exchanges, "nothing was sent");
    // The session is still in step.
    assert_eq!(c.session_id(), sid);
    assert_eq!(c.put_opaque(&opaque(0x80, &[7; 1900])).unwrap(), 0x80);
    // Outside a session too.
    assert!(matches!(
        c.send_plain(&yhsm_proto::command::Echo { data: vec![1; 2100] }),
        Err(ClientError::TooLong { .. })
    ));

    // Firmware 2.4 takes the larger frame.
    let device = Sim::new(FIRMWARE);
    let mut c = session(&device);
    assert_eq!(c.put_opaque(&opaque(0x80, &[7; 2000])).unwrap(), 0x80);
}
