//! [`OnceCell`]: Go's `sync.Once` and `sync.OnceValue`, for async
//! initializers.
//!
//! The value lives in a `std::sync::OnceLock`, so [`OnceCell::get`] is one
//! `Acquire` load. Who initializes is decided under the queue's lock by a
//! `running` flag: the first caller that finds the cell empty and nobody
//! running claims it and runs its initializer; later callers park. When
//! the initializer finishes, or its future is dropped or panics, the claim
//! is released and every parked caller is woken: they find the value, or
//! (the initializer gave up) the first of them to run claims the cell and
//! runs its own initializer.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use crate::loom::atomic::{AtomicBool, Ordering};
use crate::loom::{lock, Arc, Mutex as StdMutex};
use crate::waiter::{self, Node, Queue, WakeList, WAITING};

/// A parked caller's node once the claim is released.
const WOKEN: u8 = 1;

/// A cell written once, by the first of its callers, with an async
/// initializer: Go's `sync.Once` / `sync.OnceValue`.
///
/// [`get_or_init`](OnceCell::get_or_init) runs the initializer of exactly
/// one caller at a time; the others wait for its value. If that
/// initializer's future is dropped or panics, the cell stays empty and
/// the next waiting (or arriving) caller runs its own.
///
/// ```
/// # futures::executor::block_on(async {
/// use gort::sync::OnceCell;
///
/// static CONFIG: OnceCell<String> = OnceCell::new();
///
/// let v = CONFIG.get_or_init(|| async { String::from("loaded") }).await;
/// assert_eq!(v, "loaded");
/// // Set already: this initializer never runs.
/// let v = CONFIG.get_or_init(|| async { unreachable!() }).await;
/// assert_eq!(v, "loaded");
/// assert_eq!(CONFIG.set(String::from("other")), Err(String::from("other")));
/// # });
/// ```
pub struct OnceCell<T> {
    value: OnceLock<T>,
    /// An initializer runs; changed only under `queue`'s lock.
    running: AtomicBool,
    queue: StdMutex<Queue<()>>,
}

impl<T> OnceCell<T> {
    /// An empty cell.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        OnceCell {
            value: OnceLock::new(),
            running: AtomicBool::new(false),
            queue: StdMutex::new(Queue::new()),
        }
    }

    /// An empty cell (loom's primitives have no `const` constructors).
    #[cfg(loom)]
    pub fn new() -> Self {
        OnceCell {
            value: OnceLock::new(),
            running: AtomicBool::new(false),
            queue: StdMutex::new(Queue::new()),
        }
    }

    /// The value, if the cell is set.
    pub fn get(&self) -> Option<&T> {
        self.value.get()
    }

    /// Sets the value if the cell is empty; gives `value` back if it is
    /// set already. A running initializer's value is then dropped, and
    /// its caller gets this one.
    pub fn set(&self, value: T) -> Result<(), T> {
        self.value.set(value)?;
        self.wake_all();
        Ok(())
    }

    /// The value, running `init` first if the cell is empty and no other
    /// caller's initializer is running (else waiting for it).
    ///
    /// Exactly one initializer runs to completion. If the running one's
    /// future is dropped or it panics, the cell stays empty and one of the
    /// waiting callers runs its own `init`. Dropping this future while it
    /// waits just unregisters it.
    pub async fn get_or_init<F, Fut>(&self, init: F) -> &T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        if let Some(value) = self.value.get() {
            return value;
        }
        match (Turn {
            cell: self,
            node: None,
        })
        .await
        {
            Ok(value) => value,
            Err(claim) => {
                let value = init().await;
                claim.finish(value)
            }
        }
    }

    /// Releases the claim (if any) and wakes every parked caller.
    fn wake_all(&self) {
        let mut wakers = WakeList::default();
        let mut q = lock(&self.queue);
        self.running.store(false, Ordering::Relaxed);
        for entry in q.drain() {
            entry.node.set(WOKEN);
            wakers.push(entry.waker);
        }
        drop(q);
        wakers.wake_all();
    }
}

impl<T> Default for OnceCell<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OnceCell").field(&self.value.get()).finish()
    }
}

/// Waits for the value or for the right to initialize.
struct Turn<'a, T> {
    cell: &'a OnceCell<T>,
    node: Option<Arc<Node>>,
}

impl<'a, T> Future for Turn<'a, T> {
    type Output = Result<&'a T, Claim<'a, T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let cell = self.cell;
        if let Some(node) = &self.node {
            if waiter::repoll(&cell.queue, node, cx.waker()) == WAITING {
                return Poll::Pending;
            }
            self.node = None;
        }
        if let Some(value) = cell.value.get() {
            return Poll::Ready(Ok(value));
        }
        let mut q = lock(&cell.queue);
        // Under the lock: a finishing initializer sets the value before it
        // takes the lock to release its claim.
        if let Some(value) = cell.value.get() {
            return Poll::Ready(Ok(value));
        }
        if !cell.running.load(Ordering::Relaxed) {
            cell.running.store(true, Ordering::Relaxed);
            return Poll::Ready(Err(Claim { cell }));
        }
        let node = Node::new();
        q.push_back(node.clone(), cx.waker().clone(), ());
        drop(q);
        self.node = Some(node);
        Poll::Pending
    }
}

impl<T> Drop for Turn<'_, T> {
    fn drop(&mut self) {
        let Some(node) = self.node.take() else {
            return;
        };
        let mut q = lock(&self.cell.queue);
        let entry = q.remove(&node);
        drop(q);
        // If it was woken instead, every other waiter was woken with it:
        // nothing to pass on.
        drop(entry);
    }
}

/// The right to initialize; released (waking the waiters) when dropped,
/// whether the initializer finished, panicked or was cancelled.
struct Claim<'a, T> {
    cell: &'a OnceCell<T>,
}

impl<'a, T> Claim<'a, T> {
    fn finish(self, value: T) -> &'a T {
        // Err: `set` won the race; its value stands and ours is dropped.
        let _ = self.cell.value.set(value);
        self.cell.value.get().expect("the cell was just set")
    }
}

impl<T> Drop for Claim<'_, T> {
    fn drop(&mut self) {
        self.cell.wake_all();
    }
}
