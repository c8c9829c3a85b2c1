//! Lesson 01: one timestamp request, and one wrong command.

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
    Ok(())
}
