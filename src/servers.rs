//! Supervising a lesson server: start it on a free loopback port, read its address from
//! its `<package>: listening on <addr>` announcement, collect what it prints on both
//! streams, wait for a line with a deadline, and stop it (kill it) when dropped.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

use crate::faults::closed_pipe;
use crate::{DEADLINE, binary, wait_until};

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

/// Reads `pipe` line by line on its own thread into `sink`, calling `each` for every line.
pub(crate) fn collect_lines(
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

pub(crate) fn wait_for_text(
    text: &Mutex<String>,
    needle: &str,
    what: &str,
) -> Result<String, String> {
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

/// The processes (Linux's /proc; none elsewhere) that still have `NAME=value` in their
/// environment. A test gives what it starts a marker variable, which every process
/// started from it inherits, and asks this afterwards what is still running: nothing must
/// be left behind.
pub fn processes_with_env(name: &str, value: &str) -> Vec<String> {
    let needle = format!("{name}={value}\0");
    std::fs::read_dir("/proc")
        .map(|procs| {
            procs
                .flatten()
                .filter(|p| {
                    std::fs::read(p.path().join("environ"))
                        .is_ok_and(|env| String::from_utf8_lossy(&env).contains(&needle))
                })
                .map(|p| p.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default()
}
