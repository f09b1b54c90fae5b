//! The reactor (Go's netpoller): one per process, over `mio::Poll`, with
//! the timer wheels of `timers.rs`, and the `gort-netpoll` thread.
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
//!   the driver and blocks in the reactor. With a runtime alive it is the
//!   fallback driver: it sleeps (1 to 10 ms, backing off), and if nobody
//!   turned the reactor during a whole sleep (every worker inside a long
//!   poll), it takes one non-blocking turn, so I/O and timers never wait
//!   behind long-running tasks for more than about twice [`FALLBACK_MAX`].
//! - A busy worker that finds another thread holding the turn fires the
//!   due timers itself ([`Reactor::fire_due_timers`]).

use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::Waker;
use std::thread::Thread;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use crate::io::{IoSlab, IoState};
use crate::sync::lock;
use crate::timers::Timers;
use crate::wake_timer::{WakeTimer, TIMER_TOKEN};

/// The token of the reactor's own `mio::Waker`.
const WAKE_TOKEN: Token = Token(usize::MAX);

/// Events taken per turn.
const EVENTS_CAPACITY: usize = 1024;

/// The longest the fallback driver sleeps between looks while a runtime
/// is alive.
const FALLBACK_MAX: Duration = Duration::from_millis(10);
/// The shortest: while it keeps having to turn the reactor itself, it
/// halves its sleep down to this.
const SYSMON_MIN: Duration = Duration::from_millis(1);

/// The process's reactor. Obtained with [`Reactor::get`].
pub struct Reactor {
    /// The driver lock: whoever holds it may turn the reactor.
    poll: Mutex<(Poll, Events, WakeTimer)>,
    registry: mio::Registry,
    waker: mio::Waker,
    pub(crate) ios: Mutex<IoSlab>,
    pub(crate) timers: Timers,
    /// Turns taken so far.
    turns: AtomicU64,
    /// Turns the wake-up timer ended (`wake_timer.rs`).
    precise_wakeups: AtomicU64,
    /// Whether the driver has a wake-up timer.
    has_wake_timer: bool,
    /// Live gort runtimes (their idle workers drive).
    runtimes: AtomicUsize,
    netpoll_thread: OnceLock<Thread>,
}

/// The process's reactor, on cache lines of its own (aligned and padded
/// to 128 bytes): the driver lock's word and the turn counter are written
/// by whichever worker turns it, and no other static (the task id
/// counter, in one build) should share their lines.
#[repr(align(128))]
struct Lines(OnceLock<Reactor>);

static REACTOR: Lines = Lines(OnceLock::new());

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
        let reactor = REACTOR.0.get_or_init(|| {
            Reactor::new().unwrap_or_else(|e| panic!("gort: cannot create the reactor: {e}"))
        });
        reactor.start_netpoll_thread();
        reactor
    }

    fn new() -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(poll.registry(), WAKE_TOKEN)?;
        let wake_timer = WakeTimer::new(poll.registry());
        let has_wake_timer = wake_timer.is_enabled();
        Ok(Reactor {
            poll: Mutex::new((poll, Events::with_capacity(EVENTS_CAPACITY), wake_timer)),
            registry,
            waker,
            ios: Mutex::new(IoSlab::new()),
            timers: Timers::new(),
            turns: AtomicU64::new(0),
            precise_wakeups: AtomicU64::new(0),
            has_wake_timer,
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
                (sleep * 2).min(FALLBACK_MAX)
            };
        }
    }

    /// A gort runtime started: its idle workers drive from now on, and the
    /// `gort-netpoll` thread becomes the fallback driver.
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

    /// Fires the timers due now without turning the reactor and without
    /// its poll lock (each timer shard has its own lock): for a busy
    /// worker whose non-blocking turn found the lock held by another
    /// thread, which may be blocked in `epoll_wait`, or woken but not yet
    /// running again, with the lock held. The wakers run on this thread;
    /// `true` if any fired.
    pub fn fire_due_timers(&self) -> bool {
        let mut wakers = Vec::new();
        self.timers.advance(Instant::now(), &mut wakers);
        let fired = !wakers.is_empty();
        wakers.into_iter().for_each(Waker::wake);
        fired
    }

    /// Turns that the wake-up timer ended: a timer's tick came while the
    /// driver was blocked (0 where there is no timerfd).
    pub fn precise_wakeups(&self) -> u64 {
        self.precise_wakeups.load(Ordering::Relaxed)
    }

    /// Whether a timerfd wakes the driver at the nearest timer's tick
    /// (Linux and Android, unless the kernel refused one).
    pub fn has_wake_timer(&self) -> bool {
        self.has_wake_timer
    }

    /// Turns taken so far.
    fn turns(&self) -> u64 {
        self.turns.load(Ordering::Acquire)
    }

    // ----- I/O -----

    pub(crate) fn register(
        &self,
        source: &mut impl mio::event::Source,
        interest: Interest,
        on_event: Option<crate::io::OnEvent>,
    ) -> io::Result<(usize, Arc<IoState>)> {
        let (token, state) = lock(&self.ios).insert(on_event);
        if let Err(e) = self.registry.register(source, Token(token), interest) {
            lock(&self.ios).remove(token);
            return Err(e);
        }
        Ok((token, state))
    }

    /// Live I/O registrations (sockets and listeners of `gort::net`).
    pub fn io_registrations(&self) -> usize {
        lock(&self.ios).len()
    }

    /// `async fn` operations waiting in the queues of live registrations.
    pub fn io_waiters(&self) -> usize {
        lock(&self.ios).waiters()
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
    poll: MutexGuard<'a, (Poll, Events, WakeTimer)>,
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
        let mut next = r.timers.advance(now, &mut wakers);
        let to_deadline = |tick: u64| r.timers.tick_instant(tick).saturating_duration_since(now);
        let mut timeout = match (timeout, next.map(to_deadline)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if !wakers.is_empty() {
            // Tasks just became runnable: do not sleep on them.
            timeout = Some(Duration::ZERO);
        }
        if timeout != Some(Duration::ZERO) {
            // Publish when this turn wakes; a timer inserted before that
            // may have missed it and shortens the wait (`timers.rs`).
            if let Some(earliest) = r.timers.driver_blocks(timeout.map(|d| now + d)) {
                timeout = Some(to_deadline(earliest));
                next = Some(earliest);
            }
        }
        wakers.drain(..).for_each(Waker::wake);

        let (poll, events, wake_timer) = &mut *self.poll;
        // A timer ends this wait: wake at its tick, not at epoll's next
        // whole millisecond (`wake_timer.rs`).
        if let (Some(tick), Some(wait)) = (next, timeout) {
            let at = r.timers.tick_instant(tick);
            if !wait.is_zero() && now + wait >= at {
                wake_timer.arm(at);
            }
        }
        if let Err(e) = poll.poll(events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                tracing::warn!(target: "gort::reactor", "epoll_wait failed: {e}");
            }
            events.clear();
        }
        r.timers.driver_unblocked();
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
                if ev.token() == TIMER_TOKEN {
                    wake_timer.fired();
                    r.precise_wakeups.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if let Some(state) = ios.get(ev.token().0) {
                    ready.push((state, crate::io::Ready::from_event(ev)));
                }
            }
        }
        for (state, readiness) in &ready {
            state.set_ready(*readiness, &mut wakers);
        }
        // Watched sources' functions (signals, child exits), with no
        // reactor lock held: they may register or deregister sources.
        for (state, _) in ready.iter().filter(|(s, _)| s.has_on_event()) {
            state.run_on_event();
        }
        drop(ready);
        r.timers.advance(Instant::now(), &mut wakers);
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
