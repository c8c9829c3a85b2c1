//! Lesson 02: the welcome client, a port of client.py.
//! It reads the greeting, sends five messages one by one, printing each answer, and
//! says `exit`: the whole protocol of welcome-server.

use std::io::Write;
use std::net::TcpStream;

use lesson_cli::Args;
use tcp_messages::recv_answer;

const HELP: &str = "\
usage: welcome-client [--addr HOST:PORT] [--timeout-ms MS]

Lesson 02: the welcome client (a port of client.py).
Connects to welcome-server, prints its greeting, sends message1 to message5 one at a
time and prints each answer (`Received message1;` ...), then sends `exit` and closes.
If the server hangs up early or does not answer, it says so on stderr and exits 1.

options:
  --addr HOST:PORT   where the server is (default 127.0.0.1:9999)
  --timeout-ms MS    how long to wait for each answer (default 10000)
  -h, --help         this text
";

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
    // Reads the greeting, then each `Received messageN;`, with recv_answer
    // from tcp-messages: what the server's one write brings. A close or a silence
    // ends us with one line.
    let receive = |s: &mut TcpStream| {
        recv_answer(s, timeout).unwrap_or_else(|why| args.fail(format_args!("{addr}: {why}")))
    };

    // The server speaks first: print its greeting.
    println!("{}", receive(&mut s));

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
        println!("{}", receive(&mut s));
    }
    // `exit` tells the server we are done; it closes its side, and so do we.
    send(&mut s, b"exit", &args);
}

fn send(s: &mut TcpStream, data: &[u8], args: &Args) {
    if let Err(e) = s.write_all(data) {
        args.fail(format_args!("cannot send: {}", lesson_cli::reason(&e)));
    }
}
