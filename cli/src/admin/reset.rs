//! `yhsm reset`: the device back to its factory state (RESET_DEVICE, docs/PROTOCOL.md §7.2;
//! §3.9: every object, the audit log and the settings gone; authentication key 0x0001 with
//! the password `password` back).
//!
//! Nothing destroys more, so it is confirmed by the device's serial: typed at a terminal
//! (`reset 1000001`), or given with `--serial N`, which must be the serial of the device
//! the connector reaches. The reset is then proven: the device reboots (USB devices
//! leave the bus for a moment), so the command connects again, logs in with the factory
//! key and lists what is left.

use std::thread;
use std::time::Duration;

use yhsm_proto::command::ListEntry;
use yhsm_proto::{Capabilities, ObjectType};
use yhsm_transport::{Client, Credentials};

use crate::admin::{self, Confirmation};
use crate::device::command_error;
use crate::error::{Error, Result};
use crate::util::prompt;

/// The factory authentication key and its password (docs/PROTOCOL.md §3.9).
pub const FACTORY_KEY: u16 = 1;
pub const FACTORY_PASSWORD: &str = "password";

/// How many times the device is looked for after the reset, one second apart.
pub const RECONNECT_ATTEMPTS: u32 = 10;

/// What `yhsm reset` was asked to do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// `--serial N`: the confirmation given on the command line.
    pub serial: Option<u32>,
}

/// The device before the reset.
#[derive(Debug)]
pub struct Plan {
    pub serial: u32,
    /// The objects the login key sees (the device may hold more, in other domains).
    pub objects: usize,
}

/// The device after the reset, proven: the factory key logs in and sees only itself.
#[derive(Debug)]
pub struct Reset {
    pub plan: Plan,
}

impl Reset {
    pub fn render(&self) -> String {
        format!(
            "YubiHSM {} reset: it holds only the factory authentication key 0x{FACTORY_KEY:04x} \
             (password `{FACTORY_PASSWORD}`)\nNext: change that password with `yhsm \
             change-password`, or restore a backup with `yhsm restore`\n",
            self.plan.serial
        )
    }
}

/// Checks that the login key may reset the device and that `args` confirm this device;
/// what the reset would erase.
pub fn plan(client: &mut Client, args: &Args) -> Result<Plan> {
    let serial = client.device_info().serial;
    if let Some(given) = args.serial
        && given != serial
    {
        return Err(Error::failure(format!(
            "--serial {given} is not the serial of this device ({serial} at {}): nothing was \
             reset",
            client.describe()
        )));
    }
    let login = admin::login_key(client)?;
    admin::require(&login, Capabilities::RESET_DEVICE, "reset the device")?;
    let objects = client
        .list_objects(&[])
        .map_err(|e| command_error("cannot list the objects on the device", e))?
        .len();
    Ok(Plan { serial, objects })
}

/// Resets the device after `confirmation`, then proves it with `reconnect`, which opens
/// the device again (it reboots after a reset) without observers: the client's move over.
pub fn reset(
    client: &mut Client,
    plan: Plan,
    confirmation: Confirmation<'_>,
    reconnect: &mut dyn FnMut() -> Result<Client>,
) -> Result<Reset> {
    if let Confirmation::Ask(p) = confirmation {
        let warning = format!(
            "This erases the YubiHSM {}: every object ({} that this key sees), the audit log \
             and the settings. Only the factory authentication key 0x{FACTORY_KEY:04x} \
             (password `{FACTORY_PASSWORD}`) remains. It cannot be undone.",
            plan.serial, plan.objects
        );
        p.message(&warning)
            .map_err(|e| Error::failure("cannot write to the terminal").with_source(e))?;
        if !prompt::confirm_typed(p, &format!("reset {}", plan.serial))? {
            return Err(Error::failure("not confirmed: nothing was reset"));
        }
    }
    if let Err(e) = client.reset_device() {
        // A refusal means it did not run; anything else may be the reboot itself.
        if !e.may_have_executed() {
            return Err(command_error("cannot reset the device; nothing was erased", e));
        }
    }
    let objects_after = prove(client, reconnect).map_err(|e| {
        e.with_hint(format!(
            "the reset was sent; the device reboots after it: check with `yhsm -k \
             {FACTORY_KEY} list` (password `{FACTORY_PASSWORD}`)"
        ))
    })?;
    let factory_only = matches!(
        objects_after.as_slice(),
        [only] if only.id == FACTORY_KEY && only.object_type == ObjectType::AUTHENTICATION_KEY
    );
    if !factory_only {
        return Err(Error::failure(format!(
            "after the reset the factory key sees {} objects, not only itself: the device was \
             not reset",
            objects_after.len()
        )));
    }
    Ok(Reset { plan })
}

/// Logs in with the factory key, on the same connection or, when the device went away
/// (it reboots), on a new one; the objects it sees.
fn prove(
    client: &mut Client,
    reconnect: &mut dyn FnMut() -> Result<Client>,
) -> Result<Vec<ListEntry>> {
    let factory = || Credentials::password(FACTORY_KEY, FACTORY_PASSWORD.as_bytes());
    let mut last = match client.authenticate(factory()) {
        Ok(()) => return count(client),
        Err(e) if e.code().is_some() => {
            return Err(command_error(
                "the factory key does not log in after the reset: the device was not reset",
                e,
            ));
        }
        Err(e) => command_error("the device did not answer after the reset", e),
    };
    for _ in 0..RECONNECT_ATTEMPTS {
        thread::sleep(Duration::from_secs(1));
        match reconnect() {
            Ok(mut again) => {
                // `-v` and `--trace` go on with the new connection.
                if let Some(observer) = client.take_observer() {
                    again.set_observer(observer);
                }
                again.authenticate(factory()).map_err(|e| {
                    command_error("the factory key does not log in after the reset", e)
                })?;
                return count(&mut again);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn count(client: &mut Client) -> Result<Vec<ListEntry>> {
    client
        .list_objects(&[])
        .map_err(|e| command_error("cannot list the objects after the reset", e))
}
