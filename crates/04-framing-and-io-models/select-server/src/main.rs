//! Lesson 04: the IO-multiplexing server (IO多路复用), a port of section 5's select server.
//! One thread watches every socket at once and sleeps in the kernel until at least one
//! is ready; then it serves exactly the ready ones. No spinning, no thread per client.
//! std has no select or poll, so this crate declares poll(2) itself (see `mod sys`).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use lesson_cli::Args;
use py_compat::{bytes_repr, list_repr, socket_repr};

const HELP: &str = "\
usage: select-server [--addr HOST:PORT]

Lesson 04: the IO-multiplexing server (a port of section 5's select server).
Waits with poll(2) until the listening socket or a client is ready, prints the
list of ready sockets, accepts new clients, and sends back what each client sent
in upper case (ASCII letters only, like Python's bytes.upper()). Unix only
(Linux, macOS, the BSDs): std has no poll, and this crate calls the system's.

stdout: the ready list each time poll returns, as Python prints a list of sockets,
and each message received, as Python prints bytes: b'hello world'.
stderr: `select-server: listening on ADDR` once bound, a line when a client leaves,
and one line per failed connection.

options:
  --addr HOST:PORT   where to listen (default 127.0.0.1:8001; port 0 = any free port)
  -h, --help         this text
";

fn main() {
    let mut args = Args::parse("select-server", HELP);
    let addr = args.addr("127.0.0.1:8001");
    args.finish();
    if !cfg!(unix) {
        args.fail("this system has no poll(2); run select-server on Linux, macOS or a BSD");
    }
    let server = TcpListener::bind(&addr).unwrap_or_else(|e| {
        args.fail(format_args!(
            "cannot listen on {addr}: {}",
            lesson_cli::reason(&e)
        ))
    });
    match server.local_addr() {
        Ok(local) => eprintln!("select-server: listening on {local}"),
        Err(e) => args.fail(lesson_cli::reason(&e)),
    }
    if let Err(e) = start_server(server) {
        args.fail(format_args!("poll failed: {}", lesson_cli::reason(&e)));
    }
}

fn start_server(server: TcpListener) -> io::Result<()> {
    // Non-blocking, like the original: poll says a socket is ready, but a client may
    // vanish between poll and accept; then accept says WouldBlock instead of hanging.
    server.set_nonblocking(true)?;
    // read_list = [server]: the listening socket is watched like the clients. It is
    // "readable" when a connection is waiting to be accepted.
    let mut read_list: Vec<(TcpStream, SocketAddr)> = Vec::new();
    let mut data = [0u8; 1024];
    loop {
        // r_list = select(read_list, [], []): sleep until something is ready.
        let ready = sys::wait_readable(&server, &read_list)?;
        let mut r_list = Vec::new();
        if ready.server {
            r_list.push(socket_repr(server.local_addr().ok(), None));
        }
        for &i in &ready.clients {
            let conn = &read_list[i].0;
            r_list.push(socket_repr(conn.local_addr().ok(), conn.peer_addr().ok()));
        }
        println!("{}", list_repr(&r_list));

        // Serve the ready clients first, from the back, so that removing one keeps the
        // indexes of the others valid; then accept (new clients go at the end).
        for &i in ready.clients.iter().rev() {
            let (conn, addr) = &mut read_list[i];
            match conn.read(&mut data) {
                // Readable with 0 bytes: the client closed. The original had no case for
                // this and reported the closed socket ready forever, spinning.
                Ok(0) => {
                    eprintln!("select-server: {addr}: client left");
                    read_list.remove(i);
                }
                Ok(n) => {
                    println!("{}", bytes_repr(&data[..n]));
                    if let Err(e) = conn.write_all(&data[..n].to_ascii_uppercase()) {
                        eprintln!(
                            "select-server: {addr}: cannot send the reply: {}; closing",
                            lesson_cli::reason(&e)
                        );
                        read_list.remove(i);
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    eprintln!(
                        "select-server: {addr}: read failed: {}; closing",
                        lesson_cli::reason(&e)
                    );
                    read_list.remove(i);
                }
            }
        }

        if ready.server {
            match server.accept() {
                // The client sockets stay blocking: poll tells us when a read will not
                // wait, and a blocking write of a short reply finishes at once.
                Ok((conn, addr)) => read_list.push((conn, addr)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => eprintln!("select-server: accept failed: {}", lesson_cli::reason(&e)),
            }
        }
    }
}

/// Which sockets poll found ready: the listener, and indexes into the client list.
struct Ready {
    server: bool,
    clients: Vec<usize>,
}

/// The one place with `unsafe`: poll(2), declared by hand because std does not offer it.
#[cfg(unix)]
#[allow(unsafe_code)]
mod sys {
    use std::ffi::c_int;
    use std::io;
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    use super::Ready;

    /// `struct pollfd` from <poll.h>: which descriptor, what we wait for, what happened.
    /// `repr(C)` lays the fields out exactly as the C struct, so the kernel can read it.
    #[repr(C)]
    struct PollFd {
        fd: c_int,
        events: i16,
        revents: i16,
    }

    // The event bits; these values are the same on Linux, macOS and the BSDs.
    const POLLIN: i16 = 0x001; // data to read (for a listener: a connection to accept)
    const POLLERR: i16 = 0x008; // an error is pending: the next read reports it
    const POLLHUP: i16 = 0x010; // the peer hung up: the next read returns 0

    /// `nfds_t`, the type of poll's count argument: unsigned long on Linux,
    /// unsigned int elsewhere.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    type NfdsT = std::ffi::c_ulong;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    type NfdsT = std::ffi::c_uint;

    // The C library's poll function: `int poll(struct pollfd *fds, nfds_t nfds, int timeout)`.
    // Declaring it is unsafe because the compiler cannot check that this signature is
    // the real one: we promise it, from the manual page.
    unsafe extern "C" {
        fn poll(fds: *mut PollFd, nfds: NfdsT, timeout: c_int) -> c_int;
    }

    /// Sleeps until the listener or some client is readable, and says which.
    pub fn wait_readable(
        server: &TcpListener,
        clients: &[(TcpStream, SocketAddr)],
    ) -> io::Result<Ready> {
        // One pollfd per socket: the listener first, then the clients in list order.
        let mut fds: Vec<PollFd> = std::iter::once(server.as_raw_fd())
            .chain(clients.iter().map(|(c, _)| c.as_raw_fd()))
            .map(|fd| PollFd {
                fd,
                events: POLLIN,
                revents: 0,
            })
            .collect();
        loop {
            // SAFETY: `fds` is a live, writable array of exactly `fds.len()` pollfd
            // structs laid out as C expects; poll only reads `fd`/`events` and writes
            // `revents` inside it, and keeps no pointer after returning. Timeout -1:
            // wait as long as it takes, like select with no timeout.
            let n = unsafe { poll(fds.as_mut_ptr(), fds.len() as NfdsT, -1) };
            if n >= 0 {
                break;
            }
            // -1 means failure, with the reason in errno: read it through std.
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e); // (a signal interrupting the wait is not a failure: retry)
            }
        }
        // A socket counts as readable on data, hang-up or error, as select reports it:
        // the read that follows returns the data, the 0 of a close, or the error.
        let ready = |p: &PollFd| p.revents & (POLLIN | POLLHUP | POLLERR) != 0;
        Ok(Ready {
            server: ready(&fds[0]),
            clients: (1..fds.len())
                .filter(|&i| ready(&fds[i]))
                .map(|i| i - 1)
                .collect(),
        })
    }
}

/// Elsewhere there is no poll(2); main refuses to start before this is called.
#[cfg(not(unix))]
mod sys {
    use std::io;
    use std::net::{SocketAddr, TcpListener, TcpStream};

    use super::Ready;

    pub fn wait_readable(
        _server: &TcpListener,
        _clients: &[(TcpStream, SocketAddr)],
    ) -> io::Result<Ready> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this system has no poll(2)",
        ))
    }
}
