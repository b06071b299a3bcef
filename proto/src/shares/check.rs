//! Check values: short, non-secret fingerprints that let people compare a wrap key, or one
//! share of it, with what was recorded when the backup was made. Neither Yubico tool has
//! them; the format is yhsm's own (cli/README.md "Check values").
//!
//! - The **key check value** (KCV) of a [`WrapKeySecret`] is the first 3 bytes of
//!   AES-CMAC [RFC 4493] under the wrap key over [`KCV_CONTEXT`] followed by the 20-byte
//!   prefix of the secret (id, domains, capabilities, delegated capabilities, §6.1 of
//!   docs/PROTOCOL.md). It covers the attributes as well as the key: a mistyped share that
//!   changes only the attributes (the key still decrypts every file) changes it too.
//! - The **share check value** of a [`Share`] is the first 4 bytes of SHA-256 over
//!   [`SHARE_CHECK_CONTEXT`] followed by the share's canonical text (`k-i-data`, as
//!   [`Share::render`] writes it), so that it does not depend on surrounding blanks or
//!   the case of hex digits.
//!
//! Why publishing them costs nothing: AES-CMAC is a pseudorandom function of the key, so 24
//! bits of its value on a message no protocol uses tell nothing about the key beyond a
//! check of a guessed key, and a guess of a 128 to 256-bit key is not feasible; 2^232 and
//! more keys share each value. A share's data is uniformly random (below the threshold it
//! says nothing of the secret), so 32 bits of a hash of it leave the other 384 or more.

use cmac::{Cmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{Share, WrapKeySecret};

/// The length of a key check value.
pub const KCV_LEN: usize = 3;
/// The length of a share check value.
pub const SHARE_CHECK_LEN: usize = 4;
/// What the key check value's CMAC runs over, before the 20-byte prefix: 28 bytes, so the
/// message is exactly three AES blocks.
pub const KCV_CONTEXT: &[u8; 28] = b"yhsm wrap key check value v1";
/// What the share check value's hash runs over, before the share's text.
pub const SHARE_CHECK_CONTEXT: &[u8; 26] = b"yhsm share check value v1\n";

impl WrapKeySecret {
    /// The key check value (see the module documentation).
    pub fn check_value(&self) -> [u8; KCV_LEN] {
        let prefix = self.to_bytes();
        let prefix = prefix.get(..Self::PREFIX_LEN).unwrap_or_default();
        let key = self.key().expose_secret();
        let tag = match key.len() {
            16 => cmac(<Cmac<aes::Aes128> as KeyInit>::new_from_slice(key), prefix),
            24 => cmac(<Cmac<aes::Aes192> as KeyInit>::new_from_slice(key), prefix),
            _ => cmac(<Cmac<aes::Aes256> as KeyInit>::new_from_slice(key), prefix),
        };
        let mut out = [0u8; KCV_LEN];
        out.copy_from_slice(tag.get(..KCV_LEN).unwrap_or(&[0; KCV_LEN]));
        out
    }
}

/// CMAC over the context and `prefix`. A `WrapKeySecret` key always has the length the
/// cipher takes, so the error branch is not reached.
fn cmac<M: Mac, E>(mac: Result<M, E>, prefix: &[u8]) -> Zeroizing<alloc::vec::Vec<u8>> {
    let Ok(mut mac) = mac else { return Zeroizing::new(alloc::vec::Vec::new()) };
    mac.update(KCV_CONTEXT);
    mac.update(prefix);
    Zeroizing::new(mac.finalize().into_bytes().to_vec())
}

impl Share {
    /// The share check value (see the module documentation).
    pub fn check_value(&self) -> [u8; SHARE_CHECK_LEN] {
        let text = self.render();
        let mut hash = Sha256::new();
        hash.update(SHARE_CHECK_CONTEXT);
        hash.update(text.as_bytes());
        let digest = hash.finalize();
        let mut out = [0u8; SHARE_CHECK_LEN];
        out.copy_from_slice(&digest[..SHARE_CHECK_LEN]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{Capabilities, Domains};
    use crate::secret::SecretBytes;
    use alloc::vec;

    fn secret(id: u16, key: &[u8]) -> WrapKeySecret {
        WrapKeySecret::new(
            id,
            Domains(1),
            Capabilities::EXPORT_WRAPPED | Capabilities::IMPORT_WRAPPED,
            Capabilities::ALL,
            SecretBytes::from_slice(key),
        )
        .unwrap()
    }

    /// The definition, computed with the `cmac` crate by hand: the test pins the format.
    #[test]
    fn the_key_check_value_is_cmac_over_the_context_and_the_prefix() {
        let key: [u8; 32] = core::array::from_fn(|i| u8::try_from(i).unwrap());
        let s = secret(2, &key);
        let mut mac = <Cmac<aes::Aes256> as KeyInit>::new_from_slice(&key).unwrap();
        mac.update(b"yhsm wrap key check value v1");
        mac.update(&hex::decode("000200010000000000003000ffffffffffffffff").unwrap());
        let expected = mac.finalize().into_bytes();
        assert_eq!(s.check_value(), expected[..3]);
    }

    #[test]
    fn the_key_check_value_changes_with_the_key_and_with_every_attribute() {
        let base = secret(2, &[7; 32]);
        let kcv = base.check_value();
        assert_eq!(secret(2, &[7; 32]).check_value(), kcv, "deterministic");
        assert_ne!(secret(3, &[7; 32]).check_value(), kcv);
        assert_ne!(secret(2, &[8; 32]).check_value(), kcv);
        let other = WrapKeySecret::new(
            2,
            Domains(3),
            base.capabilities,
            base.delegated,
            SecretBytes::from_slice(&[7; 32]),
        )
        .unwrap();
        assert_ne!(other.check_value(), kcv);
        for len in [16, 24] {
            assert_eq!(secret(2, &vec![7; len]).check_value().len(), 3);
        }
    }

    #[test]
    fn a_share_check_value_ignores_blanks_and_hex_case_but_not_a_typo() {
        let text = "2-1-DzyKRzPN4fnv9gpd4MgmRClmJxHZxEEEZTHp4eGICmQPjjS75HZhJKJAP6EESSFPBmzYhw";
        let share = Share::parse(text).unwrap();
        let mut hash = Sha256::new();
        hash.update(b"yhsm share check value v1\n");
        hash.update(text.as_bytes());
        assert_eq!(share.check_value(), hash.finalize()[..4]);
        let padded = Share::parse(&alloc::format!("  {text}\r\n")).unwrap();
        assert_eq!(padded.check_value(), share.check_value());
        let typo = text.replace("DzyK", "DzyL");
        assert_ne!(Share::parse(&typo).unwrap().check_value(), share.check_value());
        let manager = "2-1-79136606d55d19e955a79b85c5e5b50da2cc56398f32e784378a03947728cfba4f94ebfc032671ccf3c29d3e11f4db003bac81c4";
        let upper = alloc::format!("2-1-{}", manager[4..].to_uppercase());
        assert_eq!(
            Share::parse(&upper).unwrap().check_value(),
            Share::parse(manager).unwrap().check_value()
        );
    }
}
