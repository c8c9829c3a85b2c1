//! Lesson 05: the long-connection client, a port of the original's LongClient: one
//! connection, many rounds of rock-paper-scissors (猜拳), one byte each way per round.
//!
//! The original is an asynchronous context manager: `async with LongClient(loop)` opens
//! the connection in `__aenter__` and closes it in `__aexit__`, however the block ends.
//! Here `LongClient::enter` opens it, and dropping the value closes it (`Drop`), which
//! happens at the end of its scope however that scope is left.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use armour::println;
use lesson_cli::Args;
use py_compat::bytes_repr;

const HELP: &str = include_str!("help.txt");

/// The results, by the byte the server answers.
const HANDLERS: [(u8, &str); 3] = [(b'x', "平局"), (b'y', "胜利"), (b'z', "失败")];

/// The moves, by name, and the 1-byte frame that carries each.
const MSGS: [(&str, u8); 3] = [("剪刀", b'1'), ("石头", b'2'), ("布", b'3')];

fn main() -> ExitCode {
    let mut args = Args::parse("long-client", HELP);
    let addr = args.addr("127.0.0.1:5000");
    let timeout = args.timeout("--timeout-ms", 10_000);
    let mut moves = args.positional();
    if moves.is_empty() {
        moves = vec!["剪刀".to_string(); 5];
    }

    // async with LongClient(loop) as client: ...
    let played = match LongClient::enter(&addr, timeout) {
        Ok(mut client) => moves.iter().try_for_each(|msg| {
            let result = client.draw(msg)?;
            println!("{result}");
            Ok(())
        }),
        // `client` is dropped at the end of the arm above: `exit context`, and closed.
        Err(e) => Err(lesson_cli::connect_failed(&addr, "long-server", &e)),
    };
    match played {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => args.fail(why),
    }
}

/// One long connection to the server, open from `enter` until the value is dropped.
struct LongClient {
    stream: TcpStream,
    timeout: Duration,
}

impl LongClient {
    /// __aenter__ and connect: open the connection once, for every round to come.
    fn enter(addr: &str, timeout: Duration) -> io::Result<LongClient> {
        println!("entering context");
        let stream = TcpStream::connect(addr)?;
        // The original waits for ever for a result; we give up after `timeout`.
        stream.set_read_timeout(Some(timeout))?;
        Ok(LongClient { stream, timeout })
    }

    /// draw: one round. Sends the move's frame and reads the 1-byte result; returns
    /// the line to print (`False` for an unknown move, as the original prints).
    fn draw(&mut self, msg: &str) -> Result<&'static str, String> {
        let Some(&(_, frame)) = MSGS.iter().find(|(name, _)| *name == msg) else {
            println!("未知的指令");
            return Ok("False");
        };
        self.stream.write_all(&[frame]).map_err(|e| lost(&e))?;
        println!("write done");

        // The result is exactly one byte: one read of one byte is one whole message.
        let mut result = [0u8; 1];
        let timeout = self.timeout;
        match self.stream.read(&mut result) {
            Ok(0) => return Err(NO_RESULT.into()),
            Ok(_) => println!("read done"),
            Err(e) if armour::is_timeout(&e) => {
                return Err(format!("no result from the server within {timeout:?}"));
            }
            Err(e) => return Err(lost(&e)),
        }
        let Some(&(_, word)) = HANDLERS.iter().find(|(byte, _)| *byte == result[0]) else {
            let shown = bytes_repr(&result);
            return Err(format!(
                "the server sent {shown}, which is not a result (x, y or z)"
            ));
        };
        Ok(word)
    }
}

const NO_RESULT: &str = "the server closed the connection without a result";

/// A failed write or read, in one line. A server that has closed its socket answers
/// with a reset, so writing or reading fails instead of reading 0 bytes.
fn lost(e: &io::Error) -> String {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionReset | ConnectionAborted | BrokenPipe | NotConnected => NO_RESULT.to_string(),
        _ => format!("the connection failed: {}", lesson_cli::reason(e)),
    }
}

impl Drop for LongClient {
    /// __aexit__ and close: runs however the rounds ended, even on an error.
    fn drop(&mut self) {
        println!("exit context");
        // Closing sends FIN: the server's read returns 0 and its task ends.
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}
