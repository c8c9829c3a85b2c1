//! `compare --list`: the files compare looks for, where each program is in its
//! document, what Python 3.11 needs changed, the scenarios, and the known differences.

use super::known;
use super::scenarios::{LESSONS, SCENARIOS};

/// The --list text: per lesson, the files, where they are, what to change, and the
/// scenarios that use them.
pub fn list_text() -> String {
    let mut out = String::new();
    out.push_str(
        "The files `compare --originals DIR` looks for in DIR: copy each program out of its\n\
         document into a file of that name. Run on Python 3.11; notes say what to change.\n",
    );
    for lesson in LESSONS {
        out.push_str(&format!(
            "\n{} {} ({}; page {})\n",
            lesson.id, lesson.name, lesson.document, lesson.page
        ));
        for file in lesson.files {
            out.push_str(&format!("  {:<30} {}\n", file.name, file.section));
            if !file.notes.is_empty() {
                for line in wrap(file.notes, 60) {
                    out.push_str(&format!("  {:<30}   {line}\n", ""));
                }
            }
        }
        out.push_str("  scenarios:\n");
        for sc in SCENARIOS.iter().filter(|s| s.lesson == lesson.id) {
            let mut files: Vec<&str> = sc.server.iter().filter_map(|s| s.prog.file).collect();
            for c in sc.clients {
                if let Some(f) = c.file
                    && !files.contains(&f)
                {
                    files.push(f);
                }
            }
            out.push_str(&format!(
                "    {:<26} {} [{}]\n",
                sc.name,
                sc.what,
                files.join(", ")
            ));
        }
    }
    out.push_str(
        "\nThe differences the lesson pages list (section \"Differences from the Python\n\
         original\"), and what compare does about each: a row that differs by exactly\n\
         those that show is KNOWN, not DIFF.\n",
    );
    let mut page = "";
    for k in known::KNOWN {
        if k.page != page {
            page = k.page;
            out.push_str(&format!("  {page}\n"));
        }
        out.push_str(&format!("    {}: \"{}\"\n", k.id, k.item));
        for line in wrap(&k.how(), 76) {
            out.push_str(&format!("      {line}\n"));
        }
    }
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}
