//! Lesson 04: the length-prefixed server, a port of the seed's fix for sticky packets.
//! Every message is a 4-byte header holding the body's length, then the body. The server
//! reads exactly the header, then exactly that many bytes: message boundaries survive.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use armour::{AcceptBackoff, Deadline};
use length_header::{HEADER_LEN, decode_header};
use lesson_cli::Args;

const HELP: &str = "\
usage: framed-server [--addr HOST:PORT] [--clients N] [--timeout-ms MS]

Lesson 04: the length-prefixed server (a port of the seed's struct-header server).
Accepts a client and reads two messages from it, each a 4-byte header (the body's
length, struct.pack('i', n): signed 32-bit, little-endian) followed by the body,
and prints each body as a line of text. Bodies may be 0 to 16777216 bytes (16 MiB).

stdout: the two messages, one line each.
stderr: `framed-server: listening on ADDR` once bound, and one line per bad input
(a negative or too large length, a header or body cut short, a body that is not
UTF-8, a client too slow to send a message); a bad header closes that connection.

options:
  --addr HOST:PORT   where to listen (default 127.0.0.1:8001; port 0 = any free port)
  --clients N        serve N clients one after the other, then exit; 0 = forever
                     (default 1, like the original)
  --timeout-ms MS    how long a client may take to send each whole message, header
                     and body, before it is dropped (default 10000)
  -h, --help         this text
";

/// The original reads two messages from its one client.
const MESSAGES: usize = 2;

fn main() {
    let mut args = Args::parse("framed-server", HELP);
    let addr = args.addr("127.0.0.1:8001");
    let clients: u64 = args.value("--clients").unwrap_or(1);
    let timeout = args.timeout("--timeout-ms", 10_000);
    args.finish();
    if let Err(e) = start_server(&addr, clients, timeout) {
        args.fail(format_args!(
            "cannot listen on {addr}: {}",
            lesson_cli::reason(&e)
        ));
    }
}

fn start_server(addr: &str, clients: u64, timeout: Duration) -> io::Result<()> {
    let sock = TcpListener::bind(addr)?;
    eprintln!("framed-server: listening on {}", sock.local_addr()?);

    let mut served = 0;
    let mut backoff = AcceptBackoff::default();
    while clients == 0 || served < clients {
        let (conn, peer) = match sock.accept() {
            Ok(pair) => {
                backoff.succeeded("framed-server");
                pair
            }
            // Out of file descriptors, typically: the connection stays queued and the
            // next accept fails at once. Wait (10 ms, doubling up to 1 s) instead of
            // spinning, and log one line, not one per try.
            Err(e) => {
                backoff.failed("framed-server", &e);
                continue;
            }
        };
        served += 1;
        if let Err(why) = serve(conn, peer, timeout) {
            eprintln!("framed-server: {peer}: {why}; closing");
        }
    }
    Ok(())
}

fn serve(mut conn: TcpStream, peer: SocketAddr, timeout: Duration) -> Result<(), String> {
    for number in 1..=MESSAGES {
        // A client that stops sending halfway must not hold this one-at-a-time server
        // forever, nor one that sends a byte every few seconds: each whole message,
        // header and body, must arrive within `timeout`. A read timeout alone would
        // start again with every byte; each read waits only for what is left.
        let deadline = Deadline::after(timeout);
        let failed = |e: io::Error| {
            if lesson_cli::is_timeout(&e) {
                format!(
                    "message {number}: too slow: the header and body did not arrive within {timeout:?}"
                )
            } else {
                format!("message {number}: read failed: {}", lesson_cli::reason(&e))
            }
        };

        // header1 = conn.recv(4): but one recv may return fewer than 4 bytes, so loop.
        let mut header = [0u8; HEADER_LEN];
        let got = recv_exactly(&mut conn, &mut header, deadline).map_err(failed)?;
        if got < HEADER_LEN {
            return Err(format!(
                "message {number}: the connection ended after {got} of the {HEADER_LEN} header bytes"
            ));
        }
        // data_length = struct.unpack('i', header)[0], checked before we trust it:
        // a negative or huge length is refused before any memory is reserved for it.
        let data_length = decode_header(header).map_err(|e| format!("message {number}: {e}"))?;

        // Read exactly data_length bytes, at most 1024 per read like the original's
        // loop. The original's second message used a single recv(data_length2), which
        // returns short on long messages: here both messages use this loop.
        let mut data = Vec::with_capacity(data_length.min(64 * 1024));
        let mut chunk = [0u8; 1024];
        while data.len() < data_length {
            let want = (data_length - data.len()).min(chunk.len());
            let got = recv_exactly(&mut conn, &mut chunk[..want], deadline).map_err(failed)?;
            data.extend_from_slice(&chunk[..got]);
            if got < want {
                return Err(format!(
                    "message {number}: the connection ended after {} of the {data_length} body bytes",
                    data.len()
                ));
            }
        }

        match String::from_utf8(data) {
            Ok(text) => println!("{text}"),
            // The frame was whole, so the stream is still in step: go on to the next.
            Err(e) => eprintln!(
                "framed-server: {peer}: message {number}: {} bytes that are not UTF-8 text; skipped it",
                e.as_bytes().len()
            ),
        }
    }
    Ok(())
}

/// Reads until `buf` is full or the peer closes; returns how many bytes arrived.
/// This is the loop the original writes out by hand: keep calling recv, counting what
/// came (`has_recv_len`), until the count reaches what the header promised. Fails with
/// a timeout once `deadline` has passed.
fn recv_exactly(conn: &mut TcpStream, buf: &mut [u8], deadline: Deadline) -> io::Result<usize> {
    let mut has_recv_len = 0;
    while has_recv_len < buf.len() {
        conn.set_read_timeout(Some(deadline.remaining()?))?;
        match conn.read(&mut buf[has_recv_len..]) {
            Ok(0) => break, // the peer closed: nothing more will come
            Ok(n) => has_recv_len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(has_recv_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use length_header::MAX_BODY;
    use std::io::Write;
    use std::net::TcpListener;
    use std::thread;

    /// A connected pair on loopback, the writer dribbling `bytes` one at a time.
    fn dribbled(bytes: Vec<u8>) -> TcpStream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            let mut writer = TcpStream::connect(addr).unwrap();
            writer.set_nodelay(true).unwrap();
            for b in bytes {
                writer.write_all(&[b]).unwrap();
            }
        });
        listener.accept().unwrap().0
    }

    fn a_minute() -> Deadline {
        Deadline::after(Duration::from_secs(60))
    }

    #[test]
    fn recv_exactly_collects_a_dribbled_header() {
        let mut conn = dribbled(vec![5, 0, 0, 0, b'h']);
        let mut header = [0u8; HEADER_LEN];
        assert_eq!(recv_exactly(&mut conn, &mut header, a_minute()).unwrap(), 4);
        assert_eq!(decode_header(header), Ok(5));
    }

    #[test]
    fn recv_exactly_reports_a_short_stream() {
        let mut conn = dribbled(vec![1, 2]);
        let mut header = [0u8; HEADER_LEN];
        assert_eq!(recv_exactly(&mut conn, &mut header, a_minute()).unwrap(), 2);
    }

    #[test]
    fn recv_exactly_gives_up_at_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _silent = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let mut conn = listener.accept().unwrap().0;
        let mut header = [0u8; HEADER_LEN];
        let passed = Deadline::after(Duration::ZERO);
        let e = recv_exactly(&mut conn, &mut header, passed).unwrap_err();
        assert!(lesson_cli::is_timeout(&e), "{e:?}");
    }

    #[test]
    fn the_limit_is_16_mib() {
        assert_eq!(MAX_BODY, 16_777_216);
    }
}
