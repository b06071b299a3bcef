//! `yhsm verify` against the simulator held by the test: the comparison's findings
//! (missing, extra, different attributes, different public key, an authentication key
//! with other keys) as data and as JSON, and the binary over HTTP. Messages are in
//! golden/verify.txt.

#![cfg(feature = "sim")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::path::Path;
use std::process::{Command, Stdio};

use yhsm::Error;
use yhsm::backup::Backup;
use yhsm::backup::compare::{Attributes, Difference};
use yhsm::backup::restore::{self, Options, WrapKeyToStore};
use yhsm::backup::verify::{self, ExpectedWrapKey, Status, VerifyReport};
use yhsm::device::Login;
use yhsm::wrapkey::shares;
use yhsm_proto::command::{AuthenticationKey, ObjectHeader, PutAuthenticationKey, PutOpaque};
use yhsm_proto::{Algorithm, Capabilities, Domains, ObjectType, StaticKeys};
use yhsm_sim::{Config, Device, SharedDevice};
use yhsm_transport::sim::SimTransport;
use yhsm_transport::{Client, Credentials};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/backup");

fn device() -> SharedDevice {
    SharedDevice::new(Device::new(Config::default()).unwrap())
}

fn client(dev: &SharedDevice) -> Client {
    Client::with_transport(Box::new(SimTransport::from_shared(dev.clone()))).unwrap()
}

fn logged_in(dev: &SharedDevice) -> Client {
    let mut c = client(dev);
    c.authenticate(Credentials::password(1, b"password")).unwrap();
    c
}

fn wrap() -> WrapKeyToStore {
    let recovered = shares::combine_file(&Path::new(EXAMPLE).join("shares.txt")).unwrap();
    WrapKeyToStore::from_recovered(&recovered).unwrap()
}

/// The example restored, keeping the factory key 0x0001 to log in with.
fn restored() -> SharedDevice {
    let dev = device();
    let mut backup = Backup::read_dir(Path::new(EXAMPLE)).unwrap();
    let mut login = || -> Result<Login, Error> {
        Ok(Login { client: client(&dev), credentials: Credentials::password(1, b"password") })
    };
    let options = Options { keep_authkey: true, auth_key: 1, ..Options::default() };
    let mut confirm = |_: &str| -> Result<bool, Error> { panic!("asked to confirm") };
    let report = restore::run(&mut backup, &wrap(), &mut login, &mut confirm, options, &mut |_| {});
    assert!(report.ok(), "{report:?}");
    dev
}

fn check(dev: &SharedDevice, expected: ExpectedWrapKey) -> VerifyReport {
    let mut backup = Backup::read_dir(Path::new(EXAMPLE)).unwrap();
    backup.decrypt(&wrap().key);
    let mut login = || -> Result<Login, Error> {
        Ok(Login { client: client(dev), credentials: Credentials::password(1, b"password") })
    };
    verify::run(&backup, expected, &wrap().key, &mut login)
}

fn shares_attributes() -> ExpectedWrapKey {
    ExpectedWrapKey::Shares(wrap().attributes)
}

fn status_of(report: &VerifyReport, file: &str) -> Status {
    Status::of(report.files.iter().find(|f| f.file == file).unwrap())
}

#[test]
fn a_restored_device_matches_with_two_expected_extras() {
    let dev = restored();
    let report = check(&dev, shares_attributes());
    assert!(report.ok(), "{report:?}");
    assert!(report.files.iter().all(|f| Status::of(f) == Status::Match));
    let extras: Vec<_> = report.extras.iter().map(|e| (e.id, e.object_type, e.expected)).collect();
    assert_eq!(
        extras,
        [
            (1, ObjectType::AUTHENTICATION_KEY, Some("the authentication key used to log in")),
            (2, ObjectType::WRAP_KEY, Some("the backup's wrap key")),
        ]
    );
    assert_eq!(report.exit_code(), 0);
}

#[test]
fn finds_missing_extra_and_different_objects() {
    let dev = restored();
    let mut c = logged_in(&dev);
    c.delete_object(0x101, ObjectType::ASYMMETRIC_KEY).unwrap();
    c.delete_object(0x200, ObjectType::OPAQUE).unwrap();
    // Another object at 0x0200, with another label: the certificate is "different".
    c.put_opaque(&PutOpaque {
        header: ObjectHeader {
            id: 0x200,
            label: "replaced".parse().unwrap(),
            domains: Domains(1),
            capabilities: Capabilities::GET_OPAQUE.union(Capabilities::EXPORTABLE_UNDER_WRAP),
            algorithm: Algorithm::OPAQUE_X509_CERTIFICATE,
        },
        data: b"not the certificate".to_vec(),
    })
    .unwrap();
    c.put_opaque(&PutOpaque {
        header: ObjectHeader {
            id: 0x300,
            label: "extra".parse().unwrap(),
            domains: Domains(1),
            capabilities: Capabilities::GET_OPAQUE,
            algorithm: Algorithm::OPAQUE_DATA,
        },
        data: b"x".to_vec(),
    })
    .unwrap();
    drop(c);
    let report = check(&dev, shares_attributes());
    assert!(!report.ok());
    assert_eq!(report.exit_code(), 1);
    assert_eq!(
        status_of(&report, "0x0101-asymmetric-key.yhw"),
        Status::Different(vec![Difference::Missing])
    );
    let Status::Different(d) = status_of(&report, "0x0200-opaque.yhw") else { panic!() };
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].field(), "label");
    assert_eq!(status_of(&report, "0x0100-asymmetric-key.yhw"), Status::Match);
    let unexpected: Vec<_> =
        report.extras.iter().filter(|e| e.is_difference()).map(|e| e.id).collect();
    assert_eq!(unexpected, [0x300]);
    let text = report.render_human();
    assert!(
        text.contains("0x0101-asymmetric-key.yhw: asymmetric-key 0x0101: missing from the device"),
        "{text}"
    );
    assert!(
        text.ends_with("3 objects match, 1 missing, 1 different, 1 unexpected on the device\n"),
        "{text}"
    );
}

#[test]
fn an_authentication_key_with_other_keys_differs() {
    let dev = restored();
    let mut c = logged_in(&dev);
    let info = c.get_object_info(4, ObjectType::AUTHENTICATION_KEY).unwrap();
    c.delete_object(4, ObjectType::AUTHENTICATION_KEY).unwrap();
    let keys = StaticKeys::from_password(b"not audit-demo");
    c.put_authentication_key(&PutAuthenticationKey {
        header: ObjectHeader {
            id: 4,
            label: info.label,
            domains: info.domains,
            capabilities: info.capabilities,
            algorithm: info.algorithm,
        },
        delegated: info.delegated_capabilities,
        key: AuthenticationKey::Symmetric { enc: keys.enc.clone(), mac: keys.mac.clone() },
    })
    .unwrap();
    drop(c);
    let report = check(&dev, shares_attributes());
    assert_eq!(
        status_of(&report, "0x0004-authentication-key.yhw"),
        Status::Different(vec![Difference::Credentials])
    );
    assert_eq!(status_of(&report, "0x0003-authentication-key.yhw"), Status::Match);
    assert!(!report.ok());
}

#[test]
fn the_wrap_key_is_compared_with_the_shares_when_they_are_known() {
    let dev = restored();
    let mut other = wrap().attributes;
    other.delegated = Some(Capabilities::ALL);
    let report = check(&dev, ExpectedWrapKey::Shares(other));
    let wrap_extra = report.extras.iter().find(|e| e.id == 2).unwrap();
    assert_eq!(wrap_extra.differences.len(), 1);
    assert_eq!(wrap_extra.differences[0].field(), "delegated_capabilities");
    assert!(!report.ok());
    // With only its id, the wrap key is expected and not compared; without, unexpected.
    assert!(check(&dev, ExpectedWrapKey::Id(2)).ok());
    let report = check(&dev, ExpectedWrapKey::Unknown);
    let wrap_extra = report.extras.iter().find(|e| e.id == 2).unwrap();
    assert!(wrap_extra.expected.is_none() && wrap_extra.is_difference());
}

#[test]
fn the_json_report_has_the_documented_fields() {
    let dev = restored();
    logged_in(&dev).delete_object(0x100, ObjectType::ASYMMETRIC_KEY).unwrap();
    let report = check(&dev, shares_attributes());
    let json: serde_json::Value = serde_json::from_str(&report.to_json().to_pretty()).unwrap();
    let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["auth_key", "error", "extra", "files", "ok", "wrap_key_id"]);
    assert_eq!(json["ok"], false);
    assert_eq!(json["wrap_key_id"], 2);
    let ec = &json["files"][2];
    assert_eq!(ec["file"], "0x0100-asymmetric-key.yhw");
    assert_eq!(ec["status"], "missing");
    assert_eq!(json["files"][0]["status"], "match");
    assert_eq!(json["extra"][0]["note"], "the authentication key used to log in");
}

#[test]
fn attributes_of_the_wrong_wrap_key_length_do_not_panic() {
    // Wrap-key attributes of an AES-128 key compared with the device's AES-256 one.
    let dev = restored();
    let attributes = Attributes { algorithm: Algorithm::AES128_CCM_WRAP, ..wrap().attributes };
    let report = check(&dev, ExpectedWrapKey::Shares(attributes));
    let wrap_extra = report.extras.iter().find(|e| e.id == 2).unwrap();
    assert_eq!(wrap_extra.differences[0].field(), "algorithm");
}

#[test]
fn the_binary_verifies_over_http() {
    let dev = restored();
    let server = yhsm_sim::http::Server::bind("127.0.0.1:0", dev.clone()).unwrap().spawn().unwrap();
    let url = format!("http://{}", server.addr());
    let out = Command::new(env!("CARGO_BIN_EXE_yhsm"))
        .args(["-c", &url, "verify", EXAMPLE, "--shares-file"])
        .arg(Path::new(EXAMPLE).join("shares.txt"))
        .arg("--password-file")
        .arg(Path::new(EXAMPLE).join("password.txt"))
        .env_remove("YHSM_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    server.stop();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.ends_with("5 objects match, 0 missing, 0 different, 0 unexpected on the device\n")
    );
}

#[test]
fn an_error_mid_check_names_the_object_and_claims_nothing_after_it() {
    let dev = restored();
    dev.lock().add_fault(yhsm_sim::Fault::always(
        yhsm_sim::Trigger::Command(yhsm_proto::CommandCode::GET_PUBLIC_KEY),
        yhsm_sim::Action::DropResponse,
    ));
    let report = check(&dev, shares_attributes());
    let e = report.error.as_ref().unwrap().chain();
    assert!(
        e.starts_with("verify stopped at asymmetric-key 0x0100 (0x0100-asymmetric-key.yhw)"),
        "{e}"
    );
    assert_eq!(status_of(&report, "0x0003-authentication-key.yhw"), Status::Match);
    assert_eq!(status_of(&report, "0x0101-asymmetric-key.yhw"), Status::NotChecked);
    assert!(report.render_human().contains("0x0200-opaque.yhw: opaque 0x0200: not checked"));
    assert_eq!(report.exit_code(), 1);
}
