//! `JoinHandle::abort`: of a task that waits forever, of a task that keeps
//! running (it loops on `yield_now`), of a task that already completed, of
//! a task that was never polled, and of many tasks at once. Each aborted
//! task's future must be dropped (its destructor runs) and its handle must
//! resolve to a cancelled `JoinError`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use futures::channel::oneshot;
use gort::JoinHandle;

mod common;
use common::{counter, runtime, watchdog, DropGuard};

/// Sends on drop: lets the test wait for a future's destruction without
/// polling a counter.
struct DropSignal(Option<oneshot::Sender<()>>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

#[test]
fn abort_pending_task_after_it_parked() {
    watchdog("abort_pending", || {
        let rt = runtime(2, "abort");
        let drops = counter();
        let (started_tx, started_rx) = oneshot::channel();
        let guard = DropGuard(drops.clone());
        let handle = rt.spawn(async move {
            let _guard = guard;
            started_tx.send(()).unwrap();
            std::future::pending::<u32>().await
        });
        rt.block_on(started_rx).unwrap();
        assert_eq!(drops.load(SeqCst), 0);
        assert!(!handle.is_finished());
        handle.abort();
        let err = rt.block_on(handle).unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        assert!(!err.is_panic());
        assert_eq!(drops.load(SeqCst), 1, "the aborted future was dropped once");
    });
}

/// Abort straight after spawn, most likely before the first poll.
#[test]
fn abort_before_first_poll() {
    watchdog("abort_unpolled", || {
        let rt = runtime(2, "abort");
        let drops = counter();
        let polled = counter();
        let mut handles = Vec::new();
        for _ in 0..1_000 {
            let guard = DropGuard(drops.clone());
            let polled = polled.clone();
            let h = rt.spawn(async move {
                let _guard = guard;
                polled.fetch_add(1, SeqCst);
                std::future::pending::<()>().await
            });
            h.abort();
            handles.push(h);
        }
        rt.block_on(async {
            for h in handles {
                assert!(h.await.unwrap_err().is_cancelled());
            }
        });
        assert_eq!(drops.load(SeqCst), 1_000);
    });
}

/// A task that never waits, only yields: the abort takes effect at its
/// next yield and its destructor runs.
#[test]
fn abort_running_task_that_loops_on_yield_now() {
    watchdog("abort_running", || {
        let rt = runtime(2, "abort");
        let drops = counter();
        let iterations = counter();
        let guard = DropGuard(drops.clone());
        let iters = iterations.clone();
        let handle = rt.spawn(async move {
            let _guard = guard;
            loop {
                iters.fetch_add(1, SeqCst);
                gort::yield_now().await;
            }
        });
        // Let it spin for a while.
        while iterations.load(SeqCst) < 1_000 {
            std::thread::yield_now();
        }
        handle.abort();
        let err = rt.block_on(handle).unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        assert_eq!(drops.load(SeqCst), 1);
        // The future is gone, so the loop cannot run any more.
        let after = iterations.load(SeqCst);
        rt.block_on(async {
            for _ in 0..100 {
                gort::spawn(gort::yield_now()).await.unwrap();
            }
        });
        assert_eq!(iterations.load(SeqCst), after);
    });
}

/// The task aborts itself in the middle of a poll: the rest of that poll
/// runs, the code after its next `yield_now` never does.
#[test]
fn abort_during_own_poll_takes_effect_at_next_yield() {
    watchdog("abort_self", || {
        let rt = runtime(2, "abort");
        let slot: Arc<Mutex<Option<JoinHandle<()>>>> = Arc::new(Mutex::new(None));
        let (go_tx, go_rx) = oneshot::channel::<()>();
        let (dropped_tx, dropped_rx) = oneshot::channel::<()>();
        let same_poll = counter();
        let resumed = counter();
        let task_slot = slot.clone();
        let (same_poll2, resumed2) = (same_poll.clone(), resumed.clone());
        let handle = rt.spawn(async move {
            let _signal = DropSignal(Some(dropped_tx));
            go_rx.await.unwrap();
            for i in 0..10 {
                if i == 3 {
                    task_slot.lock().unwrap().as_ref().unwrap().abort();
                    same_poll2.fetch_add(1, SeqCst);
                }
                gort::yield_now().await;
                if i >= 3 {
                    resumed2.fetch_add(1, SeqCst);
                }
            }
        });
        *slot.lock().unwrap() = Some(handle);
        go_tx.send(()).unwrap();
        rt.block_on(dropped_rx).unwrap();
        let handle = slot.lock().unwrap().take().unwrap();
        let err = rt.block_on(handle).unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        assert_eq!(
            same_poll.load(SeqCst),
            1,
            "the poll that called abort ran to its end"
        );
        assert_eq!(
            resumed.load(SeqCst),
            0,
            "the task ran past the yield after its abort"
        );
    });
}

#[test]
fn abort_after_completion_returns_the_value() {
    watchdog("abort_completed", || {
        let rt = runtime(2, "abort");
        let drops = counter();
        let guard = DropGuard(drops.clone());
        let handle = rt.spawn(async move {
            let _guard = guard;
            String::from("done")
        });
        while !handle.is_finished() {
            std::thread::yield_now();
        }
        assert_eq!(drops.load(SeqCst), 1, "the finished future was dropped");
        handle.abort();
        handle.abort();
        assert_eq!(rt.block_on(handle).unwrap(), "done");
    });
}

/// Abort, then keep the handle around while other work runs, then await it.
#[test]
fn aborted_handle_awaited_later() {
    watchdog("abort_await_later", || {
        let rt = runtime(2, "abort");
        let drops = counter();
        let (tx, rx) = oneshot::channel::<u32>();
        let guard = DropGuard(drops.clone());
        let handle = rt.spawn(async move {
            let _guard = guard;
            rx.await.unwrap()
        });
        handle.abort();
        // Unrelated work in between.
        let sum: u64 = rt.block_on(async {
            let hs: Vec<_> = (0..1000u64)
                .map(|i| gort::spawn(async move { i }))
                .collect();
            let mut s = 0;
            for h in hs {
                s += h.await.unwrap();
            }
            s
        });
        assert_eq!(sum, 499_500);
        // The receiver went with the future: the sender sees it.
        rt.block_on(async {
            while !handle.is_finished() {
                gort::yield_now().await;
            }
        });
        assert!(tx.is_canceled(), "the aborted task's receiver was dropped");
        assert_eq!(drops.load(SeqCst), 1);
        // Awaited from a plain thread, long after the abort.
        let err = std::thread::spawn(move || gort::block_on(handle))
            .join()
            .unwrap()
            .unwrap_err();
        assert!(err.is_cancelled());
    });
}

/// The joining task registers its waker on the handle first, then aborts
/// the target and keeps waiting: it is woken with the cancellation.
#[test]
fn abort_wakes_a_task_awaiting_the_handle() {
    watchdog("abort_wakes_joiner", || {
        let rt = runtime(2, "abort");
        let drops = counter();
        for _ in 0..1_000 {
            let guard = DropGuard(drops.clone());
            let target = rt.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            });
            let joiner = rt.spawn(async move {
                let mut target = target;
                let registered = std::future::poll_fn(|cx| {
                    Poll::Ready(Pin::new(&mut target).poll(cx).is_pending())
                })
                .await;
                assert!(registered, "the target cannot finish on its own");
                target.abort();
                target.await
            });
            let res = rt.block_on(joiner).unwrap();
            assert!(res.unwrap_err().is_cancelled());
        }
        assert_eq!(drops.load(SeqCst), 1_000);
    });
}

/// `abort` through a shared reference on another thread.
#[test]
fn abort_from_foreign_thread() {
    watchdog("abort_foreign", || {
        let rt = runtime(2, "abort");
        let drops = counter();
        for _ in 0..200 {
            let guard = DropGuard(drops.clone());
            let handle = rt.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            });
            let handle = Arc::new(handle);
            let h = handle.clone();
            let aborter = std::thread::spawn(move || h.abort());
            aborter.join().unwrap();
            let handle = Arc::try_unwrap(handle).unwrap();
            assert!(rt.block_on(handle).unwrap_err().is_cancelled());
        }
        assert_eq!(drops.load(SeqCst), 200);
    });
}

/// Abort 10,000 tasks, half parked and half spinning on `yield_now`, while
/// they run on two workers: all cancelled, every future dropped exactly
/// once, and the runtime keeps working.
#[test]
fn abort_many_tasks_while_they_run() {
    watchdog("abort_many", || {
        const N: usize = 10_000;
        let rt = runtime(2, "abort");
        let drops = counter();
        let started = counter();
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let guard = DropGuard(drops.clone());
                let started = started.clone();
                rt.spawn(async move {
                    let _guard = guard;
                    started.fetch_add(1, SeqCst);
                    if i % 2 == 0 {
                        std::future::pending::<()>().await
                    } else {
                        loop {
                            gort::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        while started.load(SeqCst) < N / 2 {
            std::thread::yield_now();
        }
        for h in &handles {
            h.abort();
        }
        let cancelled = rt.block_on(async move {
            let mut cancelled = 0;
            for h in handles {
                if h.await.unwrap_err().is_cancelled() {
                    cancelled += 1;
                }
            }
            cancelled
        });
        assert_eq!(cancelled, N);
        assert_eq!(drops.load(SeqCst), N);
        assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);
    });
}
