//! Unbuffered channels (`bounded(0)`, Go's `hchan` with `dataqsiz == 0`):
//! a lock around two queues of parked operations. A send completes only
//! by meeting a receive: a parked receiver, or a receive that takes the
//! value out of a parked sender (a rendezvous).
//!
//! # Invariants (under `state`'s lock)
//!
//! - A send parks only when no receiver is parked; a receive parks only
//!   when it finds no free value in `buf` and no parked sender.
//! - A send that finds a parked receiver puts the value at the back of
//!   `buf`, *reserves* one value of `buf` for that receiver (`reserved`)
//!   and wakes it; the woken receive takes the front of `buf`. The value is
//!   never written into the receiver's own waiter: a receive future can be
//!   dropped at any point, and a value private to it would have to come
//!   back after later values had already been received, breaking FIFO
//!   order. In `buf` values keep the order of their sends, and every
//!   receive takes the oldest.
//! - The channel is one FIFO: `buf`, then the values of parked senders
//!   (a sender parks only while no receiver is parked, and only a send
//!   that meets a parked receiver adds to `buf`, so parked senders' values
//!   are younger than all of `buf`). Every receive takes its front.
//! - `reserved <= buf.len()`. The values beyond `reserved` are *free*: left
//!   by a woken receive that was dropped when no receiver was parked to
//!   take its reservation over. Any receive may take a free value; no
//!   receive may take a reserved one but the woken receives (no barging:
//!   a sender's own next receive cannot take the value it just handed to
//!   another, which would turn a rendezvous into a buffer).
//! - Free values and parked receivers never coexist: a free value appears
//!   only when no receiver is parked, and a receive takes it before it
//!   could park.
//! - Closed: parked receivers are told (`WaitState::Closed`) only once `reserved` is 0
//!   (a reserved value may yet pass to them); the close itself, or the last
//!   woken receive to take its value, tells them.
//!
//! No user code (wakers, destructors of values) runs under the lock: wake
//! handles are collected and fired after it is released, and values to drop
//! are moved out first.

use crate::loom::atomic::{AtomicBool, Ordering};
use crate::loom::{Mutex, MutexGuard};
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::Poll;

use crate::error::{TryRecvError, TrySendError};
use crate::waiter::{Claim, Taken, WaitQueue, WaitState, Waiter, Wake};

pub(crate) struct State<T> {
    buf: VecDeque<T>,
    /// Values of `buf` reserved for woken receives (see the invariants).
    reserved: usize,
    recvq: WaitQueue<T>,
    sendq: WaitQueue<T>,
}

pub(crate) struct Rendezvous<T> {
    state: Mutex<State<T>>,
    /// Set once, under the lock; read without it by `is_closed`.
    closed: AtomicBool,
}

/// Wake handles to fire once the lock is released. The first one is kept
/// inline: the common hand-off wakes one waiter and must not allocate; only
/// telling every parked waiter of a close fills the `Vec`.
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
        if w.is_none() {
            return;
        }
        if self.first.is_none() {
            self.first = Some(w);
        } else {
            self.rest.push(w);
        }
    }
    #[inline]
    fn fire(self) {
        if let Some(w) = self.first {
            w.fire();
        }
        // Only a close fills `rest`: the hand-off's path skips the
        // iterator (an out-of-line drop of an empty `IntoIter`, 2% of a
        // one-worker rendezvous run's samples).
        if !self.rest.is_empty() {
            Self::fire_rest(self.rest);
        }
    }

    #[cold]
    #[inline(never)]
    fn fire_rest(rest: Vec<Wake>) {
        for w in rest {
            w.fire();
        }
    }
}

impl<T> Rendezvous<T> {
    pub(crate) fn new() -> Self {
        Rendezvous {
            state: Mutex::new(State {
                buf: VecDeque::new(),
                reserved: 0,
                recvq: WaitQueue::new(),
                sendq: WaitQueue::new(),
            }),
            closed: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No code that can panic runs under the lock with the state half
        // updated, so a poisoned lock still guards a consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().buf.len()
    }

    /// Closes the channel: parked senders get their values back; parked
    /// receivers get `RecvError` unless a value reserved for a woken
    /// receive may still pass to them (then the last woken receive to take
    /// its value tells them). `false` if already closed.
    pub(crate) fn close(&self) -> bool {
        let mut wakes = Wakes::new();
        {
            let mut st = self.lock();
            if self.closed.swap(true, Ordering::AcqRel) {
                return false;
            }
            if st.reserved == 0 {
                Self::tell_receivers_closed(&mut st, &mut wakes);
            }
            // SAFETY: under the lock; each popped waiter is linked and live.
            unsafe {
                while let Some(w) = st.sendq.pop_front() {
                    wakes.push((*w).complete(WaitState::Closed).1);
                }
            }
        }
        wakes.fire();
        true
    }

    /// Completes every parked receive with `WaitState::Closed`: called once the
    /// channel is closed and no value is reserved (any value left in `buf`
    /// is free, and then no receive is parked).
    fn tell_receivers_closed(st: &mut State<T>, wakes: &mut Wakes) {
        // SAFETY: under the lock (`st`); each popped waiter is linked and
        // live, and is completed just after unlinking.
        unsafe {
            while let Some(w) = st.recvq.pop_front() {
                wakes.push((*w).complete(WaitState::Closed).1);
            }
        }
    }

    // ----- sending -----

    /// The non-blocking part of every send, under the lock: meet a parked
    /// receiver (the value goes to `buf`, reserved for the receiver, which
    /// is woken to take it). `Err` gives the value back with the reason (`Full` or `Closed`).
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
            st.buf.push_back(value);
            st.reserved += 1;
            // SAFETY: as above; we just unlinked it.
            wakes.push(unsafe { (*r).complete(WaitState::Done) }.1);
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
        let mut wake = Some(wake);
        let mut wake = || (wake.take().expect("one wake handle per poll"))();
        loop {
            if let Some(res) = Self::finished_send(w) {
                return Poll::Ready(res);
            }
            let mut wakes = Wakes::new();
            // A replaced wake handle, dropped after the lock.
            let mut stale = Wake::NONE;
            let res = {
                let mut st = self.lock();
                match w.state() {
                    WaitState::Waiting => {
                        // SAFETY: under the lock.
                        stale = unsafe { w.set_wake(wake()) };
                        Poll::Pending
                    }
                    WaitState::Idle => {
                        let v = value.take().expect("send polled after completion");
                        match self.try_send_locked(&mut st, v, &mut wakes) {
                            Ok(()) => Poll::Ready(Ok(())),
                            Err(TrySendError::Closed(v)) => Poll::Ready(Err(v)),
                            Err(TrySendError::Full(v)) => {
                                let wp: *const Waiter<T> = &*w;
                                // SAFETY: under the lock; `w` is pinned (stays
                                // put until unlinked) and idle (not linked).
                                unsafe {
                                    stale = w.arm(Some(v), wake());
                                    st.sendq.push_back(wp);
                                }
                                Poll::Pending
                            }
                        }
                    }
                    // Completed between our first look and the lock: look
                    // again.
                    WaitState::Done | WaitState::Closed | WaitState::Skipped => continue,
                }
            };
            drop(stale);
            wakes.fire();
            return res;
        }
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
            WaitState::Done => {
                w.reset();
                Some(Ok(()))
            }
            WaitState::Closed => {
                // SAFETY: final state observed: the completer is done with it.
                let v = unsafe { w.take_value() }.expect("a closed send keeps its value");
                w.reset();
                Some(Err(v))
            }
            WaitState::Idle | WaitState::Waiting | WaitState::Skipped => None,
        }
    }

    /// A send case whose select was won for it: its result, once its
    /// completer has published it.
    pub(crate) fn take_send(&self, w: Pin<&Waiter<T>>) -> Taken<Result<(), T>> {
        Self::finished_send(w).map_or(Taken::NotYet, Taken::Done)
    }

    /// A receive case whose select was won for it: its result, once its
    /// completer has published it.
    pub(crate) fn take_recv(&self, w: Pin<&Waiter<T>>) -> Taken<Option<T>> {
        self.finished_recv(w).map_or(Taken::NotYet, Taken::Done)
    }

    /// Takes a send's waiter back, unlinking it if parked, and returns its
    /// value unless a receiver took it (`WaitState::Done`). Leaves the waiter idle.
    fn withdraw_send(&self, w: Pin<&Waiter<T>>) -> Option<T> {
        let value = match w.state() {
            WaitState::Idle | WaitState::Done => None,
            // SAFETY: final states: the completer is done with the waiter.
            WaitState::Skipped | WaitState::Closed => unsafe { w.take_value() },
            WaitState::Waiting => {
                let mut st = self.lock();
                match w.state() {
                    WaitState::Waiting => {
                        // SAFETY: under the lock; WaitState::Waiting means linked in
                        // sendq.
                        unsafe {
                            st.sendq.remove(&*w);
                            w.take_value()
                        }
                    }
                    WaitState::Done | WaitState::Idle => None,
                    // SAFETY: final states: the completer is done with it.
                    WaitState::Skipped | WaitState::Closed => unsafe { w.take_value() },
                }
            }
        };
        w.reset();
        value
    }

    // ----- receiving -----

    /// The non-blocking part of every receive that holds no reservation,
    /// under the lock.
    fn try_recv_locked(&self, st: &mut State<T>, wakes: &mut Wakes) -> Result<T, TryRecvError> {
        // A free value (left by a dropped woken receive) comes first.
        if st.buf.len() > st.reserved {
            return Ok(st.buf.pop_front().expect("buf holds a free value"));
        }
        // Rendezvous with a parked sender. Its value is younger than every
        // value in `buf` (a sender parks only while no receiver is parked,
        // and only a send that meets a parked receiver adds to `buf`), so it
        // goes to the back and this receive takes the front: the reserved
        // count is unchanged, and the channel stays one FIFO, `buf` then
        // `sendq`, from whose front every receive takes.
        // SAFETY: under the lock; the popped waiter is linked and live.
        if let Some(s) = unsafe { st.sendq.pop_front() } {
            // SAFETY: just unlinked.
            let (taken, wake) = unsafe { (*s).complete(WaitState::Done) };
            wakes.push(wake);
            let v = taken.expect("a parked send holds its value");
            return Ok(match st.buf.pop_front() {
                Some(front) => {
                    st.buf.push_back(v);
                    front
                }
                None => v,
            });
        }
        // Closed and drained once no reserved value can pass to us.
        if self.is_closed() && st.reserved == 0 {
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

    /// Polls a receive parked in `w` (or not yet). `Ready(None)`: closed
    /// and drained.
    pub(crate) fn poll_recv(
        &self,
        w: Pin<&Waiter<T>>,
        wake: impl FnOnce() -> Wake,
    ) -> Poll<Option<T>> {
        let mut wake = Some(wake);
        let mut wake = || (wake.take().expect("one wake handle per poll"))();
        loop {
            if let Some(res) = self.finished_recv(w) {
                return Poll::Ready(res);
            }
            let mut wakes = Wakes::new();
            // A replaced wake handle, dropped after the lock.
            let mut stale = Wake::NONE;
            let res = {
                let mut st = self.lock();
                match w.state() {
                    WaitState::Waiting => {
                        // SAFETY: under the lock.
                        stale = unsafe { w.set_wake(wake()) };
                        Poll::Pending
                    }
                    WaitState::Idle => match self.try_recv_locked(&mut st, &mut wakes) {
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
                    // Completed between our first look and the lock: look
                    // again (outside the lock, which a woken receive takes).
                    WaitState::Done | WaitState::Closed | WaitState::Skipped => continue,
                }
            };
            drop(stale);
            wakes.fire();
            return res;
        }
    }

    /// The result of a receive whose waiter reached a final state (`None`
    /// while idle or parked; `Some(None)`: closed and drained); resets the
    /// waiter. A woken receive (`WaitState::Done`) takes the front of `buf`, one of
    /// the values reserved for woken receives.
    fn finished_recv(&self, w: Pin<&Waiter<T>>) -> Option<Option<T>> {
        match w.state() {
            WaitState::Done => {
                w.reset();
                let mut wakes = Wakes::new();
                let v = {
                    let mut st = self.lock();
                    let v = Self::take_reserved(&mut st);
                    if st.reserved == 0 && self.is_closed() {
                        Self::tell_receivers_closed(&mut st, &mut wakes);
                    }
                    v
                };
                wakes.fire();
                Some(Some(v))
            }
            WaitState::Closed => {
                w.reset();
                Some(None)
            }
            WaitState::Idle | WaitState::Waiting | WaitState::Skipped => None,
        }
    }

    /// Takes the value at the front of `buf` for a woken receive, giving up
    /// its reservation.
    fn take_reserved(st: &mut State<T>) -> T {
        debug_assert!(st.reserved > 0);
        st.reserved -= 1;
        st.buf.pop_front().expect("a reserved value is in buf")
    }

    /// A receive dropped: unlink it if parked. If it was woken and never
    /// took its reserved value, the reservation passes to the next parked
    /// receiver, or the value becomes free for the next receive. Nothing is
    /// ever handed to a receive, so nothing can be lost.
    pub(crate) fn cancel_recv(&self, w: Pin<&Waiter<T>>) {
        match w.state() {
            WaitState::Idle => return,
            // A select case that lost (unlinked), or told of the close.
            WaitState::Skipped | WaitState::Closed => return w.reset(),
            WaitState::Waiting | WaitState::Done => {}
        }
        let mut wakes = Wakes::new();
        {
            let mut st = self.lock();
            match w.state() {
                WaitState::Waiting => {
                    // SAFETY: under the lock; WaitState::Waiting means linked in recvq.
                    unsafe { st.recvq.remove(&*w) };
                }
                WaitState::Done => {
                    // SAFETY: under the lock; a popped waiter was linked
                    // and is live, and is completed just after unlinking.
                    match unsafe { st.recvq.pop_front() } {
                        // SAFETY: as above.
                        Some(r) => wakes.push(unsafe { (*r).complete(WaitState::Done) }.1),
                        // Free now; no receiver is parked to be told of a
                        // close.
                        None => st.reserved -= 1,
                    }
                }
                // Only a parked waiter changes state under us.
                WaitState::Idle | WaitState::Closed | WaitState::Skipped => {}
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
        let ready = st.buf.len() > st.reserved
            || unsafe { st.sendq.has_available(claim) }
            || (self.is_closed() && st.reserved == 0);
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
        if w.state() == WaitState::Waiting {
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
        if w.state() != WaitState::Waiting {
            return false;
        }
        // SAFETY: under the lock; WaitState::Waiting means linked in the queue of its
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
