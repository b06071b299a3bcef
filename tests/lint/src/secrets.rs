//! The secrets lint (SECURITY.md "How it is checked"):
//!
//! 1. each type in [`CRATES`] that holds secret material keeps no raw `Vec<u8>`,
//!    `[u8; N]` or `String` outside the fields listed with it as public; anything else it
//!    holds must be a zeroizing container (`SecretArray`, `SecretBytes`, `Zeroizing`) or a
//!    type made of them, so that dropping it wipes the secret;
//! 2. no shipped line of these crates compares a value named like a MAC, R-MAC,
//!    cryptogram, receipt, tag, digest or MAC chain with `==` or `!=` (lengths aside): such
//!    values go through `yhsm_proto::secret::ct_eq`, whose use at every check the crates'
//!    `secrets` tests confirm at run time.

use std::path::Path;

use crate::source::{self, Finding};

/// `(type, fields that are raw bytes on purpose)`: public values (EC and ed25519 public
/// keys, the RSA modulus, challenges, ephemeral public keys, the connector's session tag,
/// prompt texts, a PEM label).
type Holders = &'static [(&'static str, &'static [&'static str])];

/// The crates linted, by directory, with their secret-holding types.
pub const CRATES: &[(&str, Holders)] = &[
    (
        "proto",
        &[
            ("StaticKeys", &[]),
            ("SessionKeys", &[]),
            ("Channel", &[]),
            ("ClientHandshake", &["host_challenge"]),
            ("Authenticating", &[]),
            ("ClientSession", &[]),
            ("AsymmetricClientHandshake", &["epk_oce"]),
            ("DeviceHandshake", &["host_challenge", "card_challenge"]),
            ("DeviceSession", &[]),
            ("WrapKey", &[]),
            ("WrappedObject", &[]),
            ("Body", &["x", "y", "public", "n"]),
            ("WrapKeySecret", &[]),
            ("Share", &[]),
            ("Recovered", &[]),
            ("AuthenticationKey", &["x", "y"]),
            ("PutAuthenticationKey", &[]),
            ("ChangeAuthenticationKey", &[]),
            ("PutWrapKey", &[]),
            ("PutAsymmetricKey", &[]),
            ("PutHmacKey", &[]),
            ("PutSymmetricKey", &[]),
            // The CBC IV is sent in the clear.
            ("EncryptCbc", &["iv"]),
            ("DecryptCbcResponse", &[]),
            ("DecryptOaepResponse", &[]),
            ("PutOtpAeadKey", &[]),
            ("CreateOtpAead", &[]),
            ("PseudoRandom", &[]),
        ],
    ),
    // Key files: the keys are borrowed from the DER buffer, which the caller keeps in
    // `Zeroizing`; nothing holds a copy.
    ("keys", &[]),
    (
        "sim",
        &[
            ("Object", &[]),
            ("Done", &[]),
            ("Device", &[]),
            ("Slot", &[]),
            // An OTP credential, the OTP AEAD key (its nonce id is public), the device
            // attestation key (its certificate is public).
            ("Credential", &[]),
            ("AeadKey", &["nonce_id"]),
            ("DeviceAttestation", &["certificate"]),
        ],
    ),
    (
        "transport",
        &[
            ("Credentials", &[]),
            ("Secret", &[]),
            // The connector's session header value: random, not a key.
            ("Session", &["tag"]),
            ("Client", &[]),
        ],
    ),
    (
        "cli",
        &[
            ("Password", &[]),
            ("PasswordOptions", &[]),
            ("GlobalOptions", &[]),
            ("WrapKeySource", &[]),
            ("LoadedWrapKey", &[]),
            // Share check values are published on purpose (cli/README.md "Check values").
            ("RecoveredKey", &["share_checks"]),
            // The file each share came from, for messages; the shares are `Share`s.
            ("SharesFile", &["names"]),
            // Prompts and messages only; the answers are `Zeroizing`.
            ("ScriptedPrompter", &["transcript"]),
            // The PEM label (e.g. `PRIVATE KEY`) is not secret; the DER is `Zeroizing`.
            ("Block", &["label"]),
        ],
    ),
];

/// Every finding of the lint in the workspace at `root`.
pub fn check(root: &Path) -> Vec<Finding> {
    let mut out = Vec::new();
    for (dir, holders) in CRATES {
        let src = root.join(dir).join("src");
        out.extend(raw_buffers(&src, holders));
        out.extend(plain_comparisons(&src));
    }
    for f in &mut out {
        f.path =
            f.path.strip_prefix(root).map(Path::to_path_buf).unwrap_or_else(|_| f.path.clone());
    }
    out
}

/// Part 1 for the crate whose sources are `src`.
pub fn raw_buffers(src: &Path, holders: Holders) -> Vec<Finding> {
    let mut out = Vec::new();
    for (name, public) in holders {
        let found = source::items(src, name);
        let [(path, line, text)] = found.as_slice() else {
            out.push(Finding {
                path: src.to_path_buf(),
                line: 0,
                message: format!(
                    "{} definitions of `{name}`, expected one: update tests/lint/src/secrets.rs",
                    found.len()
                ),
            });
            continue;
        };
        for raw in ["Vec<u8>", "[u8;", "String"] {
            for (at, _) in text.match_indices(raw) {
                if text[..at].ends_with("Zeroizing<") {
                    continue;
                }
                // The field is the name before the last `: ` on the line (`key: Vec<u8>`,
                // `names: Vec<String>`, `Variant { x: [u8; 32], .. }`).
                let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                let head = &text[start..at];
                let head = head.rfind(": ").map_or(head, |colon| &head[..colon]);
                let field = head
                    .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .find(|t| !t.is_empty())
                    .unwrap_or_default();
                if !public.contains(&field) {
                    out.push(Finding {
                        path: path.clone(),
                        line: line + text[..at].matches('\n').count(),
                        message: format!(
                            "{name}.{field} is a raw `{raw}`: keep secrets in SecretArray, \
                             SecretBytes or Zeroizing, or list the field as public in \
                             tests/lint/src/secrets.rs"
                        ),
                    });
                }
            }
        }
    }
    out
}

/// Part 2 for the crate whose sources are `src`.
pub fn plain_comparisons(src: &Path) -> Vec<Finding> {
    let mut out = Vec::new();
    for path in source::files(src) {
        for (n, code) in source::lines(&path) {
            for op in ["==", "!="] {
                for (at, _) in code.match_indices(op) {
                    let left = operand(code[..at].split_whitespace().last().unwrap_or_default());
                    let right =
                        operand(code[at + 2..].split_whitespace().next().unwrap_or_default());
                    if is_check_value(left) || is_check_value(right) {
                        out.push(Finding {
                            path: path.clone(),
                            line: n,
                            message: format!(
                                "`{}` compares a check value with {op}; use ct_eq",
                                code.trim()
                            ),
                        });
                    }
                }
            }
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("yhsm-lint-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (file, text) in files {
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    #[test]
    fn names_of_check_values() {
        assert!(is_check_value("mac"));
        assert!(is_check_value("&expected_mac"));
        assert!(is_check_value("self.chain"));
        assert!(is_check_value("receipt"));
        assert!(!is_check_value("mac.len()"));
        assert!(!is_check_value("MAC_LEN"));
        assert!(!is_check_value("algorithm"));
        assert!(!is_check_value("TagNumber(0)"));
        assert!(!is_check_value("Ok(expected.len()"));
    }

    #[test]
    fn catches_a_plain_comparison_of_a_mac_in_shipped_code_only() {
        let dir = scratch(
            "eq",
            &[
                (
                    "a.rs",
                    "fn f() {\n    if mac != expected { return; }\n    let n = mac.len() == 8; // mac == x\n}\n#[cfg(test)]\nfn g() { mac == x; }\n",
                ),
                ("tests.rs", "fn h() { mac == x; }\n"),
                ("m/tests/b.rs", "fn h() { receipt == x; }\n"),
                ("m/c.rs", "fn k() { assert!(check(&self.chain) == ok); }\n"),
            ],
        );
        let found = plain_comparisons(&dir);
        let places: Vec<(String, usize)> = found
            .iter()
            .map(|f| (f.path.strip_prefix(&dir).unwrap().display().to_string(), f.line))
            .collect();
        assert_eq!(places, [("a.rs".to_owned(), 2), ("m/c.rs".to_owned(), 1)], "{found:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn catches_a_raw_buffer_in_a_secret_holder_and_a_lost_type() {
        let dir = scratch(
            "raw",
            &[(
                "k.rs",
                "pub struct Keys {\n    key: Vec<u8>,\n    public: [u8; 32],\n    wiped: Zeroizing<Vec<u8>>,\n}\npub enum Parts {\n    Ec { d: [u8; 32], x: Vec<u8> },\n}\n",
            )],
        );
        let found = raw_buffers(&dir, &[("Keys", &["public"]), ("Parts", &["x"]), ("Gone", &[])]);
        let messages: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(found.len(), 3, "{messages:#?}");
        assert!(messages[0].ends_with("k.rs:2: Keys.key is a raw `Vec<u8>`: keep secrets in SecretArray, SecretBytes or Zeroizing, or list the field as public in tests/lint/src/secrets.rs"), "{messages:#?}");
        assert!(messages[1].contains("k.rs:7: Parts.d is a raw `[u8;`"), "{messages:#?}");
        assert!(messages[2].contains("0 definitions of `Gone`"), "{messages:#?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
