//! A small big-endian codec: a [`Reader`] cursor whose reads fail with the name of
//! the field that was missing, and a [`Writer`] for building frames.
//!
//! Every multi-byte integer on the YubiHSM 2 wire is big-endian (docs/PROTOCOL.md §0.1).
//! Decoding a whole message goes through [`Reader::finish`], which rejects trailing bytes.
//!
//! A structure that is also a part of other structures (a log entry in a log answer and in
//! the simulator's state file, an object info, a wrapped object's header) implements
//! [`Codec`], so that whoever holds a [`Reader`] reads it in place, with the field names
//! of its one decoder.

use alloc::vec::Vec;
use core::fmt;

/// Why a byte string could not be decoded. Small and `Copy`; it names the field (or
/// message) at fault and never carries the bytes themselves, which may be secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// The field or message being decoded, e.g. `"object info: label"`.
    pub what: &'static str,
    /// What was wrong with it.
    pub kind: DecodeErrorKind,
}

/// The kinds of [`DecodeError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended `needed` bytes early while reading the field.
    Truncated { needed: usize },
    /// `extra` bytes followed the end of the message.
    TrailingBytes { extra: usize },
    /// The length is not one of the lengths this field may have.
    BadLength { got: usize },
    /// The value is not allowed here.
    InvalidValue,
}

impl DecodeError {
    /// A value that is not allowed in `what`.
    pub const fn invalid(what: &'static str) -> Self {
        Self { what, kind: DecodeErrorKind::InvalidValue }
    }

    /// A field `what` whose length `got` is not allowed.
    pub const fn bad_length(what: &'static str, got: usize) -> Self {
        Self { what, kind: DecodeErrorKind::BadLength { got } }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DecodeErrorKind::Truncated { needed } => {
                write!(f, "{}: truncated ({needed} more bytes expected)", self.what)
            }
            DecodeErrorKind::TrailingBytes { extra } => {
                write!(f, "{}: {extra} unexpected trailing bytes", self.what)
            }
            DecodeErrorKind::BadLength { got } => write!(f, "{}: wrong length {got}", self.what),
            DecodeErrorKind::InvalidValue => write!(f, "{}: invalid value", self.what),
        }
    }
}

impl core::error::Error for DecodeError {}

/// A cursor over a byte slice. Reads never panic; they return [`DecodeError`] naming the
/// field being read.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub const fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// Bytes not yet read.
    pub const fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Whether every byte has been read.
    pub const fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError {
                what,
                kind: DecodeErrorKind::Truncated { needed: n - self.buf.len() },
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A big-endian `u16`.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        self.array(what).map(u16::from_be_bytes)
    }

    /// A big-endian `u32`.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        self.array(what).map(u32::from_be_bytes)
    }

    /// A big-endian `u64`.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        self.array(what).map(u64::from_be_bytes)
    }

    /// Everything not yet read.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }

    /// Ends decoding of the message `what`: an error if any byte is left over.
    pub fn finish(self, what: &'static str) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError {
                what,
                kind: DecodeErrorKind::TrailingBytes { extra: self.buf.len() },
            })
        }
    }
}

/// A structure with one wire layout, read from and written to the middle of a larger
/// message (as rustls' `Codec`). Commands and responses, whose data field is a whole
/// frame, use `command::Command` and `command::Response` instead.
pub trait Codec: Sized {
    /// Appends the encoding.
    fn encode(&self, w: &mut Writer);

    /// Reads one value at the reader's position; errors name the field that was short or
    /// wrong. Leaves whatever follows for the caller.
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Reads exactly one value from `bytes`: trailing bytes are an error naming `what`.
    fn read_exact(bytes: &[u8], what: &'static str) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let value = Self::read(&mut r)?;
        r.finish(what)?;
        Ok(value)
    }

    /// The encoding, in a buffer of exactly its size.
    fn encoding(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.encode(&mut w);
        w.into_vec()
    }
}

/// Appends big-endian values to a byte vector.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub const fn new() -> Self {
        Self { buf: Vec::new() }
    }

    /// An empty writer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Self { buf: Vec::with_capacity(n) }
    }

    /// Appends one byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    /// Appends a big-endian `u16`.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    /// Appends a big-endian `u32`.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    /// Appends a big-endian `u64`.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes written.
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_fields_and_names_the_missing_one() {
        let mut r = Reader::new(&[0x01, 0x02, 0x03, 0x04, 0x05]);
        assert_eq!(r.u8("a"), Ok(1));
        assert_eq!(r.u16("b"), Ok(0x0203));
        let err = r.u32("c").unwrap_err();
        assert_eq!(err.what, "c");
        assert_eq!(err.kind, DecodeErrorKind::Truncated { needed: 2 });
    }

    #[test]
    fn rejects_trailing_bytes() {
        let mut r = Reader::new(&[1, 2, 3]);
        r.u8("a").unwrap();
        assert_eq!(
            r.finish("msg"),
            Err(DecodeError { what: "msg", kind: DecodeErrorKind::TrailingBytes { extra: 2 } })
        );
    }

    #[test]
    fn writer_round_trips_through_reader() {
        let mut w = Writer::new();
        w.u8(7).u16(0xbeef).u64(u64::MAX - 1).bytes(b"xy");
        let v = w.into_vec();
        let mut r = Reader::new(&v);
        assert_eq!(r.u8("a").unwrap(), 7);
        assert_eq!(r.u16("b").unwrap(), 0xbeef);
        assert_eq!(r.u64("c").unwrap(), u64::MAX - 1);
        assert_eq!(r.rest(), b"xy");
        r.finish("m").unwrap();
    }
}
