//! The paused test clock (`Builder::start_paused(true)`,
//! `#[gort::test(start_paused = true)]`, `gort::time::advance`):
//!
//! - an hour-long timeout completes at once, at exactly one virtual hour;
//! - sleeps of 30, 10 and 20 s in three tasks end in deadline order, each
//!   at its virtual instant;
//! - a 1 s interval ticks at exact virtual seconds;
//! - `advance` moves the clock by hand and fires what is due;
//! - a runtime that is not paused keeps real time meanwhile;
//! - blocking work holds the clock still (a timeout around it does not
//!   elapse);
//! - with no timer left, a paused runtime still reports a deadlock;
//! - `advance` outside a paused runtime panics with a clear message.

use std::time::{Duration, Instant};

use gort::runtime::{Builder, OnDeadlock};
use gort::time::{advance, interval, now, sleep, timeout};

const HOUR: Duration = Duration::from_secs(3600);

#[gort::test(start_paused = true)]
async fn an_hour_long_timeout_ends_at_once() {
    let real = Instant::now();
    let start = now();
    let r = timeout(HOUR, std::future::pending::<()>()).await;
    assert!(r.is_err());
    assert_eq!(now() - start, HOUR, "exactly one virtual hour");
    // A bound far above the work, only to show the hour was not waited.
    assert!(real.elapsed() < Duration::from_secs(60));
}

#[gort::test(start_paused = true, worker_threads = 2)]
async fn sleeps_end_in_deadline_order_at_their_instants() {
    let start = now();
    let (tx, rx) = gort::chan::unbounded();
    for secs in [30u64, 10, 20] {
        let tx = tx.clone();
        gort::spawn(async move {
            sleep(Duration::from_secs(secs)).await;
            tx.send((secs, now())).await.unwrap();
        });
    }
    drop(tx);
    let mut got = Vec::new();
    while let Ok((secs, at)) = rx.recv().await {
        got.push((secs, at - start));
    }
    assert_eq!(
        got,
        [10, 20, 30].map(|s| (s, Duration::from_secs(s))).to_vec()
    );
}

#[gort::test(start_paused = true)]
async fn an_interval_ticks_at_exact_virtual_seconds() {
    let start = now();
    let mut ticker = interval(Duration::from_secs(1));
    for k in 1..=5u64 {
        let at = ticker.tick().await;
        assert_eq!(at - start, Duration::from_secs(k));
        assert_eq!(now() - start, Duration::from_secs(k));
    }
}

#[gort::test(start_paused = true)]
async fn advance_moves_the_clock_by_hand() {
    let start = now();
    let nap = gort::spawn(sleep(Duration::from_secs(10)));
    advance(Duration::from_secs(5)).await;
    assert_eq!(now() - start, Duration::from_secs(5));
    assert!(!nap.is_finished(), "woke 5 s early");
    advance(Duration::from_secs(5)).await;
    nap.await.unwrap();
    assert_eq!(now() - start, Duration::from_secs(10));
}

#[test]
fn other_runtimes_keep_real_time() {
    let paused = Builder::new().start_paused(true).build().unwrap();
    let real = Builder::new().worker_threads(1).build().unwrap();
    let real_sleep = std::thread::spawn(move || {
        real.block_on(async {
            let (t0, v0) = (Instant::now(), now());
            sleep(Duration::from_millis(50)).await;
            (t0.elapsed(), now() - v0)
        })
    });
    paused.block_on(async {
        for _ in 0..100 {
            sleep(HOUR).await;
        }
    });
    let (elapsed, on_its_clock) = real_sleep.join().unwrap();
    assert!(elapsed >= Duration::from_millis(50));
    assert!(on_its_clock >= Duration::from_millis(50) && on_its_clock < HOUR);
}

#[gort::test(start_paused = true)]
async fn blocking_work_holds_the_clock() {
    let start = now();
    let work = gort::spawn_blocking(|| std::thread::sleep(Duration::from_millis(30)));
    let r = timeout(Duration::from_secs(1), work).await;
    assert!(r.is_ok(), "the clock moved while blocking work ran");
    assert!(now() - start < Duration::from_secs(1));
}

#[test]
fn a_paused_runtime_still_reports_a_deadlock() {
    let rt = Builder::new()
        .start_paused(true)
        .on_deadlock(OnDeadlock::Panic)
        .build()
        .unwrap();
    let stuck = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            sleep(HOUR).await; // jumps
            let (_tx, rx) = gort::chan::bounded::<u8>(0);
            rx.recv().await // nobody sends, and no timer is left
        })
    }));
    let message = *stuck.unwrap_err().downcast::<String>().unwrap();
    assert!(
        message.starts_with("all goroutines are asleep - deadlock!"),
        "{message}"
    );
}

#[test]
fn advance_outside_a_paused_runtime_panics() {
    let rt = Builder::new().worker_threads(1).build().unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(advance(Duration::from_secs(1)))
    }));
    let payload = r.unwrap_err();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or(payload.downcast_ref::<String>().map(String::as_str))
        .unwrap();
    assert!(message.contains("start_paused"), "{message}");
}
