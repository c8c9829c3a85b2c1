//! The wire: every scenario with a server runs through the wire tap's relay (the
//! `wire-tap` crate's library, the code the `wire-tap` program runs): compare listens
//! where the clients connect, connects to the server for each client, and lets
//! `wire_tap::relay` pass every byte on and report it. What it saw becomes a summary per
//! connection, compared between rows like stdout: per direction the bytes as one stream
//! (where TCP cut them says nothing about the programs), and how each side ended: a FIN
//! (a close, or a half-close when the other way still went on after it), a reset, and
//! who ended first; an end that came only when compare stopped the server says so.
//!
//! The tap also knows every port of the run: the server's, its own, each client's and
//! its own towards the server (what the server prints as the client's address). The
//! `ports` rule masks those, and no other number.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use socket_lessons::wait_until;
use wire_tap::{Direction, End, Event, Shaping, Stamped};

/// One thing in a run's wire log, in the order it happened.
#[derive(Clone, Debug)]
pub enum Entry {
    /// What the relay saw.
    Seen(Stamped),
    /// compare stopped the server here: an end after this one is the stop's, not the
    /// server's own.
    ServerStopped,
}

type Log = Arc<Mutex<Vec<Entry>>>;
type Ports = Arc<Mutex<BTreeSet<u16>>>;

/// One TCP connection through the tap, with copies of its two sockets so that compare
/// can end it if it outlives the run.
struct Conn {
    relay: JoinHandle<()>,
    client: Option<TcpStream>,
    server: Option<TcpStream>,
}

/// A wire tap in front of one run's server.
pub struct Tap {
    port: u16,
    log: Log,
    ports: Ports,
    stop: Arc<AtomicBool>,
    runner: Option<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<Conn>>>,
}

/// What the tap saw in one run.
pub struct Wire {
    pub entries: Vec<Entry>,
    pub ports: BTreeSet<u16>,
}

fn push(log: &Log, entry: Entry) {
    if let Ok(mut log) = log.lock() {
        log.push(entry);
    }
}

fn add_port(ports: &Ports, port: u16) {
    if let Ok(mut ports) = ports.lock() {
        ports.insert(port);
    }
}

impl Tap {
    /// A TCP tap on a free port of 127.0.0.1, relaying to the server at `server_port`.
    pub fn tcp(server_port: u16, shaping: Shaping) -> Result<Tap, String> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| format!("the wire tap cannot listen: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let tap = Tap::new(port, server_port);
        let (log, ports, stop, conns) = (
            Arc::clone(&tap.log),
            Arc::clone(&tap.ports),
            Arc::clone(&tap.stop),
            Arc::clone(&tap.conns),
        );
        let server: SocketAddr = (Ipv4Addr::LOCALHOST, server_port).into();
        let runner = thread::Builder::new().spawn(move || {
            let mut conn = 0;
            loop {
                let accepted = listener.accept();
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok((client, addr)) = accepted else {
                    thread::sleep(Duration::from_millis(5));
                    continue;
                };
                conn += 1;
                add_port(&ports, addr.port());
                // connect: to the server, the tap is the client.
                let upstream = match TcpStream::connect(server) {
                    Ok(upstream) => upstream,
                    Err(e) => {
                        let why = e.to_string();
                        let event = Event::NoServer { client: addr, why };
                        push(&log, Entry::Seen(stamped(conn, event)));
                        continue;
                    }
                };
                if let Ok(local) = upstream.local_addr() {
                    add_port(&ports, local.port());
                }
                let copies = (client.try_clone().ok(), upstream.try_clone().ok());
                let (log, shaping) = (Arc::clone(&log), shaping.clone());
                let relay = thread::Builder::new().spawn(move || {
                    let record = |s: Stamped| push(&log, Entry::Seen(s));
                    let _ = wire_tap::relay(conn, &client, &upstream, &shaping, &record);
                });
                if let (Ok(relay), Ok(mut conns)) = (relay, conns.lock()) {
                    conns.push(Conn {
                        relay,
                        client: copies.0,
                        server: copies.1,
                    });
                }
            }
        });
        Tap::with_runner(tap, runner)
    }

    /// A UDP tap on a free port of 127.0.0.1, relaying datagrams to `server_port`.
    pub fn udp(server_port: u16) -> Result<Tap, String> {
        let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| format!("the wire tap cannot bind: {e}"))?;
        let port = sock.local_addr().map_err(|e| e.to_string())?.port();
        let tap = Tap::new(port, server_port);
        let (log, ports, stop) = (
            Arc::clone(&tap.log),
            Arc::clone(&tap.ports),
            Arc::clone(&tap.stop),
        );
        let server: SocketAddr = (Ipv4Addr::LOCALHOST, server_port).into();
        let runner = thread::Builder::new().spawn(move || {
            let record = |s: Stamped| {
                if let Event::Peer { client, .. } = &s.event {
                    add_port(&ports, client.port());
                }
                push(&log, Entry::Seen(s));
            };
            let opened = |_conn: u64, local: SocketAddr| add_port(&ports, local.port());
            let _ = wire_tap::relay_udp_until(&sock, server, &stop, &record, &opened);
        });
        Tap::with_runner(tap, runner)
    }

    fn new(port: u16, server_port: u16) -> Tap {
        let ports: BTreeSet<u16> = [port, server_port].into_iter().collect();
        Tap {
            port,
            log: Arc::new(Mutex::new(Vec::new())),
            ports: Arc::new(Mutex::new(ports)),
            stop: Arc::new(AtomicBool::new(false)),
            runner: None,
            conns: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn with_runner(mut tap: Tap, runner: std::io::Result<JoinHandle<()>>) -> Result<Tap, String> {
        let runner = runner.map_err(|e| format!("the wire tap has no thread: {e}"))?;
        tap.runner = Some(runner);
        Ok(tap)
    }

    /// Where the clients go.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Notes that compare stops the server now.
    pub fn server_stopped(&self) {
        push(&self.log, Entry::ServerStopped);
    }

    /// Stops the tap once every connection has ended (each within `deadline`, then cut:
    /// its programs are gone by now, so it ends at once), and returns what it saw.
    pub fn finish(mut self, deadline: Duration) -> Wire {
        self.stop.store(true, Ordering::SeqCst);
        // A TCP tap waits in accept: a connection of our own wakes it (a UDP one looks
        // at `stop` every wire_tap::TICK).
        let _ = TcpStream::connect_timeout(
            &(Ipv4Addr::LOCALHOST, self.port).into(),
            Duration::from_secs(1),
        );
        if let Some(runner) = self.runner.take() {
            let _ = runner.join();
        }
        let conns = self
            .conns
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default();
        wait_until(deadline, || conns.iter().all(|c| c.relay.is_finished()));
        for conn in conns {
            if !conn.relay.is_finished() {
                for sock in conn.client.iter().chain(conn.server.iter()) {
                    let _ = sock.shutdown(std::net::Shutdown::Both);
                }
            }
            let _ = conn.relay.join();
        }
        let entries = self.log.lock().map(|l| l.clone()).unwrap_or_default();
        let ports = self.ports.lock().map(|p| p.clone()).unwrap_or_default();
        Wire { entries, ports }
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        // A tap dropped without finish (a panic in compare) must not leave its accept
        // thread waiting for ever.
        if !self.stop.swap(true, Ordering::SeqCst) {
            let _ = TcpStream::connect_timeout(
                &(Ipv4Addr::LOCALHOST, self.port).into(),
                Duration::from_millis(100),
            );
        }
    }
}

fn stamped(conn: u64, event: Event) -> Stamped {
    Stamped {
        conn,
        at: Duration::ZERO,
        event,
    }
}

/// How many writes the tap made to the server of what the client sent (over every
/// connection): more than one, and the server may have read the client's bytes apart.
pub fn writes_to_server(entries: &[Entry]) -> usize {
    let mut writes: usize = 0;
    for entry in entries {
        match entry {
            Entry::Seen(Stamped {
                event:
                    Event::Data {
                        dir: Direction::ClientToServer,
                        ..
                    },
                ..
            }) => writes += 1,
            // A PassedOn replaces the one write per read of the reads it covers.
            Entry::Seen(Stamped {
                event:
                    Event::PassedOn {
                        dir: Direction::ClientToServer,
                        reads: covered,
                        writes: made,
                        ..
                    },
                ..
            }) => writes = writes.saturating_sub(*covered) + made,
            _ => {}
        }
    }
    writes
}

/// The summary of a run's wire that rows are compared by: per connection (or, over
/// UDP, per client) in the order they came, the bytes of each direction as one stream,
/// then how each side ended. With `prefix`, only that many bytes of each direction,
/// and not the ends (compare stopped the programs). `merge`: the scenario's tap held
/// what came in for that long (wire-tap's --merge-ms).
///
/// How the ends are told, and what is not: a side that ends with a FIN while the other
/// way still goes on has half-closed, and ended first; a side that never ends until
/// compare stops the server says so; a reset is a reset. Two plain FINs after the last
/// byte each way are one line without an order: each side closed at its last message
/// or at the other's, at about the same moment, and which of the tap's two threads
/// reads its FIN first is a race of the tap, not a fact about the programs.
pub fn summary(entries: &[Entry], prefix: Option<usize>, merge: Option<Duration>) -> String {
    let mut order: Vec<u64> = Vec::new();
    for entry in entries {
        if let Entry::Seen(s) = entry
            && !order.contains(&s.conn)
        {
            order.push(s.conn);
        }
    }
    if order.is_empty() {
        return "wire: no connection reached the tap\n".to_string();
    }
    let mut out = String::new();
    for conn in order {
        out.push_str(&connection(entries, conn, prefix, merge));
    }
    out
}

/// One event of a connection: its place in the log, whether compare had stopped the
/// server by then, and what the tap saw when.
struct Seen<'a> {
    pos: usize,
    after_stop: bool,
    at: Duration,
    event: &'a Event,
}

/// The lines of one connection (or UDP client).
fn connection(
    entries: &[Entry],
    conn: u64,
    prefix: Option<usize>,
    merge: Option<Duration>,
) -> String {
    let mut stopped = false;
    let mut events = Vec::new();
    for (pos, entry) in entries.iter().enumerate() {
        match entry {
            Entry::ServerStopped => stopped = true,
            Entry::Seen(s) if s.conn == conn => events.push(Seen {
                pos,
                after_stop: stopped,
                at: s.at,
                event: &s.event,
            }),
            Entry::Seen(_) => {}
        }
    }
    let udp = events.iter().any(|s| matches!(s.event, Event::Peer { .. }));
    let mut out = if udp {
        format!("wire, client {conn} (UDP datagrams):\n")
    } else {
        format!("wire, connection {conn}:\n")
    };
    if let Some(Event::NoServer { .. }) = events.first().map(|s| s.event) {
        out.push_str("  the tap could not reach the server\n");
        return out;
    }
    if udp {
        for s in &events {
            match s.event {
                Event::Data { dir, bytes } => out.push_str(&format!(
                    "  {} datagram {}\n",
                    dir.arrow(),
                    py_compat::bytes_repr(bytes)
                )),
                Event::Trouble { dir, .. } => {
                    out.push_str(&format!("  {} a datagram was lost\n", dir.arrow()))
                }
                _ => {}
            }
        }
        return out;
    }
    for dir in [Direction::ClientToServer, Direction::ServerToClient] {
        let mut stream: Vec<u8> = Vec::new();
        for s in &events {
            if let Event::Data { dir: d, bytes } = s.event
                && *d == dir
            {
                stream.extend_from_slice(bytes);
            }
        }
        // How much passed before compare stopped the programs depends on when it did:
        // only the first bytes count.
        if let Some(limit) = prefix {
            stream.truncate(limit);
        }
        let shown = if stream.is_empty() {
            "nothing".to_string()
        } else {
            py_compat::bytes_repr(&stream)
        };
        out.push_str(&format!("  {} {shown}\n", dir.arrow()));
    }
    if let Some(limit) = prefix {
        out.push_str(&format!(
            "  (compare stopped the programs: the first {limit} bytes each way are \
             compared, not the ends)\n"
        ));
        return out;
    }
    let ends: Vec<(&Seen, Direction, &End)> = events
        .iter()
        .filter_map(|s| match s.event {
            Event::End { dir, how } => Some((s, *dir, how)),
            _ => None,
        })
        .collect();
    let words: Vec<String> = ends
        .iter()
        .map(|(s, dir, how)| {
            if s.after_stop {
                "none until compare stopped the server".to_string()
            } else if **how == End::Fin && went_on(&events, s, *dir, merge) {
                HALF_CLOSE.to_string()
            } else {
                end_words(how)
            }
        })
        .collect();
    let plain = |w: &String| w == "FIN";
    let data_after_first = ends.first().is_some_and(|(first, _, _)| {
        events
            .iter()
            .any(|s| s.pos > first.pos && matches!(s.event, Event::Data { .. }))
    });
    if ends.len() == 2 && words.iter().all(plain) && !data_after_first {
        out.push_str(CROSSING);
    } else {
        for (n, ((_, dir, _), words)) in ends.iter().zip(&words).enumerate() {
            let nth = if n == 0 { "1st" } else { "2nd" };
            out.push_str(&format!("  {nth} end: the {}, {words}\n", dir.sender()));
        }
    }
    for dir in [Direction::ClientToServer, Direction::ServerToClient] {
        if !ends.iter().any(|(_, d, _)| *d == dir) {
            out.push_str(&format!("  no end from the {}\n", dir.sender()));
        }
    }
    out
}

/// A FIN after which the other way still went on.
pub const HALF_CLOSE: &str = "half-close (FIN, and the other way went on after it)";

/// Two plain FINs after the last byte each way.
pub const CROSSING: &str =
    "  ends: a FIN from each side after the last byte (their order is not compared)\n";

/// Whether the other way went on after `dir` ended with the FIN at `end`: bytes the
/// other way came after it; or, with the tap holding `dir`'s bytes back for `merge`,
/// an answer came before that window could close, so the FIN released them: the
/// sender had ended before the other side could have answered, and the answer came.
/// (The tap reports a FIN only after passing on what it held, so the answer may be
/// reported first: the window tells the order the log cannot.)
fn went_on(events: &[Seen], end: &Seen, dir: Direction, merge: Option<Duration>) -> bool {
    let other = |s: &&Seen| matches!(s.event, Event::Data { dir: d, .. } if *d != dir);
    if events.iter().filter(other).any(|s| s.pos > end.pos) {
        return true;
    }
    let Some(window) = merge else { return false };
    let first = events
        .iter()
        .find(|s| matches!(s.event, Event::Data { dir: d, .. } if *d == dir));
    first.is_some_and(|first| {
        events
            .iter()
            .filter(other)
            .any(|s| s.pos > first.pos && s.at < first.at + window)
    })
}

fn end_words(how: &End) -> String {
    match how {
        End::Fin => "FIN".into(),
        End::Reset(_) => "reset".into(),
        End::Error(why) => format!("error ({why})"),
        End::Undelivered(_) => "gone (the tap could not deliver to the other side)".into(),
        End::Cut => "cut off (the other way was reset)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::Shutdown;

    fn seen(conn: u64, event: Event) -> Entry {
        Entry::Seen(stamped(conn, event))
    }

    fn data(dir: Direction, bytes: &[u8]) -> Event {
        Event::Data {
            dir,
            bytes: bytes.to_vec(),
        }
    }

    fn end(dir: Direction, how: End) -> Event {
        Event::End { dir, how }
    }

    use Direction::{ClientToServer as Cs, ServerToClient as Sc};

    fn at(ms: u64, conn: u64, event: Event) -> Entry {
        Entry::Seen(Stamped {
            conn,
            at: Duration::from_millis(ms),
            event,
        })
    }

    fn open() -> Event {
        Event::Open {
            client: ([127, 0, 0, 1], 1).into(),
            server: ([127, 0, 0, 1], 2).into(),
        }
    }

    #[test]
    fn bytes_are_one_stream_and_a_half_close_is_told_from_a_close() {
        // Our short client: its request, its half-close, then the answer.
        let half = [
            seen(1, open()),
            seen(1, data(Cs, b"a")),
            seen(1, data(Cs, b"2")),
            seen(1, end(Cs, End::Fin)),
            seen(1, data(Sc, b"d4.0")),
            seen(1, end(Sc, End::Fin)),
            seen(1, Event::Gone),
        ];
        assert_eq!(
            summary(&half, None, None),
            "wire, connection 1:\n  c->s b'a2'\n  s->c b'd4.0'\n  1st end: the client, \
             half-close (FIN, and the other way went on after it)\n  2nd end: the server, FIN\n"
        );
        // The original: it reads the answer, then closes; the long server never closes
        // until compare stops it.
        let stays = [
            seen(1, open()),
            seen(1, data(Cs, b"a2")),
            seen(1, data(Sc, b"d4.0")),
            seen(1, end(Cs, End::Fin)),
            Entry::ServerStopped,
            seen(1, end(Sc, End::Fin)),
        ];
        assert_eq!(
            summary(&stays, None, None),
            "wire, connection 1:\n  c->s b'a2'\n  s->c b'd4.0'\n  1st end: the client, FIN\n  \
             2nd end: the server, none until compare stopped the server\n"
        );
        assert_eq!(
            summary(&stays, Some(1), None),
            "wire, connection 1:\n  c->s b'a'\n  s->c b'd'\n  (compare stopped the programs: \
             the first 1 bytes each way are compared, not the ends)\n"
        );
        assert_eq!(
            summary(&[], None, None),
            "wire: no connection reached the tap\n"
        );
    }

    #[test]
    fn two_plain_fins_after_the_last_byte_have_no_order() {
        let both_close = |client_first: bool| {
            let mut log = vec![seen(1, data(Sc, b"ok")), seen(1, data(Cs, b"exit"))];
            let (a, b) = (end(Cs, End::Fin), end(Sc, End::Fin));
            if client_first {
                log.extend([seen(1, a), seen(1, b)]);
            } else {
                log.extend([seen(1, b), seen(1, a)]);
            }
            summary(&log, None, None)
        };
        assert_eq!(both_close(true), both_close(false));
        assert!(both_close(true).ends_with(CROSSING));
        // A server that closes before the client's last message ended first.
        let early = [
            seen(1, data(Sc, b"ok")),
            seen(1, end(Sc, End::Fin)),
            seen(1, data(Cs, b"exit")),
            seen(1, end(Cs, End::Fin)),
        ];
        let text = summary(&early, None, None);
        assert!(text.contains("1st end: the server, half-close"), "{text}");
        assert!(text.contains("2nd end: the client, FIN"), "{text}");
    }

    #[test]
    fn a_held_request_tells_a_half_close_that_the_log_shows_late() {
        // The tap held the request for 100 ms: the answer came 1 ms after it, so the
        // client's FIN released it, though the tap reported the FIN after the answer.
        let merge = Some(Duration::from_millis(100));
        let raced = [
            at(0, 1, data(Cs, b"a2")),
            at(1, 1, data(Sc, b"d4.0")),
            at(1, 1, end(Cs, End::Fin)),
            at(2, 1, end(Sc, End::Fin)),
        ];
        assert!(summary(&raced, None, merge).contains(HALF_CLOSE));
        // An answer after the window: the window released the request, and the
        // client closed after the answer.
        let closed = [
            at(0, 1, data(Cs, b"a2")),
            at(101, 1, data(Sc, b"d4.0")),
            at(103, 1, end(Cs, End::Fin)),
            at(104, 1, end(Sc, End::Fin)),
        ];
        assert!(summary(&closed, None, merge).ends_with(CROSSING));
        // Without a window, the log's order is all there is.
        assert!(summary(&raced, None, None).ends_with(CROSSING));
    }

    #[test]
    fn merged_writes_are_counted() {
        let passed = |reads, writes| Event::PassedOn {
            dir: Cs,
            reads,
            bytes: 11,
            writes,
        };
        let two_reads_one_write = [
            seen(1, data(Cs, b"hello")),
            seen(1, data(Cs, b" world")),
            seen(1, passed(2, 1)),
        ];
        assert_eq!(writes_to_server(&two_reads_one_write), 1);
        let apart = [seen(1, data(Cs, b"hello")), seen(1, data(Cs, b" world"))];
        assert_eq!(writes_to_server(&apart), 2);
    }

    #[test]
    fn a_tcp_tap_relays_and_reports_the_runs_ports() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let server_port = server.local_addr().unwrap().port();
        let tap = Tap::tcp(server_port, Shaping::default()).unwrap();
        let mut client = TcpStream::connect(("127.0.0.1", tap.port())).unwrap();
        let client_port = client.local_addr().unwrap().port();
        let (mut conn, seen_as) = server.accept().unwrap();
        client.write_all(b"ping").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        conn.read_to_end(&mut got).unwrap();
        conn.write_all(b"pong").unwrap();
        drop(conn);
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).unwrap();
        assert_eq!(
            (got.as_slice(), answer.as_slice()),
            (&b"ping"[..], &b"pong"[..])
        );
        drop(client);
        let tap_port = tap.port();
        let wire = tap.finish(Duration::from_secs(10));
        assert!(
            summary(&wire.entries, None, None).contains("1st end: the client, half-close"),
            "{}",
            summary(&wire.entries, None, None)
        );
        for port in [server_port, tap_port, client_port, seen_as.port()] {
            assert!(wire.ports.contains(&port), "{port} not in {:?}", wire.ports);
        }
    }

    #[test]
    fn a_udp_tap_relays_datagrams_and_stops() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let server_port = server.local_addr().unwrap().port();
        let tap = Tap::udp(server_port).unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.send_to(b"hello", ("127.0.0.1", tap.port())).unwrap();
        let mut buf = [0u8; 64];
        server
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let (n, seen_as) = server.recv_from(&mut buf).unwrap();
        server.send_to(b"pong", seen_as).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let (m, _) = client.recv_from(&mut buf[n..]).unwrap();
        assert_eq!(&buf[..n + m], b"hellopong");
        let wire = tap.finish(Duration::from_secs(10));
        assert_eq!(
            summary(&wire.entries, None, None),
            "wire, client 1 (UDP datagrams):\n  c->s datagram b'hello'\n  s->c datagram b'pong'\n"
        );
        assert!(wire.ports.contains(&seen_as.port()));
    }
}
