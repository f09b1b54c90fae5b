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
//! Under miri there is no reactor (its process-lifetime thread would
//! outlive every test): [`try_turn`] never grants a turn and the rest does
//! nothing. Under loom, which cannot model epoll, a stand-in takes its
//! place (`model`, below): a turn lock, a wake flag and a list of ready
//! wakers that a model fills in place of I/O events; a model that does
//! not switch it on gets no turn, as under miri.

use std::time::Duration;

#[cfg(not(any(loom, miri)))]
use gort_reactor::__netpoll::{Driver, Reactor};

use crate::worker::Worker;

/// The right to turn the reactor, held by one thread at a time (the
/// reactor's poll lock).
pub(crate) struct Turn {
    #[cfg(not(any(loom, miri)))]
    driver: Driver<'static>,
    #[cfg(loom)]
    _turn: model::Held,
}

/// Takes the right to turn the reactor, unless another thread holds it.
pub(crate) fn try_turn() -> Option<Turn> {
    #[cfg(not(any(loom, miri)))]
    {
        Reactor::get().try_drive().map(|driver| Turn { driver })
    }
    #[cfg(loom)]
    {
        model::REACTOR.try_turn().map(|_turn| Turn { _turn })
    }
    #[cfg(all(miri, not(loom)))]
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
            driving(worker, || {
                let traced = crate::trace::on().then(std::time::Instant::now);
                driver.turn(timeout);
                if let Some(start) = traced {
                    crate::trace::turn(start);
                }
            })
        }
        #[cfg(loom)]
        {
            driving(worker, || {
                for waker in model::REACTOR.turn(timeout) {
                    waker.wake();
                }
            })
        }
        #[cfg(all(miri, not(loom)))]
        {
            let _ = (worker, timeout);
            false
        }
    }
}

/// Runs `wake_tasks` (a turn, or the due timers) with `worker` marked as
/// driving, so that the tasks it wakes go to `worker`'s ring; `true` if it
/// woke any.
#[cfg(any(loom, not(miri)))]
fn driving(worker: &Worker, wake_tasks: impl FnOnce()) -> bool {
    worker.driving.set(true);
    worker.driving_woke.set(false);
    wake_tasks();
    worker.driving.set(false);
    worker.driving_woke.get()
}

/// Fires the timers due now on `worker`'s thread without a turn (another
/// thread holds the right to turn, and may be blocked in it or not yet
/// running again); the tasks they wake go to `worker`'s ring, as a turn's.
/// `true` if it woke any.
pub(crate) fn fire_timers(worker: &Worker) -> bool {
    #[cfg(not(any(loom, miri)))]
    {
        driving(worker, || {
            Reactor::get().fire_due_timers();
        })
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
    #[cfg(loom)]
    model::REACTOR.wake();
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

/// The reactor's stand-in under loom: what the scheduler sees of the
/// reactor, and nothing else. One thread at a time holds the turn (the
/// reactor's poll lock); a blocking turn waits until a model delivers an
/// event ([`Reactor::ready`], a waker the turn wakes, as an I/O event
/// would) or until [`wake`](super::wake); a wake that finds no blocking
/// turn makes the next turn return at once, as the reactor's does. No
/// timers: `fire_timers` wakes nothing. One per loom execution (a loom
/// `lazy_static`).
#[cfg(loom)]
pub(crate) mod model {
    use std::task::Waker;
    use std::time::Duration;

    use crate::loom::atomic::{AtomicBool, Ordering::*};
    use crate::loom::{lock, Condvar, Mutex};

    pub(crate) struct Reactor {
        /// Switched on by a model that uses the reactor; until then no turn
        /// is granted. A std atomic: written before the worker threads
        /// start, it needs no modelling.
        on: std::sync::atomic::AtomicBool,
        /// The right to turn.
        turning: AtomicBool,
        events: Mutex<Events>,
        /// A blocking turn waits here.
        ready_cv: Condvar,
    }

    struct Events {
        /// A wake not yet seen by a turn.
        woken: bool,
        /// Wakers of "I/O events" not yet taken by a turn.
        ready: Vec<Waker>,
    }

    /// The turn, held: dropping it lets the next thread turn.
    pub(crate) struct Held(());

    impl Drop for Held {
        fn drop(&mut self) {
            REACTOR.turning.store(false, Release);
        }
    }

    loom::lazy_static! {
        pub(crate) static ref REACTOR: Reactor = Reactor {
            on: std::sync::atomic::AtomicBool::new(false),
            turning: AtomicBool::new(false),
            events: Mutex::new(Events { woken: false, ready: Vec::new() }),
            ready_cv: Condvar::new(),
        };
    }

    impl Reactor {
        /// From now on idle workers turn the stand-in. Call before the
        /// worker threads start.
        #[cfg(test)]
        pub(crate) fn switch_on(&self) {
            self.on.store(true, std::sync::atomic::Ordering::Relaxed);
        }

        /// An I/O event for `waker`: the next turn wakes it.
        #[cfg(test)]
        pub(crate) fn ready(&self, waker: Waker) {
            lock(&self.events).ready.push(waker);
            self.ready_cv.notify_one();
        }

        pub(super) fn try_turn(&self) -> Option<Held> {
            if !self.on.load(std::sync::atomic::Ordering::Relaxed) {
                return None;
            }
            self.turning
                .compare_exchange(false, true, Acquire, Relaxed)
                .ok()
                .map(|_| Held(()))
        }

        /// One turn: the wakers of the events ready, waiting for one or a
        /// wake if `timeout` is `None` (any other timeout: not waiting).
        pub(super) fn turn(&self, timeout: Option<Duration>) -> Vec<Waker> {
            let mut events = lock(&self.events);
            while timeout.is_none() && !events.woken && events.ready.is_empty() {
                events = self.ready_cv.wait(events).unwrap();
            }
            events.woken = false;
            std::mem::take(&mut events.ready)
        }

        pub(super) fn wake(&self) {
            lock(&self.events).woken = true;
            self.ready_cv.notify_one();
        }

        /// Drops the wakers of events no turn took: a model calls it
        /// before its execution ends, so that no task is freed while
        /// loom drops the execution's statics (the task allocator's list
        /// among them).
        #[cfg(test)]
        pub(crate) fn drop_ready(&self) {
            let ready = std::mem::take(&mut lock(&self.events).ready);
            drop(ready);
        }
    }
}
