//! Redaction of key material in plaintext command and response frames (PROTOCOL.md §2,
//! §3 "Payloads"), for traces and verbose output: a host shows the inner frames of a
//! session, and those carry keys in clear.
//!
//! Which bytes are secret is protocol knowledge, so each command type declares it next to
//! its codec ([`Command::secret_in_request`], [`Command::secret_in_response`]); the
//! functions here find the type by the frame's code. They work on raw bytes, not on
//! decoded commands: a trace must be safe to write for a truncated or malformed frame
//! too, and a frame that does not decode must not leak because of that. Secret bytes are
//! replaced one for one by [`REDACTED_BYTE`], so lengths (which are not secret) and every
//! non-secret field stay readable.
//!
//! [`Command::secret_in_request`]: super::Command::secret_in_request
//! [`Command::secret_in_response`]: super::Command::secret_in_response

use alloc::vec::Vec;

use super::info;
use crate::frame::{CommandCode, HEADER_LEN};

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

/// `frame` with what `redact` names replaced. Built without copying the secret bytes.
fn apply(frame: &[u8], redact: Redact) -> Vec<u8> {
    let Redact::From(data_offset) = redact else { return frame.to_vec() };
    let keep = HEADER_LEN.saturating_add(data_offset).min(frame.len());
    let mut out = Vec::with_capacity(frame.len());
    out.extend_from_slice(frame.get(..keep).unwrap_or_default());
    out.resize(frame.len(), REDACTED_BYTE);
    out
}

/// A copy of a plaintext request frame (`cmd len(2) data`, e.g. the inner frame of a
/// session message) with the key material its command type declares replaced by
/// [`REDACTED_BYTE`]: today the keys of put-wrap-key, put-authentication-key (symmetric),
/// change-authentication-key (symmetric), put-asymmetric-key, put-hmac-key,
/// put-symmetric-key and put-otp-aead-key; the blob of import-wrapped and the RSA-wrapped
/// imports; the plaintexts of wrap-data and encrypt-ecb/cbc; the key of create-otp-aead.
///
/// Other frames, frames of codes without a type, session messages (already encrypted) and
/// create-session frames (challenges and cryptograms, which are not secrets) come back
/// unchanged. Malformed and truncated frames are handled by position alone: whatever sits
/// where a secret would be is replaced.
pub fn redact_request(frame: &[u8]) -> Vec<u8> {
    let Some(&code) = frame.first() else { return Vec::new() };
    let data = frame.get(HEADER_LEN..).unwrap_or_default();
    let redact = info(CommandCode(code)).map_or(Redact::Nothing, |i| i.secret_in_request(data));
    apply(frame, redact)
}

/// A copy of a plaintext response frame to `command` with the secret data its command
/// type declares replaced by [`REDACTED_BYTE`]: today the bytes of get-pseudo-random, the
/// shared secret of derive-ecdh, and the plaintexts of decrypt-* and unwrap-data. Error
/// frames (`7f`) and responses to other commands come back unchanged; so do wrapped blobs
/// from export-wrapped, which are ciphertext.
pub fn redact_response(command: CommandCode, frame: &[u8]) -> Vec<u8> {
    if frame.first() != Some(&command.response()) {
        return frame.to_vec();
    }
    let data = frame.get(HEADER_LEN..).unwrap_or_default();
    apply(frame, info(command).map_or(Redact::Nothing, |i| i.secret_in_response(data)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::*;
    use crate::frame;
    use crate::object::{Algorithm, Capabilities, Domains, Label};
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

    /// The table redaction was before each command type declared its own (issue 12 moved
    /// it onto the types and kept the output of `-v`/`--trace` byte for byte). A change to
    /// what traces hide changes this table on purpose.
    fn table_request_offset(code: CommandCode, data: &[u8]) -> Option<usize> {
        let is_public =
            |at: usize| data.get(at) == Some(&Algorithm::ECP256_YUBICO_AUTHENTICATION.0);
        match code {
            CommandCode::PUT_WRAP_KEY => Some(61),
            CommandCode::PUT_AUTHENTICATION_KEY if !is_public(52) => Some(61),
            CommandCode::CHANGE_AUTHENTICATION_KEY if !is_public(2) => Some(3),
            CommandCode::PUT_ASYMMETRIC_KEY
            | CommandCode::PUT_HMAC_KEY
            | CommandCode::PUT_SYMMETRIC_KEY
            | CommandCode::PUT_OTP_AEAD_KEY => Some(53),
            CommandCode::IMPORT_WRAPPED
            | CommandCode::WRAP_DATA
            | CommandCode::ENCRYPT_ECB
            | CommandCode::ENCRYPT_CBC
            | CommandCode::CREATE_OTP_AEAD => Some(2),
            CommandCode::PUT_RSA_WRAPPED_KEY | CommandCode::IMPORT_RSA_WRAPPED => Some(0),
            _ => None,
        }
    }

    fn table_response_is_secret(code: CommandCode) -> bool {
        matches!(
            code,
            CommandCode::GET_PSEUDO_RANDOM
                | CommandCode::DERIVE_ECDH
                | CommandCode::DECRYPT_PKCS1
                | CommandCode::DECRYPT_OAEP
                | CommandCode::DECRYPT_ECB
                | CommandCode::DECRYPT_CBC
                | CommandCode::UNWRAP_DATA
        )
    }

    #[test]
    fn redacts_every_code_byte_for_byte_as_the_table_did() {
        let mut datas: Vec<Vec<u8>> =
            (0..=80u8).map(|n| (0..n).map(|i| i ^ 0x5c).collect()).collect();
        for at in [2, 52] {
            let mut d = vec![0x11; 70];
            d[at] = Algorithm::ECP256_YUBICO_AUTHENTICATION.0;
            datas.push(d);
        }
        for code in 0..=u8::MAX {
            let c = CommandCode(code);
            for data in &datas {
                let mut frame = vec![code, 0, u8::try_from(data.len()).unwrap()];
                frame.extend_from_slice(data);
                let expected = match table_request_offset(c, data) {
                    Some(at) => {
                        let keep = (3 + at).min(frame.len());
                        let mut e = frame[..keep].to_vec();
                        e.resize(frame.len(), REDACTED_BYTE);
                        e
                    }
                    None => frame.clone(),
                };
                assert_eq!(redact_request(&frame), expected, "{c} request, {} bytes", data.len());
                // A frame cut anywhere, the header too.
                for n in 0..frame.len().min(6) {
                    let cut = redact_request(&frame[..n]);
                    assert_eq!(cut.len(), n);
                    assert_eq!(cut.first(), frame[..n].first());
                }

                let mut answer = frame.clone();
                answer[0] = c.response();
                let expected = if table_response_is_secret(c) {
                    let mut e = answer[..3].to_vec();
                    e.resize(answer.len(), REDACTED_BYTE);
                    e
                } else {
                    answer.clone()
                };
                assert_eq!(redact_response(c, &answer), expected, "{c} response");
                assert_eq!(redact_response(c, &frame), frame, "{c}: not an answer to it");
            }
        }
    }

    fn sample_header(algorithm: Algorithm) -> ObjectHeader {
        ObjectHeader {
            id: 0x0102,
            label: Label::from_bytes(b"k").unwrap(),
            domains: Domains(1),
            capabilities: Capabilities(2),
            algorithm,
        }
    }

    /// Every byte of `secret`, where `frame` carries it, is redacted, and the frame kept
    /// its length.
    fn assert_hides(name: &str, redacted: &[u8], frame: &[u8], secret: &[u8]) {
        assert_eq!(redacted.len(), frame.len(), "{name}");
        let at = frame
            .windows(secret.len())
            .position(|w| w == secret)
            .unwrap_or_else(|| panic!("{name}: the test frame does not carry the secret"));
        let hidden = &redacted[at..at + secret.len()];
        assert!(hidden.iter().all(|&b| b == REDACTED_BYTE), "{name}: {hidden:02x?}");
    }

    /// A secret of `n` bytes that no other field of the test frames repeats.
    fn key(n: usize) -> Vec<u8> {
        (0..n).map(|i| 0xd0 ^ u8::try_from(i % 251).unwrap()).collect()
    }

    fn request<C: Command>(name: &str, command: &C, secret: &[u8]) {
        let frame = command.to_frame().unwrap();
        assert_hides(name, &redact_request(&frame), &frame, secret);
    }

    fn response<C: Command>(name: &str, answer: &C::Response, secret: &[u8]) {
        let frame = encode_response_frame::<C>(answer).unwrap();
        assert_hides(name, &redact_response(C::CODE, &frame), &frame, secret);
    }

    #[test]
    fn every_key_carrying_command_hides_every_key_byte() {
        let k = key(32);
        let secret = || SecretBytes::from_slice(&k);
        let h = sample_header;
        request(
            "put-wrap-key",
            &PutWrapKey {
                header: h(Algorithm::AES256_CCM_WRAP),
                delegated: Capabilities(3),
                key: secret(),
            },
            &k,
        );
        let sym = AuthenticationKey::Symmetric {
            enc: SecretArray::from_slice(&k[..16]).unwrap(),
            mac: SecretArray::from_slice(&k[16..]).unwrap(),
        };
        let put_auth = PutAuthenticationKey::new(
            2,
            Label::default(),
            Domains(1),
            Capabilities(1),
            Capabilities(1),
            sym.clone(),
        );
        request("put-authentication-key", &put_auth, &k);
        request("change-authentication-key", &ChangeAuthenticationKey { key_id: 2, key: sym }, &k);
        request(
            "put-asymmetric-key",
            &PutAsymmetricKey { header: h(Algorithm::ECP256), key: secret() },
            &k,
        );
        request(
            "put-hmac-key",
            &PutHmacKey { header: h(Algorithm::HMAC_SHA256), key: secret() },
            &k,
        );
        request(
            "put-symmetric-key",
            &PutSymmetricKey { header: h(Algorithm::AES256), key: secret() },
            &k,
        );
        let otp_key = PutOtpAeadKey {
            header: h(Algorithm::AES256_YUBICO_OTP),
            nonce_id: 0xdede_dede,
            key: secret(),
        };
        request("put-otp-aead-key", &otp_key, &k);
        request("put-otp-aead-key (nonce id)", &otp_key, &[0xde; 4]);
        let create = CreateOtpAead {
            key_id: 3,
            key: SecretArray::from_slice(&k[..16]).unwrap(),
            private_id: SecretArray::from_slice(&k[16..22]).unwrap(),
        };
        request("create-otp-aead", &create, &k[..22]);
        request("import-wrapped", &ImportWrapped { wrap_id: 3, blob: k.clone() }, &k);
        request("wrap-data", &WrapData { key_id: 3, plaintext: secret() }, &k);
        request("encrypt-ecb", &EncryptEcb { key_id: 3, plaintext: secret() }, &k);
        let cbc = EncryptCbc { key_id: 3, iv: [0xee; 16], plaintext: secret() };
        request("encrypt-cbc", &cbc, &k);
        request("encrypt-cbc (iv)", &cbc, &[0xee; 16]);
        let wrapped = key(300);
        request(
            "put-rsa-wrapped-key",
            &PutRsaWrappedKey {
                wrap_id: 3,
                object_type: crate::object::ObjectType::ASYMMETRIC_KEY,
                header: h(Algorithm::ECP256),
                oaep: Algorithm::RSA_OAEP_SHA256,
                mgf1: Algorithm::MGF1_SHA256,
                label_hash: vec![0x55; 32],
                wrapped: wrapped.clone(),
            },
            &wrapped,
        );
        request(
            "import-rsa-wrapped",
            &ImportRsaWrapped {
                wrap_id: 3,
                oaep: Algorithm::RSA_OAEP_SHA256,
                mgf1: Algorithm::MGF1_SHA256,
                label_hash: vec![0x55; 32],
                wrapped: wrapped.clone(),
            },
            &wrapped,
        );

        response::<GetPseudoRandom>("get-pseudo-random", &PseudoRandom { bytes: secret() }, &k);
        response::<DeriveEcdh>("derive-ecdh", &DeriveEcdhResponse { shared_secret: secret() }, &k);
        response::<DecryptPkcs1>(
            "decrypt-pkcs1",
            &DecryptPkcs1Response { plaintext: secret() },
            &k,
        );
        response::<DecryptOaep>("decrypt-oaep", &DecryptOaepResponse { plaintext: secret() }, &k);
        response::<DecryptEcb>("decrypt-ecb", &DecryptEcbResponse { plaintext: secret() }, &k);
        response::<DecryptCbc>("decrypt-cbc", &DecryptCbcResponse { plaintext: secret() }, &k);
        response::<UnwrapData>("unwrap-data", &UnwrapDataResponse { plaintext: secret() }, &k);
    }
}
