//! Linux: a read with a timeout that a stop and continue interrupts (Ctrl-Z, then `fg`)
//! fails with EINTR (`man 7 signal`); `Within` reads again, within the deadline. A test
//! binary of its own, because it stops the whole process, and the timed tests of the
//! library's other tests must not be stopped with it.

#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use armour::Deadline;

#[test]
fn a_read_interrupted_by_a_stop_and_continue_goes_on() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 2];
        let mut within = Deadline::after(Duration::from_secs(20)).on(&server);
        within.read(&mut buf).map(|n| buf[..n].to_vec())
    });
    // Give the reader time to block in its read (if it has not yet, the stop interrupts
    // nothing and the test checks less, but it cannot fail for it).
    std::thread::sleep(Duration::from_millis(200));
    // A shell stops this process and continues it: the blocked read gets EINTR.
    let status = Command::new("sh")
        .args(["-c", "kill -STOP $PPID; sleep 0.1; kill -CONT $PPID"])
        .status()
        .unwrap();
    assert!(status.success());
    client.write_all(b"ok").unwrap();
    assert_eq!(reader.join().unwrap().unwrap(), b"ok");
}
