//! Spawning and joining goroutines: a million spawns with a checked sum,
//! trees of nested spawns, spawns from blocking threads and from plain
//! threads (the global runtime), wakes that come from foreign threads, and
//! `num_goroutines`.
//!
//! Every test runs its body under a watchdog: a hang fails the test after
//! two minutes instead of stalling the suite. That limit detects hangs; it
//! is not a speed assertion.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Poll, Waker};

use futures::channel::oneshot;
use futures::future::BoxFuture;
use gort::runtime::Handle;

mod common;
use common::{runtime, thread_name, watchdog};

// ---------------------------------------------------------------------------
// spawn + join at scale

/// 1,000,000 goroutines, in debug and release builds alike: an unoptimized
/// build runs this in about a second, so there is no need to scale it down
/// under `cfg(debug_assertions)`.
const MANY: u64 = 1_000_000;

#[test]
fn million_spawn_join_checked_sum_from_a_task() {
    watchdog("million_from_task", || {
        let rt = runtime(2, "million");
        let sum = rt.block_on(rt.spawn(async {
            let handles: Vec<_> = (0..MANY).map(|i| gort::spawn(async move { i })).collect();
            let mut sum = 0u64;
            for h in handles {
                sum += h.await.expect("a spawned task failed");
            }
            sum
        }));
        assert_eq!(sum.unwrap(), MANY * (MANY - 1) / 2);
    });
}

/// The same from `block_on` on a non-worker thread: every spawn goes
/// through the injector.
#[test]
fn many_spawn_join_checked_sum_from_block_on() {
    watchdog("many_from_block_on", || {
        let rt = runtime(2, "remote");
        let n = MANY;
        let sum = rt.block_on(async move {
            let handles: Vec<_> = (0..n).map(|i| gort::spawn(async move { i * 3 })).collect();
            let mut sum = 0u64;
            for h in handles {
                sum += h.await.unwrap();
            }
            sum
        });
        assert_eq!(sum, 3 * n * (n - 1) / 2);
    });
}

// ---------------------------------------------------------------------------
// nested spawns

fn tree(depth: u32, fanout: u64, visited: Arc<AtomicU64>) -> BoxFuture<'static, u64> {
    Box::pin(async move {
        visited.fetch_add(1, SeqCst);
        if depth == 0 {
            return 1;
        }
        let children: Vec<_> = (0..fanout)
            .map(|_| gort::spawn(tree(depth - 1, fanout, visited.clone())))
            .collect();
        let mut nodes = 1;
        for child in children {
            nodes += child.await.unwrap();
        }
        nodes
    })
}

#[test]
fn nested_spawn_tree_counts_every_node() {
    watchdog("tree", || {
        let rt = runtime(2, "tree");
        let (depth, fanout) = (7u32, 5u64);
        // 1 + 5 + 25 + ... + 5^7
        let expected: u64 = (0..=depth).map(|d| fanout.pow(d)).sum();
        let visited = Arc::new(AtomicU64::new(0));
        let nodes = rt
            .block_on(rt.spawn(tree(depth, fanout, visited.clone())))
            .unwrap();
        assert_eq!(nodes, expected);
        assert_eq!(visited.load(SeqCst), expected);
    });
}

fn chain(remaining: u32) -> BoxFuture<'static, u32> {
    Box::pin(async move {
        if remaining == 0 {
            0
        } else {
            gort::spawn(chain(remaining - 1)).await.unwrap() + 1
        }
    })
}

/// Runs `body` in a child process (this test binary, filtered to `name`)
/// and fails if the child fails. For tests that, when the runtime is
/// wrong, can kill the whole process (a stack overflow aborts): the other
/// tests of this binary still run and report.
fn isolated(name: &str, body: impl FnOnce()) {
    const CHILD: &str = "GORT_TEST_ISOLATED_CHILD";
    if std::env::var_os(CHILD).is_some() {
        body();
        return;
    }
    let exe = std::env::current_exe().expect("no path to the test binary");
    let out = std::process::Command::new(exe)
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD, "1")
        .output()
        .expect("cannot run the test binary");
    assert!(
        out.status.success(),
        "{name} failed in its own process ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Each task awaits the one it spawned: 20,000 tasks deep. Completion runs
/// back up the chain through wakes, not through the stack, and freeing the
/// finished tasks must not recurse down the chain either.
#[test]
fn deep_chain_of_nested_spawns() {
    isolated("deep_chain_of_nested_spawns", || {
        watchdog("chain", || {
            let rt = runtime(2, "chain");
            assert_eq!(rt.block_on(rt.spawn(chain(20_000))).unwrap(), 20_000);
        });
    });
}

/// The chain of `deep_chain_of_nested_spawns`, with its leaf keeping a
/// clone of its own waker alive past the end (a "stale" waker, as any
/// channel or timer may hold). Dropping that waker afterwards must free
/// the finished tasks without recursing once per task.
fn chain_with_stale_leaf_waker(
    remaining: u32,
    stash: mpsc::Sender<Waker>,
) -> BoxFuture<'static, u32> {
    Box::pin(async move {
        if remaining > 0 {
            return gort::spawn(chain_with_stale_leaf_waker(remaining - 1, stash))
                .await
                .unwrap()
                + 1;
        }
        let mut polled = false;
        std::future::poll_fn(|cx| {
            if polled {
                return Poll::Ready(0);
            }
            polled = true;
            stash.send(cx.waker().clone()).unwrap();
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await
    })
}

#[test]
fn dropping_a_stale_waker_after_a_deep_chain_completes() {
    isolated(
        "dropping_a_stale_waker_after_a_deep_chain_completes",
        || {
            watchdog("stale_waker_chain", || {
                const DEPTH: u32 = 100_000;
                let rt = runtime(2, "stalechain");
                let (stash, stashed) = mpsc::channel();
                let root = rt.spawn(chain_with_stale_leaf_waker(DEPTH, stash));
                assert_eq!(rt.block_on(root).unwrap(), DEPTH);
                let waker = stashed.recv().unwrap();
                // On a thread with the default 2 MiB stack.
                std::thread::spawn(move || drop(waker)).join().unwrap();
                assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
            });
        },
    );
}

// ---------------------------------------------------------------------------
// spawning from blocking threads and the runtime context inside tasks

#[test]
fn spawn_from_inside_spawn_blocking() {
    watchdog("from_blocking", || {
        let rt = runtime(2, "fromblk");
        let (value, child_thread, nested) = rt.block_on(async {
            let outer = gort::spawn_blocking(|| {
                assert!(thread_name().contains("blocking"));
                // The blocking thread is inside the runtime: spawns go to it.
                let child = gort::spawn(async { (21u32 * 2, thread_name()) });
                let via_handle = Handle::current().spawn(async { 5u32 });
                // A blocking thread is not a worker: it may block on a task.
                let (value, thread) = gort::block_on(child).unwrap();
                let nested = gort::block_on(via_handle).unwrap();
                (value, thread, nested)
            });
            outer.await.unwrap()
        });
        assert_eq!(value, 42);
        assert_eq!(nested, 5);
        assert!(
            child_thread.starts_with("fromblk-worker-"),
            "a task spawned from a blocking thread ran on {child_thread:?}"
        );
    });
}

/// A `JoinHandle` made on a blocking thread can be returned and awaited
/// by a task.
#[test]
fn join_handle_from_spawn_blocking_awaited_in_task() {
    watchdog("handle_from_blocking", || {
        let rt = runtime(2, "hfb");
        let v = rt.block_on(rt.spawn(async {
            let inner = gort::spawn_blocking(|| gort::spawn(async { 99u8 }))
                .await
                .unwrap();
            inner.await.unwrap()
        }));
        assert_eq!(v.unwrap(), 99);
    });
}

#[test]
fn handle_current_inside_tasks() {
    watchdog("handle_current", || {
        let rt = runtime(2, "hcur");
        let results = rt.block_on(async {
            let handles: Vec<_> = (0..100u32)
                .map(|i| {
                    gort::spawn(async move {
                        let handle = Handle::try_current().expect("a task runs inside its runtime");
                        assert_eq!(handle.num_workers(), 2);
                        let thread = Handle::current()
                            .spawn(async { thread_name() })
                            .await
                            .unwrap();
                        (i, thread)
                    })
                })
                .collect();
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.unwrap());
            }
            out
        });
        for (i, (j, thread)) in results.into_iter().enumerate() {
            assert_eq!(i as u32, j);
            assert!(
                thread.starts_with("hcur-worker-"),
                "Handle::current() spawned onto {thread:?}"
            );
        }
    });
}

/// Two runtimes side by side: `gort::spawn` inside a task of one of them
/// uses that one, never the other or the global runtime.
#[test]
fn spawn_inside_a_task_uses_that_tasks_runtime() {
    watchdog("two_runtimes", || {
        let a = runtime(1, "rta");
        let b = runtime(1, "rtb");
        let in_a = a.spawn(async { gort::spawn(async { thread_name() }).await.unwrap() });
        let in_b = b.spawn(async { gort::spawn(async { thread_name() }).await.unwrap() });
        assert_eq!(gort::block_on(in_a).unwrap(), "rta-worker-0");
        assert_eq!(gort::block_on(in_b).unwrap(), "rtb-worker-0");
    });
}

#[test]
fn dropping_the_join_handle_detaches_the_task() {
    watchdog("detach", || {
        let rt = runtime(2, "detach");
        let (tx, rx) = oneshot::channel();
        let handle = rt.spawn(async move {
            for _ in 0..10 {
                gort::yield_now().await;
            }
            tx.send(7u8).unwrap();
        });
        drop(handle);
        assert_eq!(rt.block_on(rx).unwrap(), 7);
    });
}

#[test]
fn join_handle_is_finished_and_ids() {
    watchdog("is_finished", || {
        let rt = runtime(2, "fin");
        rt.block_on(async {
            let (tx, rx) = oneshot::channel::<u32>();
            let waiting = gort::spawn(async move { rx.await.unwrap() });
            let other = gort::spawn(async {});
            assert_ne!(waiting.id(), other.id(), "task ids are unique");
            assert!(!waiting.is_finished(), "the task waits for its channel");
            tx.send(3).unwrap();
            let id = waiting.id();
            // `&mut` so the handle stays inspectable after it resolves.
            let mut waiting = waiting;
            assert_eq!((&mut waiting).await.unwrap(), 3);
            assert!(waiting.is_finished());
            assert_eq!(waiting.id(), id);
            other.await.unwrap();
        });
    });
}

// ---------------------------------------------------------------------------
// wakes from foreign threads

/// A one-shot flag that a foreign thread raises and a task awaits, waking
/// the task with the raw `Waker` it registered.
#[derive(Default)]
struct Signal {
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Signal {
    fn fire(&self) {
        self.fired.store(true, SeqCst);
        if let Some(w) = self.waker.lock().unwrap().take() {
            w.wake();
        }
    }

    fn wait(self: Arc<Self>) -> impl Future<Output = ()> {
        std::future::poll_fn(move |cx| {
            if self.fired.load(SeqCst) {
                return Poll::Ready(());
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            if self.fired.load(SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }
}

/// A task awaits 20,000 oneshot receivers in turn; a plain thread
/// completes each sender.
#[test]
fn oneshot_completed_by_foreign_thread_many_times() {
    watchdog("foreign_oneshot", || {
        const ROUNDS: u64 = 20_000;
        let rt = runtime(2, "foreign");
        let (to_thread, senders) = mpsc::channel::<(u64, oneshot::Sender<u64>)>();
        let helper = std::thread::spawn(move || {
            for (i, tx) in senders {
                tx.send(i * 2).unwrap();
            }
        });
        let sum = rt
            .block_on(rt.spawn(async move {
                let mut sum = 0;
                for i in 0..ROUNDS {
                    let (tx, rx) = oneshot::channel();
                    to_thread.send((i, tx)).unwrap();
                    sum += rx.await.unwrap();
                }
                sum
            }))
            .unwrap();
        helper.join().unwrap();
        assert_eq!(sum, ROUNDS * (ROUNDS - 1));
    });
}

/// 2,000 tasks park at once; a plain thread completes them in reverse order.
#[test]
fn many_parked_tasks_woken_by_foreign_thread() {
    watchdog("foreign_many", || {
        const TASKS: usize = 2_000;
        let rt = runtime(2, "foreignmany");
        let mut senders = Vec::with_capacity(TASKS);
        let mut handles = Vec::with_capacity(TASKS);
        for i in 0..TASKS {
            let (tx, rx) = oneshot::channel::<usize>();
            senders.push(tx);
            handles.push(rt.spawn(async move { rx.await.unwrap() + i }));
        }
        let waker_thread = std::thread::spawn(move || {
            for (i, tx) in senders.into_iter().enumerate().rev() {
                tx.send(i).unwrap();
            }
        });
        let total = rt.block_on(async {
            let mut total = 0;
            for h in handles {
                total += h.await.unwrap();
            }
            total
        });
        waker_thread.join().unwrap();
        assert_eq!(total, TASKS * (TASKS - 1));
    });
}

/// Raw wakers: a foreign thread calls `Waker::wake` on the waker a task
/// registered, 20,000 times; it also keeps waker clones past the task's end
/// and wakes/drops them afterwards, which must be harmless.
#[test]
fn raw_waker_woken_from_foreign_thread() {
    watchdog("foreign_waker", || {
        const ROUNDS: usize = 20_000;
        let rt = runtime(2, "rawwake");
        let (to_thread, signals) = mpsc::channel::<Arc<Signal>>();
        let helper = std::thread::spawn(move || {
            let mut fired = 0;
            for s in signals {
                s.fire();
                fired += 1;
            }
            fired
        });
        let (stale_tx, stale_rx) = mpsc::channel::<Waker>();
        let handle = rt.spawn(async move {
            let mut woken = 0;
            for i in 0..ROUNDS {
                let signal = Arc::new(Signal::default());
                to_thread.send(signal.clone()).unwrap();
                signal.wait().await;
                woken += 1;
                if i % 1000 == 0 {
                    // A waker that outlives the task.
                    std::future::poll_fn(|cx| {
                        stale_tx.send(cx.waker().clone()).unwrap();
                        Poll::Ready(())
                    })
                    .await;
                }
            }
            woken
        });
        assert_eq!(rt.block_on(handle).unwrap(), ROUNDS);
        assert_eq!(helper.join().unwrap(), ROUNDS);
        // The task is complete and its handle gone: waking or dropping the
        // stale wakers from another thread does nothing.
        std::thread::spawn(move || {
            for (i, w) in stale_rx.into_iter().enumerate() {
                if i % 2 == 0 {
                    w.wake_by_ref();
                }
                w.wake();
            }
        })
        .join()
        .unwrap();
        // The runtime is unaffected.
        assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
    });
}

// ---------------------------------------------------------------------------
// the global runtime

#[test]
fn spawn_from_plain_thread_uses_global_runtime() {
    watchdog("global", || {
        std::thread::spawn(|| {
            assert!(
                Handle::try_current().is_err(),
                "a plain thread is not inside any runtime"
            );
            let err = Handle::try_current().unwrap_err();
            assert!(
                err.to_string()
                    .contains("not running inside a gort runtime"),
                "{err}"
            );

            let handle = gort::spawn(async {
                let inside = Handle::try_current().is_ok();
                (21 * 2, thread_name(), inside)
            });
            let (v, thread, inside) = gort::block_on(handle).unwrap();
            assert_eq!(v, 42);
            assert!(
                thread.starts_with("gort-global-worker-"),
                "ran on {thread:?}"
            );
            assert!(inside, "Handle::try_current() is Ok inside a global task");

            // A tree of spawns on the global runtime.
            let visited = Arc::new(AtomicU64::new(0));
            let nodes = gort::block_on(gort::spawn(tree(3, 4, visited.clone()))).unwrap();
            assert_eq!(nodes, 1 + 4 + 16 + 64);

            // `gort::block_on` itself does not enter a runtime.
            gort::block_on(async {
                assert!(Handle::try_current().is_err());
            });
            assert!(Handle::try_current().is_err());
        })
        .join()
        .unwrap();
    });
}

#[test]
fn try_current_is_ok_inside_block_on_and_tasks() {
    watchdog("try_current", || {
        let rt = runtime(2, "trycur");
        assert!(Handle::try_current().is_err());
        rt.block_on(async {
            let h = Handle::try_current().expect("Ok inside Runtime::block_on");
            assert_eq!(h.num_workers(), 2);
            let in_task = gort::spawn(async { Handle::try_current().map(|h| h.num_workers()) })
                .await
                .unwrap();
            assert_eq!(in_task, Ok(2));
        });
        assert!(
            Handle::try_current().is_err(),
            "block_on leaves the context on return"
        );
    });
}

// ---------------------------------------------------------------------------
// num_goroutines

#[test]
fn num_goroutines_counts_live_tasks() {
    watchdog("num_goroutines", || {
        const PARKED: usize = 500;
        let rt = runtime(2, "numg");
        let baseline = rt.handle().num_goroutines();
        assert_eq!(baseline, 0, "a new runtime has no goroutines");
        rt.block_on(async {
            assert_eq!(gort::runtime::num_goroutines(), baseline);
            let started = Arc::new(AtomicUsize::new(0));
            let mut senders = Vec::new();
            let mut handles = Vec::new();
            for _ in 0..PARKED {
                let (tx, rx) = oneshot::channel::<()>();
                senders.push(tx);
                let started = started.clone();
                handles.push(gort::spawn(async move {
                    started.fetch_add(1, SeqCst);
                    rx.await.unwrap();
                }));
            }
            // Spawned but possibly not yet polled: already live.
            assert_eq!(gort::runtime::num_goroutines(), baseline + PARKED);
            while started.load(SeqCst) < PARKED {
                gort::yield_now().await;
            }
            // All parked.
            assert_eq!(gort::runtime::num_goroutines(), baseline + PARKED);
            assert_eq!(Handle::current().num_goroutines(), baseline + PARKED);
            for tx in senders {
                tx.send(()).unwrap();
            }
            for h in handles {
                h.await.unwrap();
            }
            assert_eq!(
                gort::runtime::num_goroutines(),
                baseline,
                "every task has finished and was joined"
            );
        });
        assert_eq!(rt.handle().num_goroutines(), baseline);
        // Blocking tasks are not goroutines.
        let (tx, rx) = mpsc::channel::<()>();
        let blocking = rt.spawn_blocking(move || rx.recv().unwrap());
        assert_eq!(rt.handle().num_goroutines(), baseline);
        tx.send(()).unwrap();
        rt.block_on(blocking).unwrap();
    });
}

/// Right after `JoinHandle` resolves the task no longer counts as live:
/// checked on 20,000 tasks in a row (one at a time, so each check sees only
/// the task just joined).
#[test]
fn num_goroutines_excludes_a_task_as_soon_as_it_is_joined() {
    watchdog("num_goroutines_join", || {
        let rt = runtime(2, "numgj");
        let mismatches = rt.block_on(async {
            let mut mismatches = 0;
            for i in 0..20_000u32 {
                gort::spawn(async move { i }).await.unwrap();
                if gort::runtime::num_goroutines() != 0 {
                    mismatches += 1;
                }
            }
            mismatches
        });
        assert_eq!(mismatches, 0, "a joined task still counted as live");
    });
}
