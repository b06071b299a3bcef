//! TEMPORARY test device until the simulator exists: a USB YubiHSM 2 (FunctionFS gadget)
//! that only knows ECHO. Request `01 len data` → response `81 len data`; anything else →
//! `7f 00 01 01` (invalid-command). The end-to-end test (`tests/usb-e2e/`) drives it.
//!
//! Swapping in the simulator is one line: the `handler` passed to `serve` in `main`.
//!
//! Usage: yhsm-gadget-echo --serial N [--udc NAME] [--name NAME] [--ffs-dir DIR]
//!        [--configfs DIR] [--delay-ms MS]
//! Sets up the gadget, binds it, prints `ready serial=N udc=NAME`, serves until the gadget
//! is unbound (e.g. `echo > /sys/kernel/config/usb_gadget/NAME/UDC`), then tears down.

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    linux::main()
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("yhsm-gadget-echo: USB gadget mode needs Linux FunctionFS");
    std::process::exit(2);
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io::Write;
    use std::path::PathBuf;
    use std::process::ExitCode;
    use std::time::Duration;

    use yhsm_proto::frame::{self, CommandCode, ErrorCode};
    use yhsm_sim::usb_gadget::{
        FfsMount, FunctionFs, Gadget, GadgetConfig, GadgetError, SYS_CLASS_UDC, choose_udc,
    };

    /// The echo-only device.
    fn echo(request: &[u8]) -> Vec<u8> {
        match frame::decode(request) {
            Ok((code, data)) if code == CommandCode::ECHO.0 => {
                frame::encode(CommandCode::ECHO.response(), data)
                    .unwrap_or_else(|_| frame::encode_error(ErrorCode::INVALID_DATA))
            }
            _ => frame::encode_error(ErrorCode::INVALID_COMMAND),
        }
    }

    #[derive(Debug)]
    struct Args {
        config: GadgetConfig,
        udc: Option<String>,
        ffs_dir: Option<PathBuf>,
        delay: Duration,
    }

    fn parse_args() -> Result<Args, String> {
        let mut serial = None;
        let mut args =
            Args { config: GadgetConfig::new(0), udc: None, ffs_dir: None, delay: Duration::ZERO };
        let mut name = None;
        let mut configfs = None;
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--serial" => {
                    let v = value()?;
                    serial = Some(v.parse::<u32>().map_err(|_| {
                        format!("--serial {v:?}: expected a decimal number up to 4294967295")
                    })?);
                }
                "--udc" => args.udc = Some(value()?),
                "--name" => name = Some(value()?),
                "--ffs-dir" => args.ffs_dir = Some(PathBuf::from(value()?)),
                "--configfs" => configfs = Some(PathBuf::from(value()?)),
                "--delay-ms" => {
                    let v = value()?;
                    let ms = v.parse::<u64>().map_err(|_| format!("--delay-ms {v:?}"))?;
                    args.delay = Duration::from_millis(ms);
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        let serial = serial.ok_or("--serial N is required")?;
        args.config = GadgetConfig::new(serial);
        if let Some(name) = name {
            args.config.name = name;
        }
        if let Some(configfs) = configfs {
            args.config.configfs = configfs;
        }
        Ok(args)
    }

    fn run(args: &Args) -> Result<(), GadgetError> {
        let gadget = Gadget::create(&args.config)?;
        let ffs_dir = args
            .ffs_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/dev/usb-ffs").join(gadget.function_instance()));
        let mount = FfsMount::mount(gadget.function_instance(), &ffs_dir)?;
        let mut ffs = FunctionFs::open(mount.dir())?;
        let udc = choose_udc(SYS_CLASS_UDC.as_ref(), args.udc.as_deref())?;
        gadget.bind(&udc)?;
        ffs.set_udc(&udc);
        println!("ready serial={} udc={udc}", args.config.serial);
        let _ = std::io::stdout().flush();

        let delay = args.delay;
        let mut handler = |request: &[u8]| {
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
            echo(request)
        };
        let report = ffs.serve(&mut handler)?;
        println!(
            "unbound serial={}: {} requests, {} enables, {} stalled setups, {} transfer errors",
            args.config.serial,
            report.requests,
            report.enables,
            report.stalled_setups,
            report.transfer_errors
        );
        drop(ffs);
        mount.unmount()?;
        gadget.remove()
    }

    pub fn main() -> ExitCode {
        let args = match parse_args() {
            Ok(args) => args,
            Err(e) => {
                eprintln!("yhsm-gadget-echo: {e}");
                return ExitCode::from(2);
            }
        };
        match run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("yhsm-gadget-echo: {e}");
                ExitCode::FAILURE
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::echo;

        #[test]
        fn echoes_echo_frames() {
            assert_eq!(echo(&[0x01, 0, 3, 7, 8, 9]), [0x81, 0, 3, 7, 8, 9]);
            assert_eq!(echo(&[0x01, 0, 0]), [0x81, 0, 0]);
        }

        #[test]
        fn rejects_other_commands_and_malformed_frames() {
            for request in [&[0x06, 0, 0][..], &[0x01, 0, 2, 7], &[0x01], &[]] {
                assert_eq!(echo(request), [0x7f, 0, 1, 1], "{request:02x?}");
            }
        }
    }
}
