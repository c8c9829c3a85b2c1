//! The armour of the lesson servers: what a real server needs against its peers, and the
//! Python originals lack. Each piece takes one line in a lesson's `main.rs`, at the place
//! where its networking idea happens; the std socket calls themselves stay in `main.rs`.
//!
//! - [`Deadline`]: a time limit for a whole request or a whole answer, not for one read or
//!   one write. `deadline.on(&stream)` gives the stream back with that limit armed before
//!   every `read` and `write`.
//! - [`AcceptBackoff`]: an accept loop that waits instead of spinning when `accept` fails.
//! - [`println!`] and [`print!`]: printing that survives a closed stdout (`| head -1`). A
//!   client ends quietly; a server that called [`listening`] logs one line, stops
//!   printing and keeps serving.
//!
//! Modules are one file per idea, so that each lesson's need is found by its name.

mod accept;
mod deadline;
mod dropped;
mod nonblocking;
pub mod stdout;

pub use accept::AcceptBackoff;
pub use deadline::{Deadline, Within};
pub use dropped::why_dropped;
pub use lesson_cli::is_timeout;
pub use stdout::{listening, stdout_closed};
