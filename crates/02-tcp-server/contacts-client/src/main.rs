//! Lesson 02: the contacts client, a port of client2.py.
//! Its arguments are the command: `contacts-client add zhangsan 13800138000` sends
//! `add;zhangsan;13800138000`, prints the answer, and says `exit`.

use std::io::Write;
use std::net::TcpStream;
use std::process::ExitCode;

use lesson_cli::Args;
use tcp_messages::recv_answer;

const HELP: &str = "\
usage: contacts-client [--addr HOST:PORT] [--timeout-ms MS] COMMAND ARG...

Lesson 02: the contacts client (a port of client2.py).
Joins its arguments with `;` into one command for contacts-server, prints the
server's greeting and its answer, then sends `exit` and closes. The commands:

  contacts-client add zhangsan 13800138000   ->  zhangsan added
  contacts-client find zhangsan              ->  13800138000 (or Not Found!)
  contacts-client remove zhangsan            ->  zhangsan removed! (or Not Found!)

The exit status is 1 when the server answers with an error (`error: ...`, printed
like any answer), or hangs up early or does not answer (said on stderr).
An argument that starts with `--` goes after a `--`.

options:
  --addr HOST:PORT   where the server is (default 127.0.0.1:9999)
  --timeout-ms MS    how long to wait for each answer (default 10000)
  -h, --help         this text
";

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
    // Reads the greeting, then the answer to our command, with recv_answer
    // from tcp-messages: what the server's one write brings. A close or a silence
    // ends us with one line.
    let receive = |s: &mut TcpStream| {
        recv_answer(s, timeout).unwrap_or_else(|why| args.fail(format_args!("{addr}: {why}")))
    };

    // The server speaks first: print its greeting.
    println!("{}", receive(&mut s));
    // ';'.join(sys.argv[1:]): the server splits the command again at every ';'.
    // No end marker follows: the server knows the command is complete because we
    // stop sending and wait for its answer.
    send(&mut s, argv.join(";").as_bytes(), &args);
    let answer = receive(&mut s);
    println!("{answer}");
    send(&mut s, b"exit", &args);
    // The server refused the command: a failure, as for every program of the lessons.
    if answer.starts_with("error: ") {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn send(s: &mut TcpStream, data: &[u8], args: &Args) {
    if let Err(e) = s.write_all(data) {
        args.fail(format_args!("cannot send: {}", lesson_cli::reason(&e)));
    }
}
