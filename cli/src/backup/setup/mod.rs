//! `yhsm setup [DIR]`: the primary's configuration (issue 11), as yubihsm-setup 2.3.4's
//! `ksp` flow makes it — a wrap key split into shares for custodians, an application
//! authentication key and optionally an audit key, both exported under wrap into DIR, the
//! factory key deleted — with the same objects, labels, capabilities, file names and share
//! format by default, so that yubihsm-setup's restore and `yhsm restore` both accept the
//! result. Profiles: [`profile`].
//!
//! Where yubihsm-setup is unsafe, this does better:
//!
//! - The wrap key is the device's random bytes (GET_PSEUDO_RANDOM, docs/PROTOCOL.md §7.2)
//!   XOR the host's, so neither source alone decides it.
//! - Each share is confirmed: shown alone on a cleared screen, then typed back without echo
//!   by its custodian (a mismatch shows it again); or, without a terminal, written to one
//!   file per custodian in `--shares-dir` (0600, never over an existing file).
//! - The backup's wrap-key description ([`description`]) records the key check value and
//!   each share's check value, so that restore checks every share as it is typed.
//! - Nothing is written to the device before the shares are out, and nothing is deleted
//!   before every new key has proven its password by opening a session.
//!
//! # The order of work, and what survives an interruption
//!
//! 1. Offline: the options, the passwords from files, DIR (no `.yhw` file or wrap-key
//!    description there, unless `--resume`), the shares directory.
//! 2. Log in; list the device; check that the ids are free (unless `--resume`) and that
//!    the login key may do every step; ask what the options leave open (at a terminal);
//!    print the plan.
//! 3. The wrap key: device random XOR host random, split; the description (with the key
//!    check value and the shares' check values) written to DIR; the shares handed out and
//!    confirmed. **From here the custodians hold shares**, and the description in DIR is
//!    the record of them.
//! 4. The wrap key stored (a lost answer settled by looking, as restore does).
//! 5. The application and audit keys created, each proven by a session
//!    ([`admin::authkey`]).
//! 6. Both exported under the wrap key into DIR, as yubihsm-setup names them
//!    (`0x0003-authentication-key.yhw`: base64, atomic, 0600).
//! 7. Each key made by an earlier run proven by a session with its password.
//! 8. Only then the login key deleted (`--keep-authkey` keeps it, and says so; `wrap-only`
//!    makes no key to log in with, and keeps it).
//!
//! `--resume` finishes an interrupted run from what DIR and the device hold: the
//! description in DIR gives the wrap key's id and attributes, its shares' check values and
//! the rest of the plan (the profile and the ids, labels and capabilities of the keys the
//! run makes: an option left out is taken from it, one that disagrees with it is refused
//! before anything is written, so a resume that forgets `--audit` still exports the audit
//! key before the login key is deleted);
//! a wrap key not yet on the device is recovered from the shares the custodians hold
//! (`--shares-file`, the share files still in `--shares-dir`, or typed), each share checked
//! against its check value and the key against the key check value, and stored; keys
//! already made are checked against the plan and proven with their passwords; the exports
//! are written again. So shares handed out before an interruption stay valid. An error
//! after step 3 says so: it names the wrap key and its key check value, whether it is on
//! the device, and how to finish.
//!
//! Here: the command ([`command`]: offline checks, login, plan); the plan in `plan.rs`,
//! the steps in `engine.rs`, handing out shares in `handout.rs`, the summary in
//! `report.rs`.
//!
//! [`description`]: crate::backup::description
//! [`admin::authkey`]: crate::admin::authkey

mod engine;
mod handout;
mod plan;
pub mod profile;
mod report;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use yhsm_proto::shares::ShareFormat;
use yhsm_proto::{Capabilities, Domains, ObjectId};

pub use self::handout::share_file_name;
pub use self::plan::{KeySpec, Plan};
pub use self::profile::SetupProfile;
pub use self::report::{Line, SetupReport};
use crate::backup::description::{self, Described};
use crate::backup::dir;
use crate::device::{self, OpenTransport};
use crate::error::{Error, Result};
use crate::options::GlobalOptions;
use crate::util::password::{NEW_PASSWORD_FILE, NewPassword, Password, read_password_file};
use crate::util::prompt::Prompter;
use crate::util::text;

/// The wrap key's id unless `--wrap-key-id` says otherwise (yubihsm-setup's guide).
pub const DEFAULT_WRAP_KEY_ID: ObjectId = 2;
/// The application key's id unless `--app-key-id` says otherwise.
pub const DEFAULT_APP_KEY_ID: ObjectId = 3;
/// The audit key's id unless `--audit-key-id` says otherwise.
pub const DEFAULT_AUDIT_KEY_ID: ObjectId = 4;
/// Shares made and needed unless `-n` and `-t` say otherwise (the guide's 2 of 3).
pub const DEFAULT_SPLIT: (u8, u8) = (2, 3);
/// The domains of the new keys unless `--domains` says otherwise.
pub const DEFAULT_DOMAINS: Domains = Domains(1);

/// What `yhsm setup` was asked to do. `None` is left to the defaults, or asked at a
/// terminal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Args {
    /// The backup directory (default `.`, as yubihsm-setup writes to the current one).
    pub dir: PathBuf,
    /// `--profile`; `None`: `ksp`, or with `--resume` the interrupted run's.
    pub profile: Option<SetupProfile>,
    pub domains: Option<Domains>,
    pub wrap_key_id: Option<ObjectId>,
    pub app_key_id: Option<ObjectId>,
    pub audit_key_id: Option<ObjectId>,
    /// `--audit` (true) or `--no-audit` (false).
    pub audit: Option<bool>,
    /// `--rsa-decryption` (ksp): decrypt-pkcs and decrypt-oaep for the keys.
    pub rsa_decryption: Option<bool>,
    /// The application key's capabilities.
    pub capabilities: Option<Capabilities>,
    /// The application key's delegated capabilities (with `wrap-only`: the wrap key's).
    pub delegated: Option<Capabilities>,
    /// The wrap key's delegated capabilities.
    pub wrap_delegated: Option<Capabilities>,
    pub threshold: Option<u8>,
    pub shares: Option<u8>,
    pub share_format: ShareFormat,
    /// Write one file per custodian here instead of showing the shares at the terminal.
    pub shares_dir: Option<PathBuf>,
    /// `--resume`: the shares of the interrupted run's wrap key.
    pub shares_files: Vec<PathBuf>,
    pub app_password: NewPassword,
    pub audit_password: NewPassword,
    pub keep_authkey: bool,
    pub resume: bool,
    /// `--yes`: no confirmation of the plan at a terminal.
    pub yes: bool,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("."),
            profile: None,
            domains: None,
            wrap_key_id: None,
            app_key_id: None,
            audit_key_id: None,
            audit: None,
            rsa_decryption: None,
            capabilities: None,
            delegated: None,
            wrap_delegated: None,
            threshold: None,
            shares: None,
            share_format: ShareFormat::YubihsmSetup,
            shares_dir: None,
            shares_files: Vec::new(),
            app_password: NewPassword::Prompt,
            audit_password: NewPassword::Prompt,
            keep_authkey: false,
            resume: false,
            yes: false,
        }
    }
}

impl Args {
    /// The profile: `--profile`, else `ksp`.
    pub fn profile(&self) -> SetupProfile {
        self.profile.unwrap_or(profile::KSP)
    }

    /// Whether an audit key was asked for, by `--audit` or by an option only an audit key
    /// needs.
    fn audit_implied(&self) -> bool {
        self.audit_key_id.is_some() || matches!(self.audit_password, NewPassword::File(_))
    }

    /// The checks that need neither the device nor DIR; usage errors (exit 2). `login` is
    /// the key of `-k`; `interactive`: standard input is a terminal.
    pub fn check(&self, login: ObjectId, interactive: bool) -> Result<()> {
        let wrap_only = !self.profile().makes_keys();
        if wrap_only {
            let app_options = [
                ("--capabilities", self.capabilities.is_some()),
                ("--app-key-id", self.app_key_id.is_some()),
                ("--audit", self.audit == Some(true) || self.audit_implied()),
                ("--app-password-file", matches!(self.app_password, NewPassword::File(_))),
                ("--rsa-decryption", self.rsa_decryption.is_some()),
            ];
            if let Some((option, _)) = app_options.iter().find(|(_, given)| *given) {
                return Err(Error::usage(format!(
                    "{option}: --profile wrap-only makes only the wrap key and its shares (no \
                     authentication key, and the login key is kept)"
                )));
            }
            if self.delegated.is_some() && self.wrap_delegated.is_some() {
                return Err(Error::usage(
                    "--delegated and --wrap-delegated both give the wrap key's delegated \
                     capabilities with --profile wrap-only; use one",
                ));
            }
        }
        if self.rsa_decryption.is_some() && !self.profile().asks_rsa_decryption {
            return Err(Error::usage(format!(
                "--rsa-decryption goes with --profile ksp; for {}, give the capabilities with \
                 --capabilities and --delegated",
                self.profile().name
            )));
        }
        if self.audit == Some(false) && self.audit_implied() {
            return Err(Error::usage(
                "--no-audit, but --audit-key-id or --audit-password-file asks for an audit key",
            ));
        }
        for (option, id) in [
            ("--wrap-key-id", self.wrap_key_id),
            ("--app-key-id", self.app_key_id),
            ("--audit-key-id", self.audit_key_id),
        ] {
            if id == Some(0) {
                return Err(Error::usage(format!(
                    "{option} 0: setup needs the id before it stores the key (the shares carry \
                     the wrap key's, and a resumed run finds the keys by theirs); give an id \
                     from 1 to 0xffff"
                )));
            }
        }
        let (threshold, count) = self.split_or_default();
        if threshold > count {
            return Err(Error::usage(format!(
                "a threshold of {threshold} (-t) is more than the {count} shares made (-n): \
                 make from {threshold} to 9 shares"
            )));
        }
        if !wrap_only {
            let app = self.app_key_id.unwrap_or(DEFAULT_APP_KEY_ID);
            let audit = self.audit_key_id.unwrap_or(DEFAULT_AUDIT_KEY_ID);
            let audit_made = self.audit == Some(true) || self.audit_implied();
            if audit_made && app == audit {
                return Err(Error::usage(format!(
                    "the application key and the audit key would both be authentication key \
                     0x{app:04x}: give each its own id (--app-key-id, --audit-key-id)"
                )));
            }
            if app == login || (audit_made && audit == login) {
                return Err(Error::usage(format!(
                    "authentication key 0x{login:04x} (-k) is the one used to log in, and \
                     setup would make a new key with that id: give the new keys other ids \
                     (--app-key-id, --audit-key-id)"
                )));
            }
        }
        if let Some(shares_dir) = &self.shares_dir
            && same_dir(shares_dir, &self.dir)
        {
            return Err(Error::usage(
                "--shares-dir is the backup directory: shares kept beside the backup let \
                 anyone who reads the directory restore it; give the shares a directory of \
                 their own",
            ));
        }
        if !self.shares_files.is_empty() && !self.resume {
            return Err(Error::usage(
                "--shares-file goes with --resume: it gives the shares of an interrupted \
                 setup's wrap key",
            ));
        }
        if !interactive {
            self.check_scripted(wrap_only)?;
        }
        Ok(())
    }

    /// Without a terminal, every answer must come from an option.
    fn check_scripted(&self, wrap_only: bool) -> Result<()> {
        let no_terminal = "and standard input is not a terminal";
        if self.shares_dir.is_none() && !self.resume {
            return Err(Error::usage(format!(
                "setup shows each share to its custodian at the terminal, {no_terminal}"
            ))
            .with_hint("give --shares-dir DIR to write one file per custodian instead"));
        }
        if !wrap_only && self.app_password == NewPassword::Prompt {
            return Err(Error::usage(format!(
                "the application key's password is asked for at the terminal, {no_terminal}"
            ))
            .with_hint("give it with --app-password-file FILE"));
        }
        let audit = self.audit == Some(true) || self.audit_implied();
        if audit && self.audit_password == NewPassword::Prompt {
            let planned =
                if self.resume { " (the interrupted setup's plan makes an audit key)" } else { "" };
            return Err(Error::usage(format!(
                "the audit key's password is asked for at the terminal{planned}, {no_terminal}"
            ))
            .with_hint("give it with --audit-password-file FILE"));
        }
        Ok(())
    }

    /// `(threshold, count)`: the options, else the defaults (a count below a given
    /// threshold is raised to it, so `-t 3` alone makes 3 of 3).
    fn split_or_default(&self) -> (u8, u8) {
        let threshold = self.threshold.unwrap_or(DEFAULT_SPLIT.0);
        let count = self.shares.unwrap_or(DEFAULT_SPLIT.1.max(threshold));
        (threshold, count)
    }
}

/// Whether two paths name the same directory (the same text, or the same directory on
/// disk).
fn same_dir(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The passwords read from their files before the device is touched.
#[derive(Debug, Default)]
pub(crate) struct FilePasswords {
    pub application: Option<Password>,
    pub audit: Option<Password>,
}

fn read_passwords(args: &Args) -> Result<FilePasswords> {
    let read = |source: &NewPassword| match source {
        NewPassword::File(path) => read_password_file(path, NEW_PASSWORD_FILE).map(Some),
        NewPassword::Prompt => Ok(None),
    };
    Ok(FilePasswords { application: read(&args.app_password)?, audit: read(&args.audit_password)? })
}

/// What DIR holds of an earlier setup: its wrap-key description, if any. A fresh run
/// (no `--resume`) refuses a directory that holds a backup already; so does a resume that
/// finds no description (there is no setup to finish, and its exports would write over
/// the files there).
fn check_dir(args: &Args) -> Result<Option<Described>> {
    let described = description::read_dir(&args.dir)?;
    let shown = text::printable(&args.dir.display().to_string());
    if !args.resume || described.is_empty() {
        if let Some(d) = described.first() {
            let kcv = d
                .description
                .kcv
                .map_or(String::new(), |k| format!(" (key check value {})", hex::encode(k)));
            return Err(Error::failure(format!(
                "`{shown}` already holds {}: a setup described wrap key 0x{:04x}{kcv} there, \
                 and may have handed out its shares",
                d.file, d.description.id
            ))
            .with_hint(
                "finish that setup with --resume; to start over instead, move the directory's \
                 files away and have the custodians destroy the shares of that key check value",
            ));
        }
        if let Some(file) = backup_files(&args.dir).first() {
            return Err(Error::failure(format!(
                "`{shown}` already holds .yhw files ({file}): setup writes a new backup"
            ))
            .with_hint("give setup an empty directory (or one without .yhw files)"));
        }
        return Ok(None);
    }
    match described.len() {
        0 | 1 => Ok(described.into_iter().next()),
        _ => Err(Error::failure(format!(
            "`{shown}` holds {} wrap-key descriptions; --resume finishes the setup of one",
            described.len()
        ))
        .with_hint("resume in the directory the interrupted setup wrote to")),
    }
}

/// The `.yhw` files of `dir`, by name.
fn backup_files(dir: &Path) -> Vec<String> {
    let Ok(listing) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> = listing
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| dir::is_backup_file(p))
        .filter_map(|p| p.file_name().map(|n| text::printable(&n.to_string_lossy())))
        .collect();
    names.sort();
    names
}

/// Runs `yhsm setup` on the device of the global options; `interactive`: standard input
/// is a terminal, where `prompter` asks what the options leave open, shows the shares and
/// reads passwords. Progress goes to `sink` as it happens.
pub fn command(
    global: &GlobalOptions,
    args: &Args,
    interactive: bool,
    prompter: &mut dyn Prompter,
    env_password: Option<OsString>,
    sink: &mut dyn FnMut(Line),
) -> Result<SetupReport> {
    let mut opener = device::opener(global);
    command_with(global, args, interactive, prompter, env_password, &mut opener, sink)
}

/// [`command`] on the device `transport` opens (the fault-injection tests pass a
/// simulator they hold).
pub fn command_with(
    global: &GlobalOptions,
    args: &Args,
    interactive: bool,
    prompter: &mut dyn Prompter,
    env_password: Option<OsString>,
    transport: &mut OpenTransport<'_>,
    sink: &mut dyn FnMut(Line),
) -> Result<SetupReport> {
    // With --resume, the plan the interrupted run recorded in its description fills in
    // the options left out (and an option that disagrees with it is refused), before the
    // options are checked.
    let resumed;
    let (args, earlier) = if args.resume {
        let earlier = check_dir(args)?;
        resumed = match &earlier {
            Some(d) => plan::resume_args(args, d)?,
            None => args.clone(),
        };
        (&resumed, earlier)
    } else {
        (args, None)
    };
    args.check(global.authkey, interactive)?;
    let passwords = read_passwords(args)?;
    // Without --resume, DIR is checked after the options (with it, it was read above).
    let earlier = if args.resume { earlier } else { check_dir(args)? };
    if let Some(dir) = &args.shares_dir
        && earlier.is_none()
    {
        handout::check_shares_dir(dir)?;
    }
    let login = device::login_now(global, env_password, prompter, transport)?;
    sink(Line::Out(format!("Using authentication key 0x{:04x}", login.credentials.key_id())));
    engine::run(engine::Context { login, args, earlier, passwords, interactive, prompter, sink })
}
