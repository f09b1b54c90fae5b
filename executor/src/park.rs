//! Parking a worker thread (Go's `notesleep`/`notewakeup` on an M).
//!
//! A `Parker` is a one-token semaphore: `unpark` leaves a token (at most
//! one), `park` consumes it, blocking until there is one. A token left
//! before `park` makes `park` return at once, so an unpark racing a park is
//! never lost. A parking worker that holds the right to turn the reactor
//! ([`Turn`]) sleeps in the reactor instead (`park_turning`), and `unpark`
//! then ends the turn.

use std::time::Duration;

use crate::loom::atomic::{AtomicUsize, Ordering::*};
use crate::loom::{lock, Condvar, Mutex};
use crate::netpoll::{self, Turn};
use crate::worker::Worker;

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;
/// Blocked in the reactor as its driver: `unpark` wakes the reactor.
const IN_REACTOR: usize = 3;

/// A one-token semaphore for one thread.
pub(crate) struct Parker {
    state: AtomicUsize,
    mutex: Mutex<()>,
    condvar: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Self {
        Parker {
            state: AtomicUsize::new(EMPTY),
            mutex: Mutex::new(()),
            condvar: Condvar::new(),
        }
    }

    /// Blocks until a token is available (or `timeout` passes), then takes it.
    pub(crate) fn park(&self, timeout: Option<Duration>) {
        // Fast path: a token is waiting.
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return;
        }
        let mut guard = lock(&self.mutex);
        match self.state.compare_exchange(EMPTY, PARKED, SeqCst, SeqCst) {
            Ok(_) => {}
            Err(NOTIFIED) => {
                // Unparked between the fast path and the lock.
                self.state.store(EMPTY, SeqCst);
                return;
            }
            Err(s) => unreachable!("parker in state {s} while its owner parks"),
        }
        loop {
            guard = match timeout {
                #[cfg(not(loom))]
                Some(d) => {
                    let (g, res) = self
                        .condvar
                        .wait_timeout(guard, d)
                        .unwrap_or_else(|e| e.into_inner());
                    if res.timed_out() {
                        // Leave: take a token if one arrived meanwhile.
                        self.state.store(EMPTY, SeqCst);
                        return;
                    }
                    g
                }
                _ => self.condvar.wait(guard).unwrap_or_else(|e| e.into_inner()),
            };
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
                .is_ok()
            {
                return;
            }
            // Spurious wakeup: wait again.
        }
    }

    /// As [`park`](Self::park), but waiting in a turn of the reactor
    /// (Go's `findrunnable` ending in a blocking `netpoll`): I/O events and
    /// timers wake their tasks onto `worker`'s ring. Returns after a token,
    /// an event, a timer or `timeout`; `true` if the turn woke any task.
    pub(crate) fn park_turning(
        &self,
        turn: Turn,
        worker: &Worker,
        timeout: Option<Duration>,
    ) -> bool {
        match self
            .state
            .compare_exchange(EMPTY, IN_REACTOR, SeqCst, SeqCst)
        {
            Ok(_) => {}
            Err(NOTIFIED) => {
                self.state.store(EMPTY, SeqCst);
                return false;
            }
            Err(s) => unreachable!("parker in state {s} while its owner parks"),
        }
        // An unpark from here on wakes the reactor, so the turn returns.
        let woke = turn.run(worker, timeout);
        // Leave; a token that arrived meanwhile is taken (its wake-up
        // already ended the turn).
        self.state.swap(EMPTY, SeqCst);
        woke
    }

    /// Leaves a token and wakes the owner if it is parked.
    pub(crate) fn unpark(&self) {
        match self.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => {}
            IN_REACTOR => netpoll::wake(),
            PARKED => {
                // Take the lock so the notify cannot fall between the
                // owner's state check and its wait.
                drop(lock(&self.mutex));
                self.condvar.notify_one();
            }
            s => unreachable!("parker in state {s}"),
        }
    }
}
