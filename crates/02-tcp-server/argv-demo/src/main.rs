//! Lesson 02: the program's arguments, a port of test.py (`sys.argv`).
//! `std::env::args_os()` is Rust's `sys.argv`: the program's own name first, then every
//! argument as the shell split them.

use armour::println;
use lesson_cli::Args;
use py_compat::{list_repr, str_repr};

const HELP: &str = include_str!("help.txt");

fn main() {
    // sys.argv: the name the program was started with, then its arguments. args_os()
    // (not args()) so that an argument that is not valid UTF-8 cannot crash us; it is
    // shown with U+FFFD in place of the bad bytes.
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // Only for --help, the workspace's one convention; every other argument, `-h`
    // included (test.py prints it), is ours to print, not an option.
    let help: Vec<String> = argv
        .iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .filter(|a| *a == "--help")
        .cloned()
        .collect();
    Args::from_vec("argv-demo", HELP, help);

    println!("参数个数为: {} 个参数。", argv.len());
    // print(sys.argv): Python shows the list with the repr of each string in it.
    let reprs: Vec<String> = argv.iter().map(|a| str_repr(a)).collect();
    println!("参数列表: {}", list_repr(&reprs));
}
