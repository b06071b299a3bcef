//! Direct USB access to a YubiHSM 2 (docs/PROTOCOL.md §1.1), through libusb.
//!
//! [`UsbTransport::open`] finds the device (`yhusb://` or `yhusb://serial=N`), opens it,
//! and [`Transport::exchange`] then writes one request and reads one response. The rules
//! (selection, zero-length packets, the flush read, the retry after an I/O error, no
//! device reset ever) live in `policy` and are tested there without hardware.

mod policy;
mod rusb_bus;

use std::time::Duration;

use crate::{Timeouts, Transport, TransportError};
use policy::{SerialError, UsbBus, UsbSession};
use rusb_bus::RusbBus;

/// How to talk to a USB device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsbOptions {
    /// Limit for each bulk transfer of an exchange (write, then read).
    pub timeout: Duration,
    /// After an I/O error, close the device, reopen the same serial and try once more,
    /// as libyubihsm does. The retried request may run twice on the device if the first
    /// attempt failed after the device received it; a session layer detects that (its
    /// MAC chain no longer matches).
    pub retry_once: bool,
}

impl UsbOptions {
    /// The exchange timeout from `timeouts`, with the retry on.
    pub fn new(timeouts: Timeouts) -> Self {
        Self { timeout: timeouts.exchange, retry_once: true }
    }
}

impl Default for UsbOptions {
    fn default() -> Self {
        Self::new(Timeouts::default())
    }
}

/// A YubiHSM 2 opened on USB.
#[derive(Debug)]
pub struct UsbTransport {
    session: UsbSession<RusbBus>,
}

impl UsbTransport {
    /// Opens the device with decimal serial `serial`, or the only attached device.
    ///
    /// Fails with [`TransportError::SeveralDevices`] (listing the serials) when no serial
    /// is given and several devices are attached, [`TransportError::PermissionDenied`]
    /// when the udev rule is missing, [`TransportError::Busy`] when another program holds
    /// the device.
    pub fn open(serial: Option<u32>, options: UsbOptions) -> Result<Self, TransportError> {
        let session =
            UsbSession::open(RusbBus::new()?, serial, options.timeout, options.retry_once)?;
        Ok(Self { session })
    }

    /// The opened device's serial, when it reports a decimal one.
    pub fn serial(&self) -> Option<u32> {
        self.session.serial()
    }
}

impl Transport for UsbTransport {
    fn exchange(&mut self, request: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.session.exchange(request)
    }

    fn describe(&self) -> String {
        self.session.describe()
    }
}

/// One attached YubiHSM 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsbDeviceInfo {
    pub bus: u8,
    pub address: u8,
    /// The serial number string as the device reports it (decimal digits, maybe with
    /// leading zeros), or why it could not be read.
    pub serial: Result<String, TransportError>,
}

impl UsbDeviceInfo {
    /// The serial as a number, when the device reports decimal digits.
    pub fn serial_number(&self) -> Option<u32> {
        self.serial.as_deref().ok().and_then(crate::url::device_serial)
    }

    /// The URL that opens exactly this device, when its serial is known.
    pub fn url(&self) -> Option<crate::ConnectorUrl> {
        self.serial_number().map(|n| crate::ConnectorUrl::Usb { serial: Some(n) })
    }
}

/// Every attached YubiHSM 2 (USB 1050:0030), with its serial when it can be read.
/// Listing opens each device briefly to read its serial string; it claims nothing.
pub fn list_devices() -> Result<Vec<UsbDeviceInfo>, TransportError> {
    let mut bus = RusbBus::new()?;
    Ok(bus
        .enumerate()?
        .into_iter()
        .map(|f| {
            let device = f.location();
            let serial = f.serial.map_err(|e| match e {
                SerialError::PermissionDenied => TransportError::PermissionDenied { device },
                SerialError::Unreadable(detail) => TransportError::Usb {
                    operation: "read serial number",
                    detail: format!("{detail} ({device})"),
                    request_sent: false,
                },
            });
            UsbDeviceInfo { bus: f.bus, address: f.address, serial }
        })
        .collect())
}

/// The serials of every attached YubiHSM 2. Fails when one cannot be read (typically
/// [`TransportError::PermissionDenied`]) or is not decimal.
pub fn list_serials() -> Result<Vec<u32>, TransportError> {
    list_devices()?
        .into_iter()
        .map(|d| {
            let n = d.serial_number();
            let text = d.serial?;
            n.ok_or_else(|| TransportError::Usb {
                operation: "read serial number",
                detail: format!(
                    "USB bus {:03} device {:03} reports serial `{text}`, not decimal digits",
                    d.bus, d.address
                ),
                request_sent: false,
            })
        })
        .collect()
}
