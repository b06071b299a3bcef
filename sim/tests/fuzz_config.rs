//! The fuzzing configuration of RSA (`src/fuzzing/rsa_work.rs`: generated keys taken
//! from a fixed pool, cheap prime checks, a cost budget per input) is compiled only into
//! the simulator's own unit tests and the fuzz package's `fuzzing` feature. This test
//! links the library as every user does: keys generated even on the fuzzed device's seed
//! are fresh, none from the pool.

#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed step fails the test"
)]

mod common;

use common::*;
use rsa::BoxedUint;
use yhsm_proto::command::{ExportWrapped, GenerateAsymmetricKey, GenerateWrapKey};
use yhsm_proto::command::{GetPublicKey, PutAsymmetricKey, PutWrapKey};
use yhsm_proto::secret::SecretBytes;
use yhsm_proto::wrap::{self, Body, WrapKey};
use yhsm_proto::{Algorithm, Capabilities, ObjectType};
use yhsm_sim::{Config, Device, ManualClock};

/// The pool of the fuzzing configuration: `algorithm p q` lines, primes in hex.
const POOL: &str = include_str!("../src/fuzzing/rsa_pool.txt");

/// The device the fuzz target drives (`yhsm_sim::fuzzing::SEED`).
fn fuzzed_device() -> Device {
    Device::with_clock_and_seed(Config::default(), Box::new(ManualClock::new()), [0x5e; 32])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

/// The pool's RSA-2048 keys, as `(p, q)`.
fn pool_2048() -> Vec<(Vec<u8>, Vec<u8>)> {
    let lines = POOL.lines().filter(|l| l.starts_with("rsa2048 "));
    lines
        .map(|l| {
            let fields: Vec<&str> = l.split(' ').collect();
            (unhex(fields[1]), unhex(fields[2]))
        })
        .collect()
}

fn in_pool(prime: &[u8]) -> bool {
    POOL.contains(&hex(prime))
}

/// The primes of asymmetric key `id`, exported under AES wrap key 0x7000.
fn exported_primes(s: &mut Session, dev: &mut Device, id: u16) -> (Vec<u8>, Vec<u8>) {
    let export = ExportWrapped::new(0x7000, ObjectType::ASYMMETRIC_KEY, id);
    let blob = s.call(dev, &export).unwrap().blob;
    let key = WrapKey::new(&[0x42; 32]).unwrap();
    let object = wrap::unwrap(&key, &blob).unwrap();
    let Body::Rsa { p, q, .. } = &object.body else { panic!("not RSA") };
    (p.expose_secret().to_vec(), q.expose_secret().to_vec())
}

#[test]
fn rsa_keys_generated_on_the_fuzzed_seed_are_fresh() {
    let mut dev = fuzzed_device();
    let mut s = open_factory(&mut dev);
    let put_wrap = PutWrapKey {
        header: header(0x7000, "wrap", 1, Capabilities::ALL, Algorithm::AES256_CCM_WRAP),
        delegated: Capabilities::ALL,
        key: SecretBytes::new(vec![0x42; 32]),
    };
    s.call(&mut dev, &put_wrap).unwrap();

    // The check can fail: a pool key put in the clear is found in the pool.
    let (p, q) = pool_2048().swap_remove(0);
    let put = PutAsymmetricKey {
        header: header(0x20, "pool", 1, Capabilities::ALL, Algorithm::RSA2048),
        key: SecretBytes::new([p, q].concat()),
    };
    s.call(&mut dev, &put).unwrap();
    let (p, q) = exported_primes(&mut s, &mut dev, 0x20);
    assert!(in_pool(&p) && in_pool(&q));

    let mut seen = Vec::new();
    for id in [0x21, 0x22] {
        let req = GenerateAsymmetricKey {
            header: header(id, "fresh", 1, Capabilities::ALL, Algorithm::RSA2048),
        };
        s.call(&mut dev, &req).unwrap();
        let (p, q) = exported_primes(&mut s, &mut dev, id);
        assert!(!in_pool(&p) && !in_pool(&q), "key {id:#x} is a pool key");
        seen.extend([p, q]);
    }
    assert!(seen[0] != seen[2] && seen[1] != seen[3], "two generations gave one key");

    // An RSA wrap key: its modulus is no product of pool primes.
    let req = GenerateWrapKey {
        header: header(0x23, "fresh", 1, Capabilities::ALL, Algorithm::RSA2048),
        delegated: Capabilities::ALL,
    };
    s.call(&mut dev, &req).unwrap();
    let n = s.call(&mut dev, &GetPublicKey { id: 0x23, object_type: Some(ObjectType::WRAP_KEY) });
    let n = n.unwrap().key;
    for (p, q) in pool_2048() {
        let product = BoxedUint::from_be_slice(&p, 2048)
            .unwrap()
            .wrapping_mul(BoxedUint::from_be_slice_vartime(&q));
        assert_ne!(product.to_be_bytes().as_ref(), n.as_slice());
    }
}
