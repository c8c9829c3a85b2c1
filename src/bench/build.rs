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
            let Some(path) = string_field(line, "executable") else {
                continue;
            };
            let path = PathBuf::from(path);
            let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let level = string_field(line, "opt_level").unwrap_or_else(|| "?".into());
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

/// The string value of `"field":"..."` in one line of cargo's JSON, unescaped (std has
/// no JSON parser; cargo's messages need only this much of one).
fn string_field(line: &str, field: &str) -> Option<String> {
    let key = format!("\"{field}\":\"");
    let start = line.find(&key)? + key.len();
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
    use super::string_field;

    #[test]
    fn reads_the_executable_and_its_opt_level() {
        let line = r#"{"reason":"compiler-artifact","profile":{"opt_level":"3","debuginfo":0},"executable":"C:\\t\\select-server.exe","fresh":true}"#;
        assert_eq!(
            string_field(line, "executable").as_deref(),
            Some(r"C:\t\select-server.exe")
        );
        assert_eq!(string_field(line, "opt_level").as_deref(), Some("3"));
        assert_eq!(string_field(r#"{"executable":null}"#, "executable"), None);
    }
}
