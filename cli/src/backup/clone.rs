//! `yhsm clone -c SOURCE --to TARGET --wrap-key-id ID`: every object of the source device
//! that is exportable under wrap, exported under wrap key ID (docs/PROTOCOL.md §7.6
//! EXPORT_WRAPPED) and imported into the target by the restore engine ([`restore`]), with
//! its preflight, its settling of writes whose answer was lost, its resume rules (objects
//! already on the target are verified, never replaced) and its verification. No file is
//! needed; `--dump DIR` also writes the blobs as `yhsm dump` does ([`dump::Writer`]).
//!
//! Both devices must hold the same wrap key. How that is shown (cli/README.md "yhsm
//! clone"), never by writing a test object:
//!
//! - With the wrap key's shares (`--shares-file`): every blob exported from the source
//!   must decrypt under the key of the shares (AES-CCM authenticates it), or the run
//!   stops before the target is opened; the source's wrap key info vouches for the
//!   attributes of the key from the shares (as a dump's wrap-key description does), so
//!   the engine may store it on a target that lacks it; on a target that has a wrap key
//!   with that id, the first import is the proof (below). Content is proven with the
//!   key, as restore does, and copied authentication keys by a session.
//! - Without the shares, this host never learns the key. The target must already hold a
//!   wrap key with that id. When the source's can wrap-data and the target's
//!   unwrap-data (docs/PROTOCOL.md §7.6), random data wrapped on one must unwrap on the
//!   other (`data_proof`): nothing is written, and a dry run is proven too. Otherwise
//!   the first import is the proof: IMPORT_WRAPPED decrypts the blob under the target's
//!   key and refuses it (invalid data) unless it is the key the blob was exported under.
//!   That refusal writes nothing; sent once more and refused again, it stops the run with
//!   an error naming both devices. Objects already on the target are compared with the
//!   source's copy (attributes, public keys, opaque data, an HMAC of one challenge); the
//!   target's login key is always kept, as no copied authentication key can be proven to
//!   open a session (the source's own login key aside: the keys that opened the source
//!   prove it).
//!
//! Objects of the source that are not copied are reported by id and type: those without
//! the exportable-under-wrap capability (the device would refuse them; they do not fail
//! the run), and those the device refused all the same (they do, and keep the target's
//! login key).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use yhsm_proto::command::{UnwrapData, WrapData};
use yhsm_proto::secret::ct_eq;
use yhsm_proto::wrap::{Encoding, WrapHeader};
use yhsm_proto::{Capabilities, ErrorCode, ObjectId, ObjectInfo, ObjectType, SecretBytes};
use yhsm_transport::{Client, ClientError, ConnectorUrl};

use crate::backup::description::{Described, Description};
use crate::backup::dir::{Backup, FileState};
use crate::backup::dump::{self, Writer};
use crate::backup::identity::Pins;
use crate::backup::object::Summary;
use crate::backup::report::Outcome;
use crate::backup::restore::{self, Event, Options, RestoreReport, Step, Wrap, WrapKeyToStore};
use crate::device::{self, OpenTransport};
use crate::error::{EXIT_FAILURE, Error, Result};
use crate::options::GlobalOptions;
use crate::util::json::Value;
use crate::util::password::PasswordOptions;
use crate::util::prompt::Prompter;
use crate::util::{rng, text};
use crate::wrapkey::shares;

/// What `yhsm clone` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Args {
    /// `--to URL`: the target device.
    pub to: ConnectorUrl,
    /// `--to-authkey ID` (default: `-k`'s).
    pub to_authkey: Option<ObjectId>,
    /// `--to-password-file FILE` (default: the source's password options).
    pub to_password_file: Option<PathBuf>,
    /// `--wrap-key-id ID`: the wrap key both devices hold.
    pub wrap_key_id: ObjectId,
    /// `--shares-file`: the wrap key's shares (optional).
    pub shares_files: Vec<PathBuf>,
    /// `--dump DIR`: also write the `.yhw` files there.
    pub dump: Option<PathBuf>,
    /// `--encoding` of the `--dump` files.
    pub encoding: Encoding,
    pub keep_authkey: bool,
    pub dry_run: bool,
    pub json: bool,
}

/// An object of the source that was not copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotCopied {
    pub id: ObjectId,
    pub object_type: ObjectType,
    pub reason: String,
    /// It has the exportable-under-wrap capability, yet the device refused it: a failure.
    pub refused: bool,
}

/// What a clone did.
#[derive(Debug)]
pub struct CloneReport {
    pub source: String,
    pub target: String,
    /// Objects exported from the source.
    pub exported: usize,
    pub not_copied: Vec<NotCopied>,
    /// `--dump`'s directory, when files were written.
    pub dumped: Option<PathBuf>,
    /// The restore engine's report on the target.
    pub restore: RestoreReport,
}

impl CloneReport {
    /// Objects the device refused to export although they are exportable.
    pub fn refused(&self) -> usize {
        self.not_copied.iter().filter(|n| n.refused).count()
    }

    /// 0 when every exportable object was copied and verified.
    pub fn exit_code(&self) -> u8 {
        if self.refused() > 0 { EXIT_FAILURE } else { self.restore.exit_code() }
    }

    /// The error to print last.
    pub fn into_failure(self) -> Option<Error> {
        let refused: Vec<String> = self
            .not_copied
            .iter()
            .filter(|n| n.refused)
            .map(|n| format!("{} 0x{:04x}", n.object_type, n.id))
            .collect();
        let (source, target) = (self.source, self.target);
        // Which of the two devices the engine's error is about (an error that names both
        // is left as it is).
        let differs = self.restore.wrap_key_differs;
        let on_target = self
            .restore
            .into_failure()
            .map(|e| if differs { e } else { e.context(&format!("on the target, {target}")) });
        on_target.or_else(|| {
            (!refused.is_empty()).then(|| {
                Error::failure(format!(
                    "on the source, {source}: it refused to export {} (see above)",
                    refused.join(", ")
                ))
                .with_hint("fix the cause shown above and run clone again")
            })
        })
    }

    /// The closing line: what was copied from where to where, and what was not.
    pub fn summary(&self) -> String {
        let count = |o: Outcome| self.restore.files.iter().filter(|f| f.outcome == o).count();
        let verified = self.restore.files.iter().filter(|f| f.verified() == Some(true)).count();
        let mut line = format!(
            "Clone {} to {}: {} {} exported; ",
            self.source,
            self.target,
            self.exported,
            if self.exported == 1 { "object" } else { "objects" }
        );
        if self.restore.dry_run {
            line += &format!(
                "{} would be imported, {} already there",
                count(Outcome::Planned),
                count(Outcome::AlreadyPresent)
            );
        } else {
            line += &format!(
                "{} imported, {} already there, {verified} verified",
                count(Outcome::Imported),
                count(Outcome::AlreadyPresent)
            );
        }
        if !self.not_copied.is_empty() {
            let names: Vec<String> = self
                .not_copied
                .iter()
                .map(|n| format!("{} 0x{:04x}", n.object_type, n.id))
                .collect();
            line += &format!("; not copied: {}", names.join(", "));
        }
        line
    }

    /// The JSON object of `clone --json` (cli/README.md): `source`, `target`,
    /// `exported`, `not_copied` (each `id`, `type`, `reason`, `refused`), `dump`, and the
    /// restore report of the target under `restore`.
    pub fn to_json(&self) -> Value {
        let not_copied = self
            .not_copied
            .iter()
            .map(|n| {
                Value::Object(vec![
                    ("id", Value::Number(u64::from(n.id))),
                    ("type", Value::string(n.object_type.to_string())),
                    ("reason", Value::string(n.reason.clone())),
                    ("refused", Value::Bool(n.refused)),
                ])
            })
            .collect();
        Value::Object(vec![
            ("source", Value::string(self.source.clone())),
            ("target", Value::string(self.target.clone())),
            ("exported", Value::Number(self.exported as u64)),
            ("not_copied", Value::Array(not_copied)),
            ("dump", Value::string_or_null(self.dumped.as_ref().map(|d| d.display().to_string()))),
            ("restore", self.restore.to_json()),
        ])
    }
}

/// The options of the target: `--to`, `--to-authkey`, `--to-password-file`, the rest as
/// the source's; `--trace FILE` records the target's exchanges in `FILE.to`.
pub fn target_options(global: &GlobalOptions, args: &Args) -> GlobalOptions {
    let to = |p: &Option<PathBuf>| {
        p.as_ref().map(|p| {
            let mut name = OsString::from(p.as_os_str());
            name.push(".to");
            PathBuf::from(name)
        })
    };
    GlobalOptions {
        connector: args.to.clone(),
        authkey: args.to_authkey.unwrap_or(global.authkey),
        password: match &args.to_password_file {
            Some(file) => PasswordOptions { file: Some(file.clone()), argument: None },
            None => global.password.clone(),
        },
        trace: to(&global.trace),
        trace_raw: to(&global.trace_raw),
        ..global.clone()
    }
}

/// The blobs of the source, exported.
struct Exports {
    /// Blob, the object's info, and its public key (asymmetric keys).
    blobs: Vec<(Vec<u8>, ObjectInfo, Option<Vec<u8>>)>,
    not_copied: Vec<NotCopied>,
    dumped: Option<PathBuf>,
}

/// Runs `yhsm clone` on the devices the URLs name ([`command_with`]).
pub fn command(
    global: &GlobalOptions,
    args: &Args,
    prompter: &mut dyn Prompter,
    env_password: Option<OsString>,
    sink: &mut dyn FnMut(&Event),
) -> Result<CloneReport> {
    command_with(global, args, prompter, env_password, &mut device::opener(global), sink)
}

/// Runs `yhsm clone` through `transport` (the binary passes [`device::opener`]; tests a
/// simulator per URL). Errors before the target is opened are returned; everything after
/// is in the report.
pub fn command_with(
    global: &GlobalOptions,
    args: &Args,
    prompter: &mut dyn Prompter,
    env_password: Option<OsString>,
    transport: &mut OpenTransport<'_>,
    sink: &mut dyn FnMut(&Event),
) -> Result<CloneReport> {
    let wrap_id = args.wrap_key_id;
    let source_name = global.connector.to_string();
    let target = target_options(global, args);
    let target_name = target.connector.to_string();
    // The shares first, so that a typo costs nobody a login.
    let shares = if args.shares_files.is_empty() {
        None
    } else {
        let recovered = shares::combine_files(&args.shares_files, prompter)?;
        Some(WrapKeyToStore::from_recovered(&recovered)?)
    };

    let on_source = |e: Error| {
        e.context(&format!("on the source, {source_name}"))
            .or_hint("nothing was written to the target")
    };
    let login =
        device::login_now(global, env_password.clone(), prompter, transport).map_err(on_source)?;
    let mut source = login.client;
    // The source's login key opened a session with these keys: its copy on the target is
    // proven by a session with them, even without the shares.
    let login_keys =
        login.credentials.static_keys().cloned().map(|k| (login.credentials.key_id(), k));
    sink(&Event::CloneSource {
        source: source_name.clone(),
        target: target_name.clone(),
        auth_key: login.credentials.key_id(),
        wrap_key: wrap_id,
    });
    let wrap_info = dump::check_wrap_key(&mut source, wrap_id).map_err(on_source)?;
    dump::check_auth_key(&mut source).map_err(on_source)?;
    let exports = export_all(&mut source, &wrap_info, args, sink).map_err(on_source)?;
    if exports.blobs.is_empty() {
        return Err(Error::failure(format!(
            "nothing on the source, {source_name}, is exportable under wrap key 0x{wrap_id:04x}; \
             nothing was written to the target"
        ))
        .with_hint("only objects made with the exportable-under-wrap capability can be copied"));
    }

    let with_summaries = shares.is_none();
    let mut backup = Backup::from_exports(
        Path::new(&source_name),
        exports.blobs.into_iter().map(|(blob, info, public_key)| {
            let summary = with_summaries.then(|| summary(&info, &wrap_info, public_key));
            (blob, summary, info.id, info.object_type)
        }),
    );
    if let Some((login_id, keys)) = login_keys {
        for file in &mut backup.files {
            if let FileState::Decrypted(entry) = &mut file.state
                && entry.id() == login_id
                && entry.object_type() == ObjectType::AUTHENTICATION_KEY
            {
                entry.auth_keys = Some(keys.clone());
            }
        }
    }
    let wrap_key = match shares {
        Some(shares) => {
            if backup.decrypts_under(&shares.key) == Some(false) {
                return Err(Error::failure(format!(
                    "wrap key 0x{wrap_id:04x} on the source, {source_name}, is not the key of \
                     the shares (key check value {}): nothing exported from it decrypts under \
                     that key; nothing was written to the target, {target_name}",
                    hex::encode(shares.kcv)
                ))
                .with_hint("give the shares of the source's wrap key"));
            }
            sink(&Event::WrapKeyProof(format!(
                "The objects exported from the source decrypt under the key of the shares (key \
                 check value {}): it is the source's wrap key 0x{wrap_id:04x}",
                hex::encode(shares.kcv)
            )));
            // The source's wrap key info vouches for the attributes from the shares, as a
            // dump's wrap-key description does.
            let described = vec![Described {
                file: format!("wrap key 0x{wrap_id:04x} on the source"),
                description: Description::of_device(&wrap_info),
            }];
            Some(shares.with_descriptions(described))
        }
        None => None,
    };
    // Without the shares: a proof that writes nothing when the wrap keys allow it (the
    // target is logged in to first, then handed to the engine), else the first import.
    let mut early_login = None;
    let mut key_proven = false;
    if wrap_key.is_none() {
        if wrap_info.capabilities.contains(Capabilities::WRAP_DATA) {
            let on_target = |e: Error| e.context(&format!("on the target, {target_name}"));
            let mut login = device::login_with(&target, env_password.clone(), prompter, transport)
                .map_err(on_target)?;
            sink(&Event::UsingAuthKey(login.credentials.key_id()));
            login
                .client
                .authenticate(login.credentials.clone())
                .map_err(|e| on_target(device::login_error(e, login.credentials.key_id())))?;
            match data_proof(&mut source, &mut login.client, wrap_id) {
                Some(true) => key_proven = true,
                Some(false) => {
                    return Err(Error::failure(format!(
                        "wrap key 0x{wrap_id:04x} on the target, {target_name}, is not wrap key \
                         0x{wrap_id:04x} of the source, {source_name}: data wrapped by the \
                         source (wrap-data) does not unwrap on the target (unwrap-data); \
                         nothing was written to the target"
                    ))
                    .with_hint(restore::WRAP_KEYS_DIFFER_HINT));
                }
                None => {}
            }
            early_login = Some(login);
        }
        sink(&Event::WrapKeyProof(if key_proven {
            format!(
                "Wrap key 0x{wrap_id:04x} is the same on both devices: data wrapped by the source \
                 unwraps on the target (wrap-data, unwrap-data; nothing written)"
            )
        } else {
            format!(
                "Without the shares, the target's wrap key 0x{wrap_id:04x} is proven to be the \
                 source's by the first import (a device imports only blobs exported under its \
                 own key; a refusal writes nothing){}",
                if args.dry_run { ": a dry run does not import, so it is not proven" } else { "" }
            )
        }));
    }

    // The target's login key goes only when the devices end up alike: not when the
    // source refused an export, nor when it holds a key with that id that is not copied.
    let target_login = (target.authkey, ObjectType::AUTHENTICATION_KEY);
    let keep_because = if exports.not_copied.iter().any(|n| n.refused) {
        Some("the source refused to export some objects (see above), so the devices differ")
    } else if exports.not_copied.iter().any(|n| (n.id, n.object_type) == target_login) {
        Some(
            "the source holds an authentication key with this id that is not exportable, so \
             deleting it would make the devices differ",
        )
    } else {
        None
    };
    let options = Options {
        dry_run: args.dry_run,
        keep_authkey: args.keep_authkey,
        allow_skipped: false,
        auth_key: target.authkey,
        pins: Pins { id: Some(wrap_id), domains: None, kcv: None },
        interactive: false,
        from_device: true,
        wrap_key_proven: key_proven,
        keep_because,
    };
    let wrap = match &wrap_key {
        Some(w) => Wrap::Shares(w),
        None => Wrap::Device {
            attributes: Description::of_device(&wrap_info).attributes(),
            device: &mut source,
        },
    };
    let mut env = env_password;
    let mut connect = || match early_login.take() {
        Some(login) => Ok(login),
        None => device::login_with(&target, env.take(), prompter, transport),
    };
    let mut confirm = |_: &str| Ok(false);
    let mut report =
        restore::run_under(&mut backup, wrap, &mut connect, &mut confirm, options, sink);
    report.dir = source_name.clone();
    if report.wrap_key_differs {
        let e = report.error.take();
        report.error = Some(
            Error::failure(format!(
                "wrap key 0x{wrap_id:04x} on the target, {target_name}, is not wrap key \
                 0x{wrap_id:04x} of the source, {source_name}: the target refused the first \
                 object exported from the source as undecryptable; nothing was written to the \
                 target"
            ))
            .with_hint(
                e.and_then(|e| e.hint().map(str::to_owned))
                    .unwrap_or_else(|| restore::WRAP_KEYS_DIFFER_HINT.to_owned()),
            ),
        );
    }
    Ok(CloneReport {
        source: source_name,
        target: target_name,
        exported: backup.files.len(),
        not_copied: exports.not_copied,
        dumped: exports.dumped,
        restore: report,
    })
}

/// The source's objects in id order: the wrap key itself and objects without
/// exportable-under-wrap are reported as not copied, the others exported (and written to
/// `--dump`'s directory unless this is a dry run).
fn export_all(
    client: &mut Client,
    wrap_info: &ObjectInfo,
    args: &Args,
    sink: &mut dyn FnMut(&Event),
) -> Result<Exports> {
    let mut listed = retry_read(client, |c| c.list_objects(&[]))
        .map_err(|e| device::command_error("cannot list the objects", e))?;
    listed.sort_by_key(|e| (e.id, e.object_type));
    let mut exports = Exports { blobs: Vec::new(), not_copied: Vec::new(), dumped: None };
    let mut exportable = Vec::new();
    for entry in listed {
        let (id, object_type) = (entry.id, entry.object_type);
        let info = retry_read(client, |c| c.get_object_info(id, object_type)).map_err(|e| {
            device::command_error(
                format!("cannot read the object info of {object_type} 0x{id:04x}"),
                e,
            )
        })?;
        let reason = if id == wrap_info.id && object_type == ObjectType::WRAP_KEY {
            Some("the wrap key itself (both devices hold it already, or it comes from its shares)")
        } else if !info.capabilities.contains(Capabilities::EXPORTABLE_UNDER_WRAP) {
            Some("it does not have the exportable-under-wrap capability")
        } else {
            None
        };
        match reason {
            Some(reason) => {
                let reason = reason.to_owned();
                sink(&Event::NotCopied { object_type, id, reason: reason.clone() });
                exports.not_copied.push(NotCopied { id, object_type, reason, refused: false });
            }
            None => exportable.push(info),
        }
    }
    let writer = match &args.dump {
        Some(dir) if !args.dry_run => Some(Writer::create(
            dir,
            wrap_info,
            false,
            args.encoding,
            exportable.iter().map(|i| (i.id, i.object_type)),
        )?),
        _ => None,
    };
    let total = exportable.len();
    for (index, info) in exportable.into_iter().enumerate() {
        let (id, object_type) = (info.id, info.object_type);
        let step = Step { index: index + 1, total };
        let exported = retry_read(client, |c| c.export_wrapped(wrap_info.id, object_type, id, 0));
        let blob = match exported {
            Ok(blob) => blob,
            Err(e) if e.code().is_some_and(|c| c != ErrorCode::INVALID_SESSION) => {
                let reason = dump::refusal(client, wrap_info, id, object_type, &e);
                sink(&Event::NotCopied { object_type, id, reason: reason.clone() });
                exports.not_copied.push(NotCopied { id, object_type, reason, refused: true });
                continue;
            }
            Err(e) => {
                return Err(device::command_error(
                    format!("cannot export {object_type} 0x{id:04x}"),
                    e,
                ));
            }
        };
        let public_key = if object_type == ObjectType::ASYMMETRIC_KEY {
            let read = retry_read(client, |c| c.get_public_key(id)).map_err(|e| {
                device::command_error(format!("cannot read the public key of 0x{id:04x}"), e)
            })?;
            Some(read.key)
        } else {
            None
        };
        let file = match &writer {
            Some(w) => {
                Some(text::printable(&w.write(id, object_type, &blob)?.display().to_string()))
            }
            None => None,
        };
        sink(&Event::Exported { step, object_type, id, file });
        exports.blobs.push((blob, info, public_key));
    }
    if writer.is_some() {
        exports.dumped.clone_from(&args.dump);
    }
    Ok(exports)
}

/// Whether the two devices' wrap keys `wrap_id` are the same, without writing to either:
/// random data wrapped on the source (WRAP_DATA) must unwrap on the target (UNWRAP_DATA)
/// to the same bytes; AES-CCM refuses a blob under another key (invalid-data), twice in a
/// row for a verdict. `None` when it cannot tell: the target's wrap key cannot
/// unwrap-data, a device refuses or does not answer (the first import decides then).
fn data_proof(source: &mut Client, target: &mut Client, wrap_id: ObjectId) -> Option<bool> {
    let info = target.get_object_info(wrap_id, ObjectType::WRAP_KEY).ok()?;
    if !info.capabilities.contains(Capabilities::UNWRAP_DATA) {
        return None;
    }
    let data: [u8; 32] = rng::random_array().ok()?;
    let mut undecryptable = 0;
    for _ in 0..2 {
        let request = WrapData { key_id: wrap_id, plaintext: SecretBytes::from_slice(&data) };
        // A lost or garbled answer: once more (nothing is written either way).
        let Ok(answer) = source.send(&request) else { continue };
        match target.send(&UnwrapData { key_id: wrap_id, wrapped: answer.wrapped }) {
            Ok(answer) => {
                let plain = answer.plaintext.expose_secret();
                return Some(plain.len() == data.len() && ct_eq(plain, &data));
            }
            Err(e) if e.code() == Some(ErrorCode::INVALID_DATA) => undecryptable += 1,
            Err(_) => {}
        }
    }
    (undecryptable == 2).then_some(false)
}

/// A read, once more if its answer was lost or garbled (reads change nothing). A device
/// refusal is returned at once.
fn retry_read<T>(
    client: &mut Client,
    mut read: impl FnMut(&mut Client) -> Result<T, ClientError>,
) -> Result<T, ClientError> {
    match read(client) {
        // The client opens a new session itself when the last one broke.
        Err(e) if e.code().is_none_or(|c| c == ErrorCode::INVALID_SESSION) => read(client),
        other => other,
    }
}

/// An exported object as the source describes it, for a clone without the shares.
fn summary(info: &ObjectInfo, wrap_key: &ObjectInfo, public_key: Option<Vec<u8>>) -> Summary {
    let has_delegated =
        matches!(info.object_type, ObjectType::AUTHENTICATION_KEY | ObjectType::WRAP_KEY);
    Summary {
        header: WrapHeader {
            wrap_algorithm: wrap_key.algorithm,
            capabilities: info.capabilities,
            id: info.id,
            length: info.length,
            domains: info.domains,
            object_type: info.object_type,
            algorithm: info.algorithm,
            sequence: info.sequence,
            origin: info.origin,
            label: info.label,
        },
        delegated: has_delegated.then_some(info.delegated_capabilities),
        public_key,
    }
}
