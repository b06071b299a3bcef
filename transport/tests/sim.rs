//! The `sim:` transport: a client session against the built-in simulator, a state file that
//! keeps the device across runs, and fault replies mapped to transport errors.
#![cfg(feature = "sim")]
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions fail loudly on purpose"
)]

use yhsm_proto::command::{ObjectHeader, PutOpaque};
use yhsm_proto::{Algorithm, Capabilities, Domains};
use yhsm_sim::{Action, Fault, Trigger};
use yhsm_transport::sim::SimTransport;
use yhsm_transport::{Client, Credentials, Transport, TransportError};

fn login(t: SimTransport) -> Client {
    let mut c = Client::with_transport(Box::new(t)).unwrap();
    c.authenticate(Credentials::password(1, b"password")).unwrap();
    c
}

fn put_opaque(c: &mut Client, id: u16) -> u16 {
    let header = ObjectHeader {
        id,
        label: "state".parse().unwrap(),
        domains: Domains(1),
        capabilities: Capabilities::GET_OPAQUE,
        algorithm: Algorithm::OPAQUE_DATA,
    };
    c.put_opaque(&PutOpaque { header, data: b"kept across runs".to_vec() }).unwrap()
}

#[test]
fn a_state_file_keeps_the_device_across_runs() {
    let dir = std::env::temp_dir().join(format!("yhsm-sim-transport-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("device.state");
    let _ = std::fs::remove_file(&path);

    let mut c = login(SimTransport::open(Some(path.clone())).unwrap());
    let serial = c.device_info().serial;
    assert_eq!(put_opaque(&mut c, 0x0042), 0x0042);
    drop(c);
    assert!(path.exists(), "the first change writes the state file");

    let mut c = login(SimTransport::open(Some(path.clone())).unwrap());
    assert_eq!(c.device_info().serial, serial);
    assert_eq!(c.get_opaque(0x0042).unwrap(), b"kept across runs");
    drop(c);

    // A fresh in-memory simulator does not see it.
    let mut c = login(SimTransport::open(None).unwrap());
    assert!(c.get_opaque(0x0042).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupt_state_file_is_a_clear_error() {
    let path = std::env::temp_dir().join(format!("yhsm-sim-corrupt-{}", std::process::id()));
    std::fs::write(&path, b"not a state file").unwrap();
    let err = SimTransport::open(Some(path.clone())).unwrap_err().to_string();
    let _ = std::fs::remove_file(&path);
    assert!(err.contains("simulator could not start"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
}

#[test]
fn fault_replies_become_transport_errors() {
    let t = SimTransport::open(None).unwrap();
    let device = t.device().clone();
    let mut t2 = t.clone();
    device.lock().add_fault(Fault::once(
        Trigger::Command(yhsm_proto::CommandCode::ECHO),
        Action::DropResponse,
    ));
    let e = t2.exchange(&[0x01, 0x00, 0x01, 0x07]).unwrap_err();
    assert!(matches!(e, TransportError::Timeout { request_sent: true, .. }), "{e:?}");
    assert_eq!(t2.exchange(&[0x01, 0x00, 0x01, 0x07]).unwrap(), [0x81, 0x00, 0x01, 0x07]);

    device.lock().unplug();
    let e = t2.exchange(&[0x01, 0x00, 0x01, 0x07]).unwrap_err();
    assert!(matches!(e, TransportError::Disconnected { .. }), "{e:?}");
    device.lock().replug();
    assert!(t2.exchange(&[0x01, 0x00, 0x01, 0x07]).is_ok());
}
