//! `ErrGroup`: Go's `golang.org/x/sync/errgroup` on gort tasks.
//!
//! It lives in the facade, not in gort-sync, because it spawns: its tasks
//! are gort tasks (`gort::spawn`, so the current runtime, or the global
//! one outside any), which is what makes it usable from tokio code and
//! plain threads too.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::FutureExt;
use gort_sync::context::{CancelFunc, Context};
use gort_sync::{Semaphore, WaitGroup};

/// A group of tasks working on one job (Go's `errgroup.Group`): the first
/// error wins, cancels the group's context, and is what
/// [`wait`](ErrGroup::wait) returns.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use gort::sync::ErrGroup;
/// use gort::context::Context;
///
/// # gort::block_on(async {
/// let (group, ctx) = ErrGroup::<String>::with_context(&Context::background());
/// group.set_limit(2); // at most two at once
/// for i in 0..10u64 {
///     let ctx = ctx.clone();
///     group.spawn(async move {
///         if i == 3 {
///             return Err(format!("item {i} failed"));
///         }
///         gort::select! {
///             _ = ctx.done() => Ok(()), // the group gave up
///             _ = gort::time::sleep(Duration::from_millis(5)) => Ok(()),
///         }
///     });
/// }
/// assert_eq!(group.wait().await, Err("item 3 failed".to_string()));
/// assert!(ctx.err().is_some());
/// # });
/// ```
pub struct ErrGroup<E> {
    inner: Arc<Inner<E>>,
}

struct Inner<E> {
    /// Tasks spawned and not finished.
    running: WaitGroup,
    state: Mutex<State<E>>,
    /// Cancels the context of `with_context`.
    cancel: Option<CancelFunc>,
}

struct State<E> {
    /// The first error.
    err: Option<E>,
    /// The first panic, re-raised by `wait`.
    panic: Option<Box<dyn Any + Send>>,
    /// `set_limit`'s semaphore.
    limit: Option<Arc<Semaphore>>,
}

fn lock<E>(m: &Mutex<State<E>>) -> MutexGuard<'_, State<E>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<E> Inner<E> {
    fn cancel(&self) {
        if let Some(c) = &self.cancel {
            c.cancel();
        }
    }
}

impl<E: Send + 'static> Default for ErrGroup<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Send + 'static> ErrGroup<E> {
    fn with_cancel(cancel: Option<CancelFunc>) -> Self {
        ErrGroup {
            inner: Arc::new(Inner {
                running: WaitGroup::new(),
                state: Mutex::new(State {
                    err: None,
                    panic: None,
                    limit: None,
                }),
                cancel,
            }),
        }
    }

    /// A group with no context and no limit.
    pub fn new() -> Self {
        Self::with_cancel(None)
    }

    /// A group and a child of `ctx` that is cancelled when a task returns
    /// an error (or panics), or when [`wait`](Self::wait) returns (Go's
    /// `errgroup.WithContext`).
    pub fn with_context(ctx: &Context) -> (Self, Context) {
        let (child, cancel) = ctx.with_cancel();
        (Self::with_cancel(Some(cancel)), child)
    }

    /// At most `n` of the group's tasks run at once; the others wait
    /// inside the group, so [`spawn`](Self::spawn) never blocks (Go's
    /// `SetLimit` blocks the caller instead).
    ///
    /// # Panics
    ///
    /// If `n` is 0, or if tasks of the group are running (as Go's).
    pub fn set_limit(&self, n: usize) {
        assert!(n > 0, "errgroup: a limit of 0 would never run anything");
        let running = self.inner.running.count();
        assert!(
            running == 0,
            "errgroup: modify limit while {running} goroutines in the group are still active"
        );
        lock(&self.inner.state).limit = Some(Arc::new(Semaphore::new(n)));
    }

    /// Runs `future` in a new task of the group (Go's `g.Go`). Its error,
    /// if it is the first, is what `wait` returns, and cancels the
    /// group's context.
    #[track_caller]
    pub fn spawn<F>(&self, future: F)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        let inner = self.inner.clone();
        let limit = lock(&inner.state).limit.clone();
        inner.running.add(1);
        drop(crate::spawn(async move {
            let _permit;
            if let Some(limit) = &limit {
                _permit = limit.acquire(1).await;
            }
            let outcome = AssertUnwindSafe(future).catch_unwind().await;
            let failed = {
                let mut state = lock(&inner.state);
                match outcome {
                    Ok(Ok(())) => false,
                    Ok(Err(e)) => {
                        state.err.get_or_insert(e);
                        true
                    }
                    Err(payload) => {
                        state.panic.get_or_insert(payload);
                        true
                    }
                }
            };
            if failed {
                inner.cancel();
            }
            inner.running.done();
        }));
    }

    /// Waits for every task of the group, cancels the group's context,
    /// and returns the first error (Go's `g.Wait`). A task that panicked
    /// makes `wait` panic with its payload.
    pub async fn wait(&self) -> Result<(), E> {
        self.inner.running.wait().await;
        self.inner.cancel();
        let mut state = lock(&self.inner.state);
        if let Some(payload) = state.panic.take() {
            drop(state);
            std::panic::resume_unwind(payload);
        }
        match state.err.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl<E> fmt::Debug for ErrGroup<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrGroup")
            .field("running", &self.inner.running.count())
            .finish_non_exhaustive()
    }
}
