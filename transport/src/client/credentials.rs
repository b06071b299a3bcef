//! What the client keeps to open (and re-open) a session: the authentication key id and
//! its secret, in zeroizing containers with redacted `Debug` (docs/PROTOCOL.md §4).

use std::fmt;

use yhsm_proto::command::DevicePublicKey;
use yhsm_proto::object::ObjectId;
use yhsm_proto::scp03::EC_SECRET_LEN;
use yhsm_proto::{SecretArray, StaticKeys};

/// How an authentication key is proven, for messages that say what to check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// A password, from which the symmetric keys are derived.
    Password,
    /// Raw symmetric keys (K-ENC, K-MAC).
    Keys,
    /// A P-256 private key (asymmetric authentication, firmware >= 2.3).
    PrivateKey,
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Password => "password",
            Self::Keys => "keys",
            Self::PrivateKey => "private key",
        })
    }
}

/// An authentication key id and the secret that proves it.
///
/// A password is turned into its static keys when the credentials are made, and only the
/// keys are kept: the client re-opens sessions from them without the password, and
/// without paying for PBKDF2 again. All secrets are zeroized on drop; `Debug` shows the
/// key id and kind only.
#[derive(Clone)]
pub struct Credentials {
    key_id: ObjectId,
    pub(crate) secret: Secret,
}

#[derive(Clone)]
pub(crate) enum Secret {
    Symmetric {
        keys: StaticKeys,
        kind: CredentialKind,
    },
    Asymmetric {
        private_key: SecretArray<EC_SECRET_LEN>,
        /// The device's P-256 key: given by the caller (pinned), or fetched with
        /// GET_DEVICE_PUBLIC_KEY before the first session and kept for re-opening.
        device_public_key: Option<DevicePublicKey>,
    },
}

impl Credentials {
    /// Authentication key `key_id` with its password (derived as Yubico's tools do:
    /// PBKDF2-HMAC-SHA256, salt `Yubico`, 10000 iterations; this takes a moment).
    pub fn password(key_id: ObjectId, password: &[u8]) -> Self {
        let keys = StaticKeys::from_password(password);
        Self { key_id, secret: Secret::Symmetric { keys, kind: CredentialKind::Password } }
    }

    /// Authentication key `key_id` with its raw static keys.
    pub fn keys(key_id: ObjectId, keys: StaticKeys) -> Self {
        Self { key_id, secret: Secret::Symmetric { keys, kind: CredentialKind::Keys } }
    }

    /// Asymmetric authentication key `key_id` with its P-256 private key (a big-endian
    /// scalar). The device's public key is fetched with GET_DEVICE_PUBLIC_KEY when the
    /// first session opens, unless [`Credentials::with_device_public_key`] pins it.
    ///
    /// The handshake needs the cargo feature `p256` (on by default): without it,
    /// [`Client::authenticate`](crate::Client::authenticate) refuses these credentials with
    /// [`ClientError::FeatureDisabled`](crate::ClientError::FeatureDisabled) before sending
    /// anything.
    pub fn asymmetric(key_id: ObjectId, private_key: SecretArray<EC_SECRET_LEN>) -> Self {
        Self { key_id, secret: Secret::Asymmetric { private_key, device_public_key: None } }
    }

    /// Pins the device public key for asymmetric credentials (ignored for symmetric ones).
    /// A key fetched from the device is unauthenticated: whoever sits on the connection
    /// could answer with its own and then pass for the device, so pin it when it is known.
    #[must_use]
    pub fn with_device_public_key(mut self, key: DevicePublicKey) -> Self {
        if let Secret::Asymmetric { device_public_key, .. } = &mut self.secret {
            *device_public_key = Some(key);
        }
        self
    }

    /// The authentication key id.
    pub fn key_id(&self) -> ObjectId {
        self.key_id
    }

    /// What proves the key.
    pub fn kind(&self) -> CredentialKind {
        match &self.secret {
            Secret::Symmetric { kind, .. } => *kind,
            Secret::Asymmetric { .. } => CredentialKind::PrivateKey,
        }
    }

    /// The static keys of symmetric credentials (`None` for asymmetric ones): whoever
    /// opened a session with them on one device can check that another device's key with
    /// the same id holds the same keys (`yhsm clone`).
    pub fn static_keys(&self) -> Option<&StaticKeys> {
        match &self.secret {
            Secret::Symmetric { keys, .. } => Some(keys),
            Secret::Asymmetric { .. } => None,
        }
    }

    /// The device public key in use for asymmetric credentials (pinned or fetched).
    pub fn device_public_key(&self) -> Option<&DevicePublicKey> {
        match &self.secret {
            Secret::Asymmetric { device_public_key, .. } => device_public_key.as_ref(),
            Secret::Symmetric { .. } => None,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("key_id", &format_args!("0x{:04x}", self.key_id))
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}
