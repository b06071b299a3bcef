//! `yhsm clone` between two simulators held by the test (issue 11): the fault matrix, and
//! the refusals whose point is what is *not* written.
//!
//! The fault matrix, as `fault_matrix.rs` does for restore: a fault-free clone gives the
//! exchanges with each device (from `--trace FILE` for the source and `FILE.to` for the
//! target); then, for every exchange of either device and every fault kind, a fresh pair
//! of devices, the fault armed once at that exchange, one clone, a look at both devices,
//! and, unless that clone finished, the same clone again without faults. Two modes:
//!
//! - `shares`: a factory target, the wrap key's shares given: the clone stores the wrap
//!   key, imports 7 objects (two authentication keys among them) and proves each;
//! - `no-shares`: a target that holds the wrap key, no shares: the first import proves the
//!   key; the source's objects are its login key and 5 others (no other authentication
//!   key: one left on the target by an interrupted run could not be proven without the
//!   shares, cli/README.md "yhsm clone");
//! - `wrap-data`: the same, with wrap keys that can wrap-data and unwrap-data, compared
//!   before any import.
//!
//! After each run: no panic; a run that failed printed an error naming the device the
//! fault was on (`on the source, URL` or `on the target, URL`); nothing on the source
//! changed; every object on the target is the source's, byte for byte (body and
//! attributes), and nothing else is there; someone can still log in to the target; after
//! the rerun, every exportable object of the source is on the target and verified.
//!
//! The totals are printed (`--nocapture`), written to `target/fault-matrix-clone-MODE.txt`
//! and recorded in `tests/RELIABILITY.md`. The default run tries two fault kinds at every
//! exchange, in turn; `YHSM_FAULT_FULL=1` (as `.ci/run` does) all eleven of the restore
//! matrix at every exchange:
//!
//! ```text
//! YHSM_FAULT_FULL=1 cargo test -p yhsm --test fault_matrix_clone -- --nocapture
//! ```
//!
//! `YHSM_FAULT_ONLY=TEXT` runs only the faults whose label contains TEXT;
//! `YHSM_FAULT_SHOW=1` prints each run's output.

#![cfg(feature = "sim")]
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

use yhsm::backup::clone::{self, Args};
use yhsm::backup::restore::Event;
use yhsm::options::GlobalOptions;
use yhsm::util::password::PasswordOptions;
use yhsm::util::prompt::ScriptedPrompter;
use yhsm_proto::command::{
    AuthenticationKey, ObjectHeader, PutAsymmetricKey, PutAuthenticationKey, PutHmacKey, PutOpaque,
    PutWrapKey,
};
use yhsm_proto::wrap::{Body, Encoding};
use yhsm_proto::{Algorithm, Capabilities, Domains, Label, ObjectId, ObjectType, SecretBytes};
use yhsm_proto::{StaticKeys, wrap};
use yhsm_sim::{Action, Fault, SharedDevice, Trigger};
use yhsm_transport::sim::SimTransport;
use yhsm_transport::{Client, Credentials};

mod support;
use support::fault::{self, device};

/// The wrap key (`vectors/README.md`'s AES-256 key: 00 01 … 1f), id 2; its shares.
fn wrap_key() -> [u8; 32] {
    std::array::from_fn(|i| u8::try_from(i).unwrap())
}
const WRAP_ID: ObjectId = 2;
const SHARES: &str = "2-1-lkaGwjNdc/we4wfgvpl/qIr5n8lZBZuKhfrvrHFh/2vXR/KJfaN1TbDQ94/w7Vz7foUH2Q\n\
    2-2-MYoRmma65uU8217dfTPiURXzP5OyCS0MG+bJTPrZ/cunmeseymjcr0GCyTrV7JbG2DAsjg\n";
const PASSWORD: &[u8] = b"password";
const APP_PASSWORD: &[u8] = b"app-password";
const AUTH: ObjectType = ObjectType::AUTHENTICATION_KEY;

fn client(dev: &SharedDevice) -> Client {
    let mut c = Client::with_transport(Box::new(SimTransport::from_shared(dev.clone()))).unwrap();
    c.authenticate(Credentials::password(1, PASSWORD)).unwrap();
    c
}

fn header(id: ObjectId, label: &str, caps: Capabilities, algorithm: Algorithm) -> ObjectHeader {
    ObjectHeader {
        id,
        label: Label::from_bytes(label.as_bytes()).unwrap(),
        domains: Domains(1),
        capabilities: caps,
        algorithm,
    }
}

fn put_wrap_key(dev: &SharedDevice, key: &[u8]) {
    put_wrap_key_with(dev, key, Capabilities::NONE);
}

/// The wrap key with capabilities `extra` besides export-wrapped and import-wrapped.
fn put_wrap_key_with(dev: &SharedDevice, key: &[u8], extra: Capabilities) {
    client(dev)
        .put_wrap_key(&PutWrapKey {
            header: header(
                WRAP_ID,
                "Wrap key",
                Capabilities::EXPORT_WRAPPED | Capabilities::IMPORT_WRAPPED | extra,
                Algorithm::AES256_CCM_WRAP,
            ),
            delegated: Capabilities::ALL,
            key: SecretBytes::from_slice(key),
        })
        .unwrap();
}

/// The source: the factory key 1, the wrap key, an authentication key 3 (when
/// `app_key`), P-256 and ed25519 keys, opaque data, an HMAC key, all exportable, and a
/// P-256 key 0x30 that is not.
fn source(app_key: bool, extra: Capabilities) -> SharedDevice {
    let dev = device();
    put_wrap_key_with(&dev, &wrap_key(), extra);
    let mut c = client(&dev);
    let export = Capabilities::EXPORTABLE_UNDER_WRAP;
    if app_key {
        let keys = StaticKeys::from_password(APP_PASSWORD);
        c.put_authentication_key(&PutAuthenticationKey::new(
            3,
            Label::from_bytes(b"Application auth key").unwrap(),
            Domains(1),
            Capabilities::SIGN_ECDSA | export,
            Capabilities::SIGN_ECDSA,
            AuthenticationKey::Symmetric { enc: keys.enc.clone(), mac: keys.mac.clone() },
        ))
        .unwrap();
    }
    let ec = Capabilities::SIGN_ECDSA | export;
    c.put_asymmetric_key(&PutAsymmetricKey {
        header: header(0x10, "p256", ec, Algorithm::ECP256),
        key: SecretBytes::from_slice(&[0x07; 32]),
    })
    .unwrap();
    c.put_asymmetric_key(&PutAsymmetricKey {
        header: header(0x11, "ed25519", Capabilities::SIGN_EDDSA | export, Algorithm::ED25519),
        key: SecretBytes::from_slice(&[0x42; 32]),
    })
    .unwrap();
    c.put_opaque(&PutOpaque {
        header: header(0x20, "notes", Capabilities::GET_OPAQUE | export, Algorithm::OPAQUE_DATA),
        data: b"copied byte for byte".to_vec(),
    })
    .unwrap();
    c.send(&PutHmacKey {
        header: header(0x40, "hmac", Capabilities::SIGN_HMAC | export, Algorithm::HMAC_SHA256),
        key: SecretBytes::from_slice(&[0x33; 32]),
    })
    .unwrap();
    c.put_asymmetric_key(&PutAsymmetricKey {
        header: header(0x30, "kept inside", Capabilities::SIGN_ECDSA, Algorithm::ECP256),
        key: SecretBytes::from_slice(&[0x09; 32]),
    })
    .unwrap();
    dev
}

/// Every object of `dev` with what makes it that object (not its sequence or origin). An
/// ed25519 key is its expanded key: an export in format 0 carries no seed (docs/PROTOCOL.md
/// §5.4), so the copy holds the same key without it, as a real device's would.
fn snapshot(dev: &SharedDevice) -> BTreeMap<(ObjectId, ObjectType), String> {
    dev.lock()
        .store()
        .iter()
        .map(|o| {
            let body = match &o.body {
                Body::Ed25519 { scalar, prefix, public, .. } => format!(
                    "ed25519 {} {} {}",
                    hex::encode(scalar.expose_secret()),
                    hex::encode(prefix.expose_secret()),
                    hex::encode(public)
                ),
                other => format!("{other:?}"),
            };
            let what = format!(
                "{} {} {:?} {} {} {body}",
                o.algorithm, o.label, o.domains, o.capabilities, o.delegated
            );
            ((o.id, o.object_type), what)
        })
        .collect()
}

/// The source's objects that a clone copies: exportable, not the wrap key.
fn copied(source: &BTreeMap<(ObjectId, ObjectType), String>) -> Vec<(ObjectId, ObjectType)> {
    source
        .keys()
        .copied()
        .filter(|&(id, t)| !(id == WRAP_ID && t == ObjectType::WRAP_KEY) && id != 0x30)
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Shares,
    NoShares,
    /// No shares, and wrap keys that can wrap-data and unwrap-data: compared before any
    /// import.
    WrapData,
}

struct Fixture {
    dir: PathBuf,
    mode: Mode,
}

impl Fixture {
    fn new(name: &str, mode: Mode) -> Self {
        let dir = std::env::temp_dir()
            .join(format!("yhsm-fault-matrix-clone-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("password.txt"), b"password\n").unwrap();
        fs::write(dir.join("shares.txt"), SHARES).unwrap();
        Self { dir, mode }
    }

    /// A fresh pair: the source, and the target (factory, or holding the wrap key).
    fn devices(&self) -> (SharedDevice, SharedDevice) {
        let target = device();
        let extra = if self.mode == Mode::WrapData {
            Capabilities::WRAP_DATA | Capabilities::UNWRAP_DATA
        } else {
            Capabilities::NONE
        };
        if self.mode != Mode::Shares {
            put_wrap_key_with(&target, &wrap_key(), extra);
        }
        (source(self.mode == Mode::Shares, extra), target)
    }
}

/// What a user would have seen of one `yhsm clone`.
#[derive(Debug, Default)]
struct Ran {
    exit: u8,
    stdout: String,
    stderr: String,
    panicked: bool,
}

#[derive(Default)]
struct Extra {
    trace: Option<PathBuf>,
    dump: Option<PathBuf>,
    dry_run: bool,
}

/// `yhsm -c sim:a --password-file … clone --to sim:b --wrap-key-id 2 [--shares-file …]`,
/// as the binary runs it: `clone::command_with`, events rendered by `restore::render`.
fn clone_on(fx: &Fixture, a: &SharedDevice, b: &SharedDevice, extra: Extra) -> Ran {
    let global = GlobalOptions {
        connector: "sim:a".parse().unwrap(),
        password: PasswordOptions { file: Some(fx.dir.join("password.txt")), argument: None },
        trace: extra.trace,
        ..GlobalOptions::default()
    };
    let args = Args {
        to: "sim:b".parse().unwrap(),
        to_authkey: None,
        to_password_file: None,
        wrap_key_id: WRAP_ID,
        shares_files: match fx.mode {
            Mode::Shares => vec![fx.dir.join("shares.txt")],
            Mode::NoShares | Mode::WrapData => vec![],
        },
        dump: extra.dump,
        encoding: Encoding::Base64,
        keep_authkey: false,
        dry_run: extra.dry_run,
        json: false,
    };
    let mut ran = Ran::default();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut prompter = ScriptedPrompter::new::<&str>(&[]);
        let mut open = |url: &yhsm_transport::ConnectorUrl| -> Result<
            Box<dyn yhsm_transport::Transport>,
            yhsm_transport::TransportError,
        > {
            let dev = if url.to_string() == "sim:a" { a } else { b };
            Ok(Box::new(SimTransport::from_shared(dev.clone())))
        };
        let mut sink = |event: &Event| {
            fault::render(event, &mut ran.stdout, &mut ran.stderr);
        };
        clone::command_with(&global, &args, &mut prompter, None, &mut open, &mut sink)
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

/// Every object on the target is the source's (or the target's own factory key, which
/// the source's equals), and nothing else; `Ok(n)`: how many of the copied objects are
/// there.
fn check_target(
    source: &BTreeMap<(ObjectId, ObjectType), String>,
    target: &SharedDevice,
) -> Result<usize, Vec<String>> {
    let copied = copied(source);
    let mut wrong = Vec::new();
    let mut present = 0;
    for (at, what) in snapshot(target) {
        match source.get(&at) {
            Some(theirs) if *theirs == what => {
                if copied.contains(&at) {
                    present += 1;
                }
            }
            Some(_) => wrong.push(format!("{} 0x{:04x} differs from the source's", at.1, at.0)),
            None => wrong.push(format!("{} 0x{:04x} is not the source's", at.1, at.0)),
        }
    }
    if wrong.is_empty() { Ok(present) } else { Err(wrong) }
}

fn can_log_in(dev: &SharedDevice) -> bool {
    [(1, PASSWORD), (3, APP_PASSWORD)].into_iter().any(|(id, password)| {
        let Ok(mut c) = Client::with_transport(Box::new(SimTransport::from_shared(dev.clone())))
        else {
            return false;
        };
        c.authenticate(Credentials::password(id, password)).is_ok()
    })
}

/// One exchange of the fault-free run: its device, command and response length.
#[derive(Clone, Debug)]
struct Exchange {
    device: &'static str,
    index: usize,
    command: String,
    response_len: usize,
}

fn read_trace(path: &Path, device: &'static str) -> Vec<Exchange> {
    let text = fs::read_to_string(path).unwrap();
    text.lines()
        .enumerate()
        .map(|(index, l)| {
            let r: serde_json::Value = serde_json::from_str(l).unwrap();
            Exchange {
                device,
                index,
                command: r["command"].as_str().unwrap().to_owned(),
                response_len: r["response"].as_str().map_or(0, |h| h.len() / 2),
            }
        })
        .collect()
}

/// The fault kinds for one exchange, as the restore matrix has them: all eleven with
/// `YHSM_FAULT_FULL=1` (`.ci/run`); by default two, in turn, so that every exchange gets
/// a fault and every kind is tried along the run, in a few seconds.
fn kinds(exchange: &Exchange, turn: usize) -> Vec<(String, Action)> {
    let all = all_kinds(exchange);
    if std::env::var_os("YHSM_FAULT_FULL").is_some() {
        return all;
    }
    let n = all.len();
    all.into_iter()
        .enumerate()
        .filter(|(i, _)| *i == turn % n || *i == (turn + n / 2) % n)
        .map(|(_, k)| k)
        .collect()
}

fn all_kinds(exchange: &Exchange) -> Vec<(String, Action)> {
    let not_found = ["get-object-info", "get-public-key", "export-wrapped"];
    fault::kinds(&exchange.command, exchange.response_len, &not_found)
}

#[derive(Debug, Default)]
struct Totals {
    tried: usize,
    recovered: usize,
    failed_with_error: usize,
    silent_failures: usize,
    source_changed: usize,
    objects_wrong: usize,
    lockouts: usize,
    second_run_failures: usize,
    panics: usize,
    by_device: BTreeMap<&'static str, (usize, usize)>,
    problems: Vec<String>,
    /// The error line of each run that failed.
    failures: Vec<String>,
}

fn matrix(mode: Mode, name: &str) -> String {
    let started = Instant::now();
    let fx = Fixture::new(name, mode);
    let (a, b) = fx.devices();
    // The fixtures' own exchanges come first.
    let (a_base, b_base) = (a.lock().exchanges(), b.lock().exchanges());
    let source_before = snapshot(&a);
    let trace = fx.dir.join("baseline.trace");
    let ran = clone_on(&fx, &a, &b, Extra { trace: Some(trace.clone()), ..Extra::default() });
    assert_eq!(ran.exit, 0, "{}\n{}", ran.stdout, ran.stderr);
    let want = copied(&source_before).len();
    assert_eq!(check_target(&source_before, &b), Ok(want));
    let mut exchanges = read_trace(&trace, "source");
    exchanges.extend(read_trace(&fx.dir.join("baseline.trace.to"), "target"));
    let traced = |device| exchanges.iter().filter(|e| e.device == device).count() as u64;
    assert_eq!(traced("source"), a.lock().exchanges() - a_base, "one line per exchange");
    assert_eq!(traced("target"), b.lock().exchanges() - b_base, "one line per exchange");

    let mut t = Totals::default();
    let only = std::env::var("YHSM_FAULT_ONLY").ok();
    for (turn, exchange) in exchanges.iter().enumerate() {
        for (kind, action) in kinds(exchange, turn) {
            let label = format!(
                "{} exchange {} ({}), {kind}",
                exchange.device, exchange.index, exchange.command
            );
            if only.as_deref().is_some_and(|o| !label.contains(o)) {
                continue;
            }
            t.tried += 1;
            t.by_device.entry(exchange.device).or_default().0 += 1;
            let (a, b) = fx.devices();
            let faulty = if exchange.device == "source" { &a } else { &b };
            let base = faulty.lock().exchanges();
            let at = Trigger::Exchange(base + exchange.index as u64);
            faulty.lock().add_fault(Fault::once(at, action));
            let ran = clone_on(&fx, &a, &b, Extra::default());
            if std::env::var_os("YHSM_FAULT_SHOW").is_some() {
                println!("=== {label}: exit {}\n{}{}", ran.exit, ran.stdout, ran.stderr);
            }
            let problem = |t: &mut Totals, what: String| {
                t.problems.push(format!(
                    "{label}: {what}\n--- stdout\n{}--- stderr\n{}",
                    ran.stdout, ran.stderr
                ));
            };
            if ran.panicked {
                t.panics += 1;
                problem(&mut t, "panicked".to_owned());
            }
            for secret in [&hex::encode(wrap_key())[..], "app-password"] {
                if ran.stdout.contains(secret) || ran.stderr.contains(secret) {
                    problem(&mut t, "a secret in the output".to_owned());
                }
            }
            if ran.exit == 0 {
                t.recovered += 1;
                t.by_device.get_mut(exchange.device).unwrap().1 += 1;
            } else {
                // The error names the device the fault was on.
                let place = format!(
                    "yhsm: error: on the {}, sim:{}",
                    exchange.device,
                    if exchange.device == "source" { "a" } else { "b" }
                );
                match ran.stderr.lines().find(|l| l.starts_with("yhsm: error: ")) {
                    Some(line) if line.starts_with(&place) => {
                        t.failed_with_error += 1;
                        t.failures.push(format!("{label}: {line}"));
                    }
                    _ => {
                        t.silent_failures += 1;
                        problem(
                            &mut t,
                            format!("failed without an error naming the {}", exchange.device),
                        );
                    }
                }
            }
            a.lock().replug();
            a.lock().clear_faults();
            b.lock().replug();
            b.lock().clear_faults();
            if snapshot(&a) != source_before {
                t.source_changed += 1;
                problem(&mut t, "the source changed".to_owned());
            }
            let present = match check_target(&source_before, &b) {
                Ok(n) => n,
                Err(wrong) => {
                    t.objects_wrong += wrong.len();
                    problem(&mut t, format!("wrong objects on the target: {wrong:?}"));
                    0
                }
            };
            if !can_log_in(&b) {
                t.lockouts += 1;
                problem(&mut t, "nobody can log in to the target".to_owned());
                continue;
            }
            if ran.exit == 0 {
                if present != want {
                    t.second_run_failures += 1;
                    problem(&mut t, format!("succeeded with {present} of {want} copied"));
                }
                continue;
            }
            let again = clone_on(&fx, &a, &b, Extra::default());
            let finished =
                again.exit == 0 && check_target(&source_before, &b) == Ok(want) && can_log_in(&b);
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
    let (source_n, target_n) = (
        exchanges.iter().filter(|e| e.device == "source").count(),
        exchanges.iter().filter(|e| e.device == "target").count(),
    );
    writeln!(
        report,
        "clone fault matrix ({name}): {want} objects copied; {source_n} exchanges with the \
         source and {target_n} with the target in a fault-free clone"
    )
    .unwrap();
    writeln!(report, "faults tried:            {}", t.tried).unwrap();
    for (device, (tried, recovered)) in &t.by_device {
        writeln!(report, "  on the {device}: {tried} tried, {recovered} recovered in the run")
            .unwrap();
    }
    writeln!(report, "runs recovered (exit 0): {}", t.recovered).unwrap();
    writeln!(report, "runs failed, naming the device: {}", t.failed_with_error).unwrap();
    writeln!(report, "failed, device not named: {}", t.silent_failures).unwrap();
    writeln!(report, "source changed:          {}", t.source_changed).unwrap();
    writeln!(report, "objects lost or wrong:   {}", t.objects_wrong).unwrap();
    writeln!(report, "lockouts:                {}", t.lockouts).unwrap();
    writeln!(report, "second-run failures:     {}", t.second_run_failures).unwrap();
    writeln!(report, "panics:                  {}", t.panics).unwrap();
    fault::print_end(&mut report, started.elapsed(), &t.problems);
    writeln!(report, "\nruns that failed:").unwrap();
    for f in &t.failures {
        writeln!(report, "  {f}").unwrap();
    }
    let _ = fs::remove_dir_all(&fx.dir);
    // Every run is counted once (recovered, failed naming the device, or a problem): what
    // can fail is that the faults both let some runs through and stop others.
    if only.is_none() {
        assert!(
            t.recovered > 0 && t.failed_with_error > 0,
            "the faults both stop and do not stop runs"
        );
    }
    assert!(t.problems.is_empty(), "{} problems, see above", t.problems.len());
    report
}

fn write_totals(name: &str, report: &str) {
    fs::write(fault::target_file(&format!("fault-matrix-clone-{name}.txt")), report).unwrap();
}

#[test]
fn every_fault_on_either_device_ends_cloned_or_resumable_with_the_shares() {
    write_totals("shares", &matrix(Mode::Shares, "shares"));
}

#[test]
fn every_fault_on_either_device_ends_cloned_or_resumable_without_the_shares() {
    write_totals("no-shares", &matrix(Mode::NoShares, "no-shares"));
}

#[test]
fn every_fault_on_either_device_ends_cloned_or_resumable_with_wrap_data() {
    write_totals("wrap-data", &matrix(Mode::WrapData, "wrap-data"));
}

#[test]
fn a_target_under_another_wrap_key_is_refused_and_nothing_is_written() {
    let fx = Fixture::new("differs", Mode::NoShares);
    let a = source(true, Capabilities::NONE);
    let b = device();
    put_wrap_key(&b, &[0x5a; 32]);
    let (source_before, target_before) = (snapshot(&a), snapshot(&b));
    let ran = clone_on(&fx, &a, &b, Extra::default());
    assert_eq!(ran.exit, 1, "{}", ran.stdout);
    assert!(
        ran.stderr.contains(
            "yhsm: error: wrap key 0x0002 on the target, sim:b, is not wrap key 0x0002 of the \
             source, sim:a"
        ),
        "{}",
        ran.stderr
    );
    assert_eq!(snapshot(&b), target_before, "nothing written to the target");
    assert_eq!(snapshot(&a), source_before, "nothing written to the source");
    // Only one object was offered to the target, twice (the second to rule out a garbled
    // exchange): the run stopped there.
    assert_eq!(ran.stdout.matches("Failed to import").count(), 1, "{}", ran.stdout);

    // With the shares of the source's key, the target's other key is refused the same way.
    let fx = Fixture::new("differs-shares", Mode::Shares);
    let ran = clone_on(&fx, &a, &b, Extra::default());
    assert_eq!(ran.exit, 1);
    assert!(ran.stderr.contains("is not wrap key 0x0002 of the source"), "{}", ran.stderr);
    assert_eq!(snapshot(&b), target_before);
}

#[test]
fn shares_of_another_key_stop_before_the_target_is_opened() {
    let fx = Fixture::new("other-shares", Mode::Shares);
    let a = device();
    put_wrap_key(&a, &[0x5a; 32]);
    client(&a)
        .put_opaque(&PutOpaque {
            header: header(
                0x20,
                "notes",
                Capabilities::EXPORTABLE_UNDER_WRAP,
                Algorithm::OPAQUE_DATA,
            ),
            data: b"x".to_vec(),
        })
        .unwrap();
    let b = device();
    let ran = clone_on(&fx, &a, &b, Extra::default());
    assert_eq!(ran.exit, 1);
    assert!(ran.stderr.contains("is not the key of the shares"), "{}", ran.stderr);
    assert_eq!(b.lock().exchanges(), 0, "the target was never opened");
}

#[test]
fn objects_that_are_not_exportable_are_reported_by_id_and_type() {
    let fx = Fixture::new("not-exportable", Mode::NoShares);
    let (a, b) = fx.devices();
    let ran = clone_on(&fx, &a, &b, Extra::default());
    assert_eq!(ran.exit, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains(
        "Not copied: asymmetric-key 0x0030: it does not have the exportable-under-wrap capability"
    ));
    assert!(b.lock().store().get(0x30, ObjectType::ASYMMETRIC_KEY).is_none());
    // The target's login key is kept without the shares.
    assert!(b.lock().store().get(1, AUTH).is_some());
}

#[test]
fn dump_writes_what_yhsm_dump_writes_and_a_dry_run_writes_nothing() {
    let fx = Fixture::new("dump", Mode::Shares);
    let (a, b) = fx.devices();
    let out = fx.dir.join("out");
    let ran =
        clone_on(&fx, &a, &b, Extra { dump: Some(out.clone()), dry_run: true, ..Extra::default() });
    assert_eq!(ran.exit, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(!out.exists(), "a dry run writes no file");
    assert!(snapshot(&b).is_empty() || snapshot(&b).keys().all(|&(id, t)| (id, t) == (1, AUTH)));

    let ran = clone_on(&fx, &a, &b, Extra { dump: Some(out.clone()), ..Extra::default() });
    assert_eq!(ran.exit, 0, "{}\n{}", ran.stdout, ran.stderr);
    let mut names: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "0x0001-authentication-key.yhw",
            "0x0002-wrap-key.description",
            "0x0003-authentication-key.yhw",
            "0x0010-asymmetric-key.yhw",
            "0x0011-asymmetric-key.yhw",
            "0x0020-opaque.yhw",
            "0x0040-hmac-key.yhw",
        ]
    );
    // Each file is the object, under the wrap key: base64 text as yubihsm-setup writes.
    let key = wrap::WrapKey::new(&wrap_key()).unwrap();
    let text = fs::read(out.join("0x0020-opaque.yhw")).unwrap();
    let object = wrap::unwrap(&key, &wrap::decode_text(&text).unwrap()).unwrap();
    assert_eq!(object.body.to_bytes().as_slice(), b"copied byte for byte");
    // What `yhsm dump` writes for the wrap key's description.
    let described = fs::read_to_string(out.join("0x0002-wrap-key.description")).unwrap();
    assert!(described.contains("aes256-ccm-wrap"), "{described}");
}

#[test]
fn planted_objects_on_the_target_are_told_apart_from_the_source_without_the_shares() {
    let fx = Fixture::new("planted", Mode::NoShares);
    let (a, b) = fx.devices();
    // The target already holds objects with the source's ids, types and attributes but
    // other content: opaque data, and an HMAC key.
    let export = Capabilities::EXPORTABLE_UNDER_WRAP;
    let mut c = client(&b);
    c.put_opaque(&PutOpaque {
        header: header(0x20, "notes", Capabilities::GET_OPAQUE | export, Algorithm::OPAQUE_DATA),
        data: b"planted, not the source's".to_vec(),
    })
    .unwrap();
    c.send(&PutHmacKey {
        header: header(0x40, "hmac", Capabilities::SIGN_HMAC | export, Algorithm::HMAC_SHA256),
        key: SecretBytes::from_slice(&[0x34; 32]),
    })
    .unwrap();
    drop(c);
    let planted = snapshot(&b);
    let ran = clone_on(&fx, &a, &b, Extra::default());
    assert_eq!(ran.exit, 1, "{}\n{}", ran.stdout, ran.stderr);
    for line in [
        "Verification failed for object opaque with ID 0x0020 (0x0020-opaque.yhw)",
        "Verification failed for object hmac-key with ID 0x0040 (0x0040-hmac-key.yhw)",
    ] {
        assert!(ran.stdout.contains(line), "{line}\n{}", ran.stdout);
    }
    // Left as they are, and the login key kept.
    for at in [(0x20, ObjectType::OPAQUE), (0x40, ObjectType::HMAC_KEY)] {
        assert_eq!(snapshot(&b).get(&at), planted.get(&at));
    }
    assert!(b.lock().store().get(1, AUTH).is_some());
}

#[test]
fn wrap_keys_that_can_wrap_data_are_compared_before_anything_is_written() {
    let data = Capabilities::WRAP_DATA | Capabilities::UNWRAP_DATA;
    let source = || {
        let a = device();
        put_wrap_key_with(&a, &wrap_key(), data);
        client(&a)
            .put_opaque(&PutOpaque {
                header: header(
                    0x20,
                    "notes",
                    Capabilities::GET_OPAQUE | Capabilities::EXPORTABLE_UNDER_WRAP,
                    Algorithm::OPAQUE_DATA,
                ),
                data: b"copied byte for byte".to_vec(),
            })
            .unwrap();
        a
    };
    let fx = Fixture::new("wrap-data", Mode::NoShares);

    // The same key: proven in a dry run already, and the clone needs no import to tell.
    let (a, b) = (source(), device());
    put_wrap_key_with(&b, &wrap_key(), data);
    let before = snapshot(&b);
    let ran = clone_on(&fx, &a, &b, Extra { dry_run: true, ..Extra::default() });
    assert_eq!(ran.exit, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("Wrap key 0x0002 is the same on both devices"), "{}", ran.stdout);
    assert_eq!(snapshot(&b), before, "a dry run writes nothing");
    let ran = clone_on(&fx, &a, &b, Extra::default());
    assert_eq!(ran.exit, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(b.lock().store().get(0x20, ObjectType::OPAQUE).is_some());

    // Another key: refused before any import, in a dry run too; nothing written.
    for dry_run in [true, false] {
        let (a, b) = (source(), device());
        put_wrap_key_with(&b, &[0x5a; 32], data);
        let (source_before, before) = (snapshot(&a), snapshot(&b));
        let ran = clone_on(&fx, &a, &b, Extra { dry_run, ..Extra::default() });
        assert_eq!(ran.exit, 1, "{}", ran.stdout);
        assert!(
            ran.stderr.contains(
                "wrap key 0x0002 on the target, sim:b, is not wrap key 0x0002 of the source, \
                 sim:a: data wrapped by the source (wrap-data) does not unwrap on the target"
            ),
            "{}",
            ran.stderr
        );
        assert!(!ran.stdout.contains("import"), "{}", ran.stdout);
        assert_eq!(snapshot(&b), before);
        assert_eq!(snapshot(&a), source_before);
    }
}
