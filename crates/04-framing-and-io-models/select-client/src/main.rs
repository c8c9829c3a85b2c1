//! Lesson 04: the client of the select server (section 5).
//! Sends `hello world`, prints the reply as Python prints bytes, again and again.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use armour::println;
use lesson_cli::Args;
use py_compat::BytesRepr;

const HELP: &str = include_str!("help.txt");
const MESSAGE: &[u8] = b"hello world";
/// How long to wait for a reply before giving up.
const PATIENCE_S: u64 = 10;

fn main() {
    let mut args = Args::parse("select-client", HELP);
    let addr = args.addr("127.0.0.1:8001");
    let count: u64 = args.value("--count").unwrap_or(0);
    let pause = args.millis("--pause-ms", 0);
    args.finish();

    let mut client = TcpStream::connect(&addr)
        .unwrap_or_else(|e| args.fail(lesson_cli::connect_failed(&addr, "select-server", &e)));
    if let Err(e) = client.set_read_timeout(Some(Duration::from_secs(PATIENCE_S))) {
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
            let why = lesson_cli::no_reply(&e, &format!("{PATIENCE_S} s"));
            args.fail(format_args!("no reply from {addr}: {why}"));
        }
        println!("{}", BytesRepr(&data));
        if !pause.is_zero() {
            thread::sleep(pause);
        }
    }
}
