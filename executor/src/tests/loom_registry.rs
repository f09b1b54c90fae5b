//! The registry: a completion's remove racing the shutdown drain. The
//! registry reference is given back exactly once, the task ends complete
//! or cancelled, and it is freed.

use std::task::Poll;

use super::{poll_once, spawn_on, QueueSched};
use crate::loom::atomic::{AtomicBool, Ordering::SeqCst};
use crate::loom::{thread, Arc};
use crate::task::Registry;

#[test]
fn completion_races_shutdown_drain() {
    loom::model(|| {
        let sched = QueueSched::new();
        let registry = Arc::new(Registry::new());
        let ready = Arc::new(AtomicBool::new(false));
        let r2 = ready.clone();
        // Pending until `ready`; re-woken by hand below.
        let (notified, mut join) = spawn_on(
            &sched,
            1,
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
