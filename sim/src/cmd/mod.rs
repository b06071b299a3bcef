//! Commands inside an authenticated session: decode with `yhsm_proto::command` (or the
//! small readers here for commands that module does not type), check access as the device
//! does, run, and answer with the response data or a device error code.
//!
//! Access control (Yubico's command reference, checked by Yubico's device tests):
//! - a command needs its capability on the session's authentication key;
//! - an operation with an object (sign, wrap, export) also needs it on the object;
//! - an object is visible only when it shares a domain with the key — otherwise it is
//!   object-not-found;
//! - a new object's domains must be within the key's domains and its capabilities (and
//!   delegated capabilities) within the key's delegated capabilities.

mod admin;
mod keys;
mod objects;
mod wrap;

use yhsm_proto::codec::{DecodeError, DecodeErrorKind, Reader};
use yhsm_proto::command::{Command, ObjectHeader};
use yhsm_proto::frame::{CommandCode, ErrorCode};
use yhsm_proto::wrap::Body;
use yhsm_proto::{Algorithm, Capabilities, Domains, Label, ObjectId, ObjectType, Origin};
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

/// Runs command `code` with `data` in the session `ctx`.
pub fn execute(
    dev: &mut Device,
    ctx: &Ctx,
    code: CommandCode,
    data: &[u8],
) -> Result<Done, ErrorCode> {
    match code {
        CommandCode::ECHO => Ok(Done::data(data.to_vec())),
        CommandCode::CLOSE_SESSION
        | CommandCode::RESET_DEVICE
        | CommandCode::BLINK_DEVICE
        | CommandCode::GET_LOG_ENTRIES
        | CommandCode::SET_LOG_INDEX
        | CommandCode::SET_OPTION
        | CommandCode::GET_OPTION
        | CommandCode::GET_PSEUDO_RANDOM
        | CommandCode::GET_STORAGE_INFO => admin::execute(dev, ctx, code, data),
        CommandCode::LIST_OBJECTS
        | CommandCode::GET_OBJECT_INFO
        | CommandCode::DELETE_OBJECT
        | CommandCode::PUT_OPAQUE
        | CommandCode::GET_OPAQUE
        | CommandCode::PUT_TEMPLATE
        | CommandCode::GET_TEMPLATE => objects::execute(dev, ctx, code, data),
        CommandCode::EXPORT_WRAPPED
        | CommandCode::IMPORT_WRAPPED
        | CommandCode::PUT_WRAP_KEY
        | CommandCode::GENERATE_WRAP_KEY
        | CommandCode::WRAP_DATA
        | CommandCode::UNWRAP_DATA
        | CommandCode::PUT_PUBLIC_WRAP_KEY
        | CommandCode::GET_RSA_WRAPPED_KEY
        | CommandCode::PUT_RSA_WRAPPED_KEY
        | CommandCode::EXPORT_RSA_WRAPPED
        | CommandCode::IMPORT_RSA_WRAPPED => wrap::execute(dev, ctx, code, data),
        _ => keys::execute(dev, ctx, code, data),
    }
}

/// Whether a successful `code` changes persistent state.
pub fn mutates(code: CommandCode) -> bool {
    !matches!(
        code,
        CommandCode::ECHO
            | CommandCode::GET_STORAGE_INFO
            | CommandCode::GET_OPAQUE
            | CommandCode::LIST_OBJECTS
            | CommandCode::GET_LOG_ENTRIES
            | CommandCode::GET_OBJECT_INFO
            | CommandCode::GET_OPTION
            | CommandCode::GET_PSEUDO_RANDOM
            | CommandCode::GET_PUBLIC_KEY
            | CommandCode::GET_TEMPLATE
            | CommandCode::BLINK_DEVICE
            | CommandCode::CLOSE_SESSION
    )
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

/// Reads the 53-byte object header (for commands `yhsm_proto::command` does not type).
pub fn read_header(r: &mut Reader<'_>) -> Result<ObjectHeader, ErrorCode> {
    let what = "object header";
    Ok(ObjectHeader {
        id: r.u16(what).map_err(decode_error)?,
        label: Label(r.array(what).map_err(decode_error)?),
        domains: Domains(r.u16(what).map_err(decode_error)?),
        capabilities: Capabilities(r.u64(what).map_err(decode_error)?),
        algorithm: Algorithm(r.u8(what).map_err(decode_error)?),
    })
}

/// Reads a leading object id.
pub fn read_id(r: &mut Reader<'_>) -> Result<ObjectId, ErrorCode> {
    r.u16("object id").map_err(decode_error)
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
