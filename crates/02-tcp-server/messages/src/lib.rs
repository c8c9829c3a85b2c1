//! Where one message ends, for the programs of lesson 02: [`recv_message`] for
//! welcome-server and contacts-server, [`recv_answer`] for welcome-client and
//! contacts-client, and [`send_failed`], the servers' words for a write that failed.
//! Only the reading loops live here; every other socket call (bind,
//! accept, the writes, the close, the client's read timeout) stays in the programs'
//! `main.rs`, where the lesson shows it.
//!
//! Why a loop at all? TCP carries a stream of bytes, not messages. What one `read` (in
//! Python, one `recv(1024)`) returns is whatever has arrived so far: part of a message,
//! or the end of one and the start of the next. The Python originals take each `recv`
//! as one whole message, which works only while the timing is kind. Their clients send
//! no end marker (no newline, no length): they send one message and wait for the
//! answer. So a server can only tell where a message ends by three rules:
//!
//! 1. **a pause**: once a message has started, the client sends nothing for `gap`;
//! 2. **a newline**: `\n` or `\r\n` ends a message (for a person typing into `nc`, and
//!    for a client that sends several messages back to back);
//! 3. **the close**: bytes followed by the end of the stream are a last message.
//!
//! And one time limit: a whole message must arrive within `timeout` of the moment the
//! server starts waiting for it, however short the pauses in it.
//!
//! Two messages sent back to back with no newline and no pause stay glued together:
//! nothing on the wire says where the first one ends. That is the sticky-packet
//! problem (粘包), which lesson 04 solves with a length header in front of each message.

use std::io::{self, Read};
use std::net::TcpStream;
use std::time::Duration;

use armour::Deadline;

/// The longest message a server accepts: the originals read each one with `recv(1024)`.
pub const MAX_MESSAGE: usize = 1024;

/// How long [`recv_message`] waits: `timeout` for the whole of a message (a client silent
/// that long is [`Incoming::Silent`], one that started but did not finish is
/// [`Incoming::TooSlow`]), and `gap`, the pause that ends a message once it has started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pauses {
    pub timeout: Duration,
    pub gap: Duration,
}

impl Pauses {
    /// From the servers' options `--timeout-ms MS` (default 10000) and `--gap-ms MS`
    /// (default 100), each at least 1 ms (a read timeout of zero is not allowed).
    pub fn from_args(args: &mut lesson_cli::Args) -> Pauses {
        Pauses {
            timeout: args.timeout("--timeout-ms", 10_000),
            gap: args.timeout("--gap-ms", 100),
        }
    }
}

/// What one call of [`recv_message`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// One whole message, without its newline if it had one.
    Message(Vec<u8>),
    /// A message longer than [`MAX_MESSAGE`], of this many bytes (read and thrown away).
    TooLong(usize),
    /// The client closed the connection before a new message started.
    Closed,
    /// The client sent nothing at all for the whole `timeout`.
    Silent,
    /// The client started a message, this many bytes of it, but did not finish it
    /// within `timeout`: it sends too slowly (one byte now and then, say).
    TooSlow(usize),
}

/// Reads one message from a client, by the three rules above. `pending` holds what
/// arrived after the end of the previous message (the bytes after a newline): pass the
/// same buffer to every call for one connection. Err is a failed read: the connection
/// is broken.
pub fn recv_message(
    sock: &mut TcpStream,
    pending: &mut Vec<u8>,
    pauses: Pauses,
) -> io::Result<Incoming> {
    let mut buf = [0u8; 1024];
    let mut dropped = 0; // bytes of an over-long message, already thrown away
    // The whole message must arrive within `timeout`: a client sending one byte just
    // before each gap ends would otherwise hold the server for as long as it likes.
    let deadline = Deadline::after(pauses.timeout);
    loop {
        // Rule 2: a newline in what has arrived ends the message.
        if let Some(line) = take_line(pending) {
            return Ok(finish(line, dropped));
        }
        if pending.len() > MAX_MESSAGE {
            // Never keep more than the limit in memory, whatever the client sends.
            dropped += pending.len();
            pending.clear();
        }
        let started = !pending.is_empty() || dropped > 0;
        // Wait for what is left of the deadline; once a message has started, only for
        // a `gap` if that comes first.
        let Ok(left) = deadline.remaining() else {
            return Ok(out_of_time(pending, dropped));
        };
        let by_gap = started && pauses.gap < left;
        sock.set_read_timeout(Some(if by_gap { pauses.gap } else { left }))?;
        let stopped = match sock.read(&mut buf) {
            Ok(0) => Incoming::Closed,
            Ok(n) => {
                pending.extend_from_slice(&buf[..n]);
                continue;
            }
            // A timeout: the pause that ends a message if we waited for a gap (rule 1),
            // else the deadline.
            Err(e) if lesson_cli::is_timeout(&e) && by_gap => Incoming::Silent,
            Err(e) if lesson_cli::is_timeout(&e) => return Ok(out_of_time(pending, dropped)),
            Err(e) => return Err(e),
        };
        // Rules 1 and 3: the client paused or closed. If a message had started, what
        // has arrived is the whole of it.
        return Ok(if started {
            finish(std::mem::take(pending), dropped)
        } else {
            stopped
        });
    }
}

/// What it means when the deadline passed: nothing came at all, or a message came too
/// slowly (what came of it is thrown away).
fn out_of_time(pending: &mut Vec<u8>, dropped: usize) -> Incoming {
    let received = std::mem::take(pending).len() + dropped;
    if received > 0 {
        Incoming::TooSlow(received)
    } else {
        Incoming::Silent
    }
}

/// Takes the first line out of `pending`, without its `\n` or `\r\n`; None while no
/// newline has arrived. What follows the newline stays in `pending`.
fn take_line(pending: &mut Vec<u8>) -> Option<Vec<u8>> {
    let end = pending.iter().position(|&b| b == b'\n')?;
    let mut line: Vec<u8> = pending.drain(..=end).collect();
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Some(line)
}

fn finish(message: Vec<u8>, dropped: usize) -> Incoming {
    if dropped > 0 || message.len() > MAX_MESSAGE {
        Incoming::TooLong(dropped + message.len())
    } else {
        Incoming::Message(message)
    }
}

/// Reads one answer of the server, like the originals' `s.recv(1024).decode('utf-8')`.
/// The answers have no end marker either: the client sends one message and waits, so
/// only one answer is ever on its way, and what has arrived is taken as the whole of
/// it. It reads again only when the bytes stop in the middle of a UTF-8 character.
/// Unlike the originals, the close (an empty read) and a silent server are errors, not
/// an empty answer; `timeout` is the read timeout the caller set, for the error text.
pub fn recv_answer(stream: &mut impl Read, timeout: Duration) -> Result<String, String> {
    let mut data = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Err("the server closed the connection without an answer".into()),
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) if lesson_cli::is_timeout(&e) => {
                return Err(format!("no answer within {timeout:?}"));
            }
            Err(e) => {
                return Err(format!(
                    "cannot read the answer: {}",
                    lesson_cli::reason(&e)
                ));
            }
        }
        match std::str::from_utf8(&data) {
            Ok(text) => return Ok(text.to_string()),
            // The read stopped in the middle of a character: the rest is on its way.
            Err(e) if e.error_len().is_none() => continue,
            Err(_) => return Err("the answer is not UTF-8 text".into()),
        }
    }
}

/// Why a server's write failed, in one line. With a write timeout set, a timeout means
/// the client sends but never reads our answers: the kernel's send buffer stayed full
/// for `timeout`, so nothing more could be sent.
pub fn send_failed(e: &io::Error, timeout: Duration) -> String {
    if lesson_cli::is_timeout(e) {
        format!("does not read its answers: nothing could be sent for {timeout:?}; closing")
    } else {
        format!("cannot send: {}", lesson_cli::reason(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::io::Write;
    use std::net::TcpListener;

    #[test]
    fn a_newline_ends_a_line_and_keeps_the_rest() {
        let mut pending = b"find;a\r\nremove;a\nexi".to_vec();
        assert_eq!(take_line(&mut pending), Some(b"find;a".to_vec()));
        assert_eq!(take_line(&mut pending), Some(b"remove;a".to_vec()));
        assert_eq!(take_line(&mut pending), None);
        assert_eq!(pending, b"exi");
        let mut empty = b"\n".to_vec();
        assert_eq!(take_line(&mut empty), Some(Vec::new()));
    }

    #[test]
    fn a_message_over_the_limit_is_too_long() {
        assert_eq!(
            finish(vec![b'x'; 1024], 0),
            Incoming::Message(vec![b'x'; 1024])
        );
        assert_eq!(finish(vec![b'x'; 1025], 0), Incoming::TooLong(1025));
        assert_eq!(finish(vec![b'x'; 10], 2000), Incoming::TooLong(2010));
    }

    /// A connected pair over loopback: (the client's end, the server's end).
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    const SHORT: Duration = Duration::from_millis(50);
    const LONG: Duration = Duration::from_secs(20);

    #[test]
    fn a_newline_a_pause_and_the_close_each_end_a_message() {
        let (mut client, mut server) = pair();
        let mut pending = Vec::new();
        let mut recv = |timeout, gap| {
            let pauses = Pauses { timeout, gap };
            recv_message(&mut server, &mut pending, pauses)
        };
        // Nothing sent: silent after the timeout.
        assert_eq!(recv(SHORT, LONG).unwrap(), Incoming::Silent);
        // Two lines in one write: two messages, and no pause needed (the gap is long).
        client
            .write_all("add;张三;1\r\nfind;张三\n".as_bytes())
            .unwrap();
        let first = Incoming::Message("add;张三;1".as_bytes().to_vec());
        assert_eq!(recv(LONG, LONG).unwrap(), first);
        let second = Incoming::Message("find;张三".as_bytes().to_vec());
        assert_eq!(recv(LONG, LONG).unwrap(), second);
        // No newline: the pause ends it, as client2.py waiting for its answer.
        client.write_all(b"message1").unwrap();
        assert_eq!(
            recv(LONG, SHORT).unwrap(),
            Incoming::Message(b"message1".to_vec())
        );
        // A message that is not whole within the timeout: too slow, however short the
        // pauses in it.
        client.write_all(b"add;").unwrap();
        assert_eq!(recv(SHORT, LONG).unwrap(), Incoming::TooSlow(4));
        // Over the limit: read to its end, thrown away, and the next one is fine.
        let mut huge = vec![b'x'; 5000];
        huge.extend_from_slice(b"\nexit");
        client.write_all(&huge).unwrap();
        assert_eq!(recv(LONG, LONG).unwrap(), Incoming::TooLong(5000));
        // The close ends the last message, then says the client is gone.
        drop(client);
        assert_eq!(
            recv(LONG, LONG).unwrap(),
            Incoming::Message(b"exit".to_vec())
        );
        assert_eq!(recv(LONG, LONG).unwrap(), Incoming::Closed);
    }

    /// A stream that returns these reads, one by one, then the close.
    struct Reads(VecDeque<io::Result<Vec<u8>>>);

    impl Read for Reads {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let bytes = self.0.pop_front().unwrap_or(Ok(Vec::new()))?;
            buf[..bytes.len()].copy_from_slice(&bytes);
            Ok(bytes.len())
        }
    }

    fn answer(reads: Vec<io::Result<Vec<u8>>>) -> Result<String, String> {
        recv_answer(&mut Reads(reads.into()), Duration::from_millis(200))
    }

    #[test]
    fn an_answer_is_what_one_read_brings_unless_a_character_is_cut() {
        let two_reads = vec![Ok(b"Welcome!".to_vec()), Ok(b"Received".to_vec())];
        assert_eq!(answer(two_reads), Ok("Welcome!".to_string()));
        let added = "李四 added".as_bytes();
        let cut = vec![Ok(added[..4].to_vec()), Ok(added[4..].to_vec())];
        assert_eq!(answer(cut), Ok("李四 added".to_string()));
    }

    #[test]
    fn the_close_silence_errors_and_bad_bytes_are_errors() {
        let closed = "the server closed the connection without an answer";
        assert_eq!(answer(vec![]), Err(closed.to_string()));
        // A character cut, then the close: no answer either.
        assert_eq!(answer(vec![Ok(vec![0xe6])]), Err(closed.to_string()));
        let timeout = io::Error::from(io::ErrorKind::WouldBlock);
        assert_eq!(
            answer(vec![Err(timeout)]),
            Err("no answer within 200ms".to_string())
        );
        let reset = io::Error::new(io::ErrorKind::ConnectionReset, "Connection reset by peer");
        assert_eq!(
            answer(vec![Err(reset)]),
            Err("cannot read the answer: Connection reset by peer".to_string())
        );
        assert_eq!(
            answer(vec![Ok(vec![0xff, b'a'])]),
            Err("the answer is not UTF-8 text".to_string())
        );
    }
}
