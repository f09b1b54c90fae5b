//! Deadlock detection: Go's "fatal error: all goroutines are asleep -
//! deadlock!" (`checkdead`).
//!
//! A runtime is deadlocked when a thread waits in its `block_on` (the main
//! goroutine) and nothing can ever wake anything: every worker is parked,
//! no queue holds a task, no poll is running (not even one sysmon took the
//! permit from), the blocking pool runs and queues nothing, and the
//! reactor has no timer and no I/O source. All of this must hold for
//! [`GRACE`] with no worker waking meanwhile.
//!
//! The `block_on` thread asks when it is about to park, and again every
//! 250 ms while it waits. The last worker to park wakes the `block_on`
//! threads waiting on its runtime so they ask at once, unless the reactor
//! has a socket or a timer (then a task may still be woken, and when it
//! is, its worker parks again and asks again): a server that goes idle
//! between requests thousands of times a second does not wake its
//! `block_on` thread each time. The 250 ms round catches what ends
//! without a worker of this runtime parking: blocking work that wakes no
//! task, and the timers and sockets of another runtime (the reactor is
//! process-wide) or a socket closed by a plain thread. A thread that
//! suspects a deadlock parks for the grace period, then checks again.
//!
//! Go's rule is exact because Go owns every thread that can wake a
//! goroutine. A Rust program may have plain threads holding a channel's
//! sender: to gort they are invisible, and a task waiting for one of them
//! looks deadlocked. That is why [`OnDeadlock::Warn`] is the default for
//! `Builder` and `#[gort::main]` (a warning, and the program keeps
//! waiting), `#[gort::test]` uses [`OnDeadlock::Panic`], and
//! [`OnDeadlock::Ignore`] turns the check off.

use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::dump::Dump;
use crate::netpoll;
use crate::scheduler::{Scheduler, Shared};

/// How long a runtime must look deadlocked before it is reported. Long
/// enough for a wake already on its way (a thread between its channel
/// send and the unpark) to land; short enough that a deadlocked test
/// fails at once.
pub(crate) const GRACE: Duration = Duration::from_millis(50);

/// What a runtime does when it finds itself deadlocked (see
/// [`Builder::on_deadlock`](crate::runtime::Builder::on_deadlock)).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum OnDeadlock {
    /// The waiting `block_on` panics with "all goroutines are asleep -
    /// deadlock!" and the goroutine dump (`#[gort::test]`'s choice).
    Panic,
    /// The same text goes to stderr once, and the program keeps waiting
    /// (the default: a plain thread may still wake it).
    #[default]
    Warn,
    /// No check at all.
    Ignore,
}

/// A runtime's deadlock watch.
pub(crate) struct Deadlock {
    mode: OnDeadlock,
    /// A task's panic that no `JoinHandle` will see, for `block_on` to
    /// re-raise (`UnhandledPanic::ShutdownRuntime`).
    unhandled: Mutex<Option<Box<dyn std::any::Any + Send>>>,
    /// Set with `unhandled`; read without the lock.
    has_unhandled: AtomicBool,
    /// Threads waiting in this runtime's `block_on`, to wake for a check.
    waiters: Mutex<Vec<Thread>>,
    /// `waiters.len()`, read without the lock by every parking worker.
    waiting: AtomicUsize,
    /// Set once a warning was printed.
    warned: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Deadlock {
    pub(crate) fn new(mode: OnDeadlock) -> Self {
        Deadlock {
            mode,
            unhandled: Mutex::new(None),
            has_unhandled: AtomicBool::new(false),
            waiters: Mutex::new(Vec::new()),
            waiting: AtomicUsize::new(0),
            warned: AtomicBool::new(false),
        }
    }

    /// Keeps the first unhandled panic for the `block_on` threads, and
    /// wakes them to re-raise it.
    pub(crate) fn unhandled_panic(&self, payload: Box<dyn std::any::Any + Send>) {
        {
            let mut slot = lock(&self.unhandled);
            if slot.is_some() {
                return; // the first one wins; this one is dropped
            }
            *slot = Some(payload);
            self.has_unhandled.store(true, SeqCst);
        }
        for t in lock(&self.waiters).iter() {
            t.unpark();
        }
    }

    /// The unhandled panic, taken (one `block_on` re-raises it).
    fn take_unhandled(&self) -> Option<Box<dyn std::any::Any + Send>> {
        if !self.has_unhandled.load(SeqCst) {
            return None;
        }
        lock(&self.unhandled).take()
    }

    /// A parking worker that found every worker parked: wakes the
    /// `block_on` threads waiting on this runtime, if any, to check, unless
    /// a socket or a timer can still wake a task (Go's `checkdead` returns
    /// early for the same reasons). Such a runtime is not deadlocked, and
    /// whatever wakes its task ends with a worker parking again, which asks
    /// again here; so a busy server's workers do not wake its `block_on`
    /// thread each time they all go idle.
    pub(crate) fn last_worker_parked(&self, shared: &Shared) {
        if self.waiting.load(SeqCst) == 0 || self.mode == OnDeadlock::Ignore {
            return;
        }
        // A paused clock jumps to the next timer when everything is
        // parked: its `block_on` thread is the one that moves it.
        if shared.config.clock.is_none() && can_wake_later() {
            return;
        }
        for t in lock(&self.waiters).iter() {
            t.unpark();
        }
    }
}

/// Whether a socket or a timer of the reactor (or, with tokio-compat,
/// tokio's) may still wake a task.
fn can_wake_later() -> bool {
    #[cfg(all(feature = "tokio-compat", not(loom)))]
    if crate::tokio_compat::started() {
        return true;
    }
    netpoll::io_registrations() != 0 || netpoll::timers_pending() != 0
}

/// What the check found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Seen {
    /// A worker runs, a poll runs or a task is queued: the last worker to
    /// park wakes the waiting thread to ask again (or its next round does).
    Busy,
    /// The workers are parked, but blocking work, a timer or a socket may
    /// still wake something: ask again after `RECHECK` (a paused clock
    /// stands still while blocking work runs).
    Waiting,
    /// Nothing can wake anything; the workers' park count at the time (any
    /// worker that runs later parks again, and moves it).
    Asleep(u64),
}

/// How often a `block_on` thread asks again while it waits and nothing
/// looked deadlocked.
const RECHECK: Duration = Duration::from_millis(250);

/// How often a paused runtime's `block_on` thread asks again while
/// blocking work keeps its clock from moving.
const CLOCK_RECHECK: Duration = Duration::from_millis(1);

/// Who asks [`asleep`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    /// The deadlock check: the reactor's timers and sockets (and tokio's,
    /// with tokio-compat) may wake a task.
    Deadlock,
    /// A paused clock: whether the runtime's own work is all parked;
    /// sockets do not hold the clock back (as tokio's paused clock).
    Clock,
}

fn asleep(shared: &Shared, check: Check) -> Seen {
    if !shared.idle.all_parked() || shared.is_closed() {
        return Seen::Busy;
    }
    let mut parks = 0u64;
    for p in shared.processors.iter() {
        if !p.poll.is_idle() {
            return Seen::Busy;
        }
        parks = parks.wrapping_add(p.counters.parks.load(SeqCst));
    }
    if shared.has_work_anywhere() {
        return Seen::Busy;
    }
    let pool = shared.blocking.counts();
    if pool.threads != pool.idle || pool.queued != 0 {
        return Seen::Waiting;
    }
    if check == Check::Clock {
        return if shared.idle.all_parked() {
            Seen::Asleep(parks)
        } else {
            Seen::Busy
        };
    }
    // tokio's sockets and timers (the tokio-compat feature) can wake a
    // task too, and gort cannot see them.
    if can_wake_later() {
        return Seen::Waiting;
    }
    if !shared.idle.all_parked() {
        return Seen::Busy;
    }
    Seen::Asleep(parks)
}

/// A `block_on` thread's registration with its runtime's watch, for as
/// long as it waits on it.
pub(crate) struct Watch<'a> {
    scheduler: &'a Scheduler,
    /// Where `block_on` was called (the "main goroutine" of the report).
    caller: &'static Location<'static>,
    /// Reported (or warned) already: wait for good from now on.
    done: bool,
}

impl<'a> Watch<'a> {
    /// Registers the calling `block_on` thread: it is woken to re-raise an
    /// unhandled panic, and (unless the runtime ignores deadlocks) to
    /// check for a deadlock.
    pub(crate) fn start(scheduler: &'a Scheduler, caller: &'static Location<'static>) -> Watch<'a> {
        let d = &scheduler.shared().deadlock;
        lock(&d.waiters).push(std::thread::current());
        d.waiting.fetch_add(1, SeqCst);
        Watch {
            scheduler,
            caller,
            done: d.mode == OnDeadlock::Ignore,
        }
    }

    /// The `block_on` thread's park, with its future pending: until
    /// `woken` says the future was woken (the caller re-checks it), or
    /// the runtime is found deadlocked (`Panic`: this panics; `Warn`:
    /// prints, then waits for good).
    pub(crate) fn park(&mut self, woken: impl Fn() -> bool) {
        self.raise_unhandled();
        self.park_watching(woken);
        self.raise_unhandled();
    }

    /// Re-raises a task's panic that no `JoinHandle` saw
    /// (`UnhandledPanic::ShutdownRuntime`), if there is one.
    pub(crate) fn raise_unhandled(&self) {
        if let Some(payload) = self.scheduler.shared().deadlock.take_unhandled() {
            std::panic::resume_unwind(payload);
        }
    }

    fn park_watching(&mut self, woken: impl Fn() -> bool) {
        let shared = self.scheduler.shared();
        if let Some(clock) = &shared.config.clock {
            // The paused clock's question is the deadlock check's without
            // the grace period and without the reactor: is every task
            // parked? Then the clock jumps to the next deadline.
            match asleep(shared, Check::Clock) {
                Seen::Asleep(_) if clock.advance_to_next() => return,
                Seen::Waiting => {
                    // Blocking work runs: time stands still until it ends.
                    std::thread::park_timeout(CLOCK_RECHECK);
                    return;
                }
                _ => {}
            }
        }
        if self.done || shared.deadlock.has_unhandled.load(SeqCst) {
            std::thread::park();
            return;
        }
        let seen = match asleep(shared, Check::Deadlock) {
            // Timed in both cases: the reactor is process-wide, and the
            // last worker to park does not wake this thread while any
            // runtime's timer or socket is alive; those of another runtime
            // end without a worker of this one parking.
            Seen::Busy | Seen::Waiting => {
                std::thread::park_timeout(RECHECK);
                return;
            }
            seen @ Seen::Asleep(_) => seen,
        };
        let deadline = Instant::now() + GRACE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::park_timeout(left);
            if woken() || asleep(shared, Check::Deadlock) != seen {
                return;
            }
        }
        self.done = true;
        let report = format!(
            "all goroutines are asleep - deadlock!\n\nmain (block_on) [waiting]:\n    called at {}\n\n{}",
            self.caller,
            Dump::take(self.scheduler)
        );
        match shared.deadlock.mode {
            OnDeadlock::Panic => panic!("{report}"),
            OnDeadlock::Warn => {
                if !shared.deadlock.warned.swap(true, SeqCst) {
                    eprintln!("gort: {report}\n\n(the runtime keeps waiting: OnDeadlock::Warn)");
                }
            }
            OnDeadlock::Ignore => {}
        }
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        let d = &self.scheduler.shared().deadlock;
        let me = std::thread::current().id();
        let mut waiters = lock(&d.waiters);
        if let Some(i) = waiters.iter().position(|t| t.id() == me) {
            waiters.swap_remove(i);
        }
        d.waiting.fetch_sub(1, SeqCst);
    }
}
