//! The real bus: libusb through rusb (docs/PROTOCOL.md §1.1). Only the calls; the rules are in
//! `policy`. No call here resets a device.

use std::time::Duration;

use rusb::{Context, Device, DeviceHandle, UsbContext};

use super::policy::{
    CONFIGURATION, EP_IN, EP_OUT, Found, INTERFACE, LinkError, PID, SerialError, UsbBus, UsbLink,
    VID,
};
use crate::TransportError;

/// libusb treats a timeout of 0 ms as "wait forever"; never let a short timeout round
/// down to that.
fn millis_at_least_one(timeout: Duration) -> Duration {
    timeout.max(Duration::from_millis(1))
}

pub(crate) struct RusbBus {
    context: Context,
}

impl RusbBus {
    pub fn new() -> Result<Self, TransportError> {
        let context = Context::new().map_err(|e| TransportError::Usb {
            operation: "initialisation",
            // libusb fails here when the machine exposes no USB at all (a container
            // without /dev/bus/usb, for instance): say where to look, not just "Other".
            detail: format!(
                "{e}; libusb cannot use USB on this machine (is /dev/bus/usb present? in a \
                 container or VM, pass the YubiHSM 2 through, or use -c http://HOST:PORT \
                 with yubihsm-connector)"
            ),
            request_sent: false,
        })?;
        Ok(Self { context })
    }
}

fn usb_error(operation: &'static str, location: &str, e: rusb::Error) -> TransportError {
    match e {
        rusb::Error::Access => TransportError::PermissionDenied { device: location.to_owned() },
        rusb::Error::Busy => TransportError::Busy { device: location.to_owned() },
        rusb::Error::NoDevice => TransportError::Disconnected {
            detail: format!("the device at {location} disappeared during {operation}"),
            request_sent: false,
        },
        e => TransportError::Usb {
            operation,
            detail: format!("{e} ({location})"),
            request_sent: false,
        },
    }
}

impl UsbBus for RusbBus {
    type Device = Device<Context>;
    type Link = RusbLink;

    fn enumerate(&mut self) -> Result<Vec<Found<Self::Device>>, TransportError> {
        let devices = self.context.devices().map_err(|e| TransportError::Usb {
            operation: "device enumeration",
            detail: e.to_string(),
            request_sent: false,
        })?;
        let mut found = Vec::new();
        for dev in devices.iter() {
            // A device whose descriptor cannot be read is not one we can use anyway.
            let Ok(desc) = dev.device_descriptor() else { continue };
            if desc.vendor_id() != VID || desc.product_id() != PID {
                continue;
            }
            let serial = match dev.open() {
                Ok(handle) => handle
                    .read_serial_number_string_ascii(&desc)
                    .map_err(|e| SerialError::Unreadable(e.to_string())),
                Err(rusb::Error::Access) => Err(SerialError::PermissionDenied),
                // Being unplugged: listed for a moment more, but no longer usable.
                Err(rusb::Error::NoDevice) => continue,
                Err(e) => Err(SerialError::Unreadable(e.to_string())),
            };
            found.push(Found { bus: dev.bus_number(), address: dev.address(), serial, dev });
        }
        Ok(found)
    }

    fn open(&mut self, found: &Found<Self::Device>) -> Result<RusbLink, TransportError> {
        let location = found.location();
        let handle = found.dev.open().map_err(|e| usb_error("open", &location, e))?;
        // Configuration 1 is normally active already; setting it again would disturb a
        // device another program uses, so only set it when it is not.
        if handle.active_configuration().ok() != Some(CONFIGURATION) {
            handle
                .set_active_configuration(CONFIGURATION)
                .map_err(|e| usb_error("set configuration", &location, e))?;
        }
        // NotSupported on platforms without kernel drivers to detach: nothing to do.
        if handle.kernel_driver_active(INTERFACE).unwrap_or(false) {
            handle
                .detach_kernel_driver(INTERFACE)
                .map_err(|e| usb_error("kernel driver detach", &location, e))?;
        }
        handle
            .claim_interface(INTERFACE)
            .map_err(|e| usb_error("claim interface", &location, e))?;
        Ok(RusbLink { handle })
    }
}

pub(crate) struct RusbLink {
    handle: DeviceHandle<Context>,
}

fn link_error(e: rusb::Error) -> LinkError {
    match e {
        rusb::Error::Timeout => LinkError::Timeout,
        rusb::Error::NoDevice => LinkError::Gone,
        rusb::Error::Overflow => LinkError::Overflow,
        e => LinkError::Other(e.to_string()),
    }
}

impl UsbLink for RusbLink {
    fn bulk_out(&mut self, data: &[u8], timeout: Duration) -> Result<usize, LinkError> {
        self.handle.write_bulk(EP_OUT, data, millis_at_least_one(timeout)).map_err(link_error)
    }

    fn bulk_in(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError> {
        self.handle.read_bulk(EP_IN, buf, millis_at_least_one(timeout)).map_err(link_error)
    }
}

impl Drop for RusbLink {
    fn drop(&mut self) {
        // Closing the handle releases the interface too; releasing first is tidier for
        // the next claimant. A failure here leaves nothing to do.
        let _released = self.handle.release_interface(INTERFACE);
    }
}
