//! `bench --quick` (the plain binary of this package; `cargo bench --bench lessons` runs
//! the same code optimized): the bench runs end to end and prints both tables with
//! every row, and its numbers are sane. (Its numbers are not checked against each other:
//! speed is measured by the bench, not timed in tests.)

use std::time::Duration;

use assert_cmd::Command;

fn bench(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bench"));
    cmd.args(args).timeout(Duration::from_secs(60));
    cmd
}

/// `152k`, `21.3k`, `501` as a number. Anything else fails the test showing the bench's
/// whole `stdout`: a row that has a note instead of numbers (`failed: ...`) says why.
fn rate(text: &str, stdout: &str) -> f64 {
    let number = match text.strip_suffix('k') {
        Some(thousands) => thousands.parse::<f64>().map(|n| n * 1000.0),
        None => text.parse(),
    };
    number.unwrap_or_else(|_| panic!("{text:?} is not a rate, in:\n{stdout}"))
}

/// `5.2 µs`, `14 ms`, `1.5 s` in seconds (or the test fails showing `stdout`).
fn seconds(value: &str, unit: &str, stdout: &str) -> f64 {
    let v: f64 = value
        .parse()
        .unwrap_or_else(|_| panic!("{value:?} is not a number, in:\n{stdout}"));
    match unit {
        "µs" => v / 1e6,
        "ms" => v / 1e3,
        "s" => v,
        other => panic!("unknown unit {other:?}, in:\n{stdout}"),
    }
}

/// The table row that starts with `label` (after the leading spaces), split into words.
fn row<'a>(stdout: &'a str, label: &str) -> Vec<&'a str> {
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no row {label:?} in:\n{stdout}"));
    line.trim_start()[label.len()..]
        .split_whitespace()
        .collect()
}

#[test]
fn quick_bench_prints_both_tables_with_sane_numbers() {
    let out = bench(&["--quick"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench --quick failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let linux = cfg!(target_os = "linux");
    // The sentences are wrapped to the terminal: read them as one line.
    let prose = stdout.split_whitespace().collect::<Vec<_>>().join(" ");

    // Lesson 05: both rows for 1 and 10 clients, each with a rate, p50 and p99 (a p99
    // never below its p50).
    assert!(stdout.contains("Lesson 05 · short vs long connections"));
    for clients in [1, 10] {
        for connection in ["short: a new one per request", "long: one for all requests"] {
            let label = format!("{clients}  {connection}");
            let cells = row(&stdout, &label);
            assert!(rate(cells[0], &stdout) > 0.0, "{label}: {cells:?}");
            assert!(cells[1].starts_with('±'), "{label}: {cells:?}");
            let (p50, p99) = (
                seconds(cells[2], cells[3], &stdout),
                seconds(cells[4], cells[5], &stdout),
            );
            assert!(p50 > 0.0 && p99 >= p50, "{label}: {cells:?}");
        }
    }
    // What a connection adds to one request: as a client waits for it (the p50 column),
    // and as the server's CPU spends it.
    for clients in ["one client", "10 clients"] {
        let said = prose
            .split(&format!(
                "With {clients}: a connection's set-up and tear-down (connect, a server thread, \
                 close) made each request wait about "
            ))
            .nth(1)
            .unwrap_or_else(|| panic!("no sentence for {clients}:\n{stdout}"));
        assert!(said.contains(" longer (p50, short minus long)"), "{stdout}");
        // (Only where /proc has it, and --quick's runs may be too short for its clock.)
        let cpu = " more CPU time (server CPU/request, short minus long); one long";
        assert!(linux || !said.contains(cpu), "{stdout}");
    }
    assert!(
        prose.contains("one long connection per client serves "),
        "{stdout}"
    );

    // Lesson 04: a row per client count and server, with numbers, or why it has none.
    assert!(stdout.contains("Lesson 04 · three ways to serve many clients"));
    let servers = [
        "thread-per-connection",
        "nonblocking-server",
        "nonblocking-server --idle-ms 0",
        "select-server",
        "select-server --quiet",
    ];
    for clients in [1, 20] {
        for server in servers {
            let label = format!("{clients}  {server} ");
            // Not the row of the same server with an option (`select-server --quiet`).
            let line = stdout
                .lines()
                .map(str::trim_start)
                .find(|l| l.starts_with(&label) && !l[label.len()..].trim_start().starts_with("--"))
                .unwrap_or_else(|| panic!("no row {label:?} in:\n{stdout}"));
            let cells: Vec<&str> = line[label.len()..].split_whitespace().collect();
            assert!(rate(cells[0], &stdout) > 0.0, "{line}");
            assert!(seconds(cells[2], cells[3], &stdout) > 0.0, "{line}");
            if linux {
                // CPU per round trip, CPU use, threads (one per client plus the
                // listener for the baseline, one for the others), memory.
                assert!(seconds(cells[6], cells[7], &stdout) > 0.0, "{line}");
                let threads: usize = cells[9]
                    .parse()
                    .unwrap_or_else(|_| panic!("no thread count in {line:?}:\n{stdout}"));
                let expected = if server == "thread-per-connection" {
                    clients + 1
                } else {
                    1
                };
                assert_eq!(threads, expected, "{line}");
                assert_eq!(cells[11], "MiB", "{line}");
                assert!(
                    cells[10].parse::<f64>().is_ok_and(|mib| mib > 0.0),
                    "{line}\n{stdout}"
                );
            } else {
                assert!(line.contains("not measured"), "{line}");
            }
        }
    }
    assert!(
        prose.contains("At 20 clients x 10 round trips: select-server / thread-per-connection = "),
        "{stdout}"
    );
    // What the printout costs, also as CPU per round trip where /proc has it, and what
    // the clients spent beside the server.
    assert_eq!(
        prose.contains("of --quiet's (per run: median (lowest-highest))."),
        linux,
        "{stdout}"
    );
    assert_eq!(
        prose.contains("% (") && prose.contains(" per round trip); select-server "),
        linux,
        "{stdout}"
    );
    if linux {
        // The numbers themselves are sane: a CPU ratio near 1 (the same loop, printing or
        // not), and the clients' CPU per round trip well under a millisecond.
        let after = |marker: &str| -> Vec<&str> {
            prose
                .split(marker)
                .skip(1)
                .map(|rest| rest.split_whitespace().next().unwrap())
                .collect()
        };
        for ratio in after("its CPU per round trip is ") {
            let x: f64 = ratio
                .trim_end_matches('x')
                .parse()
                .unwrap_or_else(|_| panic!("CPU ratio {ratio:?} is not a number:\n{stdout}"));
            assert!((0.2..5.0).contains(&x), "CPU ratio {ratio}: {stdout}");
        }
        let per_round_trip: Vec<(&str, &str)> = prose
            .split("its clients ")
            .skip(1)
            .map(|rest| {
                let mut words = rest.split_whitespace();
                let _share = words.next();
                let value = words.next().unwrap().trim_start_matches('(');
                (value, words.next().unwrap())
            })
            .collect();
        assert_eq!(per_round_trip.len(), 2, "{stdout}");
        for (value, unit) in per_round_trip {
            let s = seconds(value, unit, &stdout);
            assert!(
                s > 0.0 && s < 1e-3,
                "clients' CPU per round trip {value} {unit}: {stdout}"
            );
        }
    }
    assert!(stdout.contains("bench: done in "));
}

#[test]
fn only_lessons_04_and_05_have_a_bench() {
    let out = bench(&["01"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "bench: nothing to measure for \"01\": lessons 04 and 05 have a bench\n\
         usage: cargo bench --bench lessons [-- [--quick] [LESSON...]]\n"
    );
}
