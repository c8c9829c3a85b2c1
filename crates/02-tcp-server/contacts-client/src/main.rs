//! Lesson 02: the contacts client, a port of client2.py.
//! Its arguments are the command: `contacts-client add zhangsan 13800138000` sends
//! `add;zhangsan;13800138000`, prints the answer, and says `exit`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use armour::println;
use lesson_cli::Args;
use tcp_messages::Answer;

const HELP: &str = include_str!("help.txt");

fn main() -> ExitCode {
    let mut args = Args::parse("contacts-client", HELP);
    let addr = args.addr("127.0.0.1:9999");
    let timeout = args.timeout("--timeout-ms", 10_000);
    // sys.argv[1:]: the arguments without the program's name.
    let argv = args.positional();
    if argv.is_empty() {
        args.usage_error("give a command, e.g. add zhangsan 13800138000");
    }

    let mut s = TcpStream::connect(&addr)
        .unwrap_or_else(|e| args.fail(lesson_cli::connect_failed(&addr, "contacts-server", &e)));
    // Never wait for an answer for ever.
    if let Err(e) = s.set_read_timeout(Some(timeout)) {
        args.fail(lesson_cli::reason(&e));
    }
    // s.recv(1024).decode('utf-8'): one answer is what one read brings (read again only
    // if it stops in the middle of a character). A close or a silence ends us with one line.
    let recv = |s: &mut TcpStream| {
        let (mut answer, mut buf) = (Answer::default(), [0u8; 1024]);
        loop {
            let n = s.read(&mut buf);
            if let Some(text) = answer.took(&buf, n, timeout) {
                return text.unwrap_or_else(|why| args.fail(format_args!("{addr}: {why}")));
            }
        }
    };

    // The server speaks first: print its greeting.
    println!("{}", recv(&mut s));
    // ';'.join(sys.argv[1:]): the server splits the command again at every ';'.
    // No end marker follows: the server knows the command is complete because we
    // stop sending and wait for its answer.
    send(&mut s, argv.join(";").as_bytes(), &args);
    let answer = recv(&mut s);
    println!("{answer}");
    send(&mut s, b"exit", &args);
    // The server refused the command: a failure (status 1), as for every program of the
    // lessons.
    ExitCode::from(u8::from(answer.starts_with("error: ")))
}

/// s.send(data), all of it; a failure ends us with one line.
fn send(s: &mut TcpStream, data: &[u8], args: &Args) {
    if let Err(e) = s.write_all(data) {
        args.fail(format_args!("cannot send: {}", lesson_cli::reason(&e)));
    }
}
