//! Lesson 05: the short-connection server, a port of short_server.py.
//!
//! The original is an asyncio `Protocol`: the event loop calls `connection_made`,
//! `data_received` and `connection_lost` on a new protocol object per connection. With
//! blocking sockets, the same three events are simply the beginning, the loop and the end
//! of one function, `handle_connection`, running in its own thread per connection.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use armour::{AcceptBackoff, Deadline};
use lesson_cli::Args;
use py_compat::{FloatError, addr_repr, bytes_repr, float_repr, parse_float};

const HELP: &str = "\
usage: short-server [--addr HOST:PORT] [--timeout-ms MS]

Lesson 05: the short-connection server (a port of short_server.py, asyncio).
A request is one letter and a number, such as `a2`; the reply is `d` and the result,
printed as Python prints a float (`d4.0`): a = square, b = cube, c = fourth power,
d = the number itself. Numbers are read as Python's float() reads them.
Serves every client at once, one thread per connection.

A request may end with a line end (`\r\n` or `\n`), as telnet and nc send it.

stdout: `Serving on ('127.0.0.1', 5000)`, then `Connection from (...)` and
        `The client closed the connection` for every client, as the original prints.
stderr: `short-server: listening on ADDR` once bound, and one line per bad request
        or dropped connection.

options:
  --addr HOST:PORT   where to listen (default 127.0.0.1:5000; port 0 = any free port)
  --timeout-ms MS    how long a client may take to send each whole request, counted
                     from the connection or the previous reply, and to take in a
                     reply; a client that takes longer is dropped (default 10000)
  -h, --help         this text
";

/// A request longer than this is not a letter and a number: the connection is dropped
/// instead of buffering whatever a peer sends.
const MAX_REQUEST: usize = 1024;

/// An operation on the request's number.
type Handler = fn(f64) -> f64;

/// The operation of each request letter. `a` is Python's `x**2`, which calls C's
/// `pow`; `b` and `c` are plain multiplications, as in the original.
const HANDLERS: [(char, Handler); 4] = [
    ('a', |x| x.powf(std::hint::black_box(2.0))), // black_box: keep pow, not x*x
    ('b', |x| x * x * x),
    ('c', |x| x * x * x * x),
    ('d', |x| x),
];

fn main() {
    let mut args = Args::parse("short-server", HELP);
    let addr = args.addr("127.0.0.1:5000");
    let timeout = args.timeout("--timeout-ms", 10_000);
    args.finish();
    if let Err(e) = start_server(&addr, timeout) {
        args.fail(format_args!(
            "cannot listen on {addr}: {}",
            lesson_cli::reason(&e)
        ));
    }
}

fn start_server(addr: &str, timeout: Duration) -> io::Result<()> {
    // loop.create_server: create the listening socket, bind it and listen.
    let server = TcpListener::bind(addr)?;
    let local = server.local_addr()?;
    eprintln!("short-server: listening on {local}");
    println!("Serving on {}", addr_repr(local));

    // loop.run_forever: accept connections for ever. asyncio makes a new protocol object
    // per connection and multiplexes them on one thread; here each connection gets its
    // own thread, which may block on its socket without holding up the others.
    let mut backoff = AcceptBackoff::default();
    loop {
        match server.accept() {
            Ok((transport, peername)) => {
                backoff.succeeded("short-server");
                // The system may refuse a thread (a limit on processes and threads):
                // then this one connection is closed, and the server goes on serving.
                let job = thread::Builder::new()
                    .spawn(move || handle_connection(transport, peername, timeout));
                if let Err(e) = job {
                    let why = lesson_cli::reason(&e);
                    eprintln!(
                        "short-server: {peername}: no thread for this connection ({why}); closed"
                    );
                }
            }
            // Out of file descriptors, accept fails again at once: wait before retrying.
            Err(e) => backoff.failed("short-server", &e),
        }
    }
}

/// How a connection ended.
enum End {
    /// The client closed its side after its requests: the normal end.
    ClientClosed,
    /// The client closed its side, but something was wrong with what it sent.
    ClientClosedEarly(String),
    /// We close the connection because of what the client sent (or did not send).
    Dropped(String),
}

/// One connection, from `connection_made` to `connection_lost`.
fn handle_connection(mut transport: TcpStream, peername: SocketAddr, timeout: Duration) {
    // connection_made
    println!("Connection from {}", addr_repr(peername));

    match serve(&mut transport, timeout) {
        // connection_lost
        End::ClientClosed => println!("The client closed the connection"),
        End::ClientClosedEarly(why) => {
            eprintln!("short-server: {peername}: {why}");
            println!("The client closed the connection");
        }
        End::Dropped(why) => eprintln!("short-server: {peername}: {why}; closing the connection"),
    }
    // The socket closes here, when `transport` is dropped.
}

/// The `data_received` loop: collect bytes until they form a whole request, answer it,
/// and start over, until the client closes the connection.
fn serve(transport: &mut TcpStream, timeout: Duration) -> End {
    // A write blocks while the client does not read and the buffers on both sides are
    // full: a client that never reads its reply must not hold this thread for ever.
    if let Err(e) = transport.set_write_timeout(Some(timeout)) {
        return End::Dropped(lesson_cli::reason(&e));
    }
    let mut data = Vec::new();
    let mut answered = 0;
    let mut buf = [0u8; MAX_REQUEST];
    // asyncio would wait for ever; a thread per client is cheap but not free. The time
    // limit is for the whole request: a read timeout alone would start again with
    // every byte, and a client sending one byte a second would never meet it.
    let mut deadline = Deadline::after(timeout);
    loop {
        // Read at most what still fits in a request, so `data` never exceeds the limit.
        let room = MAX_REQUEST - data.len();
        let read = deadline
            .remaining()
            .and_then(|left| transport.set_read_timeout(Some(left)))
            .and_then(|()| transport.read(&mut buf[..room]));
        let n = match read {
            // read returns 0 once the client has closed (or half-closed) its side.
            Ok(0) if data.is_empty() && answered > 0 => return End::ClientClosed,
            Ok(0) if data.is_empty() => {
                return End::ClientClosedEarly(
                    "closed the connection without sending a request".to_string(),
                );
            }
            Ok(0) => {
                // The end of the stream also ends the request: judge what arrived.
                return match decoder(&data, true) {
                    Err(Decode::Bad(why)) => End::ClientClosedEarly(why),
                    _ => End::ClientClosedEarly(format!(
                        "closed the connection in the middle of {}",
                        bytes_repr(&data)
                    )),
                };
            }
            Ok(n) => n,
            Err(e) if lesson_cli::is_timeout(&e) && data.is_empty() && answered == 0 => {
                return End::Dropped(format!("sent no request within {timeout:?}"));
            }
            Err(e) if lesson_cli::is_timeout(&e) && data.is_empty() => {
                let plural = if answered == 1 { "" } else { "s" };
                return End::Dropped(format!(
                    "answered {answered} request{plural}, then no new one came within {timeout:?}"
                ));
            }
            Err(e) if lesson_cli::is_timeout(&e) => {
                return End::Dropped(format!(
                    "sent only {} within {timeout:?}",
                    bytes_repr(&data)
                ));
            }
            Err(e) => return End::Dropped(format!("read failed: {}", lesson_cli::reason(&e))),
        };
        data.extend_from_slice(&buf[..n]);
        // Line ends before a request are skipped: telnet sends `a2\r\n`, and when `a2`
        // arrives first it is answered at once, so the `\r\n` starts the next read.
        let blank = data.iter().take_while(|&&b| b == b'\r' || b == b'\n');
        data.drain(..blank.count());
        if data.is_empty() {
            continue;
        }

        // data_received. The original takes whatever one read returned as the whole
        // request. A stream has no message boundaries, so we keep reading until the
        // bytes so far are a letter and a complete number (or the client closes).
        match decoder(&data, false) {
            Ok(result) => {
                if let Err(e) = transport.write_all(&encoder("d", result)) {
                    if lesson_cli::is_timeout(&e) {
                        return End::Dropped(format!("did not take its reply within {timeout:?}"));
                    }
                    return End::Dropped(format!("write failed: {}", lesson_cli::reason(&e)));
                }
                data.clear();
                answered += 1;
                // The next request has its own time limit.
                deadline = Deadline::after(timeout);
            }
            Err(Decode::Incomplete) if data.len() < MAX_REQUEST => continue,
            Err(Decode::Incomplete) => {
                return End::Dropped(format!("sent {MAX_REQUEST} bytes that are not a request"));
            }
            Err(Decode::Bad(why)) => return End::Dropped(why),
        }
    }
}

/// Why the bytes received so far are not a request.
enum Decode {
    /// The start of a request: wait for more bytes.
    Incomplete,
    /// Not a request, and more bytes cannot make it one.
    Bad(String),
}

/// _decoder: a request is a letter of HANDLERS followed by a number; the result is that
/// letter's operation applied to the number. `at_end`: no more bytes will come.
fn decoder(data: &[u8], at_end: bool) -> Result<f64, Decode> {
    let shown = bytes_repr(&data[..data.len().min(40)]);
    let message = match std::str::from_utf8(data) {
        Ok(text) => text,
        // Only the last character is cut short: its other bytes may still come.
        Err(e) if e.error_len().is_none() && !at_end => return Err(Decode::Incomplete),
        Err(_) => return Err(Decode::Bad(format!("{shown} is not UTF-8 text"))),
    };
    let mut chars = message.chars();
    let Some(query) = chars.next() else {
        return Err(Decode::Incomplete);
    };
    let Some(&(_, handler)) = HANDLERS.iter().find(|(letter, _)| *letter == query) else {
        return Err(Decode::Bad(format!(
            "{shown} starts with {query:?}, not a request letter (a, b, c or d)"
        )));
    };
    let number = chars.as_str();
    // A line end closes the request: telnet and nc send `a2\r\n` (what a student types
    // and Enter), and `a` + Enter has no number, however long we wait.
    let at_end = at_end || number.contains('\n');
    let x = match parse_float(number) {
        Ok(x) => x,
        Err(FloatError::Incomplete) if !at_end => return Err(Decode::Incomplete),
        Err(_) if number.trim().is_empty() => {
            return Err(Decode::Bad(format!(
                "{shown} has no number after {query:?}"
            )));
        }
        Err(_) => return Err(Decode::Bad(format!("{shown}: {number:?} is not a number"))),
    };
    let result = handler(x);
    // Python's ** raises OverflowError when a finite number's power is too large;
    // the multiplications of b and c just give inf, in Python and here.
    if query == 'a' && x.is_finite() && result.is_infinite() {
        return Err(Decode::Bad(format!(
            "{shown}: {}**2 is too large (Python raises OverflowError)",
            float_repr(x)
        )));
    }
    Ok(result)
}

/// _encoder: the reply letter and the number, as Python's str() prints it.
fn encoder(query: &str, num: f64) -> Vec<u8> {
    format!("{query}{}", float_repr(num)).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(request: &str) -> String {
        match decoder(request.as_bytes(), false) {
            Ok(result) => String::from_utf8(encoder("d", result)).unwrap(),
            Err(Decode::Incomplete) => "incomplete".to_string(),
            Err(Decode::Bad(why)) => why,
        }
    }

    #[test]
    fn every_letter_answers_like_python() {
        // Expected replies printed by Python 3.11's short_server.py handlers.
        assert_eq!(answer("a2"), "d4.0");
        assert_eq!(answer("b2"), "d8.0");
        assert_eq!(answer("c2"), "d16.0");
        assert_eq!(answer("d2"), "d2.0");
        assert_eq!(answer("a0.5"), "d0.25");
        assert_eq!(answer("a1e8"), "d1e+16");
        assert_eq!(answer("b1e-2"), "d1.0000000000000002e-06");
        assert_eq!(answer("c-0"), "d0.0");
        assert_eq!(answer("b-0"), "d-0.0");
        assert_eq!(answer("b1e200"), "dinf");
        assert_eq!(answer("a-inf"), "dinf");
        assert_eq!(answer("dnan"), "dnan");
        assert_eq!(answer("a 1_000 "), "d1000000.0");
        // What telnet sends: the line end is white space around the number.
        assert_eq!(answer("a2\r\n"), "d4.0");
    }

    #[test]
    fn waits_for_the_rest_of_a_request() {
        for start in ["", "a", "a1e", "a-", "a1_", "ain", "a\u{a0}"] {
            assert_eq!(answer(start), "incomplete", "{start:?}");
        }
        // A character cut in the middle of its UTF-8 bytes.
        assert!(matches!(decoder(b"a\xd9", false), Err(Decode::Incomplete)));
        assert!(matches!(decoder(b"a\xd9", true), Err(Decode::Bad(_))));
    }

    #[test]
    fn says_what_is_wrong() {
        assert_eq!(
            answer("x2"),
            "b'x2' starts with 'x', not a request letter (a, b, c or d)"
        );
        assert_eq!(answer("a2x"), "b'a2x': \"2x\" is not a number");
        assert_eq!(
            answer("a1e200"),
            "b'a1e200': 1e+200**2 is too large (Python raises OverflowError)"
        );
        assert!(
            matches!(decoder(b"\xff2", false), Err(Decode::Bad(why)) if why == "b'\\xff2' is not UTF-8 text")
        );
        assert!(
            matches!(decoder(b"a", true), Err(Decode::Bad(why)) if why == "b'a' has no number after 'a'")
        );
        // A line end ends the request: no number will follow.
        assert_eq!(answer("a\r\n"), "b'a\\r\\n' has no number after 'a'");
        assert_eq!(answer("a1e\n"), "b'a1e\\n': \"1e\\n\" is not a number");
    }
}
