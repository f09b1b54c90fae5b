//! Two of Go's scheduler benchmarks (`src/runtime/proc_test.go`), mirrored
//! on gort and tokio; the Go versions are in `benches/go/sched_test.go`.
//!
//! - CreateGoroutines: a chain of `b.N` tasks, each spawning the next; the
//!   last signals. ns per task.
//! - PingPongHog: on one processor (a 1-worker runtime, built per run
//!   outside the clock; Go: GOMAXPROCS 1), two tasks ping-pong a counter
//!   `b.N` times over unbuffered gort channels while a third hogs the CPU.
//!   Go preempts its hog (a loop on `select` with `default`); futures cannot
//!   be preempted, so the Rust hog yields (`yield_now`) on every iteration:
//!   the row measures how the scheduler shares one processor between a
//!   hot ping-pong pair and a task that always wants to run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use super::scheduler::link;
use crate::contender::{join, Contender, Params};
use crate::gobench::GO;
use crate::results::Column;
use crate::stats::thousands;
use crate::stats::{Measurement, Unit};
use crate::suite::{cell, Suite, Workload};

/// `b.N` of CreateGoroutines (full, quick).
pub const CREATE_OPS: (u64, u64) = (1_000_000, 20_000);
/// `b.N` of PingPongHog (full, quick).
pub const HOG_OPS: (u64, u64) = (100_000, 10_000);

fn ops(p: &Params, (full, quick): (u64, u64)) -> u64 {
    p.size(full, quick)
}

/// CreateGoroutines on `rt`.
pub fn create_goroutines<C: Contender>(rt: &C, n: u64) -> Result<Measurement, String> {
    let (done_tx, done_rx) = mpsc::sync_channel::<usize>(1);
    let depth = n as usize;
    let start = Instant::now();
    let root = rt.spawn_remote(async move { link::<C>(depth, 0, done_tx) });
    let hops = done_rx
        .recv()
        .map_err(|_| "CreateGoroutines: the chain ended without a signal".to_string())?;
    let elapsed = start.elapsed();
    rt.block_on(join::<C, _>(root))?;
    if hops != depth {
        return Err(format!("CreateGoroutines: {hops} hops, expected {depth}"));
    }
    Ok(Measurement::PerOp { elapsed, ops: n })
}

/// PingPongHog on a fresh 1-worker runtime of `C`.
pub fn ping_pong_hog<C: Contender>(n: u64) -> Result<Measurement, String> {
    let rt = C::build(1).map_err(|e| format!("PingPongHog: building a 1-worker runtime: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let hog = {
        let stop = stop.clone();
        rt.spawn_remote(async move {
            while !stop.load(Ordering::Relaxed) {
                C::yield_now().await;
            }
        })
    };
    let (ping_tx, ping_rx) = gort::chan::bounded::<u64>(0);
    let (pong_tx, pong_rx) = gort::chan::bounded::<u64>(0);
    let start = Instant::now();
    let ponger = rt.spawn_remote(async move {
        for _ in 0..n {
            let v = ping_rx.recv().await.map_err(|_| "pinger gone")?;
            pong_tx.send(v + 1).await.map_err(|_| "pinger gone")?;
        }
        Ok::<(), &'static str>(())
    });
    let last = rt
        .block_on(join::<C, _>(rt.spawn_remote(async move {
            let mut v = 0;
            for _ in 0..n {
                ping_tx.send(v).await.map_err(|_| "ponger gone")?;
                v = pong_rx.recv().await.map_err(|_| "ponger gone")?;
            }
            Ok::<u64, &'static str>(v)
        })))?
        .map_err(|e| format!("PingPongHog: {e}"))?;
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    rt.block_on(join::<C, _>(ponger))?
        .map_err(|e| format!("PingPongHog: {e}"))?;
    rt.block_on(join::<C, _>(hog))?;
    if last != n {
        return Err(format!("PingPongHog: counter {last}, expected {n}"));
    }
    Ok(Measurement::PerOp { elapsed, ops: n })
}

/// The suite `sched/go/*`.
pub fn suite() -> Suite {
    let rows = vec![
        Workload {
            name: "sched/go/CreateGoroutines".to_string(),
            description: format!(
                "a chain of b.N tasks, each spawning the next (b.N = {}, {} under --quick)",
                thousands(CREATE_OPS.0),
                thousands(CREATE_OPS.1)
            ),
            unit: Unit::PerOp,
            goal: None,
            cells: vec![
                cell(|env, p| create_goroutines(&env.gort, ops(p, CREATE_OPS))),
                cell(|env, p| create_goroutines(&env.tokio, ops(p, CREATE_OPS))),
                cell(|env, p| {
                    let n = ops(p, CREATE_OPS);
                    env.go("sched/go/CreateGoroutines")?
                        .run("CreateGoroutines", n, p.workers)
                }),
            ],
        },
        Workload {
            name: "sched/go/PingPongHog".to_string(),
            description: format!(
                "one processor: b.N ping-pongs over unbuffered channels beside a CPU hog (b.N = {}, {} under --quick)",
                thousands(HOG_OPS.0),
                thousands(HOG_OPS.1)
            ),
            unit: Unit::PerOp,
            goal: None,
            cells: vec![
                cell(|_, p| ping_pong_hog::<crate::contender::Gort>(ops(p, HOG_OPS))),
                cell(|_, p| ping_pong_hog::<crate::contender::Tokio>(ops(p, HOG_OPS))),
                cell(|env, p| {
                    let n = ops(p, HOG_OPS);
                    env.go("sched/go/PingPongHog")?
                        .run("PingPongHog", n, p.workers)
                }),
            ],
        },
    ];
    Suite {
        title: "sched/go: Go's runtime/proc_test.go scheduler benchmarks, ns/op".to_string(),
        about: vec![
            "CreateGoroutines on the 2-worker runtimes (GOMAXPROCS=2); PingPongHog on a \
             1-worker runtime built per run (Go: GOMAXPROCS 1), the Rust hog yielding on every \
             iteration where Go preempts its spinning hog."
                .to_string(),
        ],
        columns: vec![
            Column::new("gort", true, "gort's runtime; gort::chan for the ping-pong"),
            Column::new(
                "tokio",
                true,
                "tokio's multi-threaded runtime; gort::chan for the ping-pong",
            ),
            Column::new(GO, true, "benches/go/sched_test.go, the same b.N"),
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
    fn both_benchmarks_check_their_results_on_both_runtimes() {
        let gort = Gort::build(2).unwrap();
        let tokio = Tokio::build(2).unwrap();
        for m in [
            create_goroutines(&gort, 1000),
            create_goroutines(&tokio, 1000),
            ping_pong_hog::<Gort>(1000),
            ping_pong_hog::<Tokio>(1000),
        ] {
            assert!(matches!(m.unwrap(), Measurement::PerOp { ops: 1000, .. }));
        }
    }
}
