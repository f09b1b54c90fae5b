//! The channel (Go's `hchan`): one of three engines behind one type.
//!
//! - `bounded(0)`: [`Rendezvous`], a lock around two queues of parked
//!   operations; a send completes only by meeting a receive.
//! - `bounded(n)`, `n >= 1`: [`Buffered`] over a lock-free ring of `n`
//!   stamped slots.
//! - `unbounded()`: [`Buffered`] over a lock-free linked list of blocks.
//!
//! The handles (`Sender`, `Receiver`), the futures and `select!` talk to
//! [`Chan`], which passes each call to its engine; the blocking operations
//! (`send_blocking`, `recv_blocking`) are written once here on top of the
//! engines' poll functions.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::buffered::Buffered;
use crate::error::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use crate::flavor::list::List;
use crate::flavor::ring::Ring;
use crate::loom::atomic::AtomicUsize;
use crate::rendezvous::Rendezvous;
use crate::waiter::{Claim, Taken, WaitState, Waiter, Wake};

/// Spin rounds (1, 2, 4 ... 64 pause instructions) a blocked thread waits
/// before yielding, and yields before parking.
const SPIN_ROUNDS: u32 = 7;
const YIELD_ROUNDS: u32 = 10;

enum Engine<T> {
    Rendezvous(Rendezvous<T>),
    Ring(Buffered<T, Ring<T>>),
    List(Buffered<T, List<T>>),
}

pub(crate) struct Chan<T> {
    engine: Engine<T>,
    /// `None`: unbounded.
    cap: Option<usize>,
    pub(crate) senders: AtomicUsize,
    pub(crate) receivers: AtomicUsize,
}

/// Calls the same method on whichever engine the channel has.
macro_rules! engine {
    ($chan:expr, $e:ident => $body:expr) => {
        match &$chan.engine {
            Engine::Rendezvous($e) => $body,
            Engine::Ring($e) => $body,
            Engine::List($e) => $body,
        }
    };
}

impl<T> Chan<T> {
    pub(crate) fn new(cap: Option<usize>) -> Self {
        let engine = match cap {
            Some(0) => Engine::Rendezvous(Rendezvous::new()),
            Some(n) => Engine::Ring(Buffered::bounded(n)),
            None => Engine::List(Buffered::unbounded()),
        };
        Chan {
            engine,
            cap,
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
        }
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        self.cap
    }

    pub(crate) fn is_closed(&self) -> bool {
        engine!(self, e => e.is_closed())
    }

    pub(crate) fn len(&self) -> usize {
        engine!(self, e => e.len())
    }

    /// Closes the channel (see the crate docs). `false` if already closed.
    pub(crate) fn close(&self) -> bool {
        engine!(self, e => e.close())
    }

    // ----- sending -----

    pub(crate) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        engine!(self, e => e.try_send(value))
    }

    /// Polls a send whose value is in `value` (the rendezvous engine, and a
    /// bounded buffered one that parks it, move it into the waiter `w`).
    /// `Ready(Err(v))`: closed, value back.
    #[inline]
    pub(crate) fn poll_send(
        &self,
        w: Pin<&Waiter<T>>,
        value: &mut Option<T>,
        wake: impl FnOnce() -> Wake,
    ) -> Poll<Result<(), T>> {
        engine!(self, e => e.poll_send(w, value, wake))
    }

    /// The inline fast path of a send future's poll: a buffered channel's
    /// send with room and an idle waiter (`Buffered::send_idle`). `true`:
    /// the value is sent; `false`: nothing happened and
    /// [`poll_send_rest`](Self::poll_send_rest) is the rest of the poll.
    #[inline]
    pub(crate) fn send_idle(&self, w: Pin<&Waiter<T>>, value: &mut Option<T>) -> bool {
        match &self.engine {
            Engine::Rendezvous(_) => false,
            Engine::Ring(e) => e.send_idle(w, value),
            Engine::List(e) => e.send_idle(w, value),
        }
    }

    /// [`poll_send`](Self::poll_send) after [`send_idle`](Self::send_idle)
    /// said `false` (a buffered engine does not try the fast path again).
    pub(crate) fn poll_send_rest(
        &self,
        w: Pin<&Waiter<T>>,
        value: &mut Option<T>,
        wake: impl FnOnce() -> Wake,
    ) -> Poll<Result<(), T>> {
        match &self.engine {
            Engine::Rendezvous(e) => e.poll_send(w, value, wake),
            Engine::Ring(e) => e.poll_send_slow(w, value, wake),
            Engine::List(e) => e.poll_send_slow(w, value, wake),
        }
    }

    /// A send future dropped: its value is never delivered.
    ///
    /// Inline, and nothing more than one load for an idle waiter (every
    /// future that completed without parking, and its drop is on every
    /// operation's path): an idle waiter is linked nowhere and holds no
    /// value or wake-up, so no engine has anything to take back from it.
    #[inline]
    pub(crate) fn cancel_send(&self, w: Pin<&Waiter<T>>) {
        if !w.is_idle() {
            self.cancel_send_parked(w);
        }
    }

    /// [`cancel_send`](Self::cancel_send) of a waiter that is not idle.
    #[inline(never)]
    fn cancel_send_parked(&self, w: Pin<&Waiter<T>>) {
        engine!(self, e => e.cancel_send(w))
    }

    // ----- receiving -----

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        engine!(self, e => e.try_recv())
    }

    /// Polls a receive. `Ready(None)`: closed and drained.
    #[inline]
    pub(crate) fn poll_recv(
        &self,
        w: Pin<&Waiter<T>>,
        wake: impl FnOnce() -> Wake,
    ) -> Poll<Option<T>> {
        engine!(self, e => e.poll_recv(w, wake))
    }

    /// As [`send_idle`](Self::send_idle) for a receive: the value, or
    /// `None` if nothing happened.
    #[inline]
    pub(crate) fn recv_idle(&self, w: Pin<&Waiter<T>>) -> Option<T> {
        match &self.engine {
            Engine::Rendezvous(_) => None,
            Engine::Ring(e) => e.recv_idle(w),
            Engine::List(e) => e.recv_idle(w),
        }
    }

    /// [`poll_recv`](Self::poll_recv) after [`recv_idle`](Self::recv_idle)
    /// said `None`.
    pub(crate) fn poll_recv_rest(
        &self,
        w: Pin<&Waiter<T>>,
        wake: impl FnOnce() -> Wake,
    ) -> Poll<Option<T>> {
        match &self.engine {
            Engine::Rendezvous(e) => e.poll_recv(w, wake),
            Engine::Ring(e) => e.poll_recv_slow(w, wake),
            Engine::List(e) => e.poll_recv_slow(w, wake),
        }
    }

    /// A receive future dropped: no value is lost. Inline, one load for an
    /// idle waiter, as [`cancel_send`](Self::cancel_send).
    #[inline]
    pub(crate) fn cancel_recv(&self, w: Pin<&Waiter<T>>) {
        if !w.is_idle() {
            self.cancel_recv_parked(w);
        }
    }

    /// [`cancel_recv`](Self::cancel_recv) of a waiter that is not idle.
    #[inline(never)]
    fn cancel_recv_parked(&self, w: Pin<&Waiter<T>>) {
        engine!(self, e => e.cancel_recv(w))
    }

    // ----- select! cases -----

    /// Links a select's receive case unless it could complete now
    /// (`false`: the select goes back to its first pass).
    pub(crate) fn register_recv_case(
        &self,
        w: Pin<&Waiter<T>>,
        claim: &Claim,
        case: usize,
        wake: impl FnOnce() -> Wake,
    ) -> bool {
        engine!(self, e => e.register_recv_case(w, claim, case, wake))
    }

    /// As [`register_recv_case`](Self::register_recv_case) for a send case;
    /// the rendezvous engine moves the value into the waiter.
    pub(crate) fn register_send_case(
        &self,
        w: Pin<&Waiter<T>>,
        value: &mut Option<T>,
        claim: &Claim,
        case: usize,
        wake: impl FnOnce() -> Wake,
    ) -> bool {
        match &self.engine {
            Engine::Rendezvous(e) => e.register_send_case(w, value, claim, case, wake),
            Engine::Ring(e) => e.register_send_case(w, claim, case, wake),
            Engine::List(e) => e.register_send_case(w, claim, case, wake),
        }
    }

    /// A registered case's select was polled with another waker.
    pub(crate) fn rewake_case(&self, w: Pin<&Waiter<T>>, send: bool, wake: impl FnOnce() -> Wake) {
        match &self.engine {
            Engine::Rendezvous(e) => e.rewake_case(w, wake()),
            Engine::Ring(e) if send => e.rewake_send_case(w, wake()),
            Engine::Ring(e) => e.rewake_recv_case(w, wake()),
            Engine::List(e) if send => e.rewake_send_case(w, wake()),
            Engine::List(e) => e.rewake_recv_case(w, wake()),
        }
    }

    /// The receive case that won its select's claim: its result.
    pub(crate) fn take_recv(&self, w: Pin<&Waiter<T>>) -> Taken<Option<T>> {
        engine!(self, e => e.take_recv(w))
    }

    /// The send case that won its select's claim: its result.
    pub(crate) fn take_send(
        &self,
        w: Pin<&Waiter<T>>,
        value: &mut Option<T>,
    ) -> Taken<Result<(), T>> {
        match &self.engine {
            Engine::Rendezvous(e) => e.take_send(w),
            Engine::Ring(e) => e.take_send(w, value),
            Engine::List(e) => e.take_send(w, value),
        }
    }

    /// Takes a send case back (it lost, or its select retries or is
    /// dropped); its value returns to `value` unless it was delivered.
    pub(crate) fn unregister_send_case(&self, w: Pin<&Waiter<T>>, value: &mut Option<T>) {
        match &self.engine {
            Engine::Rendezvous(e) => e.unregister_send_case(w, value),
            Engine::Ring(e) => e.unregister_send_case(w),
            Engine::List(e) => e.unregister_send_case(w),
        }
    }

    // ----- blocking -----

    /// For a blocking operation that timed out: takes `w` back if it is
    /// still parked (`true`: the operation did not happen; a send's value
    /// is in `value`). `false`: it was completed or woken meanwhile.
    fn abandon(&self, w: Pin<&Waiter<T>>, send: bool, value: &mut Option<T>) -> bool {
        match &self.engine {
            Engine::Rendezvous(e) => e.abandon(w, send, value),
            Engine::Ring(e) => e.abandon(w, send, value),
            Engine::List(e) => e.abandon(w, send, value),
        }
    }

    /// Parks the calling thread until `w` leaves `WaitState::Waiting` or `deadline`
    /// passes. `true` if it left.
    fn park_until(w: &Waiter<T>, deadline: Option<Instant>) -> bool {
        // A counterpart on another core usually comes within microseconds;
        // waiting a little before sleeping saves the futex round trip that
        // would otherwise dominate a hand-off between threads: spin
        // briefly, then yield a few times.
        let mut i = 0;
        while w.state() == WaitState::Waiting && Self::backoff(i) {
            i += 1;
        }
        loop {
            if w.state() != WaitState::Waiting {
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

    /// Whether blocking operations retry the buffer a little before they
    /// park (buffered engines: a parked thread costs a futex wake and
    /// sleep, and a woken one may lose its retry to a thread that never
    /// parked; the rendezvous engine parks at once, as only a parked
    /// counterpart can complete it).
    fn spins_before_parking(&self) -> bool {
        !matches!(self.engine, Engine::Rendezvous(_))
    }

    /// Backoff step `i` of a blocked thread (`false` once it should park).
    fn backoff(i: u32) -> bool {
        if i < SPIN_ROUNDS {
            for _ in 0..(1 << i.min(6)) {
                std::hint::spin_loop();
            }
        } else if i < SPIN_ROUNDS + YIELD_ROUNDS {
            std::thread::yield_now();
        } else {
            return false;
        }
        true
    }

    /// Inline: a buffered channel's send with room is one `try_send`; the
    /// waiting is out of line.
    #[inline]
    pub(crate) fn send_blocking(
        &self,
        value: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        if !self.spins_before_parking() {
            return self.send_blocking_wait(value, deadline);
        }
        // Try at once: the common case, room.
        match self.try_send(value) {
            Ok(()) => Ok(()),
            Err(TrySendError::Closed(v)) => Err(SendTimeoutError::Closed(v)),
            Err(TrySendError::Full(v)) => self.send_blocking_wait(v, deadline),
        }
    }

    /// [`send_blocking`](Self::send_blocking) past its first try (on an
    /// unbuffered channel, from the start).
    #[inline(never)]
    fn send_blocking_wait(
        &self,
        value: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let mut value = Some(value);
        if self.spins_before_parking() {
            // Try again between backoff steps.
            let mut i = 0;
            while deadline.is_none_or(|d| Instant::now() < d) && Self::backoff(i) {
                i += 1;
                match self.try_send(value.take().expect("a blocked send keeps its value")) {
                    Ok(()) => return Ok(()),
                    Err(TrySendError::Closed(v)) => return Err(SendTimeoutError::Closed(v)),
                    Err(TrySendError::Full(v)) => value = Some(v),
                }
            }
        }
        let w = std::pin::pin!(Waiter::new());
        loop {
            match self.poll_send(w.as_ref(), &mut value, Wake::thread) {
                Poll::Ready(Ok(())) => return Ok(()),
                Poll::Ready(Err(v)) => return Err(SendTimeoutError::Closed(v)),
                Poll::Pending => {}
            }
            if !Self::park_until(&w, deadline) && self.abandon(w.as_ref(), true, &mut value) {
                let v = value.take().expect("an abandoned send keeps its value");
                return Err(SendTimeoutError::Timeout(v));
            }
        }
    }

    /// Inline, as [`send_blocking`](Self::send_blocking): a buffered
    /// channel's receive of a value is one `try_recv`.
    #[inline]
    pub(crate) fn recv_blocking(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        if !self.spins_before_parking() {
            return self.recv_blocking_wait(deadline);
        }
        match self.try_recv() {
            Ok(v) => Ok(v),
            Err(TryRecvError::Closed) => Err(RecvTimeoutError::Closed),
            Err(TryRecvError::Empty) => self.recv_blocking_wait(deadline),
        }
    }

    /// [`recv_blocking`](Self::recv_blocking) past its first try (on an
    /// unbuffered channel, from the start).
    #[inline(never)]
    fn recv_blocking_wait(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        if self.spins_before_parking() {
            // As in `send_blocking_wait`: try again between backoff steps.
            let mut i = 0;
            while deadline.is_none_or(|d| Instant::now() < d) && Self::backoff(i) {
                i += 1;
                match self.try_recv() {
                    Ok(v) => return Ok(v),
                    Err(TryRecvError::Closed) => return Err(RecvTimeoutError::Closed),
                    Err(TryRecvError::Empty) => {}
                }
            }
        }
        let w = std::pin::pin!(Waiter::new());
        loop {
            match self.poll_recv(w.as_ref(), Wake::thread) {
                Poll::Ready(Some(v)) => return Ok(v),
                Poll::Ready(None) => return Err(RecvTimeoutError::Closed),
                Poll::Pending => {}
            }
            if !Self::park_until(&w, deadline) && self.abandon(w.as_ref(), false, &mut None) {
                return Err(RecvTimeoutError::Timeout);
            }
        }
    }

    /// For `Context` users that only need a waker.
    pub(crate) fn task_wake(cx: &Context<'_>) -> Wake {
        Wake::task(cx.waker().clone())
    }

    /// Parked (senders, receivers), for tests.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn parked(&self) -> (usize, usize) {
        engine!(self, e => e.parked())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll};

    use crate::bounded;

    fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        let waker = futures::task::noop_waker();
        f.poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn dropped_pending_operations_unlink_their_waiters() {
        for cap in [0, 1] {
            let (tx, rx) = bounded::<u8>(cap);
            {
                let mut r = pin!(rx.recv());
                assert!(poll_once(r.as_mut()).is_pending());
                assert_eq!(rx.chan.parked(), (0, 1), "cap {cap}");
            }
            assert_eq!(rx.chan.parked(), (0, 0));
            for i in 0..cap {
                tx.try_send(i as u8).unwrap();
            }
            {
                let mut s = pin!(tx.send(1));
                assert!(poll_once(s.as_mut()).is_pending());
                assert_eq!(tx.chan.parked(), (1, 0), "cap {cap}");
            }
            assert_eq!(tx.chan.parked(), (0, 0));
            // The dropped send delivered nothing.
            for i in 0..cap {
                assert_eq!(rx.try_recv(), Ok(i as u8));
            }
            assert_eq!(rx.try_recv(), Err(crate::TryRecvError::Empty));
        }
    }

    #[test]
    fn a_woken_receive_that_is_dropped_passes_the_wake_up_on() {
        for cap in [0, 4] {
            woken_receive_dropped(cap);
        }
    }

    fn woken_receive_dropped(cap: usize) {
        let (tx, rx) = bounded::<u8>(cap);
        let (first_waker, first_count) = futures_test_waker();
        let (second_waker, second_count) = futures_test_waker();
        let mut first = Box::pin(rx.recv());
        let mut second = Box::pin(rx.recv());
        assert!(first
            .as_mut()
            .poll(&mut Context::from_waker(&first_waker))
            .is_pending());
        assert!(second
            .as_mut()
            .poll(&mut Context::from_waker(&second_waker))
            .is_pending());
        tx.try_send(7).unwrap();
        assert_eq!(first_count(), 1, "the first parked receive is woken");
        assert_eq!(second_count(), 0);
        // Dropped before it looked: the second one must be woken instead.
        drop(first);
        assert_eq!(second_count(), 1);
        assert_eq!(
            second
                .as_mut()
                .poll(&mut Context::from_waker(&second_waker)),
            Poll::Ready(Ok(7))
        );
    }

    /// Unbuffered: two parked receives each meet a send, and the first is
    /// dropped before it looks. The values stay in send order: the second
    /// receive gets the first value, the next receive the second.
    #[test]
    fn a_dropped_woken_receive_keeps_send_order_unbuffered() {
        let (tx, rx) = bounded::<u8>(0);
        let mut first = Box::pin(rx.recv());
        let mut second = Box::pin(rx.recv());
        assert!(poll_once(first.as_mut()).is_pending());
        assert!(poll_once(second.as_mut()).is_pending());
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        assert!(tx.try_send(3).unwrap_err().is_full(), "no receiver left");
        drop(first);
        assert_eq!(poll_once(second.as_mut()), Poll::Ready(Ok(1)));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.try_recv(), Err(crate::TryRecvError::Empty));
    }

    /// Unbuffered: a receive that meets a parked sender while a value is
    /// reserved for a woken receive takes the older value; the woken
    /// receive gets the parked sender's.
    #[test]
    fn a_receive_meeting_a_parked_sender_takes_the_oldest_value_unbuffered() {
        let (tx, rx) = bounded::<u8>(0);
        let mut woken = Box::pin(rx.recv());
        assert!(poll_once(woken.as_mut()).is_pending());
        tx.try_send(1).unwrap();
        let mut parked = Box::pin(tx.send(2));
        assert!(poll_once(parked.as_mut()).is_pending());
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(poll_once(parked.as_mut()), Poll::Ready(Ok(())));
        assert_eq!(poll_once(woken.as_mut()), Poll::Ready(Ok(2)));
        assert_eq!(rx.try_recv(), Err(crate::TryRecvError::Empty));
    }

    /// A waker that counts its wake-ups.
    fn futures_test_waker() -> (std::task::Waker, impl Fn() -> usize) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        struct Count(AtomicUsize);
        impl futures::task::ArcWake for Count {
            fn wake_by_ref(arc_self: &Arc<Self>) {
                arc_self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let c = Arc::new(Count(AtomicUsize::new(0)));
        let waker = futures::task::waker(c.clone());
        (waker, move || c.0.load(Ordering::SeqCst))
    }
}
