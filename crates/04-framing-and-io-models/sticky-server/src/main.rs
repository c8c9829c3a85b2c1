//! Lesson 04: the sticky-packet server (粘包), a port of section 3.2's server.
//! TCP is a byte stream, not a stream of messages: the client's two writes, `hello` and
//! ` world`, reach this server as bytes with no boundary between them.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use armour::{AcceptBackoff, Deadline};
use lesson_cli::Args;

const HELP: &str = "\
usage: sticky-server [--addr HOST:PORT] [--delay-ms MS] [--clients N] [--timeout-ms MS]

Lesson 04: the sticky-packet server (a port of section 3.2's server).
Accepts a client, waits a moment, then prints what each read returns, one line per
read, until the client closes. With the default wait the client's two writes
`hello` and ` world` have both arrived, so the first read returns them stuck
together: one line `hello world`. With --delay-ms 0 (and sticky-client --pause-ms)
the reads see the pieces: `hello`, then ` world`.

stdout: one line per read (the bytes as UTF-8 text).
stderr: `sticky-server: listening on ADDR` once bound, and one line per bad input
(bytes that are not UTF-8, a client that does not finish in time).

options:
  --addr HOST:PORT   where to listen (default 127.0.0.1:8001; port 0 = any free port)
  --delay-ms MS      how long to wait after accept before the first read (default 200)
  --clients N        serve N clients one after the other, then exit; 0 = forever
                     (default 1, like the original)
  --timeout-ms MS    how long one client may keep the server, from accept until it
                     has sent everything and closed, before it is dropped
                     (default 10000; the --delay-ms wait counts)
  -h, --help         this text
";

fn main() {
    let mut args = Args::parse("sticky-server", HELP);
    let addr = args.addr("127.0.0.1:8001");
    let delay = args.millis("--delay-ms", 200);
    let clients: u64 = args.value("--clients").unwrap_or(1);
    let timeout = args.timeout("--timeout-ms", 10_000);
    args.finish();
    if let Err(e) = start_server(&addr, delay, clients, timeout) {
        args.fail(format_args!(
            "cannot listen on {addr}: {}",
            lesson_cli::reason(&e)
        ));
    }
}

fn start_server(addr: &str, delay: Duration, clients: u64, timeout: Duration) -> io::Result<()> {
    // socket + bind + listen in one call; the kernel queues connections until accept.
    let sock = TcpListener::bind(addr)?;
    eprintln!("sticky-server: listening on {}", sock.local_addr()?);

    let mut served = 0;
    let mut backoff = AcceptBackoff::default();
    while clients == 0 || served < clients {
        let (conn, peer) = match sock.accept() {
            Ok(pair) => {
                backoff.succeeded("sticky-server");
                pair
            }
            // Out of file descriptors, typically: the connection stays queued and the
            // next accept fails at once. Wait (10 ms, doubling up to 1 s) instead of
            // spinning, and log one line, not one per try.
            Err(e) => {
                backoff.failed("sticky-server", &e);
                continue;
            }
        };
        served += 1;
        if let Err(why) = serve(conn, peer, delay, timeout) {
            eprintln!("sticky-server: {peer}: {why}");
        }
        // `conn` was dropped at the end of `serve`: that closes the connection.
    }
    Ok(())
}

fn serve(
    mut conn: TcpStream,
    peer: SocketAddr,
    delay: Duration,
    timeout: Duration,
) -> Result<(), String> {
    // This one-at-a-time server reads until its client closes. A client that never
    // closes, or sends a byte every few seconds, must not hold it for ever: the whole
    // conversation, from accept to the client's close, gets `timeout`. (A read timeout
    // alone would start again with every byte; each read waits only for what is left.)
    let deadline = Deadline::after(timeout);

    // The wait that makes the demonstration reproducible: by the time we read, both of
    // the client's writes are sitting in our receive buffer, so one read takes both.
    // Without it, which outcome you see depends on who the scheduler runs first.
    thread::sleep(delay);

    // recv(1024): one read returns whatever has arrived, up to 1024 bytes. It knows
    // nothing about where the sender's writes began or ended. The original reads once;
    // we keep reading until the client closes, so a split message is seen, not lost.
    let mut client_data = [0u8; 1024];
    let mut reads = 0;
    loop {
        let read = deadline
            .remaining()
            .and_then(|left| conn.set_read_timeout(Some(left)))
            .and_then(|()| conn.read(&mut client_data));
        let n = match read {
            // 0 bytes: the client closed its side. The original's single read prints an
            // empty line when the client sent nothing at all: keep that.
            Ok(0) if reads == 0 => {
                println!();
                return Ok(());
            }
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if lesson_cli::is_timeout(&e) => {
                return Err(format!(
                    "too slow: did not send everything and close within {timeout:?}; closing"
                ));
            }
            Err(e) => return Err(format!("read failed: {}; closing", lesson_cli::reason(&e))),
        };
        reads += 1;
        match std::str::from_utf8(&client_data[..n]) {
            Ok(text) => println!("{text}"),
            Err(_) => eprintln!(
                "sticky-server: {peer}: read {reads} returned {n} bytes that are not UTF-8 text; skipped them"
            ),
        }
    }
}
