//! USB gadget mode: presents a frame handler (the simulator) as a real YubiHSM 2 on the USB
//! bus through Linux FunctionFS, as docs/PROTOCOL.md §1.1 "USB" describes the device: VID 1050 /
//! PID 0030, manufacturer `Yubico`, product `YubiHSM`, a decimal serial, one interface with
//! bulk OUT 0x01 and bulk IN 0x81, 64-byte packets at full speed, every response ended by a
//! short packet (a zero-length one when its length is a multiple of the packet size).
//!
//! Setup, in order (what `yhsm sim usb-gadget` does; needs root, configfs mounted and the
//! `libcomposite` and `usb_f_fs` modules, plus a UDC such as `dummy_hcd` for tests):
//!
//! 1. [`choose_udc`], then [`Gadget::create`] makes the configfs gadget (ids, strings,
//!    `c.1`, `ffs.<name>`, and on dummy_hcd an endpoint reservation, see
//!    [`descriptors::reservation_descriptors`]);
//! 2. [`FfsMount::mount`] mounts its FunctionFS instance(s) (runs `mount -t functionfs`);
//! 3. [`FunctionFs::open`] (and [`EndpointReservation::open`]) write the descriptors, which
//!    makes the functions ready;
//! 4. [`Gadget::bind`] to the UDC: the host sees the device;
//! 5. [`FunctionFs::serve`] answers each request transfer with the handler's response
//!    until the gadget is unbound ([`Gadget::unbind`] / [`Unbinder::unbind`], from another
//!    thread or process — the way to stop it);
//! 6. drop the [`FunctionFs`] (and reservation), [`FfsMount::unmount`], [`Gadget::remove`].

mod configfs;
pub mod descriptors;

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

pub use configfs::{
    DEFAULT_CONFIGFS, FfsMount, Gadget, GadgetConfig, MANUFACTURER, PRODUCT, PRODUCT_ID,
    SYS_CLASS_UDC, Unbinder, VENDOR_ID, choose_udc, list_udcs, reserved_bulk_out_for,
    serial_string,
};
use descriptors::{EP_IN_FILE, EP_OUT_FILE, EVENT_LEN, Event};

/// Size of the buffer one request transfer is read into: the largest frame
/// ([`yhsm_proto::frame::MAX_FRAME_LEN`], 3139 bytes) rounded up to whole 64-byte packets,
/// so a maximal request fits and the read asks the controller for whole packets.
pub const REQUEST_BUFFER_LEN: usize = yhsm_proto::frame::MAX_FRAME_LEN.div_ceil(64) * 64;

/// How long the data loop waits after a failed transfer for `ep0` to report why
/// (disable, re-enable, unbind) before it tries again.
const TRANSFER_ERROR_BACKOFF: Duration = Duration::from_secs(1);

/// What went wrong setting up or serving the gadget. Names the file, command or UDC.
#[derive(Debug)]
#[non_exhaustive]
pub enum GadgetError {
    /// A file of configfs, sysfs or FunctionFS could not be used.
    Io { action: &'static str, path: PathBuf, source: io::Error },
    /// `<configfs>/usb_gadget` does not exist.
    NoConfigfs { path: PathBuf },
    /// A gadget of that name already exists in configfs.
    Exists { path: PathBuf },
    /// The gadget name is not usable as a configfs directory and FunctionFS instance.
    InvalidName { name: String },
    /// The kernel refused to bind the gadget to the UDC.
    Bind { udc: String, source: io::Error },
    /// This machine has no USB device controller.
    NoUdc,
    /// Several UDCs exist and none was chosen.
    SeveralUdcs { available: Vec<String> },
    /// The requested UDC does not exist.
    UdcNotFound { name: String, available: Vec<String> },
    /// `mount` or `umount` failed.
    Command { command: String, message: String },
    /// FunctionFS accepted only part of a write.
    ShortWrite { path: PathBuf, written: usize, len: usize },
    /// `ep0` returned something that is not a whole event.
    BadEvent { len: usize },
}

fn list(names: &[String]) -> String {
    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
}

impl fmt::Display for GadgetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { action, path, source } => write!(f, "{action} {}: {source}", path.display()),
            Self::NoConfigfs { path } => write!(
                f,
                "{} does not exist: mount configfs (mount -t configfs none /sys/kernel/config) \
                 and load libcomposite",
                path.display()
            ),
            Self::Exists { path } => write!(
                f,
                "gadget {} already exists: remove it, or choose another serial or name",
                path.display()
            ),
            Self::InvalidName { name } => write!(
                f,
                "gadget name {name:?} must be non-empty ASCII letters, digits, '-' or '_'"
            ),
            Self::Bind { udc, source } => write!(
                f,
                "cannot bind the gadget to UDC {udc}: {source} (is the UDC used by another \
                 gadget?)"
            ),
            Self::NoUdc => {
                write!(f, "no USB device controller in /sys/class/udc (for a test, load dummy_hcd)")
            }
            Self::SeveralUdcs { available } => write!(
                f,
                "several USB device controllers ({}): choose one with --udc",
                list(available)
            ),
            Self::UdcNotFound { name, available } => {
                write!(f, "no USB device controller {name} (available: {})", list(available))
            }
            Self::Command { command, message } => write!(f, "`{command}` failed: {message}"),
            Self::ShortWrite { path, written, len } => {
                write!(f, "{}: wrote {written} of {len} bytes", path.display())
            }
            Self::BadEvent { len } => {
                write!(f, "FunctionFS ep0 returned {len} bytes, not an event")
            }
        }
    }
}

impl std::error::Error for GadgetError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } | Self::Bind { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// What [`FunctionFs::serve`] did, for logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServeReport {
    /// Requests answered.
    pub requests: u64,
    /// Times the host enabled the endpoints (configured the device).
    pub enables: u64,
    /// Control requests refused with a stall.
    pub stalled_setups: u64,
    /// Transfers that failed (mostly ones cancelled by a disconnect).
    pub transfer_errors: u64,
}

/// The endpoint-reservation function's FunctionFS `ep0`, descriptors written. Keep it
/// until the gadget is unbound: closing it makes the kernel unbind the whole gadget.
#[derive(Debug)]
pub struct EndpointReservation {
    _ep0: File,
}

impl EndpointReservation {
    /// Writes [`descriptors::reservation_descriptors`] for `count` endpoints to the
    /// instance mounted at `dir`. Its events are never read: it has no interface, so it gets
    /// none but bind and unbind, and FunctionFS keeps only a few, merged.
    pub fn open(dir: &Path, count: u8) -> Result<Self, GadgetError> {
        Ok(Self { _ep0: open_ep0(dir, &descriptors::reservation_descriptors(count))? })
    }
}

/// A FunctionFS instance with descriptors written: `ep0` and the two bulk endpoint files.
#[derive(Debug)]
pub struct FunctionFs {
    ep0: File,
    ep_out: File,
    ep_in: File,
    ep_in_path: PathBuf,
    udc: Option<String>,
}

fn open_err(path: &Path) -> impl FnOnce(io::Error) -> GadgetError + '_ {
    move |source| GadgetError::Io { action: "cannot open", path: path.to_path_buf(), source }
}

/// Opens `<dir>/ep0` and writes the descriptors blob, then the (empty) strings blob: the
/// function is ready once both are in.
fn open_ep0(dir: &Path, descriptors: &[u8]) -> Result<File, GadgetError> {
    let path = dir.join("ep0");
    let ep0 = OpenOptions::new().read(true).write(true).open(&path).map_err(open_err(&path))?;
    write_once(&ep0, &path, descriptors)?;
    write_once(&ep0, &path, &descriptors::functionfs_strings())?;
    Ok(ep0)
}

/// Writes `data` to a FunctionFS file in one call: each call is one transfer (or one blob).
fn write_once(mut file: &File, path: &Path, data: &[u8]) -> Result<(), GadgetError> {
    let written = file.write(data).map_err(|source| GadgetError::Io {
        action: "cannot write",
        path: path.to_path_buf(),
        source,
    })?;
    if written == data.len() {
        Ok(())
    } else {
        Err(GadgetError::ShortWrite { path: path.to_path_buf(), written, len: data.len() })
    }
}

impl FunctionFs {
    /// Writes the descriptors and strings to `<dir>/ep0` (FunctionFS mounted at `dir`) and
    /// opens the endpoint files. After this the gadget can be bound to a UDC.
    pub fn open(dir: &Path) -> Result<Self, GadgetError> {
        let ep0 = open_ep0(dir, &descriptors::functionfs_descriptors())?;
        // Non-blocking only changes what happens while the endpoints are disabled: the
        // kernel answers EAGAIN instead of sleeping until they are enabled, so the data
        // loop never sleeps through an unbind. Transfers themselves still block.
        let open_ep = |name: &str, write: bool| {
            let path = dir.join(name);
            OpenOptions::new()
                .read(!write)
                .write(write)
                .custom_flags(libc::O_NONBLOCK)
                .open(&path)
                .map_err(open_err(&path))
                .map(|file| (file, path))
        };
        let (ep_out, _) = open_ep(EP_OUT_FILE, false)?;
        let (ep_in, ep_in_path) = open_ep(EP_IN_FILE, true)?;
        Ok(Self { ep0, ep_out, ep_in, ep_in_path, udc: None })
    }

    /// Names the UDC the gadget is bound to, so the zero-length-packet rule follows its
    /// actual speed (`/sys/class/udc/<udc>/current_speed`); without it, full speed's 64
    /// bytes is assumed.
    pub fn set_udc(&mut self, udc: &str) {
        self.udc = Some(udc.to_owned());
    }

    fn max_packet(&self) -> usize {
        let speed = self.udc.as_ref().and_then(|udc| {
            fs::read_to_string(Path::new(SYS_CLASS_UDC).join(udc).join("current_speed")).ok()
        });
        usize::from(descriptors::max_packet_for_speed(speed.as_deref().unwrap_or("")))
    }

    /// Serves request transfers until the gadget is unbound: reads one request (it ends with
    /// a short or zero-length packet), passes it to `handler`, writes the response, and
    /// follows it with a zero-length packet when its length is a multiple of the packet
    /// size. Meanwhile a second thread answers `ep0` events; control requests to the
    /// interface are refused with a stall, as the device has none.
    ///
    /// A disconnect cancels the transfer in flight; serving resumes when the host
    /// configures the device again. Returns when `ep0` reports UNBIND.
    pub fn serve(
        &self,
        handler: &mut dyn FnMut(&[u8]) -> Vec<u8>,
    ) -> Result<ServeReport, GadgetError> {
        let link = Link::default();
        thread::scope(|scope| {
            let events = scope.spawn(|| self.ep0_loop(&link));
            let mut report = self.data_loop(&link, handler);
            let ep0 = events.join().unwrap_or_else(|_| {
                Err(GadgetError::Io {
                    action: "event thread failed on",
                    path: PathBuf::from("ep0"),
                    source: io::Error::other("panicked"),
                })
            })?;
            report.enables = ep0.enables;
            report.stalled_setups = ep0.stalled_setups;
            Ok(report)
        })
    }

    fn ep0_loop(&self, link: &Link) -> Result<ServeReport, GadgetError> {
        let result = self.ep0_events(link);
        link.update(|s| s.finished = true);
        result
    }

    fn ep0_events(&self, link: &Link) -> Result<ServeReport, GadgetError> {
        let mut report = ServeReport::default();
        let mut ep0 = &self.ep0;
        loop {
            let mut raw = [0u8; EVENT_LEN];
            let event = match ep0.read(&mut raw) {
                Ok(EVENT_LEN) => Event::parse(&raw),
                Ok(len) => return Err(GadgetError::BadEvent { len }),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(GadgetError::Io {
                        action: "cannot read events from",
                        path: PathBuf::from("ep0"),
                        source,
                    });
                }
            };
            match event {
                Event::Enable => {
                    report.enables += 1;
                    link.update(|s| {
                        s.enabled = true;
                        s.generation += 1;
                    });
                }
                Event::Disable => link.update(|s| s.enabled = false),
                Event::Unbind => return Ok(report),
                Event::Setup(setup) => {
                    // Stalling is the "wrong direction" I/O: a read for an IN request, a
                    // write for an OUT one. The kernel answers it with EL2HLT by design.
                    let _ = if setup.is_in() { ep0.read(&mut [0u8; 1]) } else { ep0.write(&[0]) };
                    report.stalled_setups += 1;
                }
                Event::Bind | Event::Suspend | Event::Resume | Event::Unknown(_) => {}
            }
        }
    }

    fn data_loop(&self, link: &Link, handler: &mut dyn FnMut(&[u8]) -> Vec<u8>) -> ServeReport {
        let mut report = ServeReport::default();
        let mut request = vec![0u8; REQUEST_BUFFER_LEN];
        let mut generation = 0;
        let mut max_packet = usize::from(descriptors::FULL_SPEED_MAX_PACKET);
        loop {
            let state = link.wait_while(|s| !s.finished && !s.enabled);
            if state.finished {
                return report;
            }
            if state.generation != generation {
                generation = state.generation;
                drop(state);
                max_packet = self.max_packet();
            } else {
                drop(state);
            }
            let result = match (&self.ep_out).read(&mut request) {
                // A lone zero-length packet carries no request.
                Ok(0) => continue,
                Ok(len) => {
                    let response = handler(request.get(..len).unwrap_or_default());
                    self.send(&response, max_packet)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => report.requests += 1,
                Err(_) => {
                    // Mostly a disconnect (ESHUTDOWN) or endpoints not enabled (EAGAIN):
                    // wait for ep0 to say what happened rather than spin.
                    report.transfer_errors += 1;
                    drop(link.wait_timeout_while(TRANSFER_ERROR_BACKOFF, |s| {
                        !s.finished && s.enabled && s.generation == generation
                    }));
                }
            }
        }
    }

    /// One response transfer: the bytes, then a zero-length packet if the last packet was
    /// full (otherwise the host would wait for more).
    fn send(&self, response: &[u8], max_packet: usize) -> io::Result<()> {
        let mut ep_in = &self.ep_in;
        let written = ep_in.write(response)?;
        if written != response.len() {
            return Err(io::Error::other(format!(
                "{}: wrote {written} of {} bytes",
                self.ep_in_path.display(),
                response.len()
            )));
        }
        if !response.is_empty() && response.len().is_multiple_of(max_packet) {
            // FunctionFS queues a zero-length write as a zero-length packet.
            let _zero: usize = ep_in.write(&[])?;
        }
        Ok(())
    }
}

/// What `ep0` has told the data loop.
#[derive(Debug, Default)]
struct LinkState {
    enabled: bool,
    /// Counts ENABLE events, so the data loop sees a re-enable it slept through.
    generation: u64,
    /// UNBIND seen, or `ep0` failed: stop serving.
    finished: bool,
}

#[derive(Debug, Default)]
struct Link {
    state: Mutex<LinkState>,
    changed: Condvar,
}

impl Link {
    fn lock(&self) -> MutexGuard<'_, LinkState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, f: impl FnOnce(&mut LinkState)) {
        f(&mut self.lock());
        self.changed.notify_all();
    }

    fn wait_while(&self, cond: impl FnMut(&mut LinkState) -> bool) -> MutexGuard<'_, LinkState> {
        self.changed.wait_while(self.lock(), cond).unwrap_or_else(PoisonError::into_inner)
    }

    fn wait_timeout_while(
        &self,
        timeout: Duration,
        cond: impl FnMut(&mut LinkState) -> bool,
    ) -> MutexGuard<'_, LinkState> {
        match self.changed.wait_timeout_while(self.lock(), timeout, cond) {
            Ok((guard, _)) => guard,
            Err(poisoned) => poisoned.into_inner().0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_udc_choices() {
        let e = GadgetError::SeveralUdcs { available: vec!["dummy_udc.0".into(), "x".into()] };
        assert_eq!(
            e.to_string(),
            "several USB device controllers (dummy_udc.0, x): choose one with --udc"
        );
        assert!(GadgetError::NoUdc.to_string().contains("dummy_hcd"));
    }
}
