//! Lesson 04: accept on a non-blocking socket, a port of section 4's first demo.
//! A non-blocking call never waits: when nothing is ready it fails at once with
//! WouldBlock (Python: BlockingIOError). Here nobody is waiting, so accept fails:
//! that failure is the lesson, not a bug.

use std::io::{self, Read};
use std::time::{Duration, Instant};
use std::{net::TcpListener, thread};

use armour::println;
use lesson_cli::Args;

const HELP: &str = include_str!("help.txt");

fn main() {
    let mut args = Args::parse("nonblocking-accept", HELP);
    let addr = args.addr("127.0.0.1:8001");
    let wait = args.millis("--wait-ms", 0);
    args.finish();
    // A failed call ends the program with one line and status 1, as Python's uncaught
    // exception does; WouldBlock gets the explanation.
    if let Err((call, e)) = start_server(&addr, wait) {
        let why = lesson_cli::reason(&e);
        match (call, e.kind()) {
            ("bind", _) => args.fail(format_args!("cannot listen on {addr}: {why}")),
            (_, io::ErrorKind::WouldBlock) => args.fail(format_args!(
                "{call} failed: WouldBlock ({why}): nothing was ready, and a non-blocking \
                 socket does not wait (Python raises BlockingIOError here)"
            )),
            _ => args.fail(format_args!("{call} failed: {why}")),
        }
    }
}

/// The original's steps. A call that fails comes back with its name.
fn start_server(addr: &str, wait: Duration) -> Result<(), (&'static str, io::Error)> {
    let sock = TcpListener::bind(addr).map_err(|e| ("bind", e))?;
    // sock.setblocking(False): from now on accept returns at once, ready or not.
    let nonblocking = |e| ("set_nonblocking", e);
    sock.set_nonblocking(true).map_err(nonblocking)?;
    armour::listening(sock.local_addr().map_err(|e| ("bind", e))?);
    // One deadline for accept and recv together. With --wait-ms 0 it has already passed
    // after the first try, so each call is tried exactly once, as in the original.
    let deadline = Instant::now() + wait;

    // Non-blocking accept: a connection already in the queue, or WouldBlock right now.
    let (conn, _addr) = retry(deadline, || sock.accept()).map_err(|e| ("accept", e))?;
    // The accepted socket does not inherit non-blocking mode everywhere (Linux: it does
    // not): set it, so that recv behaves as the original's comment says.
    conn.set_nonblocking(true).map_err(nonblocking)?;
    // Non-blocking recv: the bytes already received, or WouldBlock right now.
    let mut client_data = [0u8; 1024];
    let n = retry(deadline, || (&conn).read(&mut client_data)).map_err(|e| ("recv", e))?;
    println!("{}", String::from_utf8_lossy(&client_data[..n]));
    Ok(())
}

/// Calls the non-blocking `call`; while it fails with WouldBlock and `deadline` has not
/// passed, sleeps 10 ms and calls it again. A socket that never waits, asked again and
/// again: a tiny polling loop, the idea nonblocking-server builds its whole server on
/// (there, one loop polls the listener and every client in turn).
fn retry<T>(deadline: Instant, mut call: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match call() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {}
            done => return done,
        }
        thread::sleep(Duration::from_millis(10));
    }
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
