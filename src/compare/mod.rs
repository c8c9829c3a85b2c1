//! `cargo run -- compare`: runs every scenario of the chosen lessons with the Python
//! originals and with ours, in the four combinations (Python server + Python client,
//! Python server + our client, our server + Python client, ours + ours), and compares
//! each combination's normalised output with the first one that ran (normally Python +
//! Python). See `HELP`, and INSTRUCTORS.md for the instructor's side.

mod diff;
mod known;
mod normalise;
mod run;
mod scenarios;
mod shim;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use socket_lessons::{binary, closed_port_addr, wait_until};

use known::{Known, Slot};
use normalise::Rule;
use run::{Captured, Proc, TempDir, settle};
use scenarios::{Addr, End, LESSONS, Prog, SCENARIOS, Scenario, ServerSpec};

const HELP: &str = "\
usage: cargo run -- compare --originals DIR [--keep DIR] [--step-timeout-ms MS] [LESSON...]
       cargo run -- compare --self-test [LESSON...]
       cargo run -- compare --list

Runs every scenario of each lesson with the Python originals in DIR and with ours, in
four combinations: Python server + Python client (the reference), Python server + our
client, our server + Python client, ours + ours (a program with no server: Python, then
ours). Each combination's stdout and exit statuses, normalised, are compared with the
reference. A row says SAME, SAME after normalising (the rules), KNOWN (a difference a
lesson page lists: the page and its section), DIFF (a unified diff follows the table),
or SKIPPED (why). Exit status: 0 when no row is DIFF, 1 otherwise, 2 on a usage error.

Python runs as `python3 -u FILE` in DIR, with a start-up shim (a sitecustomize.py in a
temporary folder on PYTHONPATH) that moves its fixed ports to free ones and limits
time.sleep to our --delay-ms; TZ=UTC. Ours run on 127.0.0.1:0. stderr is kept (see
--keep) but not compared: ours prints its announcements and one-line errors there.

  LESSON              a lesson number or name (01, 1, timestamp), or LESSON/SCENARIO
                      (04/select); default: every lesson
  --originals DIR     the folder with your copies of the originals (see --list)
  --list              the files compare looks for, where each is in its document,
                      what to change for Python 3.11, and the scenarios
  --keep DIR          write every run's raw transcript (stdout, stderr, exit) to DIR
  --step-timeout-ms MS  how long one program may take to start, answer or exit
                      (default 5000); one that takes longer is stopped and reported
  --self-test         run ours in the originals' places too (no Python needed): every
                      row must be SAME; this checks compare itself
  -h, --help          this text
";

/// Runs the `compare` subcommand with the arguments after `compare`.
pub fn main(args: &[String]) -> ExitCode {
    let options = match Options::parse(args) {
        Ok(Some(options)) => options,
        Ok(None) => return ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("compare: {why}\n(run `cargo run -- compare --help` for the usage)");
            return ExitCode::from(2);
        }
    };
    match run_all(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(why) => {
            eprintln!("compare: {why}");
            ExitCode::FAILURE
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
            print!("{}", list_text());
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
            .ok_or_else(|| {
                format!("no lesson {lesson_arg:?} (see `cargo run -- compare --list`)")
            })?;
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

/// The --list text: per lesson, the files, where they are, what to change, and the
/// scenarios that use them.
pub fn list_text() -> String {
    let mut out = String::new();
    out.push_str(
        "The files `compare --originals DIR` looks for in DIR: copy each program out of its\n\
         document into a file of that name. Run on Python 3.11; notes say what to change.\n",
    );
    for lesson in LESSONS {
        out.push_str(&format!(
            "\n{} {} ({}; page {})\n",
            lesson.id, lesson.name, lesson.document, lesson.page
        ));
        for file in lesson.files {
            out.push_str(&format!("  {:<30} {}\n", file.name, file.section));
            if !file.notes.is_empty() {
                for line in wrap(file.notes, 60) {
                    out.push_str(&format!("  {:<30}   {line}\n", ""));
                }
            }
        }
        out.push_str("  scenarios:\n");
        for sc in SCENARIOS.iter().filter(|s| s.lesson == lesson.id) {
            let mut files: Vec<&str> = sc.server.iter().filter_map(|s| s.prog.file).collect();
            for c in sc.clients {
                if let Some(f) = c.file
                    && !files.contains(&f)
                {
                    files.push(f);
                }
            }
            out.push_str(&format!(
                "    {:<26} {} [{}]\n",
                sc.name,
                sc.what,
                files.join(", ")
            ));
        }
    }
    out.push_str(
        "\nThe differences the lesson pages list (section \"Differences from the Python\n\
         original\"), and what compare does about each: a row that differs by exactly\n\
         those that show is KNOWN, not DIFF.\n",
    );
    let mut page = "";
    for k in known::KNOWN {
        if k.page != page {
            page = k.page;
            out.push_str(&format!("  {page}\n"));
        }
        out.push_str(&format!("    {}: \"{}\"\n", k.id, k.item));
        for line in wrap(&k.how(), 76) {
            out.push_str(&format!("      {line}\n"));
        }
    }
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
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

/// The verdict of one row.
#[derive(Clone, Debug)]
enum Verdict {
    Reference,
    Same,
    SameAfter(Vec<Rule>),
    Known(Vec<&'static Known>, Vec<Rule>),
    Diff(String),
    Skipped(String),
}

struct Row {
    combo: Combo,
    verdict: Verdict,
    transcript: Option<String>,
    raw: Option<String>,
}

struct ScenarioResult {
    scenario: &'static Scenario,
    rows: Vec<Row>,
}

/// The version of `python3`, or why it cannot run (within 10 seconds).
fn python_version() -> Result<String, String> {
    let mut cmd = Command::new(python());
    cmd.args(["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"]);
    let mut proc = Proc::spawn(cmd, "").map_err(|_| format!("{} not found", python()))?;
    let exited = proc.wait_exit(Duration::from_secs(10));
    let out = proc.finish(None);
    if !exited || out.end != "exit 0" {
        return Err(format!("{} does not run ({})", python(), out.end));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn python() -> String {
    std::env::var("COMPARE_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

fn run_all(options: &Options) -> Result<bool, String> {
    let started = Instant::now();
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
    eprintln!("compare: building our programs (cargo build --workspace --bins)");
    binary("timestamp-server").map_err(|why| format!("cannot build our programs: {why}"))?;
    let total: usize = options.chosen.iter().map(|sc| Combo::all(sc).len()).sum();
    eprintln!(
        "compare: {} scenarios, {total} runs{}",
        options.chosen.len(),
        match (&ctx.python, ctx.self_test) {
            (_, true) => " (self-test: ours in every slot)".to_string(),
            (Ok(v), _) => format!(" (python3 {v})"),
            (Err(why), _) => format!(" ({why}: the Python runs are skipped)"),
        }
    );

    // The scenarios run side by side (their processes mostly wait on each other); in
    // each, the reference runs first, then the other combinations side by side.
    let queue: Arc<Mutex<Vec<(usize, &'static Scenario)>>> = Arc::new(Mutex::new(
        options.chosen.iter().copied().enumerate().rev().collect(),
    ));
    let results: Arc<Mutex<Vec<(usize, ScenarioResult)>>> = Arc::new(Mutex::new(Vec::new()));
    // Ours start in milliseconds; Python takes tens of them on a busy machine.
    let workers = if ctx.self_test { 12 } else { 6 };
    let workers = workers.min(options.chosen.len().max(1));
    let mut handles = Vec::new();
    for _ in 0..workers {
        let queue = Arc::clone(&queue);
        let results = Arc::clone(&results);
        let ctx = Arc::clone(&ctx);
        handles.push(thread::spawn(move || {
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop());
                let Some((index, sc)) = next else { break };
                let result = run_scenario(&ctx, sc, total);
                if let Ok(mut all) = results.lock() {
                    all.push((index, result));
                }
            }
        }));
    }
    for handle in handles {
        handle
            .join()
            .map_err(|_| "a worker thread panicked".to_string())?;
    }
    let mut results = std::mem::take(&mut *results.lock().map_err(|_| "poisoned")?);
    results.sort_by_key(|(i, _)| *i);
    let results: Vec<ScenarioResult> = results.into_iter().map(|(_, r)| r).collect();

    if let Some(dir) = &options.keep {
        keep(dir, &results)?;
    }
    let ok = report(&ctx, &results, started.elapsed(), options.keep.is_some());
    Ok(ok)
}

/// The reference run of a scenario: the first combination that ran.
struct Reference {
    combo: Combo,
    text: String,
    changed: BTreeSet<Rule>,
}

fn run_scenario(ctx: &Ctx, sc: &'static Scenario, total: usize) -> ScenarioResult {
    let combos = Combo::all(sc);
    let mut rows: Vec<Option<Row>> = combos.iter().map(|_| None).collect();
    let mut reference: Option<Reference> = None;
    let mut rest = Vec::new();
    for (i, &combo) in combos.iter().enumerate() {
        let skipped = |why: String| Row {
            combo,
            verdict: Verdict::Skipped(why),
            transcript: None,
            raw: None,
        };
        if let Some(why) = why_skipped(ctx, sc, combo) {
            rows[i] = Some(progress(ctx, total, sc, skipped(why)));
        } else if reference.is_some() {
            rest.push(i);
        } else if !ctx.self_test && combo.server != Some(Who::Py) && combo.client != Who::Py {
            // Ours against ours alone has nothing to be compared with.
            let why = "no original ran in this scenario to compare with".to_string();
            rows[i] = Some(progress(ctx, total, sc, skipped(why)));
        } else {
            let out = run_combo(ctx, sc, combo);
            let (text, changed) = transcript(sc, &out);
            reference = Some(Reference {
                combo,
                text: text.clone(),
                changed,
            });
            let row = Row {
                combo,
                verdict: Verdict::Reference,
                transcript: Some(text),
                raw: Some(out.raw),
            };
            rows[i] = Some(progress(ctx, total, sc, row));
        }
    }
    // The other combinations run side by side, each compared with the reference.
    if let Some(reference) = &reference {
        thread::scope(|scope| {
            let handles: Vec<_> = rest
                .iter()
                .map(|&i| {
                    let combo = combos[i];
                    (
                        i,
                        scope.spawn(move || {
                            let out = run_combo(ctx, sc, combo);
                            let (text, changed) = transcript(sc, &out);
                            let mut rules: Vec<Rule> =
                                changed.union(&reference.changed).copied().collect();
                            rules.sort();
                            let verdict =
                                judge(sc, reference.combo, &reference.text, combo, &text, rules);
                            progress(
                                ctx,
                                total,
                                sc,
                                Row {
                                    combo,
                                    verdict,
                                    transcript: Some(text),
                                    raw: Some(out.raw),
                                },
                            )
                        }),
                    )
                })
                .collect();
            for (i, handle) in handles {
                rows[i] = handle.join().ok();
            }
        });
    }
    ScenarioResult {
        scenario: sc,
        rows: rows.into_iter().flatten().collect(),
    }
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
        short_verdict(&row.verdict)
    );
    row
}

fn judge(
    sc: &Scenario,
    ref_combo: Combo,
    ref_text: &str,
    combo: Combo,
    text: &str,
    rules: Vec<Rule>,
) -> Verdict {
    if text == ref_text {
        return if rules.is_empty() {
            Verdict::Same
        } else {
            Verdict::SameAfter(rules)
        };
    }
    let id = format!("{}/{}", sc.lesson, sc.name);
    let slots = combo.ours_where_reference_is_py(ref_combo);
    let used = known::explain(ref_text, text, &known::applicable(&id, &slots));
    if !used.is_empty() {
        return Verdict::Known(used, rules);
    }
    Verdict::Diff(diff::unified(
        ref_text,
        text,
        &ref_combo.label(),
        &combo.label(),
    ))
}

fn short_verdict(v: &Verdict) -> String {
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

/// What one combination printed: the server (if any) and each client.
struct RunOut {
    server: Option<Captured>,
    clients: Vec<Captured>,
    /// Raw transcript for --keep: commands, stdout, stderr, ends.
    raw: String,
}

/// The command for `prog` played by `who`, with `addr` for ours when it takes one.
fn command(
    ctx: &Ctx,
    prog: &Prog,
    who: Who,
    addr: Option<&str>,
    env: &[(&str, String)],
) -> Result<Command, String> {
    if who == Who::Py && !ctx.self_test {
        let file = prog.file.ok_or("no original")?;
        let mut cmd = Command::new(python());
        cmd.arg("-u").arg(file).args(prog.args);
        if let Some(dir) = &ctx.originals {
            cmd.current_dir(dir);
        }
        cmd.env("PYTHONPATH", ctx.shim_dir.path())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONIOENCODING", "utf-8")
            .env("PYTHONUTF8", "1")
            .env("TZ", "UTC")
            .env("COMPARE_SLEEP_MS", scenarios::DELAY_MS.to_string());
        for (k, v) in env {
            cmd.env(k, v);
        }
        return Ok(cmd);
    }
    let mut cmd = Command::new(binary(prog.package)?);
    #[cfg(unix)]
    if prog.addr == Addr::None
        && let Some(file) = prog.file
    {
        // sys.argv[0] is the script's name: start ours under that name too.
        use std::os::unix::process::CommandExt;
        cmd.arg0(file);
    }
    if let Some(addr) = addr {
        cmd.args(["--addr", addr]);
    }
    cmd.args(prog.ours_args).args(prog.args);
    Ok(cmd)
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().to_string();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs one combination of a scenario: starts the server and waits until it listens,
/// runs the clients one after the other, then ends the server as the scenario says.
fn run_combo(ctx: &Ctx, sc: &Scenario, combo: Combo) -> RunOut {
    let mut out = RunOut {
        server: None,
        clients: Vec::new(),
        raw: String::new(),
    };
    let mut raw = String::new();
    let ports_dir = match TempDir::new("compare-ports") {
        Ok(dir) => dir,
        Err(why) => {
            out.raw = why;
            return out;
        }
    };
    let mut server = None;
    if let (Some(spec), Some(who)) = (&sc.server, combo.server) {
        match start_server(ctx, spec, who, ports_dir.path(), &mut raw) {
            Ok(started) => server = Some(started),
            Err(failed) => out.server = Some(failed),
        }
    }
    if sc.server.is_none() || server.is_some() {
        let real_port = server.as_ref().map_or(0, |(_, port)| *port);
        for prog in sc.clients {
            let captured = run_client(ctx, sc, prog, combo.client, real_port, &ports_dir, &mut raw);
            out.clients.push(captured);
        }
    }
    if let (Some((proc, _)), Some(spec)) = (server, &sc.server) {
        out.server = Some(end_run(proc, spec.prog.end, ctx.step));
    }

    let sides = out.server.iter().map(|c| ("server".to_string(), c));
    let clients = out.clients.iter().enumerate();
    for (label, c) in sides.chain(clients.map(|(i, c)| (client_label(sc, i), c))) {
        raw.push_str(&format!(
            "--- {label} stdout\n{}--- {label} stderr\n{}--- {label}: {}\n",
            String::from_utf8_lossy(&c.stdout),
            String::from_utf8_lossy(&c.stderr),
            c.end
        ));
    }
    out.raw = raw;
    out
}

/// Starts the scenario's server and waits until it listens: a Python server until the
/// shim reports its ports, ours until it announces `listening on`. Returns it and its
/// port, or, when it did not come up, what it printed and how it ended.
fn start_server(
    ctx: &Ctx,
    spec: &ServerSpec,
    who: Who,
    ports_dir: &Path,
    raw: &mut String,
) -> Result<(Proc, u16), Captured> {
    let ports_file = ports_dir.join("ports");
    let env = [(
        "COMPARE_PORTS_FILE",
        ports_file.to_string_lossy().to_string(),
    )];
    let started = command(ctx, &spec.prog, who, Some("127.0.0.1:0"), &env).and_then(|cmd| {
        raw.push_str(&format!("$ {}\n", describe(&cmd)));
        Proc::spawn(cmd, "")
    });
    let mut proc = started.map_err(|why| Captured {
        end: format!("could not start: {why}"),
        ..Captured::default()
    })?;
    let is_py = who == Who::Py && !ctx.self_test;
    let mut port = None;
    wait_until(ctx.step, || {
        if is_py {
            let got = shim::reported(&ports_file);
            if spec
                .ready
                .iter()
                .all(|k| got.iter().any(|(kind, _, _)| kind == k))
            {
                port = got.first().map(|(_, _, p)| *p);
            }
        } else {
            port = announced_port(&proc.stderr(), spec.prog.package);
        }
        port.is_some() || proc.has_exited()
    });
    match port {
        Some(port) if !proc.has_exited() => Ok((proc, port)),
        _ => {
            let timed_out = !proc.has_exited();
            let end = timed_out
                .then(|| format!("did not listen within {} ms: stopped", ctx.step.as_millis()));
            let mut captured = proc.finish(end);
            if !timed_out {
                captured.end = format!("{} before it listened", captured.end);
            }
            Err(captured)
        }
    }
}

/// Runs one client (or a program without a server) and ends it as the scenario says.
fn run_client(
    ctx: &Ctx,
    sc: &Scenario,
    prog: &Prog,
    who: Who,
    server_port: u16,
    ports_dir: &TempDir,
    raw: &mut String,
) -> Captured {
    // Ours gets --addr; the shim sends Python's connections to the fixed port there.
    let (addr, map) = match prog.addr {
        Addr::None => (None, String::new()),
        Addr::Listen => (Some("127.0.0.1:0".to_string()), String::new()),
        Addr::Server => (
            Some(format!("127.0.0.1:{server_port}")),
            format!("{}={server_port}", sc.port),
        ),
        Addr::Closed => {
            let closed = closed_port_addr().unwrap_or_else(|_| "127.0.0.1:9".into());
            let port = closed.rsplit(':').next().unwrap_or("9").to_string();
            (Some(closed), format!("{}={port}", sc.port))
        }
    };
    let own_ports = ports_dir.path().join("client-ports");
    let env = [
        ("COMPARE_PORT_MAP", map),
        (
            "COMPARE_PORTS_FILE",
            own_ports.to_string_lossy().to_string(),
        ),
    ];
    let started = command(ctx, prog, who, addr.as_deref(), &env).and_then(|cmd| {
        raw.push_str(&format!("$ {}\n", describe(&cmd)));
        Proc::spawn(cmd, prog.stdin)
    });
    match started {
        Ok(proc) => end_run(proc, prog.end, ctx.step),
        Err(why) => Captured {
            end: format!("could not start: {why}"),
            ..Captured::default()
        },
    }
}

/// How long a server that compare stops must have been quiet, after printing the
/// lines it was waited for, to be stopped: an extra line printed at once is seen.
const QUIET: Duration = Duration::from_millis(50);

/// Ends a running program the way `end` says and returns what it printed; every wait
/// is bounded by `step`.
fn end_run(mut proc: Proc, end: End, step: Duration) -> Captured {
    let too_long = |what: &str| format!("{what} within {} ms: stopped", step.as_millis());
    match end {
        End::Exits => {
            let end = (!proc.wait_exit(step)).then(|| too_long("did not exit"));
            proc.finish(end)
        }
        End::Stopped(lines) => {
            settle(&mut proc, lines, QUIET, step);
            let end = (!proc.has_exited()).then(|| "running until stopped".to_string());
            proc.finish(end)
        }
        End::FirstLines(n) => {
            wait_until(step, || proc.stdout_lines() >= n || proc.has_exited());
            let end = if proc.has_exited() {
                None
            } else if proc.stdout_lines() >= n {
                Some(format!("stopped after its first {n} lines"))
            } else {
                Some(too_long(&format!("printed fewer than {n} lines")))
            };
            let mut captured = proc.finish(end);
            let text = String::from_utf8_lossy(&captured.stdout).to_string();
            captured.stdout = normalise::first_lines(&text, n).into_bytes();
            captured
        }
    }
}

/// The port in `<package>: listening on ADDR` on our server's stderr.
fn announced_port(stderr: &[u8], package: &str) -> Option<u16> {
    let text = String::from_utf8_lossy(stderr);
    let prefix = format!("{package}: listening on ");
    text.lines().find_map(|line| {
        let addr = line.strip_prefix(&prefix)?.split_whitespace().next()?;
        addr.rsplit(':').next()?.parse().ok()
    })
}

fn client_label(sc: &Scenario, i: usize) -> String {
    if sc.server.is_none() {
        "program".to_string()
    } else {
        format!("client {}", i + 1)
    }
}

/// The text compared for one run: every side's stdout, normalised,
/// and how it ended; and the rules that changed something.
fn transcript(sc: &Scenario, out: &RunOut) -> (String, BTreeSet<Rule>) {
    let mut changed = BTreeSet::new();
    let text = |c: &Captured| String::from_utf8_lossy(&c.stdout).to_string();
    let mut server = out.server.as_ref().map(text);
    let mut clients: Vec<String> = out.clients.iter().map(text).collect();
    let ends_first = sc
        .server
        .as_ref()
        .is_some_and(|s| matches!(s.prog.end, End::FirstLines(_)))
        || sc
            .clients
            .iter()
            .any(|c| matches!(c.end, End::FirstLines(_)));
    {
        if ends_first {
            changed.insert(Rule::FirstLines);
        }
        for rule in sc.rules.iter().copied().chain([Rule::Ports]) {
            let apply = |t: &str| -> String {
                match rule {
                    Rule::Ports => normalise::ports(t),
                    Rule::Fd => normalise::fd(t),
                    Rule::Time => normalise::time(t),
                    _ => t.to_string(),
                }
            };
            match rule {
                Rule::Game => {
                    if let (Some(s), Some(c)) = (server.as_mut(), clients.first_mut()) {
                        let (ns, nc) = normalise::game(s, c);
                        if ns != *s || nc != *c {
                            changed.insert(rule);
                        }
                        *s = ns;
                        *c = nc;
                    }
                }
                Rule::Unordered => {
                    if let Some(s) = server.as_mut() {
                        let n = normalise::unordered(s);
                        if n != *s {
                            changed.insert(rule);
                        }
                        *s = n;
                    }
                }
                Rule::FirstLines => {}
                _ => {
                    for t in server.iter_mut().chain(clients.iter_mut()) {
                        let n = apply(t);
                        if n != *t {
                            changed.insert(rule);
                        }
                        *t = n;
                    }
                }
            }
        }
    }
    let mut out_text = String::new();
    let mut side = |label: &str, stdout: &str, end: &str| {
        if stdout.is_empty() {
            out_text.push_str(&format!("{label} stdout: (nothing)\n"));
        } else {
            out_text.push_str(&format!("{label} stdout:\n"));
            for line in stdout.split_inclusive('\n') {
                out_text.push_str(&format!("  | {}\n", line.trim_end_matches('\n')));
                if !line.ends_with('\n') {
                    out_text.push_str("  (no newline at end)\n");
                }
            }
        }
        out_text.push_str(&format!("{label}: {end}\n"));
    };
    if let (Some(s), Some(c)) = (&server, &out.server) {
        side("server", s, &c.end);
    }
    for (i, (t, c)) in clients.iter().zip(&out.clients).enumerate() {
        side(&client_label(sc, i), t, &c.end);
    }
    (out_text, changed)
}

fn keep(dir: &Path, results: &[ScenarioResult]) -> Result<(), String> {
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
fn report(ctx: &Ctx, results: &[ScenarioResult], took: Duration, keep: bool) -> bool {
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
            "  Python ({}) ran `python3 -u FILE` in {}, with a shim that moved every fixed port \
             to a free one on 127.0.0.1 (with SO_REUSEADDR), limited time.sleep to {} ms \
             (our servers got --delay-ms {} where they pause), and TZ=UTC",
            ctx.python.as_deref().unwrap_or("not found"),
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
