//! A backup directory (docs/PROTOCOL.md §5): the `.yhw` files yubihsm-setup's `dump`,
//! yubihsm-manager and `yhsm wrap` write, read in sorted name order, each decoded (base64
//! text or raw bytes, [`wrap::decode_file`]) and then decrypted under a wrap key with a
//! per-file outcome. `restore` and `verify` both start here.
//!
//! Names are not interpreted: yubihsm-setup writes `0x0003-authentication-key.yhw` (older
//! versions `0x0003.yhw`; [`file_name`] is the name `dump` gives), and any other `*.yhw` is
//! read as well. What a file holds is decided by its decrypted header alone.
//!
//! Only what the two commands need is kept after decryption: the header, the delegated
//! capabilities, the public key of an asymmetric key, the wrapped blob as it is (sent to
//! the device unchanged) and, for a symmetric authentication key, its two session keys
//! (to prove the restored key opens a session before the login key is deleted). The rest
//! of each plaintext is zeroized as soon as the file is decrypted.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use yhsm_proto::StaticKeys;
use yhsm_proto::wrap::{self, Body, Encoding, WrapError, WrapKey, WrappedBlob};
use yhsm_proto::{ObjectId, ObjectType};

use crate::backup::object::Summary;
use crate::error::{Error, Result};
use crate::util::files;
use crate::util::text;

/// The file extension of wrapped objects.
pub const EXTENSION: &str = "yhw";

/// The file name yubihsm-setup's `dump` (and `yhsm dump`) gives an object:
/// `0x0003-authentication-key.yhw`.
pub fn file_name(id: ObjectId, object_type: ObjectType) -> String {
    format!("0x{id:04x}-{object_type}.{EXTENSION}")
}

/// Why a file is not restored, as the user reads it.
pub const NOT_UNDER_THIS_KEY: &str = "not wrapped under this key, or damaged";

/// A backup directory, read.
#[derive(Debug)]
pub struct Backup {
    pub dir: PathBuf,
    /// In sorted name order.
    pub files: Vec<BackupFile>,
}

/// One `.yhw` file.
#[derive(Debug)]
pub struct BackupFile {
    /// The file name (not the path), made printable.
    pub name: String,
    /// How the file holds its blob; `None` when it holds none.
    pub encoding: Option<Encoding>,
    pub state: FileState,
}

/// What is known about a file.
#[derive(Debug)]
pub enum FileState {
    /// Read and decoded: a blob of plausible length, not decrypted yet.
    Encoded(Vec<u8>),
    /// Not a wrapped object: unreadable, not base64 text nor a blob's raw bytes, too
    /// short. The reason.
    Invalid(String),
    /// A well-formed blob whose tag does not verify under the key given: wrapped under
    /// another key, or corrupted.
    NotUnderKey,
    /// It decrypts, but what it holds is not a valid object (the reason): restore cannot
    /// vouch for it, so it counts as a failure.
    Malformed(String),
    /// The same (id, type) as an earlier file. `conflicting`: a different object (other
    /// attributes or public key), not a copy.
    Duplicate { of: String, conflicting: bool },
    /// Decrypted.
    Decrypted(Box<Entry>),
}

/// A decrypted object, without its private parts.
pub struct Entry {
    /// The blob as read, for IMPORT_WRAPPED.
    pub blob: Vec<u8>,
    /// Header, delegated capabilities, public key.
    pub summary: Summary,
    /// The session keys of a symmetric authentication key (zeroized on drop).
    pub auth_keys: Option<StaticKeys>,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("summary", &self.summary)
            .field("auth_keys", &self.auth_keys.as_ref().map(|_| "redacted"))
            .finish_non_exhaustive()
    }
}

impl Entry {
    pub fn id(&self) -> ObjectId {
        self.summary.header.id
    }

    pub fn object_type(&self) -> ObjectType {
        self.summary.header.object_type
    }

    /// `asymmetric-key 0x0100`, for messages.
    pub fn describe(&self) -> String {
        format!("{} 0x{:04x}", self.object_type(), self.id())
    }
}

impl BackupFile {
    /// The decrypted object, if the file holds one to restore.
    pub fn entry(&self) -> Option<&Entry> {
        match &self.state {
            FileState::Decrypted(e) => Some(e),
            _ => None,
        }
    }

    /// Why the file is skipped without counting as a failure, if it is.
    pub fn skip_reason(&self) -> Option<String> {
        match &self.state {
            FileState::Invalid(reason) => Some(reason.clone()),
            FileState::NotUnderKey if self.encoding == Some(Encoding::Binary) => {
                Some(format!("{NOT_UNDER_THIS_KEY} (read as raw bytes: it is not base64 text)"))
            }
            FileState::NotUnderKey => Some(NOT_UNDER_THIS_KEY.to_owned()),
            FileState::Duplicate { of, conflicting: false } => {
                Some(format!("the same object as {of}"))
            }
            _ => None,
        }
    }

    /// Why the file counts as a failure before anything is sent, if it does.
    pub fn failure_reason(&self) -> Option<String> {
        match &self.state {
            FileState::Malformed(reason) => Some(reason.clone()),
            FileState::Duplicate { of, conflicting: true } => {
                Some(format!("the same id and type as {of} but a different object"))
            }
            _ => None,
        }
    }
}

impl Backup {
    /// Reads every `*.yhw` file of `dir` (the extension in any case: `.YHW` too) in
    /// sorted name order. A file that cannot be read, is not a regular file (a FIFO would
    /// block the read forever), or holds neither base64 text nor raw bytes of a plausible
    /// blob is kept as [`FileState::Invalid`], by name; only a directory that cannot be
    /// listed, or holds no `.yhw` file, is an error, which names the files that look like
    /// backup files under another extension (`.yhw.bak`, `.yhw~`).
    pub fn read_dir(dir: &Path) -> Result<Self> {
        let listing = std::fs::read_dir(dir).map_err(|e| {
            Error::failure(format!("cannot read the backup directory `{}`", dir.display()))
                .with_source(e)
        })?;
        let (mut paths, mut near) = (Vec::new(), Vec::new());
        for entry in listing {
            let entry = entry.map_err(|e| {
                Error::failure(format!("cannot read the backup directory `{}`", dir.display()))
                    .with_source(e)
            })?;
            let path = entry.path();
            if is_backup_file(&path) {
                paths.push(path);
            } else if let Some(name) = path.file_name().map(|n| n.to_string_lossy())
                && name.to_ascii_lowercase().contains(&format!(".{EXTENSION}"))
            {
                near.push(text::printable(&name));
            }
        }
        // Byte order of the names: the order yubihsm-setup's `0x%04x` names sort in.
        paths.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        if paths.is_empty() {
            let error = Error::failure(format!("no .{EXTENSION} files in `{}`", dir.display()));
            if near.is_empty() {
                return Err(
                    error.with_hint("name the directory that holds the backup's .yhw files")
                );
            }
            near.sort();
            return Err(error.with_hint(format!(
                "{} {} like .{EXTENSION} files under another name, and {} not read: rename \
                 {} to end in .{EXTENSION} if {} of the backup",
                near.join(", "),
                if near.len() == 1 { "looks" } else { "look" },
                if near.len() == 1 { "is" } else { "are" },
                if near.len() == 1 { "it" } else { "them" },
                if near.len() == 1 { "it is part" } else { "they are part" },
            )));
        }
        let files = paths.iter().map(|p| read_one(p)).collect();
        Ok(Self { dir: dir.to_path_buf(), files })
    }

    /// Builds a backup from named texts (for tests and callers that hold the files).
    pub fn from_texts<'a>(
        dir: &Path,
        texts: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Self {
        let files =
            texts.into_iter().map(|(name, bytes)| decode(text::printable(name), bytes)).collect();
        Self { dir: dir.to_path_buf(), files }
    }

    /// A backup of blobs just exported from a device (`yhsm clone`), each with the name
    /// `dump` gives its file ([`file_name`]). With a summary (the object as the source
    /// device describes it), the blob is taken as [`FileState::Decrypted`] without
    /// decrypting it: the host does not know the wrap key (clone without the shares), the
    /// device it is imported into decrypts it, and a symmetric authentication key has no
    /// session keys to prove. Without one, the blob waits for [`Backup::decrypt`].
    pub fn from_exports(
        source: &Path,
        exports: impl IntoIterator<Item = (Vec<u8>, Option<Summary>, ObjectId, ObjectType)>,
    ) -> Self {
        let files = exports
            .into_iter()
            .map(|(blob, summary, id, object_type)| BackupFile {
                name: file_name(id, object_type),
                encoding: None,
                state: match summary {
                    Some(summary) => {
                        FileState::Decrypted(Box::new(Entry { blob, summary, auth_keys: None }))
                    }
                    None => FileState::Encoded(blob),
                },
            })
            .collect();
        Self { dir: source.to_path_buf(), files }
    }

    /// Decrypts every decoded file under `key`: [`FileState::Decrypted`],
    /// [`FileState::NotUnderKey`], [`FileState::Malformed`] or [`FileState::Duplicate`].
    /// Files already decrypted are left as they are.
    pub fn decrypt(&mut self, key: &WrapKey) {
        let mut seen: HashMap<(ObjectId, ObjectType), usize> = HashMap::new();
        for i in 0..self.files.len() {
            let Some(file) = self.files.get_mut(i) else { continue };
            if let FileState::Encoded(blob) = &mut file.state {
                let blob = std::mem::take(blob);
                file.state = decrypt_blob(key, blob);
            }
            let Some(entry) = self.files.get(i).and_then(BackupFile::entry) else { continue };
            let at = (entry.id(), entry.object_type());
            match seen.get(&at).and_then(|&j| self.files.get(j)) {
                None => {
                    seen.insert(at, i);
                }
                Some(first) => {
                    let conflicting = first.entry().is_none_or(|f| {
                        f.summary != entry.summary || !same_content(key, &f.blob, &entry.blob)
                    });
                    let of = first.name.clone();
                    if let Some(file) = self.files.get_mut(i) {
                        file.state = FileState::Duplicate { of, conflicting };
                    }
                }
            }
        }
    }

    /// Whether any file not decrypted yet decrypts under `key`, without changing the
    /// files: `None` when no file is a wrapped blob waiting to be decrypted (then the
    /// key is not what is wrong). For asking for the shares again when they are wrong.
    pub fn decrypts_under(&self, key: &WrapKey) -> Option<bool> {
        let mut blobs = self.files.iter().filter_map(|f| match &f.state {
            FileState::Encoded(blob) => Some(blob),
            _ => None,
        });
        let first = blobs.next()?;
        // The plaintexts are zeroized as they are dropped.
        Some(
            std::iter::once(first)
                .chain(blobs)
                .any(|b| !matches!(wrap::unwrap(key, b), Err(WrapError::Authentication))),
        )
    }

    /// The names of the files that do not decrypt under the key given to
    /// [`Backup::decrypt`]: under another key, or damaged.
    pub fn not_under_key(&self) -> Vec<&str> {
        self.files
            .iter()
            .filter(|f| matches!(f.state, FileState::NotUnderKey))
            .map(|f| f.name.as_str())
            .collect()
    }

    /// The decrypted objects, in file order, with their file names.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.files.iter().filter_map(|f| f.entry().map(|e| (f.name.as_str(), e)))
    }

    /// How many files decrypt under the key given to [`Backup::decrypt`].
    pub fn decryptable(&self) -> usize {
        self.entries().count()
    }
}

/// Whether `path` names a backup file: `*.yhw`, the extension in any case.
pub(crate) fn is_backup_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case(EXTENSION))
}

/// Why a `.yhw` entry that is not a regular file (after following links) is not read:
/// opening a FIFO for reading blocks until someone writes to it, and a device or socket
/// is no backup file either. Directories and unreadable entries are left to the read,
/// whose error says what they are.
fn special_file(path: &Path) -> Option<String> {
    let kind = std::fs::metadata(path).ok()?.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let what = if kind.is_fifo() {
            "a FIFO (named pipe)"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else {
            return None;
        };
        Some(format!("not a regular file but {what}; not read"))
    }
    #[cfg(not(unix))]
    {
        (!kind.is_file() && !kind.is_dir()).then(|| "not a regular file; not read".to_owned())
    }
}

fn read_one(path: &Path) -> BackupFile {
    let name = text::printable(
        &path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
    );
    if let Some(reason) = special_file(path) {
        return BackupFile { name, encoding: None, state: FileState::Invalid(reason) };
    }
    match files::read_file_plain(path) {
        Err(e) => BackupFile { name, encoding: None, state: FileState::Invalid(e.to_string()) },
        Ok(bytes) => decode(name, &bytes),
    }
}

/// Decodes the bytes of a `.yhw` file (base64 text or raw bytes) into a blob of
/// plausible length.
fn decode(name: String, bytes: &[u8]) -> BackupFile {
    let decoded = wrap::decode_file(bytes)
        .and_then(|(blob, encoding)| WrappedBlob::parse(&blob).map(|_| (blob, encoding)));
    match decoded {
        Ok((blob, encoding)) => {
            BackupFile { name, encoding: Some(encoding), state: FileState::Encoded(blob) }
        }
        Err(e) => BackupFile { name, encoding: None, state: FileState::Invalid(e.to_string()) },
    }
}

/// Whether two blobs that decrypt under `key` hold the same object body (key material,
/// opaque data), compared in constant time: two files with the same header but another
/// key or other data are two objects, not a copy. The plaintexts are zeroized on return.
fn same_content(key: &WrapKey, a: &[u8], b: &[u8]) -> bool {
    match (wrap::unwrap(key, a), wrap::unwrap(key, b)) {
        (Ok(a), Ok(b)) => yhsm_proto::secret::ct_eq(&a.body.to_bytes(), &b.body.to_bytes()),
        _ => false,
    }
}

fn decrypt_blob(key: &WrapKey, blob: Vec<u8>) -> FileState {
    match wrap::unwrap(key, &blob) {
        Err(WrapError::Authentication) => FileState::NotUnderKey,
        Err(e) => FileState::Malformed(format!("decrypts, but {e}")),
        Ok(object) => {
            let auth_keys = match &object.body {
                Body::AuthenticationKey { enc, mac, .. } => {
                    Some(StaticKeys::new(enc.clone(), mac.clone()))
                }
                _ => None,
            };
            let summary = Summary::of(&object);
            // `object` (and with it every private part) is zeroized here.
            FileState::Decrypted(Box::new(Entry { blob, summary, auth_keys }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yhsm_proto::wrap::{WrapHeader, WrappedObject};
    use yhsm_proto::{Algorithm, Capabilities, Domains, Origin, SecretBytes};

    fn key(byte: u8) -> WrapKey {
        WrapKey::new(&[byte; 32]).unwrap()
    }

    fn opaque(id: ObjectId, data: &[u8]) -> WrappedObject {
        WrappedObject {
            header: WrapHeader {
                wrap_algorithm: Algorithm::AES256_CCM_WRAP,
                capabilities: Capabilities::GET_OPAQUE,
                id,
                length: 0,
                domains: Domains(1),
                object_type: ObjectType::OPAQUE,
                algorithm: Algorithm::OPAQUE_DATA,
                sequence: 0,
                origin: Origin::IMPORTED,
                label: "x".parse().unwrap(),
            },
            body: Body::Raw(SecretBytes::from_slice(data)),
        }
    }

    fn text(key: &WrapKey, object: &WrappedObject) -> Vec<u8> {
        wrap::encode_text(&wrap::wrap(key, [7; 13], object).unwrap()).into_bytes()
    }

    #[test]
    fn names_files_as_yubihsm_setup_does() {
        assert_eq!(file_name(3, ObjectType::AUTHENTICATION_KEY), "0x0003-authentication-key.yhw");
        assert_eq!(file_name(0xbeef, ObjectType::OPAQUE), "0xbeef-opaque.yhw");
        assert_eq!(file_name(0x10, ObjectType(0x42)), "0x0010-0x42.yhw");
    }

    #[test]
    fn decrypts_skips_and_flags_duplicates_per_file() {
        let k = key(1);
        let a = text(&k, &opaque(0x10, b"a"));
        let copy = text(&k, &opaque(0x10, b"a"));
        let other = text(&k, &opaque(0x10, b"different"));
        let foreign = text(&key(2), &opaque(0x11, b"b"));
        let mut backup = Backup::from_texts(
            Path::new("d"),
            [
                ("1.yhw", &a[..]),
                ("2.yhw", &copy[..]),
                ("3.yhw", &other[..]),
                ("4.yhw", &foreign[..]),
                ("5.yhw", &b"not base64!"[..]),
                ("6.yhw", &b"AAAA"[..]),
            ],
        );
        backup.decrypt(&k);
        let states: Vec<String> = backup
            .files
            .iter()
            .map(|f| match &f.state {
                FileState::Decrypted(e) => format!("decrypted {}", e.describe()),
                _ => match (f.skip_reason(), f.failure_reason()) {
                    (Some(r), None) => format!("skipped: {r}"),
                    (None, Some(r)) => format!("failed: {r}"),
                    other => panic!("{other:?}"),
                },
            })
            .collect();
        assert_eq!(states[0], "decrypted opaque 0x0010");
        assert_eq!(states[1], "skipped: the same object as 1.yhw");
        assert!(states[2].starts_with("failed: the same id and type as 1.yhw"), "{}", states[2]);
        assert_eq!(states[3], "skipped: not wrapped under this key, or damaged");
        assert!(states[4].starts_with("skipped: not base64"), "{}", states[4]);
        assert!(states[5].starts_with("skipped: wrapped blob"), "{}", states[5]);
        assert_eq!(backup.decryptable(), 1);
    }

    #[test]
    fn reads_raw_bytes_and_wrapped_text_alike() {
        let k = key(1);
        let blob = wrap::wrap(&k, [7; 13], &opaque(0x10, b"a")).unwrap();
        let lines: Vec<String> = wrap::encode_text(&blob)
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        let wrapped = format!("\u{feff}{}\n", lines.join("\n"));
        let foreign = wrap::wrap(&key(2), [7; 13], &opaque(0x11, b"b")).unwrap();
        let mut backup = Backup::from_texts(
            Path::new("d"),
            [
                ("raw.yhw", &blob[..]),
                ("text.yhw", wrapped.as_bytes()),
                ("foreign.yhw", &foreign[..]),
                ("short.yhw", &[0u8; 40][..]),
            ],
        );
        backup.decrypt(&k);
        let encodings: Vec<Option<Encoding>> = backup.files.iter().map(|f| f.encoding).collect();
        assert_eq!(
            encodings,
            [Some(Encoding::Binary), Some(Encoding::Base64), Some(Encoding::Binary), None]
        );
        assert_eq!(backup.files[0].entry().unwrap().blob, blob);
        assert_eq!(
            backup.files[1].skip_reason().unwrap(),
            "the same object as raw.yhw",
            "the text holds the same blob"
        );
        assert_eq!(
            backup.files[2].skip_reason().unwrap(),
            "not wrapped under this key, or damaged (read as raw bytes: it is not base64 text)"
        );
        assert!(
            backup.files[3].skip_reason().unwrap().starts_with("raw wrapped blob (the file is not"),
            "{:?}",
            backup.files[3].skip_reason()
        );
    }

    #[test]
    fn the_same_header_with_other_content_is_a_conflict_not_a_copy() {
        // Before (issue 10 §4): only the header and public key were compared, so a second
        // opaque object or symmetric key with the same attributes passed as a copy.
        let k = key(1);
        let a = text(&k, &opaque(0x10, b"same length A"));
        let b = text(&k, &opaque(0x10, b"same length B"));
        let again =
            wrap::encode_text(&wrap::wrap(&k, [9; 13], &opaque(0x10, b"same length A")).unwrap());
        let mut backup = Backup::from_texts(
            Path::new("d"),
            [("1.yhw", &a[..]), ("2.yhw", &b[..]), ("3.yhw", again.as_bytes())],
        );
        backup.decrypt(&k);
        assert!(
            matches!(&backup.files[1].state, FileState::Duplicate { of, conflicting: true } if of == "1.yhw"),
            "{:?}",
            backup.files[1].state
        );
        // The same object wrapped again (another nonce) is a copy.
        assert!(
            matches!(&backup.files[2].state, FileState::Duplicate { conflicting: false, .. }),
            "{:?}",
            backup.files[2].state
        );
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("yhsm-dir-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn reads_yhw_in_any_case_and_names_near_misses() {
        // Before: a directory of `.YHW` files (copied from a FAT stick) had "no .yhw files".
        let k = key(1);
        let dir = scratch("case");
        std::fs::write(dir.join("0x0010-OPAQUE.YHW"), text(&k, &opaque(0x10, b"a"))).unwrap();
        std::fs::write(dir.join("0x0011-opaque.Yhw"), text(&k, &opaque(0x11, b"b"))).unwrap();
        let mut backup = Backup::read_dir(&dir).unwrap();
        backup.decrypt(&k);
        let names: Vec<&str> = backup.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["0x0010-OPAQUE.YHW", "0x0011-opaque.Yhw"]);
        assert_eq!(backup.decryptable(), 2);

        let dir = scratch("near");
        std::fs::write(dir.join("0x0010-opaque.yhw.bak"), b"x").unwrap();
        std::fs::write(dir.join("0x0011-opaque.YHW~"), b"x").unwrap();
        std::fs::write(dir.join("README"), b"x").unwrap();
        let e = Backup::read_dir(&dir).unwrap_err();
        assert!(e.message().starts_with("no .yhw files in"), "{}", e.message());
        assert_eq!(
            e.hint(),
            Some(
                "0x0010-opaque.yhw.bak, 0x0011-opaque.YHW~ look like .yhw files under another \
                 name, and are not read: rename them to end in .yhw if they are part of the \
                 backup"
            )
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_named_like_a_backup_file_is_reported_not_opened() {
        // Before: opening it blocked restore forever, waiting for a writer.
        let dir = scratch("fifo");
        let fifo = dir.join("0x0010-opaque.yhw");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("skipped: mkfifo is not available");
            return;
        }
        let backup = Backup::read_dir(&dir).unwrap();
        assert_eq!(backup.files.len(), 1);
        assert_eq!(
            backup.files[0].skip_reason().as_deref(),
            Some("not a regular file but a FIFO (named pipe); not read")
        );
    }

    #[test]
    fn keeps_the_session_keys_of_authentication_keys_only() {
        let k = key(1);
        let auth = WrappedObject {
            header: WrapHeader {
                object_type: ObjectType::AUTHENTICATION_KEY,
                algorithm: Algorithm::AES128_YUBICO_AUTHENTICATION,
                ..opaque(3, b"").header
            },
            body: Body::authentication_key_from_password(Capabilities::NONE, b"password"),
        };
        let mut backup = Backup::from_texts(
            Path::new("d"),
            [("a.yhw", &text(&k, &auth)[..]), ("b.yhw", &text(&k, &opaque(4, b"x"))[..])],
        );
        backup.decrypt(&k);
        let entries: Vec<&Entry> = backup.entries().map(|(_, e)| e).collect();
        let expected = StaticKeys::from_password(b"password");
        let got = entries[0].auth_keys.as_ref().unwrap();
        assert_eq!(got.enc.expose_secret(), expected.enc.expose_secret());
        assert_eq!(got.mac.expose_secret(), expected.mac.expose_secret());
        assert!(entries[1].auth_keys.is_none());
        assert!(
            !format!("{:?}", entries[0]).contains(&format!("{:?}", expected.enc.expose_secret()))
        );
    }
}
