//! One backup file in a report: what preflight found in it, what the run did with it, and
//! what comparing the device's object with it found. Restore's report and verify's are
//! lists of these; each renders them in its own words.

use yhsm_proto::{ObjectId, ObjectType, Origin};

use crate::backup::compare::{Checked, Content, Difference, describe_differences};
use crate::backup::dir::{BackupFile, FileState};
use crate::util::json::Value;

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
    /// Decrypts; not imported (the plan of a dry run, an object a stopped run did not
    /// reach, or an object verify only compares).
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
    /// `None` when the file does not decrypt to an object.
    pub id: Option<ObjectId>,
    pub object_type: Option<ObjectType>,
    pub outcome: Outcome,
    /// Why the file was skipped or failed, or how the device's object differs.
    pub reason: Option<String>,
    /// What comparing the device's object with the backup's found: empty when it matches,
    /// `None` when it was not compared (skipped, failed, a dry run, a run that stopped
    /// first).
    pub differences: Option<Vec<Difference>>,
    /// What is known of its content, when its attributes match.
    pub content: Option<Content>,
    /// The device's origin of an object that was there before (restore's
    /// already-present objects, every object for verify).
    pub origin: Option<Origin>,
}

impl FileReport {
    /// The file as preflight finds it: skipped (a copy, or not an object under the key),
    /// failed (it decrypts to something that cannot be restored), or planned.
    pub fn of(file: &BackupFile) -> Self {
        let entry = file.entry();
        let (outcome, reason) = match (file.skip_reason(), file.failure_reason()) {
            (Some(reason), _) => {
                let copy = matches!(file.state, FileState::Duplicate { conflicting: false, .. });
                (if copy { Outcome::Copy } else { Outcome::Skipped }, Some(reason))
            }
            (None, Some(reason)) => (Outcome::Failed, Some(reason)),
            (None, None) => (Outcome::Planned, None),
        };
        Self {
            file: file.name.clone(),
            id: entry.map(|e| e.id()),
            object_type: entry.map(|e| e.object_type()),
            outcome,
            reason,
            differences: None,
            content: None,
            origin: None,
        }
    }

    /// Whether the device's object matches the backup's, its content proven; `None` when
    /// not compared. An object present with the backup's attributes whose content could
    /// not be proven is not verified.
    pub fn verified(&self) -> Option<bool> {
        self.differences
            .as_ref()
            .map(|d| d.is_empty() && matches!(self.content, Some(Content::Proven(_))))
    }

    /// Whether the object's content was proven the backup's.
    pub fn content_proven(&self) -> bool {
        matches!(self.content, Some(Content::Proven(_)))
    }

    /// Why the content of an object present with the backup's attributes is not
    /// verified, if it is not.
    pub fn content_not_verified(&self) -> Option<&str> {
        match (&self.differences, &self.content) {
            (Some(d), Some(Content::NotVerified(why)))
                if d.iter().all(Difference::only_unnamed_bits) =>
            {
                Some(why)
            }
            _ => None,
        }
    }

    /// Records what comparing the device's object found; a difference, or why its content
    /// is not verified, becomes the reason.
    pub fn set_checked(&mut self, checked: &Checked) {
        if !checked.differences.is_empty() {
            self.reason = Some(describe_differences(&checked.differences));
        } else if let Some(Content::NotVerified(why)) = &checked.content {
            self.reason = Some(format!("present, content not verified: {why}"));
        }
        self.differences = Some(checked.differences.clone());
        self.content = checked.content.clone();
        self.origin = checked.origin;
    }

    /// `verified`, `different`, `content-not-verified`, or `None` when not compared: the
    /// three states both restore and verify report.
    pub fn verification(&self) -> Option<&'static str> {
        match (self.verified(), self.content_not_verified()) {
            (Some(true), _) => Some("verified"),
            (Some(false), Some(_)) => Some("content-not-verified"),
            (Some(false), None) => Some("different"),
            (None, _) => None,
        }
    }

    /// `verification`, `proof` and `imported_wrapped`: the members every JSON report
    /// gives a compared file.
    pub fn json_check_members(&self) -> Vec<(&'static str, Value)> {
        let proof = match &self.content {
            Some(Content::Proven(p)) if self.verified() == Some(true) => Some(p.name()),
            _ => None,
        };
        vec![
            ("verification", Value::string_or_null(self.verification())),
            ("proof", Value::string_or_null(proof)),
            (
                "imported_wrapped",
                self.origin
                    .map_or(Value::Null, |o| Value::Bool(o.contains(Origin::IMPORTED_WRAPPED))),
            ),
        ]
    }

    /// `file`, `id` and `type`: the members every JSON report gives a file first.
    pub fn json_members(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("file", Value::string(self.file.as_str())),
            ("id", Value::number_or_null(self.id.map(u64::from))),
            ("type", Value::string_or_null(self.object_type.map(|t| t.to_string()))),
        ]
    }
}
