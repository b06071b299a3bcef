//! The command line, parsed with lexopt into a [`Cli`]: global options and one [`Command`].
//!
//! Global options may come before or after the subcommand. Every problem is a usage error
//! (exit 2) with a hint naming the help to read. Values are never echoed in errors: a
//! misplaced argument may be a password or a share.
//!
//! A new subcommand is a [`Command`] variant, a `parse_*` function here, a line in
//! [`parse_command`], its help text, a module in the library that does the work, and its
//! glue in [`crate::commands`] with a line in [`crate::run`].

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::Parser;
use lexopt::prelude::*;
use yhsm::options::GlobalOptions;
use yhsm::util::password::{NewPassword, PASSWORD_ARGUMENT_WARNING, Password};
use yhsm::util::timeout::{self, TIMEOUT_ENV, TIMEOUT_EXPECTED};
use yhsm::wrap::WrapSpec;
use yhsm::wrapkey::shares::parse_share_count;
use yhsm::wrapkey::{NO_WRAP_KEY_HINT, WRAP_KEY_ARGUMENT_WARNING, WrapKeySource};
use yhsm::{Error, Result};
use yhsm_proto::shares::ShareFormat;
use yhsm_proto::wrap::Encoding;
use yhsm_proto::{Algorithm, Capabilities, Domains, Label, ObjectId, SecretBytes};
use yhsm_transport::ConnectorUrl;
use zeroize::Zeroizing;

/// What the command line asks for.
#[derive(Debug)]
pub struct Cli {
    pub global: GlobalOptions,
    pub command: Command,
    /// Printed before the command runs (`-p`, `--wrap-key`).
    pub warnings: Vec<&'static str>,
    /// The options seen so far, by their long names (see [`once`]).
    seen: Vec<String>,
}

impl Command {
    /// How the user names the command, for `yhsm NAME --help`.
    pub fn name(&self) -> Option<&'static str> {
        Some(match self {
            Self::Help(_) | Self::Version => return None,
            Self::Inspect(_) => "inspect",
            Self::Wrap(_) => "wrap",
            Self::SharesCombine(_) => "shares combine",
            Self::SharesSplit(_) => "shares split",
            Self::SharesConvert(_) => "shares convert",
            Self::Restore(_) => "restore",
            Self::Clone(_) => "clone",
            Self::Verify(_) => "verify",
            Self::Dump(_) => "dump",
            Self::List { .. } => "list",
            Self::Info { .. } => "info",
            Self::Raw(_) => "raw",
            Self::Delete(_) => "delete",
            Self::Reset(_) => "reset",
            Self::ChangePassword(_) => "change-password",
            Self::PutAuthkey(_) => "put-authkey",
            Self::Setup(_) => "setup",
            #[cfg(feature = "sim")]
            Self::SimServe(_) => "sim serve",
            #[cfg(all(feature = "usb-gadget", target_os = "linux"))]
            Self::SimUsbGadget(_) => "sim usb-gadget",
        })
    }
}

/// The subcommands.
#[derive(Debug)]
pub enum Command {
    /// `--help`, or `help [COMMAND]`: the help text to print.
    Help(&'static str),
    Version,
    Inspect(InspectArgs),
    Wrap(WrapArgs),
    SharesCombine(CombineArgs),
    SharesSplit(SplitArgs),
    SharesConvert(ConvertArgs),
    Restore(yhsm::backup::restore::Args),
    Clone(yhsm::backup::clone::Args),
    Verify(yhsm::backup::verify::Args),
    Dump(DumpArgs),
    List {
        json: bool,
    },
    Info {
        json: bool,
    },
    Raw(RawArgs),
    Delete(yhsm::admin::delete::Args),
    Reset(yhsm::admin::reset::Args),
    ChangePassword(yhsm::admin::password::Args),
    PutAuthkey(yhsm::admin::authkey::Args),
    Setup(yhsm::backup::setup::Args),
    #[cfg(feature = "sim")]
    SimServe(SimServeArgs),
    #[cfg(all(feature = "usb-gadget", target_os = "linux"))]
    SimUsbGadget(SimGadgetArgs),
}

#[derive(Debug)]
pub struct DumpArgs {
    pub options: yhsm::backup::dump::DumpOptions,
    pub json: bool,
}

#[derive(Debug)]
pub struct RawArgs {
    pub code: yhsm_proto::frame::CommandCode,
    pub data: Vec<u8>,
}

#[cfg(feature = "sim")]
#[derive(Debug)]
pub struct SimServeArgs {
    pub listen: String,
    pub state: Option<PathBuf>,
    pub serial: Option<u32>,
}

#[cfg(all(feature = "usb-gadget", target_os = "linux"))]
#[derive(Debug)]
pub struct SimGadgetArgs {
    pub serial: u32,
    pub udc: Option<String>,
    pub state: Option<PathBuf>,
    pub delay_ms: u64,
}

#[derive(Debug)]
pub struct InspectArgs {
    pub files: Vec<PathBuf>,
    /// `None`: ask for the shares at the terminal, as restore does.
    pub key: Option<WrapKeySource>,
    pub json: bool,
}

#[derive(Debug)]
pub struct WrapArgs {
    pub key: WrapKeySource,
    pub spec: WrapSpec,
    pub input: PathBuf,
    pub in_hex: bool,
    pub out: PathBuf,
    pub force: bool,
    pub encoding: Encoding,
}

#[derive(Debug)]
pub struct CombineArgs {
    /// `--shares-file`, once or more; none: ask for the shares at the terminal.
    pub shares_files: Vec<PathBuf>,
    /// A wrap-key description to check each share and the result against.
    pub description: Option<PathBuf>,
    pub json: bool,
    pub reveal: bool,
}

#[derive(Debug)]
pub struct SplitArgs {
    pub key: WrapKeySource,
    pub options: yhsm::wrapkey::shares::SplitOptions,
}

#[derive(Debug)]
pub struct ConvertArgs {
    /// `--shares-file`, once or more.
    pub shares_files: Vec<PathBuf>,
    pub to: ShareFormat,
    pub count: Option<u8>,
}

/// Parses the arguments after the program name; `env_timeout` is the value of
/// `YHSM_TIMEOUT`, used when `--timeout` is not given.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    env_timeout: Option<OsString>,
) -> Result<Cli> {
    let mut cli = parse_args(args).map_err(|e| e.or_hint(HELP_HINT))?;
    if let Some(value) = env_timeout.filter(|v| !v.is_empty())
        && cli.global.timeout.is_none()
    {
        let value = value.to_str().and_then(timeout::parse_seconds).ok_or_else(|| {
            Error::usage(format!(
                "the {TIMEOUT_ENV} environment variable: expected {TIMEOUT_EXPECTED}"
            ))
            .with_hint(HELP_HINT)
        })?;
        cli.global.timeout = Some(value);
    }
    Ok(cli)
}

fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Cli> {
    let mut p = Parser::from_args(args);
    let mut cli = Cli {
        global: GlobalOptions::default(),
        command: Command::Version,
        warnings: vec![],
        seen: vec![],
    };
    let name = loop {
        let Some(arg) = p.next().map_err(lexopt_error)? else {
            return Err(Error::usage("no command given").with_hint(HELP_HINT));
        };
        match arg {
            Short('h') | Long("help") => {
                cli.command = Command::Help(HELP);
                return Ok(cli);
            }
            Short('V') | Long("version") => {
                // `yhsm --version -v`: the build's details as well.
                while let Some(arg) = p.next().map_err(lexopt_error)? {
                    match arg {
                        Short('v') | Long("verbose") => {
                            cli.global.verbose = cli.global.verbose.saturating_add(1);
                        }
                        arg => return Err(unknown_option(&owned(&arg)).with_hint(HELP_HINT)),
                    }
                }
                return Ok(cli);
            }
            Value(v) => break v,
            arg => {
                let arg = once(&mut cli, &arg, &[])?;
                if !global_option(&arg, &mut p, &mut cli)? {
                    return Err(unknown_option(&arg).with_hint(HELP_HINT));
                }
            }
        }
    };
    let name = name.into_string().map_err(|_| unknown_command())?;
    cli.command = parse_command(&name, &mut p, &mut cli)?;
    if cli.global.password.file.is_some() && cli.global.password.argument.is_some() {
        return Err(Error::usage("both --password-file and -p give the password; use one")
            .with_hint(HELP_HINT));
    }
    // One --force for every output file of the run, wherever it was written.
    match &mut cli.command {
        Command::Dump(a) => a.options.force |= cli.global.force,
        Command::Wrap(a) => a.force |= cli.global.force,
        _ => {}
    }
    check_traces(&cli)?;
    Ok(cli)
}

/// The trace options together, and `--trace-raw` against the command: a restore sends the
/// wrap key and every object's key, which a raw trace would give to anyone who knows or
/// guesses the password; it is refused before anything is asked or opened. (Other
/// commands that move key material, as `raw` may, are refused by the client before they
/// are sent.)
fn check_traces(cli: &Cli) -> Result<()> {
    let g = &cli.global;
    if g.trace_raw.is_none() {
        if g.trace_raw_keys {
            return Err(
                Error::usage("--trace-raw-keys goes with --trace-raw FILE").with_hint(HELP_HINT)
            );
        }
        return Ok(());
    }
    if g.trace.is_some() && g.trace == g.trace_raw {
        return Err(Error::usage("--trace and --trace-raw name the same file; give each its own")
            .with_hint(HELP_HINT));
    }
    let writes = match &cli.command {
        Command::Restore(a) => (!a.dry_run).then_some("restore"),
        Command::Clone(a) => (!a.dry_run).then_some("clone"),
        _ => None,
    };
    if let Some(command) = writes
        && !g.trace_raw_keys
    {
        return Err(Error::usage(format!(
            "--trace-raw: {command} sends the wrap key (put-wrap-key) and every object's key \
             (import-wrapped), which anyone who knows or guesses the password could read \
             from the raw trace"
        ))
        .with_hint(yhsm::trace::RAW_TRACE_REFUSED_HINT));
    }
    if let Command::Setup(_) = &cli.command
        && !g.trace_raw_keys
    {
        return Err(Error::usage(
            "--trace-raw: setup sends the new wrap key (put-wrap-key) and the new keys \
             (put-authentication-key), which anyone who knows or guesses the password could \
             read from the raw trace; refused before any share is handed out",
        )
        .with_hint(yhsm::trace::RAW_TRACE_REFUSED_HINT));
    }
    Ok(())
}

const HELP_HINT: &str = "run `yhsm --help` for usage";

/// Printed when `--trace-raw` is given.
const TRACE_RAW_WARNING: &str = "--trace-raw: anyone who knows or guesses the password can \
    decrypt the sessions recorded in that file; keep it private";

fn parse_command(name: &str, p: &mut Parser, cli: &mut Cli) -> Result<Command> {
    let (command, help): (Result<Command>, &str) = match name {
        "inspect" => (parse_inspect(p, cli), "inspect"),
        "wrap" => (parse_wrap(p, cli), "wrap"),
        "restore" => (parse_restore(p, cli), "restore"),
        "setup" => (parse_setup(p, cli), "setup"),
        "clone" => (parse_clone(p, cli), "clone"),
        "verify" => (parse_verify(p, cli), "verify"),
        "shares" => {
            let sub = loop {
                match p.next().map_err(lexopt_error)? {
                    None => {
                        return Err(Error::usage(
                            "`shares` needs a subcommand: combine, split or convert",
                        )
                        .with_hint("run `yhsm shares --help` for usage"));
                    }
                    Some(Short('h') | Long("help")) => return Ok(Command::Help(SHARES_HELP)),
                    Some(Value(v)) => break v.into_string().unwrap_or_default(),
                    Some(arg) => {
                        let arg = once(cli, &arg, &[])?;
                        if !global_option(&arg, p, cli)? {
                            return Err(unknown_option(&arg)
                                .with_hint("run `yhsm shares --help` for usage"));
                        }
                    }
                }
            };
            match sub.as_str() {
                "combine" => (parse_combine(p, cli), "shares combine"),
                "split" => (parse_split(p, cli), "shares split"),
                "convert" => (parse_convert(p, cli), "shares convert"),
                _ => {
                    return Err(Error::usage(
                        "unknown `shares` subcommand; expected combine, split or convert",
                    )
                    .with_hint("run `yhsm shares --help` for usage"));
                }
            }
        }
        "dump" => (parse_dump(p, cli), "dump"),
        "list" => (parse_json_only(p, cli, LIST_HELP).map(|json| json_command(json, true)), "list"),
        "info" => {
            (parse_json_only(p, cli, INFO_HELP).map(|json| json_command(json, false)), "info")
        }
        "raw" => (parse_raw(p, cli), "raw"),
        "delete" => (parse_delete(p, cli), "delete"),
        "reset" => (parse_reset(p, cli), "reset"),
        "change-password" => (parse_change_password(p, cli), "change-password"),
        "put-authkey" => (parse_put_authkey(p, cli), "put-authkey"),
        "sim" => {
            let sub = loop {
                match p.next().map_err(lexopt_error)? {
                    None => {
                        return Err(Error::usage("`sim` needs a subcommand: serve or usb-gadget")
                            .with_hint("run `yhsm sim --help` for usage"));
                    }
                    Some(Short('h') | Long("help")) => return Ok(Command::Help(SIM_HELP)),
                    Some(Value(v)) => break v.into_string().unwrap_or_default(),
                    Some(arg) => {
                        let arg = once(cli, &arg, &[])?;
                        if !global_option(&arg, p, cli)? {
                            return Err(
                                unknown_option(&arg).with_hint("run `yhsm sim --help` for usage")
                            );
                        }
                    }
                }
            };
            match sub.as_str() {
                "serve" => (parse_sim_serve(p, cli), "sim serve"),
                "usb-gadget" => (parse_sim_gadget(p, cli), "sim usb-gadget"),
                _ => {
                    return Err(Error::usage(
                        "unknown `sim` subcommand; expected serve or usb-gadget",
                    )
                    .with_hint("run `yhsm sim --help` for usage"));
                }
            }
        }
        "help" => {
            let topic = p.next().map_err(lexopt_error)?;
            let text = match topic {
                None => HELP,
                Some(Value(v)) => help_for(&v.to_string_lossy()).ok_or_else(unknown_command)?,
                Some(_) => HELP,
            };
            return Ok(Command::Help(text));
        }
        _ => return Err(unknown_command()),
    };
    command.map_err(|e| e.or_hint(format!("run `yhsm {help} --help` for usage")))
}

fn help_for(topic: &str) -> Option<&'static str> {
    Some(match topic {
        "inspect" => INSPECT_HELP,
        "wrap" => WRAP_HELP,
        "shares" => SHARES_HELP,
        "combine" => COMBINE_HELP,
        "split" => SPLIT_HELP,
        "convert" => CONVERT_HELP,
        "restore" => RESTORE_HELP,
        "setup" => SETUP_HELP,
        "clone" => CLONE_HELP,
        "verify" => VERIFY_HELP,
        "dump" => DUMP_HELP,
        "list" => LIST_HELP,
        "info" => INFO_HELP,
        "raw" => RAW_HELP,
        "delete" => DELETE_HELP,
        "reset" => RESET_HELP,
        "change-password" => CHANGE_PASSWORD_HELP,
        "put-authkey" => PUT_AUTHKEY_HELP,
        "sim" => SIM_HELP,
        "serve" => SIM_SERVE_HELP,
        "usb-gadget" => SIM_GADGET_HELP,
        _ => return None,
    })
}

fn unknown_command() -> Error {
    Error::usage(
        "unknown command; expected inspect, wrap, shares, setup, restore, clone, verify, dump, \
         list, info, delete, reset, change-password, put-authkey, raw or sim",
    )
    .with_hint(HELP_HINT)
}

/// Options that may be given more than once: `-vv`, and one `--shares-file` per
/// custodian (issue 10 §5). Any other option given twice is a usage error, whichever of
/// its spellings (`-d`, `--keep-authkey`) each time.
const REPEATABLE: [&str; 3] = ["verbose", "shares-file", "help"];

/// The global options' short forms; a command's own short forms (`-c` is `wrap`'s
/// `--capabilities`) come first.
const GLOBAL_SHORTS: &[(char, &str)] =
    &[('c', "connector"), ('k', "authkey"), ('p', "password"), ('v', "verbose"), ('h', "help")];
const WRAP_SHORTS: &[(char, &str)] = &[
    ('a', "algorithm"),
    ('i', "id"),
    ('l', "label"),
    ('d', "domains"),
    ('c', "capabilities"),
    ('e', "delegated"),
];
const SPLIT_SHORTS: &[(char, &str)] = &[
    ('t', "threshold"),
    ('n', "shares"),
    ('i', "id"),
    ('d', "domains"),
    ('c', "capabilities"),
    ('e', "delegated"),
];
const CONVERT_SHORTS: &[(char, &str)] = &[('n', "shares")];
const RESTORE_SHORTS: &[(char, &str)] = &[('d', "keep-authkey")];
const DUMP_SHORTS: &[(char, &str)] = &[('w', "wrapkey")];
const SETUP_SHORTS: &[(char, &str)] =
    &[('t', "threshold"), ('n', "shares"), ('d', "domains"), ('y', "yes")];
const DELETE_SHORTS: &[(char, &str)] = &[('y', "yes")];
const PUT_AUTHKEY_SHORTS: &[(char, &str)] =
    &[('i', "id"), ('l', "label"), ('d', "domains"), ('c', "capabilities"), ('e', "delegated")];

/// `arg` as an [`Opt`], refusing an option given before (see [`REPEATABLE`]); `shorts`
/// names the command's own short options.
fn once(cli: &mut Cli, arg: &lexopt::Arg<'_>, shorts: &[(char, &'static str)]) -> Result<Opt> {
    let opt = owned(arg);
    let name = match &opt {
        Opt::Value => return Ok(opt),
        Opt::Long(l) => l.clone(),
        Opt::Short(c) => shorts
            .iter()
            .chain(GLOBAL_SHORTS)
            .find(|(s, _)| s == c)
            .map_or_else(|| c.to_string(), |(_, long)| (*long).to_owned()),
    };
    if REPEATABLE.contains(&name.as_str()) {
        return Ok(opt);
    }
    if cli.seen.contains(&name) {
        return Err(Error::usage(format!(
            "`{}` is given more than once; give each option once (only -v and --shares-file \
             may be repeated)",
            spelled(&opt)
        )));
    }
    cli.seen.push(name);
    Ok(opt)
}

/// An option as the user wrote it, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Opt {
    Short(char),
    Long(String),
    Value,
}

fn owned(arg: &lexopt::Arg<'_>) -> Opt {
    match arg {
        Short(c) => Opt::Short(*c),
        Long(l) => Opt::Long((*l).to_owned()),
        Value(_) => Opt::Value,
    }
}

fn spelled(opt: &Opt) -> String {
    match opt {
        Opt::Short(c) => format!("-{c}"),
        Opt::Long(l) => format!("--{l}"),
        Opt::Value => "argument".to_owned(),
    }
}

fn unknown_option(opt: &Opt) -> Error {
    match opt {
        Opt::Value => Error::usage("unexpected argument"),
        opt => Error::usage(format!("unknown option `{}`", spelled(opt))),
    }
}

fn lexopt_error(e: lexopt::Error) -> Error {
    Error::usage(match e {
        lexopt::Error::MissingValue { option: Some(o) } => format!("option `{o}` needs a value"),
        lexopt::Error::MissingValue { option: None } => "a value is missing".to_owned(),
        lexopt::Error::UnexpectedOption(o) => format!("unknown option `{o}`"),
        lexopt::Error::UnexpectedArgument(_) => "unexpected argument".to_owned(),
        lexopt::Error::UnexpectedValue { option, .. } => {
            format!("option `{option}` takes no value")
        }
        lexopt::Error::NonUnicodeValue(_) => "an argument is not valid UTF-8".to_owned(),
        other => format!("cannot parse the command line: {other}"),
    })
}

/// The next value, as UTF-8 text.
fn text(p: &mut Parser, opt: &Opt) -> Result<String> {
    p.value()
        .map_err(lexopt_error)?
        .into_string()
        .map_err(|_| Error::usage(format!("the value of `{}` is not valid UTF-8", spelled(opt))))
}

/// The next value, parsed; `expected` says what a valid value looks like.
fn parsed<T>(
    p: &mut Parser,
    opt: &Opt,
    expected: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T> {
    let value = text(p, opt)?;
    parse(&value).ok_or_else(|| Error::usage(format!("`{}`: expected {expected}", spelled(opt))))
}

fn path(p: &mut Parser) -> Result<PathBuf> {
    p.value().map(PathBuf::from).map_err(lexopt_error)
}

/// Handles `arg` if it is a global option; `false` if it is not one.
fn global_option(arg: &Opt, p: &mut Parser, cli: &mut Cli) -> Result<bool> {
    let g = &mut cli.global;
    match arg {
        _ if is(arg, 'c', "connector") => {
            let url = text(p, arg)?;
            g.connector = url
                .parse::<ConnectorUrl>()
                .map_err(|e| Error::usage(format!("`{}`: {e}", spelled(arg))))?;
        }
        _ if is(arg, 'k', "authkey") => {
            g.authkey =
                parsed(p, arg, "an object id: decimal, or hex with 0x, at most 0xffff", |s| {
                    yhsm_proto::object::parse_object_id(s).ok()
                })?;
        }
        Opt::Long(l) if l == "password-file" => g.password.file = Some(path(p)?),
        _ if is(arg, 'p', "password") => {
            let value = Zeroizing::new(text(p, arg)?);
            g.password.argument = Some(Password::new(SecretBytes::from_slice(value.as_bytes())));
            cli.warnings.push(PASSWORD_ARGUMENT_WARNING);
        }
        _ if is(arg, 'v', "verbose") => g.verbose = g.verbose.saturating_add(1),
        Opt::Long(l) if l == "trace" => g.trace = Some(path(p)?),
        Opt::Long(l) if l == "trace-raw" => {
            g.trace_raw = Some(path(p)?);
            cli.warnings.push(TRACE_RAW_WARNING);
        }
        Opt::Long(l) if l == "trace-raw-keys" => g.trace_raw_keys = true,
        Opt::Long(l) if l == "force" => g.force = true,
        Opt::Long(l) if l == "timeout" => {
            g.timeout = Some(parsed(p, arg, TIMEOUT_EXPECTED, timeout::parse_seconds)?);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn is(arg: &Opt, short: char, long: &str) -> bool {
    match arg {
        Opt::Short(c) => *c == short,
        Opt::Long(l) => l == long,
        Opt::Value => false,
    }
}

/// The wrap-key options shared by inspect, wrap and split.
#[derive(Default)]
struct KeyOptions {
    sources: Vec<WrapKeySource>,
}

impl KeyOptions {
    /// Handles `arg` if it is a wrap-key option.
    fn take(&mut self, arg: &Opt, p: &mut Parser, cli: &mut Cli, shares: bool) -> Result<bool> {
        match arg {
            Opt::Long(l) if l == "wrap-key-file" => {
                self.sources.push(WrapKeySource::File(path(p)?))
            }
            Opt::Long(l) if l == "wrap-key" => {
                self.sources.push(WrapKeySource::Hex(Zeroizing::new(text(p, arg)?)));
                cli.warnings.push(WRAP_KEY_ARGUMENT_WARNING);
            }
            // One shares file per custodian: every --shares-file adds to one source.
            Opt::Long(l) if l == "shares-file" && shares => {
                let file = path(p)?;
                match self.sources.iter_mut().find_map(|s| match s {
                    WrapKeySource::SharesFiles(files) => Some(files),
                    _ => None,
                }) {
                    Some(files) => files.push(file),
                    None => self.sources.push(WrapKeySource::SharesFiles(vec![file])),
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn one(mut self, shares: bool) -> Result<WrapKeySource> {
        let hint =
            if shares { NO_WRAP_KEY_HINT } else { "use --wrap-key-file FILE or --wrap-key HEX" };
        match self.sources.len() {
            0 => Err(Error::usage("no wrap key given").with_hint(hint)),
            1 => self.sources.pop().ok_or_else(|| Error::usage("no wrap key given")),
            _ => Err(Error::usage("more than one wrap key given").with_hint(hint)),
        }
    }
}

/// Handles the options every subcommand shares: help and the global options. Anything
/// else is an error.
fn common(arg: &Opt, p: &mut Parser, cli: &mut Cli, help: &'static str) -> Result<Option<Command>> {
    if is(arg, 'h', "help") {
        return Ok(Some(Command::Help(help)));
    }
    if global_option(arg, p, cli)? {
        return Ok(None);
    }
    Err(unknown_option(arg))
}

fn parse_inspect(p: &mut Parser, cli: &mut Cli) -> Result<Command> {
    let mut key = KeyOptions::default();
    let mut files = Vec::new();
    let mut json = false;
    while let Some(arg) = p.next().map_err(lexopt_error)? {
        if let Value(v) = arg {
            files.push(PathBuf::from(v));
            continue;
        }
        let arg = once(cli, &arg, &[])?;
        if key.take(&arg, p, cli, true)? {
            continue;
        }
        match &arg {
            Opt::Long(l) if l == "json" => json = true,
            _ => {
                if let Some(help) = common(&arg, p, cli, INSPECT_HELP)? {
                    return Ok(help);
                }
            }
        }
    }
    let key = if key.sources.is_empty() { None } else { Some(key.one(true)?) };
    if files.is_empty() {
        return Err(Error::usage("no files given: name the .yhw files to inspect"));
    }
    Ok(Command::Inspect(InspectArgs { files, key, json }))
}

fn require<T>(value: Option<T>, option: &str) -> Result<T> {
    value.ok_or_else(|| Error::usage(format!("missing {option}")))
}

const ID: &str = "an object id: decimal, or hex with 0x, at most 0xffff";
const DOMAINS: &str = "domains: numbers 1 to 16 separated by `:` or `,`, `all`, or a 0x mask";
const CAPABILITIES: &str = "capabilities: names separated by `,` (see yubihsm-shell), `all`, \
    `none`, or a 0x mask";

fn id(p: &mut Parser, arg: &Opt) -> Result<ObjectId> {
    parsed(p, arg, ID, |s| yhsm_proto::object::parse_object_id(s).ok())
}

fn domains(p: &mut Parser, arg: &Opt) -> Result<Domains> {
    parsed(p, arg, DOMAINS, |s| s.parse().ok())
}

fn capabilities(p: &mut Parser, arg: &Opt) -> Result<Capabilities> {
    parsed(p, arg, CAPABILITIES, |s| s.parse().ok())
}

/// Capabilities where `all` means the bits that have a name (0 to 55), not all 64: what a
/// device keeps of `all` (yubihsm-manager drops the others), so that the value compares
/// equal later.
fn defined_capabilities(p: &mut Parser, arg: &Opt) -> Result<Capabilities> {
    parsed(p, arg, CAPABILITIES, |s| {
        if s.trim().eq_ignore_ascii_case("all") {
            Some(Capabilities::KNOWN)
        } else {
            s.parse().ok()
        }
    })
}

fn encoding(p: &mut Parser, arg: &Opt) -> Result<Encoding> {
    parsed(p, arg, "base64 or binary", |s| s.parse().ok())
}

fn parse_wrap(p: &mut Parser, cli: &mut Cli) -> Result<Command> {
    let mut key = KeyOptions::default();
    let (mut id_, mut label, mut domains_, mut caps, mut delegated, mut algorithm) =
        (None, Label::default(), None, None, None, None);
    let (mut input, mut out, mut force, mut in_hex) = (None, None, false, false);
    let mut encoding_ = Encoding::Base64;
    while let Some(arg) = p.next().map_err(lexopt_error)? {
        let arg = once(cli, &arg, WRAP_SHORTS)?;
        if key.take(&arg, p, cli, true)? {
            continue;
        }
        match &arg {
            _ if is(&arg, 'i', "id") => id_ = Some(id(p, &arg)?),
            _ if is(&arg, 'l', "label") => {
                label = parsed(p, &arg, "a label of at most 40 bytes", |s| s.parse().ok())?;
            }
            _ if is(&arg, 'd', "domains") => domains_ = Some(domains(p, &arg)?),
            _ if is(&arg, 'c', "capabilities") => caps = Some(capabilities(p, &arg)?),
            _ if is(&arg, 'e', "delegated") => delegated = Some(capabilities(p, &arg)?),
            _ if is(&arg, 'a', "algorithm") => {
                algorithm = Some(parsed(p, &arg, "an algorithm name, e.g. ecp256", |s| {
                    s.parse::<Algorithm>().ok().filter(|a| a.is_known())
                })?);
            }
            Opt::Long(l) if l == "in" => input = Some(path(p)?),
            Opt::Long(l) if l == "out" => out = Some(path(p)?),
            Opt::Long(l) if l == "force" => {
                force = true;
                cli.global.force = true;
            }
            Opt::Long(l) if l == "in-hex" => in_hex = true,
            Opt::Long(l) if l == "encoding" => encoding_ = encoding(p, &arg)?,
            _ => {
                if let Some(help) = common(&arg, p, cli, WRAP_HELP)? {
                    return Ok(help);
                }
            }
        }
    }
    let spec = WrapSpec {
        algorithm: require(algorithm, "--algorithm")?,
        id: require(id_, "--id")?,
        label,
        domains: require(domains_, "--domains")?,
        capabilities: require(caps, "--capabilities")?,
        delegated,
    };
    let input = require(input, "--in")?;
    let out = require(out, "--out")?;
    let key = key.one(true)?;
    Ok(Command::Wrap(WrapArgs { key, spec, input, in_hex, out, force, encoding: encoding_ }))
}

fn parse_combine(p: &mut Parser, cli: &mut Cli) -> Result<Command> {
    let (mut shares_files, mut description, mut json, mut reveal) =
        (Vec::new(), None, false, false);
    while let Some(arg) = p.next().map_err(lexopt_error)? {
        let arg = once(cli, &arg, &[])?;
        match &arg {
            Opt::Long(l) if l == "shares-file" => shares_files.push(path(p)?),
            Opt::Long(l) if l == "description" => description = Some(path(p)?),
            Opt::Long(l) if l == "json" => json = true,
            Opt::Long(l) if l == "reveal" => reveal = true,
            _ => {
                if let Some(help) = common(&arg, p, cli, COMBINE_HELP)? {
                    return Ok(help);
                }
            }
        }
    }
    Ok(Command::SharesCombine(CombineArgs { shares_files, description, json, reveal }))
}

fn format(p: &mut Parser, arg: &Opt) -> Result<ShareFormat> {
    parsed(p, arg, "yubihsm-setup or yubihsm-manager", |s| s.parse().ok())
}

/// `-t K` of `shares split`: 2 to 9. With a threshold of 1 every share would be the key
/// itself, so no format allows it for a split.
fn threshold(p: &mut Parser, arg: &Opt) -> Result<u8> {
    parsed(
        p,
        arg,
        "a threshold from 2 to 9 (with 1, every share would hold the key in clear)",
        parse_share_count,
    )
}

/// `-n N` of `shares split` and `shares convert`: at least the threshold, which is at
/// least 2, and at most 9.
fn count(p: &mut Parser, arg: &Opt) -> Result<u8> {
    parsed(p, arg, "a number of shares from 2 to 9 (and at least the threshold)", parse_share_count)
}

fn parse_setup(p: &mut Parser, cli: &mut Cli) -> Result<Command> {
    use yhsm::backup::setup::{Args, profile};
    let mut a = Args::default();
    let mut dir = None;
    while let Some(arg) = p.next().map_err(lexopt_error)? {
        if let Value(v) = arg {
            if dir.replace(PathBuf::from(v)).is_some() {
                return Err(Error::usage("more than one directory given"));
            }
            continue;
        }
        let arg = once(cli, &arg, SETUP_SHORTS)?;
        let long = |name: &str| matches!(&arg, Opt::Long(l) if l == name);
        match &arg {
            _ if long("profile") => {
                a.profile =
                    Some(parsed(p, &arg, "a profile: ksp, ejbca or wrap-only", profile::find)?);
            }
            _ if is(&arg, 'd', "domains") => a.domains = Some(domains(p, &arg)?),
            _ if long("capabilities") => a.capabilities = Some(defined_capabilities(p, &arg)?),
            _ if long("delegated") => a.delegated = Some(defined_capabilities(p, &arg)?),
            _ if long("wrap-delegated") => {
                a.wrap_delegated = Some(defined_capabilities(p, &arg)?);
            }
            _ if long("wrap-key-id") => a.wrap_key_id = Some(id(p, &arg)?),
            _ if long("app-key-id") => a.app_key_id = Some(id(p, &arg)?),
            _ if long("audit-key-id") => a.audit_key_id = Some(id(p, &arg)?),
            _ if long("audit") => a.audit = Some(true),
            _ if long("no-audit") => a.audit = Some(false),
            _ if long("rsa-decryption") => a.rsa_decryption = Some(true),
            _ if long("no-rsa-decryption") => a.rsa_decryption = Some(false),
            _ if is(&arg, 't', "threshold") => a.threshold = Some(threshold(p, &arg)?),
            _ if is(&arg, 'n', "shares") => a.shares = Some(count(p, &arg)?),
            _ if long("share-format") => {
                a.share_format = parsed(p, &arg, "setup or manager", |s| match s {
                    "setup" => Some(ShareFormat::YubihsmSetup),
                    "manager" => Some(ShareFormat::YubihsmManager),
                    other => other.parse().ok(),
                })?;
            }
            _ if long("shares-dir") => a.shares_dir = Some(path(p)?),
            Opt::Long(l) if l == "shares-file" => a.shares_files.push(path(p)?),
            _ if long("app-password-file") => a.app_password = NewPassword::File(path(p)?),
            _ if long("audit-password-file") => a.audit_password = NewPassword::File(path(p)?),
            _ if long("keep-authkey") => a.keep_authkey = true,
            _ if long("resume") => a.resume = true,
            _ if is(&arg, 'y', "yes") => a.yes = true,
            _ => {
                if let Some(help) = common(&arg, p, cli, SETUP_HELP)? {
                    return Ok(help);
                }
            }
        }
    }
    if let Some(dir) = dir {
        a.dir = dir;
    }
    Ok(Command::Setup(a))
}

fn parse_split(p: &mut Parser, cli: &mut Cli) -> Result<Command> {
    let mut key = KeyOptions::default();
    let (mut threshold_, mut n, mut id_, mut domains_, mut caps, mut delegated) =
        (None, None, None, None, None, None);
    let mut share_format = ShareFormat::YubihsmSetup;
    while let Some(arg) = p.next().map_err(lexopt_error)? {
        let arg = once(cli, &arg, SPLIT_SHORTS)?;
        if key.take(&arg, p, cli, false)? {
            continue;
        }
        match &arg {
            _ if is(&arg, 't', "threshold") => threshold_ = Some(threshold(p, &arg)?),
            _ if is(&arg, 'n', "shares") => n = Some(count(p, &arg)?),
            _ if is(&arg, 'i', "id") => id_ = Some(id(p, &arg)?),
            _ if is(&arg, 'd', "domains") => domains_ = Some(domains(p, &arg)?),
            _ if is(&arg, 'c', "capabilities") => caps = Some(defined_capabilities(p, &arg)?),
            _ if is(&arg, 'e', "delegated") => delegated = Some(defined_capabilities(p, &arg)?),
            Opt::Long(l) if l == "format" => share_format = format(p, &arg)?,
            _ => {
                if let Some(help) = common(&arg, p, cli, SPLIT_HELP)? {
                    return Ok(help);
                }
            }
        }
    }
    let threshold = require(threshold_, "-t (the threshold)")?;
    let count = require(n, "-n (the number of shares)")?;
    if count < threshold {
        return Err(Error::usage(format!(
            "`-n {count}` is fewer shares than the threshold `-t {threshold}`: make from {threshold} \
             to 9 shares"
        )));
    }
    let options = yhsm::wrapkey::shares::SplitOptions {
        threshold,
        count,
        format: share_format,
        wrap_key_id: require(id_, "--id (the wrap key's object id)")?,
        domains: require(domains_, "--domains")?,
        capabilities: require(caps, "--capabilities")?,
        delegated: require(delegated, "--delegated")?,
    };
    Ok(Command::SharesSplit(SplitArgs { key: key.one(false)?, options }))
}

fn parse_convert(p: &mut Parser, cli: &mut Cli) -> Result<Command> {
    let (mut shares_files, mut to, mut n) = (Vec::new(), None, None);
    while let Some(arg) = p.next().map_err(lexopt_error)? {
        let arg = once(cli, &arg, CONVERT_SHORTS)?;
        match &arg {
            Opt::Long(l) if l == "shares-file" => shares_files.push(path(p)?),
            Opt::Long(l) if l == "to" => to = Some(format(p, &arg)?),
            _ if is(&arg, 'n', "shares") => n = Some(count(p, &arg)?),
            _ => {
                if let Some(help) = common(&arg, p, cli, CONVERT_HELP)? {
                    return Ok(help);
                }
            }
        }
    }
    Ok(Command::SharesConvert(ConvertArgs {
        shares_files: if shares_files.is_empty() {
            return Err(Error::usage("missing --shares-file"));
        } else {
            shares_files
        },
        to: require(to, "--to")?,
        count: n,
    }))
}

fn parse_restore(p: &mut Parser, cli: &mut Cli) -> Result<Command> {
    let mut args = yhsm::backup::restore::Args { dir: PathBuf::from("."), ..Default::default() };
    let mut dir = None;
    while let Some(arg) = p.next().map_err(lexopt_error)? {
        if let Value(v) = arg {
            if dir.replace(PathBuf::from(v)).is_some() {
                return Err(Error::usage("more than one backup directory given"));
            }
            continue;
        }
        let arg = once(cli, &arg, RESTORE_SHORTS)?;
        match &arg {
            Opt::Long(l) if l == "shares-file" => args.shares_files.push(path(p)?),
            // `-d` as in yubihsm-setup restore, for operators' muscle memory.
            Opt::Long(l) if l == "keep-authkey" => args.keep_authkey = true,
            Opt::Short('d') => args.keep_authkey = true,
            Opt::Long(l) if l == "dry-run" => args.dry_run = true,
            Opt::Long(l) if l == "allow-skipped" => args.allow_skipped = true,
            Opt::Long(l) if l == "json" => args.json = true,
            Opt::Long(l) if l == "wrap-key-id" => args.wrap_key_id = Some(id(p, &arg)?),
            Opt::Long(l) if l == "expect-domains" => args.expect_domains = Some(domains(p, &arg)?),
            Opt::Long(l) if l == "expect-kcv" => {
                args.expect_kcv = Some(parsed(p, &arg, "6 hex digits, e.g. a5f1d7", |s| {
                    let mut kcv = [0u8; 3];
                    hex::decode_to_slice(s.trim(), &mut kcv).ok().map(|()| kcv)
                })?);
            }
            _ => {
                if let Some(help) = common(&arg, p, cli, RESTORE_HELP)? {
                    return Ok(help);
                }
            }
        }
    }
    if let Some(dir) = dir {
        args.dir = dir;
    }
    Ok(Command::Restore(args))
}

fn parse_clone(p: &mut Parser, cli: &mut Cli) -> Result<Command> {
    let (mut to, mut to_authkey, mut to_password_file, mut wrap_key_id) = (None, None, None, None);
    let (mut shares_files, mut dump, mut encoding_) = (Vec::new(), None, Encoding::Base64);
    let (mut keep_authkey, mut dry_run, mut json) = (false, false, false);
    while let Some(arg) = p.next().map_err(lexopt_error)? {
        if let Value(_) = arg {
            return Err(Error::usage("clone takes no operand: name the target with --to URL"));
        }
        let arg = once(cli, &arg, RESTORE_SHORTS)?;
        match &arg {
            Opt::Long(l) if l == "to" => {
                let url = text(p, &arg)?;
                to = Some(
                    url.parse::<ConnectorUrl>()
                        .map_err(|e| Error::usage(format!("`{}`: {e}", spelled(&arg))))?,
                );
            }
            Opt::Long(l) if l == "to-authkey" => to_authkey = Some(id(p, &arg)?),
            Opt::Long(l) if l == "to-password-file" => to_password_file = Some(path(p)?),
            Opt::Long(l) if l == "wrap-key-id" => wrap_key_id = Some(id(p, &arg)?),
            Opt::Long(l) if l == "shares-file" => shares_files.push(path(p)?),
            Opt::Long(l) if l == "dump" => dump = Some(path(p)?),
            Opt::Long(l) if l == "encoding" => encoding_ = encoding(p, &arg)?,
            Opt::Long(l) if l == "keep-authkey" => keep_authkey = true,
            Opt::Short('d') => keep_authkey = true,
            Opt::Long(l) if l == "dry-run" => dry_run = true,
            Opt::Long(l) if l == "json" => json = true,
            _ => {
                if let Some(help) = common(&arg, p, cli, CLONE_HELP)? {
                    return Ok(help);
                }
            }
        }
    }
    let to = require(to, "--to URL (the target device)")?;
    if to == cli.global.connector {
        return Err(Error::usage(format!(
            "--to names the source device itself ({to}): name the target device"
        )));
    }
    Ok(Command::Clone(yhsm::backup::clone::Args {
        to,
        to_authkey,
        to_password_file,
        wrap_key_id: require(wrap_key_id, "--wrap-key-id ID (the wrap key both devices hold)")?,
        shares_files,
        dump,
        encoding: encoding_,
        keep_authkey,
        dry_run,
        json,
    }))
}

fn parse_verify(p: &mut Parser, cli: &mut Cli) -> Result<Command> {
    let mut key = KeyOptions::default();
    let (mut dir, mut wrap_id, mut json) = (None, None, false);
    while let Some(arg) = p.next().map_err(lexopt_error)? {
        if let Value(v) = arg {
            if dir.replace(PathBuf::from(v)).is_some() {
                return Err(Error::usage("more than one backup directory given"));
            }
            continue;
        }
        let arg = once(cli, &arg, &[])?;
        if key.take(&arg, p, cli, true)? {
            continue;
        }
        match &arg {
            Opt::Long(l) if l == "wrap-id" => wrap_id = Some(id(p, &arg)?),
            Opt::Long(l) if l == "json" => json = true,
            _ => {
                if let Some(help) = common(&arg, p, cli, VERIFY_HELP)? {
                    return Ok(help);
                }
            }
        }
    }
    let dir = require(dir, "DIR (the backup directory)")?;
    let key = if key.sources.is_empty() { None } else { Some(key.one(true)?) };
    if wrap_id.is_some() && !matches!(key, Some(WrapKeySource::File(_) | WrapKeySource::Hex(_))) {
        return Err(Error::usage(
            "--wrap-id goes with --wrap-key-file or --wrap-key: shares carry the wrap key's id",
        ));
    }
    Ok(Command::Verify(yhsm::backup::verify::Args { dir, key, wrap_id, json }))
}

fn parse_dump(p: &mut Parser, cli: &mut Cli) -> Result<Command> {
    let (mut dir, mut wrap_id, mut include_seed, mut force, mut json) =
        (None, None, false, false, false);
    let mut encoding_ = Encoding::Base64;
    while let Some(arg) = p.next().map_err(lexopt_error)? {
        if let Value(v) = arg {
            if dir.is_some() {
                return Err(Error::usage("more than one directory given"));
            }
            dir = Some(PathBuf::from(v));
            continue;
        }
        let arg = once(cli, &arg, DUMP_SHORTS)?;
        match &arg {
            _ if is(&arg, 'w', "wrapkey") => wrap_id = Some(id(p, &arg)?),
            Opt::Long(l) if l == "include-seed" => include_seed = true,
            Opt::Long(l) if l == "encoding" => encoding_ = encoding(p, &arg)?,
            Opt::Long(l) if l == "force" => {
                force = true;
                cli.global.force = true;
            }
            Opt::Long(l) if l == "json" => json = true,
            _ => {
                if let Some(help) = common(&arg, p, cli, DUMP_HELP)? {
                    return Ok(help);
                }
            }
        }
    }
    let options = yhsm::backup::dump::DumpOptions {
        dir: dir.unwrap_or_else(|| PathBuf::from(".")),
        wrap_id: require(wrap_id, "-w (the id of the wrap key to export under)")?,
        include_seed,
        force,
        encoding: encoding_,
    };
    Ok(Command::Dump(DumpArgs { options, json }))
}

/// `list` and `info`: only `--json` besides the common options.
fn parse_json_only(p: &mut Parser, cli: &mut Cli, help: &'static str) -> Result<Option<bool>> {
    let mut json = false;
    while let Some(arg) = p.next().map_err(lexopt_error)? {
        let arg = once(cli, &arg, &[])?;
        match &arg {
            Opt::Long(l) if l == "json" => json = true,
            _ => {
                if common(&arg, p, cli, help)?.is_some() {
                    return Ok(None);
                }
            }
        }
    }
    Ok(Some(json))
}

/// `list` (`is_list`) or `info`, or the help that `--help` asked for.
fn json_command(json: Option<bool>, is_list: bool) -> Command {
    match (json, is_list) {
        (Some(json), true) => Command::List { json },
        (Some(json), false) => Command::Info { json },
        (None, true) => Command::Help(LIST_HELP),
        (None, false) => Command::Help(INFO_HELP),
    }
}

fn parse_raw(p: &mut Parser, cli: &mut Cli) -> Result<Command> {
    let mut values = Vec::new();
    while let Some(arg) = p.next().map_err(lexopt_error)? {
        if let Value(v) = arg {
            values
                .push(v.into_string().map_err(|_| Error::usage("an argument is not valid UTF-8"))?);
            continue;
        }
        let arg = once(cli, &arg, &[])?;
        if let Some(help) = common(&arg, p, cli, RAW_HELP)? {
            return Ok(help);
        }
    }
    let mut values = values.into_iter();
    let code = values.next().ok_or_else(|| Error::usage("missing CODE (the command code)"))?;
    let code = yhsm::raw::parse_code(&code).ok_or_else(|| {
        Error::usage(
            "CODE: expected a command code in hex (e.g. 48 or 0x48) or a name (e.g. list-objects)",
        )
    })?;
    let hex: String = values.collect::<Vec<_>>().join("");
    let data = yhsm::raw::parse_hex(&hex)
        .ok_or_else(|| Error::usage("HEXDATA: expected hex digits, two per byte"))?;
    Ok(Command::Raw(RawArgs { code, data }))
}

fn parse_delete(p: &mut Parser, cli: &mut Cli) -> Result<Command> {
    let mut values = Vec::new();
    let mut yes = false;
    while let Some(arg) = p.next().map_err(lexopt_error)? {
        if let Value(v) = arg {
            values
                .push(v.into_string().map_err(|_| Error::usage("an argument is not valid UTF-8"))?);
            continue;
        }
        let arg = once(cli, &arg, DELETE_SHORTS)?;
        match &arg {
            _ if is(&arg, 'y', "yes") => yes = true,
            _ => {
                if let Some(help) = common(&arg, p, cli, DELETE_HELP)? {
                    return Ok(help);
                }
            }
        }
    }
    let [id, object_type] = values.as_slice() else {
        return Err(Error::usage(match values.len() {
            0 => "missing ID and TYPE (the object to delete)",
            1 => "missing TYPE (the object's type, e.g. asymmetric-key)",
            _ => "too many arguments: delete takes one ID and one TYPE",
        }));
    };
    let id = yhsm_proto::object::parse_object_id(id)
        .map_err(|_| Error::usage(format!("ID: expected {ID}")))?;
    let object_type = object_type
        .parse::<yhsm_proto::ObjectType>()
        .ok()
        .filter(|t| yhsm::admin::delete::capability(*t).is_some())
        .ok_or_else(|| Error::usage(format!("TYPE: expected one of {OBJECT_TYPES}")))?;
    Ok(Command::Delete(yhsm::admin::delete::Args { id, object_type, yes }))
}

const OBJECT_TYPES: &str = "opaque, authentication-key, asymmetric-key, wrap-key, hmac-key, \
    template, otp-aead-key, symmetric-key, public-wrap-key";

fn parse_reset(p: &mut Parser, cli: &mut Cli) -> Result<Command> {
    let mut args = yhsm::admin::reset::Args::default();
    while let Some(arg) = p.next().map_err(lexopt_error)? {
        let arg = once(cli, &arg, &[])?;
        match &arg {
            Opt::Long(l) if l == "serial" => {
                args.serial =
                    Some(parsed(p, &arg, "the device's serial number, in decimal", |s| {
                        s.parse::<u32>().ok()
                    })?);
            }
            _ => {
                if let Some(help) = common(&arg, p, cli, RESET_HELP)? {
                    return Ok(help);
                }
            }
        }
    }
    Ok(Command::Reset(args))
}

/// `--new-password-file FILE`, if `arg` is it.
fn new_password_file(arg: &Opt, p: &mut Parser, into: &mut NewPassword) -> Result<bool> {
    match arg {
        Opt::Long(l) if l == "new-password-file" => {
            *into = NewPassword::File(path(p)?);
            Ok(true)
        }
        _ => Ok(false),
    }
}

fn parse_change_password(p: &mut Parser, cli: &mut Cli) -> Result<Command> {
    let mut new_password = NewPassword::Prompt;
    while let Some(arg) = p.next().map_err(lexopt_error)? {
        let arg = once(cli, &arg, &[])?;
        if new_password_file(&arg, p, &mut new_password)? {
            continue;
        }
        if let Some(help) = common(&arg, p, cli, CHANGE_PASSWORD_HELP)? {
            return Ok(help);
        }
    }
    Ok(Command::ChangePassword(yhsm::admin::password::Args { new_password }))
}

fn parse_put_authkey(p: &mut Parser, cli: &mut Cli) -> Result<Command> {
    let mut new_password = NewPassword::Prompt;
    let (mut id_, mut label, mut domains_, mut caps, mut delegated, mut profile) =
        (0, None, None, None, None, None);
    while let Some(arg) = p.next().map_err(lexopt_error)? {
        let arg = once(cli, &arg, PUT_AUTHKEY_SHORTS)?;
        if new_password_file(&arg, p, &mut new_password)? {
            continue;
        }
        match &arg {
            _ if is(&arg, 'i', "id") => id_ = id(p, &arg)?,
            _ if is(&arg, 'l', "label") => {
                label = Some(parsed(p, &arg, "a label of at most 40 bytes", |s| s.parse().ok())?);
            }
            _ if is(&arg, 'd', "domains") => domains_ = Some(domains(p, &arg)?),
            _ if is(&arg, 'c', "capabilities") => caps = Some(defined_capabilities(p, &arg)?),
            _ if is(&arg, 'e', "delegated") => delegated = Some(defined_capabilities(p, &arg)?),
            Opt::Long(l) if l == "profile" => {
                profile = Some(parsed(p, &arg, "a profile: application, ejbca or audit", |s| {
                    yhsm::admin::profile::find(s)
                })?);
            }
            _ => {
                if let Some(help) = common(&arg, p, cli, PUT_AUTHKEY_HELP)? {
                    return Ok(help);
                }
            }
        }
    }
    Ok(Command::PutAuthkey(yhsm::admin::authkey::Args {
        id: id_,
        label,
        domains: require(domains_, "--domains")?,
        capabilities: caps,
        delegated,
        profile,
        new_password,
    }))
}

#[cfg(feature = "sim")]
fn serial(p: &mut Parser, arg: &Opt) -> Result<u32> {
    parsed(p, arg, "a decimal serial number", |s| s.parse::<u32>().ok())
}

#[cfg(feature = "sim")]
fn parse_sim_serve(p: &mut Parser, cli: &mut Cli) -> Result<Command> {
    let (mut listen, mut state, mut serial_) = (None, None, None);
    while let Some(arg) = p.next().map_err(lexopt_error)? {
        let arg = once(cli, &arg, &[])?;
        match &arg {
            Opt::Long(l) if l == "listen" => listen = Some(text(p, &arg)?),
            Opt::Long(l) if l == "state" => state = Some(path(p)?),
            Opt::Long(l) if l == "serial" => serial_ = Some(serial(p, &arg)?),
            _ => {
                if let Some(help) = common(&arg, p, cli, SIM_SERVE_HELP)? {
                    return Ok(help);
                }
            }
        }
    }
    Ok(Command::SimServe(SimServeArgs {
        listen: listen.unwrap_or_else(|| yhsm::sim::DEFAULT_LISTEN.to_owned()),
        state,
        serial: serial_,
    }))
}

#[cfg(not(feature = "sim"))]
fn parse_sim_serve(_: &mut Parser, _: &mut Cli) -> Result<Command> {
    Err(Error::failure("this build has no simulator: it needs the cargo feature `sim`"))
}

#[cfg(all(feature = "usb-gadget", target_os = "linux"))]
fn parse_sim_gadget(p: &mut Parser, cli: &mut Cli) -> Result<Command> {
    let (mut serial_, mut udc, mut state, mut delay_ms) = (None, None, None, 0);
    while let Some(arg) = p.next().map_err(lexopt_error)? {
        let arg = once(cli, &arg, &[])?;
        match &arg {
            Opt::Long(l) if l == "serial" => serial_ = Some(serial(p, &arg)?),
            Opt::Long(l) if l == "udc" => udc = Some(text(p, &arg)?),
            Opt::Long(l) if l == "state" => state = Some(path(p)?),
            Opt::Long(l) if l == "delay-ms" => {
                delay_ms = parsed(p, &arg, "milliseconds, at most 60000", |s| {
                    s.parse::<u64>().ok().filter(|ms| *ms <= 60_000)
                })?;
            }
            _ => {
                if let Some(help) = common(&arg, p, cli, SIM_GADGET_HELP)? {
                    return Ok(help);
                }
            }
        }
    }
    Ok(Command::SimUsbGadget(SimGadgetArgs {
        serial: require(serial_, "--serial")?,
        udc,
        state,
        delay_ms,
    }))
}

#[cfg(not(all(feature = "usb-gadget", target_os = "linux")))]
fn parse_sim_gadget(_: &mut Parser, _: &mut Cli) -> Result<Command> {
    Err(Error::failure(
        "this build has no USB gadget mode: it needs Linux and the cargo feature `usb-gadget`",
    ))
}

pub const HELP: &str = "\
yhsm: back up and restore the key material of a YubiHSM 2

Usage: yhsm [GLOBAL OPTIONS] COMMAND [OPTIONS]

Offline commands (no device needed):
  inspect FILE...   Decrypt .yhw files and show what they hold (never private keys)
  wrap              Make a .yhw file from a key file, as yubihsm-wrap does
  shares combine    Check wrap-key shares and show the wrap key's attributes
  shares split      Split a wrap key into shares
  shares convert    Re-split shares into the other format (yubihsm-setup, yubihsm-manager)

Device commands (open a session with -k and its password):
  setup [DIR]       Configure a primary as yubihsm-setup does: wrap key and its shares,
                    application (and audit) key exported to DIR, factory key deleted
  restore [DIR]     Restore a backup directory onto a YubiHSM, as yubihsm-setup restore
  clone --to URL --wrap-key-id ID
                    Copy every exportable object of the device of -c onto another
  verify DIR        Compare a YubiHSM with a backup directory, object by object
  dump [DIR] -w ID  Export every object under wrap key ID to .yhw files, as yubihsm-setup
  list              Show every object's info
  info              Show the device info and its storage use
  delete ID TYPE    Delete one object, after a confirmation
  reset             Erase the device back to its factory state (confirmed by its serial)
  change-password   Change the password of the authentication key of -k
  put-authkey       Create an authentication key (a profile, or explicit capabilities)
  raw CODE [HEX]    Send any command inside a session; print the response frame

Simulator (the built-in software YubiHSM 2):
  sim serve         Serve it over HTTP as yubihsm-connector does
  sim usb-gadget    Present it as a USB device (Linux, root)

Global options (before or after the command):
  -c, --connector URL     Where the YubiHSM is: yhusb:// (default), yhusb://serial=N,
                          http://HOST:PORT (yubihsm-connector), sim:[STATEFILE]
  -k, --authkey ID        Authentication key id, decimal or 0x hex (default 1)
      --password-file FILE
                          Read the password from the first line of FILE
  -p, --password PASSWORD The password on the command line (visible to other users;
                          prefer --password-file or the YHSM_PASSWORD variable).
                          Without any of these, yhsm asks at the terminal.
  -v, --verbose           Show the exchanges with the device on standard error: the
                          commands inside the session with key material redacted, the
                          session's own frames reduced to ids and lengths (nothing that
                          helps decrypt it); -vv adds timings
      --trace FILE        Record every exchange in FILE as JSON lines, redacted likewise
                          (a new file, owner-only; an existing one only with --force)
      --trace-raw FILE    For protocol research: record the raw session frames in FILE.
                          Anyone who knows or guesses the password can decrypt the
                          sessions from it; commands that send or return key material
                          (put-wrap-key, import-wrapped, restore, ...) are refused
      --trace-raw-keys    With --trace-raw, run those too (test devices only)
      --force             Replace existing output files (trace files, dump, wrap)
      --timeout SECONDS   How long to wait for the device's answer to one command
                          (default 120, enough for RSA-4096 key generation; also the
                          YHSM_TIMEOUT variable). A device that leaves two commands in
                          a row unanswered ends the command.
  -h, --help              Show this help; `yhsm COMMAND --help` shows a command's
  -V, --version           Show the version; with -v also the commit, the cargo features
                          and the toolchain it was built from (docs/AUDIT.md)

Exit status: 0 success, 1 failure, 2 usage error.
";

pub const INSPECT_HELP: &str = "\
Usage: yhsm inspect [--wrap-key-file FILE | --wrap-key HEX | --shares-file FILE...] [--json]
                    FILE...

Decrypts .yhw files offline and shows each object's header and, for asymmetric keys, its
public key. Private key material is never shown. Without a key option, asks for the
wrap key's shares at the terminal without echoing them. Exits 1 if any file fails.

Options:
      --wrap-key-file FILE  The wrap key: 16, 24 or 32 raw bytes, or their hex
      --wrap-key HEX        The wrap key in hex (visible to other users; prefer a file)
      --shares-file FILE    Recover the wrap key from shares, one per line (- for stdin);
                            may be given once per custodian
      --json                Print a JSON array with one object per file
  -h, --help                Show this help
";

pub const WRAP_HELP: &str = "\
Usage: yhsm wrap --wrap-key-file FILE --algorithm ALG --id ID --domains DOMAINS
                 --capabilities CAPS [--delegated CAPS] [--label LABEL]
                 --in KEYFILE --out FILE.yhw [--force] [--in-hex]
                 [--encoding base64|binary]

Makes a .yhw file offline, as yubihsm-wrap does, for `yhsm restore` or import-wrapped.
The algorithm decides the object type and what --in holds:
  aes128-yubico-authentication    a password (the first line of the file)
  aes128/192/256-ccm-wrap         a wrap key: raw bytes or hex
  aes128, aes192, aes256          a symmetric key: raw bytes or hex
  hmac-sha1/256/384/512           an HMAC key: raw bytes
  opaque-data, opaque-x509-certificate, template-ssh
                                  the data: raw bytes
  rsa2048/3072/4096, ecp224, ecp256, ecp384, ecp521, eck256, ecbp256, ecbp384,
  ecbp512, ed25519                a private key: PEM or DER (PKCS#8, PKCS#1, SEC1)

Options:
      --wrap-key-file FILE  The wrap key: 16, 24 or 32 raw bytes, or their hex
      --wrap-key HEX        The wrap key in hex (visible to other users; prefer a file)
      --shares-file FILE    Recover the wrap key from shares, one per line
  -a, --algorithm ALG       The object's algorithm (see above)
  -i, --id ID               The object id, decimal or 0x hex
  -l, --label LABEL         The label, at most 40 bytes (default empty)
  -d, --domains DOMAINS     e.g. 1:2:3, or all
  -c, --capabilities CAPS   e.g. sign-ecdsa,exportable-under-wrap
  -e, --delegated CAPS      Delegated capabilities (authentication and wrap keys only;
                            default none)
      --in KEYFILE          The key material
      --in-hex              KEYFILE holds hex text rather than raw bytes
      --out FILE            Where to write the .yhw file (- for standard output)
      --force               Overwrite FILE if it exists
      --encoding ENC        base64 (default: text and a newline, as yubihsm-wrap writes)
                            or binary (the raw blob, as yubihsm-manager writes)
  -h, --help                Show this help
";

pub const RESTORE_HELP: &str = "\
Usage: yhsm restore [DIR] [--shares-file FILE...] [-d|--keep-authkey] [--dry-run]
                    [--allow-skipped] [--json] [--wrap-key-id ID]
                    [--expect-domains DOMAINS] [--expect-kcv HEX]

Restores the .yhw files of DIR (default: the current directory) onto the YubiHSM, as
yubihsm-setup restore does. The wrap key is recovered from shares; every file is decrypted
before anything is written (files under another key are skipped), and the wrap key's id,
domains and capabilities are checked against the backup (and its wrap-key description,
when DIR has one). When nothing vouches for them (a description, --expect-kcv, one share
more than the threshold, or in a script --wrap-key-id), yhsm asks to confirm them, or in
a script keeps the authentication key used to log in. Then the wrap key is stored, each
object not already on the device is imported, everything is verified against the backup
(content too), and the authentication key used to log in is deleted only when every
object was restored and verified and a restored authentication key opens a session.
Running it again after an interruption finishes the job. Exits 1 unless every object
that decrypts was restored and verified.

Options:
      --shares-file FILE  The wrap key's shares, one per line (blank lines and # comments
                          ignored; - for standard input); may be given once per
                          custodian; without it, yhsm asks for them at the terminal
  -d, --keep-authkey      Never delete the authentication key used to log in (as
                          yubihsm-setup restore -d)
      --dry-run           Decrypt, log in and list the device, check the login key's
                          permissions and the free storage, print the plan; write nothing
      --allow-skipped     Files that do not decrypt under the shares' key belong to
                          another backup: delete the login key all the same once every
                          other object is restored (at a terminal, restore asks instead)
      --wrap-key-id ID    The id the wrap key from the shares must have (for scripts: a
                          mistyped share can change it)
      --expect-domains DOMAINS
                          The domains it must have, e.g. 1:2
      --expect-kcv HEX    The key check value it must have (recorded when the backup was
                          made; it covers the key and all its attributes)
      --json              Print one JSON result object (see the README)
  -h, --help              Show this help

The global options -c, -k, --password-file and -p choose the device and how to log in.
";

pub const CLONE_HELP: &str = "\
Usage: yhsm clone -c URL --to URL --wrap-key-id ID [--to-authkey ID]
                  [--to-password-file FILE] [--shares-file FILE...] [--dump DIR
                  [--encoding ENC]] [-d|--keep-authkey] [--dry-run] [--json]

Copies every object of the source device (-c) that is exportable under wrap onto the
target device (--to), without files: each is exported under wrap key ID and imported
into the target by restore's engine (preflight, resume, verification, content proofs).
Both devices must hold the same wrap key. With its shares, the source's exports must
decrypt under them (the key check value is shown) and the wrap key is stored on a target
that lacks it. Without them, the target must hold the wrap key already, and its first
import proves it is the same key: a target under another key refuses it, nothing is
written, and clone stops naming both devices. Objects without exportable-under-wrap are
reported by id and type. Running it again after an interruption finishes the job. Exits
1 unless every exportable object was copied and verified.

Options:
      --to URL            The target device (yhusb://serial=N, http://HOST:PORT, sim:...)
      --to-authkey ID     The target's authentication key (default: the one of -k)
      --to-password-file FILE
                          Its password (default: the source's password options)
      --wrap-key-id ID    The wrap key both devices hold
      --shares-file FILE  The wrap key's shares (once per custodian): proves the source's
                          key, stores it on a target that lacks it, proves content
      --dump DIR          Also write the .yhw files into DIR, as `yhsm dump` does
      --encoding ENC      base64 (default) or binary, for --dump
  -d, --keep-authkey      Never delete the target's authentication key (without the
                          shares it is always kept)
      --dry-run           Export, log in to the target, check and print the plan; write
                          nothing to the target nor to --dump
      --json              Print one JSON result object (see the README)
  -h, --help              Show this help

The global options -c, -k, --password-file and -p choose the source and how to log in;
--trace FILE records the target's exchanges in FILE.to.
";

pub const VERIFY_HELP: &str = "\
Usage: yhsm verify DIR [--shares-file FILE | --wrap-key-file FILE [--wrap-id ID] |
                        --wrap-key HEX [--wrap-id ID]] [--json]

Compares the YubiHSM with the backup in DIR, object by object: objects missing from the
device, objects whose type, algorithm, capabilities, domains, label, delegated
capabilities or public key differ, and objects on the device that the backup does not
hold. The authentication key used to log in and the backup's wrap key are expected
extras. Exits 1 on any difference.

Options:
      --shares-file FILE    The wrap key's shares (may be given once per custodian);
                            without a key option, yhsm asks for the shares at the
                            terminal
      --wrap-key-file FILE  The wrap key: 16, 24 or 32 raw bytes, or their hex
      --wrap-key HEX        The wrap key in hex (visible to other users; prefer a file)
      --wrap-id ID          With a raw key: the wrap key's id on the device (an expected
                            extra)
      --json                Print one JSON result object (see the README)
  -h, --help                Show this help
";

pub const SHARES_HELP: &str = "\
Usage: yhsm shares (combine | split | convert) [OPTIONS]

Wrap-key shares as yubihsm-setup (base64) and yubihsm-manager (hex) write them: one share
per line in a shares file; blank lines and lines starting with # are ignored.

  combine   Check shares and show the wrap key's attributes
  split     Split a wrap key into shares
  convert   Re-split shares into the other format

Run `yhsm shares COMMAND --help` for each command's options.
";

pub const COMBINE_HELP: &str = "\
Usage: yhsm shares combine [--shares-file FILE] [--description FILE] [--json] [--reveal]

Checks wrap-key shares offline and shows the wrap key's id, domains, capabilities,
delegated capabilities and algorithm, its key check value and each share's check value
(short fingerprints to compare with the ones recorded at setup; not secret). Without
--shares-file, asks for the shares at the terminal without echoing them.

Options:
      --shares-file FILE  The shares, one per line (- for standard input); may be given
                          once per custodian
      --description FILE  A backup's wrap-key description (0x0002-wrap-key.description):
                          check each share against its recorded check value, and the key
                          against its attributes and key check value
      --json              Print a JSON object
      --reveal            Also print the wrap key itself, in hex
  -h, --help              Show this help
";

pub const SPLIT_HELP: &str = "\
Usage: yhsm shares split -t K -n N (--wrap-key-file FILE | --wrap-key HEX) --id ID
                         --domains DOMAINS --capabilities CAPS --delegated CAPS
                         [--format yubihsm-setup|yubihsm-manager]

Splits a wrap key, with the attributes it is to be restored with, into N shares any K of
which recover it. Prints the shares, one per line.

Options:
  -t, --threshold K         Shares needed to recover the key (2 to 9)
  -n, --shares N            Shares to make (K to 9)
      --wrap-key-file FILE  The wrap key: 16, 24 or 32 raw bytes, or their hex
      --wrap-key HEX        The wrap key in hex (visible to other users; prefer a file)
  -i, --id ID               The wrap key's object id
  -d, --domains DOMAINS     Its domains, e.g. 1:2:3, or all
  -c, --capabilities CAPS   Its capabilities, e.g. export-wrapped,import-wrapped
  -e, --delegated CAPS      Its delegated capabilities; `all` is every capability that
                            has a name (bits 0 to 55), what a device keeps of `all`
      --format FORMAT       yubihsm-setup (default; AES-256 keys only) or yubihsm-manager
  -h, --help                Show this help
";

pub const CONVERT_HELP: &str = "\
Usage: yhsm shares convert --shares-file FILE --to FORMAT [-n N]

Combines the shares in FILE and splits the key again into FORMAT (yubihsm-setup or
yubihsm-manager) with the same threshold and new random polynomials. Prints the new
shares, one per line. yubihsm-setup shares carry only AES-256 keys.

Options:
      --shares-file FILE  The shares, one per line (- for standard input); may be given
                          once per custodian
      --to FORMAT         yubihsm-setup or yubihsm-manager
  -n, --shares N          Shares to make, from the threshold to 9 (default: the highest
                          share number in FILE)
  -h, --help              Show this help
";

pub const DUMP_HELP: &str = "\
Usage: yhsm dump [DIR] -w ID [--include-seed] [--encoding base64|binary] [--force]
                 [--json]

Exports every object the authentication key can see under wrap key ID into DIR (default:
the current directory; created if missing), one file per object named
0x<id>-<type>.yhw as yubihsm-setup dump names them (base64, no newline; or with
--encoding binary the raw bytes yubihsm-manager's restore reads). Files are
written atomically with owner-only permissions. The wrap key itself is skipped: restore
it from its shares. An object the device refuses to export is reported and skipped, and
the command then exits 1.

Options:
  -w, --wrapkey ID    The wrap key to export under, decimal or 0x hex
      --include-seed  Ask for export format 1: firmware 2.4 and later then include the
                      seed of ed25519 keys
      --encoding ENC  base64 (default, as yubihsm-setup and yubihsm-shell write) or
                      binary (as yubihsm-manager writes); restore reads both
      --force         Overwrite existing files
      --json          Print a JSON summary instead of progress lines
  -h, --help          Show this help
";

pub const LIST_HELP: &str = "\
Usage: yhsm list [--json]

Shows the info of every object the authentication key can see: id, type, algorithm,
label, domains, capabilities, delegated capabilities, sequence, origin and length.

Options:
      --json  Print a JSON array with one object per object
  -h, --help  Show this help
";

pub const INFO_HELP: &str = "\
Usage: yhsm info [--json]

Shows the device's serial, firmware version, part number (firmware 2.4 and later), audit
log use, supported algorithms, and free storage records and pages.

Options:
      --json  Print a JSON object
  -h, --help  Show this help
";

pub const RAW_HELP: &str = "\
Usage: yhsm raw CODE [HEXDATA...]

Sends command CODE with HEXDATA inside an authenticated session and prints the
decrypted response frame in hex (code, length, data). For protocol research: nothing is
checked, so a command that changes the device does so. Exits 1 when the device answers
with an error frame (7f). Use -v to see every frame and --trace FILE to record them
(--trace-raw FILE for the sealed frames as sent; see `yhsm --help`).

Arguments:
  CODE        The command code in hex (48, 0x48) or its name (list-objects)
  HEXDATA     The command's data in hex; spaces and colons are ignored
Options:
  -h, --help  Show this help
";

pub const DELETE_HELP: &str = "\
Usage: yhsm delete ID TYPE [--yes]

Deletes one object from the YubiHSM: its id (decimal or 0x hex) and type (opaque,
authentication-key, asymmetric-key, wrap-key, hmac-key, template, otp-aead-key,
symmetric-key, public-wrap-key). The object is looked up first and shown; at a terminal
yhsm asks before deleting it. Without a terminal, --yes is required. The authentication
key of the session is not deleted when the device shows no other one.

Options:
  -y, --yes   Delete without asking
  -h, --help  Show this help

The global options -c, -k, --password-file and -p choose the device and how to log in.
";

pub const RESET_HELP: &str = "\
Usage: yhsm reset [--serial N]

Erases the YubiHSM back to its factory state: every object, the audit log and the
settings are gone, and only authentication key 0x0001 with the password `password`
remains. The login key needs the reset-device capability. At a terminal, yhsm shows what
will be erased and asks you to type `reset SERIAL` (`yhsm info` shows the serial);
without a terminal, --serial must give the device's serial. Afterwards yhsm logs in with
the factory key to prove the reset.

Options:
      --serial N  The serial of the device to erase (no question asked); a different
                  device is refused
  -h, --help      Show this help
";

pub const CHANGE_PASSWORD_HELP: &str = "\
Usage: yhsm change-password [--new-password-file FILE]

Changes the password of the authentication key the session is opened with (-k, default
0x0001, the factory key), which needs the change-authentication-key capability; then
opens a session with the new password to prove it. The new password is asked twice at
the terminal without echo, or read from the first line of FILE.

Options:
      --new-password-file FILE  The new password (its first line)
  -h, --help                    Show this help
";

pub const SETUP_HELP: &str = "\
Usage: yhsm setup [DIR] [--profile ksp|ejbca|wrap-only] [OPTIONS]

Configures a primary YubiHSM as yubihsm-setup 2.3.4 does, with the same objects, file
names and share format: a wrap key (id 2, \"Wrap key\", aes256-ccm-wrap) split into shares
for custodians, an application authentication key (id 3) and optionally an audit key
(id 4), both exported under the wrap key into DIR (default: the current directory) as
0x0003-authentication-key.yhw, then the login key (-k, the factory key 1) deleted.

Unlike yubihsm-setup: the wrap key is the device's random bytes XOR the host's; each
share is shown alone on a cleared screen and typed back by its custodian (without a
terminal: --shares-dir); DIR gets 0x0002-wrap-key.description with the key check value
and each share's check value, which restore checks every share against; nothing is
written to the device before the shares are out, and the login key is deleted only after
every new key opened a session with its password. An interrupted setup is finished by
the same command with --resume.

Profiles:
  ksp        (default) yubihsm-setup's ksp: the application key signs and generates
             asymmetric keys (sign-pkcs, sign-pss, sign-ecdsa, sign-eddsa, derive-ecdh,
             get-option, import/export-wrapped, exportable-under-wrap)
  ejbca      yubihsm-setup's ejbca: the application key also deletes keys, keeps
             certificates as opaque objects, signs attestation certificates and manages
             authentication keys
  wrap-only  Only the wrap key and its shares, to back up keys already on the device;
             it delegates every named capability unless --delegated says otherwise; the
             login key is kept

Options:
      --profile NAME            ksp, ejbca or wrap-only
  -d, --domains DOMAINS         The new keys' domains, e.g. 1:2:3, or all (default 1)
      --wrap-key-id ID          Default 2
      --app-key-id ID           Default 3
      --audit                   Also make the audit key (--no-audit: do not ask)
      --audit-key-id ID         Default 4 (implies --audit)
      --rsa-decryption          ksp: add decrypt-pkcs and decrypt-oaep to the keys
                                (--no-rsa-decryption: do not ask)
      --capabilities CAPS       The application key's capabilities
      --delegated CAPS          The application key's delegated capabilities
                                (wrap-only: the wrap key's)
      --wrap-delegated CAPS     The wrap key's delegated capabilities
  -t, --threshold K             Shares needed to recover the wrap key (default 2)
  -n, --shares N                Shares made, one per custodian (default 3)
      --share-format FORMAT     setup (yubihsm-setup, default) or manager
      --shares-dir DIR          Write one file per custodian there (0600, never over
                                a file) instead of showing the shares
      --app-password-file FILE  The application key's password (its first line);
                                without it, typed twice without echo
      --audit-password-file FILE
                                The audit key's password
      --keep-authkey            Keep the login key (yubihsm-setup's \"not deleted\")
      --resume                  Finish an interrupted setup in DIR; the wrap key's
                                shares come from --shares-file, --shares-dir or are typed
      --shares-file FILE        With --resume: a file of shares (repeatable)
  -y, --yes                     Do not ask to confirm the plan at the terminal
  -h, --help                    Show this help
";

pub const PUT_AUTHKEY_HELP: &str = "\
Usage: yhsm put-authkey (--profile NAME | --capabilities CAPS) --domains DOMAINS
                        [--delegated CAPS] [--label LABEL] [--id ID]
                        [--new-password-file FILE]

Creates an authentication key with a password, then opens a session with it to prove it.
Everything the device would refuse (capabilities or domains the login key cannot give, an
id in use) is checked before the password is asked for, twice without echo, or read from
the first line of FILE. In capabilities, `all` means every capability that has a name.

Profiles (yubihsm-setup's keys; the options below replace their values):
  application  Label \"Application auth key\"; generate-asymmetric-key, sign-pkcs,
               sign-pss, sign-ecdsa, sign-eddsa, derive-ecdh, export-wrapped,
               import-wrapped, exportable-under-wrap, get-option; delegates the same
               but export-wrapped and import-wrapped
  ejbca        yubihsm-setup ejbca's application key: also delete-asymmetric-key,
               put/get/delete-opaque, put/delete-authentication-key,
               sign-attestation-certificate; delegates the same and get-log-entries
  audit        Label \"Audit auth key\"; get-log-entries, exportable-under-wrap; delegates
               nothing

Options:
      --profile NAME            application, ejbca or audit
  -c, --capabilities CAPS       e.g. sign-ecdsa,exportable-under-wrap
  -e, --delegated CAPS          What objects it creates may have (default: the
                                profile's, or none)
  -d, --domains DOMAINS         e.g. 1:2:3, or all
  -l, --label LABEL             At most 40 bytes (default: the profile's, or empty)
  -i, --id ID                   Decimal or 0x hex; 0 or absent lets the device choose
      --new-password-file FILE  The new key's password (its first line)
  -h, --help                    Show this help
";

pub const SIM_HELP: &str = "\
Usage: yhsm sim (serve | usb-gadget) [OPTIONS]

The built-in software YubiHSM 2, for tests and demonstrations: factory state (key 1,
password `password`) unless --state FILE holds a saved one. Never put real keys in it:
the state file holds every key in the clear.

  serve       Serve it over HTTP as yubihsm-connector does
  usb-gadget  Present it as a USB device through Linux FunctionFS (needs root)

Run `yhsm sim COMMAND --help` for each command's options. `-c sim:[FILE]` on any
device command uses the simulator in-process instead.
";

pub const SIM_SERVE_HELP: &str = "\
Usage: yhsm sim serve [--listen ADDR] [--state FILE] [--serial N]

Serves the simulator as yubihsm-connector serves a device (POST /connector/api, GET
/connector/status), so yhsm -c http://ADDR, python-yubihsm and yubihsm-shell can use it.
Prints `listening on http://ADDR` and serves until stopped.

Options:
      --listen ADDR  Address and port (default 127.0.0.1:12345; port 0 picks a free one)
      --state FILE   Load the device from FILE and save it there after every change
                     (created at the first change)
      --serial N     The device serial of a new device (default 1000001)
  -h, --help         Show this help
";

pub const SIM_GADGET_HELP: &str = "\
Usage: yhsm sim usb-gadget --serial N [--udc NAME] [--state FILE] [--delay-ms MS]

Presents the simulator as a YubiHSM 2 on USB (1050:0030) through Linux configfs and
FunctionFS, so USB clients (yhsm -c yhusb://, yubihsm-connector) reach it through the
kernel's USB stack. Needs root, configfs, the libcomposite and usb_f_fs modules, and a
USB device controller (dummy_hcd for a test on one machine). Prints a `ready:` line once
bound, and serves until the gadget is unbound
(echo > /sys/kernel/config/usb_gadget/yhsmN/UDC).

Options:
      --serial N     The device serial (USB serial string and device info)
      --udc NAME     The USB device controller (default: the only one)
      --state FILE   Load the device from FILE and save it there after every change
      --delay-ms MS  Hold every response back MS milliseconds (for tests)
  -h, --help         Show this help
";
