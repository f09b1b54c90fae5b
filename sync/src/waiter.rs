//! Parked operations, shared by every type of the crate.
//!
//! A pending future (or a thread blocked in a `*_blocking` call) that has
//! to wait allocates one [`Node`] and links an [`Entry`] for it into its
//! primitive's [`Queue`], under that primitive's `std` mutex. The entry
//! holds the waker and what the waiter asks for (a number of permits, read
//! or write); the node holds only the waiter's state, which the future
//! reads without the lock.
//!
//! # Invariants
//!
//! - An entry is in a queue only while its node's state is [`WAITING`].
//! - Whoever moves a node out of `WAITING` (a release granting it the lock
//!   or permits, or a wake-up to retry) unlinks its entry first, under the
//!   queue's lock, stores the new state with `Release` under that lock, and
//!   wakes the waker after unlocking.
//! - The owner updates its waker only under the lock and only while the
//!   node is still `WAITING` (so a wake-up is never sent to a stale waker),
//!   and a dropped owner unlinks its entry under the lock; if it finds the
//!   entry gone, it was granted something and passes it on.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};

use crate::loom::atomic::{AtomicU8, Ordering};
use crate::loom::{lock, thread, Arc, Mutex};

/// The state of a node that is linked into a queue. Every other state is
/// the primitive's own (granted, woken to retry), always non-zero.
pub(crate) const WAITING: u8 = 0;

/// The state a parked operation shares with its queue entry.
#[derive(Debug)]
pub(crate) struct Node {
    state: AtomicU8,
}

impl Node {
    pub(crate) fn new() -> Arc<Node> {
        Arc::new(Node {
            state: AtomicU8::new(WAITING),
        })
    }

    /// The state, read without the lock; `Acquire` pairs with
    /// [`Node::set`]'s `Release`, so whatever the granter did before (the
    /// state word it changed for this waiter) is visible.
    pub(crate) fn get(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    /// Moves the node out of `WAITING`; only under the queue's lock, after
    /// its entry was unlinked.
    pub(crate) fn set(&self, state: u8) {
        debug_assert_ne!(state, WAITING);
        self.state.store(state, Ordering::Release);
    }
}

/// A node's link in a queue: its waker and what it waits for.
#[derive(Debug)]
pub(crate) struct Entry<X> {
    pub(crate) node: Arc<Node>,
    pub(crate) waker: Waker,
    pub(crate) data: X,
}

/// A FIFO of parked operations, guarded by its primitive's mutex. Removal
/// of a given node is a linear search: queues are as long as the number of
/// tasks waiting on one primitive at once.
#[derive(Debug)]
pub(crate) struct Queue<X> {
    entries: VecDeque<Entry<X>>,
}

impl<X> Queue<X> {
    pub(crate) const fn new() -> Self {
        Queue {
            entries: VecDeque::new(),
        }
    }

    pub(crate) fn push_back(&mut self, node: Arc<Node>, waker: Waker, data: X) {
        self.entries.push_back(Entry { node, waker, data });
    }

    pub(crate) fn push_front(&mut self, node: Arc<Node>, waker: Waker, data: X) {
        self.entries.push_front(Entry { node, waker, data });
    }

    pub(crate) fn front(&self) -> Option<&Entry<X>> {
        self.entries.front()
    }

    pub(crate) fn pop_front(&mut self) -> Option<Entry<X>> {
        self.entries.pop_front()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn position(&self, node: &Arc<Node>) -> Option<usize> {
        self.entries.iter().position(|e| Arc::ptr_eq(&e.node, node))
    }

    /// Unlinks `node`'s entry if it is still linked, with whether it was at
    /// the front.
    pub(crate) fn remove(&mut self, node: &Arc<Node>) -> Option<(Entry<X>, bool)> {
        let i = self.position(node)?;
        self.entries.remove(i).map(|e| (e, i == 0))
    }

    /// Replaces `node`'s waker if it is still linked and the waker would not
    /// wake the same task. Returns the old waker (to be dropped after the
    /// lock is released).
    pub(crate) fn update_waker(&mut self, node: &Arc<Node>, waker: &Waker) -> Option<Waker> {
        let i = self.position(node)?;
        let entry = &mut self.entries[i];
        if entry.waker.will_wake(waker) {
            None
        } else {
            Some(std::mem::replace(&mut entry.waker, waker.clone()))
        }
    }

    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Entry<X>> + '_ {
        self.entries.drain(..)
    }
}

/// Wakers collected under a lock, woken after it is released. The first
/// few are kept inline, so waking a handful of waiters allocates nothing.
#[derive(Default)]
pub(crate) struct WakeList {
    inline: [Option<Waker>; 8],
    len: usize,
    more: Vec<Waker>,
}

impl WakeList {
    pub(crate) fn push(&mut self, waker: Waker) {
        if let Some(slot) = self.inline.get_mut(self.len) {
            *slot = Some(waker);
            self.len += 1;
        } else {
            self.more.push(waker);
        }
    }

    pub(crate) fn wake_all(self) {
        for waker in self.inline.into_iter().flatten() {
            waker.wake();
        }
        for waker in self.more {
            waker.wake();
        }
    }
}

/// `Pending`, after telling the executor what the task now waits on (the
/// goroutine dump's wait reason).
pub(crate) fn pending<T>(reason: gort_coop::WaitReason) -> Poll<T> {
    gort_coop::set_wait_reason(reason);
    Poll::Pending
}

/// A pending waiter polled again: its node's state, and if it is still
/// [`WAITING`], its entry's waker replaced by `waker` (under the lock, so
/// a grant cannot slip between the look and the update).
pub(crate) fn repoll<X>(queue: &Mutex<Queue<X>>, node: &Arc<Node>, waker: &Waker) -> u8 {
    let state = node.get();
    if state != WAITING {
        return state;
    }
    let mut q = lock(queue);
    // Stable while the lock is held: only a lock holder leaves `WAITING`.
    let state = node.get();
    let old = if state == WAITING {
        q.update_waker(node, waker)
    } else {
        None
    };
    drop(q);
    drop(old);
    state
}

/// A primitive that grants parked waiters in FIFO order, with a `QUEUED`
/// bit in its state word while its queue is not empty ([`RwLock`],
/// [`Semaphore`]).
///
/// [`RwLock`]: crate::RwLock
/// [`Semaphore`]: crate::Semaphore
pub(crate) trait Fifo {
    /// What a waiter asks for.
    type Ask;

    fn queue(&self) -> &Mutex<Queue<Self::Ask>>;

    /// Under the queue's lock: grants the front waiters that can go now
    /// (changing the state word for them, marking their nodes), and clears
    /// `QUEUED` if the queue empties.
    fn grant_locked(&self, q: &mut Queue<Self::Ask>, wakers: &mut WakeList);

    /// Under the queue's lock, once it is empty: clears `QUEUED`.
    fn clear_queued(&self);

    /// A release that saw `QUEUED`: grants whoever can go now.
    #[cold]
    fn grant(&self) {
        let mut wakers = WakeList::default();
        let mut q = lock(self.queue());
        self.grant_locked(&mut q, &mut wakers);
        drop(q);
        wakers.wake_all();
    }

    /// A dropped waiter leaves the queue; if it was at the front, the ones
    /// behind it that can go now are granted. Returns `false` if it was no
    /// longer queued: it was granted, and the caller releases what it got.
    fn cancel(&self, node: &Arc<Node>) -> bool {
        let mut wakers = WakeList::default();
        let mut q = lock(self.queue());
        let Some((entry, was_front)) = q.remove(node) else {
            return false;
        };
        if q.is_empty() {
            self.clear_queued();
        } else if was_front {
            self.grant_locked(&mut q, &mut wakers);
        }
        drop(q);
        drop(entry);
        wakers.wake_all();
        true
    }
}

/// Wakes a thread blocked in [`block_on`].
struct ThreadWaker(thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` on the calling thread, parking it while the future is
/// pending: the `*_blocking` variants, which work on any thread (but, like
/// any blocking call, stall an async executor's worker if called there).
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(std::sync::Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}
