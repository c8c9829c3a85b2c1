//! The tour (`cargo run`), black box: a lesson's part shows the server's lines for every
//! client, and a closed stdout (`cargo run -- 3 | head -3`) ends it quietly with status
//! 141 after it has stopped its servers.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;

use socket_lessons::{BIN_DIR_VAR, DEADLINE, binary, processes_with_env, wait_until};

/// The tour that cargo built for these tests.
const TOUR: &str = env!("CARGO_BIN_EXE_socket-lessons");

/// The tour of `lesson`, its stdout and stderr pipes, with the lesson programs that this
/// test binary built (so it runs no cargo of its own) and `marker` in its environment,
/// which every process it starts inherits.
fn tour(lesson: &str, marker: &str) -> Child {
    let programs = binary("timestamp-server").unwrap();
    Command::new(TOUR)
        .arg(lesson)
        .env(BIN_DIR_VAR, programs.parent().unwrap())
        .env("SOCKET_LESSONS_TOUR_TEST", marker)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_closed_stdout_ends_the_tour_quietly_after_it_stopped_its_servers() {
    let marker = format!("{}-closed", std::process::id());
    let mut child = tour("03", &marker);
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let errors = thread::spawn(move || std::io::read_to_string(stderr).unwrap());
    // Read like `head`: up to the line that says the first server runs, then close.
    let (seen, got) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let started = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|line| line.starts_with("  (started, listening on "));
        drop(lines); // the reading end closes here: the tour's next print fails
        let _ = seen.send(started);
    });
    assert_eq!(got.recv_timeout(DEADLINE), Ok(true), "no server started");
    assert!(
        wait_until(DEADLINE, || !matches!(child.try_wait(), Ok(None))),
        "the tour did not end within {DEADLINE:?} once its stdout was closed"
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(141), "{status:?}");
    assert_eq!(
        errors.join().unwrap(),
        "",
        "the tour said something on stderr"
    );
    // Its servers were stopped before it ended (a server killed by the tour is gone at
    // once; one it had left behind would still run, with the marker).
    let left = processes_with_env("SOCKET_LESSONS_TOUR_TEST", &marker);
    assert!(left.is_empty(), "the tour left processes behind: {left:?}");
}

#[test]
fn lesson_05_shows_long_servers_lines_for_both_clients() {
    let marker = format!("{}-05", std::process::id());
    let child = tour("05", &marker);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    // The block after the second long-client (布 lizard): the server's round of 布
    // (`recv: 3`) and its stderr: the announcement and a line per client.
    let block = stdout
        .rsplit("--- what the server printed so far")
        .next()
        .unwrap();
    assert!(block.contains("\n  stdout | recv: 3\n"), "{stdout}");
    assert!(block.matches("\n  stderr | ").count() >= 3, "{stdout}");
    assert!(
        stdout.ends_with("  05-short-and-long-connections   ok\n"),
        "{stdout}"
    );
}
