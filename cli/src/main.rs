//! The `yhsm` binary: parses the command line ([`args`]), runs the command's glue
//! ([`commands`]), and exits with 0 (success), 1 (failure) or 2 (usage error). Errors are
//! printed once, here.

mod args;
mod commands;

use std::process::ExitCode;

use args::{Cli, Command};
use commands::terminal::{print, report, warn};
use yhsm::error::EXIT_OK;
use yhsm::{ErrorKind, Result};

fn main() -> ExitCode {
    let env_timeout = std::env::var_os(yhsm::util::timeout::TIMEOUT_ENV);
    let code = match args::parse(std::env::args_os().skip(1), env_timeout) {
        Err(e) => report(&e),
        Ok(cli) => {
            for warning in &cli.warnings {
                warn(warning);
            }
            let help = match cli.command.name() {
                Some(name) => format!("run `yhsm {name} --help` for usage"),
                None => "run `yhsm --help` for usage".to_owned(),
            };
            match run(cli) {
                Ok(code) => code,
                Err(e) if e.kind() == ErrorKind::Usage => report(&e.or_hint(help)),
                Err(e) => report(&e),
            }
        }
    };
    ExitCode::from(code)
}

/// `yhsm --version`, and with `-v` what docs/AUDIT.md needs to rebuild this very binary
/// (recorded by build.rs).
fn version(verbose: bool) -> String {
    let mut out = format!("yhsm {}\n", env!("CARGO_PKG_VERSION"));
    if verbose {
        out.push_str(concat!(
            "commit: ",
            env!("YHSM_BUILD_COMMIT"),
            "\nfeatures: ",
            env!("YHSM_BUILD_FEATURES"),
            "\ntoolchain: ",
            env!("YHSM_BUILD_TOOLCHAIN"),
            "\nc compiler: ",
            env!("YHSM_BUILD_CC"),
            "\ntarget: ",
            env!("YHSM_BUILD_TARGET"),
            "\n",
        ));
    }
    out
}

/// Runs the command the command line names; its exit code.
fn run(cli: Cli) -> Result<u8> {
    let global = &cli.global;
    match cli.command {
        Command::Help(text) => print(text).map(|()| EXIT_OK),
        Command::Version => print(&version(global.verbose > 0)).map(|()| EXIT_OK),
        Command::Inspect(a) => commands::inspect::run(&a),
        Command::Wrap(a) => commands::wrap::run(&a),
        Command::SharesCombine(a) => commands::shares::combine(&a),
        Command::SharesSplit(a) => commands::shares::split(&a),
        Command::SharesConvert(a) => commands::shares::convert(&a),
        Command::Restore(a) => commands::restore::run(global, &a),
        Command::Setup(a) => commands::setup::run(global, &a),
        Command::Clone(a) => commands::clone::run(global, &a),
        Command::Verify(a) => commands::verify::run(global, &a),
        Command::Dump(a) => commands::dump::run(global, &a),
        Command::List { json } => commands::list::run(global, json),
        Command::Info { json } => commands::info::run(global, json),
        Command::Raw(a) => commands::raw::run(global, &a),
        Command::Delete(a) => commands::admin::delete(global, &a),
        Command::Reset(a) => commands::admin::reset(global, &a),
        Command::ChangePassword(a) => commands::admin::change_password(global, &a),
        Command::PutAuthkey(a) => commands::admin::put_authkey(global, &a),
        #[cfg(feature = "sim")]
        Command::SimServe(a) => commands::sim::serve(a),
        #[cfg(all(feature = "usb-gadget", target_os = "linux"))]
        Command::SimUsbGadget(a) => commands::sim::usb_gadget(a),
    }
}
