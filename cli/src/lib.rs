#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod backup;
pub mod error;
pub mod files;
pub mod inspect;
pub mod json;
pub mod options;
pub mod password;
pub mod prompt;
pub mod restore;
pub mod rng;
pub mod shares;
pub mod text;
pub mod verify;
pub mod wrap;
pub mod wrapkey;

pub use error::{Error, ErrorKind, Result};
pub use options::GlobalOptions;
