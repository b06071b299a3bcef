//! Authentication key commands (proto `command/auth.rs`): put-authentication-key and
//! change-authentication-key.

use yhsm_proto::command::{AuthenticationKey, ChangeAuthenticationKey, PutAuthenticationKey};
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::secret::SecretBytes;
use yhsm_proto::wrap::Body;
use yhsm_proto::{Capabilities, ObjectType, Origin};

use super::{Ctx, Done, Handle, Handler, NewObject, check_new, store_new};
use crate::device::Device;

pub(super) const HANDLERS: &[Handler] =
    &[Handler::of::<PutAuthenticationKey>(), Handler::of::<ChangeAuthenticationKey>()];

impl Handle for PutAuthenticationKey {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        ctx.authority.require(Capabilities::PUT_AUTHENTICATION_KEY)?;
        let body = auth_key_body(self.delegated, &self.key)?;
        let new = NewObject {
            header: self.header,
            object_type: ObjectType::AUTHENTICATION_KEY,
            delegated: self.delegated,
            origin: Origin::IMPORTED,
            sequence: None,
        };
        let id = check_new(dev, ctx, &new)?;
        Ok(Done::id(store_new(dev, id, new, body)?))
    }
}

impl Handle for ChangeAuthenticationKey {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        ctx.authority.require(Capabilities::CHANGE_AUTHENTICATION_KEY)?;
        // Only the key the session was opened with can be changed.
        if self.key_id != ctx.authority.key_id {
            return Err(ErrorCode::INVALID_ID);
        }
        let object = dev
            .store
            .get_mut(self.key_id, ObjectType::AUTHENTICATION_KEY)
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        if object.algorithm != self.key.algorithm() {
            return Err(ErrorCode::INVALID_DATA);
        }
        object.body = auth_key_body(object.delegated, &self.key)?;
        dev.mark_changed();
        Ok(Done::id(self.key_id))
    }
}

/// The stored body of an authentication key: symmetric keys in the wrapped layout, a
/// P-256 public key as `delegated || X || Y` (the point must be on the curve).
fn auth_key_body(delegated: Capabilities, key: &AuthenticationKey) -> Result<Body, ErrorCode> {
    match key {
        AuthenticationKey::Symmetric { enc, mac } => {
            Ok(Body::AuthenticationKey { delegated, enc: enc.clone(), mac: mac.clone() })
        }
        AuthenticationKey::EcP256 { x, y } => {
            let mut sec1 = vec![0x04];
            sec1.extend_from_slice(x);
            sec1.extend_from_slice(y);
            p256::PublicKey::from_sec1_bytes(&sec1).map_err(|_| ErrorCode::INVALID_DATA)?;
            let mut raw = delegated.0.to_be_bytes().to_vec();
            raw.extend_from_slice(x);
            raw.extend_from_slice(y);
            Ok(Body::Raw(SecretBytes::new(raw)))
        }
    }
}
