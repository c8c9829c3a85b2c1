//! Lesson 03: the smallest TCP server of the lesson, a port of its first example:
//! create a socket, bind it, listen, then accept clients forever and print each one.

use std::net::TcpListener;

use armour::AcceptBackoff;
use lesson_cli::Args;
use py_compat::{addr_repr, socket_repr};

const HELP: &str = "\
usage: accept-printer [--addr HOST:PORT]

Lesson 03: the minimal accept loop (a port of the lesson's first example).
Listens on every network interface, accepts each client that connects and prints
it. It never reads nor writes: like the original, it keeps the last client's
connection open, silent, until the next client arrives, and then closes it.
Try it with `telnet 127.0.0.1 9999`.

stdout: one line per client: the accepted socket and the client's address, as
        Python 3.11 prints them (the socket without Python's fd=N), e.g.
        <socket.socket family=2, type=1, proto=0, laddr=('127.0.0.1', 9999), raddr=('127.0.0.1', 54321)> ('127.0.0.1', 54321)
stderr: `accept-printer: listening on ADDR` once bound, and any failed accept.

options:
  --addr HOST:PORT   where to listen (default 0.0.0.0:9999, every interface;
                     port 0 = any free port)
  -h, --help         this text
";

fn main() {
    let mut args = Args::parse("accept-printer", HELP);
    let addr = args.addr("0.0.0.0:9999");
    args.finish();

    // socket() + bind() + listen() are one call in std. 0.0.0.0 means "every network
    // interface of this machine": other machines can reach us too, not only 127.0.0.1.
    // The original asks listen() for a queue of 5 waiting connections; std asks for 128.
    let s = TcpListener::bind(&addr).unwrap_or_else(|e| {
        args.fail(format_args!(
            "cannot listen on {addr}: {}",
            lesson_cli::reason(&e)
        ))
    });
    match s.local_addr() {
        Ok(bound) => eprintln!("accept-printer: listening on {bound}"),
        Err(e) => args.fail(format_args!(
            "cannot read the bound address: {}",
            lesson_cli::reason(&e)
        )),
    }

    // The original's `client` lives on after each turn of its loop, until the next
    // accept replaces it: so does ours.
    let mut client = None;
    let mut backoff = AcceptBackoff::default();
    loop {
        // accept() takes the next connection whose handshake the kernel has finished,
        // and returns a NEW socket for that one client, plus the client's address; `s`
        // keeps listening for others.
        match s.accept() {
            Ok((new_client, addr)) => {
                backoff.succeeded("accept-printer");
                // print(client, addr): the socket's repr is built from its two ends.
                let repr = socket_repr(new_client.local_addr().ok(), new_client.peer_addr().ok());
                println!("{repr} {}", addr_repr(addr));
                // The new client replaces the previous one, whose socket is dropped:
                // that closes its connection, with FIN normally, with a reset (RST)
                // if the client had sent bytes that nobody read.
                drop(client.replace(new_client));
            }
            // Out of file descriptors, accept fails again at once: wait before retrying.
            Err(e) => backoff.failed("accept-printer", &e),
        }
    }
}
