//! The ed25519 private-key expansion a wrapped body stores (docs/PROTOCOL.md §5.4): SHA-512 of the
//! seed, its first half clamped and byte-reversed (the scalar, big-endian) and its second
//! half (the nonce prefix).
//!
//! Some device exports store the scalar reduced mod L instead of merely clamped, so the
//! reduction is here too. It is constant time: the reduced value is a secret.

use sha2::{Digest, Sha512};
use subtle::{Choice, ConditionallySelectable};
use zeroize::{Zeroize, Zeroizing};

/// The order of the ed25519 base point, 2^252 + 27742317777372353535851937790883648493, as
/// little-endian 64-bit limbs.
const L: [u64; 4] = [0x5812_631a_5cf5_d3ed, 0x14de_f9de_a2f7_9cd6, 0, 0x1000_0000_0000_0000];

/// The parts of a body derived from a seed. Dropped zeroized.
pub(crate) struct Expanded {
    /// The clamped scalar, big-endian, as yubihsm-wrap stores it.
    pub clamped_be: Zeroizing<[u8; 32]>,
    /// The same scalar reduced mod L, big-endian.
    pub reduced_be: Zeroizing<[u8; 32]>,
    /// The second half of SHA-512(seed).
    pub prefix: Zeroizing<[u8; 32]>,
}

/// Expands a 32-byte seed as RFC 8032 §5.1.5 does.
pub(crate) fn expand(seed: &[u8; 32]) -> Expanded {
    let mut digest = Sha512::digest(seed);
    let mut clamped_le = Zeroizing::new([0u8; 32]);
    let mut prefix = Zeroizing::new([0u8; 32]);
    if let Some((lo, hi)) = digest.split_at_checked(32) {
        clamped_le.copy_from_slice(lo);
        prefix.copy_from_slice(hi);
    }
    digest.as_mut_slice().zeroize();
    clamped_le[0] &= 248;
    clamped_le[31] &= 127;
    clamped_le[31] |= 64;

    let reduced_le = reduce(&clamped_le);
    Expanded { clamped_be: reversed(&clamped_le), reduced_be: reversed(&reduced_le), prefix }
}

fn reversed(le: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let mut be = Zeroizing::new(*le);
    be.reverse();
    be
}

/// `s mod L` for a little-endian `s < 2^255` (every clamped scalar), in constant time.
///
/// `s < 2^255 < 8L`, so subtracting 4L, 2L and L where they fit (binary long division)
/// leaves `s < L`.
pub(crate) fn reduce(s: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let mut limbs = Zeroizing::new([0u64; 4]);
    for (limb, chunk) in limbs.iter_mut().zip(s.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *limb = u64::from_le_bytes(b);
        b.zeroize();
    }
    for shift in [2u32, 1, 0] {
        let m = shl(L, shift);
        let mut diff = Zeroizing::new([0u64; 4]);
        let mut borrow = 0u64;
        for i in 0..4 {
            let (d1, b1) = limbs[i].overflowing_sub(m[i]);
            let (d2, b2) = d1.overflowing_sub(borrow);
            diff[i] = d2;
            borrow = u64::from(b1 | b2);
        }
        // No borrow: s >= m, keep the difference.
        let keep_diff = Choice::from(u8::from(borrow == 0));
        for i in 0..4 {
            limbs[i] = u64::conditional_select(&limbs[i], &diff[i], keep_diff);
        }
    }
    let mut out = Zeroizing::new([0u8; 32]);
    for (chunk, limb) in out.chunks_exact_mut(8).zip(limbs.iter()) {
        chunk.copy_from_slice(&limb.to_le_bytes());
    }
    out
}

/// `l << shift` for shift < 64, on 256 bits (4L still fits).
const fn shl(l: [u64; 4], shift: u32) -> [u64; 4] {
    if shift == 0 {
        return l;
    }
    [
        l[0] << shift,
        (l[1] << shift) | (l[0] >> (64 - shift)),
        (l[2] << shift) | (l[1] >> (64 - shift)),
        (l[3] << shift) | (l[2] >> (64 - shift)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn to_limbs(b: &[u8; 32]) -> [u64; 4] {
        let mut l = [0u64; 4];
        for (limb, c) in l.iter_mut().zip(b.chunks_exact(8)) {
            *limb = u64::from_le_bytes(c.try_into().unwrap());
        }
        l
    }

    /// a < b on little-endian limbs.
    fn less(a: &[u64; 4], b: &[u64; 4]) -> bool {
        for i in (0..4).rev() {
            if a[i] != b[i] {
                return a[i] < b[i];
            }
        }
        false
    }

    fn add(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
        let mut out = [0u64; 4];
        let mut carry = 0u128;
        for i in 0..4 {
            let s = u128::from(a[i]) + u128::from(b[i]) + carry;
            out[i] = u64::try_from(s & u128::from(u64::MAX)).unwrap();
            carry = s >> 64;
        }
        assert_eq!(carry, 0);
        out
    }

    #[test]
    fn expands_the_seed_of_the_ed25519_vector() {
        // Seed from vectors/wrapped/ed25519.json (PKCS#8 PEM, last 32 bytes); its body_hex
        // starts with the clamped scalar and the prefix.
        let seed: [u8; 32] =
            hex::decode("cfebc1e4865512fe8ec0102f12571ed63b8c6478a205c23e051926ba2c12c0fe")
                .unwrap()
                .try_into()
                .unwrap();
        let e = expand(&seed);
        assert_eq!(
            hex::encode(*e.clamped_be),
            "6ae85fc5ba9b13599588fc798b0e08dfdef7b6b92c29d9007f2b59326e09c6f8"
        );
        assert_eq!(
            hex::encode(*e.prefix),
            "f194749b0423005a47908c8ff60354d4cd213fa59ade380b160da85298e68797"
        );
        // Computed independently (Python: int.from_bytes(clamped, 'little') % L).
        assert_eq!(
            hex::encode(*e.reduced_be),
            "0ae85fc5ba9b13599588fc798b0e08df61bddb815a5c2bfa6ebd06944046cf6a"
        );
    }

    proptest! {
        #[test]
        fn reduce_gives_the_residue_mod_l(mut s in any::<[u8; 32]>()) {
            s[31] &= 0x7f;
            let r = to_limbs(&reduce(&s));
            prop_assert!(less(&r, &L));
            // s == r + k·L for some k in 0..8
            let target = to_limbs(&s);
            let mut acc = r;
            let mut found = acc == target;
            for _ in 0..8 {
                if found { break; }
                acc = add(&acc, &L);
                found = acc == target;
            }
            prop_assert!(found);
        }
    }
}
