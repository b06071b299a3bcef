//! Yubico OTP AEAD commands (proto `command/otp.rs`): put-otp-aead-key and
//! generate-otp-aead-key. The AEAD operations themselves (create, randomize, rewrap,
//! decrypt-otp) are not simulated: invalid-command.

use yhsm_proto::command::{GenerateOtpAeadKey, ObjectHeader, PutOtpAeadKey};
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::secret::SecretBytes;
use yhsm_proto::wrap::Body;
use yhsm_proto::{Algorithm, Capabilities, ObjectType, Origin};
use zeroize::Zeroizing;

use super::{Ctx, Done, Handle, Handler, check_new, new_object, store_new};
use crate::device::Device;

pub(super) const HANDLERS: &[Handler] =
    &[Handler::of::<PutOtpAeadKey>(), Handler::of::<GenerateOtpAeadKey>()];

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
    match algorithm {
        Algorithm::AES128_YUBICO_OTP => Ok(16),
        Algorithm::AES192_YUBICO_OTP => Ok(24),
        Algorithm::AES256_YUBICO_OTP => Ok(32),
        _ => Err(ErrorCode::INVALID_DATA),
    }
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
