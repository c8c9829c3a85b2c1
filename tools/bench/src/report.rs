//! Numbers for a student: medians with their spread, percentiles, units a person reads,
//! plain-text bars and tables that work in any terminal.

use std::time::Duration;

/// The median of several runs, and the lowest and highest.
#[derive(Clone, Copy)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let mid = sorted.len() / 2;
        let median = if sorted.len() % 2 == 1 {
            sorted[mid]
        } else {
            (sorted[mid - 1] + sorted[mid]) / 2.0
        };
        Some(Spread {
            median,
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        })
    }

    /// Half the range of the runs, in percent of the median: the `±3%` after a number.
    pub fn plus_minus(&self) -> String {
        if self.median <= 0.0 {
            return String::new();
        }
        let pct = (self.max - self.min) / 2.0 / self.median * 100.0;
        if pct < 0.5 {
            "±0%".to_string()
        } else {
            format!("±{pct:.0}%")
        }
    }

    /// A ratio with its range: `0.78x (0.75-0.80)`; `1.00x (0.93-1.03: within the noise)`
    /// when the range holds 1, that is when some runs went one way and some the other.
    pub fn ratio(&self) -> String {
        let noise = if self.within_noise_of(1.0) {
            ": within the noise"
        } else {
            ""
        };
        format!(
            "{:.2}x ({:.2}-{:.2}{noise})",
            self.median, self.min, self.max
        )
    }

    /// Whether `value` lies within the range of the runs (the difference from it is noise).
    pub fn within_noise_of(&self, value: f64) -> bool {
        self.min <= value && value <= self.max
    }
}

/// The latency below which `p` percent of the round trips stayed (nearest rank).
pub fn percentile(sorted_nanos: &[u32], p: f64) -> Duration {
    if sorted_nanos.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted_nanos.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_nanos.len()) - 1;
    Duration::from_nanos(u64::from(sorted_nanos[index]))
}

/// A rate per second: `812`, `21.3k`, `153k`.
pub fn rate(per_second: f64) -> String {
    if per_second < 1000.0 {
        format!("{per_second:.0}")
    } else if per_second < 100_000.0 {
        format!("{:.1}k", per_second / 1000.0)
    } else {
        format!("{:.0}k", per_second / 1000.0)
    }
}

/// A short time: `4.2 µs`, `45 µs`, `1.3 ms`, `12 ms`, `1.5 s`.
pub fn duration(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 10.0 {
        format!("{micros:.1} µs")
    } else if micros < 1000.0 {
        format!("{micros:.0} µs")
    } else if micros < 10_000.0 {
        format!("{:.1} ms", micros / 1000.0)
    } else if micros < 1_000_000.0 {
        format!("{:.0} ms", micros / 1000.0)
    } else {
        format!("{:.1} s", micros / 1e6)
    }
}

/// Memory: `2.1 MiB`, `36 MiB`.
pub fn memory(kib: f64) -> String {
    let mib = kib / 1024.0;
    if mib < 10.0 {
        format!("{mib:.1} MiB")
    } else {
        format!("{mib:.0} MiB")
    }
}

/// The width of the prose around the tables.
const WIDTH: usize = 100;

/// Prints `text` as a paragraph, wrapped at word boundaries; lines after the first
/// start with `indent`, the first with the text's own leading spaces.
pub fn say(text: &str, indent: &str) {
    let trimmed = text.trim_start();
    say_after(&text[..text.len() - trimmed.len()], trimmed, indent);
}

/// Like `say`, with the first line starting with `first` (such as `  build:    `).
pub fn say_after(first: &str, text: &str, indent: &str) {
    let mut line = first.to_string();
    let mut empty = true; // nothing but the prefix on this line yet
    // A unit stays on the line of its number: `214 µs` is one word here.
    let mut words: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match words.last_mut() {
            Some(last)
                if ["µs", "ms", "s", "MiB"]
                    .contains(&word.trim_end_matches([',', ';', '.', ')'])) =>
            {
                last.push(' ');
                last.push_str(word);
            }
            _ => words.push(word.to_string()),
        }
    }
    for word in &words {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            println!("{line}");
            line = indent.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    if !empty {
        println!("{line}");
    }
}

/// The width of a full bar.
const BAR: usize = 24;

/// A bar of `#` as long as `value` is to `max` (at least one `#` for any value above 0).
pub fn bar(value: f64, max: f64) -> String {
    if !(value > 0.0 && max > 0.0) {
        return String::new();
    }
    let n = ((value / max) * BAR as f64).round() as usize;
    "#".repeat(n.clamp(1, BAR))
}

/// A plain-text table: a header, then rows. A row with fewer cells than the header ends
/// with a cell that spans the rest of the line (a note such as `not available: ...`).
pub struct Table {
    header: Vec<&'static str>,
    /// 'l' or 'r' per column.
    align: &'static str,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: Vec<&'static str>, align: &'static str) -> Table {
        Table {
            header,
            align,
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// An empty line between groups of rows.
    pub fn gap(&mut self) {
        self.rows.push(Vec::new());
    }

    pub fn render(&self) -> String {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            // Every cell counts, except the note that ends a short row.
            let counted = if row.len() < columns {
                row.len().saturating_sub(1)
            } else {
                row.len()
            };
            for (w, cell) in widths.iter_mut().zip(&row[..counted]) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let header: Vec<String> = self.header.iter().map(|h| h.to_string()).collect();
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let spans = i + 1 == row.len() && row.len() < columns;
                let width = widths[i];
                let pad = width.saturating_sub(cell.chars().count());
                line.push_str("  ");
                if spans || i + 1 == columns {
                    if self.align.as_bytes().get(i) == Some(&b'r') && !spans {
                        line.push_str(&" ".repeat(pad));
                    }
                    line.push_str(cell);
                } else if self.align.as_bytes().get(i) == Some(&b'r') {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_spreads_and_percentiles() {
        let s = Spread::of(&[100.0, 90.0, 110.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (100.0, 90.0, 110.0));
        assert_eq!(s.plus_minus(), "±10%");
        assert_eq!(Spread::of(&[1.0, 3.0]).unwrap().median, 2.0);
        let sorted: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 50.0), Duration::from_nanos(50));
        assert_eq!(percentile(&sorted, 99.0), Duration::from_nanos(99));
        assert_eq!(s.ratio(), "100.00x (90.00-110.00)");
        let even = Spread::of(&[0.97, 1.0, 1.04]).unwrap();
        assert_eq!(even.ratio(), "1.00x (0.97-1.04: within the noise)");
        assert!(!Spread::of(&[1.01, 1.2]).unwrap().within_noise_of(1.0));
        assert_eq!(rate(21_345.0), "21.3k");
        assert_eq!(duration(Duration::from_micros(45)), "45 µs");
        assert_eq!(bar(50.0, 100.0), "#".repeat(12));
        assert_eq!(bar(0.001, 100.0), "#");
    }

    #[test]
    fn tables_align_and_notes_span() {
        let mut t = Table::new(vec!["n", "name", "rate"], "rlr");
        t.row(vec!["1".into(), "a".into(), "10".into()]);
        t.row(vec!["100".into(), "not available: why".into()]);
        assert_eq!(
            t.render(),
            "    n  name  rate\n    1  a       10\n  100  not available: why\n"
        );
    }
}
