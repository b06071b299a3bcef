//! Where a wrap key comes from (docs/PROTOCOL.md §5, §6): a key file (raw or hex), hex on the
//! command line, or wrap-key shares ([`shares`]).

pub mod shares;

use std::fmt;
use std::path::{Path, PathBuf};

use yhsm_proto::wrap::{WrapError, WrapKey};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::util::files;
use crate::util::prompt::Prompter;

use self::shares::RecoveredKey;

/// A wrap key source from the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WrapKeySource {
    /// `--wrap-key-file FILE`: 16, 24 or 32 raw bytes, or their hex.
    File(PathBuf),
    /// `--wrap-key HEX`.
    Hex(Zeroizing<String>),
    /// `--shares-file FILE`, once or once per custodian (`-` for standard input, typed
    /// without echo when it is a terminal).
    SharesFiles(Vec<PathBuf>),
}

/// The hint for a command given no wrap key.
pub const NO_WRAP_KEY_HINT: &str = "use --wrap-key-file FILE, --wrap-key HEX or --shares-file FILE";

/// Printed when `--wrap-key` is used.
pub const WRAP_KEY_ARGUMENT_WARNING: &str = "a wrap key given with --wrap-key is visible to \
    other users in the process list and stays in your shell history; prefer --wrap-key-file";

/// A loaded wrap key, with the attributes the shares carried when it came from shares.
#[derive(Debug)]
pub struct LoadedWrapKey {
    pub key: WrapKey,
    pub recovered: Option<RecoveredKey>,
}

/// Loads the key from `source`; `prompter` reads shares typed at a terminal
/// (`--shares-file -` on a terminal).
pub fn load(source: &WrapKeySource, prompter: &mut dyn Prompter) -> Result<LoadedWrapKey> {
    match source {
        WrapKeySource::File(path) => {
            Ok(LoadedWrapKey { key: read_key_file(path)?, recovered: None })
        }
        WrapKeySource::Hex(text) => {
            let key = parse_key_bytes(text.as_bytes(), false)
                .map_err(|problem| Error::usage(format!("--wrap-key: {problem}")))?;
            Ok(LoadedWrapKey { key, recovered: None })
        }
        WrapKeySource::SharesFiles(paths) => {
            let recovered = shares::combine_files(paths, prompter)?;
            Ok(LoadedWrapKey { key: recovered.wrap_key()?, recovered: Some(recovered) })
        }
    }
}

/// Loads the key from `source`, or with none given recovers it from shares typed at
/// `prompter` (`inspect` and `verify` without a key option).
pub fn load_or_prompt(
    source: Option<&WrapKeySource>,
    prompter: &mut dyn Prompter,
) -> Result<LoadedWrapKey> {
    if let Some(source) = source {
        return load(source, prompter);
    }
    let recovered = shares::combine_prompted(prompter)?;
    Ok(LoadedWrapKey { key: recovered.wrap_key()?, recovered: Some(recovered) })
}

/// Reads a wrap key file: 16, 24 or 32 raw bytes, or that many bytes in hex (surrounding
/// whitespace ignored).
pub fn read_key_file(path: &Path) -> Result<WrapKey> {
    let bytes = files::read_file(path, "wrap key file")?;
    parse_key_bytes(&bytes, true)
        .map_err(|problem| Error::failure(format!("wrap key file `{}`: {problem}", path.display())))
}

/// Why bytes are not a wrap key. Never quotes them.
#[derive(Debug)]
pub enum KeyError {
    /// Hex digits, as many as no wrap key has.
    HexDigits(usize),
    /// A raw key of a length no wrap key has.
    Length(usize),
    /// Not hex, where only hex is taken (`--wrap-key`).
    NotHex,
    /// A key of a valid length the wrap code still refuses.
    Invalid(WrapError),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HexDigits(n) => write!(
                f,
                "{n} hex digits; a wrap key is 32, 48 or 64 hex digits (16, 24 or 32 bytes)"
            ),
            Self::Length(n) => write!(
                f,
                "{n} bytes; expected a raw key of 16, 24 or 32 bytes, or 32, 48 or 64 hex digits"
            ),
            Self::NotHex => {
                f.write_str("expected 32, 48 or 64 hex digits (a 16, 24 or 32-byte key)")
            }
            Self::Invalid(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for KeyError {}

/// The key in `bytes`. Hex is tried first: a raw random key that is nothing but hex digits
/// is vanishingly unlikely, whereas a 16-byte key written as 32 hex digits without a
/// newline is also 32 bytes long and must not be taken as a raw AES-256 key.
fn parse_key_bytes(bytes: &[u8], raw_allowed: bool) -> Result<WrapKey, KeyError> {
    let trimmed = bytes.trim_ascii();
    if !trimmed.is_empty() && trimmed.iter().all(u8::is_ascii_hexdigit) {
        if trimmed.len().is_multiple_of(2) && matches!(trimmed.len() / 2, 16 | 24 | 32) {
            let decoded = Zeroizing::new(hex::decode(trimmed).unwrap_or_default());
            return WrapKey::new(&decoded).map_err(KeyError::Invalid);
        }
        if !raw_allowed || !matches!(bytes.len(), 16 | 24 | 32) {
            return Err(KeyError::HexDigits(trimmed.len()));
        }
    }
    if raw_allowed && matches!(bytes.len(), 16 | 24 | 32) {
        return WrapKey::new(bytes).map_err(KeyError::Invalid);
    }
    Err(if raw_allowed { KeyError::Length(bytes.len()) } else { KeyError::NotHex })
}

#[cfg(test)]
mod tests {
    use super::*;
    use yhsm_proto::Algorithm;

    fn parse(bytes: &[u8]) -> Result<Algorithm, String> {
        parse_key_bytes(bytes, true).map(|k| k.algorithm()).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_raw_and_hex_keys() {
        assert_eq!(parse(&[0xfe; 16]), Ok(Algorithm::AES128_CCM_WRAP));
        assert_eq!(parse(&[0xfe; 24]), Ok(Algorithm::AES192_CCM_WRAP));
        assert_eq!(parse(&[0xfe; 32]), Ok(Algorithm::AES256_CCM_WRAP));
        let hex32 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
        assert_eq!(parse(hex32.as_bytes()), Ok(Algorithm::AES256_CCM_WRAP));
        assert_eq!(parse(format!("  {hex32}\r\n").as_bytes()), Ok(Algorithm::AES256_CCM_WRAP));
        // 32 hex digits without a newline: a 16-byte key, not a raw 32-byte one.
        assert_eq!(parse(&hex32.as_bytes()[..32]), Ok(Algorithm::AES128_CCM_WRAP));
        let key = parse_key_bytes(&hex32.as_bytes()[..32], true).unwrap();
        assert_eq!(key.expose_secret(), &hex::decode(&hex32[..32]).unwrap()[..]);
    }

    #[test]
    fn rejects_other_lengths_without_quoting_the_key() {
        let e = parse(&[0xfe; 31]).unwrap_err();
        assert!(e.contains("31 bytes"), "{e}");
        assert!(parse(b"0011").unwrap_err().contains("4 hex digits"));
        assert!(parse(b"").is_err());
        let e = parse_key_bytes(&[0xfe; 16], false).unwrap_err().to_string();
        assert!(e.contains("hex digits"), "{e}");
        let e = parse_key_bytes(b"zz", false).unwrap_err().to_string();
        assert!(!e.contains("zz"));
    }
}
