#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod attest;
pub mod clock;
mod cmd;
pub mod device;
pub mod fault;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod keys;
pub mod log;
pub mod session;
mod shared;
pub mod state;
pub mod store;
#[cfg(test)]
mod test_support;

#[cfg(all(feature = "usb-gadget", target_os = "linux"))]
pub mod usb_gadget;

pub use clock::{Clock, ManualClock, SystemClock};
pub use device::{Config, Device, Reply};
pub use fault::{Action, Fault, Trigger};
pub use shared::{OpenError, SharedDevice};
