//! Lesson 04: sticky packets both ways, struct.pack, length-prefixed frames (dribbled),
//! a non-blocking accept that fails with WouldBlock, the polling server and the poll
//! server.

use std::process::{Command, Stdio};

use armour::println;
use socket_lessons::binary;

use super::{Tour, check};

pub fn run(tour: &mut Tour) -> Result<(), String> {
    // 0, 1: sticky packets. The server waits, so the two writes are read as one...
    let addr = tour.server("sticky-server", &[])?;
    tour.client("sticky-client", &["--addr", &addr], "")?;
    let stdout = tour.server_output(0, "hello world\n", 1, 1)?;
    check(
        stdout == "hello world\n",
        "sticky-server did not read `hello world` in one piece",
    )?;
    // ...or reads at once while the client pauses: two reads.
    let addr = tour.server("sticky-server", &["--delay-ms", "0"])?;
    tour.client("sticky-client", &["--addr", &addr, "--pause-ms", "300"], "")?;
    let stdout = tour.server_output(1, " world\n", 1, 1)?;
    check(
        stdout == "hello\n world\n",
        "sticky-server did not show `hello` and ` world` as two reads",
    )?;

    // struct.pack('i', 199): `(199,)` on stdout, the bytes on stderr.
    let pack = tour.client("pack-demo", &[], "")?;
    check(
        pack.status.success() && pack.stdout == b"(199,)\n",
        "pack-demo did not print (199,)",
    )?;

    // 2: length-prefixed frames, the client dribbling one byte per write.
    let addr = tour.server("framed-server", &[])?;
    tour.client(
        "framed-client",
        &["--addr", &addr, "--chunk-size", "1", "--pause-ms", "1"],
        "",
    )?;
    let stdout = tour.server_output(2, " world\n", 1, 1)?;
    check(
        stdout == "hello\n world\n",
        "framed-server did not print the two framed messages",
    )?;

    // nonblocking-accept fails on purpose: nobody is waiting to be accepted.
    show_would_block()?;

    // 3: the polling server and the interactive client, fed from a pipe.
    let addr = tour.server("nonblocking-server", &[])?;
    let out = tour.client("nonblocking-client", &["--addr", &addr], "hello\n\nabc\n")?;
    check(
        out.status.success() && out.stdout == b">>: HELLO\n>>: >>: ABC\n>>: \n",
        "nonblocking-client did not print the upper-cased replies",
    )?;
    tour.server_output(3, "raddr=", 1, 1)?;

    // 4: poll(2).
    let addr = tour.server("select-server", &[])?;
    let out = tour.client("select-client", &["--addr", &addr, "--count", "2"], "")?;
    check(
        out.status.success() && out.stdout == b"b'HELLO WORLD'\nb'HELLO WORLD'\n",
        "select-client did not print b'HELLO WORLD' twice",
    )?;
    // Wait for the b'' of the client's close: the whole conversation, as on the page.
    let stdout = tour.server_output(4, "b''\n", 1, 1)?;
    check(
        stdout.starts_with("[<socket.socket family=") && stdout.contains("b'hello world'\n"),
        "select-server did not print the ready lists and the messages",
    )?;
    Ok(())
}

/// Runs nonblocking-accept (it exits by itself, so it is not a tour server) and shows
/// that its accept fails with WouldBlock.
fn show_would_block() -> Result<(), String> {
    println!("\n$ nonblocking-accept --addr 127.0.0.1:0");
    let out = Command::new(binary("nonblocking-accept")?)
        .args(["--addr", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run nonblocking-accept: {e}"))?;
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        println!("  stderr | {line}");
    }
    println!(
        "  (exit status: {})",
        out.status
            .code()
            .map_or("killed".to_string(), |c| c.to_string())
    );
    check(
        out.status.code() == Some(1)
            && String::from_utf8_lossy(&out.stderr).contains("accept failed: WouldBlock"),
        "nonblocking-accept did not fail with WouldBlock",
    )
}
