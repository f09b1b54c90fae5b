//! The task state word: lifecycle flags and the reference count in one
//! `AtomicUsize`, so that every transition is a single atomic operation.
//!
//! Who holds a reference:
//! - the `Notified` handle sitting in a run queue (at most one at a time),
//!   which becomes the poller's reference while the task runs;
//! - the `JoinHandle`, while it lives;
//! - the registry (the "registry reference"), until the task completes:
//!   from the first poll on (`REGISTERED`) the walk over task memory
//!   (`registry.rs`) lists the task, and this reference is what keeps a
//!   task that nobody else can see alive for the dump and for the
//!   shutdown that cancels it;
//! - every `Waker` clone.
//!
//! Transitions return `#[must_use]` enums naming the caller's next step; the
//! bit logic stays here and the harness (`harness.rs`) only matches on the
//! result.

use crate::loom::atomic::{AtomicUsize, Ordering::*};

/// A poller owns the future (polling it or dropping it). Excludes `COMPLETE`.
pub(crate) const RUNNING: usize = 1 << 0;
/// The future is gone and the output slot holds what the `OUTPUT_*` bits
/// say. Set exactly once, by the poller, together with clearing `RUNNING`.
pub(crate) const COMPLETE: usize = 1 << 1;
/// A `Notified` reference exists (in a queue or about to be), or the task
/// was woken while `RUNNING` and the poller must schedule it again.
pub(crate) const NOTIFIED: usize = 1 << 2;
/// Abort or shutdown was requested; the next poller drops the future
/// instead of polling it.
pub(crate) const CANCELLED: usize = 1 << 3;
/// The `JoinHandle` is alive; while set the output belongs to it.
pub(crate) const JOIN_INTEREST: usize = 1 << 4;
/// The join waker slot holds a waker and belongs to the task side: the
/// `JoinHandle` may not touch the slot while this is set.
pub(crate) const JOIN_WAKER: usize = 1 << 5;
/// With `COMPLETE`: the output slot holds a panic payload.
pub(crate) const OUTPUT_PANIC: usize = 1 << 6;
/// With `COMPLETE`: the task was cancelled; the output slot is empty.
pub(crate) const OUTPUT_CANCELLED: usize = 1 << 7;

/// A worker polled the task: the registry's walk lists it and a shutdown
/// cancels it. Set by the first such poll (with `RUNNING`), never cleared.
pub(crate) const REGISTERED: usize = 1 << 8;

const REF_SHIFT: usize = 9;
/// One reference in the count held in the bits above the flags.
pub(crate) const REF_ONE: usize = 1 << REF_SHIFT;

/// A new task: scheduled (the `Notified` handed to the run queue), a
/// `JoinHandle` and the registry reference. Three references.
const INITIAL: usize = NOTIFIED | JOIN_INTEREST | (3 * REF_ONE);

/// A copy of the state word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Snapshot(pub(crate) usize);

impl Snapshot {
    pub(crate) fn has(self, bits: usize) -> bool {
        self.0 & bits == bits
    }
    pub(crate) fn is_idle(self) -> bool {
        self.0 & (RUNNING | COMPLETE) == 0
    }
    pub(crate) fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }
}

/// What the poller does after `transition_to_running`.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToRunning {
    /// Poll the future.
    Poll,
    /// Abort was requested before this poll: drop the future, complete as cancelled.
    Cancel,
    /// The task already completed (a shutdown got there first). The
    /// `Notified` reference was given back; nothing more to do.
    Done,
    /// As `Done`, and that was the last reference: deallocate.
    Dealloc,
}

/// What the poller does after the future returned `Pending`.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToIdle {
    /// Idle; the poller's reference was given back.
    Idle,
    /// Woken during the poll: the poller's reference becomes a `Notified`;
    /// schedule it again.
    Notified,
    /// Abort was requested during the poll: still `RUNNING`, drop the future.
    Cancel,
}

/// What a waker does after marking the task notified.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToNotified {
    /// Nothing: already queued, running (the poller will requeue) or complete.
    Nothing,
    /// Hand a `Notified` to the scheduler (the reference is already counted).
    Submit,
    /// The reference given up was the last one: deallocate.
    Dealloc,
}

/// The task's state word. `repr(transparent)`: the registry's walk reads
/// the first word of task memory as one (`registry.rs`).
#[repr(transparent)]
pub(crate) struct State(AtomicUsize);

impl State {
    pub(crate) fn new() -> Self {
        State(AtomicUsize::new(INITIAL))
    }

    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Acquire))
    }

    /// Runs `f` in a CAS loop; `f` returns the new word (or `None` to leave
    /// it) and the value the transition reports.
    #[inline]
    fn update<R>(&self, mut f: impl FnMut(Snapshot) -> (Option<usize>, R)) -> R {
        let mut cur = self.0.load(Acquire);
        loop {
            let (next, ret) = f(Snapshot(cur));
            let Some(next) = next else { return ret };
            match self.0.compare_exchange_weak(cur, next, AcqRel, Acquire) {
                Ok(_) => return ret,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Writes the initial word into a state whose memory a walk of task
    /// memory may be reading (`harness.rs`'s allocation): the fields
    /// before it are written, and this `Release` store publishes them to
    /// a walker that acquires the word.
    #[cfg(not(loom))]
    pub(crate) fn init(&self) {
        self.0.store(INITIAL, Release);
    }

    /// Called with a `Notified` reference by the poller that popped it;
    /// `register`: a worker's poll, which marks the task `REGISTERED`.
    pub(crate) fn transition_to_running(&self, register: bool) -> ToRunning {
        self.update(|s| {
            debug_assert!(s.has(NOTIFIED), "running a task that is not notified");
            if !s.is_idle() {
                // A shutdown claimed (and completes, or completed) the task
                // while it sat in a queue; only a shutdown can hold RUNNING
                // while a Notified exists. Drop our reference.
                debug_assert!(s.has(COMPLETE) || s.has(CANCELLED));
                let next = s.0 - REF_ONE;
                let ret = if Snapshot(next).ref_count() == 0 {
                    ToRunning::Dealloc
                } else {
                    ToRunning::Done
                };
                return (Some(next), ret);
            }
            // Our Notified reference becomes the poller's reference.
            let mut next = (s.0 & !NOTIFIED) | RUNNING;
            if register {
                next |= REGISTERED;
            }
            let ret = if s.has(CANCELLED) {
                ToRunning::Cancel
            } else {
                ToRunning::Poll
            };
            (Some(next), ret)
        })
    }

    /// Called by the poller after `Pending`.
    pub(crate) fn transition_to_idle(&self) -> ToIdle {
        self.update(|s| {
            debug_assert!(s.has(RUNNING));
            if s.has(CANCELLED) {
                // Keep RUNNING: the poller drops the future right now.
                return (None, ToIdle::Cancel);
            }
            if s.has(NOTIFIED) {
                // Woken while running: the poller's reference is the new
                // Notified; the count does not change.
                return (Some(s.0 & !RUNNING), ToIdle::Notified);
            }
            // The registry reference outlives this one, so the count stays > 0.
            debug_assert!(s.ref_count() >= 2);
            (Some((s.0 & !RUNNING) - REF_ONE), ToIdle::Idle)
        })
    }

    /// Marks the task complete with the given `OUTPUT_*` bits (or none for
    /// a value) and returns the state from before. One `fetch_xor`: the
    /// caller is `RUNNING`, so `RUNNING` flips off and `COMPLETE` on.
    pub(crate) fn transition_to_complete(&self, output_bits: usize) -> Snapshot {
        debug_assert_eq!(output_bits & !(OUTPUT_PANIC | OUTPUT_CANCELLED), 0);
        let prev = Snapshot(self.0.fetch_xor(RUNNING | COMPLETE | output_bits, AcqRel));
        debug_assert!(prev.has(RUNNING) && !prev.has(COMPLETE));
        prev
    }

    /// A walk of task memory (`registry.rs`) found this state word: takes
    /// a reference if the task is registered and not complete. The
    /// completer gives the registry reference back only after it set
    /// `COMPLETE`, so while the word says otherwise that reference is
    /// there: the count is not 0 and the task is alive. `false`: no
    /// reference taken, and the task must not be touched.
    pub(crate) fn ref_inc_if_registered(&self) -> bool {
        self.update(|s| {
            if s.0 & (REGISTERED | COMPLETE) != REGISTERED {
                return (None, false);
            }
            debug_assert!(s.ref_count() >= 1);
            (Some(s.0 + REF_ONE), true)
        })
    }

    /// `Waker::wake`: consumes the waker's reference.
    pub(crate) fn transition_to_notified_by_val(&self) -> ToNotified {
        self.update(|s| {
            if s.has(RUNNING) {
                // The poller requeues it; our reference is not needed.
                debug_assert!(s.ref_count() >= 2);
                (Some((s.0 | NOTIFIED) - REF_ONE), ToNotified::Nothing)
            } else if s.has(COMPLETE) || s.has(NOTIFIED) {
                let next = s.0 - REF_ONE;
                let ret = if Snapshot(next).ref_count() == 0 {
                    ToNotified::Dealloc
                } else {
                    ToNotified::Nothing
                };
                (Some(next), ret)
            } else {
                // Idle: the waker's reference becomes the Notified.
                (Some(s.0 | NOTIFIED), ToNotified::Submit)
            }
        })
    }

    /// `Waker::wake_by_ref`: takes a new reference only if it submits.
    /// On an already-notified task this is a single load.
    pub(crate) fn transition_to_notified_by_ref(&self) -> ToNotified {
        self.update(|s| {
            if s.has(COMPLETE) || s.has(NOTIFIED) {
                (None, ToNotified::Nothing)
            } else if s.has(RUNNING) {
                (Some(s.0 | NOTIFIED), ToNotified::Nothing)
            } else {
                (Some((s.0 | NOTIFIED) + REF_ONE), ToNotified::Submit)
            }
        })
    }

    /// `JoinHandle::abort`: returns `true` if the caller must submit a new
    /// `Notified` (already counted) so that a poller cancels the task.
    pub(crate) fn transition_to_notified_and_cancel(&self) -> bool {
        self.update(|s| {
            if s.has(CANCELLED) || s.has(COMPLETE) {
                (None, false)
            } else if s.has(RUNNING) {
                // The poller sees CANCELLED when the poll returns.
                (Some(s.0 | NOTIFIED | CANCELLED), false)
            } else if s.has(NOTIFIED) {
                // The poller that pops it cancels it.
                (Some(s.0 | CANCELLED), false)
            } else {
                (Some((s.0 | NOTIFIED | CANCELLED) + REF_ONE), true)
            }
        })
    }

    /// Shutdown: requests cancellation and, if nobody is polling the task,
    /// claims `RUNNING` so the caller drops the future. Returns whether the
    /// caller claimed it.
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        self.update(|s| {
            if s.is_idle() {
                (Some(s.0 | RUNNING | CANCELLED), true)
            } else if s.has(CANCELLED) {
                (None, false)
            } else {
                (Some(s.0 | CANCELLED), false)
            }
        })
    }

    /// The `JoinHandle` stored a waker in the empty slot and hands the slot
    /// to the task side. `Err` if the task completed meanwhile (the slot
    /// stays with the `JoinHandle`; read the output instead).
    pub(crate) fn set_join_waker(&self) -> Result<(), Snapshot> {
        self.update(|s| {
            debug_assert!(s.has(JOIN_INTEREST) && !s.has(JOIN_WAKER));
            if s.has(COMPLETE) {
                (None, Err(s))
            } else {
                (Some(s.0 | JOIN_WAKER), Ok(()))
            }
        })
    }

    /// The `JoinHandle` takes the slot back to replace the waker. `Err` if
    /// the task completed (the slot stays with the task side).
    pub(crate) fn unset_join_waker(&self) -> Result<(), Snapshot> {
        self.update(|s| {
            debug_assert!(s.has(JOIN_INTEREST) && s.has(JOIN_WAKER));
            if s.has(COMPLETE) {
                (None, Err(s))
            } else {
                (Some(s.0 & !JOIN_WAKER), Ok(()))
            }
        })
    }

    /// The completer woke the joiner and hands the slot back to the
    /// `JoinHandle`. Returns the state before: if `JOIN_INTEREST` is gone
    /// the handle was dropped meanwhile and the completer drops the waker.
    pub(crate) fn unset_join_waker_after_complete(&self) -> Snapshot {
        let prev = Snapshot(self.0.fetch_and(!JOIN_WAKER, AcqRel));
        debug_assert!(prev.has(COMPLETE) && prev.has(JOIN_WAKER));
        prev
    }

    /// The `JoinHandle` is dropped. Returns the state before: if it was
    /// `COMPLETE` the output belongs to the caller (drop it); otherwise the
    /// join waker slot does (the task will drop the output itself).
    pub(crate) fn unset_join_interest(&self) -> Snapshot {
        self.update(|s| {
            debug_assert!(s.has(JOIN_INTEREST));
            let next = if s.has(COMPLETE) {
                s.0 & !JOIN_INTEREST
            } else {
                s.0 & !(JOIN_INTEREST | JOIN_WAKER)
            };
            (Some(next), s)
        })
    }

    /// Takes one more reference (a waker clone, a submitted `Notified`).
    pub(crate) fn ref_inc(&self) {
        // Relaxed: the caller already holds a reference, so the task cannot
        // be freed concurrently (same reasoning as `Arc::clone`).
        let prev = self.0.fetch_add(REF_ONE, Relaxed);
        if prev > isize::MAX as usize {
            std::process::abort();
        }
    }

    /// Gives back `n` references; `true` if they were the last ones and the
    /// caller must deallocate.
    pub(crate) fn ref_dec(&self, n: usize) -> bool {
        let prev = Snapshot(self.0.fetch_sub(n * REF_ONE, AcqRel));
        debug_assert!(prev.ref_count() >= n, "task reference count underflow");
        prev.ref_count() == n
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn initial_state_is_notified_with_three_references() {
        let s = State::new().load();
        assert!(s.has(NOTIFIED | JOIN_INTEREST));
        assert!(s.is_idle());
        assert_eq!(s.ref_count(), 3);
    }

    #[test]
    fn wake_while_running_requeues_without_new_reference() {
        let state = State::new();
        assert_eq!(state.transition_to_running(false), ToRunning::Poll);
        state.ref_inc(); // a waker clone
        assert_eq!(state.transition_to_notified_by_val(), ToNotified::Nothing);
        assert_eq!(state.transition_to_idle(), ToIdle::Notified);
        assert_eq!(state.load().ref_count(), 3);
        assert!(state.load().has(NOTIFIED));
    }

    #[test]
    fn wake_by_ref_on_queued_task_changes_nothing() {
        let state = State::new();
        let before = state.load();
        assert_eq!(state.transition_to_notified_by_ref(), ToNotified::Nothing);
        assert_eq!(state.load(), before);
    }

    #[test]
    fn abort_of_idle_task_submits_once() {
        let state = State::new();
        assert_eq!(state.transition_to_running(false), ToRunning::Poll);
        assert_eq!(state.transition_to_idle(), ToIdle::Idle);
        assert!(state.transition_to_notified_and_cancel());
        assert!(!state.transition_to_notified_and_cancel());
        assert_eq!(state.transition_to_running(false), ToRunning::Cancel);
    }

    #[test]
    fn shutdown_claims_only_idle_tasks() {
        let state = State::new();
        assert!(state.transition_to_shutdown());
        assert!(!state.transition_to_shutdown());
        let prev = state.transition_to_complete(OUTPUT_CANCELLED);
        assert!(prev.has(JOIN_INTEREST));
        // The queued Notified finds it complete and just gives back its ref.
        assert_eq!(state.transition_to_running(false), ToRunning::Done);
    }

    #[test]
    fn only_registered_live_tasks_are_visited() {
        // Never polled by a worker: not visited.
        let state = State::new();
        assert!(!state.ref_inc_if_registered());
        assert_eq!(state.transition_to_running(false), ToRunning::Poll);
        assert_eq!(state.transition_to_idle(), ToIdle::Idle);
        assert!(!state.ref_inc_if_registered());

        // Registered: visited (a reference taken) until it completes.
        let state = State::new();
        assert_eq!(state.transition_to_running(true), ToRunning::Poll);
        assert_eq!(state.transition_to_idle(), ToIdle::Idle);
        assert!(state.ref_inc_if_registered());
        assert_eq!(state.load().ref_count(), 3, "join, registry, visit");
        assert!(state.transition_to_shutdown());
        let _ = state.transition_to_complete(OUTPUT_CANCELLED);
        assert!(!state.ref_inc_if_registered(), "visited after completing");
        // The completer gives back the poller's (the visit's, here) and
        // the registry's.
        assert!(!state.ref_dec(2));
        assert!(state.ref_dec(1), "the join reference, the last");
    }

    #[test]
    fn join_waker_slot_stays_with_task_after_completion() {
        let state = State::new();
        assert_eq!(state.transition_to_running(false), ToRunning::Poll);
        assert!(state.set_join_waker().is_ok());
        let prev = state.transition_to_complete(0);
        assert!(prev.has(JOIN_WAKER));
        assert!(state.unset_join_waker().is_err());
        assert!(state.unset_join_interest().has(COMPLETE));
    }
}
