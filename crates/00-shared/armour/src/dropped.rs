//! The one line a server logs when it drops a client whose read failed.

use std::fmt::Display;
use std::io;

use crate::is_timeout;

/// Why a read from a client failed, in the words a server logs before it drops that
/// client: `too_slow` (what the client did not do within its deadline) when the deadline
/// passed, else `read failed: <reason>` (the connection was reset, ...).
///
/// ```text
/// Err(e) => eprintln!("x-server: {peer}: {}; closing", why_dropped(&e, "too slow: ..."))
/// ```
pub fn why_dropped(e: &io::Error, too_slow: impl Display) -> String {
    if is_timeout(e) {
        too_slow.to_string()
    } else {
        format!("read failed: {}", lesson_cli::reason(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Deadline;

    #[test]
    fn a_timeout_is_too_slow_anything_else_a_failed_read() {
        let passed = Deadline::after(std::time::Duration::ZERO).remaining();
        let e = passed.unwrap_err();
        assert_eq!(why_dropped(&e, "too slow"), "too slow");
        let e = io::Error::from(io::ErrorKind::WouldBlock);
        assert_eq!(why_dropped(&e, "too slow"), "too slow");
        let reset = io::Error::from_raw_os_error(if cfg!(windows) { 10054 } else { 104 });
        assert_eq!(
            why_dropped(&reset, "too slow"),
            "read failed: Connection reset by peer"
        );
    }
}
