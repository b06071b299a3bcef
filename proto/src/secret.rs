//! Containers for key material: zeroized on drop, redacted by `Debug`, compared in
//! constant time, readable only through `expose_secret`.

use alloc::vec::Vec;
use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A fixed-size secret, e.g. an AES key.
#[derive(Clone)]
pub struct SecretArray<const N: usize>([u8; N]);

impl<const N: usize> Drop for SecretArray<N> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<const N: usize> ZeroizeOnDrop for SecretArray<N> {}

impl<const N: usize> SecretArray<N> {
    /// Takes ownership of `bytes`. The caller should zeroize any copy it keeps.
    pub const fn new(bytes: [u8; N]) -> Self {
        Self(bytes)
    }

    /// A secret copied from `bytes`, or `None` when the length is not `N`.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let mut out = [0u8; N];
        out.copy_from_slice(bytes.get(..N).filter(|_| bytes.len() == N)?);
        Some(Self(out))
    }

    /// The secret bytes.
    pub const fn expose_secret(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> fmt::Debug for SecretArray<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretArray<{N}>([redacted])")
    }
}

impl<const N: usize> PartialEq for SecretArray<N> {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl<const N: usize> Eq for SecretArray<N> {}

/// A variable-length secret, e.g. a wrap key of 16, 24 or 32 bytes, or a private key body.
#[derive(Clone, Default)]
pub struct SecretBytes(Vec<u8>);

/// `Vec::zeroize` also wipes the spare capacity.
impl Drop for SecretBytes {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for SecretBytes {}

impl SecretBytes {
    /// Takes ownership of `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// A copy of `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    /// The secret bytes.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// The number of bytes (not secret).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes, redacted)", self.0.len())
    }
}

/// Constant-time in the contents; the length is not secret.
impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for SecretBytes {}

/// Constant-time equality of two byte strings of public length (MACs, tags, cryptograms).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn debug_never_shows_the_bytes() {
        let a = SecretArray::new([0xab; 16]);
        let b = SecretBytes::new(alloc::vec![0xcd; 32]);
        let text = format!("{a:?} {b:?} {a:#?} {b:#?}");
        assert!(!text.contains("ab") && !text.contains("AB") && !text.contains("171"));
        assert!(!text.contains("cd") && !text.contains("CD") && !text.contains("205"));
    }

    #[test]
    fn from_slice_checks_the_length() {
        assert!(SecretArray::<16>::from_slice(&[0; 15]).is_none());
        assert!(SecretArray::<16>::from_slice(&[0; 17]).is_none());
        assert_eq!(SecretArray::<16>::from_slice(&[7; 16]).unwrap().expose_secret(), &[7; 16]);
    }

    #[test]
    fn equality_compares_contents() {
        assert_eq!(SecretBytes::from_slice(b"abc"), SecretBytes::from_slice(b"abc"));
        assert_ne!(SecretBytes::from_slice(b"abc"), SecretBytes::from_slice(b"abd"));
        assert_ne!(SecretBytes::from_slice(b"abc"), SecretBytes::from_slice(b"ab"));
        assert!(ct_eq(b"12345678", b"12345678"));
        assert!(!ct_eq(b"12345678", b"12345679"));
    }
}
