//! Preflight finds every problem it can before the first write (issue 10 §4): two files
//! for one id and type with different content, a backup that does not fit on the device,
//! a login key that lacks a permission the run needs. Each test performs the mistake on
//! the simulator and checks that nothing was written, that the message names what is
//! wrong, and that a dry run finds the same and fails.
//!
//! Before these checks, each of these runs wrote to the device first and failed part way
//! (or, for the conflicting files, restored whichever file sorted first).

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
use yhsm::backup::restore::{self, Event, Options, RestoreReport, WrapKeyToStore};
use yhsm::device::Login;
use yhsm::wrapkey::shares;
use yhsm_proto::command::{AuthenticationKey, ObjectHeader, PutAuthenticationKey, PutOpaque};
use yhsm_proto::wrap::{self, Body};
use yhsm_proto::{Algorithm, Capabilities, Domains, ObjectId, ObjectType, SecretBytes, StaticKeys};
use yhsm_sim::{Config, Device, SharedDevice};
use yhsm_transport::sim::SimTransport;
use yhsm_transport::{Client, Credentials};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/backup");
const AUTH: ObjectType = ObjectType::AUTHENTICATION_KEY;

fn device() -> SharedDevice {
    SharedDevice::new(Device::new(Config::default()).unwrap())
}

fn client(dev: &SharedDevice, id: ObjectId, password: &[u8]) -> Client {
    let mut c = Client::with_transport(Box::new(SimTransport::from_shared(dev.clone()))).unwrap();
    c.authenticate(Credentials::password(id, password)).unwrap();
    c
}

fn objects(dev: &SharedDevice) -> Vec<(ObjectId, ObjectType)> {
    let mut out: Vec<_> = dev.lock().store().iter().map(|o| (o.id, o.object_type)).collect();
    out.sort();
    out
}

fn wrap_key() -> WrapKeyToStore {
    let recovered = shares::combine_file(&Path::new(EXAMPLE).join("shares.txt")).unwrap();
    WrapKeyToStore::from_recovered(&recovered).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("yhsm-preflight-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    for entry in fs::read_dir(EXAMPLE).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yhw") {
            fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

struct Ran {
    report: RestoreReport,
    events: Vec<Event>,
}

impl Ran {
    fn problems(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::PreflightProblem(p) => Some(p.clone()),
                _ => None,
            })
            .collect()
    }
}

/// The engine on the backup in `dir` against `dev`, logged in as `login`.
fn run(dev: &SharedDevice, dir: &Path, login: (ObjectId, &[u8]), options: Options) -> Ran {
    let mut backup = Backup::read_dir(dir).unwrap();
    let mut events = Vec::new();
    let mut connect = || -> Result<Login, Error> {
        Ok(Login {
            client: Client::with_transport(Box::new(SimTransport::from_shared(dev.clone())))
                .unwrap(),
            credentials: Credentials::password(login.0, login.1),
        })
    };
    let options = Options { auth_key: login.0, ..options };
    let mut confirm = |_: &str| -> Result<bool, Error> { panic!("asked to confirm") };
    let report =
        restore::run(&mut backup, &wrap_key(), &mut connect, &mut confirm, options, &mut |e| {
            events.push(e.clone())
        });
    Ran { report, events }
}

fn dry() -> Options {
    Options { dry_run: true, ..Options::default() }
}

/// Writes `name` in `dir`: the example's opaque object with its data changed (same
/// length, same header), wrapped under the example's key.
fn write_other_opaque(dir: &Path, name: &str, label: Option<&str>) {
    let key = wrap_key().key;
    let text = fs::read(Path::new(EXAMPLE).join("0x0200-opaque.yhw")).unwrap();
    let mut object = wrap::unwrap(&key, &wrap::decode_text(&text).unwrap()).unwrap();
    let Body::Raw(data) = &object.body else { panic!("an opaque object has a raw body") };
    let mut changed = data.expose_secret().to_vec();
    changed[0] ^= 1;
    object.body = Body::Raw(SecretBytes::from_slice(&changed));
    if let Some(label) = label {
        object.header.label = label.parse().unwrap();
    }
    let blob = wrap::wrap(&key, [0x33; wrap::NONCE_LEN], &object).unwrap();
    fs::write(dir.join(name), wrap::encode_text(&blob)).unwrap();
}

#[test]
fn two_files_for_one_object_with_different_content_stop_before_any_write() {
    // The same header (so it used to pass as a copy), other data.
    let dir = scratch("content");
    write_other_opaque(&dir, "0x0200-opaque-v2.yhw", None);
    let dev = device();
    let before = objects(&dev);
    let out = run(&dev, &dir, (1, b"password"), Options::default());
    assert_eq!(objects(&dev), before, "nothing was written");
    assert_eq!(out.report.exit_code(), 1);
    assert_eq!(
        out.problems(),
        ["0x0200-opaque-v2.yhw and 0x0200-opaque.yhw hold different objects with the same id and \
          type (opaque 0x0200): keep the one that belongs to this backup and move the other out \
          of the directory"]
    );
    let e = out.report.error.as_ref().unwrap();
    assert_eq!(
        e.message(),
        "preflight found 1 problem (see above); nothing was written to the device"
    );
    assert!(!out.events.iter().any(|e| matches!(e, Event::Imported { .. })));

    // Another label: the same stop. A dry run finds it too, and fails.
    let dir = scratch("label");
    write_other_opaque(&dir, "0x0200-opaque-renamed.yhw", Some("renamed"));
    let out = run(&dev, &dir, (1, b"password"), dry());
    assert_eq!(out.problems().len(), 1, "{:?}", out.problems());
    assert!(out.problems()[0].starts_with("0x0200-opaque-renamed.yhw and 0x0200-opaque.yhw"));
    assert_eq!(out.report.exit_code(), 1);
    assert!(!out.events.contains(&Event::DryRunDone));
    assert_eq!(objects(&dev), before);

    // The same object wrapped twice is a copy, and no problem.
    let dir = scratch("copy");
    fs::copy(dir.join("0x0200-opaque.yhw"), dir.join("zz-copy.yhw")).unwrap();
    let out = run(&dev, &dir, (1, b"password"), dry());
    assert!(out.report.ok(), "{:?}", out.report.error);
}

/// Fills the device with opaque objects of `len` bytes (ids from `first`).
fn fill(dev: &SharedDevice, first: ObjectId, count: u16, len: usize) {
    let mut c = client(dev, 1, b"password");
    for i in 0..count {
        c.put_opaque(&PutOpaque {
            header: ObjectHeader {
                id: first + i,
                label: "filler".parse().unwrap(),
                domains: Domains(1),
                capabilities: Capabilities::NONE,
                algorithm: Algorithm::OPAQUE_DATA,
            },
            data: vec![0x5a; len],
        })
        .unwrap();
    }
}

#[test]
fn a_backup_that_does_not_fit_stops_before_any_write_and_says_how_much_is_missing() {
    // Records: 256 in all; the factory key and 250 objects leave 5, and the example needs
    // 6 (five objects and the wrap key).
    let dev = device();
    fill(&dev, 0x1000, 250, 1);
    let before = objects(&dev);
    let dir = scratch("records");
    let out = run(&dev, &dir, (1, b"password"), Options::default());
    assert_eq!(objects(&dev), before, "nothing was written");
    assert_eq!(
        out.problems(),
        ["the backup does not fit: its new objects need 6 records and 10 pages, the device has \
          5 and 773 free; 1 record missing (delete objects the device no longer needs, or \
          restore onto an emptier device)"]
    );
    assert_eq!(out.report.exit_code(), 1);
    let dry = run(&dev, &dir, (1, b"password"), dry());
    assert_eq!(dry.problems(), out.problems());
    assert_eq!(dry.report.exit_code(), 1);

    // Pages: 1024 of 126 bytes; 63 objects of 16 pages and 12 of one leave 3 free.
    let dev = device();
    fill(&dev, 0x1000, 63, 2000);
    fill(&dev, 0x2000, 12, 1);
    let before = objects(&dev);
    let out = run(&dev, &dir, (1, b"password"), Options::default());
    assert_eq!(objects(&dev), before, "nothing was written");
    assert_eq!(
        out.problems(),
        ["the backup does not fit: its new objects need 6 records and 10 pages, the device has \
          180 and 3 free; 7 pages of 126 bytes missing (delete objects the device no longer \
          needs, or restore onto an emptier device)"]
    );
}

/// Makes authentication key 5 (password `five`) with `capabilities` and `domains`.
fn login_key(dev: &SharedDevice, capabilities: Capabilities, domains: Domains) {
    let keys = StaticKeys::from_password(b"five");
    client(dev, 1, b"password")
        .put_authentication_key(&PutAuthenticationKey::new(
            5,
            "operator".parse().unwrap(),
            domains,
            capabilities,
            Capabilities::ALL,
            AuthenticationKey::Symmetric { enc: keys.enc.clone(), mac: keys.mac.clone() },
        ))
        .unwrap();
}

#[test]
fn a_login_key_without_the_permissions_the_run_needs_stops_before_any_write() {
    let dev = device();
    let without = |caps: &[Capabilities]| {
        Capabilities(caps.iter().fold(Capabilities::ALL.0, |all, c| all & !c.0))
    };
    login_key(
        &dev,
        without(&[Capabilities::IMPORT_WRAPPED, Capabilities::DELETE_AUTHENTICATION_KEY]),
        Domains(0b10),
    );
    let before = objects(&dev);
    let dir = scratch("permissions");
    let out = run(&dev, &dir, (5, b"five"), Options::default());
    assert_eq!(objects(&dev), before, "nothing was written");
    assert_eq!(
        out.problems(),
        [
            "authentication key 0x0005 lacks import-wrapped, needed to import the backup's 5 \
             objects",
            "authentication key 0x0005 lacks delete-authentication-key, needed to delete itself \
             at the end (or give --keep-authkey)",
            "wrap key 0x0002 is to have domains 1, outside authentication key 0x0005's (2)",
            "5 objects have domains outside authentication key 0x0005's (2): \
             0x0003-authentication-key.yhw, 0x0004-authentication-key.yhw, \
             0x0100-asymmetric-key.yhw, 0x0101-asymmetric-key.yhw, 0x0200-opaque.yhw",
        ]
    );
    assert_eq!(
        out.report.error.as_ref().unwrap().message(),
        "preflight found 4 problems (see above); nothing was written to the device"
    );
    // The JSON report lists them as well.
    let json = out.report.to_json().to_pretty().to_string();
    assert!(json.contains("\"preflight_problems\": ["), "{json}");
    assert!(json.contains("lacks import-wrapped"), "{json}");

    // A dry run: the same four, its plan, and exit 1.
    let out = run(&dev, &dir, (5, b"five"), dry());
    assert_eq!(out.problems().len(), 4);
    assert!(out.events.iter().any(|e| matches!(e, Event::ImportPlanned { .. })));
    assert_eq!(out.report.exit_code(), 1);
    let e = out.report.into_failure().unwrap();
    assert_eq!(e.message(), "preflight found 4 problems (see above); the restore would fail");

    // --keep-authkey: deleting is not needed, so not asked for.
    let out = run(&dev, &dir, (5, b"five"), Options { keep_authkey: true, ..Options::default() });
    assert_eq!(out.problems().len(), 3, "{:?}", out.problems());
    assert_eq!(objects(&dev), before);
}

#[test]
fn the_same_restore_with_enough_permissions_and_room_passes_preflight() {
    // The checks are not a wall: a login key with what the run needs restores.
    let dev = device();
    login_key(&dev, Capabilities::ALL, Domains::ALL);
    fill(&dev, 0x1000, 240, 1);
    let out = run(&dev, &scratch("fine"), (5, b"five"), Options::default());
    assert!(out.report.ok(), "{:?} {:?}", out.report.error, out.problems());
    assert!(out.problems().is_empty());
    assert!(objects(&dev).contains(&(0x200, ObjectType::OPAQUE)));
    assert!(!objects(&dev).contains(&(5, AUTH)), "the login key was deleted");
}
