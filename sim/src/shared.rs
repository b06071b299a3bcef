//! A device shared between threads (HTTP connections, in-process transports): sessions
//! belong to the device, each client is only a pipe to it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::device::{Device, Reply};

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
