//! Which processors are idle, and the protocol that wakes them without
//! lost wakeups and without a thundering herd (Go's "Worker thread
//! parking/unparking" in `proc.go`; tokio's `idle.rs`).
//!
//! One word counts workers *unparked* (running or searching) and, among
//! them, *searching* (looking for work to steal). The rules:
//!
//! 1. A producer that makes work visible to other processors (a push to
//!    the injector or to a local ring, never to a LIFO slot) then calls
//!    `worker_to_notify`: if someone is already searching, or nobody is
//!    parked, it does nothing (one load). Otherwise it wakes one parked
//!    worker, which starts out searching.
//! 2. At most half of the unparked workers search at once
//!    (`transition_worker_to_searching`).
//! 3. A searcher that finds work stops searching; if it was the last
//!    searcher it wakes another worker, who continues the search (the
//!    "spinning M" hand-off in Go's `resetspinning`).
//! 4. A worker about to park leaves the counts under the sleepers lock,
//!    then re-checks every queue and wakes a worker if it finds work. (Go
//!    and tokio re-check only in the last searcher; every parker does here,
//!    because without preemption a task left in a ring behind a long poll
//!    would wait for that poll.)
//!
//! Why no wakeup is lost: the producer does `push; fence(SeqCst); load
//! state`, the last searcher does `RMW state (SeqCst); fence; load queues`.
//! In the total order of SeqCst operations one of the two comes first:
//! either the producer sees the searcher gone (and wakes someone) or the
//! searcher's re-check sees the work.

use crate::loom::atomic::{AtomicUsize, Ordering::*};
use crate::loom::{lock, Mutex};

const UNPARKED_SHIFT: usize = 16;
const SEARCHING_MASK: usize = (1 << UNPARKED_SHIFT) - 1;
const UNPARKED_ONE: usize = 1 << UNPARKED_SHIFT;

/// Largest worker count the packed word supports.
pub(crate) const MAX_WORKERS: usize = SEARCHING_MASK;

pub(crate) struct Idle {
    /// `unparked << 16 | searching`.
    state: AtomicUsize,
    /// Indices of parked workers. The lock is taken only to park or wake.
    sleepers: Mutex<Vec<usize>>,
    num_workers: usize,
}

fn searching(state: usize) -> usize {
    state & SEARCHING_MASK
}

fn unparked(state: usize) -> usize {
    state >> UNPARKED_SHIFT
}

impl Idle {
    pub(crate) fn new(num_workers: usize) -> Self {
        assert!(num_workers > 0 && num_workers <= MAX_WORKERS);
        Idle {
            state: AtomicUsize::new(num_workers << UNPARKED_SHIFT),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            num_workers,
        }
    }

    /// Rule 1. Returns the index of a worker to unpark; the counts already
    /// include it as unparked and searching.
    /// The caller published its work and then issued a SeqCst fence
    /// (pairs with the fence a parking worker issues before its re-check).
    pub(crate) fn worker_to_notify_after_fence(&self) -> Option<usize> {
        if !self.notify_should_wake(self.state.load(SeqCst)) {
            return None;
        }
        let mut sleepers = lock(&self.sleepers);
        // Re-check under the lock: another producer may have woken someone.
        if !self.notify_should_wake(self.state.load(SeqCst)) {
            return None;
        }
        let worker = sleepers.pop()?;
        self.state.fetch_add(UNPARKED_ONE | 1, SeqCst);
        Some(worker)
    }

    fn notify_should_wake(&self, state: usize) -> bool {
        searching(state) == 0 && unparked(state) < self.num_workers
    }

    /// Rule 2. `true` if the caller may search.
    pub(crate) fn transition_worker_to_searching(&self) -> bool {
        let state = self.state.load(SeqCst);
        if 2 * searching(state) >= unparked(state) {
            return false;
        }
        // Racy by design (as Go's nmspinning): a few extra searchers are harmless.
        self.state.fetch_add(1, SeqCst);
        true
    }

    /// Rule 3. `true` if the caller was the last searcher and must wake
    /// another worker.
    pub(crate) fn transition_worker_from_searching(&self) -> bool {
        let prev = self.state.fetch_sub(1, SeqCst);
        debug_assert!(searching(prev) > 0);
        searching(prev) == 1
    }

    /// Rule 4. Records `worker` as parked. Returns `true` if it was the
    /// last searcher (reported in the park trace event). The caller
    /// re-checks all queues before sleeping whatever it returns (every
    /// parking worker does, see `Held::park` in worker.rs).
    pub(crate) fn transition_worker_to_parked(&self, worker: usize, is_searching: bool) -> bool {
        let mut sleepers = lock(&self.sleepers);
        let dec = UNPARKED_ONE + is_searching as usize;
        let prev = self.state.fetch_sub(dec, SeqCst);
        sleepers.push(worker);
        is_searching && searching(prev) == 1
    }

    /// A parked worker that found work itself (its reactor turn woke
    /// tasks) leaves the sleepers, counted as unparked and not searching.
    /// `false` if a notifier took it out first (then it is counted as
    /// searching already).
    pub(crate) fn unpark_self(&self, worker: usize) -> bool {
        let mut sleepers = lock(&self.sleepers);
        let Some(pos) = sleepers.iter().position(|&w| w == worker) else {
            return false;
        };
        sleepers.swap_remove(pos);
        self.state.fetch_add(UNPARKED_ONE, SeqCst);
        true
    }

    /// Whether every worker is parked (none running or searching).
    pub(crate) fn all_parked(&self) -> bool {
        unparked(self.state.load(SeqCst)) == 0
    }

    /// Whether no worker is parked or searching: every permit holder is
    /// running a task (sysmon's test before retaking a processor that has
    /// no queued work).
    pub(crate) fn none_idle(&self) -> bool {
        let state = self.state.load(SeqCst);
        searching(state) == 0 && unparked(state) == self.num_workers
    }

    /// Sysmon retook a running worker's permit and hands it to a spare:
    /// the stuck worker leaves the unparked count and the spare enters it,
    /// as a searcher (the count a notifier gives a worker it wakes).
    pub(crate) fn hand_off_permit(&self) {
        self.state.fetch_add(1, SeqCst);
    }

    /// `true` while `worker` is in the sleepers list (not yet notified).
    pub(crate) fn is_parked(&self, worker: usize) -> bool {
        lock(&self.sleepers).contains(&worker)
    }

    /// Takes every parked worker off the list (shutdown) and returns them.
    pub(crate) fn unpark_all(&self) -> Vec<usize> {
        let mut sleepers = lock(&self.sleepers);
        let all: Vec<usize> = std::mem::take(&mut *sleepers);
        self.state.fetch_add(all.len() * UNPARKED_ONE, SeqCst);
        all
    }
}
