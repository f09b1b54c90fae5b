//! Timer workloads (the reactor issue): many sleeping tasks, and many
//! timeouts created and cancelled. Each runtime uses its own timer
//! (`gort::time`, `tokio::time`).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::contender::{join, Contender, Params};
use crate::stats::Measurement;

/// Tasks of `timers_sleep_many` (full size).
pub const SLEEPERS: usize = 1_000_000;
/// Under `--quick`.
pub const SLEEPERS_QUICK: usize = 10_000;
/// Timeouts of `timers_timeout_cancel` (full size).
pub const TIMEOUTS: usize = 1_000_000;
/// Under `--quick`.
pub const TIMEOUTS_QUICK: usize = 10_000;

/// The sleep of task `i`: 0-10 ms, spread evenly and deterministically.
pub fn sleep_of(i: usize) -> Duration {
    Duration::from_millis(((i.wrapping_mul(7919)) % 11) as u64)
}

/// From inside a root task, spawn `SLEEPERS` tasks that each sleep 0-10 ms
/// on the runtime's timer and count themselves; the last one signals. Each
/// checks it did not wake before its deadline.
pub fn sleep_many<C: Contender>(rt: &C, p: &Params) -> Result<Measurement, String> {
    let n = p.size(SLEEPERS, SLEEPERS_QUICK);
    let done = Arc::new(AtomicUsize::new(0));
    let early = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::sync_channel::<()>(1);

    let start = Instant::now();
    let root = {
        let (done, early) = (done.clone(), early.clone());
        rt.spawn_remote(async move {
            for i in 0..n {
                let (done, early, tx) = (done.clone(), early.clone(), tx.clone());
                drop(C::spawn(async move {
                    let d = sleep_of(i);
                    let deadline = Instant::now() + d;
                    C::sleep(d).await;
                    if Instant::now() < deadline {
                        early.fetch_add(1, Relaxed);
                    }
                    if done.fetch_add(1, Relaxed) + 1 == n {
                        tx.send(()).expect("bench thread stopped waiting");
                    }
                }));
            }
        })
    };
    rx.recv()
        .map_err(|_| "timers_sleep_many: no completion signal".to_string())?;
    let elapsed = start.elapsed();
    rt.block_on(join::<C, _>(root))?;

    let early = early.load(Relaxed);
    if early != 0 {
        return Err(format!(
            "timers_sleep_many: {early} sleeps woke before their deadline"
        ));
    }
    Ok(Measurement::Time(elapsed))
}

/// Pending on its first poll (waking itself), ready on the second: makes a
/// timeout register its timer, then complete and cancel it.
struct PendingOnce(bool);

impl Future for PendingOnce {
    type Output = u64;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        if self.0 {
            Poll::Ready(1)
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// One task per worker creates `TIMEOUTS / workers` timeouts of 1 s, one
/// after the other, around a future that completes on its second poll: each
/// timeout registers its timer and cancels it. All joined; the count checked.
pub fn timeout_cancel<C: Contender>(rt: &C, p: &Params) -> Result<Measurement, String> {
    let n = p.size(TIMEOUTS, TIMEOUTS_QUICK);
    let tasks = p.workers.max(1);
    let per = n / tasks;

    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            rt.spawn_remote(async move {
                let mut sum = 0u64;
                for _ in 0..per {
                    match C::timeout(Duration::from_secs(1), PendingOnce(false)).await {
                        Ok(v) => sum += v,
                        Err(()) => return Err("a 1 s timeout elapsed".to_string()),
                    }
                }
                Ok(sum)
            })
        })
        .collect();
    let sum = rt.block_on(async {
        let mut sum = 0;
        for h in handles {
            sum += join::<C, _>(h).await??;
        }
        Ok::<_, String>(sum)
    })?;
    let elapsed = start.elapsed();
    if sum != (per * tasks) as u64 {
        return Err(format!(
            "timers_timeout_cancel: {sum} timeouts completed, expected {}",
            per * tasks
        ));
    }
    Ok(Measurement::Time(elapsed))
}
