//! Lesson 03: what the lesson does with telnet (TCP) and nc (TCP, or UDP with `-u`):
//! send one line to the ping/pong server and print its reply. For students who have
//! neither tool, and to show the client side of both protocols in a few lines.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use lesson_cli::Args;

const HELP: &str = "\
usage: ping-client [--addr HOST:PORT] [--udp [--connect]] [--timeout-ms MS] [MESSAGE...]

Lesson 03: a stand-in for `telnet 127.0.0.1 8888` and `nc [-u] 127.0.0.1 8888`.
Sends one line, MESSAGE and a newline (default `hello pdudo`), to ping-pong-server
over TCP, or over UDP with --udp, and prints the reply exactly as it arrives
(`pong` and its newline): over TCP its first line, over UDP the datagram.
If no reply comes within the timeout, it says so and exits 1. Over UDP a lost
datagram is simply never answered. One sent to a port where nobody listens makes
that machine answer with an ICMP \"port unreachable\" message, which Linux and macOS
only pass on to a UDP socket that is connected (Windows to any UDP socket): with
--connect, ping-client says that nobody listens as soon as that message arrives;
without, it only sees that no reply came.

options:
  --addr HOST:PORT   where the server is (default 127.0.0.1:8888)
  --udp              send one UDP datagram instead of a line over a TCP connection
  --connect          with --udp: connect() the UDP socket to the server first (no
                     packet is sent: it fixes the peer), so that the system reports
                     \"port unreachable\" to it as `Connection refused`
  --timeout-ms MS    how long to wait for the reply (default 3000)
  -h, --help         this text
";

fn main() {
    let mut args = Args::parse("ping-client", HELP);
    let addr = args.addr("127.0.0.1:8888");
    let udp = args.flag("--udp");
    let connected = args.flag("--connect");
    if connected && !udp {
        args.usage_error("--connect is for UDP: give --udp too (a TCP socket always connects)");
    }
    let timeout = args.timeout("--timeout-ms", 3000);
    let words = args.positional();
    let message = if words.is_empty() {
        "hello pdudo".to_string()
    } else {
        words.join(" ")
    };
    // What `echo hello pdudo | nc ...` sends: the text and a newline.
    let line = format!("{message}\n");

    let reply = if udp && connected {
        ping_udp_connected(&addr, line.as_bytes(), timeout)
    } else if udp {
        ping_udp(&addr, line.as_bytes(), timeout)
    } else {
        ping_tcp(&addr, line.as_bytes(), timeout)
    };
    match reply {
        Ok(reply) => {
            // Print the reply as it came, like telnet and nc: byte for byte, adding
            // nothing (a reply without a newline ends without one).
            let mut stdout = io::stdout();
            if let Err(e) = stdout.write_all(&reply).and_then(|()| stdout.flush()) {
                args.fail(format_args!(
                    "cannot print the reply: {}",
                    lesson_cli::reason(&e)
                ));
            }
        }
        Err(why) => args.fail(why),
    }
}

/// TCP: connect (the three-way handshake), send the line, read the reply line.
fn ping_tcp(addr: &str, line: &[u8], timeout: Duration) -> Result<Vec<u8>, String> {
    // connect fails at once when nobody listens: the server's system answers the
    // handshake with a reset ("Connection refused").
    let stream = TcpStream::connect(addr)
        .map_err(|e| lesson_cli::connect_failed(addr, "ping-pong-server", &e))?;
    (&stream)
        .write_all(line)
        .map_err(|e| format!("cannot send to {addr}: {}", lesson_cli::reason(&e)))?;

    // The reply is one line. TCP may hand it over in pieces, so read up to the newline
    // (at most 1024 bytes) or the end of the stream, and never wait longer than the
    // timeout.
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| lesson_cli::reason(&e))?;
    let mut reply = Vec::new();
    BufReader::new(&stream)
        .take(1024)
        .read_until(b'\n', &mut reply)
        .map_err(|e| {
            if lesson_cli::is_timeout(&e) {
                format!("no reply from {addr} within {timeout:?}")
            } else {
                format!("no reply from {addr}: {}", lesson_cli::reason(&e))
            }
        })?;
    if reply.is_empty() {
        return Err(format!("{addr} closed the connection without a reply"));
    }
    Ok(reply)
    // `stream` is dropped here, which closes the connection, as quitting telnet does.
}

/// UDP: no connection. Send one datagram with send_to, then wait for one to come back
/// with recv_from, which also says who sent it.
fn ping_udp(addr: &str, line: &[u8], timeout: Duration) -> Result<Vec<u8>, String> {
    let (sock, server) = udp_socket(addr)?;
    // send_to succeeds even when nobody listens there: UDP does not ask first. If
    // nobody does, that machine answers with an ICMP "port unreachable" message, but
    // the system does not pass it on to an unconnected socket like this one (it could
    // be about any of the datagrams it sent to anyone): we only see that no reply came.
    sock.send_to(line, server)
        .map_err(|e| format!("cannot send to {addr}: {}", lesson_cli::reason(&e)))?;

    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(no_udp_reply(addr, timeout, false));
        }
        sock.set_read_timeout(Some(left))
            .map_err(|e| lesson_cli::reason(&e))?;
        match sock.recv_from(&mut buf) {
            // Anyone may send us a datagram: only the server's counts as the reply.
            Ok((n, from)) if from == server => return Ok(buf[..n].to_vec()),
            Ok((n, from)) => {
                eprintln!("ping-client: ignored {n} bytes from {from}, not from {server}");
            }
            Err(e) if lesson_cli::is_timeout(&e) => return Err(no_udp_reply(addr, timeout, false)),
            // Windows reports the "port unreachable" answer to our datagram this way.
            Err(e) => return Err(udp_error(addr, &e)),
        }
    }
}

/// UDP on a connected socket: connect() sends nothing (UDP has no handshake); it fixes
/// the one peer of this socket. The system then delivers only that peer's datagrams,
/// and reports an ICMP "port unreachable" from it as an error of the next send or recv.
fn ping_udp_connected(addr: &str, line: &[u8], timeout: Duration) -> Result<Vec<u8>, String> {
    let (sock, server) = udp_socket(addr)?;
    sock.connect(server).map_err(|e| {
        format!(
            "cannot connect the UDP socket to {addr}: {}",
            lesson_cli::reason(&e)
        )
    })?;
    sock.send(line).map_err(|e| udp_error(addr, &e))?;
    sock.set_read_timeout(Some(timeout))
        .map_err(|e| lesson_cli::reason(&e))?;
    let mut buf = vec![0u8; 64 * 1024];
    match sock.recv(&mut buf) {
        Ok(n) => Ok(buf[..n].to_vec()),
        Err(e) if lesson_cli::is_timeout(&e) => Err(no_udp_reply(addr, timeout, true)),
        Err(e) => Err(udp_error(addr, &e)),
    }
}

/// A UDP socket on a port the system picks (the server answers to whatever it is),
/// of the same family as the server's address.
fn udp_socket(addr: &str) -> Result<(UdpSocket, SocketAddr), String> {
    let server = resolve(addr)?;
    let local = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let sock = UdpSocket::bind(local)
        .map_err(|e| format!("cannot open a UDP socket: {}", lesson_cli::reason(&e)))?;
    Ok((sock, server))
}

/// A failed UDP send or recv, in one line. "Port unreachable" comes back as
/// `Connection refused` (or, on Windows, `Connection reset`): UDP has no connection
/// to refuse, the words are the system's.
fn udp_error(addr: &str, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset => format!(
            "no UDP reply from {addr}: {} (the port is unreachable: nobody listens there; \
             is ping-pong-server running?)",
            lesson_cli::reason(e)
        ),
        _ => format!("no UDP reply from {addr}: {}", lesson_cli::reason(e)),
    }
}

fn no_udp_reply(addr: &str, timeout: Duration, connected: bool) -> String {
    if connected {
        format!("no UDP reply from {addr} within {timeout:?} (lost on the way, or not answered)")
    } else {
        format!(
            "no UDP reply from {addr} within {timeout:?} (is ping-pong-server running? \
             an unconnected UDP socket is not told that nobody listens: try --connect)"
        )
    }
}

/// The server's address for UDP: the first IPv4 address of the name if it has one
/// (the server listens on 0.0.0.0 by default, IPv4 only), else the first address.
fn resolve(addr: &str) -> Result<SocketAddr, String> {
    let all: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr}: {}", lesson_cli::reason(&e)))?
        .collect();
    all.iter()
        .find(|a| a.is_ipv4())
        .or(all.first())
        .copied()
        .ok_or_else(|| format!("cannot resolve {addr}: no address"))
}
