//! Lesson 02: the welcome server, a port of server.py.
//! A single-threaded server: it greets each client, answers each of its messages after a
//! pause, and only then accepts the next client.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use lesson_cli::Args;
use tcp_messages::{Incoming, MAX_MESSAGE, Pauses, recv_message};

const HELP: &str = "\
usage: welcome-server [--addr HOST:PORT] [--delay-ms MS] [--timeout-ms MS] [--gap-ms MS]

Lesson 02: the welcome server (a port of server.py).
Serves one client at a time: sends it `Welcome!`, answers each message with
`Received <message>;` after a pause, and ends the conversation when the client sends
`exit` or closes the connection. A second client waits, connected but unanswered,
until the first one is done.

A message ends at a newline, when the client pauses for --gap-ms, or when it closes
the connection. A message that is not UTF-8 text or is longer than 1024 bytes ends
the conversation (logged on stderr).

stdout: `Waiting for connection...` once, then per client
        `Accept new connection from IP:PORT...` and `Connection from IP:PORT closed.`
stderr: `welcome-server: listening on ADDR` once bound, and one line per bad message.

options:
  --addr HOST:PORT   where to listen (default 127.0.0.1:9999; port 0 = any free port)
  --delay-ms MS      the pause before each answer, for show (default 1000, as the original)
  --timeout-ms MS    how long a client may stay silent before it is dropped (default 10000)
  --gap-ms MS        how long a pause in the middle of a message ends it (default 100)
  -h, --help         this text
";

/// The pauses that shape a conversation.
#[derive(Clone, Copy)]
struct Timing {
    delay: Duration,
    pauses: Pauses,
}

fn main() {
    let mut args = Args::parse("welcome-server", HELP);
    let addr = args.addr("127.0.0.1:9999");
    let timing = Timing {
        delay: args.millis("--delay-ms", 1000),
        // --timeout-ms and --gap-ms: how long a silent client is kept, and the pause
        // that ends a message.
        pauses: Pauses::from_args(&mut args),
    };
    args.finish();
    if let Err(e) = start_server(&addr, timing) {
        args.fail(format_args!(
            "cannot listen on {addr}: {}",
            lesson_cli::reason(&e)
        ));
    }
}

fn start_server(addr: &str, timing: Timing) -> io::Result<()> {
    // socket() + bind() + listen() in one call. From now on the kernel completes the
    // handshake of every client that connects and queues it (the backlog) until we accept.
    let s = TcpListener::bind(addr)?;
    eprintln!("welcome-server: listening on {}", s.local_addr()?);
    println!("Waiting for connection...");
    // A server runs for ever: this loop only ends when the process is stopped (Ctrl-C).
    loop {
        // accept() blocks until a client is in the queue, then hands over its own socket.
        match s.accept() {
            // One client at a time: while worker() talks with this client, nobody else
            // is accepted. Others wait in the backlog, connected but unanswered.
            Ok((sock, addr)) => worker(sock, addr, timing),
            Err(e) => eprintln!("welcome-server: accept failed: {}", lesson_cli::reason(&e)),
        }
    }
}

/// The whole conversation with one client, then the close.
fn worker(mut sock: TcpStream, addr: SocketAddr, timing: Timing) {
    println!(
        "Accept new connection from {}:{}...",
        addr.ip(),
        addr.port()
    );
    if let Err(why) = talk(&mut sock, timing) {
        eprintln!("welcome-server: {addr}: {why}");
    }
    // sock.close(): dropping the socket closes the connection; the client reads 0 bytes.
    drop(sock);
    println!("Connection from {}:{} closed.", addr.ip(), addr.port());
}

/// The protocol: `Welcome!` first, then `Received <message>;` for every message until
/// the client says `exit` or hangs up. Err says why the conversation was cut short.
fn talk(sock: &mut TcpStream, timing: Timing) -> Result<(), String> {
    let sending = |e: io::Error| format!("cannot send: {}", lesson_cli::reason(&e));
    let receiving = |e: io::Error| format!("cannot receive: {}", lesson_cli::reason(&e));
    sock.write_all(b"Welcome!").map_err(sending)?;
    let mut pending = Vec::new();
    loop {
        // A message ends at a newline, a pause or the close: the reading loop of
        // tcp-messages, shared with contacts-server. `pending` keeps what comes after.
        let data = recv_message(sock, &mut pending, timing.pauses);
        let data = data.map_err(receiving)?;
        if !matches!(data, Incoming::Silent) {
            // The original sleeps one second after every recv, so that a person can
            // watch the messages go by. --delay-ms shortens it.
            thread::sleep(timing.delay);
        }
        let data = match data {
            // recv returned no bytes: the client closed its side of the connection.
            Incoming::Closed => return Ok(()),
            Incoming::Silent => {
                return Err(format!(
                    "sent nothing for {:?}; closing",
                    timing.pauses.timeout
                ));
            }
            Incoming::TooLong(n) => {
                return Err(format!(
                    "sent a message of {n} bytes, over the limit of {MAX_MESSAGE}; closing"
                ));
            }
            Incoming::Message(data) => data,
        };
        let Ok(text) = String::from_utf8(data) else {
            return Err("sent bytes that are not UTF-8 text; closing".to_string());
        };
        // `exit` is the whole protocol's one command: the client is done.
        if text == "exit" {
            return Ok(());
        }
        sock.write_all(format!("Received {text};").as_bytes())
            .map_err(sending)?;
    }
}
