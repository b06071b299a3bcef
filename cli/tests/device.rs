//! End-to-end tests of the device commands through the real `yhsm` binary: against the
//! built-in simulator (`-c sim:FILE`) and over HTTP (`yhsm sim serve`), with the dump
//! checked by unwrapping every file it wrote, and `-v` / `--trace` checked for secrets.
//! The exact output of each command is pinned by `tests/golden/device.txt`.

#![cfg(feature = "sim")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use support::{
    ED25519_ID, ED25519_SEED, OPAQUE_DATA, Server, WRAP_KEY, WRAP_KEY_ID, make_state, ok, run_yhsm,
};
use yhsm_proto::command::{
    AuthenticationKey, Command as _, ObjectHeader, PutAuthenticationKey, PutWrapKey,
};
use yhsm_proto::wrap::{self, Body, WrapKey};
use yhsm_proto::{Algorithm, Capabilities, Domains, Label, SecretArray, SecretBytes};

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    support::scratch("device", name)
}

/// Runs `yhsm` in `dir` with the factory password in a file.
fn yhsm(dir: &Path, args: &[&str]) -> Output {
    fs::write(dir.join("pw"), "password\n").unwrap();
    run_yhsm(dir, args)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// `list --json`, keyed by (id, type).
fn listed(dir: &Path, connector: &str) -> BTreeMap<(u64, String), Value> {
    let out = ok(&yhsm(dir, &["-c", connector, "--password-file", "pw", "list", "--json"]));
    json(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|o| ((o["id"].as_u64().unwrap(), o["type"].as_str().unwrap().to_owned()), o.clone()))
        .collect()
}

/// Dumps into `dir/out` and checks each file against the device's own object info
/// through `yhsm inspect`: every exportable object but the wrap key has a file, and every
/// file unwraps under the wrap key to exactly the object the device lists.
fn check_dump_round_trip(dir: &Path, connector: &str) {
    let before = listed(dir, connector);
    let out = ok(&yhsm(dir, &["-c", connector, "--password-file", "pw", "dump", "out", "-w", "2"]));
    assert!(
        out.ends_with(
            "Exported 5 of 6 objects to out under wrap key 0x0002 (1 skipped, 0 not exported)\n"
        ),
        "{out}"
    );
    let mut files: Vec<PathBuf> =
        fs::read_dir(dir.join("out")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let names: Vec<String> =
        files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(
        names,
        [
            "0x0001-authentication-key.yhw",
            "0x0002-wrap-key.description",
            "0x0003-authentication-key.yhw",
            "0x0010-asymmetric-key.yhw",
            "0x0011-asymmetric-key.yhw",
            "0x0020-opaque.yhw",
        ]
    );
    // The wrap key's description: its attributes as the device lists them.
    let described =
        yhsm::backup::description::read_file(&dir.join("out/0x0002-wrap-key.description")).unwrap();
    let wrap = &before[&(2, "wrap-key".to_owned())];
    assert_eq!(u64::from(described.domains.0), wrap["domains"].as_u64().unwrap());
    assert_eq!(described.label.to_string_lossy(), wrap["label"].as_str().unwrap());
    files.retain(|f| f.extension().is_some_and(|e| e == "yhw"));
    for f in &files {
        let text = fs::read(f).unwrap();
        // yubihsm-setup's form: standard base64 with padding, no newline.
        assert!(!text.ends_with(b"\n"), "{}", f.display());
        assert!(text.iter().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b)));
        assert_eq!(text.len() % 4, 0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(f).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
    fs::write(dir.join("wrap.key"), hex::encode(WRAP_KEY)).unwrap();
    let mut args = vec!["inspect", "--wrap-key-file", "wrap.key", "--json"];
    let relative: Vec<String> =
        files.iter().map(|f| format!("out/{}", f.file_name().unwrap().to_string_lossy())).collect();
    args.extend(relative.iter().map(String::as_str));
    let inspected = json(&ok(&yhsm(dir, &args)));
    let inspected = inspected.as_array().unwrap();
    assert_eq!(inspected.len(), files.len());
    for object in inspected {
        assert_eq!(object["ok"], true, "{object}");
        assert_eq!(object["wrap_algorithm"], "aes256-ccm-wrap");
        let key = (object["id"].as_u64().unwrap(), object["type"].as_str().unwrap().to_owned());
        let device = &before[&key];
        for field in [
            "id",
            "type",
            "algorithm",
            "label",
            "domains",
            "capabilities",
            "delegated_capabilities",
            "sequence",
            "origin",
            "length",
        ] {
            assert_eq!(object[field], device[field], "{field} of {key:?}");
        }
    }
    // The dump changed nothing on the device.
    assert_eq!(listed(dir, connector), before);
}

#[test]
fn dump_round_trips_through_inspect_on_the_simulator() {
    let dir = scratch("round-trip");
    make_state(&dir.join("dev.state"), "exportable");
    check_dump_round_trip(&dir, "sim:dev.state");
    fs::remove_dir_all(&dir).unwrap();
}

/// The ed25519 key's file, unwrapped.
fn ed25519_body(dir: &Path, include_seed: bool) -> Body {
    let mut args = vec!["-c", "sim:dev.state", "--password-file", "pw", "dump", "out", "-w", "2"];
    if include_seed {
        args.push("--include-seed");
    }
    ok(&yhsm(dir, &args));
    let text = fs::read(dir.join(format!("out/0x{ED25519_ID:04x}-asymmetric-key.yhw"))).unwrap();
    fs::remove_dir_all(dir.join("out")).unwrap();
    let key = WrapKey::new(&WRAP_KEY).unwrap();
    let object = wrap::unwrap(&key, &wrap::decode_text(&text).unwrap()).unwrap();
    assert_eq!(object.header.algorithm, Algorithm::ED25519);
    assert_eq!(usize::from(object.header.length), object.body.to_bytes().len());
    object.body
}

#[test]
fn include_seed_exports_the_128_byte_ed25519_body() {
    let dir = scratch("seed");
    make_state(&dir.join("dev.state"), "exportable");
    let with_seed = ed25519_body(&dir, true);
    assert_eq!(with_seed.to_bytes().len(), 128);
    let Body::Ed25519 { seed: Some(seed), public, .. } = &with_seed else {
        panic!("no seed in {with_seed:?}")
    };
    assert_eq!(seed.expose_secret(), &ED25519_SEED);
    let without = ed25519_body(&dir, false);
    assert_eq!(without.to_bytes().len(), 96);
    let Body::Ed25519 { seed: None, public: public_96, .. } = &without else {
        panic!("a seed without --include-seed: {without:?}")
    };
    assert_eq!(public, public_96);
    // The 128-byte form is the seed followed by the 96-byte form.
    assert_eq!(with_seed.to_bytes()[32..], without.to_bytes()[..]);
    fs::remove_dir_all(&dir).unwrap();
}

/// `yhsm sim serve` on a free port; killed on drop.
/// `yhsm sim serve` of the state file `state` on a free port.
fn serve(dir: &Path, state: &str) -> Server {
    Server::start(dir, &["sim", "serve", "--listen", "127.0.0.1:0", "--state", state])
}

#[test]
fn serves_the_simulator_over_http() {
    let dir = scratch("http");
    make_state(&dir.join("served.state"), "exportable");
    fs::copy(dir.join("served.state"), dir.join("local.state")).unwrap();
    let server = serve(&dir, "served.state");
    // The same device answers the same over HTTP as in process.
    assert_eq!(listed(&dir, &server.url), listed(&dir, "sim:local.state"));
    let info =
        json(&ok(&yhsm(&dir, &["-c", &server.url, "--password-file", "pw", "info", "--json"])));
    assert_eq!(info["connector"], server.url.as_str());
    assert_eq!(info["serial"], 1_000_001);
    assert_eq!(info["storage"]["free_records"], 256 - 6);
    check_dump_round_trip(&dir, &server.url);
    // The raw command through the connector, and a device error through it.
    let echo = yhsm(&dir, &["-c", &server.url, "--password-file", "pw", "raw", "01", "0a0b"]);
    assert_eq!(ok(&echo), "81 0002 0a0b\n");
    let missing =
        yhsm(&dir, &["-c", &server.url, "--password-file", "pw", "raw", "get-opaque", "0999"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&missing.stdout), "7f 0001 0b\n");
    // The server saved its device: a new server on the same file still has the objects.
    drop(server);
    let again = serve(&dir, "served.state");
    assert_eq!(listed(&dir, &again.url).len(), 6);
    drop(again);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sim_serve_reports_an_address_it_cannot_bind() {
    let dir = scratch("bind");
    let out = yhsm(&dir, &["sim", "serve", "--listen", "256.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("yhsm: error: cannot serve on 256.0.0.1:1: "), "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

/// Secrets sent by the commands of the trace test; none may show in -v or --trace.
const SECRET_WRAP_KEY: [u8; 32] = [0xa5; 32];
const SECRET_ENC: [u8; 16] = [0x5a; 16];
const SECRET_MAC: [u8; 16] = [0x3c; 16];
/// K-ENC and K-MAC of the password `password` (docs/PROTOCOL.md §4.1).
const PASSWORD_KEYS: [&str; 2] =
    ["090b47dbed595654901dee1cc655e420", "592fd483f759e29909a04c4505d2ce0a"];

fn header(id: u16, algorithm: Algorithm) -> ObjectHeader {
    ObjectHeader {
        id,
        label: Label::from_bytes(b"traced").unwrap(),
        domains: Domains(1),
        capabilities: Capabilities::EXPORTABLE_UNDER_WRAP,
        algorithm,
    }
}

/// The data field of a command's request frame, in hex.
fn data_hex(frame: &[u8]) -> String {
    hex::encode(&frame[3..])
}

#[test]
fn verbose_output_and_trace_files_never_show_keys_or_passwords() {
    let dir = scratch("trace");
    make_state(&dir.join("dev.state"), "exportable");
    // A blob to import: the opaque object, exported and then deleted.
    ok(&yhsm(&dir, &["-c", "sim:dev.state", "--password-file", "pw", "dump", "out", "-w", "2"]));
    let blob = wrap::decode_text(&fs::read(dir.join("out/0x0020-opaque.yhw")).unwrap()).unwrap();
    ok(&yhsm(&dir, &["-c", "sim:dev.state", "--password-file", "pw", "raw", "58", "002001"]));

    let put_wrap = PutWrapKey {
        header: header(0x0040, Algorithm::AES256_CCM_WRAP),
        delegated: Capabilities::ALL,
        key: SecretBytes::from_slice(&SECRET_WRAP_KEY),
    }
    .to_frame()
    .unwrap();
    let put_auth = PutAuthenticationKey::new(
        0x0041,
        Label::from_bytes(b"traced").unwrap(),
        Domains(1),
        Capabilities::EXPORTABLE_UNDER_WRAP,
        Capabilities::NONE,
        AuthenticationKey::Symmetric {
            enc: SecretArray::new(SECRET_ENC),
            mac: SecretArray::new(SECRET_MAC),
        },
    )
    .to_frame()
    .unwrap();
    let import = format!("{WRAP_KEY_ID:04x}{}", hex::encode(&blob));
    let runs = [("4c", data_hex(&put_wrap)), ("44", data_hex(&put_auth)), ("4b", import)];
    let mut stderr_all = String::new();
    let mut trace_all = String::new();
    for (i, (code, data)) in runs.iter().enumerate() {
        let trace = format!("trace{i}.jsonl");
        let out = yhsm(
            &dir,
            &[
                "-v",
                "--trace",
                &trace,
                "-c",
                "sim:dev.state",
                "--password-file",
                "pw",
                "raw",
                code,
                data,
            ],
        );
        let stdout = ok(&out);
        assert!(
            stdout.starts_with(&format!("{:02x} ", u8::from_str_radix(code, 16).unwrap() | 0x80)),
            "{stdout}"
        );
        let stderr = String::from_utf8(out.stderr).unwrap();
        let text = fs::read_to_string(dir.join(&trace)).unwrap();
        // One trace record per request line of -v, each a JSON object with its frames.
        let records: Vec<Value> = text.lines().map(json).collect();
        assert_eq!(records.len(), stderr.lines().filter(|l| l.starts_with("-> ")).count());
        let sent = records
            .iter()
            .find(|r| r["code"] == u64::from_str_radix(code, 16).unwrap())
            .unwrap_or_else(|| panic!("no {code} record in {text}"));
        let inner = sent["inner_request"].as_str().unwrap();
        assert!(inner.starts_with(code), "{inner}");
        // Key material is replaced one for one by 2a bytes, so its length still shows.
        assert!(inner.ends_with(&"2a".repeat(32)), "{inner}");
        assert!(stderr.contains(&format!("   inner -> {inner}\n")), "{stderr}");
        assert_eq!(sent["session_id"], 0);
        assert!(sent["inner_response"].as_str().unwrap().starts_with(&stdout[..2]));
        stderr_all.push_str(&stderr);
        trace_all.push_str(&text);
    }
    // The imported object came back (so the blob was really sent, just not shown).
    assert!(listed(&dir, "sim:dev.state").contains_key(&(0x20, "opaque".to_owned())));
    for (what, secret) in [
        ("wrap key", hex::encode(SECRET_WRAP_KEY)),
        ("K-ENC", hex::encode(SECRET_ENC)),
        ("K-MAC", hex::encode(SECRET_MAC)),
        ("blob", hex::encode(&blob[20..60])),
        ("opaque data", hex::encode(OPAQUE_DATA)),
        ("password", hex::encode("password")),
        ("password", "password".to_owned()),
        ("password K-ENC", PASSWORD_KEYS[0].to_owned()),
        ("password K-MAC", PASSWORD_KEYS[1].to_owned()),
    ] {
        assert!(!stderr_all.contains(&secret), "{what} in -v output");
        assert!(!trace_all.contains(&secret), "{what} in a trace file");
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn verbose_output_covers_every_exchange_of_a_device_command() {
    let dir = scratch("verbose");
    make_state(&dir.join("dev.state"), "exportable");
    let out = yhsm(&dir, &["-vv", "-c", "sim:dev.state", "--password-file", "pw", "list"]);
    ok(&out);
    let stderr = String::from_utf8(out.stderr).unwrap();
    let requests: Vec<&str> = stderr.lines().filter(|l| l.starts_with("-> ")).collect();
    // device info, the handshake, list-objects, an object info per object, close.
    assert_eq!(requests.len(), 1 + 2 + 1 + 6 + 1, "{stderr}");
    assert!(requests[0].starts_with("-> get-device-info: 060000"), "{stderr}");
    // The handshake shows its key id and session id; the sealed frames their length only.
    assert_eq!(requests[1], format!("-> create-session: 03000a0001{}", "2a".repeat(8)));
    assert_eq!(requests[3], "-> list-objects [session 0]: sealed, 28 bytes", "{stderr}");
    assert!(stderr.contains("   inner -> 480000\n"), "{stderr}");
    // -vv: a duration on every response line.
    for line in stderr.lines().filter(|l| l.starts_with("<- ")) {
        assert!(line.contains(" ms): "), "{line}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");

#[test]
fn a_traced_restore_shows_no_key_blob_or_password() {
    let dir = scratch("traced-restore");
    let backup = Path::new(EXAMPLES).join("backup");
    let out = yhsm(
        &dir,
        &[
            "-vv",
            "--trace",
            "restore.jsonl",
            "-c",
            "sim:dev.state",
            "restore",
            backup.to_str().unwrap(),
            "--shares-file",
            backup.join("shares.txt").to_str().unwrap(),
            "--password-file",
            backup.join("password.txt").to_str().unwrap(),
        ],
    );
    let stdout = ok(&out);
    assert!(
        stdout.ends_with(
            "All done\nAuthentication keys left to log in with: 0x0003, 0x0004 (-k ID)\n"
        ),
        "{stdout}"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    let trace = fs::read_to_string(dir.join("restore.jsonl")).unwrap();
    let records: Vec<Value> = trace.lines().map(json).collect();
    // Every exchange of the restore is in both, the key going in and the imports included.
    assert_eq!(records.len(), stderr.lines().filter(|l| l.starts_with("-> ")).count());
    for code in ["put-wrap-key", "import-wrapped", "delete-object"] {
        assert!(records.iter().any(|r| r["command"] == code), "no {code} in the trace");
    }
    let wrap_key = fs::read_to_string(Path::new(EXAMPLES).join("keys/wrap-key.hex")).unwrap();
    let mut secrets = vec![("wrap key".to_owned(), wrap_key.trim().to_lowercase())];
    for password in ["password", "application-demo", "audit-demo"] {
        let keys = yhsm_proto::StaticKeys::from_password(password.as_bytes());
        secrets.push((password.to_owned(), password.to_owned()));
        secrets.push((format!("{password} as hex"), hex::encode(password)));
        secrets.push((format!("K-ENC of {password}"), hex::encode(keys.enc.expose_secret())));
        secrets.push((format!("K-MAC of {password}"), hex::encode(keys.mac.expose_secret())));
    }
    for entry in fs::read_dir(&backup).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yhw") {
            let blob = wrap::decode_text(&fs::read(&path).unwrap()).unwrap();
            secrets.push((path.display().to_string(), hex::encode(&blob[13..45])));
        }
    }
    for (what, secret) in &secrets {
        assert!(!stderr.contains(secret.as_str()), "{what} in -v output");
        assert!(!trace.contains(secret.as_str()), "{what} in the trace file");
    }
    fs::remove_dir_all(&dir).unwrap();
}
