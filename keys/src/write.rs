//! PKCS#8 `PrivateKeyInfo` (RFC 5208) of a wrapped-object body, as OpenSSL writes it: EC
//! keys as an RFC 5915 `ECPrivateKey` with the public key and without the (redundant)
//! curve parameters, ed25519 keys as RFC 8410's seed, RSA keys as a PKCS#1
//! `RSAPrivateKey`. The simulator wraps these bytes for GET_RSA_WRAPPED_KEY
//! (docs/PROTOCOL.md §7.7; python-yubihsm's `export_raw_key`: "asymmetric keys are
//! serialized as PKCS#8"); whether the device writes exactly these bytes is not known.
//!
//! A handful of fixed structures, written with a tag-length-value writer rather than
//! through `der`'s encoder traits.

use yhsm_proto::Algorithm;
use yhsm_proto::wrap::Body;
use zeroize::Zeroizing;

use crate::KeyError;
use crate::read::{OID_EC, OID_ED25519, OID_RSA, PUBLIC_EXPONENT};

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const BIT_STRING: u8 = 0x03;
const OBJECT_IDENTIFIER: u8 = 0x06;
const NULL: [u8; 2] = [0x05, 0x00];
/// `[1]` (constructed): the public key of an `ECPrivateKey`.
const EC_PUBLIC_KEY_TAG: u8 = 0xa1;

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

fn oid(out: &mut Vec<u8>, oid: &der::asn1::ObjectIdentifier) {
    tlv(out, OBJECT_IDENTIFIER, oid.as_bytes());
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

/// The PKCS#8 encoding of the asymmetric key `body` of algorithm `algorithm`. An RSA body
/// does not hold the private exponent: `rsa_d` gives it (big-endian). An ed25519 key
/// without its seed (imported from a 96-byte body) has no PKCS#8.
pub fn to_pkcs8(
    algorithm: Algorithm,
    body: &Body,
    rsa_d: Option<&[u8]>,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    match body {
        Body::Ec { d, x, y } => {
            let curve = crate::curve::oid(algorithm)
                .ok_or(KeyError::NotThisAlgorithm { found: "an EC key", algorithm })?;
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
            let mut ids = Vec::new();
            oid(&mut ids, &OID_EC);
            oid(&mut ids, &curve);
            Ok(private_key_info(&ids, &ec_key))
        }
        Body::Ed25519 { seed: Some(seed), .. } => {
            let mut key = Zeroizing::new(Vec::with_capacity(34));
            tlv(&mut key, OCTET_STRING, seed.expose_secret());
            let mut ids = Vec::new();
            oid(&mut ids, &OID_ED25519);
            Ok(private_key_info(&ids, &key))
        }
        Body::Ed25519 { seed: None, .. } => Err(KeyError::Ed25519WithoutSeed),
        Body::Rsa { p, q, dp, dq, qinv, n } => {
            let d = rsa_d.ok_or(KeyError::RsaWithoutExponent)?;
            let mut fields = Zeroizing::new(vec![INTEGER, 1, 0]);
            integer(&mut fields, n);
            integer(&mut fields, &PUBLIC_EXPONENT);
            integer(&mut fields, d);
            for part in [p, q, dp, dq, qinv] {
                integer(&mut fields, part.expose_secret());
            }
            let mut rsa_key = Zeroizing::new(Vec::new());
            tlv(&mut rsa_key, SEQUENCE, &fields);
            let mut ids = Vec::new();
            oid(&mut ids, &OID_RSA);
            ids.extend_from_slice(&NULL);
            Ok(private_key_info(&ids, &rsa_key))
        }
        _ => Err(KeyError::NotAsymmetric),
    }
}
