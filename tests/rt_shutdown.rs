//! Shutting a runtime down: `drop(rt)` and `shutdown_timeout` drop every
//! task's future (destructors run, nothing leaks), resolve the kept
//! `JoinHandle`s to cancelled errors, and never hang, including when
//! destructors spawn new tasks, when tasks are busy waking each other,
//! when a destructor panics, and when the runtime is dropped from inside
//! one of its own tasks.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use futures::channel::{mpsc as fmpsc, oneshot};
use futures::{SinkExt, StreamExt};
use gort::runtime::{Handle, Runtime};
use gort::JoinHandle;

mod common;
use common::{counter, runtime, watchdog, DropGuard};

/// Waits for something that must happen eventually (threads the test does
/// not join); fails after a minute: a leak or hang detector, not a timing
/// assertion.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Awaits every handle on the calling (plain) thread; counts cancellations.
fn count_cancelled<T>(handles: Vec<JoinHandle<T>>) -> usize {
    gort::block_on(async move {
        let mut cancelled = 0;
        for h in handles {
            match h.await {
                Err(e) if e.is_cancelled() => cancelled += 1,
                Err(e) => panic!("expected a cancellation, got {e:?}"),
                Ok(_) => panic!("a task that waits forever completed"),
            }
        }
        cancelled
    })
}

const PENDING_TASKS: usize = 100_000;

/// Spawns `PENDING_TASKS` tasks that each hold a guard and wait forever:
/// even ones on `std::future::pending`, odd ones on a oneshot whose sender
/// the caller keeps. Returns once every task has been polled at least once
/// (so the runtime knows them only through its registries).
fn spawn_parked(
    rt: &Runtime,
    drops: &Arc<AtomicUsize>,
) -> (Vec<JoinHandle<()>>, Vec<oneshot::Sender<()>>) {
    let started = counter();
    let mut handles = Vec::with_capacity(PENDING_TASKS);
    let mut senders = Vec::with_capacity(PENDING_TASKS / 2);
    for i in 0..PENDING_TASKS {
        let guard = DropGuard(drops.clone());
        let started = started.clone();
        if i % 2 == 0 {
            handles.push(rt.spawn(async move {
                let _guard = guard;
                started.fetch_add(1, SeqCst);
                std::future::pending::<()>().await
            }));
        } else {
            let (tx, rx) = oneshot::channel::<()>();
            senders.push(tx);
            handles.push(rt.spawn(async move {
                let _guard = guard;
                started.fetch_add(1, SeqCst);
                let _ = rx.await;
                unreachable!("the sender never fires");
            }));
        }
    }
    rt.block_on(async {
        while started.load(SeqCst) < PENDING_TASKS {
            gort::yield_now().await;
        }
    });
    (handles, senders)
}

#[test]
fn drop_runtime_with_100k_pending_tasks() {
    watchdog("drop_100k", || {
        let rt = runtime(2, "drop100k");
        let drops = counter();
        let (handles, senders) = spawn_parked(&rt, &drops);
        assert_eq!(drops.load(SeqCst), 0);
        drop(rt);
        assert_eq!(
            drops.load(SeqCst),
            PENDING_TASKS,
            "every future was dropped"
        );
        assert!(
            senders.iter().all(|tx| tx.is_canceled()),
            "every receiver was dropped"
        );
        assert_eq!(count_cancelled(handles), PENDING_TASKS);
    });
}

#[test]
fn shutdown_timeout_with_100k_pending_tasks() {
    watchdog("shutdown_timeout_100k", || {
        let rt = runtime(2, "sd100k");
        let drops = counter();
        let (handles, senders) = spawn_parked(&rt, &drops);
        // Generous: nothing blocks, so it returns as soon as the drain is done.
        rt.shutdown_timeout(Duration::from_secs(60));
        assert_eq!(
            drops.load(SeqCst),
            PENDING_TASKS,
            "every future was dropped"
        );
        assert!(senders.iter().all(|tx| tx.is_canceled()));
        assert_eq!(count_cancelled(handles), PENDING_TASKS);
    });
}

/// Tasks still sitting in the run queues (never polled) are dropped too.
#[test]
fn drop_runtime_right_after_spawning() {
    watchdog("drop_unpolled", || {
        for workers in [1, 2] {
            let rt = runtime(workers, "unpolled");
            let drops = counter();
            let handles: Vec<_> = (0..PENDING_TASKS)
                .map(|_| {
                    let guard = DropGuard(drops.clone());
                    rt.spawn(async move {
                        let _guard = guard;
                        std::future::pending::<()>().await
                    })
                })
                .collect();
            drop(rt);
            assert_eq!(drops.load(SeqCst), PENDING_TASKS);
            assert_eq!(count_cancelled(handles), PENDING_TASKS);
        }
    });
}

/// Spawned from inside a task (local queues and LIFO slots, not the
/// injector) and dropped while the spawner is still spawning.
#[test]
fn drop_runtime_while_a_task_spawns() {
    watchdog("drop_while_spawning", || {
        let rt = runtime(2, "spawning");
        let drops = counter();
        let spawned = counter();
        let (d, s) = (drops.clone(), spawned.clone());
        let (first_tx, first_rx) = oneshot::channel::<()>();
        let spawner = rt.spawn(async move {
            let mut first = Some(first_tx);
            loop {
                let guard = DropGuard(d.clone());
                gort::spawn(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await
                });
                s.fetch_add(1, SeqCst);
                if s.load(SeqCst) == 1_000 {
                    first.take().unwrap().send(()).unwrap();
                }
                if s.load(SeqCst) % 64 == 0 {
                    gort::yield_now().await;
                }
            }
        });
        rt.block_on(first_rx).unwrap();
        drop(rt);
        assert_eq!(
            drops.load(SeqCst),
            spawned.load(SeqCst),
            "every spawned future was dropped"
        );
        assert!(gort::block_on(spawner).unwrap_err().is_cancelled());
    });
}

/// A guard whose destructor spawns a new task (which holds a guard of its
/// own and spawns again when dropped, `depth` times), via `gort::spawn`,
/// `Handle::current().spawn` and `gort::spawn_blocking` in turn.
struct SpawnOnDrop {
    depth: u32,
    drops: Arc<AtomicUsize>,
    handles: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Drop for SpawnOnDrop {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
        if self.depth == 0 {
            return;
        }
        let next = SpawnOnDrop {
            depth: self.depth - 1,
            drops: self.drops.clone(),
            handles: self.handles.clone(),
        };
        let handle = match self.depth % 3 {
            0 => gort::spawn(async move {
                let _next = next;
                std::future::pending::<()>().await
            }),
            1 => Handle::current().spawn(async move {
                let _next = next;
                std::future::pending::<()>().await
            }),
            // Rejected once the blocking pool has shut down; may still run
            // if it gets there first. Either way `next` is dropped once.
            _ => gort::spawn_blocking(move || drop(next)),
        };
        self.handles.lock().unwrap().push(handle);
    }
}

#[test]
fn tasks_spawned_from_destructors_during_shutdown() {
    watchdog("spawn_in_drop", || {
        const TASKS: usize = 10_000;
        const DEPTH: u32 = 3;
        let rt = runtime(2, "dtor");
        let drops = counter();
        let inner_handles = Arc::new(Mutex::new(Vec::new()));
        let started = counter();
        let outer: Vec<_> = (0..TASKS)
            .map(|_| {
                let guard = SpawnOnDrop {
                    depth: DEPTH,
                    drops: drops.clone(),
                    handles: inner_handles.clone(),
                };
                let started = started.clone();
                rt.spawn(async move {
                    let _guard = guard;
                    started.fetch_add(1, SeqCst);
                    std::future::pending::<()>().await
                })
            })
            .collect();
        rt.block_on(async {
            while started.load(SeqCst) < TASKS / 2 {
                gort::yield_now().await;
            }
        });
        drop(rt);
        // Each outer guard and each of the DEPTH guards it spawned in turn.
        assert_eq!(
            drops.load(SeqCst),
            TASKS * (DEPTH as usize + 1),
            "a spawned-in-drop future leaked"
        );
        assert_eq!(count_cancelled(outer), TASKS);
        let inner = std::mem::take(&mut *inner_handles.lock().unwrap());
        assert_eq!(inner.len(), TASKS * DEPTH as usize);
        // Every inner handle resolves: cancelled, or (a blocking task that
        // ran before the pool closed) done. None panicked or hangs.
        let resolved = gort::block_on(async move {
            let mut resolved = 0;
            for h in inner {
                match h.await {
                    Ok(()) => resolved += 1,
                    Err(e) if e.is_cancelled() => resolved += 1,
                    Err(e) => panic!("{e:?}"),
                }
            }
            resolved
        });
        assert_eq!(resolved, TASKS * DEPTH as usize);
    });
}

/// Blocking tasks still queued when the runtime shuts down are dropped by
/// the thread that drops the runtime. A destructor there that spawns (as
/// in `tasks_spawned_from_destructors_during_shutdown`) must not leak the
/// new task: it is dropped with the runtime, not parked somewhere forever.
///
/// To get tasks queued deterministically, the pool is filled to its
/// documented cap of 512 threads with closures that wait on a gate.
#[test]
fn destructor_of_a_queued_blocking_task_spawns_during_shutdown() {
    struct SpawnOnDrop {
        spawned_drops: Arc<AtomicUsize>,
        spawned: Arc<Mutex<Vec<JoinHandle<()>>>>,
        saw_runtime: Arc<Mutex<Vec<bool>>>,
        dropped: mpsc::Sender<()>,
    }
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            self.saw_runtime
                .lock()
                .unwrap()
                .push(Handle::try_current().is_ok());
            let guard = DropGuard(self.spawned_drops.clone());
            let h = gort::spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            });
            self.spawned.lock().unwrap().push(h);
            let _ = self.dropped.send(());
        }
    }
    watchdog("queued_blocking_dtor", || {
        const POOL_CAP: usize = 512; // documented on `gort::spawn_blocking`
        const QUEUED: usize = 8;
        let rt = runtime(1, "queued");
        let started = counter();
        let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let running: Vec<_> = (0..POOL_CAP)
            .map(|_| {
                let (started, gate) = (started.clone(), gate.clone());
                rt.spawn_blocking(move || {
                    started.fetch_add(1, SeqCst);
                    let (open, cv) = &*gate;
                    let mut open = open.lock().unwrap();
                    while !*open {
                        open = cv.wait(open).unwrap();
                    }
                })
            })
            .collect();
        eventually("the pool runs its full complement of threads", || {
            started.load(SeqCst) == POOL_CAP
        });
        let spawned_drops = counter();
        let spawned = Arc::new(Mutex::new(Vec::new()));
        let saw_runtime = Arc::new(Mutex::new(Vec::new()));
        let (dropped_tx, dropped_rx) = mpsc::channel();
        let queued: Vec<_> = (0..QUEUED)
            .map(|_| {
                let on_drop = SpawnOnDrop {
                    spawned_drops: spawned_drops.clone(),
                    spawned: spawned.clone(),
                    saw_runtime: saw_runtime.clone(),
                    dropped: dropped_tx.clone(),
                };
                rt.spawn_blocking(move || drop(on_drop))
            })
            .collect();
        // Shutting down cancels the queued closures at once, then waits for
        // the running ones, which the gate releases once the queued ones
        // are gone.
        let closer = std::thread::spawn(move || drop(rt));
        for _ in 0..QUEUED {
            dropped_rx.recv().unwrap();
        }
        {
            let (open, cv) = &*gate;
            *open.lock().unwrap() = true;
            cv.notify_all();
        }
        closer.join().unwrap();
        assert_eq!(count_cancelled(queued), QUEUED);
        gort::block_on(async {
            for h in running {
                h.await.unwrap();
            }
        });
        let saw_runtime = saw_runtime.lock().unwrap().clone();
        let spawned = std::mem::take(&mut *spawned.lock().unwrap());
        assert_eq!(spawned.len(), QUEUED);
        let finished = spawned.iter().filter(|h| h.is_finished()).count();
        assert_eq!(
            (spawned_drops.load(SeqCst), finished),
            (QUEUED, QUEUED),
            "tasks spawned by destructors during shutdown are still alive after drop(rt) \
             returned (the destructors saw Handle::try_current().is_ok() == {saw_runtime:?})"
        );
        assert_eq!(count_cancelled(spawned), QUEUED);
    });
}

/// A plain thread blocked on a `JoinHandle` is woken by the shutdown.
#[test]
fn shutdown_wakes_threads_blocked_on_join_handles() {
    watchdog("wake_joiners", || {
        let rt = runtime(2, "joiners");
        let joiners: Vec<_> = (0..8)
            .map(|_| {
                let h = rt.spawn(std::future::pending::<()>());
                std::thread::spawn(move || gort::block_on(h))
            })
            .collect();
        drop(rt);
        for j in joiners {
            assert!(j.join().unwrap().unwrap_err().is_cancelled());
        }
    });
}

/// 100 pairs of tasks ping-pong forever; the drop interrupts them.
#[test]
fn drop_runtime_while_tasks_ping_pong() {
    watchdog("drop_busy", || {
        const PAIRS: usize = 100;
        let rt = runtime(2, "busy");
        let drops = counter();
        let exchanges = counter();
        for _ in 0..PAIRS {
            let (mut a_tx, mut a_rx) = fmpsc::channel::<u64>(1);
            let (mut b_tx, mut b_rx) = fmpsc::channel::<u64>(1);
            let (g1, g2) = (DropGuard(drops.clone()), DropGuard(drops.clone()));
            let ex = exchanges.clone();
            rt.spawn(async move {
                let _g = g1;
                a_tx.send(0).await.unwrap();
                while let Some(v) = b_rx.next().await {
                    ex.fetch_add(1, SeqCst);
                    if a_tx.send(v + 1).await.is_err() {
                        break;
                    }
                }
            });
            rt.spawn(async move {
                let _g = g2;
                while let Some(v) = a_rx.next().await {
                    if b_tx.send(v + 1).await.is_err() {
                        break;
                    }
                }
            });
        }
        while exchanges.load(SeqCst) < 10_000 {
            std::thread::yield_now();
        }
        drop(rt);
        assert_eq!(drops.load(SeqCst), 2 * PAIRS);
    });
}

/// A destructor that panics during shutdown is contained: the drop
/// returns and every other future is still dropped.
#[test]
fn panicking_destructor_during_shutdown() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("destructor panics during shutdown");
        }
    }
    watchdog("panic_in_shutdown", || {
        let rt = runtime(2, "dtorpanic");
        let drops = counter();
        let started = counter();
        let mut handles = Vec::new();
        for i in 0..1_000 {
            let guard = DropGuard(drops.clone());
            let started = started.clone();
            handles.push(rt.spawn(async move {
                let _guard = guard;
                let _bomb = if i % 10 == 0 { Some(PanicOnDrop) } else { None };
                started.fetch_add(1, SeqCst);
                std::future::pending::<()>().await
            }));
        }
        rt.block_on(async {
            while started.load(SeqCst) < 1_000 {
                gort::yield_now().await;
            }
        });
        drop(rt);
        assert_eq!(drops.load(SeqCst), 1_000);
        let (mut panicked, mut cancelled) = (0, 0);
        gort::block_on(async {
            for h in handles {
                let e = h.await.unwrap_err();
                if e.is_panic() {
                    panicked += 1;
                } else if e.is_cancelled() {
                    cancelled += 1;
                }
            }
        });
        assert_eq!(panicked + cancelled, 1_000);
        assert_eq!(
            panicked, 100,
            "a destructor's panic is reported as the task's panic"
        );
    });
}

/// A `Handle` outliving its runtime: spawning on it drops the future at
/// once and the handle resolves to a cancellation; nothing hangs.
#[test]
fn spawn_on_handle_after_shutdown() {
    watchdog("spawn_after_shutdown", || {
        let rt = runtime(2, "after");
        let handle = rt.handle().clone();
        drop(rt);
        let drops = counter();
        let guard = DropGuard(drops.clone());
        let h = handle.spawn(async move {
            let _guard = guard;
            1
        });
        assert!(gort::block_on(h).unwrap_err().is_cancelled());
        assert_eq!(drops.load(SeqCst), 1);
        let guard = DropGuard(drops.clone());
        let b = handle.spawn_blocking(move || {
            let _guard = guard;
            2
        });
        assert!(gort::block_on(b).unwrap_err().is_cancelled());
        assert_eq!(drops.load(SeqCst), 2);
    });
}

/// `shutdown_timeout` returns although a blocking task is still running;
/// the task finishes on its own afterwards.
#[test]
fn shutdown_timeout_does_not_wait_forever_for_blocking_tasks() {
    watchdog("timeout_blocking", || {
        let rt = runtime(1, "sdblk");
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (entered_tx, entered_rx) = mpsc::channel::<()>();
        let blocking = rt.spawn_blocking(move || {
            entered_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            "finished"
        });
        entered_rx.recv().unwrap();
        rt.shutdown_timeout(Duration::from_millis(100));
        release_tx.send(()).unwrap();
        assert_eq!(gort::block_on(blocking).unwrap(), "finished");
    });
}

/// A worker stuck inside one poll: `shutdown_timeout` returns anyway, and
/// once the stuck task returns the last worker still drops every task.
#[test]
fn shutdown_timeout_with_a_stuck_worker() {
    watchdog("timeout_stuck", || {
        let rt = runtime(2, "stuck");
        let drops = counter();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (entered_tx, entered_rx) = mpsc::channel::<()>();
        let guard = DropGuard(drops.clone());
        let stuck = rt.spawn(async move {
            let _guard = guard;
            entered_tx.send(()).unwrap();
            release_rx.recv().unwrap(); // blocks the worker thread
            std::future::pending::<()>().await
        });
        entered_rx.recv().unwrap();
        let started = counter();
        let others: Vec<_> = (0..1_000)
            .map(|_| {
                let guard = DropGuard(drops.clone());
                let started = started.clone();
                rt.spawn(async move {
                    let _guard = guard;
                    started.fetch_add(1, SeqCst);
                    std::future::pending::<()>().await
                })
            })
            .collect();
        eventually("the free worker polled the other tasks", || {
            started.load(SeqCst) == 1_000
        });
        rt.shutdown_timeout(Duration::from_millis(100));
        release_tx.send(()).unwrap();
        eventually(
            "every future was dropped after the stuck poll returned",
            || drops.load(SeqCst) == 1_001,
        );
        assert!(gort::block_on(stuck).unwrap_err().is_cancelled());
        assert_eq!(count_cancelled(others), 1_000);
    });
}

/// Dropping a runtime from inside one of its own tasks must not deadlock
/// (the worker cannot wait for itself); the other tasks are still dropped.
#[test]
fn drop_runtime_from_inside_its_own_task() {
    watchdog("drop_from_task", || {
        let rt = runtime(2, "selfdrop");
        let drops = counter();
        let others: Vec<_> = (0..100)
            .map(|_| {
                let guard = DropGuard(drops.clone());
                rt.spawn(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await
                })
            })
            .collect();
        let handle = rt.handle().clone();
        let dropper = handle.spawn(async move {
            drop(rt);
            "dropped"
        });
        assert_eq!(gort::block_on(dropper).unwrap(), "dropped");
        eventually("every other task was dropped", || drops.load(SeqCst) == 100);
        assert_eq!(count_cancelled(others), 100);
    });
}

/// A runtime that is built and dropped many times leaves nothing behind
/// (no stuck threads: each drop returns).
#[test]
fn build_and_drop_many_runtimes() {
    watchdog("many_runtimes", || {
        for i in 0..100u32 {
            let rt = runtime(1 + (i % 3) as usize, "churn");
            let h = rt.spawn(async move { i });
            assert_eq!(rt.block_on(h).unwrap(), i);
            let _parked = rt.spawn(std::future::pending::<()>());
            if i % 2 == 0 {
                drop(rt);
            } else {
                rt.shutdown_timeout(Duration::from_secs(60));
            }
        }
    });
}

/// Go's daisy chain, idle when the runtime drops: task i waits on a oneshot
/// and holds the sender of task i+1, so cancelling one wakes the next. The
/// wakes must not cancel the next task inside the wake (which recursed
/// once per task and overflowed the stack); the final drain cancels them
/// all, one after the other.
#[test]
fn dropping_a_long_idle_daisy_chain_does_not_recurse() {
    watchdog("daisy_chain_drop", || {
        const N: usize = 100_000;
        let rt = runtime(2, "daisy");
        let drops = counter();
        let (first_tx, mut rx) = oneshot::channel::<()>();
        let mut handles = Vec::with_capacity(N);
        for _ in 0..N {
            let (tx, next_rx) = oneshot::channel::<()>();
            let guard = DropGuard(drops.clone());
            let my_rx = std::mem::replace(&mut rx, next_rx);
            handles.push(rt.spawn(async move {
                let _guard = guard;
                let _next = tx; // dropped with the future: wakes the next task
                let _ = my_rx.await;
                std::future::pending::<()>().await;
            }));
        }
        // Let every task reach its first await (registered and idle).
        rt.block_on(async {
            while gort::runtime::num_goroutines() < N {
                gort::yield_now().await;
            }
            for _ in 0..100 {
                gort::yield_now().await;
            }
        });
        drop(rt);
        assert_eq!(
            drops.load(SeqCst),
            N,
            "every future in the chain is dropped"
        );
        assert_eq!(count_cancelled(handles), N);
        drop((first_tx, rx));
    });
}

/// A wake from a plain thread after `close` (while a stuck worker delays
/// the final drain) must not run the woken task's destructor inside
/// `wake`: here the waker is called under a lock that the destructor
/// takes, which deadlocked. The destructor runs later, in the drain.
#[test]
fn wake_after_close_does_not_run_the_destructor_inside_wake() {
    watchdog("wake_after_close", || {
        let rt = runtime(1, "wakeclose");
        let shared: Arc<Mutex<Option<std::task::Waker>>> = Arc::new(Mutex::new(None));
        let dropped = counter();

        struct RelockOnDrop(Arc<Mutex<Option<std::task::Waker>>>, Arc<AtomicUsize>);
        impl Drop for RelockOnDrop {
            fn drop(&mut self) {
                *self.0.lock().unwrap() = None;
                self.1.fetch_add(1, SeqCst);
            }
        }
        let guard = RelockOnDrop(shared.clone(), dropped.clone());
        let waiter = rt.spawn(async move {
            let guard = guard;
            std::future::poll_fn(move |cx| {
                *guard.0.lock().unwrap() = Some(cx.waker().clone());
                std::task::Poll::<()>::Pending
            })
            .await
        });
        // Wait until the waiter parked with its waker stored.
        eventually("the waiter stores its waker", || {
            shared.lock().unwrap().is_some()
        });
        // A task that keeps the only worker busy until released.
        let release = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let r2 = release.clone();
        let (started_tx, started_rx) = mpsc::channel();
        let _stuck = rt.spawn(async move {
            started_tx.send(()).unwrap();
            while !r2.load(SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        started_rx.recv().unwrap();
        // Close; the stuck worker keeps the final drain from running.
        let closer = std::thread::spawn(move || rt.shutdown_timeout(Duration::from_millis(10)));
        closer.join().unwrap();
        {
            let mut slot = shared.lock().unwrap();
            if let Some(w) = slot.take() {
                w.wake(); // must not drop the waiter's future here
            }
        }
        assert_eq!(dropped.load(SeqCst), 0, "the destructor ran inside wake");
        release.store(true, SeqCst);
        eventually("the drain drops the waiter", || dropped.load(SeqCst) == 1);
        assert!(gort::block_on(waiter).unwrap_err().is_cancelled());
    });
}

/// Dropping a runtime from one of its own blocking tasks returns instead
/// of waiting for the thread it runs on.
#[test]
fn dropping_a_runtime_inside_its_own_blocking_task() {
    watchdog("drop_in_blocking", || {
        let rt = runtime(2, "dropblk");
        let handle = rt.handle().clone();
        let (tx, rx) = mpsc::channel();
        drop(handle.spawn_blocking(move || {
            drop(rt);
            tx.send(()).unwrap();
        }));
        rx.recv_timeout(Duration::from_secs(60))
            .expect("drop(rt) on its own blocking thread never returned");
    });
}

/// Set in the child process that runs a `#[gort::main]` function whose
/// task is stuck in a long blocking call.
const STUCK_MAIN_CHILD: &str = "GORT_TEST_STUCK_MAIN_CHILD";

/// How long the child's task blocks its worker.
const STUCK_FOR: Duration = Duration::from_secs(20);

/// A program's `main` that returns while one of its tasks is inside a
/// blocking call on a worker.
#[gort::main(worker_threads = 2)]
async fn main_with_a_stuck_task() {
    let (tx, rx) = gort::chan::bounded::<()>(0);
    gort::spawn(async move {
        tx.send(()).await.unwrap();
        std::thread::sleep(STUCK_FOR);
    });
    // The rendezvous: the task is past its send, on its way into the
    // blocking call.
    rx.recv().await.unwrap();
}

/// `main` returning ends the program, as in Go: the runtime does not wait
/// for a worker stuck in a blocking call (`MAIN_SHUTDOWN_TIMEOUT`). Run in
/// a child process, whose exit is what is measured; the bound is a quarter
/// of the blocking call, not a speed assertion.
#[test]
fn main_returning_does_not_wait_for_a_stuck_task() {
    if std::env::var_os(STUCK_MAIN_CHILD).is_some() {
        main_with_a_stuck_task();
        return;
    }
    let start = Instant::now();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "main_returning_does_not_wait_for_a_stuck_task",
            "--exact",
            "--test-threads=1",
        ])
        .env(STUCK_MAIN_CHILD, "1")
        .output()
        .expect("cannot run the test binary");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{}: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        took < STUCK_FOR / 4,
        "the program took {took:?} to end: it waited for the stuck task"
    );
}
