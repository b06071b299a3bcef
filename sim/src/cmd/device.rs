//! Device-wide commands in a session (proto `command/device.rs`): echo, close-session,
//! reset-device, blink-device, get-storage-info, get-pseudo-random. Outside a session the
//! device itself answers echo, get-device-info and get-device-public-key (`crate::device`).

use yhsm_proto::Capabilities;
use yhsm_proto::command::{
    BlinkDevice, CloseSession, Echo, GetPseudoRandom, GetStorageInfo, ResetDevice, Response,
};
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::scp03::MAX_INNER_LEN;

use super::{After, Ctx, Done, Handle, Handler};
use crate::device::Device;

pub(super) const HANDLERS: &[Handler] = &[
    Handler::of::<Echo>(),
    Handler::of::<CloseSession>(),
    Handler::of::<ResetDevice>(),
    Handler::of::<BlinkDevice>(),
    Handler::of::<GetStorageInfo>(),
    Handler::of::<GetPseudoRandom>(),
];

impl Handle for Echo {
    fn run(self, _dev: &mut Device, _ctx: &Ctx) -> Result<Done, ErrorCode> {
        Ok(Done::data(self.data))
    }
}

impl Handle for CloseSession {
    fn run(self, _dev: &mut Device, _ctx: &Ctx) -> Result<Done, ErrorCode> {
        Ok(Done { after: After::CloseSession, ..Done::empty() })
    }
}

impl Handle for ResetDevice {
    fn run(self, _dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        ctx.authority.require(Capabilities::RESET_DEVICE)?;
        Ok(Done { after: After::Reset, ..Done::empty() })
    }
}

impl Handle for BlinkDevice {
    fn run(self, _dev: &mut Device, _ctx: &Ctx) -> Result<Done, ErrorCode> {
        Ok(Done::empty())
    }
}

impl Handle for GetStorageInfo {
    fn run(self, dev: &mut Device, _ctx: &Ctx) -> Result<Done, ErrorCode> {
        Ok(Done::data(dev.store.storage_info().to_data().to_vec()))
    }
}

impl Handle for GetPseudoRandom {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        ctx.authority.require(Capabilities::GET_PSEUDO_RANDOM)?;
        // The answer must fit in one session message with its 3-byte inner header.
        let len = usize::from(self.len);
        if len > MAX_INNER_LEN - 3 {
            return Err(ErrorCode::WRONG_LENGTH);
        }
        let mut out = vec![0u8; len];
        dev.random(&mut out);
        Ok(Done::data(out))
    }
}
