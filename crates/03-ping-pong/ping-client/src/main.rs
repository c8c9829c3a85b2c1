//! Lesson 03: what the lesson does with telnet (TCP) and nc (TCP, or UDP with `-u`):
//! send one line to the ping/pong server and print its reply. For students who have
//! neither tool, and to show the client side of both protocols in a few lines.

use std::io::ErrorKind::{ConnectionRefused, ConnectionReset};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use armour::Deadline;
use lesson_cli::{Args, is_timeout, reason};

const HELP: &str = include_str!("help.txt");

/// Why an unconnected UDP socket hears nothing, and what "port unreachable" means.
const NOT_TOLD: &str = "is ping-pong-server running? an unconnected UDP socket is not told that nobody listens: try --connect";
const NOBODY: &str = "the port is unreachable: nobody listens there; is ping-pong-server running?";

fn main() {
    let mut args = Args::parse("ping-client", HELP);
    let addr = args.addr("127.0.0.1:8888");
    let udp = args.flag("--udp");
    let connected = args.flag("--connect");
    if connected && !udp {
        args.usage_error("--connect is for UDP: give --udp too (a TCP socket always connects)");
    }
    let timeout = args.timeout("--timeout-ms", 3000);
    // What `echo hello pdudo | nc ...` sends: the text (the words given, else hello
    // pdudo) and a newline.
    let words = Some(args.positional()).filter(|words| !words.is_empty());
    let line = words.map_or("hello pdudo".into(), |words| words.join(" ")) + "\n";

    let reply = match udp {
        false => ping_tcp(&addr, line.as_bytes(), timeout),
        true => ping_udp(&addr, line.as_bytes(), timeout, connected),
    };
    let reply = reply.unwrap_or_else(|why| args.fail(why));
    // Print the reply's bytes as they came, like telnet and nc, adding nothing (a reply
    // without a newline ends without one). A closed stdout (`| head -0`) ends it quietly.
    armour::stdout::print_bytes(&reply);
}

/// TCP: connect (the three-way handshake), send the line, read the reply line.
fn ping_tcp(addr: &str, line: &[u8], timeout: Duration) -> Result<Vec<u8>, String> {
    // connect fails at once when nobody listens: the server's system answers the
    // handshake with a reset ("Connection refused").
    let stream = TcpStream::connect(addr)
        .map_err(|e| lesson_cli::connect_failed(addr, "ping-pong-server", &e))?;
    // The timeout bounds the whole exchange, however many pieces the reply comes in.
    let mut server = Deadline::after(timeout).on(&stream);
    let sent = server.write_all(line);
    sent.map_err(|e| format!("cannot send to {addr}: {}", reason(&e)))?;
    // The reply is one line: up to the newline (at most 1024 bytes) or the end of the
    // stream.
    let mut reply = Vec::new();
    let reader = BufReader::new(server);
    match reader.take(1024).read_until(b'\n', &mut reply) {
        Err(e) if is_timeout(&e) => Err(format!("no reply from {addr} within {timeout:?}")),
        Err(e) => Err(format!("no reply from {addr}: {}", reason(&e))),
        Ok(0) => Err(format!("{addr} closed the connection without a reply")),
        Ok(_) => Ok(reply),
    }
    // `stream` is dropped here, which closes the connection, as quitting telnet does.
}

/// UDP: no connection. send_to one datagram, then recv_from, which also says who sent
/// what comes back.
fn ping_udp(addr: &str, line: &[u8], timeout: Duration, connect: bool) -> Result<Vec<u8>, String> {
    // The server's first IPv4 address if it has one (it listens on 0.0.0.0 by default,
    // IPv4 only), and a socket of that family on a port the system picks.
    let resolved = addr.to_socket_addrs();
    let resolved = resolved.map_err(|e| format!("cannot resolve {addr}: {}", reason(&e)))?;
    let first_v4 = resolved.min_by_key(SocketAddr::is_ipv6);
    let server = first_v4.ok_or(format!("cannot resolve {addr}: no address"))?;
    let v4 = server.is_ipv4();
    let local = if v4 { "0.0.0.0:0" } else { "[::]:0" };
    let sock = UdpSocket::bind(local);
    let sock = sock.map_err(|e| format!("cannot open a UDP socket: {}", reason(&e)))?;
    // send_to succeeds even when nobody listens there: UDP does not ask first. If nobody
    // does, that machine answers with an ICMP "port unreachable" message, which the
    // system passes on to a connected socket only (an unconnected one may talk to anyone,
    // an error code could not say which datagram it is about).
    let sent = if connect {
        // connect() on a UDP socket sends nothing (no handshake): it fixes the one peer
        // of this socket, whose datagrams alone it then receives, errors included.
        sock.connect(server).and_then(|()| sock.send(line))
    } else {
        sock.send_to(line, server)
    };
    sent.map_err(|e| format!("cannot send to {addr}: {}", reason(&e)))?;
    let deadline = Deadline::after(timeout);
    let mut buf = vec![0u8; 64 * 1024];
    let e = loop {
        // Whatever else arrives, the reply must come within the timeout (once it has
        // passed, recv_from waits 1 ms more and times out).
        let left = deadline.remaining().unwrap_or(Duration::from_millis(1));
        sock.set_read_timeout(Some(left)).map_err(|e| reason(&e))?;
        match sock.recv_from(&mut buf) {
            // Anyone may send us a datagram: only the server's counts as the reply.
            Ok((n, from)) if from == server => return Ok(buf[..n].to_vec()),
            Ok((n, from)) => {
                eprintln!("ping-client: ignored {n} bytes from {from}, not from {server}")
            }
            Err(e) => break e,
        }
    };
    // "Port unreachable" comes back as `Connection refused` (on Windows, `Connection
    // reset`): UDP has no connection to refuse, the words are the system's.
    let why = match (is_timeout(&e), connect, e.kind()) {
        (true, true, _) => format!(" within {timeout:?} (lost on the way, or not answered)"),
        (true, false, _) => format!(" within {timeout:?} ({NOT_TOLD})"),
        (_, _, ConnectionRefused | ConnectionReset) => format!(": {} ({NOBODY})", reason(&e)),
        _ => format!(": {}", reason(&e)),
    };
    Err(format!("no UDP reply from {addr}{why}"))
}
