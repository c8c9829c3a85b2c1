//! Accepting on a non-blocking listener.

use std::io;

use crate::AcceptBackoff;

impl AcceptBackoff {
    /// [`check`](AcceptBackoff::check) for a non-blocking listener (`set_nonblocking`),
    /// whose `accept` fails with WouldBlock when nobody is waiting to be accepted. That is
    /// the non-blocking "not now", not a failure: `None` at once, with no line and no wait.
    pub fn check_nonblocking<T>(&mut self, program: &str, accepted: io::Result<T>) -> Option<T> {
        match accepted {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            accepted => self.check(program, accepted),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn would_block_is_no_failure_and_costs_no_wait() {
        let mut b = AcceptBackoff::default();
        let start = Instant::now();
        for _ in 0..200 {
            let nobody = Err::<u8, _>(io::Error::from(io::ErrorKind::WouldBlock));
            assert_eq!(b.check_nonblocking("t", nobody), None);
        }
        // A failure waits at least 10 ms: 200 of them would take 2 s or more.
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(b.check_nonblocking("t", Ok(7)), Some(7));
    }

    #[test]
    fn other_errors_go_through_the_backoff() {
        let mut b = AcceptBackoff::default();
        let start = Instant::now();
        let failed = Err::<u8, _>(io::Error::other("x"));
        assert_eq!(b.check_nonblocking("t", failed), None);
        assert!(start.elapsed() >= Duration::from_millis(10));
    }
}
