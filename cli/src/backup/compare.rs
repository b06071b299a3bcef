//! The comparison of a device's object with a backup's (docs/PROTOCOL.md §3.7 "Object info", §5),
//! in one place: restore runs it on what it imported, verify on every object, and both
//! compare the device's wrap key with the shares' through it.
//!
//! An object is looked up by its (id, type). It matches when the device holds it with the
//! same [`Attributes`] — algorithm, capabilities, domains, label, and the delegated
//! capabilities of an authentication or wrap key — and, for an asymmetric key, the same
//! public key (GET_PUBLIC_KEY). Sequence and origin are not compared: the device counts
//! its own sequence, and an import adds 0x10 to the origin. Every mismatch is a
//! [`Difference`].
//!
//! What the attributes cannot show is the content: the key material, or opaque data. An
//! object imported in this run holds the blob's; for one that was already there,
//! [`check_entry`] proves it: a symmetric authentication key by a session with the
//! backup's keys, an asymmetric key by its public key, anything else as [`content`] can
//! (export under the wrap key, get-opaque, an operation with the key). One that cannot be
//! proven is "present, content not verified" ([`Content::NotVerified`]), never verified.
//! The device's origin is kept: an object that was there before but lacks the
//! imported-under-wrap bit was not put there by a restore.

mod content;

use std::fmt;

use yhsm_proto::wrap::{CHECKS_P256_PUBLIC_KEYS, WrapKey};
use yhsm_proto::{
    Algorithm, Capabilities, CommandCode, Domains, ErrorCode, Label, ObjectId, ObjectInfo,
    ObjectType, Origin,
};
use yhsm_transport::{Client, ClientError, Credentials};

use crate::backup::dir::Entry;
use crate::backup::object::Summary;
use crate::util::json::Value;
use crate::util::text;
use crate::wrapkey::shares::RecoveredKey;

/// What an object is compared on: what the device's object info says of it besides its
/// type, sequence, origin and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attributes {
    pub id: ObjectId,
    pub algorithm: Algorithm,
    pub domains: Domains,
    pub capabilities: Capabilities,
    /// `None` when it is not known, and then not compared: wrap-key shares carry no label.
    pub label: Option<Label>,
    /// For authentication and wrap keys; `None` for the types that have none.
    pub delegated: Option<Capabilities>,
}

impl Attributes {
    /// The attributes of a backup object.
    pub fn of(summary: &Summary) -> Self {
        let h = &summary.header;
        Self {
            id: h.id,
            algorithm: h.algorithm,
            domains: h.domains,
            capabilities: h.capabilities,
            label: Some(h.label),
            delegated: summary.delegated,
        }
    }

    /// The attributes of the wrap key that shares hold (no label: the shares carry none).
    pub fn from_shares(recovered: &RecoveredKey) -> Self {
        let s = &recovered.recovered.secret;
        Self {
            id: s.wrap_key_id,
            algorithm: s.algorithm(),
            domains: s.domains,
            capabilities: s.capabilities,
            label: None,
            delegated: Some(s.delegated),
        }
    }

    /// The delegated capabilities, none for a type that has none.
    pub fn delegated_or_none(&self) -> Capabilities {
        self.delegated.unwrap_or(Capabilities::NONE)
    }

    /// Those of `capabilities` that this key does not delegate: an object that has them
    /// cannot be imported under this wrap key (or made by this authentication key).
    pub fn not_delegated(&self, capabilities: Capabilities) -> Capabilities {
        Capabilities(capabilities.0 & !self.delegated_or_none().0)
    }

    /// How the device's object info differs from these attributes (the object is there);
    /// an attribute that is not known is not compared.
    pub fn differences(&self, info: &ObjectInfo) -> Vec<Difference> {
        let mut out = Vec::new();
        if info.algorithm != self.algorithm {
            out.push(Difference::Algorithm { backup: self.algorithm, device: info.algorithm });
        }
        if info.capabilities != self.capabilities {
            out.push(Difference::Capabilities {
                backup: self.capabilities,
                device: info.capabilities,
            });
        }
        if info.domains != self.domains {
            out.push(Difference::Domains { backup: self.domains, device: info.domains });
        }
        if let Some(label) = self.label
            && info.label != label
        {
            out.push(Difference::Label { backup: label, device: info.label });
        }
        if let Some(delegated) = self.delegated
            && info.delegated_capabilities != delegated
        {
            out.push(Difference::Delegated {
                backup: delegated,
                device: info.delegated_capabilities,
            });
        }
        out
    }
}

/// One way a device object differs from the backup's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// No object with this id and type on the device (or outside the login key's domains).
    Missing,
    Algorithm {
        backup: Algorithm,
        device: Algorithm,
    },
    Capabilities {
        backup: Capabilities,
        device: Capabilities,
    },
    Domains {
        backup: Domains,
        device: Domains,
    },
    Label {
        backup: Label,
        device: Label,
    },
    Delegated {
        backup: Capabilities,
        device: Capabilities,
    },
    /// The device's public key is not the backup's.
    PublicKey {
        backup: Vec<u8>,
        device: Vec<u8>,
    },
    /// The backup's keys of this authentication key do not open a session: the device
    /// holds another key with the same id and attributes.
    Credentials,
    /// The content is not the backup's; how that was seen (`exported under wrap key
    /// 0x0002`, `sign-hmac`).
    Content(String),
}

impl Difference {
    /// A difference of capabilities (or delegated capabilities) in the bits that have no
    /// name alone (56–63, docs/PROTOCOL.md §3.3): yubihsm-manager drops them, and no
    /// firmware gives them a meaning.
    pub fn only_unnamed_bits(&self) -> bool {
        match self {
            Self::Capabilities { backup, device } | Self::Delegated { backup, device } => {
                (backup.0 ^ device.0) & Capabilities::KNOWN.0 == 0
            }
            _ => false,
        }
    }

    /// The field's name, as JSON gives it.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Missing => "presence",
            Self::Algorithm { .. } => "algorithm",
            Self::Capabilities { .. } => "capabilities",
            Self::Domains { .. } => "domains",
            Self::Label { .. } => "label",
            Self::Delegated { .. } => "delegated_capabilities",
            Self::PublicKey { .. } => "public_key",
            Self::Credentials => "credentials",
            Self::Content(_) => "content",
        }
    }

    /// The backup's and the device's values, as text.
    fn values(&self) -> Option<(String, String)> {
        Some(match self {
            Self::Missing | Self::Credentials | Self::Content(_) => return None,
            Self::Algorithm { backup, device } => (backup.to_string(), device.to_string()),
            Self::Capabilities { backup, device } | Self::Delegated { backup, device } => {
                (backup.to_string(), device.to_string())
            }
            Self::Domains { backup, device } => {
                (text::domain_list(*backup), text::domain_list(*device))
            }
            Self::Label { backup, device } => {
                (text::quoted(&backup.to_string_lossy()), text::quoted(&device.to_string_lossy()))
            }
            Self::PublicKey { backup, device } => (hex::encode(backup), hex::encode(device)),
        })
    }

    /// `{"field", "backup", "device"}`.
    pub fn to_json(&self) -> Value {
        let (backup, device) = match self {
            Self::Domains { backup, device } => {
                (Value::Number(u64::from(backup.0)), Value::Number(u64::from(device.0)))
            }
            Self::Capabilities { backup, device } | Self::Delegated { backup, device } => (
                Value::string(text::capabilities_hex(*backup)),
                Value::string(text::capabilities_hex(*device)),
            ),
            Self::Label { backup, device } => {
                (Value::string(backup.to_string_lossy()), Value::string(device.to_string_lossy()))
            }
            Self::Credentials => (Value::string("opens a session"), Value::string("refused")),
            Self::Content(how) => {
                (Value::string("the backup's"), Value::string(format!("another ({how})")))
            }
            other => match other.values() {
                Some((b, d)) => (Value::string(b), Value::string(d)),
                None => (Value::string("present"), Value::string("missing")),
            },
        };
        Value::Object(vec![
            ("field", Value::string(self.field())),
            ("backup", backup),
            ("device", device),
        ])
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.values()) {
            (Self::PublicKey { .. }, _) => f.write_str("the public key is not the backup's"),
            (Self::Credentials, _) => f.write_str(
                "the backup's keys do not open a session with it (the device holds another key \
                 with this id)",
            ),
            (Self::Content(how), _) => {
                write!(
                    f,
                    "its content is not the backup's ({how}): the device holds another object with this id"
                )
            }
            (_, Some((backup, device))) => {
                let name = match self {
                    Self::Delegated { .. } => "delegated capabilities",
                    other => other.field(),
                };
                write!(f, "{name} (backup {backup}; device {device})")
            }
            (_, None) => f.write_str("not on the device"),
        }
    }
}

/// `a, b and c` from the differences, for one line.
pub fn describe_differences(differences: &[Difference]) -> String {
    let parts: Vec<String> = differences.iter().map(ToString::to_string).collect();
    parts.join("; ")
}

/// How the object came to be on the device, and so what must be proven of its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provenance {
    /// It was on the device before (`yhsm verify`, or restore's already-present
    /// objects): another object with the backup's id, type and attributes may be there
    /// (a leftover, or a planted one), so its content is proven ([`content`]) or reported
    /// as not verified.
    WasThere,
    /// The device accepted this very blob in this run: IMPORT_WRAPPED only succeeds
    /// when AES-CCM authenticates the blob under the wrap key, and the device stores
    /// the key material it decrypted, so the content cannot differ. Nothing more is read
    /// (the attributes are still compared). Except for ecp256 keys in a build without
    /// P-256 arithmetic (the feature `p256`): the preflight could not check the blob's
    /// point against its scalar, so the device's public key is read and compared byte for
    /// byte all the same.
    ImportedFromThisBackup,
}

/// The backup's wrap key, for the content proofs: the key (to decrypt the backup's blob
/// and an export) and its id on the device, when known (to export under it).
#[derive(Clone, Copy, Debug)]
pub struct BackupKey<'a> {
    pub key: &'a WrapKey,
    pub id: Option<ObjectId>,
}

/// What the content of an object already on the device is compared with.
pub enum Reference<'a> {
    /// The backup's wrap key: the host decrypts the backup's blob (restore, verify, and
    /// clone with the shares).
    Key(BackupKey<'a>),
    /// The device the object is copied from (`yhsm clone` without the shares, whose wrap
    /// key this host never sees): the same read or operation on both devices must give the
    /// same answer ([`content`]).
    Device(&'a mut Client),
}

impl fmt::Debug for Reference<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(key) => f.debug_tuple("Key").field(&key.id).finish(),
            Self::Device(_) => f.write_str("Device"),
        }
    }
}

/// How the content of an object on the device was shown to be the backup's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proof {
    /// Imported from this backup in this run (see [`Provenance::ImportedFromThisBackup`]).
    Imported,
    /// An asymmetric key's public key is the backup's.
    PublicKey,
    /// A symmetric authentication key opened a session with the backup's keys.
    Session,
    /// Exported under the backup's wrap key: the body decrypts to the backup's.
    Export,
    /// Opaque data read with GET_OPAQUE is the backup's.
    GetOpaque,
    /// The key gave, to a random challenge, the answer the backup's key gives (the
    /// command: sign-hmac, encrypt-ecb, wrap-data, …).
    Operation(CommandCode),
}

impl Proof {
    /// The name JSON gives it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Imported => "imported",
            Self::PublicKey => "public-key",
            Self::Session => "session",
            Self::Export => "export",
            Self::GetOpaque => "get-opaque",
            Self::Operation(_) => "operation",
        }
    }
}

impl fmt::Display for Proof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Imported => f.write_str("imported from this backup"),
            Self::PublicKey => f.write_str("its public key is the backup's"),
            Self::Session => f.write_str("it opens a session with the backup's keys"),
            Self::Export => f.write_str("exported under the wrap key, it decrypts to the backup's"),
            Self::GetOpaque => f.write_str("read with get-opaque, it is the backup's"),
            Self::Operation(command) => {
                write!(f, "{command} with it answers as the backup's key does")
            }
        }
    }
}

/// What is known of an object's content, when its attributes match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    Proven(Proof),
    /// Present with the backup's attributes, content not verified: why it could not be.
    NotVerified(String),
}

/// What checking one backup object found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checked {
    /// None when the object's attributes (and content, where it was compared) match.
    pub differences: Vec<Difference>,
    /// The content, when the object is there with the backup's attributes.
    pub content: Option<Content>,
    /// The device's origin of the object, when it is there.
    pub origin: Option<Origin>,
}

impl Checked {
    /// A symmetric authentication key opened a session with the backup's keys.
    pub fn session_opened(&self) -> bool {
        self.content == Some(Content::Proven(Proof::Session))
    }

    /// The object was there before this run, but not imported under wrap (its origin
    /// lacks the bit a restore sets, docs/PROTOCOL.md §3.5): a leftover, or made there.
    pub fn not_imported_wrapped(&self) -> bool {
        self.origin.is_some_and(|o| !o.contains(Origin::IMPORTED_WRAPPED))
    }
}

/// Looks the backup's object up on the device and compares it: its attributes, and then
/// its content ([`content`]): an object imported in this run holds the blob's; a
/// symmetric authentication key is proven by a session with the backup's keys (after
/// which `client` logs in again with `login`), an asymmetric key by its public key, other
/// objects by export under the wrap key, get-opaque or an operation. An object whose
/// content cannot be proven is [`Content::NotVerified`], never verified. A device refusal
/// other than object-not-found, or a transport error, is an error.
pub fn check_entry(
    client: &mut Client,
    entry: &Entry,
    login: &Credentials,
    provenance: Provenance,
    key: &mut Reference<'_>,
) -> Result<Checked, ClientError> {
    let h = &entry.summary.header;
    let info = match client.get_object_info(h.id, h.object_type) {
        Ok(info) => info,
        Err(e) if e.code() == Some(ErrorCode::OBJECT_NOT_FOUND) => {
            return Ok(Checked { differences: vec![Difference::Missing], ..Checked::default() });
        }
        Err(e) => return Err(e),
    };
    let mut checked = Checked {
        differences: Attributes::of(&entry.summary).differences(&info),
        content: None,
        origin: (provenance == Provenance::WasThere).then_some(info.origin),
    };
    // An asymmetric key's public key is read even when its attributes differ: that it is
    // another key altogether is worth saying.
    let read_public_key = provenance == Provenance::WasThere
        || (!CHECKS_P256_PUBLIC_KEYS && h.algorithm == Algorithm::ECP256);
    if read_public_key
        && h.object_type == ObjectType::ASYMMETRIC_KEY
        && let Some(backup) = &entry.summary.public_key
        && info.algorithm == h.algorithm
    {
        let device = client.get_public_key(h.id)?;
        if device.key == *backup {
            checked.content = Some(Content::Proven(Proof::PublicKey));
        } else {
            checked
                .differences
                .push(Difference::PublicKey { backup: backup.clone(), device: device.key });
        }
    }
    // The content is proven for an object that differs only in the capability bits
    // without a name, which verify counts as a match.
    if checked.differences.iter().any(|d| !d.only_unnamed_bits()) {
        checked.content = None;
        return Ok(checked);
    }
    if checked.content.is_some() {
        return Ok(checked);
    }
    if let Some(keys) = &entry.auth_keys {
        let opened = client.authenticate(Credentials::keys(entry.id(), keys.clone()));
        client.authenticate(login.clone())?;
        match opened {
            Ok(()) => checked.content = Some(Content::Proven(Proof::Session)),
            Err(ClientError::AuthenticationFailed { .. }) => {
                checked.differences.push(Difference::Credentials);
            }
            Err(e) => return Err(e),
        }
        return Ok(checked);
    }
    if provenance == Provenance::ImportedFromThisBackup {
        checked.content = Some(Content::Proven(Proof::Imported));
        return Ok(checked);
    }
    let proved = match key {
        Reference::Key(key) => content::prove(client, entry, &info, *key)?,
        Reference::Device(source) => content::prove_against(client, source, &info)?,
    };
    match proved {
        Ok(proof) => checked.content = Some(Content::Proven(proof)),
        Err(content::Unproven::Differs(how)) => checked.differences.push(Difference::Content(how)),
        Err(content::Unproven::Why(why)) => checked.content = Some(Content::NotVerified(why)),
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use yhsm_proto::wrap::WrapHeader;

    fn summary() -> Summary {
        Summary {
            header: WrapHeader {
                wrap_algorithm: Algorithm::AES256_CCM_WRAP,
                capabilities: Capabilities::SIGN_ECDSA,
                id: 0x100,
                length: 96,
                domains: Domains(1),
                object_type: ObjectType::ASYMMETRIC_KEY,
                algorithm: Algorithm::ECP256,
                sequence: 0,
                origin: Origin::IMPORTED,
                label: "k".parse().unwrap(),
            },
            delegated: None,
            public_key: Some(vec![4; 64]),
        }
    }

    fn differences(s: &Summary, info: &ObjectInfo) -> Vec<Difference> {
        Attributes::of(s).differences(info)
    }

    fn info(s: &Summary) -> ObjectInfo {
        let h = s.header;
        ObjectInfo {
            capabilities: h.capabilities,
            id: h.id,
            length: h.length,
            domains: h.domains,
            object_type: h.object_type,
            algorithm: h.algorithm,
            sequence: 7,
            origin: Origin(0x12),
            label: h.label,
            delegated_capabilities: Capabilities::NONE,
        }
    }

    #[test]
    fn matches_whatever_the_sequence_and_origin() {
        let s = summary();
        assert!(differences(&s, &info(&s)).is_empty());
    }

    #[test]
    fn names_every_differing_field() {
        let s = summary();
        let mut i = info(&s);
        i.algorithm = Algorithm::ECP384;
        i.capabilities = Capabilities::NONE;
        i.domains = Domains(3);
        i.label = "other".parse().unwrap();
        let d = differences(&s, &i);
        let fields: Vec<&str> = d.iter().map(Difference::field).collect();
        assert_eq!(fields, ["algorithm", "capabilities", "domains", "label"]);
        assert_eq!(
            describe_differences(&d),
            "algorithm (backup ecp256; device ecp384); capabilities (backup sign-ecdsa; device \
             none); domains (backup 1; device 1:2); label (backup \"k\"; device \"other\")"
        );
    }

    #[test]
    fn compares_delegated_capabilities_of_keys_that_have_them() {
        let mut s = summary();
        s.header.object_type = ObjectType::AUTHENTICATION_KEY;
        s.delegated = Some(Capabilities::SIGN_ECDSA);
        let mut i = info(&s);
        assert_eq!(
            differences(&s, &i),
            [Difference::Delegated {
                backup: Capabilities::SIGN_ECDSA,
                device: Capabilities::NONE
            }]
        );
        i.delegated_capabilities = Capabilities::SIGN_ECDSA;
        assert!(differences(&s, &i).is_empty());
    }

    #[test]
    fn an_unknown_label_is_not_compared() {
        let a = Attributes {
            id: 2,
            algorithm: Algorithm::AES256_CCM_WRAP,
            domains: Domains(1),
            capabilities: Capabilities::IMPORT_WRAPPED,
            label: None,
            delegated: Some(Capabilities::ALL),
        };
        let mut i = info(&summary());
        i.algorithm = Algorithm::AES256_CCM_WRAP;
        i.capabilities = Capabilities::IMPORT_WRAPPED;
        i.delegated_capabilities = Capabilities::ALL;
        assert!(a.differences(&i).is_empty());
        i.delegated_capabilities = Capabilities::SIGN_ECDSA;
        assert_eq!(a.differences(&i)[0].field(), "delegated_capabilities");
    }
}
