//! brainpoolP512r1 (ecbp512), RFC 5639 §3.7, on RustCrypto's generic curve arithmetic.
//!
//! No RustCrypto crate ships this curve, but `bp256` and `bp384` show how one is defined:
//! a field and a scalar type from `primefield`'s macros, and `primeorder`'s short
//! Weierstrass formulas given the coefficients and the generator. This module does the same
//! with `primefield`'s generic `crypto-bigint` backend instead of fiat-crypto's generated
//! code (which exists only for the curves RustCrypto ships). With its row in
//! [`for_curve!`](crate::for_curve), everything done with a curve works for this one: public
//! keys here, and in the simulator (feature `ecdsa`) ECDSA through the `ecdsa` crate and
//! ECDH.
//!
//! The parameters are RFC 5639's; the tests check them against the RFC's own claims (the
//! generator lies on the curve, q·G is the identity, the field constants) and against RFC
//! 7027's key agreement example for this curve; the simulator's tests check its signatures
//! and ECDH against OpenSSL.

mod field;
mod scalar;

use elliptic_curve::bigint::{Odd, U512};
use elliptic_curve::consts::U64;
use elliptic_curve::hazmat::FieldArithmetic;
use elliptic_curve::{CurveArithmetic, PrimeCurveArithmetic};
use primeorder::{PrimeCurveParams, mul_backend, point_arithmetic};

pub use field::FieldElement;
pub use scalar::Scalar;

/// q, the order of the generator (RFC 5639 §3.7; the cofactor is 1).
const ORDER_HEX: &str = "aadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca70330870553e5c414ca92619418661197fac10471db1d381085ddaddb58796829ca90069";
const ORDER: Odd<U512> = Odd::<U512>::from_be_hex(ORDER_HEX);

/// brainpoolP512r1 (RFC 5639 §3.7), the YubiHSM 2's `ecbp512`.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq, PartialOrd, Ord)]
pub struct BrainpoolP512r1;

impl elliptic_curve::Curve for BrainpoolP512r1 {
    type FieldBytesSize = U64;
    type Uint = U512;
    const ORDER: Odd<U512> = ORDER;
}

impl elliptic_curve::PrimeCurve for BrainpoolP512r1 {}

impl elliptic_curve::point::PointCompression for BrainpoolP512r1 {
    const COMPRESS_POINTS: bool = false;
}

/// A point in affine coordinates.
pub type AffinePoint = primeorder::AffinePoint<BrainpoolP512r1>;
/// A point in projective coordinates.
pub type ProjectivePoint = primeorder::ProjectivePoint<BrainpoolP512r1>;

impl CurveArithmetic for BrainpoolP512r1 {
    type AffinePoint = AffinePoint;
    type ProjectivePoint = ProjectivePoint;
    type Scalar = Scalar;
}

impl FieldArithmetic for BrainpoolP512r1 {
    type FieldElement = FieldElement;
}

impl PrimeCurveArithmetic for BrainpoolP512r1 {
    type CurveGroup = ProjectivePoint;
}

impl PrimeCurveParams for BrainpoolP512r1 {
    type PointArithmetic = point_arithmetic::EquationAIsGeneric;
    type Backend = mul_backend::VariableOnly;

    const EQUATION_A: FieldElement = FieldElement::from_hex_vartime(
        "7830a3318b603b89e2327145ac234cc594cbdd8d3df91610a83441caea9863bc2ded5d5aa8253aa10a2ef1c98b9ac8b57f1117a72bf2c7b9e7c1ac4d77fc94ca",
    );
    const EQUATION_B: FieldElement = FieldElement::from_hex_vartime(
        "3df91610a83441caea9863bc2ded5d5aa8253aa10a2ef1c98b9ac8b57f1117a72bf2c7b9e7c1ac4d77fc94cadc083e67984050b75ebae5dd2809bd638016f723",
    );
    const GENERATOR: (FieldElement, FieldElement) = (
        FieldElement::from_hex_vartime(
            "81aee4bdd82ed9645a21322e9c4c6a9385ed9f70b5d916c1b43b62eef4d0098eff3b1f78e2d0d48d50d1687b93b97d5f7c6d5047406a5e688b352209bcb9f822",
        ),
        FieldElement::from_hex_vartime(
            "7dde385d566332ecc0eabfa9cf7822fdf209f70024a57b1aa000c55b881f8111b2dcde494a5f485e5bca4bd88a2763aed1ca2b2fa8f0540678cd1e0f3ad80892",
        ),
    );
}

#[cfg(feature = "ecdsa")]
impl ecdsa::EcdsaCurve for BrainpoolP512r1 {
    // Brainpool signatures are not normalized (as `bp256` and `bp384` define theirs).
    const NORMALIZE_S: bool = false;
}

#[cfg(test)]
mod tests;
