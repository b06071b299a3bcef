//! A software YubiHSM 2 behind a yubihsm-connector compatible HTTP server. Temporary
//! front end until the `yhsm` CLI offers `yhsm sim serve`; the serving logic lives in
//! `yhsm_sim::http::serve`.
//!
//! Usage: yhsm-sim serve [--listen ADDR] [--state FILE] [--serial N]

use std::path::PathBuf;
use std::process::ExitCode;

use yhsm_sim::{Config, Device, SharedDevice, http, state};

const USAGE: &str = "usage: yhsm-sim serve [--listen ADDR] [--state FILE] [--serial N]";

struct Args {
    listen: String,
    state: Option<PathBuf>,
    serial: Option<u32>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    match it.next().as_deref() {
        Some("serve") => {}
        Some("-h" | "--help") => return Err(USAGE.to_owned()),
        Some(other) => return Err(format!("unknown command `{other}`\n{USAGE}")),
        None => return Err(USAGE.to_owned()),
    }
    let mut args = Args { listen: "127.0.0.1:12345".to_owned(), state: None, serial: None };
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--listen" => args.listen = value()?,
            "--state" => args.state = Some(PathBuf::from(value()?)),
            "--serial" => {
                let v = value()?;
                let serial = v
                    .parse::<u32>()
                    .map_err(|_| format!("--serial takes a decimal number, not `{v}`"))?;
                args.serial = Some(serial);
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown option `{other}`\n{USAGE}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let device = match open_device(&args) {
        Ok(d) => d,
        Err(msg) => {
            eprintln!("yhsm-sim: {msg}");
            return ExitCode::FAILURE;
        }
    };
    match http::serve(&args.listen, SharedDevice::new(device), args.state) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("yhsm-sim: cannot serve on {}: {e}", args.listen);
            ExitCode::FAILURE
        }
    }
}

fn open_device(args: &Args) -> Result<Device, String> {
    if let Some(path) = &args.state
        && path.exists()
    {
        let device = state::load(path).map_err(|e| e.to_string())?;
        if args.serial.is_some_and(|s| s != device.serial()) {
            return Err(format!(
                "the state file {} holds device serial {}; drop --serial or use another file",
                path.display(),
                device.serial()
            ));
        }
        return Ok(device);
    }
    let mut config = Config::default();
    if let Some(s) = args.serial {
        config.serial = s;
    }
    Device::new(config).map_err(|e| format!("no OS random numbers for the device RNG: {e}"))
}
