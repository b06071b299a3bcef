//! What the restore engine reports as it goes ([`Event`]), and the lines each prints
//! ([`render`]: yubihsm-setup's wording where it has one).

use std::fmt;

use yhsm_proto::shares::KCV_LEN;
use yhsm_proto::{ObjectId, ObjectType, Origin};

use super::engine::UNCONFIRMED_HINT;
use crate::backup::compare::{Attributes, Difference, Proof, describe_differences};
use crate::backup::identity::{self, Vouch};

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
    /// Files that do not decrypt under the shares' key, which the operator said belong
    /// to another backup: they do not keep the login key.
    SkippedOtherBackup(Vec<String>),
    /// Preflight found something that makes the run fail (the run stops before its
    /// first write; a dry run reports every one).
    PreflightProblem(String),
    /// A preflight check the device would not answer: not done.
    NotChecked(String),
    /// Preflight passed.
    Preflight {
        files: usize,
        decryptable: usize,
        wrap_key: ObjectId,
        /// The host decrypted them (`false`: clone without the shares, whose blobs only
        /// the target decrypts).
        decrypted: bool,
    },
    /// The wrap key from the shares, what is unusual about it, and what vouches for it.
    WrapKeyIdentity {
        attributes: Attributes,
        kcv: [u8; KCV_LEN],
        unusual: Vec<String>,
        /// The pins that matched, as a line.
        pinned: Option<String>,
        vouch: Option<Vouch>,
    },
    /// A scripted run in which nothing vouches for the wrap key's attributes.
    WrapKeyUnconfirmed,
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
    Verified {
        file: String,
        object_type: ObjectType,
        id: ObjectId,
        /// How its content was shown to be the backup's.
        proof: Proof,
    },
    /// Present with the backup's attributes, but its content could not be proven (why).
    ContentNotVerified {
        file: String,
        object_type: ObjectType,
        id: ObjectId,
        why: String,
    },
    /// An object that was on the device before, without the imported-under-wrap bit in
    /// its origin: not put there by a restore.
    NotImportedWrapped {
        file: String,
        object_type: ObjectType,
        id: ObjectId,
        origin: Origin,
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
        /// Present with the backup's attributes, content not verified.
        unproven: usize,
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
    /// `clone`: the two devices, the wrap key, and the login on the source.
    CloneSource {
        source: String,
        target: String,
        auth_key: ObjectId,
        wrap_key: ObjectId,
    },
    /// `clone`: an object exported from the source (and, with `--dump`, its file).
    Exported {
        step: Step,
        object_type: ObjectType,
        id: ObjectId,
        file: Option<String>,
    },
    /// `clone`: an object of the source that is not copied, and why.
    NotCopied {
        object_type: ObjectType,
        id: ObjectId,
        reason: String,
    },
    /// `clone`: how the two devices' wrap keys are, or will be, shown to be the same.
    WrapKeyProof(String),
    /// After [`Event::Done`]: the authentication keys left to log in with (those the run
    /// listed or restored and verified, less a deleted login key).
    AuthKeysLeft(Vec<ObjectId>),
}

/// A line of human output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// Standard output.
    Out(String),
    /// Standard error, after `yhsm: warning: `.
    Warning(String),
}

/// The wrap key from the shares: id, algorithm, domains and key check value, then its
/// capabilities and delegated capabilities.
fn identity_lines(a: &Attributes, kcv: [u8; KCV_LEN]) -> Vec<Line> {
    vec![
        Line::Out(format!("Wrap key from the shares: {}", identity::summary(a, kcv))),
        Line::Out(format!("  capabilities: {}", a.capabilities)),
        Line::Out(format!("  delegated:    {}", a.delegated_or_none())),
    ]
}

/// The lines an event prints (yubihsm-setup's wording where it has one).
pub fn render(event: &Event) -> Vec<Line> {
    let out = |s: String| vec![Line::Out(s)];
    match event {
        Event::Skipped { file, reason } => out(format!("Skipped {file}: {reason}")),
        Event::Unrestorable { file, reason } => out(format!("Cannot restore {file}: {reason}")),
        Event::Preflight { decryptable, wrap_key, decrypted: false, .. } => out(format!(
            "Preflight: {decryptable} {} exported under wrap key 0x{wrap_key:04x}, to be \
             decrypted by the target",
            if *decryptable == 1 { "object" } else { "objects" }
        )),
        Event::Preflight { files, decryptable, wrap_key, decrypted: true } => out(format!(
            "Preflight: {decryptable} of {files} {} {} under wrap key 0x{wrap_key:04x}",
            if *files == 1 { "file" } else { "files" },
            if *decryptable == 1 { "decrypts" } else { "decrypt" }
        )),
        Event::SkippedOtherBackup(files) => out(format!(
            "{} {} not restored: {} another backup's, as you said: {}",
            files.len(),
            if files.len() == 1 { "file is" } else { "files are" },
            if files.len() == 1 { "it is" } else { "they are" },
            files.join(", ")
        )),
        Event::PreflightProblem(problem) => out(format!("Preflight problem: {problem}")),
        Event::NotChecked(what) => vec![Line::Warning(format!("preflight: {what}"))],
        Event::WrapKeyIdentity { attributes, kcv, unusual, pinned, vouch } => {
            let mut lines = identity_lines(attributes, *kcv);
            lines.extend(unusual.iter().map(|u| Line::Warning(format!("unusual wrap key: {u}"))));
            lines.extend(pinned.iter().map(|p| Line::Out(p.clone())));
            lines.extend(vouch.as_ref().and_then(Vouch::describe).map(Line::Out));
            lines
        }
        Event::WrapKeyUnconfirmed => vec![Line::Warning(format!(
            "nothing vouches for the wrap key's attributes (a mistyped share changes them and \
             still decrypts every file), so the login key will be kept; {UNCONFIRMED_HINT}"
        ))],
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
                    describe_differences(differences)
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
        // Imported now, or a symmetric authentication key (its session has a line).
        Event::Verified { proof: Proof::Imported | Proof::Session, .. } => vec![],
        Event::Verified { file, object_type, id, proof } => out(format!(
            "Object {object_type} with ID 0x{id:04x} was already there: {proof} ({file})"
        )),
        Event::ContentNotVerified { file, object_type, id, why } => out(format!(
            "Object {object_type} with ID 0x{id:04x} is present, content not verified ({file}): \
             {why}"
        )),
        Event::NotImportedWrapped { file, object_type, id, origin } => {
            vec![Line::Warning(format!(
                "{object_type} 0x{id:04x} ({file}) was already on the device and was not \
                 imported under wrap (origin {origin}): it was not put there by a restore"
            ))]
        }
        Event::Retried { what, error, resolution } => {
            vec![Line::Warning(format!("{what}: {error}; {resolution}"))]
        }
        Event::AuthKeyProven(id) => {
            out(format!("Authentication key 0x{id:04x} opens a session with the backup's keys"))
        }
        Event::VerifyFailed { file, object_type, id, differences } => out(format!(
            "Verification failed for object {object_type} with ID 0x{id:04x} ({file}): {}",
            describe_differences(differences)
        )),
        Event::VerifySummary { verified, failed: 0, unproven: 0 } => out(format!(
            "Verified {verified} {}: type, algorithm, capabilities, domains and label match the \
             backup",
            if *verified == 1 { "object" } else { "objects" }
        )),
        Event::VerifySummary { verified, failed, unproven } => {
            let total = verified + failed + unproven;
            let mut line = format!("Verified {verified} of {total} objects");
            if *failed > 0 {
                line.push_str(&format!("; {failed} failed"));
            }
            if *unproven > 0 {
                line.push_str(&format!("; {unproven} present, content not verified"));
            }
            out(line)
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
        Event::CloneSource { source, target, auth_key, wrap_key } => out(format!(
            "Cloning {source} (authentication key 0x{auth_key:04x}) to {target} under wrap key \
             0x{wrap_key:04x}"
        )),
        Event::Exported { step, object_type, id, file } => out(format!(
            "{step} Exported object {object_type} with ID 0x{id:04x} from the source{}",
            file.as_ref().map_or(String::new(), |f| format!(" to {f}"))
        )),
        Event::NotCopied { object_type, id, reason } => {
            out(format!("Not copied: {object_type} 0x{id:04x}: {reason}"))
        }
        Event::WrapKeyProof(text) => out(text.clone()),
        Event::AuthKeysLeft(ids) if ids.is_empty() => {
            out("No authentication key on the device is known to this run: check before \
                 logging out"
                .to_owned())
        }
        Event::AuthKeysLeft(ids) => {
            let list: Vec<String> = ids.iter().map(|id| format!("0x{id:04x}")).collect();
            out(format!(
                "{} left to log in with: {} (-k ID)",
                if ids.len() == 1 { "Authentication key" } else { "Authentication keys" },
                list.join(", ")
            ))
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
            lines(Event::Verified {
                file: "f".into(),
                object_type: ObjectType::OPAQUE,
                id: 1,
                proof: Proof::Imported
            })
            .is_empty()
        );
    }
}
