//! What a restore did ([`RestoreReport`]): every file's outcome, the wrap key's and the
//! login key's fate, what stopped the run; its exit status, its last error, its JSON.

use yhsm_proto::ObjectId;
use yhsm_proto::shares::KCV_LEN;

use crate::backup::report::{FileReport, Outcome};
use crate::error::{EXIT_FAILURE, EXIT_OK, Error};
use crate::util::json::Value;

/// The result of a restore.
#[derive(Debug)]
pub struct RestoreReport {
    /// `restore`, or `clone` (for the hints).
    pub command: &'static str,
    pub dir: String,
    pub dry_run: bool,
    pub auth_key: ObjectId,
    pub wrap_key_id: ObjectId,
    /// The key check value of the wrap key from the shares (`None` when this host does
    /// not know the key: clone without shares).
    pub wrap_key_kcv: Option<[u8; KCV_LEN]>,
    /// What vouched for its attributes ([`Vouch::name`], `operator` or `pins`); `None`
    /// when nothing did, or the run stopped first.
    ///
    /// [`Vouch::name`]: crate::backup::identity::Vouch::name
    pub wrap_key_vouched_by: Option<&'static str>,
    pub wrap_key_stored: bool,
    pub wrap_key_present: bool,
    /// `clone`: the first import showed that the wrap key on the device is not the key
    /// the objects were exported under.
    pub wrap_key_differs: bool,
    pub files: Vec<FileReport>,
    pub auth_key_deleted: bool,
    pub auth_key_kept_reason: Option<String>,
    /// What preflight found that makes the run fail (it stopped before writing; a dry
    /// run reports them all).
    pub problems: Vec<String>,
    /// Files that do not decrypt under the shares' key, which the operator said belong to
    /// another backup (`--allow-skipped`, or at the terminal): skipped, and no failure.
    pub skipped_other_backup: Vec<String>,
    /// The authentication keys left to log in with after a run that finished (see
    /// `Event::AuthKeysLeft`); empty otherwise.
    pub auth_keys_left: Vec<ObjectId>,
    /// What stopped the run, or the login key's deletion failing.
    pub error: Option<Error>,
}

/// What to do about skipped files.
const SKIPPED_HINT: &str = "a file that is not a wrapped object or not wrapped under this key is \
    damaged or from another backup: take it from another copy of the backup, or move it out of \
    the directory if it does not belong there";

fn unproven_hint(command: &str, object: &str) -> String {
    if command == "clone" {
        return format!(
            "an object whose content is not verified was on the target before this run and \
             may be a leftover or a planted object: give the wrap key's shares (--shares-file) \
             so that clone can prove it, or delete it (`yhsm delete {object}` on the target) so \
             that clone copies the source's"
        );
    }
    format!(
        "an object whose content is not verified was on the device before this run and may be \
         a leftover or a planted object: delete it (`yhsm delete {object}`) so that restore \
         imports the backup's, or run restore with an authentication key that may export it \
         under the wrap key (export-wrapped) or read it"
    )
}

impl RestoreReport {
    /// Objects present with the backup's attributes whose content could not be verified.
    pub fn content_not_verified(&self) -> usize {
        self.files.iter().filter(|f| f.content_not_verified().is_some()).count()
    }

    fn decryptable(&self) -> impl Iterator<Item = &FileReport> {
        self.files.iter().filter(|f| f.id.is_some())
    }

    /// Whether `f` was skipped as another backup's file, as the operator said.
    fn of_another_backup(&self, f: &FileReport) -> bool {
        f.outcome == Outcome::Skipped && self.skipped_other_backup.contains(&f.file)
    }

    /// Files not restored because they are not wrapped objects or not under the key
    /// (those the operator said are another backup's aside).
    pub(super) fn skipped(&self) -> usize {
        self.files
            .iter()
            .filter(|f| f.outcome == Outcome::Skipped && !self.of_another_backup(f))
            .count()
    }

    /// Every file was restored and verified (planned, for a dry run), is a copy, or is
    /// another backup's.
    pub fn ok(&self) -> bool {
        self.error.is_none()
            && self.files.iter().all(|f| {
                !matches!(f.outcome, Outcome::Failed | Outcome::Skipped)
                    || self.of_another_backup(f)
            })
            && self.decryptable().all(|f| {
                if self.dry_run {
                    matches!(f.outcome, Outcome::Planned | Outcome::AlreadyPresent)
                } else {
                    f.verified() == Some(true)
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
            f.id.is_none()
                && matches!(f.outcome, Outcome::Failed | Outcome::Skipped)
                && !self.of_another_backup(f)
        };
        let total = self.decryptable().count() + self.files.iter().filter(unreadable).count();
        let bad = self
            .files
            .iter()
            .filter(|f| {
                (matches!(f.outcome, Outcome::Failed | Outcome::Skipped)
                    && !self.of_another_backup(f))
                    || f.verified() == Some(false)
            })
            .count();
        let skipped = self.skipped();
        let unproven = self.content_not_verified();
        let first_unproven = self
            .files
            .iter()
            .find(|f| f.content_not_verified().is_some())
            .and_then(|f| Some(format!("0x{:04x} {}", f.id?, f.object_type?)));
        // Only skipped files, or other failures too (refusals, differences).
        let hint = match (skipped, bad - skipped) {
            (0, n) if n == unproven && n > 0 => {
                first_unproven.as_deref().map(|o| unproven_hint(self.command, o))
            }
            (0, _) => None,
            (_, 0) => Some(SKIPPED_HINT.to_owned()),
            _ => Some(format!("fix the other causes shown above; {SKIPPED_HINT}")),
        };
        let objects = if total == 1 { "object" } else { "objects" };
        // An object that was on the device before and differs: restore never replaces one.
        let conflicting = self
            .files
            .iter()
            .find(|f| f.outcome == Outcome::AlreadyPresent && f.verified() == Some(false))
            .and_then(|f| Some(format!("0x{:04x} {}", f.id?, f.object_type?)));
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
            .with_hint(match (hint, conflicting) {
                (Some(hint), _) => format!(
                    "{hint}; then run {} again (objects already on the device are skipped and \
                     verified)",
                    self.command
                ),
                (None, Some(object)) => format!(
                    "an object already on the device that differs from the backup's is left as \
                     it is: delete it (`yhsm delete {object}`), then run {} again",
                    self.command
                ),
                (None, None) => format!(
                    "fix the cause shown above and run {} again: objects already on the device \
                     are skipped and verified",
                    self.command
                ),
            }),
        )
    }

    /// The JSON object of `restore --json` (documented in cli/README.md).
    pub fn to_json(&self) -> Value {
        let files = self
            .files
            .iter()
            .map(|f| {
                let mut members = f.json_members();
                members.extend([
                    ("outcome", Value::string(f.outcome.name())),
                    ("reason", Value::string_or_null(f.reason.as_deref())),
                    ("verified", f.verified().map_or(Value::Null, Value::Bool)),
                ]);
                members.extend(f.json_check_members());
                Value::Object(members)
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
                    ("kcv", Value::string_or_null(self.wrap_key_kcv.map(hex::encode))),
                    ("vouched_by", Value::string_or_null(self.wrap_key_vouched_by)),
                    ("stored", Value::Bool(self.wrap_key_stored)),
                    ("already_present", Value::Bool(self.wrap_key_present)),
                    ("differs", Value::Bool(self.wrap_key_differs)),
                ]),
            ),
            ("files", Value::Array(files)),
            ("auth_key_deleted", Value::Bool(self.auth_key_deleted)),
            ("auth_key_kept_reason", Value::string_or_null(self.auth_key_kept_reason.as_deref())),
            (
                "auth_keys_left",
                Value::Array(
                    self.auth_keys_left.iter().map(|id| Value::Number(u64::from(*id))).collect(),
                ),
            ),
            (
                "skipped_other_backup",
                Value::Array(
                    self.skipped_other_backup.iter().map(|f| Value::string(f.as_str())).collect(),
                ),
            ),
            (
                "preflight_problems",
                Value::Array(self.problems.iter().map(|p| Value::string(p.as_str())).collect()),
            ),
            ("error", Value::string_or_null(self.error.as_ref().map(Error::chain))),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::compare::{Content, Difference, Proof};
    use yhsm_proto::ObjectType;

    #[test]
    fn a_report_is_ok_only_when_everything_decryptable_is_verified() {
        let file = |outcome, verified: Option<bool>, id: Option<u16>| FileReport {
            file: "f".into(),
            id,
            object_type: id.map(|_| ObjectType::OPAQUE),
            outcome,
            reason: None,
            differences: verified.map(|ok| if ok { vec![] } else { vec![Difference::Missing] }),
            content: verified.filter(|&ok| ok).map(|_| Content::Proven(Proof::Imported)),
            origin: None,
        };
        let mut r = RestoreReport {
            command: "restore",
            dir: "d".into(),
            dry_run: false,
            auth_key: 1,
            wrap_key_id: 2,
            wrap_key_kcv: Some([0; 3]),
            wrap_key_vouched_by: None,
            wrap_key_stored: true,
            wrap_key_present: false,
            wrap_key_differs: false,
            files: vec![
                file(Outcome::Imported, Some(true), Some(5)),
                file(Outcome::Copy, None, None),
            ],
            auth_key_deleted: true,
            auth_key_kept_reason: None,
            problems: Vec::new(),
            skipped_other_backup: Vec::new(),
            auth_keys_left: Vec::new(),
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
