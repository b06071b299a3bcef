//! Export and import of every key type, Yubico's `.yhw` vectors, signatures checked with
//! independent verifiers, and arbitrary frames before and after authentication.

#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed step fails the test"
)]

mod common;

use common::*;
use proptest::prelude::*;
use yhsm_proto::command::{
    DeleteObject, ExportWrapped, GenerateAsymmetricKey, GetObjectInfo, GetPublicKey, ImportWrapped,
    ObjectHeader, PutAsymmetricKey, PutHmacKey, PutOpaque, PutWrapKey, SignEcdsa,
};
use yhsm_proto::frame::CommandCode;
use yhsm_proto::secret::SecretBytes;
use yhsm_proto::{Algorithm, Capabilities, ObjectId, ObjectInfo, ObjectType, Origin};
use yhsm_sim::Device;

const EXPORTABLE: Capabilities = Capabilities(
    Capabilities::EXPORTABLE_UNDER_WRAP.0 | Capabilities::SIGN_ECDSA.0 | Capabilities::SIGN_EDDSA.0,
);

fn wrap_key(s: &mut Session, dev: &mut Device, id: u16, key: &[u8]) {
    let req = PutWrapKey {
        header: header(
            id,
            "wrap",
            0xffff,
            Capabilities(0x3000),
            Algorithm::wrap_for_key_size(key.len()).unwrap(),
        ),
        delegated: Capabilities::ALL,
        key: SecretBytes::from_slice(key),
    };
    s.call(dev, &req).unwrap();
}

fn info(s: &mut Session, dev: &mut Device, id: ObjectId, t: ObjectType) -> ObjectInfo {
    s.call(dev, &GetObjectInfo { id, object_type: t }).unwrap()
}

/// Exports (id, t) under every wrap key size, deletes it, imports it back and checks that
/// only the origin changed.
fn round_trip(s: &mut Session, dev: &mut Device, id: ObjectId, t: ObjectType, format: u8) {
    for (wrap_id, key) in [(0x7001u16, vec![1u8; 16]), (0x7002, vec![2; 24]), (0x7003, vec![3; 32])]
    {
        if s.call(dev, &GetObjectInfo { id: wrap_id, object_type: ObjectType::WRAP_KEY }).is_err() {
            wrap_key(s, dev, wrap_id, &key);
        }
        let before = info(s, dev, id, t);
        let blob =
            s.call(dev, &ExportWrapped::new(wrap_id, t, id).with_format(format)).unwrap().blob;
        assert_eq!(
            blob.len(),
            13 + 59 + usize::from(before.length) + 16 + if format == 1 { 32 } else { 0 },
            "{t} {id:#x}"
        );
        s.call(dev, &DeleteObject { id, object_type: t }).unwrap();
        let r = s.call(dev, &ImportWrapped { wrap_id, blob }).unwrap();
        assert_eq!((r.id, r.object_type), (id, t));
        let after = info(s, dev, id, t);
        assert_eq!(
            after,
            ObjectInfo { origin: before.origin.with_imported_wrapped(), ..before },
            "{t}"
        );
    }
}

#[test]
fn round_trips_every_key_type_under_every_wrap_key_size() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let mut next = 0x100u16;
    for alg in [
        Algorithm::ECP224,
        Algorithm::ECP256,
        Algorithm::ECP384,
        Algorithm::ECP521,
        Algorithm::ECK256,
        Algorithm::ECBP256,
        Algorithm::ECBP384,
        Algorithm::ECBP512,
        Algorithm::ED25519,
    ] {
        next += 1;
        let req = GenerateAsymmetricKey { header: header(next, "asym", 1, EXPORTABLE, alg) };
        s.call(&mut dev, &req).unwrap();
        let public = s.call(&mut dev, &GetPublicKey::asymmetric(next)).unwrap();
        if alg == Algorithm::ED25519 {
            // Format 1 keeps the seed (128-byte body) of a key the device generated.
            round_trip(&mut s, &mut dev, next, ObjectType::ASYMMETRIC_KEY, 1);
        }
        round_trip(&mut s, &mut dev, next, ObjectType::ASYMMETRIC_KEY, 0);
        assert_eq!(s.call(&mut dev, &GetPublicKey::asymmetric(next)).unwrap(), public, "{alg}");
    }
    let opaque = PutOpaque {
        header: header(0x200, "op", 1, EXPORTABLE, Algorithm::OPAQUE_DATA),
        data: vec![5; 700],
    };
    s.call(&mut dev, &opaque).unwrap();
    round_trip(&mut s, &mut dev, 0x200, ObjectType::OPAQUE, 0);
    let hmac = PutHmacKey {
        header: header(0x201, "h", 1, EXPORTABLE, Algorithm::HMAC_SHA512),
        key: SecretBytes::new(vec![9; 100]),
    };
    s.call(&mut dev, &hmac).unwrap();
    round_trip(&mut s, &mut dev, 0x201, ObjectType::HMAC_KEY, 0);
    wrap_key(&mut s, &mut dev, 0x202, &[8; 24]);
    let w = PutWrapKey {
        header: header(0x203, "w", 1, EXPORTABLE, Algorithm::AES128_CCM_WRAP),
        delegated: Capabilities::NONE,
        key: SecretBytes::new(vec![4; 16]),
    };
    s.call(&mut dev, &w).unwrap();
    round_trip(&mut s, &mut dev, 0x203, ObjectType::WRAP_KEY, 0);
    // Symmetric, OTP AEAD and authentication keys.
    let mut sym = ObjectHeaderBytes::new(0x204, Algorithm::AES192);
    sym.0.extend_from_slice(&[6; 24]);
    s.send(&mut dev, CommandCode::PUT_SYMMETRIC_KEY, &sym.0).unwrap();
    round_trip(&mut s, &mut dev, 0x204, ObjectType::SYMMETRIC_KEY, 0);
    let mut otp = ObjectHeaderBytes::new(0x205, Algorithm::AES128_YUBICO_OTP);
    otp.0.extend_from_slice(&[0, 0, 0, 1]);
    otp.0.extend_from_slice(&[6; 16]);
    s.send(&mut dev, CommandCode::PUT_OTP_AEAD_KEY, &otp.0).unwrap();
    round_trip(&mut s, &mut dev, 0x205, ObjectType::OTP_AEAD_KEY, 0);
    let keys = factory_keys();
    let auth = yhsm_proto::command::PutAuthenticationKey::new(
        0x206,
        "a".parse().unwrap(),
        yhsm_proto::Domains(1),
        EXPORTABLE,
        Capabilities::NONE,
        yhsm_proto::command::AuthenticationKey::Symmetric {
            enc: keys.enc.clone(),
            mac: keys.mac.clone(),
        },
    );
    s.call(&mut dev, &auth).unwrap();
    round_trip(&mut s, &mut dev, 0x206, ObjectType::AUTHENTICATION_KEY, 0);
    assert!(open(&mut dev, 0x206, &keys).is_ok());
}

/// A raw object header for commands without a typed request here.
struct ObjectHeaderBytes(Vec<u8>);

impl ObjectHeaderBytes {
    fn new(id: u16, alg: Algorithm) -> Self {
        let h: ObjectHeader = header(id, "raw", 1, EXPORTABLE, alg);
        let mut w = yhsm_proto::Writer::new();
        h.encode(&mut w);
        Self(w.into_vec())
    }
}

#[test]
fn imports_every_yubico_wrapped_vector() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/wrapped");
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yhw"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 13);
    for path in names {
        let (mut dev, _) = device();
        let mut s = open_factory(&mut dev);
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path.with_extension("json")).unwrap())
                .unwrap();
        let key = hex(meta["wrap_key"]["hex"].as_str().unwrap());
        wrap_key(&mut s, &mut dev, 2, &key);
        let blob = yhsm_proto::wrap::decode_text(&std::fs::read(&path).unwrap()).unwrap();
        let r = s
            .call(&mut dev, &ImportWrapped { wrap_id: 2, blob })
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let o = &meta["object"];
        let num = |v: &serde_json::Value| {
            u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
        };
        assert_eq!(u64::from(r.id), num(&o["id"]), "{}", path.display());
        assert_eq!(u64::from(r.object_type.0), o["type_id"].as_u64().unwrap());
        let i = info(&mut s, &mut dev, r.id, r.object_type);
        assert_eq!(u64::from(i.algorithm.0), o["algorithm_id"].as_u64().unwrap());
        assert_eq!(i.capabilities.0, num(&o["capabilities"]));
        assert_eq!(u64::from(i.domains.0), num(&o["domains"]));
        assert_eq!(i.label.to_string(), o["label"].as_str().unwrap());
        assert_eq!((i.sequence, i.origin), (0, Origin(0x12)));
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Splits a DER ECDSA signature into r and s, left-padded to `n` bytes.
fn der_rs(der: &[u8], n: usize) -> (Vec<u8>, Vec<u8>) {
    let body = if der[1] == 0x81 { &der[3..] } else { &der[2..] };
    let rlen = usize::from(body[1]);
    let r = &body[2..2 + rlen];
    let s = &body[4 + rlen..];
    let pad = |v: &[u8]| {
        let v = &v[v.iter().position(|b| *b != 0).unwrap_or(v.len())..];
        let mut out = vec![0; n - v.len()];
        out.extend_from_slice(v);
        out
    };
    (pad(r), pad(s))
}

macro_rules! check_ecdsa {
    ($s:expr, $dev:expr, $alg:expr, $curve:ty, $n:expr, $id:expr) => {{
        let public = $s.call($dev, &GetPublicKey::asymmetric($id)).unwrap();
        let mut sec1 = vec![4];
        sec1.extend_from_slice(&public.key);
        let q = elliptic_curve::PublicKey::<$curve>::from_sec1_bytes(&sec1).unwrap();
        for digest_len in [20usize, 32, 48, 64] {
            let digest = vec![0x5au8; digest_len];
            let der = $s
                .call($dev, &SignEcdsa { key_id: $id, digest: digest.clone() })
                .unwrap()
                .signature;
            let (r, s) = der_rs(&der, $n);
            let sig = ecdsa::Signature::<$curve>::from_scalars(
                elliptic_curve::FieldBytes::<$curve>::try_from(r.as_slice()).unwrap(),
                elliptic_curve::FieldBytes::<$curve>::try_from(s.as_slice()).unwrap(),
            )
            .unwrap();
            ecdsa::hazmat::verify_prehashed::<$curve>(&q.to_projective(), &digest, &sig)
                .unwrap_or_else(|_| panic!("{} with a {digest_len}-byte digest", $alg));
        }
    }};
}

#[test]
fn ecdsa_signatures_verify_on_every_curve_for_every_digest_length() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let algs = [
        Algorithm::ECP256,
        Algorithm::ECP384,
        Algorithm::ECP521,
        Algorithm::ECK256,
        Algorithm::ECBP256,
        Algorithm::ECBP384,
        Algorithm::ECP224,
        Algorithm::ECBP512,
    ];
    for (i, alg) in (1u16..).zip(algs) {
        s.call(
            &mut dev,
            &GenerateAsymmetricKey { header: header(i, "ec", 1, Capabilities::SIGN_ECDSA, alg) },
        )
        .unwrap();
    }
    check_ecdsa!(s, &mut dev, "p256", p256::NistP256, 32, 1);
    check_ecdsa!(s, &mut dev, "p384", p384::NistP384, 48, 2);
    check_ecdsa!(s, &mut dev, "p521", p521::NistP521, 66, 3);
    check_ecdsa!(s, &mut dev, "k256", k256::Secp256k1, 32, 4);
    check_ecdsa!(s, &mut dev, "bp256", bp256::BrainpoolP256r1, 32, 5);
    check_ecdsa!(s, &mut dev, "bp384", bp384::BrainpoolP384r1, 48, 6);
    check_ecdsa!(s, &mut dev, "p224", p224::NistP224, 28, 7);
    check_ecdsa!(s, &mut dev, "bp512", yhsm_keys::bp512::BrainpoolP512r1, 64, 8);
}

#[test]
fn an_imported_p256_key_has_the_public_key_of_its_scalar() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    // d = 1: the public key is the generator.
    let mut d = vec![0u8; 32];
    d[31] = 1;
    let req = PutAsymmetricKey {
        header: header(9, "one", 1, Capabilities::SIGN_ECDSA, Algorithm::ECP256),
        key: SecretBytes::new(d),
    };
    s.call(&mut dev, &req).unwrap();
    let public = s.call(&mut dev, &GetPublicKey::asymmetric(9)).unwrap();
    assert_eq!(public.key[..4], [0x6b, 0x17, 0xd1, 0xf2]);
    let zero = PutAsymmetricKey {
        header: header(10, "zero", 1, Capabilities::SIGN_ECDSA, Algorithm::ECP256),
        key: SecretBytes::new(vec![0; 32]),
    };
    assert_eq!(s.call(&mut dev, &zero).err(), Some(yhsm_proto::frame::ErrorCode::INVALID_DATA));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_frames_never_panic_before_or_after_authentication(
        frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 1..12),
        inner in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 1..12),
    ) {
        let (mut dev, _) = device();
        for f in &frames {
            let _ = dev.handle(f);
        }
        let mut s = open_factory(&mut dev);
        for data in &inner {
            // A well-sealed message with an arbitrary inner frame.
            let Ok(sealed) = s.inner.seal(data) else { continue };
            let resp = raw(&mut dev, &sealed);
            if s.inner.open(&resp).is_err() {
                s = open_factory(&mut dev);
            }
        }
        prop_assert!(dev.handle(&[0x01, 0, 1, 1]).frame().is_some());
    }
}

/// WRAP_DATA adds 30 bytes (libyubihsm's `YH_CCM_WRAP_OVERHEAD`: nonce, the leading
/// encrypted NUL byte, tag) and UNWRAP_DATA gives back exactly the data.
#[test]
fn wrap_data_carries_a_leading_nul_byte_that_unwrap_data_removes() {
    use yhsm_proto::command::{UnwrapData, WrapData};
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let caps = Capabilities(Capabilities::WRAP_DATA.0 | Capabilities::UNWRAP_DATA.0);
    let req = PutWrapKey {
        header: header(0x30, "data", 1, caps, Algorithm::AES128_CCM_WRAP),
        delegated: Capabilities::NONE,
        key: SecretBytes::new(vec![0x44; 16]),
    };
    s.call(&mut dev, &req).unwrap();
    for len in [1, 16, 1000] {
        let data = vec![0xa5; len];
        let wrap = WrapData { key_id: 0x30, plaintext: SecretBytes::new(data.clone()) };
        let wrapped = s.call(&mut dev, &wrap).unwrap().wrapped;
        assert_eq!(wrapped.len(), len + 30);
        let unwrap = UnwrapData { key_id: 0x30, wrapped: wrapped.clone() };
        assert_eq!(s.call(&mut dev, &unwrap).unwrap().plaintext.expose_secret(), data);
        // Cut or altered, it does not unwrap.
        let cut = UnwrapData { key_id: 0x30, wrapped: wrapped[..wrapped.len() - 1].to_vec() };
        assert!(s.call(&mut dev, &cut).is_err());
    }
}
