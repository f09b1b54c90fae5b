//! The results tables, rendered as aligned Markdown so they paste into
//! BENCHMARKS.md as they are.
//!
//! - [`Table`]: one row per workload, one column per runtime (contender),
//!   the ratio of the subject's median over the baseline's, and whether the
//!   goal was met.
//! - [`CompareTable`]: one row per workload, one column per implementation
//!   (a channel crate, Go), the best median of each row in bold, and how
//!   the subject (gort) stands against that best.

use crate::stats::{ratio, Summary};
use crate::workload::Unit;

/// One workload's results.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Workload name.
    pub workload: String,
    /// Unit of the summaries (nanoseconds for [`Unit::Time`], bytes for [`Unit::Bytes`]).
    pub unit: Unit,
    /// Goal for the ratio subject/baseline (met when `<=`).
    pub goal: f64,
    /// One cell per contender, in the table's contender order; `None`
    /// where a contender has no version of the workload (printed `n/a`).
    pub cells: Vec<Option<Summary>>,
}

impl Row {
    /// The ratio of the subject's median over the baseline's, when both
    /// have a value (see [`ratio`]).
    pub fn ratio(&self, subject: usize, baseline: usize) -> Option<f64> {
        let median = |i: usize| self.cells.get(i).copied().flatten().map(|s| s.median);
        ratio(median(subject)?, median(baseline)?)
    }
}

/// A full results table.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Contender names, one column each.
    pub contenders: Vec<String>,
    /// Index in `contenders` of the runtime under test (ratio numerator).
    pub subject: usize,
    /// Index in `contenders` of the baseline (ratio denominator).
    pub baseline: usize,
    /// The rows, in order.
    pub rows: Vec<Row>,
}

/// Formats a number with about three significant digits: `739`, `26.5`, `6.64`.
pub fn sig3(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The display unit for a time of `ns` nanoseconds: (nanoseconds per unit, suffix).
pub fn time_scale(ns: f64) -> (f64, &'static str) {
    let a = ns.abs();
    if a < 1e3 {
        (1.0, "ns")
    } else if a < 1e6 {
        (1e3, "us")
    } else if a < 1e9 {
        (1e6, "ms")
    } else {
        (1e9, "s")
    }
}

/// Formats a time given in nanoseconds: `739 us`, `6.64 ms`.
pub fn format_time(ns: f64) -> String {
    let (div, suffix) = time_scale(ns);
    format!("{} {suffix}", sig3(ns / div))
}

/// Formats a byte count: whole numbers exactly (`128 B`), others with three digits.
pub fn format_bytes(bytes: f64) -> String {
    format!("{} B", bytes_number(bytes))
}

fn bytes_number(bytes: f64) -> String {
    if bytes.fract() == 0.0 && bytes.abs() < 1e15 {
        format!("{bytes:.0}")
    } else {
        sig3(bytes)
    }
}

/// Formats one value of `unit`.
pub fn format_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Time => format_time(v),
        Unit::Bytes => format_bytes(v),
        Unit::PerOp => format!("{} ns/op", sig3(v)),
    }
}

/// Formats a summary as `median (min–max)`, min and max in the median's
/// display unit when all three share it (`6.64 ms (6.41–7.02)`,
/// `128 B (128–128)`), each with its own unit otherwise
/// (`4.95 s (10.2 ms–5.18 s)`). Per-op values are bare nanoseconds
/// (`52.3 (50.1–60.2)`): their table says "ns per message" once.
pub fn format_summary(s: &Summary, unit: Unit) -> String {
    let (median, rest) = format_summary_parts(s, unit);
    format!("{median} {rest}")
}

/// [`format_summary`] split into the median (with its unit, if any) and the
/// `(min–max)` part, so the median alone can be emphasised.
fn format_summary_parts(s: &Summary, unit: Unit) -> (String, String) {
    match unit {
        Unit::Time => {
            let (div, suffix) = time_scale(s.median);
            let same = time_scale(s.min).0 == div && time_scale(s.max).0 == div;
            if same {
                (
                    format!("{} {suffix}", sig3(s.median / div)),
                    format!("({}–{})", sig3(s.min / div), sig3(s.max / div)),
                )
            } else {
                (
                    format_time(s.median),
                    format!("({}–{})", format_time(s.min), format_time(s.max)),
                )
            }
        }
        Unit::Bytes => (
            format!("{} B", bytes_number(s.median)),
            format!("({}–{})", bytes_number(s.min), bytes_number(s.max)),
        ),
        Unit::PerOp => (sig3(s.median), format!("({}–{})", sig3(s.min), sig3(s.max))),
    }
}

/// Formats a count with thousands separators: `1,000,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Formats a ratio: `0.42x`.
pub fn format_ratio(r: f64) -> String {
    format!("{r:.2}x")
}

impl Table {
    /// Renders the table as aligned Markdown.
    pub fn render(&self) -> String {
        let subject = &self.contenders[self.subject];
        let baseline = &self.contenders[self.baseline];
        let common_goal = self
            .rows
            .first()
            .map(|r| r.goal)
            .filter(|g| self.rows.iter().all(|r| r.goal == *g));

        let mut header = vec!["workload".to_string()];
        header.extend(
            self.contenders
                .iter()
                .map(|c| format!("{c} median (min–max)")),
        );
        header.push(format!("ratio {subject}/{baseline}"));
        header.push(match common_goal {
            Some(g) => format!("goal (<= {}) met?", format_ratio(g)),
            None => "goal met?".to_string(),
        });
        header.push(format!("{subject} vs best"));

        let columns: Vec<Column> = self
            .contenders
            .iter()
            .map(|name| Column {
                name: name.clone(),
                ranked: true,
            })
            .collect();
        let mut lines = vec![header];
        for row in &self.rows {
            let mut cells = vec![row.workload.clone()];
            cells.extend(row.cells.iter().map(|cell| match cell {
                Some(s) => format_summary(s, row.unit),
                None => "n/a".to_string(),
            }));
            let r = row.ratio(self.subject, self.baseline);
            cells.push(r.map_or_else(|| "n/a".to_string(), format_ratio));
            let verdict = match r {
                Some(r) if r <= row.goal => "yes",
                Some(_) => "NO",
                None => "n/a",
            };
            cells.push(match common_goal {
                Some(_) => verdict.to_string(),
                None => format!("{verdict} (<= {})", format_ratio(row.goal)),
            });
            cells.push(versus_best(&columns, self.subject, &row.cells));
            lines.push(cells);
        }

        markdown(&lines)
    }
}

/// Renders `lines` (the first is the header) as an aligned Markdown table:
/// every cell padded to its column's width in characters.
pub fn markdown(lines: &[Vec<String>]) -> String {
    let columns = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            lines
                .iter()
                .map(|l| l.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let render_line = |cells: &[String]| {
        let padded: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(c, w)| {
                let s = cells.get(c).map_or("", String::as_str);
                format!("{s}{}", " ".repeat(w - s.chars().count()))
            })
            .collect();
        format!("| {} |", padded.join(" | "))
    };

    let mut out = String::new();
    let Some((header, body)) = lines.split_first() else {
        return out;
    };
    out.push_str(&render_line(header));
    out.push('\n');
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
    for line in body {
        out.push_str(&render_line(line));
        out.push('\n');
    }
    out
}

/// One column of a [`CompareTable`]: an implementation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Header text, e.g. `kanal`.
    pub name: String,
    /// Whether the column competes for "best". A column shown for
    /// reference (another runtime under the same channel, say) is not
    /// ranked: it is never bold and never the best a subject is held to.
    pub ranked: bool,
}

/// One workload's results across implementations.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    /// Workload name, e.g. `chan/mpmc/cap128`.
    pub workload: String,
    /// Unit of the summaries.
    pub unit: Unit,
    /// One cell per column; `None` where the implementation cannot run this
    /// workload (printed `n/a`).
    pub cells: Vec<Option<Summary>>,
}

/// Results with one column per implementation: the lowest ranked median of
/// each row is bold, and a last column tells how the subject stands against
/// the best of the others.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareTable {
    /// The implementations, one column each.
    pub columns: Vec<Column>,
    /// Index in `columns` of the implementation under test (gort); ranked.
    pub subject: usize,
    /// The rows, in order.
    pub rows: Vec<CompareRow>,
}

/// Index of the ranked cell with the lowest median (the first on a tie);
/// `None` when fewer than two ranked cells have a value (nothing to compare).
pub fn best_cell(columns: &[Column], cells: &[Option<Summary>]) -> Option<usize> {
    let ranked: Vec<(usize, f64)> = cells
        .iter()
        .zip(columns)
        .enumerate()
        .filter_map(|(i, (cell, col))| Some((i, cell.as_ref().filter(|_| col.ranked)?.median)))
        .filter(|(_, m)| !m.is_nan())
        .collect();
    if ranked.len() < 2 {
        return None;
    }
    ranked
        .into_iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// The "subject vs best" cell: `2.41x kanal` when `kanal` has the lowest
/// ranked median (subject median / that median); `best, 0.62x flume` when
/// the subject itself is lowest (against the runner-up); `n/a` when the
/// subject has no value or no other ranked column has one.
pub fn versus_best(columns: &[Column], subject: usize, cells: &[Option<Summary>]) -> String {
    let na = || "n/a".to_string();
    let Some(mine) = cells
        .get(subject)
        .and_then(|c| c.as_ref())
        .map(|s| s.median)
    else {
        return na();
    };
    let (best, theirs) = cells
        .iter()
        .zip(columns)
        .enumerate()
        .filter(|(i, (_, col))| *i != subject && col.ranked)
        .filter_map(|(i, (cell, _))| Some((i, cell.as_ref()?.median)))
        .filter(|(_, m)| !m.is_nan())
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((usize::MAX, f64::NAN));
    let Some(column) = columns.get(best) else {
        return na();
    };
    match ratio(mine, theirs) {
        Some(r) if mine <= theirs => format!("best, {} {}", format_ratio(r), column.name),
        Some(r) => format!("{} {}", format_ratio(r), column.name),
        None => na(),
    }
}

impl CompareTable {
    /// Renders the table as aligned Markdown: `median (min–max)` per cell,
    /// `n/a` where an implementation cannot run the workload, the best
    /// ranked median of each row in bold, and a last column
    /// `<subject> vs best` (see [`versus_best`]).
    pub fn render(&self) -> String {
        let subject = &self.columns[self.subject].name;
        let mut header = vec!["workload".to_string()];
        header.extend(self.columns.iter().map(|c| c.name.clone()));
        header.push(format!("{subject} vs best"));

        let mut lines = vec![header];
        for row in &self.rows {
            let best = best_cell(&self.columns, &row.cells);
            let mut cells = vec![row.workload.clone()];
            cells.extend(row.cells.iter().enumerate().map(|(i, cell)| match cell {
                None => "n/a".to_string(),
                Some(s) => {
                    let (median, rest) = format_summary_parts(s, row.unit);
                    if best == Some(i) {
                        format!("**{median}** {rest}")
                    } else {
                        format!("{median} {rest}")
                    }
                }
            }));
            cells.push(versus_best(&self.columns, self.subject, &row.cells));
            lines.push(cells);
        }
        markdown(&lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(median: f64, min: f64, max: f64) -> Summary {
        Summary {
            median,
            min,
            max,
            count: 3,
        }
    }

    #[test]
    fn times_pick_a_unit_and_three_digits() {
        assert_eq!(format_time(739_000.0), "739 us");
        assert_eq!(format_time(6_640_000.0), "6.64 ms");
        assert_eq!(format_time(26_500_000.0), "26.5 ms");
        assert_eq!(format_time(1_250_000_000.0), "1.25 s");
        assert_eq!(format_time(512.0), "512 ns");
        assert_eq!(format_time(0.0), "0 ns");
    }

    #[test]
    fn bytes_are_exact_when_whole() {
        assert_eq!(format_bytes(128.0), "128 B");
        assert_eq!(format_bytes(72.0), "72 B");
        assert_eq!(format_bytes(64.8), "64.8 B");
        assert_eq!(format_bytes(8.126), "8.13 B");
    }

    #[test]
    fn summary_uses_the_median_unit_for_min_and_max() {
        let s = summary(6_640_000.0, 6_410_000.0, 12_300_000.0);
        assert_eq!(format_summary(&s, Unit::Time), "6.64 ms (6.41–12.3)");
        let s = summary(950_000.0, 940_000.0, 1_200_000.0);
        assert_eq!(format_summary(&s, Unit::Time), "950 us (940 us–1.20 ms)");
        let s = summary(4.95e9, 10.2e6, 5.18e9);
        assert_eq!(format_summary(&s, Unit::Time), "4.95 s (10.2 ms–5.18 s)");
        let b = summary(128.0, 128.0, 128.0);
        assert_eq!(format_summary(&b, Unit::Bytes), "128 B (128–128)");
    }

    fn table(goals: [f64; 2]) -> Table {
        Table {
            contenders: vec!["gort".into(), "tokio".into(), "Go".into()],
            subject: 0,
            baseline: 1,
            rows: vec![
                Row {
                    workload: "spawn_many_local".into(),
                    unit: Unit::Time,
                    goal: goals[0],
                    cells: vec![
                        Some(summary(2_000_000.0, 1_900_000.0, 2_500_000.0)),
                        Some(summary(6_640_000.0, 6_000_000.0, 7_000_000.0)),
                        Some(summary(1_000_000.0, 900_000.0, 1_100_000.0)),
                    ],
                },
                Row {
                    workload: "alloc_per_empty_task".into(),
                    unit: Unit::Bytes,
                    goal: goals[1],
                    cells: vec![
                        Some(summary(128.0, 128.0, 128.0)),
                        Some(summary(128.0, 128.0, 128.0)),
                        None,
                    ],
                },
            ],
        }
    }

    #[test]
    fn table_has_ratio_and_goal_columns() {
        let text = table([0.8, 0.8]).render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("| workload "), "{text}");
        assert!(lines[0].contains("| gort median (min–max) "), "{text}");
        assert!(lines[0].contains("| tokio median (min–max) "), "{text}");
        assert!(lines[0].contains("| ratio gort/tokio "), "{text}");
        assert!(lines[0].contains("| goal (<= 0.80x) met? |"), "{text}");
        assert!(lines[0].contains("| gort vs best "), "{text}");
        assert!(lines[1].starts_with("|--"), "{text}");
        assert!(lines[2].contains("2.00 ms (1.90–2.50)"), "{text}");
        assert!(lines[2].contains("6.64 ms (6.00–7.00)"), "{text}");
        assert!(lines[2].contains("| 0.30x "), "{text}");
        assert!(lines[2].contains("| yes "), "{text}");
        assert!(lines[3].contains("128 B (128–128)"), "{text}");
        assert!(lines[3].contains("| 1.00x "), "{text}");
        assert!(lines[3].contains("| NO "), "{text}");
        // Go's cell is n/a on the bytes row; gort vs the best of the others.
        assert!(lines[2].contains("| 2.00x Go "), "{text}");
        assert!(lines[3].contains("| n/a "), "{text}");
        assert!(lines[3].contains("| best, 1.00x tokio |"), "{text}");
        // Aligned: every line has the same width in characters.
        let widths: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
        assert!(widths.iter().all(|w| *w == widths[0]), "{text}");
    }

    #[test]
    fn per_row_goals_are_shown_when_they_differ() {
        let text = table([0.33, 0.5]).render();
        assert!(
            text.lines().next().unwrap().contains("| goal met? "),
            "{text}"
        );
        assert!(text.contains("| yes (<= 0.33x) "), "{text}");
        assert!(text.contains("| NO (<= 0.50x) "), "{text}");
    }

    #[test]
    fn zero_baseline_gives_no_ratio() {
        let mut t = table([0.8, 0.8]);
        t.rows[1].cells[1] = Some(summary(0.0, 0.0, 0.0));
        let text = t.render();
        assert!(text.lines().nth(3).unwrap().contains("| n/a "), "{text}");
    }

    #[test]
    fn per_op_values_are_bare_nanoseconds() {
        let s = summary(52.34, 50.1, 60.2);
        assert_eq!(format_summary(&s, Unit::PerOp), "52.3 (50.1–60.2)");
        let s = summary(1556.0, 1500.4, 3129.0);
        assert_eq!(format_summary(&s, Unit::PerOp), "1556 (1500–3129)");
        assert_eq!(format_value(10.54, Unit::PerOp), "10.5 ns/op");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(20_000), "20,000");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(1_234_567_890), "1,234,567,890");
    }

    #[test]
    fn markdown_pads_short_lines() {
        let lines = vec![
            vec!["a".to_string(), "bb".to_string()],
            vec!["ccc".to_string()],
        ];
        assert_eq!(
            markdown(&lines),
            "| a   | bb |\n|-----|----|\n| ccc |    |\n"
        );
        assert_eq!(markdown(&[]), "");
    }

    fn col(name: &str, ranked: bool) -> Column {
        Column {
            name: name.into(),
            ranked,
        }
    }

    fn cells(medians: &[Option<f64>]) -> Vec<Option<Summary>> {
        medians
            .iter()
            .map(|m| m.map(|m| summary(m, m * 0.9, m * 1.1)))
            .collect()
    }

    #[test]
    fn best_cell_skips_unranked_missing_and_nan() {
        let cols = [col("gort", true), col("kanal", true), col("ref", false)];
        assert_eq!(
            best_cell(&cols, &cells(&[Some(20.0), Some(10.0), Some(1.0)])),
            Some(1)
        );
        // One ranked value alone: nothing to compare, nothing marked.
        assert_eq!(
            best_cell(&cols, &cells(&[Some(20.0), None, Some(1.0)])),
            None
        );
        assert_eq!(
            best_cell(&cols, &cells(&[Some(f64::NAN), Some(3.0), None])),
            None
        );
        let three = [col("a", true), col("b", true), col("c", true)];
        assert_eq!(
            best_cell(&three, &cells(&[Some(f64::NAN), Some(3.0), Some(4.0)])),
            Some(1)
        );
        assert_eq!(best_cell(&cols, &cells(&[None, None, Some(1.0)])), None);
        // A tie goes to the first.
        assert_eq!(
            best_cell(&cols, &cells(&[Some(5.0), Some(5.0), None])),
            Some(0)
        );
    }

    #[test]
    fn versus_best_names_the_column_to_beat() {
        let cols = [
            col("gort", true),
            col("flume", true),
            col("kanal", true),
            col("ref", false),
        ];
        let v = |m: &[Option<f64>]| versus_best(&cols, 0, &cells(m));
        assert_eq!(
            v(&[Some(30.0), Some(20.0), Some(10.0), Some(1.0)]),
            "3.00x kanal"
        );
        assert_eq!(
            v(&[Some(8.0), Some(20.0), Some(10.0), Some(1.0)]),
            "best, 0.80x kanal"
        );
        assert_eq!(v(&[Some(8.0), None, None, Some(1.0)]), "n/a");
        assert_eq!(v(&[None, Some(20.0), Some(10.0), None]), "n/a");
    }

    #[test]
    fn compare_table_marks_the_best_and_prints_na() {
        let table = CompareTable {
            columns: vec![
                col("gort", true),
                col("kanal", true),
                col("tokio mpsc", true),
                col("gort (gort rt)", false),
            ],
            subject: 0,
            rows: vec![
                CompareRow {
                    workload: "chan/mpmc/cap128".into(),
                    unit: Unit::PerOp,
                    cells: cells(&[Some(44.8), Some(18.5), None, Some(2.0)]),
                },
                CompareRow {
                    workload: "chan/mpsc/cap0".into(),
                    unit: Unit::PerOp,
                    cells: cells(&[Some(110.0), Some(121.0), None, Some(221.0)]),
                },
            ],
        };
        let text = table.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("| workload "), "{text}");
        assert!(lines[0].contains("| gort (gort rt) "), "{text}");
        assert!(lines[0].ends_with("| gort vs best      |"), "{text}");
        assert!(lines[2].contains("| **18.5** (16.7–20.4) "), "{text}");
        assert!(lines[2].contains("| 44.8 (40.3–49.3) "), "{text}");
        assert!(lines[2].contains("| 2.00 (1.80–2.20) "), "{text}"); // unranked: not bold
        assert!(lines[2].contains("| n/a "), "{text}");
        assert!(lines[2].contains("| 2.42x kanal "), "{text}");
        assert!(lines[3].contains("| **110** (99.0–121) "), "{text}");
        assert!(lines[3].contains("| best, 0.91x kanal |"), "{text}");
        let widths: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
        assert!(widths.iter().all(|w| *w == widths[0]), "{text}");
    }
}
