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
        return Err(Error::failure(format!(
            "cannot create {what} `{}`: it already exists",
            path.display()
        ))
        .with_hint("use --force to overwrite it"));
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| -> io::Result<()> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&temp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    written.map_err(|e| {
        let _ = fs::remove_file(&temp);
        Error::failure(format!("cannot write {what} `{}`", path.display())).with_source(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_atomically_with_owner_only_permissions_and_no_clobbering() {
        let dir = std::env::temp_dir().join(format!("yhsm-files-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("0x0001-opaque.yhw");
        write_file(&path, b"first", false, "output file").unwrap();
        let e = write_file(&path, b"second", false, "output file").unwrap_err();
        assert_eq!(e.hint(), Some("use --force to overwrite it"));
        assert_eq!(fs::read(&path).unwrap(), b"first");
        write_file(&path, b"second", true, "output file").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        let missing = dir.join("no-such-dir").join("x.yhw");
        let e = write_file(&missing, b"x", true, "output file").unwrap_err();
        assert!(e.message().contains("no-such-dir"), "{}", e.message());
        fs::remove_dir_all(&dir).unwrap();
    }
}
