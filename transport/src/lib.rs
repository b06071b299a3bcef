#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod client;
mod error;
mod frame_check;
#[cfg(all(feature = "http", any(test, feature = "fuzzing")))]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "sim")]
pub mod sim;
mod url;
#[cfg(feature = "usb")]
pub mod usb;

use std::time::Duration;

pub use client::{
    Client, ClientError, ClientOptions, CredentialKind, Credentials, ExchangeEvent, Exposure,
    Observer, RawFrames, is_safe_to_repeat,
};
pub use error::{TransportError, UDEV_RULE_FILE};
pub use frame_check::{check_request, check_response};
#[cfg(feature = "http")]
pub use http::{ConnectorStatus, HttpTransport};
pub use url::{ConnectorUrl, DEFAULT_CONNECTOR_URL, DEFAULT_HTTP_CONNECTOR_URL, HttpUrl, UrlError};
#[cfg(feature = "usb")]
pub use usb::{
    UsbDeviceInfo, UsbOptions, UsbTransport, list_devices as list_usb_devices,
    list_serials as list_usb_serials,
};

/// Carries one request frame to a YubiHSM 2 and brings its response frame back.
///
/// Implementations check frame lengths both ways ([`check_request`], [`check_response`])
/// and never interpret the bytes: sessions and cryptography belong to the layer above,
/// which holds a `Box<dyn Transport>` (the trait is object safe and `Send`).
pub trait Transport: Send {
    /// Sends `request` (one whole frame) and returns the whole response frame.
    fn exchange(&mut self, request: &[u8]) -> Result<Vec<u8>, TransportError>;

    /// What this transport talks to, for messages: "USB device serial 12345678",
    /// "http://127.0.0.1:12345".
    fn describe(&self) -> String;

    /// Names the session the next requests belong to, for transports that can pass it
    /// on (yubihsm-connector receives it as the `YubiHSM-Session` header, 16 hex digits).
    /// `None` for requests outside a session. The default does nothing.
    fn set_session_tag(&mut self, _tag: Option<[u8; 8]>) {}
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn exchange(&mut self, request: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).exchange(request)
    }

    fn describe(&self) -> String {
        (**self).describe()
    }

    fn set_session_tag(&mut self, tag: Option<[u8; 8]>) {
        (**self).set_session_tag(tag);
    }
}

/// How long to wait. The defaults suit a device that generates an RSA-4096 key, which
/// takes tens of seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing a TCP connection to a connector.
    pub connect: Duration,
    /// One whole exchange: sending the request and receiving the complete response.
    pub exchange: Duration,
}

impl Timeouts {
    /// The exchange timeout used unless the caller chooses another.
    pub const DEFAULT_EXCHANGE: Duration = Duration::from_secs(120);
    /// The connect timeout used unless the caller chooses another.
    pub const DEFAULT_CONNECT: Duration = Duration::from_secs(10);
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { connect: Self::DEFAULT_CONNECT, exchange: Self::DEFAULT_EXCHANGE }
    }
}

/// Opens the transport a URL names. `sim:` URLs need the `sim` feature (the `yhsm`
/// binary enables it).
#[cfg_attr(
    not(any(feature = "usb", feature = "http")),
    allow(unused_variables, reason = "no transport built to use the timeouts")
)]
pub fn open(url: &ConnectorUrl, timeouts: Timeouts) -> Result<Box<dyn Transport>, TransportError> {
    match url {
        #[cfg(feature = "usb")]
        ConnectorUrl::Usb { serial } => {
            Ok(Box::new(usb::UsbTransport::open(*serial, usb::UsbOptions::new(timeouts))?))
        }
        #[cfg(not(feature = "usb"))]
        ConnectorUrl::Usb { .. } => Err(TransportError::Unsupported {
            what: "this build has no USB support (feature `usb`); use an http:// connector URL"
                .to_owned(),
        }),
        #[cfg(feature = "http")]
        ConnectorUrl::Http(h) => Ok(Box::new(http::HttpTransport::connect(h.clone(), timeouts)?)),
        #[cfg(not(feature = "http"))]
        ConnectorUrl::Http(_) => Err(TransportError::Unsupported {
            what: "this build has no HTTP connector support (feature `http`); use yhusb://"
                .to_owned(),
        }),
        #[cfg(feature = "sim")]
        ConnectorUrl::Sim { state_file } => {
            Ok(Box::new(sim::SimTransport::open(state_file.clone())?))
        }
        #[cfg(not(feature = "sim"))]
        ConnectorUrl::Sim { .. } => Err(TransportError::Unsupported {
            what: format!(
                "this build has no built-in simulator (feature `sim`), so {url} cannot be opened"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(feature = "sim"))]
    #[test]
    fn refuses_the_simulator_without_its_feature() {
        let url: ConnectorUrl = "sim:state".parse().unwrap();
        let Err(e) = open(&url, Timeouts::default()) else { panic!("opened {url}") };
        assert!(
            matches!(&e, TransportError::Unsupported { what } if what.contains("feature `sim`"))
        );
        assert!(!e.request_may_have_been_delivered());
    }

    #[cfg(feature = "sim")]
    #[test]
    fn opens_the_simulator_for_sim_urls() {
        let url: ConnectorUrl = "sim:".parse().unwrap();
        let mut t = open(&url, Timeouts::default()).unwrap();
        assert_eq!(
            t.exchange(&[0x01, 0x00, 0x02, 0xab, 0xcd]).unwrap(),
            [0x81, 0x00, 0x02, 0xab, 0xcd]
        );
        assert_eq!(t.describe(), "simulator (in memory)");
    }

    #[test]
    fn defaults_suit_slow_key_generation() {
        let t = Timeouts::default();
        assert!(t.exchange >= Duration::from_secs(60));
        assert!(t.connect < t.exchange);
    }
}
