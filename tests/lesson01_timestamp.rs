//! Lesson 01: timestamp-server and timestamp-client, black box.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use socket_lessons::{
    Server, binary, closed_port_addr, connect, lesson_block, normalize_number, run_on_a_taken_port,
    run_with_stdout_closed, stays_silent,
};

const PAGE: &str = "01-timestamp.md";

fn client(addr: &str) -> Command {
    let mut cmd = Command::new(binary("timestamp-client").unwrap());
    cmd.args(["--addr", addr]).timeout(Duration::from_secs(20));
    cmd
}

/// Whether `text` has time.ctime()'s layout: `Sun May 27 21:43:58 2018`.
fn is_ctime(text: &str) -> bool {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [day, month, date, time, year] = parts[..] else {
        return false;
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    text.len() == 24
        && ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].contains(&day)
        && [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ]
        .contains(&month)
        && text[8..10]
            .trim_start()
            .parse::<u8>()
            .is_ok_and(|d| (1..=31).contains(&d))
        && date.len() <= 2
        && time.split(':').all(|t| digits(t, 2))
        && time.len() == 8
        && digits(year, 4)
}

/// Replaces the time after `current timestampe: ` with CTIME, once its layout is checked.
fn normalize_ctime(stdout: &str) -> String {
    let prefix = "current timestampe: ";
    stdout
        .lines()
        .map(|line| match line.strip_prefix(prefix) {
            Some(time) => {
                assert!(is_ctime(time), "not a ctime: {time:?}");
                format!("{prefix}CTIME\n")
            }
            None => format!("{line}\n"),
        })
        .collect()
}

#[test]
fn ctime_shape_check_rejects_other_layouts() {
    assert!(is_ctime("Sun May 27 21:43:58 2018"));
    assert!(is_ctime("Thu Jan  1 00:00:00 1970"));
    assert!(!is_ctime("Thu Jan 01 00:00:00 1970 "));
    assert!(!is_ctime("2018-05-27 21:43:58"));
    assert!(!is_ctime("Sun May 27 21:43 2018"));
}

#[test]
fn client_prints_the_time_and_server_logs_the_client() {
    let server = Server::start("timestamp-server", &[]).unwrap();
    let out = client(&server.addr()).output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        normalize_ctime(&String::from_utf8(out.stdout).unwrap()),
        "current timestampe: CTIME\n"
    );
    assert_eq!(out.stderr, b"");

    // The banner, the client's line, and the banner again for the next client.
    let banner = "**********now waiting for client connect**********\n";
    let stdout = server.wait_for_stdout_lines(3).unwrap();
    assert_eq!(
        normalize_number(&stdout, "127.0.0.1:", "PORT"),
        format!("{banner}new client : 127.0.0.1:PORT\n{banner}")
    );
}

#[test]
fn wrong_command_closes_the_connection_without_a_reply() {
    let server = Server::start("timestamp-server", &[]).unwrap();
    client(&server.addr())
        .args(["--command", "hello"])
        .assert()
        .code(1)
        .stdout("get timestampe failed\n");
    server
        .wait_for_stderr("sent 5 bytes that are not the command \"timetampe\"")
        .unwrap();
    // The server is still there for the next client.
    client(&server.addr()).assert().success();
}

#[test]
fn the_start_of_the_command_then_the_close_is_logged_as_cut_off() {
    // `printf time | nc -N`: 4 bytes of the command, then the client closes its side.
    let server = Server::start("timestamp-server", &[]).unwrap();
    let mut stream = connect(&server.addr()).unwrap();
    let client_addr = stream.local_addr().unwrap();
    stream.write_all(b"time").unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    assert_eq!(
        read_until_closed(&mut stream),
        "",
        "answered a cut-off command"
    );
    server
        .wait_for_stderr(&format!(
            "timestamp-server: client {client_addr}: sent 4 bytes, only the start of the \
             command \"timetampe\", then closed; closing without a reply\n"
        ))
        .unwrap();

    // Nothing at all, then the close: not the start of anything, the words stay.
    let mut stream = connect(&server.addr()).unwrap();
    let client_addr = stream.local_addr().unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_until_closed(&mut stream), "");
    server
        .wait_for_stderr(&format!(
            "timestamp-server: client {client_addr}: sent 0 bytes that are not the command \
             \"timetampe\"; closing without a reply\n"
        ))
        .unwrap();
}

/// All the server sends on `stream` until it closes.
fn read_until_closed(stream: &mut std::net::TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

#[test]
fn client_with_its_stdout_closed_ends_quietly_with_141() {
    // `timestamp-client | head -0`: its one line cannot be printed.
    let server = Server::start("timestamp-server", &[]).unwrap();
    let out = run_with_stdout_closed("timestamp-client", &["--addr", &server.addr()], b"").unwrap();
    assert_eq!(out.status.code(), Some(141), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    // The request was made: the server logged its client.
    server.wait_for_stdout("new client : ").unwrap();
}

#[test]
fn server_with_its_stdout_closed_says_so_once_and_serves_on() {
    // `timestamp-server | head -0`: the first banner cannot be printed.
    let server = Server::start_with_stdout_closed("timestamp-server", &[]).unwrap();
    let addr = server.addr();
    server.wait_for_stderr("stdout is closed").unwrap();
    for _ in 0..2 {
        let out = client(&addr).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(
            normalize_ctime(&String::from_utf8(out.stdout).unwrap()),
            "current timestampe: CTIME\n"
        );
    }
    // A wrong command logs a line of its own: every line before it has arrived by then,
    // so the whole of stderr can be compared.
    client(&addr).args(["--command", "hello"]).assert().code(1);
    let stderr = server.wait_for_stderr("not the command").unwrap();
    assert_eq!(
        normalize_number(&stderr, "client 127.0.0.1:", "PORT"),
        format!(
            "timestamp-server: listening on {addr}\n\
             timestamp-server: stdout is closed (Broken pipe); printing stops, serving goes on\n\
             timestamp-server: client 127.0.0.1:PORT: sent 5 bytes that are not the command \
             \"timetampe\"; closing without a reply\n"
        )
    );
}

#[test]
fn client_without_a_server_says_so_and_exits_1() {
    let addr = closed_port_addr().unwrap();
    client(&addr).assert().code(1).stdout("").stderr(format!(
        "timestamp-client: cannot connect to {addr}: Connection refused \
         (is timestamp-server running?)\n"
    ));
}

#[test]
fn command_split_across_two_reads_still_works() {
    let server = Server::start("timestamp-server", &[]).unwrap();
    let mut stream = connect(&server.addr()).unwrap();
    stream.write_all(b"time").unwrap();
    // The server must wait for the rest instead of judging the first piece.
    assert!(stays_silent(&mut stream, Duration::from_millis(200)));
    stream.write_all(b"tampe").unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(is_ctime(&reply), "{reply:?}");
}

#[test]
fn server_keeps_serving_after_silent_garbage_and_non_utf8_clients() {
    let server = Server::start("timestamp-server", &["--timeout-ms", "300"]).unwrap();
    let addr = server.addr();

    // Connects and closes without a word: read returns 0 at once.
    drop(connect(&addr).unwrap());
    client(&addr).assert().success();
    server.wait_for_stderr("sent 0 bytes").unwrap();

    // Connects and stays silent: dropped after --timeout-ms, the next client is served.
    let silent = connect(&addr).unwrap();
    client(&addr).assert().success();
    server
        .wait_for_stderr("sent no command within 300ms")
        .unwrap();
    drop(silent);

    // 10 KiB of garbage.
    let mut garbage = connect(&addr).unwrap();
    garbage.write_all(&[b'x'; 10 * 1024]).unwrap();
    // The server may already have closed on the first bytes, leaving the rest unread,
    // which resets the connection: then there is nothing left to shut down.
    let _ = garbage.shutdown(Shutdown::Write);
    client(&addr).assert().success();

    // Bytes that are not UTF-8 (the Python original crashes on these).
    let mut binary_junk = connect(&addr).unwrap();
    binary_junk.write_all(&[0xff, 0xfe, 0x00, 0xc3]).unwrap();
    client(&addr).assert().success();
    server.wait_for_stderr("sent 4 bytes that are not").unwrap();

    let stdout = client(&addr).output().unwrap().stdout;
    assert!(
        String::from_utf8(stdout)
            .unwrap()
            .starts_with("current timestampe: ")
    );
}

#[test]
fn server_reports_a_port_in_use_and_bad_arguments() {
    let (addr, out) = run_on_a_taken_port("timestamp-server").unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!("timestamp-server: cannot listen on {addr}: Address already in use\n")
    );
    Command::new(binary("timestamp-server").unwrap())
        .args(["--addr", "8099"])
        .assert()
        .code(2)
        .stderr(
            "timestamp-server: --addr needs HOST:PORT with a port from 0 to 65535, got '8099'\n\
             usage: timestamp-server [--addr HOST:PORT] [--timeout-ms MS]\n\
             (run with --help for more)\n",
        );
}

#[test]
fn lesson_page_shows_what_the_programs_print() {
    let server = Server::start("timestamp-server", &[]).unwrap();
    let out = client(&server.addr()).output().unwrap();
    let client_stdout = normalize_ctime(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(
        normalize_ctime(&lesson_block(PAGE, "timestamp-client").unwrap()),
        client_stdout
    );

    let expected = lesson_block(PAGE, "timestamp-server").unwrap();
    let stdout = server
        .wait_for_stdout_lines(expected.lines().count())
        .unwrap();
    assert_eq!(
        normalize_number(&expected, "127.0.0.1:", "PORT"),
        normalize_number(&stdout, "127.0.0.1:", "PORT")
    );
}

#[test]
fn a_newline_after_the_command_is_accepted_as_telnet_and_nc_send_it() {
    let server = Server::start("timestamp-server", &[]).unwrap();
    for line in [&b"timetampe\r\n"[..], b"timetampe\n"] {
        let reply = exchange(&server.addr(), line);
        assert!(is_ctime(&reply), "{line:?} got {reply:?}");
    }
    // Anything else after the command is still not the command.
    assert_eq!(exchange(&server.addr(), b"timetampe!\n"), "");
}

/// Sends `sent` as telnet or nc would, and returns all the server sends until it closes
/// (what arrived before a reset, if it resets).
fn exchange(addr: &str, sent: &[u8]) -> String {
    let mut stream = connect(addr).unwrap();
    stream.write_all(sent).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply
}

#[test]
fn a_slow_dribble_is_dropped_at_the_deadline() {
    // One byte every 100 ms: each read comes long before --timeout-ms, but the whole
    // command would take 900 ms. The server drops it at the 300 ms deadline.
    let server = Server::start("timestamp-server", &["--timeout-ms", "300"]).unwrap();
    let mut stream = connect(&server.addr()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let started = Instant::now();
    // The dribble stops early when `stop` is dropped, once the test has seen the close.
    let (stop, stopped) = mpsc::channel::<()>();
    let dribble = thread::spawn(move || {
        for byte in b"timetampe" {
            if writer.write_all(&[*byte]).is_err() {
                return;
            }
            if stopped.recv_timeout(Duration::from_millis(100)) != Err(RecvTimeoutError::Timeout) {
                return;
            }
        }
    });
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    let elapsed = started.elapsed();
    assert_eq!(
        String::from_utf8_lossy(&reply),
        "",
        "answered a too slow client"
    );
    assert!(
        elapsed >= Duration::from_millis(290) && elapsed < Duration::from_millis(800),
        "dropped after {elapsed:?}, the deadline is 300 ms"
    );
    server
        .wait_for_stderr("but not the whole command within 300ms; too slow, closing\n")
        .unwrap();
    drop(stop);
    dribble.join().unwrap();
}

/// Under `ulimit -n 4`, stdin, stdout, stderr and the listening socket take every file
/// descriptor the server may have, so each accept fails ("Too many open files") and the
/// queued clients stay queued: the server must wait between tries, not retry at full
/// speed (see `accept_loop_backs_off`). It needs `ulimit -n` and /proc.
#[cfg(target_os = "linux")]
#[test]
fn server_backs_off_when_accept_fails() {
    socket_lessons::accept_loop_backs_off("timestamp-server", &[], 4).unwrap();
}

/// `text` with every time at the start of a line (time.ctime()'s layout, checked)
/// replaced by CTIME.
fn mask_line_start_ctime(text: &str) -> String {
    text.lines()
        .map(|line| match line.get(..24) {
            Some(time) if is_ctime(time) => format!("CTIME{}\n", &line[24..]),
            _ => format!("{line}\n"),
        })
        .collect()
}

#[test]
fn lesson_page_shows_what_telnet_and_nc_get() {
    let server = Server::start("timestamp-server", &[]).unwrap();
    let exchange = |sent: &[u8]| {
        let reply = exchange(&server.addr(), sent);
        assert!(is_ctime(&reply), "{reply:?}");
        reply
    };
    // telnet: `timetampe` and Enter, which telnet sends as \r\n. telnet prints its own
    // three lines first, and its `Connection closed` line right after the server's bytes.
    let reply = exchange(b"timetampe\r\n");
    let telnet = format!(
        "$ telnet 127.0.0.1 8099\nTrying 127.0.0.1...\nConnected to 127.0.0.1.\n\
         Escape character is '^]'.\ntimetampe\n{reply}Connection closed by foreign host.\n"
    );
    assert_eq!(
        mask_line_start_ctime(&lesson_block(PAGE, "telnet").unwrap()),
        mask_line_start_ctime(&telnet)
    );
    // nc: printf sends the 9 bytes alone; echo adds the newline.
    let reply = exchange(b"timetampe");
    let nc = format!("$ printf timetampe | nc 127.0.0.1 8099; echo\n{reply}\n");
    assert_eq!(
        mask_line_start_ctime(&lesson_block(PAGE, "nc").unwrap()),
        mask_line_start_ctime(&nc)
    );
}

/// The states of the TCP connections between 127.0.0.1:`local` and 127.0.0.1:`peer`, as
/// Linux lists them in /proc/net/tcp (hex codes: 01 ESTABLISHED, 06 TIME_WAIT, ...).
#[cfg(target_os = "linux")]
fn tcp_states(local: u16, peer: u16) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let endpoint = |port: u16| format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.get(1) == Some(&endpoint(local).as_str())
                && fields.get(2) == Some(&endpoint(peer).as_str()))
            .then(|| fields[3].to_string())
        })
        .collect()
}

/// The page's TIME_WAIT section: the server closes first (right after the time), so the
/// connection lingers in TIME_WAIT on the server's port, not on the client's.
#[cfg(target_os = "linux")]
#[test]
fn the_server_closes_first_so_time_wait_stays_on_its_port() {
    let server = Server::start("timestamp-server", &[]).unwrap();
    client(&server.addr()).assert().success();
    let stdout = server.wait_for_stdout("new client : 127.0.0.1:").unwrap();
    let client_port: u16 = stdout
        .split("new client : 127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .and_then(|port| port.parse().ok())
        .unwrap();
    let server_port = server.port();
    // The client's side ends as CLOSED (gone from the table) once the server's ACK of
    // its FIN arrives; the server's side waits in TIME_WAIT.
    let mut seen = (Vec::new(), Vec::new());
    assert!(
        socket_lessons::wait_until(Duration::from_secs(20), || {
            seen = (
                tcp_states(server_port, client_port),
                tcp_states(client_port, server_port),
            );
            seen.0 == ["06"] && seen.1.is_empty()
        }),
        "server's side {:?} (06 is TIME_WAIT), client's side {:?} (should be gone)",
        seen.0,
        seen.1
    );
}

/// The page shows the read pattern of `serve`: the code it shows is the code that runs.
#[test]
fn lesson_page_shows_the_read_loop_as_it_is() {
    let root = socket_lessons::workspace_root();
    let page = std::fs::read_to_string(root.join("lessons").join(PAGE)).unwrap();
    let shown = page
        .split("<!-- source: timestamp-server -->\n```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the page shows no block marked <!-- source: timestamp-server -->");
    assert!(shown.contains("client.read(&mut buf)"), "{shown}");
    let source =
        std::fs::read_to_string(root.join("crates/01-timestamp/server/src/main.rs")).unwrap();
    assert!(
        source.contains(shown),
        "the page's copy differs from timestamp-server's main.rs:\n{shown}"
    );
}
