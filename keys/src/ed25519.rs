//! The public key of an ed25519 seed (RFC 8032 §5.1.5).

use sha2::{Digest, Sha512};
use yhsm_proto::SecretArray;
use zeroize::{Zeroize, Zeroizing};

/// The public key (compressed Edwards point) of the 32-byte private key `seed`: the
/// clamped first half of SHA-512(seed), times the base point.
pub fn ed25519_public(seed: &SecretArray<32>) -> [u8; 32] {
    let mut digest = Sha512::digest(seed.expose_secret());
    let mut scalar = Zeroizing::new([0u8; 32]);
    scalar.copy_from_slice(digest.get(..32).unwrap_or(&[0; 32]));
    digest.as_mut_slice().zeroize();
    curve25519_dalek::EdwardsPoint::mul_base_clamped(*scalar).compress().to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex<const N: usize>(s: &str) -> [u8; N] {
        let v: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        v.try_into().unwrap()
    }

    #[test]
    fn rfc8032_test_vectors_1_and_2() {
        for (seed, public) in [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            ),
        ] {
            assert_eq!(ed25519_public(&SecretArray::new(hex(seed))), hex::<32>(public));
        }
    }
}
