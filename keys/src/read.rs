//! Private keys from DER: PKCS#8 (`PRIVATE KEY`: RSA, EC, ed25519), PKCS#1
//! (`RSA PRIVATE KEY`) and SEC1 (`EC PRIVATE KEY`), and their bodies (docs/PROTOCOL.md §5.4).
//!
//! DER is read with the `der` and `sec1` crates, which every build already holds through
//! p256; the PKCS#8 and PKCS#1 structures are a handful of fields each and are walked
//! here rather than through the `pkcs8` and `pkcs1` crates (three more crates).
//!
//! Public keys are computed from the private key and, when the key carries one too,
//! checked against it: every curve with arithmetic in [`crate::curve`], ed25519 with
//! curve25519-dalek. For a curve without (none of the device's today) the public key would
//! be taken from the key, unchecked, and a key without one refused.

use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier, OctetStringRef, UintRef};
use der::{Decode, Reader, SliceReader, Tag, TagMode, TagNumber};
use yhsm_proto::wrap::Body;
use yhsm_proto::{Algorithm, SecretArray};
use zeroize::Zeroizing;

use crate::KeyError;
use crate::curve::{self, Point};
use crate::ed25519::ed25519_public;

pub(crate) const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
pub(crate) const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub(crate) const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// The only RSA public exponent the device uses (it is not stored in the body).
pub(crate) const PUBLIC_EXPONENT: [u8; 3] = [0x01, 0x00, 0x01];

/// A private key as read, before it is matched with an algorithm. It borrows the DER it
/// came from: no copy of the key is made until [`PrivateKey::into_body`].
#[derive(Clone, Copy)]
pub enum PrivateKey<'a> {
    /// PKCS#1 `RSAPrivateKey` (two primes). The body keeps all but `e` (always 65537)
    /// and `d` (the device computes with the CRT values).
    Rsa {
        n: &'a [u8],
        e: &'a [u8],
        d: &'a [u8],
        p: &'a [u8],
        q: &'a [u8],
        dp: &'a [u8],
        dq: &'a [u8],
        qinv: &'a [u8],
    },
    /// SEC1 `ECPrivateKey`: the curve, when the key names one, and the public point when
    /// it carries one.
    Ec { curve: Option<Algorithm>, d: &'a [u8], public: Option<&'a [u8]> },
    /// RFC 8410: the 32-byte seed, and the public key of a v2 (RFC 5958) key.
    Ed25519 { seed: &'a [u8], public: Option<&'a [u8]> },
}

/// Redacted: the kind of key and its public parts' presence only.
impl core::fmt::Debug for PrivateKey<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Rsa { n, .. } => write!(f, "PrivateKey::Rsa({} modulus bytes)", n.len()),
            Self::Ec { curve, .. } => write!(f, "PrivateKey::Ec({curve:?})"),
            Self::Ed25519 { .. } => f.write_str("PrivateKey::Ed25519"),
        }
    }
}

fn malformed(what: &'static str) -> impl Fn(der::Error) -> KeyError {
    move |error| KeyError::Malformed { what, error }
}

impl<'a> PrivateKey<'a> {
    /// PKCS#8 PrivateKeyInfo / OneAsymmetricKey (RFC 5958).
    pub fn from_pkcs8(der: &'a [u8]) -> Result<Self, KeyError> {
        struct Info<'a> {
            algorithm: ObjectIdentifier,
            parameters: Option<AnyRef<'a>>,
            private_key: &'a [u8],
            public_key: Option<&'a [u8]>,
        }
        fn parse<'a>(der: &'a [u8]) -> der::Result<Info<'a>> {
            let mut r = SliceReader::new(der)?;
            let info = r.sequence(|r| -> der::Result<Info<'a>> {
                let version = u8::decode(r)?;
                if version > 1 {
                    return Err(der::Error::from(Tag::Integer.value_error()));
                }
                let (algorithm, parameters) = r.sequence(|r| -> der::Result<_> {
                    let oid = ObjectIdentifier::decode(r)?;
                    let params = if r.is_finished() { None } else { Some(AnyRef::decode(r)?) };
                    Ok((oid, params))
                })?;
                let private_key = <&OctetStringRef>::decode(r)?.as_bytes();
                // [0] attributes: nothing a key needs.
                let next = Tag::peek(r).ok();
                if next.is_some_and(|t| t.is_context_specific() && t.number() == TagNumber(0)) {
                    r.tlv_bytes()?;
                }
                let public_key = r
                    .context_specific::<BitStringRef<'_>>(TagNumber(1), TagMode::Implicit)?
                    .and_then(|b| b.as_bytes());
                Ok(Info { algorithm, parameters, private_key, public_key })
            })?;
            r.finish()?;
            Ok(info)
        }
        let info = parse(der).map_err(malformed("PKCS#8 private key"))?;
        match info.algorithm {
            OID_RSA => {
                // The parameters are NULL, or absent.
                if info.parameters.is_some_and(|p| !p.is_null()) {
                    return Err(KeyError::RsaParameters);
                }
                Self::from_pkcs1(info.private_key)
            }
            OID_EC => {
                let curve = info
                    .parameters
                    .ok_or(KeyError::EcCurveMissing)?
                    .decode_as::<ObjectIdentifier>()
                    .map_err(malformed("PKCS#8 EC curve"))?;
                Self::sec1(info.private_key, Some(curve), info.public_key)
            }
            OID_ED25519 => {
                // RFC 8410 §3: the parameters are absent.
                if info.parameters.is_some() {
                    return Err(KeyError::Ed25519Parameters);
                }
                let seed = <&OctetStringRef>::from_der(info.private_key)
                    .map_err(malformed("ed25519 private key"))?
                    .as_bytes();
                Ok(Self::Ed25519 { seed, public: info.public_key })
            }
            other => Err(KeyError::UnknownAlgorithm(other)),
        }
    }

    /// PKCS#1 RSAPrivateKey (RFC 8017 A.1.2), two primes only.
    pub fn from_pkcs1(der: &'a [u8]) -> Result<Self, KeyError> {
        fn parse<'a>(der: &'a [u8]) -> der::Result<PrivateKey<'a>> {
            let mut r = SliceReader::new(der)?;
            let key = r.sequence(|r| -> der::Result<PrivateKey<'a>> {
                if u8::decode(r)? != 0 {
                    // Version 1 is multi-prime, which the YubiHSM cannot hold.
                    return Err(der::Error::from(Tag::Integer.value_error()));
                }
                let mut int = || UintRef::decode(&mut *r).map(|u| u.as_bytes());
                let (n, e, d) = (int()?, int()?, int()?);
                let (p, q, dp, dq, qinv) = (int()?, int()?, int()?, int()?, int()?);
                Ok(PrivateKey::Rsa { n, e, d, p, q, dp, dq, qinv })
            })?;
            r.finish()?;
            Ok(key)
        }
        parse(der).map_err(malformed("RSA private key (PKCS#1, two primes)"))
    }

    /// SEC1 ECPrivateKey (RFC 5915).
    pub fn from_sec1(der: &'a [u8]) -> Result<Self, KeyError> {
        Self::sec1(der, None, None)
    }

    /// DER of any of the three: PKCS#8 (what `openssl pkey -outform DER` writes), then the
    /// legacy forms.
    pub fn from_der(der: &'a [u8]) -> Result<Self, KeyError> {
        Self::from_pkcs8(der)
            .or_else(|_| Self::from_pkcs1(der))
            .or_else(|_| Self::from_sec1(der))
            .map_err(|_| KeyError::NotAPrivateKey)
    }

    /// SEC1, with `curve` and `public` from an enclosing PKCS#8 key.
    fn sec1(
        der: &'a [u8],
        curve: Option<ObjectIdentifier>,
        public: Option<&'a [u8]>,
    ) -> Result<Self, KeyError> {
        let key = sec1::EcPrivateKey::from_der(der).map_err(malformed("EC private key (SEC1)"))?;
        let inner = key.parameters.and_then(|p| p.named_curve());
        if let (Some(a), Some(b)) = (curve, inner)
            && a != b
        {
            return Err(KeyError::TwoCurves);
        }
        let curve = match curve.or(inner) {
            None => None,
            Some(oid) => Some(curve::algorithm(&oid).ok_or(KeyError::UnknownCurve(oid))?),
        };
        Ok(Self::Ec { curve, d: key.private_key, public: public.or(key.public_key) })
    }

    /// The body of this key as an `algorithm` key, in the forms yubihsm-wrap writes (an
    /// ed25519 key without its seed, 96 bytes). The key must be of that algorithm (curve,
    /// modulus size, RSA exponent 65537), and a public key it carries must be its own.
    pub fn into_body(self, algorithm: Algorithm) -> Result<Body, KeyError> {
        self.body(algorithm, false)
    }

    /// As [`PrivateKey::into_body`], but an ed25519 key keeps its seed (the 128-byte form
    /// firmware 2.4 exports with format 1).
    pub fn into_body_with_seed(self, algorithm: Algorithm) -> Result<Body, KeyError> {
        self.body(algorithm, true)
    }

    fn body(self, algorithm: Algorithm, keep_seed: bool) -> Result<Body, KeyError> {
        match self {
            Self::Rsa { n, e, p, q, dp, dq, qinv, .. } => {
                let leading = n.first().map_or(0, |b| b.leading_zeros() as usize);
                let bits = (n.len() * 8).saturating_sub(leading);
                let found = match bits {
                    2048 => Algorithm::RSA2048,
                    3072 => Algorithm::RSA3072,
                    4096 => Algorithm::RSA4096,
                    _ => return Err(KeyError::RsaSize { bits }),
                };
                if found != algorithm {
                    return Err(KeyError::OtherAlgorithm { found, algorithm });
                }
                if e != PUBLIC_EXPONENT {
                    return Err(KeyError::RsaExponent);
                }
                Ok(Body::rsa(algorithm, [p, q, dp, dq, qinv], n)?)
            }
            Self::Ec { curve, d, public } => {
                if let Some(found) = curve.filter(|c| *c != algorithm) {
                    return Err(KeyError::OtherAlgorithm { found, algorithm });
                }
                if algorithm.ec_field_size().is_none() {
                    return Err(KeyError::NotThisAlgorithm { found: "an EC key", algorithm });
                }
                ec_body(algorithm, d, public)
            }
            Self::Ed25519 { seed, public } => {
                if algorithm != Algorithm::ED25519 {
                    return Err(KeyError::NotThisAlgorithm { found: "an ed25519 key", algorithm });
                }
                let seed = SecretArray::<32>::from_slice(seed)
                    .ok_or(KeyError::Ed25519Length { len: seed.len() })?;
                let computed = ed25519_public(&seed);
                if public.is_some_and(|given| given != computed) {
                    return Err(KeyError::PublicKeyMismatch);
                }
                Ok(if keep_seed {
                    Body::ed25519_from_seed_with_seed(&seed, computed)
                } else {
                    Body::ed25519_from_seed(&seed, computed)
                })
            }
        }
    }
}

fn ec_body(algorithm: Algorithm, d: &[u8], public: Option<&[u8]>) -> Result<Body, KeyError> {
    let size = algorithm.ec_field_size().unwrap_or(0);
    // SEC1 fixes the length, but some encoders drop leading zeros.
    let start = d.iter().position(|&b| b != 0).unwrap_or(d.len());
    let digits = d.get(start..).unwrap_or_default();
    if digits.len() > size {
        return Err(KeyError::EcTooLong { size });
    }
    let mut padded = Zeroizing::new(vec![0u8; size]);
    if let Some(tail) = padded.get_mut(size - digits.len()..) {
        tail.copy_from_slice(digits);
    }
    let given = match public {
        None => None,
        Some(point) => Some(uncompressed_point(point, size)?),
    };
    let (x, y) = match (curve::ec_public(algorithm, &padded)?, given) {
        (Some(c), Some(g)) if c != g => return Err(KeyError::PublicKeyMismatch),
        (Some(c), _) => c,
        (None, Some(g)) => g,
        (None, None) => return Err(KeyError::NoPublicKey { algorithm }),
    };
    Ok(Body::ec(algorithm, &padded, &x, &y)?)
}

fn uncompressed_point(point: &[u8], size: usize) -> Result<Point, KeyError> {
    match point.split_first() {
        Some((0x04, xy)) if xy.len() == 2 * size => {
            let (x, y) = xy.split_at(size);
            Ok((x.to_vec(), y.to_vec()))
        }
        Some((0x02 | 0x03, _)) => Err(KeyError::CompressedPublicKey),
        _ => Err(KeyError::PublicKeyNotOnCurve),
    }
}
