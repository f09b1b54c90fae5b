//! `context`: cancellation down a tree and never up, deadlines (the
//! earlier of a child's and its parent's), values by type, `done()` polled
//! by hand and dropped, a tree of 10,000 waiting tasks cancelled at once,
//! and use from gort, tokio and plain threads.

use std::time::{Duration, Instant};

use gort_sync::context::{Context, ContextError};
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready};

mod support;
use support::{gort_rt, tokio_rt};

#[test]
fn background_is_never_done() {
    let ctx = Context::background();
    assert_eq!(ctx.err(), None);
    assert_eq!(ctx.deadline(), None);
    assert_pending!(spawn(ctx.done()).poll());
}

#[test]
fn cancel_reaches_the_subtree_and_never_the_parent() {
    let (parent, cancel_parent) = Context::background().with_cancel();
    let (child, cancel_child) = parent.with_cancel();
    let (grandchild, _cancel_grandchild) = child.with_value(5u8).with_cancel();
    let mut parent_done = spawn(parent.done());
    let mut grandchild_done = spawn(grandchild.done());
    assert_pending!(parent_done.poll());
    assert_pending!(grandchild_done.poll());

    cancel_child.cancel();
    assert!(grandchild_done.is_woken());
    assert_ready!(grandchild_done.poll());
    assert_eq!(child.err(), Some(ContextError::Canceled));
    assert_eq!(grandchild.err(), Some(ContextError::Canceled));
    assert_eq!(parent.err(), None);
    assert!(!parent_done.is_woken());
    assert_pending!(parent_done.poll());
    cancel_child.cancel(); // twice: nothing more

    // A child of a cancelled context is born cancelled.
    let (late, _c) = child.with_cancel();
    assert_eq!(late.err(), Some(ContextError::Canceled));
    assert_ready!(spawn(late.done()).poll());

    // Dropping the CancelFunc cancels.
    drop(cancel_parent);
    assert!(parent_done.is_woken());
    assert_ready!(parent_done.poll());
    assert_eq!(parent.err(), Some(ContextError::Canceled));
    assert_eq!(ContextError::Canceled.to_string(), "context canceled");
}

#[test]
fn a_deadline_is_the_earlier_of_the_childs_and_the_parents() {
    let (parent, _p) = Context::background().with_timeout(Duration::from_millis(50));
    let (child, _c) = parent.with_timeout(Duration::from_secs(3600));
    assert_eq!(child.deadline(), parent.deadline());
    let soon = Instant::now() + Duration::from_millis(10);
    let (early, _e) = parent.with_deadline(soon);
    assert_eq!(early.deadline(), Some(soon));
    // The short one fires first, then the parent takes the child with it.
    futures::executor::block_on(early.done());
    assert_eq!(early.err(), Some(ContextError::DeadlineExceeded));
    assert!(Instant::now() >= soon);
    futures::executor::block_on(child.done());
    assert_eq!(child.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(parent.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(
        ContextError::DeadlineExceeded.to_string(),
        "context deadline exceeded"
    );
    // A deadline already past: done at once.
    let (past, _x) = Context::background().with_deadline(Instant::now());
    assert_eq!(past.err(), Some(ContextError::DeadlineExceeded));
}

#[test]
fn values_are_found_by_type_nearest_first_and_keep_the_scope() {
    struct Trace(&'static str);
    let (ctx, cancel) = Context::background().with_cancel();
    let ctx = ctx.with_value(Trace("outer")).with_value(1u32);
    let inner = ctx.with_value(Trace("inner"));
    assert_eq!(inner.value::<Trace>().unwrap().0, "inner");
    assert_eq!(ctx.value::<Trace>().unwrap().0, "outer");
    assert_eq!(inner.value::<u32>(), Some(&1));
    assert!(inner.value::<u64>().is_none());
    cancel.cancel();
    assert_eq!(inner.err(), Some(ContextError::Canceled));
}

#[test]
fn a_dropped_done_future_loses_nothing_and_repolling_is_fine() {
    let (ctx, cancel) = Context::background().with_cancel();
    {
        let mut d = spawn(ctx.done());
        assert_pending!(d.poll());
        assert_pending!(d.poll());
    } // dropped while registered
    let mut d = spawn(ctx.done());
    assert_pending!(d.poll());
    cancel.cancel();
    assert!(d.is_woken());
    assert_ready!(d.poll());
}

#[test]
fn cancelling_a_tree_of_10_000_waiting_tasks_wakes_them_all() {
    let rt = gort_rt();
    let (root, cancel) = Context::background().with_cancel();
    let handles: Vec<_> = (0..100)
        .flat_map(|_| {
            let (mid, mid_cancel) = root.with_cancel();
            (0..100)
                .map(|_| {
                    let (leaf, leaf_cancel) = mid.with_cancel();
                    rt.spawn(async move {
                        let _keep = leaf_cancel;
                        leaf.done().await;
                        leaf.err()
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .chain(std::iter::once(rt.spawn(async move {
                    let _keep = mid_cancel;
                    None
                })))
                .collect::<Vec<_>>()
        })
        .collect();
    cancel.cancel();
    let mut canceled = 0;
    for h in handles {
        if rt.block_on(h).unwrap() == Some(ContextError::Canceled) {
            canceled += 1;
        }
    }
    assert_eq!(canceled, 10_000);
}

#[test]
fn works_on_tokio_and_on_plain_threads() {
    let rt = tokio_rt();
    let (ctx, _c) = Context::background().with_timeout(Duration::from_millis(10));
    let err = rt.block_on(async move {
        ctx.done().await;
        ctx.err()
    });
    assert_eq!(err, Some(ContextError::DeadlineExceeded));

    let (ctx, cancel) = Context::background().with_cancel();
    let waiter = std::thread::spawn(move || {
        futures::executor::block_on(ctx.done());
        ctx.err()
    });
    std::thread::sleep(Duration::from_millis(10));
    cancel.cancel();
    assert_eq!(waiter.join().unwrap(), Some(ContextError::Canceled));
}

#[test]
fn a_long_chain_of_values_drops_without_recursing() {
    // On a thread with a small stack: a recursive drop of 100,000 nodes
    // would overflow it.
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let mut ctx = Context::background();
            for i in 0..100_000u32 {
                ctx = ctx.with_value(i);
            }
            assert_eq!(ctx.value::<u32>(), Some(&99_999));
            drop(ctx);
        })
        .unwrap()
        .join()
        .unwrap();
}
