//! The bytes FunctionFS wants on `ep0` (descriptor and string blobs) and the events it
//! gives back, for the device shape of docs/PROTOCOL.md §1.1 "USB": one vendor-specific
//! interface with bulk OUT 0x01 and bulk IN 0x81, 64-byte packets at full speed.
//!
//! Layouts follow the kernel's `include/uapi/linux/usb/functionfs.h` (all numbers
//! little-endian, unlike the YubiHSM wire) and USB 2.0 chapter 9 for the descriptors.
//!
//! Endpoint numbers in FunctionFS descriptors are the function's own (the n-th endpoint
//! descriptor is number n); the UDC's autoconfig replaces them with hardware endpoints, and
//! the host sees those. Declaring OUT first gets the first free bulk OUT and IN endpoints,
//! which is 0x01 / 0x81 on common UDCs. (`FUNCTIONFS_VIRTUAL_ADDR` would keep our numbers,
//! but Linux 6.1 then fails to enable an endpoint whose hardware number differs.) On
//! dummy_hcd the first bulk OUT endpoint is number 2: see [`reservation_descriptors`].

use core::fmt;

/// Bulk OUT endpoint address the host sees (host to device).
pub const EP_OUT: u8 = 0x01;
/// Bulk IN endpoint address the host sees (device to host).
pub const EP_IN: u8 = 0x81;
/// Bulk max packet size at full speed, the speed of the real device.
pub const FULL_SPEED_MAX_PACKET: u16 = 64;
/// Bulk max packet size at high speed (USB 2.0 §5.8.3 allows only 512), for UDCs that
/// cannot be held at full speed.
pub const HIGH_SPEED_MAX_PACKET: u16 = 512;
/// Bulk max packet size at super speed.
pub const SUPER_SPEED_MAX_PACKET: u16 = 1024;

/// `FUNCTIONFS_DESCRIPTORS_MAGIC_V2`.
const DESCRIPTORS_MAGIC_V2: u32 = 3;
/// `FUNCTIONFS_STRINGS_MAGIC`.
const STRINGS_MAGIC: u32 = 2;
/// `FUNCTIONFS_HAS_FS_DESC`.
const HAS_FS_DESC: u32 = 1;
/// `FUNCTIONFS_HAS_HS_DESC`.
const HAS_HS_DESC: u32 = 2;

const DT_INTERFACE: u8 = 4;
const DT_ENDPOINT: u8 = 5;
const INTERFACE_LEN: u8 = 9;
const ENDPOINT_LEN: u8 = 7;
const TRANSFER_BULK: u8 = 2;
/// Vendor-specific interface class. (unverified: taken to match the real device, whose
/// interface no standard class driver claims.)
const CLASS_VENDOR: u8 = 0xff;

/// The function-local addresses: OUT is endpoint 1, IN endpoint 2 (descriptor order).
const LOCAL_EP_OUT: u8 = 0x01;
const LOCAL_EP_IN: u8 = 0x82;
/// Name of the endpoint file FunctionFS creates for the OUT endpoint (the first one).
pub const EP_OUT_FILE: &str = "ep1";
/// Name of the endpoint file FunctionFS creates for the IN endpoint (the second one).
pub const EP_IN_FILE: &str = "ep2";

/// Little-endian appends; the protocol's [`yhsm_proto::Writer`] is big-endian.
#[derive(Debug, Default)]
struct LeWriter {
    buf: Vec<u8>,
}

impl LeWriter {
    fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// The buffer with the `u32` at offset 4 (every FunctionFS blob's `length`) patched to
    /// the total length.
    fn finish_with_length(mut self) -> Vec<u8> {
        let len = u32::try_from(self.buf.len()).unwrap_or(u32::MAX).to_le_bytes();
        if let Some(field) = self.buf.get_mut(4..8) {
            field.copy_from_slice(&len);
        }
        self.buf
    }
}

/// Appends one speed's descriptor set: the interface and its two bulk endpoints.
fn descriptor_set(w: &mut LeWriter, max_packet: u16) {
    w.u8(INTERFACE_LEN).u8(DT_INTERFACE);
    // bInterfaceNumber (function-local; composite renumbers), bAlternateSetting,
    // bNumEndpoints, class, subclass, protocol, iInterface (no string).
    w.u8(0).u8(0).u8(2).u8(CLASS_VENDOR).u8(0).u8(0).u8(0);
    for address in [LOCAL_EP_OUT, LOCAL_EP_IN] {
        bulk_endpoint(w, address, max_packet);
    }
}

fn bulk_endpoint(w: &mut LeWriter, address: u8, max_packet: u16) {
    w.u8(ENDPOINT_LEN).u8(DT_ENDPOINT).u8(address).u8(TRANSFER_BULK);
    w.u16(max_packet).u8(0);
}

/// Descriptors per speed in [`descriptor_set`].
const DESCRIPTORS_PER_SET: u32 = 3;

/// The v2 descriptors blob written first to `ep0`: full-speed (64-byte bulk) and
/// high-speed (512-byte bulk) sets.
pub fn functionfs_descriptors() -> Vec<u8> {
    let mut w = LeWriter::default();
    w.u32(DESCRIPTORS_MAGIC_V2).u32(0).u32(HAS_FS_DESC | HAS_HS_DESC);
    w.u32(DESCRIPTORS_PER_SET).u32(DESCRIPTORS_PER_SET);
    descriptor_set(&mut w, FULL_SPEED_MAX_PACKET);
    descriptor_set(&mut w, HIGH_SPEED_MAX_PACKET);
    w.finish_with_length()
}

/// The descriptors of an endpoint-reservation function: `count` bulk OUT endpoints, no
/// interface, high-speed descriptors only.
///
/// Why: dummy_hcd (the test UDC) lists its bulk OUT endpoints as 2, 7, 12 and only then 1,
/// so the YubiHSM function alone would get OUT 0x02, and clients address 0x01. Bound first
/// in the same configuration, this function claims those three. It is invisible to the
/// host at full speed, where the gadget runs: a configuration descriptor holds only
/// full-speed descriptors then, and the function has no interface to number.
pub fn reservation_descriptors(count: u8) -> Vec<u8> {
    let mut w = LeWriter::default();
    w.u32(DESCRIPTORS_MAGIC_V2).u32(0).u32(HAS_HS_DESC).u32(u32::from(count));
    for number in 1..=count {
        bulk_endpoint(&mut w, number, HIGH_SPEED_MAX_PACKET);
    }
    w.finish_with_length()
}

/// The strings blob written second to `ep0`. The function has no strings of its own (the
/// device strings live in configfs); FunctionFS accepts zero strings only together with
/// zero languages.
pub fn functionfs_strings() -> Vec<u8> {
    let mut w = LeWriter::default();
    w.u32(STRINGS_MAGIC).u32(0).u32(0).u32(0);
    w.finish_with_length()
}

/// The bulk max packet size for a UDC's `current_speed` sysfs value; a response whose
/// length is a multiple of it needs a zero-length packet after it.
pub fn max_packet_for_speed(current_speed: &str) -> u16 {
    match current_speed.trim() {
        "high-speed" => HIGH_SPEED_MAX_PACKET,
        s if s.starts_with("super-speed") => SUPER_SPEED_MAX_PACKET,
        _ => FULL_SPEED_MAX_PACKET,
    }
}

/// Size of one `struct usb_functionfs_event` read from `ep0`.
pub const EVENT_LEN: usize = 12;

/// A control request (USB 2.0 §9.3) that FunctionFS forwards to the function.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SetupRequest {
    pub request_type: u8,
    pub request: u8,
    pub value: u16,
    pub index: u16,
    pub length: u16,
}

impl SetupRequest {
    /// Whether the data stage goes device to host (`bmRequestType` bit 7).
    pub const fn is_in(self) -> bool {
        self.request_type & 0x80 != 0
    }
}

impl fmt::Debug for SetupRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SetupRequest {{ type: {:#04x}, request: {:#04x}, value: {:#06x}, index: {:#06x}, \
             length: {} }}",
            self.request_type, self.request, self.value, self.index, self.length
        )
    }
}

/// An event read from `ep0` (`enum usb_functionfs_event_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The function was bound to a UDC (the gadget got its UDC).
    Bind,
    /// The function was unbound: the gadget is gone from the bus for good.
    Unbind,
    /// The host selected the configuration: endpoints are enabled.
    Enable,
    /// Endpoints disabled (bus reset, host unconfigured or disconnect); pending
    /// transfers were cancelled.
    Disable,
    /// A control request addressed to our interface or endpoints.
    Setup(SetupRequest),
    /// The bus was suspended.
    Suspend,
    /// The bus resumed.
    Resume,
    /// A type this code does not know (a newer kernel).
    Unknown(u8),
}

impl Event {
    /// Decodes one event: the 8-byte setup packet (little-endian fields), the type byte and
    /// 3 padding bytes.
    pub fn parse(raw: &[u8; EVENT_LEN]) -> Self {
        let le16 = |i: usize| u16::from_le_bytes([raw[i], raw[i + 1]]);
        match raw[8] {
            0 => Self::Bind,
            1 => Self::Unbind,
            2 => Self::Enable,
            3 => Self::Disable,
            4 => Self::Setup(SetupRequest {
                request_type: raw[0],
                request: raw[1],
                value: le16(2),
                index: le16(4),
                length: le16(6),
            }),
            5 => Self::Suspend,
            6 => Self::Resume,
            other => Self::Unknown(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian reader for checking blobs independently of the writer.
    struct Le<'a>(&'a [u8]);

    impl Le<'_> {
        fn u8(&mut self) -> u8 {
            let (h, t) = self.0.split_first().expect("truncated");
            self.0 = t;
            *h
        }
        fn u16(&mut self) -> u16 {
            u16::from(self.u8()) | u16::from(self.u8()) << 8
        }
        fn u32(&mut self) -> u32 {
            u32::from(self.u16()) | u32::from(self.u16()) << 16
        }
    }

    /// Walks one speed's set and returns (interface fields, [(address, attributes, max packet)]).
    fn read_set(r: &mut Le<'_>, count: u32) -> (Vec<u8>, Vec<(u8, u8, u16)>) {
        let mut interface = Vec::new();
        let mut endpoints = Vec::new();
        for _ in 0..count {
            let len = r.u8();
            match r.u8() {
                DT_INTERFACE => {
                    assert_eq!(len, 9);
                    interface = (0..7).map(|_| r.u8()).collect();
                }
                DT_ENDPOINT => {
                    assert_eq!(len, 7);
                    let (address, attributes, max_packet) = (r.u8(), r.u8(), r.u16());
                    assert_eq!(r.u8(), 0, "bInterval of a bulk endpoint");
                    endpoints.push((address, attributes, max_packet));
                }
                other => panic!("unexpected descriptor type {other}"),
            }
        }
        (interface, endpoints)
    }

    #[test]
    fn descriptors_declare_bulk_out_then_in_with_64_byte_packets_at_full_speed() {
        let blob = functionfs_descriptors();
        let mut r = Le(&blob);
        assert_eq!(r.u32(), 3, "v2 magic");
        assert_eq!(r.u32() as usize, blob.len(), "length field");
        assert_eq!(r.u32(), 1 | 2, "flags: FS, HS");
        let (fs_count, hs_count) = (r.u32(), r.u32());
        let (fs_if, fs_eps) = read_set(&mut r, fs_count);
        let (hs_if, hs_eps) = read_set(&mut r, hs_count);
        assert!(r.0.is_empty(), "trailing bytes");

        // One interface, two endpoints, vendor class, both speeds alike but for packet size.
        assert_eq!(fs_if, [0, 0, 2, 0xff, 0, 0, 0]);
        assert_eq!(hs_if, fs_if);
        // FunctionFS numbers endpoints by position: OUT is 1, IN is 2 (hardware picks 0x81).
        assert_eq!(fs_eps, [(0x01, 2, 64), (0x82, 2, 64)]);
        assert_eq!(hs_eps, [(0x01, 2, 512), (0x82, 2, 512)]);
    }

    #[test]
    fn reservation_declares_only_high_speed_bulk_out_endpoints() {
        let blob = reservation_descriptors(3);
        let mut r = Le(&blob);
        assert_eq!((r.u32(), r.u32() as usize, r.u32()), (3, blob.len(), 2));
        let count = r.u32();
        let (interface, eps) = read_set(&mut r, count);
        assert!(r.0.is_empty(), "trailing bytes");
        assert!(interface.is_empty(), "no interface");
        assert_eq!(eps, [(0x01, 2, 512), (0x02, 2, 512), (0x03, 2, 512)]);
    }

    #[test]
    fn strings_blob_without_strings_has_no_language() {
        let blob = functionfs_strings();
        let mut r = Le(&blob);
        assert_eq!((r.u32(), r.u32(), r.u32(), r.u32()), (2, 16, 0, 0));
        assert!(r.0.is_empty());
    }

    #[test]
    fn parses_every_event_type() {
        let mut raw = [0u8; EVENT_LEN];
        let expected = [
            Event::Bind,
            Event::Unbind,
            Event::Enable,
            Event::Disable,
            Event::Setup(SetupRequest {
                request_type: 0,
                request: 0,
                value: 0,
                index: 0,
                length: 0,
            }),
            Event::Suspend,
            Event::Resume,
            Event::Unknown(7),
        ];
        for (ty, want) in (0u8..).zip(expected) {
            raw[8] = ty;
            assert_eq!(Event::parse(&raw), want, "type {ty}");
        }
    }

    #[test]
    fn parses_setup_fields_little_endian() {
        // GET_DESCRIPTOR-like IN request to interface 0: value 0x2200, index 0x0001, len 0x0040.
        let raw = [0x81, 0x06, 0x00, 0x22, 0x01, 0x00, 0x40, 0x00, 4, 0, 0, 0];
        let Event::Setup(setup) = Event::parse(&raw) else { panic!("not a setup event") };
        assert_eq!(
            setup,
            SetupRequest { request_type: 0x81, request: 6, value: 0x2200, index: 1, length: 64 }
        );
        assert!(setup.is_in());
        let out = SetupRequest { request_type: 0x41, ..setup };
        assert!(!out.is_in());
    }

    #[test]
    fn max_packet_follows_the_udc_speed() {
        assert_eq!(max_packet_for_speed("full-speed\n"), 64);
        assert_eq!(max_packet_for_speed("high-speed\n"), 512);
        assert_eq!(max_packet_for_speed("super-speed-plus\n"), 1024);
        assert_eq!(max_packet_for_speed("UNKNOWN\n"), 64);
    }
}
