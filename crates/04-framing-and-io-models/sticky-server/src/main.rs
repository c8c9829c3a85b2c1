//! Lesson 04: the sticky-packet server (粘包), a port of section 3.2's server.
//! TCP is a byte stream, not a stream of messages: the client's two writes, `hello` and
//! ` world`, reach this server as bytes with no boundary between them.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::{thread, time::Duration};

use armour::{AcceptBackoff, Deadline, println};

const HELP: &str = include_str!("help.txt");

fn main() {
    let mut args = lesson_cli::Args::parse("sticky-server", HELP);
    let addr = args.addr("127.0.0.1:8001");
    let delay = args.millis("--delay-ms", 200);
    let clients: u64 = args.value("--clients").unwrap_or(1);
    let timeout = args.timeout("--timeout-ms", 10_000);
    args.finish();

    // socket + bind + listen in one call; the kernel queues connections until accept.
    let sock = TcpListener::bind(&addr).and_then(|sock| Ok((sock.local_addr()?, sock)));
    let (local, sock) = sock.unwrap_or_else(|e| {
        let why = lesson_cli::reason(&e);
        args.fail(format_args!("cannot listen on {addr}: {why}"))
    });
    armour::listening(local);
    let too_slow = format!("too slow: did not send everything and close within {timeout:?}");
    let mut backoff = AcceptBackoff::default();
    let mut served = 0;
    while clients == 0 || served < clients {
        // Out of file descriptors, accept fails at once: back off instead of spinning.
        if let Some((conn, peer)) = backoff.check("sticky-server", sock.accept()) {
            served += 1;
            if let Err(e) = serve(&conn, peer, delay, timeout) {
                let why = armour::why_dropped(&e, &too_slow);
                eprintln!("sticky-server: {peer}: {why}; closing");
            }
            // conn.close(): `conn` is dropped at the end of this block, which closes it.
        }
    }
}

fn serve(conn: &TcpStream, peer: SocketAddr, delay: Duration, timeout: Duration) -> io::Result<()> {
    // This one-at-a-time server reads until its client closes. So that one client cannot
    // hold it for ever (silent, or a byte every few seconds), the whole conversation,
    // accept to close, has one deadline: each read waits only for what is left of it.
    let mut client = Deadline::after(timeout).on(conn);

    // The wait that makes the demonstration reproducible: by the time we read, both of
    // the client's writes are sitting in our receive buffer, so one read takes both. It
    // starts once the client has sent something (peek waits for its first bytes, and
    // leaves them queued): a client that connects and closes at once costs no pause.
    conn.set_read_timeout(Some(timeout))?;
    match conn.peek(&mut [0]) {
        Ok(0) => {}
        Err(e) if e.kind() != io::ErrorKind::Interrupted => return Err(e),
        // Bytes came (or a signal, Ctrl-Z then fg, cut the wait short: the reads wait on).
        _ => thread::sleep(delay),
    }

    // recv(1024): one read returns whatever has arrived, up to 1024 bytes. It knows
    // nothing about where the sender's writes began or ended. The original reads once;
    // we keep reading until the client closes, so a split message is seen, not lost.
    let mut client_data = [0u8; 1024];
    for reads in 1u64.. {
        let n = match client.read(&mut client_data) {
            // 0 bytes: the client closed its side. A client that sent nothing at all gets
            // one empty line, as the original's single read prints (the next read sees
            // the close again and ends the loop).
            Ok(0) if reads > 1 => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            read => read?,
        };
        match std::str::from_utf8(&client_data[..n]) {
            Ok(text) => println!("{text}"),
            Err(_) => eprintln!(
                "sticky-server: {peer}: read {reads} returned {n} bytes that are not UTF-8 text; skipped them"
            ),
        }
    }
    Ok(())
}
