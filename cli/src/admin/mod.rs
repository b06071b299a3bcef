//! The administration commands an operator needs around a backup (issue 11): `delete`
//! an object, `reset` the device to its factory state, `change-password` of the login key,
//! and `put-authkey` to create an authentication key ([`profile`] holds the yubihsm-setup
//! profiles it and `setup` share). Each works on a logged-in client and returns what to
//! print; what cannot be undone asks for confirmation ([`Confirmation`]) first, and
//! every key made or changed is proven by a session opened with its password.

pub mod authkey;
pub mod delete;
pub mod password;
pub mod profile;
pub mod reset;

use yhsm_proto::{Capabilities, ObjectInfo, ObjectType};
use yhsm_transport::Client;

use crate::device::command_error;
use crate::error::{Error, Result};
use crate::util::prompt::Prompter;
use crate::util::text;

/// How a destructive command is confirmed.
pub enum Confirmation<'a> {
    /// Confirmed on the command line (`--yes`, `--serial N`): nothing is asked.
    Given,
    /// Ask the person at this terminal.
    Ask(&'a mut dyn Prompter),
}

impl std::fmt::Debug for Confirmation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Given => "Confirmation::Given",
            Self::Ask(_) => "Confirmation::Ask",
        })
    }
}

/// The object info of the authentication key the client logged in with.
pub fn login_key(client: &mut Client) -> Result<ObjectInfo> {
    let id =
        client.auth_key_id().ok_or_else(|| Error::failure("no session is open with the device"))?;
    client.get_object_info(id, ObjectType::AUTHENTICATION_KEY).map_err(|e| {
        command_error(format!("cannot read the object info of authentication key 0x{id:04x}"), e)
    })
}

/// Fails, before anything is written, when the login key lacks `needed` (`to` says what
/// for: "delete asymmetric keys").
pub fn require(login: &ObjectInfo, needed: Capabilities, to: &str) -> Result<()> {
    let missing = Capabilities(needed.0 & !login.capabilities.0);
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::failure(format!(
        "authentication key 0x{:04x} lacks the {missing} capability, needed to {to}",
        login.id
    ))
    .with_hint("log in with a key that has it (-k ID)"))
}

/// `asymmetric-key 0x0100 "ecdsa key"`, for messages.
pub fn name(info: &ObjectInfo) -> String {
    format!(
        "{} 0x{:04x} {}",
        info.object_type,
        info.id,
        text::quoted(&info.label.to_string_lossy())
    )
}

/// [`name`], then algorithm, domains and capabilities in parentheses.
pub fn describe(info: &ObjectInfo) -> String {
    format!(
        "{} ({}; domains {}; capabilities {})",
        name(info),
        info.algorithm,
        text::domain_list(info.domains),
        info.capabilities
    )
}
