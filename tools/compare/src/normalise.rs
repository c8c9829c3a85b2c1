//! The normalising rules: each one erases one kind of difference that says nothing about
//! the programs, and nothing wider: a port this run's system chose (not any number after
//! 127.0.0.1), a file descriptor number in a socket's repr, a time within minutes of the
//! run (not any time), the order of two connections' lines (not the order of one
//! connection's). Each has a name, and the report names the rules that changed a row's
//! text.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, SystemTime};

/// One normalising rule.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Rule {
    /// The ports of this run after a loopback address: `127.0.0.1:PORT`,
    /// `('127.0.0.1', PORT)`.
    Ports,
    /// Python's `fd=N, ` in a socket's repr (ours prints none).
    Fd,
    /// time.ctime() times of the moment of the run (`Sun May 27 21:43:58 2018`).
    Time,
    /// The short server's lines of different connections, which the original prints in
    /// a racing order.
    Unordered,
    /// Programs that print without end: only their first N lines are compared.
    FirstLines,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::Ports => "ports",
            Rule::Fd => "fd=N",
            Rule::Time => "times",
            Rule::Unordered => "line order",
            Rule::FirstLines => "first lines",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Rule::Ports => {
                "a port of this run (a server's, the tap's, a client's) after 127.0.0.1 \
                 becomes PORT; any other number stays"
            }
            Rule::Fd => "Python's `fd=N, ` in a socket repr is removed (ours prints none)",
            Rule::Time => {
                "a time.ctime() time within 2 minutes of the run becomes <time> (Python runs \
                 with TZ=UTC, like ours); any other time stays"
            }
            Rule::Unordered => {
                "the server's `The client closed the connection` line moves up to right \
                 after its own connection's `Connection from` line, past lines of later \
                 connections only: the original prints two connections' lines in a racing \
                 order"
            }
            Rule::FirstLines => {
                "only the first lines of a program that prints without end are compared"
            }
        }
    }
}

/// The ports of one run, and the ctime() texts of the moments around it.
pub struct RunFacts {
    pub ports: BTreeSet<u16>,
    times: HashSet<String>,
}

/// How far from the run a printed time may be and still be masked: the run's own
/// seconds, and a margin for a clock read late or a slow start.
const TIME_MARGIN: Duration = Duration::from_secs(120);

impl RunFacts {
    /// The facts of a run from `started` to now, with these ports.
    pub fn new(ports: BTreeSet<u16>, started: SystemTime) -> RunFacts {
        let now = SystemTime::now();
        let from = started.checked_sub(TIME_MARGIN).unwrap_or(started);
        let until = now + TIME_MARGIN;
        // Every second of the window as time.ctime() prints it: a printed time is masked
        // only when it is one of them, weekday and all.
        let mut times = HashSet::new();
        let mut at = from;
        while at <= until {
            times.insert(py_compat::ctime(at));
            at += Duration::from_secs(1);
        }
        RunFacts { ports, times }
    }
}

/// Replaces the ports of this run that follow a loopback address with PORT.
pub fn ports(text: &str, facts: &RunFacts) -> String {
    let text = mask_ports(text, "127.0.0.1', ", &facts.ports);
    mask_ports(&text, "127.0.0.1:", &facts.ports)
}

fn mask_ports(text: &str, prefix: &str, ports: &BTreeSet<u16>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let after = at + prefix.len();
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let port = rest[..digits].parse::<u16>().ok();
        if port.is_some_and(|p| ports.contains(&p)) {
            out.push_str("PORT");
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

/// Removes Python's `fd=N, ` from socket reprs (`<socket.socket fd=4, family=2, ...>`).
pub fn fd(text: &str) -> String {
    const REPR: &str = "<socket.socket fd=";
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(REPR) {
        let number = at + REPR.len();
        out.push_str(&rest[..at]);
        let after = &rest[number..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 && after[digits..].starts_with(", ") {
            out.push_str("<socket.socket ");
            rest = &after[digits + 2..];
        } else {
            out.push_str(REPR);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Masks time.ctime() times of the run, `Sun May 27 21:43:58 2018` (24 characters), as
/// `<time>`; a time that is not one of the run's moments stays as it is.
pub fn time(text: &str, facts: &RunFacts) -> String {
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        if rest.len() >= 24 && rest.is_char_boundary(24) && facts.times.contains(&rest[..24]) {
            out.push_str("<time>");
            rest = &rest[24..];
            continue;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// The short server's line when a connection opens (the peer follows), and when it ends.
pub const OPENED: &str = "Connection from ";
pub const CLOSED: &str = "The client closed the connection";

/// Each `CLOSED` line moved up to right after its own connection's `OPENED` line (the
/// earliest one still open: the client ends its connections in the order it opened
/// them), when only `OPENED` lines of later connections stand between: the original
/// client closes one connection while it opens the next, and the server prints the two
/// events in either order. Any other order (a `CLOSED` before every `OPENED`, another
/// line in between) is left as it is, to be seen.
pub fn unordered(text: &str) -> String {
    let mut lines: Vec<&str> = Vec::new();
    // Indexes into `lines` of the OPENED lines not yet closed, oldest first.
    let mut open: Vec<usize> = Vec::new();
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches('\n');
        if bare.starts_with(OPENED) {
            open.push(lines.len());
            lines.push(line);
        } else if bare == CLOSED && !open.is_empty() {
            let opened = open.remove(0);
            let between = &lines[opened + 1..];
            if between.iter().all(|l| l.starts_with(OPENED)) {
                lines.insert(opened + 1, line);
                // The later connections' OPENED lines moved down by one.
                for index in open.iter_mut() {
                    *index += 1;
                }
            } else {
                return text.to_string();
            }
        } else if bare == CLOSED {
            return text.to_string();
        } else {
            lines.push(line);
        }
    }
    lines.concat()
}

/// The first `n` lines of `text`.
pub fn first_lines(text: &str, n: usize) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n').take(n) {
        out.push_str(line);
    }
    out
}

/// The results a long-game client prints, in its own words.
const RESULTS: [&str; 3] = ["平局", "胜利", "失败"];

/// The long game, compared with the same server moves on both sides: each result line
/// of the client (平局, 胜利, 失败) gets the moves of its round, from the rounds the
/// server printed (`recv: D`, `remot: R`), `胜利 (paper (3) against scissors (1))`, so
/// that a known difference names the one round it is about. Nothing is masked.
pub fn game(server: &str, client: &str) -> String {
    let mut rounds = Vec::new();
    let mut mine = None;
    for line in server.lines() {
        if let Some(d) = line.strip_prefix("recv: ") {
            mine = d.trim().parse::<u8>().ok();
        } else if let Some(r) = line.strip_prefix("remot: ") {
            rounds.push((mine.take(), r.trim().parse::<u8>().ok()));
        }
    }
    let mut round = rounds.into_iter();
    let mut annotated = String::new();
    for line in client.split_inclusive('\n') {
        let text = line.trim_end_matches('\n');
        if !RESULTS.contains(&text) {
            annotated.push_str(line);
            continue;
        }
        let moves = match round.next() {
            Some((Some(d), Some(r))) => format!("{} ({d}) against {} ({r})", name(d), name(r)),
            _ => "a round the server did not print".to_string(),
        };
        annotated.push_str(&format!("{text} ({moves})"));
        if line.ends_with('\n') {
            annotated.push('\n');
        }
    }
    annotated
}

fn name(mv: u8) -> &'static str {
    match mv {
        1 => "scissors",
        2 => "rock",
        3 => "paper",
        _ => "no move",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn facts(ports: &[u16]) -> RunFacts {
        RunFacts::new(ports.iter().copied().collect(), SystemTime::now())
    }

    #[test]
    fn only_this_runs_ports_become_port() {
        let run = facts(&[43121, 5]);
        assert_eq!(
            ports("Serving on ('127.0.0.1', 43121) from 127.0.0.1:5\n", &run),
            "Serving on ('127.0.0.1', PORT) from 127.0.0.1:PORT\n"
        );
        assert_eq!(ports("('10.0.0.1', 43121)", &run), "('10.0.0.1', 43121)");
        // A port one off is another number: it stays, and the row differs.
        assert_eq!(
            ports("('127.0.0.1', 43122) 127.0.0.1:51 127.0.0.1:", &run),
            "('127.0.0.1', 43122) 127.0.0.1:51 127.0.0.1:"
        );
    }

    #[test]
    fn fd_is_removed_from_socket_reprs_only() {
        assert_eq!(
            fd("[<socket.socket fd=4, family=2, type=1>] fd=x fd=12, <socket.socket fd=y"),
            "[<socket.socket family=2, type=1>] fd=x fd=12, <socket.socket fd=y"
        );
    }

    #[test]
    fn only_times_of_the_run_are_masked() {
        let run = facts(&[]);
        let now = py_compat::ctime(SystemTime::now());
        assert_eq!(
            time(&format!("current timestampe: {now}\n"), &run),
            "current timestampe: <time>\n"
        );
        // time.ctime(0), and a time of an hour ago, are not the run's.
        let epoch = py_compat::ctime(UNIX_EPOCH);
        assert_eq!(time(&epoch, &run), epoch);
        let hour_ago = py_compat::ctime(SystemTime::now() - Duration::from_secs(3600));
        assert_eq!(time(&hour_ago, &run), hour_ago);
        assert_eq!(time("时间 Sun May 27 21:43", &run), "时间 Sun May 27 21:43");
    }

    #[test]
    fn line_order_moves_a_close_only_past_later_connections() {
        let serving = "Serving on ('127.0.0.1', PORT)\n";
        let open = "Connection from ('127.0.0.1', PORT)\n";
        let closed = "The client closed the connection\n";
        let in_order = [serving, open, closed, open, closed].concat();
        // The race: the second connection opened before the first one's end was printed.
        let raced = [serving, open, open, closed, closed].concat();
        assert_eq!(unordered(&raced), in_order);
        assert_eq!(unordered(&in_order), in_order);
        // An end before its connection opened is no race: it stays to be seen.
        let swapped = [serving, closed, open, closed, open].concat();
        assert_eq!(unordered(&swapped), swapped);
        // Nor does an end move past a line that is not another connection's opening.
        let other = [serving, open, "4.0\n", closed].concat();
        assert_eq!(unordered(&other), other);
        assert_eq!(unordered(""), "");
    }

    #[test]
    fn first_lines_keeps_n_lines() {
        assert_eq!(first_lines("a\nb\nc\n", 2), "a\nb\n");
        assert_eq!(first_lines("a\nb", 5), "a\nb");
    }

    #[test]
    fn game_results_get_their_rounds_moves() {
        let server =
            "set task\nwait\nrecv: 1\nremot: 2\nsend done\nwait\nrecv: 3\nremot: 1\nsend done\n";
        let client = "write done\nread done\n失败\nwrite done\nread done\n胜利\n";
        assert_eq!(
            game(server, client),
            "write done\nread done\n失败 (scissors (1) against rock (2))\n\
             write done\nread done\n胜利 (paper (3) against scissors (1))\n"
        );
        assert_eq!(
            game("", "平局\n"),
            "平局 (a round the server did not print)\n"
        );
    }
}
