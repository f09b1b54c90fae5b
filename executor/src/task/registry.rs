//! The registry of live tasks: what lets a shutdown find (and drop) a task
//! that no queue holds and only a waker or nothing points to, and the
//! goroutine dump list every task, with nothing on the spawn path.
//!
//! There is no table of tasks: task memory is the registry, as Go walks
//! `allgs`. Every block that can hold a task is reachable from the task
//! allocator (`alloc::for_each_block`: the spans of each size class and
//! the lists of large blocks), and its first word is the task's state
//! word. A task is *registered* from its first poll by a worker
//! (`REGISTERED`, set in the same read-modify-write that starts the poll),
//! and holds the *registry reference* from its spawn until it completes:
//! the completer gives it back with its own, in one read-modify-write,
//! after it set `COMPLETE`.
//!
//! - **Visit** (the dump, and the drain): under the allocator's lock for
//!   the block, a compare-and-swap adds a reference if the word says
//!   registered and not complete (`State::ref_inc_if_registered`). The
//!   registry reference was there at that instant, so the task was alive,
//!   and the new reference keeps it so while the visitor reads it. A
//!   block that is free, or holds a task that completed, or one that no
//!   worker polled (not yet, or a blocking-pool task), fails the check and
//!   is not touched past its first word. The walk covers the whole
//!   process: it takes (and gives back) a reference on every registered
//!   task of every runtime, so a dump or a drain may give back the last
//!   reference of another runtime's task that completed meanwhile, and
//!   free it (and perhaps that runtime's last scheduler handle) on the
//!   caller's thread.
//! - **Drain** (shutdown, after every worker has stopped): visits, and
//!   shuts each task of its runtime down with the visit's reference; the
//!   cancelled task's completion gives back the registry reference as any
//!   completion does.
//!
//! The lock of a class (a list) is held only while its blocks are looked
//! at: the references are collected, the lock released, and only then are
//! tasks read, shut down or released, since releasing the last reference
//! frees task memory.

use super::header::{Header, TaskRef};
use super::state::State;

/// Calls `f` with every registered task of the runtime `runtime_id`
/// (`Schedule::runtime_id`), holding a reference to it meanwhile: the
/// task stays allocated while `f` runs (it may complete, and its future
/// may be dropped, but the header is readable). Tasks registered or
/// completed during the walk may or may not be seen; a task registered
/// and live throughout is seen once.
pub(crate) fn visit(runtime_id: usize, mut f: impl FnMut(&Header)) {
    let mut found = Found(collect(runtime_id).into_iter());
    for task in found.0.by_ref() {
        // Given back even if `f` panics (and the rest by `found`'s drop).
        let task = Held(task);
        f(task.0.header());
    }
}

/// References a walk took, given back when dropped.
struct Found(std::vec::IntoIter<TaskRef>);

impl Drop for Found {
    fn drop(&mut self) {
        for task in self.0.by_ref() {
            release(task);
        }
    }
}

/// One reference a walk took, given back when dropped.
struct Held(TaskRef);

impl Drop for Held {
    fn drop(&mut self) {
        release(self.0);
    }
}

/// Shuts down every registered task of the runtime `runtime_id` that has
/// not completed (the final drain).
pub(crate) fn shutdown_all(runtime_id: usize) {
    for task in collect(runtime_id) {
        // SAFETY: `shutdown` consumes the reference the walk took for us.
        unsafe { (task.header().vtable.shutdown)(task) };
    }
}

/// The registered tasks of `runtime_id`, each with a reference taken for
/// the caller.
fn collect(runtime_id: usize) -> Vec<TaskRef> {
    let mut found = Vec::new();
    super::alloc::for_each_block(|block| {
        // The first word of a block the walk hands us is a state word,
        // readable while the walk holds the block's lock (`alloc.rs`);
        // `State` is that word (`repr(transparent)`), at offset 0 of the
        // header.
        // SAFETY: as just said.
        let state = unsafe { block.cast::<State>().as_ref() };
        if state.ref_inc_if_registered() {
            found.push(TaskRef(block.cast::<Header>()));
        }
    });
    // Other runtimes' tasks are let go of here, not under the walk's
    // locks: a release may free task memory.
    found.retain(|&task| {
        // SAFETY: we hold a reference (taken above).
        let ours = unsafe { (task.header().vtable.runtime_id)(task) } == runtime_id;
        if !ours {
            release(task);
        }
        ours
    });
    found
}

/// Gives back a reference [`collect`] took.
fn release(task: TaskRef) {
    let header = task.header();
    if header.state.ref_dec(1) {
        // SAFETY: that was the last reference.
        unsafe { (header.vtable.dealloc)(task) };
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::task::{new_task, Id, JoinHandle, Notified, Schedule};

    /// Runs a woken task at once, on the waking thread (enough for aborts);
    /// its runtime id is its number.
    struct RunNow(usize);
    impl Schedule for RunNow {
        fn schedule(&self, task: Notified) {
            task.run(true);
        }
        fn requeue(&self, task: Notified) {
            task.run(true);
        }
        fn count_completed(&self) {}
        fn runtime_id(&self) -> usize {
            self.0
        }
    }

    /// A task parked forever on runtime `rt`, polled once as a worker polls
    /// it (registered), its future holding `N` bytes.
    fn parked<const N: usize>(rt: usize, id: u64) -> JoinHandle<()> {
        let pad = [id as u8; N];
        let (notified, join) = new_task(
            async move {
                std::future::pending::<()>().await;
                std::hint::black_box(pad);
            },
            RunNow(rt),
            Id(id),
            crate::task::SpawnSite::new(std::panic::Location::caller(), None),
        );
        notified.run(true);
        join
    }

    fn finished(join: &mut JoinHandle<()>) -> Option<Result<(), crate::JoinError>> {
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        match std::pin::Pin::new(join).poll(&mut cx) {
            std::task::Poll::Ready(r) => Some(r),
            std::task::Poll::Pending => None,
        }
    }

    fn ids(rt: usize) -> Vec<u64> {
        let mut ids = Vec::new();
        visit(rt, |h| ids.push(h.id.as_u64()));
        ids.sort();
        ids
    }

    use std::future::Future;

    /// Small tasks (span blocks) and large ones (listed blocks) of one
    /// runtime are visited, a completed one is not, and another runtime's
    /// are neither visited nor shut down by this runtime's drain.
    #[test]
    fn visits_and_drains_the_tasks_of_one_runtime() {
        // Runtime ids no other test uses (real runtimes' ids are addresses).
        let (rt, other) = (3, 5);
        let mut small: Vec<_> = (0..100).map(|i| parked::<8>(rt, 1000 + i)).collect();
        let mut large: Vec<_> = (0..10).map(|i| parked::<4096>(rt, 2000 + i)).collect();
        let mut theirs = parked::<8>(other, 3000);
        // A task never polled by a worker is not registered.
        let (unpolled, unpolled_join) = new_task(
            std::future::pending::<()>(),
            RunNow(rt),
            Id(4000),
            crate::task::SpawnSite::new(std::panic::Location::caller(), None),
        );
        // One completes (cancelled): no longer visited.
        small[0].abort();
        assert!(finished(&mut small[0]).unwrap().unwrap_err().is_cancelled());
        let mut want: Vec<u64> = (1001..1100).chain(2000..2010).collect();
        want.sort();
        assert_eq!(ids(rt), want);
        assert_eq!(ids(other), vec![3000]);
        shutdown_all(rt);
        for (i, j) in small.iter_mut().skip(1).chain(large.iter_mut()).enumerate() {
            assert!(finished(j).unwrap().unwrap_err().is_cancelled(), "task {i}");
        }
        assert!(ids(rt).is_empty(), "a drained task is still listed");
        assert!(
            finished(&mut theirs).is_none(),
            "another runtime's task was drained"
        );
        assert_eq!(ids(other), vec![3000]);
        shutdown_all(other);
        assert!(finished(&mut theirs).unwrap().unwrap_err().is_cancelled());
        drop(unpolled); // never polled: cancelled when its Notified drops
        drop(unpolled_join);
    }
}
