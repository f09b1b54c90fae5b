//! The registry: a completion's remove racing the shutdown drain, and the
//! dump's visit racing both. The registry reference is given back exactly
//! once, the task ends complete or cancelled, and it is freed.

use std::task::Poll;

use super::{poll_once, spawn_on, QueueSched};
use crate::loom::atomic::{AtomicBool, Ordering::SeqCst};
use crate::loom::{thread, Arc};
use crate::task::{JoinHandle, Registry};

/// A task with id `id`, polled once and so registered in a fresh
/// registry, and queued again by its own wake; its next poll completes
/// it with 7.
fn registered_task(id: u64) -> (QueueSched, Arc<Registry>, JoinHandle<u32>) {
    let sched = QueueSched::new();
    let registry = Arc::new(Registry::new());
    let ready = Arc::new(AtomicBool::new(false));
    let r2 = ready.clone();
    let (notified, join) = spawn_on(
        &sched,
        id,
        std::future::poll_fn(move |cx| {
            if r2.load(SeqCst) {
                Poll::Ready(7)
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }),
    );
    {
        let owner = registry.claim().unwrap();
        notified.run(Some(&owner)); // registered; requeued by its own wake
    }
    ready.store(true, SeqCst);
    (sched, registry, join)
}

#[test]
fn completion_races_shutdown_drain() {
    loom::model(|| {
        let (sched, registry, mut join) = registered_task(1);
        let s2 = sched.clone();
        let poller = thread::spawn(move || s2.run_all()); // completes: remove
        let owner = registry.claim().unwrap();
        owner.shutdown_all(); // drain: swap the slot, shut the task down
        drop(owner);
        poller.join().unwrap();
        sched.run_all();
        match poll_once(&mut join) {
            Poll::Ready(Ok(v)) => assert_eq!(v, 7),
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            Poll::Pending => panic!("task neither completed nor cancelled"),
        }
        drop(join);
        // Freed: the task's scheduler handle is gone.
        assert_eq!(Arc::strong_count(&sched.0), 1);
    });
}

/// The dump's visit racing a completion's remove and then the drain: the
/// visitor sees the task's header while the slot is pinned (its id is
/// right), the remove waits for the unpin, the registry reference is given
/// back exactly once and the task is freed.
#[test]
fn visit_races_completion_and_drain() {
    loom::model(|| {
        let (sched, registry, mut join) = registered_task(42);
        let s2 = sched.clone();
        let poller = thread::spawn(move || s2.run_all()); // completes: remove
        let r3 = registry.clone();
        let visitor = thread::spawn(move || {
            let mut seen = 0;
            r3.visit(|header| {
                assert_eq!(header.id.as_u64(), 42);
                let _ = header.state.load();
                seen += 1;
            });
            seen
        });
        let seen = visitor.join().unwrap();
        assert!(seen <= 1);
        poller.join().unwrap();
        let owner = registry.claim().unwrap();
        owner.shutdown_all();
        drop(owner);
        sched.run_all();
        match poll_once(&mut join) {
            Poll::Ready(Ok(v)) => assert_eq!(v, 7),
            other => panic!("the task did not complete: {:?}", other.map(|r| r.is_ok())),
        }
        drop(join);
        assert_eq!(Arc::strong_count(&sched.0), 1);
    });
}
