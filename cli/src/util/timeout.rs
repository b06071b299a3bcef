//! How long yhsm waits for the device, and what it does when the device stops answering
//! (issue 10 §6): `--timeout SECONDS` (or [`TIMEOUT_ENV`]) bounds one exchange, and
//! [`StallGuard`] ends a run after [`STALLED_AFTER`] exchanges in a row that got no
//! answer, so that a connector that stops answering ends a restore within two timeouts
//! instead of one per retry the layers above would make.
//!
//! Why two: a single lost answer is survivable (the restore engine settles a write whose
//! answer was lost by looking at the device, and the client repeats a read on a new
//! session), and that look is the second exchange. When it gets no answer either, the
//! device is not answering: every later exchange would only wait the same timeout again.

use std::error::Error as StdError;
use std::time::Duration;

use yhsm_transport::{Timeouts, Transport, TransportError};

use crate::error::Error;

/// The environment variable `--timeout` may be given in.
pub const TIMEOUT_ENV: &str = "YHSM_TIMEOUT";

/// The longest timeout accepted: an hour (RSA-4096 generation takes about a minute).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// Exchanges in a row without an answer after which the device counts as stalled.
pub const STALLED_AFTER: u32 = 2;

/// What `--timeout` takes, for messages.
pub const TIMEOUT_EXPECTED: &str = "seconds, more than 0 and at most 3600 (e.g. 30 or 0.5)";

/// Parses `--timeout`'s value: seconds, decimals allowed, more than 0 and at most
/// [`MAX_TIMEOUT`].
pub fn parse_seconds(text: &str) -> Option<Duration> {
    let seconds: f64 = text.trim().parse().ok()?;
    if !seconds.is_finite() || seconds <= 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(seconds).ok().filter(|d| *d <= MAX_TIMEOUT && !d.is_zero())
}

/// The transport timeouts for an exchange timeout (`None`: the defaults, long enough for
/// RSA-4096 key generation). Connecting never waits longer than an exchange would.
pub fn timeouts(exchange: Option<Duration>) -> Timeouts {
    match exchange {
        None => Timeouts::default(),
        Some(exchange) => Timeouts { connect: Timeouts::DEFAULT_CONNECT.min(exchange), exchange },
    }
}

/// A transport that stops waiting once the device stopped answering: after
/// [`STALLED_AFTER`] exchanges in a row ended in [`TransportError::Timeout`], every
/// further exchange fails at once, without sending anything. An exchange that gets any
/// answer (or fails otherwise) starts the count again.
pub struct StallGuard {
    inner: Box<dyn Transport>,
    exchange_timeout: Duration,
    timeouts_in_a_row: u32,
}

impl std::fmt::Debug for StallGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StallGuard")
            .field("inner", &self.inner.describe())
            .field("exchange_timeout", &self.exchange_timeout)
            .field("timeouts_in_a_row", &self.timeouts_in_a_row)
            .finish()
    }
}

impl StallGuard {
    pub fn new(inner: Box<dyn Transport>, exchange_timeout: Duration) -> Self {
        Self { inner, exchange_timeout, timeouts_in_a_row: 0 }
    }

    fn stalled(&self) -> TransportError {
        TransportError::Disconnected {
            detail: format!(
                "the YubiHSM stopped answering ({STALLED_AFTER} exchanges in a row had no answer \
                 within {} s); nothing more was sent",
                self.exchange_timeout.as_secs_f64()
            ),
            request_sent: false,
        }
    }
}

impl Transport for StallGuard {
    fn exchange(&mut self, request: &[u8]) -> Result<Vec<u8>, TransportError> {
        if self.timeouts_in_a_row >= STALLED_AFTER {
            return Err(self.stalled());
        }
        let result = self.inner.exchange(request);
        match &result {
            Err(TransportError::Timeout { .. }) => self.timeouts_in_a_row += 1,
            _ => self.timeouts_in_a_row = 0,
        }
        result
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn set_session_tag(&mut self, tag: Option<[u8; 8]>) {
        self.inner.set_session_tag(tag);
    }
}

/// Whether a transport timeout (or a stall) is among the causes of `e`.
pub fn timed_out(e: &Error) -> bool {
    let mut next: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(cause) = next {
        if let Some(t) = cause.downcast_ref::<TransportError>() {
            match t {
                TransportError::Timeout { .. } => return true,
                TransportError::Disconnected { detail, .. }
                    if detail.starts_with("the YubiHSM stopped answering") =>
                {
                    return true;
                }
                _ => {}
            }
        }
        next = cause.source();
    }
    false
}

/// What to do about a device that did not answer in time.
pub const TIMEOUT_HINT: &str = "the device did not answer in time: check the cable or the \
    connector; if the device is only slow (RSA-4096 key generation takes about a minute), \
    raise the wait with --timeout SECONDS (or the YHSM_TIMEOUT environment variable)";

/// The hint to show with `e` when a timeout is among its causes: its own hint (which
/// says what state the work was left in), then [`TIMEOUT_HINT`]. `None` when no timeout
/// is among its causes, or its hint already names `--timeout`.
pub fn hint(e: &Error) -> Option<String> {
    if !timed_out(e) {
        return None;
    }
    match e.hint() {
        Some(own) if own.contains("--timeout") => None,
        Some(own) => Some(format!("{own}; {TIMEOUT_HINT}")),
        None => Some(TIMEOUT_HINT.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_seconds_within_range() {
        assert_eq!(parse_seconds("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_seconds("0.25"), Some(Duration::from_millis(250)));
        assert_eq!(parse_seconds("3600"), Some(MAX_TIMEOUT));
        for bad in ["0", "-1", "3601", "nan", "inf", "", "1e400", "ten", "0.0000000001"] {
            assert_eq!(parse_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn connecting_never_waits_longer_than_an_exchange() {
        assert_eq!(timeouts(None), Timeouts::default());
        let t = timeouts(Some(Duration::from_millis(200)));
        assert_eq!(
            (t.connect, t.exchange),
            (Duration::from_millis(200), Duration::from_millis(200))
        );
        let t = timeouts(Some(Duration::from_secs(600)));
        assert_eq!(t.connect, Timeouts::DEFAULT_CONNECT);
    }

    /// Answers from a script, counting the exchanges that reached it.
    struct Script {
        answers: Vec<Result<Vec<u8>, TransportError>>,
        reached: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Transport for Script {
        fn exchange(&mut self, _: &[u8]) -> Result<Vec<u8>, TransportError> {
            self.reached.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if self.answers.is_empty() {
                return Err(TransportError::Timeout { after: Duration::ZERO, request_sent: true });
            }
            self.answers.remove(0)
        }

        fn describe(&self) -> String {
            "script".to_owned()
        }
    }

    #[test]
    fn stops_after_two_timeouts_in_a_row_and_not_before() {
        let timeout = || Err(TransportError::Timeout { after: Duration::ZERO, request_sent: true });
        let reached = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        // One lost answer, then an answer: the count starts again.
        let answers = vec![timeout(), Ok(vec![1]), timeout(), Ok(vec![2])];
        let mut guard = StallGuard::new(
            Box::new(Script { answers, reached: reached.clone() }),
            Duration::from_secs(2),
        );
        let got: Vec<bool> = (0..4).map(|_| guard.exchange(&[0]).is_ok()).collect();
        assert_eq!(got, [false, true, false, true]);
        // Then it stops answering: two waits, and then nothing more is sent.
        for _ in 0..5 {
            let _ = guard.exchange(&[0]);
        }
        assert_eq!(reached.load(std::sync::atomic::Ordering::SeqCst), 6);
        let e = guard.exchange(&[0]).unwrap_err();
        assert!(!e.request_may_have_been_delivered());
        assert!(e.to_string().contains("stopped answering"), "{e}");
        assert!(e.to_string().contains("within 2 s"), "{e}");
    }

    #[test]
    fn names_the_option_when_a_timeout_is_a_cause() {
        let client = yhsm_transport::ClientError::Transport {
            command: yhsm_proto::frame::CommandCode::LIST_OBJECTS,
            source: TransportError::Timeout { after: Duration::from_secs(1), request_sent: true },
        };
        let e = Error::failure("cannot list").with_source(client).with_hint("run again");
        let hint = hint(&e).unwrap();
        assert!(hint.starts_with("run again; "), "{hint}");
        assert!(hint.contains("--timeout SECONDS") && hint.contains(TIMEOUT_ENV), "{hint}");
        assert_eq!(super::hint(&Error::failure("cannot read").with_hint("x")), None);
    }
}
