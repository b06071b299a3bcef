//! Wrap commands (proto `command/wrap.rs`; docs/PROTOCOL.md §7.6, §5):
//! put/generate-wrap-key, export-wrapped, import-wrapped, wrap-data and unwrap-data. The
//! asymmetric wrap commands of firmware 2.4 are in `rsa_wrap`.
//!
//! A wrap key is an AES-CCM key, or an RSA key pair (rsa2048/3072/4096, put as `p || q`
//! or generated) that only imports (see `rsa_wrap`). Exporting with an RSA wrap key, or
//! importing a CCM blob with one, is invalid-data (Yubico's
//! `test_export_using_private_wrapkey`).
//!
//! Export: export-wrapped on the session key and on the wrap key, exportable-under-wrap on
//! the object, and the object's capabilities within the wrap key's delegated capabilities
//! (Yubico's `test_import_wrap_permissions`). The blob carries the object's real sequence
//! and origin. Import: import-wrapped on the session key and the wrap key, the object's
//! capabilities within the wrap key's delegated ones, the usual rules for a new object;
//! the origin gains 0x10 and the sequence is the one in the blob (unverified: the blob
//! carries it, so a restore reproduces the object it was taken from).

use yhsm_proto::command::{
    ExportWrapped, GenerateWrapKey, ImportWrapped, ImportWrappedResponse, ObjectHeader, PutWrapKey,
    Response, UnwrapData, WrapData,
};
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::secret::SecretBytes;
use yhsm_proto::wrap::{self, Body, WrapHeader, WrapKey, WrappedObject};
use yhsm_proto::{Algorithm, Capabilities, ObjectType, Origin};
use zeroize::Zeroizing;

use super::{Ctx, Done, Handle, Handler, NewObject, check_new, store_new, usable};
use crate::device::Device;
use crate::keys::{self, rsa, sym};
use crate::store::Object;

pub(super) const HANDLERS: &[Handler] = &[
    Handler::of::<PutWrapKey>(),
    Handler::of::<GenerateWrapKey>(),
    Handler::of::<ExportWrapped>(),
    Handler::of::<ImportWrapped>(),
    Handler::of::<WrapData>(),
    Handler::of::<UnwrapData>(),
];

impl Handle for PutWrapKey {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        ctx.authority.require(Capabilities::PUT_WRAP_KEY)?;
        let (alg, delegated) = (self.header.algorithm, self.delegated);
        if alg.rsa_modulus_size().is_some() {
            return put_wrap_key(dev, ctx, self.header, delegated, Origin::IMPORTED, |_| {
                Ok(keys::rsa_wrap_key_body(
                    delegated,
                    &rsa::from_primes(alg, self.key.expose_secret())?,
                ))
            });
        }
        if alg.wrap_key_size().is_none() {
            return Err(ErrorCode::INVALID_DATA);
        }
        put_wrap_key(dev, ctx, self.header, delegated, Origin::IMPORTED, |_| {
            Ok(Body::WrapKey { delegated, key: self.key })
        })
    }
}

impl Handle for GenerateWrapKey {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        ctx.authority.require(Capabilities::GENERATE_WRAP_KEY)?;
        let (alg, delegated) = (self.header.algorithm, self.delegated);
        if alg.rsa_modulus_size().is_some() {
            return put_wrap_key(dev, ctx, self.header, delegated, Origin::GENERATED, |dev| {
                Ok(keys::rsa_wrap_key_body(delegated, &rsa::generate(alg, &mut dev.rng)?))
            });
        }
        let size = alg.wrap_key_size().ok_or(ErrorCode::INVALID_DATA)?;
        put_wrap_key(dev, ctx, self.header, delegated, Origin::GENERATED, |dev| {
            let mut key = Zeroizing::new(vec![0u8; size]);
            dev.random(&mut key);
            Ok(Body::WrapKey { delegated, key: SecretBytes::from_slice(&key) })
        })
    }
}

impl Handle for ExportWrapped {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        export(dev, ctx, &self)
    }
}

impl Handle for ImportWrapped {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        import(dev, ctx, &self)
    }
}

impl Handle for WrapData {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let key = data_wrap_key(dev, ctx, self.key_id, Capabilities::WRAP_DATA)?;
        let mut nonce = [0u8; 13];
        dev.random(&mut nonce);
        let out = sym::wrap_data(key.expose_secret(), nonce, self.plaintext.expose_secret())?;
        Ok(Done::data(out).target(self.key_id))
    }
}

impl Handle for UnwrapData {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let key = data_wrap_key(dev, ctx, self.key_id, Capabilities::UNWRAP_DATA)?;
        let out = sym::unwrap_data(key.expose_secret(), &self.wrapped)?.to_vec();
        Ok(Done::data(out).target(self.key_id))
    }
}

/// The AES key of wrap key `id` for wrap-data or unwrap-data (`cap`). Firmware before 2.5
/// answers invalid-data for a wrap key without the capability (Yubico's
/// `test_wrap_data_many`).
fn data_wrap_key(
    dev: &Device,
    ctx: &Ctx,
    id: u16,
    cap: Capabilities,
) -> Result<WrapKey, ErrorCode> {
    let key = usable(dev, ctx, id, ObjectType::WRAP_KEY, cap).map_err(|e| {
        let (major, minor, _) = dev.config.version;
        if e == ErrorCode::INSUFFICIENT_PERMISSIONS && (major, minor) < (2, 5) {
            ErrorCode::INVALID_DATA
        } else {
            e
        }
    })?;
    aes_key(key)
}

/// Stores a wrap key whose body `make_body` builds once the rules for a new object have
/// passed (an RSA key takes long to generate).
fn put_wrap_key(
    dev: &mut Device,
    ctx: &Ctx,
    header: ObjectHeader,
    delegated: Capabilities,
    origin: Origin,
    make_body: impl FnOnce(&mut Device) -> Result<Body, ErrorCode>,
) -> Result<Done, ErrorCode> {
    let new =
        NewObject { header, object_type: ObjectType::WRAP_KEY, delegated, origin, sequence: None };
    let id = check_new(dev, ctx, &new)?;
    let body = make_body(dev)?;
    Ok(Done::id(store_new(dev, id, new, body)?))
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
pub(super) fn export_body(object: &Object, with_seed: bool) -> Body {
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
    store_imported(dev, ctx, req.wrap_id, delegated, object)
}

/// Stores an object unwrapped with wrap key `wrap_id` (whose delegated capabilities are
/// `delegated`): its capabilities within them, its body usable, the usual rules for a new
/// object; the blob's sequence, and its origin marked imported-under-wrap.
pub(super) fn store_imported(
    dev: &mut Device,
    ctx: &Ctx,
    wrap_id: u16,
    delegated: Capabilities,
    object: WrappedObject,
) -> Result<Done, ErrorCode> {
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
    Ok(Done::data(resp.to_data().to_vec()).target(id).second(wrap_id))
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
        (ObjectType::ASYMMETRIC_KEY, Body::Ed25519 { .. }) => Ok(()),
        (ObjectType::ASYMMETRIC_KEY, Body::Rsa { .. }) => rsa::check_body(alg, body),
        (ObjectType::ASYMMETRIC_KEY, _) => Err(ErrorCode::INVALID_DATA),
        (t, _) if !t.is_known() => Err(ErrorCode::INVALID_DATA),
        _ => Ok(()),
    }
}
