//! Lesson 04: the polling server, a port of section 4's non-blocking loop.
//! One thread, many clients: every socket is non-blocking, and the loop asks each one in
//! turn "anything for me?" Nothing ever waits, so nobody holds up anybody else.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use armour::{AcceptBackoff, println};
use lesson_cli::{Args, reason};
use py_compat::{addr_repr, list_repr, socket_repr};

const HELP: &str = include_str!("help.txt");

fn main() {
    let mut args = Args::parse("nonblocking-server", HELP);
    let addr = args.addr("127.0.0.1:8082");
    let idle = args.millis("--idle-ms", 10);
    args.finish();
    if let Err(e) = start_server(&addr, idle) {
        args.fail(format_args!("cannot listen on {addr}: {}", reason(&e)));
    }
}

fn start_server(addr: &str, idle: Duration) -> io::Result<()> {
    let server = TcpListener::bind(addr)?;
    // server.setblocking(False): accept now returns WouldBlock instead of waiting.
    server.set_nonblocking(true)?;
    armour::listening(server.local_addr()?);

    let mut rlist: Vec<(TcpStream, SocketAddr)> = Vec::new();
    let mut backoff = AcceptBackoff::default();
    println!("starting...");
    let mut data = [0u8; 1024];
    loop {
        let mut busy = false;
        // conn, addr = server.accept(). Nobody waiting (WouldBlock) is the normal case: go
        // and ask the clients. A failure is, typically, out of file descriptors: the
        // connection stays queued and the next try fails at once. The backoff waits (10
        // ms, doubling up to 1 s; the clients wait too) and logs one line, instead of a
        // line per pass at full speed.
        let accepted = backoff.check_nonblocking("nonblocking-server", server.accept());
        if let Some((conn, addr)) = accepted {
            busy = true;
            println!("{}", addr_repr(addr));
            // An accepted socket does not inherit non-blocking mode on every system (on
            // Linux it does not): without this, one silent client would block the whole
            // loop in its read, and every other client would wait.
            match conn.set_nonblocking(true) {
                Ok(()) => {
                    rlist.push((conn, addr));
                    let socks: Vec<String> = rlist
                        .iter()
                        .map(|(c, _)| socket_repr(c.local_addr().ok(), c.peer_addr().ok()))
                        .collect();
                    println!("{}", list_repr(&socks));
                }
                Err(e) => eprintln!(
                    "nonblocking-server: {addr}: cannot make the socket non-blocking: {}; closing",
                    reason(&e)
                ),
            }
        }

        // for conn in rlist: ask every client in turn, and keep those that stay (the
        // original collects the others in del_rlist and removes them after the pass).
        rlist.retain_mut(|(conn, addr)| {
            let closing = match conn.read(&mut data) {
                // A read of 0 bytes means the client closed its side: it has left.
                // (The original kept such sockets and answered them forever.)
                Ok(0) => "client left".to_string(),
                // conn.send(data.upper()). The socket is non-blocking, so this write never
                // waits: a blocking one would wait for a client that does not read its
                // replies, and every other client with it. Replies are small and a client
                // that reads them leaves room in its send buffer; when a reply does not fit
                // (WouldBlock), that client is not reading: drop it.
                Ok(n) => {
                    busy = true;
                    match conn.write_all(&data[..n].to_ascii_uppercase()) {
                        Ok(()) => return true,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            "does not read its replies (its send buffer is full); closing".into()
                        }
                        Err(e) => format!("cannot send the reply: {}; closing", reason(&e)),
                    }
                }
                // Nothing from this client yet: WouldBlock, the non-blocking "not now".
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                    return true;
                }
                Err(e) => format!("read failed: {}; closing", reason(&e)),
            };
            eprintln!("nonblocking-server: {addr}: {closing}");
            false
        });

        // The original loops again at once, forever: with nothing to do it still burns
        // a whole CPU core asking sockets that have nothing to say. A short nap when a
        // pass found no work costs at most `idle` of delay and frees the CPU.
        if !busy {
            thread::sleep(idle);
        }
    }
}
