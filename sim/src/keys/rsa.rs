//! RSA keys (rsa2048/3072/4096, public exponent 65537): the body of docs/PROTOCOL.md §5.4
//! (`p || q || dp || dq || qinv || n`), and the operations the device does with it.
//!
//! The `rsa` crate gives the key arithmetic (CRT private operation with blinding and a
//! fault check, key generation); the paddings are done here because the device's requests
//! do not fit that crate's schemes: SIGN_PKCS1 and SIGN_PSS carry a digest computed by the
//! host (the hash is told by its length), SIGN_PSS and DECRYPT_OAEP name an MGF1 hash that
//! may differ from the message hash, and DECRYPT_OAEP carries the hash of the OAEP label,
//! not the label (python-yubihsm's `sign_pss`, `decrypt_oaep`; RFC 8017 §7.1, §8, §9).

use chacha20::ChaCha20Rng;
use rand_core::Rng as _;
use rsa::BoxedUint;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use subtle::{ConditionallySelectable, ConstantTimeEq};
use yhsm_proto::Algorithm;
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::secret::ct_eq;
use yhsm_proto::wrap::Body;
use zeroize::Zeroizing;

/// The only public exponent the device uses (it is not stored in the body).
pub const PUBLIC_EXPONENT: u64 = 65537;

/// A hash function of the RSA paddings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    /// The hash whose digests have `len` bytes (how SIGN_PKCS1, SIGN_PSS and DECRYPT_OAEP
    /// tell the hash).
    pub fn from_len(len: usize) -> Option<Self> {
        match len {
            20 => Some(Self::Sha1),
            32 => Some(Self::Sha256),
            48 => Some(Self::Sha384),
            64 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The hash of an mgf1-sha* algorithm.
    pub fn from_mgf1(alg: Algorithm) -> Option<Self> {
        match alg {
            Algorithm::MGF1_SHA1 => Some(Self::Sha1),
            Algorithm::MGF1_SHA256 => Some(Self::Sha256),
            Algorithm::MGF1_SHA384 => Some(Self::Sha384),
            Algorithm::MGF1_SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The hash of an rsa-oaep-sha* algorithm.
    pub fn from_oaep(alg: Algorithm) -> Option<Self> {
        match alg {
            Algorithm::RSA_OAEP_SHA1 => Some(Self::Sha1),
            Algorithm::RSA_OAEP_SHA256 => Some(Self::Sha256),
            Algorithm::RSA_OAEP_SHA384 => Some(Self::Sha384),
            Algorithm::RSA_OAEP_SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The digest length.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The hash of the concatenation of `parts`.
    pub fn digest(self, parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            Zeroizing::new(d.finalize().to_vec())
        }
        match self {
            Self::Sha1 => run::<Sha1>(parts),
            Self::Sha256 => run::<Sha256>(parts),
            Self::Sha384 => run::<Sha384>(parts),
            Self::Sha512 => run::<Sha512>(parts),
        }
    }

    /// The DER `DigestInfo` prefix of EMSA-PKCS1-v1_5 (RFC 8017 §9.2, note 1).
    fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            Self::Sha1 => &[
                0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
                0x14,
            ],
            Self::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            Self::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            Self::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }
}

/// MGF1 (RFC 8017 §B.2.1): `len` bytes of mask from `seed`, XORed into `out`.
fn mgf1_xor(hash: Hash, seed: &[u8], out: &mut [u8]) {
    for (counter, chunk) in (0u32..).zip(out.chunks_mut(hash.output_len())) {
        let block = hash.digest(&[seed, &counter.to_be_bytes()]);
        for (o, m) in chunk.iter_mut().zip(block.iter()) {
            *o ^= m;
        }
    }
}

fn to_uint(bytes: &[u8]) -> BoxedUint {
    BoxedUint::from_be_slice_vartime(bytes)
}

/// `v` big-endian, left-padded to `len` bytes (an error if it does not fit).
fn to_bytes(v: &BoxedUint, len: usize) -> Result<Zeroizing<Vec<u8>>, ErrorCode> {
    let raw = Zeroizing::new(v.to_be_bytes());
    let start = raw.iter().position(|&b| b != 0).unwrap_or(raw.len());
    let digits = raw.get(start..).unwrap_or_default();
    let zeros = len.checked_sub(digits.len()).ok_or(ErrorCode::INVALID_DATA)?;
    let mut out = Zeroizing::new(vec![0u8; zeros]);
    out.extend_from_slice(digits);
    Ok(out)
}

/// A key built from its primes, checked to have the modulus size of `alg`.
pub(crate) fn private_key(
    alg: Algorithm,
    p: &[u8],
    q: &[u8],
) -> Result<rsa::PrivateKey, ErrorCode> {
    #[cfg(any(test, feature = "fuzzing"))]
    if let Some(key) = crate::fuzzing::rsa_work::pooled_private_key(alg, p, q) {
        return Ok(key);
    }
    build_private_key(alg, p, q)
}

/// [`private_key`], always computed.
pub(crate) fn build_private_key(
    alg: Algorithm,
    p: &[u8],
    q: &[u8],
) -> Result<rsa::PrivateKey, ErrorCode> {
    let size = alg.rsa_modulus_size().ok_or(ErrorCode::INVALID_DATA)?;
    let key = rsa::PrivateKey::from_p_q(to_uint(p), to_uint(q), BoxedUint::from(PUBLIC_EXPONENT))
        .map_err(|_| ErrorCode::INVALID_DATA)?;
    if key.n().as_ref().bit_width_vartime() as usize != 8 * size {
        return Err(ErrorCode::INVALID_DATA);
    }
    Ok(key)
}

/// The stored body of `key`: p and q as the key holds them, the CRT values and n.
pub(crate) fn body_of(alg: Algorithm, key: &rsa::PrivateKey) -> Result<Body, ErrorCode> {
    let size = alg.rsa_modulus_size().ok_or(ErrorCode::INVALID_DATA)?;
    let half = size / 2;
    let [p, q] = key.primes() else { return Err(ErrorCode::INVALID_DATA) };
    let dp = key.dp().ok_or(ErrorCode::INVALID_DATA)?;
    let dq = key.dq().ok_or(ErrorCode::INVALID_DATA)?;
    let qinv = key.crt_coefficient().ok_or(ErrorCode::INVALID_DATA)?;
    let parts = [
        to_bytes(p.as_ref(), half)?,
        to_bytes(q.as_ref(), half)?,
        to_bytes(dp, half)?,
        to_bytes(dq, half)?,
        to_bytes(&qinv, half)?,
    ];
    let n = to_bytes(key.n().as_ref(), size)?;
    let [p, q, dp, dq, qinv] = &parts;
    Body::rsa(alg, [p, q, dp, dq, qinv], &n).map_err(|_| ErrorCode::INVALID_DATA)
}

/// The body of an RSA key put in the clear: `p || q`, each half the modulus size. Both
/// must be (probable) primes whose product has exactly the algorithm's size.
pub fn from_primes(alg: Algorithm, key: &[u8]) -> Result<Body, ErrorCode> {
    let size = alg.rsa_modulus_size().ok_or(ErrorCode::INVALID_DATA)?;
    if key.len() != size {
        return Err(ErrorCode::WRONG_LENGTH);
    }
    let (p, q) = key.split_at(size / 2);
    for prime in [p, q] {
        if !is_prime(prime) {
            return Err(ErrorCode::INVALID_DATA);
        }
    }
    body_of_primes(alg, p, q)
}

/// Whether `candidate` (big-endian) is a probable prime (Baillie-PSW; the fuzzing
/// configuration answers with a cheaper test, `crate::fuzzing::rsa_work`).
fn is_prime(candidate: &[u8]) -> bool {
    #[cfg(any(test, feature = "fuzzing"))]
    if let Some(known) = crate::fuzzing::rsa_work::known_prime(candidate) {
        return known;
    }
    crypto_primes::is_prime(crypto_primes::Flavor::Any, &to_uint(candidate))
}

/// The body of the key with primes `p` and `q` (their primality is not checked).
fn body_of_primes(alg: Algorithm, p: &[u8], q: &[u8]) -> Result<Body, ErrorCode> {
    #[cfg(any(test, feature = "fuzzing"))]
    if let Some(body) = crate::fuzzing::rsa_work::pooled_body(alg, p, q) {
        return Ok(body);
    }
    body_of(alg, &private_key(alg, p, q)?)
}

/// A fresh key of `alg`'s size (in the fuzzing configuration: one of a fixed pool,
/// `crate::fuzzing::rsa_work`).
pub fn generate(alg: Algorithm, rng: &mut ChaCha20Rng) -> Result<Body, ErrorCode> {
    let size = alg.rsa_modulus_size().ok_or(ErrorCode::INVALID_DATA)?;
    #[cfg(any(test, feature = "fuzzing"))]
    if let Some(pooled) = crate::fuzzing::rsa_work::pooled_key(alg, rng) {
        return Ok(pooled);
    }
    let key = rsa::PrivateKey::new(rng, 8 * size).map_err(|_| ErrorCode::INVALID_DATA)?;
    body_of(alg, &key)
}

/// Checks that an RSA body (imported under wrap) is one key: n = p·q and the CRT values
/// are those of p and q.
pub fn check_body(alg: Algorithm, body: &Body) -> Result<(), ErrorCode> {
    let Body::Rsa { p, q, .. } = body else { return Err(ErrorCode::INVALID_DATA) };
    let fresh = body_of_primes(alg, p.expose_secret(), q.expose_secret())?;
    if &fresh == body { Ok(()) } else { Err(ErrorCode::INVALID_DATA) }
}

/// The key of an RSA body.
fn key_of(alg: Algorithm, body: &Body) -> Result<rsa::PrivateKey, ErrorCode> {
    match body {
        Body::Rsa { p, q, .. } => private_key(alg, p.expose_secret(), q.expose_secret()),
        _ => Err(ErrorCode::INVALID_DATA),
    }
}

/// RSADP / RSASP1 on a modulus-size input, blinded, with the CRT fault check.
fn private_op(
    key: &rsa::PrivateKey,
    input: &[u8],
    rng: &mut ChaCha20Rng,
) -> Result<Zeroizing<Vec<u8>>, ErrorCode> {
    if input.len() != key.size() {
        return Err(ErrorCode::WRONG_LENGTH);
    }
    #[cfg(any(test, feature = "fuzzing"))]
    if let Some(answer) = crate::fuzzing::rsa_work::private_op(key, input) {
        return answer;
    }
    blinded_private_op(key, input, rng)
}

/// [`private_op`] on an input of the modulus size, blinded with randomness from `rng`.
pub(crate) fn blinded_private_op(
    key: &rsa::PrivateKey,
    input: &[u8],
    rng: &mut ChaCha20Rng,
) -> Result<Zeroizing<Vec<u8>>, ErrorCode> {
    let c = BoxedUint::from_be_slice(input, key.n_bits_precision())
        .map_err(|_| ErrorCode::INVALID_DATA)?;
    let m = rsa::hazmat::rsa_decrypt_and_check(key, Some(rng), &c)
        .map_err(|_| ErrorCode::INVALID_DATA)?;
    to_bytes(&m, key.size())
}

/// SIGN_PKCS1: RSASSA-PKCS1-v1_5 over a digest of 20, 32, 48 or 64 bytes.
pub fn sign_pkcs1(
    alg: Algorithm,
    body: &Body,
    digest: &[u8],
    rng: &mut ChaCha20Rng,
) -> Result<Vec<u8>, ErrorCode> {
    let key = key_of(alg, body)?;
    let em = emsa_pkcs1(digest, key.size())?;
    Ok(private_op(&key, &em, rng)?.to_vec())
}

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2) of a digest (its hash told by its length) for a
/// `k`-byte modulus.
fn emsa_pkcs1(digest: &[u8], k: usize) -> Result<Zeroizing<Vec<u8>>, ErrorCode> {
    let hash = Hash::from_len(digest.len()).ok_or(ErrorCode::INVALID_DATA)?;
    let t_len = hash.digest_info_prefix().len() + digest.len();
    let ps = k.checked_sub(t_len + 3).filter(|ps| *ps >= 8).ok_or(ErrorCode::INVALID_DATA)?;
    let mut em = Zeroizing::new(Vec::with_capacity(k));
    em.extend_from_slice(&[0x00, 0x01]);
    em.resize(2 + ps, 0xff);
    em.push(0x00);
    em.extend_from_slice(hash.digest_info_prefix());
    em.extend_from_slice(digest);
    Ok(em)
}

/// Whether `signature` is an RSASSA-PKCS1-v1_5 signature of `digest` by the modulus `n`
/// (e = 65537): the timestamps of SSH certificate requests.
pub fn verify_pkcs1(n: &[u8], digest: &[u8], signature: &[u8]) -> bool {
    let k = n.len();
    let Ok(expected) = emsa_pkcs1(digest, k) else { return false };
    let Ok(public) = rsa::PublicKey::new(to_uint(n), BoxedUint::from(PUBLIC_EXPONENT)) else {
        return false;
    };
    if signature.len() != k {
        return false;
    }
    let Ok(s) = BoxedUint::from_be_slice(signature, public.n_bits_precision()) else {
        return false;
    };
    // A signature not below the modulus is invalid (RFC 8017 §5.2.2).
    if s >= *public.n().as_ref() {
        return false;
    }
    let Ok(m) = rsa::hazmat::rsa_encrypt(&public, &s) else { return false };
    to_bytes(&m, k).is_ok_and(|em| ct_eq(&em, &expected))
}

/// SIGN_PSS: RSASSA-PSS over a digest (its hash told by its length) with MGF1 `mgf` and a
/// random salt of `salt_len` bytes (RFC 8017 §9.1.1).
pub fn sign_pss(
    alg: Algorithm,
    body: &Body,
    mgf: Hash,
    salt_len: usize,
    digest: &[u8],
    rng: &mut ChaCha20Rng,
) -> Result<Vec<u8>, ErrorCode> {
    let hash = Hash::from_len(digest.len()).ok_or(ErrorCode::INVALID_DATA)?;
    let key = key_of(alg, body)?;
    let k = key.size();
    let em_bits = key.n().as_ref().bit_width_vartime() as usize - 1;
    let em_len = em_bits.div_ceil(8);
    let h_len = hash.output_len();
    let ps = em_len.checked_sub(salt_len + h_len + 2).ok_or(ErrorCode::INVALID_DATA)?;
    let mut salt = Zeroizing::new(vec![0u8; salt_len]);
    rng.fill_bytes(&mut salt);
    let h = hash.digest(&[&[0u8; 8], digest, &salt]);
    let mut db = Zeroizing::new(vec![0u8; ps]);
    db.push(0x01);
    db.extend_from_slice(&salt);
    mgf1_xor(mgf, &h, &mut db);
    let unused_bits = 8 * em_len - em_bits;
    if let Some(first) = db.first_mut() {
        *first &= 0xff >> unused_bits;
    }
    let mut em = Zeroizing::new(vec![0u8; k - em_len]);
    em.extend_from_slice(&db);
    em.extend_from_slice(&h);
    em.push(0xbc);
    Ok(private_op(&key, &em, rng)?.to_vec())
}

/// DECRYPT_PKCS1: RSAES-PKCS1-v1_5 (RFC 8017 §7.2.2). A bad padding (first bytes other
/// than `00 02`, fewer than 8 padding bytes, no separator) is invalid-data.
pub fn decrypt_pkcs1(
    alg: Algorithm,
    body: &Body,
    ciphertext: &[u8],
    rng: &mut ChaCha20Rng,
) -> Result<Vec<u8>, ErrorCode> {
    let key = key_of(alg, body)?;
    let em = private_op(&key, ciphertext, rng)?;
    // The separator index is found without branching on secret bytes.
    let mut good =
        em.first().copied().unwrap_or(1).ct_eq(&0) & em.get(1).copied().unwrap_or(0).ct_eq(&2);
    let mut found = subtle::Choice::from(0);
    let mut index = 0u32;
    for (i, b) in (0u32..).zip(em.iter()).skip(2) {
        let zero = b.ct_eq(&0);
        index.conditional_assign(&i, zero & !found);
        found |= zero;
    }
    good &= found;
    // At least 8 padding bytes: the separator is at index 10 or later.
    good &= subtle::Choice::from(u8::from(index >= 10));
    if !bool::from(good) {
        return Err(ErrorCode::INVALID_DATA);
    }
    Ok(em.get(index as usize + 1..).unwrap_or_default().to_vec())
}

/// EME-OAEP decoding (RFC 8017 §7.1.2) of `em` with label hash `l_hash` (its length tells
/// the OAEP hash) and MGF1 `mgf`.
fn oaep_decode(em: &[u8], mgf: Hash, l_hash: &[u8]) -> Result<Vec<u8>, ErrorCode> {
    let h_len = l_hash.len();
    if Hash::from_len(h_len).is_none() || em.len() < 2 * h_len + 2 {
        return Err(ErrorCode::INVALID_DATA);
    }
    let (y, rest) = em.split_at(1);
    let (masked_seed, masked_db) = rest.split_at(h_len);
    let mut seed = Zeroizing::new(masked_seed.to_vec());
    mgf1_xor(mgf, masked_db, &mut seed);
    let mut db = Zeroizing::new(masked_db.to_vec());
    mgf1_xor(mgf, &seed, &mut db);
    let (l_hash2, ps_m) = db.split_at(h_len);
    let mut good = y.ct_eq(&[0]) & l_hash2.ct_eq(l_hash);
    // Skip the zero padding to the 0x01 separator; anything else first is an error.
    let mut found = subtle::Choice::from(0);
    let mut index = 0u32;
    let mut bad_byte = subtle::Choice::from(0);
    for (i, b) in (0u32..).zip(ps_m.iter()) {
        let one = b.ct_eq(&1);
        let zero = b.ct_eq(&0);
        index.conditional_assign(&i, one & !found);
        bad_byte |= !found & !one & !zero;
        found |= one;
    }
    good &= found & !bad_byte;
    if !bool::from(good) {
        return Err(ErrorCode::INVALID_DATA);
    }
    Ok(ps_m.get(index as usize + 1..).unwrap_or_default().to_vec())
}

/// DECRYPT_OAEP: RSAES-OAEP with the OAEP hash told by the label hash's length.
pub fn decrypt_oaep(
    alg: Algorithm,
    body: &Body,
    mgf: Hash,
    ciphertext: &[u8],
    l_hash: &[u8],
    rng: &mut ChaCha20Rng,
) -> Result<Vec<u8>, ErrorCode> {
    let key = key_of(alg, body)?;
    let em = private_op(&key, ciphertext, rng)?;
    oaep_decode(&em, mgf, l_hash)
}

/// RSAES-OAEP encryption of `message` to the modulus `n` (e = 65537), with OAEP hash
/// `hash`, MGF1 `mgf` and label hash `l_hash` (asymmetric wrap of an ephemeral AES key).
pub fn encrypt_oaep(
    n: &[u8],
    hash: Hash,
    mgf: Hash,
    l_hash: &[u8],
    message: &[u8],
    rng: &mut ChaCha20Rng,
) -> Result<Vec<u8>, ErrorCode> {
    let h_len = hash.output_len();
    let k = n.len();
    if l_hash.len() != h_len {
        return Err(ErrorCode::INVALID_DATA);
    }
    let ps = k.checked_sub(message.len() + 2 * h_len + 2).ok_or(ErrorCode::INVALID_DATA)?;
    let public = rsa::PublicKey::new(to_uint(n), BoxedUint::from(PUBLIC_EXPONENT))
        .map_err(|_| ErrorCode::INVALID_DATA)?;
    let mut seed = Zeroizing::new(vec![0u8; h_len]);
    rng.fill_bytes(&mut seed);
    let mut db = Zeroizing::new(l_hash.to_vec());
    db.resize(h_len + ps, 0);
    db.push(0x01);
    db.extend_from_slice(message);
    mgf1_xor(mgf, &seed, &mut db);
    mgf1_xor(mgf, &db, &mut seed);
    let mut em = Zeroizing::new(vec![0u8]);
    em.extend_from_slice(&seed);
    em.extend_from_slice(&db);
    let m = BoxedUint::from_be_slice(&em, public.n_bits_precision())
        .map_err(|_| ErrorCode::INVALID_DATA)?;
    let c = rsa::hazmat::rsa_encrypt(&public, &m).map_err(|_| ErrorCode::INVALID_DATA)?;
    Ok(to_bytes(&c, k)?.to_vec())
}

/// The modulus of an RSA body.
pub fn modulus(body: &Body) -> Option<&[u8]> {
    match body {
        Body::Rsa { n, .. } => Some(n),
        _ => None,
    }
}
