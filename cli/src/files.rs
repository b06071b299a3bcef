//! Reading inputs (bounded, into zeroizing buffers) and writing outputs without clobbering.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The largest file read as a key, password, shares or `.yhw` file: far above any real
/// one (an RSA-4096 PEM is about 3 KiB, the largest `.yhw` about 88 KiB), small enough
/// that a wrong path (a disk image, /dev/zero) fails at once.
pub const MAX_INPUT_LEN: u64 = 1 << 20;

/// Reads a whole file of at most [`MAX_INPUT_LEN`] bytes. `what` names the file's role in
/// errors ("wrap key file").
pub fn read_file(path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>> {
    let file = File::open(path).map_err(|e| {
        Error::failure(format!("cannot open {what} `{}`", path.display())).with_source(e)
    })?;
    read_limited(file).map_err(|e| {
        Error::failure(format!("cannot read {what} `{}`", path.display())).with_source(e)
    })
}

/// Reads a whole file of at most [`MAX_INPUT_LEN`] bytes, for callers that name the file
/// themselves: the error is the reason alone.
pub fn read_file_plain(path: &Path) -> Result<Zeroizing<Vec<u8>>, String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    read_limited(file).map_err(|e| format!("cannot read: {e}"))
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

/// Writes `contents` to a new file; an existing file is replaced only when `force` is set.
pub fn write_new_file(path: &Path, contents: &[u8], force: bool, what: &str) -> Result<()> {
    let mut options = OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| {
        let err = Error::failure(format!("cannot create {what} `{}`", path.display()));
        if e.kind() == io::ErrorKind::AlreadyExists {
            err.with_source(e).with_hint("use --force to overwrite it")
        } else {
            err.with_source(e)
        }
    })?;
    file.write_all(contents).and_then(|()| file.sync_all()).map_err(|e| {
        Error::failure(format!("cannot write {what} `{}`", path.display())).with_source(e)
    })
}
