//! The device attestation key and certificate: made once, kept through reset and in the
//! state file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail by panicking"
)]

mod common;

use common::*;
use yhsm_proto::frame::CommandCode;
use yhsm_sim::state;

#[test]
fn the_device_attestation_is_made_once_and_survives_reset_and_the_state_file() {
    let (mut dev, _) = device();
    let cert = dev.device_attestation().unwrap().certificate().to_vec();
    assert!(dev.take_changed(), "a new attestation key is a change to save");
    assert_eq!(dev.device_attestation().unwrap().certificate(), cert);
    assert!(!dev.take_changed());
    // A reset keeps it: it is the device's, not the user's.
    let mut s = open_factory(&mut dev);
    s.send(&mut dev, CommandCode::RESET_DEVICE, &[]).unwrap();
    assert_eq!(dev.device_attestation().unwrap().certificate(), cert);

    let dir = std::env::temp_dir().join(format!("yhsm-sim-attestation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("device.state");
    state::save(&dev, &path).unwrap();
    let mut back = state::load(&path).unwrap();
    assert_eq!(back.device_attestation().unwrap().certificate(), cert);
    assert!(!back.take_changed(), "loaded, not made again");

    // A state file from before the attestation existed loads, and makes one when needed.
    let (fresh, _) = device();
    let old = state::encode(&fresh);
    let mut loaded = state::decode(&old).unwrap();
    assert_ne!(loaded.device_attestation().unwrap().certificate(), cert);

    // A damaged attestation section is a corrupt file, whatever part is hit: its tag, the
    // key, the length, the certificate's structure, its signature.
    let bytes = state::encode(&dev);
    let start = bytes.len() - (1 + 32 + 2 + cert.len());
    for at in [start, start + 1, start + 32, start + 33, start + 40, bytes.len() - 1] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x01;
        std::fs::write(&path, &bad).unwrap();
        let err = state::load(&path).unwrap_err().to_string();
        assert!(err.contains("corrupt"), "byte {at}: {err}");
    }
    let mut short = bytes.clone();
    short.truncate(bytes.len() - 1);
    std::fs::write(&path, &short).unwrap();
    assert!(state::load(&path).unwrap_err().to_string().contains("corrupt"));
    std::fs::remove_dir_all(&dir).unwrap();
}
