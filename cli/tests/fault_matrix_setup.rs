//! The fault matrix of `yhsm setup` (issue 11), modelled on the restore's
//! (`fault_matrix.rs`): a fault-free `yhsm setup --profile ksp --audit` onto the simulator
//! is traced, then the same setup runs once for every exchange × every fault kind, each
//! failed run followed by `yhsm setup --resume` without faults.
//!
//! Each run goes through `setup::command_with`, the function behind `yhsm setup`; the
//! shares go to `--shares-dir`, the passwords come from files. Fault kinds, each armed
//! with `Fault::once(Trigger::Exchange(i), ...)`: `lost` (the device acts, the answer is
//! lost), `corrupt-code`, `corrupt-middle`, `corrupt-last` (one response byte flipped),
//! `error-<code>` (storage-failed, insufficient-permissions, invalid-data, and one typical
//! of the command), `expired` (the session expires just before the request), `unplugged`
//! (until the test plugs the device back in for the second run).
//!
//! After each run:
//!
//! - no panic; a failure is a `yhsm: error:` line;
//! - **no lockout**: someone can log in (the login key, or a new key with its password),
//!   and the login key is gone only if every new key opens a session with its password;
//! - **no silent shares**: when share files were handed out and the run failed, the error
//!   names the wrap key's key check value and says to finish with `--resume` (and whether
//!   the key is on the device);
//! - a failed run is followed by `--resume` without faults (and without `--audit`: the
//!   plan recorded in the description keeps the audit key), which must finish: the wrap
//!   key on the device is the one any two of the handed-out shares give (the check value
//!   recorded in the description), both keys log in, the login key is gone, and the `.yhw`
//!   files open under the shares' key.
//!
//! The totals are printed (`--nocapture`), written to `target/fault-matrix-setup.txt` and
//! recorded in `tests/RELIABILITY.md`:
//!
//! ```text
//! cargo test -p yhsm --test fault_matrix_setup -- --nocapture
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
use std::path::PathBuf;
use std::time::Instant;

use yhsm::backup::description::Description;
use yhsm::backup::setup::{self, Args, Line};
use yhsm::options::GlobalOptions;
use yhsm::util::password::{NewPassword, PasswordOptions};
use yhsm::util::prompt::ScriptedPrompter;
use yhsm_proto::shares::{Share, combine};
use yhsm_proto::wrap::{self, WrapKey};
use yhsm_proto::{ObjectType, StaticKeys};
use yhsm_sim::{Fault, SharedDevice, Trigger};
use yhsm_transport::sim::SimTransport;
use yhsm_transport::{Client, Credentials};

mod support;
use support::fault::{self, device};

const AUTH: ObjectType = ObjectType::AUTHENTICATION_KEY;
/// Who can log in after a setup, and with what.
const KEYS: [(u16, &str); 3] = [(1, "password"), (3, "app-secret"), (4, "audit-secret")];

struct Fx {
    dir: PathBuf,
}

impl Fx {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("yhsm-fault-setup-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        for (name, text) in
            [("pw", "password\n"), ("app", "app-secret\n"), ("audit", "audit-secret\n")]
        {
            fs::write(dir.join(name), text).unwrap();
        }
        Self { dir }
    }
    fn backup(&self) -> PathBuf {
        self.dir.join("backup")
    }
    fn shares(&self) -> PathBuf {
        self.dir.join("shares")
    }
    fn clean(&self) {
        let _ = fs::remove_dir_all(self.backup());
        let _ = fs::remove_dir_all(self.shares());
    }
    fn args(&self, resume: bool) -> Args {
        Args {
            dir: self.backup(),
            shares_dir: Some(self.shares()),
            app_password: NewPassword::File(self.dir.join("app")),
            audit_password: NewPassword::File(self.dir.join("audit")),
            // A resume leaves out --audit: the plan recorded in the description keeps the
            // audit key (when the run got as far as writing it).
            audit: if resume { None } else { Some(true) },
            resume,
            ..Args::default()
        }
    }
    /// The share files handed out.
    fn share_files(&self) -> Vec<PathBuf> {
        (1..=3)
            .map(|i| self.shares().join(setup::share_file_name(2, i)))
            .filter(|p| p.exists())
            .collect()
    }
}

#[derive(Debug, Default)]
struct Ran {
    exit: u8,
    stdout: String,
    stderr: String,
    panicked: bool,
}

fn setup_on(fx: &Fx, dev: &SharedDevice, resume: bool, trace: Option<PathBuf>) -> Ran {
    let global = GlobalOptions {
        connector: "sim:".parse().unwrap(),
        authkey: 1,
        password: PasswordOptions { file: Some(fx.dir.join("pw")), argument: None },
        trace,
        ..GlobalOptions::default()
    };
    let args = fx.args(resume);
    let mut ran = Ran::default();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut prompter = ScriptedPrompter::new::<&str>(&[]);
        let mut open = |_: &_| -> Result<Box<dyn yhsm_transport::Transport>, _> {
            Ok(Box::new(SimTransport::from_shared(dev.clone())))
        };
        let mut sink = |line: Line| match line {
            Line::Out(t) => writeln!(ran.stdout, "{t}").unwrap(),
            Line::Warning(t) => writeln!(ran.stderr, "yhsm: warning: {t}").unwrap(),
        };
        setup::command_with(&global, &args, false, &mut prompter, None, &mut open, &mut sink)
    }));
    match fault::ended(outcome, &mut ran.stderr, &mut ran.panicked) {
        Err(exit) => ran.exit = exit,
        Ok(report) => ran.stdout.push_str(&report.render()),
    }
    ran
}

/// Whether key `id` opens a session with `password` (its keys derived once: the
/// derivation is most of a debug build's time).
fn logs_in(dev: &SharedDevice, id: u16, password: &str) -> bool {
    static DERIVED: std::sync::OnceLock<Vec<(u16, StaticKeys)>> = std::sync::OnceLock::new();
    let derived = DERIVED.get_or_init(|| {
        KEYS.iter().map(|(id, pw)| (*id, StaticKeys::from_password(pw.as_bytes()))).collect()
    });
    let keys = match derived.iter().find(|(i, _)| *i == id) {
        Some((_, keys)) if KEYS.contains(&(id, password)) => keys.clone(),
        _ => StaticKeys::from_password(password.as_bytes()),
    };
    let Ok(mut c) = Client::with_transport(Box::new(SimTransport::from_shared(dev.clone()))) else {
        return false;
    };
    c.authenticate(Credentials::keys(id, keys)).is_ok()
}

fn has(dev: &SharedDevice, id: u16, t: ObjectType) -> bool {
    dev.lock().store().get(id, t).is_some()
}

/// The finished setup: `Err` says what is wrong.
fn check_finished(fx: &Fx, dev: &SharedDevice) -> Result<(), String> {
    let files = fx.share_files();
    if files.len() != 3 {
        return Err(format!("{} share files", files.len()));
    }
    let shares: Vec<Share> = files
        .iter()
        .map(|p| Share::parse(fs::read_to_string(p).unwrap().lines().last().unwrap()).unwrap())
        .collect();
    let recovered = combine(&shares[1..]).map_err(|e| e.to_string())?;
    let described =
        Description::parse(&fs::read(fx.backup().join("0x0002-wrap-key.description")).unwrap())
            .map_err(|e| format!("{e:?}"))?;
    if described.kcv != Some(recovered.secret.check_value()) {
        return Err("the description's key check value is not the shares'".to_owned());
    }
    {
        let d = dev.lock();
        let Some(object) = d.store().get(2, ObjectType::WRAP_KEY) else {
            return Err("no wrap key".to_owned());
        };
        let yhsm_proto::wrap::Body::WrapKey { key, .. } = &object.body else {
            return Err("not a wrap key".to_owned());
        };
        if key.expose_secret() != recovered.secret.key().expose_secret() {
            return Err("the wrap key on the device is not the shares'".to_owned());
        }
    }
    if !logs_in(dev, 3, "app-secret") || !logs_in(dev, 4, "audit-secret") {
        return Err("a new key does not log in".to_owned());
    }
    if has(dev, 1, AUTH) {
        return Err("the login key is still there".to_owned());
    }
    let key = WrapKey::new(recovered.secret.key().expose_secret()).unwrap();
    for id in [3u16, 4] {
        let path = fx.backup().join(format!("0x{id:04x}-authentication-key.yhw"));
        let text = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let blob = wrap::decode_text(&text).map_err(|e| e.to_string())?;
        let object = wrap::unwrap(&key, &blob).map_err(|e| e.to_string())?;
        if object.header.id != id {
            return Err(format!("{} holds another object", path.display()));
        }
    }
    Ok(())
}

/// The fault-free run's exchanges (command names, response lengths).
fn baseline(fx: &Fx) -> Vec<(String, usize)> {
    fx.clean();
    let dev = device();
    let trace = fx.dir.join("baseline.trace");
    let ran = setup_on(fx, &dev, false, Some(trace.clone()));
    assert_eq!(ran.exit, 0, "{}\n{}", ran.stdout, ran.stderr);
    let text = fs::read_to_string(&trace).unwrap();
    let records: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len() as u64, dev.lock().exchanges(), "one trace line per exchange");
    check_finished(fx, &dev).unwrap();
    records
        .iter()
        .map(|r| {
            let command = r["command"].as_str().unwrap().to_owned();
            (command, r["response"].as_str().map_or(0, |h| h.len() / 2))
        })
        .collect()
}

#[derive(Debug, Default)]
struct Totals {
    tried: usize,
    finished: usize,
    failed_cleanly: usize,
    lockouts: usize,
    silent_shares: usize,
    resume_failures: usize,
    panics: usize,
    by_kind: BTreeMap<String, (usize, usize, usize)>,
    problems: Vec<String>,
}

#[test]
fn every_fault_at_every_exchange_ends_set_up_or_resumable() {
    let started = Instant::now();
    let fx = Fx::new();
    let exchanges = baseline(&fx);
    for needed in [
        "get-pseudo-random",
        "put-wrap-key",
        "put-authentication-key",
        "export-wrapped",
        "delete-object",
    ] {
        assert!(exchanges.iter().any(|(c, _)| c == needed), "{needed}");
    }
    let only = std::env::var("YHSM_FAULT_ONLY").ok();
    let show = std::env::var_os("YHSM_FAULT_SHOW").is_some();
    let mut t = Totals::default();
    for (i, (command, len)) in exchanges.iter().enumerate() {
        for (kind, action) in fault::kinds(command, *len, &["get-object-info", "delete-object"]) {
            let label = format!("exchange {i} ({command}), {kind}");
            if only.as_deref().is_some_and(|o| !label.contains(o)) {
                continue;
            }
            t.tried += 1;
            fx.clean();
            let dev = device();
            dev.lock().add_fault(Fault::once(Trigger::Exchange(i as u64), action));
            let ran = setup_on(&fx, &dev, false, None);
            if show {
                println!("=== {label}: exit {}\n{}{}", ran.exit, ran.stdout, ran.stderr);
            }
            let entry = t.by_kind.entry(kind.clone()).or_default();
            entry.0 += 1;
            let mut problems = Vec::new();
            if ran.panicked {
                t.panics += 1;
                problems.push("panicked".to_owned());
            }
            for secret in ["app-secret", "audit-secret"] {
                if ran.stdout.contains(secret) || ran.stderr.contains(secret) {
                    problems.push("a password in the output".to_owned());
                }
            }
            let succeeded = ran.exit == 0;
            if succeeded {
                t.finished += 1;
                t.by_kind.get_mut(&kind).unwrap().1 += 1;
            } else if ran.stderr.contains("yhsm: error: ") {
                t.failed_cleanly += 1;
                t.by_kind.get_mut(&kind).unwrap().2 += 1;
            } else {
                problems.push("failed without an error line".to_owned());
            }
            // Shares handed out by a failed run: the operator is told.
            let handed_out = !fx.share_files().is_empty();
            if !succeeded && handed_out {
                let kcv = Description::parse(
                    &fs::read(fx.backup().join("0x0002-wrap-key.description")).unwrap(),
                )
                .unwrap()
                .kcv
                .unwrap();
                let stored = has(&dev, 2, ObjectType::WRAP_KEY);
                let says_where =
                    if stored { "which is on the device" } else { "is not on the device yet" };
                if !(ran.stderr.contains(&hex::encode(kcv))
                    && ran.stderr.contains("--resume")
                    && ran.stderr.contains(says_where))
                {
                    t.silent_shares += 1;
                    problems.push(format!("shares out, the error does not say so ({says_where})"));
                }
            }
            dev.lock().replug();
            dev.lock().clear_faults();
            // No lockout: the login key goes only once every new key logs in.
            let login_gone = !has(&dev, 1, AUTH);
            let proven = logs_in(&dev, 3, "app-secret") && logs_in(&dev, 4, "audit-secret");
            let anyone = KEYS.iter().any(|(id, pw)| logs_in(&dev, *id, pw));
            if (login_gone && !proven) || !anyone {
                t.lockouts += 1;
                problems.push(format!(
                    "lockout: login key gone {login_gone}, new keys proven {proven}"
                ));
            }
            if succeeded {
                if let Err(why) = check_finished(&fx, &dev) {
                    problems.push(format!("succeeded, but {why}"));
                }
            } else if login_gone {
                problems.push("failed after deleting the login key".to_owned());
            } else {
                let again = setup_on(&fx, &dev, true, None);
                if again.exit != 0 || check_finished(&fx, &dev).is_err() {
                    t.resume_failures += 1;
                    problems.push(format!(
                        "--resume: exit {} ({:?})\n{}{}",
                        again.exit,
                        check_finished(&fx, &dev).err(),
                        again.stdout,
                        again.stderr
                    ));
                }
            }
            for p in problems {
                t.problems.push(format!(
                    "{label}: {p}\n--- stdout\n{}--- stderr\n{}",
                    ran.stdout, ran.stderr
                ));
            }
        }
    }
    let mut report = String::new();
    writeln!(
        report,
        "setup fault matrix: {} exchanges in a fault-free setup (ksp, audit key)",
        exchanges.len()
    )
    .unwrap();
    writeln!(report, "faults tried:             {}", t.tried).unwrap();
    writeln!(report, "runs finished (exit 0):   {}", t.finished).unwrap();
    writeln!(report, "runs failed cleanly:      {}", t.failed_cleanly).unwrap();
    writeln!(report, "lockouts:                 {}", t.lockouts).unwrap();
    writeln!(report, "shares out, not told:     {}", t.silent_shares).unwrap();
    writeln!(report, "--resume failures:        {}", t.resume_failures).unwrap();
    writeln!(report, "panics:                   {}", t.panics).unwrap();
    let heading = "by kind (tried / finished / failed cleanly, then resumed):";
    fault::write_by_kind(&mut report, heading, &t.by_kind);
    fault::print_end(&mut report, started.elapsed(), &t.problems);
    writeln!(report, "\nexchanges of the fault-free run:").unwrap();
    for (i, (c, _)) in exchanges.iter().enumerate() {
        writeln!(report, "  {i:>3} {c}").unwrap();
    }
    fs::write(fault::target_file("fault-matrix-setup.txt"), &report).unwrap();
    let _ = fs::remove_dir_all(&fx.dir);
    if only.is_none() {
        assert!(
            t.failed_cleanly > 0 && t.finished > 0,
            "the faults both stop and do not stop runs"
        );
    }
    assert!(t.problems.is_empty(), "{} problems, see above", t.problems.len());
}
