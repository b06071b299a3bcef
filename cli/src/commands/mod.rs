//! Each command's glue: one small function per command that calls the library (which does
//! the work) and prints what it returns, as [`crate::run`] dispatches to them. The
//! terminal they print on and prompt at is [`terminal`].

pub mod admin;
pub mod clone;
pub mod dump;
pub mod info;
pub mod inspect;
pub mod list;
pub mod raw;
pub mod restore;
pub mod setup;
pub mod shares;
#[cfg(feature = "sim")]
pub mod sim;
pub mod terminal;
pub mod verify;
pub mod wrap;
