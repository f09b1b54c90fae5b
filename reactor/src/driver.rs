//! The reactor (Go's netpoller): one per process, over `mio::Poll`, with
//! the timer wheel.
//!
//! # Who drives it
//!
//! *Driving* is one turn: fire due timers, block in `epoll_wait` until an
//! event, the next timer or a wake-up, then dispatch the events. One thread
//! at a time drives (the `poll` lock; `try_drive` never waits for it).
//!
//! - An idle gort worker drives, blocking with its park timeout (Go's
//!   `findrunnable` ending in a blocking `netpoll`). The executor wakes it
//!   with [`Reactor::wake`] (a `mio::Waker`) when work arrives. A worker
//!   that runs tasks never holds the lock.
//! - A busy worker takes a non-blocking turn every 61st poll (with the
//!   injector check), if nobody is driving: I/O and timers keep flowing
//!   while every worker has work (tokio's maintenance tick).
//! - The `gort-netpoll` thread covers the rest. With no gort runtime alive
//!   (gort's reactor under tokio, `futures::executor`, a plain thread) it is
//!   the driver and blocks in the reactor. With a runtime alive it is Go's
//!   `sysmon`: it sleeps (1 to 10 ms, backing off), and if nobody turned
//!   the reactor during a whole sleep (every worker stuck inside one long
//!   poll), it takes one non-blocking turn, so I/O and timers never wait
//!   behind long-running tasks for more than about twice [`SYSMON_MAX`].
//!
//! # Timers and the blocked driver
//!
//! Timers live in [`TIMER_SHARDS`] wheels, each behind its own lock; a
//! thread inserts into the shard it was given on first use (Go keeps a
//! timer heap per P for the same reason: one shared wheel's lock was a
//! fifth of the samples with two workers creating timeouts). Each shard
//! publishes its earliest deadline in an atomic.
//!
//! Before blocking, the driver publishes the tick it will wake at
//! (`driver_wakes_at`), then looks at the shards' earliest deadlines once
//! more; an inserter publishes its shard's new earliest deadline, then
//! reads `driver_wakes_at` and wakes the driver if its timer is earlier.
//! Both sides use `SeqCst`, so at least one of them sees the other: a new
//! short timer is never delayed by a long `epoll_wait`.

use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::Waker;
use std::thread::Thread;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use crate::io::{IoSlab, IoState};
use crate::wheel::{TimerKey, TimerState, Wheel};

/// The token of the reactor's own `mio::Waker`.
const WAKE_TOKEN: Token = Token(usize::MAX);

/// Events taken per turn.
const EVENTS_CAPACITY: usize = 1024;

/// The longest the sysmon sleeps between looks while a runtime is alive.
pub const SYSMON_MAX: Duration = Duration::from_millis(10);
/// The shortest: while it keeps having to turn the reactor itself, it
/// halves its sleep down to this.
const SYSMON_MIN: Duration = Duration::from_millis(1);

/// `driver_wakes_at` while nobody is blocked in the reactor.
const NOT_BLOCKED: u64 = 0;
/// `driver_wakes_at` while the driver blocks without a timeout.
const BLOCKED_FOREVER: u64 = u64::MAX;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics with these locks held halfway through an update.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Timer wheels (see the module docs). A power of two.
pub const TIMER_SHARDS: usize = 8;

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

/// The process's reactor. Obtained with [`Reactor::get`].
pub struct Reactor {
    /// The driver lock: whoever holds it may turn the reactor.
    poll: Mutex<(Poll, Events)>,
    registry: mio::Registry,
    waker: mio::Waker,
    pub(crate) ios: Mutex<IoSlab>,
    timers: Box<[TimerShard]>,
    /// The tick at which the blocked driver wakes (see module docs).
    driver_wakes_at: AtomicU64,
    base: Instant,
    /// Turns taken so far.
    turns: AtomicU64,
    /// Live gort runtimes (their idle workers drive).
    runtimes: AtomicUsize,
    netpoll_thread: OnceLock<Thread>,
}

static REACTOR: OnceLock<Reactor> = OnceLock::new();

impl Reactor {
    /// The process's reactor, created (with its `gort-netpoll` thread) on
    /// first use.
    ///
    /// # Panics
    ///
    /// If the OS refuses an epoll instance or an eventfd (out of file
    /// descriptors at the first use): nothing of `gort::net` or
    /// `gort::time` can work then.
    pub fn get() -> &'static Reactor {
        let reactor = REACTOR.get_or_init(|| {
            Reactor::new().unwrap_or_else(|e| panic!("gort: cannot create the reactor: {e}"))
        });
        reactor.start_netpoll_thread();
        reactor
    }

    fn new() -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(poll.registry(), WAKE_TOKEN)?;
        Ok(Reactor {
            poll: Mutex::new((poll, Events::with_capacity(EVENTS_CAPACITY))),
            registry,
            waker,
            ios: Mutex::new(IoSlab::new()),
            timers: (0..TIMER_SHARDS)
                .map(|_| TimerShard {
                    wheel: Mutex::new(Wheel::new()),
                    next: AtomicU64::new(u64::MAX),
                })
                .collect(),
            driver_wakes_at: AtomicU64::new(NOT_BLOCKED),
            base: Instant::now(),
            turns: AtomicU64::new(0),
            runtimes: AtomicUsize::new(0),
            netpoll_thread: OnceLock::new(),
        })
    }

    fn start_netpoll_thread(&'static self) {
        if self.netpoll_thread.get().is_some() {
            return;
        }
        self.netpoll_thread.get_or_init(|| {
            std::thread::Builder::new()
                .name("gort-netpoll".to_string())
                .spawn(move || self.netpoll_loop())
                .expect("gort: cannot start the gort-netpoll thread")
                .thread()
                .clone()
        });
    }

    /// The `gort-netpoll` thread (see the module docs).
    fn netpoll_loop(&'static self) {
        let mut last_turns = u64::MAX;
        let mut sleep = SYSMON_MIN;
        loop {
            if self.runtimes.load(Ordering::Acquire) == 0 {
                // The only driver: block in the reactor.
                let mut guard = self.drive();
                guard.turn(None);
                continue;
            }
            std::thread::park_timeout(sleep);
            let turns = self.turns.load(Ordering::Acquire);
            let mut turned = false;
            if turns == last_turns {
                // Nobody turned it for a whole sleep: every worker is stuck
                // in a long poll (busy workers turn it every 61 polls).
                if let Some(mut guard) = self.try_drive() {
                    guard.turn(Some(Duration::ZERO));
                    turned = true;
                }
            }
            last_turns = self.turns.load(Ordering::Acquire);
            sleep = if turned {
                (sleep / 2).max(SYSMON_MIN)
            } else {
                (sleep * 2).min(SYSMON_MAX)
            };
        }
    }

    /// A gort runtime started: its idle workers drive from now on, and the
    /// `gort-netpoll` thread becomes the sysmon.
    pub fn runtime_started(&self) {
        self.runtimes.fetch_add(1, Ordering::AcqRel);
        // Out of a blocking turn, to switch modes.
        self.wake();
    }

    /// A gort runtime stopped (pairs with [`runtime_started`](Self::runtime_started)).
    pub fn runtime_stopped(&self) {
        if self.runtimes.fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Some(t) = self.netpoll_thread.get() {
                t.unpark();
            }
        }
    }

    /// Becomes the driver, waiting for the current one to finish its turn.
    fn drive(&self) -> Driver<'_> {
        Driver {
            reactor: self,
            poll: lock(&self.poll),
        }
    }

    /// Becomes the driver if nobody is driving.
    pub fn try_drive(&self) -> Option<Driver<'_>> {
        let poll = match self.poll.try_lock() {
            Ok(p) => p,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        Some(Driver {
            reactor: self,
            poll,
        })
    }

    /// Interrupts a driver blocked in the reactor (or makes its next turn
    /// return at once).
    pub fn wake(&self) {
        if let Err(e) = self.waker.wake() {
            tracing::warn!(target: "gort::reactor", "waking the reactor failed: {e}");
        }
    }

    /// Turns taken so far (for tests and the sysmon).
    pub fn turns(&self) -> u64 {
        self.turns.load(Ordering::Acquire)
    }

    // ----- time -----

    /// `instant` as a tick, rounded up (a timer never fires early).
    pub(crate) fn deadline_tick(&self, instant: Instant) -> u64 {
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

    fn tick_instant(&self, tick: u64) -> Instant {
        self.base + Duration::from_millis(tick)
    }

    pub(crate) fn insert_timer(&self, deadline: Instant, waker: Waker) -> TimerRef {
        let tick = self.deadline_tick(deadline);
        let shard = my_shard();
        let t = &self.timers[shard];
        let key = {
            let mut wheel = lock(&t.wheel);
            let key = wheel.insert(tick, waker);
            t.next.fetch_min(tick, Ordering::SeqCst);
            key
        };
        // Pairs with the driver's re-check (module docs).
        let wakes_at = self.driver_wakes_at.load(Ordering::SeqCst);
        if tick < wakes_at
            && self
                .driver_wakes_at
                .compare_exchange(wakes_at, NOT_BLOCKED, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            // Only one wake per earlier deadline.
            self.wake();
        }
        TimerRef { shard, key }
    }

    pub(crate) fn poll_timer(&self, timer: TimerRef, waker: &Waker) -> TimerState {
        let (state, old) = lock(&self.timers[timer.shard].wheel).poll(timer.key, waker);
        // After the lock: see `Wheel::poll`.
        drop(old);
        state
    }

    pub(crate) fn remove_timer(&self, timer: TimerRef) {
        let waker = lock(&self.timers[timer.shard].wheel).remove(timer.key);
        drop(waker);
    }

    /// Timers waiting (for tests).
    pub fn timers_waiting(&self) -> usize {
        self.timers.iter().map(|t| lock(&t.wheel).len()).sum()
    }

    /// Fires every timer due at `now` (onto `fired`); the earliest tick a
    /// remaining timer may fire at.
    fn advance_timers(&self, now: Instant, fired: &mut Vec<Waker>) -> Option<u64> {
        let now_tick = self.now_tick(now);
        let mut next = u64::MAX;
        for t in self.timers.iter() {
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
    fn earliest_timer(&self) -> Option<u64> {
        let next = self
            .timers
            .iter()
            .map(|t| t.next.load(Ordering::SeqCst))
            .min()
            .unwrap_or(u64::MAX);
        (next != u64::MAX).then_some(next)
    }

    // ----- I/O -----

    pub(crate) fn register(
        &self,
        source: &mut impl mio::event::Source,
        interest: Interest,
    ) -> io::Result<(usize, Arc<IoState>)> {
        let (token, state) = lock(&self.ios).insert();
        if let Err(e) = self.registry.register(source, Token(token), interest) {
            lock(&self.ios).remove(token);
            return Err(e);
        }
        Ok((token, state))
    }

    pub(crate) fn deregister(&self, source: &mut impl mio::event::Source, token: usize) {
        // The source is closed right after; an error here changes nothing.
        let _ = self.registry.deregister(source);
        lock(&self.ios).remove(token);
    }
}

/// The right to turn the reactor (see [`Reactor::try_drive`]).
pub struct Driver<'a> {
    reactor: &'a Reactor,
    poll: MutexGuard<'a, (Poll, Events)>,
}

impl Driver<'_> {
    /// One turn: fires due timers, waits for I/O events until `timeout`,
    /// the next timer or [`Reactor::wake`] (no longer than `timeout`;
    /// `None`: no limit), then dispatches them and fires the timers due by
    /// then. Wakers run on this thread.
    pub fn turn(&mut self, timeout: Option<Duration>) {
        let r = self.reactor;
        let mut wakers = Vec::new();
        let now = Instant::now();
        let next = r.advance_timers(now, &mut wakers);
        let to_deadline = |tick: u64| r.tick_instant(tick).saturating_duration_since(now);
        let mut timeout = match (timeout, next.map(to_deadline)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if !wakers.is_empty() {
            // Tasks just became runnable: do not sleep on them.
            timeout = Some(Duration::ZERO);
        }
        if timeout != Some(Duration::ZERO) {
            let wakes_at = match timeout {
                Some(d) => r.now_tick(now + d).max(1),
                None => BLOCKED_FOREVER,
            };
            r.driver_wakes_at.store(wakes_at, Ordering::SeqCst);
            // A timer inserted before the store above may have missed it:
            // look again (module docs).
            if let Some(earliest) = r.earliest_timer() {
                if earliest < wakes_at {
                    timeout = Some(to_deadline(earliest));
                }
            }
        }
        wakers.drain(..).for_each(Waker::wake);

        let (poll, events) = &mut *self.poll;
        if let Err(e) = poll.poll(events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                tracing::warn!(target: "gort::reactor", "epoll_wait failed: {e}");
            }
            events.clear();
        }
        r.driver_wakes_at.store(NOT_BLOCKED, Ordering::SeqCst);
        r.turns.fetch_add(1, Ordering::AcqRel);

        // Dispatch: look every token up once, under the slab lock; wake
        // after releasing it.
        let mut ready = Vec::new();
        {
            let ios = lock(&r.ios);
            for ev in events.iter() {
                if ev.token() == WAKE_TOKEN {
                    continue;
                }
                if let Some(state) = ios.get(ev.token().0) {
                    ready.push((state, crate::io::Ready::from_event(ev)));
                }
            }
        }
        for (state, readiness) in ready {
            state.set_ready(readiness, &mut wakers);
        }
        r.advance_timers(Instant::now(), &mut wakers);
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("turns", &self.turns())
            .field("runtimes", &self.runtimes.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Driver<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}
