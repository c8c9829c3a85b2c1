//! Lesson 02: the contacts server, a port of server2.py with the homework done.
//! Our first protocol: the client sends `add;name;phone`, `remove;name` or `find;name`,
//! the server answers each, and `exit` ends the conversation. One client at a time.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use armour::{AcceptBackoff, Deadline, println};
use lesson_cli::Args;
use py_compat::str_repr;
use tcp_messages::{Inbox, Incoming, MAX_MESSAGE, Pauses, send_failed};

const HELP: &str = include_str!("help.txt");

/// The whole conversation with one client, then the close.
fn worker(sock: TcpStream, addr: SocketAddr, contacts: &mut Contacts, pauses: Pauses) {
    let (ip, port) = (addr.ip(), addr.port());
    println!("Accept new connection from {ip}:{port}...");
    if let Err(why) = talk(&sock, addr, contacts, pauses) {
        eprintln!("contacts-server: {addr}: {why}");
    }
    drop(sock); // sock.close()
    println!("Connection from {ip}:{port} closed.");
}

/// How a conversation ends: Err says why it was cut short.
type Ending = Result<(), String>;

/// `Welcome!`, then one answer per command until `exit` or the client hangs up.
fn talk(sock: &TcpStream, addr: SocketAddr, contacts: &mut Contacts, pauses: Pauses) -> Ending {
    // sock.send(...): each answer whole within --timeout-ms. A client that sends but never
    // reads fills the kernel's buffers, and a write would wait for ever for room.
    let send = |data: &[u8]| Deadline::after(pauses.timeout).on(sock).write_all(data);
    let sending = |e| send_failed(&e, pauses.timeout);
    send(b"Welcome!").map_err(sending)?;
    let (mut inbox, mut buf) = (Inbox::new(pauses, "command"), [0u8; 1024]);
    let log = |what: String| eprintln!("contacts-server: {addr}: {what}");
    loop {
        // data = sock.recv(1024), as often as it takes for one command: it ends at a
        // newline, a pause or the close, and must come whole within --timeout-ms.
        let data = loop {
            if let Some(incoming) = inbox.message(sock) {
                break incoming;
            }
            let n = inbox.wait(sock).read(&mut buf);
            inbox.took(&buf, n);
        };
        let reply = match data {
            Incoming::Closed => return Ok(()),
            Incoming::Drop(why) => return Err(why),
            Incoming::TooLong(why) => {
                log(why);
                format!("error: command longer than {MAX_MESSAGE} bytes")
            }
            // The original's data.decode('utf-8') dies on bytes that are not UTF-8, and
            // the whole phone book with it; we answer with an error instead.
            Incoming::Message(data) => match String::from_utf8(data) {
                Err(e) => {
                    let n = e.as_bytes().len();
                    log(format!("sent {n} bytes that are not UTF-8 text"));
                    "error: not UTF-8 text".to_string()
                }
                // `exit`: the client is done, no answer.
                Ok(text) if text == "exit" => return Ok(()),
                Ok(text) => handle(contacts, &text, &mut inbox).unwrap_or_else(|why| {
                    log(format!("bad command {}: {why}", quoted(&text)));
                    format!("error: {why}")
                }),
            },
        };
        send(reply.as_bytes()).map_err(sending)?;
    }
}

fn main() {
    let mut args = Args::parse("contacts-server", HELP);
    let addr = args.addr("127.0.0.1:9999");
    let pauses = Pauses::from_args(&mut args); // --timeout-ms and --gap-ms
    args.finish();
    // The phone book lives as long as the server: every client sees what earlier ones
    // added. (The original's global `contacts = {}`.)
    let mut contacts = Contacts::default();
    // socket() + bind() + listen() in one call.
    let s = TcpListener::bind(&addr).and_then(|s| Ok((s.local_addr()?, s)));
    let failed = |e: io::Error| format!("cannot listen on {addr}: {}", lesson_cli::reason(&e));
    let (at, s) = s.unwrap_or_else(|e| args.fail(failed(e)));
    armour::listening(at);
    println!("Waiting for connection...");
    let mut backoff = AcceptBackoff::default();
    loop {
        // One client at a time: the next one waits in the backlog until worker() returns.
        // A failed accept (no descriptor left) is retried after a wait that grows.
        let Some((sock, addr)) = backoff.check("contacts-server", s.accept()) else {
            continue;
        };
        worker(sock, addr, &mut contacts, pauses);
    }
}

/// Where a quoted command is cut: the log quotes its first 60 characters, and an unknown
/// command longer than 60 bytes is not quoted back at all.
const CUT: usize = 60;

/// A command as the log quotes it, once: whole up to 60 characters, else its first 60
/// and its length, so that a client's 1 KB lines do not make 1 KB log lines.
fn quoted(text: &str) -> String {
    match text.char_indices().nth(CUT) {
        Some((cut, _)) => format!("{:?}... ({} bytes)", &text[..cut], text.len()),
        None => format!("{text:?}"),
    }
}

/// What an unknown command is told.
const USE: &str = "use add, remove or find";

/// Runs one command on the phone book and returns the answer for the client, or Err
/// with what is wrong with the command (and nothing changes).
fn handle(contacts: &mut Contacts, text: &str, inbox: &mut Inbox) -> Result<String, String> {
    // join(';') on the client, split(';') here: the fields of the command.
    let arg: Vec<&str> = text.split(';').collect();
    // A field may not be empty: an empty phone would be an answer of zero bytes,
    // which the client cannot tell from no answer at all.
    let filled = arg.iter().all(|field| !field.is_empty());
    match arg[..] {
        ["add", name, phone] if filled => {
            contacts.insert(name, phone)?;
            // print(contacts): the stored data, shown on the server after each change.
            // Commands sent ahead, without waiting for the answers, get this show only
            // within the client's time limit (tcp-messages).
            inbox.show(|| println!("{contacts}"));
            Ok(format!("{name} added"))
        }
        ["remove", name] if filled && contacts.remove(name) => {
            inbox.show(|| println!("{contacts}"));
            Ok(format!("{name} removed!"))
        }
        ["remove", _] if filled => Ok("Not Found!".to_string()),
        ["find", name] if filled => Ok(contacts.find(name).unwrap_or("Not Found!").to_string()),
        [""] => Err("empty command".to_string()),
        ["add", ..] => Err("use add;NAME;PHONE".to_string()),
        ["remove", ..] => Err("use remove;NAME".to_string()),
        ["find", ..] => Err("use find;NAME".to_string()),
        // The first field of a line of garbage is not quoted back: its length will do.
        _ if arg[0].len() > CUT => Err(format!("unknown command of {} bytes, {USE}", arg[0].len())),
        _ => Err(format!("unknown command {}, {USE}", str_repr(arg[0]))),
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
        let full = format!("the phone book is full ({MAX_CONTACTS} contacts); remove one first");
        match self.entries.iter().position(|(n, _)| n == name) {
            Some(at) => self.entries[at].1 = phone.to_string(),
            None if self.entries.len() >= MAX_CONTACTS => return Err(full),
            None => self.entries.push((name.to_string(), phone.to_string())),
        }
        Ok(())
    }

    /// `del contacts[name]`; false if there was no such name.
    fn remove(&mut self, name: &str) -> bool {
        let at = self.entries.iter().position(|(n, _)| n == name);
        at.map(|at| self.entries.remove(at)).is_some()
    }

    /// `contacts.get(name)`.
    fn find(&self, name: &str) -> Option<&str> {
        let found = self.entries.iter().find(|(n, _)| n == name);
        found.map(|(_, phone)| phone.as_str())
    }
}

/// As Python's print(dict) shows it: {'zhangsan': '13800138000', 'lisi': '139'}.
impl fmt::Display for Contacts {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let pair = |(n, p): &(String, String)| format!("{}: {}", str_repr(n), str_repr(p));
        let pairs: Vec<String> = self.entries.iter().map(pair).collect();
        write!(f, "{{{}}}", pairs.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(contacts: &mut Contacts, text: &str) -> String {
        let pauses = tcp_messages::Pauses {
            timeout: std::time::Duration::from_secs(10),
            gap: std::time::Duration::from_millis(100),
        };
        match handle(contacts, text, &mut Inbox::new(pauses, "command")) {
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
