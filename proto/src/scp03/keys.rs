//! SCP03 keys (docs/PROTOCOL.md §4.1, §4.2): static keys from a password, the CMAC-based KDF,
//! session keys and the card and host cryptograms.

use core::fmt;

use aes::Aes128;
use cmac::{Cmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroize;

use crate::secret::SecretArray;

/// Length of an AES-128 key: static and session keys.
pub const KEY_LEN: usize = 16;
/// Length of the host and card challenges.
pub const CHALLENGE_LEN: usize = 8;
/// Length of the card and host cryptograms.
pub const CRYPTOGRAM_LEN: usize = 8;
/// The PBKDF2 salt Yubico's tools use for every password.
pub const PBKDF2_SALT: &[u8] = b"Yubico";
/// The PBKDF2 iteration count Yubico's tools use.
pub const PBKDF2_ITERATIONS: u32 = 10_000;

// Derivation constants of the KDF (the "t" byte).
const DERIVE_S_ENC: u8 = 0x04;
const DERIVE_S_MAC: u8 = 0x06;
const DERIVE_S_RMAC: u8 = 0x07;
const DERIVE_CARD_CRYPTOGRAM: u8 = 0x00;
const DERIVE_HOST_CRYPTOGRAM: u8 = 0x01;

/// The static keys of a symmetric authentication key: K-ENC and K-MAC.
/// Zeroized on drop through its `SecretArray` fields.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticKeys {
    /// K-ENC.
    pub enc: SecretArray<KEY_LEN>,
    /// K-MAC.
    pub mac: SecretArray<KEY_LEN>,
}

impl StaticKeys {
    /// The keys from their raw bytes.
    pub fn new(enc: SecretArray<KEY_LEN>, mac: SecretArray<KEY_LEN>) -> Self {
        Self { enc, mac }
    }

    /// The keys Yubico's tools derive from a password: PBKDF2-HMAC-SHA256 with salt
    /// `Yubico` and 10000 iterations, 32 bytes split into K-ENC then K-MAC.
    pub fn from_password(password: &[u8]) -> Self {
        let mut both = [0u8; 2 * KEY_LEN];
        pbkdf2::pbkdf2_hmac::<Sha256>(password, PBKDF2_SALT, PBKDF2_ITERATIONS, &mut both);
        let mut enc = [0u8; KEY_LEN];
        let mut mac = [0u8; KEY_LEN];
        let (e, m) = both.split_at(KEY_LEN);
        enc.copy_from_slice(e);
        mac.copy_from_slice(m);
        both.zeroize();
        Self { enc: SecretArray::new(enc), mac: SecretArray::new(mac) }
    }

    /// The session keys for the context `host_challenge || card_challenge`.
    pub fn derive_session_keys(
        &self,
        host_challenge: &[u8; CHALLENGE_LEN],
        card_challenge: &[u8; CHALLENGE_LEN],
    ) -> SessionKeys {
        let context = context(host_challenge, card_challenge);
        SessionKeys {
            enc: SecretArray::new(kdf(self.enc.expose_secret(), DERIVE_S_ENC, &context)),
            mac: SecretArray::new(kdf(self.mac.expose_secret(), DERIVE_S_MAC, &context)),
            rmac: SecretArray::new(kdf(self.mac.expose_secret(), DERIVE_S_RMAC, &context)),
        }
    }
}

impl fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticKeys([redacted])")
    }
}

/// The keys of one session: S-ENC, S-MAC and S-RMAC.
/// Zeroized on drop through its `SecretArray` fields.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKeys {
    /// S-ENC: encrypts messages and their counters (the ICV).
    pub enc: SecretArray<KEY_LEN>,
    /// S-MAC: MACs commands.
    pub mac: SecretArray<KEY_LEN>,
    /// S-RMAC: MACs responses.
    pub rmac: SecretArray<KEY_LEN>,
}

impl SessionKeys {
    /// The keys from their raw bytes.
    pub fn new(
        enc: SecretArray<KEY_LEN>,
        mac: SecretArray<KEY_LEN>,
        rmac: SecretArray<KEY_LEN>,
    ) -> Self {
        Self { enc, mac, rmac }
    }
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKeys([redacted])")
    }
}

/// The card cryptogram the device sends for these session keys and challenges.
pub fn card_cryptogram(
    keys: &SessionKeys,
    host_challenge: &[u8; CHALLENGE_LEN],
    card_challenge: &[u8; CHALLENGE_LEN],
) -> [u8; CRYPTOGRAM_LEN] {
    cryptogram(keys, DERIVE_CARD_CRYPTOGRAM, host_challenge, card_challenge)
}

/// The host cryptogram the client sends for these session keys and challenges.
pub fn host_cryptogram(
    keys: &SessionKeys,
    host_challenge: &[u8; CHALLENGE_LEN],
    card_challenge: &[u8; CHALLENGE_LEN],
) -> [u8; CRYPTOGRAM_LEN] {
    cryptogram(keys, DERIVE_HOST_CRYPTOGRAM, host_challenge, card_challenge)
}

fn cryptogram(
    keys: &SessionKeys,
    t: u8,
    host_challenge: &[u8; CHALLENGE_LEN],
    card_challenge: &[u8; CHALLENGE_LEN],
) -> [u8; CRYPTOGRAM_LEN] {
    let context = context(host_challenge, card_challenge);
    let mut out = [0u8; CRYPTOGRAM_LEN];
    let block = kdf_block(keys.mac.expose_secret(), t, 0x0040, &context);
    out.copy_from_slice(&block[..CRYPTOGRAM_LEN]);
    out
}

fn context(host: &[u8; CHALLENGE_LEN], card: &[u8; CHALLENGE_LEN]) -> [u8; 2 * CHALLENGE_LEN] {
    let mut c = [0u8; 2 * CHALLENGE_LEN];
    c[..CHALLENGE_LEN].copy_from_slice(host);
    c[CHALLENGE_LEN..].copy_from_slice(card);
    c
}

/// KDF(key, t, 128 bits).
fn kdf(key: &[u8; KEY_LEN], t: u8, context: &[u8; 2 * CHALLENGE_LEN]) -> [u8; KEY_LEN] {
    kdf_block(key, t, 0x0080, context)
}

/// One CMAC block of the KDF: `00×11 || t || 00 || L(2) || 01 || context`. Every output
/// here (a key of 128 bits or a cryptogram of 64) fits in one block.
fn kdf_block(
    key: &[u8; KEY_LEN],
    t: u8,
    bits: u16,
    context: &[u8; 2 * CHALLENGE_LEN],
) -> [u8; KEY_LEN] {
    let mut label = [0u8; 16];
    label[11] = t;
    label[13..15].copy_from_slice(&bits.to_be_bytes());
    label[15] = 0x01;
    let mut mac = cmac_aes128(key);
    mac.update(&label);
    mac.update(context);
    mac.finalize().into_bytes().into()
}

/// AES-128-CMAC keyed with `key`.
pub(crate) fn cmac_aes128(key: &[u8; KEY_LEN]) -> Cmac<Aes128> {
    <Cmac<Aes128> as KeyInit>::new(key.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h<const N: usize>(s: &str) -> [u8; N] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    #[test]
    fn derives_the_factory_password_keys() {
        let keys = StaticKeys::from_password(b"password");
        assert_eq!(keys.enc.expose_secret(), &h::<16>("090b47dbed595654901dee1cc655e420"));
        assert_eq!(keys.mac.expose_secret(), &h::<16>("592fd483f759e29909a04c4505d2ce0a"));
        assert_ne!(StaticKeys::from_password(b"Password"), keys);
    }

    #[test]
    fn kdf_block_layout_puts_t_and_length_in_place() {
        // Same key and context; changing t or L must change the output.
        let key = [7u8; 16];
        let ctx = [9u8; 16];
        let a = kdf_block(&key, 4, 0x80, &ctx);
        assert_ne!(a, kdf_block(&key, 6, 0x80, &ctx));
        assert_ne!(a, kdf_block(&key, 4, 0x40, &ctx));
        // Against a CMAC over the spelled-out input.
        let mut input = [0u8; 32];
        input[11] = 4;
        input[14] = 0x80;
        input[15] = 1;
        input[16..].copy_from_slice(&ctx);
        let mut m = cmac_aes128(&key);
        m.update(&input);
        assert_eq!(a, <[u8; 16]>::from(m.finalize().into_bytes()));
    }

    #[test]
    fn debug_is_redacted() {
        let keys = StaticKeys::from_password(b"password");
        let s = alloc::format!("{keys:?} {:?}", keys.derive_session_keys(&[0; 8], &[1; 8]));
        assert!(!s.contains("09") && !s.contains("59"), "{s}");
    }
}
