//! Lesson 05: the short-connection client, a port of the asyncio client of the original
//! (MyClientProtocol and Client). Every request opens its own connection, sends one
//! request, reads one reply and closes: 建立连接 -> 请求 -> 响应 -> 关闭连接.
//!
//! The original waits on a `Future` that `data_received` fills in; with a blocking
//! socket, the waiting is simply the `read` that returns the reply.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use armour::println;
use lesson_cli::Args;
use py_compat::{addr_repr, bytes_repr, float_repr, parse_float};

const HELP: &str = include_str!("help.txt");

/// The longest reply we read: `d` and a float take at most 25 bytes.
const MAX_REPLY: u64 = 1024;

fn main() {
    let mut args = Args::parse("short-client", HELP);
    let addr = args.addr("127.0.0.1:5000");
    let timeout = args.timeout("--timeout-ms", 10_000);
    let requests: Vec<(String, String)> = match args.positional().as_slice() {
        // main() of the original: print(await Client.square(2)), then Client.cube(2).
        [] => vec![("a".into(), "2".into()), ("b".into(), "2".into())],
        [letter, number] => vec![(letter.clone(), number.clone())],
        _ => args.usage_error("give a LETTER and a NUMBER, or nothing"),
    };

    for (query, number) in &requests {
        match request(&addr, query, number, timeout) {
            Ok(result) => println!("{}", float_repr(result)),
            Err(why) => args.fail(why),
        }
    }
}

/// One short connection: connect, send `query` + `number`, read the reply, close.
/// Client.square / cube / four_square of the original, with the letter as an argument.
fn request(addr: &str, query: &str, number: &str, timeout: Duration) -> Result<f64, String> {
    // create_connection: the three-way handshake, then connection_made.
    let mut transport = TcpStream::connect(addr)
        .map_err(|e| lesson_cli::connect_failed(addr, "short-server", &e))?;
    let exchange = |e: io::Error| explain(&e, addr, timeout);
    let peername = transport.peer_addr().map_err(exchange)?;
    println!("Connection to {}", addr_repr(peername));

    // _encoder: the letter, then the number as text (the original sends str(2) = "2").
    transport
        .write_all(encoder(query, number).as_bytes())
        .map_err(exchange)?;
    // Close our sending half: the server sees the end of the stream, so it knows the
    // request is complete, and it closes its side once it has answered.
    transport.shutdown(Shutdown::Write).map_err(exchange)?;

    // The Future: the blocking read that returns when the reply is there. The server
    // closes after its reply, so read to the end of the stream, with a time limit.
    transport
        .set_read_timeout(Some(timeout))
        .map_err(exchange)?;
    let mut data = Vec::new();
    (&mut transport)
        .take(MAX_REPLY)
        .read_to_end(&mut data)
        .map_err(exchange)?;
    decoder(&data)
    // transport.close(): the socket closes when `transport` is dropped, here.
}

/// What went wrong after the connection was made, in one line.
fn explain(e: &io::Error, addr: &str, timeout: Duration) -> String {
    use io::ErrorKind::*;
    match e.kind() {
        _ if armour::is_timeout(e) => format!("no reply from {addr} within {timeout:?}"),
        // A server that closes before reading our request resets the connection; then
        // writing, shutting down or reading fails instead of reading 0 bytes.
        ConnectionReset | ConnectionAborted | BrokenPipe | NotConnected => NO_REPLY.to_string(),
        _ => format!("no reply from {addr}: {}", lesson_cli::reason(e)),
    }
}

const NO_REPLY: &str = "the server closed the connection without a reply";

/// _encoder: the request letter followed by the number.
fn encoder(query: &str, num: &str) -> String {
    format!("{query}{num}")
}

/// _decoder: a reply is `d` and a number, such as `d4.0`.
fn decoder(data: &[u8]) -> Result<f64, String> {
    let shown = bytes_repr(data);
    let message = std::str::from_utf8(data).unwrap_or_default();
    match message.strip_prefix('d').map(parse_float) {
        Some(Ok(result)) => Ok(result),
        _ if data.is_empty() => Err(NO_REPLY.to_string()),
        _ => Err(format!("the server's reply {shown} is not d and a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_replies_like_the_original() {
        assert_eq!(decoder(b"d4.0"), Ok(4.0));
        assert_eq!(decoder(b"d1e+16"), Ok(1e16));
        assert!(decoder(b"dnan").is_ok_and(f64::is_nan));
        assert_eq!(
            decoder(b""),
            Err("the server closed the connection without a reply".to_string())
        );
        assert_eq!(
            decoder(b"x4.0"),
            Err("the server's reply b'x4.0' is not d and a number".to_string())
        );
        assert_eq!(
            decoder(b"d4.0d8.0"),
            Err("the server's reply b'd4.0d8.0' is not d and a number".to_string())
        );
    }
}
