//! Lesson 01: the timestamp server, a port of TimestampeServer.py.
//! The numbered comments are the eight steps of every C/S server in the original.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, SystemTime};

use armour::{AcceptBackoff, Deadline, println};
use lesson_cli::Args;

const HELP: &str = include_str!("help.txt");

/// The command the client must send. The typo is part of the protocol: keep it.
const COMMAND: &[u8] = b"timetampe";

fn start_server(addr: &str, timeout: Duration) -> io::Result<()> {
    // 1. create the socket, 2. bind it to ip:port, 3. listen: in std one call does all
    // three. The kernel now queues incoming connections (the backlog) until we accept them.
    let tcp_server = TcpListener::bind(addr)?;
    armour::listening(tcp_server.local_addr()?);
    let mut backoff = AcceptBackoff::default();
    // 4. the server loop: a server runs until it is stopped.
    loop {
        println!("{0}now waiting for client connect{0}", "*".repeat(10));
        // 5. accept blocks until a client connects, then gives a new socket just for it.
        // When it fails (no file descriptor left), the back-off waits before trying again.
        let (tcp_client, client_addr) = loop {
            if let Some(accepted) = backoff.check("timestamp-server", tcp_server.accept()) {
                break accepted;
            }
        };
        println!("new client : {}:{}", client_addr.ip(), client_addr.port());
        // 6. receive the command, send the time back (in `serve`, below).
        if let Err(why) = serve(&tcp_client, timeout) {
            eprintln!("timestamp-server: client {client_addr}: {why}");
        }
        // 7. close the client's socket. Its FIN goes first, so this end, not the client's,
        // keeps the connection in TIME_WAIT for a while (see the lesson's page).
        drop(tcp_client);
    }
    // 8. the listening socket closes when `tcp_server` is dropped; like the original's,
    // this loop never ends, so that only happens when the process stops.
}

/// 6. talk with one client: read its command, answer with the time.
fn serve(mut tcp_client: &TcpStream, timeout: Duration) -> Result<(), String> {
    // A client that says nothing, or one byte now and then, would hold this one-at-a-time
    // server for ever: the whole command must arrive within `timeout` of the accept.
    let mut client = Deadline::after(timeout).on(tcp_client);
    // 6.1 read the command. TCP is a byte stream: one read may return only part of what
    // the client sent, so keep reading while what arrived is still the start of COMMAND.
    let (mut recv_data, mut buf) = (Vec::new(), [0u8; 1024]);
    while recv_data.len() < COMMAND.len() && COMMAND.starts_with(&recv_data) {
        match client.read(&mut buf) {
            // read returns 0 once the client has closed its side: nothing more will come.
            Ok(0) => break,
            Ok(n) => recv_data.extend_from_slice(&buf[..n]),
            Err(e) => return Err(why_dropped(&e, recv_data.len(), timeout)),
        }
    }
    // telnet and nc end what you type with Enter, `\r\n` or `\n`: accept that too.
    let line = recv_data.strip_suffix(b"\n").unwrap_or(&recv_data[..]);
    if line.strip_suffix(b"\r").unwrap_or(line) != COMMAND {
        // The start of the command, then the close (`printf time | nc -N`): it was cut off.
        let len = recv_data.len();
        let what = if len > 0 && COMMAND.starts_with(&recv_data) {
            ", only the start of the command \"timetampe\", then closed"
        } else {
            " that are not the command \"timetampe\""
        };
        return Err(format!("sent {len} bytes{what}; closing without a reply"));
    }
    // 6.2 send the current time back. These 24 bytes are all we ever send on this
    // connection: they fit in the kernel's send buffer at once, even if nobody reads them.
    tcp_client
        .write_all(py_compat::ctime(SystemTime::now()).as_bytes())
        .map_err(|e| format!("write failed: {}", lesson_cli::reason(&e)))
}

/// Why reading the command failed (`got` bytes of it arrived), in the log's words.
fn why_dropped(e: &io::Error, got: usize, timeout: Duration) -> String {
    match got {
        _ if !armour::is_timeout(e) => format!("read failed: {}", lesson_cli::reason(e)),
        0 => format!("sent no command within {timeout:?}; closing"),
        _ => format!(
            "sent {got} bytes but not the whole command within {timeout:?}; too slow, closing"
        ),
    }
}

fn main() {
    let mut args = Args::parse("timestamp-server", HELP);
    let addr = args.addr("127.0.0.1:8099");
    let timeout = args.timeout("--timeout-ms", 10_000);
    args.finish();
    if let Err(e) = start_server(&addr, timeout) {
        let why = lesson_cli::reason(&e);
        args.fail(format_args!("cannot listen on {addr}: {why}"));
    }
}
