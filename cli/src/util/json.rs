//! A tiny JSON writer (RFC 8259) for `--json` output: null, booleans, unsigned integers,
//! strings, arrays and objects with keys in the order given. Writing is all the tool needs,
//! so it is a few dozen lines instead of serde.
//!
//! Strings are zeroized on drop: `shares combine --reveal` puts a key in one.

use zeroize::{Zeroize, Zeroizing};

/// A JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(u64),
    String(String),
    Array(Vec<Value>),
    /// Members in output order.
    Object(Vec<(&'static str, Value)>),
}

impl Drop for Value {
    fn drop(&mut self) {
        if let Self::String(s) = self {
            s.zeroize();
        }
    }
}

impl Value {
    /// A string value.
    pub fn string(s: impl Into<String>) -> Self {
        Self::String(s.into())
    }

    /// A string, or null.
    pub fn string_or_null(s: Option<impl Into<String>>) -> Self {
        s.map_or(Self::Null, |s| Self::String(s.into()))
    }

    /// A number, or null.
    pub fn number_or_null(n: Option<u64>) -> Self {
        n.map_or(Self::Null, Self::Number)
    }

    /// Pretty-printed with two-space indentation and a trailing newline.
    pub fn to_pretty(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(1024));
        write_value(&mut out, self, Some(0));
        out.push('\n');
        out
    }

    /// On one line without spaces or a trailing newline (a JSON Lines record).
    pub fn to_compact(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(256));
        write_value(&mut out, self, None);
        out
    }
}

fn indent(out: &mut String, level: Option<usize>) {
    for _ in 0..level.unwrap_or(0) {
        out.push_str("  ");
    }
}

/// Writes `value`; `level` is the indentation depth when pretty-printing, `None` for the
/// compact form.
fn write_value(out: &mut String, value: &Value, level: Option<usize>) {
    let inner = level.map(|l| l + 1);
    let (open_sep, sep, close_sep) =
        if level.is_some() { ("\n", ",\n", "\n") } else { ("", ",", "") };
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push('[');
            out.push_str(open_sep);
            for (i, item) in items.iter().enumerate() {
                indent(out, inner);
                write_value(out, item, inner);
                out.push_str(if i + 1 < items.len() { sep } else { close_sep });
            }
            indent(out, level);
            out.push(']');
        }
        Value::Object(members) if members.is_empty() => out.push_str("{}"),
        Value::Object(members) => {
            out.push('{');
            out.push_str(open_sep);
            for (i, (key, item)) in members.iter().enumerate() {
                indent(out, inner);
                write_string(out, key);
                out.push_str(if level.is_some() { ": " } else { ":" });
                write_value(out, item, inner);
                out.push_str(if i + 1 < members.len() { sep } else { close_sep });
            }
            indent(out, level);
            out.push('}');
        }
    }
}

/// A string literal: `"` and `\` escaped, control characters (C0, DEL and C1, which a
/// terminal may act on) as `\n`-style or `\u00XX` escapes, everything else as UTF-8.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if c.is_control() => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_kind_of_value() {
        let v = Value::Array(vec![
            Value::Object(vec![
                ("a", Value::Null),
                ("b", Value::Bool(true)),
                ("c", Value::Number(u64::MAX)),
                ("d", Value::string("x")),
                ("e", Value::Array(vec![])),
                ("f", Value::Object(vec![])),
            ]),
            Value::Bool(false),
        ]);
        assert_eq!(
            &*v.to_pretty(),
            "[\n  {\n    \"a\": null,\n    \"b\": true,\n    \"c\": 18446744073709551615,\n    \
             \"d\": \"x\",\n    \"e\": [],\n    \"f\": {}\n  },\n  false\n]\n"
        );
    }

    #[test]
    fn escapes_strings_so_serde_json_reads_them_back() {
        let mut every_char: String = (0u32..0x300).filter_map(char::from_u32).collect();
        every_char.push_str("\u{2028}\u{2029}\u{fffd}\u{1f600}\"\\/");
        for s in [every_char.as_str(), "", "label\u{1b}[31m", "é\tè\r\n"] {
            let text = Value::Object(vec![("k", Value::string(s))]).to_pretty();
            let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(parsed["k"].as_str(), Some(s), "{s:?}");
            assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        }
    }

    #[test]
    fn writes_compact_lines_serde_json_reads_back() {
        let v = Value::Object(vec![
            ("a", Value::Array(vec![Value::Number(1), Value::Null, Value::Array(vec![])])),
            ("b", Value::Object(vec![("c", Value::string("x\ny"))])),
            ("d", Value::Object(vec![])),
        ]);
        let text = v.to_compact();
        assert_eq!(&*text, r#"{"a":[1,null,[]],"b":{"c":"x\ny"},"d":{}}"#);
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["b"]["c"], "x\ny");
    }

    #[test]
    fn writes_numbers_serde_json_reads_exactly() {
        for n in [0, 1, 65535, 1 << 53, u64::MAX] {
            let text = Value::Number(n).to_pretty();
            assert_eq!(serde_json::from_str::<u64>(&text).unwrap(), n);
        }
    }
}
