//! yubihsm-connector over plain HTTP/1.1 (docs/PROTOCOL.md §1.2), on `std::net` alone.
//!
//! `POST <base>/connector/api` carries one frame each way on a kept-alive connection;
//! `GET <base>/connector/status` must say `status=OK` before anything is sent (as
//! libyubihsm requires). DEPENDENCIES.md says why this is hand-written.
//!
//! Resending: a kept-alive connection the server has closed while idle is noticed before
//! use (a non-blocking peek sees the end of stream) and replaced. A request is sent again
//! on a new connection only when the kernel accepted none of its bytes on the old one;
//! once any byte left, a failure is reported with `request_sent: true` and never retried
//! here, because the connector may already have forwarded the request to the device.

mod status;
pub(crate) mod wire;

use std::fmt::Write as _;
use std::io::{self, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use yhsm_proto::frame::MAX_FRAME_LEN;

pub use status::ConnectorStatus;
use wire::{Head, WireError};

use crate::{HttpUrl, Timeouts, Transport, TransportError, check_request, check_response};

/// The largest `/connector/status` answer read (the real one is about 100 bytes).
const MAX_STATUS_BODY: usize = 4096;
/// The largest error page read to keep a connection usable after an HTTP error.
const MAX_ERROR_BODY: usize = 16 * 1024;
const USER_AGENT: &str = concat!("yhsm/", env!("CARGO_PKG_VERSION"));

/// A socket whose reads fail with `TimedOut` once the exchange's deadline has passed.
#[derive(Debug)]
struct DeadlineStream {
    stream: TcpStream,
    deadline: Instant,
    /// The socket's read timeout as last set.
    read_timeout: Option<Duration>,
}

impl Read for DeadlineStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            // A system call per read is measurable on a loopback connector: the timeout is
            // only set again when the one in force could outlast the deadline.
            if self.read_timeout.is_none_or(|t| t > left) {
                self.stream.set_read_timeout(Some(left))?;
                self.read_timeout = Some(left);
            }
            match self.stream.read(buf) {
                // A timeout left from an earlier exchange, shorter than the time left.
                Err(e) if is_timeout(e.kind()) && Instant::now() < self.deadline => {
                    self.read_timeout = None;
                }
                result => return result,
            }
        }
    }
}

fn is_timeout(kind: io::ErrorKind) -> bool {
    matches!(kind, io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

#[derive(Debug)]
struct Conn {
    reader: BufReader<DeadlineStream>,
    /// The socket's write timeout as last set.
    write_timeout: Option<Duration>,
    /// When the last answer was read completely.
    last_used: Instant,
}

/// How long a kept-alive connection may sit idle before it is probed for a close by the
/// server. Servers close idle connections after seconds, not within milliseconds of an
/// answer they sent without `Connection: close`; probing costs three system calls, a
/// measurable share of a loopback exchange, so back-to-back exchanges skip it.
const PROBE_IDLE_AFTER: Duration = Duration::from_millis(20);

impl Conn {
    /// Whether an idle kept-alive connection can carry another request: the server has
    /// not closed it, and no unexpected bytes wait on it.
    fn reusable(&self) -> bool {
        if !self.reader.buffer().is_empty() {
            return false;
        }
        if self.last_used.elapsed() < PROBE_IDLE_AFTER {
            return true;
        }
        let stream = &self.reader.get_ref().stream;
        if stream.set_nonblocking(true).is_err() {
            return false;
        }
        let alive =
            matches!(stream.peek(&mut [0; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        stream.set_nonblocking(false).is_ok() && alive
    }

    /// Writes all of `data` before `deadline`. On failure, also says how many bytes the
    /// kernel accepted.
    fn write_all(&mut self, data: &[u8], deadline: Instant) -> Result<(), (io::Error, usize)> {
        self.reader.get_mut().deadline = deadline;
        let stream = &mut self.reader.get_mut().stream;
        let mut written = 0;
        while let Some(rest) = data.get(written..).filter(|r| !r.is_empty()) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err((io::ErrorKind::TimedOut.into(), written));
            }
            if self.write_timeout.is_none_or(|t| t > left) {
                stream.set_write_timeout(Some(left)).map_err(|e| (e, written))?;
                self.write_timeout = Some(left);
            }
            match stream.write(rest) {
                Ok(0) => return Err((io::ErrorKind::WriteZero.into(), written)),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A timeout left from an earlier exchange, shorter than the time left.
                Err(e) if is_timeout(e.kind()) && Instant::now() < deadline => {
                    self.write_timeout = None;
                }
                Err(e) => return Err((e, written)),
            }
        }
        Ok(())
    }
}

/// Whether a write error on a reused connection means the server had closed it.
fn closed_by_peer(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
    )
}

/// A yubihsm-connector reached over HTTP.
#[derive(Debug)]
pub struct HttpTransport {
    url: HttpUrl,
    timeouts: Timeouts,
    conn: Option<Conn>,
    session_tag: Option<[u8; 8]>,
}

impl HttpTransport {
    /// A transport for `url` that has not talked to the connector yet.
    pub fn new(url: HttpUrl, timeouts: Timeouts) -> Self {
        Self { url, timeouts, conn: None, session_tag: None }
    }

    /// Connects and checks `/connector/status`: fails with
    /// [`TransportError::ConnectorNoDevice`] unless it says `status=OK`.
    pub fn connect(url: HttpUrl, timeouts: Timeouts) -> Result<Self, TransportError> {
        let mut t = Self::new(url, timeouts);
        let status = t.status()?;
        if !status.has_device() {
            return Err(TransportError::ConnectorNoDevice {
                url: t.url.to_string(),
                status: status.status().to_owned(),
            });
        }
        Ok(t)
    }

    /// The connector's base URL.
    pub fn url(&self) -> &HttpUrl {
        &self.url
    }

    /// Asks `GET <base>/connector/status`.
    pub fn status(&mut self) -> Result<ConnectorStatus, TransportError> {
        let body = self.request("GET", "/connector/status", &[], &[], MAX_STATUS_BODY)?;
        ConnectorStatus::parse(&body).map_err(|e| TransportError::Malformed {
            what: format!("{}/connector/status: {e}", self.url),
        })
    }

    fn unreachable(&self, detail: String) -> TransportError {
        TransportError::ConnectorUnreachable { url: self.url.to_string(), detail }
    }

    fn open_conn(&self) -> Result<Conn, TransportError> {
        let addrs = (self.url.host.as_str(), self.url.port)
            .to_socket_addrs()
            .map_err(|e| self.unreachable(format!("cannot resolve `{}`: {e}", self.url.host)))?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.timeouts.connect) {
                Ok(stream) => {
                    // Frames are written whole; don't let Nagle hold back the last packet.
                    let _ = stream.set_nodelay(true);
                    let reader = BufReader::new(DeadlineStream {
                        stream,
                        deadline: Instant::now(),
                        read_timeout: None,
                    });
                    return Ok(Conn { reader, write_timeout: None, last_used: Instant::now() });
                }
                Err(e) => last = Some(format!("{addr}: {e}")),
            }
        }
        Err(self.unreachable(last.unwrap_or_else(|| "the host has no address".to_owned())))
    }

    fn io_error(&self, e: &io::Error, request_sent: bool) -> TransportError {
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                TransportError::Timeout { after: self.timeouts.exchange, request_sent }
            }
            io::ErrorKind::UnexpectedEof => TransportError::Disconnected {
                detail: format!("{} closed the connection before answering in full", self.url),
                request_sent,
            },
            _ => {
                TransportError::Disconnected { detail: format!("{}: {e}", self.url), request_sent }
            }
        }
    }

    fn wire_error(&self, e: WireError) -> TransportError {
        match e {
            WireError::Io(e) => self.io_error(&e, true),
            WireError::Malformed(what) => {
                TransportError::Malformed { what: format!("HTTP answer from {}: {what}", self.url) }
            }
        }
    }

    /// Sends one request and returns the body of a `200` answer.
    fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
        limit: usize,
    ) -> Result<Vec<u8>, TransportError> {
        let mut all = vec![("User-Agent", USER_AGENT.to_owned())];
        all.extend(headers.iter().cloned());
        let bytes =
            wire::format_request(method, &self.url.target(path), &self.url.authority(), &all, body);

        let reused = match self.conn.as_mut() {
            Some(c) if c.reusable() => true,
            _ => {
                self.conn = Some(self.open_conn()?);
                false
            }
        };
        let deadline = Instant::now() + self.timeouts.exchange;
        let mut sent = self.write(&bytes, deadline);
        if let Err((e, 0)) = &sent
            && reused
            && closed_by_peer(e.kind())
        {
            // Not one byte of this request left: the server closed the idle connection
            // first. A fresh connection cannot duplicate anything.
            self.conn = Some(self.open_conn()?);
            sent = self.write(&bytes, deadline);
        }
        if let Err((e, written)) = sent {
            self.conn = None;
            return Err(self.io_error(&e, written > 0));
        }

        let result = self.read_answer(limit);
        match (&result, self.conn.as_mut()) {
            (Ok((head, _)), Some(conn)) if head.keep_alive => conn.last_used = Instant::now(),
            _ => self.conn = None,
        }
        let (head, body) = result?;
        if head.status != 200 {
            return Err(TransportError::Http {
                url: self.url.to_string(),
                status: head.status,
                reason: head.reason,
            });
        }
        Ok(body)
    }

    fn write(&mut self, bytes: &[u8], deadline: Instant) -> Result<(), (io::Error, usize)> {
        match self.conn.as_mut() {
            Some(c) => c.write_all(bytes, deadline),
            None => Err((io::ErrorKind::NotConnected.into(), 0)),
        }
    }

    /// Reads the answer's head and body. A body past `limit` is an error for a `200`;
    /// for another status the error page is read (up to a limit) only to keep the
    /// connection usable, and its status is what counts.
    fn read_answer(&mut self, limit: usize) -> Result<(Head, Vec<u8>), TransportError> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(self.io_error(&io::ErrorKind::NotConnected.into(), true));
        };
        let head = wire::read_head(&mut conn.reader);
        let head = match head {
            Ok(h) => h,
            Err(e) => return Err(self.wire_error(e)),
        };
        if head.status != 200 {
            let mut head = head;
            if wire::read_body(&mut conn.reader, head.framing, MAX_ERROR_BODY).is_err() {
                head.keep_alive = false;
            }
            return Ok((head, Vec::new()));
        }
        match wire::read_body(&mut conn.reader, head.framing, limit) {
            Ok(body) => Ok((head, body)),
            Err(e) => Err(self.wire_error(e)),
        }
    }
}

impl Transport for HttpTransport {
    fn exchange(&mut self, request: &[u8]) -> Result<Vec<u8>, TransportError> {
        check_request(request)?;
        let mut headers = vec![("Content-Type", "application/octet-stream".to_owned())];
        if let Some(tag) = self.session_tag {
            let mut hex = String::with_capacity(16);
            for b in tag {
                let _ = write!(hex, "{b:02x}");
            }
            headers.push(("YubiHSM-Session", hex));
        }
        let response = self.request("POST", "/connector/api", &headers, request, MAX_FRAME_LEN)?;
        check_response(&response)?;
        Ok(response)
    }

    fn describe(&self) -> String {
        self.url.to_string()
    }

    fn set_session_tag(&mut self, tag: Option<[u8; 8]>) {
        self.session_tag = tag;
    }
}

#[cfg(test)]
mod tests;
