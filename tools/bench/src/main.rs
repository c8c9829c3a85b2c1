//! The bench as a plain program, for its black-box test (tests/bench.rs runs it with
//! `--quick`) and the Windows check. Students and instructors start it with
//! `cargo bench --bench lessons` (benches/lessons.rs), which builds it optimized.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    bench::main(&args)
}
