//! The built-in simulator as a transport (`sim:` and `sim:STATEFILE` connector URLs): frames
//! go to an in-process `yhsm-sim` device instead of a USB port or a connector.

use std::path::PathBuf;
use std::time::Duration;

use yhsm_sim::{Config, Reply, SharedDevice};

use crate::{Transport, TransportError, check_request};

/// An in-process simulated YubiHSM 2, optionally persisted to a state file after every
/// change (so `sim:FILE` behaves like one device across runs).
#[derive(Debug, Clone)]
pub struct SimTransport {
    device: SharedDevice,
    state_file: Option<PathBuf>,
}

impl SimTransport {
    /// A fresh factory-state device (`sim:`), or the device saved in `state_file`
    /// (`sim:FILE`; created at the first change when the file does not exist).
    pub fn open(state_file: Option<PathBuf>) -> Result<Self, TransportError> {
        let unavailable = |e: &dyn std::fmt::Display| TransportError::Unsupported {
            what: format!("the simulator could not start: {e}"),
        };
        let device = match &state_file {
            Some(path) => {
                SharedDevice::open_state(path, Config::default()).map_err(|e| unavailable(&e))?
            }
            None => SharedDevice::new(
                yhsm_sim::Device::new(Config::default()).map_err(|e| unavailable(&e))?,
            ),
        };
        Ok(Self { device, state_file })
    }

    /// A transport to a device the caller also holds (tests, fault injection).
    pub fn from_shared(device: SharedDevice) -> Self {
        Self { device, state_file: None }
    }

    /// The simulated device.
    pub fn device(&self) -> &SharedDevice {
        &self.device
    }
}

impl Transport for SimTransport {
    fn exchange(&mut self, request: &[u8]) -> Result<Vec<u8>, TransportError> {
        check_request(request)?;
        let (reply, saved) = self.device.handle_and_save(request, self.state_file.as_deref());
        if let Err(e) = saved {
            return Err(TransportError::Disconnected {
                detail: format!("the simulator could not save its state: {e}"),
                request_sent: true,
            });
        }
        match reply {
            Reply::Frame(frame) => Ok(frame),
            // A response the fault plan dropped: to the client it is a timeout.
            Reply::Dropped => {
                Err(TransportError::Timeout { after: Duration::ZERO, request_sent: true })
            }
            Reply::Unplugged => Err(TransportError::Disconnected {
                detail: "the simulated device was unplugged".to_owned(),
                request_sent: true,
            }),
        }
    }

    fn describe(&self) -> String {
        match &self.state_file {
            Some(p) => format!("simulator (state file {})", p.display()),
            None => "simulator (in memory)".to_owned(),
        }
    }
}
