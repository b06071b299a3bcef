//! Shipped source text: every `.rs` file under a crate's `src`, test code left out.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem, at a place in a file.
#[derive(Debug, PartialEq, Eq)]
pub struct Finding {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}

/// The `.rs` files under `dir` that ship: test modules (`tests.rs`, `tests/`) and fuzz
/// entry points (`fuzzing.rs`, `fuzzing/`) left out. Sorted, so findings come in order.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            let name =
                path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if path.is_dir() {
                if name != "tests" && name != "fuzzing" {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") && name != "tests.rs" && name != "fuzzing.rs" {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The shipped lines of `path` (numbered from 1): everything before its first
/// `#[cfg(test)]`, comments removed.
pub fn lines(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .take_while(|l| !l.trim_start().starts_with("#[cfg(test)]"))
        .enumerate()
        .map(|(i, l)| (i + 1, l.split("//").next().unwrap_or_default().to_owned()))
        .collect()
}

/// The definition of the struct or enum `name` in the shipped files under `dir`: its file,
/// first line and text (header to the matching brace, or to `;` for a tuple or unit
/// struct), comments removed. Every definition found, so that two are seen.
pub fn items(dir: &Path, name: &str) -> Vec<(PathBuf, usize, String)> {
    let mut out = Vec::new();
    for path in files(dir) {
        let lines = lines(&path);
        for (at, (number, line)) in lines.iter().enumerate() {
            if !defines(line, name) {
                continue;
            }
            let mut text = String::new();
            let (mut depth, mut angle, mut opened) = (0usize, 0usize, false);
            let mut previous = ' ';
            // The scan starts at the keyword: `pub(crate)` has parentheses of its own.
            let keyword = line.find("struct ").or_else(|| line.find("enum ")).unwrap_or(0);
            text.push_str(line.get(..keyword).unwrap_or_default());
            let first = std::iter::once(line.get(keyword..).unwrap_or_default());
            let rest = lines.get(at + 1..).unwrap_or_default().iter().map(|(_, l)| l.as_str());
            'lines: for l in first.chain(rest) {
                for c in l.chars() {
                    match c {
                        '<' => angle += 1,
                        '>' if previous != '-' => angle = angle.saturating_sub(1),
                        '{' | '(' if angle == 0 => {
                            depth += 1;
                            opened = true;
                        }
                        '}' | ')' if angle == 0 => depth = depth.saturating_sub(1),
                        ';' if depth == 0 => break 'lines,
                        _ => {}
                    }
                    previous = c;
                    text.push(c);
                    if opened && depth == 0 {
                        text.push('\n');
                        break 'lines;
                    }
                }
                text.push('\n');
            }
            out.push((path.clone(), *number, text));
        }
    }
    out
}

/// Whether `line` starts the definition of struct or enum `name`.
fn defines(line: &str, name: &str) -> bool {
    let mut rest = line.trim_start();
    for visibility in ["pub(crate) ", "pub(super) ", "pub "] {
        rest = rest.strip_prefix(visibility).unwrap_or(rest);
    }
    ["struct ", "enum "].iter().any(|kind| {
        rest.strip_prefix(kind)
            .and_then(|r| r.strip_prefix(name))
            .is_some_and(|r| r.starts_with([' ', '<', '(', '{', ';']))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_tuple_and_generic_definitions() {
        let dir = std::env::temp_dir().join(format!("yhsm-lint-items-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("inner")).unwrap();
        std::fs::write(
            dir.join("inner/a.rs"),
            "mod m {\n    pub(crate) struct Keys<T> {\n        k: T, // Vec<u8> in a comment\n    }\n}\npub struct Pair(u8, u8);\nstruct KeysMore;\n#[cfg(test)]\nstruct Hidden;\n",
        )
        .unwrap();
        let keys = items(&dir, "Keys");
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].1, 2);
        assert_eq!(keys[0].2, "    pub(crate) struct Keys<T> {\n        k: T, \n    }\n");
        assert_eq!(items(&dir, "Pair")[0].2, "pub struct Pair(u8, u8)\n");
        assert!(items(&dir, "Hidden").is_empty());
        assert_eq!(items(&dir, "KeysMore").len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
