//! PKCS#8 `PrivateKeyInfo` of asymmetric keys, the key material that GET_RSA_WRAPPED_KEY
//! wraps and PUT_RSA_WRAPPED_KEY takes (docs/PROTOCOL.md §7.7; python-yubihsm's
//! `export_raw_key`: "asymmetric keys are serialized as PKCS#8"). Read and written by
//! `yhsm_keys`, as OpenSSL writes it; what is left here is what only the device does: the
//! RSA private exponent for the writer, and the primes of an RSA key checked (probable
//! primes, and their product the key's modulus) before it is stored. Every refusal is
//! invalid-data.

use yhsm_keys::PrivateKey;
use yhsm_proto::Algorithm;
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::wrap::Body;
use zeroize::Zeroizing;

use rsa::traits::PrivateKeyParts;

/// The PKCS#8 encoding of the asymmetric key `body` of algorithm `alg`. An ed25519 key
/// without its seed (imported from a 96-byte body) has none: invalid-data.
pub fn encode(alg: Algorithm, body: &Body) -> Result<Zeroizing<Vec<u8>>, ErrorCode> {
    let d = match body {
        Body::Rsa { p, q, .. } => {
            let key = super::rsa::private_key(alg, p.expose_secret(), q.expose_secret())?;
            Some(Zeroizing::new(key.d().to_be_bytes()))
        }
        _ => None,
    };
    yhsm_keys::to_pkcs8(alg, body, d.as_deref().map(|d| &d[..]))
        .map_err(|_| ErrorCode::INVALID_DATA)
}

/// The key of algorithm `alg` in the PKCS#8 `der`, as the body a put of its private key
/// gives (the public key, when the encoding has one, must be the private key's; an
/// ed25519 key keeps its seed).
pub fn decode(alg: Algorithm, der: &[u8]) -> Result<Body, ErrorCode> {
    if alg.ec_field_size().is_some() && !super::ec_supported(alg) {
        return Err(ErrorCode::ALGORITHM_DISABLED);
    }
    let body = PrivateKey::from_pkcs8(der)
        .and_then(|key| key.into_body_with_seed(alg))
        .map_err(|_| ErrorCode::INVALID_DATA)?;
    match &body {
        // The CRT values are recomputed from the primes; the modulus must be theirs.
        Body::Rsa { p, q, n, .. } => {
            let mut pq = Zeroizing::new(p.expose_secret().to_vec());
            pq.extend_from_slice(q.expose_secret());
            let checked = super::rsa::from_primes(alg, &pq)?;
            if super::rsa::modulus(&checked) != Some(n.as_slice()) {
                return Err(ErrorCode::INVALID_DATA);
            }
            Ok(checked)
        }
        _ => Ok(body),
    }
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
            assert_eq!(der.first(), Some(&0x30), "{alg}: a SEQUENCE");
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
