//! Lesson 04: the sticky-packet client, a port of section 3.2's client.
//! Two writes, `hello` and ` world`: the server may well receive them as one piece.

use std::io::Write;
use std::net::TcpStream;
use std::thread;

use lesson_cli::Args;

const HELP: &str = include_str!("help.txt");

fn main() {
    let mut args = Args::parse("sticky-client", HELP);
    let addr = args.addr("127.0.0.1:8001");
    let pause = args.millis("--pause-ms", 0);
    args.finish();

    let mut client = TcpStream::connect(&addr)
        .unwrap_or_else(|e| args.fail(lesson_cli::connect_failed(&addr, "sticky-server", &e)));
    // Turn off Nagle's algorithm, which holds a small write back while earlier data is
    // still unacknowledged (it never holds the first write): without a pause, ` world`
    // then leaves at once instead of after the acknowledgement of `hello`, so whether
    // the two are read together depends only on when the server reads.
    let _ = client.set_nodelay(true);

    // sendall: hand every byte of each message to TCP. Two calls, two messages to us;
    // to TCP, just 11 bytes in a row.
    let sent = client.write_all(b"hello").and_then(|()| {
        thread::sleep(pause);
        client.write_all(b" world")
    });
    if let Err(e) = sent {
        args.fail(format_args!("cannot send: {}", lesson_cli::reason(&e)));
    }
    // The socket closes when `client` is dropped: the server's next read returns 0.
}
