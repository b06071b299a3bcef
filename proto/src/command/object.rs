//! Object commands (docs/PROTOCOL.md §7.3): list-objects with its six filters, get-object-info,
//! delete-object, put-opaque and get-opaque.

use alloc::vec::Vec;

use super::{
    Command, ObjectHeader, Response, check_created_id, empty_response, header_names, id_response,
    non_empty_rest,
};
use crate::codec::{Codec, DecodeError, Reader, Writer};
use crate::frame::CommandCode;
use crate::object::{Algorithm, Capabilities, Domains, Label, ObjectId, ObjectInfo, ObjectType};

/// One LIST_OBJECTS filter: a tag then a fixed-size value (docs/PROTOCOL.md §7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Filter {
    /// Tag 01: objects with this id.
    Id(ObjectId),
    /// Tag 02: objects of this type.
    Type(ObjectType),
    /// Tag 03: objects in at least one of these domains.
    Domains(Domains),
    /// Tag 04: objects with at least one of these capabilities.
    Capabilities(Capabilities),
    /// Tag 05: objects with this algorithm.
    Algorithm(Algorithm),
    /// Tag 06: objects with this label.
    Label(Label),
}

impl Filter {
    pub const TAG_ID: u8 = 0x01;
    pub const TAG_TYPE: u8 = 0x02;
    pub const TAG_DOMAINS: u8 = 0x03;
    pub const TAG_CAPABILITIES: u8 = 0x04;
    pub const TAG_ALGORITHM: u8 = 0x05;
    pub const TAG_LABEL: u8 = 0x06;

    /// The tag byte.
    pub const fn tag(&self) -> u8 {
        match self {
            Self::Id(_) => Self::TAG_ID,
            Self::Type(_) => Self::TAG_TYPE,
            Self::Domains(_) => Self::TAG_DOMAINS,
            Self::Capabilities(_) => Self::TAG_CAPABILITIES,
            Self::Algorithm(_) => Self::TAG_ALGORITHM,
            Self::Label(_) => Self::TAG_LABEL,
        }
    }

    /// Appends the tag and the value.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(self.tag());
        match self {
            Self::Id(id) => w.u16(*id),
            Self::Type(t) => w.u8(t.0),
            Self::Domains(d) => w.u16(d.0),
            Self::Capabilities(c) => w.u64(c.0),
            Self::Algorithm(a) => w.u8(a.0),
            Self::Label(l) => w.bytes(&l.0),
        };
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8("list-objects: filter tag")? {
            Self::TAG_ID => Self::Id(r.u16("list-objects: id filter")?),
            Self::TAG_TYPE => Self::Type(ObjectType(r.u8("list-objects: type filter")?)),
            Self::TAG_DOMAINS => Self::Domains(Domains(r.u16("list-objects: domains filter")?)),
            Self::TAG_CAPABILITIES => {
                Self::Capabilities(Capabilities(r.u64("list-objects: capabilities filter")?))
            }
            Self::TAG_ALGORITHM => {
                Self::Algorithm(Algorithm(r.u8("list-objects: algorithm filter")?))
            }
            Self::TAG_LABEL => Self::Label(Label(r.array("list-objects: label filter")?)),
            _ => return Err(DecodeError::invalid("list-objects: filter tag")),
        })
    }
}

/// LIST_OBJECTS (48): the objects the session may see, narrowed by the filters (all of
/// which must match). No filter lists everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListObjects {
    pub filters: Vec<Filter>,
}

/// One listed object: `id(2) type(1) sequence(1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListEntry {
    pub id: ObjectId,
    pub object_type: ObjectType,
    pub sequence: u8,
}

impl ListEntry {
    /// The encoded length.
    pub const LEN: usize = 4;
}

impl Codec for ListEntry {
    fn encode(&self, w: &mut Writer) {
        w.u16(self.id).u8(self.object_type.0).u8(self.sequence);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            id: r.u16("list-objects response: id")?,
            object_type: ObjectType(r.u8("list-objects response: type")?),
            sequence: r.u8("list-objects response: sequence")?,
        })
    }
}

/// The answer to [`ListObjects`]: any number of entries, possibly none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListObjectsResponse {
    pub objects: Vec<ListEntry>,
}

impl Command for ListObjects {
    const CODE: CommandCode = CommandCode::LIST_OBJECTS;
    const REPEATABLE: bool = true;
    const MUTATING: bool = false;
    type Response = ListObjectsResponse;

    fn encode(&self, w: &mut Writer) {
        for f in &self.filters {
            f.encode(w);
        }
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let mut filters = Vec::new();
        while !r.is_empty() {
            filters.push(Filter::read(&mut r)?);
        }
        Ok(Self { filters })
    }
}

impl Response for ListObjectsResponse {
    fn encode(&self, w: &mut Writer) {
        for e in &self.objects {
            e.encode(w);
        }
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        if !data.len().is_multiple_of(ListEntry::LEN) {
            return Err(DecodeError::bad_length("list-objects response", data.len()));
        }
        let mut r = Reader::new(data);
        let mut objects = Vec::with_capacity(data.len() / ListEntry::LEN);
        while !r.is_empty() {
            objects.push(ListEntry::read(&mut r)?);
        }
        Ok(Self { objects })
    }
}

/// GET_OBJECT_INFO (4e): `id(2) type(1)` → the 66-byte [`ObjectInfo`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GetObjectInfo {
    pub id: ObjectId,
    pub object_type: ObjectType,
}

impl Command for GetObjectInfo {
    const CODE: CommandCode = CommandCode::GET_OBJECT_INFO;
    const REPEATABLE: bool = true;
    const MUTATING: bool = false;
    type Response = ObjectInfo;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.id).u8(self.object_type.0);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let id = r.u16("get-object-info: id")?;
        let object_type = ObjectType(r.u8("get-object-info: type")?);
        r.finish("get-object-info")?;
        Ok(Self { id, object_type })
    }

    /// The device must describe the object that was asked about.
    fn check_response(&self, info: &ObjectInfo) -> Result<(), DecodeError> {
        if info.id != self.id {
            return Err(DecodeError::invalid("get-object-info response: id"));
        }
        if info.object_type != self.object_type {
            return Err(DecodeError::invalid("get-object-info response: type"));
        }
        Ok(())
    }
}

impl Response for ObjectInfo {
    fn encode(&self, w: &mut Writer) {
        Codec::encode(self, w);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        // Checked here first so that the error names the command.
        if data.len() != ObjectInfo::LEN {
            return Err(DecodeError::bad_length("get-object-info response", data.len()));
        }
        ObjectInfo::decode(data)
    }
}

/// DELETE_OBJECT (58): `id(2) type(1)` → empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeleteObject {
    pub id: ObjectId,
    pub object_type: ObjectType,
}

empty_response! {
    /// The (empty) answer to [`DeleteObject`].
    DeleteObjectResponse, "delete-object"
}

impl Command for DeleteObject {
    const CODE: CommandCode = CommandCode::DELETE_OBJECT;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = DeleteObjectResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.id).u8(self.object_type.0);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let id = r.u16("delete-object: id")?;
        let object_type = ObjectType(r.u8("delete-object: type")?);
        r.finish("delete-object")?;
        Ok(Self { id, object_type })
    }
}

/// PUT_OPAQUE (42): hdr + data → id. The data may not be empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutOpaque {
    pub header: ObjectHeader,
    pub data: Vec<u8>,
}

id_response! {
    /// The answer to [`PutOpaque`].
    PutOpaqueResponse, "put-opaque"
}

impl Command for PutOpaque {
    const CODE: CommandCode = CommandCode::PUT_OPAQUE;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = PutOpaqueResponse;

    fn encode(&self, w: &mut Writer) {
        self.header.encode(w);
        w.bytes(&self.data);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let header = ObjectHeader::read(&mut r, &header_names!("put-opaque"))?;
        let data = non_empty_rest(&mut r, "put-opaque: data")?.to_vec();
        Ok(Self { header, data })
    }

    fn check_response(&self, response: &PutOpaqueResponse) -> Result<(), DecodeError> {
        check_created_id(self.header.id, response.id, "put-opaque response: id")
    }
}

/// GET_OPAQUE (43): `id(2)` → the stored bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GetOpaque {
    pub id: ObjectId,
}

/// The answer to [`GetOpaque`]: the object's bytes (never empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetOpaqueResponse {
    pub data: Vec<u8>,
}

impl Command for GetOpaque {
    const CODE: CommandCode = CommandCode::GET_OPAQUE;
    const REPEATABLE: bool = true;
    const MUTATING: bool = false;
    type Response = GetOpaqueResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.id);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let id = r.u16("get-opaque: id")?;
        r.finish("get-opaque")?;
        Ok(Self { id })
    }
}

impl Response for GetOpaqueResponse {
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.data);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        if data.is_empty() {
            return Err(DecodeError::bad_length("get-opaque response", 0));
        }
        Ok(Self { data: data.to_vec() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn encodes_every_filter_with_its_tag() {
        let req = ListObjects {
            filters: vec![
                Filter::Id(0x0102),
                Filter::Type(ObjectType::WRAP_KEY),
                Filter::Domains(Domains(0x0003)),
                Filter::Capabilities(Capabilities(0x1000)),
                Filter::Algorithm(Algorithm::ED25519),
                Filter::Label(Label::from_bytes(b"a").unwrap()),
            ],
        };
        let data = req.to_data();
        assert_eq!(&data[..9], &[1, 1, 2, 2, 4, 3, 0, 3, 4]);
        assert_eq!(&data[9..20], &[0, 0, 0, 0, 0, 0, 0x10, 0, 5, 46, 6]);
        assert_eq!(data[20], b'a');
        assert_eq!(data.len(), 3 + 2 + 3 + 9 + 2 + 41);
        assert_eq!(ListObjects::decode(&data).unwrap(), req);
        assert_eq!(
            ListObjects::decode(&[7, 0]).unwrap_err(),
            DecodeError::invalid("list-objects: filter tag")
        );
    }

    #[test]
    fn accepts_an_empty_list_and_rejects_partial_entries() {
        assert!(ListObjectsResponse::decode(&[]).unwrap().objects.is_empty());
        for n in [1, 2, 3, 5, 7] {
            let err = ListObjectsResponse::decode(&vec![0; n]).unwrap_err();
            assert_eq!(err, DecodeError::bad_length("list-objects response", n));
        }
    }

    #[test]
    fn checks_that_object_info_answers_the_question() {
        let req = GetObjectInfo { id: 3, object_type: ObjectType::WRAP_KEY };
        let mut info = ObjectInfo {
            capabilities: Capabilities::NONE,
            id: 3,
            length: 0,
            domains: Domains::ALL,
            object_type: ObjectType::WRAP_KEY,
            algorithm: Algorithm::AES128_CCM_WRAP,
            sequence: 0,
            origin: crate::object::Origin::IMPORTED,
            label: Label::default(),
            delegated_capabilities: Capabilities::NONE,
        };
        assert!(req.check_response(&info).is_ok());
        info.id = 4;
        assert_eq!(req.check_response(&info).unwrap_err().what, "get-object-info response: id");
        info.id = 3;
        info.object_type = ObjectType::OPAQUE;
        assert_eq!(req.check_response(&info).unwrap_err().what, "get-object-info response: type");
    }

    #[test]
    fn rejects_empty_opaque_data() {
        let mut data = vec![0u8; ObjectHeader::LEN];
        assert_eq!(PutOpaque::decode(&data).unwrap_err().what, "put-opaque: data");
        data.push(1);
        assert_eq!(PutOpaque::decode(&data).unwrap().data, [1]);
        assert!(GetOpaqueResponse::decode(&[]).is_err());
    }
}
