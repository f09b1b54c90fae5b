//! The executor's one seam to the netpoller (gort-reactor's `Reactor`, Go's
//! `netpoll`). Every contact between the scheduler and the reactor goes
//! through here: a runtime starting or stopping, a turn of the reactor
//! (non-blocking from the run loop, blocking from a parking worker), and
//! waking the thread blocked in a turn, and firing due timers while
//! another thread holds the turn.
//!
//! A turn runs on a worker whose processor is lent to its thread, and the
//! tasks it wakes are scheduled onto that processor's ring
//! (`Worker::schedule` while the worker's `driving` flag is set);
//! [`Turn::run`] sets and clears the flag and returns whether the turn woke
//! any task.
//!
//! Under loom and miri there is no reactor (loom cannot model it; under
//! miri its process-lifetime thread would outlive every test): [`try_turn`]
//! never grants a turn and the rest does nothing.

use std::time::Duration;

#[cfg(not(any(loom, miri)))]
use gort_reactor::__netpoll::{Driver, Reactor};

use crate::worker::Worker;

/// The right to turn the reactor, held by one thread at a time (the
/// reactor's poll lock).
pub(crate) struct Turn {
    #[cfg(not(any(loom, miri)))]
    driver: Driver<'static>,
}

/// Takes the right to turn the reactor, unless another thread holds it.
pub(crate) fn try_turn() -> Option<Turn> {
    #[cfg(not(any(loom, miri)))]
    {
        Reactor::get().try_drive().map(|driver| Turn { driver })
    }
    #[cfg(any(loom, miri))]
    {
        None
    }
}

impl Turn {
    /// Turns the reactor once on `worker`'s thread, waiting at most
    /// `timeout` for an event or timer (`Some(Duration::ZERO)`: not at
    /// all; `None`: until one comes or [`wake`] is called). The tasks it
    /// wakes go to `worker`'s ring. `true` if it woke any.
    pub(crate) fn run(self, worker: &Worker, timeout: Option<Duration>) -> bool {
        #[cfg(not(any(loom, miri)))]
        {
            let mut driver = self.driver;
            worker.driving.set(true);
            worker.driving_woke.set(false);
            let traced = crate::trace::on().then(std::time::Instant::now);
            driver.turn(timeout);
            if let Some(start) = traced {
                crate::trace::turn(start);
            }
            worker.driving.set(false);
            worker.driving_woke.get()
        }
        #[cfg(any(loom, miri))]
        {
            let _ = (worker, timeout);
            false
        }
    }
}

/// Fires the timers due now on `worker`'s thread without a turn (another
/// thread holds the right to turn, and may be blocked in it or not yet
/// running again); the tasks they wake go to `worker`'s ring, as a turn's.
/// `true` if it woke any.
pub(crate) fn fire_timers(worker: &Worker) -> bool {
    #[cfg(not(any(loom, miri)))]
    {
        worker.driving.set(true);
        worker.driving_woke.set(false);
        Reactor::get().fire_due_timers();
        worker.driving.set(false);
        worker.driving_woke.get()
    }
    #[cfg(any(loom, miri))]
    {
        let _ = worker;
        false
    }
}

/// Ends a blocking turn early (an event the turn waits for).
pub(crate) fn wake() {
    #[cfg(not(any(loom, miri)))]
    Reactor::get().wake();
}

/// A runtime started: from now on its idle workers turn the reactor.
pub(crate) fn runtime_started() {
    #[cfg(not(any(loom, miri)))]
    Reactor::get().runtime_started();
}

/// A runtime stopped: if it was the last, the reactor's own thread takes
/// over the turning.
pub(crate) fn runtime_stopped() {
    #[cfg(not(any(loom, miri)))]
    Reactor::get().runtime_stopped();
}

/// Timers waiting in the reactor (process-wide: the reactor is shared by
/// every runtime). 0 under loom and miri.
pub(crate) fn timers_pending() -> usize {
    #[cfg(not(any(loom, miri)))]
    {
        Reactor::get().timers_waiting()
    }
    #[cfg(any(loom, miri))]
    {
        0
    }
}

/// I/O operations queued on their sources (process-wide). 0 under loom
/// and miri.
pub(crate) fn io_waiters() -> usize {
    #[cfg(not(any(loom, miri)))]
    {
        Reactor::get().io_waiters()
    }
    #[cfg(any(loom, miri))]
    {
        0
    }
}

/// Live I/O registrations in the reactor (process-wide). 0 under loom and
/// miri.
pub(crate) fn io_registrations() -> usize {
    #[cfg(not(any(loom, miri)))]
    {
        Reactor::get().io_registrations()
    }
    #[cfg(any(loom, miri))]
    {
        0
    }
}
