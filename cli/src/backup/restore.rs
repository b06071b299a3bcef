//! `yhsm restore`: puts a backup directory back onto a YubiHSM 2, as yubihsm-setup's
//! `restore` does (PROTOCOL.md §3 "Payloads used by backup and restore", §5, §6), with a
//! preflight, per-object progress, a verification of everything restored, and a login
//! key that is only deleted when that is safe.
//!
//! The order of work, and the rules it keeps:
//!
//! 1. Every `*.yhw` of the directory is read in sorted name order ([`Backup`]).
//! 2. The wrap key comes from shares. **Preflight**: every file is decrypted before the
//!    device is touched. If none decrypts, the shares are wrong and nothing is written.
//!    Files under another key (or damaged: they do not decrypt either) are skipped ("not
//!    wrapped under this key") and count as not restored; objects whose
//!    capabilities the wrap key does not delegate are warned about (the device will
//!    refuse them); a wrap key without import-wrapped stops the run.
//! 3. Connect and log in; list the device's objects. The wrap key is stored, or, if an
//!    object with its id and type exists, used as it is (the imports show whether it is
//!    the same key; its attributes are compared with the shares').
//! 4. Each object not already on the device with the same (id, type) is imported. One
//!    already there is skipped, and still verified, so a second run finishes an
//!    interrupted one. A device refusal fails that object and the others go on.
//! 5. Every object is verified against the backup ([`compare::check_entry`]): its
//!    attributes always, an asymmetric key's public key where the device held the object
//!    before this run (an object imported now holds the blob's key: see
//!    [`compare::PublicKeyCheck`]).
//! 6. The login key is deleted only when every file was restored and verified (a skipped
//!    file may be a damaged object of the backup; copies of another file's object aside), the login key is not itself in the backup (deleting it would delete a
//!    restored key), and another authentication key from the backup is on the device,
//!    verified, and (for a symmetric key) opens a session. Otherwise it is kept, and the
//!    reason said. `--keep-authkey` always keeps it.
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
//! `--dry-run` runs steps 1 to 3 without writing and reports the plan.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use yhsm_proto::command::{ObjectHeader, PutWrapKey};
use yhsm_proto::wrap::WrapKey;
use yhsm_proto::{Capabilities, ErrorCode, Label, ObjectId, ObjectType, SecretBytes};
use yhsm_transport::{Client, ClientError, Credentials};

use crate::backup::compare::{self, Attributes, Difference, PublicKeyCheck};
use crate::backup::{Backup, FileState};
use crate::device::{self, Login, OpenTransport};
use crate::error::{EXIT_FAILURE, EXIT_OK, Error, Result};
use crate::options::GlobalOptions;
use crate::util::json::Value;
use crate::util::prompt::Prompter;
use crate::wrapkey::shares::{self, RecoveredKey};

/// The label of a wrap key stored from shares (the shares carry none), unless the backup
/// holds the wrap key object itself.
pub const WRAP_KEY_LABEL: &str = "Wrap key";

/// What `yhsm restore` was asked to do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// The backup directory (default `.`).
    pub dir: PathBuf,
    /// `None`: ask for the shares at the terminal.
    pub shares_file: Option<PathBuf>,
    pub keep_authkey: bool,
    pub dry_run: bool,
    pub json: bool,
}

/// Choices that change what the engine does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Steps 1 to 3 only, without writing.
    pub dry_run: bool,
    /// Never delete the login key.
    pub keep_authkey: bool,
    /// The login key's id, for the report before logging in.
    pub auth_key: ObjectId,
}

/// The wrap key to store: the key and its attributes from the shares.
#[derive(Debug)]
pub struct WrapKeyToStore {
    pub attributes: Attributes,
    pub key: WrapKey,
}

impl WrapKeyToStore {
    pub fn from_recovered(recovered: &RecoveredKey) -> Result<Self> {
        Ok(Self { attributes: Attributes::from_shares(recovered), key: recovered.wrap_key()? })
    }
}

/// `[3/12]`: the object's position among those to restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub index: usize,
    pub total: usize,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}/{}]", self.index, self.total)
    }
}

/// Progress, as the engine reports it; [`render`] turns each into lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A file not restored, not a failure (not a wrapped object, under another key, a
    /// copy of another file).
    Skipped {
        file: String,
        reason: String,
    },
    /// A file that decrypts but cannot be restored (a failure).
    Unrestorable {
        file: String,
        reason: String,
    },
    /// The object's capabilities are not all delegated by the wrap key.
    NotDelegated {
        file: String,
        object: String,
        missing: Capabilities,
    },
    /// Preflight passed.
    Preflight {
        files: usize,
        decryptable: usize,
        wrap_key: ObjectId,
    },
    UsingAuthKey(ObjectId),
    WrapKeyStored(ObjectId),
    WrapKeyPresent {
        id: ObjectId,
        differences: Vec<Difference>,
    },
    /// Dry run: the wrap key would be stored.
    WrapKeyPlanned(ObjectId),
    Imported {
        step: Step,
        file: String,
        object_type: ObjectType,
        id: ObjectId,
    },
    AlreadyPresent {
        step: Step,
        file: String,
        object_type: ObjectType,
        id: ObjectId,
    },
    ImportFailed {
        step: Step,
        file: String,
        object_type: ObjectType,
        id: ObjectId,
        error: String,
    },
    /// Dry run: the object would be imported.
    ImportPlanned {
        step: Step,
        file: String,
        object_type: ObjectType,
        id: ObjectId,
    },
    /// Dry run: the device would refuse the import (the reason).
    ImportWouldFail {
        step: Step,
        file: String,
        object_type: ObjectType,
        id: ObjectId,
        reason: String,
    },
    Verified {
        file: String,
        object_type: ObjectType,
        id: ObjectId,
    },
    VerifyFailed {
        file: String,
        object_type: ObjectType,
        id: ObjectId,
        differences: Vec<Difference>,
    },
    VerifySummary {
        verified: usize,
        failed: usize,
    },
    /// A step whose first attempt failed in a way that leaves its outcome unknown (a
    /// lost or garbled answer, an expired session), settled by looking at the device or
    /// by doing a read once more.
    Retried {
        /// What was being done: `importing opaque 0x0052 (0x0052-opaque.yhw)`.
        what: String,
        /// The first attempt's error.
        error: String,
        /// What the device showed, and what was done about it.
        resolution: String,
    },
    /// A restored authentication key opened a session.
    AuthKeyProven(ObjectId),
    AuthKeyDeleted(ObjectId),
    AuthKeyKept {
        id: ObjectId,
        reason: String,
    },
    /// Dry run: what would happen to the login key.
    AuthKeyPlanned {
        id: ObjectId,
        keep_reason: Option<String>,
    },
    /// The run ended without writing (dry run).
    DryRunDone,
    /// Everything was restored and verified.
    Done,
}

/// A line of human output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// Standard output.
    Out(String),
    /// Standard error, after `yhsm: warning: `.
    Warning(String),
}

/// The lines an event prints (yubihsm-setup's wording where it has one).
pub fn render(event: &Event) -> Vec<Line> {
    let out = |s: String| vec![Line::Out(s)];
    match event {
        Event::Skipped { file, reason } => out(format!("Skipped {file}: {reason}")),
        Event::Unrestorable { file, reason } => out(format!("Cannot restore {file}: {reason}")),
        Event::NotDelegated { file, object, missing } => vec![Line::Warning(format!(
            "{file}: {object} has capabilities the wrap key does not delegate ({missing}); the \
             device will refuse to import it"
        ))],
        Event::Preflight { files, decryptable, wrap_key } => out(format!(
            "Preflight: {decryptable} of {files} {} {} under wrap key 0x{wrap_key:04x}",
            if *files == 1 { "file" } else { "files" },
            if *decryptable == 1 { "decrypts" } else { "decrypt" }
        )),
        Event::UsingAuthKey(id) => out(format!("Using authentication key 0x{id:04x}")),
        Event::WrapKeyStored(id) => {
            out(format!("Stored wrap key with ID 0x{id:04x} on the device"))
        }
        Event::WrapKeyPresent { id, differences } => {
            let mut lines = vec![Line::Out(format!(
                "Wrap key with ID 0x{id:04x} is already on the device; the imports will show \
                 whether it is the same key"
            ))];
            if !differences.is_empty() {
                lines.push(Line::Warning(format!(
                    "wrap key 0x{id:04x} on the device does not have the shares' attributes: {}",
                    compare::describe_differences(differences)
                )));
            }
            lines
        }
        Event::WrapKeyPlanned(id) => {
            out(format!("Would store wrap key with ID 0x{id:04x} on the device"))
        }
        Event::Imported { step, file, object_type, id } => out(format!(
            "{step} Successfully imported object {object_type}, with ID 0x{id:04x} ({file})"
        )),
        Event::AlreadyPresent { step, file, object_type, id } => out(format!(
            "{step} Object {object_type} with ID 0x{id:04x} is already on the device, skipped \
             ({file})"
        )),
        Event::ImportFailed { step, file, object_type, id, error } => out(format!(
            "{step} Failed to import object {object_type} with ID 0x{id:04x} ({file}): {error}"
        )),
        Event::ImportPlanned { step, file, object_type, id } => {
            out(format!("{step} Would import object {object_type}, with ID 0x{id:04x} ({file})"))
        }
        Event::ImportWouldFail { step, file, object_type, id, reason } => out(format!(
            "{step} Would fail to import object {object_type} with ID 0x{id:04x} ({file}): \
             {reason}"
        )),
        Event::Verified { .. } => vec![],
        Event::Retried { what, error, resolution } => {
            vec![Line::Warning(format!("{what}: {error}; {resolution}"))]
        }
        Event::AuthKeyProven(id) => {
            out(format!("Authentication key 0x{id:04x} opens a session with the backup's keys"))
        }
        Event::VerifyFailed { file, object_type, id, differences } => out(format!(
            "Verification failed for object {object_type} with ID 0x{id:04x} ({file}): {}",
            compare::describe_differences(differences)
        )),
        Event::VerifySummary { verified, failed: 0 } => out(format!(
            "Verified {verified} {}: type, algorithm, capabilities, domains and label match the \
             backup",
            if *verified == 1 { "object" } else { "objects" }
        )),
        Event::VerifySummary { verified, failed } => {
            out(format!("Verified {verified} of {} objects; {failed} failed", verified + failed))
        }
        Event::AuthKeyDeleted(id) => out(format!("Previous authentication key 0x{id:04x} deleted")),
        Event::AuthKeyKept { id, reason } => {
            out(format!("Keeping authentication key 0x{id:04x}: {reason}"))
        }
        Event::AuthKeyPlanned { id, keep_reason: None } => {
            out(format!("Would delete authentication key 0x{id:04x} once every object is verified"))
        }
        Event::AuthKeyPlanned { id, keep_reason: Some(reason) } => {
            out(format!("Would keep authentication key 0x{id:04x}: {reason}"))
        }
        Event::DryRunDone => out("Dry run: nothing was written to the device".to_owned()),
        Event::Done => out("All done".to_owned()),
    }
}

/// What happened to one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Imported,
    AlreadyPresent,
    /// Not restored: not a wrapped object, or not wrapped under the shares' key (damaged,
    /// or from another backup). Counts as not restored: the login key is kept.
    Skipped,
    /// A copy of an earlier file's object: nothing to do.
    Copy,
    Failed,
    /// Decrypts; not imported yet (the plan of a dry run, or a run that stopped).
    Planned,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Self::Imported => "imported",
            Self::AlreadyPresent => "already-present",
            Self::Skipped => "skipped",
            Self::Copy => "copy",
            Self::Failed => "failed",
            Self::Planned => "planned",
        }
    }
}

/// One file's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileReport {
    pub file: String,
    pub id: Option<ObjectId>,
    pub object_type: Option<ObjectType>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    /// `None` when not verified (skipped, failed, dry run, or the run stopped first).
    pub verified: Option<bool>,
}

/// The result of a restore.
#[derive(Debug)]
pub struct RestoreReport {
    pub dir: String,
    pub dry_run: bool,
    pub auth_key: ObjectId,
    pub wrap_key_id: ObjectId,
    pub wrap_key_stored: bool,
    pub wrap_key_present: bool,
    pub files: Vec<FileReport>,
    pub auth_key_deleted: bool,
    pub auth_key_kept_reason: Option<String>,
    /// What stopped the run, or the login key's deletion failing.
    pub error: Option<Error>,
}

/// What to do about skipped files.
const SKIPPED_HINT: &str = "a file that is not a wrapped object or not wrapped under this key is \
    damaged or from another backup: take it from another copy of the backup, or move it out of \
    the directory if it does not belong there";

impl RestoreReport {
    fn decryptable(&self) -> impl Iterator<Item = &FileReport> {
        self.files.iter().filter(|f| f.id.is_some())
    }

    /// Files not restored because they are not wrapped objects or not under the key.
    fn skipped(&self) -> usize {
        self.files.iter().filter(|f| f.outcome == Outcome::Skipped).count()
    }

    /// Every file was restored and verified (planned, for a dry run), or is a copy.
    pub fn ok(&self) -> bool {
        self.error.is_none()
            && self.files.iter().all(|f| !matches!(f.outcome, Outcome::Failed | Outcome::Skipped))
            && self.decryptable().all(|f| {
                if self.dry_run {
                    matches!(f.outcome, Outcome::Planned | Outcome::AlreadyPresent)
                } else {
                    f.verified == Some(true)
                }
            })
    }

    /// 0 when [`RestoreReport::ok`], 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.ok() { EXIT_OK } else { EXIT_FAILURE }
    }

    /// The error to print last: what stopped the run, or which objects were not restored.
    pub fn into_failure(self) -> Option<Error> {
        if self.ok() {
            return None;
        }
        if let Some(e) = self.error {
            return Some(e);
        }
        let unreadable = |f: &&FileReport| {
            f.id.is_none() && matches!(f.outcome, Outcome::Failed | Outcome::Skipped)
        };
        let total = self.decryptable().count() + self.files.iter().filter(unreadable).count();
        let bad = self
            .files
            .iter()
            .filter(|f| {
                matches!(f.outcome, Outcome::Failed | Outcome::Skipped) || f.verified == Some(false)
            })
            .count();
        let skipped = self.skipped();
        // Only skipped files, or other failures too (refusals, differences).
        let hint = match (skipped, bad - skipped) {
            (0, _) => None,
            (_, 0) => Some(SKIPPED_HINT.to_owned()),
            _ => Some(format!("fix the other causes shown above; {SKIPPED_HINT}")),
        };
        let objects = if total == 1 { "object" } else { "objects" };
        if self.dry_run {
            return Some(
                Error::failure(format!(
                    "{bad} of {total} {objects} from the backup would not be restored"
                ))
                .with_hint(
                    hint.unwrap_or_else(|| "fix the cause shown above before restoring".to_owned()),
                ),
            );
        }
        Some(
            Error::failure(format!(
                "{bad} of {total} {objects} from the backup {} not restored and verified; \
                 authentication key 0x{:04x} was kept",
                if bad == 1 { "was" } else { "were" },
                self.auth_key
            ))
            .with_hint(match hint {
                Some(hint) => format!(
                    "{hint}; then run restore again (objects already on the device are skipped \
                     and verified)"
                ),
                None => "fix the cause shown above and run restore again: objects already on the \
                         device are skipped and verified"
                    .to_owned(),
            }),
        )
    }

    /// The JSON object of `restore --json` (documented in cli/README.md).
    pub fn to_json(&self) -> Value {
        let files = self
            .files
            .iter()
            .map(|f| {
                Value::Object(vec![
                    ("file", Value::string(f.file.as_str())),
                    ("id", Value::number_or_null(f.id.map(u64::from))),
                    ("type", Value::string_or_null(f.object_type.map(|t| t.to_string()))),
                    ("outcome", Value::string(f.outcome.name())),
                    ("reason", Value::string_or_null(f.reason.as_deref())),
                    ("verified", f.verified.map_or(Value::Null, Value::Bool)),
                ])
            })
            .collect();
        Value::Object(vec![
            ("ok", Value::Bool(self.ok())),
            ("dry_run", Value::Bool(self.dry_run)),
            ("auth_key", Value::Number(u64::from(self.auth_key))),
            (
                "wrap_key",
                Value::Object(vec![
                    ("id", Value::Number(u64::from(self.wrap_key_id))),
                    ("stored", Value::Bool(self.wrap_key_stored)),
                    ("already_present", Value::Bool(self.wrap_key_present)),
                ]),
            ),
            ("files", Value::Array(files)),
            ("auth_key_deleted", Value::Bool(self.auth_key_deleted)),
            ("auth_key_kept_reason", Value::string_or_null(self.auth_key_kept_reason.as_deref())),
            ("error", Value::string_or_null(self.error.as_ref().map(Error::chain))),
        ])
    }
}

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
    command_with(global, args, prompter, env_password, &mut device::open_transport, sink)
}

/// [`command`] on the device `transport` opens: the binary passes
/// [`device::open_transport`]; the fault-injection tests a simulator they hold.
pub fn command_with(
    global: &GlobalOptions,
    args: &Args,
    prompter: &mut dyn Prompter,
    env_password: Option<OsString>,
    transport: &mut OpenTransport<'_>,
    sink: &mut dyn FnMut(&Event),
) -> Result<RestoreReport> {
    let mut backup = Backup::read_dir(&args.dir)?;
    let recovered = match &args.shares_file {
        Some(path) => shares::combine_file(path)?,
        None => shares::combine_prompted(prompter)?,
    };
    let wrap = WrapKeyToStore::from_recovered(&recovered)?;
    drop(recovered);
    let options = Options {
        dry_run: args.dry_run,
        keep_authkey: args.keep_authkey,
        auth_key: global.authkey,
    };
    let mut env_password = env_password;
    let mut connect = || device::login_with(global, env_password.take(), prompter, transport);
    Ok(run(&mut backup, &wrap, &mut connect, options, sink))
}

/// Restores `backup` (read, not yet decrypted) with `wrap`; `login` is called once,
/// after preflight, to connect. Every step is reported to `sink`.
pub fn run(
    backup: &mut Backup,
    wrap: &WrapKeyToStore,
    login: &mut dyn FnMut() -> Result<Login>,
    options: Options,
    sink: &mut dyn FnMut(&Event),
) -> RestoreReport {
    let mut r = Run {
        report: RestoreReport {
            dir: backup.dir.display().to_string(),
            dry_run: options.dry_run,
            auth_key: options.auth_key,
            wrap_key_id: wrap.attributes.id,
            wrap_key_stored: false,
            wrap_key_present: false,
            files: Vec::new(),
            auth_key_deleted: false,
            auth_key_kept_reason: None,
            error: None,
        },
        sink,
        options,
    };
    if let Err(e) = r.restore(backup, wrap, login) {
        r.report.error = Some(e);
        if !r.report.auth_key_deleted && r.report.auth_key_kept_reason.is_none() {
            r.report.auth_key_kept_reason = Some("restore did not finish".to_owned());
        }
    }
    if r.report.ok() {
        (r.sink)(&if options.dry_run { Event::DryRunDone } else { Event::Done });
    }
    r.report
}

struct Run<'s> {
    report: RestoreReport,
    sink: &'s mut dyn FnMut(&Event),
    options: Options,
}

/// Preflight found no object to restore. Only files that do not decrypt point at the
/// shares; files that are not wrapped objects, or decrypt to something invalid, do not.
fn nothing_to_restore(backup: &Backup) -> Error {
    let n = backup.files.len();
    let dir = backup.dir.display();
    let files = if n == 1 {
        format!("the .yhw file in `{dir}`")
    } else {
        format!("none of the {n} .yhw files in `{dir}`")
    };
    let under_other_key = backup.files.iter().any(|f| matches!(f.state, FileState::NotUnderKey));
    if under_other_key {
        let verb = if n == 1 { "does not decrypt" } else { "decrypts" };
        return Error::failure(format!(
            "{files} {verb} under the wrap key from the shares; nothing was written to the device"
        ))
        .with_hint(
            "check the shares: wrong shares of the right form still combine, into a wrong key \
             (yubihsm-setup shares carry no checksum)",
        );
    }
    let verb = if n == 1 { "holds no object" } else { "holds an object" };
    let decrypted = backup
        .files
        .iter()
        .any(|f| matches!(f.state, FileState::Malformed(_) | FileState::Duplicate { .. }));
    Error::failure(format!(
        "{files} {verb} to restore (see above); nothing was written to the device"
    ))
    .with_hint(if decrypted {
        "the shares are right (the files decrypt), but what they hold is damaged: take the files \
         from another copy of the backup"
    } else {
        "the files are not wrapped objects (damaged, or not the .yhw files of a backup): take them \
         from another copy of the backup"
    })
}

/// A device refusal: the command did not run, the connection is fine.
fn refused(e: &ClientError) -> bool {
    e.code().is_some() && !e.may_have_executed()
}

const AUTH_KEY: ObjectType = ObjectType::AUTHENTICATION_KEY;

/// Whether the object is on the device: the look that settles a write whose answer was
/// lost. Object-not-found from get-object-info, or from create-session when the login
/// key itself is what was deleted, means it is not.
fn on_device(
    client: &mut Client,
    id: ObjectId,
    object_type: ObjectType,
) -> Result<bool, ClientError> {
    match client.get_object_info(id, object_type) {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some(ErrorCode::OBJECT_NOT_FOUND) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The second check of an object, logged in again first if the first check's failure
/// left the client without its login session.
fn recheck(
    client: &mut Client,
    entry: &crate::backup::Entry,
    login: &Credentials,
    public_key: PublicKeyCheck,
) -> Result<compare::Checked, ClientError> {
    if client.auth_key_id() != Some(login.key_id()) {
        client.authenticate(login.clone())?;
    }
    compare::check_entry(client, entry, login, public_key)
}

impl Run<'_> {
    fn emit(&mut self, event: Event) {
        (self.sink)(&event);
    }

    fn restore(
        &mut self,
        backup: &mut Backup,
        wrap: &WrapKeyToStore,
        login: &mut dyn FnMut() -> Result<Login>,
    ) -> Result<()> {
        self.preflight(backup, wrap)?;

        let Login { mut client, credentials } = login()?;
        let login_id = credentials.key_id();
        self.report.auth_key = login_id;
        self.emit(Event::UsingAuthKey(login_id));
        client.authenticate(credentials.clone()).map_err(|e| {
            let error = Error::failure("cannot log in; nothing was written");
            if e.code() == Some(ErrorCode::OBJECT_NOT_FOUND) {
                // The login key is not there: most likely an earlier run restored
                // everything and deleted it.
                error.with_source(e).with_hint(format!(
                    "authentication key 0x{login_id:04x} is not on the device (a restore that \
                     finished deletes it): log in with a restored authentication key (-k ID)"
                ))
            } else {
                error.with_source(e)
            }
        })?;
        let listed = match client.list_objects(&[]) {
            // A garbled answer (the client repeats a lost one itself): a read, so once more.
            Err(e) if !refused(&e) => {
                self.emit(Event::Retried {
                    what: "listing the device's objects".to_owned(),
                    error: e.to_string(),
                    resolution: "listing them once more".to_owned(),
                });
                client.list_objects(&[])
            }
            other => other,
        };
        let present: HashSet<(ObjectId, ObjectType)> = listed
            .map_err(|e| {
                Error::failure("cannot list the device's objects; nothing was written")
                    .with_source(e)
            })?
            .iter()
            .map(|e| (e.id, e.object_type))
            .collect();

        self.store_wrap_key(&mut client, backup, wrap, &present)?;
        let all_undecryptable = self.import(&mut client, backup, wrap, &present)?;
        if self.options.dry_run {
            let keep_reason = self.planned_keep_reason(backup, login_id).or_else(|| {
                (!self.report.ok())
                    .then(|| "not every object from the backup would be restored".to_owned())
            });
            self.emit(Event::AuthKeyPlanned { id: login_id, keep_reason: keep_reason.clone() });
            self.report.auth_key_kept_reason =
                Some(keep_reason.unwrap_or_else(|| "dry run: nothing is deleted".to_owned()));
            return Ok(());
        }
        self.verify(&mut client, backup, &credentials)?;
        self.login_key(&mut client, backup, &credentials, all_undecryptable)
    }

    /// Step 2: decrypts every file, reports those skipped, checks the wrap key.
    fn preflight(&mut self, backup: &mut Backup, wrap: &WrapKeyToStore) -> Result<()> {
        backup.decrypt(&wrap.key);
        for file in &backup.files {
            let entry = file.entry();
            let (outcome, reason) = match (file.skip_reason(), file.failure_reason()) {
                (Some(reason), _) => {
                    self.emit(Event::Skipped { file: file.name.clone(), reason: reason.clone() });
                    let copy =
                        matches!(file.state, FileState::Duplicate { conflicting: false, .. });
                    (if copy { Outcome::Copy } else { Outcome::Skipped }, Some(reason))
                }
                (None, Some(reason)) => {
                    self.emit(Event::Unrestorable {
                        file: file.name.clone(),
                        reason: reason.clone(),
                    });
                    (Outcome::Failed, Some(reason))
                }
                (None, None) => (Outcome::Planned, None),
            };
            self.report.files.push(FileReport {
                file: file.name.clone(),
                id: entry.map(|e| e.id()),
                object_type: entry.map(|e| e.object_type()),
                outcome,
                reason,
                verified: None,
            });
        }
        let decryptable = backup.decryptable();
        if decryptable == 0 {
            return Err(nothing_to_restore(backup));
        }
        let a = &wrap.attributes;
        if !a.capabilities.contains(Capabilities::IMPORT_WRAPPED) {
            return Err(Error::failure(format!(
                "the wrap key from the shares (0x{:04x}) lacks the import-wrapped capability, so \
                 the device would refuse every import; nothing was written to the device",
                a.id
            )));
        }
        for (file, entry) in backup.entries() {
            let missing = a.not_delegated(entry.summary.header.capabilities);
            if !missing.is_empty() {
                let event = Event::NotDelegated {
                    file: file.to_owned(),
                    object: entry.describe(),
                    missing,
                };
                (self.sink)(&event);
            }
        }
        self.emit(Event::Preflight { files: backup.files.len(), decryptable, wrap_key: a.id });
        Ok(())
    }

    /// Step 3: stores the wrap key, or notes the one already there.
    fn store_wrap_key(
        &mut self,
        client: &mut Client,
        backup: &Backup,
        wrap: &WrapKeyToStore,
        present: &HashSet<(ObjectId, ObjectType)>,
    ) -> Result<()> {
        let a = &wrap.attributes;
        if present.contains(&(a.id, ObjectType::WRAP_KEY)) {
            let info = client.get_object_info(a.id, ObjectType::WRAP_KEY).map_err(|e| {
                Error::failure(format!("cannot read wrap key 0x{:04x} on the device", a.id))
                    .with_source(e)
            })?;
            self.report.wrap_key_present = true;
            self.emit(Event::WrapKeyPresent { id: a.id, differences: a.differences(&info) });
            return Ok(());
        }
        if self.options.dry_run {
            self.emit(Event::WrapKeyPlanned(a.id));
            return Ok(());
        }
        // A backup that holds the wrap key object itself gives it its label.
        let label = backup
            .entries()
            .find(|(_, e)| e.id() == a.id && e.object_type() == ObjectType::WRAP_KEY)
            .map_or_else(
                || WRAP_KEY_LABEL.parse::<Label>().unwrap_or_default(),
                |(_, e)| e.summary.header.label,
            );
        let request = PutWrapKey {
            header: ObjectHeader {
                id: a.id,
                label,
                domains: a.domains,
                capabilities: a.capabilities,
                algorithm: a.algorithm,
            },
            delegated: a.delegated_or_none(),
            key: SecretBytes::from_slice(wrap.key.expose_secret()),
        };
        let what = || format!("storing wrap key 0x{:04x}", a.id);
        let result = match client.put_wrap_key(&request) {
            Err(e) if !refused(&e) => match on_device(client, a.id, ObjectType::WRAP_KEY) {
                Ok(true) => {
                    self.emit(Event::Retried {
                        what: what(),
                        error: e.to_string(),
                        resolution: "it is on the device, so it was stored".to_owned(),
                    });
                    Ok(a.id)
                }
                Ok(false) => {
                    self.emit(Event::Retried {
                        what: what(),
                        error: e.to_string(),
                        resolution: "it is not on the device: storing it once more".to_owned(),
                    });
                    client.put_wrap_key(&request)
                }
                Err(_) => Err(e),
            },
            other => other,
        };
        let id = result.map_err(|e| {
            let hint = if e.may_have_executed() {
                "it may have been stored: run restore again, which uses a wrap key already on \
                 the device as it is"
            } else {
                "nothing was written to the device"
            };
            Error::failure(format!("cannot store wrap key 0x{:04x} on the device", a.id))
                .with_source(e)
                .with_hint(hint)
        })?;
        self.report.wrap_key_stored = true;
        self.emit(Event::WrapKeyStored(id));
        Ok(())
    }

    /// Step 4. Returns whether every import tried was refused as undecryptable (a
    /// different wrap key on the device).
    fn import(
        &mut self,
        client: &mut Client,
        backup: &Backup,
        wrap: &WrapKeyToStore,
        present: &HashSet<(ObjectId, ObjectType)>,
    ) -> Result<bool> {
        let total = backup.decryptable();
        let (mut tried, mut undecryptable) = (0usize, 0usize);
        let entries =
            backup.files.iter().enumerate().filter_map(|(i, f)| f.entry().map(|e| (i, f, e)));
        for (index, (i, file, entry)) in entries.enumerate() {
            let step = Step { index: index + 1, total };
            let (file, object_type, id) = (file.name.clone(), entry.object_type(), entry.id());
            if present.contains(&(id, object_type)) {
                self.set_outcome(i, Outcome::AlreadyPresent, None);
                self.emit(Event::AlreadyPresent { step, file, object_type, id });
                continue;
            }
            // Known only for a wrap key stored from the shares: one already on the device
            // may delegate other capabilities.
            let missing = wrap.attributes.not_delegated(entry.summary.header.capabilities);
            let undelegated = (!missing.is_empty() && !self.report.wrap_key_present)
                .then(|| format!("the wrap key does not delegate {missing}"));
            if self.options.dry_run {
                match undelegated {
                    Some(reason) => {
                        self.set_outcome(i, Outcome::Failed, Some(reason.clone()));
                        self.emit(Event::ImportWouldFail { step, file, object_type, id, reason });
                    }
                    None => self.emit(Event::ImportPlanned { step, file, object_type, id }),
                }
                continue;
            }
            tried += 1;
            let what = || format!("importing {} ({file})", entry.describe());
            let result = match client.import_wrapped(wrap.attributes.id, &entry.blob) {
                // Its outcome is unknown: the device tells whether it went through.
                Err(e) if !refused(&e) => match on_device(client, id, object_type) {
                    Ok(true) => {
                        self.emit(Event::Retried {
                            what: what(),
                            error: e.to_string(),
                            resolution: "it is on the device, so it was imported".to_owned(),
                        });
                        Ok(None)
                    }
                    Ok(false) => {
                        self.emit(Event::Retried {
                            what: what(),
                            error: e.to_string(),
                            resolution: "it is not on the device: importing it once more"
                                .to_owned(),
                        });
                        client.import_wrapped(wrap.attributes.id, &entry.blob).map(Some)
                    }
                    Err(_) => Err(e),
                },
                other => other.map(Some),
            };
            match result {
                Ok(made) => {
                    let reason =
                        made.filter(|m| m.id != id || m.object_type != object_type).map(|m| {
                            format!("the device created {} 0x{:04x} instead", m.object_type, m.id)
                        });
                    self.set_outcome(i, Outcome::Imported, reason);
                    self.emit(Event::Imported { step, file, object_type, id });
                }
                Err(e) if refused(&e) => {
                    if e.code() == Some(ErrorCode::INVALID_DATA) {
                        undecryptable += 1;
                    }
                    let error = match (&undelegated, e.code()) {
                        (Some(why), Some(ErrorCode::INSUFFICIENT_PERMISSIONS)) => format!(
                            "{why} (import-wrapped: the device answered {})",
                            ErrorCode::INSUFFICIENT_PERMISSIONS
                        ),
                        _ => e.to_string(),
                    };
                    self.set_outcome(i, Outcome::Failed, Some(error.clone()));
                    self.emit(Event::ImportFailed { step, file, object_type, id, error });
                }
                Err(e) => {
                    self.set_outcome(i, Outcome::Failed, Some(e.to_string()));
                    let hint = if e.may_have_executed() {
                        "it may have been imported: run restore again to finish (objects \
                         already on the device are skipped and verified)"
                    } else {
                        "it was not imported: run restore again to finish (objects already on \
                         the device are skipped and verified)"
                    };
                    return Err(Error::failure(format!(
                        "restore stopped at {step}, importing {} ({file})",
                        entry.describe()
                    ))
                    .with_source(e)
                    .with_hint(hint));
                }
            }
        }
        Ok(tried > 0 && undecryptable == tried)
    }

    fn set_outcome(&mut self, i: usize, outcome: Outcome, reason: Option<String>) {
        if let Some(f) = self.report.files.get_mut(i) {
            f.outcome = outcome;
            f.reason = reason;
        }
    }

    /// Step 5: every object imported or already present is compared with the backup.
    fn verify(&mut self, client: &mut Client, backup: &Backup, login: &Credentials) -> Result<()> {
        let (mut verified, mut failed) = (0, 0);
        for (i, file) in backup.files.iter().enumerate() {
            let Some(entry) = file.entry() else { continue };
            let public_key = match self.report.files.get(i).map(|f| f.outcome) {
                Some(Outcome::Imported) => PublicKeyCheck::ImportedFromThisBackup,
                Some(Outcome::AlreadyPresent) => PublicKeyCheck::Compare,
                _ => continue,
            };
            let checked = match compare::check_entry(client, entry, login, public_key) {
                // A read whose answer was lost or garbled, or a proof session whose
                // handshake was: reading once more is harmless, and settles it.
                Err(e) => {
                    self.emit(Event::Retried {
                        what: format!("verifying {} ({})", entry.describe(), file.name),
                        error: e.to_string(),
                        resolution: "checking it once more".to_owned(),
                    });
                    recheck(client, entry, login, public_key)
                }
                Ok(c) if c.differences == [Difference::Credentials] => {
                    self.emit(Event::Retried {
                        what: format!("verifying {} ({})", entry.describe(), file.name),
                        error: Difference::Credentials.to_string(),
                        resolution: "checking it once more".to_owned(),
                    });
                    recheck(client, entry, login, public_key)
                }
                ok => ok,
            };
            let checked = checked.map_err(|e| {
                Error::failure(format!(
                    "restore stopped while verifying {} ({})",
                    entry.describe(),
                    file.name
                ))
                .with_source(e)
                .with_hint("run restore again: objects already on the device are verified")
            })?;
            let (file, object_type, id) = (file.name.clone(), entry.object_type(), entry.id());
            let differences = checked.differences;
            let ok = differences.is_empty();
            if let Some(f) = self.report.files.get_mut(i) {
                f.verified = Some(ok);
                if !ok {
                    f.reason = Some(compare::describe_differences(&differences));
                }
            }
            if ok {
                verified += 1;
                self.emit(Event::Verified { file, object_type, id });
                if checked.session_opened {
                    self.emit(Event::AuthKeyProven(id));
                }
            } else {
                failed += 1;
                self.emit(Event::VerifyFailed { file, object_type, id, differences });
            }
        }
        self.emit(Event::VerifySummary { verified, failed });
        Ok(())
    }

    /// Why the login key cannot be deleted whatever the device says, if it cannot.
    fn planned_keep_reason(&self, backup: &Backup, login_id: ObjectId) -> Option<String> {
        if self.options.keep_authkey {
            return Some("--keep-authkey was given".to_owned());
        }
        let auth_keys: Vec<ObjectId> = backup
            .entries()
            .filter(|(_, e)| e.object_type() == ObjectType::AUTHENTICATION_KEY)
            .map(|(_, e)| e.id())
            .collect();
        if auth_keys.is_empty() {
            return Some(
                "the backup holds no authentication key, so without this one nobody could log in"
                    .to_owned(),
            );
        }
        if auth_keys.contains(&login_id) {
            return Some(format!(
                "authentication key 0x{login_id:04x} is itself in the backup: deleting it would \
                 delete a restored key"
            ));
        }
        None
    }

    /// Step 6: deletes the login key, or keeps it and says why.
    fn login_key(
        &mut self,
        client: &mut Client,
        backup: &Backup,
        login: &Credentials,
        all_undecryptable: bool,
    ) -> Result<()> {
        let login_id = login.key_id();
        let reason = if let Some(reason) = self.planned_keep_reason(backup, login_id) {
            Some(reason)
        } else if !self.report.ok() {
            Some(if all_undecryptable && self.report.wrap_key_present {
                format!(
                    "the device could not decrypt any object: wrap key 0x{:04x} on the device \
                     is not the key of the shares",
                    self.report.wrap_key_id
                )
            } else if self.report.skipped() > 0
                && self
                    .report
                    .files
                    .iter()
                    .all(|f| f.outcome != Outcome::Failed && f.verified != Some(false))
            {
                // Those files may be this backup's objects, damaged: whoever finishes the
                // job may need this key.
                let n = self.report.skipped();
                format!(
                    "{n} of the backup's .yhw {} not restored (see above), so the device may \
                     not hold everything",
                    if n == 1 { "file was" } else { "files were" }
                )
            } else {
                "not every object from the backup was restored and verified".to_owned()
            })
        } else {
            // Every object is verified (symmetric authentication keys by a session) and
            // the backup holds an authentication key other than this one.
            None
        };
        match reason {
            Some(reason) => {
                self.report.auth_key_kept_reason = Some(reason.clone());
                self.emit(Event::AuthKeyKept { id: login_id, reason });
                Ok(())
            }
            None => {
                let what = || format!("deleting authentication key 0x{login_id:04x}");
                let result = match client.delete_object(login_id, ObjectType::AUTHENTICATION_KEY) {
                    // Unknown outcome. If the key is gone, no session can be opened with
                    // it: the device answers object-not-found, which settles it too.
                    Err(e) if !refused(&e) => match on_device(client, login_id, AUTH_KEY) {
                        Ok(false) => {
                            self.emit(Event::Retried {
                                what: what(),
                                error: e.to_string(),
                                resolution: "it is no longer on the device, so it was deleted"
                                    .to_owned(),
                            });
                            Ok(())
                        }
                        Ok(true) => {
                            self.emit(Event::Retried {
                                what: what(),
                                error: e.to_string(),
                                resolution: "it is still on the device: deleting it once more"
                                    .to_owned(),
                            });
                            client.delete_object(login_id, AUTH_KEY)
                        }
                        Err(_) => Err(e),
                    },
                    other => other,
                };
                result.map_err(|e| {
                    let hint = if e.may_have_executed() {
                        "every object was restored and verified, and the key may have been \
                         deleted: log in with a restored authentication key (-k ID) and list the \
                         objects to check; delete it yourself if it is still there"
                    } else {
                        "everything was restored; delete it yourself once you have checked that \
                         a restored authentication key logs in"
                    };
                    Error::failure(format!("cannot delete authentication key 0x{login_id:04x}"))
                        .with_source(e)
                        .with_hint(hint)
                })?;
                self.report.auth_key_deleted = true;
                self.emit(Event::AuthKeyDeleted(login_id));
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_yubihsm_setup_wording() {
        let step = Step { index: 3, total: 12 };
        let lines = |e: Event| render(&e);
        assert_eq!(
            lines(Event::UsingAuthKey(1)),
            [Line::Out("Using authentication key 0x0001".into())]
        );
        assert_eq!(
            lines(Event::WrapKeyStored(2)),
            [Line::Out("Stored wrap key with ID 0x0002 on the device".into())]
        );
        assert_eq!(
            lines(Event::Imported {
                step,
                file: "f.yhw".into(),
                object_type: ObjectType::ASYMMETRIC_KEY,
                id: 0x427a
            }),
            [Line::Out(
                "[3/12] Successfully imported object asymmetric-key, with ID 0x427a (f.yhw)".into()
            )]
        );
        assert_eq!(
            lines(Event::AuthKeyDeleted(1)),
            [Line::Out("Previous authentication key 0x0001 deleted".into())]
        );
        assert_eq!(lines(Event::Done), [Line::Out("All done".into())]);
        assert!(
            lines(Event::Verified { file: "f".into(), object_type: ObjectType::OPAQUE, id: 1 })
                .is_empty()
        );
    }

    #[test]
    fn a_report_is_ok_only_when_everything_decryptable_is_verified() {
        let file = |outcome, verified, id: Option<u16>| FileReport {
            file: "f".into(),
            id,
            object_type: id.map(|_| ObjectType::OPAQUE),
            outcome,
            reason: None,
            verified,
        };
        let mut r = RestoreReport {
            dir: "d".into(),
            dry_run: false,
            auth_key: 1,
            wrap_key_id: 2,
            wrap_key_stored: true,
            wrap_key_present: false,
            files: vec![
                file(Outcome::Imported, Some(true), Some(5)),
                file(Outcome::Copy, None, None),
            ],
            auth_key_deleted: true,
            auth_key_kept_reason: None,
            error: None,
        };
        assert!(r.ok());
        // A file that is not a wrapped object, or not under the key, may be a damaged
        // object of this backup: not ok.
        r.files.push(file(Outcome::Skipped, None, None));
        assert!(!r.ok());
        r.files.pop();
        r.files.push(file(Outcome::AlreadyPresent, Some(false), Some(6)));
        assert!(!r.ok());
        assert_eq!(
            r.into_failure().unwrap().message(),
            "1 of 2 objects from the backup was not restored and verified; authentication key \
             0x0001 was kept"
        );
    }
}
