//! The connector front end over real sockets, and the state file.

#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed step fails the test"
)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use common::*;
use yhsm_proto::Capabilities;
use yhsm_proto::command::{GetOpaque, PutOpaque};
use yhsm_proto::frame::{self, ErrorCode};
use yhsm_sim::http::{Server, ServerHandle};
use yhsm_sim::{Action, Fault, SharedDevice, Trigger, state};

fn start() -> (ServerHandle, SharedDevice) {
    let (dev, _) = device();
    let shared = SharedDevice::new(dev);
    let server = Server::bind("127.0.0.1:0", shared.clone()).unwrap().spawn().unwrap();
    (server, shared)
}

/// Sends one request on `stream` and reads the response: (status, headers, body).
fn request(
    stream: &mut TcpStream,
    method: &str,
    path: &str,
    body: &[u8],
    extra: &str,
) -> (u16, String, Vec<u8>) {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let code: u16 = status.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut headers = String::new();
    let mut len = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
        headers.push_str(&line);
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    (code, headers, body)
}

#[test]
fn serves_the_status_page_as_yubihsm_connector_does() {
    let (server, _) = start();
    let mut c = TcpStream::connect(server.addr()).unwrap();
    let (code, _, body) = request(&mut c, "GET", "/connector/status", b"", "");
    assert_eq!(code, 200);
    let text = String::from_utf8(body).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.contains(&"status=OK"), "{text}");
    assert!(lines.contains(&"serial=1000001"));
    assert!(lines.contains(&format!("port={}", server.addr().port()).as_str()));
    assert!(lines.contains(&"address=127.0.0.1"));
    assert!(
        lines.iter().any(|l| l.starts_with("version="))
            && lines.iter().any(|l| l.starts_with("pid="))
    );
}

#[test]
fn answers_frames_and_keeps_the_connection_alive() {
    let (server, _) = start();
    let mut c = TcpStream::connect(server.addr()).unwrap();
    for i in 0..5u8 {
        let (code, headers, body) = request(&mut c, "POST", "/connector/api", &[1, 0, 1, i], "");
        assert_eq!(code, 200);
        assert!(headers.to_ascii_lowercase().contains("application/octet-stream"));
        assert_eq!(body, [0x81, 0, 1, i]);
    }
}

#[test]
fn refuses_bodies_outside_3_to_3139_bytes_and_unknown_paths() {
    let (server, _) = start();
    let mut c = TcpStream::connect(server.addr()).unwrap();
    assert_eq!(request(&mut c, "POST", "/connector/api", &[1, 0], "").0, 400);
    let mut c = TcpStream::connect(server.addr()).unwrap();
    let mut big = vec![1, 0x0c, 0x40];
    big.resize(3140, 0);
    assert_eq!(request(&mut c, "POST", "/connector/api", &big, "").0, 400);
    let mut c = TcpStream::connect(server.addr()).unwrap();
    let mut max = vec![1, 0x0c, 0x40];
    max.resize(3139, 7);
    let (code, _, body) = request(&mut c, "POST", "/connector/api", &max, "");
    assert_eq!((code, body.len()), (200, 3139));
    assert_eq!(request(&mut c, "GET", "/nowhere", b"", "").0, 404);
    assert_eq!(request(&mut c, "GET", "/connector/api", b"", "").0, 405);
    let mut c = TcpStream::connect(server.addr()).unwrap();
    assert_eq!(
        request(&mut c, "POST", "/connector/api", &[1, 0, 0], "Transfer-Encoding: chunked\r\n").0,
        400
    );
}

#[test]
fn serves_two_clients_sharing_one_device() {
    let (server, _) = start();
    let addr = server.addr();
    let threads: Vec<_> = (0..2u8)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = TcpStream::connect(addr).unwrap();
                for i in 0..50u8 {
                    let (_, _, body) =
                        request(&mut c, "POST", "/connector/api", &[1, 0, 2, t, i], "");
                    assert_eq!(body, [0x81, 0, 2, t, i]);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn a_dropped_response_closes_the_connection_and_an_unplugged_device_answers_503() {
    let (server, shared) = start();
    shared.lock().add_fault(Fault::once(
        Trigger::Command(yhsm_proto::frame::CommandCode::ECHO),
        Action::DropResponse,
    ));
    let mut c = TcpStream::connect(server.addr()).unwrap();
    c.write_all(b"POST /connector/api HTTP/1.1\r\nContent-Length: 3\r\n\r\n\x01\x00\x00").unwrap();
    let mut rest = Vec::new();
    assert_eq!(c.read_to_end(&mut rest).unwrap(), 0);
    shared.lock().unplug();
    let mut c = TcpStream::connect(server.addr()).unwrap();
    assert_eq!(request(&mut c, "POST", "/connector/api", &[1, 0, 0], "").0, 503);
    let text = String::from_utf8(request(&mut c, "GET", "/connector/status", b"", "").2).unwrap();
    assert!(text.lines().any(|l| l == "status=NO_DEVICE"));
}

#[test]
fn the_state_file_survives_a_restart_and_a_corrupt_one_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("yhsm-sim-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("device.state");
    let (mut dev, _) = device();
    let mut s = open_factory(&mut dev);
    let req = PutOpaque {
        header: header(0x42, "kept", 1, Capabilities::NONE, yhsm_proto::Algorithm::OPAQUE_DATA),
        data: vec![9; 300],
    };
    s.call(&mut dev, &req).unwrap();
    state::save(&dev, &path).unwrap();
    #[cfg(unix)]
    {
        // It holds every key in the clear: owner only, whatever the umask (issue 10 §6).
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "state file mode {mode:o}");
        // A temporary file left by a crash, readable by all, is not reused as it is.
        let tmp = dir.join("device.state.tmp");
        std::fs::write(&tmp, b"left over").unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).unwrap();
        state::save(&dev, &path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "state file mode {mode:o}");
    }

    let mut back = state::load(&path).unwrap();
    assert_eq!(back.serial(), dev.serial());
    // Sessions do not survive; objects, log and device key do.
    let sealed = s.inner.seal(&[1, 0, 0]).unwrap();
    assert_eq!(raw(&mut back, &sealed), frame::encode_error(ErrorCode::INVALID_SESSION));
    assert_eq!(raw(&mut back, &[0x0a, 0, 0]), raw(&mut dev, &[0x0a, 0, 0]));
    let mut s = open_factory(&mut back);
    assert_eq!(s.call(&mut back, &GetOpaque { id: 0x42 }).unwrap().data, vec![9; 300]);
    assert_eq!(back.audit_log().used(), dev.audit_log().used() + 1);

    std::fs::write(&path, b"not a state file").unwrap();
    let err = state::load(&path).unwrap_err().to_string();
    assert!(err.contains("not a simulator state file"), "{err}");
    let mut truncated = state::encode(&dev);
    truncated.truncate(truncated.len() - 10);
    std::fs::write(&path, &truncated).unwrap();
    let err = state::load(&path).unwrap_err().to_string();
    assert!(err.contains("corrupt"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_server_saves_the_state_file_after_changes() {
    let dir = std::env::temp_dir().join(format!("yhsm-sim-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("d.state");
    let (dev, _) = device();
    let shared = SharedDevice::new(dev);
    let server = Server::bind("127.0.0.1:0", shared.clone())
        .unwrap()
        .with_state_file(path.clone())
        .spawn()
        .unwrap();
    let mut c = TcpStream::connect(server.addr()).unwrap();
    // A session opening is a change (a slot and possibly a log entry); reset is certainly.
    let mut s = {
        let mut guard = shared.lock();
        open_factory(&mut guard)
    };
    let sealed = s.inner.seal(&[0x08, 0, 0]).unwrap();
    let (code, _, _) = request(&mut c, "POST", "/connector/api", &sealed, "");
    assert_eq!(code, 200);
    assert!(state::load(&path).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}
