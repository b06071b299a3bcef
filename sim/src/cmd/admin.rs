//! Device-wide commands in a session: close-session, reset-device, blink-device,
//! get-log-entries, set-log-index, set-option, get-option, get-pseudo-random,
//! get-storage-info.

use yhsm_proto::command::{
    AuditMode, BlinkDevice, CloseSession, DeviceOption, GetLogEntries, GetOption, GetPseudoRandom,
    GetStorageInfo, ResetDevice, Response, SetLogIndex, SetOption,
};
use yhsm_proto::frame::{CommandCode, ErrorCode};
use yhsm_proto::scp03::MAX_INNER_LEN;
use yhsm_proto::{Algorithm, Capabilities};

use super::{After, Ctx, Done, decode};
use crate::device::Device;

pub fn execute(
    dev: &mut Device,
    ctx: &Ctx,
    code: CommandCode,
    data: &[u8],
) -> Result<Done, ErrorCode> {
    let auth = &ctx.authority;
    match code {
        CommandCode::CLOSE_SESSION => {
            decode::<CloseSession>(data)?;
            Ok(Done { after: After::CloseSession, ..Done::empty() })
        }
        CommandCode::RESET_DEVICE => {
            decode::<ResetDevice>(data)?;
            auth.require(Capabilities::RESET_DEVICE)?;
            Ok(Done { after: After::Reset, ..Done::empty() })
        }
        CommandCode::BLINK_DEVICE => {
            decode::<BlinkDevice>(data)?;
            Ok(Done::empty())
        }
        CommandCode::GET_STORAGE_INFO => {
            decode::<GetStorageInfo>(data)?;
            Ok(Done::data(dev.store.storage_info().to_data().to_vec()))
        }
        CommandCode::GET_PSEUDO_RANDOM => {
            let req = decode::<GetPseudoRandom>(data)?;
            auth.require(Capabilities::GET_PSEUDO_RANDOM)?;
            // The answer must fit in one session message with its 3-byte inner header.
            let len = usize::from(req.len);
            if len > MAX_INNER_LEN - 3 {
                return Err(ErrorCode::WRONG_LENGTH);
            }
            let mut out = vec![0u8; len];
            dev.random(&mut out);
            Ok(Done::data(out))
        }
        CommandCode::GET_LOG_ENTRIES => {
            decode::<GetLogEntries>(data)?;
            auth.require(Capabilities::GET_LOG_ENTRIES)?;
            Ok(Done::data(dev.log.entries().to_data().to_vec()))
        }
        CommandCode::SET_LOG_INDEX => {
            let req = decode::<SetLogIndex>(data)?;
            auth.require(Capabilities::GET_LOG_ENTRIES)?;
            dev.log.set_index(req.index)?;
            dev.mark_changed();
            Ok(Done::empty())
        }
        CommandCode::SET_OPTION => {
            let req = decode::<SetOption>(data)?;
            auth.require(Capabilities::SET_OPTION)?;
            set_option(dev, req.option, &req.value)?;
            dev.mark_changed();
            Ok(Done::empty())
        }
        CommandCode::GET_OPTION => {
            let req = decode::<GetOption>(data)?;
            auth.require(Capabilities::GET_OPTION)?;
            Ok(Done::data(get_option(dev, req.option)?))
        }
        _ => Err(ErrorCode::INVALID_COMMAND),
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
