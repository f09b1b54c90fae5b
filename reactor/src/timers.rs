//! The reactor's timers: [`TIMER_SHARDS`] timer wheels, and the protocol
//! that keeps a blocked driver from sleeping past a new timer.
//!
//! # Shards
//!
//! Timers live in [`TIMER_SHARDS`] wheels, each behind its own lock; a
//! thread inserts into the shard it was given on first use (Go keeps a
//! timer heap per P for the same reason: one shared wheel's lock was a
//! fifth of the samples with two workers creating timeouts). Each shard
//! publishes its earliest deadline in an atomic.
//!
//! # Timers and the blocked driver
//!
//! Before blocking, the driver publishes the tick it will wake at
//! (`driver_wakes_at`, [`Timers::driver_blocks`]), then looks at the
//! shards' earliest deadlines once more; an inserter publishes its shard's
//! new earliest deadline, then reads `driver_wakes_at` and wakes the driver
//! if its timer is earlier ([`Reactor::insert_timer`]). Both sides use
//! `SeqCst`, so at least one of them sees the other: a new short timer is
//! never delayed by a long `epoll_wait`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::driver::Reactor;
use crate::sync::lock;
use crate::wheel::{TimerKey, TimerState, Wheel};

/// Timer wheels (see the module docs). A power of two.
const TIMER_SHARDS: usize = 8;

/// `driver_wakes_at` while nobody is blocked in the reactor.
const NOT_BLOCKED: u64 = 0;
/// `driver_wakes_at` while the driver blocks without a timeout.
const BLOCKED_FOREVER: u64 = u64::MAX;

/// One timer wheel and its earliest deadline, on its own cache lines.
#[repr(align(128))]
struct TimerShard {
    wheel: Mutex<Wheel>,
    /// The earliest tick a timer of this shard may fire at (`u64::MAX`:
    /// none). Lowered on insert; recomputed when the driver advances.
    next: AtomicU64,
}

impl TimerShard {
    /// Publishes (and returns) the wheel's earliest deadline.
    fn publish_next(&self, wheel: &Wheel) -> u64 {
        let next = wheel.next_deadline().unwrap_or(u64::MAX);
        self.next.store(next, Ordering::SeqCst);
        next
    }
}

/// The shard of timers inserted by this thread.
fn my_shard() -> usize {
    use std::cell::Cell;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    SHARD
        .try_with(|s| {
            if s.get() == usize::MAX {
                s.set(NEXT.fetch_add(1, Ordering::Relaxed) % TIMER_SHARDS);
            }
            s.get()
        })
        .unwrap_or(0)
}

/// A timer: its shard and its key there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerRef {
    shard: usize,
    key: TimerKey,
}

/// The reactor's timers: the shards, the tick the blocked driver wakes at,
/// and the instant ticks count from.
pub(crate) struct Timers {
    shards: Box<[TimerShard]>,
    /// The tick at which the blocked driver wakes (see module docs).
    driver_wakes_at: AtomicU64,
    base: Instant,
}

impl Timers {
    pub(crate) fn new() -> Timers {
        Timers {
            shards: (0..TIMER_SHARDS)
                .map(|_| TimerShard {
                    wheel: Mutex::new(Wheel::new()),
                    next: AtomicU64::new(u64::MAX),
                })
                .collect(),
            driver_wakes_at: AtomicU64::new(NOT_BLOCKED),
            base: Instant::now(),
        }
    }

    /// `instant` as a tick, rounded up (a timer never fires early).
    fn deadline_tick(&self, instant: Instant) -> u64 {
        let d = instant.saturating_duration_since(self.base);
        let ms = d.as_millis();
        let ms = if d > Duration::from_millis(ms as u64) {
            ms + 1
        } else {
            ms
        };
        u64::try_from(ms).unwrap_or(u64::MAX)
    }

    /// `instant` as a tick, rounded down.
    fn now_tick(&self, instant: Instant) -> u64 {
        u64::try_from(instant.saturating_duration_since(self.base).as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn tick_instant(&self, tick: u64) -> Instant {
        self.base + Duration::from_millis(tick)
    }

    /// Inserts a timer into this thread's shard; `true` with it if the
    /// blocked driver must be woken for it (module docs).
    fn insert(&self, deadline: Instant, waker: Waker) -> (TimerRef, bool) {
        let tick = self.deadline_tick(deadline);
        let shard = my_shard();
        let t = &self.shards[shard];
        let key = {
            let mut wheel = lock(&t.wheel);
            let key = wheel.insert(tick, waker);
            t.next.fetch_min(tick, Ordering::SeqCst);
            key
        };
        // Pairs with the driver's re-check (module docs).
        let wakes_at = self.driver_wakes_at.load(Ordering::SeqCst);
        // Only one wake per earlier deadline.
        let wake = tick < wakes_at
            && self
                .driver_wakes_at
                .compare_exchange(wakes_at, NOT_BLOCKED, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok();
        (TimerRef { shard, key }, wake)
    }

    fn poll(&self, timer: TimerRef, waker: &Waker) -> TimerState {
        let (state, old) = lock(&self.shards[timer.shard].wheel).poll(timer.key, waker);
        // After the lock: see `Wheel::poll`.
        drop(old);
        state
    }

    fn remove(&self, timer: TimerRef) {
        let waker = lock(&self.shards[timer.shard].wheel).remove(timer.key);
        drop(waker);
    }

    /// Timers waiting, over all shards.
    fn len(&self) -> usize {
        self.shards.iter().map(|t| lock(&t.wheel).len()).sum()
    }

    /// Fires every timer due at `now` (onto `fired`); the earliest tick a
    /// remaining timer may fire at.
    pub(crate) fn advance(&self, now: Instant, fired: &mut Vec<Waker>) -> Option<u64> {
        let now_tick = self.now_tick(now);
        let mut next = u64::MAX;
        for t in self.shards.iter() {
            let mut shard_next = t.next.load(Ordering::SeqCst);
            if shard_next <= now_tick {
                let mut wheel = lock(&t.wheel);
                wheel.advance(now_tick, fired);
                shard_next = t.publish_next(&wheel);
            }
            next = next.min(shard_next);
        }
        (next != u64::MAX).then_some(next)
    }

    /// The earliest deadline published by any shard.
    fn earliest(&self) -> Option<u64> {
        let next = self
            .shards
            .iter()
            .map(|t| t.next.load(Ordering::SeqCst))
            .min()
            .unwrap_or(u64::MAX);
        (next != u64::MAX).then_some(next)
    }

    /// The driver is about to block until `until` (`None`: no timeout):
    /// publishes the tick it will wake at, then looks at the shards again
    /// (module docs). The earliest deadline, if it is before that tick: a
    /// timer inserted before the publication, which may have missed it.
    pub(crate) fn driver_blocks(&self, until: Option<Instant>) -> Option<u64> {
        let wakes_at = match until {
            Some(t) => self.now_tick(t).max(1),
            None => BLOCKED_FOREVER,
        };
        self.driver_wakes_at.store(wakes_at, Ordering::SeqCst);
        self.earliest().filter(|&earliest| earliest < wakes_at)
    }

    /// The driver is out of `epoll_wait`.
    pub(crate) fn driver_unblocked(&self) {
        self.driver_wakes_at.store(NOT_BLOCKED, Ordering::SeqCst);
    }
}

impl Reactor {
    pub(crate) fn insert_timer(&self, deadline: Instant, waker: Waker) -> TimerRef {
        let (timer, wake) = self.timers.insert(deadline, waker);
        if wake {
            self.wake();
        }
        timer
    }

    pub(crate) fn poll_timer(&self, timer: TimerRef, waker: &Waker) -> TimerState {
        self.timers.poll(timer, waker)
    }

    pub(crate) fn remove_timer(&self, timer: TimerRef) {
        self.timers.remove(timer);
    }

    /// Timers waiting: started (`sleep`, `timeout`, `interval` ticks),
    /// not yet fired or dropped.
    pub fn timers_waiting(&self) -> usize {
        self.timers.len()
    }
}
