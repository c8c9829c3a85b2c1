//! Lesson 01: one timestamp request, one wrong command, and one request through
//! wire-tap, which shows the bytes on the wire and who closes first.

use super::{Tour, check};

pub fn run(tour: &mut Tour) -> Result<(), String> {
    let addr = tour.server("timestamp-server", &[])?;
    let good = tour.client("timestamp-client", &["--addr", &addr], "")?;
    let stdout = String::from_utf8_lossy(&good.stdout);
    check(
        good.status.success() && stdout.starts_with("current timestampe: "),
        "timestamp-client did not print the time",
    )?;
    let wrong = tour.client(
        "timestamp-client",
        &["--addr", &addr, "--command", "hello"],
        "",
    )?;
    check(
        String::from_utf8_lossy(&wrong.stdout) == "get timestampe failed\n",
        "a wrong command did not end in `get timestampe failed`",
    )?;
    // The third prompt: the server is done with the second client.
    tour.server_output(0, "now waiting for client connect", 3, 2)?;

    // The same request through the tap: the command, the time, and the server's FIN first.
    let tap = tour.server("wire-tap", &["--to", &addr, "--no-times"])?;
    tour.client("timestamp-client", &["--addr", &tap], "")?;
    let wire = tour.server_output(1, "gone", 1, 1)?;
    check(
        wire.contains("#1 c->s 9 bytes b'timetampe'\n")
            && wire.contains("#1 s->c 24 bytes b'")
            && matches!(
                (wire.find("#1 s->c FIN"), wire.find("#1 c->s FIN")),
                (Some(server), Some(client)) if server < client
            ),
        "wire-tap did not show the command, the time and the server closing first",
    )?;
    Ok(())
}
