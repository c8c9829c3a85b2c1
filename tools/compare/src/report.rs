//! The report: one row per lesson, scenario and combination, the unified diffs of the
//! DIFF rows, the rules used, how the programs were run; and the --keep transcripts.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use super::normalise::Rule;
use super::{Ctx, ScenarioResult, Verdict, Who, scenarios};

pub fn short_verdict(v: &Verdict) -> String {
    match v {
        Verdict::Reference => "reference".into(),
        Verdict::Same => "SAME".into(),
        Verdict::SameAfter(rules) => format!("SAME after normalising ({})", rule_names(rules)),
        Verdict::Known(known, _) => format!(
            "KNOWN ({})",
            known.iter().map(|k| k.id).collect::<Vec<_>>().join(", ")
        ),
        Verdict::Diff(_) => "DIFF".into(),
        Verdict::Skipped(why) => format!("SKIPPED: {why}"),
    }
}

fn rule_names(rules: &[Rule]) -> String {
    rules
        .iter()
        .map(|r| r.name())
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn keep(dir: &Path, results: &[ScenarioResult]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for result in results {
        let sc = result.scenario;
        for row in &result.rows {
            let Some(raw) = &row.raw else { continue };
            let name = format!(
                "{}-{}-{}.txt",
                sc.lesson,
                sc.name,
                row.combo.label().replace('/', "-")
            );
            let body = format!(
                "{} {} {}: {}\n\n== raw\n{raw}\n== normalised\n{}",
                sc.lesson,
                sc.name,
                row.combo.label(),
                short_verdict(&row.verdict),
                row.transcript.as_deref().unwrap_or("")
            );
            std::fs::write(dir.join(&name), body)
                .map_err(|e| format!("cannot write {}: {e}", dir.join(&name).display()))?;
        }
    }
    Ok(())
}

/// Prints the report; true when no row is DIFF.
pub fn report(ctx: &Ctx, results: &[ScenarioResult], took: Duration, keep: bool) -> bool {
    let mut counts = [0usize; 6];
    let mut diffs = Vec::new();
    let mut rules_used = BTreeSet::new();
    println!("compare: the report (each row compared with its scenario's reference run)\n");
    for result in results {
        let sc = result.scenario;
        for row in &result.rows {
            let label = format!("{} {:<26} {:<9}", sc.lesson, sc.name, row.combo.label());
            let line = match &row.verdict {
                Verdict::Reference => {
                    counts[0] += 1;
                    "reference".to_string()
                }
                Verdict::Same => {
                    counts[1] += 1;
                    "SAME".to_string()
                }
                Verdict::SameAfter(rules) => {
                    counts[1] += 1;
                    rules_used.extend(rules.iter().copied());
                    format!("SAME after normalising ({})", rule_names(rules))
                }
                Verdict::Known(known, rules) => {
                    counts[2] += 1;
                    rules_used.extend(rules.iter().copied());
                    let names: Vec<String> = known
                        .iter()
                        .map(|k| format!("{} ({}, {}: \"{}\")", k.id, k.page, k.section, k.item))
                        .collect();
                    format!("KNOWN {}", names.join("; "))
                }
                Verdict::Diff(d) => {
                    counts[3] += 1;
                    diffs.push((label.clone(), d.clone()));
                    "DIFF (below)".to_string()
                }
                Verdict::Skipped(why) => {
                    counts[4] += 1;
                    format!("SKIPPED: {why}")
                }
            };
            println!("  {label} {line}");
        }
    }
    for (label, d) in &diffs {
        println!(
            "\nDIFF {}\n{d}",
            label.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }
    if !diffs.is_empty() && !keep {
        println!("(`--keep DIR` writes the raw transcripts of every row to DIR)");
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
            "  Python ({}) ran `{} -u FILE` in {}, with a shim that moved every fixed port \
             to a free one on 127.0.0.1 (with SO_REUSEADDR), limited time.sleep to {} ms \
             (our servers got --delay-ms {} where they pause), and TZ=UTC",
            ctx.python.as_deref().unwrap_or("not found"),
            super::python(),
            ctx.originals.as_deref().unwrap_or(Path::new(".")).display(),
            scenarios::DELAY_MS,
            scenarios::DELAY_MS,
        );
    }
    println!("  ours ran on 127.0.0.1:0; stderr is kept with --keep, not compared");
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
    println!(
        "\n{} rows: {} reference, {} SAME, {} KNOWN, {} DIFF, {} SKIPPED ({:.1} s)",
        counts.iter().sum::<usize>(),
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        counts[4],
        took.as_secs_f64()
    );
    counts[3] == 0
}
