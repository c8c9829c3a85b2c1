//! What the tour (`cargo run`) and the black-box tests (`cargo test`) share: building the
//! lesson programs from the current source, starting a server on a free loopback port and
//! reading its address from its `<package>: listening on <addr>` announcement, waiting
//! with deadlines instead of sleeps, and the expected-output blocks of the lesson pages.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long a server may take to announce its address, and the default for every wait.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The workspace root (where the top Cargo.toml is).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The environment variable that hands the harness the lesson programs already built:
/// the folder that holds them (`timestamp-server`, or `timestamp-server.exe` on Windows).
/// When it is set, `binary` takes the programs from there and runs no cargo at all. The
/// Windows check (scripts/windows-check) needs it: it builds on Linux and runs the tests
/// under Wine, where no cargo can run. Without it, the programs are built from source.
pub const BIN_DIR_VAR: &str = "SOCKET_LESSONS_BIN_DIR";

/// The lesson programs of this process: built once from source, or handed over.
enum Programs {
    Built(HashMap<String, PathBuf>),
    Prebuilt(PathBuf),
}

static PROGRAMS: OnceLock<Result<Programs, String>> = OnceLock::new();

/// The path of a lesson program, built from the current source (or taken from the folder
/// that `SOCKET_LESSONS_BIN_DIR` names, see `BIN_DIR_VAR`).
///
/// The first call runs `cargo build --workspace --bins` once for the whole process (with
/// the `cargo` that runs us, when there is one) and reads the binaries' paths from its
/// JSON messages, so a test never runs a stale binary of another package.
pub fn binary(package: &str) -> Result<PathBuf, String> {
    match PROGRAMS.get_or_init(|| find_programs(false)).as_ref()? {
        Programs::Built(binaries) => binaries
            .get(package)
            .cloned()
            .ok_or_else(|| format!("the workspace has no binary named {package}")),
        Programs::Prebuilt(dir) => prebuilt(dir, package),
    }
}

/// The program `package` in the folder of prebuilt programs `dir`.
fn prebuilt(dir: &Path, package: &str) -> Result<PathBuf, String> {
    let path = dir.join(format!("{package}{}", std::env::consts::EXE_SUFFIX));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{BIN_DIR_VAR} names {}, which has no {package}",
            dir.display()
        ))
    }
}

/// Builds the lesson programs now, unless this process has them already, and when cargo
/// has something to compile, says so on stdout with one line per package: for the tour,
/// whose first run would otherwise sit silent while the programs compile.
pub fn build_programs_showing_progress() -> Result<(), String> {
    PROGRAMS
        .get_or_init(|| find_programs(true))
        .as_ref()
        .map(|_| ())
        .map_err(Clone::clone)
}

fn find_programs(show_progress: bool) -> Result<Programs, String> {
    match std::env::var_os(BIN_DIR_VAR) {
        Some(dir) if !dir.is_empty() => Ok(Programs::Prebuilt(PathBuf::from(dir))),
        _ => build_binaries(show_progress).map(Programs::Built),
    }
}

fn build_binaries(show_progress: bool) -> Result<HashMap<String, PathBuf>, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = workspace_root().join("Cargo.toml");
    let mut child = Command::new(cargo)
        .args(["build", "--workspace", "--bins", "--quiet"])
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(&manifest)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run cargo build: {e}"))?;
    let total = workspace_packages();
    let mut packages_seen = HashSet::new();
    let mut announced = false;
    let mut binaries = HashMap::new();
    // Cargo writes one JSON message per line as it goes: one per compiled (or already
    // up to date, "fresh") target.
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("cannot read cargo's output: {e}"))?;
            if !line.contains("\"reason\":\"compiler-artifact\"") {
                continue;
            }
            if let Some(package) = json_string_field(&line, "package_id") {
                packages_seen.insert(package);
            }
            if show_progress && line.contains("\"fresh\":false") {
                if !announced {
                    println!("building the lesson programs (first run only, or after a change)...");
                    announced = true;
                }
                // The first "name" of the message is its target's: a library's is its
                // package name with `_` for `-` (lesson_cli), and ours all use `-`.
                let name = json_string_field(&line, "name").unwrap_or_default();
                let name = name.replace('_', "-");
                println!("  [{:>2}/{total}] {name}", packages_seen.len().min(total));
            }
            if let Some(path) = json_string_field(&line, "executable") {
                let path = PathBuf::from(path);
                if let Some(name) = path.file_stem().and_then(|s| s.to_str()) {
                    binaries.insert(name.to_string(), path.clone());
                }
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("cannot wait for cargo build: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build failed ({status})"));
    }
    Ok(binaries)
}

/// How many packages the workspace has: the root one and one per crates/*/*/Cargo.toml.
fn workspace_packages() -> usize {
    let crates = std::fs::read_dir(workspace_root().join("crates"))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|lesson| {
            std::fs::read_dir(lesson.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .filter(|krate| krate.path().join("Cargo.toml").is_file())
        .count();
    crates + 1
}

/// The string value of `"field":"..."` in one line of cargo's JSON, unescaped.
/// (std has no JSON parser, and cargo's messages only need this much of one.)
pub fn json_string_field(line: &str, field: &str) -> Option<String> {
    let start = line.find(&format!("\"{field}\":\""))? + field.len() + 4;
    let mut value = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => match chars.next()? {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                other => value.push(other), // \\ \" \/
            },
            c => value.push(c),
        }
    }
    None
}

/// A running lesson server, stopped (killed) when dropped.
pub struct Server {
    child: Child,
    addr: SocketAddr,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    /// The thread that reads stdout: it ends when the pipe closes.
    stdout_reader: Option<thread::JoinHandle<()>>,
}

impl Server {
    /// Starts `package` with `args` plus `--addr 127.0.0.1:0` (unless `args` has an
    /// `--addr`), and waits until it announces where it listens.
    pub fn start(package: &str, args: &[&str]) -> Result<Server, String> {
        Server::start_with(package, args, Stdio::piped())
    }

    /// Like `start`, with the server's stdout a pipe whose reading end is already closed
    /// (`server | head -0`): its first print fails.
    pub fn start_with_stdout_closed(package: &str, args: &[&str]) -> Result<Server, String> {
        Server::start_with(package, args, closed_pipe()?)
    }

    fn start_with(package: &str, args: &[&str], stdout: Stdio) -> Result<Server, String> {
        let mut command = Command::new(binary(package)?);
        command.args(args);
        if !args.iter().any(|a| a.starts_with("--addr")) {
            command.args(["--addr", "127.0.0.1:0"]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {package}: {e}"))?;

        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (announced, announcement) = mpsc::channel();
        let prefix = format!("{package}: listening on ");
        let stdout_reader = child
            .stdout
            .take()
            .map(|pipe| collect_lines(pipe, Arc::clone(&stdout), move |_| {}));
        if let Some(pipe) = child.stderr.take() {
            collect_lines(pipe, Arc::clone(&stderr), move |line| {
                if let Some(rest) = line.strip_prefix(&prefix) {
                    let _ = announced.send(rest.split_whitespace().next().map(str::to_string));
                }
            });
        }

        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stdout,
            stderr,
            stdout_reader,
        };
        let announced = announcement.recv_timeout(DEADLINE).ok().flatten();
        let Some(text) = announced else {
            return Err(format!(
                "{package} did not announce `{package}: listening on ADDR` within {DEADLINE:?}; \
                 its stderr:\n{}",
                server.stderr()
            ));
        };
        let mut addr: SocketAddr = text
            .parse()
            .map_err(|_| format!("{package} announced an address that is not IP:PORT: {text}"))?;
        if addr.ip().is_unspecified() {
            // A server bound to 0.0.0.0 is reached through loopback.
            addr.set_ip([127, 0, 0, 1].into());
        }
        server.addr = addr;
        Ok(server)
    }

    /// Where the server listens, as `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Everything the server printed to stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Everything the server printed to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits until the server's stdout contains `needle`, and returns all of it.
    pub fn wait_for_stdout(&self, needle: &str) -> Result<String, String> {
        wait_for_text(&self.stdout, needle, "stdout")
    }

    /// Waits until the server printed at least `count` lines on stdout, and returns them.
    pub fn wait_for_stdout_lines(&self, count: usize) -> Result<String, String> {
        let mut last = String::new();
        if wait_until(DEADLINE, || {
            last = self.stdout();
            last.lines().count() >= count
        }) {
            Ok(last)
        } else {
            Err(format!(
                "the server printed fewer than {count} lines within {DEADLINE:?}:\n{last}"
            ))
        }
    }

    /// Waits until the server's stderr contains `needle`, and returns all of it.
    pub fn wait_for_stderr(&self, needle: &str) -> Result<String, String> {
        wait_for_text(&self.stderr, needle, "stderr")
    }

    /// Stops the server and returns all it printed on stdout, to the last byte: the pipe
    /// is read until it closes, so nothing still on its way is missed (`stdout()` shows
    /// only what has arrived so far).
    pub fn stop_and_take_stdout(mut self) -> Result<String, String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let reader = self.stdout_reader.take();
        if !wait_until(DEADLINE, || reader.as_ref().is_none_or(|r| r.is_finished())) {
            return Err(format!(
                "the server's stdout stayed open after it was stopped ({DEADLINE:?})"
            ));
        }
        Ok(self.stdout())
    }

    /// Whether the server process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A pipe whose reading end is closed, for a program's stdout: every print into it fails
/// as it does after `program | head -1` has ended (EPIPE on Unix).
pub fn closed_pipe() -> Result<Stdio, String> {
    let (reader, writer) = std::io::pipe().map_err(|e| format!("cannot make a pipe: {e}"))?;
    drop(reader);
    Ok(Stdio::from(writer))
}

/// Runs `package` with `args` and `stdin` as its input, its stdout a closed pipe (see
/// `closed_pipe`), and returns how it ended and its stderr (stdout is empty).
pub fn run_with_stdout_closed(
    package: &str,
    args: &[&str],
    stdin: &[u8],
) -> Result<Output, String> {
    let mut child = Command::new(binary(package)?)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(closed_pipe()?)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {package}: {e}"))?;
    if let Some(mut input) = child.stdin.take() {
        // The program may end before it reads its input: a failed write is no failure.
        let _ = input.write_all(stdin);
    }
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    finished
        .recv_timeout(DEADLINE)
        .map_err(|_| format!("{package} did not end within {DEADLINE:?} with its stdout closed"))?
        .map_err(|e| format!("cannot wait for {package}: {e}"))
}

/// Linux: a lesson server started through a wrapper command that execs it
/// (`sh -c 'ulimit -n N && exec "$@"'`, `setpriv ... prlimit ...`), so that the process
/// id is the server's; listening on a free loopback port, stderr collected, stdout
/// dropped (a server that spins and prints must not block on a full pipe). Killed when
/// dropped.
#[cfg(target_os = "linux")]
pub struct Wrapped {
    child: Child,
    addr: String,
    stderr: Arc<Mutex<String>>,
}

#[cfg(target_os = "linux")]
impl Wrapped {
    /// Starts `wrapper... PROGRAM args... --addr 127.0.0.1:0` and waits for the
    /// `<package>: listening on ADDR` line.
    pub fn start(wrapper: &[&str], package: &str, args: &[&str]) -> Result<Wrapped, String> {
        let (command, wrapper_args) = wrapper.split_first().ok_or("no wrapper command")?;
        let mut child = Command::new(command)
            .args(wrapper_args)
            .arg(binary(package)?)
            .args(args)
            .args(["--addr", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {command}: {e}"))?;
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(pipe) = child.stderr.take() {
            collect_lines(pipe, Arc::clone(&stderr), |_| {});
        }
        let mut wrapped = Wrapped {
            child,
            addr: String::new(),
            stderr,
        };
        let prefix = format!("{package}: listening on ");
        let text = wrapped.wait_for_stderr(&prefix)?;
        wrapped.addr = text
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .ok_or_else(|| format!("{package} announced no address:\n{text}"))?
            .to_string();
        Ok(wrapped)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Everything the server printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits until stderr contains `needle`, and returns all of it.
    pub fn wait_for_stderr(&self, needle: &str) -> Result<String, String> {
        wait_for_text(&self.stderr, needle, "stderr")
    }

    /// The CPU time the process has used so far, in clock ticks: utime + stime, fields
    /// 14 and 15 of /proc/PID/stat (Linux counts them in USER_HZ, 100 a second).
    pub fn cpu_ticks(&self) -> Result<u64, String> {
        let path = format!("/proc/{}/stat", self.child.id());
        let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        // The fields after the command name, which is in parentheses: state is the
        // first, utime and stime the 12th and 13th.
        let after = stat
            .rfind(')')
            .map(|at| &stat[at + 1..])
            .unwrap_or_default();
        let fields: Vec<&str> = after.split_whitespace().collect();
        let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        match (tick(11), tick(12)) {
            (Some(user), Some(system)) => Ok(user + system),
            _ => Err(format!("{path} has no utime and stime: {stat}")),
        }
    }
}

#[cfg(target_os = "linux")]
impl Drop for Wrapped {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Linux: `package` (with `args`) under `ulimit -n fd_limit`, with more connections
/// waiting than it has descriptors for, so that accept fails with "Too many open
/// files" and leaves them queued. Its accept loop must wait between tries instead of
/// retrying at once: over a 300 ms window it may use at most 2 clock ticks (7% of a
/// core; a loop that retries at once uses about all 30), and it logs at most 3 lines
/// (the announcement, one when the failures start, maybe one when they stop).
#[cfg(target_os = "linux")]
pub fn accept_loop_backs_off(package: &str, args: &[&str], fd_limit: u32) -> Result<(), String> {
    // The limit counts descriptor numbers, so a descriptor that `cargo test` was started
    // with (say by `/usr/bin/time -o FILE`) would take one of the server's few: close 3-9
    // first, and the server starts with 0, 1 and 2 only, wherever the tests run.
    let limit =
        format!("exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; ulimit -n {fd_limit} && exec \"$@\"");
    let server = Wrapped::start(&["sh", "-c", &limit, "sh"], package, args)?;
    // The kernel finishes these handshakes on its own and queues them for accept.
    let _waiting = (0..20)
        .map(|_| connect(server.addr()))
        .collect::<Result<Vec<TcpStream>, String>>()?;
    server.wait_for_stderr("accept failed: Too many open files")?;
    let window = Duration::from_millis(300);
    let before = server.cpu_ticks()?;
    thread::sleep(window); // a measuring window, not a wait for an event
    let used = server.cpu_ticks()? - before;
    let stderr = server.stderr();
    if used > 2 {
        return Err(format!(
            "{package} used {used} clock ticks of CPU in {window:?} out of descriptors \
             (at most 2 allowed):\n{stderr}"
        ));
    }
    if stderr.lines().count() > 3 {
        return Err(format!("{package} logged more than 3 lines:\n{stderr}"));
    }
    Ok(())
}

/// Linux: whether this process runs as root (the real user id in /proc/self/status).
#[cfg(target_os = "linux")]
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

/// Linux, as root only: `package` run as the otherwise unused user `uid`, allowed
/// `limit` processes and threads (RLIMIT_NPROC, which root itself ignores): the server's
/// main thread and `limit - 1` connection threads. Ok(None), after saying why on
/// stdout, where that cannot run.
#[cfg(target_os = "linux")]
pub fn under_a_thread_limit(
    package: &str,
    args: &[&str],
    uid: u32,
    limit: u32,
) -> Result<Option<Wrapped>, String> {
    if !is_root() {
        println!("skipped: only root can run the server as another user with a thread limit");
        return Ok(None);
    }
    let ids = [format!("--reuid={uid}"), format!("--regid={uid}")];
    let nproc = format!("--nproc={limit}");
    let wrapper = [
        "setpriv",
        &ids[0],
        &ids[1],
        "--clear-groups",
        "prlimit",
        &nproc,
    ];
    Wrapped::start(&wrapper, package, args).map(Some)
}

/// Reads `pipe` line by line on its own thread into `sink`, calling `each` for every line.
fn collect_lines(
    pipe: impl Read + Send + 'static,
    sink: Arc<Mutex<String>>,
    mut each: impl FnMut(&str) + Send + 'static,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            let text = String::from_utf8_lossy(&line);
            each(text.trim_end_matches(['\r', '\n']));
            if let Ok(mut all) = sink.lock() {
                all.push_str(&text);
            }
            line.clear();
        }
    })
}

fn wait_for_text(text: &Mutex<String>, needle: &str, what: &str) -> Result<String, String> {
    let mut last = String::new();
    let found = wait_until(DEADLINE, || {
        last = text.lock().map(|s| s.clone()).unwrap_or_default();
        last.contains(needle)
    });
    if found {
        Ok(last)
    } else {
        Err(format!(
            "the server's {what} did not show {needle:?} within {DEADLINE:?}; it was:\n{last}"
        ))
    }
}

/// Polls `condition` every few milliseconds until it holds (true) or `deadline` passes
/// (false). The pause between polls only saves CPU: no test depends on its length.
pub fn wait_until(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Connects to `addr`, retrying until the deadline (for a server that is still starting).
pub fn connect(addr: &str) -> Result<TcpStream, String> {
    let mut last = None;
    let connected = wait_until(DEADLINE, || match TcpStream::connect(addr) {
        Ok(stream) => {
            last = Some(Ok(stream));
            true
        }
        Err(e) => {
            last = Some(Err(e));
            false
        }
    });
    match last {
        Some(Ok(stream)) if connected => Ok(stream),
        Some(Err(e)) => Err(format!("cannot connect to {addr}: {e}")),
        _ => Err(format!("cannot connect to {addr}")),
    }
}

/// A listener on a free loopback port, and its address.
fn free_listener() -> Result<(TcpListener, SocketAddr), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?;
    Ok((listener, addr))
}

/// A loopback address where nobody listens, for "cannot connect" tests: port 1
/// (tcpmux, which no system runs today), so a connect there is refused. Not a port the
/// OS just handed out and took back: a server of a test running at the same time may
/// be given that very port, and then the "refused" client talks to it (seen with
/// tests 16 at a time). Only if something does listen on port 1 here, a freed port.
pub fn closed_port_addr() -> Result<String, String> {
    let port_one = SocketAddr::from(([127, 0, 0, 1], 1));
    match TcpStream::connect_timeout(&port_one, DEADLINE) {
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => Ok(port_one.to_string()),
        _ => {
            let (listener, addr) = free_listener()?;
            drop(listener);
            Ok(addr.to_string())
        }
    }
}

/// A stand-in server for testing a client: listens on a free loopback port, takes ONE
/// connection and hands it to `serve` on its own thread. Returns the address to give
/// the client, and the thread: join it to get what `serve` returned (a failed accept,
/// like a failed assertion in `serve`, is a panic that the join reports).
pub fn one_shot_server<T: Send + 'static>(
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> Result<(String, JoinHandle<T>), String> {
    let (listener, addr) = free_listener()?;
    let handle = thread::spawn(move || match listener.accept() {
        Ok((stream, _)) => serve(stream),
        Err(e) => panic!("the one-shot server on {addr} could not accept: {e}"),
    });
    Ok((addr.to_string(), handle))
}

/// One `read`, again if a signal interrupted it. A test process gets signals (assert_cmd's
/// timeouts install a SIGCHLD handler, so any child that exits sends one), and a read on
/// a socket with a read timeout is not restarted after a signal: it fails with EINTR
/// (`Interrupted`), which is no answer from the peer.
pub fn read_some(stream: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Whether nothing arrives on `stream` for `quiet` (a read that times out, rather than
/// bytes or end of stream): to check that a server waits for the rest of a request
/// instead of judging the first piece. The stream's read timeout is restored after.
/// A signal may cut the wait short (see `read_some`); then it waits again for the rest
/// of `quiet`.
pub fn stays_silent(stream: &mut TcpStream, quiet: Duration) -> bool {
    let before = stream.read_timeout().ok().flatten();
    let until = Instant::now() + quiet;
    let silent = loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break true; // nothing came, only interruptions
        }
        if stream.set_read_timeout(Some(left)).is_err() {
            break false;
        }
        match stream.read(&mut [0u8; 64]) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break true;
            }
            _ => break false,
        }
    };
    let _ = stream.set_read_timeout(before);
    silent
}

/// Starts `package --addr ADDR`, where ADDR is a loopback port this process holds, and
/// returns ADDR and what the program did (a server must fail to listen and exit; one that
/// is still running after DEADLINE is killed, and its output returned as it stands).
pub fn run_on_a_taken_port(package: &str) -> Result<(String, Output), String> {
    let (taken, addr) = free_listener()?;
    let addr = addr.to_string();
    let mut child = Command::new(binary(package)?)
        .args(["--addr", &addr])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {package}: {e}"))?;
    if !wait_until(DEADLINE, || !matches!(child.try_wait(), Ok(None))) {
        let _ = child.kill();
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("cannot wait for {package}: {e}"))?;
    drop(taken);
    Ok((addr, output))
}

/// The blocks of a lesson page that are marked with `<!-- output: LABEL -->` on the line
/// before their fence, as (label, text) pairs: the expected output that the tests compare
/// with what the programs really print.
pub fn marked_blocks(page: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut lines = page.lines();
    while let Some(line) = lines.next() {
        let Some(label) = line
            .trim()
            .strip_prefix("<!-- output:")
            .and_then(|rest| rest.strip_suffix("-->"))
        else {
            continue;
        };
        if !lines.next().is_some_and(|fence| fence.starts_with("```")) {
            continue;
        }
        let mut text = String::new();
        for body in lines.by_ref() {
            if body.starts_with("```") {
                break;
            }
            text.push_str(body);
            text.push('\n');
        }
        blocks.push((label.trim().to_string(), text));
    }
    blocks
}

/// The text of the block labelled `label` in lessons/`page`.
pub fn lesson_block(page: &str, label: &str) -> Result<String, String> {
    let path = workspace_root().join("lessons").join(page);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    marked_blocks(&text)
        .into_iter()
        .find(|(l, _)| l == label)
        .map(|(_, block)| block)
        .ok_or_else(|| format!("lessons/{page} has no block marked <!-- output: {label} -->"))
}

/// Replaces every run of ASCII digits that follows `prefix` with `placeholder`:
/// `normalize_number("127.0.0.1:53211", "127.0.0.1:", "PORT")` gives `127.0.0.1:PORT`.
pub fn normalize_number(text: &str, prefix: &str, placeholder: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let after = at + prefix.len();
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            out.push_str(placeholder);
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_json_string_field() {
        let line = r#"{"reason":"compiler-artifact","executable":"C:\\t\\a \"b\".exe","x":1}"#;
        assert_eq!(
            json_string_field(line, "executable").as_deref(),
            Some(r#"C:\t\a "b".exe"#)
        );
        assert_eq!(
            json_string_field(r#"{"executable":null}"#, "executable"),
            None
        );
        // The bench reads each program's opt-level from the same messages.
        let line = r#"{"profile":{"opt_level":"3","debuginfo":0},"executable":"/t/x"}"#;
        assert_eq!(json_string_field(line, "opt_level").as_deref(), Some("3"));
    }

    #[test]
    fn takes_prebuilt_programs_from_a_folder() {
        // This test binary itself stands in for a prebuilt program.
        let me = std::env::current_exe().unwrap();
        let dir = me.parent().unwrap();
        let stem = me.file_stem().unwrap().to_str().unwrap();
        assert_eq!(prebuilt(dir, stem).unwrap(), me);
        let missing = prebuilt(dir, "no-such-program").unwrap_err();
        assert!(
            missing.starts_with("SOCKET_LESSONS_BIN_DIR names ")
                && missing.ends_with(", which has no no-such-program"),
            "{missing}"
        );
    }

    #[test]
    fn finds_marked_blocks() {
        let page = "intro\n<!-- output: server -->\n```text\na\nb\n```\n```text\nx\n```\n";
        assert_eq!(
            marked_blocks(page),
            [("server".to_string(), "a\nb\n".to_string())]
        );
    }

    #[test]
    fn nobody_listens_on_a_closed_port() {
        let addr = closed_port_addr().unwrap();
        let err = TcpStream::connect(&addr).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    }

    #[test]
    fn one_shot_server_hands_over_its_connection_and_silence_is_seen() {
        use std::io::Write;
        let (addr, server) = one_shot_server(|mut conn| {
            let mut got = [0u8; 2];
            conn.read_exact(&mut got).unwrap();
            conn.write_all(b"ok").unwrap();
            got
        })
        .unwrap();
        let mut stream = connect(&addr).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        // Nothing sent yet, so nothing comes back.
        assert!(stays_silent(&mut stream, Duration::from_millis(10)));
        assert_eq!(stream.read_timeout().unwrap(), Some(DEADLINE));
        stream.write_all(b"hi").unwrap();
        assert_eq!(&server.join().unwrap(), b"hi");
        // A reply, then end of stream: neither is silence.
        assert!(!stays_silent(&mut stream, DEADLINE));
        assert!(!stays_silent(&mut stream, DEADLINE));
    }

    #[test]
    fn normalizes_ports() {
        assert_eq!(
            normalize_number("from 127.0.0.1:5321 and 127.0.0.1:9", "127.0.0.1:", "PORT"),
            "from 127.0.0.1:PORT and 127.0.0.1:PORT"
        );
    }
}
