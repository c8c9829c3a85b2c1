//! The inventory: every package under crates/ is in README's lesson table, named on its
//! lesson page, and exercised by a test. Fails naming everything that is missing.

use std::fs;
use std::path::{Path, PathBuf};

use socket_lessons::workspace_root;

/// (lesson folder such as `01-timestamp`, package name) for every crate under crates/.
fn packages() -> Vec<(String, String)> {
    let mut found = Vec::new();
    for lesson in sorted_dir(&workspace_root().join("crates")) {
        for krate in sorted_dir(&lesson) {
            let manifest = fs::read_to_string(krate.join("Cargo.toml")).unwrap_or_default();
            let name = manifest
                .lines()
                .find_map(|l| l.trim().strip_prefix("name = \""))
                .and_then(|rest| rest.strip_suffix('"'));
            if let Some(name) = name {
                let folder = lesson.file_name().unwrap().to_string_lossy().to_string();
                found.push((folder, name.to_string()));
            }
        }
    }
    found
}

fn sorted_dir(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    entries
}

/// The text of every file in `dir` whose name ends with `suffix`, with its file name.
fn files(dir: &str, suffix: &str) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = fs::read_dir(workspace_root().join(dir))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|name| name.ends_with(suffix))
        .map(|name| {
            let text = fs::read_to_string(workspace_root().join(dir).join(&name)).unwrap();
            (name, text)
        })
        .collect();
    all.sort();
    all
}

#[test]
fn every_package_has_its_table_row_lesson_page_and_test() {
    let readme = fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let table_rows: Vec<&str> = readme.lines().filter(|l| l.starts_with('|')).collect();
    let pages = files("lessons", ".md");
    let tests: Vec<(String, String)> = files("tests", ".rs")
        .into_iter()
        .filter(|(name, _)| name != "inventory.rs")
        .collect();

    let packages = packages();
    assert!(packages.len() >= 3, "found only {packages:?} under crates/");
    let mut missing = Vec::new();
    for (folder, package) in &packages {
        if !table_rows
            .iter()
            .any(|row| row.contains(&format!("`{package}`")))
        {
            missing.push(format!(
                "{package}: no row of README's lesson table names `{package}`"
            ));
        }
        // crates/NN-lesson/* belong to lessons/NN-*.md; the shared crates (00) to any page.
        let number = folder.split('-').next().unwrap_or_default();
        let own_pages: Vec<&(String, String)> = pages
            .iter()
            .filter(|(name, _)| number == "00" || name.starts_with(&format!("{number}-")))
            .collect();
        if !own_pages
            .iter()
            .any(|(_, text)| text.contains(package.as_str()))
        {
            let which = if number == "00" {
                String::new()
            } else {
                format!("{number}-*")
            };
            missing.push(format!(
                "{package}: not named on any lessons/{which}.md page"
            ));
        }
        if !tests
            .iter()
            .any(|(_, text)| text.contains(&format!("\"{package}\"")))
        {
            missing.push(format!("{package}: no test in tests/ uses \"{package}\""));
        }
    }
    assert!(
        missing.is_empty(),
        "the inventory is incomplete:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_lesson_page_has_a_crate_folder() {
    let folders: Vec<String> = packages().into_iter().map(|(folder, _)| folder).collect();
    for (page, _) in files("lessons", ".md") {
        let stem = page.trim_end_matches(".md");
        assert!(
            folders.iter().any(|f| f == stem),
            "lessons/{page} has no crates/{stem}/ folder"
        );
    }
}
