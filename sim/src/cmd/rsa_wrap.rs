//! Asymmetric wrap (proto `command/rsa_wrap.rs`; docs/PROTOCOL.md §7.7; firmware 2.4):
//! put-public-wrap-key, get-rsa-wrapped-key, put-rsa-wrapped-key, export-rsa-wrapped and
//! import-rsa-wrapped.
//!
//! RSA-wrapped data is made for the public half of an RSA wrap key (`wrap`), stored on
//! the exporting device as a public wrap key (its modulus). Asymmetric export checks the
//! rules of a CCM export against the public wrap key; import those of a CCM import
//! against the RSA wrap key. Export-rsa-wrapped carries the whole object as a CCM
//! export's plaintext does (59-byte header and body; the header's wrap algorithm byte is
//! the ephemeral AES key's algorithm — how the device fills it is not known, and import
//! does not check it), and import-rsa-wrapped keeps the blob's sequence and origin as
//! import-wrapped does. Get-rsa-wrapped-key carries only the key material (asymmetric
//! keys as PKCS#8, symmetric keys raw), and put-rsa-wrapped-key takes the new object's
//! metadata from the request; its origin is imported and imported-under-wrap.

use yhsm_proto::command::{
    Command, ExportRsaWrapped, GetRsaWrappedKey, ImportRsaWrapped, ImportWrappedResponse,
    PutPublicWrapKey, PutRsaWrappedKey, Response,
};
use yhsm_proto::frame::{CommandCode, ErrorCode};
use yhsm_proto::secret::SecretBytes;
use yhsm_proto::wrap::{Body, WrapHeader, WrappedObject};
use yhsm_proto::{Algorithm, Capabilities, ObjectType, Origin};
use zeroize::Zeroizing;

use super::wrap::{export_body, store_imported};
use super::{Ctx, Done, Handle, Handler, NewObject, check_new, store_new};
use crate::device::Device;
use crate::keys::{self, kwp, pkcs8};
use crate::store::Object;

pub(super) const HANDLERS: &[Handler] = &[
    Handler::of::<PutPublicWrapKey>(),
    Handler::of::<GetRsaWrappedKey>(),
    Handler::of::<PutRsaWrappedKey>(),
    Handler::of::<ExportRsaWrapped>(),
    Handler::of::<ImportRsaWrapped>(),
];

impl Handle for PutPublicWrapKey {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        ctx.authority.require(Capabilities::PUT_PUBLIC_WRAP_KEY)?;
        let size = self.header.algorithm.rsa_modulus_size().ok_or(ErrorCode::INVALID_DATA)?;
        // A modulus of exactly the algorithm's size (top bit set), odd.
        if self.modulus.first().is_none_or(|b| b & 0x80 == 0)
            || self.modulus.last().is_none_or(|b| b & 1 == 0)
            || self.modulus.len() != size
        {
            return Err(ErrorCode::INVALID_DATA);
        }
        let delegated = self.delegated;
        let new = NewObject {
            header: self.header,
            object_type: ObjectType::PUBLIC_WRAP_KEY,
            delegated,
            origin: Origin::IMPORTED,
            sequence: None,
        };
        let id = check_new(dev, ctx, &new)?;
        let body = keys::public_wrap_key_body(delegated, &self.modulus);
        Ok(Done::id(store_new(dev, id, new, body)?))
    }
}

impl Handle for GetRsaWrappedKey {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        rsa_export(dev, ctx, Self::CODE, &RsaExport::from_key(&self))
    }
}

impl Handle for ExportRsaWrapped {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        rsa_export(dev, ctx, Self::CODE, &RsaExport::from_object(&self))
    }
}

impl Handle for PutRsaWrappedKey {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        put_rsa_wrapped_key(dev, ctx, &self)
    }
}

impl Handle for ImportRsaWrapped {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        import_rsa_wrapped(dev, ctx, &self)
    }
}

/// What an asymmetric export asks for (get-rsa-wrapped-key and export-rsa-wrapped share
/// their layout).
struct RsaExport<'a> {
    wrap_id: u16,
    object_type: ObjectType,
    id: u16,
    aes: Algorithm,
    oaep: Algorithm,
    mgf1: Algorithm,
    label_hash: &'a [u8],
}

impl<'a> RsaExport<'a> {
    fn from_key(r: &'a GetRsaWrappedKey) -> Self {
        let (wrap_id, object_type, id, aes, oaep, mgf1) =
            (r.wrap_id, r.object_type, r.id, r.aes, r.oaep, r.mgf1);
        Self { wrap_id, object_type, id, aes, oaep, mgf1, label_hash: &r.label_hash }
    }

    fn from_object(r: &'a ExportRsaWrapped) -> Self {
        let (wrap_id, object_type, id, aes, oaep, mgf1) =
            (r.wrap_id, r.object_type, r.id, r.aes, r.oaep, r.mgf1);
        Self { wrap_id, object_type, id, aes, oaep, mgf1, label_hash: &r.label_hash }
    }
}

/// Get-rsa-wrapped-key (the key material) or export-rsa-wrapped (the whole object) under
/// a public wrap key.
fn rsa_export(
    dev: &mut Device,
    ctx: &Ctx,
    code: CommandCode,
    req: &RsaExport<'_>,
) -> Result<Done, ErrorCode> {
    let auth = ctx.authority;
    auth.require(Capabilities::EXPORT_WRAPPED)?;
    let wrap_key = dev.store.visible(&auth, req.wrap_id, ObjectType::PUBLIC_WRAP_KEY)?;
    if !wrap_key.capabilities.contains(Capabilities::EXPORT_WRAPPED) {
        return Err(ErrorCode::INSUFFICIENT_PERMISSIONS);
    }
    let n = keys::public_wrap_modulus(wrap_key)?.to_vec();
    let delegated = wrap_key.delegated;
    let object = dev.store.visible(&auth, req.id, req.object_type)?;
    if !object.capabilities.contains(Capabilities::EXPORTABLE_UNDER_WRAP)
        || !delegated.contains(object.capabilities)
    {
        return Err(ErrorCode::INSUFFICIENT_PERMISSIONS);
    }
    let oaep = kwp::Oaep::new(req.oaep, req.mgf1, req.label_hash)?;
    kwp::aes_key_len(req.aes).ok_or(ErrorCode::INVALID_DATA)?;
    let payload = if code == CommandCode::GET_RSA_WRAPPED_KEY {
        key_material(object)?
    } else {
        let body = export_body(object, false).to_bytes();
        let header = WrapHeader {
            wrap_algorithm: req.aes,
            capabilities: object.capabilities,
            id: object.id,
            length: u16::try_from(body.len()).map_err(|_| ErrorCode::INVALID_DATA)?,
            domains: object.domains,
            object_type: object.object_type,
            algorithm: object.algorithm,
            sequence: object.sequence,
            origin: object.origin,
            label: object.label,
        };
        let mut plain = Zeroizing::new(header.to_bytes());
        plain.extend_from_slice(&body);
        plain
    };
    let blob = kwp::seal(&n, req.aes, &oaep, &payload, &mut dev.rng)?;
    Ok(Done::data(blob).target(req.id).second(req.wrap_id))
}

/// The key material get-rsa-wrapped-key carries: PKCS#8 for an asymmetric key, the raw
/// key for a symmetric key; other objects are invalid-data.
fn key_material(object: &Object) -> Result<Zeroizing<Vec<u8>>, ErrorCode> {
    match (object.object_type, &object.body) {
        (ObjectType::ASYMMETRIC_KEY, body) => pkcs8::encode(object.algorithm, body),
        (ObjectType::SYMMETRIC_KEY, Body::Raw(key)) => {
            Ok(Zeroizing::new(key.expose_secret().to_vec()))
        }
        _ => Err(ErrorCode::INVALID_DATA),
    }
}

/// The RSA wrap key `wrap_id` for an import: import-wrapped on the session key and the
/// wrap key; its delegated capabilities and RSA key.
fn rsa_import_key(
    dev: &Device,
    ctx: &Ctx,
    wrap_id: u16,
) -> Result<(Algorithm, Capabilities, Body), ErrorCode> {
    let auth = ctx.authority;
    auth.require(Capabilities::IMPORT_WRAPPED)?;
    let wrap_key = dev.store.visible(&auth, wrap_id, ObjectType::WRAP_KEY)?;
    if !wrap_key.capabilities.contains(Capabilities::IMPORT_WRAPPED) {
        return Err(ErrorCode::INSUFFICIENT_PERMISSIONS);
    }
    Ok((wrap_key.algorithm, wrap_key.delegated, keys::rsa_wrap_key(wrap_key)?))
}

fn put_rsa_wrapped_key(
    dev: &mut Device,
    ctx: &Ctx,
    req: &PutRsaWrappedKey,
) -> Result<Done, ErrorCode> {
    let (alg, delegated, rsa_key) = rsa_import_key(dev, ctx, req.wrap_id)?;
    if !delegated.contains(req.header.capabilities) {
        return Err(ErrorCode::INSUFFICIENT_PERMISSIONS);
    }
    let oaep = kwp::Oaep::new(req.oaep, req.mgf1, &req.label_hash)?;
    let material = kwp::open(alg, &rsa_key, &oaep, &req.wrapped, &mut dev.rng)?;
    let body = match req.object_type {
        ObjectType::ASYMMETRIC_KEY => pkcs8::decode(req.header.algorithm, &material)?,
        ObjectType::SYMMETRIC_KEY => {
            let size = kwp::aes_key_len(req.header.algorithm).ok_or(ErrorCode::INVALID_DATA)?;
            if material.len() != size {
                return Err(ErrorCode::INVALID_DATA);
            }
            Body::Raw(SecretBytes::from_slice(&material))
        }
        _ => return Err(ErrorCode::INVALID_DATA),
    };
    let new = NewObject {
        header: req.header,
        object_type: req.object_type,
        delegated: Capabilities::NONE,
        origin: Origin::IMPORTED.with_imported_wrapped(),
        sequence: None,
    };
    let id = check_new(dev, ctx, &new)?;
    let id = store_new(dev, id, new, body)?;
    let resp = ImportWrappedResponse { object_type: req.object_type, id };
    Ok(Done::data(resp.to_data().to_vec()).target(id).second(req.wrap_id))
}

fn import_rsa_wrapped(
    dev: &mut Device,
    ctx: &Ctx,
    req: &ImportRsaWrapped,
) -> Result<Done, ErrorCode> {
    let (alg, delegated, rsa_key) = rsa_import_key(dev, ctx, req.wrap_id)?;
    let oaep = kwp::Oaep::new(req.oaep, req.mgf1, &req.label_hash)?;
    let plain = kwp::open(alg, &rsa_key, &oaep, &req.wrapped, &mut dev.rng)?;
    let (header, body) = plain.split_at_checked(WrapHeader::LEN).ok_or(ErrorCode::INVALID_DATA)?;
    let header = WrapHeader::decode(header).map_err(|_| ErrorCode::INVALID_DATA)?;
    if usize::from(header.length) != body.len() {
        return Err(ErrorCode::INVALID_DATA);
    }
    let body = Body::decode(header.object_type, header.algorithm, body)
        .map_err(|_| ErrorCode::INVALID_DATA)?;
    store_imported(dev, ctx, req.wrap_id, delegated, WrappedObject { header, body })
}
