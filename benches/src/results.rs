//! The run's results as data: written as JSON to
//! `target/gort-bench/results.json` and drawn as an SVG chart of gort's
//! ratio per workload (`target/gort-bench/ratios.svg`).
//!
//! The JSON is written by hand (a few dozen lines, keys in a fixed order)
//! and read back with `serde_json`'s `Value` ([`Results::from_json`]) by
//! `gort-bench-md`, which regenerates BENCHMARKS.md from it. Every table of
//! the run becomes a section: its columns, the notes printed with it, and
//! per row the unit, the summary (median, min, max, count) of each column,
//! and gort's ratio (to tokio in the runtime table, to the best other
//! ranked column in the comparison tables).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::report::{best_cell, CompareTable, Table};
use crate::stats::{ratio, Summary};
use crate::workload::Unit;

/// One column of a section.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultColumn {
    /// Header, e.g. `tokio`, `Go`, `kanal`.
    pub name: String,
    /// Whether it competes for "best" (reference columns do not).
    pub ranked: bool,
}

/// One row of a section.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    /// Workload name.
    pub workload: String,
    /// Unit of the summaries.
    pub unit: Unit,
    /// The goal for `ratio` (met when `<=`), where the row has one.
    pub goal: Option<f64>,
    /// One summary per column (`None`: the column cannot run it).
    pub cells: Vec<Option<Summary>>,
    /// gort's median over the reference median (`None`: nothing to compare).
    pub ratio: Option<f64>,
    /// The column `ratio` is taken against.
    pub against: Option<String>,
}

/// One table of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// Title, e.g. `runtimes` or `chan/go: ...`.
    pub title: String,
    /// The columns.
    pub columns: Vec<ResultColumn>,
    /// Index of gort's column.
    pub subject: usize,
    /// Lines printed with the table (what runs, how to read it).
    pub notes: Vec<String>,
    /// The rows.
    pub rows: Vec<ResultRow>,
}

impl Section {
    /// The section with `notes` as its notes.
    pub fn with_notes(mut self, notes: Vec<String>) -> Section {
        self.notes = notes;
        self
    }

    /// The runtime table: ratios against the baseline, with the goal.
    pub fn from_table(title: &str, t: &Table) -> Section {
        Section {
            title: title.to_string(),
            columns: t
                .contenders
                .iter()
                .map(|c| ResultColumn {
                    name: c.clone(),
                    ranked: true,
                })
                .collect(),
            subject: t.subject,
            notes: Vec::new(),
            rows: t
                .rows
                .iter()
                .map(|r| ResultRow {
                    workload: r.workload.clone(),
                    unit: r.unit,
                    goal: Some(r.goal),
                    cells: r.cells.clone(),
                    ratio: r.ratio(t.subject, t.baseline),
                    against: Some(t.contenders[t.baseline].clone()),
                })
                .collect(),
        }
    }

    /// A comparison table: ratios against the best other ranked column.
    pub fn from_compare(title: &str, t: &CompareTable) -> Section {
        let rows = t
            .rows
            .iter()
            .map(|r| {
                let mine = r.cells.get(t.subject).copied().flatten();
                // The best ranked column other than gort's.
                let mut others = r.cells.clone();
                if let Some(c) = others.get_mut(t.subject) {
                    *c = None;
                }
                let best = best_cell(&t.columns, &others).or_else(|| {
                    // Only one other ranked value: compare with it.
                    others
                        .iter()
                        .zip(&t.columns)
                        .position(|(c, col)| c.is_some() && col.ranked)
                });
                let (ratio, against) = match (mine, best) {
                    (Some(m), Some(b)) => (
                        others[b].and_then(|o| ratio(m.median, o.median)),
                        Some(t.columns[b].name.clone()),
                    ),
                    _ => (None, None),
                };
                ResultRow {
                    workload: r.workload.clone(),
                    unit: r.unit,
                    goal: None,
                    cells: r.cells.clone(),
                    ratio,
                    against,
                }
            })
            .collect();
        Section {
            title: title.to_string(),
            columns: t
                .columns
                .iter()
                .map(|c| ResultColumn {
                    name: c.name.clone(),
                    ranked: c.ranked,
                })
                .collect(),
            subject: t.subject,
            notes: Vec::new(),
            rows,
        }
    }
}

/// Everything one run produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Results {
    /// `machine: <cpu>, nproc <n>`.
    pub machine: String,
    /// UTC date of the run, `YYYY-MM-DD`.
    pub date: String,
    /// The arguments the harness was run with.
    pub args: Vec<String>,
    /// The method line of the report.
    pub method: String,
    /// The tables, in report order.
    pub sections: Vec<Section>,
}

/// Appends `s` as a JSON string literal.
pub fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `v` as a JSON number (`null` for NaN and infinities, which JSON
/// cannot hold).
pub fn json_number(out: &mut String, v: f64) {
    if v.is_finite() {
        let _ = write!(out, "{v}");
    } else {
        out.push_str("null");
    }
}

fn json_opt_number(out: &mut String, v: Option<f64>) {
    match v {
        Some(v) => json_number(out, v),
        None => out.push_str("null"),
    }
}

fn unit_name(u: Unit) -> &'static str {
    match u {
        Unit::Time => "ns",
        Unit::Bytes => "bytes",
        Unit::PerOp => "ns/op",
    }
}

fn unit_from_name(name: &str) -> Option<Unit> {
    [Unit::Time, Unit::Bytes, Unit::PerOp]
        .into_iter()
        .find(|u| unit_name(*u) == name)
}

/// Reading [`Results`] back from JSON: typed accessors on `serde_json`
/// values that name the missing or mistyped key.
mod read {
    use serde_json::Value;

    pub fn field<'v>(v: &'v Value, key: &str) -> Result<&'v Value, String> {
        v.get(key).ok_or_else(|| format!("missing key {key:?}"))
    }

    pub fn string(v: &Value, key: &str) -> Result<String, String> {
        field(v, key)?
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{key:?} is not a string"))
    }

    pub fn array<'v>(v: &'v Value, key: &str) -> Result<&'v Vec<Value>, String> {
        field(v, key)?
            .as_array()
            .ok_or_else(|| format!("{key:?} is not an array"))
    }

    pub fn strings(v: &Value, key: &str) -> Result<Vec<String>, String> {
        array(v, key)?
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{key:?} holds a non-string"))
            })
            .collect()
    }

    /// A number, or NaN for `null` (how non-finite numbers are written).
    pub fn number(v: &Value, key: &str) -> Result<f64, String> {
        match field(v, key)? {
            Value::Null => Ok(f64::NAN),
            n => n.as_f64().ok_or_else(|| format!("{key:?} is not a number")),
        }
    }

    /// `None` for `null`.
    pub fn opt_number(v: &Value, key: &str) -> Result<Option<f64>, String> {
        match field(v, key)? {
            Value::Null => Ok(None),
            n => n
                .as_f64()
                .map(Some)
                .ok_or_else(|| format!("{key:?} is not a number")),
        }
    }
}

impl Results {
    /// Reads results back from the JSON [`Results::to_json`] writes.
    pub fn from_json(text: &str) -> Result<Results, String> {
        use serde_json::Value;
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let sections = read::array(&v, "sections")?
            .iter()
            .map(|s| {
                let title = read::string(s, "title")?;
                let section = |e: String| format!("section {title:?}: {e}");
                let columns = read::array(s, "columns")
                    .map_err(section)?
                    .iter()
                    .map(|c| {
                        Ok(ResultColumn {
                            name: read::string(c, "name")?,
                            ranked: read::field(c, "ranked")?
                                .as_bool()
                                .ok_or("\"ranked\" is not a boolean")?,
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()
                    .map_err(section)?;
                let subject_name = read::string(s, "subject").map_err(section)?;
                let subject = columns
                    .iter()
                    .position(|c| c.name == subject_name)
                    .ok_or_else(|| section(format!("no column {subject_name:?}")))?;
                // Files written before sections had notes have none.
                let notes = match s.get("notes") {
                    None => Vec::new(),
                    Some(_) => read::strings(s, "notes").map_err(section)?,
                };
                let rows = read::array(s, "rows")
                    .map_err(section)?
                    .iter()
                    .map(|r| read_row(r, columns.len()))
                    .collect::<Result<Vec<_>, String>>()
                    .map_err(section)?;
                Ok(Section {
                    title,
                    columns,
                    subject,
                    notes,
                    rows,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Results {
            machine: read::string(&v, "machine")?,
            date: read::string(&v, "date")?,
            args: read::strings(&v, "args")?,
            method: read::string(&v, "method")?,
            sections,
        })
    }
}

fn read_row(r: &serde_json::Value, columns: usize) -> Result<ResultRow, String> {
    let workload = read::string(r, "workload")?;
    let row = |e: String| format!("row {workload:?}: {e}");
    let unit_text = read::string(r, "unit").map_err(row)?;
    let unit = unit_from_name(&unit_text).ok_or_else(|| row(format!("unit {unit_text:?}")))?;
    let cells = read::array(r, "cells")
        .map_err(row)?
        .iter()
        .map(|c| {
            if c.is_null() {
                return Ok(None);
            }
            Ok(Some(Summary {
                median: read::number(c, "median")?,
                min: read::number(c, "min")?,
                max: read::number(c, "max")?,
                count: read::field(c, "runs")?
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or("\"runs\" is not a count")?,
            }))
        })
        .collect::<Result<Vec<_>, String>>()
        .map_err(row)?;
    if cells.len() != columns {
        return Err(row(format!("{} cells for {columns} columns", cells.len())));
    }
    let against = match read::field(r, "against").map_err(row)? {
        serde_json::Value::Null => None,
        a => Some(
            a.as_str()
                .ok_or_else(|| row("\"against\" is not a string".into()))?
                .to_string(),
        ),
    };
    Ok(ResultRow {
        goal: read::opt_number(r, "goal").map_err(row)?,
        ratio: read::opt_number(r, "ratio").map_err(row)?,
        against,
        cells,
        unit,
        workload,
    })
}

impl Results {
    /// The results as JSON (one object; keys in a fixed order).
    pub fn to_json(&self) -> String {
        let mut o = String::new();
        o.push_str("{\n  \"machine\": ");
        json_string(&mut o, &self.machine);
        o.push_str(",\n  \"date\": ");
        json_string(&mut o, &self.date);
        o.push_str(",\n  \"args\": [");
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                o.push_str(", ");
            }
            json_string(&mut o, a);
        }
        o.push_str("],\n  \"method\": ");
        json_string(&mut o, &self.method);
        o.push_str(",\n  \"sections\": [");
        for (si, s) in self.sections.iter().enumerate() {
            o.push_str(if si > 0 { ",\n    {" } else { "\n    {" });
            o.push_str("\n      \"title\": ");
            json_string(&mut o, &s.title);
            o.push_str(",\n      \"subject\": ");
            json_string(&mut o, &s.columns[s.subject].name);
            o.push_str(",\n      \"columns\": [");
            for (ci, c) in s.columns.iter().enumerate() {
                if ci > 0 {
                    o.push_str(", ");
                }
                o.push_str("{\"name\": ");
                json_string(&mut o, &c.name);
                let _ = write!(o, ", \"ranked\": {}}}", c.ranked);
            }
            o.push_str("],\n      \"notes\": [");
            for (ni, n) in s.notes.iter().enumerate() {
                o.push_str(if ni > 0 { ",\n        " } else { "\n        " });
                json_string(&mut o, n);
            }
            o.push_str(if s.notes.is_empty() { "]" } else { "\n      ]" });
            o.push_str(",\n      \"rows\": [");
            for (ri, r) in s.rows.iter().enumerate() {
                o.push_str(if ri > 0 {
                    ",\n        {"
                } else {
                    "\n        {"
                });
                o.push_str("\"workload\": ");
                json_string(&mut o, &r.workload);
                o.push_str(", \"unit\": ");
                json_string(&mut o, unit_name(r.unit));
                o.push_str(", \"goal\": ");
                json_opt_number(&mut o, r.goal);
                o.push_str(", \"ratio\": ");
                json_opt_number(&mut o, r.ratio);
                o.push_str(", \"against\": ");
                match &r.against {
                    Some(a) => json_string(&mut o, a),
                    None => o.push_str("null"),
                }
                o.push_str(", \"cells\": [");
                for (ci, cell) in r.cells.iter().enumerate() {
                    if ci > 0 {
                        o.push_str(", ");
                    }
                    match cell {
                        None => o.push_str("null"),
                        Some(c) => {
                            o.push_str("{\"median\": ");
                            json_number(&mut o, c.median);
                            o.push_str(", \"min\": ");
                            json_number(&mut o, c.min);
                            o.push_str(", \"max\": ");
                            json_number(&mut o, c.max);
                            let _ = write!(o, ", \"runs\": {}}}", c.count);
                        }
                    }
                }
                o.push_str("]}");
            }
            o.push_str("\n      ]\n    }");
        }
        o.push_str("\n  ]\n}\n");
        o
    }

    /// An SVG chart: one horizontal bar per row with a ratio, on a
    /// logarithmic axis from 0.1x to 10x; left of the 1x line gort is
    /// faster. Rows are grouped by section.
    pub fn to_svg(&self) -> String {
        const ROW_H: f64 = 18.0;
        const LABEL_W: f64 = 300.0;
        const PLOT_W: f64 = 480.0;
        const TOP: f64 = 40.0;
        let bars: Vec<(&str, &ResultRow)> = self
            .sections
            .iter()
            .flat_map(|s| s.rows.iter().map(move |r| (s.title.as_str(), r)))
            .filter(|(_, r)| r.ratio.is_some())
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
        let _ = writeln!(o, "<text x=\"10\" y=\"32\">{}</text>", xml(&self.machine));
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
        for (i, (section, r)) in bars.iter().enumerate() {
            let ratio = r.ratio.expect("filtered");
            let y = TOP + ROW_H * i as f64 + 3.0;
            let (x0, x1) = if ratio < 1.0 {
                (x(ratio), x(1.0))
            } else {
                (x(1.0), x(ratio))
            };
            let color = if ratio <= 1.0 { "#2a9d3f" } else { "#d1495b" };
            let label = if section.starts_with("chan") || r.workload.contains('/') {
                r.workload.clone()
            } else {
                format!("{} ({})", r.workload, r.against.as_deref().unwrap_or(""))
            };
            let _ = writeln!(
                o,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
                 <rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\">{:.2}x {}</text>",
                LABEL_W - 6.0,
                y + ROW_H * 0.7,
                xml(&label),
                (x1 - x0).max(1.0),
                ROW_H - 5.0,
                x(ratio).max(x(1.0)) + 4.0,
                y + ROW_H * 0.7,
                ratio,
                xml(r.against.as_deref().unwrap_or("")),
            );
        }
        o.push_str("</svg>\n");
        o
    }

    /// Writes `results.json` and `ratios.svg` into `dir` (created if
    /// needed); returns their paths.
    pub fn write(&self, dir: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir)?;
        let json = dir.join("results.json");
        let svg = dir.join("ratios.svg");
        std::fs::write(&json, self.to_json())?;
        std::fs::write(&svg, self.to_svg())?;
        Ok((json, svg))
    }
}

/// Escapes text for SVG.
fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `<target>/gort-bench`: `CARGO_TARGET_DIR` if set, else the `target`
/// directory the running executable was built into.
pub fn output_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("gort-bench");
    }
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/<exe>
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("gort-bench")
}

/// Today's UTC date as `YYYY-MM-DD` (civil-from-days, no time crate).
pub fn utc_date(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Column, CompareRow, Row};

    fn summary(median: f64) -> Summary {
        Summary {
            median,
            min: median * 0.9,
            max: median * 1.2,
            count: 15,
        }
    }

    fn sample() -> Results {
        let table = Table {
            contenders: vec!["gort".into(), "tokio".into()],
            subject: 0,
            baseline: 1,
            rows: vec![Row {
                workload: "spawn_many_local".into(),
                unit: Unit::Time,
                goal: 0.8,
                cells: vec![Some(summary(1.0e6)), Some(summary(4.0e6))],
            }],
        };
        let compare = CompareTable {
            columns: vec![
                Column {
                    name: "gort".into(),
                    ranked: true,
                },
                Column {
                    name: "Go".into(),
                    ranked: true,
                },
                Column {
                    name: "gort (tokio rt)".into(),
                    ranked: false,
                },
            ],
            subject: 0,
            rows: vec![
                CompareRow {
                    workload: "chan/go/ChanSync".into(),
                    unit: Unit::PerOp,
                    cells: vec![
                        Some(summary(124.0)),
                        Some(summary(100.0)),
                        Some(summary(1.0)),
                    ],
                },
                CompareRow {
                    workload: "chan/go/Nothing \"quoted\"".into(),
                    unit: Unit::PerOp,
                    cells: vec![Some(summary(f64::NAN)), None, None],
                },
            ],
        };
        Results {
            machine: "machine: AMD EPYC, nproc 2".into(),
            date: "2026-11-26".into(),
            args: vec!["--quick".into()],
            method: "m".into(),
            sections: vec![
                Section::from_table("runtimes", &table),
                Section::from_compare("chan/go", &compare),
            ],
        }
    }

    #[test]
    fn ratios_are_against_the_baseline_or_the_best_ranked_other() {
        let r = sample();
        let rt = &r.sections[0].rows[0];
        assert_eq!(rt.ratio, Some(0.25));
        assert_eq!(rt.against.as_deref(), Some("tokio"));
        assert_eq!(rt.goal, Some(0.8));
        let ch = &r.sections[1].rows[0];
        // The unranked reference column (1.0) is never the best.
        assert_eq!(ch.ratio, Some(1.24));
        assert_eq!(ch.against.as_deref(), Some("Go"));
        assert_eq!(r.sections[1].rows[1].ratio, None);
    }

    #[test]
    fn json_holds_every_value_and_escapes_strings() {
        let json = sample().to_json();
        for needle in [
            "\"machine\": \"machine: AMD EPYC, nproc 2\"",
            "\"date\": \"2026-11-26\"",
            "\"args\": [\"--quick\"]",
            "\"workload\": \"spawn_many_local\", \"unit\": \"ns\", \"goal\": 0.8, \"ratio\": 0.25, \"against\": \"tokio\"",
            "{\"median\": 1000000, \"min\": 900000, \"max\": 1200000, \"runs\": 15}",
            "\"workload\": \"chan/go/Nothing \\\"quoted\\\"\"",
            "\"cells\": [{\"median\": null",
            "{\"name\": \"gort (tokio rt)\", \"ranked\": false}",
        ] {
            assert!(json.contains(needle), "{needle} missing from\n{json}");
        }
        // Balanced brackets and braces (strings hold none unescaped here).
        let opens = json.matches(['{', '[']).count();
        let closes = json.matches(['}', ']']).count();
        assert_eq!(opens, closes);
        let mut s = String::new();
        json_string(&mut s, "a\u{1}b\\\n");
        assert_eq!(s, "\"a\\u0001b\\\\\\n\"");
        let mut n = String::new();
        json_number(&mut n, f64::INFINITY);
        assert_eq!(n, "null");
    }

    #[test]
    fn json_reads_back_to_the_same_results() {
        let mut results = sample();
        results.sections[1].notes = vec!["a \"note\"".into(), "line\ntwo".into()];
        let json = results.to_json();
        let back = Results::from_json(&json).unwrap();
        // NaN != NaN, so compare what is written; and some fields directly.
        assert_eq!(back.to_json(), json);
        assert_eq!(back.sections[0], results.sections[0]);
        assert_eq!(back.sections[1].notes, results.sections[1].notes);
        assert_eq!(back.sections[1].subject, 0);
        assert!(back.sections[1].rows[1].cells[0].unwrap().median.is_nan());
        assert_eq!(back.sections[1].rows[1].cells[1], None);
        assert_eq!(back.args, ["--quick"]);
    }

    #[test]
    fn bad_json_is_an_error_naming_the_place() {
        assert!(Results::from_json("{").unwrap_err().starts_with("not JSON"));
        let json = sample().to_json();
        let err = Results::from_json(&json.replace("\"unit\": \"ns\"", "\"unit\": \"parsecs\""))
            .unwrap_err();
        assert!(
            err.contains("spawn_many_local") && err.contains("parsecs"),
            "{err}"
        );
        let err =
            Results::from_json(&json.replace("\"subject\": \"gort\"", "\"subject\": \"nobody\""))
                .unwrap_err();
        assert!(err.contains("nobody"), "{err}");
        let err = Results::from_json(&json.replace("\"machine\"", "\"computer\"")).unwrap_err();
        assert!(err.contains("machine"), "{err}");
    }

    #[test]
    fn svg_has_a_bar_per_ratio_and_escapes_labels() {
        let svg = sample().to_svg();
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 2, "rows with a ratio");
        assert!(svg.contains("0.25x tokio"));
        assert!(svg.contains("1.24x Go"));
        assert!(!svg.contains("\"quoted\""));
    }

    #[test]
    fn writes_both_files() {
        let dir = std::env::temp_dir().join(format!("gort-bench-test-{}", std::process::id()));
        let (json, svg) = sample().write(&dir).unwrap();
        assert!(std::fs::read_to_string(json)
            .unwrap()
            .contains("spawn_many_local"));
        assert!(std::fs::read_to_string(svg).unwrap().contains("<svg"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn dates_from_unix_time() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(1_795_651_200), "2026-11-26");
    }
}
