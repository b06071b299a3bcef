//! Symmetric (AES) key commands (proto `command/symmetric.rs`): put-symmetric-key,
//! generate-symmetric-key, encrypt/decrypt-ecb and encrypt/decrypt-cbc.

use yhsm_proto::command::{
    DecryptCbc, DecryptEcb, EncryptCbc, EncryptEcb, GenerateSymmetricKey, PutSymmetricKey,
};
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::secret::SecretBytes;
use yhsm_proto::wrap::Body;
use yhsm_proto::{Capabilities, ObjectType, Origin};
use zeroize::Zeroizing;

use super::{Ctx, Done, Handle, Handler, check_new, new_object, store_new, usable};
use crate::device::Device;
use crate::keys::sym::{self, Direction};

pub(super) const HANDLERS: &[Handler] = &[
    Handler::of::<PutSymmetricKey>(),
    Handler::of::<GenerateSymmetricKey>(),
    Handler::of::<EncryptEcb>(),
    Handler::of::<DecryptEcb>(),
    Handler::of::<EncryptCbc>(),
    Handler::of::<DecryptCbc>(),
];

impl Handle for PutSymmetricKey {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        ctx.authority.require(Capabilities::PUT_SYMMETRIC_KEY)?;
        let size = self.header.algorithm.aes_key_size().ok_or(ErrorCode::INVALID_DATA)?;
        if self.key.len() != size {
            return Err(ErrorCode::WRONG_LENGTH);
        }
        let new = new_object(self.header, ObjectType::SYMMETRIC_KEY, Origin::IMPORTED);
        let id = check_new(dev, ctx, &new)?;
        Ok(Done::id(store_new(dev, id, new, Body::Raw(self.key))?))
    }
}

impl Handle for GenerateSymmetricKey {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        ctx.authority.require(Capabilities::GENERATE_SYMMETRIC_KEY)?;
        let size = self.header.algorithm.aes_key_size().ok_or(ErrorCode::INVALID_DATA)?;
        let new = new_object(self.header, ObjectType::SYMMETRIC_KEY, Origin::GENERATED);
        let id = check_new(dev, ctx, &new)?;
        let mut key = Zeroizing::new(vec![0u8; size]);
        dev.random(&mut key);
        Ok(Done::id(store_new(dev, id, new, Body::Raw(SecretBytes::from_slice(&key)))?))
    }
}

impl Handle for EncryptEcb {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let key = symmetric_key(dev, ctx, self.key_id, Capabilities::ENCRYPT_ECB)?;
        let out = sym::aes_ecb(&key, Direction::Encrypt, self.plaintext.expose_secret())?;
        Ok(Done::data(out).target(self.key_id))
    }
}

impl Handle for DecryptEcb {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let key = symmetric_key(dev, ctx, self.key_id, Capabilities::DECRYPT_ECB)?;
        let out = sym::aes_ecb(&key, Direction::Decrypt, &self.ciphertext)?;
        Ok(Done::data(out).target(self.key_id))
    }
}

impl Handle for EncryptCbc {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let key = symmetric_key(dev, ctx, self.key_id, Capabilities::ENCRYPT_CBC)?;
        let input = self.plaintext.expose_secret();
        let out = sym::aes_cbc(&key, Direction::Encrypt, &self.iv, input)?;
        Ok(Done::data(out).target(self.key_id))
    }
}

impl Handle for DecryptCbc {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let key = symmetric_key(dev, ctx, self.key_id, Capabilities::DECRYPT_CBC)?;
        let out = sym::aes_cbc(&key, Direction::Decrypt, &self.iv, &self.ciphertext)?;
        Ok(Done::data(out).target(self.key_id))
    }
}

/// The AES key of symmetric key `id`, usable with `cap`.
fn symmetric_key(
    dev: &Device,
    ctx: &Ctx,
    id: u16,
    cap: Capabilities,
) -> Result<Zeroizing<Vec<u8>>, ErrorCode> {
    let object = usable(dev, ctx, id, ObjectType::SYMMETRIC_KEY, cap)?;
    match &object.body {
        Body::Raw(k) => Ok(Zeroizing::new(k.expose_secret().to_vec())),
        _ => Err(ErrorCode::INVALID_DATA),
    }
}
