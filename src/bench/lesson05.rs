//! Lesson 05: short connections (短连接) against one long connection (长连接). The same
//! request, `a2` (the square of 2), answered `d4.0` by short-server, sent by one client
//! one at a time: over a new connection each time, then over one connection for all.

use std::time::Duration;

use super::Settings;
use super::build::Programs;
use super::load::{self, Exchange, Outcome};
use super::report::{self, Spread, Table};
use super::server::Running;

pub const PACKAGES: &[&str] = &["short-server"];

const EXCHANGE: Exchange = Exchange {
    request: b"a2",
    reply: b"d4.0",
};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Short,
    Long,
}

/// One run of one mode.
struct Run {
    rate: f64,
    /// The mean time of a request (one client, one at a time: elapsed / requests).
    mean: Duration,
    p50: Duration,
    p99: Duration,
    /// The server's CPU time per request (Linux).
    cpu: Option<Duration>,
}

pub fn run(programs: &Programs, settings: &Settings) -> Result<(), String> {
    let program = programs.path("short-server")?;
    eprint!("bench: lesson 05 ");
    let mut short = Vec::new();
    let mut long = Vec::new();
    // Short and long take turns, so that a change in the machine's load hits both.
    for _ in 0..settings.runs {
        short.push(measure(&program, Mode::Short, settings.window05)?);
        long.push(measure(&program, Mode::Long, settings.window05)?);
        eprint!("..");
    }
    eprintln!();

    println!(
        "\nLesson 05 · short vs long connections: `a2` -> `d4.0` to short-server, one client, one request at a time"
    );
    report::say(
        &format!(
            "{} runs of {} per row, each with a fresh server; the median, ± half the range of the runs.",
            settings.runs,
            report::duration(settings.window05)
        ),
        "",
    );
    let mut table = Table::new(
        vec![
            "connection",
            "requests/s",
            "p50",
            "p99",
            "server CPU/request",
            "",
        ],
        "lrrrrl",
    );
    let best = median(&long, |r| r.rate).max(median(&short, |r| r.rate));
    for (label, runs) in [
        ("short: a new one per request", &short),
        ("long: one for all requests", &long),
    ] {
        let rate = spread_of(runs, |r| r.rate);
        table.row(vec![
            label.to_string(),
            format!("{} {}", report::rate(rate.median), rate.plus_minus()),
            report::duration(median_duration(runs, |r| r.p50)),
            report::duration(median_duration(runs, |r| r.p99)),
            cpu_text(runs),
            report::bar(rate.median, best),
        ]);
    }
    print!("{}", table.render());

    // Per run: what the connection added (short minus long), and long / short.
    let pairs: Vec<(&Run, &Run)> = short.iter().zip(&long).collect();
    let added = spread_of(&pairs, |(s, l)| s.mean.as_secs_f64() - l.mean.as_secs_f64());
    let ratio = spread_of(&pairs, |(s, l)| l.rate / s.rate);
    let cpu_added = pairs
        .iter()
        .map(|(s, l)| Some(s.cpu?.as_secs_f64() - l.cpu?.as_secs_f64()))
        .collect::<Option<Vec<f64>>>()
        .and_then(|v| Spread::of(&v));
    let client = report::duration(Duration::from_secs_f64(added.median.max(0.0)));
    let server_cpu = match cpu_added {
        Some(cpu) => format!(
            " and short-server about {} of CPU time",
            report::duration(Duration::from_secs_f64(cpu.median.max(0.0)))
        ),
        None => String::new(),
    };
    println!();
    report::say(
        &format!(
            "One connection's set-up and tear-down (connect, a server thread, close) costs the client \
             about {client} (mean time per request, short minus long){server_cpu}. One long connection \
             serves {} as many requests per second as short connections (per run: median (lowest-highest)).",
            ratio.ratio()
        ),
        "",
    );
    let request = Duration::from_secs_f64(median(&long, |r| r.mean.as_secs_f64()));
    let times = match added.median / request.as_secs_f64().max(1e-9) {
        t if t < 10.0 => format!("{t:.1}"),
        t => format!("{t:.0}"),
    };
    let verdict = if ratio.median >= 1.5 {
        "so reusing one connection (长连接) multiplies the rate, as the lesson says"
    } else {
        "so here reusing one connection (长连接) gains little"
    };
    report::say(
        &format!(
            "What this shows: here a connection's set-up and tear-down cost {client}, {times} times \
             the request itself on an open connection ({}), {verdict}. What it does not: loopback has \
             no network delay; across a network every request waits a round trip and every new \
             connection one more for its handshake, so there the ratio is smaller but the time lost \
             per request larger; one client only, on this machine; differences within the ± are noise.",
            report::duration(request)
        ),
        "",
    );
    Ok(())
}

fn measure(program: &std::path::Path, mode: Mode, window: Duration) -> Result<Run, String> {
    let server = Running::start(program, &[], "short-server")?;
    let before = server.sample();
    let outcome: Outcome = match mode {
        Mode::Short => load::run_short(server.addr(), window, EXCHANGE)?,
        Mode::Long => load::run_long(server.addr(), window, EXCHANGE)?,
    };
    let after = server.sample();
    let requests = outcome.round_trips.max(1);
    let mut latencies = outcome.latencies;
    latencies.sort_unstable();
    Ok(Run {
        rate: outcome.round_trips as f64 / outcome.elapsed.as_secs_f64(),
        mean: outcome.elapsed / requests as u32,
        p50: report::percentile(&latencies, 50.0),
        p99: report::percentile(&latencies, 99.0),
        cpu: before
            .zip(after)
            // In clock ticks: short-server's threads end with their connections.
            .map(|(b, a)| b.cpu_until(&a, false) / requests as u32)
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
