//! ECDSA and ECDH of the simulator on brainpoolP512r1 (yhsm-keys' `bp512`, the one curve
//! no RustCrypto crate ships) against OpenSSL's implementation (when `openssl` is
//! installed; `.ci/run` requires it with `YHSM_REQUIRE_TOOLS=1`). The curve itself is
//! checked against RFC 5639 and RFC 7027 in yhsm-keys.

use chacha20::ChaCha20Rng;
use ecdsa::signature::hazmat::PrehashVerifier;
use rand_core::SeedableRng;
use yhsm_keys::bp512::BrainpoolP512r1;
use yhsm_keys::ec_public;
use yhsm_proto::Algorithm;

use super::*;
use crate::test_support::{Scratch, openssl};

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("test hex")
}

/// A DER ECDSA signature, parsed by the `ecdsa` crate.
fn der_to_signature(der: &[u8]) -> ecdsa::Signature<BrainpoolP512r1> {
    ecdsa::Signature::from_der(der).expect("a DER signature")
}

#[test]
fn signatures_verify_and_tampered_ones_do_not_and_a_bad_point_is_refused() {
    let mut rng = ChaCha20Rng::from_seed([7; 32]);
    let d = generate::<BrainpoolP512r1>(&mut rng).expect("key");
    let (x, y) = ec_public(Algorithm::ECBP512, &d).expect("public key").expect("a curve");
    let point = [&[4][..], &x, &y].concat();
    let vk = ecdsa::VerifyingKey::<BrainpoolP512r1>::from_sec1_bytes(&point).expect("key");
    let digest = [0x5a; 64];
    let sig = der_to_signature(&sign::<BrainpoolP512r1>(&d, &digest, &mut rng).expect("sign"));
    assert!(vk.verify_prehash(&digest, &sig).is_ok());
    let mut other = digest;
    other[0] ^= 1;
    assert!(vk.verify_prehash(&other, &sig).is_err());
    // ECDH with its own point works; the point with y + 1 is off the curve.
    assert_eq!(ecdh::<BrainpoolP512r1>(&d, &point).expect("ecdh").len(), 64);
    let mut bad = point;
    if let Some(last) = bad.last_mut() {
        *last ^= 1;
    }
    assert_eq!(ecdh::<BrainpoolP512r1>(&d, &bad), Err(ErrorCode::INVALID_DATA));
}

/// The private scalar and public point of an OpenSSL key file (`openssl ec -text`).
fn openssl_key(file: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let text = String::from_utf8(openssl(&["ec", "-in", file, "-noout", "-text"])?).expect("text");
    // A field is its label line followed by indented lines of `hh:hh:…`.
    let field = |name: &str| -> Vec<u8> {
        let digits: String = text
            .lines()
            .skip_while(|l| !l.starts_with(name))
            .skip(1)
            .take_while(|l| l.starts_with(' '))
            .flat_map(|l| l.chars().filter(char::is_ascii_hexdigit))
            .collect();
        unhex(&digits)
    };
    let priv_ = field("priv:");
    let pub_ = field("pub:");
    // Minimal-length scalar: left-pad to 64 bytes.
    let d = priv_.iter().skip_while(|b| **b == 0).copied().collect::<Vec<_>>();
    let mut padded = vec![0u8; 64 - d.len()];
    padded.extend(d);
    Some((padded, pub_))
}

#[test]
fn openssl_agrees_on_keys_signatures_and_ecdh() {
    let dir = Scratch::new("openssl");
    let key = dir.path("key.pem");
    let key_s = key.to_str().expect("utf-8 path");
    if openssl(&["ecparam", "-name", "brainpoolP512r1", "-genkey", "-noout", "-out", key_s])
        .is_none()
    {
        return;
    }
    let (d, public) = openssl_key(key_s).expect("key");
    // Same public key.
    let (x, y) = ec_public(Algorithm::ECBP512, &d).expect("public key").expect("a curve");
    assert_eq!([&[4][..], &x, &y].concat(), public);

    // Our signature verifies with OpenSSL.
    let msg = dir.path("msg");
    std::fs::write(&msg, b"attest this").expect("write");
    let digest = <sha2::Sha512 as sha2::Digest>::digest(b"attest this");
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    let sig = sign::<BrainpoolP512r1>(&d, &digest, &mut rng).expect("sign");
    let sig_file = dir.path("ours.sig");
    std::fs::write(&sig_file, &sig).expect("write");
    let pub_pem = dir.path("pub.pem");
    let pub_s = pub_pem.to_str().expect("utf-8 path");
    openssl(&["ec", "-in", key_s, "-pubout", "-out", pub_s]).expect("pubout");
    let verified = openssl(&[
        "dgst",
        "-sha512",
        "-verify",
        pub_s,
        "-signature",
        sig_file.to_str().expect("utf-8"),
        msg.to_str().expect("utf-8"),
    ])
    .expect("verify");
    assert!(String::from_utf8_lossy(&verified).contains("Verified OK"));

    // OpenSSL's signature verifies with ours.
    let theirs =
        openssl(&["dgst", "-sha512", "-sign", key_s, msg.to_str().expect("utf-8")]).expect("sign");
    let vk = ecdsa::VerifyingKey::<BrainpoolP512r1>::from_sec1_bytes(&public).expect("vk");
    assert!(vk.verify_prehash(&digest, &der_to_signature(&theirs)).is_ok());

    // ECDH with a second OpenSSL key: both sides derive the same secret.
    let peer = dir.path("peer.pem");
    let peer_s = peer.to_str().expect("utf-8 path");
    openssl(&["ecparam", "-name", "brainpoolP512r1", "-genkey", "-noout", "-out", peer_s])
        .expect("peer key");
    let peer_pub = dir.path("peer.pub.pem");
    let peer_pub_s = peer_pub.to_str().expect("utf-8 path");
    openssl(&["ec", "-in", peer_s, "-pubout", "-out", peer_pub_s]).expect("peer pubout");
    let shared =
        openssl(&["pkeyutl", "-derive", "-inkey", key_s, "-peerkey", peer_pub_s]).expect("derive");
    let (_, peer_point) = openssl_key(peer_s).expect("peer");
    assert_eq!(ecdh::<BrainpoolP512r1>(&d, &peer_point).expect("ecdh"), shared);
}
