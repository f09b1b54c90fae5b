//! Timers: [`sleep`], [`sleep_until`], [`timeout`], [`interval`] (Go's
//! `time.Sleep`, `time.After` in a select, `context.WithTimeout`,
//! `time.Ticker`).
//!
//! They work on any executor: the reactor's timer wheel fires them (1 ms
//! resolution), driven by an idle gort worker or the `gort-netpoll` thread.
//! A timer never fires before its deadline; a deadline is rounded up to the
//! wheel's next millisecond, and on Linux a timerfd wakes the blocked
//! driver at that instant, so an otherwise idle runtime fires a timer 0 to
//! 1 ms after its deadline plus a thread's wake-up (without the timerfd,
//! epoll's timeout in whole milliseconds can add up to 1 ms more).
//! Cancelling one (dropping the future) is O(1) and leaves nothing behind.
//!
//! In a runtime built with `start_paused(true)` (a test clock, as Go's
//! `testing/synctest` and tokio's `start_paused`), the timers created by
//! its tasks run on the runtime's virtual clock instead: it jumps to the
//! next deadline whenever every task is parked, and [`advance`] moves it
//! by hand; [`now`] reads it there. Elsewhere, real time.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use std::sync::Arc;

use crate::clock::{self, Clock};
use crate::driver::Reactor;
use crate::timers::TimerRef;
use crate::wheel::TimerState;

/// Waits until `duration` has passed (Go's `time.Sleep`).
///
/// ```
/// # futures::executor::block_on(async {
/// let start = std::time::Instant::now();
/// gort::time::sleep(std::time::Duration::from_millis(20)).await;
/// assert!(start.elapsed() >= std::time::Duration::from_millis(20));
/// # });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    let clock = clock::current();
    let now = clock.as_ref().map_or_else(Instant::now, |c| c.now());
    Sleep::new(later(now, duration), clock)
}

/// Waits until `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(deadline, clock::current())
}

/// The time: the real clock's, or, in a task of a paused runtime (see the
/// [module docs](self)), its virtual clock's, which moves only when every
/// task waits or by [`advance`].
///
/// ```
/// # futures::executor::block_on(async {
/// let before = gort::time::now();
/// gort::time::sleep(std::time::Duration::from_millis(1)).await;
/// assert!(gort::time::now() > before);
/// # });
/// ```
pub fn now() -> Instant {
    clock::current().map_or_else(Instant::now, |c| c.now())
}

/// Moves a paused runtime's clock `d` forward, firing the timers due by
/// then, and yields once so that the tasks they woke can run (tokio's
/// `time::advance`).
///
/// # Panics
///
/// Outside a paused runtime's task or `block_on` (there is no virtual
/// clock to move).
///
/// ```
/// use std::time::Duration;
/// use gort::time::{advance, now, sleep};
///
/// let rt = gort::runtime::Builder::new().start_paused(true).build().unwrap();
/// rt.block_on(async {
///     let start = now();
///     let nap = gort::spawn(sleep(Duration::from_secs(3600)));
///     advance(Duration::from_secs(3600)).await;
///     nap.await.unwrap();
///     assert_eq!(now() - start, Duration::from_secs(3600));
/// });
/// ```
pub async fn advance(d: Duration) {
    let clock = clock::current().unwrap_or_else(|| {
        panic!(
            "gort::time::advance: this clock is not paused (build the runtime with \
             Builder::start_paused(true), or use #[gort::test(start_paused = true)])"
        )
    });
    clock.advance(d);
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// About thirty years from now: "never" for a deadline that overflows.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

/// `at + d`, or "never" if that overflows.
pub(crate) fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d).unwrap_or_else(far_future)
}

/// The future of [`sleep`] and [`sleep_until`]. Dropping it cancels the
/// timer.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    /// The reactor's timer, on real time.
    key: Option<TimerRef>,
    /// The virtual clock it runs on (made in a paused runtime), and its
    /// timer's id there.
    clock: Option<Arc<Clock>>,
    clock_key: Option<u64>,
}

impl Sleep {
    fn new(deadline: Instant, clock: Option<Arc<Clock>>) -> Sleep {
        Sleep {
            deadline,
            key: None,
            clock,
            clock_key: None,
        }
    }

    /// The time on the clock this sleep runs on.
    fn now(&self) -> Instant {
        self.clock.as_ref().map_or_else(Instant::now, |c| c.now())
    }

    /// When it completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        self.now() >= self.deadline
    }

    /// Moves the deadline (a pending sleep keeps waiting, for the new one).
    pub fn reset(&mut self, deadline: Instant) {
        self.cancel();
        self.deadline = deadline;
    }

    fn cancel(&mut self) {
        if let Some(key) = self.key.take() {
            Reactor::get().remove_timer(key);
        }
        if let (Some(clock), Some(id)) = (&self.clock, self.clock_key.take()) {
            clock.remove(self.deadline, id);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // One unit of the cooperative budget when the sleep completes; with
        // it spent, the task yields first (a loop over elapsed deadlines
        // would otherwise never return `Pending`).
        let coop = std::task::ready!(gort_coop::poll_proceed(cx));
        let res = self.poll_elapsed(cx);
        if res.is_ready() {
            coop.made_progress();
        } else {
            gort_coop::set_wait_reason(gort_coop::WaitReason::Sleep);
        }
        res
    }
}

impl Sleep {
    /// [`Sleep::poll`] behind its budget check.
    fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(clock) = &self.clock {
            self.clock_key = clock.wait(self.deadline, self.clock_key, cx.waker());
            return match self.clock_key {
                None => Poll::Ready(()),
                Some(_) => Poll::Pending,
            };
        }
        let reactor = Reactor::get();
        if let Some(key) = self.key {
            match reactor.poll_timer(key, cx.waker()) {
                TimerState::Waiting => return Poll::Pending,
                TimerState::Fired | TimerState::Gone => {
                    self.key = None;
                    reactor.remove_timer(key);
                }
            }
        }
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        self.key = Some(reactor.insert_timer(self.deadline, cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("registered", &self.key.is_some())
            .finish()
    }
}

/// The error of [`timeout`]: the deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> Self {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}

/// Runs `future` for at most `duration`: its output, or [`Elapsed`] (the
/// future is dropped then).
///
/// ```
/// use std::time::Duration;
/// use gort::time::{sleep, timeout};
/// # futures::executor::block_on(async {
/// assert_eq!(timeout(Duration::from_secs(5), async { 7 }).await, Ok(7));
/// assert!(timeout(Duration::from_millis(5), sleep(Duration::from_secs(60))).await.is_err());
/// # });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep(duration),
    }
}

/// [`timeout`] with a deadline.
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep_until(deadline),
    }
}

pin_project_lite::pin_project! {
    /// The future of [`timeout`].
    #[must_use = "futures do nothing unless awaited"]
    #[derive(Debug)]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F> Timeout<F> {
    /// The wrapped future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// Unwraps the future.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let had_budget = gort_coop::has_budget_remaining();
        if let Poll::Ready(v) = this.future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        // The task waits on the inner future, with a deadline: the dump
        // shows the inner future's reason ("sleep" only if it gave none).
        let inner = gort_coop::take_wait_reason();
        let sleep = Pin::new(this.sleep);
        let elapsed = if had_budget && !gort_coop::has_budget_remaining() {
            // The inner future spent the budget (it was ready all along):
            // the deadline is still checked, or a future that is always
            // ready would never time out.
            gort_coop::with_unconstrained(|| sleep.poll(cx))
        } else {
            sleep.poll(cx)
        };
        if elapsed.is_pending() && inner != gort_coop::WaitReason::Other {
            gort_coop::set_wait_reason(inner);
        }
        elapsed.map(|()| Err(Elapsed(())))
    }
}

/// How late a tick must be taken to count as missed (as tokio's): a tick
/// taken at most this long after its scheduled instant is on time for
/// every [`MissedTickBehavior`], and the next is due one period after the
/// scheduled one. Less is the timer's 1 ms resolution and scheduling
/// noise, which must neither drop ticks nor shift the schedule.
pub const LATE_TICK: std::time::Duration = std::time::Duration::from_millis(5);

/// What an [`Interval`] does with ticks it missed (the task was late).
///
/// A tick counts as missed only when it is taken more than [`LATE_TICK`]
/// (5 ms) after its scheduled instant. Up to that, every behaviour keeps
/// the schedule: the next tick is due one period after the scheduled one,
/// and ticks already due fire at once. So a 1 ms interval whose wake-ups
/// come a millisecond late still ticks once per millisecond on average.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Go's `Ticker`: a tick taken more than [`LATE_TICK`] late drops the
    /// ticks missed meanwhile; the next tick is the next multiple of the
    /// period after now. The default.
    #[default]
    Skip,
    /// Every missed tick fires, at once, until caught up (the same at any
    /// lateness).
    Burst,
    /// A tick taken more than [`LATE_TICK`] late restarts the schedule: the
    /// next is one period after it.
    Delay,
}

/// Ticks every `period`, the first one `period` from now (Go's
/// `time.NewTicker`).
///
/// # Panics
///
/// If `period` is zero (as Go's `NewTicker`).
///
/// ```
/// use std::time::{Duration, Instant};
/// # futures::executor::block_on(async {
/// let start = Instant::now();
/// let mut ticker = gort::time::interval(Duration::from_millis(10));
/// for _ in 0..3 {
///     ticker.tick().await;
/// }
/// assert!(start.elapsed() >= Duration::from_millis(30));
/// # });
/// ```
pub fn interval(period: Duration) -> Interval {
    interval_at(later(now(), period), period)
}

/// Ticks at `start`, then every `period`.
///
/// # Panics
///
/// If `period` is zero.
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "gort::time::interval: the period must be positive"
    );
    Interval {
        sleep: sleep_until(start),
        period,
        missed: MissedTickBehavior::Skip,
    }
}

/// The ticker of [`interval`]; also a `Stream` of tick instants.
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick; returns its scheduled instant.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let scheduled = self.sleep.deadline();
        let now = self.sleep.now();
        let on_schedule = later(scheduled, self.period);
        let next = if now <= later(scheduled, LATE_TICK) {
            // On time, within the timer's resolution and scheduling noise.
            on_schedule
        } else {
            match self.missed {
                MissedTickBehavior::Burst => on_schedule,
                MissedTickBehavior::Delay => later(now, self.period),
                MissedTickBehavior::Skip if on_schedule > now => on_schedule,
                MissedTickBehavior::Skip => {
                    // Skip to the first multiple of the period after now.
                    let behind = now.duration_since(scheduled).as_nanos();
                    let periods = behind / self.period.as_nanos() + 1;
                    u32::try_from(periods)
                        .ok()
                        .and_then(|k| self.period.checked_mul(k))
                        .map_or_else(|| later(now, self.period), |d| later(scheduled, d))
                }
            }
        };
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// Sets what happens to missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Restarts: the next tick is one period from now (Go's `Ticker.Reset`).
    pub fn reset(&mut self) {
        self.sleep.reset(later(self.sleep.now(), self.period));
    }
}

impl futures_core::Stream for Interval {
    type Item = Instant;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.poll_tick(cx).map(Some)
    }
}
