//! Wrap-key shares (PROTOCOL.md §6) read from files or typed, combined, split and
//! converted between the yubihsm-setup and yubihsm-manager formats: the work of `yhsm
//! shares`, and where restore and verify recover their wrap key.
//!
//! Shares files hold one share per line; blank lines and lines starting with `#` are
//! ignored. Errors name the file and line, never the share's text.

use std::path::Path;

use yhsm_proto::shares::{self, Recovered, Share, ShareError, ShareFormat, WrapKeySecret};
use yhsm_proto::wrap::WrapKey;
use yhsm_proto::{Capabilities, Domains, ObjectId};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::util::files;
use crate::util::json::Value;
use crate::util::prompt::{self, Prompter};
use crate::util::rng;
use crate::util::text::{self, Fields};

/// The hint shown for a shares file that has none.
const SHARES_FILE_HINT: &str =
    "a shares file holds one share per line; blank lines and lines starting with # are ignored";

/// A wrap key recovered from shares, with the format and threshold they had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredKey(pub Recovered);

impl RecoveredKey {
    /// The key, for unwrapping.
    pub fn wrap_key(&self) -> Result<WrapKey> {
        WrapKey::new(self.0.secret.key().expose_secret())
            .map_err(|e| Error::failure("the recovered wrap key is unusable").with_source(e))
    }

    /// Human-readable: format, threshold, id, domains, capabilities, delegated
    /// capabilities, algorithm, and the key in hex only when `reveal` is set.
    pub fn render_human(&self, reveal: bool) -> Zeroizing<String> {
        let s = &self.0.secret;
        let mut f = Fields::flat();
        f.add("format", self.0.format.name())
            .add("threshold", self.0.threshold.to_string())
            .add("wrap key id", format!("0x{:04x}", s.wrap_key_id))
            .add("domains", text::domain_list(s.domains))
            .add("capabilities", s.capabilities.to_string())
            .add("delegated", s.delegated.to_string())
            .add("algorithm", s.algorithm().to_string());
        if reveal {
            f.add("key", hex::encode(s.key().expose_secret()));
        }
        Zeroizing::new(f.render())
    }

    /// The JSON object of `shares combine --json`; `key` only when `reveal` is set.
    pub fn to_json(&self, reveal: bool) -> Value {
        let s = &self.0.secret;
        let mut members = vec![
            ("format", Value::string(self.0.format.name())),
            ("threshold", Value::Number(u64::from(self.0.threshold))),
            ("wrap_key_id", Value::Number(u64::from(s.wrap_key_id))),
            ("domains", Value::Number(u64::from(s.domains.0))),
            ("capabilities", Value::string(text::capabilities_hex(s.capabilities))),
            ("delegated_capabilities", Value::string(text::capabilities_hex(s.delegated))),
            ("algorithm", Value::string(s.algorithm().to_string())),
        ];
        if reveal {
            members.push(("key", Value::string(hex::encode(s.key().expose_secret()))));
        }
        Value::Object(members)
    }
}

/// Shares read from a file, each with its 1-based line number.
#[derive(Debug)]
pub struct SharesFile {
    pub shares: Vec<Share>,
    pub lines: Vec<usize>,
}

/// Parses the text of a shares file named `name` in errors (a UTF-8 byte order mark
/// first is skipped).
pub fn parse_shares_text(bytes: &[u8], name: &str) -> Result<SharesFile> {
    let mut shares = Vec::new();
    let mut lines = Vec::new();
    for (i, line) in text::without_bom(bytes).split(|&b| b == b'\n').enumerate() {
        let number = i + 1;
        let Ok(line) = std::str::from_utf8(line) else {
            return Err(Error::failure(format!(
                "shares file `{name}`, line {number}: not UTF-8 text"
            )));
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let share = Share::parse(line).map_err(|e| {
            let problem = match e {
                ShareError::Malformed { problem, .. } => problem.to_string(),
                other => other.to_string(),
            };
            Error::failure(format!("shares file `{name}`, line {number}: {problem}"))
        })?;
        shares.push(share);
        lines.push(number);
    }
    if shares.is_empty() {
        return Err(Error::failure(format!("shares file `{name}` holds no shares"))
            .with_hint(SHARES_FILE_HINT));
    }
    Ok(SharesFile { shares, lines })
}

/// Reads a shares file (`-` for standard input).
pub fn read_shares_file(path: &Path) -> Result<SharesFile> {
    let bytes = files::read_file_or_stdin(path, "shares file")?;
    parse_shares_text(&bytes, &path.display().to_string())
}

/// Combines the shares of a file; errors about one share name its line.
pub fn combine_shares_file(file: &SharesFile, name: &str) -> Result<RecoveredKey> {
    shares::combine(&file.shares).map(RecoveredKey).map_err(|e| {
        match e.share().and_then(|n| n.checked_sub(1)).and_then(|i| file.lines.get(i)) {
            Some(line) => Error::failure(format!("shares file `{name}`, line {line}: {e}")),
            None => Error::failure(format!("shares file `{name}`: {e}")),
        }
    })
}

/// Reads and combines a shares file.
pub fn combine_file(path: &Path) -> Result<RecoveredKey> {
    let file = read_shares_file(path)?;
    combine_shares_file(&file, &path.display().to_string())
}

/// Asks for shares at `prompter` and combines them.
pub fn combine_prompted(prompter: &mut dyn Prompter) -> Result<RecoveredKey> {
    let typed = prompt::prompt_shares(prompter)?;
    shares::combine(&typed)
        .map(RecoveredKey)
        .map_err(|e| Error::failure(format!("the shares entered do not combine: {e}")))
}

/// What `shares split` needs besides the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitOptions {
    pub threshold: u8,
    pub count: u8,
    pub format: ShareFormat,
    pub wrap_key_id: ObjectId,
    pub domains: Domains,
    pub capabilities: Capabilities,
    pub delegated: Capabilities,
}

fn split_error(e: ShareError) -> Error {
    let err = Error::failure(format!("cannot split the wrap key: {e}"));
    match e {
        ShareError::KeyLengthNotSupported { format: ShareFormat::YubihsmSetup, .. } => {
            err.with_hint("use --format yubihsm-manager for AES-128 and AES-192 wrap keys")
        }
        _ => err,
    }
}

/// Splits `key` with the OS RNG.
pub fn split(key: &WrapKey, options: &SplitOptions) -> Result<Vec<Share>> {
    let secret = WrapKeySecret::new(
        options.wrap_key_id,
        options.domains,
        options.capabilities,
        options.delegated,
        yhsm_proto::SecretBytes::from_slice(key.expose_secret()),
    )
    .map_err(split_error)?;
    rng::with_os_rng(|r| {
        shares::split(&secret, options.threshold, options.count, options.format, r)
    })?
    .map_err(split_error)
}

/// Re-splits recovered shares into `to`, keeping the threshold; `count` shares (default:
/// the highest index among `from`, so converting a complete set keeps its size). A
/// `count` below the threshold is a usage error (`-n`), never silently raised.
pub fn convert(
    from: &SharesFile,
    recovered: &RecoveredKey,
    to: ShareFormat,
    count: Option<u8>,
) -> Result<Vec<Share>> {
    let threshold = recovered.0.threshold;
    if let Some(n) = count.filter(|&n| n < threshold) {
        return Err(Error::usage(format!(
            "`-n {n}` is fewer shares than the threshold of these shares ({threshold}): make from \
             {threshold} to 9 shares"
        )));
    }
    let count = count
        .or_else(|| from.shares.iter().map(Share::index).max())
        .unwrap_or(threshold)
        .max(threshold);
    let secret = &recovered.0.secret;
    rng::with_os_rng(|r| shares::split(secret, threshold, count, to, r))?.map_err(|e| {
        let err = Error::failure(format!("cannot convert to {to} shares: {e}"));
        match e {
            ShareError::InvalidThreshold { threshold: 1 } => err.with_hint(
                "yubihsm-manager refuses threshold 1; split the key again with `yhsm shares \
                 split -t 2`",
            ),
            _ => err,
        }
    })
}

/// The shares, one per line, as a shares file holds them.
pub fn render_shares(shares: &[Share]) -> Zeroizing<String> {
    let rendered: Vec<Zeroizing<String>> = shares.iter().map(Share::render).collect();
    let mut out =
        Zeroizing::new(String::with_capacity(rendered.iter().map(|s| s.len() + 1).sum::<usize>()));
    for s in &rendered {
        out.push_str(s);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETUP_2OF3: [&str; 3] = [
        "2-1-DzyKRzPN4fnv9gpd4MgmRClmJxHZxEEEZTHp4eGICmQPjjS75HZhJKJAP6EESSFPBmzYhw",
        "2-2-Hn4VkmaH3+/D8US63Y1MiFHDBS+vloQNxm3F1scWCtUKFnp65d/0fWW/RGYguWyzKP+PMg",
        "2-3-EUBgKlVKPhYsB37nPUVqzHmgG852U8cKp1kqMC6XCroJlUDOEbiHStPqbdA86VfnMo5Jqg",
    ];

    #[test]
    fn skips_blank_lines_and_comments_and_keeps_line_numbers() {
        let text = format!("# shares\n\n  {}  \r\n# x\n{}\n", SETUP_2OF3[0], SETUP_2OF3[2]);
        let file = parse_shares_text(text.as_bytes(), "f").unwrap();
        assert_eq!(file.lines, vec![3, 5]);
        let key = combine_shares_file(&file, "f").unwrap();
        assert_eq!(key.0.secret.wrap_key_id, 2);
        // As a Windows editor saves it: a byte order mark first.
        let marked = format!("\u{feff}{}\r\n{}\r\n", SETUP_2OF3[0], SETUP_2OF3[1]);
        let file = parse_shares_text(marked.as_bytes(), "f").unwrap();
        assert_eq!(combine_shares_file(&file, "f").unwrap(), key);
    }

    #[test]
    fn names_the_line_but_never_the_share() {
        let mut bad = SETUP_2OF3[1].to_owned();
        bad.replace_range(10..11, "!");
        let text = format!("{}\n\n{bad}\n", SETUP_2OF3[0]);
        let e = parse_shares_text(text.as_bytes(), "f").unwrap_err().chain();
        assert!(e.starts_with("shares file `f`, line 3: bad character at position 11"), "{e}");
        assert!(!e.contains(&bad[4..20]));

        let text = format!("{}\n{}\n", SETUP_2OF3[0], SETUP_2OF3[0]);
        let file = parse_shares_text(text.as_bytes(), "f").unwrap();
        let e = combine_shares_file(&file, "f").unwrap_err().chain();
        assert!(e.starts_with("shares file `f`, line 2: share 2 is share 1 again"), "{e}");

        let e = parse_shares_text(b"# nothing\n\n", "f").unwrap_err();
        assert_eq!(e.chain(), "shares file `f` holds no shares");
        let e = parse_shares_text(b"\n\xef\xbb\xbf\n", "f").unwrap_err();
        assert_eq!(
            e.chain(),
            "shares file `f`, line 2: expected <threshold>-<index>-<data>",
            "a mark on line 2 is no mark"
        );
        let e = parse_shares_text(b"\n\xff\n", "f").unwrap_err();
        assert_eq!(e.chain(), "shares file `f`, line 2: not UTF-8 text");
    }
}
