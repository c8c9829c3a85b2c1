//! wire-tap: a lesson tool that sits between a client and a server and prints what
//! passes on the wire: each connection, each chunk that one read returned, each
//! half-close and reset. To the client the tap is the server (bind, accept); to the
//! server it is the client (connect). The relay itself is the library beside this file.

use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use armour::{AcceptBackoff, println};
use lesson_cli::{Args, reason};
use wire_tap::{Event, Format, Shaping, Stamped};

const HELP: &str = include_str!("help.txt");

/// The most TCP connections relayed at once: two threads and two sockets each.
const MAX_CONNECTIONS: usize = 64;

fn main() {
    let mut args = Args::parse("wire-tap", HELP);
    let tap = Tap::from_args(&mut args);
    let failed = if tap.udp {
        tap_udp(&tap)
    } else {
        tap_tcp(&tap)
    };
    if let Err(e) = failed {
        args.fail(format_args!(
            "cannot listen on {}: {}",
            tap.listen,
            reason(&e)
        ));
    }
}

/// TCP: accept each client, and relay it on a thread of its own.
fn tap_tcp(tap: &Tap) -> std::io::Result<()> {
    // socket + bind + listen: to the client, the tap is the server.
    let listener = TcpListener::bind(&tap.listen)?;
    let to = &tap.to;
    armour::listening(format_args!(
        "{} (relaying to {to})",
        listener.local_addr()?
    ));
    let server: Arc<[SocketAddr]> = tap.server.clone().into();
    let open = Arc::new(AtomicUsize::new(0));
    let mut backoff = AcceptBackoff::default();
    let mut conn = 0;
    loop {
        let Some((client, addr)) = backoff.check("wire-tap", listener.accept()) else {
            continue;
        };
        conn += 1;
        let Some(place) = Place::take(&open) else {
            eprintln!(
                "wire-tap: #{conn} from {addr}: {MAX_CONNECTIONS} connections are open, the most it relays; closed this one"
            );
            continue;
        };
        let (server, shaping, format) = (Arc::clone(&server), tap.shaping.clone(), tap.format);
        let started = thread::Builder::new().spawn(move || {
            let _place = place; // given back when this connection is gone
            relay(conn, client, addr, &server, &shaping, format);
        });
        if let Err(e) = started {
            eprintln!(
                "wire-tap: #{conn} from {addr}: cannot start a thread ({}); closed the connection",
                reason(&e)
            );
        }
    }
}

/// One client: connect to the server for it, then relay both ways until both end.
fn relay(
    conn: u64,
    client: TcpStream,
    addr: SocketAddr,
    server: &[SocketAddr],
    shaping: &Shaping,
    format: Format,
) {
    let print = |stamped: Stamped| println!("{}", format.line(&stamped));
    // connect: to the server, the tap is the client.
    match TcpStream::connect(server) {
        Ok(server) => {
            if let Err(e) = wire_tap::relay(conn, &client, &server, shaping, &print) {
                eprintln!(
                    "wire-tap: #{conn} from {addr}: cannot start a thread ({}); closed the connection",
                    reason(&e)
                );
            }
        }
        Err(e) => print(Stamped {
            conn,
            at: Duration::ZERO,
            event: Event::NoServer {
                client: addr,
                why: reason(&e),
            },
        }),
    }
    // `client` (and `server`) are dropped here: the tap's sockets close.
}

/// UDP: every datagram to the tap goes to the server, every answer back to its client.
fn tap_udp(tap: &Tap) -> std::io::Result<()> {
    // socket(SOCK_DGRAM) + bind, no listen and no accept: datagrams simply arrive.
    let sock = UdpSocket::bind(&tap.listen)?;
    let to = &tap.to;
    armour::listening(format_args!(
        "{} (UDP, relaying to {to})",
        sock.local_addr()?
    ));
    let print = |stamped: Stamped| println!("{}", tap.format.line(&stamped));
    // A UDP socket sends to one address: the first of --to's.
    wire_tap::relay_udp(&sock, tap.server[0], &print);
    Ok(())
}

/// What the command line asks for.
struct Tap {
    listen: String,
    to: String,
    /// The addresses of --to, looked up once (never empty).
    server: Vec<SocketAddr>,
    udp: bool,
    format: Format,
    shaping: Shaping,
}

impl Tap {
    fn from_args(args: &mut Args) -> Tap {
        let listen: Option<String> = args.value("--listen");
        let addr = args.addr(""); // --addr, the name every server of ours takes
        let to: Option<String> = args.value("--to");
        let udp = args.flag("--udp");
        let format = Format {
            no_times: args.flag("--no-times"),
            hex: args.flag("--hex"),
        };
        let chunk: Option<usize> = args.value("--chunk");
        let delay: Option<u64> = args.value("--delay-ms");
        let merge: Option<u64> = args.value("--merge-ms");
        let timeout = args.timeout("--timeout-ms", 10_000);
        args.finish();

        let listen = match (listen, addr.is_empty()) {
            (Some(listen), true) => checked(args, "--listen", listen),
            (None, false) => addr,
            (Some(_), false) => args.usage_error("--listen and --addr are one option: give one"),
            (None, true) => args.usage_error("give --listen HOST:PORT: where the client connects"),
        };
        let Some(to) = to.map(|to| checked(args, "--to", to)) else {
            args.usage_error("give --to HOST:PORT: where the server is");
        };
        if chunk == Some(0) {
            args.usage_error("--chunk must be at least 1");
        }
        if udp && (chunk.is_some() || delay.is_some() || merge.is_some()) {
            args.usage_error(
                "--chunk, --delay-ms and --merge-ms shape TCP streams, not --udp datagrams",
            );
        }
        // A name that does not resolve is said now, not at the first client.
        let server: Vec<SocketAddr> = match to.to_socket_addrs() {
            Ok(found) => found.collect(),
            Err(e) => args.fail(lesson_cli::connect_failed(&to, "the server", &e)),
        };
        if server.is_empty() {
            args.fail(format_args!("cannot resolve host '{to}'"));
        }
        let shaping = Shaping {
            chunk,
            delay: Duration::from_millis(delay.unwrap_or(0)),
            merge: merge.map(Duration::from_millis),
            timeout,
        };
        Tap {
            listen,
            to,
            server,
            udp,
            format,
            shaping,
        }
    }
}

/// `HOST:PORT` in `value`, or a usage error naming `option`.
fn checked(args: &Args, option: &str, value: String) -> String {
    match value.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => value,
        _ => args.usage_error(format_args!(
            "{option} needs HOST:PORT with a port from 0 to 65535, got '{value}'"
        )),
    }
}

/// A place among the MAX_CONNECTIONS that may be open at once, given back when dropped.
struct Place(Arc<AtomicUsize>);

impl Place {
    fn take(open: &Arc<AtomicUsize>) -> Option<Place> {
        if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Place(Arc::clone(open)))
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
