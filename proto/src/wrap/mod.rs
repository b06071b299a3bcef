//! Wrapped objects, the `.yhw` files of yubihsm-setup and yubihsm-wrap (docs/PROTOCOL.md §5).
//!
//! - file ↔ blob: [`decode_file`], [`encode_file`]: base64 text ([`decode_text`],
//!   [`encode_text`]) or the raw bytes yubihsm-manager writes ([`Encoding`]);
//! - blob ↔ parts: [`WrappedBlob`] (`nonce(13) || ciphertext || tag(16)`);
//! - blob ↔ object: [`unwrap`] and [`wrap`] under a [`WrapKey`] (AES-CCM, no associated
//!   data), giving a [`WrappedObject`]: a 59-byte [`WrapHeader`] and a typed [`Body`].
//!
//! The plaintext is only ever held in zeroizing buffers, and nothing of it is released
//! when the tag does not verify.

mod body;
mod ed25519;
mod encoding;
mod header;

use alloc::vec::Vec;
use core::fmt;

use ccm::aead::array::Array;
use ccm::aead::{AeadInOut, KeyInit};
use ccm::consts::{U13, U16};
use zeroize::Zeroizing;

pub use body::Body;
pub use encoding::{
    Encoding, LINE_WIDTHS, MAX_BLOB_LEN, UTF8_BOM, decode_file, decode_text, encode_file,
    encode_text, is_text,
};
pub use header::WrapHeader;

use crate::codec::DecodeError;
use crate::object::Algorithm;
use crate::secret::SecretBytes;

/// The length of the CCM nonce that starts a blob.
pub const NONCE_LEN: usize = 13;
/// The length of the CCM tag that ends a blob.
pub const TAG_LEN: usize = 16;
/// The shortest possible blob: a nonce, a header with an empty body, a tag.
pub const MIN_BLOB_LEN: usize = NONCE_LEN + WrapHeader::LEN + TAG_LEN;
/// The longest plaintext CCM takes with a 13-byte nonce (a 2-byte length field).
pub const MAX_PLAINTEXT_LEN: usize = 0xffff;
/// Whether decoding an ecp256 body checks that its public point is d·G (and d in
/// [1, n-1]): true with the feature `p256`. Without it the point is kept unchecked, and a
/// caller that needs it proven compares it with the device's (GET_PUBLIC_KEY) instead.
pub const CHECKS_P256_PUBLIC_KEYS: bool = cfg!(feature = "p256");

/// Why a wrapped object could not be read or written. Messages name the part at fault and
/// never contain key or plaintext bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WrapError {
    /// The text is not standard base64 with padding (on one line, or wrapped at 64 or 76
    /// characters per line).
    NotBase64 {
        /// Byte offset in the text (surrounding whitespace included), when one byte is at fault.
        offset: Option<usize>,
        reason: &'static str,
    },
    /// The input is shorter than any valid one.
    TooShort { what: &'static str, len: usize, min: usize },
    /// The input is longer than AES-CCM with a 13-byte nonce (or a 16-bit length) allows.
    TooLong { what: &'static str, len: usize, max: usize },
    /// The tag did not verify: a wrong wrap key, or a corrupted blob.
    Authentication,
    /// The header names a wrap algorithm other than the one of the key it decrypted under.
    WrapAlgorithmMismatch { header: Algorithm, key_len: usize },
    /// The header's length field disagrees with the body.
    LengthMismatch { header: u16, body: usize },
    /// A typed body has a length its type and algorithm do not allow.
    BadBodyLength { what: &'static str, got: usize, expected: usize, or_expected: Option<usize> },
    /// A typed body is inconsistent, e.g. a public key that does not match the private key.
    BadBody { what: &'static str },
    /// A key has a length that is not allowed.
    BadKeyLength { what: &'static str, got: usize, allowed: &'static str },
    /// The header could not be decoded.
    Decode(DecodeError),
}

impl fmt::Display for WrapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NotBase64 { offset: Some(at), reason } => {
                write!(f, "not base64: {reason} at offset {at}")
            }
            Self::NotBase64 { offset: None, reason } => write!(f, "not base64: {reason}"),
            Self::TooShort { what, len, min } => {
                write!(f, "{what} is too short: {len} bytes, at least {min} needed")
            }
            Self::TooLong { what, len, max } => {
                write!(f, "{what} is too long: {len} bytes, at most {max} allowed")
            }
            Self::Authentication => f.write_str(
                "wrapped object does not decrypt under this key \
                 (wrong wrap key, or the file is corrupted)",
            ),
            Self::WrapAlgorithmMismatch { header, key_len } => write!(
                f,
                "wrapped object header names wrap algorithm {header}, \
                 but it decrypted under a {key_len}-byte key"
            ),
            Self::LengthMismatch { header, body } => write!(
                f,
                "wrapped object header gives a body length of {header} bytes, \
                 but the body has {body}"
            ),
            Self::BadBodyLength { what, got, expected, or_expected: None } => {
                write!(f, "{what}: {got} bytes, expected {expected}")
            }
            Self::BadBodyLength { what, got, expected, or_expected: Some(other) } => {
                write!(f, "{what}: {got} bytes, expected {expected} or {other}")
            }
            Self::BadBody { what } => write!(f, "invalid wrapped object body: {what}"),
            Self::BadKeyLength { what, got, allowed } => {
                write!(f, "{what}: {got} bytes, must be {allowed}")
            }
            Self::Decode(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for WrapError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Decode(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DecodeError> for WrapError {
    fn from(e: DecodeError) -> Self {
        Self::Decode(e)
    }
}

/// An AES wrap key of 16, 24 or 32 bytes, with its algorithm (aes128/192/256-ccm-wrap).
/// Zeroized on drop; `Debug` shows only the algorithm.
#[derive(Clone, PartialEq, Eq)]
pub struct WrapKey {
    key: SecretBytes,
    algorithm: Algorithm,
}

impl WrapKey {
    /// A wrap key from 16, 24 or 32 bytes.
    pub fn new(key: &[u8]) -> Result<Self, WrapError> {
        let algorithm = Algorithm::wrap_for_key_size(key.len()).ok_or(WrapError::BadKeyLength {
            what: "wrap key",
            got: key.len(),
            allowed: "16, 24 or 32 bytes",
        })?;
        Ok(Self { key: SecretBytes::from_slice(key), algorithm })
    }

    /// aes128-ccm-wrap, aes192-ccm-wrap or aes256-ccm-wrap.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key length in bytes (not secret).
    pub fn len(&self) -> usize {
        self.key.len()
    }

    /// Always false: a wrap key has 16, 24 or 32 bytes.
    pub fn is_empty(&self) -> bool {
        self.key.is_empty()
    }

    /// The key bytes.
    pub fn expose_secret(&self) -> &[u8] {
        self.key.expose_secret()
    }
}

impl fmt::Debug for WrapKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WrapKey({}, redacted)", self.algorithm)
    }
}

/// A blob split into its parts: `nonce(13) || ciphertext || tag(16)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedBlob {
    pub nonce: [u8; NONCE_LEN],
    /// The encrypted header and body.
    pub ciphertext: Vec<u8>,
    pub tag: [u8; TAG_LEN],
}

impl WrappedBlob {
    /// Splits a blob; it must hold at least a nonce, a 59-byte header and a tag.
    pub fn parse(blob: &[u8]) -> Result<Self, WrapError> {
        if blob.len() < MIN_BLOB_LEN {
            return Err(WrapError::TooShort {
                what: "wrapped blob (13-byte nonce, 59-byte header, body, 16-byte tag)",
                len: blob.len(),
                min: MIN_BLOB_LEN,
            });
        }
        let (nonce, rest) = blob.split_at_checked(NONCE_LEN).unwrap_or((&[], blob));
        let (ciphertext, tag) =
            rest.split_at_checked(rest.len().saturating_sub(TAG_LEN)).unwrap_or((rest, &[]));
        let mut out =
            Self { nonce: [0; NONCE_LEN], ciphertext: ciphertext.to_vec(), tag: [0; TAG_LEN] };
        out.nonce.copy_from_slice(nonce.get(..NONCE_LEN).unwrap_or(&[0; NONCE_LEN]));
        out.tag.copy_from_slice(tag.get(..TAG_LEN).unwrap_or(&[0; TAG_LEN]));
        Ok(out)
    }

    /// The blob: `nonce || ciphertext || tag`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(NONCE_LEN + self.ciphertext.len() + TAG_LEN);
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.ciphertext);
        out.extend_from_slice(&self.tag);
        out
    }
}

/// A decrypted wrapped object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedObject {
    pub header: WrapHeader,
    pub body: Body,
}

impl WrappedObject {
    /// The public part of an asymmetric key (EC `X || Y`, ed25519 public key, RSA
    /// modulus); `None` for other objects. Never reads a private field.
    pub fn public_key(&self) -> Option<Vec<u8>> {
        self.body.public_key()
    }
}

/// Decrypts and decodes a blob under `key`.
///
/// Fails with [`WrapError::Authentication`] for a wrong key or any changed bit, then checks
/// that the header's wrap algorithm is the key's, that its length field is the body's
/// length, and decodes the typed body ([`Body::decode`]).
pub fn unwrap(key: &WrapKey, blob: &[u8]) -> Result<WrappedObject, WrapError> {
    let parts = WrappedBlob::parse(blob)?;
    if parts.ciphertext.len() > MAX_PLAINTEXT_LEN {
        return Err(WrapError::TooLong {
            what: "wrapped blob ciphertext",
            len: parts.ciphertext.len(),
            max: MAX_PLAINTEXT_LEN,
        });
    }
    let mut plaintext = Zeroizing::new(parts.ciphertext);
    ccm_open(key, &parts.nonce, &mut plaintext, &parts.tag)?;

    let (header, body) =
        plaintext.split_at_checked(WrapHeader::LEN).ok_or(WrapError::TooShort {
            what: "wrapped object plaintext",
            len: plaintext.len(),
            min: WrapHeader::LEN,
        })?;
    let header = WrapHeader::decode(header)?;
    if header.wrap_algorithm != key.algorithm() {
        return Err(WrapError::WrapAlgorithmMismatch {
            header: header.wrap_algorithm,
            key_len: key.len(),
        });
    }
    if usize::from(header.length) != body.len() {
        return Err(WrapError::LengthMismatch { header: header.length, body: body.len() });
    }
    let body = Body::decode(header.object_type, header.algorithm, body)?;
    Ok(WrappedObject { header, body })
}

/// Encrypts `object` under `key` with the caller's `nonce` (13 random bytes, never reused
/// with the same key) and returns the blob.
///
/// The header's wrap algorithm is taken from the key and its length from the body; the
/// other header fields are written as given. The body must be one that [`unwrap`] accepts
/// for the header's type and algorithm.
pub fn wrap(
    key: &WrapKey,
    nonce: [u8; NONCE_LEN],
    object: &WrappedObject,
) -> Result<Vec<u8>, WrapError> {
    let body = object.body.to_bytes();
    let max = MAX_PLAINTEXT_LEN - WrapHeader::LEN;
    let length = u16::try_from(body.len())
        .ok()
        .filter(|_| body.len() <= max)
        .ok_or(WrapError::TooLong { what: "wrapped object body", len: body.len(), max })?;
    check_body_matches_header(object, &body)?;

    let header = WrapHeader { wrap_algorithm: key.algorithm(), length, ..object.header };
    let mut plaintext = Zeroizing::new(Vec::with_capacity(WrapHeader::LEN + body.len()));
    plaintext.extend_from_slice(&header.to_bytes());
    plaintext.extend_from_slice(&body);
    let tag = ccm_seal(key, &nonce, &mut plaintext)?;

    let blob = WrappedBlob { nonce, ciphertext: core::mem::take(&mut *plaintext), tag };
    Ok(blob.to_bytes())
}

/// Opens what WRAP_DATA answers (docs/PROTOCOL.md §7.6): `nonce(13) || ciphertext ||
/// tag(16)` of arbitrary data under `key`, the layout of a blob without a header. The
/// device encrypts a NUL byte before the data (UNWRAP_DATA checks it); it is checked and
/// dropped here, so the data comes back as it went in. Nothing is released when the tag
/// does not verify.
pub fn open_data(key: &WrapKey, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, WrapError> {
    let min = NONCE_LEN + TAG_LEN;
    let (nonce, rest) = sealed.split_first_chunk::<NONCE_LEN>().ok_or(WrapError::TooShort {
        what: "wrapped data",
        len: sealed.len(),
        min,
    })?;
    let (body, tag) = rest.split_last_chunk::<TAG_LEN>().ok_or(WrapError::TooShort {
        what: "wrapped data",
        len: sealed.len(),
        min,
    })?;
    if body.len() > MAX_PLAINTEXT_LEN {
        return Err(WrapError::TooLong {
            what: "wrapped data",
            len: body.len(),
            max: MAX_PLAINTEXT_LEN,
        });
    }
    let mut plaintext = Zeroizing::new(body.to_vec());
    ccm_open(key, nonce, &mut plaintext, tag)?;
    if plaintext.first() != Some(&0) {
        return Err(WrapError::BadBody { what: "wrapped data without its leading NUL byte" });
    }
    plaintext.remove(0);
    Ok(plaintext)
}

/// What `unwrap` would decode from `encoded` must be the body given, so that a wrapped
/// file always unwraps to what was put in.
fn check_body_matches_header(object: &WrappedObject, encoded: &[u8]) -> Result<(), WrapError> {
    let decoded = Body::decode(object.header.object_type, object.header.algorithm, encoded)?;
    let same = match (&object.body, &decoded) {
        (Body::Raw(_), _) => true,
        // A key's trailing zeros are not recovered (see `Body::Hmac`); its length still
        // has to fit the block.
        (Body::Hmac { algorithm: a, key }, Body::Hmac { algorithm: b, .. }) => {
            a == b && a.hmac_block_size().is_some_and(|block| key.len() <= block)
        }
        (given, decoded) => given == decoded,
    };
    if same {
        Ok(())
    } else {
        Err(WrapError::BadBody { what: "the body does not fit the header's type and algorithm" })
    }
}

pub(crate) fn ccm_seal(
    key: &WrapKey,
    nonce: &[u8; NONCE_LEN],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], WrapError> {
    match key.len() {
        16 => seal_with::<ccm::Ccm<aes::Aes128, U16, U13>>(key, nonce, buf),
        24 => seal_with::<ccm::Ccm<aes::Aes192, U16, U13>>(key, nonce, buf),
        _ => seal_with::<ccm::Ccm<aes::Aes256, U16, U13>>(key, nonce, buf),
    }
}

fn ccm_open(
    key: &WrapKey,
    nonce: &[u8; NONCE_LEN],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), WrapError> {
    match key.len() {
        16 => open_with::<ccm::Ccm<aes::Aes128, U16, U13>>(key, nonce, buf, tag),
        24 => open_with::<ccm::Ccm<aes::Aes192, U16, U13>>(key, nonce, buf, tag),
        _ => open_with::<ccm::Ccm<aes::Aes256, U16, U13>>(key, nonce, buf, tag),
    }
}

fn seal_with<C>(
    key: &WrapKey,
    nonce: &[u8; NONCE_LEN],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], WrapError>
where
    C: KeyInit + AeadInOut<NonceSize = U13, TagSize = U16>,
{
    let cipher = C::new_from_slice(key.expose_secret()).map_err(|_| wrap_key_length(key))?;
    let tag =
        cipher.encrypt_inout_detached(&Array::from(*nonce), &[], buf.into()).map_err(|_| {
            WrapError::TooLong {
                what: "wrapped object plaintext",
                len: buf.len(),
                max: MAX_PLAINTEXT_LEN,
            }
        })?;
    Ok(tag.into())
}

fn open_with<C>(
    key: &WrapKey,
    nonce: &[u8; NONCE_LEN],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), WrapError>
where
    C: KeyInit + AeadInOut<NonceSize = U13, TagSize = U16>,
{
    let cipher = C::new_from_slice(key.expose_secret()).map_err(|_| wrap_key_length(key))?;
    // On a bad tag the ccm crate zeroes the buffer before returning.
    cipher
        .decrypt_inout_detached(&Array::from(*nonce), &[], buf.into(), &Array::from(*tag))
        .map_err(|_| WrapError::Authentication)
}

fn wrap_key_length(key: &WrapKey) -> WrapError {
    WrapError::BadKeyLength { what: "wrap key", got: key.len(), allowed: "16, 24 or 32 bytes" }
}

#[cfg(test)]
mod tests;
