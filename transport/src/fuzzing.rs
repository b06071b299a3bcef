//! The entry point of the `connector` fuzz target (`fuzz/`): what a yubihsm-connector (or
//! whoever answers in its place) and a user can send the transport layer: HTTP responses,
//! the connector's status page, and connector URLs (docs/PROTOCOL.md §1).
//!
//! A broken property panics: that is what a fuzzer detects. So this module is compiled
//! only for this crate's tests (which run it over the seeds and the saved regression
//! inputs in `fuzz/regressions/connector/`) and with the `fuzzing` feature, which only
//! the fuzz package turns on.

#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "a fuzz entry point reports a broken property by panicking"
)]

use std::fmt::Write as _;

use yhsm_proto::frame::MAX_FRAME_LEN;

use crate::ConnectorUrl;
use crate::http::ConnectorStatus;
use crate::http::wire::{self, Framing};

/// The first byte picks what the rest is:
///
/// - 0: an HTTP response to a frame: its head and body are read with the frame size
///   limit. A body never exceeds the limit, a `Content-Length` body has exactly that
///   length, a connection is kept alive only when the body's end is known, and the
///   frame check never panics;
/// - 1: the status page: what parses renders back to `key=value` lines that parse to the
///   same fields (values kept verbatim, control characters included: showing them
///   safely is the caller's job);
/// - 2: a connector URL: what parses prints as a URL that parses to the same connector,
///   and prints the same again.
pub fn connector(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 3 {
        0 => http_response(rest),
        1 => status_page(rest),
        _ => url(rest),
    }
}

fn http_response(data: &[u8]) {
    let mut reader = data;
    let Ok(head) = wire::read_head(&mut reader) else { return };
    assert!(!(100..200).contains(&head.status), "an interim response is skipped");
    if head.keep_alive {
        assert_ne!(head.framing, Framing::UntilClose, "keep-alive needs a known body end");
    }
    if let Ok(body) = wire::read_body(&mut reader, head.framing, MAX_FRAME_LEN) {
        assert!(body.len() <= MAX_FRAME_LEN, "a body of {} bytes", body.len());
        if let Framing::Length(n) = head.framing {
            assert_eq!(body.len(), n, "Content-Length");
        }
        let _ = crate::check_response(&body);
    }
}

fn status_page(data: &[u8]) {
    let Ok(status) = ConnectorStatus::parse(data) else { return };
    // CRLF line ends: only one `\r` is dropped per line, so a value may end in `\r`.
    let mut text = String::new();
    for (key, value) in status.fields() {
        let _ = write!(text, "{key}={value}\r\n");
    }
    assert_eq!(ConnectorStatus::parse(text.as_bytes()).as_ref(), Ok(&status), "status page");
    let _ = (status.has_device(), status.serial(), status.version());
}

fn url(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(url) = text.parse::<ConnectorUrl>() else { return };
    let printed = url.to_string();
    assert_eq!(printed.parse::<ConnectorUrl>().as_ref(), Ok(&url), "`{printed}` parses back");
    let again = printed.parse::<ConnectorUrl>().map(|u| u.to_string());
    assert_eq!(again.as_ref(), Ok(&printed), "`{printed}` prints the same");
}

#[cfg(test)]
mod tests;
