//! Running one future on the calling thread, parking it between polls.

use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::deadlock::Watch;
use crate::scheduler::Scheduler;
use crate::worker;

/// Wakes a thread blocked in `block_on`.
struct ThreadWaker {
    thread: std::thread::Thread,
    notified: std::sync::atomic::AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        // Release pairs with the Acquire swap in `block_on_thread`: what the
        // waker's caller wrote is visible to the next poll.
        if !self
            .notified
            .swap(true, std::sync::atomic::Ordering::Release)
        {
            self.thread.unpark();
        }
    }
}

thread_local! {
    /// One waker per thread, reused across `block_on` calls. Taken out
    /// while in use, so a nested `block_on` makes its own.
    static CACHED: RefCell<Option<(Arc<ThreadWaker>, Waker)>> = const { RefCell::new(None) };
}

/// The park loop behind [`crate::block_on`] and `Runtime::block_on`;
/// with `runtime`, the thread also watches that runtime for a deadlock
/// while it waits (see `deadlock.rs`).
#[track_caller]
pub(crate) fn block_on_thread<F: Future>(future: F, runtime: Option<&Scheduler>) -> F::Output {
    let caller = std::panic::Location::caller();
    assert!(
        !worker::is_worker_thread(),
        "cannot block_on from a gort worker thread: it would stall the tasks of its processor; use .await"
    );
    let (state, waker) = CACHED.with(|c| c.borrow_mut().take()).unwrap_or_else(|| {
        let state = Arc::new(ThreadWaker {
            thread: std::thread::current(),
            notified: std::sync::atomic::AtomicBool::new(false),
        });
        let waker = Waker::from(state.clone());
        (state, waker)
    });
    // Give the waker back to the cache however we leave (including unwinding).
    struct Restore(Option<(Arc<ThreadWaker>, Waker)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let cached = self.0.take();
            let _ = CACHED.try_with(|c| *c.borrow_mut() = cached);
        }
    }
    let restore = Restore(Some((state, waker)));
    let (state, waker) = restore.0.as_ref().unwrap();
    let mut cx = Context::from_waker(waker);
    let mut future = pin!(future);
    #[cfg(all(feature = "tokio-compat", not(loom)))]
    let _tokio = crate::tokio_compat::enter();
    let mut watch = runtime.map(|s| Watch::start(s, caller));
    // A paused runtime's `block_on` future runs on its virtual clock too.
    let _clock = runtime
        .and_then(|s| s.shared().config.clock.clone())
        .map(gort_reactor::__netpoll::enter_clock);
    loop {
        // A fresh cooperative budget per poll, as a task's: a greedy
        // branch of a `join!` here yields to the others, and a yield costs
        // one self-wake (the `notified` swap below finds it set; no park).
        if let Poll::Ready(out) = gort_coop::budget(|| future.as_mut().poll(&mut cx)) {
            if let Some(watch) = &watch {
                // A task's unhandled panic ends `block_on` even when the
                // future finished in the same breath.
                watch.raise_unhandled();
            }
            return out;
        }
        while !state
            .notified
            .swap(false, std::sync::atomic::Ordering::Acquire)
        {
            match &mut watch {
                Some(watch) => {
                    watch.park(|| state.notified.load(std::sync::atomic::Ordering::Relaxed))
                }
                None => std::thread::park(),
            }
        }
    }
}

/// Runs a future to completion on the calling thread, blocking it while
/// the future waits. Tasks the future spawns with [`crate::spawn`] run on
/// the current runtime, or the global one outside any.
///
/// # Panics
///
/// When called from a worker thread of a gort runtime (it would stall
/// that processor; use `.await`).
///
/// # Examples
///
/// ```
/// let v = gort::block_on(async {
///     gort::spawn(async { 6 * 7 }).await.unwrap()
/// });
/// assert_eq!(v, 42);
/// ```
#[track_caller]
pub fn block_on<F: Future>(future: F) -> F::Output {
    block_on_thread(future, None)
}
