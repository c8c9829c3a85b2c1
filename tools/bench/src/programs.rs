//! The lesson programs the bench measures, built with the bench's own profile: under
//! `cargo bench` they are release builds too. (The harness's `binary()` builds the
//! default, unoptimized profile, which the tests want; both go through the harness's one
//! runner of `cargo build`, `socket_lessons::programs::cargo_build`.)

use std::collections::HashMap;
use std::path::PathBuf;

use socket_lessons::programs::cargo_build;
use socket_lessons::{BIN_DIR_VAR, binary};

/// The built lesson programs, and how cargo built them.
pub struct Programs {
    paths: HashMap<String, PathBuf>,
    /// The distinct opt-levels cargo reported for them ("3" for release, "0" for dev).
    opt_levels: Vec<String>,
}

/// Whether this bench itself was built with optimizations (`cargo bench`, or a
/// `--release` build). The lesson programs are built the same way, so that the two sides
/// are comparable.
fn bench_is_release() -> bool {
    !cfg!(debug_assertions)
}

impl Programs {
    /// Builds `packages` (`--release` when we are a release build) and keeps each
    /// binary's path and opt-level.
    pub fn build(packages: &[&str]) -> Result<Programs, String> {
        // Handed prebuilt programs (the Windows check under Wine, where no cargo runs):
        // take those, and say so.
        if std::env::var_os(BIN_DIR_VAR).is_some() {
            let mut paths = HashMap::new();
            for package in packages {
                paths.insert(package.to_string(), binary(package)?);
            }
            return Ok(Programs {
                paths,
                opt_levels: vec![format!("unknown: taken from {BIN_DIR_VAR}")],
            });
        }
        let built = cargo_build(packages, bench_is_release(), false)?;
        Ok(Programs {
            paths: built.paths,
            opt_levels: built.opt_levels,
        })
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
                 times slower; for numbers worth comparing run `cargo bench --bench lessons`"
            )
        }
    }
}
