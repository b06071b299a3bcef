//! `yhsm verify`: a device compared with a backup, object by object, through
//! [`compare`](crate::backup::compare) (the comparison restore runs too): each object
//! matches (attributes and content proven), differs, or is present with the backup's
//! attributes but its content not verified (which fails the check too).
//!
//! Verify also lists the objects on the device that the backup does not hold. Two are
//! expected and do not fail the check: the authentication key used to log in (after a
//! restore with `--keep-authkey`, or when verifying with the factory key), and the
//! backup's wrap key (the shares' id, or `--wrap-id`), whose attributes are compared with
//! the shares when they are known. The device only lists the objects in the login key's
//! domains.
//!
//! A difference only in the capability bits that have no name (56–63, docs/PROTOCOL.md
//! §3.3) is named apart and does not fail the check: yubihsm-manager keeps only the named
//! bits when it stores a wrap key from shares whose capabilities say `all` (all 64), and
//! no firmware gives the others a meaning.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::PathBuf;

use yhsm_proto::command::ListEntry;
use yhsm_proto::wrap::WrapKey;
use yhsm_proto::{ObjectId, ObjectType, Origin};
use yhsm_transport::Client;

use crate::backup::Backup;
use crate::backup::compare::{
    Attributes, BackupKey, Difference, Provenance, Reference, check_entry,
};
use crate::backup::report::{FileReport, Outcome};
use crate::device::{self, Login};
use crate::error::{EXIT_FAILURE, EXIT_OK, Error, Result};
use crate::options::GlobalOptions;
use crate::util::json::Value;
use crate::util::prompt::Prompter;
use crate::wrapkey::{self, WrapKeySource};

/// Which wrap key the backup was made with, as far as `verify` knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedWrapKey {
    /// From shares: id and attributes.
    Shares(Attributes),
    /// `--wrap-id` with a raw key: the id only.
    Id(ObjectId),
    /// A raw key without `--wrap-id`: every wrap key on the device not in the backup is
    /// an unexpected extra.
    Unknown,
}

impl ExpectedWrapKey {
    fn id(&self) -> Option<ObjectId> {
        match self {
            Self::Shares(a) => Some(a.id),
            Self::Id(id) => Some(*id),
            Self::Unknown => None,
        }
    }
}

/// Whether `d` is a difference of capabilities (or delegated capabilities) in the bits
/// that have no name alone ([`Difference::only_unnamed_bits`]).
pub fn only_unnamed_bits(d: &Difference) -> bool {
    d.only_unnamed_bits()
}

/// One difference as verify words it: those in the unnamed bits alone say so.
fn describe(d: &Difference) -> String {
    match d {
        Difference::Capabilities { backup, device } | Difference::Delegated { backup, device }
            if only_unnamed_bits(d) =>
        {
            let name =
                if d.field() == "capabilities" { "capabilities" } else { "delegated capabilities" };
            format!(
                "{name} differ only in the bits without a name, 56-63 (backup \
                 0x{:016x}; device 0x{:016x}), which no firmware uses",
                backup.unknown_bits(),
                device.unknown_bits()
            )
        }
        d => d.to_string(),
    }
}

fn describe_all(differences: &[Difference]) -> String {
    differences.iter().map(describe).collect::<Vec<_>>().join("; ")
}

/// `{"field", "backup", "device", "unnamed_bits_only"}`.
fn difference_json(d: &Difference) -> Value {
    let mut json = d.to_json();
    if let Value::Object(members) = &mut json {
        members.push(("unnamed_bits_only", Value::Bool(only_unnamed_bits(d))));
    }
    json
}

/// What checking a file found, in verify's words: a view of its [`FileReport`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Present with the backup's attributes and content.
    Match,
    /// A match but for these differences in the capability bits without a name.
    MatchButUnnamedBits(Vec<Difference>),
    /// Missing, or present with these differences.
    Different(Vec<Difference>),
    /// Present with the backup's attributes; its content could not be proven (why).
    NotVerified(String),
    /// Not checked, not a failure (not a wrapped object, not under this key, a copy).
    Skipped(String),
    /// Not checked, a failure (decrypts to an invalid object, conflicts with another file).
    Failed(String),
    /// Not reached: the check stopped before this object.
    NotChecked,
}

impl Status {
    pub fn of(file: &FileReport) -> Self {
        let reason = || file.reason.clone().unwrap_or_default();
        match (file.outcome, &file.differences) {
            (Outcome::Skipped | Outcome::Copy, _) => Self::Skipped(reason()),
            (Outcome::Failed, _) => Self::Failed(reason()),
            (_, None) => Self::NotChecked,
            (_, Some(d)) if d.iter().any(|d| !only_unnamed_bits(d)) => Self::Different(d.clone()),
            _ if !file.content_proven() => {
                Self::NotVerified(file.content_not_verified().unwrap_or_default().to_owned())
            }
            (_, Some(d)) if d.is_empty() => Self::Match,
            (_, Some(d)) => Self::MatchButUnnamedBits(d.clone()),
        }
    }
}

/// An object on the device that the backup does not hold.
#[derive(Debug)]
pub struct Extra {
    pub id: ObjectId,
    pub object_type: ObjectType,
    /// Why it is expected, when it is.
    pub expected: Option<&'static str>,
    /// For the backup's wrap key: how it differs from the shares.
    pub differences: Vec<Difference>,
}

impl Extra {
    /// Whether it fails the check.
    pub fn is_difference(&self) -> bool {
        self.expected.is_none() || !self.differences.iter().all(only_unnamed_bits)
    }
}

/// The result of `yhsm verify`.
#[derive(Debug)]
pub struct VerifyReport {
    pub dir: String,
    pub auth_key: ObjectId,
    pub wrap_key_id: Option<ObjectId>,
    pub files: Vec<FileReport>,
    pub extras: Vec<Extra>,
    /// What stopped the check before it was complete.
    pub error: Option<Error>,
}

impl VerifyReport {
    /// Whether the device holds exactly the backup (with the expected extras).
    pub fn ok(&self) -> bool {
        self.error.is_none()
            && self.files.iter().all(|f| {
                matches!(
                    Status::of(f),
                    Status::Match | Status::MatchButUnnamedBits(_) | Status::Skipped(_)
                )
            })
            && !self.extras.iter().any(Extra::is_difference)
    }

    pub fn exit_code(&self) -> u8 {
        if self.ok() { EXIT_OK } else { EXIT_FAILURE }
    }

    fn count(&self, pick: impl Fn(&Status) -> bool) -> usize {
        self.files.iter().filter(|f| pick(&Status::of(f))).count()
    }

    /// The human-readable report (standard output).
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        for f in &self.files {
            let what = match (f.object_type, f.id) {
                (Some(t), Some(id)) => format!("{}: {t} 0x{id:04x}", f.file),
                _ => f.file.clone(),
            };
            let origin = match f.origin {
                Some(o) if !o.contains(Origin::IMPORTED_WRAPPED) => {
                    format!(" (not imported under wrap: origin {o})")
                }
                _ => String::new(),
            };
            let line = match &Status::of(f) {
                Status::Match => format!("{what}: matches{origin}"),
                Status::MatchButUnnamedBits(d) => {
                    format!("{what}: matches{origin}; {}", describe_all(d))
                }
                Status::NotVerified(why) => {
                    format!("{what}: present, content not verified{origin}: {why}")
                }
                Status::NotChecked => format!("{what}: not checked"),
                Status::Different(d) if d.first() == Some(&Difference::Missing) => {
                    format!("{what}: missing from the device")
                }
                Status::Different(d) => format!("{what}: differs: {}", describe_all(d)),
                Status::Skipped(reason) => format!("{what}: skipped: {reason}"),
                Status::Failed(reason) => format!("{what}: not checked: {reason}"),
            };
            out.push_str(&line);
            out.push('\n');
        }
        for e in &self.extras {
            let what = format!("{} 0x{:04x}", e.object_type, e.id);
            let line = match (e.expected, e.differences.is_empty(), e.is_difference()) {
                (Some(why), true, _) => format!("extra on the device: {what} ({why}; expected)"),
                (Some(why), false, false) => format!(
                    "extra on the device: {what} ({why}; expected); {}",
                    describe_all(&e.differences)
                ),
                (Some(why), false, true) => format!(
                    "extra on the device: {what} ({why}) differs: {}",
                    describe_all(&e.differences)
                ),
                (None, _, _) => format!("extra on the device: {what}: not in the backup"),
            };
            out.push_str(&line);
            out.push('\n');
        }
        if self.error.is_none() {
            let matched =
                self.count(|s| matches!(s, Status::Match | Status::MatchButUnnamedBits(_)));
            let missing = self.count(
                |s| matches!(s, Status::Different(d) if d.first() == Some(&Difference::Missing)),
            );
            let different = self.count(
                |s| matches!(s, Status::Different(d) if d.first() != Some(&Difference::Missing)),
            );
            let unproven = self.count(|s| matches!(s, Status::NotVerified(_)));
            let unexpected = self.extras.iter().filter(|e| e.is_difference()).count();
            let unproven = if unproven == 0 {
                String::new()
            } else {
                format!(", {unproven} present but content not verified")
            };
            out.push_str(&format!(
                "{matched} {} {}, {missing} missing, {different} different{unproven}, \
                 {unexpected} unexpected on the device\n",
                plural(matched, "object", "objects"),
                if matched == 1 { "matches" } else { "match" },
            ));
        }
        out
    }

    /// The error to print (standard error) when the check failed: what stopped it, or
    /// that the device differs.
    pub fn into_failure(self) -> Option<Error> {
        let ok = self.ok();
        let hint = self.hint();
        match self.error {
            Some(e) => Some(e),
            None if !ok => Some(
                Error::failure(format!(
                    "the device does not hold exactly the backup in `{}`",
                    self.dir
                ))
                .with_hint(hint),
            ),
            None => None,
        }
    }

    /// What to do about the differences found, naming the first object concerned.
    fn hint(&self) -> String {
        let first = |pick: &dyn Fn(&Status) -> bool| {
            self.files
                .iter()
                .find(|f| pick(&Status::of(f)))
                .and_then(|f| Some(format!("0x{:04x} {}", f.id?, f.object_type?)))
        };
        let missing = |s: &Status| matches!(s, Status::Different(d) if d.first() == Some(&Difference::Missing));
        let different = |s: &Status| matches!(s, Status::Different(_)) && !missing(s);
        if let Some(object) = first(&different) {
            return format!(
                "restore never replaces an object already on the device: delete the one that \
                 differs (`yhsm delete {object}`), then run restore again"
            );
        }
        if first(&missing).is_some() {
            return "run `yhsm restore` to bring back the missing objects".to_owned();
        }
        if let Some(object) = first(&|s| matches!(s, Status::NotVerified(_))) {
            return format!(
                "an object whose content is not verified may not be the backup's: verify with \
                 an authentication key that may export it under the wrap key or use it, or \
                 delete it (`yhsm delete {object}`) and run restore again"
            );
        }
        if let Some(e) = self.extras.iter().find(|e| e.expected.is_none()) {
            if e.object_type == ObjectType::WRAP_KEY && self.wrap_key_id.is_none() {
                return format!(
                    "if wrap-key 0x{:04x} is the backup's wrap key, say so with --wrap-id \
                     0x{:04x}",
                    e.id, e.id
                );
            }
            return format!(
                "an object the backup does not hold was made after it (dump again to include \
                 it) or does not belong there (`yhsm delete 0x{:04x} {}`)",
                e.id, e.object_type
            );
        }
        "the backup's wrap key on the device does not have the attributes the shares give: \
         compare them (`yhsm shares combine`, `yhsm list`); a mistyped share changes them"
            .to_owned()
    }

    /// The JSON object of `verify --json`; see cli/README.md.
    pub fn to_json(&self) -> Value {
        let files = self
            .files
            .iter()
            .map(|f| {
                let status = Status::of(f);
                let (status, reason, differences) = match &status {
                    Status::Match => ("match", None, vec![]),
                    Status::MatchButUnnamedBits(d) => {
                        ("match", None, d.iter().map(difference_json).collect())
                    }
                    Status::NotVerified(why) => {
                        ("content-not-verified", Some(why.as_str()), vec![])
                    }
                    Status::NotChecked => ("not-checked", None, vec![]),
                    Status::Different(d) if d.first() == Some(&Difference::Missing) => {
                        ("missing", None, vec![])
                    }
                    Status::Different(d) => {
                        ("different", None, d.iter().map(difference_json).collect())
                    }
                    Status::Skipped(r) => ("skipped", Some(r.as_str()), vec![]),
                    Status::Failed(r) => ("failed", Some(r.as_str()), vec![]),
                };
                let mut members = f.json_members();
                members.extend([
                    ("status", Value::string(status)),
                    ("reason", Value::string_or_null(reason)),
                    ("differences", Value::Array(differences)),
                ]);
                members.extend(f.json_check_members());
                Value::Object(members)
            })
            .collect();
        let extras = self
            .extras
            .iter()
            .map(|e| {
                Value::Object(vec![
                    ("id", Value::Number(u64::from(e.id))),
                    ("type", Value::string(e.object_type.to_string())),
                    ("expected", Value::Bool(e.expected.is_some())),
                    ("note", Value::string_or_null(e.expected)),
                    (
                        "differences",
                        Value::Array(e.differences.iter().map(difference_json).collect()),
                    ),
                ])
            })
            .collect();
        Value::Object(vec![
            ("ok", Value::Bool(self.ok())),
            ("auth_key", Value::Number(u64::from(self.auth_key))),
            ("wrap_key_id", Value::number_or_null(self.wrap_key_id.map(u64::from))),
            ("files", Value::Array(files)),
            ("extra", Value::Array(extras)),
            ("error", Value::string_or_null(self.error.as_ref().map(Error::chain))),
        ])
    }
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// What `yhsm verify` was asked to do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Args {
    pub dir: PathBuf,
    /// `None`: ask for shares at the terminal.
    pub key: Option<WrapKeySource>,
    /// The id of the backup's wrap key on the device, for a raw key (`--wrap-id`).
    pub wrap_id: Option<ObjectId>,
    pub json: bool,
}

/// Reads and decrypts the backup (stopping when no file decrypts), then runs [`run`].
pub fn command(
    global: &GlobalOptions,
    args: &Args,
    prompter: &mut dyn Prompter,
    env_password: Option<OsString>,
) -> Result<VerifyReport> {
    let mut backup = Backup::read_dir(&args.dir)?;
    let loaded = wrapkey::load_or_prompt(args.key.as_ref(), prompter)?;
    let expected = match (&loaded.recovered, args.wrap_id) {
        (Some(recovered), _) => ExpectedWrapKey::Shares(Attributes::from_shares(recovered)),
        (None, Some(id)) => ExpectedWrapKey::Id(id),
        (None, None) => ExpectedWrapKey::Unknown,
    };
    backup.decrypt(&loaded.key);
    let key = loaded.key;
    drop(loaded.recovered);
    if backup.decryptable() == 0 {
        return Err(Error::failure(format!(
            "none of the {} .yhw files in `{}` decrypts under the wrap key",
            backup.files.len(),
            backup.dir.display()
        ))
        .with_hint("check the wrap key or the shares"));
    }
    let mut env_password = env_password;
    let mut connect = || device::login(global, env_password.take(), prompter);
    Ok(run(&backup, expected, &key, &mut connect))
}

/// Compares the device behind `login` with `backup`, already decrypted under `key`.
/// `login` is called once, to connect and authenticate.
pub fn run(
    backup: &Backup,
    wrap: ExpectedWrapKey,
    key: &WrapKey,
    login: &mut dyn FnMut() -> Result<Login, Error>,
) -> VerifyReport {
    let mut report = VerifyReport {
        dir: backup.dir.display().to_string(),
        auth_key: 0,
        wrap_key_id: wrap.id(),
        files: backup.files.iter().map(FileReport::of).collect(),
        extras: Vec::new(),
        error: None,
    };
    if let Err(e) = check(backup, wrap, BackupKey { key, id: wrap.id() }, login, &mut report) {
        report.error = Some(e);
    }
    report
}

fn check(
    backup: &Backup,
    wrap: ExpectedWrapKey,
    key: BackupKey<'_>,
    login: &mut dyn FnMut() -> Result<Login, Error>,
    report: &mut VerifyReport,
) -> Result<()> {
    let Login { mut client, credentials } = login()?;
    report.auth_key = credentials.key_id();
    client
        .authenticate(credentials.clone())
        .map_err(|e| Error::failure("cannot log in").with_source(e))?;
    let listed = client
        .list_objects(&[])
        .map_err(|e| Error::failure("cannot list the device's objects").with_source(e))?;
    let mut in_backup = HashSet::new();
    for (file, check) in backup.files.iter().zip(report.files.iter_mut()) {
        let Some(entry) = file.entry() else { continue };
        in_backup.insert((entry.id(), entry.object_type()));
        let mut reference = Reference::Key(key);
        let checked =
            check_entry(&mut client, entry, &credentials, Provenance::WasThere, &mut reference)
                .map_err(|e| {
                    Error::failure(format!(
                        "verify stopped at {} ({})",
                        entry.describe(),
                        file.name
                    ))
                    .with_source(e)
                })?;
        check.set_checked(&checked);
    }
    report.extras = extras(&mut client, &listed, &in_backup, report.auth_key, wrap)?;
    Ok(())
}

fn extras(
    client: &mut Client,
    listed: &[ListEntry],
    in_backup: &HashSet<(ObjectId, ObjectType)>,
    auth_key: ObjectId,
    wrap: ExpectedWrapKey,
) -> Result<Vec<Extra>> {
    let mut out = Vec::new();
    let mut listed: Vec<&ListEntry> = listed.iter().collect();
    listed.sort_by_key(|e| (e.id, e.object_type));
    for e in listed {
        if in_backup.contains(&(e.id, e.object_type)) {
            continue;
        }
        let mut extra =
            Extra { id: e.id, object_type: e.object_type, expected: None, differences: vec![] };
        if e.object_type == ObjectType::AUTHENTICATION_KEY && e.id == auth_key {
            extra.expected = Some("the authentication key used to log in");
        } else if e.object_type == ObjectType::WRAP_KEY && Some(e.id) == wrap.id() {
            extra.expected = Some("the backup's wrap key");
            if let ExpectedWrapKey::Shares(attributes) = wrap {
                let info = client.get_object_info(e.id, e.object_type).map_err(|err| {
                    Error::failure(format!("cannot read wrap key 0x{:04x}", e.id)).with_source(err)
                })?;
                extra.differences = attributes.differences(&info);
            }
        }
        out.push(extra);
    }
    Ok(out)
}
