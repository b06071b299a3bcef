//! The `yhsm` binary: parses the command line, runs the library, prints, and exits with
//! 0 (success), 1 (failure) or 2 (usage error). Errors are printed once, here.

mod args;

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::process::ExitCode;

use args::{Cli, Command};
use yhsm::backup::{dump, inspect, restore, verify};
use yhsm::error::{EXIT_FAILURE, EXIT_OK};
use yhsm::util::prompt::Prompter;
use yhsm::wrapkey::shares;
use yhsm::{Error, ErrorKind, GlobalOptions, Result, info, list, raw, wrap, wrapkey};
use yhsm_transport::Client;
use zeroize::Zeroizing;

fn main() -> ExitCode {
    let code = match args::parse(std::env::args_os().skip(1)) {
        Err(e) => report(&e),
        Ok(cli) => {
            for warning in &cli.warnings {
                eprintln_safe(&format!("yhsm: warning: {warning}"));
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

fn report(e: &Error) -> u8 {
    eprint_safe(&e.render());
    e.exit_code()
}

/// Writes to stderr; a closed stderr is ignored (there is nowhere left to say so).
fn eprint_safe(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

fn eprintln_safe(text: &str) {
    eprint_safe(&format!("{text}\n"));
}

/// Writes to stdout. A closed pipe (`yhsm … | head`) ends the output quietly.
fn print(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(Error::failure("cannot write to standard output").with_source(e))
        }
        _ => Ok(()),
    }
}

fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Help(text) => print(text).map(|()| EXIT_OK),
        Command::Version => {
            print(&format!("yhsm {}\n", env!("CARGO_PKG_VERSION"))).map(|()| EXIT_OK)
        }
        Command::Inspect(a) => {
            let key = wrapkey::load(&a.key)?.key;
            let results: Vec<inspect::Inspected> =
                a.files.iter().map(|f| inspect::inspect_file(&key, f)).collect();
            if a.json {
                print(&inspect::to_json(&results).to_pretty())?;
            } else {
                print(&inspect::render_human(&results))?;
                for r in &results {
                    if let Err(e) = &r.result {
                        eprintln_safe(&format!(
                            "yhsm: error: {}: {e}",
                            yhsm::util::text::printable(&r.file)
                        ));
                    }
                }
            }
            Ok(if results.iter().all(|r| r.result.is_ok()) { EXIT_OK } else { EXIT_FAILURE })
        }
        Command::Wrap(a) => {
            wrap::check_spec(&a.spec)?;
            let input = yhsm::util::files::read_file(&a.input, "input file")?;
            let object =
                wrap::build_object(&a.spec, &input, &a.input.display().to_string(), a.in_hex)?;
            let key = wrapkey::load(&a.key)?.key;
            let text = wrap::wrap_to_text(&key, &object)?;
            if a.out.as_os_str() == "-" {
                return print(&text).map(|()| EXIT_OK);
            }
            yhsm::util::files::write_file(&a.out, text.as_bytes(), a.force, "output file")?;
            print(&format!(
                "Wrote {}: {} 0x{:04x} ({}), wrapped with {}\n",
                yhsm::util::text::printable(&a.out.display().to_string()),
                object.header.object_type,
                object.header.id,
                object.header.algorithm,
                key.algorithm(),
            ))
            .map(|()| EXIT_OK)
        }
        Command::SharesCombine(a) => {
            let recovered = match &a.shares_file {
                Some(path) => shares::combine_file(path)?,
                None => shares::combine_prompted(&mut TtyPrompter)?,
            };
            if a.json {
                print(&recovered.to_json(a.reveal).to_pretty())?;
            } else {
                print(&recovered.render_human(a.reveal))?;
            }
            Ok(EXIT_OK)
        }
        Command::SharesSplit(a) => {
            let key = wrapkey::load(&a.key)?.key;
            let made = shares::split(&key, &a.options)?;
            print(&shares::render_shares(&made)).map(|()| EXIT_OK)
        }
        Command::SharesConvert(a) => {
            let file = shares::read_shares_file(&a.shares_file)?;
            let recovered =
                shares::combine_shares_file(&file, &a.shares_file.display().to_string())?;
            let made = shares::convert(&file, &recovered, a.to, a.count)?;
            print(&shares::render_shares(&made)).map(|()| EXIT_OK)
        }
        Command::Restore(a) => {
            let env = std::env::var_os(yhsm::util::password::PASSWORD_ENV);
            let mut show = |event: &restore::Event| {
                for line in restore::render(event).into_iter().filter(|_| !a.json) {
                    match line {
                        restore::Line::Out(text) => drop(print(&format!("{text}\n"))),
                        restore::Line::Warning(text) => {
                            eprintln_safe(&format!("yhsm: warning: {text}"));
                        }
                    }
                }
            };
            let outcome = restore::command(&cli.global, &a, &mut TtyPrompter, env, &mut show)?;
            if a.json {
                print(&outcome.to_json().to_pretty())?;
            }
            let code = outcome.exit_code();
            if let Some(e) = outcome.into_failure() {
                report(&e);
            }
            Ok(code)
        }
        Command::Verify(a) => {
            let env = std::env::var_os(yhsm::util::password::PASSWORD_ENV);
            let outcome = verify::command(&cli.global, &a, &mut TtyPrompter, env)?;
            if a.json {
                print(&outcome.to_json().to_pretty())?;
            } else {
                print(&outcome.render_human())?;
            }
            let code = outcome.exit_code();
            if let Some(e) = outcome.into_failure() {
                report(&e);
            }
            Ok(code)
        }
        Command::Dump(a) => {
            let mut client = connect(&cli.global)?;
            let json = a.json;
            let report = dump::dump(&mut client, &a.options, &mut |d| {
                if json {
                    return;
                }
                match &d.outcome {
                    dump::Outcome::Failed { .. } => {
                        eprintln_safe(&format!("yhsm: error: {}", d.render()));
                    }
                    // A failing stdout shows at the summary below.
                    _ => drop(print(&format!("{}\n", d.render()))),
                }
            })?;
            if json {
                print(&report.to_json().to_pretty())?;
            } else {
                print(&report.summary())?;
            }
            Ok(if report.failed() == 0 { EXIT_OK } else { EXIT_FAILURE })
        }
        Command::List { json } => {
            let mut client = connect(&cli.global)?;
            let objects = list::list_objects(&mut client)?;
            if json {
                print(&list::to_json(&objects).to_pretty())?;
            } else {
                print(&list::render_human(&objects))?;
            }
            Ok(EXIT_OK)
        }
        Command::Info { json } => {
            let mut client = connect(&cli.global)?;
            let info = info::read(&mut client)?;
            if json {
                print(&info::to_json(&info).to_pretty())?;
            } else {
                print(&info::render_human(&info))?;
            }
            Ok(EXIT_OK)
        }
        Command::Raw(a) => {
            let mut client = connect(&cli.global)?;
            let response = raw::send(&mut client, a.code, &a.data)?;
            print(&response.render())?;
            match response.device_error() {
                Some(e) => Err(e),
                None => Ok(EXIT_OK),
            }
        }
        #[cfg(feature = "sim")]
        Command::SimServe(a) => {
            let options =
                yhsm::sim::ServeOptions { listen: a.listen, state: a.state, serial: a.serial };
            yhsm::sim::serve(&options).map(|()| EXIT_OK)
        }
        #[cfg(all(feature = "usb-gadget", target_os = "linux"))]
        Command::SimUsbGadget(a) => {
            let options = yhsm::sim::GadgetOptions {
                serial: a.serial,
                udc: a.udc,
                state: a.state,
                delay: std::time::Duration::from_millis(a.delay_ms),
            };
            yhsm::sim::usb_gadget(&options, &mut io::stdout()).map(|()| EXIT_OK)
        }
    }
}

/// Opens a session as the global options say; the password prompt is the terminal's.
fn connect(global: &GlobalOptions) -> Result<Client> {
    yhsm::connect(global, std::env::var_os(yhsm::util::password::PASSWORD_ENV), &mut |prompt| {
        TtyPrompter.read_secret(prompt)
    })
}

/// Prompts on the controlling terminal, never on stdout (which may be redirected to a
/// file); secrets are read with echo off (rpassword).
struct TtyPrompter;

/// The longest line read at a prompt: a share is under 110 characters.
const MAX_LINE: usize = 4096;

fn open_tty() -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open("/dev/tty")
}

impl Prompter for TtyPrompter {
    fn read_line(&mut self, prompt: &str) -> io::Result<Option<Zeroizing<String>>> {
        let mut tty = open_tty()?;
        tty.write_all(prompt.as_bytes())?;
        tty.flush()?;
        let mut line = Zeroizing::new(Vec::with_capacity(MAX_LINE));
        let mut byte = [0u8; 1];
        loop {
            // Byte by byte: nothing typed after the newline is consumed here.
            if tty.read(&mut byte)? == 0 {
                if line.is_empty() {
                    return Ok(None);
                }
                break;
            }
            if byte[0] == b'\n' {
                break;
            }
            if line.len() >= MAX_LINE {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            line.push(byte[0]);
        }
        let text = std::str::from_utf8(&line)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))?;
        Ok(Some(Zeroizing::new(text.trim_end_matches('\r').to_owned())))
    }

    fn read_secret(&mut self, prompt: &str) -> io::Result<Option<Zeroizing<String>>> {
        match rpassword::prompt_password(prompt) {
            Ok(s) => Ok(Some(Zeroizing::new(s))),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn message(&mut self, text: &str) -> io::Result<()> {
        let mut tty = open_tty()?;
        tty.write_all(format!("{text}\n").as_bytes())
    }
}
