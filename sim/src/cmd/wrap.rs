//! Wrap commands (PROTOCOL.md §3 "Payloads", §5): put/generate-wrap-key, export-wrapped,
//! import-wrapped, wrap-data and unwrap-data.
//!
//! Export: export-wrapped on the session key and on the wrap key, exportable-under-wrap on
//! the object, and the object's capabilities within the wrap key's delegated capabilities
//! (Yubico's `test_import_wrap_permissions`). The blob carries the object's real sequence
//! and origin. Import: import-wrapped on the session key and the wrap key, the object's
//! capabilities within the wrap key's delegated ones, the usual rules for a new object;
//! the origin gains 0x10 and the sequence is the one in the blob (unverified: the blob
//! carries it, so a restore reproduces the object it was taken from).

use yhsm_proto::codec::Reader;
use yhsm_proto::command::{
    ExportWrapped, GenerateWrapKey, ImportWrapped, ImportWrappedResponse, ObjectHeader, PutWrapKey,
    Response,
};
use yhsm_proto::frame::{CommandCode, ErrorCode};
use yhsm_proto::secret::SecretBytes;
use yhsm_proto::wrap::{self, Body, WrapHeader, WrapKey, WrappedObject};
use yhsm_proto::{Algorithm, Capabilities, ObjectType, Origin};
use zeroize::Zeroizing;

use super::{Ctx, Done, NewObject, check_new, decode, read_id, store_new, usable};
use crate::device::Device;
use crate::keys::{self, sym};
use crate::store::Object;

pub fn execute(
    dev: &mut Device,
    ctx: &Ctx,
    code: CommandCode,
    data: &[u8],
) -> Result<Done, ErrorCode> {
    let auth = ctx.authority;
    match code {
        CommandCode::PUT_WRAP_KEY => {
            let req = decode::<PutWrapKey>(data)?;
            auth.require(Capabilities::PUT_WRAP_KEY)?;
            if req.header.algorithm.wrap_key_size().is_none() {
                return Err(ErrorCode::INVALID_DATA);
            }
            put_wrap_key(dev, ctx, req.header, req.delegated, req.key, Origin::IMPORTED)
        }
        CommandCode::GENERATE_WRAP_KEY => {
            let req = decode::<GenerateWrapKey>(data)?;
            auth.require(Capabilities::GENERATE_WRAP_KEY)?;
            let size = req.header.algorithm.wrap_key_size().ok_or(ErrorCode::INVALID_DATA)?;
            let mut key = Zeroizing::new(vec![0u8; size]);
            dev.random(&mut key);
            put_wrap_key(
                dev,
                ctx,
                req.header,
                req.delegated,
                SecretBytes::from_slice(&key),
                Origin::GENERATED,
            )
        }
        CommandCode::EXPORT_WRAPPED => export(dev, ctx, &decode::<ExportWrapped>(data)?),
        CommandCode::IMPORT_WRAPPED => import(dev, ctx, &decode::<ImportWrapped>(data)?),
        CommandCode::WRAP_DATA | CommandCode::UNWRAP_DATA => {
            let mut r = Reader::new(data);
            let id = read_id(&mut r)?;
            let input = r.rest();
            if input.is_empty() {
                return Err(ErrorCode::WRONG_LENGTH);
            }
            let cap = if code == CommandCode::WRAP_DATA {
                Capabilities::WRAP_DATA
            } else {
                Capabilities::UNWRAP_DATA
            };
            // Firmware before 2.5 answers invalid-data for a wrap key without the
            // capability (Yubico's `test_wrap_data_many`).
            let key = usable(dev, ctx, id, ObjectType::WRAP_KEY, cap).map_err(|e| {
                let (major, minor, _) = dev.config.version;
                if e == ErrorCode::INSUFFICIENT_PERMISSIONS && (major, minor) < (2, 5) {
                    ErrorCode::INVALID_DATA
                } else {
                    e
                }
            })?;
            let key = aes_key(key)?;
            let out = if code == CommandCode::WRAP_DATA {
                let mut nonce = [0u8; 13];
                dev.random(&mut nonce);
                sym::ccm_seal(key.expose_secret(), nonce, input)?
            } else {
                sym::ccm_open(key.expose_secret(), input)?.to_vec()
            };
            Ok(Done::data(out).target(id))
        }
        _ => Err(ErrorCode::INVALID_COMMAND),
    }
}

fn put_wrap_key(
    dev: &mut Device,
    ctx: &Ctx,
    header: ObjectHeader,
    delegated: Capabilities,
    key: SecretBytes,
    origin: Origin,
) -> Result<Done, ErrorCode> {
    let new =
        NewObject { header, object_type: ObjectType::WRAP_KEY, delegated, origin, sequence: None };
    let id = check_new(dev, ctx, &new)?;
    Ok(Done::id(store_new(dev, id, new, Body::WrapKey { delegated, key })?))
}

/// The AES key of a wrap key (an RSA wrap key cannot wrap objects: invalid-data).
fn aes_key(object: &Object) -> Result<WrapKey, ErrorCode> {
    match &object.body {
        Body::WrapKey { key, .. } => {
            WrapKey::new(key.expose_secret()).map_err(|_| ErrorCode::INVALID_DATA)
        }
        _ => Err(ErrorCode::INVALID_DATA),
    }
}

fn export(dev: &mut Device, ctx: &Ctx, req: &ExportWrapped) -> Result<Done, ErrorCode> {
    let auth = ctx.authority;
    auth.require(Capabilities::EXPORT_WRAPPED)?;
    let wrap_key = dev.store.visible(&auth, req.wrap_id, ObjectType::WRAP_KEY)?;
    let key = aes_key(wrap_key)?;
    if !wrap_key.capabilities.contains(Capabilities::EXPORT_WRAPPED) {
        return Err(ErrorCode::INSUFFICIENT_PERMISSIONS);
    }
    let delegated = wrap_key.delegated;
    let object = dev.store.visible(&auth, req.id, req.object_type)?;
    if !object.capabilities.contains(Capabilities::EXPORTABLE_UNDER_WRAP)
        || !delegated.contains(object.capabilities)
    {
        return Err(ErrorCode::INSUFFICIENT_PERMISSIONS);
    }
    let with_seed = match req.format {
        None | Some(0) => false,
        Some(ExportWrapped::FORMAT_ED25519_SEED) => true,
        Some(_) => return Err(ErrorCode::INVALID_DATA),
    };
    let body = export_body(object, with_seed);
    let wrapped = WrappedObject {
        header: WrapHeader {
            wrap_algorithm: key.algorithm(),
            capabilities: object.capabilities,
            id: object.id,
            length: 0,
            domains: object.domains,
            object_type: object.object_type,
            algorithm: object.algorithm,
            sequence: object.sequence,
            origin: object.origin,
            label: object.label,
        },
        body,
    };
    let mut nonce = [0u8; wrap::NONCE_LEN];
    dev.random(&mut nonce);
    let blob = wrap::wrap(&key, nonce, &wrapped).map_err(|_| ErrorCode::INVALID_DATA)?;
    Ok(Done::data(blob).target(req.id).second(req.wrap_id))
}

/// The body an export carries: as stored, with delegated capabilities current, and an
/// ed25519 seed only when asked for (format 1).
fn export_body(object: &Object, with_seed: bool) -> Body {
    match &object.body {
        Body::Ed25519 { seed, scalar, prefix, public } => Body::Ed25519 {
            seed: if with_seed { seed.clone() } else { None },
            scalar: scalar.clone(),
            prefix: prefix.clone(),
            public: *public,
        },
        other => other.clone(),
    }
}

fn import(dev: &mut Device, ctx: &Ctx, req: &ImportWrapped) -> Result<Done, ErrorCode> {
    let auth = ctx.authority;
    auth.require(Capabilities::IMPORT_WRAPPED)?;
    let wrap_key = dev.store.visible(&auth, req.wrap_id, ObjectType::WRAP_KEY)?;
    if !wrap_key.capabilities.contains(Capabilities::IMPORT_WRAPPED) {
        return Err(ErrorCode::INSUFFICIENT_PERMISSIONS);
    }
    let delegated = wrap_key.delegated;
    let key = aes_key(wrap_key)?;
    let object = wrap::unwrap(&key, &req.blob).map_err(|_| ErrorCode::INVALID_DATA)?;
    let h = object.header;
    if !delegated.contains(h.capabilities) {
        return Err(ErrorCode::INSUFFICIENT_PERMISSIONS);
    }
    check_body(h.object_type, h.algorithm, &object.body)?;
    let body_delegated = match h.object_type {
        ObjectType::AUTHENTICATION_KEY | ObjectType::WRAP_KEY | ObjectType::PUBLIC_WRAP_KEY => {
            leading_delegated(&object.body)
        }
        _ => Capabilities::NONE,
    };
    let new = NewObject {
        header: ObjectHeader {
            id: h.id,
            label: h.label,
            domains: h.domains,
            capabilities: h.capabilities,
            algorithm: h.algorithm,
        },
        object_type: h.object_type,
        delegated: body_delegated,
        origin: h.origin.with_imported_wrapped(),
        sequence: Some(h.sequence),
    };
    let id = check_new(dev, ctx, &new)?;
    let object_type = h.object_type;
    let id = store_new(dev, id, new, object.body)?;
    let resp = ImportWrappedResponse { object_type, id };
    Ok(Done::data(resp.to_data().to_vec()).target(id).second(req.wrap_id))
}

/// The delegated capabilities at the start of an authentication or wrap key body.
fn leading_delegated(body: &Body) -> Capabilities {
    if let Some(d) = body.delegated_capabilities() {
        return d;
    }
    match body {
        Body::Raw(raw) => raw
            .expose_secret()
            .get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(Capabilities::NONE, |b| Capabilities(u64::from_be_bytes(b))),
        _ => Capabilities::NONE,
    }
}

/// Rejects a body the device could not use: a type it does not know, an EC key whose
/// point is not its scalar's, an asymmetric key the simulator cannot compute with.
fn check_body(object_type: ObjectType, alg: Algorithm, body: &Body) -> Result<(), ErrorCode> {
    match (object_type, body) {
        (ObjectType::ASYMMETRIC_KEY, Body::Ec { d, x, y }) => {
            let fresh = keys::asymmetric_from_private(alg, d.expose_secret())?;
            match fresh {
                Body::Ec { x: fx, y: fy, .. } if &fx == x && &fy == y => Ok(()),
                _ => Err(ErrorCode::INVALID_DATA),
            }
        }
        (ObjectType::ASYMMETRIC_KEY, Body::Ed25519 { .. } | Body::Rsa { .. }) => Ok(()),
        (ObjectType::ASYMMETRIC_KEY, _) => Err(ErrorCode::INVALID_DATA),
        (t, _) if !t.is_known() => Err(ErrorCode::INVALID_DATA),
        _ => Ok(()),
    }
}
