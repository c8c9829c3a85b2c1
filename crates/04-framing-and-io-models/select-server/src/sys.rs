//! The operating system's poll, which std does not offer: poll(2) on Linux, macOS and the
//! BSDs, WSAPoll on Windows, each declared by hand. This file holds only these bindings,
//! and it is the one place of the crate with `unsafe` (Cargo.toml denies it elsewhere).
//! Both versions give `main.rs` the same small interface:
//! `PollFd::new(&socket, READ)` (or `WRITE`), `poll(&mut fds)`, `fd.ready()` and
//! `fd.readable()`.

#![allow(unsafe_code)]

#[cfg(unix)]
pub use unix::{PollFd, READ, WRITE, poll};
#[cfg(windows)]
pub use windows::{PollFd, READ, WRITE, poll};

#[cfg(not(any(unix, windows)))]
compile_error!("select-server needs poll(2) (Unix) or WSAPoll (Windows)");

/// poll(2), from the C library.
#[cfg(unix)]
mod unix {
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

        /// Whether it is ready and we waited to read (not to write).
        pub fn readable(&self) -> bool {
            self.ready() && self.events == READ
        }
    }

    /// `nfds_t`, the type of poll's count argument: unsigned long on Linux,
    /// unsigned int elsewhere.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    type NfdsT = std::ffi::c_ulong;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    type NfdsT = std::ffi::c_uint;

    mod c {
        use super::{NfdsT, PollFd, c_int};

        // The C library's poll function: `int poll(struct pollfd *fds, nfds_t nfds, int
        // timeout)`. Declaring it is unsafe because the compiler cannot check that this
        // signature is the real one: we promise it, from the manual page.
        unsafe extern "C" {
            pub fn poll(fds: *mut PollFd, nfds: NfdsT, timeout: c_int) -> c_int;
        }
    }

    /// Sleeps until at least one of `fds` is ready; each one's `ready()` then says.
    pub fn poll(fds: &mut [PollFd]) -> io::Result<()> {
        let nfds = NfdsT::try_from(fds.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
        loop {
            // SAFETY: `fds` is a live, writable array of exactly `nfds` pollfd structs
            // laid out as C expects; poll only reads `fd`/`events` and writes `revents`
            // inside it, and keeps no pointer after returning. Timeout -1: wait as long
            // as it takes, like select with no timeout.
            let n = unsafe { c::poll(fds.as_mut_ptr(), nfds, -1) };
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

/// WSAPoll, Winsock's poll: same shape as poll(2), with its own struct and bits.
#[cfg(windows)]
mod windows {
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

        /// Whether it is ready and we waited to read (not to write).
        pub fn readable(&self) -> bool {
            self.ready() && self.events == READ
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
    pub fn poll(fds: &mut [PollFd]) -> io::Result<()> {
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
