//! `yhsm inspect`: decrypts `.yhw` files offline (docs/PROTOCOL.md §5), base64 text or raw
//! bytes, and shows how each file is encoded, its object's header and, for asymmetric
//! keys, its public key. Private material is never shown. A wrap-key description
//! ([`description`]) among the files (`yhsm inspect backup/*`) is shown as what it is
//! rather than failing as a `.yhw` file.

use std::fmt;
use std::path::Path;

use yhsm_proto::wrap::{self, Encoding, WrapKey};

use crate::backup::description::{self, Description};
use crate::backup::object::Summary;
use crate::util::files::{self, ReadError};
use crate::util::json::Value;
use crate::util::text::{self, Fields};

/// One file's result: its name as given, how it holds its blob (when it holds one), and
/// what it holds or why it failed.
#[derive(Debug)]
pub struct Inspected {
    pub file: String,
    pub encoding: Option<Encoding>,
    pub result: Result<Found, InspectError>,
}

/// What a file holds.
#[derive(Debug)]
pub enum Found {
    /// A wrapped object, decrypted.
    Object(Summary),
    /// A wrap-key description.
    Description(Description),
}

/// Why a file was not inspected.
#[derive(Debug)]
pub enum InspectError {
    Read(ReadError),
    /// Not a wrapped object, or not under the key.
    Unwrap(wrap::WrapError),
    /// A wrap-key description that does not parse: the line and the problem.
    Description(usize, String),
}

impl fmt::Display for InspectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(e) => write!(f, "{e}"),
            Self::Unwrap(e) => write!(f, "{e}"),
            Self::Description(line, problem) => {
                write!(f, "wrap-key description, line {line}: {problem}")
            }
        }
    }
}

impl std::error::Error for InspectError {}

/// Decrypts the bytes of a `.yhw` file (base64 text or raw bytes) under `key`: how the
/// file is encoded, when it decodes, and the summary.
pub fn inspect_bytes(
    key: &WrapKey,
    bytes: &[u8],
) -> (Option<Encoding>, Result<Summary, wrap::WrapError>) {
    match wrap::decode_file(bytes) {
        Err(e) => (None, Err(e)),
        Ok((blob, encoding)) => {
            (Some(encoding), wrap::unwrap(key, &blob).map(|object| Summary::of(&object)))
        }
    }
}

/// Reads and decrypts one file, or reads it as a wrap-key description when it is one.
pub fn inspect_file(key: &WrapKey, path: &Path) -> Inspected {
    let file = path.display().to_string();
    match files::read_file_plain(path) {
        Err(e) => Inspected { file, encoding: None, result: Err(InspectError::Read(e)) },
        Ok(bytes) if description::looks_like(&bytes) => {
            let result = Description::parse(&bytes)
                .map(Found::Description)
                .map_err(|(line, problem)| InspectError::Description(line, problem));
            Inspected { file, encoding: None, result }
        }
        Ok(bytes) => {
            let (encoding, result) = inspect_bytes(key, &bytes);
            let result = result.map(Found::Object).map_err(InspectError::Unwrap);
            Inspected { file, encoding, result }
        }
    }
}

/// One block per inspected file (failed files are left to the caller), separated by
/// blank lines.
pub fn render_human(results: &[Inspected]) -> String {
    let blocks: Vec<String> = results
        .iter()
        .filter_map(|r| match r.result.as_ref().ok()? {
            Found::Object(s) => Some(render_block(r, s)),
            Found::Description(d) => Some(render_description(&r.file, d)),
        })
        .collect();
    blocks.join("\n")
}

fn render_description(file: &str, d: &Description) -> String {
    let mut f = Fields::new();
    f.add("what", "wrap-key description (not a wrapped object; not secret)")
        .add("id", format!("0x{:04x}", d.id))
        .add("algorithm", d.algorithm.to_string())
        .add("label", description::quote_label(&d.label))
        .add("domains", text::domain_list(d.domains))
        .add("capabilities", d.capabilities.to_string())
        .add("delegated", d.delegated.to_string());
    if let Some(kcv) = d.kcv {
        f.add("key check value", hex::encode(kcv));
    }
    if let Some(s) = &d.shares {
        let checks: Vec<String> =
            s.checks.iter().map(|(i, c)| format!("{i} {}", hex::encode(c))).collect();
        f.add("shares", format!("{} of {}", s.threshold, s.count));
        f.add("share checks", checks.join(", "));
    }
    format!("{}:\n{}", text::printable(file), f.render())
}

fn render_block(r: &Inspected, s: &Summary) -> String {
    let h = &s.header;
    let mut f = Fields::new();
    f.add("encoding", r.encoding.unwrap_or_default().to_string())
        .add("wrap algorithm", h.wrap_algorithm.to_string())
        .add("id", format!("0x{:04x}", h.id))
        .add("type", h.object_type.to_string())
        .add("algorithm", h.algorithm.to_string())
        .add("label", text::quoted(&h.label.to_string_lossy()))
        .add("domains", text::domain_list(h.domains))
        .add("capabilities", h.capabilities.to_string());
    if let Some(d) = s.delegated {
        f.add("delegated", d.to_string());
    }
    f.add("sequence", h.sequence.to_string())
        .add("origin", h.origin.to_string())
        .add("length", h.length.to_string());
    if let Some(pk) = &s.public_key {
        f.add("public key", String::new());
        let column = f.value_column();
        f.set_last(text::hex_lines(pk, 64, column));
    }
    format!("{}:\n{}", text::printable(&r.file), f.render())
}

/// The JSON array of `inspect --json`: one object per file with exactly the keys `file`,
/// `ok`, `kind`, `error`, `encoding` (`base64` or `binary`), `wrap_algorithm`, `id`,
/// `type`, `algorithm`, `label`, `domains`, `capabilities`, `delegated_capabilities`,
/// `sequence`, `origin`, `length`, `public_key`. A failed file has `ok: false`, the reason
/// in `error` and null elsewhere, but for `encoding` when the file decoded and only
/// decryption failed. `kind` is `wrapped-object`, or `wrap-key-description` for a
/// description (its wrap key's attributes, null where a description has none).
pub fn to_json(results: &[Inspected]) -> Value {
    Value::Array(results.iter().map(json_object).collect())
}

fn json_object(r: &Inspected) -> Value {
    if let Ok(Found::Description(d)) = &r.result {
        return description_json(&r.file, d);
    }
    let s = match &r.result {
        Ok(Found::Object(s)) => Some(s),
        _ => None,
    };
    let h = s.map(|s| &s.header);
    Value::Object(vec![
        ("file", Value::string(r.file.as_str())),
        ("ok", Value::Bool(s.is_some())),
        ("kind", Value::string_or_null(s.map(|_| "wrapped-object"))),
        ("error", Value::string_or_null(r.result.as_ref().err().map(ToString::to_string))),
        ("encoding", Value::string_or_null(r.encoding.map(Encoding::name))),
        ("wrap_algorithm", Value::string_or_null(h.map(|h| h.wrap_algorithm.to_string()))),
        ("id", Value::number_or_null(h.map(|h| u64::from(h.id)))),
        ("type", Value::string_or_null(h.map(|h| h.object_type.to_string()))),
        ("algorithm", Value::string_or_null(h.map(|h| h.algorithm.to_string()))),
        ("label", Value::string_or_null(h.map(|h| h.label.to_string_lossy()))),
        ("domains", Value::number_or_null(h.map(|h| u64::from(h.domains.0)))),
        ("capabilities", Value::string_or_null(h.map(|h| text::capabilities_hex(h.capabilities)))),
        (
            "delegated_capabilities",
            Value::string_or_null(s.and_then(|s| s.delegated).map(text::capabilities_hex)),
        ),
        ("sequence", Value::number_or_null(h.map(|h| u64::from(h.sequence)))),
        ("origin", Value::number_or_null(h.map(|h| u64::from(h.origin.0)))),
        ("length", Value::number_or_null(h.map(|h| u64::from(h.length)))),
        (
            "public_key",
            Value::string_or_null(s.and_then(|s| s.public_key.as_deref()).map(hex::encode)),
        ),
    ])
}

fn description_json(file: &str, d: &Description) -> Value {
    Value::Object(vec![
        ("file", Value::string(file)),
        ("ok", Value::Bool(true)),
        ("kind", Value::string("wrap-key-description")),
        ("error", Value::Null),
        ("encoding", Value::Null),
        ("wrap_algorithm", Value::Null),
        ("id", Value::Number(u64::from(d.id))),
        ("type", Value::string("wrap-key")),
        ("algorithm", Value::string(d.algorithm.to_string())),
        ("label", Value::string(d.label.to_string_lossy())),
        ("domains", Value::Number(u64::from(d.domains.0))),
        ("capabilities", Value::string(text::capabilities_hex(d.capabilities))),
        ("delegated_capabilities", Value::string(text::capabilities_hex(d.delegated))),
        ("sequence", Value::Null),
        ("origin", Value::Null),
        ("length", Value::Null),
        ("public_key", Value::Null),
    ])
}
