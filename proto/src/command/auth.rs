//! Authentication-key commands (docs/PROTOCOL.md §7.4 "Authentication keys", §4):
//! put-authentication-key (symmetric, algorithm 38, and P-256, algorithm 49) and
//! change-authentication-key.

use super::{Command, ObjectHeader, Redact, check_created_id, header_names, id_response};
use crate::codec::{DecodeError, Reader, Writer};
use crate::frame::CommandCode;
use crate::object::{Algorithm, Capabilities, Domains, Label, ObjectId};
use crate::secret::SecretArray;

/// The key material of an authentication key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthenticationKey {
    /// Algorithm 38 (`aes128-yubico-authentication`): the static SCP03 keys.
    Symmetric { enc: SecretArray<16>, mac: SecretArray<16> },
    /// Algorithm 49 (`ecp256-yubico-authentication`): the host's P-256 public key, without
    /// the 0x04 prefix. Public, so not held in a secret container.
    EcP256 { x: [u8; 32], y: [u8; 32] },
}

impl AuthenticationKey {
    /// The algorithm this material belongs to.
    pub const fn algorithm(&self) -> Algorithm {
        match self {
            Self::Symmetric { .. } => Algorithm::AES128_YUBICO_AUTHENTICATION,
            Self::EcP256 { .. } => Algorithm::ECP256_YUBICO_AUTHENTICATION,
        }
    }

    /// Appends the key bytes (without any algorithm byte).
    pub fn encode(&self, w: &mut Writer) {
        match self {
            Self::Symmetric { enc, mac } => w.bytes(enc.expose_secret()).bytes(mac.expose_secret()),
            Self::EcP256 { x, y } => w.bytes(x).bytes(y),
        };
    }

    /// Reads the key bytes for `algorithm` up to the end of the data.
    fn read(r: Reader<'_>, algorithm: Algorithm, names: &KeyNames) -> Result<Self, DecodeError> {
        let mut r = r;
        let key = match algorithm {
            Algorithm::AES128_YUBICO_AUTHENTICATION => {
                let enc = SecretArray::new(r.array(names.enc)?);
                let mac = SecretArray::new(r.array(names.mac)?);
                Self::Symmetric { enc, mac }
            }
            Algorithm::ECP256_YUBICO_AUTHENTICATION => {
                Self::EcP256 { x: r.array(names.x)?, y: r.array(names.y)? }
            }
            _ => return Err(DecodeError::invalid(names.algorithm)),
        };
        r.finish(names.command)?;
        Ok(key)
    }
}

struct KeyNames {
    command: &'static str,
    algorithm: &'static str,
    enc: &'static str,
    mac: &'static str,
    x: &'static str,
    y: &'static str,
}

macro_rules! key_names {
    ($cmd:literal) => {
        KeyNames {
            command: $cmd,
            algorithm: concat!($cmd, ": algorithm"),
            enc: concat!($cmd, ": enc key"),
            mac: concat!($cmd, ": mac key"),
            x: concat!($cmd, ": public key x"),
            y: concat!($cmd, ": public key y"),
        }
    };
}

/// PUT_AUTHENTICATION_KEY (44): hdr + delegated(8) + key → id.
///
/// `header.algorithm` selects the key layout on the wire; [`PutAuthenticationKey::new`]
/// sets it from the key so the two cannot disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutAuthenticationKey {
    pub header: ObjectHeader,
    /// Capabilities objects created in a session of this key may have.
    pub delegated: Capabilities,
    pub key: AuthenticationKey,
}

impl PutAuthenticationKey {
    /// A request whose header algorithm matches `key`.
    pub const fn new(
        id: ObjectId,
        label: Label,
        domains: Domains,
        capabilities: Capabilities,
        delegated: Capabilities,
        key: AuthenticationKey,
    ) -> Self {
        let header = ObjectHeader { id, label, domains, capabilities, algorithm: key.algorithm() };
        Self { header, delegated, key }
    }
}

id_response! {
    /// The answer to [`PutAuthenticationKey`].
    PutAuthenticationKeyResponse, "put-authentication-key"
}

impl Command for PutAuthenticationKey {
    const CODE: CommandCode = CommandCode::PUT_AUTHENTICATION_KEY;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = PutAuthenticationKeyResponse;

    fn encode(&self, w: &mut Writer) {
        self.header.encode(w);
        w.u64(self.delegated.0);
        self.key.encode(w);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let header = ObjectHeader::read(&mut r, &header_names!("put-authentication-key"))?;
        let delegated = Capabilities(r.u64("put-authentication-key: delegated capabilities")?);
        let key =
            AuthenticationKey::read(r, header.algorithm, &key_names!("put-authentication-key"))?;
        Ok(Self { header, delegated, key })
    }

    fn check_response(&self, response: &PutAuthenticationKeyResponse) -> Result<(), DecodeError> {
        check_created_id(self.header.id, response.id, "put-authentication-key response: id")
    }

    /// `hdr delegated(8) key`: a symmetric key. The public P-256 key of an asymmetric
    /// authentication key is no secret and stays readable; any other (or a missing)
    /// algorithm byte counts as symmetric.
    fn secret_in_request(data: &[u8]) -> Redact {
        if data.get(ObjectHeader::LEN - 1) == Some(&Algorithm::ECP256_YUBICO_AUTHENTICATION.0) {
            Redact::Nothing
        } else {
            Redact::From(ObjectHeader::LEN + 8)
        }
    }
}

/// CHANGE_AUTHENTICATION_KEY (6c): `key_id(2) algorithm(1) key` → `key_id(2)`. Replaces the
/// key material of an existing authentication key (the algorithm must stay the same).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeAuthenticationKey {
    pub key_id: ObjectId,
    pub key: AuthenticationKey,
}

id_response! {
    /// The answer to [`ChangeAuthenticationKey`]: the id of the changed key.
    ChangeAuthenticationKeyResponse, "change-authentication-key"
}

impl Command for ChangeAuthenticationKey {
    const CODE: CommandCode = CommandCode::CHANGE_AUTHENTICATION_KEY;
    const REPEATABLE: bool = false;
    const MUTATING: bool = true;
    type Response = ChangeAuthenticationKeyResponse;

    fn encode(&self, w: &mut Writer) {
        w.u16(self.key_id).u8(self.key.algorithm().0);
        self.key.encode(w);
    }

    fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let key_id = r.u16("change-authentication-key: key id")?;
        let algorithm = Algorithm(r.u8("change-authentication-key: algorithm")?);
        let key = AuthenticationKey::read(r, algorithm, &key_names!("change-authentication-key"))?;
        Ok(Self { key_id, key })
    }

    /// The device answers with the id of the key it changed, which must be ours.
    fn check_response(
        &self,
        response: &ChangeAuthenticationKeyResponse,
    ) -> Result<(), DecodeError> {
        if response.id == self.key_id {
            Ok(())
        } else {
            Err(DecodeError::invalid("change-authentication-key response: id"))
        }
    }

    /// `key_id(2) algorithm(1) key`: as for put-authentication-key.
    fn secret_in_request(data: &[u8]) -> Redact {
        if data.get(2) == Some(&Algorithm::ECP256_YUBICO_AUTHENTICATION.0) {
            Redact::Nothing
        } else {
            Redact::From(3)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::DecodeErrorKind;

    fn symmetric() -> AuthenticationKey {
        AuthenticationKey::Symmetric {
            enc: SecretArray::new([0x11; 16]),
            mac: SecretArray::new([0x22; 16]),
        }
    }

    #[test]
    fn lays_out_both_key_kinds_after_the_header() {
        let req = PutAuthenticationKey::new(
            7,
            Label::default(),
            Domains(1),
            Capabilities(2),
            Capabilities(3),
            symmetric(),
        );
        let data = req.to_data();
        assert_eq!(data.len(), ObjectHeader::LEN + 8 + 32);
        assert_eq!(data[52], 38);
        assert_eq!(&data[53..61], &[0, 0, 0, 0, 0, 0, 0, 3]);
        assert_eq!(&data[61..63], &[0x11, 0x11]);
        assert_eq!(&data[77..79], &[0x22, 0x22]);
        assert_eq!(PutAuthenticationKey::decode(&data).unwrap(), req);

        let ec = AuthenticationKey::EcP256 { x: [1; 32], y: [2; 32] };
        let req = PutAuthenticationKey { key: ec.clone(), ..req };
        // The header still says 38: 64 key bytes do not fit that layout.
        let err = PutAuthenticationKey::decode(&req.to_data()).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::TrailingBytes { extra: 32 });
        let req = PutAuthenticationKey::new(
            7,
            Label::default(),
            Domains(1),
            Capabilities(2),
            Capabilities(3),
            ec,
        );
        let data = req.to_data();
        assert_eq!(data.len(), ObjectHeader::LEN + 8 + 64);
        assert_eq!(data[52], 49);
        assert_eq!(PutAuthenticationKey::decode(&data).unwrap(), req);
    }

    #[test]
    fn rejects_other_authentication_algorithms() {
        let mut data = ChangeAuthenticationKey { key_id: 1, key: symmetric() }.to_data().to_vec();
        assert_eq!(&data[..3], &[0, 1, 38]);
        data[2] = 12;
        assert_eq!(
            ChangeAuthenticationKey::decode(&data).unwrap_err(),
            DecodeError::invalid("change-authentication-key: algorithm")
        );
    }

    #[test]
    fn checks_the_changed_key_id() {
        let req = ChangeAuthenticationKey { key_id: 5, key: symmetric() };
        assert!(req.check_response(&ChangeAuthenticationKeyResponse { id: 5 }).is_ok());
        assert!(req.check_response(&ChangeAuthenticationKeyResponse { id: 6 }).is_err());
    }

    #[test]
    fn debug_hides_symmetric_keys() {
        let text = alloc::format!("{:?}", symmetric());
        assert!(!text.contains("17") && !text.contains("11"), "{text}");
    }
}
