//! Connector URLs (docs/PROTOCOL.md §1.3): the one place that parses `yhusb://[serial=N]`,
//! `http://host[:port][/prefix]` and `sim:[STATEFILE]`.
//!
//! USB: options after `yhusb://` are `&`-separated; `serial=N` takes decimal digits
//! (leading zeros allowed, compared as a number); other options are ignored, as Yubico's
//! clients do. HTTP: a missing port means 80, as in libyubihsm (libcurl) and
//! python-yubihsm (requests); yubihsm-connector itself listens on 12345 by default, so
//! the usual URL is `http://127.0.0.1:12345`.

use std::fmt;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::str::FromStr;

/// The connector used when none is given: the first (only) YubiHSM 2 on USB.
pub const DEFAULT_CONNECTOR_URL: &str = "yhusb://";

/// The address yubihsm-connector listens on by default.
pub const DEFAULT_HTTP_CONNECTOR_URL: &str = "http://127.0.0.1:12345";

/// Where the YubiHSM is reached.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConnectorUrl {
    /// Directly on USB; `serial: None` takes the only attached device.
    Usb { serial: Option<u32> },
    /// Through yubihsm-connector's HTTP API.
    Http(HttpUrl),
    /// The software simulator; its state lives in `state_file` when given.
    Sim { state_file: Option<PathBuf> },
}

impl Default for ConnectorUrl {
    /// `yhusb://`, [`DEFAULT_CONNECTOR_URL`].
    fn default() -> Self {
        Self::Usb { serial: None }
    }
}

/// A yubihsm-connector base URL: `http://host:port` followed by an optional path prefix
/// under which `/connector/api` and `/connector/status` live.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HttpUrl {
    /// A host name, an IPv4 address, or an IPv6 address (without brackets).
    pub host: String,
    pub port: u16,
    /// Empty, or starting with `/` and not ending with `/`.
    pub path_prefix: String,
}

impl HttpUrl {
    /// The `Host` header value (and the authority of the URL).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The request target for `path` (which starts with `/`) under the prefix.
    pub fn target(&self, path: &str) -> String {
        format!("{}{path}", self.path_prefix)
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority(), self.path_prefix)
    }
}

impl fmt::Display for ConnectorUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usb { serial: None } => f.write_str("yhusb://"),
            Self::Usb { serial: Some(s) } => write!(f, "yhusb://serial={s}"),
            Self::Http(h) => h.fmt(f),
            Self::Sim { state_file: None } => f.write_str("sim:"),
            Self::Sim { state_file: Some(p) } => write!(f, "sim:{}", p.display()),
        }
    }
}

/// A connector URL that could not be parsed; it names the URL and the part at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlError {
    pub url: String,
    pub reason: String,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connector URL `{}`: {}", self.url, self.reason)
    }
}

impl std::error::Error for UrlError {}

const FORMS: &str =
    "expected yhusb://, yhusb://serial=N, http://HOST:PORT[/PREFIX] or sim:[STATEFILE]";

impl FromStr for ConnectorUrl {
    type Err = UrlError;

    fn from_str(url: &str) -> Result<Self, UrlError> {
        let err = |reason: String| UrlError { url: url.to_owned(), reason };
        let Some((scheme, rest)) = url.split_once(':') else {
            return Err(err(format!("no scheme; {FORMS}")));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "yhusb" => {
                let opts = rest.strip_prefix("//").ok_or_else(|| {
                    err("a USB connector is written yhusb:// or yhusb://serial=N".to_owned())
                })?;
                parse_usb_options(opts).map(|serial| Self::Usb { serial }).map_err(err)
            }
            "http" => {
                let rest = rest.strip_prefix("//").ok_or_else(|| {
                    err("an HTTP connector is written http://HOST:PORT".to_owned())
                })?;
                parse_http(rest).map(Self::Http).map_err(err)
            }
            "https" => {
                Err(err("https is not supported: this build carries no TLS stack. Reach a remote \
                 yubihsm-connector through an SSH tunnel (`ssh -L 12345:127.0.0.1:12345 HOST`, \
                 then http://127.0.0.1:12345), or run yhsm on the machine the YubiHSM is \
                 plugged into with yhusb://"
                    .to_owned()))
            }
            "sim" => Ok(Self::Sim {
                state_file: if rest.is_empty() { None } else { Some(PathBuf::from(rest)) },
            }),
            _ => Err(err(format!("unknown scheme `{scheme}`; {FORMS}"))),
        }
    }
}

/// The `serial=` option of a `yhusb://` URL; other options are ignored.
fn parse_usb_options(opts: &str) -> Result<Option<u32>, String> {
    let mut serial = None;
    for opt in opts.split('&') {
        let Some(value) = opt.strip_prefix("serial=") else { continue };
        if serial.is_some() {
            return Err("serial= is given more than once".to_owned());
        }
        serial = Some(parse_serial(value)?);
    }
    Ok(serial)
}

/// A serial as the user writes it: decimal digits, leading zeros allowed.
fn parse_serial(value: &str) -> Result<u32, String> {
    if value.is_empty() {
        return Err("serial= is empty; write the device's decimal serial, e.g. \
                    yhusb://serial=12345678"
            .to_owned());
    }
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "serial must be decimal digits, got `{value}` (YubiHSM serials are decimal, as \
             printed on the device and by `yhsm list`)"
        ));
    }
    value.parse().map_err(|_| format!("serial `{value}` is larger than any YubiHSM serial"))
}

/// A serial number string as a device reports it, when it is decimal digits.
#[cfg_attr(
    not(feature = "usb"),
    allow(dead_code, reason = "only USB devices report serial strings")
)]
pub(crate) fn device_serial(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn parse_http(rest: &str) -> Result<HttpUrl, String> {
    if let Some(c) = rest.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("contains the character {c:?}"));
    }
    if rest.contains(['?', '#']) {
        return Err("a query (?) or fragment (#) has no meaning for a connector".to_owned());
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err("user names or passwords in the URL are not supported".to_owned());
    }
    let (host, port) = split_host_port(authority)?;
    let port = match port {
        None => 80,
        Some("") => return Err("the port after `:` is empty".to_owned()),
        Some(p) => Some(p)
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("port `{p}` is not a number from 1 to 65535"))?,
    };
    let prefix = path.trim_end_matches('/');
    for tail in ["/connector/api", "/connector/status"] {
        if prefix.ends_with(tail) {
            return Err(format!(
                "give the connector's base URL, without `{tail}` (it is added for each request)"
            ));
        }
    }
    Ok(HttpUrl { host, port, path_prefix: prefix.to_owned() })
}

fn split_host_port(authority: &str) -> Result<(String, Option<&str>), String> {
    if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) =
            v6.split_once(']').ok_or_else(|| "`[` without a closing `]`".to_owned())?;
        addr.parse::<Ipv6Addr>().map_err(|_| format!("`{addr}` is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("unexpected `{p}` after the IPv6 address"))?,
            ),
        };
        return Ok((addr.to_owned(), port));
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err("the host is empty".to_owned());
    }
    if let Some(c) = host.chars().find(|c| !(c.is_ascii_alphanumeric() || "-._".contains(*c))) {
        return Err(format!("the host `{host}` contains {c:?}"));
    }
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ConnectorUrl {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn reason(s: &str) -> String {
        match s.parse::<ConnectorUrl>() {
            Ok(u) => panic!("{s} parsed as {u:?}"),
            Err(e) => {
                assert_eq!(e.url, s);
                e.reason
            }
        }
    }

    fn http(host: &str, port: u16, prefix: &str) -> ConnectorUrl {
        ConnectorUrl::Http(HttpUrl { host: host.into(), port, path_prefix: prefix.into() })
    }

    #[test]
    fn parses_usb_urls() {
        assert_eq!(parse("yhusb://"), ConnectorUrl::Usb { serial: None });
        assert_eq!(parse("yhusb://serial=12345678"), ConnectorUrl::Usb { serial: Some(12345678) });
        assert_eq!(
            parse("yhusb://serial=0012345678"),
            ConnectorUrl::Usb { serial: Some(12345678) }
        );
        assert_eq!(parse("YHUSB://serial=7"), ConnectorUrl::Usb { serial: Some(7) });
        assert_eq!(parse("yhusb://serial=7&timeout=3"), ConnectorUrl::Usb { serial: Some(7) });
        assert_eq!(parse("yhusb://foo=bar&serial=9"), ConnectorUrl::Usb { serial: Some(9) });
        assert_eq!(parse("yhusb://foo&&bar"), ConnectorUrl::Usb { serial: None });
        assert_eq!(
            parse("yhusb://serial=4294967295"),
            ConnectorUrl::Usb { serial: Some(u32::MAX) }
        );
        assert_eq!(ConnectorUrl::default(), parse(DEFAULT_CONNECTOR_URL));
    }

    #[test]
    fn rejects_bad_usb_serials() {
        assert!(reason("yhusb://serial=0x10").contains("decimal digits"));
        assert!(reason("yhusb://serial=abc").contains("`abc`"));
        assert!(reason("yhusb://serial=12a").contains("decimal digits"));
        assert!(reason("yhusb://serial=+12").contains("decimal digits"));
        assert!(reason("yhusb://serial=-1").contains("decimal digits"));
        assert!(reason("yhusb://serial= 1").contains("decimal digits"));
        assert!(reason("yhusb://serial=").contains("empty"));
        assert!(reason("yhusb://serial=4294967296").contains("larger"));
        assert!(reason("yhusb://serial=1&serial=2").contains("more than once"));
        assert!(reason("yhusb:serial=1").contains("yhusb://"));
    }

    #[test]
    fn parses_http_urls() {
        assert_eq!(parse("http://127.0.0.1:12345"), http("127.0.0.1", 12345, ""));
        assert_eq!(parse("http://127.0.0.1:12345/"), http("127.0.0.1", 12345, ""));
        assert_eq!(
            parse("HTTP://hsm.example:8080/yubi/hsm/"),
            http("hsm.example", 8080, "/yubi/hsm")
        );
        assert_eq!(parse("http://localhost"), http("localhost", 80, ""));
        assert_eq!(parse("http://[::1]:12345/p"), http("::1", 12345, "/p"));
        assert_eq!(parse("http://[::1]"), http("::1", 80, ""));
        assert_eq!(parse(DEFAULT_HTTP_CONNECTOR_URL), http("127.0.0.1", 12345, ""));
    }

    #[test]
    fn rejects_bad_http_urls() {
        assert!(reason("https://127.0.0.1:12345").contains("SSH tunnel"));
        assert!(reason("http://127.0.0.1:").contains("empty"));
        assert!(reason("http://127.0.0.1:0").contains("1 to 65535"));
        assert!(reason("http://127.0.0.1:65536").contains("1 to 65535"));
        assert!(reason("http://127.0.0.1:12x").contains("`12x`"));
        assert!(reason("http://127.0.0.1:+80").contains("`+80`"));
        assert!(reason("http://:12345").contains("host is empty"));
        assert!(reason("http://").contains("host is empty"));
        assert!(reason("http://user:pw@host:1").contains("passwords"));
        assert!(reason("http://host:1/a?b").contains("query"));
        assert!(reason("http://ho st:1").contains("' '"));
        assert!(reason("http://host:1/a\r\nX: y").contains("'\\r'"));
        assert!(reason("http://ho%st:1").contains("'%'"));
        assert!(reason("http://[::1:12345").contains("closing"));
        assert!(reason("http://[zz]:1").contains("IPv6"));
        assert!(reason("http://[::1]x").contains("unexpected"));
        assert!(reason("http://h:1/connector/api").contains("without `/connector/api`"));
        assert!(reason("http:h").contains("http://HOST:PORT"));
    }

    #[test]
    fn parses_sim_urls() {
        assert_eq!(parse("sim:"), ConnectorUrl::Sim { state_file: None });
        assert_eq!(
            parse("sim:/tmp/state.json"),
            ConnectorUrl::Sim { state_file: Some(PathBuf::from("/tmp/state.json")) }
        );
        assert_eq!(
            parse("sim:rel/dir:with:colons"),
            ConnectorUrl::Sim { state_file: Some(PathBuf::from("rel/dir:with:colons")) }
        );
    }

    #[test]
    fn rejects_unknown_schemes_listing_the_forms() {
        assert!(reason("ftp://x").contains("unknown scheme `ftp`"));
        assert!(reason("ftp://x").contains("yhusb://serial=N"));
        assert!(reason("localhost").contains("no scheme"));
        assert!(reason("").contains("no scheme"));
    }

    #[test]
    fn round_trips_through_display() {
        for s in [
            "yhusb://",
            "yhusb://serial=12345678",
            "http://127.0.0.1:12345",
            "http://hsm.example:80/a/b",
            "http://[::1]:12345/p",
            "sim:",
            "sim:state.json",
        ] {
            let u = parse(s);
            assert_eq!(u.to_string(), s);
            assert_eq!(parse(&u.to_string()), u);
        }
        assert_eq!(parse("yhusb://serial=007&x=1").to_string(), "yhusb://serial=7");
        assert_eq!(parse("http://h").to_string(), "http://h:80");
    }

    #[test]
    fn device_serials_compare_as_numbers() {
        assert_eq!(device_serial("0012345678"), Some(12345678));
        assert_eq!(device_serial("12345678"), Some(12345678));
        assert_eq!(device_serial(""), None);
        assert_eq!(device_serial("+1"), None);
        assert_eq!(device_serial("ABC"), None);
        assert_eq!(device_serial("99999999999"), None);
    }

    #[test]
    fn builds_targets_under_the_prefix() {
        let ConnectorUrl::Http(h) = parse("http://[::1]:5/pre") else { panic!() };
        assert_eq!(h.authority(), "[::1]:5");
        assert_eq!(h.target("/connector/api"), "/pre/connector/api");
    }
}
