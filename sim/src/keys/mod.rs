//! Key material: generation, public keys and signatures per algorithm, stored in the
//! wrapped-body layout of docs/PROTOCOL.md §5.4 (`yhsm_proto::wrap::Body`).

pub mod ec;
pub mod kwp;
pub mod otp;
pub mod pkcs8;
pub mod rsa;
pub mod ssh;
pub mod sym;

use chacha20::ChaCha20Rng;
use ed25519_dalek::VerifyingKey;
use ed25519_dalek::hazmat::{ExpandedSecretKey, raw_sign};
use rand_core::Rng as _;
use sha2::Sha512;
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::secret::{SecretArray, SecretBytes};
use yhsm_proto::wrap::Body;
use yhsm_proto::{Algorithm, Capabilities, ObjectType};
use zeroize::Zeroizing;

/// Runs `ec::$f::<Curve>` for the EC algorithm `$alg`, or answers algorithm-disabled for a
/// curve the simulator cannot compute with (the curves are `yhsm_keys::for_curve!`'s).
macro_rules! per_curve {
    ($alg:expr, $f:ident ( $($arg:expr),* )) => {
        yhsm_keys::for_curve!($alg, |C| ec::$f::<C>($($arg),*), else Err(ErrorCode::ALGORITHM_DISABLED))
    };
}

/// Whether the simulator can compute with the EC algorithm `alg`.
pub fn ec_supported(alg: Algorithm) -> bool {
    yhsm_keys::has_arithmetic(alg)
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` from big-endian r and s.
pub fn der_signature(r: &[u8], s: &[u8]) -> Vec<u8> {
    fn integer(v: &[u8]) -> Vec<u8> {
        let start = v.iter().position(|&b| b != 0).unwrap_or(v.len().saturating_sub(1));
        let v = v.get(start..).unwrap_or_default();
        let pad = v.first().is_some_and(|b| b & 0x80 != 0);
        let mut out = vec![0x02];
        push_len(&mut out, v.len() + usize::from(pad));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(v);
        out
    }
    fn push_len(out: &mut Vec<u8>, len: usize) {
        match u8::try_from(len) {
            Ok(l) if l < 0x80 => out.push(l),
            Ok(l) => out.extend_from_slice(&[0x81, l]),
            Err(_) => {
                let l = u16::try_from(len).unwrap_or(u16::MAX);
                out.push(0x82);
                out.extend_from_slice(&l.to_be_bytes());
            }
        }
    }
    let mut body = integer(r);
    body.extend_from_slice(&integer(s));
    let mut out = vec![0x30];
    push_len(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

/// The body of an asymmetric key imported with PUT_ASYMMETRIC_KEY: EC private scalar,
/// ed25519 seed, RSA `p || q`.
pub fn asymmetric_from_private(alg: Algorithm, key: &[u8]) -> Result<Body, ErrorCode> {
    if let Some(size) = alg.ec_field_size() {
        if key.len() != size {
            return Err(ErrorCode::WRONG_LENGTH);
        }
        let (x, y) = yhsm_keys::ec_public(alg, key)
            .map_err(|_| ErrorCode::INVALID_DATA)?
            .ok_or(ErrorCode::ALGORITHM_DISABLED)?;
        return Ok(Body::Ec { d: SecretBytes::from_slice(key), x, y });
    }
    if alg == Algorithm::ED25519 {
        let seed = SecretArray::<32>::from_slice(key).ok_or(ErrorCode::WRONG_LENGTH)?;
        return Ok(ed25519_body(&seed));
    }
    if alg.rsa_modulus_size().is_some() {
        return rsa::from_primes(alg, key);
    }
    Err(ErrorCode::INVALID_DATA)
}

/// A freshly generated asymmetric key.
pub fn asymmetric_generate(alg: Algorithm, rng: &mut ChaCha20Rng) -> Result<Body, ErrorCode> {
    if alg.ec_field_size().is_some() {
        let d: Zeroizing<Vec<u8>> = per_curve!(alg, generate(rng))?;
        return asymmetric_from_private(alg, &d);
    }
    if alg == Algorithm::ED25519 {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        return Ok(ed25519_body(&SecretArray::new(seed)));
    }
    if alg.rsa_modulus_size().is_some() {
        return rsa::generate(alg, rng);
    }
    Err(ErrorCode::INVALID_DATA)
}

/// An ed25519 body that keeps the seed, so that an export with format 1 can include it.
fn ed25519_body(seed: &SecretArray<32>) -> Body {
    Body::ed25519_from_seed_with_seed(seed, yhsm_keys::ed25519_public(seed))
}

/// An ECDSA signature of `digest` with the EC key in `body`.
pub fn sign_ecdsa(
    alg: Algorithm,
    body: &Body,
    digest: &[u8],
    rng: &mut ChaCha20Rng,
) -> Result<Vec<u8>, ErrorCode> {
    let Body::Ec { d, .. } = body else { return Err(ErrorCode::INVALID_DATA) };
    per_curve!(alg, sign(d.expose_secret(), digest, rng))
}

/// ECDH with the EC key in `body` and the host's uncompressed point.
pub fn derive_ecdh(alg: Algorithm, body: &Body, point: &[u8]) -> Result<Vec<u8>, ErrorCode> {
    let Body::Ec { d, .. } = body else { return Err(ErrorCode::INVALID_DATA) };
    per_curve!(alg, ecdh(d.expose_secret(), point))
}

/// An ed25519 signature with the key in `body` (the scalar as stored, clamped or reduced;
/// both sign alike).
pub fn sign_eddsa(body: &Body, message: &[u8]) -> Result<Vec<u8>, ErrorCode> {
    let Body::Ed25519 { scalar, prefix, public, .. } = body else {
        return Err(ErrorCode::INVALID_DATA);
    };
    let mut expanded = Zeroizing::new([0u8; 64]);
    for (dst, src) in expanded.iter_mut().zip(scalar.expose_secret().iter().rev()) {
        *dst = *src;
    }
    if let Some(tail) = expanded.get_mut(32..) {
        tail.copy_from_slice(prefix.expose_secret());
    }
    let esk = ExpandedSecretKey::from_bytes(&expanded);
    let vk = VerifyingKey::from_bytes(public).map_err(|_| ErrorCode::INVALID_DATA)?;
    Ok(raw_sign::<Sha512>(&esk, message, &vk).to_bytes().to_vec())
}

/// The public key GET_PUBLIC_KEY returns for `object`: EC `X || Y`, the ed25519 point, an
/// RSA modulus (of an asymmetric key, an RSA wrap key or a public wrap key).
pub fn public_key(object: &crate::store::Object) -> Option<Vec<u8>> {
    match object.object_type {
        ObjectType::ASYMMETRIC_KEY => object.body.public_key(),
        ObjectType::WRAP_KEY => rsa_wrap_key(object).ok()?.public_key(),
        ObjectType::PUBLIC_WRAP_KEY => public_wrap_modulus(object).ok().map(<[u8]>::to_vec),
        _ => None,
    }
}

/// The stored body of an RSA wrap key: `delegated(8) || p || q || dp || dq || qinv || n`,
/// the delegated capabilities then the RSA body of docs/PROTOCOL.md §5.4 (how the device lays it
/// out is not known; this is what an export under an AES wrap key carries).
pub fn rsa_wrap_key_body(delegated: Capabilities, rsa: &Body) -> Body {
    let mut raw = Zeroizing::new(delegated.0.to_be_bytes().to_vec());
    rsa.write_to(&mut raw);
    Body::Raw(SecretBytes::from_slice(&raw))
}

/// The RSA key of an RSA wrap key (invalid-data for an AES wrap key).
pub fn rsa_wrap_key(object: &crate::store::Object) -> Result<Body, ErrorCode> {
    if object.object_type != ObjectType::WRAP_KEY || object.algorithm.rsa_modulus_size().is_none() {
        return Err(ErrorCode::INVALID_DATA);
    }
    let Body::Raw(raw) = &object.body else { return Err(ErrorCode::INVALID_DATA) };
    let rsa = raw.expose_secret().get(8..).ok_or(ErrorCode::INVALID_DATA)?;
    Body::decode(ObjectType::ASYMMETRIC_KEY, object.algorithm, rsa)
        .map_err(|_| ErrorCode::INVALID_DATA)
}

/// The stored body of a public wrap key: `delegated(8) || n`.
pub fn public_wrap_key_body(delegated: Capabilities, n: &[u8]) -> Body {
    let mut raw = delegated.0.to_be_bytes().to_vec();
    raw.extend_from_slice(n);
    Body::Raw(SecretBytes::new(raw))
}

/// The modulus of a public wrap key.
pub fn public_wrap_modulus(object: &crate::store::Object) -> Result<&[u8], ErrorCode> {
    let size = object.algorithm.rsa_modulus_size().ok_or(ErrorCode::INVALID_DATA)?;
    match &object.body {
        Body::Raw(raw) if object.object_type == ObjectType::PUBLIC_WRAP_KEY => {
            raw.expose_secret().get(8..).filter(|n| n.len() == size).ok_or(ErrorCode::INVALID_DATA)
        }
        _ => Err(ErrorCode::INVALID_DATA),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_integers_are_minimal_and_positive() {
        assert_eq!(der_signature(&[0, 1], &[0x80]), [0x30, 7, 2, 1, 1, 2, 2, 0, 0x80]);
        assert_eq!(der_signature(&[0, 0], &[5]), [0x30, 6, 2, 1, 0, 2, 1, 5]);
    }

    #[test]
    fn signs_the_rfc8032_vector() {
        // RFC 8032 §7.1 test 2.
        let seed: [u8; 32] =
            hex_lit("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
        let body = asymmetric_from_private(Algorithm::ED25519, &seed).unwrap();
        assert_eq!(
            body.public_key().unwrap(),
            hex_lit::<32>("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
        );
        let sig = sign_eddsa(&body, &[0x72]).unwrap();
        assert_eq!(
            sig,
            hex_lit::<64>(
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
                 085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
            )
        );
    }

    fn hex_lit<const N: usize>(s: &str) -> [u8; N] {
        let v: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        v.try_into().unwrap()
    }
}
