//! The bench, `cargo bench --bench lessons [-- [--quick] [LESSON...]]`: two claims of the
//! original documents, measured on this machine with the lesson programs themselves.
//!
//! - Lesson 05: a short connection per request costs more than one long connection.
//! - Lesson 04: one thread with poll serves many clients; polling burns CPU; a thread
//!   per connection is the simple baseline.
//!
//! Everything runs on 127.0.0.1. Every server is a child process, stopped by its PID when
//! its measurement ends (also on error: `server::Running` kills it when dropped).
//! The clients are threads of this process (see `load`).

#![deny(clippy::unwrap_used)]

mod baseline;
mod lesson04;
mod lesson05;
mod load;
mod programs;
mod report;
mod server;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use programs::Programs;

const HELP: &str = "\
usage: cargo bench --bench lessons [-- [--quick] [LESSON...]]

Measures two claims of the lessons on this machine, with the lesson programs, built
optimized like the bench itself (cargo bench uses the release profile):
  05  short vs long connections: the same request (a2 -> d4.0) to short-server,
      over a new connection each time and over one long connection
  04  echo round trips (hello world -> HELLO WORLD) with 1 to 1000 clients against a
      thread-per-connection server, nonblocking-server and select-server
Each point runs 3 times (the 20-client point, which the ratios use, 5 times); the
tables show the median and the spread. Everything runs on 127.0.0.1; every server is
stopped when its point ends. On a 2-core machine that other programs kept busy, lesson
05 took about 6 s and both lessons 55-85 s; the first run also builds the bench and the
programs, optimized (there about 45 s).

  LESSON      04 or 05 (4, 5, or the lesson's name); default: both
  --quick     tiny runs (a few seconds), to check that the bench works, not to measure
  -h, --help  this text
";

/// How long and how often to measure.
pub struct Settings {
    pub quick: bool,
    /// How many times each point runs (each run with fresh servers and connections).
    pub runs: usize,
    /// How long one run of lesson 05 sends requests, and from how many clients.
    pub window05: Duration,
    pub clients05: &'static [usize],
    /// How long one run of lesson 04 sends round trips.
    pub window04: Duration,
    /// The numbers of concurrent clients of lesson 04.
    pub clients04: &'static [usize],
    /// Issue 13's point: this many clients, each doing `issue_round_trips` round trips,
    /// `issue_runs` times (it is short, so it runs more often than the others).
    pub issue_clients: usize,
    pub issue_runs: usize,
    pub issue_round_trips: usize,
    /// The most time issue 13's point may take all the same.
    pub issue_limit: Duration,
}

impl Settings {
    fn new(quick: bool) -> Settings {
        if quick {
            Settings {
                quick,
                runs: 2,
                window05: Duration::from_millis(15),
                clients05: &[1, 10],
                window04: Duration::from_millis(10),
                clients04: &[1, 20],
                issue_clients: 20,
                issue_runs: 2,
                issue_round_trips: 10,
                issue_limit: Duration::from_millis(200),
            }
        } else {
            Settings {
                quick,
                runs: 3,
                window05: Duration::from_millis(500),
                clients05: &[1, 10],
                window04: Duration::from_millis(500),
                clients04: &[1, 10, 20, 100, 1000],
                issue_clients: 20,
                issue_runs: 5,
                // 2000, not the issue's 500: a run of 500 lasted ~70 ms here and its
                // ratios moved by ±10% from run to run; 2000 (~0.25 s) by about half that.
                issue_round_trips: 2000,
                issue_limit: Duration::from_secs(1),
            }
        }
    }
}

struct Lesson {
    id: &'static str,
    name: &'static str,
}

const LESSONS: &[Lesson] = &[
    Lesson {
        id: "04",
        name: "framing-and-io-models",
    },
    Lesson {
        id: "05",
        name: "short-and-long-connections",
    },
];

/// The usage line, as `cargo bench` takes it.
const USAGE: &str = "usage: cargo bench --bench lessons [-- [--quick] [LESSON...]]";

/// `cargo test --benches` (or `--all-targets`) runs a bench target as a check, without
/// the `--bench` that `cargo bench` adds: then the tiny runs of `--quick`, so the check
/// takes a second, not minutes. (The baseline server the bench starts of itself, with
/// its hidden argument, is served as usual.)
pub fn check(args: &[String]) -> ExitCode {
    if args.first().is_some_and(|a| a == baseline::FLAG) || args.iter().any(|a| a == "--quick") {
        return main(args);
    }
    let mut quick = args.to_vec();
    quick.push("--quick".to_string());
    main(&quick)
}

/// The bench with its arguments (those after `--`): `--quick`, lessons, `--help`.
pub fn main(args: &[String]) -> ExitCode {
    // The hidden way in for the baseline server: the bench starts itself with it.
    if args.first().is_some_and(|a| a == baseline::FLAG) {
        return baseline::serve(&args[1..]);
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    let mut quick = false;
    let mut chosen: Vec<&Lesson> = Vec::new();
    for arg in args {
        if arg == "--quick" {
            quick = true;
            continue;
        }
        let wanted = arg.trim_start_matches('0');
        match LESSONS.iter().find(|l| {
            l.id.trim_start_matches('0') == wanted
                || l.name == arg
                || format!("{}-{}", l.id, l.name) == *arg
        }) {
            Some(lesson) if !chosen.iter().any(|c| c.id == lesson.id) => chosen.push(lesson),
            Some(_) => {}
            None => {
                eprintln!("bench: nothing to measure for {arg:?}: lessons 04 and 05 have a bench");
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    if chosen.is_empty() {
        chosen = LESSONS.iter().collect();
    }
    chosen.sort_by_key(|l| std::cmp::Reverse(l.id)); // 05 first: it is the quicker one
    let settings = Settings::new(quick);

    let began = Instant::now();
    let mut packages = Vec::new();
    for lesson in &chosen {
        match lesson.id {
            "04" => packages.extend(lesson04::PACKAGES),
            _ => packages.extend(lesson05::PACKAGES),
        }
    }
    let programs = match Programs::build(&packages) {
        Ok(programs) => programs,
        Err(why) => {
            eprintln!("bench: {why}");
            return ExitCode::FAILURE;
        }
    };
    print_preamble(&programs, &settings);

    let mut failed = false;
    for lesson in chosen {
        let result = match lesson.id {
            "04" => lesson04::run(&programs, &settings),
            _ => lesson05::run(&programs, &settings),
        };
        if let Err(why) = result {
            failed = true;
            println!("\nLesson {}: the bench failed: {why}", lesson.id);
        }
    }
    println!(
        "\nbench: done in {:.1} s (building included).",
        began.elapsed().as_secs_f64()
    );
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// What was measured, how, and on what: the lines above the tables.
fn print_preamble(programs: &Programs, settings: &Settings) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("socket-lessons bench: the lessons' claims, measured on this machine");
    let mut lines = vec![
        format!("build: {}", programs.describe()),
        format!(
            "machine: {cores} CPU cores ({}), shared by the clients (threads of the bench) and the \
             server measured",
            std::env::consts::OS
        ),
        "network: 127.0.0.1 only (loopback: no wire, no router, no packet loss)".to_string(),
        "stdout: every server's stdout goes to the null device: a server still formats each line \
         and makes each write system call, as into a file; no terminal draws it and the bench \
         spends no CPU reading it, for every server alike"
            .to_string(),
    ];
    if let Some(load) = server::load_average() {
        let busy = if load > cores as f64 * 0.5 {
            "other programs are running: expect more noise"
        } else {
            "quiet"
        };
        lines.push(format!(
            "load: {load:.1} (the 1-minute load average, from /proc/loadavg; {cores} cores): {busy}"
        ));
    }
    for line in lines {
        // `  build:    release ...`, the label padded to one width.
        let (label, text) = line.split_once(' ').unwrap_or((&line, ""));
        report::say_after(&format!("  {label:<9} "), text, "            ");
    }
    if settings.quick {
        println!("  --quick:  tiny runs to check that the bench works; these numbers mean nothing");
    }
}
