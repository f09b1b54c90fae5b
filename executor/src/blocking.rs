//! The blocking pool (`spawn_blocking`): threads without a processor, for
//! code that blocks (Go hands the P off when an M enters a syscall; here
//! the blocking code simply never runs on a worker).
//!
//! Threads are started on demand up to `THREAD_CAP`; an idle thread exits
//! after the runtime's keep-alive (`Builder::thread_keep_alive`, default
//! `KEEP_ALIVE`). The pool's lock guards only its queue and
//! counters; tasks run outside it.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::context;
use crate::runtime::Handle;
use crate::task::{self, Id, JoinHandle, Notified, Schedule};

/// Most threads the pool runs at once (tokio's default, too).
pub(crate) const THREAD_CAP: usize = 512;

/// How long an idle thread waits for work before exiting (tokio's default).
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(10);

pub(crate) struct BlockingPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    state: Mutex<PoolState>,
    /// Idle threads wait here for work.
    work_cv: Condvar,
    /// Shutdown waits here for threads to exit.
    exit_cv: Condvar,
    thread_name: String,
    keep_alive: Duration,
}

#[derive(Default)]
struct PoolState {
    queue: VecDeque<Notified>,
    /// Threads alive.
    threads: usize,
    /// Threads waiting for work and not yet claimed by a spawn.
    idle: usize,
    /// Wakeups sent to idle threads and not yet consumed.
    notified: usize,
    shutdown: bool,
    handles: Vec<std::thread::JoinHandle<()>>,
}

thread_local! {
    /// The pool this thread belongs to (its address), 0 elsewhere.
    static POOL: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn lock(m: &Mutex<PoolState>) -> std::sync::MutexGuard<'_, PoolState> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Blocking tasks run once and never wait, so they are never rescheduled.
#[derive(Clone, Copy)]
struct BlockingSchedule;

impl Schedule for BlockingSchedule {
    const BLOCKING: bool = true;

    fn schedule(&self, task: Notified) {
        // Unreachable in practice (a blocking task is never idle); dropping
        // shuts it down rather than losing it silently.
        drop(task);
    }
    fn requeue(&self, task: Notified) {
        drop(task);
    }
    fn count_completed(&self) {}
}

/// The future a blocking closure is wrapped in: calls it on first poll.
struct BlockingTask<F>(Option<F>);

impl<F> BlockingTask<F> {
    fn new(f: F) -> Self {
        BlockingTask(Some(f))
    }
}

// The closure is never pinned: it is moved out before being called.
impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingTask<F> {
    type Output = R;
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self
            .0
            .take()
            .expect("blocking task polled after completion");
        // Blocking code has no poll to yield from: a budget set for this
        // poll would make gort futures inside a nested executor's
        // `block_on` return `Pending` forever once spent.
        Poll::Ready(gort_coop::with_unconstrained(f))
    }
}

/// What the blocking pool holds at one moment (under its lock).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PoolCounts {
    /// Threads alive.
    pub(crate) threads: usize,
    /// Threads waiting for work.
    pub(crate) idle: usize,
    /// Blocking tasks not yet taken by a thread.
    pub(crate) queued: usize,
}

impl BlockingPool {
    /// Threads, idle threads and queued work, read under the pool's lock.
    pub(crate) fn counts(&self) -> PoolCounts {
        let state = lock(&self.inner.state);
        PoolCounts {
            threads: state.threads,
            idle: state.idle,
            queued: state.queue.len(),
        }
    }

    pub(crate) fn new(thread_name: String, keep_alive: Duration) -> Self {
        BlockingPool {
            inner: Arc::new(PoolInner {
                state: Mutex::new(PoolState::default()),
                work_cv: Condvar::new(),
                exit_cv: Condvar::new(),
                thread_name,
                keep_alive,
            }),
        }
    }

    /// Makes `f` a task of this pool and queues it (`spawn_blocking`).
    pub(crate) fn spawn_fn<F, R>(
        &self,
        f: F,
        handle: &Handle,
        location: &'static std::panic::Location<'static>,
    ) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let id = Id::next();
        tracing::trace!(target: "gort::task", task_id = id.0, spawned_at = %location, "spawn_blocking");
        let site = task::SpawnSite::new(location, None);
        let (notified, join) = task::new_task(BlockingTask::new(f), BlockingSchedule, id, site);
        if crate::trace::on() {
            crate::trace::runnable(id.0);
        }
        self.spawn(notified, handle);
        join
    }

    /// Queues `task`, waking an idle thread or starting one.
    fn spawn(&self, task: Notified, handle: &Handle) {
        let mut st = lock(&self.inner.state);
        if st.shutdown {
            drop(st);
            drop(task); // cancelled: the runtime is shutting down
            return;
        }
        st.queue.push_back(task);
        if st.idle > 0 {
            st.idle -= 1;
            st.notified += 1;
            self.inner.work_cv.notify_one();
        } else if st.threads < THREAD_CAP {
            let inner = self.inner.clone();
            let handle = handle.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("{}-blocking", self.inner.thread_name))
                .spawn(move || inner.run(handle));
            match spawned {
                Ok(join) => {
                    st.threads += 1;
                    st.handles.push(join);
                }
                Err(e) if st.threads == 0 => {
                    let task = st.queue.pop_back();
                    drop(st);
                    drop(task);
                    panic!("gort: cannot start a blocking-pool thread: {e}");
                }
                // Others will get to the task.
                Err(_) => {}
            }
        }
    }

    /// Stops taking tasks, cancels the queued ones and tells the threads to
    /// exit when their current task ends.
    pub(crate) fn shutdown(&self) {
        let queued = {
            let mut st = lock(&self.inner.state);
            st.shutdown = true;
            std::mem::take(&mut st.queue)
        };
        self.inner.work_cv.notify_all();
        drop(queued);
    }

    /// Waits for the threads to exit, until `deadline`. `true` if all did.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> bool {
        // A runtime dropped from inside one of its own blocking tasks must
        // not wait for the thread it runs on.
        let me = POOL.with(|p| p.get()) == Arc::as_ptr(&self.inner) as usize;
        let mut st = lock(&self.inner.state);
        while st.threads > me as usize {
            st = match deadline {
                None => self
                    .inner
                    .exit_cv
                    .wait(st)
                    .unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    self.inner
                        .exit_cv
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
        let handles = std::mem::take(&mut st.handles);
        drop(st);
        let me = std::thread::current().id();
        for h in handles {
            if h.thread().id() != me {
                let _ = h.join();
            }
        }
        true
    }
}

impl PoolInner {
    fn run(self: Arc<Self>, handle: Handle) {
        POOL.with(|p| p.set(Arc::as_ptr(&self) as usize));
        let _enter = context::enter(handle);
        #[cfg(all(feature = "tokio-compat", not(loom)))]
        let _tokio = crate::tokio_compat::enter();
        let mut st = lock(&self.state);
        loop {
            if let Some(task) = st.queue.pop_front() {
                drop(st);
                task.run(false);
                st = lock(&self.state);
                continue;
            }
            if st.shutdown {
                break;
            }
            st.idle += 1;
            let (guard, res) = self
                .work_cv
                .wait_timeout(st, self.keep_alive)
                .unwrap_or_else(|e| e.into_inner());
            st = guard;
            if st.notified > 0 {
                // A spawn claimed an idle thread (and took it off `idle`).
                st.notified -= 1;
            } else {
                st.idle -= 1;
                if res.timed_out() && st.queue.is_empty() && !st.shutdown {
                    break;
                }
            }
        }
        st.threads -= 1;
        if !st.shutdown {
            // Exiting on idleness: detach our own handle.
            let me = std::thread::current().id();
            st.handles.retain(|h| h.thread().id() != me);
        }
        drop(st);
        self.exit_cv.notify_all();
    }
}
