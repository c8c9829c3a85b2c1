//! The command-line convention every lesson program follows, in one place so that each
//! lesson's `main.rs` shows only its networking:
//!
//! - no arguments: the program behaves like its Python original;
//! - `--addr HOST:PORT` overrides the address (a server listens there, port 0 = any free
//!   port; a client connects there);
//! - `--help` (or `-h`) prints the program's help text and exits 0;
//! - a bad argument prints `<program>: <what is wrong>`, the usage line, and exits 2;
//! - a failure at run time (`Args::fail`) prints `<program>: <what failed>` and exits 1.
//!
//! Each program's help text starts with its usage line, e.g.
//! `usage: timestamp-client [--addr HOST:PORT]`.

use std::fmt::Display;
use std::io::{self, Write};
use std::process;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

/// The arguments of one program run, consumed option by option.
pub struct Args {
    program: &'static str,
    help: &'static str,
    rest: Vec<String>,
}

impl Args {
    /// Reads this process's arguments. `--help` or `-h` prints `help` and exits; an
    /// argument that is not valid UTF-8 is a usage error.
    pub fn parse(program: &'static str, help: &'static str) -> Args {
        let mut rest = Vec::new();
        for arg in std::env::args_os().skip(1) {
            match arg.into_string() {
                Ok(text) => rest.push(text),
                Err(raw) => {
                    let args = Args::from_vec(program, help, Vec::new());
                    args.usage_error(format_args!("argument {raw:?} is not valid UTF-8"));
                }
            }
        }
        Args::from_vec(program, help, rest)
    }

    /// Like `parse`, from a given list (the program name not included).
    pub fn from_vec(program: &'static str, help: &'static str, rest: Vec<String>) -> Args {
        if options(&rest).iter().any(|a| a == "--help" || a == "-h") {
            // Not print!, which panics when stdout is a closed pipe (`--help | head -1`):
            // the reader has what it wanted, so a closed pipe is no failure.
            let newline = if help.ends_with('\n') { "" } else { "\n" };
            let _ = io::stdout().write_all(format!("{help}{newline}").as_bytes());
            process::exit(0);
        }
        let _ = PROGRAM.set(program);
        Args {
            program,
            help,
            rest,
        }
    }

    /// `--addr HOST:PORT` if given, else `default`.
    pub fn addr(&mut self, default: &str) -> String {
        match self.value::<String>("--addr") {
            None => default.to_string(),
            Some(addr) => match check_addr(&addr) {
                Ok(()) => addr,
                Err(why) => self.usage_error(why),
            },
        }
    }

    /// The value of `--name VALUE` (or `--name=VALUE`), parsed; `None` if absent.
    pub fn value<T>(&mut self, name: &str) -> Option<T>
    where
        T: FromStr,
        T::Err: Display,
    {
        match take_value(&mut self.rest, name) {
            Ok(None) => None,
            Ok(Some(text)) => match text.parse() {
                Ok(value) => Some(value),
                Err(e) => self.usage_error(format!("bad value '{text}' for {name}: {e}")),
            },
            Err(why) => self.usage_error(why),
        }
    }

    /// `--name MS` as a duration in milliseconds, or `default_ms`: for pauses, where 0
    /// means no pause.
    pub fn millis(&mut self, name: &str, default_ms: u64) -> Duration {
        Duration::from_millis(self.value(name).unwrap_or(default_ms))
    }

    /// Like `millis`, at least 1 ms: for read timeouts, because `set_read_timeout`
    /// refuses a zero duration.
    pub fn timeout(&mut self, name: &str, default_ms: u64) -> Duration {
        self.millis(name, default_ms).max(Duration::from_millis(1))
    }

    /// Whether the switch `--name` is present.
    pub fn flag(&mut self, name: &str) -> bool {
        match options(&self.rest).iter().position(|a| a == name) {
            Some(at) => {
                self.rest.remove(at);
                true
            }
            None => false,
        }
    }

    /// The arguments left once every option was taken: the positional ones, which keep
    /// the meaning the original gives them. An unknown `--option` is a usage error;
    /// everything after a lone `--` is positional, even if it starts with `--`.
    pub fn positional(&mut self) -> Vec<String> {
        if let Some(unknown) = options(&self.rest).iter().find(|a| a.starts_with("--")) {
            let why = format!("unknown option {unknown}");
            self.usage_error(why);
        }
        let mut rest = std::mem::take(&mut self.rest);
        if let Some(end) = rest.iter().position(|a| a == "--") {
            rest.remove(end);
        }
        rest
    }

    /// Checks that nothing is left over: for programs that take no positional argument.
    pub fn finish(&mut self) {
        if let Some(extra) = self.positional().first() {
            let why = format!("unexpected argument '{extra}'");
            self.usage_error(why);
        }
    }

    /// Prints `<program>: <why>` and the usage line to stderr, and exits 2.
    pub fn usage_error(&self, why: impl Display) -> ! {
        let usage = self.help.lines().next().unwrap_or_default();
        eprintln!(
            "{}: {why}\n{usage}\n(run with --help for more)",
            self.program
        );
        process::exit(2);
    }

    /// Prints `<program>: <what>` to stderr and exits 1: for failures at run time.
    pub fn fail(&self, what: impl Display) -> ! {
        eprintln!("{}: {what}", self.program);
        process::exit(1);
    }
}

/// The name this program gave `Args::parse` (`program` before it did), for the lines
/// that other shared code prints in its name.
pub fn program_name() -> &'static str {
    PROGRAM.get().copied().unwrap_or("program")
}

static PROGRAM: OnceLock<&'static str> = OnceLock::new();

/// Whether a write failed because the reading end of a pipe is gone (`| head -1` ended):
/// EPIPE on Unix; on Windows ERROR_BROKEN_PIPE (109) and ERROR_NO_DATA (232), which std
/// calls BrokenPipe, and ERROR_PIPE_NOT_CONNECTED (233, what Wine reports), which it
/// does not.
pub fn is_closed_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe || (cfg!(windows) && e.raw_os_error() == Some(233))
}

/// An I/O error as a person reads it, in the same words on every system: `Connection
/// refused`, not Linux's `Connection refused (os error 111)` nor Windows' `No connection
/// could be made because the target machine actively refused it. (os error 10061)` (or
/// that sentence in the language of the Windows installation). The common network errors
/// get fixed words (those Linux prints, see `common_words`), and so does a host name that
/// does not resolve (`Name or service not known`); any other error of the system keeps
/// the system's own text, without the ` (os error N)` that std appends; an error made by
/// a program (`io::Error::new`) keeps its own text.
pub fn reason(e: &io::Error) -> String {
    if let Some(code) = e.raw_os_error()
        && let Some(words) = common_words(e.kind()).or_else(|| winsock_words(code))
    {
        return words.to_string();
    }
    let text = e.to_string();
    // A failed name lookup on Unix: std words it itself, then getaddrinfo's own words.
    if let Some(words) = text.strip_prefix(LOOKUP_FAILED) {
        return words.to_string();
    }
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}

/// Our words for the network errors a student meets, chosen by the kind std gives the
/// system's error code (ECONNREFUSED on Linux and macOS, WSAECONNREFUSED on Windows are
/// all `ConnectionRefused`). They are the words Linux prints, which the lesson pages show.
fn common_words(kind: io::ErrorKind) -> Option<&'static str> {
    use io::ErrorKind::*;
    Some(match kind {
        ConnectionRefused => "Connection refused",
        AddrInUse => "Address already in use",
        AddrNotAvailable => "Cannot assign requested address",
        ConnectionReset => "Connection reset by peer",
        ConnectionAborted => "Connection aborted",
        NotConnected => "Socket is not connected",
        BrokenPipe => "Broken pipe",
        TimedOut => "Connection timed out",
        WouldBlock => "Resource temporarily unavailable",
        HostUnreachable => "No route to host",
        NetworkUnreachable => "Network is unreachable",
        NetworkDown => "Network is down",
        PermissionDenied => "Permission denied",
        Interrupted => "Interrupted system call",
        _ => return None,
    })
}

/// Words for the WinSock error codes that std gives no kind of their own (their kind is
/// "uncategorized"), in the words Linux prints for the same condition. The codes are
/// WinSock's (10000 and up), and one pipe error of Windows (233); they mean nothing
/// elsewhere, so this applies to Windows only.
fn winsock_words(code: i32) -> Option<&'static str> {
    if !cfg!(windows) {
        return None;
    }
    Some(match code {
        10004 => "Interrupted system call",             // WSAEINTR
        10024 => "Too many open files",                 // WSAEMFILE
        10040 => "Message too long",                    // WSAEMSGSIZE
        10052 => "Network dropped connection on reset", // WSAENETRESET
        10055 => "No buffer space available",           // WSAENOBUFS
        10058 => "Broken pipe",                         // WSAESHUTDOWN: send after shutdown
        10064 => "Host is down",                        // WSAEHOSTDOWN
        233 => "Broken pipe", // ERROR_PIPE_NOT_CONNECTED: a pipe whose reader is gone
        // A failed name lookup (getaddrinfo), in the words of glibc's gai_strerror.
        11001 => "Name or service not known", // WSAHOST_NOT_FOUND, EAI_NONAME
        11002 => "Temporary failure in name resolution", // WSATRY_AGAIN, EAI_AGAIN
        11003 => "Non-recoverable failure in name resolution", // WSANO_RECOVERY, EAI_FAIL
        11004 => "No address associated with hostname", // WSANO_DATA
        _ => return None,
    })
}

/// The one line a client prints when it cannot connect to `addr`, in the same words on
/// every system:
///
/// - refused (the host answered, but nobody listens on that port):
///   `cannot connect to 127.0.0.1:8099: Connection refused (is timestamp-server running?)`;
/// - a host name that does not resolve: `cannot resolve host 'nosuchhost.invalid'`;
/// - anything else (unreachable, timed out, ...): `cannot connect to ADDR: REASON`.
///
/// `server` is the program that should be listening there, for the hint.
pub fn connect_failed(addr: &str, server: &str, e: &io::Error) -> String {
    if is_lookup_failure(e) {
        format!("cannot resolve host '{}'", host_of(addr))
    } else if e.kind() == io::ErrorKind::ConnectionRefused {
        format!(
            "cannot connect to {addr}: {} (is {server} running?)",
            reason(e)
        )
    } else {
        format!("cannot connect to {addr}: {}", reason(e))
    }
}

/// Whether `e` says that a host name could not be turned into an address (the name
/// lookup, getaddrinfo, failed) rather than that the connection failed. On Unix std
/// words that failure itself (`failed to lookup address information: ...`, with no
/// error code); on Windows it is a WinSock code: WSAHOST_NOT_FOUND (11001),
/// WSATRY_AGAIN (11002), WSANO_RECOVERY (11003) or WSANO_DATA (11004).
fn is_lookup_failure(e: &io::Error) -> bool {
    match e.raw_os_error() {
        Some(code) => cfg!(windows) && (11001..=11004).contains(&code),
        None => e.to_string().starts_with(LOOKUP_FAILED),
    }
}

/// How std on Unix begins the error of a failed name lookup.
const LOOKUP_FAILED: &str = "failed to lookup address information: ";

/// The host part of `HOST:PORT` (`[::1]:80` gives `::1`).
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The part of the arguments that may hold options: everything before a lone `--`.
fn options(rest: &[String]) -> &[String] {
    let end = rest.iter().position(|a| a == "--").unwrap_or(rest.len());
    &rest[..end]
}

/// Whether a read failed because its read timeout expired (`set_read_timeout`): Unix
/// reports that as WouldBlock, Windows as TimedOut.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Why a client got no whole reply (from `read_exact` on a socket with a read timeout),
/// in words: the server closed the connection, nothing came back in time, or the error.
pub fn no_reply(e: &io::Error, within: &str) -> String {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        "the server closed the connection".to_string()
    } else if is_timeout(e) {
        format!("nothing came back within {within}")
    } else {
        reason(e)
    }
}

fn check_addr(addr: &str) -> Result<(), String> {
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ => Err(format!(
            "--addr needs HOST:PORT with a port from 0 to 65535, got '{addr}'"
        )),
    }
}

/// Removes `--name VALUE` or `--name=VALUE` from `rest` and returns VALUE.
fn take_value(rest: &mut Vec<String>, name: &str) -> Result<Option<String>, String> {
    let with_equals = format!("{name}=");
    for i in 0..options(rest).len() {
        if let Some(value) = rest[i].strip_prefix(&with_equals) {
            let value = value.to_string();
            rest.remove(i);
            return Ok(Some(value));
        }
        if rest[i] == name {
            if i + 1 == rest.len() {
                return Err(format!("{name} needs a value"));
            }
            let value = rest.remove(i + 1);
            rest.remove(i);
            return Ok(Some(value));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Args {
        Args::from_vec(
            "t",
            "usage: t\n",
            list.iter().map(|s| s.to_string()).collect(),
        )
    }

    #[test]
    fn addr_defaults_and_overrides() {
        assert_eq!(args(&[]).addr("127.0.0.1:8099"), "127.0.0.1:8099");
        assert_eq!(args(&["--addr", "[::1]:0"]).addr("x:1"), "[::1]:0");
        assert_eq!(args(&["--addr=localhost:5"]).addr("x:1"), "localhost:5");
    }

    #[test]
    fn addr_is_checked() {
        assert!(check_addr("127.0.0.1:8099").is_ok());
        assert!(check_addr("127.0.0.1").is_err());
        assert!(check_addr(":80").is_err());
        assert!(check_addr("127.0.0.1:65536").is_err());
    }

    #[test]
    fn values_flags_and_positionals() {
        let mut a = args(&["add", "--delay-ms", "5", "zhangsan", "--udp", "-2"]);
        assert_eq!(a.value::<u64>("--delay-ms"), Some(5));
        assert_eq!(a.value::<u64>("--count"), None);
        assert!(a.flag("--udp"));
        assert!(!a.flag("--udp"));
        assert_eq!(a.positional(), ["add", "zhangsan", "-2"]);
    }

    #[test]
    fn everything_after_a_double_dash_is_positional() {
        let mut a = args(&["--udp", "--", "--udp", "--count", "3", "--"]);
        assert!(a.flag("--udp"));
        assert!(!a.flag("--udp"));
        assert_eq!(a.value::<u64>("--count"), None);
        assert_eq!(a.positional(), ["--udp", "--count", "3", "--"]);
    }

    #[test]
    fn durations_in_milliseconds() {
        let mut a = args(&["--delay-ms", "0", "--timeout-ms", "0"]);
        assert_eq!(a.millis("--delay-ms", 1000), Duration::ZERO);
        assert_eq!(a.timeout("--timeout-ms", 10_000), Duration::from_millis(1));
        assert_eq!(a.timeout("--gap-ms", 100), Duration::from_millis(100));
    }

    #[test]
    fn missing_value_is_reported() {
        let mut rest = vec!["--count".to_string()];
        assert_eq!(
            take_value(&mut rest, "--count"),
            Err("--count needs a value".to_string())
        );
    }

    #[test]
    fn no_reply_says_why() {
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(no_reply(&eof, "1 s"), "the server closed the connection");
        let late = io::Error::from(io::ErrorKind::WouldBlock);
        assert_eq!(no_reply(&late, "1 s"), "nothing came back within 1 s");
        assert_eq!(no_reply(&io::Error::other("boom"), "1 s"), "boom");
    }

    #[test]
    fn reason_drops_the_os_error_number() {
        // An error of the system that we have no words for keeps the system's text.
        let e = io::Error::from_raw_os_error(2); // ENOENT, ERROR_FILE_NOT_FOUND
        assert!(!reason(&e).contains("os error"), "{}", reason(&e));
        assert!(!reason(&e).is_empty());
        let custom = io::Error::other("no reply");
        assert_eq!(reason(&custom), "no reply");
        // Words of a program's own error are kept, even of a kind we have words for.
        let own = io::Error::new(io::ErrorKind::TimedOut, "deadline passed");
        assert_eq!(reason(&own), "deadline passed");
    }

    /// The raw codes of this system for the common errors, with the words every system
    /// must print for them: what the lesson pages and the black-box tests expect.
    fn common_codes() -> Vec<(i32, &'static str)> {
        let linux = [
            (111, "Connection refused"),
            (98, "Address already in use"),
            (99, "Cannot assign requested address"),
            (104, "Connection reset by peer"),
            (103, "Connection aborted"),
            (107, "Socket is not connected"),
            (32, "Broken pipe"),
            (110, "Connection timed out"),
            (11, "Resource temporarily unavailable"),
            (113, "No route to host"),
            (101, "Network is unreachable"),
            (100, "Network is down"),
            (13, "Permission denied"),
            (4, "Interrupted system call"),
        ];
        let windows = [
            (10061, "Connection refused"),
            (10048, "Address already in use"),
            (10049, "Cannot assign requested address"),
            (10054, "Connection reset by peer"),
            (10053, "Connection aborted"),
            (10057, "Socket is not connected"),
            (109, "Broken pipe"), // ERROR_BROKEN_PIPE
            (10058, "Broken pipe"),
            (10060, "Connection timed out"),
            (10035, "Resource temporarily unavailable"),
            (10065, "No route to host"),
            (10051, "Network is unreachable"),
            (10050, "Network is down"),
            (10013, "Permission denied"),
            (10004, "Interrupted system call"),
            (10024, "Too many open files"),
            (10040, "Message too long"),
            (10052, "Network dropped connection on reset"),
            (10055, "No buffer space available"),
            (10064, "Host is down"),
            (232, "Broken pipe"), // ERROR_NO_DATA
            (233, "Broken pipe"), // ERROR_PIPE_NOT_CONNECTED
            (11001, "Name or service not known"),
        ];
        if cfg!(windows) {
            windows.to_vec()
        } else if cfg!(target_os = "linux") {
            linux.to_vec()
        } else {
            Vec::new() // macOS and the BSDs number their errors differently
        }
    }

    #[test]
    fn common_errors_have_the_same_words_everywhere() {
        let codes = common_codes();
        assert!(cfg!(not(any(windows, target_os = "linux"))) || codes.len() >= 14);
        for (code, words) in codes {
            let e = io::Error::from_raw_os_error(code);
            assert_eq!(reason(&e), words, "os error {code} ({:?})", e.kind());
        }
    }

    #[test]
    fn every_common_kind_has_its_words() {
        // Linux's own text for these codes is the same as ours, so the codes alone cannot
        // show that a kind has lost its words: ask for each kind's words directly (on
        // Windows and macOS the system's text differs, and these words are what it prints).
        use io::ErrorKind::*;
        let table = [
            (ConnectionRefused, "Connection refused"),
            (AddrInUse, "Address already in use"),
            (AddrNotAvailable, "Cannot assign requested address"),
            (ConnectionReset, "Connection reset by peer"),
            (ConnectionAborted, "Connection aborted"),
            (NotConnected, "Socket is not connected"),
            (BrokenPipe, "Broken pipe"),
            (TimedOut, "Connection timed out"),
            (WouldBlock, "Resource temporarily unavailable"),
            (HostUnreachable, "No route to host"),
            (NetworkUnreachable, "Network is unreachable"),
            (NetworkDown, "Network is down"),
            (PermissionDenied, "Permission denied"),
            (Interrupted, "Interrupted system call"),
        ];
        for (kind, words) in table {
            assert_eq!(common_words(kind), Some(words), "{kind:?}");
        }
    }

    #[test]
    fn only_a_trailing_os_error_number_is_cut() {
        // A text with the marker inside, not at its end, is kept whole.
        let e = io::Error::other("x (os error 5) y");
        assert_eq!(reason(&e), "x (os error 5) y");
        let e = io::Error::other("x (os error 5)");
        assert_eq!(reason(&e), "x");
    }

    #[test]
    fn winsock_lookup_codes_mean_nothing_elsewhere() {
        let e = io::Error::from_raw_os_error(11001);
        assert_eq!(is_lookup_failure(&e), cfg!(windows));
    }

    #[test]
    fn closed_pipes_are_recognised() {
        assert!(is_closed_pipe(&io::Error::from(io::ErrorKind::BrokenPipe)));
        assert!(!is_closed_pipe(&io::Error::other("x")));
        assert_eq!(
            is_closed_pipe(&io::Error::from_raw_os_error(233)),
            cfg!(windows)
        );
    }

    #[test]
    fn words_by_kind_whatever_the_code() {
        // On every system, what std calls refused, in use or reset reads the same.
        assert_eq!(
            common_words(io::ErrorKind::ConnectionRefused),
            Some("Connection refused")
        );
        assert_eq!(
            common_words(io::ErrorKind::AddrInUse),
            Some("Address already in use")
        );
        assert_eq!(
            common_words(io::ErrorKind::ConnectionReset),
            Some("Connection reset by peer")
        );
        assert_eq!(common_words(io::ErrorKind::NotFound), None);
        // WinSock codes are numbers only on Windows.
        assert_eq!(winsock_words(10055).is_some(), cfg!(windows));
    }

    #[test]
    fn refused_is_the_only_failure_with_the_hint() {
        // Refused for real: a port that was free a moment ago.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let e = std::net::TcpStream::connect(&addr).unwrap_err();
        assert_eq!(
            connect_failed(&addr, "x-server", &e),
            format!("cannot connect to {addr}: Connection refused (is x-server running?)")
        );
        let timed_out = io::Error::from_raw_os_error(if cfg!(windows) { 10060 } else { 110 });
        if cfg!(any(windows, target_os = "linux")) {
            assert_eq!(
                connect_failed("10.0.0.1:80", "x-server", &timed_out),
                "cannot connect to 10.0.0.1:80: Connection timed out"
            );
        }
        let custom = io::Error::other("boom");
        assert_eq!(
            connect_failed("10.0.0.1:80", "x-server", &custom),
            "cannot connect to 10.0.0.1:80: boom"
        );
    }

    #[test]
    fn a_name_that_does_not_resolve_is_said_so() {
        // `.invalid` never resolves (RFC 6761): the lookup fails without any network.
        let e = std::net::TcpStream::connect("nosuchhost.invalid:80").unwrap_err();
        assert_eq!(
            connect_failed("nosuchhost.invalid:80", "x-server", &e),
            "cannot resolve host 'nosuchhost.invalid'"
        );
        assert!(is_lookup_failure(&e), "{e:?}");
        // The lookup's own words, the same on Linux and Windows ("Temporary failure" when
        // the machine has no name server to ask).
        let words = reason(&e);
        if cfg!(any(windows, target_os = "linux")) {
            assert!(
                words == "Name or service not known"
                    || words == "Temporary failure in name resolution",
                "{words}"
            );
        }
        assert!(!is_lookup_failure(&io::Error::other("x")));
    }

    #[test]
    fn host_of_an_address() {
        assert_eq!(host_of("nosuchhost.invalid:80"), "nosuchhost.invalid");
        assert_eq!(host_of("[::1]:80"), "::1");
        assert_eq!(host_of("localhost"), "localhost");
    }
}
