//! Lesson 04: sticky packets, length-prefixed frames, non-blocking sockets and poll(2),
//! black box: every server is started for real, every client run for real.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use socket_lessons::{
    DEADLINE, Server, binary, closed_port_addr, connect, lesson_block, normalize_number,
    one_shot_server, run_with_stdout_closed, wait_until,
};

const PAGE: &str = "04-framing-and-io-models.md";

/// Long enough for a loaded machine; a test only waits this long when it is failing.
const PATIENCE: Duration = Duration::from_secs(20);

fn program(package: &str) -> Command {
    let mut cmd = Command::new(binary(package).unwrap());
    cmd.timeout(PATIENCE);
    cmd
}

fn client(package: &str, addr: &str) -> Command {
    let mut cmd = program(package);
    cmd.args(["--addr", addr]);
    cmd
}

/// Replaces port numbers with a placeholder.
fn normalize(text: &str) -> String {
    let text = normalize_number(text, "127.0.0.1:", "PORT");
    normalize_number(&text, "'127.0.0.1', ", "PORT")
}

/// Runs `package` against a port where nobody listens: exit 1, nothing on stdout, and
/// one line on stderr that names the server it expected.
fn assert_refused(package: &str, server_package: &str) {
    let addr = closed_port_addr().unwrap();
    client(package, &addr)
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!(
            "{package}: cannot connect to {addr}: Connection refused \
             (is {server_package} running?)\n"
        ));
}

/// A one-shot stand-in server that returns every byte its client sent.
fn recording_server() -> (String, thread::JoinHandle<Vec<u8>>) {
    one_shot_server(|mut conn| {
        let mut all = Vec::new();
        conn.read_to_end(&mut all).unwrap();
        all
    })
    .unwrap()
}

/// Runs a client that prints nothing with its stdout's reader already closed
/// (`client | head -0`): the closed pipe never matters to it, so it exits 0, quietly, and
/// sends exactly what it sends with a stdout. Returns the bytes the server got.
fn client_with_stdout_closed(package: &str, args: &[&str]) -> Vec<u8> {
    let (addr, reader) = recording_server();
    let out =
        run_with_stdout_closed(package, &[&["--addr", &addr][..], args].concat(), b"").unwrap();
    assert_eq!(out.status.code(), Some(0), "{package}: {out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{package}");
    reader.join().unwrap()
}

/// What a server logs, once, when its stdout turns out closed.
fn stdout_closed_line(package: &str) -> String {
    format!("{package}: stdout is closed (Broken pipe); printing stops, serving goes on\n")
}

/// Opens `n` connections at once, sends `{word}{i}` on each, and only then reads every
/// reply: each must be its own message upper-cased. Returns the open connections.
fn many_at_once(server: &Server, n: usize, word: &str) -> Vec<TcpStream> {
    let mut conns: Vec<TcpStream> = (0..n).map(|_| raw(server)).collect();
    for (i, conn) in conns.iter_mut().enumerate() {
        conn.write_all(format!("{word}{i}").as_bytes()).unwrap();
    }
    for (i, conn) in conns.iter_mut().enumerate() {
        let expected = format!("{word}{i}").to_ascii_uppercase();
        let mut reply = vec![0u8; expected.len()];
        conn.read_exact(&mut reply).unwrap();
        assert_eq!(reply, expected.as_bytes());
    }
    conns
}

/// A raw TCP connection of the test's own, with a read timeout.
fn raw(server: &Server) -> TcpStream {
    let stream = connect(&server.addr()).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Sends `msg` and reads exactly `expected.len()` bytes back.
fn round_trip(stream: &mut TcpStream, msg: &[u8], expected: &[u8]) {
    stream.write_all(msg).unwrap();
    let mut reply = vec![0u8; expected.len()];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(reply, expected);
}

/// `n` bytes repeating `unit`: what framed-client --size sends.
fn pattern(unit: &[u8], n: usize) -> Vec<u8> {
    unit.iter().copied().cycle().take(n).collect()
}

/// One frame as Python's client builds it: struct.pack('i', len(body)) + body.
fn frame(body: &[u8]) -> Vec<u8> {
    let mut bytes = (body.len() as i32).to_le_bytes().to_vec();
    bytes.extend_from_slice(body);
    bytes
}

/// Connects to `addr` and, on its own thread, sends `bytes` one at a time, `gap` apart.
/// The thread returns how many writes succeeded before one failed (the server dropped
/// the connection) or all were done.
fn dribble(addr: &str, bytes: Vec<u8>, gap: Duration) -> JoinHandle<usize> {
    let mut conn = connect(addr).unwrap();
    conn.set_nodelay(true).unwrap();
    thread::spawn(move || {
        for (i, b) in bytes.iter().enumerate() {
            if conn.write_all(&[*b]).is_err() {
                return i;
            }
            thread::sleep(gap);
        }
        bytes.len()
    })
}

/// 100 bytes at one per 20 ms take 2 s; the servers below must drop the client after
/// their 200 ms, at about that time, without waiting for the rest.
const SLOW: Duration = Duration::from_millis(20);
const SHORT_TIMEOUT: &str = "200";

/// Asserts that the drop came after the deadline and long before the dribble's end.
fn dropped_at_the_deadline(started: Instant, dribbler: JoinHandle<usize>, len: usize) {
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200), "dropped after {took:?}");
    assert!(
        took < Duration::from_millis(1500),
        "dropped only after {took:?}"
    );
    let sent = dribbler.join().unwrap();
    assert!(sent < len, "the server took all {len} slow bytes");
}

// ---------------------------------------------------------------- sticky packets

/// Starts a one-shot sticky-server, runs sticky-client with `client_args`, and returns
/// the server's first line of stdout once the server has exited.
fn sticky_once(server_args: &[&str], client_args: &[&str]) -> (Server, String) {
    let mut server = Server::start("sticky-server", server_args).unwrap();
    client("sticky-client", &server.addr())
        .args(client_args)
        .assert()
        .success()
        .stdout("");
    assert!(wait_until(DEADLINE, || !server.is_running()));
    let first = server.wait_for_stdout_lines(1).unwrap();
    (server, first)
}

#[test]
fn sticky_demo_gives_hello_world_in_one_read_every_time() {
    // 20 runs, in parallel so that the server's default wait is paid only once.
    let runs: Vec<_> = (0..20)
        .map(|_| thread::spawn(|| sticky_once(&[], &[]).1))
        .collect();
    for run in runs {
        assert_eq!(run.join().unwrap(), "hello world\n");
    }
}

#[test]
fn sticky_switch_shows_the_two_writes_as_two_reads() {
    // 300 ms apart, as the page shows: a server that reads at once takes `hello` alone
    // unless it is kept off the CPU for that long (100 ms was too little on a machine
    // with a load of 16 on 2 cores).
    let (server, _) = sticky_once(&["--delay-ms", "0"], &["--pause-ms", "300"]);
    assert_eq!(server.wait_for_stdout_lines(2).unwrap(), "hello\n world\n");
}

#[test]
fn sticky_server_survives_garbage_and_keeps_serving() {
    // No wait after accept, so three clients cost no 600 ms; the last one sends its
    // message in one write, which one read takes whole.
    let server = Server::start("sticky-server", &["--clients", "0", "--delay-ms", "0"]).unwrap();

    let mut junk = raw(&server);
    junk.write_all(&[0xff, 0xfe, 0x00]).unwrap();
    drop(junk);
    server
        .wait_for_stderr("read 1 returned 3 bytes that are not UTF-8 text; skipped them")
        .unwrap();

    // Half a message, then the client vanishes: the server prints what came, nothing more.
    let mut half = raw(&server);
    half.write_all(b"hel").unwrap();
    drop(half);
    server.wait_for_stdout("hel\n").unwrap();

    let mut last = raw(&server);
    last.write_all(b"hello world").unwrap();
    drop(last);
    assert_eq!(
        server.wait_for_stdout_lines(2).unwrap(),
        "hel\nhello world\n"
    );
}

#[test]
fn sticky_server_drops_a_client_that_dribbles_past_its_timeout() {
    let server = Server::start(
        "sticky-server",
        &[
            "--clients",
            "0",
            "--delay-ms",
            "0",
            "--timeout-ms",
            SHORT_TIMEOUT,
        ],
    )
    .unwrap();
    let started = Instant::now();
    let dribbler = dribble(&server.addr(), vec![b'x'; 100], SLOW);
    server
        .wait_for_stderr("too slow: did not send everything and close within 200ms; closing")
        .unwrap();
    dropped_at_the_deadline(started, dribbler, 100);
    // The next client is served.
    let mut next = raw(&server);
    next.write_all(b"next").unwrap();
    drop(next);
    server.wait_for_stdout("next\n").unwrap();
}

#[test]
fn sticky_client_without_a_server_says_so() {
    assert_refused("sticky-client", "sticky-server");
}

#[test]
fn sticky_server_pauses_only_for_a_client_that_sent_something() {
    // A flood of clients that connect and close at once: each costs a read of 0 bytes and
    // the original's empty line, but not the 200 ms show pause (100 pauses would hold the
    // real client below back for 20 s). The real client still gets the pause, so its two
    // writes stick together as ever. Bound: served within 5 s of its start (it takes
    // a fraction of a second here; the margin is for a loaded machine).
    let server = Server::start("sticky-server", &["--clients", "0"]).unwrap();
    for _ in 0..100 {
        drop(connect(&server.addr()).unwrap());
    }
    let started = Instant::now();
    client("sticky-client", &server.addr()).assert().success();
    let stdout = server.wait_for_stdout("hello world\n").unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "served after {took:?}");
    assert_eq!(stdout, format!("{}hello world\n", "\n".repeat(100)));
}

#[test]
fn sticky_server_with_stdout_closed_logs_once_and_goes_on_serving() {
    let mut server =
        Server::start_with_stdout_closed("sticky-server", &["--clients", "2"]).unwrap();
    client("sticky-client", &server.addr()).assert().success();
    server.wait_for_stderr("stdout is closed").unwrap();
    // A later client is still read: its bytes that are not UTF-8 are logged.
    let mut junk = raw(&server);
    junk.write_all(&[0xff, 0xfe, 0x00]).unwrap();
    drop(junk);
    assert!(
        wait_until(DEADLINE, || !server.is_running()),
        "it did not serve both clients"
    );
    // The pipe may still hold the last line when the process has gone: wait for it.
    server.wait_for_stderr("skipped them\n").unwrap();
    assert_eq!(
        normalize(&server.stderr()),
        format!(
            "sticky-server: listening on 127.0.0.1:PORT\n{}\
             sticky-server: 127.0.0.1:PORT: read 1 returned 3 bytes that are not UTF-8 text; skipped them\n",
            stdout_closed_line("sticky-server")
        )
    );
}

#[test]
fn sticky_client_with_stdout_closed_sends_as_ever() {
    assert_eq!(
        client_with_stdout_closed("sticky-client", &[]),
        b"hello world"
    );
}

// ---------------------------------------------------------------- struct.pack

#[test]
fn pack_demo_prints_the_tuple_and_shows_the_bytes() {
    program("pack-demo")
        .assert()
        .success()
        .stdout("(199,)\n")
        .stderr(
            "struct.pack('i', 199) = b'\\xc7\\x00\\x00\\x00' = [199, 0, 0, 0]\n\
             byte order: 'i' uses the machine's order, little-endian (lowest byte first) on \
             every PC and phone; network order '!i' would be [0, 0, 0, 199]\n",
        );
    let minus_one = program("pack-demo").arg("-1").output().unwrap();
    assert_eq!(minus_one.stdout, b"(-1,)\n");
    assert!(String::from_utf8_lossy(&minus_one.stderr).contains("= [255, 255, 255, 255]\n"));
    program("pack-demo")
        .arg("2147483648")
        .assert()
        .code(2)
        .stdout("");
}

#[test]
fn pack_demo_with_stdout_closed_ends_quietly_with_141() {
    // `pack-demo | head -0`: its one line cannot be printed, so it ends at once, before
    // its stderr lines, with the status a shell gives a Unix tool a closed pipe stopped.
    let out = run_with_stdout_closed("pack-demo", &[], b"").unwrap();
    assert_eq!(out.status.code(), Some(141), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

// ---------------------------------------------------------------- length-prefixed frames

#[test]
fn framed_client_sends_struct_pack_headers() {
    // The exact bytes on the wire, as Python's struct.pack('i', n) makes them.
    let (addr, reader) = recording_server();
    client("framed-client", &addr).assert().success().stdout("");
    let mut expected = frame(b"hello");
    expected.extend(frame(b" world"));
    assert_eq!(reader.join().unwrap(), expected);
}

#[test]
fn framed_round_trips_at_0_1_1024_and_1_mib() {
    let server = Server::start("framed-server", &["--clients", "0"]).unwrap();
    let mut expected = String::new();
    let mut lines = 0;
    for size in [0, 1, 1024, 1 << 20] {
        client("framed-client", &server.addr())
            .args(["--size", &size.to_string()])
            .assert()
            .success();
        for unit in [&b"abcdefghijklmnopqrstuvwxyz"[..], b"0123456789"] {
            expected.push_str(&String::from_utf8(pattern(unit, size)).unwrap());
            expected.push('\n');
        }
        lines += 2;
        server.wait_for_stdout_lines(lines).unwrap();
    }
    assert!(server.stdout() == expected, "the bodies came back changed");
    assert_eq!(server.stderr().lines().count(), 1, "{}", server.stderr());
}

#[test]
fn framed_server_reassembles_frames_dribbled_one_byte_at_a_time() {
    let server = Server::start("framed-server", &["--clients", "0"]).unwrap();
    // One byte per write with a pause: every read of the server sees a fragment.
    client("framed-client", &server.addr())
        .args(["--chunk-size", "1", "--pause-ms", "1"])
        .assert()
        .success();
    assert_eq!(server.wait_for_stdout_lines(2).unwrap(), "hello\n world\n");
    // A longer body, one byte per write (no pause: 2 KiB of tiny writes).
    client("framed-client", &server.addr())
        .args(["--size", "1024", "--chunk-size", "1"])
        .assert()
        .success();
    let stdout = server.wait_for_stdout_lines(4).unwrap();
    let a = String::from_utf8(pattern(b"abcdefghijklmnopqrstuvwxyz", 1024)).unwrap();
    let d = String::from_utf8(pattern(b"0123456789", 1024)).unwrap();
    assert_eq!(stdout, format!("hello\n world\n{a}\n{d}\n"));
}

#[test]
fn framed_server_refuses_bad_headers_and_keeps_serving() {
    let server = Server::start("framed-server", &["--clients", "0"]).unwrap();
    let addr = server.addr();
    let cases: [(Vec<u8>, &str); 6] = [
        (
            (-5i32).to_le_bytes().to_vec(),
            "message 1: the header announces -5 bytes: a length cannot be negative; closing",
        ),
        (
            (16 * 1024 * 1024 + 1i32).to_le_bytes().to_vec(),
            "message 1: the header announces 16777217 bytes, more than the 16777216-byte limit; closing",
        ),
        (
            i32::MAX.to_le_bytes().to_vec(),
            "message 1: the header announces 2147483647 bytes, more than the 16777216-byte limit; closing",
        ),
        (
            vec![5, 0],
            "message 1: the connection ended after 2 of the 4 header bytes; closing",
        ),
        (
            [frame(b"hello"), vec![10, 0, 0, 0], b"abc".to_vec()].concat(),
            "message 2: the connection ended after 3 of the 10 body bytes; closing",
        ),
        (
            [frame(b"\xff\xfe"), frame(b"ok")].concat(),
            "message 1: 2 bytes that are not UTF-8 text; skipped it",
        ),
    ];
    for (bytes, complaint) in &cases {
        let mut conn = raw(&server);
        conn.write_all(bytes).unwrap();
        conn.shutdown(Shutdown::Write).unwrap();
        server.wait_for_stderr(complaint).unwrap();
        // The server closed the connection, or finished with it: we read end of stream.
        let mut rest = Vec::new();
        conn.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    }
    // Good frames after all that: still served, and only good bodies were ever printed.
    client("framed-client", &addr).assert().success();
    assert_eq!(
        server.wait_for_stdout_lines(4).unwrap(),
        "hello\nok\nhello\n world\n"
    );
}

#[test]
fn framed_server_takes_python_frames_one_recv_would_split() {
    // A body longer than the original's single recv of the second message could take
    // in one piece when it arrives in parts.
    let server = Server::start("framed-server", &[]).unwrap();
    let mut conn = raw(&server);
    let long = pattern(b"xyz", 5000);
    conn.write_all(&frame(b"first")).unwrap();
    conn.write_all(&(long.len() as i32).to_le_bytes()).unwrap();
    for piece in long.chunks(700) {
        conn.write_all(piece).unwrap();
        conn.flush().unwrap();
    }
    drop(conn);
    let stdout = server.wait_for_stdout_lines(2).unwrap();
    assert_eq!(
        stdout,
        format!("first\n{}\n", String::from_utf8(long).unwrap())
    );
}

#[test]
fn framed_server_drops_a_client_that_dribbles_a_message_past_its_timeout() {
    let server = Server::start(
        "framed-server",
        &["--clients", "0", "--timeout-ms", SHORT_TIMEOUT],
    )
    .unwrap();
    // One message of 100 bytes in all, header included, one byte every 20 ms: each read
    // gets a byte well within the timeout, the whole message does not.
    let message = frame(&[b'x'; 96]);
    let started = Instant::now();
    let dribbler = dribble(&server.addr(), message, SLOW);
    server
        .wait_for_stderr(
            "message 1: too slow: the header and body did not arrive within 200ms; closing",
        )
        .unwrap();
    dropped_at_the_deadline(started, dribbler, 100);
    assert_eq!(server.stdout(), "");
    // The next client is served.
    client("framed-client", &server.addr()).assert().success();
    assert_eq!(server.wait_for_stdout_lines(2).unwrap(), "hello\n world\n");
}

#[test]
fn framed_client_checks_its_arguments_and_its_server() {
    let addr = closed_port_addr().unwrap();
    client("framed-client", &addr)
        .args(["--size", "16777217"])
        .assert()
        .code(2)
        .stdout("");
    client("framed-client", &addr)
        .args(["--chunk-size", "0"])
        .assert()
        .code(2);
    assert_refused("framed-client", "framed-server");
}

#[test]
fn framed_server_and_client_share_one_header_implementation() {
    // Both ends take encode/decode from the lesson's length-header codec, whose unit
    // tests pin the bytes to struct.pack('i', n); the black-box tests above check the wire.
    for package in ["framed-server", "framed-client"] {
        let manifest = std::fs::read_to_string(
            socket_lessons::workspace_root()
                .join("crates/04-framing-and-io-models")
                .join(package)
                .join("Cargo.toml"),
        )
        .unwrap();
        assert!(
            manifest.contains(&format!(
                "{} = {{ path = \"../length-header\" }}",
                "length-header"
            )),
            "{package} does not use \"length-header\""
        );
    }
}

#[test]
fn framed_server_with_stdout_closed_logs_once_and_goes_on_serving() {
    let mut server =
        Server::start_with_stdout_closed("framed-server", &["--clients", "2"]).unwrap();
    // Two messages, two prints that fail: one line.
    client("framed-client", &server.addr()).assert().success();
    server.wait_for_stderr("stdout is closed").unwrap();
    // A later client's messages are still read, frame by frame.
    let mut conn = raw(&server);
    conn.write_all(&[frame(b"\xff\xfe"), frame(b"ok")].concat())
        .unwrap();
    drop(conn);
    assert!(
        wait_until(DEADLINE, || !server.is_running()),
        "it did not serve both clients"
    );
    server.wait_for_stderr("skipped it\n").unwrap();
    assert_eq!(
        normalize(&server.stderr()),
        format!(
            "framed-server: listening on 127.0.0.1:PORT\n{}\
             framed-server: 127.0.0.1:PORT: message 1: 2 bytes that are not UTF-8 text; skipped it\n",
            stdout_closed_line("framed-server")
        )
    );
}

#[test]
fn framed_client_with_stdout_closed_sends_as_ever() {
    let mut expected = frame(b"hello");
    expected.extend(frame(b" world"));
    assert_eq!(client_with_stdout_closed("framed-client", &[]), expected);
}

// ---------------------------------------------------------------- non-blocking accept

/// What nonblocking-accept says when nobody came to be accepted.
const ACCEPT_WOULD_BLOCK: &str = "nonblocking-accept: accept failed: WouldBlock \
    (Resource temporarily unavailable): nothing was ready, and a non-blocking socket does \
    not wait (Python raises BlockingIOError here)\n";

/// Runs nonblocking-accept with `args` on a free port, where nobody comes: it must fail
/// with exit status 1 and print nothing on stdout. Returns its stderr, ports normalized.
fn nonblocking_accept_alone(args: &[&str]) -> String {
    let out = program("nonblocking-accept")
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, b"");
    normalize(&String::from_utf8(out.stderr).unwrap())
}

#[test]
fn nonblocking_accept_fails_with_would_block_when_nobody_waits() {
    assert_eq!(
        nonblocking_accept_alone(&[]),
        format!("nonblocking-accept: listening on 127.0.0.1:PORT\n{ACCEPT_WOULD_BLOCK}")
    );
}

#[test]
fn nonblocking_accept_takes_a_client_that_came_during_the_wait() {
    // The server retries its non-blocking accept (then recv) every 10 ms until the
    // client's connection and bytes are there: no race, and the test ends as soon as the
    // client has connected. The deadline is only reached when something is broken.
    let started = Instant::now();
    let mut server = Server::start("nonblocking-accept", &["--wait-ms", "20000"]).unwrap();
    client("nonblocking-accept-client", &server.addr())
        .assert()
        .success()
        .stdout("");
    assert_eq!(server.wait_for_stdout_lines(1).unwrap(), "hello1 world\n");
    assert!(wait_until(DEADLINE, || !server.is_running()));
    // It stopped retrying once it had the message: it did not sit out its 20 s.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "nonblocking-accept took {:?}",
        started.elapsed()
    );
}

#[test]
fn nonblocking_accept_gives_up_at_its_deadline() {
    // Nobody comes: it retries for the whole --wait-ms, then fails just as without it.
    let started = Instant::now();
    assert_eq!(
        nonblocking_accept_alone(&["--wait-ms", "100"]),
        format!("nonblocking-accept: listening on 127.0.0.1:PORT\n{ACCEPT_WOULD_BLOCK}")
    );
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[test]
fn nonblocking_accept_client_sends_hello1_world() {
    let (addr, reader) = recording_server();
    client("nonblocking-accept-client", &addr)
        .assert()
        .success();
    assert_eq!(reader.join().unwrap(), b"hello1 world");
    assert_refused("nonblocking-accept-client", "nonblocking-accept");
}

#[test]
fn nonblocking_accept_with_stdout_closed_logs_once() {
    // It serves one client and ends: the client is accepted and read as ever, the line
    // it would print is lost, and one line on stderr says so.
    let mut server =
        Server::start_with_stdout_closed("nonblocking-accept", &["--wait-ms", "20000"]).unwrap();
    client("nonblocking-accept-client", &server.addr())
        .assert()
        .success();
    assert!(wait_until(DEADLINE, || !server.is_running()));
    server.wait_for_stderr("serving goes on\n").unwrap();
    assert_eq!(
        normalize(&server.stderr()),
        format!(
            "nonblocking-accept: listening on 127.0.0.1:PORT\n{}",
            stdout_closed_line("nonblocking-accept")
        )
    );
}

#[test]
fn nonblocking_accept_client_with_stdout_closed_sends_as_ever() {
    assert_eq!(
        client_with_stdout_closed("nonblocking-accept-client", &[]),
        b"hello1 world"
    );
}

// ---------------------------------------------------------------- the polling server

#[test]
fn nonblocking_client_fed_from_a_pipe() {
    let server = Server::start("nonblocking-server", &[]).unwrap();
    client("nonblocking-client", &server.addr())
        .write_stdin("hello\n\n   \n  abc d  \nwörld\n")
        .assert()
        .success()
        .stdout(">>: HELLO\n>>: >>: >>: ABC D\n>>: WöRLD\n>>: \n")
        .stderr("");
    // The server saw the client come (stdout) and go (stderr).
    server.wait_for_stderr(": client left").unwrap();
    // stdout is another pipe than stderr, read on its own thread: its lines may come
    // in after the stderr line.
    let stdout = normalize(&server.wait_for_stdout_lines(3).unwrap());
    assert_eq!(
        stdout,
        "starting...\n('127.0.0.1', PORT)\n[<socket.socket family=2, type=1, proto=0, \
         laddr=('127.0.0.1', PORT), raddr=('127.0.0.1', PORT)>]\n"
    );
}

#[test]
fn nonblocking_server_serves_several_clients_at_once() {
    let server = Server::start("nonblocking-server", &[]).unwrap();
    // A silent client first: with a blocking accepted socket it would stall the loop.
    let silent = raw(&server);
    let clients: Vec<_> = (0..5)
        .map(|i| {
            let addr = server.addr();
            thread::spawn(move || {
                let input = format!("client {i} one\nclient {i} two\n");
                let out = client("nonblocking-client", &addr)
                    .write_stdin(input)
                    .output()
                    .unwrap();
                (
                    out.status.success(),
                    String::from_utf8(out.stdout).unwrap(),
                    i,
                )
            })
        })
        .collect();
    for handle in clients {
        let (ok, stdout, i) = handle.join().unwrap();
        assert!(ok);
        assert_eq!(
            stdout,
            format!(">>: CLIENT {i} ONE\n>>: CLIENT {i} TWO\n>>: \n")
        );
    }
    drop(silent);
}

#[test]
fn nonblocking_server_forgets_a_client_that_leaves_and_serves_the_rest() {
    let server = Server::start("nonblocking-server", &[]).unwrap();
    let mut a = raw(&server);
    let mut b = raw(&server);
    round_trip(&mut a, b"from a", b"FROM A");
    round_trip(&mut b, b"from b", b"FROM B");
    let a_port = a.local_addr().unwrap().port();
    drop(a); // a leaves in the middle
    server
        .wait_for_stderr(&format!("127.0.0.1:{a_port}: client left"))
        .unwrap();
    round_trip(&mut b, b"still here", b"STILL HERE");
    // Garbage and bytes that are not UTF-8: upper-cased as bytes (ASCII letters only).
    round_trip(&mut b, b"\xff\x00a\xc3\xa9z", b"\xff\x00A\xc3\xa9Z");
    let mut c = raw(&server);
    round_trip(&mut c, b"newcomer", b"NEWCOMER");
    assert_eq!(server.stderr().matches("client left").count(), 1);
}

#[test]
fn nonblocking_server_serves_50_clients_at_once() {
    let server = Server::start("nonblocking-server", &[]).unwrap();
    drop(many_at_once(&server, 50, "message "));
    assert!(wait_until(DEADLINE, || server
        .stderr()
        .matches("client left")
        .count()
        == 50));
    let mut last = raw(&server);
    round_trip(&mut last, b"after 50", b"AFTER 50");
}

#[test]
fn nonblocking_client_reports_a_server_that_hangs_up() {
    let (addr, hang_up) = one_shot_server(|mut conn| {
        let mut buf = [0u8; 16];
        let _ = conn.read(&mut buf).unwrap();
        // close without a reply
    })
    .unwrap();
    client("nonblocking-client", &addr)
        .write_stdin("hello\nnever sent\n")
        .assert()
        .code(1)
        .stdout(">>: ")
        .stderr(format!(
            "nonblocking-client: no reply from {addr}: the server closed the connection\n"
        ));
    hang_up.join().unwrap();
    assert_refused("nonblocking-client", "nonblocking-server");
}

/// A client whose stdout's reader is gone (`nonblocking-client | head -0`) ends at its
/// first print, quietly, with the status a shell reports for a tool a closed pipe
/// stopped: 141, nothing on stderr, no panic.
fn assert_client_ends_quietly_on_a_closed_stdout(package: &str, args: &[&str], stdin: &[u8]) {
    let out = run_with_stdout_closed(package, args, stdin).unwrap();
    assert_eq!(out.status.code(), Some(141), "{package}: {out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{package}");
}

/// A server whose stdout's reader is gone logs one line on stderr once its first print
/// fails, and serves everyone as before: `clients` connects and runs round trips (before
/// and after that line), and returns its connections, kept open to the end so that no
/// "client left" line comes.
fn assert_server_serves_on_a_closed_stdout(
    package: &str,
    clients: impl Fn(&Server) -> Vec<TcpStream>,
) {
    let server = Server::start_with_stdout_closed(package, &[]).unwrap();
    let before = clients(&server);
    let closed =
        format!("{package}: stdout is closed (Broken pipe); printing stops, serving goes on\n");
    server.wait_for_stderr(&closed).unwrap();
    let after = clients(&server);
    assert_eq!(
        normalize(&server.stderr()),
        format!("{package}: listening on 127.0.0.1:PORT\n{closed}")
    );
    drop((before, after));
}

/// Two clients, each answered twice.
fn two_clients(server: &Server) -> Vec<TcpStream> {
    let mut a = raw(server);
    let mut b = raw(server);
    round_trip(&mut a, b"hello", b"HELLO");
    round_trip(&mut b, b"world", b"WORLD");
    round_trip(&mut a, b"again", b"AGAIN");
    round_trip(&mut b, b"and b", b"AND B");
    vec![a, b]
}

#[test]
fn nonblocking_programs_survive_a_closed_stdout() {
    assert_server_serves_on_a_closed_stdout("nonblocking-server", two_clients);
    let server = Server::start("nonblocking-server", &[]).unwrap();
    assert_client_ends_quietly_on_a_closed_stdout(
        "nonblocking-client",
        &["--addr", &server.addr()],
        b"hello\n",
    );
}

// ---------------------------------------------------------------- poll(2)

#[test]
fn select_client_and_server_print_like_python() {
    let server = Server::start("select-server", &[]).unwrap();
    client("select-client", &server.addr())
        .args(["--count", "3"])
        .assert()
        .success()
        .stdout("b'HELLO WORLD'\nb'HELLO WORLD'\nb'HELLO WORLD'\n");
    server.wait_for_stderr(": client left").unwrap();
    let stdout = normalize(&server.wait_for_stdout_lines(9).unwrap());
    let listener = "[<socket.socket family=2, type=1, proto=0, laddr=('127.0.0.1', PORT)>]\n";
    let conn = "[<socket.socket family=2, type=1, proto=0, laddr=('127.0.0.1', PORT), \
                raddr=('127.0.0.1', PORT)>]\n";
    let msg = "b'hello world'\n";
    // The client left: its socket is ready one last time, and the read returns b''
    // (printed once, as the original prints it, and then the client is removed).
    assert_eq!(
        stdout,
        format!("{listener}{conn}{msg}{conn}{msg}{conn}{msg}{conn}b''\n")
    );
}

#[test]
fn select_server_serves_several_clients_and_survives_one_leaving() {
    let server = Server::start("select-server", &[]).unwrap();
    let mut leaver = raw(&server);
    round_trip(&mut leaver, b"bye", b"BYE");
    let clients: Vec<_> = (0..5)
        .map(|_| {
            let addr = server.addr();
            thread::spawn(move || {
                client("select-client", &addr)
                    .args(["--count", "20"])
                    .output()
                    .unwrap()
            })
        })
        .collect();
    drop(leaver); // leaves while the others talk
    for handle in clients {
        let out = handle.join().unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, "b'HELLO WORLD'\n".repeat(20).as_bytes());
    }
    assert!(wait_until(DEADLINE, || server
        .stderr()
        .matches("client left")
        .count()
        == 6));
    // Exactly the 5 x 20 messages were printed, as Python prints bytes. (stdout is
    // another pipe than stderr, read on its own thread: wait for the last `b''` of
    // the six that each client's close prints.)
    let mut stdout = String::new();
    wait_until(DEADLINE, || {
        stdout = server.stdout();
        stdout.matches("b''\n").count() >= 6
    });
    assert_eq!(stdout.matches("b'hello world'\n").count(), 100);
    assert_eq!(stdout.matches("b'bye'\n").count(), 1);
    assert_eq!(stdout.matches("b''\n").count(), 6);
}

/// The ready list names only the sockets poll found ready: with two clients connected,
/// a round in which one of them sent lists that one alone, in Python's repr of a socket.
#[test]
fn select_server_lists_only_the_ready_sockets() {
    let server = Server::start("select-server", &[]).unwrap();
    let repr = |stream: &TcpStream| {
        format!(
            "<socket.socket family=2, type=1, proto=0, laddr=('127.0.0.1', {}), raddr=('127.0.0.1', {})>",
            server.port(),
            stream.local_addr().unwrap().port()
        )
    };
    let listener = format!(
        "<socket.socket family=2, type=1, proto=0, laddr=('127.0.0.1', {})>",
        server.port()
    );
    let mut first = raw(&server);
    round_trip(&mut first, b"one", b"ONE");
    let mut second = raw(&server);
    round_trip(&mut second, b"two", b"TWO");
    round_trip(&mut first, b"three", b"THREE");
    let (first, second_repr) = (repr(&first), repr(&second));
    // "client left" comes after everything the server printed before it (it flushes
    // stdout first), and the whole pipe is read once the server is stopped.
    drop(second);
    server.wait_for_stderr(": client left").unwrap();
    let expected = format!(
        "[{listener}]\n[{first}]\nb'one'\n[{listener}]\n[{second}]\nb'two'\n[{first}]\nb'three'\n\
         [{second}]\nb''\n",
        second = second_repr,
    );
    assert_eq!(server.stop_and_take_stdout().unwrap(), expected);
}

#[test]
fn select_server_survives_garbage_half_messages_and_50_clients() {
    let server = Server::start("select-server", &[]).unwrap();
    // Bytes that are not UTF-8: echoed upper-cased, printed as Python prints bytes.
    let mut junk = raw(&server);
    round_trip(&mut junk, b"\xff\x00'x\n", b"\xff\x00'X\n");
    server.wait_for_stdout("b\"\\xff\\x00'x\\n\"\n").unwrap();
    // A client that sends and vanishes without reading its reply.
    let mut gone = raw(&server);
    gone.write_all(b"half").unwrap();
    drop(gone);
    // 50 at once.
    let conns = many_at_once(&server, 50, "n");
    // Still serving the first client, intact.
    round_trip(&mut junk, b"again", b"AGAIN");
    drop(conns);
    client("select-client", &server.addr())
        .args(["--count", "1"])
        .assert()
        .success()
        .stdout("b'HELLO WORLD'\n");
}

#[test]
fn select_client_reports_a_server_that_hangs_up() {
    let (addr, hang_up) = one_shot_server(|mut conn| {
        // Read the whole request first: closing with unread data would reset the connection.
        let mut request = [0u8; 11];
        conn.read_exact(&mut request).unwrap();
        conn.write_all(b"HELLO").unwrap(); // half a reply, then gone
    })
    .unwrap();
    client("select-client", &addr)
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!(
            "select-client: no reply from {addr}: the server closed the connection\n"
        ));
    hang_up.join().unwrap();
    assert_refused("select-client", "select-server");
}

#[test]
fn select_programs_survive_a_closed_stdout() {
    assert_server_serves_on_a_closed_stdout("select-server", two_clients);
    let server = Server::start("select-server", &["--quiet"]).unwrap();
    assert_client_ends_quietly_on_a_closed_stdout(
        "select-client",
        &["--addr", &server.addr(), "--count", "3"],
        b"",
    );
}

// ---------------------------------------------------------------- peers that never read

/// Sends `a` bytes on `stream`, never reading, until `limit` bytes went out, a write
/// made no progress for `stall` (every buffer between us and the server is full: it has
/// stopped reading from us), or a write failed (it dropped us). Returns the bytes sent.
fn flood(stream: &mut TcpStream, limit: usize, stall: Duration) -> usize {
    stream.set_write_timeout(Some(stall)).unwrap();
    let chunk = [b'a'; 64 * 1024];
    let mut sent = 0;
    while sent < limit {
        match stream.write(&chunk[..chunk.len().min(limit - sent)]) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    sent
}

/// While one client has flooded `server` (see `flood`) without reading a reply, another
/// client's `hello world` is answered within 5 s (at once, in fact).
fn answered_despite_a_flood(server: &Server, limit: usize, stall: Duration) -> TcpStream {
    let mut flooder = raw(server);
    assert!(flood(&mut flooder, limit, stall) > 0);
    let mut other = raw(server);
    other
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    other.write_all(b"hello world").unwrap();
    let mut reply = [0u8; 11];
    if let Err(e) = other.read_exact(&mut reply) {
        panic!("no answer while another client floods without reading: {e}");
    }
    assert_eq!(&reply, b"HELLO WORLD");
    flooder
}

#[test]
fn select_server_answers_others_while_a_client_floods_without_reading() {
    let server = Server::start("select-server", &[]).unwrap();
    // Up to 7 MB; select-server stops reading from the flooder, so the flood ends when a
    // write makes no progress for 200 ms.
    let mut flooder = answered_despite_a_flood(&server, 7 << 20, Duration::from_millis(200));
    // The flooder was not dropped: it holds at most one unsent reply, and gets the rest
    // of its replies, intact, once it reads.
    let mut replies = vec![0u8; 64 * 1024];
    flooder.read_exact(&mut replies).unwrap();
    assert!(replies.iter().all(|&b| b == b'A'));
    assert!(!server.stderr().contains("closing"), "{}", server.stderr());
}

#[test]
fn nonblocking_server_drops_a_client_that_floods_without_reading() {
    let server = Server::start("nonblocking-server", &[]).unwrap();
    // The flooder stays connected (not reading) until the server gives up on it, and its
    // flood goes on until then: the server drops it once its replies fill the buffers
    // (a few MB here). The flood must not stop early because a loaded machine left the
    // server unscheduled for a while (with a 200 ms stall, under Wine at load 14 on 2
    // cores it stopped before the buffers were full, and the server never had to drop
    // it): it waits up to 5 s for progress, and may send up to 64 MB.
    let _flooder = answered_despite_a_flood(&server, 64 << 20, Duration::from_secs(5));
    server
        .wait_for_stderr(": does not read its replies (its send buffer is full); closing")
        .unwrap();
}

#[test]
fn select_server_quiet_prints_nothing_and_serves_the_same() {
    let server = Server::start("select-server", &["--quiet"]).unwrap();
    client("select-client", &server.addr())
        .args(["--count", "3", "--pause-ms", "1"])
        .assert()
        .success()
        .stdout("b'HELLO WORLD'\n".repeat(3));
    server.wait_for_stderr(": client left").unwrap();
    let mut again = raw(&server);
    round_trip(&mut again, b"quiet", b"QUIET");
    // Read to the end of the pipe: the printout of the first client's session, if there
    // were one, went out before the "client left" line.
    assert_eq!(server.stop_and_take_stdout().unwrap(), "");
}

/// Out of file descriptors, on Linux: each accept loop backs off instead of spinning.
#[cfg(target_os = "linux")]
mod out_of_descriptors {
    // 0, 1, 2 and the listener take 4 descriptors: with 6 the poll servers accept two
    // clients, the one-at-a-time servers with 4 none; the other connections wait in
    // the listen queue, where accept fails with EMFILE ("Too many open files") and
    // leaves them. Each accept loop must wait between tries instead of spinning.
    use socket_lessons::accept_loop_backs_off;

    #[test]
    fn select_server() {
        accept_loop_backs_off("select-server", &[], 6).unwrap();
    }

    #[test]
    fn nonblocking_server() {
        accept_loop_backs_off("nonblocking-server", &[], 6).unwrap();
    }

    #[test]
    fn framed_server() {
        accept_loop_backs_off("framed-server", &["--clients", "0"], 4).unwrap();
    }

    #[test]
    fn sticky_server() {
        accept_loop_backs_off("sticky-server", &["--clients", "0", "--delay-ms", "0"], 4).unwrap();
    }
}

// ---------------------------------------------------------------- the lesson page

/// What a terminal shows when `lines` are typed at the `>>: ` prompts of a program that
/// printed `stdout`: the terminal echoes each typed line and its Enter after the prompt
/// (the program never prints them), and Ctrl-D at the last prompt echoes nothing.
fn as_typed(stdout: &str, lines: &[&str]) -> String {
    let mut screen = String::new();
    let mut typed = lines.iter();
    for (i, piece) in stdout.split(">>: ").enumerate() {
        if i > 0 {
            screen.push_str(">>: ");
            if let Some(line) = typed.next() {
                screen.push_str(line);
                screen.push('\n');
            }
        }
        screen.push_str(piece);
    }
    screen
}

#[test]
fn as_typed_puts_the_echo_after_each_prompt() {
    assert_eq!(
        as_typed(">>: HELLO\n>>: >>: ABC\n>>: \n", &["hello", "", "abc"]),
        ">>: hello\nHELLO\n>>: \n>>: abc\nABC\n>>: \n"
    );
}

#[test]
fn lesson_page_shows_what_the_programs_print() {
    let block = |label: &str| normalize(&lesson_block(PAGE, label).unwrap());

    // Sticky packets, both outcomes.
    let (_, first) = sticky_once(&[], &[]);
    assert_eq!(block("sticky-server"), first);
    let (server, _) = sticky_once(&["--delay-ms", "0"], &["--pause-ms", "300"]);
    assert_eq!(
        block("sticky-server --delay-ms 0"),
        server.wait_for_stdout_lines(2).unwrap()
    );

    // struct.pack
    let pack = program("pack-demo").output().unwrap();
    assert_eq!(block("pack-demo"), String::from_utf8(pack.stdout).unwrap());
    assert_eq!(
        block("pack-demo stderr"),
        String::from_utf8(pack.stderr).unwrap()
    );

    // Frames: the default one-client server, then --clients 0 with a dribbling client.
    let mut server = Server::start("framed-server", &[]).unwrap();
    client("framed-client", &server.addr()).assert().success();
    assert_eq!(
        block("framed-server"),
        server.wait_for_stdout_lines(2).unwrap()
    );
    assert!(wait_until(DEADLINE, || !server.is_running()));
    let server = Server::start("framed-server", &["--clients", "0"]).unwrap();
    client("framed-client", &server.addr())
        .args(["--chunk-size", "1", "--pause-ms", "1"])
        .assert()
        .success();
    assert_eq!(
        block("framed-server --clients 0"),
        server.wait_for_stdout_lines(2).unwrap()
    );

    // Non-blocking accept
    assert_eq!(block("nonblocking-accept"), nonblocking_accept_alone(&[]));

    // The polling server and its client, fed from a pipe and as a terminal shows it.
    let server = Server::start("nonblocking-server", &[]).unwrap();
    let typed = ["hello", "", "abc"];
    let out = client("nonblocking-client", &server.addr())
        .write_stdin(typed.map(|line| format!("{line}\n")).concat())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(block("nonblocking-client"), stdout);
    assert_eq!(block("nonblocking-client typed"), as_typed(&stdout, &typed));
    assert_eq!(
        block("nonblocking-server"),
        normalize(&server.wait_for_stdout_lines(3).unwrap())
    );

    // poll(2)
    let server = Server::start("select-server", &[]).unwrap();
    let out = client("select-client", &server.addr())
        .args(["--count", "2"])
        .output()
        .unwrap();
    assert_eq!(
        block("select-client"),
        String::from_utf8(out.stdout).unwrap()
    );
    server.wait_for_stderr(": client left").unwrap();
    assert_eq!(
        block("select-server"),
        normalize(&server.wait_for_stdout_lines(7).unwrap())
    );
}
