//! Private keys from PEM or DER files for `yhsm wrap` (bodies as in docs/PROTOCOL.md §5.4):
//! PKCS#8 (`PRIVATE KEY`: RSA, EC, Ed25519), PKCS#1 (`RSA PRIVATE KEY`) and SEC1
//! (`EC PRIVATE KEY`). The PEM armor is read here; the DER, the checks against
//! `--algorithm` and the public keys are `yhsm_keys`, which the simulator shares.

use yhsm_keys::PrivateKey;
use yhsm_proto::Algorithm;
use yhsm_proto::wrap::Body;
use zeroize::Zeroizing;

use super::pem;

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
        Some("PRIVATE KEY") => PrivateKey::from_pkcs8(&der),
        Some("RSA PRIVATE KEY") => PrivateKey::from_pkcs1(&der),
        Some("EC PRIVATE KEY") => PrivateKey::from_sec1(&der),
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
        None => PrivateKey::from_der(&der),
    };
    key.and_then(|key| key.into_body(algorithm)).map_err(|e| e.to_string())
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
