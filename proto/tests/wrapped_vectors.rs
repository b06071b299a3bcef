//! Known-answer test over every wrapped object made by yubihsm-wrap in `vectors/wrapped/`:
//! text → blob → parts → header and typed body, checked against the JSON that describes
//! each file, then wrapped again into the identical file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside #[test] fns: a panic is a test failure"
)]

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value;
use yhsm_proto::object::LABEL_LEN;
use yhsm_proto::wrap::{self, Body, WrapKey, WrappedBlob};
use yhsm_proto::{Algorithm, Capabilities, ObjectType, SecretArray};

fn vectors_dir() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/wrapped")).to_path_buf()
}

/// Every `*.json` in the directory, sorted by name.
fn vector_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(vectors_dir())
        .expect("vectors/wrapped exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

fn str_field<'a>(v: &'a Value, path: &[&str]) -> Result<&'a str, String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p).ok_or_else(|| format!("missing JSON field {}", path.join(".")))?;
    }
    cur.as_str().ok_or_else(|| format!("JSON field {} is not a string", path.join(".")))
}

fn u64_field(v: &Value, path: &[&str]) -> Result<u64, String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p).ok_or_else(|| format!("missing JSON field {}", path.join(".")))?;
    }
    cur.as_u64().ok_or_else(|| format!("JSON field {} is not a number", path.join(".")))
}

fn hex_field(v: &Value, path: &[&str]) -> Result<Vec<u8>, String> {
    hex::decode(str_field(v, path)?).map_err(|e| format!("{}: {e}", path.join(".")))
}

/// `"0x0104"` → 0x0104.
fn hex_number(v: &Value, path: &[&str]) -> Result<u64, String> {
    let s = str_field(v, path)?;
    let digits = s.strip_prefix("0x").ok_or_else(|| format!("{}: no 0x", path.join(".")))?;
    u64::from_str_radix(digits, 16).map_err(|e| format!("{}: {e}", path.join(".")))
}

/// The DER inside a PEM block.
fn pem_der(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn check_vector(path: &Path) -> Result<(), String> {
    let v: Value = serde_json::from_slice(&fs::read(path).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let yhw =
        fs::read(vectors_dir().join(str_field(&v, &["yhw_file"])?)).map_err(|e| e.to_string())?;

    // Text → blob → parts.
    let text = str_field(&v, &["yhw_base64"])?;
    ensure!(yhw == format!("{text}\n").as_bytes(), "the .yhw file is not yhw_base64 + newline");
    let blob = wrap::decode_text(&yhw).map_err(|e| format!("decode_text: {e}"))?;
    ensure!(blob.len() as u64 == u64_field(&v, &["blob_len"])?, "blob_len");
    let parts = WrappedBlob::parse(&blob).map_err(|e| format!("parse: {e}"))?;
    ensure!(parts.nonce.to_vec() == hex_field(&v, &["nonce_hex"])?, "nonce");
    ensure!(parts.ciphertext == hex_field(&v, &["ciphertext_hex"])?, "ciphertext");
    ensure!(parts.tag.to_vec() == hex_field(&v, &["tag_hex"])?, "tag");

    // Unwrap.
    let key = WrapKey::new(&hex_field(&v, &["wrap_key", "hex"])?).map_err(|e| e.to_string())?;
    ensure!(
        u64::from(key.algorithm().0) == u64_field(&v, &["wrap_key", "algorithm_id"])?,
        "wrap key algorithm"
    );
    let object = wrap::unwrap(&key, &blob).map_err(|e| format!("unwrap: {e}"))?;
    let h = &object.header;

    // Header against the object description.
    let o = &v["object"];
    ensure!(h.wrap_algorithm == key.algorithm(), "header wrap algorithm {}", h.wrap_algorithm);
    ensure!(u64::from(h.id) == hex_number(o, &["id"])?, "id {:#06x}", h.id);
    ensure!(u64::from(h.object_type.0) == u64_field(o, &["type_id"])?, "type {}", h.object_type);
    ensure!(h.object_type.to_string() == str_field(o, &["type"])?, "type name {}", h.object_type);
    ensure!(
        u64::from(h.algorithm.0) == u64_field(o, &["algorithm_id"])?,
        "algorithm {}",
        h.algorithm
    );
    ensure!(h.algorithm.to_string() == str_field(o, &["algorithm"])?, "algorithm name");
    ensure!(h.label.0.to_vec() == hex_field(o, &["label_hex_padded40"])?, "label bytes");
    ensure!(h.label.0.len() == LABEL_LEN, "label length");
    ensure!(h.label.to_string() == str_field(o, &["label"])?, "label text {}", h.label);
    ensure!(u64::from(h.domains.0) == hex_number(o, &["domains"])?, "domains {}", h.domains);
    ensure!(
        h.capabilities.0 == hex_number(o, &["capabilities"])?,
        "capabilities {}",
        h.capabilities
    );
    ensure!(u64::from(h.sequence) == u64_field(o, &["sequence"])?, "sequence");
    ensure!(u64::from(h.origin.0) == hex_number(o, &["origin"])?, "origin {}", h.origin);
    ensure!(u64::from(h.length) == u64_field(&v, &["body_len"])?, "length field");
    ensure!(h.to_bytes() == hex_field(&v, &["header_hex"])?, "header bytes");
    match o.get("delegated_capabilities").and_then(Value::as_str) {
        Some(_) => ensure!(
            object.body.delegated_capabilities()
                == Some(Capabilities(hex_number(o, &["delegated_capabilities"])?)),
            "delegated capabilities"
        ),
        None => ensure!(object.body.delegated_capabilities().is_none(), "unexpected delegated"),
    }

    // Body bytes, then the typed body against the inputs.
    let body_hex = hex_field(&v, &["body_hex"])?;
    ensure!(object.body.to_bytes().as_slice() == body_hex.as_slice(), "body bytes");
    check_typed_body(&v, &object.body, h.object_type, h.algorithm, &body_hex)?;

    // Wrap again with the same nonce: the identical blob and file text.
    let again = wrap::wrap(&key, parts.nonce, &object).map_err(|e| format!("wrap: {e}"))?;
    ensure!(again == blob, "re-wrapped blob differs");
    ensure!(wrap::encode_text(&again) == text, "re-wrapped text differs");
    Ok(())
}

fn check_typed_body(
    v: &Value,
    body: &Body,
    object_type: ObjectType,
    algorithm: Algorithm,
    body_hex: &[u8],
) -> Result<(), String> {
    let input = &v["input"];
    match body {
        Body::AuthenticationKey { delegated, .. } => {
            let password = str_field(input, &["password_used"])?;
            let derived = Body::authentication_key_from_password(*delegated, password.as_bytes());
            ensure!(&derived == body, "auth key is not derived from {password:?}");
            ensure!(body.public_key().is_none(), "auth key has a public key");
        }
        Body::WrapKey { key, .. } => {
            ensure!(key.expose_secret() == hex_field(input, &["hex"])?, "wrap key bytes");
            ensure!(Some(key.len()) == algorithm.wrap_key_size(), "wrap key size");
        }
        Body::Hmac { key, .. } => {
            let k = hex_field(input, &["hex"])?;
            ensure!(key.expose_secret() == k.as_slice(), "HMAC key");
            let built = Body::hmac(algorithm, &k).map_err(|e| e.to_string())?;
            ensure!(built.to_bytes().as_slice() == body_hex, "Body::hmac differs");
        }
        Body::Ec { d, x, y } => {
            let size = algorithm.ec_field_size().ok_or("EC body for a non-EC algorithm")?;
            let der = pem_der(str_field(input, &["pem"])?);
            ensure!(contains(&der, d.expose_secret()), "d is not in the PEM");
            let public = body.public_key().ok_or("no EC public key")?;
            ensure!(public == body_hex[size..], "public_key() is not the body's tail");
            ensure!(public == [x.as_slice(), y.as_slice()].concat(), "X || Y");
            // The PKCS#8 key ends with the uncompressed point 04 || X || Y.
            ensure!(der.ends_with(&public), "public key is not the PEM's point");
            if algorithm == Algorithm::ECP256 {
                let built = Body::ec_from_private(algorithm, d.expose_secret())
                    .map_err(|e| e.to_string())?;
                ensure!(&built == body, "Body::ec_from_private differs");
            }
        }
        Body::Ed25519 { seed, public, .. } => {
            ensure!(seed.is_none(), "yubihsm-wrap does not store the seed");
            let der = pem_der(str_field(input, &["pem"])?);
            let seed: [u8; 32] = der[der.len() - 32..].try_into().unwrap();
            let built = Body::ed25519_from_seed(&SecretArray::new(seed), *public);
            ensure!(&built == body, "Body::ed25519_from_seed differs");
            ensure!(body.public_key() == Some(body_hex[64..].to_vec()), "ed25519 public key");
        }
        Body::Rsa { p, q, dp, dq, qinv, n } => {
            let size = algorithm.rsa_modulus_size().ok_or("RSA body for a non-RSA algorithm")?;
            ensure!(n.len() == size, "modulus size");
            let der = pem_der(str_field(input, &["pem"])?);
            for (name, part) in
                [("n", n.as_slice()), ("p", p.expose_secret()), ("q", q.expose_secret())]
                    .into_iter()
                    .chain([("dp", dp.expose_secret()), ("dq", dq.expose_secret())])
                    .chain([("qinv", qinv.expose_secret())])
            {
                // DER integers drop leading zeros.
                let start = part.iter().position(|&b| b != 0).unwrap_or(part.len());
                ensure!(contains(&der, &part[start..]), "RSA {name} is not in the PEM");
            }
            ensure!(body.public_key() == Some(body_hex[5 * size / 2..].to_vec()), "RSA modulus");
        }
        Body::Raw(raw) => {
            ensure!(
                matches!(object_type, ObjectType::OPAQUE | ObjectType::SYMMETRIC_KEY),
                "unexpected raw body for {object_type}"
            );
            ensure!(raw.expose_secret() == hex_field(input, &["hex"])?, "raw body");
            ensure!(body.public_key().is_none(), "raw body has a public key");
        }
        other => return Err(format!("unexpected body kind {other:?}")),
    }
    Ok(())
}

#[test]
fn every_wrapped_vector_round_trips() {
    let files = vector_files();
    assert!(files.len() >= 13, "only {} vectors found in {:?}", files.len(), vectors_dir());
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| {
            check_vector(f)
                .err()
                .map(|e| format!("{}: {e}", f.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    assert!(failures.is_empty(), "failing vectors:\n{}", failures.join("\n"));
}

#[test]
fn vectors_cover_every_kind_of_body() {
    let mut kinds = std::collections::BTreeSet::new();
    for f in vector_files() {
        let v: Value = serde_json::from_slice(&fs::read(&f).unwrap()).unwrap();
        let blob = wrap::decode_text(
            &fs::read(vectors_dir().join(v["yhw_file"].as_str().unwrap())).unwrap(),
        )
        .unwrap();
        let key =
            WrapKey::new(&hex::decode(v["wrap_key"]["hex"].as_str().unwrap()).unwrap()).unwrap();
        let kind = match wrap::unwrap(&key, &blob).unwrap().body {
            Body::AuthenticationKey { .. } => "auth",
            Body::WrapKey { .. } => "wrap",
            Body::Ec { .. } => "ec",
            Body::Ed25519 { .. } => "ed25519",
            Body::Rsa { .. } => "rsa",
            Body::Hmac { .. } => "hmac",
            Body::Raw(_) => "raw",
            _ => "other",
        };
        kinds.insert(kind);
    }
    let all: std::collections::BTreeSet<_> =
        ["auth", "wrap", "ec", "ed25519", "rsa", "hmac", "raw"].into_iter().collect();
    assert_eq!(kinds, all);
}

#[test]
fn vectors_do_not_unwrap_under_another_vectors_key() {
    // The AES-256 vectors under the AES-128 key (same bytes, shorter): never accepted.
    let k128 = WrapKey::new(&(0u8..16).collect::<Vec<_>>()).unwrap();
    let text = fs::read(vectors_dir().join("ec_p256.yhw")).unwrap();
    let blob = wrap::decode_text(&text).unwrap();
    assert_eq!(wrap::unwrap(&k128, &blob), Err(wrap::WrapError::Authentication));
}
