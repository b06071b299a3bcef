//! The restore engine against the simulator, with the device held by the test: what it
//! holds afterwards, faults injected mid-run, and the safety rules (nothing written before
//! preflight, the login key kept unless every object is restored, verified and another
//! authentication key proven). Also the binary over HTTP and on a state file, and the
//! vectors restored with shares of their AES-256 key. Messages are in golden/restore.txt.

#![cfg(feature = "sim")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use yhsm::Error;
use yhsm::backup::Backup;
use yhsm::backup::report::Outcome;
use yhsm::backup::restore::{self, Event, Options, RestoreReport, WrapKeyToStore};
use yhsm::device::Login;
use yhsm::wrapkey::shares;
use yhsm_proto::command::{AuthenticationKey, ObjectHeader, PutAuthenticationKey, PutWrapKey};
use yhsm_proto::frame::{CommandCode, ErrorCode};
use yhsm_proto::{Algorithm, Capabilities, Domains, ObjectId, ObjectType, SecretBytes, StaticKeys};
use yhsm_sim::{Action, Config, Device, Fault, SharedDevice, Trigger};
use yhsm_transport::sim::SimTransport;
use yhsm_transport::{Client, Credentials};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/backup");
const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors");
const VECTOR_SHARES: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vectors-wrap-key-shares.txt");

const AUTH: ObjectType = ObjectType::AUTHENTICATION_KEY;

fn device() -> SharedDevice {
    SharedDevice::new(Device::new(Config::default()).unwrap())
}

fn client(dev: &SharedDevice) -> Client {
    Client::with_transport(Box::new(SimTransport::from_shared(dev.clone()))).unwrap()
}

/// The objects on the device, sorted.
fn objects(dev: &SharedDevice) -> Vec<(ObjectId, ObjectType)> {
    let mut out: Vec<_> = dev.lock().store().iter().map(|o| (o.id, o.object_type)).collect();
    out.sort();
    out
}

fn example_objects() -> Vec<(ObjectId, ObjectType)> {
    vec![
        (2, ObjectType::WRAP_KEY),
        (3, AUTH),
        (4, AUTH),
        (0x100, ObjectType::ASYMMETRIC_KEY),
        (0x101, ObjectType::ASYMMETRIC_KEY),
        (0x200, ObjectType::OPAQUE),
    ]
}

fn wrap_key(shares_file: &str) -> WrapKeyToStore {
    WrapKeyToStore::from_recovered(&shares::combine_file(Path::new(shares_file)).unwrap()).unwrap()
}

fn example_wrap_key() -> WrapKeyToStore {
    wrap_key(&format!("{EXAMPLE}/shares.txt"))
}

struct Ran {
    report: RestoreReport,
    events: Vec<Event>,
    logins: usize,
}

/// Runs the engine on `backup` against `dev`, logging in as key 1 with `password`.
fn run_with(
    dev: &SharedDevice,
    mut backup: Backup,
    wrap: &WrapKeyToStore,
    options: Options,
) -> Ran {
    let mut events = Vec::new();
    let mut logins = 0;
    let mut login = || -> Result<Login, Error> {
        logins += 1;
        Ok(Login { client: client(dev), credentials: Credentials::password(1, b"password") })
    };
    let mut confirm = |_: &str| -> Result<bool, Error> { panic!("asked to confirm") };
    let report = restore::run(&mut backup, wrap, &mut login, &mut confirm, options, &mut |e| {
        events.push(e.clone());
    });
    Ran { report, events, logins }
}

fn run(dev: &SharedDevice, options: Options) -> Ran {
    run_with(dev, Backup::read_dir(Path::new(EXAMPLE)).unwrap(), &example_wrap_key(), options)
}

fn defaults() -> Options {
    Options { auth_key: 1, ..Options::default() }
}

fn outcomes(report: &RestoreReport) -> Vec<(String, Outcome, Option<bool>)> {
    report.files.iter().map(|f| (f.file.clone(), f.outcome, f.verified())).collect()
}

#[test]
fn restores_the_example_and_deletes_the_login_key() {
    let dev = device();
    let out = run(&dev, defaults());
    assert!(out.report.ok(), "{:?}", out.report);
    assert_eq!(out.report.exit_code(), 0);
    assert_eq!(objects(&dev), example_objects(), "the factory key 0x0001 is gone");
    assert!(out.report.auth_key_deleted && out.report.wrap_key_stored);
    assert!(out.events.contains(&Event::AuthKeyProven(3)));
    assert!(out.events.contains(&Event::AuthKeyProven(4)));
    assert_eq!(out.events.iter().rev().nth(1), Some(&Event::Done));
    assert_eq!(out.events.last(), Some(&Event::AuthKeysLeft(vec![3, 4])));
    // The objects carry the backup's attributes, imported under wrap.
    let device = dev.lock();
    let ec = device.store().get(0x100, ObjectType::ASYMMETRIC_KEY).unwrap();
    assert_eq!(ec.label.to_string_lossy(), "signing key");
    assert_eq!(ec.origin.0, 0x12);
    let wrap = device.store().get(2, ObjectType::WRAP_KEY).unwrap();
    assert_eq!(wrap.label.to_string_lossy(), restore::WRAP_KEY_LABEL);
    assert!(wrap.delegated.contains(Capabilities::SIGN_EDDSA));
    drop(device);
    // The restored application key logs in.
    let mut c = client(&dev);
    c.authenticate(Credentials::password(3, b"application-demo")).unwrap();
    assert_eq!(c.list_objects(&[]).unwrap().len(), 6);
}

#[test]
fn a_wrong_share_writes_nothing_and_never_connects() {
    let dev = device();
    let text = fs::read_to_string(format!("{EXAMPLE}/shares.txt")).unwrap();
    let good = text.lines().find(|l| l.starts_with("2-1-")).unwrap();
    // A well-formed share of another split: the pair combines, into a wrong key.
    let other = "2-2-Hn4VkmaH3+/D8US63Y1MiFHDBS+vloQNxm3F1scWCtUKFnp65d/0fWW/RGYguWyzKP+PMg";
    let dir = scratch("wrong-share");
    fs::write(dir.join("shares.txt"), format!("{good}\n{other}\n")).unwrap();
    let wrap = wrap_key(dir.join("shares.txt").to_str().unwrap());
    let before = dev.lock().exchanges();
    let out = run_with(&dev, Backup::read_dir(Path::new(EXAMPLE)).unwrap(), &wrap, defaults());
    let e = out.report.error.as_ref().unwrap().chain();
    assert!(e.contains("none of the 5 .yhw files") && e.contains("nothing was written"), "{e}");
    assert_eq!(out.logins, 0);
    assert_eq!(dev.lock().exchanges(), before, "the device was not even spoken to");
    assert_eq!(objects(&dev), [(1, AUTH)]);
    assert!(out.report.files.iter().all(|f| f.outcome == Outcome::Skipped));
    assert_eq!(out.report.exit_code(), 1);
}

#[test]
fn files_that_are_not_wrapped_objects_do_not_blame_the_shares() {
    let dev = device();
    let texts: [(&str, &[u8]); 2] = [("a.yhw", b"not base64!\n"), ("b.yhw", b"")];
    let backup = Backup::from_texts(Path::new("d"), texts);
    let out = run_with(&dev, backup, &example_wrap_key(), defaults());
    let e = out.report.error.as_ref().unwrap();
    assert_eq!(
        e.message(),
        "none of the 2 .yhw files in `d` holds an object to restore (see above); nothing was \
         written to the device"
    );
    assert!(e.hint().unwrap().starts_with("the files are not wrapped objects"), "{:?}", e.hint());
    assert_eq!(out.logins, 0);

    // One file that decrypts to a damaged object: the shares are right.
    let wrap = example_wrap_key();
    let object = yhsm_proto::wrap::WrappedObject {
        header: yhsm_proto::wrap::WrapHeader {
            wrap_algorithm: Algorithm::AES256_CCM_WRAP,
            capabilities: Capabilities::GET_OPAQUE,
            id: 0x10,
            length: 0,
            domains: Domains(1),
            object_type: ObjectType::OPAQUE,
            algorithm: Algorithm::OPAQUE_DATA,
            sequence: 0,
            origin: yhsm_proto::Origin::IMPORTED,
            label: "x".parse().unwrap(),
        },
        body: yhsm_proto::wrap::Body::Raw(SecretBytes::from_slice(b"data")),
    };
    let blob = yhsm_proto::wrap::wrap(&wrap.key, [1; 13], &object).unwrap();
    let text = yhsm_proto::wrap::encode_text(&blob);
    let mut backup = Backup::from_texts(Path::new("d"), [("c.yhw", text.as_bytes())]);
    // As a file that decrypts to a damaged body is read (tests/bad-input has real ones).
    backup.decrypt(&wrap.key);
    backup.files[0].state = yhsm::backup::FileState::Malformed("decrypts, but damaged".into());
    let out = run_with(&dev, backup, &wrap, defaults());
    let e = out.report.error.as_ref().unwrap();
    assert_eq!(
        e.message(),
        "the .yhw file in `d` holds no object to restore (see above); nothing was written to the \
         device"
    );
    assert!(e.hint().unwrap().starts_with("the shares are right"), "{:?}", e.hint());
}

#[test]
fn a_dry_run_changes_nothing() {
    let dev = device();
    dev.lock().take_changed();
    let out = run(&dev, Options { dry_run: true, ..defaults() });
    assert!(out.report.ok(), "{:?}", out.report.error);
    assert!(!dev.lock().take_changed(), "the device state changed");
    assert_eq!(objects(&dev), [(1, AUTH)]);
    assert!(
        out.report.files.iter().all(|f| f.outcome == Outcome::Planned && f.verified().is_none())
    );
    assert!(out.events.contains(&Event::WrapKeyPlanned(2)));
    assert!(out.events.contains(&Event::AuthKeyPlanned { id: 1, keep_reason: None }));
    assert_eq!(out.events.last(), Some(&Event::DryRunDone));
    assert!(!out.report.auth_key_deleted);
}

#[test]
fn a_refused_import_keeps_the_login_key_and_a_second_run_finishes() {
    let dev = device();
    dev.lock().add_fault(Fault::once(
        Trigger::Command(CommandCode::IMPORT_WRAPPED),
        Action::Error(ErrorCode::STORAGE_FAILED),
    ));
    let out = run(&dev, defaults());
    assert_eq!(out.report.exit_code(), 1);
    let files = outcomes(&out.report);
    assert_eq!(files[0].1, Outcome::Failed, "{files:?}");
    assert!(files[1..].iter().all(|f| f.1 == Outcome::Imported && f.2 == Some(true)), "{files:?}");
    assert!(!out.report.auth_key_deleted);
    assert!(objects(&dev).contains(&(1, AUTH)), "the login key was kept");
    assert!(!objects(&dev).contains(&(3, AUTH)));
    let reason = out.report.auth_key_kept_reason.clone().unwrap();
    assert!(reason.contains("not every object"), "{reason}");
    let e = out.report.into_failure().unwrap().chain();
    assert!(e.starts_with("1 of 5 objects from the backup was not restored"), "{e}");

    let again = run(&dev, defaults());
    assert!(again.report.ok(), "{:?}", again.report);
    let files = outcomes(&again.report);
    assert_eq!(files[0].1, Outcome::Imported);
    assert!(files[1..].iter().all(|f| f.1 == Outcome::AlreadyPresent && f.2 == Some(true)));
    assert!(again.report.wrap_key_present && !again.report.wrap_key_stored);
    assert_eq!(objects(&dev), example_objects());
}

/// The warnings of the steps the engine settled by looking at the device.
fn retried(events: &[Event]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Retried { what, resolution, .. } => Some((what.clone(), resolution.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_lost_answer_to_an_import_is_settled_by_looking_at_the_device() {
    let dev = device();
    dev.lock().add_fault(Fault::once(
        Trigger::Command(CommandCode::IMPORT_WRAPPED),
        Action::DropResponse,
    ));
    let out = run(&dev, defaults());
    assert!(out.report.ok(), "{:?}", out.report);
    // The device ran the command, only the answer was lost: it is there, not imported twice.
    assert_eq!(
        retried(&out.events),
        [(
            "importing authentication-key 0x0003 (0x0003-authentication-key.yhw)".to_owned(),
            "it is on the device, so it was imported".to_owned()
        )]
    );
    assert_eq!(out.report.files[0].outcome, Outcome::Imported);
    assert_eq!(out.report.files[0].verified(), Some(true));
    assert_eq!(objects(&dev), example_objects());
    let warning =
        restore::render(out.events.iter().find(|e| matches!(e, Event::Retried { .. })).unwrap());
    let [restore::Line::Warning(text)] = &warning[..] else { panic!("{warning:?}") };
    assert!(text.contains("import-wrapped: no answer within"), "{text}");
}

#[test]
fn an_import_that_met_an_expired_session_is_sent_once_more() {
    let dev = device();
    dev.lock().add_fault(Fault::once(
        Trigger::Command(CommandCode::IMPORT_WRAPPED),
        Action::ExpireSession,
    ));
    let out = run(&dev, defaults());
    assert!(out.report.ok(), "{:?}", out.report);
    assert_eq!(
        retried(&out.events),
        [(
            "importing authentication-key 0x0003 (0x0003-authentication-key.yhw)".to_owned(),
            "it is not on the device: importing it once more".to_owned()
        )]
    );
    assert_eq!(objects(&dev), example_objects());
}

#[test]
fn a_lost_answer_to_storing_the_wrap_key_is_settled_by_looking_at_the_device() {
    let dev = device();
    dev.lock()
        .add_fault(Fault::once(Trigger::Command(CommandCode::PUT_WRAP_KEY), Action::DropResponse));
    let out = run(&dev, defaults());
    assert!(out.report.ok(), "{:?}", out.report);
    assert!(out.report.wrap_key_stored);
    assert_eq!(
        retried(&out.events),
        [(
            "storing wrap key 0x0002".to_owned(),
            "it is on the device, so it was stored".to_owned()
        )]
    );
    assert_eq!(objects(&dev), example_objects());
}

#[test]
fn a_lost_answer_to_deleting_the_login_key_is_settled_by_looking_at_the_device() {
    // Before: the run exited 1 with the login key gone, and running it again could not log in.
    let dev = device();
    dev.lock()
        .add_fault(Fault::once(Trigger::Command(CommandCode::DELETE_OBJECT), Action::DropResponse));
    let out = run(&dev, defaults());
    assert!(out.report.ok(), "{:?}", out.report);
    assert!(out.report.auth_key_deleted);
    assert_eq!(
        retried(&out.events),
        [(
            "deleting authentication key 0x0001".to_owned(),
            "it is no longer on the device, so it was deleted".to_owned()
        )]
    );
    assert_eq!(out.events.iter().rev().nth(1), Some(&Event::Done));
    assert_eq!(out.events.last(), Some(&Event::AuthKeysLeft(vec![3, 4])));
    assert_eq!(objects(&dev), example_objects());
}

#[test]
fn a_write_met_by_an_expired_session_is_sent_once_more() {
    for (command, what, resolution) in [
        (
            CommandCode::PUT_WRAP_KEY,
            "storing wrap key 0x0002",
            "it is not on the device: storing it once more",
        ),
        (
            CommandCode::DELETE_OBJECT,
            "deleting authentication key 0x0001",
            "it is still on the device: deleting it once more",
        ),
    ] {
        let dev = device();
        dev.lock().add_fault(Fault::once(Trigger::Command(command), Action::ExpireSession));
        let out = run(&dev, defaults());
        assert!(out.report.ok(), "{command}: {:?}", out.report);
        assert_eq!(retried(&out.events), [(what.to_owned(), resolution.to_owned())]);
        // Sent once more: the wrap key is there, the factory key 0x0001 is gone.
        assert_eq!(objects(&dev), example_objects(), "{command}");
    }
}

#[test]
fn a_refused_delete_is_not_sent_again() {
    let dev = device();
    dev.lock().add_fault(Fault::once(
        Trigger::Command(CommandCode::DELETE_OBJECT),
        Action::Error(ErrorCode::STORAGE_FAILED),
    ));
    let out = run(&dev, defaults());
    assert!(retried(&out.events).is_empty());
    let e = out.report.error.as_ref().unwrap();
    assert!(e.chain().starts_with("cannot delete authentication key 0x0001: delete-object"));
    assert!(e.hint().unwrap().starts_with("everything was restored"), "{:?}", e.hint());
    assert!(objects(&dev).contains(&(1, AUTH)));
    assert_eq!(out.report.exit_code(), 1);
}

/// A device that already holds every object of the example (a first run that kept its
/// login key), so that a second run compares the asymmetric keys' public keys.
fn device_holding_the_example() -> SharedDevice {
    let dev = device();
    assert!(run(&dev, Options { keep_authkey: true, ..defaults() }).report.ok());
    dev
}

#[test]
fn an_object_imported_in_this_run_is_not_asked_for_its_public_key_again() {
    // IMPORT_WRAPPED authenticated the blob: the device holds its key. Only objects that
    // were on the device before the run have their public key compared.
    let dev = device();
    dev.lock().add_fault(Fault::always(
        Trigger::Command(CommandCode::GET_PUBLIC_KEY),
        Action::Error(ErrorCode::INVALID_DATA),
    ));
    assert!(run(&dev, defaults()).report.ok());
}

#[test]
fn an_asymmetric_key_already_present_with_another_key_fails_verification() {
    let dev = device();
    let mut c = client(&dev);
    c.authenticate(Credentials::password(1, b"password")).unwrap();
    let header = ObjectHeader {
        id: 0x100,
        label: "signing key".parse().unwrap(),
        domains: Domains(1),
        capabilities: Capabilities::SIGN_ECDSA | Capabilities::EXPORTABLE_UNDER_WRAP,
        algorithm: Algorithm::ECP256,
    };
    c.generate_asymmetric_key(&yhsm_proto::command::GenerateAsymmetricKey { header }).unwrap();
    drop(c);
    let out = run(&dev, defaults());
    let f = out.report.files.iter().find(|f| f.file == "0x0100-asymmetric-key.yhw").unwrap();
    assert_eq!(f.outcome, Outcome::AlreadyPresent);
    assert_eq!(f.verified(), Some(false));
    assert!(f.reason.as_deref().unwrap_or_default().contains("public key"), "{:?}", f.reason);
    assert!(objects(&dev).contains(&(1, AUTH)), "the login key is kept");
    assert_eq!(out.report.exit_code(), 1);
}

#[test]
fn a_garbled_answer_while_verifying_is_read_once_more() {
    let dev = device_holding_the_example();
    dev.lock().add_fault(Fault::once(
        Trigger::Command(CommandCode::GET_PUBLIC_KEY),
        Action::CorruptResponse { offset: 20 },
    ));
    let out = run(&dev, defaults());
    assert!(out.report.ok(), "{:?}", out.report);
    assert_eq!(
        retried(&out.events),
        [(
            "verifying asymmetric-key 0x0100 (0x0100-asymmetric-key.yhw)".to_owned(),
            "checking it once more".to_owned()
        )]
    );
}

#[test]
fn a_garbled_handshake_while_proving_an_authentication_key_is_tried_once_more() {
    // The session with the backup's keys of 0x0003 fails its card cryptogram: it looks
    // like another key on the device, until it is tried again.
    let dev = device();
    // Exchanges: 0 device info, 1-2 login, 3 list, 4-5 preflight (the login key's info,
    // storage), 6 wrap key, 7-11 imports, 12 get-object-info of 0x0003, 13 close, 14
    // create-session with the backup's keys.
    dev.lock()
        .add_fault(Fault::once(Trigger::Exchange(14), Action::CorruptResponse { offset: 20 }));
    let out = run(&dev, defaults());
    assert!(out.report.ok(), "{:?}", out.report);
    assert_eq!(
        retried(&out.events),
        [(
            "verifying authentication-key 0x0003 (0x0003-authentication-key.yhw)".to_owned(),
            "checking it once more".to_owned()
        )]
    );
    assert!(out.events.contains(&Event::AuthKeyProven(3)));
}

#[test]
fn an_unplugged_device_stops_the_run_naming_the_object_and_a_second_run_finishes() {
    let dev = device();
    // The third import: the device is gone before the request reaches it.
    dev.lock().add_fault(Fault::once(Trigger::Exchange(9), Action::Unplug));
    let out = run(&dev, defaults());
    let e = out.report.error.as_ref().unwrap();
    assert!(
        e.message().starts_with(
            "restore stopped at [3/5], importing asymmetric-key 0x0100 (0x0100-asymmetric-key.yhw)"
        ),
        "{}",
        e.chain()
    );
    assert!(e.chain().contains("connection to the YubiHSM lost"), "{}", e.chain());
    assert!(e.hint().unwrap().contains("run restore again"));
    assert!(objects(&dev).contains(&(1, AUTH)), "the login key was kept");
    assert_eq!(out.report.auth_key_kept_reason.as_deref(), Some("restore did not finish"));
    assert_eq!(out.report.exit_code(), 1);

    dev.lock().replug();
    let again = run(&dev, defaults());
    assert!(again.report.ok(), "{:?}", again.report);
    assert_eq!(again.report.files[1].outcome, Outcome::AlreadyPresent);
    assert_eq!(again.report.files[2].outcome, Outcome::Imported);
    assert_eq!(objects(&dev), example_objects());
}

#[test]
fn a_login_key_already_deleted_is_explained() {
    let dev = device();
    assert!(run(&dev, defaults()).report.ok());
    let again = run(&dev, defaults());
    let e = again.report.error.as_ref().unwrap();
    assert!(e.chain().starts_with("cannot log in; nothing was written: create-session"));
    assert!(
        e.hint().unwrap().starts_with(
            "authentication key 0x0001 is not on the device (a restore that finished deletes it)"
        ),
        "{:?}",
        e.hint()
    );
}

#[test]
fn a_damaged_file_keeps_the_login_key_and_a_good_copy_finishes_the_job() {
    // One bit flipped in the middle of a file: its tag no longer checks out, so it looks
    // like a file under another key. The rest is restored, but not "all done".
    let dir = scratch("damaged");
    for entry in fs::read_dir(EXAMPLE).unwrap() {
        let path = entry.unwrap().path();
        fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    let name = "0x0100-asymmetric-key.yhw";
    let good = fs::read(dir.join(name)).unwrap();
    let mut bad = good.clone();
    bad[40] = if bad[40] == b'A' { b'B' } else { b'A' };
    fs::write(dir.join(name), &bad).unwrap();

    let dev = device();
    let out = run_with(&dev, Backup::read_dir(&dir).unwrap(), &example_wrap_key(), defaults());
    assert!(out.events.contains(&Event::Skipped {
        file: name.to_owned(),
        reason: "not wrapped under this key, or damaged".to_owned()
    }));
    assert_eq!(out.report.exit_code(), 1);
    assert!(!out.report.auth_key_deleted);
    assert!(objects(&dev).contains(&(1, AUTH)), "the login key was kept");
    assert!(!objects(&dev).contains(&(0x100, ObjectType::ASYMMETRIC_KEY)));
    assert_eq!(objects(&dev).len(), 6, "the other four, the wrap key and the login key");
    let e = out.report.into_failure().unwrap();
    assert_eq!(
        e.message(),
        "1 of 5 objects from the backup was not restored and verified; authentication key \
         0x0001 was kept"
    );
    assert!(e.hint().unwrap().contains("take it from another copy of the backup"));

    fs::write(dir.join(name), &good).unwrap();
    let again = run_with(&dev, Backup::read_dir(&dir).unwrap(), &example_wrap_key(), defaults());
    assert!(again.report.ok(), "{:?}", again.report);
    assert_eq!(objects(&dev), example_objects());
}

#[test]
fn a_copy_of_a_file_is_not_a_failure() {
    let dir = scratch("copy");
    for entry in fs::read_dir(EXAMPLE).unwrap() {
        let path = entry.unwrap().path();
        fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    fs::copy(dir.join("0x0200-opaque.yhw"), dir.join("zz-copy-of-0x0200.yhw")).unwrap();
    let dev = device();
    let out = run_with(&dev, Backup::read_dir(&dir).unwrap(), &example_wrap_key(), defaults());
    assert!(out.report.ok(), "{:?}", out.report);
    let copy = out.report.files.iter().find(|f| f.file == "zz-copy-of-0x0200.yhw").unwrap();
    assert_eq!(copy.outcome, Outcome::Copy);
    assert!(out.report.auth_key_deleted);
}

#[test]
fn an_error_while_verifying_names_the_object() {
    let dev = device_holding_the_example();
    dev.lock().add_fault(Fault::always(
        Trigger::Command(CommandCode::GET_PUBLIC_KEY),
        Action::DropResponse,
    ));
    let out = run(&dev, defaults());
    let e = out.report.error.as_ref().unwrap().chain();
    assert!(
        e.starts_with(
            "restore stopped while verifying asymmetric-key 0x0100 (0x0100-asymmetric-key.yhw)"
        ),
        "{e}"
    );
    assert!(objects(&dev).contains(&(1, AUTH)));
    assert_eq!(out.report.exit_code(), 1);
}

fn put_wrap_key(dev: &SharedDevice, key: &[u8], delegated: Capabilities) {
    let mut c = client(dev);
    c.authenticate(Credentials::password(1, b"password")).unwrap();
    c.put_wrap_key(&PutWrapKey {
        header: ObjectHeader {
            id: 2,
            label: "old".parse().unwrap(),
            domains: Domains(1),
            capabilities: Capabilities::IMPORT_WRAPPED.union(Capabilities::EXPORT_WRAPPED),
            algorithm: Algorithm::AES256_CCM_WRAP,
        },
        delegated,
        key: SecretBytes::from_slice(key),
    })
    .unwrap();
}

#[test]
fn a_different_wrap_key_already_on_the_device_is_named() {
    let dev = device();
    let wrap = example_wrap_key();
    put_wrap_key(&dev, &[0x55; 32], wrap.attributes.delegated_or_none());
    let out = run(&dev, defaults());
    assert!(out.report.wrap_key_present && !out.report.wrap_key_stored);
    assert!(out.report.files.iter().all(|f| f.outcome == Outcome::Failed));
    let reason = out.report.auth_key_kept_reason.clone().unwrap();
    assert!(
        reason.contains("wrap key 0x0002 on the device is not the key of the shares"),
        "{reason}"
    );
    assert_eq!(objects(&dev), [(1, AUTH), (2, ObjectType::WRAP_KEY)]);
    assert_eq!(out.report.exit_code(), 1);
}

#[test]
fn the_same_wrap_key_already_on_the_device_is_used_and_its_attributes_compared() {
    let dev = device();
    let wrap = example_wrap_key();
    put_wrap_key(&dev, wrap.key.expose_secret(), Capabilities::ALL);
    let out = run(&dev, defaults());
    assert!(out.report.ok(), "{:?}", out.report);
    let Some(Event::WrapKeyPresent { id: 2, differences }) =
        out.events.iter().find(|e| matches!(e, Event::WrapKeyPresent { .. }))
    else {
        panic!("{:?}", out.events)
    };
    let fields: Vec<&str> = differences.iter().map(|d| d.field()).collect();
    assert_eq!(fields, ["delegated_capabilities"]);
}

#[test]
fn an_authentication_key_that_is_not_the_backups_keeps_the_login_key() {
    // 0x0003 and 0x0004 are on the device with the backup's attributes but other keys:
    // only a session can tell.
    let dev = device();
    let mut backup = Backup::read_dir(Path::new(EXAMPLE)).unwrap();
    backup.decrypt(&example_wrap_key().key);
    let mut c = client(&dev);
    c.authenticate(Credentials::password(1, b"password")).unwrap();
    for (_, entry) in backup.entries().filter(|(_, e)| e.object_type() == AUTH) {
        let h = entry.summary.header;
        let keys = StaticKeys::from_password(b"not the backup's password");
        c.put_authentication_key(&PutAuthenticationKey {
            header: ObjectHeader {
                id: h.id,
                label: h.label,
                domains: h.domains,
                capabilities: h.capabilities,
                algorithm: h.algorithm,
            },
            delegated: entry.summary.delegated.unwrap(),
            key: AuthenticationKey::Symmetric { enc: keys.enc.clone(), mac: keys.mac.clone() },
        })
        .unwrap();
    }
    drop(c);
    let out = run(&dev, defaults());
    assert_eq!(out.report.exit_code(), 1);
    let files = outcomes(&out.report);
    assert_eq!(
        files[0],
        ("0x0003-authentication-key.yhw".into(), Outcome::AlreadyPresent, Some(false))
    );
    assert_eq!(files[1].2, Some(false));
    assert!(out.report.files[0].reason.as_deref().unwrap().contains("do not open a session"));
    assert!(!out.events.iter().any(|e| matches!(e, Event::AuthKeyProven(_))));
    assert!(!out.report.auth_key_deleted);
    assert!(objects(&dev).contains(&(1, AUTH)));
}

#[test]
fn keep_authkey_always_keeps_it() {
    let dev = device();
    let out = run(&dev, Options { keep_authkey: true, ..defaults() });
    assert!(out.report.ok());
    assert_eq!(out.report.auth_key_kept_reason.as_deref(), Some("--keep-authkey was given"));
    assert!(objects(&dev).contains(&(1, AUTH)));
}

#[test]
fn restores_the_vectors_with_shares_of_their_aes256_key() {
    let dev = device();
    let backup = Backup::read_dir(&Path::new(VECTORS).join("wrapped")).unwrap();
    assert_eq!(backup.files.len(), 13);
    let out = run_with(&dev, backup, &wrap_key(VECTOR_SHARES), defaults());
    // Three files are under other keys: to this run they may be damaged objects of the
    // backup, so it exits 1 and keeps the login key.
    assert!(!out.report.ok(), "{:?}", out.report);
    assert!(out.report.error.is_none());
    assert!(out.report.files.iter().all(|f| f.outcome != Outcome::Failed));
    let skipped: Vec<&str> = out
        .report
        .files
        .iter()
        .filter(|f| f.outcome == Outcome::Skipped)
        .map(|f| f.file.as_str())
        .collect();
    assert_eq!(
        skipped,
        [
            "authkey_app_secret_aes128wrap.yhw",
            "ec_p256_under_aes128.yhw",
            "ec_p256_under_aes192.yhw"
        ]
    );
    assert!(
        out.report
            .files
            .iter()
            .filter(|f| f.outcome == Outcome::Skipped)
            .all(|f| f.reason.as_deref() == Some("not wrapped under this key, or damaged"))
    );
    let imported = out.report.files.iter().filter(|f| f.outcome == Outcome::Imported).count();
    assert_eq!(imported, 10);
    assert!(out.events.contains(&Event::AuthKeyProven(3)), "0x0003 (password `password`)");
    assert!(!out.report.auth_key_deleted);
    assert_eq!(
        out.report.auth_key_kept_reason.as_deref(),
        Some(
            "3 of the backup's .yhw files were not restored (see above), so the device may not \
             hold everything"
        )
    );
    assert_eq!(objects(&dev).len(), 12, "ten objects, the wrap key and the login key");
    // The RSA key, which the simulator can only store, came back with its modulus.
    let mut c = client(&dev);
    c.authenticate(Credentials::password(3, b"password")).unwrap();
    assert_eq!(c.get_public_key(0x30).unwrap().key.len(), 256);
}

// The binary.

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("yhsm-restore-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn yhsm(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yhsm"))
        .args(args)
        .current_dir(dir)
        .env_remove("YHSM_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn restore_args<'a>(connector: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["-c", connector, "restore", EXAMPLE];
    args.extend_from_slice(&[
        "--shares-file",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/backup/shares.txt"),
    ]);
    args.extend_from_slice(&[
        "--password-file",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/backup/password.txt"),
    ]);
    args.extend_from_slice(extra);
    args
}

fn state_objects(state: &Path) -> Vec<(ObjectId, ObjectType)> {
    let device = yhsm_sim::state::load(state).unwrap();
    let mut out: Vec<_> = device.store().iter().map(|o| (o.id, o.object_type)).collect();
    out.sort();
    out
}

#[test]
fn the_binary_restores_twice_on_a_state_file() {
    let dir = scratch("twice");
    let url = format!("sim:{}", dir.join("state").display());
    let first = yhsm(&restore_args(&url, &["--keep-authkey"]), &dir);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let mut expected = example_objects();
    expected.insert(0, (1, AUTH));
    assert_eq!(state_objects(&dir.join("state")), expected);

    let second = yhsm(&restore_args(&url, &[]), &dir);
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    let stdout = String::from_utf8(second.stdout).unwrap();
    assert!(!stdout.contains("Successfully imported"), "{stdout}");
    assert_eq!(stdout.matches("is already on the device, skipped").count(), 5);
    assert!(
        stdout.ends_with(
            "Previous authentication key 0x0001 deleted\nAll done\nAuthentication keys left to \
             log in with: 0x0003, 0x0004 (-k ID)\n"
        ),
        "{stdout}"
    );
    assert_eq!(state_objects(&dir.join("state")), example_objects());
}

#[test]
fn the_binary_leaves_the_state_file_alone_on_a_wrong_share_and_a_dry_run() {
    let dir = scratch("untouched");
    let state = dir.join("state");
    let url = format!("sim:{}", state.display());
    fs::write(
        dir.join("bad.txt"),
        "2-1-DzyKRzPN4fnv9gpd4MgmRClmJxHZxEEEZTHp4eGICmQPjjS75HZhJKJAP6EESSFPBmzYhw\n\
         2-2-Hn4VkmaH3+/D8US63Y1MiFHDBS+vloQNxm3F1scWCtUKFnp65d/0fWW/RGYguWyzKP+PMg\n",
    )
    .unwrap();
    let out = yhsm(
        &["-c", &url, "restore", EXAMPLE, "--shares-file", "bad.txt", "--password-file", "bad.txt"],
        &dir,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(!state.exists(), "a refused restore opened the device");

    // The first run saves the fresh device; a dry run changes nothing after that.
    let dry = yhsm(&restore_args(&url, &["--dry-run"]), &dir);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    let before = fs::read(&state).unwrap();
    let dry = yhsm(&restore_args(&url, &["--dry-run"]), &dir);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    assert_eq!(fs::read(&state).unwrap(), before, "a dry run changed the device's state");
    assert_eq!(state_objects(&state), [(1, AUTH)]);
}

#[test]
fn the_binary_restores_over_http() {
    let dev = device();
    let server = yhsm_sim::http::Server::bind("127.0.0.1:0", dev.clone()).unwrap().spawn().unwrap();
    let url = format!("http://{}", server.addr());
    let dir = scratch("http");
    let out = yhsm(&restore_args(&url, &["--json"]), &dir);
    server.stop();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["auth_key_deleted"], true);
    assert_eq!(json["wrap_key"]["stored"], true);
    let files = json["files"].as_array().unwrap();
    assert_eq!(files.len(), 5);
    assert!(files.iter().all(|f| f["outcome"] == "imported" && f["verified"] == true));
    assert_eq!(objects(&dev), example_objects());
}

/// The README's first command, run as it is written, prints the README's transcript.
#[test]
fn the_readme_shows_what_its_first_command_prints() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = fs::read_to_string(repo.join("README.md")).unwrap();
    let block = |fence: &str| {
        let start = readme.find(fence).unwrap() + fence.len();
        let len = readme[start..].find("```").unwrap();
        readme[start..start + len].to_owned()
    };
    let commands = block("```sh\n");
    let command = commands.lines().next().unwrap();
    let args = command.strip_prefix("cargo run --release -p yhsm -- ").unwrap();
    let args: Vec<&str> = args.split_whitespace().collect();
    let out = yhsm(&args, &repo);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), block("```text\n"));
    assert_eq!(commands.lines().nth(1), Some("cargo test --workspace"));
}
