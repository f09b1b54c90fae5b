//! The runtime a thread is "in": set on worker and blocking-pool threads
//! for their whole life, and on any thread for the duration of
//! `Runtime::block_on` or `Runtime::enter`.

use std::cell::RefCell;

use crate::runtime::Handle;
use crate::scheduler::Scheduler;

crate::loom::thread_local_const! {
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

/// Restores the previous runtime context when dropped.
///
/// Returned by [`Runtime::enter`](crate::runtime::Runtime::enter) and
/// [`Handle::enter`]: while it lives, [`spawn`](crate::spawn) and
/// [`Handle::current`] on this thread use that runtime.
///
/// # Examples
///
/// ```
/// let rt = gort::runtime::Runtime::new().unwrap();
/// let _guard = rt.enter();
/// let handle = gort::runtime::Handle::current();
/// assert_eq!(rt.block_on(handle.spawn(async { 7 })).unwrap(), 7);
/// ```
#[must_use = "the context is left when the guard is dropped"]
pub struct EnterGuard {
    prev: Option<Handle>,
    /// Guards must be dropped on the thread that made them, in LIFO order.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl std::fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnterGuard").finish_non_exhaustive()
    }
}

/// Makes `handle` this thread's current runtime until the guard drops.
pub(crate) fn enter(handle: Handle) -> EnterGuard {
    let prev = CURRENT.with(|c| c.borrow_mut().replace(handle));
    EnterGuard {
        prev,
        _not_send: std::marker::PhantomData,
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        // Ignore a destroyed thread-local: the thread is exiting anyway.
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = prev);
    }
}

/// This thread's current runtime, if any.
pub(crate) fn current() -> Option<Handle> {
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// Calls `f` with this thread's current scheduler, without cloning it.
pub(crate) fn with_scheduler<R>(f: impl FnOnce(Option<&Scheduler>) -> R) -> R {
    let mut f = Some(f);
    CURRENT
        .try_with(|c| {
            let h = c.borrow();
            (f.take().unwrap())(h.as_ref().map(|h| &h.scheduler))
        })
        .unwrap_or_else(|_| (f.take().unwrap())(None))
}
