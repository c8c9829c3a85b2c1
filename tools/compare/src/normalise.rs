//! The normalising rules: each one erases one kind of difference that says nothing about
//! the programs (a port the system chose, a file descriptor number, the time, a random
//! move, the order of lines the original itself races on). Each has a name, and the
//! report names the rules that changed a row's text.

use socket_lessons::normalize_number;

/// One normalising rule.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Rule {
    /// Port numbers after a loopback address: `127.0.0.1:PORT`, `('127.0.0.1', PORT)`.
    Ports,
    /// Python's `fd=N, ` in a socket's repr (ours prints none).
    Fd,
    /// time.ctime() times (`Sun May 27 21:43:58 2018`), masked as `<time>`.
    Time,
    /// The server's random moves of the long game masked, and each result judged by
    /// the real rules instead.
    Game,
    /// Lines from different connections that the original itself prints in a racing
    /// order: the server's stdout is compared as a sorted list.
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
            Rule::Game => "random moves",
            Rule::Unordered => "line order",
            Rule::FirstLines => "first lines",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Rule::Ports => "port numbers after 127.0.0.1 become PORT",
            Rule::Fd => "Python's `fd=N, ` in a socket repr is removed (ours prints none)",
            Rule::Time => {
                "time.ctime() times become <time> (and Python runs with TZ=UTC, like ours)"
            }
            Rule::Game => {
                "the long server's `remot: N` becomes `remot: <move>`, and each result \
                 the client prints becomes <result> when the real rules agree with it"
            }
            Rule::Unordered => {
                "the server's lines are sorted: the original prints lines of two \
                 connections in a racing order"
            }
            Rule::FirstLines => {
                "only the first lines of a program that prints without end are compared"
            }
        }
    }
}

/// Replaces loopback port numbers with PORT.
pub fn ports(text: &str) -> String {
    let text = normalize_number(text, "127.0.0.1', ", "PORT");
    normalize_number(&text, "127.0.0.1:", "PORT")
}

/// Removes Python's `fd=N, ` from socket reprs.
pub fn fd(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("fd=") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 3..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 && after[digits..].starts_with(", ") {
            rest = &after[digits + 2..];
        } else {
            out.push_str("fd=");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Masks time.ctime() times, `Sun May 27 21:43:58 2018` (24 characters), as `<time>`.
pub fn time(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    'scan: while !rest.is_empty() {
        if rest.len() >= 24 && rest.is_char_boundary(24) && is_ctime(&rest[..24]) {
            out.push_str("<time>");
            rest = &rest[24..];
            continue 'scan;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

fn is_ctime(s: &str) -> bool {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let b = s.as_bytes();
    let digit = |i: usize| b[i].is_ascii_digit();
    // Bytes, not str slices: a slice of other text may cut a character in two.
    DAYS.iter().any(|d| d.as_bytes() == &b[0..3])
        && b[3] == b' '
        && MONTHS.iter().any(|m| m.as_bytes() == &b[4..7])
        && b[7] == b' '
        && (b[8] == b' ' || digit(8))
        && digit(9)
        && b[10] == b' '
        && digit(11)
        && digit(12)
        && b[13] == b':'
        && digit(14)
        && digit(15)
        && b[16] == b':'
        && digit(17)
        && digit(18)
        && b[19] == b' '
        && (20..24).all(digit)
}

/// The server's stdout as a sorted list of lines (the last line keeps its missing
/// newline, if any, by the caller's marking).
pub fn unordered(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    let mut out = lines.join("\n");
    if !lines.is_empty() {
        out.push('\n');
    }
    out
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
const RESULTS: [(&str, &str); 3] = [("平局", "draw"), ("胜利", "win"), ("失败", "lose")];

/// The long game: masks the server's random moves (`remot: N`) and judges each result
/// line of the client (平局, 胜利, 失败) by the real rules, from the rounds the server
/// printed (`recv: D`, `remot: R`). A result the rules agree with becomes `<result>`;
/// one they do not becomes a line that says what was wrong.
pub fn game(server: &str, client: &str) -> (String, String) {
    let mut rounds = Vec::new();
    let mut mine = None;
    for line in server.lines() {
        if let Some(d) = line.strip_prefix("recv: ") {
            mine = d.trim().parse::<u8>().ok();
        } else if let Some(r) = line.strip_prefix("remot: ") {
            rounds.push((mine.take(), r.trim().parse::<u8>().ok()));
        }
    }
    let mut masked_server = String::new();
    for line in server.split_inclusive('\n') {
        if line.starts_with("remot: ") {
            masked_server.push_str("remot: <move>");
            if line.ends_with('\n') {
                masked_server.push('\n');
            }
        } else {
            masked_server.push_str(line);
        }
    }
    let mut round = rounds.into_iter();
    let mut masked_client = String::new();
    for line in client.split_inclusive('\n') {
        let text = line.trim_end_matches('\n');
        let Some(&(_, said)) = RESULTS.iter().find(|(word, _)| *word == text) else {
            masked_client.push_str(line);
            continue;
        };
        let judged = match round.next() {
            Some((Some(d), Some(r))) => match rules(d, r) {
                Some(right) if right == said => "<result>".to_string(),
                Some(right) => format!(
                    "<result, wrong by the rules: {} ({d}) against {} ({r}) is a {right}, \
                     not a {said}>",
                    name(d),
                    name(r)
                ),
                None => format!("<result {text} for moves {d} and {r}, which are not moves>"),
            },
            _ => format!("<result {text} for a round the server did not print>"),
        };
        masked_client.push_str(&judged);
        if line.ends_with('\n') {
            masked_client.push('\n');
        }
    }
    (masked_server, masked_client)
}

/// The result for the client's move `d` against the server's `r` (1 scissors, 2 rock,
/// 3 paper): rock beats scissors, scissors beat paper, paper beats rock.
pub fn rules(d: u8, r: u8) -> Option<&'static str> {
    if !(1..=3).contains(&d) || !(1..=3).contains(&r) {
        return None;
    }
    let beats = |a: u8, b: u8| matches!((a, b), (2, 1) | (1, 3) | (3, 2));
    Some(if d == r {
        "draw"
    } else if beats(d, r) {
        "win"
    } else {
        "lose"
    })
}

fn name(mv: u8) -> &'static str {
    match mv {
        1 => "scissors",
        2 => "rock",
        _ => "paper",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_become_port() {
        assert_eq!(
            ports("Serving on ('127.0.0.1', 43121) from 127.0.0.1:5\n"),
            "Serving on ('127.0.0.1', PORT) from 127.0.0.1:PORT\n"
        );
        assert_eq!(ports("('10.0.0.1', 80)"), "('10.0.0.1', 80)");
    }

    #[test]
    fn fd_is_removed_from_socket_reprs_only() {
        assert_eq!(
            fd("[<socket.socket fd=4, family=2, type=1>] fd=x fd=12"),
            "[<socket.socket family=2, type=1>] fd=x fd=12"
        );
    }

    #[test]
    fn ctime_times_are_masked() {
        assert_eq!(
            time("current timestampe: Sun May 27 21:43:58 2018\n"),
            "current timestampe: <time>\n"
        );
        assert_eq!(time("Mon Jan  1 00:00:00 2024"), "<time>");
        assert_eq!(
            time("Sun May 27 21:43 2018 时间"),
            "Sun May 27 21:43 2018 时间"
        );
    }

    #[test]
    fn unordered_sorts_lines() {
        assert_eq!(unordered("b\na\nc\n"), "a\nb\nc\n");
        assert_eq!(unordered(""), "");
    }

    #[test]
    fn first_lines_keeps_n_lines() {
        assert_eq!(first_lines("a\nb\nc\n", 2), "a\nb\n");
        assert_eq!(first_lines("a\nb", 5), "a\nb");
    }

    #[test]
    fn the_rules_of_the_game() {
        assert_eq!(rules(1, 3), Some("win")); // scissors cut paper
        assert_eq!(rules(3, 1), Some("lose")); // the original says win here
        assert_eq!(rules(2, 1), Some("win"));
        assert_eq!(rules(3, 2), Some("win"));
        assert_eq!(rules(2, 2), Some("draw"));
        assert_eq!(rules(4, 2), None);
    }

    #[test]
    fn game_masks_moves_and_judges_results() {
        let server =
            "set task\nwait\nrecv: 1\nremot: 2\nsend done\nwait\nrecv: 3\nremot: 1\nsend done\n";
        let client = "write done\nread done\n失败\nwrite done\nread done\n胜利\n";
        let (s, c) = game(server, client);
        assert_eq!(
            s,
            "set task\nwait\nrecv: 1\nremot: <move>\nsend done\nwait\nrecv: 3\nremot: <move>\nsend done\n"
        );
        assert_eq!(
            c,
            "write done\nread done\n<result>\nwrite done\nread done\n\
             <result, wrong by the rules: paper (3) against scissors (1) is a lose, not a win>\n"
        );
        // A result with no round printed by the server is said, not judged.
        let (_, c) = game("", "平局\n");
        assert_eq!(c, "<result 平局 for a round the server did not print>\n");
    }
}
