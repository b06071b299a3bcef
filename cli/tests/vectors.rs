//! The binary against the reference vectors: `inspect --json` reports every field the
//! vectors record, `wrap` with yubihsm-wrap's arguments makes files that unwrap to the
//! vectors' plaintext, and `shares` recovers every vector's secret.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use yhsm_proto::shares::WrapKeySecret;
use yhsm_proto::wrap::{self, WrapKey};
use yhsm_proto::{Capabilities, Domains, SecretBytes};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors");
#[cfg(feature = "keys")]
const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/keys");

fn yhsm(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yhsm"))
        .args(args)
        .current_dir(dir)
        .env_remove("YHSM_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(args: &[&str], dir: &Path) -> String {
    let out = yhsm(args, dir);
    assert!(out.status.success(), "yhsm {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("yhsm-vectors-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn wrapped_vectors() -> Vec<Value> {
    let mut paths: Vec<PathBuf> = fs::read_dir(Path::new(VECTORS).join("wrapped"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 13, "vectors/wrapped changed");
    paths.iter().map(|p| serde_json::from_str(&fs::read_to_string(p).unwrap()).unwrap()).collect()
}

fn hex_field(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// The public key the vector's body holds: EC `X || Y` after the scalar, the last 32 bytes
/// of an ed25519 body, the modulus at the end of an RSA body.
fn expected_public_key(v: &Value) -> Value {
    let body = hex::decode(v["body_hex"].as_str().unwrap()).unwrap();
    let public = match v["object"]["algorithm"].as_str().unwrap() {
        "ecp256" => body[32..].to_vec(),
        "ecp384" => body[48..].to_vec(),
        "ed25519" => body[64..].to_vec(),
        "rsa2048" => body[body.len() - 256..].to_vec(),
        _ => return Value::Null,
    };
    Value::String(hex::encode(public))
}

const JSON_KEYS: [&str; 17] = [
    "file",
    "ok",
    "kind",
    "error",
    "encoding",
    "wrap_algorithm",
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
    "public_key",
];

#[test]
fn inspect_reports_every_vector_field() {
    let dir = scratch("inspect");
    for v in wrapped_vectors() {
        let name = v["name"].as_str().unwrap();
        fs::write(
            dir.join("key.bin"),
            hex::decode(v["wrap_key"]["hex"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
        let yhw = Path::new(VECTORS).join("wrapped").join(v["yhw_file"].as_str().unwrap());
        let text =
            ok(&["inspect", "--json", "--wrap-key-file", "key.bin", yhw.to_str().unwrap()], &dir);
        // Key order matters too: serde_json's preserve_order is off, so read the keys
        // from the text.
        let keys: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix('"')?.split_once("\": ").map(|(k, _)| k))
            .collect();
        assert_eq!(keys, JSON_KEYS, "{name}");
        let all: Value = serde_json::from_str(&text).unwrap();
        let got = &all[0];
        let o = &v["object"];
        assert_eq!(got["ok"], true, "{name}");
        assert_eq!(got["error"], Value::Null, "{name}");
        assert_eq!(got["wrap_algorithm"], v["wrap_key"]["algorithm"], "{name}");
        assert_eq!(got["id"].as_u64(), Some(hex_field(&o["id"])), "{name}");
        assert_eq!(got["type"], o["type"], "{name}");
        assert_eq!(got["algorithm"], o["algorithm"], "{name}");
        assert_eq!(got["label"], o["label"], "{name}");
        assert_eq!(got["domains"].as_u64(), Some(hex_field(&o["domains"])), "{name}");
        assert_eq!(got["capabilities"], o["capabilities"], "{name}");
        assert_eq!(got["delegated_capabilities"], o["delegated_capabilities"], "{name}");
        assert_eq!(got["sequence"], o["sequence"], "{name}");
        assert_eq!(got["origin"].as_u64(), Some(hex_field(&o["origin"])), "{name}");
        assert_eq!(got["length"], v["body_len"], "{name}");
        assert_eq!(got["public_key"], expected_public_key(&v), "{name}");
        assert_eq!(got["encoding"], "base64", "{name}");

        // The same blob as raw bytes, as yubihsm-manager writes it: the same report.
        let raw = dir.join(format!("{name}.raw.yhw"));
        fs::write(&raw, yhsm_proto::wrap::decode_text(&fs::read(&yhw).unwrap()).unwrap()).unwrap();
        let text =
            ok(&["inspect", "--json", "--wrap-key-file", "key.bin", raw.to_str().unwrap()], &dir);
        let all: Value = serde_json::from_str(&text).unwrap();
        let mut got_raw = all[0].clone();
        assert_eq!(got_raw["encoding"], "binary", "{name}");
        got_raw["encoding"] = got["encoding"].clone();
        got_raw["file"] = got["file"].clone();
        assert_eq!(&got_raw, got, "{name}");
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn inspect_never_prints_private_material() {
    let dir = scratch("private");
    for v in wrapped_vectors() {
        let name = v["name"].as_str().unwrap();
        fs::write(
            dir.join("key.bin"),
            hex::decode(v["wrap_key"]["hex"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
        let yhw = Path::new(VECTORS).join("wrapped").join(v["yhw_file"].as_str().unwrap());
        let human = ok(&["inspect", "--wrap-key-file", "key.bin", yhw.to_str().unwrap()], &dir);
        let json =
            ok(&["inspect", "--json", "--wrap-key-file", "key.bin", yhw.to_str().unwrap()], &dir);
        let body = v["body_hex"].as_str().unwrap();
        let public = expected_public_key(&v);
        let public = public.as_str().unwrap_or("");
        // Every 8-byte window of the body outside the public key (and the delegated
        // capabilities that start authentication and wrap keys) must be absent.
        let mut private: String = body.replace(public, "");
        if matches!(v["object"]["type"].as_str(), Some("authentication-key" | "wrap-key")) {
            private.replace_range(..16, "");
        }
        for start in (0..private.len().saturating_sub(16)).step_by(2) {
            let window = &private[start..start + 16];
            if window.chars().all(|c| c == '0' || c == 'f') {
                continue; // padding and all-ones capability words say nothing
            }
            assert!(!human.contains(window) && !json.contains(window), "{name} leaks {window}");
        }
    }
    let _ = fs::remove_dir_all(&dir);
}

/// yubihsm-wrap's arguments, from the vector, as `yhsm wrap` arguments.
fn wrap_args(v: &Value) -> Vec<String> {
    let o = &v["object"];
    let mut args: Vec<String> = vec![
        "wrap".into(),
        "--wrap-key-file".into(),
        "key.bin".into(),
        "-a".into(),
        o["algorithm"].as_str().unwrap().into(),
        "-c".into(),
        o["capabilities_arg"].as_str().unwrap().into(),
        "-d".into(),
        o["domains_arg"].as_str().unwrap().into(),
        "-i".into(),
        o["id_arg"].as_str().unwrap().into(),
        "-l".into(),
        o["label"].as_str().unwrap().into(),
        "--in".into(),
        "input".into(),
        "--out".into(),
        "out.yhw".into(),
    ];
    if let Some(e) = o["delegated_capabilities_arg"].as_str() {
        args.extend(["-e".into(), e.into()]);
    }
    args
}

fn input_bytes(v: &Value) -> Vec<u8> {
    let input = &v["input"];
    if let Some(pem) = input["pem"].as_str() {
        pem.as_bytes().to_vec()
    } else if let Some(h) = input["hex"].as_str() {
        hex::decode(h).unwrap()
    } else {
        hex::decode(input["password_file_bytes_hex"].as_str().unwrap()).unwrap()
    }
}

#[test]
fn wrap_makes_files_that_unwrap_to_each_vectors_plaintext() {
    let dir = scratch("wrap");
    for v in wrapped_vectors() {
        let name = v["name"].as_str().unwrap();
        let key = hex::decode(v["wrap_key"]["hex"].as_str().unwrap()).unwrap();
        fs::write(dir.join("key.bin"), &key).unwrap();
        fs::write(dir.join("input"), input_bytes(&v)).unwrap();
        let _ = fs::remove_file(dir.join("out.yhw"));
        let args = wrap_args(&v);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if !cfg!(feature = "keys") && v["input"].get("pem").is_some() {
            let out = yhsm(&args, &dir);
            assert_eq!(out.status.code(), Some(2), "{name}");
            assert!(String::from_utf8_lossy(&out.stderr).contains("feature `keys`"), "{name}");
            continue;
        }
        ok(&args, &dir);
        let text = fs::read(dir.join("out.yhw")).unwrap();
        assert_eq!(text.last(), Some(&b'\n'), "{name}: a newline ends the file");
        assert_eq!(text.iter().filter(|&&b| b == b'\n').count(), 1, "{name}: one line");
        let blob = wrap::decode_text(&text).unwrap();
        assert_eq!(blob.len(), usize::try_from(v["blob_len"].as_u64().unwrap()).unwrap(), "{name}");
        assert_ne!(
            hex::encode(&blob[..13]),
            v["nonce_hex"].as_str().unwrap(),
            "{name}: fresh nonce"
        );
        let object = wrap::unwrap(&WrapKey::new(&key).unwrap(), &blob).unwrap();
        let mut plaintext = object.header.to_bytes();
        plaintext.extend_from_slice(&object.body.to_bytes());
        assert_eq!(hex::encode(plaintext), v["plaintext_hex"].as_str().unwrap(), "{name}");
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn wrap_gives_a_fresh_nonce_each_time() {
    let dir = scratch("nonce");
    let v = &wrapped_vectors()[0];
    fs::write(dir.join("key.bin"), hex::decode(v["wrap_key"]["hex"].as_str().unwrap()).unwrap())
        .unwrap();
    fs::write(dir.join("input"), input_bytes(v)).unwrap();
    let args = wrap_args(v);
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.push("--force");
    ok(&args, &dir);
    let first = fs::read(dir.join("out.yhw")).unwrap();
    ok(&args, &dir);
    let second = fs::read(dir.join("out.yhw")).unwrap();
    assert_ne!(first[..17], second[..17]);
    let _ = fs::remove_dir_all(&dir);
}

/// `tests/data/keys/cases.txt`: keys made by OpenSSL in every form and curve `wrap`
/// reads, with the public key OpenSSL computes, or the error `wrap` must give.
#[cfg(feature = "keys")]
#[test]
fn wrap_reads_private_keys_of_every_form_and_curve() {
    let dir = scratch("keys");
    fs::write(dir.join("key.bin"), [7u8; 32]).unwrap();
    let cases = fs::read_to_string(Path::new(KEYS).join("cases.txt")).unwrap();
    let mut checked = 0;
    for line in cases.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let mut parts = line.splitn(3, ' ');
        let (file, algorithm, expected) =
            (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        let input = Path::new(KEYS).join(file);
        let args = [
            "wrap",
            "--wrap-key-file",
            "key.bin",
            "-a",
            algorithm,
            "-c",
            "none",
            "-d",
            "1",
            "-i",
            "9",
            "--in",
            input.to_str().unwrap(),
            "--out",
            "k.yhw",
            "--force",
        ];
        let out = yhsm(&args, &dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if let Some(error) = expected.strip_prefix("error: ") {
            assert_eq!(out.status.code(), Some(1), "{line}: {stderr}");
            assert!(stderr.contains(error), "{line}: {stderr}");
            assert!(stderr.contains(file), "{line}: the error names the file: {stderr}");
        } else {
            assert!(out.status.success(), "{line}: {stderr}");
            let json = ok(&["inspect", "--json", "--wrap-key-file", "key.bin", "k.yhw"], &dir);
            let got: Value = serde_json::from_str(&json).unwrap();
            assert_eq!(got[0]["algorithm"], algorithm, "{line}");
            assert_eq!(got[0]["public_key"], expected, "{line}");
        }
        checked += 1;
    }
    assert!(checked >= 18, "only {checked} cases");
    let _ = fs::remove_dir_all(&dir);
}

fn share_vectors() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for format in ["yubihsm-setup", "yubihsm-manager"] {
        let mut paths: Vec<PathBuf> = fs::read_dir(Path::new(VECTORS).join("shares").join(format))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        for p in paths {
            let v: Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
            if v.get("shares").is_some() {
                out.push((format.to_owned(), v));
            }
        }
    }
    assert_eq!(out.len(), 6, "vectors/shares changed");
    out
}

fn check_combined(json: &str, format: &str, v: &Value, reveal: bool, what: &str) {
    let got: Value = serde_json::from_str(json).unwrap();
    let f = &v["fields"];
    let algorithm = match f["key_len"].as_u64().unwrap() {
        16 => "aes128-ccm-wrap",
        24 => "aes192-ccm-wrap",
        _ => "aes256-ccm-wrap",
    };
    let mut expected = serde_json::json!({
        "format": format,
        "threshold": v["k"],
        "wrap_key_id": f["wrap_key_id"],
        "domains": u64::from_str_radix(f["domains_hex"].as_str().unwrap(), 16).unwrap(),
        "capabilities": format!("0x{}", f["capabilities_hex"].as_str().unwrap()),
        "delegated_capabilities": format!("0x{}", f["delegated_capabilities_hex"].as_str().unwrap()),
        "algorithm": algorithm,
    });
    if reveal {
        expected["key"] = f["key_hex"].clone();
    }
    // The key check value, by its definition (cli/README.md "Check values"), from the
    // vector's fields.
    let secret = WrapKeySecret::new(
        u16::try_from(f["wrap_key_id"].as_u64().unwrap()).unwrap(),
        Domains(u16::from_str_radix(f["domains_hex"].as_str().unwrap(), 16).unwrap()),
        Capabilities(u64::from_str_radix(f["capabilities_hex"].as_str().unwrap(), 16).unwrap()),
        Capabilities(
            u64::from_str_radix(f["delegated_capabilities_hex"].as_str().unwrap(), 16).unwrap(),
        ),
        SecretBytes::new(hex::decode(f["key_hex"].as_str().unwrap()).unwrap()),
    )
    .unwrap();
    expected["kcv"] = hex::encode(secret.check_value()).into();
    expected["description"] = Value::Null;
    let mut got = got;
    let checks = got.as_object_mut().unwrap().remove("share_checks").unwrap();
    assert!(checks.as_array().unwrap().iter().all(|c| c["check"].as_str().unwrap().len() == 8));
    assert_eq!(got, expected, "{what}");
}

#[test]
fn shares_combine_recovers_every_vector() {
    let dir = scratch("combine");
    for (format, v) in share_vectors() {
        let name = format!("{format}/{}", v["name"].as_str().unwrap());
        let shares: Vec<&str> =
            v["shares"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        let k = usize::try_from(v["k"].as_u64().unwrap()).unwrap();
        // All shares (the extra ones are checked), the first k, and the last k.
        for (what, subset) in [
            ("all", &shares[..]),
            ("first k", &shares[..k]),
            ("last k", &shares[shares.len() - k..]),
        ] {
            let file = format!("# {name}\n\n{}\n", subset.join("\n"));
            fs::write(dir.join("s.txt"), file).unwrap();
            let what = format!("{name}, {what}");
            let quiet = ok(&["shares", "combine", "--shares-file", "s.txt", "--json"], &dir);
            check_combined(&quiet, &format, &v, false, &what);
            let key = v["fields"]["key_hex"].as_str().unwrap();
            assert!(!quiet.contains(key), "{what}: the key without --reveal");
            let human = ok(&["shares", "combine", "--shares-file", "s.txt"], &dir);
            assert!(!human.contains(key), "{what}: the key without --reveal");
            let revealed =
                ok(&["shares", "combine", "--shares-file", "s.txt", "--json", "--reveal"], &dir);
            check_combined(&revealed, &format, &v, true, &what);
            let human = ok(&["shares", "combine", "--shares-file", "s.txt", "--reveal"], &dir);
            assert!(human.contains(&format!("key:              {key}\n")), "{what}: {human}");
        }
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn shares_split_then_combine_round_trips() {
    let dir = scratch("split");
    for (format, key) in [
        ("yubihsm-setup", "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"),
        ("yubihsm-manager", "202122232425262728292a2b2c2d2e2f"),
        ("yubihsm-manager", "202122232425262728292a2b2c2d2e2f3031323334353637"),
    ] {
        fs::write(dir.join("k.hex"), key).unwrap();
        let shares = ok(
            &[
                "shares",
                "split",
                "-t",
                "3",
                "-n",
                "5",
                "--wrap-key-file",
                "k.hex",
                "--id",
                "0x1234",
                "--domains",
                "1:3",
                "--capabilities",
                "export-wrapped,import-wrapped",
                "--delegated",
                "0x0000000001053ff0",
                "--format",
                format,
            ],
            &dir,
        );
        let lines: Vec<&str> = shares.lines().collect();
        assert_eq!(lines.len(), 5, "{shares}");
        for (i, line) in lines.iter().enumerate() {
            assert!(line.starts_with(&format!("3-{}-", i + 1)), "{line}");
        }
        // Any three recover the key; the fifth and first alone do not.
        fs::write(dir.join("s.txt"), [lines[4], lines[0], lines[2]].join("\n")).unwrap();
        let got: Value = serde_json::from_str(&ok(
            &["shares", "combine", "--shares-file", "s.txt", "--json", "--reveal"],
            &dir,
        ))
        .unwrap();
        assert_eq!(got["format"], format);
        assert_eq!(got["threshold"], 3);
        assert_eq!(got["wrap_key_id"], 0x1234);
        assert_eq!(got["domains"], 5);
        assert_eq!(got["capabilities"], "0x0000000000003000");
        assert_eq!(got["delegated_capabilities"], "0x0000000001053ff0");
        assert_eq!(got["key"], key);
        fs::write(dir.join("s.txt"), [lines[4], lines[0]].join("\n")).unwrap();
        let out = yhsm(&["shares", "combine", "--shares-file", "s.txt"], &dir);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("the threshold is 3"));
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn shares_convert_keeps_the_key_and_the_threshold() {
    let dir = scratch("convert");
    for (from, to) in [("yubihsm-setup", "yubihsm-manager"), ("yubihsm-manager", "yubihsm-setup")] {
        for (format, v) in share_vectors() {
            if format != from || v["fields"]["key_len"] != 32 {
                continue;
            }
            let shares: Vec<&str> =
                v["shares"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
            fs::write(dir.join("s.txt"), shares.join("\n")).unwrap();
            let converted = ok(&["shares", "convert", "--shares-file", "s.txt", "--to", to], &dir);
            assert_eq!(converted.lines().count(), shares.len(), "same number of shares");
            fs::write(dir.join("c.txt"), &converted).unwrap();
            let json =
                ok(&["shares", "combine", "--shares-file", "c.txt", "--json", "--reveal"], &dir);
            check_combined(&json, to, &v, true, &format!("{from} -> {to}"));
            // -n chooses the count.
            let more =
                ok(&["shares", "convert", "--shares-file", "s.txt", "--to", to, "-n", "9"], &dir);
            assert_eq!(more.lines().count(), 9);
        }
    }
    let _ = fs::remove_dir_all(&dir);
}
