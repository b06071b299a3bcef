//! `yhsm-bench`: the measuring half of `bench/run.sh` (see BENCHMARKS.md). Each
//! subcommand prints a Markdown section on standard output and progress on standard error.
//!
//! ```text
//! yhsm-bench echo URL COUNT SIZE
//! yhsm-bench roundtrips --yubihsm-rs BIN --python PYTHON --python-echo SCRIPT
//!                       [--runs N] [--count N] [--sizes 64,2000]
//! yhsm-bench restore --yhsm BIN --python PYTHON --python-restore SCRIPT --backup DIR
//!                    --files N --wrap-key-file HEX --wrap-id ID --capabilities CAPS
//!                    --delegated CAPS [--runs N]
//! yhsm-bench hostcost [--runs N] [--scale F]
//! yhsm-bench startup RUNS COMMAND [ARGS...]
//! ```

mod echo;
mod host;
mod hostcost;
mod restore;
mod roundtrips;
mod startup;
mod stats;

use std::process::ExitCode;

const USAGE: &str = "usage: yhsm-bench echo URL COUNT SIZE
       yhsm-bench roundtrips --yubihsm-rs BIN --python PYTHON --python-echo SCRIPT [--runs N] [--count N] [--sizes 64,2000]
       yhsm-bench restore --yhsm BIN --python PYTHON --python-restore SCRIPT --backup DIR --files N --wrap-key-file HEX --wrap-id ID --capabilities CAPS --delegated CAPS [--runs N]
       yhsm-bench hostcost [--runs N] [--scale F]
       yhsm-bench startup RUNS COMMAND [ARGS...]";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("yhsm-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("{flag} takes a number, not `{value}`"))
}

/// `--flag value` pairs after the subcommand.
fn flags(args: &[String]) -> Result<Vec<(&str, &str)>, String> {
    args.chunks(2)
        .map(|pair| match pair {
            [flag, value] if flag.starts_with("--") => Ok((flag.as_str(), value.as_str())),
            _ => Err(format!("expected `--flag value` pairs\n{USAGE}")),
        })
        .collect()
}

fn run(args: Vec<String>) -> Result<(), String> {
    let Some((command, rest)) = args.split_first() else { return Err(USAGE.to_owned()) };
    let out = match command.as_str() {
        "echo" => {
            let [url, count, size] = rest else { return Err(USAGE.to_owned()) };
            return echo::run(url, number("COUNT", count)?, number("SIZE", size)?);
        }
        "roundtrips" => {
            let mut opts = roundtrips::Options {
                runs: 5,
                count: 2000,
                sizes: vec![64, 2000],
                clients: vec![],
            };
            let (mut rs, mut python, mut script) = (None, None, None);
            for (flag, value) in flags(rest)? {
                match flag {
                    "--runs" => opts.runs = number(flag, value)?,
                    "--count" => opts.count = number(flag, value)?,
                    "--sizes" => {
                        opts.sizes =
                            value.split(',').map(|s| number(flag, s)).collect::<Result<_, _>>()?;
                    }
                    "--yubihsm-rs" => rs = Some(value.to_owned()),
                    "--python" => python = Some(value.to_owned()),
                    "--python-echo" => script = Some(value.to_owned()),
                    _ => return Err(format!("unknown option {flag}\n{USAGE}")),
                }
            }
            let (Some(rs), Some(python), Some(script)) = (rs, python, script) else {
                return Err(format!("roundtrips needs every peer\n{USAGE}"));
            };
            let me = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
            let argv = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
            opts.clients = vec![
                roundtrips::Client {
                    name: "yhsm".to_owned(),
                    argv: argv(&[&me.to_string_lossy(), "echo", "{url}", "{count}", "{size}"]),
                },
                roundtrips::Client {
                    name: "yubihsm 0.42.1 (Rust)".to_owned(),
                    argv: argv(&[&rs, "{host}", "{port}", "{count}", "{size}"]),
                },
                roundtrips::Client {
                    name: "python-yubihsm 3.1.2".to_owned(),
                    argv: argv(&[&python, &script, "{url}", "{count}", "{size}"]),
                },
            ];
            roundtrips::run(&opts)?
        }
        "restore" => {
            let mut runs = 5;
            let mut files = None;
            let mut named = std::collections::HashMap::new();
            for (flag, value) in flags(rest)? {
                match flag {
                    "--runs" => runs = number(flag, value)?,
                    "--files" => files = Some(number(flag, value)?),
                    "--yhsm" | "--python" | "--python-restore" | "--backup" | "--wrap-key-file"
                    | "--wrap-id" | "--capabilities" | "--delegated" => {
                        named.insert(flag, value.to_owned());
                    }
                    _ => return Err(format!("unknown option {flag}\n{USAGE}")),
                }
            }
            let get = |flag: &str| {
                named.get(flag).cloned().ok_or_else(|| format!("restore needs {flag}\n{USAGE}"))
            };
            let backup = get("--backup")?;
            let yhsm = vec![
                get("--yhsm")?,
                "-c".to_owned(),
                "{url}".to_owned(),
                "--password-file".to_owned(),
                format!("{backup}/password.txt"),
                "restore".to_owned(),
                backup.clone(),
                "--shares-file".to_owned(),
                format!("{backup}/shares.txt"),
            ];
            let python = vec![
                get("--python")?,
                get("--python-restore")?,
                "{url}".to_owned(),
                backup,
                get("--wrap-key-file")?,
                get("--wrap-id")?,
                get("--capabilities")?,
                get("--delegated")?,
            ];
            let opts = restore::Options {
                runs,
                files: files.ok_or_else(|| format!("restore needs --files\n{USAGE}"))?,
                clients: vec![
                    ("yhsm".to_owned(), yhsm),
                    ("python-yubihsm 3.1.2".to_owned(), python),
                ],
            };
            restore::run(&opts)?
        }
        "hostcost" => {
            let mut opts = hostcost::Options { runs: 11, scale: 1.0 };
            for (flag, value) in flags(rest)? {
                match flag {
                    "--runs" => opts.runs = number(flag, value)?,
                    "--scale" => opts.scale = number(flag, value)?,
                    _ => return Err(format!("unknown option {flag}\n{USAGE}")),
                }
            }
            hostcost::run(opts)?
        }
        "startup" => {
            let Some((runs, argv)) = rest.split_first() else { return Err(USAGE.to_owned()) };
            let line = startup::run(number("RUNS", runs)?, argv)?;
            println!("{line}");
            return Ok(());
        }
        _ => return Err(USAGE.to_owned()),
    };
    print!("{out}");
    Ok(())
}
