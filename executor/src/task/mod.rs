//! Tasks: Go's G. One allocation per spawn holding the header (state word,
//! vtable, id, spawn site, wait word, join waker), the scheduler handle and
//! a union of the future and its output.
//!
//! # References
//!
//! A task is freed when its reference count (in the state word) reaches
//! zero. The kinds of reference, and who gives each back:
//!
//! | reference   | created                  | given back                          |
//! |-------------|--------------------------|-------------------------------------|
//! | `Notified`  | spawn, wake, abort       | the poller, after the poll          |
//! | join        | spawn                    | `JoinHandle::drop`                  |
//! | registry    | spawn                    | completion                          |
//! | waker       | `Waker::clone`           | `Waker::drop` / `wake`              |
//!
//! At most one `Notified` exists at a time (the `NOTIFIED` bit), and while
//! a task runs its `Notified` is the poller's reference.
//!
//! # Safety, by scenario
//!
//! - *The future* is touched only by whoever holds `RUNNING` (poll, cancel).
//! - *The output* is written once before `COMPLETE` is set; afterwards it
//!   belongs to the `JoinHandle` if `JOIN_INTEREST` was set at completion,
//!   else to the completer, which drops it at once.
//! - *The join waker slot* belongs to the `JoinHandle` while `JOIN_WAKER` is
//!   clear and to the task side while it is set (see `state.rs`). The
//!   completer wakes the joiner and then clears `JOIN_WAKER`, so the
//!   joiner's waker is dropped by the `JoinHandle` (or by the completer, if
//!   the handle is gone), never kept until the task's memory is freed:
//!   finished tasks do not hold each other alive through join wakers.
//! - *The registry reference* is given back by the completer, after it
//!   set `COMPLETE`; a walk of task memory (`registry.rs`) takes a
//!   reference only from a task not yet `COMPLETE`.

pub(crate) mod alloc;
mod builder;
mod error;
mod harness;
mod header;
mod id;
mod join;
mod join_set;
pub(crate) mod registry;
pub(crate) mod state;
mod waker;

use std::fmt;
use std::future::Future;
use std::ptr::NonNull;

pub use builder::Builder;
pub use error::JoinError;
/// Opting out of the cooperative budget (see the `gort_coop` crate docs).
pub use gort_coop::{unconstrained, Unconstrained};
pub(crate) use header::{Header, SpawnSite, TaskRef};
pub use id::Id;
pub(crate) use id::IdBlock;
pub use join::JoinHandle;
pub use join_set::JoinSet;

use harness::Cell;

/// Where a task goes when it becomes runnable. Implemented by the
/// multi-processor scheduler and by the blocking pool.
pub(crate) trait Schedule: Send + Sync + Sized + 'static {
    /// A task woken by a waker or an abort.
    fn schedule(&self, task: Notified);
    /// A task woken during its own poll (`yield_now`): it goes behind the
    /// work that is already runnable.
    fn requeue(&self, task: Notified);
    /// Called once when a task completes, before its references go.
    fn count_completed(&self);
    /// A task panicked and its `JoinHandle` is gone: nobody will see the
    /// panic. The default drops it (`UnhandledPanic::Ignore`).
    fn unhandled_panic(&self, payload: Box<dyn std::any::Any + Send>) {
        drop(payload);
    }
    /// `true` for the blocking pool: a `JoinHandle` waiting for such a
    /// task waits on "blocking", not "join".
    const BLOCKING: bool = false;
    /// Called when a poll ended because the cooperative budget was spent
    /// (before the task is requeued). The default does nothing; the
    /// multi-processor scheduler counts it and has the worker look at the
    /// reactor and the injector before its next task.
    fn forced_yield(&self) {}
    /// The runtime this scheduler belongs to, for the registry's walk of
    /// task memory: a shutdown cancels, and a dump lists, the registered
    /// tasks whose scheduler gives its runtime's id. 0 for schedulers
    /// whose tasks are never registered.
    fn runtime_id(&self) -> usize {
        0
    }
    /// Takes back the task's scheduler handle when the task is freed. The
    /// default drops it; the multi-processor scheduler keeps handles in a
    /// per-worker cache so that spawning and freeing do not bounce one
    /// shared reference count between cores.
    fn recycle(self) {
        drop(self);
    }
}

/// The run permission for one task: a counted reference with `NOTIFIED`
/// set. Run queues hold these. Dropping one without running it (only
/// shutdown paths do) cancels a task that was never polled; a task that was
/// polled is registered, and the registry drain cancels it: a
/// cancellation never runs a destructor inside a wake, and a chain of tasks
/// that wake each other as they are dropped does not recurse.
pub(crate) struct Notified(TaskRef);

impl Notified {
    /// # Safety
    /// The caller hands over a counted reference for which `NOTIFIED` is set.
    pub(crate) unsafe fn from_task(task: TaskRef) -> Self {
        Notified(task)
    }

    /// Runs the task once: poll, or cancel if aborted. `register`: a
    /// worker's poll, which registers the task for the registry's walk
    /// (the blocking pool's polls do not).
    pub(crate) fn run(self, register: bool) {
        let task = self.into_task();
        // SAFETY: we hand the Notified reference to `poll`, which consumes it.
        unsafe { (task.header().vtable.poll)(task, register) };
    }

    /// The task's id.
    pub(crate) fn id(&self) -> Id {
        self.0.header().id
    }

    /// Gives up ownership as a raw pointer (for the run queues).
    pub(crate) fn into_raw(self) -> NonNull<Header> {
        self.into_task().0
    }

    /// # Safety
    /// `ptr` came from `into_raw` and is used only once.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Self {
        Notified(TaskRef(ptr))
    }

    fn into_task(self) -> TaskRef {
        let task = self.0;
        std::mem::forget(self);
        task
    }
}

impl Drop for Notified {
    fn drop(&mut self) {
        // SAFETY: we own one reference and give it to `drop_notified`.
        unsafe { (self.0.header().vtable.drop_notified)(self.0) };
    }
}

impl fmt::Debug for Notified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Notified({})", self.id())
    }
}

/// Allocates a task for `future`, scheduled on `scheduler`. Returns its
/// first `Notified` (to be queued) and its `JoinHandle`.
pub(crate) fn new_task<F, S>(
    future: F,
    scheduler: S,
    id: Id,
    site: SpawnSite,
) -> (Notified, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let task = Cell::allocate(future, scheduler, id, site);
    // SAFETY: a new task holds three references (state.rs): the Notified,
    // the join reference, and the registry reference, which stays with the
    // task until it completes.
    unsafe { (Notified::from_task(task), JoinHandle::from_task(task)) }
}

/// Bytes one task occupies for a future type (for tests and the docs).
#[cfg(all(test, not(loom)))]
pub(crate) fn task_size<F: Future, S>() -> usize {
    std::mem::size_of::<Cell<F, S>>()
}

/// Size of the header alone.
#[cfg(all(test, not(loom)))]
pub(crate) const HEADER_SIZE: usize = std::mem::size_of::<Header>();
