//! Playing one combination of a scenario: the commands for the original (Python with
//! the shim) and for ours, starting the server and waiting until it listens, the wire
//! tap in front of it, running the clients, ending every program the way the scenario
//! says; whether each original ran as its document's program would; and the normalised
//! transcript (stdout and wire) that rows are compared by.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use socket_lessons::{binary, closed_port_addr, wait_until};

use super::normalise::{self, Rule, RunFacts};
use super::run::{Captured, Proc, TempDir, complete_lines, settle};
use super::scenarios::{self, Addr, End, Prog, Scenario, ServerSpec};
use super::shim::{self, Report};
use super::wire::{self, Tap, Wire};
use super::{Combo, Ctx, Who, python_exe};

/// What one combination printed: the server (if any) and each client.
pub struct RunOut {
    pub server: Option<Captured>,
    pub clients: Vec<Captured>,
    /// Raw transcript for --keep: commands, stdout, stderr, ends.
    pub raw: String,
    /// When the run started, and the ports it used (servers, the tap, the clients).
    pub started: SystemTime,
    pub ports: BTreeSet<u16>,
    /// What the wire tap saw, in a scenario with a server that came up.
    pub wire: Option<Wire>,
    /// The originals that did not run as their document's programs would.
    pub failures: Vec<Failure>,
    /// Why compare itself could not play the run as it should (no tap).
    pub trouble: Option<String>,
}

/// An original that did not run as its document's program would.
#[derive(Clone, Debug)]
pub struct Failure {
    /// It failed whoever it played with: it does not start, does not listen, or uses
    /// another port than its document's. (Otherwise ours on the other side may be
    /// what made it fail.)
    pub hard: bool,
    /// `client.py (client 1)`
    pub who: String,
    /// What went wrong, in words.
    pub why: String,
    /// Its first stderr line, and the exception's line if that is another one.
    pub quote: String,
}

impl Failure {
    /// The same failure in two rows has the same signature.
    pub fn signature(&self) -> String {
        format!("{}: {}", self.who, self.why)
    }

    pub fn message(&self) -> String {
        if self.quote.is_empty() {
            format!("{}: {}", self.who, self.why)
        } else {
            format!("{}: {}; stderr: {}", self.who, self.why, self.quote)
        }
    }
}

/// Whether `who` plays `prog` as the Python original in this run.
fn plays_python(ctx: &Ctx, who: Who) -> bool {
    who == Who::Py && !ctx.self_test
}

/// The command for `prog` played by `who`, with `addr` for ours when it takes one.
fn command(
    ctx: &Ctx,
    prog: &Prog,
    who: Who,
    addr: Option<&str>,
    env: &[(&str, String)],
) -> Result<Command, String> {
    if plays_python(ctx, who) {
        let file = prog.file.ok_or("no original")?;
        let mut cmd = Command::new(python_exe());
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
/// puts the wire tap in front of it, runs the clients one after the other through the
/// tap, then ends the server as the scenario says.
pub fn run_combo(ctx: &Ctx, sc: &Scenario, combo: Combo) -> RunOut {
    let mut out = RunOut {
        server: None,
        clients: Vec::new(),
        raw: String::new(),
        started: SystemTime::now(),
        ports: BTreeSet::new(),
        wire: None,
        failures: Vec::new(),
        trouble: None,
    };
    let mut raw = String::new();
    let ports_dir = match TempDir::new("compare-ports") {
        Ok(dir) => dir,
        Err(why) => {
            out.trouble = Some(why);
            return out;
        }
    };
    let mut server = None;
    if let (Some(spec), Some(who)) = (&sc.server, combo.server) {
        match start_server(ctx, sc, spec, who, ports_dir.path(), &mut raw) {
            Ok((proc, port)) => {
                out.ports.insert(port);
                server = Some((proc, port));
            }
            Err(not_up) => {
                out.server = Some(not_up.captured);
                out.failures.extend(not_up.failure);
            }
        }
    }
    // The wire tap, between the clients and the server.
    let mut tap = None;
    if let Some((_, port)) = &server {
        let shaping = wire_tap::Shaping {
            merge: sc.merge_ms.map(Duration::from_millis),
            ..wire_tap::Shaping::default()
        };
        let started = if sc.udp {
            Tap::udp(*port)
        } else {
            Tap::tcp(*port, shaping)
        };
        match started {
            Ok(started) => tap = Some(started),
            Err(why) => out.trouble = Some(why),
        }
    }
    if sc.server.is_none() || (server.is_some() && tap.is_some()) {
        let port = tap.as_ref().map_or(0, |t| t.port());
        for (i, prog) in sc.clients.iter().enumerate() {
            let label = client_label(sc, i);
            let own_ports = ports_dir.path().join(format!("client-{i}-ports"));
            let mut captured = run_client(ctx, sc, prog, combo.client, port, &own_ports, &mut raw);
            if plays_python(ctx, combo.client) {
                let reports = shim::reported(&own_ports);
                out.ports.extend(moved_ports(&reports));
                let failure = python_failure(sc, prog, &label, &mut captured, &reports);
                out.failures.extend(failure);
            }
            out.clients.push(captured);
        }
    }
    if let (Some((proc, _)), Some(spec)) = (server, &sc.server) {
        let stopping = || {
            if let Some(tap) = &tap {
                tap.server_stopped();
            }
        };
        let mut captured = end_run(proc, spec.prog.end, ctx.step, &stopping);
        if let Some(who) = combo.server
            && plays_python(ctx, who)
        {
            let reports = shim::reported(&ports_dir.path().join("ports"));
            let failure = python_failure(sc, &spec.prog, "server", &mut captured, &reports);
            out.failures.extend(failure);
        }
        out.server = Some(captured);
    }
    if let Some(tap) = tap {
        let wire = tap.finish(ctx.step);
        out.ports.extend(wire.ports.iter().copied());
        out.wire = Some(wire);
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
    if let Some(wire) = &out.wire {
        raw.push_str("--- the wire, as the tap saw it\n");
        let format = wire_tap::Format::default();
        for entry in &wire.entries {
            match entry {
                wire::Entry::Seen(stamped) => {
                    raw.push_str(&format!("{}\n", format.line(stamped)));
                }
                wire::Entry::ServerStopped => raw.push_str("(compare stops the server)\n"),
            }
        }
    }
    out.raw = raw;
    out
}

/// The ports the shim moved a fixed port to.
fn moved_ports(reports: &[Report]) -> impl Iterator<Item = u16> + '_ {
    reports.iter().filter_map(|r| match r {
        Report::Moved { real, .. } => Some(*real),
        _ => None,
    })
}

/// A server that did not come up: what it printed and how it ended, and, for an
/// original, its failure.
struct NotUp {
    captured: Captured,
    failure: Option<Failure>,
}

/// Starts the scenario's server and waits until it listens: a Python server until the
/// shim reports its ports, ours until it announces `listening on`. Returns it and its
/// port, or, when it did not come up, what it printed and how it ended, with the
/// failure of an original.
fn start_server(
    ctx: &Ctx,
    sc: &Scenario,
    spec: &ServerSpec,
    who: Who,
    ports_dir: &Path,
    raw: &mut String,
) -> Result<(Proc, u16), Box<NotUp>> {
    let ports_file = ports_dir.join("ports");
    let env = [
        (
            "COMPARE_PORTS_FILE",
            ports_file.to_string_lossy().to_string(),
        ),
        ("COMPARE_FIXED_PORT", sc.port.to_string()),
        ("COMPARE_MOVES", moves(sc.moves)),
    ];
    let started = command(ctx, &spec.prog, who, Some("127.0.0.1:0"), &env).and_then(|cmd| {
        raw.push_str(&format!("$ {}\n", describe(&cmd)));
        Proc::spawn(cmd, "")
    });
    let is_py = plays_python(ctx, who);
    let label = server_label(spec, is_py);
    let mut proc = started.map_err(|why| {
        let captured = Captured {
            end: format!("could not start: {why}"),
            ..Captured::default()
        };
        let failure = is_py.then(|| Failure {
            hard: true,
            who: label.clone(),
            why: captured.end.clone(),
            quote: String::new(),
        });
        Box::new(NotUp { captured, failure })
    })?;
    let mut port = None;
    let mut misported = None;
    wait_until(ctx.step, || {
        if is_py {
            let got = shim::reported(&ports_file);
            misported = got.iter().find_map(|r| r.misported(sc.port));
            let kinds: Vec<&str> = got
                .iter()
                .filter_map(|r| match r {
                    Report::Moved { kind, .. } => Some(kind.as_str()),
                    _ => None,
                })
                .collect();
            if spec.ready.iter().all(|k| kinds.contains(k)) {
                port = moved_ports(&got).next();
            }
        } else {
            port = announced_port(&proc.stderr(), spec.prog.package);
        }
        port.is_some() || misported.is_some() || proc.has_exited()
    });
    match (port, &misported) {
        (Some(port), None) if !proc.has_exited() => Ok((proc, port)),
        _ => {
            let running = !proc.has_exited();
            let end = match (&misported, running) {
                (Some(why), _) => Some(format!("stopped: {why}")),
                (None, true) => Some(format!(
                    "did not listen within {} ms: stopped",
                    ctx.step.as_millis()
                )),
                (None, false) => None,
            };
            let mut captured = proc.finish(end);
            if misported.is_none() && !running {
                captured.end = format!("{} before it listened", captured.end);
            }
            let failure = is_py.then(|| Failure {
                hard: true,
                who: label,
                why: misported.unwrap_or_else(|| captured.end.clone()),
                quote: quote(&captured.stderr),
            });
            Err(Box::new(NotUp { captured, failure }))
        }
    }
}

fn server_label(spec: &ServerSpec, is_py: bool) -> String {
    match spec.prog.file {
        Some(file) if is_py => format!("{file} (server)"),
        _ => format!("{} (server)", spec.prog.package),
    }
}

/// The moves for the shim: `1,2,3`.
fn moves(moves: &[u8]) -> String {
    moves
        .iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs one client (or a program without a server) and ends it as the scenario says.
fn run_client(
    ctx: &Ctx,
    sc: &Scenario,
    prog: &Prog,
    who: Who,
    server_port: u16,
    own_ports: &Path,
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
    let env = [
        ("COMPARE_PORT_MAP", map),
        (
            "COMPARE_PORTS_FILE",
            own_ports.to_string_lossy().to_string(),
        ),
        ("COMPARE_FIXED_PORT", sc.port.to_string()),
    ];
    let started = command(ctx, prog, who, addr.as_deref(), &env).and_then(|cmd| {
        raw.push_str(&format!("$ {}\n", describe(&cmd)));
        Proc::spawn(cmd, prog.stdin)
    });
    match started {
        Ok(proc) => end_run(proc, prog.end, ctx.step, &|| {}),
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
/// is bounded by `step`. `stopping` is called just before compare stops it.
fn end_run(mut proc: Proc, end: End, step: Duration, stopping: &dyn Fn()) -> Captured {
    let too_long = |what: &str| format!("{what} within {} ms: stopped", step.as_millis());
    let stop = |proc: Proc, end: Option<String>| {
        if end.is_some() {
            stopping();
        }
        proc.finish(end)
    };
    match end {
        End::Exits => {
            let end = (!proc.wait_exit(step)).then(|| too_long("did not exit"));
            stop(proc, end)
        }
        End::Stopped(lines) => {
            settle(&mut proc, lines, QUIET, step);
            let end = (!proc.has_exited()).then(|| "running until stopped".to_string());
            stop(proc, end)
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
            let mut captured = stop(proc, end);
            let text = String::from_utf8_lossy(&captured.stdout).to_string();
            captured.stdout = normalise::first_lines(&text, n).into_bytes();
            captured
        }
    }
}

/// Exceptions that mean the file itself does not run: wherever it plays, it fails.
const BROKEN: &[&str] = &[
    "SyntaxError",
    "IndentationError",
    "TabError",
    "ImportError",
    "ModuleNotFoundError",
];

/// The exception lines on a Python program's stderr: a line that starts at the margin
/// with a name ending in Error, Exception or Interrupt, alone or before `: `
/// (`ConnectionRefusedError: [Errno 111] Connection refused`, `KeyboardInterrupt`).
pub fn exceptions(stderr: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter_map(|line| {
            let name = line.split(": ").next()?.trim_end_matches(':');
            let is_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && ["Error", "Exception", "Interrupt"]
                    .iter()
                    .any(|end| name.ends_with(end));
            let bare = name.rsplit('.').next().unwrap_or(name);
            is_name.then(|| (bare.to_string(), line.to_string()))
        })
        .collect()
}

/// A program's first stderr line, and its last exception line if that is another one,
/// quoted: what the report shows of a failed original.
fn quote(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr).to_string();
    let Some(first) = text.lines().find(|l| !l.trim().is_empty()) else {
        return String::new();
    };
    let last = exceptions(stderr).pop().map(|(_, line)| line);
    match last {
        Some(last) if last != first => format!("{first:?} ... {last:?}"),
        _ => format!("{first:?}"),
    }
}

/// Whether a Python original ran as its document's program would in this scenario: it
/// used its document's port, raised only what the document's program raises here, and
/// ended as it does. An unexpected exception is also written into `captured.end`
/// (`exit 1 (raised KeyError)`), so that a row where ours made it fail shows it.
fn python_failure(
    sc: &Scenario,
    prog: &Prog,
    label: &str,
    captured: &mut Captured,
    reports: &[Report],
) -> Option<Failure> {
    let who = format!("{} ({label})", prog.file.unwrap_or(prog.package));
    let failure = |hard: bool, why: String, captured: &Captured| Failure {
        hard,
        who: who.clone(),
        why,
        quote: quote(&captured.stderr),
    };
    if let Some(why) = reports.iter().find_map(|r| r.misported(sc.port)) {
        return Some(failure(true, why, captured));
    }
    let raised = exceptions(&captured.stderr);
    if let Some((name, _)) = raised.iter().find(|(n, _)| BROKEN.contains(&n.as_str())) {
        return Some(failure(true, format!("it does not run ({name})"), captured));
    }
    let mut unexpected: Vec<&str> = raised
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !prog.raises.contains(n))
        .collect();
    unexpected.dedup();
    if !unexpected.is_empty() {
        let names = unexpected.join(", ");
        captured.end = format!("{} (raised {names})", captured.end);
        return Some(failure(false, format!("it raised {names}"), captured));
    }
    let expected = i32::from(!prog.raises.is_empty());
    let why = match prog.end {
        End::Exits if captured.exit != Some(expected) => Some(format!(
            "it ended `{}`, not `exit {expected}`",
            captured.end
        )),
        End::Stopped(_) if captured.exit.is_some() => Some(format!(
            "it ended by itself (`{}`) where its document's program keeps running",
            captured.end
        )),
        End::FirstLines(n) if !captured.end.starts_with("stopped after") => Some(format!(
            "it ended `{}` before its first {n} lines",
            captured.end
        )),
        _ => None,
    };
    why.map(|why| failure(false, why, captured))
}

/// The port in `<package>: listening on ADDR` on our server's stderr.
fn announced_port(stderr: &[u8], package: &str) -> Option<u16> {
    let text = String::from_utf8_lossy(stderr);
    let prefix = format!("{package}: listening on ");
    // Only whole lines: a line may arrive in pieces (stderr is unbuffered, and one
    // eprintln! can be several writes), and `listening on 127` is not port 127.
    complete_lines(&text).find_map(|line| {
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

/// The texts compared for one run: every side's stdout, normalised, and how it ended;
/// the wire's summary (in a scenario with a server that came up); and the rules that
/// changed something.
pub struct Transcript {
    pub text: String,
    pub wire: Option<String>,
    pub changed: BTreeSet<Rule>,
}

pub fn transcript(sc: &Scenario, out: &RunOut) -> Transcript {
    let mut changed = BTreeSet::new();
    let facts = RunFacts::new(out.ports.clone(), out.started);
    let text = |c: &Captured| String::from_utf8_lossy(&c.stdout).to_string();
    let mut server = out.server.as_ref().map(text);
    let mut clients: Vec<String> = out.clients.iter().map(text).collect();
    // The long game: each result with its round's moves (not a rule: it hides nothing).
    if !sc.moves.is_empty()
        && let (Some(s), Some(c)) = (&server, clients.first_mut())
    {
        *c = normalise::game(s, c);
    }
    let ends_first = sc
        .server
        .as_ref()
        .is_some_and(|s| matches!(s.prog.end, End::FirstLines(_)))
        || sc
            .clients
            .iter()
            .any(|c| matches!(c.end, End::FirstLines(_)));
    if ends_first {
        changed.insert(Rule::FirstLines);
    }
    let mut wire = out.wire.as_ref().map(|w| {
        let merge = sc.merge_ms.map(Duration::from_millis);
        wire::summary(&w.entries, sc.wire_prefix, merge)
    });
    // Ports first, in every scenario; then the scenario's own rules, in their order.
    let rules = [Rule::Ports]
        .into_iter()
        .chain(sc.rules.iter().copied().filter(|r| *r != Rule::Ports));
    for rule in rules {
        match rule {
            Rule::Unordered => {
                if let Some(s) = server.as_mut() {
                    let n = normalise::unordered(s);
                    if n != *s {
                        changed.insert(rule);
                    }
                    *s = n;
                }
            }
            // Applied when the program was stopped (see end_run).
            Rule::FirstLines => {}
            Rule::Ports | Rule::Fd | Rule::Time => {
                let apply = |t: &str| match rule {
                    Rule::Ports => normalise::ports(t, &facts),
                    Rule::Fd => normalise::fd(t),
                    _ => normalise::time(t, &facts),
                };
                // The wire carries times (the timestamp's answer), never ports or reprs.
                let on_wire = (rule == Rule::Time).then_some(wire.as_mut()).flatten();
                for t in server.iter_mut().chain(clients.iter_mut()).chain(on_wire) {
                    let n = apply(t);
                    if n != *t {
                        changed.insert(rule);
                    }
                    *t = n;
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
    Transcript {
        text: out_text,
        wire,
        changed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::SCENARIOS;

    fn scenario(id: &str) -> &'static Scenario {
        SCENARIOS
            .iter()
            .find(|s| format!("{}/{}", s.lesson, s.name) == id)
            .unwrap()
    }

    fn captured(stdout: &str, end: &str) -> Captured {
        Captured {
            stdout: stdout.as_bytes().to_vec(),
            stderr: b"ignored\n".to_vec(),
            end: end.to_string(),
            exit: None,
        }
    }

    fn out(server: Option<Captured>, clients: Vec<Captured>, ports: &[u16]) -> RunOut {
        RunOut {
            server,
            clients,
            raw: String::new(),
            started: SystemTime::now(),
            ports: ports.iter().copied().collect(),
            wire: None,
            failures: Vec::new(),
            trouble: None,
        }
    }

    #[test]
    fn the_transcript_shows_stdout_endings_and_a_missing_last_newline() {
        let run = out(
            Some(captured(
                "starting...\n('127.0.0.1', 4242)\n[<socket.socket fd=4, family=2>]\n",
                "running until stopped",
            )),
            vec![captured(">>: HELLO\n>>: ", "exit 1")],
            &[4242],
        );
        let t = transcript(scenario("04/nonblocking"), &run);
        assert_eq!(
            t.text,
            "server stdout:\n  | starting...\n  | ('127.0.0.1', PORT)\n  | \
             [<socket.socket family=2>]\nserver: running until stopped\n\
             client 1 stdout:\n  | >>: HELLO\n  | >>: \n  (no newline at end)\nclient 1: exit 1\n"
        );
        assert_eq!(
            t.changed.into_iter().collect::<Vec<_>>(),
            [Rule::Ports, Rule::Fd]
        );
        // A port that is not this run's stays.
        let run = out(
            Some(captured("('127.0.0.1', 4243)\n", "x")),
            vec![],
            &[4242],
        );
        assert!(
            transcript(scenario("04/nonblocking"), &run)
                .text
                .contains("4243")
        );
    }

    #[test]
    fn a_program_without_output_or_server_says_so() {
        let run = out(None, vec![captured("", "exit 1")], &[]);
        let t = transcript(scenario("04/nonblocking-accept"), &run);
        assert_eq!(t.text, "program stdout: (nothing)\nprogram: exit 1\n");
        assert!(t.changed.is_empty());
        assert!(t.wire.is_none());
    }

    #[test]
    fn our_servers_announcement_gives_the_port() {
        let stderr = b"x\nping-pong-server: listening on 127.0.0.1:4242 (TCP and UDP)\n";
        assert_eq!(announced_port(stderr, "ping-pong-server"), Some(4242));
        assert_eq!(announced_port(stderr, "long-server"), None);
        // Half a line is not an announcement yet.
        let partial = b"welcome-server: listening on 127";
        assert_eq!(announced_port(partial, "welcome-server"), None);
        assert_eq!(
            announced_port(
                b"welcome-server: listening on 127.0.0.1:9\r\n",
                "welcome-server"
            ),
            Some(9)
        );
    }

    #[test]
    fn exceptions_and_the_quote_of_a_failed_original() {
        let traceback = b"Traceback (most recent call last):\n  File \"c.py\", line 3, in <module>\n    \
            client.connect(('127.0.0.1', 8001))\nConnectionRefusedError: [Errno 111] Connection refused\n";
        assert_eq!(
            exceptions(traceback),
            [(
                "ConnectionRefusedError".to_string(),
                "ConnectionRefusedError: [Errno 111] Connection refused".to_string()
            )]
        );
        assert_eq!(
            quote(traceback),
            "\"Traceback (most recent call last):\" ... \
             \"ConnectionRefusedError: [Errno 111] Connection refused\""
        );
        let syntax =
            b"  File \"x.py\", line 1\n    x =s y\n        ^\nSyntaxError: invalid syntax\n";
        assert_eq!(exceptions(syntax)[0].0, "SyntaxError");
        // asyncio's own lines are not exceptions; a dotted name is its last part.
        assert!(exceptions(b"Fatal error: protocol.data_received() call failed.\n").is_empty());
        assert_eq!(exceptions(b"socket.timeout: timed out\n").len(), 0);
        assert_eq!(
            exceptions(b"asyncio.CancelledError\n")[0].0,
            "CancelledError"
        );
        assert_eq!(quote(b""), "");
    }

    #[test]
    fn an_original_fails_by_its_port_its_exceptions_or_its_end() {
        let sc = scenario("04/nonblocking-accept-client");
        let prog = &sc.clients[0];
        let run = |stderr: &[u8], exit: i32, reports: &[Report]| {
            let mut c = Captured {
                stderr: stderr.to_vec(),
                end: format!("exit {exit}"),
                exit: Some(exit),
                ..Captured::default()
            };
            python_failure(sc, prog, "program", &mut c, reports).map(|f| (f.hard, f.why))
        };
        // What its document's program does: ConnectionRefusedError, exit 1.
        let refused = b"Traceback (most recent call last):\nConnectionRefusedError: x\n";
        assert!(run(refused, 1, &[]).is_none());
        assert_eq!(
            run(b"KeyError: 'x'\n", 1, &[]),
            Some((false, "it raised KeyError".to_string()))
        );
        assert_eq!(
            run(b"", 0, &[]),
            Some((false, "it ended `exit 0`, not `exit 1`".to_string()))
        );
        assert_eq!(
            run(b"TabError: inconsistent\n", 1, &[]),
            Some((true, "it does not run (TabError)".to_string()))
        );
        let other = [Report::OtherConnect { port: 8002 }];
        assert_eq!(
            run(refused, 1, &other),
            Some((
                true,
                "it connects to port 8002, not its document's port 8001".to_string()
            ))
        );
    }
}
