//! The audit log (GET_LOG_ENTRIES / SET_LOG_INDEX): numbered entries linked by the digest
//! chain that `yhsm_proto::command::verify_log_chain` checks, the per-command audit
//! settings and force-audit.
//!
//! Capacity: 62 entries, as Yubico's documentation and `log_total` in
//! `vectors/scp03-transcript.json` give it (docs/PROTOCOL.md §8.3, §9; that vector's device side is
//! not a real device). After a reset the log holds a reset line (number 1, every other field 0xff)
//! and a boot line (number 2, command 0, session key 0xffff), as Yubico's device test
//! `test_logs_after_reset` expects. Firmware >= 2.3.1 audits no command by default.

use std::collections::VecDeque;

use yhsm_proto::command::{AuditMode, LogEntries, LogEntry};
use yhsm_proto::frame::{CommandCode, ErrorCode};

/// Entries the log holds.
pub const CAPACITY: usize = 62;
/// "No key" in a log entry.
pub const NONE: u16 = 0xffff;

/// What one logged command did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub command: CommandCode,
    pub length: u16,
    pub session_key: u16,
    pub target_key: u16,
    pub second_key: u16,
    /// `command | 0x80`, or 0x7f for an error.
    pub result: u8,
}

/// The log store and its settings.
#[derive(Clone, Debug)]
pub struct AuditLog {
    entries: VecDeque<LogEntry>,
    last_number: u16,
    last_digest: [u8; 16],
    /// Force-audit: refuse audited commands while the log is full.
    pub force_audit: AuditMode,
    /// Audit setting per command code.
    command_audit: [AuditMode; 256],
    pub unlogged_boot: u16,
    pub unlogged_auth: u16,
}

impl Default for AuditLog {
    fn default() -> Self {
        let mut log = Self {
            entries: VecDeque::with_capacity(CAPACITY),
            last_number: 0,
            last_digest: [0; 16],
            force_audit: AuditMode::OFF,
            command_audit: [AuditMode::OFF; 256],
            unlogged_boot: 0,
            unlogged_auth: 0,
        };
        log.reset();
        log
    }
}

impl AuditLog {
    /// The log of a freshly reset device: settings off, a reset line and a boot line.
    pub fn reset(&mut self) {
        self.entries.clear();
        self.last_number = 0;
        self.last_digest = [0; 16];
        self.force_audit = AuditMode::OFF;
        self.command_audit = [AuditMode::OFF; 256];
        self.unlogged_boot = 0;
        self.unlogged_auth = 0;
        self.append_raw(CommandCode(0xff), 0xffff, NONE, NONE, NONE, 0xff, 0xffff_ffff);
        self.boot();
    }

    /// Appends a boot line (the device started).
    pub fn boot(&mut self) {
        self.append_raw(CommandCode(0), 0, NONE, 0, 0, 0, 0);
    }

    /// Entries held now.
    pub fn used(&self) -> usize {
        self.entries.len()
    }

    /// Whether every slot is taken.
    pub fn is_full(&self) -> bool {
        self.entries.len() >= CAPACITY
    }

    /// Whether `command` is audited.
    pub fn audits(&self, command: CommandCode) -> bool {
        self.command_audit.get(usize::from(command.0)).is_some_and(|m| *m != AuditMode::OFF)
    }

    /// Whether `command` would be refused now: it is audited, force-audit is on and the
    /// log is full.
    /// SET_LOG_INDEX (which frees entries) and RESET_DEVICE (which empties the log) are
    /// never refused: otherwise a full log could never be emptied.
    pub fn blocks(&self, command: CommandCode) -> bool {
        !matches!(command, CommandCode::SET_LOG_INDEX | CommandCode::RESET_DEVICE)
            && self.force_audit != AuditMode::OFF
            && self.audits(command)
            && self.is_full()
    }

    /// The audit setting of `command`.
    pub fn command_audit(&self, command: u8) -> AuditMode {
        self.command_audit.get(usize::from(command)).copied().unwrap_or(AuditMode::OFF)
    }

    /// Sets the audit mode of one command. A fixed setting cannot be changed.
    pub fn set_command_audit(&mut self, command: u8, mode: AuditMode) -> Result<(), ErrorCode> {
        if mode.0 > AuditMode::FIXED.0 {
            return Err(ErrorCode::INVALID_DATA);
        }
        let slot =
            self.command_audit.get_mut(usize::from(command)).ok_or(ErrorCode::INVALID_DATA)?;
        if *slot == AuditMode::FIXED && mode != AuditMode::FIXED {
            return Err(ErrorCode::INVALID_DATA);
        }
        *slot = mode;
        Ok(())
    }

    /// Sets force-audit. A fixed setting cannot be changed.
    pub fn set_force_audit(&mut self, mode: AuditMode) -> Result<(), ErrorCode> {
        if mode.0 > AuditMode::FIXED.0
            || (self.force_audit == AuditMode::FIXED && mode != AuditMode::FIXED)
        {
            return Err(ErrorCode::INVALID_DATA);
        }
        self.force_audit = mode;
        Ok(())
    }

    /// Records `event` at `tick` when its command is audited. A full log drops its oldest
    /// entry (force-audit refuses the command before it runs instead, see [`Self::blocks`]).
    pub fn record(&mut self, event: Event, tick: u32) {
        if self.audits(event.command) {
            self.append_raw(
                event.command,
                event.length,
                event.session_key,
                event.target_key,
                event.second_key,
                event.result,
                tick,
            );
        }
    }

    #[allow(clippy::too_many_arguments, reason = "one argument per log entry field")]
    fn append_raw(
        &mut self,
        command: CommandCode,
        length: u16,
        session_key: u16,
        target_key: u16,
        second_key: u16,
        result: u8,
        tick: u32,
    ) {
        let number = self.last_number.wrapping_add(1);
        let entry = LogEntry {
            number,
            command,
            length,
            session_key,
            target_key,
            second_key,
            result,
            tick,
            digest: [0; 16],
        }
        .chained_to(&self.last_digest);
        self.last_number = number;
        self.last_digest = entry.digest;
        if self.entries.len() >= CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    /// Drops every entry up to and including number `index` (SET_LOG_INDEX). An index
    /// after the last entry is invalid-data; one already dropped changes nothing.
    pub fn set_index(&mut self, index: u16) -> Result<(), ErrorCode> {
        let Some(pos) = self.entries.iter().position(|e| e.number == index) else {
            let behind = self.last_number.wrapping_sub(index);
            // Numbers within the last 2^15 are in the past: already dropped.
            return if behind < 0x8000 { Ok(()) } else { Err(ErrorCode::INVALID_DATA) };
        };
        self.entries.drain(..=pos);
        Ok(())
    }

    /// The answer to GET_LOG_ENTRIES.
    pub fn entries(&self) -> LogEntries {
        LogEntries {
            unlogged_boot: self.unlogged_boot,
            unlogged_auth: self.unlogged_auth,
            entries: self.entries.iter().copied().collect(),
        }
    }

    /// The raw state for the state file: entries, last number and digest, settings.
    pub fn parts(&self) -> (&VecDeque<LogEntry>, u16, [u8; 16], &[AuditMode; 256]) {
        (&self.entries, self.last_number, self.last_digest, &self.command_audit)
    }

    /// Rebuilds a log from the state file.
    pub fn from_parts(
        entries: Vec<LogEntry>,
        last_number: u16,
        last_digest: [u8; 16],
        force_audit: AuditMode,
        command_audit: [AuditMode; 256],
    ) -> Self {
        let mut entries: VecDeque<LogEntry> = entries.into();
        while entries.len() > CAPACITY {
            entries.pop_front();
        }
        Self {
            entries,
            last_number,
            last_digest,
            force_audit,
            command_audit,
            unlogged_boot: 0,
            unlogged_auth: 0,
        }
    }
}
