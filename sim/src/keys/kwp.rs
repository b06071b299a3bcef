//! Asymmetric wrap (firmware 2.4, commands 0x74–0x77): RSA-AES key wrap as PKCS#11's
//! CKM_RSA_AES_KEY_WRAP — an ephemeral AES key encrypted with RSA-OAEP to the wrap key,
//! followed by the payload wrapped under that AES key with AES key wrap with padding
//! (RFC 5649). Facts from python-yubihsm (`PublicWrapKey.export_wrapped_rsa`,
//! `WrapKey.import_wrapped_rsa`) and Yubico's description of the commands (the hybrid
//! RSA_AES_KEY_WRAP_SHA* scheme; the hash and MGF1 algorithms are those of the OAEP part).

use aes_kw::{KeyInit, KwpAes128, KwpAes192, KwpAes256};
use chacha20::ChaCha20Rng;
use rand_core::Rng as _;
use yhsm_proto::Algorithm;
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::wrap::Body;
use zeroize::Zeroizing;

use super::rsa::{self, Hash};

/// The AES key length of the ephemeral-key algorithm (aes128, aes192, aes256).
pub fn aes_key_len(alg: Algorithm) -> Option<usize> {
    match alg {
        Algorithm::AES128 => Some(16),
        Algorithm::AES192 => Some(24),
        Algorithm::AES256 => Some(32),
        _ => None,
    }
}

/// AES-KWP (RFC 5649) of `data` under the 16/24/32-byte `key`.
pub fn wrap(key: &[u8], data: &[u8]) -> Result<Vec<u8>, ErrorCode> {
    if data.is_empty() {
        return Err(ErrorCode::INVALID_DATA);
    }
    let mut out = vec![0u8; data.len().div_ceil(8) * 8 + 8];
    let len = match key.len() {
        16 => KwpAes128::new_from_slice(key).map(|k| k.wrap_key(data, &mut out).map(<[u8]>::len)),
        24 => KwpAes192::new_from_slice(key).map(|k| k.wrap_key(data, &mut out).map(<[u8]>::len)),
        32 => KwpAes256::new_from_slice(key).map(|k| k.wrap_key(data, &mut out).map(<[u8]>::len)),
        _ => return Err(ErrorCode::INVALID_DATA),
    }
    .map_err(|_| ErrorCode::INVALID_DATA)?
    .map_err(|_| ErrorCode::INVALID_DATA)?;
    out.truncate(len);
    Ok(out)
}

/// The data AES-KWP-wrapped in `wrapped` under `key`; invalid-data when the integrity
/// check fails.
pub fn unwrap(key: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, ErrorCode> {
    // RFC 5649 §3: at least two semiblocks (the AIV and one of data).
    if wrapped.len() < 16 {
        return Err(ErrorCode::INVALID_DATA);
    }
    let mut out = Zeroizing::new(vec![0u8; wrapped.len().saturating_sub(8)]);
    let len =
        match key.len() {
            16 => KwpAes128::new_from_slice(key)
                .map(|k| k.unwrap_key(wrapped, &mut out).map(<[u8]>::len)),
            24 => KwpAes192::new_from_slice(key)
                .map(|k| k.unwrap_key(wrapped, &mut out).map(<[u8]>::len)),
            32 => KwpAes256::new_from_slice(key)
                .map(|k| k.unwrap_key(wrapped, &mut out).map(<[u8]>::len)),
            _ => return Err(ErrorCode::INVALID_DATA),
        }
        .map_err(|_| ErrorCode::INVALID_DATA)?
        .map_err(|_| ErrorCode::INVALID_DATA)?;
    if len == 0 {
        return Err(ErrorCode::INVALID_DATA);
    }
    out.truncate(len);
    Ok(out)
}

/// The OAEP parameters of an asymmetric wrap request: hash (rsa-oaep-sha*), MGF1 hash
/// (mgf1-sha*), and the hash of the OAEP label, which must have the hash's length.
#[derive(Clone, Copy, Debug)]
pub struct Oaep<'a> {
    pub hash: Hash,
    pub mgf: Hash,
    pub label_hash: &'a [u8],
}

impl<'a> Oaep<'a> {
    /// Checks the algorithms and the label hash's length.
    pub fn new(hash: Algorithm, mgf: Algorithm, label_hash: &'a [u8]) -> Result<Self, ErrorCode> {
        let hash = Hash::from_oaep(hash).ok_or(ErrorCode::INVALID_DATA)?;
        let mgf = Hash::from_mgf1(mgf).ok_or(ErrorCode::INVALID_DATA)?;
        if label_hash.len() != hash.output_len() {
            return Err(ErrorCode::INVALID_DATA);
        }
        Ok(Self { hash, mgf, label_hash })
    }
}

/// `RSA-OAEP(n, ephemeral AES key) || AES-KWP(ephemeral key, payload)` with a fresh AES
/// key of algorithm `aes` (aes128/192/256).
pub fn seal(
    n: &[u8],
    aes: Algorithm,
    oaep: &Oaep<'_>,
    payload: &[u8],
    rng: &mut ChaCha20Rng,
) -> Result<Vec<u8>, ErrorCode> {
    let len = aes_key_len(aes).ok_or(ErrorCode::INVALID_DATA)?;
    let mut key = Zeroizing::new(vec![0u8; len]);
    rng.fill_bytes(&mut key);
    let mut out = rsa::encrypt_oaep(n, oaep.hash, oaep.mgf, oaep.label_hash, &key, rng)?;
    out.extend_from_slice(&wrap(&key, payload)?);
    Ok(out)
}

/// The payload of a [`seal`]ed blob, opened with the RSA key `rsa_body` of algorithm
/// `alg`. Anything that does not decrypt is invalid-data.
pub fn open(
    alg: Algorithm,
    rsa_body: &Body,
    oaep: &Oaep<'_>,
    blob: &[u8],
    rng: &mut ChaCha20Rng,
) -> Result<Zeroizing<Vec<u8>>, ErrorCode> {
    let k = alg.rsa_modulus_size().ok_or(ErrorCode::INVALID_DATA)?;
    let (encrypted_key, wrapped) = blob.split_at_checked(k).ok_or(ErrorCode::INVALID_DATA)?;
    let key = Zeroizing::new(rsa::decrypt_oaep(
        alg,
        rsa_body,
        oaep.mgf,
        encrypted_key,
        oaep.label_hash,
        rng,
    )?);
    if ![16, 24, 32].contains(&key.len()) {
        return Err(ErrorCode::INVALID_DATA);
    }
    unwrap(&key, wrapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn wraps_the_rfc5649_vectors() {
        // RFC 5649 §6: a 20-byte and a 7-byte key under a 192-bit KEK.
        let kek = hex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8");
        for (key, wrapped) in [
            (
                "c37b7e6492584340bed12207808941155068f738",
                "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a",
            ),
            ("466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"),
        ] {
            assert_eq!(wrap(&kek, &hex(key)).unwrap(), hex(wrapped));
            assert_eq!(unwrap(&kek, &hex(wrapped)).unwrap().as_slice(), hex(key));
        }
    }

    #[test]
    fn rejects_tampered_or_misaligned_kwp_data() {
        let key = [7u8; 32];
        let mut wrapped = wrap(&key, b"some key material").unwrap();
        assert_eq!(wrapped.len(), 32);
        assert_eq!(unwrap(&[8u8; 32], &wrapped), Err(ErrorCode::INVALID_DATA));
        wrapped[5] ^= 1;
        assert_eq!(unwrap(&key, &wrapped), Err(ErrorCode::INVALID_DATA));
        assert_eq!(unwrap(&key, &wrapped[..31]), Err(ErrorCode::INVALID_DATA));
        assert_eq!(unwrap(&key, &[]), Err(ErrorCode::INVALID_DATA));
        assert_eq!(wrap(&[0u8; 15], b"x"), Err(ErrorCode::INVALID_DATA));
    }
}
