//! The HTTP/1.1 subset a yubihsm-connector client needs (RFC 9112): a request with a
//! `Content-Length` body, and a response framed by `Content-Length`, by chunked transfer
//! coding, or by the connection closing. yubihsm-connector is a Go `net/http` server: it
//! writes the response frame without a `Content-Length`, so Go sends frames up to its
//! 2048-byte buffer with a computed `Content-Length` and longer frames chunked. Both are
//! read here; everything else unusual is refused as malformed rather than guessed at.
//!
//! Every read is bounded: line lengths, header counts and body sizes.

use std::io::{self, BufRead, Read};

/// The longest status or header line accepted.
const MAX_LINE: usize = 8 * 1024;
/// The most header lines accepted in one response.
const MAX_HEADERS: usize = 100;
/// The most interim (1xx) responses skipped before the real one.
const MAX_INTERIM: usize = 4;

#[derive(Debug)]
pub(crate) enum WireError {
    /// The socket failed or timed out, or the peer closed it early
    /// (`UnexpectedEof`).
    Io(io::Error),
    /// The bytes are not an HTTP/1.x response we accept.
    Malformed(String),
}

impl From<io::Error> for WireError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

fn malformed<T>(what: impl Into<String>) -> Result<T, WireError> {
    Err(WireError::Malformed(what.into()))
}

/// How the body of a response ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

/// A response's status line and the headers that matter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    pub status: u16,
    pub reason: String,
    pub framing: Framing,
    /// Whether the connection may carry another request after this response.
    pub keep_alive: bool,
}

/// Formats a request. `target` and `host` come from a parsed [`crate::HttpUrl`], which
/// admits no spaces or control characters; `headers` are this crate's own.
pub(crate) fn format_request(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Vec<u8> {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// One line without its `\r\n` (or bare `\n`). `Ok(None)` at a clean end of stream.
fn read_line<R: BufRead>(r: &mut R) -> Result<Option<Vec<u8>>, WireError> {
    let mut line = Vec::new();
    let limit = u64::try_from(MAX_LINE + 2).unwrap_or(u64::MAX);
    r.take(limit).read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Ok(None);
    }
    if line.pop() != Some(b'\n') {
        if line.len() + 1 >= MAX_LINE {
            return malformed(format!("a header line is longer than {MAX_LINE} bytes"));
        }
        return Err(WireError::Io(io::ErrorKind::UnexpectedEof.into()));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

fn require_line<R: BufRead>(r: &mut R) -> Result<Vec<u8>, WireError> {
    read_line(r)?.ok_or_else(|| WireError::Io(io::ErrorKind::UnexpectedEof.into()))
}

fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).chars().filter(|c| !c.is_control()).take(120).collect()
}

/// Reads the status line and headers of the final (non-1xx) response.
pub(crate) fn read_head<R: BufRead>(r: &mut R) -> Result<Head, WireError> {
    for _ in 0..=MAX_INTERIM {
        let head = read_one_head(r)?;
        if !(100..200).contains(&head.status) {
            return Ok(head);
        }
    }
    malformed("too many interim (1xx) responses")
}

fn read_one_head<R: BufRead>(r: &mut R) -> Result<Head, WireError> {
    let line = require_line(r)?;
    let text = std::str::from_utf8(&line)
        .map_err(|_| WireError::Malformed("the status line is not text".into()))?;
    let mut parts = text.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return malformed(format!("not an HTTP/1.x status line: `{}`", printable(&line))),
    };
    let code = parts.next().unwrap_or_default();
    let status = Some(code)
        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| {
            WireError::Malformed(format!("bad status code `{}`", printable(code.as_bytes())))
        })?;
    let reason = printable(parts.next().unwrap_or_default().as_bytes());

    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut close = !http11;
    let mut count = 0;
    loop {
        let line = require_line(r)?;
        if line.is_empty() {
            break;
        }
        count += 1;
        if count > MAX_HEADERS {
            return malformed(format!("more than {MAX_HEADERS} header lines"));
        }
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            return malformed("folded header lines are not allowed");
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            return malformed(format!("header line without a colon: `{}`", printable(&line)));
        };
        let (name, value) = line.split_at(colon);
        let value = String::from_utf8_lossy(value.get(1..).unwrap_or_default());
        let value = value.trim();
        if name.is_empty() || name.iter().any(|b| b.is_ascii_whitespace()) {
            return malformed(format!("bad header name `{}`", printable(name)));
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = Some(value)
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or_else(|| WireError::Malformed(format!("bad Content-Length `{value}`")))?;
            if length.is_some_and(|l| l != n) {
                return malformed("conflicting Content-Length headers");
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let codings: Vec<_> =
                value.split(',').map(str::trim).filter(|c| !c.is_empty()).collect();
            if chunked
                || !codings.iter().all(|c| c.eq_ignore_ascii_case("chunked"))
                || codings.len() != 1
            {
                return malformed(format!("unsupported Transfer-Encoding `{value}`"));
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") && !http11 {
                    close = false;
                }
            }
        }
    }
    let framing = match (chunked, length) {
        (true, Some(_)) => return malformed("both Transfer-Encoding and Content-Length"),
        (true, None) => Framing::Chunked,
        (false, Some(n)) => Framing::Length(n),
        // 1xx, 204 and 304 have no body by definition (RFC 9112 §6.3).
        (false, None) if (100..200).contains(&status) || status == 204 || status == 304 => {
            Framing::Length(0)
        }
        (false, None) => Framing::UntilClose,
    };
    let keep_alive = !close && framing != Framing::UntilClose;
    Ok(Head { status, reason, framing, keep_alive })
}

fn too_long<T>(limit: usize) -> Result<T, WireError> {
    malformed(format!("the body is longer than {limit} bytes"))
}

/// Reads a body framed as `framing`, refusing more than `limit` bytes.
pub(crate) fn read_body<R: BufRead>(
    r: &mut R,
    framing: Framing,
    limit: usize,
) -> Result<Vec<u8>, WireError> {
    match framing {
        Framing::Length(n) => {
            if n > limit {
                return too_long(limit);
            }
            let mut body = vec![0; n];
            r.read_exact(&mut body)?;
            Ok(body)
        }
        Framing::UntilClose => {
            let mut body = Vec::new();
            let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
            r.take(cap).read_to_end(&mut body)?;
            if body.len() > limit {
                return too_long(limit);
            }
            Ok(body)
        }
        Framing::Chunked => read_chunked(r, limit),
    }
}

fn read_chunked<R: BufRead>(r: &mut R, limit: usize) -> Result<Vec<u8>, WireError> {
    let mut body = Vec::new();
    loop {
        let line = require_line(r)?;
        let size_text = line.split(|b| *b == b';').next().unwrap_or_default();
        let size_text = String::from_utf8_lossy(size_text);
        let size_text = size_text.trim();
        let size = Some(size_text)
            .filter(|s| !s.is_empty() && s.len() <= 8 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|s| usize::from_str_radix(s, 16).ok())
            .ok_or_else(|| WireError::Malformed(format!("bad chunk size `{size_text}`")))?;
        if size == 0 {
            break;
        }
        if body.len().saturating_add(size) > limit {
            return too_long(limit);
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(body.get_mut(start..).unwrap_or_default())?;
        if !require_line(r)?.is_empty() {
            return malformed("chunk data longer than its size");
        }
    }
    // Trailer fields, if any, end with an empty line; none of them matters here.
    for _ in 0..=MAX_HEADERS {
        if require_line(r)?.is_empty() {
            return Ok(body);
        }
    }
    malformed(format!("more than {MAX_HEADERS} trailer lines"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(raw: &[u8], limit: usize) -> Result<(Head, Vec<u8>), WireError> {
        let mut r = raw;
        let head = read_head(&mut r)?;
        let body = read_body(&mut r, head.framing, limit)?;
        assert!(r.is_empty(), "{} bytes left over", r.len());
        Ok((head, body))
    }

    fn malformed_reason(raw: &[u8]) -> String {
        match response(raw, 4096) {
            Err(WireError::Malformed(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    fn eof(raw: &[u8]) -> bool {
        matches!(response(raw, 4096), Err(WireError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof)
    }

    #[test]
    fn formats_a_post_with_content_length() {
        let req = format_request(
            "POST",
            "/p/connector/api",
            "127.0.0.1:12345",
            &[("Content-Type", "application/octet-stream".into())],
            &[1, 0, 0],
        );
        assert_eq!(
            req,
            b"POST /p/connector/api HTTP/1.1\r\nHost: 127.0.0.1:12345\r\n\
              Content-Type: application/octet-stream\r\nContent-Length: 3\r\n\r\n\x01\x00\x00"
        );
        let get = format_request("GET", "/connector/status", "h:1", &[], &[]);
        assert_eq!(get, b"GET /connector/status HTTP/1.1\r\nHost: h:1\r\n\r\n");
    }

    #[test]
    fn reads_content_length_bodies() {
        let (head, body) = response(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 4\r\n\r\n\x81\x00\x01\x02",
            4096,
        )
        .unwrap();
        assert_eq!((head.status, head.reason.as_str(), head.keep_alive), (200, "OK", true));
        assert_eq!(body, [0x81, 0, 1, 2]);
    }

    #[test]
    fn reads_chunked_bodies_like_go_sends_them() {
        let (head, body) = response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n\x81\x00\x02\r\n2;ext=1\r\nab\r\n0\r\nX-Trailer: 1\r\n\r\n",
            4096,
        )
        .unwrap();
        assert_eq!(head.framing, Framing::Chunked);
        assert!(head.keep_alive);
        assert_eq!(body, b"\x81\x00\x02ab");
    }

    #[test]
    fn reads_bodies_until_close_and_honours_connection_close() {
        let (head, body) = response(b"HTTP/1.0 200 OK\r\n\r\nabc", 4096).unwrap();
        assert_eq!(
            (head.framing, head.keep_alive, body.as_slice()),
            (Framing::UntilClose, false, &b"abc"[..])
        );
        let (head, _) =
            response(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 1)
                .unwrap();
        assert!(!head.keep_alive);
        let (head, _) =
            response(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 1)
                .unwrap();
        assert!(head.keep_alive);
    }

    #[test]
    fn skips_interim_responses_and_accepts_bare_newlines() {
        let (head, body) = response(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 Bad Request\nContent-Length: 2\n\nno",
            4096,
        )
        .unwrap();
        assert_eq!(
            (head.status, head.reason.as_str(), body.as_slice()),
            (400, "Bad Request", &b"no"[..])
        );
        let (head, body) = response(b"HTTP/1.1 204 No Content\r\n\r\n", 1).unwrap();
        assert_eq!((head.status, body.len(), head.keep_alive), (204, 0, true));
    }

    #[test]
    fn rejects_oversized_bodies() {
        assert!(
            malformed_reason(b"HTTP/1.1 200 OK\r\nContent-Length: 4097\r\n\r\n")
                .contains("longer than 4096")
        );
        let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..3 {
            chunked.extend_from_slice(b"800\r\n");
            chunked.extend_from_slice(&[0; 0x800]);
            chunked.extend_from_slice(b"\r\n");
        }
        assert!(malformed_reason(&chunked).contains("longer than 4096"));
        let mut close = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
        close.resize(close.len() + 4097, b'x');
        assert!(malformed_reason(&close).contains("longer than 4096"));
    }

    #[test]
    fn rejects_malformed_heads() {
        assert!(malformed_reason(b"HTTP/2 200 OK\r\n\r\n").contains("HTTP/1.x"));
        assert!(malformed_reason(b"SSH-2.0-OpenSSH\r\n\r\n").contains("HTTP/1.x"));
        assert!(malformed_reason(b"HTTP/1.1 2000 OK\r\n\r\n").contains("status code"));
        assert!(malformed_reason(b"HTTP/1.1 20x OK\r\n\r\n").contains("status code"));
        assert!(malformed_reason(b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n").contains("colon"));
        assert!(malformed_reason(b"HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n").contains("folded"));
        assert!(
            malformed_reason(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")
                .contains("Content-Length")
        );
        assert!(
            malformed_reason(
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
            )
            .contains("conflicting")
        );
        assert!(
            malformed_reason(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
                .contains("Transfer-Encoding")
        );
        assert!(
            malformed_reason(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
            )
            .contains("both")
        );
        assert!(
            malformed_reason(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
                .contains("chunk size")
        );
        assert!(
            malformed_reason(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n")
                .contains("longer than its size")
        );
        let mut long = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        long.resize(long.len() + MAX_LINE + 10, b'a');
        assert!(malformed_reason(&long).contains("longer than"));
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for _ in 0..=MAX_HEADERS {
            many.extend_from_slice(b"X: y\r\n");
        }
        assert!(malformed_reason(&many).contains("header lines"));
    }

    #[test]
    fn reports_early_end_of_stream() {
        assert!(eof(b""));
        assert!(eof(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n"));
        assert!(eof(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n\x81\x00"));
        assert!(eof(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n\x81\x00"));
        assert!(eof(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"));
    }
}
