//! `Semaphore`: weighted permits, FIFO service (a large request at the
//! front is not passed by small ones), cancellation at each point, and a
//! contended run on gort, tokio and threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use gort_sync::Semaphore;
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready};

mod support;
use support::{gort_rt, tokio_rt};

#[test]
fn try_acquire_available_forget() {
    let sem = Semaphore::new(3);
    let a = sem.try_acquire(2).unwrap();
    assert_eq!(a.num_permits(), 2);
    assert_eq!(sem.available(), 1);
    assert!(sem.try_acquire(2).is_none());
    drop(a);
    assert_eq!(sem.available(), 3);
    sem.try_acquire(1).unwrap().forget();
    assert_eq!(sem.available(), 2);
    sem.add_permits(5);
    assert_eq!(sem.available(), 7);
    assert!(sem.try_acquire(0).is_some());
}

/// A waiting `acquire(3)` is served before a later `acquire(1)`, even with
/// one permit free: neither `try_acquire(1)` nor `acquire(1)` passes it.
#[test]
fn fifo_a_large_request_is_not_passed() {
    let sem = Semaphore::new(1);
    let mut big = spawn(sem.acquire(3));
    assert_pending!(big.poll());
    let mut small = spawn(sem.acquire(1));
    assert_pending!(small.poll());
    assert!(sem.try_acquire(1).is_none(), "a request waits ahead");
    assert_eq!(sem.available(), 1);
    sem.add_permits(1);
    assert!(!big.is_woken() && !small.is_woken());
    sem.add_permits(1);
    assert!(big.is_woken());
    assert!(!small.is_woken());
    let big = assert_ready!(big.poll());
    assert_eq!(sem.available(), 0);
    drop(big);
    assert!(small.is_woken());
    drop(assert_ready!(small.poll()));
    assert_eq!(sem.available(), 3);
}

/// One release serves as many front requests as it covers, in order.
#[test]
fn one_release_serves_several() {
    let sem = Semaphore::new(0);
    let mut a = spawn(sem.acquire(1));
    let mut b = spawn(sem.acquire(2));
    let mut c = spawn(sem.acquire(2));
    for f in [&mut a, &mut b, &mut c] {
        assert_pending!(f.poll());
    }
    sem.add_permits(4);
    assert!(a.is_woken() && b.is_woken());
    assert!(!c.is_woken());
    assert_eq!(sem.available(), 1);
    drop(assert_ready!(a.poll()));
    assert!(c.is_woken());
    drop(assert_ready!(c.poll()));
    drop(assert_ready!(b.poll()));
    assert_eq!(sem.available(), 4);
}

/// More than exist: waits for `add_permits`.
#[test]
fn a_request_beyond_the_total_waits_for_add_permits() {
    let sem = Semaphore::new(2);
    let mut f = spawn(sem.acquire(5));
    assert_pending!(f.poll());
    sem.add_permits(3);
    assert_eq!(assert_ready!(f.poll()).num_permits(), 5);
}

/// A queued front request dropped: the requests behind it that fit now are
/// served.
#[test]
fn dropped_front_request_serves_the_next() {
    let sem = Semaphore::new(1);
    let mut big = spawn(sem.acquire(3));
    let mut small = spawn(sem.acquire(1));
    assert_pending!(big.poll());
    assert_pending!(small.poll());
    drop(big);
    assert!(small.is_woken());
    drop(assert_ready!(small.poll()));
    assert_eq!(sem.available(), 1);
    assert!(sem.try_acquire(1).is_some(), "nobody queued any more");
}

/// A request granted and dropped before it ran gives its permits back,
/// to the next request.
#[test]
fn dropped_granted_request_gives_its_permits_back() {
    let sem = Semaphore::new(0);
    let mut a = spawn(sem.acquire(2));
    let mut b = spawn(sem.acquire(2));
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    sem.add_permits(2);
    assert!(a.is_woken());
    drop(a);
    assert!(b.is_woken());
    drop(assert_ready!(b.poll()));
    assert_eq!(sem.available(), 2);
}

/// A queued request in the middle dropped: nothing else changes.
#[test]
fn dropped_middle_request() {
    let sem = Semaphore::new(0);
    let mut a = spawn(sem.acquire(1));
    let mut b = spawn(sem.acquire(1));
    let mut c = spawn(sem.acquire(1));
    for f in [&mut a, &mut b, &mut c] {
        assert_pending!(f.poll());
    }
    drop(b);
    sem.add_permits(2);
    assert!(a.is_woken() && c.is_woken());
    drop(assert_ready!(a.poll()));
    drop(assert_ready!(c.poll()));
    assert_eq!(sem.available(), 2);
}

/// Contended: tasks take 1 or 2 of 3 permits; never more than 3 in use,
/// and every permit comes back.
async fn contend(sem: Arc<Semaphore>, in_use: Arc<AtomicUsize>, i: usize) {
    for j in 0..2000 {
        let k = 1 + (i + j) % 2;
        let p = sem.acquire(k).await;
        let now = in_use.fetch_add(k, Ordering::SeqCst) + k;
        assert!(now <= 3, "{now} permits in use");
        in_use.fetch_sub(k, Ordering::SeqCst);
        drop(p);
    }
}

#[test]
fn contended_on_gort() {
    let rt = gort_rt();
    let sem = Arc::new(Semaphore::new(3));
    let in_use = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|i| gort::spawn(contend(sem.clone(), in_use.clone(), i)))
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(sem.available(), 3);
}

#[test]
fn contended_on_tokio() {
    let rt = tokio_rt();
    let sem = Arc::new(Semaphore::new(3));
    let in_use = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|i| tokio::spawn(contend(sem.clone(), in_use.clone(), i)))
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(sem.available(), 3);
}

#[test]
fn contended_on_threads() {
    let sem = Arc::new(Semaphore::new(3));
    let in_use = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let (sem, in_use) = (sem.clone(), in_use.clone());
            std::thread::spawn(move || futures::executor::block_on(contend(sem, in_use, i)))
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(sem.available(), 3);
}
