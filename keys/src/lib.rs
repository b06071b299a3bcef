#![doc = include_str!("../README.md")]

pub mod bp512;
pub mod curve;
mod ed25519;
mod read;
mod write;

use core::fmt;

use der::asn1::ObjectIdentifier;
use yhsm_proto::Algorithm;
use yhsm_proto::wrap::WrapError;

pub use curve::{Point, ec_public, has_arithmetic};
pub use ed25519::ed25519_public;
pub use read::PrivateKey;
pub use write::to_pkcs8;

/// For [`for_curve!`]: the paths it expands to, whatever the caller's dependencies.
#[doc(hidden)]
pub mod __private {
    pub use yhsm_proto::Algorithm;
    pub mod curves {
        pub use crate::bp512;
        pub use {bp256, bp384, k256, p224, p256, p384, p521};
    }
}

/// Why a key could not be read or written. The messages are written for the person who
/// gave the key file (`yhsm wrap --in FILE`): they say what is wrong and, where there is
/// one, the way out; they never quote key bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The DER of `what` does not parse.
    Malformed { what: &'static str, error: der::Error },
    /// DER that is none of PKCS#8, PKCS#1 and SEC1.
    NotAPrivateKey,
    /// A PKCS#8 key of an algorithm other than RSA, EC and ed25519.
    UnknownAlgorithm(ObjectIdentifier),
    /// A PKCS#8 RSA key with parameters other than NULL.
    RsaParameters,
    /// A PKCS#8 ed25519 key with parameters.
    Ed25519Parameters,
    /// A PKCS#8 EC key without its curve.
    EcCurveMissing,
    /// The PKCS#8 wrapper and the SEC1 key inside name different curves.
    TwoCurves,
    /// A curve the YubiHSM does not have.
    UnknownCurve(ObjectIdentifier),
    /// The key is `found`, not the algorithm asked for.
    OtherAlgorithm { found: Algorithm, algorithm: Algorithm },
    /// The key is of another kind (`found`: "an EC key", "an ed25519 key").
    NotThisAlgorithm { found: &'static str, algorithm: Algorithm },
    /// An RSA modulus of a size the YubiHSM does not hold.
    RsaSize { bits: usize },
    /// An RSA public exponent other than 65537.
    RsaExponent,
    /// An EC private key longer than the curve's field.
    EcTooLong { size: usize },
    /// An EC private key of the wrong length (for [`ec_public`]).
    EcLength,
    /// An EC private key that is zero or not below the group order.
    EcScalar,
    /// The public key the key carries is not the private key's.
    PublicKeyMismatch,
    /// No public key in the key, and none can be computed on its curve.
    NoPublicKey { algorithm: Algorithm },
    /// A compressed EC public key.
    CompressedPublicKey,
    /// An EC public key that is not an uncompressed point of the curve's size.
    PublicKeyNotOnCurve,
    /// An ed25519 private key that is not 32 bytes.
    Ed25519Length { len: usize },
    /// The body refused the parts (lengths, a P-256 key's point).
    Body(WrapError),
    /// An ed25519 body without its seed: it has no PKCS#8.
    Ed25519WithoutSeed,
    /// An RSA body to write without its private exponent.
    RsaWithoutExponent,
    /// A body that is not an asymmetric key.
    NotAsymmetric,
}

impl From<WrapError> for KeyError {
    fn from(e: WrapError) -> Self {
        Self::Body(e)
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed { what, error } => write!(f, "malformed {what}: {error}"),
            Self::NotAPrivateKey => f.write_str("not a PKCS#8, PKCS#1 or SEC1 private key"),
            Self::UnknownAlgorithm(oid) => write!(
                f,
                "the PKCS#8 key has algorithm {oid}; expected RSA ({}), EC ({}) or Ed25519 ({})",
                read::OID_RSA,
                read::OID_EC,
                read::OID_ED25519
            ),
            Self::RsaParameters => f.write_str("the PKCS#8 RSA key has parameters other than NULL"),
            Self::Ed25519Parameters => f.write_str("the PKCS#8 ed25519 key has parameters"),
            Self::EcCurveMissing => f.write_str("the PKCS#8 EC key does not name its curve"),
            Self::TwoCurves => f.write_str("the EC key names two different curves"),
            Self::UnknownCurve(oid) => {
                write!(f, "the EC key is on curve {oid}, which the YubiHSM does not support")
            }
            Self::OtherAlgorithm { found, algorithm } => {
                write!(f, "the file holds an {found} key, but --algorithm is {algorithm}")
            }
            Self::NotThisAlgorithm { found, algorithm } => {
                write!(f, "the file holds {found}, but --algorithm is {algorithm}")
            }
            Self::RsaSize { bits } => write!(
                f,
                "the RSA key has a {bits}-bit modulus; the YubiHSM holds 2048, 3072 or 4096-bit keys"
            ),
            Self::RsaExponent => {
                f.write_str("the RSA public exponent is not 65537, the only one the YubiHSM uses")
            }
            Self::EcTooLong { size } => write!(f, "the EC private key is longer than {size} bytes"),
            Self::EcLength => f.write_str("the EC private key is not the curve's field size"),
            Self::EcScalar => {
                f.write_str("the EC private key is zero or not below the group order")
            }
            Self::PublicKeyMismatch => {
                f.write_str("the public key in the file does not match the private key")
            }
            Self::NoPublicKey { algorithm } => write!(
                f,
                "the file has no public key, and this tool cannot compute {algorithm} public \
                 keys; export the key with its public key (OpenSSL includes it by default)"
            ),
            Self::CompressedPublicKey => {
                f.write_str("the public key in the file is compressed; export it uncompressed")
            }
            Self::PublicKeyNotOnCurve => {
                f.write_str("the public key in the file is not a point on the key's curve")
            }
            Self::Ed25519Length { len } => {
                write!(f, "the ed25519 private key has {len} bytes, not 32")
            }
            Self::Body(e) => e.fmt(f),
            Self::Ed25519WithoutSeed => {
                f.write_str("the ed25519 key was stored without its seed: it has no PKCS#8")
            }
            Self::RsaWithoutExponent => f.write_str("the RSA private exponent is missing"),
            Self::NotAsymmetric => f.write_str("not an asymmetric key"),
        }
    }
}

impl std::error::Error for KeyError {}

#[cfg(test)]
mod tests;
