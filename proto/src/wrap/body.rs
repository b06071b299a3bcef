//! Typed bodies of wrapped objects (docs/PROTOCOL.md §5.4 "Bodies").
//!
//! Each body re-encodes to exactly the bytes it was decoded from, so a wrapped object can
//! be unwrapped, inspected and wrapped again without change. Types and algorithms this
//! crate does not know stay [`Body::Raw`]: a newer device's export is never an error.

use alloc::vec::Vec;

#[cfg(feature = "p256")]
use p256::elliptic_curve::point::AffineCoordinates;
use zeroize::Zeroizing;

use super::WrapError;
use super::ed25519;
use crate::object::{Algorithm, Capabilities, ObjectType};
use crate::secret::{SecretArray, SecretBytes, ct_eq};

/// The length of the delegated-capabilities prefix of authentication-key and wrap-key bodies.
const DELEGATED_LEN: usize = 8;

/// The body of a wrapped object, after the 59-byte header. Secret parts are zeroized on
/// drop and redacted by `Debug`; public parts (EC point, ed25519 public key, RSA modulus)
/// are plain bytes, available through [`Body::public_key`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Body {
    /// A symmetric authentication key (algorithm aes128-yubico-authentication), 40 bytes.
    AuthenticationKey {
        /// The capabilities the key may give to objects it creates.
        delegated: Capabilities,
        /// K-ENC.
        enc: SecretArray<16>,
        /// K-MAC.
        mac: SecretArray<16>,
    },
    /// A wrap key: delegated capabilities and a 16/24/32-byte AES key matching the
    /// object's algorithm.
    WrapKey {
        /// The capabilities objects imported under this key may keep.
        delegated: Capabilities,
        key: SecretBytes,
    },
    /// An EC private key with its public point; each part is the curve's field size.
    Ec { d: SecretBytes, x: Vec<u8>, y: Vec<u8> },
    /// An ed25519 key as the device stores it: the expanded private key and the public key.
    Ed25519 {
        /// The 32-byte seed, present in the 128-byte form (firmware >= 2.4, format 1).
        seed: Option<SecretArray<32>>,
        /// The private scalar, big-endian, exactly as stored (clamped, or reduced mod L).
        scalar: SecretArray<32>,
        /// The second half of SHA-512(seed).
        prefix: SecretArray<32>,
        /// The public key (compressed Edwards point).
        public: [u8; 32],
    },
    /// An RSA private key (rsa2048/3072/4096). Primes and CRT values are n/2 bytes each,
    /// big-endian and left-padded with zeros; the public exponent is not stored (65537).
    Rsa {
        p: SecretBytes,
        q: SecretBytes,
        dp: SecretBytes,
        dq: SecretBytes,
        qinv: SecretBytes,
        n: Vec<u8>,
    },
    /// An HMAC key, stored on the wire as its ipad and opad blocks.
    ///
    /// Zero bytes at the end of a key cannot be told apart from the block padding, so they
    /// are not recovered; HMAC pads the key with zeros anyway, so the recovered key computes
    /// the same MACs.
    Hmac {
        /// hmac-sha1/256/384/512: fixes the block size (64 or 128 bytes).
        algorithm: Algorithm,
        key: SecretBytes,
    },
    /// Opaque data, templates, symmetric keys and anything this crate does not know.
    Raw(SecretBytes),
}

impl Body {
    /// Decodes the body of an object of type `object_type` with algorithm `algorithm`.
    ///
    /// Checks the length each typed body must have, that an HMAC key's two blocks agree, that
    /// a 128-byte ed25519 body's scalar and prefix come from its seed and, with the feature
    /// `p256` ([`CHECKS_P256_PUBLIC_KEYS`](super::CHECKS_P256_PUBLIC_KEYS)), that a P-256
    /// private key is in [1, n-1] and matches its public point.
    pub fn decode(
        object_type: ObjectType,
        algorithm: Algorithm,
        bytes: &[u8],
    ) -> Result<Self, WrapError> {
        match object_type {
            ObjectType::AUTHENTICATION_KEY
                if algorithm == Algorithm::AES128_YUBICO_AUTHENTICATION =>
            {
                decode_authentication_key(bytes)
            }
            ObjectType::WRAP_KEY => match algorithm.wrap_key_size() {
                Some(size) => decode_wrap_key(bytes, size),
                None => Ok(Self::Raw(SecretBytes::from_slice(bytes))),
            },
            ObjectType::ASYMMETRIC_KEY => {
                if let Some(size) = algorithm.ec_field_size() {
                    decode_ec(algorithm, size, bytes)
                } else if let Some(size) = algorithm.rsa_modulus_size() {
                    decode_rsa(size, bytes)
                } else if algorithm == Algorithm::ED25519 {
                    decode_ed25519(bytes)
                } else {
                    Ok(Self::Raw(SecretBytes::from_slice(bytes)))
                }
            }
            ObjectType::HMAC_KEY => match algorithm.hmac_block_size() {
                Some(block) => decode_hmac(algorithm, block, bytes),
                None => Ok(Self::Raw(SecretBytes::from_slice(bytes))),
            },
            _ => Ok(Self::Raw(SecretBytes::from_slice(bytes))),
        }
    }

    /// The length of the encoding.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::AuthenticationKey { .. } => DELEGATED_LEN + 32,
            Self::WrapKey { key, .. } => DELEGATED_LEN + key.len(),
            Self::Ec { d, x, y } => d.len() + x.len() + y.len(),
            Self::Ed25519 { seed, .. } => {
                if seed.is_some() {
                    128
                } else {
                    96
                }
            }
            Self::Rsa { p, q, dp, dq, qinv, n } => {
                p.len() + q.len() + dp.len() + dq.len() + qinv.len() + n.len()
            }
            Self::Hmac { algorithm, key } => 2 * algorithm.hmac_block_size().unwrap_or(key.len()),
            Self::Raw(raw) => raw.len(),
        }
    }

    /// Appends the encoding to `out`. Reserve [`Body::encoded_len`] first so that no copy
    /// of the secret is left behind by a reallocation.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Self::AuthenticationKey { delegated, enc, mac } => {
                out.extend_from_slice(&delegated.0.to_be_bytes());
                out.extend_from_slice(enc.expose_secret());
                out.extend_from_slice(mac.expose_secret());
            }
            Self::WrapKey { delegated, key } => {
                out.extend_from_slice(&delegated.0.to_be_bytes());
                out.extend_from_slice(key.expose_secret());
            }
            Self::Ec { d, x, y } => {
                out.extend_from_slice(d.expose_secret());
                out.extend_from_slice(x);
                out.extend_from_slice(y);
            }
            Self::Ed25519 { seed, scalar, prefix, public } => {
                if let Some(seed) = seed {
                    out.extend_from_slice(seed.expose_secret());
                }
                out.extend_from_slice(scalar.expose_secret());
                out.extend_from_slice(prefix.expose_secret());
                out.extend_from_slice(public);
            }
            Self::Rsa { p, q, dp, dq, qinv, n } => {
                for part in [p, q, dp, dq, qinv] {
                    out.extend_from_slice(part.expose_secret());
                }
                out.extend_from_slice(n);
            }
            Self::Hmac { algorithm, key } => {
                let block = algorithm.hmac_block_size().unwrap_or(key.len());
                for pad in [0x36u8, 0x5c] {
                    let key = key.expose_secret();
                    out.extend((0..block).map(|i| key.get(i).copied().unwrap_or(0) ^ pad));
                }
            }
            Self::Raw(raw) => out.extend_from_slice(raw.expose_secret()),
        }
    }

    /// The encoding, in a buffer zeroized on drop.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.encoded_len()));
        self.write_to(&mut out);
        out
    }

    /// The public part of an asymmetric key: EC `X || Y`, the ed25519 public key or the RSA
    /// modulus. `None` for every other body. Never reads a private field.
    pub fn public_key(&self) -> Option<Vec<u8>> {
        match self {
            Self::Ec { x, y, .. } => {
                let mut out = Vec::with_capacity(x.len() + y.len());
                out.extend_from_slice(x);
                out.extend_from_slice(y);
                Some(out)
            }
            Self::Ed25519 { public, .. } => Some(public.to_vec()),
            Self::Rsa { n, .. } => Some(n.clone()),
            _ => None,
        }
    }

    /// The delegated capabilities of an authentication or wrap key.
    pub fn delegated_capabilities(&self) -> Option<Capabilities> {
        match self {
            Self::AuthenticationKey { delegated, .. } | Self::WrapKey { delegated, .. } => {
                Some(*delegated)
            }
            _ => None,
        }
    }

    /// An authentication key derived from a password as yubihsm-wrap and every Yubico
    /// client do (docs/PROTOCOL.md §4.1: PBKDF2-HMAC-SHA256, salt `Yubico`, 10000 iterations).
    pub fn authentication_key_from_password(delegated: Capabilities, password: &[u8]) -> Self {
        let keys = crate::scp03::StaticKeys::from_password(password);
        Self::AuthenticationKey { delegated, enc: keys.enc.clone(), mac: keys.mac.clone() }
    }

    /// An EC key from its private scalar `d` (big-endian, the field size). Only P-256
    /// public points are computed here, and only with the feature `p256`; for other curves
    /// use [`Body::ec`] with the point.
    pub fn ec_from_private(algorithm: Algorithm, d: &[u8]) -> Result<Self, WrapError> {
        if algorithm != Algorithm::ECP256 {
            return Err(WrapError::BadBody {
                what: "only ecp256 public keys are computed here; give x and y for other curves",
            });
        }
        #[cfg(feature = "p256")]
        {
            let (x, y) = p256_public(d)?;
            Ok(Self::Ec { d: SecretBytes::from_slice(d), x, y })
        }
        #[cfg(not(feature = "p256"))]
        {
            let _ = d;
            Err(WrapError::BadBody {
                what: "computing an ecp256 public key needs P-256 arithmetic, which this build \
                       leaves out: build with the cargo feature `p256` (on by default), or \
                       give x and y",
            })
        }
    }

    /// An EC key from its parts, each of `algorithm`'s field size (P-256: checked to match
    /// with the feature `p256`).
    pub fn ec(algorithm: Algorithm, d: &[u8], x: &[u8], y: &[u8]) -> Result<Self, WrapError> {
        let size = algorithm
            .ec_field_size()
            .ok_or(WrapError::BadBody { what: "not an EC key algorithm" })?;
        let mut bytes = Zeroizing::new(Vec::with_capacity(3 * size));
        for part in [d, x, y] {
            if part.len() != size {
                return Err(WrapError::BadBodyLength {
                    what: "EC key part",
                    got: part.len(),
                    expected: size,
                    or_expected: None,
                });
            }
            bytes.extend_from_slice(part);
        }
        decode_ec(algorithm, size, &bytes)
    }

    /// An ed25519 key in the 96-byte form yubihsm-wrap writes (no seed). The caller gives
    /// the public key: this crate has no curve25519 arithmetic to compute it.
    pub fn ed25519_from_seed(seed: &SecretArray<32>, public_key: [u8; 32]) -> Self {
        let e = ed25519::expand(seed.expose_secret());
        Self::Ed25519 {
            seed: None,
            scalar: SecretArray::new(*e.clamped_be),
            prefix: SecretArray::new(*e.prefix),
            public: public_key,
        }
    }

    /// An ed25519 key in the 128-byte form that keeps the seed (what firmware >= 2.4
    /// exports with format 1). Whether older firmware imports it is unverified.
    pub fn ed25519_from_seed_with_seed(seed: &SecretArray<32>, public_key: [u8; 32]) -> Self {
        match Self::ed25519_from_seed(seed, public_key) {
            Self::Ed25519 { scalar, prefix, public, .. } => {
                Self::Ed25519 { seed: Some(seed.clone()), scalar, prefix, public }
            }
            other => other,
        }
    }

    /// An RSA key from its big-endian integers, as a PKCS#1 parser gives them (leading
    /// zeros optional). Each is left-padded to its size in the body; `n` must have the
    /// algorithm's modulus size.
    pub fn rsa(
        algorithm: Algorithm,
        [p, q, dp, dq, qinv]: [&[u8]; 5],
        n: &[u8],
    ) -> Result<Self, WrapError> {
        let size = algorithm
            .rsa_modulus_size()
            .ok_or(WrapError::BadBody { what: "not an RSA key algorithm" })?;
        let n = pad_left(n, size, "RSA modulus")?;
        let half = size / 2;
        Ok(Self::Rsa {
            p: SecretBytes::new(pad_left(p, half, "RSA prime p")?),
            q: SecretBytes::new(pad_left(q, half, "RSA prime q")?),
            dp: SecretBytes::new(pad_left(dp, half, "RSA exponent dp")?),
            dq: SecretBytes::new(pad_left(dq, half, "RSA exponent dq")?),
            qinv: SecretBytes::new(pad_left(qinv, half, "RSA coefficient qinv")?),
            n,
        })
    }

    /// An HMAC key. Like yubihsm-wrap, a key longer than the hash block size is refused
    /// (the body has no room for it; hash it first if that is what you want). An empty key
    /// is refused too.
    pub fn hmac(algorithm: Algorithm, key: &[u8]) -> Result<Self, WrapError> {
        let block = algorithm
            .hmac_block_size()
            .ok_or(WrapError::BadBody { what: "not an HMAC key algorithm" })?;
        if key.is_empty() || key.len() > block {
            return Err(WrapError::BadKeyLength {
                what: "HMAC key",
                got: key.len(),
                allowed: if block == 64 {
                    "1 to 64 bytes (the hash block size)"
                } else {
                    "1 to 128 bytes (the hash block size)"
                },
            });
        }
        Ok(Self::Hmac { algorithm, key: SecretBytes::from_slice(key) })
    }
}

fn pad_left(v: &[u8], size: usize, what: &'static str) -> Result<Vec<u8>, WrapError> {
    let start = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    let v = v.get(start..).unwrap_or_default();
    let zeros = size.checked_sub(v.len()).ok_or(WrapError::BadBodyLength {
        what,
        got: v.len(),
        expected: size,
        or_expected: None,
    })?;
    let mut out = Vec::with_capacity(size);
    out.resize(zeros, 0);
    out.extend_from_slice(v);
    Ok(out)
}

fn check_len(
    what: &'static str,
    bytes: &[u8],
    expected: usize,
    or_expected: Option<usize>,
) -> Result<(), WrapError> {
    if bytes.len() == expected || Some(bytes.len()) == or_expected {
        Ok(())
    } else {
        Err(WrapError::BadBodyLength { what, got: bytes.len(), expected, or_expected })
    }
}

fn split(bytes: &[u8], at: usize) -> (&[u8], &[u8]) {
    bytes.split_at_checked(at).unwrap_or((bytes, &[]))
}

fn array<const N: usize>(bytes: &[u8]) -> SecretArray<N> {
    SecretArray::from_slice(bytes).unwrap_or_else(|| SecretArray::new([0; N]))
}

fn delegated(bytes: &[u8]) -> Capabilities {
    let mut b = [0u8; DELEGATED_LEN];
    b.copy_from_slice(bytes.get(..DELEGATED_LEN).unwrap_or(&[0; DELEGATED_LEN]));
    Capabilities(u64::from_be_bytes(b))
}

fn decode_authentication_key(bytes: &[u8]) -> Result<Body, WrapError> {
    check_len("authentication key body", bytes, DELEGATED_LEN + 32, None)?;
    let (head, keys) = split(bytes, DELEGATED_LEN);
    let (enc, mac) = split(keys, 16);
    Ok(Body::AuthenticationKey { delegated: delegated(head), enc: array(enc), mac: array(mac) })
}

fn decode_wrap_key(bytes: &[u8], size: usize) -> Result<Body, WrapError> {
    check_len("wrap key body", bytes, DELEGATED_LEN + size, None)?;
    let (head, key) = split(bytes, DELEGATED_LEN);
    Ok(Body::WrapKey { delegated: delegated(head), key: SecretBytes::from_slice(key) })
}

fn decode_ec(algorithm: Algorithm, size: usize, bytes: &[u8]) -> Result<Body, WrapError> {
    check_len("EC key body", bytes, 3 * size, None)?;
    let (d, xy) = split(bytes, size);
    let (x, y) = split(xy, size);
    // Without P-256 arithmetic the point is taken as it is, like every other curve's: the
    // restore compares the device's public key with it byte for byte (DEPENDENCIES.md).
    #[cfg(feature = "p256")]
    if algorithm == Algorithm::ECP256 {
        let (px, py) = p256_public(d)?;
        if !(ct_eq(&px, x) & ct_eq(&py, y)) {
            return Err(WrapError::BadBody {
                what: "ecp256 public key does not match the private key",
            });
        }
    }
    #[cfg(not(feature = "p256"))]
    let _ = algorithm;
    Ok(Body::Ec { d: SecretBytes::from_slice(d), x: x.to_vec(), y: y.to_vec() })
}

/// d·G for a P-256 private scalar, which must be 32 bytes and in [1, n-1].
#[cfg(feature = "p256")]
fn p256_public(d: &[u8]) -> Result<(Vec<u8>, Vec<u8>), WrapError> {
    if d.len() != 32 {
        return Err(WrapError::BadBodyLength {
            what: "ecp256 private key",
            got: d.len(),
            expected: 32,
            or_expected: None,
        });
    }
    let secret = p256::SecretKey::from_slice(d).map_err(|_| WrapError::BadBody {
        what: "ecp256 private key is zero or not below the group order",
    })?;
    let public = secret.public_key();
    let point = public.as_affine();
    Ok((point.x().to_vec(), point.y().to_vec()))
}

fn decode_ed25519(bytes: &[u8]) -> Result<Body, WrapError> {
    check_len("ed25519 key body", bytes, 96, Some(128))?;
    let (seed, rest) = if bytes.len() == 128 { split(bytes, 32) } else { (&[][..], bytes) };
    let (scalar, rest) = split(rest, 32);
    let (prefix, public) = split(rest, 32);
    let seed = if seed.is_empty() {
        None
    } else {
        let seed = array::<32>(seed);
        let e = ed25519::expand(seed.expose_secret());
        if !ct_eq(e.prefix.as_slice(), prefix) {
            return Err(WrapError::BadBody { what: "ed25519 prefix does not match the seed" });
        }
        // Stored clamped by yubihsm-wrap, reduced mod L by (some) devices: both are the
        // same signing key.
        if !(ct_eq(e.clamped_be.as_slice(), scalar) | ct_eq(e.reduced_be.as_slice(), scalar)) {
            return Err(WrapError::BadBody { what: "ed25519 scalar does not match the seed" });
        }
        Some(seed)
    };
    let mut pk = [0u8; 32];
    pk.copy_from_slice(public.get(..32).unwrap_or(&[0; 32]));
    Ok(Body::Ed25519 { seed, scalar: array(scalar), prefix: array(prefix), public: pk })
}

fn decode_rsa(size: usize, bytes: &[u8]) -> Result<Body, WrapError> {
    let half = size / 2;
    check_len("RSA key body", bytes, 5 * half + size, None)?;
    let (p, rest) = split(bytes, half);
    let (q, rest) = split(rest, half);
    let (dp, rest) = split(rest, half);
    let (dq, rest) = split(rest, half);
    let (qinv, n) = split(rest, half);
    Ok(Body::Rsa {
        p: SecretBytes::from_slice(p),
        q: SecretBytes::from_slice(q),
        dp: SecretBytes::from_slice(dp),
        dq: SecretBytes::from_slice(dq),
        qinv: SecretBytes::from_slice(qinv),
        n: n.to_vec(),
    })
}

fn decode_hmac(algorithm: Algorithm, block: usize, bytes: &[u8]) -> Result<Body, WrapError> {
    check_len("HMAC key body", bytes, 2 * block, None)?;
    let (ipad, opad) = split(bytes, block);
    let mut key = Zeroizing::new(Vec::with_capacity(block));
    let mut differ = 0u8;
    for (i, o) in ipad.iter().zip(opad) {
        let k = i ^ 0x36;
        differ |= k ^ o ^ 0x5c;
        key.push(k);
    }
    if differ != 0 {
        return Err(WrapError::BadBody { what: "HMAC key: the ipad and opad blocks disagree" });
    }
    let len = key.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    key.truncate(len);
    Ok(Body::Hmac { algorithm, key: SecretBytes::from_slice(&key) })
}
