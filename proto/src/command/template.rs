//! Template commands (docs/PROTOCOL.md §7.3; layouts as python-yubihsm sends them):
//! put-template and get-template. A template (an SSH certificate template) is stored as
//! it is sent.

use alloc::vec::Vec;

use super::non_empty_rest;
use super::{Command, ObjectHeader, Response, check_created_id, header_names, id_response};
use crate::codec::{DecodeError, Reader, Writer};
use crate::frame::CommandCode;
use crate::object::ObjectId;

/// PUT_TEMPLATE (5e): hdr + template (not empty) → id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutTemplate {
    pub header: ObjectHeader,
    pub template: Vec<u8>,
}

id_response! {
    /// The answer to [`PutTemplate`].
    PutTemplateResponse, "put-template"
}

impl Command for PutTemplate {
    const CODE: CommandCode = CommandCode::PUT_TEMPLATE;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = PutTemplateResponse;

    fn encode(&self, w: &mut Writer) {
        self.header.encode(w);
        w.bytes(&self.template);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let header = ObjectHeader::read(&mut r, &header_names!("put-template"))?;
        let template = non_empty_rest(&mut r, "put-template: template")?.to_vec();
        Ok(Self { header, template })
    }

    fn check_response(&self, response: &PutTemplateResponse) -> Result<(), DecodeError> {
        check_created_id(self.header.id, response.id, "put-template response: id")
    }
}

/// GET_TEMPLATE (5f): `id(2)` → the template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GetTemplate {
    pub id: ObjectId,
}

/// The answer to [`GetTemplate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetTemplateResponse {
    pub template: Vec<u8>,
}

impl Command for GetTemplate {
    const CODE: CommandCode = CommandCode::GET_TEMPLATE;
    const REPEATABLE: bool = true;
    const MUTATING: bool = false;
    type Response = GetTemplateResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.id);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let id = r.u16("get-template: id")?;
        r.finish("get-template")?;
        Ok(Self { id })
    }
}

impl Response for GetTemplateResponse {
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.template);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        if data.is_empty() {
            return Err(DecodeError::bad_length("get-template response", 0));
        }
        Ok(Self { template: data.to_vec() })
    }
}
