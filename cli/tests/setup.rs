//! `yhsm setup` (issue 11) against the in-process simulator, through
//! `setup::command_with` (the function behind the command), and over HTTP through the
//! binary and `yhsm sim serve`: the objects yubihsm-setup's `ksp` makes, the files, the
//! shares, the refusals, `--resume`, the terminal hand-out of the shares, and `yhsm
//! restore` accepting the result on a second device.

#![cfg(feature = "sim")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod support;

use std::collections::VecDeque;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use yhsm::backup::description::Description;
use yhsm::backup::restore;
use yhsm::backup::setup::{self, Args, Line, SetupReport, profile};
use yhsm::options::GlobalOptions;
use yhsm::util::password::{NewPassword, PasswordOptions};
use yhsm::util::prompt::{CLEARED, Prompter, ScriptedPrompter};
use yhsm::wrapkey::shares::combine_file;
use yhsm::{Error, Result};
use yhsm_proto::frame::{CommandCode, ErrorCode};
use yhsm_proto::shares::{Share, combine};
use yhsm_proto::{Capabilities, ObjectType};
use yhsm_sim::{Action, Config, Device, Fault, SharedDevice, Trigger};
use yhsm_transport::sim::SimTransport;
use yhsm_transport::{Client, Credentials};
use zeroize::Zeroizing;

use support::{Server, ok, run_yhsm, scratch};

const AUTH: ObjectType = ObjectType::AUTHENTICATION_KEY;

fn device() -> SharedDevice {
    SharedDevice::new(Device::new(Config::default()).unwrap())
}

struct Fx {
    dir: PathBuf,
}

impl Fx {
    fn new(name: &str) -> Self {
        let dir = scratch("setup", name);
        fs::write(dir.join("pw"), "password\n").unwrap();
        fs::write(dir.join("app"), "app-secret\n").unwrap();
        fs::write(dir.join("audit"), "audit-secret\n").unwrap();
        Self { dir }
    }
    fn backup(&self) -> PathBuf {
        self.dir.join("backup")
    }
    fn shares(&self) -> PathBuf {
        self.dir.join("shares")
    }
    /// Non-interactive ksp with the audit key.
    fn args(&self) -> Args {
        Args {
            dir: self.backup(),
            shares_dir: Some(self.shares()),
            app_password: NewPassword::File(self.dir.join("app")),
            audit_password: NewPassword::File(self.dir.join("audit")),
            audit: Some(true),
            ..Args::default()
        }
    }
    fn global(&self) -> GlobalOptions {
        GlobalOptions {
            connector: "sim:".parse().unwrap(),
            authkey: 1,
            password: PasswordOptions { file: Some(self.dir.join("pw")), argument: None },
            ..GlobalOptions::default()
        }
    }
    fn share_file(&self, i: u8) -> PathBuf {
        self.shares().join(setup::share_file_name(2, i))
    }
}

/// What one run said.
struct Ran {
    result: Result<SetupReport>,
    out: String,
}

fn run_with(
    fx: &Fx,
    dev: &SharedDevice,
    args: &Args,
    interactive: bool,
    prompter: &mut dyn Prompter,
) -> Ran {
    let mut out = String::new();
    let mut open = |_: &_| -> std::result::Result<Box<dyn yhsm_transport::Transport>, _> {
        Ok(Box::new(SimTransport::from_shared(dev.clone())))
    };
    let mut sink = |line: Line| match line {
        Line::Out(t) => out.push_str(&format!("{t}\n")),
        Line::Warning(t) => out.push_str(&format!("warning: {t}\n")),
    };
    let result =
        setup::command_with(&fx.global(), args, interactive, prompter, None, &mut open, &mut sink);
    Ran { result, out }
}

fn run(fx: &Fx, dev: &SharedDevice, args: &Args) -> Ran {
    run_with(fx, dev, args, false, &mut ScriptedPrompter::new::<&str>(&[]))
}

/// A non-interactive run logged in as authentication key `authkey` (password `password`).
fn run_as(fx: &Fx, dev: &SharedDevice, authkey: u16, args: &Args) -> Result<SetupReport> {
    let global = GlobalOptions { authkey, ..fx.global() };
    let mut open = |_: &_| -> std::result::Result<Box<dyn yhsm_transport::Transport>, _> {
        Ok(Box::new(SimTransport::from_shared(dev.clone())))
    };
    let mut prompter = ScriptedPrompter::new::<&str>(&[]);
    setup::command_with(&global, args, false, &mut prompter, None, &mut open, &mut |_| {})
}

/// A session as the factory key 1.
fn factory_session(dev: &SharedDevice) -> Client {
    let mut c = Client::with_transport(Box::new(SimTransport::from_shared(dev.clone()))).unwrap();
    c.authenticate(Credentials::password(1, b"password")).unwrap();
    c
}

/// Puts authentication key `id` (domain 1) with `label` and `password` on the device.
fn put_auth_key(
    dev: &SharedDevice,
    (id, label, password): (u16, &str, &[u8]),
    caps: Capabilities,
    delegated: Capabilities,
) {
    let keys = yhsm_proto::StaticKeys::from_password(password);
    factory_session(dev)
        .put_authentication_key(&yhsm_proto::command::PutAuthenticationKey::new(
            id,
            label.parse().unwrap(),
            yhsm_proto::Domains(1),
            caps,
            delegated,
            yhsm_proto::command::AuthenticationKey::Symmetric {
                enc: keys.enc.clone(),
                mac: keys.mac.clone(),
            },
        ))
        .unwrap();
}

fn logs_in(dev: &SharedDevice, id: u16, password: &str) -> bool {
    let mut c = Client::with_transport(Box::new(SimTransport::from_shared(dev.clone()))).unwrap();
    c.authenticate(Credentials::password(id, password.as_bytes())).is_ok()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn makes_yubihsm_setups_ksp_objects_files_and_shares() {
    let fx = Fx::new("ksp");
    let dev = device();
    let ran = run(&fx, &dev, &fx.args());
    let report = ran.result.unwrap();
    // The device: the wrap key and the two keys, the factory key gone.
    let d = dev.lock();
    let store = d.store();
    let wrap = store.get(2, ObjectType::WRAP_KEY).unwrap();
    assert_eq!(wrap.label.to_string_lossy(), "Wrap key");
    assert_eq!(wrap.capabilities.to_string(), "export-wrapped,import-wrapped");
    assert_eq!(wrap.delegated, profile::KSP.wrap_delegated);
    let app = store.get(3, AUTH).unwrap();
    assert_eq!(app.label.to_string_lossy(), "Application auth key");
    assert_eq!(app.capabilities, yhsm::admin::profile::APPLICATION.capabilities);
    assert_eq!(app.delegated, yhsm::admin::profile::APPLICATION.delegated);
    let audit = store.get(4, AUTH).unwrap();
    assert_eq!(audit.label.to_string_lossy(), "Audit auth key");
    assert_eq!(audit.capabilities.to_string(), "exportable-under-wrap,get-log-entries");
    assert!(store.get(1, AUTH).is_none(), "the factory key is deleted");
    drop(d);
    assert!(logs_in(&dev, 3, "app-secret") && logs_in(&dev, 4, "audit-secret"));

    // Any two shares give the wrap key on the device, and its check value.
    let texts: Vec<Zeroizing<Vec<u8>>> = (1..=3)
        .map(|i| yhsm::util::files::read_file(&fx.share_file(i), "share").unwrap())
        .collect();
    let shares: Vec<Share> = texts
        .iter()
        .map(|t| {
            let line = std::str::from_utf8(t).unwrap().lines().last().unwrap().to_owned();
            assert_eq!(line.len(), 74, "a yubihsm-setup share: k-i- and 70 base64 characters");
            Share::parse(&line).unwrap()
        })
        .collect();
    for pair in [[0, 1], [1, 2], [0, 2]] {
        let two = [shares[pair[0]].clone(), shares[pair[1]].clone()];
        let recovered = combine(&two).unwrap();
        let d = dev.lock();
        let yhsm_proto::wrap::Body::WrapKey { key, .. } =
            &d.store().get(2, ObjectType::WRAP_KEY).unwrap().body
        else {
            panic!("not a wrap key body")
        };
        assert_eq!(recovered.secret.key().expose_secret(), key.expose_secret());
        assert_eq!(recovered.secret.check_value(), report.kcv);
    }
    // The description records the key check value and each share's.
    let desc =
        Description::parse(&fs::read(fx.backup().join("0x0002-wrap-key.description")).unwrap())
            .unwrap();
    assert_eq!(desc.kcv, Some(report.kcv));
    let recorded = desc.shares.unwrap();
    assert_eq!((recorded.threshold, recorded.count), (2, 3));
    for (i, s) in shares.iter().enumerate() {
        assert_eq!(recorded.checks[i], (s.index(), s.check_value()));
    }
    // The files, 0600, named as yubihsm-setup names them.
    let mut names: Vec<String> = fs::read_dir(fx.backup())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "0x0002-wrap-key.description",
            "0x0003-authentication-key.yhw",
            "0x0004-authentication-key.yhw"
        ]
    );
    for dir in [fx.backup(), fx.shares()] {
        for e in fs::read_dir(dir).unwrap() {
            assert_eq!(mode(&e.unwrap().path()), 0o600);
        }
    }
    // The summary and the progress.
    let summary = report.render();
    assert!(summary.contains(&format!("key check value {}", hex::encode(report.kcv))), "{summary}");
    assert!(summary.contains("Keys that can log in: 0x0003, 0x0004"), "{summary}");
    let dir = fx.backup().display().to_string();
    assert!(summary.contains(&format!("`yhsm dump -w 0x0002 --force {dir}`")), "{summary}");
    assert!(summary.contains(&format!("`yhsm restore {dir}` with 2 of the shares")), "{summary}");
    // The order of work: the shares are out before the first write to the device, and
    // the login key goes last.
    let at = |s: &str| ran.out.find(s).unwrap_or_else(|| panic!("no {s:?} in\n{}", ran.out));
    assert!(at("Wrote ") < at("Stored wrap key"));
    assert!(at("Created the audit") < at("Saved the wrapped"));
    assert!(at("Saved the wrapped audit") < at("Deleted authentication key 0x0001"));
    // No password or share in what was said.
    for secret in ["app-secret", "audit-secret"] {
        assert!(!ran.out.contains(secret) && !summary.contains(secret), "{secret}");
    }
    for s in &shares {
        assert!(!ran.out.contains(s.render().as_str()));
    }
}

#[test]
fn two_setups_on_identical_devices_make_different_wrap_keys() {
    // The device's random bytes alone do not decide the key: the host's are mixed in.
    let seeded = || {
        SharedDevice::new(Device::with_clock_and_seed(
            Config::default(),
            Box::new(yhsm_sim::ManualClock::new()),
            [7; 32],
        ))
    };
    let (a, b) = (Fx::new("seed-a"), Fx::new("seed-b"));
    let (ka, kb) = (run(&a, &seeded(), &a.args()), run(&b, &seeded(), &b.args()));
    assert_ne!(ka.result.unwrap().kcv, kb.result.unwrap().kcv);
}

#[test]
fn restore_accepts_the_setup_on_a_second_device() {
    let fx = Fx::new("restore");
    let primary = device();
    run(&fx, &primary, &fx.args()).result.unwrap();
    let secondary = device();
    let args = restore::Args {
        dir: fx.backup(),
        shares_files: vec![fx.share_file(3), fx.share_file(1)],
        ..restore::Args::default()
    };
    let mut open = |_: &_| -> std::result::Result<Box<dyn yhsm_transport::Transport>, _> {
        Ok(Box::new(SimTransport::from_shared(secondary.clone())))
    };
    let mut prompter = ScriptedPrompter::new::<&str>(&[]);
    let report =
        restore::command_with(&fx.global(), &args, &mut prompter, None, &mut open, &mut |_| {})
            .unwrap();
    assert_eq!(report.exit_code(), 0);
    assert!(logs_in(&secondary, 3, "app-secret") && logs_in(&secondary, 4, "audit-secret"));
    assert!(!logs_in(&secondary, 1, "password"));
    let (p, s) = (primary.lock(), secondary.lock());
    assert_eq!(
        p.store().get(2, ObjectType::WRAP_KEY).unwrap().body,
        s.store().get(2, ObjectType::WRAP_KEY).unwrap().body
    );

    // A share mistyped by one character is named by restore before anything is written.
    let third = device();
    let text = fs::read_to_string(fx.share_file(2)).unwrap();
    let typo = mistyped(text.lines().last().unwrap());
    fs::write(fx.dir.join("typo.txt"), typo).unwrap();
    let args = restore::Args {
        dir: fx.backup(),
        shares_files: vec![fx.share_file(1), fx.dir.join("typo.txt")],
        ..restore::Args::default()
    };
    let mut open = |_: &_| -> std::result::Result<Box<dyn yhsm_transport::Transport>, _> {
        Ok(Box::new(SimTransport::from_shared(third.clone())))
    };
    let e = restore::command_with(&fx.global(), &args, &mut prompter, None, &mut open, &mut |_| {})
        .unwrap_err();
    assert!(
        e.message().contains("share 2 does not match the check value recorded at setup"),
        "{}",
        e.message()
    );
    assert_eq!(third.lock().store().iter().count(), 1, "only the factory key");
}

/// A share with one character of its data changed (as a tired custodian types it).
fn mistyped(line: &str) -> String {
    let mut chars: Vec<char> = line.chars().collect();
    chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
    format!("{}\n", chars.into_iter().collect::<String>())
}

/// The setup refuses before anything is written: the device untouched, no file, no share.
fn refused(fx: &Fx, dev: &SharedDevice, args: &Args) -> Error {
    let before: Vec<_> = dev.lock().store().iter().map(|o| (o.id, o.object_type)).collect();
    let e = run(fx, dev, args).result.unwrap_err();
    let after: Vec<_> = dev.lock().store().iter().map(|o| (o.id, o.object_type)).collect();
    assert_eq!(before, after, "{}", e.message());
    assert!(!fx.shares().exists() || fs::read_dir(fx.shares()).unwrap().count() == 0);
    e
}

#[test]
fn refuses_before_writing_anything() {
    let fx = Fx::new("refusals");
    let dev = device();
    // Ids in use on the device.
    put_auth_key(&dev, (3, "someone", b"x"), Capabilities::GET_OPTION, Capabilities::NONE);
    let e = refused(&fx, &dev, &fx.args());
    assert!(e.message().contains("already holds authentication key 0x0003"), "{}", e.message());
    assert!(!fx.backup().join("0x0002-wrap-key.description").exists());

    let dev = device();
    // A backup directory holding .yhw files.
    fs::create_dir_all(fx.backup()).unwrap();
    fs::write(fx.backup().join("0x0009-opaque.yhw"), "x").unwrap();
    let e = refused(&fx, &dev, &fx.args());
    assert!(e.message().contains("already holds .yhw files"), "{}", e.message());
    // With --resume but no description, there is no setup to finish: the same refusal,
    // and the file setup would write over (its application key's name) is left as it is.
    fs::write(fx.backup().join("0x0003-authentication-key.yhw"), "an older backup").unwrap();
    let e = refused(&fx, &dev, &Args { resume: true, ..fx.args() });
    assert!(e.message().contains("already holds .yhw files"), "{}", e.message());
    let kept = fs::read_to_string(fx.backup().join("0x0003-authentication-key.yhw")).unwrap();
    assert_eq!(kept, "an older backup");
    fs::remove_file(fx.backup().join("0x0003-authentication-key.yhw")).unwrap();
    fs::remove_file(fx.backup().join("0x0009-opaque.yhw")).unwrap();

    // A shares directory holding a share (of an earlier setup): never written over.
    fs::create_dir_all(fx.shares()).unwrap();
    fs::write(fx.share_file(1), "an earlier custodian's share\n").unwrap();
    let e = run(&fx, &dev, &fx.args()).result.unwrap_err();
    assert!(e.message().contains("setup never writes over a share"), "{}", e.message());
    assert_eq!(fs::read_to_string(fx.share_file(1)).unwrap(), "an earlier custodian's share\n");
    assert!(!fx.backup().join("0x0002-wrap-key.description").exists());
    assert_eq!(dev.lock().store().iter().count(), 1);
    fs::remove_dir_all(fx.shares()).unwrap();

    // Usage errors.
    let cases: Vec<(Args, &str)> = vec![
        (
            Args { shares_dir: Some(fx.backup()), ..fx.args() },
            "--shares-dir is the backup directory",
        ),
        (Args { shares_dir: None, ..fx.args() }, "--shares-dir DIR"),
        (Args { app_password: NewPassword::Prompt, ..fx.args() }, "--app-password-file"),
        (Args { app_key_id: Some(1), ..fx.args() }, "is the one used to log in"),
        (Args { audit_key_id: Some(3), ..fx.args() }, "both be authentication key 0x0003"),
        (Args { threshold: Some(4), shares: Some(3), ..fx.args() }, "more than the 3 shares"),
        (Args { profile: Some(profile::WRAP_ONLY), ..fx.args() }, "--profile wrap-only"),
        (Args { shares_files: vec![fx.share_file(1)], ..fx.args() }, "goes with --resume"),
        (
            Args { wrap_delegated: Some(Capabilities::EXPORTABLE_UNDER_WRAP), ..fx.args() },
            "the wrap key would not delegate",
        ),
    ];
    for (args, expected) in cases {
        let e = refused(&fx, &dev, &args);
        let text = e.render();
        assert!(text.contains(expected), "{expected}: {text}");
    }
}

#[test]
fn a_login_key_without_the_rights_is_refused_before_anything_is_written() {
    // Key 7 may store a wrap key and create authentication keys, but not delete one, nor
    // get random bytes; then one that may do all but delegates too little.
    let fx = Fx::new("rights");
    let dev = device();
    let everything: Capabilities = "put-wrap-key,put-authentication-key,export-wrapped,get-pseudo-random,delete-authentication-key".parse().unwrap();
    let some = "put-wrap-key,put-authentication-key,export-wrapped".parse().unwrap();
    put_login_key(&dev, 7, some, Capabilities::ALL);
    put_login_key(&dev, 8, everything, "export-wrapped,import-wrapped".parse().unwrap());
    let before = dev.lock().store().iter().count();
    for (id, expected) in [
        (7, "lacks the get-pseudo-random,delete-authentication-key capability"),
        (8, "does not delegate"),
    ] {
        let e = run_as(&fx, &dev, id, &fx.args()).unwrap_err();
        assert!(e.render().contains(expected), "{}", e.render());
        assert!(e.render().contains("nothing was written"), "{}", e.render());
        assert_eq!(dev.lock().store().iter().count(), before);
        assert!(!fx.backup().exists() && !fx.shares().exists());
    }
}

#[test]
fn an_interrupted_setup_is_finished_by_resume_with_the_same_shares() {
    let fx = Fx::new("resume");
    let dev = device();
    dev.lock().add_fault(Fault::once(
        Trigger::Command(CommandCode::PUT_AUTHENTICATION_KEY),
        Action::Error(ErrorCode::STORAGE_FAILED),
    ));
    let ran = run(&fx, &dev, &fx.args());
    let e = ran.result.unwrap_err();
    let text = e.render();
    assert!(text.contains("the custodians hold the shares of wrap key 0x0002"), "{text}");
    assert!(text.contains("which is on the device"), "{text}");
    assert!(text.contains("--resume"), "{text}");
    assert!(logs_in(&dev, 1, "password"), "the login key is kept");
    let kcv =
        Description::parse(&fs::read(fx.backup().join("0x0002-wrap-key.description")).unwrap())
            .unwrap()
            .kcv
            .unwrap();
    assert!(text.contains(&hex::encode(kcv)), "{text}");

    // Without --resume: refused, naming the earlier setup.
    let again = run(&fx, &dev, &fx.args()).result.unwrap_err();
    assert!(again.render().contains("finish that setup with --resume"), "{}", again.render());

    // A mistyped share is named, and nothing more is written.
    let typo = fx.dir.join("typo.txt");
    let line = fs::read_to_string(fx.share_file(2)).unwrap().lines().last().unwrap().to_owned();
    fs::write(&typo, mistyped(&line)).unwrap();
    let args = Args { resume: true, shares_files: vec![fx.share_file(1), typo], ..fx.args() };
    let e = run(&fx, &dev, &args).result.unwrap_err();
    assert!(
        e.render().contains("share 2 does not match the check value recorded at setup"),
        "{}",
        e.render()
    );
    assert!(dev.lock().store().get(3, AUTH).is_none());

    // --resume with the share files still in --shares-dir finishes the job.
    let resumed = run(&fx, &dev, &Args { resume: true, ..fx.args() });
    let report = resumed.result.unwrap();
    assert_eq!(report.kcv, kcv, "the same wrap key: the shares handed out stay valid");
    assert!(!report.wrap_stored);
    assert!(resumed.out.contains("Wrap key 0x0002 is on the device already"), "{}", resumed.out);
    assert!(logs_in(&dev, 3, "app-secret") && logs_in(&dev, 4, "audit-secret"));
    assert!(!logs_in(&dev, 1, "password"));
    // And a second --resume once finished has nothing left but to say so: the login
    // key is gone, so it cannot log in.
    let e = run(&fx, &dev, &Args { resume: true, ..fx.args() }).result.unwrap_err();
    assert!(e.render().contains("cannot log in"), "{}", e.render());
}

#[test]
fn resume_at_a_terminal_asks_the_password_of_a_key_already_made_once() {
    let fx = Fx::new("resume-typed");
    let dev = device();
    dev.lock().add_fault(Fault::once(
        Trigger::Command(CommandCode::EXPORT_WRAPPED),
        Action::Error(ErrorCode::STORAGE_FAILED),
    ));
    run(&fx, &dev, &fx.args()).result.unwrap_err();
    assert!(dev.lock().store().get(3, AUTH).is_some() && dev.lock().store().get(4, AUTH).is_some());
    let args = Args {
        resume: true,
        app_password: NewPassword::Prompt,
        audit_password: NewPassword::Prompt,
        audit_key_id: Some(4),
        ..fx.args()
    };
    // Go on (the keys' ids come from the recorded plan), then each password once.
    let mut p = ScriptedPrompter::interactive(&["y", "app-secret", "audit-secret"]);
    let report = run_with(&fx, &dev, &args, true, &mut p).result.unwrap();
    assert_eq!(report.keys.len(), 2);
    assert!(
        p.transcript.iter().any(|l| l
            == "(secret) Password of the application key 0x0003 (made by the interrupted run): "),
        "{:#?}",
        p.transcript
    );
    assert!(!p.transcript.iter().any(|l| l.contains("again")), "{:#?}", p.transcript);
    assert!(!logs_in(&dev, 1, "password"));
}

/// The description of an interrupted run, as text.
fn description_text(fx: &Fx) -> String {
    fs::read_to_string(fx.backup().join("0x0002-wrap-key.description")).unwrap()
}

/// Puts authentication key `id` (label `admin`, password `password`) on the device.
fn put_login_key(dev: &SharedDevice, id: u16, caps: Capabilities, delegated: Capabilities) {
    put_auth_key(dev, (id, "admin", b"password"), caps, delegated);
}

/// An interrupted `--audit` setup (both keys made, neither exported), resumed by an
/// operator who leaves out `--audit` or gives other ids: the description's recorded plan
/// keeps the audit key; an option that disagrees with it is refused before anything is
/// written; the login key is deleted only once the audit key is exported too.
#[test]
fn resume_follows_the_recorded_plan_and_refuses_options_that_disagree() {
    let fx = Fx::new("resume-plan");
    let dev = device();
    dev.lock().add_fault(Fault::once(
        Trigger::Command(CommandCode::EXPORT_WRAPPED),
        Action::Error(ErrorCode::STORAGE_FAILED),
    ));
    run(&fx, &dev, &fx.args()).result.unwrap_err();
    assert!(dev.lock().store().get(4, AUTH).is_some(), "the audit key was made");
    let text = description_text(&fx);
    for line in [
        "setup profile: ksp\n",
        "setup application key: 0x0003\n",
        "setup application label: \"Application auth key\"\n",
        "setup audit key: 0x0004\n",
        "setup audit capabilities: exportable-under-wrap,get-log-entries\n",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
    // What the other readers see: the description parses, with the plan.
    let desc = Description::parse(text.as_bytes()).unwrap();
    assert_eq!(desc.setup.unwrap().audit.unwrap().id, 4);

    let file = "the interrupted setup's description `0x0002-wrap-key.description`";
    let resume =
        Args { resume: true, audit: None, audit_password: NewPassword::Prompt, ..fx.args() };
    let audit_file = NewPassword::File(fx.dir.join("audit"));
    let before = dev.lock().store().iter().count();
    for (args, expected) in [
        (
            Args { audit: Some(false), ..resume.clone() },
            format!("--no-audit: {file} records audit key 0x0004"),
        ),
        (
            Args { app_key_id: Some(5), ..resume.clone() },
            format!("--app-key-id 0x0005: {file} says 0x0003"),
        ),
        (
            Args { audit_key_id: Some(6), audit_password: audit_file.clone(), ..resume.clone() },
            format!("--audit-key-id 0x0006: {file} says 0x0004"),
        ),
        (
            Args { profile: Some(profile::EJBCA), ..resume.clone() },
            format!("--profile ejbca: {file} says ksp"),
        ),
        (
            Args { rsa_decryption: Some(true), ..resume.clone() },
            format!(
                "--rsa-decryption: {file} records an application key without decrypt-pkcs,decrypt-oaep"
            ),
        ),
        (
            Args { capabilities: Some(Capabilities::ALL), ..resume.clone() },
            format!("--capabilities {}: {file} says", Capabilities::ALL),
        ),
        // No terminal and no audit password: the plan still makes the audit key.
        (
            resume.clone(),
            "the audit key's password is asked for at the terminal (the interrupted setup's plan \
             makes an audit key)"
                .to_owned(),
        ),
    ] {
        let e = run(&fx, &dev, &args).result.unwrap_err();
        assert!(e.render().contains(&expected), "{expected}\n{}", e.render());
        assert!(logs_in(&dev, 1, "password"), "the login key is kept");
        assert_eq!(dev.lock().store().iter().count(), before);
        assert!(!fx.backup().join("0x0004-authentication-key.yhw").exists());
    }

    // At a terminal, without --audit: the recorded plan is used and said; the audit key's
    // password is asked once, and the audit key is exported before the login key goes.
    let mut p = ScriptedPrompter::interactive(&["y", "audit-secret"]);
    let ran = run_with(&fx, &dev, &resume, true, &mut p);
    let report = ran.result.unwrap();
    assert_eq!(report.keys, [(3, "application"), (4, "audit")]);
    assert!(
        ran.out
            .contains("(its recorded plan: profile ksp, application key 0x0003, audit key 0x0004)"),
        "{}",
        ran.out
    );
    assert!(fx.backup().join("0x0004-authentication-key.yhw").exists());
    assert!(!logs_in(&dev, 1, "password") && logs_in(&dev, 4, "audit-secret"));
}

/// A login key without put-wrap-key finishes a setup whose wrap key is stored already;
/// while the wrap key is still to be stored it is refused. A plan without an audit key
/// refuses `--audit` on resume.
#[test]
fn resume_needs_put_wrap_key_only_while_the_wrap_key_is_not_stored() {
    let fx = Fx::new("resume-rights");
    let dev = device();
    let caps = "put-authentication-key,export-wrapped,delete-authentication-key".parse().unwrap();
    put_login_key(&dev, 7, caps, Capabilities::ALL);
    let no_audit = Args { audit: Some(false), audit_password: NewPassword::Prompt, ..fx.args() };
    dev.lock().add_fault(Fault::once(
        Trigger::Command(CommandCode::PUT_WRAP_KEY),
        Action::Error(ErrorCode::STORAGE_FAILED),
    ));
    run(&fx, &dev, &no_audit).result.unwrap_err();
    assert!(description_text(&fx).contains("setup audit key: none\n"));
    let resume = Args { resume: true, audit: None, ..no_audit.clone() };
    let as_key_7 = |args: &Args| run_as(&fx, &dev, 7, args);
    let e = as_key_7(&resume).unwrap_err();
    assert!(e.render().contains("lacks the put-wrap-key capability"), "{}", e.render());
    assert!(dev.lock().store().get(2, ObjectType::WRAP_KEY).is_none());

    // Key 1 stores the wrap key, then fails to make the application key.
    dev.lock().add_fault(Fault::once(
        Trigger::Command(CommandCode::PUT_AUTHENTICATION_KEY),
        Action::Error(ErrorCode::STORAGE_FAILED),
    ));
    run(&fx, &dev, &resume).result.unwrap_err();
    assert!(dev.lock().store().get(2, ObjectType::WRAP_KEY).is_some());
    assert!(dev.lock().store().get(3, AUTH).is_none());
    // The recorded plan has no audit key: --audit is refused.
    let e = as_key_7(&Args {
        audit: Some(true),
        audit_password: NewPassword::File(fx.dir.join("audit")),
        ..resume.clone()
    })
    .unwrap_err();
    assert!(
        e.render().contains("--audit: the interrupted setup's description `0x0002-wrap-key.description` records no audit key"),
        "{}",
        e.render()
    );
    // Key 7 finishes: the wrap key is there, so put-wrap-key is not needed.
    let report = as_key_7(&resume).unwrap();
    assert_eq!(report.keys, [(3, "application")]);
    assert!(logs_in(&dev, 3, "app-secret") && !logs_in(&dev, 7, "password"));
}

/// `--resume` at a terminal with the shares typed (no share files): a mistyped share is
/// refused by its recorded check value and asked again; the wrap key from the typed
/// shares is stored and the setup finishes.
#[test]
fn resume_with_the_shares_typed_at_the_terminal() {
    let fx = Fx::new("resume-typed-shares");
    let dev = device();
    dev.lock().add_fault(Fault::once(
        Trigger::Command(CommandCode::PUT_WRAP_KEY),
        Action::Error(ErrorCode::STORAGE_FAILED),
    ));
    run(&fx, &dev, &fx.args()).result.unwrap_err();
    assert!(dev.lock().store().get(2, ObjectType::WRAP_KEY).is_none());
    let share =
        |i: u8| fs::read_to_string(fx.share_file(i)).unwrap().lines().last().unwrap().to_owned();
    let (one, three) = (share(1), share(3));
    let typo = mistyped(&three);
    let args = Args { resume: true, shares_dir: None, ..fx.args() };
    let mut p = ScriptedPrompter::interactive(&["y", "2", &one, &typo, &three]);
    let ran = run_with(&fx, &dev, &args, true, &mut p);
    let report = ran.result.unwrap();
    assert!(report.wrap_stored);
    let kcv = Description::parse(description_text(&fx).as_bytes()).unwrap().kcv.unwrap();
    assert_eq!(report.kcv, kcv);
    let refused = p.transcript.iter().filter(|l| l.starts_with("Share 2 refused:")).count();
    assert_eq!(refused, 1, "{:#?}", p.transcript);
    assert_eq!(
        p.transcript.iter().filter(|l| *l == "(secret) Enter share number 2: ").count(),
        2,
        "{:#?}",
        p.transcript
    );
    assert!(!p.transcript.iter().any(|l| l.contains(&one) || l.contains(&three)));
    assert!(logs_in(&dev, 3, "app-secret") && logs_in(&dev, 4, "audit-secret"));
    assert!(!logs_in(&dev, 1, "password"));
}

#[test]
fn a_wrap_key_that_is_not_the_shares_is_never_trusted() {
    // An interrupted run stored the wrap key; someone replaced it with another key of
    // the same attributes. Resume proves the key by opening its exports.
    let fx = Fx::new("impostor");
    let dev = device();
    dev.lock().add_fault(Fault::once(
        Trigger::Command(CommandCode::PUT_AUTHENTICATION_KEY),
        Action::Error(ErrorCode::STORAGE_FAILED),
    ));
    run(&fx, &dev, &fx.args()).result.unwrap_err();
    let mut c = factory_session(&dev);
    let info = c.get_object_info(2, ObjectType::WRAP_KEY).unwrap();
    c.delete_object(2, ObjectType::WRAP_KEY).unwrap();
    c.put_wrap_key(&yhsm_proto::command::PutWrapKey {
        header: yhsm_proto::command::ObjectHeader {
            id: 2,
            label: info.label,
            domains: info.domains,
            capabilities: info.capabilities,
            algorithm: info.algorithm,
        },
        delegated: info.delegated_capabilities,
        key: yhsm_proto::SecretBytes::from_slice(&[0x55; 32]),
    })
    .unwrap();
    drop(c);
    let e = run(&fx, &dev, &Args { resume: true, ..fx.args() }).result.unwrap_err();
    assert!(e.render().contains("does not open under the shares' key"), "{}", e.render());
    assert!(logs_in(&dev, 1, "password"), "the login key is kept");
    assert!(!fx.backup().join("0x0003-authentication-key.yhw").exists());
}

#[test]
fn wrap_only_ejbca_and_keep_authkey() {
    let fx = Fx::new("profiles");
    let dev = device();
    let args = Args {
        profile: Some(profile::WRAP_ONLY),
        audit: None,
        app_password: NewPassword::Prompt,
        audit_password: NewPassword::Prompt,
        delegated: Some("sign-ecdsa,exportable-under-wrap".parse().unwrap()),
        threshold: Some(3),
        shares: Some(5),
        ..fx.args()
    };
    let report = run(&fx, &dev, &args).result.unwrap();
    assert_eq!((report.threshold, report.count, report.share_checks.len()), (3, 5, 5));
    assert!(report.keys.is_empty());
    assert!(report.login_kept.as_deref().unwrap().contains("wrap-only"));
    assert!(logs_in(&dev, 1, "password"));
    let wrap = dev.lock().store().get(2, ObjectType::WRAP_KEY).unwrap().delegated;
    assert_eq!(wrap.to_string(), "sign-ecdsa,exportable-under-wrap");
    let three: Vec<PathBuf> = (1..=3).map(|i| fx.share_file(i)).collect();
    let combined =
        yhsm::wrapkey::shares::combine_files(&three, &mut ScriptedPrompter::new::<&str>(&[]))
            .unwrap();
    assert_eq!(combined.kcv(), report.kcv);
    assert!(combine_file(&fx.share_file(4)).is_err(), "one share is not enough");
    // Resumed (here: after it finished), the wrap key is only checked by its attributes,
    // and the run says so.
    let again = run(&fx, &dev, &Args { resume: true, ..args.clone() });
    assert_eq!(again.result.unwrap().kcv, report.kcv);
    assert!(
        again
            .out
            .contains("warning: wrap key 0x0002 on the device has the described attributes, but"),
        "{}",
        again.out
    );

    let fx = Fx::new("ejbca");
    let dev = device();
    let args = Args {
        profile: Some(profile::EJBCA),
        keep_authkey: true,
        audit: Some(false),
        audit_password: NewPassword::Prompt,
        share_format: yhsm_proto::shares::ShareFormat::YubihsmManager,
        ..fx.args()
    };
    let report = run(&fx, &dev, &args).result.unwrap();
    assert_eq!(report.login_kept.as_deref(), Some("--keep-authkey"));
    assert!(report.render().contains("Keys that can log in: 0x0003, 0x0001"));
    let d = dev.lock();
    let app = d.store().get(3, AUTH).unwrap();
    assert_eq!(app.capabilities, yhsm::admin::profile::EJBCA.capabilities);
    assert!(app.capabilities.contains(Capabilities::SIGN_ATTESTATION_CERTIFICATE));
    assert_eq!(app.delegated, yhsm::admin::profile::EJBCA.delegated);
    assert!(d.store().get(4, AUTH).is_none());
    assert!(d.store().get(1, AUTH).is_some());
    drop(d);
    let text = fs::read_to_string(fx.share_file(1)).unwrap();
    let line = text.lines().last().unwrap();
    assert!(line.starts_with("2-1-") && line[4..].chars().all(|c| c.is_ascii_hexdigit()), "{line}");
}

/// A custodian at a terminal: answers what it is asked; types back the share last shown
/// (the first time for `wrong_once`, a wrong one).
struct Custodians {
    transcript: Vec<String>,
    shown: Option<String>,
    wrong_once: Option<u8>,
    answers: VecDeque<&'static str>,
    passwords: VecDeque<&'static str>,
}

impl Prompter for Custodians {
    fn read_line(&mut self, prompt: &str) -> io::Result<Option<Zeroizing<String>>> {
        self.transcript.push(prompt.to_owned());
        let answer =
            if prompt.starts_with("Go on?") { "y" } else { self.answers.pop_front().unwrap_or("") };
        Ok(Some(Zeroizing::new(answer.to_owned())))
    }
    fn read_secret(&mut self, prompt: &str) -> io::Result<Option<Zeroizing<String>>> {
        self.transcript.push(format!("(secret) {prompt}"));
        if let Some(rest) = prompt.strip_prefix("Custodian ") {
            let shown = self.shown.clone().unwrap();
            let index: u8 = rest.split(':').next().unwrap().parse().unwrap();
            if self.wrong_once == Some(index) {
                self.wrong_once = None;
                return Ok(Some(Zeroizing::new(shown.replace('A', "B").replace('a', "b") + "x")));
            }
            // With blanks around it: the same share.
            return Ok(Some(Zeroizing::new(format!("  {shown} "))));
        }
        Ok(self.passwords.pop_front().map(|p| Zeroizing::new(p.to_owned())))
    }
    fn message(&mut self, text: &str) -> io::Result<()> {
        if let Some(share) =
            text.lines().find(|l| l.len() > 40 && l.as_bytes().get(1) == Some(&b'-'))
        {
            self.shown = Some(share.to_owned());
        }
        self.transcript.push(text.to_owned());
        Ok(())
    }
    fn clear_screen(&mut self) -> io::Result<()> {
        self.transcript.push(CLEARED.to_owned());
        Ok(())
    }
    fn is_interactive(&self) -> bool {
        true
    }
}

#[test]
fn at_a_terminal_each_share_is_shown_alone_typed_back_and_shown_again_if_wrong() {
    let fx = Fx::new("terminal");
    let dev = device();
    let mut p = Custodians {
        transcript: Vec::new(),
        shown: None,
        wrong_once: Some(2),
        // Domains, wrap id, shares, threshold, RSA, app id, audit: all defaults.
        answers: VecDeque::from(vec!["", "", "", "", "n", "", "n"]),
        passwords: VecDeque::from(vec!["app-secret", "app-secret"]),
    };
    let args = Args { dir: fx.backup(), ..Args::default() };
    let ran = run_with(&fx, &dev, &args, true, &mut p);
    let report = ran.result.unwrap_or_else(|e| panic!("{}\n{:#?}", e.render(), p.transcript));
    assert!(logs_in(&dev, 3, "app-secret"));
    assert!(report.share_files.is_empty());
    let t = &p.transcript;
    let shown: Vec<usize> = t
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("(share check value"))
        .map(|(i, _)| i)
        .collect();
    // Three shares, share 2 twice.
    assert_eq!(shown.len(), 4, "{t:#?}");
    for &i in &shown {
        // Each shown right after a cleared screen, and the screen cleared before it is
        // typed back.
        assert_eq!(t[i - 1], CLEARED, "{t:#?}");
        let next_clear = t[i..].iter().position(|l| l == CLEARED).unwrap() + i;
        let next_typed =
            t[i..].iter().position(|l| l.starts_with("(secret) Custodian")).unwrap() + i;
        assert!(next_clear < next_typed, "{t:#?}");
    }
    assert!(t.iter().any(|l| l.starts_with("That is not key share 2")), "{t:#?}");
    assert_eq!(
        t.iter().filter(|l| l.starts_with("Key share ") && l.contains("confirmed")).count(),
        3
    );
    assert_eq!(t.last().map(String::as_str), Some(CLEARED), "the screen is cleared at the end");
    // The wrap key was not written before every share was confirmed.
    let confirmed3 = ran.out.find("Key check value of wrap key").unwrap();
    assert!(confirmed3 < ran.out.find("Stored wrap key").unwrap());
}

#[test]
fn over_http_through_the_binary() {
    let fx = Fx::new("http");
    let server = Server::start(&fx.dir, &["sim", "serve", "--listen", "127.0.0.1:0"]);
    let url = server.url.clone();
    let out = run_yhsm(
        &fx.dir,
        &[
            "-c",
            &url,
            "--password-file",
            "pw",
            "setup",
            "backup",
            "--shares-dir",
            "shares",
            "--app-password-file",
            "app",
            "--audit-key-id",
            "0x0005",
            "--audit-password-file",
            "audit",
            "-t",
            "3",
            "-n",
            "4",
        ],
    );
    let stdout = ok(&out);
    assert!(stdout.contains("Keys that can log in: 0x0003, 0x0005"), "{stdout}");
    assert!(stdout.contains("Shares: 4, any 3 recover"), "{stdout}");
    let list = ok(&run_yhsm(&fx.dir, &["-c", &url, "-k", "3", "--password-file", "app", "list"]));
    assert!(list.contains("3 objects"), "{list}");
    let login = run_yhsm(&fx.dir, &["-c", &url, "--password-file", "pw", "list"]);
    assert!(!login.status.success(), "the factory key is gone");
    // A second setup in the same directory is refused, naming the first.
    let again = run_yhsm(
        &fx.dir,
        &[
            "-c",
            &url,
            "-k",
            "3",
            "--password-file",
            "app",
            "setup",
            "backup",
            "--shares-dir",
            "s2",
            "--app-password-file",
            "app",
            "--app-key-id",
            "6",
        ],
    );
    assert_eq!(again.status.code(), Some(1));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("finish that setup with --resume"), "{err}");
    // Without a terminal and without --shares-dir: a usage error naming the option.
    let usage = run_yhsm(&fx.dir, &["-c", &url, "setup", "b2", "--app-password-file", "app"]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("--shares-dir"));
    let help = ok(&run_yhsm(&fx.dir, &["setup", "--help"]));
    assert!(help.contains("--resume") && help.contains("wrap-only"));
}
