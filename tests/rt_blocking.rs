//! `spawn_blocking`: closures run on the blocking pool, never on a worker;
//! many run at once; their panics come back as `JoinError`; they see their
//! runtime as current; they work outside any runtime (global runtime).
//!
//! Concurrency is shown by counting how many closures are inside at once
//! (and by a barrier that only opens when all of them are), never by
//! measuring time.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

use gort::runtime::Handle;

mod common;
use common::{runtime, thread_name, watchdog};

#[test]
fn runs_off_the_workers() {
    watchdog("off_workers", || {
        let rt = runtime(2, "blk");
        let (from_task, from_block_on) = rt.block_on(async {
            let from_task = gort::spawn(async { gort::spawn_blocking(thread_name).await.unwrap() })
                .await
                .unwrap();
            (from_task, gort::spawn_blocking(thread_name).await.unwrap())
        });
        for name in [
            from_task,
            from_block_on,
            rt.block_on(rt.spawn_blocking(thread_name)).unwrap(),
        ] {
            assert!(name.contains("blocking"), "ran on {name:?}");
            assert!(name.starts_with("blk"), "ran on {name:?}");
            assert!(!name.contains("worker"), "ran on a worker: {name:?}");
        }
    });
}

/// 64 closures that each sleep 50 ms: all of them run, and they overlap
/// (more than one is inside at the same moment).
#[test]
fn many_sleeping_blocking_tasks_overlap() {
    watchdog("overlap", || {
        const TASKS: usize = 64;
        let rt = runtime(2, "sleepy");
        let inside = Arc::new(AtomicUsize::new(0));
        let max_inside = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                let (inside, max_inside) = (inside.clone(), max_inside.clone());
                rt.spawn_blocking(move || {
                    let now = inside.fetch_add(1, SeqCst) + 1;
                    max_inside.fetch_max(now, SeqCst);
                    std::thread::sleep(Duration::from_millis(50));
                    inside.fetch_sub(1, SeqCst);
                    i
                })
            })
            .collect();
        let sum: usize = rt.block_on(async {
            let mut sum = 0;
            for h in handles {
                sum += h.await.unwrap();
            }
            sum
        });
        assert_eq!(sum, TASKS * (TASKS - 1) / 2, "every blocking task ran once");
        assert_eq!(inside.load(SeqCst), 0);
        let max = max_inside.load(SeqCst);
        assert!(
            max > 1,
            "blocking tasks ran one at a time (max {max} inside at once)"
        );
        eprintln!("{max} of {TASKS} blocking tasks were inside at once");
    });
}

/// 64 closures that can only finish once all 64 are inside (a barrier):
/// the pool must run them all at the same time. A pool that ran fewer
/// at once would hang here, and the watchdog would report it.
#[test]
fn blocking_tasks_all_run_at_the_same_time() {
    watchdog("barrier", || {
        const TASKS: usize = 64;
        let rt = runtime(2, "barrier");
        let barrier = Arc::new(Barrier::new(TASKS));
        let threads: Vec<_> = (0..TASKS)
            .map(|_| {
                let barrier = barrier.clone();
                rt.spawn_blocking(move || {
                    barrier.wait();
                    std::thread::current().id()
                })
            })
            .collect();
        let ids = rt.block_on(async {
            let mut ids = std::collections::HashSet::new();
            for h in threads {
                ids.insert(h.await.unwrap());
            }
            ids
        });
        assert_eq!(ids.len(), TASKS, "each ran on its own thread");
    });
}

/// Workers keep running tasks while every blocking thread is busy.
#[test]
fn busy_blocking_pool_does_not_stall_tasks() {
    watchdog("no_stall", || {
        let rt = runtime(2, "nostall");
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(std::sync::Mutex::new(release_rx));
        let blocked: Vec<_> = (0..16)
            .map(|_| {
                let rx = release_rx.clone();
                rt.spawn_blocking(move || rx.lock().unwrap().recv().unwrap())
            })
            .collect();
        let sum: u64 = rt.block_on(async {
            let hs: Vec<_> = (0..10_000u64)
                .map(|i| gort::spawn(async move { i }))
                .collect();
            let mut s = 0;
            for h in hs {
                s += h.await.unwrap();
            }
            s
        });
        assert_eq!(sum, 49_995_000);
        for _ in 0..16 {
            release_tx.send(()).unwrap();
        }
        for h in blocked {
            rt.block_on(h).unwrap();
        }
    });
}

#[test]
fn panics_come_back_as_join_error() {
    watchdog("panics", || {
        let rt = runtime(2, "blkpanic");
        for i in 0..20 {
            let err = rt
                .block_on(rt.spawn_blocking(move || -> u32 { panic!("blocking boom {i}") }))
                .unwrap_err();
            assert!(err.is_panic());
            assert_eq!(
                *err.into_panic().downcast::<String>().unwrap(),
                format!("blocking boom {i}")
            );
        }
        let err = rt
            .block_on(rt.spawn_blocking(|| std::panic::panic_any(17u8)))
            .unwrap_err();
        assert_eq!(*err.into_panic().downcast::<u8>().unwrap(), 17);
        // The pool still works.
        assert_eq!(rt.block_on(rt.spawn_blocking(|| 5)).unwrap(), 5);
    });
}

#[test]
fn many_sequential_blocking_tasks() {
    watchdog("sequential", || {
        let rt = runtime(2, "seq");
        let threads = rt.block_on(async {
            let mut threads = std::collections::HashSet::new();
            let mut sum = 0u64;
            for i in 0..2_000u64 {
                let (v, id) = gort::spawn_blocking(move || (i, std::thread::current().id()))
                    .await
                    .unwrap();
                sum += v;
                threads.insert(id);
            }
            assert_eq!(sum, 1_999_000);
            threads
        });
        // How many threads served them depends on scheduling (a thread
        // still finishing one task when the next is queued makes the pool
        // start another), so it is reported, not asserted.
        eprintln!(
            "{} threads served 2000 sequential blocking tasks",
            threads.len()
        );
    });
}

#[test]
fn blocking_closure_sees_its_runtime() {
    watchdog("context", || {
        let rt = runtime(2, "ctx");
        let (workers, child_thread, via_block_on) = rt
            .block_on(rt.spawn_blocking(|| {
                let handle =
                    Handle::try_current().expect("a blocking thread is inside its runtime");
                let child = handle.spawn(async { thread_name() });
                let child_thread = gort::block_on(child).unwrap();
                let via_block_on =
                    gort::block_on(async { gort::spawn(async { 3 }).await.unwrap() });
                (handle.num_workers(), child_thread, via_block_on)
            }))
            .unwrap();
        assert_eq!(workers, 2);
        assert!(child_thread.starts_with("ctx-worker-"), "{child_thread}");
        assert_eq!(via_block_on, 3);
    });
}

/// A blocking closure cannot be interrupted: abort while it runs leaves it
/// to finish, and its result is delivered.
#[test]
fn abort_of_a_running_blocking_task_lets_it_finish() {
    watchdog("abort_blocking", || {
        let rt = runtime(2, "blkabort");
        let (entered_tx, entered_rx) = mpsc::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let finished = Arc::new(AtomicUsize::new(0));
        let f = finished.clone();
        let h = rt.spawn_blocking(move || {
            entered_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            f.fetch_add(1, SeqCst);
            "done"
        });
        entered_rx.recv().unwrap();
        h.abort();
        release_tx.send(()).unwrap();
        let res = rt.block_on(h);
        assert_eq!(finished.load(SeqCst), 1, "the closure ran to its end");
        assert_eq!(res.unwrap(), "done");
    });
}

#[test]
fn spawn_blocking_outside_any_runtime_uses_the_global_one() {
    watchdog("global_blocking", || {
        std::thread::spawn(|| {
            assert!(Handle::try_current().is_err());
            let h = gort::spawn_blocking(|| (thread_name(), Handle::try_current().is_ok()));
            let (name, inside) = gort::block_on(h).unwrap();
            assert!(
                name.starts_with("gort-global") && name.contains("blocking"),
                "{name}"
            );
            assert!(inside);
        })
        .join()
        .unwrap();
    });
}
