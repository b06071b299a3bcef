//! Is the wrap key from the shares the backup's wrap key, with the backup's attributes?
//!
//! yubihsm-setup's shares carry no checksum: a mistyped character in the part of a share
//! that encodes the 20-byte prefix (docs/PROTOCOL.md §6.1) gives a wrap key with another
//! id, other domains or other capabilities whose key still decrypts every file. Stored on
//! a device, it breaks the next dump. [`check`] looks at the wrap key from the shares before
//! anything is written, against everything that can vouch for it:
//!
//! - the backup itself: every object's capabilities must lie within the wrap key's
//!   delegated capabilities (the device refuses any other import), the key must have
//!   import-wrapped, a non-zero id and a domain. These are **mismatches**: the run stops.
//!   So are a difference from the backup's wrap-key description ([`description`]) and
//!   from the attributes a script pinned (`--wrap-key-id`, `--expect-domains`).
//! - what wrap keys normally are: export-wrapped too, no capability a wrap key cannot
//!   use, no capability bit that no firmware defines (unless it is `all`), domains that
//!   cover the objects' domains. These are **unusual**: shown as warnings, and a run that
//!   nothing vouches for stops on them.
//! - what vouches for all of the attributes: a matching description, a key check value
//!   pinned on the command line (`--expect-kcv`: it covers the key and every attribute),
//!   or more shares than the threshold (each checked against the others, so a mistyped
//!   one is caught). `--wrap-key-id` and `--expect-domains` check only what they name.
//!   When nothing vouches, an interactive run asks the operator to confirm the
//!   attributes; a scripted run stops if they are unusual, goes on if `--wrap-key-id`
//!   pins the id (the script's author vouches, as an operator would at the terminal), and
//!   otherwise goes on but keeps the login key, so that a wrong wrap key can still be
//!   replaced.
//!
//! [`description`]: crate::backup::description

use yhsm_proto::shares::KCV_LEN;
use yhsm_proto::{Capabilities, Domains, ObjectId};

use crate::backup::Backup;
use crate::backup::compare::Attributes;
use crate::backup::description::Described;
use crate::util::text;

/// The wrap key from the shares, as far as it can be shown without its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recovered {
    pub attributes: Attributes,
    pub kcv: [u8; KCV_LEN],
    pub threshold: u8,
    /// How many shares were combined.
    pub combined: usize,
}

/// What a script expects the wrap key to have (`--wrap-key-id`, `--expect-domains`,
/// `--expect-kcv`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pins {
    pub id: Option<ObjectId>,
    pub domains: Option<Domains>,
    /// The key check value, which covers the key and every attribute.
    pub kcv: Option<[u8; KCV_LEN]>,
}

/// What vouches for all of the wrap key's attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Vouch {
    /// The backup's description of its wrap key (the file name) matches.
    Description(String),
    /// The key check value pinned with `--expect-kcv` matches.
    Kcv,
    /// More shares than the threshold agree.
    ExtraShares { combined: usize, threshold: u8 },
    /// The operator confirmed them at the terminal.
    Operator,
}

/// What [`check`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Findings {
    /// Contradictions: the run must stop.
    pub mismatches: Vec<String>,
    /// Possible, but not what a wrap key normally is.
    pub unusual: Vec<String>,
    /// What vouches for the attributes; `None` when nothing does.
    pub vouch: Option<Vouch>,
    /// The pins that were given and match (a line to show).
    pub pinned: Option<String>,
    /// `--wrap-key-id` was given and matches: in a script it stands for the operator's
    /// confirmation when nothing is unusual (the engine decides).
    pub id_pinned: bool,
    /// The description of this wrap key, when the backup has one.
    pub description: Option<Described>,
}

/// The capabilities a wrap key can use itself.
const WRAP_KEY_CAPABILITIES: Capabilities = Capabilities(
    Capabilities::EXPORT_WRAPPED.0
        | Capabilities::IMPORT_WRAPPED.0
        | Capabilities::EXPORTABLE_UNDER_WRAP.0
        | Capabilities::WRAP_DATA.0
        | Capabilities::UNWRAP_DATA.0,
);

/// The bits no firmware defines (docs/PROTOCOL.md §3.3): those without a name.
const UNDEFINED: u64 = !Capabilities::KNOWN.0;

/// Checks the wrap key from the shares against the decrypted `backup`, its descriptions
/// `described` and the `pins`.
pub fn check(wrap: &Recovered, backup: &Backup, described: &[Described], pins: Pins) -> Findings {
    let a = &wrap.attributes;
    let mut f = Findings::default();
    against_backup(a, backup, &mut f);
    unusual(a, backup, &mut f);
    if !described.is_empty() {
        match described.iter().find(|d| d.description.id == a.id) {
            Some(d) => {
                let differences = d.description.mismatches(a, wrap.kcv);
                if differences.is_empty() {
                    f.vouch = Some(Vouch::Description(d.file.clone()));
                } else {
                    f.mismatches.extend(differences.iter().map(|m| format!("{m} ({})", d.file)));
                }
                f.description = Some(d.clone());
            }
            None => {
                let files: Vec<String> = described
                    .iter()
                    .map(|d| format!("0x{:04x} ({})", d.description.id, d.file))
                    .collect();
                f.mismatches.push(format!(
                    "the backup describes its wrap key as {}, not 0x{:04x}",
                    files.join(", "),
                    a.id
                ));
            }
        }
    }
    pinned(wrap, pins, &mut f);
    if f.vouch.is_none() && wrap.combined > usize::from(wrap.threshold) {
        f.vouch = Some(Vouch::ExtraShares { combined: wrap.combined, threshold: wrap.threshold });
    }
    f
}

/// The pins of the command line: a mismatch for each that differs, a line for those that
/// match, and the key check value's vouch.
fn pinned(wrap: &Recovered, pins: Pins, f: &mut Findings) {
    let a = &wrap.attributes;
    let mut matched = Vec::new();
    if let Some(id) = pins.id {
        if id == a.id {
            matched.push(format!("id 0x{id:04x} (--wrap-key-id)"));
            f.id_pinned = true;
        } else {
            f.mismatches.push(format!(
                "the wrap key has id 0x{:04x}, not 0x{id:04x} (--wrap-key-id)",
                a.id
            ));
        }
    }
    if let Some(domains) = pins.domains {
        if domains == a.domains {
            matched.push(format!("domains {} (--expect-domains)", text::domain_list(domains)));
        } else {
            f.mismatches.push(format!(
                "the wrap key has domains {}, not {} (--expect-domains)",
                text::domain_list(a.domains),
                text::domain_list(domains)
            ));
        }
    }
    if let Some(kcv) = pins.kcv {
        if kcv == wrap.kcv {
            matched.push(format!("key check value {} (--expect-kcv)", hex::encode(kcv)));
            f.vouch = f.vouch.take().or(Some(Vouch::Kcv));
        } else {
            f.mismatches.push(format!(
                "the wrap key has key check value {}, not {} (--expect-kcv)",
                hex::encode(wrap.kcv),
                hex::encode(kcv)
            ));
        }
    }
    if !matched.is_empty() {
        f.pinned = Some(format!("It has what the command line pins: {}", matched.join(", ")));
    }
}

/// What contradicts the backup: the device would refuse it, or it cannot be a wrap key.
fn against_backup(a: &Attributes, backup: &Backup, f: &mut Findings) {
    if a.id == 0 {
        f.mismatches.push("the wrap key has id 0x0000, which no object has".to_owned());
    }
    if a.domains.0 == 0 {
        f.mismatches.push("the wrap key has no domain".to_owned());
    }
    if !a.capabilities.contains(Capabilities::IMPORT_WRAPPED) {
        f.mismatches.push(
            "the wrap key lacks the import-wrapped capability, so the device would refuse every \
             import"
                .to_owned(),
        );
    }
    let undelegated: Vec<String> = backup
        .entries()
        .filter_map(|(file, entry)| {
            let missing = a.not_delegated(entry.summary.header.capabilities);
            (!missing.is_empty()).then(|| format!("{} needs {missing} ({file})", entry.describe()))
        })
        .collect();
    if !undelegated.is_empty() {
        let n = undelegated.len();
        f.mismatches.push(format!(
            "the wrap key does not delegate every capability of {n} of the backup's objects, so \
             the device would refuse to import {}: {}",
            if n == 1 { "it" } else { "them" },
            undelegated.join(", ")
        ));
    }
}

/// What a wrap key normally is not.
fn unusual(a: &Attributes, backup: &Backup, f: &mut Findings) {
    let caps = a.capabilities;
    if caps.contains(Capabilities::IMPORT_WRAPPED) && !caps.contains(Capabilities::EXPORT_WRAPPED) {
        f.unusual
            .push("the wrap key lacks export-wrapped (a key that made a backup has it)".to_owned());
    }
    if caps != Capabilities::ALL {
        let foreign = Capabilities(caps.0 & !WRAP_KEY_CAPABILITIES.0);
        if !foreign.is_empty() {
            f.unusual.push(format!("the wrap key has capabilities no wrap key uses: {foreign}"));
        }
    }
    let delegated = a.delegated_or_none();
    if delegated != Capabilities::ALL && delegated.0 & UNDEFINED != 0 {
        f.unusual.push(format!(
            "the wrap key delegates capability bits no firmware defines (0x{:016x})",
            delegated.0 & UNDEFINED
        ));
    }
    let needed = backup.entries().fold(0u16, |d, (_, e)| d | e.summary.header.domains.0);
    let uncovered = Domains(needed & !a.domains.0);
    if a.domains.0 != 0 && uncovered.0 != 0 {
        let first = backup
            .entries()
            .find(|(_, e)| e.summary.header.domains.0 & uncovered.0 != 0)
            .map_or(String::new(), |(file, e)| format!(", e.g. {} ({file})", e.describe()));
        f.unusual.push(format!(
            "the wrap key's domains ({}) do not cover domain {} of the backup's objects{first}",
            text::domain_list(a.domains),
            text::domain_list(uncovered)
        ));
    }
}

/// `0x0002 (aes256-ccm-wrap, domains 1, key check value 5d0c2a)`: what the operator
/// compares with their records.
pub fn summary(a: &Attributes, kcv: [u8; KCV_LEN]) -> String {
    format!(
        "0x{:04x} ({}, domains {}, key check value {})",
        a.id,
        a.algorithm,
        text::domain_list(a.domains),
        hex::encode(kcv)
    )
}

impl Vouch {
    /// The name `restore --json` gives it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Description(_) => "description",
            Self::Kcv => "kcv",
            Self::ExtraShares { .. } => "extra-shares",
            Self::Operator => "operator",
        }
    }

    /// The line that says what vouched, if it takes one (the pinned key check value is
    /// said with the other pins).
    pub fn describe(&self) -> Option<String> {
        match self {
            Self::Description(file) => {
                Some(format!("It matches the backup's description of its wrap key ({file})"))
            }
            Self::ExtraShares { combined, threshold } => Some(format!(
                "{combined} shares agree with each other (threshold {threshold}), so none was \
                 mistyped"
            )),
            Self::Kcv | Self::Operator => None,
        }
    }
}
