//! Go's channels for Rust, for any executor (gort, tokio, smol,
//! `futures::executor`) and for plain threads, all on the same channel.
//!
//! ```
//! # futures::executor::block_on(async {
//! let (tx, rx) = gort::chan::bounded::<u32>(2);
//! tx.send(1).await.unwrap();
//! tx.try_send(2).unwrap();
//! assert!(tx.try_send(3).unwrap_err().is_full());
//! tx.close();
//! // Receivers drain what is buffered, then see the close.
//! assert_eq!(rx.recv().await, Ok(1));
//! assert_eq!(rx.recv().await, Ok(2));
//! assert!(rx.recv().await.is_err());
//! # });
//! ```
//!
//! # Go semantics kept
//!
//! - `bounded(0)` is unbuffered: a send completes only when a receiver has
//!   taken the value (a rendezvous). `bounded(n)` buffers `n`; `unbounded()`
//!   never blocks a sender.
//! - FIFO per channel. Senders and receivers are `Clone` (MPMC).
//! - Close (from either side, or when every sender or every receiver is
//!   dropped): receivers drain what is buffered, then get `RecvError`; a
//!   pending or later send gets its value back in `SendError(v)` (Go
//!   panics; Rust returns).
//! - Nothing is lost or duplicated: every value sent with `Ok` is received
//!   exactly once, or is still in the channel when it is dropped.
//! - On an unbuffered channel a send completes only by meeting a receive:
//!   a parked receive is woken and takes the value (reserved for it in the
//!   channel), or a receive takes the value out of the parked send. Buffered
//!   values move through a lock-free queue (a ring for `bounded(n)`, linked
//!   blocks for `unbounded()`); a send wakes one parked receiver, which
//!   takes the next value from the queue. A parked operation's waiter lives
//!   inside its future (or on a blocked thread's stack): parking allocates
//!   nothing.
//!
//! # Cancellation safety
//!
//! Dropping a pending [`RecvFuture`] never loses a value and never
//! reorders values: a receive is only ever woken, never handed a value
//! of its own, and a woken receive that is dropped passes its wake-up (on
//! an unbuffered channel, its reserved value) to the next parked one. Every
//! receive takes the oldest value in the channel.
//!
//! Dropping a [`SendFuture`] whose value is still waiting never
//! delivers it: the value is dropped with the future. A parked send's value
//! can be taken by a receiver between the future's last poll and its drop;
//! then the send happened, exactly once, and the future simply never
//! reported it (a receiver cannot give a value back to a sender that is
//! not running). [`select!`] commits exactly one case on top of this.
#![warn(missing_docs)]

mod buffered;
mod chan;
mod error;
mod flavor;
mod loom;
mod rendezvous;
mod select;
mod waiter;

/// What the expansion of [`select!`] refers to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::select::{
        all_arms_disabled, arm_must_be_a_future, enabled, ArmInput, Case, CaseSet, ChannelArm,
        FutureArm, FutureCase, RecvCase, Select, SendCase, MAX_CASES, TOO_MANY_ARMS,
    };
    /// The proc macro behind [`select!`](crate::select!).
    pub use gort_macros::select;
}

/// Waits until one of several channel operations or futures can happen,
/// and does exactly that one (Go's `select`). It works on any executor.
///
/// ```text
/// select! {
///     pattern = rx.recv() => body,      // a receive: Result<T, RecvError>
///     pattern = tx.send(v) => body,     // a send: Result<(), SendError<T>>
///     pattern = any_future => body,     // any other future: its output
///     pattern = rx.recv(), if cond => body, // an arm only while `cond`
///     default => body,                  // optional: when nothing is ready
/// }
/// ```
///
/// - **Exactly one arm happens.** A send arm that is not chosen never
///   delivers its value (even on an unbuffered channel, where a receiver
///   may be waiting on it at the moment another arm wins); a receive arm
///   that is not chosen takes nothing.
/// - **Fair.** Among the arms that are ready, one is chosen uniformly at
///   random, as in Go, so no channel starves another.
/// - **`default`** runs only if no arm is ready at the moment the select
///   starts; without it the select waits.
/// - **Guards** (`, if cond`) are Go's nil channels: an arm whose guard is
///   `false` is disabled for this select. It is never ready, it registers
///   nothing on its channel, and its future expression is not evaluated
///   at all (tokio's `select!` evaluates it and does not poll it). This is
///   how a loop stops selecting on an input it has drained (example
///   below); `default` still runs if no enabled arm is ready.
/// - **Every arm disabled and no `default`**: the select panics at once,
///   saying so. Go's `select` would block forever there, and Go's runtime
///   reports a program whose goroutines all block that way as a deadlock;
///   gort cannot, so a silent hang would be the result. To wait forever
///   on purpose, write `std::future::pending::<()>().await`.
/// - A receive arm on a closed, drained channel is ready with
///   `Err(RecvError)`; a send arm on a closed channel is ready with
///   `Err(SendError(v))`, giving the value back (Go panics instead).
/// - The guards are evaluated first, each once, in source order; then the
///   operands (`rx`, `tx`, `v`, the futures) of the enabled arms, once, in
///   source order; then the arms are tried.
/// - Arms on other futures (a timeout, a join handle) are polled each time
///   the select wakes. If such a future completes while another arm wins,
///   its output is dropped: put futures there whose completion has no side
///   effect to lose (as with `tokio::select!`).
/// - Patterns must be irrefutable (`v`, `_`, `Ok(v)` is not): the operation
///   has happened by the time the pattern is matched, so it cannot be
///   skipped (tokio's `select!` disables an arm whose pattern does not
///   match; here, match inside the body). A literal, a range, `Some`,
///   `None`, `Ok` or `Err` anywhere in a pattern is a compile error that
///   says so; a variant of the caller's own enum is the compiler's
///   "refutable pattern" error (E0005), at the arm.
/// - Dropping a waiting select (for example on a timeout around it) takes
///   every arm back: nothing is sent, nothing received is lost.
///
/// Misuse is a compile error: no arms, two `default`s, an arm without a
/// pattern, an operand that is not a future, more than 64 arms besides
/// `default`, or use outside `async` code. So are tokio's spellings, each
/// with what to write instead: an `else` arm (gort's is `default`), a
/// refutable pattern, and `biased;` (gort's choice is always random).
///
/// # Panics
///
/// When every arm is disabled by its guard and there is no `default`
/// (above).
///
/// ```
/// use gort::{chan::bounded, select};
///
/// let (data_tx, data_rx) = bounded::<u32>(0);
/// let (quit_tx, quit_rx) = bounded::<()>(0);
/// let worker = std::thread::spawn(move || {
///     futures::executor::block_on(async {
///         let mut sum = 0;
///         loop {
///             select! {
///                 v = data_rx.recv() => sum += v.unwrap(),
///                 _ = quit_rx.recv() => return sum,
///             }
///         }
///     })
/// });
/// for i in 1..=4 {
///     data_tx.send_blocking(i).unwrap();
/// }
/// quit_tx.send_blocking(()).unwrap();
/// assert_eq!(worker.join().unwrap(), 10);
///
/// // Go's fan-in loop: a drained input's arm is turned off by its guard
/// // (Go sets the channel variable to nil), and the loop ends when both
/// // are off.
/// let (a_tx, a_rx) = bounded::<u32>(0);
/// let (b_tx, b_rx) = bounded::<u32>(0);
/// std::thread::spawn(move || (1..=3).for_each(|v| a_tx.send_blocking(v).unwrap()));
/// std::thread::spawn(move || (10..=11).for_each(|v| b_tx.send_blocking(v).unwrap()));
/// let total = futures::executor::block_on(async {
///     let (mut a_open, mut b_open) = (true, true);
///     let mut total = 0;
///     while a_open || b_open {
///         select! {
///             v = a_rx.recv(), if a_open => match v {
///                 Ok(v) => total += v,
///                 Err(_) => a_open = false, // closed and drained
///             },
///             v = b_rx.recv(), if b_open => match v {
///                 Ok(v) => total += v,
///                 Err(_) => b_open = false,
///             },
///         }
///     }
///     total
/// });
/// assert_eq!(total, 1 + 2 + 3 + 10 + 11);
///
/// # futures::executor::block_on(async {
/// // A non-blocking send, as Go's `select` with `default`.
/// let (tx, _rx) = bounded::<u32>(0);
/// let sent = select! {
///     r = tx.send(1) => r.is_ok(),
///     default => false,
/// };
/// assert!(!sent, "nobody was receiving");
/// # });
/// ```
#[macro_export]
macro_rules! select {
    ($($arms:tt)*) => {
        $crate::__private::select! { $crate; $($arms)* }
    };
}

#[cfg(all(test, loom))]
mod tests;

use crate::loom::atomic::Ordering;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use chan::Chan;
pub use error::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
use waiter::Waiter;

/// A channel with a buffer of `cap` values; `cap == 0` is unbuffered (a
/// send waits for a receiver to take the value), as Go's `make(chan T, cap)`.
///
/// # Examples
///
/// ```
/// // Unbuffered: the send completes only once the receiver took the value.
/// let (tx, rx) = gort::chan::bounded::<&str>(0);
/// let t = std::thread::spawn(move || rx.recv_blocking().unwrap());
/// tx.send_blocking("ping").unwrap();
/// assert_eq!(t.join().unwrap(), "ping");
/// ```
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    new(Some(cap))
}

/// A channel whose buffer grows as needed (and shrinks back after a burst).
///
/// ```
/// let (tx, rx) = gort::chan::unbounded::<u64>();
/// for i in 0..1000 {
///     tx.try_send(i).unwrap();
/// }
/// assert_eq!(rx.len(), 1000);
/// assert_eq!(rx.capacity(), None);
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    new(None)
}

fn new<T>(cap: Option<usize>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(cap));
    (
        Sender { chan: chan.clone() },
        Receiver { chan, stream: None },
    )
}

/// The sending side. Clone it for more senders; the channel closes when
/// the last sender is dropped.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving side. Clone it for more receivers (each value goes to one
/// of them); the channel closes when the last receiver is dropped. Also a
/// [`futures_core::Stream`].
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
    /// The waiter `poll_next` parks with, allocated on first need.
    stream: Option<Pin<Box<Waiter<T>>>>,
}

/// The accessors both handles have, written once.
macro_rules! handle_accessors {
    () => {
        /// Closes the channel (see the crate docs). `false` if it was
        /// already closed.
        ///
        /// ```
        /// let (tx, rx) = gort::chan::bounded::<u8>(1);
        /// assert!(rx.close());
        /// assert!(!tx.close());
        /// assert!(tx.is_closed());
        /// ```
        pub fn close(&self) -> bool {
            self.chan.close()
        }

        /// `true` once the channel is closed (values may still be buffered).
        pub fn is_closed(&self) -> bool {
            self.chan.is_closed()
        }

        /// Values in the channel now (on an unbuffered channel: values that
        /// met a woken receive that has not taken them yet).
        ///
        /// ```
        /// let (tx, rx) = gort::chan::bounded::<u8>(4);
        /// tx.try_send(1).unwrap();
        /// assert_eq!((tx.len(), rx.len(), rx.is_empty()), (1, 1, false));
        /// ```
        pub fn len(&self) -> usize {
            self.chan.len()
        }

        /// `true` if nothing is buffered.
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }

        /// The buffer size (`Some(0)` unbuffered, `None` unbounded).
        ///
        /// ```
        /// assert_eq!(gort::chan::bounded::<u8>(0).0.capacity(), Some(0));
        /// assert_eq!(gort::chan::unbounded::<u8>().1.capacity(), None);
        /// ```
        pub fn capacity(&self) -> Option<usize> {
            self.chan.capacity()
        }
    };
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the buffer is full (for an unbuffered
    /// channel: until a receiver takes it). `Err` only if the channel is
    /// closed, with the value.
    ///
    /// Dropping the future before it completes never delivers the value.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let (tx, rx) = gort::chan::bounded(1);
    /// tx.send(7).await.unwrap();
    /// drop(rx); // the last receiver: closes the channel
    /// assert_eq!(tx.send(8).await.unwrap_err().0, 8);
    /// # });
    /// ```
    pub fn send(&self, value: T) -> SendFuture<'_, T> {
        SendFuture {
            chan: &self.chan,
            value: Some(value),
            waiter: Waiter::new(),
        }
    }

    /// Sends without waiting: `Full(v)` if there is no room (no waiting
    /// receiver, for an unbuffered channel), `Closed(v)` if closed.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(value)
    }

    /// Sends, blocking the calling thread while the channel is full. For
    /// plain threads (it would stall an executor's worker).
    pub fn send_blocking(&self, value: T) -> Result<(), SendError<T>> {
        self.chan
            .send_blocking(value, None)
            .map_err(|e| SendError(e.into_inner()))
    }

    /// As [`send_blocking`](Self::send_blocking), giving up after `timeout`
    /// (a timeout too large for an `Instant` means no deadline).
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.chan
            .send_blocking(value, Instant::now().checked_add(timeout))
    }

    handle_accessors!();

    /// A [`futures_sink::Sink`] over this sender. Closing the sink drops
    /// the sender (closing the channel if it was the last one).
    pub fn into_sink(self) -> SendSink<T> {
        SendSink {
            sender: Some(self),
            pending: None,
            waiter: Box::pin(Waiter::new()),
        }
    }
}

impl<T> Receiver<T> {
    /// Receives a value, waiting while the channel is empty. `Err` only
    /// when the channel is closed and drained.
    ///
    /// Dropping the future before it completes never loses a value.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let (tx, rx) = gort::chan::unbounded();
    /// tx.send("hi").await.unwrap();
    /// drop(tx);
    /// assert_eq!(rx.recv().await, Ok("hi"));
    /// assert_eq!(rx.recv().await, Err(gort::chan::RecvError));
    /// # });
    /// ```
    pub fn recv(&self) -> RecvFuture<'_, T> {
        RecvFuture {
            chan: &self.chan,
            waiter: Waiter::new(),
        }
    }

    /// Receives without waiting.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.chan.try_recv()
    }

    /// Receives, blocking the calling thread while the channel is empty.
    pub fn recv_blocking(&self) -> Result<T, RecvError> {
        self.chan.recv_blocking(None).map_err(|_| RecvError)
    }

    /// As [`recv_blocking`](Self::recv_blocking), giving up after `timeout`
    /// (a timeout too large for an `Instant` means no deadline).
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.chan.recv_blocking(Instant::now().checked_add(timeout))
    }

    handle_accessors!();
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.receivers.fetch_add(1, Ordering::Relaxed);
        Receiver {
            chan: self.chan.clone(),
            stream: None,
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.chan.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.close();
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Some(w) = &self.stream {
            self.chan.cancel_recv(w.as_ref());
        }
        if self.chan.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.close();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.capacity())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("capacity", &self.capacity())
            .field("closed", &self.is_closed())
            .finish()
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Sender::send`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct SendFuture<'a, T> {
        chan: &'a Chan<T>,
        value: Option<T>,
        #[pin]
        waiter: Waiter<T>,
    }

    impl<'a, T> PinnedDrop for SendFuture<'a, T> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.chan.cancel_send(this.waiter.as_ref());
        }
    }
}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    /// Inline, with only the fast path (`Chan::send_idle`); the rest of
    /// the poll is `poll_rest`, out of line, so the fast path keeps few
    /// registers live across the calls it does not make.
    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The cooperative budget is checked before the send does anything:
        // with it spent, the value stays in the future (or parked, as it
        // was) and the task is woken to come back.
        let coop = std::task::ready!(gort_coop::poll_proceed(cx));
        let this = self.as_mut().project();
        if this.chan.send_idle(this.waiter.as_ref(), this.value) {
            coop.made_progress();
            return Poll::Ready(Ok(()));
        }
        self.poll_rest(cx)
    }
}

impl<T> SendFuture<'_, T> {
    /// [`poll`](Future::poll) past its fast path.
    #[inline(never)]
    fn poll_rest(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SendError<T>>> {
        // The budget was there a moment ago, in this same poll.
        let coop = std::task::ready!(gort_coop::poll_proceed(cx));
        let this = self.project();
        let res = this
            .chan
            .poll_send_rest(this.waiter.as_ref(), this.value, || {
                Chan::<T>::task_wake(cx)
            })
            .map(|r| r.map_err(SendError));
        if res.is_ready() {
            coop.made_progress();
        } else {
            gort_coop::set_wait_reason(gort_coop::WaitReason::ChanSend);
        }
        res
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Receiver::recv`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct RecvFuture<'a, T> {
        chan: &'a Chan<T>,
        #[pin]
        waiter: Waiter<T>,
    }

    impl<'a, T> PinnedDrop for RecvFuture<'a, T> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.chan.cancel_recv(this.waiter.as_ref());
        }
    }
}

impl<T> Future for RecvFuture<'_, T> {
    type Output = Result<T, RecvError>;

    /// Inline, with only the fast path, as `SendFuture`'s.
    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The budget is checked before a value is taken, never after: a
        // receive that yields for it leaves every value (and a value
        // reserved for it on an unbuffered channel) where it was.
        let coop = std::task::ready!(gort_coop::poll_proceed(cx));
        let this = self.as_mut().project();
        if let Some(v) = this.chan.recv_idle(this.waiter.as_ref()) {
            coop.made_progress();
            return Poll::Ready(Ok(v));
        }
        self.poll_rest(cx)
    }
}

impl<T> RecvFuture<'_, T> {
    /// [`poll`](Future::poll) past its fast path.
    #[inline(never)]
    fn poll_rest(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        let coop = std::task::ready!(gort_coop::poll_proceed(cx));
        let this = self.project();
        let res = this
            .chan
            .poll_recv_rest(this.waiter.as_ref(), || Chan::<T>::task_wake(cx))
            .map(|v| v.ok_or(RecvError));
        if res.is_ready() {
            coop.made_progress();
        } else {
            gort_coop::set_wait_reason(gort_coop::WaitReason::ChanReceive);
        }
        res
    }
}

impl<T> futures_core::Stream for Receiver<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        let coop = std::task::ready!(gort_coop::poll_proceed(cx));
        let w = this.stream.get_or_insert_with(|| Box::pin(Waiter::new()));
        let res = this.chan.poll_recv(w.as_ref(), || Chan::<T>::task_wake(cx));
        if res.is_ready() {
            coop.made_progress();
        } else {
            gort_coop::set_wait_reason(gort_coop::WaitReason::ChanReceive);
        }
        res
    }
}

/// A [`futures_sink::Sink`] over a [`Sender`] (from [`Sender::into_sink`]).
///
/// ```
/// use futures::{SinkExt, StreamExt};
/// # futures::executor::block_on(async {
/// let (tx, rx) = gort::chan::bounded::<u32>(1);
/// let mut sink = tx.into_sink();
/// let reader = async { rx.collect::<Vec<_>>().await };
/// let writer = async {
///     sink.send_all(&mut futures::stream::iter([1, 2, 3].map(Ok))).await.unwrap();
///     sink.close().await.unwrap(); // drops the only sender: the channel closes
/// };
/// let (got, ()) = futures::join!(reader, writer);
/// assert_eq!(got, vec![1, 2, 3]);
/// # });
/// ```
pub struct SendSink<T> {
    sender: Option<Sender<T>>,
    /// A value accepted by `start_send` and not yet handed to the channel.
    pending: Option<T>,
    waiter: Pin<Box<Waiter<T>>>,
}

// The value in flight is never pinned (it moves into the boxed waiter).
impl<T> Unpin for SendSink<T> {}

impl<T> SendSink<T> {
    /// Drives the value in flight, if any.
    fn poll_flight(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SendError<T>>> {
        let Some(sender) = &self.sender else {
            return match self.pending.take() {
                Some(v) => Poll::Ready(Err(SendError(v))),
                None => Poll::Ready(Ok(())),
            };
        };
        if self.pending.is_none() && self.waiter.is_idle() {
            return Poll::Ready(Ok(()));
        }
        let coop = std::task::ready!(gort_coop::poll_proceed(cx));
        let res = sender
            .chan
            .poll_send(self.waiter.as_ref(), &mut self.pending, || {
                Chan::<T>::task_wake(cx)
            })
            .map(|r| r.map_err(SendError));
        if res.is_ready() {
            coop.made_progress();
        } else {
            gort_coop::set_wait_reason(gort_coop::WaitReason::ChanSend);
        }
        res
    }
}

impl<T> futures_sink::Sink<T> for SendSink<T> {
    type Error = SendError<T>;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().poll_flight(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> Result<(), Self::Error> {
        let this = self.get_mut();
        if this.sender.is_none() {
            return Err(SendError(item));
        }
        assert!(
            this.pending.is_none() && this.waiter.is_idle(),
            "start_send called without poll_ready returning Ready"
        );
        this.pending = Some(item);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().poll_flight(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        let res = std::task::ready!(this.poll_flight(cx));
        this.sender = None;
        Poll::Ready(res)
    }
}

impl<T> Drop for SendSink<T> {
    fn drop(&mut self) {
        if let Some(sender) = &self.sender {
            sender.chan.cancel_send(self.waiter.as_ref());
        }
    }
}

impl<T> fmt::Debug for SendSink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendSink")
            .field("closed", &self.sender.is_none())
            .finish()
    }
}
