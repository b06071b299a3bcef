//! Errors of the share layer. Shares are secret, so no message quotes a share's text or
//! bytes: a share is named by its 1-based position in the input ("share 3") and a fault
//! inside it by a character position or a count.

use core::fmt;

use super::ShareFormat;

/// What is wrong with the text of one share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShareProblem {
    /// Nothing but whitespace.
    Empty,
    /// Not of the form `<threshold>-<index>-<data>`.
    NotThreeFields,
    /// The threshold is not a single digit.
    BadThreshold,
    /// The threshold is a digit, but not one this format allows.
    ThresholdOutOfRange { threshold: u8, format: ShareFormat },
    /// The index is not a single digit.
    BadIndex,
    /// Index 0: x = 0 is where the secret itself sits.
    IndexZero,
    /// Nothing after the index.
    NoData,
    /// A character outside the format's alphabet, at this 1-based position counted from
    /// the first non-blank character of the share.
    BadCharacter { position: usize },
    /// The data part has a length no share of `format` has (`format` is a guess from the
    /// alphabet: all hex digits suggests yubihsm-manager).
    WrongLength { format: ShareFormat, got: usize },
    /// The last base64 character carries non-zero padding bits, which no encoder writes:
    /// the character was mistyped.
    NonCanonical { position: usize },
}

impl fmt::Display for ShareProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Empty => f.write_str("empty"),
            Self::NotThreeFields => f.write_str("expected <threshold>-<index>-<data>"),
            Self::BadThreshold => {
                f.write_str("the threshold (before the first '-') must be a single digit")
            }
            Self::ThresholdOutOfRange { threshold, format } => write!(
                f,
                "threshold {threshold} is not valid for a {format} share ({} to 9)",
                format.min_threshold()
            ),
            Self::BadIndex => f.write_str("the index (between the two '-') must be a single digit"),
            Self::IndexZero => f.write_str("index 0 is not valid (shares are numbered 1 to 9)"),
            Self::NoData => f.write_str("no data after the index"),
            Self::BadCharacter { position } => write!(f, "bad character at position {position}"),
            Self::WrongLength { format: ShareFormat::YubihsmSetup, got } => write!(
                f,
                "wrong length: {got} characters after the index, expected 70 \
                 (yubihsm-setup share, base64)"
            ),
            Self::WrongLength { format: ShareFormat::YubihsmManager, got } => write!(
                f,
                "wrong length: {got} hex digits after the index, expected 72, 88 or 104 \
                 (yubihsm-manager share)"
            ),
            Self::NonCanonical { position } => write!(
                f,
                "bad character at position {position}: no yubihsm-setup share ends with it \
                 (probably mistyped)"
            ),
        }
    }
}

/// Why shares could not be parsed, combined or made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShareError {
    /// The text of a share is malformed. `share` is its 1-based position in the input,
    /// when known.
    Malformed { share: Option<usize>, problem: ShareProblem },
    /// `combine` was given no share at all.
    NoShares,
    /// Share `share` is of another format than share 1.
    MixedFormats { share: usize, first: ShareFormat, found: ShareFormat },
    /// Share `share` has another threshold than share 1.
    MixedThresholds { share: usize, first: u8, found: u8 },
    /// Share `share` holds another number of bytes than share 1.
    MixedLengths { share: usize, first: usize, found: usize },
    /// Share `share` is share `first` entered again.
    SameShare { share: usize, first: usize },
    /// Share `share` has the index of share `first` but other data.
    DuplicateIndex { share: usize, first: usize, index: u8 },
    /// Share `share` has the data of share `first` under another index (a copy-paste
    /// error: two points of a random polynomial practically never agree on every byte).
    DuplicateData { share: usize, first: usize },
    /// Fewer shares than the threshold.
    TooFewShares { have: usize, need: u8 },
    /// Share `share`, beyond the threshold, does not lie on the polynomial through the
    /// first `threshold` shares: one of these shares is wrong.
    Inconsistent { share: usize, threshold: u8 },
    /// A secret that is not a 20-byte prefix and a 16, 24 or 32-byte key.
    BadSecretLength { len: usize },
    /// A wrap key that is not 16, 24 or 32 bytes.
    BadKeyLength { len: usize },
    /// The format cannot carry a key of this length (yubihsm-setup: 32 bytes only).
    KeyLengthNotSupported { format: ShareFormat, len: usize },
    /// A split threshold outside 2..=9.
    InvalidThreshold { threshold: u8 },
    /// A split share count below the threshold or above 9.
    InvalidCount { count: u8, threshold: u8 },
    /// A coefficient row of `split_with_coefficients` whose length is not the secret's.
    CoefficientLength { row: usize, len: usize, expected: usize },
}

impl ShareError {
    /// The 1-based position of the share this error is about, if it is about one.
    pub fn share(&self) -> Option<usize> {
        match *self {
            Self::Malformed { share, .. } => share,
            Self::MixedFormats { share, .. }
            | Self::MixedThresholds { share, .. }
            | Self::MixedLengths { share, .. }
            | Self::SameShare { share, .. }
            | Self::DuplicateIndex { share, .. }
            | Self::DuplicateData { share, .. }
            | Self::Inconsistent { share, .. } => Some(share),
            _ => None,
        }
    }

    /// This error, about the share at 1-based `position` (for a malformed share).
    pub fn at_share(self, position: usize) -> Self {
        match self {
            Self::Malformed { problem, .. } => Self::Malformed { share: Some(position), problem },
            other => other,
        }
    }
}

impl fmt::Display for ShareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Malformed { share: Some(share), problem } => {
                write!(f, "share {share}: {problem}")
            }
            Self::Malformed { share: None, problem } => write!(f, "malformed share: {problem}"),
            Self::NoShares => f.write_str("no shares given"),
            Self::MixedFormats { share, first, found } => write!(
                f,
                "share {share} is a {found} share but share 1 is a {first} share; \
                 the two formats cannot be mixed"
            ),
            Self::MixedThresholds { share, first, found } => write!(
                f,
                "share {share} has threshold {found} but share 1 has threshold {first}; \
                 shares of different splits cannot be combined"
            ),
            Self::MixedLengths { share, first, found } => write!(
                f,
                "share {share} holds {found} bytes but share 1 holds {first}; \
                 shares of different keys cannot be combined"
            ),
            Self::SameShare { share, first } => {
                write!(f, "share {share} is share {first} again; enter each share once")
            }
            Self::DuplicateIndex { share, first, index } => write!(
                f,
                "share {share} has index {index}, like share {first}; \
                 each share must have a different index"
            ),
            Self::DuplicateData { share, first } => write!(
                f,
                "share {share} holds the same data as share {first} under another index; \
                 probably a copy-paste error"
            ),
            Self::TooFewShares { have, need } => write!(
                f,
                "{have} share(s) given but the threshold is {need}: {} more needed",
                usize::from(need).saturating_sub(have)
            ),
            Self::Inconsistent { share, threshold } => write!(
                f,
                "share {share} does not fit the first {threshold} share(s): share {share} or one \
                 of shares 1 to {threshold} is wrong (mistyped or from another split)"
            ),
            Self::BadSecretLength { len } => write!(
                f,
                "secret of {len} bytes; expected 36, 44 or 52 \
                 (a 20-byte header and a 16, 24 or 32-byte key)"
            ),
            Self::BadKeyLength { len } => {
                write!(f, "wrap key of {len} bytes; expected 16, 24 or 32")
            }
            Self::KeyLengthNotSupported { format, len } => write!(
                f,
                "{format} shares carry only a 32-byte (AES-256) wrap key, not {len} bytes"
            ),
            Self::InvalidThreshold { threshold } => write!(
                f,
                "threshold {threshold} is not allowed: it must be 2 to 9 \
                 (with threshold 1 every share holds the key in clear)"
            ),
            Self::InvalidCount { count, threshold } => write!(
                f,
                "cannot make {count} shares with threshold {threshold}: \
                 the number of shares must be from the threshold to 9"
            ),
            Self::CoefficientLength { row, len, expected } => {
                write!(f, "coefficient row {row} has {len} bytes; expected {expected}")
            }
        }
    }
}

impl core::error::Error for ShareError {}
