//! The round trip of Yubico's "Back Up and Restore Key Material" guide, in one test, with
//! the `yhsm` binary on three simulators (issue 11, Proof): `setup` on A (ksp, shares to
//! files) → keys generated on A with the application key → `dump` → `restore` onto B with
//! 2 of the 3 shares → `clone` from A to a fresh C → `verify` B and C against the dump.
//! Every public key is the same on the three devices, and the application key opens a
//! session on B and C.

#![cfg(feature = "sim")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod support;

use std::fs;
use std::path::Path;

use support::{make_state, ok, run_yhsm, scratch};
use yhsm_proto::command::{GenerateAsymmetricKey, ObjectHeader};
use yhsm_proto::{Algorithm, Capabilities, Domains, Label, ObjectId};
use yhsm_transport::sim::SimTransport;
use yhsm_transport::{Client, Credentials};

const APP_PASSWORD: &[u8] = b"application password";

fn app_session(state: &Path) -> Client {
    let transport = SimTransport::open(Some(state.to_path_buf())).unwrap();
    let mut client = Client::with_transport(Box::new(transport)).unwrap();
    client.authenticate(Credentials::password(3, APP_PASSWORD)).unwrap();
    client
}

const KEYS: [(ObjectId, Algorithm, Capabilities); 2] = [
    (0x100, Algorithm::ECP256, Capabilities::SIGN_ECDSA),
    (0x101, Algorithm::ED25519, Capabilities::SIGN_EDDSA),
];

#[test]
fn setup_dump_restore_clone_verify() {
    let dir = scratch("round-trip", "guide");
    let state = |name: &str| dir.join(name);
    for name in ["a.state", "b.state", "c.state"] {
        make_state(&state(name), "factory");
    }
    fs::write(dir.join("pw"), b"password\n").unwrap();
    fs::write(dir.join("app"), [APP_PASSWORD, b"\n"].concat()).unwrap();
    let yhsm = |args: &[&str]| ok(&run_yhsm(&dir, args));

    // 1. setup on A: the wrap key, its three shares in files, the application key.
    yhsm(&[
        "-c",
        "sim:a.state",
        "--password-file",
        "pw",
        "setup",
        "backup",
        "--profile",
        "ksp",
        "--shares-dir",
        "shares",
        "--app-password-file",
        "app",
        "--no-audit",
        "--no-rsa-decryption",
        "--yes",
    ]);
    let mut shares: Vec<String> = fs::read_dir(dir.join("shares"))
        .unwrap()
        .map(|e| format!("shares/{}", e.unwrap().file_name().into_string().unwrap()))
        .collect();
    shares.sort();
    assert_eq!(shares.len(), 3, "{shares:?}");
    let two = ["--shares-file", &shares[0], "--shares-file", &shares[2]];

    // 2. Keys generated on A by the application key, exportable under wrap.
    let mut a = app_session(&state("a.state"));
    for (id, algorithm, caps) in KEYS {
        a.generate_asymmetric_key(&GenerateAsymmetricKey {
            header: ObjectHeader {
                id,
                label: Label::from_bytes(b"generated").unwrap(),
                domains: Domains(1),
                capabilities: caps | Capabilities::EXPORTABLE_UNDER_WRAP,
                algorithm,
            },
        })
        .unwrap();
    }
    drop(a);

    // 3. dump, as the application key (the factory key is gone), into setup's directory.
    // Its wrap-key description is no conflict and keeps what only setup knew (the key and
    // share check values, the plan); the application key's file setup wrote is, until
    // --force.
    let app = ["-k", "3", "--password-file", "app"];
    let described = fs::read_to_string(dir.join("backup/0x0002-wrap-key.description")).unwrap();
    assert!(described.contains("\nshare 3: "), "{described}");
    let refused = run_yhsm(
        &dir,
        &[&["-c", "sim:a.state"], &app[..], &["dump", "backup", "-w", "2"]].concat(),
    );
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(err.contains("already holds 0x0003-authentication-key.yhw\n"), "{err}");
    yhsm(&[&["-c", "sim:a.state"], &app[..], &["dump", "backup", "-w", "2", "--force"]].concat());
    let again = fs::read_to_string(dir.join("backup/0x0002-wrap-key.description")).unwrap();
    assert_eq!(again, described);
    fs::rename(dir.join("backup"), dir.join("dump")).unwrap();

    // A share typed wrong is caught on its own, by the check value setup recorded.
    let typo = dir.join("typo.txt");
    // The share's line (after setup's comment lines), one character in its middle changed.
    let text = fs::read_to_string(dir.join(&shares[0])).unwrap();
    let line = text.lines().find(|l| !l.starts_with('#') && !l.is_empty()).unwrap();
    let mut chars: Vec<char> = line.chars().collect();
    let middle = chars.len() / 2;
    chars[middle] = if chars[middle] == 'A' { 'B' } else { 'A' };
    let mangled = text.replace(line, &chars.into_iter().collect::<String>());
    assert_ne!(mangled, text);
    fs::write(&typo, mangled).unwrap();
    let out = run_yhsm(
        &dir,
        &["-c", "sim:b.state", "--password-file", "pw", "restore", "dump", "--shares-file"]
            .into_iter()
            .chain([typo.to_str().unwrap(), "--shares-file", &shares[2]])
            .collect::<Vec<_>>(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("does not match the check value recorded at setup"), "{err}");

    // 4. restore onto B with 2 of the 3 shares.
    let out = yhsm(
        &[&["-c", "sim:b.state", "--password-file", "pw", "restore", "dump"], &two[..]].concat(),
    );
    assert!(out.contains("Previous authentication key 0x0001 deleted"), "{out}");

    // 5. clone from A to a fresh C, with the same two shares.
    let out = yhsm(
        &[
            &["-c", "sim:a.state"],
            &app[..],
            &["clone", "--to", "sim:c.state", "--to-authkey", "1", "--to-password-file", "pw"],
            &["--wrap-key-id", "2"],
            &two[..],
        ]
        .concat(),
    );
    assert!(out.contains("Stored wrap key with ID 0x0002 on the device"), "{out}");
    assert!(out.contains("Verified 3 objects"), "{out}");
    assert!(out.contains("Previous authentication key 0x0001 deleted"), "{out}");

    // 6. verify B and C against the dump.
    for target in ["sim:b.state", "sim:c.state"] {
        let out = yhsm(&[&["-c", target], &app[..], &["verify", "dump"], &two[..]].concat());
        assert!(
            out.contains("3 objects match, 0 missing, 0 different, 0 unexpected on the device"),
            "{target}: {out}"
        );
    }

    // Every public key equal; the application key opens a session on B and C.
    let mut a = app_session(&state("a.state"));
    for target in ["b.state", "c.state"] {
        let mut other = app_session(&state(target));
        for (id, _, _) in KEYS {
            assert_eq!(
                a.get_public_key(id).unwrap().key,
                other.get_public_key(id).unwrap().key,
                "0x{id:04x} on {target}"
            );
        }
    }
    let _ = fs::remove_dir_all(&dir);
}
