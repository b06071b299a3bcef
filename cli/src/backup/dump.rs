//! `yhsm dump [DIR] -w ID`: every object exported under a wrap key into
//! `0x%04x-<type>.yhw` files (docs/PROTOCOL.md §7.6 EXPORT_WRAPPED, §5.1 file encodings),
//! as yubihsm-setup's `dump` writes them: standard base64 with padding, no newline; or,
//! with `--encoding binary`, the raw bytes yubihsm-manager's restore reads.
//!
//! yubihsm-setup tries every listed object and reports the ones the device refuses
//! ("Skipping over"); so does this, and exits 1 when any was refused. One difference: the
//! wrap key itself is skipped without asking the device. It cannot be exported under
//! itself (yubihsm-setup's attempt fails with insufficient permissions, a well-known
//! source of confusion), and a restore brings it back from its shares, not from a file.
//!
//! Beside the `.yhw` files it writes the wrap key's description
//! (`0x0002-wrap-key.description`, [`description`]): the wrap key's attributes as the
//! device reports them, which `yhsm restore` checks the wrap key from the shares against.
//! yubihsm-setup's restore reads only `*.yhw` and does not see it.
//!
//! Files are written atomically (a temporary file in DIR, then a rename) with mode 0600,
//! so an interrupted dump never leaves a truncated `.yhw`. Existing files are only
//! replaced with `--force`; without it the dump checks all its file names before
//! exporting anything.

use std::fs;
use std::path::{Path, PathBuf};

use yhsm_proto::Capabilities;
use yhsm_proto::command::ExportWrapped;
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::object::{ObjectId, ObjectInfo, ObjectType};
use yhsm_proto::wrap::{self, Encoding};
use yhsm_transport::{Client, ClientError};

use crate::backup::description::{self, Description};
use crate::backup::dir::file_name;
use crate::device::command_error;
use crate::error::{Error, Result};
use crate::util::files;
use crate::util::json::Value;
use crate::util::text;

/// What `yhsm dump` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpOptions {
    /// Where the files go (created when missing).
    pub dir: PathBuf,
    /// The wrap key to export under.
    pub wrap_id: ObjectId,
    /// Send export format 1, which makes firmware >= 2.4 include ed25519 seeds.
    pub include_seed: bool,
    /// Replace existing files.
    pub force: bool,
    /// How the files hold their blobs.
    pub encoding: Encoding,
}

impl DumpOptions {
    /// The EXPORT_WRAPPED format byte.
    pub fn format(&self) -> u8 {
        if self.include_seed { ExportWrapped::FORMAT_ED25519_SEED } else { 0 }
    }
}

/// What happened to one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Exported { file: PathBuf },
    Skipped { reason: String },
    Failed { reason: String },
}

/// One object of the dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dumped {
    pub id: ObjectId,
    pub object_type: ObjectType,
    pub outcome: Outcome,
}

impl Dumped {
    /// The progress line: `0x0003 authentication-key: exported to DIR/0x0003-….yhw`.
    pub fn render(&self) -> String {
        let what = format!("0x{:04x} {}", self.id, self.object_type);
        match &self.outcome {
            Outcome::Exported { file } => {
                format!("{what}: exported to {}", text::printable(&file.display().to_string()))
            }
            Outcome::Skipped { reason } => format!("{what}: skipped: {reason}"),
            Outcome::Failed { reason } => format!("{what}: not exported: {reason}"),
        }
    }
}

/// The whole dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpReport {
    pub dir: PathBuf,
    pub wrap_id: ObjectId,
    /// The wrap key's description, written before the objects.
    pub description: PathBuf,
    pub format: u8,
    pub encoding: Encoding,
    pub objects: Vec<Dumped>,
}

impl DumpReport {
    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.objects.iter().filter(|o| f(&o.outcome)).count()
    }

    pub fn exported(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Exported { .. }))
    }

    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped { .. }))
    }

    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed { .. }))
    }

    /// The closing lines.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "Described wrap key 0x{:04x} in {}\n",
            self.wrap_id,
            text::printable(&self.description.display().to_string())
        );
        line += &format!(
            "Exported {} of {} objects to {} under wrap key 0x{:04x}",
            self.exported(),
            self.objects.len(),
            text::printable(&self.dir.display().to_string()),
            self.wrap_id
        );
        let (skipped, failed) = (self.skipped(), self.failed());
        if skipped + failed > 0 {
            line.push_str(&format!(" ({skipped} skipped, {failed} not exported)"));
        }
        line.push('\n');
        line
    }

    /// The JSON object of `dump --json`: `directory`, `wrap_key`, `description` (the
    /// wrap-key description's path), `format`, `encoding` (`base64` or `binary`),
    /// `exported`,
    /// `skipped`, `failed` (counts) and `objects`, each with `id`, `type`, `status`
    /// (`exported`, `skipped` or `failed`), `file` (null unless exported) and `reason`
    /// (null when exported).
    pub fn to_json(&self) -> Value {
        let objects = self
            .objects
            .iter()
            .map(|o| {
                let (status, file, reason) = match &o.outcome {
                    Outcome::Exported { file } => {
                        ("exported", Some(file.display().to_string()), None)
                    }
                    Outcome::Skipped { reason } => ("skipped", None, Some(reason.as_str())),
                    Outcome::Failed { reason } => ("failed", None, Some(reason.as_str())),
                };
                Value::Object(vec![
                    ("id", Value::Number(u64::from(o.id))),
                    ("type", Value::string(o.object_type.to_string())),
                    ("status", Value::string(status)),
                    ("file", Value::string_or_null(file)),
                    ("reason", Value::string_or_null(reason)),
                ])
            })
            .collect();
        Value::Object(vec![
            ("directory", Value::string(self.dir.display().to_string())),
            ("wrap_key", Value::Number(u64::from(self.wrap_id))),
            ("description", Value::string(self.description.display().to_string())),
            ("format", Value::Number(u64::from(self.format))),
            ("encoding", Value::string(self.encoding.name())),
            ("exported", Value::Number(self.exported() as u64)),
            ("skipped", Value::Number(self.skipped() as u64)),
            ("failed", Value::Number(self.failed() as u64)),
            ("objects", Value::Array(objects)),
        ])
    }
}

/// Runs the dump; `progress` sees each object as it is done. Errors that concern the
/// whole dump (no such wrap key, a device that stops answering, a file that cannot be
/// written) end it; a refusal of one object is recorded and the dump goes on.
pub fn dump(
    client: &mut Client,
    options: &DumpOptions,
    progress: &mut dyn FnMut(&Dumped),
) -> Result<DumpReport> {
    let wrap_key = check_wrap_key(client, options.wrap_id)?;
    check_auth_key(client)?;
    let mut entries = client
        .list_objects(&[])
        .map_err(|e| command_error("cannot list the objects on the device", e))?;
    entries.sort_by_key(|e| (e.id, e.object_type));
    let is_wrap_key = |id, t| id == options.wrap_id && t == ObjectType::WRAP_KEY;
    let names = entries.iter().filter(|e| !is_wrap_key(e.id, e.object_type));
    let writer = Writer::create(
        &options.dir,
        &wrap_key,
        options.force,
        options.encoding,
        names.map(|e| (e.id, e.object_type)),
    )?;
    let described = writer.description.clone();
    let mut report = DumpReport {
        dir: options.dir.clone(),
        wrap_id: options.wrap_id,
        description: described,
        format: options.format(),
        encoding: options.encoding,
        objects: Vec::with_capacity(entries.len()),
    };
    for entry in entries {
        let (id, object_type) = (entry.id, entry.object_type);
        let outcome = if is_wrap_key(id, object_type) {
            Outcome::Skipped {
                reason: "the wrap key itself (it cannot be exported under itself; a restore \
                         brings it back from its shares)"
                    .to_owned(),
            }
        } else {
            match client.export_wrapped(options.wrap_id, object_type, id, options.format()) {
                Ok(blob) => Outcome::Exported { file: writer.write(id, object_type, &blob)? },
                // The device refused this object: say why, and go on with the others.
                Err(e) if e.code().is_some_and(|c| c != ErrorCode::INVALID_SESSION) => {
                    Outcome::Failed { reason: refusal(client, &wrap_key, id, object_type, &e) }
                }
                Err(e) => {
                    return Err(command_error(
                        format!("cannot export 0x{id:04x} {object_type}"),
                        e,
                    ));
                }
            }
        };
        let dumped = Dumped { id, object_type, outcome };
        progress(&dumped);
        report.objects.push(dumped);
    }
    Ok(report)
}

/// Writes a dump's files into a directory: the wrap key's description first, then each
/// blob as `0x%04x-<type>.yhw` (atomic, mode 0600). `yhsm dump` and `yhsm clone --dump`.
#[derive(Debug)]
pub struct Writer {
    dir: PathBuf,
    encoding: Encoding,
    /// The wrap key's description, written by [`Writer::create`].
    pub description: PathBuf,
}

impl Writer {
    /// Checks that none of the files for `objects` (and the description) exists unless
    /// `force`, creates `dir`, and writes the description of `wrap_key`.
    ///
    /// A description already there that describes the same wrap key (a `yhsm setup`
    /// directory, an earlier dump) is no conflict: it is written again with the device's
    /// attributes and keeps what only its writer knew, the key check value, the shares'
    /// check values and setup's plan, so that restore still checks each share.
    pub fn create(
        dir: &Path,
        wrap_key: &ObjectInfo,
        force: bool,
        encoding: Encoding,
        objects: impl IntoIterator<Item = (ObjectId, ObjectType)>,
    ) -> Result<Self> {
        let description = dir.join(description::file_name(wrap_key.id));
        let mut described = Description::of_device(wrap_key);
        let kept = description::read_file(&description)
            .ok()
            .filter(|old| old.attributes() == described.attributes());
        if !force {
            let existing: Vec<String> = objects
                .into_iter()
                .map(|(id, object_type)| file_name(id, object_type))
                .chain(kept.is_none().then(|| description::file_name(wrap_key.id)))
                .filter(|name| dir.join(name).exists())
                .collect();
            if let Some(first) = existing.first() {
                let more = match existing.len() {
                    1 => String::new(),
                    n => format!(" and {} more of the files this dump writes", n - 1),
                };
                return Err(Error::failure(format!(
                    "`{}` already holds {first}{more}",
                    dir.display()
                ))
                .with_hint("use --force to overwrite them, or dump into an empty directory"));
            }
        }
        fs::create_dir_all(dir).map_err(|e| {
            Error::failure(format!("cannot create directory `{}`", dir.display())).with_source(e)
        })?;
        if let Some(old) = kept {
            described.kcv = old.kcv;
            described.shares = old.shares;
            described.setup = old.setup;
        }
        let text = described.render();
        files::write_file(&description, text.as_bytes(), true, "wrap-key description")?;
        Ok(Self { dir: dir.to_path_buf(), encoding, description })
    }

    /// Writes one object's blob; its path.
    pub fn write(&self, id: ObjectId, object_type: ObjectType, blob: &[u8]) -> Result<PathBuf> {
        let file = self.dir.join(file_name(id, object_type));
        // Existing files were refused by `create` unless --force was given.
        let bytes = wrap::encode_file(blob, self.encoding);
        files::write_file(&file, &bytes, true, "file")?;
        Ok(file)
    }
}

/// The wrap key's info, after checking that it can export at all.
pub fn check_wrap_key(client: &mut Client, wrap_id: ObjectId) -> Result<ObjectInfo> {
    let info = client.get_object_info(wrap_id, ObjectType::WRAP_KEY).map_err(|e| {
        if e.code() == Some(ErrorCode::OBJECT_NOT_FOUND) {
            let key = client.auth_key_id().map_or(String::new(), |k| format!(" 0x{k:04x}"));
            Error::failure(format!(
                "there is no wrap key 0x{wrap_id:04x} on the device (or it is outside the \
                 domains of authentication key{key})"
            ))
        } else {
            command_error(format!("cannot read the object info of wrap key 0x{wrap_id:04x}"), e)
        }
    })?;
    if info.algorithm.wrap_key_size().is_none() {
        return Err(Error::failure(format!(
            "wrap key 0x{wrap_id:04x} is a {} key: objects are exported under AES-CCM wrap \
             keys (aes128/192/256-ccm-wrap)",
            info.algorithm
        )));
    }
    if !info.capabilities.contains(Capabilities::EXPORT_WRAPPED) {
        return Err(Error::failure(format!(
            "wrap key 0x{wrap_id:04x} lacks the export-wrapped capability, so nothing can be \
             exported under it"
        )));
    }
    Ok(info)
}

/// The authentication key needs export-wrapped; say so before every object fails.
pub fn check_auth_key(client: &mut Client) -> Result<()> {
    let Some(key_id) = client.auth_key_id() else { return Ok(()) };
    // Unreadable info is not decisive: the exports will tell.
    if let Ok(info) = client.get_object_info(key_id, ObjectType::AUTHENTICATION_KEY)
        && !info.capabilities.contains(Capabilities::EXPORT_WRAPPED)
    {
        return Err(Error::failure(format!(
            "authentication key 0x{key_id:04x} lacks the export-wrapped capability"
        ))
        .with_hint("authenticate with a key that has it (-k ID)"));
    }
    Ok(())
}

/// Why the device refused to export an object, as precisely as its info tells.
pub fn refusal(
    client: &mut Client,
    wrap_key: &ObjectInfo,
    id: ObjectId,
    object_type: ObjectType,
    e: &ClientError,
) -> String {
    if e.code() == Some(ErrorCode::INSUFFICIENT_PERMISSIONS)
        && let Ok(info) = client.get_object_info(id, object_type)
    {
        if !info.capabilities.contains(Capabilities::EXPORTABLE_UNDER_WRAP) {
            return "it does not have the exportable-under-wrap capability (capabilities are \
                    fixed when an object is made)"
                .to_owned();
        }
        let delegated = wrap_key.delegated_capabilities;
        let missing = Capabilities(info.capabilities.0 & !delegated.0);
        if !missing.is_empty() && missing.names().next().is_none() {
            // yubihsm-manager stores `all` as the named bits only; the factory key has all
            // 64 (docs/PROTOCOL.md §3.3).
            return format!(
                "the object has capability bits without a name (0x{:016x}) that wrap key \
                 0x{:04x} does not delegate",
                missing.unknown_bits(),
                wrap_key.id
            );
        }
        if !missing.is_empty() {
            // A long list helps nobody: name a few, or say what the wrap key does allow.
            let detail = if missing.0.count_ones() <= 4 {
                format!("it does not delegate {missing}")
            } else {
                format!("it delegates only {delegated}")
            };
            return format!(
                "the object has capabilities wrap key 0x{:04x} does not delegate ({detail})",
                wrap_key.id
            );
        }
    }
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_outcomes() {
        let report = DumpReport {
            dir: PathBuf::from("out"),
            wrap_id: 2,
            description: PathBuf::from("out/0x0002-wrap-key.description"),
            format: 0,
            encoding: Encoding::Binary,
            objects: vec![
                Dumped {
                    id: 1,
                    object_type: ObjectType::AUTHENTICATION_KEY,
                    outcome: Outcome::Exported { file: PathBuf::from("out/a") },
                },
                Dumped {
                    id: 2,
                    object_type: ObjectType::WRAP_KEY,
                    outcome: Outcome::Skipped { reason: "self".into() },
                },
                Dumped {
                    id: 3,
                    object_type: ObjectType::OPAQUE,
                    outcome: Outcome::Failed { reason: "no".into() },
                },
            ],
        };
        assert_eq!(
            report.summary(),
            "Described wrap key 0x0002 in out/0x0002-wrap-key.description\nExported 1 of 3 \
             objects to out under wrap key 0x0002 (1 skipped, 1 not exported)\n"
        );
        assert_eq!(report.objects[2].render(), "0x0003 opaque: not exported: no");
        let json = report.to_json().to_pretty();
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["failed"], 1);
        assert_eq!(parsed["encoding"], "binary");
        assert_eq!(parsed["objects"][0]["file"], "out/a");
        assert_eq!(parsed["objects"][1]["status"], "skipped");
    }
}
