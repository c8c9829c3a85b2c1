//! Lesson 04: the client of the non-blocking accept demo (section 4).
//! An ordinary blocking client: connect, send `hello1 world`, close.

use std::io::Write;
use std::net::TcpStream;

use lesson_cli::Args;

const HELP: &str = include_str!("help.txt");

fn main() {
    let mut args = Args::parse("nonblocking-accept-client", HELP);
    let addr = args.addr("127.0.0.1:8001");
    args.finish();

    // connect blocks until the handshake is done; the server need not have called
    // accept yet: the kernel completes the handshake and queues the connection.
    let mut client = TcpStream::connect(&addr)
        .unwrap_or_else(|e| args.fail(lesson_cli::connect_failed(&addr, "nonblocking-accept", &e)));
    if let Err(e) = client.write_all(b"hello1 world") {
        args.fail(format_args!("cannot send: {}", lesson_cli::reason(&e)));
    }
}
