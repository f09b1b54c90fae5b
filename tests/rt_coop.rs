//! The cooperative budget on the gort runtime (issue 11): a task whose
//! operations are always ready still yields, so a task queued behind it on
//! the same (only) worker runs; `gort::task::unconstrained` opts out; the
//! budget is per poll; `select!` still commits exactly one arm; no value is
//! lost by an operation that yields for the budget.
//!
//! Every body runs under the 120 s watchdog (a hang detector). The one
//! wall-clock bound is the "runs within 10 ms", next to an
//! iteration-count bound that does not depend on the machine's speed.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

mod common;
use common::{runtime, watchdog};

const GREEDY_ITERATIONS: u64 = 1_000_000;

/// Runs `greedy` (a loop that never waits; it gets the flag and returns
/// how many iterations it ran before it first saw the flag set) in a task
/// on a 1-worker runtime, after spawning a task that sets the flag. That
/// spawn lands in the worker's LIFO slot, which nobody else can take:
/// only the budget lets it run before the loop ends. Returns (iterations
/// before the flag, time from the loop's start to the flag's task).
fn spawned_task_runs_during<F, Fut>(name: &'static str, greedy: F) -> (u64, Duration)
where
    F: FnOnce(Arc<AtomicBool>) -> Fut + Send + 'static,
    Fut: Future<Output = u64> + Send + 'static,
{
    watchdog(name, move || {
        let rt = runtime(1, name);
        rt.block_on(rt.spawn(async move {
            let ran = Arc::new(AtomicBool::new(false));
            let ran_at = Arc::new(Mutex::new(None::<Instant>));
            let (r, at) = (ran.clone(), ran_at.clone());
            gort::spawn(async move {
                *at.lock().unwrap() = Some(Instant::now());
                r.store(true, SeqCst);
            });
            let start = Instant::now();
            let seen_after = greedy(ran).await;
            let ran_at = ran_at.lock().unwrap().expect("the spawned task never ran");
            (seen_after, ran_at.saturating_duration_since(start))
        }))
        .unwrap()
    })
}

/// The test: one worker, a task loops `send; recv` on a buffered
/// channel 10^6 times without ever waiting; a task spawned before the loop
/// runs within 10 ms (and before 1% of the loop).
#[test]
fn greedy_channel_loop_lets_a_task_spawned_before_it_run() {
    let (seen_after, took) = spawned_task_runs_during("coop-chan", |ran| async move {
        let (tx, rx) = gort::chan::bounded::<u64>(16);
        let mut seen_after = None;
        for i in 0..GREEDY_ITERATIONS {
            tx.send(i).await.unwrap();
            assert_eq!(rx.recv().await, Ok(i));
            if seen_after.is_none() && ran.load(SeqCst) {
                seen_after = Some(i);
            }
        }
        seen_after.unwrap_or(GREEDY_ITERATIONS)
    });
    assert!(
        seen_after < GREEDY_ITERATIONS / 100,
        "the spawned task ran only after {seen_after} of {GREEDY_ITERATIONS} iterations"
    );
    assert!(
        took < Duration::from_millis(10),
        "the spawned task ran {took:?} after the loop started"
    );
}

/// The same with other always-ready operations: elapsed sleeps, an
/// uncontended mutex, a semaphore with permits, a WaitGroup at zero, a UDP
/// socket talking to itself.
#[test]
fn other_always_ready_operations_yield_too() {
    const N: u64 = 100_000;
    let bound = N / 10;
    let (seen, _) = spawned_task_runs_during("coop-sleep", |ran| async move {
        let mut i = 0;
        while i < N && !ran.load(SeqCst) {
            gort::time::sleep(Duration::ZERO).await;
            i += 1;
        }
        i
    });
    assert!(seen < bound, "sleep(0): {seen}");
    let (seen, _) = spawned_task_runs_during("coop-sync", |ran| async move {
        let m = gort::sync::Mutex::new(0u64);
        let sem = gort::sync::Semaphore::new(1);
        let wg = gort::sync::WaitGroup::new();
        let mut i = 0;
        while i < N && !ran.load(SeqCst) {
            *m.lock().await += 1;
            drop(sem.acquire(1).await);
            wg.wait().await;
            i += 1;
        }
        i
    });
    assert!(seen < bound, "mutex, semaphore, wait group: {seen}");
    let (seen, _) = spawned_task_runs_during("coop-udp", |ran| async move {
        let s = gort::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.connect(s.local_addr().unwrap()).await.unwrap();
        let mut buf = [0u8; 8];
        let mut i = 0;
        while i < N && !ran.load(SeqCst) {
            s.send(&i.to_le_bytes()).await.unwrap();
            assert_eq!(s.recv(&mut buf).await.unwrap(), 8);
            assert_eq!(u64::from_le_bytes(buf), i);
            i += 1;
        }
        i
    });
    assert!(seen < bound, "udp: {seen}");
}

/// `unconstrained` opts out: on one worker, the task spawned before the
/// loop does not run until the loop ends. (Kept short, 10,000 iterations,
/// so that it stays inside one poll of a few milliseconds.)
#[test]
fn unconstrained_loop_keeps_its_worker() {
    let ran_during = watchdog("coop-unconstrained", || {
        // sysmon would hand the processor to another thread if the loop
        // ran longer than the blocking threshold (a slow machine): that
        // is not what this test looks at.
        let rt = gort::runtime::Builder::new()
            .worker_threads(1)
            .thread_name("coop-unconstrained")
            .blocking_threshold(std::time::Duration::from_secs(60))
            .build()
            .unwrap();
        rt.block_on(rt.spawn(async {
            let ran = Arc::new(AtomicBool::new(false));
            let r = ran.clone();
            gort::spawn(async move { r.store(true, SeqCst) });
            let ran_during = gort::task::unconstrained(async {
                let (tx, rx) = gort::chan::bounded::<u64>(16);
                let mut ran_during = false;
                for i in 0..10_000 {
                    tx.send(i).await.unwrap();
                    assert_eq!(rx.recv().await, Ok(i));
                    ran_during |= ran.load(SeqCst);
                }
                ran_during
            })
            .await;
            // Once the loop is over, the first wait lets it run.
            while !ran.load(SeqCst) {
                gort::yield_now().await;
            }
            ran_during
        }))
        .unwrap()
    });
    assert!(!ran_during, "unconstrained still yielded");
}

/// Ready receives on `rx` in one poll until one says `Pending` (the budget),
/// `polls` times; the count of each poll. Ends with the last poll.
async fn ready_runs(rx: &gort::chan::Receiver<u64>, polls: usize) -> Vec<usize> {
    let mut counts = Vec::new();
    std::future::poll_fn(|cx| {
        let mut n = 0;
        loop {
            let mut recv = pin!(rx.recv());
            match recv.as_mut().poll(cx) {
                Poll::Ready(v) => {
                    v.unwrap();
                    n += 1;
                }
                Poll::Pending => break,
            }
        }
        counts.push(n);
        if counts.len() == polls {
            Poll::Ready(())
        } else {
            Poll::Pending // woken by the budget
        }
    })
    .await;
    counts
}

/// Each poll of each task starts with the whole budget: a task that leaves
/// part of its budget (or none) does not hand the rest to the next task,
/// and `block_on` has its own.
#[test]
fn the_budget_is_per_poll_and_does_not_leak_across_tasks() {
    let counts = watchdog("coop-leak", || {
        let rt = runtime(1, "coop-leak");
        // Enough values for every poll below to run out of its slice
        // before it runs out of values.
        let (tx, rx) = gort::chan::unbounded::<u64>();
        for i in 0..4_000_000 {
            tx.try_send(i).unwrap();
        }
        let rx = Arc::new(rx);
        let counts = rt.block_on(rt.spawn({
            let rx = rx.clone();
            async move {
                // A neighbour that spends 100 units (of `BUDGET`) per poll, and
                // then one that spends everything, interleaved with the
                // recording task on the one worker.
                let partial = gort::spawn({
                    let rx = rx.clone();
                    async move {
                        for _ in 0..50 {
                            for _ in 0..100 {
                                rx.recv().await.unwrap();
                            }
                            gort::yield_now().await;
                        }
                    }
                });
                let spender = gort::spawn({
                    let rx = rx.clone();
                    async move { ready_runs(&rx, 50).await }
                });
                let mine = ready_runs(&rx, 50).await;
                partial.await.unwrap();
                let theirs = spender.await.unwrap();
                [mine, theirs].concat()
            }
        }));
        let from_block_on = rt.block_on(ready_runs(&rx, 5));
        [counts.unwrap(), from_block_on].concat()
    });
    // A fresh budget runs out at a look at the clock (a multiple of
    // `BUDGET` units), never at the first one (it starts the slice): a
    // poll that inherited units left over, or a slice already started,
    // would stop elsewhere.
    let budget = gort_coop::BUDGET as usize;
    assert!(
        counts.iter().all(|&n| n >= 2 * budget && n % budget == 0),
        "polls that did not get a whole budget and slice: {counts:?}"
    );
}

/// `select!` over two always-ready receive arms and an always-ready send
/// arm, 10^5 times on one worker: the budget makes it yield (the observer
/// task runs meanwhile), and every value is received exactly once, every
/// send that won was delivered once, and none that lost was.
#[test]
fn select_keeps_exactly_once_under_the_budget() {
    const N: u64 = 100_000;
    let (picked, sent, left_a, left_b, delivered, observed) = watchdog("coop-select", || {
        let rt = runtime(1, "coop-select");
        rt.block_on(rt.spawn(async {
            let (a_tx, a_rx) = gort::chan::unbounded::<u64>();
            let (b_tx, b_rx) = gort::chan::unbounded::<u64>();
            let (out_tx, out_rx) = gort::chan::unbounded::<u64>();
            for i in 0..N {
                a_tx.try_send(i).unwrap();
                b_tx.try_send(N + i).unwrap();
            }
            let stop = Arc::new(AtomicBool::new(false));
            let observed = Arc::new(AtomicU64::new(0));
            let observer = gort::spawn({
                let (stop, observed) = (stop.clone(), observed.clone());
                async move {
                    while !stop.load(SeqCst) {
                        observed.fetch_add(1, SeqCst);
                        gort::yield_now().await;
                    }
                }
            });
            let mut picked = Vec::new();
            let mut sent = Vec::new();
            for i in 0..N {
                gort::select! {
                    v = a_rx.recv() => picked.push(v.unwrap()),
                    v = b_rx.recv() => picked.push(v.unwrap()),
                    r = out_tx.send(2 * N + i) => {
                        r.unwrap();
                        sent.push(2 * N + i);
                    }
                }
            }
            stop.store(true, SeqCst);
            observer.await.unwrap();
            let left_a: Vec<u64> = std::iter::from_fn(|| a_rx.try_recv().ok()).collect();
            let left_b: Vec<u64> = std::iter::from_fn(|| b_rx.try_recv().ok()).collect();
            let delivered: Vec<u64> = std::iter::from_fn(|| out_rx.try_recv().ok()).collect();
            (
                picked,
                sent,
                left_a,
                left_b,
                delivered,
                observed.load(SeqCst),
            )
        }))
        .unwrap()
    });
    assert_eq!(picked.len() + sent.len(), N as usize, "one arm per select");
    assert!(observed > 0, "the select never yielded to the observer");
    // Every value of a and b exactly once: picked or still in its channel.
    let mut all: Vec<u64> = picked
        .iter()
        .chain(&left_a)
        .chain(&left_b)
        .copied()
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..2 * N).collect::<Vec<_>>());
    // FIFO per channel among the picked ones.
    let from_a: Vec<u64> = picked.iter().copied().filter(|&v| v < N).collect();
    assert!(from_a.windows(2).all(|w| w[0] < w[1]));
    // Every send arm that won was delivered once; no other send was.
    assert_eq!(delivered, sent);
}

/// A producer and a consumer on one worker, both greedy on a buffered
/// channel (each yields for the budget with the channel still ready):
/// 10^6 values arrive exactly once and in order.
#[test]
fn no_value_is_lost_when_operations_yield_for_the_budget() {
    const N: u64 = 1_000_000;
    let (received, sum) = watchdog("coop-lossless", || {
        let rt = runtime(1, "coop-lossless");
        rt.block_on(rt.spawn(async {
            let (tx, rx) = gort::chan::bounded::<u64>(1024);
            let producer = gort::spawn(async move {
                for i in 0..N {
                    tx.send(i).await.unwrap();
                }
            });
            let mut next = 0;
            let mut sum = 0;
            while let Ok(v) = rx.recv().await {
                assert_eq!(v, next, "out of order or lost");
                next += 1;
                sum += v;
            }
            producer.await.unwrap();
            (next, sum)
        }))
        .unwrap()
    });
    assert_eq!(received, N);
    assert_eq!(sum, N * (N - 1) / 2);
}

/// A `timeout` around a future that is always ready (and so spends the
/// budget every poll) still times out.
#[test]
fn a_timeout_around_an_always_ready_future_fires() {
    let iterations = watchdog("coop-timeout", || {
        let rt = runtime(1, "coop-timeout");
        rt.block_on(rt.spawn(async {
            let (tx, rx) = gort::chan::bounded::<u64>(16);
            let count = AtomicUsize::new(0);
            let r = gort::time::timeout(Duration::from_millis(20), async {
                loop {
                    tx.send(1).await.unwrap();
                    rx.recv().await.unwrap();
                    count.fetch_add(1, SeqCst);
                }
            })
            .await;
            assert!(r.is_err());
            count.load(SeqCst)
        }))
        .unwrap()
    });
    assert!(iterations > 0);
}

/// A finished task's `JoinHandle` polled with the budget spent says
/// `Pending` (waking its task) and keeps the output for the next poll.
#[test]
fn a_join_handle_yields_for_the_budget_and_keeps_the_output() {
    let polls = watchdog("coop-join", || {
        let rt = runtime(1, "coop-join");
        rt.block_on(rt.spawn(async {
            let h = gort::spawn(async { 42 });
            while !h.is_finished() {
                gort::yield_now().await;
            }
            let mut h = pin!(h);
            let mut polls = 0;
            let v = std::future::poll_fn(|cx| {
                polls += 1;
                if polls == 1 {
                    // Spend the budget, as a greedy loop would.
                    while let Poll::Ready(p) = gort_coop::poll_proceed(cx) {
                        p.made_progress();
                    }
                    assert!(h.as_mut().poll(cx).is_pending());
                    return Poll::Pending; // the handle woke the task
                }
                h.as_mut().poll(cx)
            })
            .await;
            assert_eq!(v.unwrap(), 42);
            polls
        }))
        .unwrap()
    });
    assert_eq!(polls, 2);
}
