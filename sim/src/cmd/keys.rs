//! Key commands: authentication keys (put, change), asymmetric keys (put, generate,
//! get-public-key, sign-ecdsa, sign-eddsa, derive-ecdh, sign-pkcs1, sign-pss,
//! decrypt-pkcs1, decrypt-oaep), HMAC keys (put, generate, sign,
//! verify), symmetric keys (put, generate, ECB, CBC) and OTP AEAD keys (put, generate).

use yhsm_proto::codec::Reader;
use yhsm_proto::command::{
    AuthenticationKey, ChangeAuthenticationKey, GenerateAsymmetricKey, GetPublicKey, PublicKey,
    PutAsymmetricKey, PutAuthenticationKey, PutHmacKey, Response, SignEcdsa,
};
use yhsm_proto::frame::{CommandCode, ErrorCode};
use yhsm_proto::secret::SecretBytes;
use yhsm_proto::wrap::Body;
use yhsm_proto::{Algorithm, Capabilities, ObjectType, Origin};
use zeroize::Zeroizing;

use super::{
    Ctx, Done, NewObject, check_new, decode, decode_error, read_header, read_id, store_new, usable,
};
use crate::device::Device;
use crate::keys::{self, rsa, sym};

pub fn execute(
    dev: &mut Device,
    ctx: &Ctx,
    code: CommandCode,
    data: &[u8],
) -> Result<Done, ErrorCode> {
    let auth = ctx.authority;
    match code {
        CommandCode::PUT_AUTHENTICATION_KEY => {
            let req = decode::<PutAuthenticationKey>(data)?;
            auth.require(Capabilities::PUT_AUTHENTICATION_KEY)?;
            let body = auth_key_body(req.delegated, &req.key)?;
            let new = NewObject {
                header: req.header,
                object_type: ObjectType::AUTHENTICATION_KEY,
                delegated: req.delegated,
                origin: Origin::IMPORTED,
                sequence: None,
            };
            let id = check_new(dev, ctx, &new)?;
            Ok(Done::id(store_new(dev, id, new, body)?))
        }
        CommandCode::CHANGE_AUTHENTICATION_KEY => {
            let req = decode::<ChangeAuthenticationKey>(data)?;
            auth.require(Capabilities::CHANGE_AUTHENTICATION_KEY)?;
            // Only the key the session was opened with can be changed.
            if req.key_id != auth.key_id {
                return Err(ErrorCode::INVALID_ID);
            }
            let object = dev
                .store
                .get_mut(req.key_id, ObjectType::AUTHENTICATION_KEY)
                .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
            if object.algorithm != req.key.algorithm() {
                return Err(ErrorCode::INVALID_DATA);
            }
            object.body = auth_key_body(object.delegated, &req.key)?;
            dev.mark_changed();
            Ok(Done::id(req.key_id))
        }
        CommandCode::PUT_ASYMMETRIC_KEY => {
            let req = decode::<PutAsymmetricKey>(data)?;
            auth.require(Capabilities::PUT_ASYMMETRIC_KEY)?;
            check_asymmetric_algorithm(req.header.algorithm)?;
            let new = new_object(req.header, ObjectType::ASYMMETRIC_KEY, Origin::IMPORTED);
            let id = check_new(dev, ctx, &new)?;
            let body =
                keys::asymmetric_from_private(req.header.algorithm, req.key.expose_secret())?;
            Ok(Done::id(store_new(dev, id, new, body)?))
        }
        CommandCode::GENERATE_ASYMMETRIC_KEY => {
            let req = decode::<GenerateAsymmetricKey>(data)?;
            auth.require(Capabilities::GENERATE_ASYMMETRIC_KEY)?;
            check_asymmetric_algorithm(req.header.algorithm)?;
            let new = new_object(req.header, ObjectType::ASYMMETRIC_KEY, Origin::GENERATED);
            let id = check_new(dev, ctx, &new)?;
            let body = keys::asymmetric_generate(req.header.algorithm, &mut dev.rng)?;
            Ok(Done::id(store_new(dev, id, new, body)?))
        }
        CommandCode::GET_PUBLIC_KEY => {
            let req = decode::<GetPublicKey>(data)?;
            let object_type = req.object_type.unwrap_or(ObjectType::ASYMMETRIC_KEY);
            let object = dev.store.visible(&auth, req.id, object_type)?;
            let key = keys::public_key(object).ok_or(ErrorCode::INVALID_DATA)?;
            let resp = PublicKey { algorithm: object.algorithm, key };
            Ok(Done::data(resp.to_data().to_vec()).target(req.id))
        }
        CommandCode::SIGN_ECDSA => {
            let req = decode::<SignEcdsa>(data)?;
            let object =
                usable(dev, ctx, req.key_id, ObjectType::ASYMMETRIC_KEY, Capabilities::SIGN_ECDSA)?;
            let (alg, body) = (object.algorithm, object.body.clone());
            let sig = keys::sign_ecdsa(alg, &body, &req.digest, &mut dev.rng)?;
            Ok(Done::data(sig).target(req.key_id))
        }
        CommandCode::SIGN_EDDSA => {
            // An empty message is valid (RFC 8032 test 1).
            let mut r = Reader::new(data);
            let id = read_id(&mut r)?;
            let message = r.rest();
            let object =
                usable(dev, ctx, id, ObjectType::ASYMMETRIC_KEY, Capabilities::SIGN_EDDSA)?;
            if object.algorithm != Algorithm::ED25519 {
                return Err(ErrorCode::INVALID_DATA);
            }
            Ok(Done::data(keys::sign_eddsa(&object.body, message)?).target(id))
        }
        CommandCode::SIGN_PKCS1 => {
            // id(2) digest: the hash is told by the digest's length.
            let (id, digest) = id_and_rest(data)?;
            let (alg, body) = rsa_key(dev, ctx, id, Capabilities::SIGN_PKCS)?;
            Ok(Done::data(rsa::sign_pkcs1(alg, &body, digest, &mut dev.rng)?).target(id))
        }
        CommandCode::SIGN_PSS => {
            // id(2) mgf1(1) salt_len(2) digest (python-yubihsm's `sign_pss`).
            let mut r = Reader::new(data);
            let id = read_id(&mut r)?;
            let mgf = r.u8("sign-pss: mgf1 algorithm").map_err(decode_error)?;
            let salt_len = r.u16("sign-pss: salt length").map_err(decode_error)?;
            let digest = r.rest();
            let mgf = rsa::Hash::from_mgf1(Algorithm(mgf)).ok_or(ErrorCode::INVALID_DATA)?;
            let (alg, body) = rsa_key(dev, ctx, id, Capabilities::SIGN_PSS)?;
            let sig = rsa::sign_pss(alg, &body, mgf, usize::from(salt_len), digest, &mut dev.rng)?;
            Ok(Done::data(sig).target(id))
        }
        CommandCode::DECRYPT_PKCS1 => {
            let (id, ciphertext) = id_and_rest(data)?;
            let (alg, body) = rsa_key(dev, ctx, id, Capabilities::DECRYPT_PKCS)?;
            Ok(Done::data(rsa::decrypt_pkcs1(alg, &body, ciphertext, &mut dev.rng)?).target(id))
        }
        CommandCode::DECRYPT_OAEP => {
            // id(2) mgf1(1) ciphertext(modulus size) label_hash (python-yubihsm's
            // `decrypt_oaep`): the OAEP hash is told by the label hash's length.
            let mut r = Reader::new(data);
            let id = read_id(&mut r)?;
            let mgf = r.u8("decrypt-oaep: mgf1 algorithm").map_err(decode_error)?;
            let rest = r.rest();
            let mgf = rsa::Hash::from_mgf1(Algorithm(mgf)).ok_or(ErrorCode::INVALID_DATA)?;
            let (alg, body) = rsa_key(dev, ctx, id, Capabilities::DECRYPT_OAEP)?;
            let k = alg.rsa_modulus_size().ok_or(ErrorCode::INVALID_DATA)?;
            let (ciphertext, label_hash) =
                rest.split_at_checked(k).ok_or(ErrorCode::WRONG_LENGTH)?;
            let plain = rsa::decrypt_oaep(alg, &body, mgf, ciphertext, label_hash, &mut dev.rng)?;
            Ok(Done::data(plain).target(id))
        }
        CommandCode::DERIVE_ECDH => {
            let (id, point) = id_and_rest(data)?;
            let object =
                usable(dev, ctx, id, ObjectType::ASYMMETRIC_KEY, Capabilities::DERIVE_ECDH)?;
            Ok(Done::data(keys::derive_ecdh(object.algorithm, &object.body, point)?).target(id))
        }
        CommandCode::PUT_HMAC_KEY => {
            let req = decode::<PutHmacKey>(data)?;
            auth.require(Capabilities::PUT_MAC_KEY)?;
            if req.header.algorithm.hmac_block_size().is_none() {
                return Err(ErrorCode::INVALID_DATA);
            }
            let new = new_object(req.header, ObjectType::HMAC_KEY, Origin::IMPORTED);
            let id = check_new(dev, ctx, &new)?;
            let body = Body::Hmac { algorithm: req.header.algorithm, key: req.key.clone() };
            Ok(Done::id(store_new(dev, id, new, body)?))
        }
        CommandCode::GENERATE_HMAC_KEY => {
            let header = header_only(data)?;
            auth.require(Capabilities::GENERATE_HMAC_KEY)?;
            let len = hmac_output_len(header.algorithm).ok_or(ErrorCode::INVALID_DATA)?;
            let new = new_object(header, ObjectType::HMAC_KEY, Origin::GENERATED);
            let id = check_new(dev, ctx, &new)?;
            let mut key = Zeroizing::new(vec![0u8; len]);
            // A key ending in zero bytes would not survive the ipad/opad body exactly.
            while key.last().is_none_or(|b| *b == 0) {
                dev.random(&mut key);
            }
            let body =
                Body::Hmac { algorithm: header.algorithm, key: SecretBytes::from_slice(&key) };
            Ok(Done::id(store_new(dev, id, new, body)?))
        }
        CommandCode::SIGN_HMAC => {
            let (id, message) = id_and_rest(data)?;
            let object = usable(dev, ctx, id, ObjectType::HMAC_KEY, Capabilities::SIGN_HMAC)?;
            let Body::Hmac { algorithm, key } = &object.body else {
                return Err(ErrorCode::INVALID_DATA);
            };
            Ok(Done::data(sym::hmac(*algorithm, key.expose_secret(), message)?).target(id))
        }
        CommandCode::VERIFY_HMAC => {
            let (id, rest) = id_and_rest(data)?;
            let object = usable(dev, ctx, id, ObjectType::HMAC_KEY, Capabilities::VERIFY_HMAC)?;
            let Body::Hmac { algorithm, key } = &object.body else {
                return Err(ErrorCode::INVALID_DATA);
            };
            let n = hmac_output_len(*algorithm).ok_or(ErrorCode::INVALID_DATA)?;
            let (mac, message) = rest.split_at_checked(n).ok_or(ErrorCode::WRONG_LENGTH)?;
            let ok = sym::hmac_verify(*algorithm, key.expose_secret(), mac, message)?;
            Ok(Done::data(vec![u8::from(ok)]).target(id))
        }
        CommandCode::PUT_SYMMETRIC_KEY => {
            let mut r = Reader::new(data);
            let header = read_header(&mut r)?;
            let key = r.rest();
            auth.require(Capabilities::PUT_SYMMETRIC_KEY)?;
            let size = header.algorithm.aes_key_size().ok_or(ErrorCode::INVALID_DATA)?;
            if key.len() != size {
                return Err(ErrorCode::WRONG_LENGTH);
            }
            let new = new_object(header, ObjectType::SYMMETRIC_KEY, Origin::IMPORTED);
            let id = check_new(dev, ctx, &new)?;
            Ok(Done::id(store_new(dev, id, new, Body::Raw(SecretBytes::from_slice(key)))?))
        }
        CommandCode::GENERATE_SYMMETRIC_KEY => {
            let header = header_only(data)?;
            auth.require(Capabilities::GENERATE_SYMMETRIC_KEY)?;
            let size = header.algorithm.aes_key_size().ok_or(ErrorCode::INVALID_DATA)?;
            let new = new_object(header, ObjectType::SYMMETRIC_KEY, Origin::GENERATED);
            let id = check_new(dev, ctx, &new)?;
            let mut key = Zeroizing::new(vec![0u8; size]);
            dev.random(&mut key);
            Ok(Done::id(store_new(dev, id, new, Body::Raw(SecretBytes::from_slice(&key)))?))
        }
        CommandCode::ENCRYPT_ECB | CommandCode::DECRYPT_ECB => {
            let (id, input) = id_and_rest(data)?;
            let (cap, dir) = if code == CommandCode::ENCRYPT_ECB {
                (Capabilities::ENCRYPT_ECB, sym::Direction::Encrypt)
            } else {
                (Capabilities::DECRYPT_ECB, sym::Direction::Decrypt)
            };
            let key = symmetric_key(dev, ctx, id, cap)?;
            Ok(Done::data(sym::aes_ecb(&key, dir, input)?).target(id))
        }
        CommandCode::ENCRYPT_CBC | CommandCode::DECRYPT_CBC => {
            let (id, rest) = id_and_rest(data)?;
            let (iv, input) = rest.split_at_checked(16).ok_or(ErrorCode::WRONG_LENGTH)?;
            let (cap, dir) = if code == CommandCode::ENCRYPT_CBC {
                (Capabilities::ENCRYPT_CBC, sym::Direction::Encrypt)
            } else {
                (Capabilities::DECRYPT_CBC, sym::Direction::Decrypt)
            };
            let key = symmetric_key(dev, ctx, id, cap)?;
            Ok(Done::data(sym::aes_cbc(&key, dir, iv, input)?).target(id))
        }
        CommandCode::PUT_OTP_AEAD_KEY | CommandCode::GENERATE_OTP_AEAD_KEY => {
            let mut r = Reader::new(data);
            let header = read_header(&mut r)?;
            let nonce_id = r.array::<4>("otp aead key: nonce id").map_err(decode_error)?;
            let size = match header.algorithm {
                Algorithm::AES128_YUBICO_OTP => 16,
                Algorithm::AES192_YUBICO_OTP => 24,
                Algorithm::AES256_YUBICO_OTP => 32,
                _ => return Err(ErrorCode::INVALID_DATA),
            };
            let generate = code == CommandCode::GENERATE_OTP_AEAD_KEY;
            let mut key = Zeroizing::new(vec![0u8; size]);
            if generate {
                r.finish("generate-otp-aead-key").map_err(decode_error)?;
                auth.require(Capabilities::GENERATE_OTP_AEAD_KEY)?;
            } else {
                let given = r.rest();
                if given.len() != size {
                    return Err(ErrorCode::WRONG_LENGTH);
                }
                key.copy_from_slice(given);
                auth.require(Capabilities::PUT_OTP_AEAD_KEY)?;
            }
            let origin = if generate { Origin::GENERATED } else { Origin::IMPORTED };
            let new = new_object(header, ObjectType::OTP_AEAD_KEY, origin);
            let id = check_new(dev, ctx, &new)?;
            if generate {
                dev.random(&mut key);
            }
            // Stored as nonce id followed by the key (an OTP AEAD key's wrapped body).
            let mut body = Zeroizing::new(nonce_id.to_vec());
            body.extend_from_slice(&key);
            Ok(Done::id(store_new(dev, id, new, Body::Raw(SecretBytes::from_slice(&body)))?))
        }
        _ => Err(ErrorCode::INVALID_COMMAND),
    }
}

fn new_object(
    header: yhsm_proto::command::ObjectHeader,
    object_type: ObjectType,
    origin: Origin,
) -> NewObject {
    NewObject { header, object_type, delegated: Capabilities::NONE, origin, sequence: None }
}

fn header_only(data: &[u8]) -> Result<yhsm_proto::command::ObjectHeader, ErrorCode> {
    let mut r = Reader::new(data);
    let header = read_header(&mut r)?;
    r.finish("object header").map_err(decode_error)?;
    Ok(header)
}

fn id_and_rest(data: &[u8]) -> Result<(u16, &[u8]), ErrorCode> {
    let mut r = Reader::new(data);
    let id = read_id(&mut r)?;
    let rest = r.rest();
    if rest.is_empty() {
        return Err(ErrorCode::WRONG_LENGTH);
    }
    Ok((id, rest))
}

/// Asymmetric key algorithms: the EC curves, ed25519 and RSA.
fn check_asymmetric_algorithm(alg: Algorithm) -> Result<(), ErrorCode> {
    if alg.ec_field_size().is_some()
        || alg.rsa_modulus_size().is_some()
        || alg == Algorithm::ED25519
    {
        Ok(())
    } else {
        Err(ErrorCode::INVALID_DATA)
    }
}

fn hmac_output_len(alg: Algorithm) -> Option<usize> {
    match alg {
        Algorithm::HMAC_SHA1 => Some(20),
        Algorithm::HMAC_SHA256 => Some(32),
        Algorithm::HMAC_SHA384 => Some(48),
        Algorithm::HMAC_SHA512 => Some(64),
        _ => None,
    }
}

/// The algorithm and body of the RSA key `id`, usable with `cap` (invalid-data for a key
/// of another algorithm).
fn rsa_key(
    dev: &Device,
    ctx: &Ctx,
    id: u16,
    cap: Capabilities,
) -> Result<(Algorithm, Body), ErrorCode> {
    let object = usable(dev, ctx, id, ObjectType::ASYMMETRIC_KEY, cap)?;
    if object.algorithm.rsa_modulus_size().is_none() {
        return Err(ErrorCode::INVALID_DATA);
    }
    Ok((object.algorithm, object.body.clone()))
}

fn symmetric_key(
    dev: &Device,
    ctx: &Ctx,
    id: u16,
    cap: Capabilities,
) -> Result<Zeroizing<Vec<u8>>, ErrorCode> {
    let object = usable(dev, ctx, id, ObjectType::SYMMETRIC_KEY, cap)?;
    match &object.body {
        Body::Raw(k) => Ok(Zeroizing::new(k.expose_secret().to_vec())),
        _ => Err(ErrorCode::INVALID_DATA),
    }
}

/// The stored body of an authentication key: symmetric keys in the wrapped layout, a
/// P-256 public key as `delegated || X || Y` (the point must be on the curve).
pub fn auth_key_body(delegated: Capabilities, key: &AuthenticationKey) -> Result<Body, ErrorCode> {
    match key {
        AuthenticationKey::Symmetric { enc, mac } => {
            Ok(Body::AuthenticationKey { delegated, enc: enc.clone(), mac: mac.clone() })
        }
        AuthenticationKey::EcP256 { x, y } => {
            let mut sec1 = vec![0x04];
            sec1.extend_from_slice(x);
            sec1.extend_from_slice(y);
            p256::PublicKey::from_sec1_bytes(&sec1).map_err(|_| ErrorCode::INVALID_DATA)?;
            let mut raw = delegated.0.to_be_bytes().to_vec();
            raw.extend_from_slice(x);
            raw.extend_from_slice(y);
            Ok(Body::Raw(SecretBytes::new(raw)))
        }
    }
}
