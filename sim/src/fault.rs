//! Fault injection for the reliability suite: make chosen exchanges fail the way a real
//! device, cable or connector can.
//!
//! A [`Fault`] pairs a [`Trigger`] (the n-th exchange since the device was made, counted
//! from 0, or a command code — the outer code, or the inner code of a session message)
//! with an [`Action`] and fires a set number of times.

use yhsm_proto::frame::{CommandCode, ErrorCode};

/// When a fault fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The exchange with this index (0 = the first request the device ever handled).
    Exchange(u64),
    /// Any request with this command code: an outer code (`create-session`, `echo`) or the
    /// inner command of a session message (`export-wrapped`).
    Command(CommandCode),
}

/// What a fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The device executes the command but the response is lost (a timeout for the host).
    DropResponse,
    /// The device executes the command and one byte of the response frame is flipped
    /// (XOR 0xff) at this offset (taken modulo the frame length).
    CorruptResponse { offset: usize },
    /// The command is not executed; the device answers with this error (inside the
    /// session envelope when the request was a session message).
    Error(ErrorCode),
    /// The session the request belongs to expires just before it is handled (every
    /// session, for a request outside one).
    ExpireSession,
    /// The device is unplugged before the request: this and every later exchange fails
    /// until [`crate::Device::replug`].
    Unplug,
}

/// A fault: trigger, action, and how many more times it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub trigger: Trigger,
    pub action: Action,
    /// Remaining firings; `None` fires forever.
    pub remaining: Option<u32>,
}

impl Fault {
    /// A fault that fires once.
    pub const fn once(trigger: Trigger, action: Action) -> Self {
        Self { trigger, action, remaining: Some(1) }
    }

    /// A fault that fires every time its trigger matches.
    pub const fn always(trigger: Trigger, action: Action) -> Self {
        Self { trigger, action, remaining: None }
    }
}

/// The faults armed on a device.
#[derive(Clone, Debug, Default)]
pub struct FaultPlan {
    faults: Vec<Fault>,
}

impl FaultPlan {
    /// Arms `fault`.
    pub fn add(&mut self, fault: Fault) {
        self.faults.push(fault);
    }

    /// Disarms every fault.
    pub fn clear(&mut self) {
        self.faults.clear();
    }

    /// Whether no fault is armed.
    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    /// The action of the first armed fault matching exchange `index` (`None`: match command
    /// triggers only) with command `code`, counting it as fired.
    pub fn fire(&mut self, index: Option<u64>, code: Option<CommandCode>) -> Option<Action> {
        let fault = self.faults.iter_mut().find(|f| {
            f.remaining != Some(0)
                && match f.trigger {
                    Trigger::Exchange(i) => Some(i) == index,
                    Trigger::Command(c) => Some(c) == code,
                }
        })?;
        if let Some(n) = fault.remaining.as_mut() {
            *n -= 1;
        }
        let action = fault.action;
        self.faults.retain(|f| f.remaining != Some(0));
        Some(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_faults_once_and_always_faults_forever() {
        let mut plan = FaultPlan::default();
        plan.add(Fault::once(Trigger::Exchange(3), Action::DropResponse));
        plan.add(Fault::always(Trigger::Command(CommandCode::ECHO), Action::Unplug));
        assert_eq!(plan.fire(Some(2), Some(CommandCode::GET_DEVICE_INFO)), None);
        assert_eq!(plan.fire(Some(3), None), Some(Action::DropResponse));
        assert_eq!(plan.fire(Some(3), None), None);
        assert_eq!(plan.fire(Some(4), Some(CommandCode::ECHO)), Some(Action::Unplug));
        assert_eq!(plan.fire(Some(5), Some(CommandCode::ECHO)), Some(Action::Unplug));
        plan.clear();
        assert!(plan.is_empty());
    }
}
