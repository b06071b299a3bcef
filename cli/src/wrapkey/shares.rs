//! Wrap-key shares (docs/PROTOCOL.md §6) read from files or typed, combined, split and
//! converted between the yubihsm-setup and yubihsm-manager formats: the work of `yhsm
//! shares`, and where restore and verify recover their wrap key.
//!
//! Shares files hold one share per line; blank lines and lines starting with `#` are
//! ignored. Errors name the file and line, never the share's text.

use std::path::{Path, PathBuf};

use yhsm_proto::shares::{
    self, KCV_LEN, Recovered, SHARE_CHECK_LEN, Share, ShareError, ShareFormat, WrapKeySecret,
};
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

/// A wrap key recovered from shares, with the format and threshold they had, and the
/// check value of each share combined (cli/README.md "Check values").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredKey {
    pub recovered: Recovered,
    /// Share number and check value of each share combined, in the order given.
    pub share_checks: Vec<(u8, [u8; SHARE_CHECK_LEN])>,
}

impl RecoveredKey {
    /// The result of combining `shares`.
    pub fn of(recovered: Recovered, shares: &[Share]) -> Self {
        Self {
            recovered,
            share_checks: shares.iter().map(|s| (s.index(), s.check_value())).collect(),
        }
    }

    /// The key, for unwrapping.
    pub fn wrap_key(&self) -> Result<WrapKey> {
        WrapKey::new(self.recovered.secret.key().expose_secret())
            .map_err(|e| Error::failure("the recovered wrap key is unusable").with_source(e))
    }

    /// The key check value of the key and its attributes.
    pub fn kcv(&self) -> [u8; KCV_LEN] {
        self.recovered.secret.check_value()
    }

    /// `1 8e3f0a71, 3 0c55d2e9`: each share's number and check value.
    pub fn share_checks_text(&self) -> String {
        let parts: Vec<String> =
            self.share_checks.iter().map(|(i, c)| format!("{i} {}", hex::encode(c))).collect();
        parts.join(", ")
    }

    /// Human-readable: format, threshold, id, domains, capabilities, delegated
    /// capabilities, algorithm, key check value, the shares' check values, and the key in
    /// hex only when `reveal` is set.
    pub fn render_human(&self, reveal: bool) -> Zeroizing<String> {
        let s = &self.recovered.secret;
        let mut f = Fields::flat();
        f.add("format", self.recovered.format.name())
            .add("threshold", self.recovered.threshold.to_string())
            .add("wrap key id", format!("0x{:04x}", s.wrap_key_id))
            .add("domains", text::domain_list(s.domains))
            .add("capabilities", s.capabilities.to_string())
            .add("delegated", s.delegated.to_string())
            .add("algorithm", s.algorithm().to_string())
            .add("key check value", hex::encode(self.kcv()))
            .add("share checks", self.share_checks_text());
        if reveal {
            f.add("key", hex::encode(s.key().expose_secret()));
        }
        Zeroizing::new(f.render())
    }

    /// The JSON object of `shares combine --json`; `key` only when `reveal` is set;
    /// `description`: the wrap-key description the key was found to match, if any.
    pub fn to_json(&self, reveal: bool, description: Option<&str>) -> Value {
        let s = &self.recovered.secret;
        let mut members = vec![
            ("format", Value::string(self.recovered.format.name())),
            ("threshold", Value::Number(u64::from(self.recovered.threshold))),
            ("wrap_key_id", Value::Number(u64::from(s.wrap_key_id))),
            ("domains", Value::Number(u64::from(s.domains.0))),
            ("capabilities", Value::string(text::capabilities_hex(s.capabilities))),
            ("delegated_capabilities", Value::string(text::capabilities_hex(s.delegated))),
            ("algorithm", Value::string(s.algorithm().to_string())),
            ("kcv", Value::string(hex::encode(self.kcv()))),
            (
                "share_checks",
                Value::Array(
                    self.share_checks
                        .iter()
                        .map(|(i, c)| {
                            Value::Object(vec![
                                ("share", Value::Number(u64::from(*i))),
                                ("check", Value::string(hex::encode(c))),
                            ])
                        })
                        .collect(),
                ),
            ),
        ];
        members.push(("description", Value::string_or_null(description)));
        if reveal {
            members.push(("key", Value::string(hex::encode(s.key().expose_secret()))));
        }
        Value::Object(members)
    }
}

/// Shares read from one or more files, each with the file it came from and its 1-based
/// line number there.
#[derive(Debug)]
pub struct SharesFile {
    pub shares: Vec<Share>,
    pub lines: Vec<usize>,
    /// The file of each share, as the user named it.
    pub names: Vec<String>,
}

/// One line of share text as a person may have saved or typed it, made canonical before
/// it is parsed: surrounding whitespace, and the `=` padding some base64 tools add after
/// a yubihsm-setup share's 70 characters (yubihsm-setup writes none), are dropped. The
/// one place share text is normalised, for files and prompts alike.
pub fn normalize_share_text(line: &str) -> &str {
    let line = line.trim();
    match line.strip_suffix("==").or_else(|| line.strip_suffix('=')) {
        // Only after base64 data: a yubihsm-manager share is hex, and never ends in `=`.
        Some(unpadded) if !unpadded.ends_with('=') && unpadded.matches('-').count() >= 2 => {
            unpadded
        }
        _ => line,
    }
}

/// Parses one share's text (see [`normalize_share_text`]); the problem, without the text.
pub fn parse_share(line: &str) -> Result<Share, String> {
    Share::parse(normalize_share_text(line)).map_err(|e| match e {
        ShareError::Malformed { problem, .. } => problem.to_string(),
        other => other.to_string(),
    })
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
        let share = parse_share(line).map_err(|problem| {
            Error::failure(format!("shares file `{name}`, line {number}: {problem}"))
        })?;
        shares.push(share);
        lines.push(number);
    }
    if shares.is_empty() {
        return Err(Error::failure(format!("shares file `{name}` holds no shares"))
            .with_hint(SHARES_FILE_HINT));
    }
    let names = vec![name.to_owned(); shares.len()];
    Ok(SharesFile { shares, lines, names })
}

/// Reads a shares file (`-` for standard input; typed without echo at `prompter` when
/// standard input is a terminal).
pub fn read_shares_file(path: &Path, prompter: &mut dyn Prompter) -> Result<SharesFile> {
    let name = path.display().to_string();
    if path.as_os_str() == "-" && prompter.stdin_is_terminal() {
        return read_typed_shares(prompter, &name);
    }
    let bytes = files::read_file_or_stdin(path, "shares file")?;
    parse_shares_text(&bytes, &name)
}

/// `--shares-file -` on a terminal: one share per line, never echoed, until an empty
/// line or the end of input. A line that is not a share is refused and asked again.
fn read_typed_shares(prompter: &mut dyn Prompter, name: &str) -> Result<SharesFile> {
    let terminal = |e| Error::failure("cannot read the shares from the terminal").with_source(e);
    prompter
        .message("Enter the shares, one per line (they are not shown); an empty line ends")
        .map_err(terminal)?;
    let (mut shares, mut lines) = (Vec::new(), Vec::new());
    loop {
        let number = shares.len() + 1;
        let Some(text) = prompter.read_secret(&format!("Share {number}: ")).map_err(terminal)?
        else {
            break;
        };
        if text.trim().is_empty() {
            break;
        }
        match parse_share(&text) {
            Ok(share) => {
                shares.push(share);
                lines.push(number);
            }
            Err(problem) => prompter
                .message(&format!("Share {number} refused: {problem}. Enter it again."))
                .map_err(terminal)?,
        }
    }
    if shares.is_empty() {
        return Err(Error::failure("no shares entered on standard input"));
    }
    let names = vec![name.to_owned(); shares.len()];
    Ok(SharesFile { shares, lines, names })
}

/// Reads every shares file of `paths` (one per custodian, say) as one set; `-` (standard
/// input) at most once.
pub fn read_shares_files(paths: &[PathBuf], prompter: &mut dyn Prompter) -> Result<SharesFile> {
    if paths.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        return Err(Error::usage("`--shares-file -` (standard input) is given more than once"));
    }
    let mut all = SharesFile { shares: Vec::new(), lines: Vec::new(), names: Vec::new() };
    for path in paths {
        let file = read_shares_file(path, prompter)?;
        all.shares.extend(file.shares);
        all.lines.extend(file.lines);
        all.names.extend(file.names);
    }
    Ok(all)
}

/// Combines the shares of a file (or files); errors about one share name its file and
/// line, others name `name`.
pub fn combine_shares_file(file: &SharesFile, name: &str) -> Result<RecoveredKey> {
    combine_shares_file_checked(file, name, &ShareChecks::default())
}

/// [`combine_shares_file`], each share also checked against the recorded check values.
/// Shares that cannot be combined at all (mixed formats or thresholds, a repeated index)
/// are reported as such first; then a share that does not match its check value is named
/// (more precisely than "share 3 does not fit the first 2" would).
pub fn combine_shares_file_checked(
    file: &SharesFile,
    name: &str,
    checks: &ShareChecks,
) -> Result<RecoveredKey> {
    let at = |i: usize| Some((file.names.get(i)?, file.lines.get(i)?));
    let named = |e: ShareError| match e.share().and_then(|n| n.checked_sub(1)).and_then(at) {
        Some((file, line)) => Error::failure(format!("shares file `{file}`, line {line}: {e}")),
        None => Error::failure(format!("shares file `{name}`: {e}")),
    };
    let combined = shares::combine(&file.shares);
    if let Err(e) = &combined
        && !matches!(e, ShareError::Inconsistent { .. })
    {
        return Err(named(*e));
    }
    for (i, share) in file.shares.iter().enumerate() {
        if let (Some(why), Some((file, line))) = (checks.refusal(share), at(i)) {
            return Err(Error::failure(format!("shares file `{file}`, line {line}: {why}"))
                .with_hint(MISTYPED_HINT));
        }
    }
    combined.map(|r| RecoveredKey::of(r, &file.shares)).map_err(named)
}

/// What to do about a share that does not match its recorded check value.
const MISTYPED_HINT: &str = "the share was probably mistyped: ask its custodian to read it again";

/// The files of `paths` as errors about all of them name them: `a.txt`, or
/// `a.txt`, `b.txt` (inside the message's own quotes).
pub fn files_name(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join("`, `")
}

/// A threshold or a number of shares to make, 2 to [`shares::MAX_SHARES`] (with a threshold
/// of 1 every share would hold the key in clear): `-t` and `-n` of `shares split`, `shares
/// convert` and `setup`, and setup's questions.
pub fn parse_share_count(s: &str) -> Option<u8> {
    s.parse::<u8>().ok().filter(|n| (2..=shares::MAX_SHARES).contains(n))
}

/// Reads and combines the shares of every file of `paths`.
pub fn combine_files(paths: &[PathBuf], prompter: &mut dyn Prompter) -> Result<RecoveredKey> {
    combine_files_checked(paths, prompter, &ShareChecks::default())
}

/// [`combine_files`], each share checked against `checks`.
pub fn combine_files_checked(
    paths: &[PathBuf],
    prompter: &mut dyn Prompter,
    checks: &ShareChecks,
) -> Result<RecoveredKey> {
    let file = read_shares_files(paths, prompter)?;
    combine_shares_file_checked(&file, &files_name(paths), checks)
}

/// Reads and combines one shares file, with no terminal to type at (`-` reads standard
/// input as it is).
pub fn combine_file(path: &Path) -> Result<RecoveredKey> {
    let name = path.display().to_string();
    let file = parse_shares_text(&files::read_file_or_stdin(path, "shares file")?, &name)?;
    combine_shares_file(&file, &name)
}

/// Asks for shares at `prompter` and combines them.
pub fn combine_prompted(prompter: &mut dyn Prompter) -> Result<RecoveredKey> {
    combine_prompted_checked(prompter, &ShareChecks::default())
}

/// Asks for shares at `prompter`, refusing each that does not match `checks` as it is
/// entered (naming the share's number), and combines them.
pub fn combine_prompted_checked(
    prompter: &mut dyn Prompter,
    checks: &ShareChecks,
) -> Result<RecoveredKey> {
    let advice = prompt::ShareAdvice { recorded: !checks.is_empty(), split: checks.split() };
    let typed = prompt::prompt_shares_checked(prompter, advice, &|s| checks.refusal(s))?;
    shares::combine(&typed)
        .map(|r| RecoveredKey::of(r, &typed))
        .map_err(|e| Error::failure(format!("the shares entered do not combine: {e}")))
}

/// The shares of a wrap key as recorded when they were made (in its description,
/// [`crate::backup::description`]): `threshold` of `count`, and a check value for each,
/// by share number (the `i` of `k-i-…`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedShares {
    pub threshold: u8,
    pub count: u8,
    /// Share number and check value, in increasing share number.
    pub checks: Vec<(u8, [u8; SHARE_CHECK_LEN])>,
}

impl RecordedShares {
    /// Why `share` is not one of these shares, if it is not: another threshold, a number
    /// not recorded, or a check value other than the recorded one (a mistyped share).
    pub fn refusal(&self, share: &Share) -> Option<String> {
        let (t, n, i) = (self.threshold, self.count, share.index());
        if share.threshold() != t {
            return Some(format!(
                "it has threshold {}, but the shares recorded at setup are {t} of {n}",
                share.threshold()
            ));
        }
        let Some((_, recorded)) = self.checks.iter().find(|(index, _)| *index == i) else {
            return Some(format!(
                "share {i} is not one of the shares recorded at setup ({t} of {n})"
            ));
        };
        (*recorded != share.check_value())
            .then(|| format!("share {i} does not match the check value recorded at setup"))
    }
}

/// The recorded shares of a backup's wrap-key descriptions, which every share entered is
/// checked against; empty when none records any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShareChecks {
    /// The description's file name, and its shares.
    recorded: Vec<(String, RecordedShares)>,
}

impl ShareChecks {
    pub fn new(recorded: Vec<(String, RecordedShares)>) -> Self {
        Self { recorded }
    }

    /// Whether no share was recorded.
    pub fn is_empty(&self) -> bool {
        self.recorded.is_empty()
    }

    /// `(threshold, count)` when exactly one set of shares is recorded.
    pub fn split(&self) -> Option<(u8, u8)> {
        match &self.recorded[..] {
            [(_, s)] => Some((s.threshold, s.count)),
            _ => None,
        }
    }

    /// Why `share` is refused, if it is: it fits none of the recorded sets (a mistyped
    /// share fits none: its check value is as good as random).
    pub fn refusal(&self, share: &Share) -> Option<String> {
        let mut reasons = self.recorded.iter().map(|(file, s)| (file, s.refusal(share)));
        let (file, first) = reasons.next()?;
        let first = first?;
        if reasons.any(|(_, r)| r.is_none()) {
            return None;
        }
        Some(format!("{first} (in {file})"))
    }
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
    let threshold = recovered.recovered.threshold;
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
    let secret = &recovered.recovered.secret;
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
        assert_eq!(key.recovered.secret.wrap_key_id, 2);
        // As a Windows editor saves it: a byte order mark first.
        let marked = format!("\u{feff}{}\r\n{}\r\n", SETUP_2OF3[0], SETUP_2OF3[1]);
        let file = parse_shares_text(marked.as_bytes(), "f").unwrap();
        assert_eq!(combine_shares_file(&file, "f").unwrap().recovered, key.recovered);
    }

    #[test]
    fn recorded_check_values_refuse_a_wrong_share_by_its_number() {
        let [s1, s2, s3] = SETUP_2OF3.map(|s| Share::parse(s).unwrap());
        let recorded = |checks: Vec<(u8, [u8; SHARE_CHECK_LEN])>| RecordedShares {
            threshold: 2,
            count: 3,
            checks,
        };
        let one = ShareChecks::new(vec![(
            "a.description".to_owned(),
            recorded(vec![(1, s1.check_value()), (2, s2.check_value())]),
        )]);
        assert_eq!(one.refusal(&s1), None);
        assert_eq!(
            one.refusal(&s3).as_deref(),
            Some("share 3 is not one of the shares recorded at setup (2 of 3) (in a.description)")
        );
        let wrong = ShareChecks::new(vec![(
            "a.description".to_owned(),
            recorded(vec![(1, s2.check_value())]),
        )]);
        assert_eq!(
            wrong.refusal(&s1).as_deref(),
            Some("share 1 does not match the check value recorded at setup (in a.description)")
        );
        let three = ShareChecks::new(vec![(
            "b".to_owned(),
            RecordedShares { threshold: 3, count: 3, checks: vec![(1, s1.check_value())] },
        )]);
        assert!(three.refusal(&s1).unwrap().starts_with("it has threshold 2, but the shares"));
        // With two descriptions, a share that fits either passes.
        let both = ShareChecks::new([wrong.recorded.clone(), one.recorded.clone()].concat());
        assert_eq!(both.refusal(&s1), None);
        assert!(both.refusal(&s3).is_some());
        assert!(ShareChecks::default().refusal(&s3).is_none());
        assert_eq!(one.split(), Some((2, 3)));
        assert_eq!(both.split(), None);
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
