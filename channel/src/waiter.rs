//! Waiters: the parked half of a channel operation (Go's `sudog`).
//!
//! A waiter lives inside the future of a pending `send`/`recv`, or on the
//! stack of a thread blocked in `send_blocking`/`recv_blocking`, so parking
//! allocates nothing. The channel links waiters into intrusive FIFO queues
//! (`WaitQueue`), one for receivers and one for senders.
//!
//! # Invariants
//!
//! - Every field except `state` is touched only under the channel's lock.
//! - A waiter is linked into at most one queue, and only while its state is
//!   `WAITING`. Whoever moves it out of `WAITING` (a counterpart completing
//!   it, or `close`) unlinks it first, under the lock.
//! - The counterpart writes `slot` (a receive) or takes from it (a send),
//!   moves the wake handle out, and only then stores the final state with
//!   `Release`. From that store on it never touches the waiter again: the
//!   owner may observe the state without the lock (`Acquire`) and free the
//!   waiter at once.
//! - The owner (the future or the blocked thread) must not move the waiter
//!   while it is linked (futures are `!Unpin`), and unlinks it under the lock
//!   before freeing it if it is still `WAITING`.

use std::marker::PhantomPinned;
use std::ptr;

use crate::loom::atomic::{AtomicU8, Ordering};
use crate::loom::UnsafeCell;
use std::task::Waker;
use std::thread::Thread;

/// Parked; linked into a queue.
pub(crate) const WAITING: u8 = 0;
/// Completed by a counterpart: a receive has its value in `slot`; a send's
/// value was taken.
pub(crate) const DONE: u8 = 1;
/// The channel closed while parked: a receive gets `RecvError`; a send gets
/// its value back from `slot`.
pub(crate) const CLOSED: u8 = 2;
/// Not registered (initial, or after the owner took it back).
pub(crate) const IDLE: u8 = 3;

/// How to wake the owner.
pub(crate) enum Wake {
    None,
    Task(Waker),
    Thread(Thread),
}

impl Wake {
    /// Wakes the owner. Called after the channel's lock is released.
    pub(crate) fn fire(self) {
        match self {
            Wake::None => {}
            Wake::Task(w) => w.wake(),
            Wake::Thread(t) => t.unpark(),
        }
    }
}

/// One parked operation.
pub(crate) struct Waiter<T> {
    state: AtomicU8,
    /// The value: a send's value to deliver, or a receive's delivered value.
    slot: UnsafeCell<Option<T>>,
    wake: UnsafeCell<Wake>,
    prev: UnsafeCell<*const Waiter<T>>,
    next: UnsafeCell<*const Waiter<T>>,
    _pinned: PhantomPinned,
}

// SAFETY: the value moves between threads (T: Send); every non-atomic field
// is accessed under the channel's lock (module invariants).
unsafe impl<T: Send> Send for Waiter<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Waiter<T> {}

impl<T> Waiter<T> {
    pub(crate) fn new() -> Self {
        Waiter {
            state: AtomicU8::new(IDLE),
            slot: UnsafeCell::new(None),
            wake: UnsafeCell::new(Wake::None),
            prev: UnsafeCell::new(ptr::null()),
            next: UnsafeCell::new(ptr::null()),
            _pinned: PhantomPinned,
        }
    }

    /// The state, read without the lock (pairs with the completer's Release).
    pub(crate) fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    /// Prepares the waiter for linking: state `WAITING`, the value (for a
    /// send) and the wake handle.
    ///
    /// # Safety
    /// Under the channel's lock, and the waiter is not linked.
    pub(crate) unsafe fn arm(&self, value: Option<T>, wake: Wake) {
        // SAFETY: per the caller, nobody else touches these fields now.
        self.slot.with_mut(|s| unsafe { *s = value });
        // SAFETY: as above.
        self.wake.with_mut(|w| unsafe { *w = wake });
        self.state.store(WAITING, Ordering::Relaxed);
    }

    /// Replaces the wake handle of a waiter that is still `WAITING`.
    ///
    /// # Safety
    /// Under the channel's lock.
    pub(crate) unsafe fn set_wake(&self, wake: Wake) {
        // SAFETY: per the caller.
        self.wake.with_mut(|w| unsafe { *w = wake });
    }

    /// Takes the value out of the slot (the owner, after `DONE`/`CLOSED`,
    /// or anyone under the lock).
    ///
    /// # Safety
    /// Under the lock, or after observing a final state (the completer no
    /// longer touches the waiter).
    pub(crate) unsafe fn take_value(&self) -> Option<T> {
        // SAFETY: per the caller.
        self.slot.with_mut(|s| unsafe { (*s).take() })
    }

    /// Marks the waiter idle again after its owner took its result.
    pub(crate) fn reset(&self) {
        self.state.store(IDLE, Ordering::Relaxed);
    }

    /// Completes an unlinked waiter: stores `value` (a receive) or takes the
    /// value (a send, `value == None`), moves the wake handle out, then
    /// publishes `state`. Returns the taken value and the wake handle, to be
    /// fired after the lock is released.
    ///
    /// # Safety
    /// Under the channel's lock; the waiter was `WAITING` and has just been
    /// unlinked by the caller.
    pub(crate) unsafe fn complete(&self, value: Option<T>, state: u8) -> (Option<T>, Wake) {
        // SAFETY: per the caller, we own the waiter's fields until the store.
        let taken = self.slot.with_mut(|s| unsafe {
            if value.is_some() {
                *s = value;
                None
            } else if state == DONE {
                (*s).take()
            } else {
                None
            }
        });
        // SAFETY: as above.
        let wake = self
            .wake
            .with_mut(|w| unsafe { std::mem::replace(&mut *w, Wake::None) });
        // From here on the owner may free the waiter.
        self.state.store(state, Ordering::Release);
        (taken, wake)
    }
}

/// An intrusive FIFO of waiters. Lives in the channel's locked state.
pub(crate) struct WaitQueue<T> {
    head: *const Waiter<T>,
    tail: *const Waiter<T>,
    len: usize,
}

// SAFETY: the queue only holds pointers to waiters, which are `Send` for
// `T: Send`; it is used under the channel's lock.
unsafe impl<T: Send> Send for WaitQueue<T> {}

impl<T> WaitQueue<T> {
    pub(crate) const fn new() -> Self {
        WaitQueue {
            head: ptr::null(),
            tail: ptr::null(),
            len: 0,
        }
    }

    #[cfg(all(test, not(loom)))]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Links `w` at the tail.
    ///
    /// # Safety
    /// Under the lock; `w` is armed (`WAITING`), not linked, and stays at
    /// this address until it is unlinked.
    pub(crate) unsafe fn push_back(&mut self, w: *const Waiter<T>) {
        // SAFETY: per the caller; `tail`, if any, is a linked live waiter.
        unsafe {
            let tail = self.tail;
            (*w).prev.with_mut(|p| *p = tail);
            (*w).next.with_mut(|n| *n = ptr::null());
            if tail.is_null() {
                self.head = w;
            } else {
                (*tail).next.with_mut(|n| *n = w);
            }
        }
        self.tail = w;
        self.len += 1;
    }

    /// Unlinks and returns the head.
    ///
    /// # Safety
    /// Under the lock.
    pub(crate) unsafe fn pop_front(&mut self) -> Option<*const Waiter<T>> {
        if self.head.is_null() {
            return None;
        }
        let w = self.head;
        // SAFETY: `w` is linked, hence live (module invariants).
        unsafe { self.remove(w) };
        Some(w)
    }

    /// Unlinks `w`.
    ///
    /// # Safety
    /// Under the lock; `w` is linked into this queue.
    pub(crate) unsafe fn remove(&mut self, w: *const Waiter<T>) {
        // SAFETY: per the caller, `w` and its neighbours are live and linked.
        unsafe {
            let prev = (*w).prev.with(|p| *p);
            let next = (*w).next.with(|n| *n);
            if prev.is_null() {
                self.head = next;
            } else {
                (*prev).next.with_mut(|n| *n = next);
            }
            if next.is_null() {
                self.tail = prev;
            } else {
                (*next).prev.with_mut(|p| *p = prev);
            }
            (*w).prev.with_mut(|p| *p = ptr::null());
            (*w).next.with_mut(|n| *n = ptr::null());
        }
        self.len -= 1;
    }
}
