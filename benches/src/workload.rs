//! The registry of workloads.
//!
//! A workload is a name, a description, a unit, a goal and a [`RunFn`]. The
//! run function performs one measured run on one contender and returns a
//! [`Measurement`], or an error message when the result was wrong (a wrong
//! count or sum must never turn into a time).
//!
//! Adding a workload: write `fn my_workload<C: Contender>(rt: &C, p: &Params)
//! -> Result<Measurement, String>` (in a submodule) and add an entry to
//! [`registry`] with `run: dispatch!(my_workload)`. When genericity would
//! distort a result, write the [`RunFn`] by hand and match on
//! [`AnyContender`] to call per-runtime versions.

pub mod alloc;
pub mod channel;
pub mod go_chan;
pub mod go_sched;
pub mod net;
pub mod scheduler;
pub mod seed;
pub mod timers;

use std::time::Duration;

use crate::contender::AnyContender;
use crate::dispatch;
use crate::gobench::GoBench;

/// What a workload measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Wall-clock time of one run; lower is better.
    Time,
    /// Bytes allocated (per unit of work); lower is better.
    Bytes,
    /// Nanoseconds per operation (per message, Go's ns/op); lower is better.
    PerOp,
}

/// The result of one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measurement {
    /// Elapsed wall-clock time.
    Time(Duration),
    /// Bytes (may be fractional, e.g. an average per task).
    Bytes(f64),
    /// A latency read off a run (a percentile), not the run's length: one
    /// run is never repeated to fill the run target.
    Latency(Duration),
    /// `ops` operations (messages) that took `elapsed` in all.
    PerOp {
        /// Wall-clock time of the whole run.
        elapsed: Duration,
        /// Operations done in that time (> 0).
        ops: u64,
    },
}

impl Measurement {
    /// The unit of this measurement.
    pub fn unit(&self) -> Unit {
        match self {
            Measurement::Time(_) | Measurement::Latency(_) => Unit::Time,
            Measurement::Bytes(_) => Unit::Bytes,
            Measurement::PerOp { .. } => Unit::PerOp,
        }
    }

    /// The value as a number: nanoseconds for time, bytes for bytes,
    /// nanoseconds per operation for per-op (NaN when `ops` is 0).
    pub fn value(&self) -> f64 {
        match *self {
            Measurement::Time(d) | Measurement::Latency(d) => d.as_secs_f64() * 1e9,
            Measurement::Bytes(b) => b,
            Measurement::PerOp { elapsed, ops } => {
                if ops == 0 {
                    f64::NAN
                } else {
                    elapsed.as_secs_f64() * 1e9 / ops as f64
                }
            }
        }
    }

    /// How long the run took, in nanoseconds, when it is a timed run
    /// (`None` for bytes). Sizes the number of iterations per run.
    pub fn elapsed_ns(&self) -> Option<f64> {
        match *self {
            Measurement::Time(d) | Measurement::PerOp { elapsed: d, .. } => {
                Some(d.as_secs_f64() * 1e9)
            }
            Measurement::Bytes(_) | Measurement::Latency(_) => None,
        }
    }
}

/// Parameters shared by all workloads of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Worker threads each runtime was built with.
    pub workers: usize,
    /// Smaller sizes for a quick smoke run.
    pub quick: bool,
}

impl Params {
    /// `full` normally, `quick` under `--quick`.
    pub fn size(&self, full: usize, quick: usize) -> usize {
        if self.quick {
            quick
        } else {
            full
        }
    }
}

/// One measured run of a workload on one contender.
pub type RunFn = fn(&AnyContender, &Params) -> Result<Measurement, String>;

/// One measured run of a workload's Go version: `k` iterations in one
/// process (Go's `b.N`), returning the mean of one iteration.
pub type GoRunFn = fn(&GoBench, &Params, u32) -> Result<Measurement, String>;

/// A timed workload's Go version: `Benchmark<name>` in
/// `benches/go/runtime_test.go`, one `b.N` iteration being one run of the
/// workload (`-gort.quick` under `--quick`), `b.N = max(k, 2)` in one
/// process after Go's own first run of `b.N = 1`, whose result it
/// discards. Returns the mean time.
pub fn go_time(go: &GoBench, p: &Params, name: &str, k: u32) -> Result<Measurement, String> {
    let flags: &[&str] = if p.quick { &["-gort.quick"] } else { &[] };
    // Go's testing runs b.N = 1 first and reports that run itself under
    // `-test.benchtime 1x`: at least 2, so the first is a warm-up.
    let ops = u64::from(k.max(2));
    let m = go.run_with(name, ops, p.workers, flags)?;
    let ns = m.value();
    if !ns.is_finite() || ns <= 0.0 {
        return Err(format!("Go {name}: {ns} ns per run"));
    }
    Ok(Measurement::Time(Duration::from_nanos(ns.round() as u64)))
}

/// A registered workload.
#[derive(Clone, Copy)]
pub struct Workload {
    /// Unique name (matched by `--filter`).
    pub name: &'static str,
    /// One line: what one run does.
    pub description: &'static str,
    /// What [`Workload::run`] returns.
    pub unit: Unit,
    /// The goal for the ratio subject/baseline of medians: met when `<= goal`.
    pub goal: f64,
    /// Performs one run.
    pub run: RunFn,
    /// The Go version, if the workload has one (Go's column).
    pub go: Option<GoRunFn>,
}

impl std::fmt::Debug for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workload")
            .field("name", &self.name)
            .field("unit", &self.unit)
            .field("goal", &self.goal)
            .finish_non_exhaustive()
    }
}

/// The floor the issues set for every workload: gort at most 0.80x tokio.
pub const FLOOR: f64 = 0.80;

/// All workloads, in report order.
pub fn registry() -> Vec<Workload> {
    vec![
        Workload {
            name: "spawn_many_local",
            description:
                "inside a task, spawn 10,000 tasks that bump an atomic; the last one signals",
            unit: Unit::Time,
            goal: FLOOR,
            run: dispatch!(scheduler::spawn_many_local),
            go: Some(|go, p, k| go_time(go, p, "SpawnManyLocal", k)),
        },
        Workload {
            name: "spawn_many_remote_idle",
            description: "from the bench thread, spawn 10,000 empty tasks via the handle; join all",
            unit: Unit::Time,
            goal: FLOOR,
            run: dispatch!(scheduler::spawn_many_remote_idle),
            go: Some(|go, p, k| go_time(go, p, "SpawnManyRemoteIdle", k)),
        },
        Workload {
            name: "spawn_many_remote_busy",
            description:
                "as spawn_many_remote_idle, while 2 tasks per worker loop on yield_now + 10us stall",
            unit: Unit::Time,
            goal: FLOOR,
            run: dispatch!(scheduler::spawn_many_remote_busy),
            go: Some(|go, p, k| go_time(go, p, "SpawnManyRemoteBusy", k)),
        },
        Workload {
            name: "ping_pong",
            description:
                "1,000 pairs: a task spawns a partner, one futures oneshot each way; all joined",
            unit: Unit::Time,
            goal: FLOOR,
            run: dispatch!(scheduler::ping_pong),
            go: Some(|go, p, k| go_time(go, p, "PingPong", k)),
        },
        Workload {
            name: "yield_many",
            description: "200 tasks x 1,000 yield_now, spawned from the bench thread; all joined",
            unit: Unit::Time,
            goal: FLOOR,
            run: dispatch!(scheduler::yield_many),
            go: Some(|go, p, k| go_time(go, p, "YieldMany", k)),
        },
        Workload {
            name: "chained_spawn",
            description: "a chain of 1,000 tasks, each spawning the next; the last one signals",
            unit: Unit::Time,
            goal: FLOOR,
            run: dispatch!(scheduler::chained_spawn),
            go: Some(|go, p, k| go_time(go, p, "ChainedSpawn", k)),
        },
        Workload {
            name: "skynet",
            description: "a tree of 1,111,111 tasks (10 children per node, 6 levels); leaves return their index, nodes sum their children",
            unit: Unit::Time,
            goal: FLOOR,
            run: dispatch!(scheduler::skynet),
            go: Some(|go, p, k| go_time(go, p, "Skynet", k)),
        },
        Workload {
            name: "timers_sleep_many",
            description: "inside a task, spawn 1,000,000 tasks that each sleep 0-10 ms on the runtime's timer; the last one signals (none may wake early)",
            unit: Unit::Time,
            goal: FLOOR,
            run: dispatch!(timers::sleep_many),
            go: Some(|go, p, k| go_time(go, p, "TimersSleepMany", k)),
        },
        Workload {
            name: "timers_timeout_cancel",
            description: "1,000,000 timeouts of 1 s created, registered and cancelled (one task per worker, around a future ready on its second poll)",
            unit: Unit::Time,
            goal: FLOOR,
            run: dispatch!(timers::timeout_cancel),
            go: Some(|go, p, k| go_time(go, p, "TimersTimeoutCancel", k)),
        },
        Workload {
            name: "tcp_echo_throughput",
            description: "TCP echo on loopback: a server process per runtime (same workers), 100 connections of a separate mio client, 64-byte messages back to back for 1 s; ns per message (msgs/s = 1e9 / it)",
            unit: Unit::PerOp,
            goal: 1.0,
            run: net::throughput,
            go: Some(net::go_throughput),
        },
        Workload {
            name: "tcp_echo_p99_saturated",
            description: "as tcp_echo_throughput (every connection always has a message in flight): 99th percentile latency from each message's write",
            unit: Unit::Time,
            goal: 1.0,
            run: net::saturated_p99,
            go: Some(net::go_saturated_p99),
        },
        Workload {
            name: "tcp_echo_p50_at_20k",
            description: "as tcp_echo_throughput at a fixed 20,000 msgs/s in all: median latency from each message's due time",
            unit: Unit::Time,
            goal: 1.0,
            run: net::latency_p50,
            go: Some(net::go_latency_p50),
        },
        Workload {
            name: "tcp_echo_p99_at_20k",
            description: "as tcp_echo_p50_at_20k: 99th percentile latency",
            unit: Unit::Time,
            goal: 1.0,
            run: net::latency_p99,
            go: Some(net::go_latency_p99),
        },
        Workload {
            name: "alloc_per_empty_task",
            description: "bytes asked of the global allocator per spawn(async {}) from inside a task (100 spawns, below the local queue size; gort recycles task blocks, so a warm worker asks for none: its empty task is a 64-byte block)",
            unit: Unit::Bytes,
            goal: FLOOR,
            run: dispatch!(alloc::alloc_per_empty_task),
            go: None,
        },
        Workload {
            name: "alloc_per_task_burst_10k",
            description: "bytes allocated per spawn(async {}) over 10,000 spawns in one poll (includes run-queue overflow; gort: less what its free lists kept from the run before, which an idle trim gives back over time)",
            unit: Unit::Bytes,
            goal: FLOOR,
            run: dispatch!(alloc::alloc_per_task_burst),
            go: None,
        },
    ]
}

/// Whether a workload called `name` is selected by `filter`: all are when
/// `None`; otherwise those whose name contains any comma-separated part.
pub fn matches(name: &str, filter: Option<&str>) -> bool {
    filter.map_or(true, |f| f.split(',').any(|part| name.contains(part)))
}

/// The workloads whose name contains `filter` (all when `None`), in registry order.
/// A comma-separated filter selects the workloads matching any part.
pub fn select(all: Vec<Workload>, filter: Option<&str>) -> Vec<Workload> {
    all.into_iter()
        .filter(|w| matches(w.name, filter))
        .collect()
}

/// Test helper: runs `f` on its own thread and fails the test if it takes
/// longer than 60 s, so a lost wake-up fails the test instead of hanging
/// the suite (the hung thread is left behind).
#[cfg(test)]
pub(crate) fn with_deadline(what: &str, f: impl FnOnce() + Send + 'static) {
    use std::sync::mpsc::RecvTimeoutError;
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = done_tx.send(());
    });
    match done_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => {}
        Err(RecvTimeoutError::Timeout) => {
            panic!("{what}: still running after 60 s: hung (lost wake-up?)")
        }
        Err(RecvTimeoutError::Disconnected) => panic!("{what}: failed (see the panic above)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_filter_is_substring() {
        let all = registry();
        let mut names: Vec<_> = all.iter().map(|w| w.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());

        let spawn: Vec<_> = select(registry(), Some("spawn_many"))
            .iter()
            .map(|w| w.name)
            .collect();
        assert_eq!(
            spawn,
            [
                "spawn_many_local",
                "spawn_many_remote_idle",
                "spawn_many_remote_busy"
            ]
        );
        assert_eq!(select(registry(), None).len(), all.len());
        assert!(select(registry(), Some("no such workload")).is_empty());
    }

    #[test]
    fn every_workload_passes_its_checks_on_every_contender() {
        for name in AnyContender::NAMES {
            every_workload_passes_its_checks_on(name);
        }
    }

    fn every_workload_passes_its_checks_on(name: &str) {
        let rt = AnyContender::build(name, 2).unwrap();
        let params = Params {
            workers: 2,
            quick: true,
        };
        for w in registry() {
            let result = (w.run)(&rt, &params);
            if w.name.starts_with("tcp_echo") && net::net_binary().is_err() {
                // Needs the gort-bench-net binary (covered by net's own test).
                continue;
            }
            if w.unit == Unit::Bytes {
                // The test binary does not install the counting allocator.
                let err = result.unwrap_err();
                assert!(
                    err.contains("not the global allocator"),
                    "{}: {err}",
                    w.name
                );
            } else {
                let m = result.unwrap_or_else(|e| panic!("{}: {e}", w.name));
                assert_eq!(m.unit(), w.unit, "{}", w.name);
            }
        }
    }

    /// With `go` installed, every Go version runs at the quick sizes and
    /// passes its own checks (a wrong count fails the Go benchmark, which
    /// is an error here); without it, there is nothing to run.
    #[test]
    fn every_go_version_runs_when_go_is_installed() {
        use crate::gobench::{GoSetup, NOT_FOUND};
        let go = match GoBench::setup() {
            GoSetup::NotFound => return eprintln!("{NOT_FOUND} (test skipped)"),
            GoSetup::Failed(e) => panic!("go is installed but the package failed: {e}"),
            GoSetup::Ready(go) => go,
        };
        let params = Params {
            workers: 2,
            quick: true,
        };
        for w in registry() {
            let Some(run) = w.go else { continue };
            if w.name.starts_with("tcp_echo") && net::net_binary().is_err() {
                continue;
            }
            let m = run(&go, &params, 2).unwrap_or_else(|e| panic!("{}: {e}", w.name));
            assert_eq!(m.unit(), w.unit, "{}", w.name);
            assert!(m.value() > 0.0, "{}: {m:?}", w.name);
        }
    }

    #[test]
    fn a_hang_fails_by_the_deadline_helper_only_when_it_hangs() {
        with_deadline("quick", || {});
        let panicked = std::panic::catch_unwind(|| with_deadline("panics", || panic!("boom")));
        assert!(panicked.is_err());
    }

    #[test]
    fn measurement_values() {
        let t = Measurement::Time(Duration::from_micros(3));
        assert_eq!(t.unit(), Unit::Time);
        assert_eq!(t.value(), 3000.0);
        assert_eq!(Measurement::Bytes(64.5).value(), 64.5);
        assert_eq!(t.elapsed_ns(), Some(3000.0));
        assert_eq!(Measurement::Bytes(64.5).elapsed_ns(), None);
        let per = Measurement::PerOp {
            elapsed: Duration::from_millis(21),
            ops: 2_000_000,
        };
        assert_eq!(per.unit(), Unit::PerOp);
        assert_eq!(per.value(), 10.5);
        assert_eq!(per.elapsed_ns(), Some(21e6));
        let none = Measurement::PerOp {
            elapsed: Duration::from_millis(1),
            ops: 0,
        };
        assert!(none.value().is_nan());
        let p = Params {
            workers: 2,
            quick: true,
        };
        assert_eq!(p.size(10_000, 1_000), 1_000);
    }
}
