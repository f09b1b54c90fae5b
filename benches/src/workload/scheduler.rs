//! Scheduler workloads, after tokio's `benches/rt_multi_threaded.rs`.
//!
//! Each function performs one run on one contender and checks its result
//! (counts, sums, signals) before returning the elapsed time; a wrong result
//! returns an error message instead. Setup that is not part of the workload
//! (vectors for handles, channels, busy tasks) happens before the clock
//! starts, and clean-up (joining detached roots, stopping busy tasks) after
//! it stops.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use futures::channel::oneshot;

use crate::contender::{join, Contender, Params};
use crate::stats::Measurement;

/// Tasks spawned by the `spawn_many_*` workloads (full size).
pub const NUM_SPAWN: usize = 10_000;
/// Tasks spawned by the `spawn_many_*` workloads under `--quick`.
pub const NUM_SPAWN_QUICK: usize = 1_000;
/// How long a busy task of `spawn_many_remote_busy` spins between yields (tokio's `STALL_DUR`).
pub const STALL: Duration = Duration::from_micros(10);

/// Waits on the bench thread for the completion signal of detached tasks.
fn wait_signal<T>(rx: &mpsc::Receiver<T>, what: &str) -> Result<T, String> {
    rx.recv()
        .map_err(|_| format!("{what}: every task finished without sending the completion signal"))
}

fn check_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{what}: wrong result: got {got:?}, expected {want:?}"
        ))
    }
}

/// Inside a task, spawn `NUM_SPAWN` tasks that each bump an atomic; the one
/// that brings the count to `NUM_SPAWN` signals the bench thread.
pub fn spawn_many_local<C: Contender>(rt: &C, p: &Params) -> Result<Measurement, String> {
    let n = p.size(NUM_SPAWN, NUM_SPAWN_QUICK);
    let bumped = Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = mpsc::sync_channel::<()>(1);

    let start = Instant::now();
    let root = {
        let bumped = bumped.clone();
        rt.spawn_remote(async move {
            for _ in 0..n {
                let bumped = bumped.clone();
                let done_tx = done_tx.clone();
                drop(C::spawn(async move {
                    if bumped.fetch_add(1, Relaxed) + 1 == n {
                        done_tx.send(()).expect("bench thread stopped waiting");
                    }
                }));
            }
        })
    };
    wait_signal(&done_rx, "spawn_many_local")?;
    let elapsed = start.elapsed();

    rt.block_on(join::<C, _>(root))?;
    check_eq("spawn_many_local", bumped.load(Relaxed), n)?;
    Ok(Measurement::Time(elapsed))
}

/// From the bench thread (outside the runtime), spawn `n` empty tasks through
/// the handle into a pre-reserved vector, then join them all in `block_on`.
/// Returns the elapsed time.
fn spawn_remote_and_join<C: Contender>(rt: &C, n: usize, what: &str) -> Result<Duration, String> {
    let mut handles = Vec::with_capacity(n);

    let start = Instant::now();
    for _ in 0..n {
        handles.push(rt.spawn_remote(async {}));
    }
    let joined = rt.block_on(async {
        let mut joined = 0usize;
        for handle in handles.drain(..) {
            join::<C, _>(handle).await?;
            joined += 1;
        }
        Ok::<_, String>(joined)
    })?;
    let elapsed = start.elapsed();

    check_eq(what, joined, n)?;
    Ok(elapsed)
}

/// From the bench thread, spawn `NUM_SPAWN` empty tasks via the handle; join all.
pub fn spawn_many_remote_idle<C: Contender>(rt: &C, p: &Params) -> Result<Measurement, String> {
    let n = p.size(NUM_SPAWN, NUM_SPAWN_QUICK);
    spawn_remote_and_join(rt, n, "spawn_many_remote_idle").map(Measurement::Time)
}

/// As [`spawn_many_remote_idle`], while `2 * workers` tasks keep the workers
/// busy: each loops on `yield_now` followed by a [`STALL`] spin until told to
/// stop (tokio's `spawn_many_remote_busy1`). The busy tasks are started (and
/// seen running) before the clock starts, and stopped and joined after it
/// stops, so they never run while another contender is measured.
pub fn spawn_many_remote_busy<C: Contender>(rt: &C, p: &Params) -> Result<Measurement, String> {
    let n = p.size(NUM_SPAWN, NUM_SPAWN_QUICK);
    let busy_tasks = 2 * p.workers;
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));

    let busy: Vec<_> = (0..busy_tasks)
        .map(|_| {
            let stop = stop.clone();
            let started = started.clone();
            rt.spawn_remote(async move {
                started.fetch_add(1, Release);
                let mut rounds = 0u64;
                while !stop.load(Relaxed) {
                    C::yield_now().await;
                    stall(STALL);
                    rounds += 1;
                }
                rounds
            })
        })
        .collect();
    while started.load(Acquire) < busy_tasks {
        std::thread::yield_now();
    }

    let elapsed = spawn_remote_and_join(rt, n, "spawn_many_remote_busy");

    stop.store(true, Relaxed);
    let stopped = rt.block_on(async {
        let mut stopped = 0usize;
        for handle in busy {
            join::<C, _>(handle).await?;
            stopped += 1;
        }
        Ok::<_, String>(stopped)
    })?;
    check_eq("spawn_many_remote_busy (busy tasks)", stopped, busy_tasks)?;
    elapsed.map(Measurement::Time)
}

/// Spins (yielding the thread) for `d`, like tokio's `stall()`.
fn stall(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::thread::yield_now();
    }
}

/// A root task spawns 1,000 pair tasks; each spawns a partner and bounces one
/// message each way with `futures::channel::oneshot` (the same channel type on
/// every runtime). Partners are joined by their pair, pairs by the root, the
/// root by `block_on`. Each pair sends `i` and must get `i + 1` back.
pub fn ping_pong<C: Contender>(rt: &C, p: &Params) -> Result<Measurement, String> {
    let n = p.size(1_000, 200) as u64;

    let start = Instant::now();
    let root = rt.spawn_remote(async move {
        let mut pairs = Vec::with_capacity(n as usize);
        for i in 0..n {
            pairs.push(C::spawn(async move {
                let (ping_tx, ping_rx) = oneshot::channel::<u64>();
                let (pong_tx, pong_rx) = oneshot::channel::<u64>();
                let partner = C::spawn(async move {
                    let ping = ping_rx.await.expect("ping sender dropped");
                    pong_tx.send(ping + 1).expect("pong receiver dropped");
                });
                ping_tx.send(i).expect("ping receiver dropped");
                let pong = pong_rx.await.expect("pong sender dropped");
                join::<C, _>(partner).await?;
                Ok::<u64, String>(pong)
            }));
        }
        let mut sum = 0u64;
        for pair in pairs {
            sum += join::<C, _>(pair).await??;
        }
        Ok::<u64, String>(sum)
    });
    let sum = rt.block_on(join::<C, _>(root))??;
    let elapsed = start.elapsed();

    check_eq("ping_pong (sum of replies)", sum, n * (n + 1) / 2)?;
    Ok(Measurement::Time(elapsed))
}

/// From the bench thread, spawn 200 tasks that each call `yield_now` 1,000
/// times; join all and check the total number of yields.
pub fn yield_many<C: Contender>(rt: &C, p: &Params) -> Result<Measurement, String> {
    const TASKS: usize = 200;
    let yields = p.size(1_000, 100);
    let mut handles = Vec::with_capacity(TASKS);

    let start = Instant::now();
    for _ in 0..TASKS {
        handles.push(rt.spawn_remote(async move {
            let mut done = 0usize;
            for _ in 0..yields {
                C::yield_now().await;
                done += 1;
            }
            done
        }));
    }
    let total = rt.block_on(async {
        let mut total = 0usize;
        for handle in handles.drain(..) {
            total += join::<C, _>(handle).await?;
        }
        Ok::<_, String>(total)
    })?;
    let elapsed = start.elapsed();

    check_eq("yield_many (total yields)", total, TASKS * yields)?;
    Ok(Measurement::Time(elapsed))
}

/// One link of [`chained_spawn`]: spawn the next link, or signal at the end.
pub(crate) fn link<C: Contender>(remaining: usize, hops: usize, done: mpsc::SyncSender<usize>) {
    if remaining == 0 {
        done.send(hops).expect("bench thread stopped waiting");
    } else {
        drop(C::spawn(
            async move { link::<C>(remaining - 1, hops + 1, done) },
        ));
    }
}

/// A chain of 1,000 tasks where each spawns the next; the last signals the
/// bench thread with the number of hops.
pub fn chained_spawn<C: Contender>(rt: &C, p: &Params) -> Result<Measurement, String> {
    let depth = p.size(1_000, 200);
    let (done_tx, done_rx) = mpsc::sync_channel::<usize>(1);

    let start = Instant::now();
    let root = rt.spawn_remote(async move { link::<C>(depth, 0, done_tx) });
    let hops = wait_signal(&done_rx, "chained_spawn")?;
    let elapsed = start.elapsed();

    rt.block_on(join::<C, _>(root))?;
    check_eq("chained_spawn (hops)", hops, depth)?;
    Ok(Measurement::Time(elapsed))
}

/// Leaves of `skynet` (full size): 10 children per node, 6 levels, so
/// 1 + 10 + ... + 10^6 = 1,111,111 tasks.
pub const SKYNET_LEAVES: u64 = 1_000_000;
/// Under `--quick`: 11,111 tasks.
pub const SKYNET_LEAVES_QUICK: u64 = 10_000;

/// One node of skynet: a leaf returns its index; an inner node spawns its
/// 10 children and sums their results.
fn skynet_node<C: Contender>(
    num: u64,
    size: u64,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64, String>> + Send>> {
    Box::pin(async move {
        if size == 1 {
            return Ok(num);
        }
        let child = size / 10;
        let handles: Vec<_> = (0..10)
            .map(|i| C::spawn(skynet_node::<C>(num + i * child, child)))
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += join::<C, _>(h).await??;
        }
        Ok(sum)
    })
}

/// skynet: a tree of 1,111,111 tasks (10 children per node, 6 levels); the
/// leaves return their index and every node sums its children's. Checks
/// the sum, 0 + 1 + ... + 999,999.
pub fn skynet<C: Contender>(rt: &C, p: &Params) -> Result<Measurement, String> {
    let leaves = if p.quick {
        SKYNET_LEAVES_QUICK
    } else {
        SKYNET_LEAVES
    };
    let start = Instant::now();
    let sum = rt.block_on(join::<C, _>(rt.spawn_remote(skynet_node::<C>(0, leaves))))??;
    let elapsed = start.elapsed();
    check_eq(
        "skynet (sum of leaf indices)",
        sum,
        leaves * (leaves - 1) / 2,
    )?;
    Ok(Measurement::Time(elapsed))
}
