//! Lesson 05, short connections: short-server and short-client, black box.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use socket_lessons::{
    Server, binary, closed_port_addr, connect, lesson_block, normalize_number, one_shot_server,
    read_some, run_on_a_taken_port, run_with_stdout_closed, stays_silent, workspace_root,
};
#[cfg(target_os = "linux")]
use socket_lessons::{accept_loop_backs_off, under_a_thread_limit, wait_until};

const PAGE: &str = "05-short-and-long-connections.md";

/// Long enough for a loaded machine; a test only waits this long when it is failing.
#[cfg(target_os = "linux")]
const PATIENCE: Duration = Duration::from_secs(20);

fn client(addr: &str) -> Command {
    let mut cmd = Command::new(binary("short-client").unwrap());
    cmd.args(["--addr", addr]).timeout(Duration::from_secs(20));
    cmd
}

/// What the client prints for one request against a server on `port`.
fn one_result(port: u16, result: &str) -> String {
    format!("Connection to ('127.0.0.1', {port})\n{result}\n")
}

/// Reads until `len` bytes arrived or the peer closed, with a deadline.
fn read_up_to(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 64];
    while data.len() < len {
        match read_some(stream, &mut buf) {
            Ok(0) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read failed: {e}"),
        }
    }
    data
}

/// Whether the server closed `stream` (end of stream or reset) without sending anything.
fn closed_without_reply(stream: &mut TcpStream) -> bool {
    read_up_to(stream, 1).is_empty()
}

#[test]
fn default_client_asks_for_the_square_and_the_cube_of_2() {
    let server = Server::start("short-server", &[]).unwrap();
    let port = server.port();
    let out = client(&server.addr()).output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        one_result(port, "4.0") + &one_result(port, "8.0")
    );
    assert_eq!(out.stderr, b"");

    // The server's side: one line when it starts, two per connection.
    let stdout = server.wait_for_stdout_lines(5).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], format!("Serving on ('127.0.0.1', {port})"));
    for pair in lines[1..].chunks(2) {
        assert!(
            pair[0].starts_with("Connection from ('127.0.0.1', "),
            "{stdout}"
        );
        assert_eq!(pair[1], "The client closed the connection", "{stdout}");
    }
}

#[test]
fn every_letter_prints_the_float_as_python_does() {
    // (letter, number as sent, what Python 3.11 prints for the result)
    let cases = [
        ("a", "2", "4.0"),
        ("b", "2", "8.0"),
        ("c", "2", "16.0"),
        ("d", "2", "2.0"),
        ("a", "0.5", "0.25"),
        ("c", "1.5", "5.0625"),
        ("a", "0.1", "0.010000000000000002"),
        ("d", "0.1", "0.1"),
        ("a", "1e8", "1e+16"),
        ("d", "1e16", "1e+16"),
        ("d", "1e15", "1000000000000000.0"),
        ("d", "9999999999999998", "9999999999999998.0"),
        ("b", "1e-2", "1.0000000000000002e-06"),
        ("d", "0.0001", "0.0001"),
        ("d", "0.00001", "1e-05"),
        ("d", "1.5e-5", "1.5e-05"),
        ("d", "1E+2", "100.0"),
        ("b", "1e200", "inf"),
        ("c", "-1e200", "inf"),
        ("b", "-1e200", "-inf"),
        ("d", "1e400", "inf"),
        ("a", "1e-200", "0.0"),
        ("d", "nan", "nan"),
        ("d", "-Infinity", "-inf"),
        ("a", "inf", "inf"),
        ("d", " 1_000 ", "1000.0"),
        ("d", "\u{a0}2\u{3000}", "2.0"),
        ("d", "٣", "3.0"),
        ("a", "-0", "0.0"),
        ("b", "-0", "-0.0"),
        ("d", "5.", "5.0"),
        ("d", ".5", "0.5"),
        ("d", "1.e5", "100000.0"),
        ("d", "925696874881655.25", "925696874881655.2"),
        ("b", "-3", "-27.0"),
        ("d", "1.7976931348623157e308", "1.7976931348623157e+308"),
        ("d", "5e-324", "5e-324"),
    ];
    let server = Server::start("short-server", &[]).unwrap();
    for (letter, number, printed) in cases {
        let out = client(&server.addr())
            .args([letter, number])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            one_result(server.port(), printed),
            "{letter}{number:?}"
        );
        assert!(out.status.success());
    }
}

#[test]
fn wire_bytes_are_the_originals_and_a_request_may_arrive_in_pieces() {
    let server = Server::start("short-server", &[]).unwrap();
    // Like the Python client: send the request and wait, without closing anything.
    let mut stream = connect(&server.addr()).unwrap();
    stream.write_all(b"a2").unwrap();
    assert_eq!(read_up_to(&mut stream, 4), b"d4.0");

    // `a1e` is not a number yet: the server must wait for the `8`.
    let mut split = connect(&server.addr()).unwrap();
    split.write_all(b"a1e").unwrap();
    assert!(stays_silent(&mut split, Duration::from_millis(100)));
    split.write_all(b"8").unwrap();
    assert_eq!(read_up_to(&mut split, 6), b"d1e+16");

    // A character cut between two reads: ٣ is the two bytes d9 a3.
    let mut cut = connect(&server.addr()).unwrap();
    cut.write_all(b"d\xd9").unwrap();
    // Half a character is not bad UTF-8 yet: the server must wait for the rest. (This
    // also gives the server the time to read the first piece on its own.)
    assert!(stays_silent(&mut cut, Duration::from_millis(100)));
    cut.write_all(b"\xa3").unwrap();
    assert_eq!(read_up_to(&mut cut, 4), b"d3.0");

    // The original's callback answers every request on a connection: so does ours.
    stream.write_all(b"b3").unwrap();
    assert_eq!(read_up_to(&mut stream, 5), b"d27.0");
    assert!(server.stderr().lines().count() == 1, "{}", server.stderr());
}

#[test]
fn bad_requests_are_logged_and_dropped_and_the_server_keeps_serving() {
    let server = Server::start("short-server", &["--timeout-ms", "300"]).unwrap();
    let addr = server.addr();
    let good = one_result(server.port(), "4.0") + &one_result(server.port(), "8.0");
    let check_good = || {
        let out = client(&addr).output().unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), good);
    };

    // Requests the server can judge at once: it closes without a reply.
    let at_once: [(&[u8], &str); 4] = [
        (
            b"x2",
            "b'x2' starts with 'x', not a request letter (a, b, c or d); closing the connection",
        ),
        (
            b"ahello",
            "b'ahello': \"hello\" is not a number; closing the connection",
        ),
        (
            b"a\xff\xfe",
            "b'a\\xff\\xfe' is not UTF-8 text; closing the connection",
        ),
        (
            b"a1e200",
            "b'a1e200': 1e+200**2 is too large (Python raises OverflowError); closing the connection",
        ),
    ];
    for (request, logged) in at_once {
        let mut bad = connect(&addr).unwrap();
        let port = bad.local_addr().unwrap().port();
        bad.write_all(request).unwrap();
        assert!(closed_without_reply(&mut bad), "{request:?} got a reply");
        server
            .wait_for_stderr(&format!("short-server: 127.0.0.1:{port}: {logged}\n"))
            .unwrap();
        check_good();
    }

    // Requests that end when the client closes its side: the client did close.
    let at_end: [(&[u8], &str); 3] = [
        (b"a", "b'a' has no number after 'a'"),
        (b"a1e", "b'a1e': \"1e\" is not a number"),
        (b"", "closed the connection without sending a request"),
    ];
    for (request, logged) in at_end {
        let mut bad = connect(&addr).unwrap();
        let port = bad.local_addr().unwrap().port();
        bad.write_all(request).unwrap();
        bad.shutdown(Shutdown::Write).unwrap();
        assert!(closed_without_reply(&mut bad), "{request:?} got a reply");
        server
            .wait_for_stderr(&format!("short-server: 127.0.0.1:{port}: {logged}\n"))
            .unwrap();
        check_good();
    }

    // 2000 spaces after the letter: could still become a number, but not within the limit.
    let mut long = connect(&addr).unwrap();
    let mut request = vec![b'a'];
    request.extend([b' '; 2000]);
    long.write_all(&request).unwrap();
    assert!(closed_without_reply(&mut long));
    server
        .wait_for_stderr("sent 1024 bytes that are not a request; closing the connection")
        .unwrap();
    check_good();

    // A client that connects and stays silent is dropped after --timeout-ms.
    let mut silent = connect(&addr).unwrap();
    check_good(); // served meanwhile
    assert!(closed_without_reply(&mut silent));
    server
        .wait_for_stderr("sent no request within 300ms; closing the connection")
        .unwrap();
    check_good();
}

#[test]
fn a_slow_dribble_is_dropped_at_the_deadline_of_its_request() {
    let server = Server::start("short-server", &["--timeout-ms", "250"]).unwrap();
    let mut slow = connect(&server.addr()).unwrap();
    let port = slow.local_addr().unwrap().port();
    let started = Instant::now();
    slow.write_all(b"a").unwrap();
    // Then a space every 50 ms: every read gets a byte long before 250 ms, but the
    // request never becomes whole. The limit is for the request, not for one read.
    let closed_after = loop {
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_secs(3),
            "still served after {elapsed:?}"
        );
        if slow.write_all(b" ").is_err() || !stays_silent(&mut slow, Duration::from_millis(50)) {
            break elapsed;
        }
    };
    assert!(
        closed_after >= Duration::from_millis(200) && closed_after < Duration::from_millis(1500),
        "closed after {closed_after:?}"
    );
    let stderr = server
        .wait_for_stderr("within 250ms; closing the connection\n")
        .unwrap();
    assert!(
        stderr.contains(&format!("short-server: 127.0.0.1:{port}: sent only b'a ")),
        "{stderr}"
    );
}

#[test]
fn telnet_lines_are_requests_and_each_has_its_own_deadline() {
    let server = Server::start("short-server", &["--timeout-ms", "300"]).unwrap();
    // What telnet sends for `a2` and Enter, and then for more lines.
    let mut telnet = connect(&server.addr()).unwrap();
    let port = telnet.local_addr().unwrap().port();
    telnet.write_all(b"a2\r\n").unwrap();
    assert_eq!(read_up_to(&mut telnet, 4), b"d4.0");
    // A request answered before its line end arrives: the line end is skipped.
    telnet.write_all(b"a3").unwrap();
    assert_eq!(read_up_to(&mut telnet, 4), b"d9.0");
    telnet.write_all(b"\r\n").unwrap();
    // Each request has the whole limit, counted from the previous reply: requests
    // 180 ms apart take longer than 300 ms together, and are all answered (120 ms to
    // spare each, so that a loaded machine does not decide the outcome).
    assert!(stays_silent(&mut telnet, Duration::from_millis(180)));
    telnet.write_all(b"b2\r\n").unwrap();
    assert_eq!(read_up_to(&mut telnet, 4), b"d8.0");
    assert!(stays_silent(&mut telnet, Duration::from_millis(180)));
    telnet.write_all(b"d2\r\n").unwrap();
    assert_eq!(read_up_to(&mut telnet, 4), b"d2.0");
    // Then nothing more: dropped, and the log says what was answered.
    assert!(closed_without_reply(&mut telnet));
    server
        .wait_for_stderr(&format!(
            "short-server: 127.0.0.1:{port}: answered 4 requests, then no new one came \
             within 300ms; closing the connection\n"
        ))
        .unwrap();
}

#[test]
fn a_letter_and_enter_is_judged_at_once() {
    let server = Server::start("short-server", &[]).unwrap();
    // `a` and Enter: a line end closes the request, and it has no number. Judged at
    // once (Python drops it at once too), not after the time limit.
    let mut bare = connect(&server.addr()).unwrap();
    let port = bare.local_addr().unwrap().port();
    bare.write_all(b"a\r\n").unwrap();
    assert!(closed_without_reply(&mut bare));
    server
        .wait_for_stderr(&format!(
            "short-server: 127.0.0.1:{port}: b'a\\r\\n' has no number after 'a'; \
             closing the connection\n"
        ))
        .unwrap();
}

#[test]
fn ten_clients_at_once() {
    let server = Server::start("short-server", &[]).unwrap();
    // Ten connections open together: a server that served one at a time would never
    // answer the last one first.
    let mut streams: Vec<TcpStream> = (0..10).map(|_| connect(&server.addr()).unwrap()).collect();
    for (i, stream) in streams.iter_mut().enumerate().rev() {
        stream.write_all(format!("a{i}").as_bytes()).unwrap();
        let reply = format!("d{}.0", i * i);
        assert_eq!(read_up_to(stream, reply.len()), reply.as_bytes());
    }
    // And ten real clients in parallel.
    let addr = server.addr();
    let port = server.port();
    let runs: Vec<_> = (1..=10)
        .map(|i| {
            let addr = addr.clone();
            thread::spawn(move || {
                let out = client(&addr).args(["b", &i.to_string()]).output().unwrap();
                (i, String::from_utf8(out.stdout).unwrap())
            })
        })
        .collect();
    for run in runs {
        let (i, stdout) = run.join().unwrap();
        assert_eq!(stdout, one_result(port, &format!("{}.0", i * i * i)));
    }
}

#[test]
fn client_failures_are_one_line_and_exit_1() {
    // Nobody listens.
    let addr = closed_port_addr().unwrap();
    client(&addr).assert().code(1).stdout("").stderr(format!(
        "short-client: cannot connect to {addr}: Connection refused (is short-server running?)\n"
    ));

    // A server that hangs up without replying (the Python client would wait for ever).
    let (addr, hang_up) = one_shot_server(drop).unwrap();
    let port = addr.rsplit_once(':').unwrap().1;
    client(&addr)
        .assert()
        .code(1)
        .stdout(format!("Connection to ('127.0.0.1', {port})\n"))
        .stderr("short-client: the server closed the connection without a reply\n");
    hang_up.join().unwrap();

    // The same, from a server that reads the request first (an orderly close, no reset).
    let (addr, reader) = one_shot_server(|mut stream| {
        stream.read_to_end(&mut Vec::new()).unwrap();
    })
    .unwrap();
    client(&addr)
        .assert()
        .code(1)
        .stderr("short-client: the server closed the connection without a reply\n");
    reader.join().unwrap();

    // A server that never answers: it reads the request, then waits for our signal.
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let (addr, holder) = one_shot_server(move |mut stream| {
        let _ = stream.read_to_end(&mut Vec::new());
        let _ = wait.recv();
    })
    .unwrap();
    client(&addr)
        .args(["--timeout-ms", "150"])
        .assert()
        .code(1)
        .stderr(format!("short-client: no reply from {addr} within 150ms\n"));
    done.send(()).unwrap();
    holder.join().unwrap();

    // A server that answers something else than d and a number.
    let (addr, liar) = one_shot_server(|mut stream| {
        stream.read_to_end(&mut Vec::new()).unwrap();
        stream.write_all(b"q4.0").unwrap();
    })
    .unwrap();
    client(&addr)
        .assert()
        .code(1)
        .stderr("short-client: the server's reply b'q4.0' is not d and a number\n");
    liar.join().unwrap();

    // One positional argument is a usage error.
    client("127.0.0.1:1").arg("a").assert().code(2);
}

#[cfg(target_os = "linux")]
#[test]
fn server_backs_off_when_out_of_descriptors() {
    // 0, 1, 2 and the listener: four left for clients.
    accept_loop_backs_off("short-server", &[], 8).unwrap();
}

#[cfg(target_os = "linux")]
#[test]
fn a_refused_thread_drops_only_that_connection() {
    // The main thread and two connection threads.
    let Some(server) = under_a_thread_limit("short-server", &[], 61306, 3).unwrap() else {
        return;
    };
    // Connections are accepted in the order they came: two get a thread, the third not.
    let mut first = connect(server.addr()).unwrap();
    let mut second = connect(server.addr()).unwrap();
    let mut third = connect(server.addr()).unwrap();
    let port = third.local_addr().unwrap().port();
    assert!(closed_without_reply(&mut third));
    server
        .wait_for_stderr(&format!(
            "short-server: 127.0.0.1:{port}: no thread for this connection \
             (Resource temporarily unavailable); closed\n"
        ))
        .unwrap();
    // The server lives on, and serves the two it has.
    first.write_all(b"a2").unwrap();
    assert_eq!(read_up_to(&mut first, 4), b"d4.0");
    second.write_all(b"b2").unwrap();
    assert_eq!(read_up_to(&mut second, 4), b"d8.0");
    // Once a client leaves, its thread ends, and a new client gets one.
    drop(first);
    let served = wait_until(PATIENCE, || {
        let mut next = connect(server.addr()).unwrap();
        next.write_all(b"c2").unwrap();
        read_up_to(&mut next, 5) == b"d16.0"
    });
    assert!(served);
}

#[test]
fn client_with_its_stdout_closed_ends_quietly_with_141() {
    // `short-client | head -0`: its first line cannot be printed.
    let server = Server::start("short-server", &[]).unwrap();
    let out = run_with_stdout_closed("short-client", &["--addr", &server.addr()], b"").unwrap();
    assert_eq!(out.status.code(), Some(141), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    // It had connected: the server saw it come and go without a request.
    server
        .wait_for_stderr("closed the connection without sending a request\n")
        .unwrap();
}

#[test]
fn server_with_its_stdout_closed_says_so_once_and_serves_on() {
    // `short-server | head -0`: `Serving on` cannot be printed.
    let server = Server::start_with_stdout_closed("short-server", &[]).unwrap();
    let addr = server.addr();
    server.wait_for_stderr("stdout is closed").unwrap();
    // Every client is still served, on threads that print (or would) too.
    for _ in 0..2 {
        let out = client(&addr).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            one_result(server.port(), "4.0") + &one_result(server.port(), "8.0")
        );
    }
    // A bad request logs a line of its own: every line before it has arrived by then,
    // so the whole of stderr can be compared.
    let mut bad = connect(&addr).unwrap();
    bad.write_all(b"x2").unwrap();
    assert!(closed_without_reply(&mut bad));
    let stderr = server.wait_for_stderr("not a request letter").unwrap();
    assert_eq!(
        normalize_number(&stderr, "short-server: 127.0.0.1:", "PORT"),
        format!(
            "short-server: listening on {addr}\n\
             short-server: stdout is closed (Broken pipe); printing stops, serving goes on\n\
             short-server: 127.0.0.1:PORT: b'x2' starts with 'x', not a request letter (a, b, c or d); \
             closing the connection\n"
        )
    );
}

#[test]
fn server_reports_a_port_in_use() {
    let (addr, out) = run_on_a_taken_port("short-server").unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!("short-server: cannot listen on {addr}: Address already in use\n")
    );
}

#[test]
fn server_and_client_share_the_python_number_code() {
    // The server's replies and the client's parsing use one implementation of Python's
    // float() and repr(), the shared "py-compat" crate, so they cannot drift apart.
    for program in ["short-server", "short-client"] {
        let manifest = std::fs::read_to_string(workspace_root().join(format!(
            "crates/05-short-and-long-connections/{program}/Cargo.toml"
        )))
        .unwrap();
        assert!(
            manifest.contains("py-compat = { path = \"../../00-shared/py-compat\" }"),
            "{program} does not use \"py-compat\""
        );
    }
}

#[test]
fn lesson_page_shows_what_the_programs_print() {
    let server = Server::start("short-server", &[]).unwrap();
    let port = server.port().to_string();
    let out = client(&server.addr()).output().unwrap();
    let shown = |text: &str| text.replace("5000", &port);
    assert_eq!(
        shown(&lesson_block(PAGE, "short-client").unwrap()),
        String::from_utf8(out.stdout).unwrap()
    );

    // The server's lines, with the clients' ports (which change every run) as PORT.
    let expected = lesson_block(PAGE, "short-server").unwrap();
    let stdout = server
        .wait_for_stdout_lines(expected.lines().count())
        .unwrap();
    let client_ports = |text: &str| {
        socket_lessons::normalize_number(text, "Connection from ('127.0.0.1', ", "PORT")
    };
    assert_eq!(client_ports(&shown(&expected)), client_ports(&stdout));

    // The telnet session of the page: two requests, then nothing (10 s shortened to 200 ms).
    let server = Server::start("short-server", &["--timeout-ms", "200"]).unwrap();
    let mut telnet = connect(&server.addr()).unwrap();
    for (line, reply) in [(&b"a2\r\n"[..], &b"d4.0"[..]), (b"c2\r\n", b"d16.0")] {
        telnet.write_all(line).unwrap();
        assert_eq!(read_up_to(&mut telnet, reply.len()), reply);
    }
    assert!(closed_without_reply(&mut telnet));
    let stderr = server.wait_for_stderr("answered 2 requests").unwrap();
    let logged = stderr.lines().nth(1).unwrap().replace("200ms", "10s");
    let peer_port = |text: &str| socket_lessons::normalize_number(text, "127.0.0.1:", "PORT");
    assert_eq!(
        peer_port(&lesson_block(PAGE, "short-server stderr after telnet").unwrap()),
        peer_port(&format!("{logged}\n"))
    );
}
