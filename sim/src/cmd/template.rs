//! Template commands (proto `command/template.rs`): put-template, get-template and
//! sign-ssh-certificate (its checks and signature are `keys::ssh`). A template is stored
//! as it is sent, like opaque data, and read as an SSH template when it is used: the device
//! takes any bytes (yubihsm-shell's own tests store random ones).
//!
//! Sign-ssh-certificate needs the capability on the session's key and on the CA key; the
//! template is found by id (visible to the session) and must be a template-ssh, but needs
//! no capability (Yubico's yubihsm-ssh-tool stores it without one).

use yhsm_proto::command::{GetTemplate, PutTemplate, SignSshCertificate};
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::{Algorithm, Capabilities, ObjectType};

use super::object::{put_raw, raw_bytes};
use super::{Ctx, Done, Handle, Handler, usable};
use crate::device::Device;
use crate::keys::ssh::{self, CaKey, Template};

pub(super) const HANDLERS: &[Handler] = &[
    Handler::of::<PutTemplate>(),
    Handler::of::<GetTemplate>(),
    Handler::of::<SignSshCertificate>(),
];

impl Handle for PutTemplate {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        ctx.authority.require(Capabilities::PUT_TEMPLATE)?;
        if self.header.algorithm != Algorithm::TEMPLATE_SSH {
            return Err(ErrorCode::INVALID_DATA);
        }
        put_raw(dev, ctx, self.header, ObjectType::TEMPLATE, &self.template)
    }
}

impl Handle for GetTemplate {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        ctx.authority.require(Capabilities::GET_TEMPLATE)?;
        let object = dev.store.visible(&ctx.authority, self.id, ObjectType::TEMPLATE)?;
        Ok(Done::data(raw_bytes(object)?).target(self.id))
    }
}

impl Handle for SignSshCertificate {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let cap = Capabilities::SIGN_SSH_CERTIFICATE;
        let ca = usable(dev, ctx, self.key_id, ObjectType::ASYMMETRIC_KEY, cap)?.clone();
        let object = dev.store.visible(&ctx.authority, self.template_id, ObjectType::TEMPLATE)?;
        if object.algorithm != Algorithm::TEMPLATE_SSH {
            return Err(ErrorCode::INVALID_DATA);
        }
        let template = Template::parse(&raw_bytes(object)?)?;
        let ca = CaKey { id: ca.id, algorithm: ca.algorithm, body: &ca.body };
        let signature = ssh::sign(&template, ca, self.algorithm, &self.request, &mut dev.rng)?;
        Ok(Done::data(signature).target(self.key_id).second(self.template_id))
    }
}
