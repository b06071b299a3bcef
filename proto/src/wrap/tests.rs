use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::object::{Capabilities, Domains, Label, ObjectType, Origin};
use crate::secret::{SecretArray, SecretBytes};

/// `00 01 02 .. 1f`, the wrap key of the vectors.
fn key32() -> [u8; 32] {
    core::array::from_fn(|i| u8::try_from(i).unwrap())
}

fn key(len: usize) -> WrapKey {
    WrapKey::new(&key32()[..len]).unwrap()
}

fn header(object_type: ObjectType, algorithm: Algorithm) -> WrapHeader {
    WrapHeader {
        wrap_algorithm: Algorithm::AES256_CCM_WRAP,
        capabilities: Capabilities(0x0000_0000_0001_0080),
        id: 0x0042,
        length: 0,
        domains: Domains(0x0005),
        object_type,
        algorithm,
        sequence: 3,
        origin: Origin(0x12),
        label: Label::from_bytes(b"test object").unwrap(),
    }
}

/// d, x, y of vectors/wrapped/ec_p256.json.
const P256_BODY: &str = "af7d03320375565c78015e0c8b89bdfbca49a826324635ddc415beeb99d66676\
                         7b2873c2ee32e0dcddd347bae0fef395089ab0605b85bd1888f41b4eb5b81b90\
                         a621444638c6f580f91f89819b3ebe15665e01064276f7b709c3a15e84ddbb73";

fn p256_object() -> WrappedObject {
    let body = hex::decode(P256_BODY).unwrap();
    WrappedObject {
        header: header(ObjectType::ASYMMETRIC_KEY, Algorithm::ECP256),
        body: Body::decode(ObjectType::ASYMMETRIC_KEY, Algorithm::ECP256, &body).unwrap(),
    }
}

/// Encrypts raw plaintext (header and body as given) under `key`, to build blobs that
/// `wrap` refuses to make.
fn seal_raw(key: &WrapKey, plaintext: &[u8]) -> Vec<u8> {
    let nonce = [7u8; NONCE_LEN];
    let mut buf = plaintext.to_vec();
    let tag = ccm_seal(key, &nonce, &mut buf).unwrap();
    WrappedBlob { nonce, ciphertext: buf, tag }.to_bytes()
}

fn plaintext(h: &WrapHeader, body: &[u8]) -> Vec<u8> {
    let mut out = h.to_bytes();
    out.extend_from_slice(body);
    out
}

fn with_length(object_type: ObjectType, algorithm: Algorithm, body: &[u8]) -> WrapHeader {
    WrapHeader { length: u16::try_from(body.len()).unwrap(), ..header(object_type, algorithm) }
}

// ---- text ----

#[test]
fn decodes_text_with_surrounding_whitespace() {
    let blob: Vec<u8> = (0u8..=200).collect();
    let text = encode_text(&blob);
    assert!(!text.ends_with('\n'));
    for wrapped in [
        text.clone(),
        format!("{text}\n"),
        format!("{text}\r\n"),
        format!("  \t{text}\n\n"),
        format!("\r\n{text} "),
    ] {
        assert_eq!(decode_text(wrapped.as_bytes()).unwrap(), blob, "{wrapped:?}");
    }
}

#[test]
fn rejects_inner_whitespace_with_its_offset() {
    let text = encode_text(&[0xaa; 30]);
    let mut bad = text.clone().into_bytes();
    bad.insert(17, b' ');
    let err = decode_text(&bad).unwrap_err();
    assert_eq!(
        err,
        WrapError::NotBase64 { offset: Some(17), reason: "whitespace inside the text" }
    );
    let mut bad = format!("\n{text}").into_bytes();
    bad.insert(9, b'\n');
    assert!(matches!(decode_text(&bad), Err(WrapError::NotBase64 { offset: Some(9), .. })));
}

#[test]
fn rejects_non_base64_text_saying_what_is_wrong() {
    let good = encode_text(&[0xfb, 0xff, 0xbf, 0x00, 0x11, 0x22]); // "+/+/ABEi"
    assert_eq!(good, "+/+/ABEi");
    let cases: [(&[u8], Option<usize>, &str); 8] = [
        (b"-_-_ABEi", Some(0), "URL-safe"),
        (b"+/+/AB\xc3\xa9", Some(6), "non-ASCII"),
        (b"+/+/AB*i", Some(6), "invalid character"),
        (b"+/+/ABE", None, "multiple of 4"),
        (b"+/+/AB=i", Some(6), "padding"),
        (b"", None, "empty"),
        (b" \r\n\t", None, "empty"),
        (b"+/+/ABF=", Some(6), "stray low bits"),
    ];
    for (text, offset, needle) in cases {
        let err = decode_text(text).unwrap_err();
        let WrapError::NotBase64 { offset: got, reason } = err else {
            panic!("{text:?}: {err:?}");
        };
        assert_eq!(got, offset, "{text:?}");
        assert!(reason.contains(needle), "{text:?}: {reason}");
        assert!(err.to_string().starts_with("not base64: "), "{err}");
    }
    assert_eq!(
        decode_text(b"+/+/AB*i").unwrap_err().to_string(),
        "not base64: invalid character at offset 6"
    );
}

/// `text` wrapped at `width` characters per line, lines ended by `eol`.
fn wrapped(text: &str, width: usize, eol: &str) -> String {
    let lines: Vec<&str> =
        text.as_bytes().chunks(width).map(|c| core::str::from_utf8(c).unwrap()).collect();
    lines.join(eol)
}

#[test]
fn decodes_text_wrapped_at_64_or_76_columns_with_or_without_a_byte_order_mark() {
    let blob: Vec<u8> = (0u8..=255).cycle().take(300).collect();
    let text = encode_text(&blob);
    for width in LINE_WIDTHS {
        for eol in ["\n", "\r\n"] {
            let lines = wrapped(&text, width, eol);
            assert!(lines.contains(eol));
            for file in [lines.clone(), format!("{lines}{eol}"), format!("\u{feff}{lines}\n")] {
                assert_eq!(decode_text(file.as_bytes()).unwrap(), blob, "{file:?}");
                assert_eq!(decode_file(file.as_bytes()).unwrap(), (blob.clone(), Encoding::Base64));
            }
        }
    }
    // A byte order mark before text on one line, as a Windows editor saves it.
    assert_eq!(decode_text(format!("\u{feff}{text}\r\n").as_bytes()).unwrap(), blob);
}

#[test]
fn rejects_lines_of_other_widths_at_the_line_break_at_fault() {
    let text = encode_text(&[0x5a; 200]); // 268 characters
    let reason = |file: &str| match decode_text(file.as_bytes()) {
        Err(WrapError::NotBase64 { offset, reason }) => (offset, reason),
        other => panic!("{file:?}: {other:?}"),
    };
    // 60 columns: the break after the first line.
    let (offset, why) = reason(&wrapped(&text, 60, "\n"));
    assert_eq!(offset, Some(60));
    assert!(why.starts_with("line break inside the text"), "{why}");
    // A short line in the middle of 64-column lines.
    let mut lines: Vec<String> = wrapped(&text, 64, "\n").lines().map(String::from).collect();
    let moved = lines[1].split_off(60);
    lines[2].insert_str(0, &moved);
    let file = lines.join("\n");
    assert_eq!(reason(&file).0, Some(64 + 1 + 60));
    // A blank line, and a last line longer than the others.
    assert_eq!(reason(&format!("{}\n\n{}", &text[..64], &text[64..])).0, Some(65));
    let file = format!("{}\n{}", &text[..64], &text[64..]);
    assert_eq!(reason(&file).0, Some(64));
    // A comment after the text, and a space inside a line, are still refused.
    assert_eq!(reason(&format!("{text}\n# comment\n")).0, Some(text.len()));
    let mut spaced = wrapped(&text, 64, "\r\n").into_bytes();
    spaced[100] = b' ';
    assert_eq!(
        decode_text(&spaced).unwrap_err(),
        WrapError::NotBase64 { offset: Some(100), reason: "whitespace inside the text" }
    );
}

#[test]
fn errors_in_wrapped_text_name_the_offset_in_the_file() {
    let text = encode_text(&[0x5a; 200]);
    let mut file = format!("\u{feff}{}", wrapped(&text, 76, "\r\n")).into_bytes();
    // The 3-byte mark, 76 characters and CRLF, then the 11th character of line 2.
    let at = 3 + 78 + 10;
    file[at] = b'*';
    assert_eq!(
        decode_text(&file).unwrap_err(),
        WrapError::NotBase64 { offset: Some(at), reason: "invalid character" }
    );
    // Padding in the middle of the joined text, on the second line.
    let mut file = wrapped(&text, 64, "\n").into_bytes();
    file[64 + 1 + 5] = b'=';
    assert!(matches!(
        decode_text(&file),
        Err(WrapError::NotBase64 { offset: Some(70), reason: "misplaced '=' padding" })
    ));
}

#[test]
fn takes_a_file_that_is_not_text_as_the_raw_blob() {
    let blob: Vec<u8> = (0u8..=255).cycle().take(MIN_BLOB_LEN + 7).collect();
    assert!(!is_text(&blob));
    assert_eq!(decode_file(&blob).unwrap(), (blob.clone(), Encoding::Binary));
    assert_eq!(encode_file(&blob, Encoding::Binary), blob);
    let text = encode_file(&blob, Encoding::Base64);
    assert_eq!(text, encode_text(&blob).into_bytes());
    assert_eq!(decode_file(&text).unwrap(), (blob.clone(), Encoding::Base64));
    // A blob that starts with the bytes of a byte order mark is still raw.
    let marked = [UTF8_BOM, &blob].concat();
    assert_eq!(decode_file(&marked).unwrap(), (marked.clone(), Encoding::Binary));
    // Too short or too long to be a blob: the error says the file was read as raw bytes.
    let short = &blob[..MIN_BLOB_LEN - 1];
    let err = decode_file(short).unwrap_err();
    assert_eq!(
        err.to_string(),
        "raw wrapped blob (the file is not base64 text) is too short: 87 bytes, at least 88 \
         needed"
    );
    let long = vec![0u8; MAX_BLOB_LEN + 1];
    assert!(matches!(decode_file(&long), Err(WrapError::TooLong { len, .. }) if len == long.len()));
    assert_eq!(decode_file(&vec![0u8; MAX_BLOB_LEN]).unwrap().1, Encoding::Binary);
    // Text stays text, so a typo is reported as what it is.
    assert!(matches!(decode_file(b"-_-_ABEi"), Err(WrapError::NotBase64 { offset: Some(0), .. })));
    assert!(matches!(decode_file(b""), Err(WrapError::NotBase64 { offset: None, .. })));
}

#[test]
fn encodings_parse_and_print_their_names() {
    for e in [Encoding::Base64, Encoding::Binary] {
        assert_eq!(e.to_string().parse::<Encoding>().unwrap(), e);
    }
    assert_eq!("BINARY".parse::<Encoding>().unwrap(), Encoding::Binary);
    assert_eq!(Encoding::default(), Encoding::Base64);
    assert!("raw".parse::<Encoding>().is_err());
}

// ---- blob and key ----

#[test]
fn splits_a_blob_and_rejects_every_short_prefix() {
    let blob: Vec<u8> = (0..=u8::try_from(MIN_BLOB_LEN + 4).unwrap()).collect();
    let parts = WrappedBlob::parse(&blob).unwrap();
    assert_eq!(parts.nonce.as_slice(), &blob[..13]);
    assert_eq!(parts.ciphertext.as_slice(), &blob[13..blob.len() - 16]);
    assert_eq!(parts.tag.as_slice(), &blob[blob.len() - 16..]);
    assert_eq!(parts.to_bytes(), blob);
    for n in 0..MIN_BLOB_LEN {
        let err = WrappedBlob::parse(&blob[..n]).unwrap_err();
        assert_eq!(err, WrapError::TooShort { what: err_what(&err), len: n, min: 88 });
        assert!(err.to_string().contains("nonce"), "{err}");
    }
    assert!(WrappedBlob::parse(&blob[..MIN_BLOB_LEN]).is_ok());
}

fn err_what(e: &WrapError) -> &'static str {
    match e {
        WrapError::TooShort { what, .. } => what,
        _ => "",
    }
}

#[test]
fn wrap_key_takes_three_sizes_and_hides_its_bytes() {
    assert_eq!(key(16).algorithm(), Algorithm::AES128_CCM_WRAP);
    assert_eq!(key(24).algorithm(), Algorithm::AES192_CCM_WRAP);
    assert_eq!(key(32).algorithm(), Algorithm::AES256_CCM_WRAP);
    for len in [0, 1, 15, 17, 23, 25, 31, 33, 64] {
        let err = WrapKey::new(&[0x41; 64][..len]).unwrap_err();
        assert!(matches!(err, WrapError::BadKeyLength { got, .. } if got == len));
    }
    let k = WrapKey::new(&[0xab; 32]).unwrap();
    let text = format!("{k:?} {k:#?}");
    assert!(text.contains("aes256-ccm-wrap"));
    assert!(!text.contains("ab") && !text.contains("171"), "{text}");
}

// ---- unwrap negatives ----

#[test]
fn rejects_every_flipped_bit() {
    let k = key(32);
    let blob = wrap(&k, [1; 13], &p256_object()).unwrap();
    assert_eq!(unwrap(&k, &blob).unwrap(), {
        let mut o = p256_object();
        o.header.length = 96;
        o
    });
    for i in 0..blob.len() {
        let mut bad = blob.clone();
        bad[i] ^= 1 << (i % 8);
        assert_eq!(unwrap(&k, &bad), Err(WrapError::Authentication), "byte {i}");
    }
}

#[test]
fn rejects_a_wrong_key() {
    let blob = wrap(&key(32), [1; 13], &p256_object()).unwrap();
    let mut other = key32();
    other[31] ^= 0x80;
    for wrong in [WrapKey::new(&other).unwrap(), key(16), key(24)] {
        let err = unwrap(&wrong, &blob).unwrap_err();
        assert_eq!(err, WrapError::Authentication);
        assert!(err.to_string().contains("does not decrypt under this key"));
    }
}

#[test]
fn rejects_every_truncation() {
    let k = key(16);
    let blob = wrap(&k, [2; 13], &p256_object()).unwrap();
    for n in 0..blob.len() {
        let err = unwrap(&k, &blob[..n]).unwrap_err();
        if n < MIN_BLOB_LEN {
            assert!(matches!(err, WrapError::TooShort { .. }), "{n}: {err:?}");
        } else {
            assert_eq!(err, WrapError::Authentication, "{n}");
        }
    }
}

#[test]
fn rejects_a_blob_longer_than_ccm_allows() {
    let blob = vec![0u8; NONCE_LEN + MAX_PLAINTEXT_LEN + 1 + TAG_LEN];
    let err = unwrap(&key(32), &blob).unwrap_err();
    assert_eq!(
        err,
        WrapError::TooLong {
            what: "wrapped blob ciphertext",
            len: MAX_PLAINTEXT_LEN + 1,
            max: MAX_PLAINTEXT_LEN
        }
    );
    // One byte less is a well-formed (if unauthentic) blob.
    assert_eq!(unwrap(&key(32), &blob[1..]), Err(WrapError::Authentication));
}

#[test]
fn rejects_a_header_naming_another_wrap_algorithm() {
    let body = hex::decode(P256_BODY).unwrap();
    let mut h = with_length(ObjectType::ASYMMETRIC_KEY, Algorithm::ECP256, &body);
    h.wrap_algorithm = Algorithm::AES128_CCM_WRAP;
    let blob = seal_raw(&key(32), &plaintext(&h, &body));
    let err = unwrap(&key(32), &blob).unwrap_err();
    assert_eq!(
        err,
        WrapError::WrapAlgorithmMismatch { header: Algorithm::AES128_CCM_WRAP, key_len: 32 }
    );
    assert!(err.to_string().contains("aes128-ccm-wrap"), "{err}");
    // Also an unknown wrap algorithm byte.
    h.wrap_algorithm = Algorithm(0);
    assert!(matches!(
        unwrap(&key(32), &seal_raw(&key(32), &plaintext(&h, &body))),
        Err(WrapError::WrapAlgorithmMismatch { .. })
    ));
}

#[test]
fn rejects_a_lying_length_field() {
    let body = hex::decode(P256_BODY).unwrap();
    for lie in [0u16, 95, 97, 0xffff] {
        let mut h = with_length(ObjectType::ASYMMETRIC_KEY, Algorithm::ECP256, &body);
        h.length = lie;
        let blob = seal_raw(
            &key(24),
            &plaintext(&WrapHeader { wrap_algorithm: Algorithm::AES192_CCM_WRAP, ..h }, &body),
        );
        assert_eq!(
            unwrap(&key(24), &blob),
            Err(WrapError::LengthMismatch { header: lie, body: 96 }),
            "{lie}"
        );
    }
}

#[test]
fn unwraps_an_empty_body() {
    let h = with_length(ObjectType::OPAQUE, Algorithm::OPAQUE_DATA, &[]);
    let blob = seal_raw(&key(32), &plaintext(&h, &[]));
    let o = unwrap(&key(32), &blob).unwrap();
    assert_eq!(o.body, Body::Raw(SecretBytes::new(Vec::new())));
}

fn unwrap_body(
    object_type: ObjectType,
    algorithm: Algorithm,
    body: &[u8],
) -> Result<WrappedObject, WrapError> {
    let h = with_length(object_type, algorithm, body);
    unwrap(&key(32), &seal_raw(&key(32), &plaintext(&h, body)))
}

#[test]
fn rejects_typed_bodies_of_the_wrong_size() {
    let cases = [
        (ObjectType::ASYMMETRIC_KEY, Algorithm::ECP256, 96),
        (ObjectType::ASYMMETRIC_KEY, Algorithm::ECP384, 144),
        (ObjectType::ASYMMETRIC_KEY, Algorithm::ECP521, 198),
        (ObjectType::ASYMMETRIC_KEY, Algorithm::ECP224, 84),
        (ObjectType::ASYMMETRIC_KEY, Algorithm::ECBP512, 192),
        (ObjectType::ASYMMETRIC_KEY, Algorithm::RSA2048, 896),
        (ObjectType::ASYMMETRIC_KEY, Algorithm::RSA3072, 1344),
        (ObjectType::ASYMMETRIC_KEY, Algorithm::RSA4096, 1792),
        (ObjectType::ASYMMETRIC_KEY, Algorithm::ED25519, 96),
        (ObjectType::AUTHENTICATION_KEY, Algorithm::AES128_YUBICO_AUTHENTICATION, 40),
        (ObjectType::WRAP_KEY, Algorithm::AES128_CCM_WRAP, 24),
        (ObjectType::WRAP_KEY, Algorithm::AES256_CCM_WRAP, 40),
        (ObjectType::HMAC_KEY, Algorithm::HMAC_SHA1, 128),
        (ObjectType::HMAC_KEY, Algorithm::HMAC_SHA512, 256),
    ];
    for (t, a, good) in cases {
        for len in [0, good - 1, good + 1, 2 * good] {
            if a == Algorithm::ED25519 && len == 128 {
                continue; // the other valid ed25519 size
            }
            let err = unwrap_body(t, a, &vec![0x11; len]).unwrap_err();
            assert!(
                matches!(err, WrapError::BadBodyLength { got, expected, .. } if got == len && expected == good),
                "{a} {len}: {err:?}"
            );
        }
    }
    let err = unwrap_body(ObjectType::ASYMMETRIC_KEY, Algorithm::ECP384, &[1; 96]).unwrap_err();
    assert_eq!(err.to_string(), "EC key body: 96 bytes, expected 144");
    let err = unwrap_body(ObjectType::ASYMMETRIC_KEY, Algorithm::ED25519, &[1; 100]).unwrap_err();
    assert_eq!(err.to_string(), "ed25519 key body: 100 bytes, expected 96 or 128");
}

#[test]
fn rejects_a_p256_key_whose_point_does_not_match() {
    let good = hex::decode(P256_BODY).unwrap();
    for i in [32, 63, 64, 95] {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        let err = unwrap_body(ObjectType::ASYMMETRIC_KEY, Algorithm::ECP256, &bad).unwrap_err();
        assert_eq!(
            err,
            WrapError::BadBody { what: "ecp256 public key does not match the private key" }
        );
    }
    let mut bad = good.clone();
    bad[5] ^= 0x01; // another private key: the stored point no longer matches
    assert!(unwrap_body(ObjectType::ASYMMETRIC_KEY, Algorithm::ECP256, &bad).is_err());
    // d = 0 and d = n are out of range.
    let n =
        hex::decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551").unwrap();
    for d in [vec![0u8; 32], n] {
        let mut body = d;
        body.extend_from_slice(&good[32..]);
        let err = unwrap_body(ObjectType::ASYMMETRIC_KEY, Algorithm::ECP256, &body).unwrap_err();
        assert!(err.to_string().contains("order"), "{err}");
    }
    // Another curve is not checked (no arithmetic for it here), only sized.
    assert!(unwrap_body(ObjectType::ASYMMETRIC_KEY, Algorithm::ECK256, &bad).is_ok());
}

#[test]
fn rejects_hmac_blocks_that_disagree() {
    let good = Body::hmac(Algorithm::HMAC_SHA256, b"0123456789").unwrap().to_bytes();
    assert!(unwrap_body(ObjectType::HMAC_KEY, Algorithm::HMAC_SHA256, &good).is_ok());
    for i in [0, 9, 10, 63, 64, 73, 127] {
        let mut bad = good.to_vec();
        bad[i] ^= 0x40;
        let err = unwrap_body(ObjectType::HMAC_KEY, Algorithm::HMAC_SHA256, &bad).unwrap_err();
        assert_eq!(err, WrapError::BadBody { what: "HMAC key: the ipad and opad blocks disagree" });
    }
}

#[test]
fn hmac_keys_come_back_from_the_pads() {
    for (alg, block) in [
        (Algorithm::HMAC_SHA1, 64),
        (Algorithm::HMAC_SHA256, 64),
        (Algorithm::HMAC_SHA384, 128),
        (Algorithm::HMAC_SHA512, 128),
    ] {
        for len in [1, 20, block - 1, block] {
            let k: Vec<u8> =
                (0..len).map(|i| u8::try_from(i % 256).unwrap().wrapping_mul(7) | 1).collect();
            let body = Body::hmac(alg, &k).unwrap();
            let bytes = body.to_bytes();
            assert_eq!(bytes.len(), 2 * block);
            assert!(bytes[len..block].iter().all(|&b| b == 0x36));
            assert!(bytes[block + len..].iter().all(|&b| b == 0x5c));
            let o = unwrap_body(ObjectType::HMAC_KEY, alg, &bytes).unwrap();
            assert_eq!(o.body, body);
        }
        let err = Body::hmac(alg, &vec![1; block + 1]).unwrap_err();
        assert!(matches!(err, WrapError::BadKeyLength { got, .. } if got == block + 1));
        assert!(Body::hmac(alg, &[]).is_err());
    }
    assert!(Body::hmac(Algorithm::AES128, b"key").is_err());
}

#[test]
fn ed25519_seed_must_match_the_scalar_and_prefix() {
    let seed = SecretArray::new([0x5a; 32]);
    let public = [0x99; 32];
    let full = Body::ed25519_from_seed_with_seed(&seed, public).to_bytes();
    assert_eq!(full.len(), 128);
    let o = unwrap_body(ObjectType::ASYMMETRIC_KEY, Algorithm::ED25519, &full).unwrap();
    assert_eq!(o.body, Body::ed25519_from_seed_with_seed(&seed, public));
    assert_eq!(o.public_key().unwrap(), public.to_vec());

    // The same body with the scalar reduced mod L (as a device may store it) is accepted
    // and kept byte for byte.
    let e = ed25519::expand(seed.expose_secret());
    assert_ne!(*e.clamped_be, *e.reduced_be);
    let mut reduced = full.to_vec();
    reduced[32..64].copy_from_slice(e.reduced_be.as_slice());
    let o = unwrap_body(ObjectType::ASYMMETRIC_KEY, Algorithm::ED25519, &reduced).unwrap();
    assert_eq!(o.body.to_bytes().as_slice(), reduced.as_slice());

    for (i, what) in [(40, "scalar"), (70, "prefix"), (0, "prefix")] {
        let mut bad = full.to_vec();
        bad[i] ^= 0x04;
        let err = unwrap_body(ObjectType::ASYMMETRIC_KEY, Algorithm::ED25519, &bad).unwrap_err();
        assert!(err.to_string().contains(what), "{i}: {err}");
    }
    // The 96-byte form cannot be checked against a seed; any bytes are kept.
    let short = unwrap_body(ObjectType::ASYMMETRIC_KEY, Algorithm::ED25519, &[3; 96]).unwrap();
    assert!(matches!(short.body, Body::Ed25519 { seed: None, .. }));
}

#[test]
fn keeps_unknown_types_and_algorithms_raw() {
    for (t, a) in [
        (ObjectType(0x42), Algorithm(200)),
        (ObjectType::ASYMMETRIC_KEY, Algorithm(200)),
        (ObjectType::HMAC_KEY, Algorithm::AES128),
        (ObjectType::WRAP_KEY, Algorithm(99)),
        (ObjectType::AUTHENTICATION_KEY, Algorithm::ECP256_YUBICO_AUTHENTICATION),
        (ObjectType::OPAQUE, Algorithm::OPAQUE_DATA),
        (ObjectType::TEMPLATE, Algorithm::TEMPLATE_SSH),
        (ObjectType::SYMMETRIC_KEY, Algorithm::AES256),
    ] {
        let body = [0xc3u8; 37];
        let o = unwrap_body(t, a, &body).unwrap();
        assert_eq!(o.body, Body::Raw(SecretBytes::from_slice(&body)), "{t} {a}");
        assert_eq!(o.public_key(), None);
        let again = wrap(&key(32), [9; 13], &o).unwrap();
        assert_eq!(unwrap(&key(32), &again).unwrap(), o);
    }
}

// ---- wrap ----

#[test]
fn wrap_sets_the_wrap_algorithm_and_length() {
    let mut o = p256_object();
    o.header.wrap_algorithm = Algorithm(0);
    o.header.length = 1234;
    for len in [16, 24, 32] {
        let k = key(len);
        let back = unwrap(&k, &wrap(&k, [4; 13], &o).unwrap()).unwrap();
        assert_eq!(back.header.wrap_algorithm, k.algorithm());
        assert_eq!(back.header.length, 96);
        assert_eq!(back.header.label, o.header.label);
        assert_eq!(back.header.sequence, 3);
        assert_eq!(back.header.origin, Origin(0x12));
        assert_eq!(back.body, o.body);
    }
}

#[test]
fn wrap_refuses_a_body_that_would_not_unwrap() {
    let k = key(32);
    let p256 = p256_object().body;
    let cases = [
        (header(ObjectType::ASYMMETRIC_KEY, Algorithm::ECP384), p256.clone()),
        (header(ObjectType::ASYMMETRIC_KEY, Algorithm::ED25519), p256.clone()),
        (
            header(ObjectType::HMAC_KEY, Algorithm::HMAC_SHA256),
            Body::Hmac { algorithm: Algorithm::HMAC_SHA1, key: SecretBytes::from_slice(b"k") },
        ),
        (
            header(ObjectType::HMAC_KEY, Algorithm::HMAC_SHA256),
            Body::Hmac { algorithm: Algorithm::HMAC_SHA256, key: SecretBytes::new(vec![1; 65]) },
        ),
        (header(ObjectType::OPAQUE, Algorithm::OPAQUE_DATA), p256.clone()),
        (
            header(ObjectType::ASYMMETRIC_KEY, Algorithm::ECP256),
            Body::Ec { d: SecretBytes::from_slice(&[1; 32]), x: vec![2; 32], y: vec![3; 32] },
        ),
    ];
    for (h, body) in cases {
        let o = WrappedObject { header: h, body };
        assert!(wrap(&k, [0; 13], &o).is_err(), "{:?} {:?}", h.algorithm, o.body);
    }
    let huge = WrappedObject {
        header: header(ObjectType::OPAQUE, Algorithm::OPAQUE_DATA),
        body: Body::Raw(SecretBytes::new(vec![0; 0xffff - 58])),
    };
    assert!(matches!(wrap(&k, [0; 13], &huge), Err(WrapError::TooLong { .. })));
    let largest = WrappedObject { body: Body::Raw(SecretBytes::new(vec![0; 0xffff - 59])), ..huge };
    let blob = wrap(&k, [0; 13], &largest).unwrap();
    assert_eq!(unwrap(&k, &blob).unwrap().body, largest.body);
}

#[test]
fn constructors_build_what_yubihsm_wrap_builds() {
    // vectors/wrapped/ec_p256.json
    let body = hex::decode(P256_BODY).unwrap();
    let ec = Body::ec_from_private(Algorithm::ECP256, &body[..32]).unwrap();
    assert_eq!(ec.to_bytes().as_slice(), body.as_slice());
    assert_eq!(ec.public_key().unwrap(), body[32..].to_vec());
    assert_eq!(Body::ec(Algorithm::ECP256, &body[..32], &body[32..64], &body[64..]).unwrap(), ec);
    assert!(Body::ec(Algorithm::ECP256, &body[..32], &body[32..64], &body[32..64]).is_err());
    assert!(Body::ec(Algorithm::ECP384, &body[..32], &body[32..64], &body[64..]).is_err());
    assert!(Body::ec_from_private(Algorithm::ECP384, &[1; 48]).is_err());
    assert!(Body::ec_from_private(Algorithm::ECP256, &[0; 32]).is_err());
    assert!(Body::ec_from_private(Algorithm::ECP256, &[1; 31]).is_err());

    // docs/PROTOCOL.md §4.1: the password "password".
    let auth = Body::authentication_key_from_password(Capabilities::ALL, b"password");
    assert_eq!(
        hex::encode(auth.to_bytes().as_slice()),
        "ffffffffffffffff090b47dbed595654901dee1cc655e420592fd483f759e29909a04c4505d2ce0a"
    );
    assert_eq!(auth.delegated_capabilities(), Some(Capabilities::ALL));

    // RSA integers as a parser gives them: without leading zeros.
    let rsa = Body::rsa(
        Algorithm::RSA2048,
        [&[0, 0, 1][..], &[2; 128], &[3; 100], &[4], &[5; 128]],
        &[0xc1; 256],
    )
    .unwrap();
    let bytes = rsa.to_bytes();
    assert_eq!(bytes.len(), 896);
    assert_eq!(&bytes[..128], [&[0u8; 127][..], &[1]].concat().as_slice());
    assert_eq!(bytes[128 * 2 + 27], 0);
    assert_eq!(bytes[128 * 2 + 28..128 * 3], [3; 100]);
    assert_eq!(rsa.public_key().unwrap(), vec![0xc1; 256]);
    assert!(
        Body::rsa(Algorithm::RSA2048, [&[1; 129][..], &[2], &[3], &[4], &[5]], &[1; 256]).is_err()
    );
    assert!(Body::rsa(Algorithm::RSA2048, [&[1][..], &[2], &[3], &[4], &[5]], &[1; 255]).is_ok());
    assert!(Body::rsa(Algorithm::ECP256, [&[1][..], &[2], &[3], &[4], &[5]], &[1; 256]).is_err());
}

#[test]
fn debug_and_errors_never_show_secret_bytes() {
    let bodies = [
        Body::AuthenticationKey {
            delegated: Capabilities::NONE,
            enc: SecretArray::new([0xab; 16]),
            mac: SecretArray::new([0xab; 16]),
        },
        Body::WrapKey { delegated: Capabilities::NONE, key: SecretBytes::new(vec![0xab; 32]) },
        Body::Ec { d: SecretBytes::new(vec![0xab; 32]), x: vec![1; 32], y: vec![2; 32] },
        Body::Hmac { algorithm: Algorithm::HMAC_SHA1, key: SecretBytes::new(vec![0xab; 20]) },
        Body::Raw(SecretBytes::new(vec![0xab; 20])),
        Body::ed25519_from_seed(&SecretArray::new([0xab; 32]), [1; 32]),
    ];
    for b in bodies {
        let text = format!("{b:?}");
        assert!(!text.contains("171") && !text.to_lowercase().contains("ab,"), "{text}");
        assert!(!text.contains("0xab"), "{text}");
    }
}

#[test]
fn public_key_reads_no_private_field() {
    // A body whose private parts are empty still yields its public part.
    let ec = Body::Ec { d: SecretBytes::default(), x: vec![1; 48], y: vec![2; 48] };
    assert_eq!(ec.public_key().unwrap(), [vec![1; 48], vec![2; 48]].concat());
    let rsa = Body::Rsa {
        p: SecretBytes::default(),
        q: SecretBytes::default(),
        dp: SecretBytes::default(),
        dq: SecretBytes::default(),
        qinv: SecretBytes::default(),
        n: vec![7; 384],
    };
    assert_eq!(rsa.public_key().unwrap(), vec![7; 384]);
    let auth = Body::authentication_key_from_password(Capabilities::NONE, b"x");
    assert_eq!(auth.public_key(), None);
    assert_eq!(Body::Raw(SecretBytes::default()).public_key(), None);
}

// ---- properties ----

fn bytes(len: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), len)
}

fn arb_object() -> impl Strategy<Value = (ObjectType, Algorithm, Body)> {
    let auth = (any::<u64>(), any::<[u8; 16]>(), any::<[u8; 16]>()).prop_map(|(d, e, m)| {
        (
            ObjectType::AUTHENTICATION_KEY,
            Algorithm::AES128_YUBICO_AUTHENTICATION,
            Body::AuthenticationKey {
                delegated: Capabilities(d),
                enc: SecretArray::new(e),
                mac: SecretArray::new(m),
            },
        )
    });
    let wrapkey = (any::<u64>(), prop::sample::select(vec![16usize, 24, 32]))
        .prop_flat_map(|(d, n)| (Just(d), bytes(n)))
        .prop_map(|(d, k)| {
            (
                ObjectType::WRAP_KEY,
                Algorithm::wrap_for_key_size(k.len()).unwrap(),
                Body::WrapKey { delegated: Capabilities(d), key: SecretBytes::new(k) },
            )
        });
    let p256 = any::<[u8; 32]>()
        .prop_filter_map("not a P-256 scalar", |d| {
            Body::ec_from_private(Algorithm::ECP256, &d).ok()
        })
        .prop_map(|b| (ObjectType::ASYMMETRIC_KEY, Algorithm::ECP256, b));
    let ec_other = prop::sample::select(vec![
        Algorithm::ECP224,
        Algorithm::ECP384,
        Algorithm::ECP521,
        Algorithm::ECK256,
        Algorithm::ECBP256,
        Algorithm::ECBP384,
        Algorithm::ECBP512,
    ])
    .prop_flat_map(|a| {
        let n = a.ec_field_size().unwrap();
        (Just(a), bytes(n), bytes(n), bytes(n))
    })
    .prop_map(|(a, d, x, y)| {
        (ObjectType::ASYMMETRIC_KEY, a, Body::Ec { d: SecretBytes::new(d), x, y })
    });
    let ed = (any::<[u8; 32]>(), any::<[u8; 32]>(), any::<bool>()).prop_map(|(s, p, with)| {
        let seed = SecretArray::new(s);
        let body = if with {
            Body::ed25519_from_seed_with_seed(&seed, p)
        } else {
            Body::ed25519_from_seed(&seed, p)
        };
        (ObjectType::ASYMMETRIC_KEY, Algorithm::ED25519, body)
    });
    let rsa =
        prop::sample::select(vec![Algorithm::RSA2048, Algorithm::RSA3072, Algorithm::RSA4096])
            .prop_flat_map(|a| {
                let n = a.rsa_modulus_size().unwrap();
                (Just(a), bytes(5 * (n / 2)), bytes(n))
            })
            .prop_map(|(a, s, n)| {
                let h = s.len() / 5;
                let part = |i: usize| SecretBytes::from_slice(&s[i * h..(i + 1) * h]);
                (
                    ObjectType::ASYMMETRIC_KEY,
                    a,
                    Body::Rsa {
                        p: part(0),
                        q: part(1),
                        dp: part(2),
                        dq: part(3),
                        qinv: part(4),
                        n,
                    },
                )
            });
    let hmac = prop::sample::select(vec![
        Algorithm::HMAC_SHA1,
        Algorithm::HMAC_SHA256,
        Algorithm::HMAC_SHA384,
        Algorithm::HMAC_SHA512,
    ])
    .prop_flat_map(|a| {
        (Just(a), proptest::collection::vec(any::<u8>(), 1..=a.hmac_block_size().unwrap()))
    })
    .prop_map(|(a, mut k)| {
        if let Some(last) = k.last_mut() {
            *last |= 1; // trailing zeros are indistinguishable from padding
        }
        (ObjectType::HMAC_KEY, a, Body::hmac(a, &k).unwrap())
    });
    let raw = (
        prop::sample::select(vec![
            (ObjectType::OPAQUE, Algorithm::OPAQUE_DATA),
            (ObjectType::OPAQUE, Algorithm::OPAQUE_X509_CERTIFICATE),
            (ObjectType::TEMPLATE, Algorithm::TEMPLATE_SSH),
            (ObjectType::SYMMETRIC_KEY, Algorithm::AES128),
            (ObjectType::OTP_AEAD_KEY, Algorithm::AES256_YUBICO_OTP),
            (ObjectType(0x77), Algorithm(0x99)),
        ]),
        proptest::collection::vec(any::<u8>(), 0..600),
    )
        .prop_map(|((t, a), b)| (t, a, Body::Raw(SecretBytes::new(b))));
    prop_oneof![auth, wrapkey, p256, ec_other, ed, rsa, hmac, raw]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn round_trips_every_kind_of_body_under_every_key_size(
        (t, a, body) in arb_object(),
        key_len in prop::sample::select(vec![16usize, 24, 32]),
        nonce in any::<[u8; 13]>(),
        id in any::<u16>(),
        caps in any::<u64>(),
        label in bytes(40),
    ) {
        let k = WrapKey::new(&key32()[..key_len]).unwrap();
        let mut h = header(t, a);
        h.id = id;
        h.capabilities = Capabilities(caps);
        h.label = Label(label.try_into().unwrap());
        let object = WrappedObject { header: h, body };
        let blob = wrap(&k, nonce, &object).unwrap();
        prop_assert_eq!(&blob[..13], &nonce[..]);
        let back = unwrap(&k, &blob).unwrap();
        prop_assert_eq!(back.header.wrap_algorithm, k.algorithm());
        prop_assert_eq!(usize::from(back.header.length), object.body.encoded_len());
        prop_assert_eq!(WrapHeader { wrap_algorithm: h.wrap_algorithm, length: h.length, ..back.header }, h);
        prop_assert_eq!(&back.body, &object.body);
        prop_assert_eq!(wrap(&k, nonce, &back).unwrap(), blob.clone());
        let text = encode_text(&blob);
        prop_assert_eq!(decode_text(text.as_bytes()).unwrap(), blob);
    }

    #[test]
    fn decode_text_never_panics(text in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_text(&text);
    }

    #[test]
    fn decode_file_reads_both_encodings_of_any_blob(
        blob in proptest::collection::vec(any::<u8>(), MIN_BLOB_LEN..400),
        width in 0usize..2,
    ) {
        let text = encode_text(&blob);
        let lines = wrapped(&text, LINE_WIDTHS[width], "\r\n");
        prop_assert_eq!(decode_file(lines.as_bytes()).unwrap(), (blob.clone(), Encoding::Base64));
        if !is_text(&blob) {
            prop_assert_eq!(decode_file(&encode_file(&blob, Encoding::Binary)).unwrap(), (blob, Encoding::Binary));
        }
    }

    #[test]
    fn decode_file_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_file(&bytes);
    }

    /// (An empty text is refused on purpose: an empty file is no wrapped object.)
    #[test]
    fn decode_text_reads_what_encode_text_writes(
        blob in proptest::collection::vec(any::<u8>(), 1..300),
    ) {
        prop_assert_eq!(decode_text(encode_text(&blob).as_bytes()).unwrap(), blob);
    }

    #[test]
    fn blob_parse_never_panics(blob in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(parts) = WrappedBlob::parse(&blob) {
            prop_assert_eq!(parts.to_bytes(), blob);
        }
    }

    #[test]
    fn unwrap_never_panics_on_arbitrary_blobs(blob in proptest::collection::vec(any::<u8>(), 0..400)) {
        prop_assert!(unwrap(&key(32), &blob).is_err());
    }

    /// Authentic blobs around arbitrary plaintexts reach the header and body decoders.
    #[test]
    fn unwrap_never_panics_on_arbitrary_plaintexts(
        t in prop::sample::select(vec![1u8, 2, 3, 4, 5, 6, 7, 8, 9, 0x42]),
        a in 0u8..=60,
        body in proptest::collection::vec(any::<u8>(), 0..300),
        lie in any::<bool>(),
    ) {
        let mut h = with_length(ObjectType(t), Algorithm(a), &body);
        if lie { h.length = h.length.wrapping_add(1); }
        let blob = seal_raw(&key(32), &plaintext(&h, &body));
        if let Ok(o) = unwrap(&key(32), &blob) {
            let again = o.body.to_bytes();
            prop_assert_eq!(again.as_slice(), body.as_slice());
        }
    }
}

// ---- wrapped data (WRAP_DATA answers) ----

#[test]
fn opens_wrapped_data_and_releases_nothing_on_a_bad_tag() {
    for len in [16, 24, 32] {
        let k = key(len);
        let sealed = seal_raw(&k, b"\0sixteen byte msg");
        assert_eq!(&open_data(&k, &sealed).unwrap()[..], b"sixteen byte msg");
        let mut bad = sealed.clone();
        bad[NONCE_LEN] ^= 1;
        assert_eq!(open_data(&k, &bad).unwrap_err(), WrapError::Authentication);
        assert_eq!(
            open_data(&key(if len == 16 { 32 } else { 16 }), &sealed).unwrap_err(),
            WrapError::Authentication
        );
    }
    // Empty data is `nonce || CCM(NUL) || tag`; without the NUL, or with another first
    // byte, the answer is not WRAP_DATA's; anything shorter than nonce and tag is refused.
    let k = key(32);
    assert!(open_data(&k, &seal_raw(&k, b"\0")).unwrap().is_empty());
    for plain in [&b""[..], b"\x01data", b"sixteen byte msg"] {
        assert!(
            matches!(open_data(&k, &seal_raw(&k, plain)), Err(WrapError::BadBody { .. })),
            "{plain:?}"
        );
    }
    for len in 0..NONCE_LEN + TAG_LEN {
        assert!(matches!(open_data(&k, &vec![0; len]), Err(WrapError::TooShort { .. })), "{len}");
    }
}
