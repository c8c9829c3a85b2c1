//! Lesson 05: the calculator over short connections (the square and cube of 2, a
//! request of our own, a bad one), then rock-paper-scissors over one long connection
//! (the original's five 剪刀 against a seeded server, and an unknown move).

use super::{Tour, check};

pub fn run(tour: &mut Tour) -> Result<(), String> {
    let short = tour.server("short-server", &[])?;
    let out = tour.client("short-client", &["--addr", &short], "")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    check(
        out.status.success() && stdout.lines().skip(1).step_by(2).eq(["4.0", "8.0"]),
        "short-client did not print 4.0 and 8.0",
    )?;
    let out = tour.client("short-client", &["--addr", &short, "a", "1e8"], "")?;
    check(
        String::from_utf8_lossy(&out.stdout).ends_with("\n1e+16\n"),
        "short-client a 1e8 did not print 1e+16",
    )?;
    // Python's x**2 overflows here: the server drops the request, the client says so.
    let out = tour.client("short-client", &["--addr", &short, "a", "1e200"], "")?;
    check(
        out.status.code() == Some(1),
        "short-client a 1e200 did not fail",
    )?;
    // Four connections (the last one dropped, and logged).
    let shown = tour.server_output(0, "Connection from", 4, 2)?;
    check(
        shown.starts_with("Serving on ('127.0.0.1', "),
        "short-server did not print `Serving on`",
    )?;

    let long = tour.server("long-server", &["--seed", "1"])?;
    let out = tour.client("long-client", &["--addr", &long], "")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let results: Vec<&str> = stdout
        .lines()
        .filter(|l| ["平局", "胜利", "失败"].contains(l))
        .collect();
    check(
        out.status.success()
            && stdout.starts_with("entering context\n")
            && stdout.ends_with("exit context\n")
            && results == ["失败", "胜利", "胜利", "失败", "失败"],
        "long-client did not play the seeded game of five 剪刀",
    )?;
    let out = tour.client("long-client", &["--addr", &long, "布", "lizard"], "")?;
    check(
        String::from_utf8_lossy(&out.stdout).contains("\n未知的指令\nFalse\n"),
        "long-client did not reject an unknown move",
    )?;
    // Six rounds in all (five, then one before the unknown move), two clients logged.
    let shown = tour.server_output(1, "send done\nwait\n", 6, 3)?;
    check(
        shown.contains("set task\nwait\nrecv: 1\nremot: 2\nsend done\n")
            && shown.contains("\nrecv: 3\n"),
        "long-server did not print its first round and the round of 布",
    )
}
