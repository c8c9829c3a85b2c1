//! Lesson 04: the interactive client of the polling server (section 4).
//! Reads a line at the `>>: ` prompt, sends it, prints the server's reply.

use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use armour::{print, println};
use lesson_cli::Args;

const HELP: &str = include_str!("help.txt");

/// How long to wait for a reply before giving up: never wait forever for one that is
/// not coming.
const PATIENCE_S: u64 = 10;

fn main() {
    let mut args = Args::parse("nonblocking-client", HELP);
    let addr = args.addr("127.0.0.1:8082");
    args.finish();

    let mut client = TcpStream::connect(&addr)
        .unwrap_or_else(|e| args.fail(lesson_cli::connect_failed(&addr, "nonblocking-server", &e)));
    if let Err(e) = client.set_read_timeout(Some(Duration::from_secs(PATIENCE_S))) {
        args.fail(lesson_cli::reason(&e));
    }

    let mut lines = io::stdin().lock().lines();
    loop {
        // input('>>: '): the prompt has no newline; print! shows it at once.
        print!(">>: ");
        // End of input (Ctrl-D; Ctrl-Z then Enter on Windows): end the prompt's line, leave.
        let Some(line) = lines.next() else {
            println!();
            return;
        };
        let line = line.unwrap_or_else(|e| {
            args.fail(format_args!(
                "cannot read your input: {}",
                lesson_cli::reason(&e)
            ))
        });
        let msg = line.trim();
        if msg.is_empty() {
            continue;
        }
        if let Err(e) = client.write_all(msg.as_bytes()) {
            args.fail(format_args!("cannot send: {}", lesson_cli::reason(&e)));
        }
        // The reply is our message upper-cased, so exactly as many bytes. One recv may
        // return only part of it (TCP is a byte stream): read_exact calls recv until all
        // arrived, and fails if the server closes or the read timeout expires first.
        let mut data = vec![0u8; msg.len()];
        if let Err(e) = client.read_exact(&mut data) {
            let why = lesson_cli::no_reply(&e, &format!("{PATIENCE_S} s"));
            args.fail(format_args!("no reply from {addr}: {why}"));
        }
        println!("{}", String::from_utf8_lossy(&data));
    }
}
