#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod codec;
pub mod frame;
pub mod object;
pub mod secret;
pub mod shares;
mod wire;

pub use codec::{DecodeError, DecodeErrorKind, Reader, Writer};
pub use frame::{CommandCode, ErrorCode, FrameError};
pub use object::{
    Algorithm, Capabilities, Domains, Label, ObjectId, ObjectInfo, ObjectType, Origin, ParseError,
};
pub use secret::{SecretArray, SecretBytes};
