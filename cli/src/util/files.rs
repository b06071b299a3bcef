//! Reading inputs (bounded, into zeroizing buffers) and writing outputs atomically,
//! without clobbering unless asked.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The largest file read as a key, password, shares or `.yhw` file: far above any real
/// one (an RSA-4096 PEM is about 3 KiB, the largest `.yhw` about 88 KiB), small enough
/// that a wrong path (a disk image, /dev/zero) fails at once.
pub const MAX_INPUT_LEN: u64 = 1 << 20;

/// Why a file was not read.
#[derive(Debug)]
pub enum ReadError {
    /// It cannot be opened.
    Open(io::Error),
    /// It cannot be read, or is longer than [`MAX_INPUT_LEN`].
    Read(io::Error),
}

impl ReadError {
    /// What was not done: `open` or `read`.
    fn verb(&self) -> &'static str {
        match self {
            Self::Open(_) => "open",
            Self::Read(_) => "read",
        }
    }

    fn into_cause(self) -> io::Error {
        match self {
            Self::Open(e) | Self::Read(e) => e,
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (Self::Open(cause) | Self::Read(cause)) = self;
        write!(f, "cannot {}: {cause}", self.verb())
    }
}

impl std::error::Error for ReadError {}

/// Reads a whole file of at most [`MAX_INPUT_LEN`] bytes. `what` names the file's role in
/// errors ("wrap key file").
pub fn read_file(path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>> {
    read_file_plain(path).map_err(|e| {
        Error::failure(format!("cannot {} {what} `{}`", e.verb(), path.display()))
            .with_source(e.into_cause())
    })
}

/// Reads a whole file of at most [`MAX_INPUT_LEN`] bytes, for callers that name the file
/// themselves: the error is the reason alone.
pub fn read_file_plain(path: &Path) -> Result<Zeroizing<Vec<u8>>, ReadError> {
    let file = File::open(path).map_err(ReadError::Open)?;
    read_limited(file).map_err(ReadError::Read)
}

/// Like [`read_file`], but `-` reads standard input.
pub fn read_file_or_stdin(path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>> {
    if path.as_os_str() != "-" {
        return read_file(path, what);
    }
    read_limited(io::stdin().lock()).map_err(|e| {
        Error::failure(format!("cannot read {what} from standard input")).with_source(e)
    })
}

fn read_limited(reader: impl Read) -> io::Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(4096));
    // One byte more than allowed tells "exactly the limit" from "too long".
    reader.take(MAX_INPUT_LEN + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_INPUT_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {} KiB; is it the right file?", MAX_INPUT_LEN / 1024),
        ));
    }
    Ok(buf)
}

/// Writes `contents` to `path` the one way every output is written: through a temporary
/// file in the same directory (mode 0600: wrapped keys and shares are nobody else's
/// business), synced, then renamed over `path`, so a reader never sees half a file. An
/// existing `path` is replaced only when `overwrite` is set; `what` names the file's role
/// in errors ("output file").
pub fn write_file(path: &Path, contents: &[u8], overwrite: bool, what: &str) -> Result<()> {
    if !overwrite && fs::symlink_metadata(path).is_ok() {
        return Err(already_exists(path, what));
    }
    let temp = temp_path(path);
    let written = (|| -> io::Result<()> {
        let mut file = new_file().open(&temp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    written.map_err(|e| {
        let _ = fs::remove_file(&temp);
        Error::failure(format!("cannot write {what} `{}`", path.display())).with_source(e)
    })
}

/// Creates `path` for an output written as it goes (a trace, flushed line by line, so a
/// run that hangs leaves everything up to that point), by the rules of [`write_file`]:
/// mode 0600, and an existing `path` (a symbolic link too) is replaced only when
/// `overwrite` is set. Without it the file is created exclusively (`O_EXCL`), so nothing
/// that appears meanwhile is clobbered; with it, a new file is renamed over the old one,
/// so the old one's mode, or a link's target, is never reused.
pub fn create_file(path: &Path, overwrite: bool, what: &str) -> Result<File> {
    let cannot =
        |e| Error::failure(format!("cannot create {what} `{}`", path.display())).with_source(e);
    if !overwrite {
        return new_file().open(path).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => already_exists(path, what),
            _ => cannot(e),
        });
    }
    let temp = temp_path(path);
    let file = new_file().open(&temp).map_err(cannot)?;
    fs::rename(&temp, path).map_err(|e| {
        let _ = fs::remove_file(&temp);
        cannot(e)
    })?;
    Ok(file)
}

fn already_exists(path: &Path, what: &str) -> Error {
    Error::failure(format!("cannot create {what} `{}`: it already exists", path.display()))
        .with_hint("use --force to overwrite it")
}

/// A new file readable by its owner only; never an existing one.
fn new_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// A temporary name beside `path`, for a file renamed over it once written.
fn temp_path(path: &Path) -> std::path::PathBuf {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dir.join(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory for one test.
    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("yhsm-files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn writes_atomically_with_owner_only_permissions_and_no_clobbering() {
        let dir = scratch("write");
        let path = dir.join("0x0001-opaque.yhw");
        write_file(&path, b"first", false, "output file").unwrap();
        let e = write_file(&path, b"second", false, "output file").unwrap_err();
        assert_eq!(e.hint(), Some("use --force to overwrite it"));
        assert_eq!(fs::read(&path).unwrap(), b"first");
        write_file(&path, b"second", true, "output file").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        let missing = dir.join("no-such-dir").join("x.yhw");
        let e = write_file(&missing, b"x", true, "output file").unwrap_err();
        assert!(e.message().contains("no-such-dir"), "{}", e.message());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn creates_streams_owner_only_and_never_clobbers_without_overwrite() {
        let dir = scratch("stream");
        let path = dir.join("trace.jsonl");
        fs::write(&path, b"an earlier trace").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        }
        let e = create_file(&path, false, "trace file").unwrap_err();
        assert_eq!(e.hint(), Some("use --force to overwrite it"));
        assert!(e.message().ends_with("trace.jsonl`: it already exists"), "{}", e.message());
        assert_eq!(fs::read(&path).unwrap(), b"an earlier trace");
        // A link is not followed, with or without overwrite.
        #[cfg(unix)]
        {
            let target = dir.join("target");
            fs::write(&target, b"not mine").unwrap();
            let link = dir.join("link.jsonl");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            assert!(create_file(&link, false, "trace file").is_err());
            let mut file = create_file(&link, true, "trace file").unwrap();
            file.write_all(b"new").unwrap();
            assert_eq!(fs::read(&target).unwrap(), b"not mine");
            assert_eq!(fs::read(&link).unwrap(), b"new");
        }
        let mut file = create_file(&path, true, "trace file").unwrap();
        file.write_all(b"line\n").unwrap();
        drop(file);
        assert_eq!(fs::read(&path).unwrap(), b"line\n");
        let fresh = dir.join("fresh.jsonl");
        drop(create_file(&fresh, false, "trace file").unwrap());
        #[cfg(unix)]
        for p in [&path, &fresh] {
            assert_eq!(mode(p), 0o600);
        }
        assert!(
            fs::read_dir(&dir).unwrap().all(|e| !e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp"))
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
