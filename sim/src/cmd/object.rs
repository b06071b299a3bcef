//! Object commands (proto `command/object.rs`): list-objects, get-object-info,
//! delete-object, put-opaque and get-opaque (whose object 0 is the device attestation
//! certificate, as on a device).

use yhsm_proto::command::{
    DeleteObject, Filter, GetObjectInfo, GetOpaque, ListEntry, ListObjects, ListObjectsResponse,
    ObjectHeader, PutOpaque, Response,
};
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::secret::SecretBytes;
use yhsm_proto::wrap::Body;
use yhsm_proto::{Algorithm, Capabilities, ObjectType, Origin};

use super::{Ctx, Done, Handle, Handler, NewObject, check_new, store_new};
use crate::device::Device;
use crate::store::{Object, delete_capability};

pub(super) const HANDLERS: &[Handler] = &[
    Handler::of::<ListObjects>(),
    Handler::of::<GetObjectInfo>(),
    Handler::of::<DeleteObject>(),
    Handler::of::<PutOpaque>(),
    Handler::of::<GetOpaque>(),
];

impl Handle for ListObjects {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let auth = &ctx.authority;
        let objects = dev
            .store
            .iter()
            .filter(|o| auth.sees(o) && self.filters.iter().all(|f| matches(f, o)))
            .map(|o| ListEntry { id: o.id, object_type: o.object_type, sequence: o.sequence })
            .collect();
        Ok(Done::data(ListObjectsResponse { objects }.to_data().to_vec()))
    }
}

impl Handle for GetObjectInfo {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let object = dev.store.visible(&ctx.authority, self.id, self.object_type)?;
        Ok(Done::data(object.info().to_bytes()).target(self.id))
    }
}

impl Handle for DeleteObject {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let auth = &ctx.authority;
        let cap = delete_capability(self.object_type).ok_or(ErrorCode::INVALID_DATA)?;
        auth.require(cap)?;
        dev.store.visible(auth, self.id, self.object_type)?;
        dev.store.remove(self.id, self.object_type);
        dev.mark_changed();
        Ok(Done::empty().target(self.id))
    }
}

impl Handle for PutOpaque {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        ctx.authority.require(Capabilities::PUT_OPAQUE)?;
        if !matches!(
            self.header.algorithm,
            Algorithm::OPAQUE_DATA | Algorithm::OPAQUE_X509_CERTIFICATE
        ) {
            return Err(ErrorCode::INVALID_DATA);
        }
        put_raw(dev, ctx, self.header, ObjectType::OPAQUE, &self.data)
    }
}

impl Handle for GetOpaque {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        ctx.authority.require(Capabilities::GET_OPAQUE)?;
        // Opaque object 0 is the device attestation certificate (no stored object has id
        // 0: it asks for a free id).
        if self.id == 0 {
            return Ok(Done::data(dev.device_attestation()?.certificate().to_vec()).target(0));
        }
        let object = dev.store.visible(&ctx.authority, self.id, ObjectType::OPAQUE)?;
        Ok(Done::data(raw_bytes(object)?).target(self.id))
    }
}

/// Stores an object whose body is the bytes as sent (opaque data, templates).
pub(super) fn put_raw(
    dev: &mut Device,
    ctx: &Ctx,
    header: ObjectHeader,
    object_type: ObjectType,
    bytes: &[u8],
) -> Result<Done, ErrorCode> {
    let new = NewObject {
        header,
        object_type,
        delegated: Capabilities::NONE,
        origin: Origin::IMPORTED,
        sequence: None,
    };
    let id = check_new(dev, ctx, &new)?;
    let id = store_new(dev, id, new, Body::Raw(SecretBytes::from_slice(bytes)))?;
    Ok(Done::id(id))
}

/// The bytes of an object stored as sent.
pub(super) fn raw_bytes(object: &Object) -> Result<Vec<u8>, ErrorCode> {
    match &object.body {
        Body::Raw(raw) => Ok(raw.expose_secret().to_vec()),
        _ => Err(ErrorCode::INVALID_DATA),
    }
}

/// LIST_OBJECTS filters: id, type, algorithm and label match exactly (the label as its 40
/// bytes); domains and capabilities match when they share at least one bit.
fn matches(filter: &Filter, o: &Object) -> bool {
    match filter {
        Filter::Id(id) => o.id == *id,
        Filter::Type(t) => o.object_type == *t,
        Filter::Domains(d) => o.domains.intersects(*d),
        Filter::Capabilities(c) => !o.capabilities.intersection(*c).is_empty(),
        Filter::Algorithm(a) => o.algorithm == *a,
        Filter::Label(l) => o.label == *l,
    }
}
