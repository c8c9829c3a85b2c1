//! The baseline of lesson 04's table: the plainest server there is, one blocking thread
//! per connection, printing nothing. It is not a lesson program: the bench starts itself
//! (its own executable, whether `cargo bench` or the test started it) with a hidden
//! argument (`--serve-thread-per-connection`) to run it, so that it is a process of its own whose CPU time, threads and memory are measured like the others'.
//! It answers like nonblocking-server and select-server: the bytes it reads, upper-cased.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

/// The hidden argument.
pub const FLAG: &str = "--serve-thread-per-connection";

/// Its name in the table, and in its `NAME: listening on ADDR` line.
pub const NAME: &str = "thread-per-connection";

/// How long a connection may stay silent, or not read our reply, before its thread
/// gives up: a bench client is never silent that long while it is measured.
const IDLE: Duration = Duration::from_secs(30);

/// `<the bench> --serve-thread-per-connection [--addr HOST:PORT]`
pub fn serve(args: &[String]) -> ExitCode {
    let addr = match args {
        [] => "127.0.0.1:0",
        [flag, addr] if flag == "--addr" => addr.as_str(),
        _ => {
            eprintln!("{NAME}: usage: the bench's own executable {FLAG} [--addr HOST:PORT]");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(addr).and_then(|l| Ok((l.local_addr()?, l))) {
        Ok((local, listener)) => {
            eprintln!("{NAME}: listening on {local}");
            listener
        }
        Err(e) => {
            eprintln!("{NAME}: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    loop {
        match listener.accept() {
            // One thread per connection: it may block in read without holding up anyone.
            Ok((conn, peer)) => {
                if let Err(e) = thread::Builder::new().spawn(move || echo(conn)) {
                    eprintln!("{NAME}: {peer}: no thread for this connection: {e}");
                }
            }
            Err(e) => {
                eprintln!("{NAME}: accept failed: {e}");
                thread::sleep(Duration::from_millis(100)); // back off instead of spinning
            }
        }
    }
}

/// Reads what the client sends and sends it back upper-cased, until it closes.
fn echo(mut conn: TcpStream) {
    if conn.set_read_timeout(Some(IDLE)).is_err() || conn.set_write_timeout(Some(IDLE)).is_err() {
        return;
    }
    let mut data = [0u8; 1024];
    loop {
        match conn.read(&mut data) {
            Ok(0) => return, // the client closed
            Ok(n) => {
                if conn.write_all(&data[..n].to_ascii_uppercase()).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
