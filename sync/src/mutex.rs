//! [`Mutex`]: Go's `sync.Mutex`, with its normal and starvation modes.
//!
//! # The state word
//!
//! As in Go, one word holds `LOCKED`, `WOKEN` (a waiter is awake and
//! about to try, so an unlock need not wake another), `STARVING` and the
//! number of parked waiters. An uncontended `lock` is one CAS
//! (0 → `LOCKED`) and an uncontended unlock one `fetch_sub`.
//!
//! **Normal mode.** Waiters queue FIFO, but a woken waiter competes with
//! newly arriving lockers and usually loses (they are running already).
//! A woken waiter that loses queues again at the *front*.
//!
//! **Starvation mode.** A waiter that has waited more than
//! [`STARVATION_THRESHOLD`] (1 ms) sets `STARVING`. From then on an unlock
//! hands the lock directly to the first waiter (the state word keeps
//! `LOCKED` and loses one waiter; the node is marked `HANDOFF`), and
//! arriving lockers do not try to take it but queue at the back. The
//! waiter that receives the lock leaves starvation mode if it was the last
//! waiter or waited less than the threshold.
//!
//! # The lock around the queue
//!
//! Whatever counts waiters in the word or moves one out of the queue does
//! so under the queue's lock: a registration's CAS and its link, an
//! unlock's choice of whom to wake (and its CAS), a cancellation's unlink
//! and its decrement. So, outside that lock, the word's waiter count is
//! always the queue's length. The acquiring CASes (`LOCKED` set, `WOKEN`
//! set or cleared) stay lock-free.
//!
//! # Cancellation
//!
//! A dropped [`Lock`] future that is still queued unlinks itself and
//! uncounts itself (leaving starvation mode if it was the last waiter); one
//! that was woken gives its `WOKEN` up and wakes the next waiter if that is
//! due; one that was handed the lock unlocks it, which hands it on. So a
//! dropped future never holds the lock and never loses a wake-up.

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::{lock, spin_hint, Arc, Mutex as StdMutex};
use crate::waiter::{self, Node, Queue, WAITING};
use gort_coop::WaitReason;

const LOCKED: usize = 1;
const WOKEN: usize = 2;
const STARVING: usize = 4;
const WAITER_SHIFT: u32 = 3;
const WAITER: usize = 1 << WAITER_SHIFT;

/// Node states: woken to retry (normal mode), handed the lock
/// (starvation mode).
const WOKE: u8 = 1;
const HANDOFF: u8 = 2;

/// How long a waiter waits before it switches the mutex to starvation
/// mode (Go's `starvationThresholdNs`).
pub const STARVATION_THRESHOLD: Duration = Duration::from_millis(1);

/// Spin rounds before a locker parks, while the holder is running (Go's
/// `active_spin`), and pause hints per round (`active_spin_cnt`).
/// Under loom one short round, which keeps the models small.
const SPIN_ROUNDS: u32 = if cfg!(loom) { 1 } else { 4 };
const SPIN_PAUSES: u32 = if cfg!(loom) { 1 } else { 30 };

/// A mutual exclusion lock for tasks and threads: Go's `sync.Mutex` with a
/// value inside, as `std::sync::Mutex`.
///
/// [`lock`](Mutex::lock) waits without blocking the thread, so the guard
/// may be held across `.await` (and moved to another thread with the
/// task); [`lock_blocking`](Mutex::lock_blocking) parks a thread instead.
/// Fairness is Go's: newcomers may take the lock ahead of parked waiters
/// (which keeps throughput high), until a waiter has waited longer than 1
/// ms; then the lock is handed to waiters in FIFO order until the queue
/// drains.
///
/// Unlike `std::sync::Mutex` there is no poisoning: a panic while the
/// guard is held unlocks the mutex, as in Go.
///
/// ```
/// # futures::executor::block_on(async {
/// use gort::sync::Mutex;
///
/// let counter = Mutex::new(0u64);
/// *counter.lock().await += 1;
/// if let Some(mut n) = counter.try_lock() {
///     *n += 1;
/// }
/// assert_eq!(counter.into_inner(), 2);
/// # });
/// ```
pub struct Mutex<T: ?Sized> {
    state: AtomicUsize,
    queue: StdMutex<Queue<()>>,
    /// Taken with `try_lock` only, by whoever the state word made the
    /// owner: it is always free then (the previous owner released it
    /// before it released the state word), so it never blocks.
    #[cfg(loom)]
    threshold: Duration,
    data: parking_lot::Mutex<T>,
}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    pub fn new(value: T) -> Self {
        Mutex {
            state: AtomicUsize::new(0),
            queue: StdMutex::new(Queue::new()),
            #[cfg(loom)]
            threshold: STARVATION_THRESHOLD,
            data: parking_lot::Mutex::new(value),
        }
    }

    /// A mutex whose waiters starve at once: loom's clock does not move,
    /// so the starvation-mode models set the threshold to zero.
    #[cfg(all(loom, test))]
    pub(crate) fn starving_at_once(value: T) -> Self {
        Mutex {
            threshold: Duration::ZERO,
            ..Mutex::new(value)
        }
    }

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, waiting (without blocking the thread) while another
    /// holder has it.
    ///
    /// Cancel safety: dropping the future before it completes never leaves
    /// the mutex locked and never loses another waiter's turn.
    pub fn lock(&self) -> Lock<'_, T> {
        Lock {
            mutex: self,
            node: None,
            wait_start: None,
            first: true,
        }
    }

    /// Locks the mutex if nobody holds it and it is not handing itself to
    /// waiters (starvation mode), as Go's `TryLock`.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            if old & (LOCKED | STARVING) != 0 {
                return None;
            }
            match self.state.compare_exchange_weak(
                old,
                old | LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(self.guard()),
                Err(now) => old = now,
            }
        }
    }

    /// [`lock`](Mutex::lock) for a thread: parks it until the lock is
    /// taken.
    pub fn lock_blocking(&self) -> MutexGuard<'_, T> {
        if let Some(guard) = self.try_lock_fast() {
            return guard;
        }
        waiter::block_on(self.lock())
    }

    /// The value, through the exclusive borrow (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// How long a waiter waits before it starves.
    fn threshold(&self) -> Duration {
        #[cfg(loom)]
        return self.threshold;
        #[cfg(not(loom))]
        STARVATION_THRESHOLD
    }

    /// The uncontended path: one CAS from the empty state.
    #[inline]
    fn try_lock_fast(&self) -> Option<MutexGuard<'_, T>> {
        self.state
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| self.guard())
    }

    /// The guard of the owner the state word has just made.
    fn guard(&self) -> MutexGuard<'_, T> {
        MutexGuard {
            data: self
                .data
                .try_lock()
                .expect("gort-sync: a Mutex's value is held while its state word is unlocked"),
            unlock: Unlock(self),
        }
    }

    /// Go's `lockSlow` from where a poll left it: spins while the holder
    /// runs, then takes the lock or registers. `awoke` is whether this
    /// locker owns the `WOKEN` bit (it was woken, or set it while
    /// spinning).
    fn lock_slow(
        &self,
        cx: &mut Context<'_>,
        mut awoke: bool,
        starving: bool,
        requeue: bool,
    ) -> Result<MutexGuard<'_, T>, Arc<Node>> {
        let mut rounds = 0;
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            // Spin while locked in normal mode: the holder may be about to
            // unlock, and a running locker should get it before it parks.
            if old & (LOCKED | STARVING) == LOCKED && rounds < SPIN_ROUNDS {
                if !awoke
                    && old & WOKEN == 0
                    && old >> WAITER_SHIFT != 0
                    && self
                        .state
                        .compare_exchange_weak(
                            old,
                            old | WOKEN,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        )
                        .is_ok()
                {
                    awoke = true;
                }
                for _ in 0..SPIN_PAUSES {
                    spin_hint();
                }
                rounds += 1;
                old = self.state.load(Ordering::Relaxed);
                continue;
            }
            let mut new = old;
            // Starving mutexes are not taken, only handed over.
            if old & STARVING == 0 {
                new |= LOCKED;
            }
            let park = old & (LOCKED | STARVING) != 0;
            if park {
                new += WAITER;
            }
            // Switch to starvation mode, but only if the mutex is locked:
            // an unlocked starving mutex would wait for an unlock that
            // never comes.
            if starving && old & LOCKED != 0 {
                new |= STARVING;
            }
            if awoke {
                debug_assert!(new & WOKEN != 0, "gort-sync: inconsistent Mutex state");
                new &= !WOKEN;
            }
            if !park {
                match self.state.compare_exchange_weak(
                    old,
                    new,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Ok(self.guard()),
                    Err(now) => {
                        old = now;
                        continue;
                    }
                }
            }
            // Count and link in one step under the queue's lock.
            let mut q = lock(&self.queue);
            match self
                .state
                .compare_exchange(old, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => {
                    let node = Node::new();
                    // A woken waiter that lost keeps its place at the front.
                    if requeue {
                        q.push_front(node.clone(), cx.waker().clone(), ());
                    } else {
                        q.push_back(node.clone(), cx.waker().clone(), ());
                    }
                    return Err(node);
                }
                Err(now) => {
                    drop(q);
                    old = now;
                }
            }
        }
    }

    /// Releases the lock (Go's `Unlock`): one `fetch_sub` unless there are
    /// waiters to wake or to hand the lock to.
    #[inline]
    fn unlock(&self) {
        let new = self.state.fetch_sub(LOCKED, Ordering::Release) - LOCKED;
        if new != 0 {
            self.wake_next(new);
        }
    }

    /// Go's `unlockSlow`, also run by a dropped woken waiter that gives
    /// its `WOKEN` up. `new` is the state word the caller left.
    #[cold]
    fn wake_next(&self, new: usize) {
        if new & STARVING == 0 && (new >> WAITER_SHIFT == 0 || new & (LOCKED | WOKEN) != 0) {
            // Nobody to wake, or someone who will: the holder's unlock, or
            // the locker that owns `WOKEN`.
            return;
        }
        let mut q = lock(&self.queue);
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            if old & LOCKED != 0 {
                return;
            }
            if old & STARVING != 0 {
                // Hand the lock to the first waiter. The word cannot
                // change under the lock here: lockers do not take a
                // starving mutex, and counting waiters needs the lock.
                if let Some(entry) = q.pop_front() {
                    self.state
                        .fetch_add(LOCKED.wrapping_sub(WAITER), Ordering::Relaxed);
                    entry.node.set(HANDOFF);
                    drop(q);
                    entry.waker.wake();
                } else {
                    self.state.fetch_and(!STARVING, Ordering::Relaxed);
                }
                return;
            }
            if old >> WAITER_SHIFT == 0 || old & WOKEN != 0 {
                return;
            }
            match self.state.compare_exchange_weak(
                old,
                (old - WAITER) | WOKEN,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    let entry = q
                        .pop_front()
                        .expect("gort-sync: a Mutex counts a waiter its queue does not hold");
                    entry.node.set(WOKE);
                    drop(q);
                    entry.waker.wake();
                    return;
                }
                Err(now) => old = now,
            }
        }
    }

    /// A woken locker that will not try again gives its `WOKEN` up.
    fn give_up_woken(&self) {
        let new = self.state.fetch_and(!WOKEN, Ordering::Relaxed) & !WOKEN;
        self.wake_next(new);
    }

    /// The waiter handed the lock in starvation mode decides whether the
    /// mode ends (Go: it was the last waiter, or it did not wait long).
    fn after_handoff(&self, waited: Duration) {
        let state = self.state.load(Ordering::Relaxed);
        if waited <= self.threshold() || state >> WAITER_SHIFT == 0 {
            self.state.fetch_and(!STARVING, Ordering::Relaxed);
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// The future of [`Mutex::lock`].
#[must_use = "futures do nothing unless awaited"]
pub struct Lock<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// This locker's parked node, while it waits.
    node: Option<Arc<Node>>,
    /// When it first parked (Go's `waitStartTime`).
    wait_start: Option<Instant>,
    first: bool,
}

impl<'a, T: ?Sized> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        let mutex = self.mutex;
        if self.first {
            // The cooperative budget, on the first poll only: the one
            // that can complete without waiting. A future that parked has
            // yielded already, and one that was handed the lock must not
            // hold it across a yield.
            let coop = std::task::ready!(gort_coop::poll_proceed(cx));
            self.first = false;
            if let Some(guard) = mutex.try_lock_fast() {
                coop.made_progress();
                return Poll::Ready(guard);
            }
            return match mutex.lock_slow(cx, false, false, false) {
                Ok(guard) => {
                    coop.made_progress();
                    Poll::Ready(guard)
                }
                Err(node) => {
                    self.wait_start = Some(Instant::now());
                    self.node = Some(node);
                    waiter::pending(WaitReason::MutexLock)
                }
            };
        }
        let Some(node) = &self.node else {
            panic!("gort-sync: Lock polled after completion");
        };
        let state = waiter::repoll(&mutex.queue, node, cx.waker());
        let waited = self.wait_start.map_or(Duration::ZERO, |t| t.elapsed());
        match state {
            WAITING => waiter::pending(WaitReason::MutexLock),
            HANDOFF => {
                self.node = None;
                mutex.after_handoff(waited);
                Poll::Ready(mutex.guard())
            }
            _ => {
                // Woken in normal mode: compete again, owning `WOKEN`.
                self.node = None;
                let starving = waited > mutex.threshold();
                match mutex.lock_slow(cx, true, starving, true) {
                    Ok(guard) => Poll::Ready(guard),
                    Err(node) => {
                        self.node = Some(node);
                        waiter::pending(WaitReason::MutexLock)
                    }
                }
            }
        }
    }
}

impl<T: ?Sized> Drop for Lock<'_, T> {
    fn drop(&mut self) {
        let Some(node) = self.node.take() else {
            return;
        };
        let mutex = self.mutex;
        let mut q = lock(&mutex.queue);
        if let Some((entry, _)) = q.remove(&node) {
            let new = mutex.state.fetch_sub(WAITER, Ordering::Relaxed) - WAITER;
            if new >> WAITER_SHIFT == 0 && new & STARVING != 0 {
                // Nobody left to hand the lock to.
                mutex.state.fetch_and(!STARVING, Ordering::Relaxed);
            }
            drop(q);
            drop(entry);
            return;
        }
        drop(q);
        match node.get() {
            HANDOFF => mutex.unlock(),
            WOKE => mutex.give_up_woken(),
            other => unreachable!("gort-sync: an unlinked Mutex waiter in state {other}"),
        }
    }
}

impl<T: ?Sized> fmt::Debug for Lock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("parked", &self.node.is_some())
            .finish_non_exhaustive()
    }
}

/// Unlocks the state word when dropped, after the guard's value borrow.
struct Unlock<'a, T: ?Sized>(&'a Mutex<T>);

impl<T: ?Sized> Drop for Unlock<'_, T> {
    fn drop(&mut self) {
        self.0.unlock();
    }
}

/// Exclusive access to a [`Mutex`]'s value; unlocks when dropped. It may
/// be held across `.await` and sent to another thread (when `T: Send`).
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    // Field order matters: the value's lock is released before the state
    // word, so the next owner always finds it free.
    data: parking_lot::MutexGuard<'a, T>,
    unlock: Unlock<'a, T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks.
    pub fn mutex(guard: &Self) -> &'a Mutex<T> {
        guard.unlock.0
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.data
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.data
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
