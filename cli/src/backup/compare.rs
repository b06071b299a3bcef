//! The comparison of a device's object with a backup's (PROTOCOL.md §3 "Object info", §5),
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
//! What the attributes cannot show is the secret of a symmetric object (an HMAC, AES or
//! authentication key, opaque data). [`check_entry`] proves a symmetric authentication key
//! by opening a session with the backup's keys; the other secrets are not compared.

use std::fmt;

use yhsm_proto::wrap::CHECKS_P256_PUBLIC_KEYS;
use yhsm_proto::{
    Algorithm, Capabilities, Domains, ErrorCode, Label, ObjectId, ObjectInfo, ObjectType,
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
        let s = &recovered.0.secret;
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
}

impl Difference {
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
        }
    }

    /// The backup's and the device's values, as text.
    fn values(&self) -> Option<(String, String)> {
        Some(match self {
            Self::Missing | Self::Credentials => return None,
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

/// Whether [`check_object`] also reads an asymmetric key's public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicKeyCheck {
    /// Compare it with the backup's: the object was on the device before (`yhsm verify`,
    /// or restore's already-present objects), so its key may be another one.
    Compare,
    /// The device accepted this very blob in this run: IMPORT_WRAPPED only succeeds
    /// when AES-CCM authenticates the blob under the wrap key, and the device stores
    /// the key material it decrypted, so the public key cannot differ. Skipping the read
    /// saves one round trip per asymmetric key (the attributes are still compared).
    /// Except for ecp256 keys in a build without P-256 arithmetic (the feature `p256`):
    /// the preflight could not check the blob's point against its scalar, so the device's
    /// public key is read and compared byte for byte all the same.
    ImportedFromThisBackup,
}

/// Looks the backup's object up on the device and compares it: the differences, none
/// when it matches. A device refusal other than object-not-found, or a transport error,
/// is an error.
pub fn check_object(
    client: &mut Client,
    summary: &Summary,
    public_key: PublicKeyCheck,
) -> Result<Vec<Difference>, ClientError> {
    let h = &summary.header;
    let info = match client.get_object_info(h.id, h.object_type) {
        Ok(info) => info,
        Err(e) if e.code() == Some(ErrorCode::OBJECT_NOT_FOUND) => {
            return Ok(vec![Difference::Missing]);
        }
        Err(e) => return Err(e),
    };
    let mut differences = Attributes::of(summary).differences(&info);
    let read_public_key = match public_key {
        PublicKeyCheck::Compare => true,
        PublicKeyCheck::ImportedFromThisBackup => {
            !CHECKS_P256_PUBLIC_KEYS && h.algorithm == Algorithm::ECP256
        }
    };
    if read_public_key
        && h.object_type == ObjectType::ASYMMETRIC_KEY
        && let Some(backup) = &summary.public_key
        && info.algorithm == h.algorithm
    {
        let device = client.get_public_key(h.id)?;
        if device.key != *backup {
            differences.push(Difference::PublicKey { backup: backup.clone(), device: device.key });
        }
    }
    Ok(differences)
}

/// What checking one backup object found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checked {
    /// None when the object matches.
    pub differences: Vec<Difference>,
    /// A symmetric authentication key opened a session with the backup's keys.
    pub session_opened: bool,
}

/// [`check_object`], and for a symmetric authentication key whose attributes match, a
/// session opened with the backup's keys (the secret the attributes cannot show), after
/// which `client` logs in again with `login`. Restore relies on this before deleting its
/// login key; an asymmetric authentication key cannot be tried (the backup holds only
/// its public key).
pub fn check_entry(
    client: &mut Client,
    entry: &Entry,
    login: &Credentials,
    public_key: PublicKeyCheck,
) -> Result<Checked, ClientError> {
    let mut checked = Checked {
        differences: check_object(client, &entry.summary, public_key)?,
        session_opened: false,
    };
    if let (true, Some(keys)) = (checked.differences.is_empty(), &entry.auth_keys) {
        let opened = client.authenticate(Credentials::keys(entry.id(), keys.clone()));
        client.authenticate(login.clone())?;
        match opened {
            Ok(()) => checked.session_opened = true,
            Err(ClientError::AuthenticationFailed { .. }) => {
                checked.differences.push(Difference::Credentials);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use yhsm_proto::Origin;
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
