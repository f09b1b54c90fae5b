//! `RuntimeMetrics`: counters read from a live runtime.
//!
//! Every counter is kept where it is written (a processor's own cache
//! lines, written only by its worker, or the scheduler's remote counters)
//! and summed when read: nothing on a hot path takes a lock or does a
//! read-modify-write for metrics. A read is therefore not a snapshot:
//! counters read one after another may be from slightly different moments.

use std::fmt;
use std::time::Duration;

use crate::loom::atomic::Ordering::Relaxed;
use crate::netpoll;
use crate::processor::ProcessorShared;
use crate::scheduler::Scheduler;

/// Counters of one runtime, read live (tokio's `RuntimeMetrics`, Go's
/// `runtime/metrics`).
///
/// Obtained from [`Handle::metrics`](crate::runtime::Handle::metrics); a
/// cheap handle that reads the runtime's counters each time a method is
/// called. Where tokio's `RuntimeMetrics` has a method of the same name it
/// has the same meaning.
///
/// **Workers and processors.** A worker's counters are those of the
/// processor it runs; `i` in `worker_*(i)` is a processor index. There are
/// [`num_workers`](Self::num_workers) processors when the runtime starts;
/// sysmon adds one for each thread it starts to take over from a blocked
/// worker, so [`num_processors`](Self::num_processors) may be larger, and
/// the `worker_*` methods accept any index below it.
///
/// Counters only grow (they wrap at `u64::MAX`); the gauges (queue depth,
/// live tasks, threads, timers, registrations) go up and down.
///
/// # Examples
///
/// ```
/// let rt = gort::runtime::Builder::new().worker_threads(2).build().unwrap();
/// rt.block_on(async {
///     let handles: Vec<_> = (0..10).map(|i| gort::spawn(async move { i })).collect();
///     for h in handles {
///         h.await.unwrap();
///     }
/// });
/// let m = rt.handle().metrics();
/// assert_eq!(m.num_workers(), 2);
/// assert_eq!(m.spawned_tasks_count(), 10);
/// assert_eq!(m.completed_tasks_count(), 10);
/// assert_eq!(m.num_goroutines(), 0);
/// let polls: u64 = (0..m.num_processors()).map(|i| m.worker_poll_count(i)).sum();
/// assert!(polls >= 10);
/// ```
#[derive(Clone)]
pub struct RuntimeMetrics {
    scheduler: Scheduler,
}

impl RuntimeMetrics {
    pub(crate) fn new(scheduler: Scheduler) -> Self {
        RuntimeMetrics { scheduler }
    }

    fn processor(&self, worker: usize) -> &ProcessorShared {
        let processors = &self.scheduler.shared().processors;
        let n = processors.len();
        assert!(
            worker < n,
            "worker index {worker} out of range: the runtime has {n} processors"
        );
        processors.get(worker)
    }

    /// Run permits: the `worker_threads` setting (Go's
    /// `/sched/gomaxprocs:threads`).
    pub fn num_workers(&self) -> usize {
        self.scheduler.shared().num_workers()
    }

    /// Processors made so far: [`num_workers`](Self::num_workers) plus one
    /// for each thread sysmon started beyond them.
    pub fn num_processors(&self) -> usize {
        self.scheduler.shared().processors.len()
    }

    /// Tasks spawned on this runtime (blocking tasks excluded).
    pub fn spawned_tasks_count(&self) -> u64 {
        self.scheduler.spawn_counts().0
    }

    /// Tasks of this runtime that completed: returned, panicked or were
    /// cancelled.
    pub fn completed_tasks_count(&self) -> u64 {
        self.scheduler.spawn_counts().1
    }

    /// Tasks spawned and not yet completed (Go's
    /// `/sched/goroutines:goroutines`; the same as
    /// [`Handle::num_goroutines`](crate::runtime::Handle::num_goroutines)).
    pub fn num_goroutines(&self) -> usize {
        self.scheduler.num_goroutines()
    }

    /// Tasks waiting in the injector, the global queue that tasks spawned
    /// or woken outside the workers go to.
    pub fn global_queue_depth(&self) -> usize {
        self.scheduler.shared().injector.len()
    }

    /// Tasks in worker `worker`'s ring now (its LIFO slot not included).
    ///
    /// # Panics
    ///
    /// If `worker >= num_processors()`, as every `worker_*` method.
    pub fn worker_local_queue_depth(&self, worker: usize) -> usize {
        self.processor(worker).steal.len()
    }

    /// Polls of tasks on worker `worker`.
    pub fn worker_poll_count(&self, worker: usize) -> u64 {
        self.processor(worker).poll.count()
    }

    /// Successful steal operations by worker `worker` (each takes half a
    /// victim's ring, or its LIFO slot).
    pub fn worker_steal_count(&self, worker: usize) -> u64 {
        self.processor(worker).counters.steals.load(Relaxed)
    }

    /// Times worker `worker` parked (ran out of work and went to sleep, or
    /// to drive the reactor).
    pub fn worker_park_count(&self, worker: usize) -> u64 {
        self.processor(worker).counters.parks.load(Relaxed)
    }

    /// Time worker `worker` spent unparked (running tasks or looking for
    /// them), up to its last park or hand-off: a stretch still going on
    /// is not counted yet.
    pub fn worker_total_busy_duration(&self, worker: usize) -> Duration {
        Duration::from_nanos(self.processor(worker).counters.busy_ns.load(Relaxed))
    }

    /// Tasks worker `worker` ran from its LIFO slot (Go's `runnext`): a
    /// task woken or spawned by the task before it on the same worker.
    pub fn worker_lifo_hits(&self, worker: usize) -> u64 {
        self.processor(worker).counters.lifo_hits.load(Relaxed)
    }

    /// Polls that ended because the task's cooperative budget was spent
    /// (a gort future made it yield), summed over the workers.
    pub fn budget_forced_yields(&self) -> u64 {
        self.scheduler
            .shared()
            .processors
            .iter()
            .map(|p| p.counters.forced_yields.load(Relaxed))
            .fold(0, u64::wrapping_add)
    }

    /// Times sysmon took a run permit from a worker stuck in one poll and
    /// gave it to another thread.
    pub fn sysmon_retakes(&self) -> u64 {
        self.scheduler.shared().sysmon.retakes()
    }

    /// Threads in the blocking pool (`spawn_blocking`), busy or idle.
    pub fn num_blocking_threads(&self) -> usize {
        self.scheduler.shared().blocking.counts().threads
    }

    /// Blocking-pool threads waiting for work.
    pub fn num_idle_blocking_threads(&self) -> usize {
        self.scheduler.shared().blocking.counts().idle
    }

    /// Blocking tasks queued and not yet started by a thread.
    pub fn blocking_queue_depth(&self) -> usize {
        self.scheduler.shared().blocking.counts().queued
    }

    /// Timers started and not yet fired or dropped (`sleep`, `timeout`,
    /// `interval`). The reactor is shared by every gort runtime in the
    /// process, so this counts theirs too.
    pub fn timers_pending(&self) -> usize {
        netpoll::timers_pending()
    }

    /// Sockets and listeners registered with the reactor (process-wide,
    /// as [`timers_pending`](Self::timers_pending)).
    pub fn io_registrations(&self) -> usize {
        netpoll::io_registrations()
    }

    /// `async fn` I/O operations (`accept`, `recv_from`, `send_to`, ...)
    /// waiting for their socket to become ready (process-wide). An
    /// operation whose future is dropped, by a timeout for example, is no
    /// longer counted.
    pub fn io_waiters(&self) -> usize {
        netpoll::io_waiters()
    }
}

impl fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.num_processors();
        let sum =
            |g: fn(&Self, usize) -> u64| (0..n).map(|i| g(self, i)).fold(0, u64::wrapping_add);
        f.debug_struct("RuntimeMetrics")
            .field("num_workers", &self.num_workers())
            .field("num_processors", &n)
            .field("num_goroutines", &self.num_goroutines())
            .field("spawned_tasks_count", &self.spawned_tasks_count())
            .field("completed_tasks_count", &self.completed_tasks_count())
            .field("global_queue_depth", &self.global_queue_depth())
            .field("polls", &sum(Self::worker_poll_count))
            .field("steals", &sum(Self::worker_steal_count))
            .field("parks", &sum(Self::worker_park_count))
            .field("lifo_hits", &sum(Self::worker_lifo_hits))
            .field("budget_forced_yields", &self.budget_forced_yields())
            .field("sysmon_retakes", &self.sysmon_retakes())
            .field("num_blocking_threads", &self.num_blocking_threads())
            .field("timers_pending", &self.timers_pending())
            .field("io_registrations", &self.io_registrations())
            .field("io_waiters", &self.io_waiters())
            .finish()
    }
}
