//! GF(2^8) arithmetic for Shamir's secret sharing (docs/PROTOCOL.md §6), parameterised by the
//! reduction polynomial: yubihsm-setup uses x^8+x^4+x^3+x^2+1 (0x11D), yubihsm-manager the
//! AES field x^8+x^4+x^3+x+1 (0x11B). The two fields disagree on almost every product, so
//! shares of one tool recovered in the other's field give a wrong secret.
//!
//! Share bytes are secret, so multiplication is a fixed eight-round loop without
//! data-dependent branches or table lookups. The x coordinates (share indexes) are public;
//! the Lagrange weights derived from them only ever meet secret data through [`Field::mul`].

use alloc::vec::Vec;

/// A binary field GF(2^8) defined by an irreducible degree-8 polynomial.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Field {
    /// The low eight bits of the reduction polynomial (x^8 is implied).
    reduce: u8,
}

impl Field {
    /// The field of yubihsm-setup (rusty_secrets 0.0.2): polynomial 0x11D.
    pub const SETUP: Self = Self { reduce: 0x1d };
    /// The field of yubihsm-manager (vsss-rs `Gf256`) and of AES: polynomial 0x11B.
    pub const MANAGER: Self = Self { reduce: 0x1b };

    /// The reduction polynomial, e.g. `0x11d`.
    pub const fn polynomial(self) -> u16 {
        0x100 | self.reduce as u16
    }

    /// `a * b`, in constant time.
    pub fn mul(self, a: u8, b: u8) -> u8 {
        let (mut a, mut b, mut product) = (a, b, 0u8);
        for _ in 0..8 {
            // All-ones when the low bit of b is set, zero otherwise.
            product ^= a & 0u8.wrapping_sub(b & 1);
            b >>= 1;
            let carry = 0u8.wrapping_sub(a >> 7);
            a = (a << 1) ^ (self.reduce & carry);
        }
        product
    }

    /// The multiplicative inverse `a^254`, in constant time; 0 for 0.
    pub fn inv(self, a: u8) -> u8 {
        // a^254 = a^(2+4+8+...+128): square repeatedly, multiplying in each power.
        let mut square = a;
        let mut result = 1u8;
        for _ in 0..7 {
            square = self.mul(square, square);
            result = self.mul(result, square);
        }
        result
    }

    /// Evaluates `coefficients[0] + coefficients[1]·x + …` at `x` (Horner's rule).
    pub fn eval(self, coefficients: &[u8], x: u8) -> u8 {
        coefficients.iter().rev().fold(0, |acc, &c| self.mul(acc, x) ^ c)
    }

    /// The Lagrange weights `w_i` such that `p(at) = Σ w_i·p(xs[i])` for every polynomial
    /// of degree below `xs.len()`. `None` when two x coordinates are equal (or `xs` is
    /// empty), since no unique polynomial passes through such points.
    pub fn lagrange_weights(self, xs: &[u8], at: u8) -> Option<Vec<u8>> {
        if xs.is_empty() {
            return None;
        }
        let mut weights = Vec::with_capacity(xs.len());
        for (i, &xi) in xs.iter().enumerate() {
            let mut numerator = 1u8;
            let mut denominator = 1u8;
            for (j, &xj) in xs.iter().enumerate() {
                if i != j {
                    // Subtraction is XOR in characteristic 2.
                    numerator = self.mul(numerator, at ^ xj);
                    denominator = self.mul(denominator, xi ^ xj);
                }
            }
            if denominator == 0 {
                return None;
            }
            weights.push(self.mul(numerator, self.inv(denominator)));
        }
        Some(weights)
    }

    /// `Σ weights[i]·ys[i]`: the value at the weights' target point of the polynomial
    /// through `(xs[i], ys[i])`.
    pub fn combine(self, weights: &[u8], ys: impl IntoIterator<Item = u8>) -> u8 {
        weights.iter().zip(ys).fold(0, |acc, (&w, y)| acc ^ self.mul(w, y))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Schoolbook carry-less multiplication followed by long division: obviously right,
    /// and independent of the loop in `Field::mul`.
    fn slow_mul(a: u8, b: u8, poly: u16) -> u8 {
        let mut wide = 0u16;
        for bit in 0..8 {
            if b >> bit & 1 == 1 {
                wide ^= u16::from(a) << bit;
            }
        }
        for bit in (8..16).rev() {
            if wide >> bit & 1 == 1 {
                wide ^= poly << (bit - 8);
            }
        }
        u8::try_from(wide).unwrap()
    }

    #[test]
    fn mul_matches_schoolbook_in_both_fields() {
        for field in [Field::SETUP, Field::MANAGER] {
            for a in 0..=255u8 {
                for b in 0..=255u8 {
                    assert_eq!(field.mul(a, b), slow_mul(a, b, field.polynomial()), "{a} {b}");
                }
            }
        }
    }

    #[test]
    fn known_products() {
        // FIPS 197 §4.2: {57}·{83} = {c1} in the AES field.
        assert_eq!(Field::MANAGER.mul(0x57, 0x83), 0xc1);
        // x^7·x = x^8 = x^4+x^3+x^2+1 under 0x11D, x^4+x^3+x+1 under 0x11B.
        assert_eq!(Field::SETUP.mul(0x80, 0x02), 0x1d);
        assert_eq!(Field::MANAGER.mul(0x80, 0x02), 0x1b);
    }

    #[test]
    fn every_nonzero_element_has_an_inverse() {
        for field in [Field::SETUP, Field::MANAGER] {
            assert_eq!(field.inv(0), 0);
            for a in 1..=255u8 {
                assert_eq!(field.mul(a, field.inv(a)), 1, "{a:#04x} in {:#x}", field.polynomial());
            }
        }
    }

    #[test]
    fn interpolates_through_every_point() {
        let field = Field::SETUP;
        let poly = [0x42, 0x17, 0xe0, 0x09];
        let xs = [3u8, 7, 1, 9];
        let ys: Vec<u8> = xs.iter().map(|&x| field.eval(&poly, x)).collect();
        for at in 0..=255u8 {
            let w = field.lagrange_weights(&xs, at).unwrap();
            assert_eq!(field.combine(&w, ys.iter().copied()), field.eval(&poly, at), "at {at}");
        }
    }

    #[test]
    fn rejects_repeated_x_coordinates() {
        assert!(Field::MANAGER.lagrange_weights(&[1, 2, 1], 0).is_none());
        assert!(Field::MANAGER.lagrange_weights(&[], 0).is_none());
    }
}
