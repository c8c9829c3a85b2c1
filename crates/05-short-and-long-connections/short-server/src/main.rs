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

use armour::{AcceptBackoff, Deadline, println};
use lesson_cli::{Args, reason};
use py_compat::{FloatError, addr_repr, bytes_repr, float_repr, parse_float};

const HELP: &str = include_str!("help.txt");

/// The most bytes the server collects for one request: bytes that have not formed a
/// request by then are dropped with the connection, instead of buffering whatever a peer
/// sends. (A request is answered as soon as its bytes form one, so a longer request whose
/// first 1024 bytes are already a letter and a number is answered from those, and the
/// rest is read as the next request.)
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
    // loop.create_server: create the listening socket, bind it and listen.
    let server = TcpListener::bind(&addr).and_then(|s| Ok((s.local_addr()?, s)));
    let failed = |e: io::Error| format!("cannot listen on {addr}: {}", reason(&e));
    let (local, server) = server.unwrap_or_else(|e| args.fail(failed(e)));
    armour::listening(local);
    println!("Serving on {}", addr_repr(local));

    // loop.run_forever: accept connections for ever. asyncio makes a new protocol object
    // per connection and multiplexes them on one thread; here each connection gets its
    // own thread, which may block on its socket without holding up the others.
    let mut backoff = AcceptBackoff::default();
    loop {
        let Some((transport, peername)) = backoff.check("short-server", server.accept()) else {
            continue;
        };
        // The system may refuse a thread (a limit on processes and threads): then this
        // one connection is closed, and the server goes on serving.
        let handle = move || handle_connection(transport, peername, timeout);
        if let Err(e) = thread::Builder::new().spawn(handle) {
            let why = reason(&e);
            eprintln!("short-server: {peername}: no thread for this connection ({why}); closed");
        }
    }
}

/// One connection, from `connection_made` to `connection_lost`.
fn handle_connection(transport: TcpStream, peername: SocketAddr, timeout: Duration) {
    // connection_made
    println!("Connection from {}", addr_repr(peername));
    // connection_lost: the client closed its side (`Ok`, with what was wrong with its
    // last bytes, if anything), or we close the connection (`Err`, saying why).
    match data_received(&transport, timeout) {
        Ok(complaint) => {
            if let Some(why) = complaint {
                eprintln!("short-server: {peername}: {why}");
            }
            println!("The client closed the connection");
        }
        Err(why) => eprintln!("short-server: {peername}: {why}; closing the connection"),
    }
    // The socket closes here, when `transport` is dropped.
}

/// The `data_received` loop: collect bytes until they form a whole request, answer it,
/// and start over, until the client closes the connection.
fn data_received(transport: &TcpStream, timeout: Duration) -> Result<Option<String>, String> {
    let (mut data, mut answered, mut buf) = (Vec::new(), 0, [0u8; MAX_REQUEST]);
    // asyncio would wait for ever; a thread per client is cheap but not free. The time
    // limit is for the whole request: a read timeout alone would start again with
    // every byte, and a client sending one byte a second would never meet it.
    let mut client = Deadline::after(timeout).on(transport);
    loop {
        // Read at most what still fits in a request, so `data` never exceeds the limit.
        let room = MAX_REQUEST - data.len();
        let n = client.read(&mut buf[..room]);
        let n = n.map_err(|e| armour::why_dropped(&e, too_slow(&data, answered, timeout)))?;
        if n == 0 {
            // read returns 0 once the client has closed (or half-closed) its side. What
            // was wrong, if anything? The end of the stream also ends a request: judge
            // what arrived (a request that was whole has been answered already).
            return Ok(match data[..] {
                [] if answered > 0 => None,
                [] => Some("closed the connection without sending a request".to_string()),
                _ => decoder(&data, true).err(),
            });
        }
        data.extend_from_slice(&buf[..n]);
        // Line ends before a request are skipped: telnet sends `a2\r\n`, and when `a2`
        // arrives first it is answered at once, so the `\r\n` starts the next read.
        let blank = data.iter().take_while(|&b| b"\r\n".contains(b)).count();
        data.drain(..blank);

        // The original takes whatever one read returned as the whole request. A stream
        // has no message boundaries, so we keep reading until the bytes so far are a
        // letter and a complete number (or the client closes).
        let Some(result) = decoder(&data, false)? else {
            if data.len() == MAX_REQUEST {
                return Err(format!("sent {MAX_REQUEST} bytes that are not a request"));
            }
            continue;
        };
        // transport.write: the whole reply, within a time limit of its own.
        let mut reply = Deadline::after(timeout).on(transport);
        let sent = reply.write_all(&encoder("d", result));
        sent.map_err(|e| match armour::is_timeout(&e) {
            true => format!("did not take its reply within {timeout:?}"),
            false => format!("write failed: {}", reason(&e)),
        })?;
        data.clear();
        answered += 1;
        // The next request has its own time limit.
        client = Deadline::after(timeout).on(transport);
    }
}

/// What a client did not do within the time limit, by where in the conversation it was.
fn too_slow(data: &[u8], answered: u32, timeout: Duration) -> String {
    let plural = if answered == 1 { "" } else { "s" };
    match (data, answered) {
        ([_, ..], _) => format!("sent only {} within {timeout:?}", bytes_repr(data)),
        ([], 0) => format!("sent no request within {timeout:?}"),
        ([], _) => {
            format!("answered {answered} request{plural}, then no new one came within {timeout:?}")
        }
    }
}

/// _decoder: a request is a letter of HANDLERS followed by a number; the result is that
/// letter's operation applied to the number. `Ok(None)`: the start of a request, wait for
/// more bytes; `Err`: not a request, and more bytes cannot make it one. `at_end`: no more
/// bytes will come.
fn decoder(data: &[u8], at_end: bool) -> Result<Option<f64>, String> {
    let shown = bytes_repr(&data[..data.len().min(40)]);
    let message = match std::str::from_utf8(data) {
        Ok(text) => text,
        // Only the last character is cut short: its other bytes may still come.
        Err(e) if e.error_len().is_none() && !at_end => return Ok(None),
        Err(_) => return Err(format!("{shown} is not UTF-8 text")),
    };
    let mut chars = message.chars();
    let Some(query) = chars.next() else {
        return Ok(None);
    };
    let Some(&(_, handler)) = HANDLERS.iter().find(|(letter, _)| *letter == query) else {
        return Err(format!(
            "{shown} starts with {query:?}, not a request letter (a, b, c or d)"
        ));
    };
    let number = chars.as_str();
    // A line end closes the request: telnet and nc send `a2\r\n` (what a student types
    // and Enter), and `a` + Enter has no number, however long we wait.
    let at_end = at_end || number.contains('\n');
    let x = match parse_float(number) {
        Ok(x) => x,
        Err(FloatError::Incomplete) if !at_end => return Ok(None),
        Err(_) if number.trim().is_empty() => {
            return Err(format!("{shown} has no number after {query:?}"));
        }
        Err(_) => return Err(format!("{shown}: {number:?} is not a number")),
    };
    // Python's ** raises OverflowError when a finite number's power is too large;
    // the multiplications of b and c just give inf, in Python and here.
    if query == 'a' && x.is_finite() && handler(x).is_infinite() {
        let x = float_repr(x);
        return Err(format!(
            "{shown}: {x}**2 is too large (Python raises OverflowError)"
        ));
    }
    Ok(Some(handler(x)))
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
            Ok(Some(result)) => String::from_utf8(encoder("d", result)).unwrap(),
            Ok(None) => "incomplete".to_string(),
            Err(why) => why,
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
        assert_eq!(decoder(b"a\xd9", false), Ok(None));
        assert!(decoder(b"a\xd9", true).is_err());
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
        assert_eq!(
            decoder(b"\xff2", false),
            Err("b'\\xff2' is not UTF-8 text".to_string())
        );
        assert_eq!(
            decoder(b"a", true),
            Err("b'a' has no number after 'a'".to_string())
        );
        // A line end ends the request: no number will follow.
        assert_eq!(answer("a\r\n"), "b'a\\r\\n' has no number after 'a'");
        assert_eq!(answer("a1e\n"), "b'a1e\\n': \"1e\\n\" is not a number");
    }
}
