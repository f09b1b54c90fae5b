//! The registry: a completion racing the shutdown drain, the dump's visit
//! (a reference taken through the walk of task memory) racing a
//! completion before the drain, and a visit racing the completion that
//! frees the task. The
//! registry reference is given back exactly once, the task ends complete
//! or cancelled, and it is freed. (Under loom every task is a large
//! block, on a list behind loom's mutex: the span blocks' path, a block
//! reused between a walker's load and its CAS, is not modelled.)

use std::task::Poll;

use super::{poll_once, spawn_on, QueueSched};
use crate::loom::atomic::{AtomicBool, Ordering::SeqCst};
use crate::loom::{thread, Arc};
use crate::task::{registry, JoinHandle, Schedule};

/// A task with id `id`, polled once as a worker polls it (so registered),
/// and queued again by its own wake; its next poll completes it with 7.
fn registered_task(id: u64) -> (QueueSched, JoinHandle<u32>) {
    let sched = QueueSched::new();
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
    notified.run(true); // registered; requeued by its own wake
    let mut seen = Vec::new();
    registry::visit(sched.runtime_id(), |h| seen.push(h.id.as_u64()));
    assert_eq!(seen, [id], "the walk does not find the registered task");
    ready.store(true, SeqCst);
    (sched, join)
}

#[test]
fn completion_races_shutdown_drain() {
    loom::model(|| {
        let (sched, mut join) = registered_task(1);
        let s2 = sched.clone();
        let poller = thread::spawn(move || s2.run_all()); // completes
        registry::shutdown_all(sched.runtime_id()); // drain: take the reference, cancel
        poller.join().unwrap();
        sched.run_all();
        // The JoinHandle's reference keeps the task (and its scheduler
        // handle) alive.
        assert_eq!(Arc::strong_count(&sched.0), 2, "freed too early");
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

/// The dump's visit racing a completion, then the drain: the visitor
/// sees the task's header while it holds its reference (its id is
/// right), the registry reference is given back exactly once and the
/// task is freed, by whichever lets go last. (The visit and the drain at
/// once, a third thread, took loom 12.5 minutes: too long for CI.)
#[test]
fn visit_races_completion_and_drain() {
    loom::model(|| {
        let (sched, mut join) = registered_task(42);
        let s2 = sched.clone();
        let poller = thread::spawn(move || s2.run_all()); // completes
        let key = sched.runtime_id();
        let visitor = thread::spawn(move || {
            let mut seen = 0;
            registry::visit(key, |header| {
                assert_eq!(header.id.as_u64(), 42);
                let _ = header.state.load();
                seen += 1;
            });
            seen
        });
        let seen = visitor.join().unwrap();
        assert!(seen <= 1);
        poller.join().unwrap();
        registry::shutdown_all(key);
        sched.run_all();
        assert_eq!(Arc::strong_count(&sched.0), 2, "freed too early");
        match poll_once(&mut join) {
            Poll::Ready(Ok(v)) => assert_eq!(v, 7),
            other => panic!("the task did not complete: {:?}", other.map(|r| r.is_ok())),
        }
        drop(join);
        assert_eq!(Arc::strong_count(&sched.0), 1);
    });
}

/// A visit racing the completion that frees the task (its `JoinHandle`
/// already dropped): the visit may take a reference only while the
/// registry's is there, so it never revives a task whose last reference
/// went; the task is freed exactly once, by whichever lets go last.
#[test]
fn visit_races_the_completion_that_frees() {
    loom::model(|| {
        let (sched, join) = registered_task(9);
        drop(join);
        let s2 = sched.clone();
        let poller = thread::spawn(move || s2.run_all()); // completes, frees
        let mut seen = 0;
        registry::visit(sched.runtime_id(), |header| {
            assert_eq!(header.id.as_u64(), 9);
            seen += 1;
        });
        assert!(seen <= 1);
        poller.join().unwrap();
        assert_eq!(Arc::strong_count(&sched.0), 1, "the task was not freed");
    });
}
