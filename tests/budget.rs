//! Every lesson program stays tiny: a student reads its `main.rs` beside the Python
//! original, so each program has a budget of code lines: twice the original's code lines
//! plus 25 (the original's steps in Rust, plus `main`, the arguments and the errors), a
//! little more for the five servers whose hardening their lesson teaches.
//!
//! Counted: every `.rs` file of the program's crate except a `sys.rs` that holds only the
//! operating system's declarations (poll, WSAPoll); a code line is one that is not blank,
//! not a comment, and comes before `#[cfg(test)]` (string literals count). The original's
//! code lines: not blank, not a `#` comment.

use std::fs;
use std::path::Path;

use socket_lessons::workspace_root;

/// (program, the original's code lines, budget): the budget is 2 x original + 25 unless
/// the lesson teaches the server's hardening.
const BUDGETS: &[(&str, usize, usize)] = &[
    ("timestamp-client", 16, 57),
    ("timestamp-server", 23, 71),
    ("welcome-client", 9, 43),
    ("welcome-server", 20, 65),
    ("argv-demo", 3, 31),
    ("contacts-client", 9, 43),
    ("contacts-server", 36, 140),
    ("accept-printer", 7, 39),
    ("ping-pong-server", 26, 120),
    ("short-client", 51, 127),
    ("short-server", 34, 140),
    ("long-client", 41, 107),
    ("long-server", 50, 125),
    ("sticky-client", 6, 37),
    ("sticky-server", 9, 55),
    ("pack-demo", 4, 33),
    ("framed-client", 13, 51),
    ("framed-server", 28, 81),
    ("nonblocking-accept", 10, 45),
    ("nonblocking-accept-client", 5, 35),
    ("nonblocking-server", 26, 77),
    ("nonblocking-client", 10, 45),
    ("select-server", 23, 90),
    ("select-client", 7, 39),
];

/// All 24 together.
const TOTAL_BUDGET: usize = 1500;

/// ping-client has no original (it stands in for telnet and nc): a budget in the spirit
/// of the others, a one-message client with TCP and UDP.
const PING_CLIENT_BUDGET: usize = 80;

/// The code lines of one Rust source text, counted as the module's text says.
pub fn code_lines(text: &str) -> usize {
    let mut count = 0;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("#[cfg(test)]") {
            break;
        }
        if !line.is_empty() && !line.starts_with("//") {
            count += 1;
        }
    }
    count
}

/// The code lines of a program's crate (its folder), `sys.rs` left out.
fn crate_lines(dir: &Path) -> usize {
    let mut total = 0;
    let mut stack = vec![dir.join("src")];
    while let Some(folder) = stack.pop() {
        for entry in fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.file_name().is_none_or(|n| n != "sys.rs")
            {
                total += code_lines(&fs::read_to_string(&path).unwrap());
            }
        }
    }
    total
}

/// The folder of a program, from its package name.
fn program_dir(package: &str) -> std::path::PathBuf {
    let crates = workspace_root().join("crates");
    for lesson in fs::read_dir(&crates).unwrap().flatten() {
        for krate in fs::read_dir(lesson.path()).unwrap().flatten() {
            let manifest = fs::read_to_string(krate.path().join("Cargo.toml")).unwrap_or_default();
            if manifest.contains(&format!("name = \"{package}\"")) {
                return krate.path();
            }
        }
    }
    panic!("no crate under crates/ is named {package}");
}

#[test]
fn every_program_is_within_its_budget() {
    let mut table = String::new();
    let mut over = Vec::new();
    let mut total = 0;
    for &(program, original, budget) in BUDGETS {
        assert!(
            budget >= 2 * original + 25,
            "{program}: budget below the rule"
        );
        let lines = crate_lines(&program_dir(program));
        total += lines;
        table.push_str(&format!("{program:<26} {lines:>4} / {budget:>4}\n"));
        if lines > budget {
            over.push(format!("{program}: {lines} code lines, budget {budget}"));
        }
    }
    let ping = crate_lines(&program_dir("ping-client"));
    if ping > PING_CLIENT_BUDGET {
        over.push(format!(
            "ping-client: {ping} code lines, budget {PING_CLIENT_BUDGET}"
        ));
    }
    if total > TOTAL_BUDGET {
        over.push(format!(
            "all 24 together: {total} code lines, budget {TOTAL_BUDGET}"
        ));
    }
    table.push_str(&format!(
        "{:<26} {total:>4} / {TOTAL_BUDGET:>4}\n",
        "all 24"
    ));
    table.push_str(&format!(
        "{:<26} {ping:>4} / {PING_CLIENT_BUDGET:>4}\n",
        "ping-client"
    ));
    eprint!("{table}");
    assert!(
        over.is_empty(),
        "over budget:\n{}\n\n{table}",
        over.join("\n")
    );
}

#[test]
fn code_lines_are_counted_as_the_budget_says() {
    let text = "//! doc\nuse std::io;\n\n    // comment\nconst HELP: &str = \"\\\nline\n\";\n#[cfg(test)]\nmod tests {}\n";
    assert_eq!(code_lines(text), 4);
}
