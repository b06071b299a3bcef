//! EC keys through the RustCrypto curve crates (elliptic-curve 0.14 generation): ECDSA
//! over a digest computed by the host, ECDH (public points: `yhsm_keys::ec_public`).
//!
//! SIGN_ECDSA receives the digest, not the message. Since firmware 2.1 the device
//! truncates a digest longer than the curve order itself (Yubico's `test_ecdsa_sign` sends
//! SHA-512 digests for P-256); `ecdsa::hazmat::sign_prehashed` does the same bits2int
//! conversion (leftmost bits, then reduce).

use chacha20::ChaCha20Rng;
use ecdsa::EcdsaCurve;
use elliptic_curve::point::AffineCoordinates;
use elliptic_curve::sec1::{FromSec1Point, ModulusSize, ToSec1Point};
use elliptic_curve::{
    AffinePoint, CurveArithmetic, FieldBytesSize, Generate, NonZeroScalar, ProjectivePoint,
    PublicKey, SecretKey,
};
use yhsm_proto::frame::ErrorCode;
use zeroize::Zeroizing;

/// The curves the simulator computes with this module.
pub trait Curve: CurveArithmetic + EcdsaCurve
where
    FieldBytesSize<Self>: ModulusSize,
    AffinePoint<Self>: FromSec1Point<Self> + ToSec1Point<Self>,
{
}

impl<C> Curve for C
where
    C: CurveArithmetic + EcdsaCurve,
    FieldBytesSize<C>: ModulusSize,
    AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
{
}

fn secret<C>(d: &[u8]) -> Result<SecretKey<C>, ErrorCode>
where
    C: Curve,
    FieldBytesSize<C>: ModulusSize,
    AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
{
    if d.len() != C::FieldBytesSize::USIZE {
        return Err(ErrorCode::WRONG_LENGTH);
    }
    SecretKey::<C>::from_slice(d).map_err(|_| ErrorCode::INVALID_DATA)
}

use elliptic_curve::array::typenum::Unsigned;

/// A fresh private scalar.
pub fn generate<C>(rng: &mut ChaCha20Rng) -> Result<Zeroizing<Vec<u8>>, ErrorCode>
where
    C: Curve,
    FieldBytesSize<C>: ModulusSize,
    AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
{
    Ok(Zeroizing::new(SecretKey::<C>::generate_from_rng(rng).to_bytes().to_vec()))
}

/// An ECDSA signature of `digest`, DER encoded.
pub fn sign<C>(d: &[u8], digest: &[u8], rng: &mut ChaCha20Rng) -> Result<Vec<u8>, ErrorCode>
where
    C: Curve,
    FieldBytesSize<C>: ModulusSize,
    AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
{
    let d = secret::<C>(d)?.to_nonzero_scalar();
    for _ in 0..16 {
        let k = SecretKey::<C>::generate_from_rng(rng).to_nonzero_scalar();
        if let Ok((sig, _)) = ecdsa::hazmat::sign_prehashed::<C>(&d, &k, digest) {
            let (r, s) = sig.split_bytes();
            return Ok(super::der_signature(&r, &s));
        }
    }
    Err(ErrorCode::INVALID_DATA)
}

/// ECDH: the x coordinate of d·Q for the host's uncompressed point `04 || X || Y`. A point
/// off the curve, the identity or another encoding is invalid-data.
pub fn ecdh<C>(d: &[u8], point: &[u8]) -> Result<Vec<u8>, ErrorCode>
where
    C: Curve,
    FieldBytesSize<C>: ModulusSize,
    AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
{
    if point.first() != Some(&0x04) || point.len() != 1 + 2 * C::FieldBytesSize::USIZE {
        return Err(ErrorCode::INVALID_DATA);
    }
    let q = PublicKey::<C>::from_sec1_bytes(point).map_err(|_| ErrorCode::INVALID_DATA)?;
    let d: NonZeroScalar<C> = secret::<C>(d)?.to_nonzero_scalar();
    let shared = (ProjectivePoint::<C>::from(*q.as_affine()) * *d).into();
    let shared: AffinePoint<C> = shared;
    Ok(shared.x().to_vec())
}

#[cfg(test)]
mod tests;
