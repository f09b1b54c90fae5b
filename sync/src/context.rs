//! Go's `context`: cancellation, deadlines and values that flow down a
//! tree of goroutines.
//!
//! A [`Context`] is a node in a tree. Cancelling one cancels its whole
//! subtree and nothing above it. The nodes that can be cancelled on their
//! own (made by [`Context::with_cancel`], [`with_timeout`],
//! [`with_deadline`]) each own a *scope*: its state, its waiting tasks and
//! its child scopes, behind one small lock. Value nodes share their
//! parent's scope.
//!
//! - Cancelling a scope marks it done, wakes the tasks waiting on it, and
//!   walks its child scopes (an explicit stack, not recursion): a tree of
//!   100,000 contexts is one walk, and only tasks that wait are woken.
//! - A child scope registers with its parent scope and unregisters when
//!   the last handle to it goes (every `Context` clone and the
//!   `CancelFunc`: a count in the scope), so a long-lived parent does not
//!   collect dead children.
//! - A deadline is a timer of gort's reactor (gort-reactor, which runs on
//!   any executor and on plain threads: its own thread turns it when no
//!   gort runtime does) whose waker cancels the scope.
//!
//! [`with_timeout`]: Context::with_timeout
//! [`with_deadline`]: Context::with_deadline

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crate::loom::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use crate::loom::{lock, Arc, Mutex};

/// Why a context is done ([`Context::err`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContextError {
    /// Its `CancelFunc` (or an ancestor's) was called or dropped.
    Canceled,
    /// Its deadline (or an ancestor's) passed.
    DeadlineExceeded,
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContextError::Canceled => "context canceled",
            ContextError::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for ContextError {}

/// A cancellation scope: the state shared by a cancellable context, its
/// value children, its `CancelFunc` and the waiters on `done()`.
struct Scope {
    /// Set once, with `inner.err`; read without the lock.
    done: AtomicBool,
    inner: Mutex<ScopeInner>,
    /// The scope above, and our key in its `children`, to unregister.
    parent: Option<(Arc<Scope>, usize)>,
    deadline: Option<Instant>,
    /// `Context`s and the `CancelFunc` that refer to this scope. At zero
    /// nothing can reach it but its parent's list, its timer and a cancel
    /// walk: it leaves the list and drops the timer (breaking both
    /// reference cycles).
    handles: AtomicUsize,
}

#[derive(Default)]
struct ScopeInner {
    err: Option<ContextError>,
    /// Child scopes by key (`None`: a free key).
    children: Vec<Option<Arc<Scope>>>,
    free_children: Vec<usize>,
    /// Tasks waiting in `done()`, by key.
    waiters: Vec<Option<Waker>>,
    free_waiters: Vec<usize>,
    /// The deadline's timer, kept registered while the scope lives.
    timer: Option<Pin<Box<gort_reactor::time::Sleep>>>,
}

impl Scope {
    /// A new scope under `parent` (registered there), done at once if the
    /// parent is.
    fn new(parent: Option<&Arc<Scope>>, deadline: Option<Instant>) -> Arc<Scope> {
        let deadline = match (parent.and_then(|p| p.deadline), deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(parent) = parent else {
            return Arc::new(Scope {
                done: AtomicBool::new(false),
                inner: Mutex::new(ScopeInner::default()),
                parent: None,
                deadline,
                handles: AtomicUsize::new(0),
            });
        };
        let mut up = lock(&parent.inner);
        let inherited = up.err;
        // Registered under the parent's lock: a cancel of the parent either
        // came before (and the child is born done) or will find it.
        let key = inherited
            .is_none()
            .then(|| up.free_children.pop().unwrap_or(up.children.len()));
        let scope = Arc::new(Scope {
            done: AtomicBool::new(inherited.is_some()),
            inner: Mutex::new(ScopeInner {
                err: inherited,
                ..ScopeInner::default()
            }),
            parent: key.map(|key| (parent.clone(), key)),
            deadline,
            handles: AtomicUsize::new(0),
        });
        if let Some(key) = key {
            let child = Some(scope.clone());
            if key == up.children.len() {
                up.children.push(child);
            } else {
                up.children[key] = child;
            }
        }
        scope
    }

    fn err(&self) -> Option<ContextError> {
        if !self.done.load(Acquire) {
            return None;
        }
        lock(&self.inner).err
    }

    /// Cancels this scope and every scope below it with `err` (a scope
    /// done already keeps its first error and its subtree is done too).
    fn cancel(this: &Arc<Scope>, err: ContextError) {
        let mut stack = vec![this.clone()];
        while let Some(scope) = stack.pop() {
            let (waiters, children, timer) = {
                let mut inner = lock(&scope.inner);
                if inner.err.is_some() {
                    continue;
                }
                inner.err = Some(err);
                scope.done.store(true, Release);
                inner.free_waiters.clear();
                inner.free_children.clear();
                (
                    std::mem::take(&mut inner.waiters),
                    std::mem::take(&mut inner.children),
                    inner.timer.take(),
                )
            };
            drop(timer);
            for w in waiters.into_iter().flatten() {
                w.wake();
            }
            stack.extend(children.into_iter().flatten());
        }
    }

    /// Arms the deadline's timer: when it fires, the scope is cancelled
    /// with `DeadlineExceeded`.
    fn arm(this: &Arc<Scope>) {
        let Some(deadline) = this.deadline else {
            return;
        };
        let waker = Waker::from(std::sync::Arc::new(DeadlineWaker(this.clone())));
        let mut sleep = Box::pin(gort_reactor::time::sleep_until(deadline));
        // Registers the timer with our waker. Outside the task's budget: a
        // spent budget would make the sleep wake us at once. The sleep's
        // wait reason is not the calling task's: put the task's back.
        let reason = gort_coop::take_wait_reason();
        let fired = gort_coop::with_unconstrained(|| {
            sleep
                .as_mut()
                .poll(&mut TaskContext::from_waker(&waker))
                .is_ready()
        });
        gort_coop::set_wait_reason(reason);
        if fired {
            Scope::cancel(this, ContextError::DeadlineExceeded);
            return;
        }
        let mut inner = lock(&this.inner);
        if inner.err.is_none() {
            inner.timer = Some(sleep);
        }
    }
}

/// A counted reference to a scope: what a `Context` and a `CancelFunc`
/// hold (see `Scope::handles`).
struct ScopeRef(Arc<Scope>);

impl ScopeRef {
    fn new(scope: Arc<Scope>) -> Self {
        scope.handles.fetch_add(1, Relaxed);
        ScopeRef(scope)
    }
}

impl Clone for ScopeRef {
    fn clone(&self) -> Self {
        ScopeRef::new(self.0.clone())
    }
}

impl std::ops::Deref for ScopeRef {
    type Target = Arc<Scope>;
    fn deref(&self) -> &Arc<Scope> {
        &self.0
    }
}

impl Drop for ScopeRef {
    fn drop(&mut self) {
        if self.0.handles.fetch_sub(1, AcqRel) != 1 {
            return;
        }
        // The last handle: leave the parent's list and drop the timer.
        let timer = lock(&self.0.inner).timer.take();
        drop(timer);
        if let Some((parent, key)) = &self.0.parent {
            let mut up = lock(&parent.inner);
            // A cancelled parent emptied its list: only clear a slot that
            // is still ours.
            if let Some(slot) = up.children.get_mut(*key) {
                if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, &self.0)) {
                    *slot = None;
                    up.free_children.push(*key);
                }
            }
        }
    }
}

/// The waker of a deadline's timer (kept in the scope's `timer` until the
/// scope is cancelled or its last handle goes).
struct DeadlineWaker(Arc<Scope>);

impl Wake for DeadlineWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        Scope::cancel(&self.0, ContextError::DeadlineExceeded);
    }
}

/// A value attached by [`Context::with_value`].
struct ValueNode {
    value: Box<dyn Any + Send + Sync>,
    parent: Context,
}

impl Drop for ValueNode {
    /// Frees a chain of value nodes in a loop: a context with 100,000
    /// values stacked by `with_value` would otherwise drop recursively.
    fn drop(&mut self) {
        let mut next = self.parent.values.take();
        while let Some(node) = next {
            match Arc::try_unwrap(node) {
                Ok(mut node) => next = node.parent.values.take(),
                Err(_) => break, // shared: its other holders free it
            }
        }
    }
}

/// Go's `context.Context`: a cancellation signal, an optional deadline and
/// typed values, passed down to the tasks doing one piece of work.
///
/// Cheap to clone (`Send + Sync`); every method takes `&self`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use gort::context::{Context, ContextError};
///
/// # gort::block_on(async {
/// let (ctx, cancel) = Context::background().with_timeout(Duration::from_millis(20));
/// let worker = gort::spawn({
///     let ctx = ctx.clone();
///     async move {
///         let mut rounds = 0u64;
///         loop {
///             gort::select! {
///                 _ = ctx.done() => return (rounds, ctx.err()),
///                 _ = gort::time::sleep(Duration::from_millis(1)) => rounds += 1,
///             }
///         }
///     }
/// });
/// let (rounds, err) = worker.await.unwrap();
/// assert!(rounds > 0);
/// assert_eq!(err, Some(ContextError::DeadlineExceeded));
/// drop(cancel);
/// # });
/// ```
#[derive(Clone, Default)]
pub struct Context {
    /// The nearest cancellation scope (`None`: never cancelled).
    scope: Option<ScopeRef>,
    /// The nearest value node.
    values: Option<Arc<ValueNode>>,
}

/// Cancels the context it came with ([`Context::with_cancel`]) and every
/// context below it. Dropping it cancels too: in Go, `go vet` insists the
/// cancel function is called on every path; here leaving scope does it.
#[must_use = "dropping a CancelFunc cancels its context at once"]
pub struct CancelFunc {
    scope: ScopeRef,
}

impl CancelFunc {
    /// Cancels the context (`Canceled`), its children and their tasks'
    /// `done()`; a second call does nothing.
    pub fn cancel(&self) {
        Scope::cancel(&self.scope, ContextError::Canceled);
    }
}

impl Drop for CancelFunc {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for CancelFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelFunc").finish_non_exhaustive()
    }
}

impl Context {
    /// The root: never cancelled, no deadline, no values (Go's
    /// `context.Background()`).
    pub fn background() -> Context {
        Context::default()
    }

    fn child(&self, deadline: Option<Instant>) -> (Context, CancelFunc) {
        let scope = Scope::new(self.scope.as_deref(), deadline);
        let cancel = CancelFunc {
            scope: ScopeRef::new(scope.clone()),
        };
        Scope::arm(&scope);
        (
            Context {
                scope: Some(ScopeRef::new(scope)),
                values: self.values.clone(),
            },
            cancel,
        )
    }

    /// A child that is cancelled when the returned [`CancelFunc`] is called
    /// or dropped, or when this context is. Cancelling the child never
    /// touches this context.
    pub fn with_cancel(&self) -> (Context, CancelFunc) {
        self.child(None)
    }

    /// A child whose deadline is `timeout` from now (or this context's,
    /// if earlier); see [`with_cancel`](Self::with_cancel).
    pub fn with_timeout(&self, timeout: Duration) -> (Context, CancelFunc) {
        self.child(Some(
            Instant::now()
                .checked_add(timeout)
                .unwrap_or_else(far_future),
        ))
    }

    /// A child with deadline `deadline` (or this context's, if earlier);
    /// see [`with_cancel`](Self::with_cancel).
    pub fn with_deadline(&self, deadline: Instant) -> (Context, CancelFunc) {
        self.child(Some(deadline))
    }

    /// A child that carries `value`: [`value::<T>`](Self::value) finds it
    /// here and below (the nearest value of a type wins). Cancelled with
    /// this context.
    pub fn with_value<T: Send + Sync + 'static>(&self, value: T) -> Context {
        Context {
            scope: self.scope.clone(),
            values: Some(Arc::new(ValueNode {
                value: Box::new(value),
                parent: self.clone(),
            })),
        }
    }

    /// The nearest value of type `T` attached above (Go's `ctx.Value`,
    /// keyed by type).
    ///
    /// ```
    /// use gort::context::Context;
    ///
    /// struct RequestId(u64);
    /// let ctx = Context::background().with_value(RequestId(7)).with_value("user");
    /// assert_eq!(ctx.value::<RequestId>().map(|r| r.0), Some(7));
    /// assert_eq!(ctx.value::<&str>(), Some(&"user"));
    /// assert!(ctx.value::<u32>().is_none());
    /// ```
    pub fn value<T: Send + Sync + 'static>(&self) -> Option<&T> {
        let mut node = self.values.as_deref();
        while let Some(n) = node {
            if let Some(v) = n.value.downcast_ref::<T>() {
                return Some(v);
            }
            node = n.parent.values.as_deref();
        }
        None
    }

    /// Why the context is done, or `None` while it is not.
    pub fn err(&self) -> Option<ContextError> {
        self.scope.as_ref().and_then(|s| s.err())
    }

    /// The deadline: the earliest of this context's and its ancestors'.
    pub fn deadline(&self) -> Option<Instant> {
        self.scope.as_ref().and_then(|s| s.deadline)
    }

    /// Completes when the context is cancelled or its deadline passes
    /// (never, for [`background`](Self::background)); usable as a
    /// `select!` arm. Cancellation-safe.
    pub fn done(&self) -> Done<'_> {
        Done {
            ctx: self,
            key: None,
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("err", &self.err())
            .field("deadline", &self.deadline())
            .finish_non_exhaustive()
    }
}

/// The future of [`Context::done`].
#[must_use = "futures do nothing unless awaited"]
pub struct Done<'a> {
    ctx: &'a Context,
    /// Our slot in the scope's waiters, while registered.
    key: Option<usize>,
}

impl Future for Done<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        let Some(scope) = &self.ctx.scope else {
            gort_coop::set_wait_reason(gort_coop::WaitReason::Other);
            return Poll::Pending;
        };
        if scope.done.load(Acquire) {
            self.key = None;
            return Poll::Ready(());
        }
        let mut inner = lock(&scope.inner);
        if inner.err.is_some() {
            drop(inner);
            self.key = None;
            return Poll::Ready(());
        }
        match self.key {
            Some(key) => match inner.waiters.get_mut(key) {
                Some(Some(w)) if w.will_wake(cx.waker()) => {}
                Some(slot) => *slot = Some(cx.waker().clone()),
                None => unreachable!("a registered waiter's slot exists until the scope is done"),
            },
            None => {
                let key = inner.free_waiters.pop().unwrap_or(inner.waiters.len());
                if key == inner.waiters.len() {
                    inner.waiters.push(Some(cx.waker().clone()));
                } else {
                    inner.waiters[key] = Some(cx.waker().clone());
                }
                drop(inner);
                self.key = Some(key);
            }
        }
        // Go's `<-ctx.Done()` is a channel receive.
        gort_coop::set_wait_reason(gort_coop::WaitReason::ChanReceive);
        Poll::Pending
    }
}

impl Drop for Done<'_> {
    fn drop(&mut self) {
        let (Some(key), Some(scope)) = (self.key, &self.ctx.scope) else {
            return;
        };
        let mut inner = lock(&scope.inner);
        // A cancel took the whole list (and the key means nothing now).
        if inner.err.is_none() {
            if let Some(slot) = inner.waiters.get_mut(key) {
                *slot = None;
                inner.free_waiters.push(key);
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn children(ctx: &Context) -> (usize, usize) {
        let inner = lock(&ctx.scope.as_ref().unwrap().inner);
        (
            inner.children.iter().flatten().count(),
            inner.children.len(),
        )
    }

    #[test]
    fn a_dropped_child_unregisters_and_its_slot_is_reused() {
        let (parent, _cancel) = Context::background().with_cancel();
        for _ in 0..100 {
            let (child, cancel_child) = parent.with_cancel();
            let grandchild = child.with_value(1u8);
            assert_eq!(children(&parent), (1, 1));
            drop((child, cancel_child, grandchild));
        }
        assert_eq!(children(&parent), (0, 1));
        // Kept while any clone or the CancelFunc lives.
        let (child, cancel_child) = parent.with_cancel();
        let clone = child.clone();
        drop(child);
        assert_eq!(children(&parent), (1, 1));
        drop(cancel_child); // cancels `clone`, which still holds the scope
        assert_eq!(clone.err(), Some(ContextError::Canceled));
        assert_eq!(children(&parent), (1, 1));
        drop(clone);
        assert_eq!(children(&parent), (0, 1));
    }

    #[test]
    fn a_dropped_done_frees_its_waiter_slot() {
        let (ctx, _cancel) = Context::background().with_cancel();
        let waker = Waker::noop();
        for _ in 0..10 {
            let mut done = Box::pin(ctx.done());
            assert!(done
                .as_mut()
                .poll(&mut TaskContext::from_waker(waker))
                .is_pending());
        }
        let inner = lock(&ctx.scope.as_ref().unwrap().inner);
        assert_eq!(inner.waiters.len(), 1);
        assert!(inner.waiters[0].is_none());
    }
}
