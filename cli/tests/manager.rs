//! yubihsm-manager's backups (issue 11): `.yhw` files of raw bytes (nonce ‖ ciphertext ‖
//! tag, not base64), shares in the manager's `k-i-hex` format, and an AES-128 wrap key.
//!
//! [`manager_backup`] builds such a backup with the project's own codec (fixed nonces and
//! share coefficients, so it is the same every time) and `tests/data/manager-backup/` holds
//! it committed, for the golden tests; `the_committed_backup_is_what_the_generator_makes`
//! keeps the two equal (`YHSM_BLESS=1` rewrites the files). The other tests restore it with
//! the real binary, verify it, mix it with base64 files, and verify a wrap key that the
//! manager stored with only the named capability bits of `all`.

#![cfg(feature = "sim")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use yhsm_proto::command::{ObjectHeader, PutWrapKey};
use yhsm_proto::shares::{self, ShareFormat, WrapKeySecret};
use yhsm_proto::wrap::{self, Body, WrapHeader, WrapKey, WrappedObject};
use yhsm_proto::{Algorithm, Capabilities, Domains, ObjectType, Origin, SecretBytes};
use yhsm_transport::sim::SimTransport;
use yhsm_transport::{Client, Credentials};

mod support;
use support::{ok, run_yhsm as yhsm};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/manager-backup");

/// The backup's AES-128 wrap key.
const WRAP_KEY: [u8; 16] = [
    0x6d, 0x61, 0x6e, 0x61, 0x67, 0x65, 0x72, 0x2d, 0x77, 0x72, 0x61, 0x70, 0x2d, 0x6b, 0x65, 0x79,
];
const WRAP_ID: u16 = 0x0010;
/// The password of authentication key 0x0003 in the backup.
const APP_PASSWORD: &str = "manager-application";
/// What yubihsm-manager keeps of `all` when it stores a wrap key from shares.
const DELEGATED: Capabilities = Capabilities::KNOWN;

fn secret(delegated: Capabilities) -> WrapKeySecret {
    WrapKeySecret::new(
        WRAP_ID,
        Domains(1),
        Capabilities::EXPORT_WRAPPED | Capabilities::IMPORT_WRAPPED,
        delegated,
        SecretBytes::from_slice(&WRAP_KEY),
    )
    .unwrap()
}

/// Three manager-format shares, any two of which recover the key (fixed coefficients).
fn manager_shares(delegated: Capabilities) -> String {
    let coefficients = [[0xa5u8; WrapKeySecret::PREFIX_LEN + 16]];
    let made = shares::split_with_coefficients(
        &secret(delegated),
        &coefficients,
        3,
        ShareFormat::YubihsmManager,
    )
    .unwrap();
    made.iter().map(|s| format!("{}\n", s.render().as_str())).collect()
}

fn header(
    id: u16,
    object_type: ObjectType,
    algorithm: Algorithm,
    caps: Capabilities,
) -> WrapHeader {
    WrapHeader {
        wrap_algorithm: Algorithm::AES128_CCM_WRAP,
        capabilities: caps,
        id,
        length: 0,
        domains: Domains(1),
        object_type,
        algorithm,
        sequence: 0,
        origin: Origin::GENERATED,
        label: "from yubihsm-manager".parse().unwrap(),
    }
}

/// The backup: file name → bytes.
fn manager_backup() -> BTreeMap<String, Vec<u8>> {
    let key = WrapKey::new(&WRAP_KEY).unwrap();
    let export = Capabilities::EXPORTABLE_UNDER_WRAP;
    let objects = [
        WrappedObject {
            header: header(
                3,
                ObjectType::AUTHENTICATION_KEY,
                Algorithm::AES128_YUBICO_AUTHENTICATION,
                Capabilities::SIGN_ECDSA | Capabilities::GENERATE_ASYMMETRIC_KEY | export,
            ),
            body: Body::authentication_key_from_password(
                Capabilities::SIGN_ECDSA | export,
                APP_PASSWORD.as_bytes(),
            ),
        },
        WrappedObject {
            header: header(
                0x0100,
                ObjectType::ASYMMETRIC_KEY,
                Algorithm::ECP256,
                Capabilities::SIGN_ECDSA | export,
            ),
            body: Body::ec_from_private(Algorithm::ECP256, &[0x17; 32]).unwrap(),
        },
        WrappedObject {
            header: header(0x0200, ObjectType::OPAQUE, Algorithm::OPAQUE_DATA, export),
            body: Body::Raw(SecretBytes::from_slice(b"written by yubihsm-manager")),
        },
    ];
    let mut out = BTreeMap::new();
    for (i, object) in objects.iter().enumerate() {
        let nonce = [u8::try_from(0x40 + i).unwrap(); wrap::NONCE_LEN];
        let blob = wrap::wrap(&key, nonce, object).unwrap();
        let name = yhsm::backup::dir::file_name(object.header.id, object.header.object_type);
        out.insert(name, wrap::encode_file(&blob, wrap::Encoding::Binary));
    }
    out.insert("shares.txt".to_owned(), manager_shares(DELEGATED).into_bytes());
    out
}

#[test]
fn the_committed_backup_is_what_the_generator_makes() {
    let made = manager_backup();
    if std::env::var_os("YHSM_BLESS").is_some() {
        fs::create_dir_all(FIXTURE).unwrap();
        for (name, bytes) in &made {
            fs::write(Path::new(FIXTURE).join(name), bytes).unwrap();
        }
    }
    for (name, bytes) in &made {
        let committed = fs::read(Path::new(FIXTURE).join(name)).unwrap();
        assert_eq!(&committed, bytes, "{name}: run with YHSM_BLESS=1");
    }
    // What makes it the manager's: raw files, `k-i-hex` shares, an AES-128 key.
    for (name, bytes) in made.iter().filter(|(n, _)| n.ends_with(".yhw")) {
        assert!(!wrap::is_text(bytes), "{name} is raw bytes");
    }
    let shares = String::from_utf8(made["shares.txt"].clone()).unwrap();
    for line in shares.lines() {
        let parts: Vec<&str> = line.splitn(3, '-').collect();
        assert_eq!(parts[0], "2");
        assert!(parts[2].len() == 72 && parts[2].bytes().all(|b| b.is_ascii_hexdigit()), "{line}");
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("yhsm-manager-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// A scratch directory holding the backup in `backup/`, its shares in `shares.txt` and
/// the factory password in `pw`.
fn with_backup(name: &str) -> PathBuf {
    let dir = scratch(name);
    fs::create_dir_all(dir.join("backup")).unwrap();
    for (file, bytes) in manager_backup() {
        let to =
            if file.ends_with(".yhw") { dir.join("backup").join(file) } else { dir.join(file) };
        fs::write(to, bytes).unwrap();
    }
    fs::write(dir.join("pw"), "password\n").unwrap();
    dir
}

/// `yhsm -c sim:STATE --password-file pw ARGS…` in `dir`.
fn on_device(dir: &Path, state: &str, args: &[&str]) -> Output {
    let connector = format!("sim:{state}");
    yhsm(dir, &[&["-c", &connector, "--password-file", "pw"][..], args].concat())
}

fn login(state: &Path, id: u16, password: &str) -> Client {
    let transport = SimTransport::open(Some(state.to_path_buf())).unwrap();
    let mut client = Client::with_transport(Box::new(transport)).unwrap();
    client.authenticate(Credentials::password(id, password.as_bytes())).unwrap();
    client
}

#[test]
fn restores_a_manager_backup_and_verifies_it() {
    let dir = with_backup("restore");
    let restore = ["restore", "backup", "--shares-file", "shares.txt", "--json"];
    let report: Value = serde_json::from_str(&ok(&on_device(&dir, "dev.state", &restore))).unwrap();
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["wrap_key"]["id"], WRAP_ID);
    assert_eq!(report["auth_key_deleted"], true);
    let outcomes: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["imported"; 3]);

    // The device holds the manager's objects, under an AES-128 wrap key, and the restored
    // application key logs in (the factory key is gone).
    let mut client = login(&dir.join("dev.state"), 3, APP_PASSWORD);
    let wrap_info = client.get_object_info(WRAP_ID, ObjectType::WRAP_KEY);
    // Key 3 is in domain 1 only, like the wrap key, so it can read its info.
    let wrap_info = wrap_info.unwrap();
    assert_eq!(wrap_info.algorithm, Algorithm::AES128_CCM_WRAP);
    assert_eq!(wrap_info.delegated_capabilities, DELEGATED);
    let public = client.get_public_key(0x0100).unwrap();
    let expected = Body::ec_from_private(Algorithm::ECP256, &[0x17; 32]).unwrap();
    assert_eq!(Some(public.key), expected.public_key());
    drop(client);

    let verify = [
        "-c",
        "sim:dev.state",
        "-k",
        "3",
        "-p",
        APP_PASSWORD,
        "verify",
        "backup",
        "--shares-file",
        "shares.txt",
        "--json",
    ];
    // Key 3 may neither read the opaque object nor export it under wrap, so its content
    // cannot be proven: present, content not verified (never a match), and verify exits 1.
    let out = yhsm(&dir, &verify);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false, "{report:#}");
    let statuses: Vec<&str> =
        report["files"].as_array().unwrap().iter().map(|f| f["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["match", "match", "content-not-verified"]);
    assert_eq!(
        report["files"][2]["reason"],
        "get-opaque was refused (insufficient-permissions); export-wrapped was refused \
         (insufficient-permissions)"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn restores_raw_and_base64_files_side_by_side() {
    let dir = with_backup("mixed");
    // One file as base64 text wrapped at 64 columns after a byte order mark, one on one
    // line; the third stays raw.
    let backup = dir.join("backup");
    let auth = backup.join("0x0003-authentication-key.yhw");
    let text = wrap::encode_text(&fs::read(&auth).unwrap());
    let lines: Vec<&str> =
        text.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    fs::write(&auth, format!("\u{feff}{}\r\n", lines.join("\r\n"))).unwrap();
    let opaque = backup.join("0x0200-opaque.yhw");
    fs::write(&opaque, wrap::encode_text(&fs::read(&opaque).unwrap())).unwrap();

    let out =
        ok(&on_device(&dir, "dev.state", &["restore", "backup", "--shares-file", "shares.txt"]));
    assert!(out.contains("[1/3] Successfully imported object authentication-key"), "{out}");
    assert!(out.contains("[3/3] Successfully imported object opaque"), "{out}");
    assert!(
        out.ends_with("All done\nAuthentication key left to log in with: 0x0003 (-k ID)\n"),
        "{out}"
    );

    // inspect says which file is which.
    fs::write(dir.join("wrap.key"), hex::encode(WRAP_KEY)).unwrap();
    let out = ok(&yhsm(
        &dir,
        &[
            "inspect",
            "--json",
            "--wrap-key-file",
            "wrap.key",
            "backup/0x0003-authentication-key.yhw",
            "backup/0x0100-asymmetric-key.yhw",
            "backup/0x0200-opaque.yhw",
        ],
    ));
    let inspected: Value = serde_json::from_str(&out).unwrap();
    let encodings: Vec<&str> =
        inspected.as_array().unwrap().iter().map(|f| f["encoding"].as_str().unwrap()).collect();
    assert_eq!(encodings, ["base64", "binary", "base64"]);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn dump_binary_writes_what_the_manager_reads_and_restore_reads_it_back() {
    let dir = with_backup("dump");
    ok(&on_device(
        &dir,
        "a.state",
        &["restore", "backup", "--shares-file", "shares.txt", "--keep-authkey"],
    ));
    let dump = ["-c", "sim:a.state", "--password-file", "pw", "dump", "out", "-w", "0x10"];
    // The factory key 1 has all 64 capability bits; the wrap key, stored as the manager
    // stores it, delegates only the named ones, so key 1 stays behind, and the dump says
    // why in those words.
    let out = yhsm(&dir, &[&dump[..], &["--encoding", "binary"]].concat());
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Exported 3 of 5 objects"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        "yhsm: error: 0x0001 authentication-key: not exported: the object has capability bits \
         without a name (0xff00000000000000) that wrap key 0x0010 does not delegate\n"
    );
    let key = WrapKey::new(&WRAP_KEY).unwrap();
    for (name, original) in manager_backup().iter().filter(|(n, _)| n.ends_with(".yhw")) {
        let written = fs::read(dir.join("out").join(name)).unwrap();
        assert!(!wrap::is_text(&written), "{name}: raw bytes");
        // The same object (the device's export carries its own nonce).
        let a = wrap::unwrap(&key, &written).unwrap();
        let b = wrap::unwrap(&key, original).unwrap();
        assert_eq!((a.header.id, a.header.object_type), (b.header.id, b.header.object_type));
        assert_eq!(a.body, b.body, "{name}");
    }
    // The default encoding stays base64, without a newline.
    let out = yhsm(&dir, &[&dump[..], &["--force"]].concat());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Exported 3 of 5 objects"));
    let text = fs::read(dir.join("out/0x0100-asymmetric-key.yhw")).unwrap();
    assert!(wrap::is_text(&text) && !text.ends_with(b"\n"));

    // A raw dump restores onto a fresh device.
    yhsm(&dir, &[&dump[..], &["--force", "--encoding", "binary"]].concat());
    let out = ok(&on_device(&dir, "b.state", &["restore", "out", "--shares-file", "shares.txt"]));
    assert!(out.contains("Preflight: 3 of 3 files decrypt under wrap key 0x0010"), "{out}");
    assert!(out.contains("Previous authentication key 0x0001 deleted"), "{out}");
    assert!(
        out.ends_with("All done\nAuthentication key left to log in with: 0x0003 (-k ID)\n"),
        "{out}"
    );
    let _ = fs::remove_dir_all(&dir);
}

/// Puts the backup's wrap key on a fresh device the way yubihsm-manager does (only the
/// named bits of `all`), then imports the backup under it.
fn device_as_the_manager_leaves_it(dir: &Path) {
    let state = dir.join("dev.state");
    let mut client = login(&state, 1, "password");
    client
        .put_wrap_key(&PutWrapKey {
            header: ObjectHeader {
                id: WRAP_ID,
                label: "Wrap key".parse().unwrap(),
                domains: Domains(1),
                capabilities: Capabilities::EXPORT_WRAPPED | Capabilities::IMPORT_WRAPPED,
                algorithm: Algorithm::AES128_CCM_WRAP,
            },
            delegated: Capabilities::KNOWN,
            key: SecretBytes::from_slice(&WRAP_KEY),
        })
        .unwrap();
    for (name, bytes) in manager_backup().iter().filter(|(n, _)| n.ends_with(".yhw")) {
        client.import_wrapped(WRAP_ID, bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn verify_names_a_difference_in_the_unnamed_bits_apart_from_a_real_one() {
    let dir = with_backup("unnamed-bits");
    device_as_the_manager_leaves_it(&dir);
    // Shares made before `all` meant the named bits: all 64 bits delegated.
    fs::write(dir.join("all64.txt"), manager_shares(Capabilities::ALL)).unwrap();
    let verify =
        |shares: &str| on_device(&dir, "dev.state", &["verify", "backup", "--shares-file", shares]);
    let out = ok(&verify("all64.txt"));
    assert!(
        out.contains(
            "extra on the device: wrap-key 0x0010 (the backup's wrap key; expected); delegated \
             capabilities differ only in the bits without a name, 56-63 (backup \
             0xff00000000000000; device 0x0000000000000000), which no firmware uses"
        ),
        "{out}"
    );
    assert!(out.contains("3 objects match, 0 missing, 0 different, 0 unexpected"), "{out}");

    // A named bit missing is a real difference.
    fs::write(
        dir.join("narrow.txt"),
        manager_shares(Capabilities(Capabilities::KNOWN.0 & !Capabilities::SIGN_ECDSA.0)),
    )
    .unwrap();
    let out = verify("narrow.txt");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "wrap-key 0x0010 (the backup's wrap key) differs: delegated capabilities (backup"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("without a name"), "{stdout}");

    // The JSON marks which differences are only in the unnamed bits.
    let json =
        on_device(&dir, "dev.state", &["verify", "backup", "--shares-file", "all64.txt", "--json"]);
    let report: Value = serde_json::from_str(&ok(&json)).unwrap();
    assert_eq!(report["ok"], true);
    let wrap = report["extra"].as_array().unwrap().iter().find(|e| e["id"] == WRAP_ID).unwrap();
    assert_eq!(wrap["differences"][0]["field"], "delegated_capabilities");
    assert_eq!(wrap["differences"][0]["unnamed_bits_only"], true);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn shares_split_all_means_the_named_bits() {
    let dir = scratch("split-all");
    fs::write(dir.join("wrap.key"), hex::encode(WRAP_KEY)).unwrap();
    let out = ok(&yhsm(
        &dir,
        &[
            "shares",
            "split",
            "-t",
            "2",
            "-n",
            "3",
            "--wrap-key-file",
            "wrap.key",
            "--id",
            "0x10",
            "--domains",
            "1",
            "--capabilities",
            "all",
            "--delegated",
            "all",
            "--format",
            "yubihsm-manager",
        ],
    ));
    fs::write(dir.join("s.txt"), out).unwrap();
    let combined = ok(&yhsm(&dir, &["shares", "combine", "--shares-file", "s.txt", "--json"]));
    let v: Value = serde_json::from_str(&combined).unwrap();
    assert_eq!(v["delegated_capabilities"], "0x00ffffffffffffff");
    assert_eq!(v["capabilities"], "0x00ffffffffffffff");
    assert_eq!(v["algorithm"], "aes128-ccm-wrap");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn wrap_writes_raw_bytes_to_standard_output_when_it_is_not_a_terminal() {
    let dir = scratch("wrap-stdout");
    fs::write(dir.join("wrap.key"), hex::encode(WRAP_KEY)).unwrap();
    fs::write(dir.join("data.bin"), b"opaque").unwrap();
    let args = [
        "wrap",
        "--wrap-key-file",
        "wrap.key",
        "-a",
        "opaque-data",
        "-i",
        "7",
        "-d",
        "1",
        "-c",
        "none",
        "--in",
        "data.bin",
        "--out",
        "-",
    ];
    let raw = yhsm(&dir, &[&args[..], &["--encoding", "binary"]].concat());
    assert!(raw.status.success());
    assert!(!wrap::is_text(&raw.stdout));
    let object = wrap::unwrap(&WrapKey::new(&WRAP_KEY).unwrap(), &raw.stdout).unwrap();
    assert_eq!(object.body.to_bytes().as_slice(), b"opaque");
    // The default: base64 and a newline, as yubihsm-wrap writes.
    let text = yhsm(&dir, &args);
    assert!(wrap::is_text(&text.stdout) && text.stdout.ends_with(b"\n"));
    let _ = fs::remove_dir_all(&dir);
}
