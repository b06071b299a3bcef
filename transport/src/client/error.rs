//! The client's error: which command failed, why, what to do, and whether the device may
//! have run the command anyway.

use std::fmt;

use yhsm_proto::frame::{CommandCode, ErrorCode, FrameError, MAX_DATA_LEN};
use yhsm_proto::object::ObjectId;
use yhsm_proto::scp03::SessionError;

use super::credentials::CredentialKind;
use super::retry::is_safe_to_repeat;
use crate::TransportError;

/// Why a client operation failed. Every variant that concerns a command names it.
///
/// [`ClientError::may_have_executed`] tells whether the device may have acted on the
/// command despite the error; commands that change the device are never sent twice by the
/// client, so a caller that needs certainty (restore) checks the device state instead.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// The transport could not be opened.
    Connect { source: TransportError },
    /// The transport failed during the exchange.
    Transport { command: CommandCode, source: TransportError },
    /// The secure channel failed: a bad R-MAC, padding or frame in a session response, or
    /// a handshake step that did not check out. The session is closed.
    Session { command: CommandCode, source: SessionError },
    /// The device answered with an error code (in or outside a session).
    Device { command: CommandCode, code: ErrorCode },
    /// The device's answer is not a valid response to the command.
    Frame { command: CommandCode, source: FrameError },
    /// The command needs a session and no credentials were given.
    NotAuthenticated { command: CommandCode },
    /// The device did not accept the credentials of `key_id` (or, for the card cryptogram
    /// and the receipt, the client did not accept the device's proof of them).
    AuthenticationFailed { key_id: ObjectId, credential: CredentialKind },
    /// The request does not fit in one frame to this device; nothing was sent. `len` and
    /// `max` count data bytes (after the 3-byte header) of the frame as sent.
    TooLong { command: CommandCode, len: usize, max: usize },
    /// The operating system's random generator failed.
    Random { detail: String },
    /// The command moves key material and an observer records the raw session frames,
    /// which anyone who knows or guesses the password can decrypt: nothing was sent
    /// ([`crate::Exposure::Raw`]).
    RawTraceRefused { command: CommandCode },
    /// `what` needs the cargo feature `feature`, which this build leaves out; nothing was
    /// sent.
    FeatureDisabled { what: &'static str, feature: &'static str },
}

impl ClientError {
    /// The command the error concerns, if any.
    pub fn command(&self) -> Option<CommandCode> {
        match self {
            Self::Transport { command, .. }
            | Self::Session { command, .. }
            | Self::Device { command, .. }
            | Self::Frame { command, .. }
            | Self::NotAuthenticated { command }
            | Self::TooLong { command, .. }
            | Self::RawTraceRefused { command } => Some(*command),
            Self::AuthenticationFailed { .. } => Some(CommandCode::CREATE_SESSION),
            Self::Connect { .. } | Self::Random { .. } | Self::FeatureDisabled { .. } => None,
        }
    }

    /// The device's error code, for matching on `object-exists`, `object-not-found`, ...
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Device { code, .. } => Some(*code),
            Self::Session { source: SessionError::Device(code), .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the device may have executed the command.
    ///
    /// - transport errors: when the request may have reached the device
    ///   ([`TransportError::request_may_have_been_delivered`]);
    /// - secure-channel failures after sending (bad R-MAC, padding, ...) and responses
    ///   that do not parse: yes, the device answered something;
    /// - device error codes: no, the device refused the command — except invalid-session,
    ///   which is also what a device answers to a copy of a frame it already ran (a
    ///   transport that resends a frame after an I/O error, as the USB rule does, can
    ///   cause that), so it counts as "may have run";
    /// - errors before anything was sent (not authenticated, too long, randomness): no.
    pub fn may_have_executed(&self) -> bool {
        match self {
            Self::Transport { source, .. } => source.request_may_have_been_delivered(),
            Self::Session { source, .. } => match source {
                SessionError::Device(code) => *code == ErrorCode::INVALID_SESSION,
                // Refused while sealing or in the handshake: nothing of the command left.
                SessionError::TooLong { .. }
                | SessionError::Poisoned
                | SessionError::OutOfOrder { .. }
                | SessionError::InvalidKey { .. }
                | SessionError::CounterExhausted
                | SessionError::CardCryptogramMismatch
                | SessionError::ReceiptMismatch => false,
                _ => true,
            },
            Self::Device { code, .. } => *code == ErrorCode::INVALID_SESSION,
            Self::Frame { .. } => true,
            Self::Connect { .. }
            | Self::NotAuthenticated { .. }
            | Self::AuthenticationFailed { .. }
            | Self::TooLong { .. }
            | Self::Random { .. }
            | Self::RawTraceRefused { .. }
            | Self::FeatureDisabled { .. } => false,
        }
    }

    /// Whether this error ended the session because the device no longer knows it.
    pub fn is_invalid_session(&self) -> bool {
        self.code() == Some(ErrorCode::INVALID_SESSION)
    }
}

/// Commands that open or close sessions: the client runs them itself, and "check the
/// device before repeating it" would mean nothing to the user.
fn is_session_management(command: CommandCode) -> bool {
    matches!(
        command,
        CommandCode::CREATE_SESSION
            | CommandCode::AUTHENTICATE_SESSION
            | CommandCode::CLOSE_SESSION
    )
}

/// Advice for a device error code, or nothing when the name says it all.
fn advice(code: ErrorCode) -> Option<&'static str> {
    Some(match code {
        ErrorCode::INVALID_COMMAND => "this firmware does not know the command",
        ErrorCode::INVALID_DATA | ErrorCode::WRONG_LENGTH => {
            "the device rejected the request's data"
        }
        ErrorCode::INVALID_SESSION => {
            "the device no longer knows the session: it expired (the device drops sessions \
             idle for 30 s) or was closed"
        }
        ErrorCode::AUTHENTICATION_FAILED => "the device rejected the credentials",
        ErrorCode::SESSIONS_FULL => {
            "every session slot of the device is in use; close other clients, or wait 30 s \
             for idle sessions to expire"
        }
        ErrorCode::STORAGE_FAILED => "the device's storage is full or failed",
        ErrorCode::INSUFFICIENT_PERMISSIONS => {
            "the authentication key lacks a capability this needs, or the object's \
             capabilities or domains do not allow it"
        }
        ErrorCode::LOG_FULL => {
            "the audit log is full and force-audit is on: read the log, then move the log \
             index past the entries read"
        }
        ErrorCode::OBJECT_NOT_FOUND => {
            "no such object, or it is outside the authentication key's domains"
        }
        ErrorCode::INVALID_ID => "the object id is not valid here",
        ErrorCode::OBJECT_EXISTS => {
            "an object of this type with this id already exists; delete it or choose \
             another id"
        }
        ErrorCode::ALGORITHM_DISABLED => {
            "the algorithm is disabled on this device (option algorithm-toggle)"
        }
        _ => return None,
    })
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect { source } => write!(f, "{source}")?,
            Self::Transport { command, source } => write!(f, "{command}: {source}")?,
            Self::Session { command, source } => {
                write!(f, "{command}: {source}")?;
                if !is_session_management(*command) {
                    f.write_str("; the session was closed (the next command opens a new one)")?;
                }
            }
            Self::Device { command, code } => {
                write!(f, "{command}: the device answered {code} (0x{:02x})", code.0)?;
                if let Some(advice) = advice(*code) {
                    write!(f, ": {advice}")?;
                }
            }
            Self::Frame { command, source } => write!(f, "{command}: unexpected answer: {source}")?,
            Self::NotAuthenticated { command } => {
                write!(f, "{command} needs an authenticated session: authenticate first")?;
            }
            Self::AuthenticationFailed { key_id, credential } => {
                write!(
                    f,
                    "authentication with key 0x{key_id:04x} failed: check the {credential} for \
                     authentication key 0x{key_id:04x}"
                )?;
                if *credential == CredentialKind::PrivateKey {
                    f.write_str(" and that the device public key is this device's")?;
                }
            }
            Self::TooLong { command, len, max } => {
                write!(
                    f,
                    "{command}: the request does not fit in one frame to this device ({len} \
                     bytes of data, at most {max}); nothing was sent"
                )?;
                if *max < MAX_DATA_LEN {
                    f.write_str(" (firmware older than 2.4 takes frames of at most 2048 bytes)")?;
                }
            }
            Self::Random { detail } => {
                write!(f, "the operating system's random generator failed: {detail}")?;
            }
            Self::RawTraceRefused { command } => {
                write!(
                    f,
                    "{command} was not sent: it moves key material, and the raw session frames \
                     being recorded would let anyone who knows or guesses the password read it"
                )?;
            }
            Self::FeatureDisabled { what, feature } => write!(
                f,
                "{what} is not in this build: it needs the cargo feature `{feature}` (on by \
                 default; the minimal build leaves it out); rebuild with `--features \
                 {feature}`, or log in with a password"
            )?,
        }
        if let Some(command) = self.command()
            && self.may_have_executed()
            && !is_safe_to_repeat(command)
            && !is_session_management(command)
        {
            write!(
                f,
                "; {command} changes the device and was not sent again: it may have run, so \
                 check the device before repeating it"
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Connect { source } | Self::Transport { source, .. } => Some(source),
            Self::Session { source, .. } => Some(source),
            Self::Frame { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn wrong_password_names_the_key_and_what_to_check() {
        let e =
            ClientError::AuthenticationFailed { key_id: 1, credential: CredentialKind::Password };
        assert_eq!(
            e.to_string(),
            "authentication with key 0x0001 failed: check the password for authentication key \
             0x0001"
        );
        assert!(!e.may_have_executed());
        let e = ClientError::AuthenticationFailed {
            key_id: 0x20,
            credential: CredentialKind::PrivateKey,
        };
        assert!(e.to_string().contains("private key for authentication key 0x0020"), "{e}");
    }

    #[test]
    fn device_errors_carry_their_code_and_advice() {
        let e = ClientError::Device {
            command: CommandCode::PUT_WRAP_KEY,
            code: ErrorCode::OBJECT_EXISTS,
        };
        assert_eq!(e.code(), Some(ErrorCode::OBJECT_EXISTS));
        assert!(!e.may_have_executed());
        let text = e.to_string();
        assert!(text.starts_with("put-wrap-key: the device answered object-exists (0x11)"));
        assert!(text.contains("delete it or choose another id"), "{text}");
    }

    #[test]
    fn says_when_a_changing_command_may_have_run() {
        let lost = |command| ClientError::Transport {
            command,
            source: TransportError::Timeout { after: Duration::from_secs(1), request_sent: true },
        };
        let e = lost(CommandCode::IMPORT_WRAPPED);
        assert!(e.may_have_executed());
        assert!(e.to_string().contains("import-wrapped changes the device and was not sent again"));
        // A read is repeated instead, so its message does not talk about that.
        assert!(!lost(CommandCode::LIST_OBJECTS).to_string().contains("not sent again"));
        let expired = ClientError::Device {
            command: CommandCode::PUT_OPAQUE,
            code: ErrorCode::INVALID_SESSION,
        };
        assert!(expired.may_have_executed() && expired.is_invalid_session());
        assert!(expired.to_string().contains("idle for 30 s"), "{expired}");
        // The client's own session commands get no advice about checking the device.
        let handshake = lost(CommandCode::CREATE_SESSION);
        assert!(handshake.may_have_executed());
        assert!(!handshake.to_string().contains("not sent again"), "{handshake}");
    }

    #[test]
    fn too_long_mentions_old_firmware_only_when_it_applies() {
        let e = ClientError::TooLong { command: CommandCode::PUT_OPAQUE, len: 2100, max: 2045 };
        assert!(e.to_string().contains("older than 2.4"), "{e}");
        let e = ClientError::TooLong { command: CommandCode::PUT_OPAQUE, len: 4000, max: 3136 };
        assert!(!e.to_string().contains("older than 2.4"), "{e}");
        assert!(!e.may_have_executed());
    }
}
