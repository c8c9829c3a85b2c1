//! `cargo compare` (the binary of this package), black box: ours in both slots is SAME
//! everywhere; tiny Python fixtures written here (never the originals' code: each one
//! prints what our program prints, or one thing wrong on purpose) give a DIFF, never
//! exit, bind a fixed port, fail as originals (a SyntaxError, a wrong port), or show
//! each false SAME of issue 19 as the DIFF it is, on stdout and on the wire; the list
//! of files; usage errors and the exit statuses. Where python3 is missing, the fixture
//! tests say so and check only what needs no Python.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use assert_cmd::Command;
use socket_lessons::{binary, marked_blocks, processes_with_env, workspace_root};

/// The compare program that cargo built for these tests.
const COMPARE: &str = env!("CARGO_BIN_EXE_compare");

/// Runs `compare ARGS`, then checks that it left no process behind: every process
/// it starts inherits a marker in its environment, which Linux shows in /proc.
fn compare(args: &[&str]) -> Output {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let marker = format!(
        "{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    );
    // The programs this test binary already built: each compare would otherwise run
    // its own `cargo build`, and those wait on each other for cargo's lock.
    let programs = binary("timestamp-server").unwrap();
    let bin_dir = programs.parent().unwrap();
    let out = Command::new(COMPARE)
        .args(args)
        .env(socket_lessons::BIN_DIR_VAR, bin_dir)
        .env("SOCKET_LESSONS_COMPARE_TEST", &marker)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let left = processes_with_env("SOCKET_LESSONS_COMPARE_TEST", &marker);
    assert!(left.is_empty(), "compare {args:?} left processes {left:?}");
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A fresh folder for one test's fixtures, removed at the end of the test.
struct Fixtures(PathBuf);

impl Fixtures {
    fn new(name: &str) -> Fixtures {
        let dir = std::env::temp_dir().join(format!(
            "socket-lessons-compare-test-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Fixtures(dir)
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.0.join(file), text).unwrap();
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Fixtures {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn python3() -> bool {
    // Asked once per test binary: where python3 is a launcher script (pyenv), each
    // start costs more than the interpreter's own.
    static FOUND: OnceLock<bool> = OnceLock::new();
    let found = *FOUND.get_or_init(|| {
        std::process::Command::new("python3")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !found {
        println!("python3 is missing: the Python part of this test is skipped");
    }
    found
}

/// The report's row for `lesson scenario combo`, e.g. ("04", "pack", "ours").
fn row<'a>(report: &'a str, lesson: &str, scenario: &str, combo: &str) -> &'a str {
    report
        .lines()
        .find(|l| {
            let mut words = l.split_whitespace();
            words.next() == Some(lesson)
                && words.next() == Some(scenario)
                && words.next() == Some(combo)
        })
        .unwrap_or_else(|| panic!("no row {lesson} {scenario} {combo} in:\n{report}"))
}

#[test]
fn ours_in_both_slots_every_scenario_of_every_lesson_is_same() {
    let out = compare(&["--self-test"]);
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    let rows: Vec<&str> = report.lines().filter(|l| l.starts_with("  0")).collect();
    assert!(rows.len() >= 80, "only {} rows:\n{report}", rows.len());
    for lesson in ["01", "02", "03", "04", "05"] {
        assert!(rows.iter().any(|r| r.trim_start().starts_with(lesson)));
    }
    for r in &rows {
        let verdict = r.split_whitespace().nth(3).unwrap();
        assert!(
            verdict == "SAME" || verdict == "reference",
            "not SAME: {r}\n{report}"
        );
    }
    assert!(report.contains(" 0 KNOWN, 0 DIFF, 0 SKIPPED"), "{report}");
    // Progress is shown while it runs.
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(progress.contains(&format!("[{}/{}]", rows.len(), rows.len())));
}

#[test]
fn list_names_every_file_and_what_python_3_11_needs() {
    let out = compare(&["--list"]);
    let list = stdout(&out);
    assert!(out.status.success());
    for file in [
        "TimestampeServer.py",
        "Client.py",
        "server.py",
        "client.py",
        "test.py",
        "server2.py",
        "client2.py",
        "server2_homework.py",
        "accept_loop.py",
        "ping_pong_server.py",
        "framed_server.py",
        "nonblocking_client.py",
        "select_client.py",
        "short_server.py",
        "long_client.py",
    ] {
        assert!(
            list.contains(&format!("  {file} ")),
            "{file} missing:\n{list}"
        );
    }
    for fact in [
        "TabError",
        "s ocket",
        "%%writefile",
        "`loop=`",
        "Python 2",
        "one line",
        "no code at all",
        "homework",
    ] {
        assert!(list.contains(fact), "{fact:?} missing:\n{list}");
    }
}

#[test]
fn the_instructors_page_shows_the_list_as_it_is() {
    let page = std::fs::read_to_string(workspace_root().join("INSTRUCTORS.md")).unwrap();
    let block = marked_blocks(&page)
        .into_iter()
        .find(|(label, _)| label == "compare-list")
        .map(|(_, text)| text)
        .expect("INSTRUCTORS.md has no block marked <!-- output: compare-list -->");
    assert_eq!(block, stdout(&compare(&["--list"])));
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    assert!(readme.contains("(INSTRUCTORS.md)"));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["--no-such-option"],
        &["--originals", "/no/such/folder/anywhere"],
        &["--self-test", "7"],
        &["--self-test", "04/no-such-scenario"],
    ] {
        let out = compare(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("compare: "));
    }
}

#[test]
fn without_python_nothing_is_compared_and_that_exits_2() {
    let fixtures = Fixtures::new("nopython");
    fixtures.write("pack.py", "print((199,))\n");
    let out = Command::new(COMPARE)
        .args(["--originals", fixtures.path(), "04/pack"])
        .env("COMPARE_PYTHON", "/no/such/python3")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{report}");
    assert!(row(&report, "04", "pack", "py").contains("SKIPPED: /no/such/python3 not found"));
    assert!(row(&report, "04", "pack", "ours").contains("SKIPPED"));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("compare: nothing was compared"),
        "{out:?}"
    );
}

#[test]
fn an_empty_originals_folder_compares_nothing_and_exits_2() {
    let fixtures = Fixtures::new("empty");
    let out = compare(&["--originals", fixtures.path(), "04"]);
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{report}");
    assert!(report.contains(" 0 SAME, 0 KNOWN, 0 DIFF, "), "{report}");
    for r in report.lines().filter(|l| l.starts_with("  04 ")) {
        assert!(r.contains("SKIPPED"), "{r}");
    }
}

#[test]
fn an_unwritable_keep_folder_exits_2_before_anything_runs() {
    let fixtures = Fixtures::new("keep-unwritable");
    fixtures.write("pack.py", "print((199,))\n");
    // A folder inside a file cannot be made (root may write anywhere else).
    let inside_a_file = Path::new(fixtures.path()).join("pack.py").join("kept");
    let out = compare(&[
        "--originals",
        fixtures.path(),
        "--keep",
        inside_a_file.to_str().unwrap(),
        "04/pack",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("compare: --keep "), "{err}");
    assert!(stdout(&out).is_empty(), "it ran: {}", stdout(&out));
}

#[test]
fn an_original_that_prints_a_different_line_is_a_diff() {
    let fixtures = Fixtures::new("diff");
    if !python3() {
        return;
    }
    // Not the original: a stand-in that prints what pack.py prints, but one number off.
    fixtures.write("pack.py", "print((198,))\n");
    let keep = Path::new(fixtures.path()).join("kept");
    let out = compare(&[
        "--originals",
        fixtures.path(),
        "--keep",
        keep.to_str().unwrap(),
        "04/pack",
    ]);
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        row(&report, "04", "pack", "ours").contains("DIFF"),
        "{report}"
    );
    assert!(
        report.contains(
            "--- py\n+++ ours\n@@ -1,3 +1,3 @@\n program stdout:\n-  | (198,)\n+  | (199,)\n"
        ),
        "{report}"
    );
    let kept = std::fs::read_to_string(only_run(&keep).join("04-pack-py.txt")).unwrap();
    assert!(kept.contains("(198,)"), "{kept}");
}

/// The one folder a --keep run made in `keep`.
fn only_run(keep: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(keep)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs.into_iter().next().unwrap()
}

#[test]
fn keep_makes_a_fresh_folder_per_run_with_a_file_for_every_row() {
    let fixtures = Fixtures::new("keep");
    if !python3() {
        return;
    }
    // Only the server of the framed pair: the py/py and ours/py rows are SKIPPED.
    fixtures.write("framed_server.py", FRAMED_SERVER);
    let keep = Path::new(fixtures.path()).join("kept");
    let args = [
        "--originals",
        fixtures.path(),
        "--keep",
        keep.to_str().unwrap(),
        "04/framed",
    ];
    let first = compare(&args);
    assert_eq!(first.status.code(), Some(0), "{}", stdout(&first));
    let run = only_run(&keep);
    assert!(
        stdout(&first).contains(&format!(
            "transcripts of every row are in {}",
            run.display()
        )),
        "{}",
        stdout(&first)
    );
    let skipped = std::fs::read_to_string(run.join("04-framed-py-py.txt")).unwrap();
    let header = format!(
        "compare: 04 framed py/py\noriginals: {}\ncommand: cargo compare --originals {} --keep {} \
         04/framed\nstarted: ",
        fixtures.path(),
        fixtures.path(),
        keep.display()
    );
    assert!(skipped.starts_with(&header), "{skipped}");
    assert!(skipped.contains(" UTC\nverdict: SKIPPED: framed_client.py is not in "));
    let compared = std::fs::read_to_string(run.join("04-framed-ours-ours.txt")).unwrap();
    assert!(compared.contains("\n== the wire, summarised\nwire, connection 1:\n"));
    // A second run writes beside the first, never into it.
    let second = compare(&args);
    assert_eq!(second.status.code(), Some(0));
    let runs = std::fs::read_dir(&keep).unwrap().count();
    assert_eq!(runs, 2);
}

#[test]
fn an_original_that_never_exits_is_stopped_and_reported() {
    let fixtures = Fixtures::new("hang");
    if !python3() {
        return;
    }
    // Prints the right line, then never exits.
    fixtures.write(
        "pack.py",
        "import time\nprint((199,))\nwhile True:\n    time.sleep(1)\n",
    );
    let out = compare(&[
        "--originals",
        fixtures.path(),
        "--step-timeout-ms",
        "300",
        "04/pack",
    ]);
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    // Its document's program exits: this one did not run as it would, so nothing is
    // compared with it.
    assert!(
        row(&report, "04", "pack", "py").contains(
            "FAILED: pack.py (program): it ended `did not exit within 300 ms: stopped`, \
             not `exit 0`"
        ),
        "{report}"
    );
    assert!(row(&report, "04", "pack", "ours").contains("SKIPPED: no original ran as"));
    // compare stopped it: no process is left in the fixtures' folder (Linux shows each
    // process's working directory in /proc).
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for entry in procs.flatten() {
            let cwd = std::fs::read_link(entry.path().join("cwd"));
            assert!(
                !cwd.is_ok_and(|dir| dir == Path::new(fixtures.path())),
                "the fixture (PID {:?}) still runs",
                entry.file_name()
            );
        }
    }
}

#[test]
fn a_fixed_port_is_moved_so_two_compares_at_once_do_not_collide() {
    let fixtures = Fixtures::new("port");
    if !python3() {
        return;
    }
    // Stand-ins for the framed pair (4-byte length, then the body; twice) that use the
    // original's fixed port 8001, without SO_REUSEADDR. While this test holds 8001
    // itself (if it is free), only the shim's move lets them run at all; and the two
    // compares below run them at the same time.
    fixtures.write("framed_server.py", FRAMED_SERVER);
    fixtures.write("framed_client.py", &framed_client(8001, ""));
    let _held = TcpListener::bind("127.0.0.1:8001");
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let dir = fixtures.path().to_string();
            std::thread::spawn(move || compare(&["--originals", &dir, "04/framed"]))
        })
        .collect();
    for run in runs {
        let out = run.join().unwrap();
        let report = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{report}");
        for combo in ["py/ours", "ours/py", "ours/ours"] {
            assert!(
                row(&report, "04", "framed", combo).ends_with(" SAME | wire SAME"),
                "{report}"
            );
        }
    }
}

/// Stand-ins for the framed pair (4-byte length, then the body; twice) on the fixed
/// port: the server prints each body, as framed-server does.
const FRAMED_SERVER: &str = "import socket, struct\ns = socket.socket()\n\
    s.bind(('127.0.0.1', 8001))\ns.listen(5)\nconn, addr = s.accept()\nf = conn.makefile('rb')\n\
    for _ in range(2):\n    n = struct.unpack('<i', f.read(4))[0]\n    print(f.read(n).decode())\n";

/// The framed client's stand-in, connecting to `port`, and sending `extra` after the
/// two messages.
fn framed_client(port: u16, extra: &str) -> String {
    format!(
        "import socket, struct\nc = socket.socket()\nc.connect(('127.0.0.1', {port}))\n\
         for m in (b'hello', b' world'):\n    c.sendall(struct.pack('<i', len(m)) + m)\n\
         c.sendall(b'{extra}')\nc.close()\n"
    )
}

/// Runs compare on `scenario` with `files` as the originals; its report and status.
fn compare_with(name: &str, files: &[(&str, &str)], scenario: &str) -> Option<(String, i32)> {
    let fixtures = Fixtures::new(name);
    if !python3() {
        return None;
    }
    for (file, text) in files {
        fixtures.write(file, text);
    }
    // 2 s for a step, not the default 5 s: a server whose client failed waits out its
    // step before it is stopped, and no fixture needs that long on a loaded machine.
    let args = [
        "--originals",
        fixtures.path(),
        "--step-timeout-ms",
        "2000",
        scenario,
    ];
    let out = compare(&args);
    Some((stdout(&out), out.status.code().unwrap_or(-1)))
}

#[test]
fn an_original_with_a_syntax_error_failed_and_says_so() {
    let Some((report, status)) =
        compare_with("syntax", &[("pack.py", "print((199,)\n")], "04/pack")
    else {
        return;
    };
    assert_eq!(status, 1, "{report}");
    let py = row(&report, "04", "pack", "py");
    assert!(
        py.contains("FAILED: pack.py (program): it does not run (SyntaxError); stderr: ")
            && py.contains("SyntaxError: '(' was never closed"),
        "{report}"
    );
    assert!(row(&report, "04", "pack", "ours").contains("SKIPPED"));
}

#[test]
fn a_server_that_does_not_start_failed_and_the_next_original_is_the_reference() {
    // A tab where the rest is indented with spaces: Python 3 stops with TabError.
    let broken = FRAMED_SERVER.replace("    print(", "\tprint(");
    let client = framed_client(8001, "");
    let files = [
        ("framed_server.py", broken.as_str()),
        ("framed_client.py", client.as_str()),
    ];
    let Some((report, status)) = compare_with("tab", &files, "04/framed") else {
        return;
    };
    assert_eq!(status, 1, "{report}");
    for combo in ["py/py", "py/ours"] {
        let r = row(&report, "04", "framed", combo);
        assert!(
            r.contains("FAILED: framed_server.py (server): it does not run (TabError)")
                || r.contains("FAILED: framed_server.py (server): exit 1 before it listened"),
            "{report}"
        );
        assert!(r.contains("TabError: inconsistent use of tabs"), "{report}");
    }
    // The original client with our server ran as its document's would: the reference.
    assert!(row(&report, "04", "framed", "ours/py").ends_with(" reference"));
    assert!(row(&report, "04", "framed", "ours/ours").ends_with(" SAME | wire SAME"));
}

#[test]
fn a_client_on_another_port_failed_and_our_rows_are_compared_with_the_server() {
    let client = framed_client(8002, "");
    let files = [
        ("framed_server.py", FRAMED_SERVER),
        ("framed_client.py", client.as_str()),
    ];
    let Some((report, status)) = compare_with("client-port", &files, "04/framed") else {
        return;
    };
    assert_eq!(status, 1, "{report}");
    for combo in ["py/py", "ours/py"] {
        assert!(
            row(&report, "04", "framed", combo).contains(
                "FAILED: framed_client.py (client 1): it connects to port 8002, not its \
                 document's port 8001"
            ),
            "{report}"
        );
    }
    assert!(row(&report, "04", "framed", "py/ours").ends_with(" reference"));
    assert!(row(&report, "04", "framed", "ours/ours").ends_with(" SAME | wire SAME"));
}

#[test]
fn a_server_on_another_port_failed_at_once() {
    let files = [
        (
            "sticky_server.py",
            "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 8002))\ns.listen(5)\n\
             c, a = s.accept()\nprint(c.recv(1024).decode())\n",
        ),
        (
            "sticky_client.py",
            "import socket\nc = socket.socket()\nc.connect(('127.0.0.1', 8001))\n\
             c.sendall(b'hello')\nc.sendall(b' world')\nc.close()\n",
        ),
    ];
    let Some((report, status)) = compare_with("server-port", &files, "04/sticky") else {
        return;
    };
    assert_eq!(status, 1, "{report}");
    for combo in ["py/py", "py/ours"] {
        assert!(
            row(&report, "04", "sticky", combo).contains(
                "FAILED: sticky_server.py (server): it binds TCP port 8002, not its \
                 document's port 8001"
            ),
            "{report}"
        );
    }
    assert!(row(&report, "04", "sticky", "ours/py").ends_with(" reference"));
    assert!(row(&report, "04", "sticky", "ours/ours").ends_with(" SAME | wire SAME"));
}

#[test]
fn a_sticky_server_that_prints_only_hello_is_a_diff_not_the_race() {
    // It reads 5 bytes: `hello` on every run, whatever the timing.
    let files = [
        (
            "sticky_server.py",
            "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 8001))\ns.listen(5)\n\
             c, a = s.accept()\nprint(c.recv(5).decode())\n",
        ),
        (
            "sticky_client.py",
            "import socket\nc = socket.socket()\nc.connect(('127.0.0.1', 8001))\n\
             c.sendall(b'hello')\nc.sendall(b' world')\nc.close()\n",
        ),
    ];
    let Some((report, status)) = compare_with("hello", &files, "04/sticky") else {
        return;
    };
    assert_eq!(status, 1, "{report}");
    // The tap passed `hello world` on as one write: printing `hello` is no race.
    let ours = row(&report, "04", "sticky", "ours/py");
    assert!(ours.contains("DIFF") && !ours.contains("KNOWN"), "{report}");
}

/// The timestamp server's stand-in: what timestamp-server prints, and `answer` (a
/// Python expression) as the time.
fn timestamp_server(answer: &str) -> String {
    format!(
        "import socket, time\ns = socket.socket()\ns.bind(('127.0.0.1', 8099))\ns.listen(10)\n\
         while True:\n    print('*' * 10 + 'now waiting for client connect' + '*' * 10)\n\
         \x20   c, a = s.accept()\n    print('new client : %s:%s' % a)\n\
         \x20   if c.recv(1024) == b'timetampe':\n        c.send({answer}.encode())\n\
         \x20   c.close()\n"
    )
}

#[test]
fn a_time_that_is_not_the_runs_is_a_diff() {
    let now = timestamp_server("time.ctime()");
    let Some((report, status)) = compare_with(
        "ctime-now",
        &[("TimestampeServer.py", &now)],
        "01/timestamp",
    ) else {
        return;
    };
    assert_eq!(status, 0, "{report}");
    assert!(
        row(&report, "01", "timestamp", "ours/ours")
            .ends_with(" SAME after normalising (ports, times) | wire SAME"),
        "{report}"
    );
    let epoch = timestamp_server("time.ctime(0)");
    let Some((report, status)) = compare_with(
        "ctime-zero",
        &[("TimestampeServer.py", &epoch)],
        "01/timestamp",
    ) else {
        return;
    };
    assert_eq!(status, 1, "{report}");
    assert!(
        report.contains(
            "\n-  | current timestampe: Thu Jan  1 00:00:00 1970\n+  | current timestampe: <time>\n"
        ),
        "{report}"
    );
    assert!(
        row(&report, "01", "timestamp", "ours/ours").contains("DIFF (below) | wire DIFF"),
        "{report}"
    );
}

/// The short server's stand-in: what short-server prints for `a2` and `b2`, with the
/// connection's two lines in `order` and its own port plus `port_off`.
fn short_server(swapped: bool, port_off: u16) -> String {
    let (first, second) = if swapped {
        ("closed", "opened")
    } else {
        ("opened", "closed")
    };
    format!(
        "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 5000))\ns.listen(5)\n\
         h, p = s.getsockname()\nprint('Serving on {{}}'.format((h, p + {port_off})))\n\
         opened = lambda a: print('Connection from {{}}'.format(a))\n\
         closed = lambda a: print('The client closed the connection')\n\
         while True:\n    c, a = s.accept()\n    {first}(a)\n    d = c.recv(1024).decode()\n\
         \x20   x = float(d[1:])\n    c.sendall(('d' + str(x * x if d[0] == 'a' else x * x * x)).encode())\n\
         \x20   c.recv(1024)\n    {second}(a)\n    c.close()\n"
    )
}

#[test]
fn a_servers_own_lines_swapped_are_a_diff() {
    let Some((report, status)) = compare_with(
        "short-in-order",
        &[("short_server.py", &short_server(false, 0))],
        "05/short",
    ) else {
        return;
    };
    assert_eq!(status, 0, "{report}");
    assert!(
        row(&report, "05", "short", "ours/ours").contains(" SAME"),
        "{report}"
    );
    let Some((report, status)) = compare_with(
        "short-swapped",
        &[("short_server.py", &short_server(true, 0))],
        "05/short",
    ) else {
        return;
    };
    assert_eq!(status, 1, "{report}");
    assert!(
        row(&report, "05", "short", "ours/ours").contains("DIFF (below)"),
        "{report}"
    );
}

#[test]
fn a_port_that_is_not_the_runs_is_a_diff() {
    let Some((report, status)) = compare_with(
        "short-port",
        &[("short_server.py", &short_server(false, 1))],
        "05/short",
    ) else {
        return;
    };
    assert_eq!(status, 1, "{report}");
    assert!(
        report.contains("\n-  | Serving on ('127.0.0.1', ")
            && report.contains("\n+  | Serving on ('127.0.0.1', PORT)\n"),
        "{report}"
    );
}

/// The long server's stand-in: what long-server prints, its moves from random.choice
/// (fed by compare), and its results by `judge` (a Python expression of d, the client's
/// move, and r, the server's: 1 scissors, 2 rock, 3 paper).
fn long_server(judge: &str) -> String {
    format!(
        "import random, socket\ns = socket.socket()\ns.bind(('127.0.0.1', 5000))\ns.listen(5)\n\
         print('Serving on {{}}'.format(s.getsockname()))\nwhile True:\n    c, a = s.accept()\n\
         \x20   print('set task')\n    while True:\n        print('wait')\n        b = c.recv(1)\n\
         \x20       if not b:\n            break\n        d = int(b)\n        print('recv: {{}}'.format(d))\n\
         \x20       r = random.choice([1, 2, 3])\n        print('remot: {{}}'.format(r))\n\
         \x20       c.sendall({judge})\n        print('send done')\n    c.close()\n"
    )
}

#[test]
fn the_long_game_is_fed_the_same_moves_and_an_inverted_scoring_is_a_diff() {
    // The original's scoring: a larger code wins, except scissors against paper.
    let original = long_server("b'y' if (d, r) == (1, 3) or d > r else (b'x' if d == r else b'z')");
    let Some((report, status)) = compare_with(
        "long-original",
        &[("long_server.py", &original)],
        "05/long-paper",
    ) else {
        return;
    };
    // Only the round of paper against scissors differs: KNOWN, on stdout and the wire.
    assert_eq!(status, 0, "{report}");
    let ours = row(&report, "05", "long-paper", "ours/ours");
    assert!(
        ours.contains("KNOWN paper-scissors (")
            && ours.contains("| wire KNOWN paper-scissors-wire ("),
        "{report}"
    );
    // Win and loss swapped: every round that is not a draw differs, on every run.
    let inverted =
        long_server("b'x' if d == r else (b'z' if (d, r) in ((2, 1), (1, 3), (3, 2)) else b'y')");
    let Some((report, status)) = compare_with(
        "long-inverted",
        &[("long_server.py", &inverted)],
        "05/long-paper",
    ) else {
        return;
    };
    assert_eq!(status, 1, "{report}");
    assert!(
        row(&report, "05", "long-paper", "ours/ours").contains("DIFF (below) | wire DIFF"),
        "{report}"
    );
    assert!(
        report.contains(
            "\n-  | 失败 (paper (3) against rock (2))\n+  | 胜利 (paper (3) against rock (2))\n"
        ),
        "{report}"
    );
}

#[test]
fn the_wire_catches_one_byte_more() {
    let client = framed_client(8001, "!");
    let files = [
        ("framed_server.py", FRAMED_SERVER),
        ("framed_client.py", client.as_str()),
    ];
    let Some((report, status)) = compare_with("byte-more", &files, "04/framed") else {
        return;
    };
    assert_eq!(status, 1, "{report}");
    // The server reads two messages and never the byte after them: stdout is the same.
    assert!(
        row(&report, "04", "framed", "py/ours").ends_with(" SAME | wire DIFF (below)"),
        "{report}"
    );
    assert!(
        report.contains(
            "\n-  c->s b'\\x05\\x00\\x00\\x00hello\\x06\\x00\\x00\\x00 world!'\n\
             +  c->s b'\\x05\\x00\\x00\\x00hello\\x06\\x00\\x00\\x00 world'\n"
        ),
        "{report}"
    );
}

/// The short client's stand-in: what short-client prints, for a2 and b2, each on a
/// connection of its own; with `half_close`, it shuts down its sending side after the
/// request, as short-client does.
fn short_client(half_close: bool) -> String {
    let shut = if half_close {
        "    c.shutdown(socket.SHUT_WR)\n"
    } else {
        ""
    };
    format!(
        "import socket\nfor q in ('a2', 'b2'):\n    c = socket.socket()\n\
         \x20   c.connect(('127.0.0.1', 5000))\n    print('Connection to {{}}'.format(c.getpeername()))\n\
         \x20   c.sendall(q.encode())\n{shut}    print(float(c.recv(1024).decode()[1:]))\n    c.close()\n"
    )
}

#[test]
fn the_wire_tells_a_close_from_our_half_close() {
    let server = short_server(false, 0);
    let closes = short_client(false);
    let files = [
        ("short_server.py", server.as_str()),
        ("short_client.py", closes.as_str()),
    ];
    let Some((report, _)) = compare_with("closes", &files, "05/short") else {
        return;
    };
    // The same stdout; on the wire, ours half-closes where this client closes.
    let ours = row(&report, "05", "short", "py/ours");
    assert!(ours.contains(" SAME"), "{report}");
    assert!(ours.contains("| wire KNOWN short-half-close ("), "{report}");
    // A client that half-closes, as ours does: the same wire.
    let half = short_client(true);
    let files = [
        ("short_server.py", server.as_str()),
        ("short_client.py", half.as_str()),
    ];
    let Some((report, status)) = compare_with("half-closes", &files, "05/short") else {
        return;
    };
    assert_eq!(status, 0, "{report}");
    assert!(
        row(&report, "05", "short", "py/ours").ends_with("| wire SAME"),
        "{report}"
    );
}
