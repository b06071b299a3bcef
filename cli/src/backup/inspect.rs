//! `yhsm inspect`: decrypts `.yhw` files offline (docs/PROTOCOL.md §5), base64 text or raw
//! bytes, and shows how each file is encoded, its object's header and, for asymmetric
//! keys, its public key. Private material is never shown.

use std::fmt;
use std::path::Path;

use yhsm_proto::wrap::{self, Encoding, WrapKey};

use crate::backup::object::Summary;
use crate::util::files::{self, ReadError};
use crate::util::json::Value;
use crate::util::text::{self, Fields};

/// One file's result: its name as given, how it holds its blob (when it holds one), and
/// its summary or why it failed.
#[derive(Debug)]
pub struct Inspected {
    pub file: String,
    pub encoding: Option<Encoding>,
    pub result: Result<Summary, InspectError>,
}

/// Why a file was not inspected.
#[derive(Debug)]
pub enum InspectError {
    Read(ReadError),
    /// Not a wrapped object, or not under the key.
    Unwrap(wrap::WrapError),
}

impl fmt::Display for InspectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(e) => write!(f, "{e}"),
            Self::Unwrap(e) => write!(f, "{e}"),
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

/// Reads and decrypts one file.
pub fn inspect_file(key: &WrapKey, path: &Path) -> Inspected {
    let file = path.display().to_string();
    match files::read_file_plain(path) {
        Err(e) => Inspected { file, encoding: None, result: Err(InspectError::Read(e)) },
        Ok(bytes) => {
            let (encoding, result) = inspect_bytes(key, &bytes);
            Inspected { file, encoding, result: result.map_err(InspectError::Unwrap) }
        }
    }
}

/// One block per inspected object (failed files are left to the caller), separated by
/// blank lines.
pub fn render_human(results: &[Inspected]) -> String {
    let blocks: Vec<String> =
        results.iter().filter_map(|r| r.result.as_ref().ok().map(|s| render_block(r, s))).collect();
    blocks.join("\n")
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
/// `ok`, `error`, `encoding` (`base64` or `binary`), `wrap_algorithm`, `id`, `type`,
/// `algorithm`, `label`, `domains`, `capabilities`, `delegated_capabilities`, `sequence`,
/// `origin`, `length`, `public_key`. A failed file has `ok: false`, the reason in `error`
/// and null elsewhere, but for `encoding` when the file decoded and only decryption
/// failed.
pub fn to_json(results: &[Inspected]) -> Value {
    Value::Array(results.iter().map(json_object).collect())
}

fn json_object(r: &Inspected) -> Value {
    let s = r.result.as_ref().ok();
    let h = s.map(|s| &s.header);
    Value::Object(vec![
        ("file", Value::string(r.file.as_str())),
        ("ok", Value::Bool(s.is_some())),
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
