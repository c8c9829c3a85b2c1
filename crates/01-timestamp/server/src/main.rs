//! Lesson 01: the timestamp server, a port of TimestampeServer.py.
//! The numbered comments are the eight steps of every C/S server in the original.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use armour::{AcceptBackoff, Deadline};
use lesson_cli::Args;

const HELP: &str = "\
usage: timestamp-server [--addr HOST:PORT] [--timeout-ms MS]

Lesson 01: the timestamp server (a port of TimestampeServer.py).
Waits for one client at a time; a client that sends the command `timetampe` gets
the current time back, in time.ctime()'s layout (UTC), then the connection closes.
A newline after the command (`\\n` or `\\r\\n`, as telnet and nc send it) is accepted.

stdout: the waiting banner before each accept, and `new client : IP:PORT`.
stderr: `timestamp-server: listening on ADDR` once bound, and one line per bad request.

options:
  --addr HOST:PORT   where to listen (default 127.0.0.1:8099; port 0 = any free port)
  --timeout-ms MS    how long a client has to send the whole command before it is
                     dropped (default 10000)
  -h, --help         this text
";

/// The command the client must send. The typo is part of the protocol: keep it.
const COMMAND: &[u8] = b"timetampe";

fn main() {
    let mut args = Args::parse("timestamp-server", HELP);
    let addr = args.addr("127.0.0.1:8099");
    let timeout = args.timeout("--timeout-ms", 10_000);
    args.finish();
    if let Err(e) = start_server(&addr, timeout) {
        args.fail(format_args!(
            "cannot listen on {addr}: {}",
            lesson_cli::reason(&e)
        ));
    }
}

fn start_server(addr: &str, timeout: Duration) -> io::Result<()> {
    // 1. create the socket, 2. bind it to ip:port, 3. listen: in std one call does all
    // three. The kernel now queues incoming connections (the backlog) until we accept them.
    let tcp_server = TcpListener::bind(addr)?;
    eprintln!(
        "timestamp-server: listening on {}",
        tcp_server.local_addr()?
    );

    // 4. the server loop: a server runs until it is stopped.
    let mut backoff = AcceptBackoff::default();
    loop {
        println!("{0}now waiting for client connect{0}", "*".repeat(10));
        // 5. accept blocks until a client connects, then gives a new socket just for it.
        // It can fail, most often when the process has no file descriptor left for that
        // socket: the client stays queued, so trying again at once fails again at once.
        // The backoff waits a little longer after each failure and logs only the first.
        let (tcp_client, client_addr) = loop {
            match tcp_server.accept() {
                Ok(pair) => break pair,
                Err(e) => backoff.failed("timestamp-server", &e),
            }
        };
        backoff.succeeded("timestamp-server");
        println!("new client : {}:{}", client_addr.ip(), client_addr.port());
        if let Err(e) = serve(tcp_client, timeout) {
            eprintln!("timestamp-server: client {client_addr}: {e}");
        }
        // 7. the client's socket was dropped at the end of `serve`: that closes it.
    }
    // 8. the listening socket closes when `tcp_server` is dropped; like the original's,
    // this loop never ends, so that only happens when the process stops.
}

/// 6. talk with one client: read its command, answer with the time.
fn serve(mut tcp_client: TcpStream, timeout: Duration) -> Result<(), String> {
    // A client that connects and says nothing, or sends one byte now and then, would
    // block this one-at-a-time server for ever. So the whole command must arrive before
    // a deadline: before each read, the read timeout is set to the time that is left.
    let deadline = Deadline::after(timeout);

    // 6.1 read the command. TCP is a byte stream: one read may return only part of what
    // the client sent, so keep reading while what arrived is still a prefix of COMMAND.
    let mut recv_data = Vec::new();
    let mut buf = [0u8; 1024];
    while recv_data.len() < COMMAND.len() && COMMAND.starts_with(&recv_data) {
        let read = deadline
            .remaining()
            .and_then(|left| tcp_client.set_read_timeout(Some(left)))
            .and_then(|()| tcp_client.read(&mut buf));
        match read {
            // read returns 0 when the peer has closed its side: nothing more will come.
            Ok(0) => break,
            Ok(n) => recv_data.extend_from_slice(&buf[..n]),
            Err(e) if lesson_cli::is_timeout(&e) && recv_data.is_empty() => {
                return Err(format!("sent no command within {timeout:?}; closing"));
            }
            Err(e) if lesson_cli::is_timeout(&e) => {
                return Err(format!(
                    "sent {} bytes but not the whole command within {timeout:?}; too slow, closing",
                    recv_data.len()
                ));
            }
            Err(e) => return Err(format!("read failed: {}", lesson_cli::reason(&e))),
        }
    }

    // A person typing into telnet or nc ends the command with Enter, which sends `\r\n`
    // or `\n`; both send the line and its newline together. Accept that too.
    let command = recv_data
        .strip_suffix(b"\n")
        .map_or(&recv_data[..], |line| {
            line.strip_suffix(b"\r").unwrap_or(line)
        });
    if command != COMMAND {
        return Err(format!(
            "sent {} bytes that are not the command \"timetampe\"; closing without a reply",
            recv_data.len()
        ));
    }
    // 6.2 send the current time back. A write blocks only while the kernel's send buffer
    // is full; these 24 bytes are the only ones we ever send on this connection, so
    // they fit at once, even if the client never reads them.
    tcp_client
        .write_all(ctime(SystemTime::now()).as_bytes())
        .map_err(|e| format!("write failed: {}", lesson_cli::reason(&e)))
}

/// The time in the layout of Python's time.ctime(), `Sun May 27 21:43:58 2018`, in UTC:
/// std knows no time zones, so the local time the original prints is out of reach.
fn ctime(now: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {}",
        DAYS[(days % 7) as usize], // 1 January 1970 was a Thursday
        MONTHS[(month - 1) as usize],
        day,
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        year
    )
}

/// Year, month (1-12) and day (1-31) of a count of days since 1970-01-01, by Howard
/// Hinnant's civil-from-days algorithm (eras of 400 years starting on 1 March).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> String {
        ctime(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn ctime_matches_python_for_known_instants() {
        // Expected strings from Python: time.asctime(time.gmtime(secs)).
        assert_eq!(at(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(at(1_527_457_438), "Sun May 27 21:43:58 2018");
        assert_eq!(at(951_782_400), "Tue Feb 29 00:00:00 2000");
        assert_eq!(at(4_107_542_399), "Sun Feb 28 23:59:59 2100");
        assert_eq!(at(1_798_761_600), "Fri Jan  1 00:00:00 2027");
    }
}
