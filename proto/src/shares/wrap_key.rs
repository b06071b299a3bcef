//! The secret that wrap-key shares split (docs/PROTOCOL.md §6.1): a 20-byte prefix
//! `wrap_key_id(2) domains(2) capabilities(8) delegated_capabilities(8)`, big-endian,
//! followed by the AES key. No version byte, no checksum.

use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroizing;

use super::ShareError;
use crate::object::{Algorithm, Capabilities, Domains, ObjectId};
use crate::secret::SecretBytes;

/// A wrap key with the attributes it must be re-imported with.
#[derive(Clone, PartialEq, Eq)]
pub struct WrapKeySecret {
    pub wrap_key_id: ObjectId,
    pub domains: Domains,
    pub capabilities: Capabilities,
    pub delegated: Capabilities,
    /// Private so that its length is always 16, 24 or 32.
    key: SecretBytes,
}

impl WrapKeySecret {
    /// The length of the prefix before the key.
    pub const PREFIX_LEN: usize = 20;

    /// A secret from its parts; the key must be 16, 24 or 32 bytes.
    pub fn new(
        wrap_key_id: ObjectId,
        domains: Domains,
        capabilities: Capabilities,
        delegated: Capabilities,
        key: SecretBytes,
    ) -> Result<Self, ShareError> {
        if Algorithm::wrap_for_key_size(key.len()).is_none() {
            return Err(ShareError::BadKeyLength { len: key.len() });
        }
        Ok(Self { wrap_key_id, domains, capabilities, delegated, key })
    }

    /// The AES key (16, 24 or 32 bytes).
    pub fn key(&self) -> &SecretBytes {
        &self.key
    }

    /// The wrap-key algorithm matching the key length.
    pub fn algorithm(&self) -> Algorithm {
        match self.key.len() {
            16 => Algorithm::AES128_CCM_WRAP,
            24 => Algorithm::AES192_CCM_WRAP,
            _ => Algorithm::AES256_CCM_WRAP,
        }
    }

    /// The encoded secret: prefix then key (36, 44 or 52 bytes).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        // Exact capacity: a reallocation would leave a copy of the key behind.
        let mut out = Zeroizing::new(Vec::with_capacity(Self::PREFIX_LEN + self.key.len()));
        out.extend_from_slice(&self.wrap_key_id.to_be_bytes());
        out.extend_from_slice(&self.domains.0.to_be_bytes());
        out.extend_from_slice(&self.capabilities.0.to_be_bytes());
        out.extend_from_slice(&self.delegated.0.to_be_bytes());
        out.extend_from_slice(self.key.expose_secret());
        out
    }

    /// Decodes a secret of 36, 44 or 52 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ShareError> {
        let bad = ShareError::BadSecretLength { len: bytes.len() };
        let (id, rest) = bytes.split_first_chunk::<2>().ok_or(bad)?;
        let (domains, rest) = rest.split_first_chunk::<2>().ok_or(bad)?;
        let (capabilities, rest) = rest.split_first_chunk::<8>().ok_or(bad)?;
        let (delegated, key) = rest.split_first_chunk::<8>().ok_or(bad)?;
        Self::new(
            u16::from_be_bytes(*id),
            Domains(u16::from_be_bytes(*domains)),
            Capabilities(u64::from_be_bytes(*capabilities)),
            Capabilities(u64::from_be_bytes(*delegated)),
            SecretBytes::from_slice(key),
        )
        .map_err(|_| bad)
    }
}

/// Shows the public attributes, never the key.
impl fmt::Debug for WrapKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrapKeySecret")
            .field("wrap_key_id", &format_args!("{:#06x}", self.wrap_key_id))
            .field("domains", &self.domains)
            .field("capabilities", &self.capabilities)
            .field("delegated", &self.delegated)
            .field("algorithm", &self.algorithm())
            .field("key", &self.key)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    fn sample(key_len: usize) -> WrapKeySecret {
        WrapKeySecret::new(
            0x1234,
            Domains(0x0005),
            Capabilities::EXPORT_WRAPPED | Capabilities::IMPORT_WRAPPED,
            Capabilities(0x0105_3ff0),
            SecretBytes::new(alloc::vec![0xa5; key_len]),
        )
        .unwrap()
    }

    #[test]
    fn round_trips_every_key_size() {
        for (len, algorithm) in [
            (16, Algorithm::AES128_CCM_WRAP),
            (24, Algorithm::AES192_CCM_WRAP),
            (32, Algorithm::AES256_CCM_WRAP),
        ] {
            let secret = sample(len);
            let bytes = secret.to_bytes();
            assert_eq!(bytes.len(), 20 + len);
            assert_eq!(&bytes[..20], &hex_prefix());
            assert_eq!(WrapKeySecret::from_bytes(&bytes).unwrap(), secret);
            assert_eq!(secret.algorithm(), algorithm);
        }
    }

    fn hex_prefix() -> [u8; 20] {
        let mut p = [0u8; 20];
        hex::decode_to_slice("1234000500000000000030000000000001053ff0", &mut p).unwrap();
        p
    }

    #[test]
    fn rejects_other_lengths() {
        for len in [0, 1, 19, 20, 21, 35, 37, 43, 45, 51, 53, 100] {
            assert_eq!(
                WrapKeySecret::from_bytes(&alloc::vec![0; len]),
                Err(ShareError::BadSecretLength { len })
            );
        }
        assert_eq!(
            WrapKeySecret::new(
                1,
                Domains(1),
                Capabilities(0),
                Capabilities(0),
                SecretBytes::new(alloc::vec![0; 31])
            ),
            Err(ShareError::BadKeyLength { len: 31 })
        );
    }

    #[test]
    fn debug_shows_attributes_but_never_the_key() {
        let text = format!("{:?} {:#?}", sample(32), sample(16));
        assert!(text.contains("0x1234") && text.contains("export-wrapped"));
        assert!(text.contains("aes256-ccm-wrap") && text.contains("aes128-ccm-wrap"));
        assert!(!text.to_lowercase().contains("a5a5") && !text.contains("165"));
    }
}
