//! Yubico OTP AEADs (docs/PROTOCOL.md §7.5): the credential of a YubiKey OTP slot (its
//! 16-byte AES key and 6-byte private id) sealed under an OTP AEAD key, and the decryption
//! of that YubiKey's OTPs (Yubico's command reference: CREATE / RANDOMIZE / REWRAP OTP
//! AEAD, DECRYPT OTP; the layout is the one python-yubihsm's `test_otp` and libyubihsm's
//! `yubico_otp` example decrypt themselves).
//!
//! - An OTP AEAD key is stored as `nonce_id(4) || key` (AES-128/192/256). The nonce id is
//!   kept in the byte order the host sent it: Yubico's clients read it back as the first
//!   four bytes of the CCM nonce in host (little-endian) order.
//! - An AEAD is `nonce(6) || AES-CCM(key, nonce_id || nonce || 00 00 00, otp_key(16) ||
//!   private_id(6)) || tag(8)`, 36 bytes.
//! - An OTP is one AES-128-ECB block under the credential's key: `private_id(6)
//!   use_counter(2, LE) timestamp_low(2, LE) timestamp_high(1) session_counter(1)
//!   random(2) crc(2)`; it is valid when its CRC-16 residue is 0xf0b8 and its private id is
//!   the AEAD's (Yubico's OTP specification).

use aes::cipher::{BlockCipherDecrypt, KeyInit};
use aes::{Aes128, Aes192, Aes256};
use ccm::aead::AeadInOut;
use ccm::aead::array::Array;
use ccm::consts::{U8, U13};
use yhsm_proto::Algorithm;
use yhsm_proto::command::{DecryptOtpResponse, OTP_AEAD_LEN as AEAD_LEN, OTP_LEN};
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::secret::{SecretArray, ct_eq};
use zeroize::Zeroizing;

/// The length of a nonce id.
pub const NONCE_ID_LEN: usize = 4;
const NONCE_LEN: usize = 6;
const CREDENTIAL_LEN: usize = 16 + 6;
const TAG_LEN: usize = 8;
const _: () = assert!(AEAD_LEN == NONCE_LEN + CREDENTIAL_LEN + TAG_LEN);
/// CRC-16 (ISO 13239) of a valid token, its own CRC included.
const CRC_RESIDUE: u16 = 0xf0b8;

/// The AES key size of an OTP AEAD key algorithm.
pub fn key_size(alg: Algorithm) -> Option<usize> {
    match alg {
        Algorithm::AES128_YUBICO_OTP => Some(16),
        Algorithm::AES192_YUBICO_OTP => Some(24),
        Algorithm::AES256_YUBICO_OTP => Some(32),
        _ => None,
    }
}

/// A YubiKey OTP credential: its AES-128 key and private id (both secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    pub key: SecretArray<16>,
    pub private_id: SecretArray<6>,
}

impl Credential {
    fn to_bytes(&self) -> Zeroizing<[u8; CREDENTIAL_LEN]> {
        let mut out = Zeroizing::new([0u8; CREDENTIAL_LEN]);
        let (key, id) = out.split_at_mut(16);
        key.copy_from_slice(self.key.expose_secret());
        id.copy_from_slice(self.private_id.expose_secret());
        out
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (key, id) = bytes.split_at_checked(16)?;
        Some(Self { key: SecretArray::from_slice(key)?, private_id: SecretArray::from_slice(id)? })
    }
}

/// An OTP AEAD key as stored: `nonce_id(4) || key`. `Debug` shows the nonce id and the
/// key's length, never the key.
pub struct AeadKey<'a> {
    nonce_id: [u8; NONCE_ID_LEN],
    key: &'a [u8],
}

impl std::fmt::Debug for AeadKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AeadKey")
            .field("nonce_id", &self.nonce_id)
            .field("key_len", &self.key.len())
            .finish_non_exhaustive()
    }
}

impl<'a> AeadKey<'a> {
    /// Splits a stored OTP AEAD key body; invalid-data when it is not one.
    pub fn from_body(alg: Algorithm, body: &'a [u8]) -> Result<Self, ErrorCode> {
        let size = key_size(alg).ok_or(ErrorCode::INVALID_DATA)?;
        let (nonce_id, key) = body.split_at_checked(NONCE_ID_LEN).ok_or(ErrorCode::INVALID_DATA)?;
        if key.len() != size {
            return Err(ErrorCode::INVALID_DATA);
        }
        let nonce_id = nonce_id.try_into().map_err(|_| ErrorCode::INVALID_DATA)?;
        Ok(Self { nonce_id, key })
    }

    fn ccm_nonce(&self, nonce: &[u8]) -> Array<u8, U13> {
        let mut n = [0u8; 13];
        n[..NONCE_ID_LEN].copy_from_slice(&self.nonce_id);
        n[NONCE_ID_LEN..NONCE_ID_LEN + NONCE_LEN].copy_from_slice(nonce);
        Array::from(n)
    }

    /// Seals `credential` with the 6-byte `nonce` (random, from the device).
    pub fn seal(
        &self,
        nonce: [u8; NONCE_LEN],
        credential: &Credential,
    ) -> Result<[u8; AEAD_LEN], ErrorCode> {
        fn run<C: KeyInit + AeadInOut<NonceSize = U13, TagSize = U8>>(
            key: &[u8],
            nonce: &Array<u8, U13>,
            buf: &mut [u8],
        ) -> Result<[u8; TAG_LEN], ErrorCode> {
            let cipher = C::new_from_slice(key).map_err(|_| ErrorCode::INVALID_DATA)?;
            let tag = cipher
                .encrypt_inout_detached(nonce, &[], buf.into())
                .map_err(|_| ErrorCode::INVALID_DATA)?;
            Ok(tag.into())
        }
        let mut buf = credential.to_bytes();
        let ccm_nonce = self.ccm_nonce(&nonce);
        let tag = match self.key.len() {
            16 => run::<ccm::Ccm<Aes128, U8, U13>>(self.key, &ccm_nonce, buf.as_mut_slice())?,
            24 => run::<ccm::Ccm<Aes192, U8, U13>>(self.key, &ccm_nonce, buf.as_mut_slice())?,
            32 => run::<ccm::Ccm<Aes256, U8, U13>>(self.key, &ccm_nonce, buf.as_mut_slice())?,
            _ => return Err(ErrorCode::INVALID_DATA),
        };
        let mut out = [0u8; AEAD_LEN];
        out[..NONCE_LEN].copy_from_slice(&nonce);
        out[NONCE_LEN..NONCE_LEN + CREDENTIAL_LEN].copy_from_slice(buf.as_slice());
        out[NONCE_LEN + CREDENTIAL_LEN..].copy_from_slice(&tag);
        Ok(out)
    }

    /// Opens an AEAD made under this key: invalid-data when it does not authenticate (made
    /// under another key or nonce id, or altered).
    pub fn open(&self, aead: &[u8; AEAD_LEN]) -> Result<Credential, ErrorCode> {
        fn run<C: KeyInit + AeadInOut<NonceSize = U13, TagSize = U8>>(
            key: &[u8],
            nonce: &Array<u8, U13>,
            buf: &mut [u8],
            tag: &[u8],
        ) -> Result<(), ErrorCode> {
            let cipher = C::new_from_slice(key).map_err(|_| ErrorCode::INVALID_DATA)?;
            let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| ErrorCode::INVALID_DATA)?;
            cipher
                .decrypt_inout_detached(nonce, &[], buf.into(), &Array::from(tag))
                .map_err(|_| ErrorCode::INVALID_DATA)
        }
        let (nonce, rest) = aead.split_at(NONCE_LEN);
        let (ct, tag) = rest.split_at(CREDENTIAL_LEN);
        let mut buf = Zeroizing::new([0u8; CREDENTIAL_LEN]);
        buf.copy_from_slice(ct);
        let ccm_nonce = self.ccm_nonce(nonce);
        match self.key.len() {
            16 => run::<ccm::Ccm<Aes128, U8, U13>>(self.key, &ccm_nonce, buf.as_mut_slice(), tag)?,
            24 => run::<ccm::Ccm<Aes192, U8, U13>>(self.key, &ccm_nonce, buf.as_mut_slice(), tag)?,
            32 => run::<ccm::Ccm<Aes256, U8, U13>>(self.key, &ccm_nonce, buf.as_mut_slice(), tag)?,
            _ => return Err(ErrorCode::INVALID_DATA),
        }
        Credential::from_bytes(buf.as_slice()).ok_or(ErrorCode::INVALID_DATA)
    }
}

/// Decrypts `otp` with `credential` into DECRYPT_OTP's answer: invalid-otp unless its CRC
/// checks and it carries the credential's private id.
pub fn decrypt_otp(
    credential: &Credential,
    otp: &[u8; OTP_LEN],
) -> Result<DecryptOtpResponse, ErrorCode> {
    let cipher = Aes128::new_from_slice(credential.key.expose_secret())
        .map_err(|_| ErrorCode::INVALID_DATA)?;
    let mut token = Zeroizing::new(Array::from(*otp));
    cipher.decrypt_block(&mut token);
    let t: &[u8] = token.as_slice();
    let id_ok = t.get(..6).is_some_and(|id| ct_eq(id, credential.private_id.expose_secret()));
    if crc16(t) != CRC_RESIDUE || !id_ok {
        return Err(ErrorCode::INVALID_OTP);
    }
    let le = |i: usize| u16::from_le_bytes([t[i], t[i + 1]]);
    Ok(DecryptOtpResponse {
        use_counter: le(6),
        timestamp_low: le(8),
        timestamp_high: t[10],
        session_counter: t[11],
    })
}

/// CRC-16 as the YubiKey computes it (ISO 13239: reflected 0x8408, initial 0xffff).
fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0xffffu16;
    for b in data {
        crc ^= u16::from(*b);
        for _ in 0..8 {
            let lsb = crc & 1;
            crc >>= 1;
            if lsb != 0 {
                crc ^= 0x8408;
            }
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    fn modhex(s: &str) -> [u8; OTP_LEN] {
        let hex: String = s
            .chars()
            .map(|c| {
                let i = "cbdefghijklnrtuv".find(c).unwrap();
                char::from_digit(u32::try_from(i).unwrap(), 16).unwrap()
            })
            .collect();
        unhex(&hex).try_into().unwrap()
    }

    fn credential(key: &str, id: &str) -> Credential {
        Credential {
            key: SecretArray::from_slice(&unhex(key)).unwrap(),
            private_id: SecretArray::from_slice(&unhex(id)).unwrap(),
        }
    }

    /// Yubico's OTP test vectors (developers.yubico.com/OTP/Specifications/Test_vectors),
    /// as python-yubihsm's `test_otp_vectors` uses them: key, private id, OTP, counters.
    /// key, private id, OTP, (use counter, session counter, timestamp high, low).
    type Vector = (&'static str, &'static str, &'static str, (u16, u8, u8, u16));

    const VECTORS: &[Vector] = &[
        (
            "000102030405060708090a0b0c0d0e0f",
            "010203040506",
            "dvgtiblfkbgturecfllberrvkinnctnn",
            (1, 1, 1, 1),
        ),
        (
            "000102030405060708090a0b0c0d0e0f",
            "010203040506",
            "rnibcnfhdninbrdebccrndfhjgnhftee",
            (1, 2, 1, 1),
        ),
        (
            "000102030405060708090a0b0c0d0e0f",
            "010203040506",
            "iikkijbdknrrdhfdrjltvgrbkkjblcbh",
            (0xfff, 1, 1, 1),
        ),
        (
            "88888888888888888888888888888888",
            "888888888888",
            "dcihgvrhjeucvrinhdfddbjhfjftjdei",
            (0x8888, 0x88, 0x88, 0x8888),
        ),
        (
            "00000000000000000000000000000000",
            "000000000000",
            "kkkncjnvcnenkjvjgncjihljiibgbhbh",
            (0, 0, 0, 0),
        ),
        (
            "c4422890653076cde73d449b191b416a",
            "33c69e7f249e",
            "iucvrkjiegbhidrcicvlgrcgkgurhjnj",
            (1, 0, 0x24, 0x13a7),
        ),
    ];

    #[test]
    fn decrypts_yubicos_otp_vectors() {
        for (key, id, otp, (use_counter, session_counter, timestamp_high, timestamp_low)) in VECTORS
        {
            let cred = credential(key, id);
            let data = decrypt_otp(&cred, &modhex(otp)).unwrap();
            let expected = DecryptOtpResponse {
                use_counter: *use_counter,
                session_counter: *session_counter,
                timestamp_high: *timestamp_high,
                timestamp_low: *timestamp_low,
            };
            assert_eq!(data, expected, "{otp}");
        }
    }

    #[test]
    fn refuses_an_otp_of_another_credential_or_a_random_block() {
        let (key, id, otp, _) = VECTORS[0];
        // Same key, another private id: the CRC checks, the id does not.
        let other = credential(key, "010203040507");
        assert_eq!(decrypt_otp(&other, &modhex(otp)), Err(ErrorCode::INVALID_OTP));
        // Another key: garbage.
        let other = credential("000102030405060708090a0b0c0d0e0e", id);
        assert_eq!(decrypt_otp(&other, &modhex(otp)), Err(ErrorCode::INVALID_OTP));
        let mut flipped = modhex(otp);
        flipped[3] ^= 0x10;
        assert_eq!(decrypt_otp(&credential(key, id), &flipped), Err(ErrorCode::INVALID_OTP));
    }

    /// AEADs made by pyca/cryptography's AESCCM (OpenSSL) with an 8-byte tag, for a nonce id
    /// `78 56 34 12` (0x12345678 as libyubihsm sends it), nonce `a1..a6`, credential key
    /// `00..0f` and private id `01..06`.
    #[test]
    fn seals_and_opens_as_an_independent_ccm_does() {
        let cred = credential("000102030405060708090a0b0c0d0e0f", "010203040506");
        let nonce = [0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6];
        for (alg, key, aead) in [
            (
                Algorithm::AES128_YUBICO_OTP,
                "404142434445464748494a4b4c4d4e4f",
                "a1a2a3a4a5a68989b181933cce3a71a94d089e8713f32157ec5b5299455cbe47df7d8c4f",
            ),
            (
                Algorithm::AES256_YUBICO_OTP,
                "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f",
                "a1a2a3a4a5a6bf1e6fb56ca6867168fba75182ba98d728dd7889cf33059e7db079219029",
            ),
        ] {
            let body = [unhex("78563412"), unhex(key)].concat();
            let k = AeadKey::from_body(alg, &body).unwrap();
            let sealed = k.seal(nonce, &cred).unwrap();
            assert_eq!(hex::encode(sealed), aead, "{alg}");
            assert_eq!(k.open(&sealed).unwrap(), cred);
            // Any altered byte fails to authenticate.
            for i in 0..AEAD_LEN {
                let mut bad = sealed;
                bad[i] ^= 1;
                assert_eq!(k.open(&bad), Err(ErrorCode::INVALID_DATA), "{alg} byte {i}");
            }
            // Another nonce id (the same key) does not open it either.
            let other = [unhex("12345678"), unhex(key)].concat();
            let other = AeadKey::from_body(alg, &other).unwrap();
            assert_eq!(other.open(&sealed), Err(ErrorCode::INVALID_DATA));
        }
    }

    #[test]
    fn debug_shows_the_nonce_id_but_not_the_key() {
        let body = [&[0x78, 0x56, 0x34, 0x12][..], &[0xc3; 32]].concat();
        let key = AeadKey::from_body(Algorithm::AES256_YUBICO_OTP, &body).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains("key_len: 32") && shown.contains("120"), "{shown}");
        assert!(!shown.contains("195") && !shown.contains("c3"), "{shown}");
    }

    #[test]
    fn refuses_a_body_of_the_wrong_size_or_algorithm() {
        let body = [0u8; 4 + 16];
        assert!(AeadKey::from_body(Algorithm::AES128_YUBICO_OTP, &body).is_ok());
        assert!(AeadKey::from_body(Algorithm::AES192_YUBICO_OTP, &body).is_err());
        assert!(AeadKey::from_body(Algorithm::AES128, &body).is_err());
        assert!(AeadKey::from_body(Algorithm::AES128_YUBICO_OTP, &body[..19]).is_err());
    }
}
