//! The test's own side of a connection: connect with retries while a server starts, a
//! stand-in server for testing a client, a loopback address where nobody listens, and
//! reads that tell silence from an answer.

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::{DEADLINE, wait_until};

/// Connects to `addr`, retrying until the deadline (for a server that is still starting).
pub fn connect(addr: &str) -> Result<TcpStream, String> {
    let mut last = None;
    let connected = wait_until(DEADLINE, || match TcpStream::connect(addr) {
        Ok(stream) => {
            last = Some(Ok(stream));
            true
        }
        Err(e) => {
            last = Some(Err(e));
            false
        }
    });
    match last {
        Some(Ok(stream)) if connected => Ok(stream),
        Some(Err(e)) => Err(format!("cannot connect to {addr}: {e}")),
        _ => Err(format!("cannot connect to {addr}")),
    }
}

/// A listener on a free loopback port, and its address.
pub(crate) fn free_listener() -> Result<(TcpListener, SocketAddr), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?;
    Ok((listener, addr))
}

/// A loopback address where nobody listens, for "cannot connect" tests: port 1
/// (tcpmux, which no system runs today), so a connect there is refused. Not a port the
/// OS just handed out and took back: a server of a test running at the same time may
/// be given that very port, and then the "refused" client talks to it (seen with
/// tests 16 at a time). Only if something does listen on port 1 here, a freed port.
pub fn closed_port_addr() -> Result<String, String> {
    let port_one = SocketAddr::from(([127, 0, 0, 1], 1));
    match TcpStream::connect_timeout(&port_one, DEADLINE) {
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => Ok(port_one.to_string()),
        _ => {
            let (listener, addr) = free_listener()?;
            drop(listener);
            Ok(addr.to_string())
        }
    }
}

/// A stand-in server for testing a client: listens on a free loopback port, takes ONE
/// connection and hands it to `serve` on its own thread. Returns the address to give
/// the client, and the thread: join it to get what `serve` returned (a failed accept,
/// like a failed assertion in `serve`, is a panic that the join reports).
pub fn one_shot_server<T: Send + 'static>(
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> Result<(String, JoinHandle<T>), String> {
    let (listener, addr) = free_listener()?;
    let handle = thread::spawn(move || match listener.accept() {
        Ok((stream, _)) => serve(stream),
        Err(e) => panic!("the one-shot server on {addr} could not accept: {e}"),
    });
    Ok((addr.to_string(), handle))
}

/// One `read`, again if a signal interrupted it. A test process gets signals (assert_cmd's
/// timeouts install a SIGCHLD handler, so any child that exits sends one), and a read on
/// a socket with a read timeout is not restarted after a signal: it fails with EINTR
/// (`Interrupted`), which is no answer from the peer.
pub fn read_some(stream: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Whether nothing arrives on `stream` for `quiet` (a read that times out, rather than
/// bytes or end of stream): to check that a server waits for the rest of a request
/// instead of judging the first piece. The stream's read timeout is restored after.
/// A signal may cut the wait short (see `read_some`); then it waits again for the rest
/// of `quiet`.
pub fn stays_silent(stream: &mut TcpStream, quiet: Duration) -> bool {
    let before = stream.read_timeout().ok().flatten();
    let until = Instant::now() + quiet;
    let silent = loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break true; // nothing came, only interruptions
        }
        if stream.set_read_timeout(Some(left)).is_err() {
            break false;
        }
        match stream.read(&mut [0u8; 64]) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break true;
            }
            _ => break false,
        }
    };
    let _ = stream.set_read_timeout(before);
    silent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nobody_listens_on_a_closed_port() {
        let addr = closed_port_addr().unwrap();
        let err = TcpStream::connect(&addr).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    }

    #[test]
    fn one_shot_server_hands_over_its_connection_and_silence_is_seen() {
        use std::io::Write;
        let (addr, server) = one_shot_server(|mut conn| {
            let mut got = [0u8; 2];
            conn.read_exact(&mut got).unwrap();
            conn.write_all(b"ok").unwrap();
            got
        })
        .unwrap();
        let mut stream = connect(&addr).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        // Nothing sent yet, so nothing comes back.
        assert!(stays_silent(&mut stream, Duration::from_millis(10)));
        assert_eq!(stream.read_timeout().unwrap(), Some(DEADLINE));
        stream.write_all(b"hi").unwrap();
        assert_eq!(&server.join().unwrap(), b"hi");
        // A reply, then end of stream: neither is silence.
        assert!(!stays_silent(&mut stream, DEADLINE));
        assert!(!stays_silent(&mut stream, DEADLINE));
    }
}
