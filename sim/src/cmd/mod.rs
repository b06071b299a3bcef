//! Commands inside an authenticated session: each is decoded by its `yhsm_proto::command`
//! type, checked for access as the device does, run, and answered with the response data
//! or a device error code.
//!
//! One file per area, named and grouped as proto's `command` modules (`wrap.rs` here
//! handles the types of proto's `command/wrap.rs`). Each file implements [`Handle`] for
//! its types and lists them in its `HANDLERS`; [`execute`] routes a code through those
//! lists once. Adding a command: its type in proto, then `impl Handle` and one line in
//! `HANDLERS` in the file of the same name here (sim/README.md, "Adding a command").
//!
//! Access control (Yubico's command reference, checked by Yubico's device tests):
//! - a command needs its capability on the session's authentication key;
//! - an operation with an object (sign, wrap, export) also needs it on the object;
//! - an object is visible only when it shares a domain with the key — otherwise it is
//!   object-not-found;
//! - a new object's domains must be within the key's domains and its capabilities (and
//!   delegated capabilities) within the key's delegated capabilities.

mod asymmetric;
mod auth;
mod device;
mod hmac;
mod log;
mod object;
mod option;
mod otp;
mod rsa;
mod rsa_wrap;
mod symmetric;
mod template;
mod wrap;

use yhsm_proto::codec::{DecodeError, DecodeErrorKind};
use yhsm_proto::command::{Command, ObjectHeader};
use yhsm_proto::frame::{CommandCode, ErrorCode};
use yhsm_proto::wrap::Body;
use yhsm_proto::{Capabilities, ObjectId, ObjectType, Origin};
use zeroize::Zeroizing;

use crate::device::Device;
use crate::log::NONE;
use crate::store::{Authority, Object};

/// The session a command runs in.
#[derive(Clone, Copy, Debug)]
pub struct Ctx {
    pub authority: Authority,
}

/// What happens after the response is sealed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    Nothing,
    CloseSession,
    /// The device resets and reboots: every session ends.
    Reset,
}

/// A command that ran: its response data and the objects it used (for the audit log).
#[derive(Debug)]
pub struct Done {
    pub data: Zeroizing<Vec<u8>>,
    pub target: u16,
    pub second: u16,
    pub after: After,
}

impl Done {
    fn data(data: Vec<u8>) -> Self {
        Self { data: Zeroizing::new(data), target: NONE, second: NONE, after: After::Nothing }
    }

    fn empty() -> Self {
        Self::data(Vec::new())
    }

    fn id(id: ObjectId) -> Self {
        Self::data(id.to_be_bytes().to_vec()).target(id)
    }

    fn target(mut self, id: u16) -> Self {
        self.target = id;
        self
    }

    fn second(mut self, id: u16) -> Self {
        self.second = id;
        self
    }
}

/// A command the simulator answers in a session: its proto type has decoded the data
/// field; `run` checks access and acts.
trait Handle: Command {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode>;
}

/// One route: a command code, whether it changes the device, and its handler.
#[derive(Clone, Copy)]
pub struct Handler {
    pub code: CommandCode,
    /// [`Command::MUTATING`] of the type.
    pub mutating: bool,
    run: fn(&mut Device, &Ctx, &[u8]) -> Result<Done, ErrorCode>,
}

impl Handler {
    /// The route of type `C`.
    const fn of<C: Handle>() -> Self {
        Self { code: C::CODE, mutating: C::MUTATING, run: decode_and_run::<C> }
    }
}

fn decode_and_run<C: Handle>(dev: &mut Device, ctx: &Ctx, data: &[u8]) -> Result<Done, ErrorCode> {
    decode::<C>(data)?.run(dev, ctx)
}

/// Every area's routes, in the order of proto's `command` registry.
static AREAS: &[&[Handler]] = &[
    device::HANDLERS,
    object::HANDLERS,
    template::HANDLERS,
    auth::HANDLERS,
    asymmetric::HANDLERS,
    rsa::HANDLERS,
    hmac::HANDLERS,
    symmetric::HANDLERS,
    otp::HANDLERS,
    wrap::HANDLERS,
    rsa_wrap::HANDLERS,
    log::HANDLERS,
    option::HANDLERS,
];

/// Every route, one per code.
pub fn handlers() -> impl Iterator<Item = &'static Handler> {
    AREAS.iter().flat_map(|area| area.iter())
}

/// The route of `code`, if the simulator answers it in a session.
pub fn handler(code: CommandCode) -> Option<&'static Handler> {
    handlers().find(|h| h.code == code)
}

/// Runs command `code` with `data` in the session `ctx`; invalid-command for a code
/// without a handler.
pub fn execute(
    dev: &mut Device,
    ctx: &Ctx,
    code: CommandCode,
    data: &[u8],
) -> Result<Done, ErrorCode> {
    let handler = handler(code).ok_or(ErrorCode::INVALID_COMMAND)?;
    (handler.run)(dev, ctx, data)
}

/// A decode error as the device reports it: a field that is missing, too long or of the
/// wrong length is wrong-length; a value that is not allowed is invalid-data.
pub fn decode_error(e: DecodeError) -> ErrorCode {
    match e.kind {
        DecodeErrorKind::InvalidValue => ErrorCode::INVALID_DATA,
        _ => ErrorCode::WRONG_LENGTH,
    }
}

/// Decodes a typed request.
pub fn decode<C: Command>(data: &[u8]) -> Result<C, ErrorCode> {
    C::decode(data).map_err(decode_error)
}

/// Picks the id for a new object of `object_type`: the requested one (object-exists when
/// taken) or, for 0, a free one chosen at random, as the device does. Fails early with
/// storage-failed when no record is free.
pub fn choose_id(
    dev: &mut Device,
    requested: ObjectId,
    object_type: ObjectType,
) -> Result<ObjectId, ErrorCode> {
    if dev.store.len() >= crate::store::MAX_OBJECTS {
        return Err(ErrorCode::STORAGE_FAILED);
    }
    if requested != 0 {
        return if dev.store.is_free(requested, object_type) {
            Ok(requested)
        } else {
            Err(ErrorCode::OBJECT_EXISTS)
        };
    }
    for _ in 0..64 {
        let mut b = [0u8; 2];
        dev.random(&mut b);
        let id = u16::from_be_bytes(b);
        if id != 0 && id != 0xffff && dev.store.is_free(id, object_type) {
            return Ok(id);
        }
    }
    (1..0xffff).find(|id| dev.store.is_free(*id, object_type)).ok_or(ErrorCode::STORAGE_FAILED)
}

/// What a new object is made of.
pub struct NewObject {
    pub header: ObjectHeader,
    pub object_type: ObjectType,
    pub delegated: Capabilities,
    pub origin: Origin,
    pub sequence: Option<u8>,
}

/// Checks the rules for a new object (before building expensive key material).
pub fn check_new(dev: &mut Device, ctx: &Ctx, new: &NewObject) -> Result<ObjectId, ErrorCode> {
    ctx.authority.may_create(new.header.domains, new.header.capabilities, new.delegated)?;
    if !dev.algorithm_enabled(new.header.algorithm) {
        return Err(ErrorCode::ALGORITHM_DISABLED);
    }
    choose_id(dev, new.header.id, new.object_type)
}

/// Stores a new object with id `id` (from [`check_new`]).
pub fn store_new(
    dev: &mut Device,
    id: ObjectId,
    new: NewObject,
    body: Body,
) -> Result<ObjectId, ErrorCode> {
    let object = Object {
        id,
        object_type: new.object_type,
        algorithm: new.header.algorithm,
        label: new.header.label,
        domains: new.header.domains,
        capabilities: new.header.capabilities,
        delegated: new.delegated,
        sequence: new.sequence.unwrap_or_else(|| dev.store.sequence_for(id, new.object_type)),
        origin: new.origin,
        body,
    };
    dev.store.insert(object)?;
    dev.mark_changed();
    Ok(id)
}

/// A new object made from a request's header, with no delegated capabilities.
fn new_object(header: ObjectHeader, object_type: ObjectType, origin: Origin) -> NewObject {
    NewObject { header, object_type, delegated: Capabilities::NONE, origin, sequence: None }
}

/// The object (id, type) for an operation needing `cap` on both the key and the object.
pub fn usable<'a>(
    dev: &'a Device,
    ctx: &Ctx,
    id: ObjectId,
    object_type: ObjectType,
    cap: Capabilities,
) -> Result<&'a Object, ErrorCode> {
    ctx.authority.require(cap)?;
    let object = dev.store.visible(&ctx.authority, id, object_type)?;
    if !object.capabilities.contains(cap) {
        return Err(ErrorCode::INSUFFICIENT_PERMISSIONS);
    }
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::device::Config;
    use std::collections::BTreeSet;
    use yhsm_proto::Domains;
    use yhsm_proto::command::info;

    /// Codes with a proto type that the simulator does not answer inside a session:
    /// get-device-info and get-device-public-key are answered outside one (`crate::device`).
    const NOT_IN_A_SESSION: &[CommandCode] =
        &[CommandCode::GET_DEVICE_INFO, CommandCode::GET_DEVICE_PUBLIC_KEY];

    #[test]
    fn each_code_has_one_handler_and_one_proto_type_with_the_same_facts() {
        let mut seen = BTreeSet::new();
        for h in handlers() {
            assert!(seen.insert(h.code.0), "{} has two handlers", h.code);
            let info = info(h.code).unwrap_or_else(|| panic!("{}: no proto type", h.code));
            assert_eq!(h.mutating, info.mutating, "{}", h.code);
        }
        let typed: BTreeSet<u8> = yhsm_proto::command::infos()
            .iter()
            .map(|i| i.code.0)
            .filter(|c| !NOT_IN_A_SESSION.contains(&CommandCode(*c)))
            .collect();
        assert_eq!(seen, typed, "every typed command but {NOT_IN_A_SESSION:?} is simulated");
    }

    #[test]
    fn the_device_answers_exactly_the_codes_with_a_handler() {
        let mut dev =
            Device::with_clock_and_seed(Config::default(), Box::new(ManualClock::new()), [3; 32]);
        let ctx = Ctx {
            authority: Authority {
                key_id: 1,
                capabilities: Capabilities::ALL,
                delegated: Capabilities::ALL,
                domains: Domains::ALL,
            },
        };
        for code in 0..=u8::MAX {
            let code = CommandCode(code);
            // One byte of data: no command's request is that short but echo's, so nothing
            // is created, reset or closed.
            let answer = execute(&mut dev, &ctx, code, &[0xff]);
            let refused = matches!(answer, Err(ErrorCode::INVALID_COMMAND));
            assert_eq!(refused, handler(code).is_none(), "{code}: {answer:?}");
        }
    }
}
