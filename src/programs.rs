//! Building the lesson programs from the current source, once per process, or taking
//! them prebuilt from a folder; and the one runner of `cargo build` that reads where each
//! program was built from cargo's JSON messages (the bench builds through it too).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use armour::println;

use crate::workspace_root;

/// The environment variable that hands the harness the lesson programs already built:
/// the folder that holds them (`timestamp-server`, or `timestamp-server.exe` on Windows).
/// When it is set, `binary` takes the programs from there and runs no cargo at all. The
/// Windows check (scripts/windows-check) needs it: it builds on Linux and runs the tests
/// under Wine, where no cargo can run. Without it, the programs are built from source.
pub const BIN_DIR_VAR: &str = "SOCKET_LESSONS_BIN_DIR";

/// The lesson programs of this process: built once from source, or handed over.
enum Programs {
    Built(HashMap<String, PathBuf>),
    Prebuilt(PathBuf),
}

static PROGRAMS: OnceLock<Result<Programs, String>> = OnceLock::new();

/// The path of a lesson program, built from the current source (or taken from the folder
/// that `SOCKET_LESSONS_BIN_DIR` names, see `BIN_DIR_VAR`).
///
/// The first call builds every lesson program once for the whole process (`cargo build
/// --bins -p` each package under crates/ that has a `src/main.rs`, with the `cargo` that
/// runs us, when there is one) and reads the binaries' paths from cargo's JSON messages,
/// so a test never runs a stale binary of another package. The root package and the
/// tools under tools/ are not lesson programs: they are not built here.
pub fn binary(package: &str) -> Result<PathBuf, String> {
    match PROGRAMS.get_or_init(|| find_programs(false)).as_ref()? {
        Programs::Built(binaries) => binaries
            .get(package)
            .cloned()
            .ok_or_else(|| format!("the workspace has no lesson program named {package}")),
        Programs::Prebuilt(dir) => prebuilt(dir, package),
    }
}

/// The program `package` in the folder of prebuilt programs `dir`.
pub(crate) fn prebuilt(dir: &Path, package: &str) -> Result<PathBuf, String> {
    let path = dir.join(format!("{package}{}", std::env::consts::EXE_SUFFIX));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{BIN_DIR_VAR} names {}, which has no {package}",
            dir.display()
        ))
    }
}

/// Builds the lesson programs now, unless this process has them already, and when cargo
/// has something to compile, says so on stdout with one line per package: for the tour,
/// whose first run would otherwise sit silent while the programs compile.
pub fn build_programs_showing_progress() -> Result<(), String> {
    PROGRAMS
        .get_or_init(|| find_programs(true))
        .as_ref()
        .map(|_| ())
        .map_err(Clone::clone)
}

fn find_programs(show_progress: bool) -> Result<Programs, String> {
    match std::env::var_os(BIN_DIR_VAR) {
        Some(dir) if !dir.is_empty() => Ok(Programs::Prebuilt(PathBuf::from(dir))),
        _ => {
            let packages = lesson_programs();
            let names: Vec<&str> = packages.iter().map(String::as_str).collect();
            cargo_build(&names, false, show_progress).map(|built| Programs::Built(built.paths))
        }
    }
}

/// The package names of the lesson programs: every crates/*/*/ with a `src/main.rs`.
pub fn lesson_programs() -> Vec<String> {
    let mut names: Vec<String> = lesson_crates()
        .into_iter()
        .filter(|krate| krate.join("src/main.rs").is_file())
        .filter_map(|krate| package_name(&krate))
        .collect();
    names.sort();
    names
}

/// Every crate folder under crates/ (crates/NN-lesson/<crate>/ with a Cargo.toml).
fn lesson_crates() -> Vec<PathBuf> {
    std::fs::read_dir(workspace_root().join("crates"))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|lesson| {
            std::fs::read_dir(lesson.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|krate| krate.path())
        .filter(|krate| krate.join("Cargo.toml").is_file())
        .collect()
}

/// The `name = "..."` of a crate's Cargo.toml.
fn package_name(krate: &Path) -> Option<String> {
    let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).ok()?;
    manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("name = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .map(str::to_string)
}

/// What one `cargo build` made: each binary's path by its name, and the distinct
/// opt-levels cargo reported for them ("0" for the dev profile, "3" for release).
pub struct Built {
    pub paths: HashMap<String, PathBuf>,
    pub opt_levels: Vec<String>,
}

/// Runs `cargo build --bins -p PACKAGE...` (plus `--release` when `release`), with the
/// cargo that runs us when there is one, and reads each binary's path and opt-level from
/// cargo's JSON messages as they come. With `show_progress`, a line per package that
/// cargo really compiles (not the ones already up to date), counted against the lesson
/// crates still to build.
pub fn cargo_build(packages: &[&str], release: bool, show_progress: bool) -> Result<Built, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--bins", "--quiet"])
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(workspace_root().join("Cargo.toml"));
    for package in packages {
        command.args(["-p", package]);
    }
    if release {
        command.arg("--release");
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run cargo build: {e}"))?;
    // Every crate under crates/ is in the build: a program, or a library one uses.
    let mut progress = Progress::new(lesson_crates().len());
    let mut announced = false;
    let mut built = Built {
        paths: HashMap::new(),
        opt_levels: Vec::new(),
    };
    // Cargo writes one JSON message per line as it goes: one per compiled (or already
    // up to date, "fresh") target.
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("cannot read cargo's output: {e}"))?;
            if !line.contains("\"reason\":\"compiler-artifact\"") {
                continue;
            }
            if let Some(shown) = progress.artifact(&line).filter(|_| show_progress) {
                if !announced {
                    println!("building the lesson programs (first run only, or after a change)...");
                    announced = true;
                }
                println!("{shown}");
            }
            let Some(path) = json_string_field(&line, "executable") else {
                continue;
            };
            let path = PathBuf::from(path);
            let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let level = json_string_field(&line, "opt_level").unwrap_or_else(|| "?".into());
            if !built.opt_levels.contains(&level) {
                built.opt_levels.push(level);
            }
            built.paths.insert(name.to_string(), path);
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("cannot wait for cargo build: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build failed ({status})"));
    }
    for package in packages {
        if !built.paths.contains_key(*package) {
            return Err(format!("cargo built no program named {package}"));
        }
    }
    Ok(built)
}

/// The tour's `[ 3/28] timestamp-server` lines: one per package cargo really compiles.
/// The count is of those compiled so far; the total, of the crates under crates/ minus
/// those cargo found up to date (reported as they are seen, so the count never jumps
/// over a package that was not shown).
struct Progress {
    total: usize,
    compiled: HashSet<String>,
    fresh: HashSet<String>,
}

impl Progress {
    fn new(total: usize) -> Progress {
        Progress {
            total,
            compiled: HashSet::new(),
            fresh: HashSet::new(),
        }
    }

    /// The line to show for one of cargo's compiler-artifact messages, if it is the first
    /// of a package that cargo really compiled.
    fn artifact(&mut self, line: &str) -> Option<String> {
        let package = json_string_field(line, "package_id")?;
        if !line.contains("\"fresh\":false") {
            self.fresh.insert(package);
            return None;
        }
        if !self.compiled.insert(package) {
            return None; // the package's second target (a library and a binary)
        }
        // The first "name" of the message is its target's: a library's is its package
        // name with `_` for `-` (lesson_cli), and ours all use `-`.
        let name = json_string_field(line, "name").unwrap_or_default();
        let up_to_date = self.fresh.difference(&self.compiled).count();
        let total = self
            .total
            .saturating_sub(up_to_date)
            .max(self.compiled.len());
        Some(format!(
            "  [{:>2}/{total}] {}",
            self.compiled.len(),
            name.replace('_', "-")
        ))
    }
}

/// The string value of `"field":"..."` in one line of cargo's JSON, unescaped.
/// (std has no JSON parser, and cargo's messages only need this much of one.)
pub fn json_string_field(line: &str, field: &str) -> Option<String> {
    let start = line.find(&format!("\"{field}\":\""))? + field.len() + 4;
    let mut value = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => match chars.next()? {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                other => value.push(other), // \\ \" \/
            },
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_json_string_field() {
        let line = r#"{"reason":"compiler-artifact","executable":"C:\\t\\a \"b\".exe","x":1}"#;
        assert_eq!(
            json_string_field(line, "executable").as_deref(),
            Some(r#"C:\t\a "b".exe"#)
        );
        assert_eq!(
            json_string_field(r#"{"executable":null}"#, "executable"),
            None
        );
        // The bench reads each program's opt-level from the same messages.
        let line = r#"{"profile":{"opt_level":"3","debuginfo":0},"executable":"/t/x"}"#;
        assert_eq!(json_string_field(line, "opt_level").as_deref(), Some("3"));
    }

    #[test]
    fn takes_prebuilt_programs_from_a_folder() {
        // This test binary itself stands in for a prebuilt program.
        let me = std::env::current_exe().unwrap();
        let dir = me.parent().unwrap();
        let stem = me.file_stem().unwrap().to_str().unwrap();
        assert_eq!(prebuilt(dir, stem).unwrap(), me);
        let missing = prebuilt(dir, "no-such-program").unwrap_err();
        assert!(
            missing.starts_with("SOCKET_LESSONS_BIN_DIR names ")
                && missing.ends_with(", which has no no-such-program"),
            "{missing}"
        );
    }

    #[test]
    fn the_progress_count_never_jumps() {
        let message = |id: &str, fresh: bool| {
            format!(
                r#"{{"reason":"compiler-artifact","package_id":"{id} 0.1.0","target":{{"name":"{id}"}},"fresh":{fresh}}}"#
            )
        };
        let mut progress = Progress::new(6);
        // The tour's own dependencies are up to date (`cargo run` built them), and a
        // package with two targets is shown once.
        let shown: Vec<Option<String>> = [
            ("lesson-cli", true),
            ("armour", true),
            ("py_compat", false),
            ("timestamp-server", false),
            ("timestamp-server", false),
            ("welcome-server", true),
            ("timestamp-client", false),
        ]
        .iter()
        .map(|(id, fresh)| progress.artifact(&message(id, *fresh)))
        .collect();
        assert_eq!(
            shown,
            [
                None,
                None,
                Some("  [ 1/4] py-compat".to_string()),
                Some("  [ 2/4] timestamp-server".to_string()),
                None,
                None,
                Some("  [ 3/3] timestamp-client".to_string()),
            ]
        );
    }

    #[test]
    fn every_lesson_program_is_found_and_no_tool() {
        let programs = lesson_programs();
        assert!(
            programs.iter().any(|p| p == "timestamp-server"),
            "{programs:?}"
        );
        for not_a_lesson in ["socket-lessons", "compare", "bench", "armour", "lesson-cli"] {
            assert!(!programs.iter().any(|p| p == not_a_lesson), "{programs:?}");
        }
    }
}
