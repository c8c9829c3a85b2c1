//! The lesson programs the bench measures, built by cargo with the bench's own profile:
//! under `cargo run --release -- bench` they are release builds too. (The harness's
//! `binary()` always builds the default, unoptimized profile, which the tests want.)

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use socket_lessons::workspace_root;

/// The built lesson programs, and how cargo built them.
pub struct Programs {
    paths: HashMap<String, PathBuf>,
    /// The distinct opt-levels cargo reported for them ("3" for release, "0" for dev).
    opt_levels: Vec<String>,
}

/// Whether this bench itself was built with optimizations (`--release`). The lesson
/// programs are built the same way, so that the two sides are comparable.
fn bench_is_release() -> bool {
    !cfg!(debug_assertions)
}

impl Programs {
    /// Runs `cargo build --bins -p PACKAGE...` (plus `--release` when we are a release
    /// build) with the cargo that runs us, and reads each binary's path and opt-level
    /// from cargo's JSON messages.
    pub fn build(packages: &[&str]) -> Result<Programs, String> {
        // Handed prebuilt programs (the Windows check under Wine, where no cargo runs):
        // take those, and say so.
        if std::env::var_os(socket_lessons::BIN_DIR_VAR).is_some() {
            let mut paths = HashMap::new();
            for package in packages {
                paths.insert(package.to_string(), socket_lessons::binary(package)?);
            }
            return Ok(Programs {
                paths,
                opt_levels: vec![format!(
                    "unknown: taken from {}",
                    socket_lessons::BIN_DIR_VAR
                )],
            });
        }
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
        if bench_is_release() {
            command.arg("--release");
        }
        let output = command
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run cargo build: {e}"))?;
        if !output.status.success() {
            return Err(format!("cargo build failed ({})", output.status));
        }
        let mut paths = HashMap::new();
        let mut opt_levels: Vec<String> = Vec::new();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let Some(path) = socket_lessons::json_string_field(line, "executable") else {
                continue;
            };
            let path = PathBuf::from(path);
            let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let level =
                socket_lessons::json_string_field(line, "opt_level").unwrap_or_else(|| "?".into());
            if !opt_levels.contains(&level) {
                opt_levels.push(level);
            }
            paths.insert(name.to_string(), path);
        }
        for package in packages {
            if !paths.contains_key(*package) {
                return Err(format!("cargo built no program named {package}"));
            }
        }
        Ok(Programs { paths, opt_levels })
    }

    /// Where the program of `package` is.
    pub fn path(&self, package: &str) -> Result<PathBuf, String> {
        self.paths
            .get(package)
            .cloned()
            .ok_or_else(|| format!("no program named {package} was built"))
    }

    /// One line for the student: how the bench and the lesson programs were built.
    pub fn describe(&self) -> String {
        let levels = self.opt_levels.join(", ");
        if bench_is_release() && self.opt_levels == ["3"] {
            format!("release (the lesson programs too: cargo built them with opt-level {levels})")
        } else if bench_is_release() {
            format!(
                "release, but cargo built the lesson programs with opt-level {levels}, not 3: \
                 their numbers are not those of release builds"
            )
        } else {
            format!(
                "DEBUG (the lesson programs: opt-level {levels}): unoptimized code is several \
                 times slower; for numbers worth comparing run `cargo run --release -- bench`"
            )
        }
    }
}
