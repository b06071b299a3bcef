//! The wrap-key description: a small, non-secret text file beside a backup's `.yhw` files
//! (`0x0002-wrap-key.description`) that says which wrap key they are wrapped under — its
//! id, algorithm, label, domains, capabilities and delegated capabilities as the device
//! reported them, and, when they are known, its key check value and a check value for each
//! of its shares. The format is yhsm's own (cli/README.md "The wrap-key description").
//!
//! `yhsm dump` writes one; `yhsm setup` fills in the check values and records the rest of
//! its plan (`setup …` lines: the profile and the keys it makes) for `setup --resume`. `yhsm
//! restore` reads every description in the directory before it asks for shares: each share
//! is checked against its recorded check value as it is entered, and the key the shares
//! give is compared with the description before anything is written, so that a mistyped
//! share cannot change the wrap key's attributes unnoticed. The name does not end in
//! `.yhw`, so yubihsm-setup's restore (which reads `*.yhw`) does not see it.

use std::fmt::Write as _;
use std::path::Path;

use yhsm_proto::shares::{KCV_LEN, SHARE_CHECK_LEN};
use yhsm_proto::{Algorithm, Capabilities, Domains, Label, ObjectId, ObjectInfo};

use crate::backup::compare::Attributes;
use crate::error::{Error, Result};
use crate::util::files;
use crate::util::text;
use crate::wrapkey::shares::{RecordedShares, RecoveredKey, ShareChecks};

/// What every description's name ends with.
pub const SUFFIX: &str = "-wrap-key.description";

/// The first line of every description: what the file is, and the format's version.
pub const MAGIC: &str = "yhsm wrap-key description 1";

/// `0x0002-wrap-key.description`.
pub fn file_name(id: ObjectId) -> String {
    format!("0x{id:04x}{SUFFIX}")
}

/// Whether a text starts like a description (what `inspect` looks at).
pub fn looks_like(text: &[u8]) -> bool {
    let text = text.strip_prefix("\u{feff}".as_bytes()).unwrap_or(text);
    text.strip_prefix(MAGIC.as_bytes())
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(b"\n") || rest.starts_with(b"\r\n"))
}

/// A wrap key, described.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    pub id: ObjectId,
    pub algorithm: Algorithm,
    pub label: Label,
    pub domains: Domains,
    pub capabilities: Capabilities,
    pub delegated: Capabilities,
    /// The key check value, when the key was known to the writer.
    pub kcv: Option<[u8; KCV_LEN]>,
    /// The shares handed out, when the writer made them.
    pub shares: Option<RecordedShares>,
    /// The rest of the plan of the `yhsm setup` that wrote it (`setup …` lines), so that
    /// `setup --resume` finishes the same plan. Older descriptions have none.
    pub setup: Option<SetupRecord>,
}

/// What `yhsm setup` planned besides the wrap key (not secret): its profile and the
/// authentication keys it makes (their domains are the wrap key's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupRecord {
    /// The profile's name, as `--profile` gives it.
    pub profile: String,
    pub application: Option<RecordedKey>,
    pub audit: Option<RecordedKey>,
}

/// One authentication key a setup makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordedKey {
    pub id: ObjectId,
    pub label: Label,
    pub capabilities: Capabilities,
    pub delegated: Capabilities,
}

/// The roles of [`SetupRecord`]'s keys, as their lines name them.
const SETUP_ROLES: [&str; 2] = ["application", "audit"];

impl Description {
    /// The description of a wrap key as the device reports it (GET_OBJECT_INFO), without
    /// check values.
    pub fn of_device(info: &ObjectInfo) -> Self {
        Self {
            id: info.id,
            algorithm: info.algorithm,
            label: info.label,
            domains: info.domains,
            capabilities: info.capabilities,
            delegated: info.delegated_capabilities,
            kcv: None,
            shares: None,
            setup: None,
        }
    }

    /// The attributes it gives the wrap key (the label included).
    pub fn attributes(&self) -> Attributes {
        Attributes {
            id: self.id,
            algorithm: self.algorithm,
            domains: self.domains,
            capabilities: self.capabilities,
            label: Some(self.label),
            delegated: Some(self.delegated),
        }
    }

    /// How the wrap key from the shares (`attributes`, `kcv`) differs from this
    /// description, one line per difference (the label is not compared: shares carry none).
    pub fn mismatches(&self, attributes: &Attributes, kcv: [u8; KCV_LEN]) -> Vec<String> {
        let mut out = Vec::new();
        let mut differ = |what: &str, shares: String, described: String| {
            if shares != described {
                out.push(format!(
                    "{what}: the shares give {shares}, the description says {described}"
                ));
            }
        };
        let a = attributes;
        differ("id", format!("0x{:04x}", a.id), format!("0x{:04x}", self.id));
        differ("algorithm", a.algorithm.to_string(), self.algorithm.to_string());
        differ("domains", text::domain_list(a.domains), text::domain_list(self.domains));
        differ("capabilities", a.capabilities.to_string(), self.capabilities.to_string());
        differ(
            "delegated capabilities",
            a.delegated_or_none().to_string(),
            self.delegated.to_string(),
        );
        if let Some(recorded) = self.kcv {
            differ("key check value", hex::encode(kcv), hex::encode(recorded));
        }
        out
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{MAGIC}\n# The wrap key the .yhw files of this directory are wrapped under. Not \
             secret:\n# yhsm restore checks the wrap key from the shares against it before \
             writing.\n"
        );
        let _ = writeln!(out, "id: 0x{:04x}", self.id);
        let _ = writeln!(out, "algorithm: {}", self.algorithm);
        let _ = writeln!(out, "label: {}", quote_label(&self.label));
        let _ = writeln!(out, "domains: {}", text::domain_list(self.domains));
        let _ = writeln!(out, "capabilities: {}", self.capabilities);
        let _ = writeln!(out, "delegated: {}", self.delegated);
        if let Some(kcv) = self.kcv {
            let _ = writeln!(out, "kcv: {}", hex::encode(kcv));
        }
        if let Some(s) = &self.shares {
            let _ = writeln!(out, "shares: {} of {}", s.threshold, s.count);
            for (index, check) in &s.checks {
                let _ = writeln!(out, "share {index}: {}", hex::encode(check));
            }
        }
        if let Some(setup) = &self.setup {
            let _ = writeln!(out, "setup profile: {}", setup.profile);
            for (role, key) in SETUP_ROLES.iter().zip([setup.application, setup.audit]) {
                let Some(k) = key else {
                    let _ = writeln!(out, "setup {role} key: none");
                    continue;
                };
                let _ = writeln!(out, "setup {role} key: 0x{:04x}", k.id);
                let _ = writeln!(out, "setup {role} label: {}", quote_label(&k.label));
                let _ = writeln!(out, "setup {role} capabilities: {}", k.capabilities);
                let _ = writeln!(out, "setup {role} delegated: {}", k.delegated);
            }
        }
        out
    }

    /// Parses a description; an error is the 1-based line and what is wrong with it.
    pub fn parse(text: &[u8]) -> Result<Self, (usize, String)> {
        let text = std::str::from_utf8(text).map_err(|e| {
            let line = text.get(..e.valid_up_to()).unwrap_or_default();
            (line.iter().filter(|&&b| b == b'\n').count() + 1, "not UTF-8 text".to_owned())
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).enumerate();
        if lines.next().map(|(_, l)| l) != Some(MAGIC) {
            return Err((1, format!("the first line must be `{MAGIC}`")));
        }
        let mut fields = Fields::default();
        for (i, line) in lines {
            let number = i + 1;
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            fields.take(trimmed).map_err(|problem| (number, problem))?;
        }
        fields.finish()
    }
}

/// The fields read so far, each at most once.
#[derive(Default)]
struct Fields {
    id: Option<ObjectId>,
    algorithm: Option<Algorithm>,
    label: Option<Label>,
    domains: Option<Domains>,
    capabilities: Option<Capabilities>,
    delegated: Option<Capabilities>,
    kcv: Option<[u8; KCV_LEN]>,
    shares: Option<(u8, u8)>,
    checks: Vec<(u8, [u8; SHARE_CHECK_LEN])>,
    setup_profile: Option<String>,
    /// The application key's and the audit key's `setup` lines.
    setup_keys: [KeyFields; 2],
}

/// One key's `setup` lines; `id` is `Some(None)` for `none`.
#[derive(Default)]
struct KeyFields {
    id: Option<Option<ObjectId>>,
    label: Option<Label>,
    capabilities: Option<Capabilities>,
    delegated: Option<Capabilities>,
}

impl KeyFields {
    fn any(&self) -> bool {
        self.id.is_some()
            || self.label.is_some()
            || self.capabilities.is_some()
            || self.delegated.is_some()
    }

    fn finish(self, role: &str) -> Result<Option<RecordedKey>, String> {
        let missing = |what: &str| format!("`setup {role} {what}` is missing");
        match self.id.ok_or_else(|| missing("key"))? {
            None if self.label.is_some()
                || self.capabilities.is_some()
                || self.delegated.is_some() =>
            {
                Err(format!("`setup {role} key` is none, but other `setup {role}` lines are given"))
            }
            None => Ok(None),
            Some(id) => Ok(Some(RecordedKey {
                id,
                label: self.label.ok_or_else(|| missing("label"))?,
                capabilities: self.capabilities.ok_or_else(|| missing("capabilities"))?,
                delegated: self.delegated.ok_or_else(|| missing("delegated"))?,
            })),
        }
    }
}

fn set<T>(
    slot: &mut Option<T>,
    name: &str,
    value: Option<T>,
    expected: &str,
) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("`{name}` is given twice"));
    }
    *slot = Some(value.ok_or_else(|| format!("`{name}`: expected {expected}"))?);
    Ok(())
}

fn hex_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok().map(|()| out)
}

impl Fields {
    fn take(&mut self, line: &str) -> Result<(), String> {
        let (name, value) =
            line.split_once(':').ok_or_else(|| "expected `name: value`".to_owned())?;
        let (name, value) = (name.trim(), value.trim());
        if let Some(number) = name.strip_prefix("share ") {
            let index = number
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|i| (1..=9).contains(i))
                .ok_or_else(|| "`share N`: N must be a share number from 1 to 9".to_owned())?;
            if self.checks.iter().any(|(i, _)| *i == index) {
                return Err(format!("`share {index}` is given twice"));
            }
            let check = hex_array(value).ok_or_else(|| {
                format!("`share {index}`: expected {} hex digits", 2 * SHARE_CHECK_LEN)
            })?;
            self.checks.push((index, check));
            return Ok(());
        }
        if let Some(rest) = name.strip_prefix("setup ") {
            return self.take_setup(name, rest.trim(), value);
        }
        match name {
            "id" => set(
                &mut self.id,
                name,
                yhsm_proto::object::parse_object_id(value).ok(),
                "an object id",
            ),
            "algorithm" => set(
                &mut self.algorithm,
                name,
                value.parse::<Algorithm>().ok().filter(|a| a.wrap_key_size().is_some()),
                "aes128-ccm-wrap, aes192-ccm-wrap or aes256-ccm-wrap",
            ),
            "label" => set(
                &mut self.label,
                name,
                unquote_label(value),
                "a quoted label of at most 40 bytes",
            ),
            "domains" => set(&mut self.domains, name, value.parse().ok(), "domains, e.g. 1:2:3"),
            "capabilities" => set(&mut self.capabilities, name, value.parse().ok(), "capabilities"),
            "delegated" => set(&mut self.delegated, name, value.parse().ok(), "capabilities"),
            "kcv" => set(&mut self.kcv, name, hex_array(value), "6 hex digits"),
            "shares" => {
                set(&mut self.shares, name, parse_k_of_n(value), "`K of N`, 1 <= K <= N <= 9")
            }
            _ => Err(format!("unknown field `{name}`")),
        }
    }

    /// A `setup …` line: `setup profile`, or `setup ROLE key|label|capabilities|delegated`.
    fn take_setup(&mut self, name: &str, rest: &str, value: &str) -> Result<(), String> {
        if rest == "profile" {
            let token = Some(value.to_owned()).filter(|v| {
                !v.is_empty()
                    && v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            });
            return set(&mut self.setup_profile, name, token, "a profile name");
        }
        let (role, what) = rest.split_once(' ').unwrap_or((rest, ""));
        let Some(index) = SETUP_ROLES.iter().position(|r| *r == role) else {
            return Err(format!("unknown field `{name}`"));
        };
        let Some(k) = self.setup_keys.get_mut(index) else {
            return Err(format!("unknown field `{name}`"));
        };
        match what.trim() {
            "key" => set(
                &mut k.id,
                name,
                if value == "none" {
                    Some(None)
                } else {
                    yhsm_proto::object::parse_object_id(value).ok().filter(|&id| id != 0).map(Some)
                },
                "an object id from 1 to 0xffff, or none",
            ),
            "label" => {
                set(&mut k.label, name, unquote_label(value), "a quoted label of at most 40 bytes")
            }
            "capabilities" => set(&mut k.capabilities, name, value.parse().ok(), "capabilities"),
            "delegated" => set(&mut k.delegated, name, value.parse().ok(), "capabilities"),
            _ => Err(format!("unknown field `{name}`")),
        }
    }

    fn finish(mut self) -> Result<Description, (usize, String)> {
        let missing = |name: &str| (0, format!("`{name}` is missing"));
        let [application, audit] = std::mem::take(&mut self.setup_keys);
        let setup = match self.setup_profile.take() {
            None if application.any() || audit.any() => {
                return Err((0, "`setup` lines need a `setup profile` line".to_owned()));
            }
            None => None,
            Some(profile) => Some(SetupRecord {
                profile,
                application: application.finish("application").map_err(|p| (0, p))?,
                audit: audit.finish("audit").map_err(|p| (0, p))?,
            }),
        };
        let shares = match (self.shares, self.checks.is_empty()) {
            (None, false) => {
                return Err((0, "`share N` lines need a `shares: K of N` line".to_owned()));
            }
            (None, true) => None,
            (Some((threshold, count)), _) => {
                if let Some((i, _)) = self.checks.iter().find(|(i, _)| *i > count) {
                    return Err((0, format!("`share {i}`: there are only {count} shares")));
                }
                self.checks.sort_by_key(|(i, _)| *i);
                Some(RecordedShares { threshold, count, checks: self.checks })
            }
        };
        Ok(Description {
            id: self.id.ok_or_else(|| missing("id"))?,
            algorithm: self.algorithm.ok_or_else(|| missing("algorithm"))?,
            label: self.label.ok_or_else(|| missing("label"))?,
            domains: self.domains.ok_or_else(|| missing("domains"))?,
            capabilities: self.capabilities.ok_or_else(|| missing("capabilities"))?,
            delegated: self.delegated.ok_or_else(|| missing("delegated"))?,
            kcv: self.kcv,
            shares,
            setup,
        })
    }
}

fn parse_k_of_n(value: &str) -> Option<(u8, u8)> {
    let (k, n) = value.split_once(" of ")?;
    let (k, n) = (k.trim().parse::<u8>().ok()?, n.trim().parse::<u8>().ok()?);
    (1 <= k && k <= n && n <= 9).then_some((k, n))
}

/// A label in double quotes: `\"`, `\\`, and `\xNN` for any byte that is not printable
/// text (control characters, invalid UTF-8, NULs before the end); trailing NULs (the
/// padding) are left out.
pub fn quote_label(label: &Label) -> String {
    let end = label.0.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let bytes = label.0.get(..end).unwrap_or_default();
    let mut out = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('"');
    out
}

/// The inverse of [`quote_label`].
fn unquote_label(value: &str) -> Option<Label> {
    let inner = value.strip_prefix('"')?.strip_suffix('"')?;
    let mut bytes = Vec::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                '"' => bytes.push(b'"'),
                '\\' => bytes.push(b'\\'),
                'x' => {
                    let digits: String = chars.by_ref().take(2).collect();
                    bytes.push(u8::from_str_radix(&digits, 16).ok().filter(|_| digits.len() == 2)?);
                }
                _ => return None,
            },
            '"' => return None,
            c => {
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Label::from_bytes(&bytes).ok()
}

/// A description read from a backup directory, with its file name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Described {
    pub file: String,
    pub description: Description,
}

/// Reads and parses one description file.
pub fn read_file(path: &Path) -> Result<Description> {
    let name = text::printable(&path.display().to_string());
    let bytes = files::read_file(path, "wrap-key description")?;
    Description::parse(&bytes).map_err(|(line, problem)| {
        let at = if line == 0 { String::new() } else { format!(", line {line}") };
        Error::failure(format!("wrap-key description `{name}`{at}: {problem}")).with_hint(
            "the file describes the backup's wrap key (cli/README.md): fix it, or move it out \
             of the directory to restore without its checks",
        )
    })
}

/// Reads one description, named by its file name.
pub fn read_described(path: &Path) -> Result<Described> {
    let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Described { file: text::printable(&file), description: read_file(path)? })
}

/// Checks the wrap key from the shares against `described` (the shares themselves were
/// checked as they were read): an error naming every difference.
pub fn check_recovered(described: &Described, recovered: &RecoveredKey) -> Result<()> {
    let attributes = Attributes::from_shares(recovered);
    let mismatches = described.description.mismatches(&attributes, recovered.kcv());
    if mismatches.is_empty() {
        return Ok(());
    }
    Err(Error::failure(format!(
        "the wrap key from the shares does not match the description `{}`: {}",
        described.file,
        mismatches.join("; ")
    ))
    .with_hint("a share is probably mistyped: check the shares with their custodians"))
}

/// Every description in `dir` (names ending in [`SUFFIX`]), in name order. One that
/// cannot be read or parsed is an error: its checks would otherwise be silently lost.
pub fn read_dir(dir: &Path) -> Result<Vec<Described>> {
    let Ok(listing) = std::fs::read_dir(dir) else { return Ok(Vec::new()) };
    let mut paths: Vec<_> = listing
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().ends_with(SUFFIX)))
        .collect();
    paths.sort();
    paths.iter().map(|path| read_described(path)).collect()
}

/// The share checks of `described`: every description that records shares.
pub fn share_checks(described: &[Described]) -> ShareChecks {
    ShareChecks::new(
        described
            .iter()
            .filter_map(|d| d.description.shares.clone().map(|s| (d.file.clone(), s)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Description {
        Description {
            id: 2,
            algorithm: Algorithm::AES256_CCM_WRAP,
            label: "Wrap key".parse().unwrap(),
            domains: Domains(0b101),
            capabilities: Capabilities::EXPORT_WRAPPED | Capabilities::IMPORT_WRAPPED,
            delegated: Capabilities(Capabilities::SIGN_ECDSA.0 | (1 << 60)),
            kcv: Some([0x0a, 0xbc, 0xde]),
            shares: Some(RecordedShares {
                threshold: 2,
                count: 3,
                checks: vec![(1, [1, 2, 3, 4]), (3, [0xff, 0, 0, 0xee])],
            }),
            setup: Some(SetupRecord {
                profile: "ksp".to_owned(),
                application: Some(RecordedKey {
                    id: 3,
                    label: "App \"key\"".parse().unwrap(),
                    capabilities: Capabilities::SIGN_ECDSA | Capabilities::EXPORTABLE_UNDER_WRAP,
                    delegated: Capabilities::SIGN_ECDSA,
                }),
                audit: None,
            }),
        }
    }

    #[test]
    fn round_trips_and_reads_as_documented() {
        let d = sample();
        let text = d.render();
        assert_eq!(
            text,
            "yhsm wrap-key description 1\n\
             # The wrap key the .yhw files of this directory are wrapped under. Not secret:\n\
             # yhsm restore checks the wrap key from the shares against it before writing.\n\
             id: 0x0002\n\
             algorithm: aes256-ccm-wrap\n\
             label: \"Wrap key\"\n\
             domains: 1:3\n\
             capabilities: export-wrapped,import-wrapped\n\
             delegated: sign-ecdsa,0x1000000000000000\n\
             kcv: 0abcde\n\
             shares: 2 of 3\n\
             share 1: 01020304\n\
             share 3: ff0000ee\n\
             setup profile: ksp\n\
             setup application key: 0x0003\n\
             setup application label: \"App \\\"key\\\"\"\n\
             setup application capabilities: sign-ecdsa,exportable-under-wrap\n\
             setup application delegated: sign-ecdsa\n\
             setup audit key: none\n"
        );
        assert_eq!(Description::parse(text.as_bytes()).unwrap(), d);
        assert!(looks_like(text.as_bytes()));
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(Description::parse(format!("\u{feff}{crlf}").as_bytes()).unwrap(), d);
        let bare = Description { kcv: None, shares: None, setup: None, ..d };
        assert_eq!(Description::parse(bare.render().as_bytes()).unwrap(), bare);
    }

    #[test]
    fn labels_of_any_bytes_survive() {
        for bytes in [
            &b""[..],
            b"a \"quoted\" \\ label",
            b"ctl\x1b[31m\x00inner",
            b"\xff\xfe",
            "éè".as_bytes(),
            &[b'x'; 40],
        ] {
            let label = Label::from_bytes(bytes).unwrap();
            let quoted = quote_label(&label);
            assert!(!quoted.chars().any(char::is_control), "{quoted}");
            assert_eq!(unquote_label(&quoted), Some(label), "{quoted}");
        }
        assert_eq!(quote_label(&"éè".parse().unwrap()), "\"éè\"");
        for bad in [
            "no quotes",
            "\"open",
            "\"a\"b\"",
            "\"\\q\"",
            "\"\\x4\"",
            &format!("\"{}\"", "x".repeat(41)),
        ] {
            assert_eq!(unquote_label(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_the_line_of_a_mistake() {
        let good = sample().render();
        let cases: [(&str, &str, usize, &str); 6] = [
            ("id: 0x0002", "id: 2x", 4, "`id`: expected an object id"),
            ("domains: 1:3", "domains: 1:3\ndomains: 1", 8, "`domains` is given twice"),
            ("kcv: 0abcde", "kcv: 0abc", 10, "`kcv`: expected 6 hex digits"),
            ("share 3: ff0000ee", "share 4: ff0000ee", 0, "`share 4`: there are only 3 shares"),
            ("label: \"Wrap key\"", "colour: blue", 6, "unknown field `colour`"),
            ("algorithm: aes256-ccm-wrap", "algorithm: ecp256", 5, "`algorithm`: expected"),
        ];
        for (from, to, line, problem) in cases {
            let text = good.replace(from, to);
            let (l, p) = Description::parse(text.as_bytes()).unwrap_err();
            assert_eq!(l, line, "{to}: {p}");
            assert!(p.starts_with(problem), "{to}: {p}");
        }
        let (l, p) = Description::parse(b"id: 2\n").unwrap_err();
        assert_eq!((l, p.as_str()), (1, "the first line must be `yhsm wrap-key description 1`"));
        let (_, p) = Description::parse(
            good.replace("delegated: sign-ecdsa,0x1000000000000000\n", "").as_bytes(),
        )
        .unwrap_err();
        assert_eq!(p, "`delegated` is missing");
        assert!(!looks_like(b"yhsm wrap-key description 10\n"));
    }

    /// The `setup` lines are all or nothing for a key, and need a profile; a description
    /// without them (older setups, `dump`) reads as before.
    #[test]
    fn setup_lines_are_checked() {
        let good = sample().render();
        let cases = [
            ("setup profile: ksp\n", "", "`setup` lines need a `setup profile` line"),
            ("setup audit key: none\n", "", "`setup audit key` is missing"),
            (
                "setup audit key: none\n",
                "setup audit key: none\nsetup audit label: \"x\"\n",
                "`setup audit key` is none, but other `setup audit` lines are given",
            ),
            (
                "setup application delegated: sign-ecdsa\n",
                "",
                "`setup application delegated` is missing",
            ),
            (
                "setup audit key: none",
                "setup audit key: 0",
                "`setup audit key`: expected an object id",
            ),
            (
                "setup audit key: none",
                "setup auditor key: none",
                "unknown field `setup auditor key`",
            ),
            (
                "setup profile: ksp",
                "setup profile: K S P",
                "`setup profile`: expected a profile name",
            ),
        ];
        for (from, to, problem) in cases {
            let text = good.replace(from, to);
            let (_, p) = Description::parse(text.as_bytes()).unwrap_err();
            assert!(p.starts_with(problem), "{to}: {p}");
        }
        let mut older = sample();
        older.setup = None;
        let text = older.render();
        assert!(!text.contains("setup"), "{text}");
        assert_eq!(Description::parse(text.as_bytes()).unwrap(), older);
    }

    /// Every truncation, and every byte replaced by a few others, parses or fails with a
    /// line number; whatever parses renders to text that parses to the same description.
    #[test]
    fn rejects_or_round_trips_every_truncation_and_mutation() {
        let text = sample().render().into_bytes();
        let lines = text.iter().filter(|&&b| b == b'\n').count() + 1;
        let check = |bytes: &[u8]| match Description::parse(bytes) {
            Ok(d) => assert_eq!(Description::parse(d.render().as_bytes()), Ok(d)),
            Err((line, problem)) => assert!(line <= lines && !problem.is_empty()),
        };
        for n in 0..text.len() {
            check(&text[..n]);
        }
        for i in 0..text.len() {
            for b in [0u8, b'\n', b':', b'"', b'\\', b'x', 0xff] {
                let mut bytes = text.clone();
                bytes[i] = b;
                check(&bytes);
            }
        }
    }

    #[test]
    fn names_every_mismatch_with_the_shares() {
        let d = sample();
        let mut a = d.attributes();
        assert!(d.mismatches(&a, [0x0a, 0xbc, 0xde]).is_empty());
        a.domains = Domains(1);
        a.delegated = Some(Capabilities::SIGN_ECDSA);
        assert_eq!(
            d.mismatches(&a, [0, 0, 0]),
            [
                "domains: the shares give 1, the description says 1:3",
                "delegated capabilities: the shares give sign-ecdsa, the description says \
                 sign-ecdsa,0x1000000000000000",
                "key check value: the shares give 000000, the description says 0abcde",
            ]
        );
    }
}
