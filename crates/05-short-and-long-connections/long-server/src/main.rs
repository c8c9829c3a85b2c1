//! Lesson 05: the long-connection server, a port of long_server.py: rock-paper-scissors
//! (猜拳) over one connection that stays open for many rounds.
//!
//! The original subclasses asyncio's StreamReaderProtocol and starts one task, `hander`,
//! per connection, which loops reading 1-byte frames. Here the task is a thread, and the
//! loop reads the connection's own socket.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, UNIX_EPOCH};

use armour::{AcceptBackoff, Deadline, println};
use lesson_cli::{Args, reason};
use py_compat::{addr_repr, bytes_repr};

const HELP: &str = include_str!("help.txt");

// The moves, as the 1-byte frames carry them (the ASCII digits 1, 2 and 3).
const SCISSORS: u8 = 1;
const ROCK: u8 = 2;
const PAPER: u8 = 3;

/// How long a client may leave a result untaken. A write blocks once the client stops
/// reading and the buffers on both sides are full; without a limit, a client that
/// sends moves and never reads would hold its thread for ever.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

fn main() {
    let mut args = Args::parse("long-server", HELP);
    let addr = args.addr("127.0.0.1:5000");
    let seed: Option<u64> = args.value("--seed");
    args.finish();
    // loop.create_server: create the listening socket, bind it and listen.
    let server = TcpListener::bind(&addr).and_then(|s| Ok((s.local_addr()?, s)));
    let failed = |e: io::Error| format!("cannot listen on {addr}: {}", reason(&e));
    let (local, server) = server.unwrap_or_else(|e| args.fail(failed(e)));
    armour::listening(local);
    println!("Serving on {}", addr_repr(local));

    let mut connections: u64 = 0;
    let mut backoff = AcceptBackoff::default();
    loop {
        let Some((stream, peer)) = backoff.check("long-server", server.accept()) else {
            continue;
        };
        connections += 1;
        // Each connection has its own socket, its own random moves and its own state.
        // (The original hands one StreamReader to every connection, so only its first
        // client can play.)
        let random = Random::new(seed.unwrap_or_else(|| clock_seed(connections)));
        // connection_made: the original schedules the task, prints `set task`, and the
        // task starts once connection_made returns. Print before starting the thread, so
        // `set task` comes before the task's first `wait` here too.
        println!("set task");
        // The system may refuse a thread (a limit on processes and threads): then this
        // one connection is closed, and the server goes on serving.
        let task = thread::Builder::new().spawn(move || hander(stream, peer, random));
        if let Err(e) = task {
            let why = reason(&e);
            eprintln!("long-server: {peer}: no thread for this connection ({why}); closed");
        }
    }
}

/// The task of one connection: round after round, read the client's 1-byte move, pick
/// ours, send the result. It ends when the client leaves or breaks the protocol.
fn hander(mut stream: TcpStream, peer: SocketAddr, mut random: Random) {
    let (mut rounds, mut frame) = (0, [0u8; 1]);
    let end = loop {
        println!("wait");
        // No read timeout: waiting for the next move as long as the client likes is what
        // a long connection is for. Only a write has a limit. A frame is exactly one
        // byte, so reading one byte reads one whole message: the stream's message
        // boundaries are fixed by the protocol (帧, frames). Line ends are not frames:
        // telnet and nc send one after every move typed, and they are skipped.
        let mut read = stream.read(&mut frame);
        while matches!(read, Ok(1)) && b"\r\n".contains(&frame[0]) {
            read = stream.read(&mut frame);
        }
        let data = match (read, frame[0]) {
            // read returns 0 once the client has closed its side.
            (Ok(0), _) => {
                let plural = if rounds == 1 { "" } else { "s" };
                break format!("the client left after {rounds} round{plural}");
            }
            (Err(e), _) => break format!("connection lost: {}", reason(&e)),
            (Ok(_), b'1'..=b'3') => frame[0] - b'0',
            (Ok(_), _) => {
                break format!(
                    "sent {}, which is not a move (1 scissors, 2 rock, 3 paper); \
                     closing the connection",
                    bytes_repr(&frame)
                );
            }
        };
        println!("recv: {data}");
        let remote = random.choice(&[SCISSORS, ROCK, PAPER]);
        println!("remot: {remote}");
        // _stream_writer.write: the result, within WRITE_TIMEOUT.
        let mut client = Deadline::after(WRITE_TIMEOUT).on(&stream);
        match client.write_all(&[calcul(data, remote)]) {
            Ok(()) => println!("send done"),
            Err(e) if armour::is_timeout(&e) => {
                break format!(
                    "did not take its result within {WRITE_TIMEOUT:?}; closing the connection"
                );
            }
            Err(e) => break format!("cannot send the result: {}", reason(&e)),
        }
        rounds += 1;
    };
    eprintln!("long-server: {peer}: {end}");
    // The socket closes when `stream` is dropped, here.
}

/// _calcul: the result of one round, from the client's side: x draw, y win, z lose.
/// (The original compares the codes as numbers, with one exception for scissors against
/// paper; that judges paper against scissors as a win for paper. These are the rules.)
fn calcul(data: u8, remote: u8) -> u8 {
    match (data, remote) {
        _ if data == remote => b'x',
        (ROCK, SCISSORS) | (SCISSORS, PAPER) | (PAPER, ROCK) => b'y',
        _ => b'z',
    }
}

/// A tiny random generator (SplitMix64): std has none. Good enough for a game, not for
/// anything secret.
struct Random(u64);

impl Random {
    fn new(seed: u64) -> Random {
        Random(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// random.choice: one of `options`, each as likely as the others.
    fn choice(&mut self, options: &[u8]) -> u8 {
        // Multiply-and-shift maps the 64 random bits onto 0..options.len().
        let index = ((u128::from(self.next()) * options.len() as u128) >> 64) as usize;
        options.get(index).copied().unwrap_or_default()
    }
}

/// A seed from the clock, different for every connection.
fn clock_seed(connection: u64) -> u64 {
    let nanos = UNIX_EPOCH.elapsed().map_or(0, |d| d.as_nanos() as u64);
    nanos ^ connection.wrapping_mul(0xD6E8_FEB8_6659_FD93)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_all_nine_pairs_by_the_rules() {
        // (client, server) -> result from the client's side.
        let table = [
            (SCISSORS, SCISSORS, b'x'),
            (SCISSORS, ROCK, b'z'),
            (SCISSORS, PAPER, b'y'),
            (ROCK, SCISSORS, b'y'),
            (ROCK, ROCK, b'x'),
            (ROCK, PAPER, b'z'),
            (PAPER, SCISSORS, b'z'), // the original says y here
            (PAPER, ROCK, b'y'),
            (PAPER, PAPER, b'x'),
        ];
        for (data, remote, result) in table {
            assert_eq!(calcul(data, remote), result, "{data} against {remote}");
        }
    }

    #[test]
    fn random_choices_are_repeatable_and_cover_every_move() {
        let moves = |seed| {
            let mut random = Random::new(seed);
            (0..300)
                .map(|_| random.choice(&[SCISSORS, ROCK, PAPER]))
                .collect::<Vec<_>>()
        };
        assert_eq!(moves(7), moves(7));
        assert_ne!(moves(7), moves(8));
        for m in [SCISSORS, ROCK, PAPER] {
            let count = moves(7).iter().filter(|&&x| x == m).count();
            assert!((60..140).contains(&count), "{m}: {count} of 300");
        }
    }
}
