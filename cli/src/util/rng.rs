//! Randomness from the operating system (getrandom) for wrap nonces and share polynomials.
//!
//! `yhsm-proto` takes an infallible `CryptoRng`, while the OS can fail. [`with_os_rng`]
//! bridges the two without panicking: a failed read is remembered, and whatever was
//! computed with the RNG is thrown away and an error returned instead.

use std::convert::Infallible;

use rand_core::{TryCryptoRng, TryRng};
use zeroize::Zeroize;

use crate::error::{Error, Result};

/// The operating system's RNG, as an infallible `CryptoRng` that records failures.
#[derive(Debug, Default)]
pub struct OsRng {
    failed: Option<getrandom::Error>,
}

impl OsRng {
    fn fill(&mut self, dst: &mut [u8]) {
        if self.failed.is_some() {
            dst.zeroize();
            return;
        }
        if let Err(e) = getrandom::fill(dst) {
            // Never used: the caller's result is discarded (see `with_os_rng`).
            dst.zeroize();
            self.failed = Some(e);
        }
    }
}

impl TryRng for OsRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.fill(&mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.fill(&mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.fill(dst);
        Ok(())
    }
}

impl TryCryptoRng for OsRng {}

fn rng_error(e: getrandom::Error) -> Error {
    Error::failure("the operating system's random number generator failed").with_source(e)
}

/// Runs `f` with the OS RNG; if any read from it failed, drops what `f` returned and
/// fails.
pub fn with_os_rng<T>(f: impl FnOnce(&mut OsRng) -> T) -> Result<T> {
    let mut rng = OsRng::default();
    let out = f(&mut rng);
    match rng.failed {
        None => Ok(out),
        Some(e) => {
            drop(out);
            Err(rng_error(e))
        }
    }
}

/// `N` random bytes, e.g. a wrap nonce.
pub fn random_array<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(rng_error)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng;

    #[test]
    fn gives_different_bytes_each_time() {
        let a: [u8; 16] = random_array().unwrap();
        let b: [u8; 16] = random_array().unwrap();
        assert_ne!(a, b);
        let (x, y) = with_os_rng(|r| (r.next_u64(), r.next_u64())).unwrap();
        assert_ne!(x, y);
    }
}
