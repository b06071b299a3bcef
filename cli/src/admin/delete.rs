//! `yhsm delete ID TYPE`: one object deleted (DELETE_OBJECT, docs/PROTOCOL.md §7.3; §3.3:
//! the login key needs the delete capability of the object's type), after a confirmation.
//!
//! The object is looked up first, so the confirmation names what will go (type, id,
//! label, algorithm, domains, capabilities) and a typo in the id is an error, not a
//! deletion. Two deletions get a note: the login key itself (it is refused when the device
//! shows no other authentication key: nobody could log in again, and only a physical
//! reset recovers such a device), and a wrap key (backups made under it can then be
//! restored only with its shares). A lost answer is settled by looking again.

use yhsm_proto::{Capabilities, ErrorCode, ObjectId, ObjectInfo, ObjectType};
use yhsm_transport::Client;

use crate::admin::{self, Confirmation};
use crate::device::command_error;
use crate::error::{Error, Result};
use crate::util::prompt;

/// What `yhsm delete` was asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Args {
    pub id: ObjectId,
    pub object_type: ObjectType,
    /// `--yes`: delete without asking.
    pub yes: bool,
}

/// The object to delete, and what the person should know first.
#[derive(Debug)]
pub struct Target {
    pub info: ObjectInfo,
    pub notes: Vec<String>,
}

/// What was deleted.
#[derive(Debug)]
pub struct Deleted {
    pub target: Target,
    /// The device's answer was lost; looking again showed the object gone.
    pub settled: bool,
}

impl Deleted {
    /// `Deleted asymmetric-key 0x0100 "ecdsa key"`.
    pub fn render(&self) -> String {
        let mut out = format!("Deleted {}\n", admin::name(&self.target.info));
        if self.settled {
            out.push_str("(the device's answer was lost; looking again showed the object gone)\n");
        }
        out
    }
}

/// The delete capability of `object_type`: `delete-<type>` (docs/PROTOCOL.md §3.3).
pub fn capability(object_type: ObjectType) -> Option<Capabilities> {
    Capabilities::from_name(&format!("delete-{object_type}"))
}

/// Looks the object up and checks that the login key may delete it.
pub fn find(client: &mut Client, id: ObjectId, object_type: ObjectType) -> Result<Target> {
    let login = admin::login_key(client)?;
    let needed = capability(object_type)
        .ok_or_else(|| Error::usage(format!("objects of type {object_type} cannot be deleted")))?;
    let info = client.get_object_info(id, object_type).map_err(|e| {
        if e.code() == Some(ErrorCode::OBJECT_NOT_FOUND) {
            Error::failure(format!(
                "there is no {object_type} 0x{id:04x} on the device (or it is outside the \
                 domains of authentication key 0x{:04x})",
                login.id
            ))
            .with_hint("`yhsm list` shows the objects this key can see")
        } else {
            command_error(format!("cannot read the object info of {object_type} 0x{id:04x}"), e)
        }
    })?;
    admin::require(&login, needed, &format!("delete {object_type} objects"))?;
    let mut notes = Vec::new();
    if object_type == ObjectType::AUTHENTICATION_KEY && id == login.id {
        let others = client
            .list_objects(&[])
            .map_err(|e| command_error("cannot list the objects on the device", e))?
            .iter()
            .filter(|o| o.object_type == ObjectType::AUTHENTICATION_KEY && o.id != id)
            .count();
        if others == 0 {
            return Err(Error::failure(format!(
                "authentication key 0x{id:04x} is the only one the device shows: deleting it \
                 would leave no way to log in (only a physical reset recovers such a device)"
            ))
            .with_hint(
                "create another first with `yhsm put-authkey` and check that it logs in, or \
                 erase the device with `yhsm reset`",
            ));
        }
        notes.push(format!(
            "this is the authentication key of this session; afterwards log in with another \
             one (the device shows {others} more)"
        ));
    }
    if object_type == ObjectType::WRAP_KEY {
        notes.push(format!(
            "backups made under wrap key 0x{id:04x} can afterwards be restored only with its \
             shares (or a copy of the key)"
        ));
    }
    Ok(Target { info, notes })
}

/// Deletes the object [`find`] found, after `confirmation`.
pub fn delete(
    client: &mut Client,
    target: Target,
    confirmation: Confirmation<'_>,
) -> Result<Deleted> {
    let info = &target.info;
    if let Confirmation::Ask(p) = confirmation {
        for note in &target.notes {
            p.message(&format!("Note: {note}"))
                .map_err(|e| Error::failure("cannot write to the terminal").with_source(e))?;
        }
        let serial = client.device_info().serial;
        let question = format!("Delete {} from the YubiHSM {serial}?", admin::describe(info));
        if !prompt::confirm(p, &question)? {
            return Err(Error::failure("not confirmed: nothing was deleted"));
        }
    }
    let (id, object_type) = (info.id, info.object_type);
    let what = format!("cannot delete {}", admin::name(info));
    let settled = match client.delete_object(id, object_type) {
        Ok(()) => false,
        Err(e) if e.may_have_executed() => match client.get_object_info(id, object_type) {
            Err(look) if look.code() == Some(ErrorCode::OBJECT_NOT_FOUND) => true,
            Ok(_) => {
                return Err(Error::failure(what)
                    .with_source(e)
                    .with_hint("it is still on the device: run the command again"));
            }
            Err(_) => {
                return Err(Error::failure(what).with_source(e).with_hint(
                    "it may have been deleted: `yhsm list` shows whether it is still there",
                ));
            }
        },
        Err(e) => return Err(Error::failure(what).with_source(e)),
    };
    Ok(Deleted { target, settled })
}
