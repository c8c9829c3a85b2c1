//! The known differences: every deliberate difference a lesson page lists that shows in
//! a comparison, as data. A row of the report is KNOWN when the reference's normalised
//! text, with the `from` -> `to` replacements of the differences that apply, is exactly
//! the row's text. A difference applies when its slot (server or client) runs ours in
//! the row and the original in the reference.
//!
//! To adjust after a page changes: edit `item` (the bold words that start the page's
//! bullet), or the transcript text in `from`/`to` (copy it from a DIFF's lines). The test
//! `every_known_difference_names_a_page_bullet` checks that each page, section and bullet
//! exists.

/// Which side of a scenario must be ours for a difference to show.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Slot {
    Server,
    Client,
    /// The original itself races between `from` and `to` (ours always gives `to`): the
    /// replacement applies to every row, in either direction.
    Race,
}

#[derive(Debug)]
pub struct Known {
    pub id: &'static str,
    pub page: &'static str,
    /// The page's section heading (without the `## `).
    pub section: &'static str,
    /// The bold words that start the section's bullet for this difference.
    pub item: &'static str,
    /// The scenarios (`LESSON/SCENARIO`) where it shows.
    pub scenarios: &'static [&'static str],
    pub ours: Slot,
    /// In the reference's normalised text, `from` becomes `to` where ours runs.
    pub from: &'static str,
    pub to: &'static str,
}

const DIFFERENCES: &str = "Differences from the Python original";

pub const KNOWN: &[Known] = &[
    Known {
        id: "sticky-race",
        page: "lessons/04-framing-and-io-models.md",
        section: DIFFERENCES,
        item: "The sticky demo is reproducible.",
        scenarios: &["04/sticky"],
        ours: Slot::Race,
        from: "server stdout:\n  | hello\nserver: exit 0\n",
        to: "server stdout:\n  | hello world\nserver: exit 0\n",
    },
    Known {
        id: "nonblocking-client-eof",
        page: "lessons/04-framing-and-io-models.md",
        section: DIFFERENCES,
        item: "`nonblocking-client`",
        scenarios: &["04/nonblocking"],
        ours: Slot::Client,
        from: "  | >>: \n  (no newline at end)\nclient 1: exit 1\n",
        to: "  | >>: \nclient 1: exit 0\n",
    },
    Known {
        id: "paper-scissors",
        page: "lessons/05-short-and-long-connections.md",
        section: DIFFERENCES,
        item: "Paper against scissors.",
        scenarios: &["05/long-paper", "05/long-unknown"],
        ours: Slot::Server,
        from: "<result, wrong by the rules: paper (3) against scissors (1) is a lose, not a win>",
        to: "<result>",
    },
    Known {
        id: "short-error-no-client-closed",
        page: "lessons/05-short-and-long-connections.md",
        section: DIFFERENCES,
        item: "Bad requests get one clear line, not a traceback.",
        scenarios: &["05/short-overflow"],
        ours: Slot::Server,
        from: "  | Connection from ('127.0.0.1', PORT)\n  | The client closed the connection\n",
        to: "  | Connection from ('127.0.0.1', PORT)\n",
    },
];

/// The differences that may apply to `scenario` (`LESSON/NAME`) with ours in `slots`
/// (and the original's races, which apply everywhere).
pub fn applicable(scenario: &str, slots: &[Slot]) -> Vec<&'static Known> {
    KNOWN
        .iter()
        .filter(|k| {
            k.scenarios.contains(&scenario) && (k.ours == Slot::Race || slots.contains(&k.ours))
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
        if expected.contains(k.from) {
            expected = expected.replace(k.from, k.to);
            used.push(*k);
        } else if k.ours == Slot::Race && actual.contains(k.from) {
            // The original raced the other way in this row.
            actual = actual.replace(k.from, k.to);
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
                Some(text) => {
                    if !text.contains(&format!("- **{}", k.item)) {
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
            for scenario in k.scenarios {
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
        let known = applicable("04/nonblocking", &[Slot::Client]);
        let used = explain(reference, ours, &known);
        assert_eq!(
            used.iter().map(|k| k.id).collect::<Vec<_>>(),
            ["nonblocking-client-eof"]
        );
        // Not with the original in the client's place, nor for another text.
        assert!(applicable("04/nonblocking", &[Slot::Server]).is_empty());
        assert!(explain(reference, "x\nclient 1: exit 0\n", &known).is_empty());
    }

    #[test]
    fn a_race_of_the_original_explains_either_direction() {
        let one = "server stdout:\n  | hello\nserver: exit 0\n";
        let both = "server stdout:\n  | hello world\nserver: exit 0\n";
        let known = applicable("04/sticky", &[]);
        assert_eq!(explain(one, both, &known).len(), 1);
        assert_eq!(explain(both, one, &known).len(), 1);
    }

    #[test]
    fn section_ends_at_the_next_heading() {
        let page = "# T\n\n## A\none\n### sub\ntwo\n## B\nthree\n";
        assert_eq!(section(page, "A"), Some("## A\none\n### sub\ntwo\n"));
        assert_eq!(section(page, "B"), Some("## B\nthree\n"));
        assert_eq!(section(page, "C"), None);
    }
}
