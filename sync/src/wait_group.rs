//! [`WaitGroup`]: Go's `sync.WaitGroup`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::loom::atomic::{AtomicU64, Ordering};
use crate::loom::{lock, Arc, Mutex};
use crate::waiter::{self, Node, Queue, WAITING};
use gort_coop::WaitReason;

/// One unit of the counter, which is the state word's high 32 bits; the
/// low 32 bits count the parked waiters (Go's layout).
const ONE: u64 = 1 << 32;
const WAITERS: u64 = ONE - 1;
/// A waiter's node state once the counter has reached zero.
const RELEASED: u8 = 1;

/// Waits for a collection of tasks (or threads) to finish: Go's
/// `sync.WaitGroup`.
///
/// [`add`](WaitGroup::add) raises the counter by the number of tasks
/// about to start, each calls [`done`](WaitGroup::done) when it finishes,
/// and [`wait`](WaitGroup::wait) returns once the counter is zero (at
/// once if it already is). Clones share one counter, so each task can own
/// its handle (where Go passes a pointer).
///
/// `done` and `add` are one atomic operation each; only a `wait` that has
/// to park, and the `done` that releases parked waiters, take a lock.
///
/// Everything a task did before its `done` is visible to the waiter after
/// `wait` returns. As in Go, a group may be reused once every earlier
/// `wait` has returned: a `done` that brings the counter to zero releases
/// every waiter parked at that moment.
///
/// ```
/// # futures::executor::block_on(async {
/// use gort::sync::WaitGroup;
///
/// let wg = WaitGroup::new();
/// let mut threads = Vec::new();
/// for _ in 0..4 {
///     wg.add(1);
///     let wg = wg.clone();
///     threads.push(std::thread::spawn(move || wg.done()));
/// }
/// wg.wait().await;
/// assert_eq!(wg.count(), 0);
/// # for t in threads { t.join().unwrap(); }
/// # });
/// ```
#[derive(Clone)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

struct Inner {
    /// Counter (high 32 bits) and parked waiters (low 32 bits, always the
    /// queue's length outside its lock: waiters are counted and linked, or
    /// unlinked and uncounted, under the lock).
    state: AtomicU64,
    queue: Mutex<Queue<()>>,
}

impl WaitGroup {
    /// A group whose counter is zero.
    pub fn new() -> Self {
        WaitGroup {
            inner: Arc::new(Inner {
                state: AtomicU64::new(0),
                queue: Mutex::new(Queue::new()),
            }),
        }
    }

    /// Adds `n` to the counter (Go's `Add(n)`).
    ///
    /// # Panics
    ///
    /// If the counter would exceed `u32::MAX`.
    pub fn add(&self, n: usize) {
        let Ok(n) = u32::try_from(n) else {
            panic!("WaitGroup counter overflow");
        };
        if n == 0 {
            return;
        }
        let delta = u64::from(n) * ONE;
        let prev = self.inner.state.fetch_add(delta, Ordering::Relaxed);
        if (prev >> 32) + u64::from(n) > u64::from(u32::MAX) {
            self.inner.state.fetch_sub(delta, Ordering::Relaxed);
            panic!("WaitGroup counter overflow");
        }
    }

    /// Subtracts one from the counter (Go's `Done()`); at zero, releases
    /// every waiter.
    ///
    /// # Panics
    ///
    /// With "negative WaitGroup counter" if the counter is already zero
    /// (more `done`s than `add`s), as Go does.
    pub fn done(&self) {
        // `Release` publishes the task's work to the waiter, `Acquire` so
        // that the wake-up below follows every earlier `done`.
        let prev = self.inner.state.fetch_sub(ONE, Ordering::AcqRel);
        if prev < ONE {
            self.inner.state.fetch_add(ONE, Ordering::Relaxed);
            panic!("negative WaitGroup counter");
        }
        if prev >> 32 == 1 && prev & WAITERS != 0 {
            self.inner.release_waiters();
        }
    }

    /// Waits until the counter is zero (Go's `Wait()`); ready at once if it
    /// is. Dropping the future before it completes unregisters it.
    pub fn wait(&self) -> Wait<'_> {
        Wait {
            inner: &self.inner,
            node: None,
        }
    }

    /// [`wait`](WaitGroup::wait) for a thread: parks it until the counter
    /// is zero.
    pub fn wait_blocking(&self) {
        if self.count() != 0 {
            waiter::block_on(self.wait());
        }
    }

    /// The counter: tasks added and not yet done.
    pub fn count(&self) -> usize {
        (self.inner.state.load(Ordering::Acquire) >> 32) as usize
    }
}

impl Inner {
    /// The counter reached zero with waiters parked: release all of them.
    fn release_waiters(&self) {
        let mut wakers = waiter::WakeList::default();
        let mut q = lock(&self.queue);
        let n = q.len() as u64;
        for entry in q.drain() {
            entry.node.set(RELEASED);
            wakers.push(entry.waker);
        }
        self.state.fetch_sub(n, Ordering::Relaxed);
        drop(q);
        wakers.wake_all();
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}

/// The future of [`WaitGroup::wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct Wait<'a> {
    inner: &'a Inner,
    node: Option<Arc<Node>>,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let inner = self.inner;
        if let Some(node) = &self.node {
            if waiter::repoll(&inner.queue, node, cx.waker()) == WAITING {
                return waiter::pending(WaitReason::WaitGroup);
            }
            self.node = None;
            return Poll::Ready(());
        }
        // The cooperative budget, on the poll that can complete without
        // waiting (a waiter that parked has yielded already).
        let coop = std::task::ready!(gort_coop::poll_proceed(cx));
        let mut state = inner.state.load(Ordering::Acquire);
        if state < ONE {
            coop.made_progress();
            return Poll::Ready(());
        }
        // Count and link the waiter in one step under the lock, so the
        // `done` that sees it counted finds it linked.
        let mut q = lock(&inner.queue);
        loop {
            if state < ONE {
                drop(q);
                coop.made_progress();
                return Poll::Ready(());
            }
            match inner.state.compare_exchange_weak(
                state,
                state + 1,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        let node = Node::new();
        q.push_back(node.clone(), cx.waker().clone(), ());
        drop(q);
        self.node = Some(node);
        waiter::pending(WaitReason::WaitGroup)
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        let Some(node) = self.node.take() else {
            return;
        };
        if node.get() != WAITING {
            return;
        }
        let mut q = lock(&self.inner.queue);
        if let Some((entry, _)) = q.remove(&node) {
            self.inner.state.fetch_sub(1, Ordering::Relaxed);
            drop(q);
            drop(entry);
        }
        // Released meanwhile: a release wakes every waiter, so there is
        // nothing to pass on.
    }
}

impl fmt::Debug for Wait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("parked", &self.node.is_some())
            .finish()
    }
}
