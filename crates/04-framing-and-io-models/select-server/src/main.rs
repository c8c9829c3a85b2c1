//! Lesson 04: the IO-multiplexing server (IO多路复用), a port of section 5's select server.
//! One thread watches every socket at once and sleeps in the kernel until at least one
//! is ready; then it serves exactly the ready ones. No spinning, no thread per client.
//! std has no select or poll, so this crate declares the system's own call (see `mod sys`):
//! poll(2) on Linux, macOS and the BSDs, WSAPoll on Windows.

use std::fmt;
use std::io::{self, BufWriter, Read, Stdout, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use armour::AcceptBackoff;
use lesson_cli::Args;
use py_compat::{BytesRepr, socket_repr};

const HELP: &str = "\
usage: select-server [--addr HOST:PORT] [--quiet]

Lesson 04: the IO-multiplexing server (a port of section 5's select server).
Waits with poll (poll(2) on Unix, WSAPoll on Windows) until the listening socket or
a client is ready, prints the list of ready sockets, accepts new clients, and sends
back what each client sent in upper case (ASCII letters only, like Python's
bytes.upper()).

stdout: the ready list each time poll returns, as Python prints a list of sockets,
and each message received, as Python prints bytes: b'hello world' (b'' when a
client leaves). Written once per poll round, not line by line.
stderr: `select-server: listening on ADDR` once bound, a line when a client leaves,
and one line per failed connection.

limits: reads take at most 1024 bytes; a client that does not read its replies
holds at most one unsent reply (1024 bytes) and is not read from until it takes it;
clients are limited by the open-file limit (ulimit -n): past it, accept waits
10 ms, then twice as long after each failure, up to 1 s, and logs one line.

options:
  --addr HOST:PORT   where to listen (default 127.0.0.1:8001; port 0 = any free port)
  --quiet            print nothing on stdout (the server works the same): to measure
                     what the printout costs
  -h, --help         this text
";

const PROGRAM: &str = "select-server";

/// recv(1024): the most one read takes, as in the original.
const READ_SIZE: usize = 1024;

fn main() {
    let mut args = Args::parse(PROGRAM, HELP);
    let addr = args.addr("127.0.0.1:8001");
    let quiet = args.flag("--quiet");
    args.finish();
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
    // print(...) of the original, through a buffer: see `start_server`.
    let stdout = if quiet {
        None
    } else {
        Some(BufWriter::new(io::stdout()))
    };
    if let Err(why) = start_server(server, stdout) {
        args.fail(why);
    }
}

/// One connected client.
struct Client {
    conn: TcpStream,
    addr: SocketAddr,
    /// How Python prints this socket, made once at accept: the addresses never change,
    /// and asking the system for them again on every poll round costs two system calls.
    repr: String,
    /// The part of its last reply that the kernel has not taken yet: at most one read's
    /// worth (READ_SIZE bytes), because while it is not empty we stop reading from this
    /// client (see `start_server`).
    unsent: Vec<u8>,
}

fn start_server(server: TcpListener, mut stdout: Option<BufWriter<Stdout>>) -> Result<(), String> {
    let poll_failed = |e: io::Error| format!("poll failed: {}", lesson_cli::reason(&e));
    let print_failed = |e: io::Error| format!("cannot write to stdout: {}", lesson_cli::reason(&e));
    // Non-blocking, like the original: poll says a socket is ready, but a client may
    // vanish between poll and accept; then accept says WouldBlock instead of hanging.
    server.set_nonblocking(true).map_err(|e| {
        format!(
            "cannot make the listening socket non-blocking: {}",
            lesson_cli::reason(&e)
        )
    })?;
    let server_repr = socket_repr(server.local_addr().ok(), None);
    // read_list = [server] + the clients: the listening socket is watched like them. It
    // is "readable" when a connection is waiting to be accepted.
    let mut read_list: Vec<Client> = Vec::new();
    let mut backoff = AcceptBackoff::default();
    let mut fds = Vec::new();
    let mut gone = Vec::new();
    let mut data = [0u8; READ_SIZE];
    loop {
        // Lines are collected in a buffer and written out here, once per round, before
        // poll sleeps: one system call instead of one per line, and nothing printed
        // stays in the buffer while the server waits (or when it is stopped).
        if let Some(out) = stdout.as_mut() {
            out.flush().map_err(print_failed)?;
        }

        // r_list = select(read_list, [], []): sleep until something is ready. A client
        // with an unsent reply is watched for room to write instead of for data.
        fds.clear();
        fds.push(sys::PollFd::new(&server, sys::READ));
        for client in &read_list {
            let want = if client.unsent.is_empty() {
                sys::READ
            } else {
                sys::WRITE
            };
            fds.push(sys::PollFd::new(&client.conn, want));
        }
        sys::wait(&mut fds).map_err(poll_failed)?;
        let server_ready = fds[0].ready();
        let ready = |i: usize| fds[i + 1].ready();

        // print(r_list): the sockets that are ready to be read, listener first, in the
        // order of read_list. (A wake-up only to finish a reply has no line: the original
        // never waits for writing.)
        if let Some(out) = stdout.as_mut() {
            let listener = server_ready.then_some(server_repr.as_str());
            let clients = read_list
                .iter()
                .enumerate()
                .filter(|&(i, client)| ready(i) && client.unsent.is_empty())
                .map(|(_, client)| client.repr.as_str());
            print_list(out, listener.into_iter().chain(clients)).map_err(print_failed)?;
        }

        gone.clear();
        for (i, client) in read_list.iter_mut().enumerate() {
            if !ready(i) {
                continue;
            }
            if !client.unsent.is_empty() {
                // There is room again: hand the kernel the rest of the reply.
                if let Err(e) = send_unsent(client) {
                    let why = lesson_cli::reason(&e);
                    log(
                        &mut stdout,
                        format_args!("{}: cannot send the reply: {why}; closing", client.addr),
                    );
                    gone.push(i);
                }
                continue;
            }
            match client.conn.read(&mut data) {
                // Readable with 0 bytes: the client closed. The original prints the empty
                // bytes b'' and, having no case for them, keeps the closed socket, which
                // is then "ready" forever: it spins printing b''. Print it once, and
                // remove the client.
                Ok(0) => {
                    if let Some(out) = stdout.as_mut() {
                        writeln!(out, "{}", BytesRepr(b"")).map_err(print_failed)?;
                    }
                    log(&mut stdout, format_args!("{}: client left", client.addr));
                    gone.push(i);
                }
                Ok(n) => {
                    if let Some(out) = stdout.as_mut() {
                        writeln!(out, "{}", BytesRepr(&data[..n])).map_err(print_failed)?;
                    }
                    // sock.send(data.upper()). The client sockets are non-blocking: a
                    // blocking write waits while the client does not read its replies
                    // and the buffers between us are full, and with it every other
                    // client would wait. Non-blocking, the write takes what fits and the
                    // rest waits in `unsent`. Until the client has taken it, we stop
                    // reading from this client (poll watches it for room to write): so
                    // it holds at most one reply here, and one that sends without reading
                    // only fills the buffers and then waits in its own write; everyone
                    // else is served as usual. (The other choice, dropping a client whose
                    // reply does not fit, would also cut off one that is merely slow.)
                    client.unsent.clear();
                    client.unsent.extend_from_slice(&data[..n]);
                    client.unsent.make_ascii_uppercase();
                    if let Err(e) = send_unsent(client) {
                        let why = lesson_cli::reason(&e);
                        log(
                            &mut stdout,
                            format_args!("{}: cannot send the reply: {why}; closing", client.addr),
                        );
                        gone.push(i);
                    }
                }
                Err(e) if is_not_now(&e) => {}
                Err(e) => {
                    let why = lesson_cli::reason(&e);
                    log(
                        &mut stdout,
                        format_args!("{}: read failed: {why}; closing", client.addr),
                    );
                    gone.push(i);
                }
            }
        }
        // read_list.remove(sock), from the back so that the other indexes stay valid.
        // Dropping a client's socket closes it.
        for &i in gone.iter().rev() {
            read_list.remove(i);
        }

        if server_ready {
            match server.accept() {
                Ok((conn, addr)) => {
                    backoff.succeeded(PROGRAM);
                    // Non-blocking, for the writes (see above). Reads would not need it:
                    // poll says when a read will not wait.
                    match conn.set_nonblocking(true) {
                        Ok(()) => read_list.push(Client {
                            repr: socket_repr(conn.local_addr().ok(), Some(addr)),
                            conn,
                            addr,
                            unsent: Vec::new(),
                        }),
                        Err(e) => {
                            let why = lesson_cli::reason(&e);
                            log(
                                &mut stdout,
                                format_args!(
                                    "{addr}: cannot make the socket non-blocking: {why}; closing"
                                ),
                            );
                        }
                    }
                }
                Err(e) if is_not_now(&e) => {}
                // Out of file descriptors (EMFILE), typically. The connection stays in
                // the queue, so the listener stays readable and the next poll returns at
                // once: without a pause this loop would spin at 100% CPU. The backoff
                // sleeps 10 ms, then twice as long after each failure in a row, up to
                // 1 s (the clients wait that long too), and logs one line, not one per try.
                Err(e) => {
                    // Its log line goes after this round's lines, as in `log`.
                    if let Some(out) = stdout.as_mut() {
                        let _ = out.flush();
                    }
                    backoff.failed(PROGRAM, &e);
                }
            }
        }
    }
}

/// Prints the reprs as Python prints a list of sockets, `[a, b]`, straight into the
/// buffer (no line when there are none: a round that only finished a reply).
fn print_list<'a>(
    out: &mut impl Write,
    mut reprs: impl Iterator<Item = &'a str>,
) -> io::Result<()> {
    let Some(first) = reprs.next() else {
        return Ok(());
    };
    write!(out, "[{first}")?;
    for repr in reprs {
        write!(out, ", {repr}")?;
    }
    writeln!(out, "]")
}

/// Prints `select-server: <message>` on stderr, after whatever stdout's buffer holds, so
/// that a terminal shows the two in the order they happened. (A failed write to stdout
/// shows again, and stops the server, at the round's flush.)
fn log(stdout: &mut Option<BufWriter<Stdout>>, message: fmt::Arguments) {
    if let Some(out) = stdout.as_mut() {
        let _ = out.flush();
    }
    eprintln!("select-server: {message}");
}

/// Writes as much of `client.unsent` as the kernel takes now, and keeps the rest.
fn send_unsent(client: &mut Client) -> io::Result<()> {
    while !client.unsent.is_empty() {
        match client.conn.write(&client.unsent) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                client.unsent.drain(..n);
            }
            // The send buffer is full: the rest goes when poll says there is room.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// WouldBlock (nothing there after all: the non-blocking "not now") or a signal.
fn is_not_now(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// The one place with `unsafe` on Linux, macOS and the BSDs: poll(2), declared by hand
/// because std does not offer it.
#[cfg(unix)]
#[allow(unsafe_code)]
mod sys {
    use std::ffi::c_int;
    use std::io;
    use std::os::fd::AsRawFd;

    /// `struct pollfd` from <poll.h>: which descriptor, what we wait for, what happened.
    /// `repr(C)` lays the fields out exactly as the C struct, so the kernel can read it.
    #[repr(C)]
    pub struct PollFd {
        fd: c_int,
        events: i16,
        revents: i16,
    }

    // The bits of `events`; these values are the same on Linux, macOS and the BSDs.
    /// POLLIN: data to read (for a listener: a connection to accept).
    pub const READ: i16 = 0x001;
    /// POLLOUT: room in the send buffer, so a write takes at least some bytes.
    pub const WRITE: i16 = 0x004;
    // poll also reports, asked or not: POLLERR 0x008 (an error is pending), POLLHUP
    // 0x010 (the peer hung up), POLLNVAL 0x020 (not an open descriptor).

    impl PollFd {
        /// Wait for `events` on `socket`.
        pub fn new(socket: &impl AsRawFd, events: i16) -> PollFd {
            PollFd {
                fd: socket.as_raw_fd(),
                events,
                revents: 0,
            }
        }

        /// Whether poll reported anything: what we waited for, or an error or hang-up.
        /// In each case the read or write that follows does not wait: it returns data,
        /// the 0 of a close, or the error.
        pub fn ready(&self) -> bool {
            self.revents != 0
        }
    }

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

    /// Sleeps until at least one of `fds` is ready; each one's `ready()` then says.
    pub fn wait(fds: &mut [PollFd]) -> io::Result<()> {
        let nfds = NfdsT::try_from(fds.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
        loop {
            // SAFETY: `fds` is a live, writable array of exactly `nfds` pollfd structs
            // laid out as C expects; poll only reads `fd`/`events` and writes `revents`
            // inside it, and keeps no pointer after returning. Timeout -1: wait as long
            // as it takes, like select with no timeout.
            let n = unsafe { poll(fds.as_mut_ptr(), nfds, -1) };
            if n >= 0 {
                return Ok(());
            }
            // -1 means failure, with the reason in errno: read it through std.
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e); // (a signal interrupting the wait is not a failure: retry)
            }
        }
    }
}

/// The one place with `unsafe` on Windows: WSAPoll, Winsock's poll, declared by hand
/// because std does not offer it. Same shape as poll(2), with its own struct and bits.
#[cfg(windows)]
#[allow(unsafe_code)]
mod sys {
    use std::ffi::c_int;
    use std::io;
    use std::os::windows::io::AsRawSocket;

    /// `WSAPOLLFD` from <winsock2.h>. Unlike `struct pollfd`, `fd` is a `SOCKET`, an
    /// unsigned integer as wide as a pointer (usize); `events` and `revents` are SHORTs.
    #[repr(C)]
    pub struct PollFd {
        fd: usize,
        events: i16,
        revents: i16,
    }

    // The bits of `events`: Winsock's own values, not poll(2)'s. WSAPoll refuses
    // (WSAEINVAL) any other bit in `events`, POLLPRI for one.
    /// POLLRDNORM: data to read (for a listener: a connection to accept).
    pub const READ: i16 = 0x0100;
    /// POLLWRNORM (= POLLOUT): room in the send buffer.
    pub const WRITE: i16 = 0x0010;
    // WSAPoll also reports, asked or not: POLLERR 0x0001, POLLHUP 0x0002 (the connection
    // was closed or reset), POLLNVAL 0x0004 (not a socket).

    impl PollFd {
        /// Wait for `events` on `socket`.
        pub fn new(socket: &impl AsRawSocket, events: i16) -> PollFd {
            PollFd {
                // RawSocket is u64 on every Windows; the SOCKET it holds fits a usize.
                fd: socket.as_raw_socket() as usize,
                events,
                revents: 0,
            }
        }

        /// Whether WSAPoll reported anything: what we waited for, or an error or
        /// hang-up. The read or write that follows then does not wait.
        pub fn ready(&self) -> bool {
            self.revents != 0
        }
    }

    // `int WSAPoll(LPWSAPOLLFD fdArray, ULONG fds, INT timeout)` and `int
    // WSAGetLastError(void)`, from ws2_32.dll (which std links already), with the
    // Windows API calling convention ("system"). Unsafe to declare: the compiler cannot
    // check these signatures; we promise them, from Microsoft's documentation.
    #[link(name = "ws2_32")]
    unsafe extern "system" {
        fn WSAPoll(fds: *mut PollFd, nfds: u32, timeout: c_int) -> c_int;
        fn WSAGetLastError() -> c_int;
    }

    /// Sleeps until at least one of `fds` is ready; each one's `ready()` then says.
    pub fn wait(fds: &mut [PollFd]) -> io::Result<()> {
        let nfds = u32::try_from(fds.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
        // SAFETY: as for poll(2): `fds` is a live, writable array of exactly `nfds`
        // WSAPOLLFD structs, WSAPoll writes only their `revents` and keeps no pointer.
        // Timeout -1: wait as long as it takes.
        let n = unsafe { WSAPoll(fds.as_mut_ptr(), nfds, -1) };
        if n >= 0 {
            return Ok(());
        }
        // SOCKET_ERROR (-1): the reason comes from WSAGetLastError, not errno.
        // SAFETY: takes nothing, only reads this thread's last Winsock error.
        let code = unsafe { WSAGetLastError() };
        Err(io::Error::from_raw_os_error(code))
    }
}

#[cfg(not(any(unix, windows)))]
compile_error!("select-server needs poll(2) (Unix) or WSAPoll (Windows)");
