//! `gort::task::JoinSet` (issue 13): results in the order the tasks
//! finish, abort and drop cancel what is left, panics come back as
//! errors, a dropped `join_next` loses nothing, 10,000 tasks join.
//!
//! Every body runs under the 120 s watchdog (a hang detector).

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use gort::task::JoinSet;

mod common;
use common::{counter, runtime, watchdog, DropGuard};

#[test]
fn results_come_in_the_order_the_tasks_finish() {
    watchdog("join-set-order", || {
        let rt = runtime(2, "join-set-order");
        rt.block_on(async {
            let mut set = JoinSet::new();
            let mut gates = Vec::new();
            for i in 0..5u32 {
                let (tx, rx) = gort::chan::bounded::<()>(1);
                gates.push(tx);
                set.spawn(async move {
                    rx.recv().await.unwrap();
                    i
                });
            }
            assert_eq!(set.len(), 5);
            for i in [3u32, 0, 4, 1, 2] {
                gates[i as usize].send(()).await.unwrap();
                assert_eq!(set.join_next().await.unwrap().unwrap(), i);
            }
            assert!(set.is_empty());
            assert!(set.join_next().await.is_none());
        });
    });
}

#[test]
fn abort_all_and_drop_cancel_the_tasks_left_and_panics_are_errors() {
    watchdog("join-set-abort", || {
        let rt = runtime(2, "join-set-abort");
        rt.block_on(async {
            let mut set = JoinSet::new();
            set.spawn(async { 1u32 });
            set.spawn(async { panic!("boom") });
            set.spawn(std::future::pending());
            let (mut ok, mut panicked) = (0, 0);
            for _ in 0..2 {
                match set.join_next().await.unwrap() {
                    Ok(v) => ok += v,
                    Err(e) => {
                        assert!(e.is_panic());
                        panicked += 1;
                    }
                }
            }
            assert_eq!((ok, panicked, set.len()), (1, 1, 1));
            set.abort_all();
            assert!(set.join_next().await.unwrap().unwrap_err().is_cancelled());
            assert!(set.is_empty());

            // Dropping the set aborts what is left: the futures are dropped.
            let dropped = counter();
            let mut set = JoinSet::new();
            for _ in 0..10 {
                let guard = DropGuard(dropped.clone());
                set.spawn(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await
                });
            }
            drop(set);
            while dropped.load(std::sync::atomic::Ordering::SeqCst) < 10 {
                gort::yield_now().await;
            }

            // `shutdown` waits for every task to be gone.
            let mut set = JoinSet::new();
            for _ in 0..10 {
                set.spawn(std::future::pending::<()>());
            }
            set.shutdown().await;
            assert!(set.is_empty());
        });
    });
}

#[test]
fn a_dropped_join_next_loses_no_result() {
    watchdog("join-set-cancel", || {
        let rt = runtime(1, "join-set-cancel");
        rt.block_on(async {
            let mut set = JoinSet::new();
            let (tx, rx) = gort::chan::bounded::<()>(1);
            set.spawn(async move {
                rx.recv().await.unwrap();
                7u32
            });
            {
                let mut next = pin!(set.join_next());
                let waker = futures::task::noop_waker();
                let mut cx = std::task::Context::from_waker(&waker);
                assert!(next.as_mut().poll(&mut cx).is_pending());
            } // dropped while waiting
            tx.send(()).await.unwrap();
            assert_eq!(set.join_next().await.unwrap().unwrap(), 7);
            // Polled by hand with nothing ready: Pending, then the result.
            let (tx, rx) = gort::chan::bounded::<()>(1);
            set.spawn(async move {
                rx.recv().await.unwrap();
                8
            });
            let mut polls = 0;
            let got = std::future::poll_fn(|cx| {
                polls += 1;
                if polls == 2 {
                    tx.try_send(()).unwrap();
                }
                match set.poll_join_next(cx) {
                    Poll::Ready(v) => Poll::Ready(v),
                    Poll::Pending => {
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                }
            })
            .await;
            assert_eq!(got.unwrap().unwrap(), 8);
        });
    });
}

#[test]
fn ten_thousand_tasks_join() {
    watchdog("join-set-10k", || {
        let rt = runtime(2, "join-set-10k");
        let sum = rt.block_on(rt.spawn(async {
            let mut set = JoinSet::new();
            for i in 0..10_000u64 {
                set.spawn(async move {
                    if i % 3 == 0 {
                        gort::yield_now().await;
                    }
                    i
                });
            }
            let mut sum = 0;
            while let Some(r) = set.join_next().await {
                sum += r.unwrap();
            }
            sum
        }));
        assert_eq!(sum.unwrap(), (0..10_000u64).sum::<u64>());
    });
}
