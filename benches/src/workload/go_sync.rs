//! `sync/go/*`: Go's `sync` benchmarks (the shapes of
//! `sync/mutex_test.go` and `sync/waitgroup_test.go`) and two of gort's
//! own (a contended semaphore, cancelling a tree of contexts), on
//! gort-sync (gort's runtime), tokio::sync (tokio's runtime), async-lock
//! (gort's runtime) and Go (`benches/go/sync_test.go`).
//!
//! Go's `b.RunParallel` runs GOMAXPROCS goroutines (2 here) that share
//! `b.N` iterations; the Rust rows spawn 2 tasks doing `b.N / 2` each
//! (the semaphore row 4 tasks, as Go's `SetParallelism(2)`), and time
//! from the spawn to the last join. ns per operation.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use crate::contender::{join, Contender, Params, WORKERS};
use crate::gobench::GO;
use crate::results::Column;
use crate::stats::{thousands, Measurement, Unit};
use crate::suite::{cell, RunResult, Suite, Workload};

/// `b.N` of the lock and wait-group rows (full, quick).
pub const OPS: (u64, u64) = (2_000_000, 20_000);
/// Contexts in the cancel tree (full, quick).
pub const CONTEXTS: (u64, u64) = (100_000, 5_000);

/// Tasks of the contended semaphore row, and its permits.
const SEM_TASKS: u64 = 4;
const SEM_PERMITS: usize = 2;

/// The local work of MutexWork between two locks (Go's loop).
fn work(acc: &mut u64) {
    for _ in 0..100 {
        *acc = black_box(*acc * 2);
        *acc /= 2;
    }
}

/// A Mutex workload for each lock type: `shared` one mutex for all tasks
/// (else one each), `with_work` the local work after each unlock. Checks
/// the count under the lock.
macro_rules! mutex_workload {
    ($name:ident, $mutex:ty) => {
        fn $name<C: Contender>(rt: &C, n: u64, shared: bool, with_work: bool) -> RunResult {
            let tasks = WORKERS as u64;
            let per = n / tasks;
            let one = Arc::new(<$mutex>::new(0u64));
            let mutexes: Vec<_> = (0..tasks)
                .map(|_| {
                    if shared {
                        one.clone()
                    } else {
                        Arc::new(<$mutex>::new(0u64))
                    }
                })
                .collect();
            let start = Instant::now();
            let handles: Vec<_> = mutexes
                .iter()
                .cloned()
                .map(|m| {
                    rt.spawn_remote(async move {
                        let mut acc = 1u64;
                        for _ in 0..per {
                            *m.lock().await += 1;
                            if with_work {
                                work(&mut acc);
                            }
                        }
                        acc
                    })
                })
                .collect();
            for h in handles {
                rt.block_on(join::<C, _>(h))?;
            }
            let elapsed = start.elapsed();
            let total: u64 = if shared {
                rt.block_on(async { *one.lock().await })
            } else {
                mutexes
                    .iter()
                    .map(|m| rt.block_on(async { *m.lock().await }))
                    .sum()
            };
            if total != per * tasks {
                return Err(format!(
                    "mutex: {total} increments, expected {}",
                    per * tasks
                ));
            }
            Ok(Measurement::PerOp {
                elapsed,
                ops: per * tasks,
            })
        }
    };
}

mutex_workload!(mutex_gort, gort::sync::Mutex<u64>);
mutex_workload!(mutex_tokio, tokio::sync::Mutex<u64>);
mutex_workload!(mutex_async_lock, async_lock::Mutex<u64>);

/// The contended semaphore for each type: `SEM_TASKS` tasks take and give
/// back one of `SEM_PERMITS` permits, `n` times in all; checks that no
/// more than `SEM_PERMITS` held one at once.
macro_rules! semaphore_workload {
    ($name:ident, $new:expr, $acquire:ident $(, $arg:expr)?) => {
        fn $name<C: Contender>(rt: &C, n: u64) -> RunResult {
            let per = n / SEM_TASKS;
            let sem = Arc::new($new);
            let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let start = Instant::now();
            let handles: Vec<_> = (0..SEM_TASKS)
                .map(|_| {
                    let (sem, inside) = (sem.clone(), inside.clone());
                    rt.spawn_remote(async move {
                        for _ in 0..per {
                            let _permit = sem.$acquire($($arg)?).await;
                            let now = inside.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            inside.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                            if now >= SEM_PERMITS {
                                return Err(format!("semaphore: {} holders at once", now + 1));
                            }
                        }
                        Ok(())
                    })
                })
                .collect();
            for h in handles {
                rt.block_on(join::<C, _>(h))??;
            }
            Ok(Measurement::PerOp {
                elapsed: start.elapsed(),
                ops: per * SEM_TASKS,
            })
        }
    };
}

semaphore_workload!(
    semaphore_gort,
    gort::sync::Semaphore::new(SEM_PERMITS),
    acquire,
    1
);
semaphore_workload!(
    semaphore_tokio,
    tokio::sync::Semaphore::new(SEM_PERMITS),
    acquire
);
semaphore_workload!(
    semaphore_async_lock,
    async_lock::Semaphore::new(SEM_PERMITS),
    acquire
);

/// WaitGroupUncontended (`shared` false: each task its own group, `add`,
/// `done`, `wait`) and WaitGroupAddDone (`shared` true: one group, `add`
/// and `done`), on gort-sync.
fn wait_group<C: Contender>(rt: &C, n: u64, shared: bool) -> RunResult {
    let tasks = WORKERS as u64;
    let per = n / tasks;
    let one = gort::sync::WaitGroup::new();
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let wg = if shared {
                one.clone()
            } else {
                gort::sync::WaitGroup::new()
            };
            rt.spawn_remote(async move {
                for _ in 0..per {
                    wg.add(1);
                    wg.done();
                    if !shared {
                        wg.wait().await;
                    }
                }
                wg.count()
            })
        })
        .collect();
    for h in handles {
        rt.block_on(join::<C, _>(h))?;
    }
    let elapsed = start.elapsed();
    if one.count() != 0 {
        return Err(format!("WaitGroup: count {} at the end", one.count()));
    }
    Ok(Measurement::PerOp {
        elapsed,
        ops: per * tasks,
    })
}

/// `n` contexts under one root, each with a task waiting on `done()`:
/// the time from cancelling the root until every task has seen it, per
/// context (gort's `context`).
fn context_cancel_tree<C: Contender>(rt: &C, n: u64) -> RunResult {
    use gort::context::{Context, ContextError};
    let (root, cancel) = Context::background().with_cancel();
    let ready = gort::sync::WaitGroup::new();
    let done = gort::sync::WaitGroup::new();
    ready.add(n as usize);
    done.add(n as usize);
    let mut cancels = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let (ctx, c) = root.with_cancel();
        cancels.push(c);
        let (ready, done) = (ready.clone(), done.clone());
        drop(rt.spawn_remote(async move {
            ready.done();
            ctx.done().await;
            if ctx.err() == Some(ContextError::Canceled) {
                done.done();
            }
        }));
    }
    ready.wait_blocking();
    let start = Instant::now();
    cancel.cancel();
    done.wait_blocking();
    let elapsed = start.elapsed();
    drop(cancels);
    Ok(Measurement::PerOp { elapsed, ops: n })
}

fn ops(p: &Params) -> u64 {
    p.size(OPS.0, OPS.1)
}

/// The suite `sync/go/*`.
pub fn suite() -> Suite {
    let go = |bench: &'static str, n: fn(&Params) -> u64| {
        cell(move |env, p| {
            env.go(&format!("sync/go/{bench}"))?
                .run(bench, n(p), p.workers)
        })
    };
    let lock_rows = [
        (
            "MutexUncontended",
            false,
            false,
            "each of 2 tasks locks and unlocks its own mutex",
        ),
        ("Mutex", true, false, "2 tasks lock and unlock one mutex"),
        (
            "MutexWork",
            true,
            true,
            "2 tasks lock and unlock one mutex, 100 multiply-divides of local work after each",
        ),
    ];
    let mut rows: Vec<Workload> = lock_rows
        .into_iter()
        .map(|(bench, shared, with_work, what)| Workload {
            name: format!("sync/go/{bench}"),
            description: format!(
                "{what} (b.N = {}, {} under --quick)",
                thousands(OPS.0),
                thousands(OPS.1)
            ),
            unit: Unit::PerOp,
            goal: None,
            cells: vec![
                cell(move |env, p| mutex_gort(&env.gort, ops(p), shared, with_work)),
                cell(move |env, p| mutex_tokio(&env.tokio, ops(p), shared, with_work)),
                cell(move |env, p| mutex_async_lock(&env.gort, ops(p), shared, with_work)),
                go(bench, ops),
            ],
        })
        .collect();
    for (bench, shared, what) in [
        (
            "WaitGroupUncontended",
            false,
            "each of 2 tasks: add(1), done(), wait() on its own group",
        ),
        (
            "WaitGroupAddDone",
            true,
            "2 tasks: add(1), done() on one group",
        ),
    ] {
        rows.push(Workload {
            name: format!("sync/go/{bench}"),
            description: format!(
                "{what} (b.N = {}, {} under --quick)",
                thousands(OPS.0),
                thousands(OPS.1)
            ),
            unit: Unit::PerOp,
            goal: None,
            cells: vec![
                cell(move |env, p| wait_group(&env.gort, ops(p), shared)),
                None,
                None,
                go(bench, ops),
            ],
        });
    }
    rows.push(Workload {
        name: "sync/go/SemaphoreContended".to_string(),
        description: format!(
            "4 tasks take and give back one of 2 permits (b.N = {}, {} under --quick; Go: a \
             buffered channel of 2, its idiom)",
            thousands(OPS.0),
            thousands(OPS.1)
        ),
        unit: Unit::PerOp,
        goal: None,
        cells: vec![
            cell(|env, p| semaphore_gort(&env.gort, ops(p))),
            cell(|env, p| semaphore_tokio(&env.tokio, ops(p))),
            cell(|env, p| semaphore_async_lock(&env.gort, ops(p))),
            go("SemaphoreContended", ops),
        ],
    });
    rows.push(Workload {
        name: "sync/go/ContextCancelTree".to_string(),
        description: format!(
            "b.N contexts under one root, a task waiting on each one's done(): from cancelling \
             the root until every task saw it, per context (b.N = {}, {} under --quick)",
            thousands(CONTEXTS.0),
            thousands(CONTEXTS.1)
        ),
        unit: Unit::PerOp,
        goal: None,
        cells: vec![
            cell(|env, p| context_cancel_tree(&env.gort, p.size(CONTEXTS.0, CONTEXTS.1))),
            None,
            None,
            go("ContextCancelTree", |p| p.size(CONTEXTS.0, CONTEXTS.1)),
        ],
    });
    Suite {
        title: "sync/go: Go's sync benchmarks (and a semaphore, a context tree), ns/op".to_string(),
        about: vec![
            "2 tasks share b.N (Go: RunParallel with GOMAXPROCS 2); gort-sync and async-lock on \
             gort's runtime, tokio::sync on tokio's. tokio and async-lock have no WaitGroup and no \
             context: n/a."
                .to_string(),
        ],
        columns: vec![
            Column::new("gort", true, "gort::sync / gort::context on gort's runtime"),
            Column::new("tokio", true, "tokio::sync on tokio's runtime"),
            Column::new("async-lock", true, "async-lock 3 on gort's runtime"),
            Column::new(GO, true, "benches/go/sync_test.go, the same b.N"),
        ],
        baseline: None,
        runs: None,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contender::{Gort, Tokio};

    #[test]
    fn every_rust_cell_checks_its_result() {
        let gort = Gort::build(2).unwrap();
        let tokio = Tokio::build(2).unwrap();
        for (shared, with_work) in [(false, false), (true, false), (true, true)] {
            for m in [
                mutex_gort(&gort, 1000, shared, with_work),
                mutex_tokio(&tokio, 1000, shared, with_work),
                mutex_async_lock(&gort, 1000, shared, with_work),
            ] {
                assert!(matches!(m.unwrap(), Measurement::PerOp { ops: 1000, .. }));
            }
        }
        for m in [
            semaphore_gort(&gort, 1000),
            semaphore_tokio(&tokio, 1000),
            semaphore_async_lock(&gort, 1000),
            wait_group(&gort, 1000, false),
            wait_group(&gort, 1000, true),
            context_cancel_tree(&gort, 1000),
        ] {
            assert!(matches!(m.unwrap(), Measurement::PerOp { ops: 1000, .. }));
        }
    }
}
