//! Panics in tasks: they come back as `JoinError` with the payload, never
//! take a worker down, and a panic in a task's destructor (after it
//! completed, when it is aborted, or in its output's destructor) is
//! contained as well.
//!
//! The default panic hook stays in place (it is process-global and tests
//! run in parallel), so these tests print panic messages; that is expected.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use futures::channel::oneshot;

mod common;
use common::{runtime, watchdog, DropGuard};

/// Panics when dropped (unless already unwinding).
struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("{}", self.0);
        }
    }
}

#[derive(Debug, PartialEq)]
struct CustomPayload(u32);

#[test]
fn panic_payloads_come_back_in_join_error() {
    watchdog("payloads", || {
        let rt = runtime(2, "panic");
        rt.block_on(async {
            let err = gort::spawn(async { panic!("static boom") })
                .await
                .unwrap_err();
            assert!(err.is_panic());
            assert!(!err.is_cancelled());
            assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "static boom");

            let n = 7;
            let err = gort::spawn(async move {
                if n == 7 {
                    panic!("formatted boom {n}");
                }
                n
            })
            .await
            .unwrap_err();
            assert!(err.is_panic());
            assert_eq!(
                *err.into_panic().downcast::<String>().unwrap(),
                "formatted boom 7"
            );

            let err = gort::spawn(async { std::panic::panic_any(CustomPayload(42)) })
                .await
                .unwrap_err();
            let payload = err.try_into_panic().expect("a panic, not a cancellation");
            assert_eq!(
                *payload.downcast::<CustomPayload>().unwrap(),
                CustomPayload(42)
            );
        });
    });
}

#[test]
fn join_error_display_and_try_into_panic() {
    watchdog("display", || {
        let rt = runtime(1, "panic");
        rt.block_on(async {
            let h = gort::spawn(async { panic!("shown in display") });
            let id = h.id();
            let err = h.await.unwrap_err();
            assert_eq!(err.id(), id);
            let shown = err.to_string();
            assert!(
                shown.contains("panicked") && shown.contains("shown in display"),
                "{shown}"
            );
            assert!(format!("{err:?}").contains("shown in display"));

            let h = gort::spawn(std::future::pending::<()>());
            h.abort();
            let err = h.await.unwrap_err();
            assert!(err.to_string().contains("cancelled"), "{err}");
            let err = err.try_into_panic().unwrap_err();
            assert!(
                err.is_cancelled(),
                "try_into_panic gives a cancellation back"
            );
            let again = catch_unwind(AssertUnwindSafe(|| err.into_panic()));
            assert!(again.is_err(), "into_panic on a cancellation panics");

            // `JoinError` converts into `io::Error` for `?` in io code.
            let io: std::io::Error = gort::spawn(async { panic!("io") })
                .await
                .unwrap_err()
                .into();
            assert!(io.to_string().contains("io"));
        });
    });
}

/// One worker, 100 panicking tasks: the worker survives them all and runs
/// what is spawned afterwards.
#[test]
fn worker_survives_many_panicking_tasks() {
    watchdog("survives", || {
        // Printing a panic with its backtrace can take longer than the
        // blocking threshold; sysmon would then move the permit to another
        // thread, which is not what this test looks at.
        let rt = gort::runtime::Builder::new()
            .worker_threads(1)
            .thread_name("panic")
            .blocking_threshold(std::time::Duration::from_secs(60))
            .build()
            .unwrap();
        let drops = Arc::new(AtomicUsize::new(0));
        let panicking: Vec<_> = (0..100u32)
            .map(|i| {
                let guard = DropGuard(drops.clone());
                rt.spawn(async move {
                    let _guard = guard;
                    gort::yield_now().await;
                    panic!("task {i} panics");
                })
            })
            .collect();
        let panics = rt.block_on(async {
            let mut panics = 0;
            for h in panicking {
                if h.await.unwrap_err().is_panic() {
                    panics += 1;
                }
            }
            panics
        });
        assert_eq!(panics, 100);
        assert_eq!(drops.load(SeqCst), 100, "each panicking future was dropped");
        let worker_threads = rt.block_on(async {
            let handles: Vec<_> = (0..1000u64)
                .map(|i| {
                    gort::spawn(
                        async move { (i, std::thread::current().name().unwrap().to_string()) },
                    )
                })
                .collect();
            let mut sum = 0;
            let mut names = std::collections::HashSet::new();
            for h in handles {
                let (i, name) = h.await.unwrap();
                sum += i;
                names.insert(name);
            }
            assert_eq!(sum, 499_500);
            names
        });
        assert_eq!(
            worker_threads.into_iter().collect::<Vec<_>>(),
            vec!["panic-worker-0".to_string()],
            "the same single worker still runs tasks"
        );
    });
}

/// A panicking parent does not take its detached children with it.
#[test]
fn children_of_a_panicking_task_keep_running() {
    watchdog("children", || {
        let rt = runtime(2, "panic");
        let (tx, rx) = oneshot::channel::<u32>();
        let parent = rt.spawn(async move {
            gort::spawn(async move {
                gort::yield_now().await;
                tx.send(11).unwrap();
            });
            panic!("parent panics");
        });
        assert!(rt.block_on(parent).unwrap_err().is_panic());
        assert_eq!(rt.block_on(rx).unwrap(), 11);
    });
}

/// The future returns a value, then panics while being dropped: the
/// destructor's panic is reported (the value is lost with it).
#[test]
fn panic_in_drop_of_a_completed_future() {
    watchdog("drop_completed", || {
        let rt = runtime(1, "panic");
        rt.block_on(async {
            let bomb = PanicOnDrop("drop after completion");
            let err = gort::spawn(async move {
                let _bomb = bomb;
                5u32
            })
            .await
            .unwrap_err();
            assert!(err.is_panic());
            assert_eq!(
                *err.into_panic().downcast::<String>().unwrap(),
                "drop after completion"
            );
        });
        assert_eq!(
            rt.block_on(rt.spawn(async { 1 })).unwrap(),
            1,
            "the worker survived"
        );
    });
}

/// An aborted future panics in its destructor: the handle reports the
/// panic and the worker survives.
#[test]
fn panic_in_drop_of_an_aborted_future() {
    watchdog("drop_aborted", || {
        let rt = runtime(1, "panic");
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let bomb = PanicOnDrop("drop on abort");
        let h = rt.spawn(async move {
            let _bomb = bomb;
            started_tx.send(()).unwrap();
            std::future::pending::<()>().await
        });
        rt.block_on(started_rx).unwrap();
        h.abort();
        let err = rt.block_on(h).unwrap_err();
        assert!(err.is_panic(), "{err:?}");
        assert_eq!(
            *err.into_panic().downcast::<String>().unwrap(),
            "drop on abort"
        );
        assert_eq!(
            rt.block_on(rt.spawn(async { 2 })).unwrap(),
            2,
            "the worker survived"
        );
    });
}

/// The task's output panics when dropped, and nobody takes it: dropping
/// the handle before or after completion is harmless.
#[test]
fn panic_in_drop_of_an_unclaimed_output() {
    watchdog("drop_output", || {
        let rt = runtime(1, "panic");
        // Handle dropped after completion: the output is dropped here.
        let h = rt.spawn(async { PanicOnDrop("output dropped by the handle") });
        while !h.is_finished() {
            std::thread::yield_now();
        }
        drop(h);
        // Handle dropped first: the worker drops the output at completion.
        let (go_tx, go_rx) = oneshot::channel::<()>();
        let h = rt.spawn(async move {
            go_rx.await.unwrap();
            PanicOnDrop("output dropped by the worker")
        });
        drop(h);
        go_tx.send(()).unwrap();
        for _ in 0..10 {
            assert_eq!(
                rt.block_on(rt.spawn(async { 3 })).unwrap(),
                3,
                "the worker survived"
            );
        }
    });
}

/// A panic in the poll itself drops what is left of the future once.
#[test]
fn panicking_future_is_dropped_once() {
    watchdog("dropped_once", || {
        let rt = runtime(2, "panic");
        let drops = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..1000)
            .map(|i| {
                let guard = DropGuard(drops.clone());
                rt.spawn(async move {
                    let _guard = guard;
                    if i % 3 == 0 {
                        gort::yield_now().await;
                    }
                    panic!("boom {i}")
                })
            })
            .collect();
        for h in handles {
            assert!(rt.block_on(h).unwrap_err().is_panic());
        }
        assert_eq!(drops.load(SeqCst), 1000);
    });
}

/// A panic in `Runtime::block_on`'s own future reaches its caller; the
/// runtime stays usable.
#[test]
fn panic_in_block_on_future_reaches_the_caller() {
    watchdog("block_on_panic", || {
        let rt = runtime(2, "panic");
        let res = catch_unwind(AssertUnwindSafe(|| {
            rt.block_on(async {
                gort::yield_now().await;
                panic!("in block_on");
            })
        }));
        let payload = res.unwrap_err();
        assert_eq!(*payload.downcast::<&str>().unwrap(), "in block_on");
        assert_eq!(rt.block_on(rt.spawn(async { 4 })).unwrap(), 4);
        assert!(
            gort::runtime::Handle::try_current().is_err(),
            "the context was left while unwinding"
        );
    });
}

/// `block_on` on a worker is refused with a panic (it would stall the
/// processor); the panic is the task's, and the worker survives it.
#[test]
fn block_on_inside_a_task_panics_that_task_only() {
    watchdog("block_on_in_task", || {
        let rt = runtime(1, "panic");
        let err = rt
            .block_on(rt.spawn(async { gort::block_on(async { 1 }) }))
            .unwrap_err();
        assert!(err.is_panic());
        let msg = *err.into_panic().downcast::<&str>().unwrap();
        assert!(msg.contains("worker thread"), "{msg}");
        assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);
    });
}

/// A joiner whose waker panics (a foreign executor's bug) must not take the
/// worker down: the runtime keeps running tasks and shuts down normally.
#[test]
fn a_panicking_join_waker_does_not_kill_the_worker() {
    watchdog("panicking_join_waker", || {
        struct PanicWaker;
        impl futures::task::ArcWake for PanicWaker {
            fn wake_by_ref(_: &Arc<Self>) {
                panic!("this waker panics");
            }
        }
        let rt = runtime(1, "panicwaker");
        let (tx, rx) = oneshot::channel::<()>();
        let mut handle = rt.spawn(async move {
            let _ = rx.await;
            5
        });
        // Register the panicking waker as the joiner's.
        let waker = futures::task::waker(Arc::new(PanicWaker));
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(std::future::Future::poll(std::pin::Pin::new(&mut handle), &mut cx).is_pending());
        tx.send(()).unwrap();
        // The task completes on the worker, which wakes the panicking waker.
        // Poll again only after that, so the panicking waker is the one woken.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !handle.is_finished() {
            assert!(
                std::time::Instant::now() < deadline,
                "the task never completed"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let v = gort::block_on(handle).unwrap();
        assert_eq!(v, 5);
        // The single worker still runs tasks.
        let sum = rt.block_on(async {
            let hs: Vec<_> = (0..100u64).map(|i| gort::spawn(async move { i })).collect();
            let mut s = 0;
            for h in hs {
                s += h.await.unwrap();
            }
            s
        });
        assert_eq!(sum, 4950);
        drop(rt);
    });
}
