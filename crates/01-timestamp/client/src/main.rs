//! Lesson 01: the timestamp client, a port of Client.py.
//! The numbered comments are the four steps of every C/S client in the original.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use armour::println;
use lesson_cli::Args;

const HELP: &str = include_str!("help.txt");

/// The command that asks for the time. The typo is part of the protocol: keep it.
const COMMAND: &str = "timetampe";

fn main() -> ExitCode {
    let mut args = Args::parse("timestamp-client", HELP);
    let addr = args.addr("127.0.0.1:8099");
    let command = args.value("--command").unwrap_or(COMMAND.to_string());
    args.finish();

    // 1. create a socket and 2. connect it to the server: one call in std. connect
    // performs TCP's three-way handshake; it fails at once if nobody listens there.
    let mut tcp_client = TcpStream::connect(&addr)
        .unwrap_or_else(|e| args.fail(lesson_cli::connect_failed(&addr, "timestamp-server", &e)));

    // 3.1 send the command; write_all keeps writing until every byte is handed to TCP.
    if let Err(e) = tcp_client.write_all(command.as_bytes()) {
        args.fail(format_args!(
            "cannot send the command: {}",
            lesson_cli::reason(&e)
        ));
    }

    // 3.2 receive the answer. The server closes the connection after it, so read until
    // end of stream (read returning 0): one read could return only part of the time.
    // Like the original's recv(1024), take at most 1024 bytes; never wait forever.
    let mut current_timestampe = Vec::new();
    let received = tcp_client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .and_then(|()| {
            (&mut tcp_client)
                .take(1024)
                .read_to_end(&mut current_timestampe)
        });
    if let Err(e) = received {
        // The server may reset the connection instead of closing it cleanly: that is a
        // failed request too, so say why on stderr and keep the original's stdout line.
        eprintln!(
            "timestamp-client: no answer from {addr}: {}",
            lesson_cli::reason(&e)
        );
        current_timestampe.clear();
    }

    if current_timestampe.is_empty() {
        println!("get timestampe failed");
        return ExitCode::FAILURE;
    }
    match String::from_utf8(current_timestampe) {
        Ok(text) => println!("current timestampe: {text}"),
        Err(_) => args.fail("the server's answer is not UTF-8 text"),
    }
    // 4. the socket closes when `tcp_client` goes out of scope, like Python's `with`.
    ExitCode::SUCCESS
}
