//! Buffered channels (`bounded(n)`, `n >= 1`, and `unbounded()`): a
//! lock-free queue ([`Ring`](crate::flavor::ring::Ring) or
//! [`List`](crate::flavor::list::List)) for the values, and two queues of
//! parked operations behind locks of their own for the slow path.
//!
//! # The wake-up protocol
//!
//! A send into a buffer with room and a receive from a non-empty buffer
//! take no lock: they move the value through the queue and then look at
//! the other side's `parked` count (one atomic load); only if it is not 0
//! do they take that side's lock.
//!
//! - A push that finds a receive parked wakes it ([`Waiters::notify_one`]).
//!   A woken receive is not handed anything: it retries on the queue and
//!   parks again if another one was faster (it lost to a receive that did
//!   not park; the value it was woken for was received exactly once).
//! - A pop that finds a send parked *completes* it when it is the only one
//!   parked and the pop left the queue empty ([`Buffered::serve_send`]): a
//!   parked send keeps its value in its waiter, and the pop moves that
//!   value into the room it has just made (Go's `recv` from a full buffer
//!   with a waiting sender). The send has nothing left to do when it runs,
//!   and the receive finds a value where it would have parked (on
//!   `bounded(1)`, every time). Otherwise the first parked send, or a
//!   `select!` case first in line, is woken to retry. Completing every
//!   parked send would make each pop wake one more task; with trivial work
//!   per message those tasks then run on other workers and every message
//!   crosses between cores (BENCHMARKS.md: 3x slower with four senders on
//!   two workers). Completing a lone send while values are still queued
//!   moves the send's push (the tail's cache line) to the receiving core
//!   where the woken send would have found room by itself (Go's
//!   `ChanProdCons10`, 10-30% slower). Waking one sender to retry keeps a
//!   producer and its consumer taking turns.
//!
//! No wake-up is lost: an operation that finds the queue empty (full)
//! links its waiter and publishes `parked` with a `SeqCst` store, then
//! tries the queue again, whose empty (full) decision reads the counter
//! that a push (pop) advances with a `SeqCst` read-modify-write before it
//! looks at `parked` with a `SeqCst` load. In the single total order of
//! those operations one of the two sees the other: either the retry finds
//! the value (room), or the pusher (popper) finds the waiter. A send does
//! its retry holding the send queue's lock and leaves its value in its
//! waiter only if the retry found the queue full, so a popper that saw it
//! parked finds the value there once it has the lock. A retry that finds
//! a reservation not yet published (`Busy`) does not park: it wakes itself
//! and comes back.
//!
//! A woken operation that is dropped before it retried passes its wake-up
//! to the next parked operation, so the value (room) it was woken for
//! never waits behind parked operations that nobody will wake. A dropped
//! send that a pop had completed was delivered; one still parked takes its
//! value back under the lock, and that value is never delivered.
//!
//! # `select!`
//!
//! A select case links a waiter that names its select's claim word. The
//! operation that wakes it must win the claim first ([`WaitQueue::pop_front`]);
//! the select then performs the woken case's operation itself. If that
//! operation finds nothing after all, the select reports the case as lost
//! and starts over ([`Taken::Lost`]). Only the select's own operation
//! commits a case, so exactly one case takes effect.

use std::pin::Pin;
use std::task::Poll;

use crate::error::{TryRecvError, TrySendError};
use crate::flavor::list::List;
use crate::flavor::ring::Ring;
use crate::flavor::{sc_fence_for_loom, Pop, Push};
use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::{spin_hint, Mutex, MutexGuard};
use crate::waiter::{Claim, Taken, WaitQueue, WaitState, Waiter, Wake};

/// The lock-free queue under a buffered channel.
pub(crate) trait Queue<T> {
    /// Whether the queue can be full (so senders may park).
    const BOUNDED: bool;
    /// The uncontended push, inline: `Err` gives the value back and
    /// nothing was pushed; then `push` says why, or retries.
    fn try_push(&self, value: T) -> Result<(), T>;
    /// The uncontended pop, inline: `None` took nothing; then `pop` says
    /// why, or retries.
    fn try_pop(&self) -> Option<T>;
    fn push(&self, value: T) -> Push<T>;
    fn pop(&self) -> Pop<T>;
    fn close(&self) -> bool;
    fn is_closed(&self) -> bool;
    fn len(&self) -> usize;
    /// Room for one more value (`len < cap`); always for an unbounded queue.
    fn has_room(&self) -> bool;
    /// Whether the queue looked empty a moment ago (a hint: head and tail
    /// read once each, no order between them).
    fn looks_empty(&self) -> bool;
}

impl<T> Queue<T> for Ring<T> {
    const BOUNDED: bool = true;
    #[inline]
    fn try_push(&self, value: T) -> Result<(), T> {
        Ring::try_push(self, value)
    }
    #[inline]
    fn try_pop(&self) -> Option<T> {
        Ring::try_pop(self)
    }
    #[inline]
    fn push(&self, value: T) -> Push<T> {
        Ring::push(self, value)
    }
    #[inline]
    fn pop(&self) -> Pop<T> {
        Ring::pop(self)
    }
    fn close(&self) -> bool {
        Ring::close(self)
    }
    fn is_closed(&self) -> bool {
        Ring::is_closed(self)
    }
    fn len(&self) -> usize {
        Ring::len(self)
    }
    fn has_room(&self) -> bool {
        Ring::len(self) < Ring::capacity(self)
    }
    fn looks_empty(&self) -> bool {
        Ring::looks_empty(self)
    }
}

impl<T> Queue<T> for List<T> {
    const BOUNDED: bool = false;
    #[inline]
    fn try_push(&self, value: T) -> Result<(), T> {
        List::try_push(self, value)
    }
    #[inline]
    fn try_pop(&self) -> Option<T> {
        List::try_pop(self)
    }
    #[inline]
    fn push(&self, value: T) -> Push<T> {
        List::push(self, value)
    }
    #[inline]
    fn pop(&self) -> Pop<T> {
        List::pop(self)
    }
    fn close(&self) -> bool {
        List::close(self)
    }
    fn is_closed(&self) -> bool {
        List::is_closed(self)
    }
    fn len(&self) -> usize {
        List::len(self)
    }
    fn has_room(&self) -> bool {
        true
    }
    /// Never asked in practice: `popped` serves parked sends only on a
    /// bounded queue, and sends on an unbounded one never park.
    fn looks_empty(&self) -> bool {
        List::len(self) == 0
    }
}

/// How a waiter left its queue ([`Waiters::withdraw`]).
enum Withdrawn {
    /// It was not linked (idle, or a select case another case won).
    Idle,
    /// It was parked and is now unlinked; the wake handle it held.
    Unlinked(Wake),
    /// It had been woken (and unlinked by its waker) and not yet retried.
    Notified,
}

/// The parked operations of one direction.
pub(crate) struct Waiters<T> {
    queue: Mutex<WaitQueue<T>>,
    /// Waiters linked in `queue` (written under the lock, `SeqCst`): what
    /// the lock-free side reads to know whether anyone must be woken.
    parked: AtomicUsize,
}

impl<T> Waiters<T> {
    fn new() -> Self {
        Waiters {
            queue: Mutex::new(WaitQueue::new()),
            parked: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, WaitQueue<T>> {
        // Nothing that can panic runs under the lock with the queue half
        // updated, so a poisoned lock still guards a consistent queue.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Links `w` (as case `case` of the select whose claim word is
    /// `claim`; null: a plain operation), or gives a `w` that is still
    /// linked the new wake handle. `false` if `w` was woken meanwhile: it
    /// is left idle and `wake` unused, and the caller retries.
    fn park(
        &self,
        w: Pin<&Waiter<T>>,
        claim: *const Claim,
        case: usize,
        wake: &mut Option<Wake>,
    ) -> bool {
        let stale = {
            let mut q = self.lock();
            match w.state() {
                // SAFETY: under the lock.
                WaitState::Waiting => unsafe { w.set_wake(wake.take().unwrap_or(Wake::NONE)) },
                WaitState::Idle => {
                    let wake = wake.take().unwrap_or(Wake::NONE);
                    // `w` is pinned (it stays put until unlinked) and idle
                    // (not linked); a non-null claim outlives the select's
                    // cases (`Select` takes them back).
                    // SAFETY: as just said, and under the lock.
                    let stale = unsafe { w.arm_case(None, wake, claim, case) };
                    // SAFETY: as above; armed just now.
                    unsafe { q.push_back(&*w) };
                    self.parked.store(q.len(), Ordering::SeqCst);
                    stale
                }
                // Woken since the caller's last look.
                WaitState::Done | WaitState::Closed | WaitState::Skipped => {
                    drop(q);
                    w.reset();
                    return false;
                }
            }
        };
        drop(stale);
        true
    }

    /// Unlinks `w` under the lock `q` (this side's) and updates `parked`;
    /// returns its wake handle, to be dropped after the lock.
    ///
    /// # Safety
    /// `q` is this side's locked queue and `w` is linked in it.
    #[must_use = "the wake handle must be dropped after the lock"]
    unsafe fn unlink(&self, q: &mut WaitQueue<T>, w: &Waiter<T>) -> Wake {
        // SAFETY: per the caller.
        let wake = unsafe {
            q.remove(w);
            w.set_wake(Wake::NONE)
        };
        self.parked.store(q.len(), Ordering::SeqCst);
        wake
    }

    /// Takes `w` back: unlinks it if parked. Leaves it idle. Inline: every
    /// completed operation calls it, nearly always on an idle waiter.
    #[inline]
    fn withdraw(&self, w: Pin<&Waiter<T>>) -> Withdrawn {
        match w.state() {
            WaitState::Idle => Withdrawn::Idle,
            WaitState::Skipped => {
                w.reset();
                Withdrawn::Idle
            }
            WaitState::Done => {
                w.reset();
                Withdrawn::Notified
            }
            WaitState::Waiting | WaitState::Closed => self.withdraw_parked(w),
        }
    }

    /// [`withdraw`](Self::withdraw) of a waiter that may still be linked.
    #[inline(never)]
    fn withdraw_parked(&self, w: Pin<&Waiter<T>>) -> Withdrawn {
        let mut q = self.lock();
        let out = match w.state() {
            WaitState::Waiting => {
                // SAFETY: under the lock; WaitState::Waiting means linked here.
                Withdrawn::Unlinked(unsafe { self.unlink(&mut q, &w) })
            }
            WaitState::Done => Withdrawn::Notified,
            WaitState::Idle | WaitState::Closed | WaitState::Skipped => Withdrawn::Idle,
        };
        drop(q);
        w.reset();
        out
    }

    /// Wakes the first parked operation, if any: one load when none is.
    /// Called after a push (pop) has published its value (freed its slot).
    #[inline]
    fn notify_one(&self) {
        sc_fence_for_loom();
        if self.parked.load(Ordering::SeqCst) != 0 {
            self.wake_first();
        }
    }

    /// [`notify_one`](Self::notify_one) when someone is parked.
    #[inline(never)]
    fn wake_first(&self) {
        let wake = {
            let mut q = self.lock();
            // SAFETY: `q` is this side's queue, locked.
            unsafe { self.unlink_first(&mut q) }
        };
        if let Some(wake) = wake {
            wake.fire();
        }
    }

    /// Unlinks the first waiter of `q` that a completer may take
    /// (`WaitQueue::pop_front`: select cases whose select another case
    /// won are skipped on the way), if any, and marks it woken to retry;
    /// returns its wake handle, to be fired after the lock.
    ///
    /// # Safety
    /// `q` is this side's queue, locked by the caller.
    #[must_use = "the wake handle must be fired after the lock"]
    unsafe fn unlink_first(&self, q: &mut WaitQueue<T>) -> Option<Wake> {
        // SAFETY: under the lock (per the caller); the popped waiter was
        // linked, hence live.
        let w = unsafe { q.pop_front() };
        self.parked.store(q.len(), Ordering::SeqCst);
        // SAFETY: just unlinked by us, under the lock.
        w.map(|w| unsafe { (*w).notify() })
    }

    /// Wakes every parked operation (close).
    fn notify_all(&self) {
        let mut wakes = Vec::new();
        {
            let mut q = self.lock();
            // SAFETY: under the lock; each popped waiter was linked, live,
            // and is unlinked by us.
            while let Some(w) = unsafe { q.pop_front() } {
                // SAFETY: just unlinked by us, under the lock. A parked
                // send keeps its value in its slot, to take back.
                wakes.push(unsafe { (*w).notify() });
            }
            self.parked.store(0, Ordering::SeqCst);
        }
        for wake in wakes {
            wake.fire();
        }
    }

    /// Gives a parked waiter (a plain operation polled again, or a linked
    /// select case) a new wake handle, made by `wake` under the lock.
    /// `false`: `w` was no longer waiting (woken, completed or skipped
    /// meanwhile) and nothing was made. Taking the lock also waits out a waker that
    /// claimed a select case and is completing it.
    fn rewake(&self, w: Pin<&Waiter<T>>, wake: impl FnOnce() -> Wake) -> bool {
        let q = self.lock();
        if w.state() != WaitState::Waiting {
            return false;
        }
        // SAFETY: under the lock.
        let stale = unsafe { w.set_wake(wake()) };
        drop(q);
        drop(stale);
        true
    }

    /// Takes a dropped operation's waiter back. `true`: it had been woken
    /// and had not used the wake-up, which the caller passes on to the
    /// next parked operation.
    #[inline]
    #[must_use = "an unused wake-up must be passed on"]
    fn cancel(&self, w: Pin<&Waiter<T>>) -> bool {
        matches!(self.withdraw(w), Withdrawn::Notified)
    }

    #[cfg(all(test, not(loom)))]
    fn parked(&self) -> usize {
        self.lock().len()
    }
}

/// A buffered channel over the queue `Q`.
pub(crate) struct Buffered<T, Q> {
    queue: Q,
    recvq: Waiters<T>,
    sendq: Waiters<T>,
}

impl<T> Buffered<T, Ring<T>> {
    pub(crate) fn bounded(cap: usize) -> Self {
        Buffered::with_queue(Ring::new(cap))
    }
}

impl<T> Buffered<T, List<T>> {
    pub(crate) fn unbounded() -> Self {
        Buffered::with_queue(List::new())
    }
}

impl<T, Q: Queue<T>> Buffered<T, Q> {
    fn with_queue(queue: Q) -> Self {
        Buffered {
            queue,
            recvq: Waiters::new(),
            sendq: Waiters::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    /// Closes the channel: no more sends; buffered values stay for
    /// receivers to drain. Every parked operation wakes to see it.
    pub(crate) fn close(&self) -> bool {
        if !self.queue.close() {
            return false;
        }
        self.recvq.notify_all();
        self.sendq.notify_all();
        true
    }

    /// A value went in: wake a parked receive.
    fn pushed(&self) {
        self.recvq.notify_one();
    }

    /// A value came out: serve a parked send (bounded only): one atomic
    /// load when none is parked.
    #[inline]
    fn popped(&self) {
        if Q::BOUNDED {
            sc_fence_for_loom();
            if self.sendq.parked.load(Ordering::SeqCst) != 0 {
                self.serve_send();
            }
        }
    }

    /// [`popped`](Self::popped) with a send parked. If it is the only one,
    /// a plain send, and this pop left the queue empty (the popper would
    /// park on its next receive), moves its value into the room this pop
    /// made and completes it (Go's `recv` on a full buffer with `sendq`
    /// non-empty): the send has nothing left to retry. Under `sendq`'s lock, so the
    /// owner cannot take the value back meanwhile. If the queue is full
    /// again (a send that never parked took the room) or its tail slot is
    /// still being read, the send stays parked with its value: the pop that
    /// frees the next slot comes here too. Otherwise (more sends parked,
    /// values still queued, or a `select!` case first in line) the first
    /// is woken to retry, as a receive is: a plain send finds its value still in its waiter, a
    /// select case performs its send itself. The module docs say why only
    /// a lone send is completed.
    #[inline(never)]
    fn serve_send(&self) {
        let mut pushed = false;
        let wake = {
            let mut q = self.sendq.lock();
            let lone = q.len() == 1 && self.queue.looks_empty();
            match q.front() {
                None => None,
                // SAFETY: under the lock; `w` is linked, hence live.
                Some(w) if lone && unsafe { (*w).is_plain() } => {
                    // SAFETY: as above; a parked plain send's slot holds its
                    // value while it is linked (`park_send`).
                    let v = unsafe { (*w).take_value() }.expect("a parked send holds its value");
                    match self.queue.push(v) {
                        Push::Done => {
                            pushed = true;
                            // A plain waiter at the front: `unlink_first`
                            // unlinks `w` and marks it done, its slot empty.
                            // SAFETY: `q` is the send queue, locked.
                            unsafe { self.sendq.unlink_first(&mut q) }
                        }
                        Push::Full(v) | Push::Busy(v) | Push::Closed(v) => {
                            // SAFETY: as above; the slot was emptied above.
                            unsafe { (*w).put_value(v) };
                            None
                        }
                    }
                }
                // SAFETY: `q` is the send queue, locked.
                Some(_) => unsafe { self.sendq.unlink_first(&mut q) },
            }
        };
        if pushed {
            self.pushed();
        }
        if let Some(wake) = wake {
            wake.fire();
        }
    }

    // ----- sending -----

    /// Inline: the uncontended push, then [`try_send_slow`](Self::try_send_slow).
    #[inline]
    pub(crate) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.queue.try_push(value) {
            Ok(()) => {
                self.pushed();
                Ok(())
            }
            Err(v) => self.try_send_slow(v),
        }
    }

    #[inline(never)]
    fn try_send_slow(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.queue.push(value) {
            Push::Done => {
                self.pushed();
                Ok(())
            }
            // A slot being read is not free yet: the receive that frees it
            // has not completed.
            Push::Full(v) | Push::Busy(v) => Err(TrySendError::Full(v)),
            Push::Closed(v) => Err(TrySendError::Closed(v)),
        }
    }

    /// Polls a send of `value` (`None` once delivered). `Ready(Err(v))`:
    /// closed, the value is back. While parked the value is in the waiter
    /// `w` ([`park_send`](Self::park_send)), and a receive may complete the send.
    ///
    /// Inline, with only the uncontended push: the whole of a send with
    /// room whose waiter is [`WaitState::Idle`]. An idle waiter is linked
    /// in no queue, so no other thread can change its state (only a waker
    /// that unlinks it does, `waiter.rs`): such a send has no wake-up to
    /// take back and nothing to reset. Everything else is
    /// [`poll_send_slow`](Self::poll_send_slow), whose first push is the
    /// same attempt made in full.
    #[inline]
    pub(crate) fn poll_send(
        &self,
        w: Pin<&Waiter<T>>,
        value: &mut Option<T>,
        wake: impl FnOnce() -> Wake,
    ) -> Poll<Result<(), T>> {
        if self.send_idle(w, value) {
            return Poll::Ready(Ok(()));
        }
        self.poll_send_slow(w, value, wake)
    }

    /// The fast path of [`poll_send`](Self::poll_send): `true` if the send
    /// happened (`value` is `None`); `false` if nothing did (the value is
    /// back in `value`), and `poll_send_slow` is the rest of the poll.
    #[inline]
    pub(crate) fn send_idle(&self, w: Pin<&Waiter<T>>, value: &mut Option<T>) -> bool {
        if w.is_idle() {
            if let Some(v) = value.take() {
                match self.queue.try_push(v) {
                    Ok(()) => {
                        self.pushed();
                        return true;
                    }
                    Err(v) => *value = Some(v),
                }
            }
        }
        false
    }

    /// [`poll_send`](Self::poll_send) past its fast path: a send that
    /// parked before, or that found the queue full, closed or contended.
    ///
    /// A parked send's value is in its waiter, not in `value`: a receive
    /// that makes room moves it into the queue ([`serve_send`](Self::serve_send)),
    /// and the waiter then says `Done` with an empty slot.
    #[inline(never)]
    pub(crate) fn poll_send_slow(
        &self,
        w: Pin<&Waiter<T>>,
        value: &mut Option<T>,
        wake: impl FnOnce() -> Wake,
    ) -> Poll<Result<(), T>> {
        let mut wake = Some(wake);
        loop {
            match w.state() {
                WaitState::Idle => break,
                WaitState::Waiting => {
                    // Polled again while parked: only the wake handle changes.
                    if self
                        .sendq
                        .rewake(w, || wake.take().map_or(Wake::NONE, |f| f()))
                    {
                        return Poll::Pending;
                    }
                }
                WaitState::Done | WaitState::Closed | WaitState::Skipped => {
                    // SAFETY: a final state: whoever unlinked `w` no longer
                    // touches it.
                    let back = unsafe { w.take_value() };
                    w.reset();
                    match back {
                        // Woken (by close, or to retry) with its value.
                        Some(v) => *value = Some(v),
                        // A receive moved the value into the queue.
                        None if value.is_none() => return Poll::Ready(Ok(())),
                        None => {}
                    }
                    break;
                }
            }
        }
        let v = value.take().expect("send polled after completion");
        match self.queue.push(v) {
            Push::Done => {
                self.pushed();
                Poll::Ready(Ok(()))
            }
            Push::Closed(v) => Poll::Ready(Err(v)),
            Push::Full(v) | Push::Busy(v) => {
                self.park_send(w, v, value, wake.take().map_or(Wake::NONE, |f| f()))
            }
        }
    }

    /// Parks an idle send that found the queue full, with its value in
    /// its waiter; tries the queue once more under the lock first. Either
    /// that retry finds the room, or the pop that made it loaded `parked`
    /// after this store (the `SeqCst` pair of the module docs) and moves
    /// the value in once it has the lock, which this send holds until its
    /// value is in the slot. A retry that finds the tail slot still being
    /// read (`Busy`) does not park (the pop that frees it may have looked
    /// at `parked` already): it wakes itself and comes back, its value in
    /// `value`.
    fn park_send(
        &self,
        w: Pin<&Waiter<T>>,
        v: T,
        value: &mut Option<T>,
        wake: Wake,
    ) -> Poll<Result<(), T>> {
        let mut q = self.sendq.lock();
        // `w` is pinned (it stays put until unlinked) and idle (not linked).
        // SAFETY: as just said, and under the lock.
        let stale = unsafe { w.arm(None, wake) };
        // SAFETY: as above; armed just now.
        unsafe { q.push_back(&*w) };
        self.sendq.parked.store(q.len(), Ordering::SeqCst);
        sc_fence_for_loom();
        let res = match self.queue.push(v) {
            Push::Full(v) => {
                // SAFETY: under the lock; linked just now with an empty slot.
                unsafe { w.put_value(v) };
                drop(q);
                drop(stale);
                return Poll::Pending;
            }
            res => res,
        };
        // Not parking after all.
        // SAFETY: the send queue's lock; linked just now.
        let wake = unsafe { self.sendq.unlink(&mut q, &w) };
        drop(q);
        w.reset();
        drop(stale);
        match res {
            Push::Done => {
                drop(wake);
                self.pushed();
                Poll::Ready(Ok(()))
            }
            Push::Closed(v) => Poll::Ready(Err(v)),
            Push::Busy(v) | Push::Full(v) => {
                spin_hint();
                *value = Some(v);
                wake.fire();
                Poll::Pending
            }
        }
    }

    /// A retry found the other side between reserve and publish: take the
    /// waiter back and wake ourselves, to come back once it is done.
    fn yield_now(&self, waiters: &Waiters<T>, w: Pin<&Waiter<T>>) {
        spin_hint();
        match waiters.withdraw(w) {
            Withdrawn::Unlinked(wake) => wake.fire(),
            // Woken already: the wake-up is on its way.
            Withdrawn::Notified | Withdrawn::Idle => {}
        }
    }

    /// A send future dropped: take its waiter back. Its value (in the
    /// future, or in the waiter while parked) is dropped with it, never
    /// delivered; a send whose value a receive already moved into the
    /// queue (`Done`, slot empty) was delivered and is only reset.
    pub(crate) fn cancel_send(&self, w: Pin<&Waiter<T>>) {
        let pass_on = self.sendq.cancel(w);
        // SAFETY: withdrawn: `w` is idle and linked nowhere, its owner's alone.
        let value = unsafe { w.take_value() };
        // Woken to retry and dropped first: the room goes to the next.
        if pass_on && value.is_some() {
            self.popped();
        }
        drop(value);
    }

    /// A send case whose select won it: perform the send now.
    pub(crate) fn take_send(
        &self,
        w: Pin<&Waiter<T>>,
        value: &mut Option<T>,
    ) -> Taken<Result<(), T>> {
        match w.state() {
            WaitState::Done => {
                w.reset();
                let v = value.take().expect("a send case keeps its value");
                match self.queue.push(v) {
                    Push::Done => {
                        self.pushed();
                        Taken::Done(Ok(()))
                    }
                    Push::Closed(v) => Taken::Done(Err(v)),
                    Push::Full(v) | Push::Busy(v) => {
                        *value = Some(v);
                        Taken::Lost
                    }
                }
            }
            WaitState::Idle | WaitState::Waiting | WaitState::Closed | WaitState::Skipped => {
                Taken::NotYet
            }
        }
    }

    /// Links a select's send case unless it could complete now (`false`).
    pub(crate) fn register_send_case(
        &self,
        w: Pin<&Waiter<T>>,
        claim: &Claim,
        case: usize,
        wake: impl FnOnce() -> Wake,
    ) -> bool {
        let mut wake = Some(wake());
        if !self.sendq.park(w, claim, case, &mut wake) {
            return false;
        }
        sc_fence_for_loom();
        !(self.queue.is_closed() || self.queue.has_room())
    }

    /// Takes a select's send case back (it lost, or the select retries or
    /// is dropped); the value never left `value`.
    pub(crate) fn unregister_send_case(&self, w: Pin<&Waiter<T>>) {
        if self.sendq.cancel(w) {
            self.popped();
        }
    }

    // ----- receiving -----

    /// Inline: the uncontended pop, then [`try_recv_slow`](Self::try_recv_slow).
    #[inline]
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        match self.queue.try_pop() {
            Some(v) => {
                self.popped();
                Ok(v)
            }
            None => self.try_recv_slow(),
        }
    }

    #[inline(never)]
    fn try_recv_slow(&self) -> Result<T, TryRecvError> {
        match self.queue.pop() {
            Pop::Value(v) => {
                self.popped();
                Ok(v)
            }
            // A value being written is not there yet: its send has not
            // completed.
            Pop::Empty | Pop::Busy => Err(TryRecvError::Empty),
            Pop::Closed => Err(TryRecvError::Closed),
        }
    }

    /// Polls a receive. `Ready(None)`: closed and drained.
    ///
    /// Inline, with only the uncontended pop for an idle waiter, as
    /// [`poll_send`](Self::poll_send): a receive that finds a value at
    /// once has nothing to take back.
    #[inline]
    pub(crate) fn poll_recv(
        &self,
        w: Pin<&Waiter<T>>,
        wake: impl FnOnce() -> Wake,
    ) -> Poll<Option<T>> {
        if let Some(v) = self.recv_idle(w) {
            return Poll::Ready(Some(v));
        }
        self.poll_recv_slow(w, wake)
    }

    /// The fast path of [`poll_recv`](Self::poll_recv): the value, or
    /// `None` if nothing happened and `poll_recv_slow` is the rest of the
    /// poll.
    #[inline]
    pub(crate) fn recv_idle(&self, w: Pin<&Waiter<T>>) -> Option<T> {
        if w.is_idle() {
            if let Some(v) = self.queue.try_pop() {
                self.popped();
                return Some(v);
            }
        }
        None
    }

    /// [`poll_recv`](Self::poll_recv) past its fast path: a receive that
    /// parked before, or that found the queue empty, closed or contended.
    #[inline(never)]
    pub(crate) fn poll_recv_slow(
        &self,
        w: Pin<&Waiter<T>>,
        wake: impl FnOnce() -> Wake,
    ) -> Poll<Option<T>> {
        if w.state() != WaitState::Waiting {
            w.reset();
        }
        match self.queue.pop() {
            Pop::Value(v) => return self.received(w, v),
            Pop::Closed => return self.recv_closed(w),
            Pop::Empty | Pop::Busy => {}
        }
        let mut wake = Some(wake());
        loop {
            if !self.recvq.park(w, std::ptr::null(), 0, &mut wake) {
                // Woken in between: try again before parking.
                match self.queue.pop() {
                    Pop::Value(v) => return self.received(w, v),
                    Pop::Closed => return self.recv_closed(w),
                    Pop::Empty | Pop::Busy => {
                        spin_hint();
                        continue;
                    }
                }
            }
            sc_fence_for_loom();
            return match self.queue.pop() {
                Pop::Value(v) => self.received(w, v),
                Pop::Closed => self.recv_closed(w),
                Pop::Empty => Poll::Pending,
                Pop::Busy => {
                    self.yield_now(&self.recvq, w);
                    Poll::Pending
                }
            };
        }
    }

    fn received(&self, w: Pin<&Waiter<T>>, v: T) -> Poll<Option<T>> {
        // A wake-up that arrived while this receive was still linked may
        // be for a value pushed after the one it took (even right after
        // its own pop): pass it on, as a dropped receive does. At worst
        // another receive retries for nothing.
        self.withdraw_recv(w);
        self.popped();
        Poll::Ready(Some(v))
    }

    /// Takes a receive's waiter back; a wake-up it had been given and not
    /// used goes on to the next parked receive.
    fn withdraw_recv(&self, w: Pin<&Waiter<T>>) {
        if self.recvq.cancel(w) {
            self.recvq.notify_one();
        }
    }

    fn recv_closed(&self, w: Pin<&Waiter<T>>) -> Poll<Option<T>> {
        drop(self.recvq.withdraw(w));
        Poll::Ready(None)
    }

    /// A receive dropped: take its waiter back (nothing was handed to it,
    /// so nothing can be lost).
    pub(crate) fn cancel_recv(&self, w: Pin<&Waiter<T>>) {
        self.withdraw_recv(w);
    }

    /// A receive case whose select won it: perform the receive now.
    pub(crate) fn take_recv(&self, w: Pin<&Waiter<T>>) -> Taken<Option<T>> {
        match w.state() {
            WaitState::Done => {
                w.reset();
                match self.queue.pop() {
                    Pop::Value(v) => {
                        self.popped();
                        Taken::Done(Some(v))
                    }
                    Pop::Closed => Taken::Done(None),
                    Pop::Empty | Pop::Busy => Taken::Lost,
                }
            }
            WaitState::Idle | WaitState::Waiting | WaitState::Closed | WaitState::Skipped => {
                Taken::NotYet
            }
        }
    }

    /// Links a select's receive case unless it could complete now (`false`).
    pub(crate) fn register_recv_case(
        &self,
        w: Pin<&Waiter<T>>,
        claim: &Claim,
        case: usize,
        wake: impl FnOnce() -> Wake,
    ) -> bool {
        let mut wake = Some(wake());
        if !self.recvq.park(w, claim, case, &mut wake) {
            return false;
        }
        sc_fence_for_loom();
        !(self.queue.len() > 0 || self.queue.is_closed())
    }

    /// A registered case's select was polled with another waker.
    pub(crate) fn rewake_recv_case(&self, w: Pin<&Waiter<T>>, wake: Wake) {
        let _ = self.recvq.rewake(w, || wake);
    }

    /// As [`rewake_recv_case`](Self::rewake_recv_case) for a send case.
    pub(crate) fn rewake_send_case(&self, w: Pin<&Waiter<T>>, wake: Wake) {
        let _ = self.sendq.rewake(w, || wake);
    }

    /// For blocking operations: takes `w` back if it is still parked
    /// (`true`: nothing happened to it, the caller timed out; a send's
    /// value is back in `value`). `false`: a send was completed or woken
    /// meanwhile, and the caller's next poll finds which.
    pub(crate) fn abandon(&self, w: Pin<&Waiter<T>>, send: bool, value: &mut Option<T>) -> bool {
        if send {
            let mut q = self.sendq.lock();
            if w.state() != WaitState::Waiting {
                return false;
            }
            // SAFETY: the send queue's lock; `WaitState::Waiting` means
            // linked here.
            let wake = unsafe { self.sendq.unlink(&mut q, &w) };
            drop(q);
            w.reset();
            drop(wake);
            // SAFETY: unlinked and reset by us: the owner's alone.
            *value = unsafe { w.take_value() };
            return true;
        }
        // Woken at the deadline or not, the receive gives up: a wake-up
        // goes on to the next.
        self.withdraw_recv(w);
        true
    }

    /// Parked (senders, receivers), for tests.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn parked(&self) -> (usize, usize) {
        (self.sendq.parked(), self.recvq.parked())
    }
}
