//! One TCP connection through the tap: two pumps, one per direction, each on its own
//! thread. A pump reads what arrives from one side, reports it, and writes it to the
//! other side; every event is reported before it is passed on, so what it causes (the
//! server's answer to a request) is always reported after it.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use armour::Deadline;

use crate::{Direction, End, Event, Stamped};

/// The most one read takes, and the most `--merge-ms` holds back, per direction.
pub const BUFFER: usize = 64 * 1024;

/// How the tap re-sends what it read. The default passes each read on as one write,
/// at once.
#[derive(Clone, Debug)]
pub struct Shaping {
    /// Re-send every chunk in writes of at most this many bytes.
    pub chunk: Option<usize>,
    /// Wait this long before each write.
    pub delay: Duration,
    /// Hold what arrives back, and send what arrived within this time (from the first
    /// byte held) as one write.
    pub merge: Option<Duration>,
    /// How long a side may take nothing while the tap has bytes for it (a deadline for
    /// each write of the tap, however many pieces the kernel takes it in); then the
    /// connection is cut off.
    pub timeout: Duration,
}

impl Default for Shaping {
    fn default() -> Shaping {
        Shaping {
            chunk: None,
            delay: Duration::ZERO,
            merge: None,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Relays one TCP connection, `client` <-> `server`, until both directions have ended,
/// and reports every event to `record` (from two threads: the server-to-client pump
/// runs on a thread of its own). Returns an error only when that thread cannot start;
/// then nothing was relayed.
pub fn relay(
    conn: u64,
    client: &TcpStream,
    server: &TcpStream,
    shaping: &Shaping,
    record: &(dyn Fn(Stamped) + Sync),
) -> io::Result<()> {
    let link = Link {
        conn,
        opened: Instant::now(),
        client,
        server,
        shaping,
        record,
        aborted: AtomicBool::new(false),
        running: AtomicUsize::new(2),
    };
    // The tap's own writes leave at once (no Nagle merging): with `chunk`, each piece
    // is its own packet, and only the receiver's timing decides how its reads cut them.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    if let (Ok(client), Ok(server)) = (client.peer_addr(), server.peer_addr()) {
        link.emit(Event::Open { client, server });
    }
    thread::scope(|scope| {
        let back = thread::Builder::new()
            .name(format!("#{conn} s->c"))
            .spawn_scoped(scope, || link.pump(Direction::ServerToClient))?;
        link.pump(Direction::ClientToServer);
        let _ = back.join();
        Ok::<(), io::Error>(())
    })
}

/// What both pumps of one connection share.
struct Link<'a> {
    conn: u64,
    opened: Instant,
    client: &'a TcpStream,
    server: &'a TcpStream,
    shaping: &'a Shaping,
    record: &'a (dyn Fn(Stamped) + Sync),
    /// Set once the tap closes both sides (a reset or an error in one direction).
    aborted: AtomicBool,
    /// The directions that have not ended yet.
    running: AtomicUsize,
}

impl Link<'_> {
    fn emit(&self, event: Event) {
        (self.record)(Stamped {
            conn: self.conn,
            at: self.opened.elapsed(),
            event,
        });
    }

    /// The socket this direction reads from, and the one it writes to.
    fn ends(&self, dir: Direction) -> (&TcpStream, &TcpStream) {
        match dir {
            Direction::ClientToServer => (self.client, self.server),
            Direction::ServerToClient => (self.server, self.client),
        }
    }

    /// One direction, from its first byte to its end.
    fn pump(&self, dir: Direction) {
        let (from, _) = self.ends(dir);
        let mut buf = vec![0u8; BUFFER];
        // --merge-ms: what was read and not yet passed on, how many reads it took, and
        // when the window that started with its first byte closes.
        let mut held = Vec::new();
        let mut reads = 0;
        let mut window: Option<Instant> = None;
        let end = loop {
            if let Some(closes) = window {
                let left = closes.saturating_duration_since(Instant::now());
                if left.is_zero() || held.len() >= BUFFER {
                    if let Err(why) = self.pass_on(dir, &held, reads) {
                        break why;
                    }
                    held.clear();
                    reads = 0;
                    window = None;
                    let _ = from.set_read_timeout(None);
                    continue;
                }
                let _ = from.set_read_timeout(Some(left));
            }
            let room = BUFFER - held.len();
            match (&*from).read(&mut buf[..room]) {
                Ok(0) => break End::Fin,
                Ok(n) => {
                    self.emit(Event::Data {
                        dir,
                        bytes: buf[..n].to_vec(),
                    });
                    if let Some(merge) = self.shaping.merge {
                        held.extend_from_slice(&buf[..n]);
                        reads += 1;
                        window.get_or_insert(Instant::now() + merge);
                    } else if let Err(why) = self.pass_on(dir, &buf[..n], 1) {
                        break why;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // The merge window closed while waiting: the top of the loop sends.
                Err(e) if window.is_some() && lesson_cli::is_timeout(&e) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                    ) =>
                {
                    break End::Reset(lesson_cli::reason(&e));
                }
                Err(e) => break End::Error(lesson_cli::reason(&e)),
            }
        };
        // Bytes still held are passed on before the end is.
        let end = match end {
            End::Fin | End::Reset(_) | End::Error(_) if !held.is_empty() => {
                self.pass_on(dir, &held, reads).err().unwrap_or(end)
            }
            end => end,
        };
        self.finish(dir, end);
    }

    /// Reports how `dir` ended and passes that on to the other side.
    fn finish(&self, dir: Direction, end: End) {
        let (_, to) = self.ends(dir);
        // A pump whose sockets the tap itself shut down sees a plain end or an error.
        let end = if self.aborted.load(Ordering::SeqCst) {
            End::Cut
        } else {
            end
        };
        let fin = end == End::Fin;
        self.emit(Event::End { dir, how: end });
        // The last end makes the connection gone, reported before it is passed on:
        // so the client cannot see its end and connect again before this is printed.
        if self.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.emit(Event::Gone);
        }
        if fin {
            // The half-close, passed on as a half-close: the receiver reads the end of
            // the stream, and can still answer the other way.
            let _ = to.shutdown(Shutdown::Write);
        } else {
            self.abort();
        }
    }

    /// Closes both sides at once, both directions: after a reset or an error one side
    /// is gone, so the other must not wait for bytes that will never come. std cannot
    /// send a reset (that needs SO_LINGER 0), so the other side sees the end of the
    /// stream, and its system answers anything it sends after with a reset.
    fn abort(&self) {
        if !self.aborted.swap(true, Ordering::SeqCst) {
            let _ = self.client.shutdown(Shutdown::Both);
            let _ = self.server.shutdown(Shutdown::Both);
        }
    }

    /// Writes `bytes` (what `reads` reads returned) to the other side, shaped. When that
    /// takes other than one write per read, it says so first: a receiver may answer
    /// the last write before this pump could say anything after it.
    fn pass_on(&self, dir: Direction, bytes: &[u8], reads: usize) -> Result<(), End> {
        let (_, to) = self.ends(dir);
        let shaping = self.shaping;
        let pieces = bytes.chunks(shaping.chunk.unwrap_or(bytes.len()).max(1));
        if pieces.len() != reads {
            self.emit(Event::PassedOn {
                dir,
                reads,
                bytes: bytes.len(),
                writes: pieces.len(),
            });
        }
        for piece in pieces {
            if !shaping.delay.is_zero() {
                thread::sleep(shaping.delay);
            }
            // The receiver must take each write within the time limit: by not reading
            // it cannot hold this pump, and the sender behind it, for ever.
            let mut receiver = Deadline::after(shaping.timeout).on(to);
            if let Err(e) = receiver.write_all(piece) {
                return Err(End::Undelivered(if lesson_cli::is_timeout(&e) {
                    format!("it took nothing for {} ms", shaping.timeout.as_millis())
                } else {
                    lesson_cli::reason(&e)
                }));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::Mutex;

    /// A client and a server connected through `relay` on its own thread; the events
    /// it reports, once the relay has returned.
    struct Through {
        client: TcpStream,
        server: TcpStream,
        relay: thread::JoinHandle<Vec<Event>>,
    }

    fn through(shaping: Shaping) -> Through {
        let front = TcpListener::bind("127.0.0.1:0").unwrap();
        let back = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(front.local_addr().unwrap()).unwrap();
        let back_addr = back.local_addr().unwrap();
        let relay = thread::spawn(move || {
            let (near, _) = front.accept().unwrap();
            let far = TcpStream::connect(back_addr).unwrap();
            let events = Mutex::new(Vec::new());
            relay(1, &near, &far, &shaping, &|e: Stamped| {
                events.lock().unwrap().push(e.event)
            })
            .unwrap();
            events.into_inner().unwrap()
        });
        let (server, _) = back.accept().unwrap();
        for s in [&client, &server] {
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        }
        Through {
            client,
            server,
            relay,
        }
    }

    fn data(dir: Direction, bytes: &[u8]) -> Event {
        Event::Data {
            dir,
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn a_half_close_passes_through_and_the_other_way_goes_on() {
        use Direction::*;
        let mut t = through(Shaping::default());
        t.client.write_all(b"ask").unwrap();
        t.client.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        t.server.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"ask");
        t.server.write_all(b"answer").unwrap();
        drop(t.server);
        let mut answer = Vec::new();
        t.client.read_to_end(&mut answer).unwrap();
        assert_eq!(answer, b"answer");
        let events = t.relay.join().unwrap();
        assert!(matches!(events[0], Event::Open { .. }), "{events:?}");
        assert_eq!(
            events[1..],
            [
                data(ClientToServer, b"ask"),
                Event::End {
                    dir: ClientToServer,
                    how: End::Fin
                },
                data(ServerToClient, b"answer"),
                Event::End {
                    dir: ServerToClient,
                    how: End::Fin
                },
                Event::Gone,
            ]
        );
    }

    #[test]
    fn chunk_splits_and_merge_joins() {
        use Direction::*;
        let mut t = through(Shaping {
            chunk: Some(2),
            ..Shaping::default()
        });
        t.client.write_all(b"hello").unwrap();
        let mut got = [0u8; 5];
        t.server.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello");
        drop((t.client, t.server));
        let events = t.relay.join().unwrap();
        assert_eq!(
            events[2],
            Event::PassedOn {
                dir: ClientToServer,
                reads: 1,
                bytes: 5,
                writes: 3
            }
        );

        let mut t = through(Shaping {
            merge: Some(Duration::from_secs(20)),
            ..Shaping::default()
        });
        t.client.write_all(b"one").unwrap();
        // The window is long: what ends it is the client's end of the stream.
        t.client.write_all(b"two").unwrap();
        t.client.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        t.server.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"onetwo");
        drop((t.client, t.server));
        let events = t.relay.join().unwrap();
        let reads = events
            .iter()
            .filter(|e| matches!(e, Event::Data { .. }))
            .count();
        let passed = events
            .iter()
            .find(|e| matches!(e, Event::PassedOn { .. }))
            .cloned();
        // One read or two, as they came; when two, they went on as one write.
        if reads == 2 {
            assert_eq!(
                passed,
                Some(Event::PassedOn {
                    dir: ClientToServer,
                    reads: 2,
                    bytes: 6,
                    writes: 1
                })
            );
        } else {
            assert_eq!(passed, None);
        }
    }
}
