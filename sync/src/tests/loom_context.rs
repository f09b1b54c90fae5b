//! `context`: a cancel racing a new child's registration, and racing a
//! child's `done()` registering its waker. Whatever the interleaving, the
//! child ends cancelled, and a `done()` that returned `Pending` is woken.

use std::future::Future;
use std::sync::atomic::{AtomicBool as StdAtomicBool, Ordering::SeqCst};
use std::task::{Context as TaskContext, Wake, Waker};

use super::model;
use crate::context::{Context, ContextError};
use crate::loom::thread;

/// A waker that records that it was woken.
struct Flag(StdAtomicBool);

impl Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, SeqCst);
    }
}

#[test]
fn cancel_races_a_new_child_and_its_done() {
    model(3, || {
        let (parent, cancel) = Context::background().with_cancel();
        let canceller = thread::spawn(move || cancel.cancel());
        let (child, _child_cancel) = parent.with_cancel();
        let flag = std::sync::Arc::new(Flag(StdAtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut done = Box::pin(child.done());
        let pending = done
            .as_mut()
            .poll(&mut TaskContext::from_waker(&waker))
            .is_pending();
        canceller.join().unwrap();
        assert_eq!(child.err(), Some(ContextError::Canceled));
        if pending {
            assert!(flag.0.load(SeqCst), "a pending done() was never woken");
        }
    });
}

#[test]
fn a_child_dropped_while_the_parent_is_cancelled_leaves_no_entry() {
    model(3, || {
        let (parent, cancel) = Context::background().with_cancel();
        let (child, child_cancel) = parent.with_cancel();
        let dropper = thread::spawn(move || drop((child, child_cancel)));
        cancel.cancel();
        dropper.join().unwrap();
        // Whichever came first, the parent holds no child and a new child
        // is born cancelled.
        let (late, _c) = parent.with_cancel();
        assert_eq!(late.err(), Some(ContextError::Canceled));
    });
}
