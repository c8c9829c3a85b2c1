//! Lesson 02: the welcome server, a port of server.py.
//! A single-threaded server: it greets each client, answers each of its messages after a
//! pause, and only then accepts the next client.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use armour::{AcceptBackoff, Deadline, println};
use lesson_cli::Args;
use tcp_messages::{Inbox, Incoming, Pauses, send_failed};

const HELP: &str = include_str!("help.txt");

/// The whole conversation with one client, then the close.
fn worker(sock: TcpStream, addr: SocketAddr, delay: Duration, pauses: Pauses) {
    let (ip, port) = (addr.ip(), addr.port());
    println!("Accept new connection from {ip}:{port}...");
    if let Err(why) = talk(&sock, delay, pauses) {
        eprintln!("welcome-server: {addr}: {why}");
    }
    // sock.close(): dropping the socket closes the connection; the client reads 0 bytes.
    drop(sock);
    println!("Connection from {ip}:{port} closed.");
}

/// `Welcome!`, then `Received <message>;` for every message until the client says
/// `exit` or hangs up. Err says why the conversation was cut short.
fn talk(sock: &TcpStream, delay: Duration, pauses: Pauses) -> Result<(), String> {
    // sock.send(...): each answer whole within --timeout-ms. A client that sends but never
    // reads fills the kernel's buffers, and a write would wait for ever for room.
    let send = |data: &[u8]| Deadline::after(pauses.timeout).on(sock).write_all(data);
    let sending = |e| send_failed(&e, pauses.timeout);
    send(b"Welcome!").map_err(sending)?;
    let (mut inbox, mut buf) = (Inbox::new(pauses, "message"), [0u8; 1024]);
    loop {
        // data = sock.recv(1024), as often as it takes for one message: it ends at a
        // newline, a pause or the close, and must come whole within --timeout-ms.
        let data = loop {
            if let Some(incoming) = inbox.message(sock) {
                break incoming;
            }
            let n = inbox.wait(sock).read(&mut buf);
            inbox.took(&buf, n);
        };
        let data = match data {
            Incoming::Message(data) => data,
            Incoming::Closed => return Ok(()),
            Incoming::TooLong(why) => return Err(format!("{why}; closing")),
            Incoming::Drop(why) => return Err(why),
        };
        // time.sleep(1), for show. Only after a message: a client that closed costs no
        // pause; one that sends ahead pays its pauses from its time limit.
        inbox.show(|| thread::sleep(delay));
        let text =
            String::from_utf8(data).map_err(|_| "sent bytes that are not UTF-8 text; closing")?;
        if text == "exit" {
            return Ok(());
        }
        send(format!("Received {text};").as_bytes()).map_err(sending)?;
    }
}

fn main() {
    let mut args = Args::parse("welcome-server", HELP);
    let addr = args.addr("127.0.0.1:9999");
    let delay = args.millis("--delay-ms", 1000);
    let pauses = Pauses::from_args(&mut args); // --timeout-ms and --gap-ms
    args.finish();
    // socket() + bind() + listen() in one call. From now on the kernel completes the
    // handshake of every client that connects and queues it (the backlog) until we accept.
    let s = TcpListener::bind(&addr).and_then(|s| Ok((s.local_addr()?, s)));
    let failed = |e: io::Error| format!("cannot listen on {addr}: {}", lesson_cli::reason(&e));
    let (at, s) = s.unwrap_or_else(|e| args.fail(failed(e)));
    armour::listening(at);
    println!("Waiting for connection...");
    let mut backoff = AcceptBackoff::default();
    loop {
        // accept() blocks until a client is queued, then hands over its own socket. One
        // client at a time: the next waits in the backlog until worker() returns. A failed
        // accept (no descriptor left) is retried after a wait that grows.
        let Some((sock, addr)) = backoff.check("welcome-server", s.accept()) else {
            continue;
        };
        worker(sock, addr, delay, pauses);
    }
}
