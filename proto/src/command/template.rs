//! Template commands (docs/PROTOCOL.md §7.3, §7.5; layouts as python-yubihsm sends them):
//! put-template, get-template and sign-ssh-certificate, which signs an SSH certificate
//! under a template's constraints. A template (an SSH certificate template) is stored as
//! it is sent.

use alloc::vec::Vec;

use super::non_empty_rest;
use super::{Command, ObjectHeader, Response, check_created_id, header_names, id_response};
use crate::codec::{DecodeError, Reader, Writer};
use crate::frame::CommandCode;
use crate::object::{Algorithm, ObjectId};

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

/// SIGN_SSH_CERTIFICATE (5d): `key_id(2) template_id(2) algorithm(1) request` → the
/// certificate's signature. The request is `timestamp(4) signature certificate` (the
/// timestamp signature's length is the template's timestamp key's, so this decoder keeps
/// it whole); the algorithm is the signing scheme (rsa-pkcs1-sha1/256/512).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignSshCertificate {
    pub key_id: ObjectId,
    pub template_id: ObjectId,
    pub algorithm: Algorithm,
    pub request: Vec<u8>,
}

/// The answer to [`SignSshCertificate`]: the certificate's signature field, `uint32
/// length || string name || string signature`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignSshCertificateResponse {
    pub signature: Vec<u8>,
}

impl Command for SignSshCertificate {
    const CODE: CommandCode = CommandCode::SIGN_SSH_CERTIFICATE;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = SignSshCertificateResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.key_id).u16(self.template_id).u8(self.algorithm.0).bytes(&self.request);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let key_id = r.u16("sign-ssh-certificate: key id")?;
        let template_id = r.u16("sign-ssh-certificate: template id")?;
        let algorithm = Algorithm(r.u8("sign-ssh-certificate: algorithm")?);
        let request = non_empty_rest(&mut r, "sign-ssh-certificate: request")?.to_vec();
        Ok(Self { key_id, template_id, algorithm, request })
    }
}

impl Response for SignSshCertificateResponse {
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.signature);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        // The outer SSH string: its length is the rest of the answer.
        let what = "sign-ssh-certificate response";
        let mut r = Reader::new(data);
        let len = r.u32(what)?;
        if usize::try_from(len).ok() != Some(r.remaining()) || len == 0 {
            return Err(DecodeError::bad_length(what, data.len()));
        }
        Ok(Self { signature: data.to_vec() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn round_trips_ssh_signing_requests_and_checks_the_answer_length() {
        let req = SignSshCertificate {
            key_id: 5,
            template_id: 10,
            algorithm: Algorithm::RSA_PKCS1_SHA1,
            request: vec![9; 300],
        };
        let data = req.to_data();
        assert_eq!(&data[..5], &[0, 5, 0, 10, 1]);
        assert_eq!(SignSshCertificate::decode(&data), Ok(req));
        for len in 0..=5 {
            assert!(SignSshCertificate::decode(&data[..len]).is_err(), "{len}");
        }
        let answer = [&[0, 0, 0, 3][..], &[1, 2, 3]].concat();
        let decoded = SignSshCertificateResponse::decode(&answer).unwrap();
        assert_eq!(decoded.to_data().as_slice(), answer.as_slice());
        for len in 0..answer.len() {
            assert!(SignSshCertificateResponse::decode(&answer[..len]).is_err(), "{len}");
        }
        assert!(SignSshCertificateResponse::decode(&[answer.as_slice(), &[0]].concat()).is_err());
        assert!(SignSshCertificateResponse::decode(&[0, 0, 0, 0]).is_err());
    }
}
