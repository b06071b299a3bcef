//! What restore checks before its first write, beyond decrypting every file (issue 10
//! §4): problems it can find are all found and reported together, so that one run tells
//! the operator everything to fix.
//!
//! - Offline: two files with the same id and type but different objects
//!   ([`conflicting_files`]): which one belongs to the backup is the operator's call, and
//!   a rerun could not fix a wrong guess (the object would then be "already present").
//! - On the device, once logged in and the objects listed ([`device_problems`]): the
//!   login key's own object info against what the run will do (docs/PROTOCOL.md §3.10:
//!   put-wrap-key to store the wrap key, import-wrapped to import, delete-authentication-key
//!   to delete the login key; a new object's domains within the key's, its capabilities
//!   and delegated capabilities within the key's delegated capabilities), and
//!   GET_STORAGE_INFO against the records and pages the new objects take (§3.8).
//!
//! A real run stops before writing when there is a problem; a dry run reports them all
//! and exits 1. A check the device refuses to answer (a read refused with an error code)
//! is reported as not done, and the run goes on: the device still refuses whatever it
//! would not allow.

use std::collections::HashSet;

use yhsm_proto::command::StorageInfo;
use yhsm_proto::{Capabilities, Domains, ObjectId, ObjectInfo, ObjectType};
use yhsm_transport::{Client, ClientError};

use crate::backup::compare::Attributes;
use crate::backup::dir::{Backup, Entry, FileState};
use crate::error::{Error, Result};
use crate::util::text;

/// A problem preflight found: the real run would fail because of it.
pub type Problem = String;

/// Two files with the same id and type holding different objects, each pair named.
pub fn conflicting_files(backup: &Backup) -> Vec<Problem> {
    backup
        .files
        .iter()
        .filter_map(|file| match &file.state {
            FileState::Duplicate { of, conflicting: true } => {
                let what = backup
                    .files
                    .iter()
                    .find(|f| &f.name == of)
                    .and_then(|f| f.entry())
                    .map(|e| format!(" ({})", e.describe()))
                    .unwrap_or_default();
                Some(format!(
                    "{of} and {} hold different objects with the same id and type{what}: keep \
                     the one that belongs to this backup and move the other out of the directory",
                    file.name
                ))
            }
            _ => None,
        })
        .collect()
}

/// What the run will do on the device, for the checks.
#[derive(Debug)]
pub struct Plan<'a> {
    /// The wrap key is not on the device yet.
    pub stores_wrap_key: bool,
    /// The objects to import, with their file names.
    pub imports: Vec<(&'a str, &'a Entry)>,
    /// The login key would be deleted at the end.
    pub deletes_login_key: bool,
}

impl<'a> Plan<'a> {
    /// The plan for `backup` under wrap key `wrap_id` on a device holding `present`.
    pub fn new(
        backup: &'a Backup,
        wrap_id: ObjectId,
        present: &HashSet<(ObjectId, ObjectType)>,
        deletes_login_key: bool,
    ) -> Self {
        Self {
            stores_wrap_key: !present.contains(&(wrap_id, ObjectType::WRAP_KEY)),
            imports: backup
                .entries()
                .filter(|(_, e)| !present.contains(&(e.id(), e.object_type())))
                .collect(),
            deletes_login_key,
        }
    }
}

/// A read for a check: `Ok(None)` when the device refused it (the check is not done),
/// an error when the answer was lost or garbled twice (the connection is not to be
/// trusted with writes).
fn read<T>(
    client: &mut Client,
    what: &str,
    read: &mut dyn FnMut(&mut Client) -> Result<T, ClientError>,
    skipped: &mut Vec<String>,
) -> Result<Option<T>> {
    let result = match read(client) {
        Err(e) if e.code().is_none() => read(client),
        other => other,
    };
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.code().is_some() && !e.may_have_executed() => {
            skipped.push(format!("cannot read {what} ({e}), so it was not checked"));
            Ok(None)
        }
        Err(e) => Err(Error::failure(format!("cannot read {what}; nothing was written"))
            .with_source(e)
            .with_hint("check the connection and run the command again")),
    }
}

/// The device checks' findings: problems (the run would fail) and checks not done.
#[derive(Debug, Default)]
pub struct DeviceFindings {
    pub problems: Vec<Problem>,
    pub not_checked: Vec<String>,
}

/// Reads the login key's object info and the storage info, and checks `plan` (under the
/// wrap key of attributes `wrap`) against them.
pub fn device_problems(
    client: &mut Client,
    login_id: ObjectId,
    wrap: &Attributes,
    plan: &Plan<'_>,
) -> Result<DeviceFindings> {
    let mut found = DeviceFindings::default();
    let what = format!("authentication key 0x{login_id:04x}'s object info");
    let mut info = |c: &mut Client| c.get_object_info(login_id, ObjectType::AUTHENTICATION_KEY);
    if let Some(login) = read(client, &what, &mut info, &mut found.not_checked)? {
        found.problems.extend(permission_problems(&login, wrap, plan));
    }
    let mut storage = |c: &mut Client| c.storage_info();
    if let Some(storage) =
        read(client, "the device's storage info", &mut storage, &mut found.not_checked)?
    {
        found.problems.extend(storage_problem(&storage, wrap, plan));
    }
    Ok(found)
}

fn names(list: &[&str]) -> String {
    list.join(", ")
}

/// What the login key does not allow of `plan`.
fn permission_problems(login: &ObjectInfo, a: &Attributes, plan: &Plan<'_>) -> Vec<Problem> {
    let key = format!("authentication key 0x{:04x}", login.id);
    let mut out = Vec::new();
    let lacks = |cap: Capabilities| !login.capabilities.contains(cap);
    if plan.stores_wrap_key && lacks(Capabilities::PUT_WRAP_KEY) {
        out.push(format!("{key} lacks put-wrap-key, needed to store wrap key 0x{:04x}", a.id));
    }
    if !plan.imports.is_empty() && lacks(Capabilities::IMPORT_WRAPPED) {
        out.push(format!(
            "{key} lacks import-wrapped, needed to import the backup's {} {}",
            plan.imports.len(),
            if plan.imports.len() == 1 { "object" } else { "objects" }
        ));
    }
    if plan.deletes_login_key && lacks(Capabilities::DELETE_AUTHENTICATION_KEY) {
        out.push(format!(
            "{key} lacks delete-authentication-key, needed to delete itself at the end (or give \
             --keep-authkey)"
        ));
    }
    // A new object's domains within the key's; its capabilities and delegated
    // capabilities within the key's delegated capabilities.
    let outside = |domains: Domains| !login.domains.contains(domains);
    let beyond = |caps: Capabilities| Capabilities(caps.0 & !login.delegated_capabilities.0);
    if plan.stores_wrap_key {
        if outside(a.domains) {
            out.push(format!(
                "wrap key 0x{:04x} is to have domains {}, outside {key}'s ({})",
                a.id,
                text::domain_list(a.domains),
                text::domain_list(login.domains)
            ));
        }
        let missing = beyond(a.capabilities.union(a.delegated_or_none()));
        if !missing.is_empty() {
            out.push(format!(
                "wrap key 0x{:04x} is to have capabilities {key} does not delegate ({missing})",
                a.id
            ));
        }
    }
    let domain_misfits: Vec<&str> = plan
        .imports
        .iter()
        .filter(|(_, e)| outside(e.summary.header.domains))
        .map(|(file, _)| *file)
        .collect();
    if !domain_misfits.is_empty() {
        out.push(format!(
            "{} {} domains outside {key}'s ({}): {}",
            domain_misfits.len(),
            if domain_misfits.len() == 1 { "object has" } else { "objects have" },
            text::domain_list(login.domains),
            names(&domain_misfits)
        ));
    }
    let mut undelegated = Capabilities::NONE;
    let cap_misfits: Vec<&str> = plan
        .imports
        .iter()
        .filter(|(_, e)| {
            let caps = e
                .summary
                .header
                .capabilities
                .union(e.summary.delegated.unwrap_or(Capabilities::NONE));
            let missing = beyond(caps);
            undelegated = undelegated.union(missing);
            !missing.is_empty()
        })
        .map(|(file, _)| *file)
        .collect();
    if !cap_misfits.is_empty() {
        out.push(format!(
            "{} {} capabilities {key} does not delegate ({undelegated}): {}",
            cap_misfits.len(),
            if cap_misfits.len() == 1 { "object has" } else { "objects have" },
            names(&cap_misfits)
        ));
    }
    out
}

/// Storage pages a body of `len` bytes takes: at least one (docs/PROTOCOL.md §3.8).
fn pages(len: usize, page_size: usize) -> usize {
    len.div_ceil(page_size.max(1)).max(1)
}

/// Whether the new objects fit: one record each, and their pages.
fn storage_problem(storage: &StorageInfo, wrap: &Attributes, plan: &Plan<'_>) -> Option<Problem> {
    let page_size = usize::from(storage.page_size);
    let mut records = plan.imports.len();
    let mut needed_pages: usize = plan
        .imports
        .iter()
        .map(|(_, e)| pages(usize::from(e.summary.header.length), page_size))
        .sum();
    if plan.stores_wrap_key {
        // A wrap key's body: its delegated capabilities (8 bytes) and the key.
        records += 1;
        needed_pages += pages(8 + wrap.algorithm.wrap_key_size().unwrap_or(32), page_size);
    }
    let (free_records, free_pages) =
        (usize::from(storage.free_records), usize::from(storage.free_pages));
    let missing_records = records.saturating_sub(free_records);
    let missing_pages = needed_pages.saturating_sub(free_pages);
    if missing_records == 0 && missing_pages == 0 {
        return None;
    }
    let mut missing = Vec::new();
    if missing_records > 0 {
        missing.push(format!("{missing_records} {}", plural(missing_records, "record")));
    }
    if missing_pages > 0 {
        missing.push(format!(
            "{missing_pages} {} of {page_size} bytes",
            plural(missing_pages, "page")
        ));
    }
    Some(format!(
        "the backup does not fit: its new objects need {records} {} and {needed_pages} {}, the \
         device has {free_records} and {free_pages} free; {} missing (delete objects the \
         device no longer needs, or restore onto an emptier device)",
        plural(records, "record"),
        plural(needed_pages, "page"),
        missing.join(" and "),
    ))
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { word.to_owned() } else { format!("{word}s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_takes_at_least_one_page() {
        assert_eq!(pages(0, 126), 1);
        assert_eq!(pages(126, 126), 1);
        assert_eq!(pages(127, 126), 2);
        assert_eq!(pages(512, 126), 5);
    }
}
