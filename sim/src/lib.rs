#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

#[cfg(all(feature = "usb-gadget", target_os = "linux"))]
pub mod usb_gadget;
