//! Lesson 04: the sticky-packet client, a port of section 3.2's client.
//! Two writes, `hello` and ` world`: the server may well receive them as one piece.

use std::io::Write;
use std::net::TcpStream;
use std::thread;

use lesson_cli::Args;

const HELP: &str = "\
usage: sticky-client [--addr HOST:PORT] [--pause-ms MS]

Lesson 04: the sticky-packet client (a port of section 3.2's client).
Connects to sticky-server, writes `hello`, then ` world`, and closes. It prints
nothing; watch what sticky-server prints.

options:
  --addr HOST:PORT   where the server is (default 127.0.0.1:8001)
  --pause-ms MS      wait MS milliseconds between the two writes (default 0). With
                     sticky-server --delay-ms 0, this makes the server's reads see
                     `hello` and ` world` separately.
  -h, --help         this text
";

fn main() {
    let mut args = Args::parse("sticky-client", HELP);
    let addr = args.addr("127.0.0.1:8001");
    let pause = args.millis("--pause-ms", 0);
    args.finish();

    let mut client = TcpStream::connect(&addr)
        .unwrap_or_else(|e| args.fail(lesson_cli::connect_failed(&addr, "sticky-server", &e)));
    // Send each write at once instead of letting TCP (Nagle's algorithm) hold a small
    // write back to merge it with the next: the pieces then leave as separate packets,
    // and whether they are read together depends only on when the server reads.
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
