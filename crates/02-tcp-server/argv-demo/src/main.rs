//! Lesson 02: the program's arguments, a port of test.py (`sys.argv`).
//! `std::env::args_os()` is Rust's `sys.argv`: the program's own name first, then every
//! argument as the shell split them.

use lesson_cli::Args;

const HELP: &str = "\
usage: argv-demo [ARG...]

Lesson 02: print the program's arguments (a port of test.py, which prints sys.argv).
Prints how many arguments there are, the program's name included, and the list of
them in Python's form: ['argv-demo', 'arg1', 'arg2', 'arg3'].

Every argument is printed as it is, options too, except this one:
  -h, --help         this text
";

fn main() {
    // sys.argv: the name the program was started with, then its arguments. args_os()
    // (not args()) so that an argument that is not valid UTF-8 cannot crash us; it is
    // shown with U+FFFD in place of the bad bytes.
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // Only for --help; every other argument is ours to print, not an option.
    Args::from_vec("argv-demo", HELP, argv.iter().skip(1).cloned().collect());

    println!("参数个数为: {} 个参数。", argv.len());
    println!("参数列表: {}", py_list(&argv));
}

/// A list of strings as Python's str(list) prints it: ['a', 'b'].
fn py_list(items: &[String]) -> String {
    let reprs: Vec<String> = items.iter().map(|s| py_repr(s)).collect();
    format!("[{}]", reprs.join(", "))
}

/// A string as Python's repr() prints it: in single quotes, or double quotes when it
/// holds a single quote and no double quote; backslash escapes for the quote, the
/// backslash and characters that are not printable.
fn py_repr(s: &str) -> String {
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

/// Python's str.isprintable(), for the characters people type: controls, separators
/// other than the space, and the usual invisible format characters are not printable.
/// (std has no Unicode category table; rarer unprintable characters print as they are.)
fn is_printable(c: char) -> bool {
    let invisible = matches!(
        u32::from(c),
        0xad | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0xe000..=0xf8ff | 0xfeff
    );
    !(c.is_control() || (c.is_whitespace() && c != ' ') || invisible)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_matches_python() {
        // Expected strings from Python 3: repr(s).
        assert_eq!(py_repr("test.py"), "'test.py'");
        assert_eq!(py_repr("张三"), "'张三'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_repr("a\\b\n\t\r"), "'a\\\\b\\n\\t\\r'");
        assert_eq!(py_repr("\u{1}\u{7f}\u{85}"), "'\\x01\\x7f\\x85'");
        assert_eq!(py_repr("全角\u{3000}空格"), "'全角\\u3000空格'");
        assert_eq!(py_repr("\u{200b}\u{feff}"), "'\\u200b\\ufeff'");
        assert_eq!(py_repr("é 😀"), "'é 😀'");
        assert_eq!(py_repr(""), "''");
    }

    #[test]
    fn list_matches_python() {
        let argv = ["test.py", "arg1", "arg2", "arg3"].map(String::from);
        assert_eq!(py_list(&argv), "['test.py', 'arg1', 'arg2', 'arg3']");
        assert_eq!(py_list(&[]), "[]");
    }
}
