//! `Mutex`: the API, every waiting path polled by hand (tokio-test's
//! `task::spawn`), cancellation at each point, mutual exclusion on gort,
//! tokio and threads, and Go's fairness (starvation mode).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use gort_sync::{Mutex, MutexGuard, STARVATION_THRESHOLD};
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready};

mod support;
use support::{gort_rt, tokio_rt};

#[test]
fn lock_try_lock_get_mut_into_inner() {
    let mut m = Mutex::new(vec![1]);
    {
        let mut g = futures::executor::block_on(m.lock());
        g.push(2);
        assert!(m.try_lock().is_none(), "held");
        assert!(std::ptr::eq(MutexGuard::mutex(&g), &m));
    }
    m.try_lock().unwrap().push(3);
    m.lock_blocking().push(4);
    m.get_mut().push(5);
    assert_eq!(format!("{m:?}"), "Mutex { data: [1, 2, 3, 4, 5], .. }");
    assert_eq!(m.into_inner(), vec![1, 2, 3, 4, 5]);
}

#[test]
fn unsized_value() {
    let m: &Mutex<[u8]> = &Mutex::new([1u8, 2, 3]);
    m.lock_blocking()[0] = 9;
    assert_eq!(&*m.try_lock().unwrap(), &[9, 2, 3]);
}

fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>() {}

#[test]
fn auto_traits() {
    assert_send_sync::<Mutex<u64>>();
    assert_send::<MutexGuard<'static, u64>>();
    assert_send::<gort_sync::Lock<'static, u64>>();
}

/// A waiter parks, the unlock wakes it, it takes the lock.
#[test]
fn unlock_wakes_the_waiter() {
    let m = Mutex::new(0);
    let g = m.try_lock().unwrap();
    let mut w = spawn(m.lock());
    assert_pending!(w.poll());
    assert!(!w.is_woken());
    drop(g);
    assert!(w.is_woken());
    *assert_ready!(w.poll()) += 1;
    assert_eq!(*m.try_lock().unwrap(), 1);
}

/// Normal mode lets a newcomer take the lock ahead of a woken waiter; the
/// waiter queues again, at the front.
#[test]
fn a_newcomer_may_barge_in_normal_mode() {
    let m = Mutex::new(());
    let g = m.try_lock().unwrap();
    let mut first = spawn(m.lock());
    let mut second = spawn(m.lock());
    assert_pending!(first.poll());
    assert_pending!(second.poll());
    drop(g);
    assert!(first.is_woken());
    assert!(!second.is_woken(), "one wake-up per unlock");
    let barger = m.try_lock().expect("normal mode: a newcomer may barge");
    assert_pending!(first.poll());
    drop(barger);
    assert!(first.is_woken(), "the woken waiter went back to the front");
    assert!(!second.is_woken());
    drop(assert_ready!(first.poll()));
    assert!(second.is_woken());
    drop(assert_ready!(second.poll()));
}

/// A waiter that has waited past the threshold switches to starvation
/// mode: the next unlock hands it the lock, and a newcomer can neither
/// `try_lock` nor get ahead of it with `lock`.
#[test]
fn starving_waiter_is_handed_the_lock_before_a_newcomer() {
    let m = Mutex::new(Vec::new());
    let g = m.try_lock().unwrap();
    let mut starved = spawn(async {
        m.lock().await.push("starved");
    });
    assert_pending!(starved.poll());
    thread::sleep(STARVATION_THRESHOLD * 3);
    drop(g);
    assert!(starved.is_woken());
    // Before the woken waiter runs, a newcomer barges in (normal mode).
    let barger = m.try_lock().unwrap();
    // The waiter has waited > 1 ms: it queues again, starving.
    assert_pending!(starved.poll());
    assert!(m.try_lock().is_none(), "starvation mode: no barging");
    let mut newcomer = spawn(async {
        m.lock().await.push("newcomer");
    });
    assert_pending!(newcomer.poll());
    drop(barger);
    assert!(starved.is_woken(), "handed the lock");
    assert!(!newcomer.is_woken());
    assert_ready!(starved.poll());
    assert!(newcomer.is_woken());
    assert_ready!(newcomer.poll());
    assert_eq!(*m.try_lock().unwrap(), ["starved", "newcomer"]);
}

/// A queued waiter dropped: it unlinks, and the next unlock wakes the one
/// behind it.
#[test]
fn dropped_queued_waiter_unlinks() {
    let m = Mutex::new(());
    let g = m.try_lock().unwrap();
    let mut a = spawn(m.lock());
    let mut b = spawn(m.lock());
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    drop(a);
    drop(g);
    assert!(b.is_woken());
    drop(assert_ready!(b.poll()));
    assert!(m.try_lock().is_some());
}

/// A waiter woken (normal mode) and dropped before it ran passes the
/// wake-up on: the next waiter is woken and gets the lock.
#[test]
fn dropped_woken_waiter_passes_the_wake_up_on() {
    let m = Mutex::new(());
    let g = m.try_lock().unwrap();
    let mut a = spawn(m.lock());
    let mut b = spawn(m.lock());
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    // Someone holds the lock when `a` goes away, so the hand-on happens at
    // that holder's unlock.
    drop(g);
    assert!(a.is_woken());
    let holder = m.try_lock().unwrap();
    drop(a);
    assert!(!b.is_woken(), "the holder's unlock wakes b");
    drop(holder);
    assert!(b.is_woken());
    drop(assert_ready!(b.poll()));

    // And with the lock free when the woken waiter goes away.
    let g = m.try_lock().unwrap();
    let mut a = spawn(m.lock());
    let mut b = spawn(m.lock());
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    drop(g);
    drop(a);
    assert!(b.is_woken(), "the dropped waiter woke b");
    drop(assert_ready!(b.poll()));
    assert!(m.try_lock().is_some());
}

/// A waiter handed the lock (starvation mode) and dropped before it ran
/// unlocks, which hands the lock to the next waiter.
#[test]
fn dropped_waiter_that_was_handed_the_lock_hands_it_on() {
    let m = Mutex::new(0);
    let g = m.try_lock().unwrap();
    let mut a = spawn(m.lock());
    assert_pending!(a.poll());
    thread::sleep(STARVATION_THRESHOLD * 3);
    drop(g);
    let barger = m.try_lock().unwrap();
    assert_pending!(a.poll()); // starving now
    let mut b = spawn(m.lock());
    assert_pending!(b.poll());
    drop(barger);
    assert!(a.is_woken(), "a was handed the lock");
    drop(a);
    assert!(b.is_woken(), "a's drop handed it to b");
    *assert_ready!(b.poll()) += 1;
    // The queue drained: starvation mode is over.
    assert_eq!(*m.try_lock().expect("normal mode again"), 1);
}

/// The last starving waiter dropped while queued ends starvation mode, so
/// `try_lock` works again after the holder leaves.
#[test]
fn dropped_last_starving_waiter_ends_starvation_mode() {
    let m = Mutex::new(());
    let g = m.try_lock().unwrap();
    let mut a = spawn(m.lock());
    assert_pending!(a.poll());
    thread::sleep(STARVATION_THRESHOLD * 3);
    drop(g);
    let barger = m.try_lock().unwrap();
    assert_pending!(a.poll()); // starving
    drop(a);
    drop(barger);
    assert!(m.try_lock().is_some());
}

/// A future dropped before its first poll, or after completion, does
/// nothing.
#[test]
fn unpolled_and_completed_futures_drop_cleanly() {
    let m = Mutex::new(());
    drop(m.lock());
    let g = futures::executor::block_on(m.lock());
    drop(g);
    assert!(m.try_lock().is_some());
}

/// A waiter polled with a new waker is woken through the new one.
#[test]
fn the_latest_waker_is_woken() {
    let m = Mutex::new(());
    let g = m.try_lock().unwrap();
    let mut fut = Box::pin(m.lock());
    let mut first = spawn(std::future::poll_fn(|cx| fut.as_mut().poll(cx).map(drop)));
    assert_pending!(first.poll());
    drop(first);
    let mut second = spawn(std::future::poll_fn(|cx| fut.as_mut().poll(cx).map(drop)));
    assert_pending!(second.poll());
    drop(g);
    assert!(second.is_woken());
    assert_ready!(second.poll());
}

use std::future::Future;

const TASKS: u64 = 8;
const INCREMENTS: u64 = if cfg!(debug_assertions) {
    10_000
} else {
    100_000
};

/// 8 tasks x 100,000 increments of a plain `u64` on a 2-worker gort
/// runtime; the guard is held across a yield now and then.
#[test]
fn mutual_exclusion_on_gort() {
    let rt = gort_rt();
    let m = Arc::new(Mutex::new(0u64));
    rt.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let m = m.clone();
                gort::spawn(async move {
                    for i in 0..INCREMENTS {
                        let mut g = m.lock().await;
                        *g += 1;
                        if i.is_multiple_of(1000) {
                            gort::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(*m.try_lock().unwrap(), TASKS * INCREMENTS);
}

#[test]
fn mutual_exclusion_on_tokio() {
    let rt = tokio_rt();
    let m = Arc::new(Mutex::new(0u64));
    rt.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let m = m.clone();
                tokio::spawn(async move {
                    for _ in 0..INCREMENTS / 10 {
                        *m.lock().await += 1;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(*m.try_lock().unwrap(), TASKS * INCREMENTS / 10);
}

/// Threads with `lock_blocking`, and tasks on `futures::executor` at the
/// same time, on one mutex.
#[test]
fn mutual_exclusion_threads_and_tasks() {
    let m = Arc::new(Mutex::new(0u64));
    let n = INCREMENTS / 10;
    let threads: Vec<_> = (0..4u32)
        .map(|i| {
            let m = m.clone();
            thread::spawn(move || {
                for _ in 0..n {
                    if i.is_multiple_of(2) {
                        *m.lock_blocking() += 1;
                    } else {
                        *futures::executor::block_on(m.lock()) += 1;
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*m.try_lock().unwrap(), 4 * n);
}

/// Go's `TestMutexFairness`: one task re-locks in a tight loop, holding
/// the lock for 100 us each time (asleep, as Go's `time.Sleep` parks the
/// goroutine); another must still get it 10 times.
/// Without starvation mode the hog's re-lock always wins. The bound (30 s)
/// only catches a hang; it is not a speed assertion.
#[test]
fn fairness_on_gort() {
    let rt = gort_rt();
    let m = Arc::new(Mutex::new(()));
    let stop = Arc::new(AtomicBool::new(false));
    let hog = {
        let (m, stop) = (m.clone(), stop.clone());
        rt.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let g = m.lock().await;
                gort::time::sleep(Duration::from_micros(100)).await;
                drop(g);
            }
        })
    };
    let got = Arc::new(AtomicUsize::new(0));
    let other = {
        let (m, got) = (m.clone(), got.clone());
        rt.spawn(async move {
            for _ in 0..10 {
                gort::time::sleep(Duration::from_micros(100)).await;
                drop(m.lock().await);
                got.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.load(Ordering::Relaxed) < 10 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    assert_eq!(got.load(Ordering::Relaxed), 10, "starved for 30 s");
    rt.block_on(async {
        other.await.unwrap();
        hog.await.unwrap();
    });
}

/// The same with threads and `lock_blocking`.
#[test]
fn fairness_on_threads() {
    let m = Arc::new(Mutex::new(()));
    let stop = Arc::new(AtomicBool::new(false));
    let hog = {
        let (m, stop) = (m.clone(), stop.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let g = m.lock_blocking();
                thread::sleep(Duration::from_micros(100));
                drop(g);
            }
        })
    };
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let m = m.clone();
        thread::spawn(move || {
            for _ in 0..10 {
                thread::sleep(Duration::from_micros(100));
                drop(m.lock_blocking());
            }
            tx.send(()).unwrap();
        });
    }
    let result = rx.recv_timeout(Duration::from_secs(30));
    stop.store(true, Ordering::Relaxed);
    hog.join().unwrap();
    assert!(result.is_ok(), "starved for 30 s");
}
