//! Clear failure within bounded time (issue 10 §6): a device or connector that stops
//! answering ends a restore after at most two waits, with a message naming `--timeout`;
//! a standard output that cannot be written ends in exit 1; a finished restore says which
//! authentication keys are left for logging in.
//!
//! No test here measures time: the waits are counted (exchanges the device saw after it
//! stopped answering, requests a stalled connector received), and the binary runs with a
//! tiny `--timeout`.

#![cfg(feature = "sim")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use yhsm::backup::restore::{self, Args, Event};
use yhsm::options::GlobalOptions;
use yhsm::util::password::PasswordOptions;
use yhsm::util::prompt::ScriptedPrompter;
use yhsm::util::timeout;
use yhsm_sim::{Action, Config, Device, Fault, ManualClock, Reply, SharedDevice, Trigger};
use yhsm_transport::sim::SimTransport;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/backup");

fn device() -> SharedDevice {
    SharedDevice::new(Device::with_clock_and_seed(
        Config::default(),
        Box::new(ManualClock::new()),
        [0x5e; 32],
    ))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("yhsm-bounded-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// `yhsm restore` of the example backup through `restore::command_with` on `dev`.
fn restore_on(dev: &SharedDevice) -> (u8, Option<yhsm::Error>, Vec<Event>) {
    let global = GlobalOptions {
        connector: "sim:".parse().unwrap(),
        password: PasswordOptions {
            file: Some(Path::new(EXAMPLE).join("password.txt")),
            argument: None,
        },
        ..GlobalOptions::default()
    };
    let args = Args {
        dir: PathBuf::from(EXAMPLE),
        shares_files: vec![Path::new(EXAMPLE).join("shares.txt")],
        ..Args::default()
    };
    let mut events = Vec::new();
    let mut prompter = ScriptedPrompter::new::<&str>(&[]);
    let mut open = |_: &_| -> Result<Box<dyn yhsm_transport::Transport>, _> {
        Ok(Box::new(SimTransport::from_shared(dev.clone())))
    };
    let mut sink = |e: &Event| events.push(e.clone());
    match restore::command_with(&global, &args, &mut prompter, None, &mut open, &mut sink) {
        Err(e) => (e.exit_code(), Some(e), events),
        Ok(report) => (report.exit_code(), report.into_failure(), events),
    }
}

/// Before: a device that stopped answering while the restore listed its objects was
/// asked three times (the client's repeat on a new session, then the restore's own
/// second look), and while verifying three times too: with the default 120 s timeout,
/// six minutes. Now, wherever it stops, the run waits at most twice and says to check
/// the connection or raise `--timeout`.
#[test]
fn a_device_that_stops_answering_is_waited_for_at_most_twice() {
    let baseline = device();
    let (code, error, _) = restore_on(&baseline);
    assert_eq!(code, 0, "{error:?}");
    let total = baseline.lock().exchanges();
    assert!(total > 20, "{total} exchanges");
    for from in 0..total {
        let dev = device();
        // From exchange `from` on, every answer is lost: to the host, a timeout each.
        for i in from..from + 100 {
            dev.lock().add_fault(Fault::always(Trigger::Exchange(i), Action::DropResponse));
        }
        let (code, error, _) = restore_on(&dev);
        let waits = dev.lock().exchanges() - from;
        assert!(waits <= 2, "stalled from exchange {from}: {waits} waits; {error:?}");
        if code == 0 {
            // Only the close of the session after everything was done went unanswered.
            assert_eq!(from, total - 1, "stalled from exchange {from}, yet succeeded");
            continue;
        }
        let e = error.unwrap_or_else(|| panic!("stalled from {from}: exit {code}, no error"));
        let hint = timeout::hint(&e)
            .unwrap_or_else(|| panic!("stalled from {from}: no --timeout hint for {}", e.render()));
        assert!(hint.contains("--timeout SECONDS"), "{hint}");
    }
}

/// A yubihsm-connector stand-in on a simulator that answers the first `answered` API
/// requests and then receives every further one without ever answering, counting them.
struct StalledConnector {
    addr: String,
    stalled: Arc<AtomicUsize>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut first = String::new();
    if reader.read_line(&mut first).ok()? == 0 {
        return None;
    }
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((first, body))
}

fn respond(stream: &mut TcpStream, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

impl StalledConnector {
    fn start(dev: SharedDevice, answered: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let stalled = Arc::new(AtomicUsize::new(0));
        let api_requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&stalled);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let (dev, counter, api) = (dev.clone(), counter.clone(), api_requests.clone());
                thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    while let Some((line, body)) = read_request(&mut reader) {
                        if line.starts_with("GET") {
                            respond(&mut stream, b"status=OK\nserial=*\nversion=3.0.4\n");
                            continue;
                        }
                        if api.fetch_add(1, Ordering::SeqCst) >= answered {
                            // Received, never answered; the client gives up and hangs up.
                            counter.fetch_add(1, Ordering::SeqCst);
                            let mut rest = Vec::new();
                            let _ = reader.read_to_end(&mut rest);
                            return;
                        }
                        match dev.handle(&body) {
                            Reply::Frame(frame) => respond(&mut stream, &frame),
                            _ => return,
                        }
                    }
                });
            }
        });
        Self { addr, stalled }
    }
}

fn yhsm(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yhsm"))
        .args(args)
        .current_dir(dir)
        .env_remove("YHSM_PASSWORD")
        .env_remove(timeout::TIMEOUT_ENV)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn restore_args<'a>(connector: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["-c", connector, "restore", EXAMPLE];
    args.extend_from_slice(&[
        "--shares-file",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/backup/shares.txt"),
    ]);
    args.extend_from_slice(&[
        "--password-file",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/backup/password.txt"),
    ]);
    args.extend_from_slice(extra);
    args
}

/// A connector that stops answering in the middle of the restore (the list, an import,
/// a verification, the deletion of the login key): the binary, with a tiny timeout, ends
/// with exit 1, an error, and a hint naming `--timeout`, having sent at most two
/// requests that went unanswered.
#[test]
fn a_stalled_connector_ends_the_restore_naming_the_option() {
    let dir = scratch("stalled");
    // API requests of the example's restore: 0 device info, 1-2 login, 3 list,
    // 4 put-wrap-key, 5-9 imports, then verification; stall at a few of them.
    for answered in [3, 6, 12, 20] {
        let dev = device();
        let connector = StalledConnector::start(dev, answered);
        let out = yhsm(&restore_args(&connector.addr, &["--timeout", "0.2"]), &dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "stalled after {answered}: {stderr}");
        assert!(stderr.contains("yhsm: error: "), "{stderr}");
        assert!(stderr.contains("--timeout SECONDS"), "stalled after {answered}: {stderr}");
        let stalled = connector.stalled.load(Ordering::SeqCst);
        assert!((1..=2).contains(&stalled), "stalled after {answered}: {stalled} waits; {stderr}");
    }
    // YHSM_TIMEOUT does the same as --timeout.
    let connector = StalledConnector::start(device(), 3);
    let out = Command::new(env!("CARGO_BIN_EXE_yhsm"))
        .args(restore_args(&connector.addr, &[]))
        .env_remove("YHSM_PASSWORD")
        .env(timeout::TIMEOUT_ENV, "0.2")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no answer within 0.2 s"), "{stderr}");
}

/// Before: `yhsm restore > /dev/full` restored, printed nothing, and exited 0.
#[test]
fn a_standard_output_that_cannot_be_written_ends_in_exit_1() {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full");
        return;
    }
    let dir = scratch("full");
    let full = || Stdio::from(fs::OpenOptions::new().write(true).open("/dev/full").unwrap());
    for extra in [&[][..], &["--json"][..], &["--dry-run"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_yhsm"))
            .args(restore_args("sim:", extra))
            .current_dir(&dir)
            .env_remove("YHSM_PASSWORD")
            .stdin(Stdio::null())
            .stdout(full())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {stderr}");
        assert!(stderr.contains("yhsm: error: cannot write to standard output"), "{stderr}");
    }
    for args in [&["--help"][..], &["shares", "combine", "--shares-file", "s.txt"][..]] {
        fs::copy(Path::new(EXAMPLE).join("shares.txt"), dir.join("s.txt")).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_yhsm"))
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(full())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
    }
}

/// Before: `All done` was the last line, and whoever ran the restore had to guess which
/// key to log in with now that the factory key was gone.
#[test]
fn a_finished_restore_says_which_authentication_keys_are_left() {
    let dev = device();
    let (code, error, events) = restore_on(&dev);
    assert_eq!(code, 0, "{error:?}");
    let n = events.len();
    assert_eq!(events[n - 2], Event::Done);
    assert_eq!(events[n - 1], Event::AuthKeysLeft(vec![3, 4]));
    assert_eq!(
        restore::render(&events[n - 1]),
        [restore::Line::Out(
            "Authentication keys left to log in with: 0x0003, 0x0004 (-k ID)".into()
        )]
    );

    // Kept, the login key is one of them; the JSON report lists them too.
    let dir = scratch("left");
    let out = yhsm(&restore_args("sim:", &["--keep-authkey", "--json"]), &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["auth_keys_left"], serde_json::json!([1, 3, 4]));
    let out = yhsm(&restore_args("sim:", &["--keep-authkey"]), &dir);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.ends_with(
            "All done\nAuthentication keys left to log in with: 0x0001, 0x0003, 0x0004 (-k ID)\n"
        ),
        "{stdout}"
    );
}
