//! Lesson 04: three ways to serve many clients, measured. Echo round trips (`hello world`
//! answered `HELLO WORLD`) from 1 to 1000 concurrent clients against a server with a
//! thread per connection (the baseline), nonblocking-server (polling) and select-server
//! (readiness with poll), with and without the nap of the polling loop and the printing
//! of select-server.

use std::path::PathBuf;
use std::time::Duration;

use super::Settings;
use super::baseline;
use super::load::{self, Exchange, Plan};
use super::programs::Programs;
use super::report::{self, Spread, Table};
use super::server::{self, Running};

pub const PACKAGES: &[&str] = &["nonblocking-server", "select-server"];

const EXCHANGE: Exchange = Exchange {
    request: b"hello world",
    reply: b"HELLO WORLD",
};

/// A server in the table: the baseline (no package: the bench serves it itself) or a
/// lesson program with some arguments.
struct Contender {
    label: &'static str,
    package: Option<&'static str>,
    args: &'static [&'static str],
}

const THREADS: usize = 0;
const SELECT: usize = 3;
const SELECT_QUIET: usize = 4;
const POLLING_SPIN: usize = 2;

const CONTENDERS: [Contender; 5] = [
    Contender {
        label: baseline::NAME,
        package: None,
        args: &[],
    },
    Contender {
        label: "nonblocking-server",
        package: Some("nonblocking-server"),
        args: &[],
    },
    Contender {
        label: "nonblocking-server --idle-ms 0",
        package: Some("nonblocking-server"),
        args: &["--idle-ms", "0"],
    },
    Contender {
        label: "select-server",
        package: Some("select-server"),
        args: &[],
    },
    Contender {
        label: "select-server --quiet",
        package: Some("select-server"),
        args: &["--quiet"],
    },
];

/// Open files a point needs beyond one per client, in the bench and in the server
/// (standard streams, the listener, the pipes to the server).
const SPARE_FILES: u64 = 16;

/// One run of one point.
struct Run {
    rate: f64,
    p50: Duration,
    p99: Duration,
    /// Linux only: the server's CPU time per round trip, the share of one core it used,
    /// its threads and resident memory with every client connected.
    cpu_per: Option<Duration>,
    cpu_use: Option<f64>,
    /// The same share for the bench's client threads.
    clients_cpu_use: Option<f64>,
    threads: Option<u64>,
    rss_kib: Option<u64>,
}

/// The runs of one (clients, server) point, or why it has none.
#[derive(Default)]
struct Point {
    runs: Vec<Run>,
    note: Option<String>,
}

pub fn run(programs: &Programs, settings: &Settings) -> Result<(), String> {
    let counts = settings.clients04;
    let fd_limit = server::open_file_limit();
    let mut points: Vec<Vec<Point>> = counts
        .iter()
        .map(|_| CONTENDERS.iter().map(|_| Point::default()).collect())
        .collect();
    eprint!("bench: lesson 04 ");
    // Every server takes its turn at every point before any point runs again, so that a
    // change in the machine's load hits them all.
    for run in 0..settings.runs.max(settings.issue_runs) {
        for (ci, &clients) in counts.iter().enumerate() {
            let runs = if clients == settings.issue_clients {
                settings.issue_runs
            } else {
                settings.runs
            };
            if run >= runs {
                continue;
            }
            for (si, contender) in CONTENDERS.iter().enumerate() {
                let point = &mut points[ci][si];
                if point.note.is_some() {
                    continue;
                }
                if let Some(limit) = fd_limit.filter(|&l| l < clients as u64 + SPARE_FILES) {
                    point.note = Some(format!(
                        "skipped: needs {} open files, the limit is {limit} (`ulimit -n 4096` raises it)",
                        clients as u64 + SPARE_FILES
                    ));
                    continue;
                }
                let plan = plan(settings, clients);
                match measure(programs, contender, &plan) {
                    Ok(run) => point.runs.push(run),
                    Err(why) => point.note = Some(format!("failed: {why}")),
                }
            }
            eprint!(".");
        }
    }
    eprintln!();
    print_table(settings, &points);
    print_findings(settings, &points);
    Ok(())
}

/// The load of one point: the ratios' point (20 clients) is a fixed number of round
/// trips per client (bounded in time all the same); the others run for the window.
fn plan(settings: &Settings, clients: usize) -> Plan {
    if clients == settings.issue_clients {
        Plan {
            clients,
            limit: settings.issue_limit,
            per_client: Some(settings.issue_round_trips),
            fresh: false,
        }
    } else {
        Plan {
            clients,
            limit: settings.window04,
            per_client: None,
            fresh: false,
        }
    }
}

fn measure(programs: &Programs, contender: &Contender, plan: &Plan) -> Result<Run, String> {
    let (program, mut args): (PathBuf, Vec<&str>) = match contender.package {
        Some(package) => (programs.path(package)?, Vec::new()),
        None => (
            std::env::current_exe().map_err(|e| format!("where am I? {e}"))?,
            vec![baseline::FLAG],
        ),
    };
    args.extend(contender.args);
    let name = contender.package.unwrap_or(baseline::NAME);
    let server = Running::start(&program, &args, name)?;
    let mut before = None;
    let outcome = load::run_echo(server.addr(), plan, EXCHANGE, || before = server.sample())?;
    // Sampled while every client is still connected: the threads and memory they need.
    let after = server.sample();
    drop(server);
    let round_trips = outcome.round_trips.max(1);
    let seconds = outcome.elapsed.as_secs_f64();
    let mut latencies = outcome.latencies;
    latencies.sort_unstable();
    // No server thread ends during a run (every client stays connected): the exact clock.
    let cpu = before.zip(after).map(|(b, a)| b.cpu_until(&a, true));
    Ok(Run {
        rate: outcome.round_trips as f64 / seconds,
        p50: report::percentile(&latencies, 50.0),
        p99: report::percentile(&latencies, 99.0),
        cpu_per: cpu.map(|c| c / round_trips as u32),
        cpu_use: cpu.map(|c| c.as_secs_f64() / seconds),
        clients_cpu_use: outcome.clients_cpu.map(|c| c.as_secs_f64() / seconds),
        threads: after.map(|a| a.threads),
        rss_kib: after.map(|a| a.rss_kib),
    })
}

fn print_table(settings: &Settings, points: &[Vec<Point>]) {
    println!(
        "\nLesson 04 · three ways to serve many clients: echo round trips `hello world` -> `HELLO WORLD`"
    );
    report::say(
        &format!(
            "{} runs of {} per row, each with a fresh server and fresh connections; the {}-client rows \
             are a fixed amount of work, for the ratios below: {} clients x {} round trips each, {} runs. The median, ± half the \
             range of the runs. Server CPU is per round trip (CPU/rt), and in use as a share of one \
             core; threads and memory with every client connected. The clients are up to {} threads of \
             the bench; each sends a request on each of its connections, then reads each reply, so \
             every client has one request in flight.",
            settings.runs,
            report::duration(settings.window04),
            settings.issue_clients,
            settings.issue_clients,
            settings.issue_round_trips,
            settings.issue_runs,
            load::MAX_CLIENT_THREADS
        ),
        "",
    );
    let best = points
        .iter()
        .flatten()
        .filter_map(|p| rate(p).map(|s| s.median))
        .fold(0.0, f64::max);
    let mut table = Table::new(
        vec![
            "clients",
            "server",
            "round trips/s",
            "p50",
            "p99",
            "CPU/rt",
            "CPU use",
            "threads",
            "memory",
            "",
        ],
        "rlrrrrrrrl",
    );
    for (ci, &clients) in settings.clients04.iter().enumerate() {
        if ci > 0 {
            table.gap();
        }
        for (si, contender) in CONTENDERS.iter().enumerate() {
            let point = &points[ci][si];
            let mut cells = vec![clients.to_string(), contender.label.to_string()];
            match (&point.note, rate(point)) {
                (Some(note), _) => cells.push(note.clone()),
                (None, None) => cells.push("not measured".to_string()),
                (None, Some(r)) => {
                    let runs = &point.runs;
                    cells.push(format!("{} {}", report::rate(r.median), r.plus_minus()));
                    cells.push(report::duration(
                        median_of(runs, |r| Some(r.p50.as_secs_f64()))
                            .map_or(Duration::ZERO, Duration::from_secs_f64),
                    ));
                    cells.push(report::duration(
                        median_of(runs, |r| Some(r.p99.as_secs_f64()))
                            .map_or(Duration::ZERO, Duration::from_secs_f64),
                    ));
                    let cpu = median_of(runs, |r| r.cpu_per.map(|c| c.as_secs_f64()));
                    let linux = cpu.is_some();
                    cells.push(cpu.map_or("not measured".into(), |c| {
                        report::duration(Duration::from_secs_f64(c))
                    }));
                    cells.push(text(linux, median_of(runs, |r| r.cpu_use), |u| {
                        format!("{:.0}%", u * 100.0)
                    }));
                    cells.push(text(
                        linux,
                        median_of(runs, |r| r.threads.map(|t| t as f64)),
                        |t| format!("{t:.0}"),
                    ));
                    cells.push(text(
                        linux,
                        median_of(runs, |r| r.rss_kib.map(|k| k as f64)),
                        report::memory,
                    ));
                    cells.push(report::bar(r.median, best));
                }
            }
            table.row(cells);
        }
    }
    print!("{}", table.render());
}

/// What the table says, in sentences: issue 13's ratios, then what to look at.
fn print_findings(settings: &Settings, points: &[Vec<Point>]) {
    let counts = settings.clients04;
    println!();
    if let Some(ci) = counts.iter().position(|&c| c == settings.issue_clients) {
        let row = &points[ci];
        let vs_threads = ratio(&row[SELECT], &row[THREADS]);
        let vs_quiet = ratio(&row[SELECT], &row[SELECT_QUIET]);
        // What the printout costs, measured two ways: round trips/s, which also moves with
        // everything else the machine does, and the server's own CPU per round trip.
        let quiet_cpu = cpu_ratio(&row[SELECT], &row[SELECT_QUIET]).map_or(String::new(), |s| {
            format!("; its CPU per round trip is {} of --quiet's", s.ratio())
        });
        let quiet_ratio = match vs_quiet {
            Some(s) => format!("{}{quiet_cpu}", s.ratio()),
            None => "not measured".into(),
        };
        report::say(
            &format!(
                "At {} clients x {} round trips: select-server / thread-per-connection = {}; \
                 select-server / select-server --quiet (printing off) = {quiet_ratio} (per run: \
                 median (lowest-highest)).",
                settings.issue_clients,
                settings.issue_round_trips,
                vs_threads.map_or("not measured".into(), |s| s.ratio())
            ),
            "  ",
        );
        // Where the cores went at that point: the server's share and the clients'.
        let shares = |p: &Point| -> Option<String> {
            let server = median_of(&p.runs, |r| r.cpu_use)?;
            let clients = median_of(&p.runs, |r| r.clients_cpu_use)?;
            let clients_per = median_of(&p.runs, |r| Some(r.clients_cpu_use? / r.rate))?;
            Some(format!(
                "{:.0}% of a core, its clients {:.0}% ({} per round trip)",
                server * 100.0,
                clients * 100.0,
                report::duration(Duration::from_secs_f64(clients_per))
            ))
        };
        if let (Some(t), Some(s)) = (shares(&row[THREADS]), shares(&row[SELECT])) {
            let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
            report::say(
                &format!(
                    "  CPU use there: thread-per-connection {t}; select-server {s} (the clients are \
                     the bench's threads; {cores} cores make {}%: the rest was idle or used by other \
                     programs).",
                    cores * 100
                ),
                "  ",
            );
        }
    }
    // Threads and memory at the most clients measured.
    if let Some(ci) = (0..counts.len())
        .rev()
        .find(|&ci| points[ci][THREADS].runs.len() + points[ci][SELECT].runs.len() > 0)
    {
        let show = |p: &Point| -> Option<String> {
            let threads = median_of(&p.runs, |r| r.threads.map(|t| t as f64))?;
            let memory = median_of(&p.runs, |r| r.rss_kib.map(|k| k as f64))?;
            let s = if threads == 1.0 { "" } else { "s" };
            Some(format!(
                "{threads:.0} thread{s} in {}",
                report::memory(memory)
            ))
        };
        if let (Some(t), Some(s)) = (show(&points[ci][THREADS]), show(&points[ci][SELECT])) {
            let plural = if counts[ci] == 1 { "" } else { "s" };
            // Who answered more there, run by run: only a range that leaves out 1 says so.
            // (At the ratios' point that is said above already.)
            let faster = ratio(&points[ci][SELECT], &points[ci][THREADS])
                .filter(|_| counts[ci] != settings.issue_clients)
                .map_or(String::new(), |r| {
                    format!(
                        "; in round trips/s, select-server / thread-per-connection = {} (per run)",
                        r.ratio()
                    )
                });
            report::say(
                &format!(
                    "At {} client{plural}, thread-per-connection ran {t}; select-server {s}{faster}.",
                    counts[ci]
                ),
                "  ",
            );
        }
    }
    // What polling costs while it waits: one client, the spinning loop against poll.
    if let Some(ci) = counts.iter().position(|&c| c == 1) {
        let cpu = |p: &Point| median_of(&p.runs, |r| r.cpu_per.map(|c| c.as_secs_f64()));
        if let (Some(spin), Some(sel)) = (cpu(&points[ci][POLLING_SPIN]), cpu(&points[ci][SELECT]))
        {
            let p50 = |p: &Point| median_of(&p.runs, |r| Some(r.p50.as_secs_f64()));
            let spin_use = median_of(&points[ci][POLLING_SPIN].runs, |r| r.cpu_use);
            let sooner = match (
                p50(&points[ci][POLLING_SPIN]),
                p50(&points[ci][SELECT]),
                spin_use,
            ) {
                (Some(a), Some(b), Some(busy)) if a < b => format!(
                    " It answered sooner (p50 {} against {}): a loop that never sleeps never waits \
                     to be woken up, and pays for that with a core ({:.0}% CPU use).",
                    report::duration(Duration::from_secs_f64(a)),
                    report::duration(Duration::from_secs_f64(b)),
                    busy * 100.0
                ),
                _ => String::new(),
            };
            report::say(
                &format!(
                    "At 1 client, nonblocking-server --idle-ms 0 (the original's loop) spent {} of CPU \
                     per round trip, select-server {}: while the client is away, polling keeps asking \
                     a socket that has nothing to say, and poll sleeps until it has.{sooner}",
                    report::duration(Duration::from_secs_f64(spin)),
                    report::duration(Duration::from_secs_f64(sel))
                ),
                "  ",
            );
        }
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    report::say(
        &format!(
            "What this shows: a thread per connection can use every core, but needs a thread and its \
             memory per client; one thread with poll never uses more than one core (CPU use at most \
             100%), so that is its ceiling, while its threads and memory stay flat as clients grow; \
             nonblocking-server's 10 ms nap saves CPU but makes a lone client wait. What it does not: \
             this is loopback on one machine whose {cores} cores the clients share with the server (a \
             server that needs less CPU leaves more to the clients); tiny messages, one request in \
             flight per client; differences within the ± are noise, and a ratio whose range of runs \
             holds 1 says so (within the noise)."
        ),
        "",
    );
}

fn rate(point: &Point) -> Option<Spread> {
    let rates: Vec<f64> = point.runs.iter().map(|r| r.rate).collect();
    Spread::of(&rates)
}

/// The ratio of `a` to `b`'s server CPU per round trip, run by run (Linux).
fn cpu_ratio(a: &Point, b: &Point) -> Option<Spread> {
    if a.note.is_some() || b.note.is_some() {
        return None;
    }
    let ratios: Option<Vec<f64>> = a
        .runs
        .iter()
        .zip(&b.runs)
        .map(|(x, y)| Some(x.cpu_per?.as_secs_f64() / y.cpu_per?.as_secs_f64()))
        .collect();
    Spread::of(&ratios?)
}

/// The ratio of `a` to `b`'s round trips/s, run by run (runs are taken in turns).
fn ratio(a: &Point, b: &Point) -> Option<Spread> {
    if a.note.is_some() || b.note.is_some() {
        return None;
    }
    let ratios: Vec<f64> = a
        .runs
        .iter()
        .zip(&b.runs)
        .map(|(x, y)| x.rate / y.rate)
        .collect();
    Spread::of(&ratios)
}

/// The median of a value over the runs, if every run has it.
fn median_of(runs: &[Run], value: impl Fn(&Run) -> Option<f64>) -> Option<f64> {
    let values: Option<Vec<f64>> = runs.iter().map(value).collect();
    Spread::of(&values?).map(|s| s.median)
}

fn text(measured: bool, value: Option<f64>, show: impl Fn(f64) -> String) -> String {
    match value {
        Some(v) if measured => show(v),
        _ => "not measured".to_string(),
    }
}
