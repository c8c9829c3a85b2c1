//! The wire tap's relay, as a library: it sits between a client and a server, passes
//! every byte on, and reports what it saw as [`Event`]s. The `wire-tap` program prints
//! them, one line each ([`Format`]); `compare` can collect them to compare two wires.
//!
//! - [`relay`]: one TCP connection, both directions, a thread each. A chunk is what one
//!   `read` returned (where TCP cut the stream, not where the sender's writes were). A
//!   half-close (FIN) is passed on as `shutdown(Write)` on the other side, and the other
//!   direction keeps flowing; a reset or an error closes both sides at once.
//! - [`relay_udp`]: datagrams, one event each, for every client that sends to the tap;
//!   [`relay_udp_until`] is the same for a caller that must end it.
//! - [`Shaping`]: how the tap re-sends what it read: in pieces (`chunk`), slowly
//!   (`delay`), or held back and merged (`merge`), so sticky packets appear on demand.
//!
//! Everything is bounded: a read takes at most [`BUFFER`] bytes, `merge` holds at most
//! [`BUFFER`] bytes, a side that takes nothing for `Shaping::timeout` is cut off, and
//! [`relay_udp`] keeps at most [`MAX_PEERS`] clients.

mod show;
mod tcp;
mod udp;

use std::net::SocketAddr;
use std::time::Duration;

pub use show::{SHOWN, shown};
pub use tcp::{BUFFER, Shaping, relay};
pub use udp::{IDLE, MAX_PEERS, TICK, relay_udp, relay_udp_until};

/// Which way bytes travel: from the client to the server, or back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    /// `c->s` or `s->c`.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::ClientToServer => "c->s",
            Direction::ServerToClient => "s->c",
        }
    }

    /// Who sends in this direction: `client` or `server`.
    pub fn sender(self) -> &'static str {
        match self {
            Direction::ClientToServer => "client",
            Direction::ServerToClient => "server",
        }
    }

    /// Who receives in this direction.
    pub fn receiver(self) -> &'static str {
        match self {
            Direction::ClientToServer => "server",
            Direction::ServerToClient => "client",
        }
    }
}

/// How one direction of a TCP connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// A read returned 0 bytes: the sender shut down its writing side, or closed (the
    /// wire says the same, a FIN, for both). Passed on as `shutdown(Write)`.
    Fin,
    /// The sender's system reset the connection (a read failed with
    /// "Connection reset by peer"). Passed on as an abrupt close of the other side.
    Reset(String),
    /// A read failed for another reason, in words. Passed on like a reset.
    Error(String),
    /// The receiver did not take the bytes (it is gone, or took nothing for
    /// `Shaping::timeout`), in words. Passed on like a reset.
    Undelivered(String),
    /// The tap closed this direction because the other one was reset or failed.
    Cut,
}

/// One thing the tap saw on one connection (or, over UDP, from one client).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A TCP client connected, and the tap reached the server for it.
    Open {
        client: SocketAddr,
        server: SocketAddr,
    },
    /// A TCP client connected, but the tap could not reach the server: the tap closed
    /// the client's connection.
    NoServer { client: SocketAddr, why: String },
    /// A UDP client sent its first datagram; the tap has a socket of its own for it.
    Peer {
        client: SocketAddr,
        server: SocketAddr,
    },
    /// Bytes that one read returned (one datagram over UDP).
    Data { dir: Direction, bytes: Vec<u8> },
    /// How the tap re-sends what it read, when that is not one write per read (`chunk`,
    /// `merge`): reported before the writes.
    PassedOn {
        dir: Direction,
        reads: usize,
        bytes: usize,
        writes: usize,
    },
    /// The end of one direction of a TCP connection.
    End { dir: Direction, how: End },
    /// Both directions ended: the connection is gone.
    Gone,
    /// A datagram that could not be sent or received (UDP), in words.
    Trouble { dir: Direction, why: String },
    /// A UDP client sent nothing and got nothing for this long: its socket is closed.
    Forgotten { idle: Duration },
}

/// An event, with the connection it belongs to (numbered from 1 in the order of
/// `accept`) and the time since that connection opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamped {
    pub conn: u64,
    pub at: Duration,
    pub event: Event,
}

/// How events are printed: `#1 +12ms c->s 5 bytes b'hello'`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Format {
    /// Without times (`#1 c->s 5 bytes b'hello'`), the lines of a run are the same on
    /// every run: for tests and lesson pages.
    pub no_times: bool,
    /// Bytes as a hex dump (`68 65 6c 6c 6f  |hello|`) instead of `b'hello'`.
    pub hex: bool,
}

impl Format {
    /// The line for one event.
    pub fn line(&self, stamped: &Stamped) -> String {
        let time = if self.no_times {
            String::new()
        } else {
            format!(" {:>7}", format!("+{}ms", stamped.at.as_millis()))
        };
        format!("#{}{time} {}", stamped.conn, self.describe(&stamped.event))
    }

    fn describe(&self, event: &Event) -> String {
        match event {
            Event::Open { client, server } => format!("open {client} -> {server}"),
            Event::NoServer { client, why } => {
                format!(
                    "from {client}: cannot reach the server ({why}); closed the client's connection"
                )
            }
            Event::Peer { client, server } => format!("peer {client} -> {server} (UDP)"),
            Event::Data { dir, bytes } => {
                let unit = if bytes.len() == 1 { "byte" } else { "bytes" };
                let shown = shown(bytes, self.hex);
                format!("{} {} {unit} {shown}", dir.arrow(), bytes.len())
            }
            Event::PassedOn {
                dir,
                reads,
                bytes,
                writes,
            } => {
                let writes = plural(*writes, "write");
                if *reads == 1 {
                    format!("{} passes on as {writes}", dir.arrow())
                } else {
                    let reads = plural(*reads, "read");
                    format!(
                        "{} passes on {reads} ({bytes} bytes) as {writes}",
                        dir.arrow()
                    )
                }
            }
            Event::End { dir, how } => {
                let how = match how {
                    End::Fin => format!("FIN (the {} sends no more)", dir.sender()),
                    End::Reset(why) => format!("reset ({why})"),
                    End::Error(why) => format!("error ({why})"),
                    End::Undelivered(why) => {
                        format!("not delivered to the {} ({why})", dir.receiver())
                    }
                    End::Cut => "cut off by the tap".to_string(),
                };
                format!("{} {how}", dir.arrow())
            }
            Event::Gone => "gone".to_string(),
            Event::Trouble { dir, why } => format!("{} error ({why})", dir.arrow()),
            Event::Forgotten { idle } => {
                format!("forgotten: no datagram for {} s", idle.as_secs())
            }
        }
    }
}

/// `1 write`, `3 writes`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64, event: Event) -> Stamped {
        Stamped {
            conn: 1,
            at: Duration::from_millis(ms),
            event,
        }
    }

    #[test]
    fn lines_with_and_without_times() {
        let data = at(
            1002,
            Event::Data {
                dir: Direction::ServerToClient,
                bytes: b"Received message1;".to_vec(),
            },
        );
        let timed = Format::default();
        assert_eq!(
            timed.line(&data),
            "#1 +1002ms s->c 18 bytes b'Received message1;'"
        );
        let stable = Format {
            no_times: true,
            hex: false,
        };
        assert_eq!(stable.line(&data), "#1 s->c 18 bytes b'Received message1;'");
        assert_eq!(timed.line(&at(3, Event::Gone)), "#1    +3ms gone");
        let hex = Format {
            no_times: true,
            hex: true,
        };
        let header = at(
            0,
            Event::Data {
                dir: Direction::ClientToServer,
                bytes: b"\x05\x00\x00\x00hello".to_vec(),
            },
        );
        assert_eq!(
            hex.line(&header),
            "#1 c->s 9 bytes 05 00 00 00 68 65 6c 6c 6f  |....hello|"
        );
    }

    #[test]
    fn every_end_in_words() {
        let stable = Format {
            no_times: true,
            hex: false,
        };
        let end = |dir, how| stable.line(&at(0, Event::End { dir, how }));
        use Direction::*;
        assert_eq!(
            end(ClientToServer, End::Fin),
            "#1 c->s FIN (the client sends no more)"
        );
        assert_eq!(
            end(
                ServerToClient,
                End::Reset("Connection reset by peer".into())
            ),
            "#1 s->c reset (Connection reset by peer)"
        );
        assert_eq!(
            end(ClientToServer, End::Undelivered("Broken pipe".into())),
            "#1 c->s not delivered to the server (Broken pipe)"
        );
        assert_eq!(end(ServerToClient, End::Cut), "#1 s->c cut off by the tap");
        let passed = |reads, writes| {
            stable.line(&at(
                0,
                Event::PassedOn {
                    dir: ClientToServer,
                    reads,
                    bytes: 11,
                    writes,
                },
            ))
        };
        assert_eq!(passed(1, 11), "#1 c->s passes on as 11 writes");
        assert_eq!(
            passed(2, 1),
            "#1 c->s passes on 2 reads (11 bytes) as 1 write"
        );
    }
}
