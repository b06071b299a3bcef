//! HMAC key commands (proto `command/hmac.rs`): put-hmac-key, generate-hmac-key,
//! sign-hmac and verify-hmac.

use yhsm_proto::command::{GenerateHmacKey, PutHmacKey, SignHmac, VerifyHmac};
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::secret::SecretBytes;
use yhsm_proto::wrap::Body;
use yhsm_proto::{Algorithm, Capabilities, ObjectType, Origin};
use zeroize::Zeroizing;

use super::{Ctx, Done, Handle, Handler, check_new, new_object, store_new, usable};
use crate::device::Device;
use crate::keys::sym;

pub(super) const HANDLERS: &[Handler] = &[
    Handler::of::<PutHmacKey>(),
    Handler::of::<GenerateHmacKey>(),
    Handler::of::<SignHmac>(),
    Handler::of::<VerifyHmac>(),
];

impl Handle for PutHmacKey {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        ctx.authority.require(Capabilities::PUT_MAC_KEY)?;
        if self.header.algorithm.hmac_block_size().is_none() {
            return Err(ErrorCode::INVALID_DATA);
        }
        let new = new_object(self.header, ObjectType::HMAC_KEY, Origin::IMPORTED);
        let id = check_new(dev, ctx, &new)?;
        let body = Body::Hmac { algorithm: self.header.algorithm, key: self.key };
        Ok(Done::id(store_new(dev, id, new, body)?))
    }
}

impl Handle for GenerateHmacKey {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let header = self.header;
        ctx.authority.require(Capabilities::GENERATE_HMAC_KEY)?;
        let len = hmac_output_len(header.algorithm).ok_or(ErrorCode::INVALID_DATA)?;
        let new = new_object(header, ObjectType::HMAC_KEY, Origin::GENERATED);
        let id = check_new(dev, ctx, &new)?;
        let mut key = Zeroizing::new(vec![0u8; len]);
        // A key ending in zero bytes would not survive the ipad/opad body exactly.
        while key.last().is_none_or(|b| *b == 0) {
            dev.random(&mut key);
        }
        let body = Body::Hmac { algorithm: header.algorithm, key: SecretBytes::from_slice(&key) };
        Ok(Done::id(store_new(dev, id, new, body)?))
    }
}

impl Handle for SignHmac {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let id = self.key_id;
        let object = usable(dev, ctx, id, ObjectType::HMAC_KEY, Capabilities::SIGN_HMAC)?;
        let Body::Hmac { algorithm, key } = &object.body else {
            return Err(ErrorCode::INVALID_DATA);
        };
        Ok(Done::data(sym::hmac(*algorithm, key.expose_secret(), &self.message)?).target(id))
    }
}

impl Handle for VerifyHmac {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let id = self.key_id;
        let object = usable(dev, ctx, id, ObjectType::HMAC_KEY, Capabilities::VERIFY_HMAC)?;
        let Body::Hmac { algorithm, key } = &object.body else {
            return Err(ErrorCode::INVALID_DATA);
        };
        let n = hmac_output_len(*algorithm).ok_or(ErrorCode::INVALID_DATA)?;
        let (mac, message) = self.split(n).ok_or(ErrorCode::WRONG_LENGTH)?;
        let ok = sym::hmac_verify(*algorithm, key.expose_secret(), mac, message)?;
        Ok(Done::data(vec![u8::from(ok)]).target(id))
    }
}

fn hmac_output_len(alg: Algorithm) -> Option<usize> {
    match alg {
        Algorithm::HMAC_SHA1 => Some(20),
        Algorithm::HMAC_SHA256 => Some(32),
        Algorithm::HMAC_SHA384 => Some(48),
        Algorithm::HMAC_SHA512 => Some(64),
        _ => None,
    }
}
