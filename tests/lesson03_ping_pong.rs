//! Lesson 03: accept-printer, ping-pong-server and ping-client, black box.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use socket_lessons::{
    Server, binary, closed_port_addr, connect, lesson_block, normalize_number, one_shot_server,
    read_some, run_on_a_taken_port, run_with_stdout_closed, stays_silent,
};
#[cfg(target_os = "linux")]
use socket_lessons::{accept_loop_backs_off, under_a_thread_limit};

const PAGE: &str = "03-ping-pong.md";

/// Long enough for a loaded machine; a test only waits this long when it is failing.
const PATIENCE: Duration = Duration::from_secs(20);

fn client(addr: &str) -> Command {
    let mut cmd = Command::new(binary("ping-client").unwrap());
    cmd.args(["--addr", addr]).timeout(PATIENCE);
    cmd
}

fn server() -> Server {
    Server::start("ping-pong-server", &[]).unwrap()
}

/// Replaces every port number with a placeholder.
fn normalize(text: &str) -> String {
    let text = normalize_number(text, "127.0.0.1:", "PORT");
    normalize_number(&text, "'127.0.0.1', ", "PORT")
}

/// A UDP socket of the test's own, with a read timeout.
fn udp_socket() -> UdpSocket {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    sock
}

/// Sends `datagram` to the server's UDP port and returns the reply and who sent it.
fn udp_ping(server: &Server, datagram: &[u8]) -> (Vec<u8>, SocketAddr) {
    let sock = udp_socket();
    sock.send_to(datagram, server.addr()).unwrap();
    let mut buf = [0u8; 2048];
    let (n, from) = sock.recv_from(&mut buf).unwrap();
    (buf[..n].to_vec(), from)
}

/// A TCP connection with a read timeout, and a reader of its lines.
fn tcp_client(server: &Server) -> (TcpStream, BufReader<TcpStream>) {
    let stream = connect(&server.addr()).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let reader = BufReader::new(stream.try_clone().unwrap());
    (stream, reader)
}

fn read_line(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    line
}

/// Runs ping-client with `args` against a fresh server: it prints `pong`, and the
/// server logs the default line as received over `protocol`.
fn round_trip_through_ping_client(args: &[&str], protocol: &str) {
    let server = server();
    client(&server.addr())
        .args(args)
        .assert()
        .success()
        .stdout("pong\n")
        .stderr("");
    let stdout = server.wait_for_stdout_lines(1).unwrap();
    assert_eq!(
        normalize(&stdout),
        format!("{protocol} ('127.0.0.1', PORT) b'hello pdudo\\n'\n")
    );
}

#[test]
fn tcp_round_trip_through_ping_client() {
    round_trip_through_ping_client(&[], "tcp");
}

#[test]
fn udp_round_trip_through_ping_client() {
    round_trip_through_ping_client(&["--udp"], "udp");
}

#[test]
fn ping_client_sends_its_words_as_one_line() {
    let server = server();
    client(&server.addr())
        .args(["hi", "there"])
        .assert()
        .success()
        .stdout("pong\n");
    client(&server.addr())
        .args(["ping", "--udp", "-2"])
        .assert()
        .success()
        .stdout("pong\n");
    let stdout = server.wait_for_stdout_lines(2).unwrap();
    assert_eq!(
        normalize(&stdout),
        "tcp ('127.0.0.1', PORT) b'hi there\\n'\nudp ('127.0.0.1', PORT) b'ping -2\\n'\n"
    );
}

#[test]
fn tcp_round_trip_through_raw_sockets_line_by_line() {
    let server = server();
    let (mut stream, mut reader) = tcp_client(&server);
    let me = stream.local_addr().unwrap().port();
    // What telnet sends: the line with \r\n, here split in two writes, with a second line
    // in the same write: the server must frame by newline, not by read.
    stream.write_all(b"hel").unwrap();
    stream.flush().unwrap();
    stream.write_all(b"lo pdudo\r\nsecond\n").unwrap();
    assert_eq!(read_line(&mut reader), "pong\n");
    assert_eq!(read_line(&mut reader), "pong\n");
    // A last line without a newline still counts when the client closes after it.
    stream.write_all(b"last").unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_line(&mut reader), "pong\n");
    assert_eq!(
        read_line(&mut reader),
        "",
        "the server closes after our close"
    );

    let stdout = server.wait_for_stdout_lines(3).unwrap();
    assert_eq!(
        stdout,
        format!(
            "tcp ('127.0.0.1', {me}) b'hello pdudo\\r\\n'\n\
             tcp ('127.0.0.1', {me}) b'second\\n'\n\
             tcp ('127.0.0.1', {me}) b'last'\n"
        )
    );
}

#[test]
fn udp_round_trip_through_raw_sockets_on_the_tcp_port_number() {
    let server = server();
    let sock = udp_socket();
    let me = sock.local_addr().unwrap().port();
    sock.send_to(b"hello pdudo\n", server.addr()).unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = sock.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"pong\n");
    // The announced port serves UDP too, and the answer comes from it.
    assert_eq!(from.to_string(), server.addr());
    assert_eq!(
        server.wait_for_stdout_lines(1).unwrap(),
        format!("udp ('127.0.0.1', {me}) b'hello pdudo\\n'\n")
    );
    let announced = server.wait_for_stderr("listening on").unwrap();
    assert_eq!(
        normalize(&announced),
        "ping-pong-server: listening on 127.0.0.1:PORT (TCP and UDP)\n"
    );
}

#[test]
fn several_tcp_clients_are_served_at_once() {
    let server = server();
    // Three connections open at the same time; the last one to connect speaks first.
    // A server that served one client at a time would not answer it while the first
    // one is still connected.
    let mut clients: Vec<_> = (0..3).map(|_| tcp_client(&server)).collect();
    for (i, (stream, reader)) in clients.iter_mut().enumerate().rev() {
        stream
            .write_all(format!("client {i}\n").as_bytes())
            .unwrap();
        assert_eq!(read_line(reader), "pong\n", "client {i}");
    }
    // And each one still has its own conversation afterwards.
    for (stream, reader) in &mut clients {
        stream.write_all(b"again\n").unwrap();
        assert_eq!(read_line(reader), "pong\n");
    }
    let stdout = server.wait_for_stdout_lines(6).unwrap();
    assert!(stdout.starts_with("tcp ('127.0.0.1', "), "{stdout}");
    assert!(stdout.contains("b'client 2\\n'\n"), "{stdout}");
    assert_eq!(stdout.matches("b'again\\n'").count(), 3, "{stdout}");
}

#[test]
fn fifty_tcp_clients_at_once_and_udp_meanwhile() {
    let server = server();
    let addr = server.addr();
    let workers: Vec<_> = (0..50)
        .map(|i| {
            let addr = addr.clone();
            thread::spawn(move || {
                let mut stream = connect(&addr).unwrap();
                stream.set_read_timeout(Some(PATIENCE)).unwrap();
                stream
                    .write_all(format!("client {i}\n").as_bytes())
                    .unwrap();
                let mut reply = [0u8; 5];
                stream.read_exact(&mut reply).unwrap();
                assert_eq!(&reply, b"pong\n");
                stream
            })
        })
        .collect();
    // UDP keeps answering while TCP is busy: its own thread.
    assert_eq!(udp_ping(&server, b"meanwhile\n").0, b"pong\n");
    let streams: Vec<TcpStream> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    assert_eq!(streams.len(), 50);
    let stdout = server.wait_for_stdout_lines(51).unwrap();
    for i in 0..50 {
        assert!(
            stdout.contains(&format!(") b'client {i}\\n'\n")),
            "client {i} missing:\n{stdout}"
        );
    }
    assert!(stdout.contains("udp ('127.0.0.1', "), "{stdout}");
}

#[test]
fn udp_garbage_is_answered_and_nothing_is_lost() {
    let server = server();
    // The biggest datagram IPv4 can carry: 65507 bytes.
    let (reply, _) = udp_ping(&server, &[b'x'; 65_507]);
    assert_eq!(reply, b"pong\n");
    // An empty datagram is a datagram too.
    let (reply, _) = udp_ping(&server, b"");
    assert_eq!(reply, b"pong\n");
    // Not UTF-8.
    let (reply, _) = udp_ping(&server, &[0xff, 0xfe, 0x00, b'\'']);
    assert_eq!(reply, b"pong\n");
    // Still serving both protocols.
    client(&server.addr())
        .arg("--udp")
        .assert()
        .success()
        .stdout("pong\n");
    client(&server.addr()).assert().success().stdout("pong\n");

    let stdout = normalize(&server.wait_for_stdout_lines(5).unwrap());
    let lines: Vec<&str> = stdout.lines().collect();
    let big = format!(
        "udp ('127.0.0.1', PORT) b'{}' (65507 bytes, the first 1024 shown)",
        "x".repeat(1024)
    );
    assert_eq!(lines[0], big);
    assert_eq!(lines[1], "udp ('127.0.0.1', PORT) b''");
    assert_eq!(lines[2], r#"udp ('127.0.0.1', PORT) b"\xff\xfe\x00'""#);
    assert_eq!(lines[3], r"udp ('127.0.0.1', PORT) b'hello pdudo\n'");
    assert_eq!(lines[4], r"tcp ('127.0.0.1', PORT) b'hello pdudo\n'");
    assert_eq!(server.stderr().lines().count(), 1, "{}", server.stderr());
}

#[test]
fn tcp_garbage_drops_only_the_offender_and_nothing_is_lost() {
    let server = server();
    // A client that is connected before the garbage and talks after it.
    let (mut early, mut early_reader) = tcp_client(&server);
    early.write_all(b"before\n").unwrap();
    assert_eq!(read_line(&mut early_reader), "pong\n");

    // Connects and vanishes without a word.
    drop(connect(&server.addr()).unwrap());

    // Not UTF-8: answered like any other line.
    let (mut junk, mut junk_reader) = tcp_client(&server);
    junk.write_all(&[0xc3, 0x28, 0xff, b'\n']).unwrap();
    assert_eq!(read_line(&mut junk_reader), "pong\n");

    // 64 KiB without a newline: that client is dropped, with one line on stderr.
    let (mut flood, _) = tcp_client(&server);
    flood.write_all(&[b'y'; 64 * 1024]).unwrap();
    server
        .wait_for_stderr("sent 65536 bytes without a newline; closing this connection")
        .unwrap();
    let mut rest = Vec::new();
    match flood.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty(), "{rest:?}"),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
    }

    // Everyone else is still served, the early client on its same connection.
    early.write_all(b"after\n").unwrap();
    assert_eq!(read_line(&mut early_reader), "pong\n");
    client(&server.addr()).assert().success().stdout("pong\n");
    client(&server.addr())
        .arg("--udp")
        .assert()
        .success()
        .stdout("pong\n");

    let stdout = normalize(&server.wait_for_stdout_lines(5).unwrap());
    assert_eq!(
        stdout,
        "tcp ('127.0.0.1', PORT) b'before\\n'\n\
         tcp ('127.0.0.1', PORT) b'\\xc3(\\xff\\n'\n\
         tcp ('127.0.0.1', PORT) b'after\\n'\n\
         tcp ('127.0.0.1', PORT) b'hello pdudo\\n'\n\
         udp ('127.0.0.1', PORT) b'hello pdudo\\n'\n"
    );
    assert_eq!(
        normalize(&server.stderr()),
        "ping-pong-server: listening on 127.0.0.1:PORT (TCP and UDP)\n\
         ping-pong-server: tcp 127.0.0.1:PORT: sent 65536 bytes without a newline; \
         closing this connection\n"
    );
}

#[test]
fn udp_reply_that_never_comes_times_out() {
    // A UDP socket that receives but never answers.
    let silent = udp_socket();
    let addr = silent.local_addr().unwrap().to_string();
    client(&addr)
        .args(["--udp", "--timeout-ms", "100"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!(
            "ping-client: no UDP reply from {addr} within 100ms (is ping-pong-server running? \
             an unconnected UDP socket is not told that nobody listens: try --connect)\n"
        ));
    let mut buf = [0u8; 64];
    let (n, _) = silent.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello pdudo\n", "the datagram did go out");

    // The same with a connected socket: still no reply, and no "port unreachable" either.
    client(&addr)
        .args(["--udp", "--connect", "--timeout-ms", "100"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!(
            "ping-client: no UDP reply from {addr} within 100ms (lost on the way, or not answered)\n"
        ));
    let (n, _) = silent.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello pdudo\n");
}

/// A loopback UDP port where nobody listens: port 1 (tcpmux, which no system runs), as
/// for TCP. Not a port the system just handed out and took back: a UDP socket of a test
/// running at the same time may be given that very port, and then it is not closed
/// (seen once with tests 16 at a time). Only if something is bound to port 1 here, a
/// freed port.
fn closed_udp_addr() -> String {
    match UdpSocket::bind("127.0.0.1:1") {
        // Binding needs privileges below 1024: a refusal says nothing about who is there.
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
            sock.local_addr().unwrap().to_string()
        }
        _ => "127.0.0.1:1".to_string(),
    }
}

#[test]
fn a_connected_udp_socket_is_told_that_nobody_listens() {
    let addr = closed_udp_addr();
    // Under Wine (our Windows check) no ICMP message reaches a socket at all, so there
    // the first check would wait for its whole timeout; Windows itself reports it as
    // WSAECONNRESET, which ping-client words the same way (see the lesson page).
    if cfg!(not(windows)) {
        // The system answers the datagram with ICMP "port unreachable", and passes it on
        // to a connected socket as `Connection refused`: no need to wait for the timeout.
        let started = std::time::Instant::now();
        client(&addr)
            .args(["--udp", "--connect", "--timeout-ms", "20000"])
            .assert()
            .code(1)
            .stdout("")
            .stderr(format!(
                "ping-client: no UDP reply from {addr}: Connection refused (the port is \
                 unreachable: nobody listens there; is ping-pong-server running?)\n"
            ));
        assert!(started.elapsed() < Duration::from_secs(10));
    }
    // An unconnected socket is not told (on Linux and macOS): it waits for its timeout.
    let out = client(&addr)
        .args(["--udp", "--timeout-ms", "100"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(" within 100ms "));
    // Against the server, a connected socket gets its pong like any other.
    let server = server();
    client(&server.addr())
        .args(["--udp", "--connect"])
        .assert()
        .success()
        .stdout("pong\n");
    // --connect is for UDP only.
    client(&server.addr()).arg("--connect").assert().code(2);
}

#[test]
fn ping_client_prints_the_reply_exactly_as_it_arrives() {
    // A TCP server that answers without a newline and closes.
    let (addr, server) = one_shot_server(|mut stream| {
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).unwrap();
        stream.write_all(b"pong").unwrap();
    })
    .unwrap();
    client(&addr).assert().success().stdout("pong").stderr("");
    server.join().unwrap();

    // A UDP datagram without a newline.
    let silent = udp_socket();
    let addr = silent.local_addr().unwrap().to_string();
    let answer = thread::spawn(move || {
        let mut buf = [0u8; 64];
        let (_, from) = silent.recv_from(&mut buf).unwrap();
        silent.send_to(b"pong", from).unwrap();
    });
    client(&addr).arg("--udp").assert().success().stdout("pong");
    answer.join().unwrap();

    // Bytes that are not UTF-8 come out as they are, as nc writes them.
    let (addr, server) = one_shot_server(|mut stream| {
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).unwrap();
        stream.write_all(b"\xffpong\xfe\n").unwrap();
    })
    .unwrap();
    client(&addr)
        .assert()
        .success()
        .stdout(&b"\xffpong\xfe\n"[..]);
    server.join().unwrap();
}

#[test]
fn udp_reply_from_someone_else_is_ignored() {
    let silent = udp_socket();
    let addr = silent.local_addr().unwrap().to_string();
    let intruder = udp_socket();
    let mut cmd = std::process::Command::new(binary("ping-client").unwrap());
    let child = cmd
        .args(["--addr", &addr, "--udp", "--timeout-ms", "20000"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 64];
    let (_, client_addr) = silent.recv_from(&mut buf).unwrap();
    intruder.send_to(b"fake\n", client_addr).unwrap();
    silent.send_to(b"pong\n", client_addr).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"pong\n");
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "ping-client: ignored 5 bytes from {}, not from {addr}\n",
            intruder.local_addr().unwrap()
        )
    );
}

#[test]
fn tcp_client_without_a_server_or_a_reply_says_so_and_exits_1() {
    let addr = closed_port_addr().unwrap();
    client(&addr).assert().code(1).stdout("").stderr(format!(
        "ping-client: cannot connect to {addr}: Connection refused \
         (is ping-pong-server running?)\n"
    ));

    // A server that accepts, reads the line and hangs up without a reply.
    let (addr, rude) = one_shot_server(|stream| {
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).unwrap();
        line
    })
    .unwrap();
    client(&addr).assert().code(1).stdout("").stderr(format!(
        "ping-client: {addr} closed the connection without a reply\n"
    ));
    assert_eq!(rude.join().unwrap(), "hello pdudo\n");

    // A server that accepts and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    client(&addr)
        .args(["--timeout-ms", "200"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!("ping-client: no reply from {addr} within 200ms\n"));
    drop(listener);
}

#[test]
fn accept_printer_prints_a_line_per_client() {
    let server = Server::start("accept-printer", &[]).unwrap();
    let port = server.port();
    let mut peers = Vec::new();
    let mut previous: Option<TcpStream> = None;
    for n in 1..=3 {
        let mut stream = connect(&server.addr()).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        peers.push(stream.local_addr().unwrap().port());
        server.wait_for_stdout_lines(n).unwrap();
        // Like the original, the server keeps the last client's connection open, silent,
        assert!(stays_silent(&mut stream, Duration::from_millis(30)));
        // and closes the one before when the next client arrives: a plain close (FIN).
        if let Some(mut earlier) = previous.take() {
            assert_eq!(read_some(&mut earlier, &mut [0u8; 16]).unwrap(), 0);
        }
        previous = Some(stream);
    }
    // A client that sent bytes nobody read is closed with a reset (RST), in the
    // original too, when the next client arrives.
    let mut talker = previous.take().unwrap();
    talker.write_all(b"hello pdudo\n").unwrap();
    let _next = connect(&server.addr()).unwrap();
    server.wait_for_stdout_lines(4).unwrap();
    let read = read_some(&mut talker, &mut [0u8; 16]);
    // Whether unread bytes turn a close into a reset is the system's choice: Linux and
    // macOS reset; under Wine (our Windows check) the close stays a plain one.
    if cfg!(windows) {
        assert!(
            matches!(&read, Ok(0))
                || read
                    .as_ref()
                    .is_err_and(|e| e.kind() == ErrorKind::ConnectionReset),
            "{read:?}"
        );
    } else {
        assert_eq!(read.unwrap_err().kind(), ErrorKind::ConnectionReset);
    }

    let stdout = server.stdout();
    let lines: Vec<&str> = stdout.lines().take(3).collect();
    for (line, peer) in lines.iter().zip(&peers) {
        let expected = format!(
            "<socket.socket family=2, type=1, proto=0, laddr=('127.0.0.1', {port}), \
             raddr=('127.0.0.1', {peer})> ('127.0.0.1', {peer})"
        );
        assert_eq!(*line, expected);
    }
    assert_eq!(
        normalize(&server.stderr()),
        "accept-printer: listening on 127.0.0.1:PORT\n"
    );
}

#[test]
fn server_reports_a_port_in_use_on_either_protocol() {
    // TCP port taken.
    let (addr, out) = run_on_a_taken_port("ping-pong-server").unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, b"");
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!("ping-pong-server: cannot listen on {addr} (TCP): Address already in use\n")
    );
    // Only the UDP port of that number taken.
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    if TcpListener::bind(&addr).is_ok() {
        // (the TCP port of that number is free: the listener above closed again)
        Command::new(binary("ping-pong-server").unwrap())
            .args(["--addr", &addr])
            .timeout(PATIENCE)
            .assert()
            .code(1)
            .stdout("")
            .stderr(format!(
                "ping-pong-server: cannot bind {addr} (UDP): Address already in use\n"
            ));
    }
    Command::new(binary("accept-printer").unwrap())
        .args(["--addr", "9999"])
        .timeout(PATIENCE)
        .assert()
        .code(2)
        .stderr(
            "accept-printer: --addr needs HOST:PORT with a port from 0 to 65535, got '9999'\n\
             usage: accept-printer [--addr HOST:PORT]\n\
             (run with --help for more)\n",
        );
}

#[test]
fn lesson_page_shows_what_the_programs_print() {
    let server = server();
    for (label, extra) in [
        ("ping-client", &[][..]),
        ("ping-client --udp", &["--udp"][..]),
    ] {
        let out = client(&server.addr()).args(extra).output().unwrap();
        assert_eq!(
            lesson_block(PAGE, label).unwrap(),
            String::from_utf8(out.stdout).unwrap(),
            "block {label}"
        );
    }
    let expected = lesson_block(PAGE, "ping-pong-server").unwrap();
    let stdout = server.wait_for_stdout_lines(2).unwrap();
    assert_eq!(normalize(&expected), normalize(&stdout));
    assert_eq!(
        normalize(
            &lesson_block(PAGE, "ping-pong-server stderr")
                .unwrap()
                .replace("0.0.0.0:", "127.0.0.1:")
        ),
        normalize(&server.stderr())
    );

    let printer = Server::start("accept-printer", &[]).unwrap();
    let _stream = connect(&printer.addr()).unwrap();
    // The page shows the default port 9999; ours runs on a free one.
    let expected = lesson_block(PAGE, "accept-printer").unwrap();
    let printed = printer.wait_for_stdout_lines(1).unwrap();
    assert_eq!(normalize(&expected), normalize(&printed));

    // The timeout message, with the default 3 s shortened to 200 ms for the test.
    let silent = udp_socket();
    let addr = silent.local_addr().unwrap().to_string();
    let out = client(&addr)
        .args(["--udp", "--timeout-ms", "200"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr)
        .unwrap()
        .replace("200ms", "3s");
    assert_eq!(
        normalize(&lesson_block(PAGE, "ping-client --udp without a server").unwrap()),
        normalize(&stderr)
    );
    // Not under Wine, which passes no ICMP "port unreachable" on (see above).
    if cfg!(not(windows)) {
        let out = client(&closed_udp_addr())
            .args(["--udp", "--connect"])
            .output()
            .unwrap();
        assert_eq!(
            normalize(&lesson_block(PAGE, "ping-client --udp --connect without a server").unwrap()),
            normalize(&String::from_utf8(out.stderr).unwrap())
        );
    }
}

#[test]
fn a_client_that_never_reads_its_pongs_is_dropped_once_its_time_is_up() {
    // Wine, which runs our Windows check, does not apply the write time limit
    // (SO_SNDTIMEO) to a blocking send (see lesson 02's tests and README).
    if cfg!(windows) {
        return;
    }
    // Millions of lines go by before the buffers fill: with stdout closed the server
    // prints none of them, so that the flood takes seconds, not minutes.
    let server =
        Server::start_with_stdout_closed("ping-pong-server", &["--timeout-ms", "1000"]).unwrap();
    let mut flooder = connect(&server.addr()).unwrap();
    flooder
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    // Lines, and never a read: the pongs fill our receive window and the server's send
    // buffer, its write of a pong blocks, it stops reading, and then our writes stop
    // going through too. The last one that did is a moment after the server's write
    // blocked. The flood goes on (on its own thread) until the server closes on us.
    let last_progress = Arc::new(Mutex::new(Instant::now()));
    let progress = Arc::clone(&last_progress);
    let flood = thread::spawn(move || {
        let chunk = b"x\n".repeat(32 * 1024);
        let started = Instant::now();
        while started.elapsed() < 3 * PATIENCE {
            match flooder.write(&chunk) {
                Ok(_) => *progress.lock().unwrap() = Instant::now(),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return, // the server closed the connection
            }
        }
    });
    // Meanwhile another client is served: every client has its own thread.
    client(&server.addr()).assert().success().stdout("pong\n");
    server
        .wait_for_stderr("did not take its pong within 1s; closing this connection\n")
        .unwrap();
    // One time limit for the whole pong, from the moment its write blocked. (Not a fresh
    // limit for each piece of it the kernel takes: with a client whose receive buffer is
    // 4 KiB, which std cannot ask for, a per-write 10 s limit let it go only after 20.5 s.)
    // The 1 s limit plus a margin for a loaded machine.
    let stalled = last_progress.lock().unwrap().elapsed();
    assert!(
        stalled < Duration::from_secs(5),
        "dropped {stalled:?} after the stall"
    );
    flood.join().unwrap();
}

// ---------------------------------------------------------------- a closed stdout

/// The one line a server logs when its stdout turns out closed (`server | head -1` ended).
fn stdout_closed_line(program: &str) -> String {
    format!("{program}: stdout is closed (Broken pipe); printing stops, serving goes on\n")
}

#[test]
fn ping_client_with_its_stdout_closed_ends_quietly_with_141() {
    let server = server();
    let addr = server.addr();
    for extra in [&[][..], &["--udp"][..]] {
        let mut args = vec!["--addr", addr.as_str()];
        args.extend(extra);
        let out = run_with_stdout_closed("ping-client", &args, b"").unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // What a shell reports for a Unix tool that a closed pipe stopped; no panic.
        assert_eq!(out.status.code(), Some(141), "{extra:?}: {stderr}");
        assert_eq!(stderr, "", "{extra:?}");
    }
    // Both pings reached the server: only the printing of the reply failed.
    assert_eq!(
        normalize(&server.wait_for_stdout_lines(2).unwrap()),
        "tcp ('127.0.0.1', PORT) b'hello pdudo\\n'\nudp ('127.0.0.1', PORT) b'hello pdudo\\n'\n"
    );
}

/// ping-pong-server with its stdout closed: the first message's print fails (over UDP
/// first, or over TCP first), the server logs one line and goes on answering both.
fn ping_pong_server_serves_on_with_stdout_closed(udp_first: bool) {
    let server =
        Server::start_with_stdout_closed("ping-pong-server", &["--timeout-ms", "1000"]).unwrap();
    let (mut stream, mut reader) = tcp_client(&server);
    for udp in [udp_first, !udp_first, udp_first, !udp_first] {
        if udp {
            assert_eq!(udp_ping(&server, b"hello pdudo\n").0, b"pong\n");
        } else {
            stream.write_all(b"hello pdudo\n").unwrap();
            assert_eq!(read_line(&mut reader), "pong\n");
        }
    }
    client(&server.addr()).assert().success().stdout("pong\n");
    client(&server.addr())
        .arg("--udp")
        .assert()
        .success()
        .stdout("pong\n");
    // A line the server logs after all that: once it is there, every line logged before
    // it is there too, so the stdout line is the only one.
    let (mut flood, _) = tcp_client(&server);
    flood.write_all(&[b'y'; 64 * 1024]).unwrap();
    let stderr = server.wait_for_stderr("without a newline").unwrap();
    assert_eq!(
        normalize(&stderr),
        format!(
            "ping-pong-server: listening on 127.0.0.1:PORT (TCP and UDP)\n{}\
             ping-pong-server: tcp 127.0.0.1:PORT: sent 65536 bytes without a newline; \
             closing this connection\n",
            stdout_closed_line("ping-pong-server")
        )
    );
}

#[test]
fn ping_pong_server_with_its_stdout_closed_logs_one_line_and_answers_on() {
    ping_pong_server_serves_on_with_stdout_closed(true);
    ping_pong_server_serves_on_with_stdout_closed(false);
}

#[test]
fn accept_printer_with_its_stdout_closed_logs_one_line_and_accepts_on() {
    let server = Server::start_with_stdout_closed("accept-printer", &[]).unwrap();
    let mut previous = connect(&server.addr()).unwrap();
    previous.set_read_timeout(Some(PATIENCE)).unwrap();
    server.wait_for_stderr("stdout is closed").unwrap();
    for _ in 0..2 {
        // Still accepting: the next client makes it close the one before, as always.
        let next = connect(&server.addr()).unwrap();
        next.set_read_timeout(Some(PATIENCE)).unwrap();
        assert_eq!(read_some(&mut previous, &mut [0u8; 16]).unwrap(), 0);
        previous = next;
    }
    assert_eq!(
        normalize(&server.stderr()),
        format!(
            "accept-printer: listening on 127.0.0.1:PORT\n{}",
            stdout_closed_line("accept-printer")
        )
    );
}

/// The page walks through ping-pong-server's two functions: the code it shows must be
/// the code that runs, to the letter.
#[test]
fn lesson_page_shows_ping_pong_server_as_it_is() {
    let root = socket_lessons::workspace_root();
    let page = std::fs::read_to_string(root.join("lessons").join(PAGE)).unwrap();
    let source =
        std::fs::read_to_string(root.join("crates/03-ping-pong/ping-pong-server/src/main.rs"))
            .unwrap();
    for (label, call) in [
        ("ping-pong-server", "s.recv_from(&mut buf)"),
        ("ping-pong-server tcp", "answer.write_all(PONG)"),
    ] {
        let shown = page
            .split(&format!("<!-- source: {label} -->\n```rust\n"))
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .unwrap_or_else(|| panic!("the page shows no block marked <!-- source: {label} -->"));
        assert!(shown.contains(call), "{label}: {shown}");
        assert!(
            source.contains(shown),
            "the page's block {label} differs from ping-pong-server's main.rs:\n{shown}"
        );
    }
}

#[cfg(target_os = "linux")]
#[test]
fn accept_printer_backs_off_when_out_of_descriptors() {
    // 0, 1, 2 and the listener: no descriptor left for a client.
    accept_loop_backs_off("accept-printer", &[], 4).unwrap();
}

#[cfg(target_os = "linux")]
#[test]
fn a_refused_thread_drops_only_that_client() {
    // The main thread, the TCP and UDP threads, and one client thread.
    let Some(server) = under_a_thread_limit("ping-pong-server", &[], 61307, 4).unwrap() else {
        return;
    };
    // The server announces its port before it starts its TCP and UDP threads: a pong
    // on UDP first, so that both threads run before the clients come. (Otherwise the
    // TCP thread may start both client threads before the UDP thread exists, and the
    // UDP thread is the one refused: seen on a loaded machine.)
    let sock = udp_socket();
    sock.send_to(b"udp\n", server.addr()).unwrap();
    let mut buf = [0u8; 16];
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"pong\n");
    let first = connect(server.addr()).unwrap();
    first.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut first_reader = BufReader::new(first.try_clone().unwrap());
    let mut second = connect(server.addr()).unwrap();
    let port = second.local_addr().unwrap().port();
    let mut rest = Vec::new();
    match second.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty(), "{rest:?}"),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
    }
    server
        .wait_for_stderr(&format!(
            "ping-pong-server: tcp 127.0.0.1:{port}: no thread for this client \
             (Resource temporarily unavailable); closed\n"
        ))
        .unwrap();
    // The first client is still served, and UDP too.
    (&first).write_all(b"still here\n").unwrap();
    assert_eq!(read_line(&mut first_reader), "pong\n");
    sock.send_to(b"udp\n", server.addr()).unwrap();
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"pong\n");
}

#[cfg(target_os = "linux")]
#[test]
fn ping_pong_server_backs_off_when_out_of_descriptors() {
    // 0, 1, 2, the listener and the UDP socket: three left for clients.
    accept_loop_backs_off("ping-pong-server", &[], 8).unwrap();
}
