//! Session slots (docs/PROTOCOL.md §3.8 "Limits": 16 sessions, ids 0–15, 30 s idle timeout).
//!
//! A slot is taken at CREATE_SESSION and holds the handshake until AUTHENTICATE_SESSION
//! (asymmetric sessions are authenticated at once). Idle slots are freed lazily: every
//! request first sweeps the slots against the clock.

use std::time::Duration;

use yhsm_proto::scp03::{DeviceHandshake, DeviceSession};

use crate::store::Authority;

/// Session slots a device has.
pub const SLOTS: usize = 16;
/// A session idle for longer than this is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// One session slot.
#[derive(Debug, Default)]
pub enum Slot {
    #[default]
    Free,
    /// CREATE_SESSION answered; AUTHENTICATE_SESSION expected.
    Pending { handshake: Box<DeviceHandshake>, authority: Authority, last_used: Duration },
    /// Authenticated.
    Open { session: Box<DeviceSession>, authority: Authority, last_used: Duration },
}

impl Slot {
    fn last_used(&self) -> Option<Duration> {
        match self {
            Self::Free => None,
            Self::Pending { last_used, .. } | Self::Open { last_used, .. } => Some(*last_used),
        }
    }
}

/// The sixteen slots.
#[derive(Debug)]
pub struct Sessions {
    slots: Vec<Slot>,
}

impl Default for Sessions {
    fn default() -> Self {
        Self { slots: (0..SLOTS).map(|_| Slot::Free).collect() }
    }
}

impl Sessions {
    /// Frees every slot idle for more than [`IDLE_TIMEOUT`] at `now`.
    pub fn expire(&mut self, now: Duration) {
        for slot in &mut self.slots {
            if slot.last_used().is_some_and(|t| now.saturating_sub(t) > IDLE_TIMEOUT) {
                *slot = Slot::Free;
            }
        }
    }

    /// The lowest free slot, if any.
    pub fn free_slot(&self) -> Option<u8> {
        let i = self.slots.iter().position(|s| matches!(s, Slot::Free))?;
        u8::try_from(i).ok()
    }

    /// Slot `id` (None for ids above 15).
    pub fn get_mut(&mut self, id: u8) -> Option<&mut Slot> {
        self.slots.get_mut(usize::from(id))
    }

    /// Takes slot `id`'s content, leaving it free.
    pub fn take(&mut self, id: u8) -> Slot {
        self.get_mut(id).map(std::mem::take).unwrap_or_default()
    }

    /// Puts `slot` in place `id`.
    pub fn put(&mut self, id: u8, slot: Slot) {
        if let Some(s) = self.get_mut(id) {
            *s = slot;
        }
    }

    /// Frees slot `id`.
    pub fn close(&mut self, id: u8) {
        self.put(id, Slot::Free);
    }

    /// Frees every slot (reset, reboot).
    pub fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = Slot::Free);
    }

    /// Number of slots in use.
    pub fn in_use(&self) -> usize {
        self.slots.iter().filter(|s| !matches!(s, Slot::Free)).count()
    }

    /// Ids of the slots in use.
    pub fn active_ids(&self) -> Vec<u8> {
        (0u8..).zip(&self.slots).filter(|(_, s)| !matches!(s, Slot::Free)).map(|(i, _)| i).collect()
    }
}
