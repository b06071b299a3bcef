//! `yhsm sim serve` and `yhsm sim usb-gadget`: the built-in software YubiHSM 2
//! (`yhsm-sim`) behind a yubihsm-connector compatible HTTP server (docs/PROTOCOL.md §1.2 "HTTP
//! connector"), or presented as a real USB device through Linux FunctionFS (§1.1 "USB").
//!
//! With `--state FILE` the device is saved after every request that changed it, before
//! the answer goes out, and loaded again at the next start. The file holds every key in
//! the clear: the simulator is for tests and demonstrations, never for real keys.

use std::path::{Path, PathBuf};

use yhsm_sim::{Config, Device, SharedDevice};

use crate::error::{Error, Result};

/// The address `yhsm sim serve` listens on without `--listen`: yubihsm-connector's.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:12345";

/// The device of a state file (made with `serial` when the file does not exist yet), or
/// a fresh in-memory one. A state file of another serial than `--serial` is refused.
pub fn open_device(state: Option<&Path>, serial: Option<u32>) -> Result<SharedDevice> {
    let mut config = Config::default();
    if let Some(s) = serial {
        config.serial = s;
    }
    let Some(path) = state else {
        let device = Device::new(config).map_err(|e| {
            Error::failure("cannot seed the simulator from the operating system").with_source(e)
        })?;
        return Ok(SharedDevice::new(device));
    };
    let device = SharedDevice::open_state(path, config).map_err(|e| {
        Error::failure(format!("cannot open the simulator state file `{}`", path.display()))
            .with_source(e)
    })?;
    let stored = device.lock().serial();
    if serial.is_some_and(|s| s != stored) {
        return Err(Error::failure(format!(
            "the state file `{}` holds device serial {stored}",
            path.display()
        ))
        .with_hint("drop --serial, or use another state file"));
    }
    Ok(device)
}

/// What `yhsm sim serve` was asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeOptions {
    pub listen: String,
    pub state: Option<PathBuf>,
    pub serial: Option<u32>,
}

/// Serves the simulator over HTTP until the process is stopped; prints
/// `listening on http://ADDR` (with the real port when port 0 was asked for) first.
pub fn serve(options: &ServeOptions) -> Result<()> {
    let device = open_device(options.state.as_deref(), options.serial)?;
    yhsm_sim::http::serve(&options.listen, device, options.state.clone())
        .map_err(|e| Error::failure(format!("cannot serve on {}", options.listen)).with_source(e))
}

#[cfg(all(feature = "usb-gadget", target_os = "linux"))]
pub use gadget::{GadgetOptions, usb_gadget};

#[cfg(all(feature = "usb-gadget", target_os = "linux"))]
mod gadget {
    use std::io::Write;
    use std::path::PathBuf;
    use std::time::Duration;

    use yhsm_sim::Reply;
    use yhsm_sim::usb_gadget::{
        DEFAULT_CONFIGFS, EndpointReservation, FfsMount, FunctionFs, Gadget, GadgetConfig,
        GadgetError, SYS_CLASS_UDC, choose_udc,
    };

    use super::open_device;
    use crate::error::{Error, Result};

    /// Where FunctionFS instances are mounted.
    const FFS_ROOT: &str = "/dev/usb-ffs";

    /// What `yhsm sim usb-gadget` was asked for.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct GadgetOptions {
        pub serial: u32,
        /// The USB device controller; the only one when `None`.
        pub udc: Option<String>,
        pub state: Option<PathBuf>,
        /// Holds every response back this long (tests: a window to unplug the device
        /// while a client waits).
        pub delay: Duration,
    }

    fn gadget_error(e: GadgetError) -> Error {
        Error::failure("USB gadget").with_source(e).with_hint(
            "gadget mode needs root, configfs, the libcomposite and usb_f_fs modules and a \
             USB device controller (for a test: modprobe dummy_hcd)",
        )
    }

    /// Sets the gadget up, binds it, writes a `ready:` line to `out`, serves until the
    /// gadget is unbound, writes an `unbound:` line and tears the gadget down.
    pub fn usb_gadget(options: &GadgetOptions, out: &mut dyn Write) -> Result<()> {
        let device = open_device(options.state.as_deref(), Some(options.serial))?;
        let udc =
            choose_udc(SYS_CLASS_UDC.as_ref(), options.udc.as_deref()).map_err(gadget_error)?;
        let config = GadgetConfig::new(options.serial, &udc);
        let gadget = Gadget::create(&config).map_err(gadget_error)?;
        let ffs_root = PathBuf::from(FFS_ROOT);
        let mount =
            FfsMount::mount(gadget.function_instance(), &ffs_root.join(gadget.function_instance()))
                .map_err(gadget_error)?;
        let reserve_mount = match gadget.reservation_instance() {
            Some(instance) => {
                Some(FfsMount::mount(instance, &ffs_root.join(instance)).map_err(gadget_error)?)
            }
            None => None,
        };
        let reservation = match &reserve_mount {
            Some(m) => Some(
                EndpointReservation::open(m.dir(), config.reserved_bulk_out)
                    .map_err(gadget_error)?,
            ),
            None => None,
        };
        let mut ffs = FunctionFs::open(mount.dir()).map_err(gadget_error)?;
        gadget.bind(&udc).map_err(gadget_error)?;
        ffs.set_udc(&udc);
        let written = |e| Error::failure("cannot write to standard output").with_source(e);
        writeln!(
            out,
            "ready: simulated YubiHSM 2 serial {} on USB device controller {udc}; stop it with \
             `echo > {}/usb_gadget/{}/UDC`",
            options.serial, DEFAULT_CONFIGFS, config.name
        )
        .and_then(|()| out.flush())
        .map_err(written)?;

        let state = options.state.clone();
        let delay = options.delay;
        let mut handler = move |request: &[u8]| {
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
            let (reply, saved) = device.handle_and_save(request, state.as_deref());
            if let Err(e) = saved {
                eprintln!("yhsm: warning: {e}");
            }
            match reply {
                Reply::Frame(frame) => frame,
                // Nothing goes back: the host sees a timeout, as from a lost response.
                Reply::Dropped | Reply::Unplugged => Vec::new(),
            }
        };
        let report = ffs.serve(&mut handler).map_err(gadget_error)?;
        writeln!(
            out,
            "unbound: served {} requests ({} enables, {} stalled control requests, {} \
             transfer errors)",
            report.requests, report.enables, report.stalled_setups, report.transfer_errors
        )
        .and_then(|()| out.flush())
        .map_err(written)?;
        drop(ffs);
        drop(reservation);
        mount.unmount().map_err(gadget_error)?;
        if let Some(m) = reserve_mount {
            m.unmount().map_err(gadget_error)?;
        }
        gadget.remove().map_err(gadget_error)
    }
}
