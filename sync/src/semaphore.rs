//! [`Semaphore`]: Go's `golang.org/x/sync/semaphore.Weighted`.
//!
//! # The state word
//!
//! The available permits (shifted left by one) and `QUEUED`, set while
//! somebody is parked. `try_acquire` is one CAS that fails if `QUEUED` is
//! set (FIFO: nobody takes permits ahead of a parked request); a release
//! is one `fetch_add` and takes the queue's lock only if `QUEUED` is set.
//!
//! # The queue
//!
//! Parked requests wait in FIFO order. A release (a dropped [`Permit`],
//! [`Semaphore::add_permits`]) grants, under the queue's lock, the front
//! requests while the available permits cover them, and stops at the
//! first that they do not: a large request at the front is never passed
//! by small ones. Granting subtracts the permits for the waiter, which owns
//! them when it sees `GRANTED`; the last grant clears `QUEUED`.
//! Registration sets `QUEUED` and links under the same lock, so a release
//! either sees `QUEUED` or the registering request's CAS sees the released
//! permits.
//!
//! # Cancellation
//!
//! A dropped [`Acquire`] still queued unlinks itself (and, if it was at
//! the front, grants the requests behind it that fit now); one already
//! granted gives its permits back. No permit is ever leaked.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::{lock, Arc, Mutex as StdMutex};
use crate::waiter::{self, Fifo, Node, Queue, WakeList, WAITING};
use gort_coop::WaitReason;

const QUEUED: usize = 1;
const SHIFT: u32 = 1;
/// A parked request's node once its permits are granted.
const GRANTED: u8 = 1;

/// A counting semaphore with weighted, FIFO acquisition: Go's
/// `semaphore.Weighted` (`golang.org/x/sync/semaphore`).
///
/// [`acquire(k)`](Semaphore::acquire) waits until `k` permits are
/// available *and* every earlier request has been served; the returned
/// [`Permit`] gives them back when dropped. Requests are served strictly
/// in arrival order, so a large request is never starved by a stream of
/// small ones.
///
/// There is no fixed capacity: a request for more permits than exist
/// waits (holding up the requests behind it, as the front of a FIFO does)
/// until [`add_permits`](Semaphore::add_permits) or dropped permits make
/// up the difference. Go's `Weighted.Acquire` blocks the same way, until
/// its context is cancelled; here, drop the future.
///
/// ```
/// # futures::executor::block_on(async {
/// use gort::sync::Semaphore;
///
/// let sem = Semaphore::new(4);
/// let big = sem.acquire(3).await;
/// assert_eq!(sem.available(), 1);
/// assert!(sem.try_acquire(2).is_none());
/// drop(big);
/// let two = sem.try_acquire(2).unwrap();
/// two.forget(); // never given back
/// assert_eq!(sem.available(), 2);
/// # });
/// ```
pub struct Semaphore {
    state: AtomicUsize,
    queue: StdMutex<Queue<usize>>,
}

impl Semaphore {
    /// The most permits a semaphore can hold.
    pub const MAX_PERMITS: usize = usize::MAX >> 3;

    /// A semaphore with `permits` available.
    ///
    /// # Panics
    ///
    /// If `permits` exceeds [`Semaphore::MAX_PERMITS`].
    pub fn new(permits: usize) -> Self {
        assert!(
            permits <= Self::MAX_PERMITS,
            "gort-sync: a Semaphore holds at most MAX_PERMITS"
        );
        Semaphore {
            state: AtomicUsize::new(permits << SHIFT),
            queue: StdMutex::new(Queue::new()),
        }
    }

    /// Waits for `k` permits, served in FIFO order with every other
    /// waiting request.
    ///
    /// Cancel safety: dropping the future before it completes gives up its
    /// place in the queue, and gives back the permits if they had been
    /// granted already.
    ///
    /// # Panics
    ///
    /// If `k` exceeds [`Semaphore::MAX_PERMITS`].
    pub fn acquire(&self, k: usize) -> Acquire<'_> {
        assert!(
            k <= Self::MAX_PERMITS,
            "gort-sync: a request for more than MAX_PERMITS"
        );
        Acquire {
            sem: self,
            k,
            node: None,
            first: true,
        }
    }

    /// Takes `k` permits if they are available and nobody is waiting (Go's
    /// `TryAcquire`).
    pub fn try_acquire(&self, k: usize) -> Option<Permit<'_>> {
        // Not `then_some`: a `Permit` built on failure would release `k`
        // permits when dropped.
        if self.try_take(k) {
            Some(Permit { sem: self, k })
        } else {
            None
        }
    }

    /// The permits available now (not counting those granted to waiters).
    pub fn available(&self) -> usize {
        self.state.load(Ordering::Relaxed) >> SHIFT
    }

    /// Adds `k` permits (Go's `Release(k)` without a matching acquire),
    /// serving waiting requests that they now cover.
    ///
    /// # Panics
    ///
    /// If the available permits would exceed [`Semaphore::MAX_PERMITS`].
    pub fn add_permits(&self, k: usize) {
        self.release(k);
    }

    fn try_take(&self, k: usize) -> bool {
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            if old & QUEUED != 0 || old >> SHIFT < k {
                return false;
            }
            match self.state.compare_exchange_weak(
                old,
                old - (k << SHIFT),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => old = now,
            }
        }
    }

    fn release(&self, k: usize) {
        if k == 0 {
            return;
        }
        assert!(
            k <= Self::MAX_PERMITS,
            "gort-sync: Semaphore permits overflow"
        );
        let prev = self.state.fetch_add(k << SHIFT, Ordering::Release);
        if (prev >> SHIFT) + k > Self::MAX_PERMITS {
            self.state.fetch_sub(k << SHIFT, Ordering::Relaxed);
            panic!("gort-sync: Semaphore permits overflow");
        }
        if prev & QUEUED != 0 {
            self.grant();
        }
    }

    /// Takes the permits at once if nobody is queued and they suffice,
    /// else counts as queued and links a node, under the queue's lock.
    fn register(&self, k: usize, cx: &Context<'_>) -> Result<(), Arc<Node>> {
        let mut q = lock(&self.queue);
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            let free = old & QUEUED == 0 && old >> SHIFT >= k;
            let new = if free {
                old - (k << SHIFT)
            } else {
                old | QUEUED
            };
            if !free && new == old {
                // `QUEUED` already set stays set while we hold the lock.
                break;
            }
            match self
                .state
                .compare_exchange(old, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) if free => return Ok(()),
                Ok(_) => break,
                Err(now) => old = now,
            }
        }
        let node = Node::new();
        q.push_back(node.clone(), cx.waker().clone(), k);
        Err(node)
    }
}

impl Fifo for Semaphore {
    type Ask = usize;

    fn queue(&self) -> &StdMutex<Queue<usize>> {
        &self.queue
    }

    /// Grants the front requests while the permits cover them. With
    /// `QUEUED` set, permits only grow outside the lock (`try_acquire`
    /// fails), so what is seen here stays available.
    fn grant_locked(&self, q: &mut Queue<usize>, wakers: &mut WakeList) {
        loop {
            let Some(front) = q.front() else {
                self.clear_queued();
                return;
            };
            let need = front.data;
            if self.state.load(Ordering::Acquire) >> SHIFT < need {
                return;
            }
            self.state.fetch_sub(need << SHIFT, Ordering::Acquire);
            let entry = q.pop_front().expect("the front was just seen");
            entry.node.set(GRANTED);
            wakers.push(entry.waker);
        }
    }

    fn clear_queued(&self) {
        self.state.fetch_and(!QUEUED, Ordering::Relaxed);
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.load(Ordering::Relaxed);
        f.debug_struct("Semaphore")
            .field("available", &(state >> SHIFT))
            .field("queued", &(state & QUEUED != 0))
            .finish()
    }
}

/// The future of [`Semaphore::acquire`].
#[must_use = "futures do nothing unless awaited"]
pub struct Acquire<'a> {
    sem: &'a Semaphore,
    k: usize,
    node: Option<Arc<Node>>,
    first: bool,
}

impl<'a> Future for Acquire<'a> {
    type Output = Permit<'a>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit<'a>> {
        let (sem, k) = (self.sem, self.k);
        if self.first {
            // The cooperative budget, on the first poll only: the one
            // that can complete without waiting. A future that parked has
            // yielded already, and one that was handed the permits must not
            // hold it across a yield.
            let coop = std::task::ready!(gort_coop::poll_proceed(cx));
            self.first = false;
            if sem.try_take(k) {
                coop.made_progress();
                return Poll::Ready(Permit { sem, k });
            }
            return match sem.register(k, cx) {
                Ok(()) => {
                    coop.made_progress();
                    Poll::Ready(Permit { sem, k })
                }
                Err(node) => {
                    self.node = Some(node);
                    waiter::pending(WaitReason::Semaphore)
                }
            };
        }
        let Some(node) = &self.node else {
            panic!("gort-sync: Acquire polled after completion");
        };
        if waiter::repoll(&sem.queue, node, cx.waker()) == WAITING {
            return waiter::pending(WaitReason::Semaphore);
        }
        self.node = None;
        Poll::Ready(Permit { sem, k })
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(node) = self.node.take() else {
            return;
        };
        let sem = self.sem;
        if sem.cancel(&node) {
            return;
        }
        // Granted before it could see it: give the permits back.
        sem.release(self.k);
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("permits", &self.k)
            .field("parked", &self.node.is_some())
            .finish()
    }
}

/// Permits taken from a [`Semaphore`]; given back when dropped.
#[must_use = "the permits are given back as soon as this is dropped"]
pub struct Permit<'a> {
    sem: &'a Semaphore,
    k: usize,
}

impl Permit<'_> {
    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.k
    }

    /// Keeps the permits out of the semaphore for good (its total
    /// shrinks by that many).
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.sem.release(self.k);
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("permits", &self.k).finish()
    }
}
