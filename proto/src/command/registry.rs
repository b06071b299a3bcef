//! The facts of every command type, found by code: for frames that were not built from a
//! type (`yhsm raw`, traces of inner frames) and for rules that go by code (the client's
//! retry rule). The facts themselves are declared on the types ([`Command::REPEATABLE`],
//! [`Command::MUTATING`], [`Command::secret_in_request`], [`Command::secret_in_response`]);
//! this module only lists the types. The rules behind the facts: docs/PROTOCOL.md §7.9
//! (secrets in traces) and §7.10 (commands sent again after a broken session).

use super::{Command, Redact};
use crate::frame::CommandCode;

/// What a command type declares, reachable from its code.
#[derive(Clone, Copy, Debug)]
pub struct CommandInfo {
    pub code: CommandCode,
    /// The name of the type in this crate (`"PutWrapKey"`).
    pub type_name: &'static str,
    /// [`Command::REPEATABLE`].
    pub repeatable: bool,
    /// [`Command::MUTATING`].
    pub mutating: bool,
    secret_in_request: fn(&[u8]) -> Redact,
    secret_in_response: fn(&[u8]) -> Redact,
}

impl CommandInfo {
    const fn of<C: Command>(type_name: &'static str) -> Self {
        Self {
            code: C::CODE,
            type_name,
            repeatable: C::REPEATABLE,
            mutating: C::MUTATING,
            secret_in_request: C::secret_in_request,
            secret_in_response: C::secret_in_response,
        }
    }

    /// [`Command::secret_in_request`] of the type.
    pub fn secret_in_request(&self, data: &[u8]) -> Redact {
        (self.secret_in_request)(data)
    }

    /// [`Command::secret_in_response`] of the type.
    pub fn secret_in_response(&self, data: &[u8]) -> Redact {
        (self.secret_in_response)(data)
    }
}

/// Calls `$m!(args; Type, Type, …)` with every command type of this module, one per
/// command code (`every_command!(m(args))`). Session
/// commands (create-session, authenticate-session, session-message) are not plain
/// requests and live in `scp03`; [`super::GetPartNumber`] is a second form of
/// get-device-info (same code, same facts) and is not listed.
///
/// Adding a command: its type in the file of its area, then its name here.
macro_rules! every_command {
    ($m:ident ( $($args:tt)* )) => {
        $m! {
            $($args)*;
            // device.rs
            Echo, GetDeviceInfo, GetDevicePublicKey, GetStorageInfo, ResetDevice, CloseSession,
            GetPseudoRandom, BlinkDevice,
            // object.rs
            ListObjects, GetObjectInfo, DeleteObject, PutOpaque, GetOpaque,
            // template.rs
            PutTemplate, GetTemplate, SignSshCertificate,
            // auth.rs
            PutAuthenticationKey, ChangeAuthenticationKey,
            // asymmetric.rs
            PutAsymmetricKey, GenerateAsymmetricKey, GetPublicKey, SignEcdsa, SignEddsa,
            DeriveEcdh, SignAttestationCertificate,
            // rsa.rs
            SignPkcs1, SignPss, DecryptPkcs1, DecryptOaep,
            // hmac.rs
            PutHmacKey, GenerateHmacKey, SignHmac, VerifyHmac,
            // symmetric.rs
            PutSymmetricKey, GenerateSymmetricKey, EncryptEcb, DecryptEcb, EncryptCbc,
            DecryptCbc,
            // otp.rs
            PutOtpAeadKey, GenerateOtpAeadKey, CreateOtpAead, RandomizeOtpAead, RewrapOtpAead,
            DecryptOtp,
            // wrap.rs
            PutWrapKey, GenerateWrapKey, ExportWrapped, ImportWrapped, WrapData, UnwrapData,
            // rsa_wrap.rs
            PutPublicWrapKey, GetRsaWrappedKey, PutRsaWrappedKey, ExportRsaWrapped,
            ImportRsaWrapped,
            // log.rs
            GetLogEntries, SetLogIndex,
            // option.rs
            SetOption, GetOption,
        }
    };
}
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use every_command;

macro_rules! infos_of {
    (; $($t:ident),* $(,)?) => {
        [$(CommandInfo::of::<super::$t>(stringify!($t))),*]
    };
}

/// Every command type's facts, in the order of [`every_command`].
static INFOS: &[CommandInfo] = &every_command!(infos_of());

/// The facts of the command type with `code`, if this crate has one.
pub fn info(code: CommandCode) -> Option<&'static CommandInfo> {
    INFOS.iter().find(|i| i.code == code)
}

/// The facts of every command type, one per code.
pub fn infos() -> &'static [CommandInfo] {
    INFOS
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;
    use alloc::vec::Vec;

    #[test]
    fn lists_each_code_once_under_a_type_of_its_name() {
        let mut codes = BTreeSet::new();
        for i in infos() {
            assert!(codes.insert(i.code.0), "{} listed twice", i.code);
            // `PutWrapKey` for put-wrap-key.
            let name = i.code.name().unwrap_or_else(|| panic!("{}: unnamed code", i.type_name));
            assert!(name.replace('-', "").eq_ignore_ascii_case(i.type_name), "{name}");
            assert!(core::ptr::eq(info(i.code).unwrap(), i));
        }
        assert_eq!(info(CommandCode(0x99)).map(|i| i.type_name), None);
    }

    #[test]
    fn repeats_reads_only() {
        let repeatable: Vec<&str> =
            infos().iter().filter(|i| i.repeatable).map(|i| i.code.name().unwrap()).collect();
        assert_eq!(
            repeatable,
            [
                "echo",
                "get-device-info",
                "get-device-public-key",
                "get-storage-info",
                "get-pseudo-random",
                "blink-device",
                "list-objects",
                "get-object-info",
                "get-opaque",
                "get-template",
                "get-public-key",
                "export-wrapped",
                "get-log-entries",
                "get-option",
            ]
        );
    }

    #[test]
    fn mutating_is_everything_but_reads() {
        let reads: Vec<&str> =
            infos().iter().filter(|i| !i.mutating).map(|i| i.code.name().unwrap()).collect();
        assert_eq!(
            reads,
            [
                "echo",
                "get-device-info",
                "get-device-public-key",
                "get-storage-info",
                "close-session",
                "get-pseudo-random",
                "blink-device",
                "list-objects",
                "get-object-info",
                "get-opaque",
                "get-template",
                "get-public-key",
                "get-log-entries",
                "get-option",
            ]
        );
        for i in infos() {
            let name = i.code.name().unwrap();
            if ["put-", "generate-", "import-", "delete-", "set-", "sign-", "change-"]
                .iter()
                .any(|p| name.starts_with(p))
            {
                assert!(i.mutating && !i.repeatable, "{name}");
            }
        }
    }
}
