//! Lesson 02: the contacts server, a port of server2.py with the homework done.
//! Our first protocol: the client sends `add;name;phone`, `remove;name` or `find;name`,
//! the server answers each, and `exit` ends the conversation. One client at a time.

use std::fmt;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use armour::AcceptBackoff;
use lesson_cli::Args;
use py_compat::str_repr;
use tcp_messages::{Incoming, MAX_MESSAGE, Pauses, recv_message, send_failed};

const HELP: &str = "\
usage: contacts-server [--addr HOST:PORT] [--timeout-ms MS] [--gap-ms MS]

Lesson 02: the contacts server (a port of server2.py, plus the homework: remove, find).
Keeps a phone book in memory for as long as it runs, and serves one client at a time.
It sends `Welcome!`, then answers each command:

  add;NAME;PHONE   ->  `NAME added` (a NAME already there gets the new PHONE)
  remove;NAME      ->  `NAME removed!` or `Not Found!`
  find;NAME        ->  the PHONE, or `Not Found!`
  exit             ->  no answer: the server closes the connection

Anything else gets a one-line `error: ...` answer, and the conversation goes on.
A command ends at a newline, when the client pauses for --gap-ms, or when it closes
the connection; commands are at most 1024 bytes of UTF-8 text. The phone book holds
at most 100 contacts, NAME and PHONE at most 64 bytes each: an `add` beyond that is
answered with `error: ...` and changes nothing. A client that does not send a whole
command within --timeout-ms, or does not take an answer within it, is dropped.

stdout: `Waiting for connection...` once; per client `Accept new connection from
        IP:PORT...` and `Connection from IP:PORT closed.`; after each change the whole
        phone book, as Python prints a dict: {'zhangsan': '13800138000'}
stderr: `contacts-server: listening on ADDR` once bound, and one line per bad command.

options:
  --addr HOST:PORT   where to listen (default 127.0.0.1:9999; port 0 = any free port)
  --timeout-ms MS    how long a client has to send each command, and to take each answer,
                     before it is dropped (default 10000)
  --gap-ms MS        how long a pause in the middle of a command ends it (default 100)
  -h, --help         this text
";

fn main() {
    let mut args = Args::parse("contacts-server", HELP);
    let addr = args.addr("127.0.0.1:9999");
    // --timeout-ms and --gap-ms: how long a silent client is kept, and the pause that
    // ends a command.
    let pauses = Pauses::from_args(&mut args);
    args.finish();
    if let Err(e) = start_server(&addr, pauses) {
        args.fail(format_args!(
            "cannot listen on {addr}: {}",
            lesson_cli::reason(&e)
        ));
    }
}

fn start_server(addr: &str, pauses: Pauses) -> io::Result<()> {
    // The phone book lives as long as the server: every client sees what earlier ones
    // added. (The original's global `contacts = {}`.)
    let mut contacts = Contacts::default();

    // socket() + bind() + listen() in one call.
    let s = TcpListener::bind(addr)?;
    eprintln!("contacts-server: listening on {}", s.local_addr()?);
    println!("Waiting for connection...");
    let mut backoff = AcceptBackoff::default();
    loop {
        // One client at a time: the next one waits in the backlog until worker() returns.
        match s.accept() {
            Ok((sock, addr)) => {
                backoff.succeeded("contacts-server");
                worker(sock, addr, &mut contacts, pauses);
            }
            // Most often: no file descriptor left. The client stays queued, so trying
            // again at once would fail at once; wait a little longer after each failure.
            Err(e) => backoff.failed("contacts-server", &e),
        }
    }
}

/// The whole conversation with one client, then the close.
fn worker(mut sock: TcpStream, addr: SocketAddr, contacts: &mut Contacts, pauses: Pauses) {
    println!(
        "Accept new connection from {}:{}...",
        addr.ip(),
        addr.port()
    );
    if let Err(why) = talk(&mut sock, addr, contacts, pauses) {
        eprintln!("contacts-server: {addr}: {why}");
    }
    drop(sock); // sock.close()
    println!("Connection from {}:{} closed.", addr.ip(), addr.port());
}

/// `Welcome!`, then one answer per command until `exit` or the client hangs up.
/// Err says why the conversation was cut short.
fn talk(
    sock: &mut TcpStream,
    addr: SocketAddr,
    contacts: &mut Contacts,
    pauses: Pauses,
) -> Result<(), String> {
    let timeout = pauses.timeout;
    // A write blocks while the kernel's send buffer for this socket is full, and it
    // stays full when the client sends and sends but never reads our answers. Without
    // a limit, that one client would stall this one-at-a-time server for ever.
    sock.set_write_timeout(Some(timeout))
        .map_err(|e| lesson_cli::reason(&e))?;
    let sending = |e: io::Error| send_failed(&e, timeout);
    let receiving = |e: io::Error| format!("cannot receive: {}", lesson_cli::reason(&e));
    sock.write_all(b"Welcome!").map_err(sending)?;
    let mut pending = Vec::new();
    loop {
        // One command is one message: it ends at a newline, a pause or the close
        // (the reading loop of tcp-messages, shared with welcome-server).
        let command = recv_message(sock, &mut pending, pauses);
        let reply = match command.map_err(receiving)? {
            // recv returned no bytes: the client closed its side of the connection.
            Incoming::Closed => return Ok(()),
            Incoming::Silent => return Err(format!("sent nothing for {timeout:?}; closing")),
            Incoming::TooSlow(n) => {
                return Err(format!(
                    "sent {n} bytes but no whole command within {timeout:?}; too slow, closing"
                ));
            }
            Incoming::TooLong(n) => {
                eprintln!(
                    "contacts-server: {addr}: sent a command of {n} bytes, over the limit of {MAX_MESSAGE}"
                );
                format!("error: command longer than {MAX_MESSAGE} bytes")
            }
            // The original's data.decode('utf-8') dies on bytes that are not UTF-8, and
            // the whole phone book with it; we answer with an error instead.
            Incoming::Message(data) => match String::from_utf8(data) {
                Err(e) => {
                    let n = e.as_bytes().len();
                    eprintln!("contacts-server: {addr}: sent {n} bytes that are not UTF-8 text");
                    "error: not UTF-8 text".to_string()
                }
                // `exit`: the client is done, no answer.
                Ok(text) if text == "exit" => return Ok(()),
                Ok(text) => handle(contacts, &text).unwrap_or_else(|why| {
                    eprintln!("contacts-server: {addr}: bad command {text:?}: {why}");
                    format!("error: {why}")
                }),
            },
        };
        sock.write_all(reply.as_bytes()).map_err(sending)?;
    }
}

/// Runs one command on the phone book and returns the answer for the client, or Err
/// with what is wrong with the command. Prints the phone book after each change.
fn handle(contacts: &mut Contacts, text: &str) -> Result<String, String> {
    // join(';') on the client, split(';') here: the fields of the command.
    let arg: Vec<&str> = text.split(';').collect();
    // A field may not be empty: an empty phone would be an answer of zero bytes,
    // which the client cannot tell from no answer at all.
    let filled = arg.iter().all(|field| !field.is_empty());
    match arg[..] {
        ["add", name, phone] if filled => {
            contacts.insert(name, phone)?;
            println!("{contacts}"); // show the stored data on the server
            Ok(format!("{name} added"))
        }
        ["remove", name] if filled => {
            if contacts.remove(name) {
                println!("{contacts}");
                Ok(format!("{name} removed!"))
            } else {
                Ok("Not Found!".to_string())
            }
        }
        ["find", name] if filled => Ok(contacts
            .find(name)
            .map_or("Not Found!".to_string(), str::to_string)),
        [""] => Err("empty command".to_string()),
        ["add", ..] => Err("use add;NAME;PHONE".to_string()),
        ["remove", ..] => Err("use remove;NAME".to_string()),
        ["find", ..] => Err("use find;NAME".to_string()),
        _ => Err(format!(
            "unknown command {}, use add, remove or find",
            str_repr(arg[0])
        )),
    }
}

/// The most contacts the phone book holds: every client can add to it, so without a
/// limit they could fill the server's memory. (It is printed whole after every change,
/// so a bigger one would not fit on a screen anyway.)
const MAX_CONTACTS: usize = 100;
/// The longest NAME and the longest PHONE, in bytes of UTF-8.
const MAX_FIELD: usize = 64;

/// The phone book: a Python dict of name -> phone, which keeps the order of insertion.
#[derive(Default)]
struct Contacts {
    entries: Vec<(String, String)>,
}

impl Contacts {
    /// `contacts[name] = phone`: a new name goes last, a known one keeps its place.
    /// Err, and nothing changes, when a field is too long or a new name finds the book
    /// full.
    fn insert(&mut self, name: &str, phone: &str) -> Result<(), String> {
        if name.len() > MAX_FIELD || phone.len() > MAX_FIELD {
            return Err(format!("NAME and PHONE are at most {MAX_FIELD} bytes each"));
        }
        let full = self.entries.len() >= MAX_CONTACTS;
        match self.entries.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = phone.to_string(),
            None if full => {
                return Err(format!(
                    "the phone book is full ({MAX_CONTACTS} contacts); remove one first"
                ));
            }
            None => self.entries.push((name.to_string(), phone.to_string())),
        }
        Ok(())
    }

    /// `del contacts[name]`; false if there was no such name.
    fn remove(&mut self, name: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(n, _)| n != name);
        self.entries.len() != before
    }

    fn find(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, phone)| phone.as_str())
    }
}

/// As Python's print(dict) shows it: {'zhangsan': '13800138000', 'lisi': '139'}.
impl fmt::Display for Contacts {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let pairs: Vec<String> = self
            .entries
            .iter()
            .map(|(name, phone)| format!("{}: {}", str_repr(name), str_repr(phone)))
            .collect();
        write!(f, "{{{}}}", pairs.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(contacts: &mut Contacts, text: &str) -> String {
        match handle(contacts, text) {
            Ok(reply) => reply,
            Err(why) => format!("error: {why}"),
        }
    }

    #[test]
    fn add_find_remove_find() {
        let mut c = Contacts::default();
        assert_eq!(run(&mut c, "add;zhangsan;13800138000"), "zhangsan added");
        assert_eq!(run(&mut c, "find;zhangsan"), "13800138000");
        assert_eq!(run(&mut c, "remove;zhangsan"), "zhangsan removed!");
        assert_eq!(run(&mut c, "find;zhangsan"), "Not Found!");
        assert_eq!(run(&mut c, "remove;zhangsan"), "Not Found!");
    }

    #[test]
    fn add_overwrites_in_place_like_a_dict() {
        let mut c = Contacts::default();
        run(&mut c, "add;a;1");
        run(&mut c, "add;张三;2");
        run(&mut c, "add;a;3");
        assert_eq!(c.to_string(), "{'a': '3', '张三': '2'}");
        run(&mut c, "remove;a");
        assert_eq!(c.to_string(), "{'张三': '2'}");
        run(&mut c, "remove;张三");
        assert_eq!(c.to_string(), "{}");
    }

    #[test]
    fn bad_commands_change_nothing() {
        let mut c = Contacts::default();
        run(&mut c, "add;zhangsan;138");
        for (text, answer) in [
            ("", "error: empty command"),
            ("add;onlyname", "error: use add;NAME;PHONE"),
            ("add;a;1;extra", "error: use add;NAME;PHONE"),
            ("add;;1", "error: use add;NAME;PHONE"),
            ("add;a;", "error: use add;NAME;PHONE"),
            ("remove", "error: use remove;NAME"),
            ("remove;a;b", "error: use remove;NAME"),
            ("find;", "error: use find;NAME"),
            (
                "ADD;a;1",
                "error: unknown command 'ADD', use add, remove or find",
            ),
            (
                "hello",
                "error: unknown command 'hello', use add, remove or find",
            ),
        ] {
            assert_eq!(run(&mut c, text), answer, "for {text:?}");
        }
        assert_eq!(c.to_string(), "{'zhangsan': '138'}");
    }

    #[test]
    fn the_phone_book_and_its_fields_have_a_limit() {
        let mut c = Contacts::default();
        let long = "x".repeat(MAX_FIELD + 1);
        let field_error = "error: NAME and PHONE are at most 64 bytes each";
        assert_eq!(run(&mut c, &format!("add;{long};1")), field_error);
        assert_eq!(run(&mut c, &format!("add;a;{long}")), field_error);
        // 64 bytes is allowed: 21 Chinese characters of 3 bytes, and one more byte.
        let name = format!("{}x", "张".repeat(21));
        assert_eq!(
            run(&mut c, &format!("add;{name};1")),
            format!("{name} added")
        );
        for i in 1..MAX_CONTACTS {
            c.insert(&format!("n{i}"), &i.to_string()).unwrap();
        }
        assert_eq!(
            run(&mut c, "add;one_more;1"),
            "error: the phone book is full (100 contacts); remove one first"
        );
        // A name already there may still change its phone; nothing was lost.
        assert_eq!(run(&mut c, "add;n1;111"), "n1 added");
        assert_eq!(run(&mut c, "find;n99"), "99");
        assert_eq!(run(&mut c, &format!("find;{name}")), "1");
        assert_eq!(c.entries.len(), MAX_CONTACTS);
        // Room again after a remove.
        run(&mut c, "remove;n5");
        assert_eq!(run(&mut c, "add;one_more;1"), "one_more added");
    }
}
