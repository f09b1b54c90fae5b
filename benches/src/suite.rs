//! What the registry is made of: a [`Suite`] is one table to measure, its
//! columns (runtimes, channel crates, Go, threads) and its rows
//! ([`Workload`]s), each with one [`Cell`] per column, or `None` where that
//! column cannot run that workload (`n/a`). The suites themselves are listed
//! by [`workload::suites`](crate::workload::suites).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::contender::{Contender, Gort, Params, Smol, Tokio};
use crate::gobench::GoBench;
use crate::results::Column;
use crate::stats::{Measurement, Unit};

/// What the cells run on: the runtimes built once per process, Go's test
/// binary when `go` is installed, and a directory for files.
pub struct Env {
    /// gort's runtime.
    pub gort: Gort,
    /// tokio's multi-threaded runtime.
    pub tokio: Tokio,
    /// smol's executor.
    pub smol: Smol,
    /// Go's built benchmarks; `None` without `go`.
    pub go: Option<GoBench>,
    /// The files the workloads read (the fs suite's).
    pub scratch: Scratch,
}

impl Env {
    /// Builds every runtime with `workers` worker threads (Go is set up
    /// apart, see [`GoBench::setup`]).
    pub fn build(workers: usize) -> Result<Env, String> {
        fn built<C: Contender>(workers: usize) -> Result<C, String> {
            C::build(workers).map_err(|e| format!("building the {} runtime failed: {e}", C::NAME))
        }
        Ok(Env {
            gort: built(workers)?,
            tokio: built(workers)?,
            smol: built(workers)?,
            go: None,
            scratch: Scratch::new(),
        })
    }

    /// Go's benchmarks, or an error naming `what` needed them.
    pub fn go(&self, what: &str) -> Result<&GoBench, String> {
        self.go
            .as_ref()
            .ok_or_else(|| format!("{what}: Go's column was asked for but Go is not set up"))
    }
}

/// A directory of this [`Env`]'s own under the system's temp dir, for the
/// files workloads read; made on first use, removed when dropped.
pub struct Scratch {
    dir: PathBuf,
    /// The subdirectories made so far, or why making one failed.
    made: Mutex<HashMap<String, Result<PathBuf, String>>>,
}

impl Scratch {
    fn new() -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "gort-bench-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Scratch {
            dir: std::env::temp_dir().join(name),
            made: Mutex::new(HashMap::new()),
        }
    }

    /// The subdirectory `name`, filled by `make` the first time it is asked
    /// for (an error then is the answer every time after).
    pub fn dir(
        &self,
        name: &str,
        make: impl FnOnce(&Path) -> std::io::Result<()>,
    ) -> Result<PathBuf, String> {
        let mut made = self.made.lock().unwrap_or_else(PoisonError::into_inner);
        made.entry(name.to_string())
            .or_insert_with(|| {
                let dir = self.dir.join(name);
                std::fs::create_dir_all(&dir)
                    .and_then(|()| make(&dir))
                    .map(|()| dir.clone())
                    .map_err(|e| format!("making the files of {}: {e}", dir.display()))
            })
            .clone()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The outcome of one measured run: a measurement in its row's unit, or an
/// error when the result was wrong (a wrong count must never become a time).
pub type RunResult = Result<Measurement, String>;

/// One iteration of a workload on one column.
pub type EachFn = dyn Fn(&Env, &Params) -> RunResult;

/// `k` iterations of a workload on one column, returning the mean of one.
pub type BatchFn = dyn Fn(&Env, &Params, u32) -> RunResult;

/// One workload on one column.
pub enum Cell {
    /// One iteration per call; the runner repeats it to fill a run.
    Each(Box<EachFn>),
    /// Called once per run with the iteration count `k`, which it repeats
    /// itself (Go's `b.N`: one process per run).
    Batch(Box<BatchFn>),
}

/// A cell that performs one iteration per call.
pub fn cell(f: impl Fn(&Env, &Params) -> RunResult + 'static) -> Option<Cell> {
    Some(Cell::Each(Box::new(f)))
}

/// Set in a `versus --child` process: [`fresh`] leaves cells as they are.
static IN_CHILD: AtomicBool = AtomicBool::new(false);

/// Marks this process as a `versus --child` (see [`fresh`]).
pub fn enter_child() {
    IN_CHILD.store(true, Ordering::Relaxed);
}

/// The cells of row `row` measured in a fresh process per run: each
/// one-iteration cell becomes a cell that starts this executable as
/// `--child <row> <column> <k> <workers> [--quick]`, which builds the
/// runtimes, runs one iteration it discards (as Go's own first run of
/// `b.N = 1`), then `k` timed ones, and prints their mean (`ns=<mean>`).
/// So no run sees the allocator, the free lists or the threads an earlier
/// row or another runtime left behind, and each column runs as Go's does
/// (one process per run). Batch cells (Go's) are left as they are. In a
/// child process the cells stay as given, for the child to run.
pub fn fresh(row: &'static str, cells: Vec<Option<Cell>>) -> Vec<Option<Cell>> {
    if IN_CHILD.load(Ordering::Relaxed) {
        return cells;
    }
    (cells.into_iter().enumerate())
        .map(|(column, cell)| {
            cell.map(|cell| match cell {
                Cell::Each(_) => Cell::Batch(Box::new(move |_: &Env, p: &Params, k| {
                    run_child(row, column, k, p)
                })),
                batch @ Cell::Batch(_) => batch,
            })
        })
        .collect()
}

/// One run of a [`fresh`] cell: the child process and its answer.
fn run_child(row: &str, column: usize, k: u32, p: &Params) -> RunResult {
    let exe = std::env::current_exe().map_err(|e| format!("{row}: current_exe: {e}"))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["--child", row])
        .args([column.to_string(), k.to_string(), p.workers.to_string()]);
    if p.quick {
        cmd.arg("--quick");
    }
    let out = cmd
        .output()
        .map_err(|e| format!("{row}: starting its child process: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{row}: the child process of column {column} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let ns: f64 = (stdout.lines())
        .find_map(|l| l.strip_prefix("ns="))
        .and_then(|v| v.trim().parse().ok())
        .filter(|ns: &f64| ns.is_finite() && *ns > 0.0)
        .ok_or_else(|| format!("{row}: the child process printed no `ns=`: {stdout:?}"))?;
    Ok(Measurement::Time(Duration::from_nanos(ns.round() as u64)))
}

/// A row: one workload, one cell per column.
pub struct Workload {
    /// Unique name, matched by `--filter`, e.g. `chan/mpmc/cap128`.
    pub name: String,
    /// One line: what one run does.
    pub description: String,
    /// What every cell returns.
    pub unit: Unit,
    /// The goal for the ratio to the suite's baseline (met when `<=`), in
    /// a suite that has one.
    pub goal: Option<f64>,
    /// One cell per column; `None` = `n/a`.
    pub cells: Vec<Option<Cell>>,
}

impl Workload {
    /// A row of times (total time of one run per cell), with no goal.
    pub fn timed(name: &str, description: &str, cells: Vec<Option<Cell>>) -> Workload {
        Workload {
            name: name.to_string(),
            description: description.to_string(),
            unit: Unit::Time,
            goal: None,
            cells,
        }
    }
}

/// A table to measure. Its first column is the implementation under test
/// (gort); every row's ratio is gort's median over the baseline column's
/// when there is one, else over the lowest median of the other ranked columns.
pub struct Suite {
    /// Heading, printed as `## <title>` above the table; `{vs}` in it
    /// becomes `gort vs tokio, smol and Go` (the columns left after
    /// [`Suite::remove_column`]).
    pub title: String,
    /// Lines printed under the heading: what runs, the unit, the sizes.
    pub about: Vec<String>,
    /// The columns.
    pub columns: Vec<Column>,
    /// The column every row's ratio is taken against, if fixed.
    pub baseline: Option<usize>,
    /// `Some(r)`: every cell starts a fresh child process per run and takes
    /// seconds (the scale curves), so a row gets no warm-up run and at most
    /// `r` measured runs (fewer when the run asks for fewer); `None`: the
    /// run's count, after a warm-up.
    pub runs: Option<usize>,
    /// The workloads.
    pub rows: Vec<Workload>,
}

/// Whether a workload called `name` is selected by `filter`: all are when
/// `None`; otherwise those whose name contains any comma-separated part,
/// or equals a part written `=NAME`.
pub fn matches(name: &str, filter: Option<&str>) -> bool {
    filter.is_none_or(|f| {
        f.split(',').any(|part| match part.strip_prefix('=') {
            Some(exact) => name == exact,
            None => name.contains(part),
        })
    })
}

impl Suite {
    /// Keeps the rows whose name matches `filter` (see [`matches()`]).
    pub fn select(mut self, filter: Option<&str>) -> Suite {
        self.rows.retain(|r| matches(&r.name, filter));
        self
    }

    /// Index of the column called `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Whether some row has a cell in the column called `name`.
    pub fn uses(&self, name: &str) -> bool {
        self.column(name)
            .is_some_and(|i| self.rows.iter().any(|r| r.cells[i].is_some()))
    }

    /// Removes the column called `name`, if any, and its cell in every row.
    /// The first column (the subject) and the baseline cannot be removed.
    pub fn remove_column(&mut self, name: &str) {
        let Some(index) = self.column(name) else {
            return;
        };
        assert!(index > 0 && Some(index) != self.baseline, "{name} stays");
        self.columns.remove(index);
        for row in &mut self.rows {
            row.cells.remove(index);
        }
        if let Some(b) = self.baseline.as_mut().filter(|b| **b > index) {
            *b -= 1;
        }
    }

    /// The title with `{vs}` filled in.
    pub fn title(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        let others = match names[1..].split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            Some((last, _)) => last.to_string(),
            None => String::new(),
        };
        self.title
            .replace("{vs}", &format!("{} vs {others}", names[0]))
    }

    /// The legend printed under the table: one line per column that says
    /// what runs in it, then, without a baseline, how to read the marks.
    pub fn legend(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .columns
            .iter()
            .filter(|c| !c.about.is_empty())
            .map(|c| {
                let rank = if c.ranked {
                    ""
                } else {
                    " (reference: not ranked)"
                };
                format!("- {}: {}{rank}", c.name, c.about)
            })
            .collect();
        if self.baseline.is_none() {
            lines.push(format!(
                "- **bold**: the lowest median of the ranked columns in the row; \
                 `{} vs best`: {0}'s median / the lowest median of the other ranked columns \
                 (`best, 0.80x X`: {0} is lowest, at 0.80x the runner-up X); n/a in a column: the \
                 implementation has no such channel or shape",
                self.columns[0].name
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suite() -> Suite {
        let row = |name: &str| Workload {
            name: name.into(),
            description: String::new(),
            unit: Unit::PerOp,
            goal: None,
            cells: vec![cell(|_, _| Err("x".into())), None, None],
        };
        Suite {
            title: "t: {vs}".into(),
            about: vec![],
            columns: ["a", "b", "c"].map(|n| Column::new(n, n != "c", n)).into(),
            baseline: None,
            runs: None,
            rows: vec![row("chan/x/cap0"), row("chan/y/cap1")],
        }
    }

    #[test]
    fn select_remove_column_title_and_legend() {
        let s = suite().select(Some("chan/y,nothing"));
        assert_eq!(s.rows.len(), 1);
        assert_eq!(s.title(), "t: a vs b and c");
        assert!(s.uses("a") && !s.uses("b") && !s.uses("z"));
        let mut s = suite();
        s.remove_column("b");
        s.remove_column("z");
        assert_eq!(s.column("c"), Some(1));
        assert!(s.rows.iter().all(|r| r.cells.len() == 2));
        assert_eq!(s.title(), "t: a vs c");
        assert_eq!(s.legend().len(), 3);
        assert!(s.legend()[1].contains("not ranked"));
    }
}
