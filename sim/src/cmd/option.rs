//! Device options (proto `command/option.rs`): set-option and get-option for force-audit,
//! command-audit and algorithm-toggle.

use yhsm_proto::command::{AuditMode, DeviceOption, GetOption, SetOption};
use yhsm_proto::frame::{CommandCode, ErrorCode};
use yhsm_proto::{Algorithm, Capabilities};

use super::{Ctx, Done, Handle, Handler};
use crate::device::Device;

pub(super) const HANDLERS: &[Handler] = &[Handler::of::<SetOption>(), Handler::of::<GetOption>()];

impl Handle for SetOption {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        ctx.authority.require(Capabilities::SET_OPTION)?;
        set_option(dev, self.option, &self.value)?;
        dev.mark_changed();
        Ok(Done::empty())
    }
}

impl Handle for GetOption {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        ctx.authority.require(Capabilities::GET_OPTION)?;
        Ok(Done::data(get_option(dev, self.option)?))
    }
}

/// Every command code the audit settings cover (all named codes but the error code).
fn audited_commands() -> impl Iterator<Item = CommandCode> {
    CommandCode::ALL.iter().map(|(c, _)| *c).filter(|c| *c != CommandCode::ERROR)
}

fn set_option(dev: &mut Device, option: DeviceOption, value: &[u8]) -> Result<(), ErrorCode> {
    match option {
        DeviceOption::FORCE_AUDIT => match value {
            [mode] => dev.log.set_force_audit(AuditMode(*mode)),
            _ => Err(ErrorCode::WRONG_LENGTH),
        },
        DeviceOption::COMMAND_AUDIT => {
            if value.is_empty() || !value.len().is_multiple_of(2) {
                return Err(ErrorCode::WRONG_LENGTH);
            }
            let pairs: Vec<(u8, u8)> = value.chunks_exact(2).map(|p| (p[0], p[1])).collect();
            if pairs
                .iter()
                .any(|(c, m)| !audited_commands().any(|k| k.0 == *c) || *m > AuditMode::FIXED.0)
            {
                return Err(ErrorCode::INVALID_DATA);
            }
            for (c, m) in pairs {
                dev.log.set_command_audit(c, AuditMode(m))?;
            }
            Ok(())
        }
        DeviceOption::ALGORITHM_TOGGLE => {
            if value.is_empty() || !value.len().is_multiple_of(2) {
                return Err(ErrorCode::WRONG_LENGTH);
            }
            let pairs: Vec<(u8, u8)> = value.chunks_exact(2).map(|p| (p[0], p[1])).collect();
            if pairs.iter().any(|(a, on)| !Algorithm(*a).is_known() || *on > 1) {
                return Err(ErrorCode::INVALID_DATA);
            }
            for (a, on) in pairs {
                if on == 1 {
                    dev.disabled_algorithms.remove(&a);
                } else {
                    dev.disabled_algorithms.insert(a);
                }
            }
            Ok(())
        }
        // FIPS mode exists on the YubiHSM 2 FIPS only; the simulator is not one.
        _ => Err(ErrorCode::INVALID_DATA),
    }
}

fn get_option(dev: &Device, option: DeviceOption) -> Result<Vec<u8>, ErrorCode> {
    match option {
        DeviceOption::FORCE_AUDIT => Ok(vec![dev.log.force_audit.0]),
        DeviceOption::COMMAND_AUDIT => {
            Ok(audited_commands().flat_map(|c| [c.0, dev.log.command_audit(c.0).0]).collect())
        }
        DeviceOption::ALGORITHM_TOGGLE => Ok(Algorithm::ALL
            .iter()
            .flat_map(|(a, _)| [a.0, u8::from(dev.algorithm_enabled(*a))])
            .collect()),
        _ => Err(ErrorCode::INVALID_DATA),
    }
}
