//! Lesson 05, long connections: long-server and long-client (rock-paper-scissors), black box.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use assert_cmd::Command;
use assert_cmd::assert::Assert;
use socket_lessons::{
    Server, binary, closed_port_addr, connect, lesson_block, normalize_number, one_shot_server,
    read_some, run_on_a_taken_port, run_with_stdout_closed,
};
#[cfg(target_os = "linux")]
use socket_lessons::{accept_loop_backs_off, under_a_thread_limit, wait_until};

const PAGE: &str = "05-short-and-long-connections.md";

/// Long enough for a loaded machine; a test only waits this long when it is failing.
#[cfg(target_os = "linux")]
const PATIENCE: Duration = Duration::from_secs(20);

/// With `--seed 1`, every connection sees the server play 2, 3, 3, 2, 2 (rock, paper,
/// paper, rock, rock), so the default five 剪刀 (scissors) lose, win, win, lose, lose.
const SEED: &str = "1";
const SEEDED_CLIENT: &str = "entering context
write done
read done
失败
write done
read done
胜利
write done
read done
胜利
write done
read done
失败
write done
read done
失败
exit context
";
const SEEDED_SERVER_ROUNDS: [u8; 5] = [2, 3, 3, 2, 2];

fn client(addr: &str) -> Command {
    let mut cmd = Command::new(binary("long-client").unwrap());
    cmd.args(["--addr", addr]).timeout(Duration::from_secs(20));
    cmd
}

/// The server's stdout for one connection that plays `rounds` (client move, server move).
fn server_lines(rounds: &[(u8, u8)]) -> String {
    let mut text = String::from("set task\nwait\n");
    for (data, remote) in rounds {
        text += &format!("recv: {data}\nremot: {remote}\nsend done\nwait\n");
    }
    text
}

/// Sends one move frame and reads the 1-byte result.
fn play(stream: &mut TcpStream, frame: u8) -> u8 {
    stream.write_all(&[frame]).unwrap();
    let mut result = [0u8; 1];
    stream.read_exact(&mut result).unwrap();
    result[0]
}

/// Whether the server closed `stream` (end of stream or reset).
fn closed(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    match read_some(stream, &mut [0u8; 1]) {
        Ok(0) => true,
        Err(e) => e.kind() == ErrorKind::ConnectionReset,
        Ok(_) => false,
    }
}

#[test]
fn a_seeded_game_gives_a_known_transcript_on_both_sides() {
    let server = Server::start("long-server", &["--seed", SEED]).unwrap();
    let out = client(&server.addr()).output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), SEEDED_CLIENT);
    assert_eq!(out.stderr, b"");

    let rounds: Vec<(u8, u8)> = SEEDED_SERVER_ROUNDS.iter().map(|&r| (1, r)).collect();
    let expected = format!(
        "Serving on ('127.0.0.1', {})\n{}",
        server.port(),
        server_lines(&rounds)
    );
    let stdout = server
        .wait_for_stdout_lines(expected.lines().count())
        .unwrap();
    assert_eq!(stdout, expected);
    server
        .wait_for_stderr("the client left after 5 rounds\n")
        .unwrap();
}

#[test]
fn all_nine_pairs_are_judged_by_the_real_rules() {
    let server = Server::start("long-server", &["--seed", "5"]).unwrap();
    let mut stream = connect(&server.addr()).unwrap();
    let moves: Vec<u8> = (0..60).map(|i| 1 + (i % 3) as u8).collect();
    let results: Vec<u8> = moves.iter().map(|m| play(&mut stream, b'0' + m)).collect();
    drop(stream);
    server
        .wait_for_stderr("the client left after 60 rounds")
        .unwrap();

    // The server says which move it played in each round (`remot: M`).
    let stdout = server.wait_for_stdout_lines(2 + 60 * 4 + 1).unwrap();
    let remotes: Vec<u8> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("remot: "))
        .map(|m| m.parse().unwrap())
        .collect();
    assert_eq!(remotes.len(), 60);

    // 1 scissors, 2 rock, 3 paper; the result from the client's side.
    let rules = |client: u8, server: u8| match (client, server) {
        (1, 1) | (2, 2) | (3, 3) => b'x',
        (2, 1) | (1, 3) | (3, 2) => b'y', // rock > scissors, scissors > paper, paper > rock
        (1, 2) | (3, 1) | (2, 3) => b'z',
        _ => unreachable!(),
    };
    let mut seen = std::collections::HashSet::new();
    for ((&client, &remote), &result) in moves.iter().zip(&remotes).zip(&results) {
        assert_eq!(
            result,
            rules(client, remote),
            "client {client} against server {remote}"
        );
        seen.insert((client, remote));
    }
    assert_eq!(seen.len(), 9, "the 60 rounds did not cover all nine pairs");
    // The pair the original gets wrong, spelled out: paper (3) against scissors (1) loses.
    assert_eq!(rules(3, 1), b'z');
}

#[test]
fn ten_clients_at_once() {
    let server = Server::start("long-server", &["--seed", SEED]).unwrap();
    // Ten open connections, played last to first: each has its own task and state.
    let mut streams: Vec<TcpStream> = (0..10).map(|_| connect(&server.addr()).unwrap()).collect();
    for stream in streams.iter_mut().rev() {
        // Scissors against the seed's first move, rock: lose.
        assert_eq!(play(stream, b'1'), b'z');
    }
    for stream in &mut streams {
        assert_eq!(play(stream, b'1'), b'y'); // against paper: win
    }
    drop(streams);

    // Ten real clients in parallel, each with the whole known transcript.
    let addr = server.addr();
    let runs: Vec<_> = (0..10)
        .map(|_| {
            let addr = addr.clone();
            thread::spawn(move || client(&addr).output().unwrap())
        })
        .collect();
    for run in runs {
        let out = run.join().unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), SEEDED_CLIENT);
    }
}

#[test]
fn bad_moves_and_clients_that_leave_mid_game_do_not_disturb_others() {
    let server = Server::start("long-server", &["--seed", SEED]).unwrap();
    let addr = server.addr();

    // A player in the middle of its game while the others misbehave.
    let mut steady = connect(&addr).unwrap();
    assert_eq!(play(&mut steady, b'2'), b'x'); // rock against rock

    for (frame, shown) in [
        (b'4', "b'4'"),
        (b'0', "b'0'"),
        (0xff, "b'\\xff'"),
        (b' ', "b' '"),
    ] {
        let mut bad = connect(&addr).unwrap();
        let port = bad.local_addr().unwrap().port();
        bad.write_all(&[frame]).unwrap();
        assert!(closed(&mut bad), "{shown} did not close the connection");
        server
            .wait_for_stderr(&format!(
                "long-server: 127.0.0.1:{port}: sent {shown}, which is not a move \
                 (1 scissors, 2 rock, 3 paper); closing the connection\n"
            ))
            .unwrap();
    }

    // A client that leaves after two rounds.
    let mut leaver = connect(&addr).unwrap();
    let port = leaver.local_addr().unwrap().port();
    play(&mut leaver, b'1');
    play(&mut leaver, b'1');
    drop(leaver);
    server
        .wait_for_stderr(&format!(
            "long-server: 127.0.0.1:{port}: the client left after 2 rounds\n"
        ))
        .unwrap();

    // The steady player's game goes on with its own sequence: paper against paper.
    assert_eq!(play(&mut steady, b'3'), b'x');
    // And a new client still gets the whole known game.
    client(&addr).assert().success().stdout(SEEDED_CLIENT);
}

#[test]
fn line_ends_between_moves_are_skipped_so_telnet_can_play() {
    let server = Server::start("long-server", &["--seed", SEED]).unwrap();
    let mut telnet = connect(&server.addr()).unwrap();
    // What telnet sends for `1` and Enter; then what nc sends; then blank lines.
    assert_eq!(play_bytes(&mut telnet, b"1\r\n"), b'z'); // scissors against rock
    assert_eq!(play_bytes(&mut telnet, b"1\n"), b'y'); // against paper
    assert_eq!(play_bytes(&mut telnet, b"\r\n\r\n3"), b'x'); // paper against paper
    drop(telnet);
    server
        .wait_for_stderr("the client left after 3 rounds\n")
        .unwrap();
    // One `wait` per round, as with long-client: the line ends are not rounds.
    let expected = format!(
        "Serving on ('127.0.0.1', {})\n{}",
        server.port(),
        server_lines(&[(1, 2), (1, 3), (3, 3)])
    );
    // stdout is another pipe than stderr, read on its own thread: its last lines may
    // come in after the stderr line.
    let stdout = server
        .wait_for_stdout_lines(expected.lines().count())
        .unwrap();
    assert_eq!(stdout, expected);
}

/// Sends `bytes` and reads the 1-byte result.
fn play_bytes(stream: &mut TcpStream, bytes: &[u8]) -> u8 {
    stream.write_all(bytes).unwrap();
    let mut result = [0u8; 1];
    stream.read_exact(&mut result).unwrap();
    result[0]
}

#[cfg(target_os = "linux")]
#[test]
fn server_backs_off_when_out_of_descriptors() {
    // 0, 1, 2 and the listener: four left for clients.
    accept_loop_backs_off("long-server", &[], 8).unwrap();
}

#[cfg(target_os = "linux")]
#[test]
fn a_refused_thread_drops_only_that_connection() {
    // The main thread and two connection threads.
    let Some(server) = under_a_thread_limit("long-server", &["--seed", SEED], 61305, 3).unwrap()
    else {
        return;
    };
    // Connections are accepted in the order they came: two get a thread, the third not.
    let mut first = connect(server.addr()).unwrap();
    let mut second = connect(server.addr()).unwrap();
    let mut third = connect(server.addr()).unwrap();
    let port = third.local_addr().unwrap().port();
    assert!(closed(&mut third));
    server
        .wait_for_stderr(&format!(
            "long-server: 127.0.0.1:{port}: no thread for this connection \
             (Resource temporarily unavailable); closed\n"
        ))
        .unwrap();
    // The server lives on, and both games go on.
    assert_eq!(play(&mut first, b'1'), b'z');
    assert_eq!(play(&mut second, b'1'), b'z');
    // Once a player leaves, its thread ends, and a new player gets one.
    drop(first);
    let served = wait_until(PATIENCE, || {
        let mut next = connect(server.addr()).unwrap();
        next.write_all(b"1").unwrap();
        !closed(&mut next)
    });
    assert!(served);
}

#[test]
fn unknown_moves_print_what_the_original_prints() {
    let server = Server::start("long-server", &["--seed", SEED]).unwrap();
    client(&server.addr())
        .args(["布", "lizard", "石头"])
        .assert()
        .success()
        // paper against rock wins; lizard is not sent; rock against paper loses.
        .stdout("entering context\nwrite done\nread done\n胜利\n未知的指令\nFalse\nwrite done\nread done\n失败\nexit context\n");
}

#[test]
fn client_failures_are_one_line_and_exit_1() {
    // Nobody listens.
    let addr = closed_port_addr().unwrap();
    client(&addr)
        .assert()
        .code(1)
        .stdout("entering context\n")
        .stderr(format!(
            "long-client: cannot connect to {addr}: Connection refused (is long-server running?)\n"
        ));

    against_fake(None, false, &[])
        .code(1)
        .stdout("entering context\nwrite done\nexit context\n")
        .stderr("long-client: the server closed the connection without a result\n");
    against_fake(None, true, &["--timeout-ms", "300"])
        .code(1)
        .stdout("entering context\nwrite done\nexit context\n")
        .stderr("long-client: no result from the server within 300ms\n");
    against_fake(Some(b'q'), false, &[])
        .code(1)
        .stdout("entering context\nwrite done\nread done\nexit context\n")
        .stderr("long-client: the server sent b'q', which is not a result (x, y or z)\n");
}

/// Runs long-client with `args` against a fake server that reads the move, then answers
/// `answer` (or hangs up if None), or keeps silent until the client leaves (`hold`).
fn against_fake(answer: Option<u8>, hold: bool, args: &[&str]) -> Assert {
    let (addr, fake) = one_shot_server(move |mut stream| {
        stream.read_exact(&mut [0u8; 1]).unwrap();
        if let Some(byte) = answer {
            stream.write_all(&[byte]).unwrap();
        }
        if hold {
            let _ = stream.read_to_end(&mut Vec::new());
        }
    })
    .unwrap();
    let ran = client(&addr).args(args).assert();
    fake.join().unwrap();
    ran
}

#[test]
fn client_with_its_stdout_closed_ends_quietly_with_141() {
    // `long-client | head -0`: `entering context` cannot be printed. The client ends
    // there, quietly: no panic, and no `exit context` printed while one unwinds (that
    // second panic aborted the program, exit 134).
    let server = Server::start("long-server", &["--seed", SEED]).unwrap();
    let out = run_with_stdout_closed("long-client", &["--addr", &server.addr()], b"").unwrap();
    assert_eq!(out.status.code(), Some(141), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn server_with_its_stdout_closed_says_so_once_and_serves_on() {
    // `long-server | head -0`: `Serving on` cannot be printed.
    let server = Server::start_with_stdout_closed("long-server", &["--seed", SEED]).unwrap();
    let addr = server.addr();
    server.wait_for_stderr("stdout is closed").unwrap();
    // A game is still played, with the same results.
    client(&addr)
        .assert()
        .success()
        .stdout(SEEDED_CLIENT)
        .stderr("");
    // The player that left is logged: every line before has arrived by then, so the
    // whole of stderr can be compared.
    let stderr = server
        .wait_for_stderr("the client left after 5 rounds\n")
        .unwrap();
    assert_eq!(
        normalize_number(&stderr, "long-server: 127.0.0.1:", "PORT"),
        format!(
            "long-server: listening on {addr}\n\
             long-server: stdout is closed (Broken pipe); printing stops, serving goes on\n\
             long-server: 127.0.0.1:PORT: the client left after 5 rounds\n"
        )
    );
}

#[test]
fn server_checks_its_arguments() {
    Command::new(binary("long-server").unwrap())
        .args(["--seed", "abc"])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(2);
    let (addr, out) = run_on_a_taken_port("long-server").unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!("long-server: cannot listen on {addr}: Address already in use\n")
    );
}

#[test]
fn lesson_page_shows_what_the_programs_print() {
    let server = Server::start("long-server", &["--seed", SEED]).unwrap();
    let out = client(&server.addr()).output().unwrap();
    assert_eq!(
        lesson_block(PAGE, "long-client").unwrap(),
        String::from_utf8(out.stdout).unwrap()
    );
    let expected = lesson_block(PAGE, "long-server").unwrap();
    let stdout = server
        .wait_for_stdout_lines(expected.lines().count())
        .unwrap();
    assert_eq!(expected.replace("5000", &server.port().to_string()), stdout);
}
