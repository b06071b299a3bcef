//! TEMPORARY USB client for the QEMU end-to-end test (`tests/usb-e2e/run.sh`), until the
//! `yhsm` CLI exists and replaces it. It drives `yhsm-transport`'s USB transport against
//! the echo gadget (`yhsm-gadget-echo`) through a real Linux USB stack.
//!
//! Usage:
//!   yhsm-usb-probe list
//!   yhsm-usb-probe open      [URL] [--count N]   open, report the serial, N echoes
//!   yhsm-usb-probe echo-all  [URL] [--max N]     echo data of every length 1..=N (3136)
//!   yhsm-usb-probe echo-loop [URL] [--seconds S] echo until an error or S seconds pass
//!   yhsm-usb-probe control   URL                 vendor control requests to the interface
//!                                                must stall; then one echo
//! URL is a connector URL (`yhusb://`, `yhusb://serial=N`); default `yhusb://`.
//!
//! Exit status: 0 ok, 1 wrong data, 2 usage, 3 transport error, 4 disconnected or no
//! device. Errors print as `error kind=KIND after_ms=MS: MESSAGE`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use yhsm_proto::frame::{self, CommandCode, ErrorCode, FrameError, MAX_DATA_LEN};
use yhsm_transport::usb::{self, UsbOptions, UsbTransport};
use yhsm_transport::{ConnectorUrl, Transport, TransportError};

/// Short, so a missing zero-length packet shows up quickly. (rusb returns the bytes read
/// so far when a read times out, so without the zero-length packet a response of a
/// multiple of 64 bytes still arrives intact, only one whole timeout late.)
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(3);
/// An echo slower than this waited for a timeout: the end of a transfer went missing.
const SLOW_EXCHANGE: Duration = Duration::from_millis(1500);

enum Failure {
    Usage(String),
    Data(String),
    Transport { error: TransportError, since_last_ok: Duration },
}

impl From<TransportError> for Failure {
    fn from(error: TransportError) -> Self {
        Self::Transport { error, since_last_ok: Duration::ZERO }
    }
}

fn kind(e: &TransportError) -> &'static str {
    match e {
        TransportError::Disconnected { .. } => "disconnected",
        TransportError::NoDevice | TransportError::SerialNotFound { .. } => "no-device",
        TransportError::SeveralDevices { .. } => "several-devices",
        TransportError::Timeout { .. } => "timeout",
        _ => "other",
    }
}

struct Args {
    command: String,
    serial: Option<u32>,
    number: Option<u64>,
}

fn parse_args() -> Result<Args, Failure> {
    let mut it = std::env::args().skip(1);
    let command = it.next().ok_or_else(|| Failure::Usage("missing command".into()))?;
    let mut args = Args { command, serial: None, number: None };
    while let Some(arg) = it.next() {
        if let Some(flag) = arg.strip_prefix("--") {
            let value =
                it.next().ok_or_else(|| Failure::Usage(format!("--{flag} needs a value")))?;
            let n = value.parse().map_err(|_| Failure::Usage(format!("--{flag} {value:?}")))?;
            args.number = Some(n);
        } else {
            match arg.parse::<ConnectorUrl>().map_err(|e| Failure::Usage(e.to_string()))? {
                ConnectorUrl::Usb { serial } => args.serial = serial,
                other => return Err(Failure::Usage(format!("{other} is not a USB URL"))),
            }
        }
    }
    Ok(args)
}

fn open(serial: Option<u32>) -> Result<UsbTransport, TransportError> {
    UsbTransport::open(serial, UsbOptions { timeout: EXCHANGE_TIMEOUT, retry_once: true })
}

/// Data for an echo of `len` bytes: varies with position and length, so a response mixed
/// up with another one does not compare equal.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + len).to_le_bytes()[0]).collect()
}

fn echo(t: &mut dyn Transport, data: &[u8]) -> Result<(), Failure> {
    let request = frame::encode(CommandCode::ECHO.0, data)
        .map_err(|e| Failure::Usage(format!("echo of {} bytes: {e}", data.len())))?;
    let response = t.exchange(&request)?;
    match frame::decode_response(CommandCode::ECHO, &response) {
        Ok(back) if back == data => Ok(()),
        Ok(back) => Err(Failure::Data(format!(
            "echo of {} bytes came back as {} different bytes",
            data.len(),
            back.len()
        ))),
        Err(e) => Err(Failure::Data(format!("echo of {} bytes: {e}", data.len()))),
    }
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

fn open_and_echo(serial: Option<u32>, count: u64) -> Result<(), Failure> {
    let mut t = open(serial)?;
    let own = t.serial().map_or_else(|| "unknown".to_owned(), |n| n.to_string());
    println!("opened serial={own} ({})", t.describe());
    for i in 0..count {
        echo(&mut t, &pattern(usize::try_from(i % 100).unwrap_or(0) + 1))?;
    }
    println!("exchanges={count}");
    Ok(())
}

fn echo_all(serial: Option<u32>, max: usize) -> Result<(), Failure> {
    let mut t = open(serial)?;
    let (mut requests_full, mut responses_full) = (0, 0);
    for len in 1..=max {
        let start = Instant::now();
        echo(&mut t, &pattern(len))?;
        let took = start.elapsed();
        if took >= SLOW_EXCHANGE {
            return Err(Failure::Data(format!(
                "echo of {len} bytes ({} byte frames) took {} ms: a transfer end (short or \
                 zero-length packet) went missing and the read waited for its timeout",
                frame::HEADER_LEN + len,
                took.as_millis()
            )));
        }
        // Echo frames are the same length both ways: header plus data.
        let frame_len = frame::HEADER_LEN + len;
        if frame_len.is_multiple_of(64) {
            requests_full += 1;
            responses_full += 1;
        }
    }
    // An unknown command must come back as the device's error frame, through the same path.
    let response = t.exchange(&[CommandCode::GET_DEVICE_INFO.0, 0, 0])?;
    match frame::decode_response(CommandCode::GET_DEVICE_INFO, &response) {
        Err(FrameError::Device(ErrorCode::INVALID_COMMAND)) => {}
        other => return Err(Failure::Data(format!("non-echo command answered {other:?}"))),
    }
    println!(
        "echo-all ok: lengths 1..={max}, {requests_full} requests and {responses_full} \
         responses of a multiple of 64 bytes (zero-length packets), invalid-command ok"
    );
    println!("exchanges={}", max + 1);
    Ok(())
}

fn echo_loop(serial: Option<u32>, seconds: u64) -> Result<(), Failure> {
    let mut t = open(serial)?;
    let start = Instant::now();
    let mut last_ok = Instant::now();
    let mut count: u64 = 0;
    let data = pattern(100);
    while start.elapsed() < Duration::from_secs(seconds) {
        match echo(&mut t, &data) {
            Ok(()) => {
                count += 1;
                last_ok = Instant::now();
                if count == 1 {
                    println!("first exchange ok");
                }
            }
            Err(Failure::Transport { error, .. }) => {
                println!("exchanges={count}");
                return Err(Failure::Transport { error, since_last_ok: last_ok.elapsed() });
            }
            Err(e) => return Err(e),
        }
    }
    println!("exchanges={count}");
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
    echo(&mut t, b"after the stalls")?;
    println!("exchanges=1");
    Ok(())
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|a| match a.command.as_str() {
        "list" => list(),
        "open" => open_and_echo(a.serial, a.number.unwrap_or(1)),
        "echo-all" => {
            echo_all(a.serial, a.number.map_or(MAX_DATA_LEN, |n| usize::try_from(n).unwrap_or(0)))
        }
        "echo-loop" => echo_loop(a.serial, a.number.unwrap_or(30)),
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
        Err(Failure::Transport { error, since_last_ok }) => {
            let kind = kind(&error);
            println!("error kind={kind} after_ms={}: {error}", since_last_ok.as_millis());
            ExitCode::from(if matches!(kind, "disconnected" | "no-device") { 4 } else { 3 })
        }
    }
}
