//! Comparison suites: workloads measured across *implementations* (channel
//! crates, Go) rather than across runtimes.
//!
//! A [`Suite`] is a set of columns (implementations) and rows (workloads);
//! each cell is a [`CellFn`] performing one measured run, or `None` where
//! that implementation cannot run that workload (`n/a`). [`Suite::run`]
//! measures row by row, the cells of a row interleaved exactly like the
//! runtime workloads (warm-up, then A B C A B C ...), and returns a
//! [`CompareTable`].

use crate::contender::{AnyContender, Gort, Smol, Tokio};
use crate::gobench::GoBench;
use crate::report::{Column, CompareRow, CompareTable};
use crate::runner::{run_interleaved, Config, Progress, Subject, Watchdog};
use crate::workload::{self, Measurement, Params, Unit};

/// What the cells run on: the runtimes built once per process, and Go's
/// test binary when `go` is installed.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// gort's runtime (2 workers).
    pub gort: &'a Gort,
    /// tokio's multi-threaded runtime (2 workers).
    pub tokio: &'a Tokio,
    /// smol's executor (2 threads).
    pub smol: &'a Smol,
    /// Go's built benchmarks; `None` without `go`.
    pub go: Option<&'a GoBench>,
}

impl<'a> Env<'a> {
    /// The environment over the built contenders (which must include gort
    /// and tokio) and Go's benchmarks if any.
    pub fn new(contenders: &'a [AnyContender], go: Option<&'a GoBench>) -> Result<Env<'a>, String> {
        let gort = contenders
            .iter()
            .find_map(AnyContender::as_gort)
            .ok_or("the suites need the gort runtime")?;
        let tokio = contenders
            .iter()
            .find_map(AnyContender::as_tokio)
            .ok_or("the suites need the tokio runtime")?;
        let smol = contenders
            .iter()
            .find_map(AnyContender::as_smol)
            .ok_or("the suites need the smol executor")?;
        Ok(Env {
            gort,
            tokio,
            smol,
            go,
        })
    }

    /// Go's benchmarks, or an error naming `what` needed them.
    pub fn go(&self, what: &str) -> Result<&'a GoBench, String> {
        self.go
            .ok_or_else(|| format!("{what}: Go's column was asked for but Go is not set up"))
    }
}

/// One measured run of one workload on one implementation; returns a
/// measurement in its row's unit, or an error when the result was wrong.
pub type CellFn = Box<dyn Fn(&Env<'_>, &Params) -> Result<Measurement, String>>;

/// A column of a suite: an implementation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteColumn {
    /// Header text.
    pub name: String,
    /// Competes for "best" (see [`Column::ranked`]).
    pub ranked: bool,
    /// One line for the legend under the table: what exactly runs.
    pub about: String,
}

/// A row of a suite: one workload, one cell per column.
pub struct SuiteRow {
    /// Unique name, matched by `--filter`, e.g. `chan/mpmc/cap128`.
    pub name: String,
    /// One line: what one run does.
    pub description: String,
    /// What every cell returns ([`Unit::PerOp`] for the channel suites).
    pub unit: Unit,
    /// One cell per column; `None` = `n/a`.
    pub cells: Vec<Option<CellFn>>,
}

/// A comparison suite: columns, rows, and which column is under test.
pub struct Suite {
    /// Heading, printed as `## <title>` above the table.
    pub title: String,
    /// Lines printed under the heading: executor, unit, sizes.
    pub about: Vec<String>,
    /// The implementations.
    pub columns: Vec<SuiteColumn>,
    /// Index in `columns` of the implementation under test (gort).
    pub subject: usize,
    /// The workloads.
    pub rows: Vec<SuiteRow>,
}

impl Suite {
    /// Keeps the rows whose name matches `filter` (see [`workload::matches`]).
    pub fn select(mut self, filter: Option<&str>) -> Suite {
        self.rows
            .retain(|r| workload::matches(r.name.as_str(), filter));
        self
    }

    /// Index of the column called `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Removes column `index` (and its cell in every row). The subject
    /// column cannot be removed.
    pub fn remove_column(&mut self, index: usize) {
        assert_ne!(index, self.subject, "the subject column stays");
        self.columns.remove(index);
        for row in &mut self.rows {
            row.cells.remove(index);
        }
        if self.subject > index {
            self.subject -= 1;
        }
    }

    /// Measures every row (see [`run_interleaved`]); the first wrong result
    /// ends it with that message.
    pub fn run(
        &self,
        env: &Env<'_>,
        cfg: &Config,
        watchdog: &Watchdog,
        progress: &mut Progress,
    ) -> Result<CompareTable, String> {
        let mut rows = Vec::with_capacity(self.rows.len());
        for row in &self.rows {
            progress.start(&row.name);
            let params = cfg.params;
            let subjects: Vec<Subject<'_>> = row
                .cells
                .iter()
                .zip(&self.columns)
                .filter_map(|(cell, column)| {
                    let cell = cell.as_ref()?;
                    Some(Subject::each(column.name.as_str(), move || {
                        cell(env, &params)
                    }))
                })
                .collect();
            let mut summaries = run_interleaved(
                &row.name,
                &row.description,
                row.unit,
                &subjects,
                cfg,
                watchdog,
            )?
            .into_iter();
            let cells = row
                .cells
                .iter()
                .map(|cell| cell.as_ref().and_then(|_| summaries.next()))
                .collect();
            rows.push(CompareRow {
                workload: row.name.clone(),
                unit: row.unit,
                cells,
            });
        }
        Ok(CompareTable {
            columns: self
                .columns
                .iter()
                .map(|c| Column {
                    name: c.name.clone(),
                    ranked: c.ranked,
                })
                .collect(),
            subject: self.subject,
            rows,
        })
    }

    /// The legend printed under the table: one line per column, then how
    /// to read the marks.
    pub fn legend(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let rank = if c.ranked {
                    ""
                } else {
                    " (reference: not ranked)"
                };
                format!("- {}: {}{rank}", c.name, c.about)
            })
            .collect();
        lines.push(format!(
            "- **bold**: the lowest median of the ranked columns in the row; \
             `{} vs best`: {0}'s median / the lowest median of the other ranked columns \
             (`best, 0.80x X`: {0} is lowest, at 0.80x the runner-up X); n/a in a column: the \
             implementation has no such channel or shape",
            self.columns[self.subject].name
        ));
        lines
    }
}

/// All comparison suites, in report order: the seed's table (per unit of
/// concurrency), Go's scheduler benchmarks, Go's channel benchmarks, the async channel suite, the
/// blocking channel suite.
pub fn suites() -> Vec<Suite> {
    vec![
        workload::seed::suite(),
        workload::go_sched::suite(),
        workload::go_chan::suite(),
        workload::channel::async_suite(),
        workload::channel::blocking_suite(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cell(ns: u64) -> Option<CellFn> {
        Some(Box::new(move |_: &Env<'_>, _: &Params| {
            Ok(Measurement::PerOp {
                elapsed: Duration::from_nanos(ns * 100),
                ops: 100,
            })
        }))
    }

    fn column(name: &str, ranked: bool) -> SuiteColumn {
        SuiteColumn {
            name: name.into(),
            ranked,
            about: format!("about {name}"),
        }
    }

    fn suite() -> Suite {
        Suite {
            title: "test".into(),
            about: vec![],
            columns: vec![column("a", true), column("b", true), column("c", false)],
            subject: 1,
            rows: vec![
                SuiteRow {
                    name: "chan/x/cap0".into(),
                    description: "x".into(),
                    unit: Unit::PerOp,
                    cells: vec![cell(10), None, cell(30)],
                },
                SuiteRow {
                    name: "chan/y/cap1".into(),
                    description: "y".into(),
                    unit: Unit::PerOp,
                    cells: vec![cell(40), cell(20), None],
                },
            ],
        }
    }

    #[test]
    fn select_and_remove_column() {
        let s = suite().select(Some("chan/y"));
        assert_eq!(s.rows.len(), 1);
        assert_eq!(s.rows[0].name, "chan/y/cap1");
        let mut s = suite();
        s.remove_column(0);
        assert_eq!(s.subject, 0);
        assert_eq!(s.columns.len(), 2);
        assert!(s.rows.iter().all(|r| r.cells.len() == 2));
        assert_eq!(s.column("c"), Some(1));
        assert_eq!(s.legend().len(), 3);
        assert!(s.legend()[1].contains("not ranked"));
    }

    #[test]
    fn runs_cells_and_maps_summaries_back_with_gaps() {
        let contenders = vec![
            AnyContender::build("gort", 1).unwrap(),
            AnyContender::build("tokio", 1).unwrap(),
            AnyContender::build("smol", 1).unwrap(),
        ];
        let env = Env::new(&contenders, None).unwrap();
        let cfg = Config {
            runs: 2,
            params: Params {
                workers: 1,
                quick: true,
            },
            settle: Duration::ZERO,
            run_target: Duration::ZERO,
        };
        let table = suite()
            .run(
                &env,
                &cfg,
                &Watchdog::start(Duration::from_secs(60)),
                &mut Progress::new(2),
            )
            .unwrap();
        assert_eq!(table.subject, 1);
        assert_eq!(table.rows.len(), 2);
        let medians = |r: &CompareRow| -> Vec<Option<f64>> {
            r.cells.iter().map(|c| c.map(|s| s.median)).collect()
        };
        assert_eq!(medians(&table.rows[0]), [Some(10.0), None, Some(30.0)]);
        assert_eq!(medians(&table.rows[1]), [Some(40.0), Some(20.0), None]);
        assert_eq!(table.rows[0].cells[0].unwrap().count, 2);
        assert!(Env::new(&contenders[..1], None).is_err());
        assert!(Env::new(&contenders[..2], None).is_err());
    }
}
