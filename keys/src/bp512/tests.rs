//! The curve against what others published about it: RFC 5639's parameters and RFC 7027's
//! key agreement example (the simulator's tests add OpenSSL's implementation).

use elliptic_curve::Group;
use elliptic_curve::ff::PrimeField;
use elliptic_curve::sec1::{FromSec1Point, ToSec1Point};

use super::*;

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("test hex")
}

fn scalar(s: &str) -> Scalar {
    let bytes: [u8; 64] = unhex(s).try_into().expect("64 bytes");
    Option::from(Scalar::from_repr(bytes.into())).expect("a scalar below q")
}

fn point(x: &str, y: &str) -> AffinePoint {
    let mut sec1 = vec![0x04];
    sec1.extend(unhex(x));
    sec1.extend(unhex(y));
    AffinePoint::from_sec1_bytes(&sec1).expect("a point on the curve")
}

fn xy(p: ProjectivePoint) -> (Vec<u8>, Vec<u8>) {
    let sec1 = AffinePoint::from(p).to_sec1_point(false);
    (sec1.x().expect("x").to_vec(), sec1.y().expect("y").to_vec())
}

// RFC 7027 Appendix A.3 ("512-Bit Curve"): the ECDH example's values.
const D_A: &str = "16302ff0dbbb5a8d733dab7141c1b45acbc8715939677f6a56850a38bd87bd59b09e80279609ff333eb9d4c061231fb26f92eeb04982a5f1d1764cad57665422";
const X_QA: &str = "0a420517e406aac0acdce90fcd71487718d3b953efd7fbec5f7f27e28c6149999397e91e029e06457db2d3e640668b392c2a7e737a7f0bf04436d11640fd09fd";
const Y_QA: &str = "72e6882e8db28aad36237cd25d580db23783961c8dc52dfa2ec138ad472a0fcef3887cf62b623b2a87de5c588301ea3e5fc269b373b60724f5e82a6ad147fde7";
const D_B: &str = "230e18e1bcc88a362fa54e4ea3902009292f7f8033624fd471b5d8ace49d12cfabbc19963dab8e2f1eba00bffb29e4d72d13f2224562f405cb80503666b25429";
const X_QB: &str = "9d45f66de5d67e2e6db6e93a59ce0bb48106097ff78a081de781cdb31fce8ccbaaea8dd4320c4119f1e9cd437a2eab3731fa9668ab268d871deda55a5473199f";
const Y_QB: &str = "2fdc313095bcdd5fb3a91636f07a959c8e86b5636a1e930e8396049cb481961d365cc11453a06c719835475b12cb52fc3c383bce35e27ef194512b71876285fa";
const X_Z: &str = "a7927098655f1f9976fa50a9d566865dc530331846381c87256baf3226244b76d36403c024d7bbf0aa0803eaff405d3d24f11a9b5c0bef679fe1454b21c4cd1f";

#[test]
fn the_generator_is_on_the_curve_and_has_order_q() {
    let g = ProjectivePoint::generator();
    // Decoding checks y² = x³ + ax + b.
    let (x, y) = xy(g);
    let _ = point(&hex::encode(&x), &hex::encode(&y));
    assert_eq!(g * Scalar::ZERO, ProjectivePoint::IDENTITY);
    // (q − 1)·G = −G, so q·G is the identity: G has order q (a prime), cofactor 1.
    let minus_one = -Scalar::ONE;
    assert_eq!(g * minus_one, -g);
    assert_eq!(g * minus_one + g, ProjectivePoint::IDENTITY);
}

#[test]
fn rfc7027_key_agreement_is_reproduced() {
    let (d_a, d_b) = (scalar(D_A), scalar(D_B));
    let g = ProjectivePoint::generator();
    assert_eq!(xy(g * d_a), (unhex(X_QA), unhex(Y_QA)));
    assert_eq!(xy(g * d_b), (unhex(X_QB), unhex(Y_QB)));
    let q_a = ProjectivePoint::from(point(X_QA, Y_QA));
    let q_b = ProjectivePoint::from(point(X_QB, Y_QB));
    assert_eq!(xy(q_b * d_a).0, unhex(X_Z));
    assert_eq!(xy(q_a * d_b).0, unhex(X_Z));
}

#[test]
fn public_keys_follow_from_the_curve_list() {
    // d·G through `ec_public`, which reaches this curve through `for_curve!`.
    let (x, y) = crate::ec_public(yhsm_proto::Algorithm::ECBP512, &unhex(D_A)).unwrap().unwrap();
    assert_eq!((x, y), (unhex(X_QA), unhex(Y_QA)));
}
