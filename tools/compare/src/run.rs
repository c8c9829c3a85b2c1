//! Running the programs: one process per program, its stdout and stderr read on threads,
//! every wait bounded by a deadline, every process stopped by its own PID (Child::kill)
//! and reaped before the scenario ends.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use socket_lessons::wait_until;

/// The lines of `text` that have their newline already; the last, unfinished one is left out.
pub fn complete_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive('\n')
        .filter_map(|line| line.strip_suffix('\n'))
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
}

/// At most this much of one stream is kept (a spinning original can print megabytes).
const KEEP: usize = 1 << 20;

/// A running program.
pub struct Proc {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

/// How long `finish` waits for the pipes to close after the program ended (a child
/// of the program could hold them open).
const PIPES_CLOSE: Duration = Duration::from_secs(1);

/// What a program printed, and how it ended.
#[derive(Clone, Debug, Default)]
pub struct Captured {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// "exit 0", "running until stopped", "stopped after 3 lines", ...
    pub end: String,
    /// The exit status, when the program exited by itself with one.
    pub exit: Option<i32>,
}

impl Proc {
    pub fn spawn(mut command: Command, stdin: &str) -> Result<Proc, String> {
        let shown = format!("{:?}", command.get_program());
        let child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {shown}: {e}"))?;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut proc = Proc {
            child,
            stdout,
            stderr,
            readers: Vec::new(),
        };
        // Each pipe on its own thread: a program that does not read its stdin, or fills
        // one output pipe while we wait on the other, must not block us. A thread the
        // system refuses stops the program (dropping `proc` kills it).
        let refused = |e: std::io::Error| format!("cannot start a thread to talk to {shown}: {e}");
        if let Some(mut pipe) = proc.child.stdin.take() {
            let input = stdin.as_bytes().to_vec();
            thread::Builder::new()
                .spawn(move || {
                    let _ = pipe.write_all(&input);
                })
                .map_err(refused)?;
        }
        if let Some(pipe) = proc.child.stdout.take() {
            let reader = collect(pipe, Arc::clone(&proc.stdout)).map_err(refused)?;
            proc.readers.push(reader);
        }
        if let Some(pipe) = proc.child.stderr.take() {
            let reader = collect(pipe, Arc::clone(&proc.stderr)).map_err(refused)?;
            proc.readers.push(reader);
        }
        Ok(proc)
    }

    pub fn stdout(&self) -> Vec<u8> {
        self.stdout.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn stderr(&self) -> Vec<u8> {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn stdout_lines(&self) -> usize {
        self.stdout
            .lock()
            .map(|s| s.iter().filter(|&&b| b == b'\n').count())
            .unwrap_or(0)
    }

    pub fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `deadline` for the program to exit; true if it did.
    pub fn wait_exit(&mut self, deadline: Duration) -> bool {
        wait_until(deadline, || self.has_exited())
    }

    /// Stops the program if it still runs, reaps it, and returns what it printed, with
    /// `end` describing how it ended (`None`: it exited by itself, described by its
    /// exit status).
    pub fn finish(mut self, end: Option<String>) -> Captured {
        let status = match self.child.try_wait() {
            Ok(Some(status)) => Some(status),
            _ => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                None
            }
        };
        // The readers end when the pipes close; a grandchild holding them must not
        // hold us: after PIPES_CLOSE we take what has arrived.
        wait_until(PIPES_CLOSE, || self.readers.iter().all(|r| r.is_finished()));
        for reader in self.readers.drain(..) {
            if reader.is_finished() {
                let _ = reader.join();
            }
        }
        let exit = status.and_then(|s| s.code());
        let end = match (end, status) {
            (Some(end), _) => end,
            (None, Some(status)) => match status.code() {
                Some(code) => format!("exit {code}"),
                None => "killed by a signal".to_string(),
            },
            (None, None) => "stopped".to_string(),
        };
        Captured {
            stdout: self.stdout(),
            stderr: self.stderr(),
            end,
            exit,
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn collect(
    mut pipe: impl Read + Send + 'static,
    sink: Arc<Mutex<Vec<u8>>>,
) -> std::io::Result<JoinHandle<()>> {
    thread::Builder::new().spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut all) = sink.lock()
                && all.len() < KEEP
            {
                all.extend_from_slice(&buf[..n]);
            }
        }
    })
}

/// Waits until the stdout of `proc` has been quiet for `quiet` after having at least
/// `lines` lines, or `deadline` passes.
pub fn settle(proc: &mut Proc, lines: usize, quiet: Duration, deadline: Duration) {
    let end = Instant::now() + deadline;
    wait_until(deadline, || {
        proc.stdout_lines() >= lines || proc.has_exited()
    });
    let mut last = proc.stdout().len();
    let mut since = Instant::now();
    while Instant::now() < end {
        thread::sleep(Duration::from_millis(5));
        let now = proc.stdout().len();
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet || proc.has_exited() {
            break;
        }
    }
}

/// A folder under the system's temp dir that is removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(what: &str) -> Result<TempDir, String> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "socket-lessons-{what}-{}-{nanos}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(TempDir(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
