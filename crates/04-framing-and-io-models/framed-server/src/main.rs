//! Lesson 04: the length-prefixed server, a port of the seed's fix for sticky packets.
//! Every message is a 4-byte header holding the body's length, then the body. The server
//! reads exactly the header, then exactly that many bytes: message boundaries survive.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use armour::{AcceptBackoff, Deadline, println};
use length_header::{HEADER_LEN, decode_header};
use lesson_cli::Args;

const HELP: &str = include_str!("help.txt");

/// The original reads two messages from its one client.
const MESSAGES: usize = 2;

fn main() {
    let mut args = Args::parse("framed-server", HELP);
    let addr = args.addr("127.0.0.1:8001");
    let clients: u64 = args.value("--clients").unwrap_or(1);
    let timeout = args.timeout("--timeout-ms", 10_000);
    args.finish();

    let sock = TcpListener::bind(&addr).and_then(|sock| Ok((sock.local_addr()?, sock)));
    let (local, sock) = sock.unwrap_or_else(|e| {
        let why = lesson_cli::reason(&e);
        args.fail(format_args!("cannot listen on {addr}: {why}"))
    });
    armour::listening(local);
    // Out of file descriptors, accept fails at once: back off instead of spinning.
    let mut backoff = AcceptBackoff::default();
    let mut served = 0;
    while clients == 0 || served < clients {
        let Some((conn, peer)) = backoff.check("framed-server", sock.accept()) else {
            continue;
        };
        served += 1;
        if let Err(why) = serve(&conn, peer, timeout) {
            eprintln!("framed-server: {peer}: {why}; closing");
        }
    }
}

fn serve(conn: &TcpStream, peer: SocketAddr, timeout: Duration) -> Result<(), String> {
    let too_slow = format!("too slow: the header and body did not arrive within {timeout:?}");
    for number in 1..=MESSAGES {
        // A client that stops sending halfway must not hold this one-at-a-time server
        // for ever, nor one that sends a byte every few seconds: each whole message,
        // header and body, has one deadline, and each read waits only for what is left.
        let mut client = Deadline::after(timeout).on(conn);
        let failed = |e| format!("message {number}: {}", armour::why_dropped(&e, &too_slow));

        // header1 = conn.recv(4): but one recv may return fewer than 4 bytes, so loop.
        let mut header = [0u8; HEADER_LEN];
        let got = recv_exactly(&mut client, &mut header).map_err(failed)?;
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
            let lth = (data_length - data.len()).min(chunk.len());
            let got = recv_exactly(&mut client, &mut chunk[..lth]).map_err(failed)?;
            data.extend_from_slice(&chunk[..got]);
            if got < lth {
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
/// came (`has_recv_len`), until the count reaches what the header promised.
fn recv_exactly(conn: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut has_recv_len = 0;
    while has_recv_len < buf.len() {
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
        let conn = dribbled(vec![5, 0, 0, 0, b'h']);
        let mut header = [0u8; HEADER_LEN];
        assert_eq!(
            recv_exactly(&mut a_minute().on(&conn), &mut header).unwrap(),
            4
        );
        assert_eq!(decode_header(header), Ok(5));
    }

    #[test]
    fn recv_exactly_reports_a_short_stream() {
        let conn = dribbled(vec![1, 2]);
        let mut header = [0u8; HEADER_LEN];
        assert_eq!(
            recv_exactly(&mut a_minute().on(&conn), &mut header).unwrap(),
            2
        );
    }

    #[test]
    fn recv_exactly_gives_up_at_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _silent = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let conn = listener.accept().unwrap().0;
        let mut header = [0u8; HEADER_LEN];
        let passed = Deadline::after(Duration::ZERO);
        let e = recv_exactly(&mut passed.on(&conn), &mut header).unwrap_err();
        assert!(lesson_cli::is_timeout(&e), "{e:?}");
    }

    #[test]
    fn the_limit_is_16_mib() {
        assert_eq!(MAX_BODY, 16_777_216);
    }
}
