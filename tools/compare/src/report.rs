//! The report: one row per lesson, scenario and combination (its stdout verdict and,
//! beside it, its wire verdict), the unified diffs of the rows that differ, the rules
//! used, how the programs were run; and the --keep transcripts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::normalise::Rule;
use super::{Ctx, Row, ScenarioResult, Verdict, Who, WireVerdict, scenarios};

/// What the exit status is made of.
pub struct Outcome {
    /// A row is DIFF (stdout or wire) or FAILED.
    pub differs: bool,
    /// At least one row was compared with a reference.
    pub compared: bool,
}

/// A row's verdicts in a few words: the progress lines and the transcripts' headers.
pub fn short_verdict(row: &Row) -> String {
    let stdout = match &row.verdict {
        Verdict::Reference => "reference".into(),
        Verdict::Same => "SAME".into(),
        Verdict::SameAfter(rules) => format!("SAME after normalising ({})", rule_names(rules)),
        Verdict::Known(known, _) => format!(
            "KNOWN ({})",
            known.iter().map(|k| k.id).collect::<Vec<_>>().join(", ")
        ),
        Verdict::Diff(_) => "DIFF".into(),
        Verdict::Reconstructions(_) => "RECONSTRUCTIONS DIFFER".into(),
        Verdict::Failed(why) => format!("FAILED: {why}"),
        Verdict::Skipped(why) => format!("SKIPPED: {why}"),
    };
    match &row.wire {
        Some(wire) if !matches!(wire, WireVerdict::Reference) => {
            format!("{stdout} | wire {}", wire_words(wire, false))
        }
        _ => stdout,
    }
}

fn wire_words(wire: &WireVerdict, long: bool) -> String {
    match wire {
        WireVerdict::Reference => "reference".into(),
        WireVerdict::Same => "SAME".into(),
        WireVerdict::Known(known) => {
            let names: Vec<String> = known
                .iter()
                .map(|k| {
                    if long {
                        format!("{} ({}, {}: \"{}\")", k.id, k.page, k.section, k.item)
                    } else {
                        k.id.to_string()
                    }
                })
                .collect();
            format!("KNOWN {}", names.join("; "))
        }
        WireVerdict::Diff(_) if long => "DIFF (below)".into(),
        WireVerdict::Diff(_) => "DIFF".into(),
        WireVerdict::Reconstructions(_) if long => "RECONSTRUCTIONS DIFFER (below)".into(),
        WireVerdict::Reconstructions(_) => "RECONSTRUCTIONS DIFFER".into(),
    }
}

fn rule_names(rules: &[Rule]) -> String {
    rules
        .iter()
        .map(|r| r.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What heads every transcript of a run.
pub struct Header {
    pub originals: Option<PathBuf>,
    pub command: String,
    pub started: SystemTime,
}

/// The command line as the instructor typed it, after `cargo compare`.
pub fn command_line(args: &[String]) -> String {
    let mut line = "cargo compare".to_string();
    for arg in args {
        let plain = !arg.is_empty()
            && arg
                .chars()
                .all(|c| c.is_alphanumeric() || "-_./:=,+@%".contains(c));
        line.push(' ');
        if plain {
            line.push_str(arg);
        } else {
            line.push_str(&format!("'{}'", arg.replace('\'', r"'\''")));
        }
    }
    line
}

/// `20240527-214358` from `Sun May 27 21:43:58 2024` (UTC): the name of a run's folder.
fn stamp(at: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let ctime = py_compat::ctime(at);
    let words: Vec<&str> = ctime.split_whitespace().collect();
    let month = MONTHS
        .iter()
        .position(|m| Some(m) == words.get(1))
        .unwrap_or(0)
        + 1;
    let day: u32 = words.get(2).and_then(|d| d.parse().ok()).unwrap_or(0);
    let time = words.get(3).unwrap_or(&"").replace(':', "");
    format!("{}{month:02}{day:02}-{time}", words.get(4).unwrap_or(&""))
}

/// A new folder in `dir` for this run's transcripts (`compare-20240527-214358`, with
/// `-2`, `-3` after it when a run in the same second made one): a run never mixes its
/// files with an earlier run's, and never deletes anything.
pub fn fresh_keep_dir(dir: &Path, started: SystemTime) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("--keep {}: cannot create it: {e}", dir.display()))?;
    let base = format!("compare-{}", stamp(started));
    for n in 1..1000 {
        let name = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let path = dir.join(name);
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(format!(
                    "--keep {}: cannot create a folder in it: {e}",
                    dir.display()
                ));
            }
        }
    }
    Err(format!(
        "--keep {}: too many runs in one second",
        dir.display()
    ))
}

/// One file per row, SKIPPED and FAILED rows too, each headed by the run's originals
/// folder, command and time.
pub fn keep(dir: &Path, header: &Header, results: &[ScenarioResult]) -> Result<(), String> {
    let originals = match &header.originals {
        Some(dir) => dir.display().to_string(),
        None => "none (--self-test: ours in every slot)".to_string(),
    };
    for result in results {
        let sc = result.scenario;
        for row in &result.rows {
            let name = format!(
                "{}-{}-{}.txt",
                sc.lesson,
                sc.name,
                row.combo.label().replace('/', "-")
            );
            let mut body = format!(
                "compare: {} {} {}\noriginals: {originals}\ncommand: {}\nstarted: {} UTC\n\
                 verdict: {}\n",
                sc.lesson,
                sc.name,
                row.combo.label(),
                header.command,
                py_compat::ctime(header.started),
                short_verdict(row),
            );
            if let Some(raw) = &row.raw {
                body.push_str(&format!("\n== raw\n{raw}"));
            }
            if let Some(text) = &row.transcript {
                body.push_str(&format!("\n== normalised\n{text}"));
            }
            if let Some(wire) = &row.wire_text {
                body.push_str(&format!("\n== the wire, summarised\n{wire}"));
            }
            let path = dir.join(&name);
            std::fs::write(&path, body)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// The counts of the verdicts, by kind.
#[derive(Default)]
struct Counts {
    reference: usize,
    same: usize,
    known: usize,
    diff: usize,
    skipped: usize,
    failed: usize,
    reconstructions: usize,
    wire_same: usize,
    wire_known: usize,
    wire_diff: usize,
    wire_reconstructions: usize,
}

/// Prints the report, and says what the exit status is made of.
pub fn report(
    ctx: &Ctx,
    results: &[ScenarioResult],
    took: Duration,
    keep: Option<&Path>,
) -> Outcome {
    let mut counts = Counts::default();
    let mut diffs = Vec::new();
    let mut rules_used = BTreeSet::new();
    println!("compare: the report (each row compared with its scenario's reference run)\n");
    for result in results {
        let sc = result.scenario;
        for row in &result.rows {
            let label = format!("{} {:<26} {:<9}", sc.lesson, sc.name, row.combo.label());
            let short = label.split_whitespace().collect::<Vec<_>>().join(" ");
            let mut line = match &row.verdict {
                Verdict::Reference => {
                    counts.reference += 1;
                    "reference".to_string()
                }
                Verdict::Same => {
                    counts.same += 1;
                    "SAME".to_string()
                }
                Verdict::SameAfter(rules) => {
                    counts.same += 1;
                    rules_used.extend(rules.iter().copied());
                    format!("SAME after normalising ({})", rule_names(rules))
                }
                Verdict::Known(known, rules) => {
                    counts.known += 1;
                    rules_used.extend(rules.iter().copied());
                    let names: Vec<String> = known
                        .iter()
                        .map(|k| format!("{} ({}, {}: \"{}\")", k.id, k.page, k.section, k.item))
                        .collect();
                    format!("KNOWN {}", names.join("; "))
                }
                Verdict::Diff(d) => {
                    counts.diff += 1;
                    diffs.push((format!("DIFF {short}"), d.clone()));
                    "DIFF (below)".to_string()
                }
                Verdict::Reconstructions(d) => {
                    counts.reconstructions += 1;
                    diffs.push((
                        format!(
                            "RECONSTRUCTIONS DIFFER {short} (both sides reconstruct a \
                             program the document does not show)"
                        ),
                        d.clone(),
                    ));
                    "RECONSTRUCTIONS DIFFER (below)".to_string()
                }
                Verdict::Failed(why) => {
                    counts.failed += 1;
                    format!("FAILED: {why}")
                }
                Verdict::Skipped(why) => {
                    counts.skipped += 1;
                    format!("SKIPPED: {why}")
                }
            };
            match &row.wire {
                Some(WireVerdict::Reference) | None => {}
                Some(wire) => {
                    match wire {
                        WireVerdict::Same => counts.wire_same += 1,
                        WireVerdict::Known(_) => counts.wire_known += 1,
                        WireVerdict::Diff(d) => {
                            counts.wire_diff += 1;
                            diffs.push((format!("DIFF {short}, on the wire"), d.clone()));
                        }
                        WireVerdict::Reconstructions(d) => {
                            counts.wire_reconstructions += 1;
                            diffs.push((
                                format!("RECONSTRUCTIONS DIFFER {short}, on the wire"),
                                d.clone(),
                            ));
                        }
                        WireVerdict::Reference => {}
                    }
                    line.push_str(&format!(" | wire {}", wire_words(wire, true)));
                }
            }
            println!("  {label} {line}");
        }
    }
    for (title, d) in &diffs {
        println!("\n{title}\n{d}");
    }
    match keep {
        Some(dir) => println!(
            "\nthe raw transcripts of every row are in {}",
            dir.display()
        ),
        None if !diffs.is_empty() || counts.failed > 0 => {
            println!(
                "\n(`--keep DIR` writes the raw transcripts of every row into a new folder in DIR)"
            )
        }
        None => {}
    }
    if !rules_used.is_empty() {
        println!("\nnormalising rules used:");
        for rule in &rules_used {
            println!("  {:<14} {}", rule.name(), rule.describe());
        }
    }
    println!("\nhow compare ran them:");
    if ctx.self_test {
        println!("  self-test: ours played the originals' parts too");
    } else {
        println!(
            "  Python ({}) ran `{} -u FILE` in {}, with a shim that moved its document's \
             fixed port to a free one on 127.0.0.1 (with SO_REUSEADDR) and reported any \
             other port it used, fed the long server the moves ours got from \
             --seed {}, limited time.sleep to {} ms (our servers got --delay-ms {} where \
             they pause), and TZ=UTC",
            ctx.python.as_deref().unwrap_or("not found"),
            super::python(),
            ctx.originals.as_deref().unwrap_or(Path::new(".")).display(),
            scenarios::LONG_SEED,
            scenarios::DELAY_MS,
            scenarios::DELAY_MS,
        );
    }
    println!(
        "  ours ran on 127.0.0.1:0; stderr is kept with --keep, not compared; the clients \
         reached every server through a wire tap (the wire-tap crate's relay), which \
         recorded the bytes each way and how each side ended"
    );
    for result in results {
        let id = format!("{}/{}", result.scenario.lesson, result.scenario.name);
        let python_ran = result.rows.iter().any(|r| {
            r.raw.is_some() && (r.combo.client == Who::Py || r.combo.server == Some(Who::Py))
        });
        if let Some((_, note)) = scenarios::NOTES.iter().find(|(s, _)| *s == id)
            && python_ran
            && !ctx.self_test
        {
            println!("  {id}: {note}");
        }
    }
    let c = &counts;
    let rows = c.reference + c.same + c.known + c.diff + c.reconstructions + c.failed + c.skipped;
    println!(
        "\n{rows} rows: {} reference, {} SAME, {} KNOWN, {} DIFF, {} SKIPPED, {} FAILED, \
         {} RECONSTRUCTIONS DIFFER; on the wire: {} SAME, {} KNOWN, {} DIFF, {} \
         RECONSTRUCTIONS DIFFER ({:.1} s)",
        c.reference,
        c.same,
        c.known,
        c.diff,
        c.skipped,
        c.failed,
        c.reconstructions,
        c.wire_same,
        c.wire_known,
        c.wire_diff,
        c.wire_reconstructions,
        took.as_secs_f64()
    );
    Outcome {
        differs: c.diff + c.wire_diff + c.failed > 0,
        compared: c.same + c.known + c.diff + c.reconstructions > 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn a_runs_folder_is_named_by_its_time_and_never_reused() {
        let at = UNIX_EPOCH + Duration::from_secs(1_527_457_438);
        assert_eq!(stamp(at), "20180527-214358");
        let dir = crate::run::TempDir::new("keep-test").unwrap();
        let first = fresh_keep_dir(dir.path(), at).unwrap();
        let second = fresh_keep_dir(dir.path(), at).unwrap();
        assert!(first.ends_with("compare-20180527-214358"));
        assert!(second.ends_with("compare-20180527-214358-2"));
    }

    #[test]
    fn the_command_line_is_quoted_where_a_shell_needs_it() {
        let args: Vec<String> = ["--originals", "/tmp/my originals", "04"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            command_line(&args),
            "cargo compare --originals '/tmp/my originals' 04"
        );
    }
}
