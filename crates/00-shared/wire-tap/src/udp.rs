//! Datagrams through the tap. UDP has no connections: the tap gives each client (each
//! address that sends to it) a socket of its own, connected to the server, so that the
//! server's answers on that socket go back to that client, from the tap's address.
//! A datagram is a message: the tap never cuts or joins them.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, Scope};
use std::time::{Duration, Instant};

use crate::{Direction, Event, Stamped};

/// The most clients the tap relays for at once; datagrams from one more are dropped
/// (and that is logged) until one of them is forgotten.
pub const MAX_PEERS: usize = 64;

/// A client that sends nothing and gets nothing for this long is forgotten: its socket
/// to the server is closed (a later datagram from it starts afresh).
pub const IDLE: Duration = Duration::from_secs(30);

/// How often a relay started by [`relay_udp_until`] looks whether it must stop.
pub const TICK: Duration = Duration::from_millis(20);

/// Room for the largest datagram: UDP's payload over IPv4 is at most 65507 bytes.
const DATAGRAM: usize = 64 * 1024;

/// One client of the tap.
struct Peer {
    conn: u64,
    client: SocketAddr,
    first: Instant,
    /// The tap's socket for this client, connected to the server.
    upstream: UdpSocket,
}

/// The clients the tap knows, and when a datagram last passed for each, either way.
type Peers = Mutex<HashMap<SocketAddr, (Arc<Peer>, Instant)>>;

/// What the relay's threads share.
struct Udp<'a> {
    sock: &'a UdpSocket,
    server: SocketAddr,
    peers: Peers,
    record: &'a (dyn Fn(Stamped) + Sync),
    /// Set by the caller of [`relay_udp_until`] to end the relay; None for [`relay_udp`].
    stop: Option<&'a AtomicBool>,
    /// Told the tap's own address towards the server for each new client: the address
    /// the server sees that client as.
    opened: Option<&'a (dyn Fn(u64, SocketAddr) + Sync)>,
}

/// Relays datagrams between the clients that send to `sock` and the server at
/// `server`, for ever, reporting each datagram to `record`. A datagram that cannot be
/// passed on is reported, and the relay goes on.
pub fn relay_udp(sock: &UdpSocket, server: SocketAddr, record: &(dyn Fn(Stamped) + Sync)) {
    let udp = Udp {
        sock,
        server,
        peers: Mutex::new(HashMap::new()),
        record,
        stop: None,
        opened: None,
    };
    thread::scope(|scope| udp.run(scope));
}

/// [`relay_udp`] for a caller that must end it (compare relays one scenario at a time):
/// it returns within about [`TICK`] once `stop` is set, its threads ended. `opened` is
/// told, for each new client, the address of the tap's socket towards the server: the
/// address the server sees that client as. (It sets a read timeout of [`TICK`] on
/// `sock`.)
pub fn relay_udp_until(
    sock: &UdpSocket,
    server: SocketAddr,
    stop: &AtomicBool,
    record: &(dyn Fn(Stamped) + Sync),
    opened: &(dyn Fn(u64, SocketAddr) + Sync),
) -> std::io::Result<()> {
    sock.set_read_timeout(Some(TICK))?;
    let udp = Udp {
        sock,
        server,
        peers: Mutex::new(HashMap::new()),
        record,
        stop: Some(stop),
        opened: Some(opened),
    };
    thread::scope(|scope| udp.run(scope));
    Ok(())
}

impl<'a> Udp<'a> {
    /// Whether the caller of [`relay_udp_until`] asked the relay to end.
    fn stopped(&self) -> bool {
        self.stop.is_some_and(|stop| stop.load(Ordering::SeqCst))
    }

    fn emit(&self, peer: &Peer, event: Event) {
        (self.record)(Stamped {
            conn: peer.conn,
            at: peer.first.elapsed(),
            event,
        });
    }

    /// Client to server: every datagram that arrives at the tap's address.
    fn run<'s>(&'s self, scope: &'s Scope<'s, '_>) {
        let mut buf = vec![0u8; DATAGRAM];
        let mut clients = 0;
        let mut full = false;
        while !self.stopped() {
            let (n, client) = match self.sock.recv_from(&mut buf) {
                Ok(got) => got,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // relay_udp_until's read timeout: time to look at `stop` again.
                Err(e) if self.stop.is_some() && lesson_cli::is_timeout(&e) => continue,
                Err(e) => {
                    // Windows reports here that an answer sent to a client found nobody
                    // listening ("port unreachable"), which is no reason to stop. An
                    // error that repeats at once must not make this loop spin: wait.
                    log(format_args!(
                        "receiving a datagram failed: {}",
                        lesson_cli::reason(&e)
                    ));
                    thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
            let known = self.touch(client);
            let peer = match known {
                Some(peer) => peer,
                None if self.count() >= MAX_PEERS => {
                    if !full {
                        log(format_args!(
                            "{MAX_PEERS} clients at once, the most it relays for: datagrams \
                             from new ones are dropped until one is forgotten"
                        ));
                        full = true;
                    }
                    continue;
                }
                None => {
                    clients += 1;
                    match self.add(scope, clients, client) {
                        Ok(peer) => peer,
                        Err(why) => {
                            log(format_args!("{client}: {why}; dropped its datagram"));
                            continue;
                        }
                    }
                }
            };
            full = false;
            let bytes = buf[..n].to_vec();
            self.emit(
                &peer,
                Event::Data {
                    dir: Direction::ClientToServer,
                    bytes,
                },
            );
            if let Err(e) = peer.upstream.send(&buf[..n]) {
                let why = lesson_cli::reason(&e);
                self.emit(
                    &peer,
                    Event::Trouble {
                        dir: Direction::ClientToServer,
                        why,
                    },
                );
            }
        }
    }

    /// The peer of `client`, if known, with its last datagram's time set to now.
    fn touch(&self, client: SocketAddr) -> Option<Arc<Peer>> {
        let mut peers = self.peers.lock().ok()?;
        let (peer, last) = peers.get_mut(&client)?;
        *last = Instant::now();
        Some(Arc::clone(peer))
    }

    fn count(&self) -> usize {
        self.peers.lock().map(|p| p.len()).unwrap_or(MAX_PEERS)
    }

    /// A new client: a socket of its own towards the server, and a thread for the
    /// server's answers.
    fn add<'s>(
        &'s self,
        scope: &'s Scope<'s, '_>,
        conn: u64,
        client: SocketAddr,
    ) -> Result<Arc<Peer>, String> {
        let any: SocketAddr = if self.server.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        // The answers' thread wakes every IDLE to see whether its client is forgotten;
        // under relay_udp_until, every TICK, to see whether it must stop too.
        let wake = if self.stop.is_some() { TICK } else { IDLE };
        let upstream = UdpSocket::bind(any)
            .and_then(|s| s.connect(self.server).map(|()| s))
            .and_then(|s| s.set_read_timeout(Some(wake)).map(|()| s))
            .map_err(|e| {
                format!(
                    "cannot open a socket towards the server: {}",
                    lesson_cli::reason(&e)
                )
            })?;
        if let (Some(opened), Ok(local)) = (self.opened, upstream.local_addr()) {
            opened(conn, local);
        }
        let peer = Arc::new(Peer {
            conn,
            client,
            first: Instant::now(),
            upstream,
        });
        if let Ok(mut peers) = self.peers.lock() {
            peers.insert(client, (Arc::clone(&peer), Instant::now()));
        }
        let answers = Arc::clone(&peer);
        let started = thread::Builder::new()
            .name(format!("#{conn} s->c"))
            .spawn_scoped(scope, move || self.answers(&answers));
        if let Err(e) = started {
            self.forget(client, Duration::ZERO);
            return Err(format!(
                "cannot start a thread ({})",
                lesson_cli::reason(&e)
            ));
        }
        self.emit(
            &peer,
            Event::Peer {
                client,
                server: self.server,
            },
        );
        Ok(peer)
    }

    /// Server to client: the answers that come back on one client's socket.
    fn answers(&self, peer: &Peer) {
        let mut buf = vec![0u8; DATAGRAM];
        while !self.stopped() {
            match peer.upstream.recv(&mut buf) {
                Ok(n) => {
                    self.touch(peer.client);
                    self.emit(
                        peer,
                        Event::Data {
                            dir: Direction::ServerToClient,
                            bytes: buf[..n].to_vec(),
                        },
                    );
                    if let Err(e) = self.sock.send_to(&buf[..n], peer.client) {
                        let why = lesson_cli::reason(&e);
                        self.emit(
                            peer,
                            Event::Trouble {
                                dir: Direction::ServerToClient,
                                why,
                            },
                        );
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if lesson_cli::is_timeout(&e) => {
                    if self.forget(peer.client, IDLE) {
                        self.emit(peer, Event::Forgotten { idle: IDLE });
                        return;
                    }
                }
                // "port unreachable" from the server's machine, for a datagram sent
                // before: nobody listens at `to` (yet). Reported; a client may retry.
                Err(e) => {
                    let why = lesson_cli::reason(&e);
                    self.emit(
                        peer,
                        Event::Trouble {
                            dir: Direction::ServerToClient,
                            why,
                        },
                    );
                    thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }

    /// Removes `client` if nothing passed for it for `idle`; says whether it did.
    fn forget(&self, client: SocketAddr, idle: Duration) -> bool {
        let Ok(mut peers) = self.peers.lock() else {
            return false;
        };
        match peers.get(&client) {
            Some((_, last)) if last.elapsed() >= idle => {
                peers.remove(&client);
                true
            }
            _ => false,
        }
    }
}

/// One line on stderr, in the program's name.
fn log(what: std::fmt::Arguments) {
    eprintln!("{}: {what}", lesson_cli::program_name());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_forgotten_only_after_its_idle_time() {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = sock.local_addr().unwrap();
        let record = |_: Stamped| {};
        let udp = Udp {
            sock: &sock,
            server,
            peers: Mutex::new(HashMap::new()),
            record: &record,
            stop: None,
            opened: None,
        };
        let client: SocketAddr = ([127, 0, 0, 1], 5).into();
        let peer = Arc::new(Peer {
            conn: 1,
            client,
            first: Instant::now(),
            upstream: UdpSocket::bind("127.0.0.1:0").unwrap(),
        });
        let now = Instant::now();
        udp.peers
            .lock()
            .unwrap()
            .insert(client, (Arc::clone(&peer), now));
        assert!(!udp.forget(client, IDLE));
        assert!(udp.touch(client).is_some());
        // A datagram passed IDLE ago, and nothing since.
        if let Some(then) = now.checked_sub(IDLE) {
            udp.peers.lock().unwrap().insert(client, (peer, then));
            assert!(udp.forget(client, IDLE));
            assert!(udp.touch(client).is_none());
        }
    }
}
