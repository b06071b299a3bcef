//! Private keys from PEM or DER files for `yhsm wrap` (bodies as in PROTOCOL.md §5):
//! PKCS#8 (`PRIVATE KEY`: RSA, EC, Ed25519), PKCS#1 (`RSA PRIVATE KEY`) and SEC1
//! (`EC PRIVATE KEY`).
//!
//! DER is read with the `der` and `sec1` crates, which the build already holds through
//! p256; the PKCS#8 and PKCS#1 structures are a handful of fields each and are walked
//! here rather than through the `pkcs8` and `pkcs1` crates (three more crates).
//!
//! Public keys are computed from the private key and, when the file carries one too,
//! checked against it: P-256, P-384, P-521, secp256k1 and brainpool P-256/P-384 with the
//! RustCrypto curve crates, ed25519 with curve25519-dalek. P-224 and brainpool P-512 have
//! no such crate; for them the public key is taken from the file, unchecked, and a file
//! without one is refused.

use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier, OctetStringRef, UintRef};
use der::{Decode, Reader, SliceReader, Tag, TagMode, TagNumber};
use elliptic_curve::point::AffineCoordinates;
use sha2::{Digest, Sha512};
use yhsm_proto::wrap::Body;
use yhsm_proto::{Algorithm, SecretArray};
use zeroize::{Zeroize, Zeroizing};

use super::pem;

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";

/// The body of the asymmetric key `algorithm` held in `input` (PEM or DER).
pub fn asymmetric_body(algorithm: Algorithm, input: &[u8]) -> Result<Body, String> {
    let (label, der) = if pem::is_pem(input) {
        let block = pem::decode(input, &["EC PARAMETERS"])?;
        (Some(block.label), block.der)
    } else if input.first() == Some(&0x30) {
        (None, Zeroizing::new(input.to_vec()))
    } else {
        return Err("not a PEM or DER private key".to_owned());
    };
    let key = match label.as_deref() {
        Some("PRIVATE KEY") => pkcs8(&der)?,
        Some("RSA PRIVATE KEY") => Key::Rsa(pkcs1(&der)?),
        Some("EC PRIVATE KEY") => sec1_key(&der, None, None)?,
        Some("ENCRYPTED PRIVATE KEY") => {
            return Err("the key is encrypted; decrypt it first, e.g. `openssl pkey -in FILE \
                        -out PLAIN.pem`"
                .to_owned());
        }
        Some(other) => {
            return Err(format!(
                "a PEM `{other}` block is not a private key; expected PRIVATE KEY, \
                 RSA PRIVATE KEY or EC PRIVATE KEY"
            ));
        }
        // DER: PKCS#8 is what `openssl pkey -outform DER` writes; then the legacy forms.
        None => pkcs8(&der)
            .or_else(|_| pkcs1(&der).map(Key::Rsa))
            .or_else(|_| sec1_key(&der, None, None))
            .map_err(|_| "not a PKCS#8, PKCS#1 or SEC1 private key".to_owned())?,
    };
    key.into_body(algorithm)
}

/// A private key as read, before it is matched with `--algorithm`.
enum Key<'a> {
    Rsa(Rsa<'a>),
    Ec { curve: Option<Algorithm>, d: &'a [u8], public: Option<&'a [u8]> },
    Ed25519 { seed: &'a [u8], public: Option<&'a [u8]> },
}

struct Rsa<'a> {
    n: &'a [u8],
    e: &'a [u8],
    p: &'a [u8],
    q: &'a [u8],
    dp: &'a [u8],
    dq: &'a [u8],
    qinv: &'a [u8],
}

fn der_error(what: &str) -> impl Fn(der::Error) -> String + '_ {
    move |e| format!("malformed {what}: {e}")
}

/// PKCS#8 PrivateKeyInfo / OneAsymmetricKey (RFC 5958).
fn pkcs8(der: &[u8]) -> Result<Key<'_>, String> {
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
            // [0] attributes: nothing this tool needs.
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
    let info = parse(der).map_err(der_error("PKCS#8 private key"))?;
    match info.algorithm.to_string().as_str() {
        OID_RSA => pkcs1(info.private_key).map(Key::Rsa),
        OID_EC => {
            let curve_oid = info
                .parameters
                .ok_or("the PKCS#8 EC key does not name its curve")?
                .decode_as::<ObjectIdentifier>()
                .map_err(der_error("PKCS#8 EC curve"))?;
            sec1_key(info.private_key, Some(curve_oid), info.public_key)
        }
        OID_ED25519 => {
            let seed = <&OctetStringRef>::from_der(info.private_key)
                .map_err(der_error("ed25519 private key"))?
                .as_bytes();
            Ok(Key::Ed25519 { seed, public: info.public_key })
        }
        other => Err(format!(
            "the PKCS#8 key has algorithm {other}; expected RSA ({OID_RSA}), EC ({OID_EC}) or \
             Ed25519 ({OID_ED25519})"
        )),
    }
}

/// PKCS#1 RSAPrivateKey (RFC 8017 A.1.2), two primes only.
fn pkcs1(der: &[u8]) -> Result<Rsa<'_>, String> {
    fn parse<'a>(der: &'a [u8]) -> der::Result<Rsa<'a>> {
        let mut r = SliceReader::new(der)?;
        let key = r.sequence(|r| -> der::Result<Rsa<'a>> {
            if u8::decode(r)? != 0 {
                // Version 1 is multi-prime, which the YubiHSM cannot hold.
                return Err(der::Error::from(Tag::Integer.value_error()));
            }
            let mut int = || UintRef::decode(&mut *r).map(|u| u.as_bytes());
            let (n, e, _d) = (int()?, int()?, int()?);
            let (p, q, dp, dq, qinv) = (int()?, int()?, int()?, int()?, int()?);
            Ok(Rsa { n, e, p, q, dp, dq, qinv })
        })?;
        r.finish()?;
        Ok(key)
    }
    parse(der).map_err(der_error("RSA private key (PKCS#1, two primes)"))
}

/// SEC1 ECPrivateKey (RFC 5915); `curve` and `public` from an enclosing PKCS#8 key.
fn sec1_key<'a>(
    der: &'a [u8],
    curve: Option<ObjectIdentifier>,
    public: Option<&'a [u8]>,
) -> Result<Key<'a>, String> {
    let key = sec1::EcPrivateKey::from_der(der).map_err(der_error("EC private key (SEC1)"))?;
    let inner = key.parameters.and_then(|p| p.named_curve());
    if let (Some(a), Some(b)) = (curve, inner)
        && a != b
    {
        return Err("the EC key names two different curves".to_owned());
    }
    let curve = match curve.or(inner) {
        None => None,
        Some(oid) => Some(curve_algorithm(&oid.to_string())?),
    };
    Ok(Key::Ec { curve, d: key.private_key, public: public.or(key.public_key) })
}

fn curve_algorithm(oid: &str) -> Result<Algorithm, String> {
    Ok(match oid {
        "1.3.132.0.33" => Algorithm::ECP224,
        "1.2.840.10045.3.1.7" => Algorithm::ECP256,
        "1.3.132.0.34" => Algorithm::ECP384,
        "1.3.132.0.35" => Algorithm::ECP521,
        "1.3.132.0.10" => Algorithm::ECK256,
        "1.3.36.3.3.2.8.1.1.7" => Algorithm::ECBP256,
        "1.3.36.3.3.2.8.1.1.11" => Algorithm::ECBP384,
        "1.3.36.3.3.2.8.1.1.13" => Algorithm::ECBP512,
        other => {
            return Err(format!(
                "the EC key is on curve {other}, which the YubiHSM does not support"
            ));
        }
    })
}

fn mismatch(found: &str, algorithm: Algorithm) -> String {
    format!("the file holds {found}, but --algorithm is {algorithm}")
}

impl Key<'_> {
    fn into_body(self, algorithm: Algorithm) -> Result<Body, String> {
        match self {
            Key::Rsa(rsa) => rsa_body(&rsa, algorithm),
            Key::Ec { curve, d, public } => {
                if let Some(curve) = curve.filter(|c| *c != algorithm) {
                    return Err(mismatch(&format!("an {curve} key"), algorithm));
                }
                if algorithm.ec_field_size().is_none() {
                    return Err(mismatch("an EC key", algorithm));
                }
                ec_body(algorithm, d, public)
            }
            Key::Ed25519 { seed, public } => {
                if algorithm != Algorithm::ED25519 {
                    return Err(mismatch("an ed25519 key", algorithm));
                }
                ed25519_body(seed, public)
            }
        }
    }
}

fn rsa_body(rsa: &Rsa<'_>, algorithm: Algorithm) -> Result<Body, String> {
    let leading = rsa.n.first().map_or(0, |b| b.leading_zeros() as usize);
    let bits = (rsa.n.len() * 8).saturating_sub(leading);
    let found = match bits {
        2048 => Algorithm::RSA2048,
        3072 => Algorithm::RSA3072,
        4096 => Algorithm::RSA4096,
        _ => {
            return Err(format!(
                "the RSA key has a {bits}-bit modulus; the YubiHSM holds 2048, 3072 or \
                 4096-bit keys"
            ));
        }
    };
    if found != algorithm {
        return Err(mismatch(&format!("an {found} key"), algorithm));
    }
    if rsa.e != [0x01, 0x00, 0x01] {
        return Err(
            "the RSA public exponent is not 65537, the only one the YubiHSM uses".to_owned()
        );
    }
    Body::rsa(algorithm, [rsa.p, rsa.q, rsa.dp, rsa.dq, rsa.qinv], rsa.n).map_err(|e| e.to_string())
}

fn ec_body(algorithm: Algorithm, d: &[u8], public: Option<&[u8]>) -> Result<Body, String> {
    let size = algorithm.ec_field_size().unwrap_or(0);
    // SEC1 fixes the length, but some encoders drop leading zeros.
    let start = d.iter().position(|&b| b != 0).unwrap_or(d.len());
    let digits = d.get(start..).unwrap_or_default();
    if digits.len() > size {
        return Err(format!("the EC private key is longer than {size} bytes"));
    }
    let mut padded = Zeroizing::new(vec![0u8; size]);
    if let Some(tail) = padded.get_mut(size - digits.len()..) {
        tail.copy_from_slice(digits);
    }
    let given = match public {
        None => None,
        Some(point) => Some(uncompressed_point(point, size)?),
    };
    let computed = ec_public(algorithm, &padded)?;
    let (x, y) = match (computed, given) {
        (Some(c), Some(g)) if c != g => {
            return Err("the public key in the file does not match the private key".to_owned());
        }
        (Some(c), _) => c,
        (None, Some(g)) => g,
        (None, None) => {
            return Err(format!(
                "the file has no public key, and this tool cannot compute {algorithm} public \
                 keys; export the key with its public key (OpenSSL includes it by default)"
            ));
        }
    };
    Body::ec(algorithm, &padded, &x, &y).map_err(|e| e.to_string())
}

type Point = (Vec<u8>, Vec<u8>);

fn uncompressed_point(point: &[u8], size: usize) -> Result<Point, String> {
    match point.split_first() {
        Some((0x04, xy)) if xy.len() == 2 * size => {
            let (x, y) = xy.split_at(size);
            Ok((x.to_vec(), y.to_vec()))
        }
        Some((0x02 | 0x03, _)) => {
            Err("the public key in the file is compressed; export it uncompressed".to_owned())
        }
        _ => Err("the public key in the file is not a point on the key's curve".to_owned()),
    }
}

/// d·G, for the curves with a RustCrypto crate; `Ok(None)` for the others.
fn ec_public(algorithm: Algorithm, d: &[u8]) -> Result<Option<Point>, String> {
    fn point<C: elliptic_curve::CurveArithmetic>(d: &[u8]) -> Result<Option<Point>, String> {
        let secret = elliptic_curve::SecretKey::<C>::from_slice(d)
            .map_err(|_| "the EC private key is zero or not below the group order".to_owned())?;
        let public = secret.public_key();
        let affine = public.as_affine();
        let (x, y) = (AffineCoordinates::x(affine), AffineCoordinates::y(affine));
        Ok(Some((x.as_slice().to_vec(), y.as_slice().to_vec())))
    }
    match algorithm {
        Algorithm::ECP256 => point::<p256::NistP256>(d),
        Algorithm::ECP384 => point::<p384::NistP384>(d),
        Algorithm::ECP521 => point::<p521::NistP521>(d),
        Algorithm::ECK256 => point::<k256::Secp256k1>(d),
        Algorithm::ECBP256 => point::<bp256::r1::BrainpoolP256r1>(d),
        Algorithm::ECBP384 => point::<bp384::r1::BrainpoolP384r1>(d),
        _ => Ok(None),
    }
}

fn ed25519_body(seed: &[u8], public: Option<&[u8]>) -> Result<Body, String> {
    let seed = SecretArray::<32>::from_slice(seed)
        .ok_or_else(|| format!("the ed25519 private key has {} bytes, not 32", seed.len()))?;
    let mut digest = Sha512::digest(seed.expose_secret());
    let mut scalar = Zeroizing::new([0u8; 32]);
    scalar.copy_from_slice(digest.get(..32).unwrap_or(&[0; 32]));
    digest.as_mut_slice().zeroize();
    // Clamps as RFC 8032 §5.1.5 does.
    let computed = curve25519_dalek::EdwardsPoint::mul_base_clamped(*scalar).compress().to_bytes();
    if public.is_some_and(|given| given != computed) {
        return Err("the public key in the file does not match the private key".to_owned());
    }
    Ok(Body::ed25519_from_seed(&seed, computed))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/keys");
    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/wrapped");

    /// Every DER private key the tests have: the fixtures and the vectors' PEMs.
    fn ders() -> Vec<(String, Algorithm, Zeroizing<Vec<u8>>)> {
        let mut out = Vec::new();
        for (file, algorithm) in [
            ("ecp521.pem", Algorithm::ECP521),
            ("ecp384_sec1.pem", Algorithm::ECP384),
            ("ecbp384.pem", Algorithm::ECBP384),
            ("rsa3072_pkcs1.pem", Algorithm::RSA3072),
            ("ecp256.der", Algorithm::ECP256),
            ("ed25519.der", Algorithm::ED25519),
        ] {
            let bytes = std::fs::read(format!("{DATA}/{file}")).unwrap();
            let der = if pem::is_pem(&bytes) {
                pem::decode(&bytes, &[]).unwrap().der
            } else {
                Zeroizing::new(bytes)
            };
            out.push((file.to_owned(), algorithm, der));
        }
        for (name, algorithm) in [("rsa2048", Algorithm::RSA2048), ("ec_p384", Algorithm::ECP384)] {
            let v: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(format!("{VECTORS}/{name}.json")).unwrap(),
            )
            .unwrap();
            let pem = v["input"]["pem"].as_str().unwrap();
            out.push((name.to_owned(), algorithm, pem::decode(pem.as_bytes(), &[]).unwrap().der));
        }
        out
    }

    #[test]
    fn reads_every_key_as_der() {
        for (name, algorithm, der) in ders() {
            let body = asymmetric_body(algorithm, &der).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(body.public_key().is_some(), "{name}");
        }
    }

    #[test]
    fn rejects_every_truncation_and_bit_flip_without_panicking() {
        for (name, algorithm, der) in ders() {
            for len in 0..der.len() {
                assert!(asymmetric_body(algorithm, &der[..len]).is_err(), "{name}: prefix {len}");
            }
            // A flipped bit either breaks the structure or changes the key; neither panics,
            // and a changed private key no longer matches a public key the file carries.
            for i in 0..der.len() {
                let mut flipped = der.to_vec();
                flipped[i] ^= 0x01;
                let _ = asymmetric_body(algorithm, &flipped);
            }
        }
    }

    #[test]
    fn refuses_a_zero_modulus() {
        let mut der = vec![0x30, 27];
        for _ in 0..9 {
            der.extend_from_slice(&[0x02, 0x01, 0x00]);
        }
        let e = asymmetric_body(Algorithm::RSA2048, &der).unwrap_err();
        assert!(e.contains("0-bit modulus"), "{e}");
    }

    #[test]
    fn a_public_key_that_does_not_match_is_refused() {
        // The ec_p384 vector's PKCS#8 key ends with the public point; change its last byte.
        let (_, _, der) = ders().into_iter().find(|(n, ..)| n == "ec_p384").unwrap();
        let mut der = der.to_vec();
        *der.last_mut().unwrap() ^= 0x01;
        let e = asymmetric_body(Algorithm::ECP384, &der).unwrap_err();
        assert_eq!(e, "the public key in the file does not match the private key");
    }
}
