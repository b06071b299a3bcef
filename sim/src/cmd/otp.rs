//! Yubico OTP AEAD commands (proto `command/otp.rs`): put-otp-aead-key,
//! generate-otp-aead-key, and the AEAD operations on them (create-otp-aead,
//! randomize-otp-aead, rewrap-otp-aead, decrypt-otp; the crypto is `keys::otp`). Each
//! operation needs its capability on the session's key and on the OTP AEAD key; rewrap
//! needs rewrap-from on the source key and rewrap-to on the destination.

use yhsm_proto::command::{
    CreateOtpAead, DecryptOtp, GenerateOtpAeadKey, OTP_AEAD_LEN, ObjectHeader, PutOtpAeadKey,
    RandomizeOtpAead, Response, RewrapOtpAead,
};
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::secret::{SecretArray, SecretBytes};
use yhsm_proto::wrap::Body;
use yhsm_proto::{Algorithm, Capabilities, ObjectType, Origin};
use zeroize::Zeroizing;

use super::{Ctx, Done, Handle, Handler, check_new, new_object, store_new, usable};
use crate::device::Device;
use crate::keys::otp::{self, AeadKey, Credential, decrypt_otp};

pub(super) const HANDLERS: &[Handler] = &[
    Handler::of::<PutOtpAeadKey>(),
    Handler::of::<GenerateOtpAeadKey>(),
    Handler::of::<CreateOtpAead>(),
    Handler::of::<RandomizeOtpAead>(),
    Handler::of::<RewrapOtpAead>(),
    Handler::of::<DecryptOtp>(),
];

impl Handle for PutOtpAeadKey {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let size = key_size(self.header.algorithm)?;
        if self.key.len() != size {
            return Err(ErrorCode::WRONG_LENGTH);
        }
        ctx.authority.require(Capabilities::PUT_OTP_AEAD_KEY)?;
        let key = Zeroizing::new(self.key.expose_secret().to_vec());
        store(dev, ctx, self.header, self.nonce_id, Origin::IMPORTED, key)
    }
}

impl Handle for GenerateOtpAeadKey {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let size = key_size(self.header.algorithm)?;
        ctx.authority.require(Capabilities::GENERATE_OTP_AEAD_KEY)?;
        let key = Zeroizing::new(vec![0u8; size]);
        store(dev, ctx, self.header, self.nonce_id, Origin::GENERATED, key)
    }
}

fn key_size(algorithm: Algorithm) -> Result<usize, ErrorCode> {
    otp::key_size(algorithm).ok_or(ErrorCode::INVALID_DATA)
}

/// Stores an OTP AEAD key: its body is the nonce id followed by the key (an OTP AEAD
/// key's wrapped body). A generated key is drawn once the rules for a new object passed.
fn store(
    dev: &mut Device,
    ctx: &Ctx,
    header: ObjectHeader,
    nonce_id: u32,
    origin: Origin,
    mut key: Zeroizing<Vec<u8>>,
) -> Result<Done, ErrorCode> {
    let new = new_object(header, ObjectType::OTP_AEAD_KEY, origin);
    let id = check_new(dev, ctx, &new)?;
    if origin == Origin::GENERATED {
        dev.random(&mut key);
    }
    let mut body = Zeroizing::new(nonce_id.to_be_bytes().to_vec());
    body.extend_from_slice(&key);
    Ok(Done::id(store_new(dev, id, new, Body::Raw(SecretBytes::from_slice(&body)))?))
}

impl Handle for CreateOtpAead {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let credential = Credential { key: self.key, private_id: self.private_id };
        let aead = seal(dev, ctx, self.key_id, Capabilities::CREATE_OTP_AEAD, &credential)?;
        Ok(Done::data(aead).target(self.key_id))
    }
}

impl Handle for RandomizeOtpAead {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        usable(dev, ctx, self.key_id, ObjectType::OTP_AEAD_KEY, Capabilities::RANDOMIZE_OTP_AEAD)?;
        let mut random = Zeroizing::new([0u8; 16 + 6]);
        dev.random(random.as_mut_slice());
        let (key, id) = random.split_at(16);
        let credential = Credential {
            key: SecretArray::from_slice(key).ok_or(ErrorCode::INVALID_DATA)?,
            private_id: SecretArray::from_slice(id).ok_or(ErrorCode::INVALID_DATA)?,
        };
        let aead = seal(dev, ctx, self.key_id, Capabilities::RANDOMIZE_OTP_AEAD, &credential)?;
        Ok(Done::data(aead).target(self.key_id))
    }
}

impl Handle for RewrapOtpAead {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let credential =
            open(dev, ctx, self.key_id, Capabilities::REWRAP_FROM_OTP_AEAD_KEY, &self.aead)?;
        let to = Capabilities::REWRAP_TO_OTP_AEAD_KEY;
        let aead = seal(dev, ctx, self.new_key_id, to, &credential)?;
        Ok(Done::data(aead).target(self.key_id).second(self.new_key_id))
    }
}

impl Handle for DecryptOtp {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let credential = open(dev, ctx, self.key_id, Capabilities::DECRYPT_OTP, &self.aead)?;
        let answer = decrypt_otp(&credential, &self.otp)?;
        Ok(Done::data(answer.to_data().to_vec()).target(self.key_id))
    }
}

/// Seals `credential` under the OTP AEAD key `id` (usable with `cap`) with a fresh nonce.
fn seal(
    dev: &mut Device,
    ctx: &Ctx,
    id: u16,
    cap: Capabilities,
    credential: &Credential,
) -> Result<Vec<u8>, ErrorCode> {
    let mut nonce = [0u8; 6];
    dev.random(&mut nonce);
    let object = usable(dev, ctx, id, ObjectType::OTP_AEAD_KEY, cap)?;
    let Body::Raw(body) = &object.body else { return Err(ErrorCode::INVALID_DATA) };
    let key = AeadKey::from_body(object.algorithm, body.expose_secret())?;
    Ok(key.seal(nonce, credential)?.to_vec())
}

/// Opens `aead` with the OTP AEAD key `id` (usable with `cap`).
fn open(
    dev: &Device,
    ctx: &Ctx,
    id: u16,
    cap: Capabilities,
    aead: &[u8; OTP_AEAD_LEN],
) -> Result<Credential, ErrorCode> {
    let object = usable(dev, ctx, id, ObjectType::OTP_AEAD_KEY, cap)?;
    let Body::Raw(body) = &object.body else { return Err(ErrorCode::INVALID_DATA) };
    AeadKey::from_body(object.algorithm, body.expose_secret())?.open(aead)
}
