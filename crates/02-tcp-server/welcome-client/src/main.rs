//! Lesson 02: the welcome client, a port of client.py.
//! It reads the greeting, sends five messages one by one, printing each answer, and
//! says `exit`: the whole protocol of welcome-server.

use std::io::{Read, Write};
use std::net::TcpStream;

use armour::println;
use lesson_cli::Args;
use tcp_messages::Answer;

const HELP: &str = include_str!("help.txt");

fn main() {
    let mut args = Args::parse("welcome-client", HELP);
    let addr = args.addr("127.0.0.1:9999");
    let timeout = args.timeout("--timeout-ms", 10_000);
    args.finish();

    // connect() performs TCP's handshake. If the server is busy with another client, the
    // kernel still completes it (we wait in its backlog), and the greeting comes later.
    let mut s = TcpStream::connect(&addr)
        .unwrap_or_else(|e| args.fail(lesson_cli::connect_failed(&addr, "welcome-server", &e)));
    // Never wait for an answer for ever.
    if let Err(e) = s.set_read_timeout(Some(timeout)) {
        args.fail(lesson_cli::reason(&e));
    }
    // s.recv(1024).decode('utf-8'): one answer is what one read brings (read again only
    // if it stops in the middle of a character). A close or a silence ends us with one line.
    let recv = |s: &mut TcpStream| {
        let (mut answer, mut buf) = (Answer::default(), [0u8; 1024]);
        loop {
            let n = s.read(&mut buf);
            if let Some(text) = answer.took(&buf, n, timeout) {
                return text.unwrap_or_else(|why| args.fail(format_args!("{addr}: {why}")));
            }
        }
    };

    // The server speaks first: print its greeting.
    println!("{}", recv(&mut s));

    for data in [
        b"message1",
        b"message2",
        b"message3",
        b"message4",
        b"message5",
    ] {
        // Send one message, then wait for its answer before sending the next: this
        // lock-step is what lets the server tell one message from the next.
        send(&mut s, data, &args);
        println!("{}", recv(&mut s));
    }
    // `exit` tells the server we are done; it closes its side, and so do we.
    send(&mut s, b"exit", &args);
}

/// s.send(data), all of it; a failure ends us with one line.
fn send(s: &mut TcpStream, data: &[u8], args: &Args) {
    if let Err(e) = s.write_all(data) {
        args.fail(format_args!("cannot send: {}", lesson_cli::reason(&e)));
    }
}
