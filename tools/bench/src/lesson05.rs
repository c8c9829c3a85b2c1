//! Lesson 05: short connections (短连接) against long connections (长连接). The same
//! request, `a2` (the square of 2), answered `d4.0` by short-server: over a new connection
//! each time, then over one connection for all, first from one client, then from ten.

use std::path::Path;
use std::time::Duration;

use super::Settings;
use super::load::{self, Exchange, Plan};
use super::programs::Programs;
use super::report::{self, Spread, Table};
use super::server::Running;

pub const PACKAGES: &[&str] = &["short-server"];

const EXCHANGE: Exchange = Exchange {
    request: b"a2",
    reply: b"d4.0",
};

/// One run of one row.
struct Run {
    rate: f64,
    p50: Duration,
    p99: Duration,
    /// The server's CPU time per request (Linux; None when the run was too short).
    cpu: Option<Duration>,
}

/// The runs of the short and the long row for one number of clients.
struct Rows {
    clients: usize,
    short: Vec<Run>,
    long: Vec<Run>,
}

pub fn run(programs: &Programs, settings: &Settings) -> Result<(), String> {
    let program = programs.path("short-server")?;
    eprint!("bench: lesson 05 ");
    let mut rows: Vec<Rows> = settings
        .clients05
        .iter()
        .map(|&clients| Rows {
            clients,
            short: Vec::new(),
            long: Vec::new(),
        })
        .collect();
    // Short and long take turns, so that a change in the machine's load hits both.
    for _ in 0..settings.runs {
        for row in &mut rows {
            row.short
                .push(measure(&program, row.clients, true, settings.window05)?);
            row.long
                .push(measure(&program, row.clients, false, settings.window05)?);
            eprint!(".");
        }
    }
    eprintln!();

    println!(
        "\nLesson 05 · short vs long connections: `a2` -> `d4.0` to short-server, each client one request at a time"
    );
    report::say(
        &format!(
            "{} runs of {} per row, each with a fresh server; the median, ± half the range of the \
             runs. Short: a new connection per request, the way short-client does it (connect, send, \
             shut down the sending side, read the reply until the server closes). Long: one \
             connection per client for all its requests.",
            settings.runs,
            report::duration(settings.window05)
        ),
        "",
    );
    let mut table = Table::new(
        vec![
            "clients",
            "connection",
            "requests/s",
            "p50",
            "p99",
            "server CPU/request",
            "",
        ],
        "rlrrrrl",
    );
    let best = rows
        .iter()
        .flat_map(|r| [&r.short, &r.long])
        .map(|runs| median(runs, |r| r.rate))
        .fold(0.0, f64::max);
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            table.gap();
        }
        for (label, runs) in [
            ("short: a new one per request", &row.short),
            ("long: one for all requests", &row.long),
        ] {
            let rate = spread_of(runs, |r| r.rate);
            table.row(vec![
                row.clients.to_string(),
                label.to_string(),
                format!("{} {}", report::rate(rate.median), rate.plus_minus()),
                report::duration(median_duration(runs, |r| r.p50)),
                report::duration(median_duration(runs, |r| r.p99)),
                cpu_text(runs),
                report::bar(rate.median, best),
            ]);
        }
    }
    print!("{}", table.render());
    println!();
    for row in &rows {
        print_findings(row);
    }
    report::say(
        "What this shows: what a connection's set-up and tear-down cost here, against the request \
         itself. p50 is what one client waited for one answer, and server CPU/request what the \
         server spent on one; requests/s is the whole machine's, so with 10 clients 1 / requests/s \
         is not the time of any one request. With one client the two programs take turns: each request waits for the other \
         side to be woken up, which on an otherwise idle machine can take longer than the work; \
         with ten clients the cores stay busy and the rate shows the work, where the extra \
         connections cost most. What it does not: loopback has no network delay; across a network \
         every request waits a round trip and every new connection one more for its handshake, so \
         there the ratio is smaller but the time lost per request larger; this machine only; \
         differences within the ± are noise.",
        "",
    );
    Ok(())
}

/// The sentences for one number of clients: what a connection adds to each request,
/// as a client waits for it and as the server's CPU spends it, and the ratio of the rates.
fn print_findings(row: &Rows) {
    // Per run (short and long take turns): short minus long, and long / short.
    let pairs: Vec<(&Run, &Run)> = row.short.iter().zip(&row.long).collect();
    // The p50 column: how long one client waited for one answer. (Not 1 / requests/s:
    // with several clients that is the whole machine's time per request, shared by
    // clients that wait at the same time, and shorter than any one request.)
    let waited = spread_of(&pairs, |(s, l)| s.p50.as_secs_f64() - l.p50.as_secs_f64());
    let ratio = spread_of(&pairs, |(s, l)| l.rate / s.rate);
    let cpu_added = pairs
        .iter()
        .map(|(s, l)| Some(s.cpu?.as_secs_f64() - l.cpu?.as_secs_f64()))
        .collect::<Option<Vec<f64>>>()
        .and_then(|v| Spread::of(&v));
    let server_cpu = match cpu_added {
        Some(cpu) => format!(
            " and cost short-server {} more CPU time (server CPU/request, short minus long)",
            signed(cpu)
        ),
        None => String::new(),
    };
    let clients = match row.clients {
        1 => "one client".to_string(),
        n => format!("{n} clients"),
    };
    report::say(
        &format!(
            "With {clients}: a connection's set-up and tear-down (connect, a server thread, close) \
             made each request wait {} longer (p50, short minus long){server_cpu}; one long \
             connection per client serves {} as many requests per second as short ones (per run: \
             median (lowest-highest)).",
            signed(waited),
            ratio.ratio()
        ),
        "  ",
    );
}

/// A difference of times, short minus long, as the median of the runs: `about 46 µs`;
/// `about 3 µs (within the noise)` when some runs went the other way.
fn signed(diff: Spread) -> String {
    let size = report::duration(Duration::from_secs_f64(diff.median.abs()));
    let about = if diff.median < 0.0 {
        format!("about -{size}")
    } else {
        format!("about {size}")
    };
    if diff.within_noise_of(0.0) {
        format!("{about} (within the noise)")
    } else {
        about
    }
}

fn measure(program: &Path, clients: usize, fresh: bool, window: Duration) -> Result<Run, String> {
    let server = Running::start(program, &[], "short-server")?;
    let plan = Plan {
        clients,
        limit: window,
        per_client: None,
        fresh,
    };
    let mut before = None;
    let outcome = load::run_echo(server.addr(), &plan, EXCHANGE, || before = server.sample())?;
    let after = server.sample();
    drop(server);
    let requests = outcome.round_trips.max(1) as u32;
    let mut latencies = outcome.latencies;
    latencies.sort_unstable();
    Ok(Run {
        rate: outcome.round_trips as f64 / outcome.elapsed.as_secs_f64(),
        p50: report::percentile(&latencies, 50.0),
        p99: report::percentile(&latencies, 99.0),
        cpu: before
            .zip(after)
            // In clock ticks: short-server's threads end with their connections.
            .map(|(b, a)| b.cpu_until(&a, false) / requests)
            .filter(|cpu| !cpu.is_zero()), // a run shorter than a tick: not measured
    })
}

fn spread_of<T>(items: &[T], value: impl Fn(&T) -> f64) -> Spread {
    let values: Vec<f64> = items.iter().map(value).collect();
    Spread::of(&values).unwrap_or(Spread {
        median: 0.0,
        min: 0.0,
        max: 0.0,
    })
}

fn median(runs: &[Run], value: impl Fn(&Run) -> f64) -> f64 {
    spread_of(runs, value).median
}

fn median_duration(runs: &[Run], value: impl Fn(&Run) -> Duration) -> Duration {
    Duration::from_secs_f64(median(runs, |r| value(r).as_secs_f64()))
}

fn cpu_text(runs: &[Run]) -> String {
    let cpu: Option<Vec<f64>> = runs.iter().map(|r| Some(r.cpu?.as_secs_f64())).collect();
    match cpu.and_then(|v| Spread::of(&v)) {
        Some(s) => report::duration(Duration::from_secs_f64(s.median)),
        None => "not measured".to_string(),
    }
}
