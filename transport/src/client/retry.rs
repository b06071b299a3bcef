//! Which commands the client may send a second time after the session broke under them
//! (docs/PROTOCOL.md §4.6: a lost or failed exchange leaves the SCP03 counter and MAC chain of
//! the two sides apart, so the session is over either way).
//!
//! The rule, applied by `Client::send` and nowhere else:
//!
//! 1. On a device `invalid-session` answer (a bare `7f` outside the envelope or an inner
//!    one: the session expired after 30 s idle, or the device closed it) or a transport
//!    failure in the middle of a session exchange, the session is dropped.
//! 2. If the command is safe to repeat ([`is_safe_to_repeat`]), a new session is opened
//!    with the stored credentials and the command is sent once more. Whatever happens to
//!    that second attempt is final: no third.
//! 3. Otherwise the error is returned with [`ClientError::may_have_executed`] saying
//!    whether the device may have acted on it; the next command opens a new session.
//! 4. A secure-channel failure — a wrong R-MAC, bad padding, a frame for another session —
//!    is never answered by a repeat: it is what tampering or corruption looks like, and
//!    it is reported. The session is dropped; the next command opens a fresh one (whose
//!    handshake proves the device again), so a one-off line error does not end the
//!    program, while a persistent attacker only ever produces errors.
//!
//! [`ClientError::may_have_executed`]: super::ClientError::may_have_executed

use yhsm_proto::command;
use yhsm_proto::frame::CommandCode;

/// Whether `code` may be sent twice: what its command type declares
/// (`yhsm_proto::command::Command::REPEATABLE`) — it neither creates, changes nor deletes
/// anything on the device, so running it again gives the caller what it asked for and
/// leaves the device as one run would have (apart from the audit log, which may record it
/// twice).
///
/// | safe to repeat | not repeated |
/// |---|---|
/// | echo, get-device-info (and part number), get-device-public-key, get-storage-info, list-objects, get-object-info, get-opaque, get-public-key, get-template, get-option, get-log-entries, get-pseudo-random, export-wrapped, blink-device | put-*, generate-*, import-wrapped, delete-object, change-authentication-key, reset-device, set-option, set-log-index, close-session, sign-*, decrypt-*, derive-ecdh, every other or unknown code |
///
/// export-wrapped reads the object and encrypts it under a fresh nonce: a second blob is
/// as good as the first. get-pseudo-random returns fresh bytes either way. blink-device
/// only restarts the LED.
///
/// sign-* (and the decrypt and derive commands) change no object, but are not repeated:
/// a signature is an act that counts outside the device (one signed statement must not
/// become two; ECDSA gives a different signature each time), it may be metered by the
/// audit log, and the caller that asked for one signature is better told that the first
/// may have been made. Codes without a command type (`yhsm raw`) are never repeated.
pub fn is_safe_to_repeat(code: CommandCode) -> bool {
    command::info(code).is_some_and(|i| i.repeatable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_reads_only() {
        let safe: Vec<&str> = CommandCode::ALL
            .iter()
            .filter(|(c, _)| is_safe_to_repeat(*c))
            .map(|(_, name)| *name)
            .collect();
        assert_eq!(
            safe,
            [
                "echo",
                "get-device-info",
                "get-device-public-key",
                "get-storage-info",
                "get-opaque",
                "list-objects",
                "export-wrapped",
                "get-log-entries",
                "get-object-info",
                "get-option",
                "get-pseudo-random",
                "get-public-key",
                "get-template",
                "blink-device",
            ]
        );
        for (code, name) in CommandCode::ALL {
            let changes = ["put-", "generate-", "import-", "delete-", "set-", "sign-", "change-"]
                .iter()
                .any(|p| name.starts_with(p));
            if changes {
                assert!(!is_safe_to_repeat(*code), "{name}");
            }
        }
        assert!(!is_safe_to_repeat(CommandCode::RESET_DEVICE));
        assert!(!is_safe_to_repeat(CommandCode::CLOSE_SESSION));
        assert!(!is_safe_to_repeat(CommandCode(0x99)));
    }
}
