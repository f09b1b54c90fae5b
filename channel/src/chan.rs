//! The channel (Go's `hchan`): a lock around a buffer and two queues of
//! parked operations.
//!
//! # Invariants (under `state`'s lock)
//!
//! - Receivers park only when the buffer is empty and no sender is parked;
//!   so while `recvq` is non-empty the buffer is empty.
//! - Senders park only when the buffer is full (`len >= cap`) and no receiver
//!   is parked.
//! - A send that finds a parked receiver hands the value to it directly
//!   (Go's `sendDirect`), bypassing the buffer.
//! - A receive that takes from a full buffer moves the first parked
//!   sender's value into the freed place (Go's `recv` on a full buffer), so
//!   FIFO order holds across the buffer and the parked senders.
//! - The buffer may briefly hold more than `cap` values: a receive that was
//!   handed a value and then cancelled before seeing it puts the value back
//!   at the front (never lost). For `cap == 0` such values wait there for the
//!   next receiver.
//!
//! No user code (wakers, destructors of values) runs under the lock: wake
//! handles are collected and fired after it is released, and values to drop
//! are moved out first.

use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::{Mutex, MutexGuard};
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::error::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use crate::waiter::{Claim, WaitQueue, Waiter, Wake, CLOSED, DONE, IDLE, SKIPPED, WAITING};

/// `status` bit: the channel is closed.
const CLOSED_BIT: usize = 1;
/// `status` unit: one handed-off value not yet seen.
const HANDED_ONE: usize = 2;

/// Buffers of an unbounded channel shrink back to at least this many slots.
const MIN_UNBOUNDED_CAPACITY: usize = 32;

/// Spin rounds (1, 2, 4 ... 64 pause instructions) a blocked thread waits
/// before yielding, and yields before parking.
const SPIN_ROUNDS: u32 = 7;
const YIELD_ROUNDS: u32 = 10;

pub(crate) struct State<T> {
    buf: VecDeque<T>,
    recvq: WaitQueue<T>,
    sendq: WaitQueue<T>,
}

pub(crate) struct Chan<T> {
    state: Mutex<State<T>>,
    /// `None`: unbounded.
    cap: Option<usize>,
    pub(crate) senders: AtomicUsize,
    pub(crate) receivers: AtomicUsize,
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

impl<T> Chan<T> {
    pub(crate) fn new(cap: Option<usize>) -> Self {
        let buf = match cap {
            Some(c) => VecDeque::with_capacity(c.min(1 << 16)),
            None => VecDeque::new(),
        };
        Chan {
            state: Mutex::new(State {
                buf,
                recvq: WaitQueue::new(),
                sendq: WaitQueue::new(),
            }),
            cap,
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            status: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No code that can panic runs under the lock with the state half
        // updated, so a poisoned lock still guards a consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        self.cap
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

    fn has_room(&self, st: &State<T>) -> bool {
        self.cap.map_or(true, |c| st.buf.len() < c)
    }

    /// After a pop from an unbounded buffer: give memory back after a burst.
    fn maybe_shrink(&self, st: &mut State<T>) {
        if self.cap.is_none() {
            let cap = st.buf.capacity();
            if cap > MIN_UNBOUNDED_CAPACITY && st.buf.len() * 4 <= cap {
                st.buf
                    .shrink_to((st.buf.len() * 2).max(MIN_UNBOUNDED_CAPACITY));
            }
        }
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
        if self.has_room(st) {
            st.buf.push_back(value);
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
        if let Some(v) = st.buf.pop_front() {
            // Room freed: admit parked senders (none for cap 0).
            while self.has_room(st) {
                // SAFETY: under the lock; the popped waiter is linked, live.
                let Some(s) = (unsafe { st.sendq.pop_front() }) else {
                    break;
                };
                // SAFETY: just unlinked.
                let (taken, wake) = unsafe { (*s).complete(None, DONE) };
                st.buf
                    .push_back(taken.expect("a parked send holds its value"));
                wakes.push(wake);
            }
            self.maybe_shrink(st);
            return Ok(v);
        }
        // Unbuffered (or a buffer emptied by... nothing else): rendezvous
        // with a parked sender.
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
        let ready =
            self.is_closed() || unsafe { st.recvq.has_available(claim) } || self.has_room(&st);
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
    pub(crate) fn rewake_case(&self, w: Pin<&Waiter<T>>, wake: impl FnOnce() -> Wake) {
        let st = self.lock();
        if w.state() == WAITING {
            // SAFETY: under the lock.
            let stale = unsafe { w.set_wake(wake()) };
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

    // ----- blocking -----

    /// Parks the calling thread until `w` leaves `WAITING` or `deadline`
    /// passes. `true` if it completed.
    fn park_until(w: &Waiter<T>, deadline: Option<Instant>) -> bool {
        // A counterpart on another core usually comes within microseconds;
        // waiting a little before sleeping saves the futex round trip that
        // would otherwise dominate a rendezvous between threads (as
        // crossbeam's `Backoff`): spin briefly, then yield a few times.
        for i in 0..SPIN_ROUNDS + YIELD_ROUNDS {
            if w.state() != WAITING {
                return true;
            }
            if i < SPIN_ROUNDS {
                for _ in 0..(1 << i.min(6)) {
                    std::hint::spin_loop();
                }
            } else {
                std::thread::yield_now();
            }
        }
        loop {
            if w.state() != WAITING {
                return true;
            }
            match deadline {
                None => std::thread::park(),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    std::thread::park_timeout(d - now);
                }
            }
        }
    }

    pub(crate) fn send_blocking(
        &self,
        value: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let w = std::pin::pin!(Waiter::new());
        let mut value = Some(value);
        match self.poll_send(w.as_ref(), &mut value, || {
            Wake::Thread(std::thread::current())
        }) {
            Poll::Ready(Ok(())) => return Ok(()),
            Poll::Ready(Err(v)) => return Err(SendTimeoutError::Closed(v)),
            Poll::Pending => {}
        }
        if !Self::park_until(&w, deadline) {
            // Timed out: take the value back unless it went meanwhile.
            let back = {
                let mut st = self.lock();
                if w.state() == WAITING {
                    // SAFETY: under the lock; WAITING means linked in sendq.
                    unsafe {
                        st.sendq.remove(&*w);
                        w.take_value()
                    }
                } else {
                    None
                }
            };
            if let Some(v) = back {
                w.reset();
                return Err(SendTimeoutError::Timeout(v));
            }
        }
        match self.poll_send(w.as_ref(), &mut value, || Wake::None) {
            Poll::Ready(Ok(())) => Ok(()),
            Poll::Ready(Err(v)) => Err(SendTimeoutError::Closed(v)),
            Poll::Pending => unreachable!("a completed send is ready"),
        }
    }

    pub(crate) fn recv_blocking(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let w = std::pin::pin!(Waiter::new());
        match self.poll_recv(w.as_ref(), || Wake::Thread(std::thread::current())) {
            Poll::Ready(Some(v)) => return Ok(v),
            Poll::Ready(None) => return Err(RecvTimeoutError::Closed),
            Poll::Pending => {}
        }
        if !Self::park_until(&w, deadline) {
            let mut st = self.lock();
            if w.state() == WAITING {
                // SAFETY: under the lock; WAITING means linked in recvq.
                unsafe { st.recvq.remove(&*w) };
                drop(st);
                w.reset();
                return Err(RecvTimeoutError::Timeout);
            }
        }
        match self.poll_recv(w.as_ref(), || Wake::None) {
            Poll::Ready(Some(v)) => Ok(v),
            Poll::Ready(None) => Err(RecvTimeoutError::Closed),
            Poll::Pending => unreachable!("a completed receive is ready"),
        }
    }

    /// Parked receivers (for tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn parked(&self) -> (usize, usize) {
        let st = self.lock();
        (st.sendq.len(), st.recvq.len())
    }

    #[cfg(all(test, not(loom)))]
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.lock().buf.capacity()
    }

    /// For `Context` users that only need a waker.
    pub(crate) fn task_wake(cx: &Context<'_>) -> Wake {
        Wake::Task(cx.waker().clone())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll};

    use crate::{bounded, unbounded};

    fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        let waker = futures::task::noop_waker();
        f.poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn unbounded_buffer_gives_memory_back_after_a_burst() {
        let (tx, rx) = unbounded::<u64>();
        for i in 0..100_000 {
            tx.try_send(i).unwrap();
        }
        let peak = rx.chan.buffer_capacity();
        assert!(peak >= 100_000);
        for i in 0..100_000 {
            assert_eq!(rx.try_recv(), Ok(i));
        }
        let after = rx.chan.buffer_capacity();
        assert!(
            after <= super::MIN_UNBOUNDED_CAPACITY * 2,
            "capacity stayed at {after} after the burst (peak {peak})"
        );
    }

    #[test]
    fn dropped_pending_operations_unlink_their_waiters() {
        let (tx, rx) = bounded::<u8>(0);
        {
            let mut r = pin!(rx.recv());
            assert!(poll_once(r.as_mut()).is_pending());
            assert_eq!(rx.chan.parked(), (0, 1));
        }
        assert_eq!(rx.chan.parked(), (0, 0));
        {
            let mut s = pin!(tx.send(1));
            assert!(poll_once(s.as_mut()).is_pending());
            assert_eq!(tx.chan.parked(), (1, 0));
        }
        assert_eq!(tx.chan.parked(), (0, 0));
        // The dropped send delivered nothing.
        assert_eq!(rx.try_recv(), Err(crate::TryRecvError::Empty));
    }
}
