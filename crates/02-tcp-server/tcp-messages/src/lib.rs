//! Where one message ends, for the programs of lesson 02. The servers' `main.rs` make
//! every `read` themselves, in the place of the originals' `recv(1024)`; an [`Inbox`]
//! keeps what the rules below need between two reads, and says when a message has
//! ended. The clients read each answer the same way, with an [`Answer`].
//!
//! Why rules at all? TCP carries a stream of bytes, not messages. What one `read` (in
//! Python, one `recv(1024)`) returns is whatever has arrived so far: part of a message,
//! or the end of one and the start of the next. The Python originals take each `recv`
//! as one whole message, which works only while the timing is kind. Their clients send
//! no end marker (no newline, no length): they send one message and wait for the
//! answer. So a server can only tell where a message ends by three rules:
//!
//! 1. **a pause**: once a message has started, the client sends nothing for `gap`;
//! 2. **a newline**: `\n` or `\r\n` ends a message (for a person typing into telnet or
//!    nc, and for a client that sends several messages back to back);
//! 3. **the close**: bytes followed by the end of the stream are a last message.
//!
//! A client that has sent a newline sends lines: from then on a message that arrives
//! one character at a time (each key sent as it is typed, as Windows' telnet does) ends
//! only at its newline, not at the pause between two keys. A message that arrives in a
//! piece of more than one character (a program's whole message, as client2.py sends
//! it) still ends at a pause.
//!
//! And two time limits, both `timeout`: a whole message must arrive within it of the
//! moment the server starts waiting for it, however short the pauses in it; and what a
//! client sends ahead, without waiting for the answers, gets at most that much of the
//! server's show (welcome-server's pause, contacts-server's printed phone book), counted
//! from the last time the server waited for it. Past it, the client is dropped.
//!
//! Two messages sent back to back with no newline and no pause stay glued together:
//! nothing on the wire says where the first one ends. That is the sticky-packet problem
//! (粘包), which lesson 04 solves with a length header in front of each message.

use std::io;
use std::mem;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use armour::{Deadline, Within};

/// The longest message a server accepts: the originals read each one with `recv(1024)`.
pub const MAX_MESSAGE: usize = 1024;

/// How long a server waits: `timeout` for the whole of a message (and for the show of
/// what a client sends ahead), and `gap`, the pause that ends a message once it started.
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

/// What the server got from its client.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// One whole message, without its newline if it had one.
    Message(Vec<u8>),
    /// A message longer than [`MAX_MESSAGE`], read and thrown away: why, in a few words
    /// (`sent a message of 5000 bytes, over the limit of 1024`).
    TooLong(String),
    /// The client closed the connection before a new message started.
    Closed,
    /// The conversation must end, and why, in a few words: the client was silent or too
    /// slow for `timeout`, sent ahead past its time, or the connection broke.
    Drop(String),
}

/// How the last read ended the message under way, if it did.
#[derive(Debug)]
enum Stop {
    Paused,
    Closed,
    OutOfTime,
    Failed(io::Error),
}

/// One client, as its server reads it (one `Inbox` per connection): the bytes that have
/// arrived and are not yet part of a message, and what the rules need to remember.
///
/// ```text
/// let data = loop {
///     if let Some(incoming) = inbox.message(&sock) { break incoming; }
///     let n = inbox.wait(&sock).read(&mut buf); // std's read, its time limit armed
///     inbox.took(&buf, n);
/// };
/// ```
#[derive(Debug)]
pub struct Inbox {
    pauses: Pauses,
    /// `message` or `command`, for the words of [`Incoming`].
    noun: &'static str,
    /// What arrived and is not yet part of a message: the bytes after a newline, or the
    /// start of the message under way.
    pending: Vec<u8>,
    /// Bytes of an over-long message, already thrown away.
    dropped: usize,
    /// No message is under way: the next call of `message` starts one.
    between: bool,
    /// The time limit of the message under way.
    deadline: Deadline,
    /// Whether the last wait was for the gap (rule 1) rather than the deadline.
    by_gap: bool,
    stop: Option<Stop>,
    /// The client has sent a newline: it sends lines.
    lines: bool,
    /// The message under way came one character at a time (typed key by key); None
    /// until its first piece has arrived.
    typed: Option<bool>,
    /// The server's show for this client since it last waited for it.
    shown: Duration,
}

impl Inbox {
    /// The inbox of a new connection; `noun` (`message`, `command`) is for the words.
    pub fn new(pauses: Pauses, noun: &'static str) -> Inbox {
        Inbox {
            pauses,
            noun,
            pending: Vec::new(),
            dropped: 0,
            between: true,
            deadline: Deadline::after(pauses.timeout),
            by_gap: false,
            stop: None,
            lines: false,
            typed: None,
            shown: Duration::ZERO,
        }
    }

    /// The next message, or why the conversation ends, once the rules say it has ended;
    /// None while the server must read more. The first call for a message starts its
    /// time limit.
    pub fn message(&mut self, sock: &TcpStream) -> Option<Incoming> {
        if mem::take(&mut self.between) {
            self.deadline = Deadline::after(self.pauses.timeout);
            self.dropped = 0;
            self.typed = (!self.pending.is_empty()).then_some(false);
            // Nothing of this message has arrived yet: the client waited for our answer,
            // and its time for show starts again. Else it sent ahead, on the time it has.
            if self.pending.is_empty() && !waiting(sock) {
                self.shown = Duration::ZERO;
            } else if self.shown >= self.pauses.timeout {
                let (noun, limit) = (self.noun, self.pauses.timeout);
                return Some(Incoming::Drop(format!(
                    "sent {noun}s ahead of the answers, and their show took over {limit:?}; closing"
                )));
            }
        }
        // Rule 2: a newline in what has arrived ends the message.
        if let Some(line) = take_line(&mut self.pending) {
            self.lines = true;
            return Some(self.finish(line));
        }
        if self.pending.len() > MAX_MESSAGE {
            // Never keep more than the limit in memory, whatever the client sends.
            self.dropped += mem::take(&mut self.pending).len();
        }
        let (noun, timeout) = (self.noun, self.pauses.timeout);
        Some(match self.stop.take()? {
            // Rules 1 and 3: the client paused or closed. If a message had started, what
            // has arrived is the whole of it.
            Stop::Paused | Stop::Closed if self.started() => {
                let message = mem::take(&mut self.pending);
                self.finish(message)
            }
            Stop::Paused | Stop::Closed => Incoming::Closed,
            Stop::OutOfTime if self.started() => {
                let n = self.dropped + self.pending.len();
                Incoming::Drop(format!(
                    "sent {n} bytes but no whole {noun} within {timeout:?}; too slow, closing"
                ))
            }
            Stop::OutOfTime => Incoming::Drop(format!("sent nothing for {timeout:?}; closing")),
            Stop::Failed(e) => {
                Incoming::Drop(format!("cannot receive: {}", lesson_cli::reason(&e)))
            }
        })
    }

    /// The client's socket, with the time limit of the next read armed: what is left of
    /// the message's deadline, or only the `gap` once a message has started (rule 1),
    /// unless the client sends lines and types this one.
    pub fn wait<'a>(&mut self, sock: &'a TcpStream) -> Within<'a> {
        let pause_ends = !(self.lines && self.typed == Some(true));
        let left = self.deadline.remaining().unwrap_or_default();
        self.by_gap = self.started() && pause_ends && self.pauses.gap < left;
        if self.by_gap {
            Deadline::after(self.pauses.gap).on(sock)
        } else {
            self.deadline.on(sock)
        }
    }

    /// What one read into `buf` returned: bytes of the message, or how the read stopped
    /// (the close, a timeout: the gap or the deadline, or an error).
    pub fn took(&mut self, buf: &[u8], read: io::Result<usize>) {
        self.stop = match read {
            Ok(0) => Some(Stop::Closed),
            Ok(n) => {
                let piece = &buf[..n];
                self.typed.get_or_insert(one_character(piece));
                self.pending.extend_from_slice(piece);
                None
            }
            Err(e) if lesson_cli::is_timeout(&e) && self.by_gap => Some(Stop::Paused),
            Err(e) if lesson_cli::is_timeout(&e) => Some(Stop::OutOfTime),
            Err(e) => Some(Stop::Failed(e)),
        };
    }

    /// Does the server's show for the message (welcome-server's pause, contacts-server's
    /// printed phone book) and counts its time against what the client sends ahead.
    pub fn show(&mut self, show: impl FnOnce()) {
        let started = Instant::now();
        show();
        self.shown += started.elapsed();
    }

    /// Whether a message is under way: bytes of it have arrived (or were thrown away).
    fn started(&self) -> bool {
        !self.pending.is_empty() || self.dropped > 0
    }

    fn finish(&mut self, message: Vec<u8>) -> Incoming {
        self.between = true;
        let n = self.dropped + message.len();
        if n > MAX_MESSAGE {
            let noun = self.noun;
            Incoming::TooLong(format!(
                "sent a {noun} of {n} bytes, over the limit of {MAX_MESSAGE}"
            ))
        } else {
            Incoming::Message(message)
        }
    }
}

/// Whether bytes from the client already wait in the kernel: a look, not a read.
fn waiting(sock: &TcpStream) -> bool {
    let peeked = sock
        .set_nonblocking(true)
        .and_then(|()| sock.peek(&mut [0u8; 1]));
    let _ = sock.set_nonblocking(false);
    matches!(peeked, Ok(n) if n > 0)
}

/// Whether `piece` is one character: a key typed into a telnet that sends each at once.
fn one_character(piece: &[u8]) -> bool {
    piece.len() == 1 || std::str::from_utf8(piece).is_ok_and(|s| s.chars().count() == 1)
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

/// One answer of the server, read like the originals' `s.recv(1024).decode('utf-8')`.
/// The answers have no end marker either: the client sends one message and waits, so
/// only one answer is ever on its way, and what one read brings is taken as the whole
/// of it. Only when the bytes stop in the middle of a UTF-8 character is it read again.
/// Unlike the originals, the close (an empty read) and a silent server are errors, not
/// an empty answer.
#[derive(Debug, Default)]
pub struct Answer {
    data: Vec<u8>,
}

impl Answer {
    /// What one read into `buf` returned: the answer, or why there is none (`timeout` is
    /// the client's read timeout, for the words), or None to read again.
    pub fn took(
        &mut self,
        buf: &[u8],
        read: io::Result<usize>,
        timeout: Duration,
    ) -> Option<Result<String, String>> {
        match read {
            Ok(0) => Some(Err(
                "the server closed the connection without an answer".into()
            )),
            Ok(n) => {
                self.data.extend_from_slice(&buf[..n]);
                match std::str::from_utf8(&self.data) {
                    Ok(text) => Some(Ok(text.to_string())),
                    // The read stopped in the middle of a character: the rest is coming.
                    Err(e) if e.error_len().is_none() => None,
                    Err(_) => Some(Err("the answer is not UTF-8 text".into())),
                }
            }
            Err(e) if lesson_cli::is_timeout(&e) => {
                Some(Err(format!("no answer within {timeout:?}")))
            }
            Err(e) => Some(Err(format!(
                "cannot read the answer: {}",
                lesson_cli::reason(&e)
            ))),
        }
    }
}

/// Why a server's write failed, in one line. The answer's write has a deadline: a
/// timeout means the client sends but does not read our answers, so the kernel's send
/// buffer stayed full and the answer could not be sent whole within `timeout`.
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
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::thread;

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
    fn one_key_is_one_character() {
        assert!(one_character(b"a"));
        assert!(one_character("李".as_bytes()));
        assert!(one_character(&[0xff]));
        assert!(!one_character(b"ab"));
        assert!(!one_character("李四".as_bytes()));
        assert!(!one_character(b"\r\n"));
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

    /// One message, read as the servers' main.rs read it.
    fn recv(inbox: &mut Inbox, sock: &TcpStream) -> Incoming {
        let mut buf = [0u8; 1024];
        loop {
            if let Some(incoming) = inbox.message(sock) {
                return incoming;
            }
            let n = inbox.wait(sock).read(&mut buf);
            inbox.took(&buf, n);
        }
    }

    fn inbox(timeout: Duration, gap: Duration) -> Inbox {
        Inbox::new(Pauses { timeout, gap }, "message")
    }

    fn message(text: &str) -> Incoming {
        Incoming::Message(text.as_bytes().to_vec())
    }

    #[test]
    fn a_newline_a_pause_and_the_close_each_end_a_message() {
        let (mut client, server) = pair();
        // Nothing sent: silent after the timeout.
        assert_eq!(
            recv(&mut inbox(SHORT, LONG), &server),
            Incoming::Drop("sent nothing for 50ms; closing".into())
        );
        // No newline: the pause ends it, as client2.py waiting for its answer.
        let mut quick = inbox(LONG, SHORT);
        client.write_all(b"message1").unwrap();
        assert_eq!(recv(&mut quick, &server), message("message1"));
        // Two lines in one write: two messages, and no pause needed (the gap is long).
        let mut lines = inbox(LONG, LONG);
        client
            .write_all("add;张三;1\r\nfind;张三\n".as_bytes())
            .unwrap();
        assert_eq!(recv(&mut lines, &server), message("add;张三;1"));
        assert_eq!(recv(&mut lines, &server), message("find;张三"));
        // A message that is not whole within the timeout: too slow, however short the
        // pauses in it.
        client.write_all(b"add;").unwrap();
        assert_eq!(
            recv(&mut inbox(SHORT, LONG), &server),
            Incoming::Drop(
                "sent 4 bytes but no whole message within 50ms; too slow, closing".into()
            )
        );
        // Over the limit: read to its end, thrown away, and the next one is fine.
        let mut huge = vec![b'x'; 5000];
        huge.extend_from_slice(b"\nexit");
        client.write_all(&huge).unwrap();
        let too_long = "sent a message of 5000 bytes, over the limit of 1024";
        assert_eq!(
            recv(&mut lines, &server),
            Incoming::TooLong(too_long.into())
        );
        // The close ends the last message, then says the client is gone.
        drop(client);
        assert_eq!(recv(&mut lines, &server), message("exit"));
        assert_eq!(recv(&mut lines, &server), Incoming::Closed);
    }

    #[test]
    fn once_a_client_sent_a_newline_keys_typed_one_by_one_wait_for_the_next() {
        let (mut client, server) = pair();
        client.set_nodelay(true).unwrap();
        let mut inbox = inbox(LONG, SHORT);
        // Before any newline, a key alone is a message: the original's pause rule.
        client.write_all(b"h").unwrap();
        assert_eq!(recv(&mut inbox, &server), message("h"));
        client.write_all(b"\r\n").unwrap();
        assert_eq!(recv(&mut inbox, &server), message(""));
        // Now keys typed one by one, each after more than the gap, make one line.
        let typist = thread::spawn(move || {
            for key in ["h", "i", " ", "李", "\r", "\n"] {
                thread::sleep(SHORT * 3);
                client.write_all(key.as_bytes()).unwrap();
            }
            client
        });
        assert_eq!(recv(&mut inbox, &server), message("hi 李"));
        let mut client = typist.join().unwrap();
        // A program's whole message still ends at the pause after it.
        client.write_all(b"find;zhangsan").unwrap();
        assert_eq!(recv(&mut inbox, &server), message("find;zhangsan"));
    }

    #[test]
    fn the_show_for_messages_sent_ahead_ends_at_the_time_limit() {
        let (mut client, server) = pair();
        let limit = Duration::from_millis(300);
        let mut inbox = inbox(limit, LONG);
        // Ten messages in one write, never waiting for an answer: each costs a pause of
        // 100 ms, and the pauses reach the limit after the third.
        client.write_all(&b"x\n".repeat(10)).unwrap();
        let mut answered = 0;
        let why = loop {
            match recv(&mut inbox, &server) {
                Incoming::Message(_) => {
                    inbox.show(|| thread::sleep(Duration::from_millis(100)));
                    answered += 1;
                }
                other => break other,
            }
        };
        assert_eq!(answered, 3);
        let ahead = "sent messages ahead of the answers, and their show took over 300ms; closing";
        assert_eq!(why, Incoming::Drop(ahead.into()));
    }

    #[test]
    fn a_client_that_waits_for_each_answer_gets_its_time_again() {
        let (mut client, server) = pair();
        let mut inbox = inbox(Duration::from_millis(300), SHORT);
        // The client sends its next message only once the previous one was answered:
        // 200 ms of show each, more than the limit in all, but never sent ahead.
        let (answered, next) = std::sync::mpsc::channel::<()>();
        let patient = thread::spawn(move || {
            for _ in 0..3 {
                client.write_all(b"x").unwrap();
                next.recv().unwrap();
                thread::sleep(SHORT);
            }
            // Then two lines at once: the second is sent ahead, and the 200 ms of the
            // first one's show leave it time for its own.
            client.write_all(b"a\nb\n").unwrap();
            client
        });
        for _ in 0..3 {
            assert_eq!(recv(&mut inbox, &server), message("x"));
            inbox.show(|| thread::sleep(Duration::from_millis(200)));
            answered.send(()).unwrap();
        }
        assert_eq!(recv(&mut inbox, &server), message("a"));
        inbox.show(|| thread::sleep(Duration::from_millis(200)));
        assert_eq!(recv(&mut inbox, &server), message("b"));
        drop(patient.join().unwrap());
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

    /// One answer, read as the clients' main.rs read it.
    fn answer(reads: Vec<io::Result<Vec<u8>>>) -> Result<String, String> {
        let (mut stream, mut answer, mut buf) =
            (Reads(reads.into()), Answer::default(), [0u8; 1024]);
        loop {
            let n = stream.read(&mut buf);
            if let Some(text) = answer.took(&buf, n, Duration::from_millis(200)) {
                return text;
            }
        }
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

    #[test]
    fn a_failed_send_says_whether_the_client_does_not_read() {
        let timeout = io::Error::from(io::ErrorKind::WouldBlock);
        assert_eq!(
            send_failed(&timeout, Duration::from_millis(200)),
            "does not read its answers: nothing could be sent for 200ms; closing"
        );
        let reset = io::Error::new(io::ErrorKind::ConnectionReset, "Connection reset by peer");
        assert_eq!(
            send_failed(&reset, Duration::from_millis(200)),
            "cannot send: Connection reset by peer"
        );
    }
}
