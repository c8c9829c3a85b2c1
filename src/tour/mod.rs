//! What every lesson's tour entry uses: start a server, run a client, show their output.

pub mod lesson01;
pub mod lesson02;
pub mod lesson03;
pub mod lesson04;
pub mod lesson05;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use socket_lessons::{Server, binary};

/// The servers one lesson started; dropping it stops them.
#[derive(Default)]
pub struct Tour {
    servers: Vec<Server>,
}

impl Tour {
    /// Starts `package` on a free loopback port (plus `args`) and returns its address.
    pub fn server(&mut self, package: &str, args: &[&str]) -> Result<String, String> {
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

    /// Waits until server number `index` (in start order) printed `needle` on stdout,
    /// then shows everything it printed so far.
    pub fn server_output(&self, index: usize, needle: &str) -> Result<String, String> {
        let server = self.servers.get(index).ok_or("no such server")?;
        let result = server.wait_for_stdout(needle);
        println!("\n--- what the server printed so far");
        print_indented("stdout", &server.stdout());
        print_indented("stderr", &server.stderr());
        result
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
