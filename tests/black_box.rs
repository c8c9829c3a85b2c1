//! The black-box tests of every lesson program, the tour and the workspace's
//! conventions, as one test binary: each file below is one module, and keeps its own page
//! of tests. (Cargo runs test binaries one after the other; in one binary, the tests of
//! every lesson that wait for a deadline wait at the same time. Cargo.toml turns off
//! cargo's one-binary-per-file, so `every_test_file_is_compiled` checks that no file of
//! tests/ is left out.)

mod budget;
mod conventions;
mod inventory;
mod lesson01_timestamp;
mod lesson02_tcp_server;
mod lesson03_ping_pong;
mod lesson04_framing_and_io_models;
mod lesson05_long;
mod lesson05_short;
mod tour;
mod wire_tap;

/// Every file of tests/ is a module above or a test target of its own in Cargo.toml
/// (`autotests = false` there): a new test file that is in neither would never run.
#[test]
fn every_test_file_is_compiled() {
    let root = socket_lessons::workspace_root();
    let this = std::fs::read_to_string(root.join("tests/black_box.rs")).unwrap();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let mut left_out = Vec::new();
    for entry in std::fs::read_dir(root.join("tests")).unwrap().flatten() {
        let file = entry.file_name().to_string_lossy().to_string();
        let Some(module) = file.strip_suffix(".rs") else {
            continue;
        };
        let compiled = this.lines().any(|l| l == format!("mod {module};"))
            || manifest
                .lines()
                .any(|l| l == format!("path = \"tests/{file}\""));
        if !compiled {
            left_out.push(file);
        }
    }
    assert!(
        left_out.is_empty(),
        "tests/ files that no test binary compiles (add `mod NAME;` to tests/black_box.rs): {left_out:?}"
    );
}
