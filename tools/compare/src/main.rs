//! `cargo compare` (an alias of `cargo run --package compare --`, in .cargo/config.toml):
//! the instructor's tool, a package of its own so that a student's `cargo run` never
//! compiles it. It runs every scenario of the chosen lessons with the Python
//! originals and with ours, in the four combinations (Python server + Python client,
//! Python server + our client, our server + Python client, ours + ours), and compares
//! each combination's normalised output with the first one that ran (normally Python +
//! Python). See `HELP`, and INSTRUCTORS.md for the instructor's side.
//!
//! This file: the options, the choice of scenarios, the scheduling of the runs and the
//! verdict of each row. The rest, by topic: scenarios.rs (what runs, as data), shim.rs
//! (the Python start-up shim), run.rs (one process, bounded), play.rs (one combination
//! of a scenario, whether its originals ran as their documents' programs would, and its
//! transcript), wire.rs (the wire tap in front of every server, and the wire's
//! summary), normalise.rs (the rules), known.rs (the known differences), diff.rs,
//! report.rs (the report and --keep), list.rs (`--list`).

#![deny(clippy::unwrap_used)]

mod diff;
mod known;
mod list;
mod normalise;
mod play;
mod report;
mod run;
mod scenarios;
mod shim;
mod wire;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use socket_lessons::binary;

use known::On;
use known::{Known, Slot};
use normalise::Rule;
use play::{Failure, run_combo, transcript};
use report::short_verdict;
use run::{Proc, TempDir};
use scenarios::{LESSONS, Prog, SCENARIOS, Scenario};

const HELP: &str = "\
usage: cargo compare --originals DIR [--keep DIR] [--step-timeout-ms MS] [LESSON...]
       cargo compare --self-test [LESSON...]
       cargo compare --list

Runs every scenario of each lesson with the Python originals in DIR and with ours, in
four combinations: Python server + Python client (the reference), Python server + our
client, our server + Python client, ours + ours (a program with no server: Python, then
ours). Each combination's stdout and exit statuses, normalised, are compared with the
reference; where there is a server, the clients reach it through a wire tap, and the
bytes each way and how each side ended are compared too (`| wire ...`). A row says SAME,
SAME after normalising (the rules), KNOWN (a difference a lesson page lists: the page
and its section), DIFF (a unified diff follows the table), RECONSTRUCTIONS DIFFER (the
ping rows: the document has no code, yours and ours are reconstructions), FAILED (an
original did not run as its document's program would: it does not start, listens on
another port, or raises; no comparison), or SKIPPED (why). The first combination whose
originals all ran as their documents' would is the reference.

Exit status: 0 when no row is DIFF or FAILED, 1 otherwise; 2 on a usage error, an I/O
error (--keep), or when nothing was compared (every row SKIPPED: no files, no Python).

Python runs as `python3 -u FILE` in DIR, with a start-up shim (a sitecustomize.py in a
temporary folder on PYTHONPATH) that moves its document's fixed port to a free one
(and reports any other port it uses), feeds the long server our moves, and limits
time.sleep to our --delay-ms; TZ=UTC. COMPARE_PYTHON names another interpreter. Ours
run on 127.0.0.1:0. stderr is kept (see --keep) but not compared: ours prints its
announcements and one-line errors there.

  LESSON              a lesson number or name (01, 1, timestamp), or LESSON/SCENARIO
                      (04/select); default: every lesson
  --originals DIR     the folder with your copies of the originals (see --list)
  --list              the files compare looks for, where each is in its document,
                      what to change for Python 3.11, the scenarios, and what compare
                      does about each difference the lesson pages list
  --keep DIR          write every row's raw transcript (commands, stdout, stderr, exit,
                      the wire) into a new folder in DIR, one per run
  --step-timeout-ms MS  how long one program may take to start, answer or exit
                      (default 5000); one that takes longer is stopped and reported
  --self-test         run ours in the originals' places too (no Python needed): every
                      row must be SAME; this checks compare itself
  -h, --help          this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match Options::parse(&args) {
        Ok(Some(options)) => options,
        Ok(None) => return ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("compare: {why}\n(run `cargo compare --help` for the usage)");
            return ExitCode::from(2);
        }
    };
    match run_all(&options, &args) {
        Ok(outcome) if outcome.differs => ExitCode::FAILURE,
        Ok(outcome) if !outcome.compared => {
            eprintln!(
                "compare: nothing was compared: every row was SKIPPED (the reasons are in \
                 the report)"
            );
            ExitCode::from(2)
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("compare: {why}");
            ExitCode::from(2)
        }
    }
}

struct Options {
    originals: Option<PathBuf>,
    self_test: bool,
    keep: Option<PathBuf>,
    step: Duration,
    chosen: Vec<&'static Scenario>,
}

impl Options {
    /// The options, or None when the job was done here (--help, --list).
    fn parse(args: &[String]) -> Result<Option<Options>, String> {
        let mut originals = None;
        let mut self_test = false;
        let mut keep = None;
        let mut step = Duration::from_millis(5000);
        let mut selection = Vec::new();
        let mut list = false;
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match arg.as_str() {
                "-h" | "--help" => {
                    print!("{HELP}");
                    return Ok(None);
                }
                "--list" => list = true,
                "--self-test" => self_test = true,
                "--originals" => originals = Some(PathBuf::from(value("--originals")?)),
                "--keep" => keep = Some(PathBuf::from(value("--keep")?)),
                "--step-timeout-ms" => {
                    let text = value("--step-timeout-ms")?;
                    let ms: u64 = text.parse().ok().filter(|&ms| ms > 0).ok_or_else(|| {
                        format!(
                            "--step-timeout-ms {text:?} is not a number of milliseconds above 0"
                        )
                    })?;
                    step = Duration::from_millis(ms);
                }
                other if other.starts_with('-') => return Err(format!("unknown option {other}")),
                other => selection.push(other.to_string()),
            }
        }
        if list {
            print!("{}", list::list_text());
            return Ok(None);
        }
        let chosen = select(&selection)?;
        match (&originals, self_test) {
            (None, false) => return Err("give --originals DIR (or --self-test, or --list)".into()),
            (Some(_), true) => return Err("--originals and --self-test exclude each other".into()),
            (Some(dir), false) if !dir.is_dir() => {
                return Err(format!("--originals {}: no such folder", dir.display()));
            }
            _ => {}
        }
        Ok(Some(Options {
            originals,
            self_test,
            keep,
            step,
            chosen,
        }))
    }
}

/// The scenarios of the chosen lessons, with the tour's lesson syntax (01, 1,
/// timestamp, 01-timestamp), or one scenario as LESSON/SCENARIO.
fn select(selection: &[String]) -> Result<Vec<&'static Scenario>, String> {
    if selection.is_empty() {
        return Ok(SCENARIOS.iter().collect());
    }
    let mut chosen: Vec<&'static Scenario> = Vec::new();
    for arg in selection {
        let (lesson_arg, scenario) = match arg.split_once('/') {
            Some((l, s)) => (l, Some(s)),
            None => (arg.as_str(), None),
        };
        let wanted = lesson_arg.trim_start_matches('0');
        let lesson = LESSONS
            .iter()
            .find(|l| {
                l.id.trim_start_matches('0') == wanted
                    || l.name == lesson_arg
                    || format!("{}-{}", l.id, l.name) == lesson_arg
            })
            .ok_or_else(|| format!("no lesson {lesson_arg:?} (see `cargo compare --list`)"))?;
        let before = chosen.len();
        for sc in SCENARIOS.iter().filter(|s| s.lesson == lesson.id) {
            if scenario.is_none_or(|name| name == sc.name)
                && !chosen.iter().any(|c| std::ptr::eq(*c, sc))
            {
                chosen.push(sc);
            }
        }
        if chosen.len() == before && scenario.is_some() {
            return Err(format!(
                "lesson {} has no scenario {arg:?} (see --list)",
                lesson.id
            ));
        }
    }
    chosen.sort_by_key(|sc| SCENARIOS.iter().position(|s| std::ptr::eq(s, *sc)));
    Ok(chosen)
}

/// Who plays one side.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Who {
    Py,
    Ours,
}

/// One combination: who plays the server (None: the scenario has none) and the clients.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Combo {
    server: Option<Who>,
    client: Who,
}

impl Combo {
    fn label(self) -> String {
        let name = |w: Who| if w == Who::Py { "py" } else { "ours" };
        match self.server {
            Some(s) => format!("{}/{}", name(s), name(self.client)),
            None => name(self.client).to_string(),
        }
    }

    fn all(sc: &Scenario) -> Vec<Combo> {
        if sc.server.is_some() {
            [
                (Who::Py, Who::Py),
                (Who::Py, Who::Ours),
                (Who::Ours, Who::Py),
                (Who::Ours, Who::Ours),
            ]
            .into_iter()
            .map(|(s, c)| Combo {
                server: Some(s),
                client: c,
            })
            .collect()
        } else {
            [Who::Py, Who::Ours]
                .into_iter()
                .map(|c| Combo {
                    server: None,
                    client: c,
                })
                .collect()
        }
    }

    /// The slots where this combination runs ours and `reference` the original.
    fn ours_where_reference_is_py(self, reference: Combo) -> Vec<Slot> {
        let mut slots = Vec::new();
        if self.server == Some(Who::Ours) && reference.server == Some(Who::Py) {
            slots.push(Slot::Server);
        }
        if self.client == Who::Ours && reference.client == Who::Py {
            slots.push(Slot::Client);
        }
        slots
    }
}

/// What every run shares.
struct Ctx {
    originals: Option<PathBuf>,
    self_test: bool,
    /// The python3 version, or why there is none.
    python: Result<String, String>,
    shim_dir: TempDir,
    step: Duration,
    counter: Mutex<usize>,
}

/// The verdict of one row, on its stdout (and exit statuses).
#[derive(Clone, Debug)]
enum Verdict {
    Reference,
    Same,
    SameAfter(Vec<Rule>),
    Known(Vec<&'static Known>, Vec<Rule>),
    Diff(String),
    /// Both sides are reconstructions of a program the document does not show: the
    /// diff, which says nothing about faithfulness.
    Reconstructions(String),
    /// An original did not run as its document's program would: why, with its stderr.
    Failed(String),
    Skipped(String),
}

/// The verdict of one row on the wire (the scenarios with a server).
#[derive(Clone, Debug)]
enum WireVerdict {
    Reference,
    Same,
    Known(Vec<&'static Known>),
    Diff(String),
    Reconstructions(String),
}

struct Row {
    combo: Combo,
    verdict: Verdict,
    wire: Option<WireVerdict>,
    transcript: Option<String>,
    wire_text: Option<String>,
    raw: Option<String>,
}

impl Row {
    fn new(combo: Combo, verdict: Verdict) -> Row {
        Row {
            combo,
            verdict,
            wire: None,
            transcript: None,
            wire_text: None,
            raw: None,
        }
    }
}

struct ScenarioResult {
    scenario: &'static Scenario,
    rows: Vec<Row>,
}

/// The version of `python3`, or why it cannot run (within 10 seconds). It also
/// remembers the interpreter's own path (`sys.executable`) for every later run: a
/// `python3` found on PATH may be a launcher script (pyenv's costs 80 ms a start).
fn python_version() -> Result<String, String> {
    let mut cmd = Command::new(python());
    cmd.args([
        "-c",
        "import sys; print('%d.%d.%d' % sys.version_info[:3]); print(sys.executable)",
    ]);
    let mut proc = Proc::spawn(cmd, "").map_err(|_| format!("{} not found", python()))?;
    let exited = proc.wait_exit(Duration::from_secs(10));
    let out = proc.finish(None);
    if !exited || out.end != "exit 0" {
        return Err(format!("{} does not run ({})", python(), out.end));
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut lines = text.lines();
    let version = lines.next().unwrap_or_default().trim().to_string();
    if let Some(exe) = lines.next().map(str::trim).filter(|exe| !exe.is_empty()) {
        let _ = PYTHON_EXE.set(exe.to_string());
    }
    Ok(version)
}

static PYTHON_EXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The interpreter as the instructor names it (COMPARE_PYTHON, or `python3`).
fn python() -> String {
    std::env::var("COMPARE_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// The interpreter to start the originals with: its own path once known.
fn python_exe() -> String {
    PYTHON_EXE.get().cloned().unwrap_or_else(python)
}

fn run_all(options: &Options, args: &[String]) -> Result<report::Outcome, String> {
    let started = Instant::now();
    let started_at = std::time::SystemTime::now();
    // A fresh folder for this run's transcripts, made before anything runs: a --keep
    // that cannot be written stops compare at once.
    let keep = match &options.keep {
        Some(dir) => Some(report::fresh_keep_dir(dir, started_at)?),
        None => None,
    };
    let shim_dir = TempDir::new("compare-shim")?;
    shim::write(shim_dir.path())?;
    let ctx = Arc::new(Ctx {
        originals: options.originals.clone(),
        self_test: options.self_test,
        python: if options.self_test {
            Err("not needed".into())
        } else {
            python_version()
        },
        shim_dir,
        step: options.step,
        counter: Mutex::new(0),
    });
    // The first call builds every lesson program (cargo build), once: a first run
    // compiles for a while, so say so.
    eprintln!("compare: building our programs (cargo build, every lesson program)");
    binary("timestamp-server").map_err(|why| format!("cannot build our programs: {why}"))?;
    let total: usize = options.chosen.iter().map(|sc| Combo::all(sc).len()).sum();
    eprintln!(
        "compare: {} scenarios, {total} runs{}",
        options.chosen.len(),
        match (&ctx.python, ctx.self_test) {
            (_, true) => " (self-test: ours in every slot)".to_string(),
            (Ok(v), _) => format!(" ({} {v})", python()),
            (Err(why), _) => format!(" ({why}: the Python runs are skipped)"),
        }
    );

    // The scenarios run side by side (their processes mostly wait on each other); in
    // each, the reference runs first, then the other combinations side by side.
    let queue: Arc<Mutex<Vec<(usize, &'static Scenario)>>> = Arc::new(Mutex::new(
        options.chosen.iter().copied().enumerate().rev().collect(),
    ));
    let results: Arc<Mutex<Vec<(usize, ScenarioResult)>>> = Arc::new(Mutex::new(Vec::new()));
    let all_results = Arc::clone(&results);
    // Ours start in milliseconds; Python takes tens of them on a busy machine.
    let workers = if ctx.self_test { 12 } else { 6 };
    let workers = workers.min(options.chosen.len().max(1));
    let worker_ctx = Arc::clone(&ctx);
    let work = move || {
        let ctx = &worker_ctx;
        loop {
            let next = queue.lock().ok().and_then(|mut q| q.pop());
            let Some((index, sc)) = next else { break };
            let result = run_scenario_or_say_why(ctx, sc, total);
            if let Ok(mut all) = results.lock() {
                all.push((index, result));
            }
        }
    };
    // Every worker is joined before the report: none may outlive us with its programs.
    let mut handles = Vec::new();
    for _ in 0..workers {
        match thread::Builder::new().spawn(work.clone()) {
            Ok(handle) => handles.push(handle),
            Err(_) => break, // fewer workers; this thread works too, below
        }
    }
    work();
    for handle in handles {
        let _ = handle.join();
    }
    let mut results = std::mem::take(&mut *all_results.lock().map_err(|_| "poisoned")?);
    results.sort_by_key(|(i, _)| *i);
    let results: Vec<ScenarioResult> = results.into_iter().map(|(_, r)| r).collect();

    if let Some(dir) = &keep {
        let header = report::Header {
            originals: ctx.originals.clone(),
            command: report::command_line(args),
            started: started_at,
        };
        report::keep(dir, &header, &results)?;
    }
    Ok(report::report(
        &ctx,
        &results,
        started.elapsed(),
        keep.as_deref(),
    ))
}

/// Runs a scenario; if compare itself fails in it (a panic), its rows say so as DIFF,
/// so that the run goes on and the failure is seen.
fn run_scenario_or_say_why(ctx: &Ctx, sc: &'static Scenario, total: usize) -> ScenarioResult {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_scenario(ctx, sc, total)
    }));
    run.unwrap_or_else(|panic| {
        let why = format!("compare itself failed here: {}", panic_message(&*panic));
        let rows = Combo::all(sc)
            .into_iter()
            .map(|combo| progress(ctx, total, sc, Row::new(combo, Verdict::Diff(why.clone()))))
            .collect();
        ScenarioResult { scenario: sc, rows }
    })
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string())
}

/// The reference run of a scenario: the first combination whose originals all ran as
/// their documents' programs would.
struct Reference {
    combo: Combo,
    text: String,
    wire: Option<String>,
    changed: BTreeSet<Rule>,
    /// The wire tap passed the client's bytes to the server in more than one write.
    split: bool,
}

fn run_scenario(ctx: &Ctx, sc: &'static Scenario, total: usize) -> ScenarioResult {
    let combos = Combo::all(sc);
    let mut rows: Vec<Option<Row>> = combos.iter().map(|_| None).collect();
    let mut reference: Option<Reference> = None;
    // The failures of the rows that could not be the reference: the same failure in a
    // later row is the original's own, not ours.
    let mut failed: Vec<String> = Vec::new();
    let mut rest = Vec::new();
    for (i, &combo) in combos.iter().enumerate() {
        if let Some(why) = why_skipped(ctx, sc, combo) {
            rows[i] = Some(progress(
                ctx,
                total,
                sc,
                Row::new(combo, Verdict::Skipped(why)),
            ));
        } else if reference.is_some() {
            rest.push(i);
        } else if !ctx.self_test && combo.server != Some(Who::Py) && combo.client != Who::Py {
            // Ours against ours alone has nothing to be compared with.
            let why = if failed.is_empty() {
                "no original ran in this scenario to compare with"
            } else {
                "no original ran as its document's program would (see FAILED), so there \
                 is nothing to compare with"
            };
            let row = Row::new(combo, Verdict::Skipped(why.to_string()));
            rows[i] = Some(progress(ctx, total, sc, row));
        } else {
            let out = run_combo(ctx, sc, combo);
            let t = transcript(sc, &out);
            let split = out
                .wire
                .as_ref()
                .is_some_and(|w| wire::writes_to_server(&w.entries) > 1);
            let verdict = if let Some(why) = &out.trouble {
                Verdict::Diff(format!("compare itself failed here: {why}"))
            } else if out.failures.is_empty() {
                reference = Some(Reference {
                    combo,
                    text: t.text.clone(),
                    wire: t.wire.clone(),
                    changed: t.changed,
                    split,
                });
                Verdict::Reference
            } else {
                failed.extend(out.failures.iter().map(Failure::signature));
                Verdict::Failed(failures_text(&out.failures))
            };
            let row = Row {
                combo,
                wire: (matches!(verdict, Verdict::Reference) && t.wire.is_some())
                    .then_some(WireVerdict::Reference),
                verdict,
                transcript: Some(t.text),
                wire_text: t.wire,
                raw: Some(out.raw),
            };
            rows[i] = Some(progress(ctx, total, sc, row));
        }
    }
    // The other combinations run side by side, each compared with the reference.
    if let Some(reference) = &reference {
        let compared = |combo: Combo| {
            let out = run_combo(ctx, sc, combo);
            let t = transcript(sc, &out);
            let own: Vec<&Failure> = out
                .failures
                .iter()
                .filter(|f| f.hard || failed.contains(&f.signature()))
                .collect();
            let mut row = Row {
                combo,
                verdict: Verdict::Same,
                wire: None,
                transcript: Some(t.text.clone()),
                wire_text: t.wire.clone(),
                raw: Some(out.raw),
            };
            if let Some(why) = &out.trouble {
                row.verdict = Verdict::Diff(format!("compare itself failed here: {why}"));
            } else if !own.is_empty() {
                let own: Vec<Failure> = own.into_iter().cloned().collect();
                row.verdict = Verdict::Failed(failures_text(&own));
            } else {
                let split = reference.split
                    || out
                        .wire
                        .as_ref()
                        .is_some_and(|w| wire::writes_to_server(&w.entries) > 1);
                let mut rules: Vec<Rule> = t.changed.union(&reference.changed).copied().collect();
                rules.sort();
                row.verdict = judge(sc, reference, combo, &t.text, rules, split);
                row.wire = match (&reference.wire, &t.wire) {
                    (Some(theirs), Some(ours)) => {
                        Some(judge_wire(sc, reference.combo, theirs, combo, ours))
                    }
                    _ => None,
                };
            }
            progress(ctx, total, sc, row)
        };
        thread::scope(|scope| {
            let mut handles = Vec::new();
            for &i in &rest {
                let combo = combos[i];
                match thread::Builder::new().spawn_scoped(scope, move || compared(combo)) {
                    Ok(handle) => handles.push((i, combo, handle)),
                    // No thread to spare: this one runs it.
                    Err(_) => rows[i] = Some(compared(combo)),
                }
            }
            for (i, combo, handle) in handles {
                rows[i] = Some(handle.join().unwrap_or_else(|panic| {
                    let why = format!("compare itself failed here: {}", panic_message(&*panic));
                    Row::new(combo, Verdict::Diff(why))
                }));
            }
        });
    } else {
        // No reference: the rows left say why they were not compared.
        for &i in &rest {
            let why = "no original ran as its document's program would (see FAILED)";
            let row = Row::new(combos[i], Verdict::Skipped(why.to_string()));
            rows[i] = Some(progress(ctx, total, sc, row));
        }
    }
    ScenarioResult {
        scenario: sc,
        rows: rows.into_iter().flatten().collect(),
    }
}

/// The failures of one run, for its FAILED verdict.
fn failures_text(failures: &[Failure]) -> String {
    failures
        .iter()
        .map(Failure::message)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Shows one finished row on stderr, and returns it.
fn progress(ctx: &Ctx, total: usize, sc: &Scenario, row: Row) -> Row {
    let done = ctx
        .counter
        .lock()
        .map(|mut n| {
            *n += 1;
            *n
        })
        .unwrap_or(0);
    eprintln!(
        "compare: [{done}/{total}] {} {:<26} {:<9} {}",
        sc.lesson,
        sc.name,
        row.combo.label(),
        short_verdict(&row)
    );
    row
}

fn judge(
    sc: &Scenario,
    reference: &Reference,
    combo: Combo,
    text: &str,
    rules: Vec<Rule>,
    split: bool,
) -> Verdict {
    if text == reference.text {
        return if rules.is_empty() {
            Verdict::Same
        } else {
            Verdict::SameAfter(rules)
        };
    }
    let id = format!("{}/{}", sc.lesson, sc.name);
    let slots = combo.ours_where_reference_is_py(reference.combo);
    let applicable = known::applicable(&id, &slots, On::Stdout, split);
    let used = known::explain(&reference.text, text, &applicable);
    if !used.is_empty() {
        return Verdict::Known(used, rules);
    }
    let diff = diff::unified(
        &reference.text,
        text,
        &reference.combo.label(),
        &combo.label(),
    );
    if sc.reconstruction {
        Verdict::Reconstructions(diff)
    } else {
        Verdict::Diff(diff)
    }
}

/// The wire's verdict: its summary against the reference's.
fn judge_wire(
    sc: &Scenario,
    ref_combo: Combo,
    ref_wire: &str,
    combo: Combo,
    wire: &str,
) -> WireVerdict {
    if wire == ref_wire {
        return WireVerdict::Same;
    }
    let id = format!("{}/{}", sc.lesson, sc.name);
    let slots = combo.ours_where_reference_is_py(ref_combo);
    let used = known::explain(
        ref_wire,
        wire,
        &known::applicable(&id, &slots, On::Wire, false),
    );
    if !used.is_empty() {
        return WireVerdict::Known(used);
    }
    let diff = diff::unified(ref_wire, wire, &ref_combo.label(), &combo.label());
    if sc.reconstruction {
        WireVerdict::Reconstructions(diff)
    } else {
        WireVerdict::Diff(diff)
    }
}

/// Why a combination cannot run, if it cannot.
fn why_skipped(ctx: &Ctx, sc: &Scenario, combo: Combo) -> Option<String> {
    let mut progs: Vec<(&Prog, Who)> = Vec::new();
    if let (Some(server), Some(who)) = (&sc.server, combo.server) {
        progs.push((&server.prog, who));
    }
    for c in sc.clients {
        progs.push((c, combo.client));
    }
    for (prog, who) in progs {
        if who == Who::Ours || ctx.self_test {
            if let Err(why) = binary(prog.package) {
                return Some(format!("{}: {why} (unsupported platform?)", prog.package));
            }
            continue;
        }
        let Some(file) = prog.file else {
            return Some(prog.none_why.to_string());
        };
        if let Err(why) = &ctx.python {
            return Some(why.clone());
        }
        let dir = ctx.originals.as_deref().unwrap_or(Path::new("."));
        if !dir.join(file).is_file() {
            return Some(format!("{file} is not in {}", dir.display()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_follows_the_tour_syntax() {
        let names = |args: &[&str]| -> Vec<String> {
            select(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap()
                .iter()
                .map(|s| format!("{}/{}", s.lesson, s.name))
                .collect()
        };
        assert_eq!(names(&["1"]), ["01/timestamp", "01/wrong-command"]);
        assert_eq!(names(&["timestamp"]), names(&["01"]));
        assert_eq!(names(&["01-timestamp"]), names(&["01"]));
        assert_eq!(names(&["04/pack", "02/argv"]), ["02/argv", "04/pack"]);
        assert!(select(&["6".to_string()]).is_err());
        assert!(select(&["04/nothing".to_string()]).is_err());
        assert_eq!(names(&[]).len(), SCENARIOS.len());
    }

    #[test]
    fn every_file_a_scenario_needs_is_listed() {
        for sc in SCENARIOS {
            let lesson = LESSONS.iter().find(|l| l.id == sc.lesson).unwrap();
            let files = sc
                .server
                .iter()
                .map(|s| &s.prog)
                .chain(sc.clients)
                .filter_map(|p| p.file);
            for file in files {
                assert!(
                    lesson.files.iter().any(|f| f.name == file),
                    "{}/{} needs {file}, which lesson {} does not list",
                    sc.lesson,
                    sc.name,
                    lesson.id
                );
            }
        }
    }

    #[test]
    fn our_show_pauses_are_the_shims() {
        for sc in SCENARIOS {
            let progs = sc.server.iter().map(|s| &s.prog).chain(sc.clients);
            for prog in progs {
                if let Some(at) = prog.ours_args.iter().position(|a| *a == "--delay-ms") {
                    assert_eq!(
                        prog.ours_args[at + 1],
                        scenarios::DELAY_MS.to_string(),
                        "{}/{}",
                        sc.lesson,
                        sc.name
                    );
                }
            }
        }
    }

    #[test]
    fn usage_errors() {
        let parse =
            |args: &[&str]| Options::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(parse(&[]).is_err());
        assert!(parse(&["--frobnicate"]).is_err());
        assert!(parse(&["--originals"]).is_err());
        assert!(parse(&["--self-test", "--originals", "."]).is_err());
        assert!(parse(&["--self-test", "--step-timeout-ms", "0"]).is_err());
        assert!(parse(&["--self-test", "9"]).is_err());
        assert!(parse(&["--self-test", "01"]).unwrap().is_some());
    }
}
