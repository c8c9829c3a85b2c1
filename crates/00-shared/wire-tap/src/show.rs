//! Bytes on one line: as Python prints them, or as a hex dump.

use py_compat::BytesRepr;

/// How many bytes of one chunk a line shows; the rest is counted, not shown (a read
/// returns up to 64 KiB, which would be a line of a quarter of a megabyte).
pub const SHOWN: usize = 1024;

/// `bytes` as Python prints them, `b'hello'`, or with `hex` as a hex dump with the
/// printable ASCII beside it, `68 65 6c 6c 6f  |hello|`. At most [`SHOWN`] bytes are
/// shown; `... (N more bytes)` counts the rest.
pub fn shown(bytes: &[u8], hex: bool) -> String {
    let (head, rest) = bytes.split_at(bytes.len().min(SHOWN));
    let mut text = if hex {
        let pairs: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = head
            .iter()
            .map(|&b| {
                if (0x20..0x7f).contains(&b) {
                    char::from(b)
                } else {
                    '.'
                }
            })
            .collect();
        format!("{}  |{ascii}|", pairs.join(" "))
    } else {
        BytesRepr(head).to_string()
    };
    if !rest.is_empty() {
        text.push_str(&format!(" ... ({} more bytes)", rest.len()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_python_or_hex() {
        assert_eq!(shown(b"hello\n", false), "b'hello\\n'");
        assert_eq!(shown(b"\xc7\x00", true), "c7 00  |..|");
        assert_eq!(shown(b"", true), "  ||");
    }

    #[test]
    fn long_chunks_are_cut() {
        let text = shown(&[b'a'; SHOWN + 5], false);
        assert!(text.ends_with("aaa' ... (5 more bytes)"), "{text}");
        assert_eq!(text.len(), SHOWN + 3 + " ... (5 more bytes)".len());
    }
}
