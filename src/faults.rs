//! The faults a test injects around a lesson program, to check that it survives them:
//! a closed stdout (`program | head -1`), a port already taken, too few file descriptors
//! for `accept`, and a thread that the system refuses (Linux only for the last two).

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
#[cfg(target_os = "linux")]
use std::{
    net::TcpStream,
    path::{Path, PathBuf},
    process::Child,
    sync::{Arc, Mutex},
    time::Duration,
};

#[cfg(target_os = "linux")]
use crate::peers::connect;
use crate::peers::free_listener;
#[cfg(target_os = "linux")]
use crate::servers::{collect_lines, wait_for_text};
use crate::{DEADLINE, binary, wait_until};

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
    /// The copy of the program it runs, if it runs one (removed after the server stops).
    _copy: Option<ReadableCopy>,
}

#[cfg(target_os = "linux")]
impl Wrapped {
    /// Starts `wrapper... PROGRAM args... --addr 127.0.0.1:0` and waits for the
    /// `<package>: listening on ADDR` line.
    pub fn start(wrapper: &[&str], package: &str, args: &[&str]) -> Result<Wrapped, String> {
        Wrapped::start_program(wrapper, package, &binary(package)?, None, args)
    }

    /// Like `start`, with the program at `program`, which `copy` (if any) holds.
    fn start_program(
        wrapper: &[&str],
        package: &str,
        program: &Path,
        copy: Option<ReadableCopy>,
        args: &[&str],
    ) -> Result<Wrapped, String> {
        let (command, wrapper_args) = wrapper.split_first().ok_or("no wrapper command")?;
        let mut child = Command::new(command)
            .args(wrapper_args)
            .arg(program)
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
            _copy: copy,
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
///
/// `uid` must be able to reach the program: not in a checkout whose folder others cannot
/// enter (mode 0700, as a home folder or `mktemp -d` often is), where exec fails with
/// "Permission denied". Then it runs a copy, in a folder of its own under the temporary
/// folder, open to others.
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
    let program = binary(package)?;
    let (program, copy) = if others_can_run(&program) {
        (program, None)
    } else {
        let copy = ReadableCopy::of(&program)?;
        if !others_can_run(&copy.program) {
            println!(
                "skipped: user {uid} can reach neither {} nor its copy {} (a folder on the \
                 way is closed to others)",
                program.display(),
                copy.program.display()
            );
            return Ok(None);
        }
        (copy.program.clone(), Some(copy))
    };
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
    Wrapped::start_program(&wrapper, package, &program, copy, args).map(Some)
}

/// Whether a user who is neither the owner nor in the group may run `program`: it and
/// every folder above it let others in (the x bit for others).
#[cfg(target_os = "linux")]
fn others_can_run(program: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    program.ancestors().all(|path| {
        std::fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o001 != 0)
    })
}

/// A copy of a program in a folder of its own under the temporary folder, both open to
/// others (mode 755); removed when dropped.
#[cfg(target_os = "linux")]
struct ReadableCopy {
    folder: PathBuf,
    program: PathBuf,
}

#[cfg(target_os = "linux")]
impl ReadableCopy {
    fn of(program: &Path) -> Result<ReadableCopy, String> {
        use std::os::unix::fs::PermissionsExt;
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COPIES: AtomicUsize = AtomicUsize::new(0);
        let name = program.file_name().ok_or("a program path without a name")?;
        let folder = std::env::temp_dir().join(format!(
            "socket-lessons-{}-{}",
            std::process::id(),
            COPIES.fetch_add(1, Ordering::Relaxed)
        ));
        let copy = ReadableCopy {
            program: folder.join(name),
            folder,
        };
        let open = std::fs::Permissions::from_mode(0o755);
        std::fs::create_dir_all(&copy.folder)
            .and_then(|()| std::fs::set_permissions(&copy.folder, open.clone()))
            .and_then(|()| std::fs::copy(program, &copy.program))
            .and_then(|_| std::fs::set_permissions(&copy.program, open))
            .map_err(|e| format!("cannot copy {} for another user: {e}", program.display()))?;
        Ok(copy)
    }
}

#[cfg(target_os = "linux")]
impl Drop for ReadableCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.folder);
    }
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
