//! Go's channel benchmarks (`src/runtime/chan_test.go`), mirrored on gort's
//! channels: ChanSync, ChanProdCons0/10/100, ChanUncontended, ChanContended.
//!
//! Go runs GOMAXPROCS goroutines that do `b.N` operations in total and
//! reports ns/op = elapsed / `b.N`. Here the same structure runs as tasks
//! spawned on a 2-worker runtime from the bench thread, which joins them;
//! `ops` plays `b.N`, and the result is elapsed / `ops`. The Go versions
//! are in `benches/go/chan_test.go` and run with the same `b.N`
//! (`-test.benchtime <ops>x`) and GOMAXPROCS 2 for the Go column. Keep the
//! two files in step.
//!
//! Each function also checks what was received (Go's originals check
//! nothing; the Go file here checks the same).
//!
//! SelectUncontended and SelectProdCons use `gort::select!`. Go's
//! SelectProdCons has a `time.After(time.Hour)` arm that never fires; here
//! it is a `gort::time::sleep` of an hour, made once per task as Go's and
//! polled by every select as a future arm.

use std::sync::atomic::Ordering::{AcqRel, Relaxed};
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::Arc;
use std::time::Instant;

use crate::contender::{join, Contender, Params};
use crate::gobench::GO;
use crate::results::Column;
use crate::stats::thousands;
use crate::stats::{Measurement, Unit};
use crate::suite::{cell, Cell, Suite, Workload};

/// Iterations a goroutine takes from the shared countdown at a time in
/// ChanSync and ChanProdCons* (Go's `CallsPerSched`).
pub const CALLS_PER_SCHED: u64 = 1000;

/// Sends, then receives, per op of ChanUncontended and ChanContended (Go's `C`).
pub const BURST: usize = 100;

/// Ops a task of ChanUncontended/ChanContended takes from the shared
/// counter at a time. Go's `RunParallel` sizes its grain to about 100 us
/// of work (at most 10,000); at 1.5-10 us per op that is 10-70, so a fixed
/// 32 here.
pub const GRAIN: u64 = 32;

/// Goroutines of ChanSync (fixed at 2 in Go's code).
const SYNC_PROCS: u64 = 2;

async fn recv_one(rx: &gort::chan::Receiver<u64>, what: &str) -> Result<u64, String> {
    rx.recv()
        .await
        .map_err(|_| format!("{what}: channel closed early"))
}

async fn send_one(tx: &gort::chan::Sender<u64>, v: u64, what: &str) -> Result<(), String> {
    tx.send(v)
        .await
        .map_err(|_| format!("{what}: channel closed early"))
}

fn check(what: &str, got: u64, want: u64) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{what}: wrong result: received {got}, expected {want}"
        ))
    }
}

/// Joins every handle and adds up their outputs.
async fn join_sum<C: Contender>(
    handles: Vec<C::JoinHandle<Result<u64, String>>>,
) -> Result<u64, String> {
    let mut total = 0;
    for h in handles {
        total += join::<C, _>(h).await??;
    }
    Ok(total)
}

/// ChanSync: 2 tasks ping-pong over one unbuffered channel. Each takes
/// batches of [`CALLS_PER_SCHED`] iterations from a shared countdown; in an
/// even batch an iteration receives then sends, in an odd one it sends then
/// receives (so the two always pair up).
pub fn chan_sync<C: Contender>(rt: &C, ops: u64) -> Result<Measurement, String> {
    let batches = ops / CALLS_PER_SCHED / SYNC_PROCS * SYNC_PROCS;
    let remaining = Arc::new(AtomicI64::new(batches as i64));
    let (tx, rx) = gort::chan::bounded::<u64>(0);

    let start = Instant::now();
    let tasks: Vec<_> = (0..SYNC_PROCS)
        .map(|_| {
            let (tx, rx, remaining) = (tx.clone(), rx.clone(), remaining.clone());
            rt.spawn_remote(async move {
                let mut got = 0u64;
                loop {
                    let i = remaining.fetch_sub(1, AcqRel) - 1;
                    if i < 0 {
                        break;
                    }
                    for _ in 0..CALLS_PER_SCHED {
                        if i % 2 == 0 {
                            got += recv_one(&rx, "ChanSync").await?;
                            send_one(&tx, 1, "ChanSync").await?;
                        } else {
                            send_one(&tx, 1, "ChanSync").await?;
                            got += recv_one(&rx, "ChanSync").await?;
                        }
                    }
                }
                Ok(got)
            })
        })
        .collect();
    drop((tx, rx));
    let got = rt.block_on(join_sum::<C>(tasks))?;
    let elapsed = start.elapsed();

    check("ChanSync (values received)", got, batches * CALLS_PER_SCHED)?;
    Ok(Measurement::PerOp { elapsed, ops })
}

/// `ChanProdCons<cap>`: `procs` producers and `procs` consumers share one
/// channel of `cap`. Producers take batches of [`CALLS_PER_SCHED`] sends
/// (of 1) from a shared countdown, then send one 0 each; a consumer stops at
/// the first 0 it receives. (Go's `localWork` is 0 in these three.)
pub fn chan_prod_cons<C: Contender>(
    rt: &C,
    cap: usize,
    procs: usize,
    ops: u64,
) -> Result<Measurement, String> {
    let batches = ops / CALLS_PER_SCHED;
    let remaining = Arc::new(AtomicI64::new(batches as i64));
    let (tx, rx) = gort::chan::bounded::<u64>(cap);

    let start = Instant::now();
    let mut tasks = Vec::with_capacity(2 * procs);
    for _ in 0..procs {
        let (tx, remaining) = (tx.clone(), remaining.clone());
        tasks.push(rt.spawn_remote(async move {
            while remaining.fetch_sub(1, AcqRel) > 0 {
                for _ in 0..CALLS_PER_SCHED {
                    send_one(&tx, 1, "ChanProdCons").await?;
                }
            }
            send_one(&tx, 0, "ChanProdCons").await?;
            Ok(0)
        }));
        let rx = rx.clone();
        tasks.push(rt.spawn_remote(async move {
            let mut sum = 0u64;
            loop {
                match recv_one(&rx, "ChanProdCons").await? {
                    0 => break,
                    v => sum += v,
                }
            }
            Ok(sum)
        }));
    }
    drop((tx, rx));
    let sum = rt.block_on(join_sum::<C>(tasks))?;
    let elapsed = start.elapsed();

    check(
        &format!("ChanProdCons{cap} (sum received)"),
        sum,
        batches * CALLS_PER_SCHED,
    )?;
    Ok(Measurement::PerOp { elapsed, ops })
}

/// Takes up to [`GRAIN`] of `ops` from `taken` (Go's `pb.Next` batching);
/// 0 when all are taken.
fn grab(taken: &AtomicU64, ops: u64) -> u64 {
    let before = taken.fetch_add(GRAIN, Relaxed);
    ops.saturating_sub(before).min(GRAIN)
}

/// One task of ChanUncontended/ChanContended: per op, [`BURST`] sends of 1,
/// then [`BURST`] receives. Returns the sum received.
async fn burst_loop(
    tx: gort::chan::Sender<u64>,
    rx: gort::chan::Receiver<u64>,
    taken: Arc<AtomicU64>,
    ops: u64,
    what: &'static str,
) -> Result<u64, String> {
    let mut got = 0u64;
    loop {
        let n = grab(&taken, ops);
        if n == 0 {
            return Ok(got);
        }
        for _ in 0..n {
            for _ in 0..BURST {
                send_one(&tx, 1, what).await?;
            }
            for _ in 0..BURST {
                got += recv_one(&rx, what).await?;
            }
        }
    }
}

/// ChanUncontended (`b.RunParallel`, `procs` tasks): each task has its own
/// channel of [`BURST`]; per op it sends [`BURST`] values, then receives them.
pub fn chan_uncontended<C: Contender>(
    rt: &C,
    procs: usize,
    ops: u64,
) -> Result<Measurement, String> {
    let taken = Arc::new(AtomicU64::new(0));
    let channels: Vec<_> = (0..procs)
        .map(|_| gort::chan::bounded::<u64>(BURST))
        .collect();

    let start = Instant::now();
    let tasks: Vec<_> = channels
        .into_iter()
        .map(|(tx, rx)| rt.spawn_remote(burst_loop(tx, rx, taken.clone(), ops, "ChanUncontended")))
        .collect();
    let got = rt.block_on(join_sum::<C>(tasks))?;
    let elapsed = start.elapsed();

    check("ChanUncontended (values received)", got, ops * BURST as u64)?;
    Ok(Measurement::PerOp { elapsed, ops })
}

/// ChanContended (`b.RunParallel`, `procs` tasks): as ChanUncontended, but
/// all tasks share one channel of [`BURST`] x `procs`.
pub fn chan_contended<C: Contender>(rt: &C, procs: usize, ops: u64) -> Result<Measurement, String> {
    let taken = Arc::new(AtomicU64::new(0));
    let (tx, rx) = gort::chan::bounded::<u64>(BURST * procs);

    let start = Instant::now();
    let tasks: Vec<_> = (0..procs)
        .map(|_| {
            rt.spawn_remote(burst_loop(
                tx.clone(),
                rx.clone(),
                taken.clone(),
                ops,
                "ChanContended",
            ))
        })
        .collect();
    drop((tx, rx));
    let got = rt.block_on(join_sum::<C>(tasks))?;
    let elapsed = start.elapsed();

    check("ChanContended (values received)", got, ops * BURST as u64)?;
    Ok(Measurement::PerOp { elapsed, ops })
}

/// SelectUncontended (`b.RunParallel`, `procs` tasks): each task has two
/// channels of 1 with one value between them; per op one select takes it
/// from whichever holds it and puts it in the other.
pub fn select_uncontended<C: Contender>(
    rt: &C,
    procs: usize,
    ops: u64,
) -> Result<Measurement, String> {
    let taken = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..procs)
        .map(|_| {
            let taken = taken.clone();
            rt.spawn_remote(async move {
                let (tx1, rx1) = gort::chan::bounded::<u64>(1);
                let (tx2, rx2) = gort::chan::bounded::<u64>(1);
                send_one(&tx1, 0, "SelectUncontended").await?;
                let mut done = 0u64;
                loop {
                    let n = grab(&taken, ops);
                    if n == 0 {
                        break;
                    }
                    for _ in 0..n {
                        gort::select! {
                            v = rx1.recv() => {
                                v.map_err(|_| "SelectUncontended: closed".to_string())?;
                                send_one(&tx2, 0, "SelectUncontended").await?;
                            }
                            v = rx2.recv() => {
                                v.map_err(|_| "SelectUncontended: closed".to_string())?;
                                send_one(&tx1, 0, "SelectUncontended").await?;
                            }
                        }
                        done += 1;
                    }
                }
                // The one value is still there, in the channel the parity
                // of `done` says.
                let (full, empty) = if done.is_multiple_of(2) {
                    (&rx1, &rx2)
                } else {
                    (&rx2, &rx1)
                };
                if full.len() != 1 || !empty.is_empty() {
                    return Err("SelectUncontended: the value is in the wrong channel".to_string());
                }
                Ok(done)
            })
        })
        .collect();
    let done = rt.block_on(join_sum::<C>(tasks))?;
    let elapsed = start.elapsed();

    check("SelectUncontended (selects done)", done, ops)?;
    Ok(Measurement::PerOp { elapsed, ops })
}

/// Go's "local work" in SelectProdCons: 100 rounds of `foo *= 2; foo /= 2`.
fn local_work(work: &mut u64) {
    for _ in 0..100 {
        *work = std::hint::black_box(*work * 2) / 2;
    }
}

/// SelectProdCons: `procs` producers and `procs` consumers share one
/// channel of 128. Every send and receive is a select with two more arms
/// that never fire (an hour's timer, Go's `time.After(time.Hour)`, and a
/// never-closed channel); each side does Go's local work per operation. Producers take
/// batches of [`CALLS_PER_SCHED`] from a shared countdown, then send one 0
/// each; a consumer stops at the first 0.
pub fn select_prod_cons<C: Contender>(
    rt: &C,
    procs: usize,
    ops: u64,
) -> Result<Measurement, String> {
    let batches = ops / CALLS_PER_SCHED;
    let remaining = Arc::new(AtomicI64::new(batches as i64));
    let (tx, rx) = gort::chan::bounded::<u64>(128);
    let (close_tx, close_rx) = gort::chan::bounded::<()>(0);

    let start = Instant::now();
    let mut tasks = Vec::with_capacity(2 * procs);
    for _ in 0..procs {
        let (tx, remaining, myclose) = (tx.clone(), remaining.clone(), close_rx.clone());
        tasks.push(rt.spawn_remote(async move {
            let mytimer = gort::time::sleep(std::time::Duration::from_secs(3600));
            let mut mytimer = std::pin::pin!(mytimer);
            let mut work = 0u64;
            while remaining.fetch_sub(1, AcqRel) > 0 {
                for _ in 0..CALLS_PER_SCHED {
                    local_work(&mut work);
                    gort::select! {
                        r = tx.send(1) => r.map_err(|_| "SelectProdCons: closed".to_string())?,
                        _ = mytimer.as_mut() => return Err("SelectProdCons: timer fired".to_string()),
                        _ = myclose.recv() => return Err("SelectProdCons: closed".to_string()),
                    }
                }
            }
            send_one(&tx, 0, "SelectProdCons").await?;
            Ok(work)
        }));
        let (rx, myclose) = (rx.clone(), close_rx.clone());
        tasks.push(rt.spawn_remote(async move {
            let mytimer = gort::time::sleep(std::time::Duration::from_secs(3600));
            let mut mytimer = std::pin::pin!(mytimer);
            let mut work = 0u64;
            let mut sum = 0u64;
            loop {
                gort::select! {
                    v = rx.recv() => match v {
                        Ok(0) => break,
                        Ok(v) => sum += v,
                        Err(_) => return Err("SelectProdCons: closed".to_string()),
                    },
                    _ = mytimer.as_mut() => return Err("SelectProdCons: timer fired".to_string()),
                    _ = myclose.recv() => return Err("SelectProdCons: closed".to_string()),
                }
                local_work(&mut work);
            }
            Ok(sum + work)
        }));
    }
    drop((tx, rx, close_rx));
    let sum = rt.block_on(join_sum::<C>(tasks))?;
    let elapsed = start.elapsed();
    drop(close_tx);

    check(
        "SelectProdCons (sum received)",
        sum,
        batches * CALLS_PER_SCHED,
    )?;
    Ok(Measurement::PerOp { elapsed, ops })
}

/// One of Go's benchmarks: its name (without `Benchmark`), its `b.N` at
/// full and quick size, and what one op is.
#[derive(Debug, Clone, Copy)]
pub struct GoBenchmark {
    /// Go's name without `Benchmark`, e.g. `ChanSync`.
    pub name: &'static str,
    /// `b.N` of a full-size run.
    pub ops: u64,
    /// `b.N` under `--quick`.
    pub ops_quick: u64,
    /// One line: what one run does.
    pub description: &'static str,
}

impl GoBenchmark {
    /// `b.N` for `p`.
    pub fn ops(&self, p: &Params) -> u64 {
        p.size(self.ops, self.ops_quick)
    }

    /// One run on gort's channels on `rt`, with `p.workers` as GOMAXPROCS.
    pub fn run_gort<C: Contender>(&self, rt: &C, p: &Params) -> Result<Measurement, String> {
        let ops = self.ops(p);
        match self.name {
            "ChanSync" => chan_sync(rt, ops),
            "ChanProdCons0" => chan_prod_cons(rt, 0, p.workers, ops),
            "ChanProdCons10" => chan_prod_cons(rt, 10, p.workers, ops),
            "ChanProdCons100" => chan_prod_cons(rt, 100, p.workers, ops),
            "ChanUncontended" => chan_uncontended(rt, p.workers, ops),
            "ChanContended" => chan_contended(rt, p.workers, ops),
            "SelectUncontended" => select_uncontended(rt, p.workers, ops),
            "SelectProdCons" => select_prod_cons(rt, p.workers, ops),
            other => Err(format!("no gort version of Go's Benchmark{other}")),
        }
    }
}

/// The mirrored benchmarks, in report order.
pub const BENCHMARKS: &[GoBenchmark] = &[
    GoBenchmark {
        name: "ChanSync",
        ops: 1_000_000,
        ops_quick: 20_000,
        description:
            "2 tasks ping-pong over an unbuffered channel, batches of 1,000 from a shared countdown",
    },
    GoBenchmark {
        name: "ChanProdCons0",
        ops: 1_000_000,
        ops_quick: 20_000,
        description: "2 producers (batches of 1,000 sends), 2 consumers, unbuffered channel",
    },
    GoBenchmark {
        name: "ChanProdCons10",
        ops: 1_000_000,
        ops_quick: 20_000,
        description: "2 producers (batches of 1,000 sends), 2 consumers, channel of 10",
    },
    GoBenchmark {
        name: "ChanProdCons100",
        ops: 1_000_000,
        ops_quick: 20_000,
        description: "2 producers (batches of 1,000 sends), 2 consumers, channel of 100",
    },
    GoBenchmark {
        name: "ChanUncontended",
        ops: 20_000,
        ops_quick: 1_000,
        description: "2 tasks, each its own channel of 100; per op 100 sends then 100 receives",
    },
    GoBenchmark {
        name: "ChanContended",
        ops: 20_000,
        ops_quick: 1_000,
        description: "2 tasks share one channel of 200; per op 100 sends then 100 receives",
    },
    GoBenchmark {
        name: "SelectUncontended",
        ops: 1_000_000,
        ops_quick: 20_000,
        description: "2 tasks, each moving one value between its two channels of 1 with a select",
    },
    GoBenchmark {
        name: "SelectProdCons",
        ops: 1_000_000,
        ops_quick: 20_000,
        description:
            "2 producers, 2 consumers, channel of 128; every op a 3-arm select + local work",
    },
];

fn gort_cell(bench: GoBenchmark, on_tokio: bool) -> Option<Cell> {
    cell(move |env, p| {
        if on_tokio {
            bench.run_gort(&env.tokio, p)
        } else {
            bench.run_gort(&env.gort, p)
        }
    })
}

fn go_cell(bench: GoBenchmark) -> Option<Cell> {
    cell(move |env, p| env.go(bench.name)?.run(bench.name, bench.ops(p), p.workers))
}

/// The suite `chan/go/<Benchmark>`: gort's channels on gort's runtime, Go,
/// and gort's channels on tokio for reference.
pub fn suite() -> Suite {
    let rows = BENCHMARKS
        .iter()
        .map(|&bench| Workload {
            name: format!("chan/go/{}", bench.name),
            description: format!(
                "{} (b.N = {}, {} under --quick)",
                bench.description,
                thousands(bench.ops),
                thousands(bench.ops_quick)
            ),
            unit: Unit::PerOp,
            goal: None,
            cells: vec![
                gort_cell(bench, false),
                go_cell(bench),
                gort_cell(bench, true),
            ],
        })
        .collect();
    Suite {
        title: "chan/go: Go's runtime/chan_test.go channel benchmarks, ns/op".to_string(),
        about: vec![
            "ns/op = run time / b.N, as Go's testing.B; b.N is the same on every column \
             (1,000,000 for ChanSync, ChanProdCons* and Select*, 20,000 for ChanUncontended \
             and ChanContended, whose op is 100 sends + 100 receives); 2 workers / GOMAXPROCS=2."
                .to_string(),
            "SelectProdCons: Go's never-firing time.After(time.Hour) arm is a \
             gort::time::sleep of an hour in the gort version, made once per task."
                .to_string(),
        ],
        columns: vec![
            Column::new(
                "gort",
                true,
                "gort::chan on gort's runtime (2 workers), benches/src/workload/go_chan.rs",
            ),
            Column::new(
                GO,
                true,
                "benches/go/chan_test.go, the same b.N, -test.cpu 2 (GOMAXPROCS=2)",
            ),
            Column::new(
                "gort (tokio rt)",
                false,
                "gort::chan on tokio's runtime (2 workers)",
            ),
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
    use crate::workload::with_deadline;

    fn params() -> Params {
        Params {
            workers: 2,
            quick: true,
        }
    }

    #[test]
    fn every_benchmark_passes_its_checks_on_both_runtimes() {
        with_deadline("Go's benchmarks on gort's channels", || {
            let gort = Gort::build(2).unwrap();
            let tokio = Tokio::build(2).unwrap();
            for bench in BENCHMARKS {
                for m in [
                    bench.run_gort(&gort, &params()),
                    bench.run_gort(&tokio, &params()),
                ] {
                    let m = m.unwrap_or_else(|e| panic!("{}: {e}", bench.name));
                    assert!(
                        matches!(m, Measurement::PerOp { ops, .. } if ops == bench.ops_quick),
                        "{}: {m:?}",
                        bench.name
                    );
                }
            }
        });
    }

    #[test]
    fn grab_hands_out_every_op_once() {
        let taken = AtomicU64::new(0);
        let mut total = 0;
        loop {
            let n = grab(&taken, 100);
            if n == 0 {
                break;
            }
            assert!(n <= GRAIN);
            total += n;
        }
        assert_eq!(total, 100);
        assert_eq!(grab(&taken, 100), 0);
    }

    #[test]
    fn sizes_fit_go_batching() {
        for b in BENCHMARKS {
            for ops in [b.ops, b.ops_quick] {
                if b.name == "ChanSync" {
                    assert_eq!(ops % (CALLS_PER_SCHED * SYNC_PROCS), 0, "{}", b.name);
                } else if b.name.contains("ProdCons") {
                    assert_eq!(ops % CALLS_PER_SCHED, 0, "{}", b.name);
                }
            }
        }
        let s = suite();
        assert_eq!(s.rows.len(), BENCHMARKS.len());
        assert_eq!(s.column(GO), Some(1));
    }
}
