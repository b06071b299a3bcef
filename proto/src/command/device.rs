//! Device-wide commands (docs/PROTOCOL.md §7.2 "Device-wide commands",
//! §4.5 "Asymmetric authentication"): echo, get-device-info and its part-number form,
//! get-storage-info, reset-device, close-session, get-pseudo-random, blink-device,
//! get-device-public-key.

use alloc::string::String;
use alloc::vec::Vec;

use super::{Command, Redact, Response, empty_request, empty_response};
use crate::codec::{DecodeError, Reader, Writer};
use crate::frame::{self, CommandCode};
use crate::object::Algorithm;
use crate::secret::SecretBytes;

/// ECHO (01): the device answers with the same bytes. Used as a session keep-alive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Echo {
    pub data: Vec<u8>,
}

/// The answer to [`Echo`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EchoResponse {
    pub data: Vec<u8>,
}

impl Command for Echo {
    const CODE: CommandCode = CommandCode::ECHO;
    const REPEATABLE: bool = true;
    const MUTATING: bool = false;
    type Response = EchoResponse;

    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.data);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self { data: data.to_vec() })
    }

    fn check_response(&self, response: &EchoResponse) -> Result<(), DecodeError> {
        if response.data == self.data {
            Ok(())
        } else {
            Err(DecodeError::invalid("echo response: data"))
        }
    }
}

impl Response for EchoResponse {
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.data);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self { data: data.to_vec() })
    }
}

empty_request! {
    /// GET_DEVICE_INFO (06) with empty data: firmware version, serial, log usage and
    /// algorithms. Sent unauthenticated, right after connecting, to learn the firmware
    /// version (and so the frame size limit).
    ///
    /// The same code with data `01` is [`GetPartNumber`]; a device side tells the two
    /// apart by trying both decoders.
    GetDeviceInfo, GET_DEVICE_INFO, DeviceInfo, "get-device-info",
    repeatable: true, mutating: false
}

/// The answer to [`GetDeviceInfo`]:
/// `major minor patch serial(4) log_total log_used algorithms[...]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Firmware version (major, minor, patch).
    pub version: (u8, u8, u8),
    pub serial: u32,
    /// Capacity of the log store (62 on a YubiHSM 2).
    pub log_total: u8,
    /// Log entries currently held.
    pub log_used: u8,
    /// Algorithms the firmware supports, in the device's order.
    pub algorithms: Vec<Algorithm>,
}

impl DeviceInfo {
    /// The largest whole frame this firmware accepts.
    pub fn max_frame_len(&self) -> usize {
        frame::max_frame_len(self.version)
    }

    /// Whether the firmware answers [`GetPartNumber`] (2.4 and later).
    pub fn has_part_number(&self) -> bool {
        (self.version.0, self.version.1) >= (2, 4)
    }
}

impl Response for DeviceInfo {
    fn encode(&self, w: &mut Writer) {
        let (major, minor, patch) = self.version;
        w.u8(major).u8(minor).u8(patch).u32(self.serial).u8(self.log_total).u8(self.log_used);
        for a in &self.algorithms {
            w.u8(a.0);
        }
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let major = r.u8("get-device-info response: major version")?;
        let minor = r.u8("get-device-info response: minor version")?;
        let patch = r.u8("get-device-info response: patch version")?;
        let serial = r.u32("get-device-info response: serial")?;
        let log_total = r.u8("get-device-info response: log total")?;
        let log_used = r.u8("get-device-info response: log used")?;
        let algorithms = r.rest().iter().map(|&a| Algorithm(a)).collect();
        Ok(Self { version: (major, minor, patch), serial, log_total, log_used, algorithms })
    }
}

/// GET_DEVICE_INFO (06) with data `01`: the part number (firmware 2.4 and later; older
/// firmware answers with an error).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GetPartNumber;

impl GetPartNumber {
    /// The data byte that selects the part-number page.
    pub const PAGE: u8 = 0x01;
}

impl Command for GetPartNumber {
    const CODE: CommandCode = CommandCode::GET_DEVICE_INFO;
    const REPEATABLE: bool = true;
    const MUTATING: bool = false;
    type Response = PartNumber;

    fn encode(&self, w: &mut Writer) {
        w.u8(Self::PAGE);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        if r.u8("get-device-info (part number): page")? != Self::PAGE {
            return Err(DecodeError::invalid("get-device-info (part number): page"));
        }
        r.finish("get-device-info (part number)")?;
        Ok(Self)
    }
}

/// The answer to [`GetPartNumber`]: the part number as UTF-8 text, e.g. `YHSM2-SIM`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartNumber(pub String);

impl Response for PartNumber {
    fn encode(&self, w: &mut Writer) {
        w.bytes(self.0.as_bytes());
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        core::str::from_utf8(data)
            .map(|s| Self(s.into()))
            .map_err(|_| DecodeError::invalid("get-device-info (part number) response"))
    }
}

empty_request! {
    /// GET_STORAGE_INFO (41): how many records and pages are free.
    GetStorageInfo, GET_STORAGE_INFO, StorageInfo, "get-storage-info",
    repeatable: true, mutating: false
}

/// The answer to [`GetStorageInfo`]: five 16-bit counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StorageInfo {
    pub total_records: u16,
    pub free_records: u16,
    pub total_pages: u16,
    pub free_pages: u16,
    /// Bytes per page.
    pub page_size: u16,
}

impl Response for StorageInfo {
    fn encode(&self, w: &mut Writer) {
        w.u16(self.total_records)
            .u16(self.free_records)
            .u16(self.total_pages)
            .u16(self.free_pages)
            .u16(self.page_size);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let info = Self {
            total_records: r.u16("get-storage-info response: total records")?,
            free_records: r.u16("get-storage-info response: free records")?,
            total_pages: r.u16("get-storage-info response: total pages")?,
            free_pages: r.u16("get-storage-info response: free pages")?,
            page_size: r.u16("get-storage-info response: page size")?,
        };
        r.finish("get-storage-info response")?;
        Ok(info)
    }
}

empty_request! {
    /// RESET_DEVICE (08): factory reset. The device reboots; the connection may drop
    /// before the answer arrives.
    ResetDevice, RESET_DEVICE, ResetDeviceResponse, "reset-device",
    repeatable: false, mutating: true
}

empty_response! {
    /// The (empty) answer to [`ResetDevice`].
    ResetDeviceResponse, "reset-device"
}

empty_request! {
    /// CLOSE_SESSION (40), sent inside the session it closes.
    CloseSession, CLOSE_SESSION, CloseSessionResponse, "close-session",
    repeatable: false, mutating: false
}

empty_response! {
    /// The (empty) answer to [`CloseSession`].
    CloseSessionResponse, "close-session"
}

/// GET_PSEUDO_RANDOM (51): `len(2)` bytes from the device's random generator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GetPseudoRandom {
    pub len: u16,
}

/// The answer to [`GetPseudoRandom`]. Kept secret: the bytes may become a key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PseudoRandom {
    pub bytes: SecretBytes,
}

impl Command for GetPseudoRandom {
    const CODE: CommandCode = CommandCode::GET_PSEUDO_RANDOM;
    const REPEATABLE: bool = true;
    const MUTATING: bool = false;
    type Response = PseudoRandom;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.len);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let len = r.u16("get-pseudo-random: length")?;
        r.finish("get-pseudo-random")?;
        Ok(Self { len })
    }

    /// The device must return exactly the number of bytes asked for.
    fn check_response(&self, response: &PseudoRandom) -> Result<(), DecodeError> {
        if response.bytes.len() == usize::from(self.len) {
            Ok(())
        } else {
            Err(DecodeError::bad_length("get-pseudo-random response", response.bytes.len()))
        }
    }

    /// Random bytes often become a key.
    fn secret_in_response(_data: &[u8]) -> Redact {
        Redact::From(0)
    }
}

impl Response for PseudoRandom {
    fn encode(&self, w: &mut Writer) {
        w.bytes(self.bytes.expose_secret());
    }

    /// Any length parses; [`Command::check_response`] compares it with the request.
    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self { bytes: SecretBytes::from_slice(data) })
    }
}

/// BLINK_DEVICE (6b): blink the LED for `seconds`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlinkDevice {
    pub seconds: u8,
}

empty_response! {
    /// The (empty) answer to [`BlinkDevice`].
    BlinkDeviceResponse, "blink-device"
}

impl Command for BlinkDevice {
    const CODE: CommandCode = CommandCode::BLINK_DEVICE;
    const REPEATABLE: bool = true;
    const MUTATING: bool = false;
    type Response = BlinkDeviceResponse;

    fn encode(&self, w: &mut Writer) {
        w.u8(self.seconds);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let seconds = r.u8("blink-device: seconds")?;
        r.finish("blink-device")?;
        Ok(Self { seconds })
    }
}

empty_request! {
    /// GET_DEVICE_PUBLIC_KEY (0a, unauthenticated, firmware >= 2.3): the device's P-256 key
    /// for asymmetric authentication.
    GetDevicePublicKey, GET_DEVICE_PUBLIC_KEY, DevicePublicKey, "get-device-public-key",
    repeatable: true, mutating: false
}

/// The answer to [`GetDevicePublicKey`]: `49 || X(32) || Y(32)`. Any other algorithm byte
/// is rejected: asymmetric authentication is defined for P-256 only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DevicePublicKey {
    pub x: [u8; 32],
    pub y: [u8; 32],
}

impl DevicePublicKey {
    /// The algorithm byte the device sends.
    pub const ALGORITHM: Algorithm = Algorithm::ECP256_YUBICO_AUTHENTICATION;

    /// The SEC1 uncompressed encoding `04 || X || Y`.
    pub fn to_sec1_uncompressed(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[0] = 0x04;
        out[1..33].copy_from_slice(&self.x);
        out[33..].copy_from_slice(&self.y);
        out
    }
}

impl Response for DevicePublicKey {
    fn encode(&self, w: &mut Writer) {
        w.u8(Self::ALGORITHM.0).bytes(&self.x).bytes(&self.y);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        if Algorithm(r.u8("get-device-public-key response: algorithm")?) != Self::ALGORITHM {
            return Err(DecodeError::invalid("get-device-public-key response: algorithm"));
        }
        let x = r.array("get-device-public-key response: x")?;
        let y = r.array("get-device-public-key response: y")?;
        r.finish("get-device-public-key response")?;
        Ok(Self { x, y })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::DecodeErrorKind;

    #[test]
    fn device_info_knows_the_frame_limit_and_part_number_support() {
        let mut info = DeviceInfo {
            version: (2, 3, 1),
            serial: 1,
            log_total: 62,
            log_used: 0,
            algorithms: Vec::new(),
        };
        assert_eq!(info.max_frame_len(), frame::MAX_FRAME_LEN_PRE_2_4);
        assert!(!info.has_part_number());
        info.version = (2, 4, 0);
        assert_eq!(info.max_frame_len(), frame::MAX_FRAME_LEN);
        assert!(info.has_part_number());
    }

    #[test]
    fn get_device_info_and_part_number_share_a_code_but_not_a_decoder() {
        assert!(GetDeviceInfo::decode(&[]).is_ok());
        assert!(GetDeviceInfo::decode(&[1]).is_err());
        assert!(GetPartNumber::decode(&[1]).is_ok());
        assert!(GetPartNumber::decode(&[]).is_err());
        assert_eq!(
            GetPartNumber::decode(&[2]).unwrap_err().what,
            "get-device-info (part number): page"
        );
    }

    #[test]
    fn rejects_part_numbers_that_are_not_utf8() {
        assert_eq!(PartNumber::decode(b"YHSM2").unwrap().0, "YHSM2");
        assert!(PartNumber::decode(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn checks_the_length_of_random_bytes() {
        let req = GetPseudoRandom { len: 4 };
        assert!(req.check_response(&PseudoRandom::decode(&[1, 2, 3, 4]).unwrap()).is_ok());
        let err = req.check_response(&PseudoRandom::decode(&[1, 2, 3]).unwrap()).unwrap_err();
        assert_eq!(err.what, "get-pseudo-random response");
        assert_eq!(err.kind, DecodeErrorKind::BadLength { got: 3 });
    }

    #[test]
    fn rejects_a_device_key_of_another_algorithm() {
        let mut data = [0u8; 65];
        data[0] = 49;
        data[1] = 7;
        data[64] = 9;
        let key = DevicePublicKey::decode(&data).unwrap();
        assert_eq!(key.to_sec1_uncompressed()[..2], [4, 7]);
        assert_eq!(key.to_sec1_uncompressed()[64], 9);
        data[0] = 12;
        assert_eq!(
            DevicePublicKey::decode(&data).unwrap_err(),
            DecodeError::invalid("get-device-public-key response: algorithm")
        );
    }
}
