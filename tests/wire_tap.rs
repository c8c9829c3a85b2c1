//! wire-tap, black box: the tap between each lesson's programs, compared with the
//! "Watch the wire" blocks of the lesson pages; a half-close that passes through; a
//! reset that is reported; sticky packets made and unmade (--chunk, --merge-ms); the
//! limits every server of ours has; usage errors; and the Python originals through the
//! tap, when SOCKET_LESSONS_ORIGINALS names a folder with them (see `originals`).
//!
//! The tap prints each event before it passes it on, so whatever an event causes is
//! printed after it: the transcripts below are exact, in the stable mode (--no-times).
//! The one pair of events that no cause orders (lesson 05's half-close and answer) is
//! said where it is checked.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::thread;
use std::time::Duration;

use assert_cmd::Command;
use socket_lessons::{
    Server, binary, closed_port_addr, connect, lesson_block, normalize_number, one_shot_server,
    read_some, wait_until,
};

/// Long enough for a loaded machine; a test only waits this long when it is failing.
const PATIENCE: Duration = Duration::from_secs(20);

/// The tap in front of `server`, listening on a free port, in the stable mode.
fn tap(server: &str, args: &[&str]) -> Server {
    let mut all = vec!["--to", server, "--no-times"];
    all.extend_from_slice(args);
    Server::start("wire-tap", &all).unwrap()
}

/// A lesson program, run to its end with `args`.
fn run(package: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new(binary(package).unwrap())
        .args(args)
        .timeout(PATIENCE)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{package} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The tap's stdout once it has reported connection `conn` gone, ports as PORT.
fn transcript(tap: &Server, conn: u64) -> String {
    tap.wait_for_stdout(&format!("#{conn} gone\n")).unwrap();
    ports(&tap.stdout())
}

fn ports(text: &str) -> String {
    normalize_number(text, "127.0.0.1:", "PORT")
}

/// A line of the tap without its time: `#1  +102ms s->c ...` -> `#1 s->c ...`, which is
/// what --no-times prints.
fn without_times(text: &str) -> String {
    text.lines()
        .map(|line| {
            let stable = match line.split_once(' ') {
                Some((conn, rest)) if conn.starts_with('#') => {
                    let rest = rest.trim_start();
                    match rest.split_once(' ') {
                        Some((time, after)) if time.starts_with('+') && time.ends_with("ms") => {
                            format!("{conn} {after}")
                        }
                        _ => line.to_string(),
                    }
                }
                _ => line.to_string(),
            };
            stable + "\n"
        })
        .collect()
}

/// The time of a line with times: `#1  +102ms ...` -> 102.
fn millis(line: &str) -> u64 {
    line.split_whitespace()
        .nth(1)
        .and_then(|t| t.strip_prefix('+'))
        .and_then(|t| t.strip_suffix("ms"))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no time in {line:?}"))
}

/// The block `label` of lessons/`page`, as the stable mode prints it, ports as PORT.
fn page_block(page: &str, label: &str) -> String {
    ports(&without_times(&lesson_block(page, label).unwrap()))
}

#[test]
fn the_stable_lines_are_the_timed_lines_without_their_times() {
    assert_eq!(
        without_times("#1    +0ms open a -> b\n#12 +1002ms s->c 3 bytes b'+1ms'\nx\n"),
        "#1 open a -> b\n#12 s->c 3 bytes b'+1ms'\nx\n"
    );
    assert_eq!(millis("#1 +1002ms s->c"), 1002);
}

// --- The lesson pages' "Watch the wire" blocks ------------------------------------------

/// `Sun May 27 21:43:58 2018` inside `b'...'` (24 characters) becomes CTIME.
fn mask_ctime(text: &str) -> String {
    text.lines()
        .map(|line| match line.split_once("24 bytes b'") {
            Some((head, time)) if time.len() == 25 && time.ends_with('\'') => {
                let time = &time[..24];
                assert_eq!(time.split_whitespace().count(), 5, "not a ctime: {time}");
                assert_eq!(time.matches(':').count(), 2, "not a ctime: {time}");
                format!("{head}24 bytes b'CTIME'\n")
            }
            _ => format!("{line}\n"),
        })
        .collect()
}

#[test]
fn lesson01_the_server_closes_first() {
    let server = Server::start("timestamp-server", &[]).unwrap();
    let tap = tap(&server.addr(), &[]);
    run("timestamp-client", &["--addr", &tap.addr()]);
    let got = mask_ctime(&transcript(&tap, 1));
    assert_eq!(got, mask_ctime(&page_block("01-timestamp.md", "wire-tap")));
    // Who closes first: the server's FIN comes before the client's.
    assert!(got.find("s->c FIN") < got.find("c->s FIN"), "{got}");
}

#[test]
fn lesson02_the_answers_come_after_a_pause() {
    // The page runs the server with its 1 s pause; 200 ms here. The tap runs with times.
    let server = Server::start("welcome-server", &["--delay-ms", "200"]).unwrap();
    let tap = Server::start("wire-tap", &["--to", &server.addr()]).unwrap();
    run("welcome-client", &["--addr", &tap.addr()]);
    tap.wait_for_stdout(" gone\n").unwrap();
    let timed = tap.stdout();
    assert_eq!(
        ports(&without_times(&timed)),
        page_block("02-tcp-server.md", "wire-tap")
    );
    // Each answer comes at least the server's silence gap (100 ms: how it knows that a
    // message has ended) plus its pause after the message it answers.
    let lines: Vec<&str> = timed.lines().collect();
    for n in 1..=5 {
        let sent = lines
            .iter()
            .position(|l| l.ends_with(&format!("c->s 8 bytes b'message{n}'")))
            .unwrap();
        let answer = lines[sent + 1];
        assert!(answer.ends_with(&format!("s->c 18 bytes b'Received message{n};'")));
        let waited = millis(answer) - millis(lines[sent]);
        assert!(waited >= 300, "answer {n} after {waited} ms:\n{timed}");
    }
}

#[test]
fn lesson03_tcp_and_udp() {
    let server = Server::start("ping-pong-server", &[]).unwrap();
    let tcp = tap(&server.addr(), &[]);
    let pong = run("ping-client", &["--addr", &tcp.addr()]);
    assert_eq!(pong.stdout, b"pong\n");
    assert_eq!(
        transcript(&tcp, 1),
        page_block("03-ping-pong.md", "wire-tap")
    );
    // To the server, the tap is the client: it prints the tap's port, not the client's.
    let stdout = tcp.stdout();
    let client_port = stdout
        .split("open 127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap();
    let printed = server.wait_for_stdout("tcp (").unwrap();
    assert!(printed.starts_with("tcp ('127.0.0.1', "), "{printed}");
    assert!(!printed.contains(&format!(", {client_port})")), "{printed}");

    let udp = tap(&server.addr(), &["--udp"]);
    for how in [&["--udp"][..], &["--udp", "--connect"]] {
        let pong = run("ping-client", &[&["--addr", &udp.addr()][..], how].concat());
        assert_eq!(pong.stdout, b"pong\n");
    }
    udp.wait_for_stdout("#2 s->c").unwrap();
    assert_eq!(
        ports(&udp.stdout()),
        page_block("03-ping-pong.md", "wire-tap --udp")
    );
}

#[test]
fn lesson04_one_write_split_the_header_and_all_framed_server_still_reads_whole_messages() {
    let server = Server::start("framed-server", &[]).unwrap();
    let tap = tap(&server.addr(), &["--chunk", "1", "--hex"]);
    // The page's client pauses 300 ms after each write, so that each write is one read
    // of the tap (a margin that holds on a loaded machine; the writes themselves never
    // depend on it: the tap makes them).
    run(
        "framed-client",
        &["--addr", &tap.addr(), "--pause-ms", "300"],
    );
    assert_eq!(
        transcript(&tap, 1),
        page_block("04-framing-and-io-models.md", "wire-tap --chunk 1 --hex")
    );
    assert_eq!(server.stop_and_take_stdout().unwrap(), "hello\n world\n");
}

#[test]
fn lesson04_two_writes_merged_and_sticky_server_reads_them_as_one() {
    let server = Server::start("sticky-server", &["--delay-ms", "0"]).unwrap();
    let tap = tap(&server.addr(), &["--merge-ms", "1000"]);
    // 300 ms between the client's writes, well within the tap's 1000 ms window.
    run(
        "sticky-client",
        &["--addr", &tap.addr(), "--pause-ms", "300"],
    );
    assert_eq!(
        transcript(&tap, 1),
        page_block("04-framing-and-io-models.md", "wire-tap --merge-ms 1000")
    );
    assert_eq!(server.stop_and_take_stdout().unwrap(), "hello world\n");
}

/// `transcript` with each line that contains `second` and is followed by one that
/// contains `first` swapped with it: for two events that nothing orders.
fn in_order(transcript: &str, first: &str, second: &str) -> String {
    let mut lines: Vec<&str> = transcript.lines().collect();
    for i in 1..lines.len() {
        if lines[i].contains(first) && lines[i - 1].contains(second) {
            lines.swap(i - 1, i);
        }
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// short-client's half-close before the server's answer, whichever the tap read first.
fn fin_before_answer(transcript: &str) -> String {
    in_order(transcript, " c->s FIN ", " s->c 4 bytes ")
}

#[test]
fn lesson05_a_connection_per_request_and_the_half_close() {
    let server = Server::start("short-server", &[]).unwrap();
    let tap = tap(&server.addr(), &[]);
    run("short-client", &["--addr", &tap.addr()]);
    let got = transcript(&tap, 2);
    let page = page_block("05-short-and-long-connections.md", "wire-tap short");
    // short-client half-closes right after its request, without waiting for the
    // answer: the two travel in opposite directions at the same time, so the tap may
    // read either first. Everything else is in the order the page shows.
    assert_eq!(fin_before_answer(&got), page);
    assert_eq!(fin_before_answer(&page), page);
}

#[test]
fn lesson05_one_connection_for_all() {
    let server = Server::start("long-server", &["--seed", "1"]).unwrap();
    let tap = tap(&server.addr(), &[]);
    run("long-client", &["--addr", &tap.addr()]);
    assert_eq!(
        transcript(&tap, 1),
        page_block("05-short-and-long-connections.md", "wire-tap long")
    );
}

// --- What passes, and how it ends --------------------------------------------------------

#[test]
fn a_half_close_passes_through_and_the_answer_still_comes_back() {
    // A server that answers only once the client has finished: it reads to the end of
    // the stream, then writes back what it got, in capitals, and closes.
    let (addr, server) = one_shot_server(|mut conn| {
        conn.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut got = Vec::new();
        conn.read_to_end(&mut got).unwrap();
        conn.write_all(&got.to_ascii_uppercase()).unwrap();
        got
    })
    .unwrap();
    let tap = tap(&addr, &[]);
    let mut client = connect(&tap.addr()).unwrap();
    client.write_all(b"hello").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut answer = Vec::new();
    client.read_to_end(&mut answer).unwrap();
    assert_eq!(answer, b"HELLO");
    assert_eq!(server.join().unwrap(), b"hello");
    assert_eq!(
        transcript(&tap, 1),
        "#1 open 127.0.0.1:PORT -> 127.0.0.1:PORT\n\
         #1 c->s 5 bytes b'hello'\n\
         #1 c->s FIN (the client sends no more)\n\
         #1 s->c 5 bytes b'HELLO'\n\
         #1 s->c FIN (the server sends no more)\n\
         #1 gone\n"
    );
}

/// Linux and other Unix only: a socket closed with bytes unread in it makes its system
/// send a reset, but under Wine (the Windows check) it closes plainly, as README says
/// of lesson 03's accept-printer, so the tap sees a FIN there.
#[cfg(unix)]
#[test]
fn a_reset_is_reported_and_passed_on_as_an_abrupt_close() {
    let (addr, server) = one_shot_server(|mut conn| {
        conn.write_all(b"hello").unwrap();
        conn.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut rest = Vec::new();
        let end = conn
            .read_to_end(&mut rest)
            .map(|_| rest)
            .map_err(|e| e.kind());
        // Whatever it sends after that, the tap's system answers with a reset.
        let mut refused = None;
        wait_until(PATIENCE, || {
            refused = conn.write_all(b"late").err().map(|e| e.kind());
            refused.is_some()
        });
        (end, refused)
    })
    .unwrap();
    let tap = tap(&addr, &[]);
    let client = connect(&tap.addr()).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    // Wait until the 5 bytes are here, and close without reading them: a reset.
    let mut first = [0u8; 5];
    while !matches!(client.peek(&mut first), Ok(5)) {}
    drop(client);
    // What the server gets: the end of the stream, at once (std cannot send a reset),
    // and a reset for what it sends after.
    let (end, refused) = server.join().unwrap();
    assert_eq!(end, Ok(Vec::new()));
    assert!(
        matches!(
            refused,
            Some(ErrorKind::ConnectionReset | ErrorKind::BrokenPipe)
        ),
        "{refused:?}"
    );
    assert_eq!(
        transcript(&tap, 1),
        "#1 open 127.0.0.1:PORT -> 127.0.0.1:PORT\n\
         #1 s->c 5 bytes b'hello'\n\
         #1 c->s reset (Connection reset by peer)\n\
         #1 s->c cut off by the tap\n\
         #1 gone\n"
    );
}

#[test]
fn chunk_1_makes_sticky_server_read_the_pieces() {
    let server = Server::start("sticky-server", &["--delay-ms", "0"]).unwrap();
    let tap = tap(&server.addr(), &["--chunk", "1", "--delay-ms", "50"]);
    run("sticky-client", &["--addr", &tap.addr()]);
    let transcript = transcript(&tap, 1);
    let stdout = server.stop_and_take_stdout().unwrap();
    // One line per read of the server: the bytes, 50 ms apart, in several reads (all
    // eleven in one read would take the server missing them for half a second).
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.concat(), "hello world", "{stdout}");
    assert!(lines.len() >= 2, "{stdout}");
    // The tap read the client's writes (one read or two, as they came) and wrote one
    // byte per write: eleven in all.
    let writes: usize = transcript
        .lines()
        .filter_map(|l| l.strip_prefix("#1 c->s passes on as "))
        .map(|l| l.trim_end_matches(" writes").parse::<usize>().unwrap())
        .sum();
    assert_eq!(writes, 11, "{transcript}");
}

#[test]
fn nobody_behind_the_tap_closes_the_client_and_says_why() {
    let tap = tap(&closed_port_addr().unwrap(), &[]);
    let mut client = connect(&tap.addr()).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    tap.wait_for_stdout("closed the client's connection\n")
        .unwrap();
    assert_eq!(
        ports(&tap.stdout()),
        "#1 from 127.0.0.1:PORT: cannot reach the server (Connection refused); \
         closed the client's connection\n"
    );
}

// --- Limits ------------------------------------------------------------------------------

/// A server for the limits' tests: it echoes on every connection, on a thread each,
/// except that it never reads the first `stuck` connections (but holds them open).
fn echo_server(stuck: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            if held.len() < stuck {
                held.push(conn);
                continue;
            }
            thread::spawn(move || {
                let mut buf = [0u8; 1024];
                while let Ok(n @ 1..) = read_some(&mut &conn, &mut buf) {
                    if (&conn).write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// Writes `byte` to `stream` and reads it back, within PATIENCE.
fn echoes(stream: &mut TcpStream, byte: u8) -> bool {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut back = [0u8; 1];
    stream.write_all(&[byte]).is_ok() && stream.read_exact(&mut back).is_ok() && back[0] == byte
}

#[test]
fn a_side_that_does_not_read_holds_up_only_its_own_connection() {
    let server = echo_server(1);
    let tap = tap(&server, &[]);
    // Connection 1: its server never reads, so once the buffers on the way are full
    // the client's writes wait; the tap's thread for it waits too (10 s by default).
    let stuck = connect(&tap.addr()).unwrap();
    let flooder = thread::spawn(move || (&stuck).write_all(&vec![b'x'; 64 << 20]));
    tap.wait_for_stdout("#1 c->s 65536 bytes").unwrap();
    // Connection 2 is served all the same.
    let mut other = connect(&tap.addr()).unwrap();
    assert!(echoes(&mut other, b'a'));
    assert!(!flooder.is_finished());
}

#[test]
fn a_side_that_takes_nothing_within_the_timeout_is_cut_off() {
    let (listener, addr) = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap().to_string();
        (l, a)
    };
    let tap = tap(&addr, &["--timeout-ms", "200"]);
    let client = connect(&tap.addr()).unwrap();
    let (server_side, _) = listener.accept().unwrap(); // and never read
    let flooder = thread::spawn(move || (&client).write_all(&vec![b'x'; 64 << 20]));
    tap.wait_for_stdout("#1 c->s not delivered to the server (it took nothing for 200 ms)\n")
        .unwrap();
    // The tap closed both sides: the server's side reads the end of the stream after
    // the bytes that did arrive, and the client's writes fail.
    server_side.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut arrived = Vec::new();
    (&server_side).read_to_end(&mut arrived).unwrap();
    assert!(arrived.iter().all(|&b| b == b'x'));
    drop(server_side);
    assert!(flooder.join().unwrap().is_err());
    let out = transcript(&tap, 1);
    assert!(
        out.ends_with(
            "#1 c->s not delivered to the server (it took nothing for 200 ms)\n\
             #1 s->c cut off by the tap\n\
             #1 gone\n"
        ),
        "{out}"
    );
}

#[test]
fn at_most_64_connections_at_once_and_the_next_is_closed_with_a_line() {
    let server = echo_server(0);
    let tap = tap(&server, &[]);
    let mut open: Vec<TcpStream> = (0..64).map(|_| connect(&tap.addr()).unwrap()).collect();
    tap.wait_for_stdout("#64 open ").unwrap();
    let mut extra = connect(&tap.addr()).unwrap();
    let port = extra.local_addr().unwrap().port();
    extra.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut rest = Vec::new();
    match extra.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty()),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
    }
    tap.wait_for_stderr(&format!(
        "wire-tap: #65 from 127.0.0.1:{port}: 64 connections are open, the most it relays; \
         closed this one\n"
    ))
    .unwrap();
    // The 64 are served; once one is gone, a new one is taken (its place is given back
    // a moment after `#1 gone` is printed: until then a newcomer is still turned away).
    assert!(echoes(&mut open[63], b'z'));
    drop(open.remove(0));
    tap.wait_for_stdout("#1 gone\n").unwrap();
    assert!(wait_until(PATIENCE, || {
        connect(&tap.addr()).is_ok_and(|mut next| echoes(&mut next, b'n'))
    }));
}

#[test]
fn a_closed_stdout_stops_the_printing_not_the_relaying() {
    let server = Server::start("timestamp-server", &[]).unwrap();
    let tap = Server::start_with_stdout_closed("wire-tap", &["--to", &server.addr()]).unwrap();
    for _ in 0..2 {
        let out = run("timestamp-client", &["--addr", &tap.addr()]);
        assert!(out.stdout.starts_with(b"current timestampe: "));
    }
    let stderr = tap.stderr();
    assert_eq!(
        stderr
            .lines()
            .filter(|l| *l
                == "wire-tap: stdout is closed (Broken pipe); printing stops, serving goes on")
            .count(),
        1,
        "{stderr}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn wire_tap_backs_off_when_out_of_descriptors() {
    // 0, 1, 2 and the listener: none left for a client.
    socket_lessons::accept_loop_backs_off("wire-tap", &["--to", "127.0.0.1:1"], 4).unwrap();
}

#[cfg(target_os = "linux")]
#[test]
fn a_refused_thread_closes_only_that_connection() {
    let server = Server::start("ping-pong-server", &[]).unwrap();
    // The main thread, and the two threads of the first connection.
    let Some(tap) =
        socket_lessons::under_a_thread_limit("wire-tap", &["--to", &server.addr()], 61310, 3)
            .unwrap()
    else {
        return;
    };
    let mut first = connect(tap.addr()).unwrap();
    first.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut pong = [0u8; 5];
    first.write_all(b"one\n").unwrap();
    first.read_exact(&mut pong).unwrap();
    let mut second = connect(tap.addr()).unwrap();
    let port = second.local_addr().unwrap().port();
    second.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut rest = Vec::new();
    match second.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty()),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
    }
    tap.wait_for_stderr(&format!(
        "wire-tap: #2 from 127.0.0.1:{port}: cannot start a thread \
         (Resource temporarily unavailable); closed the connection\n"
    ))
    .unwrap();
    // The first connection goes on.
    first.write_all(b"two\n").unwrap();
    first.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"pong\n");
}

#[test]
fn a_udp_datagram_is_never_cut_or_joined() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tap = tap(&server.local_addr().unwrap().to_string(), &["--udp"]);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.connect(tap.addr()).unwrap();
    client.send(b"one").unwrap();
    client.send(b"two").unwrap();
    server.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = [0u8; 16];
    let (n, via) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"one");
    let (n, _) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"two");
    // The answer goes back to the client from the tap's address.
    server.send_to(b"back", via).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    let n = client.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"back");
    tap.wait_for_stdout("#1 s->c").unwrap();
    assert_eq!(
        ports(&tap.stdout()),
        "#1 peer 127.0.0.1:PORT -> 127.0.0.1:PORT (UDP)\n\
         #1 c->s 3 bytes b'one'\n\
         #1 c->s 3 bytes b'two'\n\
         #1 s->c 4 bytes b'back'\n"
    );
}

#[test]
fn at_most_64_udp_clients_at_once_and_a_datagram_from_one_more_is_dropped_with_a_line() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tap = tap(&server.local_addr().unwrap().to_string(), &["--udp"]);
    let clients: Vec<UdpSocket> = (0..65)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    for client in &clients[..64] {
        client.send_to(b"x", tap.addr()).unwrap();
    }
    tap.wait_for_stdout("#64 c->s").unwrap();
    clients[64].send_to(b"one more", tap.addr()).unwrap();
    tap.wait_for_stderr(
        "wire-tap: 64 clients at once, the most it relays for: datagrams from new ones \
         are dropped until one is forgotten\n",
    )
    .unwrap();
    // The 64 datagrams reached the server; the one more did not.
    server.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = [0u8; 16];
    for _ in 0..64 {
        let (n, _) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"x");
    }
    assert!(!tap.stdout().contains("one more"));
}

// --- Usage -------------------------------------------------------------------------------

fn usage_error(args: &[&str], why: &str) {
    let out = Command::new(binary("wire-tap").unwrap())
        .args(args)
        .timeout(PATIENCE)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "wire-tap: {why}\nusage: wire-tap --listen HOST:PORT --to HOST:PORT "
        )),
        "{args:?}:\n{stderr}"
    );
}

#[test]
fn bad_arguments_are_usage_errors() {
    let to = ["--to", "127.0.0.1:1"];
    let listen = ["--listen", "127.0.0.1:0"];
    usage_error(&to, "give --listen HOST:PORT: where the client connects");
    usage_error(&listen, "give --to HOST:PORT: where the server is");
    usage_error(
        &[&listen[..], &to, &["--addr", "127.0.0.1:0"]].concat(),
        "--listen and --addr are one option: give one",
    );
    usage_error(
        &[&to[..], &["--listen", "8000"]].concat(),
        "--listen needs HOST:PORT with a port from 0 to 65535, got '8000'",
    );
    usage_error(
        &[&listen[..], &["--to", "127.0.0.1:99999"]].concat(),
        "--to needs HOST:PORT with a port from 0 to 65535, got '127.0.0.1:99999'",
    );
    usage_error(
        &[&listen[..], &to, &["--chunk", "0"]].concat(),
        "--chunk must be at least 1",
    );
    usage_error(
        &[&listen[..], &to, &["--chunk", "x"]].concat(),
        "bad value 'x' for --chunk: invalid digit found in string",
    );
    usage_error(
        &[&listen[..], &to, &["--udp", "--merge-ms", "5"]].concat(),
        "--chunk, --delay-ms and --merge-ms shape TCP streams, not --udp datagrams",
    );
    usage_error(
        &[&listen[..], &to, &["extra"]].concat(),
        "unexpected argument 'extra'",
    );
}

#[test]
fn a_taken_port_or_an_unknown_host_is_a_one_line_failure() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(binary("wire-tap").unwrap())
        .args(["--listen", &addr, "--to", "127.0.0.1:1"])
        .timeout(PATIENCE)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("wire-tap: cannot listen on {addr}: Address already in use\n")
    );
    let out = Command::new(binary("wire-tap").unwrap())
        .args(["--listen", "127.0.0.1:0", "--to", "nosuchhost.invalid:80"])
        .timeout(PATIENCE)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "wire-tap: cannot resolve host 'nosuchhost.invalid'\n"
    );
}

// --- The Python originals through the tap -----------------------------------------------

/// The environment variable that names a folder with the Python originals, under the
/// names `cargo compare --list` gives them (TimestampeServer.py, Client.py,
/// server.py, client.py, framed_client.py, short_client.py). The originals are not in
/// this repository; without it (or without python3) the test says so and checks nothing.
const ORIGINALS: &str = "SOCKET_LESSONS_ORIGINALS";

/// Run before each original (as `sitecustomize`, which Python imports at start-up):
/// a server's bind to its fixed port takes any free port instead, written to the
/// file that TAP_TEST_BOUND names once it listens; a client's connect to the port in
/// TAP_TEST_PORT goes to TAP_TEST_TO. Our test's code, not an original's.
const SHIM: &str = r#"
import os, socket
_bind, _listen, _connect = socket.socket.bind, socket.socket.listen, socket.socket.connect
def bind(self, address):
    if os.environ.get("TAP_TEST_BOUND") and address[1]:
        return _bind(self, ("127.0.0.1", 0))
    return _bind(self, address)
def listen(self, *args):
    result = _listen(self, *args)
    if os.environ.get("TAP_TEST_BOUND"):
        with open(os.environ["TAP_TEST_BOUND"], "w") as f:
            f.write("%d\n" % self.getsockname()[1])
    return result
def connect(self, address):
    if os.environ.get("TAP_TEST_PORT") == str(address[1]):
        host, port = os.environ["TAP_TEST_TO"].rsplit(":", 1)
        address = (host, int(port))
    return _connect(self, address)
socket.socket.bind, socket.socket.listen, socket.socket.connect = bind, listen, connect
"#;

/// The originals' folder and a folder with the shim, or None (said on stdout).
fn originals(name: &str) -> Option<(PathBuf, PathBuf)> {
    let Some(dir) = std::env::var_os(ORIGINALS).filter(|d| !d.is_empty()) else {
        println!("skipped: set {ORIGINALS} to a folder with the Python originals to run them");
        return None;
    };
    let python = StdCommand::new("python3").arg("--version").output();
    if !python.is_ok_and(|o| o.status.success()) {
        println!("skipped: python3 is missing");
        return None;
    }
    let shim = std::env::temp_dir().join(format!("wire-tap-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&shim).unwrap();
    std::fs::write(shim.join("sitecustomize.py"), SHIM).unwrap();
    Some((PathBuf::from(dir), shim))
}

fn python(originals: &Path, shim: &Path, file: &str) -> StdCommand {
    let mut cmd = StdCommand::new("python3");
    cmd.arg("-u")
        .arg(originals.join(file))
        .env("PYTHONPATH", shim)
        .stdin(Stdio::null());
    cmd
}

/// An original client, with its fixed `port` moved to `to`; its stdout.
fn python_client(dirs: &(PathBuf, PathBuf), file: &str, port: u16, to: &str) -> String {
    let out = Command::from_std(python(&dirs.0, &dirs.1, file))
        .env("TAP_TEST_PORT", port.to_string())
        .env("TAP_TEST_TO", to)
        .timeout(PATIENCE)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// An original server, on a free port instead of its fixed one: stopped when dropped.
struct PythonServer(Child, String);

impl PythonServer {
    fn start(dirs: &(PathBuf, PathBuf), file: &str) -> PythonServer {
        let bound = dirs.1.join(format!("{file}.port"));
        let _ = std::fs::remove_file(&bound);
        let child = python(&dirs.0, &dirs.1, file)
            .env("TAP_TEST_BOUND", &bound)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut port = String::new();
        assert!(wait_until(PATIENCE, || {
            port = std::fs::read_to_string(&bound).unwrap_or_default();
            port.ends_with('\n')
        }));
        PythonServer(child, format!("127.0.0.1:{}", port.trim()))
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lines of each connection (`#1 ...`, `#2 ...`), in the order of the numbers.
fn by_connection(transcript: &str) -> Vec<Vec<&str>> {
    let mut connections: Vec<(u64, Vec<&str>)> = Vec::new();
    for line in transcript.lines() {
        let conn: u64 = line
            .strip_prefix('#')
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not a line of the tap: {line:?}"));
        match connections.iter_mut().find(|(n, _)| *n == conn) {
            Some((_, lines)) => lines.push(line),
            None => connections.push((conn, vec![line])),
        }
    }
    connections.sort_by_key(|(n, _)| *n);
    connections.into_iter().map(|(_, lines)| lines).collect()
}

#[test]
fn the_python_originals_put_the_same_bytes_on_the_wire() {
    let Some(dirs) = originals("same-wire") else {
        return;
    };
    // Lesson 01, both ways: the same transcript as our pair's.
    let ours = mask_ctime(&page_block("01-timestamp.md", "wire-tap"));
    let server = Server::start("timestamp-server", &[]).unwrap();
    let tap1 = tap(&server.addr(), &[]);
    let out = python_client(&dirs, "Client.py", 8099, &tap1.addr());
    assert!(out.starts_with("current timestampe: "), "{out}");
    // Client.py reads once and closes without waiting for the server's FIN (ours reads
    // to the end of the stream): its FIN and the server's come in either order.
    let server_first = |t: &str| in_order(t, " s->c FIN ", " c->s FIN ");
    assert_eq!(server_first(&mask_ctime(&transcript(&tap1, 1))), ours);
    let original = PythonServer::start(&dirs, "TimestampeServer.py");
    let tap2 = tap(&original.1, &[]);
    run("timestamp-client", &["--addr", &tap2.addr()]);
    assert_eq!(mask_ctime(&transcript(&tap2, 1)), ours);

    // Lesson 02, both ways (server.py pauses 1 s per message, as ours does by default).
    let ours = page_block("02-tcp-server.md", "wire-tap");
    let server = Server::start("welcome-server", &["--delay-ms", "100"]).unwrap();
    let tap3 = tap(&server.addr(), &[]);
    python_client(&dirs, "client.py", 9999, &tap3.addr());
    assert_eq!(transcript(&tap3, 1), ours);
    let original = PythonServer::start(&dirs, "server.py");
    let tap4 = tap(&original.1, &[]);
    run("welcome-client", &["--addr", &tap4.addr()]);
    assert_eq!(transcript(&tap4, 1), ours);

    // Lesson 04: framed_client.py's header and body, split into single bytes by the
    // tap, still make whole messages for our framed-server.
    let server = Server::start("framed-server", &[]).unwrap();
    let tap5 = tap(&server.addr(), &["--chunk", "1"]);
    python_client(&dirs, "framed_client.py", 8001, &tap5.addr());
    transcript(&tap5, 1);
    assert_eq!(server.stop_and_take_stdout().unwrap(), "hello\n world\n");

    // Lesson 05: short_client.py closes after the answer, where ours half-closes
    // first (lesson 05's Differences): the rest of the wire is the same. It connects
    // again as soon as it has closed, without waiting for the server's FIN, so the end
    // of one connection and the start of the next come in either order: compared
    // connection by connection.
    let server = Server::start("short-server", &[]).unwrap();
    let tap6 = tap(&server.addr(), &[]);
    python_client(&dirs, "short_client.py", 5000, &tap6.addr());
    tap6.wait_for_stdout("#1 gone\n").unwrap();
    let page = page_block("05-short-and-long-connections.md", "wire-tap short");
    let python_order = page.replace(
        "c->s FIN (the client sends no more)\n#1 s->c 4 bytes b'd4.0'\n",
        "s->c 4 bytes b'd4.0'\n#1 c->s FIN (the client sends no more)\n",
    );
    let python_order = python_order.replace(
        "c->s FIN (the client sends no more)\n#2 s->c 4 bytes b'd8.0'\n",
        "s->c 4 bytes b'd8.0'\n#2 c->s FIN (the client sends no more)\n",
    );
    assert_ne!(python_order, page);
    assert_eq!(
        by_connection(&transcript(&tap6, 2)),
        by_connection(&python_order)
    );
    let _ = std::fs::remove_dir_all(&dirs.1);
}
