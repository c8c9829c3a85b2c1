//! `cargo compare` (the binary of this package), black box: ours in both slots is SAME everywhere; tiny Python
//! fixtures written here (never the originals' code) give a DIFF, never exit, or bind a
//! fixed port; the list of files; usage errors. Where python3 is missing, the fixture
//! tests say so and check only what needs no Python.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use assert_cmd::Command;
use socket_lessons::{binary, marked_blocks, workspace_root};

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
    let needle = format!("SOCKET_LESSONS_COMPARE_TEST={marker}\0");
    let left: Vec<String> = std::fs::read_dir("/proc")
        .map(|procs| {
            procs
                .flatten()
                .filter(|p| {
                    std::fs::read(p.path().join("environ"))
                        .is_ok_and(|env| String::from_utf8_lossy(&env).contains(&needle))
                })
                .map(|p| p.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
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
fn without_python_every_python_row_is_skipped_and_says_why() {
    let fixtures = Fixtures::new("nopython");
    fixtures.write("pack.py", "print((199,))\n");
    let out = Command::new(COMPARE)
        .args(["--originals", fixtures.path(), "04/pack"])
        .env("COMPARE_PYTHON", "/no/such/python3")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(row(&report, "04", "pack", "py").contains("SKIPPED: /no/such/python3 not found"));
    assert!(row(&report, "04", "pack", "ours").contains("SKIPPED"));
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
    let kept = std::fs::read_to_string(keep.join("04-pack-py.txt")).unwrap();
    assert!(kept.contains("(198,)"), "{kept}");
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
    assert!(
        report.contains("\n-program: did not exit within 300 ms: stopped\n")
            && report.contains("\n+program: exit 0\n"),
        "{report}"
    );
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
    fixtures.write(
        "framed_server.py",
        "import socket, struct\ns = socket.socket()\ns.bind(('127.0.0.1', 8001))\n\
         s.listen(5)\nconn, addr = s.accept()\nf = conn.makefile('rb')\nfor _ in range(2):\n\
         \x20   n = struct.unpack('<i', f.read(4))[0]\n    print(f.read(n).decode())\n",
    );
    fixtures.write(
        "framed_client.py",
        "import socket, struct\nc = socket.socket()\nc.connect(('127.0.0.1', 8001))\n\
         for m in (b'hello', b' world'):\n    c.sendall(struct.pack('<i', len(m)) + m)\n\
         c.close()\n",
    );
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
                row(&report, "04", "framed", combo).ends_with(" SAME"),
                "{report}"
            );
        }
    }
}
