//! Issue 10 §3, tried as an attacker would: an object already on the device with a backup
//! object's id, type and attributes but other content (a leftover, or a planted one) must
//! never pass as verified. Restore and verify prove the content of such an object the way
//! it allows (a session, get-opaque, export under the wrap key, an operation with the key
//! on a random challenge), report a different one as different, and one they cannot
//! prove as "present, content not verified" — which keeps the login key. Before these
//! checks, every planted object below but the authentication key was reported
//! `already on the device, skipped`, then verified, and the login key was deleted.

#![cfg(feature = "sim")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::fs;
use std::path::{Path, PathBuf};

use yhsm::Error;
use yhsm::backup::Backup;
use yhsm::backup::compare::{Difference, Proof};
use yhsm::backup::report::Outcome;
use yhsm::backup::restore::{self, Args, Event, RestoreReport};
use yhsm::backup::verify::{self, ExpectedWrapKey, Status};
use yhsm::device::Login;
use yhsm::options::GlobalOptions;
use yhsm::util::password::PasswordOptions;
use yhsm::util::prompt::ScriptedPrompter;
use yhsm::wrap::{WrapSpec, build_object};
use yhsm::wrapkey::read_key_file;
use yhsm::wrapkey::shares::{self, SplitOptions};
use yhsm_proto::command::{
    AuthenticationKey, ObjectHeader, PutAuthenticationKey, PutOpaque, PutWrapKey,
};
use yhsm_proto::frame::CommandCode;
use yhsm_proto::shares::ShareFormat;
use yhsm_proto::wrap::{self, WrapKey};
use yhsm_proto::{Algorithm, Capabilities, Domains, ObjectId, ObjectType, SecretBytes, StaticKeys};
use yhsm_sim::{Config, Device, SharedDevice};
use yhsm_transport::sim::SimTransport;
use yhsm_transport::{Client, Credentials};

const WRAP_KEY_HEX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/keys/wrap-key.hex");
const AUTH: ObjectType = ObjectType::AUTHENTICATION_KEY;
const WRAP_ID: ObjectId = 2;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("yhsm-content-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn wrap_key() -> WrapKey {
    read_key_file(Path::new(WRAP_KEY_HEX)).unwrap()
}

fn spec(id: ObjectId, algorithm: &str, caps: &str) -> WrapSpec {
    WrapSpec {
        id,
        label: format!("object {id:#06x}").parse().unwrap(),
        domains: Domains(1),
        capabilities: caps.parse().unwrap(),
        delegated: None,
        algorithm: algorithm.parse().unwrap(),
    }
}

/// The objects of the backup: each the kind of object whose content only a proof can
/// show, with the capabilities that open one way of proving it (or none).
fn objects(material: u8) -> Vec<(WrapSpec, Vec<u8>)> {
    let auth = WrapSpec {
        delegated: Some(Capabilities::NONE),
        ..spec(0x03, "aes128-yubico-authentication", "get-log-entries")
    };
    let wrap7 = WrapSpec {
        delegated: Some(Capabilities::NONE),
        ..spec(0x07, "aes128-ccm-wrap", "wrap-data")
    };
    vec![
        (auth, format!("password-{material}\n").into_bytes()),
        (wrap7, vec![material; 16]),
        (spec(0x40, "hmac-sha256", "sign-hmac"), vec![material; 20]),
        (spec(0x41, "hmac-sha512", "verify-hmac"), vec![material; 40]),
        (spec(0x50, "opaque-data", "get-opaque"), vec![material; 33]),
        (spec(0x51, "opaque-data", "exportable-under-wrap"), vec![material; 34]),
        (spec(0x60, "aes128", "encrypt-ecb"), vec![material; 16]),
        (spec(0x61, "aes256", "decrypt-cbc"), vec![material; 32]),
        (spec(0x70, "hmac-sha384", "sign-hmac,exportable-under-wrap"), vec![material; 48]),
    ]
}

/// A backup of [`objects`] (key material from `material`) under the example's wrap key,
/// with three shares of it (so that they vouch for its attributes) and the password.
fn backup(name: &str, material: u8, extra: &[(WrapSpec, Vec<u8>)]) -> PathBuf {
    let dir = scratch(name);
    let key = wrap_key();
    for (n, (spec, input)) in objects(material).iter().chain(extra).enumerate() {
        let object = build_object(spec, input, "input", false).unwrap();
        let blob = wrap::wrap(&key, [u8::try_from(n).unwrap(); wrap::NONCE_LEN], &object).unwrap();
        let name = format!("0x{:04x}-{}.yhw", spec.id, object.header.object_type);
        fs::write(dir.join(name), wrap::encode_text(&blob)).unwrap();
    }
    let options = SplitOptions {
        threshold: 2,
        count: 3,
        format: ShareFormat::YubihsmSetup,
        wrap_key_id: WRAP_ID,
        domains: Domains(1),
        capabilities: Capabilities::EXPORT_WRAPPED | Capabilities::IMPORT_WRAPPED,
        delegated: Capabilities::ALL,
    };
    let made = shares::split(&key, &options).unwrap();
    fs::write(dir.join("shares.txt"), &*shares::render_shares(&made)).unwrap();
    fs::write(dir.join("password.txt"), "password\n").unwrap();
    dir
}

fn device() -> SharedDevice {
    SharedDevice::new(Device::new(Config::default()).unwrap())
}

fn client(dev: &SharedDevice) -> Client {
    let mut c = Client::with_transport(Box::new(SimTransport::from_shared(dev.clone()))).unwrap();
    c.authenticate(Credentials::password(1, b"password")).unwrap();
    c
}

fn on_device(dev: &SharedDevice) -> Vec<(ObjectId, ObjectType)> {
    let mut out: Vec<_> = dev.lock().store().iter().map(|o| (o.id, o.object_type)).collect();
    out.sort();
    out
}

/// `yhsm -c sim: -k LOGIN restore DIR --shares-file DIR/shares.txt`, as the binary runs it.
fn restore_as(
    dev: &SharedDevice,
    dir: &Path,
    login: ObjectId,
    keep: bool,
) -> (RestoreReport, Vec<Event>) {
    let global = GlobalOptions {
        connector: "sim:".parse().unwrap(),
        authkey: login,
        password: PasswordOptions { file: Some(dir.join("password.txt")), argument: None },
        ..GlobalOptions::default()
    };
    let args = Args {
        dir: dir.to_path_buf(),
        shares_files: vec![dir.join("shares.txt")],
        keep_authkey: keep,
        ..Args::default()
    };
    let mut prompter = ScriptedPrompter::new::<&str>(&[]);
    let mut open = |_: &_| -> Result<Box<dyn yhsm_transport::Transport>, _> {
        Ok(Box::new(SimTransport::from_shared(dev.clone())))
    };
    let mut events = Vec::new();
    let report = restore::command_with(&global, &args, &mut prompter, None, &mut open, &mut |e| {
        events.push(e.clone())
    })
    .unwrap();
    (report, events)
}

fn restore(dev: &SharedDevice, dir: &Path) -> (RestoreReport, Vec<Event>) {
    restore_as(dev, dir, 1, false)
}

fn proofs(events: &[Event]) -> Vec<(ObjectId, Proof)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Verified { id, proof, .. } => Some((*id, *proof)),
            _ => None,
        })
        .collect()
}

#[test]
fn objects_already_there_are_proven_each_the_way_it_allows() {
    let dir = backup("proven", 1, &[]);
    let dev = device();
    let (first, events) = restore_as(&dev, &dir, 1, true);
    assert!(first.ok(), "{:?}", first.error);
    // Every object of the backup is proven (an empty list would prove nothing).
    let proven = proofs(&events);
    assert_eq!(proven.len(), 9, "{proven:?}");
    assert!(
        proven.iter().all(|(id, p)| *p == Proof::Imported || (*id == 3 && *p == Proof::Session)),
        "{proven:?}"
    );

    // A second run finds every object there, and proves each.
    let (again, events) = restore(&dev, &dir);
    assert!(again.ok(), "{:?} {:?}", again.error, again.files);
    assert!(again.files.iter().all(|f| f.outcome == Outcome::AlreadyPresent));
    assert_eq!(
        proofs(&events),
        [
            (0x03, Proof::Session),
            (0x07, Proof::Operation(CommandCode::WRAP_DATA)),
            (0x40, Proof::Operation(CommandCode::SIGN_HMAC)),
            (0x41, Proof::Operation(CommandCode::VERIFY_HMAC)),
            (0x50, Proof::GetOpaque),
            (0x51, Proof::GetOpaque),
            (0x60, Proof::Operation(CommandCode::ENCRYPT_ECB)),
            (0x61, Proof::Operation(CommandCode::DECRYPT_CBC)),
            (0x70, Proof::Export),
        ]
    );
    assert!(again.auth_key_deleted);
    let json = again.to_json().to_pretty();
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["files"][8]["verification"], "verified");
    assert_eq!(json["files"][8]["proof"], "export");
    assert_eq!(json["files"][8]["imported_wrapped"], true);
}

/// Puts `objects` on the device as they would be after a restore of another backup (or
/// an attacker's): the example's wrap key 0x0002, then each imported under it.
fn plant(dev: &SharedDevice, objects: &[(WrapSpec, Vec<u8>)], key: &WrapKey) {
    let mut c = client(dev);
    c.put_wrap_key(&PutWrapKey {
        header: ObjectHeader {
            id: WRAP_ID,
            label: "Wrap key".parse().unwrap(),
            domains: Domains(1),
            capabilities: Capabilities::EXPORT_WRAPPED | Capabilities::IMPORT_WRAPPED,
            algorithm: key.algorithm(),
        },
        delegated: Capabilities::ALL,
        key: SecretBytes::from_slice(key.expose_secret()),
    })
    .unwrap();
    for (n, (spec, input)) in objects.iter().enumerate() {
        let object = build_object(spec, input, "input", false).unwrap();
        let blob = wrap::wrap(key, [0x80 + u8::try_from(n).unwrap(); 13], &object).unwrap();
        c.import_wrapped(WRAP_ID, &blob).unwrap();
    }
}

#[test]
fn planted_objects_with_the_backups_ids_types_and_attributes_are_found_out() {
    let dir = backup("planted", 1, &[]);
    let dev = device();
    // The same objects, with other key material and data.
    plant(&dev, &objects(2), &wrap_key());
    let (report, events) = restore(&dev, &dir);
    assert!(!report.ok());
    assert!(report.files.iter().all(|f| f.outcome == Outcome::AlreadyPresent));
    let found: Vec<(ObjectId, Vec<Difference>)> = events
        .iter()
        .filter_map(|e| match e {
            Event::VerifyFailed { id, differences, .. } => Some((*id, differences.clone())),
            _ => None,
        })
        .collect();
    let content = |how: &str| vec![Difference::Content(how.to_owned())];
    assert_eq!(
        found,
        [
            (0x03, vec![Difference::Credentials]),
            (0x07, content("wrap-data")),
            (0x40, content("sign-hmac")),
            (0x41, content("verify-hmac")),
            (0x50, content("read with get-opaque")),
            (0x51, content("read with get-opaque")),
            (0x60, content("encrypt-ecb")),
            (0x61, content("decrypt-cbc")),
            (0x70, content("exported under wrap key 0x0002")),
        ]
    );
    assert!(!report.auth_key_deleted);
    assert!(on_device(&dev).contains(&(1, AUTH)), "the login key was kept");
    let line = restore::render(
        events.iter().find(|e| matches!(e, Event::VerifyFailed { id: 0x50, .. })).unwrap(),
    );
    assert_eq!(
        format!("{line:?}"),
        "[Out(\"Verification failed for object opaque with ID 0x0050 (0x0050-opaque.yhw): its \
         content is not the backup's (read with get-opaque): the device holds another object \
         with this id\")]"
    );
}

#[test]
fn an_object_whose_content_cannot_be_proven_is_never_verified_and_keeps_the_login_key() {
    // HMAC-SHA1, not exportable: no way to prove it (cli/README.md "Content proofs").
    let sha1 = [(spec(0x42, "hmac-sha1", "sign-hmac"), vec![9; 20])];
    let dir = backup("unproven", 1, &sha1);
    let dev = device();
    assert!(restore_as(&dev, &dir, 1, true).0.ok(), "imported in the first run: verified");
    let (again, events) = restore(&dev, &dir);
    assert_eq!(again.exit_code(), 1);
    let f = again.files.iter().find(|f| f.id == Some(0x42)).unwrap();
    assert_eq!(f.verified(), Some(false));
    assert_eq!(f.verification(), Some("content-not-verified"));
    assert_eq!(
        f.content_not_verified(),
        Some("it is not exportable under wrap; hmac-sha1 keys are not checked by an operation")
    );
    assert!(events.contains(&Event::VerifySummary { verified: 9, failed: 0, unproven: 1 }));
    assert!(!again.auth_key_deleted);
    assert_eq!(
        again.auth_key_kept_reason.as_deref(),
        Some(
            "the content of 1 object already on the device could not be verified (see above), \
             so it may not be the backup's"
        )
    );
    let e = again.into_failure().unwrap();
    assert!(
        e.hint().unwrap().starts_with("an object whose content is not verified"),
        "{:?}",
        e.hint()
    );
}

#[test]
fn an_object_not_put_there_by_a_restore_is_reported_and_a_login_key_that_cannot_read_it_keeps_itself()
 {
    // The case: an opaque object with the backup's id, type and attributes, put
    // there in the clear, and a login key that may neither read nor export it.
    let dir = backup("origin", 1, &[]);
    let dev = device();
    let (header, data) = {
        let (s, d) = &objects(1)[4];
        (
            ObjectHeader {
                id: s.id,
                label: s.label,
                domains: s.domains,
                capabilities: s.capabilities,
                algorithm: s.algorithm,
            },
            d.clone(),
        )
    };
    let mut c = client(&dev);
    c.put_opaque(&PutOpaque { header, data: data.clone() }).unwrap();
    let keys = StaticKeys::from_password(b"restricted");
    let all_but =
        Capabilities::ALL.0 & !(Capabilities::GET_OPAQUE.0 | Capabilities::EXPORT_WRAPPED.0);
    c.put_authentication_key(&PutAuthenticationKey {
        header: ObjectHeader {
            id: 9,
            label: "restricted".parse().unwrap(),
            domains: Domains::ALL,
            capabilities: Capabilities(all_but),
            algorithm: Algorithm::AES128_YUBICO_AUTHENTICATION,
        },
        delegated: Capabilities::ALL,
        key: AuthenticationKey::Symmetric { enc: keys.enc.clone(), mac: keys.mac.clone() },
    })
    .unwrap();
    drop(c);
    fs::write(dir.join("password.txt"), "restricted\n").unwrap();
    let (report, events) = restore_as(&dev, &dir, 9, false);
    assert!(events.iter().any(|e| matches!(e, Event::NotImportedWrapped { id: 0x50, .. })));
    let f = report.files.iter().find(|f| f.id == Some(0x50)).unwrap();
    assert_eq!(f.outcome, Outcome::AlreadyPresent);
    assert_eq!(f.verification(), Some("content-not-verified"));
    assert_eq!(
        f.reason.as_deref(),
        Some(
            "present, content not verified: get-opaque was refused (insufficient-permissions); \
             it is not exportable under wrap"
        )
    );
    assert!(!report.auth_key_deleted);
    assert!(on_device(&dev).contains(&(9, AUTH)));
    let json: serde_json::Value = serde_json::from_str(&report.to_json().to_pretty()).unwrap();
    let file = json["files"].as_array().unwrap().iter().find(|f| f["id"] == 0x50).unwrap();
    assert_eq!(file["verification"], "content-not-verified");
    assert_eq!(file["imported_wrapped"], false);
    assert_eq!(file["verified"], false);
}

#[test]
fn verify_reports_verified_different_and_present_content_not_verified() {
    let sha1 = [(spec(0x42, "hmac-sha1", "sign-hmac"), vec![9; 20])];
    let dir = backup("verify", 1, &sha1);
    let dev = device();
    assert!(restore_as(&dev, &dir, 1, true).0.ok());
    // Replace 0x0040 with another key of the same attributes, imported under the wrap key.
    let mut c = client(&dev);
    c.delete_object(0x40, ObjectType::HMAC_KEY).unwrap();
    let planted =
        build_object(&spec(0x40, "hmac-sha256", "sign-hmac"), &[7; 20], "x", false).unwrap();
    c.import_wrapped(WRAP_ID, &wrap::wrap(&wrap_key(), [5; 13], &planted).unwrap()).unwrap();
    drop(c);
    let mut backup = Backup::read_dir(&dir).unwrap();
    let key = wrap_key();
    backup.decrypt(&key);
    let mut login = || -> Result<Login, Error> {
        let client =
            Client::with_transport(Box::new(SimTransport::from_shared(dev.clone()))).unwrap();
        Ok(Login { client, credentials: Credentials::password(1, b"password") })
    };
    let report = verify::run(&backup, ExpectedWrapKey::Id(WRAP_ID), &key, &mut login);
    let status = |id: ObjectId| Status::of(report.files.iter().find(|f| f.id == Some(id)).unwrap());
    assert_eq!(status(0x70), Status::Match);
    assert_eq!(status(0x40), Status::Different(vec![Difference::Content("sign-hmac".into())]));
    assert_eq!(
        status(0x42),
        Status::NotVerified(
            "it is not exportable under wrap; hmac-sha1 keys are not checked by an operation"
                .into()
        )
    );
    assert!(!report.ok());
    let human = report.render_human();
    assert!(human.contains("0x0042-hmac-key.yhw: hmac-key 0x0042: present, content not verified: it is not exportable"), "{human}");
    assert!(human.contains("0x0040-hmac-key.yhw: hmac-key 0x0040: differs: its content is not the backup's (sign-hmac)"), "{human}");
    assert!(human.ends_with("8 objects match, 0 missing, 1 different, 1 present but content not verified, 0 unexpected on the device\n"), "{human}");
    let json: serde_json::Value = serde_json::from_str(&report.to_json().to_pretty()).unwrap();
    let by_id =
        |id: u64| json["files"].as_array().unwrap().iter().find(|f| f["id"] == id).unwrap().clone();
    assert_eq!(by_id(0x42)["status"], "content-not-verified");
    assert_eq!(by_id(0x40)["status"], "different");
    assert_eq!(by_id(0x40)["differences"][0]["field"], "content");
    assert_eq!(by_id(0x70)["proof"], "export");
}

#[test]
fn another_key_under_the_wrap_keys_id_cannot_vouch_for_an_export() {
    // The device's wrap key 0x0002 is not the backup's: an object exported under it does
    // not decrypt under the backup's key, so it proves nothing.
    let only_export = [(spec(0x71, "hmac-sha1", "exportable-under-wrap"), vec![4; 20])];
    let dir = backup("other-wrap", 1, &[]);
    let other = WrapKey::new(&[0x33; 32]).unwrap();
    let dev = device();
    plant(&dev, &only_export, &other);
    let key = wrap_key();
    let object = build_object(&only_export[0].0, &only_export[0].1, "x", false).unwrap();
    fs::write(
        dir.join("0x0071-hmac-key.yhw"),
        wrap::encode_text(&wrap::wrap(&key, [1; 13], &object).unwrap()),
    )
    .unwrap();
    let (report, _) = restore(&dev, &dir);
    let f = report.files.iter().find(|f| f.id == Some(0x71)).unwrap();
    assert_eq!(f.outcome, Outcome::AlreadyPresent);
    assert_eq!(
        f.content_not_verified(),
        Some(
            "its export does not decrypt under the backup's wrap key (wrap key 0x0002 on the \
             device is another key); it can neither sign-hmac nor verify-hmac"
        )
    );
    assert!(!report.auth_key_deleted);
}
