//! Printing that survives a closed stdout.
//!
//! Rust ignores SIGPIPE, so a print into a pipe whose reader has gone (`program | head -1`)
//! returns an error, and std's `println!` panics on it. These macros take its place in the
//! lesson programs (`use armour::println;`), with what each kind of program should do:
//!
//! - a client (the default) ends at once, quietly, with exit status 141: what a shell
//!   reports for a Unix tool that a closed pipe stopped (128 + SIGPIPE's number 13);
//! - a server, once it has called [`listening`], logs one line on stderr, stops printing
//!   and goes on serving everyone: its stdout is a log, not its work;
//! - a program that asked for [`stop_quietly`] stops printing without a word, and asks
//!   [`stdout_closed`] when to end (the tour, which must first stop its servers).

use std::fmt;
use std::io::{self, Write};
use std::process;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// What happens when stdout turns out closed: see the module's text.
const EXIT: u8 = 0;
const LOG_AND_SERVE: u8 = 1;
const QUIET: u8 = 2;

static ON_CLOSED: AtomicU8 = AtomicU8::new(EXIT);
static CLOSED: AtomicBool = AtomicBool::new(false);

/// The exit status of a client whose stdout was closed.
pub const CLOSED_STDOUT_STATUS: i32 = 141;

/// A server's announcement once it listens, `<program>: listening on <addr>` on stderr
/// (the tests and the tour wait for it). From then on a closed stdout stops this
/// program's printing, not its serving.
pub fn listening(addr: impl fmt::Display) {
    ON_CLOSED.store(LOG_AND_SERVE, Ordering::Relaxed);
    eprintln!("{}: listening on {addr}", lesson_cli::program_name());
}

/// From now on a closed stdout stops printing silently; [`stdout_closed`] tells.
pub fn stop_quietly() {
    ON_CLOSED.store(QUIET, Ordering::Relaxed);
}

/// Whether stdout was found closed (printing has stopped).
pub fn stdout_closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

/// Prints like std's `println!`, and survives a closed stdout (see the module's text).
#[macro_export]
macro_rules! println {
    () => {
        $crate::stdout::write(::std::format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::stdout::write(::std::format_args!($($arg)*), true)
    };
}

/// Prints like std's `print!` and shows it at once (a prompt must be seen before the
/// program waits), and survives a closed stdout (see the module's text).
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::stdout::write(::std::format_args!($($arg)*), false)
    };
}

/// What the macros call: writes `args` (and a newline), or handles a closed stdout.
#[doc(hidden)]
pub fn write(args: fmt::Arguments, newline: bool) {
    emit(|out| {
        out.write_fmt(args)?;
        if newline {
            out.write_all(b"\n")
        } else {
            out.flush()
        }
    });
}

/// Prints `bytes` as they are, not as text (what nc shows of a reply), and shows them at
/// once; survives a closed stdout like the macros.
pub fn print_bytes(bytes: &[u8]) {
    emit(|out| {
        out.write_all(bytes)?;
        out.flush()
    });
}

/// Runs one print on the locked stdout, or handles a closed stdout.
fn emit(print: impl FnOnce(&mut io::StdoutLock) -> io::Result<()>) {
    if stdout_closed() {
        return;
    }
    if let Err(e) = print(&mut io::stdout().lock()) {
        failed(&e);
    }
}

/// The one decision on a failed print.
fn failed(e: &io::Error) {
    let program = lesson_cli::program_name();
    let first = !CLOSED.swap(true, Ordering::Relaxed);
    match ON_CLOSED.load(Ordering::Relaxed) {
        LOG_AND_SERVE if first => eprintln!(
            "{program}: stdout is closed ({}); printing stops, serving goes on",
            lesson_cli::reason(e)
        ),
        LOG_AND_SERVE | QUIET => {}
        _ if lesson_cli::is_closed_pipe(e) => process::exit(CLOSED_STDOUT_STATUS),
        _ => {
            eprintln!("{program}: cannot print: {}", lesson_cli::reason(e));
            process::exit(1);
        }
    }
}
