#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod admin;
pub mod backup;
pub mod device;
pub mod error;
pub mod info;
pub mod list;
pub mod options;
pub mod raw;
#[cfg(feature = "sim")]
pub mod sim;
pub mod trace;
pub mod util;
pub mod wrap;
pub mod wrapkey;

pub use device::connect;
pub use error::{Error, ErrorKind, Result};
pub use options::GlobalOptions;
