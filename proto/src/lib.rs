#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(any(test, feature = "ct-audit"))]
extern crate std;

pub mod codec;
pub mod command;
pub mod frame;
#[cfg(any(all(test, feature = "p256"), feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod object;
pub mod proof;
pub mod scp03;
pub mod secret;
pub mod shares;
mod wire;
pub mod wrap;

pub use codec::{DecodeError, DecodeErrorKind, Reader, Writer};
pub use frame::{CommandCode, ErrorCode, FrameError};
pub use object::{
    Algorithm, Capabilities, Domains, Label, ObjectId, ObjectInfo, ObjectType, Origin, ParseError,
};
#[cfg(feature = "p256")]
pub use scp03::AsymmetricClientHandshake;
pub use scp03::{
    ClientHandshake, ClientSession, DeviceSession, SessionError, SessionKeys, StaticKeys,
};
pub use secret::{SecretArray, SecretBytes};
