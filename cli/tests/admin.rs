//! The admin commands' library (`yhsm::admin`) on the in-process simulator: what each one
//! asks, refuses and proves, and how it settles an answer the device gave but the host
//! never got (faults injected with the simulator's fault plan). The binary's messages are
//! pinned by `tests/golden/admin.txt`; the prompts' echo by `tests/pty.rs`.

#![cfg(feature = "sim")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use yhsm::admin::{Confirmation, authkey, delete, password, profile, reset};
use yhsm::util::password::{NewPassword, Password, read_new_password};
use yhsm::util::prompt::ScriptedPrompter;
use yhsm_proto::command::{ObjectHeader, PutOpaque, PutWrapKey};
use yhsm_proto::frame::CommandCode;
use yhsm_proto::{Algorithm, Capabilities, Domains, ObjectId, ObjectType, SecretBytes};
use yhsm_sim::{Action, Config, Device, Fault, SharedDevice, Trigger};
use yhsm_transport::sim::SimTransport;
use yhsm_transport::{Client, ClientError, Credentials};

const AUTH: ObjectType = ObjectType::AUTHENTICATION_KEY;

fn device() -> SharedDevice {
    SharedDevice::new(Device::new(Config::default()).unwrap())
}

fn login(dev: &SharedDevice, id: ObjectId, password: &str) -> Result<Client, ClientError> {
    let mut client =
        Client::with_transport(Box::new(SimTransport::from_shared(dev.clone()))).unwrap();
    client.authenticate(Credentials::password(id, password.as_bytes()))?;
    Ok(client)
}

fn factory_login() -> Credentials {
    Credentials::password(1, b"password")
}

fn factory(dev: &SharedDevice) -> Client {
    login(dev, 1, "password").unwrap()
}

fn objects(dev: &SharedDevice) -> Vec<(ObjectId, ObjectType)> {
    let mut out: Vec<_> = dev.lock().store().iter().map(|o| (o.id, o.object_type)).collect();
    out.sort();
    out
}

fn pw(s: &str) -> Password {
    Password::new(SecretBytes::from_slice(s.as_bytes()))
}

fn drop_answer_to(dev: &SharedDevice, code: CommandCode) {
    dev.lock().add_fault(Fault::once(Trigger::Command(code), Action::DropResponse));
}

fn put_opaque(client: &mut Client, id: ObjectId) {
    client
        .put_opaque(&PutOpaque {
            header: ObjectHeader {
                id,
                label: "data".parse().unwrap(),
                domains: Domains(1),
                capabilities: Capabilities::NONE,
                algorithm: Algorithm::OPAQUE_DATA,
            },
            data: b"x".to_vec(),
        })
        .unwrap();
}

/// A key made with `put-authkey` (the library), id `id`, password `password`.
fn make_key(client: &mut Client, id: ObjectId, caps: Capabilities, password: &str) {
    let args = authkey::Args {
        id,
        label: None,
        domains: Domains(1),
        capabilities: Some(caps),
        delegated: Some(caps),
        profile: None,
        new_password: NewPassword::Prompt,
    };
    let spec = authkey::plan(client, args.spec().unwrap()).unwrap();
    authkey::create(client, spec, &pw(password), &factory_login()).unwrap();
}

// ---- delete ----

#[test]
fn delete_asks_and_a_no_writes_nothing() {
    let dev = device();
    let mut client = factory(&dev);
    put_opaque(&mut client, 0x20);
    let before = objects(&dev);
    let target = delete::find(&mut client, 0x20, ObjectType::OPAQUE).unwrap();
    let mut p = ScriptedPrompter::new(&["no"]);
    let e = delete::delete(&mut client, target, Confirmation::Ask(&mut p)).unwrap_err();
    assert_eq!(e.message(), "not confirmed: nothing was deleted");
    assert_eq!(objects(&dev), before);
    assert_eq!(
        p.transcript,
        ["Delete opaque 0x0020 \"data\" (opaque-data; domains 1; capabilities none) from the \
             YubiHSM 1000001? [y/N]: "]
    );

    let target = delete::find(&mut client, 0x20, ObjectType::OPAQUE).unwrap();
    let mut p = ScriptedPrompter::new(&[" Yes "]);
    let deleted = delete::delete(&mut client, target, Confirmation::Ask(&mut p)).unwrap();
    assert_eq!(deleted.render(), "Deleted opaque 0x0020 \"data\"\n");
    assert!(!objects(&dev).contains(&(0x20, ObjectType::OPAQUE)));
}

#[test]
fn delete_settles_a_lost_answer_by_looking() {
    let dev = device();
    let mut client = factory(&dev);
    put_opaque(&mut client, 0x21);
    let target = delete::find(&mut client, 0x21, ObjectType::OPAQUE).unwrap();
    drop_answer_to(&dev, CommandCode::DELETE_OBJECT);
    let deleted = delete::delete(&mut client, target, Confirmation::Given).unwrap();
    assert!(deleted.settled);
    assert!(deleted.render().contains("looking again showed the object gone"));
    assert_eq!(objects(&dev), [(1, AUTH)]);
}

#[test]
fn delete_keeps_a_way_to_log_in() {
    let dev = device();
    let mut client = factory(&dev);
    let e = delete::find(&mut client, 1, AUTH).unwrap_err();
    assert!(e.message().contains("is the only one the device shows"), "{}", e.chain());
    // With a second key the login key may go, with a note, and the second key logs in.
    make_key(&mut client, 7, Capabilities::DELETE_OPAQUE, "second");
    let mut client = factory(&dev);
    let target = delete::find(&mut client, 1, AUTH).unwrap();
    assert_eq!(
        target.notes,
        ["this is the authentication key of this session; afterwards log in with another one \
          (the device shows 1 more)"]
    );
    delete::delete(&mut client, target, Confirmation::Given).unwrap();
    assert_eq!(objects(&dev), [(7, AUTH)]);
    login(&dev, 7, "second").unwrap();
}

#[test]
fn delete_checks_the_capability_and_the_object_first() {
    let dev = device();
    let mut client = factory(&dev);
    make_key(&mut client, 7, Capabilities::DELETE_OPAQUE, "second");
    put_opaque(&mut client, 0x22);
    let mut weak = login(&dev, 7, "second").unwrap();
    let e = delete::find(&mut weak, 1, AUTH).unwrap_err();
    assert_eq!(
        e.message(),
        "authentication key 0x0007 lacks the delete-authentication-key capability, needed to \
         delete authentication-key objects"
    );
    let e = delete::find(&mut weak, 0x23, ObjectType::OPAQUE).unwrap_err();
    assert!(e.message().starts_with("there is no opaque 0x0023 on the device"), "{}", e.chain());
    // A wrap key gets a note about its backups.
    client
        .put_wrap_key(&PutWrapKey {
            header: ObjectHeader {
                id: 2,
                label: "w".parse().unwrap(),
                domains: Domains(1),
                capabilities: Capabilities::EXPORT_WRAPPED,
                algorithm: Algorithm::AES128_CCM_WRAP,
            },
            delegated: Capabilities::NONE,
            key: SecretBytes::from_slice(&[9; 16]),
        })
        .unwrap();
    let target = delete::find(&mut client, 2, ObjectType::WRAP_KEY).unwrap();
    assert!(target.notes[0].contains("can afterwards be restored only with its shares"));
    assert_eq!(delete::capability(ObjectType::OPAQUE), Some(Capabilities::DELETE_OPAQUE));
    assert_eq!(delete::capability(ObjectType(0x42)), None);
}

// ---- reset ----

#[test]
fn reset_wants_the_device_s_serial_typed() {
    let dev = device();
    let mut client = factory(&dev);
    put_opaque(&mut client, 0x30);
    let before = objects(&dev);
    let never = &mut || -> yhsm::Result<Client> { panic!("no reconnection expected") };
    for typed in ["reset", "reset 1000002", "1000001", "yes"] {
        let plan = reset::plan(&mut client, &reset::Args::default()).unwrap();
        assert_eq!((plan.serial, plan.objects), (1_000_001, 2));
        let mut p = ScriptedPrompter::new(&[typed]);
        let e = reset::reset(&mut client, plan, Confirmation::Ask(&mut p), never).unwrap_err();
        assert_eq!(e.message(), "not confirmed: nothing was reset", "{typed}");
        assert_eq!(p.transcript.last().unwrap(), "Type `reset 1000001` to confirm: ");
        assert!(p.transcript[0].starts_with("This erases the YubiHSM 1000001: every object (2"));
    }
    assert_eq!(objects(&dev), before);

    let plan = reset::plan(&mut client, &reset::Args::default()).unwrap();
    let mut p = ScriptedPrompter::new(&["  reset 1000001 "]);
    let done = reset::reset(&mut client, plan, Confirmation::Ask(&mut p), never).unwrap();
    assert!(done.render().starts_with("YubiHSM 1000001 reset: it holds only the factory"));
    assert_eq!(objects(&dev), [(1, AUTH)]);
}

#[test]
fn reset_refuses_another_device_s_serial_and_a_key_without_the_capability() {
    let dev = device();
    let mut client = factory(&dev);
    let e = reset::plan(&mut client, &reset::Args { serial: Some(1_000_002) }).unwrap_err();
    assert!(e.message().starts_with("--serial 1000002 is not the serial of this device (1000001"));
    make_key(&mut client, 7, Capabilities::GET_OPTION, "weak");
    let mut weak = login(&dev, 7, "weak").unwrap();
    let e = reset::plan(&mut weak, &reset::Args { serial: Some(1_000_001) }).unwrap_err();
    assert!(e.message().contains("lacks the reset-device capability"), "{}", e.chain());
    assert_eq!(objects(&dev), [(1, AUTH), (7, AUTH)]);
}

#[test]
fn reset_proves_itself_on_a_new_connection_when_the_device_went_away() {
    let dev = device();
    let mut client = factory(&dev);
    put_opaque(&mut client, 0x31);
    // The answer to the reset is lost and the device is gone for the next exchange, as a
    // rebooting USB device is.
    drop_answer_to(&dev, CommandCode::RESET_DEVICE);
    dev.lock()
        .add_fault(Fault::once(Trigger::Command(CommandCode::CREATE_SESSION), Action::Unplug));
    let plan = reset::plan(&mut client, &reset::Args { serial: Some(1_000_001) }).unwrap();
    let mut reconnections = 0;
    let done = reset::reset(&mut client, plan, Confirmation::Given, &mut || {
        reconnections += 1;
        dev.lock().replug();
        Ok(Client::with_transport(Box::new(SimTransport::from_shared(dev.clone()))).unwrap())
    })
    .unwrap();
    assert_eq!(reconnections, 1);
    assert_eq!(done.plan.serial, 1_000_001);
    assert_eq!(objects(&dev), [(1, AUTH)]);
}

#[test]
fn a_reset_the_device_refuses_erases_nothing() {
    let dev = device();
    let mut client = factory(&dev);
    put_opaque(&mut client, 0x32);
    dev.lock().add_fault(Fault::once(
        Trigger::Command(CommandCode::RESET_DEVICE),
        Action::Error(yhsm_proto::ErrorCode::INSUFFICIENT_PERMISSIONS),
    ));
    let plan = reset::plan(&mut client, &reset::Args { serial: Some(1_000_001) }).unwrap();
    let e = reset::reset(&mut client, plan, Confirmation::Given, &mut || panic!()).unwrap_err();
    assert!(e.message().starts_with("cannot reset the device; nothing was erased"));
    assert_eq!(objects(&dev), [(1, AUTH), (0x32, ObjectType::OPAQUE)]);
}

// ---- change-password ----

#[test]
fn change_password_proves_the_new_one_and_the_old_one_stops_working() {
    let dev = device();
    let mut client = factory(&dev);
    let old = Credentials::password(1, b"password");
    let plan = password::plan(&mut client).unwrap();
    let changed = password::change(&mut client, plan, &pw("correct horse"), &old).unwrap();
    assert_eq!(
        changed.render(),
        "Changed the password of authentication-key 0x0001 \"DEFAULT AUTHKEY CHANGE THIS ASAP\"\n\
         Authentication key 0x0001 opens a session with the new password\n"
    );
    assert!(matches!(login(&dev, 1, "password"), Err(ClientError::AuthenticationFailed { .. })));
    login(&dev, 1, "correct horse").unwrap();
}

#[test]
fn change_password_settles_a_lost_answer_with_the_new_password() {
    let dev = device();
    let mut client = factory(&dev);
    drop_answer_to(&dev, CommandCode::CHANGE_AUTHENTICATION_KEY);
    let plan = password::plan(&mut client).unwrap();
    let old = Credentials::password(1, b"password");
    let changed = password::change(&mut client, plan, &pw("new one"), &old).unwrap();
    assert!(changed.settled);
    login(&dev, 1, "new one").unwrap();
}

#[test]
fn change_password_needs_the_capability() {
    let dev = device();
    let mut client = factory(&dev);
    make_key(&mut client, 7, Capabilities::GET_OPTION, "weak");
    let mut weak = login(&dev, 7, "weak").unwrap();
    let e = password::plan(&mut weak).unwrap_err();
    assert!(e.message().contains("lacks the change-authentication-key capability"));
    assert!(e.hint().unwrap().contains("`yhsm put-authkey`"));
}

// ---- put-authkey ----

#[test]
fn put_authkey_with_a_profile_makes_yubihsm_setup_s_key_and_logs_in_with_it() {
    let dev = device();
    let mut client = factory(&dev);
    let args = authkey::Args {
        id: 3,
        label: None,
        domains: Domains(1),
        capabilities: None,
        delegated: None,
        profile: Some(profile::APPLICATION),
        new_password: NewPassword::Prompt,
    };
    let spec = authkey::plan(&mut client, args.spec().unwrap()).unwrap();
    let created = authkey::create(&mut client, spec, &pw("app"), &factory_login()).unwrap();
    assert_eq!(client.auth_key_id(), Some(1), "the client is logged in again as before");
    let info = dev.lock().store().iter().find(|o| o.id == 3).unwrap().info();
    assert_eq!(info.capabilities, profile::APPLICATION.capabilities);
    assert_eq!(info.delegated_capabilities, profile::APPLICATION.delegated);
    assert_eq!(info.label.to_string_lossy(), "Application auth key");
    assert!(
        created.render().ends_with("Authentication key 0x0003 opens a session with its password\n")
    );
    // The id is taken now.
    let e = authkey::plan(&mut client, args.spec().unwrap()).unwrap_err();
    assert!(e.message().starts_with("there is already an authentication-key 0x0003"));
}

#[test]
fn put_authkey_checks_what_the_login_key_may_give_before_asking_a_password() {
    let dev = device();
    let mut client = factory(&dev);
    make_key(&mut client, 7, Capabilities::PUT_AUTHENTICATION_KEY | Capabilities::SIGN_ECDSA, "k7");
    let mut narrow = login(&dev, 7, "k7").unwrap();
    let spec = |caps, domains| authkey::Spec {
        id: 0,
        label: Default::default(),
        domains: Domains(domains),
        capabilities: caps,
        delegated: Capabilities::NONE,
    };
    let e = authkey::plan(&mut narrow, spec(Capabilities::SIGN_PSS, 1)).unwrap_err();
    assert_eq!(
        e.message(),
        "authentication key 0x0007 does not delegate sign-pss, which the new key's capabilities \
         hold"
    );
    let e = authkey::plan(&mut narrow, spec(Capabilities::SIGN_ECDSA, 0b11)).unwrap_err();
    assert!(e.message().contains("it cannot create a key in domains 2"), "{}", e.message());
    authkey::plan(&mut narrow, spec(Capabilities::SIGN_ECDSA, 1)).unwrap();
    // Neither a profile nor capabilities: a usage error.
    let args = authkey::Args {
        id: 0,
        label: None,
        domains: Domains(1),
        capabilities: None,
        delegated: None,
        profile: None,
        new_password: NewPassword::Prompt,
    };
    assert_eq!(args.spec().unwrap_err().exit_code(), 2);
}

#[test]
fn put_authkey_settles_a_lost_answer_when_it_knows_the_id() {
    let dev = device();
    let mut client = factory(&dev);
    let spec = authkey::Spec {
        id: 9,
        label: "k".parse().unwrap(),
        domains: Domains(1),
        capabilities: Capabilities::SIGN_ECDSA,
        delegated: Capabilities::NONE,
    };
    drop_answer_to(&dev, CommandCode::PUT_AUTHENTICATION_KEY);
    let created = authkey::create(&mut client, spec, &pw("nine"), &factory_login()).unwrap();
    assert!(created.settled);
    login(&dev, 9, "nine").unwrap();

    // With an id the device chooses, a lost answer cannot be settled: say how to look.
    let mut client = factory(&dev);
    drop_answer_to(&dev, CommandCode::PUT_AUTHENTICATION_KEY);
    let spec = authkey::Spec { id: 0, ..spec };
    let e = authkey::create(&mut client, spec, &pw("x"), &factory_login()).unwrap_err();
    assert!(e.hint().unwrap().contains("`yhsm list` shows it"), "{:?}", e.hint());
}

// ---- the new password ----

#[test]
fn a_new_password_is_typed_twice_without_echo_until_both_agree() {
    let mut p = ScriptedPrompter::new(&["one", "two", "", "three", "three"]);
    let got = read_new_password(&NewPassword::Prompt, "authentication key 0x0003", &mut p).unwrap();
    assert_eq!(got.expose_secret(), b"three");
    assert_eq!(
        p.transcript,
        [
            "(secret) New password for authentication key 0x0003: ",
            "(secret) Type the new password again: ",
            "The two passwords differ; type them again.",
            "(secret) New password for authentication key 0x0003: ",
            "The password is empty; type one.",
            "(secret) New password for authentication key 0x0003: ",
            "(secret) Type the new password again: ",
        ]
    );
    let mut p = ScriptedPrompter::new(&["a", "b", "c", "d", "e", "f"]);
    let e = read_new_password(&NewPassword::Prompt, "k", &mut p).unwrap_err();
    assert_eq!(e.message(), "no new password for k: 3 attempts, none typed the same twice");
    let mut p = ScriptedPrompter::new(&["a"]);
    let e = read_new_password(&NewPassword::Prompt, "k", &mut p).unwrap_err();
    assert_eq!(e.message(), "no new password entered");
}

// ---- what -v and --trace record ----

/// `-v` and `--trace` of change-password and put-authkey show neither the new password
/// nor the keys derived from it (the frames carry them redacted).
#[test]
fn verbose_admin_commands_show_no_new_password_or_key() {
    use std::process::{Command, Stdio};
    let dir = std::env::temp_dir().join(format!("yhsm-admin-trace-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pw"), "password\n").unwrap();
    let new = "Zebra-Quartz-4217";
    std::fs::write(dir.join("new"), format!("{new}\n")).unwrap();
    let run = |args: &[&str], trace: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_yhsm"))
            .args(["-vv", "--trace", trace, "-c", "sim:dev.state"])
            .args(args)
            .current_dir(&dir)
            .env_remove("YHSM_PASSWORD")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let trace = std::fs::read_to_string(dir.join(trace)).unwrap();
        assert!(trace.lines().count() > 3, "the trace records the exchanges");
        format!(
            "{}{}{trace}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let mut seen = run(
        &[
            "--password-file",
            "pw",
            "put-authkey",
            "--profile",
            "audit",
            "-d",
            "1",
            "-i",
            "4",
            "--new-password-file",
            "new",
        ],
        "put.jsonl",
    );
    seen += &run(
        &["--password-file", "pw", "change-password", "--new-password-file", "new"],
        "change.jsonl",
    );
    assert!(seen.contains("put-authentication-key") && seen.contains("change-authentication-key"));
    let keys = yhsm_proto::StaticKeys::from_password(new.as_bytes());
    let lower = seen.to_lowercase().replace([' ', ':'], "");
    for secret in [keys.enc.expose_secret(), keys.mac.expose_secret()] {
        for run in secret.windows(4) {
            assert!(!lower.contains(&hex::encode(run)), "a key run {} was shown", hex::encode(run));
        }
    }
    assert!(!seen.contains(new), "the new password was shown");
    let _ = std::fs::remove_dir_all(&dir);
}
