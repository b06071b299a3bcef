//! Audit log commands (proto `command/log.rs`): get-log-entries and set-log-index. The log
//! itself is `crate::log`.

use yhsm_proto::Capabilities;
use yhsm_proto::command::{GetLogEntries, Response, SetLogIndex};
use yhsm_proto::frame::ErrorCode;

use super::{Ctx, Done, Handle, Handler};
use crate::device::Device;

pub(super) const HANDLERS: &[Handler] =
    &[Handler::of::<GetLogEntries>(), Handler::of::<SetLogIndex>()];

impl Handle for GetLogEntries {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        ctx.authority.require(Capabilities::GET_LOG_ENTRIES)?;
        Ok(Done::data(dev.log.entries().to_data().to_vec()))
    }
}

impl Handle for SetLogIndex {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        ctx.authority.require(Capabilities::GET_LOG_ENTRIES)?;
        dev.log.set_index(self.index)?;
        dev.mark_changed();
        Ok(Done::empty())
    }
}
