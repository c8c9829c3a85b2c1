//! Lesson 03: the smallest TCP server of the lesson, a port of its first example:
//! create a socket, bind it, listen, then accept clients forever and print each one.

use std::net::TcpListener;

use armour::{AcceptBackoff, println};
use lesson_cli::{Args, reason};
use py_compat::{addr_repr, socket_repr};

const HELP: &str = include_str!("help.txt");

fn main() {
    let mut args = Args::parse("accept-printer", HELP);
    let addr = args.addr("0.0.0.0:9999");
    args.finish();

    // socket() + bind() + listen() are one call in std. 0.0.0.0 means "every network
    // interface of this machine": other machines can reach us too, not only 127.0.0.1.
    // The original asks listen() for a queue of 5 waiting connections; std asks for 128.
    let s = TcpListener::bind(&addr)
        .unwrap_or_else(|e| args.fail(format_args!("cannot listen on {addr}: {}", reason(&e))));
    match s.local_addr() {
        Ok(bound) => armour::listening(bound),
        Err(e) => args.fail(format_args!(
            "cannot read the bound address: {}",
            reason(&e)
        )),
    }

    // The original's `client` lives on after each turn of its loop, until the next
    // accept replaces it: so does ours.
    let mut client = None;
    let mut backoff = AcceptBackoff::default();
    loop {
        // accept() takes the next connection whose handshake the kernel has finished,
        // and returns a NEW socket for that one client, plus the client's address; `s`
        // keeps listening for others. (Out of file descriptors, accept fails again at
        // once: the back-off waits before the next try instead of spinning.)
        let Some((new_client, addr)) = backoff.check("accept-printer", s.accept()) else {
            continue;
        };
        // print(client, addr): the socket's repr is built from its two ends.
        let repr = socket_repr(new_client.local_addr().ok(), new_client.peer_addr().ok());
        println!("{repr} {}", addr_repr(addr));
        // The new client replaces the previous one, whose socket is dropped: that closes
        // its connection, with FIN normally, with a reset (RST) if the client had sent
        // bytes that nobody read.
        drop(client.replace(new_client));
    }
}
