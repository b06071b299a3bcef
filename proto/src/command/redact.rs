//! Redaction of what traces and verbose output must not show (docs/PROTOCOL.md §2, §3
//! "Payloads", §4 "SCP03 sessions", §7.9 "Secrets in traces"): a host shows the inner
//! frames of a session, and those carry keys in clear; and the frames of the session layer
//! itself (challenges, cryptograms, receipts, sealed messages and their MACs) would let
//! anyone who knows or guesses the password derive the session keys and decrypt every
//! sealed message.
//!
//! Which bytes of a command are secret is protocol knowledge, so each command type declares
//! it next to its codec ([`Command::secret_in_request`], [`Command::secret_in_response`]);
//! the functions here find the type by the frame's code. The session layer, which has no
//! command type, is described here once ([`redact_request`]). They work on raw bytes, not
//! on decoded commands: a trace must be safe to write for a truncated or malformed frame
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

/// What a trace may show of a session-layer request (docs/PROTOCOL.md §4): the key id of
/// create-session, the session id of authenticate-session and of a session message;
/// never the host challenge or ephemeral public key, the host cryptogram, the sealed
/// message or a MAC (each would let a password guess be checked, or with the password
/// give the session keys).
fn session_request(code: u8) -> Option<Redact> {
    match CommandCode(code) {
        CommandCode::CREATE_SESSION => Some(Redact::From(2)),
        CommandCode::AUTHENTICATE_SESSION | CommandCode::SESSION_MESSAGE => Some(Redact::From(1)),
        _ => None,
    }
}

/// What a trace may show of a session-layer answer: the session id of create-session's
/// and of a session message's answer; never the card challenge and cryptogram, the
/// device's ephemeral key and receipt, the sealed answer or its R-MAC.
fn session_response(code: u8) -> Option<Redact> {
    let is = |c: CommandCode| code == c.response();
    if is(CommandCode::CREATE_SESSION) || is(CommandCode::SESSION_MESSAGE) {
        Some(Redact::From(1))
    } else if is(CommandCode::AUTHENTICATE_SESSION) {
        Some(Redact::From(0))
    } else {
        None
    }
}

/// A copy of a request frame (plaintext, e.g. the inner frame of a session message, or a
/// frame of the session layer) with what a trace must not show replaced by
/// [`REDACTED_BYTE`]:
///
/// - the key material its command type declares: today the keys of put-wrap-key,
///   put-authentication-key (symmetric), change-authentication-key (symmetric),
///   put-asymmetric-key, put-hmac-key, put-symmetric-key and put-otp-aead-key; the blob of
///   import-wrapped and the RSA-wrapped imports; the plaintexts of wrap-data and
///   encrypt-ecb/cbc; the key of create-otp-aead;
/// - everything of the session layer but the ids: the host challenge (or ephemeral public
///   key) of create-session after its key id, and everything after the session id of
///   authenticate-session (host cryptogram, MAC) and of a session message (the sealed
///   message and its MAC).
///
/// Other frames, and frames of codes without a type, come back unchanged. Malformed and
/// truncated frames are handled by position alone: whatever sits where a secret would be
/// is replaced.
pub fn redact_request(frame: &[u8]) -> Vec<u8> {
    let Some(&code) = frame.first() else { return Vec::new() };
    let data = frame.get(HEADER_LEN..).unwrap_or_default();
    let redact = session_request(code).unwrap_or_else(|| {
        info(CommandCode(code)).map_or(Redact::Nothing, |i| i.secret_in_request(data))
    });
    apply(frame, redact)
}

/// A copy of a response frame to `command` with what a trace must not show replaced by
/// [`REDACTED_BYTE`]: the secret data its command type declares (today the bytes of
/// get-pseudo-random, the shared secret of derive-ecdh, and the plaintexts of decrypt-*
/// and unwrap-data), and everything of a session-layer answer but the session id (card
/// challenge and cryptogram, ephemeral key and receipt, the sealed answer and its R-MAC),
/// whatever `command` is (a session message's answer is redacted as such, not as its
/// inner command's). Error frames (`7f`) and responses to other commands come back
/// unchanged; so do wrapped blobs from export-wrapped, which are ciphertext.
pub fn redact_response(command: CommandCode, frame: &[u8]) -> Vec<u8> {
    let Some(&code) = frame.first() else { return Vec::new() };
    if let Some(redact) = session_response(code) {
        return apply(frame, redact);
    }
    if code != command.response() {
        return frame.to_vec();
    }
    let data = frame.get(HEADER_LEN..).unwrap_or_default();
    apply(frame, info(command).map_or(Redact::Nothing, |i| i.secret_in_response(data)))
}

/// Whether sending this plaintext request frame moves key material, by its command type's
/// declarations: the request carries some ([`redact_request`] would hide part of its
/// data), or the type's answers do ([`super::Command::secret_in_response`], asked before
/// the answer exists). A client that records raw sealed frames, which anyone with the
/// password can decrypt, asks this before sending. Codes without a type: `false`.
pub fn carries_key_material(request: &[u8]) -> bool {
    let Some(info) = request.first().and_then(|&code| info(CommandCode(code))) else {
        return false;
    };
    let data = request.get(HEADER_LEN..).unwrap_or_default();
    info.secret_in_request(data) != Redact::Nothing
        || info.secret_in_response(&[]) != Redact::Nothing
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
        assert_eq!(redact_request(&[]), Vec::<u8>::new());
        assert_eq!(redact_response(CommandCode::ECHO, &[]), Vec::<u8>::new());
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
    /// what traces hide changes this table on purpose: issue 10 added the session layer.
    fn table_request_offset(code: CommandCode, data: &[u8]) -> Option<usize> {
        let is_public =
            |at: usize| data.get(at) == Some(&Algorithm::ECP256_YUBICO_AUTHENTICATION.0);
        match code {
            CommandCode::CREATE_SESSION => Some(2),
            CommandCode::AUTHENTICATE_SESSION | CommandCode::SESSION_MESSAGE => Some(1),
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

    /// Where the redaction of an answer starting with `answer_code` to `command` starts.
    fn table_response_offset(command: CommandCode, answer_code: u8) -> Option<usize> {
        match answer_code {
            0x83 | 0x85 => Some(1),
            0x84 => Some(0),
            _ if answer_code == command.response() && table_response_is_secret(command) => Some(0),
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
                for answer in [&answer, &frame] {
                    let expected = match table_response_offset(c, answer[0]) {
                        Some(at) => {
                            let keep = (3 + at).min(answer.len());
                            let mut e = answer[..keep].to_vec();
                            e.resize(answer.len(), REDACTED_BYTE);
                            e
                        }
                        None => answer.clone(),
                    };
                    let name = CommandCode(answer[0]);
                    assert_eq!(redact_response(c, answer), expected, "{name} answer to {c}");
                }
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

    /// No 4-byte run of `material` is left in any of `shown`.
    fn assert_absent(what: &str, shown: &[Vec<u8>], material: &[u8]) {
        for run in material.windows(4) {
            assert!(
                !shown.iter().any(|f| f.windows(4).any(|w| w == run)),
                "{what}: {run:02x?} is still shown"
            );
        }
    }

    #[test]
    fn the_session_layer_shows_its_ids_and_nothing_that_opens_the_session() {
        use crate::scp03::{ClientHandshake, DeviceHandshake, StaticKeys};
        let keys = StaticKeys::from_password(b"password");
        let (host_challenge, card_challenge) = ([0x11; 8], [0x22; 8]);
        let client = ClientHandshake::new(0x0001, &keys, host_challenge);
        let create = client.request();
        let (device, created) =
            DeviceHandshake::new(0x0001, host_challenge, &keys, card_challenge, 7);
        let (authenticating, authenticate) = client.on_create_session_response(&created).unwrap();
        let (mut device, authenticated) = device.on_authenticate_request(&authenticate).unwrap();
        let mut session = authenticating.on_authenticate_response(&authenticated).unwrap();
        let put = PutWrapKey {
            header: header(Algorithm::AES256_CCM_WRAP),
            delegated: Capabilities(3),
            key: SecretBytes::new(vec![SECRET; 32]),
        };
        let sealed = session.seal(&put.to_frame().unwrap()).unwrap();
        let inner_answer = device.open_command(&sealed).unwrap();
        assert_eq!(inner_answer[0], 0x4c);
        let sealed_answer = device.seal_response(&[0xcc, 0, 2, 0x12, 0x34]).unwrap();

        let shown = vec![
            redact_request(&create),
            redact_response(CommandCode::CREATE_SESSION, &created),
            redact_request(&authenticate),
            redact_response(CommandCode::AUTHENTICATE_SESSION, &authenticated),
            redact_request(&sealed),
            // The answer to a session message is redacted as such, whatever the inner
            // command it is reported under.
            redact_response(CommandCode::PUT_WRAP_KEY, &sealed_answer),
        ];
        // Lengths, codes, the key id and the session id stay.
        assert_eq!(shown[0][..5], create[..5]);
        assert_eq!(shown[1][..4], [0x83, 0, 17, 7]);
        assert_eq!(shown[2][..4], [0x04, 0, 17, 7]);
        assert_eq!(shown[3], [0x84, 0, 0]);
        assert_eq!(shown[4][..4], sealed[..4]);
        assert_eq!(shown[5][..4], sealed_answer[..4]);
        for (frame, redacted) in
            [&create, &created, &authenticate, &authenticated, &sealed, &sealed_answer]
                .into_iter()
                .zip(&shown)
        {
            assert_eq!(frame.len(), redacted.len());
        }
        assert_absent("host challenge", &shown, &create[5..]);
        assert_absent("card challenge and cryptogram", &shown, &created[4..]);
        assert_absent("host cryptogram and MAC", &shown, &authenticate[4..]);
        assert_absent("sealed command and C-MAC", &shown, &sealed[4..]);
        assert_absent("sealed answer and R-MAC", &shown, &sealed_answer[4..]);
        // An error answer to a handshake step is still readable.
        let error = crate::frame::encode_error(crate::frame::ErrorCode::AUTHENTICATION_FAILED);
        assert_eq!(redact_response(CommandCode::AUTHENTICATE_SESSION, &error), error);
    }

    #[test]
    fn an_asymmetric_handshake_shows_no_ephemeral_key_or_receipt() {
        use crate::scp03::{AsymmetricClientHandshake, accept_asymmetric, public_key};
        let secret = |b: u8| SecretArray::new([b; 32]);
        let (client_key, device_key) = (secret(1), secret(2));
        let device_public = public_key(&device_key).unwrap();
        let client =
            AsymmetricClientHandshake::new(5, &client_key, &device_public, &secret(3)).unwrap();
        let create = client.request();
        let epk_oce: [u8; 65] = create[5..].try_into().unwrap();
        let client_public = public_key(&client_key).unwrap();
        let (_, created) =
            accept_asymmetric(5, &epk_oce, &client_public, &device_key, &secret(4), 3).unwrap();
        client.on_create_session_response(&created).unwrap();
        let shown =
            vec![redact_request(&create), redact_response(CommandCode::CREATE_SESSION, &created)];
        assert_eq!(shown[0][..5], [0x03, 0, 67, 0, 5]);
        assert_eq!(shown[1][..4], [0x83, 0, 82, 3]);
        assert_absent("client ephemeral key", &shown, &create[5..]);
        assert_absent("device ephemeral key and receipt", &shown, &created[4..]);
    }

    #[test]
    fn key_material_is_known_before_sending() {
        let put = PutWrapKey {
            header: header(Algorithm::AES128_CCM_WRAP),
            delegated: Capabilities(3),
            key: SecretBytes::new(vec![SECRET; 16]),
        };
        assert!(carries_key_material(&put.to_frame().unwrap()));
        assert!(carries_key_material(&GetPseudoRandom { len: 8 }.to_frame().unwrap()));
        let ec = AuthenticationKey::EcP256 { x: [7; 32], y: [8; 32] };
        let put_public = PutAuthenticationKey::new(
            2,
            Label::default(),
            Domains(1),
            Capabilities(1),
            Capabilities(1),
            ec,
        );
        assert!(!carries_key_material(&put_public.to_frame().unwrap()));
        assert!(!carries_key_material(&ListObjects::default().to_frame().unwrap()));
        assert!(!carries_key_material(&[0x99, 0, 1, SECRET]));
        assert!(!carries_key_material(&[]));
        // The answer side is decided without the answer: for every type, the same for
        // every answer (else the question before sending could be answered wrongly).
        for i in crate::command::infos() {
            let before = i.secret_in_response(&[]) != Redact::Nothing;
            for n in [1usize, 2, 3, 8, 32, 65, 300] {
                for fill in [0x00u8, 0x31, 0xff] {
                    let after = i.secret_in_response(&vec![fill; n]) != Redact::Nothing;
                    assert_eq!(before, after, "{}: answers of {n} bytes", i.code);
                }
            }
        }
    }
}
