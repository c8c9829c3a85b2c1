//! A unified diff of two texts, line by line (longest common subsequence), with three
//! lines of context: what a DIFF row shows.

const CONTEXT: usize = 3;
/// Texts longer than this (in lines) are cut before diffing, and the diff says so.
const MAX_LINES: usize = 2000;

pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    let mut a: Vec<&str> = old.lines().collect();
    let mut b: Vec<&str> = new.lines().collect();
    let cut = a.len() > MAX_LINES || b.len() > MAX_LINES;
    a.truncate(MAX_LINES);
    b.truncate(MAX_LINES);

    // lcs[i][j]: the length of the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    // The edit script: (' ' | '-' | '+', old index, new index, line).
    let mut ops = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', i, j, a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', i, j, a[i]));
            i += 1;
        } else {
            ops.push(('+', i, j, b[j]));
            j += 1;
        }
    }

    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != ' ').collect();
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(CONTEXT);
        let mut end = changed[k];
        while k < changed.len() && changed[k] <= end + 2 * CONTEXT + 1 {
            end = changed[k];
            k += 1;
        }
        let end = (end + CONTEXT + 1).min(ops.len());
        let hunk = &ops[start..end];
        let old_start = hunk[0].1;
        let new_start = hunk[0].2;
        let old_len = hunk.iter().filter(|o| o.0 != '+').count();
        let new_len = hunk.iter().filter(|o| o.0 != '-').count();
        out.push_str(&format!(
            "@@ -{},{old_len} +{},{new_len} @@\n",
            old_start + 1,
            new_start + 1
        ));
        for (tag, _, _, line) in hunk {
            out.push_str(&format!("{tag}{line}\n"));
        }
    }
    if cut {
        out.push_str(&format!(
            "(only the first {MAX_LINES} lines were compared)\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_a_changed_line_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\n";
        assert_eq!(
            unified(old, new, "py/py", "ours/ours"),
            "--- py/py\n+++ ours/ours\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n"
        );
    }

    #[test]
    fn shows_added_and_removed_lines() {
        assert_eq!(
            unified("x\n", "x\ny\n", "a", "b"),
            "--- a\n+++ b\n@@ -1,1 +1,2 @@\n x\n+y\n"
        );
        assert_eq!(unified("x\n", "x\n", "a", "b"), "--- a\n+++ b\n");
    }
}
