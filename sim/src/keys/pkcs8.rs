//! PKCS#8 `PrivateKeyInfo` (RFC 5208) of asymmetric keys, the key material that
//! GET_RSA_WRAPPED_KEY wraps and PUT_RSA_WRAPPED_KEY takes (python-yubihsm's
//! `export_raw_key`: "asymmetric keys are serialized as PKCS#8").
//!
//! Written as OpenSSL writes them: EC keys as an RFC 5915 `ECPrivateKey` with the public
//! key and without the (redundant) curve parameters, ed25519 keys as RFC 8410's seed, RSA
//! keys as a PKCS#1 `RSAPrivateKey`. Whether the device writes exactly these bytes is
//! not known; reading accepts what these forms allow. The DER here is a handful of fixed
//! structures, read by a strict tag-length-value walker.

use yhsm_proto::Algorithm;
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::wrap::Body;
use zeroize::Zeroizing;

use rsa::BoxedUint;
use rsa::traits::PrivateKeyParts;

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const BIT_STRING: u8 = 0x03;
const NULL: [u8; 2] = [0x05, 0x00];
/// `[1]` (constructed): the public key of an `ECPrivateKey`.
const EC_PUBLIC_KEY_TAG: u8 = 0xa1;
/// `[0]` (constructed): the curve of an `ECPrivateKey`.
const EC_PARAMETERS_TAG: u8 = 0xa0;

/// DER of the OIDs (tag and length included).
const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
const OID_RSA: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// The DER OID of the curve of an EC algorithm.
fn curve_oid(alg: Algorithm) -> Option<&'static [u8]> {
    Some(match alg {
        Algorithm::ECP224 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21],
        Algorithm::ECP256 => &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
        Algorithm::ECP384 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
        Algorithm::ECP521 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
        Algorithm::ECK256 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a],
        Algorithm::ECBP256 => &[0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07],
        Algorithm::ECBP384 => &[0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0b],
        Algorithm::ECBP512 => &[0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0d],
        _ => return None,
    })
}

/// Appends `tag || length || value` (values here are far below 64 KiB).
fn tlv(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    out.push(tag);
    match u8::try_from(value.len()) {
        Ok(len) if len < 0x80 => out.push(len),
        Ok(len) => out.extend_from_slice(&[0x81, len]),
        Err(_) => {
            out.push(0x82);
            out.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_be_bytes());
        }
    }
    out.extend_from_slice(value);
}

/// A DER `INTEGER` of the unsigned big-endian `v`: minimal, with a zero byte when the
/// first digit has its top bit set.
fn integer(out: &mut Vec<u8>, v: &[u8]) {
    let start = v.iter().position(|&b| b != 0).unwrap_or(v.len().saturating_sub(1));
    let digits = v.get(start..).unwrap_or_default();
    let mut value = Zeroizing::new(Vec::with_capacity(digits.len() + 1));
    if digits.first().is_none_or(|b| b & 0x80 != 0) {
        value.push(0);
    }
    value.extend_from_slice(digits);
    tlv(out, INTEGER, &value);
}

/// `SEQUENCE { INTEGER 0, algorithm, OCTET STRING private_key }`.
fn private_key_info(algorithm: &[u8], private_key: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut inner = Zeroizing::new(Vec::with_capacity(private_key.len() + 64));
    inner.extend_from_slice(&[INTEGER, 1, 0]);
    tlv(&mut inner, SEQUENCE, algorithm);
    tlv(&mut inner, OCTET_STRING, private_key);
    let mut out = Zeroizing::new(Vec::with_capacity(inner.len() + 4));
    tlv(&mut out, SEQUENCE, &inner);
    out
}

/// The PKCS#8 encoding of the asymmetric key `body` of algorithm `alg`. An ed25519 key
/// without its seed (imported from a 96-byte body) has none: invalid-data.
pub fn encode(alg: Algorithm, body: &Body) -> Result<Zeroizing<Vec<u8>>, ErrorCode> {
    match body {
        Body::Ec { d, x, y } => {
            let curve = curve_oid(alg).ok_or(ErrorCode::INVALID_DATA)?;
            let mut point = vec![0x00, 0x04];
            point.extend_from_slice(x);
            point.extend_from_slice(y);
            let mut public = Vec::with_capacity(point.len() + 4);
            tlv(&mut public, BIT_STRING, &point);
            let mut ec = Zeroizing::new(vec![INTEGER, 1, 1]);
            tlv(&mut ec, OCTET_STRING, d.expose_secret());
            tlv(&mut ec, EC_PUBLIC_KEY_TAG, &public);
            let mut ec_key = Zeroizing::new(Vec::new());
            tlv(&mut ec_key, SEQUENCE, &ec);
            let mut algorithm = OID_EC_PUBLIC_KEY.to_vec();
            algorithm.extend_from_slice(curve);
            Ok(private_key_info(&algorithm, &ec_key))
        }
        Body::Ed25519 { seed: Some(seed), .. } => {
            let mut key = Zeroizing::new(Vec::with_capacity(34));
            tlv(&mut key, OCTET_STRING, seed.expose_secret());
            Ok(private_key_info(OID_ED25519, &key))
        }
        Body::Rsa { p, q, dp, dq, qinv, n } => {
            let key = rsa::PrivateKey::from_p_q(
                BoxedUint::from_be_slice_vartime(p.expose_secret()),
                BoxedUint::from_be_slice_vartime(q.expose_secret()),
                BoxedUint::from(super::rsa::PUBLIC_EXPONENT),
            )
            .map_err(|_| ErrorCode::INVALID_DATA)?;
            let d = Zeroizing::new(key.d().to_be_bytes());
            let mut fields = Zeroizing::new(vec![INTEGER, 1, 0]);
            integer(&mut fields, n);
            integer(&mut fields, &super::rsa::PUBLIC_EXPONENT.to_be_bytes());
            integer(&mut fields, &d);
            for part in [p, q, dp, dq, qinv] {
                integer(&mut fields, part.expose_secret());
            }
            let mut rsa_key = Zeroizing::new(Vec::new());
            tlv(&mut rsa_key, SEQUENCE, &fields);
            let mut algorithm = OID_RSA.to_vec();
            algorithm.extend_from_slice(&NULL);
            Ok(private_key_info(&algorithm, &rsa_key))
        }
        _ => Err(ErrorCode::INVALID_DATA),
    }
}

/// A strict DER walker over one level of a structure.
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// The next element: its tag and value. Only definite, minimal lengths.
    fn next(&mut self) -> Result<(u8, &'a [u8]), ErrorCode> {
        let bad = ErrorCode::INVALID_DATA;
        let (&tag, rest) = self.rest.split_first().ok_or(bad)?;
        let (&first, rest) = rest.split_first().ok_or(bad)?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return Err(bad);
            }
            let (bytes, rest) = rest.split_at_checked(n).ok_or(bad)?;
            if bytes.first() == Some(&0) {
                return Err(bad);
            }
            let len = bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            if len < 0x80 {
                return Err(bad);
            }
            (len, rest)
        };
        let (value, rest) = rest.split_at_checked(len).ok_or(bad)?;
        self.rest = rest;
        Ok((tag, value))
    }

    /// The next element, which must have the DER type `expected` (a public type byte,
    /// not a check value).
    fn expect(&mut self, expected: u8) -> Result<&'a [u8], ErrorCode> {
        match self.next()? {
            (found, value) if found == expected => Ok(value),
            _ => Err(ErrorCode::INVALID_DATA),
        }
    }

    /// The next element when it has the DER type `wanted`.
    fn optional(&mut self, wanted: u8) -> Result<Option<&'a [u8]>, ErrorCode> {
        if self.rest.first() == Some(&wanted) { self.expect(wanted).map(Some) } else { Ok(None) }
    }

    /// A non-negative INTEGER's big-endian digits, without the sign byte.
    fn unsigned(&mut self) -> Result<&'a [u8], ErrorCode> {
        let v = self.expect(INTEGER)?;
        match v {
            [] => Err(ErrorCode::INVALID_DATA),
            [first, ..] if first & 0x80 != 0 => Err(ErrorCode::INVALID_DATA),
            [0, second, ..] if second & 0x80 == 0 => Err(ErrorCode::INVALID_DATA),
            [0, rest @ ..] if !rest.is_empty() => Ok(rest),
            _ => Ok(v),
        }
    }

    fn finish(self) -> Result<(), ErrorCode> {
        if self.rest.is_empty() { Ok(()) } else { Err(ErrorCode::INVALID_DATA) }
    }
}

/// `v` left-padded with zeros to `len` bytes.
fn pad(v: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>, ErrorCode> {
    let zeros = len.checked_sub(v.len()).ok_or(ErrorCode::INVALID_DATA)?;
    let mut out = Zeroizing::new(vec![0u8; zeros]);
    out.extend_from_slice(v);
    Ok(out)
}

/// The key of algorithm `alg` in the PKCS#8 `der`, as the body a put of its private key
/// gives (the public key, when the encoding has one, must be the private key's).
pub fn decode(alg: Algorithm, der: &[u8]) -> Result<Body, ErrorCode> {
    let mut outer = Der::new(der);
    let mut info = Der::new(outer.expect(SEQUENCE)?);
    outer.finish()?;
    let version = info.unsigned()?;
    if version != [0] && version != [1] {
        return Err(ErrorCode::INVALID_DATA);
    }
    let mut algorithm = Der::new(info.expect(SEQUENCE)?);
    let oid = algorithm.next()?;
    let private_key = info.expect(OCTET_STRING)?;
    // Attributes ([0]) and a v2 public key ([1]) may follow; the key is checked anyway.
    let oid_der = |(tag, value): (u8, &[u8])| {
        let mut v = Vec::with_capacity(value.len() + 2);
        tlv(&mut v, tag, value);
        v
    };
    let oid = oid_der(oid);
    if let Some(size) = alg.ec_field_size() {
        let curve = oid_der(algorithm.next()?);
        if oid != OID_EC_PUBLIC_KEY || Some(curve.as_slice()) != curve_oid(alg) {
            return Err(ErrorCode::INVALID_DATA);
        }
        algorithm.finish()?;
        let mut ec = Der::new(private_key);
        let mut fields = Der::new(ec.expect(SEQUENCE)?);
        ec.finish()?;
        if fields.unsigned()? != [1] {
            return Err(ErrorCode::INVALID_DATA);
        }
        let d = pad(fields.expect(OCTET_STRING)?, size)?;
        let _parameters = fields.optional(EC_PARAMETERS_TAG)?;
        let public = fields.optional(EC_PUBLIC_KEY_TAG)?;
        fields.finish()?;
        let body = super::asymmetric_from_private(alg, &d)?;
        if let Some(public) = public {
            let mut p = Der::new(public);
            let point = p.expect(BIT_STRING)?;
            p.finish()?;
            let mut expected = vec![0x00, 0x04];
            expected.extend_from_slice(&body.public_key().unwrap_or_default());
            if point != expected.as_slice() {
                return Err(ErrorCode::INVALID_DATA);
            }
        }
        return Ok(body);
    }
    if alg == Algorithm::ED25519 {
        if oid != OID_ED25519 {
            return Err(ErrorCode::INVALID_DATA);
        }
        algorithm.finish()?;
        let mut key = Der::new(private_key);
        let seed = key.expect(OCTET_STRING)?;
        key.finish()?;
        return super::asymmetric_from_private(alg, seed);
    }
    if let Some(size) = alg.rsa_modulus_size() {
        if oid != OID_RSA {
            return Err(ErrorCode::INVALID_DATA);
        }
        // The parameters are NULL, or absent.
        if algorithm.optional(NULL[0])?.is_some_and(|v| !v.is_empty()) {
            return Err(ErrorCode::INVALID_DATA);
        }
        algorithm.finish()?;
        let mut outer = Der::new(private_key);
        let mut k = Der::new(outer.expect(SEQUENCE)?);
        outer.finish()?;
        if k.unsigned()? != [0] {
            return Err(ErrorCode::INVALID_DATA);
        }
        let n = k.unsigned()?;
        if k.unsigned()? != [0x01, 0x00, 0x01] {
            return Err(ErrorCode::INVALID_DATA);
        }
        let _d = k.unsigned()?;
        let mut pq = pad(k.unsigned()?, size / 2)?;
        pq.extend_from_slice(&pad(k.unsigned()?, size / 2)?);
        for _crt in 0..3 {
            k.unsigned()?;
        }
        k.finish()?;
        let body = super::rsa::from_primes(alg, &pq)?;
        if super::rsa::modulus(&body) != Some(pad(n, size)?.as_slice()) {
            return Err(ErrorCode::INVALID_DATA);
        }
        return Ok(body);
    }
    Err(ErrorCode::INVALID_DATA)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn keys() -> Vec<(Algorithm, Body)> {
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let mut out: Vec<_> = [
            Algorithm::ECP224,
            Algorithm::ECP256,
            Algorithm::ECP384,
            Algorithm::ECP521,
            Algorithm::ECK256,
            Algorithm::ECBP256,
            Algorithm::ECBP384,
            Algorithm::ED25519,
        ]
        .into_iter()
        .map(|alg| (alg, super::super::asymmetric_generate(alg, &mut rng).unwrap()))
        .collect();
        out.push((
            Algorithm::RSA2048,
            super::super::rsa::generate(Algorithm::RSA2048, &mut rng).unwrap(),
        ));
        out
    }

    #[test]
    fn round_trips_every_simulated_key_type() {
        for (alg, body) in keys() {
            let der = encode(alg, &body).unwrap();
            assert_eq!(der.first(), Some(&SEQUENCE), "{alg}");
            assert_eq!(decode(alg, &der).unwrap(), body, "{alg}");
            // Another algorithm of the same family is refused.
            let other =
                if alg == Algorithm::ECP256 { Algorithm::ECK256 } else { Algorithm::ECP256 };
            assert_eq!(decode(other, &der), Err(ErrorCode::INVALID_DATA), "{alg}");
        }
    }

    #[test]
    fn rejects_every_truncation_and_a_public_key_that_is_not_the_keys() {
        for (alg, body) in keys() {
            let der = encode(alg, &body).unwrap();
            for len in 0..der.len() {
                assert!(decode(alg, &der[..len]).is_err(), "{alg} truncated to {len}");
            }
            let mut longer = der.to_vec();
            longer.push(0);
            assert!(decode(alg, &longer).is_err(), "{alg} with a trailing byte");
        }
        let (alg, body) = keys().remove(0);
        let mut der = encode(alg, &body).unwrap().to_vec();
        let last = der.len() - 1;
        der[last] ^= 1;
        assert_eq!(decode(alg, &der), Err(ErrorCode::INVALID_DATA));
    }

    #[test]
    fn an_ed25519_key_without_its_seed_has_no_pkcs8() {
        let seeded = super::super::asymmetric_from_private(Algorithm::ED25519, &[9; 32]).unwrap();
        let Body::Ed25519 { scalar, prefix, public, .. } = seeded else { panic!("not ed25519") };
        let unseeded = Body::Ed25519 { seed: None, scalar, prefix, public };
        assert_eq!(encode(Algorithm::ED25519, &unseeded), Err(ErrorCode::INVALID_DATA));
    }
}
