//! The base field of brainpoolP512r1: integers modulo p (RFC 5639 §3.7), in Montgomery form
//! on `crypto-bigint` through `primefield`'s generic backend.

// `primefield` 0.14's macros call `Uint::bits`, which crypto-bigint 0.7.11 deprecates.
#![allow(deprecated, reason = "inside primefield's macro expansion")]

use elliptic_curve::bigint::U512;
use elliptic_curve::ff::PrimeField;
use elliptic_curve::ops::BatchInvert;
use elliptic_curve::subtle::{Choice, ConstantTimeEq, CtOption};

/// p, RFC 5639 §3.7.
pub(super) const MODULUS_HEX: &str = "aadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca703308717d4d9b009bc66842aecda12ae6a380e62881ff2f2d82c68528aa6056583a48f3";

// The multiplicative generator only has to be a quadratic non-residue for the square root
// (p ≡ 3 mod 4, so Tonelli–Shanks reduces to one exponentiation); 2 is the smallest one,
// checked by `multiplicative_generator_constant` below.
primefield::monty_field_params! {
    name: FieldParams,
    modulus: MODULUS_HEX,
    uint: U512,
    byte_order: primefield::ByteOrder::BigEndian,
    multiplicative_generator: 2,
    doc: "Montgomery parameters for brainpoolP512r1's field modulus"
}

primefield::monty_field_element! {
    name: FieldElement,
    params: FieldParams,
    uint: U512,
    doc: "An element of brainpoolP512r1's base field"
}

primefield::monty_field_arithmetic! {
    name: FieldElement,
    params: FieldParams,
    uint: U512
}

impl BatchInvert for FieldElement {}

#[cfg(test)]
mod tests {
    use super::{FieldElement, U512};

    primefield::test_primefield!(FieldElement, U512);
}
