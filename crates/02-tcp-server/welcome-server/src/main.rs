//! Lesson 02: the welcome server, a port of server.py.
//! A single-threaded server: it greets each client, answers each of its messages after a
//! pause, and only then accepts the next client.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use armour::AcceptBackoff;
use lesson_cli::Args;
use tcp_messages::{Incoming, MAX_MESSAGE, Pauses, recv_message, send_failed};

const HELP: &str = "\
usage: welcome-server [--addr HOST:PORT] [--delay-ms MS] [--timeout-ms MS] [--gap-ms MS]

Lesson 02: the welcome server (a port of server.py).
Serves one client at a time: sends it `Welcome!`, answers each message with
`Received <message>;` after a pause, and ends the conversation when the client sends
`exit` or closes the connection. A second client waits, connected but unanswered,
until the first one is done.

A message ends at a newline, when the client pauses for --gap-ms, or when it closes
the connection. A message that is not UTF-8 text or is longer than 1024 bytes ends
the conversation (logged on stderr), and so does a client that does not send a whole
message within --timeout-ms or does not read an answer within --timeout-ms.

stdout: `Waiting for connection...` once, then per client
        `Accept new connection from IP:PORT...` and `Connection from IP:PORT closed.`
stderr: `welcome-server: listening on ADDR` once bound, and one line per bad message.

options:
  --addr HOST:PORT   where to listen (default 127.0.0.1:9999; port 0 = any free port)
  --delay-ms MS      the pause after each message, for show (default 1000, as the original)
  --timeout-ms MS    how long a client has to send each message, and to take each answer,
                     before it is dropped (default 10000)
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
    let mut backoff = AcceptBackoff::default();
    loop {
        // accept() blocks until a client is in the queue, then hands over its own socket.
        match s.accept() {
            // One client at a time: while worker() talks with this client, nobody else
            // is accepted. Others wait in the backlog, connected but unanswered.
            Ok((sock, addr)) => {
                backoff.succeeded("welcome-server");
                worker(sock, addr, timing);
            }
            // Most often: no file descriptor left. The client stays queued, so trying
            // again at once would fail at once; wait a little longer after each failure.
            Err(e) => backoff.failed("welcome-server", &e),
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
    let timeout = timing.pauses.timeout;
    // A write blocks while the kernel's send buffer for this socket is full, and it
    // stays full when the client sends and sends but never reads our answers. Without
    // a limit, that one client would stall this one-at-a-time server for ever.
    sock.set_write_timeout(Some(timeout))
        .map_err(|e| lesson_cli::reason(&e))?;
    let sending = |e: io::Error| send_failed(&e, timeout);
    let receiving = |e: io::Error| format!("cannot receive: {}", lesson_cli::reason(&e));
    sock.write_all(b"Welcome!").map_err(sending)?;
    let mut pending = Vec::new();
    loop {
        // A message ends at a newline, a pause or the close: the reading loop of
        // tcp-messages, shared with contacts-server. `pending` keeps what comes after.
        let data = recv_message(sock, &mut pending, timing.pauses);
        let data = match data.map_err(receiving)? {
            // recv returned no bytes: the client closed its side of the connection.
            Incoming::Closed => return Ok(()),
            Incoming::Silent => return Err(format!("sent nothing for {timeout:?}; closing")),
            Incoming::TooSlow(n) => {
                return Err(format!(
                    "sent {n} bytes but no whole message within {timeout:?}; too slow, closing"
                ));
            }
            Incoming::TooLong(n) => {
                return Err(format!(
                    "sent a message of {n} bytes, over the limit of {MAX_MESSAGE}; closing"
                ));
            }
            Incoming::Message(data) => data,
        };
        // The original sleeps one second after every recv, so that a person can watch
        // the messages go by. We sleep only after a message: a client that closed or
        // was dropped costs no pause. --delay-ms shortens it.
        thread::sleep(timing.delay);
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
