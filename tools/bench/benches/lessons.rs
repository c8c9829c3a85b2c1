//! `cargo bench --bench lessons [-- [--quick] [LESSON...]]`: the bench, in the release
//! profile (Cargo's `bench` profile inherits it). The code is the library of this
//! package (src/lib.rs); see its `--help`.
//!
//! Cargo adds `--bench` to the arguments of every bench it runs, which is how this
//! program knows it was started by `cargo bench`. Without it, it was started by
//! `cargo test --benches` (or `--all-targets`), which checks that benches still work:
//! then it makes the tiny runs of `--quick`, as a check, not a measurement.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let by_cargo_bench = args.iter().any(|a| a == "--bench");
    args.retain(|a| a != "--bench");
    if by_cargo_bench {
        bench::main(&args)
    } else {
        bench::check(&args)
    }
}
