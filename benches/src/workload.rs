//! The registry: every table the harness measures ([`suites`]), in report
//! order, each row a workload with a cell per column.
//!
//! The runtime table's workloads are written once as
//! `fn my_workload<C: Contender>(rt: &C, p: &Params) -> RunResult` (in a
//! submodule) and get a cell per runtime with `runtimes!(my_workload)`; the
//! other suites build their rows in their own submodule. A cell returns an
//! error message when the result was wrong: a wrong count or sum must never
//! turn into a time.

// Before the submodules, so that they can use it too.
/// The cells of `f`, a workload generic over [`Contender`], on gort, tokio
/// and smol (the runtime table's first three columns).
macro_rules! runtimes {
    ($f:path) => {
        vec![
            cell(|env, p| $f(&env.gort, p)),
            cell(|env, p| $f(&env.tokio, p)),
            cell(|env, p| $f(&env.smol, p)),
        ]
    };
}

pub mod alloc;
pub mod channel;
pub mod fs;
pub mod go_chan;
pub mod go_sched;
pub mod go_sync;
pub mod net;
pub mod process;
pub mod scale;
pub mod scheduler;
pub mod seed;
pub mod stall;
pub mod timers;

use std::time::Duration;

use crate::contender::{Contender, Gort, Params, Smol, Tokio, WORKERS};
use crate::gobench::{GoBench, GO};
use crate::results::Column;
use crate::stats::{Measurement, Unit};
use crate::suite::{cell, fresh, Cell, RunResult, Suite, Workload};

/// The floor the issues set for every runtime workload: gort at most 0.80x tokio.
pub const FLOOR: f64 = 0.80;

/// All suites, in report order: the runtime table, the stall table (a
/// blocked thread, a greedy task), the fs table (files over the blocking
/// pool), the process table, the seed's table (per unit of concurrency), the
/// scale curves (at the quick sizes under `quick`), the oversubscription
/// table, Go's scheduler benchmarks, Go's channel benchmarks, the async
/// channel suite, the blocking channel suite.
pub fn suites(quick: bool) -> Vec<Suite> {
    vec![
        runtimes(),
        stall::suite(),
        fs::suite(),
        process::suite(),
        seed::suite(),
        scale::suite(quick),
        scale::big_suite(quick),
        scale::oversub_suite(quick),
        go_sched::suite(),
        go_chan::suite(),
        go_sync::suite(),
        channel::async_suite(),
        channel::blocking_suite(),
    ]
}

/// The `versus --child <row> <column> <k> <workers> [--quick]` process
/// of a [`fresh`] cell: builds the runtimes, runs
/// the row's cell once (discarded), then `k` times, and returns
/// `ns=<mean>` of those `k`.
pub fn child(args: &[String]) -> Result<String, String> {
    crate::suite::enter_child();
    let usage = "usage: --child <row> <column> <k> <workers> [--quick]";
    let [row, column, k, workers, rest @ ..] = args else {
        return Err(usage.to_string());
    };
    let number = |s: &String, what: &str| -> Result<usize, String> {
        s.parse()
            .map_err(|_| format!("{what}: a number, got {s:?} ({usage})"))
    };
    let quick = rest.iter().any(|a| a == "--quick");
    let (column, k) = (number(column, "column")?, number(k, "k")?.max(1));
    let p = Params {
        workers: number(workers, "workers")?,
        quick,
    };
    let suites = suites(quick);
    let w = (suites.iter().flat_map(|s| &s.rows))
        .find(|w| w.name == *row)
        .ok_or_else(|| format!("no row named {row:?}"))?;
    let Some(Some(Cell::Each(run))) = w.cells.get(column) else {
        return Err(format!("{row}: column {column} has no one-iteration cell"));
    };
    let env = crate::suite::Env::build(p.workers)?;
    let time = |m: RunResult| match m? {
        Measurement::Time(d) => Ok(d.as_secs_f64() * 1e9),
        other => Err(format!(
            "{row}: a fresh cell must measure time, got {other:?}"
        )),
    };
    time(run(&env, &p))?;
    let mut total = 0.0;
    for _ in 0..k {
        total += time(run(&env, &p))?;
    }
    Ok(format!("ns={}", total / k as f64))
}

/// A timed workload's Go version: `Benchmark<name>` in
/// `benches/go/runtime_test.go`, one `b.N` iteration being one run of the
/// workload (`-gort.quick` under `--quick`), `b.N = max(k, 2)` in one
/// process after Go's own first run of `b.N = 1`, whose result it
/// discards. Returns the mean time.
pub fn go_time(go: &GoBench, p: &Params, name: &str, k: u32) -> RunResult {
    let flags: &[&str] = if p.quick { &["-gort.quick"] } else { &[] };
    // Go's testing runs b.N = 1 first and reports that run itself under
    // `-test.benchtime 1x`: at least 2, so the first is a warm-up.
    let ops = u64::from(k.max(2));
    let ns = go.run_with(name, ops, p.workers, flags)?.value();
    if !ns.is_finite() || ns <= 0.0 {
        return Err(format!("Go {name}: {ns} ns per run"));
    }
    Ok(Measurement::Time(Duration::from_nanos(ns.round() as u64)))
}

/// A [`row`] in time whose runtime cells each run in a fresh process per
/// measured run ([`fresh`]).
fn fresh_row(
    name: &'static str,
    description: &str,
    cells: Vec<Option<Cell>>,
    go: Option<&'static str>,
) -> Workload {
    row(name, description, Unit::Time, fresh(name, cells), go)
}

/// A row of the runtime table: `cells` on the runtimes, then Go's
/// `Benchmark<go>` (see [`go_time`]) if there is one.
fn row(
    name: &str,
    description: &str,
    unit: Unit,
    mut cells: Vec<Option<Cell>>,
    go: Option<&'static str>,
) -> Workload {
    cells.push(go.map(|go| -> Cell {
        Cell::Batch(Box::new(move |env, p, k| go_time(env.go(go)?, p, go, k)))
    }));
    Workload {
        name: name.to_string(),
        description: description.to_string(),
        unit,
        goal: Some(FLOOR),
        cells,
    }
}

/// The runtime table: gort against tokio (the baseline), smol and Go on
/// tokio's scheduler benchmarks, timers, TCP echo and allocation.
fn runtimes() -> Suite {
    let mut rows = vec![
        fresh_row(
            "spawn_many_local",
            "inside a task, spawn 10,000 tasks that bump an atomic; the last one signals",
            runtimes!(scheduler::spawn_many_local),
            Some("SpawnManyLocal"),
        ),
        fresh_row(
            "spawn_many_remote_idle",
            "from the bench thread, spawn 10,000 empty tasks via the handle; join all",
            runtimes!(scheduler::spawn_many_remote_idle),
            Some("SpawnManyRemoteIdle"),
        ),
        fresh_row(
            "spawn_many_remote_busy",
            "as spawn_many_remote_idle, while 2 tasks per worker loop on yield_now + 10us stall",
            runtimes!(scheduler::spawn_many_remote_busy),
            Some("SpawnManyRemoteBusy"),
        ),
        row(
            "spawn_many_remote_idle/go_waitgroup",
            "Go only: spawn_many_remote_idle with one WaitGroup for every goroutine, no \
             handle per task (the Go row above waits on a channel per goroutine, as the Rust \
             rows join a handle per task)",
            Unit::Time,
            vec![None, None, None],
            Some("SpawnManyRemoteIdleWaitGroup"),
        ),
        row(
            "spawn_many_remote_busy/go_waitgroup",
            "Go only: spawn_many_remote_busy with one WaitGroup",
            Unit::Time,
            vec![None, None, None],
            Some("SpawnManyRemoteBusyWaitGroup"),
        ),
        fresh_row(
            "ping_pong",
            "1,000 pairs: a task spawns a partner, one futures oneshot each way; all joined",
            runtimes!(scheduler::ping_pong),
            Some("PingPong"),
        ),
        fresh_row(
            "yield_many",
            "200 tasks x 1,000 yield_now, spawned from the bench thread; all joined",
            runtimes!(scheduler::yield_many),
            Some("YieldMany"),
        ),
        fresh_row(
            "chained_spawn",
            "a chain of 1,000 tasks, each spawning the next; the last one signals",
            runtimes!(scheduler::chained_spawn),
            Some("ChainedSpawn"),
        ),
        fresh_row(
            "skynet",
            "a tree of 1,111,111 tasks (10 children per node, 6 levels); leaves return their \
             index, nodes sum their children",
            runtimes!(scheduler::skynet),
            Some("Skynet"),
        ),
        row(
            "timers_sleep_many",
            "inside a task, spawn 1,000,000 tasks that each sleep 0-10 ms on the runtime's \
             timer; the last one signals (none may wake early)",
            Unit::Time,
            runtimes!(timers::sleep_many),
            Some("TimersSleepMany"),
        ),
        row(
            "timers_timeout_cancel",
            "1,000,000 timeouts of 1 s created, registered and cancelled (one task per worker, \
             around a future ready on its second poll)",
            Unit::Time,
            runtimes!(timers::timeout_cancel),
            Some("TimersTimeoutCancel"),
        ),
    ];
    rows.extend(net::rows());
    rows.push(row(
        "alloc_per_empty_task",
        "bytes asked of the global allocator per spawn(async {}) from inside a task (100 \
         spawns, below the local queue size; gort recycles task blocks, so a warm worker asks \
         for none: its empty task is an 80-byte block)",
        Unit::Bytes,
        runtimes!(alloc::alloc_per_empty_task),
        None,
    ));
    rows.push(row(
        "alloc_per_task_burst_10k",
        "bytes allocated per spawn(async {}) over 10,000 spawns in one poll (includes \
         run-queue overflow; gort: less what its free lists kept from the run before, which an \
         idle trim gives back over time)",
        Unit::Bytes,
        runtimes!(alloc::alloc_per_task_burst),
        None,
    ));
    Suite {
        title: "runtimes: {vs}".to_string(),
        about: vec![format!(
            "ratio = gort median / tokio median (lower is better); goal = the issues' floor, \
             gort <= {FLOOR:.2}x tokio (the fastest column is the aim); `gort vs best` = \
             gort's median / the lowest other median of the row. alloc_* rows are in bytes \
             per task, not time."
        )],
        columns: vec![
            Column::new(
                Gort::NAME,
                true,
                &format!("`gort::runtime::Builder::new().worker_threads({WORKERS})`"),
            ),
            Column::new(
                Tokio::NAME,
                true,
                &format!("`new_multi_thread().worker_threads({WORKERS}).enable_all()`"),
            ),
            Column::new(
                Smol::NAME,
                true,
                &format!(
                    "one `async_executor::Executor` run by {WORKERS} threads under \
                     `async_io::block_on` (smol's multi-threaded setup), async-io timers and \
                     sockets (the servers of the echo rows accept in `block_on` on the main \
                     thread on every runtime; async-io's also turns its reactor there when idle)"
                ),
            ),
            Column::new(
                GO,
                true,
                &format!(
                    "benches/go/runtime_test.go, GOMAXPROCS {WORKERS}, one process per run (b.N \
                     = max(the run's iterations, 2), after Go's own b.N = 1 run, whose result \
                     is discarded); its echo server (TCP and Unix) is TestEchoServer there"
                ),
            ),
        ],
        baseline: Some(1),
        runs: None,
        rows,
    }
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
    use crate::gobench::{GoSetup, NOT_FOUND};
    use crate::suite::{matches, Env};

    #[test]
    fn names_are_unique_and_filter_is_substring() {
        let mut names: Vec<String> = suites(false)
            .into_iter()
            .flat_map(|s| s.rows.into_iter().map(|r| r.name))
            .collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
        let spawn: Vec<_> = runtimes()
            .select(Some("spawn_many"))
            .rows
            .into_iter()
            .map(|w| w.name)
            .collect();
        assert_eq!(
            spawn,
            [
                "spawn_many_local",
                "spawn_many_remote_idle",
                "spawn_many_remote_busy",
                "spawn_many_remote_idle/go_waitgroup",
                "spawn_many_remote_busy/go_waitgroup"
            ]
        );
        assert!(matches("chan/x", Some("nothing,chan")) && !matches("x", Some("y")));
        assert!(
            matches("skynet", Some("=skynet")) && !matches("oversub/skynet@w2", Some("=skynet"))
        );
    }

    /// Every cell of the runtime table at the quick sizes, Go's when `go`
    /// is installed (a wrong count fails the Go benchmark, an error here).
    #[test]
    fn every_runtime_workload_passes_its_checks_on_every_column() {
        // In process: the fresh-process cells would start this test binary.
        crate::suite::enter_child();
        let mut env = Env::build(2).unwrap();
        env.go = match GoBench::setup() {
            GoSetup::NotFound => None,
            GoSetup::Failed(e) => panic!("go is installed but the package failed: {e}"),
            GoSetup::Ready(go) => Some(go),
        };
        if env.go.is_none() {
            eprintln!("{NOT_FOUND} (Go's cells skipped)");
        }
        let p = Params {
            workers: 2,
            quick: true,
        };
        let s = runtimes();
        for w in &s.rows {
            if w.name.contains("_echo_") && net::net_binary().is_err() {
                continue; // Needs the gort-bench-net binary (covered by net's own test).
            }
            for (cell, column) in w.cells.iter().zip(&s.columns) {
                let result = match cell {
                    None => continue,
                    Some(_) if column.name == GO && env.go.is_none() => continue,
                    Some(Cell::Each(run)) => run(&env, &p),
                    Some(Cell::Batch(run)) => run(&env, &p, 2),
                };
                let what = format!("{} on {}", w.name, column.name);
                if w.unit == Unit::Bytes {
                    // The test binary does not install the counting allocator.
                    let err = result.unwrap_err();
                    assert!(err.contains("not the global allocator"), "{what}: {err}");
                } else {
                    let m = result.unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_eq!(m.unit(), w.unit, "{what}");
                    assert!(m.value() > 0.0, "{what}: {m:?}");
                }
            }
        }
    }

    /// The child side of a fresh-process cell runs the named row's cell
    /// and prints the mean; a wrong row, column or count is an error.
    #[test]
    fn a_child_runs_one_cell_and_prints_its_mean() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let line = child(&args(&["chained_spawn", "0", "3", "2", "--quick"])).unwrap();
        let ns: f64 = line.strip_prefix("ns=").unwrap().parse().unwrap();
        assert!(ns > 0.0, "{line}");
        let err = child(&args(&["no_such_row", "0", "1", "2"])).unwrap_err();
        assert!(err.contains("no row named"), "{err}");
        // Column 3 is Go's, a batch cell: not something a child runs.
        let err = child(&args(&["chained_spawn", "3", "1", "2"])).unwrap_err();
        assert!(err.contains("no one-iteration cell"), "{err}");
        let err = child(&args(&["chained_spawn", "0"])).unwrap_err();
        assert!(err.starts_with("usage"), "{err}");
    }

    #[test]
    fn a_hang_fails_by_the_deadline_helper_only_when_it_hangs() {
        with_deadline("quick", || {});
        let panicked = std::panic::catch_unwind(|| with_deadline("panics", || panic!("boom")));
        assert!(panicked.is_err());
    }
}
