//! Runs workloads on contenders: one warm-up run on each, then the measured
//! runs interleaved (A B A B ...), so drift in the machine (other processes,
//! frequency, caches) spreads over all contenders alike.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::contender::AnyContender;
use crate::report::{format_value, Row};
use crate::stats::Summary;
use crate::workload::{Params, Unit, Workload};

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

/// One run of `workload` on `rt`: `iterations` back-to-back iterations, each
/// checked for its unit (and by the workload for its result). Returns the
/// mean per iteration in the workload's unit (nanoseconds or bytes).
fn run_once(
    workload: &Workload,
    rt: &AnyContender,
    cfg: &Config,
    watchdog: &Watchdog,
    label: &str,
    iterations: u32,
) -> Result<f64, String> {
    let total = watchdog.guard(
        format!("{} on {} ({label})", workload.name, rt.name()),
        || {
            let mut total = 0.0;
            for _ in 0..iterations {
                let m = (workload.run)(rt, &cfg.params)?;
                if m.unit() != workload.unit {
                    return Err(format!(
                        "{}: returned {:?}, registered as {:?}",
                        workload.name,
                        m.unit(),
                        workload.unit
                    ));
                }
                total += m.value();
            }
            Ok(total)
        },
    )?;
    std::thread::sleep(cfg.settle);
    Ok(total / f64::from(iterations))
}

/// Runs `workload` on every contender: one warm-up run each, then
/// `cfg.runs` measured runs each, interleaved. Progress goes to stderr.
/// The first wrong result ends it with that message (no time is kept).
pub fn run_workload(
    workload: &Workload,
    contenders: &[AnyContender],
    cfg: &Config,
    watchdog: &Watchdog,
) -> Result<Row, String> {
    eprintln!("[{}] {}", workload.name, workload.description);
    let mut slowest: f64 = 0.0;
    for rt in contenders {
        let v = run_once(workload, rt, cfg, watchdog, "warm-up", 1)?;
        slowest = slowest.max(v);
        eprintln!(
            "[{}] warm-up {:<6} {}",
            workload.name,
            rt.name(),
            format_value(v, workload.unit)
        );
    }
    let iterations = match workload.unit {
        Unit::Time => iterations_for(cfg.run_target, slowest),
        Unit::Bytes => 1,
    };
    if iterations > 1 {
        eprintln!(
            "[{}] {iterations} iterations per run (mean kept)",
            workload.name
        );
    }

    let mut samples = vec![Vec::with_capacity(cfg.runs); contenders.len()];
    for i in 0..cfg.runs {
        let mut line = format!("[{}] run {}/{}", workload.name, i + 1, cfg.runs);
        for (rt, samples) in contenders.iter().zip(&mut samples) {
            let label = format!("run {}", i + 1);
            let v = run_once(workload, rt, cfg, watchdog, &label, iterations)?;
            samples.push(v);
            line.push_str(&format!(
                "  {} {}",
                rt.name(),
                format_value(v, workload.unit)
            ));
        }
        eprintln!("{line}");
    }

    let summaries = samples
        .iter()
        .map(|s| Summary::of(s).ok_or_else(|| format!("{}: no valid samples", workload.name)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Row {
        workload: workload.name.to_string(),
        unit: workload.unit,
        goal: workload.goal,
        summaries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Measurement;

    fn workload(unit: Unit, run: crate::workload::RunFn) -> Workload {
        Workload {
            name: "test_workload",
            description: "test",
            unit,
            goal: 0.8,
            run,
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

    fn tokio_only() -> Vec<AnyContender> {
        vec![AnyContender::build("tokio", 1).unwrap()]
    }

    #[test]
    fn a_wrong_result_aborts_the_workload() {
        let w = workload(Unit::Time, |_, _| Err("wrong sum".into()));
        let err =
            run_workload(&w, &tokio_only(), &config(), &Watchdog::start(RUN_LIMIT)).unwrap_err();
        assert_eq!(err, "wrong sum");
    }

    #[test]
    fn a_measurement_in_the_wrong_unit_is_refused() {
        let w = workload(Unit::Time, |_, _| Ok(Measurement::Bytes(1.0)));
        let err =
            run_workload(&w, &tokio_only(), &config(), &Watchdog::start(RUN_LIMIT)).unwrap_err();
        assert!(err.contains("registered as Time"), "{err}");
    }

    #[test]
    fn samples_are_summarised_per_contender() {
        let w = workload(Unit::Bytes, |_, _| Ok(Measurement::Bytes(64.0)));
        let row = run_workload(&w, &tokio_only(), &config(), &Watchdog::start(RUN_LIMIT)).unwrap();
        assert_eq!(row.summaries.len(), 1);
        assert_eq!(row.summaries[0].count, 3);
        assert_eq!(row.summaries[0].median, 64.0);
    }

    const RUN_LIMIT: Duration = Duration::from_secs(60);

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
