//! The object model (docs/PROTOCOL.md §3): types, algorithms, capabilities, domains, origin,
//! labels and the 66-byte object info.
//!
//! Spellings follow yubihsm-shell so that values typed by its users parse here and values
//! printed here can be pasted back into it.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use crate::codec::{Codec, DecodeError, Reader, Writer};
use crate::wire::wire_code;

/// A value typed by a person that could not be parsed. Names what was being parsed; the
/// text itself is not kept (it may be a mistyped secret).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// What was being parsed, e.g. `"capabilities"`.
    pub what: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}", self.what)
    }
}

impl core::error::Error for ParseError {}

/// Parses a decimal or `0x`-prefixed hexadecimal number that fits in `T`.
pub(crate) fn parse_number<T: TryFrom<u64>>(s: &str) -> Option<T> {
    let s = s.trim();
    let v = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if hex.is_empty() || hex.len() > 16 {
            return None;
        }
        u64::from_str_radix(hex, 16).ok()?
    } else {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<u64>().ok()?
    };
    T::try_from(v).ok()
}

/// An object id. Id 0 in a put or generate command asks the device to pick a free id.
pub type ObjectId = u16;

/// Parses an object id: decimal or `0x` hex, 0..=0xffff.
pub fn parse_object_id(s: &str) -> Result<ObjectId, ParseError> {
    parse_number(s).ok_or(ParseError { what: "object id" })
}

wire_code! {
    /// An object type (docs/PROTOCOL.md §3.1 "Types").
    pub struct ObjectType(u8);
    "object type";
    OPAQUE = 1 => "opaque",
    AUTHENTICATION_KEY = 2 => "authentication-key",
    ASYMMETRIC_KEY = 3 => "asymmetric-key",
    WRAP_KEY = 4 => "wrap-key",
    HMAC_KEY = 5 => "hmac-key",
    TEMPLATE = 6 => "template",
    OTP_AEAD_KEY = 7 => "otp-aead-key",
    SYMMETRIC_KEY = 8 => "symmetric-key",
    PUBLIC_WRAP_KEY = 9 => "public-wrap-key",
}

wire_code! {
    /// An algorithm (docs/PROTOCOL.md §3.2 "Algorithms").
    pub struct Algorithm(u8);
    "algorithm";
    RSA_PKCS1_SHA1 = 1 => "rsa-pkcs1-sha1",
    RSA_PKCS1_SHA256 = 2 => "rsa-pkcs1-sha256",
    RSA_PKCS1_SHA384 = 3 => "rsa-pkcs1-sha384",
    RSA_PKCS1_SHA512 = 4 => "rsa-pkcs1-sha512",
    RSA_PSS_SHA1 = 5 => "rsa-pss-sha1",
    RSA_PSS_SHA256 = 6 => "rsa-pss-sha256",
    RSA_PSS_SHA384 = 7 => "rsa-pss-sha384",
    RSA_PSS_SHA512 = 8 => "rsa-pss-sha512",
    RSA2048 = 9 => "rsa2048",
    RSA3072 = 10 => "rsa3072",
    RSA4096 = 11 => "rsa4096",
    ECP256 = 12 => "ecp256",
    ECP384 = 13 => "ecp384",
    ECP521 = 14 => "ecp521",
    ECK256 = 15 => "eck256",
    ECBP256 = 16 => "ecbp256",
    ECBP384 = 17 => "ecbp384",
    ECBP512 = 18 => "ecbp512",
    HMAC_SHA1 = 19 => "hmac-sha1",
    HMAC_SHA256 = 20 => "hmac-sha256",
    HMAC_SHA384 = 21 => "hmac-sha384",
    HMAC_SHA512 = 22 => "hmac-sha512",
    ECDSA_SHA1 = 23 => "ecdsa-sha1",
    ECDH = 24 => "ecdh",
    RSA_OAEP_SHA1 = 25 => "rsa-oaep-sha1",
    RSA_OAEP_SHA256 = 26 => "rsa-oaep-sha256",
    RSA_OAEP_SHA384 = 27 => "rsa-oaep-sha384",
    RSA_OAEP_SHA512 = 28 => "rsa-oaep-sha512",
    AES128_CCM_WRAP = 29 => "aes128-ccm-wrap",
    OPAQUE_DATA = 30 => "opaque-data",
    OPAQUE_X509_CERTIFICATE = 31 => "opaque-x509-certificate",
    MGF1_SHA1 = 32 => "mgf1-sha1",
    MGF1_SHA256 = 33 => "mgf1-sha256",
    MGF1_SHA384 = 34 => "mgf1-sha384",
    MGF1_SHA512 = 35 => "mgf1-sha512",
    TEMPLATE_SSH = 36 => "template-ssh",
    AES128_YUBICO_OTP = 37 => "aes128-yubico-otp",
    AES128_YUBICO_AUTHENTICATION = 38 => "aes128-yubico-authentication",
    AES192_YUBICO_OTP = 39 => "aes192-yubico-otp",
    AES256_YUBICO_OTP = 40 => "aes256-yubico-otp",
    AES192_CCM_WRAP = 41 => "aes192-ccm-wrap",
    AES256_CCM_WRAP = 42 => "aes256-ccm-wrap",
    ECDSA_SHA256 = 43 => "ecdsa-sha256",
    ECDSA_SHA384 = 44 => "ecdsa-sha384",
    ECDSA_SHA512 = 45 => "ecdsa-sha512",
    ED25519 = 46 => "ed25519",
    ECP224 = 47 => "ecp224",
    RSA_PKCS1_DECRYPT = 48 => "rsa-pkcs1-decrypt",
    ECP256_YUBICO_AUTHENTICATION = 49 => "ecp256-yubico-authentication",
    AES128 = 50 => "aes128",
    AES192 = 51 => "aes192",
    AES256 = 52 => "aes256",
    AES_ECB = 53 => "aes-ecb",
    AES_CBC = 54 => "aes-cbc",
    AES_KWP = 55 => "aes-kwp",
}

impl Algorithm {
    /// For an EC key algorithm, the size in bytes of a field element (and of the private
    /// scalar): 28, 32, 48, 64 or 66.
    pub fn ec_field_size(self) -> Option<usize> {
        match self {
            Self::ECP224 => Some(28),
            Self::ECP256 | Self::ECK256 | Self::ECBP256 => Some(32),
            Self::ECP384 | Self::ECBP384 => Some(48),
            Self::ECBP512 => Some(64),
            Self::ECP521 => Some(66),
            _ => None,
        }
    }

    /// For an RSA key algorithm, the modulus size in bytes.
    pub fn rsa_modulus_size(self) -> Option<usize> {
        match self {
            Self::RSA2048 => Some(256),
            Self::RSA3072 => Some(384),
            Self::RSA4096 => Some(512),
            _ => None,
        }
    }

    /// For a wrap-key algorithm, the AES key length in bytes (16, 24 or 32).
    pub fn wrap_key_size(self) -> Option<usize> {
        match self {
            Self::AES128_CCM_WRAP => Some(16),
            Self::AES192_CCM_WRAP => Some(24),
            Self::AES256_CCM_WRAP => Some(32),
            _ => None,
        }
    }

    /// The wrap-key algorithm for an AES key of `len` bytes.
    pub fn wrap_for_key_size(len: usize) -> Option<Self> {
        match len {
            16 => Some(Self::AES128_CCM_WRAP),
            24 => Some(Self::AES192_CCM_WRAP),
            32 => Some(Self::AES256_CCM_WRAP),
            _ => None,
        }
    }

    /// For an HMAC key algorithm, the hash block size in bytes (64 or 128).
    pub fn hmac_block_size(self) -> Option<usize> {
        match self {
            Self::HMAC_SHA1 | Self::HMAC_SHA256 => Some(64),
            Self::HMAC_SHA384 | Self::HMAC_SHA512 => Some(128),
            _ => None,
        }
    }

    /// For a symmetric-key algorithm (`aes128`/`aes192`/`aes256`), the key length in bytes.
    pub fn aes_key_size(self) -> Option<usize> {
        match self {
            Self::AES128 => Some(16),
            Self::AES192 => Some(24),
            Self::AES256 => Some(32),
            _ => None,
        }
    }
}

/// Capability bit names, bit n at index n (docs/PROTOCOL.md §3.3 "Capabilities"). Bits 56–63 have
/// no name.
const CAPABILITY_NAMES: [&str; 56] = [
    "get-opaque",
    "put-opaque",
    "put-authentication-key",
    "put-asymmetric-key",
    "generate-asymmetric-key",
    "sign-pkcs",
    "sign-pss",
    "sign-ecdsa",
    "sign-eddsa",
    "decrypt-pkcs",
    "decrypt-oaep",
    "derive-ecdh",
    "export-wrapped",
    "import-wrapped",
    "put-wrap-key",
    "generate-wrap-key",
    "exportable-under-wrap",
    "set-option",
    "get-option",
    "get-pseudo-random",
    "put-mac-key",
    "generate-hmac-key",
    "sign-hmac",
    "verify-hmac",
    "get-log-entries",
    "sign-ssh-certificate",
    "get-template",
    "put-template",
    "reset-device",
    "decrypt-otp",
    "create-otp-aead",
    "randomize-otp-aead",
    "rewrap-from-otp-aead-key",
    "rewrap-to-otp-aead-key",
    "sign-attestation-certificate",
    "put-otp-aead-key",
    "generate-otp-aead-key",
    "wrap-data",
    "unwrap-data",
    "delete-opaque",
    "delete-authentication-key",
    "delete-asymmetric-key",
    "delete-wrap-key",
    "delete-hmac-key",
    "delete-template",
    "delete-otp-aead-key",
    "change-authentication-key",
    "put-symmetric-key",
    "generate-symmetric-key",
    "delete-symmetric-key",
    "decrypt-ecb",
    "encrypt-ecb",
    "decrypt-cbc",
    "encrypt-cbc",
    "put-public-wrap-key",
    "delete-public-wrap-key",
];

/// A capability set: a `u64` on the wire, bit n is `1 << n`. Bits without a name (56–63)
/// are kept as they are, never dropped.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Capabilities(pub u64);

macro_rules! capability_consts {
    ($($name:ident = $bit:literal,)*) => {
        impl Capabilities {
            $(
                #[doc = concat!("Capability bit ", stringify!($bit), ".")]
                pub const $name: Self = Self(1 << $bit);
            )*
        }
    };
}

capability_consts! {
    GET_OPAQUE = 0, PUT_OPAQUE = 1, PUT_AUTHENTICATION_KEY = 2, PUT_ASYMMETRIC_KEY = 3,
    GENERATE_ASYMMETRIC_KEY = 4, SIGN_PKCS = 5, SIGN_PSS = 6, SIGN_ECDSA = 7, SIGN_EDDSA = 8,
    DECRYPT_PKCS = 9, DECRYPT_OAEP = 10, DERIVE_ECDH = 11, EXPORT_WRAPPED = 12,
    IMPORT_WRAPPED = 13, PUT_WRAP_KEY = 14, GENERATE_WRAP_KEY = 15, EXPORTABLE_UNDER_WRAP = 16,
    SET_OPTION = 17, GET_OPTION = 18, GET_PSEUDO_RANDOM = 19, PUT_MAC_KEY = 20,
    GENERATE_HMAC_KEY = 21, SIGN_HMAC = 22, VERIFY_HMAC = 23, GET_LOG_ENTRIES = 24,
    SIGN_SSH_CERTIFICATE = 25, GET_TEMPLATE = 26, PUT_TEMPLATE = 27, RESET_DEVICE = 28,
    DECRYPT_OTP = 29, CREATE_OTP_AEAD = 30, RANDOMIZE_OTP_AEAD = 31,
    REWRAP_FROM_OTP_AEAD_KEY = 32, REWRAP_TO_OTP_AEAD_KEY = 33,
    SIGN_ATTESTATION_CERTIFICATE = 34, PUT_OTP_AEAD_KEY = 35, GENERATE_OTP_AEAD_KEY = 36,
    WRAP_DATA = 37, UNWRAP_DATA = 38, DELETE_OPAQUE = 39, DELETE_AUTHENTICATION_KEY = 40,
    DELETE_ASYMMETRIC_KEY = 41, DELETE_WRAP_KEY = 42, DELETE_HMAC_KEY = 43,
    DELETE_TEMPLATE = 44, DELETE_OTP_AEAD_KEY = 45, CHANGE_AUTHENTICATION_KEY = 46,
    PUT_SYMMETRIC_KEY = 47, GENERATE_SYMMETRIC_KEY = 48, DELETE_SYMMETRIC_KEY = 49,
    DECRYPT_ECB = 50, ENCRYPT_ECB = 51, DECRYPT_CBC = 52, ENCRYPT_CBC = 53,
    PUT_PUBLIC_WRAP_KEY = 54, DELETE_PUBLIC_WRAP_KEY = 55,
}

impl Capabilities {
    /// No capability.
    pub const NONE: Self = Self(0);
    /// Every bit set, as yubihsm-shell's `all` (including the unnamed bits 56–63).
    pub const ALL: Self = Self(u64::MAX);
    /// The bits that have a name.
    pub const KNOWN: Self = Self((1 << 56) - 1);

    /// The name of capability bit `bit`, if it has one.
    pub fn bit_name(bit: u32) -> Option<&'static str> {
        CAPABILITY_NAMES.get(usize::try_from(bit).ok()?).copied()
    }

    /// The single-bit capability named `name` (ASCII case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        CAPABILITY_NAMES.iter().position(|n| n.eq_ignore_ascii_case(name)).map(|bit| Self(1 << bit))
    }

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Bits set in both.
    pub const fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// Bits set in either.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The set bits that have no name.
    pub const fn unknown_bits(self) -> u64 {
        self.0 & !Self::KNOWN.0
    }

    /// The names of the set bits that have one, lowest bit first.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        CAPABILITY_NAMES
            .iter()
            .enumerate()
            .filter(move |(bit, _)| self.0 & (1u64 << bit) != 0)
            .map(|(_, n)| *n)
    }
}

impl core::ops::BitOr for Capabilities {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl core::ops::BitAnd for Capabilities {
    type Output = Self;
    fn bitand(self, rhs: Self) -> Self {
        self.intersection(rhs)
    }
}

/// `all`, `none`, or the names of the set bits separated by commas, followed by the
/// unnamed bits as one `0x…` element when there are any. Parses back to the same value.
impl fmt::Display for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::ALL {
            return f.write_str("all");
        }
        if self.is_empty() {
            return f.write_str("none");
        }
        let mut first = true;
        for name in self.names() {
            if !first {
                f.write_str(",")?;
            }
            f.write_str(name)?;
            first = false;
        }
        if self.unknown_bits() != 0 {
            if !first {
                f.write_str(",")?;
            }
            write!(f, "0x{:016x}", self.unknown_bits())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Capabilities(0x{:016x}: {})", self.0, self)
    }
}

/// Accepts `all`, `none`, a `0x…` hex value, or a comma list whose elements are names or
/// `0x…` hex values (OR-ed together). Spaces around elements are ignored.
impl FromStr for Capabilities {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        const ERR: ParseError = ParseError { what: "capabilities" };
        let s = s.trim();
        if s.eq_ignore_ascii_case("all") {
            return Ok(Self::ALL);
        }
        if s.eq_ignore_ascii_case("none") {
            return Ok(Self::NONE);
        }
        let mut caps = Self::NONE;
        for item in s.split(',') {
            let item = item.trim();
            let bits = if item.starts_with("0x") || item.starts_with("0X") {
                parse_number::<u64>(item).map(Self).ok_or(ERR)?
            } else {
                Self::from_name(item).ok_or(ERR)?
            };
            caps = caps | bits;
        }
        Ok(caps)
    }
}

/// A domain set: a `u16`, domain d (1..=16) is bit d-1.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Domains(pub u16);

impl Domains {
    /// No domain.
    pub const NONE: Self = Self(0);
    /// All sixteen domains.
    pub const ALL: Self = Self(0xffff);

    /// The set holding only domain `d` (1..=16).
    pub fn single(d: u8) -> Option<Self> {
        (1..=16).contains(&d).then(|| Self(1 << (d - 1)))
    }

    /// Whether domain `d` is in the set.
    pub fn contains_domain(self, d: u8) -> bool {
        Self::single(d).is_some_and(|s| self.0 & s.0 != 0)
    }

    /// Whether every domain of `other` is in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the two sets share at least one domain.
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether no domain is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The domain numbers in the set, ascending.
    pub fn iter(self) -> impl Iterator<Item = u8> {
        (1u8..=16).filter(move |d| self.contains_domain(*d))
    }
}

/// `all`, `none`, or the domain numbers joined by `:` as yubihsm-shell prints them.
impl fmt::Display for Domains {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::ALL {
            return f.write_str("all");
        }
        if self.is_empty() {
            return f.write_str("none");
        }
        let mut first = true;
        for d in self.iter() {
            if !first {
                f.write_str(":")?;
            }
            write!(f, "{d}")?;
            first = false;
        }
        Ok(())
    }
}

impl fmt::Debug for Domains {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Domains(0x{:04x}: {})", self.0, self)
    }
}

/// Accepts `all`, `none`, a `0x…` hex mask, or domain numbers 1..=16 separated by `:` or
/// `,` (as yubihsm-shell does).
impl FromStr for Domains {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        const ERR: ParseError = ParseError { what: "domains" };
        let s = s.trim();
        if s.eq_ignore_ascii_case("all") {
            return Ok(Self::ALL);
        }
        if s.eq_ignore_ascii_case("none") {
            return Ok(Self::NONE);
        }
        if s.starts_with("0x") || s.starts_with("0X") {
            return parse_number::<u16>(s).map(Self).ok_or(ERR);
        }
        let mut mask = 0u16;
        for item in s.split([':', ',']) {
            let item = item.trim();
            if item.is_empty() || !item.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ERR);
            }
            let d: u8 = item.parse().map_err(|_| ERR)?;
            mask |= Self::single(d).ok_or(ERR)?.0;
        }
        Ok(Self(mask))
    }
}

/// Where an object came from: a bit set (docs/PROTOCOL.md §3.5 "Origin").
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Origin(pub u8);

impl Origin {
    /// Generated on the device.
    pub const GENERATED: Self = Self(0x01);
    /// Imported in the clear.
    pub const IMPORTED: Self = Self(0x02);
    /// Added to the origin when an object is imported under wrap.
    pub const IMPORTED_WRAPPED: Self = Self(0x10);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// This origin with the "imported under wrap" bit added.
    pub const fn with_imported_wrapped(self) -> Self {
        Self(self.0 | Self::IMPORTED_WRAPPED.0)
    }
}

/// The set flags joined by `:` (`generated`, `imported`, `imported_wrapped`, as
/// yubihsm-shell prints them); unnamed bits as `0x…`.
impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let named = [
            (Self::GENERATED, "generated"),
            (Self::IMPORTED, "imported"),
            (Self::IMPORTED_WRAPPED, "imported_wrapped"),
        ];
        let mut first = true;
        let mut rest = self.0;
        for (flag, name) in named {
            if self.contains(flag) {
                if !first {
                    f.write_str(":")?;
                }
                f.write_str(name)?;
                first = false;
                rest &= !flag.0;
            }
        }
        if rest != 0 || first {
            if !first {
                f.write_str(":")?;
            }
            write!(f, "0x{rest:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Origin(0x{:02x}: {})", self.0, self)
    }
}

/// The length of an object label on the wire.
pub const LABEL_LEN: usize = 40;

/// An object label: 40 raw bytes, NUL-padded. Kept raw so that any bytes a device holds
/// survive a round trip; shown as text up to the first NUL.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Label(pub [u8; LABEL_LEN]);

impl Default for Label {
    fn default() -> Self {
        Self([0; LABEL_LEN])
    }
}

impl Label {
    /// A label holding `bytes`, NUL-padded; an error if longer than 40 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut out = [0u8; LABEL_LEN];
        out.get_mut(..bytes.len())
            .ok_or(ParseError { what: "label (at most 40 bytes)" })?
            .copy_from_slice(bytes);
        Ok(Self(out))
    }

    /// The bytes before the first NUL.
    pub fn as_bytes(&self) -> &[u8] {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(LABEL_LEN);
        self.0.get(..end).unwrap_or_default()
    }

    /// The label as text (invalid UTF-8 replaced).
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(self.as_bytes()).into_owned()
    }
}

impl FromStr for Label {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::from_bytes(s.as_bytes())
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Label({:?})", self.to_string_lossy())
    }
}

/// The answer to GET_OBJECT_INFO: exactly 66 bytes on the wire (docs/PROTOCOL.md
/// §3.7 "Object info").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ObjectInfo {
    pub capabilities: Capabilities,
    pub id: ObjectId,
    /// The length of the object's stored body in bytes.
    pub length: u16,
    pub domains: Domains,
    pub object_type: ObjectType,
    pub algorithm: Algorithm,
    /// How many times an object with this id and type has been created.
    pub sequence: u8,
    pub origin: Origin,
    pub label: Label,
    pub delegated_capabilities: Capabilities,
}

impl ObjectInfo {
    /// The encoded length.
    pub const LEN: usize = 66;

    /// Decodes exactly 66 bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() != Self::LEN {
            return Err(DecodeError::bad_length("object info", bytes.len()));
        }
        Self::read_exact(bytes, "object info")
    }

    /// The 66-byte encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::LEN);
        self.encode(&mut w);
        w.into_vec()
    }
}

/// `capabilities(8) id(2) length(2) domains(2) type(1) algorithm(1) sequence(1) origin(1)
/// label(40) delegated_capabilities(8)`.
impl Codec for ObjectInfo {
    fn encode(&self, w: &mut Writer) {
        w.u64(self.capabilities.0)
            .u16(self.id)
            .u16(self.length)
            .u16(self.domains.0)
            .u8(self.object_type.0)
            .u8(self.algorithm.0)
            .u8(self.sequence)
            .u8(self.origin.0)
            .bytes(&self.label.0)
            .u64(self.delegated_capabilities.0);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            capabilities: Capabilities(r.u64("object info: capabilities")?),
            id: r.u16("object info: id")?,
            length: r.u16("object info: length")?,
            domains: Domains(r.u16("object info: domains")?),
            object_type: ObjectType(r.u8("object info: type")?),
            algorithm: Algorithm(r.u8("object info: algorithm")?),
            sequence: r.u8("object info: sequence")?,
            origin: Origin(r.u8("object info: origin")?),
            label: Label(r.array("object info: label")?),
            delegated_capabilities: Capabilities(r.u64("object info: delegated capabilities")?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn capability_names_match_the_bit_table() {
        assert_eq!(Capabilities::from_name("get-opaque"), Some(Capabilities::GET_OPAQUE));
        assert_eq!(Capabilities::EXPORTABLE_UNDER_WRAP.0, 1 << 16);
        assert_eq!(Capabilities::DELETE_PUBLIC_WRAP_KEY.0, 1 << 55);
        assert_eq!(Capabilities::bit_name(20), Some("put-mac-key"));
        assert_eq!(Capabilities::bit_name(56), None);
        assert_eq!(Capabilities::KNOWN.names().count(), 56);
    }

    #[test]
    fn parses_capabilities_as_yubihsm_shell_spells_them() {
        // From the vector wrapped/hmac_sha256.json.
        let c: Capabilities = "sign-hmac,verify-hmac,exportable-under-wrap".parse().unwrap();
        assert_eq!(c.0, 0x0000_0000_00c1_0000);
        assert_eq!("all".parse::<Capabilities>().unwrap().0, u64::MAX);
        assert_eq!("none".parse::<Capabilities>().unwrap().0, 0);
        assert_eq!("0x3000".parse::<Capabilities>().unwrap().0, 0x3000);
        assert_eq!(" export-wrapped , import-wrapped ".parse::<Capabilities>().unwrap().0, 0x3000);
        assert!("sign-everything".parse::<Capabilities>().is_err());
        assert!("".parse::<Capabilities>().is_err());
        assert!("0x".parse::<Capabilities>().is_err());
        assert!("export-wrapped,,".parse::<Capabilities>().is_err());
    }

    #[test]
    fn capabilities_display_round_trips_and_keeps_unknown_bits() {
        for v in [0, 1, 0x3000, u64::MAX, 1 << 60, (1 << 63) | 0x13, Capabilities::KNOWN.0] {
            let c = Capabilities(v);
            assert_eq!(c.to_string().parse::<Capabilities>().unwrap(), c, "{c}");
        }
        assert_eq!(Capabilities(0x3000).to_string(), "export-wrapped,import-wrapped");
        assert_eq!(Capabilities(1 << 60 | 1).to_string(), "get-opaque,0x1000000000000000");
    }

    #[test]
    fn parses_domains_in_every_spelling() {
        for s in ["1:2:3", "1,2,3", "0x0007", "0x7", " 3:1:2 "] {
            assert_eq!(s.parse::<Domains>().unwrap(), Domains(7), "{s}");
        }
        assert_eq!("all".parse::<Domains>().unwrap(), Domains::ALL);
        assert_eq!("16".parse::<Domains>().unwrap(), Domains(0x8000));
        for bad in ["0", "17", "1:", "a", "", "1;2", "0x10000", "-1"] {
            assert!(bad.parse::<Domains>().is_err(), "{bad}");
        }
        assert_eq!(Domains(7).to_string(), "1:2:3");
        assert_eq!(Domains(0xffff).to_string(), "all");
    }

    #[test]
    fn unknown_types_and_algorithms_survive_and_print_as_hex() {
        let a = Algorithm(200);
        assert_eq!(a.to_string(), "0xc8");
        assert_eq!("0xc8".parse::<Algorithm>().unwrap(), a);
        assert_eq!("ecp256".parse::<Algorithm>().unwrap(), Algorithm::ECP256);
        assert_eq!("asymmetric-key".parse::<ObjectType>().unwrap(), ObjectType::ASYMMETRIC_KEY);
        assert_eq!(ObjectType(0x42).to_string(), "0x42");
        assert_eq!(Algorithm::ALL.len(), 55);
        assert!(Algorithm::ALL.iter().enumerate().all(|(i, (a, _))| usize::from(a.0) == i + 1));
    }

    #[test]
    fn origin_prints_its_flags() {
        assert_eq!(Origin(0x12).to_string(), "imported:imported_wrapped");
        assert_eq!(Origin(0x01).to_string(), "generated");
        assert_eq!(Origin(0x00).to_string(), "0x00");
        assert_eq!(Origin(0x41).to_string(), "generated:0x40");
    }

    #[test]
    fn labels_are_forty_raw_bytes() {
        let l: Label = "ed25519 key \u{e9}\u{e8}".parse().unwrap();
        assert_eq!(l.as_bytes(), "ed25519 key \u{e9}\u{e8}".as_bytes());
        assert!(Label::from_bytes(&[b'a'; 41]).is_err());
        assert!(Label::from_bytes(&[b'a'; 40]).is_ok());
    }

    #[test]
    fn object_info_round_trips_and_rejects_every_other_length() {
        let info = ObjectInfo {
            capabilities: Capabilities(0x0000_0000_0001_0100),
            id: 0x20,
            length: 96,
            domains: Domains(7),
            object_type: ObjectType::ASYMMETRIC_KEY,
            algorithm: Algorithm::ED25519,
            sequence: 3,
            origin: Origin(0x12),
            label: "x".parse().unwrap(),
            delegated_capabilities: Capabilities::NONE,
        };
        let bytes = info.to_bytes();
        assert_eq!(bytes.len(), 66);
        assert_eq!(ObjectInfo::decode(&bytes).unwrap(), info);
        for n in 0..bytes.len() {
            assert!(ObjectInfo::decode(&bytes[..n]).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(ObjectInfo::decode(&longer).is_err());
    }

    #[test]
    fn parses_object_ids() {
        assert_eq!(parse_object_id("0x0104"), Ok(260));
        assert_eq!(parse_object_id("260"), Ok(260));
        assert!(parse_object_id("65536").is_err());
        assert!(parse_object_id("0x").is_err());
        assert!(parse_object_id("12a").is_err());
    }
}
