//! The HTTP transport against a small scripted server on 127.0.0.1 in a thread.

use super::*;
use std::io::BufRead;
use std::net::{Shutdown, TcpListener};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    /// Which accepted connection carried it (0, 1, ...).
    conn: usize,
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What the server does with a request.
enum Reply {
    /// Writes these bytes and keeps the connection open.
    Send(Vec<u8>),
    /// Writes these bytes, then closes the connection.
    SendAndClose(Vec<u8>),
    /// Waits, then writes these bytes.
    Slow(Duration, Vec<u8>),
}

type Handler = dyn Fn(&Seen) -> Reply + Send + Sync;

struct Server {
    url: HttpUrl,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn start(prefix: &str, handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let handler: Arc<Handler> = Arc::new(handler);
        thread::spawn(move || {
            for (conn, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { return };
                let (log, handler) = (log.clone(), handler.clone());
                thread::spawn(move || serve(conn, stream, &log, &*handler));
            }
        });
        let url = HttpUrl { host: "127.0.0.1".into(), port, path_prefix: prefix.into() };
        Self { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn transport(&self, exchange: Duration) -> HttpTransport {
        HttpTransport::new(self.url.clone(), Timeouts { connect: Duration::from_secs(5), exchange })
    }
}

fn serve(conn: usize, stream: TcpStream, log: &Mutex<Vec<Seen>>, handler: &Handler) {
    let mut reader = io::BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.trim_end().splitn(3, ' ');
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (n, v) = h.split_once(':').unwrap();
            headers.push((n.to_owned(), v.trim().to_owned()));
        }
        let len = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let seen = Seen { conn, method, target, headers, body };
        log.lock().unwrap().push(seen.clone());
        match handler(&seen) {
            Reply::Send(bytes) => {
                let _ = stream.write_all(&bytes);
            }
            Reply::SendAndClose(bytes) => {
                let _ = stream.write_all(&bytes);
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
            Reply::Slow(delay, bytes) => {
                thread::sleep(delay);
                let _ = stream.write_all(&bytes);
            }
        }
    }
}

fn ok(body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// A response as Go's net/http sends one longer than its 2048-byte buffer.
fn ok_chunked(body: &[u8]) -> Vec<u8> {
    let mut r = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for chunk in body.chunks(1000) {
        r.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        r.extend_from_slice(chunk);
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"0\r\n\r\n");
    r
}

const STATUS_OK: &[u8] =
    b"status=OK\nserial=*\nversion=3.0.4\npid=77\naddress=localhost\nport=12345\n";

/// Answers status with `status`, and echo requests with the matching response frame.
fn connector(status: &'static [u8]) -> impl Fn(&Seen) -> Reply + Send + Sync {
    move |seen| {
        if seen.target.ends_with("/connector/status") {
            Reply::Send(ok(status))
        } else {
            let mut frame = seen.body.clone();
            frame[0] |= 0x80;
            Reply::Send(ok(&frame))
        }
    }
}

const ECHO: [u8; 5] = [0x01, 0x00, 0x02, 0xab, 0xcd];
const T: Duration = Duration::from_secs(5);

#[test]
fn checks_status_then_exchanges_on_one_kept_alive_connection() {
    let server = Server::start("", connector(STATUS_OK));
    let mut t = HttpTransport::connect(server.url.clone(), Timeouts::default()).unwrap();
    for _ in 0..3 {
        assert_eq!(t.exchange(&ECHO).unwrap(), [0x81, 0x00, 0x02, 0xab, 0xcd]);
    }
    let seen = server.seen();
    assert_eq!(seen.len(), 4);
    assert_eq!((seen[0].method.as_str(), seen[0].target.as_str()), ("GET", "/connector/status"));
    assert!(seen[1..].iter().all(|s| s.method == "POST" && s.target == "/connector/api"));
    assert!(seen.iter().all(|s| s.conn == 0), "one connection for everything: {seen:?}");
    assert_eq!(t.describe(), server.url.to_string());
}

#[test]
fn sends_the_connector_headers() {
    let server = Server::start("", connector(STATUS_OK));
    let mut t = server.transport(T);
    t.exchange(&ECHO).unwrap();
    t.set_session_tag(Some([0, 1, 2, 3, 0xa4, 0xb5, 0xc6, 0xff]));
    t.exchange(&ECHO).unwrap();
    let seen = server.seen();
    let first = &seen[0];
    assert_eq!(first.header("Content-Type"), Some("application/octet-stream"));
    assert_eq!(first.header("Content-Length"), Some("5"));
    assert_eq!(first.header("Host"), Some(server.url.authority().as_str()));
    assert!(first.header("User-Agent").unwrap().starts_with("yhsm/"));
    assert_eq!(first.header("YubiHSM-Session"), None);
    assert_eq!(first.body, ECHO);
    assert_eq!(seen[1].header("YubiHSM-Session"), Some("00010203a4b5c6ff"));
}

#[test]
fn puts_requests_under_the_path_prefix() {
    let server = Server::start("/yubi/hsm", connector(STATUS_OK));
    let mut t = HttpTransport::connect(server.url.clone(), Timeouts::default()).unwrap();
    t.exchange(&ECHO).unwrap();
    let targets: Vec<_> = server.seen().into_iter().map(|s| s.target).collect();
    assert_eq!(targets, ["/yubi/hsm/connector/status", "/yubi/hsm/connector/api"]);
    assert_eq!(t.url().to_string(), format!("http://127.0.0.1:{}/yubi/hsm", server.url.port));
}

#[test]
fn reads_chunked_responses_of_a_whole_frame() {
    let mut frame = vec![0x85, 0x0c, 0x40];
    frame.resize(MAX_FRAME_LEN, 0x5a);
    let answer = frame.clone();
    let server = Server::start("", move |_| Reply::Send(ok_chunked(&answer)));
    let mut t = server.transport(T);
    assert_eq!(t.exchange(&ECHO).unwrap(), frame);
    assert_eq!(t.exchange(&ECHO).unwrap(), frame);
    assert!(server.seen().iter().all(|s| s.conn == 0));
}

#[test]
fn refuses_a_connector_without_a_device() {
    let server = Server::start("", connector(b"status=NO_DEVICE\nserial=*\n"));
    let e = HttpTransport::connect(server.url.clone(), Timeouts::default()).unwrap_err();
    assert_eq!(
        e,
        TransportError::ConnectorNoDevice {
            url: server.url.to_string(),
            status: "NO_DEVICE".into()
        }
    );
    assert!(!e.request_may_have_been_delivered());
    assert!(e.to_string().contains("sees no YubiHSM 2"), "{e}");
}

#[test]
fn reports_a_garbled_status_as_malformed() {
    let server = Server::start("", |_| Reply::Send(ok(b"<html>hello</html>")));
    let e = HttpTransport::connect(server.url.clone(), Timeouts::default()).unwrap_err();
    let TransportError::Malformed { what } = &e else { panic!("{e:?}") };
    assert!(what.contains("/connector/status: line 1 is not key=value"), "{what}");
}

#[test]
fn turns_http_errors_into_typed_errors_and_keeps_the_connection() {
    let server = Server::start("", |seen| {
        if seen.body.len() == 5 {
            Reply::Send(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 12\r\n\r\nBad Request\n".to_vec())
        } else {
            Reply::Send(ok(&[0x81, 0, 0]))
        }
    });
    let mut t = server.transport(T);
    let e = t.exchange(&ECHO).unwrap_err();
    assert_eq!(
        e,
        TransportError::Http {
            url: server.url.to_string(),
            status: 400,
            reason: "Bad Request".into()
        }
    );
    assert!(!e.request_may_have_been_delivered());
    assert_eq!(t.exchange(&[0x01, 0, 0]).unwrap(), [0x81, 0, 0]);
    assert!(server.seen().iter().all(|s| s.conn == 0));
}

#[test]
fn counts_a_server_error_as_possibly_delivered() {
    let server = Server::start("", |_| {
        Reply::Send(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".to_vec())
    });
    let e = server.transport(T).exchange(&ECHO).unwrap_err();
    assert!(matches!(e, TransportError::Http { status: 500, .. }), "{e:?}");
    assert!(e.request_may_have_been_delivered());
}

#[test]
fn reports_a_close_mid_response_as_disconnected_after_sending() {
    let server = Server::start("", |_| {
        Reply::SendAndClose(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n\x81\x00".to_vec())
    });
    let e = server.transport(T).exchange(&ECHO).unwrap_err();
    let TransportError::Disconnected { request_sent: true, detail } = &e else { panic!("{e:?}") };
    assert!(detail.contains("before answering in full"), "{detail}");
    assert!(e.request_may_have_been_delivered());
}

#[test]
fn reports_a_close_without_any_answer_as_disconnected_after_sending() {
    let server = Server::start("", |_| Reply::SendAndClose(Vec::new()));
    let e = server.transport(T).exchange(&ECHO).unwrap_err();
    assert!(matches!(e, TransportError::Disconnected { request_sent: true, .. }), "{e:?}");
    assert_eq!(server.seen().len(), 1, "the request must not be sent twice");
}

#[test]
fn times_out_on_a_slow_server() {
    // Slow for the echo, quick for an empty request.
    let server = Server::start("", |seen| {
        if seen.body.len() == ECHO.len() {
            Reply::Slow(Duration::from_millis(1500), ok(&[0x81, 0, 0]))
        } else {
            Reply::Send(ok(&[0x81, 0, 0]))
        }
    });
    let mut t = server.transport(Duration::from_millis(200));
    let started = Instant::now();
    let e = t.exchange(&ECHO).unwrap_err();
    assert_eq!(
        e,
        TransportError::Timeout { after: Duration::from_millis(200), request_sent: true }
    );
    assert!(started.elapsed() < Duration::from_millis(1200), "{:?}", started.elapsed());
    // The late answer must not be taken for the next request's: a new connection is used.
    assert_eq!(t.exchange(&[0x01, 0, 0]).unwrap(), [0x81, 0, 0]);
    let conns: Vec<_> = server.seen().iter().map(|s| s.conn).collect();
    assert_eq!(conns, [0, 1]);
}

#[test]
fn replaces_an_idle_connection_the_server_closed() {
    // The server answers, then closes without saying `Connection: close`, as an idle
    // timeout would. The next request must go out once, on a new connection.
    let server = Server::start("", |_| Reply::SendAndClose(ok(&[0x81, 0, 0])));
    let mut t = server.transport(T);
    t.exchange(&ECHO).unwrap();
    thread::sleep(Duration::from_millis(100));
    t.exchange(&ECHO).unwrap();
    let conns: Vec<_> = server.seen().iter().map(|s| s.conn).collect();
    assert_eq!(conns, [0, 1]);
}

#[test]
fn opens_a_new_connection_after_connection_close() {
    let server = Server::start("", |_| {
        let mut r = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\n".to_vec();
        r.extend_from_slice(&[0x81, 0, 0]);
        Reply::Send(r)
    });
    let mut t = server.transport(T);
    t.exchange(&ECHO).unwrap();
    t.exchange(&ECHO).unwrap();
    let conns: Vec<_> = server.seen().iter().map(|s| s.conn).collect();
    assert_eq!(conns, [0, 1]);
}

#[test]
fn checks_response_frame_lengths() {
    let server = Server::start("", |seen| match seen.body[3] {
        0 => Reply::Send(ok(&[0x81, 0, 4, 1])),
        1 => Reply::Send(ok(&[0x81])),
        _ => {
            let mut long = vec![0x81, 0x0c, 0x41];
            long.resize(MAX_FRAME_LEN + 1, 0);
            Reply::Send(ok(&long))
        }
    });
    let mut t = server.transport(T);
    for n in 0..3u8 {
        let e = t.exchange(&[0x01, 0, 1, n]).unwrap_err();
        assert!(matches!(e, TransportError::Malformed { .. }), "{n}: {e:?}");
        assert!(e.request_may_have_been_delivered());
    }
}

#[test]
fn rejects_bad_requests_without_sending() {
    let server = Server::start("", connector(STATUS_OK));
    let mut t = server.transport(T);
    let mut long = vec![0x01, 0x0c, 0x41];
    long.resize(MAX_FRAME_LEN + 1, 0);
    assert_eq!(t.exchange(&long), Err(TransportError::RequestTooLong { len: MAX_FRAME_LEN + 1 }));
    assert!(matches!(t.exchange(&[0x01, 0, 9]), Err(TransportError::InvalidRequest { .. })));
    assert!(server.seen().is_empty());
}

#[test]
fn reports_an_unreachable_connector() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = HttpUrl { host: "127.0.0.1".into(), port, path_prefix: String::new() };
    let e = HttpTransport::connect(url, Timeouts::default()).unwrap_err();
    let TransportError::ConnectorUnreachable { url, .. } = &e else { panic!("{e:?}") };
    assert_eq!(url, &format!("http://127.0.0.1:{port}"));
    assert!(!e.request_may_have_been_delivered());
    assert!(e.to_string().contains("is it running"), "{e}");
}

#[test]
fn opens_http_urls_through_the_crate_entry_point() {
    let server = Server::start("", connector(STATUS_OK));
    let url: crate::ConnectorUrl = server.url.to_string().parse().unwrap();
    let mut t = crate::open(&url, Timeouts::default()).unwrap();
    assert_eq!(t.exchange(&ECHO).unwrap()[0], 0x81);
    assert_eq!(t.describe(), server.url.to_string());
}

#[test]
fn waits_out_a_shorter_socket_timeout_left_from_an_earlier_exchange() {
    // The socket timeout is only shortened, never lengthened, between exchanges: a read
    // that meets an old, shorter one must wait on until its own deadline.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let late = thread::spawn(move || {
        thread::sleep(Duration::from_millis(150));
        server.write_all(b"late").unwrap();
        server
    });
    let old = Duration::from_millis(20);
    stream.set_read_timeout(Some(old)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut s = DeadlineStream { stream, deadline, read_timeout: Some(old) };
    let mut buf = [0; 4];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"late");
    assert!(s.read_timeout.is_some_and(|t| t > old), "{:?}", s.read_timeout);
    drop(late.join().unwrap());
}
