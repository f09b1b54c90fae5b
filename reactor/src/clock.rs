//! The virtual clock of a paused runtime (Go's `testing/synctest` bubble,
//! tokio's `start_paused`).
//!
//! A runtime built with `start_paused(true)` owns a [`Clock`]. Its worker
//! threads, and its `block_on` while it polls, have the clock *entered*
//! ([`enter`]): a [`sleep`](crate::time::sleep), `timeout` or `interval`
//! created there reads its deadline from the clock and waits in the
//! clock's own timer list, not in the reactor's wheels. The clock does not
//! move by itself: the runtime makes it jump to the next deadline when
//! every task is parked ([`Clock::advance_to_next`]), and
//! [`time::advance`](crate::time::advance) moves it by hand. Other threads,
//! and so other runtimes, keep real time.
//!
//! The clock's instants are `std::time::Instant`s on a timeline of their
//! own: it starts at the real instant the clock was made and advances only
//! as said. [`time::now`](crate::time::now) reads it where it is entered
//! (and reads the real clock elsewhere); `Instant::now()` always reads the
//! real one.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::sync::lock;

/// A virtual clock and the timers waiting on it.
pub struct Clock {
    inner: Mutex<Inner>,
}

struct Inner {
    now: Instant,
    /// Waiting timers by (deadline, id): the first entry is the next due.
    timers: BTreeMap<(Instant, u64), Waker>,
    next_id: u64,
}

impl Clock {
    /// A clock standing at the real instant now.
    pub fn new() -> Arc<Clock> {
        Arc::new(Clock {
            inner: Mutex::new(Inner {
                now: Instant::now(),
                timers: BTreeMap::new(),
                next_id: 0,
            }),
        })
    }

    /// The clock's time.
    pub fn now(&self) -> Instant {
        lock(&self.inner).now
    }

    /// Timers waiting on the clock.
    pub fn timers(&self) -> usize {
        lock(&self.inner).timers.len()
    }

    /// Jumps to the earliest waiting deadline (if it is later than now)
    /// and fires every timer due then; `false` if no timer waits.
    pub fn advance_to_next(&self) -> bool {
        let wakers = {
            let mut inner = lock(&self.inner);
            let Some(&(next, _)) = inner.timers.keys().next() else {
                return false;
            };
            inner.now = inner.now.max(next);
            inner.fire_due()
        };
        wakers.into_iter().for_each(Waker::wake);
        true
    }

    /// Moves the clock `d` forward, firing every timer due by then.
    pub fn advance(&self, d: Duration) {
        let wakers = {
            let mut inner = lock(&self.inner);
            inner.now = crate::time::later(inner.now, d);
            inner.fire_due()
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Registers a timer for `deadline`, or (`id` given and still waiting)
    /// updates its waker; returns its id, or `None` if `deadline` has
    /// passed (nothing registered).
    pub(crate) fn wait(&self, deadline: Instant, id: Option<u64>, waker: &Waker) -> Option<u64> {
        let mut inner = lock(&self.inner);
        if inner.now >= deadline {
            if let Some(id) = id {
                inner.timers.remove(&(deadline, id));
            }
            return None;
        }
        if let Some(w) = id.and_then(|id| inner.timers.get_mut(&(deadline, id))) {
            if !w.will_wake(waker) {
                *w = waker.clone();
            }
            return id;
        }
        let id = inner.next_id;
        inner.next_id += 1;
        inner.timers.insert((deadline, id), waker.clone());
        Some(id)
    }

    /// Forgets a timer (its future was dropped or reset).
    pub(crate) fn remove(&self, deadline: Instant, id: u64) {
        lock(&self.inner).timers.remove(&(deadline, id));
    }
}

impl Inner {
    /// Takes out the timers due at `now`.
    fn fire_due(&mut self) -> Vec<Waker> {
        let mut fired = Vec::new();
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            fired.push(entry.remove());
        }
        fired
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = lock(&self.inner);
        f.debug_struct("Clock")
            .field("now", &inner.now)
            .field("timers", &inner.timers.len())
            .finish()
    }
}

thread_local! {
    /// The clock entered on this thread, if any.
    static CURRENT: RefCell<Option<Arc<Clock>>> = const { RefCell::new(None) };
}

/// Makes `clock` this thread's clock until the guard drops (the previous
/// one, if any, comes back then).
pub fn enter(clock: Arc<Clock>) -> ClockGuard {
    let previous = CURRENT.with(|c| c.borrow_mut().replace(clock));
    ClockGuard { previous }
}

/// The thread's clock, if one is entered.
pub(crate) fn current() -> Option<Arc<Clock>> {
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// Restores the previous clock when dropped (see [`enter`]).
#[must_use = "the clock is entered only while the guard lives"]
pub struct ClockGuard {
    previous: Option<Arc<Clock>>,
}

impl Drop for ClockGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
    }
}

impl std::fmt::Debug for ClockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClockGuard").finish_non_exhaustive()
    }
}
