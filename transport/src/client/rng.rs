//! Where host challenges, ephemeral keys and session tags come from: the operating
//! system's generator unless the caller injects one (tests, a seeded simulator run).

use std::fmt;

use rand_core::CryptoRng;

use super::ClientError;

/// The client's random generator.
pub(crate) enum Randomness {
    /// `getrandom`: fallible, so a broken OS generator is an error rather than a panic.
    Os,
    Injected(Box<dyn CryptoRng + Send>),
}

impl Randomness {
    pub(crate) fn fill(&mut self, buf: &mut [u8]) -> Result<(), ClientError> {
        match self {
            Self::Os => {
                getrandom::fill(buf).map_err(|e| ClientError::Random { detail: e.to_string() })
            }
            Self::Injected(rng) => {
                rng.fill_bytes(buf);
                Ok(())
            }
        }
    }
}

impl fmt::Debug for Randomness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Os => "Randomness::Os",
            Self::Injected(_) => "Randomness::Injected",
        })
    }
}
