//! The lesson pages' expected output: the blocks marked `<!-- output: LABEL -->`, which
//! the tests compare with what the programs really print, and the placeholders for what
//! changes from run to run (ports).

use crate::workspace_root;

/// The blocks of a lesson page that are marked with `<!-- output: LABEL -->` on the line
/// before their fence, as (label, text) pairs: the expected output that the tests compare
/// with what the programs really print.
pub fn marked_blocks(page: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut lines = page.lines();
    while let Some(line) = lines.next() {
        let Some(label) = line
            .trim()
            .strip_prefix("<!-- output:")
            .and_then(|rest| rest.strip_suffix("-->"))
        else {
            continue;
        };
        if !lines.next().is_some_and(|fence| fence.starts_with("```")) {
            continue;
        }
        let mut text = String::new();
        for body in lines.by_ref() {
            if body.starts_with("```") {
                break;
            }
            text.push_str(body);
            text.push('\n');
        }
        blocks.push((label.trim().to_string(), text));
    }
    blocks
}

/// The text of the block labelled `label` in lessons/`page`.
pub fn lesson_block(page: &str, label: &str) -> Result<String, String> {
    let path = workspace_root().join("lessons").join(page);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    marked_blocks(&text)
        .into_iter()
        .find(|(l, _)| l == label)
        .map(|(_, block)| block)
        .ok_or_else(|| format!("lessons/{page} has no block marked <!-- output: {label} -->"))
}

/// Replaces every run of ASCII digits that follows `prefix` with `placeholder`:
/// `normalize_number("127.0.0.1:53211", "127.0.0.1:", "PORT")` gives `127.0.0.1:PORT`.
pub fn normalize_number(text: &str, prefix: &str, placeholder: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let after = at + prefix.len();
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            out.push_str(placeholder);
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_marked_blocks() {
        let page = "intro\n<!-- output: server -->\n```text\na\nb\n```\n```text\nx\n```\n";
        assert_eq!(
            marked_blocks(page),
            [("server".to_string(), "a\nb\n".to_string())]
        );
    }

    #[test]
    fn normalizes_ports() {
        assert_eq!(
            normalize_number("from 127.0.0.1:5321 and 127.0.0.1:9", "127.0.0.1:", "PORT"),
            "from 127.0.0.1:PORT and 127.0.0.1:PORT"
        );
    }
}
