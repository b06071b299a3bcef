//! Yubico OTP AEAD commands (docs/PROTOCOL.md §7.5; layouts as python-yubihsm sends
//! them): put-otp-aead-key, generate-otp-aead-key, create-otp-aead, randomize-otp-aead,
//! rewrap-otp-aead and decrypt-otp.
//!
//! An AEAD is [`OTP_AEAD_LEN`] bytes (`nonce(6) ciphertext(22) tag(8)`, libyubihsm's
//! `yh_util_decrypt_otp`); an OTP is one AES block, [`OTP_LEN`] bytes.

use alloc::vec::Vec;

use super::{Command, ObjectHeader, Redact, Response, check_created_id, header_names, id_response};
use crate::codec::{DecodeError, Reader, Writer};
use crate::frame::CommandCode;
use crate::object::ObjectId;
use crate::secret::{SecretArray, SecretBytes};

/// PUT_OTP_AEAD_KEY (65): `hdr nonce_id(4) key` → id. Whether the key's length suits the
/// algorithm (aes128/192/256-yubico-otp) is the device's call: the decoder takes any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutOtpAeadKey {
    pub header: ObjectHeader,
    pub nonce_id: u32,
    pub key: SecretBytes,
}

id_response! {
    /// The answer to [`PutOtpAeadKey`].
    PutOtpAeadKeyResponse, "put-otp-aead-key"
}

impl Command for PutOtpAeadKey {
    const CODE: CommandCode = CommandCode::PUT_OTP_AEAD_KEY;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = PutOtpAeadKeyResponse;

    fn encode(&self, w: &mut Writer) {
        self.header.encode(w);
        w.u32(self.nonce_id).bytes(self.key.expose_secret());
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let header = ObjectHeader::read(&mut r, &header_names!("put-otp-aead-key"))?;
        let nonce_id = r.u32("put-otp-aead-key: nonce id")?;
        Ok(Self { header, nonce_id, key: SecretBytes::from_slice(r.rest()) })
    }

    fn check_response(&self, response: &PutOtpAeadKeyResponse) -> Result<(), DecodeError> {
        check_created_id(self.header.id, response.id, "put-otp-aead-key response: id")
    }

    /// The nonce id goes with the key.
    fn secret_in_request(_data: &[u8]) -> Redact {
        Redact::From(ObjectHeader::LEN)
    }
}

/// GENERATE_OTP_AEAD_KEY (66): `hdr nonce_id(4)` → id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GenerateOtpAeadKey {
    pub header: ObjectHeader,
    pub nonce_id: u32,
}

id_response! {
    /// The answer to [`GenerateOtpAeadKey`].
    GenerateOtpAeadKeyResponse, "generate-otp-aead-key"
}

impl Command for GenerateOtpAeadKey {
    const CODE: CommandCode = CommandCode::GENERATE_OTP_AEAD_KEY;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = GenerateOtpAeadKeyResponse;

    fn encode(&self, w: &mut Writer) {
        self.header.encode(w);
        w.u32(self.nonce_id);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let header = ObjectHeader::read(&mut r, &header_names!("generate-otp-aead-key"))?;
        let nonce_id = r.u32("generate-otp-aead-key: nonce id")?;
        r.finish("generate-otp-aead-key")?;
        Ok(Self { header, nonce_id })
    }

    fn check_response(&self, response: &GenerateOtpAeadKeyResponse) -> Result<(), DecodeError> {
        check_created_id(self.header.id, response.id, "generate-otp-aead-key response: id")
    }
}

/// CREATE_OTP_AEAD (61): `key_id(2) key(16) private_id(6)` → an AEAD holding a YubiKey's
/// OTP key and private id under the OTP AEAD key `key_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateOtpAead {
    pub key_id: ObjectId,
    pub key: SecretArray<16>,
    pub private_id: SecretArray<6>,
}

/// The answer to [`CreateOtpAead`]: the AEAD (nonce, ciphertext and tag).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateOtpAeadResponse {
    pub aead: Vec<u8>,
}

impl Command for CreateOtpAead {
    const CODE: CommandCode = CommandCode::CREATE_OTP_AEAD;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = CreateOtpAeadResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.key_id).bytes(self.key.expose_secret()).bytes(self.private_id.expose_secret());
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let key_id = r.u16("create-otp-aead: key id")?;
        let key = SecretArray::new(r.array("create-otp-aead: key")?);
        let private_id = SecretArray::new(r.array("create-otp-aead: private id")?);
        r.finish("create-otp-aead")?;
        Ok(Self { key_id, key, private_id })
    }

    fn secret_in_request(_data: &[u8]) -> Redact {
        Redact::From(2)
    }
}

impl Response for CreateOtpAeadResponse {
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.aead);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        if data.is_empty() {
            return Err(DecodeError::bad_length("create-otp-aead response", 0));
        }
        Ok(Self { aead: data.to_vec() })
    }
}

/// The length of an OTP AEAD: a 6-byte nonce, the YubiKey's 16-byte key and 6-byte
/// private id encrypted, an 8-byte tag.
pub const OTP_AEAD_LEN: usize = 6 + 16 + 6 + 8;

/// The length of a YubiKey OTP (one AES block, before modhex).
pub const OTP_LEN: usize = 16;

/// An answer that is an OTP AEAD.
fn read_aead(data: &[u8], what: &'static str) -> Result<[u8; OTP_AEAD_LEN], DecodeError> {
    data.try_into().map_err(|_| DecodeError::bad_length(what, data.len()))
}

/// RANDOMIZE_OTP_AEAD (62): `key_id(2)` → an AEAD of a random YubiKey key and private id
/// under the OTP AEAD key `key_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RandomizeOtpAead {
    pub key_id: ObjectId,
}

/// The answer to [`RandomizeOtpAead`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RandomizeOtpAeadResponse {
    pub aead: [u8; OTP_AEAD_LEN],
}

impl Command for RandomizeOtpAead {
    const CODE: CommandCode = CommandCode::RANDOMIZE_OTP_AEAD;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = RandomizeOtpAeadResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.key_id);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let key_id = r.u16("randomize-otp-aead: key id")?;
        r.finish("randomize-otp-aead")?;
        Ok(Self { key_id })
    }
}

impl Response for RandomizeOtpAeadResponse {
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.aead);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self { aead: read_aead(data, "randomize-otp-aead response")? })
    }
}

/// REWRAP_OTP_AEAD (63): `key_id(2) new_key_id(2) aead` → the same credential under the
/// OTP AEAD key `new_key_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RewrapOtpAead {
    pub key_id: ObjectId,
    pub new_key_id: ObjectId,
    pub aead: [u8; OTP_AEAD_LEN],
}

/// The answer to [`RewrapOtpAead`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RewrapOtpAeadResponse {
    pub aead: [u8; OTP_AEAD_LEN],
}

impl Command for RewrapOtpAead {
    const CODE: CommandCode = CommandCode::REWRAP_OTP_AEAD;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = RewrapOtpAeadResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.key_id).u16(self.new_key_id).bytes(&self.aead);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let key_id = r.u16("rewrap-otp-aead: key id")?;
        let new_key_id = r.u16("rewrap-otp-aead: new key id")?;
        let aead = r.array("rewrap-otp-aead: aead")?;
        r.finish("rewrap-otp-aead")?;
        Ok(Self { key_id, new_key_id, aead })
    }
}

impl Response for RewrapOtpAeadResponse {
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.aead);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self { aead: read_aead(data, "rewrap-otp-aead response")? })
    }
}

/// DECRYPT_OTP (60): `key_id(2) aead otp(16)` → the OTP's counters, when it is valid for
/// the credential in the AEAD (invalid-otp otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DecryptOtp {
    pub key_id: ObjectId,
    pub aead: [u8; OTP_AEAD_LEN],
    pub otp: [u8; OTP_LEN],
}

/// The answer to [`DecryptOtp`]: `use_counter(2) session_counter(1) timestamp_high(1)
/// timestamp_low(2)`, the two 16-bit counters little-endian (the device copies them from
/// the decrypted token as they are; python-yubihsm unpacks `<HBBH`, libyubihsm a packed
/// struct in host order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DecryptOtpResponse {
    pub use_counter: u16,
    pub session_counter: u8,
    pub timestamp_high: u8,
    pub timestamp_low: u16,
}

impl Command for DecryptOtp {
    const CODE: CommandCode = CommandCode::DECRYPT_OTP;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = DecryptOtpResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.key_id).bytes(&self.aead).bytes(&self.otp);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let key_id = r.u16("decrypt-otp: key id")?;
        let aead = r.array("decrypt-otp: aead")?;
        let otp = r.array("decrypt-otp: otp")?;
        r.finish("decrypt-otp")?;
        Ok(Self { key_id, aead, otp })
    }
}

impl Response for DecryptOtpResponse {
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.use_counter.to_le_bytes())
            .u8(self.session_counter)
            .u8(self.timestamp_high)
            .bytes(&self.timestamp_low.to_le_bytes());
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let what = "decrypt-otp response";
        let [u0, u1, session_counter, timestamp_high, t0, t1] =
            <[u8; 6]>::try_from(data).map_err(|_| DecodeError::bad_length(what, data.len()))?;
        Ok(Self {
            use_counter: u16::from_le_bytes([u0, u1]),
            session_counter,
            timestamp_high,
            timestamp_low: u16::from_le_bytes([t0, t1]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{Algorithm, Capabilities, Domains, Label};
    use alloc::vec;

    #[test]
    fn round_trips_otp_requests_in_wire_order() {
        let header = ObjectHeader {
            id: 5,
            label: Label::default(),
            domains: Domains(1),
            capabilities: Capabilities(0),
            algorithm: Algorithm::AES128_YUBICO_OTP,
        };
        let put =
            PutOtpAeadKey { header, nonce_id: 0x0102_0304, key: SecretBytes::new(vec![9; 16]) };
        let data = put.to_data();
        assert_eq!(&data[ObjectHeader::LEN..ObjectHeader::LEN + 4], &[1, 2, 3, 4]);
        assert_eq!(PutOtpAeadKey::decode(&data), Ok(put));
        let generate = GenerateOtpAeadKey { header, nonce_id: 7 };
        let mut data = generate.to_data().to_vec();
        assert_eq!(GenerateOtpAeadKey::decode(&data), Ok(generate));
        data.push(0);
        assert!(GenerateOtpAeadKey::decode(&data).is_err());
        let create = CreateOtpAead {
            key_id: 3,
            key: SecretArray::new([4; 16]),
            private_id: SecretArray::new([5; 6]),
        };
        let data = create.to_data();
        assert_eq!(data.len(), 24);
        assert_eq!(CreateOtpAead::decode(&data), Ok(create));
        assert_eq!(
            CreateOtpAead::decode(&data[..23]).unwrap_err().what,
            "create-otp-aead: private id"
        );
    }

    #[test]
    fn round_trips_the_aead_operations_and_rejects_every_truncation() {
        let aead: [u8; OTP_AEAD_LEN] = core::array::from_fn(|i| u8::try_from(i).unwrap());
        let randomize = RandomizeOtpAead { key_id: 0x0102 };
        assert_eq!(randomize.to_data().as_slice(), &[1, 2]);
        let rewrap = RewrapOtpAead { key_id: 1, new_key_id: 2, aead };
        let decrypt = DecryptOtp { key_id: 3, aead, otp: [0xee; OTP_LEN] };
        // Every truncation of each request is refused by its own decoder.
        for len in 0..randomize.to_data().len() {
            assert!(RandomizeOtpAead::decode(&randomize.to_data()[..len]).is_err(), "{len}");
        }
        for len in 0..rewrap.to_data().len() {
            assert!(RewrapOtpAead::decode(&rewrap.to_data()[..len]).is_err(), "{len}");
        }
        for len in 0..decrypt.to_data().len() {
            assert!(DecryptOtp::decode(&decrypt.to_data()[..len]).is_err(), "{len}");
        }
        assert_eq!(RandomizeOtpAead::decode(&randomize.to_data()), Ok(randomize));
        assert_eq!(RewrapOtpAead::decode(&rewrap.to_data()), Ok(rewrap));
        assert_eq!(rewrap.to_data().len(), 4 + OTP_AEAD_LEN);
        assert_eq!(DecryptOtp::decode(&decrypt.to_data()), Ok(decrypt));
        assert_eq!(decrypt.to_data().len(), 2 + OTP_AEAD_LEN + OTP_LEN);
        // A 15-byte OTP (Yubico's `test_decrypt_invalid_otp`) and a trailing byte.
        let short = &decrypt.to_data()[..2 + OTP_AEAD_LEN + 15];
        assert_eq!(DecryptOtp::decode(short).unwrap_err().what, "decrypt-otp: otp");
        let long = [decrypt.to_data().as_slice(), &[0]].concat();
        assert!(DecryptOtp::decode(&long).is_err());
        assert!(RewrapOtpAead::decode(&[rewrap.to_data().as_slice(), &[0]].concat()).is_err());
        assert!(RandomizeOtpAead::decode(&[1, 2, 3]).is_err());
    }

    #[test]
    fn reads_the_counters_little_endian_and_aeads_of_one_length() {
        let counters = DecryptOtpResponse {
            use_counter: 0x8888,
            session_counter: 0x01,
            timestamp_high: 0x24,
            timestamp_low: 0x13a7,
        };
        assert_eq!(counters.to_data().as_slice(), &[0x88, 0x88, 0x01, 0x24, 0xa7, 0x13]);
        assert_eq!(DecryptOtpResponse::decode(&counters.to_data()), Ok(counters));
        for len in [0, 5, 7] {
            assert!(DecryptOtpResponse::decode(&vec![0; len]).is_err(), "{len}");
        }
        let aead = [7u8; OTP_AEAD_LEN];
        let answer = RandomizeOtpAeadResponse { aead };
        assert_eq!(RandomizeOtpAeadResponse::decode(&answer.to_data()), Ok(answer));
        assert_eq!(RewrapOtpAeadResponse::decode(&aead), Ok(RewrapOtpAeadResponse { aead }));
        for len in [0, OTP_AEAD_LEN - 1, OTP_AEAD_LEN + 1] {
            assert!(RandomizeOtpAeadResponse::decode(&vec![0; len]).is_err(), "{len}");
            assert!(RewrapOtpAeadResponse::decode(&vec![0; len]).is_err(), "{len}");
        }
    }
}
