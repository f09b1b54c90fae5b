//! `OnceCell`: exactly one initializer, concurrent callers, an initializer
//! dropped or panicking (the next caller runs its own), `set`.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use gort_sync::OnceCell;
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready};

mod support;
use support::{gort_rt, tokio_rt};

#[test]
fn get_set() {
    let cell = OnceCell::new();
    assert_eq!(cell.get(), None);
    assert_eq!(cell.set(1), Ok(()));
    assert_eq!(cell.set(2), Err(2));
    assert_eq!(cell.get(), Some(&1));
    assert_eq!(format!("{cell:?}"), "OnceCell(Some(1))");
}

fn assert_send<T: Send>(_: &T) {}

/// 16 tasks on a 2-worker gort runtime call `get_or_init` at once: one
/// initializer runs (it yields, so the others really wait).
#[test]
fn exactly_one_initializer_among_16_callers() {
    let rt = gort_rt();
    for _ in 0..50 {
        let cell = Arc::new(OnceCell::new());
        let runs = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            let tasks: Vec<_> = (0..16)
                .map(|i| {
                    let (cell, runs) = (cell.clone(), runs.clone());
                    gort::spawn(async move {
                        let fut = cell.get_or_init(|| async {
                            runs.fetch_add(1, Ordering::SeqCst);
                            gort::yield_now().await;
                            i
                        });
                        assert_send(&fut);
                        *fut.await
                    })
                })
                .collect();
            let mut seen = Vec::new();
            for t in tasks {
                seen.push(t.await.unwrap());
            }
            assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
        });
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}

/// The same with threads, each in `futures::executor::block_on`.
#[test]
fn exactly_one_initializer_on_threads() {
    let cell = Arc::new(OnceCell::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let (cell, runs) = (cell.clone(), runs.clone());
            std::thread::spawn(move || {
                *futures::executor::block_on(cell.get_or_init(|| async {
                    runs.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    i
                }))
            })
        })
        .collect();
    let seen: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(seen.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

/// An initializer that never finishes, as a future to drop.
fn stuck(runs: &AtomicUsize) -> impl Future<Output = u32> + '_ {
    runs.fetch_add(1, Ordering::SeqCst);
    std::future::pending()
}

/// The running initializer's future is dropped: a waiting caller is woken
/// and runs its own.
#[test]
fn dropped_initializer_lets_the_next_caller_run_its_own() {
    let cell = OnceCell::new();
    let runs = AtomicUsize::new(0);
    let mut first = spawn(cell.get_or_init(|| stuck(&runs)));
    assert_pending!(first.poll());
    let mut second = spawn(cell.get_or_init(|| async { 2 }));
    assert_pending!(second.poll());
    drop(first);
    assert!(second.is_woken());
    assert_eq!(*assert_ready!(second.poll()), 2);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

/// The running initializer panics: the cell stays empty, waiters are
/// woken, and the next caller initializes it.
#[test]
fn panicking_initializer_lets_the_next_caller_run_its_own() {
    let cell = Arc::new(OnceCell::new());
    let mut waiter = spawn(cell.get_or_init(|| async { 3 }));
    let c = cell.clone();
    let panicked = std::panic::catch_unwind(move || {
        *futures::executor::block_on(c.get_or_init(|| async {
            panic!("initializer fails");
        }))
    });
    assert!(panicked.is_err());
    assert_eq!(cell.get(), None);
    assert_eq!(*assert_ready!(waiter.poll()), 3);
    assert_eq!(cell.get(), Some(&3));

    // A waiter parked while the initializer panics is woken.
    let cell = Arc::new(OnceCell::<u32>::new());
    let mut init = spawn(cell.get_or_init(|| async {
        tokio::task::yield_now().await;
        panic!("initializer fails");
    }));
    assert_pending!(init.poll());
    let mut waiter = spawn(cell.get_or_init(|| async { 4 }));
    assert_pending!(waiter.poll());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| init.poll()));
    assert!(r.is_err());
    drop(init);
    assert!(waiter.is_woken());
    assert_eq!(*assert_ready!(waiter.poll()), 4);
}

/// A waiting caller dropped: nothing changes for the others.
#[test]
fn dropped_waiter() {
    let cell = OnceCell::new();
    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
    let mut init = spawn(cell.get_or_init(|| async { rx.await.unwrap() }));
    assert_pending!(init.poll());
    let mut a = spawn(cell.get_or_init(|| async { unreachable!() }));
    let mut b = spawn(cell.get_or_init(|| async { unreachable!() }));
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    drop(a);
    tx.send(5).unwrap();
    assert_eq!(*assert_ready!(init.poll()), 5);
    assert!(b.is_woken());
    assert_eq!(*assert_ready!(b.poll()), 5);
}

/// `set` while an initializer runs: the set value stands, the waiters get
/// it at once, and the initializer's own value is dropped.
#[test]
fn set_while_an_initializer_runs() {
    let cell = OnceCell::new();
    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
    let mut init = spawn(cell.get_or_init(|| async { rx.await.unwrap() }));
    assert_pending!(init.poll());
    let mut waiter = spawn(cell.get_or_init(|| async { unreachable!() }));
    assert_pending!(waiter.poll());
    assert_eq!(cell.set(6), Ok(()));
    assert!(waiter.is_woken());
    assert_eq!(*assert_ready!(waiter.poll()), 6);
    tx.send(7).unwrap();
    assert_eq!(*assert_ready!(init.poll()), 6);
}

#[test]
fn on_tokio() {
    let rt = tokio_rt();
    let cell = Arc::new(OnceCell::new());
    let runs = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cell, runs) = (cell.clone(), runs.clone());
                tokio::spawn(async move {
                    *cell
                        .get_or_init(|| async {
                            runs.fetch_add(1, Ordering::SeqCst);
                            tokio::task::yield_now().await;
                            "tokio"
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), "tokio");
        }
    });
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}
