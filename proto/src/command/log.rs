//! The audit log: get-log-entries and set-log-index, and the digest chain that links the
//! entries (layout as python-yubihsm and Yubico's command reference give it).
//!
//! Each 32-byte entry is `number(2) command(1) length(2) session_key(2) target_key(2)
//! second_key(2) result(1) tick(4) digest(16)`; its digest is the first 16 bytes of
//! SHA-256(its first 16 bytes || the previous entry's digest). The device keeps up to 62
//! entries (Yubico's documentation and `log_total` in the vectors; see docs/PROTOCOL.md §8.3).

use alloc::vec::Vec;
use core::fmt;

use sha2::{Digest, Sha256};

use super::{Command, Response, empty_request, empty_response};
use crate::codec::{Codec, DecodeError, Reader, Writer};
use crate::frame::CommandCode;
use crate::secret::ct_eq;

/// One audit log entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LogEntry {
    /// Sequence number; consecutive entries differ by one (mod 2^16).
    pub number: u16,
    /// The command executed (0 for a boot event).
    pub command: CommandCode,
    /// Length of the command's data.
    pub length: u16,
    /// Authentication key of the session (0xffff when none).
    pub session_key: u16,
    /// Object the command used (0xffff when none).
    pub target_key: u16,
    /// Second object the command used (0xffff when none).
    pub second_key: u16,
    /// The response code (`command | 0x80`, or 0x7f on error).
    pub result: u8,
    /// Device tick count when the command ran.
    pub tick: u32,
    /// Truncated SHA-256 chaining this entry to the previous one.
    pub digest: [u8; 16],
}

impl LogEntry {
    /// The encoded length.
    pub const LEN: usize = 32;
    /// The bytes the digest covers (all but the digest).
    pub const DATA_LEN: usize = 16;

    /// The first 16 bytes: every field but the digest.
    pub fn data(&self) -> [u8; Self::DATA_LEN] {
        let mut w = Writer::with_capacity(Self::DATA_LEN);
        self.encode_data(&mut w);
        let mut out = [0u8; Self::DATA_LEN];
        out.copy_from_slice(&w.into_vec());
        out
    }

    fn encode_data(&self, w: &mut Writer) {
        w.u16(self.number)
            .u8(self.command.0)
            .u16(self.length)
            .u16(self.session_key)
            .u16(self.target_key)
            .u16(self.second_key)
            .u8(self.result)
            .u32(self.tick);
    }

    /// The digest this entry must carry when it follows an entry whose digest is
    /// `previous_digest`.
    pub fn compute_digest(&self, previous_digest: &[u8; 16]) -> [u8; 16] {
        let mut h = Sha256::new();
        h.update(self.data());
        h.update(previous_digest);
        let full = h.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    /// This entry with its digest set to follow `previous_digest` (device side).
    pub fn chained_to(self, previous_digest: &[u8; 16]) -> Self {
        Self { digest: self.compute_digest(previous_digest), ..self }
    }

    /// Checks this entry against the one before it: the next number and the right digest
    /// (compared in constant time).
    pub fn verify_after(&self, previous: &LogEntry) -> Result<(), LogChainErrorKind> {
        if self.number != previous.number.wrapping_add(1) {
            return Err(LogChainErrorKind::NotConsecutive);
        }
        if !ct_eq(&self.digest, &self.compute_digest(&previous.digest)) {
            return Err(LogChainErrorKind::WrongDigest);
        }
        Ok(())
    }
}

/// `number(2) command(1) length(2) session_key(2) target_key(2) second_key(2) result(1)
/// tick(4) digest(16)`. Read in place in a get-log-entries answer and in the simulator's
/// state file.
impl Codec for LogEntry {
    fn encode(&self, w: &mut Writer) {
        self.encode_data(w);
        w.bytes(&self.digest);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            number: r.u16("get-log-entries response: entry number")?,
            command: CommandCode(r.u8("get-log-entries response: entry command")?),
            length: r.u16("get-log-entries response: entry length")?,
            session_key: r.u16("get-log-entries response: entry session key")?,
            target_key: r.u16("get-log-entries response: entry target key")?,
            second_key: r.u16("get-log-entries response: entry second key")?,
            result: r.u8("get-log-entries response: entry result")?,
            tick: r.u32("get-log-entries response: entry tick")?,
            digest: r.array("get-log-entries response: entry digest")?,
        })
    }
}

/// Why a log chain did not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogChainErrorKind {
    /// The entry's number does not follow the previous one.
    NotConsecutive,
    /// The entry's digest does not chain to the previous one.
    WrongDigest,
}

/// A log chain that did not verify: which entry broke it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogChainError {
    /// Position of the entry in the list that was checked.
    pub index: usize,
    /// Its number.
    pub number: u16,
    pub kind: LogChainErrorKind,
}

impl fmt::Display for LogChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.kind {
            LogChainErrorKind::NotConsecutive => "does not follow the previous entry",
            LogChainErrorKind::WrongDigest => {
                "has a digest that does not chain to the previous entry"
            }
        };
        write!(f, "log entry {} {why}", self.number)
    }
}

impl core::error::Error for LogChainError {}

/// Verifies that `entries` form one chain, starting after `previous` when given (an entry
/// kept from an earlier read); without it the first entry is taken on trust.
pub fn verify_log_chain(
    entries: &[LogEntry],
    previous: Option<&LogEntry>,
) -> Result<(), LogChainError> {
    let mut prev = previous;
    for (index, entry) in entries.iter().enumerate() {
        if let Some(p) = prev {
            entry.verify_after(p).map_err(|kind| LogChainError {
                index,
                number: entry.number,
                kind,
            })?;
        }
        prev = Some(entry);
    }
    Ok(())
}

empty_request! {
    /// GET_LOG_ENTRIES (4d): every entry in the log store.
    GetLogEntries, GET_LOG_ENTRIES, LogEntries, "get-log-entries",
    repeatable: true, mutating: false
}

/// The answer to [`GetLogEntries`]:
/// `unlogged_boot(2) unlogged_auth(2) n(1) n × entry(32)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogEntries {
    /// Boots that could not be logged (log full in force-audit mode).
    pub unlogged_boot: u16,
    /// Authentications that could not be logged.
    pub unlogged_auth: u16,
    /// At most 255 entries (the count is one byte); more are not encoded.
    pub entries: Vec<LogEntry>,
}

impl Response for LogEntries {
    fn encode(&self, w: &mut Writer) {
        let n = u8::try_from(self.entries.len()).unwrap_or(u8::MAX);
        w.u16(self.unlogged_boot).u16(self.unlogged_auth).u8(n);
        for e in self.entries.iter().take(usize::from(n)) {
            e.encode(w);
        }
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let unlogged_boot = r.u16("get-log-entries response: unlogged boots")?;
        let unlogged_auth = r.u16("get-log-entries response: unlogged authentications")?;
        let n = usize::from(r.u8("get-log-entries response: entry count")?);
        if r.remaining() != n * LogEntry::LEN {
            return Err(DecodeError::bad_length("get-log-entries response", data.len()));
        }
        let entries = (0..n).map(|_| LogEntry::read(&mut r)).collect::<Result<_, _>>()?;
        r.finish("get-log-entries response")?;
        Ok(Self { unlogged_boot, unlogged_auth, entries })
    }
}

/// SET_LOG_INDEX (67): `index(2)`: the device may drop entries up to and including this
/// number (frees the log store in force-audit mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetLogIndex {
    pub index: u16,
}

empty_response! {
    /// The (empty) answer to [`SetLogIndex`].
    SetLogIndexResponse, "set-log-index"
}

impl Command for SetLogIndex {
    const CODE: CommandCode = CommandCode::SET_LOG_INDEX;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = SetLogIndexResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.index);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let index = r.u16("set-log-index: index")?;
        r.finish("set-log-index")?;
        Ok(Self { index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::DecodeErrorKind;
    use alloc::vec;

    fn entry(number: u16) -> LogEntry {
        LogEntry {
            number,
            command: CommandCode::SET_LOG_INDEX,
            length: 2,
            session_key: 1,
            target_key: 0xffff,
            second_key: 0xffff,
            result: 0xe7,
            tick: 697,
            digest: [0; 16],
        }
    }

    #[test]
    fn reads_entries_in_place_and_leaves_what_follows() {
        let (a, b) = (entry(7).chained_to(&[0; 16]), entry(8).chained_to(&[1; 16]));
        let mut bytes = a.encoding();
        bytes.extend_from_slice(&b.encoding());
        bytes.push(0x5a);
        let mut r = Reader::new(&bytes);
        assert_eq!(LogEntry::read(&mut r), Ok(a));
        assert_eq!(LogEntry::read(&mut r), Ok(b));
        assert_eq!(r.rest(), [0x5a]);
        let err = LogEntry::read_exact(&bytes[LogEntry::LEN..], "log entry").unwrap_err();
        assert_eq!(
            err,
            DecodeError { what: "log entry", kind: DecodeErrorKind::TrailingBytes { extra: 1 } }
        );
        let err = LogEntry::read(&mut Reader::new(&bytes[..LogEntry::LEN - 1])).unwrap_err();
        assert_eq!(err.what, "get-log-entries response: entry digest");
    }

    #[test]
    fn lays_out_an_entry_in_wire_order() {
        let e = LogEntry { digest: [0xaa; 16], ..entry(51) };
        let mut w = Writer::new();
        e.encode(&mut w);
        let bytes = w.into_vec();
        assert_eq!(
            &bytes[..16],
            &[0, 51, 0x67, 0, 2, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xe7, 0, 0, 0x02, 0xb9]
        );
        assert_eq!(&bytes[16..], &[0xaa; 16]);
        assert_eq!(e.data(), bytes[..16]);
        assert_eq!(e.encoding(), bytes);
    }

    #[test]
    fn digest_is_truncated_sha256_of_data_and_previous_digest() {
        let prev = [0x5a; 16];
        let e = entry(2);
        let mut input = e.data().to_vec();
        input.extend_from_slice(&prev);
        let full = Sha256::digest(&input);
        assert_eq!(e.compute_digest(&prev), full[..16]);
        // Changing either input changes the digest.
        assert_ne!(e.compute_digest(&[0x5b; 16]), e.compute_digest(&prev));
        assert_ne!(entry(3).compute_digest(&prev), e.compute_digest(&prev));
    }

    #[test]
    fn verifies_chains_and_names_the_broken_entry() {
        let first = entry(0xffff).chained_to(&[0; 16]);
        let second = entry(0).chained_to(&first.digest);
        let third = entry(1).chained_to(&second.digest);
        let chain = vec![first, second, third];
        assert_eq!(verify_log_chain(&chain, None), Ok(()));
        assert_eq!(verify_log_chain(&chain[1..], Some(&first)), Ok(()));

        let mut tampered = chain.clone();
        tampered[1].tick += 1;
        assert_eq!(
            verify_log_chain(&tampered, None),
            Err(LogChainError { index: 1, number: 0, kind: LogChainErrorKind::WrongDigest })
        );
        let skipped = vec![first, third];
        assert_eq!(
            verify_log_chain(&skipped, None).unwrap_err().kind,
            LogChainErrorKind::NotConsecutive
        );
    }

    #[test]
    fn rejects_a_count_that_does_not_match_the_entries() {
        let resp = LogEntries { unlogged_boot: 1, unlogged_auth: 2, entries: vec![entry(1)] };
        let mut data = resp.to_data().to_vec();
        assert_eq!(data.len(), 5 + 32);
        assert_eq!(LogEntries::decode(&data).unwrap(), resp);
        data[4] = 2;
        assert_eq!(
            LogEntries::decode(&data).unwrap_err(),
            DecodeError::bad_length("get-log-entries response", 37)
        );
        assert!(LogEntries::decode(&[0, 0, 0, 0, 0]).unwrap().entries.is_empty());
    }
}
