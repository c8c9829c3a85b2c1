//! Lesson 04: the IO-multiplexing server (IO多路复用), a port of section 5's select server.
//! One thread watches every socket at once and sleeps in the kernel until at least one
//! is ready; then it serves exactly the ready ones. No spinning, no thread per client.
//! std has no select or poll: `sys.rs` declares the system's own call, poll(2) on Linux,
//! macOS and the BSDs, WSAPoll on Windows.

mod sys;

use std::fmt::Write as _;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use lesson_cli::{Args, reason};
use py_compat::{BytesRepr, socket_repr};
use sys::{PollFd, READ, WRITE};

const HELP: &str = include_str!("help.txt");

/// A client of read_list: its socket and address, and what the original does not keep:
/// how Python prints the socket (made once, at accept: the addresses never change), and
/// the part of its last reply that the kernel has not taken yet (`unsent`).
type Client = (TcpStream, SocketAddr, String, Vec<u8>);

fn main() {
    let mut args = Args::parse("select-server", HELP);
    let addr = args.addr("127.0.0.1:8001");
    let quiet = args.flag("--quiet");
    args.finish();
    let server = TcpListener::bind(&addr).and_then(|server| {
        // server.setblocking(False): poll says a connection waits, but it may vanish
        // before accept, which then says WouldBlock instead of hanging.
        server.set_nonblocking(true)?;
        Ok((server.local_addr()?, server))
    });
    let (local, server) = server
        .unwrap_or_else(|e| args.fail(format_args!("cannot listen on {addr}: {}", reason(&e))));
    armour::listening(local);
    let server_repr = socket_repr(Some(local), None);
    // read_list = [server] + the clients: the listener is watched like them, and is
    // "readable" when a connection waits to be accepted.
    let mut read_list: Vec<Client> = Vec::new();
    // print(...) of the original, collected for one round and written out together at
    // its end (one system call instead of one per line), then the round's stderr lines.
    let (mut out, mut log) = (String::new(), String::new());
    let mut backoff = armour::AcceptBackoff::default();
    let mut data = [0u8; 1024];
    loop {
        // r_list = select(read_list, [], []): sleep until something is ready. A client
        // with an unsent reply is watched for room to write instead of for data.
        let mut fds = vec![PollFd::new(&server, READ)];
        for (conn, _, _, unsent) in &read_list {
            let want = if unsent.is_empty() { READ } else { WRITE };
            fds.push(PollFd::new(conn, want));
        }
        sys::poll(&mut fds)
            .unwrap_or_else(|e| args.fail(format_args!("poll failed: {}", reason(&e))));
        // print(r_list): the sockets ready to be read, in read_list's order. (A wake-up
        // only to finish a reply has no line: the original never waits for writing.)
        let reprs = std::iter::once(&server_repr).chain(read_list.iter().map(|c| &c.2));
        let r_list: Vec<&str> = reprs
            .zip(&fds)
            .filter_map(|(r, fd)| fd.readable().then_some(r.as_str()))
            .collect();
        if !quiet && !r_list.is_empty() {
            let _ = writeln!(out, "[{}]", r_list.join(", "));
        }

        // for i in r_list: every ready client (the listener's turn comes last).
        let mut ready = fds[1..].iter().map(PollFd::ready);
        read_list.retain_mut(|(conn, addr, _, unsent)| {
            if ready.next() != Some(true) {
                return true;
            }
            // Why the client goes: the value of every way out of this block but `return
            // true`, which keeps it. (With an unsent reply it is ready for the rest.)
            let why = 'serve: {
                if unsent.is_empty() {
                    let n = match conn.read(&mut data) {
                        Ok(n) => n,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                        Err(e) => break 'serve format!("read failed: {}; closing", reason(&e)),
                    };
                    if !quiet {
                        let _ = writeln!(out, "{}", BytesRepr(&data[..n]));
                    }
                    // 0 bytes, printed b'': the client closed. The original has no case
                    // for it and keeps the closed socket, ready forever: it spins printing
                    // b''. Here it goes (read_list.remove(i); dropping a socket closes it).
                    if n == 0 {
                        break 'serve "client left".into();
                    }
                    *unsent = data[..n].to_ascii_uppercase();
                }
                // i.send(data.upper()), non-blocking: a blocking write would wait for a
                // client that does not read, and everyone with it. The write takes what
                // fits; the rest waits in `unsent`, and poll watches for room to write
                // instead of reading more: at most one reply (1024 bytes) waits here.
                match conn.write(unsent) {
                    Ok(n) => drop(unsent.drain(..n)),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => {
                        break 'serve format!("cannot send the reply: {}; closing", reason(&e));
                    }
                }
                return true;
            };
            let _ = writeln!(log, "select-server: {addr}: {why}");
            false
        });
        // The round's lines go out before its log lines, and before poll sleeps. (armour's
        // print! logs one line if stdout is closed, and serving goes on.)
        armour::print!("{out}");
        eprint!("{log}");
        out.clear();
        log.clear();

        // if i is server: conn, addr = i.accept(); read_list.append(conn).
        if fds[0].ready() {
            let accepted = server.accept().and_then(|(conn, addr)| {
                // Non-blocking, for the writes; poll says when a read will not wait.
                conn.set_nonblocking(true)?;
                Ok((conn, addr))
            });
            // Out of file descriptors (EMFILE), typically: the connection stays queued, the
            // listener readable, and without a pause this loop would spin. The backoff
            // waits 10 ms, doubling up to 1 s (the clients wait too), and logs one line.
            if let Some((conn, addr)) = backoff.check_nonblocking("select-server", accepted) {
                let repr = socket_repr(conn.local_addr().ok(), Some(addr));
                read_list.push((conn, addr, repr, Vec::new()));
            }
        }
    }
}
