//! Reading and writing against OpenSSL's own PKCS#8 (the PEMs of `vectors/wrapped`), round
//! trips on every curve, and broken input.

use base64::Engine as _;
use yhsm_proto::wrap::Body;
use yhsm_proto::{Algorithm, SecretArray};

use super::*;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/wrapped");

/// The DER of a vector's PEM key, and its algorithm.
fn vector(name: &str) -> (Algorithm, Vec<u8>) {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{VECTORS}/{name}.json")).unwrap())
            .unwrap();
    let pem = v["input"]["pem"].as_str().unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let algorithm = match name {
        "ec_p256" => Algorithm::ECP256,
        "ec_p384" => Algorithm::ECP384,
        "ed25519" => Algorithm::ED25519,
        "rsa2048" => Algorithm::RSA2048,
        other => panic!("{other}"),
    };
    (algorithm, base64::engine::general_purpose::STANDARD.decode(b64).unwrap())
}

const VECTOR_KEYS: [&str; 4] = ["ec_p256", "ec_p384", "ed25519", "rsa2048"];

#[test]
fn writes_back_exactly_what_openssl_wrote() {
    for name in VECTOR_KEYS {
        let (algorithm, der) = vector(name);
        let key = PrivateKey::from_pkcs8(&der).unwrap();
        let d = match key {
            PrivateKey::Rsa { d, .. } => Some(d),
            _ => None,
        };
        let body = key.into_body_with_seed(algorithm).unwrap();
        let written = to_pkcs8(algorithm, &body, d).unwrap();
        assert_eq!(written.as_slice(), der.as_slice(), "{name}");
        // The yubihsm-wrap form of the same key: an ed25519 key without its seed.
        let plain = PrivateKey::from_pkcs8(&der).unwrap().into_body(algorithm).unwrap();
        match (&plain, &body) {
            (
                Body::Ed25519 { seed: None, public: a, .. },
                Body::Ed25519 { seed: Some(_), public: b, .. },
            ) => {
                assert_eq!(a, b);
            }
            (Body::Ed25519 { .. }, _) => panic!("{name}: {plain:?}"),
            _ => assert_eq!(plain, body, "{name}"),
        }
    }
}

#[test]
fn round_trips_a_key_of_every_curve_with_arithmetic() {
    for (algorithm, _) in curve::CURVES.iter().filter(|(a, _)| has_arithmetic(*a)) {
        let size = algorithm.ec_field_size().unwrap();
        let mut d = vec![0x5a; size];
        d[0] = 0x01;
        let (x, y) = ec_public(*algorithm, &d).unwrap().unwrap();
        let body = Body::ec(*algorithm, &d, &x, &y).unwrap();
        let der = to_pkcs8(*algorithm, &body, None).unwrap();
        let back = PrivateKey::from_pkcs8(&der).unwrap().into_body(*algorithm).unwrap();
        assert_eq!(back, body, "{algorithm}");
        // Another curve is refused, naming both.
        let other =
            if *algorithm == Algorithm::ECP256 { Algorithm::ECK256 } else { Algorithm::ECP256 };
        let e = PrivateKey::from_pkcs8(&der).unwrap().into_body(other).unwrap_err();
        assert_eq!(e, KeyError::OtherAlgorithm { found: *algorithm, algorithm: other });
    }
}

#[test]
fn every_curve_computes_its_public_key_and_checks_the_one_in_the_key() {
    // ecbp512 too (`bp512`): a key without a public key gets it computed; one with
    // another point is refused.
    let algorithm = Algorithm::ECBP512;
    assert!(curve::CURVES.iter().all(|(a, _)| has_arithmetic(*a)));
    let d = vec![1u8; 64];
    let (x, y) = ec_public(algorithm, &d).unwrap().unwrap();
    let key = PrivateKey::Ec { curve: Some(algorithm), d: &d, public: None };
    assert_eq!(key.into_body(algorithm).unwrap(), Body::ec(algorithm, &d, &x, &y).unwrap());
    let wrong = [&[4][..], &x, &[3u8; 64]].concat();
    let key = PrivateKey::Ec { curve: Some(algorithm), d: &d, public: Some(&wrong) };
    assert_eq!(key.into_body(algorithm).unwrap_err(), KeyError::PublicKeyMismatch);
}

#[test]
fn rejects_every_truncation_and_a_trailing_byte_and_survives_every_bit_flip() {
    for name in VECTOR_KEYS {
        let (algorithm, der) = vector(name);
        for len in 0..der.len() {
            assert!(PrivateKey::from_der(&der[..len]).is_err(), "{name} truncated to {len}");
        }
        let mut longer = der.clone();
        longer.push(0);
        assert_eq!(PrivateKey::from_der(&longer).unwrap_err(), KeyError::NotAPrivateKey, "{name}");
        for i in 0..der.len() {
            for bit in [0x01, 0x80] {
                let mut flipped = der.clone();
                flipped[i] ^= bit;
                let _ = PrivateKey::from_der(&flipped).and_then(|k| k.into_body(algorithm));
            }
        }
    }
}

#[test]
fn a_public_key_that_is_not_the_keys_is_refused() {
    // The EC vectors end with the public point; ed25519 carries none in PKCS#8 v1.
    for name in ["ec_p256", "ec_p384"] {
        let (algorithm, mut der) = vector(name);
        *der.last_mut().unwrap() ^= 0x01;
        let e = PrivateKey::from_pkcs8(&der).unwrap().into_body(algorithm).unwrap_err();
        assert_eq!(e, KeyError::PublicKeyMismatch, "{name}");
        assert_eq!(e.to_string(), "the public key in the file does not match the private key");
    }
    let (_, der) = vector("ed25519");
    let seed = &der[der.len() - 32..];
    let wrong = [7u8; 32];
    let key = PrivateKey::Ed25519 { seed, public: Some(&wrong) };
    assert_eq!(key.into_body(Algorithm::ED25519).unwrap_err(), KeyError::PublicKeyMismatch);
    let right = ed25519_public(&SecretArray::from_slice(seed).unwrap());
    let key = PrivateKey::Ed25519 { seed, public: Some(&right) };
    assert!(key.into_body(Algorithm::ED25519).is_ok());
}

#[test]
fn names_what_is_wrong() {
    let (_, mut ed) = vector("ed25519");
    // 1.3.101.112 (Ed25519) becomes 1.3.101.110 (X25519).
    let at = ed.windows(3).position(|w| w == [0x2b, 0x65, 0x70]).unwrap();
    ed[at + 2] = 0x6e;
    let e = PrivateKey::from_pkcs8(&ed).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the PKCS#8 key has algorithm 1.3.101.110; expected RSA (1.2.840.113549.1.1.1), EC \
         (1.2.840.10045.2.1) or Ed25519 (1.3.101.112)"
    );
    let (_, rsa) = vector("rsa2048");
    let e = PrivateKey::from_pkcs8(&rsa).unwrap().into_body(Algorithm::RSA3072).unwrap_err();
    assert_eq!(e.to_string(), "the file holds an rsa2048 key, but --algorithm is rsa3072");
    let e = PrivateKey::from_pkcs8(&rsa).unwrap().into_body(Algorithm::ECP256).unwrap_err();
    assert_eq!(e.to_string(), "the file holds an rsa2048 key, but --algorithm is ecp256");
    let (_, ec) = vector("ec_p256");
    let e = PrivateKey::from_pkcs8(&ec).unwrap().into_body(Algorithm::ED25519).unwrap_err();
    assert_eq!(e.to_string(), "the file holds an ecp256 key, but --algorithm is ed25519");
    let e = PrivateKey::from_pkcs8(&[0x30, 0x00]).unwrap_err();
    assert!(e.to_string().starts_with("malformed PKCS#8 private key: "), "{e}");
    // RSA parameters other than NULL.
    let at = rsa.windows(2).position(|w| w == [0x05, 0x00]).unwrap();
    let mut bad = rsa.clone();
    bad[at] = 0x04;
    assert_eq!(PrivateKey::from_pkcs8(&bad).unwrap_err(), KeyError::RsaParameters);
}

#[test]
fn debug_shows_no_key_material() {
    for name in VECTOR_KEYS {
        let (_, der) = vector(name);
        let text = format!("{:?}", PrivateKey::from_pkcs8(&der).unwrap());
        assert!(text.len() < 60 && text.starts_with("PrivateKey::"), "{text}");
    }
}

#[test]
fn writes_no_pkcs8_for_what_has_none() {
    let seed = SecretArray::new([9; 32]);
    let unseeded = Body::ed25519_from_seed(&seed, ed25519_public(&seed));
    assert_eq!(to_pkcs8(Algorithm::ED25519, &unseeded, None), Err(KeyError::Ed25519WithoutSeed));
    let (_, rsa) = vector("rsa2048");
    let body = PrivateKey::from_pkcs8(&rsa).unwrap().into_body(Algorithm::RSA2048).unwrap();
    assert_eq!(to_pkcs8(Algorithm::RSA2048, &body, None), Err(KeyError::RsaWithoutExponent));
    let raw = Body::Raw(yhsm_proto::SecretBytes::new(vec![1; 16]));
    assert_eq!(to_pkcs8(Algorithm::AES128, &raw, None), Err(KeyError::NotAsymmetric));
}
