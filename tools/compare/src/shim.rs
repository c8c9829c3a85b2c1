//! The start-up shim for the Python side. compare writes it as `sitecustomize.py` into a
//! temporary folder and puts that folder on PYTHONPATH, so Python imports it before the
//! original starts, and the original's own file stays untouched.
//!
//! It does three things, each driven by an environment variable compare sets:
//! - COMPARE_PORTS_FILE: every bind to a fixed port (8099, 9999, ...) binds port 0
//!   instead, on 127.0.0.1 (an original's 0.0.0.0 included), with SO_REUSEADDR; once a
//!   TCP socket listens, or a UDP socket is bound, one line `tcp|udp FIXED PORT` is
//!   appended to that file: compare starts the clients when it sees it, so readiness
//!   never costs a probing connection. A second bind of the same fixed port in the same
//!   process (TCP and UDP on one port) gets the same port number.
//! - COMPARE_PORT_MAP (`8099=41234,...`): connect, connect_ex and sendto to a fixed port
//!   go to 127.0.0.1 and the port the scenario's server really has. asyncio's
//!   connections go through socket.connect too, so they follow.
//! - COMPARE_SLEEP_MS: time.sleep waits at most that long (our servers' --delay-ms).

use std::path::Path;

use super::run::complete_lines;

pub const SITECUSTOMIZE: &str = r#"# Written by socket-lessons `compare` for one run, in a temporary folder; not an original.
import os
import socket
import time

_ports_file = os.environ.get("COMPARE_PORTS_FILE")
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


def _report(kind, fixed, port):
    if _ports_file:
        with open(_ports_file, "a") as f:
            f.write("%s %d %d\n" % (kind, fixed, port))


def bind(self, address):
    if (self.family == socket.AF_INET and isinstance(address, tuple)
            and len(address) == 2 and address[1]):
        fixed = address[1]
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


def connect(self, address):
    return _connect(self, _moved_address(address))


def connect_ex(self, address):
    return _connect_ex(self, _moved_address(address))


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
"#;

/// Writes the shim as `sitecustomize.py` into `dir`.
pub fn write(dir: &Path) -> Result<(), String> {
    let path = dir.join("sitecustomize.py");
    std::fs::write(&path, SITECUSTOMIZE)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The (kind, fixed port, real port) lines a shim reported so far.
pub fn reported(ports_file: &Path) -> Vec<(String, u16, u16)> {
    let text = std::fs::read_to_string(ports_file).unwrap_or_default();
    // Only whole lines: the shim may be half-way through writing one.
    complete_lines(&text)
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let kind = parts.next()?.to_string();
            let fixed = parts.next()?.parse().ok()?;
            let real = parts.next()?.parse().ok()?;
            Some((kind, fixed, real))
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
        std::fs::write(&file, "udp 8888 40001\ntcp 8888 40001\ntcp 5000 4").unwrap(); // the last line is half-written (40042)
        assert_eq!(
            reported(&file),
            [
                ("udp".to_string(), 8888, 40001),
                ("tcp".to_string(), 8888, 40001)
            ]
        );
    }
}
