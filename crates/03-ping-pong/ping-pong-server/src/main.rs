//! Lesson 03: the ping/pong server, on TCP and UDP at the same port, one thread each.
//!
//! The lesson describes this program but its code did not survive in the document, so
//! this is a reconstruction from the description: two sockets bound to 0.0.0.0:8888 (a
//! TCP listener and a UDP socket), a list `threadJobs` of two threads that both run
//! `pingPongServer(sockType, sock)`, which accepts (TCP) or does not (UDP), then prints
//! what it receives and answers `pong`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::thread;
use std::time::Duration;

use armour::{AcceptBackoff, Deadline, println};
use lesson_cli::{Args, reason};
use py_compat::{addr_repr, bytes_repr};

const HELP: &str = include_str!("help.txt");

/// The answer to every message: `pong` and a newline, so that telnet and nc show it on
/// a line of its own.
const PONG: &[u8] = b"pong\n";

/// The longest TCP line the server keeps in memory. A client that sends more without a
/// newline is dropped (UDP needs no limit: a datagram is at most 65507 bytes).
const MAX_LINE: usize = 64 * 1024;

/// How much of one message stdout shows: the original's `recv(1024)`.
const SHOWN: usize = 1024;

/// The two kinds of socket the original passes to `pingPongServer` with its `sockType`.
enum Sock {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

fn main() {
    let mut args = Args::parse("ping-pong-server", HELP);
    let addr = args.addr("0.0.0.0:8888");
    // How long a TCP client may leave a `pong` untaken. A write blocks once the client
    // stops reading and the buffers on both sides are full; without a limit, a client
    // that sends lines and never reads would hold its thread for ever.
    let timeout = args.timeout("--timeout-ms", 10_000);
    args.finish();

    // What cannot be set up ends the server with one line: `ping-pong-server: WHAT: WHY`.
    let fail = |what: &str, e| -> ! { args.fail(format_args!("{what}: {}", reason(&e))) };
    // TCP port 8888 and UDP port 8888 are two different ports that share a number, so
    // both binds succeed side by side.
    let mut tries = 1;
    let (tcp_sock, udp_sock, bound) = loop {
        // socket(AF_INET, SOCK_STREAM) + bind + listen: the TCP side needs listen(), the
        // queue where finished handshakes wait for accept().
        let tcp_sock = TcpListener::bind(&addr)
            .unwrap_or_else(|e| fail(&format!("cannot listen on {addr} (TCP)"), e));
        let bound = tcp_sock
            .local_addr()
            .unwrap_or_else(|e| fail("cannot read the bound address", e));
        // socket(AF_INET, SOCK_DGRAM) + bind, and no listen(): UDP has no connections to
        // queue, datagrams simply arrive at the bound port.
        match UdpSocket::bind(bound) {
            Ok(udp_sock) => break (tcp_sock, udp_sock, bound),
            // With port 0 the system picked a free TCP port, whose UDP twin may be taken:
            // then another pair.
            Err(_) if addr.ends_with(":0") && tries < 20 => tries += 1,
            Err(e) => fail(&format!("cannot bind {bound} (UDP)"), e),
        }
    };
    armour::listening(format_args!("{bound} (TCP and UDP)"));

    // One thread per protocol, so that a blocking accept() on TCP never stops UDP
    // datagrams from being answered, and the other way round.
    let mut thread_jobs = Vec::new();
    for (name, sock) in [("tcp", Sock::Tcp(tcp_sock)), ("udp", Sock::Udp(udp_sock))] {
        let job = thread::Builder::new().name(name.into());
        match job.spawn(move || ping_pong_server(sock, timeout)) {
            Ok(job) => thread_jobs.push(job),
            Err(e) => fail(&format!("cannot start the {name} thread"), e),
        }
    }
    for job in thread_jobs {
        // Both loops run forever: joining keeps the process alive, as in the original.
        let _ = job.join();
    }
}

/// The original's `pingPongServer(sockType, sock)`: TCP must accept a connection before
/// it can receive anything; UDP receives at once.
fn ping_pong_server(sock: Sock, timeout: Duration) {
    match sock {
        Sock::Tcp(s) => {
            let mut backoff = AcceptBackoff::default();
            loop {
                // accept() returns a NEW socket for this one client; `s` keeps listening.
                // (Out of file descriptors, it fails again at once: the back-off waits.)
                let Some((client, addr)) = backoff.check("ping-pong-server: tcp", s.accept())
                else {
                    continue;
                };
                // A thread per client: each one is served until it closes, while the
                // listener goes straight back to accept() for the next client.
                let job = thread::Builder::new().spawn(move || {
                    if let Err(why) = ping_pong_tcp(&client, addr, timeout) {
                        eprintln!("ping-pong-server: tcp {addr}: {why}");
                    }
                });
                if let Err(e) = job {
                    let why = format!("no thread for this client ({}); closed", reason(&e));
                    eprintln!("ping-pong-server: tcp {addr}: {why}");
                }
            }
        }
        Sock::Udp(s) => {
            // 65536 bytes hold any datagram: one recv_from returns exactly one datagram,
            // and whatever does not fit the buffer would be lost.
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                // No accept, no connection: recv_from waits for the next datagram from
                // anyone, and tells us who sent it, so that we know where to answer.
                // (On Windows, an earlier pong to a closed port comes back here as
                // "connection reset": not a reason to stop serving.)
                match s.recv_from(&mut buf) {
                    Ok((n, addr)) => {
                        println!("udp {} {}", addr_repr(addr), shown(&buf[..n]));
                        if let Err(e) = s.send_to(PONG, addr) {
                            let why = reason(&e);
                            eprintln!("ping-pong-server: udp {addr}: cannot send pong: {why}");
                        }
                    }
                    Err(e) => eprintln!("ping-pong-server: udp: recv_from failed: {}", reason(&e)),
                }
            }
        }
    }
}

/// Serves one TCP client until it closes: every line it sends is printed and answered.
fn ping_pong_tcp(client: &TcpStream, addr: SocketAddr, timeout: Duration) -> Result<(), String> {
    let mut reader = BufReader::new(client);
    let mut line = Vec::new();
    loop {
        // TCP is a byte stream with no message boundaries: a line can arrive in several
        // reads, or several lines in one. read_until collects bytes up to the newline.
        // No time limit here: a telnet session may wait for its user as long as it likes.
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("read failed: {}", reason(&e)))?;
        if n == 0 {
            // read returned 0: the client closed its side. We are done with it.
            return Ok(());
        }
        if n == MAX_LINE && !line.ends_with(b"\n") {
            let why = "without a newline; closing this connection";
            return Err(format!("sent {MAX_LINE} bytes {why}"));
        }
        // A last line without a newline (the client closed right after it) still counts.
        println!("tcp {} {}", addr_repr(addr), shown(&line));
        // The whole pong must be taken within `timeout`, however many pieces the kernel
        // takes it in: a client that never reads cannot hold its thread for ever.
        let mut answer = Deadline::after(timeout).on(client);
        answer.write_all(PONG).map_err(|e| {
            if armour::is_timeout(&e) {
                format!("did not take its pong within {timeout:?}; closing this connection")
            } else {
                format!("cannot send pong: {}", reason(&e))
            }
        })?;
    }
    // `client` is closed when its thread ends: that closes this client's socket only.
}

/// A message as stdout shows it: Python's bytes repr of at most SHOWN bytes, and the
/// length of a longer one.
fn shown(message: &[u8]) -> String {
    match message.get(..SHOWN) {
        Some(first) if message.len() > SHOWN => {
            let (first, len) = (bytes_repr(first), message.len());
            format!("{first} ({len} bytes, the first {SHOWN} shown)")
        }
        _ => bytes_repr(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_for_display() {
        let long = vec![b'x'; 65_507];
        let text = shown(&long);
        assert!(text.starts_with("b'xxx"), "{text}");
        assert!(
            text.ends_with("x' (65507 bytes, the first 1024 shown)"),
            "{text}"
        );
        assert_eq!(
            text.len(),
            3 + 1024 + " (65507 bytes, the first 1024 shown)".len()
        );
        assert_eq!(shown(&[b'y'; 1024]), bytes_repr(&[b'y'; 1024]));
    }
}
