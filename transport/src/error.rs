//! The one error type of this crate. Each message says what failed and what to do about it.

use std::fmt;
use std::time::Duration;

use yhsm_proto::frame::MAX_FRAME_LEN;

use crate::url::UrlError;

/// The udev rule this project ships, named in permission errors.
pub const UDEV_RULE_FILE: &str = "packaging/70-yubihsm.rules";

/// Why a transport could not be opened or an exchange failed.
///
/// [`TransportError::request_may_have_been_delivered`] tells a caller whether the device
/// may have seen the request, which decides whether resending it is safe.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportError {
    /// The connector URL could not be parsed.
    Url(UrlError),
    /// This build or this function cannot open the connector (a feature compiled out,
    /// such as `sim` for `sim:` URLs).
    Unsupported { what: String },
    /// No YubiHSM 2 (USB 1050:0030) is attached.
    NoDevice,
    /// YubiHSM 2 devices are attached, none with the serial asked for.
    SerialNotFound { serial: u32, attached: Vec<String> },
    /// Several devices are attached and the URL does not say which one to use.
    SeveralDevices { serials: Vec<String> },
    /// The operating system refused access to the USB device.
    PermissionDenied { device: String },
    /// Another program (typically yubihsm-connector) holds the device's interface.
    Busy { device: String },
    /// No complete answer arrived in time.
    Timeout { after: Duration, request_sent: bool },
    /// The device or the connector went away in the middle of an exchange.
    Disconnected { detail: String, request_sent: bool },
    /// The response is not a well-formed frame (or the HTTP reply is not well-formed).
    Malformed { what: String },
    /// The request is longer than a frame may be; nothing was sent.
    RequestTooLong { len: usize },
    /// The request is not a frame (`cmd || len(2) || data` with a matching length).
    InvalidRequest { what: String },
    /// Another libusb failure.
    Usb { operation: &'static str, detail: String, request_sent: bool },
    /// The connector could not be reached (connection refused, unknown host, ...).
    ConnectorUnreachable { url: String, detail: String },
    /// The connector answers but reports that it has no device (`status=` is not `OK`).
    ConnectorNoDevice { url: String, status: String },
    /// The connector answered with an HTTP error status.
    Http { url: String, status: u16, reason: String },
}

impl TransportError {
    /// Whether the device may have received (and acted on) the request. `false` means
    /// it certainly did not, so sending the request again cannot run it twice.
    ///
    /// HTTP 4xx answers count as not delivered: yubihsm-connector checks the method, the
    /// Host header and the body length before it forwards anything to the device. 5xx
    /// answers count as delivered: the connector says so when forwarding failed part way.
    pub fn request_may_have_been_delivered(&self) -> bool {
        match self {
            Self::Timeout { request_sent, .. }
            | Self::Disconnected { request_sent, .. }
            | Self::Usb { request_sent, .. } => *request_sent,
            // Something answered, so the request got there.
            Self::Malformed { .. } => true,
            Self::Http { status, .. } => *status >= 500,
            Self::Url(_)
            | Self::Unsupported { .. }
            | Self::NoDevice
            | Self::SerialNotFound { .. }
            | Self::SeveralDevices { .. }
            | Self::PermissionDenied { .. }
            | Self::Busy { .. }
            | Self::RequestTooLong { .. }
            | Self::InvalidRequest { .. }
            | Self::ConnectorUnreachable { .. }
            | Self::ConnectorNoDevice { .. } => false,
        }
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() { "none".to_owned() } else { items.join(", ") }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(e) => e.fmt(f),
            Self::Unsupported { what } => f.write_str(what),
            Self::NoDevice => f.write_str(
                "no YubiHSM 2 found on USB (vendor 1050, product 0030); check that it is \
                 plugged in (`lsusb -d 1050:0030`), or use a connector URL such as \
                 http://127.0.0.1:12345 if yubihsm-connector serves it",
            ),
            Self::SerialNotFound { serial, attached } => write!(
                f,
                "no YubiHSM 2 with serial {serial} is attached (attached serials: {}); \
                 check the serial in yhusb://serial=N",
                list(attached)
            ),
            Self::SeveralDevices { serials } => write!(
                f,
                "several YubiHSM 2 devices are attached (serials: {}); choose one with \
                 yhusb://serial=N",
                list(serials)
            ),
            Self::PermissionDenied { device } => write!(
                f,
                "permission denied opening the YubiHSM 2 at {device}. Install the udev rule \
                 shipped as {UDEV_RULE_FILE}: `sudo cp {UDEV_RULE_FILE} /etc/udev/rules.d/ && \
                 sudo udevadm control --reload-rules && sudo udevadm trigger`, then unplug and \
                 replug the device (or run as root)"
            ),
            Self::Busy { device } => write!(
                f,
                "the YubiHSM 2 at {device} is in use by another program (often \
                 yubihsm-connector); stop it, or go through it with http://127.0.0.1:12345"
            ),
            Self::Timeout { after, request_sent } => {
                write!(f, "no answer within {} s", after.as_secs_f64())?;
                if *request_sent {
                    f.write_str(" after the request was sent; raise the timeout if the command is slow (RSA key generation can take a minute)")
                } else {
                    f.write_str(" while sending the request")
                }
            }
            Self::Disconnected { detail, request_sent } => {
                write!(f, "connection to the YubiHSM lost: {detail}")?;
                if *request_sent {
                    f.write_str(" (the request may have reached the device)")
                } else {
                    Ok(())
                }
            }
            Self::Malformed { what } => write!(f, "malformed response: {what}"),
            Self::RequestTooLong { len } => {
                write!(f, "request of {len} bytes is longer than a frame ({MAX_FRAME_LEN} bytes)")
            }
            Self::InvalidRequest { what } => write!(f, "invalid request frame: {what}"),
            Self::Usb { operation, detail, .. } => write!(f, "USB {operation} failed: {detail}"),
            Self::ConnectorUnreachable { url, detail } => write!(
                f,
                "cannot reach yubihsm-connector at {url}: {detail}; is it running and \
                 listening there?"
            ),
            Self::ConnectorNoDevice { url, status } => write!(
                f,
                "yubihsm-connector at {url} reports status={status}: it sees no YubiHSM 2; \
                 check that the device is plugged into the connector's machine"
            ),
            Self::Http { url, status, reason } => {
                write!(f, "yubihsm-connector at {url} answered HTTP {status}")?;
                if !reason.is_empty() {
                    write!(f, " ({reason})")?;
                }
                match status {
                    400 => f.write_str(
                        "; it refuses bodies shorter than 3 bytes or longer than its limit \
                         (older connectors stop at 2051 bytes, less than firmware 2.4 frames)",
                    )?,
                    403 => f.write_str("; it may only accept Host names in its allowlist")?,
                    // yubihsm-connector 3.0.7 answers 500 when its USB transfer to the
                    // device fails (tests/usb-e2e: unplugged mid-request).
                    500 => f.write_str(
                        "; it could not talk to the YubiHSM 2 over USB: check that the device \
                         is still plugged in, and the connector's log",
                    )?,
                    _ => {}
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Url(e) => Some(e),
            _ => None,
        }
    }
}

impl From<UrlError> for TransportError {
    fn from(e: UrlError) -> Self {
        Self::Url(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_denied_names_the_udev_rule() {
        let msg =
            TransportError::PermissionDenied { device: "bus 001 device 004".into() }.to_string();
        assert!(msg.contains("packaging/70-yubihsm.rules"), "{msg}");
        assert!(msg.contains("udevadm"), "{msg}");
        assert!(msg.contains("bus 001 device 004"), "{msg}");
    }

    #[test]
    fn several_devices_lists_serials_and_the_url_form() {
        let msg = TransportError::SeveralDevices { serials: vec!["12345678".into(), "7".into()] }
            .to_string();
        assert!(msg.contains("12345678, 7"), "{msg}");
        assert!(msg.contains("yhusb://serial=N"), "{msg}");
    }

    #[test]
    fn delivery_is_reported_per_kind() {
        let t =
            |request_sent| TransportError::Timeout { after: Duration::from_secs(1), request_sent };
        assert!(t(true).request_may_have_been_delivered());
        assert!(!t(false).request_may_have_been_delivered());
        let http =
            |status| TransportError::Http { url: String::new(), status, reason: String::new() };
        assert!(!http(400).request_may_have_been_delivered());
        assert!(http(500).request_may_have_been_delivered());
        assert!(
            TransportError::Malformed { what: String::new() }.request_may_have_been_delivered()
        );
        assert!(!TransportError::NoDevice.request_may_have_been_delivered());
        assert!(!TransportError::Busy { device: String::new() }.request_may_have_been_delivered());
        assert!(!TransportError::RequestTooLong { len: 5000 }.request_may_have_been_delivered());
    }

    #[test]
    fn http_errors_explain_the_status() {
        let http = |status: u16, reason: &str| {
            TransportError::Http { url: "http://h:1".into(), status, reason: reason.into() }
                .to_string()
        };
        assert_eq!(
            http(400, "Bad Request"),
            "yubihsm-connector at http://h:1 answered HTTP 400 (Bad Request); it refuses bodies \
             shorter than 3 bytes or longer than its limit (older connectors stop at 2051 bytes, \
             less than firmware 2.4 frames)"
        );
        assert!(http(403, "Forbidden").contains("allowlist"));
        assert!(http(500, "Internal Server Error").ends_with(
            "answered HTTP 500 (Internal Server Error); it could not talk to the YubiHSM 2 over \
             USB: check that the device is still plugged in, and the connector's log"
        ));
        assert_eq!(http(502, ""), "yubihsm-connector at http://h:1 answered HTTP 502");
    }
}
