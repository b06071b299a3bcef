//! `yhsm wrap`: makes a `.yhw` file offline, as yubihsm-wrap does (docs/PROTOCOL.md §5), from
//! key material in a file.
//!
//! The algorithm decides the object type and how `--in` is read:
//!
//! | algorithm | type | `--in` |
//! |---|---|---|
//! | aes128-yubico-authentication | authentication-key | a password: the first line |
//! | aes128/192/256-ccm-wrap | wrap-key | the AES key: raw bytes or hex |
//! | aes128/192/256 | symmetric-key | the AES key: raw bytes or hex |
//! | hmac-sha1/256/384/512 | hmac-key | the key: raw bytes (`--in-hex`: hex) |
//! | opaque-data, opaque-x509-certificate | opaque | the data: raw bytes (`--in-hex`: hex) |
//! | template-ssh | template | the template: raw bytes (`--in-hex`: hex) |
//! | rsa2048/3072/4096, ec*, ed25519 | asymmetric-key | a PEM or DER private key (feature `keys`) |
//!
//! So no `--type` option is needed. Like yubihsm-wrap, the header gets sequence 0 and origin
//! `imported`; the nonce comes from the OS RNG; the file is base64 and a newline, or with
//! `--encoding binary` the raw blob (docs/PROTOCOL.md §5.1).

#[cfg(feature = "keys")]
mod keys;
#[cfg(feature = "keys")]
mod pem;

use std::fmt;

use yhsm_proto::wrap::{self, Body, Encoding, WrapError, WrapHeader, WrapKey, WrappedObject};
use yhsm_proto::{
    Algorithm, Capabilities, Domains, Label, ObjectId, ObjectType, Origin, SecretBytes,
};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::util::password;
use crate::util::rng;

/// The attributes of the object to wrap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrapSpec {
    pub id: ObjectId,
    pub label: Label,
    pub domains: Domains,
    pub capabilities: Capabilities,
    /// Only for authentication and wrap keys; `None` means none.
    pub delegated: Option<Capabilities>,
    pub algorithm: Algorithm,
}

/// The object type `algorithm` makes, or `None` when `wrap` cannot make it.
pub fn object_type(algorithm: Algorithm) -> Option<ObjectType> {
    Some(match algorithm {
        Algorithm::AES128_YUBICO_AUTHENTICATION => ObjectType::AUTHENTICATION_KEY,
        a if a.wrap_key_size().is_some() => ObjectType::WRAP_KEY,
        a if a.aes_key_size().is_some() => ObjectType::SYMMETRIC_KEY,
        a if a.hmac_block_size().is_some() => ObjectType::HMAC_KEY,
        Algorithm::OPAQUE_DATA | Algorithm::OPAQUE_X509_CERTIFICATE => ObjectType::OPAQUE,
        Algorithm::TEMPLATE_SSH => ObjectType::TEMPLATE,
        a if a.ec_field_size().is_some()
            || a.rsa_modulus_size().is_some()
            || a == Algorithm::ED25519 =>
        {
            ObjectType::ASYMMETRIC_KEY
        }
        _ => return None,
    })
}

/// The algorithms `wrap` takes, for help and errors.
pub const ALGORITHMS_HELP: &str = "aes128-yubico-authentication, aes128-ccm-wrap, \
    aes192-ccm-wrap, aes256-ccm-wrap, aes128, aes192, aes256, hmac-sha1, hmac-sha256, \
    hmac-sha384, hmac-sha512, opaque-data, opaque-x509-certificate, template-ssh, rsa2048, \
    rsa3072, rsa4096, ecp224, ecp256, ecp384, ecp521, eck256, ecbp256, ecbp384, ecbp512, \
    ed25519";

/// Checks the options that do not depend on the input (usage errors).
pub fn check_spec(spec: &WrapSpec) -> Result<ObjectType> {
    let object_type = object_type(spec.algorithm).ok_or_else(|| {
        Error::usage(format!("--algorithm {}: wrap cannot make such an object", spec.algorithm))
            .with_hint(format!("use one of {ALGORITHMS_HELP}"))
    })?;
    if spec.delegated.is_some()
        && !matches!(object_type, ObjectType::AUTHENTICATION_KEY | ObjectType::WRAP_KEY)
    {
        return Err(Error::usage(format!(
            "--delegated: {object_type} objects have no delegated capabilities (only \
             authentication-key and wrap-key objects do)"
        )));
    }
    #[cfg(not(feature = "keys"))]
    if object_type == ObjectType::ASYMMETRIC_KEY {
        return Err(Error::usage(format!(
            "--algorithm {}: this build cannot read private key files",
            spec.algorithm
        ))
        .with_hint("build yhsm with the cargo feature `keys` to wrap RSA, EC and ed25519 keys"));
    }
    Ok(object_type)
}

/// Builds the object from the contents of the `--in` file, named `name` in errors;
/// `in_hex` says the file holds hex text (for keys and data read as raw bytes otherwise).
pub fn build_object(
    spec: &WrapSpec,
    input: &[u8],
    name: &str,
    in_hex: bool,
) -> Result<WrappedObject> {
    let object_type = check_spec(spec)?;
    let body = body(spec, object_type, input, in_hex)
        .map_err(|problem| Error::failure(format!("input file `{name}`: {problem}")))?;
    let header = WrapHeader {
        // Both set by `wrap::wrap` from the key and the body.
        wrap_algorithm: Algorithm::AES256_CCM_WRAP,
        length: 0,
        capabilities: spec.capabilities,
        id: spec.id,
        domains: spec.domains,
        object_type,
        algorithm: spec.algorithm,
        sequence: 0,
        origin: Origin::IMPORTED,
        label: spec.label,
    };
    Ok(WrappedObject { header, body })
}

/// Why the `--in` file does not hold the object. Never quotes the file's bytes.
#[derive(Debug)]
pub enum InputError {
    /// An authentication key's password (the first line) is empty.
    EmptyPassword,
    /// The data of an opaque object or a template is empty.
    Empty,
    /// `--in-hex`, and the file is not hex text.
    NotHex,
    /// The AES key of `algorithm` is not of its size.
    Key { algorithm: Algorithm, problem: KeyProblem },
    /// `--in-hex` with a PEM or DER private key.
    HexPrivateKey,
    /// A private key file, in a build without the `keys` feature.
    NoKeysFeature,
    /// The private key file cannot be read (the reason).
    PrivateKey(String),
    /// The key material does not make an object of the algorithm.
    Invalid(WrapError),
}

/// Why the input is not an AES key of the algorithm's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyProblem {
    NotHex,
    /// Hex text of `got` bytes for a `size`-byte key.
    HexLength {
        got: usize,
        size: usize,
    },
    /// `got` raw bytes for a `size`-byte key.
    Length {
        got: usize,
        size: usize,
    },
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyPassword => f.write_str("the password (the first line) is empty"),
            Self::Empty => f.write_str("it is empty"),
            Self::NotHex => f.write_str("not hex text (--in-hex)"),
            Self::Key { algorithm, problem } => write!(f, "{algorithm}: {problem}"),
            Self::HexPrivateKey => {
                f.write_str("--in-hex does not apply to private key files (PEM or DER)")
            }
            Self::NoKeysFeature => {
                f.write_str("this build cannot read private key files (cargo feature `keys`)")
            }
            Self::PrivateKey(problem) => f.write_str(problem),
            Self::Invalid(e) => write!(f, "{e}"),
        }
    }
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotHex => f.write_str("not hex text (--in-hex)"),
            Self::HexLength { got, size } => {
                write!(f, "{got} bytes of hex; the key is {size} bytes")
            }
            Self::Length { got, size } => {
                write!(f, "{got} bytes; the key is {size} raw bytes or {} hex digits", 2 * size)
            }
        }
    }
}

impl std::error::Error for InputError {}

/// The body of the object `spec` describes, from the `--in` file's bytes.
fn body(
    spec: &WrapSpec,
    object_type: ObjectType,
    input: &[u8],
    in_hex: bool,
) -> Result<Body, InputError> {
    let algorithm = spec.algorithm;
    let delegated = spec.delegated.unwrap_or(Capabilities::NONE);
    Ok(match object_type {
        ObjectType::AUTHENTICATION_KEY => {
            let line = password::first_line(input);
            if line.is_empty() {
                return Err(InputError::EmptyPassword);
            }
            Body::authentication_key_from_password(delegated, line)
        }
        ObjectType::WRAP_KEY | ObjectType::SYMMETRIC_KEY => {
            let size = algorithm.wrap_key_size().or(algorithm.aes_key_size()).unwrap_or(0);
            let key = fixed_key(input, size, in_hex)
                .map_err(|problem| InputError::Key { algorithm, problem })?;
            if object_type == ObjectType::WRAP_KEY {
                Body::WrapKey { delegated, key }
            } else {
                Body::Raw(key)
            }
        }
        ObjectType::HMAC_KEY => {
            let key = bytes(input, in_hex)?;
            Body::hmac(algorithm, key.expose_secret()).map_err(InputError::Invalid)?
        }
        ObjectType::ASYMMETRIC_KEY => asymmetric(algorithm, input, in_hex)?,
        _ => {
            let data = bytes(input, in_hex)?;
            if data.is_empty() {
                return Err(InputError::Empty);
            }
            Body::Raw(data)
        }
    })
}

#[cfg(feature = "keys")]
fn asymmetric(algorithm: Algorithm, input: &[u8], in_hex: bool) -> Result<Body, InputError> {
    if in_hex {
        return Err(InputError::HexPrivateKey);
    }
    keys::asymmetric_body(algorithm, input).map_err(InputError::PrivateKey)
}

#[cfg(not(feature = "keys"))]
fn asymmetric(_: Algorithm, _: &[u8], _: bool) -> Result<Body, InputError> {
    Err(InputError::NoKeysFeature)
}

/// The file's bytes, or the bytes its hex text spells (ASCII whitespace ignored).
fn bytes(input: &[u8], in_hex: bool) -> Result<SecretBytes, InputError> {
    if !in_hex {
        return Ok(SecretBytes::from_slice(input));
    }
    from_hex(input).ok_or(InputError::NotHex)
}

/// The bytes hex text spells, ASCII whitespace ignored; `None` if it is not hex.
fn from_hex(input: &[u8]) -> Option<SecretBytes> {
    let digits: Zeroizing<Vec<u8>> =
        Zeroizing::new(input.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect());
    let mut out = Zeroizing::new(vec![0u8; digits.len() / 2]);
    if !digits.len().is_multiple_of(2) || hex::decode_to_slice(&*digits, &mut out).is_err() {
        return None;
    }
    Some(SecretBytes::from_slice(&out))
}

/// A key of exactly `size` bytes: `size` raw bytes, or `2 * size` hex digits.
fn fixed_key(input: &[u8], size: usize, in_hex: bool) -> Result<SecretBytes, KeyProblem> {
    let trimmed = input.trim_ascii();
    let is_hex = trimmed.len() == 2 * size && trimmed.iter().all(u8::is_ascii_hexdigit);
    if in_hex || (is_hex && input.len() != size) {
        let key = from_hex(trimmed).ok_or(KeyProblem::NotHex)?;
        if key.len() == size {
            return Ok(key);
        }
        return Err(KeyProblem::HexLength { got: key.len(), size });
    }
    if input.len() == size {
        return Ok(SecretBytes::from_slice(input));
    }
    Err(KeyProblem::Length { got: input.len(), size })
}

/// Wraps `object` under `key` with a fresh nonce: the bytes of a `.yhw` file, base64 and
/// a newline as yubihsm-wrap writes it, or the raw blob as yubihsm-manager writes it.
pub fn wrap_to_file(key: &WrapKey, object: &WrappedObject, encoding: Encoding) -> Result<Vec<u8>> {
    let nonce = rng::random_array::<{ wrap::NONCE_LEN }>()?;
    let blob = wrap::wrap(key, nonce, object)
        .map_err(|e| Error::failure("cannot wrap the object").with_source(e))?;
    let mut bytes = wrap::encode_file(&blob, encoding);
    if encoding == Encoding::Base64 {
        bytes.push(b'\n');
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fixed_size_keys_raw_or_hex() {
        let raw = [0x41u8; 16];
        assert_eq!(fixed_key(&raw, 16, false).unwrap().expose_secret(), &raw);
        let hex = b"000102030405060708090a0b0c0d0e0f\n";
        assert_eq!(
            fixed_key(hex, 16, false).unwrap().expose_secret(),
            &hex::decode(&hex[..32]).unwrap()[..]
        );
        // 32 hex digits for a 32-byte key are the raw key (hex would give 16 bytes).
        assert_eq!(fixed_key(&hex[..32], 32, false).unwrap().len(), 32);
        assert_eq!(
            fixed_key(&hex[..32], 32, true).unwrap_err().to_string(),
            "16 bytes of hex; the key is 32 bytes"
        );
        assert_eq!(
            fixed_key(&raw[..15], 16, false).unwrap_err().to_string(),
            "15 bytes; the key is 16 raw bytes or 32 hex digits"
        );
    }

    #[test]
    fn maps_every_algorithm_it_takes_to_a_type() {
        for name in ALGORITHMS_HELP.split(", ") {
            let a: Algorithm = name.trim().parse().unwrap();
            assert!(object_type(a).is_some(), "{name}");
        }
        assert_eq!(object_type(Algorithm::RSA_PKCS1_SHA256), None);
        assert_eq!(object_type(Algorithm::AES256_YUBICO_OTP), None);
    }
}
