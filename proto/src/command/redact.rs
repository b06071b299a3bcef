//! Redaction of key material in plaintext command and response frames (PROTOCOL.md §2,
//! §3 "Payloads"), for traces and verbose output: a host shows the inner frames of a
//! session, and those carry keys in clear.
//!
//! Which bytes are secret is protocol knowledge, so it lives here next to the codecs. The
//! functions work on raw bytes, not on decoded commands: a trace must be safe to write for
//! a truncated or malformed frame too, and a frame that does not decode must not leak
//! because of that. Secret bytes are replaced one for one by [`REDACTED_BYTE`], so lengths
//! (which are not secret) and every non-secret field stay readable.

use alloc::vec::Vec;

use super::ObjectHeader;
use crate::frame::{CommandCode, HEADER_LEN};
use crate::object::Algorithm;

/// The byte that replaces every redacted byte (ASCII `*`).
pub const REDACTED_BYTE: u8 = 0x2a;

/// The part of a data field that traces hide, as a command type declares it
/// ([`super::Command::secret_in_request`], [`super::Command::secret_in_response`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redact {
    /// Nothing is secret.
    Nothing,
    /// Every byte from this offset of the data field to the end of the frame.
    From(usize),
}

/// `hdr || delegated(8)`: where the key of put-wrap-key and put-authentication-key starts.
const HEADER_AND_DELEGATED: usize = ObjectHeader::LEN + 8;
/// Where the algorithm byte sits in the object header.
const HEADER_ALGORITHM: usize = ObjectHeader::LEN - 1;

/// Where the secret part of a request's data field starts, or `None` when the request
/// carries no secret. Everything from the offset to the end of the frame is secret.
fn request_secret_offset(code: CommandCode, data: &[u8]) -> Option<usize> {
    // Public P-256 keys of asymmetric authentication keys are not secret: keep them
    // readable. Any other (or a missing) algorithm byte is treated as symmetric.
    let is_public = |at: usize| data.get(at) == Some(&Algorithm::ECP256_YUBICO_AUTHENTICATION.0);
    match code {
        CommandCode::PUT_WRAP_KEY => Some(HEADER_AND_DELEGATED),
        CommandCode::PUT_AUTHENTICATION_KEY if !is_public(HEADER_ALGORITHM) => {
            Some(HEADER_AND_DELEGATED)
        }
        // key_id(2) algorithm(1) key
        CommandCode::CHANGE_AUTHENTICATION_KEY if !is_public(2) => Some(3),
        // hdr || key (put-otp-aead-key: hdr || nonce id(4) || key; the nonce id goes too)
        CommandCode::PUT_ASYMMETRIC_KEY
        | CommandCode::PUT_HMAC_KEY
        | CommandCode::PUT_SYMMETRIC_KEY
        | CommandCode::PUT_OTP_AEAD_KEY => Some(ObjectHeader::LEN),
        // wrap_id(2) || blob: the blob is ciphertext, but it is a whole object's key
        // material, and traces get shared.
        CommandCode::IMPORT_WRAPPED => Some(2),
        // key_id(2) || plaintext (wrap-data; encrypt-ecb/cbc, whose cbc iv goes too);
        // create-otp-aead: key_id(2) || otp key(16) || private id(6).
        CommandCode::WRAP_DATA
        | CommandCode::ENCRYPT_ECB
        | CommandCode::ENCRYPT_CBC
        | CommandCode::CREATE_OTP_AEAD => Some(2),
        // RSA-wrapped key material; the layout is not needed here, so all of it goes.
        CommandCode::PUT_RSA_WRAPPED_KEY | CommandCode::IMPORT_RSA_WRAPPED => Some(0),
        _ => None,
    }
}

/// Whether the whole data field of a successful response to `command` is secret.
fn response_is_secret(command: CommandCode) -> bool {
    matches!(
        command,
        // Random bytes often become a key; the rest are shared secrets and plaintexts.
        CommandCode::GET_PSEUDO_RANDOM
            | CommandCode::DERIVE_ECDH
            | CommandCode::DECRYPT_PKCS1
            | CommandCode::DECRYPT_OAEP
            | CommandCode::DECRYPT_ECB
            | CommandCode::DECRYPT_CBC
            | CommandCode::UNWRAP_DATA
    )
}

/// `frame` with the bytes from `data_offset` (counted from the start of the data field)
/// to the end replaced. Built without copying the secret bytes.
fn redact_from(frame: &[u8], data_offset: usize) -> Vec<u8> {
    let keep = HEADER_LEN.saturating_add(data_offset).min(frame.len());
    let mut out = Vec::with_capacity(frame.len());
    out.extend_from_slice(frame.get(..keep).unwrap_or_default());
    out.resize(frame.len(), REDACTED_BYTE);
    out
}

/// A copy of a plaintext request frame (`cmd len(2) data`, e.g. the inner frame of a
/// session message) with its key material replaced by [`REDACTED_BYTE`]: the keys of
/// put-wrap-key, put-authentication-key (symmetric), change-authentication-key
/// (symmetric), put-asymmetric-key, put-hmac-key, put-symmetric-key and
/// put-otp-aead-key; the blob of import-wrapped and the RSA-wrapped imports; the
/// plaintexts of wrap-data and encrypt-ecb/cbc; the key of create-otp-aead.
///
/// Other frames, session messages (already encrypted) and create-session frames
/// (challenges and cryptograms, which are not secrets) come back unchanged. Malformed and
/// truncated frames are handled by position alone: whatever sits where a secret would be
/// is replaced.
pub fn redact_request(frame: &[u8]) -> Vec<u8> {
    let Some(&code) = frame.first() else { return Vec::new() };
    let data = frame.get(HEADER_LEN..).unwrap_or_default();
    match request_secret_offset(CommandCode(code), data) {
        Some(offset) => redact_from(frame, offset),
        None => frame.to_vec(),
    }
}

/// A copy of a plaintext response frame to `command` with secret data replaced by
/// [`REDACTED_BYTE`]: the bytes of get-pseudo-random, the shared secret of derive-ecdh,
/// and the plaintexts of decrypt-* and unwrap-data. Error frames (`7f`) and responses to
/// other commands come back unchanged; so do wrapped blobs from export-wrapped, which are
/// ciphertext.
pub fn redact_response(command: CommandCode, frame: &[u8]) -> Vec<u8> {
    if frame.first() == Some(&command.response()) && response_is_secret(command) {
        redact_from(frame, 0)
    } else {
        frame.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{
        AuthenticationKey, ChangeAuthenticationKey, Command, GetPseudoRandom, ImportWrapped,
        ListObjects, PseudoRandom, PutAsymmetricKey, PutAuthenticationKey, PutWrapKey,
        encode_response_frame,
    };
    use crate::frame;
    use crate::object::{Capabilities, Domains, Label};
    use crate::secret::{SecretArray, SecretBytes};
    use alloc::vec;

    const SECRET: u8 = 0xc3;

    fn header(algorithm: Algorithm) -> ObjectHeader {
        ObjectHeader {
            id: 0x1234,
            label: Label::from_bytes(b"label").unwrap(),
            domains: Domains(1),
            capabilities: Capabilities(2),
            algorithm,
        }
    }

    /// The frame keeps its length and everything before `secret_at` (a data offset), and
    /// has no byte of the secret left after it.
    fn assert_redacted_from(frame: &[u8], secret_at: usize) {
        let redacted = redact_request(frame);
        assert_eq!(redacted.len(), frame.len());
        let cut = HEADER_LEN + secret_at;
        assert_eq!(redacted[..cut], frame[..cut]);
        assert!(frame[cut..].contains(&SECRET), "the test frame has secret bytes there");
        assert!(redacted[cut..].iter().all(|&b| b == REDACTED_BYTE), "{redacted:02x?}");
    }

    #[test]
    fn redacts_keys_after_the_header_and_delegated_capabilities() {
        let put = PutWrapKey {
            header: header(Algorithm::AES256_CCM_WRAP),
            delegated: Capabilities(3),
            key: SecretBytes::new(vec![SECRET; 32]),
        };
        assert_redacted_from(&put.to_frame().unwrap(), 61);
        let redacted = redact_request(&put.to_frame().unwrap());
        // Still a well-formed frame whose header fields read back.
        let (code, data) = frame::decode(&redacted).unwrap();
        assert_eq!(code, 0x4c);
        assert_eq!(&data[..2], &[0x12, 0x34]);

        let asym = PutAsymmetricKey {
            header: header(Algorithm::ECP256),
            key: SecretBytes::new(vec![SECRET; 32]),
        };
        assert_redacted_from(&asym.to_frame().unwrap(), 53);
    }

    #[test]
    fn redacts_symmetric_authentication_keys_but_not_public_ones() {
        let sym = AuthenticationKey::Symmetric {
            enc: SecretArray::new([SECRET; 16]),
            mac: SecretArray::new([SECRET; 16]),
        };
        let put = PutAuthenticationKey::new(
            2,
            Label::default(),
            Domains(1),
            Capabilities(1),
            Capabilities(1),
            sym.clone(),
        );
        assert_redacted_from(&put.to_frame().unwrap(), 61);
        let change = ChangeAuthenticationKey { key_id: 2, key: sym };
        assert_redacted_from(&change.to_frame().unwrap(), 3);

        let ec = AuthenticationKey::EcP256 { x: [7; 32], y: [8; 32] };
        let put = PutAuthenticationKey::new(
            2,
            Label::default(),
            Domains(1),
            Capabilities(1),
            Capabilities(1),
            ec.clone(),
        );
        let frame = put.to_frame().unwrap();
        assert_eq!(redact_request(&frame), frame.as_slice());
        let change = ChangeAuthenticationKey { key_id: 2, key: ec }.to_frame().unwrap();
        assert_eq!(redact_request(&change), change.as_slice());
    }

    #[test]
    fn redacts_imported_blobs_but_keeps_the_wrap_key_id() {
        let import = ImportWrapped { wrap_id: 0x0102, blob: vec![SECRET; 40] };
        assert_redacted_from(&import.to_frame().unwrap(), 2);
    }

    #[test]
    fn redacts_random_bytes_in_answers_but_not_errors() {
        let answer = encode_response_frame::<GetPseudoRandom>(&PseudoRandom {
            bytes: SecretBytes::new(vec![SECRET; 8]),
        })
        .unwrap();
        let redacted = redact_response(CommandCode::GET_PSEUDO_RANDOM, &answer);
        assert_eq!(redacted[..3], answer[..3]);
        assert_eq!(redacted[3..], [REDACTED_BYTE; 8]);
        let error = frame::encode_error(crate::frame::ErrorCode::INVALID_DATA);
        assert_eq!(redact_response(CommandCode::GET_PSEUDO_RANDOM, &error), error);
        assert_eq!(redact_response(CommandCode::ECHO, &[0x81, 0, 1, SECRET]), [0x81, 0, 1, SECRET]);
    }

    #[test]
    fn leaves_frames_without_secrets_alone() {
        let list = ListObjects::default().to_frame().unwrap();
        assert_eq!(redact_request(&list), list.as_slice());
        let session_message = [0x05, 0x00, 0x02, SECRET, SECRET];
        assert_eq!(redact_request(&session_message), session_message);
        assert_eq!(redact_request(&[]), Vec::<u8>::new());
    }

    #[test]
    fn redacts_every_truncation_by_position() {
        let put = PutWrapKey {
            header: header(Algorithm::AES128_CCM_WRAP),
            delegated: Capabilities(3),
            key: SecretBytes::new(vec![SECRET; 16]),
        };
        let frame = put.to_frame().unwrap();
        for n in 0..=frame.len() {
            let redacted = redact_request(&frame[..n]);
            assert_eq!(redacted.len(), n);
            assert!(!redacted.contains(&SECRET), "prefix {n}");
        }
        // A length field that lies does not move the secret.
        let mut lying = frame.to_vec();
        lying[1] = 0;
        lying[2] = 1;
        assert!(!redact_request(&lying).contains(&SECRET));
    }
}
