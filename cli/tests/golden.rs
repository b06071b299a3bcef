//! Golden tests: the real `yhsm` binary run on the cases in `tests/golden/*.txt`, with the
//! exact stdout, stderr and exit code each case expects. Messages are part of the
//! interface, so any change to them shows up here.
//!
//! A case:
//!
//! ```text
//! === name
//! file NAME hex:HEX | text:TEXT | vector:PATH | repo:PATH   (created in the case's directory)
//! dir NAME vector:PATH | repo:PATH   (every file of the directory, copied)
//! env NAME=VALUE
//! setup ARG ...   (run first, in order; must succeed; its output is not checked)
//! stdin TEXT
//! args ARG 'ARG WITH SPACES' ...
//! exit CODE
//! --- stdout
//! expected lines
//! --- stderr
//! expected lines
//! ```
//!
//! `requires keys` skips a case in builds without the `keys` feature, `requires no-keys`
//! in builds with it; `requires sim` skips it without the `sim` feature, `requires
//! usb-gadget` without the `usb-gadget` feature on Linux.
//!
//! `state NAME FIXTURE` makes a simulator state file NAME in the case's directory with
//! the objects of FIXTURE (see `support::make_state`), for `-c sim:NAME`.
//!
//! `serve NAME` serves the state file NAME over HTTP (`yhsm sim serve` on a free port)
//! from before the setup commands until the case's command has run: `$URL` in `setup`
//! and `args` is its address, and the address in the output is written `$URL`. So one
//! case runs against the in-process simulator (`-c sim:NAME`) and its twin over HTTP
//! (`-c $URL`) with the same expectations.
//!
//! TEXT takes `\n`, `\r`, `\t` and `\\` escapes. `repo:` paths are relative to the
//! repository's root, `vector:` paths to `vectors/`. NAME may contain `/`. The binary runs
//! in a fresh directory holding the case's files. A missing output section expects no output.
//! `YHSM_BLESS=1 cargo test -p yhsm --test golden` rewrites the expectations from what
//! the binary does (then review the diff).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod words;

use std::fs;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use words::words;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors");
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");
const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

#[derive(Debug, Default)]
struct Case {
    name: String,
    /// The directive lines, kept for blessing.
    directives: Vec<String>,
    files: Vec<(String, Vec<u8>)>,
    env: Vec<(String, String)>,
    setup: Vec<Vec<String>>,
    stdin: Option<String>,
    args: Vec<String>,
    exit: i32,
    stdout: String,
    stderr: String,
    /// Needs the `keys` feature (`Some(true)`) or its absence (`Some(false)`).
    keys: Option<bool>,
    /// Needs the `sim` feature.
    sim: bool,
    /// Needs the `usb-gadget` feature on Linux.
    gadget: bool,
    /// Simulator state files to make: name and fixture.
    states: Vec<(String, String)>,
    /// The state file to serve over HTTP.
    serve: Option<String>,
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            other => panic!("bad escape \\{other:?} in {s:?}"),
        }
    }
    out
}

fn file_contents(spec: &str) -> Vec<u8> {
    if let Some(h) = spec.strip_prefix("hex:") {
        hex::decode(h).unwrap()
    } else if let Some(t) = spec.strip_prefix("text:") {
        unescape(t).into_bytes()
    } else if let Some(p) = spec.strip_prefix("vector:") {
        fs::read(Path::new(VECTORS).join(p)).unwrap()
    } else if let Some(p) = spec.strip_prefix("repo:") {
        fs::read(Path::new(REPO).join(p)).unwrap()
    } else {
        panic!("bad file spec {spec:?}")
    }
}

fn parse(text: &str) -> (String, Vec<Case>) {
    let mut preamble = String::new();
    let mut cases: Vec<Case> = Vec::new();
    let mut section: Option<&str> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("=== ") {
            cases.push(Case { name: name.to_owned(), ..Case::default() });
            section = None;
            continue;
        }
        let Some(case) = cases.last_mut() else {
            preamble.push_str(line);
            preamble.push('\n');
            continue;
        };
        match line {
            "--- stdout" => section = Some("stdout"),
            "--- stderr" => section = Some("stderr"),
            _ if section == Some("stdout") => {
                case.stdout.push_str(line);
                case.stdout.push('\n');
            }
            _ if section == Some("stderr") => {
                case.stderr.push_str(line);
                case.stderr.push('\n');
            }
            "" => {}
            _ => {
                let (directive, rest) = line.split_once(' ').unwrap_or((line, ""));
                match directive {
                    "file" => {
                        let (name, spec) = rest.split_once(' ').unwrap();
                        case.files.push((name.to_owned(), file_contents(spec)));
                    }
                    "dir" => {
                        let (name, spec) = rest.split_once(' ').unwrap();
                        let from = if let Some(p) = spec.strip_prefix("vector:") {
                            Path::new(VECTORS).join(p)
                        } else if let Some(p) = spec.strip_prefix("repo:") {
                            Path::new(REPO).join(p)
                        } else {
                            panic!("bad dir spec {spec:?}")
                        };
                        let mut entries: Vec<PathBuf> =
                            fs::read_dir(&from).unwrap().map(|e| e.unwrap().path()).collect();
                        entries.sort();
                        for path in entries.into_iter().filter(|p| p.is_file()) {
                            let file = path.file_name().unwrap().to_str().unwrap();
                            case.files.push((format!("{name}/{file}"), fs::read(&path).unwrap()));
                        }
                    }
                    "setup" => case.setup.push(words(rest)),
                    "env" => {
                        let (k, v) = rest.split_once('=').unwrap();
                        case.env.push((k.to_owned(), unescape(v)));
                    }
                    "stdin" => case.stdin = Some(unescape(rest)),
                    "requires" if rest == "keys" => case.keys = Some(true),
                    "requires" if rest == "no-keys" => case.keys = Some(false),
                    "requires" if rest == "sim" => case.sim = true,
                    "requires" if rest == "usb-gadget" => case.gadget = true,
                    "state" => {
                        let (name, fixture) = rest.split_once(' ').unwrap();
                        case.states.push((name.to_owned(), fixture.to_owned()));
                    }
                    "serve" => case.serve = Some(rest.to_owned()),
                    "args" => case.args = words(rest),
                    "exit" => {
                        case.exit = rest.parse().unwrap();
                        continue;
                    }
                    other => panic!("case {}: unknown directive {other:?}", case.name),
                }
                case.directives.push(line.to_owned());
            }
        }
    }
    // The blank line that separates cases is not part of the output.
    for case in &mut cases {
        for out in [&mut case.stdout, &mut case.stderr] {
            while out.ends_with("\n\n") {
                out.pop();
            }
        }
    }
    (preamble, cases)
}

struct Outcome {
    exit: i32,
    stdout: String,
    stderr: String,
}

fn run(case: &Case, dir: &Path) -> Outcome {
    fs::create_dir_all(dir).unwrap();
    for (name, contents) in &case.files {
        let path = dir.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
    }
    for (name, fixture) in &case.states {
        make_state(&dir.join(name), fixture);
    }
    let server = case.serve.as_deref().map(|state| serve(dir, state));
    let url = server.as_ref().map_or("$URL", |s| s.url.as_str());
    let with_url =
        |args: &[String]| -> Vec<String> { args.iter().map(|a| a.replace("$URL", url)).collect() };
    for args in &case.setup {
        let out = Command::new(env!("CARGO_BIN_EXE_yhsm"))
            .args(with_url(args))
            .current_dir(dir)
            .env_remove("YHSM_PASSWORD")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "case {:?}: setup {args:?} failed:\n{}{}",
            case.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_yhsm"));
    cmd.args(with_url(&case.args))
        .current_dir(dir)
        .env_remove("YHSM_PASSWORD")
        .stdin(if case.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &case.env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = &case.stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap().replace(url, "$URL");
    Outcome {
        exit: out.status.code().unwrap_or(-1),
        stdout: text(out.stdout),
        stderr: text(out.stderr),
    }
}

fn render(preamble: &str, cases: &[(Case, Outcome)]) -> String {
    let mut out = preamble.to_owned();
    for (case, got) in cases {
        out.push_str(&format!("=== {}\n", case.name));
        for d in &case.directives {
            out.push_str(d);
            out.push('\n');
        }
        out.push_str(&format!("exit {}\n", got.exit));
        if !got.stdout.is_empty() {
            out.push_str("--- stdout\n");
            out.push_str(&got.stdout);
        }
        if !got.stderr.is_empty() {
            out.push_str("--- stderr\n");
            out.push_str(&got.stderr);
        }
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

fn scratch(file: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("yhsm-golden-{}-{file}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn check_file(file: &str) {
    let path = Path::new(GOLDEN).join(file);
    let text = fs::read_to_string(&path).unwrap();
    let (preamble, cases) = parse(&text);
    assert!(!cases.is_empty(), "{file} has no cases");
    let base = scratch(file);
    let mut failures = Vec::new();
    let mut outcomes = Vec::new();
    let bless = std::env::var_os("YHSM_BLESS").is_some();
    for (i, case) in cases.into_iter().enumerate() {
        if case.keys.is_some_and(|keys| keys != cfg!(feature = "keys"))
            || (case.sim && !cfg!(feature = "sim"))
            || (case.gadget && !cfg!(all(feature = "usb-gadget", target_os = "linux")))
        {
            // Kept as it is when blessing.
            let got = Outcome {
                exit: case.exit,
                stdout: case.stdout.clone(),
                stderr: case.stderr.clone(),
            };
            outcomes.push((case, got));
            continue;
        }
        let got = run(&case, &base.join(i.to_string()));
        if got.exit != case.exit || got.stdout != case.stdout || got.stderr != case.stderr {
            failures.push(format!(
                "--- {file}: case {:?}\nexit: expected {}, got {}\nstdout expected:\n{}\nstdout got:\n{}\nstderr expected:\n{}\nstderr got:\n{}",
                case.name, case.exit, got.exit, case.stdout, got.stdout, case.stderr, got.stderr
            ));
        }
        outcomes.push((case, got));
    }
    let _ = fs::remove_dir_all(&base);
    if bless {
        fs::write(&path, render(&preamble, &outcomes)).unwrap();
        return;
    }
    assert!(failures.is_empty(), "{} failing case(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn inspect() {
    check_file("inspect.txt");
}

#[test]
fn wrap() {
    check_file("wrap.txt");
}

#[test]
fn shares() {
    check_file("shares.txt");
}

#[test]
fn usage() {
    check_file("usage.txt");
}

#[test]
fn device() {
    check_file("device.txt");
}

#[cfg(feature = "sim")]
mod support;

#[cfg(feature = "sim")]
use support::make_state;

#[cfg(feature = "sim")]
fn serve(dir: &Path, state: &str) -> support::Server {
    support::Server::start(dir, &["sim", "serve", "--listen", "127.0.0.1:0", "--state", state])
}

#[cfg(not(feature = "sim"))]
fn make_state(_: &Path, _: &str) {
    unreachable!("cases with a state file require sim")
}

/// Never called: cases that serve a state file require sim.
#[cfg(not(feature = "sim"))]
struct NoServer {
    url: String,
}

#[cfg(not(feature = "sim"))]
fn serve(_: &Path, _: &str) -> NoServer {
    unreachable!("cases that serve a state file require sim")
}

#[cfg(feature = "sim")]
#[test]
fn restore() {
    check_file("restore.txt");
}

#[cfg(feature = "sim")]
#[test]
fn clone() {
    check_file("clone.txt");
}

#[cfg(feature = "sim")]
#[test]
fn verify() {
    check_file("verify.txt");
}

#[test]
fn admin() {
    check_file("admin.txt");
}

#[test]
fn setup() {
    check_file("setup.txt");
}
