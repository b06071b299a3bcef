//! The curves of the YubiHSM 2's EC algorithms: OIDs (RFC 5480, RFC 5639, SEC 2), the
//! curve type of each algorithm that has arithmetic here, and d·G.
//!
//! Adding a curve: a row in [`CURVES`] and, when a crate gives its arithmetic, a row in
//! [`for_curve!`](crate::for_curve). Everything else (public keys, the simulator's
//! signatures and ECDH) follows.

use der::asn1::ObjectIdentifier;
use elliptic_curve::point::AffineCoordinates;
use yhsm_proto::Algorithm;

use crate::KeyError;

/// Every EC algorithm of the device and the OID of its curve.
pub const CURVES: &[(Algorithm, ObjectIdentifier)] = &[
    (Algorithm::ECP224, ObjectIdentifier::new_unwrap("1.3.132.0.33")),
    (Algorithm::ECP256, ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7")),
    (Algorithm::ECP384, ObjectIdentifier::new_unwrap("1.3.132.0.34")),
    (Algorithm::ECP521, ObjectIdentifier::new_unwrap("1.3.132.0.35")),
    (Algorithm::ECK256, ObjectIdentifier::new_unwrap("1.3.132.0.10")),
    (Algorithm::ECBP256, ObjectIdentifier::new_unwrap("1.3.36.3.3.2.8.1.1.7")),
    (Algorithm::ECBP384, ObjectIdentifier::new_unwrap("1.3.36.3.3.2.8.1.1.11")),
    (Algorithm::ECBP512, ObjectIdentifier::new_unwrap("1.3.36.3.3.2.8.1.1.13")),
];

/// The OID of `algorithm`'s curve (`None`: not an EC algorithm).
pub fn oid(algorithm: Algorithm) -> Option<ObjectIdentifier> {
    CURVES.iter().find(|(a, _)| *a == algorithm).map(|(_, oid)| *oid)
}

/// The EC algorithm whose curve is `oid`.
pub fn algorithm(oid: &ObjectIdentifier) -> Option<Algorithm> {
    CURVES.iter().find(|(_, o)| o == oid).map(|(a, _)| *a)
}

/// Evaluates `$body` with `$curve` naming the RustCrypto curve type of the EC algorithm
/// `$algorithm`, or `$other` for an algorithm without arithmetic here (anything not EC).
/// The one list of the curves that can be computed with.
///
/// ```
/// use yhsm_keys::for_curve;
/// use yhsm_proto::Algorithm;
///
/// fn curve_name(alg: Algorithm) -> Option<&'static str> {
///     for_curve!(alg, |C| Some(std::any::type_name::<C>()), else None)
/// }
/// assert!(curve_name(Algorithm::ECP384).is_some_and(|n| n.ends_with("NistP384")));
/// assert!(curve_name(Algorithm::ECBP512).is_some_and(|n| n.ends_with("BrainpoolP512r1")));
/// assert_eq!(curve_name(Algorithm::ED25519), None);
/// ```
#[macro_export]
macro_rules! for_curve {
    ($algorithm:expr, |$curve:ident| $body:expr, else $other:expr) => {
        $crate::__curve_match!($algorithm, $curve, $body, $other,
            ECP224 => p224::NistP224,
            ECP256 => p256::NistP256,
            ECP384 => p384::NistP384,
            ECP521 => p521::NistP521,
            ECK256 => k256::Secp256k1,
            ECBP256 => bp256::BrainpoolP256r1,
            ECBP384 => bp384::BrainpoolP384r1,
            ECBP512 => bp512::BrainpoolP512r1,
        )
    };
}

/// The `match` of [`for_curve!`], one arm per `ALGORITHM => crate::Curve`.
#[doc(hidden)]
#[macro_export]
macro_rules! __curve_match {
    ($algorithm:expr, $curve:ident, $body:expr, $other:expr,
     $($alg:ident => $krate:ident :: $ty:ident,)*) => {
        match $algorithm {
            $(
                $crate::__private::Algorithm::$alg => {
                    #[allow(dead_code, reason = "a body need not name the curve")]
                    type $curve = $crate::__private::curves::$krate::$ty;
                    $body
                }
            )*
            _ => $other,
        }
    };
}

/// Whether public keys (and, in the simulator, signatures and ECDH) can be computed on
/// `algorithm`'s curve.
pub fn has_arithmetic(algorithm: Algorithm) -> bool {
    for_curve!(algorithm, |C| true, else false)
}

/// An affine point `(X, Y)`, each the curve's field size.
pub type Point = (Vec<u8>, Vec<u8>);

/// d·G for the private scalar `d` (big-endian, the field size); `Ok(None)` for a curve
/// without arithmetic here.
pub fn ec_public(algorithm: Algorithm, d: &[u8]) -> Result<Option<Point>, KeyError> {
    fn point<C: elliptic_curve::CurveArithmetic>(d: &[u8]) -> Result<Option<Point>, KeyError> {
        if d.len() != C::FieldBytesSize::USIZE {
            return Err(KeyError::EcLength);
        }
        let secret =
            elliptic_curve::SecretKey::<C>::from_slice(d).map_err(|_| KeyError::EcScalar)?;
        let public = secret.public_key();
        let affine = public.as_affine();
        let (x, y) = (AffineCoordinates::x(affine), AffineCoordinates::y(affine));
        Ok(Some((x.as_slice().to_vec(), y.as_slice().to_vec())))
    }
    use elliptic_curve::array::typenum::Unsigned as _;
    for_curve!(algorithm, |C| point::<C>(d), else Ok(None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ec_algorithm_has_one_curve_and_the_table_agrees_with_the_macro() {
        let ec: Vec<Algorithm> = Algorithm::ALL
            .iter()
            .map(|(a, _)| *a)
            .filter(|a| a.ec_field_size().is_some())
            .collect();
        assert_eq!(ec.len(), CURVES.len());
        for alg in ec {
            let oid = oid(alg).unwrap_or_else(|| panic!("{alg} has no OID"));
            assert_eq!(algorithm(&oid), Some(alg));
            if has_arithmetic(alg) {
                // d = 1: the public key is the generator, of the field size.
                let mut d = vec![0u8; alg.ec_field_size().unwrap()];
                *d.last_mut().unwrap() = 1;
                let (x, y) = ec_public(alg, &d).unwrap().unwrap();
                assert_eq!((x.len(), y.len()), (d.len(), d.len()), "{alg}");
                assert_eq!(ec_public(alg, &vec![0; d.len()]), Err(KeyError::EcScalar), "{alg}");
                assert_eq!(ec_public(alg, &d[1..]), Err(KeyError::EcLength), "{alg}");
            } else {
                assert_eq!(ec_public(alg, &[1; 64]), Ok(None), "{alg}");
            }
        }
        assert!(!has_arithmetic(Algorithm::ED25519));
    }

    #[test]
    fn the_p256_generator() {
        let mut d = [0u8; 32];
        d[31] = 1;
        let (x, _) = ec_public(Algorithm::ECP256, &d).unwrap().unwrap();
        // SEC 2 §2.4.2, G of secp256r1.
        assert_eq!(x[..4], [0x6b, 0x17, 0xd1, 0xf2]);
    }
}
