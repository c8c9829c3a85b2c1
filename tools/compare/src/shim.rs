//! The start-up shim for the Python side. compare writes it as `sitecustomize.py` into a
//! temporary folder and puts that folder on PYTHONPATH, so Python imports it before the
//! original starts, and the original's own file stays untouched.
//!
//! It does four things, each driven by an environment variable compare sets:
//! - COMPARE_FIXED_PORT: a bind to that port, the fixed port the scenario's document
//!   uses (8099, 9999, ...), binds port 0 instead, on 127.0.0.1 (an original's 0.0.0.0
//!   included), with SO_REUSEADDR; once a TCP socket listens, or a UDP socket is bound,
//!   one line `tcp|udp FIXED PORT` is appended to COMPARE_PORTS_FILE: compare starts the
//!   clients when it sees it, so readiness never costs a probing connection. A second
//!   bind of that port in the same process (TCP and UDP on one port) gets the same port
//!   number. A bind to any other port that is not 0 is left alone and reported as
//!   `other-bind tcp|udp PORT`: the original does not use its document's port.
//! - COMPARE_PORT_MAP (`8099=41234`): connect and connect_ex to the fixed port go to
//!   127.0.0.1 and the port the scenario's server (or the wire tap before it) really has;
//!   so do sendto's. asyncio's connections go through socket.connect too, so they follow.
//!   A connect to another port is left alone and reported as `other-connect PORT`.
//! - COMPARE_SLEEP_MS: time.sleep waits at most that long (our servers' --delay-ms).
//! - COMPARE_MOVES (`1,2,3`): random.choice and random.randint return these numbers, one
//!   per call, while they last and are among the choices: the long server's moves, the
//!   same as ours gets from its --seed.

use std::path::Path;

use super::run::complete_lines;

pub const SITECUSTOMIZE: &str = r#"# Written by socket-lessons `compare` for one run, in a temporary folder; not an original.
import os
import random
import socket
import time

_ports_file = os.environ.get("COMPARE_PORTS_FILE")
_fixed_port = int(os.environ.get("COMPARE_FIXED_PORT") or 0)
_port_map = {}
for _pair in os.environ.get("COMPARE_PORT_MAP", "").split(","):
    if "=" in _pair:
        _fixed, _real = _pair.split("=")
        _port_map[int(_fixed)] = int(_real)
_moved = {}
_fixed_of = {}

_bind = socket.socket.bind
_listen = socket.socket.listen
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_sendto = socket.socket.sendto


def _report(*words):
    if _ports_file:
        with open(_ports_file, "a") as f:
            f.write(" ".join(str(w) for w in words) + "\n")


def _kind(sock):
    return "udp" if sock.type == socket.SOCK_DGRAM else "tcp"


def bind(self, address):
    if (self.family == socket.AF_INET and isinstance(address, tuple)
            and len(address) == 2 and address[1]):
        fixed = address[1]
        if fixed != _fixed_port:
            _report("other-bind", _kind(self), fixed)
            return _bind(self, address)
        self.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        want = _moved.get(fixed, 0)
        try:
            _bind(self, ("127.0.0.1", want))
        except OSError:
            if not want:
                raise
            _bind(self, ("127.0.0.1", 0))
        port = self.getsockname()[1]
        _moved.setdefault(fixed, port)
        _fixed_of[self.fileno()] = fixed
        if self.type == socket.SOCK_DGRAM:
            _report("udp", fixed, port)
        return None
    return _bind(self, address)


def listen(self, *args):
    result = _listen(self, *args)
    fixed = _fixed_of.pop(self.fileno(), None)
    if fixed is not None:
        _report("tcp", fixed, self.getsockname()[1])
    return result


def _moved_address(address):
    if isinstance(address, tuple) and len(address) == 2 and address[1] in _port_map:
        return ("127.0.0.1", _port_map[address[1]])
    return address


def _checked(address):
    if isinstance(address, tuple) and len(address) == 2 and address[1] not in _port_map:
        _report("other-connect", address[1])
    return _moved_address(address)


def connect(self, address):
    return _connect(self, _checked(address))


def connect_ex(self, address):
    return _connect_ex(self, _checked(address))


def sendto(self, data, *rest):
    rest = list(rest)
    if rest:
        rest[-1] = _moved_address(rest[-1])
    return _sendto(self, data, *rest)


socket.socket.bind = bind
socket.socket.listen = listen
socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
socket.socket.sendto = sendto

_sleep_ms = os.environ.get("COMPARE_SLEEP_MS")
if _sleep_ms:
    _sleep = time.sleep
    _limit = int(_sleep_ms) / 1000.0

    def sleep(seconds):
        return _sleep(min(seconds, _limit))

    time.sleep = sleep

_moves = [int(m) for m in os.environ.get("COMPARE_MOVES", "").split(",") if m]
if _moves:
    _choice = random.choice
    _randint = random.randint

    def choice(seq):
        if _moves and _moves[0] in seq:
            return _moves.pop(0)
        return _choice(seq)

    def randint(a, b):
        if _moves and a <= _moves[0] <= b:
            return _moves.pop(0)
        return _randint(a, b)

    random.choice = choice
    random.randint = randint
"#;

/// Writes the shim as `sitecustomize.py` into `dir`.
pub fn write(dir: &Path) -> Result<(), String> {
    let path = dir.join("sitecustomize.py");
    std::fs::write(&path, SITECUSTOMIZE)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// One line the shim reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// A socket of this kind (`tcp`, `udp`) bound the fixed port, moved to `real`.
    Moved { kind: String, fixed: u16, real: u16 },
    /// A socket bound another port than the document's: left alone.
    OtherBind { kind: String, port: u16 },
    /// A connection to another port than the document's: left alone.
    OtherConnect { port: u16 },
}

impl Report {
    /// What an original did wrong, in words, if this says it did.
    pub fn misported(&self, document: u16) -> Option<String> {
        match self {
            Report::Moved { .. } => None,
            Report::OtherBind { kind, port } => Some(format!(
                "it binds {} port {port}, not its document's port {document}",
                kind.to_uppercase()
            )),
            Report::OtherConnect { port } => Some(format!(
                "it connects to port {port}, not its document's port {document}"
            )),
        }
    }
}

/// The lines a shim reported so far.
pub fn reported(ports_file: &Path) -> Vec<Report> {
    let text = std::fs::read_to_string(ports_file).unwrap_or_default();
    // Only whole lines: the shim may be half-way through writing one.
    complete_lines(&text)
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["other-bind", kind, port] => Some(Report::OtherBind {
                    kind: kind.to_string(),
                    port: port.parse().ok()?,
                }),
                ["other-connect", port] => Some(Report::OtherConnect {
                    port: port.parse().ok()?,
                }),
                [kind, fixed, real] => Some(Report::Moved {
                    kind: kind.to_string(),
                    fixed: fixed.parse().ok()?,
                    real: real.parse().ok()?,
                }),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_shim_reported() {
        let dir = crate::run::TempDir::new("shim-test").unwrap();
        let file = dir.path().join("ports");
        assert!(reported(&file).is_empty());
        std::fs::write(
            &file,
            "udp 8888 40001\ntcp 8888 40001\nother-bind tcp 8002\nother-connect 8002\ntcp 5000 4",
        )
        .unwrap(); // the last line is half-written (40042)
        let moved = |kind: &str| Report::Moved {
            kind: kind.to_string(),
            fixed: 8888,
            real: 40001,
        };
        let got = reported(&file);
        assert_eq!(
            got,
            [
                moved("udp"),
                moved("tcp"),
                Report::OtherBind {
                    kind: "tcp".to_string(),
                    port: 8002
                },
                Report::OtherConnect { port: 8002 },
            ]
        );
        assert_eq!(got[0].misported(8888), None);
        assert_eq!(
            got[2].misported(8001).unwrap(),
            "it binds TCP port 8002, not its document's port 8001"
        );
        assert_eq!(
            got[3].misported(8001).unwrap(),
            "it connects to port 8002, not its document's port 8001"
        );
    }
}
