//! `JoinHandle`: the owned permission to read a task's output.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::error::JoinError;
use super::header::TaskRef;
use super::state::COMPLETE;
use super::Id;

/// An owned permission to await a spawned task's output.
///
/// Awaiting it yields `Ok(output)`, or `Err(JoinError)` if the task
/// panicked or was cancelled. Dropping it *detaches* the task, which keeps
/// running (Go's `go f()` has no handle at all).
///
/// # Examples
///
/// ```
/// let rt = gort::runtime::Runtime::new().unwrap();
/// let sum = rt.block_on(async {
///     let handle = gort::spawn(async { 20 + 22 });
///     handle.await.unwrap()
/// });
/// assert_eq!(sum, 42);
/// ```
pub struct JoinHandle<T> {
    task: TaskRef,
    output_taken: bool,
    _output: PhantomData<T>,
}

// SAFETY: the handle moves `T` out of the task, so it needs `T: Send`; it
// holds a counted reference to a `Sync` header.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only allows `abort`, `is_finished` and `id`, which
// touch the atomic state word.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// # Safety
    /// `task` is a task whose output type is `T`; the handle takes over
    /// the join reference.
    pub(crate) unsafe fn from_task(task: TaskRef) -> Self {
        JoinHandle {
            task,
            output_taken: false,
            _output: PhantomData,
        }
    }

    /// Requests cancellation. A task waiting to run is dropped without being
    /// polled again; a running task is dropped when its current poll returns.
    /// Awaiting the handle then yields a cancelled `JoinError` (unless the
    /// task completed first).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = gort::runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let handle = gort::spawn(std::future::pending::<()>());
    ///     handle.abort();
    ///     assert!(handle.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort(&self) {
        let header = self.task.header();
        if header.state.transition_to_notified_and_cancel() {
            // SAFETY: the transition counted a reference for the Notified.
            unsafe { (header.vtable.schedule)(self.task) };
        }
    }

    /// `true` once the task has completed, been cancelled or panicked.
    pub fn is_finished(&self) -> bool {
        self.task.header().state.load().has(COMPLETE)
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.task.header().id
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        assert!(
            !self.output_taken,
            "JoinHandle polled again after it returned Ready"
        );
        // One unit of the cooperative budget, checked before the output is
        // read: with the budget spent the output stays in the task.
        let coop = std::task::ready!(gort_coop::poll_proceed(cx));
        let mut out: Poll<Result<T, JoinError>> = Poll::Pending;
        let header = self.task.header();
        // SAFETY: `out` has the type the vtable writes (the task's output
        // is `T`, fixed at spawn); we hold the join reference.
        unsafe {
            (header.vtable.try_read_output)(self.task, &mut out as *mut _ as *mut (), cx.waker())
        };
        if out.is_ready() {
            self.output_taken = true;
            coop.made_progress();
        } else {
            gort_coop::set_wait_reason(if header.vtable.blocking {
                gort_coop::WaitReason::Blocking
            } else {
                gort_coop::WaitReason::Join
            });
        }
        out
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let header = self.task.header();
        // SAFETY: gives back the join reference exactly once.
        unsafe { (header.vtable.drop_join_handle)(self.task, self.output_taken) };
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}
