//! How a `.yhw` file holds its blob (docs/PROTOCOL.md §5.1): as base64 text, which
//! yubihsm-setup, yubihsm-wrap and yubihsm-shell write, or as the raw bytes yubihsm-manager
//! writes from its backup, export and script flows. Every reader of `.yhw` files goes
//! through [`decode_file`], every writer through [`encode_file`].
//!
//! Text is told from raw bytes by its bytes alone: a file of printable ASCII and ASCII
//! whitespace (after an optional UTF-8 byte order mark) is text, anything else raw bytes.
//! A real blob (a random nonce, ciphertext and tag, at least 88 bytes) is all printable
//! ASCII with a probability below 2^-119, so the rule never misreads a blob; and text
//! with a typo stays text, so its error says what is wrong and where.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{MAX_PLAINTEXT_LEN, MIN_BLOB_LEN, NONCE_LEN, TAG_LEN, WrapError};

/// The UTF-8 byte order mark some editors put at the start of a text file.
pub const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// The line widths base64 text is wrapped at: 64 (PEM, OpenSSL) and 76 (MIME, `base64`).
pub const LINE_WIDTHS: [usize; 2] = [64, 76];

/// The longest raw blob: a nonce, the longest CCM plaintext and a tag.
pub const MAX_BLOB_LEN: usize = NONCE_LEN + MAX_PLAINTEXT_LEN + TAG_LEN;

/// How a `.yhw` file holds its blob.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Standard base64 with padding, as yubihsm-setup and yubihsm-wrap write it.
    #[default]
    Base64,
    /// The blob's bytes as they are, as yubihsm-manager writes them.
    Binary,
}

impl Encoding {
    /// `base64` or `binary`, as options and reports spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Base64 => "base64",
            Self::Binary => "binary",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Accepts `base64` or `binary` (ASCII case-insensitive).
impl FromStr for Encoding {
    type Err = crate::object::ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            s if s.eq_ignore_ascii_case("base64") => Ok(Self::Base64),
            s if s.eq_ignore_ascii_case("binary") => Ok(Self::Binary),
            _ => Err(crate::object::ParseError { what: "encoding" }),
        }
    }
}

/// Whether `bytes` are text: printable ASCII and ASCII whitespace, after an optional
/// UTF-8 byte order mark.
pub fn is_text(bytes: &[u8]) -> bool {
    let rest = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    rest.iter().all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace())
}

/// Decodes the bytes of a `.yhw` file: text with [`decode_text`], anything else taken as
/// the raw blob when its length is one a blob can have (whether it is one, decryption
/// decides).
pub fn decode_file(bytes: &[u8]) -> Result<(Vec<u8>, Encoding), WrapError> {
    if is_text(bytes) {
        return decode_text(bytes).map(|blob| (blob, Encoding::Base64));
    }
    const WHAT: &str = "raw wrapped blob (the file is not base64 text)";
    if bytes.len() < MIN_BLOB_LEN {
        return Err(WrapError::TooShort { what: WHAT, len: bytes.len(), min: MIN_BLOB_LEN });
    }
    if bytes.len() > MAX_BLOB_LEN {
        return Err(WrapError::TooLong { what: WHAT, len: bytes.len(), max: MAX_BLOB_LEN });
    }
    Ok((bytes.to_vec(), Encoding::Binary))
}

/// The bytes of a `.yhw` file holding `blob`: base64 without a newline (as yubihsm-setup's
/// `dump` writes it), or the blob itself.
pub fn encode_file(blob: &[u8], encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Base64 => encode_text(blob).into_bytes(),
        Encoding::Binary => blob.to_vec(),
    }
}

/// Decodes the text of a `.yhw` file: standard base64 with padding, on one line or
/// wrapped at 64 or 76 characters per line (LF or CRLF). A UTF-8 byte order mark and ASCII
/// whitespace around the text (a trailing newline, indentation) are accepted; anything
/// else — lines of another width, blank lines, other whitespace, the URL-safe alphabet,
/// missing padding, non-ASCII — is an error that says what is wrong and where (the offset
/// counts every byte of `text`).
pub fn decode_text(text: &[u8]) -> Result<Vec<u8>, WrapError> {
    let from = if text.starts_with(UTF8_BOM) { UTF8_BOM.len() } else { 0 };
    let rest = text.get(from..).unwrap_or_default();
    let start = from + rest.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(rest.len());
    let end = text.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |i| i + 1);
    let body = text
        .get(start..end)
        .filter(|b| !b.is_empty())
        .ok_or(WrapError::NotBase64 { offset: None, reason: "the text is empty" })?;
    let lines = Lines::split(body, start)?;
    let mut joined = Vec::with_capacity(body.len());
    for (at, line) in &lines.lines {
        check_characters(line, *at)?;
        joined.extend_from_slice(line);
    }
    if joined.len() % 4 != 0 {
        return Err(WrapError::NotBase64 {
            offset: None,
            reason: "length is not a multiple of 4 (missing '=' padding, or truncated)",
        });
    }
    STANDARD.decode(&joined).map_err(|e| match e {
        base64::DecodeError::InvalidByte(at, b'=') => {
            WrapError::NotBase64 { offset: Some(lines.offset(at)), reason: "misplaced '=' padding" }
        }
        base64::DecodeError::InvalidByte(at, _) => {
            WrapError::NotBase64 { offset: Some(lines.offset(at)), reason: "invalid character" }
        }
        base64::DecodeError::InvalidLastSymbol { offset, .. } => WrapError::NotBase64 {
            offset: Some(lines.offset(offset)),
            reason: "last character has stray low bits (corrupted or truncated)",
        },
        base64::DecodeError::InvalidLength(_) => {
            WrapError::NotBase64 { offset: None, reason: "invalid length (truncated?)" }
        }
        base64::DecodeError::InvalidPadding => {
            WrapError::NotBase64 { offset: None, reason: "invalid '=' padding" }
        }
    })
}

/// Encodes a blob as the text of a `.yhw` file: standard base64 with padding, on one line
/// and without a newline, as yubihsm-setup writes it (yubihsm-wrap adds a newline).
pub fn encode_text(blob: &[u8]) -> String {
    STANDARD.encode(blob)
}

/// The lines of a text, each with its offset in the file.
struct Lines<'a> {
    lines: Vec<(usize, &'a [u8])>,
}

impl<'a> Lines<'a> {
    /// Splits `body` (at offset `start` of the file; no whitespace at either end) into
    /// lines of one of [`LINE_WIDTHS`] but the last, which may be shorter. One line of any
    /// length is the common case.
    fn split(body: &'a [u8], start: usize) -> Result<Self, WrapError> {
        let mut lines = Vec::new();
        let mut at = 0;
        for raw in body.split(|&b| b == b'\n') {
            let line = raw.strip_suffix(b"\r").unwrap_or(raw);
            lines.push((start + at, line));
            at += raw.len() + 1;
        }
        let [first, middle @ .., last] = lines.as_slice() else { return Ok(Self { lines }) };
        let width = first.1.len();
        let wrong = if !LINE_WIDTHS.contains(&width) {
            Some(first)
        } else if let Some(line) = middle.iter().find(|(_, l)| l.len() != width) {
            Some(line)
        } else if last.1.len() > width {
            Some(middle.last().unwrap_or(first))
        } else {
            None
        };
        match wrong {
            // The offset of the line break after the line at fault.
            Some((at, line)) => Err(WrapError::NotBase64 {
                offset: Some(at + line.len()),
                reason: "line break inside the text (base64 is read on one line, or wrapped \
                         at 64 or 76 characters per line)",
            }),
            None => Ok(Self { lines }),
        }
    }

    /// The offset in the file of byte `at` of the joined lines.
    fn offset(&self, at: usize) -> usize {
        let mut left = at;
        for (start, line) in &self.lines {
            if left < line.len() {
                return start + left;
            }
            left -= line.len();
        }
        self.lines.last().map_or(at, |(start, line)| start + line.len())
    }
}

/// Every byte of `line` (at offset `at` of the file) is of the base64 alphabet.
fn check_characters(line: &[u8], at: usize) -> Result<(), WrapError> {
    for (i, &b) in line.iter().enumerate() {
        let reason = match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' | b'=' => continue,
            b'-' | b'_' => "URL-safe base64 character ('-' or '_' instead of '+' or '/')",
            _ if b.is_ascii_whitespace() => "whitespace inside the text",
            _ if !b.is_ascii() => "non-ASCII byte",
            _ => "invalid character",
        };
        return Err(WrapError::NotBase64 { offset: Some(at + i), reason });
    }
    Ok(())
}
