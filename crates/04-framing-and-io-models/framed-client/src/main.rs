//! Lesson 04: the length-prefixed client, a port of the seed's struct-header client.
//! Each message goes out as a 4-byte header holding the body's length, then the body.

use std::io::Write;
use std::net::TcpStream;
use std::thread;

use length_header::encode_header;
use lesson_cli::Args;

const HELP: &str = "\
usage: framed-client [--addr HOST:PORT] [--size N] [--chunk-size N] [--pause-ms MS]

Lesson 04: the length-prefixed client (a port of the seed's struct-header client).
Sends two messages to framed-server, `hello` and ` world`, each as a 4-byte header
(struct.pack('i', len): signed 32-bit, little-endian) followed by the body, then
closes. It prints nothing; watch what framed-server prints.

options:
  --addr HOST:PORT   where the server is (default 127.0.0.1:8001)
  --size N           instead, send two bodies of N bytes each: the first repeats
                     `abcdefghijklmnopqrstuvwxyz`, the second `0123456789`
                     (0 to 16777216)
  --chunk-size N     write at most N bytes per write call (default: each header and
                     each body in one write), to show the server's read loops at work
  --pause-ms MS      wait MS milliseconds after each write (default 0)
  -h, --help         this text
";

fn main() {
    let mut args = Args::parse("framed-client", HELP);
    let addr = args.addr("127.0.0.1:8001");
    let size: Option<usize> = args.value("--size");
    let chunk_size: usize = args.value("--chunk-size").unwrap_or(usize::MAX);
    let pause = args.millis("--pause-ms", 0);
    args.finish();
    if chunk_size == 0 {
        args.usage_error("--chunk-size must be at least 1");
    }
    // Check the length before building or sending anything: a bad --size is a usage
    // error, not a half-sent conversation.
    if let Some(Err(e)) = size.map(encode_header) {
        args.usage_error(format_args!("--size: {e}"));
    }
    let messages: [Vec<u8>; 2] = match size {
        None => [b"hello".to_vec(), b" world".to_vec()],
        Some(n) => [
            pattern(b"abcdefghijklmnopqrstuvwxyz", n),
            pattern(b"0123456789", n),
        ],
    };
    let mut headers = Vec::new();
    for data in &messages {
        match encode_header(data.len()) {
            Ok(header) => headers.push(header),
            Err(e) => args.usage_error(format_args!("--size: {e}")),
        }
    }

    let mut client = TcpStream::connect(&addr)
        .unwrap_or_else(|e| args.fail(lesson_cli::connect_failed(&addr, "framed-server", &e)));
    // Small writes leave at once, as separate packets (no Nagle merging).
    let _ = client.set_nodelay(true);

    for (header, data) in headers.iter().zip(&messages) {
        // header = struct.pack('i', len(data)); client.send(header); client.send(data)
        for part in [&header[..], &data[..]] {
            for piece in part.chunks(chunk_size) {
                if let Err(e) = client.write_all(piece) {
                    args.fail(format_args!(
                        "cannot send (did the server close the connection?): {}",
                        lesson_cli::reason(&e)
                    ));
                }
                thread::sleep(pause);
            }
        }
    }
    // The socket closes when `client` is dropped.
}

/// `n` bytes repeating `unit`.
fn pattern(unit: &[u8], n: usize) -> Vec<u8> {
    let mut bytes = unit.repeat(n.div_ceil(unit.len()));
    bytes.truncate(n);
    bytes
}
