//! Symmetric primitives: HMAC (SIGN_HMAC / VERIFY_HMAC), AES-CCM for WRAP_DATA /
//! UNWRAP_DATA (the `nonce(13) || ciphertext || tag(16)` layout of wrapped objects around
//! a leading NUL byte, docs/PROTOCOL.md §5.2, §7.6), AES-ECB and AES-CBC for symmetric
//! keys.

use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use aes::{Aes128, Aes192, Aes256};
use ccm::aead::AeadInOut;
use ccm::aead::array::Array;
use ccm::consts::{U13, U16};
use hmac::{Hmac, Mac};
use yhsm_proto::Algorithm;
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::secret::ct_eq;
use zeroize::Zeroizing;

const NONCE_LEN: usize = 13;
const TAG_LEN: usize = 16;
const BLOCK: usize = 16;

/// HMAC of `data` with `key` for hmac-sha1/256/384/512: the SHA-2 ones are the host's
/// computation of content proofs ([`yhsm_proto::proof::hmac`]), so both sides of a proof
/// run the same code; SHA-1, which the host never computes, is here alone.
pub fn hmac(alg: Algorithm, key: &[u8], data: &[u8]) -> Result<Vec<u8>, ErrorCode> {
    if alg == Algorithm::HMAC_SHA1 {
        let mut m = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key)
            .map_err(|_| ErrorCode::INVALID_DATA)?;
        m.update(data);
        return Ok(m.finalize().into_bytes().to_vec());
    }
    yhsm_proto::proof::hmac(alg, key, data)
        .map(|mac| mac.to_vec())
        .ok_or(ErrorCode::ALGORITHM_DISABLED)
}

/// Checks an HMAC in constant time.
pub fn hmac_verify(alg: Algorithm, key: &[u8], mac: &[u8], data: &[u8]) -> Result<bool, ErrorCode> {
    let expected = hmac(alg, key, data)?;
    Ok(expected.len() == mac.len() && ct_eq(&expected, mac))
}

/// AES-CCM seal: `nonce || ciphertext || tag`.
pub fn ccm_seal(
    key: &[u8],
    nonce: [u8; NONCE_LEN],
    plaintext: &[u8],
) -> Result<Vec<u8>, ErrorCode> {
    fn run<C: KeyInit + AeadInOut<NonceSize = U13, TagSize = U16>>(
        key: &[u8],
        nonce: [u8; NONCE_LEN],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, ErrorCode> {
        let cipher = C::new_from_slice(key).map_err(|_| ErrorCode::INVALID_DATA)?;
        let mut buf = plaintext.to_vec();
        let tag = cipher
            .encrypt_inout_detached(&Array::from(nonce), &[], buf.as_mut_slice().into())
            .map_err(|_| ErrorCode::INVALID_DATA)?;
        let mut out = Vec::with_capacity(NONCE_LEN + buf.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        out.extend_from_slice(&tag);
        Ok(out)
    }
    match key.len() {
        16 => run::<ccm::Ccm<Aes128, U16, U13>>(key, nonce, plaintext),
        24 => run::<ccm::Ccm<Aes192, U16, U13>>(key, nonce, plaintext),
        32 => run::<ccm::Ccm<Aes256, U16, U13>>(key, nonce, plaintext),
        _ => Err(ErrorCode::INVALID_DATA),
    }
}

/// AES-CCM open of `nonce || ciphertext || tag`; invalid-data when the tag does not verify.
pub fn ccm_open(key: &[u8], blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, ErrorCode> {
    fn run<C: KeyInit + AeadInOut<NonceSize = U13, TagSize = U16>>(
        key: &[u8],
        nonce: &[u8],
        ct: &[u8],
        tag: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, ErrorCode> {
        let cipher = C::new_from_slice(key).map_err(|_| ErrorCode::INVALID_DATA)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| ErrorCode::INVALID_DATA)?;
        let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| ErrorCode::INVALID_DATA)?;
        let mut buf = Zeroizing::new(ct.to_vec());
        cipher
            .decrypt_inout_detached(
                &Array::from(nonce),
                &[],
                buf.as_mut_slice().into(),
                &Array::from(tag),
            )
            .map_err(|_| ErrorCode::INVALID_DATA)?;
        Ok(buf)
    }
    if blob.len() < NONCE_LEN + TAG_LEN {
        return Err(ErrorCode::WRONG_LENGTH);
    }
    let (nonce, rest) = blob.split_at(NONCE_LEN);
    let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
    match key.len() {
        16 => run::<ccm::Ccm<Aes128, U16, U13>>(key, nonce, ct, tag),
        24 => run::<ccm::Ccm<Aes192, U16, U13>>(key, nonce, ct, tag),
        32 => run::<ccm::Ccm<Aes256, U16, U13>>(key, nonce, ct, tag),
        _ => Err(ErrorCode::INVALID_DATA),
    }
}

/// The bytes WRAP_DATA adds: nonce, the leading NUL byte, tag (libyubihsm's
/// `YH_CCM_WRAP_OVERHEAD`, `1 + 13 + 16`).
pub const WRAP_DATA_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// WRAP_DATA: `nonce || CCM(00 || data) || tag`. Yubico's command reference: "The wrapped
/// data includes a leading encrypted nul byte that is added automatically by the YubiHSM2.
/// This byte is checked by UNWRAP DATA".
pub fn wrap_data(key: &[u8], nonce: [u8; NONCE_LEN], data: &[u8]) -> Result<Vec<u8>, ErrorCode> {
    let mut plain = Zeroizing::new(Vec::with_capacity(1 + data.len()));
    plain.push(0);
    plain.extend_from_slice(data);
    ccm_seal(key, nonce, &plain)
}

/// UNWRAP_DATA: opens a [`wrap_data`] blob and checks and drops its leading NUL byte
/// (invalid-data when it is missing or not zero, as for a tag that does not verify).
pub fn unwrap_data(key: &[u8], blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, ErrorCode> {
    let plain = ccm_open(key, blob)?;
    match plain.split_first() {
        Some((0, data)) => Ok(Zeroizing::new(data.to_vec())),
        _ => Err(ErrorCode::INVALID_DATA),
    }
}

/// The direction of an AES operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Encrypt,
    Decrypt,
}

/// AES-ECB over whole blocks.
pub fn aes_ecb(key: &[u8], dir: Direction, data: &[u8]) -> Result<Vec<u8>, ErrorCode> {
    aes_blocks(key, dir, None, data)
}

/// AES-CBC over whole blocks with `iv`.
pub fn aes_cbc(key: &[u8], dir: Direction, iv: &[u8], data: &[u8]) -> Result<Vec<u8>, ErrorCode> {
    let iv: [u8; BLOCK] = iv.try_into().map_err(|_| ErrorCode::WRONG_LENGTH)?;
    aes_blocks(key, dir, Some(iv), data)
}

fn aes_blocks(
    key: &[u8],
    dir: Direction,
    iv: Option<[u8; BLOCK]>,
    data: &[u8],
) -> Result<Vec<u8>, ErrorCode> {
    fn run<C: KeyInit + BlockCipherEncrypt + BlockCipherDecrypt<BlockSize = U16>>(
        key: &[u8],
        dir: Direction,
        mut chain: Option<[u8; BLOCK]>,
        data: &[u8],
    ) -> Result<Vec<u8>, ErrorCode> {
        let cipher = C::new_from_slice(key).map_err(|_| ErrorCode::INVALID_DATA)?;
        let mut out = Vec::with_capacity(data.len());
        for chunk in data.chunks_exact(BLOCK) {
            let mut block = Array::<u8, U16>::default();
            block.copy_from_slice(chunk);
            match dir {
                Direction::Encrypt => {
                    if let Some(c) = chain {
                        block.iter_mut().zip(c).for_each(|(b, c)| *b ^= c);
                    }
                    cipher.encrypt_block(&mut block);
                    if chain.is_some() {
                        chain = Some(block.into());
                    }
                }
                Direction::Decrypt => {
                    cipher.decrypt_block(&mut block);
                    if let Some(c) = chain {
                        block.iter_mut().zip(c).for_each(|(b, c)| *b ^= c);
                        let mut next = [0u8; BLOCK];
                        next.copy_from_slice(chunk);
                        chain = Some(next);
                    }
                }
            }
            out.extend_from_slice(&block);
        }
        Ok(out)
    }
    if data.is_empty() || !data.len().is_multiple_of(BLOCK) {
        return Err(ErrorCode::WRONG_LENGTH);
    }
    match key.len() {
        16 => run::<Aes128>(key, dir, iv, data),
        24 => run::<Aes192>(key, dir, iv, data),
        32 => run::<Aes256>(key, dir, iv, data),
        _ => Err(ErrorCode::INVALID_DATA),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ccm_round_trips_and_rejects_tampering() {
        for len in [16, 24, 32] {
            let key = vec![7u8; len];
            let blob = ccm_seal(&key, [1; 13], b"hello").unwrap();
            assert_eq!(blob.len(), 13 + 5 + 16);
            assert_eq!(ccm_open(&key, &blob).unwrap().as_slice(), b"hello");
            let mut bad = blob.clone();
            bad[14] ^= 1;
            assert_eq!(ccm_open(&key, &bad).unwrap_err(), ErrorCode::INVALID_DATA);
        }
    }

    /// Made by pyca/cryptography's AESCCM (16-byte tag) from the format of Yubico's command
    /// reference: key `20..2f`, nonce `60..6c`, data "wrap me" behind a NUL byte; and the
    /// same behind `01`, which UNWRAP_DATA must refuse.
    #[test]
    fn wraps_data_behind_an_encrypted_nul_byte() {
        let key: Vec<u8> = (0x20..0x30).collect();
        let nonce: [u8; 13] = core::array::from_fn(|i| 0x60 + u8::try_from(i).unwrap());
        let expected = "606162636465666768696a6b6c858a72889b6bb7d76519a32961ac987d9a06b6a8dbfa4ac9";
        let blob = wrap_data(&key, nonce, b"wrap me").unwrap();
        assert_eq!(hex::encode(&blob), expected);
        assert_eq!(blob.len(), b"wrap me".len() + WRAP_DATA_OVERHEAD);
        assert_eq!(WRAP_DATA_OVERHEAD, 30);
        assert_eq!(unwrap_data(&key, &blob).unwrap().as_slice(), b"wrap me");
        // A blob whose first plaintext byte is not NUL authenticates but is refused.
        let not_nul = hex::decode(
            "606162636465666768696a6b6c848a72889b6bb7d7fbff50bb89561ec17dac39a17bc4421b",
        )
        .unwrap();
        assert_eq!(ccm_open(&key, &not_nul).unwrap()[0], 1);
        assert_eq!(unwrap_data(&key, &not_nul), Err(ErrorCode::INVALID_DATA));
        // So is a blob without the NUL byte (the simulator's old format), and empty data.
        let old = ccm_seal(&key, nonce, b"wrap me").unwrap();
        assert_eq!(unwrap_data(&key, &old), Err(ErrorCode::INVALID_DATA));
        let empty = ccm_seal(&key, nonce, b"").unwrap();
        assert_eq!(unwrap_data(&key, &empty), Err(ErrorCode::INVALID_DATA));
        let mut bad = blob.clone();
        bad[13] ^= 1;
        assert_eq!(unwrap_data(&key, &bad), Err(ErrorCode::INVALID_DATA));
    }

    #[test]
    fn cbc_and_ecb_round_trip_and_differ() {
        let key = [3u8; 16];
        let data = [9u8; 48];
        let ecb = aes_ecb(&key, Direction::Encrypt, &data).unwrap();
        let cbc = aes_cbc(&key, Direction::Encrypt, &[0; 16], &data).unwrap();
        assert_eq!(ecb[..16], cbc[..16]);
        assert_ne!(ecb[16..32], cbc[16..32]);
        assert_eq!(aes_ecb(&key, Direction::Decrypt, &ecb).unwrap(), data);
        assert_eq!(aes_cbc(&key, Direction::Decrypt, &[0; 16], &cbc).unwrap(), data);
        assert_eq!(aes_ecb(&key, Direction::Encrypt, &data[..5]), Err(ErrorCode::WRONG_LENGTH));
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac(Algorithm::HMAC_SHA256, b"Jefe", b"what do ya want for nothing?").unwrap();
        assert_eq!(mac[..4], [0x5b, 0xdc, 0xc1, 0x46]);
        assert!(
            hmac_verify(Algorithm::HMAC_SHA256, b"Jefe", &mac, b"what do ya want for nothing?")
                .unwrap()
        );
        assert!(!hmac_verify(Algorithm::HMAC_SHA256, b"Jefe", &mac, b"x").unwrap());
    }
}
