//! The USB exchange rules of docs/PROTOCOL.md §1.1, written against two small traits so they run
//! in tests without hardware: device selection by serial, one bulk write (plus a
//! zero-length packet after a multiple of 64 bytes), one bulk read into a buffer holding
//! a whole frame, the flush read after opening, and libyubihsm's retry rule (after an I/O
//! error: close, reopen the same serial, try once more). Nothing here resets a device:
//! the traits cannot even express it.

use std::time::Duration;

use yhsm_proto::frame::MAX_FRAME_LEN;

use crate::url::device_serial;
use crate::{TransportError, check_request, check_response};

/// Yubico's vendor id and the YubiHSM 2 product id.
pub(crate) const VID: u16 = 0x1050;
pub(crate) const PID: u16 = 0x0030;
pub(crate) const INTERFACE: u8 = 0;
pub(crate) const CONFIGURATION: u8 = 1;
pub(crate) const EP_OUT: u8 = 0x01;
pub(crate) const EP_IN: u8 = 0x81;
/// Full-speed bulk packet size: a transfer of a multiple of this needs a zero-length
/// packet to end it.
const MAX_PACKET: usize = 64;
/// A whole frame rounded up to whole packets, so a device sending too much shows up as a
/// too-long response rather than as a libusb overflow halfway through a packet.
pub(crate) const READ_BUF_LEN: usize = MAX_FRAME_LEN.div_ceil(MAX_PACKET) * MAX_PACKET;
const _: () = assert!(READ_BUF_LEN >= MAX_FRAME_LEN && READ_BUF_LEN.is_multiple_of(MAX_PACKET));
/// The flush read after opening: long enough to collect a stale response, short enough
/// not to be noticed (both Yubico clients use 1–10 ms).
pub(crate) const FLUSH_TIMEOUT: Duration = Duration::from_millis(10);

/// A failed bulk transfer, reduced to what the rules need to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LinkError {
    Timeout,
    /// The device is gone (unplugged, or reset by someone else).
    Gone,
    /// The device sent more than the buffer holds.
    Overflow,
    /// Any other I/O failure; the text is for the message.
    Other(String),
}

/// Why a device's serial number string could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SerialError {
    PermissionDenied,
    Unreadable(String),
}

/// A YubiHSM 2 seen on the bus.
#[derive(Clone, Debug)]
pub(crate) struct Found<D> {
    pub dev: D,
    pub bus: u8,
    pub address: u8,
    pub serial: Result<String, SerialError>,
}

impl<D> Found<D> {
    pub fn location(&self) -> String {
        format!("USB bus {:03} device {:03}", self.bus, self.address)
    }

    /// The serial as shown in lists: the device's own string, or why it is missing.
    fn serial_label(&self) -> String {
        match &self.serial {
            Ok(s) => s.clone(),
            Err(SerialError::PermissionDenied) => {
                format!("unknown at {} (permission denied)", self.location())
            }
            Err(SerialError::Unreadable(e)) => format!("unknown at {} ({e})", self.location()),
        }
    }
}

/// Enumerates and opens YubiHSM 2 devices.
pub(crate) trait UsbBus: Send {
    type Device;
    type Link: UsbLink;
    /// Every attached 1050:0030 device, with its serial number string when readable.
    fn enumerate(&mut self) -> Result<Vec<Found<Self::Device>>, TransportError>;
    /// Opens the device ready for bulk transfers: configuration 1, no kernel driver on
    /// interface 0, interface 0 claimed. Dropping the link releases and closes it.
    fn open(&mut self, found: &Found<Self::Device>) -> Result<Self::Link, TransportError>;
}

/// Bulk transfers on an opened device.
pub(crate) trait UsbLink: Send {
    /// Writes `data` to [`EP_OUT`] as one transfer; returns the bytes transferred.
    fn bulk_out(&mut self, data: &[u8], timeout: Duration) -> Result<usize, LinkError>;
    /// Reads one transfer from [`EP_IN`] (it ends with a short packet).
    fn bulk_in(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError>;
}

/// Picks the device a URL names (docs/PROTOCOL.md §1.1): with a serial, the device whose serial
/// string has that decimal value; without, the only attached device.
pub(crate) fn select<D>(
    found: Vec<Found<D>>,
    wanted: Option<u32>,
) -> Result<Found<D>, TransportError> {
    let Some(serial) = wanted else {
        if found.len() > 1 {
            return Err(TransportError::SeveralDevices {
                serials: found.iter().map(Found::serial_label).collect(),
            });
        }
        return found.into_iter().next().ok_or(TransportError::NoDevice);
    };
    if found.is_empty() {
        return Err(TransportError::NoDevice);
    }
    let mut attached = Vec::new();
    let mut denied = None;
    for f in found {
        match &f.serial {
            Ok(s) if device_serial(s) == Some(serial) => return Ok(f),
            Err(SerialError::PermissionDenied) => {
                denied.get_or_insert_with(|| f.location());
            }
            _ => {}
        }
        attached.push(f.serial_label());
    }
    // A device we may not read could be the one asked for: say how to get access.
    match denied {
        Some(device) => Err(TransportError::PermissionDenied { device }),
        None => Err(TransportError::SerialNotFound { serial, attached }),
    }
}

/// Where an attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Write,
    Read,
}

/// A failed attempt at one write+read.
#[derive(Debug)]
struct Failure {
    stage: Stage,
    error: LinkError,
}

impl Failure {
    /// Whether libyubihsm's rule reopens and retries: I/O errors yes; a timeout no (the
    /// device may still be working on a slow command, and sending it again would queue a
    /// second one); too much data no (the device answered, wrongly).
    fn retryable(&self) -> bool {
        matches!(self.error, LinkError::Gone | LinkError::Other(_))
    }

    /// A failed bulk write may still have delivered the whole frame (only the ZLP, or
    /// only the handshake of the last packet, failed), so every failure counts as sent.
    fn request_sent(&self) -> bool {
        true
    }

    fn operation(&self) -> &'static str {
        match self.stage {
            Stage::Write => "bulk write",
            Stage::Read => "bulk read",
        }
    }

    /// The device went away during this attempt: `device` names it.
    fn disconnected(&self, device: &str) -> TransportError {
        TransportError::Disconnected {
            detail: format!("{device} was disconnected during the {}", self.operation()),
            request_sent: self.request_sent(),
        }
    }

    fn into_error(self, timeout: Duration, device: &str) -> TransportError {
        let request_sent = self.request_sent();
        let operation = self.operation();
        match self.error {
            LinkError::Timeout => TransportError::Timeout { after: timeout, request_sent },
            LinkError::Gone => self.disconnected(device),
            LinkError::Overflow => TransportError::Malformed {
                what: format!("the device sent more than {READ_BUF_LEN} bytes"),
            },
            LinkError::Other(detail) => TransportError::Usb { operation, detail, request_sent },
        }
    }
}

/// One opened YubiHSM 2 and the rules for talking to it.
pub(crate) struct UsbSession<B: UsbBus> {
    bus: B,
    /// `None` after a failure; the next exchange reopens (and flushes) first.
    link: Option<B::Link>,
    /// The serial to reopen: the opened device's own when readable, so a reopen never
    /// switches to another device.
    target: Option<u32>,
    label: String,
    timeout: Duration,
    retry: bool,
    buf: Vec<u8>,
}

impl<B: UsbBus> std::fmt::Debug for UsbSession<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsbSession")
            .field("device", &self.label)
            .field("open", &self.link.is_some())
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl<B: UsbBus> UsbSession<B> {
    pub fn open(
        mut bus: B,
        wanted: Option<u32>,
        timeout: Duration,
        retry: bool,
    ) -> Result<Self, TransportError> {
        let found = select(bus.enumerate()?, wanted)?;
        let own = found.serial.as_ref().ok().and_then(|s| device_serial(s));
        let label = match (&found.serial, own) {
            (_, Some(n)) => format!("USB device serial {n}"),
            (Ok(s), None) => format!("USB device serial `{s}` at {}", found.location()),
            (Err(_), None) => format!("USB device at {}", found.location()),
        };
        let mut session = Self {
            link: None,
            target: own.or(wanted),
            label,
            timeout,
            retry,
            buf: vec![0; READ_BUF_LEN],
            bus,
        };
        session.attach(&found)?;
        Ok(session)
    }

    pub fn describe(&self) -> String {
        self.label.clone()
    }

    pub fn serial(&self) -> Option<u32> {
        self.target
    }

    fn attach(&mut self, found: &Found<B::Device>) -> Result<(), TransportError> {
        let mut link = self.bus.open(found)?;
        // Discard a response a previous program left behind; a timeout is the usual answer.
        let _stale = link.bulk_in(&mut self.buf, FLUSH_TIMEOUT);
        self.link = Some(link);
        Ok(())
    }

    /// After an earlier failure dropped the link: a device that can no longer be found
    /// (or is half gone, its serial unreadable) was unplugged; say so in one line rather
    /// than with the list of devices left.
    fn gone_or(&self, e: TransportError) -> TransportError {
        match e {
            TransportError::NoDevice | TransportError::SerialNotFound { .. } => {
                TransportError::Disconnected {
                    detail: format!("{} was disconnected", self.label),
                    request_sent: false,
                }
            }
            e => e,
        }
    }

    fn reopen(&mut self) -> Result<(), TransportError> {
        self.link = None;
        let found = select(self.bus.enumerate()?, self.target)?;
        self.attach(&found)
    }

    pub fn exchange(&mut self, request: &[u8]) -> Result<Vec<u8>, TransportError> {
        check_request(request)?;
        if self.link.is_none() {
            self.reopen().map_err(|e| self.gone_or(e))?;
        }
        let first = match self.attempt(request) {
            Ok(response) => return self.finish(response),
            Err(f) => f,
        };
        if !(self.retry && first.retryable()) {
            return Err(first.into_error(self.timeout, &self.label));
        }
        if let Err(e) = self.reopen() {
            // Unplugged: libusb reports an I/O error mid-transfer, then the device is
            // missing (or half gone, its serial unreadable) when we look for it again.
            // Say that in one line instead of the I/O error and the list of devices left.
            if matches!(
                e,
                TransportError::NoDevice
                    | TransportError::SerialNotFound { .. }
                    | TransportError::Disconnected { .. }
            ) {
                return Err(first.disconnected(&self.label));
            }
            let request_sent = first.request_sent();
            let first = first.into_error(self.timeout, &self.label);
            return Err(TransportError::Disconnected {
                detail: format!("{first}; reopening the device failed: {e}"),
                request_sent,
            });
        }
        match self.attempt(request) {
            Ok(response) => self.finish(response),
            Err(second) => Err(second.into_error(self.timeout, &self.label)),
        }
    }

    fn finish(&mut self, response: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        if let Err(e) = check_response(&response) {
            // Out of step with the device: start afresh (and flush) next time.
            self.link = None;
            return Err(e);
        }
        Ok(response)
    }

    /// One write+read. On failure the link is dropped (closed).
    fn attempt(&mut self, request: &[u8]) -> Result<Vec<u8>, Failure> {
        let result = self.write_read(request);
        if result.is_err() {
            self.link = None;
        }
        result
    }

    fn write_read(&mut self, request: &[u8]) -> Result<Vec<u8>, Failure> {
        let write = |error| Failure { stage: Stage::Write, error };
        let Some(link) = self.link.as_mut() else {
            return Err(write(LinkError::Other("device not open".to_owned())));
        };
        let n = link.bulk_out(request, self.timeout).map_err(write)?;
        if n != request.len() {
            return Err(write(LinkError::Other(format!(
                "only {n} of {} bytes written",
                request.len()
            ))));
        }
        if request.len().is_multiple_of(MAX_PACKET) {
            link.bulk_out(&[], self.timeout).map_err(write)?;
        }
        let n = link
            .bulk_in(&mut self.buf, self.timeout)
            .map_err(|error| Failure { stage: Stage::Read, error })?;
        Ok(self.buf.get(..n).unwrap_or(&self.buf).to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    /// What the fake does for the next transfer that is not a flush read.
    #[derive(Clone, Debug)]
    enum Step {
        Out(Result<usize, LinkError>),
        In(Result<Vec<u8>, LinkError>),
    }

    #[derive(Default)]
    struct Shared {
        log: Vec<String>,
        script: VecDeque<Step>,
        /// The serial string (or error) of each device on the bus; a device answers
        /// every request with its index.
        devices: Vec<Result<String, SerialError>>,
        open_error: Option<TransportError>,
    }

    #[derive(Clone, Default)]
    struct FakeBus(Arc<Mutex<Shared>>);

    struct FakeLink {
        shared: Arc<Mutex<Shared>>,
        index: usize,
    }

    impl FakeBus {
        fn with_devices(devices: &[Result<&str, SerialError>]) -> Self {
            let bus = Self::default();
            bus.0.lock().unwrap().devices =
                devices.iter().map(|d| d.clone().map(str::to_owned)).collect();
            bus
        }
        fn script(&self, steps: &[Step]) {
            self.0.lock().unwrap().script.extend(steps.iter().cloned());
        }
        fn log(&self) -> Vec<String> {
            self.0.lock().unwrap().log.clone()
        }
    }

    impl UsbBus for FakeBus {
        type Device = usize;
        type Link = FakeLink;
        fn enumerate(&mut self) -> Result<Vec<Found<usize>>, TransportError> {
            let mut s = self.0.lock().unwrap();
            s.log.push("enumerate".into());
            Ok(s.devices
                .iter()
                .enumerate()
                .map(|(i, serial)| Found {
                    dev: i,
                    bus: 1,
                    address: u8::try_from(i + 2).unwrap(),
                    serial: serial.clone(),
                })
                .collect())
        }
        fn open(&mut self, found: &Found<usize>) -> Result<FakeLink, TransportError> {
            let mut s = self.0.lock().unwrap();
            s.log.push(format!("open {}", found.dev));
            if let Some(e) = s.open_error.clone() {
                return Err(e);
            }
            Ok(FakeLink { shared: self.0.clone(), index: found.dev })
        }
    }

    impl UsbLink for FakeLink {
        fn bulk_out(&mut self, data: &[u8], _: Duration) -> Result<usize, LinkError> {
            let mut s = self.shared.lock().unwrap();
            s.log.push(format!("out {}", data.len()));
            match s.script.pop_front() {
                Some(Step::Out(r)) => r,
                Some(other) => {
                    s.script.push_front(other);
                    Ok(data.len())
                }
                None => Ok(data.len()),
            }
        }
        fn bulk_in(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError> {
            let mut s = self.shared.lock().unwrap();
            if timeout == FLUSH_TIMEOUT {
                s.log.push("flush".into());
                return Err(LinkError::Timeout);
            }
            s.log.push(format!("in {}", buf.len()));
            let answer = match s.script.pop_front() {
                Some(Step::In(r)) => r,
                _ => Ok(vec![0x81, 0, 1, u8::try_from(self.index).unwrap()]),
            }?;
            buf[..answer.len()].copy_from_slice(&answer);
            Ok(answer.len())
        }
    }

    impl Drop for FakeLink {
        fn drop(&mut self) {
            self.shared.lock().unwrap().log.push(format!("close {}", self.index));
        }
    }

    const T: Duration = Duration::from_secs(5);
    const ECHO: [u8; 4] = [0x01, 0, 1, 0xaa];

    fn open(bus: &FakeBus, wanted: Option<u32>) -> UsbSession<FakeBus> {
        UsbSession::open(bus.clone(), wanted, T, true).unwrap()
    }

    fn io(msg: &str) -> LinkError {
        LinkError::Other(msg.into())
    }

    #[test]
    fn opens_flushes_writes_once_and_reads_a_whole_frame() {
        let bus = FakeBus::with_devices(&[Ok("0012345678")]);
        let mut s = open(&bus, None);
        assert_eq!(s.describe(), "USB device serial 12345678");
        assert_eq!(s.exchange(&ECHO).unwrap(), [0x81, 0, 1, 0]);
        assert_eq!(bus.log(), ["enumerate", "open 0", "flush", "out 4", "in 3200"]);
    }

    #[test]
    fn sends_a_zero_length_packet_after_a_multiple_of_64_bytes() {
        let bus = FakeBus::with_devices(&[Ok("1")]);
        let mut s = open(&bus, None);
        for len in [61usize, 64 - 3, 128 - 3, 63] {
            let mut req = vec![0x01];
            req.extend(u16::try_from(len).unwrap().to_be_bytes());
            req.resize(3 + len, 0);
            s.exchange(&req).unwrap();
        }
        let outs: Vec<_> = bus.log().into_iter().filter(|l| l.starts_with("out")).collect();
        assert_eq!(outs, ["out 64", "out 0", "out 64", "out 0", "out 128", "out 0", "out 66"]);
    }

    #[test]
    fn reopens_the_same_serial_and_retries_once_after_an_io_error() {
        let bus = FakeBus::with_devices(&[Ok("5"), Ok("7")]);
        let mut s = open(&bus, Some(7));
        bus.script(&[Step::In(Err(io("LIBUSB_ERROR_IO")))]);
        // The bus order changes between the two enumerations: the reopen must still find 7.
        bus.0.lock().unwrap().devices.reverse();
        assert_eq!(s.exchange(&ECHO).unwrap(), [0x81, 0, 1, 0]);
        assert_eq!(
            bus.log(),
            [
                "enumerate",
                "open 1",
                "flush", // serial 7 was second
                "out 4",
                "in 3200",
                "close 1", // the failure closes the device
                "enumerate",
                "open 0",
                "flush", // serial 7 is now first
                "out 4",
                "in 3200",
            ]
        );
    }

    #[test]
    fn retries_a_failed_write_too() {
        let bus = FakeBus::with_devices(&[Ok("5")]);
        let mut s = open(&bus, None);
        bus.script(&[Step::Out(Err(LinkError::Gone))]);
        s.exchange(&ECHO).unwrap();
        let log = bus.log();
        assert_eq!(log.iter().filter(|l| l.starts_with("open")).count(), 2);
        assert_eq!(log.iter().filter(|l| *l == "out 4").count(), 2);
    }

    #[test]
    fn fails_after_the_second_io_error_without_a_third_try() {
        let bus = FakeBus::with_devices(&[Ok("5")]);
        let mut s = open(&bus, None);
        bus.script(&[Step::In(Err(io("first"))), Step::In(Err(io("second")))]);
        let e = s.exchange(&ECHO).unwrap_err();
        assert_eq!(
            e,
            TransportError::Usb {
                operation: "bulk read",
                detail: "second".into(),
                request_sent: true
            }
        );
        assert!(e.request_may_have_been_delivered());
        let log = bus.log();
        assert_eq!(log.iter().filter(|l| l.starts_with("out")).count(), 2);
        assert_eq!(log.iter().filter(|l| l.starts_with("open")).count(), 2);
        assert!(log.iter().all(|l| !l.contains("reset")));
        // The next exchange opens afresh (and flushes) before writing.
        s.exchange(&ECHO).unwrap();
        assert_eq!(bus.log()[log.len()..], ["enumerate", "open 0", "flush", "out 4", "in 3200"]);
    }

    #[test]
    fn does_not_retry_when_disabled() {
        let bus = FakeBus::with_devices(&[Ok("5")]);
        let mut s = UsbSession::open(bus.clone(), None, T, false).unwrap();
        bus.script(&[Step::In(Err(io("boom")))]);
        assert!(matches!(s.exchange(&ECHO), Err(TransportError::Usb { .. })));
        assert_eq!(bus.log().iter().filter(|l| l.starts_with("out")).count(), 1);
    }

    #[test]
    fn does_not_retry_a_timeout() {
        let bus = FakeBus::with_devices(&[Ok("5")]);
        let mut s = open(&bus, None);
        bus.script(&[Step::In(Err(LinkError::Timeout))]);
        assert_eq!(
            s.exchange(&ECHO),
            Err(TransportError::Timeout { after: T, request_sent: true })
        );
        assert_eq!(bus.log().iter().filter(|l| l.starts_with("out")).count(), 1);
        // A late answer to the timed-out request must not be taken for the next one's:
        // the next exchange reopens and flushes first.
        s.exchange(&ECHO).unwrap();
        assert_eq!(bus.log()[5..], ["close 0", "enumerate", "open 0", "flush", "out 4", "in 3200"]);
    }

    #[test]
    fn reports_a_failed_reopen_as_disconnected() {
        let bus = FakeBus::with_devices(&[Ok("5")]);
        let mut s = open(&bus, None);
        bus.script(&[Step::In(Err(LinkError::Gone))]);
        bus.0.lock().unwrap().devices.clear();
        let e = s.exchange(&ECHO).unwrap_err();
        let TransportError::Disconnected { detail, request_sent: true } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(detail, "USB device serial 5 was disconnected during the bulk read");
        assert!(e.request_may_have_been_delivered());
    }

    #[test]
    fn reports_an_unplug_during_a_read_in_one_short_line() {
        // What libusb does on an unplug: an I/O error on the read, then the device is
        // still listed for a moment but its serial can no longer be read.
        let bus = FakeBus::with_devices(&[Ok("87654321"), Ok("12345678")]);
        let mut s = open(&bus, Some(87_654_321));
        bus.script(&[Step::In(Err(io("Input/Output Error")))]);
        bus.0.lock().unwrap().devices[0] =
            Err(SerialError::Unreadable("No such device (it may have been disconnected)".into()));
        let e = s.exchange(&ECHO).unwrap_err();
        assert_eq!(
            e.to_string(),
            "connection to the YubiHSM lost: USB device serial 87654321 was disconnected during \
             the bulk read (the request may have reached the device)"
        );
        // The next exchange (a client's repeat on a new session) finds it gone too.
        let e = s.exchange(&ECHO).unwrap_err();
        assert_eq!(
            e.to_string(),
            "connection to the YubiHSM lost: USB device serial 87654321 was disconnected"
        );
        assert!(!e.request_may_have_been_delivered());
        // A reopen that fails for another reason keeps both reasons.
        bus.0.lock().unwrap().devices[0] = Ok("87654321".into());
        s.exchange(&ECHO).unwrap();
        bus.script(&[Step::In(Err(io("Input/Output Error")))]);
        bus.0.lock().unwrap().open_error = Some(TransportError::Busy { device: "x".into() });
        let e = s.exchange(&ECHO).unwrap_err().to_string();
        assert!(e.contains("Input/Output Error; reopening the device failed"), "{e}");
        assert!(e.contains("in use by another program"), "{e}");
    }

    #[test]
    fn never_accepts_a_partial_response() {
        // rusb hands back the bytes that arrived before a read timed out as a success:
        // a response cut short must fail the length check, not pass as a frame.
        let bus = FakeBus::with_devices(&[Ok("5")]);
        let mut s = open(&bus, None);
        let mut whole = vec![0x81, 0x00, 0x64];
        whole.extend((0..100u8).collect::<Vec<_>>());
        for cut in [1, 2, 3, 64, 102] {
            bus.script(&[Step::In(Ok(whole[..cut].to_vec()))]);
            let e = s.exchange(&ECHO).unwrap_err();
            assert!(matches!(e, TransportError::Malformed { .. }), "{cut}: {e:?}");
            assert!(e.request_may_have_been_delivered());
        }
        // After each, the link was dropped: a late rest of the response is flushed before
        // the next request, never read as its answer.
        bus.script(&[Step::In(Ok(whole.clone()))]);
        assert_eq!(s.exchange(&ECHO).unwrap(), whole);
        let log = bus.log();
        assert_eq!(log.iter().filter(|l| *l == "flush").count(), 1 + 5);
    }

    #[test]
    fn rejects_malformed_responses_without_retrying() {
        let bus = FakeBus::with_devices(&[Ok("5")]);
        let mut s = open(&bus, None);
        bus.script(&[Step::In(Ok(vec![0x81, 0, 9, 1]))]);
        assert!(matches!(s.exchange(&ECHO), Err(TransportError::Malformed { .. })));
        bus.script(&[Step::In(Err(LinkError::Overflow))]);
        assert!(matches!(s.exchange(&ECHO), Err(TransportError::Malformed { .. })));
        bus.script(&[Step::In(Ok(vec![]))]);
        assert!(matches!(s.exchange(&ECHO), Err(TransportError::Malformed { .. })));
        assert_eq!(bus.log().iter().filter(|l| l.starts_with("out")).count(), 3);
    }

    #[test]
    fn rejects_bad_requests_before_touching_the_device() {
        let bus = FakeBus::with_devices(&[Ok("5")]);
        let mut s = open(&bus, None);
        let before = bus.log().len();
        let mut long = vec![0x01, 0x0c, 0x41];
        long.resize(MAX_FRAME_LEN + 1, 0);
        assert_eq!(
            s.exchange(&long),
            Err(TransportError::RequestTooLong { len: MAX_FRAME_LEN + 1 })
        );
        assert!(matches!(s.exchange(&[1, 0, 5]), Err(TransportError::InvalidRequest { .. })));
        assert_eq!(bus.log().len(), before);
    }

    #[test]
    fn reports_a_short_write() {
        let bus = FakeBus::with_devices(&[Ok("5")]);
        let mut s = UsbSession::open(bus.clone(), None, T, false).unwrap();
        bus.script(&[Step::Out(Ok(2))]);
        let e = s.exchange(&ECHO).unwrap_err();
        assert!(e.to_string().contains("only 2 of 4 bytes"), "{e}");
    }

    #[test]
    fn selects_by_serial_numerically() {
        let bus = FakeBus::with_devices(&[Ok("0000000042"), Ok("43")]);
        assert_eq!(open(&bus, Some(42)).describe(), "USB device serial 42");
        assert_eq!(open(&bus, Some(43)).serial(), Some(43));
        match UsbSession::open(bus.clone(), Some(44), T, true) {
            Err(TransportError::SerialNotFound { serial: 44, attached }) => {
                assert_eq!(attached, ["0000000042", "43"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_to_guess_between_several_devices() {
        let bus = FakeBus::with_devices(&[Ok("42"), Err(SerialError::PermissionDenied)]);
        match UsbSession::open(bus.clone(), None, T, true) {
            Err(TransportError::SeveralDevices { serials }) => {
                assert_eq!(serials[0], "42");
                assert!(serials[1].contains("permission denied"), "{serials:?}");
            }
            other => panic!("{other:?}"),
        }
        assert!(bus.log().iter().all(|l| !l.starts_with("open")));
    }

    #[test]
    fn reports_no_device_and_unreadable_serials() {
        let empty = FakeBus::default();
        assert!(matches!(
            UsbSession::open(empty.clone(), None, T, true),
            Err(TransportError::NoDevice)
        ));
        assert!(matches!(UsbSession::open(empty, Some(1), T, true), Err(TransportError::NoDevice)));
        let denied = FakeBus::with_devices(&[Ok("1"), Err(SerialError::PermissionDenied)]);
        assert_eq!(
            UsbSession::open(denied, Some(2), T, true).unwrap_err(),
            TransportError::PermissionDenied { device: "USB bus 001 device 003".into() }
        );
    }

    #[test]
    fn opens_a_lone_device_whose_serial_is_unreadable() {
        let bus = FakeBus::with_devices(&[Err(SerialError::Unreadable("no string".into()))]);
        let s = open(&bus, None);
        assert_eq!(s.describe(), "USB device at USB bus 001 device 002");
        assert_eq!(s.serial(), None);
        bus.0.lock().unwrap().open_error =
            Some(TransportError::PermissionDenied { device: "x".into() });
        assert!(matches!(
            UsbSession::open(bus, None, T, true),
            Err(TransportError::PermissionDenied { .. })
        ));
    }
}
