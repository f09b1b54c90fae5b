//! Buffered channels (`bounded(n)`, `n >= 1`, and `unbounded()`): a
//! lock-free queue ([`Ring`](crate::flavor::ring::Ring) or
//! [`List`](crate::flavor::list::List)) for the values, and two queues of
//! parked operations behind locks of their own for the slow path.
//!
//! # The wake-up protocol (wake to retry)
//!
//! A send into a buffer with room and a receive from a non-empty buffer
//! take no lock: they move the value through the queue and then look at
//! the other side's `parked` count (one atomic load); only if it is not 0
//! do they take that side's lock and wake the first parked operation
//! ([`Waiters::notify_one`]). A woken operation is not handed anything: it
//! retries on the queue and parks again if another one was faster (a
//! receive that wakes to an empty buffer lost to a receive that did not
//! park; the value it was woken for was received exactly once).
//!
//! No wake-up is lost: an operation that finds the queue empty (full)
//! links its waiter and publishes `parked` with a `SeqCst` store, then
//! tries the queue again, whose empty (full) decision reads the counter
//! that a push (pop) advances with a `SeqCst` read-modify-write before it
//! looks at `parked` with a `SeqCst` load. In the single total order of
//! those operations one of the two sees the other: either the retry finds
//! the value (room), or the pusher (popper) finds the waiter. A retry that
//! finds a reservation not yet published (`Busy`) does not park: it wakes
//! itself and comes back.
//!
//! A woken operation that is dropped before it retried passes its wake-up
//! to the next parked operation, so the value (room) it was woken for
//! never waits behind parked operations that nobody will wake.
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
                let wake = unsafe {
                    q.remove(&*w);
                    w.set_wake(Wake::NONE)
                };
                self.parked.store(q.len(), Ordering::SeqCst);
                Withdrawn::Unlinked(wake)
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
            // SAFETY: under the lock; the popped waiter was linked and live.
            let w = unsafe { q.pop_front() };
            self.parked.store(q.len(), Ordering::SeqCst);
            // SAFETY: just unlinked by us.
            w.map(|w| unsafe { (*w).complete(WaitState::Done) }.1)
        };
        if let Some(wake) = wake {
            wake.fire();
        }
    }

    /// Wakes every parked operation (close).
    fn notify_all(&self) {
        let mut wakes = Vec::new();
        {
            let mut q = self.lock();
            // SAFETY: under the lock; each popped waiter was linked, live,
            // and is unlinked by us.
            while let Some(w) = unsafe { q.pop_front() } {
                // SAFETY: just unlinked by us, under the lock.
                wakes.push(unsafe { (*w).complete(WaitState::Done) }.1);
            }
            self.parked.store(0, Ordering::SeqCst);
        }
        for wake in wakes {
            wake.fire();
        }
    }

    /// Gives a linked select case the select's new wake handle. Taking the
    /// lock also waits out a waker that claimed the case and is completing
    /// it.
    fn rewake(&self, w: Pin<&Waiter<T>>, wake: Wake) {
        let q = self.lock();
        if w.state() == WaitState::Waiting {
            // SAFETY: under the lock.
            let stale = unsafe { w.set_wake(wake) };
            drop(q);
            drop(stale);
        }
    }

    /// Takes a dropped operation's waiter back; a wake-up it had not used
    /// goes on to the next parked operation.
    #[inline]
    fn cancel(&self, w: Pin<&Waiter<T>>) {
        if let Withdrawn::Notified = self.withdraw(w) {
            self.notify_one();
        }
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

    /// A value came out: wake a parked send (bounded only).
    fn popped(&self) {
        if Q::BOUNDED {
            self.sendq.notify_one();
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
    /// closed, the value is back. The value stays in `value` while parked.
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
    #[inline(never)]
    pub(crate) fn poll_send_slow(
        &self,
        w: Pin<&Waiter<T>>,
        value: &mut Option<T>,
        wake: impl FnOnce() -> Wake,
    ) -> Poll<Result<(), T>> {
        if w.state() != WaitState::Waiting {
            w.reset();
        }
        let v = value.take().expect("send polled after completion");
        match self.queue.push(v) {
            Push::Done => return self.sent(w),
            Push::Closed(v) => return self.send_closed(w, v),
            Push::Full(v) | Push::Busy(v) => *value = Some(v),
        }
        let mut wake = Some(wake());
        loop {
            if !self.sendq.park(w, std::ptr::null(), 0, &mut wake) {
                // Woken in between: try again before parking.
                let v = value.take().expect("a parked send keeps its value");
                match self.queue.push(v) {
                    Push::Done => return self.sent(w),
                    Push::Closed(v) => return self.send_closed(w, v),
                    Push::Full(v) | Push::Busy(v) => *value = Some(v),
                }
                spin_hint();
                continue;
            }
            sc_fence_for_loom();
            let v = value.take().expect("a parked send keeps its value");
            return match self.queue.push(v) {
                Push::Done => self.sent(w),
                Push::Closed(v) => self.send_closed(w, v),
                Push::Full(v) => {
                    *value = Some(v);
                    Poll::Pending
                }
                Push::Busy(v) => {
                    *value = Some(v);
                    self.yield_now(&self.sendq, w);
                    Poll::Pending
                }
            };
        }
    }

    fn sent(&self, w: Pin<&Waiter<T>>) -> Poll<Result<(), T>> {
        // A wake-up that arrived meanwhile was for room, which this send
        // has used.
        drop(self.sendq.withdraw(w));
        self.pushed();
        Poll::Ready(Ok(()))
    }

    fn send_closed(&self, w: Pin<&Waiter<T>>, v: T) -> Poll<Result<(), T>> {
        drop(self.sendq.withdraw(w));
        Poll::Ready(Err(v))
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

    /// A send future dropped: take its waiter back. Its value, still in
    /// the future, is dropped with it: never delivered.
    pub(crate) fn cancel_send(&self, w: Pin<&Waiter<T>>) {
        self.sendq.cancel(w);
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
        self.sendq.cancel(w);
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
        // A wake-up that arrived meanwhile was for a value, which this
        // receive has taken.
        drop(self.recvq.withdraw(w));
        self.popped();
        Poll::Ready(Some(v))
    }

    fn recv_closed(&self, w: Pin<&Waiter<T>>) -> Poll<Option<T>> {
        drop(self.recvq.withdraw(w));
        Poll::Ready(None)
    }

    /// A receive dropped: take its waiter back (nothing was handed to it,
    /// so nothing can be lost).
    pub(crate) fn cancel_recv(&self, w: Pin<&Waiter<T>>) {
        self.recvq.cancel(w);
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
        self.recvq.rewake(w, wake);
    }

    /// As [`rewake_recv_case`](Self::rewake_recv_case) for a send case.
    pub(crate) fn rewake_send_case(&self, w: Pin<&Waiter<T>>, wake: Wake) {
        self.sendq.rewake(w, wake);
    }

    /// For blocking operations: takes `w` back if it is still parked
    /// (`true`: nothing happened to it, the caller timed out).
    pub(crate) fn abandon(&self, w: Pin<&Waiter<T>>, send: bool) -> bool {
        let waiters = if send { &self.sendq } else { &self.recvq };
        match waiters.withdraw(w) {
            Withdrawn::Unlinked(_) | Withdrawn::Idle => true,
            Withdrawn::Notified => {
                // Woken at the deadline: pass the wake-up on.
                waiters.notify_one();
                true
            }
        }
    }

    /// Parked (senders, receivers), for tests.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn parked(&self) -> (usize, usize) {
        (self.sendq.parked(), self.recvq.parked())
    }
}
