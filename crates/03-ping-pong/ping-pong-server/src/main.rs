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

use armour::AcceptBackoff;
use lesson_cli::Args;
use py_compat::{addr_repr, bytes_repr};

const HELP: &str = "\
usage: ping-pong-server [--addr HOST:PORT]

Lesson 03: a ping/pong server on TCP and UDP at the same port (a reconstruction
of the lesson's server, whose code is missing from the original document).
Every message it receives is printed with its sender and answered with `pong`.
TCP: a message is one line (telnet and nc send one per Enter); each client gets its
own thread and is served until it closes, so several telnet sessions work at once
(a client may stay idle as long as it likes; one that does not take a `pong` within
10 s is dropped).
UDP: a message is one datagram; the answer goes back to the address it came from.
Try it with `telnet 127.0.0.1 8888`, `nc 127.0.0.1 8888`, `nc -u 127.0.0.1 8888`,
or `ping-client` (`ping-client --udp` for UDP).

stdout: one line per message: the protocol, the sender as Python prints an address,
        and the message as Python prints bytes, e.g.
        tcp ('127.0.0.1', 54321) b'hello pdudo\\r\\n'
        (a message over 1024 bytes shows its first 1024 and its length)
stderr: `ping-pong-server: listening on ADDR (TCP and UDP)` once both are bound,
        and one line per failed client or datagram.

options:
  --addr HOST:PORT   where to listen (default 0.0.0.0:8888, every interface). Port 0
                     = any free port: the UDP socket then takes the port number the
                     TCP listener got, and the `listening on` line shows it.
  -h, --help         this text
";

/// The answer to every message: `pong` and a newline, so that telnet and nc show it on
/// a line of its own.
const PONG: &[u8] = b"pong\n";

/// The longest TCP line the server keeps in memory. A client that sends more without a
/// newline is dropped (UDP needs no limit: a datagram is at most 65507 bytes).
const MAX_LINE: usize = 64 * 1024;

/// How long a TCP client may leave a `pong` untaken. A write blocks once the client
/// stops reading and the buffers on both sides are full; without a limit, a client
/// that sends lines and never reads would hold its thread for ever.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

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
    args.finish();

    let (tcp_sock, udp_sock) = bind_both(&addr).unwrap_or_else(|e| args.fail(e));
    match tcp_sock.local_addr() {
        Ok(bound) => eprintln!("ping-pong-server: listening on {bound} (TCP and UDP)"),
        Err(e) => args.fail(format_args!(
            "cannot read the bound address: {}",
            lesson_cli::reason(&e)
        )),
    }

    // One thread per protocol, so that a blocking accept() on TCP never stops UDP
    // datagrams from being answered, and the other way round.
    let mut thread_jobs = Vec::new();
    for (name, sock) in [("tcp", Sock::Tcp(tcp_sock)), ("udp", Sock::Udp(udp_sock))] {
        let job = thread::Builder::new()
            .name(name.to_string())
            .spawn(move || ping_pong_server(sock));
        match job {
            Ok(job) => thread_jobs.push(job),
            Err(e) => args.fail(format_args!("cannot start the {name} thread: {e}")),
        }
    }
    for job in thread_jobs {
        // Both loops run forever: joining keeps the process alive, as in the original.
        let _ = job.join();
    }
}

/// Binds the TCP listener, then a UDP socket on the same address and port number.
/// TCP port 8888 and UDP port 8888 are two different ports that happen to share a
/// number, so both binds succeed side by side.
fn bind_both(addr: &str) -> Result<(TcpListener, UdpSocket), String> {
    // With port 0 the system picks a free TCP port, which may be taken on the UDP side:
    // then try again with another one.
    let attempts = if addr.ends_with(":0") { 20 } else { 1 };
    let mut last_error = String::new();
    for _ in 0..attempts {
        // socket(AF_INET, SOCK_STREAM) + bind + listen: the TCP side needs listen(), the
        // queue where finished handshakes wait for accept().
        let tcp_sock = TcpListener::bind(addr)
            .map_err(|e| format!("cannot listen on {addr} (TCP): {}", lesson_cli::reason(&e)))?;
        let bound = tcp_sock
            .local_addr()
            .map_err(|e| format!("cannot read the bound address: {}", lesson_cli::reason(&e)))?;
        // socket(AF_INET, SOCK_DGRAM) + bind, and no listen(): UDP has no connections to
        // queue, datagrams simply arrive at the bound port.
        match UdpSocket::bind(bound) {
            Ok(udp_sock) => return Ok((tcp_sock, udp_sock)),
            Err(e) => {
                last_error = format!("cannot bind {bound} (UDP): {}", lesson_cli::reason(&e));
            }
        }
    }
    Err(last_error)
}

/// The original's `pingPongServer(sockType, sock)`: TCP must accept a connection before
/// it can receive anything; UDP receives at once.
fn ping_pong_server(sock: Sock) {
    match sock {
        Sock::Tcp(s) => {
            let mut backoff = AcceptBackoff::default();
            loop {
                // accept() returns a NEW socket for this one client; `s` keeps listening.
                let (client, addr) = match s.accept() {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors, accept fails again at once: wait first.
                        backoff.failed("ping-pong-server: tcp", &e);
                        continue;
                    }
                };
                backoff.succeeded("ping-pong-server: tcp");
                // A thread per client: each one is served until it closes, while the
                // listener goes straight back to accept() for the next client.
                let job = thread::Builder::new().spawn(move || {
                    if let Err(why) = ping_pong_tcp(client, addr) {
                        eprintln!("ping-pong-server: tcp {addr}: {why}");
                    }
                });
                if let Err(e) = job {
                    let why = lesson_cli::reason(&e);
                    eprintln!(
                        "ping-pong-server: tcp {addr}: no thread for this client ({why}); closed"
                    );
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
                let (n, addr) = match s.recv_from(&mut buf) {
                    Ok(pair) => pair,
                    Err(e) => {
                        // On Windows, an earlier pong to a closed port comes back here
                        // as "connection reset": not a reason to stop serving.
                        let why = lesson_cli::reason(&e);
                        eprintln!("ping-pong-server: udp: recv_from failed: {why}");
                        continue;
                    }
                };
                println!("udp {} {}", addr_repr(addr), shown(&buf[..n]));
                if let Err(e) = s.send_to(PONG, addr) {
                    let why = lesson_cli::reason(&e);
                    eprintln!("ping-pong-server: udp {addr}: cannot send pong: {why}");
                }
            }
        }
    }
}

/// Serves one TCP client until it closes: every line it sends is printed and answered.
fn ping_pong_tcp(client: TcpStream, addr: SocketAddr) -> Result<(), String> {
    client
        .set_write_timeout(Some(WRITE_TIMEOUT))
        .map_err(|e| lesson_cli::reason(&e))?;
    let mut writer = &client;
    let mut reader = BufReader::new(&client);
    let mut line = Vec::new();
    loop {
        // TCP is a byte stream with no message boundaries: a line can arrive in several
        // reads, or several lines in one. read_until collects bytes up to the newline.
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("read failed: {}", lesson_cli::reason(&e)))?;
        if n == 0 {
            // read returned 0: the client closed its side. We are done with it.
            return Ok(());
        }
        if n == MAX_LINE && !line.ends_with(b"\n") {
            return Err(format!(
                "sent {MAX_LINE} bytes without a newline; closing this connection"
            ));
        }
        // A last line without a newline (the client closed right after it) still counts.
        println!("tcp {} {}", addr_repr(addr), shown(&line));
        writer.write_all(PONG).map_err(|e| {
            if lesson_cli::is_timeout(&e) {
                format!("did not take its pong within {WRITE_TIMEOUT:?}; closing this connection")
            } else {
                format!("cannot send pong: {}", lesson_cli::reason(&e))
            }
        })?;
    }
    // `client` is dropped when we return: that closes this client's socket only.
}

/// A message as stdout shows it: Python's bytes repr of at most SHOWN bytes.
fn shown(message: &[u8]) -> String {
    if message.len() <= SHOWN {
        bytes_repr(message)
    } else {
        format!(
            "{} ({} bytes, the first {SHOWN} shown)",
            bytes_repr(&message[..SHOWN]),
            message.len()
        )
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
