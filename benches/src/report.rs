//! A [`Table`] rendered: as aligned Markdown (the console and BENCHMARKS.md
//! print the same text), and the run as an SVG chart of gort's ratios.
//!
//! A table with a baseline (the runtime table) has a `median (min–max)`
//! column per runtime, the ratio to the baseline and whether the goal was
//! met; the others mark the best median of each row in bold. Both end with
//! how gort stands against the best of the other columns.

use std::fmt::Write as _;

use crate::cli::Options;
use crate::contender::{Contender, Gort, Smol, Tokio, WORKERS};
use crate::results::{lowest, Results, Row, Table};
use crate::stats::{ratio, Summary, Unit};

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
fn time_scale(ns: f64) -> (f64, &'static str) {
    match ns.abs() {
        a if a < 1e3 => (1.0, "ns"),
        a if a < 1e6 => (1e3, "us"),
        a if a < 1e9 => (1e6, "ms"),
        _ => (1e9, "s"),
    }
}

/// Formats a time given in nanoseconds: `739 us`, `6.64 ms`.
pub fn format_time(ns: f64) -> String {
    let (div, suffix) = time_scale(ns);
    format!("{} {suffix}", sig3(ns / div))
}

/// A byte count: whole numbers exactly (`128`), others with three digits.
fn bytes(b: f64) -> String {
    if b.fract() == 0.0 && b.abs() < 1e15 {
        format!("{b:.0}")
    } else {
        sig3(b)
    }
}

/// Formats one value of `unit`: `6.64 ms`, `128 B`, `10.5 ns/op`.
pub fn format_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Time => format_time(v),
        Unit::Bytes => format!("{} B", bytes(v)),
        Unit::PerOp => format!("{} ns/op", sig3(v)),
    }
}

/// A summary as the median (with its unit, if any) and `(min–max)`, min and
/// max in the median's display unit when all three share it
/// (`6.64 ms`, `(6.41–7.02)`), each with its own unit otherwise
/// (`4.95 s`, `(10.2 ms–5.18 s)`). Per-op values are bare nanoseconds:
/// their table says "ns per message" once.
pub fn format_summary(s: &Summary, unit: Unit) -> (String, String) {
    let range = |f: &dyn Fn(f64) -> String| format!("({}–{})", f(s.min), f(s.max));
    match unit {
        Unit::Time => {
            let (div, suffix) = time_scale(s.median);
            if time_scale(s.min).0 == div && time_scale(s.max).0 == div {
                let scaled = |v: f64| sig3(v / div);
                (format!("{} {suffix}", scaled(s.median)), range(&scaled))
            } else {
                (format_time(s.median), range(&format_time))
            }
        }
        Unit::Bytes => (format!("{} B", bytes(s.median)), range(&bytes)),
        Unit::PerOp => (sig3(s.median), range(&sig3)),
    }
}

/// The "gort vs best" cell: `2.41x kanal` when `kanal` has the lowest
/// ranked median of the other columns (subject median / that median);
/// `best, 0.62x flume` when the subject itself is lowest (against the
/// runner-up); `n/a` when either has no value.
fn versus_best(t: &Table, row: &Row) -> String {
    let subject = t.subject();
    let median = |i: usize| row.cells[i].map(|s| s.median);
    let best = lowest(&t.columns, &row.cells, Some(subject));
    let Some((mine, theirs, best)) = best.and_then(|b| Some((median(subject)?, median(b)?, b)))
    else {
        return "n/a".to_string();
    };
    match ratio(mine, theirs) {
        Some(r) if mine <= theirs => format!("best, {r:.2}x {}", t.columns[best].name),
        Some(r) => format!("{r:.2}x {}", t.columns[best].name),
        None => "n/a".to_string(),
    }
}

/// Renders `t` as aligned Markdown.
pub fn render(t: &Table) -> String {
    let subject = &t.columns[t.subject()].name;
    let baseline = t.baseline();
    let common_goal = t
        .rows
        .first()
        .and_then(|r| r.goal)
        .filter(|g| t.rows.iter().all(|r| r.goal == Some(*g)));
    let mut header = vec!["workload".to_string()];
    for c in &t.columns {
        header.push(match baseline {
            Some(_) => format!("{} median (min–max)", c.name),
            None => c.name.clone(),
        });
    }
    if let Some(b) = baseline {
        header.push(format!("ratio {subject}/{}", t.columns[b].name));
        header.push(match common_goal {
            Some(g) => format!("goal (<= {g:.2}x) met?"),
            None => "goal met?".to_string(),
        });
    }
    header.push(format!("{subject} vs best"));

    let mut lines = vec![header];
    for row in &t.rows {
        // The lowest ranked median, bold where no baseline is the measure
        // and another ranked column has a value to compare with.
        let bold = lowest(&t.columns, &row.cells, None)
            .filter(|&b| baseline.is_none() && lowest(&t.columns, &row.cells, Some(b)).is_some());
        let mut cells = vec![row.workload.clone()];
        for (i, cell) in row.cells.iter().enumerate() {
            cells.push(match cell {
                None => "n/a".to_string(),
                Some(s) if bold == Some(i) => {
                    let (median, range) = format_summary(s, row.unit);
                    format!("**{median}** {range}")
                }
                Some(s) => {
                    let (median, range) = format_summary(s, row.unit);
                    format!("{median} {range}")
                }
            });
        }
        if baseline.is_some() {
            cells.push(row.ratio.map_or("n/a".to_string(), |r| format!("{r:.2}x")));
            let goal = row.goal.unwrap_or(f64::NAN);
            let verdict = match row.ratio {
                Some(r) if r <= goal => "yes",
                Some(_) => "NO",
                None => "n/a",
            };
            cells.push(match common_goal {
                Some(_) => verdict.to_string(),
                None => format!("{verdict} (<= {goal:.2}x)"),
            });
        }
        cells.push(versus_best(t, row));
        lines.push(cells);
    }
    aligned(&lines)
}

/// Renders `lines` (the first is the header) as an aligned Markdown table:
/// every cell padded to its column's width in characters.
fn aligned(lines: &[Vec<String>]) -> String {
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
    let line = |cells: &[String]| {
        let padded: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(c, w)| {
                let s = cells.get(c).map_or("", String::as_str);
                format!("{s}{}", " ".repeat(w - s.chars().count()))
            })
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let Some((header, body)) = lines.split_first() else {
        return String::new();
    };
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    let mut out = line(header);
    out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
    for l in body {
        out.push_str(&line(l));
    }
    out
}

/// The method line of a run with `opts`: how the runtimes were built and
/// how every row is measured.
pub fn method(opts: &Options) -> String {
    let names = [Gort::NAME, Tokio::NAME, Smol::NAME];
    let order = format!("{} {} ...", names.join(" "), names.join(" "));
    let per_run = if opts.run_target.is_zero() {
        "one iteration per run".to_string()
    } else {
        format!(
            "a timed run repeats the workload back to back for ~{} ms (same count on every \
             runtime) and keeps the mean",
            opts.run_target.as_millis()
        )
    };
    let sizes = if opts.quick {
        "--quick sizes (smaller; not comparable with a full run)"
    } else {
        "full sizes"
    };
    format!(
        "{} built once each with {WORKERS} worker threads; per workload 1 warm-up run \
         each, then {} runs each interleaved ({order}); {per_run}; median (min–max) of the runs; \
         {sizes}; the scheduler rows (spawn_many*, ping_pong, yield_many, chained_spawn, \
         skynet) start a fresh process per run that discards its first iteration, as Go's \
         column does; the scale and oversub suites start a fresh process per run and point, \
         with no warm-up and their own run counts (see their notes)",
        names.join(", "),
        opts.runs,
    )
}

/// Escapes text for SVG.
fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An SVG chart: one horizontal bar per row with a ratio, on a
/// logarithmic axis from 0.1x to 10x; left of the 1x line gort is
/// faster. Rows are grouped by table.
pub fn svg(results: &Results) -> String {
    const ROW_H: f64 = 18.0;
    const LABEL_W: f64 = 300.0;
    const PLOT_W: f64 = 480.0;
    const TOP: f64 = 40.0;
    let bars: Vec<(&str, &Row, f64)> = results
        .tables
        .iter()
        .flat_map(|t| t.rows.iter().map(move |r| (t.title.as_str(), r)))
        .filter_map(|(title, r)| Some((title, r, r.ratio?)))
        .collect();
    let height = TOP + ROW_H * (bars.len() as f64 + 1.0) + 30.0;
    let width = LABEL_W + PLOT_W + 120.0;
    // x position of a ratio on the log axis 0.1 .. 10.
    let x = |r: f64| LABEL_W + (r.clamp(0.1, 10.0).log10() + 1.0) / 2.0 * PLOT_W;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"11\">"
    );
    let _ = writeln!(
        o,
        "<text x=\"10\" y=\"18\" font-size=\"14\">gort's median / the reference median \
         (tokio, or the best other implementation); left of 1x gort is faster</text>"
    );
    let _ = writeln!(
        o,
        "<text x=\"10\" y=\"32\">{}</text>",
        xml(&results.machine)
    );
    for tick in [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0] {
        let tx = x(tick);
        let stroke = if tick == 1.0 { "#000" } else { "#ddd" };
        let _ = writeln!(
            o,
            "<line x1=\"{tx:.1}\" y1=\"{TOP}\" x2=\"{tx:.1}\" y2=\"{:.1}\" stroke=\"{stroke}\"/>\
             <text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{tick}x</text>",
            height - 25.0,
            height - 12.0
        );
    }
    for (i, (title, r, ratio)) in bars.into_iter().enumerate() {
        let y = TOP + ROW_H * i as f64 + 3.0;
        let (x0, x1) = if ratio < 1.0 {
            (x(ratio), x(1.0))
        } else {
            (x(1.0), x(ratio))
        };
        let color = if ratio <= 1.0 { "#2a9d3f" } else { "#d1495b" };
        let against = r.against.as_deref().unwrap_or("");
        let label = if title.starts_with("chan") || r.workload.contains('/') {
            r.workload.clone()
        } else {
            format!("{} ({against})", r.workload)
        };
        let _ = writeln!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{ratio:.2}x {}</text>",
            LABEL_W - 6.0,
            y + ROW_H * 0.7,
            xml(&label),
            (x1 - x0).max(1.0),
            ROW_H - 5.0,
            x(ratio).max(x(1.0)) + 4.0,
            y + ROW_H * 0.7,
            xml(against),
        );
    }
    o.push_str("</svg>\n");
    o
}

/// The curve and N of a scale row, `scale/<curve>/<N>` (N may be written
/// `1e4`).
pub fn scale_point(workload: &str) -> Option<(&str, f64)> {
    let (curve, n) = workload.strip_prefix("scale/")?.rsplit_once('/')?;
    let n: f64 = n.parse().ok()?;
    (n > 0.0 && n.is_finite()).then_some((curve, n))
}

/// The colours of the lines of a scale chart, one per column in order.
const LINE_COLOURS: [&str; 6] = [
    "#2a9d3f", "#1f5fbf", "#e08a00", "#7b3fa0", "#888888", "#d1495b",
];

/// One log-log line chart per curve of the scale suite in `results`
/// (rows `scale/<curve>/<N>`): cost per unit (the median) against N, a
/// line per column with a value; `(curve, svg)` in the order the rows
/// come.
pub fn scale_svgs(results: &Results) -> Vec<(String, String)> {
    let mut curves: Vec<(&str, &Table)> = Vec::new();
    for t in &results.tables {
        for r in &t.rows {
            if let Some((curve, _)) = scale_point(&r.workload) {
                if !curves.iter().any(|(c, _)| *c == curve) {
                    curves.push((curve, t));
                }
            }
        }
    }
    curves
        .into_iter()
        .map(|(curve, t)| (curve.to_string(), scale_svg(curve, t, results)))
        .collect()
}

/// The chart of `curve` from the rows of every table of `results` with
/// the columns of `t` (the scale suites share theirs).
fn scale_svg(curve: &str, t: &Table, results: &Results) -> String {
    const W: f64 = 640.0;
    const H: f64 = 400.0;
    const LEFT: f64 = 80.0;
    const RIGHT: f64 = 130.0;
    const TOP: f64 = 50.0;
    const BOTTOM: f64 = 50.0;
    let rows: Vec<(f64, &Row)> = results
        .tables
        .iter()
        .filter(|other| other.columns == t.columns)
        .flat_map(|other| &other.rows)
        .filter_map(|r| {
            let (c, n) = scale_point(&r.workload)?;
            (c == curve).then_some((n, r))
        })
        .collect();
    let unit = rows.first().map_or(Unit::PerOp, |(_, r)| r.unit);
    // Every plotted point: (column, N, median).
    let points: Vec<(usize, f64, f64)> = rows
        .iter()
        .flat_map(|(n, r)| {
            r.cells.iter().enumerate().filter_map(move |(i, c)| {
                let m = c.as_ref()?.median;
                (m > 0.0 && m.is_finite()).then_some((i, *n, m))
            })
        })
        .collect();
    let decades = |values: &mut dyn Iterator<Item = f64>| {
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v.log10()), hi.max(v.log10()))
        });
        if lo.is_finite() {
            (lo.floor(), hi.ceil().max(lo.floor() + 1.0))
        } else {
            (0.0, 1.0)
        }
    };
    let (x0, x1) = decades(&mut points.iter().map(|p| p.1));
    let (y0, y1) = decades(&mut points.iter().map(|p| p.2));
    let x = |n: f64| LEFT + (n.log10() - x0) / (x1 - x0) * (W - LEFT - RIGHT);
    let y = |v: f64| H - BOTTOM - (v.log10() - y0) / (y1 - y0) * (H - TOP - BOTTOM);
    let what = match unit {
        Unit::Bytes => "bytes per unit",
        Unit::PerOp => "ns per unit",
        Unit::Time => "time",
    };
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" \
         font-family=\"sans-serif\" font-size=\"11\">"
    );
    let _ = writeln!(
        o,
        "<text x=\"10\" y=\"18\" font-size=\"14\">scale/{}: {what} (median) against N, \
         log-log; lower is better</text><text x=\"10\" y=\"34\">{}</text>",
        xml(curve),
        xml(&results.machine)
    );
    for k in (x0 as i32)..=(x1 as i32) {
        let n = 10f64.powi(k);
        let px = x(n);
        let _ = writeln!(
            o,
            "<line x1=\"{px:.1}\" y1=\"{TOP}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">1e{k}</text>",
            H - BOTTOM,
            H - BOTTOM + 16.0
        );
    }
    for k in (y0 as i32)..=(y1 as i32) {
        let v = 10f64.powi(k);
        let py = y(v);
        let _ = writeln!(
            o,
            "<line x1=\"{LEFT}\" y1=\"{py:.1}\" x2=\"{:.1}\" y2=\"{py:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            py + 4.0,
            xml(&format_value(v, unit))
        );
    }
    let _ = writeln!(
        o,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">N</text>",
        (LEFT + W - RIGHT) / 2.0,
        H - 12.0
    );
    let mut legend = 0;
    for (i, column) in t.columns.iter().enumerate() {
        let mine: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.0 == i)
            .map(|p| (x(p.1), y(p.2)))
            .collect();
        if mine.is_empty() {
            continue;
        }
        let colour = LINE_COLOURS[i % LINE_COLOURS.len()];
        let path: Vec<String> = mine
            .iter()
            .map(|(px, py)| format!("{px:.1},{py:.1}"))
            .collect();
        let _ = writeln!(
            o,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>",
            path.join(" ")
        );
        for (px, py) in &mine {
            let _ = writeln!(
                o,
                "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3\" fill=\"{colour}\"/>"
            );
        }
        let ly = TOP + 16.0 * legend as f64;
        legend += 1;
        let _ = writeln!(
            o,
            "<line x1=\"{:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{colour}\" \
             stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            W - RIGHT + 10.0,
            W - RIGHT + 30.0,
            W - RIGHT + 34.0,
            ly + 4.0,
            xml(&column.name)
        );
    }
    o.push_str("</svg>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::tests::sample;

    fn summary(median: f64, min: f64, max: f64) -> Summary {
        Summary {
            median,
            min,
            max,
            count: 3,
        }
    }

    fn joined(s: &Summary, unit: Unit) -> String {
        let (median, range) = format_summary(s, unit);
        format!("{median} {range}")
    }

    #[test]
    fn values_pick_a_unit_and_three_digits() {
        assert_eq!(format_time(739_000.0), "739 us");
        assert_eq!(format_time(26_500_000.0), "26.5 ms");
        assert_eq!(format_time(1_250_000_000.0), "1.25 s");
        assert_eq!(format_time(0.0), "0 ns");
        assert_eq!(format_value(128.0, Unit::Bytes), "128 B");
        assert_eq!(format_value(8.126, Unit::Bytes), "8.13 B");
        assert_eq!(format_value(10.54, Unit::PerOp), "10.5 ns/op");
    }

    #[test]
    fn summary_uses_the_median_unit_for_min_and_max() {
        let s = summary(6_640_000.0, 6_410_000.0, 12_300_000.0);
        assert_eq!(joined(&s, Unit::Time), "6.64 ms (6.41–12.3)");
        let s = summary(950_000.0, 940_000.0, 1_200_000.0);
        assert_eq!(joined(&s, Unit::Time), "950 us (940 us–1.20 ms)");
        let b = summary(128.0, 128.0, 128.0);
        assert_eq!(joined(&b, Unit::Bytes), "128 B (128–128)");
        let p = summary(1556.0, 1500.4, 3129.0);
        assert_eq!(joined(&p, Unit::PerOp), "1556 (1500–3129)");
    }

    #[test]
    fn the_runtime_table_has_ratio_and_goal_columns() {
        let mut r = sample();
        let text = render(&r.tables[0]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(
            lines[0].starts_with("| workload | gort median (min–max) "),
            "{text}"
        );
        assert!(lines[0].contains("| ratio gort/tokio | goal (<= 0.80x) met? | gort vs best"));
        assert!(lines[2].contains("| 1.00 ms (900 us–1.10 ms) "), "{text}");
        assert!(lines[2].contains("| 0.25x ") && lines[2].contains("| yes "));
        assert!(lines[2].contains("| 2.00x Go "), "{text}");
        assert!(
            lines[3].contains("| n/a ") && lines[3].contains("| NO "),
            "{text}"
        );
        assert!(lines[3].contains("| best, 1.00x tokio |"), "{text}");
        let widths: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
        assert!(widths.iter().all(|w| *w == widths[0]), "{text}");
        r.tables[0].rows[1].goal = Some(0.5);
        assert!(render(&r.tables[0]).contains("| NO (<= 0.50x) "));
    }

    #[test]
    fn a_comparison_table_marks_the_best_ranked_median() {
        let text = render(&sample().tables[1]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("| workload         | gort "), "{text}");
        assert!(
            lines[0].contains("| gort (tokio rt)  | gort vs best |"),
            "{text}"
        );
        // The unranked reference column is lower, but never bold.
        assert!(lines[2].contains("| **100** (90.0–110) "), "{text}");
        assert!(lines[2].contains("| 1.00 (0.90–1.10) ") && lines[2].contains("| 1.24x Go "));
        // gort has no value: nothing is compared, nothing is bold.
        assert!(lines[3].contains("| 100 (90.0–110) ") && !lines[3].contains("**"));
        assert!(lines[3].ends_with(&format!("| {:<12} |", "n/a")), "{text}");
    }

    #[test]
    fn svg_has_a_bar_per_ratio_and_escapes_labels() {
        let svg = svg(&sample());
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<rect").count(), 3, "rows with a ratio");
        assert!(svg.contains("0.25x tokio") && svg.contains("1.24x Go"));
    }

    #[test]
    fn a_scale_chart_per_curve_with_a_line_per_column() {
        let mut r = sample();
        assert!(scale_svgs(&r).is_empty());
        assert_eq!(scale_point("scale/spawn/1e3"), Some(("spawn", 1000.0)));
        assert_eq!(scale_point("scale/c10k_rss/100"), Some(("c10k_rss", 100.0)));
        assert_eq!(scale_point("scale/spawn/x"), None);
        assert_eq!(scale_point("spawn/1e3"), None);
        let t = &mut r.tables[1];
        t.rows[0].workload = "scale/spawn/1e3".into();
        t.rows[1].workload = "scale/spawn/1e4".into();
        let charts = scale_svgs(&r);
        assert_eq!(charts.len(), 1);
        let (curve, svg) = &charts[0];
        assert_eq!(curve, "spawn");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        // gort and the reference have one point, Go two: three lines.
        assert_eq!(svg.matches("<polyline").count(), 3, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 4, "{svg}");
        assert!(svg.contains(">1e3<") && svg.contains(">1e4<"), "{svg}");
    }
}
