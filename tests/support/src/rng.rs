use core::convert::Infallible;

use rand_core::{TryCryptoRng, TryRng};

/// SplitMix64: a deterministic stand-in for a CSPRNG where the code under test takes one
/// (share polynomials, host challenges, ephemeral keys). Not random at all: tests only.
/// The seed is the whole state, so a proptest seed or a fixed number reproduces a run.
#[derive(Clone, Debug)]
pub struct TestRng(pub u64);

impl TryRng for TestRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let [a, b, c, d, ..] = self.try_next_u64()?.to_le_bytes();
        Ok(u32::from_le_bytes([a, b, c, d]))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let word = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

impl TryCryptoRng for TestRng {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng as _;

    #[test]
    fn a_seed_repeats_its_stream_and_seeds_differ() {
        let (mut a, mut b, mut c) = (TestRng(7), TestRng(7), TestRng(8));
        let (mut x, mut y, mut z) = ([0u8; 37], [0u8; 37], [0u8; 37]);
        a.fill_bytes(&mut x);
        b.fill_bytes(&mut y);
        c.fill_bytes(&mut z);
        assert_eq!(x, y);
        assert_ne!(x, z);
        // SplitMix64's first output for seed 0 (Vigna's reference implementation).
        assert_eq!(TestRng(0).next_u64(), 0xe220_a839_7b1d_cdaf);
    }
}
