//! Device options: set-option and get-option (layout as python-yubihsm and Yubico's
//! command reference give it; docs/PROTOCOL.md §7.8).
//!
//! set-option is `option(1) len(2) value` → empty; get-option is `option(1)` → value.
//! force-audit and fips-mode values are one byte; command-audit and algorithm-toggle
//! values are pairs `(command or algorithm, setting)`.

use alloc::vec::Vec;

use super::{Command, Response, empty_response};
use crate::codec::{DecodeError, Reader, Writer};
use crate::frame::CommandCode;
use crate::object::Algorithm;
use crate::wire::wire_code;

wire_code! {
    /// A device-global option tag.
    pub struct DeviceOption(u8);
    "device option";
    FORCE_AUDIT = 0x01 => "force-audit",
    COMMAND_AUDIT = 0x03 => "command-audit",
    /// Firmware >= 2.2; can only be changed on a freshly reset device.
    ALGORITHM_TOGGLE = 0x04 => "algorithm-toggle",
    /// YubiHSM 2 FIPS only; can only be changed on a freshly reset device.
    FIPS_MODE = 0x05 => "fips-mode",
}

wire_code! {
    /// An audit setting (force-audit value, or per-command in command-audit).
    pub struct AuditMode(u8);
    "audit mode";
    OFF = 0x00 => "off",
    ON = 0x01 => "on",
    /// On, and only a factory reset turns it off.
    FIXED = 0x02 => "fixed",
}

/// SET_OPTION (4f): `option(1) len(2) value` → empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetOption {
    pub option: DeviceOption,
    pub value: Vec<u8>,
}

impl SetOption {
    /// Sets force-audit.
    pub fn force_audit(mode: AuditMode) -> Self {
        Self { option: DeviceOption::FORCE_AUDIT, value: alloc::vec![mode.0] }
    }

    /// Sets the audit mode of the listed commands (the others keep theirs).
    pub fn command_audit(settings: &[(CommandCode, AuditMode)]) -> Self {
        let value = settings.iter().flat_map(|(c, m)| [c.0, m.0]).collect();
        Self { option: DeviceOption::COMMAND_AUDIT, value }
    }

    /// Enables or disables the listed algorithms (the others keep their state).
    pub fn algorithm_toggle(settings: &[(Algorithm, bool)]) -> Self {
        let value = settings.iter().flat_map(|(a, on)| [a.0, u8::from(*on)]).collect();
        Self { option: DeviceOption::ALGORITHM_TOGGLE, value }
    }
}

empty_response! {
    /// The (empty) answer to [`SetOption`].
    SetOptionResponse, "set-option"
}

impl Command for SetOption {
    const CODE: CommandCode = CommandCode::SET_OPTION;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = SetOptionResponse;

    fn encode(&self, w: &mut Writer) {
        // A value too long for the length field cannot fit in a frame either; `to_frame`
        // rejects it.
        let len = u16::try_from(self.value.len()).unwrap_or(u16::MAX);
        w.u8(self.option.0).u16(len).bytes(&self.value);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let option = DeviceOption(r.u8("set-option: option")?);
        let len = r.u16("set-option: length")?;
        let value = r.take(usize::from(len), "set-option: value")?.to_vec();
        r.finish("set-option")?;
        Ok(Self { option, value })
    }
}

/// GET_OPTION (50): `option(1)` → the option's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetOption {
    pub option: DeviceOption,
}

/// The answer to [`GetOption`]: the raw value; helpers read the known shapes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GetOptionResponse {
    pub value: Vec<u8>,
}

impl GetOptionResponse {
    /// A one-byte audit value (force-audit).
    pub fn audit_mode(&self) -> Result<AuditMode, DecodeError> {
        match self.value.as_slice() {
            [m] => Ok(AuditMode(*m)),
            v => Err(DecodeError::bad_length("get-option response", v.len())),
        }
    }

    /// A list of `(code, setting)` pairs (command-audit, algorithm-toggle).
    pub fn pairs(&self) -> Result<Vec<(u8, u8)>, DecodeError> {
        if !self.value.len().is_multiple_of(2) {
            return Err(DecodeError::bad_length("get-option response", self.value.len()));
        }
        Ok(self.value.chunks_exact(2).filter_map(|p| Some((*p.first()?, *p.get(1)?))).collect())
    }
}

impl Command for GetOption {
    const CODE: CommandCode = CommandCode::GET_OPTION;
    const REPEATABLE: bool = true;
    const MUTATING: bool = false;
    type Response = GetOptionResponse;

    fn encode(&self, w: &mut Writer) {
        w.u8(self.option.0);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let option = DeviceOption(r.u8("get-option: option")?);
        r.finish("get-option")?;
        Ok(Self { option })
    }
}

impl Response for GetOptionResponse {
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.value);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self { value: data.to_vec() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn builds_option_values() {
        let set = SetOption::command_audit(&[
            (CommandCode::SIGN_HMAC, AuditMode::ON),
            (CommandCode::VERIFY_HMAC, AuditMode::FIXED),
        ]);
        assert_eq!(set.to_data().as_slice(), &[3, 0, 4, 0x53, 1, 0x5c, 2]);
        assert_eq!(SetOption::decode(&set.to_data()).unwrap(), set);
        assert_eq!(SetOption::force_audit(AuditMode::ON).to_data().as_slice(), &[1, 0, 1, 1]);
        let toggle = SetOption::algorithm_toggle(&[(Algorithm::RSA2048, false)]);
        assert_eq!(toggle.to_data().as_slice(), &[4, 0, 2, 9, 0]);
        assert_eq!(DeviceOption::FIPS_MODE.to_string(), "fips-mode");
    }

    #[test]
    fn rejects_a_length_field_that_disagrees_with_the_value() {
        assert_eq!(SetOption::decode(&[1, 0, 2, 1]).unwrap_err().what, "set-option: value");
        assert_eq!(SetOption::decode(&[1, 0, 1, 1, 1]).unwrap_err().what, "set-option");
    }

    #[test]
    fn reads_option_values() {
        let v = GetOptionResponse { value: alloc::vec![0x01, 0x00, 0x03, 0x01] };
        assert_eq!(v.pairs().unwrap(), [(1, 0), (3, 1)]);
        assert!(v.audit_mode().is_err());
        assert_eq!(GetOptionResponse { value: alloc::vec![2] }.audit_mode(), Ok(AuditMode::FIXED));
        assert!(GetOptionResponse { value: alloc::vec![2, 3, 4] }.pairs().is_err());
    }
}
