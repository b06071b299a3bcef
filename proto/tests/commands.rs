//! The typed command layer against the frames python-yubihsm exchanged in
//! `vectors/scp03-transcript.json`, plus round-trip, rejection and robustness properties
//! for every request and response type.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail loudly on purpose"
)]

use std::fmt::Debug;

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::Value;
use yhsm_proto::codec::{DecodeError, DecodeErrorKind};
use yhsm_proto::command::*;
use yhsm_proto::frame::CommandCode;
use yhsm_proto::{
    Algorithm, Capabilities, Domains, Label, ObjectInfo, ObjectType, Origin, SecretArray,
    SecretBytes,
};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors");

fn transcript() -> Value {
    let path = format!("{VECTORS}/scp03-transcript.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn hex_field(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().unwrap_or_else(|| panic!("missing {key}"))).unwrap()
}

/// Parses a request frame as `C` and its answer, and checks that both re-encode byte for
/// byte.
fn kat<C>(request: &[u8], response: &[u8]) -> (C, C::Response)
where
    C: Command + PartialEq + Debug,
    C::Response: PartialEq + Debug,
{
    let req = C::from_frame(request).unwrap();
    assert_eq!(req.to_frame().unwrap().as_slice(), request, "{req:?}");
    let resp = req.parse_response(response).unwrap();
    assert_eq!(decode_response_frame::<C>(response).unwrap(), resp);
    assert_eq!(encode_response_frame::<C>(&resp).unwrap().as_slice(), response, "{resp:?}");
    (req, resp)
}

fn label(text: &str) -> Label {
    Label::from_bytes(text.as_bytes()).unwrap()
}

#[test]
fn kat_device_info_and_part_number_frames() {
    let t = transcript();
    let frames = t["frames"].as_array().unwrap();

    let (_, info) =
        kat::<GetDeviceInfo>(&hex_field(&frames[0], "request"), &hex_field(&frames[0], "response"));
    assert_eq!(info.version, (2, 4, 0));
    assert_eq!(info.serial, 12_345_678);
    assert_eq!(info.log_total, 62);
    assert_eq!(info.log_used, 0);
    let expected: Vec<Algorithm> = (1..=55).map(Algorithm).collect();
    assert_eq!(info.algorithms, expected);
    assert!(info.has_part_number());
    assert_eq!(info.max_frame_len(), 3139);

    let (_, part) =
        kat::<GetPartNumber>(&hex_field(&frames[1], "request"), &hex_field(&frames[1], "response"));
    assert_eq!(part.0, "YHSM2-SIM");
}

#[test]
fn kat_session_inner_frames() {
    let t = transcript();
    let mut seen = Vec::new();
    for m in t["session_messages"].as_array().unwrap() {
        let counter = m["counter"].as_u64().unwrap();
        let request = hex_field(m, "inner_command");
        let response = hex_field(m, "inner_response");
        let code = CommandCode(request[0]);
        seen.push(code);
        match code {
            CommandCode::ECHO => {
                let (req, _) = kat::<Echo>(&request, &response);
                assert_eq!(req.data, b"hello, hsm", "counter {counter}");
            }
            CommandCode::PUT_WRAP_KEY => {
                let (req, resp) = kat::<PutWrapKey>(&request, &response);
                let want = PutWrapKey {
                    header: ObjectHeader {
                        id: 2,
                        label: label("Wrap key"),
                        domains: Domains::ALL,
                        capabilities: Capabilities::EXPORT_WRAPPED | Capabilities::IMPORT_WRAPPED,
                        algorithm: Algorithm::AES256_CCM_WRAP,
                    },
                    delegated: Capabilities::EXPORTABLE_UNDER_WRAP | Capabilities::SIGN_ECDSA,
                    key: SecretBytes::new((0..32).collect()),
                };
                assert_eq!(req, want, "counter {counter}");
                assert_eq!(resp.id, 2);
            }
            CommandCode::PUT_OPAQUE => {
                let (req, resp) = kat::<PutOpaque>(&request, &response);
                let want = PutOpaque {
                    header: ObjectHeader {
                        id: 0x10,
                        label: label("blob"),
                        domains: Domains(1),
                        capabilities: Capabilities::EXPORTABLE_UNDER_WRAP,
                        algorithm: Algorithm::OPAQUE_DATA,
                    },
                    data: vec![b'x'; 100],
                };
                assert_eq!(req, want, "counter {counter}");
                assert_eq!(resp.id, 0x10);
            }
            CommandCode::LIST_OBJECTS => {
                let (req, resp) = kat::<ListObjects>(&request, &response);
                assert!(req.filters.is_empty());
                let entry = |id, object_type| ListEntry { id, object_type, sequence: 0 };
                assert_eq!(
                    resp.objects,
                    [entry(2, ObjectType::WRAP_KEY), entry(0x10, ObjectType::OPAQUE)],
                    "counter {counter}"
                );
            }
            CommandCode::GET_OPAQUE => {
                let (req, resp) = kat::<GetOpaque>(&request, &response);
                assert_eq!(req.id, 0x10);
                assert_eq!(resp.data, vec![b'x'; 100], "counter {counter}");
            }
            CommandCode::DELETE_OBJECT => {
                let (req, _) = kat::<DeleteObject>(&request, &response);
                assert_eq!(req, DeleteObject { id: 0x10, object_type: ObjectType::OPAQUE });
            }
            CommandCode::CLOSE_SESSION => {
                kat::<CloseSession>(&request, &response);
            }
            other => panic!("counter {counter}: unexpected command {other}"),
        }
    }
    assert_eq!(seen.len(), 7, "every session message is covered");
}

#[test]
fn rejects_a_response_to_another_command() {
    let t = transcript();
    let m = &t["session_messages"][0];
    let echo_response = hex_field(m, "inner_response");
    assert!(matches!(
        decode_response_frame::<GetOpaque>(&echo_response),
        Err(yhsm_proto::FrameError::UnexpectedCode { expected: 0xc3, got: 0x81 })
    ));
}

// ---------------------------------------------------------------------------------------
// Strategies

fn any_label() -> impl Strategy<Value = Label> {
    any::<[u8; 40]>().prop_map(Label)
}

fn any_header() -> impl Strategy<Value = ObjectHeader> {
    (any::<u16>(), any_label(), any::<u16>(), any::<u64>(), any::<u8>()).prop_map(
        |(id, label, domains, capabilities, algorithm)| ObjectHeader {
            id,
            label,
            domains: Domains(domains),
            capabilities: Capabilities(capabilities),
            algorithm: Algorithm(algorithm),
        },
    )
}

fn bytes(min: usize, max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), min..=max)
}

fn any_filter() -> impl Strategy<Value = Filter> {
    prop_oneof![
        any::<u16>().prop_map(Filter::Id),
        any::<u8>().prop_map(|t| Filter::Type(ObjectType(t))),
        any::<u16>().prop_map(|d| Filter::Domains(Domains(d))),
        any::<u64>().prop_map(|c| Filter::Capabilities(Capabilities(c))),
        any::<u8>().prop_map(|a| Filter::Algorithm(Algorithm(a))),
        any_label().prop_map(Filter::Label),
    ]
}

fn any_auth_key() -> impl Strategy<Value = AuthenticationKey> {
    prop_oneof![
        (any::<[u8; 16]>(), any::<[u8; 16]>()).prop_map(|(e, m)| AuthenticationKey::Symmetric {
            enc: SecretArray::new(e),
            mac: SecretArray::new(m)
        }),
        (any::<[u8; 32]>(), any::<[u8; 32]>())
            .prop_map(|(x, y)| AuthenticationKey::EcP256 { x, y }),
    ]
}

fn any_put_wrap_key() -> impl Strategy<Value = PutWrapKey> {
    let aes = (any_header(), any::<u64>(), prop::sample::select(vec![16usize, 24, 32]))
        .prop_flat_map(|(h, d, n)| (Just(h), Just(d), bytes(n, n)))
        .prop_map(|(mut header, d, key)| {
            header.algorithm = Algorithm::wrap_for_key_size(key.len()).unwrap();
            PutWrapKey { header, delegated: Capabilities(d), key: SecretBytes::new(key) }
        });
    let other = (any_header(), any::<u64>(), bytes(1, 600))
        .prop_filter("not an AES wrap algorithm", |(h, _, _)| h.algorithm.wrap_key_size().is_none())
        .prop_map(|(header, d, key)| PutWrapKey {
            header,
            delegated: Capabilities(d),
            key: SecretBytes::new(key),
        });
    prop_oneof![aes, other]
}

fn any_log_entry() -> impl Strategy<Value = LogEntry> {
    (
        (any::<u16>(), any::<u8>(), any::<u16>(), any::<u16>()),
        (any::<u16>(), any::<u16>(), any::<u8>(), any::<u32>(), any::<[u8; 16]>()),
    )
        .prop_map(
            |(
                (number, command, length, session_key),
                (target_key, second_key, result, tick, digest),
            )| {
                LogEntry {
                    number,
                    command: CommandCode(command),
                    length,
                    session_key,
                    target_key,
                    second_key,
                    result,
                    tick,
                    digest,
                }
            },
        )
}

fn any_object_info() -> impl Strategy<Value = ObjectInfo> {
    (
        (any::<u64>(), any::<u16>(), any::<u16>(), any::<u16>(), any::<u8>()),
        (any::<u8>(), any::<u8>(), any::<u8>(), any_label(), any::<u64>()),
    )
        .prop_map(
            |((caps, id, length, domains, t), (alg, sequence, origin, label, delegated))| {
                ObjectInfo {
                    capabilities: Capabilities(caps),
                    id,
                    length,
                    domains: Domains(domains),
                    object_type: ObjectType(t),
                    algorithm: Algorithm(alg),
                    sequence,
                    origin: Origin(origin),
                    label,
                    delegated_capabilities: Capabilities(delegated),
                }
            },
        )
}

fn any_public_key() -> impl Strategy<Value = PublicKey> {
    any::<u8>()
        .prop_flat_map(|a| {
            let alg = Algorithm(a);
            let key = match PublicKey::expected_len(alg) {
                Some(n) => bytes(n, n).boxed(),
                None => bytes(1, 300).boxed(),
            };
            (Just(alg), key)
        })
        .prop_map(|(algorithm, key)| PublicKey { algorithm, key })
}

fn der_sequence(body: Vec<u8>) -> Vec<u8> {
    let len = u8::try_from(body.len()).unwrap();
    let mut out = if len < 0x80 { vec![0x30, len] } else { vec![0x30, 0x81, len] };
    out.extend(body);
    out
}

/// Request → data → request, and the same through a whole frame.
fn assert_request_round_trips<C: Command + PartialEq + Debug>(c: &C) {
    assert_eq!(&C::decode(&c.to_data()).unwrap(), c);
    assert_eq!(&C::from_frame(&c.to_frame().unwrap()).unwrap(), c);
}

/// Response → data → response, and the same through a whole response frame.
fn assert_response_round_trips<C: Command>(r: &C::Response)
where
    C::Response: PartialEq + Debug,
{
    assert_eq!(&C::Response::decode(&r.to_data()).unwrap(), r);
    assert_eq!(&decode_response_frame::<C>(&encode_response_frame::<C>(r).unwrap()).unwrap(), r);
}

proptest! {
    #[test]
    fn round_trips_device_commands(
        data in bytes(0, 200),
        version in any::<(u8, u8, u8)>(),
        serial in any::<u32>(),
        logs in any::<(u8, u8)>(),
        algorithms in bytes(0, 80),
        part in any::<String>(),
        storage in any::<[u16; 5]>(),
        len in any::<u16>(),
        seconds in any::<u8>(),
        xy in any::<([u8; 32], [u8; 32])>(),
    ) {
        assert_request_round_trips(&Echo { data: data.clone() });
        assert_response_round_trips::<Echo>(&EchoResponse { data: data.clone() });
        assert_request_round_trips(&GetDeviceInfo);
        assert_response_round_trips::<GetDeviceInfo>(&DeviceInfo {
            version,
            serial,
            log_total: logs.0,
            log_used: logs.1,
            algorithms: algorithms.into_iter().map(Algorithm).collect(),
        });
        assert_request_round_trips(&GetPartNumber);
        assert_response_round_trips::<GetPartNumber>(&PartNumber(part));
        assert_request_round_trips(&GetStorageInfo);
        let [total_records, free_records, total_pages, free_pages, page_size] = storage;
        assert_response_round_trips::<GetStorageInfo>(&StorageInfo {
            total_records, free_records, total_pages, free_pages, page_size,
        });
        assert_request_round_trips(&ResetDevice);
        assert_response_round_trips::<ResetDevice>(&ResetDeviceResponse);
        assert_request_round_trips(&CloseSession);
        assert_response_round_trips::<CloseSession>(&CloseSessionResponse);
        assert_request_round_trips(&GetPseudoRandom { len });
        assert_response_round_trips::<GetPseudoRandom>(&PseudoRandom {
            bytes: SecretBytes::new(data),
        });
        assert_request_round_trips(&BlinkDevice { seconds });
        assert_response_round_trips::<BlinkDevice>(&BlinkDeviceResponse);
        assert_request_round_trips(&GetDevicePublicKey);
        assert_response_round_trips::<GetDevicePublicKey>(&DevicePublicKey { x: xy.0, y: xy.1 });
    }

    #[test]
    fn round_trips_object_commands(
        filters in vec(any_filter(), 0..8),
        entries in vec(any::<(u16, u8, u8)>(), 0..30),
        id in any::<u16>(),
        t in any::<u8>(),
        info in any_object_info(),
        header in any_header(),
        data in bytes(1, 300),
    ) {
        assert_request_round_trips(&ListObjects { filters });
        let objects = entries
            .into_iter()
            .map(|(id, t, sequence)| ListEntry { id, object_type: ObjectType(t), sequence })
            .collect();
        assert_response_round_trips::<ListObjects>(&ListObjectsResponse { objects });
        assert_request_round_trips(&GetObjectInfo { id, object_type: ObjectType(t) });
        assert_response_round_trips::<GetObjectInfo>(&info);
        assert_request_round_trips(&DeleteObject { id, object_type: ObjectType(t) });
        assert_response_round_trips::<DeleteObject>(&DeleteObjectResponse);
        assert_request_round_trips(&PutOpaque { header, data: data.clone() });
        assert_response_round_trips::<PutOpaque>(&PutOpaqueResponse { id });
        assert_request_round_trips(&GetOpaque { id });
        assert_response_round_trips::<GetOpaque>(&GetOpaqueResponse { data });
    }

    #[test]
    fn round_trips_wrap_commands(
        put in any_put_wrap_key(),
        header in any_header(),
        delegated in any::<u64>(),
        ids in any::<(u16, u16)>(),
        t in any::<u8>(),
        format in proptest::option::of(any::<u8>()),
        blob in bytes(MIN_WRAPPED_LEN, 400),
    ) {
        assert_request_round_trips(&put);
        assert_response_round_trips::<PutWrapKey>(&PutWrapKeyResponse { id: ids.0 });
        let generate = GenerateWrapKey { header, delegated: Capabilities(delegated) };
        assert_request_round_trips(&generate);
        assert_response_round_trips::<GenerateWrapKey>(&GenerateWrapKeyResponse { id: ids.1 });
        let export = ExportWrapped { wrap_id: ids.0, object_type: ObjectType(t), id: ids.1, format };
        assert_request_round_trips(&export);
        assert_response_round_trips::<ExportWrapped>(&ExportWrappedResponse { blob: blob.clone() });
        assert_request_round_trips(&ImportWrapped { wrap_id: ids.0, blob });
        assert_response_round_trips::<ImportWrapped>(&ImportWrappedResponse {
            object_type: ObjectType(t),
            id: ids.1,
        });
    }

    #[test]
    fn round_trips_authentication_key_commands(
        header in any_header(),
        delegated in any::<u64>(),
        key in any_auth_key(),
        id in any::<u16>(),
    ) {
        let put = PutAuthenticationKey::new(
            header.id,
            header.label,
            header.domains,
            header.capabilities,
            Capabilities(delegated),
            key.clone(),
        );
        assert_request_round_trips(&put);
        assert_response_round_trips::<PutAuthenticationKey>(&PutAuthenticationKeyResponse { id });
        assert_request_round_trips(&ChangeAuthenticationKey { key_id: id, key });
        assert_response_round_trips::<ChangeAuthenticationKey>(
            &ChangeAuthenticationKeyResponse { id },
        );
    }

    #[test]
    fn round_trips_asymmetric_and_hmac_commands(
        header in any_header(),
        key in bytes(1, 600),
        hmac_key in bytes(1, 64),
        id in any::<u16>(),
        t in proptest::option::of(any::<u8>()),
        public in any_public_key(),
        digest in bytes(1, 128),
        signature in bytes(0, 255),
    ) {
        assert_request_round_trips(&PutAsymmetricKey { header, key: SecretBytes::new(key) });
        assert_response_round_trips::<PutAsymmetricKey>(&PutAsymmetricKeyResponse { id });
        assert_request_round_trips(&GenerateAsymmetricKey { header });
        assert_response_round_trips::<GenerateAsymmetricKey>(
            &GenerateAsymmetricKeyResponse { id },
        );
        assert_request_round_trips(&GetPublicKey { id, object_type: t.map(ObjectType) });
        assert_response_round_trips::<GetPublicKey>(&public);
        assert_request_round_trips(&SignEcdsa { key_id: id, digest });
        assert_response_round_trips::<SignEcdsa>(&SignEcdsaResponse {
            signature: der_sequence(signature),
        });
        assert_request_round_trips(&PutHmacKey { header, key: SecretBytes::new(hmac_key) });
        assert_response_round_trips::<PutHmacKey>(&PutHmacKeyResponse { id });
    }

    #[test]
    fn round_trips_log_and_option_commands(
        unlogged in any::<(u16, u16)>(),
        entries in vec(any_log_entry(), 0..20),
        index in any::<u16>(),
        option in any::<u8>(),
        value in bytes(0, 300),
    ) {
        assert_request_round_trips(&GetLogEntries);
        assert_response_round_trips::<GetLogEntries>(&LogEntries {
            unlogged_boot: unlogged.0,
            unlogged_auth: unlogged.1,
            entries,
        });
        assert_request_round_trips(&SetLogIndex { index });
        assert_response_round_trips::<SetLogIndex>(&SetLogIndexResponse);
        assert_request_round_trips(&SetOption { option: DeviceOption(option), value: value.clone() });
        assert_response_round_trips::<SetOption>(&SetOptionResponse);
        assert_request_round_trips(&GetOption { option: DeviceOption(option) });
        assert_response_round_trips::<GetOption>(&GetOptionResponse { value });
    }
}

// ---------------------------------------------------------------------------------------
// Rejection

/// Every proper prefix of `valid` is rejected, with an error naming `command`.
fn assert_rejects_prefixes<T: Debug>(
    command: &str,
    valid: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, DecodeError>,
) {
    assert!(decode(valid).is_ok(), "{command}: the valid input must parse");
    for n in 0..valid.len() {
        match decode(&valid[..n]) {
            Ok(v) => panic!("{command}: prefix of {n} bytes accepted as {v:?}"),
            Err(e) => assert!(e.what.starts_with(command), "{command}: prefix {n}: {e}"),
        }
    }
}

/// `valid` followed by one more byte is rejected, with an error naming `command`.
fn assert_rejects_trailing_byte<T: Debug>(
    command: &str,
    valid: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, DecodeError>,
) {
    assert!(decode(valid).is_ok(), "{command}: the valid input must parse");
    let mut long = valid.to_vec();
    long.push(0);
    match decode(&long) {
        Ok(v) => panic!("{command}: trailing byte accepted as {v:?}"),
        Err(e) => assert!(e.what.starts_with(command), "{command}: trailing byte: {e}"),
    }
}

fn assert_fixed<T: Debug>(
    command: &str,
    valid: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, DecodeError> + Copy,
) {
    assert_rejects_prefixes(command, valid, decode);
    assert_rejects_trailing_byte(command, valid, decode);
}

fn sample_header(algorithm: Algorithm) -> ObjectHeader {
    ObjectHeader {
        id: 0x1234,
        label: label("sample"),
        domains: Domains(5),
        capabilities: Capabilities(0x3000),
        algorithm,
    }
}

#[test]
fn rejects_truncated_and_extended_fixed_layout_requests() {
    let sym = AuthenticationKey::Symmetric {
        enc: SecretArray::new([1; 16]),
        mac: SecretArray::new([2; 16]),
    };
    let ec = AuthenticationKey::EcP256 { x: [3; 32], y: [4; 32] };
    let put_auth = |key: AuthenticationKey| {
        PutAuthenticationKey::new(7, label("a"), Domains(1), Capabilities(2), Capabilities(3), key)
    };

    assert_fixed("get-device-info", &GetPartNumber.to_data(), GetPartNumber::decode);
    assert_fixed(
        "get-object-info",
        &GetObjectInfo { id: 1, object_type: ObjectType::OPAQUE }.to_data(),
        GetObjectInfo::decode,
    );
    assert_fixed(
        "delete-object",
        &DeleteObject { id: 1, object_type: ObjectType::OPAQUE }.to_data(),
        DeleteObject::decode,
    );
    assert_fixed("get-opaque", &GetOpaque { id: 1 }.to_data(), GetOpaque::decode);
    assert_fixed(
        "generate-wrap-key",
        &GenerateWrapKey {
            header: sample_header(Algorithm::AES128_CCM_WRAP),
            delegated: Capabilities(9),
        }
        .to_data(),
        GenerateWrapKey::decode,
    );
    assert_fixed(
        "generate-asymmetric-key",
        &GenerateAsymmetricKey { header: sample_header(Algorithm::ECP256) }.to_data(),
        GenerateAsymmetricKey::decode,
    );
    for n in [16, 24, 32] {
        let put = PutWrapKey {
            header: sample_header(Algorithm::wrap_for_key_size(n).unwrap()),
            delegated: Capabilities(9),
            key: SecretBytes::new(vec![5; n]),
        };
        assert_fixed("put-wrap-key", &put.to_data(), PutWrapKey::decode);
    }
    for key in [sym.clone(), ec.clone()] {
        assert_fixed(
            "put-authentication-key",
            &put_auth(key).to_data(),
            PutAuthenticationKey::decode,
        );
    }
    for key in [sym, ec] {
        let change = ChangeAuthenticationKey { key_id: 3, key };
        assert_fixed(
            "change-authentication-key",
            &change.to_data(),
            ChangeAuthenticationKey::decode,
        );
    }
    // Two-length requests: the short form's prefixes and the long form's trailing byte.
    let export = ExportWrapped::new(1, ObjectType::ASYMMETRIC_KEY, 2);
    assert_rejects_prefixes("export-wrapped", &export.to_data(), ExportWrapped::decode);
    assert_rejects_trailing_byte(
        "export-wrapped",
        &export.with_format(1).to_data(),
        ExportWrapped::decode,
    );
    let pubkey = GetPublicKey::asymmetric(2);
    assert_rejects_prefixes("get-public-key", &pubkey.to_data(), GetPublicKey::decode);
    assert_rejects_trailing_byte(
        "get-public-key",
        &GetPublicKey { id: 2, object_type: Some(ObjectType::WRAP_KEY) }.to_data(),
        GetPublicKey::decode,
    );
    assert_fixed("set-log-index", &SetLogIndex { index: 9 }.to_data(), SetLogIndex::decode);
    assert_fixed("set-option", &SetOption::force_audit(AuditMode::ON).to_data(), SetOption::decode);
    assert_fixed(
        "get-option",
        &GetOption { option: DeviceOption::FORCE_AUDIT }.to_data(),
        GetOption::decode,
    );
    assert_fixed("blink-device", &BlinkDevice { seconds: 3 }.to_data(), BlinkDevice::decode);
    assert_fixed(
        "get-pseudo-random",
        &GetPseudoRandom { len: 32 }.to_data(),
        GetPseudoRandom::decode,
    );
    // Empty requests: nothing to truncate, one byte too many.
    assert_rejects_trailing_byte("get-device-info", &[], GetDeviceInfo::decode);
    assert_rejects_trailing_byte("get-storage-info", &[], GetStorageInfo::decode);
    assert_rejects_trailing_byte("reset-device", &[], ResetDevice::decode);
    assert_rejects_trailing_byte("close-session", &[], CloseSession::decode);
    assert_rejects_trailing_byte("get-log-entries", &[], GetLogEntries::decode);
    assert_rejects_trailing_byte("get-device-public-key", &[], GetDevicePublicKey::decode);
}

#[test]
fn rejects_truncated_variable_requests_before_their_body() {
    let opaque = PutOpaque { header: sample_header(Algorithm::OPAQUE_DATA), data: vec![1] };
    assert_rejects_prefixes("put-opaque", &opaque.to_data(), PutOpaque::decode);
    let put = PutAsymmetricKey {
        header: sample_header(Algorithm::ED25519),
        key: SecretBytes::new(vec![1]),
    };
    assert_rejects_prefixes("put-asymmetric-key", &put.to_data(), PutAsymmetricKey::decode);
    let hmac = PutHmacKey {
        header: sample_header(Algorithm::HMAC_SHA256),
        key: SecretBytes::new(vec![1]),
    };
    assert_rejects_prefixes("put-hmac-key", &hmac.to_data(), PutHmacKey::decode);
    let rsa_wrap = PutWrapKey {
        header: sample_header(Algorithm::RSA2048),
        delegated: Capabilities(0),
        key: SecretBytes::new(vec![1]),
    };
    assert_rejects_prefixes("put-wrap-key", &rsa_wrap.to_data(), PutWrapKey::decode);
    let sign = SignEcdsa { key_id: 1, digest: vec![1] };
    assert_rejects_prefixes("sign-ecdsa", &sign.to_data(), SignEcdsa::decode);
    let import = ImportWrapped { wrap_id: 1, blob: vec![0; MIN_WRAPPED_LEN] };
    assert_rejects_prefixes("import-wrapped", &import.to_data(), ImportWrapped::decode);
    let list = ListObjects { filters: vec![Filter::Label(label("x"))] };
    let data = list.to_data();
    for n in 1..data.len() {
        assert!(ListObjects::decode(&data[..n]).unwrap_err().what.starts_with("list-objects"));
    }
}

#[test]
fn rejects_truncated_and_extended_fixed_layout_responses() {
    fn id_data(id: u16) -> Vec<u8> {
        id.to_be_bytes().to_vec()
    }
    assert_fixed(
        "get-storage-info response",
        &StorageInfo {
            total_records: 256,
            free_records: 250,
            total_pages: 1024,
            free_pages: 1000,
            page_size: 126,
        }
        .to_data(),
        StorageInfo::decode,
    );
    assert_fixed("put-opaque response", &id_data(1), PutOpaqueResponse::decode);
    assert_fixed("put-wrap-key response", &id_data(1), PutWrapKeyResponse::decode);
    assert_fixed("generate-wrap-key response", &id_data(1), GenerateWrapKeyResponse::decode);
    assert_fixed(
        "put-authentication-key response",
        &id_data(1),
        PutAuthenticationKeyResponse::decode,
    );
    assert_fixed(
        "change-authentication-key response",
        &id_data(1),
        ChangeAuthenticationKeyResponse::decode,
    );
    assert_fixed("put-asymmetric-key response", &id_data(1), PutAsymmetricKeyResponse::decode);
    assert_fixed(
        "generate-asymmetric-key response",
        &id_data(1),
        GenerateAsymmetricKeyResponse::decode,
    );
    assert_fixed("put-hmac-key response", &id_data(1), PutHmacKeyResponse::decode);
    assert_fixed(
        "import-wrapped response",
        &ImportWrappedResponse { object_type: ObjectType::WRAP_KEY, id: 3 }.to_data(),
        ImportWrappedResponse::decode,
    );
    assert_fixed(
        "get-device-public-key response",
        &DevicePublicKey { x: [1; 32], y: [2; 32] }.to_data(),
        DevicePublicKey::decode,
    );
    let info = ObjectInfo {
        capabilities: Capabilities(1),
        id: 2,
        length: 3,
        domains: Domains(4),
        object_type: ObjectType::OPAQUE,
        algorithm: Algorithm::OPAQUE_DATA,
        sequence: 5,
        origin: Origin::IMPORTED,
        label: label("info"),
        delegated_capabilities: Capabilities(6),
    };
    assert_fixed(
        "get-object-info response",
        &Response::to_data(&info),
        <ObjectInfo as Response>::decode,
    );
    let entry = LogEntry {
        number: 1,
        command: CommandCode::ECHO,
        length: 3,
        session_key: 1,
        target_key: 0xffff,
        second_key: 0xffff,
        result: 0x81,
        tick: 99,
        digest: [7; 16],
    };
    for n in 0..3 {
        let logs = LogEntries { unlogged_boot: 0, unlogged_auth: 1, entries: vec![entry; n] };
        assert_fixed("get-log-entries response", &logs.to_data(), LogEntries::decode);
    }
    for alg in [Algorithm::ECP256, Algorithm::ECP521, Algorithm::ED25519, Algorithm::RSA2048] {
        let n = PublicKey::expected_len(alg).unwrap();
        let key = PublicKey { algorithm: alg, key: vec![1; n] };
        assert_fixed("get-public-key response", &key.to_data(), PublicKey::decode);
    }
    for body in [8, 70, 0x7f, 0x80, 139] {
        let sig = SignEcdsaResponse { signature: der_sequence(vec![2; body]) };
        assert_fixed("sign-ecdsa response", &sig.to_data(), SignEcdsaResponse::decode);
    }
    assert_rejects_prefixes("get-device-info response", &[2, 4, 0, 0, 0, 0, 1, 62, 0], |d| {
        DeviceInfo::decode(d)
    });
    assert_rejects_trailing_byte("reset-device response", &[], ResetDeviceResponse::decode);
    assert_rejects_trailing_byte("close-session response", &[], CloseSessionResponse::decode);
    assert_rejects_trailing_byte("delete-object response", &[], DeleteObjectResponse::decode);
    assert_rejects_trailing_byte("set-log-index response", &[], SetLogIndexResponse::decode);
    assert_rejects_trailing_byte("set-option response", &[], SetOptionResponse::decode);
    assert_rejects_trailing_byte("blink-device response", &[], BlinkDeviceResponse::decode);
}

#[test]
fn rejects_wrong_lengths_in_variable_responses() {
    for n in [1, 2, 3, 5, 6, 7, 9] {
        let err = ListObjectsResponse::decode(&vec![0; n]).unwrap_err();
        assert_eq!(err, DecodeError::bad_length("list-objects response", n));
    }
    let err = ExportWrappedResponse::decode(&[0; MIN_WRAPPED_LEN - 1]).unwrap_err();
    assert_eq!(err.what, "export-wrapped response");
    assert_eq!(GetOpaqueResponse::decode(&[]).unwrap_err().what, "get-opaque response");
    let err = GetPseudoRandom { len: 16 }
        .parse_response(&[0xd1, 0x00, 0x0f].iter().copied().chain([0; 15]).collect::<Vec<_>>())
        .unwrap_err();
    assert_eq!(
        err,
        yhsm_proto::FrameError::Malformed(DecodeError {
            what: "get-pseudo-random response",
            kind: DecodeErrorKind::BadLength { got: 15 },
        })
    );
}

#[test]
fn rejects_created_ids_other_than_the_requested_one() {
    let put = PutOpaque { header: sample_header(Algorithm::OPAQUE_DATA), data: vec![1] };
    let answer = |id: u16| {
        let mut f = vec![0xc2, 0, 2];
        f.extend_from_slice(&id.to_be_bytes());
        f
    };
    assert_eq!(put.parse_response(&answer(0x1234)).unwrap().id, 0x1234);
    assert!(put.parse_response(&answer(0x1235)).is_err());
    let any_id = PutOpaque { header: ObjectHeader { id: 0, ..put.header }, ..put };
    assert_eq!(any_id.parse_response(&answer(0x1235)).unwrap().id, 0x1235);
}

#[test]
fn debug_of_secret_bearing_requests_hides_the_key() {
    let put = PutWrapKey {
        header: sample_header(Algorithm::AES128_CCM_WRAP),
        delegated: Capabilities(0),
        key: SecretBytes::new(vec![0xab; 16]),
    };
    let random = PseudoRandom { bytes: SecretBytes::new(vec![0xcd; 16]) };
    let text = format!("{put:?} {random:?}");
    assert!(!text.contains("171") && !text.contains("ab, ") && !text.contains("0xab"), "{text}");
    assert!(!text.contains("205") && !text.contains("0xcd"), "{text}");
}

// ---------------------------------------------------------------------------------------
// Robustness

type Codec = fn(&[u8]) -> Result<Vec<u8>, DecodeError>;

/// `(name, decode-then-re-encode)` for every request and response decoder.
macro_rules! codecs {
    ($($name:literal => $t:ty as $tr:ident,)*) => {
        [$(
            ($name, (|d: &[u8]| {
                <$t as $tr>::decode(d).map(|v| <$t as $tr>::to_data(&v).to_vec())
            }) as Codec),
        )*]
    };
}

fn all_codecs() -> Vec<(&'static str, Codec)> {
    codecs![
        "echo" => Echo as Command,
        "echo response" => EchoResponse as Response,
        "get-device-info" => GetDeviceInfo as Command,
        "get-device-info response" => DeviceInfo as Response,
        "get-device-info (part number)" => GetPartNumber as Command,
        "get-device-info (part number) response" => PartNumber as Response,
        "get-storage-info" => GetStorageInfo as Command,
        "get-storage-info response" => StorageInfo as Response,
        "reset-device" => ResetDevice as Command,
        "reset-device response" => ResetDeviceResponse as Response,
        "close-session" => CloseSession as Command,
        "close-session response" => CloseSessionResponse as Response,
        "get-pseudo-random" => GetPseudoRandom as Command,
        "get-pseudo-random response" => PseudoRandom as Response,
        "blink-device" => BlinkDevice as Command,
        "blink-device response" => BlinkDeviceResponse as Response,
        "get-device-public-key" => GetDevicePublicKey as Command,
        "get-device-public-key response" => DevicePublicKey as Response,
        "list-objects" => ListObjects as Command,
        "list-objects response" => ListObjectsResponse as Response,
        "get-object-info" => GetObjectInfo as Command,
        "get-object-info response" => ObjectInfo as Response,
        "delete-object" => DeleteObject as Command,
        "delete-object response" => DeleteObjectResponse as Response,
        "put-opaque" => PutOpaque as Command,
        "put-opaque response" => PutOpaqueResponse as Response,
        "get-opaque" => GetOpaque as Command,
        "get-opaque response" => GetOpaqueResponse as Response,
        "put-wrap-key" => PutWrapKey as Command,
        "put-wrap-key response" => PutWrapKeyResponse as Response,
        "generate-wrap-key" => GenerateWrapKey as Command,
        "generate-wrap-key response" => GenerateWrapKeyResponse as Response,
        "export-wrapped" => ExportWrapped as Command,
        "export-wrapped response" => ExportWrappedResponse as Response,
        "import-wrapped" => ImportWrapped as Command,
        "import-wrapped response" => ImportWrappedResponse as Response,
        "put-authentication-key" => PutAuthenticationKey as Command,
        "put-authentication-key response" => PutAuthenticationKeyResponse as Response,
        "change-authentication-key" => ChangeAuthenticationKey as Command,
        "change-authentication-key response" => ChangeAuthenticationKeyResponse as Response,
        "put-asymmetric-key" => PutAsymmetricKey as Command,
        "put-asymmetric-key response" => PutAsymmetricKeyResponse as Response,
        "generate-asymmetric-key" => GenerateAsymmetricKey as Command,
        "generate-asymmetric-key response" => GenerateAsymmetricKeyResponse as Response,
        "get-public-key" => GetPublicKey as Command,
        "get-public-key response" => PublicKey as Response,
        "sign-ecdsa" => SignEcdsa as Command,
        "sign-ecdsa response" => SignEcdsaResponse as Response,
        "put-hmac-key" => PutHmacKey as Command,
        "put-hmac-key response" => PutHmacKeyResponse as Response,
        "get-log-entries" => GetLogEntries as Command,
        "get-log-entries response" => LogEntries as Response,
        "set-log-index" => SetLogIndex as Command,
        "set-log-index response" => SetLogIndexResponse as Response,
        "set-option" => SetOption as Command,
        "set-option response" => SetOptionResponse as Response,
        "get-option" => GetOption as Command,
        "get-option response" => GetOptionResponse as Response,
    ]
    .to_vec()
}

#[test]
fn every_command_has_a_codec_entry() {
    assert_eq!(all_codecs().len(), 58);
}

proptest! {
    /// No decoder panics on arbitrary bytes; what one accepts it re-encodes unchanged (the
    /// encoding is canonical); what it rejects it rejects naming its command.
    #[test]
    fn decoders_never_panic_and_accept_only_canonical_input(
        data in prop_oneof![
            vec(any::<u8>(), 0..8),
            vec(any::<u8>(), 0..200),
            vec(any::<u8>(), 50..140),
        ],
    ) {
        for (name, codec) in all_codecs() {
            match codec(&data) {
                Ok(again) => prop_assert_eq!(&again, &data, "{} is not canonical", name),
                Err(e) => {
                    let command = name.split(' ').next().unwrap_or(name);
                    prop_assert!(e.what.starts_with(command), "{}: {}", name, e);
                }
            }
        }
    }
}
