//! What compare runs, as data: per lesson, the original files it looks for (with where
//! each is in its document and what Python 3.11 needs changed), and the scenarios: which
//! programs play the server and the clients, with which inputs, and how each one ends.

use super::normalise::Rule;

/// A lesson as compare knows it: the tour's number and name, its seed, its files.
pub struct Lesson {
    pub id: &'static str,
    pub name: &'static str,
    pub page: &'static str,
    pub document: &'static str,
    pub files: &'static [File],
}

/// One file compare looks for in the instructor's folder.
pub struct File {
    pub name: &'static str,
    /// Where the program is in its document.
    pub section: &'static str,
    /// What to do to run it on Python 3.11, in our words ("" = copy it as it is).
    pub notes: &'static str,
}

/// Where a program connects or listens.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Addr {
    /// Takes no address (argv-demo, pack-demo).
    None,
    /// A server of the scenario: ours gets `--addr 127.0.0.1:0`; the shim moves Python's.
    Listen,
    /// A client of the scenario's server: ours gets `--addr 127.0.0.1:PORT`; the shim
    /// sends Python's fixed port there.
    Server,
    /// A client with nobody to talk to: both are sent to a port where nobody listens.
    Closed,
}

/// How a program's run ends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum End {
    /// It exits by itself (stopped at the step deadline if it does not).
    Exits,
    /// It runs until it is stopped: once the clients are done, compare waits until it
    /// has printed this many stdout lines (what the original prints in the scenario, or
    /// ours where ours prints fewer by a known difference), then until it has been
    /// quiet for a moment (so that an extra line is seen too), and stops it.
    Stopped(usize),
    /// It prints without end: compare keeps its first N stdout lines and stops it.
    FirstLines(usize),
}

/// One program of a scenario, as the original (a file in DIR) and as ours (a package).
pub struct Prog {
    /// The original's file name; None when the original is not a Python program
    /// (lesson 03's clients are telnet and nc).
    pub file: Option<&'static str>,
    pub package: &'static str,
    /// Arguments both get.
    pub args: &'static [&'static str],
    /// Arguments only ours gets: the flags that make ours behave like the original
    /// as compare runs it (shortened show pauses, a short timeout).
    pub ours_args: &'static [&'static str],
    pub stdin: &'static str,
    pub addr: Addr,
    pub end: End,
    /// Why there is no Python original for this side, when `file` is None.
    pub none_why: &'static str,
    /// The exceptions the original raises in this scenario as its document's program
    /// does (a traceback on stderr that is no failure: `nonblocking_accept.py`'s
    /// BlockingIOError). A program that exits by itself exits 1 with one, 0 without.
    /// Any other exception, or another exit status, and the original did not run as
    /// its document's program would: the row says FAILED (see main.rs).
    pub raises: &'static [&'static str],
}

/// A server with what it must have bound before the clients start.
pub struct ServerSpec {
    pub prog: Prog,
    /// "tcp" and/or "udp": what the Python shim must report bound (ours announces itself).
    pub ready: &'static [&'static str],
}

/// One scenario: a server and clients run one after the other, or one standalone
/// program (no server, one client).
pub struct Scenario {
    pub lesson: &'static str,
    pub name: &'static str,
    pub what: &'static str,
    /// The fixed port the original programs use.
    pub port: u16,
    pub server: Option<ServerSpec>,
    pub clients: &'static [Prog],
    pub rules: &'static [Rule],
    /// The Python server is the instructor's reconstruction of a program the document
    /// does not show, and ours is a reconstruction too: where they differ, the row
    /// says RECONSTRUCTIONS DIFFER, not DIFF.
    pub reconstruction: bool,
    /// The wire tap relays datagrams (the clients use UDP), not a TCP stream.
    pub udp: bool,
    /// The tap holds what the client sends back for this long (from its first byte, or
    /// until the client's end) and passes it on as one write (wire-tap's --merge-ms).
    pub merge_ms: Option<u64>,
    /// A scenario whose programs are stopped after their first lines: only this many
    /// bytes of each direction are compared, and not how the connection ended.
    pub wire_prefix: Option<usize>,
    /// The server's moves of the long game, fed to the Python server (the shim's
    /// random.choice) as ours gets them from `--seed` (LONG_SEED): the same moves on
    /// both sides, so that every result is compared as it is.
    pub moves: &'static [u8],
}

/// What a scenario has unless it says otherwise.
const SCENARIO: Scenario = Scenario {
    lesson: "",
    name: "",
    what: "",
    port: 0,
    server: None,
    clients: &[],
    rules: &[],
    reconstruction: false,
    udp: false,
    merge_ms: None,
    wire_prefix: None,
    moves: &[],
};

/// The tap holds a short request back this long (or until the client's FIN): our
/// short client's FIN releases it at once, before the server can answer, where the
/// original client waits for the answer the window releases. So the wire tells a
/// half-close from a close on every run (wire.rs, `went_on`), for 250 ms per original
/// short client's connection.
const SHORT_MERGE_MS: Option<u64> = Some(250);

/// The seed our long-server gets (`--seed`), and the first moves it picks with it on
/// every connection: 1 scissors, 2 rock, 3 paper. They hold every result for the
/// long client's scissors (draw, lose, win) and for paper (the original's wrong win
/// against scissors first). A test checks them against long-server itself.
pub const LONG_SEED: &str = "35";
pub const LONG_MOVES: &[u8] = &[1, 2, 3, 2, 3];

/// The show pause that compare gives both sides: our `--delay-ms`, and the shim's
/// `time.sleep` limit for the originals.
pub const DELAY_MS: u64 = 10;

/// What the report says about a scenario whenever a Python program ran in it.
pub static NOTES: &[(&str, &str)] = &[
    (
        "02/homework",
        "server2_homework.py is your own solution of the homework, not an original",
    ),
    (
        "03/ping-tcp",
        "ping_pong_server.py is your reconstruction (the document has no code); ours is a \
         reconstruction too, and where the two differ the row says RECONSTRUCTIONS DIFFER",
    ),
    (
        "03/ping-udp",
        "ping_pong_server.py is your reconstruction (the document has no code); ours is a \
         reconstruction too, and where the two differ the row says RECONSTRUCTIONS DIFFER",
    ),
];

const fn client(file: Option<&'static str>, package: &'static str) -> Prog {
    Prog {
        file,
        package,
        args: &[],
        ours_args: &[],
        stdin: "",
        addr: Addr::Server,
        end: End::Exits,
        none_why: "the original client takes no such input",
        raises: &[],
    }
}

const fn with_args(mut prog: Prog, args: &'static [&'static str]) -> Prog {
    prog.args = args;
    prog
}

const fn with_ours(mut prog: Prog, ours_args: &'static [&'static str]) -> Prog {
    prog.ours_args = ours_args;
    prog
}

const fn server(file: &'static str, package: &'static str, end: End) -> ServerSpec {
    ServerSpec {
        prog: Prog {
            file: Some(file),
            package,
            args: &[],
            ours_args: &[],
            stdin: "",
            addr: Addr::Listen,
            end,
            none_why: "",
            raises: &[],
        },
        ready: &["tcp"],
    }
}

const fn server_with(mut spec: ServerSpec, ours_args: &'static [&'static str]) -> ServerSpec {
    spec.prog.ours_args = ours_args;
    spec
}

const fn server_raising(mut spec: ServerSpec, raises: &'static [&'static str]) -> ServerSpec {
    spec.prog.raises = raises;
    spec
}

const fn raising(mut prog: Prog, raises: &'static [&'static str]) -> Prog {
    prog.raises = raises;
    prog
}

/// The long server as compare runs it: our moves from LONG_SEED. The original's task
/// crashes when the client leaves (`int(b'')`, then `self.task.cancle()`): tracebacks
/// its document's program prints too (page 05, "A client that leaves ends its game
/// cleanly").
const fn long_server(lines: usize) -> ServerSpec {
    server_raising(
        server_with(
            server("long_server.py", "long-server", End::Stopped(lines)),
            &["--seed", LONG_SEED],
        ),
        &["ValueError", "AttributeError"],
    )
}

const fn standalone(file: &'static str, package: &'static str, addr: Addr) -> Prog {
    Prog {
        file: Some(file),
        package,
        args: &[],
        ours_args: &[],
        stdin: "",
        addr,
        end: End::Exits,
        none_why: "",
        raises: &[],
    }
}

/// Lesson 03's clients are telnet and nc in the document: ping-client stands in.
const fn telnet(args: &'static [&'static str]) -> Prog {
    let mut prog = with_args(client(None, "ping-client"), args);
    prog.none_why = "the document's client is telnet or nc, not a Python program";
    prog
}

/// The ports of each run are masked in every scenario; these have no rule of their own.
const COMMON: &[Rule] = &[];

pub static LESSONS: &[Lesson] = &[
    Lesson {
        id: "01",
        name: "timestamp",
        page: "lessons/01-timestamp.md",
        document: "the article \"C&S服务器框架结构\"",
        files: &[
            File {
                name: "TimestampeServer.py",
                section: "服务端, the block that starts with `# TimestampeServer.py`",
                notes: "",
            },
            File {
                name: "Client.py",
                section: "客户端, the block that starts with `# Client.py`",
                notes: "",
            },
        ],
    },
    Lesson {
        id: "02",
        name: "tcp-server",
        page: "lessons/02-tcp-server.md",
        document: "the article \"TCP编程-Server\"",
        files: &[
            File {
                name: "server.py",
                section: "服务器, the complete program after 整个服务端完整的代码如下(server.py)",
                notes: "",
            },
            File {
                name: "client.py",
                section: "再写一个客户端, the program that sends message1 to message5",
                notes: "",
            },
            File {
                name: "test.py",
                section: "设计一个简单的协议, the sys.argv example",
                notes: "Python 2: its two `print '...', x` statements need parentheses, \
                        print('...', x), to run on Python 3.",
            },
            File {
                name: "server2.py",
                section: "设计一个简单的协议, the complete program after 完整代码如下（server2.py）",
                notes: "It answers only `add`: remove and find are the homework.",
            },
            File {
                name: "client2.py",
                section: "设计一个简单的协议, the program after (client2.py)",
                notes: "",
            },
            File {
                name: "server2_homework.py",
                section: "作业 (homework): not in the document",
                notes: "Your own solution of the homework: server2.py plus `remove;NAME` \
                        (answers `NAME removed!` or `Not Found!`) and `find;NAME` (the \
                        phone or `Not Found!`). The homework scenario runs only with it.",
            },
        ],
    },
    Lesson {
        id: "03",
        name: "ping-pong",
        page: "lessons/03-ping-pong.md",
        document: "the untitled article on c/s架构 and a ping/pong服务",
        files: &[
            File {
                name: "accept_loop.py",
                section: "python socket编程, the first example (来看一个最简单的例子)",
                notes: "The document flattens it onto one line: put each statement on \
                        its own line and indent the two lines of the while loop.",
            },
            File {
                name: "ping_pong_server.py",
                section: "写一个最简单的ping/pong服务: the document has no code at all",
                notes: "Your own reconstruction, as the text describes it (TCP and UDP \
                        on port 8888, one thread each; print what arrives, answer pong). \
                        Our ping-pong-server is a reconstruction too (it prints `tcp|udp \
                        ADDR DATA` and answers the 5 bytes `pong\\n`): the ping rows \
                        compare two reconstructions, and say RECONSTRUCTIONS DIFFER, not \
                        DIFF, where they differ.",
            },
        ],
    },
    Lesson {
        id: "04",
        name: "framing-and-io-models",
        page: "lessons/04-framing-and-io-models.md",
        document: "the article \"网络编程\"",
        files: &[
            File {
                name: "sticky_server.py",
                section: "3.2 tcp粘包问题, the first block (the server)",
                notes: "",
            },
            File {
                name: "sticky_client.py",
                section: "3.2 tcp粘包问题, the second block (the client)",
                notes: "",
            },
            File {
                name: "pack.py",
                section: "3.2, 解决粘包的问题: the struct.pack / struct.unpack block",
                notes: "Indented inside a list item: remove the four leading spaces.",
            },
            File {
                name: "framed_server.py",
                section: "3.2, 解决粘包的问题: the server with header1 / header2",
                notes: "Remove the four leading spaces; two lines (`else:` and \
                        `chunk = conn.recv(lth)`) are indented with a tab where the rest \
                        uses spaces (Python 3 stops with TabError): indent them with \
                        spaces like the lines around them.",
            },
            File {
                name: "framed_client.py",
                section: "3.2, 解决粘包的问题: the client that sends header1 and data1",
                notes: "Remove the four leading spaces.",
            },
            File {
                name: "nonblocking_accept.py",
                section: "4. 阻塞和非阻塞, the first block (setblocking(False) before bind)",
                notes: "",
            },
            File {
                name: "nonblocking_accept_client.py",
                section: "4. 阻塞和非阻塞, the second block (sends hello1 world)",
                notes: "",
            },
            File {
                name: "nonblocking_server.py",
                section: "4. 阻塞和非阻塞, the polling server on port 8082",
                notes: "",
            },
            File {
                name: "nonblocking_client.py",
                section: "4. 阻塞和非阻塞, the `>>: ` client",
                notes: "`client =s ocket.socket(...)` is a typo (SyntaxError): write \
                        `client = socket.socket(...)`. Its last line, `phone.close()`, \
                        is never reached and can stay.",
            },
            File {
                name: "select_server.py",
                section: "5. IO多路复用, the first block",
                notes: "",
            },
            File {
                name: "select_client.py",
                section: "5. IO多路复用, the second block",
                notes: "",
            },
        ],
    },
    Lesson {
        id: "05",
        name: "short-and-long-connections",
        page: "lessons/05-short-and-long-connections.md",
        document: "the article \"客户端服务器结构\"",
        files: &[
            File {
                name: "short_server.py",
                section: "短链接, 服务端协议实现",
                notes: "A notebook cell: delete its first line, `%%writefile short_server.py`.",
            },
            File {
                name: "short_client.py",
                section: "短链接, 客户端实现",
                notes: "",
            },
            File {
                name: "long_server.py",
                section: "长连接, 服务器实现",
                notes: "A notebook cell: delete its first line, `%%writefile long_server.py`.",
            },
            File {
                name: "long_client.py",
                section: "长连接, 客户端协议实现: two notebook cells (class LongClient, then main)",
                notes: "Put both cells into one file, the class first. Python 3.10 \
                        removed the `loop=` argument of asyncio.open_connection: delete \
                        `,loop=self.loop` from that call.",
            },
        ],
    },
];

pub static SCENARIOS: &[Scenario] = &[
    // ---- 01 timestamp
    Scenario {
        lesson: "01",
        name: "timestamp",
        what: "one timestamp request",
        port: 8099,
        server: Some(server(
            "TimestampeServer.py",
            "timestamp-server",
            End::Stopped(3),
        )),
        clients: &[client(Some("Client.py"), "timestamp-client")],
        rules: &[Rule::Ports, Rule::Time],
        ..SCENARIO
    },
    Scenario {
        lesson: "01",
        name: "wrong-command",
        what: "a wrong command (only our client can send one)",
        port: 8099,
        server: Some(server(
            "TimestampeServer.py",
            "timestamp-server",
            End::Stopped(3),
        )),
        clients: &[with_args(
            client(None, "timestamp-client"),
            &["--command", "hello"],
        )],
        rules: COMMON,
        ..SCENARIO
    },
    // ---- 02 tcp-server
    Scenario {
        lesson: "02",
        name: "welcome",
        what: "the welcome conversation: message1 to message5, then exit",
        port: 9999,
        server: Some(server_with(
            server("server.py", "welcome-server", End::Stopped(3)),
            &["--delay-ms", "10", "--gap-ms", "10"],
        )),
        clients: &[client(Some("client.py"), "welcome-client")],
        rules: COMMON,
        ..SCENARIO
    },
    Scenario {
        lesson: "02",
        name: "argv",
        what: "sys.argv: test.py arg1 arg2 arg3",
        port: 0,
        server: None,
        clients: &[with_args(
            standalone("test.py", "argv-demo", Addr::None),
            &["arg1", "arg2", "arg3"],
        )],
        rules: &[],
        ..SCENARIO
    },
    Scenario {
        lesson: "02",
        name: "argv-text",
        what: "sys.argv with Chinese text, a space and a quote",
        port: 0,
        server: None,
        clients: &[with_args(
            standalone("test.py", "argv-demo", Addr::None),
            &["张三", "hello world", "o'neil"],
        )],
        rules: &[],
        ..SCENARIO
    },
    Scenario {
        lesson: "02",
        name: "argv-dash-h",
        what: "sys.argv with -h, an argument like any other for test.py",
        port: 0,
        server: None,
        clients: &[with_args(
            standalone("test.py", "argv-demo", Addr::None),
            &["-h"],
        )],
        rules: &[],
        ..SCENARIO
    },
    Scenario {
        lesson: "02",
        name: "contacts",
        what: "client2.py add zhangsan 13800138000, then add 张三 13900139000",
        port: 9999,
        server: Some(server_with(
            server("server2.py", "contacts-server", End::Stopped(7)),
            &["--gap-ms", "10"],
        )),
        clients: &[
            with_args(
                client(Some("client2.py"), "contacts-client"),
                &["add", "zhangsan", "13800138000"],
            ),
            with_args(
                client(Some("client2.py"), "contacts-client"),
                &["add", "张三", "13900139000"],
            ),
        ],
        rules: COMMON,
        ..SCENARIO
    },
    Scenario {
        lesson: "02",
        name: "homework",
        what: "add, find, remove, find again (needs your server2_homework.py)",
        port: 9999,
        server: Some(server_with(
            server("server2_homework.py", "contacts-server", End::Stopped(11)),
            &["--gap-ms", "10"],
        )),
        clients: &[
            with_args(
                client(Some("client2.py"), "contacts-client"),
                &["add", "zhangsan", "13800138000"],
            ),
            with_args(
                client(Some("client2.py"), "contacts-client"),
                &["find", "zhangsan"],
            ),
            with_args(
                client(Some("client2.py"), "contacts-client"),
                &["remove", "zhangsan"],
            ),
            with_args(
                client(Some("client2.py"), "contacts-client"),
                &["find", "zhangsan"],
            ),
        ],
        rules: COMMON,
        ..SCENARIO
    },
    // ---- 03 ping-pong
    Scenario {
        lesson: "03",
        name: "accept",
        what: "the accept loop, and one client (telnet in the document; ping-client here)",
        port: 9999,
        server: Some(server("accept_loop.py", "accept-printer", End::Stopped(1))),
        clients: &[telnet(&["--timeout-ms", "100"])],
        rules: &[Rule::Ports, Rule::Fd],
        ..SCENARIO
    },
    Scenario {
        lesson: "03",
        name: "ping-tcp",
        what: "hello pdudo over TCP (telnet in the document; ping-client here; two reconstructions)",
        port: 8888,
        server: Some(ServerSpec {
            prog: server("ping_pong_server.py", "ping-pong-server", End::Stopped(1)).prog,
            ready: &["tcp", "udp"],
        }),
        clients: &[telnet(&[])],
        rules: COMMON,
        reconstruction: true,
        ..SCENARIO
    },
    Scenario {
        lesson: "03",
        name: "ping-udp",
        what: "hello pdudo over UDP (nc -u in the document; ping-client --udp here; two reconstructions)",
        port: 8888,
        server: Some(ServerSpec {
            prog: server("ping_pong_server.py", "ping-pong-server", End::Stopped(1)).prog,
            ready: &["tcp", "udp"],
        }),
        clients: &[telnet(&["--udp"])],
        rules: COMMON,
        reconstruction: true,
        udp: true,
        ..SCENARIO
    },
    // ---- 04 framing-and-io-models
    Scenario {
        lesson: "04",
        name: "sticky",
        what: "hello and ` world` in two writes, read by one recv",
        port: 8001,
        server: Some(server("sticky_server.py", "sticky-server", End::Exits)),
        clients: &[client(Some("sticky_client.py"), "sticky-client")],
        rules: &[],
        // The document's demo: both writes reach the server before its one recv. The
        // tap passes them on as one write (the client closes right after them, which
        // ends the wait), so the original reads them together on every run, however
        // busy the machine is (page 04, "The sticky demo is reproducible").
        merge_ms: Some(2000),
        ..SCENARIO
    },
    Scenario {
        lesson: "04",
        name: "pack",
        what: "struct.pack('i', 199) and struct.unpack",
        port: 0,
        server: None,
        clients: &[standalone("pack.py", "pack-demo", Addr::None)],
        rules: &[],
        ..SCENARIO
    },
    Scenario {
        lesson: "04",
        name: "framed",
        what: "two messages with 4-byte length headers",
        port: 8001,
        server: Some(server("framed_server.py", "framed-server", End::Exits)),
        clients: &[client(Some("framed_client.py"), "framed-client")],
        rules: &[],
        ..SCENARIO
    },
    Scenario {
        lesson: "04",
        name: "nonblocking-accept",
        what: "accept on a non-blocking socket with nobody waiting",
        port: 8001,
        server: None,
        clients: &[raising(
            standalone("nonblocking_accept.py", "nonblocking-accept", Addr::Listen),
            &["BlockingIOError"],
        )],
        rules: &[],
        ..SCENARIO
    },
    Scenario {
        lesson: "04",
        name: "nonblocking-accept-client",
        what: "the hello1 world client with nobody listening",
        port: 8001,
        server: None,
        clients: &[raising(
            standalone(
                "nonblocking_accept_client.py",
                "nonblocking-accept-client",
                Addr::Closed,
            ),
            &["ConnectionRefusedError"],
        )],
        rules: &[],
        ..SCENARIO
    },
    Scenario {
        lesson: "04",
        name: "nonblocking",
        what: "the polling server and the >>: client, typed lines hello, (empty), abc",
        port: 8082,
        server: Some(server(
            "nonblocking_server.py",
            "nonblocking-server",
            End::Stopped(3),
        )),
        // At the end of its input, input() raises EOFError.
        clients: &[Prog {
            stdin: "hello\n\nabc\n",
            raises: &["EOFError"],
            ..client(Some("nonblocking_client.py"), "nonblocking-client")
        }],
        rules: &[Rule::Ports, Rule::Fd],
        ..SCENARIO
    },
    Scenario {
        lesson: "04",
        name: "select",
        what: "the select server and its client that loops for ever (first lines)",
        port: 8001,
        server: Some(server(
            "select_server.py",
            "select-server",
            End::FirstLines(1 + 2 * 3),
        )),
        clients: &[Prog {
            end: End::FirstLines(3),
            ..client(Some("select_client.py"), "select-client")
        }],
        rules: &[Rule::Ports, Rule::Fd],
        // Three rounds of 11 bytes each way: what the first lines show.
        wire_prefix: Some(3 * 11),
        ..SCENARIO
    },
    // ---- 05 short-and-long-connections
    Scenario {
        lesson: "05",
        name: "short",
        what: "the square and the cube of 2, one short connection each",
        port: 5000,
        server: Some(server("short_server.py", "short-server", End::Stopped(5))),
        clients: &[client(Some("short_client.py"), "short-client")],
        rules: &[Rule::Ports, Rule::Unordered],
        merge_ms: SHORT_MERGE_MS,
        ..SCENARIO
    },
    Scenario {
        lesson: "05",
        name: "short-request",
        what: "a1e8 (only our client takes a request)",
        port: 5000,
        server: Some(server("short_server.py", "short-server", End::Stopped(3))),
        clients: &[with_args(client(None, "short-client"), &["a", "1e8"])],
        rules: COMMON,
        merge_ms: SHORT_MERGE_MS,
        ..SCENARIO
    },
    Scenario {
        lesson: "05",
        name: "short-overflow",
        what: "a1e200: x**2 overflows",
        port: 5000,
        // The original prints a third line, `The client closed the connection`, at the
        // moment it drops the request; ours does not (short-bad-request in known.rs).
        // Its traceback: OverflowError (page 05, "`a1e200`: Python's `**` overflows.").
        server: Some(server_raising(
            server("short_server.py", "short-server", End::Stopped(2)),
            &["OverflowError"],
        )),
        clients: &[with_args(client(None, "short-client"), &["a", "1e200"])],
        rules: COMMON,
        merge_ms: SHORT_MERGE_MS,
        ..SCENARIO
    },
    Scenario {
        lesson: "05",
        name: "short-bare-letter",
        what: "a bare letter `a`, no number",
        port: 5000,
        // float('') raises ValueError (page 05, "A bare letter waits for its number.").
        server: Some(server_raising(
            server("short_server.py", "short-server", End::Stopped(3)),
            &["ValueError"],
        )),
        clients: &[with_ours(
            with_args(client(None, "short-client"), &["a", ""]),
            &["--timeout-ms", "1000"],
        )],
        rules: COMMON,
        merge_ms: SHORT_MERGE_MS,
        ..SCENARIO
    },
    Scenario {
        lesson: "05",
        name: "long",
        what: "five rounds of 剪刀 over one long connection",
        port: 5000,
        server: Some(long_server(23)),
        clients: &[client(Some("long_client.py"), "long-client")],
        rules: &[Rule::Ports],
        moves: LONG_MOVES,
        ..SCENARIO
    },
    Scenario {
        lesson: "05",
        name: "long-paper",
        what: "five rounds of 布 (only our client takes moves)",
        port: 5000,
        server: Some(long_server(23)),
        clients: &[with_args(
            client(None, "long-client"),
            &["布", "布", "布", "布", "布"],
        )],
        rules: &[Rule::Ports],
        moves: LONG_MOVES,
        ..SCENARIO
    },
    Scenario {
        lesson: "05",
        name: "long-unknown",
        what: "布, then an unknown move",
        port: 5000,
        server: Some(long_server(7)),
        clients: &[with_args(client(None, "long-client"), &["布", "lizard"])],
        rules: &[Rule::Ports],
        moves: LONG_MOVES,
        ..SCENARIO
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Proc;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::process::Command;
    use std::time::Duration;

    /// The moves compare feeds the Python long server are the ones our long-server
    /// picks with LONG_SEED: played against it, round after round.
    #[test]
    fn the_fed_moves_are_our_long_servers_with_its_seed() {
        let mut cmd = Command::new(socket_lessons::binary("long-server").unwrap());
        cmd.args(["--addr", "127.0.0.1:0", "--seed", LONG_SEED]);
        let server = Proc::spawn(cmd, "").unwrap();
        let mut port = None;
        socket_lessons::wait_until(Duration::from_secs(20), || {
            let err = String::from_utf8_lossy(&server.stderr()).to_string();
            port = err
                .lines()
                .find_map(|l| l.strip_prefix("long-server: listening on 127.0.0.1:"))
                .and_then(|p| p.trim().parse::<u16>().ok());
            port.is_some()
        });
        let mut game = TcpStream::connect(("127.0.0.1", port.unwrap())).unwrap();
        game.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut results = [0u8; 1];
        for _ in LONG_MOVES {
            game.write_all(b"1").unwrap();
            game.read_exact(&mut results).unwrap();
        }
        drop(game);
        let rounds = LONG_MOVES.len();
        socket_lessons::wait_until(Duration::from_secs(20), || {
            String::from_utf8_lossy(&server.stdout())
                .matches("remot: ")
                .count()
                >= rounds
        });
        let out = server.finish(None);
        let moves: Vec<u8> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("remot: ")?.parse().ok())
            .collect();
        assert_eq!(moves, LONG_MOVES);
    }
}
