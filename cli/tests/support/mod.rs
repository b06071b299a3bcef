//! Simulator state files with known objects, made through the real client and the
//! built-in simulator (feature `sim`), for the tests that run device commands with
//! `-c sim:FILE` or against `yhsm sim serve --state FILE`; and running the binary: a
//! scratch directory, one run, `yhsm sim serve` on a free port.

#![allow(dead_code, reason = "each test file uses a part")]

pub mod fault;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};

use yhsm_proto::command::{
    AuthenticationKey, ObjectHeader, PutAsymmetricKey, PutAuthenticationKey, PutOpaque, PutWrapKey,
};
use yhsm_proto::{Algorithm, Capabilities, Domains, Label, SecretBytes, StaticKeys};
use yhsm_transport::sim::SimTransport;
use yhsm_transport::{Client, Credentials};

/// The factory password of the simulator's key 1.
pub const PASSWORD: &str = "password";
/// The wrap key of the fixtures (id 2, aes256-ccm-wrap).
pub const WRAP_KEY: [u8; 32] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
];
pub const WRAP_KEY_ID: u16 = 2;
/// The password of authentication key 3.
pub const APP_PASSWORD: &str = "app-password";
/// The ed25519 seed of key 0x0011.
pub const ED25519_SEED: [u8; 32] = [0x42; 32];
pub const ED25519_ID: u16 = 0x11;
/// The P-256 private key of key 0x0010 (any scalar below the group order).
pub const P256_SCALAR: [u8; 32] = [0x07; 32];
pub const OPAQUE_DATA: &[u8] = b"hello from the fixture";

fn header(id: u16, label: &str, caps: Capabilities, algorithm: Algorithm) -> ObjectHeader {
    ObjectHeader {
        id,
        label: Label::from_bytes(label.as_bytes()).unwrap(),
        domains: Domains(1),
        capabilities: caps,
        algorithm,
    }
}

/// Makes the state file `path` holding the factory key 1 and:
///
/// - `standard`: wrap key 0x0002 (export-wrapped, import-wrapped; delegates everything),
///   authentication key 0x0003 (password [`APP_PASSWORD`]), ecp256 key 0x0010, ed25519
///   key 0x0011, opaque 0x0020 — all exportable under wrap — and ecp256 key 0x0030 that
///   is not;
/// - `exportable`: the same without 0x0030;
/// - `narrow-wrap`: `exportable`, with wrap key 0x0002 delegating only
///   exportable-under-wrap and sign-ecdsa (so the ed25519 key, the opaque object and the
///   authentication keys cannot be exported under it);
/// - `factory`: nothing else;
/// - `wrap-only`: wrap key 0x0002 alone (a secondary ready for `clone`);
/// - `other-wrap`: a wrap key 0x0002 with the same attributes and another key.
pub fn make_state(path: &Path, fixture: &str) {
    let _ = fs::remove_file(path);
    let transport = SimTransport::open(Some(path.to_path_buf())).unwrap();
    let mut client = Client::with_transport(Box::new(transport)).unwrap();
    client.authenticate(Credentials::password(1, PASSWORD.as_bytes())).unwrap();
    if fixture == "factory" {
        // Any change writes the file: a factory device is saved by its first log entry.
        client.echo(b"save").unwrap();
        return;
    }
    let export = Capabilities::EXPORTABLE_UNDER_WRAP;
    let delegated = if fixture == "narrow-wrap" {
        export | Capabilities::SIGN_ECDSA
    } else {
        Capabilities::ALL
    };
    client
        .put_wrap_key(&PutWrapKey {
            header: header(
                WRAP_KEY_ID,
                "backup wrap key",
                Capabilities::EXPORT_WRAPPED | Capabilities::IMPORT_WRAPPED,
                Algorithm::AES256_CCM_WRAP,
            ),
            delegated,
            key: SecretBytes::from_slice(if fixture == "other-wrap" {
                &[0x5a; 32]
            } else {
                &WRAP_KEY
            }),
        })
        .unwrap();
    if fixture == "wrap-only" || fixture == "other-wrap" {
        return;
    }
    let app = StaticKeys::from_password(APP_PASSWORD.as_bytes());
    client
        .put_authentication_key(&PutAuthenticationKey::new(
            3,
            Label::from_bytes(b"application key").unwrap(),
            Domains(1),
            Capabilities::SIGN_ECDSA | export,
            Capabilities::SIGN_ECDSA,
            AuthenticationKey::Symmetric { enc: app.enc.clone(), mac: app.mac.clone() },
        ))
        .unwrap();
    client
        .put_asymmetric_key(&PutAsymmetricKey {
            header: header(0x10, "ecdsa key", Capabilities::SIGN_ECDSA | export, Algorithm::ECP256),
            key: SecretBytes::from_slice(&P256_SCALAR),
        })
        .unwrap();
    client
        .put_asymmetric_key(&PutAsymmetricKey {
            header: header(
                ED25519_ID,
                "eddsa key",
                Capabilities::SIGN_EDDSA | export,
                Algorithm::ED25519,
            ),
            key: SecretBytes::from_slice(&ED25519_SEED),
        })
        .unwrap();
    client
        .put_opaque(&PutOpaque {
            header: header(0x20, "opaque data", export, Algorithm::OPAQUE_DATA),
            data: OPAQUE_DATA.to_vec(),
        })
        .unwrap();
    if fixture == "standard" {
        client
            .put_asymmetric_key(&PutAsymmetricKey {
                header: header(0x30, "kept inside", Capabilities::SIGN_ECDSA, Algorithm::ECP256),
                key: SecretBytes::from_slice(&[0x09; 32]),
            })
            .unwrap();
    }
}

/// A fresh directory for the test `name` of the file `suite`.
pub fn scratch(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("yhsm-{suite}-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the `yhsm` binary in `dir`: no `YHSM_PASSWORD`, nothing on standard input.
pub fn run_yhsm(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yhsm"))
        .args(args)
        .current_dir(dir)
        .env_remove("YHSM_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The standard output of a run that must have succeeded.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// `yhsm ARGS…` serving the simulator (`sim serve --listen 127.0.0.1:0` among them), once
/// it says where; its standard error goes to `server.stderr` in its directory. Killed on
/// drop.
pub struct Server {
    pub child: Child,
    pub url: String,
    /// The rest of its standard output, after the `listening on` line.
    pub stdout: BufReader<ChildStdout>,
}

impl Server {
    pub fn start(dir: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_yhsm"))
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(dir.join("server.stderr")).unwrap())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| {
            panic!("unexpected first line {line:?}");
        });
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Self { url: url.to_owned(), child, stdout }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
