//! Loom models of the concurrency cores. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p gort-executor --release --lib`
//! (see `.ci/run`). Under loom the ring holds 4 tasks and the injector is a
//! mutex-guarded deque.

mod loom_idle;
mod loom_queue;
mod loom_registry;
mod loom_scheduler;
mod loom_task;

use std::collections::VecDeque;
use std::future::Future;

use crate::loom::{lock, Arc, Mutex};
use crate::task::{self, Id, JoinHandle, Notified, Schedule};

/// A scheduler that just queues what it is given.
#[derive(Clone)]
pub(crate) struct QueueSched(pub(crate) Arc<Mutex<VecDeque<Notified>>>);

impl QueueSched {
    pub(crate) fn new() -> Self {
        QueueSched(Arc::new(Mutex::new(VecDeque::new())))
    }

    pub(crate) fn pop(&self) -> Option<Notified> {
        lock(&self.0).pop_front()
    }

    /// Runs queued tasks until the queue is empty.
    pub(crate) fn run_all(&self) {
        while let Some(t) = self.pop() {
            t.run(false);
        }
    }
}

impl Schedule for QueueSched {
    fn schedule(&self, task: Notified) {
        lock(&self.0).push_back(task);
    }
    fn requeue(&self, task: Notified) {
        lock(&self.0).push_back(task);
    }
    fn count_completed(&self) {}
    fn runtime_id(&self) -> usize {
        Arc::as_ptr(&self.0).addr()
    }
}

pub(crate) fn spawn_on<F>(sched: &QueueSched, id: u64, f: F) -> (Notified, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    task::new_task(
        f,
        sched.clone(),
        Id(id),
        task::SpawnSite::new(std::panic::Location::caller(), None),
    )
}

/// Polls a future once with a no-op waker.
pub(crate) fn poll_once<F: Future + Unpin>(f: &mut F) -> std::task::Poll<F::Output> {
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    std::pin::Pin::new(f).poll(&mut cx)
}
