//! `yhsm-usb-probe`: the USB end-to-end test's own client tool (`tests/usb-e2e/run.sh`,
//! README.md there). Everything a user does goes through the real `yhsm` binary in that
//! test; this tool does the three checks the CLI has no command for:
//!
//! - `list`: every attached YubiHSM 2 with its USB serial string, as
//!   `yhsm_transport::list_usb_devices` sees it;
//! - `echo-all URL [--max N]`: through `yhsm_transport::Client` on the USB transport (or,
//!   with an `http://` URL, through yubihsm-connector in front of the device), ECHO
//!   outside a session of every data length 1..=N (default 3136, the largest), so every
//!   frame size and both zero-length-packet paths (49 request and 49 response frames are a
//!   multiple of 64 bytes) run through the kernel's USB stack; then an unknown
//!   command outside a session comes back as the device's error frame; then a session
//!   with key 1 (`password`) and session echoes of a spread of lengths up to the largest
//!   that fits a session frame (and one byte more is refused before sending). A slow echo
//!   means a transfer end (short or zero-length packet) went missing and the read waited
//!   for its timeout: that fails the check;
//! - `control URL`: vendor control requests to the device's interface, IN and OUT, must
//!   be refused with a stall (the device has none), and bulk traffic must go on after.
//!
//! URL is a connector URL (`yhusb://`, `yhusb://serial=N`, and for `echo-all` also
//! `http://HOST:PORT`); default `yhusb://`. Each
//! command that talks to a device ends with `exchanges=N`, the frames it sent, so the test
//! can check that the gadget it addressed served exactly those.
//!
//! Exit status: 0 ok, 1 wrong data, 2 usage, 3 transport error, 4 disconnected or no
//! device. Errors print as `error kind=KIND: MESSAGE`.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use yhsm_proto::frame::{self, CommandCode, ErrorCode, FrameError, MAX_DATA_LEN};
use yhsm_transport::usb::{self, UsbOptions, UsbTransport};
use yhsm_transport::{
    Client, ClientError, ClientOptions, ConnectorUrl, Credentials, ExchangeEvent, HttpTransport,
    HttpUrl, Observer, Timeouts, Transport, TransportError,
};

/// Short, so a missing zero-length packet shows up quickly. (rusb returns the bytes read
/// so far when a read times out, so without the zero-length packet a response of a
/// multiple of 64 bytes still arrives intact, only one whole timeout late.)
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(3);
/// An echo slower than this waited for a timeout: the end of a transfer went missing.
const SLOW_EXCHANGE: Duration = Duration::from_millis(1500);
/// The simulator's factory key and password.
const FACTORY_KEY: u16 = 1;
const FACTORY_PASSWORD: &[u8] = b"password";

enum Failure {
    Usage(String),
    Data(String),
    Transport(TransportError),
}

impl From<TransportError> for Failure {
    fn from(error: TransportError) -> Self {
        Self::Transport(error)
    }
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::Connect { source } | ClientError::Transport { source, .. } => {
                Self::Transport(source)
            }
            other => Self::Data(other.to_string()),
        }
    }
}

fn kind(e: &TransportError) -> &'static str {
    match e {
        TransportError::Disconnected { .. } => "disconnected",
        TransportError::NoDevice
        | TransportError::SerialNotFound { .. }
        | TransportError::ConnectorNoDevice { .. } => "no-device",
        TransportError::SeveralDevices { .. } => "several-devices",
        TransportError::Timeout { .. } => "timeout",
        _ => "other",
    }
}

struct Args {
    command: String,
    serial: Option<u32>,
    /// An `http://` URL: through yubihsm-connector (`echo-all` only).
    http: Option<HttpUrl>,
    number: Option<u64>,
}

fn parse_args() -> Result<Args, Failure> {
    let mut it = std::env::args().skip(1);
    let command = it.next().ok_or_else(|| Failure::Usage("missing command".into()))?;
    let mut args = Args { command, serial: None, http: None, number: None };
    while let Some(arg) = it.next() {
        if let Some(flag) = arg.strip_prefix("--") {
            let value =
                it.next().ok_or_else(|| Failure::Usage(format!("--{flag} needs a value")))?;
            let n = value.parse().map_err(|_| Failure::Usage(format!("--{flag} {value:?}")))?;
            args.number = Some(n);
        } else {
            match arg.parse::<ConnectorUrl>().map_err(|e| Failure::Usage(e.to_string()))? {
                ConnectorUrl::Usb { serial } => args.serial = serial,
                ConnectorUrl::Http(url) => args.http = Some(url),
                other => return Err(Failure::Usage(format!("{other} is not a USB URL"))),
            }
        }
    }
    Ok(args)
}

fn open(serial: Option<u32>) -> Result<UsbTransport, TransportError> {
    UsbTransport::open(serial, UsbOptions { timeout: EXCHANGE_TIMEOUT, retry_once: true })
}

/// Counts the frames a client sends.
struct Counter(Arc<AtomicU64>);

impl Observer for Counter {
    fn exchange(&mut self, _: &ExchangeEvent<'_>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Data for an echo of `len` bytes: varies with position and length, so a response mixed
/// up with another one does not compare equal.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + len).to_le_bytes()[0]).collect()
}

/// One echo through the client (inside the session once authenticated), timed.
fn echo(client: &mut Client, len: usize) -> Result<(), Failure> {
    let data = pattern(len);
    let start = Instant::now();
    let back = client.echo(&data)?;
    let took = start.elapsed();
    if back != data {
        return Err(Failure::Data(format!("echo of {len} bytes came back different")));
    }
    if took >= SLOW_EXCHANGE {
        return Err(Failure::Data(format!(
            "echo of {len} bytes took {} ms: a transfer end (short or zero-length packet) went \
             missing and the read waited for its timeout",
            took.as_millis()
        )));
    }
    Ok(())
}

fn list() -> Result<(), Failure> {
    let devices = usb::list_devices()?;
    for d in &devices {
        match &d.serial {
            Ok(s) => println!("device bus={:03} address={:03} serial={s}", d.bus, d.address),
            Err(e) => println!("device bus={:03} address={:03} serial-error={e}", d.bus, d.address),
        }
    }
    println!("devices={}", devices.len());
    Ok(())
}

/// The largest echo that fits a session frame: `05 len(2) sid ct mac(8)` with `ct` the
/// inner frame padded to whole 16-byte blocks (at least one padding byte).
fn max_session_echo(max_frame_len: usize) -> usize {
    let max_ct = (max_frame_len - frame::HEADER_LEN - 1 - 8) / 16 * 16;
    max_ct - 1 - frame::HEADER_LEN
}

fn echo_all(serial: Option<u32>, http: Option<HttpUrl>, max: usize) -> Result<(), Failure> {
    let count = Arc::new(AtomicU64::new(0));
    let transport: Box<dyn Transport> = match http {
        Some(url) => Box::new(HttpTransport::connect(
            url,
            Timeouts { exchange: EXCHANGE_TIMEOUT, ..Timeouts::default() },
        )?),
        None => Box::new(open(serial)?),
    };
    let options = ClientOptions::new().observer(Box::new(Counter(Arc::clone(&count))));
    let mut client = Client::with_transport_options(transport, options)?;
    let mut full = 0;
    for len in 1..=max {
        echo(&mut client, len)?;
        // Echo frames are the same length both ways: header plus data.
        if (frame::HEADER_LEN + len).is_multiple_of(64) {
            full += 1;
        }
    }
    // A command the device only knows inside a session comes back as its error frame.
    let response = client.raw_plain(CommandCode::LIST_OBJECTS.0, &[])?;
    match frame::decode_response(CommandCode::LIST_OBJECTS, &response) {
        Err(FrameError::Device(ErrorCode::INVALID_COMMAND)) => {}
        other => return Err(Failure::Data(format!("list-objects outside a session: {other:?}"))),
    }
    client.authenticate(Credentials::password(FACTORY_KEY, FACTORY_PASSWORD))?;
    let largest = max_session_echo(client.max_frame_len());
    let lengths: Vec<usize> = (1..=48).chain((49..largest).step_by(97)).chain([largest]).collect();
    for &len in &lengths {
        echo(&mut client, len)?;
    }
    match client.echo(&pattern(largest + 1)) {
        Err(ClientError::TooLong { .. }) => {}
        other => {
            return Err(Failure::Data(format!(
                "a session echo of {} bytes should not fit a frame: {:?}",
                largest + 1,
                other.map(|d| d.len())
            )));
        }
    }
    drop(client);
    println!(
        "echo-all ok: lengths 1..={max} outside a session ({full} request and {full} response \
         frames of a multiple of 64 bytes: zero-length packets), invalid-command outside a \
         session, {} session echoes up to {largest} bytes",
        lengths.len()
    );
    println!("exchanges={}", count.load(Ordering::SeqCst));
    Ok(())
}

/// The device does not answer control requests of its own: a vendor request to its
/// interface, IN or OUT, must be refused with a stall, and bulk traffic must go on after.
fn control(serial: Option<u32>) -> Result<(), Failure> {
    let wanted = serial.ok_or_else(|| Failure::Usage("control needs yhusb://serial=N".into()))?;
    let usb_err = |what: &str, e: rusb::Error| Failure::Data(format!("{what}: {e}"));
    let devices = rusb::devices().map_err(|e| usb_err("list devices", e))?;
    let mut handle = None;
    for dev in devices.iter() {
        let Ok(desc) = dev.device_descriptor() else { continue };
        if (desc.vendor_id(), desc.product_id()) != (0x1050, 0x0030) {
            continue;
        }
        let h = dev.open().map_err(|e| usb_err("open", e))?;
        let s = h.read_serial_number_string_ascii(&desc).map_err(|e| usb_err("serial", e))?;
        if s.parse::<u32>().ok() == Some(wanted) {
            handle = Some(h);
        }
    }
    let handle = handle.ok_or_else(|| Failure::Data(format!("no device with serial {wanted}")))?;
    handle.claim_interface(0).map_err(|e| usb_err("claim interface 0", e))?;
    let timeout = Duration::from_secs(2);
    // Vendor request, recipient interface 0: IN with a data stage, then OUT without one.
    let mut buf = [0u8; 8];
    let answers = [
        ("IN", handle.read_control(0xc1, 0x01, 0, 0, &mut buf, timeout).map(|_| ())),
        ("OUT", handle.write_control(0x41, 0x01, 0, 0, &[], timeout).map(|_| ())),
    ];
    drop(handle);
    for (direction, answer) in answers {
        match answer {
            Err(rusb::Error::Pipe) => println!("{direction} vendor request stalled"),
            other => {
                return Err(Failure::Data(format!(
                    "{direction} vendor request: expected a stall, got {other:?}"
                )));
            }
        }
    }
    let mut t = open(Some(wanted))?;
    let data = b"after the stalls";
    let request = frame::encode(CommandCode::ECHO.0, data)
        .map_err(|e| Failure::Usage(format!("echo frame: {e}")))?;
    let response = t.exchange(&request)?;
    if frame::decode_response(CommandCode::ECHO, &response).ok() != Some(&data[..]) {
        return Err(Failure::Data("the echo after the stalls came back different".into()));
    }
    println!("exchanges=1");
    Ok(())
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|a| match a.command.as_str() {
        "list" => list(),
        "echo-all" => echo_all(
            a.serial,
            a.http,
            a.number.map_or(MAX_DATA_LEN, |n| usize::try_from(n).unwrap_or(0)),
        ),
        _ if a.http.is_some() => Err(Failure::Usage(format!("{} needs a USB URL", a.command))),
        "control" => control(a.serial),
        other => Err(Failure::Usage(format!("unknown command {other:?}"))),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => {
            eprintln!("usage: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Data(e)) => {
            println!("error kind=data: {e}");
            ExitCode::from(1)
        }
        Err(Failure::Transport(error)) => {
            let kind = kind(&error);
            println!("error kind={kind}: {error}");
            ExitCode::from(if matches!(kind, "disconnected" | "no-device") { 4 } else { 3 })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_the_largest_session_echo() {
        // 3 + 3116 = 3119 inner bytes pad to 3120 = 195 blocks; 1 + 3120 + 8 = 3129 data.
        assert_eq!(max_session_echo(frame::MAX_FRAME_LEN), 3116);
        // Firmware before 2.4: 2048-byte frames.
        assert_eq!(max_session_echo(2048), 2028);
    }

    #[test]
    fn the_largest_session_echo_fits_and_one_byte_more_does_not() {
        let transport = yhsm_transport::sim::SimTransport::open(None).unwrap();
        let mut client = Client::with_transport(Box::new(transport)).unwrap();
        client.authenticate(Credentials::password(FACTORY_KEY, FACTORY_PASSWORD)).unwrap();
        let largest = max_session_echo(client.max_frame_len());
        echo(&mut client, largest).ok().unwrap();
        assert!(matches!(client.echo(&pattern(largest + 1)), Err(ClientError::TooLong { .. })));
    }

    #[test]
    fn patterns_differ_by_length() {
        assert_ne!(pattern(10)[..9], pattern(9)[..]);
        assert_eq!(pattern(0), Vec::<u8>::new());
    }
}
