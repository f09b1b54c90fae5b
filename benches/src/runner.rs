//! Runs workloads on contenders: one warm-up run on each, then the measured
//! runs interleaved (A B A B ...), so drift in the machine (other processes,
//! frequency, caches) spreads over all contenders alike.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::contender::Params;
use crate::report::format_value;
use crate::results::{Row, Table};
use crate::stats::{Measurement, Summary, Unit};
use crate::suite::{Cell, Env, RunResult, Suite};

/// How a run is performed.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Measured runs per contender and workload.
    pub runs: usize,
    /// Parameters passed to every workload.
    pub params: Params,
    /// Pause between two runs, so the previous runtime's workers go idle and
    /// park before the next one is measured.
    pub settle: Duration,
    /// Wanted length of one timed run: a run repeats the workload back to
    /// back `k` times and keeps the mean, with `k` chosen from the warm-up
    /// so that a run lasts about this long (`Duration::ZERO`: `k = 1`).
    /// The same `k` is used for every contender.
    pub run_target: Duration,
}

/// The progress bar on stderr: one line per workload (row) as it starts,
/// with how many are done and the time so far.
#[derive(Debug)]
pub struct Progress {
    total: usize,
    done: usize,
    started: Instant,
}

impl Progress {
    /// A bar over `total` rows, starting now.
    pub fn new(total: usize) -> Progress {
        Progress {
            total,
            done: 0,
            started: Instant::now(),
        }
    }

    /// The bar line for row `name` starting after `done` of `total`, at
    /// `elapsed`: `[#####---------------]  5/20 name (1m05s)`.
    pub fn line(done: usize, total: usize, name: &str, elapsed: Duration) -> String {
        const WIDTH: usize = 20;
        let filled = (done * WIDTH)
            .checked_div(total)
            .map_or(WIDTH, |f| f.min(WIDTH));
        let secs = elapsed.as_secs();
        format!(
            "[{}{}] {done:>w$}/{total} {name} ({}m{:02}s)",
            "#".repeat(filled),
            "-".repeat(WIDTH - filled),
            secs / 60,
            secs % 60,
            w = total.to_string().len(),
        )
    }

    /// Prints the bar for the row starting now and counts it.
    pub fn start(&mut self, name: &str) {
        eprintln!(
            "{}",
            Progress::line(self.done, self.total, name, self.started.elapsed())
        );
        self.done += 1;
    }
}

/// Most iterations one run may repeat a workload.
pub const MAX_ITERATIONS: u32 = 1_000;

/// Iterations per run so that a run lasts about `target`, given the slowest
/// warm-up time `slowest_ns` (nanoseconds) of one iteration; at least 1.
pub fn iterations_for(target: Duration, slowest_ns: f64) -> u32 {
    if target.is_zero() || slowest_ns.is_nan() || slowest_ns <= 0.0 {
        return 1;
    }
    let k = (target.as_secs_f64() * 1e9 / slowest_ns).ceil();
    k.clamp(1.0, f64::from(MAX_ITERATIONS)) as u32
}

/// Kills the process with a message when one run takes longer than a limit:
/// a lost wake-up must end the bench with a message, not hang it (or CI).
#[derive(Clone)]
pub struct Watchdog {
    armed: Arc<Mutex<Option<(Instant, String)>>>,
}

impl Watchdog {
    /// Starts the watchdog thread; a run still going after `limit` ends the
    /// process with exit code 3.
    pub fn start(limit: Duration) -> Watchdog {
        let armed: Arc<Mutex<Option<(Instant, String)>>> = Arc::new(Mutex::new(None));
        let watched = armed.clone();
        std::thread::Builder::new()
            .name("bench-watchdog".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_millis(100));
                let guard = watched.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((since, label)) = guard.as_ref() {
                    if since.elapsed() > limit {
                        eprintln!(
                            "error: {label} still running after {limit:?}: hung (lost wake-up?); aborting"
                        );
                        std::process::exit(3);
                    }
                }
            })
            .expect("spawn the watchdog thread");
        Watchdog { armed }
    }

    /// Runs `f` under the watchdog, labelled `label` in its message.
    pub fn guard<T>(&self, label: String, f: impl FnOnce() -> T) -> T {
        *self.armed.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), label));
        let out = f();
        *self.armed.lock().unwrap_or_else(|e| e.into_inner()) = None;
        out
    }
}

/// One run of `cell`: `iterations` back-to-back iterations, each checked
/// for `unit` (and by the cell for its result). Returns the mean value
/// per iteration in the unit (nanoseconds, bytes or ns/op) and the mean
/// elapsed nanoseconds of an iteration (`None` for bytes and latencies).
fn run_once(
    workload: &str,
    cell: &Cell,
    env: &Env,
    unit: Unit,
    cfg: &Config,
    iterations: u32,
) -> Result<(f64, Option<f64>), String> {
    let check = |m: RunResult| -> Result<Measurement, String> {
        let m = m?;
        if m.unit() == unit {
            Ok(m)
        } else {
            Err(format!(
                "{workload}: returned {:?}, registered as {unit:?}",
                m.unit()
            ))
        }
    };
    let p = &cfg.params;
    let (value, elapsed) = match cell {
        Cell::Batch(run) => {
            let m = check(run(env, p, iterations))?;
            (m.value(), m.elapsed_ns())
        }
        Cell::Each(run) => {
            let (mut value, mut elapsed) = (0.0, None);
            for _ in 0..iterations {
                let m = check(run(env, p))?;
                value += m.value();
                if let Some(ns) = m.elapsed_ns() {
                    *elapsed.get_or_insert(0.0) += ns;
                }
            }
            let n = f64::from(iterations);
            (value / n, elapsed.map(|e: f64| e / n))
        }
    };
    std::thread::sleep(cfg.settle);
    Ok((value, elapsed))
}

/// Measures every row of `suite` and returns its table. Per row: one
/// warm-up run of every cell, then `cfg.runs` measured runs each (a suite
/// with its own [`Suite::runs`]: no warm-up, and at most that many),
/// interleaved (A B C A B C ...), each under the watchdog. A timed run
/// repeats the workload `k` times back to back and keeps the mean, `k`
/// chosen from the slowest warm-up so a run lasts about `cfg.run_target`
/// (see [`iterations_for`]); the same `k` for every cell. Progress goes to
/// stderr. The first wrong result ends it with that message.
pub fn run_suite(
    suite: &Suite,
    env: &Env,
    cfg: &Config,
    watchdog: &Watchdog,
    progress: &mut Progress,
) -> Result<Table, String> {
    let mut rows = Vec::with_capacity(suite.rows.len());
    for w in &suite.rows {
        progress.start(&w.name);
        eprintln!("[{}] {}", w.name, w.description);
        let cells: Vec<(&str, &Cell)> = (w.cells.iter().zip(&suite.columns))
            .filter_map(|(cell, column)| Some((column.name.as_str(), cell.as_ref()?)))
            .collect();
        let run = |(name, cell): (&str, &Cell), label: &str, k: u32| {
            watchdog.guard(format!("{} on {name} ({label})", w.name), || {
                run_once(&w.name, cell, env, w.unit, cfg, k)
            })
        };
        let mut slowest: Option<f64> = None;
        let warm_ups = if suite.runs.is_some() {
            &[][..]
        } else {
            &cells[..]
        };
        for &c in warm_ups {
            let (v, elapsed) = run(c, "warm-up", 1)?;
            if let Some(e) = elapsed {
                slowest = Some(slowest.map_or(e, |s: f64| s.max(e)));
            }
            eprintln!(
                "[{}] warm-up {:<6} {}",
                w.name,
                c.0,
                format_value(v, w.unit)
            );
        }
        let k = slowest.map_or(1, |ns| iterations_for(cfg.run_target, ns));
        if k > 1 {
            eprintln!("[{}] {k} iterations per run (mean kept)", w.name);
        }
        let runs = suite.runs.map_or(cfg.runs, |r| r.min(cfg.runs));
        let mut samples = vec![Vec::with_capacity(runs); cells.len()];
        for i in 1..=runs {
            let mut line = format!("[{}] run {i}/{runs}", w.name);
            for (&c, samples) in cells.iter().zip(&mut samples) {
                let (v, _) = run(c, &format!("run {i}"), k)?;
                samples.push(v);
                line.push_str(&format!("  {} {}", c.0, format_value(v, w.unit)));
            }
            eprintln!("{line}");
        }
        let mut summaries = samples
            .iter()
            .map(|s| Summary::of(s).ok_or_else(|| format!("{}: no valid samples", w.name)));
        let cells = w
            .cells
            .iter()
            .map(|c| {
                c.as_ref()
                    .map(|_| summaries.next().expect("a summary per cell"))
            })
            .map(Option::transpose)
            .collect::<Result<_, _>>()?;
        rows.push(Row::new(
            &w.name,
            w.unit,
            w.goal,
            &suite.columns,
            suite.baseline,
            cells,
        ));
    }
    Ok(Table {
        title: suite.title(),
        subject: suite.columns[0].name.clone(),
        columns: suite.columns.clone(),
        notes: Vec::new(),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::results::Column;
    use crate::suite::{cell, Workload};

    /// A suite of one row with the cells `cells`, its columns named a, b, ...
    fn suite(unit: Unit, cells: Vec<Option<Cell>>) -> Suite {
        Suite {
            title: "test".into(),
            about: vec![],
            columns: (0..cells.len())
                .map(|i| Column::new(&((b'a' + i as u8) as char).to_string(), true, ""))
                .collect(),
            baseline: None,
            runs: None,
            rows: vec![Workload {
                name: "w".into(),
                description: "test".into(),
                unit,
                goal: None,
                cells,
            }],
        }
    }

    /// Runs `s` with 3 runs of `run_target` each on 1-worker runtimes.
    fn run(s: &Suite, run_target: Duration) -> Result<Table, String> {
        let cfg = Config {
            runs: 3,
            params: Params {
                workers: 1,
                quick: true,
            },
            settle: Duration::ZERO,
            run_target,
        };
        let env = Env::build(1).unwrap();
        let watchdog = Watchdog::start(Duration::from_secs(60));
        run_suite(s, &env, &cfg, &watchdog, &mut Progress::new(1))
    }

    #[test]
    fn a_wrong_result_or_unit_aborts_the_suite() {
        let wrong = suite(Unit::Time, vec![cell(|_, _| Err("wrong sum".into()))]);
        assert_eq!(run(&wrong, Duration::ZERO).unwrap_err(), "wrong sum");
        let bytes = suite(Unit::Time, vec![cell(|_, _| Ok(Measurement::Bytes(1.0)))]);
        let err = run(&bytes, Duration::ZERO).unwrap_err();
        assert!(
            err.contains("w: returned Bytes, registered as Time"),
            "{err}"
        );
    }

    /// Every call of a cell, in order: its name and iteration count.
    type Calls = Arc<Mutex<Vec<(&'static str, u32)>>>;

    /// A cell recording its calls into `calls`, taking `ms` per iteration.
    fn timed(calls: &Calls, name: &'static str, ms: u64, batch: bool) -> Option<Cell> {
        let calls = calls.clone();
        let per_op = move |k: u32| {
            calls.lock().unwrap().push((name, k));
            Ok(Measurement::PerOp {
                elapsed: Duration::from_millis(ms),
                ops: 1_000_000,
            })
        };
        Some(match batch {
            true => Cell::Batch(Box::new(move |_, _, k| per_op(k))),
            false => Cell::Each(Box::new(move |_, _| per_op(1))),
        })
    }

    #[test]
    fn a_suite_with_its_own_run_count_has_no_warm_up_and_at_most_that_many() {
        let calls = Calls::default();
        let cells = vec![timed(&calls, "a", 1, false), timed(&calls, "b", 1, true)];
        let mut s = suite(Unit::PerOp, cells);
        s.runs = Some(2);
        let table = run(&s, Duration::from_millis(20)).unwrap();
        // No warm-up, so no iteration count from it: one call each per run.
        let calls = calls.lock().unwrap().clone();
        assert_eq!(calls, [("a", 1), ("b", 1), ("a", 1), ("b", 1)]);
        assert_eq!(table.rows[0].cells[0].unwrap().count, 2);
        // More than the run asks for (3): the run's count.
        s.runs = Some(10);
        let table = run(&s, Duration::ZERO).unwrap();
        assert_eq!(table.rows[0].cells[1].unwrap().count, 3);
    }

    #[test]
    fn cells_run_interleaved_with_gaps_and_the_slowest_warm_up_sizes_runs() {
        let calls = Calls::default();
        let cells = vec![
            timed(&calls, "a", 5, false),
            None,
            timed(&calls, "c", 10, true),
        ];
        let table = run(&suite(Unit::PerOp, cells), Duration::from_millis(20)).unwrap();
        // A run of the slower cell takes 10 ms: 2 iterations fill 20 ms,
        // two calls of the other, one call with k = 2 of the batch cell.
        let calls = calls.lock().unwrap().clone();
        assert_eq!(calls[..2], [("a", 1), ("c", 1)], "warm-ups");
        let run = [("a", 1), ("a", 1), ("c", 2)];
        assert_eq!(calls[2..], [run, run, run].concat());
        let medians: Vec<_> = table.rows[0]
            .cells
            .iter()
            .map(|c| c.map(|s| s.median))
            .collect();
        assert_eq!(medians, [Some(5.0), None, Some(10.0)]);
        assert_eq!(table.rows[0].cells[0].unwrap().count, 3);
        assert_eq!(table.rows[0].ratio, Some(0.5));
        assert_eq!(table.subject, "a");
    }

    #[test]
    fn the_progress_line_fills_with_the_rows_done() {
        let l = Progress::line(5, 20, "skynet", Duration::from_secs(65));
        assert_eq!(l, "[#####---------------]  5/20 skynet (1m05s)");
        assert!(Progress::line(20, 20, "x", Duration::ZERO).starts_with("[####################]"));
        assert!(Progress::line(0, 0, "x", Duration::ZERO).starts_with("[####################]"));
        let mut p = Progress::new(2);
        p.start("a");
        p.start("b");
        assert_eq!(p.done, 2);
    }

    #[test]
    fn iterations_fill_the_target() {
        let ms = 1e6;
        assert_eq!(iterations_for(Duration::from_millis(20), 5.0 * ms), 4);
        assert_eq!(iterations_for(Duration::from_millis(20), 6.0 * ms), 4);
        assert_eq!(iterations_for(Duration::from_millis(20), 30.0 * ms), 1);
        assert_eq!(
            iterations_for(Duration::from_millis(20), 100.0),
            MAX_ITERATIONS
        );
        assert_eq!(iterations_for(Duration::ZERO, 5.0 * ms), 1);
        assert_eq!(iterations_for(Duration::from_millis(20), 0.0), 1);
        assert_eq!(iterations_for(Duration::from_millis(20), f64::NAN), 1);
    }
}
