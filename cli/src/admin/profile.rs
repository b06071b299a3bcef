//! Authentication-key profiles: the keys yubihsm-setup's `ksp` and `ejbca` flows create
//! besides the wrap key (issue 11 records the `ksp` choices; the `ejbca` ones are from
//! yubihsm-setup's public source), by name, for `yhsm put-authkey --profile` and
//! the setup command. A profile gives the label, the capabilities and the delegated
//! capabilities; the domains, the id and the password are the operator's.

use yhsm_proto::Capabilities;

/// An authentication key's label and capabilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    /// How `--profile` names it.
    pub name: &'static str,
    /// What it is for, for the help.
    pub purpose: &'static str,
    pub label: &'static str,
    pub capabilities: Capabilities,
    pub delegated: Capabilities,
}

/// What an application (the KSP, PKCS#11) does with its keys: make them, sign, derive,
/// read options, and export and import them under wrap.
const APPLICATION_USE: Capabilities = Capabilities::GENERATE_ASYMMETRIC_KEY
    .union(Capabilities::SIGN_PKCS)
    .union(Capabilities::SIGN_PSS)
    .union(Capabilities::SIGN_ECDSA)
    .union(Capabilities::SIGN_EDDSA)
    .union(Capabilities::DERIVE_ECDH)
    .union(Capabilities::EXPORTABLE_UNDER_WRAP)
    .union(Capabilities::GET_OPTION);

/// yubihsm-setup `ksp`'s application key: its capabilities, and the same minus
/// import-wrapped and export-wrapped for the keys it makes.
pub const APPLICATION: Profile = Profile {
    name: "application",
    purpose: "yubihsm-setup's application key (KSP, PKCS#11): generate, sign, derive, \
              export and import under wrap",
    label: "Application auth key",
    capabilities: APPLICATION_USE
        .union(Capabilities::IMPORT_WRAPPED)
        .union(Capabilities::EXPORT_WRAPPED),
    delegated: APPLICATION_USE,
};

/// yubihsm-setup's audit key: reads the audit log.
pub const AUDIT: Profile = Profile {
    name: "audit",
    purpose: "yubihsm-setup's audit key: reads the audit log",
    label: "Audit auth key",
    capabilities: Capabilities::GET_LOG_ENTRIES.union(Capabilities::EXPORTABLE_UNDER_WRAP),
    delegated: Capabilities::NONE,
};

/// What yubihsm-setup `ejbca`'s application key does for EJBCA: make keys and delete them,
/// keep certificates as opaque objects, sign (attestation certificates too), manage
/// authentication keys, and export and import under wrap.
const EJBCA_USE: Capabilities = Capabilities::GENERATE_ASYMMETRIC_KEY
    .union(Capabilities::DELETE_ASYMMETRIC_KEY)
    .union(Capabilities::PUT_OPAQUE)
    .union(Capabilities::DELETE_OPAQUE)
    .union(Capabilities::GET_OPAQUE)
    .union(Capabilities::PUT_AUTHENTICATION_KEY)
    .union(Capabilities::DELETE_AUTHENTICATION_KEY)
    .union(Capabilities::IMPORT_WRAPPED)
    .union(Capabilities::EXPORT_WRAPPED)
    .union(Capabilities::SIGN_PKCS)
    .union(Capabilities::SIGN_PSS)
    .union(Capabilities::SIGN_ECDSA)
    .union(Capabilities::SIGN_ATTESTATION_CERTIFICATE)
    .union(Capabilities::EXPORTABLE_UNDER_WRAP);

/// yubihsm-setup `ejbca`'s application key: its capabilities, and the same plus
/// get-log-entries for the keys it makes.
pub const EJBCA: Profile = Profile {
    name: "ejbca",
    purpose: "yubihsm-setup's application key for EJBCA: generate and delete keys, \
              certificates as opaque objects, sign, manage authentication keys, export and \
              import under wrap",
    label: "Application auth key",
    capabilities: EJBCA_USE,
    delegated: EJBCA_USE.union(Capabilities::GET_LOG_ENTRIES),
};

/// Every profile.
pub const PROFILES: [Profile; 3] = [APPLICATION, EJBCA, AUDIT];

/// The profile named `name`.
pub fn find(name: &str) -> Option<Profile> {
    PROFILES.iter().find(|p| p.name.eq_ignore_ascii_case(name.trim())).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_application_key_delegates_what_it_uses_but_the_wrap_commands() {
        let names: Vec<&str> = APPLICATION.capabilities.names().collect();
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
                "get-option"
            ]
        );
        let missing = APPLICATION.capabilities.0 & !APPLICATION.delegated.0;
        assert_eq!(
            Capabilities(missing),
            Capabilities::IMPORT_WRAPPED | Capabilities::EXPORT_WRAPPED
        );
        assert_eq!(AUDIT.capabilities.to_string(), "exportable-under-wrap,get-log-entries");
        assert_eq!(find(" Audit "), Some(AUDIT));
        assert_eq!(find("EJBCA"), Some(EJBCA));
        assert_eq!(EJBCA.capabilities.0.count_ones(), 14);
        assert_eq!(
            Capabilities(EJBCA.delegated.0 & !EJBCA.capabilities.0),
            Capabilities::GET_LOG_ENTRIES
        );
        assert_eq!(find("admin"), None);
    }
}
