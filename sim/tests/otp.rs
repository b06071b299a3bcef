//! The OTP AEAD operations through the device: create, randomize, rewrap and decrypt-otp
//! with Yubico's OTP test vectors, and what each refuses.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail by panicking"
)]

mod common;

use common::*;
use yhsm_proto::command::{
    CreateOtpAead, DecryptOtp, DecryptOtpResponse, GenerateOtpAeadKey, OTP_AEAD_LEN, PutOtpAeadKey,
    RandomizeOtpAead, RewrapOtpAead,
};
use yhsm_proto::frame::{CommandCode, ErrorCode};
use yhsm_proto::secret::{SecretArray, SecretBytes};
use yhsm_proto::{Algorithm, Capabilities};
use yhsm_sim::Device;

const CREATE: Capabilities = Capabilities::CREATE_OTP_AEAD;
const RANDOMIZE: Capabilities = Capabilities::RANDOMIZE_OTP_AEAD;
const DECRYPT: Capabilities = Capabilities::DECRYPT_OTP;
const FROM: Capabilities = Capabilities::REWRAP_FROM_OTP_AEAD_KEY;
const TO: Capabilities = Capabilities::REWRAP_TO_OTP_AEAD_KEY;

fn caps(list: &[Capabilities]) -> Capabilities {
    Capabilities(list.iter().fold(0, |a, c| a | c.0))
}

fn generate(s: &mut Session, dev: &mut Device, id: u16, alg: Algorithm, c: Capabilities) {
    let header = header(id, "otp", 1, c, alg);
    s.call(dev, &GenerateOtpAeadKey { header, nonce_id: 0x1234_5678 }).unwrap();
}

/// Yubico's first OTP test vector credential (key 00..0f, private id 01..06) and three of
/// its OTPs (hex of the modhex in python-yubihsm's `test_otp_vectors`) with their counters.
fn credential() -> CreateOtpAead {
    CreateOtpAead {
        key_id: 0,
        key: SecretArray::new(core::array::from_fn(|i| u8::try_from(i).unwrap())),
        private_id: SecretArray::new([1, 2, 3, 4, 5, 6]),
    }
}

/// (use counter, session counter, timestamp high, timestamp low).
type Counters = (u16, u8, u8, u16);

const OTPS: [(&str, Counters); 3] = [
    ("2f5d71a4915dec304aa13ccf97bb0dbb", (1, 1, 1, 1)),
    ("cb710b462b7b1c23100cb24685b64d33", (1, 2, 1, 1)),
    ("779978129bcc2642c8adf5c19981a016", (0xfff, 1, 1, 1)),
];

fn otp(hex_otp: &str) -> [u8; 16] {
    hex::decode(hex_otp).unwrap().try_into().unwrap()
}

fn decrypt(
    s: &mut Session,
    dev: &mut Device,
    key_id: u16,
    aead: [u8; OTP_AEAD_LEN],
    otp: [u8; 16],
) -> Result<Counters, ErrorCode> {
    let DecryptOtpResponse { use_counter, session_counter, timestamp_high, timestamp_low } =
        s.call(dev, &DecryptOtp { key_id, aead, otp })?;
    Ok((use_counter, session_counter, timestamp_high, timestamp_low))
}

#[test]
fn creates_rewraps_and_decrypts_with_yubicos_vectors() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    generate(&mut s, &mut dev, 1, Algorithm::AES128_YUBICO_OTP, caps(&[CREATE, FROM, DECRYPT]));
    generate(&mut s, &mut dev, 2, Algorithm::AES192_YUBICO_OTP, caps(&[FROM, TO, DECRYPT]));
    let put = PutOtpAeadKey {
        header: header(3, "otp", 1, caps(&[DECRYPT, TO]), Algorithm::AES256_YUBICO_OTP),
        nonce_id: 1,
        key: SecretBytes::new(vec![0x33; 32]),
    };
    s.call(&mut dev, &put).unwrap();

    let aead1 = s.call(&mut dev, &CreateOtpAead { key_id: 1, ..credential() }).unwrap();
    let aead1: [u8; OTP_AEAD_LEN] = aead1.aead.as_slice().try_into().unwrap();
    let aead2 = s.call(&mut dev, &RewrapOtpAead { key_id: 1, new_key_id: 2, aead: aead1 });
    let aead2 = aead2.unwrap().aead;
    let aead3 = s.call(&mut dev, &RewrapOtpAead { key_id: 2, new_key_id: 3, aead: aead2 });
    let aead3 = aead3.unwrap().aead;
    assert!(aead1 != aead2 && aead2 != aead3 && aead1 != aead3);
    for (hex_otp, counters) in OTPS {
        for (key_id, aead) in [(1, aead1), (2, aead2), (3, aead3)] {
            assert_eq!(decrypt(&mut s, &mut dev, key_id, aead, otp(hex_otp)), Ok(counters));
        }
    }
    // An AEAD opens only under its key.
    assert_eq!(decrypt(&mut s, &mut dev, 2, aead1, otp(OTPS[0].0)), Err(ErrorCode::INVALID_DATA));
    // Rewrap needs rewrap-from on the source and rewrap-to on the destination.
    let to_one = RewrapOtpAead { key_id: 2, new_key_id: 1, aead: aead2 };
    assert_eq!(s.call(&mut dev, &to_one).err(), Some(ErrorCode::INSUFFICIENT_PERMISSIONS));
    let from_three = RewrapOtpAead { key_id: 3, new_key_id: 2, aead: aead3 };
    assert_eq!(s.call(&mut dev, &from_three).err(), Some(ErrorCode::INSUFFICIENT_PERMISSIONS));
    // Create needs its capability on the key (key 2 has none).
    let create2 = CreateOtpAead { key_id: 2, ..credential() };
    assert_eq!(s.call(&mut dev, &create2).err(), Some(ErrorCode::INSUFFICIENT_PERMISSIONS));
}

#[test]
fn randomizes_and_refuses_invalid_otps_and_altered_aeads() {
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    generate(&mut s, &mut dev, 7, Algorithm::AES128_YUBICO_OTP, caps(&[RANDOMIZE, DECRYPT]));
    let a = s.call(&mut dev, &RandomizeOtpAead { key_id: 7 }).unwrap().aead;
    let b = s.call(&mut dev, &RandomizeOtpAead { key_id: 7 }).unwrap().aead;
    assert_ne!(a, b);
    // A random block is not an OTP of the credential (Yubico's test_decrypt_invalid_otp).
    assert_eq!(decrypt(&mut s, &mut dev, 7, a, [0x5a; 16]), Err(ErrorCode::INVALID_OTP));
    // A 15-byte OTP is wrong-length.
    let mut short = vec![0, 7];
    short.extend_from_slice(&a);
    short.extend_from_slice(&[0; 15]);
    assert_eq!(s.send(&mut dev, CommandCode::DECRYPT_OTP, &short), Err(ErrorCode::WRONG_LENGTH));
    // Any altered AEAD byte is refused.
    for i in [0, 6, 20, OTP_AEAD_LEN - 1] {
        let mut bad = a;
        bad[i] ^= 1;
        assert_eq!(decrypt(&mut s, &mut dev, 7, bad, [0; 16]), Err(ErrorCode::INVALID_DATA));
    }
    // Without the capability, or on a key of another type.
    generate(&mut s, &mut dev, 8, Algorithm::AES128_YUBICO_OTP, DECRYPT);
    let randomize = RandomizeOtpAead { key_id: 8 };
    assert_eq!(s.call(&mut dev, &randomize).err(), Some(ErrorCode::INSUFFICIENT_PERMISSIONS));
    let none = RandomizeOtpAead { key_id: 9 };
    assert_eq!(s.call(&mut dev, &none).err(), Some(ErrorCode::OBJECT_NOT_FOUND));
}
