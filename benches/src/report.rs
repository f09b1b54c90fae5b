//! The results table: one row per workload, one column per contender, the
//! ratio of the subject's median over the baseline's, and whether the goal
//! was met. Rendered as an aligned Markdown table, so it pastes into
//! BENCHMARKS.md as it is.

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
    /// One summary per contender, in the table's contender order.
    pub summaries: Vec<Summary>,
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
    }
}

/// Formats a summary as `median (min–max)`, min and max in the median's
/// display unit when all three share it (`6.64 ms (6.41–7.02)`,
/// `128 B (128–128)`), each with its own unit otherwise
/// (`4.95 s (10.2 ms–5.18 s)`).
pub fn format_summary(s: &Summary, unit: Unit) -> String {
    match unit {
        Unit::Time => {
            let (div, suffix) = time_scale(s.median);
            let same = time_scale(s.min).0 == div && time_scale(s.max).0 == div;
            if same {
                format!(
                    "{} {suffix} ({}–{})",
                    sig3(s.median / div),
                    sig3(s.min / div),
                    sig3(s.max / div)
                )
            } else {
                format!(
                    "{} ({}–{})",
                    format_time(s.median),
                    format_time(s.min),
                    format_time(s.max)
                )
            }
        }
        Unit::Bytes => format!(
            "{} B ({}–{})",
            bytes_number(s.median),
            bytes_number(s.min),
            bytes_number(s.max)
        ),
    }
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

        let mut lines = vec![header];
        for row in &self.rows {
            let mut cells = vec![row.workload.clone()];
            cells.extend(row.summaries.iter().map(|s| format_summary(s, row.unit)));
            let r = ratio(
                row.summaries[self.subject].median,
                row.summaries[self.baseline].median,
            );
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
            lines.push(cells);
        }

        let columns = lines[0].len();
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
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(s, w)| format!("{s}{}", " ".repeat(w - s.chars().count())))
                .collect();
            format!("| {} |", padded.join(" | "))
        };

        let mut out = String::new();
        out.push_str(&render_line(&lines[0]));
        out.push('\n');
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
        for line in &lines[1..] {
            out.push_str(&render_line(line));
            out.push('\n');
        }
        out
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
            contenders: vec!["gort".into(), "tokio".into()],
            subject: 0,
            baseline: 1,
            rows: vec![
                Row {
                    workload: "spawn_many_local".into(),
                    unit: Unit::Time,
                    goal: goals[0],
                    summaries: vec![
                        summary(2_000_000.0, 1_900_000.0, 2_500_000.0),
                        summary(6_640_000.0, 6_000_000.0, 7_000_000.0),
                    ],
                },
                Row {
                    workload: "alloc_per_empty_task".into(),
                    unit: Unit::Bytes,
                    goal: goals[1],
                    summaries: vec![summary(128.0, 128.0, 128.0), summary(128.0, 128.0, 128.0)],
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
        assert!(lines[0].ends_with("| goal (<= 0.80x) met? |"), "{text}");
        assert!(lines[1].starts_with("|--"), "{text}");
        assert!(lines[2].contains("2.00 ms (1.90–2.50)"), "{text}");
        assert!(lines[2].contains("6.64 ms (6.00–7.00)"), "{text}");
        assert!(lines[2].contains("| 0.30x "), "{text}");
        assert!(lines[2].contains("| yes "), "{text}");
        assert!(lines[3].contains("128 B (128–128)"), "{text}");
        assert!(lines[3].contains("| 1.00x "), "{text}");
        assert!(lines[3].contains("| NO "), "{text}");
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
        t.rows[1].summaries[1] = summary(0.0, 0.0, 0.0);
        let text = t.render();
        assert!(text.lines().nth(3).unwrap().contains("| n/a "), "{text}");
    }
}
