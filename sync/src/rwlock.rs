//! [`RwLock`]: Go's `sync.RWMutex`, writer-preferring.
//!
//! # The state word
//!
//! `WRITER` (held for writing), `QUEUED` (somebody is parked) and the
//! number of readers. `try_read` is one CAS that fails if `WRITER` or
//! `QUEUED` is set, so once a writer waits no new reader enters (Go's
//! `readerCount` going negative); `try_write` is one CAS from 0. A
//! release is one `fetch_sub`; only a release that leaves the lock free
//! (the last reader, or the writer) with `QUEUED` set takes the queue's
//! lock.
//!
//! # The queue
//!
//! Parked readers and writers wait in one FIFO. Whoever frees the lock
//! grants it under the queue's lock: a writer at the front gets it once
//! no reader holds it; readers at the front get it together, up to the
//! first writer behind them. Granting changes the state word for the
//! waiter (it owns the lock when it sees `GRANTED`), and the last grant
//! clears `QUEUED`. Registration sets `QUEUED` and links under the same
//! lock, so a release either sees `QUEUED` (and grants) or the registering
//! waiter's CAS sees the release (and takes the lock itself).
//!
//! # Cancellation
//!
//! A dropped future still queued unlinks itself (and, if it was at the
//! front, grants whoever can now go: readers behind a cancelled writer);
//! one already granted releases what it was granted.

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::{lock, Arc, Mutex as StdMutex};
use crate::waiter::{self, Fifo, Node, Queue, WakeList, WAITING};
use gort_coop::WaitReason;

const WRITER: usize = 1;
const QUEUED: usize = 2;
const READER: usize = 4;
/// Readers beyond this panic (far beyond any real count).
const MAX_READERS: usize = usize::MAX >> 3;

/// A parked waiter's node once it holds the lock.
const GRANTED: u8 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Read,
    Write,
}

/// A reader-writer lock for tasks and threads: Go's `sync.RWMutex` with a
/// value inside, as `std::sync::RwLock`.
///
/// Any number of readers or one writer hold it at a time. A writer that
/// waits stops new readers from entering (they queue behind it), so a
/// stream of readers cannot starve writers; waiters are served in FIFO
/// order, consecutive readers together. Guards may be held across
/// `.await`. No poisoning: a panic while a guard is held releases it.
///
/// ```
/// # futures::executor::block_on(async {
/// use gort::sync::RwLock;
///
/// let config = RwLock::new(String::from("v1"));
/// {
///     let a = config.read().await;
///     let b = config.read().await; // readers share the lock
///     assert_eq!(*a, *b);
///     assert!(config.try_write().is_none());
/// }
/// config.write().await.push_str(".1");
/// assert_eq!(*config.read().await, "v1.1");
/// # });
/// ```
pub struct RwLock<T: ?Sized> {
    state: AtomicUsize,
    queue: StdMutex<Queue<Kind>>,
    /// Taken with `try_read`/`try_write` only, by whoever the state word
    /// admitted, so it never blocks: every earlier holder released it
    /// before it released the state word.
    data: parking_lot::RwLock<T>,
}

impl<T> RwLock<T> {
    /// An unlocked lock holding `value`.
    pub fn new(value: T) -> Self {
        RwLock {
            state: AtomicUsize::new(0),
            queue: StdMutex::new(Queue::new()),
            data: parking_lot::RwLock::new(value),
        }
    }

    /// The value, consuming the lock.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, waiting while a writer holds the lock or waits
    /// for it. Dropping the future before it completes gives up its place
    /// (and the lock, if it was just granted).
    pub fn read(&self) -> Read<'_, T> {
        Read(Acquire::new(self, Kind::Read))
    }

    /// Locks for writing, waiting while anyone holds the lock or waits
    /// ahead. Dropping the future before it completes gives up its place
    /// (and the lock, if it was just granted).
    pub fn write(&self) -> Write<'_, T> {
        Write(Acquire::new(self, Kind::Write))
    }

    /// Locks for reading if no writer holds the lock or waits for it.
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.try_read_state().then(|| self.read_guard())
    }

    /// `try_read` on the state word alone: one CAS unless it races.
    fn try_read_state(&self) -> bool {
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            if old & (WRITER | QUEUED) != 0 {
                return false;
            }
            assert!(old < MAX_READERS, "gort-sync: too many RwLock readers");
            match self.state.compare_exchange_weak(
                old,
                old + READER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => old = now,
            }
        }
    }

    /// Locks for writing if nobody holds the lock or waits for it.
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.state
            .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| self.write_guard())
    }

    /// [`read`](RwLock::read) for a thread: parks it until the lock is
    /// held for reading.
    pub fn read_blocking(&self) -> RwLockReadGuard<'_, T> {
        match self.try_read() {
            Some(guard) => guard,
            None => waiter::block_on(self.read()),
        }
    }

    /// [`write`](RwLock::write) for a thread: parks it until the lock is
    /// held for writing.
    pub fn write_blocking(&self) -> RwLockWriteGuard<'_, T> {
        match self.try_write() {
            Some(guard) => guard,
            None => waiter::block_on(self.write()),
        }
    }

    /// The value, through the exclusive borrow (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    fn read_guard(&self) -> RwLockReadGuard<'_, T> {
        RwLockReadGuard {
            data: self.data.try_read().expect(
                "gort-sync: an RwLock's value is written while its state word admits readers",
            ),
            release: ReadRelease(self),
        }
    }

    fn write_guard(&self) -> RwLockWriteGuard<'_, T> {
        RwLockWriteGuard {
            data: self.data.try_write().expect(
                "gort-sync: an RwLock's value is held while its state word admits a writer",
            ),
            release: WriteRelease(self),
        }
    }

    /// Takes the lock at once if nobody is queued and it is compatible,
    /// else counts as queued and links a node, under the queue's lock.
    fn register(&self, kind: Kind, cx: &Context<'_>) -> Result<(), Arc<Node>> {
        let mut q = lock(&self.queue);
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            let free = old & QUEUED == 0
                && match kind {
                    Kind::Read => old & WRITER == 0,
                    Kind::Write => old == 0,
                };
            let new = match (free, kind) {
                (true, Kind::Read) => old + READER,
                (true, Kind::Write) => old | WRITER,
                (false, _) => old | QUEUED,
            };
            // `QUEUED` already set stays set while we hold the lock.
            if new == old {
                break;
            }
            match self
                .state
                .compare_exchange(old, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) if free => return Ok(()),
                Ok(_) => break,
                Err(now) => old = now,
            }
        }
        let node = Node::new();
        q.push_back(node.clone(), cx.waker().clone(), kind);
        Err(node)
    }

    fn release_read(&self) {
        let prev = self.state.fetch_sub(READER, Ordering::Release);
        if prev == READER | QUEUED {
            self.grant();
        }
    }

    fn release_write(&self) {
        let prev = self.state.fetch_sub(WRITER, Ordering::Release);
        if prev & QUEUED != 0 {
            self.grant();
        }
    }
}

impl<T: ?Sized> Fifo for RwLock<T> {
    type Ask = Kind;

    fn queue(&self) -> &StdMutex<Queue<Kind>> {
        &self.queue
    }

    /// Grants the lock to the waiters at the front that can have it now.
    /// Outside the lock, with `QUEUED` set, the word only loses readers or
    /// the writer (releases), so what is seen free here stays free.
    fn grant_locked(&self, q: &mut Queue<Kind>, wakers: &mut WakeList) {
        loop {
            let Some(front) = q.front() else {
                self.clear_queued();
                return;
            };
            let old = self.state.load(Ordering::Acquire);
            match front.data {
                Kind::Write if old & !QUEUED == 0 => {
                    self.state.fetch_or(WRITER, Ordering::Acquire);
                }
                Kind::Read if old & WRITER == 0 => {
                    assert!(old < MAX_READERS, "gort-sync: too many RwLock readers");
                    self.state.fetch_add(READER, Ordering::Acquire);
                }
                _ => return,
            }
            let entry = q.pop_front().expect("the front was just seen");
            entry.node.set(GRANTED);
            wakers.push(entry.waker);
        }
    }

    fn clear_queued(&self) {
        self.state.fetch_and(!QUEUED, Ordering::Relaxed);
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// What [`Read`] and [`Write`] share: the first attempt, the parked node,
/// the unlink or release on drop.
struct Acquire<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    kind: Kind,
    node: Option<Arc<Node>>,
    first: bool,
}

impl<'a, T: ?Sized> Acquire<'a, T> {
    fn new(lock: &'a RwLock<T>, kind: Kind) -> Self {
        Acquire {
            lock,
            kind,
            node: None,
            first: true,
        }
    }

    /// `Ready` once the lock is held in this future's mode.
    fn poll_acquire(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let rw = self.lock;
        if self.first {
            // The cooperative budget, on the first poll only: the one
            // that can complete without waiting. A future that parked has
            // yielded already, and one that was handed the lock must not
            // hold it across a yield.
            let coop = std::task::ready!(gort_coop::poll_proceed(cx));
            self.first = false;
            let fast = match self.kind {
                Kind::Read => rw.try_read_state(),
                Kind::Write => rw
                    .state
                    .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok(),
            };
            if fast {
                coop.made_progress();
                return Poll::Ready(());
            }
            return match rw.register(self.kind, cx) {
                Ok(()) => {
                    coop.made_progress();
                    Poll::Ready(())
                }
                Err(node) => {
                    self.node = Some(node);
                    Poll::Pending
                }
            };
        }
        let Some(node) = &self.node else {
            panic!("gort-sync: RwLock future polled after completion");
        };
        if waiter::repoll(&rw.queue, node, cx.waker()) == WAITING {
            return Poll::Pending;
        }
        self.node = None;
        Poll::Ready(())
    }
}

impl<T: ?Sized> Drop for Acquire<'_, T> {
    fn drop(&mut self) {
        let Some(node) = self.node.take() else {
            return;
        };
        let rw = self.lock;
        if rw.cancel(&node) {
            return;
        }
        // Granted before it could see it: release what it was given.
        match self.kind {
            Kind::Read => rw.release_read(),
            Kind::Write => rw.release_write(),
        }
    }
}

/// The future of [`RwLock::read`].
#[must_use = "futures do nothing unless awaited"]
pub struct Read<'a, T: ?Sized>(Acquire<'a, T>);

impl<'a, T: ?Sized> Future for Read<'a, T> {
    type Output = RwLockReadGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.0.poll_acquire(cx) {
            Poll::Ready(()) => Poll::Ready(self.0.lock.read_guard()),
            Poll::Pending => waiter::pending(WaitReason::RwLockRead),
        }
    }
}

/// The future of [`RwLock::write`].
#[must_use = "futures do nothing unless awaited"]
pub struct Write<'a, T: ?Sized>(Acquire<'a, T>);

impl<'a, T: ?Sized> Future for Write<'a, T> {
    type Output = RwLockWriteGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.0.poll_acquire(cx) {
            Poll::Ready(()) => Poll::Ready(self.0.lock.write_guard()),
            Poll::Pending => waiter::pending(WaitReason::RwLockWrite),
        }
    }
}

impl<T: ?Sized> fmt::Debug for Read<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Read")
            .field("parked", &self.0.node.is_some())
            .finish_non_exhaustive()
    }
}

impl<T: ?Sized> fmt::Debug for Write<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Write")
            .field("parked", &self.0.node.is_some())
            .finish_non_exhaustive()
    }
}

struct ReadRelease<'a, T: ?Sized>(&'a RwLock<T>);

impl<T: ?Sized> Drop for ReadRelease<'_, T> {
    fn drop(&mut self) {
        self.0.release_read();
    }
}

struct WriteRelease<'a, T: ?Sized>(&'a RwLock<T>);

impl<T: ?Sized> Drop for WriteRelease<'_, T> {
    fn drop(&mut self) {
        self.0.release_write();
    }
}

/// Shared access to an [`RwLock`]'s value; releases when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    // The value's lock is released before the state word (field order).
    data: parking_lot::RwLockReadGuard<'a, T>,
    release: ReadRelease<'a, T>,
}

/// Exclusive access to an [`RwLock`]'s value; releases when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    // The value's lock is released before the state word (field order).
    data: parking_lot::RwLockWriteGuard<'a, T>,
    release: WriteRelease<'a, T>,
}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    /// The lock this guard holds.
    pub fn rwlock(guard: &Self) -> &'a RwLock<T> {
        guard.release.0
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// The lock this guard holds.
    pub fn rwlock(guard: &Self) -> &'a RwLock<T> {
        guard.release.0
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.data
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.data
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.data
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
