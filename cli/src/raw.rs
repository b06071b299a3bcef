//! `yhsm raw CODE [HEXDATA]`: any command inside an authenticated session, for protocol
//! research (docs/PROTOCOL.md §2 framing, §4.4 session messages). The inner response frame is
//! printed as it is, device errors included.

use yhsm_proto::frame::{CommandCode, ErrorCode, HEADER_LEN};
use yhsm_transport::Client;

use crate::device::command_error;
use crate::error::{Error, Result};

/// A command code as the user writes it: two hex digits (`48`, `0x48`) or a name
/// (`list-objects`). Bare digits are hex, as command codes are always written.
pub fn parse_code(s: &str) -> Option<CommandCode> {
    let s = s.trim();
    if let Some(code) = CommandCode::from_name(s) {
        return Some(code);
    }
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    if digits.is_empty() || digits.len() > 2 {
        return None;
    }
    u8::from_str_radix(digits, 16).ok().map(CommandCode)
}

/// Hex data, spaces and colons allowed between bytes (`0001`, `00 01`, `00:01`).
pub fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let digits: String = s.chars().filter(|c| !c.is_whitespace() && *c != ':').collect();
    hex::decode(digits).ok()
}

/// What came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawResponse {
    pub command: CommandCode,
    /// The decrypted inner response frame.
    pub frame: Vec<u8>,
}

impl RawResponse {
    /// The device's error code, when the frame is an error frame (`7f 00 01 code`).
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self.frame.as_slice() {
            [0x7f, 0x00, 0x01, code] => Some(ErrorCode(*code)),
            _ => None,
        }
    }

    /// The frame in hex: `code len data`, spaced so the header stands out.
    pub fn render(&self) -> String {
        let header = self.frame.get(..HEADER_LEN.min(self.frame.len())).unwrap_or_default();
        let data = self.frame.get(HEADER_LEN..).unwrap_or_default();
        let mut out = hex::encode(header.get(..1).unwrap_or_default());
        if let Some(len) = header.get(1..3) {
            out.push(' ');
            out.push_str(&hex::encode(len));
        }
        if !data.is_empty() {
            out.push(' ');
            out.push_str(&hex::encode(data));
        }
        out.push('\n');
        out
    }

    /// An error for a device error frame, for the exit status.
    pub fn device_error(&self) -> Option<Error> {
        self.error_code().map(|code| {
            Error::failure(format!(
                "the device answered {} with {code} (0x{:02x})",
                self.command, code.0
            ))
        })
    }
}

/// Sends `code` with `data` inside the client's session.
pub fn send(client: &mut Client, code: CommandCode, data: &[u8]) -> Result<RawResponse> {
    let frame =
        client.raw(code.0, data).map_err(|e| command_error(format!("cannot send {code}"), e))?;
    Ok(RawResponse { command: code, frame })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_in_hex_or_by_name() {
        assert_eq!(parse_code("48"), Some(CommandCode::LIST_OBJECTS));
        assert_eq!(parse_code("0x4a"), Some(CommandCode::EXPORT_WRAPPED));
        assert_eq!(parse_code("10"), Some(CommandCode(0x10)));
        assert_eq!(parse_code("echo"), Some(CommandCode::ECHO));
        assert_eq!(parse_code("List-Objects"), Some(CommandCode::LIST_OBJECTS));
        for bad in ["", "0x", "100", "0x100", "zz", "-1", "list"] {
            assert_eq!(parse_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parses_spaced_hex() {
        assert_eq!(parse_hex("00 01:ff"), Some(vec![0, 1, 0xff]));
        assert_eq!(parse_hex(""), Some(vec![]));
        assert_eq!(parse_hex("0"), None);
        assert_eq!(parse_hex("zz"), None);
    }

    #[test]
    fn renders_frames_and_errors() {
        let ok = RawResponse { command: CommandCode::ECHO, frame: vec![0x81, 0, 2, 0xab, 0xcd] };
        assert_eq!(ok.render(), "81 0002 abcd\n");
        assert!(ok.device_error().is_none());
        let empty = RawResponse { command: CommandCode::ECHO, frame: vec![0x81, 0, 0] };
        assert_eq!(empty.render(), "81 0000\n");
        let err = RawResponse { command: CommandCode(0x10), frame: vec![0x7f, 0, 1, 1] };
        assert_eq!(err.error_code(), Some(ErrorCode::INVALID_COMMAND));
        assert_eq!(
            err.device_error().unwrap().message(),
            "the device answered 0x10 with invalid-command (0x01)"
        );
    }
}
