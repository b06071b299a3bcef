//! Containers for key material: zeroized on drop, redacted by `Debug`, compared in
//! constant time, readable only through `expose_secret`.
//!
//! [`SecretArray`] and [`SecretBytes`] are both [`Secret`]: one `Drop`, generic over what
//! it holds, so a test can put a probe inside and watch the wipe happen (a wiped buffer
//! cannot be read after it is freed without `unsafe`). Every comparison of a MAC, tag,
//! cryptogram, receipt or digest goes through [`ct_eq`], which the feature `ct-audit`
//! lets a test observe ([`audit`]).

use alloc::vec::Vec;
use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret of type `T`: wiped by `T`'s [`Zeroize`] when dropped.
#[derive(Clone, Default)]
pub struct Secret<T: Zeroize>(T);

impl<T: Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<T: Zeroize> ZeroizeOnDrop for Secret<T> {}

impl<T: Zeroize> Secret<T> {
    /// Takes ownership of `value`. (For bytes, [`SecretArray::new`] and
    /// [`SecretBytes::new`] say the same.)
    pub const fn wrap(value: T) -> Self {
        Self(value)
    }
}

/// A fixed-size secret, e.g. an AES key.
pub type SecretArray<const N: usize> = Secret<[u8; N]>;

/// A variable-length secret, e.g. a wrap key of 16, 24 or 32 bytes, or a private key body.
/// `Vec::zeroize` also wipes the spare capacity.
pub type SecretBytes = Secret<Vec<u8>>;

impl<const N: usize> Secret<[u8; N]> {
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

impl<const N: usize> fmt::Debug for Secret<[u8; N]> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretArray<{N}>([redacted])")
    }
}

impl<const N: usize> PartialEq for Secret<[u8; N]> {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl<const N: usize> Eq for Secret<[u8; N]> {}

impl Secret<Vec<u8>> {
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

impl fmt::Debug for Secret<Vec<u8>> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes, redacted)", self.0.len())
    }
}

/// Constant-time in the contents; the length is not secret.
impl PartialEq for Secret<Vec<u8>> {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl Eq for Secret<Vec<u8>> {}

/// Constant-time equality of two byte strings of public length (MACs, tags, cryptograms).
/// The one place the crates of this workspace compare such values.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    #[cfg(feature = "ct-audit")]
    audit::compared(a, b);
    a.ct_eq(b).into()
}

/// What [`ct_eq`] compared (feature `ct-audit`, for tests only; never in a shipped
/// build): a test tampers with a check value, runs the code that must reject it inside
/// [`audit::comparisons`], and finds the tampered value among the operands.
#[cfg(feature = "ct-audit")]
pub mod audit {
    use alloc::vec::Vec;
    use core::cell::RefCell;

    /// Both operands of one [`super::ct_eq`] call.
    pub type Comparison = (Vec<u8>, Vec<u8>);

    std::thread_local! {
        static SEEN: RefCell<Option<Vec<Comparison>>> = const { RefCell::new(None) };
    }

    pub(super) fn compared(a: &[u8], b: &[u8]) {
        SEEN.with(|seen| {
            if let Some(list) = seen.borrow_mut().as_mut() {
                list.push((a.to_vec(), b.to_vec()));
            }
        });
    }

    /// Runs `f` and returns its result with every comparison [`super::ct_eq`] made on
    /// this thread meanwhile.
    pub fn comparisons<T>(f: impl FnOnce() -> T) -> (T, Vec<Comparison>) {
        let outer = SEEN.with(|seen| seen.borrow_mut().replace(Vec::new()));
        let result = f();
        let list = SEEN.with(|seen| core::mem::replace(&mut *seen.borrow_mut(), outer));
        (result, list.unwrap_or_default())
    }

    /// Whether one of `list` had `value` as an operand.
    pub fn saw(list: &[Comparison], value: &[u8]) -> bool {
        list.iter().any(|(a, b)| a == value || b == value)
    }
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
