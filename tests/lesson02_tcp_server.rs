//! Lesson 02: welcome-server and welcome-client, argv-demo, contacts-server and
//! contacts-client, black box.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use socket_lessons::{
    DEADLINE, Server, binary, connect, lesson_block, normalize_number, read_some,
    run_with_stdout_closed, wait_until, workspace_root,
};

const PAGE: &str = "02-tcp-server.md";

const WELCOME_CLIENT_STDOUT: &str = "Welcome!\nReceived message1;\nReceived message2;\n\
                                     Received message3;\nReceived message4;\nReceived message5;\n";

fn client(package: &str, addr: &str) -> Command {
    let mut cmd = Command::new(binary(package).unwrap());
    cmd.args(["--addr", addr]).timeout(Duration::from_secs(20));
    cmd
}

fn contacts(addr: &str, command: &[&str]) -> Command {
    let mut cmd = client("contacts-client", addr);
    cmd.args(command);
    cmd
}

fn ports(text: &str) -> String {
    normalize_number(text, "127.0.0.1:", "PORT")
}

/// A free loopback address that nobody listens on.
fn nobody_listens() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// Starts `package` (welcome-server or contacts-server) with `args`, and unless `args`
/// sets them, `--gap-ms 10` instead of 100 and, for welcome-server, `--delay-ms 0`
/// instead of 1000. Our clients send each message in one write, so a 10 ms pause cannot
/// cut one, and no test waits for a pause it is not about.
fn start(package: &str, args: &[&str]) -> Server {
    let mut all = args.to_vec();
    if !args.contains(&"--gap-ms") {
        all.extend(["--gap-ms", "10"]);
    }
    if package == "welcome-server" && !args.contains(&"--delay-ms") {
        all.extend(["--delay-ms", "0"]);
    }
    Server::start(package, &all).unwrap()
}

/// Connects to `addr` and reads the greeting.
fn greeted(addr: &str) -> TcpStream {
    let mut stream = connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    assert_eq!(read_reply(&mut stream), "Welcome!");
    stream
}

/// One answer of the server: what one read returns (each answer is one small write).
fn read_reply(stream: &mut TcpStream) -> String {
    let mut buf = [0u8; 1024];
    let n = read_some(stream, &mut buf).unwrap();
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

/// Sends `data` as client2.py does (no end marker) and returns the answer.
fn ask(stream: &mut TcpStream, data: &[u8]) -> String {
    stream.write_all(data).unwrap();
    read_reply(stream)
}

/// Everything the server still sends until it closes the connection.
fn rest(stream: &mut TcpStream) -> String {
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

// ---------------------------------------------------------------- checks that wait

// ---------------------------------------------------------------- welcome

#[test]
fn welcome_client_prints_the_greeting_and_five_answers() {
    let server = start("welcome-server", &[]);
    client("welcome-client", &server.addr())
        .assert()
        .success()
        .stdout(WELCOME_CLIENT_STDOUT)
        .stderr("");
    let stdout = server.wait_for_stdout_lines(3).unwrap();
    assert_eq!(
        ports(&stdout),
        "Waiting for connection...\n\
         Accept new connection from 127.0.0.1:PORT...\n\
         Connection from 127.0.0.1:PORT closed.\n"
    );
}

#[test]
fn welcome_server_pauses_before_each_answer() {
    let server = start("welcome-server", &["--delay-ms", "50"]);
    let started = Instant::now();
    client("welcome-client", &server.addr()).assert().success();
    // Five answers, each after a pause of 50 ms.
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[test]
fn welcome_server_serves_one_client_at_a_time() {
    let server = start("welcome-server", &[]);
    let addr = server.addr();
    let mut first = greeted(&addr);
    assert_eq!(ask(&mut first, b"hello"), "Received hello;");

    // The second client's connect succeeds (the kernel queues it in the backlog),
    // but nobody greets it while the first conversation goes on.
    let mut second = connect(&addr).unwrap();
    second
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let err = read_some(&mut second, &mut [0; 64]).unwrap_err();
    assert!(matches!(
        err.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut
    ));

    // The first says exit: the server closes it and turns to the second.
    first.write_all(b"exit").unwrap();
    assert_eq!(rest(&mut first), "");
    second
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    assert_eq!(read_reply(&mut second), "Welcome!");
    let stdout = server.wait_for_stdout_lines(4).unwrap();
    let lines: Vec<String> = ports(&stdout).lines().map(String::from).collect();
    assert_eq!(
        lines,
        [
            "Waiting for connection...",
            "Accept new connection from 127.0.0.1:PORT...",
            "Connection from 127.0.0.1:PORT closed.",
            "Accept new connection from 127.0.0.1:PORT...",
        ]
    );
    // The first client's port is in both of its lines, and not in the second's.
    let port = first.local_addr().unwrap().port();
    assert!(stdout.contains(&format!(
        "from 127.0.0.1:{port}...\nConnection from 127.0.0.1:{port} closed.\n"
    )));
}

#[test]
fn welcome_message_split_across_reads_is_one_message() {
    // With a long --gap-ms, only the newline or the close can end a message.
    let server = start("welcome-server", &["--gap-ms", "60000"]);
    let mut stream = greeted(&server.addr());
    stream.set_nodelay(true).unwrap();
    stream.write_all(b"mess").unwrap();
    stream.write_all(b"age1\n").unwrap();
    assert_eq!(read_reply(&mut stream), "Received message1;");
    // A message cut by the close is still a message; exit then ends the conversation.
    stream.write_all("你好\nexit".as_bytes()).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(rest(&mut stream), "Received 你好;");
}

#[test]
fn welcome_server_survives_bad_clients() {
    let server = start("welcome-server", &["--timeout-ms", "300"]);
    let addr = server.addr();

    // Bytes that are not UTF-8 (the original dies with a UnicodeDecodeError).
    let mut junk = greeted(&addr);
    junk.write_all(&[0xff, 0xfe, 0x00, 0xc3]).unwrap();
    assert_eq!(rest(&mut junk), "");
    server
        .wait_for_stderr("sent bytes that are not UTF-8 text; closing")
        .unwrap();

    // Connects, then hangs up without a word.
    drop(greeted(&addr));

    // Connects and stays silent: dropped after --timeout-ms.
    let mut silent = greeted(&addr);
    assert_eq!(rest(&mut silent), "");
    server
        .wait_for_stderr("sent nothing for 300ms; closing")
        .unwrap();

    client("welcome-client", &addr)
        .assert()
        .success()
        .stdout(WELCOME_CLIENT_STDOUT);
    // One stderr line per bad client, after the listening line.
    assert_eq!(server.stderr().lines().count(), 3, "{}", server.stderr());
}

#[test]
fn welcome_server_closes_a_huge_message_and_serves_the_next() {
    // With a long --gap-ms the message ends at its newline and nowhere else, so a slow
    // writer cannot cut it in two.
    let server = start("welcome-server", &["--gap-ms", "60000"]);
    let mut huge = greeted(&server.addr());
    let mut message = vec![b'x'; 1 << 20];
    message.push(b'\n');
    huge.write_all(&message).unwrap();
    // Read and thrown away, then the connection is closed.
    assert_eq!(rest(&mut huge), "");
    server
        .wait_for_stderr("sent a message of 1048576 bytes, over the limit of 1024; closing\n")
        .unwrap();
    let mut next = greeted(&server.addr());
    assert_eq!(ask(&mut next, b"message1\n"), "Received message1;");
}

#[test]
fn welcome_client_without_a_server_says_so_and_exits_1() {
    let addr = nobody_listens();
    client("welcome-client", &addr)
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!(
            "welcome-client: cannot connect to {addr}: Connection refused \
             (is welcome-server running?)\n"
        ));
}

/// A stand-in server that greets, reads the client's first `len` bytes, then does `then`
/// with the socket.
fn fake_server(len: usize, then: fn(TcpStream)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.write_all(b"Welcome!").unwrap();
        let mut message = vec![0u8; len];
        stream.read_exact(&mut message).unwrap();
        then(stream);
    });
    addr
}

#[test]
fn clients_report_a_server_that_hangs_up_or_stays_silent() {
    let addr = fake_server(b"message1".len(), drop);
    client("welcome-client", &addr)
        .assert()
        .code(1)
        .stdout("Welcome!\n")
        .stderr(format!(
            "welcome-client: {addr}: the server closed the connection without an answer\n"
        ));

    // Stays silent: holds the connection, answering nothing, until the client leaves.
    let addr = fake_server(b"message1".len(), |mut stream| {
        let _ = stream.read_to_end(&mut Vec::new());
    });
    client("welcome-client", &addr)
        .args(["--timeout-ms", "200"])
        .assert()
        .code(1)
        .stdout("Welcome!\n")
        .stderr(format!("welcome-client: {addr}: no answer within 200ms\n"));

    let addr = fake_server(b"find;zhangsan".len(), drop);
    contacts(&addr, &["find", "zhangsan"])
        .assert()
        .code(1)
        .stdout("Welcome!\n")
        .stderr(format!(
            "contacts-client: {addr}: the server closed the connection without an answer\n"
        ));
}

// ---------------------------------------------------------------- argv-demo

#[test]
fn argv_demo_prints_the_count_and_the_list() {
    let program = binary("argv-demo").unwrap();
    // argv[0] is printed as Python's repr of a str: on Windows its backslashes double.
    let name = program.to_str().unwrap().replace('\\', "\\\\");
    Command::new(&program)
        .assert()
        .success()
        .stdout(format!("参数个数为: 1 个参数。\n参数列表: ['{name}']\n"));
    Command::new(&program)
        .args(["arg1", "arg2", "arg3"])
        .assert()
        .success()
        .stdout(format!(
            "参数个数为: 4 个参数。\n参数列表: ['{name}', 'arg1', 'arg2', 'arg3']\n"
        ));
    // Chinese as it is, Python's quotes and escapes, options are arguments like any other.
    Command::new(&program)
        .args(["张三", "it's", "a b", "tab\there", "", "--addr"])
        .assert()
        .success()
        .stdout(format!(
            "参数个数为: 7 个参数。\n\
             参数列表: ['{name}', '张三', \"it's\", 'a b', 'tab\\there', '', '--addr']\n"
        ));
}

#[test]
fn argv_demo_lists_dash_h_like_test_py_and_takes_only_help() {
    let program = binary("argv-demo").unwrap();
    // argv[0] is printed as Python's repr of a str: on Windows its backslashes double.
    let name = program.to_str().unwrap().replace('\\', "\\\\");
    Command::new(&program)
        .args(["-h", "x"])
        .assert()
        .success()
        .stdout(format!(
            "参数个数为: 3 个参数。\n参数列表: ['{name}', '-h', 'x']\n"
        ));
    let help = Command::new(&program)
        .args(["a", "--help"])
        .output()
        .unwrap();
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.starts_with("usage: argv-demo [ARG...]\n"), "{help}");
    Command::new(&program)
        .args(["--", "--help"])
        .assert()
        .success()
        .stdout(format!(
            "参数个数为: 3 个参数。\n参数列表: ['{name}', '--', '--help']\n"
        ));
}

// ---------------------------------------------------------------- contacts

#[test]
fn contacts_add_find_remove_find() {
    let server = start("contacts-server", &[]);
    let addr = server.addr();
    for (command, answer) in [
        (&["add", "zhangsan", "13800138000"][..], "zhangsan added"),
        (&["find", "zhangsan"], "13800138000"),
        (&["remove", "zhangsan"], "zhangsan removed!"),
        (&["find", "zhangsan"], "Not Found!"),
        (&["remove", "zhangsan"], "Not Found!"),
    ] {
        contacts(&addr, command)
            .assert()
            .success()
            .stdout(format!("Welcome!\n{answer}\n"))
            .stderr("");
    }
    // Five clients in a row, the table printed after each change.
    let stdout = server.wait_for_stdout_lines(13).unwrap();
    let conversation = |table: &str| {
        format!(
            "Accept new connection from 127.0.0.1:PORT...\n{table}Connection from 127.0.0.1:PORT closed.\n"
        )
    };
    assert_eq!(
        ports(&stdout),
        format!(
            "Waiting for connection...\n{}{}{}{}{}",
            conversation("{'zhangsan': '13800138000'}\n"),
            conversation(""),
            conversation("{}\n"),
            conversation(""),
            conversation(""),
        )
    );
    assert_eq!(server.stderr().lines().count(), 1, "{}", server.stderr());
}

#[test]
fn contacts_keep_chinese_names_and_the_order_of_insertion() {
    let server = start("contacts-server", &[]);
    let addr = server.addr();
    for (command, answer) in [
        (&["add", "张三", "13800138000"][..], "张三 added"),
        (&["add", "lisi", "电话待定"], "lisi added"),
        (&["add", "张三", "13900139000"], "张三 added"),
        (&["find", "张三"], "13900139000"),
        (&["find", "lisi"], "电话待定"),
        (&["find", "王五"], "Not Found!"),
    ] {
        contacts(&addr, command)
            .assert()
            .success()
            .stdout(format!("Welcome!\n{answer}\n"));
    }
    server.wait_for_stdout("{'张三': '13800138000'}\n").unwrap();
    server
        .wait_for_stdout("{'张三': '13800138000', 'lisi': '电话待定'}\n")
        .unwrap();
    // Overwriting a name keeps its place, as in a Python dict.
    server
        .wait_for_stdout("{'张三': '13900139000', 'lisi': '电话待定'}\n")
        .unwrap();
}

#[test]
fn contacts_bad_commands_get_an_error_and_lose_nothing() {
    let server = start("contacts-server", &[]);
    let addr = server.addr();
    contacts(&addr, &["add", "zhangsan", "13800138000"])
        .assert()
        .success();

    let mut stream = greeted(&addr);
    let bad: [(&[u8], &str, &str); 7] = [
        (
            b"delete;zhangsan",
            "error: unknown command 'delete', use add, remove or find",
            "bad command \"delete;zhangsan\": unknown command 'delete'",
        ),
        (
            b"add;onlyname",
            "error: use add;NAME;PHONE",
            "bad command \"add;onlyname\": use add;NAME;PHONE",
        ),
        (
            b"add;zhangsan;1;2",
            "error: use add;NAME;PHONE",
            "bad command \"add;zhangsan;1;2\": use add;NAME;PHONE",
        ),
        (
            b"remove;zhangsan;now",
            "error: use remove;NAME",
            "bad command \"remove;zhangsan;now\"",
        ),
        (b"find;", "error: use find;NAME", "bad command \"find;\""),
        (
            b"\n",
            "error: empty command",
            "bad command \"\": empty command",
        ),
        (
            &[b'f', b'i', b'n', b'd', b';', 0xff, 0xfe],
            "error: not UTF-8 text",
            "sent 7 bytes that are not UTF-8 text",
        ),
    ];
    for (data, answer, log) in bad {
        assert_eq!(ask(&mut stream, data), answer);
        server.wait_for_stderr(log).unwrap();
        // The same conversation goes on, and the contact is still there.
        assert_eq!(ask(&mut stream, b"find;zhangsan"), "13800138000");
    }
    stream.write_all(b"exit").unwrap();
    assert_eq!(rest(&mut stream), "");

    // contacts-client prints an error answer like any other, and exits 1.
    contacts(&addr, &["add", "onlyname"])
        .assert()
        .code(1)
        .stdout("Welcome!\nerror: use add;NAME;PHONE\n")
        .stderr("");
    // A new client still finds the contact: nothing was lost.
    contacts(&addr, &["find", "zhangsan"])
        .assert()
        .success()
        .stdout("Welcome!\n13800138000\n");
    // One stderr line per bad command, after the listening line.
    assert!(
        wait_until(DEADLINE, || server.stderr().lines().count()
            == 2 + bad.len()),
        "{}",
        server.stderr()
    );
}

#[test]
fn contacts_a_huge_command_is_refused_and_loses_nothing() {
    // With a long --gap-ms the command ends at its newline and nowhere else, so a slow
    // writer cannot cut it in two.
    let server = start("contacts-server", &["--gap-ms", "60000"]);
    let mut stream = greeted(&server.addr());
    assert_eq!(
        ask(&mut stream, b"add;zhangsan;13800138000\n"),
        "zhangsan added"
    );
    let mut huge = vec![b'a'; 1 << 20];
    huge.push(b'\n');
    assert_eq!(
        ask(&mut stream, &huge),
        "error: command longer than 1024 bytes"
    );
    server
        .wait_for_stderr("sent a command of 1048576 bytes, over the limit of 1024\n")
        .unwrap();
    assert_eq!(ask(&mut stream, b"find;zhangsan\n"), "13800138000");
}

#[test]
fn contacts_commands_split_or_glued_still_work() {
    // With a long --gap-ms, only a newline or the close can end a command.
    let server = start("contacts-server", &["--gap-ms", "60000"]);
    let mut stream = greeted(&server.addr());
    stream.set_nodelay(true).unwrap();

    // A command in three writes, cut in the middle of the three bytes of 四.
    let command = "add;李四;13900139000\n".as_bytes();
    stream.write_all(&command[..5]).unwrap();
    stream.write_all(&command[5..8]).unwrap();
    stream.write_all(&command[8..]).unwrap();
    assert_eq!(read_reply(&mut stream), "李四 added");

    // Two commands and exit in one write: two answers, then the close. The answers
    // have no end marker either, so they arrive glued together: lesson 04's problem.
    stream
        .write_all("find;李四\r\nremove;李四\nexit".as_bytes())
        .unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(rest(&mut stream), "13900139000李四 removed!");
    server.wait_for_stdout("{}\n").unwrap();
}

#[test]
fn contacts_server_drops_a_silent_client_and_serves_the_next() {
    let server = start("contacts-server", &["--timeout-ms", "300"]);
    let addr = server.addr();
    let mut silent = greeted(&addr);
    contacts(&addr, &["add", "zhangsan", "13800138000"])
        .assert()
        .success()
        .stdout("Welcome!\nzhangsan added\n");
    assert_eq!(rest(&mut silent), "");
    server
        .wait_for_stderr("sent nothing for 300ms; closing")
        .unwrap();
}

#[test]
fn contacts_client_needs_a_command_and_a_server() {
    contacts(&nobody_listens(), &[])
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            "contacts-client: give a command, e.g. add zhangsan 13800138000\n\
             usage: contacts-client [--addr HOST:PORT] [--timeout-ms MS] COMMAND ARG...\n\
             (run with --help for more)\n",
        );
    let addr = nobody_listens();
    contacts(&addr, &["find", "zhangsan"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!(
            "contacts-client: cannot connect to {addr}: Connection refused \
             (is contacts-server running?)\n"
        ));
}

#[test]
fn servers_report_a_port_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for package in ["welcome-server", "contacts-server"] {
        Command::new(binary(package).unwrap())
            .args(["--addr", &addr])
            .timeout(Duration::from_secs(20))
            .assert()
            .code(1)
            .stdout("")
            .stderr(format!(
                "{package}: cannot listen on {addr}: Address already in use\n"
            ));
    }
}

// ---------------------------------------------------------------- tcp-messages

#[test]
fn servers_and_clients_read_messages_through_the_loop_the_page_shows() {
    let read = |path: &str| std::fs::read_to_string(workspace_root().join(path)).unwrap();
    let manifest = read("crates/02-tcp-server/tcp-messages/Cargo.toml");
    assert!(manifest.contains("name = \"tcp-messages\""), "{manifest}");
    // The page walks through the reading loop of "tcp-messages": the code it shows must
    // be the code that runs, to the letter.
    let page = read(&format!("lessons/{PAGE}"));
    let shown = page
        .split("<!-- source: tcp-messages -->\n```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the page shows no block marked <!-- source: tcp-messages -->");
    assert!(shown.contains("pub fn message("), "{shown}");
    let source = read("crates/02-tcp-server/tcp-messages/src/lib.rs");
    assert!(
        source.contains(shown),
        "the page's copy of the reading rules differs from crates/02-tcp-server/tcp-messages:\n{shown}"
    );
    // Both servers and both clients read through it: one framing, not four copies. The
    // read itself, std's, stays in each program's main.rs, where the original's recv is.
    for program in [
        "welcome-server",
        "contacts-server",
        "welcome-client",
        "contacts-client",
    ] {
        let manifest = read(&format!("crates/02-tcp-server/{program}/Cargo.toml"));
        assert!(
            manifest.contains("tcp-messages = { path = \"../tcp-messages\" }"),
            "{program} does not use \"tcp-messages\""
        );
        let main = read(&format!("crates/02-tcp-server/{program}/src/main.rs"));
        assert!(
            main.contains(".read(&mut buf)"),
            "{program}'s main.rs does not read"
        );
    }
}

// ---------------------------------------------------------------- the lesson page

#[test]
fn lesson_page_shows_what_the_welcome_programs_print() {
    let welcome = start("welcome-server", &[]);
    let out = client("welcome-client", &welcome.addr()).output().unwrap();
    assert_eq!(
        lesson_block(PAGE, "welcome-client").unwrap(),
        String::from_utf8(out.stdout).unwrap()
    );
    let expected = lesson_block(PAGE, "welcome-server").unwrap();
    let stdout = welcome
        .wait_for_stdout_lines(expected.lines().count())
        .unwrap();
    assert_eq!(ports(&expected), ports(&stdout));

    // Two clients started together: one conversation after the other.
    let welcome = start("welcome-server", &[]);
    let both: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(binary("welcome-client").unwrap())
                .args(["--addr", &welcome.addr()])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in both {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            WELCOME_CLIENT_STDOUT
        );
    }
    let expected = lesson_block(PAGE, "welcome-server-two-clients").unwrap();
    let stdout = welcome
        .wait_for_stdout_lines(expected.lines().count())
        .unwrap();
    assert_eq!(ports(&expected), ports(&stdout));
}

#[test]
fn lesson_page_shows_what_the_contacts_programs_print() {
    // The contacts session: each `$ contacts-client ...` line of the block, run in
    // order against one server, followed by what it printed.
    let server = start("contacts-server", &[]);
    let session = lesson_block(PAGE, "contacts-client").unwrap();
    let mut printed = String::new();
    for line in session
        .lines()
        .filter(|l| l.starts_with("$ contacts-client "))
    {
        let words: Vec<&str> = line.split_whitespace().skip(2).collect();
        let out = contacts(&server.addr(), &words).output().unwrap();
        // An `error: ...` answer is a failure: exit status 1.
        let refused = String::from_utf8_lossy(&out.stdout).contains("\nerror: ");
        assert_eq!(out.status.code(), Some(i32::from(refused)), "{line}");
        printed.push_str(&format!(
            "{line}\n{}",
            String::from_utf8(out.stdout).unwrap()
        ));
    }
    assert_eq!(session, printed);
    let expected = lesson_block(PAGE, "contacts-server").unwrap();
    let stdout = server
        .wait_for_stdout_lines(expected.lines().count())
        .unwrap();
    assert_eq!(ports(&expected), ports(&stdout));
}

#[test]
fn lesson_page_shows_what_argv_demo_prints() {
    // With the program's path as `cargo run` gives it from the workspace's top folder.
    let program = binary("argv-demo").unwrap();
    for (label, args) in [
        ("argv-demo", &["arg1", "arg2", "arg3"][..]),
        ("argv-demo-options", &["--addr", "x", "-h"]),
    ] {
        let out = Command::new(&program).args(args).output().unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap().replace(
            &program.to_str().unwrap().replace('\\', "\\\\"),
            "target/debug/argv-demo",
        );
        assert_eq!(lesson_block(PAGE, label).unwrap(), stdout, "{label}");
    }
}

/// What a terminal shows when `typed` lines are typed into `telnet` (started with
/// `options`) against `package`: telnet's own lines, then everything the server sends,
/// each line we type (telnet sends it with `\r\n`) right after the answer before it,
/// since the answers end with no newline, and telnet's line when the server closes.
fn telnet_session(package: &str, options: &str, typed: &[&str]) -> String {
    let server = start(package, &[]);
    let escape = if options.contains("-E") { "off" } else { "^]" };
    let mut screen = format!(
        "$ telnet {options}127.0.0.1 9999\nTrying 127.0.0.1...\nConnected to 127.0.0.1.\n\
         Escape character is '{escape}'.\n"
    );
    let mut stream = greeted(&server.addr());
    screen.push_str("Welcome!");
    for line in typed {
        stream.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        screen.push_str(&format!("{line}\n"));
        if *line == "exit" {
            screen.push_str(&rest(&mut stream));
        } else {
            screen.push_str(&read_reply(&mut stream));
        }
    }
    screen.push_str("Connection closed by foreign host.\n");
    screen
}

#[test]
fn lesson_page_shows_what_telnet_gets() {
    assert_eq!(
        lesson_block(PAGE, "telnet-welcome").unwrap(),
        telnet_session("welcome-server", "", &["hello", "你好", "exit"])
    );
    let typed = [
        "add;李四;139",
        "find;李四",
        "find;王五",
        "add;onlyname",
        "exit",
    ];
    assert_eq!(
        lesson_block(PAGE, "telnet-contacts").unwrap(),
        telnet_session("contacts-server", "-E ", &typed)
    );
}

// ---------------------------------------------------------------- no peer stalls a server

/// While a client floods `package` with `request` (after the `setup` commands, each
/// with its answer) and never reads an answer, another client is still greeted: once
/// the server's answers fill the flooder's receive window and its own send buffer, its
/// write blocks, and after --timeout-ms it drops the flooder and says why.
fn never_reading_client_cannot_stall(
    package: &str,
    args: &[&str],
    setup: &[(&str, &str)],
    request: &[u8],
) {
    // Wine, which runs our Windows check, does not apply the write timeout (SO_SNDTIMEO)
    // to a blocking send: the server stays blocked until the flooder closes. Windows
    // documents the timeout, but it cannot be checked here (the page says so).
    if cfg!(windows) {
        return;
    }
    let mut all = vec!["--timeout-ms", "200"];
    all.extend_from_slice(args);
    let server = start(package, &all);
    let mut flooder = greeted(&server.addr());
    for (command, answer) in setup {
        assert_eq!(ask(&mut flooder, command.as_bytes()), *answer);
    }
    let chunk = request.repeat(64 * 1024 / request.len());
    // The flood, on its own thread, until a write fails (the server dropped us) or makes
    // no progress for 200 ms (the server stopped reading). The thread hands the
    // connection back open: closing it would unblock a stalled server by itself.
    flooder
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let flood = thread::spawn(move || {
        let started = Instant::now();
        while flooder.write_all(&chunk).is_ok() && started.elapsed() < Duration::from_secs(20) {}
        flooder
    });
    let mut next = connect(&server.addr()).unwrap();
    next.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut greeting = [0u8; 8];
    next.read_exact(&mut greeting)
        .expect("the next client was not greeted within 5 s: the flooder stalls the server");
    assert_eq!(&greeting, b"Welcome!");
    server
        .wait_for_stderr("does not read its answers: nothing could be sent for 200ms; closing\n")
        .unwrap();
    drop(flood.join().unwrap());
}

#[test]
fn welcome_server_drops_a_client_that_never_reads() {
    let mut message = vec![b'x'; 1000];
    message.push(b'\n');
    never_reading_client_cannot_stall("welcome-server", &[], &[], &message);
}

#[test]
fn contacts_server_drops_a_client_that_never_reads() {
    // Each `find;a` of 7 bytes is answered with a phone of 64: the answers pile up fast.
    let add = format!("add;a;{}\n", "1".repeat(64));
    never_reading_client_cannot_stall("contacts-server", &[], &[(&add, "a added")], b"find;a\n");
}

/// A client that sends `message` one byte every 50 ms, well within --gap-ms (200 ms), so
/// that no pause ever ends it: the server drops it at --timeout-ms (400 ms) all the same,
/// long before the last byte. Both ends of that are measured so that a loaded machine
/// cannot fail them: the 400 ms from before the connect (the server's deadline starts
/// after its greeting, and the greeting may reach us late), and "before the last byte" by
/// counting the bytes the dribble had sent when the close came, not by a wall clock.
fn slow_dribble_is_dropped_at_the_deadline(package: &str, message: &[u8]) {
    let server = start(package, &["--timeout-ms", "400", "--gap-ms", "200"]);
    let started = Instant::now();
    let mut stream = greeted(&server.addr());
    let mut writer = stream.try_clone().unwrap();
    let bytes = message.to_vec();
    let sent = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&sent);
    // The dribble stops early when `stop` is dropped, once the test has seen the close.
    let (stop, stopped) = mpsc::channel::<()>();
    let dribble = thread::spawn(move || {
        for byte in bytes {
            if writer.write_all(&[byte]).is_err() {
                return;
            }
            counted.fetch_add(1, Ordering::SeqCst);
            if stopped.recv_timeout(Duration::from_millis(50)) != Err(RecvTimeoutError::Timeout) {
                return;
            }
        }
    });
    // Nothing comes back: the connection is closed (or reset) at the deadline.
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let elapsed = started.elapsed();
    let sent_then = sent.load(Ordering::SeqCst);
    assert_eq!(
        String::from_utf8_lossy(&answer),
        "",
        "answered a too slow client"
    );
    assert!(
        elapsed >= Duration::from_millis(400),
        "dropped after {elapsed:?}, before the deadline of 400 ms"
    );
    assert!(
        sent_then < message.len(),
        "dropped only after the whole message ({sent_then} of {} bytes) had been sent",
        message.len()
    );
    server
        .wait_for_stderr("within 400ms; too slow, closing\n")
        .unwrap();
    drop(stop);
    dribble.join().unwrap();
}

#[test]
fn welcome_server_drops_a_slow_dribble_at_the_deadline() {
    slow_dribble_is_dropped_at_the_deadline("welcome-server", b"message1 sent very slowly\n");
}

#[test]
fn contacts_server_drops_a_slow_dribble_at_the_deadline() {
    slow_dribble_is_dropped_at_the_deadline("contacts-server", b"add;zhangsan;13800138000\n");
}

#[test]
fn welcome_server_does_not_pause_for_clients_that_left() {
    // 20 clients connect and close at once; with a pause of 100 ms for each, the real
    // client behind them would wait 2 s for its greeting.
    let server = start("welcome-server", &["--delay-ms", "100"]);
    for _ in 0..20 {
        drop(connect(&server.addr()).unwrap());
    }
    let started = Instant::now();
    let mut stream = greeted(&server.addr());
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_millis(1000),
        "greeted after {waited:?}"
    );
    // A real message is still answered after its pause.
    let started = Instant::now();
    assert_eq!(ask(&mut stream, b"hello\n"), "Received hello;");
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[test]
fn contacts_has_a_limit_and_keeps_every_contact() {
    let server = start("contacts-server", &[]);
    let mut stream = greeted(&server.addr());
    let phone = |i: usize| format!("138{i:08}");
    // 100 adds in one write, one per line: 100 answers, glued together.
    let adds: String = (0..100)
        .map(|i| format!("add;n{i};{}\n", phone(i)))
        .collect();
    stream.write_all(adds.as_bytes()).unwrap();
    let expected: String = (0..100).map(|i| format!("n{i} added")).collect();
    let mut answers = vec![0u8; expected.len()];
    stream.read_exact(&mut answers).unwrap();
    assert_eq!(String::from_utf8(answers).unwrap(), expected);

    // Full: one more is refused with one line, and so are fields over 64 bytes.
    assert_eq!(
        ask(&mut stream, b"add;one_more;1\n"),
        "error: the phone book is full (100 contacts); remove one first"
    );
    let long = format!("add;n1;{}\n", "9".repeat(65));
    assert_eq!(
        ask(&mut stream, long.as_bytes()),
        "error: NAME and PHONE are at most 64 bytes each"
    );
    server
        .wait_for_stderr("bad command \"add;one_more;1\": the phone book is full")
        .unwrap();

    // Every contact is still there, unchanged.
    let finds: String = (0..100).map(|i| format!("find;n{i}\n")).collect();
    stream.write_all(finds.as_bytes()).unwrap();
    let expected: String = (0..100).map(phone).collect();
    let mut answers = vec![0u8; expected.len()];
    stream.read_exact(&mut answers).unwrap();
    assert_eq!(String::from_utf8(answers).unwrap(), expected);
    assert_eq!(ask(&mut stream, b"find;one_more\n"), "Not Found!");
}

// These need `ulimit -n` and /proc. Under `ulimit -n 4`, stdin, stdout, stderr and the
// listening socket take every descriptor, so each accept fails ("Too many open files")
// and the queued clients stay queued: the server must wait between tries.
#[cfg(target_os = "linux")]
#[test]
fn welcome_server_backs_off_when_accept_fails() {
    socket_lessons::accept_loop_backs_off("welcome-server", &[], 4).unwrap();
}

#[cfg(target_os = "linux")]
#[test]
fn contacts_server_backs_off_when_accept_fails() {
    socket_lessons::accept_loop_backs_off("contacts-server", &[], 4).unwrap();
}

// ---------------------------------------------------------------- a closed stdout

/// Like `start`, with the server's stdout a pipe whose reader is already closed.
fn start_with_stdout_closed(package: &str) -> Server {
    let mut args = vec!["--gap-ms", "10"];
    if package == "welcome-server" {
        args.extend(["--delay-ms", "0"]);
    }
    Server::start_with_stdout_closed(package, &args).unwrap()
}

/// A client, or argv-demo, whose stdout is closed before its first line ends at once,
/// quietly, with the status a shell reports for a Unix tool stopped by a closed pipe.
fn ends_quietly(package: &str, args: &[&str]) {
    let out = run_with_stdout_closed(package, args, b"").unwrap();
    assert_eq!(out.status.code(), Some(141), "{package}: {out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{package}");
}

/// A server whose stdout is closed says so once on stderr and serves on.
fn says_once_that_stdout_is_closed(server: &Server, package: &str) {
    server
        .wait_for_stderr(&format!(
            "{package}: stdout is closed (Broken pipe); printing stops, serving goes on\n"
        ))
        .unwrap();
    let stderr = server.stderr();
    assert_eq!(stderr.matches("stdout is closed").count(), 1, "{stderr}");
}

#[test]
fn argv_demo_with_its_stdout_closed_ends_quietly() {
    ends_quietly("argv-demo", &["arg1", "arg2"]);
}

#[test]
fn welcome_client_with_its_stdout_closed_ends_quietly() {
    let server = start("welcome-server", &[]);
    ends_quietly("welcome-client", &["--addr", &server.addr()]);
}

#[test]
fn contacts_client_with_its_stdout_closed_ends_quietly() {
    let server = start("contacts-server", &[]);
    ends_quietly(
        "contacts-client",
        &["--addr", &server.addr(), "find", "zhangsan"],
    );
}

#[test]
fn welcome_server_with_its_stdout_closed_serves_on() {
    let server = start_with_stdout_closed("welcome-server");
    for _ in 0..2 {
        client("welcome-client", &server.addr())
            .assert()
            .success()
            .stdout(WELCOME_CLIENT_STDOUT)
            .stderr("");
    }
    says_once_that_stdout_is_closed(&server, "welcome-server");
    // The listening line and that one line, nothing else.
    assert_eq!(server.stderr().lines().count(), 2, "{}", server.stderr());
}

#[test]
fn contacts_server_with_its_stdout_closed_serves_on_and_keeps_its_data() {
    let server = start_with_stdout_closed("contacts-server");
    let addr = server.addr();
    for (command, answer) in [
        (&["add", "zhangsan", "13800138000"][..], "zhangsan added"),
        (&["add", "张三", "13900139000"], "张三 added"),
        (&["remove", "zhangsan"], "zhangsan removed!"),
        (&["find", "张三"], "13900139000"),
        (&["find", "zhangsan"], "Not Found!"),
    ] {
        contacts(&addr, command)
            .assert()
            .success()
            .stdout(format!("Welcome!\n{answer}\n"))
            .stderr("");
    }
    says_once_that_stdout_is_closed(&server, "contacts-server");
    assert_eq!(server.stderr().lines().count(), 2, "{}", server.stderr());
}

// ---------------------------------------------------------------- the bound on one client

/// The margin a loaded machine gets on top of the bound a server states.
const MARGIN: Duration = Duration::from_millis(1500);

#[test]
fn welcome_server_bounds_a_whole_answer_to_a_client_that_never_reads() {
    // See `never_reading_client_cannot_stall`: Wine does not apply the write timeout.
    if cfg!(windows) {
        return;
    }
    let server = start("welcome-server", &["--timeout-ms", "1000"]);
    let mut flooder = greeted(&server.addr());
    flooder
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut line = vec![b'x'; 1000];
    line.push(b'\n');
    let chunk = line.repeat(64);
    // Each line is answered with 1010 bytes, which the flooder never reads. Once the
    // buffers are full, the server's write of an answer waits, it reads no more, and
    // our writes stop making progress: that moment is what the time limit counts from.
    let started = Instant::now();
    let mut last_progress = started;
    while started.elapsed() < DEADLINE {
        match flooder.write(&chunk) {
            Ok(_) => last_progress = Instant::now(),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("dropped before the buffers were full: {e}"),
        }
    }
    server
        .wait_for_stderr("does not read its answers: nothing could be sent for 1s; closing\n")
        .unwrap();
    // One deadline for the whole answer: 1 s after the write began, where the limit
    // of each piece the kernel took (SO_SNDTIMEO alone) dropped it after 2 to 3 s.
    let waited = last_progress.elapsed();
    assert!(
        waited < Duration::from_millis(1000) + Duration::from_millis(500),
        "dropped {waited:?} after the server stopped reading; the limit is 1 s"
    );
}

/// How many times `needle` is in `text`.
fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[test]
fn welcome_server_serves_the_next_client_soon_after_a_burst() {
    let server = start(
        "welcome-server",
        &["--timeout-ms", "1000", "--delay-ms", "100"],
    );
    let mut burst = greeted(&server.addr());
    let started = Instant::now();
    // 3000 messages in one write of 6 KB, then nothing: 3000 pauses of 100 ms, 300 s,
    // if every message sent ahead got its pause.
    burst.write_all(&b"x\n".repeat(3000)).unwrap();
    let mut next = greeted(&server.addr());
    let waited = started.elapsed();
    // The bound: 1000 ms of pauses for what the burst sent ahead, and the pause under way.
    assert!(
        waited < Duration::from_millis(1000 + 100) + MARGIN,
        "the next client was greeted {waited:?} after the burst"
    );
    assert_eq!(ask(&mut next, b"hello\n"), "Received hello;");
    server
        .wait_for_stderr(
            "sent messages ahead of the answers, and their show took over 1s; closing\n",
        )
        .unwrap();
    // The burst got the answers of at most 1000 ms of pauses, 10 of them. (The server
    // closed with the rest unread, so the close may come as a reset.)
    let mut answers = Vec::new();
    let _ = burst.read_to_end(&mut answers);
    let answered = count(&String::from_utf8_lossy(&answers), "Received x;");
    assert!((1..=10).contains(&answered), "{answered} answers");
}

#[test]
fn contacts_server_serves_the_next_client_soon_after_a_burst() {
    let server = start("contacts-server", &["--timeout-ms", "500"]);
    let mut burst = greeted(&server.addr());
    // A full phone book of 64-byte fields, one command at a time: each change prints
    // the whole book, about 13 KB.
    let name = |i: usize| format!("{i:02}{}", "n".repeat(62));
    for i in 0..100 {
        let add = format!("add;{};{}\n", name(i), "1".repeat(64));
        assert_eq!(
            ask(&mut burst, add.as_bytes()),
            format!("{} added", name(i))
        );
    }
    // Then 10000 overwrites in one burst, never reading an answer: without a bound,
    // 10000 printed books (130 MB), seconds of the server's time.
    let overwrites: String = (0..10_000)
        .map(|i| format!("add;{};{}\n", name(i % 100), "2".repeat(64)))
        .collect();
    let started = Instant::now();
    let mut writer = burst.try_clone().unwrap();
    // On its own thread: the server drops us before it has read it all.
    let sender = thread::spawn(move || {
        let _ = writer.write_all(overwrites.as_bytes());
    });
    let mut next = greeted(&server.addr());
    let waited = started.elapsed();
    // The bound: 500 ms of printing for what the burst sent ahead, and one book more.
    assert!(
        waited < Duration::from_millis(500) + MARGIN,
        "the next client was greeted {waited:?} after the burst"
    );
    server
        .wait_for_stderr(
            "sent commands ahead of the answers, and their show took over 500ms; closing\n",
        )
        .unwrap();
    // Every contact is still there, with its old phone or its new one.
    for i in 0..100 {
        let phone = ask(&mut next, format!("find;{}\n", name(i)).as_bytes());
        assert!(
            phone == "1".repeat(64) || phone == "2".repeat(64),
            "{i}: {phone}"
        );
    }
    sender.join().unwrap();
}

// ---------------------------------------------------------------- telnet on Windows

/// Windows' own telnet sends each key the moment it is typed. Once a client has sent a
/// newline (Enter pressed once, right after connecting), the servers wait for the next
/// newline, and the pauses between two keys no longer end a message.
#[test]
fn keys_typed_one_by_one_make_one_line_once_a_newline_was_sent() {
    for (package, empty, typed, answer) in [
        ("welcome-server", "Received ;", "hello", "Received hello;"),
        (
            "contacts-server",
            "error: empty command",
            "add;李四;139",
            "李四 added",
        ),
    ] {
        // Keys 60 ms apart against a 30 ms gap: each pause would end a message by the
        // pause rule (a slow machine may merge keys, which only makes the test easier).
        let server = start(package, &["--gap-ms", "30"]);
        let mut stream = greeted(&server.addr());
        stream.set_nodelay(true).unwrap();
        assert_eq!(ask(&mut stream, b"\r\n"), empty, "{package}");
        for key in typed.chars() {
            thread::sleep(Duration::from_millis(60));
            stream.write_all(key.to_string().as_bytes()).unwrap();
        }
        thread::sleep(Duration::from_millis(60));
        stream.write_all(b"\r\n").unwrap();
        assert_eq!(read_reply(&mut stream), answer, "{package}");
        // A program's whole message without a newline still ends at the pause.
        if package == "contacts-server" {
            assert_eq!(ask(&mut stream, "find;李四".as_bytes()), "139");
        }
    }
}

// ---------------------------------------------------------------- the log of a bad command

#[test]
fn contacts_server_quotes_a_long_bad_command_once_and_says_how_long() {
    let server = start("contacts-server", &[]);
    let mut stream = greeted(&server.addr());
    // 1000 bytes without a `;`: the whole command is its first field.
    let garbage = format!("{}{}", "垃".repeat(20), "x".repeat(940));
    assert_eq!(
        ask(&mut stream, format!("{garbage}\n").as_bytes()),
        "error: unknown command of 1000 bytes, use add, remove or find"
    );
    let start: String = garbage.chars().take(60).collect();
    let line = format!(
        "bad command {start:?}... (1000 bytes): unknown command of 1000 bytes, use add, \
         remove or find\n"
    );
    server.wait_for_stderr(&line).unwrap();
    assert_eq!(count(&server.stderr(), &start), 1, "{}", server.stderr());
    // A long bad command with fields: its first 60 characters, once.
    let long = format!("find;a;{}", "y".repeat(200));
    assert_eq!(ask(&mut stream, long.as_bytes()), "error: use find;NAME");
    let line = format!(
        "bad command {:?}... (207 bytes): use find;NAME\n",
        &long[..60]
    );
    server.wait_for_stderr(&line).unwrap();
}
