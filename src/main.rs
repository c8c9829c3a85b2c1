//! The tour: `cargo run` at the top of the workspace shows every lesson working. For each
//! lesson it builds the programs, starts the servers on free loopback ports, runs the
//! clients with the lesson's default inputs, prints what both sides printed, and ends
//! with a one-line verdict per lesson.
//!
//! `cargo run -- 01` runs one lesson, `cargo run -- --list` lists them.
//! A lesson joins the tour with one module in src/tour/ and one line in LESSONS.
//!
//! The instructor's tools are packages of their own, which this build never compiles:
//! `cargo compare` (tools/compare) and `cargo bench --bench lessons` (tools/bench).
//!
//! Its stdout may be closed before the end (`cargo run -- 3 | head -3`): it prints with
//! armour's println!, and then stops the lesson's servers and ends quietly with status
//! 141, as a Unix tool that a closed pipe stops.

#![deny(clippy::unwrap_used)]

mod tour;

use std::process::ExitCode;

use armour::stdout::{CLOSED_STDOUT_STATUS, stdout_closed, stop_quietly};
use armour::{print, println};
use tour::Tour;

/// One lesson of the tour: its number, its name, and what it runs.
struct Lesson {
    id: &'static str,
    name: &'static str,
    run: fn(&mut Tour) -> Result<(), String>,
}

const LESSONS: &[Lesson] = &[
    Lesson {
        id: "01",
        name: "timestamp",
        run: tour::lesson01::run,
    },
    Lesson {
        id: "02",
        name: "tcp-server",
        run: tour::lesson02::run,
    },
    Lesson {
        id: "03",
        name: "ping-pong",
        run: tour::lesson03::run,
    },
    Lesson {
        id: "04",
        name: "framing-and-io-models",
        run: tour::lesson04::run,
    },
    Lesson {
        id: "05",
        name: "short-and-long-connections",
        run: tour::lesson05::run,
    },
];

const HELP: &str = "\
usage: cargo run [-- LESSON... | --list]

The tour of socket-lessons: runs each lesson's programs on free loopback ports and
prints what they print, then one verdict line per lesson (exit status 1 if any failed;
141 if its stdout was closed before the end, as in `cargo run -- 3 | head -3`).

  LESSON    a lesson number or name (01, 1, timestamp); default: every lesson
  --list    list the lessons

The instructor's tools are packages of their own (not built by `cargo run`):
  cargo compare --originals DIR [LESSON...]    every program against the Python originals
                                               (`cargo compare --help`, INSTRUCTORS.md)
  cargo bench --bench lessons [-- LESSON...]   lessons 04 and 05 measured on this machine
                                               (`cargo bench --bench lessons -- --help`)
";

/// How the tour ends when its stdout was closed: quietly, like a Unix tool that a
/// closed pipe stopped (128 + SIGPIPE's 13).
fn stdout_was_closed() -> ExitCode {
    ExitCode::from(u8::try_from(CLOSED_STDOUT_STATUS).unwrap_or(1))
}

fn main() -> ExitCode {
    // A closed stdout stops the printing without a word; the tour then stops the
    // lesson's servers itself (dropping its Tour) and ends with stdout_was_closed().
    stop_quietly();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{HELP}");
        return if stdout_closed() {
            stdout_was_closed()
        } else {
            ExitCode::SUCCESS
        };
    }
    if args.iter().any(|a| a == "--list") {
        for lesson in LESSONS {
            println!("{}  {}", lesson.id, lesson.name);
        }
        return if stdout_closed() {
            stdout_was_closed()
        } else {
            ExitCode::SUCCESS
        };
    }
    let mut chosen = Vec::new();
    for arg in &args {
        let wanted = arg.trim_start_matches('0');
        match LESSONS.iter().find(|l| {
            l.id.trim_start_matches('0') == wanted
                || l.name == arg
                || format!("{}-{}", l.id, l.name) == *arg
        }) {
            Some(lesson) => chosen.push(lesson),
            None => {
                eprintln!("tour: no lesson {arg:?} (see `cargo run -- --list`)");
                return ExitCode::from(2);
            }
        }
    }
    if chosen.is_empty() {
        chosen = LESSONS.iter().collect();
    }

    // The first run compiles every lesson program: say so rather than sit silent.
    if let Err(why) = socket_lessons::build_programs_showing_progress() {
        eprintln!("tour: {why}");
        return ExitCode::FAILURE;
    }
    let mut verdicts = Vec::new();
    for lesson in chosen {
        println!(
            "\n==================== Lesson {} · {} ====================",
            lesson.id, lesson.name
        );
        let mut tour = Tour::default();
        let result = (lesson.run)(&mut tour);
        drop(tour); // stops the lesson's servers
        if stdout_closed() {
            return stdout_was_closed();
        }
        verdicts.push((lesson, result));
    }

    println!("\n==================== Verdicts ====================");
    let mut failed = false;
    for (lesson, result) in &verdicts {
        match result {
            Ok(()) => println!("  {}-{:<28} ok", lesson.id, lesson.name),
            Err(why) => {
                failed = true;
                println!("  {}-{:<28} FAILED: {why}", lesson.id, lesson.name);
            }
        }
    }
    if stdout_closed() {
        stdout_was_closed()
    } else if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
