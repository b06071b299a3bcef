//! A device shared between threads (HTTP connections, in-process transports): sessions
//! belong to the device, each client is only a pipe to it.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::device::{Config, Device, Reply};
use crate::state::{self, StateError};

/// A [`Device`] behind a mutex; clones share the device.
#[derive(Clone, Debug)]
pub struct SharedDevice {
    inner: Arc<Mutex<Device>>,
}

impl SharedDevice {
    /// Shares `device`.
    pub fn new(device: Device) -> Self {
        Self { inner: Arc::new(Mutex::new(device)) }
    }

    /// Locks the device. A panic in another holder does not make it unusable: the device
    /// state is replaced whole or not at all by each command.
    pub fn lock(&self) -> MutexGuard<'_, Device> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Handles one request frame.
    pub fn handle(&self, request: &[u8]) -> Reply {
        self.lock().handle(request)
    }

    /// Handles one request frame and, when it changed the device and a state file is
    /// given, saves the state before the reply is released, so a reply the client sees is
    /// never ahead of what a restart would reload.
    pub fn handle_and_save(
        &self,
        request: &[u8],
        state_file: Option<&Path>,
    ) -> (Reply, Result<(), StateError>) {
        let mut device = self.lock();
        let reply = device.handle(request);
        let saved = match state_file {
            Some(path) if device.take_changed() => state::save(&device, path),
            _ => Ok(()),
        };
        (reply, saved)
    }

    /// The device saved in `state_file`, or a new one with `config` when the file does
    /// not exist yet (it is written at the first change).
    pub fn open_state(state_file: &Path, config: Config) -> Result<Self, OpenError> {
        let device = if state_file.exists() {
            state::load(state_file).map_err(OpenError::State)?
        } else {
            Device::new(config).map_err(OpenError::Random)?
        };
        Ok(Self::new(device))
    }

    /// A request-to-response function for front ends that only know frames (the USB
    /// gadget): a dropped or unplugged exchange answers nothing (an empty vector).
    pub fn frame_handler(&self) -> impl FnMut(&[u8]) -> Vec<u8> + Send + 'static {
        let device = self.clone();
        move |request| match device.handle(request) {
            Reply::Frame(f) => f,
            Reply::Dropped | Reply::Unplugged => Vec::new(),
        }
    }
}

/// Why a simulated device could not be opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError {
    /// The state file could not be read or is not a valid state file.
    State(StateError),
    /// The operating system's random generator failed (seeding the device).
    Random(getrandom::Error),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::State(e) => e.fmt(f),
            Self::Random(e) => write!(f, "cannot seed the simulator from the OS: {e}"),
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::State(e) => Some(e),
            Self::Random(_) => None,
        }
    }
}
