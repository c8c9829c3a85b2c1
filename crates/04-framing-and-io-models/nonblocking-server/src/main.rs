//! Lesson 04: the polling server, a port of section 4's non-blocking loop.
//! One thread, many clients: every socket is non-blocking, and the loop asks each one in
//! turn "anything for me?" Nothing ever waits, so nobody holds up anybody else.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use armour::AcceptBackoff;
use lesson_cli::Args;
use py_compat::{addr_repr, list_repr, socket_repr};

const HELP: &str = "\
usage: nonblocking-server [--addr HOST:PORT] [--idle-ms MS]

Lesson 04: the polling server (a port of section 4's non-blocking server).
Serves any number of clients from one thread with non-blocking sockets: in a loop it
tries accept, then tries a read on every client, and sends back what each client
sent in upper case (ASCII letters only, like Python's bytes.upper()).

stdout: `starting...`, then for each new client its address, as Python prints it,
and the list of client sockets.
stderr: `nonblocking-server: listening on ADDR` once bound, a line when a client
leaves, and one line per failed connection.

limits: reads take at most 1024 bytes; a client whose reply does not fit in its
send buffer (it does not read its replies) is dropped; clients are limited by the
open-file limit (ulimit -n): past it, accept waits 10 ms, then twice as long after
each failure, up to 1 s, and logs one line.

options:
  --addr HOST:PORT   where to listen (default 127.0.0.1:8082; port 0 = any free port)
  --idle-ms MS       sleep MS milliseconds after a pass that found nothing to do
                     (default 10). 0 = never sleep, like the original: the loop then
                     keeps one CPU core 100% busy even with no clients.
  -h, --help         this text
";

fn main() {
    let mut args = Args::parse("nonblocking-server", HELP);
    let addr = args.addr("127.0.0.1:8082");
    let idle = args.millis("--idle-ms", 10);
    args.finish();
    if let Err(e) = start_server(&addr, idle) {
        args.fail(format_args!(
            "cannot listen on {addr}: {}",
            lesson_cli::reason(&e)
        ));
    }
}

fn start_server(addr: &str, idle: Duration) -> io::Result<()> {
    let server = TcpListener::bind(addr)?;
    // server.setblocking(False): accept now returns WouldBlock instead of waiting.
    server.set_nonblocking(true)?;
    eprintln!("nonblocking-server: listening on {}", server.local_addr()?);

    let mut rlist: Vec<(TcpStream, SocketAddr)> = Vec::new();
    let mut backoff = AcceptBackoff::default();
    println!("starting...");
    let mut data = [0u8; 1024];
    loop {
        let mut busy = false;
        match server.accept() {
            Ok((conn, addr)) => {
                backoff.succeeded("nonblocking-server");
                busy = true;
                println!("{}", addr_repr(addr));
                // An accepted socket does not inherit non-blocking mode on every system
                // (on Linux it does not): without this, one silent client would block
                // the whole loop in its read, and every other client would wait.
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
                        lesson_cli::reason(&e)
                    ),
                }
            }
            // Nobody is waiting to be accepted: the normal case, go and poll the clients.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            // Out of file descriptors, typically: the connection stays queued and the
            // next try fails at once. Wait (10 ms, doubling up to 1 s; the clients wait
            // too) and log one line, instead of a line per pass at full speed.
            Err(e) => backoff.failed("nonblocking-server", &e),
        }

        // Ask every client in turn; remember who left, and remove them after the pass.
        let mut del_rlist = Vec::new();
        for (index, (conn, addr)) in rlist.iter_mut().enumerate() {
            match conn.read(&mut data) {
                // A read of 0 bytes means the client closed its side: it has left.
                // (The original kept such sockets and answered them forever.)
                Ok(0) => {
                    eprintln!("nonblocking-server: {addr}: client left");
                    del_rlist.push(index);
                }
                Ok(n) => {
                    busy = true;
                    // The socket is non-blocking, so this write never waits: a blocking
                    // one would wait for a client that does not read its replies, and
                    // every other client with it. Replies are small and a client that
                    // reads them leaves room in its send buffer; when a reply does not
                    // fit (WouldBlock), that client is not reading: drop it.
                    match conn.write_all(&data[..n].to_ascii_uppercase()) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            eprintln!(
                                "nonblocking-server: {addr}: does not read its replies (its send buffer is full); closing"
                            );
                            del_rlist.push(index);
                        }
                        Err(e) => {
                            eprintln!(
                                "nonblocking-server: {addr}: cannot send the reply: {}; closing",
                                lesson_cli::reason(&e)
                            );
                            del_rlist.push(index);
                        }
                    }
                }
                // Nothing from this client yet: WouldBlock, the non-blocking "not now".
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    eprintln!(
                        "nonblocking-server: {addr}: read failed: {}; closing",
                        lesson_cli::reason(&e)
                    );
                    del_rlist.push(index);
                }
            }
        }
        // Removing from the back keeps the other indexes valid; dropping a socket closes it.
        for index in del_rlist.into_iter().rev() {
            rlist.remove(index);
        }

        // The original loops again at once, forever: with nothing to do it still burns
        // a whole CPU core asking sockets that have nothing to say. A short nap when a
        // pass found no work costs at most `idle` of delay and frees the CPU.
        if !busy {
            thread::sleep(idle);
        }
    }
}
