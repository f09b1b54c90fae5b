//! `WaitGroup`: the counter, the misuse panic, waiting polled by hand,
//! cancellation, and use from gort, tokio and threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use gort_sync::WaitGroup;
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready};

mod support;
use support::{gort_rt, tokio_rt};

#[test]
fn wait_at_zero_is_ready_at_once() {
    let wg = WaitGroup::new();
    assert_eq!(wg.count(), 0);
    assert_ready!(spawn(wg.wait()).poll());
    wg.wait_blocking();
    wg.add(0);
    assert_ready!(spawn(wg.wait()).poll());
}

#[test]
fn add_done_count() {
    let wg = WaitGroup::default();
    wg.add(3);
    let clone = wg.clone();
    clone.done();
    assert_eq!(wg.count(), 2);
    assert_eq!(format!("{wg:?}"), "WaitGroup { count: 2 }");
}

#[test]
#[should_panic(expected = "negative WaitGroup counter")]
fn done_below_zero_panics() {
    let wg = WaitGroup::new();
    wg.add(1);
    wg.done();
    wg.done();
}

#[test]
fn the_counter_survives_the_misuse_panic() {
    let wg = WaitGroup::new();
    let r = std::panic::catch_unwind(|| wg.done());
    assert!(r.is_err());
    assert_eq!(wg.count(), 0);
    assert_ready!(spawn(wg.wait()).poll());
}

#[test]
#[should_panic(expected = "WaitGroup counter overflow")]
fn add_past_u32_max_panics() {
    let wg = WaitGroup::new();
    wg.add(u32::MAX as usize);
    wg.add(1);
}

/// Waiters park; only the `done` that reaches zero wakes them, all of
/// them.
#[test]
fn the_last_done_wakes_every_waiter() {
    let wg = WaitGroup::new();
    wg.add(2);
    let mut a = spawn(wg.wait());
    let mut b = spawn(wg.wait());
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    wg.done();
    assert!(!a.is_woken() && !b.is_woken());
    assert_pending!(a.poll());
    wg.done();
    assert!(a.is_woken() && b.is_woken());
    assert_ready!(a.poll());
    assert_ready!(b.poll());
}

/// A dropped waiter unregisters; the others are still woken, and the
/// group is reusable.
#[test]
fn dropped_waiter_unregisters() {
    let wg = WaitGroup::new();
    wg.add(1);
    let mut a = spawn(wg.wait());
    let mut b = spawn(wg.wait());
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    drop(a);
    wg.done();
    assert!(b.is_woken());
    assert_ready!(b.poll());

    // Reuse: the dropped waiter left no count behind.
    wg.add(1);
    let mut c = spawn(wg.wait());
    assert_pending!(c.poll());
    wg.done();
    assert_ready!(c.poll());
}

/// A waiter released and dropped before it ran passes nothing on (all
/// were released).
#[test]
fn released_then_dropped_waiter() {
    let wg = WaitGroup::new();
    wg.add(1);
    let mut a = spawn(wg.wait());
    assert_pending!(a.poll());
    wg.done();
    drop(a);
    assert_ready!(spawn(wg.wait()).poll());
}

/// Go's usage: N workers on threads, the main thread in `wait_blocking`;
/// all work is visible after it returns.
#[test]
fn threads() {
    let wg = WaitGroup::new();
    let sum = Arc::new(AtomicUsize::new(0));
    for i in 0..16 {
        wg.add(1);
        let (wg, sum) = (wg.clone(), sum.clone());
        thread::spawn(move || {
            sum.fetch_add(i, Ordering::Relaxed);
            wg.done();
        });
    }
    wg.wait_blocking();
    assert_eq!(sum.load(Ordering::Relaxed), (0..16).sum());
}

/// A 2-worker gort runtime: many tasks, one done each, and several
/// waiters that see all their work.
#[test]
fn tasks_on_gort() {
    let rt = gort_rt();
    let n = 10_000;
    let sum = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let wg = WaitGroup::new();
        wg.add(n);
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let (wg, sum) = (wg.clone(), sum.clone());
                gort::spawn(async move {
                    wg.wait().await;
                    sum.load(Ordering::Relaxed)
                })
            })
            .collect();
        for i in 0..n {
            let (wg, sum) = (wg.clone(), sum.clone());
            gort::spawn(async move {
                sum.fetch_add(i, Ordering::Relaxed);
                wg.done();
            });
        }
        for w in waiters {
            assert_eq!(w.await.unwrap(), (0..n).sum());
        }
    });
}

#[test]
fn tasks_on_tokio() {
    let rt = tokio_rt();
    rt.block_on(async {
        let wg = WaitGroup::new();
        let sum = Arc::new(AtomicUsize::new(0));
        for i in 0..1000 {
            wg.add(1);
            let (wg, sum) = (wg.clone(), sum.clone());
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                sum.fetch_add(i, Ordering::Relaxed);
                wg.done();
            });
        }
        wg.wait().await;
        assert_eq!(sum.load(Ordering::Relaxed), (0..1000).sum());
    });
}
