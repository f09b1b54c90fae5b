//! gort's cooperative budget (Go's preemption points, tokio's `coop`).
//!
//! A task whose channel is always ready never returns `Pending` by itself,
//! so without help it would keep its worker for as long as it loops. gort
//! gives every poll of a task a budget: gort's channel operations
//! (including `select!`), timers, TCP/UDP reads and writes, `JoinHandle`s
//! and the lock/acquire/wait futures of `gort::sync` take one unit each
//! time they complete. Every [`BUDGET`] units the budget looks at the
//! clock; once the poll has gone on for a [`SLICE`] after its first
//! `BUDGET` units, the budget is spent, and the next such operation wakes
//! its task and returns `Pending` *before* it does anything, so the task
//! goes behind the work already runnable on its processor and the
//! operation happens on the next poll. (tokio's budget is a count alone,
//! 128 operations; Go preempts a goroutine after 10 ms.)
//!
//! The budget is a thread-local cell in this crate, which depends on no
//! other gort crate: gort-channel and gort-sync reach it without depending
//! on the executor and keep working everywhere else. Where nobody set a
//! budget (a foreign executor, a plain thread, a `spawn_blocking`
//! closure) nothing is limited. gort's executor sets a fresh budget around
//! each poll of a task and around each poll of a `block_on` future.
//!
//! Opting out: [`unconstrained`] (re-exported as `gort::task::unconstrained`).
//!
//! The same seam carries [wait reasons](WaitReason): what a task that
//! returned `Pending` waits on, for the goroutine dump.
//!
//! ```
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::sync::Arc;
//!
//! let rt = gort::runtime::Builder::new().worker_threads(1).build().unwrap();
//! rt.block_on(gort::spawn(async {
//!     let ran = Arc::new(AtomicBool::new(false));
//!     let r = ran.clone();
//!     gort::spawn(async move { r.store(true, Ordering::Relaxed) });
//!     // A loop that never waits: its channel always has room and a value.
//!     // The budget makes it yield, so the task above runs meanwhile, even
//!     // on one worker.
//!     let (tx, rx) = gort::chan::bounded(1);
//!     let mut i = 0u64;
//!     while !ran.load(Ordering::Relaxed) {
//!         tx.send(i).await.unwrap();
//!         assert_eq!(rx.recv().await, Ok(i));
//!         i += 1;
//!     }
//! }))
//! .unwrap();
//! ```
#![warn(missing_docs)]

mod wait;

pub use wait::{set_wait_reason, take_wait_reason, WaitReason};

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Operations a task completes between two looks at the clock: once a
/// poll has taken this many units, the budget checks whether the poll's
/// [`SLICE`] is over, and refills the units if it is not.
pub const BUDGET: u8 = 128;

/// How long a poll may go on completing operations after its first
/// [`BUDGET`] of them before gort's futures make its task yield.
///
/// Counted from the moment the first `BUDGET` units are spent, so a poll
/// yields after at least `BUDGET` operations and at least `SLICE` of time
/// after them. A slice of time rather than a count alone: a channel
/// operation costs 10-20 ns, so 128 of them are 2-3 us, and producers and
/// a consumer made to yield every 2-3 us spread over the workers and meet
/// at a full or empty buffer far more often (measured: the
/// `chan/mpsc/cap128` row on gort's runtime went from 70 to 17 ns per
/// message). A greedy task still gives its worker up within about this
/// long plus `BUDGET` operations.
pub const SLICE: Duration = Duration::from_micros(100);

thread_local! {
    /// The running task's units left; `None`: no budget, nothing limited.
    /// A `const` initializer and no destructor: an access is a plain
    /// thread-local load or store, with no lazy-initialization check.
    static CURRENT: Cell<Option<u8>> = const { Cell::new(None) };
    /// When the running poll first spent its [`BUDGET`] units; `None`
    /// until then. Its slice runs [`SLICE`] from there.
    static SLICE_START: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Puts the previous budget back when dropped (also when unwinding).
struct Reset(Option<u8>, Option<Instant>);

impl Drop for Reset {
    #[inline(always)]
    fn drop(&mut self) {
        CURRENT.with(|budget| budget.set(self.0));
        SLICE_START.with(|start| start.set(self.1));
    }
}

#[inline(always)]
fn with_budget<R>(budget: Option<u8>, f: impl FnOnce() -> R) -> R {
    let _reset = Reset(
        CURRENT.with(|current| current.replace(budget)),
        SLICE_START.with(|start| start.replace(None)),
    );
    f()
}

/// The poll's units ran out (the operation that took the last one has
/// completed): refill them while the poll is within its slice, or leave
/// them spent. Out of line: it runs once per [`BUDGET`] operations.
#[cold]
#[inline(never)]
fn units_ran_out(budget: &Cell<Option<u8>>) {
    let now = Instant::now();
    let within = SLICE_START.with(|start| match start.get() {
        None => {
            start.set(Some(now));
            true
        }
        Some(s) => now.duration_since(s) < SLICE,
    });
    budget.set(Some(if within { BUDGET } else { 0 }));
}

/// Runs `f` (one poll of a task) with a fresh budget ([`BUDGET`] units,
/// no slice started) on this thread, and puts the previous budget back
/// afterwards. Called by gort's executor; an executor of another crate may
/// call it too.
///
/// Under `--cfg loom` it sets no budget: loom runs all the threads of a
/// model on one OS thread, so they would share this thread-local.
///
/// ```
/// use gort::chan::bounded;
/// use gort_coop::{BUDGET, SLICE};
/// use std::future::Future;
/// use std::task::{Context, Poll};
/// use std::time::Instant;
///
/// let (tx, rx) = bounded::<u32>(100_000);
/// for i in 0..100_000 {
///     tx.try_send(i).unwrap();
/// }
/// let start = Instant::now();
/// let ready = gort_coop::budget(|| {
///     let mut cx = Context::from_waker(std::task::Waker::noop());
///     let mut ready = 0;
///     loop {
///         let mut recv = std::pin::pin!(rx.recv());
///         match recv.as_mut().poll(&mut cx) {
///             Poll::Ready(_) => ready += 1,
///             Poll::Pending => return ready,
///         }
///     }
/// });
/// // The first BUDGET receives start the slice; the budget ran out at a
/// // later look at the clock, once the slice was over.
/// assert!(ready >= 2 * BUDGET as usize && ready % BUDGET as usize == 0);
/// assert!(start.elapsed() >= SLICE);
/// assert!(ready < 100_000, "the budget ran out before the values did");
/// ```
#[inline]
pub fn budget<R>(f: impl FnOnce() -> R) -> R {
    if cfg!(loom) {
        f()
    } else {
        with_budget(Some(BUDGET), f)
    }
}

/// Runs `f` with no budget: nothing in it is limited. The previous budget,
/// with what is left of it, is back afterwards.
///
/// ```
/// gort_coop::with_unconstrained(|| assert!(gort_coop::has_budget_remaining()));
/// ```
#[inline]
pub fn with_unconstrained<R>(f: impl FnOnce() -> R) -> R {
    with_budget(None, f)
}

/// `false` once this thread's budget is spent; `true` with units left or
/// no budget at all.
///
/// ```
/// assert!(gort_coop::has_budget_remaining()); // no budget here
/// ```
#[inline]
pub fn has_budget_remaining() -> bool {
    CURRENT.get() != Some(0)
}

/// What an operation calls before it acts. With units left (or no budget)
/// it returns a [`Proceed`]; the operation goes ahead and calls
/// [`Proceed::made_progress`] if it completes, which takes the unit (an
/// operation that does not complete takes none). With the budget spent it
/// wakes the task (`cx.waker().wake_by_ref()`) and returns `Pending`: the
/// operation must then return `Pending` without having done anything.
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::task::{ready, Context, Poll};
///
/// /// A future that is always ready, but yields once the budget is spent.
/// struct Always;
///
/// impl Future for Always {
///     type Output = ();
///     fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
///         let coop = ready!(gort_coop::poll_proceed(cx));
///         coop.made_progress();
///         Poll::Ready(())
///     }
/// }
///
/// gort::block_on(async {
///     for _ in 0..1000 {
///         Always.await; // yields whenever the poll's slice runs out
///     }
/// });
/// ```
#[inline]
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<Proceed> {
    if CURRENT.get() == Some(0) {
        cx.waker().wake_by_ref();
        return Poll::Pending;
    }
    Poll::Ready(Proceed { _private: () })
}

/// Leave to go ahead from [`poll_proceed`]. The unit is taken only by
/// [`made_progress`](Proceed::made_progress), once the operation completed:
/// no destructor runs on the operation's path (a `Drop` guard held across
/// it cost a measured 25-40% on the unbuffered ping-pong row, `ChanSync`).
#[must_use = "call made_progress once the operation completes"]
#[derive(Debug)]
pub struct Proceed {
    _private: (),
}

impl Proceed {
    /// The operation completed: it takes one unit of the budget.
    #[inline]
    pub fn made_progress(self) {
        // Through `with`: `LocalKey::set` goes through std's out-of-line
        // `initialize_with`, a call on every operation that profiled at
        // 40% of a worker's time in the `chan/seq/capN` row.
        CURRENT.with(|budget| match budget.get() {
            Some(n) if n > 1 => budget.set(Some(n - 1)),
            Some(_) => units_ran_out(budget),
            None => {}
        });
    }
}

/// Runs `future` with no budget: gort's channel, timer, net, join and sync
/// futures inside it never yield for the budget (tokio's
/// `task::unconstrained`). Use it for a loop that must not be interrupted
/// and that waits by itself often enough; a loop that never waits then
/// holds its worker, as before the budget existed.
///
/// ```
/// let rt = gort::runtime::Builder::new().worker_threads(1).build().unwrap();
/// let n = rt.block_on(gort::spawn(gort::task::unconstrained(async {
///     let (tx, rx) = gort::chan::bounded(1);
///     for i in 0..1000u64 {
///         tx.send(i).await.unwrap(); // never yields
///         rx.recv().await.unwrap();
///     }
///     1000
/// })));
/// assert_eq!(n.unwrap(), 1000);
/// ```
pub fn unconstrained<F: Future>(future: F) -> Unconstrained<F> {
    Unconstrained { future }
}

pin_project_lite::pin_project! {
    /// The future of [`unconstrained`].
    #[must_use = "futures do nothing unless awaited"]
    #[derive(Debug)]
    pub struct Unconstrained<F> {
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Unconstrained<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let future = self.project().future;
        with_unconstrained(|| future.poll(cx))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn counting() -> (Arc<Count>, Waker) {
        let c = Arc::new(Count(AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    /// Takes units until `poll_proceed` says no (with a fresh budget in
    /// force), and checks where it stopped: at a multiple of `BUDGET`, at
    /// least two of them (the first starts the slice), once a `SLICE` had
    /// passed since the first `BUDGET` units. The count of units taken.
    fn spend(cx: &mut Context<'_>) -> usize {
        let mut n = 0;
        let mut slice_from = None;
        while let Poll::Ready(p) = poll_proceed(cx) {
            if n + 1 == BUDGET as usize {
                // Before the unit that starts the slice.
                slice_from = Some(Instant::now());
            }
            p.made_progress();
            n += 1;
        }
        assert!(n >= 2 * BUDGET as usize, "ran out after {n} units");
        assert_eq!(
            n % BUDGET as usize,
            0,
            "ran out between two looks at the clock"
        );
        assert!(slice_from.expect("the slice started").elapsed() >= SLICE);
        n
    }

    #[test]
    fn no_budget_limits_nothing() {
        let (woken, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        for _ in 0..10_000 {
            let Poll::Ready(p) = poll_proceed(&mut cx) else {
                panic!("limited without a budget")
            };
            p.made_progress();
        }
        assert_eq!(woken.0.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_spent_budget_wakes_the_task_and_says_pending() {
        let (woken, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        budget(|| {
            spend(&mut cx);
            assert!(!has_budget_remaining());
            assert_eq!(woken.0.load(Ordering::Relaxed), 1);
            assert!(poll_proceed(&mut cx).is_pending());
            assert_eq!(woken.0.load(Ordering::Relaxed), 2);
        });
        // Out of the poll: no budget again.
        assert!(has_budget_remaining());
        assert_eq!(CURRENT.get(), None);
    }

    #[test]
    fn an_operation_that_did_not_complete_takes_no_unit() {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        budget(|| {
            for _ in 0..1000 {
                let Poll::Ready(p) = poll_proceed(&mut cx) else {
                    panic!("an operation that did not complete took a unit")
                };
                drop(p); // as an operation that returned Pending
            }
            spend(&mut cx);
        });
    }

    #[test]
    fn each_poll_starts_with_a_full_budget_and_nesting_restores() {
        let mut cx = Context::from_waker(Waker::noop());
        budget(|| {
            let Poll::Ready(p) = poll_proceed(&mut cx) else {
                panic!()
            };
            p.made_progress();
            // An inner scope (e.g. a nested runtime's poll) has its own.
            budget(|| spend(&mut cx));
            with_unconstrained(|| assert!(has_budget_remaining()));
            // Back in the outer scope: one unit was spent there.
            assert_eq!(CURRENT.get(), Some(BUDGET - 1));
        });
        budget(|| spend(&mut cx));
    }

    #[test]
    fn the_budget_is_restored_when_the_poll_panics() {
        let r = std::panic::catch_unwind(|| {
            budget(|| {
                let mut cx = Context::from_waker(Waker::noop());
                spend(&mut cx);
                panic!("boom");
            })
        });
        assert!(r.is_err());
        assert_eq!(CURRENT.get(), None);
    }

    #[test]
    fn unconstrained_polls_its_future_without_a_budget() {
        let mut cx = Context::from_waker(Waker::noop());
        budget(|| {
            let mut f = std::pin::pin!(unconstrained(std::future::poll_fn(|cx| {
                for _ in 0..10_000 {
                    let Poll::Ready(p) = poll_proceed(cx) else {
                        panic!("limited inside unconstrained")
                    };
                    p.made_progress();
                }
                Poll::Ready(())
            })));
            assert!(f.as_mut().poll(&mut cx).is_ready());
            assert_eq!(CURRENT.get(), Some(BUDGET));
        });
    }
}
