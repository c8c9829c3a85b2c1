//! What several lesson-04 programs share, kept out of their `main.rs` so each one shows
//! only its networking:
//!
//! - the 4-byte length header of `framed-server` and `framed-client` (pure functions: the
//!   programs do their own reads and writes, in plain sight);
//! - how Python prints bytes (`b'hello'`), an address (`('127.0.0.1', 8001)`) and a socket
//!   (`<socket.socket fd=3, ...>`), so stdout matches the originals'.

#![forbid(unsafe_code)]

use std::fmt;
use std::net::{SocketAddr, TcpListener, TcpStream};

/// The header is 4 bytes, like `struct.pack('i', n)`.
pub const HEADER_LEN: usize = 4;

/// The largest body a header may announce: 16 MiB. A bigger claim is refused before
/// anything is allocated, so a peer cannot make us reserve gigabytes with 4 bytes.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// Why a header or a body length was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// The 4 bytes read as a negative number: `'i'` is signed, a length is not.
    Negative(i32),
    /// The length is over MAX_BODY.
    TooLarge(u64),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Negative(n) => {
                write!(
                    f,
                    "the header announces {n} bytes: a length cannot be negative"
                )
            }
            HeaderError::TooLarge(n) => write!(
                f,
                "the header announces {n} bytes, more than the {MAX_BODY}-byte limit"
            ),
        }
    }
}

/// The header for a body of `len` bytes: `struct.pack('i', len)`, a signed 32-bit
/// number, lowest byte first (little-endian, the order of every PC and phone CPU, which
/// is what `'i'` gives there). Written out explicitly so it is the same on every machine.
pub fn encode_header(len: usize) -> Result<[u8; HEADER_LEN], HeaderError> {
    if len > MAX_BODY {
        return Err(HeaderError::TooLarge(len as u64));
    }
    // MAX_BODY fits in an i32, so this conversion cannot fail once the check passed.
    let n = i32::try_from(len).map_err(|_| HeaderError::TooLarge(len as u64))?;
    Ok(n.to_le_bytes())
}

/// The body length a header announces: `struct.unpack('i', header)[0]`, checked.
pub fn decode_header(header: [u8; HEADER_LEN]) -> Result<usize, HeaderError> {
    let n = i32::from_le_bytes(header);
    if n < 0 {
        return Err(HeaderError::Negative(n));
    }
    let len = n as usize; // not negative, so it fits
    if len > MAX_BODY {
        return Err(HeaderError::TooLarge(len as u64));
    }
    Ok(len)
}

/// Bytes as Python's `print(data)` shows them: `b'hello world'`, `b'\xff\n'`.
pub fn py_bytes(data: &[u8]) -> String {
    // Python picks double quotes only when the bytes hold a ' and no ".
    let quote = if data.contains(&b'\'') && !data.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from("b");
    out.push(quote);
    for &b in data {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            _ if b as char == quote => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(quote);
    out
}

/// An address as Python prints the `addr` that accept returns: `('127.0.0.1', 8001)`.
pub fn py_addr(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("('{}', {})", a.ip(), a.port()),
        // Python's IPv6 address is a 4-tuple: host, port, flowinfo, scope id.
        SocketAddr::V6(a) => format!(
            "('{}', {}, {}, {})",
            a.ip(),
            a.port(),
            a.flowinfo(),
            a.scope_id()
        ),
    }
}

/// A connected socket as Python 3.11 prints it inside a list:
/// `<socket.socket fd=4, family=2, type=1, proto=0, laddr=(...), raddr=(...)>`.
pub fn py_stream(stream: &TcpStream) -> String {
    py_socket(
        fd_of(stream),
        stream.local_addr().ok(),
        stream.peer_addr().ok(),
    )
}

/// A listening socket as Python 3.11 prints it (no `raddr`: nobody is on the other end).
pub fn py_listener(listener: &TcpListener) -> String {
    py_socket(fd_of(listener), listener.local_addr().ok(), None)
}

/// A list of reprs as Python prints a list: `[a, b]`.
pub fn py_list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

fn py_socket(fd: Option<i64>, local: Option<SocketAddr>, peer: Option<SocketAddr>) -> String {
    let mut out = String::from("<socket.socket");
    if let Some(fd) = fd {
        out.push_str(&format!(" fd={fd},"));
    }
    // AF_INET is 2 and AF_INET6 is 10 on Linux; SOCK_STREAM is 1.
    let family = match local {
        Some(SocketAddr::V6(_)) => 10,
        _ => 2,
    };
    out.push_str(&format!(" family={family}, type=1, proto=0"));
    if let Some(local) = local {
        out.push_str(&format!(", laddr={}", py_addr(&local)));
    }
    if let Some(peer) = peer {
        out.push_str(&format!(", raddr={}", py_addr(&peer)));
    }
    out.push('>');
    out
}

/// The socket's file descriptor: the small number the kernel knows it by (Unix only).
#[cfg(unix)]
fn fd_of(socket: &impl std::os::fd::AsRawFd) -> Option<i64> {
    Some(i64::from(socket.as_raw_fd()))
}

#[cfg(not(unix))]
fn fd_of<T>(_socket: &T) -> Option<i64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_struct_pack_i() {
        // Python: struct.pack('i', 199) == b'\xc7\x00\x00\x00'
        assert_eq!(encode_header(199), Ok([199, 0, 0, 0]));
        assert_eq!(encode_header(0), Ok([0, 0, 0, 0]));
        assert_eq!(encode_header(1024), Ok([0, 4, 0, 0]));
        assert_eq!(decode_header([199, 0, 0, 0]), Ok(199));
        assert_eq!(decode_header([0, 0, 16, 0]), Ok(1 << 20));
    }

    #[test]
    fn header_round_trips_up_to_the_limit() {
        for len in [0, 1, 5, 255, 256, 65_536, MAX_BODY] {
            assert_eq!(decode_header(encode_header(len).unwrap()), Ok(len));
        }
    }

    #[test]
    fn bad_headers_are_refused() {
        // struct.pack('i', -1) == b'\xff\xff\xff\xff'
        assert_eq!(decode_header([0xff; 4]), Err(HeaderError::Negative(-1)));
        assert_eq!(
            decode_header([0, 0, 0, 0x80]),
            Err(HeaderError::Negative(i32::MIN))
        );
        let over = (MAX_BODY + 1) as u32;
        assert_eq!(
            decode_header(over.to_le_bytes()),
            Err(HeaderError::TooLarge(over as u64))
        );
        assert_eq!(
            encode_header(MAX_BODY + 1),
            Err(HeaderError::TooLarge(MAX_BODY as u64 + 1))
        );
        assert!(
            HeaderError::Negative(-5)
                .to_string()
                .contains("-5 bytes: a length cannot be negative")
        );
    }

    #[test]
    fn bytes_print_like_python() {
        // Expected strings from Python 3.11: print(b'...').
        assert_eq!(py_bytes(b"hello world"), "b'hello world'");
        assert_eq!(py_bytes(b""), "b''");
        assert_eq!(
            py_bytes(b"hello \xff\x00'\"\\ world\n\t\r"),
            r#"b'hello \xff\x00\'"\\ world\n\t\r'"#
        );
        assert_eq!(py_bytes(b"it's"), r#"b"it's""#);
        assert_eq!(py_bytes(&[0xc7, 0, 0, 0]), r"b'\xc7\x00\x00\x00'");
        assert_eq!(py_bytes(&[0x7f, 0x80]), r"b'\x7f\x80'");
    }

    #[test]
    fn addresses_and_sockets_print_like_python() {
        let addr: SocketAddr = "127.0.0.1:8001".parse().unwrap();
        assert_eq!(py_addr(&addr), "('127.0.0.1', 8001)");
        let peer: SocketAddr = "127.0.0.1:55326".parse().unwrap();
        let text = py_socket(Some(5), Some(addr), Some(peer));
        assert_eq!(
            text,
            "<socket.socket fd=5, family=2, type=1, proto=0, \
             laddr=('127.0.0.1', 8001), raddr=('127.0.0.1', 55326)>"
        );
        assert_eq!(py_list(&[]), "[]");
        assert_eq!(py_list(&["a".into(), "b".into()]), "[a, b]");
    }
}
