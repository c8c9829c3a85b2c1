//! A server under measurement: a child process on a free loopback port, its stdout on
//! the null device, stopped by its PID when dropped (so also when a measurement fails),
//! and what Linux's /proc says about its CPU time, threads and memory.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread;
use std::time::Duration;

/// How long a server may take to say where it listens.
const ANNOUNCE: Duration = Duration::from_secs(20);

/// How many of a server's stderr lines we keep, to explain a failure.
const KEPT_LINES: usize = 5;

/// A running server; dropping it kills it.
pub struct Running {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Running {
    /// Starts `program ARGS... --addr 127.0.0.1:0` and waits for its
    /// `<name>: listening on ADDR` line on stderr.
    pub fn start(program: &Path, args: &[&str], name: &str) -> Result<Running, String> {
        let mut command = Command::new(program);
        command
            .args(args)
            .args(["--addr", "127.0.0.1:0"])
            .stdin(Stdio::null())
            // The null device: see the preamble the bench prints, and why it is fair.
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = spawn(&mut command).map_err(|e| format!("cannot start {name}: {e}"))?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (announced, announcement) = mpsc::channel();
        if let Some(pipe) = child.stderr.take() {
            let kept = Arc::clone(&stderr);
            let prefix = format!("{name}: listening on ");
            // Drains stderr for the server's whole life (a server that says "client
            // left" 1000 times must never block on a full pipe), keeping the first lines.
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.strip_prefix(&prefix) {
                        let _ = announced.send(rest.trim().parse::<SocketAddr>().ok());
                    }
                    let mut kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
                    if kept.len() < KEPT_LINES {
                        kept.push(line);
                    }
                }
            });
        }
        let mut server = Running {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr,
        };
        match announcement.recv_timeout(ANNOUNCE) {
            Ok(Some(addr)) => {
                server.addr = addr;
                Ok(server)
            }
            Ok(None) => Err(format!("{name} announced an address that is not IP:PORT")),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Its stderr ended without the announcement: it exited. Say what it said.
                let _ = server.child.wait();
                Err(format!("{name} did not start: {}", server.stderr_text()))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
                "{name} did not say where it listens within {ANNOUNCE:?}"
            )),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// CPU time, threads and memory of the server now (Linux only).
    pub fn sample(&self) -> Option<Sample> {
        Sample::of(self.child.id())
    }

    fn stderr_text(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .join(" / ")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // kill() sends SIGKILL to this child's PID (TerminateProcess on Windows).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `command`, trying again twice, 100 ms apart, if the system could not start it.
/// Wine 8.0 (the Windows check) now and then fails to start a process ("Internal error",
/// OS error 1359), more often on a loaded machine; a measurement is not lost for that.
/// A program that starts and then fails is not tried again: `start` reports what it said.
fn spawn(command: &mut Command) -> std::io::Result<Child> {
    let mut tries = 1;
    loop {
        match command.spawn() {
            Err(_) if tries < 3 => {
                tries += 1;
                thread::sleep(Duration::from_millis(100));
            }
            result => return result,
        }
    }
}

/// What /proc says about a process at one moment.
#[derive(Clone, Copy)]
pub struct Sample {
    /// User + system CPU time of all its threads so far, those that ended included, from
    /// /proc/PID/stat: counted in clock ticks (10 ms), so only good over long runs.
    pub cpu_ticks: Duration,
    /// The time its live threads have spent on a CPU, to the nanosecond, from
    /// /proc/PID/task/*/schedstat (if the kernel keeps it): exact for a run during which
    /// no thread ends.
    pub cpu_live: Option<Duration>,
    pub threads: u64,
    /// Resident memory (VmRSS).
    pub rss_kib: u64,
}

impl Sample {
    /// CPU time from `self` to `later`: to the nanosecond if both have it and `live` says
    /// that no thread ended in between, else in clock ticks.
    pub fn cpu_until(&self, later: &Sample, live: bool) -> Duration {
        match (self.cpu_live, later.cpu_live) {
            (Some(a), Some(b)) if live => b.saturating_sub(a),
            _ => later.cpu_ticks.saturating_sub(self.cpu_ticks),
        }
    }

    /// None where there is no Linux /proc (the files are not there, so nothing is read).
    fn of(pid: u32) -> Option<Sample> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name, which is in parentheses and may hold spaces:
        // field 3 (state) is the first; utime and stime are fields 14 and 15.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let field = |name: &str| -> Option<u64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            line[name.len()..].split_whitespace().next()?.parse().ok()
        };
        Some(Sample {
            cpu_ticks: Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second()),
            cpu_live: live_cpu(pid),
            threads: field("Threads:")?,
            rss_kib: field("VmRSS:")?,
        })
    }
}

/// The sum of the first field (nanoseconds on a CPU) of every thread's schedstat.
fn live_cpu(pid: u32) -> Option<Duration> {
    let mut nanos = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue; // the thread ended while we looked: its time is gone from the sum
        };
        nanos += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(nanos))
}

/// The unit of /proc's CPU times (USER_HZ): `getconf CLK_TCK` says it; 100 on Linux's
/// common architectures when getconf cannot be asked.
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
            .filter(|&hz: &f64| hz > 0.0)
            .unwrap_or(100.0)
    })
}

/// The soft limit on open files of this process (servers inherit it), if the system says.
pub fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The 1-minute load average: how many programs wanted a CPU, on average (Linux).
pub fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}
