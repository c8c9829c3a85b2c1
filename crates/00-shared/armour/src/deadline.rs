//! A time limit for a whole request or a whole answer.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A time limit for a whole request (or a whole answer), not for one read or one write.
/// A socket's read timeout alone restarts with every read, so a peer sending one byte a
/// second would never meet it; a write timeout alone restarts with every write, and
/// `write_all` makes as many writes as the kernel takes pieces. So before each read or
/// write, the socket's timeout is set to what is left of the deadline:
///
/// ```text
/// let mut client = Deadline::after(limit).on(&stream); // when the request starts
/// let n = client.read(&mut buf)?;                       // std's read, deadline armed
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Deadline(Instant);

impl Deadline {
    /// The deadline `limit` from now.
    pub fn after(limit: Duration) -> Deadline {
        Deadline(Instant::now() + limit)
    }

    /// The time left (at least 1 ms, since `set_read_timeout` refuses zero), or a
    /// `TimedOut` error once the deadline has passed, which `is_timeout` recognises.
    pub fn remaining(&self) -> io::Result<Duration> {
        let left = self.0.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"))
        } else {
            Ok(left.max(Duration::from_millis(1)))
        }
    }

    /// `stream` with this deadline armed before every read and every write.
    pub fn on(self, stream: &TcpStream) -> Within<'_> {
        Within {
            stream,
            deadline: self,
        }
    }
}

/// A stream whose reads and writes all end by one deadline (see [`Deadline::on`]). A
/// read or write that runs out of time fails with an error that `is_timeout` recognises.
#[derive(Debug)]
pub struct Within<'a> {
    stream: &'a TcpStream,
    deadline: Deadline,
}

impl Within<'_> {
    /// The deadline, to start another stream's wait from the same clock.
    pub fn deadline(&self) -> Deadline {
        self.deadline
    }
}

impl Read for Within<'_> {
    /// One read, like std's, except that a read a signal interrupted (EINTR: the
    /// process was stopped and continued, say) is tried again, within the deadline.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            self.stream
                .set_read_timeout(Some(self.deadline.remaining()?))?;
            match (&*self.stream).read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                done => return done,
            }
        }
    }
}

impl Write for Within<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream
            .set_write_timeout(Some(self.deadline.remaining()?))?;
        (&*self.stream).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self.stream).flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::is_timeout;
    use std::net::TcpListener;

    #[test]
    fn deadline_counts_down_then_times_out() {
        let d = Deadline::after(Duration::from_secs(60));
        let left = d.remaining().unwrap();
        assert!(left > Duration::from_secs(59) && left <= Duration::from_secs(60));
        let past = Deadline::after(Duration::ZERO);
        let e = past.remaining().unwrap_err();
        assert!(is_timeout(&e), "{e:?}");
    }

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (client, listener.accept().unwrap().0)
    }

    #[test]
    fn reads_get_what_is_left_of_one_deadline() {
        let (mut client, server) = pair();
        client.write_all(b"ab").unwrap();
        let mut within = Deadline::after(Duration::from_millis(150)).on(&server);
        let mut buf = [0u8; 2];
        within.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ab");
        let start = Instant::now();
        let e = within.read(&mut buf).unwrap_err();
        assert!(is_timeout(&e), "{e:?}");
        // The second read waited only what was left of the 150 ms, not 150 ms again.
        assert!(start.elapsed() < Duration::from_millis(150) + Duration::from_millis(100));
        let e = within.read(&mut buf).unwrap_err();
        assert_eq!(
            e.kind(),
            io::ErrorKind::TimedOut,
            "past the deadline: {e:?}"
        );
    }

    #[test]
    fn a_whole_answer_ends_by_the_deadline_when_nobody_reads() {
        // The peer never reads: once both kernels' buffers are full, write_all blocks.
        let (_peer, server) = pair();
        let limit = Duration::from_millis(300);
        let mut within = Deadline::after(limit).on(&server);
        let start = Instant::now();
        let e = within.write_all(&vec![b'x'; 64 << 20]).unwrap_err();
        let took = start.elapsed();
        assert!(is_timeout(&e), "{e:?}");
        assert!(
            took >= limit && took < limit + Duration::from_secs(5),
            "{took:?}"
        );
        // One deadline for the whole answer, not a fresh limit per piece the kernel took:
        // the last write was given only what was left (a time check would need a quiet
        // machine to tell 1x the limit from 2x).
        let last = server.write_timeout().unwrap().unwrap();
        assert!(last < limit, "{last:?}");
    }
}
