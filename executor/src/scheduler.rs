//! Go's `sched`: the global injector, the processors, the idle set, and
//! the rules for where a runnable task goes.
//!
//! | caller                               | task goes to                         |
//! |--------------------------------------|--------------------------------------|
//! | spawn / wake on a worker of this scheduler | that P's LIFO slot; the task it displaces to the ring tail |
//! | a task woken during its own poll (`yield_now`) | the ring tail, behind runnable work |
//! | any other thread                     | the injector                         |
//!
//! A push to a ring or the injector may wake one parked worker (`idle.rs`);
//! a LIFO push wakes nobody.

use std::future::Future;
use std::panic::Location;
use std::time::{Duration, Instant};

use gort_reactor::__netpoll::Clock;

use crate::blocking::BlockingPool;
use crate::deadlock::{Deadlock, OnDeadlock};
use crate::idle::Idle;
use crate::injector::Injector;
use crate::loom::atomic::{fence, AtomicBool, AtomicUsize, Ordering::*};
use crate::loom::{lock, Arc, Condvar, Mutex};
use crate::pad::CachePadded;
use crate::processor::{Counter, Processor, Processors};
use crate::runtime::UnhandledPanic;
use crate::sysmon::Sysmon;
use crate::task::{self, Id, JoinHandle, Notified, Schedule, SpawnSite};
use crate::worker;

/// Settings fixed at build time.
pub(crate) struct Config {
    pub(crate) thread_name: String,
    /// How long a poll may hold its processor before sysmon retakes it.
    pub(crate) blocking_threshold: Duration,
    /// Most worker threads alive at once, with or without a processor's
    /// run permit.
    pub(crate) max_threads: usize,
    /// How long a spare worker thread (or an idle blocking thread) waits
    /// for work before it exits.
    pub(crate) keep_alive: Duration,
    /// What a deadlock does.
    pub(crate) on_deadlock: OnDeadlock,
    /// What a panic no `JoinHandle` sees does.
    pub(crate) unhandled_panic: UnhandledPanic,
    /// The virtual clock of a paused runtime (`Builder::start_paused`).
    pub(crate) clock: Option<std::sync::Arc<Clock>>,
}

/// State shared by every thread of one runtime.
pub(crate) struct Shared {
    /// Every processor; the first `num_workers` hold the run permits at
    /// the start (see `sysmon.rs`).
    pub(crate) processors: Processors,
    /// Run permits: processors running tasks at once (Go's `GOMAXPROCS`).
    num_workers: usize,
    pub(crate) injector: Injector,
    /// Read by every notify, written when workers park and wake.
    pub(crate) idle: CachePadded<Idle>,
    pub(crate) blocking: BlockingPool,
    pub(crate) sysmon: Sysmon,
    /// Who to wake to check for a deadlock (see `deadlock.rs`).
    pub(crate) deadlock: Deadlock,
    pub(crate) config: Config,
    /// Set once by `close`; no task is polled after the workers see it.
    /// Read on every turn of every worker's loop: kept off the lines that
    /// spawns and completions write.
    closed: CachePadded<AtomicBool>,
    /// Worker threads that have not finished exiting (with or without a
    /// run permit); the last one out drains.
    pub(crate) workers_alive: AtomicUsize,
    /// Set (and notified) when the final drain is done.
    drained: Mutex<bool>,
    drained_cv: Condvar,
    /// Spawns and completions not made on a worker of this runtime.
    remote_spawned: CachePadded<Counter>,
    remote_completed: CachePadded<Counter>,
}

/// A handle to the scheduler, held by every task (8 bytes).
#[derive(Clone)]
pub(crate) struct Scheduler(pub(crate) Arc<Shared>);

impl Scheduler {
    /// Creates the shared state and the first `num_workers` processors,
    /// one for each worker thread the caller starts (boxed, as a worker
    /// thread owns its processor).
    #[allow(clippy::vec_box)]
    pub(crate) fn new(num_workers: usize, config: Config) -> (Scheduler, Vec<Box<Processor>>) {
        let processors = Processors::new(config.max_threads);
        let owned: Vec<Box<Processor>> = (0..num_workers)
            .map(|_| {
                processors
                    .acquire()
                    .expect("max_threads is at least worker_threads")
            })
            .collect();
        let blocking = BlockingPool::new(config.thread_name.clone(), config.keep_alive);
        let shared = Shared {
            processors,
            num_workers,
            injector: Injector::new(),
            idle: CachePadded(Idle::new(num_workers)),
            blocking,
            sysmon: Sysmon::new(),
            deadlock: Deadlock::new(config.on_deadlock),
            config,
            closed: CachePadded(AtomicBool::new(false)),
            workers_alive: AtomicUsize::new(num_workers),
            drained: Mutex::new(false),
            drained_cv: Condvar::new(),
            remote_spawned: CachePadded(Counter::new(0)),
            remote_completed: CachePadded(Counter::new(0)),
        };
        // Idle workers turn the reactor from now on (`netpoll::try_turn`).
        crate::netpoll::runtime_started();
        (Scheduler(Arc::new(shared)), owned)
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.0
    }

    /// The address of the shared state: the same for every clone.
    pub(crate) fn id(&self) -> *const Shared {
        &*self.0
    }

    /// `true` if both are the same scheduler.
    pub(crate) fn ptr_eq(&self, other: &Scheduler) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Go's `newproc`: allocates a task and makes it runnable.
    pub(crate) fn spawn<F>(
        &self,
        future: F,
        location: &'static Location<'static>,
        name: Option<Box<str>>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        worker::with_processor(self.id(), |w| match w {
            Some((_, p)) => {
                let id = p.next_id();
                let (notified, join) = new_task_at(future, p.take_handle(self), id, location, name);
                p.shared.count_spawned();
                p.schedule_local(&self.0, notified, true);
                join
            }
            _ => {
                let id = Id::next();
                let (notified, join) = new_task_at(future, self.clone(), id, location, name);
                self.0.remote_spawned.fetch_add(1, Relaxed);
                self.schedule_remote(notified);
                join
            }
        })
    }

    /// Sends a task to the injector (from a thread that is not one of our
    /// workers) and wakes a worker if none is looking for work.
    pub(crate) fn schedule_remote(&self, task: Notified) {
        let shared = &*self.0;
        if shared.closed.load(Acquire) {
            drop(task); // shuts it down
            return;
        }
        shared.injector.push(task);
        // Pairs with the fence in `close`: either the closer's final drain
        // sees our task or we see `closed` and drain it ourselves.
        fence(SeqCst);
        if shared.closed.load(SeqCst) {
            shared.drain_injector();
            return;
        }
        // The fence above also serves the idle protocol.
        shared.notify_parked_after_fence();
    }

    /// Tasks spawned and tasks completed so far, summed over the
    /// processors and the remote counters. The counters are read one by
    /// one, completions first (a task is counted spawned before it can
    /// complete), so a sum taken while tasks run may mix moments.
    pub(crate) fn spawn_counts(&self) -> (u64, u64) {
        let s = &*self.0;
        let mut completed = s.remote_completed.load(Relaxed);
        for p in s.processors.iter() {
            completed = completed.wrapping_add(p.completed.load(Relaxed));
        }
        let mut spawned = s.remote_spawned.load(Relaxed);
        for p in s.processors.iter() {
            spawned = spawned.wrapping_add(p.spawned.load(Relaxed));
        }
        (spawned, completed)
    }

    /// Live tasks (spawned, not yet completed) of this runtime.
    pub(crate) fn num_goroutines(&self) -> usize {
        let (spawned, completed) = self.spawn_counts();
        // Counters are read one by one; clamp a transiently negative sum.
        (spawned.wrapping_sub(completed) as i64).max(0) as usize
    }
}

/// Allocates a task spawned at `location` (traced as a spawn).
#[inline(always)]
fn new_task_at<F>(
    future: F,
    handle: Scheduler,
    id: Id,
    location: &'static Location<'static>,
    name: Option<Box<str>>,
) -> (Notified, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tracing::trace!(target: "gort::task", task_id = id.0, spawned_at = %location, name = name.as_deref(), "spawn");
    let made = task::new_task(future, handle, id, SpawnSite::new(location, name));
    if crate::trace::on() {
        crate::trace::runnable(id.0);
    }
    made
}

impl Schedule for Scheduler {
    fn runtime_id(&self) -> usize {
        self.0.runtime_id()
    }

    fn schedule(&self, task: Notified) {
        worker::with_processor(self.id(), |w| match w {
            Some((w, p)) => w.schedule(p, task),
            None => self.schedule_remote(task),
        })
    }

    fn requeue(&self, task: Notified) {
        worker::with_processor(self.id(), |w| match w {
            Some((_, p)) => p.yield_local(&self.0, task),
            None => self.schedule_remote(task),
        })
    }

    fn recycle(self) {
        worker::with_processor(self.id(), |w| match w {
            Some((_, p)) => p.put_handle(self),
            None => drop(self),
        })
    }

    fn unhandled_panic(&self, payload: Box<dyn std::any::Any + Send>) {
        match self.0.config.unhandled_panic {
            UnhandledPanic::Ignore => drop(payload),
            UnhandledPanic::ShutdownRuntime => {
                self.0.deadlock.unhandled_panic(payload);
                self.0.close();
            }
        }
    }

    fn forced_yield(&self) {
        worker::with_processor(self.id(), |w| {
            if let Some((_, p)) = w {
                p.forced_yield();
            }
        })
    }

    fn count_completed(&self) {
        worker::with_processor(self.id(), |w| match w {
            Some((_, p)) => p.shared.count_completed(),
            None => {
                self.0.remote_completed.fetch_add(1, Relaxed);
            }
        })
    }
}

impl Shared {
    /// The runtime's id for the registry's walk (`Schedule::runtime_id`):
    /// this shared state's address.
    pub(crate) fn runtime_id(&self) -> usize {
        std::ptr::from_ref(self).addr()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Acquire)
    }

    /// Run permits: the `worker_threads` setting.
    pub(crate) fn num_workers(&self) -> usize {
        self.num_workers
    }

    /// Wakes one parked worker if the idle rules say so.
    pub(crate) fn notify_parked(&self) {
        // Pairs with the fence a parking worker issues before its re-check.
        fence(SeqCst);
        self.notify_parked_after_fence();
    }

    /// `notify_parked` for a caller that already fenced after publishing.
    pub(crate) fn notify_parked_after_fence(&self) {
        if let Some(index) = self.idle.worker_to_notify_after_fence() {
            tracing::trace!(target: "gort::scheduler", worker = index, "unpark");
            self.processors.get(index).parker.unpark();
            self.sysmon.worker_unparked();
        }
    }

    /// `true` if any queue holds a task (a parking worker's re-check).
    pub(crate) fn has_work_anywhere(&self) -> bool {
        !self.injector.is_empty() || self.processors.iter().any(|p| p.has_work())
    }

    /// Starts shutdown: no task is polled after its worker sees this; the
    /// workers drain their queues and the last one drains everything else.
    /// Returns `false` if already closed.
    pub(crate) fn close(&self) -> bool {
        if self.closed.swap(true, SeqCst) {
            return false;
        }
        crate::netpoll::runtime_stopped();
        fence(SeqCst);
        for index in self.idle.unpark_all() {
            self.processors.get(index).parker.unpark();
        }
        self.sysmon.close();
        // Parked workers that were notified earlier still get their token.
        for p in self.processors.iter() {
            p.parker.unpark();
        }
        self.blocking.shutdown();
        true
    }

    pub(crate) fn drain_injector(&self) {
        while let Some(task) = self.injector.pop() {
            drop(task);
        }
    }

    /// Called by each worker after it drained its own queues. The last one
    /// shuts down every task still alive: queued in the injector, or
    /// registered (found by the registry's walk of task memory).
    pub(crate) fn worker_exited(&self) {
        if self.workers_alive.fetch_sub(1, AcqRel) != 1 {
            return;
        }
        self.drain_injector();
        crate::task::registry::shutdown_all(self.runtime_id());
        // Cancelling futures may have woken tasks into the injector.
        self.drain_injector();
        // The task memory this runtime left in the process-wide free lists.
        #[cfg(not(loom))]
        crate::task::alloc::trim_idle(usize::MAX, || true);
        *lock(&self.drained) = true;
        self.drained_cv.notify_all();
    }

    /// Waits until the final drain is done or `deadline` passes.
    pub(crate) fn wait_drained(&self, deadline: Option<Instant>) -> bool {
        let mut done = lock(&self.drained);
        while !*done {
            match deadline {
                None => {
                    done = self
                        .drained_cv
                        .wait(done)
                        .unwrap_or_else(|e| e.into_inner())
                }
                #[cfg(not(loom))]
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    done = self
                        .drained_cv
                        .wait_timeout(done, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                #[cfg(loom)]
                Some(_) => done = self.drained_cv.wait(done).unwrap(),
            }
        }
        true
    }
}
