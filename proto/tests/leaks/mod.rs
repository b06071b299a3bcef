//! Checks shared by the `secrets` tests of every crate (`#[path]`-included by the others):
//! does a text show a secret, and do the sources keep secrets in zeroizing containers and
//! compare check values in constant time. See SECURITY.md "How it is checked".

#![allow(dead_code, reason = "each crate's secrets test uses a different part")]
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail loudly on purpose"
)]

use std::fmt::Debug;
use std::path::{Path, PathBuf};

/// `n` marker bytes: every 4-byte run is distinct and unlikely to occur by chance.
pub fn marker(seed: u8, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| seed.wrapping_add(u8::try_from(i % 256).unwrap().wrapping_mul(0x3b)) ^ 0x5a)
        .collect()
}

/// [`marker`] as an array.
pub fn marker_array<const N: usize>(seed: u8) -> [u8; N] {
    marker(seed, N).try_into().unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Fails when `text` shows any 4-byte run of `secret` in hex (either case, any
/// separators) or as decimal numbers (a byte array's `Debug`, flat or pretty), or any
/// 12-byte run of it as text.
pub fn assert_hidden(what: &str, text: &str, secret: &[u8]) {
    assert!(secret.len() >= 4, "{what}: a secret of {} bytes cannot be checked", secret.len());
    let squashed: String =
        text.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase();
    let numbers: Vec<u32> =
        text.split(|c: char| !c.is_ascii_digit()).filter_map(|s| s.parse().ok()).collect();
    for w in secret.windows(4) {
        assert!(!squashed.contains(&hex(w)), "{what} shows secret bytes in hex: {text}");
        let decimal: Vec<u32> = w.iter().map(|&b| u32::from(b)).collect();
        assert!(
            !numbers.windows(4).any(|n| n == decimal.as_slice()),
            "{what} shows secret bytes as numbers: {text}"
        );
    }
    // As text: runs of 12 characters, so that a password is caught but an opaque object
    // that happens to say "opaque" is not.
    for w in secret.windows(12.min(secret.len())) {
        if let Ok(s) = std::str::from_utf8(w) {
            assert!(!text.contains(s), "{what} shows secret text: {text}");
        }
    }
}

/// `{:?}` and `{:#?}` of `value` show none of `secrets`.
pub fn assert_debug_hides<T: Debug + ?Sized>(what: &str, value: &T, secrets: &[&[u8]]) {
    let text = format!("{value:?}\n{value:#?}");
    for secret in secrets {
        assert_hidden(what, &text, secret);
    }
}

/// Every line of shipped code under `dir`: test modules (`tests.rs`, `tests/`, anything
/// after `#[cfg(test)]`) and fuzz entry points (`fuzzing`) left out.
pub fn source_lines(dir: &Path) -> Vec<(PathBuf, usize, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "tests" && name != "fuzzing" {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") && name != "tests.rs" && name != "fuzzing.rs" {
                let text = std::fs::read_to_string(&path).unwrap();
                for (i, line) in text.lines().enumerate() {
                    if line.trim_start().starts_with("#[cfg(test)]") {
                        break;
                    }
                    out.push((path.clone(), i + 1, line.to_owned()));
                }
            }
        }
    }
    out
}

/// The text of the struct or enum `name` in `src/file`: from its header line to the
/// closing brace at the start of a line, comments removed.
pub fn item(src: &Path, file: &str, name: &str) -> String {
    let text = std::fs::read_to_string(src.join(file)).unwrap();
    let heads = ["pub struct ", "pub(crate) struct ", "struct ", "pub enum ", "pub(crate) enum "];
    let start = text
        .lines()
        .position(|l| {
            let l = l.trim_start();
            heads.iter().any(|h| {
                l.strip_prefix(h)
                    .and_then(|rest| rest.strip_prefix(name))
                    .is_some_and(|rest| rest.starts_with([' ', '<', '(']))
            })
        })
        .unwrap_or_else(|| panic!("{name} not found in {file}"));
    text.lines()
        .skip(start)
        .take_while(|l| *l != "}")
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each `(file, type, public fields)`: the type may keep raw bytes (`Vec<u8>`, `[u8; N]`,
/// `String`) only in the fields listed as public. Anything else it holds must be a
/// zeroizing container or a type made of them, so that dropping it wipes the secret.
pub fn assert_no_raw_buffers(src: &Path, holders: &[(&str, &str, &[&str])]) {
    for (file, name, public) in holders {
        let text = item(src, file, name);
        for raw in ["Vec<u8>", "[u8;", "String"] {
            for (at, _) in text.match_indices(raw) {
                if text[..at].ends_with("Zeroizing<") {
                    continue;
                }
                // The field is the name before the last `: ` on the line (`key: Vec<u8>`,
                // `names: Vec<String>`, `Variant { x: [u8; 32], .. }`).
                let line = &text[text[..at].rfind('\n').map_or(0, |i| i + 1)..at];
                let head = line.rfind(": ").map_or(line, |colon| &line[..colon]);
                let field = head
                    .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .find(|t| !t.is_empty())
                    .unwrap_or_default();
                assert!(
                    public.contains(&field),
                    "{file}: {name}.{field} is a raw `{raw}`: keep secrets in SecretArray, \
                     SecretBytes or Zeroizing, or list the field here as public"
                );
            }
        }
    }
}

/// Whether `operand` names a MAC, cryptogram, receipt, tag, digest or MAC chaining value
/// (its length aside, which is public).
pub fn is_check_value(operand: &str) -> bool {
    let operand = operand.trim().trim_start_matches(['&', '*', '(', '!']).to_lowercase();
    if operand.ends_with(".len()") || operand.ends_with("_len") || operand.ends_with("_size()") {
        return false;
    }
    ["mac", "rmac", "cryptogram", "receipt", "tag", "digest", "chain"]
        .iter()
        .any(|w| operand.split(|c: char| !c.is_alphanumeric()).any(|part| part == *w))
}

/// The operand in `token` (a word next to `==` or `!=`): without punctuation of the
/// surrounding code, such as the closing parenthesis of a call it is an argument of.
fn operand(token: &str) -> &str {
    let mut t = token.trim_matches(['{', '}', ';', ',']);
    while t.ends_with(')') && t.matches(')').count() > t.matches('(').count() {
        t = &t[..t.len() - 1];
    }
    t
}

/// No shipped line under `src` compares check values with `==` or `!=`.
pub fn assert_no_plain_check_comparisons(src: &Path) {
    for (path, n, line) in source_lines(src) {
        let code = line.split("//").next().unwrap_or_default();
        for op in ["==", "!="] {
            for (at, _) in code.match_indices(op) {
                let left = operand(code[..at].split_whitespace().last().unwrap_or_default());
                let right = operand(code[at + 2..].split_whitespace().next().unwrap_or_default());
                assert!(
                    !is_check_value(left) && !is_check_value(right),
                    "{}:{n}: `{}` compares a check value with {op}; use ct_eq",
                    path.display(),
                    code.trim()
                );
            }
        }
    }
}

/// How many times the shipped part of `src/file` calls `ct_eq`.
pub fn ct_eq_calls(src: &Path, file: &str) -> usize {
    let text = std::fs::read_to_string(src.join(file)).unwrap();
    text.split("#[cfg(test)]").next().unwrap().matches("ct_eq(").count()
}
