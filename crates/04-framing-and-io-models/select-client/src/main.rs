//! Lesson 04: the client of the select server (section 5).
//! Sends `hello world`, prints the reply as Python prints bytes, again and again.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use lesson_cli::Args;
use py_compat::bytes_repr;

const HELP: &str = "\
usage: select-client [--addr HOST:PORT] [--count N] [--pause-ms MS]

Lesson 04: the client of the select server (a port of section 5's client).
Sends b'hello world' to select-server and prints the reply as Python prints bytes,
b'HELLO WORLD', in a loop, as fast as the server answers (like the original: tens
of thousands of lines a second, here and in the server's terminal).

options:
  --addr HOST:PORT   where the server is (default 127.0.0.1:8001)
  --count N          stop after N round trips (default 0 = forever, like the
                     original; stop it with Ctrl-C)
  --pause-ms MS      wait MS milliseconds after each reply (default 0, like the
                     original), e.g. 500 for a pace you can read
  -h, --help         this text
";

const MESSAGE: &[u8] = b"hello world";

fn main() {
    let mut args = Args::parse("select-client", HELP);
    let addr = args.addr("127.0.0.1:8001");
    let count: u64 = args.value("--count").unwrap_or(0);
    let pause = args.millis("--pause-ms", 0);
    args.finish();

    let mut client = TcpStream::connect(&addr)
        .unwrap_or_else(|e| args.fail(lesson_cli::connect_failed(&addr, "select-server", &e)));
    if let Err(e) = client.set_read_timeout(Some(Duration::from_secs(10))) {
        args.fail(lesson_cli::reason(&e));
    }

    let mut sent = 0;
    while count == 0 || sent < count {
        if let Err(e) = client.write_all(MESSAGE) {
            args.fail(format_args!("cannot send: {}", lesson_cli::reason(&e)));
        }
        sent += 1;
        // The reply is as long as the message; one recv could return part of it (or,
        // without the wait for each reply, two replies stuck together): read_exact calls
        // recv until exactly that many bytes arrived, or the server closes, or the read
        // timeout expires.
        let mut data = [0u8; MESSAGE.len()];
        if let Err(e) = client.read_exact(&mut data) {
            args.fail(format_args!(
                "no reply from {addr}: {}",
                lesson_cli::no_reply(&e, "10 s")
            ));
        }
        println!("{}", bytes_repr(&data));
        if !pause.is_zero() {
            thread::sleep(pause);
        }
    }
}
