//! The length-header codec of `framed-server` and `framed-client`: the 4-byte header
//! that tells the reader how long the body after it is, encoded and decoded in one place
//! so that both ends agree on it. Pure functions: the programs do their own reads and
//! writes, in plain sight in their `main.rs`.

#![forbid(unsafe_code)]

use std::fmt;

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
}
