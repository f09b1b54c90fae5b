//! `RwLock`: shared and exclusive access, writer preference, FIFO
//! hand-off, cancellation at each point, and use from gort, tokio and
//! threads.

use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::thread;

use gort_sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready};

mod support;
use support::{gort_rt, tokio_rt};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn auto_traits() {
    assert_send_sync::<RwLock<u64>>();
    assert_send_sync::<RwLockReadGuard<'static, u64>>();
    assert_send_sync::<RwLockWriteGuard<'static, u64>>();
    assert_send_sync::<gort_sync::Read<'static, u64>>();
    assert_send_sync::<gort_sync::Write<'static, u64>>();
}

#[test]
fn readers_share_writers_exclude() {
    let mut rw = RwLock::new(1);
    {
        let a = rw.try_read().unwrap();
        let b = rw.read_blocking();
        assert_eq!(*a + *b, 2);
        assert!(rw.try_write().is_none());
        assert!(std::ptr::eq(RwLockReadGuard::rwlock(&a), &rw));
    }
    {
        let mut w = rw.try_write().unwrap();
        *w += 1;
        assert!(rw.try_read().is_none());
        assert!(rw.try_write().is_none());
        assert!(std::ptr::eq(RwLockWriteGuard::rwlock(&w), &rw));
    }
    *rw.write_blocking() += 1;
    *rw.get_mut() += 1;
    assert_eq!(format!("{rw:?}"), "RwLock { data: 4, .. }");
    assert_eq!(rw.into_inner(), 4);
}

/// A waiting writer stops new readers: `try_read` fails and `read` queues
/// behind it, though only readers hold the lock. The writer goes when the
/// last reader leaves, the queued reader when the writer does.
#[test]
fn a_waiting_writer_stops_new_readers() {
    let rw = RwLock::new(0);
    let r1 = rw.try_read().unwrap();
    let mut w = spawn(rw.write());
    assert_pending!(w.poll());
    assert!(rw.try_read().is_none(), "a writer waits");
    let mut r2 = spawn(rw.read());
    assert_pending!(r2.poll());
    drop(r1);
    assert!(w.is_woken());
    assert!(!r2.is_woken());
    let mut g = assert_ready!(w.poll());
    *g = 7;
    drop(g);
    assert!(r2.is_woken());
    assert_eq!(*assert_ready!(r2.poll()), 7);
}

/// Readers queued together behind a writer are granted together; a writer
/// behind them waits for all of them.
#[test]
fn queued_readers_go_together_fifo() {
    let rw = RwLock::new(());
    let w0 = rw.try_write().unwrap();
    let mut r1 = spawn(rw.read());
    let mut r2 = spawn(rw.read());
    let mut w1 = spawn(rw.write());
    let mut r3 = spawn(rw.read());
    // Queued in this order: r1, r2, w1, r3.
    assert_pending!(r1.poll());
    assert_pending!(r2.poll());
    assert_pending!(w1.poll());
    assert_pending!(r3.poll());
    drop(w0);
    assert!(r1.is_woken() && r2.is_woken());
    assert!(
        !w1.is_woken() && !r3.is_woken(),
        "FIFO: w1 is next, r3 behind it"
    );
    let (g1, g2) = (assert_ready!(r1.poll()), assert_ready!(r2.poll()));
    drop(g1);
    assert!(!w1.is_woken());
    drop(g2);
    assert!(w1.is_woken());
    drop(assert_ready!(w1.poll()));
    assert!(r3.is_woken());
    drop(assert_ready!(r3.poll()));
    assert!(rw.try_write().is_some());
}

/// A queued writer at the front dropped: the readers behind it join the
/// readers that hold the lock.
#[test]
fn dropped_front_writer_lets_readers_in() {
    let rw = RwLock::new(());
    let r1 = rw.try_read().unwrap();
    let mut w = spawn(rw.write());
    let mut r2 = spawn(rw.read());
    assert_pending!(w.poll());
    assert_pending!(r2.poll());
    drop(w);
    assert!(r2.is_woken());
    let g2 = assert_ready!(r2.poll());
    assert!(rw.try_read().is_some(), "nobody waits any more");
    drop((r1, g2));
    assert!(rw.try_write().is_some());
}

/// A writer granted the lock and dropped before it ran releases it to the
/// reader behind it.
#[test]
fn dropped_granted_writer_releases() {
    let rw = RwLock::new(());
    let r1 = rw.try_read().unwrap();
    let mut w = spawn(rw.write());
    let mut r2 = spawn(rw.read());
    assert_pending!(w.poll());
    assert_pending!(r2.poll());
    drop(r1);
    assert!(w.is_woken());
    drop(w);
    assert!(r2.is_woken());
    drop(assert_ready!(r2.poll()));
    assert!(rw.try_write().is_some());
}

/// A reader granted the lock and dropped before it ran releases it to the
/// writer behind it.
#[test]
fn dropped_granted_reader_releases() {
    let rw = RwLock::new(());
    let w0 = rw.try_write().unwrap();
    let mut r = spawn(rw.read());
    let mut w = spawn(rw.write());
    assert_pending!(r.poll());
    assert_pending!(w.poll());
    drop(w0);
    assert!(r.is_woken());
    drop(r);
    assert!(w.is_woken());
    drop(assert_ready!(w.poll()));
}

/// Readers and writers on threads and tasks: a writer always sees no
/// reader inside, a reader no writer.
fn check_exclusion(rw: &RwLock<()>, inside: &AtomicIsize, write: bool) {
    if write {
        let _g = rw.write_blocking();
        assert_eq!(inside.swap(-1, Ordering::SeqCst), 0);
        inside.store(0, Ordering::SeqCst);
    } else {
        let _g = rw.read_blocking();
        assert!(inside.fetch_add(1, Ordering::SeqCst) >= 0);
        inside.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn threads() {
    let rw = Arc::new(RwLock::new(()));
    let inside = Arc::new(AtomicIsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (rw, inside) = (rw.clone(), inside.clone());
            thread::spawn(move || {
                for i in 0..20_000u32 {
                    check_exclusion(&rw, &inside, (i + t).is_multiple_of(5));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn tasks_on_gort_and_tokio() {
    async fn run(rw: Arc<RwLock<u64>>, i: u64) {
        for j in 0..2000 {
            if (i + j).is_multiple_of(4) {
                *rw.write().await += 1;
            } else {
                let _g = rw.read().await;
            }
        }
    }
    let writes = (0..8u64)
        .map(|i| (0..2000).filter(|j| (i + j).is_multiple_of(4)).count() as u64)
        .sum::<u64>();

    let rw = Arc::new(RwLock::new(0));
    let gort = gort_rt();
    gort.block_on(async {
        let tasks: Vec<_> = (0..8).map(|i| gort::spawn(run(rw.clone(), i))).collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(*rw.try_read().unwrap(), writes);

    let rw = Arc::new(RwLock::new(0));
    let tokio = tokio_rt();
    tokio.block_on(async {
        let tasks: Vec<_> = (0..8).map(|i| tokio::spawn(run(rw.clone(), i))).collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(*rw.try_read().unwrap(), writes);
}
