//! Wrap commands (PROTOCOL.md §3 "Payloads", §5): put/generate-wrap-key, export-wrapped,
//! import-wrapped, wrap-data and unwrap-data; asymmetric wrap (firmware 2.4, 0x73–0x77):
//! put-public-wrap-key, get-rsa-wrapped-key, put-rsa-wrapped-key, export-rsa-wrapped and
//! import-rsa-wrapped.
//!
//! A wrap key is an AES-CCM key, or an RSA key pair (rsa2048/3072/4096, put as `p || q`
//! or generated) that only imports: RSA-wrapped data is made for its public half, stored
//! on the exporting device as a public wrap key (its modulus). Exporting with an RSA wrap
//! key, or importing a CCM blob with one, is invalid-data (Yubico's
//! `test_export_using_private_wrapkey`).
//!
//! Asymmetric export checks the rules of a CCM export against the public wrap key; import
//! those of a CCM import against the RSA wrap key. Export-rsa-wrapped carries the whole
//! object as a CCM export's plaintext does (59-byte header and body; the header's wrap
//! algorithm byte is the ephemeral AES key's algorithm — how the device fills it is not
//! known, and import does not check it), and import-rsa-wrapped keeps the blob's
//! sequence and origin as import-wrapped does. Get-rsa-wrapped-key carries only the key
//! material (asymmetric keys as PKCS#8, symmetric keys raw), and put-rsa-wrapped-key
//! takes the new object's metadata from the request; its origin is imported and
//! imported-under-wrap.
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
    ExportRsaWrapped, ExportWrapped, GenerateWrapKey, GetRsaWrappedKey, ImportRsaWrapped,
    ImportWrapped, ImportWrappedResponse, ObjectHeader, PutPublicWrapKey, PutRsaWrappedKey,
    PutWrapKey, Response,
};
use yhsm_proto::frame::{CommandCode, ErrorCode};
use yhsm_proto::secret::SecretBytes;
use yhsm_proto::wrap::{self, Body, WrapHeader, WrapKey, WrappedObject};
use yhsm_proto::{Algorithm, Capabilities, ObjectType, Origin};
use zeroize::Zeroizing;

use super::{Ctx, Done, NewObject, check_new, decode, read_id, store_new, usable};
use crate::device::Device;
use crate::keys::{self, kwp, pkcs8, rsa, sym};
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
            let (alg, delegated) = (req.header.algorithm, req.delegated);
            if alg.rsa_modulus_size().is_some() {
                return put_wrap_key(dev, ctx, req.header, delegated, Origin::IMPORTED, |_| {
                    Ok(keys::rsa_wrap_key_body(
                        delegated,
                        &rsa::from_primes(alg, req.key.expose_secret())?,
                    ))
                });
            }
            if alg.wrap_key_size().is_none() {
                return Err(ErrorCode::INVALID_DATA);
            }
            put_wrap_key(dev, ctx, req.header, delegated, Origin::IMPORTED, |_| {
                Ok(Body::WrapKey { delegated, key: req.key })
            })
        }
        CommandCode::GENERATE_WRAP_KEY => {
            let req = decode::<GenerateWrapKey>(data)?;
            auth.require(Capabilities::GENERATE_WRAP_KEY)?;
            let (alg, delegated) = (req.header.algorithm, req.delegated);
            if alg.rsa_modulus_size().is_some() {
                return put_wrap_key(dev, ctx, req.header, delegated, Origin::GENERATED, |dev| {
                    Ok(keys::rsa_wrap_key_body(delegated, &rsa::generate(alg, &mut dev.rng)?))
                });
            }
            let size = alg.wrap_key_size().ok_or(ErrorCode::INVALID_DATA)?;
            put_wrap_key(dev, ctx, req.header, delegated, Origin::GENERATED, |dev| {
                let mut key = Zeroizing::new(vec![0u8; size]);
                dev.random(&mut key);
                Ok(Body::WrapKey { delegated, key: SecretBytes::from_slice(&key) })
            })
        }
        CommandCode::PUT_PUBLIC_WRAP_KEY => {
            let req = decode::<PutPublicWrapKey>(data)?;
            auth.require(Capabilities::PUT_PUBLIC_WRAP_KEY)?;
            let size = req.header.algorithm.rsa_modulus_size().ok_or(ErrorCode::INVALID_DATA)?;
            // A modulus of exactly the algorithm's size (top bit set), odd.
            if req.modulus.first().is_none_or(|b| b & 0x80 == 0)
                || req.modulus.last().is_none_or(|b| b & 1 == 0)
                || req.modulus.len() != size
            {
                return Err(ErrorCode::INVALID_DATA);
            }
            let delegated = req.delegated;
            let new = NewObject {
                header: req.header,
                object_type: ObjectType::PUBLIC_WRAP_KEY,
                delegated,
                origin: Origin::IMPORTED,
                sequence: None,
            };
            let id = check_new(dev, ctx, &new)?;
            let body = keys::public_wrap_key_body(delegated, &req.modulus);
            Ok(Done::id(store_new(dev, id, new, body)?))
        }
        CommandCode::GET_RSA_WRAPPED_KEY => {
            let req = decode::<GetRsaWrappedKey>(data)?;
            rsa_export(dev, ctx, code, &RsaExport::from_key(&req))
        }
        CommandCode::EXPORT_RSA_WRAPPED => {
            let req = decode::<ExportRsaWrapped>(data)?;
            rsa_export(dev, ctx, code, &RsaExport::from_object(&req))
        }
        CommandCode::PUT_RSA_WRAPPED_KEY => put_rsa_wrapped_key(dev, ctx, &decode(data)?),
        CommandCode::IMPORT_RSA_WRAPPED => import_rsa_wrapped(dev, ctx, &decode(data)?),
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
    store_imported(dev, ctx, req.wrap_id, delegated, object)
}

/// Stores an object unwrapped with wrap key `wrap_id` (whose delegated capabilities are
/// `delegated`): its capabilities within them, its body usable, the usual rules for a new
/// object; the blob's sequence, and its origin marked imported-under-wrap.
fn store_imported(
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
