//! The fuzz entry points over their seed corpus, small corruptions of it and the saved
//! regression inputs, so that they keep compiling and keep passing between campaigns;
//! and the writer of the seed corpus that `fuzz/seed.sh` calls.

use std::borrow::ToOwned;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::string::String;
use std::vec::Vec;
use std::{format, fs};

use serde_json::Value;

use super::*;
use crate::frame::CommandCode;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors");
const REGRESSIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/regressions");

type Entry = fn(&[u8]);

/// The targets of this crate: name (as in `fuzz/fuzz_targets/`) and entry point.
const TARGETS: [(&str, Entry); 4] = [
    ("yhw_text", yhw_text),
    ("shares", shares),
    ("response_frame", response_frame),
    ("session_open", session_open),
];

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

fn hex_of(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

/// Named seeds of `target`, built from `vectors/` and this crate's own answers.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let vectors = Path::new(VECTORS);
    match target {
        "yhw_text" => {
            // Each vector as yubihsm-wrap wrote it, as the raw bytes yubihsm-manager
            // writes, and wrapped at 64 columns after a byte order mark.
            let mut out = Vec::new();
            for p in files(&vectors.join("wrapped"), "yhw") {
                let text = fs::read(&p).unwrap();
                let blob = wrap::decode_text(&text).unwrap();
                let one_line = wrap::encode_text(&blob);
                let lines: Vec<&str> = one_line
                    .as_bytes()
                    .chunks(64)
                    .map(|c| std::str::from_utf8(c).unwrap())
                    .collect();
                let wrapped = format!("\u{feff}{}\r\n", lines.join("\r\n"));
                out.push((format!("{}-binary", stem(&p)), blob));
                out.push((format!("{}-wrapped", stem(&p)), wrapped.into_bytes()));
                out.push((stem(&p), text));
            }
            out
        }
        "shares" => {
            let mut out = Vec::new();
            for dir in ["yubihsm-setup", "yubihsm-manager"] {
                for path in files(&vectors.join("shares").join(dir), "json") {
                    let v: Value =
                        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
                    let Some(list) = v["shares"].as_array() else { continue };
                    let lines: Vec<&str> = list.iter().map(|s| s.as_str().unwrap()).collect();
                    let k: usize = v["k"].as_str().map_or_else(
                        || usize::try_from(v["k"].as_u64().unwrap()).unwrap(),
                        |k| k.parse().unwrap(),
                    );
                    out.push((format!("{}-all", stem(&path)), lines.join("\n").into_bytes()));
                    let last: Vec<&str> = lines.iter().rev().take(k).copied().collect();
                    out.push((format!("{}-k", stem(&path)), last.join("\n").into_bytes()));
                }
            }
            out
        }
        "response_frame" => {
            let text = fs::read_to_string(vectors.join("scp03-transcript.json")).unwrap();
            let v: Value = serde_json::from_str(&text).unwrap();
            let mut out = Vec::new();
            for (i, f) in v["frames"].as_array().unwrap().iter().enumerate() {
                out.push((format!("transcript-{i}-request"), hex_of(&f["request"])));
                out.push((format!("transcript-{i}-response"), hex_of(&f["response"])));
            }
            for (i, m) in v["session_messages"].as_array().unwrap().iter().enumerate() {
                out.push((format!("transcript-inner-{i}-command"), hex_of(&m["inner_command"])));
                out.push((format!("transcript-inner-{i}-response"), hex_of(&m["inner_response"])));
            }
            out.extend(typed_frames());
            out
        }
        "session_open" => session_open_seeds()
            .into_iter()
            .enumerate()
            .map(|(i, s)| (format!("genuine-{i}"), s))
            .collect(),
        _ => panic!("no target {target}"),
    }
}

/// Frames of the commands the transcript does not have, built with the typed encoders.
fn typed_frames() -> Vec<(String, Vec<u8>)> {
    use crate::command::*;
    use crate::object::{Algorithm, Capabilities, Domains, Label, ObjectType};
    let header = |algorithm| ObjectHeader {
        id: 0x0102,
        label: Label::from_bytes(b"seed").unwrap(),
        domains: Domains(1),
        capabilities: Capabilities(0x10),
        algorithm,
    };
    let filters = vec![Filter::Type(ObjectType::WRAP_KEY), Filter::Label(Label::default())];
    let auth = AuthenticationKey::Symmetric {
        enc: SecretArray::new([1; 16]),
        mac: SecretArray::new([2; 16]),
    };
    let frames: Vec<(&str, Vec<u8>)> = vec![
        ("list-objects", ListObjects { filters }.to_frame().unwrap().to_vec()),
        (
            "export-wrapped",
            ExportWrapped::new(1, ObjectType::ASYMMETRIC_KEY, 2)
                .with_format(1)
                .to_frame()
                .unwrap()
                .to_vec(),
        ),
        (
            "import-wrapped",
            ImportWrapped { wrap_id: 1, blob: vec![7; 90] }.to_frame().unwrap().to_vec(),
        ),
        (
            "put-wrap-key",
            PutWrapKey {
                header: header(Algorithm::AES128_CCM_WRAP),
                delegated: Capabilities(3),
                key: crate::secret::SecretBytes::new(vec![5; 16]),
            }
            .to_frame()
            .unwrap()
            .to_vec(),
        ),
        (
            "put-authentication-key",
            PutAuthenticationKey::new(
                2,
                Label::default(),
                Domains(1),
                Capabilities(1),
                Capabilities(1),
                auth,
            )
            .to_frame()
            .unwrap()
            .to_vec(),
        ),
        ("set-option", SetOption::force_audit(AuditMode::ON).to_frame().unwrap().to_vec()),
        (
            "get-public-key",
            GetPublicKey { id: 3, object_type: Some(ObjectType::WRAP_KEY) }
                .to_frame()
                .unwrap()
                .to_vec(),
        ),
        (
            "sign-ecdsa-response",
            encode_response_frame::<SignEcdsa>(&SignEcdsaResponse {
                signature: vec![0x30, 2, 1, 0],
            })
            .unwrap()
            .to_vec(),
        ),
        (
            "log-entries-response",
            encode_response_frame::<GetLogEntries>(&LogEntries {
                unlogged_boot: 1,
                unlogged_auth: 0,
                entries: vec![LogEntry {
                    number: 1,
                    command: CommandCode::ECHO,
                    length: 0,
                    session_key: 0xffff,
                    target_key: 0xffff,
                    second_key: 0xffff,
                    result: 0x81,
                    tick: 9,
                    digest: [4; 16],
                }],
            })
            .unwrap()
            .to_vec(),
        ),
        (
            "device-public-key-response",
            encode_response_frame::<GetDevicePublicKey>(&DevicePublicKey {
                x: [1; 32],
                y: [2; 32],
            })
            .unwrap()
            .to_vec(),
        ),
        ("error", frame::encode_error(frame::ErrorCode::OBJECT_NOT_FOUND)),
    ];
    frames.into_iter().map(|(n, f)| (n.into(), f)).collect()
}

/// Each seed, every truncation of it, and single-bit flips spread over it.
fn corruptions(seed: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![seed.to_vec()];
    let step = seed.len() / 64 + 1;
    for n in (0..seed.len()).step_by(step) {
        out.push(seed[..n].to_vec());
        let mut flipped = seed.to_vec();
        flipped[n] ^= 1 << (n % 8);
        out.push(flipped);
    }
    out
}

#[test]
fn every_entry_passes_its_seeds_and_their_corruptions() {
    for (target, entry) in TARGETS {
        let seeds = seeds(target);
        assert!(seeds.len() >= 4, "{target}: {} seeds", seeds.len());
        for (name, seed) in &seeds {
            // Shown when an entry panics.
            std::println!("{target}/{name}");
            for input in corruptions(seed) {
                entry(&input);
            }
        }
    }
}

#[test]
fn the_seeds_reach_the_decoders_past_the_crypto() {
    // Every wrapped vector unwraps under one of the fixed keys, so the fuzzer starts from
    // blobs whose tag verifies.
    for (name, text) in seeds("yhw_text") {
        let (blob, _) = wrap::decode_file(&text).unwrap();
        assert!(wrap_keys().iter().any(|k| wrap::unwrap(k, &blob).is_ok()), "{name}");
    }
    // Every share seed combines.
    for (name, text) in seeds("shares") {
        let lines: Vec<&str> = std::str::from_utf8(&text).unwrap().lines().collect();
        assert!(shares::combine(&shares::parse_shares(&lines).unwrap()).is_ok(), "{name}");
    }
    // The genuine session answers open (all but the last two, which are errors).
    let seeds = session_open_seeds();
    for seed in &seeds[..seeds.len() - 2] {
        let mode = SessionMode::from_byte(seed[0]);
        let answer = &seed[1..];
        let ok = match mode {
            SessionMode::CreateSession => {
                ClientHandshake::new(AUTH_KEY_ID, &static_keys(), HOST_CHALLENGE)
                    .on_create_session_response(answer)
                    .is_ok()
            }
            SessionMode::Authenticate => answer == [0x84, 0, 0],
            SessionMode::CreateAsymmetric => {
                asymmetric_handshake().on_create_session_response(answer).is_ok()
            }
            SessionMode::Established(n) => {
                let (mut client, _) = established_pair(n);
                client.seal(&PENDING_COMMAND).unwrap();
                client.open(answer).is_ok()
            }
        };
        assert!(ok, "{mode:?}");
    }
}

#[test]
fn the_frame_entry_covers_every_command() {
    // Every named command code but the session's own frames has a command type, and the
    // entry calls each of them. (That every `impl Command` is in the registry is a lint:
    // `yhsm-lint commands`.)
    let session = [
        CommandCode::CREATE_SESSION,
        CommandCode::AUTHENTICATE_SESSION,
        CommandCode::SESSION_MESSAGE,
        CommandCode::ERROR,
    ];
    let named: BTreeSet<u8> = (0..=0x7f)
        .map(CommandCode)
        .filter(|c| c.is_known() && !session.contains(c))
        .map(|c| c.0)
        .collect();
    let typed: BTreeSet<u8> = command::infos().iter().map(|i| i.code.0).collect();
    assert_eq!(typed, named, "codes without a command type, or types without a name");
    let covered: BTreeSet<String> = covered_commands().into_iter().map(String::from).collect();
    let registered: BTreeSet<String> =
        command::infos().iter().map(|i| i.type_name.to_owned()).collect();
    assert!(covered.is_superset(&registered), "{:?}", registered.difference(&covered));
    assert_eq!(covered.len(), registered.len() + 1, "GetPartNumber, the second form");
}

#[test]
fn established_sessions_refuse_a_tampered_answer() {
    // The entry's own property, spelled out once on a known input: a genuine answer with
    // one bit flipped in its MAC poisons the session.
    let mut seed = session_open_seeds()[3].clone();
    assert_eq!(SessionMode::from_byte(seed[0]), SessionMode::Established(0));
    let last = seed.len() - 1;
    seed[last] ^= 0x80;
    let (mut client, _) = established_pair(0);
    client.seal(&PENDING_COMMAND).unwrap();
    assert_eq!(client.open(&seed[1..]), Err(SessionError::ResponseMacMismatch));
    assert!(client.is_poisoned());
    session_open(&seed);
}

#[test]
fn replays_saved_regressions() {
    for (target, entry) in TARGETS {
        // A target without saved inputs has no directory; the root must exist, or a wrong
        // path would make this test pass without replaying anything.
        assert!(Path::new(REGRESSIONS).join("README.md").is_file(), "no {REGRESSIONS}");
        let dir = Path::new(REGRESSIONS).join(target);
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for e in entries {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy();
            if name.starts_with('.') || name.ends_with(".md") {
                continue;
            }
            std::println!("replaying {}", path.display());
            entry(&fs::read(&path).unwrap());
        }
    }
}

/// Writes the seed corpus to `$FUZZ_CORPUS/<target>/` (run by `fuzz/seed.sh`).
#[test]
#[ignore = "writes files; run by fuzz/seed.sh"]
fn write_seed_corpus() {
    let Some(root) = std::env::var_os("FUZZ_CORPUS") else {
        panic!("set FUZZ_CORPUS to the corpus directory");
    };
    for (target, _) in TARGETS {
        let dir = Path::new(&root).join(target);
        fs::create_dir_all(&dir).unwrap();
        for (name, seed) in seeds(target) {
            fs::write(dir.join(format!("seed-{name}")), seed).unwrap();
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Arbitrary data fields under every command's code (request) and response code, run
    /// through the frame entry: every type that decodes them re-encodes them unchanged.
    #[test]
    fn every_command_type_is_canonical_on_arbitrary_data(
        data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120),
    ) {
        for info in crate::command::infos() {
            for code in [info.code.0, info.code.response()] {
                let mut frame = std::vec![code, 0, u8::try_from(data.len()).unwrap()];
                frame.extend_from_slice(&data);
                response_frame(&frame);
            }
        }
    }
}
