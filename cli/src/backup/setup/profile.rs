//! The setups `yhsm setup --profile` makes: yubihsm-setup's `ksp` (the default) and
//! `ejbca`, whose wrap key and keys are those of yubihsm-setup 2.3.4 (issue 11 records the
//! `ksp` choices; the `ejbca` application key is in [`admin::profile`]), and `wrap-only`,
//! only the wrap key and its shares, to back up keys that are already on a device.
//!
//! A setup's wrap key always has import-wrapped and export-wrapped, and delegates what
//! the keys backed up under it have: a key is exported under wrap only when its
//! capabilities lie within the wrap key's delegated capabilities (docs/PROTOCOL.md
//! §3.10). So each profile's wrap key delegates its application key's capabilities, and
//! get-log-entries for the audit key.
//!
//! [`admin::profile`]: crate::admin::profile

use yhsm_proto::Capabilities;

use crate::admin::profile::{self, Profile};

/// The label yubihsm-setup gives the wrap key.
pub const WRAP_KEY_LABEL: &str = "Wrap key";

/// The wrap key's own capabilities, in every profile.
pub const WRAP_KEY_CAPABILITIES: Capabilities =
    Capabilities::IMPORT_WRAPPED.union(Capabilities::EXPORT_WRAPPED);

/// What `ksp`'s "RSA decryption" question adds to the application key's capabilities,
/// its delegated capabilities and the wrap key's.
pub const RSA_DECRYPTION: Capabilities =
    Capabilities::DECRYPT_PKCS.union(Capabilities::DECRYPT_OAEP);

/// One setup: the wrap key's delegated capabilities and the application key, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetupProfile {
    /// How `--profile` names it.
    pub name: &'static str,
    /// The wrap key's delegated capabilities.
    pub wrap_delegated: Capabilities,
    /// The application key; `None`: no authentication key is made (nor an audit key),
    /// and the login key is kept.
    pub application: Option<Profile>,
    /// Whether yubihsm-setup asks about RSA decryption (`ksp` only).
    pub asks_rsa_decryption: bool,
}

impl SetupProfile {
    /// Whether it makes authentication keys.
    pub fn makes_keys(&self) -> bool {
        self.application.is_some()
    }
}

/// yubihsm-setup 2.3.4's `ksp` (for the Windows key storage provider, and PKCS#11): the
/// wrap key delegates the application key's capabilities and get-log-entries.
pub const KSP: SetupProfile = SetupProfile {
    name: "ksp",
    wrap_delegated: profile::APPLICATION.capabilities.union(Capabilities::GET_LOG_ENTRIES),
    application: Some(profile::APPLICATION),
    asks_rsa_decryption: true,
};

/// yubihsm-setup's `ejbca`: the wrap key delegates what the application key delegates.
/// (yubihsm-setup then also generates a key and its certificate; `yhsm setup` leaves
/// that to the application.)
pub const EJBCA: SetupProfile = SetupProfile {
    name: "ejbca",
    wrap_delegated: profile::EJBCA.delegated,
    application: Some(profile::EJBCA),
    asks_rsa_decryption: false,
};

/// Only the wrap key and its shares. It delegates every capability that has a name
/// (bits 0 to 55, what a device keeps of `all`) unless `--delegated` says otherwise, so
/// that it can back up any key already on the device that is exportable under wrap.
pub const WRAP_ONLY: SetupProfile = SetupProfile {
    name: "wrap-only",
    wrap_delegated: Capabilities::KNOWN,
    application: None,
    asks_rsa_decryption: false,
};

/// Every profile.
pub const PROFILES: [SetupProfile; 3] = [KSP, EJBCA, WRAP_ONLY];

/// The profile named `name`.
pub fn find(name: &str) -> Option<SetupProfile> {
    PROFILES.iter().find(|p| p.name.eq_ignore_ascii_case(name.trim())).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wrap_keys_delegate_what_yubihsm_setup_2_3_4_delegates() {
        let names: Vec<&str> = KSP.wrap_delegated.names().collect();
        assert_eq!(
            names,
            [
                "generate-asymmetric-key",
                "sign-pkcs",
                "sign-pss",
                "sign-ecdsa",
                "sign-eddsa",
                "derive-ecdh",
                "export-wrapped",
                "import-wrapped",
                "exportable-under-wrap",
                "get-option",
                "get-log-entries"
            ]
        );
        // Every key a profile makes can be exported under its wrap key.
        for p in [KSP, EJBCA] {
            let app = p.application.unwrap();
            assert!(p.wrap_delegated.contains(app.capabilities), "{}", p.name);
            assert!(p.wrap_delegated.contains(profile::AUDIT.capabilities), "{}", p.name);
        }
        assert_eq!(find("Wrap-Only"), Some(WRAP_ONLY));
        assert_eq!(find("kms"), None);
        assert!(!WRAP_ONLY.makes_keys());
    }
}
