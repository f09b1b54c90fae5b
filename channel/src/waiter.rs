//! Waiters: the parked half of a channel operation (Go's `sudog`).
//!
//! A waiter lives inside the future of a pending `send`/`recv`, or on the
//! stack of a thread blocked in `send_blocking`/`recv_blocking`, so parking
//! allocates nothing. The channel links waiters into intrusive FIFO queues
//! (`WaitQueue`), one for receivers and one for senders.
//!
//! # Invariants
//!
//! - Every field except `state` is touched only under the channel's lock.
//! - A waiter is linked into at most one queue, and only while its state is
//!   [`WaitState::Waiting`]. Whoever moves it out of `Waiting` (a
//!   counterpart completing it, or `close`) unlinks it first, under the
//!   lock.
//! - The counterpart takes a send's value from `slot` (no one writes a
//!   value into a receive's waiter), or leaves it there for an operation
//!   it only wakes, moves the wake handle out, and only then stores the
//!   final state with `Release`. From that store on it
//!   never touches the waiter again: the owner may observe the state
//!   without the lock (`Acquire`) and free the waiter at once.
//! - The owner (the future or the blocked thread) must not move the waiter
//!   while it is linked (futures are `!Unpin`), and unlinks it under the lock
//!   before freeing it if it is still `Waiting`.

use std::marker::PhantomPinned;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::Arc;

use crate::loom::atomic::{AtomicU8, Ordering};
use crate::loom::UnsafeCell;
use std::task::Waker;
use std::thread::Thread;

/// Where a waiter is in its life. Stored as a `u8` in an atomic: the
/// owner reads it without the lock (`Acquire`, pairing with the completer's
/// `Release`).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitState {
    /// Parked; linked into a queue.
    Waiting = 0,
    /// Completed by a counterpart: a send's value was taken from `slot`
    /// (a buffered send's slot is then empty), or the operation was woken
    /// to retry (a receive, a select case; a buffered send then finds its
    /// value still in `slot`). No channel writes a value into a receive's
    /// waiter.
    Done = 1,
    /// The channel closed while a send was parked: it gets its value back
    /// from `slot`. (Parked receives are woken to retry instead, and
    /// drain.)
    Closed = 2,
    /// Not registered (initial, or after the owner took it back).
    Idle = 3,
    /// A `select!` case that lost: a completer found its select already
    /// claimed by another case and unlinked it without touching its slot
    /// (a send case keeps its value).
    Skipped = 4,
}

impl WaitState {
    #[inline(always)]
    fn from_u8(v: u8) -> WaitState {
        match v {
            0 => WaitState::Waiting,
            1 => WaitState::Done,
            2 => WaitState::Closed,
            3 => WaitState::Idle,
            4 => WaitState::Skipped,
            _ => unreachable!("waiter state {v}"),
        }
    }
}

/// A select's claim word (in the select future): 0 while open, `case + 1`
/// once that case won, [`CLAIM_ABORTED`] while the select takes its cases
/// back to retry.
pub(crate) type Claim = crate::loom::atomic::AtomicUsize;
/// The claim word of a select that is unregistering to retry.
pub(crate) const CLAIM_ABORTED: usize = usize::MAX;

/// What a select finds when it takes the case that won its claim.
pub(crate) enum Taken<R> {
    /// The case took effect, with this result.
    Done(R),
    /// Its completer has claimed it and not yet published the result.
    NotYet,
    /// A buffered channel woke the case, but by the time the select tried
    /// the operation, others had taken the value (the room): nothing took
    /// effect, and the select starts over.
    Lost,
}

/// How to wake the owner: a waker, or none. 16 bytes (a `Waker`, with
/// `None` in its niche), where an enum of none, a waker and a thread
/// handle takes 24: a thread blocked in `send_blocking`/`recv_blocking`
/// parks with a waker that unparks it ([`Wake::thread`]).
pub(crate) struct Wake(Option<Waker>);

impl Wake {
    /// No one to wake.
    pub(crate) const NONE: Wake = Wake(None);

    /// Wakes the task that polled with `waker`.
    #[inline]
    pub(crate) fn task(waker: Waker) -> Wake {
        Wake(Some(waker))
    }

    /// Unparks the calling thread: a clone of the thread's unpark waker,
    /// made once per thread.
    pub(crate) fn thread() -> Wake {
        thread_local! {
            static UNPARK: Waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        }
        UNPARK
            .try_with(|w| Wake(Some(w.clone())))
            // The thread is exiting and its waker is gone: a fresh one.
            .unwrap_or_else(|_| Wake(Some(Waker::from(Arc::new(Unpark(std::thread::current()))))))
    }

    /// Whether there is no one to wake.
    #[inline]
    pub(crate) fn is_none(&self) -> bool {
        self.0.is_none()
    }

    /// Wakes the owner. Called after the channel's lock is released.
    pub(crate) fn fire(self) {
        if let Some(w) = self.0 {
            w.wake();
        }
    }
}

/// A blocked thread's waker: waking it unparks the thread.
struct Unpark(Thread);

impl std::task::Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// One parked operation.
pub(crate) struct Waiter<T> {
    state: AtomicU8,
    /// The value: a send's value to deliver, or a receive's delivered value.
    slot: UnsafeCell<Option<T>>,
    wake: UnsafeCell<Wake>,
    /// The queue links, set by `WaitQueue::push_back`.
    prev: SetBeforeRead<*const Waiter<T>>,
    next: SetBeforeRead<*const Waiter<T>>,
    /// For a `select!` case: where its select's claim word is, as a byte
    /// offset from this waiter (0 for a plain operation: the claim word is
    /// never inside the waiter), and its case index, set by `arm_case`. A
    /// completer must win the claim (`0 -> case + 1`) before it may
    /// complete the waiter. A select's cases, and so their waiters, live
    /// in the select future beside its claim word, so the offset is small;
    /// with the index a `u8` (at most `MAX_CASES` cases), both share a word
    /// with `state` (and, for a small `T`, `slot`): a waiter for `()` is 40
    /// bytes, where a claim pointer and a `usize` index took 16 more.
    claim: SetBeforeRead<i32>,
    case: SetBeforeRead<u8>,
    _pinned: PhantomPinned,
}

/// A waiter field that is read only while the waiter is linked, and is
/// set before every linking (the links by `WaitQueue::push_back`, the
/// select case by `Waiter::arm_case`). `Waiter::new`, which every
/// operation's future runs, leaves it uninitialized: most operations
/// complete without ever linking their waiter.
struct SetBeforeRead<P: Copy>(UnsafeCell<MaybeUninit<P>>);

impl<P: Copy> SetBeforeRead<P> {
    #[inline(always)]
    fn new() -> Self {
        SetBeforeRead(UnsafeCell::new(MaybeUninit::uninit()))
    }

    /// # Safety
    /// Under the channel's lock (module invariants).
    #[inline(always)]
    unsafe fn set(&self, value: P) {
        // SAFETY: per the caller, nobody else accesses the field now.
        self.0.with_mut(|p| unsafe { (*p).write(value) });
    }

    /// # Safety
    /// Under the channel's lock, and set since the waiter was created (it
    /// is linked, or was: see the type's docs).
    #[inline(always)]
    unsafe fn get(&self) -> P {
        // SAFETY: per the caller: no concurrent write, and initialized.
        self.0.with(|p| unsafe { (*p).assume_init() })
    }
}

// SAFETY: the value moves between threads (T: Send); every non-atomic field
// is accessed under the channel's lock (module invariants).
unsafe impl<T: Send> Send for Waiter<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Waiter<T> {}

impl<T> Waiter<T> {
    pub(crate) fn new() -> Self {
        Waiter {
            state: AtomicU8::new(WaitState::Idle as u8),
            slot: UnsafeCell::new(None),
            wake: UnsafeCell::new(Wake::NONE),
            prev: SetBeforeRead::new(),
            next: SetBeforeRead::new(),
            claim: SetBeforeRead::new(),
            case: SetBeforeRead::new(),
            _pinned: PhantomPinned,
        }
    }

    /// The state, read without the lock (pairs with the completer's Release).
    #[inline]
    pub(crate) fn state(&self) -> WaitState {
        WaitState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Whether the state is [`WaitState::Idle`] (read as `state`): one byte
    /// compare, with no conversion to check, for the paths every operation
    /// takes.
    #[inline]
    pub(crate) fn is_idle(&self) -> bool {
        self.state.load(Ordering::Acquire) == WaitState::Idle as u8
    }

    /// Prepares the waiter for linking: state `WaitState::Waiting`, the value (for a
    /// send) and the wake handle.
    ///
    /// # Safety
    /// Under the channel's lock, and the waiter is not linked.
    #[must_use = "the replaced wake handle must be dropped after the lock"]
    pub(crate) unsafe fn arm(&self, value: Option<T>, wake: Wake) -> Wake {
        // SAFETY: per the caller.
        unsafe { self.arm_case(value, wake, ptr::null(), 0) }
    }

    /// As [`arm`](Self::arm), for case `case` of the select whose claim
    /// word is `claim` (null: a plain operation). Returns the wake handle
    /// it replaces (left by an earlier registration), for the caller to
    /// drop after releasing the lock: no waker is dropped under it.
    ///
    /// # Safety
    /// As `arm`; a non-null `claim` outlives the waiter's time in a queue,
    /// and lies within 2 GiB of the waiter (in the select future that
    /// holds the case).
    #[must_use = "the replaced wake handle must be dropped after the lock"]
    pub(crate) unsafe fn arm_case(
        &self,
        value: Option<T>,
        wake: Wake,
        claim: *const Claim,
        case: usize,
    ) -> Wake {
        // SAFETY: per the caller, nobody else touches these fields now.
        self.slot.with_mut(|s| unsafe { *s = value });
        // SAFETY: as above.
        let stale = self
            .wake
            .with_mut(|w| unsafe { std::mem::replace(&mut *w, wake) });
        let offset = if claim.is_null() {
            0
        } else {
            // The pointer is rebuilt from the offset in `claim`.
            let claim = claim.expose_provenance() as isize;
            i32::try_from(claim.wrapping_sub(self.addr() as isize))
                .expect("a select's claim word lies beside its cases")
        };
        debug_assert!(claim.is_null() || offset != 0);
        // SAFETY: as above.
        unsafe {
            self.claim.set(offset);
            self.case
                .set(u8::try_from(case).expect("a select has at most 64 cases"));
        }
        self.state
            .store(WaitState::Waiting as u8, Ordering::Relaxed);
        stale
    }

    /// The claim word this waiter answers to (null: a plain operation).
    ///
    /// # Safety
    /// Under the lock, while the waiter is linked.
    unsafe fn claim(&self) -> *const Claim {
        // SAFETY: per the caller; `arm_case` set it before the linking.
        let offset = unsafe { self.claim.get() };
        if offset == 0 {
            return ptr::null();
        }
        // `arm_case` exposed the claim word's provenance.
        ptr::with_exposed_provenance(self.addr().wrapping_add_signed(offset as isize))
    }

    /// This waiter's address.
    fn addr(&self) -> usize {
        (self as *const Self).addr()
    }

    /// Whether a completer may take this waiter now: a plain operation, or
    /// a select case whose select is still open and is not `own`.
    ///
    /// # Safety
    /// Under the lock, while the waiter is linked.
    unsafe fn is_available(&self, own: *const Claim) -> bool {
        // SAFETY: per the caller.
        let claim = unsafe { self.claim() };
        // SAFETY: a linked waiter's claim word is alive (`arm_case`).
        claim.is_null() || (claim != own && unsafe { (*claim).load(Ordering::Acquire) } == 0)
    }

    /// Wins this waiter for a completer: a plain operation always; a select
    /// case only if its claim word goes from open to this case.
    ///
    /// # Safety
    /// Under the lock, while the waiter is linked.
    unsafe fn try_claim(&self) -> bool {
        // SAFETY: per the caller.
        let claim = unsafe { self.claim() };
        if claim.is_null() {
            return true;
        }
        // SAFETY: per the caller; `arm_case` set it before the linking.
        let won = unsafe { self.case.get() } as usize + 1;
        // SAFETY: a linked waiter's claim word is alive (`arm_case`).
        unsafe { &*claim }
            .compare_exchange(0, won, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Replaces the wake handle of a waiter that is still `WaitState::Waiting`; returns
    /// the old one, to be dropped after the lock.
    ///
    /// # Safety
    /// Under the channel's lock.
    #[must_use = "the replaced wake handle must be dropped after the lock"]
    pub(crate) unsafe fn set_wake(&self, wake: Wake) -> Wake {
        // SAFETY: per the caller.
        self.wake
            .with_mut(|w| unsafe { std::mem::replace(&mut *w, wake) })
    }

    /// Takes the value out of the slot (the owner, after `WaitState::Done`/`WaitState::Closed`,
    /// or anyone under the lock).
    ///
    /// # Safety
    /// Under the lock, or after observing a final state (the completer no
    /// longer touches the waiter).
    pub(crate) unsafe fn take_value(&self) -> Option<T> {
        // SAFETY: per the caller.
        self.slot.with_mut(|s| unsafe { (*s).take() })
    }

    /// Puts a send's value (back) into the slot of a linked waiter.
    ///
    /// # Safety
    /// Under the lock, while the waiter is linked and its slot is empty.
    pub(crate) unsafe fn put_value(&self, value: T) {
        // SAFETY: per the caller.
        self.slot.with_mut(|s| unsafe { *s = Some(value) });
    }

    /// Whether this linked waiter is a plain operation (not a `select!`
    /// case): one a completer may finish without winning a claim.
    ///
    /// # Safety
    /// Under the lock, while the waiter is linked.
    pub(crate) unsafe fn is_plain(&self) -> bool {
        // SAFETY: per the caller.
        unsafe { self.claim() }.is_null()
    }

    /// Wakes an unlinked waiter to retry: moves the wake handle out and
    /// publishes `WaitState::Done`, leaving the slot as it is (a parked
    /// send's value stays for its owner to take back).
    ///
    /// # Safety
    /// As [`complete`](Self::complete).
    pub(crate) unsafe fn notify(&self) -> Wake {
        // SAFETY: per the caller, we own the waiter's fields until the store.
        let wake = self
            .wake
            .with_mut(|w| unsafe { std::mem::replace(&mut *w, Wake::NONE) });
        // From here on the owner may free the waiter.
        self.state.store(WaitState::Done as u8, Ordering::Release);
        wake
    }

    /// Marks the waiter idle again after its owner took its result.
    #[inline]
    pub(crate) fn reset(&self) {
        self.state.store(WaitState::Idle as u8, Ordering::Relaxed);
    }

    /// Completes an unlinked waiter: for `WaitState::Done`, takes the value out of
    /// `slot` (a send's; a receive's slot is empty), then moves the wake
    /// handle out and publishes `state`. Returns the taken value and the
    /// wake handle, to be fired after the lock is released.
    ///
    /// # Safety
    /// Under the channel's lock; the waiter was `WaitState::Waiting` and has just been
    /// unlinked by the caller.
    pub(crate) unsafe fn complete(&self, state: WaitState) -> (Option<T>, Wake) {
        let taken = if state == WaitState::Done {
            // SAFETY: per the caller, we own the waiter's fields until the
            // store.
            self.slot.with_mut(|s| unsafe { (*s).take() })
        } else {
            None
        };
        // SAFETY: as above.
        let wake = self
            .wake
            .with_mut(|w| unsafe { std::mem::replace(&mut *w, Wake::NONE) });
        // From here on the owner may free the waiter.
        self.state.store(state as u8, Ordering::Release);
        (taken, wake)
    }
}

/// An intrusive FIFO of waiters. Lives in the channel's locked state.
pub(crate) struct WaitQueue<T> {
    head: *const Waiter<T>,
    tail: *const Waiter<T>,
    len: usize,
}

// SAFETY: the queue only holds pointers to waiters, which are `Send` for
// `T: Send`; it is used under the channel's lock.
unsafe impl<T: Send> Send for WaitQueue<T> {}

impl<T> WaitQueue<T> {
    pub(crate) const fn new() -> Self {
        WaitQueue {
            head: ptr::null(),
            tail: ptr::null(),
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Links `w` at the tail.
    ///
    /// # Safety
    /// Under the lock; `w` is armed (`WaitState::Waiting`), not linked, and stays at
    /// this address until it is unlinked.
    pub(crate) unsafe fn push_back(&mut self, w: *const Waiter<T>) {
        // SAFETY: per the caller; `tail`, if any, is a linked live waiter.
        unsafe {
            let tail = self.tail;
            (*w).prev.set(tail);
            (*w).next.set(ptr::null());
            if tail.is_null() {
                self.head = w;
            } else {
                (*tail).next.set(w);
            }
        }
        self.tail = w;
        self.len += 1;
    }

    /// The first linked waiter, left linked.
    pub(crate) fn front(&self) -> Option<*const Waiter<T>> {
        (!self.head.is_null()).then_some(self.head)
    }

    /// Unlinks and returns the first waiter a completer may complete.
    /// Select cases must have their select's claim won for them (Go's
    /// `dequeue` with `selectDone`); a case whose select another case
    /// already won is unlinked and marked `WaitState::Skipped` on the way.
    ///
    /// # Safety
    /// Under the lock.
    pub(crate) unsafe fn pop_front(&mut self) -> Option<*const Waiter<T>> {
        while !self.head.is_null() {
            let w = self.head;
            // SAFETY: `w` is linked, hence live (module invariants).
            unsafe {
                self.remove(w);
                if (*w).try_claim() {
                    return Some(w);
                }
                // Its select is decided elsewhere; from this store on the
                // owner may free it.
                (*w).state
                    .store(WaitState::Skipped as u8, Ordering::Release);
            }
        }
        None
    }

    /// Whether some linked waiter is available to a completer other than
    /// the select whose claim word is `own` (`is_available`).
    ///
    /// # Safety
    /// Under the lock.
    pub(crate) unsafe fn has_available(&self, own: *const Claim) -> bool {
        let mut w = self.head;
        while !w.is_null() {
            // SAFETY: linked waiters are live (module invariants).
            unsafe {
                if (*w).is_available(own) {
                    return true;
                }
                w = (*w).next.get();
            }
        }
        false
    }

    /// Unlinks `w`.
    ///
    /// # Safety
    /// Under the lock; `w` is linked into this queue.
    pub(crate) unsafe fn remove(&mut self, w: *const Waiter<T>) {
        // SAFETY: per the caller, `w` and its neighbours are live and linked.
        unsafe {
            let prev = (*w).prev.get();
            let next = (*w).next.get();
            if prev.is_null() {
                self.head = next;
            } else {
                (*prev).next.set(next);
            }
            if next.is_null() {
                self.tail = prev;
            } else {
                (*next).prev.set(prev);
            }
            (*w).prev.set(ptr::null());
            (*w).next.set(ptr::null());
        }
        self.len -= 1;
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_waiter_for_a_small_value_is_five_words() {
        assert_eq!(std::mem::size_of::<Wake>(), 16);
        // state, slot, case and claim offset share the first word.
        assert_eq!(std::mem::size_of::<Waiter<()>>(), 40);
        assert_eq!(std::mem::size_of::<Waiter<bool>>(), 40);
    }

    #[test]
    fn a_thread_wake_unparks_the_thread() {
        let woken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let flag = woken.clone();
        let t = std::thread::spawn(move || {
            tx.send(Wake::thread()).unwrap();
            while !flag.load(std::sync::atomic::Ordering::Acquire) {
                std::thread::park();
            }
        });
        let wake = rx.recv().unwrap();
        assert!(!wake.is_none());
        woken.store(true, std::sync::atomic::Ordering::Release);
        wake.fire();
        t.join().unwrap();
    }
}
