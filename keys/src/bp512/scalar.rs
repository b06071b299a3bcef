//! The scalar field of brainpoolP512r1: integers modulo the group order q (RFC 5639 §3.7).

// `primefield` 0.14's macros call `Uint::bits`, which crypto-bigint 0.7.11 deprecates.
#![allow(deprecated, reason = "inside primefield's macro expansion")]

use elliptic_curve::bigint::U512;
use elliptic_curve::ff::PrimeField;
use elliptic_curve::scalar::{FromUintUnchecked, IsHigh};
use elliptic_curve::subtle::{Choice, ConstantTimeEq, ConstantTimeGreater, CtOption};

use super::{BrainpoolP512r1, ORDER, ORDER_HEX};

// q ≡ 1 mod 8: the square root needs a quadratic non-residue as generator, and 7 is the
// smallest one (checked by `multiplicative_generator_constant` below).
primefield::monty_field_params! {
    name: ScalarParams,
    modulus: ORDER_HEX,
    uint: U512,
    byte_order: primefield::ByteOrder::BigEndian,
    multiplicative_generator: 7,
    doc: "Montgomery parameters for brainpoolP512r1's scalar modulus"
}

primefield::monty_field_element! {
    name: Scalar,
    params: ScalarParams,
    uint: U512,
    doc: "An element of brainpoolP512r1's scalar field"
}

primefield::monty_field_arithmetic! {
    name: Scalar,
    params: ScalarParams,
    uint: U512
}

primefield::monty_field_reduce! {
    name: Scalar,
    params: ScalarParams,
    uint: U512,
}

elliptic_curve::scalar_impls!(BrainpoolP512r1, Scalar);

primeorder::wnaf::impl_wnaf_size_for_scalar!(Scalar);

impl AsRef<Scalar> for Scalar {
    fn as_ref(&self) -> &Scalar {
        self
    }
}

impl FromUintUnchecked for Scalar {
    type Uint = U512;

    fn from_uint_unchecked(uint: Self::Uint) -> Self {
        Self::from_uint_unchecked(uint)
    }
}

impl IsHigh for Scalar {
    fn is_high(&self) -> Choice {
        const HALF: U512 = ORDER.as_ref().shr_vartime(1);
        self.to_canonical().ct_gt(&HALF)
    }
}

#[cfg(test)]
mod tests {
    use super::{Scalar, U512};

    primefield::test_primefield!(Scalar, U512);
}
