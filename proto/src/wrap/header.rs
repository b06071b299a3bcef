//! The 59-byte header at the start of every wrapped object's plaintext (docs/PROTOCOL.md §5.3).

use alloc::vec::Vec;

use crate::codec::{Codec, DecodeError, Reader, Writer};
use crate::object::{Algorithm, Capabilities, Domains, Label, ObjectId, ObjectType, Origin};

/// The header of a wrapped object: what the device restores the object as.
///
/// Wire layout: `wrap_algorithm(1) capabilities(8) id(2) length(2) domains(2) type(1)
/// algorithm(1) sequence(1) origin(1) label(40)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WrapHeader {
    /// The algorithm of the key the object is wrapped under (aes128/192/256-ccm-wrap).
    pub wrap_algorithm: Algorithm,
    pub capabilities: Capabilities,
    pub id: ObjectId,
    /// The length of the body that follows the header, in bytes.
    pub length: u16,
    pub domains: Domains,
    pub object_type: ObjectType,
    pub algorithm: Algorithm,
    /// yubihsm-wrap writes 0; a device export carries the object's real sequence.
    pub sequence: u8,
    /// yubihsm-wrap writes `imported` (0x02); a device export carries the real origin.
    pub origin: Origin,
    pub label: Label,
}

impl WrapHeader {
    /// The encoded length.
    pub const LEN: usize = 59;

    /// Decodes exactly 59 bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() != Self::LEN {
            return Err(DecodeError::bad_length("wrapped object header", bytes.len()));
        }
        Self::read_exact(bytes, "wrapped object header")
    }

    /// The 59-byte encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::LEN);
        self.encode(&mut w);
        w.into_vec()
    }
}

impl Codec for WrapHeader {
    fn encode(&self, w: &mut Writer) {
        w.u8(self.wrap_algorithm.0)
            .u64(self.capabilities.0)
            .u16(self.id)
            .u16(self.length)
            .u16(self.domains.0)
            .u8(self.object_type.0)
            .u8(self.algorithm.0)
            .u8(self.sequence)
            .u8(self.origin.0)
            .bytes(&self.label.0);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            wrap_algorithm: Algorithm(r.u8("wrapped object header: wrap algorithm")?),
            capabilities: Capabilities(r.u64("wrapped object header: capabilities")?),
            id: r.u16("wrapped object header: id")?,
            length: r.u16("wrapped object header: length")?,
            domains: Domains(r.u16("wrapped object header: domains")?),
            object_type: ObjectType(r.u8("wrapped object header: type")?),
            algorithm: Algorithm(r.u8("wrapped object header: algorithm")?),
            sequence: r.u8("wrapped object header: sequence")?,
            origin: Origin(r.u8("wrapped object header: origin")?),
            label: Label(r.array("wrapped object header: label")?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> WrapHeader {
        WrapHeader {
            wrap_algorithm: Algorithm::AES256_CCM_WRAP,
            capabilities: Capabilities(0x0000_0000_0001_0080),
            id: 0x0010,
            length: 96,
            domains: Domains(1),
            object_type: ObjectType::ASYMMETRIC_KEY,
            algorithm: Algorithm::ECP256,
            sequence: 0,
            origin: Origin::IMPORTED,
            label: "ecdsa p256 key".parse().unwrap(),
        }
    }

    #[test]
    fn encodes_the_layout_of_yubihsm_wrap() {
        // header_hex of vectors/wrapped/ec_p256.json
        let expected = hex::decode(
            "2a0000000000010080001000600001030c000265636473612070323536206b6579\
             0000000000000000000000000000000000000000000000000000",
        )
        .unwrap();
        assert_eq!(sample().to_bytes(), expected);
        assert_eq!(WrapHeader::decode(&expected).unwrap(), sample());
    }

    #[test]
    fn rejects_every_other_length() {
        let bytes = sample().to_bytes();
        for n in 0..bytes.len() {
            assert!(WrapHeader::decode(&bytes[..n]).is_err(), "prefix {n}");
        }
        let mut longer = bytes;
        longer.push(0);
        assert!(WrapHeader::decode(&longer).is_err());
    }
}
