//! The simulator driven through proto's client half: factory state, sessions and
//! timeouts, access control, sequences and origins, storage limits, the audit log, error
//! codes and fault injection.

#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed step fails the test"
)]

mod common;

use common::*;
use yhsm_proto::command::{
    AuditMode, AuthenticationKey, ChangeAuthenticationKey, Command, DeleteObject, DeviceInfo, Echo,
    ExportWrapped, Filter, GenerateAsymmetricKey, GetLogEntries, GetObjectInfo, GetOpaque,
    GetStorageInfo, ImportWrapped, ListObjects, PutAuthenticationKey, PutOpaque, PutWrapKey,
    Response, SetLogIndex, SetOption, verify_log_chain,
};
use yhsm_proto::frame::{self, CommandCode, ErrorCode};
use yhsm_proto::scp03::StaticKeys;
use yhsm_proto::secret::{SecretArray, SecretBytes};
use yhsm_proto::{Algorithm, Capabilities, Domains, ObjectType, Origin};
use yhsm_sim::{Action, Device, Fault, Reply, Trigger};

fn put_opaque(
    s: &mut Session,
    dev: &mut Device,
    id: u16,
    domains: u16,
    caps: Capabilities,
) -> Result<u16, ErrorCode> {
    let req = PutOpaque {
        header: header(id, "o", domains, caps, Algorithm::OPAQUE_DATA),
        data: vec![1, 2, 3],
    };
    s.call(dev, &req).map(|r| r.id)
}

/// Puts an authentication key with password `pw` and opens a session with it.
fn key_session(
    s: &mut Session,
    dev: &mut Device,
    domains: u16,
    caps: Capabilities,
    delegated: Capabilities,
    pw: &str,
) -> (u16, Session) {
    let keys = StaticKeys::from_password(pw.as_bytes());
    let req = PutAuthenticationKey::new(
        0,
        "k".parse().unwrap(),
        Domains(domains),
        caps,
        delegated,
        AuthenticationKey::Symmetric { enc: keys.enc.clone(), mac: keys.mac.clone() },
    );
    let id = s.call(dev, &req).unwrap().id;
    (id, open(dev, id, &keys).unwrap())
}

fn put_wrap_key(
    s: &mut Session,
    dev: &mut Device,
    id: u16,
    caps: Capabilities,
    delegated: Capabilities,
    key: &[u8],
) -> u16 {
    let alg = Algorithm::wrap_for_key_size(key.len()).unwrap();
    let req = PutWrapKey {
        header: header(id, "w", 0xffff, caps, alg),
        delegated,
        key: SecretBytes::from_slice(key),
    };
    s.call(dev, &req).unwrap().id
}

const WRAP_CAPS: Capabilities =
    Capabilities(Capabilities::EXPORT_WRAPPED.0 | Capabilities::IMPORT_WRAPPED.0);

#[test]
fn starts_in_the_factory_state() {
    let (mut dev, _) = device();
    let info = DeviceInfo::decode(&raw(&mut dev, &[0x06, 0, 0])[3..]).unwrap();
    assert_eq!(
        (info.version, info.serial, info.log_total, info.log_used),
        ((2, 4, 0), 1_000_001, 62, 2)
    );
    assert!(info.algorithms.len() >= 47);
    assert_eq!(&raw(&mut dev, &[0x06, 0, 1, 1])[3..], b"YHSM2-SIM");
    let mut s = open_factory(&mut dev);
    let key = s
        .call(&mut dev, &GetObjectInfo { id: 1, object_type: ObjectType::AUTHENTICATION_KEY })
        .unwrap();
    assert_eq!(key.capabilities, Capabilities::ALL);
    assert_eq!(key.delegated_capabilities, Capabilities::ALL);
    assert_eq!(
        (key.domains, key.length, key.sequence, key.origin),
        (Domains::ALL, 40, 0, Origin::IMPORTED)
    );
    assert_eq!(key.label.to_string(), "DEFAULT AUTHKEY CHANGE THIS ASAP");
    let st = s.call(&mut dev, &GetStorageInfo).unwrap();
    assert_eq!(
        (st.total_records, st.free_records, st.total_pages, st.free_pages, st.page_size),
        (256, 255, 1024, 1023, 126)
    );
}

#[test]
fn answers_only_session_and_info_commands_outside_a_session() {
    let (mut dev, _) = device();
    assert_eq!(raw(&mut dev, &[0x01, 0, 2, 9, 8]), [0x81, 0, 2, 9, 8]);
    assert_eq!(raw(&mut dev, &[0x0a, 0, 0]).len(), 3 + 65);
    for code in [0x08, 0x40, 0x48, 0x33, 0x7f] {
        assert_eq!(
            raw(&mut dev, &[code, 0, 0]),
            frame::encode_error(ErrorCode::INVALID_COMMAND),
            "{code:#x}"
        );
    }
    assert_eq!(raw(&mut dev, &[0x01, 0, 5, 1]), frame::encode_error(ErrorCode::WRONG_LENGTH));
    assert_eq!(raw(&mut dev, &[0x06, 0, 1, 2]), frame::encode_error(ErrorCode::INVALID_DATA));
}

#[test]
fn refuses_unknown_keys_wrong_passwords_and_bad_cryptograms() {
    let (mut dev, _) = device();
    assert_eq!(open(&mut dev, 9, &factory_keys()).err(), Some(ErrorCode::OBJECT_NOT_FOUND));
    let hs = yhsm_proto::ClientHandshake::new(1, &StaticKeys::from_password(b"wrong"), [1; 8]);
    let resp = raw(&mut dev, &hs.request());
    assert_eq!(
        hs.on_create_session_response(&resp).unwrap_err(),
        yhsm_proto::SessionError::CardCryptogramMismatch
    );
    // A host cryptogram made with other keys: authentication-failed.
    let good = yhsm_proto::ClientHandshake::new(1, &factory_keys(), [2; 8]);
    let resp = raw(&mut dev, &good.request());
    let (_, mut req) = good.on_create_session_response(&resp).unwrap();
    req[5] ^= 1;
    assert_eq!(raw(&mut dev, &req), frame::encode_error(ErrorCode::AUTHENTICATION_FAILED));
    assert_eq!(raw(&mut dev, &req), frame::encode_error(ErrorCode::INVALID_SESSION));
}

#[test]
fn has_sixteen_slots_and_frees_idle_ones_after_thirty_seconds() {
    let (mut dev, clock) = device();
    let mut sessions: Vec<Session> = (0..16).map(|_| open_factory(&mut dev)).collect();
    assert_eq!(open(&mut dev, 1, &factory_keys()).err(), Some(ErrorCode::SESSIONS_FULL));
    clock.advance(std::time::Duration::from_secs(20));
    // Using a session keeps it alive.
    sessions[0].call(&mut dev, &Echo { data: vec![1] }).unwrap();
    clock.advance(std::time::Duration::from_secs(20));
    assert_eq!(dev.sessions_in_use(), 16);
    sessions[0].call(&mut dev, &Echo { data: vec![2] }).unwrap();
    assert_eq!(dev.sessions_in_use(), 1);
    let sealed = sessions[1].inner.seal(&[0x01, 0, 1, 7]).unwrap();
    assert_eq!(raw(&mut dev, &sealed), frame::encode_error(ErrorCode::INVALID_SESSION));
    clock.advance(PAST_TIMEOUT);
    let mut fresh = open_factory(&mut dev);
    assert_eq!(fresh.call(&mut dev, &Echo { data: vec![3] }).unwrap().data, [3]);
}

#[test]
fn a_bad_mac_closes_the_session() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let mut sealed = s.inner.seal(&[0x01, 0, 1, 7]).unwrap();
    let last = sealed.len() - 1;
    sealed[last] ^= 1;
    assert_eq!(raw(&mut dev, &sealed), frame::encode_error(ErrorCode::AUTHENTICATION_FAILED));
    assert_eq!(dev.sessions_in_use(), 0);
}

#[test]
fn errors_inside_a_session_are_sealed_in_the_envelope() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let sealed = s.inner.seal(&[0x43, 0, 2, 0, 9]).unwrap();
    let resp = raw(&mut dev, &sealed);
    assert_eq!(resp[0], 0x85);
    assert_eq!(s.inner.open(&resp).unwrap(), frame::encode_error(ErrorCode::OBJECT_NOT_FOUND));
    // The session goes on.
    assert_eq!(s.call(&mut dev, &Echo { data: vec![5] }).unwrap().data, [5]);
}

#[test]
fn a_command_needs_its_capability_on_the_session_key() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let (_, mut none) =
        key_session(&mut s, &mut dev, 1, Capabilities::NONE, Capabilities::ALL, "a");
    assert_eq!(
        put_opaque(&mut none, &mut dev, 0, 1, Capabilities::NONE),
        Err(ErrorCode::INSUFFICIENT_PERMISSIONS)
    );
    let (_, mut can) =
        key_session(&mut s, &mut dev, 1, Capabilities::PUT_OPAQUE, Capabilities::ALL, "b");
    assert!(put_opaque(&mut can, &mut dev, 0, 1, Capabilities::NONE).is_ok());
}

#[test]
fn new_objects_stay_within_the_keys_delegated_capabilities_and_domains() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let (_, mut k) = key_session(
        &mut s,
        &mut dev,
        0b11,
        Capabilities::PUT_OPAQUE,
        Capabilities::GET_OPAQUE,
        "c",
    );
    assert_eq!(
        put_opaque(&mut k, &mut dev, 0, 1, Capabilities::DELETE_OPAQUE),
        Err(ErrorCode::INSUFFICIENT_PERMISSIONS)
    );
    assert!(put_opaque(&mut k, &mut dev, 0, 1, Capabilities::GET_OPAQUE).is_ok());
    assert_eq!(
        put_opaque(&mut k, &mut dev, 0, 0b100, Capabilities::NONE),
        Err(ErrorCode::INSUFFICIENT_PERMISSIONS)
    );
    assert!(put_opaque(&mut k, &mut dev, 0, 0b10, Capabilities::NONE).is_ok());
    assert_eq!(
        put_opaque(&mut k, &mut dev, 0, 0, Capabilities::NONE),
        Err(ErrorCode::INVALID_DATA)
    );
}

#[test]
fn objects_are_visible_only_in_shared_domains() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let two = put_opaque(&mut s, &mut dev, 0x20, 0b10, Capabilities::NONE).unwrap();
    let one = put_opaque(&mut s, &mut dev, 0x21, 0b01, Capabilities::NONE).unwrap();
    let (_, mut k) =
        key_session(&mut s, &mut dev, 0b01, Capabilities::GET_OPAQUE, Capabilities::NONE, "d");
    assert_eq!(k.call(&mut dev, &GetOpaque { id: two }).err(), Some(ErrorCode::OBJECT_NOT_FOUND));
    assert_eq!(k.call(&mut dev, &GetOpaque { id: one }).unwrap().data, [1, 2, 3]);
    let listed = k.call(&mut dev, &ListObjects::default()).unwrap().objects;
    assert!(listed.iter().any(|e| e.id == one) && !listed.iter().any(|e| e.id == two));
}

#[test]
fn deleting_needs_the_delete_capability_of_the_type() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let id = put_opaque(&mut s, &mut dev, 0, 1, Capabilities::NONE).unwrap();
    let (_, mut wrong) =
        key_session(&mut s, &mut dev, 1, Capabilities::DELETE_WRAP_KEY, Capabilities::NONE, "e");
    let del = DeleteObject { id, object_type: ObjectType::OPAQUE };
    assert_eq!(wrong.call(&mut dev, &del).err(), Some(ErrorCode::INSUFFICIENT_PERMISSIONS));
    let (_, mut right) =
        key_session(&mut s, &mut dev, 1, Capabilities::DELETE_OPAQUE, Capabilities::NONE, "f");
    right.call(&mut dev, &del).unwrap();
    assert_eq!(right.call(&mut dev, &del).err(), Some(ErrorCode::OBJECT_NOT_FOUND));
}

#[test]
fn export_and_import_check_the_wrap_rules() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let obj = put_opaque(&mut s, &mut dev, 0x30, 1, Capabilities::EXPORTABLE_UNDER_WRAP).unwrap();
    let plain = put_opaque(&mut s, &mut dev, 0x31, 1, Capabilities::NONE).unwrap();
    let narrow = put_wrap_key(&mut s, &mut dev, 0x40, WRAP_CAPS, Capabilities::NONE, &[1; 16]);
    let export_only = put_wrap_key(
        &mut s,
        &mut dev,
        0x41,
        Capabilities::EXPORT_WRAPPED,
        Capabilities::ALL,
        &[1; 16],
    );
    let import_only = put_wrap_key(
        &mut s,
        &mut dev,
        0x42,
        Capabilities::IMPORT_WRAPPED,
        Capabilities::ALL,
        &[1; 16],
    );
    let full = put_wrap_key(
        &mut s,
        &mut dev,
        0x43,
        WRAP_CAPS,
        Capabilities::EXPORTABLE_UNDER_WRAP,
        &[1; 16],
    );
    let ex = |w, id| ExportWrapped::new(w, ObjectType::OPAQUE, id);
    assert_eq!(s.call(&mut dev, &ex(narrow, obj)).err(), Some(ErrorCode::INSUFFICIENT_PERMISSIONS));
    assert_eq!(
        s.call(&mut dev, &ex(import_only, obj)).err(),
        Some(ErrorCode::INSUFFICIENT_PERMISSIONS)
    );
    assert_eq!(s.call(&mut dev, &ex(full, plain)).err(), Some(ErrorCode::INSUFFICIENT_PERMISSIONS));
    assert_eq!(s.call(&mut dev, &ex(0x99, obj)).err(), Some(ErrorCode::OBJECT_NOT_FOUND));
    let blob = s.call(&mut dev, &ex(export_only, obj)).unwrap().blob;
    let import = |w| ImportWrapped { wrap_id: w, blob: blob.clone() };
    assert_eq!(
        s.call(&mut dev, &import(export_only)).err(),
        Some(ErrorCode::INSUFFICIENT_PERMISSIONS)
    );
    assert_eq!(s.call(&mut dev, &import(import_only)).err(), Some(ErrorCode::OBJECT_EXISTS));
    assert_eq!(s.call(&mut dev, &import(narrow)).err(), Some(ErrorCode::INSUFFICIENT_PERMISSIONS));
    let (_, mut no_cap) =
        key_session(&mut s, &mut dev, 0xffff, Capabilities::NONE, Capabilities::ALL, "g");
    assert_eq!(
        no_cap.call(&mut dev, &ex(full, obj)).err(),
        Some(ErrorCode::INSUFFICIENT_PERMISSIONS)
    );
    assert_eq!(
        no_cap.call(&mut dev, &import(full)).err(),
        Some(ErrorCode::INSUFFICIENT_PERMISSIONS)
    );
    let mut tampered = import(import_only);
    tampered.blob[20] ^= 1;
    assert_eq!(s.call(&mut dev, &tampered).err(), Some(ErrorCode::INVALID_DATA));
}

#[test]
fn sequences_count_recreations_and_imports_keep_sequence_and_mark_origin() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let w = put_wrap_key(&mut s, &mut dev, 2, WRAP_CAPS, Capabilities::ALL, &[3; 32]);
    let info = |s: &mut Session, dev: &mut Device, id| {
        s.call(dev, &GetObjectInfo { id, object_type: ObjectType::ASYMMETRIC_KEY }).unwrap()
    };
    for expected in 0..3u8 {
        let gen_key = GenerateAsymmetricKey {
            header: header(7, "k", 1, Capabilities::EXPORTABLE_UNDER_WRAP, Algorithm::ECP256),
        };
        s.call(&mut dev, &gen_key).unwrap();
        let i = info(&mut s, &mut dev, 7);
        assert_eq!((i.sequence, i.origin), (expected, Origin::GENERATED));
        if expected < 2 {
            s.call(&mut dev, &DeleteObject { id: 7, object_type: ObjectType::ASYMMETRIC_KEY })
                .unwrap();
        }
    }
    let blob =
        s.call(&mut dev, &ExportWrapped::new(w, ObjectType::ASYMMETRIC_KEY, 7)).unwrap().blob;
    s.call(&mut dev, &DeleteObject { id: 7, object_type: ObjectType::ASYMMETRIC_KEY }).unwrap();
    let r = s.call(&mut dev, &ImportWrapped { wrap_id: w, blob }).unwrap();
    assert_eq!((r.object_type, r.id), (ObjectType::ASYMMETRIC_KEY, 7));
    let i = info(&mut s, &mut dev, 7);
    assert_eq!((i.sequence, i.origin), (2, Origin(0x11)));
    // Put in the clear: imported.
    let id = put_opaque(&mut s, &mut dev, 0, 1, Capabilities::NONE).unwrap();
    let o = s.call(&mut dev, &GetObjectInfo { id, object_type: ObjectType::OPAQUE }).unwrap();
    assert_eq!(o.origin, Origin::IMPORTED);
}

#[test]
fn id_zero_picks_a_free_id_and_a_taken_id_is_object_exists() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let a = put_opaque(&mut s, &mut dev, 0, 1, Capabilities::NONE).unwrap();
    let b = put_opaque(&mut s, &mut dev, 0, 1, Capabilities::NONE).unwrap();
    assert!(a != 0 && b != 0 && a != b);
    assert_eq!(
        put_opaque(&mut s, &mut dev, a, 1, Capabilities::NONE),
        Err(ErrorCode::OBJECT_EXISTS)
    );
    // The same id with another type is a different object.
    assert!(put_wrap_key(&mut s, &mut dev, a, WRAP_CAPS, Capabilities::NONE, &[1; 24]) == a);
}

#[test]
fn holds_256_objects_and_accounts_pages() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let big = PutOpaque {
        header: header(0, "big", 1, Capabilities::NONE, Algorithm::OPAQUE_DATA),
        data: vec![7; 126 * 10],
    };
    s.call(&mut dev, &big).unwrap();
    let st = s.call(&mut dev, &GetStorageInfo).unwrap();
    assert_eq!((st.free_records, st.free_pages), (254, 1024 - 1 - 10));
    for n in 0..254 {
        put_opaque(&mut s, &mut dev, 0, 1, Capabilities::NONE)
            .unwrap_or_else(|e| panic!("object {n}: {e}"));
    }
    assert_eq!(
        put_opaque(&mut s, &mut dev, 0, 1, Capabilities::NONE),
        Err(ErrorCode::STORAGE_FAILED)
    );
    assert_eq!(s.call(&mut dev, &GetStorageInfo).unwrap().free_records, 0);
    assert_eq!(s.call(&mut dev, &ListObjects::default()).unwrap().objects.len(), 256);
}

#[test]
fn list_objects_applies_every_filter() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let a = put_opaque(&mut s, &mut dev, 0x10, 0b01, Capabilities::GET_OPAQUE).unwrap();
    let req = PutOpaque {
        header: header(
            0x11,
            "other",
            0b10,
            Capabilities::EXPORTABLE_UNDER_WRAP,
            Algorithm::OPAQUE_X509_CERTIFICATE,
        ),
        data: vec![1],
    };
    let b = s.call(&mut dev, &req).unwrap().id;
    let list = |s: &mut Session, dev: &mut Device, f: Filter| -> Vec<u16> {
        s.call(dev, &ListObjects { filters: vec![f] })
            .unwrap()
            .objects
            .iter()
            .map(|e| e.id)
            .collect()
    };
    assert_eq!(list(&mut s, &mut dev, Filter::Id(a)), [a]);
    assert_eq!(list(&mut s, &mut dev, Filter::Type(ObjectType::OPAQUE)), [a, b]);
    assert_eq!(list(&mut s, &mut dev, Filter::Domains(Domains(0b10))), [1, b]);
    assert_eq!(
        list(&mut s, &mut dev, Filter::Capabilities(Capabilities::EXPORTABLE_UNDER_WRAP)),
        [1, b]
    );
    assert_eq!(list(&mut s, &mut dev, Filter::Algorithm(Algorithm::OPAQUE_DATA)), [a]);
    assert_eq!(list(&mut s, &mut dev, Filter::Label("other".parse().unwrap())), [b]);
    assert!(list(&mut s, &mut dev, Filter::Label("oth".parse().unwrap())).is_empty());
}

#[test]
fn change_authentication_key_changes_only_the_sessions_own_key() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let (id, mut k) = key_session(
        &mut s,
        &mut dev,
        1,
        Capabilities::CHANGE_AUTHENTICATION_KEY,
        Capabilities::NONE,
        "one",
    );
    let new = StaticKeys::from_password(b"two");
    let change = |id| ChangeAuthenticationKey {
        key_id: id,
        key: AuthenticationKey::Symmetric { enc: new.enc.clone(), mac: new.mac.clone() },
    };
    assert_eq!(s.call(&mut dev, &change(id)).err(), Some(ErrorCode::INVALID_ID));
    k.call(&mut dev, &change(id)).unwrap();
    assert!(open(&mut dev, id, &new).is_ok());
}

#[test]
fn opens_asymmetric_sessions() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let secret = SecretArray::new([0x11; 32]);
    let pk = yhsm_proto::scp03::public_key(&secret).unwrap();
    let mut x = [0; 32];
    let mut y = [0; 32];
    x.copy_from_slice(&pk[1..33]);
    y.copy_from_slice(&pk[33..]);
    let req = PutAuthenticationKey::new(
        0,
        "asym".parse().unwrap(),
        Domains(1),
        Capabilities::NONE,
        Capabilities::NONE,
        AuthenticationKey::EcP256 { x, y },
    );
    let id = s.call(&mut dev, &req).unwrap().id;
    let mut a = open_asymmetric(&mut dev, id, &secret).unwrap();
    assert_eq!(a.call(&mut dev, &Echo { data: vec![4; 300] }).unwrap().data, vec![4; 300]);
    // An off-curve public key is refused.
    let bad = PutAuthenticationKey { key: AuthenticationKey::EcP256 { x, y: [1; 32] }, ..req };
    assert_eq!(s.call(&mut dev, &bad).err(), Some(ErrorCode::INVALID_DATA));
}

#[test]
fn keeps_an_audit_log_with_a_digest_chain() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let log = s.call(&mut dev, &GetLogEntries).unwrap();
    assert_eq!(log.entries.len(), 2);
    assert_eq!(log.entries[0].data(), [&[0u8, 1][..], &[0xff; 14]].concat().as_slice());
    assert_eq!(
        (log.entries[1].number, log.entries[1].command.0, log.entries[1].session_key),
        (2, 0, 0xffff)
    );
    s.call(
        &mut dev,
        &SetOption::command_audit(&[
            (CommandCode::ECHO, AuditMode::ON),
            (CommandCode::SET_LOG_INDEX, AuditMode::ON),
        ]),
    )
    .unwrap();
    for i in 0..70u8 {
        s.call(&mut dev, &Echo { data: vec![i] }).unwrap();
    }
    let log = s.call(&mut dev, &GetLogEntries).unwrap();
    assert_eq!(log.entries.len(), 62);
    verify_log_chain(&log.entries, None).unwrap();
    let last = *log.entries.last().unwrap();
    assert_eq!(
        (last.command, last.session_key, last.length, last.result),
        (CommandCode::ECHO, 1, 1, 0x81)
    );
    s.call(&mut dev, &SetLogIndex { index: last.number }).unwrap();
    let after = s.call(&mut dev, &GetLogEntries).unwrap();
    assert_eq!(after.entries.len(), 1);
    verify_log_chain(&after.entries, Some(&last)).unwrap();
    assert_eq!(
        s.call(&mut dev, &SetLogIndex { index: last.number.wrapping_add(100) }).err(),
        Some(ErrorCode::INVALID_DATA)
    );
}

#[test]
fn force_audit_refuses_audited_commands_when_the_log_is_full() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    s.call(&mut dev, &SetOption::command_audit(&[(CommandCode::ECHO, AuditMode::ON)])).unwrap();
    s.call(&mut dev, &SetOption::force_audit(AuditMode::ON)).unwrap();
    let mut refused = None;
    for i in 0..70u8 {
        if let Err(e) = s.call(&mut dev, &Echo { data: vec![i] }) {
            refused = Some((i, e));
            break;
        }
    }
    assert_eq!(refused, Some((60, ErrorCode::LOG_FULL)));
    let last = s.call(&mut dev, &GetLogEntries).unwrap().entries.last().copied().unwrap();
    s.call(&mut dev, &SetLogIndex { index: last.number }).unwrap();
    s.call(&mut dev, &Echo { data: vec![1] }).unwrap();
}

#[test]
fn reset_restores_the_factory_state_and_ends_every_session() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let mut other = open_factory(&mut dev);
    put_opaque(&mut s, &mut dev, 5, 1, Capabilities::NONE).unwrap();
    s.send(&mut dev, CommandCode::RESET_DEVICE, &[]).unwrap();
    assert_eq!(dev.sessions_in_use(), 0);
    let sealed = other.inner.seal(&[0x01, 0, 1, 1]).unwrap();
    assert_eq!(raw(&mut dev, &sealed), frame::encode_error(ErrorCode::INVALID_SESSION));
    let mut s = open_factory(&mut dev);
    assert_eq!(s.call(&mut dev, &ListObjects::default()).unwrap().objects.len(), 1);
    assert_eq!(s.call(&mut dev, &GetLogEntries).unwrap().entries.len(), 2);
}

#[test]
fn returns_each_device_error_code_where_the_device_does() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let e = |r: Result<Vec<u8>, ErrorCode>| r.unwrap_err();
    assert_eq!(e(s.send(&mut dev, CommandCode(0x33), &[])), ErrorCode::INVALID_COMMAND);
    assert_eq!(e(s.send(&mut dev, CommandCode::GET_OPAQUE, &[0])), ErrorCode::WRONG_LENGTH);
    assert_eq!(e(s.send(&mut dev, CommandCode::LIST_OBJECTS, &[9, 0])), ErrorCode::INVALID_DATA);
    assert_eq!(e(s.send(&mut dev, CommandCode::GET_OPAQUE, &[0, 9])), ErrorCode::OBJECT_NOT_FOUND);
    // Option 5 (FIPS mode) exists only on FIPS devices.
    assert_eq!(e(s.send(&mut dev, CommandCode::GET_OPTION, &[5])), ErrorCode::INVALID_DATA);
    s.call(&mut dev, &SetOption::algorithm_toggle(&[(Algorithm::ECP256, false)])).unwrap();
    let gen_key =
        GenerateAsymmetricKey { header: header(0, "k", 1, Capabilities::NONE, Algorithm::ECP256) };
    assert_eq!(s.call(&mut dev, &gen_key).err(), Some(ErrorCode::ALGORITHM_DISABLED));
    // Every curve the device advertises is simulated, ecbp512 included.
    let gen_key =
        GenerateAsymmetricKey { header: header(0, "k", 1, Capabilities::NONE, Algorithm::ECBP512) };
    assert!(s.call(&mut dev, &gen_key).is_ok());
    // Outside a session: invalid-session, sessions-full, authentication-failed,
    // object-exists, storage-failed, log-full and invalid-id are covered by the tests above.
    assert_eq!(
        raw(&mut dev, &[0x05, 0, 10, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        frame::encode_error(ErrorCode::INVALID_SESSION)
    );
}

#[test]
fn faults_drop_corrupt_fail_expire_and_unplug() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    // Dropped: executed, but no answer.
    dev.add_fault(Fault::once(Trigger::Command(CommandCode::PUT_OPAQUE), Action::DropResponse));
    let req = PutOpaque {
        header: header(0x70, "d", 1, Capabilities::NONE, Algorithm::OPAQUE_DATA),
        data: vec![1],
    };
    let sealed = s.inner.seal(&req.to_frame().unwrap()).unwrap();
    assert_eq!(dev.handle(&sealed), Reply::Dropped);
    let mut s = open_factory(&mut dev);
    assert!(s.call(&mut dev, &GetOpaque { id: 0x70 }).is_ok());
    // Corrupted: the R-MAC no longer verifies.
    dev.add_fault(Fault::once(
        Trigger::Command(CommandCode::ECHO),
        Action::CorruptResponse { offset: 5 },
    ));
    let sealed = s.inner.seal(&[0x01, 0, 1, 1]).unwrap();
    let resp = raw(&mut dev, &sealed);
    assert!(s.inner.open(&resp).is_err());
    // A chosen error, sealed in the session.
    let mut s = open_factory(&mut dev);
    dev.add_fault(Fault::once(
        Trigger::Command(CommandCode::ECHO),
        Action::Error(ErrorCode::STORAGE_FAILED),
    ));
    assert_eq!(s.call(&mut dev, &Echo { data: vec![1] }).err(), Some(ErrorCode::STORAGE_FAILED));
    assert!(s.call(&mut dev, &Echo { data: vec![1] }).is_ok());
    // Outside a session, by exchange index.
    let next = dev.exchanges();
    dev.add_fault(Fault::once(
        Trigger::Exchange(next),
        Action::Error(ErrorCode::COMMAND_UNEXECUTED),
    ));
    assert_eq!(raw(&mut dev, &[0x01, 0, 0]), frame::encode_error(ErrorCode::COMMAND_UNEXECUTED));
    // Expired session.
    dev.add_fault(Fault::once(Trigger::Command(CommandCode::ECHO), Action::ExpireSession));
    let sealed = s.inner.seal(&[0x01, 0, 1, 1]).unwrap();
    assert_eq!(raw(&mut dev, &sealed), frame::encode_error(ErrorCode::INVALID_SESSION));
    // Unplugged until replugged; the replugged device has booted.
    dev.add_fault(Fault::once(Trigger::Command(CommandCode::GET_DEVICE_INFO), Action::Unplug));
    assert_eq!(dev.handle(&[0x06, 0, 0]), Reply::Unplugged);
    assert_eq!(dev.handle(&[0x01, 0, 0]), Reply::Unplugged);
    dev.replug();
    assert_eq!(raw(&mut dev, &[0x01, 0, 0]), [0x81, 0, 0]);
}

#[test]
fn counts_the_commands_it_ran_and_the_sessions_it_opened() {
    let (mut dev, _) = device();
    assert_eq!((dev.ran(CommandCode::ECHO), dev.sessions_opened()), (0, 0));
    raw(&mut dev, &[0x01, 0, 1, 7]);
    let mut s = open_factory(&mut dev);
    assert_eq!(dev.ran(CommandCode::ECHO), 1);
    assert_eq!(dev.ran(CommandCode::CREATE_SESSION), 1);
    assert_eq!(dev.ran(CommandCode::AUTHENTICATE_SESSION), 1);
    assert_eq!(dev.sessions_opened(), 1);
    // Inside a session the inner command counts, also when it fails; the envelope does not.
    assert!(s.call(&mut dev, &Echo { data: vec![1] }).is_ok());
    assert_eq!(s.call(&mut dev, &GetOpaque { id: 0x99 }).err(), Some(ErrorCode::OBJECT_NOT_FOUND));
    assert_eq!(dev.ran(CommandCode::ECHO), 2);
    assert_eq!(dev.ran(CommandCode::GET_OPAQUE), 1);
    assert_eq!(dev.ran(CommandCode::SESSION_MESSAGE), 0);
    // A dropped response ran; an injected error and an expired session did not.
    dev.add_fault(Fault::once(Trigger::Command(CommandCode::ECHO), Action::DropResponse));
    let sealed = s.inner.seal(&[0x01, 0, 1, 1]).unwrap();
    assert_eq!(dev.handle(&sealed), Reply::Dropped);
    assert_eq!(dev.ran(CommandCode::ECHO), 3);
    let mut s = open_factory(&mut dev);
    dev.add_fault(Fault::once(
        Trigger::Command(CommandCode::ECHO),
        Action::Error(ErrorCode::STORAGE_FAILED),
    ));
    assert!(s.call(&mut dev, &Echo { data: vec![1] }).is_err());
    dev.add_fault(Fault::once(
        Trigger::Command(CommandCode::SESSION_MESSAGE),
        Action::ExpireSession,
    ));
    let sealed = s.inner.seal(&[0x01, 0, 1, 1]).unwrap();
    assert_eq!(raw(&mut dev, &sealed), frame::encode_error(ErrorCode::INVALID_SESSION));
    assert_eq!(dev.ran(CommandCode::ECHO), 3);
    // A failed authentication opens nothing.
    let hs = yhsm_proto::scp03::ClientHandshake::new(1, &factory_keys(), [0xa5; 8]);
    let created = raw(&mut dev, &hs.request());
    let (_, mut authenticate) = hs.on_create_session_response(&created).unwrap();
    *authenticate.last_mut().unwrap() ^= 1;
    let refused = raw(&mut dev, &authenticate);
    assert_eq!(refused, frame::encode_error(ErrorCode::AUTHENTICATION_FAILED));
    assert_eq!(dev.ran(CommandCode::AUTHENTICATE_SESSION), 3);
    assert_eq!(dev.sessions_opened(), 2);
}

#[test]
fn the_same_seed_gives_the_same_device() {
    let (mut a, _) = device();
    let (mut b, _) = device();
    assert_eq!(raw(&mut a, &[0x0a, 0, 0]), raw(&mut b, &[0x0a, 0, 0]));
    let mut sa = open_factory(&mut a);
    let mut sb = open_factory(&mut b);
    let g =
        GenerateAsymmetricKey { header: header(0, "k", 1, Capabilities::NONE, Algorithm::ED25519) };
    assert_eq!(sa.call(&mut a, &g).unwrap(), sb.call(&mut b, &g).unwrap());
}
