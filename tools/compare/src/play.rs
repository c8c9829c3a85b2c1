//! Playing one combination of a scenario: the commands for the original (Python with
//! the shim) and for ours, starting the server and waiting until it listens, running
//! the clients, ending every program the way the scenario says, and the normalised
//! transcript that rows are compared by.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use socket_lessons::{binary, closed_port_addr, wait_until};

use super::normalise::{self, Rule};
use super::run::{Captured, Proc, TempDir, complete_lines, settle};
use super::scenarios::{self, Addr, End, Prog, Scenario, ServerSpec};
use super::{Combo, Ctx, Who, python_exe, shim};

/// What one combination printed: the server (if any) and each client.
pub struct RunOut {
    pub server: Option<Captured>,
    pub clients: Vec<Captured>,
    /// Raw transcript for --keep: commands, stdout, stderr, ends.
    pub raw: String,
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
/// runs the clients one after the other, then ends the server as the scenario says.
pub fn run_combo(ctx: &Ctx, sc: &Scenario, combo: Combo) -> RunOut {
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

/// The text compared for one run: every side's stdout, normalised,
/// and how it ended; and the rules that changed something.
pub fn transcript(sc: &Scenario, out: &RunOut) -> (String, BTreeSet<Rule>) {
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
    if ends_first {
        changed.insert(Rule::FirstLines);
    }
    // Ports first, in every scenario; then the scenario's own rules, in their order.
    let rules = [Rule::Ports]
        .into_iter()
        .chain(sc.rules.iter().copied().filter(|r| *r != Rule::Ports));
    for rule in rules {
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
            // Applied when the program was stopped (see end_run).
            Rule::FirstLines => {}
            Rule::Ports | Rule::Fd | Rule::Time => {
                let apply = match rule {
                    Rule::Ports => normalise::ports,
                    Rule::Fd => normalise::fd,
                    _ => normalise::time,
                };
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
        }
    }

    #[test]
    fn the_transcript_shows_stdout_endings_and_a_missing_last_newline() {
        let out = RunOut {
            server: Some(captured(
                "starting...\n('127.0.0.1', 4242)\n[<socket.socket fd=4, family=2>]\n",
                "running until stopped",
            )),
            clients: vec![captured(">>: HELLO\n>>: ", "exit 1")],
            raw: String::new(),
        };
        let (text, changed) = transcript(scenario("04/nonblocking"), &out);
        assert_eq!(
            text,
            "server stdout:\n  | starting...\n  | ('127.0.0.1', PORT)\n  | \
             [<socket.socket family=2>]\nserver: running until stopped\n\
             client 1 stdout:\n  | >>: HELLO\n  | >>: \n  (no newline at end)\nclient 1: exit 1\n"
        );
        assert_eq!(
            changed.into_iter().collect::<Vec<_>>(),
            [Rule::Ports, Rule::Fd]
        );
    }

    #[test]
    fn a_program_without_output_or_server_says_so() {
        let out = RunOut {
            server: None,
            clients: vec![captured("", "exit 1")],
            raw: String::new(),
        };
        let (text, changed) = transcript(scenario("04/nonblocking-accept"), &out);
        assert_eq!(text, "program stdout: (nothing)\nprogram: exit 1\n");
        assert!(changed.is_empty());
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
}
