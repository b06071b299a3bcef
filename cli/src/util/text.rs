//! Small formatting helpers shared by the human-readable outputs.

use std::fmt::Write as _;

use yhsm_proto::{Capabilities, Domains};
use zeroize::Zeroize;

/// Domains as yubihsm-shell lists them, `1:2:3`, every number spelled out; `none` when empty.
pub fn domain_list(domains: Domains) -> String {
    let list: Vec<String> = domains.iter().map(|d| d.to_string()).collect();
    if list.is_empty() { "none".to_owned() } else { list.join(":") }
}

/// The text of a file without the UTF-8 byte order mark some editors put first (Windows
/// Notepad): every text file yhsm reads (shares, passwords, `.yhw` text) goes through this
/// or, for `.yhw` files, `yhsm_proto::wrap::decode_file`, which does the same.
pub fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(yhsm_proto::wrap::UTF8_BOM).unwrap_or(bytes)
}

/// Capabilities as JSON writes them: `0x` and 16 lowercase hex digits.
pub fn capabilities_hex(c: Capabilities) -> String {
    format!("0x{:016x}", c.0)
}

/// A label or file name made safe for a terminal: quoted, with control characters and
/// quotes escaped as Rust does (`\n`, `\u{1b}`).
pub fn quoted(s: &str) -> String {
    format!("{s:?}")
}

/// `s` with control characters escaped (`\u{1b}`), so that a file name cannot drive the
/// terminal.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { c.escape_debug().to_string() } else { c.to_string() })
        .collect()
}

/// `bytes` as lowercase hex, in lines of `width` characters, continuation lines indented
/// by `indent` spaces.
pub fn hex_lines(bytes: &[u8], width: usize, indent: usize) -> String {
    let hex = hex::encode(bytes);
    let mut out = String::with_capacity(hex.len() + hex.len() / width.max(1) * (indent + 1));
    for (i, chunk) in hex.as_bytes().chunks(width.max(2)).enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
        }
        // Hex digits are ASCII, so any chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
    }
    out
}

/// Lines `name: value`, names padded so the values line up.
#[derive(Debug)]
pub struct Fields {
    indent: usize,
    rows: Vec<(&'static str, String)>,
}

/// The values may hold a revealed key.
impl Drop for Fields {
    fn drop(&mut self) {
        for (_, value) in &mut self.rows {
            value.zeroize();
        }
    }
}

impl Default for Fields {
    fn default() -> Self {
        Self::new()
    }
}

impl Fields {
    /// Rows indented by two spaces, under a heading.
    pub fn new() -> Self {
        Self { indent: 2, rows: Vec::new() }
    }

    /// Rows without indentation.
    pub fn flat() -> Self {
        Self { indent: 0, rows: Vec::new() }
    }

    pub fn add(&mut self, name: &'static str, value: impl Into<String>) -> &mut Self {
        self.rows.push((name, value.into()));
        self
    }

    /// Replaces the value of the last row.
    pub fn set_last(&mut self, value: String) {
        if let Some(row) = self.rows.last_mut() {
            row.1 = value;
        }
    }

    /// The column at which values start, for continuation lines.
    pub fn value_column(&self) -> usize {
        self.indent + self.rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0) + 1 + 2
    }

    pub fn render(&self) -> String {
        let width = self.rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (name, value) in &self.rows {
            let pad = " ".repeat(self.indent);
            let _ = writeln!(out, "{pad}{:<w$}  {value}", format!("{name}:"), w = width + 1);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_domains_one_by_one() {
        assert_eq!(domain_list(Domains(0b101)), "1:3");
        assert_eq!(domain_list(Domains::ALL), "1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16");
        assert_eq!(domain_list(Domains::NONE), "none");
    }

    #[test]
    fn quotes_control_characters() {
        assert_eq!(quoted("a\u{1b}[31mb"), "\"a\\u{1b}[31mb\"");
        assert_eq!(quoted("ed25519 key éè"), "\"ed25519 key éè\"");
    }

    #[test]
    fn wraps_hex() {
        assert_eq!(hex_lines(&[0xab; 5], 4, 2), "abab\n  abab\n  ab");
        assert_eq!(hex_lines(&[], 4, 2), "");
    }
}
