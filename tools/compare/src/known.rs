//! The known differences: every deliberate difference that a lesson page lists in its
//! "Differences from the Python original" section has an id here, and says how compare
//! treats it:
//! - `Shows::Text`: it shows in the named scenarios' stdout. A row is KNOWN when the
//!   reference's normalised text, with the `from` -> `to` replacements of the differences
//!   that apply, is exactly the row's text. A difference applies when its slot (server or
//!   client) runs ours in the row and the original in the reference. Each `from` is the
//!   whole line (or lines) that differ, so an entry explains that difference and no other.
//! - `Shows::Wire`: the same, in the summary of the wire (see wire.rs).
//! - `Shows::Rule`: a normalising rule erases it (the row says SAME after normalising).
//! - `Shows::Unseen`: it cannot show in compare's scenarios (and why).
//!
//! To adjust after a page changes: edit `item` (the bold words that start the page's
//! bullet), or the transcript text in `from`/`to` (copy it from a DIFF's lines). The
//! tests check that every entry names a bullet of its page, and every bullet has an entry.

use super::normalise::Rule;
use super::wire;

/// Which side of a scenario must be ours for a difference to show.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Slot {
    Server,
    Client,
    /// The original itself races between `from` and `to` (ours always gives `to`): the
    /// replacement applies to every row, in either direction.
    Race,
}

/// How compare sees a difference.
#[derive(Debug)]
pub enum Shows {
    /// In the scenarios (`LESSON/SCENARIO`), `from` in the reference's normalised text
    /// becomes `to` where ours plays `ours`.
    Text {
        scenarios: &'static [&'static str],
        ours: Slot,
        from: &'static str,
        to: &'static str,
        /// Only where the wire tap passed what the client sent to the server in more
        /// than one write: a race of the original needs the bytes to arrive apart.
        split_only: bool,
    },
    /// In the scenarios' wire summaries, each `from` line in the reference's becomes its
    /// `to` where ours plays `ours` (the entry explains a row when one of them applies).
    Wire {
        scenarios: &'static [&'static str],
        ours: Slot,
        changes: &'static [(&'static str, &'static str)],
    },
    /// A normalising rule erases it.
    Rule(Rule),
    /// It cannot show in compare's scenarios, because...
    Unseen(&'static str),
}

#[derive(Debug)]
pub struct Known {
    pub id: &'static str,
    pub page: &'static str,
    /// The page's section heading (without the `## `).
    pub section: &'static str,
    /// The bold words that start the section's bullet for this difference.
    pub item: &'static str,
    pub shows: Shows,
}

impl Known {
    /// The scenarios where it shows as text.
    #[cfg(test)]
    pub fn scenarios(&self) -> &'static [&'static str] {
        match self.shows {
            Shows::Text { scenarios, .. } | Shows::Wire { scenarios, .. } => scenarios,
            _ => &[],
        }
    }

    /// How compare treats it, in a few words.
    pub fn how(&self) -> String {
        match &self.shows {
            Shows::Text {
                scenarios,
                split_only: true,
                ..
            } => format!(
                "KNOWN in {}, only in a run where the wire tap passed the client's bytes to \
                 the server in more than one write",
                scenarios.join(", ")
            ),
            Shows::Text { scenarios, .. } => format!("KNOWN in {}", scenarios.join(", ")),
            Shows::Wire { scenarios, .. } => {
                format!("KNOWN on the wire in {}", scenarios.join(", "))
            }
            Shows::Rule(rule) => format!("erased by the rule `{}`", rule.name()),
            Shows::Unseen(why) => format!("not seen: {why}"),
        }
    }
}

const DIFFERENCES: &str = "Differences from the Python original";
const P01: &str = "lessons/01-timestamp.md";
const P02: &str = "lessons/02-tcp-server.md";
const P03: &str = "lessons/03-ping-pong.md";
const P04: &str = "lessons/04-framing-and-io-models.md";
const P05: &str = "lessons/05-short-and-long-connections.md";

const fn unseen(
    id: &'static str,
    page: &'static str,
    item: &'static str,
    why: &'static str,
) -> Known {
    Known {
        id,
        page,
        section: DIFFERENCES,
        item,
        shows: Shows::Unseen(why),
    }
}

const fn by_rule(id: &'static str, page: &'static str, item: &'static str, rule: Rule) -> Known {
    Known {
        id,
        page,
        section: DIFFERENCES,
        item,
        shows: Shows::Rule(rule),
    }
}

/// A server that never closes a connection its client has left, and one that closes it
/// when it reads the client's FIN (the wire summary's lines, see wire.rs).
const SERVER_STAYS: &str =
    "  1st end: the client, FIN\n  2nd end: the server, none until compare stopped the server\n";
const SERVER_CLOSES: &str = wire::CROSSING;
/// The original short client closes after the answer; ours half-closes before it.
const SHORT_HALF_CLOSE: &str = concat!(
    "  1st end: the client, half-close (FIN, and the other way went on after it)\n",
    "  2nd end: the server, FIN\n"
);

const STDERR: &str = "it is on stderr, which compare does not compare";
const NO_BAD_INPUT: &str = "no scenario sends it (the original dies of it)";
const ONE_WRITE: &str = "the clients send each message in one write";

pub static KNOWN: &[Known] = &[
    // ---- 01
    by_rule("time-utc", P01, "The time is UTC.", Rule::Time),
    unseen(
        "timestamp-port-zero",
        P01,
        "No `int(port) > 0` check.",
        "no scenario asks the original for port 0",
    ),
    unseen(
        "timestamp-wrong-command",
        P01,
        "A wrong command.",
        "only our client sends one (scenario 01/wrong-command), so every row has ours",
    ),
    unseen(
        "timestamp-not-utf8",
        P01,
        "Bytes that are not UTF-8 no longer crash the server.",
        NO_BAD_INPUT,
    ),
    unseen(
        "timestamp-one-read",
        P01,
        "One read is not one message.",
        ONE_WRITE,
    ),
    unseen(
        "timestamp-newline",
        P01,
        "A newline after the command is accepted.",
        "both clients send the command without a newline",
    ),
    unseen(
        "timestamp-slow-client",
        P01,
        "No client can hold the server for long.",
        "no scenario has a silent or slow client",
    ),
    unseen(
        "timestamp-accept-backoff",
        P01,
        "A failing `accept` does not spin.",
        "accept does not fail in compare's scenarios",
    ),
    unseen(
        "timestamp-closed-stdout",
        P01,
        "A closed stdout stops the printing, not the serving.",
        "no scenario closes a program's stdout",
    ),
    unseen("timestamp-clear-errors", P01, "Clear errors.", STDERR),
    // ---- 02
    unseen(
        "contacts-homework",
        P02,
        "The homework is done.",
        "the homework scenario runs your own server2_homework.py",
    ),
    unseen(
        "contacts-every-answer",
        P02,
        "Every command gets an answer.",
        "no scenario sends server2.py a command it does not answer (client2.py would wait for ever)",
    ),
    unseen(
        "contacts-missing-field",
        P02,
        "A missing field no longer kills the server and its data.",
        NO_BAD_INPUT,
    ),
    unseen(
        "contacts-extra-fields",
        P02,
        "Extra and empty fields are refused.",
        "no scenario sends one",
    ),
    unseen(
        "welcome-message-end",
        P02,
        "A message is not one `recv`.",
        ONE_WRITE,
    ),
    unseen(
        "welcome-slow-client",
        P02,
        "No client can hold a server for long.",
        "no scenario has a silent or slow client",
    ),
    unseen(
        "contacts-limit",
        P02,
        "The phone book has a limit",
        "the scenarios add at most two contacts",
    ),
    unseen(
        "welcome-accept-backoff",
        P02,
        "A failing `accept` does not spin or stop the server",
        "accept does not fail in compare's scenarios",
    ),
    unseen(
        "welcome-pause",
        P02,
        "The pause is a flag",
        "both sides get the same 10 ms pause (--delay-ms, and the shim's time.sleep)",
    ),
    unseen(
        "welcome-clients-never-hang",
        P02,
        "The clients never hang and never print an empty answer.",
        "no scenario has a server that hangs up early",
    ),
    unseen(
        "contacts-client-no-arguments",
        P02,
        "`contacts-client` without arguments",
        "no scenario runs client2.py without arguments (it would wait for ever)",
    ),
    unseen(
        "contacts-client-error-exit",
        P02,
        "`contacts-client` exits 1 after an `error: ...` answer",
        "no scenario gets an error answer",
    ),
    unseen(
        "argv-python2",
        P02,
        "test.py is Python 2",
        "test.py runs on Python 3 (see --list), and argv-demo is started as test.py",
    ),
    unseen(
        "argv-repr",
        P02,
        "Python's `repr`, approximately.",
        "the arguments of the argv scenarios print alike",
    ),
    unseen(
        "welcome-ipv6",
        P02,
        "IPv6 works.",
        "compare runs on 127.0.0.1 only",
    ),
    // ---- 03
    unseen(
        "ping-pong-reconstruction",
        P03,
        "The ping/pong server is a reconstruction",
        "ping_pong_server.py is your own reconstruction: where it and ours differ, the \
         ping rows say RECONSTRUCTIONS DIFFER",
    ),
    by_rule(
        "accept-printer-fd",
        P03,
        "accept-printer's socket repr has no `fd=`",
        Rule::Fd,
    ),
    unseen(
        "accept-printer-keeps-client",
        P03,
        "accept-printer keeps its last client, as the original does.",
        "ours does what the original does",
    ),
    unseen(
        "ping-pong-lines",
        P03,
        "The TCP server reads lines, not single `recv`s.",
        "ping-client sends its line in one write",
    ),
    unseen(
        "ping-pong-threads",
        P03,
        "Every TCP client gets its own thread.",
        "the scenarios have one client at a time",
    ),
    unseen(
        "ping-pong-bad-input",
        P03,
        "Bad input cannot stop it.",
        "no scenario sends any",
    ),
    unseen(
        "ping-pong-limits",
        P03,
        "Its limits, and what a client can no longer do.",
        "no scenario reaches a limit",
    ),
    unseen(
        "ping-pong-closed-stdout",
        P03,
        "A closed stdout stops the printing, not the serving.",
        "compare reads every program's stdout to its end",
    ),
    unseen(
        "ping-pong-deliberate-limits",
        P03,
        "What stays a deliberate limit.",
        "no scenario reaches a limit",
    ),
    unseen(
        "ping-pong-port-zero",
        P03,
        "With `--addr HOST:0`",
        "the shim gives Python's TCP and UDP sockets one port number too",
    ),
    unseen(
        "ping-client-stands-in",
        P03,
        "`ping-client` replaces telnet and nc.",
        "the rows with the document's telnet and nc are SKIPPED; ping-client plays the client",
    ),
    // ---- 04
    Known {
        id: "sticky-race",
        page: P04,
        section: DIFFERENCES,
        item: "The sticky demo is reproducible.",
        shows: Shows::Text {
            scenarios: &["04/sticky"],
            ours: Slot::Race,
            from: "server stdout:\n  | hello\nserver: exit 0\n",
            to: "server stdout:\n  | hello world\nserver: exit 0\n",
            // compare's tap passes the two writes on as one (scenarios.rs): the
            // original then reads them together, unless they arrived apart after all.
            split_only: true,
        },
    },
    unseen(
        "sticky-reads-until-close",
        P04,
        "`sticky-server` reads until the client closes",
        "in the demo it prints what the original prints",
    ),
    unseen(
        "sticky-framed-clients",
        P04,
        "`sticky-server` and `framed-server` can serve more than one client",
        "compare runs the default, one client",
    ),
    unseen(
        "sticky-framed-slow-client",
        P04,
        "`sticky-server` and `framed-server` drop a client that is too slow",
        "no scenario has a slow client",
    ),
    unseen(
        "pack-demo-stderr",
        P04,
        "`pack-demo`'s extra lines go to stderr",
        STDERR,
    ),
    unseen(
        "framed-loops",
        P04,
        "Both framed messages are read with a loop.",
        "the clients send each header and body in one write",
    ),
    unseen(
        "framed-headers-checked",
        P04,
        "Headers are checked.",
        "no scenario sends a bad header",
    ),
    unseen(
        "framing-not-utf8",
        P04,
        "Bytes that are not UTF-8 do not crash a server.",
        NO_BAD_INPUT,
    ),
    unseen(
        "framed-client-flags",
        P04,
        "`framed-client` has `--size`, `--chunk-size` and `--pause-ms`",
        "compare runs framed-client without them",
    ),
    unseen(
        "nonblocking-accept-error",
        P04,
        "`nonblocking-accept` explains its error",
        "both exit 1 with nothing on stdout; the explanation is on stderr",
    ),
    Known {
        id: "nonblocking-server",
        page: P04,
        section: DIFFERENCES,
        item: "`nonblocking-server`",
        // "a client that closes is removed (the original answers it with empty replies
        // forever)": on the wire, ours closes that connection, the original never does.
        // (The spin and the empty replies are not on stdout.)
        shows: Shows::Wire {
            scenarios: &["04/nonblocking"],
            ours: Slot::Server,
            changes: &[(SERVER_STAYS, SERVER_CLOSES)],
        },
    },
    Known {
        id: "nonblocking-client-eof",
        page: P04,
        section: DIFFERENCES,
        item: "`nonblocking-client`",
        shows: Shows::Text {
            scenarios: &["04/nonblocking"],
            ours: Slot::Client,
            from: "  | >>: \n  (no newline at end)\nclient 1: exit 1\n",
            to: "  | >>: \nclient 1: exit 0\n",
            split_only: false,
        },
    },
    by_rule(
        "select-server-closed-client",
        P04,
        "`select-server` uses poll(2)",
        Rule::FirstLines,
    ),
    unseen(
        "select-server-nonblocking-clients",
        P04,
        "`select-server`'s client sockets are non-blocking",
        "every reply is 11 bytes, which always fit",
    ),
    unseen(
        "select-server-buffered-stdout",
        P04,
        "`select-server` writes its stdout once per poll round",
        "the lines are the same",
    ),
    unseen(
        "select-client-count",
        P04,
        "`select-client` has `--count N`",
        "compare runs it without --count, like the original, and keeps its first lines",
    ),
    unseen(
        "framing-accept-backoff",
        P04,
        "An accept that fails is retried after a pause.",
        "accept does not fail in compare's scenarios",
    ),
    by_rule(
        "socket-repr-fd",
        P04,
        "Socket reprs have no `fd=`",
        Rule::Fd,
    ),
    unseen("framing-clear-errors", P04, "Clear errors.", STDERR),
    unseen(
        "closed-stdout-04",
        P04,
        "A closed stdout stops no server.",
        "compare reads every program's stdout to its end",
    ),
    // ---- 05
    Known {
        id: "paper-scissors",
        page: P05,
        section: DIFFERENCES,
        item: "Paper against scissors.",
        shows: Shows::Text {
            scenarios: &["05/long-paper", "05/long-unknown"],
            ours: Slot::Server,
            // Both sides play the same moves (scenarios.rs, LONG_MOVES): the round of
            // paper against scissors is a win in the original, a loss in ours.
            from: "  | 胜利 (paper (3) against scissors (1))\n",
            to: "  | 失败 (paper (3) against scissors (1))\n",
            split_only: false,
        },
    },
    // The same difference on the wire: the result bytes of that round (x draw, y win,
    // z lose), with the moves of scenarios.rs's LONG_MOVES against the client's paper.
    Known {
        id: "paper-scissors-wire",
        page: P05,
        section: DIFFERENCES,
        item: "Paper against scissors.",
        shows: Shows::Wire {
            scenarios: &["05/long-paper", "05/long-unknown"],
            ours: Slot::Server,
            changes: &[
                ("  s->c b'yyxyx'\n", "  s->c b'zyxyx'\n"),
                ("  s->c b'y'\n", "  s->c b'z'\n"),
            ],
        },
    },
    unseen(
        "long-own-state",
        P05,
        "Every connection has its own state.",
        "each scenario has one client",
    ),
    Known {
        id: "long-client-leaves",
        page: P05,
        section: DIFFERENCES,
        item: "A client that leaves ends its game cleanly.",
        // On the wire: ours closes the connection at once when the client has left;
        // the original's task has crashed, and the connection stays open until the
        // server stops. (The crash itself is on stderr, which is not compared.)
        shows: Shows::Wire {
            scenarios: &["05/long", "05/long-paper", "05/long-unknown"],
            ours: Slot::Server,
            changes: &[(SERVER_STAYS, SERVER_CLOSES)],
        },
    },
    unseen(
        "long-not-a-move",
        P05,
        "A byte that is not a move closes that connection.",
        "no scenario sends one",
    ),
    unseen(
        "short-one-recv",
        P05,
        "One `recv` is not one request.",
        ONE_WRITE,
    ),
    unseen(
        "short-bare-letter",
        P05,
        "A bare letter waits for its number.",
        "our client half-closes after `a`, which ends the request: both servers drop it (scenario 05/short-bare-letter)",
    ),
    unseen(
        "short-line-ends",
        P05,
        "Line ends are accepted, for telnet and nc.",
        "the clients send no line ends",
    ),
    unseen(
        "short-1024",
        P05,
        "At most 1024 bytes make one request.",
        "no scenario sends a request over 1024 bytes",
    ),
    unseen(
        "closed-stdout-05",
        P05,
        "A closed stdout stops only the printing.",
        "compare reads every program's stdout to its end",
    ),
    Known {
        id: "short-half-close",
        page: P05,
        section: DIFFERENCES,
        item: "Our short client half-closes.",
        // The bytes are the same; the client's end comes before the answer, not after.
        shows: Shows::Wire {
            scenarios: &["05/short"],
            ours: Slot::Client,
            changes: &[(wire::CROSSING, SHORT_HALF_CLOSE)],
        },
    },
    Known {
        id: "short-bad-request",
        page: P05,
        section: DIFFERENCES,
        item: "Bad requests get one clear line, not a traceback.",
        shows: Shows::Text {
            scenarios: &["05/short-overflow"],
            ours: Slot::Server,
            from: "  | Connection from ('127.0.0.1', PORT)\n  | The client closed the connection\n",
            to: "  | Connection from ('127.0.0.1', PORT)\n",
            split_only: false,
        },
    },
    unseen(
        "short-overflow",
        P05,
        "`a1e200`: Python's `**` overflows.",
        "both close the connection without a reply (scenario 05/short-overflow)",
    ),
    unseen(
        "clients-never-wait",
        P05,
        "Clients never wait for ever.",
        "no scenario has a server that hangs up without answering",
    ),
    unseen(
        "replies-checked",
        P05,
        "Replies are checked.",
        "both servers reply alike",
    ),
    unseen(
        "short-time-limits",
        P05,
        "Time limits: what a client can no longer do.",
        "every client sends its request at once",
    ),
    unseen(
        "short-long-threads",
        P05,
        "Threads and accept errors.",
        "neither happens in compare's scenarios",
    ),
    unseen(
        "short-long-deliberate-limits",
        P05,
        "What stays a deliberate limit.",
        "no scenario reaches a limit",
    ),
    by_rule(
        "short-line-order",
        P05,
        "The order of lines from different connections may differ.",
        Rule::Unordered,
    ),
    unseen(
        "long-client-loop-argument",
        P05,
        "Python's `loop=` arguments.",
        "the --list notes say to delete `loop=` for Python 3.10 and later",
    ),
];

/// What a row compares: its stdout transcript, or its wire summary.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum On {
    Stdout,
    Wire,
}

/// The differences that may apply to `scenario` (`LESSON/NAME`), on `on`, with ours in
/// `slots` (and the original's races, which apply everywhere). `split`: whether the
/// wire tap passed the client's bytes to the server in more than one write in the row
/// or in the reference.
pub fn applicable(scenario: &str, slots: &[Slot], on: On, split: bool) -> Vec<&'static Known> {
    KNOWN
        .iter()
        .filter(|k| {
            let (scenarios, ours) = match (on, &k.shows) {
                (
                    On::Stdout,
                    Shows::Text {
                        scenarios,
                        ours,
                        split_only,
                        ..
                    },
                ) if split || !split_only => (scenarios, ours),
                (
                    On::Wire,
                    Shows::Wire {
                        scenarios, ours, ..
                    },
                ) => (scenarios, ours),
                _ => return false,
            };
            scenarios.contains(&scenario) && (*ours == Slot::Race || slots.contains(ours))
        })
        .collect()
}

/// Whether `text` is `reference` with some of the replacements of `known`: the
/// differences used (empty when none explains it).
pub fn explain(reference: &str, text: &str, known: &[&'static Known]) -> Vec<&'static Known> {
    let mut expected = reference.to_string();
    let mut actual = text.to_string();
    let mut used = Vec::new();
    for k in known {
        let (ours, changes) = match &k.shows {
            Shows::Text { ours, from, to, .. } => (*ours, vec![(*from, *to)]),
            Shows::Wire { ours, changes, .. } => (*ours, changes.to_vec()),
            _ => continue,
        };
        let mut applied = false;
        for (from, to) in changes {
            if expected.contains(from) {
                expected = expected.replace(from, to);
                applied = true;
            } else if ours == Slot::Race && actual.contains(from) {
                // The original raced the other way in this row.
                actual = actual.replace(from, to);
                applied = true;
            }
        }
        if applied {
            used.push(*k);
        }
    }
    if expected == actual { used } else { Vec::new() }
}

#[cfg(test)]
/// The text of section `heading` (a `## ` heading) of `page`, up to the next `## `.
pub fn section<'a>(page: &'a str, heading: &str) -> Option<&'a str> {
    let start = page.find(&format!("\n## {heading}\n"))? + 1;
    let body = &page[start..];
    let end = body[3..].find("\n## ").map_or(body.len(), |at| at + 4);
    Some(&body[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket_lessons::workspace_root;

    /// The bullets of section `heading` of `page`: the text after each `- **`.
    fn bullets<'a>(page: &'a str, heading: &str) -> Vec<&'a str> {
        section(page, heading)
            .unwrap_or("")
            .lines()
            .filter_map(|l| l.strip_prefix("- **"))
            .collect()
    }

    #[test]
    fn every_bullet_of_every_differences_section_has_an_entry() {
        let mut missing = Vec::new();
        for page in [P01, P02, P03, P04, P05] {
            let text = std::fs::read_to_string(workspace_root().join(page)).unwrap();
            for bullet in bullets(&text, DIFFERENCES) {
                if !KNOWN
                    .iter()
                    .any(|k| k.page == page && bullet.starts_with(k.item))
                {
                    missing.push(format!("{page}: - **{bullet}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "these differences have no entry in src/compare/known.rs:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn every_known_difference_names_a_page_bullet() {
        let mut missing = Vec::new();
        for k in KNOWN {
            let page = std::fs::read_to_string(workspace_root().join(k.page)).unwrap_or_default();
            match section(&page, k.section) {
                None => missing.push(format!(
                    "{}: {} has no section `## {}`",
                    k.id, k.page, k.section
                )),
                Some(_) => {
                    if !bullets(&page, k.section)
                        .iter()
                        .any(|b| b.starts_with(k.item))
                    {
                        missing.push(format!(
                            "{}: {} `## {}` has no bullet starting `- **{}`",
                            k.id, k.page, k.section, k.item
                        ));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }

    #[test]
    fn ids_are_unique_and_scenarios_exist() {
        for (i, k) in KNOWN.iter().enumerate() {
            assert!(KNOWN[..i].iter().all(|o| o.id != k.id), "{} twice", k.id);
            for scenario in k.scenarios() {
                assert!(
                    super::super::scenarios::SCENARIOS
                        .iter()
                        .any(|s| format!("{}/{}", s.lesson, s.name) == *scenario),
                    "{}: no scenario {scenario}",
                    k.id,
                );
            }
        }
    }

    #[test]
    fn explain_names_the_differences_that_explain_a_row() {
        let reference = "x\n  | >>: \n  (no newline at end)\nclient 1: exit 1\n";
        let ours = "x\n  | >>: \nclient 1: exit 0\n";
        let known = applicable("04/nonblocking", &[Slot::Client], On::Stdout, false);
        let used = explain(reference, ours, &known);
        assert_eq!(
            used.iter().map(|k| k.id).collect::<Vec<_>>(),
            ["nonblocking-client-eof"]
        );
        // Not with the original in the client's place, nor for another text.
        assert!(applicable("04/nonblocking", &[Slot::Server], On::Stdout, false).is_empty());
        assert!(applicable("04/nonblocking", &[Slot::Client], On::Wire, false).is_empty());
        assert!(explain(reference, "x\nclient 1: exit 0\n", &known).is_empty());
    }

    #[test]
    fn a_race_of_the_original_explains_either_direction() {
        let one = "server stdout:\n  | hello\nserver: exit 0\n";
        let both = "server stdout:\n  | hello world\nserver: exit 0\n";
        let known = applicable("04/sticky", &[], On::Stdout, true);
        assert_eq!(explain(one, both, &known).len(), 1);
        assert_eq!(explain(both, one, &known).len(), 1);
        // Not where the server got the client's bytes in one write: then printing only
        // `hello` is no race.
        assert!(applicable("04/sticky", &[], On::Stdout, false).is_empty());
    }

    #[test]
    fn a_known_difference_explains_its_own_lines_only() {
        let paper = |result: &str, r: u8| {
            format!(
                "client 1 stdout:\n  | {result} (paper (3) against {} ({r}))\n",
                if r == 1 { "scissors" } else { "rock" }
            )
        };
        let known = applicable("05/long-paper", &[Slot::Server], On::Stdout, false);
        let reference = paper("胜利", 1);
        assert_eq!(explain(&reference, &paper("失败", 1), &known).len(), 1);
        // The same result word in another round is another difference.
        assert!(explain(&paper("胜利", 2), &paper("失败", 2), &known).is_empty());
        // The wire's: the original server stays open, ours closes.
        let wire = |ends: &str| format!("wire, connection 1:\n  c->s b'1'\n{ends}");
        let known = applicable("05/long", &[Slot::Server], On::Wire, false);
        let stays = wire(SERVER_STAYS);
        assert_eq!(explain(&stays, &wire(wire::CROSSING), &known).len(), 1);
        let reset = "  1st end: the client, FIN\n  2nd end: the server, reset\n";
        assert!(explain(&stays, &wire(reset), &known).is_empty());
        assert!(applicable("05/long", &[Slot::Client], On::Wire, false).is_empty());
    }

    #[test]
    fn section_ends_at_the_next_heading() {
        let page = "# T\n\n## A\none\n### sub\ntwo\n## B\nthree\n";
        assert_eq!(section(page, "A"), Some("## A\none\n### sub\ntwo\n"));
        assert_eq!(section(page, "B"), Some("## B\nthree\n"));
        assert_eq!(section(page, "C"), None);
    }
}
