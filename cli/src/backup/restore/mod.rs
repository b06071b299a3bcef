//! `yhsm restore`: puts a backup directory back onto a YubiHSM 2, as yubihsm-setup's
//! `restore` does (docs/PROTOCOL.md §7 "Commands and their payloads", §5, §6), with a
//! preflight, per-object progress, a verification of everything restored, and a login
//! key that is only deleted when that is safe.
//!
//! The order of work, and the rules it keeps:
//!
//! 1. Every `*.yhw` of the directory is read in sorted name order ([`Backup`]).
//! 2. The wrap key comes from shares, each checked as it is entered against the check
//!    values the backup's wrap-key description records, if it records any. **Preflight**:
//!    every file is decrypted before anything is written. If none decrypts, the shares
//!    are wrong and nothing is written. Files under another key (or damaged: they do not
//!    decrypt either) are skipped ("not wrapped under this key") and count as not
//!    restored. Then the wrap key's identity is checked ([`identity`]): its attributes
//!    against the backup's objects, its description and the pins of the command line; a
//!    mismatch stops the run, and when nothing vouches for the attributes an interactive
//!    run asks the operator to confirm them.
//! 3. Connect and log in (with typed shares this comes first, before any share is asked
//!    for: [`device::login_now`]); list the device's objects. Preflight on the device
//!    ([`preflight`]): the login key's permissions and the free storage against what the
//!    run will do; with the offline problems (two files for one object), every problem is
//!    reported and the run stops before its first write. The wrap key is stored, or, if
//!    an object with its id and type exists, used as it is (the imports show whether it
//!    is the same key; its attributes are compared with the shares').
//! 4. Each object not already on the device with the same (id, type) is imported. One
//!    already there is skipped, and still verified, so a second run finishes an
//!    interrupted one. A device refusal fails that object and the others go on.
//! 5. Every object is verified against the backup ([`check_entry`]): its attributes
//!    always, and its content where the device held the object before this run (an object
//!    imported now holds the blob's: see [`Provenance`]); one whose content cannot be
//!    proven is "present, content not verified", never verified.
//! 6. The login key is deleted only when every file was restored and verified (a skipped
//!    file may be a damaged object of the backup; copies of another file's object aside),
//!    the login key is not itself in the backup (deleting it would delete a restored
//!    key), and another authentication key from the backup is on the device, verified,
//!    and (for a symmetric key) opens a session. Otherwise it is kept, and the reason
//!    said. `--keep-authkey` always keeps it. Files under another key that the operator
//!    declared another backup's (`--allow-skipped`, or asked at a terminal) do not keep
//!    it. Then `All done`, and the authentication keys left to log in with.
//!
//! A write whose outcome is unknown — its answer lost or garbled, or its session expired
//! under it (the client never sends such a command twice, see `yhsm_transport`'s retry
//! rules) — is settled by looking at the device: the wrap key or object found there was
//! stored, one not found is sent once more; a login key no longer there was deleted. A
//! read that fails the same way (listing, verifying, a proof session) is done once more.
//! Each is reported as [`Event::Retried`]. When the device cannot be asked (unplugged, or
//! the look fails too), the run stops, naming the step and the object, and says whether
//! the object may have been written; running restore again finishes the job.
//!
//! `--dry-run` runs steps 1 to 3 without writing, every preflight check included, and
//! reports the plan; it fails when the real run would.
//!
//! Here: the command ([`command`]: backup, shares, login). The steps are in `engine.rs`
//! (with `settle_write`, the one place a write of unknown outcome is settled, open to the
//! rest of the crate), preflight's checks in `preflight.rs`, the questions asked at a
//! terminal in `interactive.rs`, what the steps report as they go in `event.rs`, what the
//! run returns in `report.rs`.
//!
//! [`check_entry`]: crate::backup::compare::check_entry
//! [`Provenance`]: crate::backup::compare::Provenance
//! [`identity`]: crate::backup::identity

pub(crate) mod engine;
mod event;
mod interactive;
pub mod preflight;
mod report;

use std::ffi::OsString;
use std::path::PathBuf;

use yhsm_proto::shares::KCV_LEN;
use yhsm_proto::wrap::WrapKey;
use yhsm_proto::{Domains, ObjectId};

pub use self::engine::{WRAP_KEYS_DIFFER_HINT, run, run_under};
pub use self::event::{Event, Line, Step, render};
pub use self::report::RestoreReport;
use crate::backup::Backup;
use crate::backup::compare::Attributes;
use crate::backup::description::{self, Described};
use crate::backup::identity::{self, Pins};
use crate::device::{self, OpenTransport};
use crate::error::{Error, Result};
use crate::options::GlobalOptions;
use crate::util::prompt::{Prompter, confirm};
use crate::wrapkey::shares::{self, RecoveredKey};
use yhsm_transport::Client;

/// The label of a wrap key stored from shares (the shares carry none), unless the backup
/// holds the wrap key object itself.
pub const WRAP_KEY_LABEL: &str = "Wrap key";

/// What `yhsm restore` was asked to do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// The backup directory (default `.`).
    pub dir: PathBuf,
    /// `--shares-file`, once or once per custodian; none: ask for the shares at the
    /// terminal.
    pub shares_files: Vec<PathBuf>,
    pub keep_authkey: bool,
    pub dry_run: bool,
    pub json: bool,
    /// `--allow-skipped`: files that do not decrypt under the shares' key belong to
    /// another backup, so they do not keep the login key.
    pub allow_skipped: bool,
    /// `--wrap-key-id`: the id the wrap key from the shares must have.
    pub wrap_key_id: Option<ObjectId>,
    /// `--expect-domains`: the domains it must have.
    pub expect_domains: Option<Domains>,
    /// `--expect-kcv`: the key check value it must have.
    pub expect_kcv: Option<[u8; KCV_LEN]>,
}

/// Choices that change what the engine does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Steps 1 to 3 only, without writing.
    pub dry_run: bool,
    /// Never delete the login key.
    pub keep_authkey: bool,
    /// Files that do not decrypt under the shares' key are another backup's (the operator
    /// said so, with `--allow-skipped` or at the terminal): they are named, and do not
    /// keep the login key. Files that are not wrapped objects at all still do.
    pub allow_skipped: bool,
    /// The login key's id, for the report before logging in.
    pub auth_key: ObjectId,
    /// What the wrap key must have (`--wrap-key-id`, `--expect-domains`, `--expect-kcv`).
    pub pins: Pins,
    /// Someone is at the terminal (the shares were typed there), who is asked to confirm
    /// the wrap key's attributes when nothing else vouches for them.
    pub interactive: bool,
    /// The objects were exported from another device in this run (`yhsm clone`): the
    /// messages say `clone`, and when the wrap key was already on the device, the first
    /// import is the proof that it is the key they were exported under (a refusal as
    /// undecryptable stops the run).
    pub from_device: bool,
    /// `clone`: the wrap keys were shown the same before any import (wrap-data on the
    /// source, unwrap-data on the target), so no import decides it.
    pub wrap_key_proven: bool,
    /// Never delete the login key, for this reason (`clone`: the source holds objects
    /// that were not copied, so the devices would differ).
    pub keep_because: Option<&'static str>,
}

impl Options {
    /// The command the messages tell the operator to run again.
    pub fn command(&self) -> &'static str {
        if self.from_device { "clone" } else { "restore" }
    }
}

/// The wrap key the engine restores under, as far as this host knows it.
#[derive(Debug)]
pub enum Wrap<'a> {
    /// From the shares: the host decrypts every blob with it (preflight), stores it when
    /// the device lacks it, and proves content with it (restore, and clone with shares).
    Shares(&'a WrapKeyToStore),
    /// Not known to this host (clone without shares): the objects come decrypted from the
    /// device they were exported from ([`Backup::from_exports`]), which the content
    /// proofs ask instead ([`Reference::Device`]). The device restored to must already
    /// hold it; the first import proves it is the same key.
    ///
    /// [`Reference::Device`]: crate::backup::compare::Reference::Device
    Device { attributes: Attributes, device: &'a mut Client },
}

impl Wrap<'_> {
    /// The wrap key's attributes (from the shares, or as the source device shows them).
    pub fn attributes(&self) -> &Attributes {
        match self {
            Self::Shares(w) => &w.attributes,
            Self::Device { attributes, .. } => attributes,
        }
    }

    /// The key from the shares, when this host holds it.
    pub fn shares(&self) -> Option<&WrapKeyToStore> {
        match self {
            Self::Shares(w) => Some(w),
            Self::Device { .. } => None,
        }
    }
}

/// The wrap key to store: the key and its attributes from the shares, what the shares
/// showed of it, and the backup's descriptions of its wrap key.
#[derive(Debug)]
pub struct WrapKeyToStore {
    pub attributes: Attributes,
    pub key: WrapKey,
    /// The key check value of the key and its attributes.
    pub kcv: [u8; KCV_LEN],
    pub threshold: u8,
    /// How many shares were combined.
    pub combined: usize,
    /// The backup's wrap-key descriptions.
    pub described: Vec<Described>,
}

impl WrapKeyToStore {
    pub fn from_recovered(recovered: &RecoveredKey) -> Result<Self> {
        Ok(Self {
            attributes: Attributes::from_shares(recovered),
            key: recovered.wrap_key()?,
            kcv: recovered.kcv(),
            threshold: recovered.recovered.threshold,
            combined: recovered.recovered.combined,
            described: Vec::new(),
        })
    }

    /// The same, checked against the backup's descriptions `described`.
    #[must_use]
    pub fn with_descriptions(mut self, described: Vec<Described>) -> Self {
        self.described = described;
        self
    }

    /// What [`identity::check`] looks at.
    pub fn identity(&self) -> identity::Recovered {
        identity::Recovered {
            attributes: self.attributes,
            kcv: self.kcv,
            threshold: self.threshold,
            combined: self.combined,
        }
    }

    /// The description of this key among [`WrapKeyToStore::described`] (by id).
    pub fn description(&self) -> Option<&Described> {
        self.described.iter().find(|d| d.description.id == self.attributes.id)
    }
}

/// The question asked when nothing vouches for the wrap key's attributes.
const CONFIRM_QUESTION: &str = "Is this the backup's wrap key? Compare its id, domains and key \
    check value with your records";

/// Reads the backup, recovers the wrap key from the shares (file or prompt), and runs
/// [`run`]. Errors before the run (no `.yhw` file, bad shares) are returned; everything
/// after is in the report.
pub fn command(
    global: &GlobalOptions,
    args: &Args,
    prompter: &mut dyn Prompter,
    env_password: Option<OsString>,
    sink: &mut dyn FnMut(&Event),
) -> Result<RestoreReport> {
    command_with(global, args, prompter, env_password, &mut device::opener(global), sink)
}

/// [`command`] on the device `transport` opens: the binary passes
/// [`device::opener`]; the fault-injection tests a simulator they hold.
pub fn command_with(
    global: &GlobalOptions,
    args: &Args,
    prompter: &mut dyn Prompter,
    env_password: Option<OsString>,
    transport: &mut OpenTransport<'_>,
    sink: &mut dyn FnMut(&Event),
) -> Result<RestoreReport> {
    let mut backup = Backup::read_dir(&args.dir)?;
    let described = description::read_dir(&args.dir)?;
    let checks = description::share_checks(&described);
    let mut options = Options {
        dry_run: args.dry_run,
        keep_authkey: args.keep_authkey,
        allow_skipped: args.allow_skipped,
        auth_key: global.authkey,
        pins: Pins { id: args.wrap_key_id, domains: args.expect_domains, kcv: args.expect_kcv },
        interactive: args.shares_files.is_empty(),
        from_device: false,
        wrap_key_proven: false,
        keep_because: None,
    };
    let ask = |p: &mut dyn Prompter, summary: &str| {
        confirm(p, &format!("Wrap key {summary}. {CONFIRM_QUESTION}"))
    };
    if args.shares_files.is_empty() {
        // Shares typed by custodians: log in first, as yubihsm-setup does, so that a wrong
        // password never costs them their typing (issue 10 §5).
        let login = device::login_now(global, env_password, prompter, transport)?;
        sink(&Event::UsingAuthKey(login.credentials.key_id()));
        let wrap = interactive::shares_until_they_decrypt(&backup, prompter, &checks)?
            .with_descriptions(described);
        options.allow_skipped |=
            interactive::ask_about_skipped(&mut backup, &wrap, args, prompter)?;
        let mut login = Some(login);
        let mut connect =
            || login.take().ok_or_else(|| Error::failure("restore logs in only once"));
        let mut confirm = |summary: &str| ask(prompter, summary);
        return Ok(run(&mut backup, &wrap, &mut connect, &mut confirm, options, sink));
    }
    // Shares from files: every file is decrypted before the device is even opened.
    let recovered = shares::combine_files_checked(&args.shares_files, prompter, &checks)?;
    let wrap = WrapKeyToStore::from_recovered(&recovered)?.with_descriptions(described);
    drop(recovered);
    options.allow_skipped |= interactive::ask_about_skipped(&mut backup, &wrap, args, prompter)?;
    // The confirmation and the login both talk to the person at the terminal, one after
    // the other.
    let prompter = std::cell::RefCell::new(prompter);
    let mut confirm = |summary: &str| ask(&mut **prompter.borrow_mut(), summary);
    let mut env_password = env_password;
    let mut connect = || {
        let mut p = prompter.borrow_mut();
        device::login_with(global, env_password.take(), &mut **p, transport)
    };
    Ok(run(&mut backup, &wrap, &mut connect, &mut confirm, options, sink))
}
