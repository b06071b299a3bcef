//! The restore engine: the steps of [`run`] in order, as the module documentation of
//! [`restore`](super) lists them, each reported as an [`Event`] and recorded in the
//! [`RestoreReport`]. A write whose outcome is unknown is settled in one place,
//! [`settle_write`].

use std::collections::HashSet;

use yhsm_proto::command::{ObjectHeader, PutWrapKey};
use yhsm_proto::{ErrorCode, Label, ObjectId, ObjectType, SecretBytes};
use yhsm_transport::{Client, ClientError, Credentials};

use super::{Event, Options, RestoreReport, Step, WRAP_KEY_LABEL, Wrap, WrapKeyToStore, preflight};
use crate::backup::compare::{self, Attributes, BackupKey, Difference, Provenance, Reference};
use crate::backup::dir::{Backup, Entry, FileState};
use crate::backup::identity;
use crate::backup::report::{FileReport, Outcome};
use crate::device::Login;
use crate::error::{Error, Result};

/// Restores `backup` (read, not yet decrypted) with `wrap`; `login` is called once,
/// after preflight, to connect; `confirm` is asked (with a one-line summary of the wrap
/// key) whether the wrap key's attributes are right when nothing else vouches for them in
/// an interactive run. Every step is reported to `sink`.
pub fn run(
    backup: &mut Backup,
    wrap: &WrapKeyToStore,
    login: &mut dyn FnMut() -> Result<Login>,
    confirm: &mut dyn FnMut(&str) -> Result<bool>,
    options: Options,
    sink: &mut dyn FnMut(&Event),
) -> RestoreReport {
    run_under(backup, Wrap::Shares(wrap), login, confirm, options, sink)
}

/// [`run`] under a wrap key that may be unknown to this host ([`Wrap::Source`]: `clone`
/// without the shares, whose blobs come from a device that answers the content proofs).
pub fn run_under(
    backup: &mut Backup,
    mut wrap: Wrap<'_>,
    login: &mut dyn FnMut() -> Result<Login>,
    confirm: &mut dyn FnMut(&str) -> Result<bool>,
    options: Options,
    sink: &mut dyn FnMut(&Event),
) -> RestoreReport {
    let mut r = Run {
        report: RestoreReport {
            command: options.command(),
            dir: backup.dir.display().to_string(),
            dry_run: options.dry_run,
            auth_key: options.auth_key,
            wrap_key_id: wrap.attributes().id,
            wrap_key_kcv: wrap.shares().map(|w| w.kcv),
            wrap_key_vouched_by: None,
            wrap_key_stored: false,
            wrap_key_present: false,
            wrap_key_differs: false,
            files: Vec::new(),
            auth_key_deleted: false,
            auth_key_kept_reason: None,
            problems: Vec::new(),
            skipped_other_backup: Vec::new(),
            auth_keys_left: Vec::new(),
            error: None,
        },
        sink,
        options,
    };
    if let Err(e) = r.restore(backup, &mut wrap, login, confirm) {
        r.report.error = Some(e);
        if !r.report.auth_key_deleted && r.report.auth_key_kept_reason.is_none() {
            r.report.auth_key_kept_reason = Some(format!("{} did not finish", options.command()));
        }
    }
    if r.report.ok() {
        (r.sink)(&if options.dry_run { Event::DryRunDone } else { Event::Done });
        if !options.dry_run {
            (r.sink)(&Event::AuthKeysLeft(r.report.auth_keys_left.clone()));
        }
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

/// What to do about a wrap key whose attributes do not fit.
const MISTYPED_SHARE_HINT: &str = "a mistyped share changes the wrap key's id, domains or \
    capabilities and still decrypts every file: check the shares with their custodians (with \
    one share more than the threshold, a mistyped one is caught)";

/// What to do when nothing vouches for the wrap key's attributes in a scripted run.
pub(crate) const UNCONFIRMED_HINT: &str = "give one share more than the threshold, or pin the \
    key check value recorded when the backup was made with --expect-kcv (or at least the id \
    with --wrap-key-id), or run at a terminal and confirm the attributes";

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

/// What a write does to the object it names, and so what the device shows once the
/// write went through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Put or import: the object is there.
    Creates,
    /// Delete: the object is gone.
    Deletes,
}

/// A write to the device whose answer may be lost, and the object that tells whether it
/// went through.
#[derive(Clone, Debug)]
pub(crate) struct Write {
    /// What is being done, and what it is called when done: `("importing", "imported")`.
    pub action: (&'static str, &'static str),
    /// What it is done to, for messages: `opaque 0x0052 (0x0052-opaque.yhw)`.
    pub object: String,
    /// The (id, type) whose presence shows the outcome.
    pub at: (ObjectId, ObjectType),
    pub effect: Effect,
}

/// Sends a write with `send` and settles an unknown outcome (a lost or garbled answer, an
/// expired session: anything but a refusal, since the client never sends such a command
/// twice) by looking at the device: when it shows the write went through, the result is
/// `went_through()`; when it does not, the write is sent once more. Either way the step
/// is reported as [`Event::Retried`]. When the device cannot be asked, the first error is
/// returned, for the caller to say whether the write may have happened.
pub(crate) fn settle_write<T>(
    client: &mut Client,
    write: &Write,
    went_through: impl FnOnce() -> T,
    send: &mut dyn FnMut(&mut Client) -> Result<T, ClientError>,
    sink: &mut dyn FnMut(&Event),
) -> Result<T, ClientError> {
    let e = match send(client) {
        Err(e) if !refused(&e) => e,
        other => return other,
    };
    let (id, object_type) = write.at;
    let Ok(present) = on_device(client, id, object_type) else { return Err(e) };
    let (doing, done) = write.action;
    let happened = present == (write.effect == Effect::Creates);
    let resolution = match (happened, present) {
        (true, true) => format!("it is on the device, so it was {done}"),
        (true, false) => format!("it is no longer on the device, so it was {done}"),
        (false, false) => format!("it is not on the device: {doing} it once more"),
        (false, true) => format!("it is still on the device: {doing} it once more"),
    };
    sink(&Event::Retried {
        what: format!("{doing} {}", write.object),
        error: e.to_string(),
        resolution,
    });
    if happened { Ok(went_through()) } else { send(client) }
}

/// What to do when the wrap keys of the two devices differ.
pub const WRAP_KEYS_DIFFER_HINT: &str = "AES-CCM authenticates every blob, so an import succeeds \
    only under the very key it was exported under: put the same wrap key on both devices (from \
    its shares, `yhsm restore` or `--shares-file`), then run clone again";

/// The second check of an object, logged in again first if the first check's failure
/// left the client without its login session.
fn recheck(
    client: &mut Client,
    entry: &Entry,
    login: &Credentials,
    provenance: Provenance,
    key: &mut Reference<'_>,
) -> Result<compare::Checked, ClientError> {
    if client.auth_key_id() != Some(login.key_id()) {
        client.authenticate(login.clone())?;
    }
    compare::check_entry(client, entry, login, provenance, key)
}

impl Run<'_> {
    fn emit(&mut self, event: Event) {
        (self.sink)(&event);
    }

    fn restore(
        &mut self,
        backup: &mut Backup,
        wrap: &mut Wrap<'_>,
        login: &mut dyn FnMut() -> Result<Login>,
        confirm: &mut dyn FnMut(&str) -> Result<bool>,
    ) -> Result<()> {
        self.preflight(backup, wrap)?;
        if let Wrap::Shares(shares) = wrap {
            self.check_identity(backup, shares, confirm)?;
        }
        let mut problems = preflight::conflicting_files(backup);

        let Login { mut client, credentials } = login()?;
        let login_id = credentials.key_id();
        self.report.auth_key = login_id;
        // Logged in already when the shares were typed (the command logs in first, and
        // said so then).
        if client.auth_key_id() != Some(login_id) {
            self.emit(Event::UsingAuthKey(login_id));
            client
                .authenticate(credentials.clone())
                .map_err(|e| crate::device::login_error(e, login_id))?;
        }
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

        problems.extend(self.device_checks(
            &mut client,
            backup,
            wrap.attributes(),
            &present,
            login_id,
        )?);
        self.stop_on_problems(problems)?;

        self.store_wrap_key(&mut client, backup, wrap, &present)?;
        let all_undecryptable = self.import(&mut client, backup, wrap.attributes(), &present)?;
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
        self.verify(&mut client, backup, wrap, &credentials)?;
        self.login_key(&mut client, backup, &credentials, all_undecryptable)?;
        self.report.auth_keys_left = self.auth_keys_left(&present, login_id);
        Ok(())
    }

    /// The authentication keys someone can log in with after the run, as far as it
    /// knows: those it listed (the login key's domains), and those it restored and
    /// verified, less the login key if it deleted it.
    fn auth_keys_left(
        &self,
        present: &HashSet<(ObjectId, ObjectType)>,
        login_id: ObjectId,
    ) -> Vec<ObjectId> {
        let listed = present.iter().filter(|(_, t)| *t == AUTH_KEY).map(|(id, _)| *id);
        let restored = self
            .report
            .files
            .iter()
            .filter(|f| f.object_type == Some(AUTH_KEY) && f.verified() == Some(true))
            .filter_map(|f| f.id);
        let mut left: Vec<ObjectId> = listed
            .chain(restored)
            .filter(|id| !(self.report.auth_key_deleted && *id == login_id))
            .collect();
        left.sort_unstable();
        left.dedup();
        left
    }

    /// Step 2: decrypts every file (with the key from the shares; blobs from a device
    /// whose wrap key this host does not know come decrypted, see
    /// [`Backup::from_exports`]), reports those skipped, checks the wrap key.
    fn preflight(&mut self, backup: &mut Backup, wrap: &Wrap<'_>) -> Result<()> {
        if let Wrap::Shares(shares) = wrap {
            backup.decrypt(&shares.key);
        }
        for file in &backup.files {
            let report = FileReport::of(file);
            if let Some(reason) = report.reason.clone() {
                let file = file.name.clone();
                self.emit(match report.outcome {
                    Outcome::Failed => Event::Unrestorable { file, reason },
                    _ => Event::Skipped { file, reason },
                });
            }
            self.report.files.push(report);
        }
        let decryptable = backup.decryptable();
        if decryptable == 0 {
            return Err(nothing_to_restore(backup));
        }
        if self.options.allow_skipped {
            let files: Vec<String> = backup.not_under_key().into_iter().map(String::from).collect();
            if !files.is_empty() {
                self.report.skipped_other_backup.clone_from(&files);
                self.emit(Event::SkippedOtherBackup(files));
            }
        }
        let wrap_key = wrap.attributes().id;
        let decrypted = wrap.shares().is_some();
        self.emit(Event::Preflight { files: backup.files.len(), decryptable, wrap_key, decrypted });
        Ok(())
    }

    /// Step 2, last: whether the wrap key from the shares is the backup's, with its
    /// attributes ([`identity`]). A mismatch stops the run; when nothing vouches for the
    /// attributes, an interactive run asks `confirm`; a scripted one stops when they are
    /// unusual, goes on when `--wrap-key-id` pins the id, and otherwise warns (and the
    /// login key is kept).
    fn check_identity(
        &mut self,
        backup: &Backup,
        wrap: &WrapKeyToStore,
        confirm: &mut dyn FnMut(&str) -> Result<bool>,
    ) -> Result<()> {
        let pins = self.options.pins;
        let findings = identity::check(&wrap.identity(), backup, &wrap.described, pins);
        self.emit(Event::WrapKeyIdentity {
            attributes: wrap.attributes,
            kcv: wrap.kcv,
            unusual: findings.unusual.clone(),
            pinned: findings.pinned.clone(),
            vouch: findings.vouch.clone(),
        });
        if !findings.mismatches.is_empty() {
            return Err(Error::failure(format!(
                "the wrap key from the shares does not fit the backup: {}; nothing was written \
                 to the device",
                findings.mismatches.join("; ")
            ))
            .with_hint(MISTYPED_SHARE_HINT));
        }
        if let Some(vouch) = &findings.vouch {
            self.report.wrap_key_vouched_by = Some(vouch.name());
            return Ok(());
        }
        // --wrap-key-id stands for the operator's confirmation in a script, as far as
        // nothing is unusual (the pins do not cover the capabilities).
        let pinned = findings.id_pinned && findings.unusual.is_empty();
        if self.options.interactive && !pinned {
            if !confirm(&identity::summary(&wrap.attributes, wrap.kcv))? {
                return Err(Error::failure(
                    "the wrap key's attributes were not confirmed; nothing was written to the \
                     device",
                )
                .with_hint(MISTYPED_SHARE_HINT));
            }
            self.report.wrap_key_vouched_by = Some(identity::Vouch::Operator.name());
            return Ok(());
        }
        if !findings.unusual.is_empty() {
            return Err(Error::failure(format!(
                "nothing confirms the attributes of the wrap key from the shares, and they are \
                 unusual: {}; nothing was written to the device",
                findings.unusual.join("; ")
            ))
            .with_hint(UNCONFIRMED_HINT));
        }
        if pinned {
            self.report.wrap_key_vouched_by = Some("pins");
            return Ok(());
        }
        self.emit(Event::WrapKeyUnconfirmed);
        Ok(())
    }

    /// Step 3, before the first write: the login key's permissions and the device's
    /// storage against what the run will do ([`preflight`]). Checks the device would not
    /// answer are reported as not done.
    fn device_checks(
        &mut self,
        client: &mut Client,
        backup: &Backup,
        wrap: &Attributes,
        present: &HashSet<(ObjectId, ObjectType)>,
        login_id: ObjectId,
    ) -> Result<Vec<preflight::Problem>> {
        let deletes =
            self.planned_keep_reason(backup, login_id).is_none() && self.report.skipped() == 0;
        let plan = preflight::Plan::new(backup, wrap.id, present, deletes);
        let found = preflight::device_problems(client, login_id, wrap, &plan)?;
        for what in found.not_checked {
            self.emit(Event::NotChecked(what));
        }
        Ok(found.problems)
    }

    /// Reports what preflight found. A real run stops here, before its first write; a dry
    /// run goes on to show its plan, and fails at the end.
    fn stop_on_problems(&mut self, problems: Vec<preflight::Problem>) -> Result<()> {
        if problems.is_empty() {
            return Ok(());
        }
        for problem in &problems {
            self.emit(Event::PreflightProblem(problem.clone()));
        }
        let n = problems.len();
        self.report.problems = problems;
        let error = Error::failure(format!(
            "preflight found {n} {} (see above); {}",
            if n == 1 { "problem" } else { "problems" },
            if self.options.dry_run {
                "the restore would fail"
            } else {
                "nothing was written to the device"
            }
        ))
        .with_hint(format!("fix each one, then run {} again", self.options.command()));
        if self.options.dry_run {
            self.report.error = Some(error);
            return Ok(());
        }
        Err(error)
    }

    /// Step 3: stores the wrap key, or notes the one already there.
    fn store_wrap_key(
        &mut self,
        client: &mut Client,
        backup: &Backup,
        wrap: &Wrap<'_>,
        present: &HashSet<(ObjectId, ObjectType)>,
    ) -> Result<()> {
        let a = wrap.attributes();
        if present.contains(&(a.id, ObjectType::WRAP_KEY)) {
            let info = client.get_object_info(a.id, ObjectType::WRAP_KEY).map_err(|e| {
                Error::failure(format!("cannot read wrap key 0x{:04x} on the device", a.id))
                    .with_source(e)
            })?;
            self.report.wrap_key_present = true;
            let expected = wrap
                .shares()
                .and_then(WrapKeyToStore::description)
                .map_or(*a, |d| d.description.attributes());
            self.emit(Event::WrapKeyPresent { id: a.id, differences: expected.differences(&info) });
            return Ok(());
        }
        let Wrap::Shares(wrap) = wrap else {
            return Err(Error::failure(format!(
                "there is no wrap key 0x{:04x} on the device to import under, and this host does \
                 not know the key; nothing was written",
                a.id
            ))
            .with_hint("give the wrap key's shares (--shares-file) so that it can be stored"));
        };
        if self.options.dry_run {
            self.emit(Event::WrapKeyPlanned(a.id));
            return Ok(());
        }
        // A backup that holds the wrap key object itself gives it its label; so does the
        // backup's description of its wrap key.
        let label = backup
            .entries()
            .find(|(_, e)| e.id() == a.id && e.object_type() == ObjectType::WRAP_KEY)
            .map(|(_, e)| e.summary.header.label)
            .or_else(|| wrap.description().map(|d| d.description.label))
            .unwrap_or_else(|| WRAP_KEY_LABEL.parse::<Label>().unwrap_or_default());
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
        let write = Write {
            action: ("storing", "stored"),
            object: format!("wrap key 0x{:04x}", a.id),
            at: (a.id, ObjectType::WRAP_KEY),
            effect: Effect::Creates,
        };
        let result =
            settle_write(client, &write, || a.id, &mut |c| c.put_wrap_key(&request), self.sink);
        let id = result.map_err(|e| {
            let hint = if e.may_have_executed() {
                format!(
                    "it may have been stored: run {} again, which uses a wrap key already on the \
                     device as it is",
                    self.options.command()
                )
            } else {
                "nothing was written to the device".to_owned()
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
        wrap: &Attributes,
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
            // The identity check made sure that the wrap key delegates every object's
            // capabilities.
            if self.options.dry_run {
                self.emit(Event::ImportPlanned { step, file, object_type, id });
                continue;
            }
            tried += 1;
            let write = Write {
                action: ("importing", "imported"),
                object: format!("{} ({file})", entry.describe()),
                at: (id, object_type),
                effect: Effect::Creates,
            };
            let mut send = |c: &mut Client| c.import_wrapped(wrap.id, &entry.blob).map(Some);
            let mut result = settle_write(client, &write, || None, &mut send, self.sink);
            // The first import under a wrap key not proven yet decides that the two keys
            // differ: a refusal is sent once more (a refused import wrote nothing), so
            // that one garbled answer is not taken for the verdict.
            if tried == 1
                && self.key_unproven()
                && matches!(&result, Err(e) if e.code() == Some(ErrorCode::INVALID_DATA))
            {
                self.emit(Event::Retried {
                    what: write.object.clone(),
                    error: result.as_ref().err().map(ToString::to_string).unwrap_or_default(),
                    resolution: "importing it once more, to tell a wrap key that differs from \
                                 a garbled exchange"
                        .to_owned(),
                });
                result = settle_write(client, &write, || None, &mut send, self.sink);
            }
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
                    let error = e.to_string();
                    self.set_outcome(i, Outcome::Failed, Some(error.clone()));
                    let (describe, name) = (entry.describe(), file.clone());
                    self.emit(Event::ImportFailed { step, file, object_type, id, error });
                    if tried == 1 && undecryptable == 1 && self.key_unproven() {
                        self.report.wrap_key_differs = true;
                        return Err(Error::failure(format!(
                            "the device could not decrypt {describe} ({name}), the first object \
                             exported under wrap key 0x{:04x}: its wrap key 0x{:04x} is not the \
                             one the objects were exported under; nothing was written",
                            wrap.id, wrap.id
                        ))
                        .with_hint(WRAP_KEYS_DIFFER_HINT));
                    }
                }
                Err(e) => {
                    self.set_outcome(i, Outcome::Failed, Some(e.to_string()));
                    let command = self.options.command();
                    let hint = format!(
                        "it {} imported: run {command} again to finish (objects already on the \
                         device are skipped and verified)",
                        if e.may_have_executed() { "may have been" } else { "was not" }
                    );
                    return Err(Error::failure(format!(
                        "{command} stopped at {step}, importing {} ({file})",
                        entry.describe()
                    ))
                    .with_source(e)
                    .with_hint(hint));
                }
            }
        }
        Ok(tried > 0 && undecryptable == tried)
    }

    /// Whether the device's wrap key is yet to be proven the one the objects came under:
    /// `clone` onto a device that already held a wrap key with that id. The first import
    /// is the proof (AES-CCM authenticates the blob), so its refusal as undecryptable
    /// stops the run before anything else is tried.
    fn key_unproven(&self) -> bool {
        self.options.from_device && self.report.wrap_key_present && !self.options.wrap_key_proven
    }

    fn set_outcome(&mut self, i: usize, outcome: Outcome, reason: Option<String>) {
        if let Some(f) = self.report.files.get_mut(i) {
            f.outcome = outcome;
            f.reason = reason;
        }
    }

    /// Step 5: every object imported or already present is compared with the backup, the
    /// content of one already present proven where it can be (compare::content).
    fn verify(
        &mut self,
        client: &mut Client,
        backup: &Backup,
        wrap: &mut Wrap<'_>,
        login: &Credentials,
    ) -> Result<()> {
        let mut key = match wrap {
            Wrap::Shares(shares) => {
                Reference::Key(BackupKey { key: &shares.key, id: Some(shares.attributes.id) })
            }
            Wrap::Device { device, .. } => Reference::Device(device),
        };
        let (mut verified, mut failed, mut unproven) = (0, 0, 0);
        for (i, file) in backup.files.iter().enumerate() {
            let Some(entry) = file.entry() else { continue };
            let provenance = match self.report.files.get(i).map(|f| f.outcome) {
                Some(Outcome::Imported) => Provenance::ImportedFromThisBackup,
                Some(Outcome::AlreadyPresent) => Provenance::WasThere,
                _ => continue,
            };
            let checked = match compare::check_entry(client, entry, login, provenance, &mut key) {
                // A read whose answer was lost or garbled, or a proof session whose
                // handshake was: reading once more is harmless, and settles it.
                Err(e) => {
                    self.emit(Event::Retried {
                        what: format!("verifying {} ({})", entry.describe(), file.name),
                        error: e.to_string(),
                        resolution: "checking it once more".to_owned(),
                    });
                    recheck(client, entry, login, provenance, &mut key)
                }
                Ok(c) if c.differences == [Difference::Credentials] => {
                    self.emit(Event::Retried {
                        what: format!("verifying {} ({})", entry.describe(), file.name),
                        error: Difference::Credentials.to_string(),
                        resolution: "checking it once more".to_owned(),
                    });
                    recheck(client, entry, login, provenance, &mut key)
                }
                ok => ok,
            };
            let checked = checked.map_err(|e| {
                let command = self.options.command();
                Error::failure(format!(
                    "{command} stopped while verifying {} ({})",
                    entry.describe(),
                    file.name
                ))
                .with_source(e)
                .with_hint(format!(
                    "run {command} again: objects already on the device are verified"
                ))
            })?;
            if let Some(f) = self.report.files.get_mut(i) {
                f.set_checked(&checked);
            }
            let (file, object_type, id) = (file.name.clone(), entry.object_type(), entry.id());
            if checked.not_imported_wrapped() {
                let origin = checked.origin.unwrap_or_default();
                self.emit(Event::NotImportedWrapped {
                    file: file.clone(),
                    object_type,
                    id,
                    origin,
                });
            }
            match (&checked.content, checked.differences.is_empty()) {
                (Some(compare::Content::Proven(proof)), true) => {
                    verified += 1;
                    let proof = *proof;
                    self.emit(Event::Verified { file, object_type, id, proof });
                    if checked.session_opened() {
                        self.emit(Event::AuthKeyProven(id));
                    }
                }
                (Some(compare::Content::NotVerified(why)), true) => {
                    unproven += 1;
                    let why = why.clone();
                    self.emit(Event::ContentNotVerified { file, object_type, id, why });
                }
                _ => {
                    failed += 1;
                    let differences = checked.differences;
                    self.emit(Event::VerifyFailed { file, object_type, id, differences });
                }
            }
        }
        self.emit(Event::VerifySummary { verified, failed, unproven });
        Ok(())
    }

    /// Why the login key cannot be deleted whatever the device says, if it cannot.
    fn planned_keep_reason(&self, backup: &Backup, login_id: ObjectId) -> Option<String> {
        if self.options.keep_authkey {
            return Some("--keep-authkey was given".to_owned());
        }
        if let Some(reason) = self.options.keep_because {
            return Some(reason.to_owned());
        }
        // Without the wrap key, a copied authentication key's session keys are unknown,
        // so none can be proven to open a session.
        if self.report.wrap_key_kcv.is_none() {
            return Some(
                "this host does not know the wrap key, so no copied authentication key can be \
                 proven to open a session (give the wrap key's shares with --shares-file)"
                    .to_owned(),
            );
        }
        // A wrap key stored with attributes nothing vouched for may be a mistyped one:
        // whoever replaces it needs this key.
        if !self.report.wrap_key_present && self.report.wrap_key_vouched_by.is_none() {
            return Some(
                "nothing vouched for the attributes of the wrap key stored from the shares (see \
                 above)"
                    .to_owned(),
            );
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
            } else if self.report.content_not_verified() > 0
                && self.report.files.iter().all(|f| {
                    f.outcome != Outcome::Failed
                        && (f.verified() != Some(false) || f.content_not_verified().is_some())
                })
            {
                let n = self.report.content_not_verified();
                format!(
                    "the content of {n} {} already on the device could not be verified (see \
                     above), so {} may not be the backup's",
                    if n == 1 { "object" } else { "objects" },
                    if n == 1 { "it" } else { "they" }
                )
            } else if self.report.skipped() > 0
                && self
                    .report
                    .files
                    .iter()
                    .all(|f| f.outcome != Outcome::Failed && f.verified() != Some(false))
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
                // If the key is gone, no session can be opened with it: the device answers
                // object-not-found, which settles it too (see `on_device`).
                let write = Write {
                    action: ("deleting", "deleted"),
                    object: format!("authentication key 0x{login_id:04x}"),
                    at: (login_id, AUTH_KEY),
                    effect: Effect::Deletes,
                };
                let mut send = |c: &mut Client| c.delete_object(login_id, AUTH_KEY);
                let result = settle_write(client, &write, || (), &mut send, self.sink);
                result.map_err(|e| {
                    let hint = if e.may_have_executed() {
                        format!(
                            "every object was restored and verified, and the key may have been \
                             deleted: log in with a restored authentication key (-k ID) and \
                             list the objects to check; if it is still there, delete it with \
                             `yhsm delete 0x{login_id:04x} authentication-key`"
                        )
                    } else {
                        format!(
                            "everything was restored; once a restored authentication key logs \
                             in, delete this one with `yhsm delete 0x{login_id:04x} \
                             authentication-key`"
                        )
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
