//! `gort::time` on a 2-worker gort runtime (idle workers and the sysmon
//! drive the timer wheel):
//!
//! - 10,000 sleeps of random lengths (0 to 50 ms, microsecond granularity)
//!   spawned at once, each a task: no sleep ends before its deadline (the
//!   instant its waker is called and the instant its task resumes), and the
//!   timers fire in deadline order at 1 ms resolution: a sleep whose
//!   deadline is 2 ms or more after another's is never woken before it
//!   (wakes within 1 ms of each other count as ties). Wake instants are
//!   taken in the waker the sleep holds, which the reactor calls, so the
//!   order checked is the reactor's, not that of two workers racing to run
//!   the woken tasks. Sleeps already due when first polled complete without
//!   a wake and take no part in the order check;
//! - a dropped sleep never wakes its task, and the wheel lets go of its
//!   waker (polled through `tokio_test::task::spawn`);
//! - `timeout`: `Err(Elapsed)` for a future that never completes, never
//!   early, with the inner future dropped; `Ok` for one that completes;
//! - `interval` under load (both workers busy with tasks that compute and
//!   yield, and a task that blocks a worker for 30 ms at a time): 20 ticks
//!   of a 10 ms interval, each returning its scheduled instant (start +
//!   k * period), never before it; with `Burst` k is exactly 0..20, with
//!   the default (`Skip`) k only grows; the whole run takes at least 20
//!   periods;
//! - `MissedTickBehavior::Skip`: 55 ms late, `tick()` returns the missed
//!   tick at once (ready on the first poll), and the next one is back on
//!   the period grid (the first multiple of the period after the call);
//! - a 1 ms interval on an idle runtime (default `Skip`): at least 1,900
//!   ticks in 2 s (2,000 on schedule). A 1 ms sleep can take up to 2 ms
//!   (its deadline rounded up to the wheel's next millisecond, then the
//!   wake-up; on Linux the wake-up timer makes that about 1 to 1.1 ms);
//!   lateness up to `LATE_TICK` is not a missed tick, so the ticks already
//!   due fire at once and none is dropped;
//! - `MissedTickBehavior::Delay` as documented: after a late tick, the
//!   next comes a period after it (fails: see the test's comment);
//! - sleeps around the wheel's level boundaries (63 to 300 ms) are woken
//!   by the reactor, never early; a reset sleep waits for its new deadline
//!   (earlier or later), and again after completing;
//! - on Linux the reactor has its wake-up timer (a timerfd), and a sleep
//!   on an idle runtime ends a blocked turn through it (its event is
//!   counted), not through epoll's millisecond timeout: of 50 sleeps of
//!   2.5 ms, at least one (a loaded machine may deschedule the driver past
//!   a tick before it arms the timer, then epoll's timeout ends the wait).
//!
//! No assertion says "not later than": only never early, order, and grid.
//! Every body runs under the hang watchdog of `channel/tests/support`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use futures::FutureExt;
use gort::time::{
    interval, interval_at, sleep, sleep_until, timeout, Elapsed, MissedTickBehavior, Sleep,
};

mod reactor_common;
use reactor_common::{counter, on_gort, support::watchdog, DropGuard, Rng};

const MS: Duration = Duration::from_millis(1);

/// The waker a [`Stamped`] sleep registers: notes when the reactor called
/// it, then wakes the task.
struct WakeStamp {
    task: Mutex<Option<Waker>>,
    woken_at: OnceLock<Instant>,
}

impl Wake for WakeStamp {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let _ = self.woken_at.set(Instant::now());
        if let Some(w) = &*self.task.lock().unwrap() {
            w.wake_by_ref();
        }
    }
}

/// A sleep polled with a [`WakeStamp`] waker (the same one every poll).
struct Stamped {
    sleep: Sleep,
    stamp: Arc<WakeStamp>,
    waker: Waker,
}

impl Stamped {
    fn new(sleep: Sleep) -> Stamped {
        let stamp = Arc::new(WakeStamp {
            task: Mutex::new(None),
            woken_at: OnceLock::new(),
        });
        let waker = Waker::from(stamp.clone());
        Stamped {
            sleep,
            stamp,
            waker,
        }
    }
}

impl Future for Stamped {
    type Output = Option<Instant>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        {
            let mut task = self.stamp.task.lock().unwrap();
            if !task.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        let this = &mut *self;
        let mut stamped_cx = Context::from_waker(&this.waker);
        Pin::new(&mut this.sleep)
            .poll(&mut stamped_cx)
            .map(|()| this.stamp.woken_at.get().copied())
    }
}

struct Woken {
    deadline: Instant,
    /// When the reactor called the waker (`None`: due at the first poll).
    woken_at: Option<Instant>,
    resumed_at: Instant,
}

#[test]
fn ten_thousand_random_sleeps_end_never_early_and_in_deadline_order() {
    const SLEEPS: usize = 10_000;
    on_gort("time_10k_sleeps", || async {
        let mut rng = Rng::new(2024);
        let handles: Vec<_> = (0..SLEEPS)
            .map(|_| {
                let len = Duration::from_micros(rng.below(50_001));
                let s = sleep(len);
                let deadline = s.deadline();
                gort::spawn(async move {
                    let woken_at = Stamped::new(s).await;
                    Woken {
                        deadline,
                        woken_at,
                        resumed_at: Instant::now(),
                    }
                })
            })
            .collect();
        let mut all = Vec::with_capacity(SLEEPS);
        for h in handles {
            all.push(h.await.unwrap());
        }
        for (i, w) in all.iter().enumerate() {
            assert!(
                w.resumed_at >= w.deadline,
                "sleep {i} resumed {:?} before its deadline",
                w.deadline - w.resumed_at
            );
            if let Some(at) = w.woken_at {
                assert!(
                    at >= w.deadline,
                    "sleep {i} woken {:?} before its deadline",
                    w.deadline - at
                );
            }
        }
        // Order: sorted by deadline, each woken sleep against the latest
        // wake among the sleeps due 2 ms or more before it.
        let mut woken: Vec<(Instant, Instant)> = all
            .iter()
            .filter_map(|w| w.woken_at.map(|at| (w.deadline, at)))
            .collect();
        woken.sort();
        let mut earlier = 0;
        let mut latest: Option<(Instant, Instant)> = None;
        for &(deadline, at) in &woken {
            while earlier < woken.len() && woken[earlier].0 + 2 * MS <= deadline {
                let e = woken[earlier];
                if latest.is_none_or(|l| e.1 > l.1) {
                    latest = Some(e);
                }
                earlier += 1;
            }
            if let Some((d2, at2)) = latest {
                assert!(
                    at + MS >= at2,
                    "a sleep due {:?} later was woken {:?} earlier",
                    deadline - d2,
                    at2 - at
                );
            }
        }
        let late = all.iter().map(|w| w.resumed_at - w.deadline).max().unwrap();
        eprintln!(
            "{} of {SLEEPS} sleeps woken by the reactor (the rest were due at their first poll); \
             latest resume {late:?} after its deadline (not asserted)",
            woken.len()
        );
        assert!(!woken.is_empty(), "no sleep ever waited");
    });
}

/// Sleeps that can be dropped while the mock task that polled them lives
/// on: ready when all are.
struct Sleeps(Vec<Sleep>);

impl Future for Sleeps {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.retain_mut(|s| Pin::new(s).poll(cx).is_pending());
        if self.0.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn a_dropped_sleep_never_wakes_its_task() {
    watchdog("time_dropped_sleep", || {
        // The tests of this binary take turns: no other timer comes or
        // goes meanwhile.
        let reactor = gort_reactor::__netpoll::Reactor::get();
        let before = reactor.timers_waiting();
        for n in [1, 1000] {
            let sleeps = (1..=n).map(|i| sleep(MS * 20 + Duration::from_micros(i * 10)));
            let mut task = tokio_test::task::spawn(Sleeps(sleeps.collect()));
            assert!(task.poll().is_pending());
            assert_eq!(
                task.waker_ref_count(),
                1 + n as usize,
                "the wheel holds the wakers"
            );
            assert_eq!(reactor.timers_waiting(), before + n as usize);
            task.0.clear(); // drops the sleeps: cancels the timers
            assert_eq!(task.waker_ref_count(), 1, "the wheel let go of the wakers");
            assert_eq!(
                reactor.timers_waiting(),
                before,
                "cancelled timers left behind"
            );
            std::thread::sleep(MS * 50);
            assert!(!task.is_woken(), "a cancelled timer woke its task");
        }

        // A sleep that does fire, for contrast, with the same machinery.
        let mut fired = tokio_test::task::spawn(sleep(5 * MS));
        assert!(fired.poll().is_pending());
        while !fired.is_woken() {
            std::thread::sleep(MS); // the watchdog catches a timer that never fires
        }
        assert!(fired.poll().is_ready());
        assert_eq!(fired.waker_ref_count(), 1);
        assert_eq!(reactor.timers_waiting(), before);
    });
}

#[test]
fn timeout_elapses_and_drops_the_inner_future() {
    on_gort("time_timeout", || async {
        let dropped = counter();
        let guard = DropGuard(dropped.clone());
        let start = Instant::now();
        let r = timeout(10 * MS, async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        })
        .await;
        assert_eq!(
            r.map_err(|e: Elapsed| e.to_string()),
            Err("deadline has elapsed".into())
        );
        assert!(
            start.elapsed() >= 10 * MS,
            "elapsed early: {:?}",
            start.elapsed()
        );
        assert_eq!(dropped.load(SeqCst), 1, "the inner future was not dropped");

        // A future that completes first: its output, and the timer goes.
        let dropped = counter();
        let guard = DropGuard(dropped.clone());
        let r = timeout(Duration::from_secs(60), async move {
            let _guard = guard;
            sleep(2 * MS).await;
            7
        })
        .await;
        assert_eq!(r, Ok(7));
        assert_eq!(dropped.load(SeqCst), 1);

        // As an io::Error: TimedOut.
        let e: std::io::Error = timeout(MS, std::future::pending::<()>())
            .await
            .unwrap_err()
            .into();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    });
}

/// How many whole periods from `start` to `at`.
fn on_grid_floor(at: Instant, start: Instant, period: Duration) -> u32 {
    ((at - start).as_nanos() / period.as_nanos()) as u32
}

/// `k` for a tick at `start + k * period`; fails if `at` is off that grid.
fn on_grid(at: Instant, start: Instant, period: Duration) -> u32 {
    let k = on_grid_floor(at, start, period);
    assert_eq!(at - start, period * k, "a tick off the grid");
    k
}

/// Load for the interval test: both workers busy with tasks that compute
/// and yield often, and one task that blocks its worker for 30 ms at a
/// time, until `stop` is set.
fn spawn_load(stop: &Arc<AtomicBool>) -> Vec<gort::JoinHandle<u64>> {
    let mut load = Vec::new();
    for t in 0..4u64 {
        let stop = stop.clone();
        load.push(gort::spawn(async move {
            let mut x = t;
            while !stop.load(SeqCst) {
                for _ in 0..20_000 {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                }
                gort::yield_now().await;
            }
            x
        }));
    }
    let stop = stop.clone();
    load.push(gort::spawn(async move {
        let mut blocked = 0;
        while !stop.load(SeqCst) && blocked < 5 {
            std::thread::sleep(30 * MS);
            blocked += 1;
            gort::yield_now().await;
        }
        blocked
    }));
    load
}

#[test]
fn an_interval_keeps_its_period_under_load() {
    const PERIOD: Duration = Duration::from_millis(10);
    const TICKS: u32 = 20;
    on_gort("time_interval_load", || async {
        let stop = Arc::new(AtomicBool::new(false));
        let load = spawn_load(&stop);
        let t0 = Instant::now();
        let start = t0 + PERIOD; // as `interval(PERIOD)` would start
        let burst = gort::spawn(async move {
            let mut iv = interval_at(start, PERIOD);
            iv.set_missed_tick_behavior(MissedTickBehavior::Burst);
            for k in 0..TICKS {
                let at = iv.tick().await;
                let now = Instant::now();
                assert_eq!(at, start + PERIOD * k, "Burst tick {k}");
                assert!(now >= at, "Burst tick {k} returned {:?} early", at - now);
            }
        });
        let skip = gort::spawn(async move {
            let mut iv = interval_at(start, PERIOD);
            assert_eq!(iv.period(), PERIOD);
            let mut last_k: Option<u32> = None;
            let mut ticks = 0;
            while last_k.is_none_or(|k| k < TICKS - 1) {
                let at = iv.tick().await;
                let now = Instant::now();
                assert!(now >= at, "Skip tick returned {:?} early", at - now);
                let k = on_grid(at, start, PERIOD);
                assert!(
                    last_k.is_none_or(|l| k > l),
                    "Skip tick {k} after {last_k:?}"
                );
                last_k = Some(k);
                ticks += 1;
            }
            ticks
        });
        burst.await.unwrap();
        let skip_ticks = skip.await.unwrap();
        let total = t0.elapsed();
        stop.store(true, SeqCst);
        for l in load {
            l.await.unwrap();
        }
        assert!(total >= PERIOD * TICKS, "20 ticks in {total:?}");
        eprintln!("under load: 20 ticks in {total:?}; Skip ticked {skip_ticks} times");
    });
}

#[test]
fn skip_returns_the_missed_tick_at_once_then_realigns_to_the_grid() {
    const PERIOD: Duration = Duration::from_millis(10);
    on_gort("time_interval_skip", || async {
        let start = Instant::now();
        let mut iv = interval_at(start, PERIOD);
        sleep_until(start + 55 * MS).await;
        // 55 ms late: the missed tick (at start) is ready on the first poll.
        let missed = iv.tick().now_or_never();
        assert_eq!(missed, Some(start), "the missed tick, at once");
        let next = iv.tick().await;
        let after = Instant::now();
        assert!(after >= next, "returned {:?} early", next - after);
        // The first multiple of the period after the moment the late tick
        // was taken (at least 55 ms after start, at most `after`).
        let k = on_grid(next, start, PERIOD);
        assert!(k >= 6, "k = {k}: a tick in the past");
        assert!(
            k <= on_grid_floor(after, start, PERIOD) + 1,
            "k = {k}: skipped too far"
        );
    });
}

#[cfg(target_os = "linux")]
#[test]
fn a_sleep_on_an_idle_runtime_ends_a_blocked_turn_through_the_wake_up_timer() {
    on_gort("time_wake_up_timer", || async {
        let reactor = gort_reactor::__netpoll::Reactor::get();
        assert!(reactor.has_wake_timer(), "no timerfd on Linux");
        let before = reactor.precise_wakeups();
        let mut sleeps = 0;
        // Half a millisecond off a whole one: epoll's timeout, in whole
        // milliseconds rounded up, would end the wait 0.5 ms after the
        // timerfd.
        while reactor.precise_wakeups() == before && sleeps < 50 {
            sleep(Duration::from_micros(2_500)).await;
            sleeps += 1;
        }
        assert!(
            reactor.precise_wakeups() > before,
            "{sleeps} sleeps ended without the wake-up timer"
        );
    });
}

/// A behaviour bound, not a timing test: the 2 s are counted on the
/// scheduled instants the ticks return, and 1,900 leaves a 5% margin for
/// a busy machine (a wake-up more than `LATE_TICK` late does skip ticks).
#[test]
fn a_1ms_interval_on_an_idle_runtime_keeps_nearly_every_tick() {
    const PERIOD: Duration = Duration::from_millis(1);
    const RUN: Duration = Duration::from_secs(2);
    on_gort("time_interval_1ms", || async {
        let mut iv = interval(PERIOD);
        let first = iv.tick().await;
        let end = first + RUN;
        let mut ticks = 1u32;
        loop {
            let at = iv.tick().await;
            if at >= end {
                break;
            }
            ticks += 1;
        }
        eprintln!("a 1 ms interval: {ticks} ticks in {RUN:?}");
        assert!(
            ticks >= 1_900,
            "{ticks} ticks of a 1 ms interval in {RUN:?}"
        );
    });
}

#[test]
fn the_first_interval_tick_comes_one_period_after_creation() {
    on_gort("time_interval_first", || async {
        let before = Instant::now();
        let mut iv = interval(5 * MS);
        let first = iv.tick().await;
        assert!(first >= before + 5 * MS);
        assert!(Instant::now() >= first);
        // The next on the grid (a later multiple if the first was late).
        let since = iv.tick().await - first;
        assert!(
            since >= 5 * MS && since.as_nanos() % (5 * MS).as_nanos() == 0,
            "{since:?}"
        );
    });
}

#[test]
fn sleeps_across_wheel_levels_are_never_early() {
    // Level 0 holds the next 64 ms; later deadlines wait in level-1 slots
    // (64 ms wide) and move down when their slot comes.
    on_gort("time_wheel_levels", || async {
        let lens_ms = [1u64, 63, 64, 65, 127, 128, 129, 200, 255, 256, 257, 300];
        let handles: Vec<_> = lens_ms
            .iter()
            .flat_map(|&ms| {
                [0u64, 250, 999].map(move |us| MS * ms as u32 + Duration::from_micros(us))
            })
            .map(|len| {
                let s = sleep(len);
                let deadline = s.deadline();
                gort::spawn(async move {
                    let woken_at = Stamped::new(s).await;
                    (len, deadline, woken_at, Instant::now())
                })
            })
            .collect();
        for h in handles {
            let (len, deadline, woken_at, resumed_at) = h.await.unwrap();
            let woken_at = woken_at.unwrap_or_else(|| panic!("the {len:?} sleep was never woken"));
            assert!(
                woken_at >= deadline,
                "{len:?}: woken {:?} early",
                deadline - woken_at
            );
            assert!(resumed_at >= deadline);
        }
    });
}

#[test]
fn a_reset_sleep_waits_for_its_new_deadline() {
    on_gort("time_sleep_reset", || async {
        // Earlier: a pending 60 s sleep moved to 5 ms from now.
        let mut s = sleep(Duration::from_secs(60));
        assert!(futures::poll!(&mut s).is_pending());
        let new = Instant::now() + 5 * MS;
        s.reset(new);
        assert_eq!(s.deadline(), new);
        (&mut s).await;
        assert!(Instant::now() >= new);
        assert!(s.is_elapsed());

        // Later: a pending 2 ms sleep moved to 30 ms from now must not end
        // at its old deadline.
        let mut s = sleep(2 * MS);
        let _ = futures::poll!(&mut s); // registers it (unless already due)
        let new = Instant::now() + 30 * MS;
        s.reset(new);
        assert!(!s.is_elapsed());
        (&mut s).await;
        let now = Instant::now();
        assert!(now >= new, "ended {:?} before its new deadline", new - now);

        // Reset after completion: it waits again.
        let new = Instant::now() + 3 * MS;
        s.reset(new);
        (&mut s).await;
        assert!(Instant::now() >= new);
    });
}

/// `MissedTickBehavior::Delay` is documented as "the schedule restarts
/// from the late tick: the next is one period after it". Here the first
/// tick (due at `start`) is taken about 6 ms late; the next tick must then
/// come a period after that (about `start` + 16 ms), not back on the old
/// grid (`start` + 10 ms).
#[test]
fn delay_restarts_the_schedule_from_a_late_tick() {
    const PERIOD: Duration = Duration::from_millis(10);
    on_gort("time_interval_delay", || async {
        let start = Instant::now() + PERIOD;
        let mut iv = interval_at(start, PERIOD);
        iv.set_missed_tick_behavior(MissedTickBehavior::Delay);
        sleep_until(start + 6 * MS).await;
        let late = Instant::now();
        assert_eq!(
            iv.tick().now_or_never(),
            Some(start),
            "the late tick, at once"
        );
        let next = iv.tick().await;
        assert!(
            next >= late + PERIOD,
            "Delay: the tick after one taken {:?} late is due {:?} after it, \
             less than a period",
            late - start,
            next.saturating_duration_since(late)
        );
    });
}

/// Durations near `Duration::MAX` neither panic nor stall the timer wheel
/// (a far deadline inserted after the wheel had moved made its advance
/// loop forever, and `interval(Duration::MAX)` overflowed an `Instant`).
#[test]
fn huge_durations_neither_panic_nor_stall_timers() {
    on_gort("time_huge_durations", || async {
        // Move this thread's timer wheel past 0 first.
        sleep(2 * MS).await;
        let mut far = Box::pin(sleep(Duration::MAX));
        assert!(futures::poll!(far.as_mut()).is_pending());
        let mut ticker = interval(Duration::MAX);
        assert!(futures::poll!(Box::pin(ticker.tick())).is_pending());
        assert_eq!(timeout(Duration::MAX, async { 1 }).await, Ok(1));
        // Ordinary timers still fire: the wheel advances past the far one.
        for _ in 0..3 {
            let start = Instant::now();
            sleep(3 * MS).await;
            assert!(start.elapsed() >= 3 * MS);
        }
        assert!(futures::poll!(far.as_mut()).is_pending());
    });
}
