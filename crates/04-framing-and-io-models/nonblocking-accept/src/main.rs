//! Lesson 04: accept on a non-blocking socket, a port of section 4's first demo.
//! A non-blocking call never waits: when nothing is ready it fails at once with
//! WouldBlock (Python: BlockingIOError). Here nobody is waiting, so accept fails:
//! that failure is the lesson, not a bug.

use std::io::{self, Read};
use std::net::TcpListener;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use lesson_cli::Args;

const HELP: &str = "\
usage: nonblocking-accept [--addr HOST:PORT] [--wait-ms MS]

Lesson 04: accept on a non-blocking socket (a port of section 4's first demo).
Makes its listening socket non-blocking and calls accept at once. Nobody is
waiting, so accept does not wait either: it fails with WouldBlock (Python's
BlockingIOError), the program says so and exits with status 1. That is the point.
With --wait-ms, a client that connected during the wait is accepted, and its
message is read without waiting (it prints it, or fails with WouldBlock if the
message has not arrived yet).

stdout: what the client sent, if a client was accepted and its message was there.
stderr: `nonblocking-accept: listening on ADDR` once bound, and the WouldBlock error.

options:
  --addr HOST:PORT   where to listen (default 127.0.0.1:8001; port 0 = any free port)
  --wait-ms MS       wait MS milliseconds before accept (default 0: accept at once)
  -h, --help         this text
";

fn main() -> ExitCode {
    let mut args = Args::parse("nonblocking-accept", HELP);
    let addr = args.addr("127.0.0.1:8001");
    let wait = Duration::from_millis(args.value("--wait-ms").unwrap_or(0));
    args.finish();

    let sock = TcpListener::bind(&addr).unwrap_or_else(|e| {
        args.fail(format_args!(
            "cannot listen on {addr}: {}",
            lesson_cli::reason(&e)
        ))
    });
    // sock.setblocking(False): from now on accept returns at once, ready or not.
    if let Err(e) = sock.set_nonblocking(true) {
        args.fail(format_args!(
            "cannot make the socket non-blocking: {}",
            lesson_cli::reason(&e)
        ));
    }
    match sock.local_addr() {
        Ok(local) => eprintln!("nonblocking-accept: listening on {local}"),
        Err(e) => args.fail(lesson_cli::reason(&e)),
    }
    thread::sleep(wait);

    // Non-blocking accept: a connection already in the queue, or WouldBlock right now.
    let (conn, _addr) = match sock.accept() {
        Ok(pair) => pair,
        Err(e) => return would_block("accept", &e),
    };
    // The accepted socket does not inherit non-blocking mode everywhere (Linux: it does
    // not): set it, so that recv behaves as the original's comment says.
    if let Err(e) = conn.set_nonblocking(true) {
        args.fail(lesson_cli::reason(&e));
    }
    // Non-blocking recv: the bytes already received, or WouldBlock right now.
    let mut client_data = [0u8; 1024];
    let n = match (&conn).read(&mut client_data) {
        Ok(n) => n,
        Err(e) => return would_block("recv", &e),
    };
    println!("{}", String::from_utf8_lossy(&client_data[..n]));
    ExitCode::SUCCESS
}

/// Reports a failed non-blocking call; WouldBlock gets the explanation.
fn would_block(call: &str, e: &io::Error) -> ExitCode {
    if e.kind() == io::ErrorKind::WouldBlock {
        eprintln!(
            "nonblocking-accept: {call} failed: WouldBlock ({}): nothing was ready, and a \
             non-blocking socket does not wait (Python raises BlockingIOError here)",
            lesson_cli::reason(e)
        );
    } else {
        eprintln!(
            "nonblocking-accept: {call} failed: {}",
            lesson_cli::reason(e)
        );
    }
    ExitCode::FAILURE
}
