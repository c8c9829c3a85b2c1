//! The harness: what the tour (`cargo run`), the black-box tests (`cargo test`) and the
//! instructor's tools (tools/compare, tools/bench) share. One module per job:
//!
//! - `programs`: building the lesson programs from the current source (or taking them
//!   prebuilt), through the one runner of `cargo build` and its JSON messages;
//! - `servers`: supervising a lesson server on a free loopback port, whose address is read
//!   from its `<package>: listening on <addr>` announcement;
//! - `faults`: the faults a test injects (a closed stdout, a taken port, too few file
//!   descriptors, a refused thread);
//! - `peers`: the test's own side of a connection (connect, a stand-in server, silence);
//! - `pages`: the expected-output blocks of the lesson pages.
//!
//! Everything is re-exported here, so a test says `socket_lessons::Server`, whatever the
//! module. Waiting is always with a deadline, never a sleep that hopes to win a race.

#![deny(clippy::unwrap_used)]

mod faults;
mod pages;
mod peers;
pub mod programs;
mod servers;

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

#[cfg(target_os = "linux")]
pub use faults::{Wrapped, accept_loop_backs_off, is_root, under_a_thread_limit};
pub use faults::{closed_pipe, run_on_a_taken_port, run_with_stdout_closed};
pub use pages::{lesson_block, marked_blocks, normalize_number};
pub use peers::{closed_port_addr, connect, one_shot_server, read_some, stays_silent};
pub use programs::{BIN_DIR_VAR, binary, build_programs_showing_progress, json_string_field};
pub use servers::{Server, processes_with_env};

/// How long a server may take to announce its address, and the default for every wait.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The workspace root (where the top Cargo.toml is).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Polls `condition` every few milliseconds until it holds (true) or `deadline` passes
/// (false). The pause between polls only saves CPU: no test depends on its length.
pub fn wait_until(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}
