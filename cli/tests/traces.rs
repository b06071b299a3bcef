//! `-v`, `-vv`, `--trace` and `--trace-raw` attacked as someone who holds the output and
//! knows (or guesses) the password would attack them (issue 10 §1, docs/PROTOCOL.md §7.9).
//!
//! The attack uses the project's own SCP03 code: for each password of a dictionary, the
//! client half is fed the recorded host challenge and the recorded create-session answer;
//! its card cryptogram check tells a right guess offline. The device half, keyed from the
//! same challenges, opens the recorded sealed commands, and the client half opens the
//! recorded answers. On a raw trace of a restore it recovers the wrap key; on `-v`, `-vv`
//! and `--trace` output of the same run it gets nowhere, and every byte it would need (as
//! the raw trace of that very run shows) is absent.

#![cfg(feature = "sim")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod support;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use support::{Server, ok, run_yhsm as yhsm};
use yhsm_proto::command::{
    AuthenticationKey, ChangeAuthenticationKey, Command as _, ObjectHeader, PutAuthenticationKey,
    PutWrapKey,
};
use yhsm_proto::scp03::{ClientHandshake, DeviceHandshake};
use yhsm_proto::{Algorithm, Capabilities, Domains, Label, SecretArray, SecretBytes, StaticKeys};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");

/// What an attacker tries: a few common passwords and the demo backup's.
const DICTIONARY: [&str; 5] = ["123456", "password", "application-demo", "audit-demo", "key-six"];

fn scratch(name: &str) -> PathBuf {
    support::scratch("traces", name)
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Runs `yhsm GLOBAL… restore examples/backup EXTRA…` with the backup's shares and
/// password.
fn restore_demo(dir: &Path, global: &[&str], extra: &[&str]) -> Output {
    let backup = Path::new(EXAMPLES).join("backup");
    let path = |p: PathBuf| p.to_str().unwrap().to_owned();
    let (shares, password) = (path(backup.join("shares.txt")), path(backup.join("password.txt")));
    let backup = path(backup);
    let command = ["restore", &backup, "--shares-file", &shares, "--password-file", &password];
    yhsm(dir, &[global, &command, extra].concat())
}

/// One exchange as a trace or `-v` output shows it; `None` where a frame is not shown.
#[derive(Clone, Debug)]
struct Shown {
    command: String,
    request: Option<Vec<u8>>,
    response: Option<Vec<u8>>,
}

/// The exchanges of a `--trace` or `--trace-raw` file (a raw trace's warning line has no
/// command and is skipped).
fn from_trace(text: &str) -> Vec<Shown> {
    let hex_of = |v: &Value| v.as_str().and_then(|h| hex::decode(h).ok());
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r.get("command").is_some())
        .map(|r| Shown {
            command: r["command"].as_str().unwrap().to_owned(),
            request: hex_of(&r["request"]),
            response: hex_of(&r["response"]),
        })
        .collect()
}

/// The exchanges of `-v` / `-vv` output: `-> NAME…: FRAME` and `<- NAME… (N ms): FRAME`
/// lines, where FRAME is hex, or says only how long a sealed frame was.
fn from_verbose(text: &str) -> Vec<Shown> {
    let frame = |line: &str| {
        let (label, shown) = line[3..].split_once(": ").unwrap();
        let name = label.split([' ', '[']).next().unwrap().to_owned();
        (name, hex::decode(shown).ok())
    };
    let mut out: Vec<Shown> = Vec::new();
    for line in text.lines() {
        if line.starts_with("-> ") {
            let (command, request) = frame(line);
            out.push(Shown { command, request, response: None });
        } else if line.starts_with("<- ") {
            out.last_mut().unwrap().response = frame(line).1;
        }
    }
    out
}

/// Why the attack on one session failed.
#[derive(Debug, PartialEq, Eq)]
enum Failed {
    /// A frame the attack needs is not in the output at all.
    Absent(&'static str),
    /// No password of the dictionary gives the recorded card cryptogram: a guess cannot
    /// even be checked.
    NoPasswordMatches,
}

/// What the attack got out of one session.
#[derive(Debug)]
struct Cracked {
    key_id: u16,
    password: &'static str,
    /// Each command's name, inner request and inner answer, decrypted.
    inner: Vec<(String, Vec<u8>, Vec<u8>)>,
}

/// Attacks every session of `shown` with the dictionary: one result per create-session.
fn attack(shown: &[Shown]) -> Vec<Result<Cracked, Failed>> {
    let starts: Vec<usize> =
        (0..shown.len()).filter(|&i| shown[i].command == "create-session").collect();
    starts
        .iter()
        .enumerate()
        .map(|(n, &start)| {
            let end = starts.get(n + 1).copied().unwrap_or(shown.len());
            crack(&shown[start..end])
        })
        .collect()
}

fn crack(session: &[Shown]) -> Result<Cracked, Failed> {
    let create = &session[0];
    let request = create.request.as_deref().ok_or(Failed::Absent("create-session request"))?;
    let answer = create.response.as_deref().ok_or(Failed::Absent("create-session answer"))?;
    if request.len() != 13 || answer.len() != 20 {
        return Err(Failed::Absent("a symmetric handshake"));
    }
    let key_id = u16::from_be_bytes([request[3], request[4]]);
    let host_challenge: [u8; 8] = request[5..13].try_into().unwrap();
    let card_challenge: [u8; 8] = answer[4..12].try_into().unwrap();
    let session_id = answer[3];
    let authenticate = session.get(1).ok_or(Failed::Absent("authenticate-session"))?;
    for &password in &DICTIONARY {
        let keys = StaticKeys::from_password(password.as_bytes());
        // The client half checks the card cryptogram: a wrong guess stops here.
        let Ok((authenticating, host_request)) =
            ClientHandshake::new(key_id, &keys, host_challenge).on_create_session_response(answer)
        else {
            continue;
        };
        let recorded = authenticate.request.as_deref().ok_or(Failed::Absent("host cryptogram"))?;
        assert_eq!(host_request, recorded, "the right password gives the recorded host cryptogram");
        let (device, _) =
            DeviceHandshake::new(key_id, host_challenge, &keys, card_challenge, session_id);
        let (mut device, _) = device.on_authenticate_request(recorded).unwrap();
        let authenticated = authenticate.response.as_deref().ok_or(Failed::Absent("84 answer"))?;
        let mut client = authenticating.on_authenticate_response(authenticated).unwrap();
        let mut inner = Vec::new();
        for message in &session[2..] {
            let Some(sealed) = message.request.as_deref() else {
                return Err(Failed::Absent("a sealed command"));
            };
            if sealed.first() != Some(&0x05) {
                continue; // outside the session (e.g. a get-device-info)
            }
            let command = device.open_command(sealed).unwrap();
            // The client half, fed the decrypted command, seals it exactly as recorded.
            assert_eq!(client.seal(&command).unwrap(), sealed);
            let sealed_answer =
                message.response.as_deref().ok_or(Failed::Absent("a sealed answer"))?;
            let answer = client.open(sealed_answer).unwrap();
            assert_eq!(device.seal_response(&answer).unwrap(), sealed_answer);
            inner.push((message.command.clone(), command, answer));
        }
        return Ok(Cracked { key_id, password, inner });
    }
    Err(Failed::NoPasswordMatches)
}

/// Every run of 4 bytes that the attack needs from a raw trace: challenges, cryptograms,
/// sealed commands and answers with their MACs (everything after a handshake frame's key
/// id or session id, and after a sealed frame's session id).
fn session_material(raw: &[Shown]) -> Vec<String> {
    let mut runs = Vec::new();
    for e in raw {
        for frame in [&e.request, &e.response].into_iter().flatten() {
            let skip = match frame.first() {
                Some(0x03) => 5,
                Some(0x04 | 0x05 | 0x83 | 0x85) => 4,
                _ => continue,
            };
            for run in frame[skip.min(frame.len())..].windows(4) {
                runs.push(hex::encode(run));
            }
        }
    }
    runs
}

fn assert_no_material(what: &str, text: &str, material: &[String]) {
    assert!(material.len() > 100, "{what}: too little material to check");
    for run in material {
        assert!(!text.contains(run.as_str()), "{what} shows {run} of the session");
    }
}

fn wrap_key_hex() -> String {
    fs::read_to_string(Path::new(EXAMPLES).join("keys/wrap-key.hex")).unwrap().trim().to_lowercase()
}

#[test]
fn a_restore_under_v_vv_and_trace_cannot_be_decrypted_with_the_password() {
    for verbose in ["-v", "-vv"] {
        let dir = scratch(&format!("restore{verbose}"));
        // The same run recorded three ways: the raw trace is the attack's ground truth.
        let traces = ["--trace", "t.jsonl", "--trace-raw", "raw.jsonl", "--trace-raw-keys"];
        let out =
            restore_demo(&dir, &[&[verbose][..], &traces, &["-c", "sim:dev.state"]].concat(), &[]);
        assert!(ok(&out).contains("\nAll done\n"));
        let raw_text = fs::read_to_string(dir.join("raw.jsonl")).unwrap();
        let raw = from_trace(&raw_text);

        // The attack is real: on the raw trace it finds every password and the wrap key.
        let cracked: Vec<Cracked> = attack(&raw).into_iter().map(Result::unwrap).collect();
        let keys: Vec<(u16, &str)> = cracked.iter().map(|c| (c.key_id, c.password)).collect();
        assert!(keys.contains(&(1, "password")), "{keys:?}");
        assert!(keys.contains(&(3, "application-demo")), "{keys:?}");
        assert!(keys.contains(&(4, "audit-demo")), "{keys:?}");
        let put_wrap_key = cracked
            .iter()
            .flat_map(|c| &c.inner)
            .find(|(name, _, _)| name == "put-wrap-key")
            .expect("the attack decrypted put-wrap-key");
        assert!(hex::encode(&put_wrap_key.1).ends_with(&wrap_key_hex()), "the wrap key, in clear");

        // The same attack on what -v, -vv and --trace recorded of the same run.
        let trace = fs::read_to_string(dir.join("t.jsonl")).unwrap();
        let verbose_text = stderr(&out);
        for (what, shown, text) in [
            ("--trace", from_trace(&trace), &trace),
            (verbose, from_verbose(&verbose_text), &verbose_text),
        ] {
            let results = attack(&shown);
            assert_eq!(results.len(), cracked.len(), "{what}: every session is there");
            for result in results {
                assert_eq!(result.unwrap_err(), Failed::NoPasswordMatches, "{what}");
            }
            // Not a failure of this attack alone: what any attack would need is absent.
            assert_no_material(what, text, &session_material(&raw));
            assert!(!text.contains(&wrap_key_hex()), "{what} shows the wrap key");
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}

/// A symmetric authentication key of `enc || mac`.
fn symmetric(enc: [u8; 16], mac: [u8; 16]) -> AuthenticationKey {
    AuthenticationKey::Symmetric { enc: SecretArray::new(enc), mac: SecretArray::new(mac) }
}

#[test]
fn a_new_authentication_key_under_v_shows_no_static_key() {
    let dir = scratch("authkeys");
    fs::write(dir.join("pw"), "password\n").unwrap();
    fs::write(dir.join("pw6"), "key-six\n").unwrap();
    let six = StaticKeys::from_password(b"key-six");
    let (enc, mac) = (*six.enc.expose_secret(), *six.mac.expose_secret());
    let put = PutAuthenticationKey::new(
        6,
        Label::default(),
        Domains::ALL,
        Capabilities::ALL,
        Capabilities::ALL,
        symmetric(enc, mac),
    );
    let (new_enc, new_mac) = ([0x6e; 16], [0x3d; 16]);
    let change = ChangeAuthenticationKey { key_id: 6, key: symmetric(new_enc, new_mac) };
    let runs = [
        ("pw", "1", put.to_frame().unwrap().to_vec(), enc, mac),
        ("pw6", "6", change.to_frame().unwrap().to_vec(), new_enc, new_mac),
    ];
    for (n, (pw, key, frame, enc, mac)) in runs.into_iter().enumerate() {
        let raw_file = format!("raw{n}.jsonl");
        let code = hex::encode(&frame[..1]);
        let data = hex::encode(&frame[3..]);
        let out = yhsm(
            &dir,
            &[
                "-v",
                "--trace-raw",
                &raw_file,
                "--trace-raw-keys",
                "-c",
                "sim:dev.state",
                "-k",
                key,
                "--password-file",
                pw,
                "raw",
                &code,
                &data,
            ],
        );
        ok(&out);
        let secrets = [hex::encode(enc), hex::encode(mac)];
        let raw = from_trace(&fs::read_to_string(dir.join(&raw_file)).unwrap());
        // From the raw trace the attack reads the new key's static keys.
        let cracked: Vec<Cracked> = attack(&raw).into_iter().map(Result::unwrap).collect();
        let sent = cracked.iter().flat_map(|c| &c.inner).find(|(_, r, _)| r[0] == frame[0]);
        let sent = hex::encode(&sent.expect("the attack decrypted the command").1);
        assert!(secrets.iter().all(|s| sent.contains(s.as_str())), "{sent}");
        // From -v it reads nothing: no session opens, no key byte shows.
        let text = stderr(&out);
        let shown = from_verbose(&text);
        assert!(shown.iter().any(|s| s.command == frame_name(frame[0])), "{text}");
        assert!(attack(&shown).into_iter().all(|r| r.unwrap_err() == Failed::NoPasswordMatches));
        assert_no_material("-v", &text, &session_material(&raw));
        for secret in &secrets {
            for run in secret.as_bytes().chunks(8) {
                assert!(!text.contains(std::str::from_utf8(run).unwrap()), "-v shows {secret}");
            }
        }
    }
    fs::remove_dir_all(&dir).unwrap();
}

fn frame_name(code: u8) -> String {
    yhsm_proto::frame::CommandCode(code).to_string()
}

#[test]
fn raw_traces_refuse_key_material_unless_asked_and_say_what_they_give_away() {
    let dir = scratch("raw-refused");
    fs::write(dir.join("pw"), "password\n").unwrap();
    // A restore is refused before anything is read, asked or opened.
    let global = ["--trace-raw", "r.jsonl", "-c", "sim:dev.state"];
    let out = restore_demo(&dir, &global, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("yhsm: error: --trace-raw: restore sends the wrap key"));
    assert!(stderr(&out).contains("add --trace-raw-keys"), "{}", stderr(&out));
    assert!(!dir.join("r.jsonl").exists() && !dir.join("dev.state").exists());
    // A dry run sends no key: allowed.
    ok(&restore_demo(&dir, &global, &["--dry-run"]));
    fs::remove_file(dir.join("r.jsonl")).unwrap();

    // Commands that move key material are refused by the client, before they are sent.
    let base =
        ["--trace-raw", "r.jsonl", "--force", "-c", "sim:dev.state", "--password-file", "pw"];
    let put_wrap = PutWrapKey {
        header: ObjectHeader {
            id: 0x0040,
            label: Label::default(),
            domains: Domains(1),
            capabilities: Capabilities::EXPORT_WRAPPED,
            algorithm: Algorithm::AES256_CCM_WRAP,
        },
        delegated: Capabilities::ALL,
        key: SecretBytes::from_slice(&[0xa5; 32]),
    };
    let put_wrap = hex::encode(&put_wrap.to_frame().unwrap()[3..]);
    for (code, data) in [("put-wrap-key", put_wrap.as_str()), ("get-pseudo-random", "0010")] {
        let out = yhsm(&dir, &[&base[..], &["raw", code, data]].concat());
        assert_eq!(out.status.code(), Some(1), "{code}");
        let err = stderr(&out);
        assert!(err.contains(&format!("{code} was not sent: it moves key material")), "{err}");
        assert!(err.contains("yhsm: hint: record with --trace FILE instead"), "{err}");
        let text = fs::read_to_string(dir.join("r.jsonl")).unwrap();
        assert!(!text.contains(&format!("\"command\":\"{code}\"")), "{code} in the raw trace");
        assert!(!text.contains("a5a5a5a5"), "the key in the raw trace");
    }
    let listed = ok(&yhsm(&dir, &["-c", "sim:dev.state", "--password-file", "pw", "list"]));
    assert!(!listed.contains("0x0040"), "the refused wrap key reached the device: {listed}");

    // What a raw trace holds: a first line saying what it gives away, then raw frames.
    let out = yhsm(&dir, &[&base[..], &["list"]].concat());
    ok(&out);
    assert!(stderr(&out).starts_with("yhsm: warning: --trace-raw: anyone who knows or guesses"));
    let text = fs::read_to_string(dir.join("r.jsonl")).unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let warning = first["warning"].as_str().unwrap();
    assert!(warning.contains("anyone who knows or guesses the password"), "{warning}");
    let sessions = attack(&from_trace(&text));
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].as_ref().unwrap().password, "password");

    // Option mistakes.
    for (args, message) in [
        (vec!["--trace-raw-keys", "list"], "--trace-raw-keys goes with --trace-raw FILE"),
        (vec!["--trace", "x", "--trace-raw", "x", "list"], "name the same file"),
    ] {
        let out = yhsm(&dir, &args);
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains(message), "{}", stderr(&out));
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
#[cfg(unix)]
fn trace_files_are_owner_only_and_never_overwritten_without_force() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("clobber");
    fs::write(dir.join("pw"), "password\n").unwrap();
    for option in ["--trace", "--trace-raw"] {
        let file = dir.join("t.jsonl");
        fs::write(&file, "an earlier trace\n").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        let run = |extra: &[&str]| {
            let args = [
                &[option, "t.jsonl", "-c", "sim:dev.state", "--password-file", "pw"],
                extra,
                &["info"],
            ]
            .concat();
            yhsm(&dir, &args)
        };
        let out = run(&[]);
        assert_eq!(out.status.code(), Some(1), "{option}");
        let err = stderr(&out);
        assert!(err.contains("trace file `t.jsonl`: it already exists"), "{err}");
        assert!(err.contains("yhsm: hint: use --force to overwrite it"), "{err}");
        assert_eq!(fs::read_to_string(&file).unwrap(), "an earlier trace\n");
        assert!(!dir.join("dev.state").exists(), "the device was opened");
        // A link is not written through, even with --force.
        let target = dir.join("elsewhere");
        fs::write(&target, "someone's file\n").unwrap();
        fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink(&target, &file).unwrap();
        assert_eq!(run(&[]).status.code(), Some(1));
        ok(&run(&["--force"]));
        assert_eq!(fs::read_to_string(&target).unwrap(), "someone's file\n");
        assert_eq!(mode(&file), 0o600, "{option}: replaced, owner only");
        assert!(fs::read_to_string(&file).unwrap().contains("get-device-info"));
        // A new file is owner only too.
        fs::remove_file(&file).unwrap();
        ok(&run(&[]));
        assert_eq!(mode(&file), 0o600, "{option}: new, owner only");
        fs::remove_file(&file).unwrap();
        let _ = fs::remove_file(dir.join("dev.state"));
    }
    // dump's own --force covers its trace file too.
    fs::write(dir.join("t.jsonl"), "old\n").unwrap();
    let dump = |args: &[&str]| {
        yhsm(
            &dir,
            &[&["--trace", "t.jsonl", "-c", "sim:dev.state", "--password-file", "pw"], args]
                .concat(),
        )
    };
    assert_eq!(dump(&["dump", "out", "-w", "2"]).status.code(), Some(1));
    let _ = dump(&["dump", "out", "-w", "2", "--force"]);
    assert_ne!(fs::read_to_string(dir.join("t.jsonl")).unwrap(), "old\n");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_simulator_shows_nothing_of_the_sessions_it_serves() {
    let dir = scratch("sim-serve");
    // -v and --trace given to the server, as an operator might.
    let mut server = Server::start(
        &dir,
        &["-vv", "--trace", "server.jsonl", "sim", "serve", "--listen", "127.0.0.1:0"],
    );
    let traces = ["--trace-raw", "raw.jsonl", "--trace-raw-keys", "-c", &server.url];
    ok(&restore_demo(&dir, &traces, &[]));
    let raw = from_trace(&fs::read_to_string(dir.join("raw.jsonl")).unwrap());
    // The attack is real on the raw trace: it opens every session there (and there are some).
    let cracked = attack(&raw);
    let failed: Vec<&Failed> = cracked.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(!cracked.is_empty() && failed.is_empty(), "{} sessions, {failed:?}", cracked.len());

    let _ = server.child.kill();
    let _ = server.child.wait();
    let mut said = String::new();
    server.stdout.read_to_string(&mut said).unwrap();
    said.push_str(&fs::read_to_string(dir.join("server.stderr")).unwrap());
    if let Ok(trace) = fs::read_to_string(dir.join("server.jsonl")) {
        said.push_str(&trace);
    }
    assert_no_material("sim serve -vv --trace", &said, &session_material(&raw));
    assert!(!said.contains(&wrap_key_hex()), "the simulator shows the wrap key");
    drop(server);
    fs::remove_dir_all(&dir).unwrap();
}
