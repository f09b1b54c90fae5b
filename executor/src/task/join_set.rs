//! `JoinSet`: a set of spawned tasks, joined in the order they finish
//! (tokio's `JoinSet`).
//!
//! Each task's `JoinHandle` is polled with a waker of its own; when the
//! task finishes, that waker puts the entry's key on the set's ready
//! queue and wakes whoever waits in `join_next`. So `join_next` looks only
//! at entries that were woken: joining n tasks costs O(n), not O(n^2).

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use super::{JoinError, JoinHandle};

/// A set of tasks spawned together, joined as they finish (tokio's
/// `JoinSet`; Go code writes a `WaitGroup` and a results channel for
/// this).
///
/// Dropping the set aborts the tasks still in it.
///
/// # Examples
///
/// ```
/// use gort::task::JoinSet;
///
/// # gort::block_on(async {
/// let mut set = JoinSet::new();
/// for i in 0..10u64 {
///     set.spawn(async move { i * i });
/// }
/// let mut sum = 0;
/// while let Some(res) = set.join_next().await {
///     sum += res.unwrap();
/// }
/// assert_eq!(sum, (0..10u64).map(|i| i * i).sum::<u64>());
/// assert!(set.is_empty());
/// # });
/// ```
pub struct JoinSet<T> {
    /// The tasks, by key; `None` for a free key.
    entries: Vec<Option<Entry<T>>>,
    /// Keys that are free for reuse.
    free: Vec<usize>,
    len: usize,
    shared: Arc<Shared>,
}

struct Entry<T> {
    handle: JoinHandle<T>,
    waker: Arc<EntryWaker>,
}

/// What the entries' wakers and `join_next` share.
struct Shared {
    /// Keys of entries to poll: woken since their last poll, or new.
    ready: Mutex<Ready>,
}

#[derive(Default)]
struct Ready {
    keys: VecDeque<usize>,
    /// The task waiting in `join_next`.
    waiter: Option<Waker>,
}

/// The waker a task's `JoinHandle` is polled with.
struct EntryWaker {
    key: usize,
    /// Set while the key is on the ready queue (no duplicates).
    queued: AtomicBool,
    shared: Arc<Shared>,
}

fn lock(m: &Mutex<Ready>) -> MutexGuard<'_, Ready> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Wake for EntryWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, AcqRel) {
            return;
        }
        let waiter = {
            let mut ready = lock(&self.shared.ready);
            ready.keys.push_back(self.key);
            ready.waiter.take()
        };
        if let Some(w) = waiter {
            w.wake();
        }
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> JoinSet<T> {
    /// An empty set.
    pub fn new() -> Self {
        JoinSet {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
            shared: Arc::new(Shared {
                ready: Mutex::new(Ready::default()),
            }),
        }
    }

    /// Tasks in the set (finished but not yet joined ones included).
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` if the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a task that is already spawned, by its handle.
    fn insert(&mut self, handle: JoinHandle<T>) {
        let key = self.free.pop().unwrap_or(self.entries.len());
        let waker = Arc::new(EntryWaker {
            key,
            queued: AtomicBool::new(false),
            shared: self.shared.clone(),
        });
        // New entries are polled once by `join_next`, which registers
        // their waker.
        waker.wake_by_ref();
        let entry = Some(Entry { handle, waker });
        if key == self.entries.len() {
            self.entries.push(entry);
        } else {
            self.entries[key] = entry;
        }
        self.len += 1;
    }

    /// Aborts every task in the set; `join_next` then gives each one's
    /// result (`Err(e)` with `e.is_cancelled()` for those that had not
    /// finished).
    pub fn abort_all(&self) {
        for entry in self.entries.iter().flatten() {
            entry.handle.abort();
        }
    }

    /// Waits for the next task to finish and gives its result; `None` once
    /// the set is empty. Cancellation-safe: a dropped `join_next` future
    /// loses no result (it stays in the set).
    ///
    /// One unit of the cooperative budget per result.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// [`join_next`](Self::join_next) as a poll function.
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        if self.is_empty() {
            return Poll::Ready(None);
        }
        let coop = std::task::ready!(gort_coop::poll_proceed(cx));
        loop {
            let key = {
                let mut ready = lock(&self.shared.ready);
                match ready.keys.pop_front() {
                    Some(key) => key,
                    None => {
                        ready.waiter = Some(cx.waker().clone());
                        gort_coop::set_wait_reason(gort_coop::WaitReason::Join);
                        return Poll::Pending;
                    }
                }
            };
            let Some(entry) = self.entries.get_mut(key).and_then(Option::as_mut) else {
                continue; // joined already (a wake that came late)
            };
            entry.waker.queued.store(false, Release);
            let waker = Waker::from(entry.waker.clone());
            let mut entry_cx = Context::from_waker(&waker);
            // The set took this poll's unit above; the handle's own budget
            // check would wake the entry instead of this task and spin.
            let polled =
                gort_coop::with_unconstrained(|| Pin::new(&mut entry.handle).poll(&mut entry_cx));
            if let Poll::Ready(res) = polled {
                self.entries[key] = None;
                self.free.push(key);
                self.len -= 1;
                coop.made_progress();
                return Poll::Ready(Some(res));
            }
        }
    }

    /// Aborts every task and waits until each has finished (their results
    /// are dropped); the set is empty afterwards.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }
}

impl<T: Send + 'static> JoinSet<T> {
    /// Spawns `future` as [`crate::spawn`] does and adds it to the set.
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F)
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(crate::spawn_at(
            future,
            std::panic::Location::caller(),
            None,
        ));
    }

    /// Spawns `future` on the runtime of `handle` and adds it to the set.
    #[track_caller]
    pub fn spawn_on<F>(&mut self, future: F, handle: &crate::runtime::Handle)
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(handle.spawn(future));
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        self.abort_all();
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len).finish()
    }
}
