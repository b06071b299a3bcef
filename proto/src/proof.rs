//! The host's half of a content proof: what a device that holds a given secret key answers
//! to a challenge, computed from the key as a backup holds it. `yhsm restore` and `yhsm
//! verify` use it to show that an object already on a device with a backup object's id and
//! type also has its key (cli/README.md "Content proofs"), when the object cannot be
//! exported under wrap and compared whole:
//!
//! - an HMAC key signs a random message (SIGN_HMAC, docs/PROTOCOL.md §7.5): [`hmac`];
//! - an AES key encrypts or decrypts a random block (ENCRYPT_ECB, ENCRYPT_CBC, …): [`aes_block`];
//! - a wrap key wraps random data (WRAP_DATA, §7.6), which the host opens with
//!   [`crate::wrap::open_data`].
//!
//! A random challenge makes a replayed or precomputed answer useless. HMAC-SHA1 is not
//! offered (it would add a hash to the audited build for one legacy algorithm); such a key
//! is proven by export under wrap, or not at all.

use alloc::vec::Vec;

use aes::cipher::consts::U16;
use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

use crate::object::Algorithm;

/// The AES block size.
pub const BLOCK_LEN: usize = 16;

/// HMAC of `data` under `key` for hmac-sha256, hmac-sha384 and hmac-sha512; `None` for any
/// other algorithm.
pub fn hmac(algorithm: Algorithm, key: &[u8], data: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    fn run<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let mut mac = <M as KeyInit>::new_from_slice(key).ok()?;
        mac.update(data);
        Some(Zeroizing::new(mac.finalize().into_bytes().to_vec()))
    }
    match algorithm {
        Algorithm::HMAC_SHA256 => run::<Hmac<Sha256>>(key, data),
        Algorithm::HMAC_SHA384 => run::<Hmac<Sha384>>(key, data),
        Algorithm::HMAC_SHA512 => run::<Hmac<Sha512>>(key, data),
        _ => None,
    }
}

/// One AES block under a 16, 24 or 32-byte `key`, encrypted or (`encrypt` false)
/// decrypted; `None` for another key length. One block of CBC with IV `iv` is this applied
/// to `iv ^ block` (encrypting) or followed by `^ iv` (decrypting).
pub fn aes_block(key: &[u8], block: &[u8; BLOCK_LEN], encrypt: bool) -> Option<[u8; BLOCK_LEN]> {
    fn run<C: KeyInit + BlockCipherEncrypt + BlockCipherDecrypt<BlockSize = U16>>(
        key: &[u8],
        block: &[u8; BLOCK_LEN],
        encrypt: bool,
    ) -> Option<[u8; BLOCK_LEN]> {
        let cipher = C::new_from_slice(key).ok()?;
        let mut b = aes::Block::from(*block);
        if encrypt {
            cipher.encrypt_block(&mut b);
        } else {
            cipher.decrypt_block(&mut b);
        }
        Some(b.into())
    }
    match key.len() {
        16 => run::<aes::Aes128>(key, block, encrypt),
        24 => run::<aes::Aes192>(key, block, encrypt),
        32 => run::<aes::Aes256>(key, block, encrypt),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        let mac = hmac(Algorithm::HMAC_SHA256, b"Jefe", b"what do ya want for nothing?").unwrap();
        assert_eq!(
            hex::encode(&*mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(hmac(Algorithm::HMAC_SHA512, b"Jefe", b"x").unwrap().len(), 64);
        assert!(hmac(Algorithm::HMAC_SHA1, b"Jefe", b"x").is_none());
        assert!(hmac(Algorithm::AES128, b"Jefe", b"x").is_none());
    }

    #[test]
    fn aes_block_matches_fips_197() {
        let key = hex::decode("000102030405060708090a0b0c0d0e0f").unwrap();
        let plain: [u8; 16] =
            hex::decode("00112233445566778899aabbccddeeff").unwrap().try_into().unwrap();
        let cipher = aes_block(&key, &plain, true).unwrap();
        assert_eq!(hex::encode(cipher), "69c4e0d86a7b0430d8cdb78070b4c55a");
        assert_eq!(aes_block(&key, &cipher, false).unwrap(), plain);
        assert!(aes_block(&key[..15], &plain, true).is_none());
    }
}
