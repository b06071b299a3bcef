//! Asymmetric authentication (docs/PROTOCOL.md §4.5 "Asymmetric authentication", firmware >= 2.3):
//! P-256 ECDH of both the ephemeral and the static keys, an X9.63 KDF with SHA-256, and a
//! receipt that replaces the cryptograms and the AUTHENTICATE_SESSION step.
//!
//! Facts checked against python-yubihsm (`AsymmetricAuth.create_session`): the KDF input is
//! `shsee || shsss`, shared info `3c 88 10`, 64 bytes cut into receipt key, S-ENC, S-MAC
//! and S-RMAC; the receipt is CMAC(receipt key, EPK-SD || EPK-OCE) and becomes the first
//! MAC chaining value.

use alloc::vec::Vec;
use core::fmt;

use cmac::Mac;
use p256::elliptic_curve::Generate;
use p256::elliptic_curve::point::AffineCoordinates;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{PublicKey, SecretKey};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use super::channel::Channel;
use super::client::ClientSession;
use super::device::DeviceSession;
use super::keys::{KEY_LEN, SessionKeys, cmac_aes128};
use super::{EC_PUBLIC_KEY_LEN, EC_SECRET_LEN, RECEIPT_LEN, SessionError};
use crate::codec::{Reader, Writer};
use crate::frame::{self, CommandCode, HEADER_LEN};
use crate::secret::{SecretArray, ct_eq};

/// The X9.63 KDF shared info YubiHSM 2 uses.
const SHARED_INFO: [u8; 3] = [0x3c, 0x88, 0x10];

/// A fresh P-256 private key from `rng`, as big-endian bytes: an ephemeral secret for
/// either half, or a new static authentication key.
pub fn random_secret<R: CryptoRng + ?Sized>(rng: &mut R) -> SecretArray<EC_SECRET_LEN> {
    SecretArray::new(SecretKey::generate_from_rng(rng).to_bytes().into())
}

/// The uncompressed public key `04 || X || Y` of a P-256 private key. Drop the first byte
/// for the `X || Y` form that PUT_AUTHENTICATION_KEY and GET_DEVICE_PUBLIC_KEY carry.
pub fn public_key(
    secret: &SecretArray<EC_SECRET_LEN>,
) -> Result<[u8; EC_PUBLIC_KEY_LEN], SessionError> {
    Ok(encode_public(&secret_key(secret, "private key")?.public_key()))
}

/// The first step of an asymmetric session: the client's static and ephemeral keys and the
/// device's public key, until the device answers CREATE_SESSION.
pub struct AsymmetricClientHandshake {
    auth_key_id: u16,
    static_secret: SecretKey,
    device_public: PublicKey,
    ephemeral: SecretKey,
    epk_oce: [u8; EC_PUBLIC_KEY_LEN],
}

impl AsymmetricClientHandshake {
    /// A handshake for the asymmetric authentication key `auth_key_id`, whose private key
    /// is `client_secret`, with the device public key (`04 || X || Y` or `X || Y`, as
    /// GET_DEVICE_PUBLIC_KEY returns it after the algorithm byte) and an ephemeral private
    /// key chosen by the caller (see [`random_secret`], or [`Self::with_rng`]).
    pub fn new(
        auth_key_id: u16,
        client_secret: &SecretArray<EC_SECRET_LEN>,
        device_public_key: &[u8],
        ephemeral_secret: &SecretArray<EC_SECRET_LEN>,
    ) -> Result<Self, SessionError> {
        let ephemeral = secret_key(ephemeral_secret, "client ephemeral private key")?;
        let epk_oce = encode_public(&ephemeral.public_key());
        Ok(Self {
            auth_key_id,
            static_secret: secret_key(client_secret, "client private key")?,
            device_public: parse_public(device_public_key, "device public key")?,
            ephemeral,
            epk_oce,
        })
    }

    /// A handshake whose ephemeral key is drawn from `rng`.
    pub fn with_rng<R: CryptoRng + ?Sized>(
        auth_key_id: u16,
        client_secret: &SecretArray<EC_SECRET_LEN>,
        device_public_key: &[u8],
        rng: &mut R,
    ) -> Result<Self, SessionError> {
        Self::new(auth_key_id, client_secret, device_public_key, &random_secret(rng))
    }

    /// The authentication key this handshake is for.
    pub fn auth_key_id(&self) -> u16 {
        self.auth_key_id
    }

    /// The CREATE_SESSION request: `03 00 43 key_id(2) EPK-OCE(65)`.
    pub fn request(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(HEADER_LEN + 2 + EC_PUBLIC_KEY_LEN);
        w.u8(CommandCode::CREATE_SESSION.0).u16(2 + 65).u16(self.auth_key_id).bytes(&self.epk_oce);
        w.into_vec()
    }

    /// Derives the session keys from the response `session_id EPK-SD(65) receipt(16)`,
    /// checks the receipt (constant time) and returns the authenticated session: there is
    /// no AUTHENTICATE_SESSION step.
    pub fn on_create_session_response(self, frame: &[u8]) -> Result<ClientSession, SessionError> {
        let data = frame::decode_response(CommandCode::CREATE_SESSION, frame)?;
        let mut r = Reader::new(data);
        let session_id = r.u8("create-session response: session id")?;
        let epk_sd: [u8; EC_PUBLIC_KEY_LEN] =
            r.array("create-session response: ephemeral public key")?;
        let receipt: [u8; RECEIPT_LEN] = r.array("create-session response: receipt")?;
        r.finish("create-session response")?;

        let device_ephemeral = parse_public(&epk_sd, "device ephemeral public key")?;
        let (receipt_key, keys) = derive(
            &shared_secret(&self.ephemeral, &device_ephemeral),
            &shared_secret(&self.static_secret, &self.device_public),
        );
        let expected = compute_receipt(&receipt_key, &epk_sd, &self.epk_oce);
        if !ct_eq(&expected, &receipt) {
            return Err(SessionError::ReceiptMismatch);
        }
        Ok(ClientSession::new(Channel::new(keys, session_id, receipt), self.auth_key_id))
    }
}

impl fmt::Debug for AsymmetricClientHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsymmetricClientHandshake")
            .field("auth_key_id", &self.auth_key_id)
            .finish_non_exhaustive()
    }
}

/// Device side of an asymmetric CREATE_SESSION: given the client's ephemeral key from the
/// request, the public key stored for `auth_key_id` (`04 || X || Y` or `X || Y`), the
/// device's static private key, a fresh ephemeral private key and the session id it
/// allocated, returns the session and the `83` response `session_id EPK-SD(65) receipt(16)`.
pub fn accept_asymmetric(
    auth_key_id: u16,
    epk_oce: &[u8; EC_PUBLIC_KEY_LEN],
    client_public_key: &[u8],
    device_secret: &SecretArray<EC_SECRET_LEN>,
    ephemeral_secret: &SecretArray<EC_SECRET_LEN>,
    session_id: u8,
) -> Result<(DeviceSession, Vec<u8>), SessionError> {
    let client_ephemeral = parse_public(epk_oce, "client ephemeral public key")?;
    let client_static = parse_public(client_public_key, "client public key")?;
    let device_static = secret_key(device_secret, "device private key")?;
    let ephemeral = secret_key(ephemeral_secret, "device ephemeral private key")?;
    let epk_sd = encode_public(&ephemeral.public_key());

    let (receipt_key, keys) = derive(
        &shared_secret(&ephemeral, &client_ephemeral),
        &shared_secret(&device_static, &client_static),
    );
    let receipt = compute_receipt(&receipt_key, &epk_sd, epk_oce);

    let mut w = Writer::with_capacity(HEADER_LEN + 1 + EC_PUBLIC_KEY_LEN + RECEIPT_LEN);
    w.u8(CommandCode::CREATE_SESSION.response())
        .u16(1 + 65 + 16)
        .u8(session_id)
        .bytes(&epk_sd)
        .bytes(&receipt);
    let session = DeviceSession::new(Channel::new(keys, session_id, receipt), auth_key_id);
    Ok((session, w.into_vec()))
}

fn secret_key(
    secret: &SecretArray<EC_SECRET_LEN>,
    what: &'static str,
) -> Result<SecretKey, SessionError> {
    SecretKey::from_bytes(secret.expose_secret().into())
        .map_err(|_| SessionError::InvalidKey { what })
}

/// A public key as `04 || X || Y` or bare `X || Y`; the point must be on the curve.
fn parse_public(bytes: &[u8], what: &'static str) -> Result<PublicKey, SessionError> {
    let mut full = [0u8; EC_PUBLIC_KEY_LEN];
    let sec1 = match bytes.len() {
        EC_PUBLIC_KEY_LEN => bytes,
        64 => {
            full[0] = 0x04;
            full[1..].copy_from_slice(bytes);
            &full[..]
        }
        _ => return Err(SessionError::InvalidKey { what }),
    };
    // Only the uncompressed form is on the wire; refuse compressed or identity encodings
    // even at the right length.
    if sec1.first() != Some(&0x04) {
        return Err(SessionError::InvalidKey { what });
    }
    PublicKey::from_sec1_bytes(sec1).map_err(|_| SessionError::InvalidKey { what })
}

fn encode_public(key: &PublicKey) -> [u8; EC_PUBLIC_KEY_LEN] {
    let point = key.to_sec1_point(false);
    let mut out = [0u8; EC_PUBLIC_KEY_LEN];
    out.copy_from_slice(point.as_bytes());
    out
}

/// ECDH (SEC 1 §3.3.1): the x coordinate of d·Q. Computed with the curve arithmetic
/// directly so that the `ecdh` feature (and its HKDF dependency, unused here) stays off.
fn shared_secret(secret: &SecretKey, public: &PublicKey) -> Zeroizing<[u8; 32]> {
    let point = (public.to_projective() * *secret.to_nonzero_scalar()).to_affine();
    Zeroizing::new(point.x().into())
}

/// X9.63-KDF-SHA256(shsee || shsss, shared info `3c 88 10`, 64 bytes), cut into the
/// receipt key and the three session keys.
fn derive(shsee: &[u8; 32], shsss: &[u8; 32]) -> (SecretArray<KEY_LEN>, SessionKeys) {
    let mut okm = Zeroizing::new([0u8; 4 * KEY_LEN]);
    x963_kdf_sha256(&[shsee, shsss], &SHARED_INFO, &mut okm[..]);
    let part = |i: usize| {
        let mut k = [0u8; KEY_LEN];
        k.copy_from_slice(&okm[i * KEY_LEN..(i + 1) * KEY_LEN]);
        SecretArray::new(k)
    };
    (part(0), SessionKeys::new(part(1), part(2), part(3)))
}

/// ANSI X9.63 KDF: block i (from 1) is SHA-256(Z || i as u32 BE || shared info).
fn x963_kdf_sha256(z: &[&[u8]], shared_info: &[u8], out: &mut [u8]) {
    for (counter, chunk) in (1u32..).zip(out.chunks_mut(32)) {
        let mut h = Sha256::new();
        for part in z {
            h.update(part);
        }
        h.update(counter.to_be_bytes());
        h.update(shared_info);
        let mut block: [u8; 32] = h.finalize().into();
        chunk.copy_from_slice(&block[..chunk.len()]);
        block.zeroize();
    }
}

fn compute_receipt(
    receipt_key: &SecretArray<KEY_LEN>,
    epk_sd: &[u8; EC_PUBLIC_KEY_LEN],
    epk_oce: &[u8; EC_PUBLIC_KEY_LEN],
) -> [u8; RECEIPT_LEN] {
    let mut m = cmac_aes128(receipt_key.expose_secret());
    m.update(epk_sd);
    m.update(epk_oce);
    m.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x963_kdf_matches_a_hand_built_first_block() {
        let z = [0x11u8; 64];
        let mut out = [0u8; 64];
        x963_kdf_sha256(&[&z[..32], &z[32..]], &SHARED_INFO, &mut out);
        let mut input = alloc::vec::Vec::new();
        input.extend_from_slice(&z);
        input.extend_from_slice(&[0, 0, 0, 1, 0x3c, 0x88, 0x10]);
        let first: [u8; 32] = Sha256::digest(&input).into();
        assert_eq!(out[..32], first);
        input[67] = 2;
        let second: [u8; 32] = Sha256::digest(&input).into();
        assert_eq!(out[32..], second);
    }

    /// No Yubico-made asymmetric transcript exists in `vectors/`. These frames were computed
    /// once with pyca/cryptography (ECDH, X963KDF, CMAC, AES) following the steps of
    /// python-yubihsm's `AsymmetricAuth.create_session` and `_secure_transceive`, so that
    /// the two halves here cannot agree on a wrong derivation (order of the shared secrets,
    /// of the receipt input, or of the four keys). Keys: client static 11.., device static
    /// 22.., client ephemeral 33.., device ephemeral 44..; key 7, session 5; one echo.
    #[test]
    fn reproduces_an_independently_computed_asymmetric_session() {
        let h = |s: &str| hex::decode(s).unwrap();
        let client_secret = SecretArray::new([0x11; 32]);
        let device_secret = SecretArray::new([0x22; 32]);
        let hs = AsymmetricClientHandshake::new(
            7,
            &client_secret,
            &public_key(&device_secret).unwrap(),
            &SecretArray::new([0x33; 32]),
        )
        .unwrap();
        let request = hs.request();
        assert_eq!(
            request,
            h("03004300070451a7580833898ea1b183cbd7350a4099078c6ef1c1e18e970cd7683035f25e7d01\
               10522712b0b5a7cff081685486984a94e6831edac46e7360fa9d834a7a81a1")
        );
        let epk_oce: [u8; 65] = request[5..].try_into().unwrap();
        let (mut device, response) = accept_asymmetric(
            7,
            &epk_oce,
            &public_key(&client_secret).unwrap(),
            &device_secret,
            &SecretArray::new([0x44; 32]),
            5,
        )
        .unwrap();
        assert_eq!(
            response,
            h("83005205045b36890dacbd7c9a96bb74a1ee28b3d2d75b72e09a20ef25cf8e6fd8a9f0350d0e14\
               bed8d4682a34d83538bdff5b96e89a6666ec0db5745d02fa1210072df75ad78fc0716c100ada16\
               bde9f81c8c0018")
        );
        let mut client = hs.on_create_session_response(&response).unwrap();

        let command = client.seal(&h("010002aabb")).unwrap();
        assert_eq!(command, h("05001905a7cd46270980cb9d858e2e4fd95c0e4b6ec97a9edd4ec630"));
        assert_eq!(device.open_command(&command).unwrap(), h("010002aabb"));
        let reply = device.seal_response(&h("810002aabb")).unwrap();
        assert_eq!(reply, h("8500190591ef8036cf1a111b54c0697d943cf87d2f34f1261cebb250"));
        assert_eq!(client.open(&reply).unwrap(), h("810002aabb"));
    }

    #[test]
    fn rejects_public_keys_off_the_curve_or_of_the_wrong_size() {
        let pk = public_key(&SecretArray::new([7u8; 32])).unwrap();
        assert!(parse_public(&pk, "k").is_ok());
        assert!(parse_public(&pk[1..], "k").is_ok());
        let mut bad = pk;
        bad[64] ^= 1;
        assert_eq!(parse_public(&bad, "k"), Err(SessionError::InvalidKey { what: "k" }));
        assert!(parse_public(&pk[..33], "k").is_err());
        let mut compressed_tag = pk;
        compressed_tag[0] = 0x02;
        assert!(parse_public(&compressed_tag, "k").is_err());
    }

    #[test]
    fn rejects_zero_and_out_of_range_private_keys() {
        assert!(public_key(&SecretArray::new([0u8; 32])).is_err());
        assert!(public_key(&SecretArray::new([0xffu8; 32])).is_err());
    }
}
