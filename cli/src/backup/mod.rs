//! The backup core: a directory of `.yhw` files and the objects they hold, the comparison
//! of a device's objects with them, and the commands built on both.
//!
//! - [`dir`]: a backup directory read and decrypted, file by file; [`object`]: what a
//!   decrypted object is, without its secret parts; [`description`]: the non-secret file
//!   that describes the backup's wrap key; [`identity`]: whether a wrap key from shares is
//!   the backup's, with its attributes.
//! - [`compare`]: a device's object compared with a backup's (attributes, public key, a
//!   session for an authentication key), for restore and verify alike; [`report`]: one
//!   file's line in their reports.
//! - [`restore`], [`verify`], [`dump`], [`inspect`]: the commands that put a backup on a
//!   device, compare a device with one, write one, and show one offline; [`clone`]: a
//!   device copied onto another through the restore engine, without files.

pub mod clone;
pub mod compare;
pub mod description;
pub mod dir;
pub mod dump;
pub mod identity;
pub mod inspect;
pub mod object;
pub mod report;
pub mod restore;
pub mod setup;
pub mod verify;

pub use dir::{Backup, BackupFile, Entry, FileState};
