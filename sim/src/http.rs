//! The simulator as yubihsm-connector serves a device (docs/PROTOCOL.md §1.2 "HTTP connector"):
//! `POST /connector/api` carries one raw frame each way, `GET /connector/status` answers
//! `key=value` lines, so python-yubihsm and libyubihsm-based tools accept it.
//!
//! Hand-written on `std::net`: one thread per connection, HTTP/1.1 keep-alive,
//! `Content-Length` bodies (chunked request bodies are refused with 400; python-yubihsm's
//! `requests` and libyubihsm's curl both send a length). Sessions belong to the device, so
//! any number of clients can share it. A dropped response (fault injection) closes the
//! connection without an answer; an unplugged device answers 503 and its status page says
//! `status=NO_DEVICE`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use yhsm_proto::frame::{HEADER_LEN, MAX_FRAME_LEN};

use crate::device::Reply;
use crate::shared::SharedDevice;

/// The API path.
pub const API_PATH: &str = "/connector/api";
/// The status path.
pub const STATUS_PATH: &str = "/connector/status";
/// Longest request head (request line and headers) accepted.
const MAX_HEAD: usize = 16 * 1024;
/// A connection idle this long is closed.
const IDLE: Duration = Duration::from_secs(300);

/// A bound, not yet running connector.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    device: SharedDevice,
    state_file: Option<PathBuf>,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port, see [`Server::local_addr`]).
    pub fn bind(addr: impl ToSocketAddrs, device: SharedDevice) -> io::Result<Self> {
        Ok(Self {
            listener: TcpListener::bind(addr)?,
            device,
            state_file: None,
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Saves the device to `path` after every request that changed it.
    pub fn with_state_file(mut self, path: PathBuf) -> Self {
        self.state_file = Some(path);
        self
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until [`ServerHandle::stop`] (or forever).
    pub fn run(self) -> io::Result<()> {
        let addr = self.local_addr()?;
        let shared = Arc::new(Shared { device: self.device, state_file: self.state_file, addr });
        for stream in self.listener.incoming() {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = stream else { continue };
            let shared = Arc::clone(&shared);
            let stop = Arc::clone(&self.stop);
            thread::spawn(move || {
                // A broken connection only ends that connection.
                let _ = serve_connection(&shared, stream, &stop);
            });
        }
        Ok(())
    }

    /// Runs the server on a background thread.
    pub fn spawn(self) -> io::Result<ServerHandle> {
        let addr = self.local_addr()?;
        let stop = Arc::clone(&self.stop);
        let thread = thread::spawn(move || self.run());
        Ok(ServerHandle { addr, stop, thread: Some(thread) })
    }
}

/// A server running on a background thread.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl ServerHandle {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections and waits for the accept loop to end. Connections
    /// already open end at their next request.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Binds `listen`, prints `listening on http://ADDR` (the real port when 0 was asked
/// for) and serves forever: what `yhsm sim serve` runs.
pub fn serve(listen: &str, device: SharedDevice, state_file: Option<PathBuf>) -> io::Result<()> {
    let mut server = Server::bind(listen, device)?;
    if let Some(path) = state_file {
        server = server.with_state_file(path);
    }
    let addr = server.local_addr()?;
    let mut out = io::stdout().lock();
    writeln!(out, "listening on http://{addr}")?;
    out.flush()?;
    drop(out);
    server.run()
}

struct Shared {
    device: SharedDevice,
    state_file: Option<PathBuf>,
    addr: SocketAddr,
}

/// One parsed request.
struct Request {
    method: String,
    path: String,
    keep_alive: bool,
    body: Vec<u8>,
}

enum Parsed {
    Request(Request),
    /// The peer closed the connection between requests.
    Closed,
    /// A request the server refuses (400) before closing.
    Bad(&'static str),
}

fn serve_connection(shared: &Shared, stream: TcpStream, stop: &AtomicBool) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE))?;
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        let request = match read_request(&mut reader)? {
            Parsed::Request(r) => r,
            Parsed::Closed => return Ok(()),
            Parsed::Bad(why) => {
                respond(&mut writer, 400, "Bad Request", "text/plain", why.as_bytes(), false)?;
                return Ok(());
            }
        };
        let keep = request.keep_alive;
        match (request.method.as_str(), request.path.as_str()) {
            ("POST", API_PATH) => {
                if !(HEADER_LEN..=MAX_FRAME_LEN).contains(&request.body.len()) {
                    respond(
                        &mut writer,
                        400,
                        "Bad Request",
                        "text/plain",
                        b"bad frame length",
                        keep,
                    )?;
                } else {
                    match exchange(shared, &request.body) {
                        Reply::Frame(frame) => {
                            respond(
                                &mut writer,
                                200,
                                "OK",
                                "application/octet-stream",
                                &frame,
                                keep,
                            )?;
                        }
                        Reply::Dropped => {
                            let _ = writer.shutdown(Shutdown::Both);
                            return Ok(());
                        }
                        Reply::Unplugged => {
                            respond(
                                &mut writer,
                                503,
                                "Service Unavailable",
                                "text/plain",
                                b"no device",
                                keep,
                            )?;
                        }
                    }
                }
            }
            ("GET", STATUS_PATH) => {
                let body = status(shared);
                respond(&mut writer, 200, "OK", "text/plain", body.as_bytes(), keep)?;
            }
            (_, API_PATH | STATUS_PATH) => {
                respond(&mut writer, 405, "Method Not Allowed", "text/plain", b"", keep)?;
            }
            _ => respond(&mut writer, 404, "Not Found", "text/plain", b"", keep)?,
        }
        if !keep {
            return Ok(());
        }
    }
}

/// Hands the frame to the device and saves the state file when the device changed.
fn exchange(shared: &Shared, frame: &[u8]) -> Reply {
    let (reply, saved) = shared.device.handle_and_save(frame, shared.state_file.as_deref());
    if let Err(e) = saved {
        eprintln!("yhsm-sim: could not save the state file: {e}");
    }
    reply
}

fn status(shared: &Shared) -> String {
    let device = shared.device.lock();
    let status = if device.is_unplugged() { "NO_DEVICE" } else { "OK" };
    format!(
        "status={status}\nserial={}\nversion={}\npid={}\naddress={}\nport={}\n",
        device.serial(),
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        shared.addr.ip(),
        shared.addr.port(),
    )
}

fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Parsed> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = reader.by_ref().take(MAX_HEAD as u64).read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(if head.is_empty() {
                Parsed::Closed
            } else {
                Parsed::Bad("truncated request")
            });
        }
        if head.is_empty() && (line == b"\r\n" || line == b"\n") {
            // Tolerate stray blank lines between requests.
            continue;
        }
        head.extend_from_slice(&line);
        if head.len() > MAX_HEAD {
            return Ok(Parsed::Bad("request head too long"));
        }
        if line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    let Ok(text) = std::str::from_utf8(&head) else {
        return Ok(Parsed::Bad("request head is not UTF-8"));
    };
    let mut lines = text.lines();
    let mut parts = lines.next().unwrap_or_default().split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Ok(Parsed::Bad("malformed request line"));
    };
    let path = target.split('?').next().unwrap_or_default().to_owned();
    let mut keep_alive = version.eq_ignore_ascii_case("HTTP/1.1");
    let mut length: Option<usize> = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            match value.parse() {
                Ok(n) => length = Some(n),
                Err(_) => return Ok(Parsed::Bad("invalid Content-Length")),
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Ok(Parsed::Bad(
                "chunked request bodies are not supported; send Content-Length",
            ));
        } else if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                keep_alive = false;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                keep_alive = true;
            }
        }
    }
    let length = length.unwrap_or(0);
    // Anything longer than a frame is answered 400 after reading it, so that the
    // connection stays in step; far longer bodies are not read at all.
    if length > 16 * MAX_FRAME_LEN {
        return Ok(Parsed::Bad("body too long"));
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    Ok(Parsed::Request(Request { method: method.to_owned(), path, keep_alive, body }))
}

fn respond(
    w: &mut TcpStream,
    code: u16,
    reason: &str,
    content_type: &str,
    body: &[u8],
    keep_alive: bool,
) -> io::Result<()> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let mut out = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    w.write_all(&out)?;
    w.flush()
}
