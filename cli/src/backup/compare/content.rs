//! Content proofs: whether an object already on the device holds the backup's content,
//! for the objects a public key or a session cannot prove (cli/README.md "Content
//! proofs"). The tool holds the wrap key, so it tries, in this order:
//!
//! 1. opaque data: GET_OPAQUE, compared with the backup's bytes;
//! 2. any object that is exportable under wrap: EXPORT_WRAPPED under the backup's wrap key
//!    (docs/PROTOCOL.md §7.6), decrypted, and its body compared with the backup's;
//! 3. an operation with the key on a random challenge, whose answer the host computes from
//!    the backup's key (`yhsm_proto::proof`): SIGN_HMAC or VERIFY_HMAC for an HMAC key,
//!    ENCRYPT/DECRYPT-ECB/CBC for an AES key, WRAP_DATA for a wrap key.
//!
//! Each needs capabilities (on the object, and on the login key) that the device checks;
//! a refusal only means that way is closed, and the next is tried. When none is open the
//! object is "present, content not verified", with every reason. Comparisons of secret
//! bytes are in constant time; none of them is ever printed.

use yhsm_proto::command::{
    Command, DecryptCbc, DecryptEcb, EncryptCbc, EncryptEcb, SignHmac, VerifyHmac, WrapData,
};
use yhsm_proto::frame::{CommandCode, ErrorCode};
use yhsm_proto::proof::{self, BLOCK_LEN};
use yhsm_proto::secret::ct_eq;
use yhsm_proto::wrap::{self, Body, WrapError, WrapKey};
use yhsm_proto::{Capabilities, ObjectInfo, ObjectType, SecretBytes};
use yhsm_transport::{Client, ClientError};

use super::{BackupKey, Proof};
use crate::backup::dir::Entry;

/// Why the content is not proven.
pub(super) enum Unproven {
    /// It differs from the backup's: how that was seen.
    Differs(String),
    /// It could not be compared: why (every way tried).
    Why(String),
}

type Outcome = Result<Proof, Unproven>;

/// The device said no, or the client would not send it (`--trace-raw` and a command that
/// moves key material): that way of proving is closed. An expired session is not a
/// refusal: the caller reads once more.
fn refused(e: &ClientError) -> bool {
    matches!(e, ClientError::RawTraceRefused { .. })
        || e.code().is_some_and(|c| c != ErrorCode::INVALID_SESSION)
}

fn refusal(command: CommandCode, e: &ClientError) -> String {
    match e.code() {
        Some(code) => format!("{command} was refused ({code})"),
        None => format!("{command} was not sent ({e})"),
    }
}

/// `Proven(proof)` when `device` is `backup` (constant time), else how it differs.
fn same(device: &[u8], backup: &[u8], proof: Proof, how: String) -> Outcome {
    if device.len() == backup.len() && ct_eq(device, backup) {
        Ok(proof)
    } else {
        Err(Unproven::Differs(how))
    }
}

/// Proves the content of `entry`'s object, which is on the device with the backup's
/// attributes (`info`). Transport errors are returned for the caller to read once more.
pub(super) fn prove(
    client: &mut Client,
    entry: &Entry,
    info: &ObjectInfo,
    key: BackupKey<'_>,
) -> Result<Outcome, ClientError> {
    let backup = match wrap::unwrap(key.key, &entry.blob) {
        Ok(object) => object,
        Err(e) => {
            return Ok(Err(Unproven::Why(format!("the backup's file does not decrypt: {e}"))));
        }
    };
    let body = backup.body.to_bytes();
    let mut why = Vec::new();

    if info.object_type == ObjectType::OPAQUE {
        match client.get_opaque(info.id) {
            Ok(data) => {
                return Ok(same(&data, &body, Proof::GetOpaque, "read with get-opaque".to_owned()));
            }
            Err(e) if refused(&e) => why.push(refusal(CommandCode::GET_OPAQUE, &e)),
            Err(e) => return Err(e),
        }
    }

    match key.id {
        _ if !info.capabilities.contains(Capabilities::EXPORTABLE_UNDER_WRAP) => {
            why.push("it is not exportable under wrap".to_owned());
        }
        None => why.push("the wrap key's id on the device is not known".to_owned()),
        Some(wrap_id) => match client.export_wrapped(wrap_id, info.object_type, info.id, 0) {
            Ok(blob) => match wrap::unwrap(key.key, &blob) {
                Ok(exported) => {
                    let how = format!("exported under wrap key 0x{wrap_id:04x}");
                    return Ok(same(&exported.body.to_bytes(), &body, Proof::Export, how));
                }
                Err(WrapError::Authentication) => why.push(format!(
                    "its export does not decrypt under the backup's wrap key (wrap key \
                     0x{wrap_id:04x} on the device is another key)"
                )),
                Err(e) => why.push(format!("its export is not a valid object ({e})")),
            },
            Err(e) if refused(&e) => why.push(refusal(CommandCode::EXPORT_WRAPPED, &e)),
            Err(e) => return Err(e),
        },
    }

    match operation(client, info, &backup.body)? {
        Some(Ok(outcome)) => return Ok(outcome),
        Some(Err(reason)) => why.push(reason),
        None => {}
    }
    Ok(Err(Unproven::Why(why.join("; "))))
}

/// Proves the content of an object on the device (`info`, with the attributes of its
/// copy on `source`) against that copy, without knowing the wrap key (`yhsm clone`
/// without the shares): opaque data read with GET_OPAQUE on both, or an HMAC key's
/// SIGN_HMAC of one random challenge on both; the same answer from both devices is the
/// proof. Other objects are not verified (their answers are randomised, or need the key).
pub(super) fn prove_against(
    client: &mut Client,
    source: &mut Client,
    info: &ObjectInfo,
) -> Result<Outcome, ClientError> {
    let not_known = "this host does not know the wrap key to compare it with (give the wrap \
        key's shares with --shares-file to prove it)";
    let (what, proof, mine, theirs) = if info.object_type == ObjectType::OPAQUE {
        let code = CommandCode::GET_OPAQUE;
        let mine = match client.get_opaque(info.id) {
            Ok(data) => data,
            Err(e) if refused(&e) => return Ok(Err(Unproven::Why(refusal(code, &e)))),
            Err(e) => return Err(e),
        };
        let theirs = match source.get_opaque(info.id) {
            Ok(data) => data,
            Err(e) if refused(&e) => {
                return Ok(Err(Unproven::Why(format!(
                    "on the source device, {}",
                    refusal(code, &e)
                ))));
            }
            Err(e) => return Err(e),
        };
        ("read with get-opaque on both devices", Proof::GetOpaque, mine, theirs)
    } else if info.object_type == ObjectType::HMAC_KEY
        && info.capabilities.contains(Capabilities::SIGN_HMAC)
    {
        let code = CommandCode::SIGN_HMAC;
        let message = match challenge::<32>() {
            Ok(m) => m,
            Err(why) => return Ok(Err(Unproven::Why(why))),
        };
        let request = SignHmac { key_id: info.id, message: message.to_vec() };
        let mine = match attempt(client, &request)? {
            Ok(answer) => answer.mac,
            Err(why) => return Ok(Err(Unproven::Why(why))),
        };
        let theirs = match attempt(source, &request)? {
            Ok(answer) => answer.mac,
            Err(why) => return Ok(Err(Unproven::Why(format!("on the source device, {why}")))),
        };
        ("sign-hmac on both devices", Proof::Operation(code), mine, theirs)
    } else {
        return Ok(Err(Unproven::Why(not_known.to_owned())));
    };
    Ok(same(&mine, &theirs, proof, what.to_owned()))
}

/// A random challenge from the operating system.
fn challenge<const N: usize>() -> Result<[u8; N], String> {
    crate::util::rng::random_array().map_err(|e| format!("no random challenge ({})", e.chain()))
}

/// The outcome of one operation: its answer, or why the device refused it.
fn attempt<C: Command>(
    client: &mut Client,
    command: &C,
) -> Result<Result<C::Response, String>, ClientError> {
    match client.send(command) {
        Ok(answer) => Ok(Ok(answer)),
        Err(e) if refused(&e) => Ok(Err(refusal(C::CODE, &e))),
        Err(e) => Err(e),
    }
}

/// The operation proof for the object's type, if one applies: `Some(Ok(outcome))` when
/// it ran, `Some(Err(why))` when it could not, `None` when no operation fits the type.
fn operation(
    client: &mut Client,
    info: &ObjectInfo,
    body: &Body,
) -> Result<Option<Result<Outcome, String>>, ClientError> {
    let (caps, key_id) = (info.capabilities, info.id);
    let outcome = match body {
        Body::Hmac { algorithm, key } => {
            if !caps.contains(Capabilities::SIGN_HMAC) && !caps.contains(Capabilities::VERIFY_HMAC)
            {
                return Ok(Some(Err("it can neither sign-hmac nor verify-hmac".to_owned())));
            }
            let message = match challenge::<32>() {
                Ok(m) => m,
                Err(why) => return Ok(Some(Err(why))),
            };
            let Some(expected) = proof::hmac(*algorithm, key.expose_secret(), &message) else {
                return Ok(Some(Err(format!("{algorithm} keys are not checked by an operation"))));
            };
            if caps.contains(Capabilities::SIGN_HMAC) {
                let request = SignHmac { key_id, message: message.to_vec() };
                attempt(client, &request)?.map(|answer| {
                    let command = CommandCode::SIGN_HMAC;
                    same(&answer.mac, &expected, Proof::Operation(command), command.to_string())
                })
            } else {
                let request = VerifyHmac::new(key_id, &expected, &message);
                attempt(client, &request)?.map(|answer| {
                    let command = CommandCode::VERIFY_HMAC;
                    if answer.verified {
                        Ok(Proof::Operation(command))
                    } else {
                        Err(Unproven::Differs(command.to_string()))
                    }
                })
            }
        }
        Body::Raw(key) if info.object_type == ObjectType::SYMMETRIC_KEY => {
            let key = key.expose_secret();
            let (block, iv) = match (challenge::<BLOCK_LEN>(), challenge::<BLOCK_LEN>()) {
                (Ok(b), Ok(iv)) => (b, iv),
                (Err(why), _) | (_, Err(why)) => return Ok(Some(Err(why))),
            };
            let aes = |input: &[u8; BLOCK_LEN], encrypt| proof::aes_block(key, input, encrypt);
            let (command, answer, expected) = if caps.contains(Capabilities::ENCRYPT_ECB) {
                let request = EncryptEcb { key_id, plaintext: SecretBytes::from_slice(&block) };
                let answer = attempt(client, &request)?.map(|a| a.ciphertext);
                (CommandCode::ENCRYPT_ECB, answer, aes(&block, true))
            } else if caps.contains(Capabilities::DECRYPT_ECB) {
                let request = DecryptEcb { key_id, ciphertext: block.to_vec() };
                let answer =
                    attempt(client, &request)?.map(|a| a.plaintext.expose_secret().to_vec());
                (CommandCode::DECRYPT_ECB, answer, aes(&block, false))
            } else if caps.contains(Capabilities::ENCRYPT_CBC) {
                let request = EncryptCbc { key_id, iv, plaintext: SecretBytes::from_slice(&block) };
                let answer = attempt(client, &request)?.map(|a| a.ciphertext);
                (CommandCode::ENCRYPT_CBC, answer, aes(&xor(&block, &iv), true))
            } else if caps.contains(Capabilities::DECRYPT_CBC) {
                let request = DecryptCbc { key_id, iv, ciphertext: block.to_vec() };
                let answer =
                    attempt(client, &request)?.map(|a| a.plaintext.expose_secret().to_vec());
                (CommandCode::DECRYPT_CBC, answer, aes(&block, false).map(|b| xor(&b, &iv)))
            } else {
                return Ok(Some(Err("it can neither encrypt nor decrypt".to_owned())));
            };
            let Some(expected) = expected else {
                return Ok(Some(Err(format!("a {}-byte AES key cannot be checked", key.len()))));
            };
            answer.map(|a| same(&a, &expected, Proof::Operation(command), command.to_string()))
        }
        Body::WrapKey { key, .. } => {
            if !caps.contains(Capabilities::WRAP_DATA) {
                return Ok(Some(Err("it cannot wrap-data".to_owned())));
            }
            let (data, key) = match (challenge::<BLOCK_LEN>(), WrapKey::new(key.expose_secret())) {
                (Ok(d), Ok(k)) => (d, k),
                (Err(why), _) => return Ok(Some(Err(why))),
                (_, Err(e)) => return Ok(Some(Err(format!("the backup's key is unusable ({e})")))),
            };
            let command = CommandCode::WRAP_DATA;
            let request = WrapData { key_id, plaintext: SecretBytes::from_slice(&data) };
            attempt(client, &request)?.map(|answer| match wrap::open_data(&key, &answer.wrapped) {
                Ok(opened) => same(&opened, &data, Proof::Operation(command), command.to_string()),
                Err(_) => Err(Unproven::Differs(command.to_string())),
            })
        }
        _ => return Ok(None),
    };
    Ok(Some(outcome))
}

fn xor(a: &[u8; BLOCK_LEN], b: &[u8; BLOCK_LEN]) -> [u8; BLOCK_LEN] {
    std::array::from_fn(|i| a[i] ^ b[i])
}
