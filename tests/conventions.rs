//! The convention of README, checked on every program of the workspace at once: `--help`
//! starts with the usage line, an unknown option is a usage error (exit 2), and every
//! program takes its command line through the shared crate "lesson-cli".

use std::fs;

use assert_cmd::Command;
use socket_lessons::{binary, workspace_root};

/// Programs whose job is to print every argument they get, like `sys.argv` in test.py:
/// for them an unknown option is no error.
const TAKES_ANY_ARGUMENT: &[&str] = &["argv-demo"];

/// Every binary package: a folder crates/*/<crate>/ with a src/main.rs.
fn programs() -> Vec<(String, String)> {
    let mut found = Vec::new();
    let lessons = fs::read_dir(workspace_root().join("crates")).unwrap();
    for lesson in lessons.flatten() {
        for krate in fs::read_dir(lesson.path()).unwrap().flatten() {
            if !krate.path().join("src/main.rs").exists() {
                continue;
            }
            let manifest = fs::read_to_string(krate.path().join("Cargo.toml")).unwrap();
            let name = manifest
                .lines()
                .find_map(|l| l.trim().strip_prefix("name = \""))
                .and_then(|rest| rest.strip_suffix('"'))
                .unwrap()
                .to_string();
            found.push((name, manifest));
        }
    }
    found.sort();
    found
}

#[test]
fn every_program_takes_its_arguments_through_lesson_cli() {
    let programs = programs();
    assert!(programs.len() >= 2);
    for (name, manifest) in &programs {
        assert!(
            manifest.contains("lesson-cli = { path = \"../../00-shared/lesson-cli\" }"),
            "{name} does not depend on the shared crate \"lesson-cli\""
        );
    }
}

#[test]
fn every_program_answers_help_and_rejects_unknown_options() {
    for (name, _) in programs() {
        let help = Command::new(binary(&name).unwrap())
            .arg("--help")
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&help.stdout);
        assert!(help.status.success(), "{name} --help failed");
        assert!(
            text.starts_with(&format!("usage: {name}")),
            "{name} --help does not start with `usage: {name}`:\n{text}"
        );
        assert!(
            text.ends_with('\n') && !text.ends_with("\n\n"),
            "{name} --help does not end with exactly one newline"
        );
        // A real carriage return sends the cursor back to the start of the line, and the
        // rest of the sentence overwrites its start on screen: line ends are written as
        // the escapes `\r` and `\n` (short-server's and long-server's once were not).
        assert!(
            !text.contains('\r'),
            "{name} --help prints a carriage return"
        );
        let escaped = match name.as_str() {
            "short-server" => "A request may end with a line end (`\\r\\n` or `\\n`), as telnet",
            "long-server" => "Line ends (`\\r`, `\\n`) between moves are skipped",
            _ => "",
        };
        assert!(text.contains(escaped), "{name} --help lacks {escaped:?}");

        if TAKES_ANY_ARGUMENT.contains(&name.as_str()) {
            continue;
        }
        let short = Command::new(binary(&name).unwrap())
            .arg("-h")
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        assert!(short.status.success(), "{name} -h failed");
        assert_eq!(short.stdout, help.stdout, "{name}: -h differs from --help");
        let bad = Command::new(binary(&name).unwrap())
            .arg("--no-such-option")
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&bad.stderr);
        assert_eq!(
            bad.status.code(),
            Some(2),
            "{name} accepted --no-such-option"
        );
        assert!(
            err.starts_with(&format!(
                "{name}: unknown option --no-such-option\nusage: {name}"
            )),
            "{name}'s usage error is not the convention's:\n{err}"
        );
    }
}

/// What each client needs besides `--addr` to get as far as connecting.
fn client_args(name: &str) -> &'static [&'static str] {
    match name {
        "contacts-client" => &["find", "zhangsan"],
        _ => &[],
    }
}

/// A host name that does not resolve is no "is the server running?" matter: every client
/// says which name failed, in the same words on every system. (`.invalid` never resolves,
/// RFC 6761, so this needs no network.)
#[test]
fn every_client_says_when_a_host_name_does_not_resolve() {
    let clients: Vec<String> = programs()
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| name.ends_with("-client"))
        .collect();
    assert!(clients.len() >= 10, "{clients:?}");
    for name in clients {
        let out = Command::new(binary(&name).unwrap())
            .args(["--addr", "nosuchhost.invalid:80"])
            .args(client_args(&name))
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("{name}: cannot resolve host 'nosuchhost.invalid'\n"),
            "{name}"
        );
        assert_eq!(out.status.code(), Some(1), "{name}");
    }
}

/// std::env::args would panic on an argument that is not UTF-8; lesson-cli reports it.
/// Unix builds such an argument from bytes that are not UTF-8, Windows from UTF-16 with
/// an unpaired surrogate (Windows arguments are UTF-16); both print it the same way.
#[test]
fn an_argument_that_is_not_utf8_is_a_usage_error() {
    let out = Command::new(binary("timestamp-client").unwrap())
        .arg(not_unicode())
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with(&format!(
            "timestamp-client: argument {NOT_UNICODE_SHOWN} is not valid UTF-8\nusage: "
        )),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `a` and a byte that UTF-8 never uses.
#[cfg(unix)]
fn not_unicode() -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    std::ffi::OsString::from_vec(vec![b'a', 0xff])
}
#[cfg(unix)]
const NOT_UNICODE_SHOWN: &str = r#""a\xFF""#;

/// `a` and half of a UTF-16 surrogate pair, which no Unicode text contains.
#[cfg(windows)]
fn not_unicode() -> std::ffi::OsString {
    use std::os::windows::ffi::OsStringExt;
    std::ffi::OsString::from_wide(&[u16::from(b'a'), 0xD800])
}
#[cfg(windows)]
const NOT_UNICODE_SHOWN: &str = r#""a\u{d800}""#;

/// The armour a real server needs (a deadline for a whole request, accept with back-off,
/// printing that survives a closed stdout) is written once, in the shared crate "armour":
/// no other crate of the workspace has its own copy for a lesson program to hide.
#[test]
fn the_armour_lives_in_one_crate() {
    let mut copies = Vec::new();
    let lessons = fs::read_dir(workspace_root().join("crates")).unwrap();
    for lesson in lessons.flatten() {
        for krate in fs::read_dir(lesson.path()).unwrap().flatten() {
            if krate.file_name() == "armour" {
                continue;
            }
            for file in fs::read_dir(krate.path().join("src")).unwrap().flatten() {
                let text = fs::read_to_string(file.path()).unwrap_or_default();
                for copy in [
                    "struct Deadline",
                    "struct AcceptBackoff",
                    "macro_rules! println",
                ] {
                    if text.contains(copy) {
                        copies.push(format!("{}: {copy}", file.path().display()));
                    }
                }
            }
        }
    }
    assert!(
        copies.is_empty(),
        "copies of the armour:\n{}",
        copies.join("\n")
    );
}

/// A client whose stdout fails for another reason than a closed pipe (a full disk:
/// Linux's /dev/full) says so and exits 1: only a closed pipe ends a program quietly.
#[cfg(target_os = "linux")]
#[test]
fn a_print_that_fails_otherwise_is_an_error() {
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = std::process::Command::new(binary("pack-demo").unwrap())
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "pack-demo: cannot print: No space left on device\n"
    );
}
