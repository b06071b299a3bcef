//! `device_command` over its seeds, corruptions of them and the saved regression inputs;
//! and the writer of its seed corpus that `fuzz/seed.sh` calls.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::path::Path;
use std::{fs, iter};

use serde_json::Value;
use yhsm_proto::command::*;
use yhsm_proto::object::{Algorithm, Capabilities, Domains, Label, ObjectType};
use yhsm_proto::secret::{SecretArray, SecretBytes};

use super::*;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors");
const REGRESSIONS: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/regressions/device_command");

fn frame_of<C: Command>(c: &C) -> Vec<u8> {
    c.to_frame().unwrap().to_vec()
}

fn header(id: u16, algorithm: Algorithm) -> ObjectHeader {
    ObjectHeader {
        id,
        label: Label::from_bytes(b"fuzz seed").unwrap(),
        domains: Domains(1),
        capabilities: Capabilities::ALL,
        algorithm,
    }
}

/// A wrapped vector's blob: it imports under a wrap key `00 01 .. 1f`.
fn vector_blob(name: &str) -> Vec<u8> {
    let text = fs::read(Path::new(VECTORS).join("wrapped").join(name)).unwrap();
    yhsm_proto::wrap::decode_text(&text).unwrap()
}

/// PUT_SYMMETRIC_KEY, which proto does not type: hdr || AES-128 key.
fn put_symmetric_key(id: u16) -> Vec<u8> {
    let mut w = yhsm_proto::codec::Writer::new();
    header(id, Algorithm::AES128).encode(&mut w);
    w.bytes(&[7; 16]);
    frame::encode(CommandCode::PUT_SYMMETRIC_KEY.0, &w.into_vec()).unwrap()
}

/// Named inputs: each a mode byte and steps that reach a part of the device.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let wrap_key: Vec<u8> = (0u8..32).collect();
    let hs = ClientHandshake::new(1, &device::factory_keys(), HOST_CHALLENGE);
    let create = hs.request();
    let pre_auth = [
        frame_of(&GetDeviceInfo),
        frame_of(&GetPartNumber),
        frame_of(&GetDevicePublicKey),
        frame_of(&Echo { data: b"seed".to_vec() }),
        create,
        vec![0x04, 0x00, 0x11, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8],
        vec![
            0x05, 0x00, 0x19, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 1, 2, 3,
            4, 5, 6, 7, 8,
        ],
        frame_of(&ListObjects::default()),
        vec![0x00],
    ];
    let objects = [
        frame_of(&ListObjects::default()),
        frame_of(&GetStorageInfo),
        frame_of(&PutOpaque {
            header: header(0x20, Algorithm::OPAQUE_DATA),
            data: b"opaque".to_vec(),
        }),
        frame_of(&GetOpaque { id: 0x20 }),
        frame_of(&GetObjectInfo { id: 0x20, object_type: ObjectType::OPAQUE }),
        frame_of(&ListObjects { filters: vec![Filter::Type(ObjectType::OPAQUE)] }),
        frame_of(&DeleteObject { id: 0x20, object_type: ObjectType::OPAQUE }),
        frame_of(&GetPseudoRandom { len: 32 }),
        frame_of(&BlinkDevice { seconds: 1 }),
        frame_of(&Echo { data: vec![0xee; 40] }),
    ];
    let wrap = [
        frame_of(&PutWrapKey {
            header: header(0x10, Algorithm::AES256_CCM_WRAP),
            delegated: Capabilities::ALL,
            key: SecretBytes::new(wrap_key),
        }),
        frame_of(&GenerateWrapKey {
            header: header(0x11, Algorithm::AES128_CCM_WRAP),
            delegated: Capabilities::ALL,
        }),
        frame_of(&PutOpaque {
            header: header(0x20, Algorithm::OPAQUE_DATA),
            data: b"opaque".to_vec(),
        }),
        frame_of(&ExportWrapped::new(0x10, ObjectType::OPAQUE, 0x20)),
        frame_of(&ImportWrapped { wrap_id: 0x10, blob: vector_blob("ec_p256.yhw") }),
        frame_of(&ImportWrapped { wrap_id: 0x10, blob: vector_blob("hmac_sha256.yhw") }),
        frame_of(&ImportWrapped { wrap_id: 0x10, blob: vector_blob("ed25519.yhw") }),
        frame_of(&ExportWrapped::new(0x10, ObjectType::ASYMMETRIC_KEY, 0x10).with_format(1)),
        frame_of(&GetPublicKey { id: 0x10, object_type: Some(ObjectType::WRAP_KEY) }),
    ];
    let keys = [
        frame_of(&PutAsymmetricKey {
            header: header(0x30, Algorithm::ECP256),
            key: SecretBytes::new(vec![0x01; 32]),
        }),
        frame_of(&SignEcdsa { key_id: 0x30, digest: vec![0xd1; 32] }),
        frame_of(&GetPublicKey::asymmetric(0x30)),
        frame_of(&GenerateAsymmetricKey { header: header(0x31, Algorithm::ED25519) }),
        vec![0x6a, 0x00, 0x05, 0x00, 0x31, b'a', b'b', b'c'],
        frame_of(&GenerateAsymmetricKey { header: header(0x32, Algorithm::ECP384) }),
        vec![0x57, 0x00, 0x03, 0x00, 0x30, 0x04],
        frame_of(&PutHmacKey {
            header: header(0x40, Algorithm::HMAC_SHA256),
            key: SecretBytes::new(vec![0x0b; 20]),
        }),
        vec![0x53, 0x00, 0x05, 0x00, 0x40, b'H', b'i', b'!'],
        put_symmetric_key(0x50),
    ];
    let log = [
        frame_of(&SetOption::force_audit(AuditMode::OFF)),
        frame_of(&GetOption { option: DeviceOption::FORCE_AUDIT }),
        frame_of(&SetOption::command_audit(&[(CommandCode::ECHO, AuditMode::ON)])),
        frame_of(&GetLogEntries),
        frame_of(&SetLogIndex { index: 2 }),
        frame_of(&GetLogEntries),
    ];
    let auth = [
        frame_of(&PutAuthenticationKey::new(
            2,
            Label::default(),
            Domains(1),
            Capabilities::ALL,
            Capabilities::ALL,
            AuthenticationKey::Symmetric {
                enc: SecretArray::new([1; 16]),
                mac: SecretArray::new([2; 16]),
            },
        )),
        frame_of(&ChangeAuthenticationKey {
            key_id: 1,
            key: AuthenticationKey::Symmetric {
                enc: SecretArray::new([3; 16]),
                mac: SecretArray::new([4; 16]),
            },
        }),
        frame_of(&CloseSession),
        frame_of(&ListObjects::default()),
    ];
    let reset = [frame_of(&ResetDevice), frame_of(&ListObjects::default())];

    fn inner(frames: &[Vec<u8>]) -> Vec<Step<'_>> {
        frames.iter().map(|f| Step::Inner(f)).collect()
    }
    let transcript: Vec<Vec<u8>> = {
        let text = fs::read_to_string(Path::new(VECTORS).join("scp03-transcript.json")).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        v["session_messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| hex::decode(m["inner_command"].as_str().unwrap()).unwrap())
            .collect()
    };
    let timeout = frame_of(&ListObjects::default());
    vec![
        (
            "pre-auth",
            encode_input(false, &pre_auth.iter().map(|f| Step::Raw(f)).collect::<Vec<_>>()),
        ),
        ("objects", encode_input(true, &inner(&objects))),
        ("wrap", encode_input(true, &inner(&wrap))),
        ("keys", encode_input(true, &inner(&keys))),
        ("log", encode_input(true, &inner(&log))),
        ("auth", encode_input(true, &inner(&auth))),
        ("reset", encode_input(true, &inner(&reset))),
        ("transcript", encode_input(true, &inner(&transcript))),
        (
            "timeout",
            encode_input(true, &[Step::Inner(&timeout), Step::Wait(&[31]), Step::Inner(&timeout)]),
        ),
        (
            "commands",
            encode_input(
                true,
                &[
                    Step::Command(&[0x48]),
                    Step::Command(&[0x51, 0, 8]),
                    Step::Raw(&[0x05, 0, 1, 0]),
                ],
            ),
        ),
    ]
}

/// Each seed, and truncations and bit flips spread over it.
fn corruptions(seed: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let step = seed.len() / 12 + 1;
    iter::once(seed.to_vec()).chain((1..seed.len()).step_by(step).flat_map(move |n| {
        let mut flipped = seed.to_vec();
        flipped[n] ^= 1 << (n % 8);
        [seed[..n].to_vec(), flipped]
    }))
}

#[test]
fn every_seed_and_its_corruptions_pass() {
    for (name, seed) in seeds() {
        println!("device_command/{name}");
        for input in corruptions(&seed) {
            device_command(&input);
        }
    }
}

#[test]
fn the_seeds_reach_the_command_handlers() {
    let seeds = seeds();
    let get = |name| &seeds.iter().find(|(n, _)| *n == name).unwrap().1;
    // Objects were created through sealed commands, so the session worked.
    let dev = run(get("wrap")).unwrap();
    assert!(dev.store().get(0x10, ObjectType::WRAP_KEY).is_some());
    assert!(dev.store().get(0x11, ObjectType::WRAP_KEY).is_some());
    assert!(dev.store().get(0x20, ObjectType::OPAQUE).is_some());
    // Imported from Yubico's blobs.
    assert!(dev.store().len() >= 6, "{} objects", dev.store().len());
    let dev = run(get("keys")).unwrap();
    for (id, t) in [
        (0x30, ObjectType::ASYMMETRIC_KEY),
        (0x31, ObjectType::ASYMMETRIC_KEY),
        (0x40, ObjectType::HMAC_KEY),
        (0x50, ObjectType::SYMMETRIC_KEY),
    ] {
        assert!(dev.store().get(id, t).is_some(), "{id:#x}");
    }
    let dev = run(get("objects")).unwrap();
    assert!(dev.store().get(0x20, ObjectType::OPAQUE).is_none(), "deleted again");
    // Without authentication nothing is created.
    let dev = run(get("pre-auth")).unwrap();
    assert_eq!(dev.store().len(), 1);
    assert!(run(&[]).is_none());
}

#[test]
fn steps_round_trip_through_their_encoding() {
    let steps_in = [Step::Raw(&[1, 2]), Step::Command(&[]), Step::Inner(&[3]), Step::Wait(&[31])];
    let input = encode_input(true, &steps_in);
    assert_eq!(input[0], 1);
    assert_eq!(steps(&input[1..]).collect::<Vec<_>>(), steps_in);
    // A length running past the end takes what is there; a cut header is an empty step.
    assert_eq!(steps(&[0, 0, 9, 7]).collect::<Vec<_>>(), [Step::Raw(&[7])]);
    assert_eq!(steps(&[6, 0]).collect::<Vec<_>>(), [Step::Inner(&[])]);
    assert_eq!(steps(&[3, 0, 0].repeat(100)).count(), MAX_STEPS);
}

#[test]
fn replays_saved_regressions() {
    // No device_command input has been saved yet; the directory may be absent, but the
    // regressions root must be where this path says, or the test would pass vacuously.
    let root = Path::new(REGRESSIONS).parent().unwrap();
    assert!(root.join("README.md").is_file(), "no fuzz/regressions at {}", root.display());
    let Ok(entries) = fs::read_dir(REGRESSIONS) else { return };
    for e in entries {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with(".md") {
            continue;
        }
        println!("replaying {}", path.display());
        device_command(&fs::read(&path).unwrap());
    }
}

/// Writes the seed corpus to `$FUZZ_CORPUS/device_command/` (run by `fuzz/seed.sh`).
#[test]
#[ignore = "writes files; run by fuzz/seed.sh"]
fn write_seed_corpus() {
    let root = std::env::var_os("FUZZ_CORPUS").expect("set FUZZ_CORPUS to the corpus directory");
    let dir = Path::new(&root).join("device_command");
    fs::create_dir_all(&dir).unwrap();
    for (name, seed) in seeds() {
        fs::write(dir.join(format!("seed-{name}")), seed).unwrap();
    }
}
