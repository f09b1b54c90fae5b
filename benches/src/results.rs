//! The run's results as data, the one table type the console, results.json
//! and BENCHMARKS.md are made from. `serde` writes them to
//! `target/gort-bench/results.json` and reads them back for
//! `gort-bench-md`.
//!
//! Every measured suite becomes a [`Table`]: its columns, the notes printed
//! with it, and per row the unit, the summary (median, min, max, runs) of
//! each column, and gort's ratio (to the baseline, or to the best other
//! ranked column).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::stats::{ratio, Summary, Unit};

/// Everything one run produced.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Results {
    /// `machine: <cpu>, nproc <n>, ...`.
    pub machine: String,
    /// UTC date of the run, `YYYY-MM-DD`.
    pub date: String,
    /// The arguments the harness was run with.
    pub args: Vec<String>,
    /// The method line of the report.
    pub method: String,
    /// The tables, in report order.
    #[serde(rename = "sections")]
    pub tables: Vec<Table>,
}

/// One column: a runtime or an implementation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// Header, e.g. `tokio`, `Go`, `kanal`.
    pub name: String,
    /// Whether it competes for "best": a column shown for reference is
    /// never bold and never the best the subject is held to.
    pub ranked: bool,
    /// One line for the legend under the table: what runs in it (not
    /// written to results.json: the notes hold the legend).
    #[serde(skip)]
    pub about: String,
}

impl Column {
    /// A column called `name`.
    pub fn new(name: &str, ranked: bool, about: &str) -> Column {
        Column {
            name: name.to_string(),
            ranked,
            about: about.to_string(),
        }
    }
}

/// One row of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Workload name.
    pub workload: String,
    /// Unit of the summaries.
    pub unit: Unit,
    /// The goal for `ratio` (met when `<=`), where the row has one.
    pub goal: Option<f64>,
    /// gort's median over the median of the `against` column.
    pub ratio: Option<f64>,
    /// The column `ratio` is taken against.
    pub against: Option<String>,
    /// One summary per column (`None`: the column cannot run it).
    pub cells: Vec<Option<Summary>>,
}

/// One measured table: the first column's implementation (`subject`)
/// against the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Title, e.g. `runtimes: gort vs tokio, smol and Go`.
    pub title: String,
    /// Name of the column under test (gort's).
    pub subject: String,
    /// The columns.
    pub columns: Vec<Column>,
    /// Lines printed with the table (what runs, how to read it).
    #[serde(default)]
    pub notes: Vec<String>,
    /// The rows.
    pub rows: Vec<Row>,
}

/// Index of the ranked cell with the lowest (non-NaN) median, leaving out
/// column `skip`; the first on a tie.
pub fn lowest(columns: &[Column], cells: &[Option<Summary>], skip: Option<usize>) -> Option<usize> {
    cells
        .iter()
        .zip(columns)
        .enumerate()
        .filter(|(i, (_, col))| Some(*i) != skip && col.ranked)
        .filter_map(|(i, (cell, _))| Some((i, cell.as_ref()?.median)))
        .filter(|(_, m)| !m.is_nan())
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

impl Row {
    /// The row of `cells` under `columns` (the first is the subject): the
    /// ratio to `baseline`, or to the lowest other ranked median.
    pub fn new(
        workload: &str,
        unit: Unit,
        goal: Option<f64>,
        columns: &[Column],
        baseline: Option<usize>,
        cells: Vec<Option<Summary>>,
    ) -> Row {
        let against = baseline.or_else(|| cells[0].and(lowest(columns, &cells, Some(0))));
        let median = |i: usize| cells[i].map(|s| s.median);
        Row {
            workload: workload.to_string(),
            unit,
            goal,
            ratio: against.and_then(|a| ratio(median(0)?, median(a)?)),
            against: against.map(|a| columns[a].name.clone()),
            cells,
        }
    }
}

impl Table {
    /// Index of the subject's column.
    pub fn subject(&self) -> usize {
        self.columns
            .iter()
            .position(|c| c.name == self.subject)
            .unwrap_or(0)
    }

    /// The baseline column of a table whose every row has a goal (the
    /// runtime table): the column its ratios are taken against.
    pub fn baseline(&self) -> Option<usize> {
        if self.rows.is_empty() || self.rows.iter().any(|r| r.goal.is_none()) {
            return None;
        }
        let against = self.rows.iter().find_map(|r| r.against.as_ref())?;
        self.columns.iter().position(|c| &c.name == against)
    }
}

impl Results {
    /// The results as pretty-printed JSON, as results.json holds them.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("results serialize") + "\n"
    }

    /// Reads results.json back, checking that every table names its subject
    /// among its columns and that every row has a cell per column.
    pub fn read(json: &str) -> Result<Results, String> {
        let results: Results = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
        for t in &results.tables {
            if !t.columns.iter().any(|c| c.name == t.subject) {
                return Err(format!("table {:?}: no column {:?}", t.title, t.subject));
            }
            if let Some(r) = t.rows.iter().find(|r| r.cells.len() != t.columns.len()) {
                return Err(format!(
                    "table {:?}, row {:?}: {} cells for {} columns",
                    t.title,
                    r.workload,
                    r.cells.len(),
                    t.columns.len()
                ));
            }
        }
        Ok(results)
    }
}

/// `<target>/gort-bench`: `CARGO_TARGET_DIR` if set, else the `target`
/// directory the running executable was built into.
pub fn output_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("gort-bench");
    }
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/<exe> (a bench), target/<profile>/<exe> (a bin).
    let mut dir = exe.parent();
    if dir
        .and_then(Path::file_name)
        .is_some_and(|name| name == "deps")
    {
        dir = dir.and_then(Path::parent);
    }
    dir.and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("gort-bench")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn summary(median: f64) -> Option<Summary> {
        Some(Summary {
            median,
            min: median * 0.9,
            max: median * 1.1,
            count: 3,
        })
    }

    /// A runtime table (with goals and a baseline) and a comparison table
    /// (an unranked reference column, a row without gort's value).
    pub(crate) fn sample() -> Results {
        let rt = [
            Column::new("gort", true, ""),
            Column::new("tokio", true, ""),
            Column::new("Go", true, ""),
        ];
        let cmp = [
            Column::new("gort", true, ""),
            Column::new("Go", true, ""),
            Column::new("gort (tokio rt)", false, ""),
        ];
        let cells = |m: [Option<f64>; 3]| m.map(|m| m.and_then(summary)).to_vec();
        let table = |title: &str, columns: &[Column], rows| Table {
            title: title.into(),
            subject: "gort".into(),
            columns: columns.to_vec(),
            notes: vec!["a \"note\"".into()],
            rows,
        };
        Results {
            machine: "machine: AMD EPYC, nproc 2".into(),
            date: "2026-11-26".into(),
            args: vec!["--bench".into(), "--quick".into()],
            method: "m".into(),
            tables: vec![
                table(
                    "runtimes",
                    &rt,
                    vec![
                        Row::new(
                            "skynet",
                            Unit::Time,
                            Some(0.8),
                            &rt,
                            Some(1),
                            cells([Some(1e6), Some(4e6), Some(5e5)]),
                        ),
                        Row::new(
                            "alloc",
                            Unit::Bytes,
                            Some(0.8),
                            &rt,
                            Some(1),
                            cells([Some(128.0), Some(128.0), None]),
                        ),
                    ],
                ),
                table(
                    "chan/go",
                    &cmp,
                    vec![
                        Row::new(
                            "chan/go/ChanSync",
                            Unit::PerOp,
                            None,
                            &cmp,
                            None,
                            cells([Some(124.0), Some(100.0), Some(1.0)]),
                        ),
                        Row::new(
                            "chan/go/X",
                            Unit::PerOp,
                            None,
                            &cmp,
                            None,
                            cells([None, Some(100.0), None]),
                        ),
                    ],
                ),
            ],
        }
    }

    #[test]
    fn ratios_are_against_the_baseline_or_the_best_ranked_other() {
        let r = sample();
        let [rt, ch] = [&r.tables[0], &r.tables[1]];
        assert_eq!(
            (rt.rows[0].ratio, rt.rows[0].against.as_deref()),
            (Some(0.25), Some("tokio"))
        );
        assert_eq!(rt.rows[1].against.as_deref(), Some("tokio"));
        // The unranked reference column (1.0) is never the best.
        assert_eq!(
            (ch.rows[0].ratio, ch.rows[0].against.as_deref()),
            (Some(1.24), Some("Go"))
        );
        assert_eq!(
            (ch.rows[1].ratio, ch.rows[1].against.as_deref()),
            (None, None)
        );
        assert_eq!((rt.baseline(), ch.baseline()), (Some(1), None));
    }

    #[test]
    fn json_keeps_the_field_names_and_reads_back() {
        let r = sample();
        let json = serde_json::to_string(&r).unwrap();
        for key in [
            "\"sections\":[{\"title\":\"runtimes\",\"subject\":\"gort\",\"columns\":[{\"name\":\"gort\",\"ranked\":true}",
            "\"rows\":[{\"workload\":\"skynet\",\"unit\":\"ns\",\"goal\":0.8,\"ratio\":0.25,\"against\":\"tokio\",\"cells\":[{\"median\":1000000.0,\"min\":900000.0,\"max\":1100000.0,\"runs\":3}",
            "\"unit\":\"bytes\"",
            "\"unit\":\"ns/op\"",
        ] {
            assert!(json.contains(key), "{key} missing from\n{json}");
        }
        assert_eq!(Results::read(&json).unwrap(), r);
        // Written by hand before (integers as such, no notes): still read.
        let old = json
            .replace("1000000.0", "1000000")
            .replace(",\"notes\":[\"a \\\"note\\\"\"]", "");
        assert_eq!(
            Results::read(&old).unwrap().tables[0].rows[0].cells[0],
            summary(1e6)
        );
    }

    #[test]
    fn bad_json_is_an_error_naming_the_place() {
        let json = serde_json::to_string(&sample()).unwrap();
        let err = |from: &str, to: &str| Results::read(&json.replacen(from, to, 1)).unwrap_err();
        assert!(err("\"ns\"", "\"parsecs\"").contains("parsecs"));
        assert!(err("\"subject\":\"gort\"", "\"subject\":\"nobody\"").contains("nobody"));
        assert!(err("\"machine\"", "\"computer\"").contains("machine"));
        assert!(err(",null]", "]").contains("alloc"));
    }
}
