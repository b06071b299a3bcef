//! The fault matrix (issue 6): a 20-object backup restored onto the simulator once for
//! every exchange of the restore × every fault kind, each run followed by a look at the
//! device and, unless the run already finished, by the same restore again without faults.
//!
//! The backup: the ten AES-256-wrapped objects of `vectors/wrapped` (made by Yubico's
//! tools: an authentication key, EC P-256 and P-384, ed25519, RSA 2048, HMAC-SHA256, two
//! opaque objects, an AES-256 key, a wrap key) and ten more wrapped here by the library
//! behind `yhsm wrap` with fixed nonces (two authentication keys, EC P-256, P-521 and
//! secp256k1, ed25519, HMAC-SHA512, opaque data, an AES-128 key, an AES-128 wrap key), all
//! under the vectors' wrap key, whose shares are `tests/data/vectors-wrap-key-shares.txt`.
//!
//! Each run goes through `restore::command_with`, the function behind `yhsm restore`,
//! with the binary's own rendering of events and errors, so the messages checked are the
//! ones a user would read. Only the transport differs: the simulator, held by the test.
//!
//! Fault kinds, each armed with `Fault::once(Trigger::Exchange(i), ...)` for every
//! exchange index `i` of a fault-free run:
//!
//! - `lost`: the device runs the command, the response is lost (a timeout);
//! - `corrupt-code`, `corrupt-middle`, `corrupt-last`: one response byte flipped — the
//!   response code (offset 0), the middle byte (session ciphertext, or plain data), the
//!   last byte (the response MAC of a session message);
//! - `error-<code>`: the device refuses the command with storage-failed,
//!   insufficient-permissions or invalid-data, plus one code typical of the command
//!   (sessions-full for create-session, authentication-failed for authenticate-session,
//!   object-not-found for the object reads and delete-object);
//! - `expired`: the session the request belongs to expires just before it arrives;
//! - `unplugged`: the device is unplugged before the request and stays so until the test
//!   plugs it back in for the second run.
//!
//! After each run: the command succeeded, or failed naming the step (the object's file,
//! or the stage: device info, log in, listing, wrap key, login key); every object on the
//! device that has a backup object's id and type equals it (attributes and key material,
//! read from the simulator's store); nothing else is there besides the login key and the
//! wrap key; the login key is gone only once every object was restored and verified; and
//! someone can still log in (the login key, or a restored authentication key).
//! A failed run is followed by the same restore without faults, which must succeed,
//! verify all 20 objects and delete the login key.
//!
//! The totals are printed (`--nocapture`) and written to `target/fault-matrix.txt`; they
//! are recorded in `tests/RELIABILITY.md`. It runs in the default `cargo test` (under a
//! minute in a debug build); to see the totals:
//!
//! ```text
//! cargo test -p yhsm --test fault_matrix -- --nocapture
//! ```
//!
//! `YHSM_FAULT_ONLY=TEXT` runs only the faults whose label (`exchange 12 (import-wrapped),
//! lost`) contains TEXT; `YHSM_FAULT_SHOW=1` prints each run's output.

#![cfg(all(feature = "sim", feature = "keys"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use yhsm::backup::restore::{self, Args, Event};
use yhsm::options::GlobalOptions;
use yhsm::util::password::PasswordOptions;
use yhsm::util::prompt::ScriptedPrompter;
use yhsm::wrap::{WrapSpec, build_object};
use yhsm_proto::wrap::{self, WrapKey, WrappedObject};
use yhsm_proto::{Algorithm, Capabilities, Domains, Label, ObjectId, ObjectType};
use yhsm_sim::{Action, Fault, SharedDevice, Trigger};
use yhsm_transport::sim::SimTransport;
use yhsm_transport::{Client, Credentials};

mod support;
use support::fault::{self, device};

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const VECTOR_SHARES: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vectors-wrap-key-shares.txt");
const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/keys");

/// The vectors' AES-256 wrap key (`vectors/README.md`): 00 01 02 … 1f, id 0x0002.
fn vector_key() -> [u8; 32] {
    std::array::from_fn(|i| u8::try_from(i).unwrap())
}
const WRAP_ID: ObjectId = 2;
const LOGIN: ObjectId = 1;
const LOGIN_PASSWORD: &[u8] = b"password";
const AUTH: ObjectType = ObjectType::AUTHENTICATION_KEY;

/// The vectors wrapped under the AES-256 key.
const VECTOR_FILES: [&str; 10] = [
    "aes256_symmetric.yhw",
    "authkey_password_aes256wrap.yhw",
    "ec_p256.yhw",
    "ec_p384.yhw",
    "ed25519.yhw",
    "hmac_sha256.yhw",
    "opaque_data.yhw",
    "opaque_x509_cert.yhw",
    "rsa2048.yhw",
    "wrapkey_aes256_obj5.yhw",
];

/// The backup on disk and what it holds.
struct Fixture {
    dir: PathBuf,
    backup: PathBuf,
    /// Every object by (id, type), decrypted.
    objects: BTreeMap<(ObjectId, ObjectType), WrappedObject>,
    /// Symmetric authentication keys of the backup and their passwords.
    passwords: Vec<(ObjectId, &'static [u8])>,
}

fn spec(
    id: ObjectId,
    label: &str,
    algorithm: &str,
    caps: &str,
    delegated: Option<&str>,
) -> WrapSpec {
    WrapSpec {
        id,
        label: label.parse::<Label>().unwrap(),
        domains: "1".parse::<Domains>().unwrap(),
        capabilities: caps.parse::<Capabilities>().unwrap(),
        delegated: delegated.map(|d| d.parse::<Capabilities>().unwrap()),
        algorithm: algorithm.parse::<Algorithm>().unwrap(),
    }
}

/// Writes the 20-object backup, its shares and the login password into a fresh
/// directory.
fn fixture() -> Fixture {
    let dir = std::env::temp_dir().join(format!("yhsm-fault-matrix-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let backup = dir.join("backup");
    fs::create_dir_all(&backup).unwrap();
    fs::copy(VECTOR_SHARES, dir.join("shares.txt")).unwrap();
    fs::write(dir.join("password.txt"), b"password\n").unwrap();
    let key = WrapKey::new(&vector_key()).unwrap();
    let mut objects = BTreeMap::new();
    let mut texts: Vec<(String, Vec<u8>)> = Vec::new();

    for name in VECTOR_FILES {
        let text = fs::read(Path::new(REPO).join("vectors/wrapped").join(name)).unwrap();
        let object = wrap::unwrap(&key, &wrap::decode_text(&text).unwrap()).unwrap();
        texts.push((name.to_owned(), text));
        objects.insert((object.header.id, object.header.object_type), object);
    }

    let read = |path: &str| fs::read(Path::new(REPO).join(path)).unwrap();
    let built: Vec<(WrapSpec, Vec<u8>)> = vec![
        (
            spec(
                4,
                "operator",
                "aes128-yubico-authentication",
                "sign-ecdsa,sign-eddsa,get-opaque,exportable-under-wrap",
                Some("sign-ecdsa,sign-eddsa"),
            ),
            b"operator-password\n".to_vec(),
        ),
        (
            spec(6, "auditor", "aes128-yubico-authentication", "get-log-entries", Some("none")),
            b"auditor-password\n".to_vec(),
        ),
        (
            spec(0x100, "p256 signer", "ecp256", "sign-ecdsa,exportable-under-wrap", None),
            fs::read(Path::new(KEYS).join("ecp256.der")).unwrap(),
        ),
        (
            spec(0x101, "p521 signer", "ecp521", "sign-ecdsa", None),
            fs::read(Path::new(KEYS).join("ecp521.pem")).unwrap(),
        ),
        (
            spec(0x102, "secp256k1 signer", "eck256", "sign-ecdsa,derive-ecdh", None),
            fs::read(Path::new(KEYS).join("eck256.pem")).unwrap(),
        ),
        (
            spec(0x104, "eddsa signer", "ed25519", "sign-eddsa,exportable-under-wrap", None),
            read("examples/keys/ed25519.pem"),
        ),
        (
            spec(0x41, "hmac 512", "hmac-sha512", "sign-hmac,verify-hmac", None),
            (1..=100u8).collect(),
        ),
        (
            spec(0x52, "notes", "opaque-data", "get-opaque", None),
            b"restore me byte for byte".to_vec(),
        ),
        (spec(0x61, "aes128 key", "aes128", "encrypt-cbc,decrypt-cbc", None), vec![0x61; 16]),
        (
            spec(7, "second wrap key", "aes128-ccm-wrap", "wrap-data,unwrap-data", Some("none")),
            vec![0x77; 16],
        ),
    ];
    for (n, (spec, input)) in built.iter().enumerate() {
        let object = build_object(spec, input, "input", false).unwrap();
        let nonce = [0xa0 + u8::try_from(n).unwrap(); wrap::NONCE_LEN];
        let blob = wrap::wrap(&key, nonce, &object).unwrap();
        let name = format!("0x{:04x}-{}.yhw", spec.id, object.header.object_type);
        texts.push((name, format!("{}\n", wrap::encode_text(&blob)).into_bytes()));
        let object = wrap::unwrap(&key, &blob).unwrap();
        objects.insert((object.header.id, object.header.object_type), object);
    }
    for (name, text) in &texts {
        fs::write(backup.join(name), text).unwrap();
    }
    assert_eq!(objects.len(), 20, "20 distinct objects");
    Fixture {
        dir,
        backup,
        objects,
        passwords: vec![(3, b"password"), (4, b"operator-password"), (6, b"auditor-password")],
    }
}

/// What a user would have seen of one `yhsm restore`.
#[derive(Debug, Default)]
struct Ran {
    exit: u8,
    stdout: String,
    stderr: String,
    /// Each event with the number of exchanges the device had handled when it came.
    events: Vec<(u64, Event)>,
    panicked: bool,
}

impl Ran {
    /// The lines that say what failed: the error and hint on standard error, and the
    /// per-object failures on standard output.
    fn failure_text(&self) -> String {
        let mut text = self.stderr.clone();
        for line in self.stdout.lines() {
            if line.contains("Failed to import") || line.starts_with("Verification failed") {
                text.push_str(line);
                text.push('\n');
            }
        }
        text
    }
}

/// Runs `yhsm -c sim: restore BACKUP --shares-file … --password-file …` against `dev`,
/// as the binary does: `restore::command_with`, events rendered by `restore::render`,
/// the error by `Error::render`.
fn restore_on(fx: &Fixture, dev: &SharedDevice, trace: Option<PathBuf>) -> Ran {
    let global = GlobalOptions {
        connector: "sim:".parse().unwrap(),
        authkey: LOGIN,
        password: PasswordOptions { file: Some(fx.dir.join("password.txt")), argument: None },
        trace,
        ..GlobalOptions::default()
    };
    let args = Args {
        dir: fx.backup.clone(),
        shares_files: vec![fx.dir.join("shares.txt")],
        ..Args::default()
    };
    let mut ran = Ran::default();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut prompter = ScriptedPrompter::new::<&str>(&[]);
        let mut open = |_: &_| -> Result<Box<dyn yhsm_transport::Transport>, _> {
            Ok(Box::new(SimTransport::from_shared(dev.clone())))
        };
        let mut sink = |event: &Event| {
            ran.events.push((dev.lock().exchanges(), event.clone()));
            fault::render(event, &mut ran.stdout, &mut ran.stderr);
        };
        restore::command_with(&global, &args, &mut prompter, None, &mut open, &mut sink)
    }));
    match fault::ended(outcome, &mut ran.stderr, &mut ran.panicked) {
        Err(exit) => ran.exit = exit,
        Ok(report) => {
            ran.exit = report.exit_code();
            if let Some(e) = report.into_failure() {
                ran.stderr.push_str(&e.render());
            }
        }
    }
    ran
}

/// One exchange of the fault-free run.
#[derive(Clone, Debug)]
struct Exchange {
    command: String,
    response_len: usize,
    /// What a failure caused here must name.
    step: Option<String>,
}

/// The fault-free run: its exchanges (from `--trace`), with the step each belongs to.
fn baseline(fx: &Fixture) -> Vec<Exchange> {
    let dev = device();
    let trace = fx.dir.join("baseline.trace");
    let ran = restore_on(fx, &dev, Some(trace.clone()));
    assert_eq!(ran.exit, 0, "{}\n{}", ran.stdout, ran.stderr);
    check_device(fx, &dev).unwrap();
    assert!(!has_login_key(&dev));
    let text = fs::read_to_string(&trace).unwrap();
    let records: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len() as u64, dev.lock().exchanges(), "one trace line per exchange");
    let next_event =
        |i: usize| ran.events.iter().find(|(at, _)| *at > i as u64).map(|(_, e)| e.clone());
    let first = |name: &str| records.iter().position(|r| r["command"] == name).unwrap();
    let (listed, stored, deleted) =
        (first("list-objects"), first("put-wrap-key"), first("delete-object"));
    let file_of = |event: Option<Event>| match event {
        Some(Event::Imported { file, .. } | Event::Verified { file, .. }) => Some(file),
        other => panic!("no object for {other:?}"),
    };
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let command = r["command"].as_str().unwrap().to_owned();
            let response_len = r["response"].as_str().map_or(0, |h| h.len() / 2);
            let step = match command.as_str() {
                "get-device-info" if i == 0 => Some("cannot read the device info".to_owned()),
                "list-objects" => Some("cannot list the device's objects".to_owned()),
                // Preflight's reads: the login key's own info, and the storage.
                "get-object-info" if i > listed && i < stored => {
                    Some("authentication key 0x0001's object info".to_owned())
                }
                "get-storage-info" => Some("the device's storage info".to_owned()),
                "put-wrap-key" => Some("wrap key 0x0002".to_owned()),
                "delete-object" => Some("authentication key 0x0001".to_owned()),
                "import-wrapped" => file_of(next_event(i)),
                _ if i < listed => Some("cannot log in".to_owned()),
                _ if i < deleted => file_of(next_event(i)),
                // The close of the session after the login key is deleted: its failure is
                // nobody's business.
                _ => None,
            };
            Exchange { command, response_len, step }
        })
        .collect()
}

/// The fault kinds for one exchange.
fn kinds(exchange: &Exchange) -> Vec<(String, Action)> {
    let not_found = ["get-object-info", "get-public-key", "delete-object"];
    fault::kinds(&exchange.command, exchange.response_len, &not_found)
}

fn has_login_key(dev: &SharedDevice) -> bool {
    dev.lock().store().get(LOGIN, AUTH).is_some()
}

/// Every object on the device with a backup object's (id, type) equals it; the wrap key
/// is the shares'; nothing else is there but the login key. `Err` lists what differs.
fn check_device(fx: &Fixture, dev: &SharedDevice) -> Result<usize, Vec<String>> {
    let device = dev.lock();
    let mut wrong = Vec::new();
    let mut restored = 0;
    for o in device.store().iter() {
        let at = (o.id, o.object_type);
        if at == (LOGIN, AUTH) {
            continue;
        }
        if at == (WRAP_ID, ObjectType::WRAP_KEY) {
            let expected = yhsm_proto::wrap::Body::WrapKey {
                delegated: Capabilities::ALL,
                key: yhsm_proto::SecretBytes::from_slice(&vector_key()),
            };
            if o.body != expected
                || o.delegated != Capabilities::ALL
                || o.capabilities
                    != Capabilities::EXPORT_WRAPPED.union(Capabilities::IMPORT_WRAPPED)
            {
                wrong.push(format!("wrap key 0x{WRAP_ID:04x} is not the shares'"));
            }
            continue;
        }
        let Some(backup) = fx.objects.get(&at) else {
            wrong.push(format!("{} 0x{:04x} is not in the backup", o.object_type, o.id));
            continue;
        };
        let h = &backup.header;
        let same = o.algorithm == h.algorithm
            && o.label == h.label
            && o.domains == h.domains
            && o.capabilities == h.capabilities
            && o.delegated == backup.body.delegated_capabilities().unwrap_or(Capabilities::NONE)
            && o.origin == h.origin.with_imported_wrapped()
            && o.body == backup.body;
        if same {
            restored += 1;
        } else {
            wrong.push(format!("{} 0x{:04x} differs from the backup", o.object_type, o.id));
        }
    }
    if wrong.is_empty() { Ok(restored) } else { Err(wrong) }
}

/// Whether anyone can still log in: the login key with its password, or an
/// authentication key of the backup with its own.
fn can_log_in(fx: &Fixture, dev: &SharedDevice) -> bool {
    let mut candidates = vec![(LOGIN, LOGIN_PASSWORD)];
    candidates.extend(fx.passwords.iter().copied());
    candidates.into_iter().any(|(id, password)| {
        let Ok(mut client) =
            Client::with_transport(Box::new(SimTransport::from_shared(dev.clone())))
        else {
            return false;
        };
        client.authenticate(Credentials::password(id, password)).is_ok()
    })
}

#[derive(Debug, Default)]
struct Totals {
    tried: usize,
    recovered: usize,
    failed_cleanly: usize,
    /// Failed without naming the step.
    unnamed: usize,
    objects_wrong: usize,
    lockouts: usize,
    second_run_failures: usize,
    panics: usize,
    by_kind: BTreeMap<String, (usize, usize, usize)>,
    problems: Vec<String>,
    /// The error line of each run that failed cleanly.
    failures: Vec<String>,
}

#[test]
fn every_fault_at_every_exchange_ends_restored_or_resumable() {
    let started = Instant::now();
    let fx = fixture();
    let exchanges = baseline(&fx);
    assert_eq!(exchanges.iter().filter(|e| e.command == "import-wrapped").count(), 20);
    assert!(exchanges.iter().any(|e| e.command == "delete-object"));
    let mut t = Totals::default();
    let only = std::env::var("YHSM_FAULT_ONLY").ok();
    for (i, exchange) in exchanges.iter().enumerate() {
        for (kind, action) in kinds(exchange) {
            let label = format!("exchange {i} ({}), {kind}", exchange.command);
            if only.as_deref().is_some_and(|o| !label.contains(o)) {
                continue;
            }
            t.tried += 1;
            let dev = device();
            dev.lock().add_fault(Fault::once(Trigger::Exchange(i as u64), action));
            let ran = restore_on(&fx, &dev, None);
            if std::env::var_os("YHSM_FAULT_SHOW").is_some() {
                println!("=== {label}: exit {}\n{}{}", ran.exit, ran.stdout, ran.stderr);
            }
            let entry = t.by_kind.entry(kind.clone()).or_default();
            entry.0 += 1;
            let problem = |t: &mut Totals, what: String| {
                t.problems.push(format!(
                    "{label}: {what}\n--- stdout\n{}--- stderr\n{}",
                    ran.stdout, ran.stderr
                ));
            };
            // Messages name keys, never show them.
            for secret in [&hex::encode(vector_key())[..], "operator-password", "auditor-password"]
            {
                if ran.stdout.contains(secret) || ran.stderr.contains(secret) {
                    problem(&mut t, "a secret in the output".to_owned());
                }
            }
            if ran.panicked {
                t.panics += 1;
                problem(&mut t, "panicked".to_owned());
            }
            let succeeded = ran.exit == 0;
            if succeeded {
                t.recovered += 1;
                t.by_kind.get_mut(&kind).unwrap().1 += 1;
            } else {
                match &exchange.step {
                    Some(step)
                        if ran.failure_text().contains(step.as_str())
                            && ran.stderr.contains("yhsm: error: ") =>
                    {
                        let error = ran.stderr.lines().find(|l| l.starts_with("yhsm: error: "));
                        t.failures.push(format!("{label}: {}", error.unwrap_or_default()));
                        t.failed_cleanly += 1;
                        t.by_kind.get_mut(&kind).unwrap().2 += 1;
                    }
                    step => {
                        t.unnamed += 1;
                        problem(&mut t, format!("failed without naming the step ({step:?})"));
                    }
                }
            }
            // The device after the run.
            let restored = match check_device(&fx, &dev) {
                Ok(n) => n,
                Err(wrong) => {
                    t.objects_wrong += wrong.len();
                    problem(&mut t, format!("wrong objects: {wrong:?}"));
                    0
                }
            };
            let login_gone = !has_login_key(&dev);
            dev.lock().replug();
            dev.lock().clear_faults();
            // Gone is fine only once every object is on the device and was verified.
            let all_verified = restored == 20 && ran.stdout.contains("Verified 20 objects");
            if (login_gone && !all_verified) || !can_log_in(&fx, &dev) {
                t.lockouts += 1;
                problem(
                    &mut t,
                    format!("lockout: login key gone {login_gone}, {restored} restored"),
                );
                continue;
            }
            if succeeded {
                if !login_gone || restored != 20 {
                    t.second_run_failures += 1;
                    problem(
                        &mut t,
                        format!(
                            "succeeded with {restored} restored, login key kept {}",
                            !login_gone
                        ),
                    );
                }
                continue;
            }
            // Not finished: the same restore again, without faults, finishes the job.
            let again = restore_on(&fx, &dev, None);
            let finished = again.exit == 0
                && check_device(&fx, &dev) == Ok(20)
                && !has_login_key(&dev)
                && again.stdout.contains("Verified 20 objects");
            if !finished {
                t.second_run_failures += 1;
                problem(
                    &mut t,
                    format!("second run: exit {}\n{}{}", again.exit, again.stdout, again.stderr),
                );
            }
        }
    }

    let mut report = String::new();
    writeln!(
        report,
        "fault matrix: 20-object backup, {} exchanges in a fault-free restore",
        exchanges.len()
    )
    .unwrap();
    writeln!(report, "faults tried:           {}", t.tried).unwrap();
    writeln!(report, "runs recovered (exit 0): {}", t.recovered).unwrap();
    writeln!(report, "runs failed cleanly:    {}", t.failed_cleanly).unwrap();
    writeln!(report, "failed, step not named: {}", t.unnamed).unwrap();
    writeln!(report, "objects lost or wrong:  {}", t.objects_wrong).unwrap();
    writeln!(report, "lockouts:               {}", t.lockouts).unwrap();
    writeln!(report, "second-run failures:    {}", t.second_run_failures).unwrap();
    writeln!(report, "panics:                 {}", t.panics).unwrap();
    fault::write_by_kind(&mut report, "by kind (tried / recovered / failed cleanly):", &t.by_kind);
    fault::print_end(&mut report, started.elapsed(), &t.problems);
    // The file has the details too: every exchange, and how each failed run ended.
    writeln!(report, "\nexchanges of the fault-free run, and what a failure there must name:")
        .unwrap();
    for (i, e) in exchanges.iter().enumerate() {
        writeln!(report, "  {i:>3} {:<22} {}", e.command, e.step.as_deref().unwrap_or("-"))
            .unwrap();
    }
    writeln!(report, "\nruns that failed cleanly:").unwrap();
    for f in &t.failures {
        writeln!(report, "  {f}").unwrap();
    }
    let target = fault::target_file("fault-matrix.txt");
    fs::write(&target, &report).unwrap();
    println!("details in {}", target.display());
    let _ = fs::remove_dir_all(&fx.dir);

    // Every run is counted once, as recovered, failed cleanly or unnamed (a problem): what
    // can fail is that the faults both let some runs through and stop others.
    if only.is_none() {
        assert!(
            t.recovered > 0 && t.failed_cleanly > 0,
            "the faults both stop and do not stop runs"
        );
    }
    assert!(t.problems.is_empty(), "{} problems, see above", t.problems.len());
}
