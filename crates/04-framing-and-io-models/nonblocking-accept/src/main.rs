//! Lesson 04: accept on a non-blocking socket, a port of section 4's first demo.
//! A non-blocking call never waits: when nothing is ready it fails at once with
//! WouldBlock (Python: BlockingIOError). Here nobody is waiting, so accept fails:
//! that failure is the lesson, not a bug.

use std::io::{self, Read};
use std::net::TcpListener;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use lesson_cli::Args;

const HELP: &str = "\
usage: nonblocking-accept [--addr HOST:PORT] [--wait-ms MS]

Lesson 04: accept on a non-blocking socket (a port of section 4's first demo).
Makes its listening socket non-blocking and calls accept at once. Nobody is
waiting, so accept does not wait either: it fails with WouldBlock (Python's
BlockingIOError), the program says so and exits with status 1. That is the point.
With --wait-ms, it retries: every 10 ms it tries the non-blocking accept again,
and then the non-blocking recv, until one succeeds or MS milliseconds have passed.
A client that connects within that time is accepted and its message printed. That
tiny polling loop is the idea the next program, nonblocking-server, develops.

stdout: what the client sent, if a client was accepted and its message was there.
stderr: `nonblocking-accept: listening on ADDR` once bound, and the WouldBlock error.

options:
  --addr HOST:PORT   where to listen (default 127.0.0.1:8001; port 0 = any free port)
  --wait-ms MS       keep retrying accept, then recv, every 10 ms for up to MS
                     milliseconds (default 0: one try each, as the original)
  -h, --help         this text
";

fn main() -> ExitCode {
    let mut args = Args::parse("nonblocking-accept", HELP);
    let addr = args.addr("127.0.0.1:8001");
    let wait = args.millis("--wait-ms", 0);
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
    // One deadline for accept and recv together. With --wait-ms 0 it has already passed
    // after the first try, so each call is tried exactly once, as in the original.
    let deadline = Instant::now() + wait;

    // Non-blocking accept: a connection already in the queue, or WouldBlock right now.
    let (conn, _addr) = match retry(deadline, || sock.accept()) {
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
    let n = match retry(deadline, || (&conn).read(&mut client_data)) {
        Ok(n) => n,
        Err(e) => return would_block("recv", &e),
    };
    println!("{}", String::from_utf8_lossy(&client_data[..n]));
    ExitCode::SUCCESS
}

/// Calls the non-blocking `call`; while it fails with WouldBlock and `deadline` has not
/// passed, sleeps 10 ms and calls it again. A socket that never waits, asked again and
/// again: a tiny polling loop, the idea nonblocking-server builds its whole server on
/// (there, one loop polls the listener and every client in turn).
fn retry<T>(deadline: Instant, mut call: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match call() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(10));
            }
            done => return done,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A call that fails with WouldBlock `busy` times, then succeeds; counts its calls.
    fn ready_after(busy: usize, calls: &mut usize) -> impl FnMut() -> io::Result<usize> + '_ {
        move || {
            *calls += 1;
            if *calls > busy {
                Ok(*calls)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            }
        }
    }

    #[test]
    fn without_a_wait_each_call_is_tried_once() {
        let mut calls = 0;
        let result = retry(Instant::now(), ready_after(1, &mut calls));
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        assert_eq!(calls, 1);
    }

    #[test]
    fn retries_until_the_call_succeeds() {
        let mut calls = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        assert_eq!(retry(deadline, ready_after(3, &mut calls)).unwrap(), 4);
        assert_eq!(calls, 4);
    }

    #[test]
    fn gives_up_at_the_deadline() {
        let mut calls = 0;
        let started = Instant::now();
        let result = retry(
            started + Duration::from_millis(50),
            ready_after(usize::MAX, &mut calls),
        );
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(calls >= 2);
    }

    #[test]
    fn other_errors_are_not_retried() {
        let mut calls = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        let result: io::Result<()> = retry(deadline, || {
            calls += 1;
            Err(io::ErrorKind::ConnectionReset.into())
        });
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(calls, 1);
    }
}
