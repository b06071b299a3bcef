//! RSA keys (put, generate, public key, sign-pkcs1, sign-pss, decrypt-pkcs1,
//! decrypt-oaep), their wrapped body, Yubico's RSA vector, and asymmetric wrap (RSA wrap
//! keys, public wrap keys, commands 0x73–0x77). Signatures and ciphertexts are checked
//! with the `rsa` crate's own paddings, the body against OpenSSL's CRT values.
//!
//! Keys are OpenSSL-made (`tests/data/rsa_keys.json`); one 2048-bit key is generated.

#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed step fails the test"
)]

mod common;

use aes_kw::{KeyInit, KwpAes256};
use chacha20::ChaCha20Rng;
use common::*;
use rand_core::SeedableRng;
use rsa::BoxedUint;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256, Sha384, Sha512};
use yhsm_proto::command::{
    DeleteObject, ExportRsaWrapped, ExportWrapped, GenerateAsymmetricKey, GetObjectInfo,
    GetPublicKey, GetRsaWrappedKey, ImportRsaWrapped, ImportWrapped, PutAsymmetricKey,
    PutPublicWrapKey, PutRsaWrappedKey, PutWrapKey, SignEcdsa,
};
use yhsm_proto::frame::{CommandCode, ErrorCode};
use yhsm_proto::secret::SecretBytes;
use yhsm_proto::wrap::{self, Body, WrapKey};
use yhsm_proto::{Algorithm, Capabilities, ObjectType, Origin};
use yhsm_sim::Device;

struct TestKey {
    alg: Algorithm,
    p: Vec<u8>,
    q: Vec<u8>,
    dp: Vec<u8>,
    dq: Vec<u8>,
    qinv: Vec<u8>,
    n: Vec<u8>,
}

impl TestKey {
    fn pq(&self) -> Vec<u8> {
        [self.p.as_slice(), &self.q].concat()
    }

    fn public(&self) -> rsa::PublicKey {
        rsa::PublicKey::new(BoxedUint::from_be_slice_vartime(&self.n), BoxedUint::from(65537u64))
            .unwrap()
    }

    fn private(&self) -> rsa::PrivateKey {
        rsa::PrivateKey::from_p_q(
            BoxedUint::from_be_slice_vartime(&self.p),
            BoxedUint::from_be_slice_vartime(&self.q),
            BoxedUint::from(65537u64),
        )
        .unwrap()
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// The OpenSSL-made keys: 2048, 3072, 4096 bits.
fn test_keys() -> Vec<TestKey> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rsa_keys.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let field = |name: &str| hex(k[name].as_str().unwrap());
            let alg = match k["bits"].as_u64().unwrap() {
                2048 => Algorithm::RSA2048,
                3072 => Algorithm::RSA3072,
                _ => Algorithm::RSA4096,
            };
            TestKey {
                alg,
                p: field("p"),
                q: field("q"),
                dp: field("dp"),
                dq: field("dq"),
                qinv: field("qinv"),
                n: field("n"),
            }
        })
        .collect()
}

const ALL_RSA: Capabilities = Capabilities(
    Capabilities::SIGN_PKCS.0
        | Capabilities::SIGN_PSS.0
        | Capabilities::DECRYPT_PKCS.0
        | Capabilities::DECRYPT_OAEP.0
        | Capabilities::EXPORTABLE_UNDER_WRAP.0,
);

fn put_rsa(s: &mut Session, dev: &mut Device, id: u16, key: &TestKey, caps: Capabilities) {
    let req = PutAsymmetricKey {
        header: header(id, "rsa", 1, caps, key.alg),
        key: SecretBytes::new(key.pq()),
    };
    assert_eq!(s.call(dev, &req).unwrap().id, id);
}

fn aes_wrap_key(s: &mut Session, dev: &mut Device, id: u16) -> WrapKey {
    let key = [0x42u8; 32];
    let req = PutWrapKey {
        header: header(id, "aes", 0xffff, Capabilities(0x3000), Algorithm::AES256_CCM_WRAP),
        delegated: Capabilities::ALL,
        key: SecretBytes::from_slice(&key),
    };
    s.call(dev, &req).unwrap();
    WrapKey::new(&key).unwrap()
}

fn with_id(id: u16, rest: &[u8]) -> Vec<u8> {
    [id.to_be_bytes().as_slice(), rest].concat()
}

#[test]
fn puts_openssl_keys_with_their_crt_values_and_modulus() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let wrap_key = aes_wrap_key(&mut s, &mut dev, 0x7000);
    for (i, key) in (0u16..).zip(test_keys()) {
        let id = 0x100 + i;
        put_rsa(&mut s, &mut dev, id, &key, ALL_RSA);
        let size = key.n.len();
        let info = s.call(&mut dev, &GetObjectInfo { id, object_type: ObjectType::ASYMMETRIC_KEY });
        let info = info.unwrap();
        assert_eq!(
            (usize::from(info.length), info.origin),
            (size / 2 * 5 + size, Origin::IMPORTED),
            "{}",
            key.alg
        );
        let public = s.call(&mut dev, &GetPublicKey::asymmetric(id)).unwrap();
        assert_eq!((public.algorithm, &public.key), (key.alg, &key.n));
        // The stored body, as an export carries it: OpenSSL's p, q, dp, dq, qinv, n.
        let blob = s
            .call(&mut dev, &ExportWrapped::new(0x7000, ObjectType::ASYMMETRIC_KEY, id))
            .unwrap()
            .blob;
        let object = wrap::unwrap(&wrap_key, &blob).unwrap();
        let Body::Rsa { p, q, dp, dq, qinv, n } = &object.body else { panic!("not RSA") };
        assert_eq!(p.expose_secret(), key.p.as_slice());
        assert_eq!(q.expose_secret(), key.q.as_slice());
        assert_eq!(dp.expose_secret(), key.dp.as_slice());
        assert_eq!(dq.expose_secret(), key.dq.as_slice());
        assert_eq!(qinv.expose_secret(), key.qinv.as_slice());
        assert_eq!(n, &key.n);
    }
}

#[test]
fn rejects_rsa_keys_that_are_not_two_primes_of_the_size() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let key = &test_keys()[0];
    let put = |s: &mut Session, dev: &mut Device, alg: Algorithm, pq: Vec<u8>| {
        let req = PutAsymmetricKey {
            header: header(0x20, "bad", 1, ALL_RSA, alg),
            key: SecretBytes::new(pq),
        };
        s.call(dev, &req).map(|r| r.id)
    };
    let mut short = key.pq();
    short.pop();
    assert_eq!(put(&mut s, &mut dev, Algorithm::RSA2048, short), Err(ErrorCode::WRONG_LENGTH));
    assert_eq!(put(&mut s, &mut dev, Algorithm::RSA3072, key.pq()), Err(ErrorCode::WRONG_LENGTH));
    // q + 2 is even: not a prime.
    let mut composite = key.pq();
    *composite.last_mut().unwrap() ^= 1;
    assert_eq!(put(&mut s, &mut dev, Algorithm::RSA2048, composite), Err(ErrorCode::INVALID_DATA));
    // p = q.
    let same = [key.p.as_slice(), &key.p].concat();
    assert_eq!(put(&mut s, &mut dev, Algorithm::RSA2048, same), Err(ErrorCode::INVALID_DATA));
    // Two primes whose product is too short: p with its top byte cleared is not prime, so
    // use the 1024-bit halves of the 2048-bit key shifted into a 4096-bit layout.
    let small = [vec![0; 128], key.p.clone(), vec![0; 128], key.q.clone()].concat();
    assert_eq!(put(&mut s, &mut dev, Algorithm::RSA4096, small), Err(ErrorCode::INVALID_DATA));
    assert_eq!(put(&mut s, &mut dev, Algorithm::RSA2048, key.pq()), Ok(0x20));
}

#[test]
fn signs_pkcs1_and_pss_as_the_rsa_crate_verifies() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let keys = test_keys();
    let key = &keys[0];
    put_rsa(&mut s, &mut dev, 0x10, key, ALL_RSA);
    let public = key.public();
    let message = b"sign me";
    let digests: [(Vec<u8>, rsa::pkcs1v15::Pkcs1v15Sign); 3] = [
        (Sha256::digest(message).to_vec(), rsa::pkcs1v15::Pkcs1v15Sign::new::<Sha256>()),
        (Sha384::digest(message).to_vec(), rsa::pkcs1v15::Pkcs1v15Sign::new::<Sha384>()),
        (Sha512::digest(message).to_vec(), rsa::pkcs1v15::Pkcs1v15Sign::new::<Sha512>()),
    ];
    for (digest, scheme) in digests {
        let sig = s.send(&mut dev, CommandCode::SIGN_PKCS1, &with_id(0x10, &digest)).unwrap();
        assert_eq!(sig.len(), 256);
        public.verify(scheme, &digest, &sig).unwrap();
    }
    // A digest of no known hash's length.
    let r = s.send(&mut dev, CommandCode::SIGN_PKCS1, &with_id(0x10, &[1; 31]));
    assert_eq!(r, Err(ErrorCode::INVALID_DATA));

    let digest = Sha256::digest(message).to_vec();
    for salt in [0u16, 32, 256 - 32 - 2] {
        let mut req = with_id(0x10, &[Algorithm::MGF1_SHA256.0]);
        req.extend_from_slice(&salt.to_be_bytes());
        req.extend_from_slice(&digest);
        let sig = s.send(&mut dev, CommandCode::SIGN_PSS, &req).unwrap();
        public.verify(rsa::pss::Pss::<Sha256>::new_with_salt(salt.into()), &digest, &sig).unwrap();
        let again = s.send(&mut dev, CommandCode::SIGN_PSS, &req).unwrap();
        assert_eq!(again != sig, salt > 0, "a salted signature is randomized");
    }
    // A salt that does not fit, an unknown MGF1.
    let mut too_long = with_id(0x10, &[Algorithm::MGF1_SHA256.0]);
    too_long.extend_from_slice(&(256u16 - 32 - 1).to_be_bytes());
    too_long.extend_from_slice(&digest);
    assert_eq!(s.send(&mut dev, CommandCode::SIGN_PSS, &too_long), Err(ErrorCode::INVALID_DATA));
    let mut bad_mgf = with_id(0x10, &[Algorithm::RSA_OAEP_SHA256.0, 0, 0]);
    bad_mgf.extend_from_slice(&digest);
    assert_eq!(s.send(&mut dev, CommandCode::SIGN_PSS, &bad_mgf), Err(ErrorCode::INVALID_DATA));
}

#[test]
fn operations_need_their_capability_and_an_rsa_key() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let keys = test_keys();
    put_rsa(&mut s, &mut dev, 0x10, &keys[0], Capabilities::SIGN_PSS);
    let digest = [5u8; 32];
    let r = s.send(&mut dev, CommandCode::SIGN_PKCS1, &with_id(0x10, &digest));
    assert_eq!(r, Err(ErrorCode::INSUFFICIENT_PERMISSIONS));
    let r = s.send(&mut dev, CommandCode::DECRYPT_PKCS1, &with_id(0x10, &[1; 256]));
    assert_eq!(r, Err(ErrorCode::INSUFFICIENT_PERMISSIONS));
    let ec = GenerateAsymmetricKey {
        header: header(0x11, "ec", 1, Capabilities::SIGN_PKCS, Algorithm::ECP256),
    };
    s.call(&mut dev, &ec).unwrap();
    let r = s.send(&mut dev, CommandCode::SIGN_PKCS1, &with_id(0x11, &digest));
    assert_eq!(r, Err(ErrorCode::INVALID_DATA));
}

#[test]
fn decrypts_pkcs1_and_oaep_and_refuses_bad_padding() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let keys = test_keys();
    let key = &keys[0];
    put_rsa(&mut s, &mut dev, 0x10, key, ALL_RSA);
    let public = key.public();
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    let message = b"a message of some length";

    let c = public.encrypt(&mut rng, rsa::Pkcs1v15Encrypt, message).unwrap();
    let plain = s.send(&mut dev, CommandCode::DECRYPT_PKCS1, &with_id(0x10, &c)).unwrap();
    assert_eq!(plain, message);

    // Raw encodings with a bad padding (Yubico's test_rsa_pkcs1_decrypt_errors).
    let raw = |prefix: &[u8]| {
        let mut m = prefix.to_vec();
        m.resize(256, 0xc3);
        let c = rsa::hazmat::rsa_encrypt(&public, &BoxedUint::from_be_slice(&m, 2048).unwrap());
        c.unwrap().to_be_bytes().to_vec()
    };
    let no_padding = [&[0u8, 2, 0][..], &[0xc3; 236], &[0]].concat();
    let seven = [&[0u8, 2][..], &[0xc3; 7], &[0]].concat();
    for bad in [raw(&no_padding), raw(&[1, 2]), raw(&[0, 1]), raw(&seven)] {
        let r = s.send(&mut dev, CommandCode::DECRYPT_PKCS1, &with_id(0x10, &bad));
        assert_eq!(r, Err(ErrorCode::INVALID_DATA));
    }
    let eight = [&[0u8, 2][..], &[0xc3; 8], &[0], b"ok"].concat();
    let mut padded = eight.clone();
    padded.resize(256, 0xc3);
    let ok = raw(&eight[..]);
    let plain = s.send(&mut dev, CommandCode::DECRYPT_PKCS1, &with_id(0x10, &ok)).unwrap();
    assert_eq!(plain, padded[11..]);

    let empty_label = |h: usize| match h {
        32 => Sha256::digest(b"").to_vec(),
        _ => Sha512::digest(b"").to_vec(),
    };
    let cases: [(Vec<u8>, Algorithm, Vec<u8>); 3] = [
        (
            public.encrypt(&mut rng, rsa::Oaep::<Sha256>::new(), message).unwrap(),
            Algorithm::MGF1_SHA256,
            empty_label(32),
        ),
        (
            public
                .encrypt(&mut rng, rsa::Oaep::<Sha512, Sha256>::new_with_mgf_hash(), message)
                .unwrap(),
            Algorithm::MGF1_SHA256,
            empty_label(64),
        ),
        (
            public
                .encrypt(&mut rng, rsa::Oaep::<Sha256>::new_with_label(b"label".to_vec()), message)
                .unwrap(),
            Algorithm::MGF1_SHA256,
            Sha256::digest(b"label").to_vec(),
        ),
    ];
    for (c, mgf, label_hash) in cases {
        let req = [with_id(0x10, &[mgf.0]), c.clone(), label_hash.clone()].concat();
        assert_eq!(s.send(&mut dev, CommandCode::DECRYPT_OAEP, &req).unwrap(), message);
        // Another label, another MGF1: invalid-data.
        let mut wrong = label_hash.clone();
        wrong[0] ^= 1;
        let req = [with_id(0x10, &[mgf.0]), c.clone(), wrong].concat();
        assert_eq!(s.send(&mut dev, CommandCode::DECRYPT_OAEP, &req), Err(ErrorCode::INVALID_DATA));
        let req = [with_id(0x10, &[Algorithm::MGF1_SHA1.0]), c, label_hash].concat();
        assert_eq!(s.send(&mut dev, CommandCode::DECRYPT_OAEP, &req), Err(ErrorCode::INVALID_DATA));
    }
    let short = [with_id(0x10, &[Algorithm::MGF1_SHA256.0]), vec![1; 100]].concat();
    assert_eq!(s.send(&mut dev, CommandCode::DECRYPT_OAEP, &short), Err(ErrorCode::WRONG_LENGTH));
}

#[test]
fn generates_a_2048_bit_key_that_signs_and_round_trips_under_wrap() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let wrap_key = aes_wrap_key(&mut s, &mut dev, 0x7000);
    let req = GenerateAsymmetricKey { header: header(0x30, "gen", 1, ALL_RSA, Algorithm::RSA2048) };
    s.call(&mut dev, &req).unwrap();
    let public = s.call(&mut dev, &GetPublicKey::asymmetric(0x30)).unwrap();
    assert_eq!(public.key.len(), 256);
    assert!(public.key[0] & 0x80 != 0 && public.key[255] & 1 == 1);
    let info =
        s.call(&mut dev, &GetObjectInfo { id: 0x30, object_type: ObjectType::ASYMMETRIC_KEY });
    assert_eq!(info.unwrap().origin, Origin::GENERATED);

    let blob = s
        .call(&mut dev, &ExportWrapped::new(0x7000, ObjectType::ASYMMETRIC_KEY, 0x30))
        .unwrap()
        .blob;
    let object = wrap::unwrap(&wrap_key, &blob).unwrap();
    let Body::Rsa { p, q, n, .. } = &object.body else { panic!("not RSA") };
    assert_eq!(n, &public.key);
    let key = TestKey {
        alg: Algorithm::RSA2048,
        p: p.expose_secret().to_vec(),
        q: q.expose_secret().to_vec(),
        dp: vec![],
        dq: vec![],
        qinv: vec![],
        n: n.clone(),
    };
    assert_eq!(key.private().n().as_ref(), key.public().n().as_ref());

    s.call(&mut dev, &DeleteObject { id: 0x30, object_type: ObjectType::ASYMMETRIC_KEY }).unwrap();
    s.call(&mut dev, &ImportWrapped { wrap_id: 0x7000, blob }).unwrap();
    let digest = Sha256::digest(b"after import").to_vec();
    let sig = s.send(&mut dev, CommandCode::SIGN_PKCS1, &with_id(0x30, &digest)).unwrap();
    key.public().verify(rsa::pkcs1v15::Pkcs1v15Sign::new::<Sha256>(), &digest, &sig).unwrap();
}

#[test]
fn the_yubico_rsa_vector_imports_with_its_public_key() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/wrapped");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/rsa2048.json")).unwrap())
            .unwrap();
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let req = PutWrapKey {
        header: header(2, "w", 0xffff, Capabilities(0x3000), Algorithm::AES256_CCM_WRAP),
        delegated: Capabilities::ALL,
        key: SecretBytes::new(hex(meta["wrap_key"]["hex"].as_str().unwrap())),
    };
    s.call(&mut dev, &req).unwrap();
    let blob = wrap::decode_text(&std::fs::read(format!("{dir}/rsa2048.yhw")).unwrap()).unwrap();
    let r = s.call(&mut dev, &ImportWrapped { wrap_id: 2, blob }).unwrap();
    let body = hex(meta["body_hex"].as_str().unwrap());
    let public = s.call(&mut dev, &GetPublicKey::asymmetric(r.id)).unwrap();
    assert_eq!((public.algorithm, public.key.as_slice()), (Algorithm::RSA2048, &body[640..]));
    let key = TestKey {
        alg: Algorithm::RSA2048,
        p: body[..128].to_vec(),
        q: body[128..256].to_vec(),
        dp: vec![],
        dq: vec![],
        qinv: vec![],
        n: body[640..].to_vec(),
    };
    let digest = Sha256::digest(b"vector").to_vec();
    let sig = s.send(&mut dev, CommandCode::SIGN_PKCS1, &with_id(r.id, &digest)).unwrap();
    key.public().verify(rsa::pkcs1v15::Pkcs1v15Sign::new::<Sha256>(), &digest, &sig).unwrap();
    // A blob whose CRT values do not belong to its primes is refused.
    let wrap_key = WrapKey::new(&hex(meta["wrap_key"]["hex"].as_str().unwrap())).unwrap();
    let mut object = wrap::unwrap(
        &wrap_key,
        &wrap::decode_text(&std::fs::read(format!("{dir}/rsa2048.yhw")).unwrap()).unwrap(),
    )
    .unwrap();
    let Body::Rsa { qinv, .. } = &mut object.body else { panic!("not RSA") };
    let mut bad = qinv.expose_secret().to_vec();
    bad[127] ^= 1;
    *qinv = SecretBytes::new(bad);
    object.header.id = 0x99;
    let blob = wrap::wrap(&wrap_key, [3; 13], &object).unwrap();
    let r = s.call(&mut dev, &ImportWrapped { wrap_id: 2, blob });
    assert_eq!(r.map(|r| r.id), Err(ErrorCode::INVALID_DATA));
}

/// A public wrap key (the modulus of `key`) and an RSA wrap key (its primes), as Yubico's
/// TestAsymmetricWrap makes them.
fn asymmetric_wrap_keys(
    s: &mut Session,
    dev: &mut Device,
    key: &TestKey,
    export_delegated: Capabilities,
    import_delegated: Capabilities,
) {
    let public = PutPublicWrapKey {
        header: header(0x50, "pub", 1, Capabilities::EXPORT_WRAPPED, key.alg),
        delegated: export_delegated,
        modulus: key.n.clone(),
    };
    assert_eq!(s.call(dev, &public).unwrap().id, 0x50);
    let private = PutWrapKey {
        header: header(0x51, "priv", 1, Capabilities::IMPORT_WRAPPED, key.alg),
        delegated: import_delegated,
        key: SecretBytes::new(key.pq()),
    };
    assert_eq!(s.call(dev, &private).unwrap().id, 0x51);
}

fn oaep_sha256() -> (Algorithm, Algorithm, Vec<u8>) {
    (Algorithm::RSA_OAEP_SHA256, Algorithm::MGF1_SHA256, Sha256::digest(b"").to_vec())
}

/// The ephemeral AES-256 key and the AES-KWP payload of RSA-wrapped data.
fn open_rsa_wrapped(key: &TestKey, wrapped: &[u8]) -> Vec<u8> {
    let k = key.n.len();
    let aes = key.private().decrypt(rsa::Oaep::<Sha256>::new(), &wrapped[..k]).unwrap();
    assert_eq!(aes.len(), 32);
    let kwp = KwpAes256::new_from_slice(&aes).unwrap();
    let mut out = vec![0u8; wrapped.len() - k - 8];
    kwp.unwrap_key(&wrapped[k..], &mut out).unwrap().to_vec()
}

#[test]
fn exports_and_imports_whole_objects_under_rsa_wrap() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let keys = test_keys();
    let key = &keys[0];
    let caps = Capabilities(Capabilities::SIGN_ECDSA.0 | Capabilities::EXPORTABLE_UNDER_WRAP.0);
    asymmetric_wrap_keys(&mut s, &mut dev, key, caps, caps);
    let ec = GenerateAsymmetricKey { header: header(0x60, "ec", 0xffff, caps, Algorithm::ECP256) };
    s.call(&mut dev, &ec).unwrap();
    let before =
        s.call(&mut dev, &GetObjectInfo { id: 0x60, object_type: ObjectType::ASYMMETRIC_KEY });
    let before = before.unwrap();
    let public = s.call(&mut dev, &GetPublicKey::asymmetric(0x60)).unwrap();

    let (oaep, mgf1, label_hash) = oaep_sha256();
    let export = ExportRsaWrapped {
        wrap_id: 0x50,
        object_type: ObjectType::ASYMMETRIC_KEY,
        id: 0x60,
        aes: Algorithm::AES256,
        oaep,
        mgf1,
        label_hash: label_hash.clone(),
    };
    let wrapped = s.call(&mut dev, &export).unwrap().wrapped;
    assert_ne!(s.call(&mut dev, &export).unwrap().wrapped, wrapped, "a fresh AES key each time");
    // The payload: the 59-byte header of a CCM export, then the body d || x || y.
    let plain = open_rsa_wrapped(key, &wrapped);
    assert_eq!(plain.len(), 59 + 96);
    let h = yhsm_proto::wrap::WrapHeader::decode(&plain[..59]).unwrap();
    assert_eq!((h.id, h.object_type, h.length), (0x60, ObjectType::ASYMMETRIC_KEY, 96));
    assert_eq!((h.sequence, h.origin, h.capabilities), (0, Origin::GENERATED, caps));
    assert_eq!(&plain[59 + 32..], public.key.as_slice());

    s.call(&mut dev, &DeleteObject { id: 0x60, object_type: ObjectType::ASYMMETRIC_KEY }).unwrap();
    let import =
        ImportRsaWrapped { wrap_id: 0x51, oaep, mgf1, wrapped: wrapped.clone(), label_hash };
    let r = s.call(&mut dev, &import).unwrap();
    assert_eq!((r.object_type, r.id), (ObjectType::ASYMMETRIC_KEY, 0x60));
    let after =
        s.call(&mut dev, &GetObjectInfo { id: 0x60, object_type: ObjectType::ASYMMETRIC_KEY });
    assert_eq!(after.unwrap(), yhsm_proto::ObjectInfo { origin: Origin(0x11), ..before });
    assert_eq!(s.call(&mut dev, &GetPublicKey::asymmetric(0x60)).unwrap(), public);
    s.call(&mut dev, &SignEcdsa { key_id: 0x60, digest: vec![7; 32] }).unwrap();

    // Another label, a CCM import of RSA-wrapped data, an export with the private key.
    s.call(&mut dev, &DeleteObject { id: 0x60, object_type: ObjectType::ASYMMETRIC_KEY }).unwrap();
    let other = ImportRsaWrapped { label_hash: Sha256::digest(b"x").to_vec(), ..import.clone() };
    assert_eq!(s.call(&mut dev, &other).map(|r| r.id), Err(ErrorCode::INVALID_DATA));
    let sha1 = ImportRsaWrapped {
        oaep: Algorithm::RSA_OAEP_SHA1,
        label_hash: vec![0; 20],
        ..import.clone()
    };
    assert_eq!(s.call(&mut dev, &sha1).map(|r| r.id), Err(ErrorCode::INVALID_DATA));
    let ccm = ImportWrapped { wrap_id: 0x51, blob: wrapped };
    assert_eq!(s.call(&mut dev, &ccm).map(|r| r.id), Err(ErrorCode::INVALID_DATA));
    let r = s.call(&mut dev, &ExportWrapped::new(0x51, ObjectType::WRAP_KEY, 0x50));
    assert_eq!(r.map(|r| r.blob.len()), Err(ErrorCode::INVALID_DATA));
}

#[test]
fn exports_key_material_as_pkcs8_or_raw_and_puts_it_with_new_metadata() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let keys = test_keys();
    let key = &keys[0];
    let caps = Capabilities(
        Capabilities::SIGN_ECDSA.0
            | Capabilities::EXPORTABLE_UNDER_WRAP.0
            | Capabilities::DECRYPT_ECB.0
            | Capabilities::SIGN_PKCS.0,
    );
    asymmetric_wrap_keys(&mut s, &mut dev, key, caps, caps);
    let d = [0x11u8; 32];
    let ec = PutAsymmetricKey {
        header: header(0x60, "ec", 1, caps, Algorithm::ECP256),
        key: SecretBytes::from_slice(&d),
    };
    s.call(&mut dev, &ec).unwrap();
    let aes = [0x22u8; 32];
    let mut sym = Vec::new();
    let mut w = yhsm_proto::Writer::new();
    header(0x61, "aes", 1, caps, Algorithm::AES256).encode(&mut w);
    sym.extend_from_slice(&w.into_vec());
    sym.extend_from_slice(&aes);
    s.send(&mut dev, CommandCode::PUT_SYMMETRIC_KEY, &sym).unwrap();
    put_rsa(&mut s, &mut dev, 0x62, key, caps);

    let (oaep, mgf1, label_hash) = oaep_sha256();
    let get = |s: &mut Session, dev: &mut Device, t: ObjectType, id: u16| {
        let req = GetRsaWrappedKey {
            wrap_id: 0x50,
            object_type: t,
            id,
            aes: Algorithm::AES256,
            oaep,
            mgf1,
            label_hash: label_hash.clone(),
        };
        s.call(dev, &req).map(|r| r.wrapped)
    };
    // P-256 as OpenSSL writes PKCS#8: algorithm, then ECPrivateKey with the public key.
    let ec_wrapped = get(&mut s, &mut dev, ObjectType::ASYMMETRIC_KEY, 0x60).unwrap();
    let pkcs8 = open_rsa_wrapped(key, &ec_wrapped);
    assert_eq!(pkcs8.len(), 138);
    assert_eq!(
        pkcs8[..36],
        hex("308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420")
    );
    assert_eq!(pkcs8[36..68], d);
    let public = s.call(&mut dev, &GetPublicKey::asymmetric(0x60)).unwrap();
    assert_eq!(pkcs8[68..74], hex("a14403420004")[..]);
    assert_eq!(pkcs8[74..], public.key[..]);
    // AES: the raw key.
    let sym_wrapped = get(&mut s, &mut dev, ObjectType::SYMMETRIC_KEY, 0x61).unwrap();
    assert_eq!(open_rsa_wrapped(key, &sym_wrapped), aes);
    // RSA: PKCS#8 of a PKCS#1 key.
    let rsa_wrapped = get(&mut s, &mut dev, ObjectType::ASYMMETRIC_KEY, 0x62).unwrap();
    let rsa_pkcs8 = open_rsa_wrapped(key, &rsa_wrapped);
    assert_eq!(rsa_pkcs8[..2], [0x30, 0x82]);
    assert_eq!(usize::from(u16::from_be_bytes([rsa_pkcs8[2], rsa_pkcs8[3]])) + 4, rsa_pkcs8.len());
    assert_eq!(rsa_pkcs8[4..25], hex("020100300d06092a864886f70d0101010500048204")[..]);
    // Opaque objects carry no key.
    let opaque = yhsm_proto::command::PutOpaque {
        header: header(0x63, "op", 1, Capabilities::EXPORTABLE_UNDER_WRAP, Algorithm::OPAQUE_DATA),
        data: vec![1; 32],
    };
    s.call(&mut dev, &opaque).unwrap();
    assert_eq!(get(&mut s, &mut dev, ObjectType::OPAQUE, 0x63), Err(ErrorCode::INVALID_DATA));

    let put = |s: &mut Session, dev: &mut Device, t, id, alg, caps, wrapped: &[u8]| {
        let req = PutRsaWrappedKey {
            wrap_id: 0x51,
            object_type: t,
            header: header(id, "unwrapped", 1, caps, alg),
            oaep,
            mgf1,
            wrapped: wrapped.to_vec(),
            label_hash: label_hash.clone(),
        };
        s.call(dev, &req).map(|r| (r.object_type, r.id))
    };
    let t = ObjectType::ASYMMETRIC_KEY;
    let r =
        put(&mut s, &mut dev, t, 0x70, Algorithm::ECP256, Capabilities::SIGN_ECDSA, &ec_wrapped);
    assert_eq!(r, Ok((t, 0x70)));
    let info = s.call(&mut dev, &GetObjectInfo { id: 0x70, object_type: t }).unwrap();
    assert_eq!((info.origin, info.capabilities), (Origin(0x12), Capabilities::SIGN_ECDSA));
    assert_eq!(s.call(&mut dev, &GetPublicKey::asymmetric(0x70)).unwrap(), public);
    let r =
        put(&mut s, &mut dev, t, 0x72, Algorithm::RSA2048, Capabilities::SIGN_PKCS, &rsa_wrapped);
    assert_eq!(r, Ok((t, 0x72)));
    assert_eq!(s.call(&mut dev, &GetPublicKey::asymmetric(0x72)).unwrap().key, key.n);
    let st = ObjectType::SYMMETRIC_KEY;
    let r =
        put(&mut s, &mut dev, st, 0x71, Algorithm::AES256, Capabilities::DECRYPT_ECB, &sym_wrapped);
    assert_eq!(r, Ok((st, 0x71)));
    // The same key: both decrypt a block alike.
    let original = s.send(&mut dev, CommandCode::DECRYPT_ECB, &with_id(0x61, &[5; 16])).unwrap();
    let unwrapped = s.send(&mut dev, CommandCode::DECRYPT_ECB, &with_id(0x71, &[5; 16])).unwrap();
    assert_eq!(original, unwrapped);
    // Wrong curve, wrong AES size, capabilities beyond the wrap key's delegated ones.
    let r =
        put(&mut s, &mut dev, t, 0x73, Algorithm::ECP384, Capabilities::SIGN_ECDSA, &ec_wrapped);
    assert_eq!(r, Err(ErrorCode::INVALID_DATA));
    let r = put(&mut s, &mut dev, st, 0x73, Algorithm::AES128, Capabilities::NONE, &sym_wrapped);
    assert_eq!(r, Err(ErrorCode::INVALID_DATA));
    let r =
        put(&mut s, &mut dev, st, 0x73, Algorithm::AES256, Capabilities::ENCRYPT_CBC, &sym_wrapped);
    assert_eq!(r, Err(ErrorCode::INSUFFICIENT_PERMISSIONS));
}

#[test]
fn wrap_keys_give_their_public_key_and_follow_the_export_rules() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let keys = test_keys();
    let key = &keys[1];
    asymmetric_wrap_keys(
        &mut s,
        &mut dev,
        key,
        Capabilities::EXPORTABLE_UNDER_WRAP,
        Capabilities::NONE,
    );
    for t in [ObjectType::WRAP_KEY, ObjectType::PUBLIC_WRAP_KEY] {
        let id = if t == ObjectType::WRAP_KEY { 0x51 } else { 0x50 };
        let public = s.call(&mut dev, &GetPublicKey { id, object_type: Some(t) }).unwrap();
        assert_eq!((public.algorithm, &public.key), (Algorithm::RSA3072, &key.n), "{t}");
        let info = s.call(&mut dev, &GetObjectInfo { id, object_type: t }).unwrap();
        assert_eq!(info.origin, Origin::IMPORTED);
    }
    let aes = aes_wrap_key(&mut s, &mut dev, 0x52);
    let r = s.call(&mut dev, &GetPublicKey { id: 0x52, object_type: Some(ObjectType::WRAP_KEY) });
    assert_eq!(r.map(|p| p.key), Err(ErrorCode::INVALID_DATA));
    // An object whose capabilities the public wrap key does not delegate.
    let ec = GenerateAsymmetricKey { header: header(0x60, "ec", 1, ALL_RSA, Algorithm::ECP256) };
    s.call(&mut dev, &ec).unwrap();
    let (oaep, mgf1, label_hash) = oaep_sha256();
    let export = ExportRsaWrapped {
        wrap_id: 0x50,
        object_type: ObjectType::ASYMMETRIC_KEY,
        id: 0x60,
        aes: Algorithm::AES128,
        oaep,
        mgf1,
        label_hash,
    };
    let r = s.call(&mut dev, &export).map(|r| r.wrapped);
    assert_eq!(r, Err(ErrorCode::INSUFFICIENT_PERMISSIONS));
    // A public wrap key whose modulus is even or too short is refused.
    let mut even = key.n.clone();
    *even.last_mut().unwrap() &= 0xfe;
    let bad = PutPublicWrapKey {
        header: header(0x53, "bad", 1, Capabilities::EXPORT_WRAPPED, key.alg),
        delegated: Capabilities::NONE,
        modulus: even,
    };
    assert_eq!(s.call(&mut dev, &bad).map(|r| r.id), Err(ErrorCode::INVALID_DATA));

    // Both kinds of RSA wrap key survive an export under an AES wrap key.
    let exportable =
        Capabilities(Capabilities::EXPORTABLE_UNDER_WRAP.0 | Capabilities::IMPORT_WRAPPED.0);
    let private = PutWrapKey {
        header: header(0x54, "priv", 1, exportable, key.alg),
        delegated: Capabilities::SIGN_PKCS,
        key: SecretBytes::new(key.pq()),
    };
    s.call(&mut dev, &private).unwrap();
    let public = PutPublicWrapKey {
        header: header(0x55, "pub", 1, exportable, key.alg),
        delegated: Capabilities::SIGN_PSS,
        modulus: key.n.clone(),
    };
    s.call(&mut dev, &public).unwrap();
    for (t, id, delegated) in [
        (ObjectType::WRAP_KEY, 0x54u16, Capabilities::SIGN_PKCS),
        (ObjectType::PUBLIC_WRAP_KEY, 0x55, Capabilities::SIGN_PSS),
    ] {
        let before = s.call(&mut dev, &GetObjectInfo { id, object_type: t }).unwrap();
        assert_eq!(before.delegated_capabilities, delegated);
        let blob = s.call(&mut dev, &ExportWrapped::new(0x52, t, id)).unwrap().blob;
        assert!(wrap::unwrap(&aes, &blob).is_ok());
        s.call(&mut dev, &DeleteObject { id, object_type: t }).unwrap();
        s.call(&mut dev, &ImportWrapped { wrap_id: 0x52, blob }).unwrap();
        let after = s.call(&mut dev, &GetObjectInfo { id, object_type: t }).unwrap();
        assert_eq!(after, yhsm_proto::ObjectInfo { origin: Origin(0x12), ..before }, "{t}");
        let public = s.call(&mut dev, &GetPublicKey { id, object_type: Some(t) }).unwrap();
        assert_eq!(public.key, key.n, "{t}");
    }
}
