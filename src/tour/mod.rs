//! What every lesson's tour entry uses: start a server, run a client, show their output.

pub mod lesson01;
pub mod lesson02;
pub mod lesson03;
pub mod lesson04;
pub mod lesson05;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use armour::println;
use armour::stdout_closed;
use socket_lessons::{DEADLINE, Server, binary, wait_until};

/// What a step of the tour returns once its stdout is closed: nobody reads any more, so
/// the lesson stops there (and the tour ends, see main.rs).
const STOPPED: &str = "stopped: stdout is closed";

/// Err(STOPPED) once stdout is closed.
fn still_read() -> Result<(), String> {
    if stdout_closed() {
        Err(STOPPED.to_string())
    } else {
        Ok(())
    }
}

/// The servers one lesson started; dropping it stops them.
#[derive(Default)]
pub struct Tour {
    servers: Vec<Server>,
}

impl Tour {
    /// Starts `package` on a free loopback port (plus `args`) and returns its address.
    pub fn server(&mut self, package: &str, args: &[&str]) -> Result<String, String> {
        still_read()?;
        let server = Server::start(package, args)?;
        let mut shown = args.join(" ");
        if !args.iter().any(|a| a.starts_with("--addr")) {
            shown.push_str(" --addr 127.0.0.1:0");
        }
        println!("\n$ {package} {}", shown.trim_start());
        let addr = server.addr();
        println!("  (started, listening on {addr})");
        self.servers.push(server);
        Ok(addr)
    }

    /// Runs `package` with `args`, feeding it `stdin`, and prints what it printed.
    pub fn client(&mut self, package: &str, args: &[&str], stdin: &str) -> Result<Output, String> {
        still_read()?;
        println!("\n$ {package} {}", args.join(" "));
        let mut child = Command::new(binary(package)?)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {package}: {e}"))?;
        if let Some(mut input) = child.stdin.take() {
            // A client that does not read its stdin may have exited already: ignore that.
            let _ = input.write_all(stdin.as_bytes());
        }
        let output = child
            .wait_with_output()
            .map_err(|e| format!("cannot wait for {package}: {e}"))?;
        print_indented("stdout", &String::from_utf8_lossy(&output.stdout));
        print_indented("stderr", &String::from_utf8_lossy(&output.stderr));
        println!(
            "  (exit status: {})",
            output
                .status
                .code()
                .map_or("killed".to_string(), |c| c.to_string())
        );
        Ok(output)
    }

    /// Waits until server number `index` (in start order) printed `needle` on stdout
    /// `times` times and at least `log_lines` lines on stderr (its announcement
    /// included), then shows everything it printed so far. Count what the lesson's LAST
    /// client makes the server print: a needle that the first client already caused is
    /// there at once, and the block would be cut short of the later clients' lines.
    pub fn server_output(
        &self,
        index: usize,
        needle: &str,
        times: usize,
        log_lines: usize,
    ) -> Result<String, String> {
        still_read()?;
        let server = self.servers.get(index).ok_or("no such server")?;
        let printed_all = wait_until(DEADLINE, || {
            server.stdout().matches(needle).count() >= times
                && server.stderr().lines().count() >= log_lines
        });
        println!("\n--- what the server printed so far");
        print_indented("stdout", &server.stdout());
        print_indented("stderr", &server.stderr());
        if printed_all {
            Ok(server.stdout())
        } else {
            Err(format!(
                "the server did not print {needle:?} {times} times and {log_lines} lines on \
                 stderr within {DEADLINE:?}"
            ))
        }
    }
}

/// Checks one expectation of a lesson: Err(`what`) when it does not hold.
pub fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what.to_string()) }
}

fn print_indented(stream: &str, text: &str) {
    for line in text.lines() {
        println!("  {stream} | {line}");
    }
}
