//! The workspace's one place for Python's way of printing and parsing, shared by the
//! programs of lessons 01 to 05: wherever an original prints a Python repr, ours calls
//! this crate, so every lesson prints it the same way and stdout and the wire match the
//! originals.
//!
//! - [`parse_float`]: what Python's `float(text)` accepts, and what it would accept if
//!   more bytes arrived (a request read from a stream may be cut anywhere);
//! - [`float_repr`]: how Python prints a float (`4.0`, `0.25`, `1e+16`, `inf`), which is
//!   also what `str(num)` puts on the wire;
//! - [`bytes_repr`]: bytes as Python prints them, `b'hello world'`;
//! - [`str_repr`]: a string as Python prints it, `'zhangsan'` or `"o'neil"`;
//! - [`addr_repr`]: a socket address as Python prints it, `('127.0.0.1', 5000)`;
//! - [`socket_repr`]: a TCP socket as Python 3.11 prints it, without the `fd=`;
//! - [`list_repr`]: a list of reprs as Python prints a list, `[a, b]`;
//! - [`ctime`]: a time as `time.ctime()` prints it, `Sun May 27 21:43:58 2018` (in UTC).
//!
//! Everything here is plain, portable Rust: no operating-system calls.

use std::fmt;
use std::net::SocketAddr;

mod time;
pub use time::ctime;

/// Why a text is not (yet) a number for Python's `float()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatError {
    /// Not a number yet, but the start of one: `""`, `"1e"`, `"-"`, `"inf"` + `"in"`...
    /// More characters could still make it valid.
    Incomplete,
    /// Not a number, and no characters added at the end can make it one.
    Invalid,
}

/// Parses `text` as Python's `float()` does: spaces around the number (any Unicode
/// white space), a sign, digits with single `_` between them, a decimal point, an
/// exponent, `inf` / `infinity` / `nan` in any case, and decimal digits of any script
/// (`float('٣')` is `3.0`). Too large gives `inf` and too small `0.0`, as in Python.
pub fn parse_float(text: &str) -> Result<f64, FloatError> {
    // Python first maps Unicode digits to ASCII digits and Unicode spaces to ' '.
    let mut ascii = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_whitespace() {
            ascii.push(' ');
        } else if let Some(digit) = decimal_value(c) {
            ascii.push(char::from(b'0' + digit));
        } else if c.is_ascii() {
            ascii.push(c);
        } else {
            return Err(FloatError::Invalid);
        }
    }
    let body = ascii.trim_start_matches(' ');
    let number = body.trim_end_matches(' ');
    match syntax(number) {
        Syntax::Complete => {
            let plain: String = number.chars().filter(|&c| c != '_').collect();
            // The grammar checked above is a subset of what Rust's parser accepts, and
            // Rust's parser rounds correctly, like Python's.
            plain.parse().map_err(|_| FloatError::Invalid)
        }
        // "1e " cannot grow into a number: white space may only follow a whole one.
        Syntax::Prefix if number.len() == body.len() => Err(FloatError::Incomplete),
        _ => Err(FloatError::Invalid),
    }
}

enum Syntax {
    Complete,
    Prefix,
    Invalid,
}

/// Where `s` (no spaces around it) stands in Python's float grammar:
/// `[sign] (inf | infinity | nan | digits [. [digits]] [exp] | . digits [exp])`,
/// with `exp = (e|E) [sign] digits` and `digits = digit (_? digit)*`.
fn syntax(s: &str) -> Syntax {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let word = unsigned.to_ascii_lowercase();
    if ["inf", "infinity", "nan"].contains(&word.as_str()) {
        return Syntax::Complete;
    }
    if !word.is_empty() && ("infinity".starts_with(&word) || "nan".starts_with(&word)) {
        return Syntax::Prefix;
    }

    #[derive(Clone, Copy, PartialEq)]
    enum At {
        Start,
        Int,
        IntUnderscore,
        DotFirst,
        DotAfterInt,
        Frac,
        FracUnderscore,
        E,
        ESign,
        Exp,
        ExpUnderscore,
    }
    let mut at = At::Start;
    for b in unsigned.bytes() {
        let digit = b.is_ascii_digit();
        at = match (at, b) {
            (At::Start | At::Int | At::IntUnderscore, _) if digit => At::Int,
            (At::Start, b'.') => At::DotFirst,
            (At::Int, b'_') => At::IntUnderscore,
            (At::Int, b'.') => At::DotAfterInt,
            (At::DotFirst | At::DotAfterInt | At::Frac | At::FracUnderscore, _) if digit => {
                At::Frac
            }
            (At::Frac, b'_') => At::FracUnderscore,
            (At::Int | At::DotAfterInt | At::Frac, b'e' | b'E') => At::E,
            (At::E, b'+' | b'-') => At::ESign,
            (At::E | At::ESign | At::Exp | At::ExpUnderscore, _) if digit => At::Exp,
            (At::Exp, b'_') => At::ExpUnderscore,
            _ => return Syntax::Invalid,
        };
    }
    match at {
        At::Int | At::DotAfterInt | At::Frac | At::Exp => Syntax::Complete,
        _ => Syntax::Prefix,
    }
}

/// The zero of every run of ten decimal digits in Unicode 14 (Python 3.11's table),
/// generated with `unicodedata.decimal(c) == 0`.
const DIGIT_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66,
    0xde6, 0xe50, 0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90,
    0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10,
    0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650,
    0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50,
    0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0,
];

fn decimal_value(c: char) -> Option<u8> {
    let code = u32::from(c);
    DIGIT_ZEROS
        .iter()
        .find(|&&zero| (zero..zero + 10).contains(&code))
        .and_then(|&zero| u8::try_from(code - zero).ok())
}

/// A float as Python's `repr()` and `str()` print it: the shortest digits that read back
/// as the same float, in plain notation with at least one decimal (`4.0`, `0.0001`),
/// or in exponent notation when the exponent is below -4 or 16 and above (`1.5e-05`,
/// `1e+16`); `inf`, `-inf` and `nan` spelt Python's way.
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // Rust's `{:e}` finds how many digits are needed to read back as the same float
    // ("-1.5e-5": two). When two strings of that length both read back, Python takes the
    // one nearest to the float, rounding half to even; Rust may take the other, so the
    // digits come from rounding the float's exact value to that many digits.
    let shortest = format!("{x:e}");
    let count = shortest
        .split('e')
        .next()
        .unwrap_or("")
        .bytes()
        .filter(u8::is_ascii_digit)
        .count();
    let scientific = format!("{x:.*e}", count.saturating_sub(1));
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific;
    };
    let mantissa = match mantissa.contains('.') {
        true => mantissa.trim_end_matches('0').trim_end_matches('.'),
        false => mantissa,
    };
    let exp: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|&c| c != '.').collect();
    let (first, rest) = digits.split_at(1);
    if !(-4..16).contains(&exp) {
        let dot = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!(
            "{sign}{first}{dot}{rest}e{exp_sign}{:02}",
            exp.unsigned_abs()
        )
    } else if exp >= 0 {
        let point = exp.unsigned_abs() as usize + 1;
        if digits.len() <= point {
            format!("{sign}{digits}{}.0", "0".repeat(point - digits.len()))
        } else {
            format!("{sign}{}.{}", &digits[..point], &digits[point..])
        }
    } else {
        let zeros = "0".repeat(exp.unsigned_abs() as usize - 1);
        format!("{sign}0.{zeros}{digits}")
    }
}

/// A socket address as Python prints the tuple of `getsockname()` / `peername`:
/// `('127.0.0.1', 5000)`, or `('::1', 5000, 0, 0)` for IPv6.
pub fn addr_repr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(v4) => format!("('{}', {})", v4.ip(), v4.port()),
        SocketAddr::V6(v6) => format!(
            "('{}', {}, {}, {})",
            v6.ip(),
            v6.port(),
            v6.flowinfo(),
            v6.scope_id()
        ),
    }
}

/// Bytes as Python's `repr()` and `print()` show them: `b'hello world'`, `b'\xff\n'`,
/// `b"it's"`.
pub fn bytes_repr(bytes: &[u8]) -> String {
    BytesRepr(bytes).to_string()
}

/// The same text as [`bytes_repr`], written straight into a `write!` or `println!`
/// without making a `String` first: for a server that prints every message it gets.
pub struct BytesRepr<'a>(pub &'a [u8]);

impl fmt::Display for BytesRepr<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0;
        // Python picks double quotes only when the bytes hold a ' and no ".
        let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
            b'"'
        } else {
            b'\''
        };
        let quote_str = if quote == b'"' { "\"" } else { "'" };
        out.write_str("b")?;
        out.write_str(quote_str)?;
        let mut rest = bytes;
        while !rest.is_empty() {
            // The longest run that prints as it is, written in one piece.
            let plain = rest
                .iter()
                .position(|&b| !(0x20..0x7f).contains(&b) || b == b'\\' || b == quote)
                .unwrap_or(rest.len());
            let (run, after) = rest.split_at(plain);
            // Printable ASCII is valid UTF-8.
            out.write_str(std::str::from_utf8(run).map_err(|_| fmt::Error)?)?;
            let Some((&b, after)) = after.split_first() else {
                break;
            };
            match b {
                b'\\' => out.write_str("\\\\")?,
                b'\t' => out.write_str("\\t")?,
                b'\n' => out.write_str("\\n")?,
                b'\r' => out.write_str("\\r")?,
                _ if b == quote => {
                    out.write_str("\\")?;
                    out.write_str(quote_str)?;
                }
                _ => write!(out, "\\x{b:02x}")?,
            }
            rest = after;
        }
        out.write_str(quote_str)
    }
}

/// A string as Python's `repr()` prints it: in single quotes, or double quotes when it
/// holds a single quote and no double quote; backslash escapes for the quote, the
/// backslash and characters that are not printable. Chinese text prints as it is:
/// `'张三'`, `"o'neil"`, `'a\\b'`, `'\u3000'`.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !is_printable(c) => {
                let code = u32::from(c);
                let escaped = match code {
                    0..=0xff => format!("\\x{code:02x}"),
                    0x100..=0xffff => format!("\\u{code:04x}"),
                    _ => format!("\\U{code:08x}"),
                };
                out.push_str(&escaped);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `str.isprintable()`, for the characters people type: controls, separators
/// other than the space, and the usual invisible format characters are not printable.
/// (std has no Unicode category table; rarer unprintable characters print as they are.)
fn is_printable(c: char) -> bool {
    let invisible = matches!(
        u32::from(c),
        0xad | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0xe000..=0xf8ff | 0xfeff
    );
    !(c.is_control() || (c.is_whitespace() && c != ' ') || invisible)
}

/// A TCP socket as Python 3.11's `repr()` prints it, from its two ends: `local` is what
/// `getsockname()` gives, `peer` what `getpeername()` gives (`None` for a listening
/// socket, which has nobody on the other end):
/// `<socket.socket family=2, type=1, proto=0, laddr=('127.0.0.1', 8001), raddr=('127.0.0.1', 54321)>`.
///
/// Python also prints `fd=N` first, the file descriptor: a number that only some
/// operating systems have, and that says nothing about the connection, so it is left
/// out. `family` is AF_INET, 2, for IPv4; for IPv6 it is AF_INET6, which is 10 on Linux
/// (Python prints the local system's number: 30 on macOS, 28 on FreeBSD, 23 on Windows).
/// `type=1` is SOCK_STREAM (TCP) and `proto=0` the default protocol.
pub fn socket_repr(local: Option<SocketAddr>, peer: Option<SocketAddr>) -> String {
    let family = match local.or(peer) {
        Some(SocketAddr::V6(_)) => 10,
        _ => 2,
    };
    let mut out = format!("<socket.socket family={family}, type=1, proto=0");
    if let Some(local) = local {
        out.push_str(&format!(", laddr={}", addr_repr(local)));
    }
    if let Some(peer) = peer {
        out.push_str(&format!(", raddr={}", addr_repr(peer)));
    }
    out.push('>');
    out
}

/// Reprs joined as Python prints a list of them: `[a, b]`, and `[]` for none.
pub fn list_repr(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every expected string below was printed by Python 3.11.

    #[test]
    fn floats_print_like_python() {
        let cases = [
            (4.0, "4.0"),
            (8.0, "8.0"),
            (0.25, "0.25"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (9999999999999998.0, "9999999999999998.0"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e100, "1e+100"),
            (1.2345678901234567e+16, "1.2345678901234568e+16"),
            (-123.456, "-123.456"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (-f64::NAN, "nan"),
            (100000000000.0, "100000000000.0"),
            // A tie between two shortest strings: Python takes the even digit, not the
            // one `{:e}` gives (925696874881655.3).
            (925696874881655.2, "925696874881655.2"),
        ];
        for (x, text) in cases {
            assert_eq!(float_repr(x), text, "{x:?}");
        }
    }

    #[test]
    fn accepts_what_python_float_accepts() {
        let cases = [
            ("2", 2.0),
            (" 2 ", 2.0),
            ("\u{a0}2\u{3000}", 2.0),
            ("\t\n2\r\x0b\x0c\u{85}", 2.0),
            ("1e16", 1e16),
            ("1.5e-5", 1.5e-5),
            ("1_000", 1000.0),
            ("1_0e1_0", 1e11),
            ("1.2_5", 1.25),
            ("1_0.2_5e1_0", 102500000000.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("1.e5", 1e5),
            ("+0", 0.0),
            ("1E+2", 100.0),
            ("1e400", f64::INFINITY),
            ("1e-400", 0.0),
            ("inf", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
            ("\u{663}", 3.0),
            ("\u{661}_\u{662}", 12.0),
            ("1\u{663}", 13.0),
            ("\u{ff11}\u{ff12}", 12.0),
        ];
        for (text, value) in cases {
            assert_eq!(parse_float(text), Ok(value), "{text:?}");
        }
        assert!(parse_float("nAn").is_ok_and(f64::is_nan));
        assert!(parse_float("-nan").is_ok_and(f64::is_nan));
        assert!(parse_float("-0").is_ok_and(|x| x == 0.0 && x.is_sign_negative()));
    }

    #[test]
    fn rejects_what_python_float_rejects() {
        for text in [
            "1__0",
            "_1",
            "1_.5",
            "1._5",
            ".e5",
            "0x10",
            "- 1",
            "1 2",
            "1e ",
            "abc",
            "1e5e",
            "\x1c2",
            "²",
            "infinityy",
            "nann",
            "1,5",
            "++1",
            "in f",
            "٣.x",
        ] {
            assert_eq!(parse_float(text), Err(FloatError::Invalid), "{text:?}");
        }
    }

    #[test]
    fn tells_the_start_of_a_number_from_garbage() {
        for text in [
            "", "  ", "-", "+", "1_", "1e", "1e+", "1e5_", " .", "in", "infi", "n", "-na",
        ] {
            assert_eq!(parse_float(text), Err(FloatError::Incomplete), "{text:?}");
        }
    }

    #[test]
    fn bytes_print_like_python() {
        let cases: [(&[u8], &str); 16] = [
            (b"hello world", "b'hello world'"),
            (b"'", r#"b"'""#),
            (b"\\", r"b'\\'"),
            (b"", "b''"),
            (b"x", "b'x'"),
            (b"hello pdudo\r\n", r"b'hello pdudo\r\n'"),
            (b"a\\b\t", r"b'a\\b\t'"),
            (b"\xff\n\0\\", r"b'\xff\n\x00\\'"),
            (&[0xff, 0xfe, 0, 0x7f], r"b'\xff\xfe\x00\x7f'"),
            (&[0xc7, 0, 0, 0], r"b'\xc7\x00\x00\x00'"),
            (&[0x7f, 0x80], r"b'\x7f\x80'"),
            // Vertical tab, form feed and escape have no short escape in Python.
            (b"\x0b\x0c\x1b", r"b'\x0b\x0c\x1b'"),
            // A ' alone switches to double quotes; with a " too, the ' is escaped.
            (b"it's", r#"b"it's""#),
            (b"'\"", r#"b'\'"'"#),
            (
                b"hello \xff\x00'\"\\ world\n\t\r",
                r#"b'hello \xff\x00\'"\\ world\n\t\r'"#,
            ),
            (b"say \"hi\"", r#"b'say "hi"'"#),
        ];
        for (bytes, text) in cases {
            assert_eq!(bytes_repr(bytes), text, "{bytes:?}");
        }
    }

    #[test]
    fn strings_print_like_python() {
        // Expected strings from Python 3: repr(s).
        let cases = [
            ("test.py", "'test.py'"),
            ("张三", "'张三'"),
            ("it's", "\"it's\""),
            ("o'neil", "\"o'neil\""),
            ("a'b\"c", "'a\\'b\"c'"),
            ("a\\b\n\t\r", "'a\\\\b\\n\\t\\r'"),
            ("\u{1}\u{7f}\u{85}", "'\\x01\\x7f\\x85'"),
            ("全角\u{3000}空格", "'全角\\u3000空格'"),
            ("\u{200b}\u{feff}", "'\\u200b\\ufeff'"),
            ("é 😀", "'é 😀'"),
            ("", "''"),
        ];
        for (s, repr) in cases {
            assert_eq!(str_repr(s), repr, "{s:?}");
        }
        // A list of strings, as Python prints sys.argv.
        let argv = ["test.py", "arg1", "arg2", "arg3"].map(str_repr);
        assert_eq!(list_repr(&argv), "['test.py', 'arg1', 'arg2', 'arg3']");
    }

    #[test]
    fn addresses_print_like_python() {
        let v4: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert_eq!(addr_repr(v4), "('127.0.0.1', 5000)");
        let any: SocketAddr = "0.0.0.0:8888".parse().unwrap();
        assert_eq!(addr_repr(any), "('0.0.0.0', 8888)");
        let v6: SocketAddr = "[::1]:5000".parse().unwrap();
        assert_eq!(addr_repr(v6), "('::1', 5000, 0, 0)");
    }

    #[test]
    fn sockets_and_lists_print_like_python_without_the_fd() {
        let local: SocketAddr = "127.0.0.1:8001".parse().unwrap();
        let peer: SocketAddr = "127.0.0.1:45666".parse().unwrap();
        let listener = socket_repr(Some(local), None);
        assert_eq!(
            listener,
            "<socket.socket family=2, type=1, proto=0, laddr=('127.0.0.1', 8001)>"
        );
        let conn = socket_repr(Some(local), Some(peer));
        assert_eq!(
            conn,
            "<socket.socket family=2, type=1, proto=0, laddr=('127.0.0.1', 8001), \
             raddr=('127.0.0.1', 45666)>"
        );
        assert_eq!(list_repr(&[]), "[]");
        assert_eq!(
            list_repr(&[listener, conn]),
            "[<socket.socket family=2, type=1, proto=0, laddr=('127.0.0.1', 8001)>, \
             <socket.socket family=2, type=1, proto=0, laddr=('127.0.0.1', 8001), \
             raddr=('127.0.0.1', 45666)>]"
        );
        // IPv6, with Linux's AF_INET6 = 10.
        let local6: SocketAddr = "[::1]:8001".parse().unwrap();
        let peer6: SocketAddr = "[::1]:59726".parse().unwrap();
        assert_eq!(
            socket_repr(Some(local6), None),
            "<socket.socket family=10, type=1, proto=0, laddr=('::1', 8001, 0, 0)>"
        );
        assert_eq!(
            socket_repr(Some(local6), Some(peer6)),
            "<socket.socket family=10, type=1, proto=0, laddr=('::1', 8001, 0, 0), \
             raddr=('::1', 59726, 0, 0)>"
        );
    }
}
