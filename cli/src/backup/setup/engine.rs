//! The steps of a setup, in the order of [`super`]'s module documentation: nothing is
//! written to the device before the shares are out, and the login key is deleted only
//! after every new key opened a session with its password.

use std::collections::HashSet;
use std::path::PathBuf;

use yhsm_proto::command::{ObjectHeader, PutWrapKey};
use yhsm_proto::shares::{self, WrapKeySecret};
use yhsm_proto::wrap::{self, Encoding, WrapKey};
use yhsm_proto::{Algorithm, Capabilities, Domains, ErrorCode, ObjectId, ObjectType, SecretBytes};
use yhsm_transport::{Client, ClientError, Credentials};

use super::plan::{self, KeySpec, Plan, Role};
use super::report::{Line, SetupReport};
use super::{Args, FilePasswords, handout};
use crate::admin::{self, authkey};
use crate::backup::description::{self, Described, Description};
use crate::backup::dir;
use crate::device::{Login, command_error};
use crate::error::{Error, Result};
use crate::util::password::{Password, read_new_password, read_typed_password};
use crate::util::prompt::{Prompter, confirm};
use crate::util::{files, rng};
use crate::wrapkey::shares::{RecordedShares, combine_files_checked, combine_prompted_checked};

const AUTH: ObjectType = ObjectType::AUTHENTICATION_KEY;
/// The length of the wrap key setup makes (aes256-ccm-wrap, as yubihsm-setup).
const KEY_LEN: u16 = 32;

/// What a run needs.
pub(super) struct Context<'a> {
    pub login: Login,
    pub args: &'a Args,
    /// The interrupted run's description (`--resume`).
    pub earlier: Option<Described>,
    pub passwords: FilePasswords,
    pub interactive: bool,
    pub prompter: &'a mut dyn Prompter,
    pub sink: &'a mut dyn FnMut(Line),
}

fn out(sink: &mut dyn FnMut(Line), text: impl Into<String>) {
    sink(Line::Out(text.into()));
}

/// Runs the setup.
pub(super) fn run(cx: Context<'_>) -> Result<SetupReport> {
    let Context { login, args, earlier, passwords, interactive, prompter, sink } = cx;
    let Login { mut client, credentials } = login;
    let serial = client.device_info().serial;
    let login_id = credentials.key_id();
    let login_info = admin::login_key(&mut client)?;

    // Step 2: the plan, the device's objects, the login key's rights.
    let plan = plan::decide(args, earlier.as_ref(), interactive.then_some(&mut *prompter))?;
    let listed: HashSet<(ObjectId, ObjectType)> = client
        .list_objects(&[])
        .map_err(|e| command_error("cannot list the device's objects; nothing was written", e))?
        .into_iter()
        .map(|e| (e.id, e.object_type))
        .collect();
    let wrap = plan.wrap;
    let wrap_present = listed.contains(&(wrap.id, ObjectType::WRAP_KEY));
    if earlier.is_none() {
        refuse_taken(&plan, &listed, args)?;
    }
    let keeps_login = if !plan.profile.makes_keys() {
        Some("--profile wrap-only makes no key to log in with".to_owned())
    } else if args.keep_authkey {
        Some("--keep-authkey".to_owned())
    } else {
        None
    };
    let needs = Needs {
        random: earlier.is_none(),
        put_wrap: !wrap_present,
        put_keys: plan.keys().iter().any(|(_, spec)| !listed.contains(&(spec.id, AUTH))),
        delete: keeps_login.is_none(),
    };
    check_rights(&login_info, &plan, needs)?;
    out(sink, plan.render(serial, login_id, keeps_login.as_deref()).trim_end());
    for warning in &plan.warnings {
        sink(Line::Warning(warning.clone()));
    }
    if let Some(d) = &earlier {
        let recorded = match &d.description.setup {
            Some(rec) => format!(" (its recorded plan: {})", plan::recorded_plan(rec)),
            None => {
                sink(Line::Warning(format!(
                    "`{}` records no plan (an older yhsm wrote it): the keys are the options' \
                     (give the interrupted run's --profile, --audit and ids)",
                    d.file
                )));
                String::new()
            }
        };
        out(
            sink,
            format!(
                "Resuming the setup described by `{}` in {}{recorded}",
                d.file,
                args.dir.display()
            ),
        );
    }
    if interactive && !args.yes && !confirm(prompter, "Go on?")? {
        return Err(Error::failure("setup cancelled; nothing was written"));
    }

    // The passwords, before anything is written anywhere.
    let mut keys: Vec<(Role, KeySpec, Password)> = Vec::new();
    for (role, spec) in plan.keys() {
        let (given, source) = match role {
            Role::Application => (passwords.application.clone(), &args.app_password),
            Role::Audit => (passwords.audit.clone(), &args.audit_password),
        };
        let whom = format!("the {} key 0x{:04x}", role.name(), spec.id);
        let password = match given {
            Some(p) => p,
            // Made by the interrupted run: its password, once.
            None if earlier.is_some() && listed.contains(&(spec.id, AUTH)) => read_typed_password(
                &format!("Password of {whom} (made by the interrupted run): "),
                &mut |p| prompter.read_secret(p),
                None,
            )?,
            None => read_new_password(source, &whom, prompter)?,
        };
        keys.push((role, spec, password));
    }

    // Step 3: the wrap key's material, its description, the shares handed out.
    let (secret, recorded, share_files) = match &earlier {
        None => fresh_key(&mut client, &plan, args, prompter, sink)?,
        Some(d) => {
            let (secret, recorded) = recovered_key(d, args, interactive, prompter)?;
            out(
                sink,
                format!(
                    "The shares give wrap key 0x{:04x} of `{}` (key check value {})",
                    wrap.id,
                    d.file,
                    hex::encode(secret.check_value())
                ),
            );
            (secret, recorded, Vec::new())
        }
    };
    let kcv = secret.check_value();
    let mut stored = wrap_present;
    let told = |e: Error, stored: bool| -> Error {
        let where_ = if stored {
            "is on the device"
        } else {
            "is not on the device yet (or may be: the answer was lost)"
        };
        e.context(&format!(
            "the custodians hold the shares of wrap key 0x{:04x} (key check value {}), which {where_}",
            wrap.id,
            hex::encode(kcv)
        ))
        .with_hint(format!(
            "the shares stay valid: run the same setup again with --resume (and the shares: \
             --shares-dir, --shares-file, or typed) to finish; the login key 0x{login_id:04x} \
             was not deleted"
        ))
    };

    // Step 4: the wrap key stored, or the one of an earlier run checked.
    let wrap_stored = if wrap_present {
        check_present_wrap(&mut client, &plan).map_err(|e| told(e, true))?;
        out(
            sink,
            format!(
                "Wrap key 0x{:04x} is on the device already (an earlier run stored it)",
                wrap.id
            ),
        );
        if keys.is_empty() {
            sink(Line::Warning(format!(
                "wrap key 0x{:04x} on the device has the described attributes, but with no key \
                 to export under it this run cannot prove that its key is the shares' (`yhsm \
                 dump -w 0x{:04x}` then `yhsm inspect` with the shares proves it)",
                wrap.id, wrap.id
            )));
        }
        false
    } else {
        let settled = store_wrap(&mut client, &plan, &secret).map_err(|e| told(e, false))?;
        stored = true;
        out(
            sink,
            format!(
                "Stored wrap key 0x{:04x}{}",
                wrap.id,
                if settled {
                    " (the device's answer was lost; looking showed it there)"
                } else {
                    ""
                }
            ),
        );
        true
    };

    // Step 5 and 7: the authentication keys made, or those of an earlier run checked, each
    // proven by a session with its password.
    let mut made = Vec::new();
    for (role, spec, password) in &keys {
        let present = listed.contains(&(spec.id, AUTH));
        let result = if present {
            check_present_key(&mut client, *role, spec, password, &credentials)
        } else {
            authkey::plan(&mut client, *spec)
                .and_then(|s| authkey::create(&mut client, s, password, &credentials))
                .map(|c| c.settled)
        };
        let settled = result.map_err(|e| told(e, stored))?;
        out(
            sink,
            format!(
                "{} {} authentication key 0x{:04x}{}; its password opens a session",
                if present { "Found the" } else { "Created the" },
                role.name(),
                spec.id,
                if settled {
                    " (the device's answer was lost; looking showed it there)"
                } else {
                    ""
                }
            ),
        );
        made.push((spec.id, role.name(), Credentials::password(spec.id, password.expose_secret())));
    }

    // Step 6: each exported under the wrap key, checked to open under the shares' key,
    // and written into DIR.
    let wrap_key = WrapKey::new(secret.key().expose_secret())
        .map_err(|e| Error::failure("the wrap key is unusable").with_source(e))?;
    let mut written = vec![args.dir.join(description::file_name(wrap.id))];
    for (role, spec, _) in &keys {
        let path =
            export(&mut client, &wrap_key, wrap.id, spec.id, args).map_err(|e| told(e, stored))?;
        out(
            sink,
            format!("Saved the wrapped {} authentication key to {}", role.name(), path.display()),
        );
        written.push(path);
    }

    // Step 8: the login key deleted, once every new key is proven.
    match &keeps_login {
        Some(why) => out(sink, format!("Authentication key 0x{login_id:04x} is kept ({why})")),
        None => {
            let proven = made.first().map(|(_, _, c)| c.clone());
            delete_login(&mut client, login_id, &credentials, proven, sink)
                .map_err(|e| told(e, stored))?;
        }
    }
    let _ = client.close_session();

    Ok(SetupReport {
        serial,
        profile: plan.profile.name,
        wrap_id: wrap.id,
        wrap_stored,
        kcv,
        threshold: recorded.threshold,
        count: recorded.count,
        share_checks: recorded.checks,
        keys: made.iter().map(|(id, role, _)| (*id, *role)).collect(),
        dir: args.dir.clone(),
        files: written,
        share_files,
        login: login_id,
        login_kept: keeps_login,
    })
}

/// A fresh run: the chosen ids must be free.
fn refuse_taken(plan: &Plan, listed: &HashSet<(ObjectId, ObjectType)>, args: &Args) -> Result<()> {
    let mut taken = Vec::new();
    if listed.contains(&(plan.wrap.id, ObjectType::WRAP_KEY)) {
        taken.push(format!("wrap key 0x{:04x}", plan.wrap.id));
    }
    for (role, spec) in plan.keys() {
        if listed.contains(&(spec.id, AUTH)) {
            taken.push(format!(
                "authentication key 0x{:04x} (the {} key's id)",
                spec.id,
                role.name()
            ));
        }
    }
    if taken.is_empty() {
        return Ok(());
    }
    let hint = if args.resume {
        format!(
            "{} holds no wrap-key description of an interrupted setup, so these are not its \
             objects: choose other ids, or delete them first",
            args.dir.display()
        )
    } else {
        "choose other ids (--wrap-key-id, --app-key-id, --audit-key-id), delete them first, or \
         finish an interrupted setup with --resume"
            .to_owned()
    };
    Err(Error::failure(format!(
        "the device already holds {}; nothing was written",
        taken.join(" and ")
    ))
    .with_hint(hint))
}

/// The steps this run still has to do, which the login key must be allowed.
struct Needs {
    /// A fresh run: the device's random bytes for the wrap key.
    random: bool,
    /// The wrap key is not on the device yet.
    put_wrap: bool,
    /// A key of the plan is not on the device yet.
    put_keys: bool,
    /// The login key is deleted at the end.
    delete: bool,
}

/// The login key must be allowed every step left to do, before anything is written (a
/// resumed run needs no right for a step the interrupted run finished).
fn check_rights(login: &yhsm_proto::ObjectInfo, plan: &Plan, needs: Needs) -> Result<()> {
    let mut needed = Capabilities::NONE;
    for (needed_for, capability) in [
        (needs.random, Capabilities::GET_PSEUDO_RANDOM),
        (needs.put_wrap, Capabilities::PUT_WRAP_KEY),
        (needs.put_keys, Capabilities::PUT_AUTHENTICATION_KEY),
        (plan.profile.makes_keys(), Capabilities::EXPORT_WRAPPED),
        (needs.delete, Capabilities::DELETE_AUTHENTICATION_KEY),
    ] {
        if needed_for {
            needed = needed.union(capability);
        }
    }
    admin::require(login, needed, "set up the device (yhsm setup); nothing was written")?;
    let w = &plan.wrap;
    let missing =
        Capabilities((w.capabilities.0 | w.delegated.0) & !login.delegated_capabilities.0);
    if needs.put_wrap && !missing.is_empty() {
        return Err(Error::failure(format!(
            "authentication key 0x{:04x} does not delegate {missing}, which the wrap key's \
             capabilities or delegated capabilities hold; nothing was written",
            login.id
        ))
        .with_hint("drop them with --delegated / --wrap-delegated, or log in with a key that delegates them"));
    }
    let outside = Domains(w.domains.0 & !login.domains.0);
    if !outside.is_empty() {
        return Err(Error::failure(format!(
            "authentication key 0x{:04x} cannot create objects in domains {}; nothing was written",
            login.id,
            crate::util::text::domain_list(outside)
        )));
    }
    Ok(())
}

type Material = (WrapKeySecret, RecordedShares, Vec<PathBuf>);

/// A fresh run's wrap key: the device's random bytes XOR the host's, split; the
/// description written; the shares handed out.
fn fresh_key(
    client: &mut Client,
    plan: &Plan,
    args: &Args,
    prompter: &mut dyn Prompter,
    sink: &mut dyn FnMut(Line),
) -> Result<Material> {
    let w = &plan.wrap;
    let device = client.get_pseudo_random(KEY_LEN).map_err(|e| {
        command_error(
            "cannot get random bytes from the device (get-pseudo-random); nothing was written",
            e,
        )
    })?;
    let host: zeroize::Zeroizing<[u8; KEY_LEN as usize]> =
        zeroize::Zeroizing::new(rng::random_array()?);
    if device.len() != host.len() {
        return Err(Error::failure(format!(
            "the device gave {} random bytes, not the {KEY_LEN} asked for; nothing was written",
            device.len()
        )));
    }
    let mut key = zeroize::Zeroizing::new([0u8; KEY_LEN as usize]);
    for ((k, d), h) in key.iter_mut().zip(device.expose_secret()).zip(host.iter()) {
        *k = d ^ h;
    }
    let secret = WrapKeySecret::new(
        w.id,
        w.domains,
        w.capabilities,
        w.delegated,
        SecretBytes::from_slice(&*key),
    )
    .map_err(|e| Error::failure(format!("cannot make the wrap key: {e}")))?;
    let split =
        rng::with_os_rng(|r| shares::split(&secret, plan.threshold, plan.count, plan.format, r))?
            .map_err(|e| Error::failure(format!("cannot split the wrap key: {e}")))?;
    let kcv = secret.check_value();
    let recorded = RecordedShares {
        threshold: plan.threshold,
        count: plan.count,
        checks: split.iter().map(|s| (s.index(), s.check_value())).collect(),
    };
    let description = Description {
        kcv: Some(kcv),
        shares: Some(recorded.clone()),
        setup: Some(plan.record()),
        ..plan.description()
    };
    handout::create_private_dir(&args.dir, "backup directory")?;
    let path = args.dir.join(description::file_name(w.id));
    files::write_file(&path, description.render().as_bytes(), false, "wrap-key description")
        .map_err(|e| e.context("nothing was written to the device"))?;
    out(
        sink,
        format!(
            "Wrote the wrap key's description (key check value, share check values) to {}",
            path.display()
        ),
    );
    let share_files = match &args.shares_dir {
        Some(dir) => {
            let written = handout::write_files(dir, w.id, kcv, &split).map_err(|e| {
                e.context(&format!(
                    "nothing was written to the device; some shares of wrap key 0x{:04x} may be in {}: delete them and {} before running setup again",
                    w.id,
                    dir.display(),
                    path.display()
                ))
            })?;
            for p in &written {
                out(sink, format!("Wrote {}", p.display()));
            }
            written
        }
        None => {
            handout::show(prompter, w.id, kcv, &split).map_err(|e| {
                e.context(&format!(
                    "nothing was written to the device; the shares of wrap key 0x{:04x} (key check value {}) were not all handed out: have the custodians destroy any they recorded, delete {}, and run setup again",
                    w.id,
                    hex::encode(kcv),
                    path.display()
                ))
            })?;
            Vec::new()
        }
    };
    out(
        sink,
        format!(
            "Key check value of wrap key 0x{:04x}: {} (not secret: custodians record it with their share)",
            w.id,
            hex::encode(kcv)
        ),
    );
    Ok((secret, recorded, share_files))
}

/// `--resume`: the interrupted run's wrap key from the shares the custodians hold, each
/// checked against its check value and the key against the description.
fn recovered_key(
    d: &Described,
    args: &Args,
    interactive: bool,
    prompter: &mut dyn Prompter,
) -> Result<(WrapKeySecret, RecordedShares)> {
    let recorded = d.description.shares.clone().ok_or_else(|| {
        Error::failure(format!(
            "the description `{}` records no shares: there is no setup to resume",
            d.file
        ))
    })?;
    let checks = description::share_checks(std::slice::from_ref(d));
    let paths: Vec<PathBuf> = if !args.shares_files.is_empty() {
        args.shares_files.clone()
    } else if let Some(dir) = &args.shares_dir {
        (1..=recorded.count)
            .map(|i| dir.join(handout::share_file_name(d.description.id, i)))
            .filter(|p| p.exists())
            .collect()
    } else {
        Vec::new()
    };
    let recovered = if !paths.is_empty() {
        combine_files_checked(&paths, prompter, &checks)?
    } else if interactive {
        combine_prompted_checked(prompter, &checks)?
    } else {
        return Err(Error::usage(format!(
            "--resume needs {} of the shares of wrap key 0x{:04x} to prove the key (its key \
             check value), and none were given",
            recorded.threshold, d.description.id
        ))
        .with_hint("give them with --shares-file FILE (once per file) or --shares-dir DIR"));
    };
    description::check_recovered(d, &recovered)?;
    if recovered.recovered.secret.algorithm() != Algorithm::AES256_CCM_WRAP {
        return Err(Error::failure("the shares give a wrap key that is not aes256-ccm-wrap"));
    }
    Ok((recovered.recovered.secret, recorded))
}

/// Stores the wrap key; `true` when the answer was lost and looking showed it there.
fn store_wrap(client: &mut Client, plan: &Plan, secret: &WrapKeySecret) -> Result<bool> {
    let w = &plan.wrap;
    let request = PutWrapKey {
        header: ObjectHeader {
            id: w.id,
            label: w.label,
            domains: w.domains,
            capabilities: w.capabilities,
            algorithm: Algorithm::AES256_CCM_WRAP,
        },
        delegated: w.delegated,
        key: SecretBytes::from_slice(secret.key().expose_secret()),
    };
    let what = format!("cannot store wrap key 0x{:04x}", w.id);
    match client.put_wrap_key(&request) {
        Ok(_) => Ok(false),
        Err(e) if e.may_have_executed() => match look(client, w.id, ObjectType::WRAP_KEY) {
            Ok(true) => Ok(true),
            Ok(false) => {
                client.put_wrap_key(&request).map(|_| false).map_err(|e| command_error(what, e))
            }
            Err(_) => Err(command_error(what, e)),
        },
        Err(e) => Err(command_error(what, e)),
    }
}

/// Whether the object is on the device.
fn look(client: &mut Client, id: ObjectId, object_type: ObjectType) -> Result<bool, ClientError> {
    match client.get_object_info(id, object_type) {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some(ErrorCode::OBJECT_NOT_FOUND) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `--resume`: the wrap key already on the device has the plan's attributes (its key is
/// proven by the exports, which must open under the shares' key).
fn check_present_wrap(client: &mut Client, plan: &Plan) -> Result<()> {
    let w = &plan.wrap;
    let info = client
        .get_object_info(w.id, ObjectType::WRAP_KEY)
        .map_err(|e| command_error(format!("cannot read wrap key 0x{:04x}", w.id), e))?;
    if info.algorithm != Algorithm::AES256_CCM_WRAP
        || info.domains != w.domains
        || info.capabilities != w.capabilities
        || info.delegated_capabilities != w.delegated
    {
        return Err(Error::failure(format!(
            "wrap key 0x{:04x} on the device is not the one described: {}",
            w.id,
            admin::describe(&info)
        ))
        .with_hint("nothing more was written; check the device with `yhsm list`"));
    }
    Ok(())
}

/// `--resume`: a key made by an earlier run has the plan's attributes and opens a session
/// with its password; the client logs in again afterwards.
fn check_present_key(
    client: &mut Client,
    role: Role,
    spec: &KeySpec,
    password: &Password,
    login: &Credentials,
) -> Result<bool> {
    let info = client.get_object_info(spec.id, AUTH).map_err(|e| {
        command_error(format!("cannot read authentication key 0x{:04x}", spec.id), e)
    })?;
    if info.domains != spec.domains
        || info.capabilities != spec.capabilities
        || info.delegated_capabilities != spec.delegated
        || info.label != spec.label
    {
        return Err(Error::failure(format!(
            "authentication key 0x{:04x} on the device is not the {} key this setup makes: {}",
            spec.id,
            role.name(),
            admin::describe(&info)
        ))
        .with_hint("give the new key another id, or delete that one first"));
    }
    client.authenticate(Credentials::password(spec.id, password.expose_secret())).map_err(|e| {
        command_error(
            format!(
                "the password given does not open a session with authentication key 0x{:04x}",
                spec.id
            ),
            e,
        )
    })?;
    client
        .authenticate(login.clone())
        .map_err(|e| command_error("cannot log in again with the login key", e))?;
    Ok(false)
}

/// Exports authentication key `id` under the wrap key, checks that the blob opens under
/// the key the shares hold, and writes it into DIR.
fn export(
    client: &mut Client,
    key: &WrapKey,
    wrap_id: ObjectId,
    id: ObjectId,
    args: &Args,
) -> Result<PathBuf> {
    let blob = client.export_wrapped(wrap_id, AUTH, id, 0).map_err(|e| {
        command_error(
            format!("cannot export authentication key 0x{id:04x} under wrap key 0x{wrap_id:04x}"),
            e,
        )
    })?;
    let opened = wrap::unwrap(key, &blob).map_err(|e| {
        Error::failure(format!(
            "the export of authentication key 0x{id:04x} does not open under the shares' key: \
             wrap key 0x{wrap_id:04x} on the device is another key"
        ))
        .with_source(e)
    })?;
    if opened.header.id != id || opened.header.object_type != AUTH {
        return Err(Error::failure(format!(
            "the device exported {} 0x{:04x} when asked for authentication key 0x{id:04x}",
            opened.header.object_type, opened.header.id
        )));
    }
    let path = args.dir.join(dir::file_name(id, AUTH));
    files::write_file(&path, &wrap::encode_file(&blob, Encoding::Base64), true, "file")?;
    Ok(path)
}

/// Deletes the login key. A lost answer is settled by looking, with a proven new key
/// (the login key may be gone).
fn delete_login(
    client: &mut Client,
    login_id: ObjectId,
    login: &Credentials,
    proven: Option<Credentials>,
    sink: &mut dyn FnMut(Line),
) -> Result<()> {
    let what = format!(
        "every new key is proven, but deleting authentication key 0x{login_id:04x} (the login) failed"
    );
    let e = match client.delete_object(login_id, AUTH) {
        Ok(()) => {
            out(sink, format!("Deleted authentication key 0x{login_id:04x} (the login)"));
            return Ok(());
        }
        Err(e) => e,
    };
    let looked = proven
        .ok_or(())
        .and_then(|c| client.authenticate(c).map_err(|_| ()))
        .and_then(|()| look(client, login_id, AUTH).map_err(|_| ()));
    match looked {
        Ok(false) => {
            out(
                sink,
                format!(
                    "Deleted authentication key 0x{login_id:04x} (the login; the device's answer \
                     was lost, looking showed it gone)"
                ),
            );
            Ok(())
        }
        Ok(true) => {
            client
                .authenticate(login.clone())
                .and_then(|()| client.delete_object(login_id, AUTH))
                .map_err(|e| command_error(what.clone(), e))?;
            out(
                sink,
                format!(
                    "Deleted authentication key 0x{login_id:04x} (the login, at the second try)"
                ),
            );
            Ok(())
        }
        Err(()) => Err(command_error(what, e)),
    }
}
