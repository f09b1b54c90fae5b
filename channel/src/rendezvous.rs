//! Unbuffered channels (`bounded(0)`, Go's `hchan` with `dataqsiz == 0`):
//! a lock around two queues of parked operations, and a send that meets a
//! parked receive hands it the value directly (a rendezvous).
//!
//! # Invariants (under `state`'s lock)
//!
//! - Receivers park only when `buf` is empty and no sender is parked; so
//!   while `recvq` is non-empty `buf` is empty.
//! - Senders park only when no receiver is parked.
//! - A send that finds a parked receiver hands the value to it directly
//!   (Go's `sendDirect`).
//! - `buf` holds only values given back: a receive that was handed a value
//!   and then cancelled before seeing it puts the value back at the front
//!   (never lost), where it waits for the next receiver.
//!
//! No user code (wakers, destructors of values) runs under the lock: wake
//! handles are collected and fired after it is released, and values to drop
//! are moved out first.

use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::{Mutex, MutexGuard};
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::Poll;

use crate::error::{TryRecvError, TrySendError};
use crate::waiter::{Claim, Taken, WaitQueue, Waiter, Wake, CLOSED, DONE, IDLE, SKIPPED, WAITING};

/// `status` bit: the channel is closed.
const CLOSED_BIT: usize = 1;
/// `status` unit: one handed-off value not yet seen.
const HANDED_ONE: usize = 2;

pub(crate) struct State<T> {
    buf: VecDeque<T>,
    recvq: WaitQueue<T>,
    sendq: WaitQueue<T>,
}

pub(crate) struct Rendezvous<T> {
    state: Mutex<State<T>>,
    /// `CLOSED` bit, plus (in units of `HANDED_ONE`) the values handed to
    /// parked receives and not yet seen by them. Such a value may still come
    /// back (its receive is dropped unseen), so a closed channel is "closed
    /// and drained" only when the count is 0. One word for both, so that
    /// `close` (setting the bit) and the receive that sees the last handed
    /// value (lowering the count) are read-modify-writes of one location:
    /// whichever comes second sees the other and tells parked receives. The
    /// bit is set only under the lock; the count rises under the lock and
    /// falls with or without it.
    status: AtomicUsize,
}

/// Wake handles to fire once the lock is released. The first one is kept
/// inline: a send or receive completes at most two waiters, and the common
/// hand-off must not allocate; only `close` (all waiters) fills the `Vec`.
struct Wakes {
    first: Option<Wake>,
    rest: Vec<Wake>,
}

impl Wakes {
    fn new() -> Self {
        Wakes {
            first: None,
            rest: Vec::new(),
        }
    }
    fn push(&mut self, w: Wake) {
        if matches!(w, Wake::None) {
            return;
        }
        if self.first.is_none() {
            self.first = Some(w);
        } else {
            self.rest.push(w);
        }
    }
    fn fire(self) {
        if let Some(w) = self.first {
            w.fire();
        }
        for w in self.rest {
            w.fire();
        }
    }
}

impl<T> Rendezvous<T> {
    pub(crate) fn new() -> Self {
        Rendezvous {
            state: Mutex::new(State {
                buf: VecDeque::new(),
                recvq: WaitQueue::new(),
                sendq: WaitQueue::new(),
            }),
            status: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No code that can panic runs under the lock with the state half
        // updated, so a poisoned lock still guards a consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.status.load(Ordering::Acquire) & CLOSED_BIT != 0
    }

    /// Closed, and no handed-off value can come back: receivers get
    /// `RecvError`. Read under the lock (the bit only changes under it).
    fn drained_and_closed(&self) -> bool {
        self.status.load(Ordering::Acquire) == CLOSED_BIT
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().buf.len()
    }

    /// Closes the channel: parked receivers get `RecvError` (the buffer is
    /// empty while any is parked), parked senders get their values back.
    /// Buffered values stay for receivers to drain. `false` if already closed.
    pub(crate) fn close(&self) -> bool {
        let mut wakes = Wakes::new();
        {
            let mut st = self.lock();
            let prev = self.status.fetch_or(CLOSED_BIT, Ordering::AcqRel);
            if prev & CLOSED_BIT != 0 {
                return false;
            }
            // Parked receives learn the channel is drained, unless a value
            // handed to another receive may still come back to them (then
            // `seen_handed` or `cancel_recv` settles them).
            let drained = prev == 0;
            // SAFETY: under the lock; each popped waiter is linked and live.
            unsafe {
                if drained {
                    while let Some(w) = st.recvq.pop_front() {
                        wakes.push((*w).complete(None, CLOSED).1);
                    }
                }
                while let Some(w) = st.sendq.pop_front() {
                    wakes.push((*w).complete(None, CLOSED).1);
                }
            }
        }
        wakes.fire();
        true
    }

    // ----- sending -----

    /// The non-blocking part of every send, under the lock: deliver to a
    /// parked receiver, or buffer. `Err` gives the value back with the
    /// reason (`Full` or `Closed`).
    fn try_send_locked(
        &self,
        st: &mut State<T>,
        value: T,
        wakes: &mut Wakes,
    ) -> Result<(), TrySendError<T>> {
        if self.is_closed() {
            return Err(TrySendError::Closed(value));
        }
        // SAFETY: under the lock; the popped waiter is linked and live.
        if let Some(r) = unsafe { st.recvq.pop_front() } {
            debug_assert!(st.buf.is_empty());
            self.status.fetch_add(HANDED_ONE, Ordering::Relaxed);
            // SAFETY: as above; we just unlinked it.
            wakes.push(unsafe { (*r).complete(Some(value), DONE) }.1);
            return Ok(());
        }
        Err(TrySendError::Full(value))
    }

    pub(crate) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut wakes = Wakes::new();
        let res = {
            let mut st = self.lock();
            self.try_send_locked(&mut st, value, &mut wakes)
        };
        wakes.fire();
        res
    }

    /// Polls a send whose value is in `value` (first poll) or parked in `w`.
    /// `Ready(Err(v))`: closed, the value is back.
    pub(crate) fn poll_send(
        &self,
        w: Pin<&Waiter<T>>,
        value: &mut Option<T>,
        wake: impl FnOnce() -> Wake,
    ) -> Poll<Result<(), T>> {
        if let Some(res) = Self::finished_send(w) {
            return Poll::Ready(res);
        }
        let mut wakes = Wakes::new();
        // A replaced wake handle, dropped after the lock.
        let mut stale = Wake::None;
        let res = {
            let mut st = self.lock();
            match w.state() {
                WAITING => {
                    // SAFETY: under the lock.
                    stale = unsafe { w.set_wake(wake()) };
                    Poll::Pending
                }
                IDLE => {
                    let v = value.take().expect("send polled after completion");
                    match self.try_send_locked(&mut st, v, &mut wakes) {
                        Ok(()) => Poll::Ready(Ok(())),
                        Err(TrySendError::Closed(v)) => Poll::Ready(Err(v)),
                        Err(TrySendError::Full(v)) => {
                            let wp: *const Waiter<T> = &*w;
                            // SAFETY: under the lock; `w` is pinned (stays put
                            // until unlinked) and idle (not linked).
                            unsafe {
                                stale = w.arm(Some(v), wake());
                                st.sendq.push_back(wp);
                            }
                            Poll::Pending
                        }
                    }
                }
                // Completed between our first look and the lock.
                _ => {
                    drop(st);
                    return self.poll_send(w, value, wake);
                }
            }
        };
        drop(stale);
        wakes.fire();
        res
    }

    /// A send future dropped while parked: unlink it; the value is not
    /// delivered and is dropped (after the lock).
    pub(crate) fn cancel_send(&self, w: Pin<&Waiter<T>>) {
        drop(self.withdraw_send(w));
    }

    /// The result of a send whose waiter reached a final state (`None`
    /// while idle or parked); resets the waiter.
    pub(crate) fn finished_send(w: Pin<&Waiter<T>>) -> Option<Result<(), T>> {
        match w.state() {
            DONE => {
                w.reset();
                Some(Ok(()))
            }
            CLOSED => {
                // SAFETY: final state observed: the completer is done with it.
                let v = unsafe { w.take_value() }.expect("a closed send keeps its value");
                w.reset();
                Some(Err(v))
            }
            _ => None,
        }
    }

    /// A send case whose select was won for it: its result, once its
    /// completer has published it.
    pub(crate) fn take_send(&self, w: Pin<&Waiter<T>>) -> Taken<Result<(), T>> {
        Self::finished_send(w).map_or(Taken::NotYet, Taken::Done)
    }

    /// As [`take_send`](Self::take_send) for a receive case.
    pub(crate) fn take_recv(&self, w: Pin<&Waiter<T>>) -> Taken<Option<T>> {
        self.finished_recv(w).map_or(Taken::NotYet, Taken::Done)
    }

    /// Takes a send's waiter back, unlinking it if parked, and returns its
    /// value unless a receiver took it (`DONE`). Leaves the waiter idle.
    fn withdraw_send(&self, w: Pin<&Waiter<T>>) -> Option<T> {
        let value = match w.state() {
            IDLE | DONE => None,
            // SAFETY: final states: the completer is done with the waiter.
            SKIPPED | CLOSED => unsafe { w.take_value() },
            _ => {
                let mut st = self.lock();
                match w.state() {
                    WAITING => {
                        // SAFETY: under the lock; WAITING means linked in
                        // sendq.
                        unsafe {
                            st.sendq.remove(&*w);
                            w.take_value()
                        }
                    }
                    DONE => None,
                    // SAFETY: final state: the completer is done with it.
                    _ => unsafe { w.take_value() },
                }
            }
        };
        w.reset();
        value
    }

    // ----- receiving -----

    /// The non-blocking part of every receive, under the lock.
    fn try_recv_locked(&self, st: &mut State<T>, wakes: &mut Wakes) -> Result<T, TryRecvError> {
        // A value given back by a cancelled receive comes first.
        if let Some(v) = st.buf.pop_front() {
            return Ok(v);
        }
        // Rendezvous with a parked sender.
        // SAFETY: under the lock; the popped waiter is linked and live.
        if let Some(s) = unsafe { st.sendq.pop_front() } {
            // SAFETY: just unlinked.
            let (taken, wake) = unsafe { (*s).complete(None, DONE) };
            wakes.push(wake);
            return Ok(taken.expect("a parked send holds its value"));
        }
        // Closed and drained only once no handed-off value can come back.
        if self.drained_and_closed() {
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut wakes = Wakes::new();
        let res = {
            let mut st = self.lock();
            self.try_recv_locked(&mut st, &mut wakes)
        };
        wakes.fire();
        res
    }

    /// Polls a receive parked in `w` (or not yet). `Ready(None)`: closed and drained.
    pub(crate) fn poll_recv(
        &self,
        w: Pin<&Waiter<T>>,
        wake: impl FnOnce() -> Wake,
    ) -> Poll<Option<T>> {
        if let Some(res) = self.finished_recv(w) {
            return Poll::Ready(res);
        }
        let mut wakes = Wakes::new();
        // A replaced wake handle, dropped after the lock.
        let mut stale = Wake::None;
        let res = {
            let mut st = self.lock();
            match w.state() {
                WAITING => {
                    // SAFETY: under the lock.
                    stale = unsafe { w.set_wake(wake()) };
                    Poll::Pending
                }
                IDLE => match self.try_recv_locked(&mut st, &mut wakes) {
                    Ok(v) => Poll::Ready(Some(v)),
                    Err(TryRecvError::Closed) => Poll::Ready(None),
                    Err(TryRecvError::Empty) => {
                        let wp: *const Waiter<T> = &*w;
                        // SAFETY: under the lock; `w` is pinned and idle.
                        unsafe {
                            stale = w.arm(None, wake());
                            st.recvq.push_back(wp);
                        }
                        Poll::Pending
                    }
                },
                _ => {
                    drop(st);
                    return self.poll_recv(w, wake);
                }
            }
        };
        drop(stale);
        wakes.fire();
        res
    }

    /// The result of a receive whose waiter reached a final state (`None`
    /// while idle or parked; `Some(None)`: closed and drained); resets the
    /// waiter.
    pub(crate) fn finished_recv(&self, w: Pin<&Waiter<T>>) -> Option<Option<T>> {
        match w.state() {
            DONE => {
                // SAFETY: final state observed: the completer is done with it.
                let v = unsafe { w.take_value() }.expect("a completed receive holds a value");
                w.reset();
                self.seen_handed();
                Some(Some(v))
            }
            CLOSED => {
                w.reset();
                Some(None)
            }
            _ => None,
        }
    }

    /// A receive saw its handed-off value. If the channel is closed and that
    /// was the last value outstanding, parked receives must now be told it
    /// is drained. The decrement and `close`'s setting of the bit are RMWs
    /// of one word, so one of them sees the other; only the closed case
    /// takes the lock. (A separate `closed` flag and count raced here in a
    /// store-buffering pattern and lost the wake.)
    fn seen_handed(&self) {
        let prev = self.status.fetch_sub(HANDED_ONE, Ordering::AcqRel);
        if prev != CLOSED_BIT | HANDED_ONE {
            return;
        }
        let mut wakes = Wakes::new();
        {
            let mut st = self.lock();
            if self.drained_and_closed() && st.buf.is_empty() {
                // SAFETY: under the lock; each popped waiter is linked.
                while let Some(r) = unsafe { st.recvq.pop_front() } {
                    // SAFETY: just unlinked.
                    wakes.push(unsafe { (*r).complete(None, CLOSED) }.1);
                }
            }
        }
        wakes.fire();
    }

    /// A receive dropped while parked: unlink it. If a value was handed to
    /// it and not yet seen, give the value back: to another parked receiver,
    /// else to the front of the buffer. Never lost.
    pub(crate) fn cancel_recv(&self, w: Pin<&Waiter<T>>) {
        match w.state() {
            IDLE => return,
            // A select case that lost: unlinked, holds nothing.
            SKIPPED => return w.reset(),
            _ => {}
        }
        let mut wakes = Wakes::new();
        {
            let mut st = self.lock();
            match w.state() {
                WAITING => {
                    // SAFETY: under the lock; WAITING means linked in recvq.
                    unsafe { st.recvq.remove(&*w) };
                }
                DONE => {
                    // SAFETY: final state: the completer is done with it.
                    if let Some(v) = unsafe { w.take_value() } {
                        // The value leaves this receive; it is handed again
                        // (count unchanged) or buffered (count lowered).
                        // SAFETY: under the lock; popped waiter is live.
                        match unsafe { st.recvq.pop_front() } {
                            // SAFETY: just unlinked.
                            Some(r) => wakes.push(unsafe { (*r).complete(Some(v), DONE) }.1),
                            None => {
                                st.buf.push_front(v);
                                self.status.fetch_sub(HANDED_ONE, Ordering::AcqRel);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        w.reset();
        wakes.fire();
    }

    // ----- select! cases -----

    /// Links a select's receive case (case `case` of the select whose claim
    /// word is `claim`), unless a receive could complete now: then `false`,
    /// and the select goes back to its first pass. The check and the link
    /// happen under one lock, so a counterpart that comes later finds the
    /// waiter. The select's own cases do not count as counterparts.
    pub(crate) fn register_recv_case(
        &self,
        w: Pin<&Waiter<T>>,
        claim: &Claim,
        case: usize,
        wake: impl FnOnce() -> Wake,
    ) -> bool {
        let mut st = self.lock();
        // SAFETY: under the lock.
        let ready = !st.buf.is_empty()
            || unsafe { st.sendq.has_available(claim) }
            || self.drained_and_closed();
        if ready {
            return false;
        }
        // SAFETY: under the lock; `w` is pinned and idle; the select keeps
        // `claim` alive until it has taken back all its cases.
        let stale = unsafe {
            let stale = w.arm_case(None, wake(), claim, case);
            st.recvq.push_back(&*w);
            stale
        };
        drop(st);
        drop(stale);
        true
    }

    /// As [`register_recv_case`](Self::register_recv_case) for a send case;
    /// the value moves into the waiter only if it is linked.
    pub(crate) fn register_send_case(
        &self,
        w: Pin<&Waiter<T>>,
        value: &mut Option<T>,
        claim: &Claim,
        case: usize,
        wake: impl FnOnce() -> Wake,
    ) -> bool {
        let mut st = self.lock();
        // SAFETY: under the lock.
        let ready = self.is_closed() || unsafe { st.recvq.has_available(claim) };
        if ready {
            return false;
        }
        let v = value.take().expect("a send case registers with its value");
        // SAFETY: as in `register_recv_case`.
        let stale = unsafe {
            let stale = w.arm_case(Some(v), wake(), claim, case);
            st.sendq.push_back(&*w);
            stale
        };
        drop(st);
        drop(stale);
        true
    }

    /// A registered case's select was polled with another waker.
    pub(crate) fn rewake_case(&self, w: Pin<&Waiter<T>>, wake: Wake) {
        let st = self.lock();
        if w.state() == WAITING {
            // SAFETY: under the lock.
            let stale = unsafe { w.set_wake(wake) };
            drop(st);
            drop(stale);
        }
    }

    /// Takes a send case back (it lost, or its select retries or is
    /// dropped); its value returns to `value` unless it was delivered.
    pub(crate) fn unregister_send_case(&self, w: Pin<&Waiter<T>>, value: &mut Option<T>) {
        if let Some(v) = self.withdraw_send(w) {
            *value = Some(v);
        }
    }

    /// For blocking operations that timed out: takes `w` back if it is
    /// still parked (`true`; a send's value returns to `value`). `false`:
    /// it completed meanwhile, and a poll reports how.
    pub(crate) fn abandon(&self, w: Pin<&Waiter<T>>, send: bool, value: &mut Option<T>) -> bool {
        let mut st = self.lock();
        if w.state() != WAITING {
            return false;
        }
        // SAFETY: under the lock; WAITING means linked in the queue of its
        // direction.
        let back = unsafe {
            if send {
                st.sendq.remove(&*w);
                w.take_value()
            } else {
                st.recvq.remove(&*w);
                None
            }
        };
        drop(st);
        w.reset();
        if back.is_some() {
            *value = back;
        }
        true
    }

    /// Parked (senders, receivers), for tests.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn parked(&self) -> (usize, usize) {
        let st = self.lock();
        (st.sendq.len(), st.recvq.len())
    }
}
