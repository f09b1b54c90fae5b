//! Runs workloads on contenders: one warm-up run on each, then the measured
//! runs interleaved (A B A B ...), so drift in the machine (other processes,
//! frequency, caches) spreads over all contenders alike.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::contender::AnyContender;
use crate::gobench::GoBench;
use crate::report::{format_value, Row};
use crate::stats::Summary;
use crate::workload::go_chan::GO;
use crate::workload::{Measurement, Params, Unit, Workload};

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

/// One column of an interleaved comparison: a name (for progress lines and
/// the watchdog) and a function performing one measured run.
pub struct Subject<'a> {
    /// Name shown in progress lines, e.g. `gort` or `kanal`.
    pub name: &'a str,
    /// How the subject repeats a workload within one run.
    pub run: SubjectRun<'a>,
}

/// How a [`Subject`] performs one run of `k` iterations.
pub enum SubjectRun<'a> {
    /// One iteration per call; the runner calls it `k` times and keeps the mean.
    Each(Box<dyn Fn() -> Result<Measurement, String> + 'a>),
    /// Called once with `k`; repeats the workload `k` times itself and
    /// returns the mean of one iteration (Go's `b.N`: one process per run,
    /// not one per iteration).
    Batch(Box<dyn Fn(u32) -> Result<Measurement, String> + 'a>),
}

impl<'a> Subject<'a> {
    /// A subject that performs one iteration per call.
    pub fn each(name: &'a str, run: impl Fn() -> Result<Measurement, String> + 'a) -> Self {
        Subject {
            name,
            run: SubjectRun::Each(Box::new(run)),
        }
    }
}

/// One run of `subject`: `iterations` back-to-back iterations, each checked
/// for `unit` (and by the subject for its result). Returns the mean value
/// per iteration in the unit (nanoseconds, bytes or ns/op) and the mean
/// elapsed nanoseconds of an iteration (`None` for bytes).
fn run_once(
    workload: &str,
    subject: &Subject<'_>,
    unit: Unit,
    cfg: &Config,
    watchdog: &Watchdog,
    label: &str,
    iterations: u32,
) -> Result<(f64, Option<f64>), String> {
    let (value, elapsed) =
        watchdog.guard(format!("{workload} on {} ({label})", subject.name), || {
            let check = |m: Measurement| -> Result<Measurement, String> {
                if m.unit() == unit {
                    Ok(m)
                } else {
                    Err(format!(
                        "{workload}: returned {:?}, registered as {unit:?}",
                        m.unit(),
                    ))
                }
            };
            match &subject.run {
                SubjectRun::Batch(run) => {
                    let m = check(run(iterations)?)?;
                    Ok::<_, String>((m.value(), m.elapsed_ns()))
                }
                SubjectRun::Each(run) => {
                    let mut value = 0.0;
                    let mut elapsed: Option<f64> = None;
                    for _ in 0..iterations {
                        let m = check(run()?)?;
                        value += m.value();
                        if let Some(ns) = m.elapsed_ns() {
                            *elapsed.get_or_insert(0.0) += ns;
                        }
                    }
                    let n = f64::from(iterations);
                    Ok((value / n, elapsed.map(|e| e / n)))
                }
            }
        })?;
    std::thread::sleep(cfg.settle);
    Ok((value, elapsed))
}

/// Runs one workload on every subject: one warm-up run each, then
/// `cfg.runs` measured runs each, interleaved (A B C A B C ...). Progress
/// goes to stderr. The first wrong result ends it with that message (no
/// time is kept). Returns one summary per subject, in order.
///
/// A timed run repeats the workload `k` times back to back and keeps the
/// mean, `k` chosen from the slowest warm-up so a run lasts about
/// `cfg.run_target` (see [`iterations_for`]); the same `k` for every subject.
pub fn run_interleaved(
    workload: &str,
    description: &str,
    unit: Unit,
    subjects: &[Subject<'_>],
    cfg: &Config,
    watchdog: &Watchdog,
) -> Result<Vec<Summary>, String> {
    eprintln!("[{workload}] {description}");
    let mut slowest: Option<f64> = None;
    for subject in subjects {
        let (v, elapsed) = run_once(workload, subject, unit, cfg, watchdog, "warm-up", 1)?;
        if let Some(e) = elapsed {
            slowest = Some(slowest.map_or(e, |s: f64| s.max(e)));
        }
        eprintln!(
            "[{workload}] warm-up {:<6} {}",
            subject.name,
            format_value(v, unit)
        );
    }
    let iterations = slowest.map_or(1, |ns| iterations_for(cfg.run_target, ns));
    if iterations > 1 {
        eprintln!("[{workload}] {iterations} iterations per run (mean kept)");
    }

    let mut samples = vec![Vec::with_capacity(cfg.runs); subjects.len()];
    for i in 0..cfg.runs {
        let mut line = format!("[{workload}] run {}/{}", i + 1, cfg.runs);
        for (subject, samples) in subjects.iter().zip(&mut samples) {
            let label = format!("run {}", i + 1);
            let (v, _) = run_once(workload, subject, unit, cfg, watchdog, &label, iterations)?;
            samples.push(v);
            line.push_str(&format!("  {} {}", subject.name, format_value(v, unit)));
        }
        eprintln!("{line}");
    }

    samples
        .iter()
        .map(|s| Summary::of(s).ok_or_else(|| format!("{workload}: no valid samples")))
        .collect()
}

/// Runs `workload` on every contender, and on Go when `go` is set up and
/// the workload has a Go version (see [`run_interleaved`]). The row has one
/// cell per contender, then one for Go when `go` is `Some` (`None` where
/// the workload has no Go version).
pub fn run_workload(
    workload: &Workload,
    contenders: &[AnyContender],
    go: Option<&GoBench>,
    cfg: &Config,
    watchdog: &Watchdog,
) -> Result<Row, String> {
    let params = cfg.params;
    let mut subjects: Vec<Subject<'_>> = contenders
        .iter()
        .map(|rt| Subject::each(rt.name(), move || (workload.run)(rt, &params)))
        .collect();
    let go_run = go.zip(workload.go);
    if let Some((go, run)) = go_run {
        subjects.push(Subject {
            name: GO,
            run: SubjectRun::Batch(Box::new(move |k| run(go, &params, k))),
        });
    }
    let mut summaries = run_interleaved(
        workload.name,
        workload.description,
        workload.unit,
        &subjects,
        cfg,
        watchdog,
    )?
    .into_iter();
    let mut cells: Vec<Option<Summary>> = summaries
        .by_ref()
        .take(contenders.len())
        .map(Some)
        .collect();
    if go.is_some() {
        cells.push(summaries.next());
    }
    Ok(Row {
        workload: workload.name.to_string(),
        unit: workload.unit,
        goal: workload.goal,
        cells,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(unit: Unit, run: crate::workload::RunFn) -> Workload {
        Workload {
            name: "test_workload",
            description: "test",
            unit,
            goal: 0.8,
            run,
            go: None,
        }
    }

    fn config() -> Config {
        Config {
            runs: 3,
            params: Params {
                workers: 1,
                quick: true,
            },
            settle: Duration::ZERO,
            run_target: Duration::ZERO,
        }
    }

    /// `w` run on a 1-worker tokio runtime with the test config, no Go.
    fn run_on_tokio(w: &Workload) -> Result<Row, String> {
        let tokio = vec![AnyContender::build("tokio", 1).unwrap()];
        run_workload(w, &tokio, None, &config(), &Watchdog::start(RUN_LIMIT))
    }

    #[test]
    fn a_wrong_result_aborts_the_workload() {
        let w = workload(Unit::Time, |_, _| Err("wrong sum".into()));
        let err = run_on_tokio(&w).unwrap_err();
        assert_eq!(err, "wrong sum");
    }

    #[test]
    fn a_measurement_in_the_wrong_unit_is_refused() {
        let w = workload(Unit::Time, |_, _| Ok(Measurement::Bytes(1.0)));
        let err = run_on_tokio(&w).unwrap_err();
        assert!(err.contains("registered as Time"), "{err}");
    }

    #[test]
    fn samples_are_summarised_per_contender() {
        let w = workload(Unit::Bytes, |_, _| Ok(Measurement::Bytes(64.0)));
        let row = run_on_tokio(&w).unwrap();
        assert_eq!(row.cells.len(), 1);
        assert_eq!(row.cells[0].unwrap().count, 3);
        assert_eq!(row.cells[0].unwrap().median, 64.0);
    }

    const RUN_LIMIT: Duration = Duration::from_secs(60);

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
    fn a_batch_subject_is_called_once_per_run_with_the_iteration_count() {
        use std::cell::RefCell;
        let calls = RefCell::new(Vec::new());
        let each = Subject::each("each", || Ok(Measurement::Time(Duration::from_millis(5))));
        let batch = Subject {
            name: "batch",
            run: SubjectRun::Batch(Box::new(|k| {
                calls.borrow_mut().push(k);
                Ok(Measurement::Time(Duration::from_millis(2)))
            })),
        };
        let mut cfg = config();
        cfg.run_target = Duration::from_millis(20);
        let summaries = run_interleaved(
            "w",
            "test",
            Unit::Time,
            &[each, batch],
            &cfg,
            &Watchdog::start(RUN_LIMIT),
        )
        .unwrap();
        // Warm-up with 1; the slowest warm-up (5 ms) sizes runs at 4
        // iterations, which the batch subject does itself: one call per run.
        assert_eq!(*calls.borrow(), [1, 4, 4, 4]);
        assert_eq!(summaries[0].median, 5e6);
        assert_eq!(summaries[1].median, 2e6);
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

    #[test]
    fn subjects_run_interleaved_and_per_op_runs_are_sized_by_elapsed_time() {
        use std::cell::RefCell;
        let order = RefCell::new(Vec::new());
        let subject = |name: &'static str, ns_per_op: u64| {
            let order = &order;
            Subject::each(name, move || {
                order.borrow_mut().push(name);
                Ok(Measurement::PerOp {
                    elapsed: Duration::from_millis(ns_per_op),
                    ops: 1_000_000,
                })
            })
        };
        let subjects = [subject("a", 5), subject("b", 10)];
        let mut cfg = config();
        cfg.run_target = Duration::from_millis(20);
        let summaries = run_interleaved(
            "w",
            "test",
            Unit::PerOp,
            &subjects,
            &cfg,
            &Watchdog::start(RUN_LIMIT),
        )
        .unwrap();
        drop(subjects);
        // A run of the slower subject takes 10 ms: 2 iterations fill 20 ms.
        let order = order.into_inner();
        assert_eq!(order[..2], ["a", "b"], "warm-ups");
        assert_eq!(
            order[2..],
            ["a", "a", "b", "b", "a", "a", "b", "b", "a", "a", "b", "b"]
        );
        assert_eq!(summaries[0].median, 5.0);
        assert_eq!(summaries[1].median, 10.0);
        assert_eq!(summaries[1].count, 3);
    }
}
