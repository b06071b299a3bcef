//! Comparing a device with a backup, object by object (PROTOCOL.md §3 "Object info", §5):
//! the one comparison that `restore` runs after importing and that `yhsm verify` runs on
//! its own.
//!
//! An object from the backup is looked up by its (id, type). It matches when the device
//! holds it with the header's algorithm, capabilities, domains and label, the delegated
//! capabilities of an authentication or wrap key, and, for an asymmetric key, the same
//! public key (GET_PUBLIC_KEY). Sequence and origin are not compared: the device counts
//! its own sequence, and an import adds 0x10 to the origin.
//!
//! What the comparison cannot see: the secret of a symmetric object (an HMAC, AES or
//! authentication key, opaque data) whose attributes match. `restore` proves restored
//! authentication keys separately by opening a session with them.
//!
//! `yhsm verify` also lists the objects on the device that the backup does not hold.
//! Two are expected and do not fail the check: the authentication key used to log in
//! (after a restore with `--keep-authkey`, or when verifying with the factory key), and
//! the backup's wrap key (the shares' id, or `--wrap-id`), whose attributes are compared
//! with the shares when they are known. The device only lists the objects in the login
//! key's domains.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use yhsm_proto::command::ListEntry;
use yhsm_proto::{
    Algorithm, Capabilities, Domains, ErrorCode, Label, ObjectId, ObjectInfo, ObjectType,
};
use yhsm_transport::{Client, ClientError, Credentials};

use crate::backup::object::Summary;
use crate::backup::restore::{self, Login};
use crate::backup::{Backup, Entry};
use crate::error::{EXIT_FAILURE, EXIT_OK, Error, Result};
use crate::options::GlobalOptions;
use crate::util::json::Value;
use crate::util::prompt::Prompter;
use crate::util::text;
use crate::wrapkey::shares::RecoveredKey;
use crate::wrapkey::{self, WrapKeySource};

/// One way a device object differs from the backup's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// No object with this id and type on the device (or outside the login key's domains).
    Missing,
    Algorithm {
        backup: Algorithm,
        device: Algorithm,
    },
    Capabilities {
        backup: Capabilities,
        device: Capabilities,
    },
    Domains {
        backup: Domains,
        device: Domains,
    },
    Label {
        backup: Label,
        device: Label,
    },
    Delegated {
        backup: Capabilities,
        device: Capabilities,
    },
    /// The device's public key is not the backup's.
    PublicKey {
        backup: Vec<u8>,
        device: Vec<u8>,
    },
    /// The backup's keys of this authentication key do not open a session: the device
    /// holds another key with the same id and attributes.
    Credentials,
}

impl Difference {
    /// The field's name, as JSON gives it.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Missing => "presence",
            Self::Algorithm { .. } => "algorithm",
            Self::Capabilities { .. } => "capabilities",
            Self::Domains { .. } => "domains",
            Self::Label { .. } => "label",
            Self::Delegated { .. } => "delegated_capabilities",
            Self::PublicKey { .. } => "public_key",
            Self::Credentials => "credentials",
        }
    }

    /// The backup's and the device's values, as text.
    fn values(&self) -> Option<(String, String)> {
        Some(match self {
            Self::Missing | Self::Credentials => return None,
            Self::Algorithm { backup, device } => (backup.to_string(), device.to_string()),
            Self::Capabilities { backup, device } | Self::Delegated { backup, device } => {
                (backup.to_string(), device.to_string())
            }
            Self::Domains { backup, device } => {
                (text::domain_list(*backup), text::domain_list(*device))
            }
            Self::Label { backup, device } => {
                (text::quoted(&backup.to_string_lossy()), text::quoted(&device.to_string_lossy()))
            }
            Self::PublicKey { backup, device } => (hex::encode(backup), hex::encode(device)),
        })
    }

    /// `{"field", "backup", "device"}`.
    pub fn to_json(&self) -> Value {
        let (backup, device) = match self {
            Self::Domains { backup, device } => {
                (Value::Number(u64::from(backup.0)), Value::Number(u64::from(device.0)))
            }
            Self::Capabilities { backup, device } | Self::Delegated { backup, device } => (
                Value::string(text::capabilities_hex(*backup)),
                Value::string(text::capabilities_hex(*device)),
            ),
            Self::Label { backup, device } => {
                (Value::string(backup.to_string_lossy()), Value::string(device.to_string_lossy()))
            }
            Self::Credentials => (Value::string("opens a session"), Value::string("refused")),
            other => match other.values() {
                Some((b, d)) => (Value::string(b), Value::string(d)),
                None => (Value::string("present"), Value::string("missing")),
            },
        };
        Value::Object(vec![
            ("field", Value::string(self.field())),
            ("backup", backup),
            ("device", device),
        ])
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.values()) {
            (Self::PublicKey { .. }, _) => f.write_str("the public key is not the backup's"),
            (Self::Credentials, _) => f.write_str(
                "the backup's keys do not open a session with it (the device holds another key \
                 with this id)",
            ),
            (_, Some((backup, device))) => {
                let name = match self {
                    Self::Delegated { .. } => "delegated capabilities",
                    other => other.field(),
                };
                write!(f, "{name} (backup {backup}; device {device})")
            }
            (_, None) => f.write_str("not on the device"),
        }
    }
}

/// `a, b and c` from the differences, for one line.
pub fn describe_differences(differences: &[Difference]) -> String {
    let parts: Vec<String> = differences.iter().map(ToString::to_string).collect();
    parts.join("; ")
}

/// How the device's object info differs from the backup's header (the object is there).
pub fn compare(summary: &Summary, info: &ObjectInfo) -> Vec<Difference> {
    let h = &summary.header;
    let mut out = Vec::new();
    if info.algorithm != h.algorithm {
        out.push(Difference::Algorithm { backup: h.algorithm, device: info.algorithm });
    }
    if info.capabilities != h.capabilities {
        out.push(Difference::Capabilities { backup: h.capabilities, device: info.capabilities });
    }
    if info.domains != h.domains {
        out.push(Difference::Domains { backup: h.domains, device: info.domains });
    }
    if info.label != h.label {
        out.push(Difference::Label { backup: h.label, device: info.label });
    }
    if let Some(delegated) = summary.delegated
        && info.delegated_capabilities != delegated
    {
        out.push(Difference::Delegated { backup: delegated, device: info.delegated_capabilities });
    }
    out
}

/// Whether [`check_object`] also reads an asymmetric key's public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicKeyCheck {
    /// Compare it with the backup's: the object was on the device before (`yhsm verify`,
    /// or restore's already-present objects), so its key may be another one.
    Compare,
    /// The device accepted this very blob in this run: IMPORT_WRAPPED only succeeds
    /// when AES-CCM authenticates the blob under the wrap key, and the device stores
    /// the key material it decrypted, so the public key cannot differ. Skipping the read
    /// saves one round trip per asymmetric key (the attributes are still compared).
    ImportedFromThisBackup,
}

/// Looks the backup's object up on the device and compares it: the differences, none
/// when it matches. A device refusal other than object-not-found, or a transport error,
/// is an error.
pub fn check_object(
    client: &mut Client,
    summary: &Summary,
    public_key: PublicKeyCheck,
) -> Result<Vec<Difference>, ClientError> {
    let h = &summary.header;
    let info = match client.get_object_info(h.id, h.object_type) {
        Ok(info) => info,
        Err(e) if e.code() == Some(ErrorCode::OBJECT_NOT_FOUND) => {
            return Ok(vec![Difference::Missing]);
        }
        Err(e) => return Err(e),
    };
    let mut differences = compare(summary, &info);
    if public_key == PublicKeyCheck::Compare
        && h.object_type == ObjectType::ASYMMETRIC_KEY
        && let Some(backup) = &summary.public_key
        && info.algorithm == h.algorithm
    {
        let device = client.get_public_key(h.id)?;
        if device.key != *backup {
            differences.push(Difference::PublicKey { backup: backup.clone(), device: device.key });
        }
    }
    Ok(differences)
}

/// What checking one backup object found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checked {
    /// None when the object matches.
    pub differences: Vec<Difference>,
    /// A symmetric authentication key opened a session with the backup's keys.
    pub session_opened: bool,
}

/// [`check_object`], and for a symmetric authentication key whose attributes match, a
/// session opened with the backup's keys (the secret the attributes cannot show), after
/// which `client` logs in again with `login`. Restore relies on this before deleting its
/// login key; an asymmetric authentication key cannot be tried (the backup holds only
/// its public key).
pub fn check_entry(
    client: &mut Client,
    entry: &Entry,
    login: &Credentials,
    public_key: PublicKeyCheck,
) -> Result<Checked, ClientError> {
    let mut checked = Checked {
        differences: check_object(client, &entry.summary, public_key)?,
        session_opened: false,
    };
    if let (true, Some(keys)) = (checked.differences.is_empty(), &entry.auth_keys) {
        let opened = client.authenticate(Credentials::keys(entry.id(), keys.clone()));
        client.authenticate(login.clone())?;
        match opened {
            Ok(()) => checked.session_opened = true,
            Err(ClientError::AuthenticationFailed { .. }) => {
                checked.differences.push(Difference::Credentials);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(checked)
}

/// The attributes a wrap key restored from shares has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WrapKeyAttributes {
    pub id: ObjectId,
    pub algorithm: Algorithm,
    pub domains: Domains,
    pub capabilities: Capabilities,
    pub delegated: Capabilities,
}

impl WrapKeyAttributes {
    pub fn from_recovered(recovered: &RecoveredKey) -> Self {
        let s = &recovered.0.secret;
        Self {
            id: s.wrap_key_id,
            algorithm: s.algorithm(),
            domains: s.domains,
            capabilities: s.capabilities,
            delegated: s.delegated,
        }
    }

    /// How the device's wrap key differs from these attributes (its label is not
    /// compared: the shares do not carry one).
    pub fn compare(&self, info: &ObjectInfo) -> Vec<Difference> {
        let mut out = Vec::new();
        if info.algorithm != self.algorithm {
            out.push(Difference::Algorithm { backup: self.algorithm, device: info.algorithm });
        }
        if info.capabilities != self.capabilities {
            out.push(Difference::Capabilities {
                backup: self.capabilities,
                device: info.capabilities,
            });
        }
        if info.domains != self.domains {
            out.push(Difference::Domains { backup: self.domains, device: info.domains });
        }
        if info.delegated_capabilities != self.delegated {
            out.push(Difference::Delegated {
                backup: self.delegated,
                device: info.delegated_capabilities,
            });
        }
        out
    }
}

/// Which wrap key the backup was made with, as far as `verify` knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedWrapKey {
    /// From shares: id and attributes.
    Shares(WrapKeyAttributes),
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

/// One backup file's result.
#[derive(Debug)]
pub struct FileCheck {
    pub file: String,
    pub id: Option<ObjectId>,
    pub object_type: Option<ObjectType>,
    pub status: Status,
}

/// What a file's check found.
#[derive(Debug, PartialEq, Eq)]
pub enum Status {
    Match,
    /// Missing, or present with these differences.
    Different(Vec<Difference>),
    /// Not checked, not a failure (not a wrapped object, not under this key, a copy).
    Skipped(String),
    /// Not checked, a failure (decrypts to an invalid object, conflicts with another file).
    Failed(String),
    /// Not reached: the check stopped before this object.
    NotChecked,
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
        self.expected.is_none() || !self.differences.is_empty()
    }
}

/// The result of `yhsm verify`.
#[derive(Debug)]
pub struct VerifyReport {
    pub dir: String,
    pub auth_key: ObjectId,
    pub wrap_key_id: Option<ObjectId>,
    pub files: Vec<FileCheck>,
    pub extras: Vec<Extra>,
    /// What stopped the check before it was complete.
    pub error: Option<Error>,
}

impl VerifyReport {
    /// Whether the device holds exactly the backup (with the expected extras).
    pub fn ok(&self) -> bool {
        self.error.is_none()
            && self.files.iter().all(|f| matches!(f.status, Status::Match | Status::Skipped(_)))
            && !self.extras.iter().any(Extra::is_difference)
    }

    pub fn exit_code(&self) -> u8 {
        if self.ok() { EXIT_OK } else { EXIT_FAILURE }
    }

    fn count(&self, pick: impl Fn(&Status) -> bool) -> usize {
        self.files.iter().filter(|f| pick(&f.status)).count()
    }

    /// The human-readable report (standard output).
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        for f in &self.files {
            let what = match (f.object_type, f.id) {
                (Some(t), Some(id)) => format!("{}: {t} 0x{id:04x}", f.file),
                _ => f.file.clone(),
            };
            let line = match &f.status {
                Status::Match => format!("{what}: matches"),
                Status::NotChecked => format!("{what}: not checked"),
                Status::Different(d) if d.first() == Some(&Difference::Missing) => {
                    format!("{what}: missing from the device")
                }
                Status::Different(d) => format!("{what}: differs: {}", describe_differences(d)),
                Status::Skipped(reason) => format!("{what}: skipped: {reason}"),
                Status::Failed(reason) => format!("{what}: not checked: {reason}"),
            };
            out.push_str(&line);
            out.push('\n');
        }
        for e in &self.extras {
            let what = format!("{} 0x{:04x}", e.object_type, e.id);
            let line = match (e.expected, e.differences.is_empty()) {
                (Some(why), true) => format!("extra on the device: {what} ({why}; expected)"),
                (Some(why), false) => format!(
                    "extra on the device: {what} ({why}) differs: {}",
                    describe_differences(&e.differences)
                ),
                (None, _) => format!("extra on the device: {what}: not in the backup"),
            };
            out.push_str(&line);
            out.push('\n');
        }
        if self.error.is_none() {
            let matched = self.count(|s| *s == Status::Match);
            let missing = self.count(
                |s| matches!(s, Status::Different(d) if d.first() == Some(&Difference::Missing)),
            );
            let different = self.count(
                |s| matches!(s, Status::Different(d) if d.first() != Some(&Difference::Missing)),
            );
            let unexpected = self.extras.iter().filter(|e| e.is_difference()).count();
            out.push_str(&format!(
                "{matched} {} {}, {missing} missing, {different} different, {unexpected} \
                 unexpected on the device\n",
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
        match self.error {
            Some(e) => Some(e),
            None if !ok => Some(Error::failure(format!(
                "the device does not hold exactly the backup in `{}`",
                self.dir
            ))),
            None => None,
        }
    }

    /// The JSON object of `verify --json`; see cli/README.md.
    pub fn to_json(&self) -> Value {
        let files = self
            .files
            .iter()
            .map(|f| {
                let (status, reason, differences) = match &f.status {
                    Status::Match => ("match", None, vec![]),
                    Status::NotChecked => ("not-checked", None, vec![]),
                    Status::Different(d) if d.first() == Some(&Difference::Missing) => {
                        ("missing", None, vec![])
                    }
                    Status::Different(d) => {
                        ("different", None, d.iter().map(Difference::to_json).collect())
                    }
                    Status::Skipped(r) => ("skipped", Some(r.as_str()), vec![]),
                    Status::Failed(r) => ("failed", Some(r.as_str()), vec![]),
                };
                Value::Object(vec![
                    ("file", Value::string(f.file.as_str())),
                    ("id", Value::number_or_null(f.id.map(u64::from))),
                    ("type", Value::string_or_null(f.object_type.map(|t| t.to_string()))),
                    ("status", Value::string(status)),
                    ("reason", Value::string_or_null(reason)),
                    ("differences", Value::Array(differences)),
                ])
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
                        Value::Array(e.differences.iter().map(Difference::to_json).collect()),
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
    let loaded = match &args.key {
        Some(source) => wrapkey::load(source)?,
        None => wrapkey::load_prompted(prompter)?,
    };
    let expected = match (&loaded.recovered, args.wrap_id) {
        (Some(recovered), _) => {
            ExpectedWrapKey::Shares(WrapKeyAttributes::from_recovered(recovered))
        }
        (None, Some(id)) => ExpectedWrapKey::Id(id),
        (None, None) => ExpectedWrapKey::Unknown,
    };
    backup.decrypt(&loaded.key);
    drop(loaded);
    if backup.decryptable() == 0 {
        return Err(Error::failure(format!(
            "none of the {} .yhw files in `{}` decrypts under the wrap key",
            backup.files.len(),
            backup.dir.display()
        ))
        .with_hint("check the wrap key or the shares"));
    }
    let mut env_password = env_password;
    let mut connect = || restore::login(global, env_password.take(), prompter);
    Ok(run(&backup, expected, &mut connect))
}

/// Compares the device behind `login` with `backup`, already decrypted. `login` is
/// called once, to connect and authenticate.
pub fn run(
    backup: &Backup,
    wrap: ExpectedWrapKey,
    login: &mut dyn FnMut() -> Result<Login, Error>,
) -> VerifyReport {
    let mut report = VerifyReport {
        dir: backup.dir.display().to_string(),
        auth_key: 0,
        wrap_key_id: wrap.id(),
        files: backup
            .files
            .iter()
            .map(|f| {
                let entry = f.entry();
                let status = match (f.skip_reason(), f.failure_reason()) {
                    (Some(r), _) => Status::Skipped(r),
                    (None, Some(r)) => Status::Failed(r),
                    (None, None) => Status::NotChecked,
                };
                FileCheck {
                    file: f.name.clone(),
                    id: entry.map(Entry::id),
                    object_type: entry.map(Entry::object_type),
                    status,
                }
            })
            .collect(),
        extras: Vec::new(),
        error: None,
    };
    if let Err(e) = check(backup, wrap, login, &mut report) {
        report.error = Some(e);
    }
    report
}

fn check(
    backup: &Backup,
    wrap: ExpectedWrapKey,
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
        let differences = check_entry(&mut client, entry, &credentials, PublicKeyCheck::Compare)
            .map_err(|e| {
                Error::failure(format!("verify stopped at {} ({})", entry.describe(), file.name))
                    .with_source(e)
            })?
            .differences;
        check.status =
            if differences.is_empty() { Status::Match } else { Status::Different(differences) };
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
                extra.differences = attributes.compare(&info);
            }
        }
        out.push(extra);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use yhsm_proto::Origin;
    use yhsm_proto::wrap::WrapHeader;

    fn summary() -> Summary {
        Summary {
            header: WrapHeader {
                wrap_algorithm: Algorithm::AES256_CCM_WRAP,
                capabilities: Capabilities::SIGN_ECDSA,
                id: 0x100,
                length: 96,
                domains: Domains(1),
                object_type: ObjectType::ASYMMETRIC_KEY,
                algorithm: Algorithm::ECP256,
                sequence: 0,
                origin: Origin::IMPORTED,
                label: "k".parse().unwrap(),
            },
            delegated: None,
            public_key: Some(vec![4; 64]),
        }
    }

    fn info(s: &Summary) -> ObjectInfo {
        let h = s.header;
        ObjectInfo {
            capabilities: h.capabilities,
            id: h.id,
            length: h.length,
            domains: h.domains,
            object_type: h.object_type,
            algorithm: h.algorithm,
            sequence: 7,
            origin: Origin(0x12),
            label: h.label,
            delegated_capabilities: Capabilities::NONE,
        }
    }

    #[test]
    fn matches_whatever_the_sequence_and_origin() {
        let s = summary();
        assert!(compare(&s, &info(&s)).is_empty());
    }

    #[test]
    fn names_every_differing_field() {
        let s = summary();
        let mut i = info(&s);
        i.algorithm = Algorithm::ECP384;
        i.capabilities = Capabilities::NONE;
        i.domains = Domains(3);
        i.label = "other".parse().unwrap();
        let d = compare(&s, &i);
        let fields: Vec<&str> = d.iter().map(Difference::field).collect();
        assert_eq!(fields, ["algorithm", "capabilities", "domains", "label"]);
        assert_eq!(
            describe_differences(&d),
            "algorithm (backup ecp256; device ecp384); capabilities (backup sign-ecdsa; device \
             none); domains (backup 1; device 1:2); label (backup \"k\"; device \"other\")"
        );
    }

    #[test]
    fn compares_delegated_capabilities_of_keys_that_have_them() {
        let mut s = summary();
        s.header.object_type = ObjectType::AUTHENTICATION_KEY;
        s.delegated = Some(Capabilities::SIGN_ECDSA);
        let mut i = info(&s);
        assert_eq!(
            compare(&s, &i),
            [Difference::Delegated {
                backup: Capabilities::SIGN_ECDSA,
                device: Capabilities::NONE
            }]
        );
        i.delegated_capabilities = Capabilities::SIGN_ECDSA;
        assert!(compare(&s, &i).is_empty());
    }

    #[test]
    fn wrap_key_attributes_ignore_the_label() {
        let a = WrapKeyAttributes {
            id: 2,
            algorithm: Algorithm::AES256_CCM_WRAP,
            domains: Domains(1),
            capabilities: Capabilities::IMPORT_WRAPPED,
            delegated: Capabilities::ALL,
        };
        let mut i = info(&summary());
        i.algorithm = Algorithm::AES256_CCM_WRAP;
        i.capabilities = Capabilities::IMPORT_WRAPPED;
        i.delegated_capabilities = Capabilities::ALL;
        assert!(a.compare(&i).is_empty());
        i.delegated_capabilities = Capabilities::SIGN_ECDSA;
        assert_eq!(a.compare(&i)[0].field(), "delegated_capabilities");
    }
}
