//! The optional state file: a device that survives a restart of the server.
//!
//! A small versioned binary format written with the proto codec (no serde): magic
//! `YHSMSIM1`, then the configuration, the device's asymmetric-authentication key, the
//! audit log and its settings, disabled algorithms, sequence counters, every object
//! with its body in the wrapped-body layout, and, once it exists, the device attestation
//! key and certificate (a trailing section: files saved before it existed have none). It is
//! saved atomically (temporary file, then rename) after every request that changed the
//! device.
//!
//! The file holds every key of the simulated device in the clear: it is for tests and
//! demonstrations only; never put real key material into a simulator.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use yhsm_proto::codec::{Codec, DecodeError, Reader, Writer};
use yhsm_proto::command::{AuditMode, LogEntry};
use yhsm_proto::secret::SecretArray;
use yhsm_proto::wrap::Body;
use yhsm_proto::{Algorithm, Capabilities, Domains, Label, ObjectType, Origin};

use crate::attest::DeviceAttestation;
use crate::device::{Config, Device};
use crate::log::AuditLog;
use crate::store::{Object, Store};

const MAGIC: &[u8; 8] = b"YHSMSIM1";
/// The tag of the attestation section.
const ATTESTATION: u8 = 0xa7;

/// Why a state file could not be read or written. Names the file and the part at fault,
/// never key bytes.
#[derive(Debug)]
#[non_exhaustive]
pub enum StateError {
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not a state file, or one of another version.
    NotAStateFile {
        path: PathBuf,
    },
    /// The file is truncated or inconsistent.
    Corrupt {
        path: PathBuf,
        what: String,
    },
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "state file {}: {source}", path.display()),
            Self::NotAStateFile { path } => write!(
                f,
                "{} is not a simulator state file of this version (expected it to start with \
                 YHSMSIM1); move it away to start a fresh device",
                path.display()
            ),
            Self::Corrupt { path, what } => write!(
                f,
                "state file {} is corrupt ({what}); move it away to start a fresh device",
                path.display()
            ),
        }
    }
}

impl std::error::Error for StateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Encodes the device's persistent state.
pub fn encode(device: &Device) -> Vec<u8> {
    let mut w = Writer::new();
    w.bytes(MAGIC);
    let c = &device.config;
    w.u32(c.serial).u8(c.version.0).u8(c.version.1).u8(c.version.2);
    let pn = c.part_number.as_bytes();
    w.u16(u16::try_from(pn.len()).unwrap_or(0))
        .bytes(pn.get(..usize::from(u16::MAX)).unwrap_or(pn));
    w.bytes(device.device_key.expose_secret());

    let (entries, last_number, last_digest, audit) = device.log.parts();
    w.u8(device.log.force_audit.0);
    for m in audit {
        w.u8(m.0);
    }
    w.u16(last_number).bytes(&last_digest);
    w.u8(u8::try_from(entries.len()).unwrap_or(u8::MAX));
    for e in entries.iter().take(usize::from(u8::MAX)) {
        e.encode(&mut w);
    }

    let disabled: Vec<u8> = device.disabled_algorithms.iter().copied().collect();
    w.u8(u8::try_from(disabled.len()).unwrap_or(u8::MAX)).bytes(&disabled);

    let sequences: Vec<_> = device.store.sequences().collect();
    w.u32(u32::try_from(sequences.len()).unwrap_or(u32::MAX));
    for ((id, t), next) in sequences {
        w.u16(id).u8(t).u8(next);
    }

    w.u16(u16::try_from(device.store.len()).unwrap_or(u16::MAX));
    for o in device.store.iter() {
        let body = o.body.to_bytes();
        w.u16(o.id)
            .u8(o.object_type.0)
            .u8(o.algorithm.0)
            .bytes(&o.label.0)
            .u16(o.domains.0)
            .u64(o.capabilities.0)
            .u64(o.delegated.0)
            .u8(o.sequence)
            .u8(o.origin.0)
            .u32(u32::try_from(body.len()).unwrap_or(u32::MAX))
            .bytes(&body);
    }
    if let Some(att) = &device.attestation {
        let cert = att.certificate();
        w.u8(ATTESTATION)
            .bytes(att.scalar())
            .u16(u16::try_from(cert.len()).unwrap_or(0))
            .bytes(cert.get(..usize::from(u16::MAX)).unwrap_or(cert));
    }
    w.into_vec()
}

/// Rebuilds a device from [`encode`]'s bytes; it boots (a boot line is logged) with no
/// session, on the system clock and a freshly seeded RNG.
pub fn decode(bytes: &[u8]) -> Result<Device, DecodeError> {
    let mut r = Reader::new(bytes);
    if r.take(8, "magic")? != MAGIC {
        return Err(DecodeError::invalid("magic"));
    }
    let serial = r.u32("serial")?;
    let version = (r.u8("version")?, r.u8("version")?, r.u8("version")?);
    let pn_len = usize::from(r.u16("part number length")?);
    let part_number = String::from_utf8(r.take(pn_len, "part number")?.to_vec())
        .map_err(|_| DecodeError::invalid("part number"))?;
    let device_key = SecretArray::new(r.array::<32>("device key")?);

    let force_audit = AuditMode(r.u8("force audit")?);
    let mut audit = [AuditMode::OFF; 256];
    for m in &mut audit {
        *m = AuditMode(r.u8("command audit")?);
    }
    let last_number = r.u16("log number")?;
    let last_digest = r.array::<16>("log digest")?;
    let n = usize::from(r.u8("log entries")?);
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        // The length first, so that a short state file says "log entry" whatever field
        // it cut.
        entries.push(LogEntry::read_exact(r.take(LogEntry::LEN, "log entry")?, "log entry")?);
    }
    let log = AuditLog::from_parts(entries, last_number, last_digest, force_audit, audit);

    let n = usize::from(r.u8("disabled algorithms")?);
    let disabled = r.take(n, "disabled algorithms")?.iter().copied().collect();

    let mut store = Store::new();
    let n = r.u32("sequences")?;
    for _ in 0..n {
        let (id, t, next) = (r.u16("sequence")?, r.u8("sequence")?, r.u8("sequence")?);
        store.set_sequence(id, t, next);
    }
    let n = r.u16("objects")?;
    for _ in 0..n {
        let id = r.u16("object id")?;
        let object_type = ObjectType(r.u8("object type")?);
        let algorithm = Algorithm(r.u8("object algorithm")?);
        let label = Label(r.array("object label")?);
        let domains = Domains(r.u16("object domains")?);
        let capabilities = Capabilities(r.u64("object capabilities")?);
        let delegated = Capabilities(r.u64("object delegated capabilities")?);
        let sequence = r.u8("object sequence")?;
        let origin = Origin(r.u8("object origin")?);
        let len = usize::try_from(r.u32("object body length")?).unwrap_or(usize::MAX);
        let body = Body::decode(object_type, algorithm, r.take(len, "object body")?)
            .map_err(|_| DecodeError::invalid("object body"))?;
        let next = store.sequence_for(id, object_type);
        store
            .insert(Object {
                id,
                object_type,
                algorithm,
                label,
                domains,
                capabilities,
                delegated,
                sequence,
                origin,
                body,
            })
            .map_err(|_| DecodeError::invalid("objects (duplicate or too many)"))?;
        store.set_sequence(id, object_type.0, next);
    }
    let attestation = if r.is_empty() {
        None
    } else {
        if r.u8("attestation section")? != ATTESTATION {
            return Err(DecodeError::invalid("attestation section"));
        }
        let scalar = r.take(32, "attestation key")?;
        let len = usize::from(r.u16("attestation certificate length")?);
        let cert = r.take(len, "attestation certificate")?.to_vec();
        Some(
            DeviceAttestation::from_parts(scalar, cert)
                .map_err(|_| DecodeError::invalid("attestation key or certificate"))?,
        )
    };
    r.finish("state file")?;
    let config = Config { serial, version, part_number };
    Device::restore(config, store, log, disabled, device_key, attestation)
        .map_err(|_| DecodeError::invalid("no OS random numbers"))
}

/// Writes the state atomically: a temporary file next to `path`, then a rename. The file
/// holds every key in the clear, so it is created readable by its owner only (mode 0600
/// on Unix), whatever the umask, and a temporary file left by an earlier crash is
/// replaced rather than reused with its permissions.
pub fn save(device: &Device, path: &Path) -> Result<(), StateError> {
    let io = |source| StateError::Io { path: path.to_owned(), source };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    let mut f = owner_only().open(&tmp).map_err(io)?;
    f.write_all(&encode(device)).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    fs::rename(&tmp, path).map_err(io)
}

/// Options that create a new file readable and writable by its owner only.
fn owner_only() -> fs::OpenOptions {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Loads a device saved with [`save`].
pub fn load(path: &Path) -> Result<Device, StateError> {
    let bytes =
        fs::read(path).map_err(|source| StateError::Io { path: path.to_owned(), source })?;
    if !bytes.starts_with(MAGIC) {
        return Err(StateError::NotAStateFile { path: path.to_owned() });
    }
    decode(&bytes).map_err(|e| StateError::Corrupt { path: path.to_owned(), what: e.to_string() })
}
