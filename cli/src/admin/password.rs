//! `yhsm change-password`: the password of the authentication key the session was opened
//! with (`-k`, default the factory key 0x0001) changed with CHANGE_AUTHENTICATION_KEY
//! (docs/PROTOCOL.md §7.4; §3.10: only the session's own key, which needs the
//! change-authentication-key capability), then proven by a new session opened with the
//! new password.
//!
//! The key must be a symmetric one (aes128-yubico-authentication): an asymmetric
//! authentication key has no password. The new password is read twice without echo, or
//! from `--new-password-file`. A lost answer is settled by trying the new password, then
//! the old one, so the operator learns which one logs in.

use yhsm_proto::command::AuthenticationKey;
use yhsm_proto::{Algorithm, Capabilities, ObjectInfo, StaticKeys};
use yhsm_transport::{Client, ClientError, Credentials};

use crate::admin;
use crate::device::command_error;
use crate::error::{Error, Result};
use crate::util::password::{NewPassword, Password};

/// What `yhsm change-password` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Args {
    pub new_password: NewPassword,
}

/// The key whose password changes.
#[derive(Debug)]
pub struct Plan {
    pub key: ObjectInfo,
}

/// The password was changed and a session opened with it.
#[derive(Debug)]
pub struct Changed {
    pub key: ObjectInfo,
    /// The device's answer was lost; the new password opening a session settled it.
    pub settled: bool,
}

impl Changed {
    pub fn render(&self) -> String {
        let mut out = format!("Changed the password of {}\n", admin::name(&self.key));
        if self.settled {
            out.push_str("(the device's answer was lost; the new password settled it)\n");
        }
        out.push_str(&format!(
            "Authentication key 0x{:04x} opens a session with the new password\n",
            self.key.id
        ));
        out
    }
}

/// The login key, checked: symmetric, with the change-authentication-key capability.
pub fn plan(client: &mut Client) -> Result<Plan> {
    let key = admin::login_key(client)?;
    if key.algorithm != Algorithm::AES128_YUBICO_AUTHENTICATION {
        return Err(Error::failure(format!(
            "authentication key 0x{:04x} is an {} key: it has no password to change",
            key.id, key.algorithm
        )));
    }
    admin::require(&key, Capabilities::CHANGE_AUTHENTICATION_KEY, "change its own password")
        .map_err(|e| {
            e.with_hint(format!(
                "capabilities are fixed when a key is made: have a key that may create keys \
                 make a new one (`yhsm put-authkey`), then delete this one (`yhsm delete \
                 0x{:04x} authentication-key`)",
                key.id
            ))
        })?;
    Ok(Plan { key })
}

/// Changes the login key's password to `new`, then opens a session with it. `old` are the
/// credentials the session was opened with, tried when the answer was lost.
pub fn change(
    client: &mut Client,
    plan: Plan,
    new: &Password,
    old: &Credentials,
) -> Result<Changed> {
    let id = plan.key.id;
    let keys = StaticKeys::from_password(new.expose_secret());
    let material = AuthenticationKey::Symmetric { enc: keys.enc.clone(), mac: keys.mac.clone() };
    let with_new = || Credentials::keys(id, keys.clone());
    let what = format!("cannot change the password of authentication key 0x{id:04x}");
    let settled = match client.change_authentication_key(id, material) {
        Ok(()) => false,
        Err(e) if e.may_have_executed() => {
            settle(client, with_new(), old)
                .map_err(|hint| Error::failure(what).with_source(e).with_hint(hint))?;
            true
        }
        Err(e) => return Err(command_error(format!("{what}; it is unchanged"), e)),
    };
    client.authenticate(with_new()).map_err(|e| {
        command_error(
            format!(
                "the device accepted the new password of authentication key 0x{id:04x}, but it \
                 does not open a session"
            ),
            e,
        )
    })?;
    Ok(Changed { key: plan.key, settled })
}

/// After a lost answer: `Ok` when the new password logs in, else what to tell the user.
fn settle(client: &mut Client, new: Credentials, old: &Credentials) -> Result<(), String> {
    let refused = |e: &ClientError| matches!(e, ClientError::AuthenticationFailed { .. });
    match client.authenticate(new) {
        Ok(()) => Ok(()),
        Err(e) if refused(&e) => match client.authenticate(old.clone()) {
            Ok(()) => Err("the password is unchanged: the old one still logs in; run the \
                           command again"
                .to_owned()),
            Err(_) => Err("neither the new nor the old password logs in now; try each again \
                           with `yhsm list`"
                .to_owned()),
        },
        Err(_) => Err("it may have been changed: try the new password with `yhsm list`, then \
                       the old one"
            .to_owned()),
    }
}
