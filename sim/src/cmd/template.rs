//! Template commands (proto `command/template.rs`): put-template and get-template. A
//! template is stored as it is sent, like opaque data.

use yhsm_proto::command::{GetTemplate, PutTemplate};
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::{Algorithm, Capabilities, ObjectType};

use super::object::{put_raw, raw_bytes};
use super::{Ctx, Done, Handle, Handler};
use crate::device::Device;

pub(super) const HANDLERS: &[Handler] =
    &[Handler::of::<PutTemplate>(), Handler::of::<GetTemplate>()];

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
