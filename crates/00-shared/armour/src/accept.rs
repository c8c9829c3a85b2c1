//! Accepting with back-off.

use std::io;
use std::thread;
use std::time::Duration;

/// What an accept loop does when `accept` fails. The usual cause is running out of file
/// descriptors (EMFILE): the pending connection stays in the queue, so retrying at once
/// fails again at once and the loop spins at 100% CPU. Instead, wait before the next try,
/// twice as long after each failure in a row (10 ms up to 1 s), and log one line when the
/// failures start and one when accept works again, not one per failure.
///
/// ```text
/// let mut backoff = AcceptBackoff::default();
/// loop {
///     let Some((stream, addr)) = backoff.check("x-server", listener.accept()) else { continue };
///     ...
/// }
/// ```
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    /// The longest wait between two tries.
    pub const MAX_WAIT: Duration = Duration::from_secs(1);

    /// The result of one `accept` (or of one item of `incoming()`): `Some` of what it
    /// accepted, or, after it failed, `None` once the back-off has waited.
    pub fn check<T>(&mut self, program: &str, accepted: io::Result<T>) -> Option<T> {
        match accepted {
            Ok(value) => {
                self.succeeded(program);
                Some(value)
            }
            Err(e) => {
                self.failed(program, &e);
                None
            }
        }
    }

    /// Logs (the first failure of a run only) and waits before the next try.
    pub fn failed(&mut self, program: &str, e: &io::Error) {
        if self.failures == 0 {
            eprintln!(
                "{program}: accept failed: {}; retrying, waiting up to {} ms between tries",
                lesson_cli::reason(e),
                Self::MAX_WAIT.as_millis()
            );
        }
        let wait = Self::wait(self.failures);
        self.failures = self.failures.saturating_add(1);
        thread::sleep(wait);
    }

    /// Call after each accept that worked: logs the end of a run of failures.
    pub fn succeeded(&mut self, program: &str) {
        if self.failures > 0 {
            eprintln!(
                "{program}: accept works again after {} failed tries",
                self.failures
            );
            self.failures = 0;
        }
    }

    /// The wait after `failures` failures in a row: 10 ms, 20 ms, 40 ms, ... up to 1 s.
    fn wait(failures: u32) -> Duration {
        let ms = 10u64.saturating_mul(1u64 << failures.min(7));
        Duration::from_millis(ms).min(Self::MAX_WAIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_backoff_doubles_up_to_a_second() {
        let waits: Vec<u64> = (0..10)
            .map(|n| AcceptBackoff::wait(n).as_millis() as u64)
            .collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        assert_eq!(AcceptBackoff::wait(u32::MAX), AcceptBackoff::MAX_WAIT);
    }

    #[test]
    fn accept_backoff_counts_failures_and_resets() {
        let mut b = AcceptBackoff::default();
        assert_eq!(b.check::<u8>("t", Err(io::Error::other("x"))), None);
        assert_eq!(b.check::<u8>("t", Err(io::Error::other("x"))), None);
        assert_eq!(b.failures, 2);
        assert_eq!(b.check("t", Ok(7)), Some(7));
        assert_eq!(b.failures, 0);
    }
}
