//! Lesson 04: the length-prefixed client, a port of the seed's struct-header client.
//! Each message goes out as a 4-byte header holding the body's length, then the body.

use std::io::Write;
use std::net::TcpStream;
use std::thread;

use length_header::encode_header;
use lesson_cli::Args;

const HELP: &str = include_str!("help.txt");

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
    // The two messages, each `unit` repeated to `len` bytes: the original's `hello` and
    // ` world`, or with --size two long bodies.
    let messages: [(&[u8], usize); 2] = match size {
        None => [(b"hello", 5), (b" world", 6)],
        Some(n) => [(b"abcdefghijklmnopqrstuvwxyz", n), (b"0123456789", n)],
    };
    // header = struct.pack('i', len(data)), for both messages before anything is built or
    // sent: a --size over the limit is a usage error, not a half-sent conversation.
    let headers = messages.map(|(_, len)| {
        encode_header(len).unwrap_or_else(|e| args.usage_error(format_args!("--size: {e}")))
    });

    let mut client = TcpStream::connect(&addr)
        .unwrap_or_else(|e| args.fail(lesson_cli::connect_failed(&addr, "framed-server", &e)));
    // Small writes leave at once, as separate packets: Nagle's algorithm would hold each
    // small write back while the one before it is unacknowledged, and merge them.
    let _ = client.set_nodelay(true);

    for ((unit, len), header) in messages.into_iter().zip(headers) {
        // client.send(header); client.send(data), in pieces of --chunk-size bytes
        let data = pattern(unit, len);
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
