//! RSA key operations (proto `command/rsa.rs`): sign-pkcs1, sign-pss, decrypt-pkcs1 and
//! decrypt-oaep. The host sends a digest (or a label hash) whose length tells the hash.

use yhsm_proto::command::{DecryptOaep, DecryptPkcs1, SignPkcs1, SignPss};
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::wrap::Body;
use yhsm_proto::{Algorithm, Capabilities, ObjectType};

use super::{Ctx, Done, Handle, Handler, usable};
use crate::device::Device;
use crate::keys::rsa;

pub(super) const HANDLERS: &[Handler] = &[
    Handler::of::<SignPkcs1>(),
    Handler::of::<SignPss>(),
    Handler::of::<DecryptPkcs1>(),
    Handler::of::<DecryptOaep>(),
];

impl Handle for SignPkcs1 {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let (alg, body) = rsa_key(dev, ctx, self.key_id, Capabilities::SIGN_PKCS)?;
        let sig = rsa::sign_pkcs1(alg, &body, &self.digest, &mut dev.rng)?;
        Ok(Done::data(sig).target(self.key_id))
    }
}

impl Handle for SignPss {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let mgf = rsa::Hash::from_mgf1(self.mgf1).ok_or(ErrorCode::INVALID_DATA)?;
        let (alg, body) = rsa_key(dev, ctx, self.key_id, Capabilities::SIGN_PSS)?;
        let salt_len = usize::from(self.salt_len);
        let sig = rsa::sign_pss(alg, &body, mgf, salt_len, &self.digest, &mut dev.rng)?;
        Ok(Done::data(sig).target(self.key_id))
    }
}

impl Handle for DecryptPkcs1 {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let (alg, body) = rsa_key(dev, ctx, self.key_id, Capabilities::DECRYPT_PKCS)?;
        let plain = rsa::decrypt_pkcs1(alg, &body, &self.ciphertext, &mut dev.rng)?;
        Ok(Done::data(plain).target(self.key_id))
    }
}

impl Handle for DecryptOaep {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let mgf = rsa::Hash::from_mgf1(self.mgf1).ok_or(ErrorCode::INVALID_DATA)?;
        let (alg, body) = rsa_key(dev, ctx, self.key_id, Capabilities::DECRYPT_OAEP)?;
        let k = alg.rsa_modulus_size().ok_or(ErrorCode::INVALID_DATA)?;
        let (ciphertext, label_hash) = self.split(k).ok_or(ErrorCode::WRONG_LENGTH)?;
        let plain = rsa::decrypt_oaep(alg, &body, mgf, ciphertext, label_hash, &mut dev.rng)?;
        Ok(Done::data(plain).target(self.key_id))
    }
}

/// The algorithm and body of the RSA key `id`, usable with `cap` (invalid-data for a key
/// of another algorithm).
fn rsa_key(
    dev: &Device,
    ctx: &Ctx,
    id: u16,
    cap: Capabilities,
) -> Result<(Algorithm, Body), ErrorCode> {
    let object = usable(dev, ctx, id, ObjectType::ASYMMETRIC_KEY, cap)?;
    if object.algorithm.rsa_modulus_size().is_none() {
        return Err(ErrorCode::INVALID_DATA);
    }
    Ok((object.algorithm, object.body.clone()))
}
