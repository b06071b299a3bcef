//! `yhsm put-authkey`: a new symmetric authentication key (PUT_AUTHENTICATION_KEY,
//! docs/PROTOCOL.md §7.4) from a password, with a [`profile`](crate::admin::profile) or
//! explicit capabilities, delegated capabilities, domains, label and id; then proven by a
//! session opened with it.
//!
//! Everything the device would refuse is checked before the password is asked for
//! (docs/PROTOCOL.md §3.10): the login key needs put-authentication-key, the new key's
//! domains must lie within the login key's, its capabilities and delegated capabilities
//! within the login key's delegated capabilities, and the id must be free.

use yhsm_proto::command::{AuthenticationKey, PutAuthenticationKey};
use yhsm_proto::{
    Capabilities, Domains, ErrorCode, Label, ObjectId, ObjectInfo, ObjectType, StaticKeys,
};
use yhsm_transport::{Client, Credentials};

use crate::admin;
use crate::admin::profile::Profile;
use crate::device::command_error;
use crate::error::{Error, Result};
use crate::util::password::{NewPassword, Password};
use crate::util::text::{self, Fields};

/// What `yhsm put-authkey` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Args {
    /// 0: the device chooses.
    pub id: ObjectId,
    pub label: Option<Label>,
    pub domains: Domains,
    pub capabilities: Option<Capabilities>,
    pub delegated: Option<Capabilities>,
    pub profile: Option<Profile>,
    pub new_password: NewPassword,
}

/// The key to create, every attribute decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    pub id: ObjectId,
    pub label: Label,
    pub domains: Domains,
    pub capabilities: Capabilities,
    pub delegated: Capabilities,
}

impl Args {
    /// The attributes: the profile's, each replaced by the option given. Without a
    /// profile, the capabilities must be given; the delegated capabilities default to
    /// none and the label to empty.
    pub fn spec(&self) -> Result<Spec> {
        let capabilities =
            self.capabilities.or(self.profile.map(|p| p.capabilities)).ok_or_else(|| {
                Error::usage("missing --capabilities (or a --profile that gives them)")
            })?;
        if self.domains.is_empty() {
            return Err(Error::usage("--domains: a key needs at least one domain"));
        }
        let label = match (self.label, self.profile) {
            (Some(label), _) => label,
            (None, Some(p)) => p.label.parse().unwrap_or_default(),
            (None, None) => Label::default(),
        };
        Ok(Spec {
            id: self.id,
            label,
            domains: self.domains,
            capabilities,
            delegated: self
                .delegated
                .or(self.profile.map(|p| p.delegated))
                .unwrap_or(Capabilities::NONE),
        })
    }
}

/// Checks that the login key may create `spec`'s key and that its id is free.
pub fn plan(client: &mut Client, spec: Spec) -> Result<Spec> {
    let login = admin::login_key(client)?;
    admin::require(&login, Capabilities::PUT_AUTHENTICATION_KEY, "create authentication keys")?;
    let outside = Domains(spec.domains.0 & !login.domains.0);
    if !outside.is_empty() {
        return Err(Error::failure(format!(
            "the new key's domains {} are not all within those of authentication key 0x{:04x} \
             ({}): it cannot create a key in domains {}",
            text::domain_list(spec.domains),
            login.id,
            text::domain_list(login.domains),
            text::domain_list(outside)
        )));
    }
    for (what, caps) in
        [("capabilities", spec.capabilities), ("delegated capabilities", spec.delegated)]
    {
        let missing = Capabilities(caps.0 & !login.delegated_capabilities.0);
        if !missing.is_empty() {
            return Err(Error::failure(format!(
                "authentication key 0x{:04x} does not delegate {missing}, which the new key's \
                 {what} hold",
                login.id
            ))
            .with_hint(
                "drop them from the new key, or log in with a key that delegates them (-k ID)",
            ));
        }
    }
    if spec.id != 0 {
        match client.get_object_info(spec.id, ObjectType::AUTHENTICATION_KEY) {
            Ok(existing) => {
                return Err(Error::failure(format!(
                    "there is already an {} on the device",
                    admin::name(&existing)
                ))
                .with_hint(format!(
                    "choose another id, or delete it first with `yhsm delete 0x{:04x} \
                     authentication-key`",
                    spec.id
                )));
            }
            Err(e) if e.code() == Some(ErrorCode::OBJECT_NOT_FOUND) => {}
            Err(e) => {
                return Err(command_error(
                    format!("cannot look for authentication key 0x{:04x}", spec.id),
                    e,
                ));
            }
        }
    }
    Ok(spec)
}

/// The key was created and a session opened with it.
#[derive(Debug)]
pub struct Created {
    pub info: ObjectInfo,
    /// The device's answer was lost; looking showed the key there.
    pub settled: bool,
}

impl Created {
    pub fn render(&self) -> String {
        let i = &self.info;
        let mut f = Fields::new();
        f.add("domains", text::domain_list(i.domains))
            .add("capabilities", i.capabilities.to_string())
            .add("delegated", i.delegated_capabilities.to_string());
        let mut out = format!("Created {}\n{}", admin::name(i), f.render());
        if self.settled {
            out.push_str("(the device's answer was lost; looking showed the key there)\n");
        }
        out.push_str(&format!(
            "Authentication key 0x{:04x} opens a session with its password\n",
            i.id
        ));
        out
    }
}

/// Creates the key of `spec` with `password`, then opens a session with it; afterwards
/// the client logs in again with `login`, the credentials it came with.
pub fn create(
    client: &mut Client,
    spec: Spec,
    password: &Password,
    login: &Credentials,
) -> Result<Created> {
    let keys = StaticKeys::from_password(password.expose_secret());
    let request = PutAuthenticationKey::new(
        spec.id,
        spec.label,
        spec.domains,
        spec.capabilities,
        spec.delegated,
        AuthenticationKey::Symmetric { enc: keys.enc.clone(), mac: keys.mac.clone() },
    );
    let what = "cannot create the authentication key";
    let (id, settled) = match client.put_authentication_key(&request) {
        Ok(id) => (id, false),
        Err(e) if e.may_have_executed() && spec.id != 0 => {
            match client.get_object_info(spec.id, ObjectType::AUTHENTICATION_KEY) {
                Ok(_) => (spec.id, true),
                Err(look) if look.code() == Some(ErrorCode::OBJECT_NOT_FOUND) => {
                    return Err(Error::failure(what)
                        .with_source(e)
                        .with_hint("it was not created: run the command again"));
                }
                Err(_) => {
                    return Err(Error::failure(what).with_source(e).with_hint(format!(
                        "it may have been created: `yhsm list` shows whether authentication \
                         key 0x{:04x} is there",
                        spec.id
                    )));
                }
            }
        }
        Err(e) if e.may_have_executed() => {
            return Err(Error::failure(what).with_source(e).with_hint(
                "it may have been created with an id the device chose: `yhsm list` shows it \
                 (delete it with `yhsm delete ID authentication-key` before running again)",
            ));
        }
        Err(e) => return Err(command_error(format!("{what}; nothing was written"), e)),
    };
    let info = client
        .get_object_info(id, ObjectType::AUTHENTICATION_KEY)
        .map_err(|e| command_error(format!("cannot read authentication key 0x{id:04x}"), e))?;
    client.authenticate(Credentials::keys(id, keys)).map_err(|e| {
        command_error(
            format!(
                "authentication key 0x{id:04x} was created, but its password does not open a \
                 session"
            ),
            e,
        )
        .with_hint(format!("delete it with `yhsm delete 0x{id:04x} authentication-key`"))
    })?;
    client.authenticate(login.clone()).map_err(|e| {
        command_error(
            format!(
                "authentication key 0x{id:04x} was created and proven, but logging in again failed"
            ),
            e,
        )
    })?;
    Ok(Created { info, settled })
}
