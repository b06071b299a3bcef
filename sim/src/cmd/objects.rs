//! Object commands: list-objects, get-object-info, delete-object, put/get-opaque,
//! put/get-template.

use yhsm_proto::codec::Reader;
use yhsm_proto::command::{
    DeleteObject, Filter, GetObjectInfo, GetOpaque, ListEntry, ListObjects, ListObjectsResponse,
    PutOpaque, Response,
};
use yhsm_proto::frame::{CommandCode, ErrorCode};
use yhsm_proto::secret::SecretBytes;
use yhsm_proto::wrap::Body;
use yhsm_proto::{Algorithm, Capabilities, ObjectType, Origin};

use super::{
    Ctx, Done, NewObject, check_new, decode, decode_error, read_header, read_id, store_new,
};
use crate::device::Device;
use crate::store::{Object, delete_capability};

pub fn execute(
    dev: &mut Device,
    ctx: &Ctx,
    code: CommandCode,
    data: &[u8],
) -> Result<Done, ErrorCode> {
    let auth = &ctx.authority;
    match code {
        CommandCode::LIST_OBJECTS => {
            let req = decode::<ListObjects>(data)?;
            let objects = dev
                .store
                .iter()
                .filter(|o| auth.sees(o) && req.filters.iter().all(|f| matches(f, o)))
                .map(|o| ListEntry { id: o.id, object_type: o.object_type, sequence: o.sequence })
                .collect();
            Ok(Done::data(ListObjectsResponse { objects }.to_data().to_vec()))
        }
        CommandCode::GET_OBJECT_INFO => {
            let req = decode::<GetObjectInfo>(data)?;
            let object = dev.store.visible(auth, req.id, req.object_type)?;
            Ok(Done::data(object.info().to_bytes()).target(req.id))
        }
        CommandCode::DELETE_OBJECT => {
            let req = decode::<DeleteObject>(data)?;
            let cap = delete_capability(req.object_type).ok_or(ErrorCode::INVALID_DATA)?;
            auth.require(cap)?;
            dev.store.visible(auth, req.id, req.object_type)?;
            dev.store.remove(req.id, req.object_type);
            dev.mark_changed();
            Ok(Done::empty().target(req.id))
        }
        CommandCode::PUT_OPAQUE => {
            let req = decode::<PutOpaque>(data)?;
            auth.require(Capabilities::PUT_OPAQUE)?;
            if !matches!(
                req.header.algorithm,
                Algorithm::OPAQUE_DATA | Algorithm::OPAQUE_X509_CERTIFICATE
            ) {
                return Err(ErrorCode::INVALID_DATA);
            }
            put_raw(dev, ctx, req.header, ObjectType::OPAQUE, &req.data)
        }
        CommandCode::GET_OPAQUE => {
            let req = decode::<GetOpaque>(data)?;
            auth.require(Capabilities::GET_OPAQUE)?;
            let object = dev.store.visible(auth, req.id, ObjectType::OPAQUE)?;
            Ok(Done::data(raw_bytes(object)?).target(req.id))
        }
        CommandCode::PUT_TEMPLATE => {
            let mut r = Reader::new(data);
            let header = read_header(&mut r)?;
            let template = r.rest();
            if template.is_empty() {
                return Err(ErrorCode::WRONG_LENGTH);
            }
            auth.require(Capabilities::PUT_TEMPLATE)?;
            if header.algorithm != Algorithm::TEMPLATE_SSH {
                return Err(ErrorCode::INVALID_DATA);
            }
            put_raw(dev, ctx, header, ObjectType::TEMPLATE, template)
        }
        CommandCode::GET_TEMPLATE => {
            let mut r = Reader::new(data);
            let id = read_id(&mut r)?;
            r.finish("get-template").map_err(decode_error)?;
            auth.require(Capabilities::GET_TEMPLATE)?;
            let object = dev.store.visible(auth, id, ObjectType::TEMPLATE)?;
            Ok(Done::data(raw_bytes(object)?).target(id))
        }
        _ => Err(ErrorCode::INVALID_COMMAND),
    }
}

fn put_raw(
    dev: &mut Device,
    ctx: &Ctx,
    header: yhsm_proto::command::ObjectHeader,
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

fn raw_bytes(object: &Object) -> Result<Vec<u8>, ErrorCode> {
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
