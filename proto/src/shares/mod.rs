//! Wrap-key shares (docs/PROTOCOL.md §6): the wrap key and its attributes ([`WrapKeySecret`])
//! split with Shamir's scheme over GF(2^8), byte by byte, in either of Yubico's formats:
//!
//! | format | field | text |
//! |---|---|---|
//! | yubihsm-setup | 0x11D | `k-i-` + 70 base64 characters (no padding) = 52 bytes |
//! | yubihsm-manager | 0x11B | `k-i-` + 72, 88 or 104 hex digits = 36, 44 or 52 bytes |
//!
//! Share `i` is the value of the polynomials at x = i; the secret is their value at 0.
//!
//! **Telling the formats apart.** The data part decides, by length first: exactly 70
//! characters of the base64 alphabet is yubihsm-setup (even when all 70 happen to be hex
//! digits); 72, 88 or 104 characters is yubihsm-manager and must then be hex digits. No
//! manager length is 70, so the rule is unambiguous, although a manager share is valid
//! base64 text too.
//!
//! **Thresholds.** yubihsm-setup accepts threshold 1 (every share is then the secret in
//! clear), so such shares parse and combine. yubihsm-manager refuses threshold 1, and so
//! does [`split`] for both formats. Indexes and thresholds are single digits, so there are
//! at most nine shares.
//!
//! **Combining** uses the first `threshold` shares; every further share must lie on the
//! polynomial they define, which detects a mistyped share whenever more shares than the
//! threshold are entered (neither Yubico tool checks anything).
//!
//! **Splitting** draws every coefficient uniformly, except that the highest one is never
//! zero (a zero would let fewer shares than the threshold recover that byte).
//! yubihsm-manager instead draws only *odd* coefficients (vsss-rs `Gf256::random`); that
//! is deliberately not copied: with odd coefficients `t` shares narrow each secret byte
//! down to as few as 2^(8−t) candidates, while uniform ones reveal nothing. The manager's
//! own recovery does not look at the coefficients, so it accepts these shares.

mod check;
mod error;
pub mod gf256;
mod wrap_key;

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use rand_core::CryptoRng;
use zeroize::{Zeroize, Zeroizing};

pub use self::check::{KCV_CONTEXT, KCV_LEN, SHARE_CHECK_CONTEXT, SHARE_CHECK_LEN};
pub use self::error::{ShareError, ShareProblem};
use self::gf256::Field;
pub use self::wrap_key::WrapKeySecret;
use crate::object::ParseError;
use crate::secret::{SecretBytes, ct_eq};

/// The most shares a split can have: thresholds and indexes are single digits.
pub const MAX_SHARES: u8 = 9;

/// The length of the `k-i-` head before a share's data.
const HEAD_LEN: usize = 4;

/// The two share formats of docs/PROTOCOL.md §6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShareFormat {
    /// yubihsm-setup: GF(2^8)/0x11D, base64 without padding, AES-256 keys only.
    YubihsmSetup,
    /// yubihsm-manager: GF(2^8)/0x11B, lowercase hex, AES-128/192/256 keys.
    YubihsmManager,
}

impl ShareFormat {
    /// Both formats.
    pub const ALL: [Self; 2] = [Self::YubihsmSetup, Self::YubihsmManager];

    /// The name of the tool that writes this format: `yubihsm-setup` or `yubihsm-manager`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::YubihsmSetup => "yubihsm-setup",
            Self::YubihsmManager => "yubihsm-manager",
        }
    }

    /// The field the polynomials live in.
    pub const fn field(self) -> Field {
        match self {
            Self::YubihsmSetup => Field::SETUP,
            Self::YubihsmManager => Field::MANAGER,
        }
    }

    /// How the data part is written.
    pub const fn alphabet(self) -> &'static str {
        match self {
            Self::YubihsmSetup => "base64 (standard alphabet, no padding)",
            Self::YubihsmManager => "lowercase hex",
        }
    }

    /// The smallest threshold a share of this format may carry.
    pub const fn min_threshold(self) -> u8 {
        match self {
            Self::YubihsmSetup => 1,
            Self::YubihsmManager => 2,
        }
    }

    /// The wrap-key lengths this format can carry.
    pub const fn key_lengths(self) -> &'static [usize] {
        match self {
            // yubihsm-setup only makes AES-256 wrap keys and expects a 52-byte secret.
            Self::YubihsmSetup => &[32],
            Self::YubihsmManager => &[16, 24, 32],
        }
    }

    /// The data length in bytes for a data part of `chars` characters, if this format has
    /// such shares.
    fn data_len(self, chars: usize) -> Option<usize> {
        match (self, chars) {
            (Self::YubihsmSetup, 70) => Some(52),
            (Self::YubihsmManager, 72 | 88 | 104) => Some(chars / 2),
            _ => None,
        }
    }
}

impl fmt::Display for ShareFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Accepts the names printed by `Display`.
impl FromStr for ShareFormat {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|f| f.name() == s.trim())
            .ok_or(ParseError { what: "share format" })
    }
}

/// One share: a point `(index, data)` on the byte-wise polynomials of a split.
///
/// Built only by [`Share::parse`] and [`split`], so the threshold, index and data length
/// are always valid for the format.
#[derive(Clone, PartialEq, Eq)]
pub struct Share {
    format: ShareFormat,
    threshold: u8,
    index: u8,
    data: SecretBytes,
}

impl Share {
    /// Parses the text of one share, `<threshold>-<index>-<data>`, ignoring surrounding
    /// whitespace; the format is detected from the data part (see the module docs). Errors
    /// carry no share position; use [`parse_shares`] or [`ShareError::at_share`] for that.
    pub fn parse(text: &str) -> Result<Self, ShareError> {
        parse_text(text).map_err(|problem| ShareError::Malformed { share: None, problem })
    }

    /// The format, detected from the text or chosen at split.
    pub fn format(&self) -> ShareFormat {
        self.format
    }

    /// How many shares recover the secret.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// The x coordinate, 1 to 9.
    pub fn index(&self) -> u8 {
        self.index
    }

    /// The y coordinates, one per secret byte.
    pub fn data(&self) -> &SecretBytes {
        &self.data
    }

    /// The canonical text: base64 without padding (yubihsm-setup) or lowercase hex
    /// (yubihsm-manager). It is as secret as the share.
    pub fn render(&self) -> Zeroizing<String> {
        let data = self.data.expose_secret();
        let mut payload = Zeroizing::new(match self.format {
            ShareFormat::YubihsmSetup => {
                vec![0u8; base64::encoded_len(data.len(), false).unwrap_or(0)]
            }
            ShareFormat::YubihsmManager => vec![0u8; 2 * data.len()],
        });
        // Encoding into a slice of exactly the right size cannot fail; neither error path
        // is reachable for the lengths `Share` allows.
        let encoded = match self.format {
            ShareFormat::YubihsmSetup => STANDARD_NO_PAD.encode_slice(data, &mut payload).is_ok(),
            ShareFormat::YubihsmManager => hex::encode_to_slice(data, &mut payload).is_ok(),
        };
        if !encoded {
            payload.zeroize();
        }
        // Pushed into an exact capacity, so the string never reallocates (and leaves no
        // copy behind).
        let mut text = Zeroizing::new(String::with_capacity(HEAD_LEN + payload.len()));
        text.push(char::from(b'0' + self.threshold));
        text.push('-');
        text.push(char::from(b'0' + self.index));
        text.push('-');
        text.extend(payload.iter().map(|&b| char::from(b)));
        text
    }
}

/// Shows the public parts only.
impl fmt::Debug for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Share")
            .field("format", &self.format)
            .field("threshold", &self.threshold)
            .field("index", &self.index)
            .field("data", &self.data)
            .finish()
    }
}

impl FromStr for Share {
    type Err = ShareError;

    fn from_str(s: &str) -> Result<Self, ShareError> {
        Self::parse(s)
    }
}

/// Parses several shares; an error names the share by its 1-based position.
pub fn parse_shares<S: AsRef<str>>(texts: &[S]) -> Result<Vec<Share>, ShareError> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| Share::parse(text.as_ref()).map_err(|e| e.at_share(i + 1)))
        .collect()
}

fn single_digit(field: &str) -> Option<u8> {
    match field.as_bytes() {
        &[d] if d.is_ascii_digit() => Some(d - b'0'),
        _ => None,
    }
}

fn is_base64(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '+' || c == '/'
}

fn parse_text(text: &str) -> Result<Share, ShareProblem> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ShareProblem::Empty);
    }
    let mut fields = text.splitn(3, '-');
    let (Some(threshold), Some(index), Some(payload)) =
        (fields.next(), fields.next(), fields.next())
    else {
        return Err(ShareProblem::NotThreeFields);
    };
    let threshold = single_digit(threshold).ok_or(ShareProblem::BadThreshold)?;
    let index = single_digit(index).ok_or(ShareProblem::BadIndex)?;
    if payload.is_empty() {
        return Err(ShareProblem::NoData);
    }
    // Positions are 1-based and count characters from the start of the trimmed share.
    let position = |offset: usize| HEAD_LEN + offset + 1;
    if let Some(bad) = payload.chars().position(|c| !is_base64(c)) {
        return Err(ShareProblem::BadCharacter { position: position(bad) });
    }
    // From here on the payload is ASCII, so bytes are characters.
    let first_non_hex = payload.bytes().position(|b| !b.is_ascii_hexdigit());
    let format = if ShareFormat::YubihsmSetup.data_len(payload.len()).is_some() {
        ShareFormat::YubihsmSetup
    } else if ShareFormat::YubihsmManager.data_len(payload.len()).is_some() {
        if let Some(bad) = first_non_hex {
            return Err(ShareProblem::BadCharacter { position: position(bad) });
        }
        ShareFormat::YubihsmManager
    } else {
        let format = match first_non_hex {
            None => ShareFormat::YubihsmManager,
            Some(_) => ShareFormat::YubihsmSetup,
        };
        return Err(ShareProblem::WrongLength { format, got: payload.len() });
    };
    if threshold < format.min_threshold() {
        return Err(ShareProblem::ThresholdOutOfRange { threshold, format });
    }
    if index == 0 {
        return Err(ShareProblem::IndexZero);
    }
    let data = decode(format, payload)
        .ok_or(ShareProblem::NonCanonical { position: position(payload.len() - 1) })?;
    Ok(Share { format, threshold, index, data })
}

/// Decodes a payload whose alphabet and length have been checked. `None` only for a
/// base64 payload whose last character has padding bits set.
fn decode(format: ShareFormat, payload: &str) -> Option<SecretBytes> {
    let len = format.data_len(payload.len())?;
    let decoded = match format {
        ShareFormat::YubihsmSetup => {
            // The base64 engine wants room for its estimate (54), not the exact 52.
            let mut out = Zeroizing::new(vec![0u8; base64::decoded_len_estimate(payload.len())]);
            let written = STANDARD_NO_PAD.decode_slice(payload, &mut out).ok();
            out.truncate(len);
            (written == Some(len)).then_some(out)
        }
        ShareFormat::YubihsmManager => {
            let mut out = Zeroizing::new(vec![0u8; len]);
            hex::decode_to_slice(payload, &mut out).ok().map(|()| out)
        }
    };
    // Moves the allocation into the secret container; the emptied `Zeroizing` keeps none.
    decoded.map(|mut out| SecretBytes::new(core::mem::take(&mut *out)))
}

/// What [`combine`] recovers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    pub secret: WrapKeySecret,
    pub format: ShareFormat,
    pub threshold: u8,
    /// How many shares were combined: the threshold, or more (each one beyond the
    /// threshold was checked against the others, so a mistyped share was caught).
    pub combined: usize,
}

/// Recovers the secret from at least `threshold` shares of one split, checking every share
/// beyond the threshold against the others. Errors name the offending share by its 1-based
/// position in `shares`.
pub fn combine(shares: &[Share]) -> Result<Recovered, ShareError> {
    let first = shares.first().ok_or(ShareError::NoShares)?;
    let (format, threshold, len) = (first.format, first.threshold, first.data.len());
    for (i, share) in shares.iter().enumerate() {
        let position = i + 1;
        if share.format != format {
            return Err(ShareError::MixedFormats {
                share: position,
                first: format,
                found: share.format,
            });
        }
        if share.threshold != threshold {
            return Err(ShareError::MixedThresholds {
                share: position,
                first: threshold,
                found: share.threshold,
            });
        }
        if share.data.len() != len {
            return Err(ShareError::MixedLengths {
                share: position,
                first: len,
                found: share.data.len(),
            });
        }
        for (j, earlier) in shares.iter().take(i).enumerate() {
            let same_data = earlier.data == share.data;
            if earlier.index == share.index {
                return Err(if same_data {
                    ShareError::SameShare { share: position, first: j + 1 }
                } else {
                    ShareError::DuplicateIndex { share: position, first: j + 1, index: share.index }
                });
            }
            // With threshold 1 every share is the secret itself, so equal data is expected.
            if same_data && threshold > 1 {
                return Err(ShareError::DuplicateData { share: position, first: j + 1 });
            }
        }
    }
    let (basis, extra) = shares
        .split_at_checked(usize::from(threshold))
        .ok_or(ShareError::TooFewShares { have: shares.len(), need: threshold })?;
    let field = format.field();
    let xs: Vec<u8> = basis.iter().map(|s| s.index).collect();
    let secret = evaluate(field, basis, &xs, 0, len)?;
    for (i, share) in extra.iter().enumerate() {
        let expected = evaluate(field, basis, &xs, share.index, len)?;
        if !ct_eq(&expected, share.data.expose_secret()) {
            return Err(ShareError::Inconsistent { share: basis.len() + i + 1, threshold });
        }
    }
    let secret = WrapKeySecret::from_bytes(&secret)?;
    if !format.key_lengths().contains(&secret.key().len()) {
        return Err(ShareError::KeyLengthNotSupported { format, len: secret.key().len() });
    }
    Ok(Recovered { secret, format, threshold, combined: shares.len() })
}

/// The value at `at` of the byte-wise polynomials through the points `(xs[i], basis[i])`.
fn evaluate(
    field: Field,
    basis: &[Share],
    xs: &[u8],
    at: u8,
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, ShareError> {
    // Unreachable: `combine` has checked that the indexes are distinct and non-empty.
    let weights = field.lagrange_weights(xs, at).ok_or(ShareError::NoShares)?;
    let mut out = Zeroizing::new(vec![0u8; len]);
    for (&weight, share) in weights.iter().zip(basis) {
        for (acc, &y) in out.iter_mut().zip(share.data.expose_secret()) {
            *acc ^= field.mul(weight, y);
        }
    }
    Ok(out)
}

/// Splits `secret` into `count` shares of `format`, any `threshold` of which recover it.
/// `2 <= threshold <= count <= 9`; yubihsm-setup shares need a 32-byte key.
pub fn split<R: CryptoRng + ?Sized>(
    secret: &WrapKeySecret,
    threshold: u8,
    count: u8,
    format: ShareFormat,
    rng: &mut R,
) -> Result<Vec<Share>, ShareError> {
    check_split(secret, threshold, count, format)?;
    let len = WrapKeySecret::PREFIX_LEN + secret.key().len();
    let rows = usize::from(threshold) - 1;
    let mut coefficients = Zeroizing::new(vec![0u8; rows * len]);
    rng.fill_bytes(&mut coefficients);
    // The highest coefficient is the last row. Redrawing until non-zero leaks nothing: the
    // number of draws is independent of the value finally kept.
    let top_start = (rows - 1) * len;
    let mut draw = Zeroizing::new([0u8; 1]);
    for c in coefficients.iter_mut().skip(top_start) {
        while *c == 0 {
            rng.fill_bytes(&mut *draw);
            *c = draw[0];
        }
    }
    let rows: Vec<&[u8]> = coefficients.chunks(len).collect();
    Ok(evaluate_polynomials(secret, &rows, threshold, count, format))
}

/// Splits `secret` with the given coefficients, for known-answer tests: `coefficients[t]`
/// holds coefficient t+1 of every byte's polynomial (coefficient 0 is the secret), so the
/// threshold is `coefficients.len() + 1`. Same limits as [`split`].
pub fn split_with_coefficients<C: AsRef<[u8]>>(
    secret: &WrapKeySecret,
    coefficients: &[C],
    count: u8,
    format: ShareFormat,
) -> Result<Vec<Share>, ShareError> {
    let threshold = u8::try_from(coefficients.len() + 1).unwrap_or(u8::MAX);
    check_split(secret, threshold, count, format)?;
    let expected = WrapKeySecret::PREFIX_LEN + secret.key().len();
    let rows: Vec<&[u8]> = coefficients.iter().map(AsRef::as_ref).collect();
    if let Some((row, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != expected) {
        return Err(ShareError::CoefficientLength { row: row + 1, len: r.len(), expected });
    }
    Ok(evaluate_polynomials(secret, &rows, threshold, count, format))
}

fn check_split(
    secret: &WrapKeySecret,
    threshold: u8,
    count: u8,
    format: ShareFormat,
) -> Result<(), ShareError> {
    if !format.key_lengths().contains(&secret.key().len()) {
        return Err(ShareError::KeyLengthNotSupported { format, len: secret.key().len() });
    }
    if !(2..=MAX_SHARES).contains(&threshold) {
        return Err(ShareError::InvalidThreshold { threshold });
    }
    if !(threshold..=MAX_SHARES).contains(&count) {
        return Err(ShareError::InvalidCount { count, threshold });
    }
    Ok(())
}

/// Shares 1..=count: for each byte, `secret + c1·x + c2·x² + …` at x = index.
fn evaluate_polynomials(
    secret: &WrapKeySecret,
    rows: &[&[u8]],
    threshold: u8,
    count: u8,
    format: ShareFormat,
) -> Vec<Share> {
    let field = format.field();
    let secret = secret.to_bytes();
    (1..=count)
        .map(|x| {
            // Horner's rule, highest coefficient first, over all bytes at once.
            let mut y = Zeroizing::new(vec![0u8; secret.len()]);
            for row in rows.iter().rev().copied().chain([secret.as_slice()]) {
                for (acc, &c) in y.iter_mut().zip(row) {
                    *acc = field.mul(*acc, x) ^ c;
                }
            }
            let data = SecretBytes::new(core::mem::take(&mut *y));
            Share { format, threshold, index: x, data }
        })
        .collect()
}

#[cfg(test)]
mod tests;
