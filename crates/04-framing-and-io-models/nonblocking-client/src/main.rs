//! Lesson 04: the interactive client of the polling server (section 4).
//! Reads a line at the `>>: ` prompt, sends it, prints the server's reply.

use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use lesson_cli::Args;

const HELP: &str = "\
usage: nonblocking-client [--addr HOST:PORT]

Lesson 04: the interactive client of the polling server (a port of section 4's
client). Prompts `>>: `, sends each line you type (without surrounding spaces;
empty lines are skipped) to nonblocking-server and prints its reply, the same text
in upper case. Ends at end of input (Ctrl-D, or the end of a pipe).

options:
  --addr HOST:PORT   where the server is (default 127.0.0.1:8082)
  -h, --help         this text
";

fn main() {
    let mut args = Args::parse("nonblocking-client", HELP);
    let addr = args.addr("127.0.0.1:8082");
    args.finish();

    let mut client = TcpStream::connect(&addr)
        .unwrap_or_else(|e| args.fail(lesson_cli::connect_failed(&addr, "nonblocking-server", &e)));
    // Never wait forever for a reply that is not coming.
    if let Err(e) = client.set_read_timeout(Some(Duration::from_secs(10))) {
        args.fail(lesson_cli::reason(&e));
    }

    let mut lines = io::stdin().lock().lines();
    loop {
        // input('>>: '): the prompt has no newline, so flush it out by hand.
        print!(">>: ");
        let _ = io::stdout().flush();
        let msg = match lines.next() {
            Some(Ok(line)) => line,
            Some(Err(e)) => args.fail(format_args!(
                "cannot read your input: {}",
                lesson_cli::reason(&e)
            )),
            // End of input: finish the prompt's line and leave cleanly.
            None => {
                println!();
                return;
            }
        };
        let msg = msg.trim();
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
            args.fail(format_args!(
                "no reply from {addr}: {}",
                lesson_cli::no_reply(&e, "10 s")
            ));
        }
        println!("{}", String::from_utf8_lossy(&data));
    }
}
