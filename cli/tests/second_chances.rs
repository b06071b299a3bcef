//! Second chances and sane prompts (issue 10 §5), through `restore::command_with` (the
//! function behind `yhsm restore`) with scripted answers at the prompts, on the
//! simulator: the password is checked before custodians type their shares, a wrong
//! password or wrong shares are asked for again instead of ending the run, and files
//! under another key can be declared another backup's, at the terminal or with
//! `--allow-skipped`.

#![cfg(feature = "sim")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::fs;
use std::path::{Path, PathBuf};

use yhsm::backup::report::Outcome;
use yhsm::backup::restore::{self, Args, Event, RestoreReport};
use yhsm::options::GlobalOptions;
use yhsm::util::password::PasswordOptions;
use yhsm::util::prompt::ScriptedPrompter;
use yhsm_proto::{ObjectId, ObjectType};
use yhsm_sim::{Config, Device, SharedDevice};
use yhsm_transport::sim::SimTransport;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/backup");
const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/wrapped");
const VECTOR_SHARES: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vectors-wrap-key-shares.txt");
const AUTH: ObjectType = ObjectType::AUTHENTICATION_KEY;
/// A well-formed share of another split: with a good one, it combines into a wrong key.
const OTHER: &str = "2-2-Hn4VkmaH3+/D8US63Y1MiFHDBS+vloQNxm3F1scWCtUKFnp65d/0fWW/RGYguWyzKP+PMg";
const PASSWORD_PROMPT: &str = "(secret) Password for authentication key 0x0001: ";
const COUNT_PROMPT: &str = "Enter the number of shares: ";

fn device() -> SharedDevice {
    SharedDevice::new(Device::new(Config::default()).unwrap())
}

fn objects(dev: &SharedDevice) -> Vec<(ObjectId, ObjectType)> {
    let mut out: Vec<_> = dev.lock().store().iter().map(|o| (o.id, o.object_type)).collect();
    out.sort();
    out
}

/// The example's shares.
fn example_shares() -> Vec<String> {
    fs::read_to_string(Path::new(EXAMPLE).join("shares.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

struct Ran {
    result: Result<RestoreReport, yhsm::Error>,
    events: Vec<Event>,
    transcript: Vec<String>,
}

impl Ran {
    fn report(&self) -> &RestoreReport {
        self.result.as_ref().unwrap_or_else(|e| panic!("{}", e.render()))
    }

    fn count(&self, line: &str) -> usize {
        self.transcript.iter().filter(|l| *l == line).count()
    }
}

fn restore_on(
    dev: &SharedDevice,
    args: &Args,
    password_file: Option<PathBuf>,
    mut prompter: ScriptedPrompter,
) -> Ran {
    let global = GlobalOptions {
        connector: "sim:".parse().unwrap(),
        password: PasswordOptions { file: password_file, argument: None },
        ..GlobalOptions::default()
    };
    let mut events = Vec::new();
    let mut open = |_: &_| -> Result<Box<dyn yhsm_transport::Transport>, _> {
        Ok(Box::new(SimTransport::from_shared(dev.clone())))
    };
    let result = restore::command_with(&global, args, &mut prompter, None, &mut open, &mut |e| {
        events.push(e.clone());
    });
    Ran { result, events, transcript: prompter.transcript }
}

fn example_args() -> Args {
    Args { dir: PathBuf::from(EXAMPLE), ..Args::default() }
}

/// The example's `.yhw` files without its wrap-key description, whose share check values
/// would refuse a wrong share as it is typed (`tests/wrap_key_identity.rs`): here the
/// shares must get as far as decrypting.
fn example_without_description_args(name: &str) -> Args {
    let dir = std::env::temp_dir().join(format!("yhsm-second-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    for entry in fs::read_dir(EXAMPLE).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yhw") {
            fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    Args { dir, ..Args::default() }
}

/// Before: the shares were asked for first, and a wrong password ended the run after the
/// custodians had typed them. Now the password comes first (yubihsm-setup's order), up
/// to three tries, and the shares once, after it is known to be right.
#[test]
fn the_password_is_checked_before_anyone_types_a_share() {
    let shares = example_shares();
    let dev = device();
    let answers = ["wrong", "also wrong", "password", "2", &shares[0], &shares[1]];
    let ran = restore_on(&dev, &example_args(), None, ScriptedPrompter::new(&answers));
    assert!(ran.report().ok(), "{:?}", ran.report().error);
    assert_eq!(ran.count(PASSWORD_PROMPT), 3, "{:?}", ran.transcript);
    assert_eq!(ran.count(COUNT_PROMPT), 1, "{:?}", ran.transcript);
    let first_share = ran.transcript.iter().position(|l| l == COUNT_PROMPT).unwrap();
    let last_password = ran.transcript.iter().rposition(|l| l == PASSWORD_PROMPT).unwrap();
    assert!(last_password < first_share, "{:?}", ran.transcript);
    assert!(
        ran.transcript.contains(
            &"Wrong password for authentication key 0x0001 (or another key under that id); 2 \
              attempts left"
                .to_owned()
        ),
        "{:?}",
        ran.transcript
    );
    // "Using authentication key 0x0001" comes first, as yubihsm-setup prints it.
    assert_eq!(ran.events.first(), Some(&Event::UsingAuthKey(1)));
    assert_eq!(ran.events.iter().filter(|e| matches!(e, Event::UsingAuthKey(_))).count(), 1);
    assert!(!objects(&dev).contains(&(1, AUTH)), "restored, and the login key deleted");
}

#[test]
fn three_wrong_passwords_end_the_run_before_any_share_is_asked_for() {
    let dev = device();
    let answers = ["a", "b", "c", "2"];
    let ran = restore_on(&dev, &example_args(), None, ScriptedPrompter::new(&answers));
    let e = ran.result.as_ref().unwrap_err();
    assert!(e.chain().starts_with("cannot log in; nothing was written"), "{}", e.chain());
    assert_eq!(ran.count(PASSWORD_PROMPT), 3);
    assert_eq!(ran.count(COUNT_PROMPT), 0, "nobody typed a share: {:?}", ran.transcript);
    assert_eq!(objects(&dev), [(1, AUTH)]);
}

#[test]
fn a_wrong_password_from_a_file_is_not_asked_for_again() {
    let dir = std::env::temp_dir().join(format!("yhsm-second-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("pw.txt"), "not the password\n").unwrap();
    let dev = device();
    let ran =
        restore_on(&dev, &example_args(), Some(dir.join("pw.txt")), ScriptedPrompter::new(&["2"]));
    assert!(ran.result.is_err());
    assert!(ran.transcript.is_empty(), "asked nothing: {:?}", ran.transcript);
}

/// Before: a share mistyped in its key part combined into a wrong key, nothing decrypted,
/// and the run ended: every custodian started over with the password. Now it is said at
/// once and the shares asked for again.
#[test]
fn shares_under_which_nothing_decrypts_are_asked_for_again() {
    let shares = example_shares();
    let dev = device();
    let answers = ["password", "2", &shares[0], OTHER, "2", &shares[2], &shares[1], "y"];
    let args = example_without_description_args("nothing-decrypts");
    let ran = restore_on(&dev, &args, None, ScriptedPrompter::new(&answers));
    assert!(ran.report().ok(), "{:?}", ran.report().error);
    assert_eq!(ran.count(PASSWORD_PROMPT), 1);
    assert_eq!(ran.count(COUNT_PROMPT), 2);
    assert!(
        ran.transcript.contains(
            &"None of the 5 .yhw files decrypts under the key these shares recover: a share is \
              wrong (mistyped, or of another wrap key). Nothing was written. Enter the shares \
              again (2 tries left)."
                .to_owned()
        ),
        "{:?}",
        ran.transcript
    );
    // The wrong key never reached the device.
    assert_eq!(objects(&dev).len(), 6, "{:?}", objects(&dev));

    // Three wrong rounds: preflight's error, and nothing written.
    let dev = device();
    let mut answers = vec!["password"];
    for _ in 0..3 {
        answers.extend(["2", &shares[0], OTHER]);
    }
    let ran = restore_on(&dev, &args, None, ScriptedPrompter::new(&answers));
    let e = ran.report().error.as_ref().unwrap().chain();
    assert!(e.starts_with("none of the 5 .yhw files in"), "{e}");
    assert_eq!(ran.count(COUNT_PROMPT), 3);
    assert_eq!(objects(&dev), [(1, AUTH)]);
}

fn vector_args(allow_skipped: bool) -> Args {
    Args {
        dir: PathBuf::from(VECTORS),
        shares_files: vec![PathBuf::from(VECTOR_SHARES)],
        allow_skipped,
        ..Args::default()
    }
}

fn password_file() -> Option<PathBuf> {
    Some(Path::new(EXAMPLE).join("password.txt"))
}

/// The vectors: ten files under the shares' key, three under other keys (the guide's
/// "restores only the files it can decrypt"). Before, the run always kept the login key
/// and exited 1; now the operator can say that the three are another backup's.
#[test]
fn files_under_another_key_can_be_declared_another_backups() {
    const SKIPPED: [&str; 3] = [
        "authkey_app_secret_aes128wrap.yhw",
        "ec_p256_under_aes128.yhw",
        "ec_p256_under_aes192.yhw",
    ];
    // Non-interactively, --allow-skipped.
    let dev = device();
    let ran = restore_on(&dev, &vector_args(true), password_file(), ScriptedPrompter::default());
    let report = ran.report();
    assert!(report.ok(), "{:?}", report.error);
    assert!(report.auth_key_deleted);
    assert_eq!(report.skipped_other_backup, SKIPPED);
    let json = report.to_json().to_pretty().to_string();
    assert!(
        json.contains("\"skipped_other_backup\": [\n    \"authkey_app_secret_aes128wrap.yhw\""),
        "{json}"
    );
    assert_eq!(
        report.files.iter().filter(|f| f.outcome == Outcome::Skipped).count(),
        3,
        "still reported as skipped, file by file"
    );
    let said = restore::render(
        ran.events.iter().find(|e| matches!(e, Event::SkippedOtherBackup(_))).unwrap(),
    );
    assert_eq!(
        said,
        [restore::Line::Out(format!(
            "3 files are not restored: they are another backup's, as you said: {}",
            SKIPPED.join(", ")
        ))]
    );

    // At a terminal: listed, and asked.
    for (answer, deleted) in [("y", true), ("n", false), ("", false)] {
        let dev = device();
        let prompter = ScriptedPrompter::interactive(&[answer]);
        let ran = restore_on(&dev, &vector_args(false), password_file(), prompter);
        let t = ran.transcript.join("\n");
        assert!(t.contains("3 of the backup's .yhw files do not decrypt under the key"), "{t}");
        for name in SKIPPED {
            assert!(t.contains(&format!("\n  {name}")), "{t}");
        }
        assert!(t.ends_with("Do these files belong to another backup? [y/N]: "), "{t}");
        assert_eq!(ran.report().auth_key_deleted, deleted, "answer {answer:?}");
        assert_eq!(ran.report().ok(), deleted, "answer {answer:?}");
    }

    // A script is never asked: without --allow-skipped the login key is kept.
    let dev = device();
    let ran = restore_on(&dev, &vector_args(false), password_file(), ScriptedPrompter::default());
    assert!(ran.transcript.is_empty());
    assert!(!ran.report().auth_key_deleted);
    assert!(objects(&dev).contains(&(1, AUTH)));
}

#[test]
fn allowing_skipped_files_does_not_excuse_damaged_ones() {
    // A file that is not a wrapped object at all (here, not base64) is no other backup's
    // file: it still keeps the login key.
    let dir = std::env::temp_dir().join(format!("yhsm-second-damaged-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    for entry in fs::read_dir(EXAMPLE).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yhw") {
            fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    fs::write(dir.join("zz-notes.yhw"), "not base64!").unwrap();
    let dev = device();
    let args = Args {
        dir,
        shares_files: vec![Path::new(EXAMPLE).join("shares.txt")],
        allow_skipped: true,
        ..Args::default()
    };
    let ran = restore_on(&dev, &args, password_file(), ScriptedPrompter::default());
    assert!(!ran.report().ok());
    assert!(!ran.report().auth_key_deleted);
    assert!(ran.report().skipped_other_backup.is_empty());
}
