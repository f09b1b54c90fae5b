//! Go's M: a worker thread that holds one processor and runs its tasks.
//!
//! The loop (Go's `schedule` + `findRunnable`):
//!
//! 1. Every 61st tick take a batch from the injector first (fairness for
//!    remote spawns; the batch goes to the ring tail, behind tasks that
//!    yielded). Then the LIFO slot, then the ring.
//! 2. After each task, run the LIFO slot's task, at most
//!    `MAX_LIFO_POLLS` in a row; then the LIFO task moves to the ring tail.
//! 3. Local work exhausted: take a batch from the injector
//!    (`min(128, len / P + 1)`), then become a searcher (at most half of the
//!    unparked workers) and steal half a victim's ring, victims in random
//!    order, LIFO slots only on the last pass; then, if nobody is driving
//!    the reactor, a non-blocking turn of it. (Go polls the network before
//!    stealing; stealing first serves tasks already waiting in a busy
//!    worker's ring before newly ready ones: see ARCHITECTURE.md,
//!    "Departures".)
//! 4. Nothing: park (every parking worker re-checks every queue first).
//!
//! Shutdown, in order: `close` sets the flag and unparks everyone; each
//! worker finishes its current poll, drops (cancels) everything in its own
//! ring and LIFO slot, lets go of its registry and counts itself out; the
//! last one out cancels what is left in the injector and every registry.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::context;
use crate::loom::atomic::{fence, Ordering::SeqCst};
use crate::netpoll;
use crate::processor::{
    random_order, Processor, INJECTOR_BATCH_MAX, INJECTOR_CHECK_INTERVAL, MAX_LIFO_POLLS,
};
use crate::queue::Local;
use crate::runtime::Handle;
use crate::scheduler::{Scheduler, Shared};
use crate::task::{Notified, RegistryOwner};

/// Pause between two chunks of an idle trim of the task free lists (see
/// `Worker::trim_while_idle`): about 33 chunks a second per trimming
/// worker, each a few tens of microseconds.
#[cfg(not(loom))]
const TRIM_PAUSE: std::time::Duration = std::time::Duration::from_millis(30);
/// A running worker: its scheduler and its processor.
pub(crate) struct Worker {
    pub(crate) scheduler: Scheduler,
    pub(crate) processor: Processor,
    /// Spare clones of `scheduler` for new tasks. Every task holds one
    /// (8 bytes, it keeps the runtime's shared state alive); cloning and
    /// dropping one per task would bounce the `Arc`'s count between the
    /// core that spawns and the core that frees. Clones are interchangeable,
    /// so a worker refills and trims this cache in batches instead.
    handles: RefCell<Vec<Scheduler>>,
    /// Set while this (parked) worker drives the reactor: tasks that the
    /// turn wakes go to the ring, and the worker takes itself out of the
    /// sleepers afterwards to run them (tokio's driver-owning worker does
    /// the same; going through the injector cost a self-notification).
    pub(crate) driving: Cell<bool>,
    /// Set when a task was scheduled while `driving`. Both flags are
    /// written only by `netpoll::Turn::run`.
    pub(crate) driving_woke: Cell<bool>,
}

/// Scheduler handles a worker clones at once when its cache is empty.
const HANDLE_REFILL: usize = 64;
/// Most handles a worker caches; beyond, it drops half in one go.
const HANDLE_CACHE_MAX: usize = 512;

thread_local! {
    /// The worker running on this thread, if any.
    static CURRENT: RefCell<Option<Rc<Worker>>> = const { RefCell::new(None) };
}

/// Calls `f` with the worker of this thread (`None` off worker threads).
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Worker>) -> R) -> R {
    let mut f = Some(f);
    CURRENT
        .try_with(|c| {
            let w = c.borrow();
            (f.take().unwrap())(w.as_deref())
        })
        // During thread-local teardown: behave as a foreign thread.
        .unwrap_or_else(|_| (f.take().unwrap())(None))
}

/// `true` on a worker thread of any gort runtime.
pub(crate) fn is_worker_thread() -> bool {
    with_current(|w| w.is_some())
}

/// The body of worker thread `index`.
pub(crate) fn run(scheduler: Scheduler, index: usize, local: Local) {
    let worker = Rc::new(Worker {
        processor: Processor::new(index, local),
        scheduler: scheduler.clone(),
        handles: RefCell::new(Vec::with_capacity(HANDLE_CACHE_MAX)),
        driving: Cell::new(false),
        driving_woke: Cell::new(false),
    });
    CURRENT.with(|c| *c.borrow_mut() = Some(worker.clone()));
    crate::task::alloc::enable_thread_cache();
    let _enter = context::enter(Handle::from_scheduler(scheduler.clone()));
    // Declared before the registry owner so that it drops after it: the
    // last worker out claims every registry.
    let _exit = ExitGuard {
        worker: Some(worker.clone()),
        scheduler: scheduler.clone(),
    };
    let owner = scheduler.shared().processors[index]
        .registry
        .claim()
        .expect("a processor's registry is claimed twice");
    worker.run(&owner);
}

/// Leaves the worker loop, normally or (should a bug panic out of the
/// loop) by unwinding: the processor's queued tasks are cancelled at
/// shutdown, or handed to the injector if the runtime lives on, and the
/// worker always counts itself out so that the final drain still happens.
struct ExitGuard {
    worker: Option<Rc<Worker>>,
    scheduler: Scheduler,
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        let shared = self.scheduler.shared();
        if let Some(worker) = self.worker.take() {
            if std::thread::panicking() && !shared.is_closed() {
                worker.requeue_local();
            } else {
                worker.drain_local();
            }
            CURRENT.with(|c| c.borrow_mut().take());
        }
        // Drops of cancelled tasks from here on take the remote path.
        shared.worker_exited();
    }
}

impl Worker {
    fn shared(&self) -> &Shared {
        self.scheduler.shared()
    }

    /// A clone of the scheduler handle for a new task, from the cache.
    pub(crate) fn take_handle(&self) -> Scheduler {
        let mut handles = self.handles.borrow_mut();
        if handles.is_empty() {
            handles.extend(std::iter::repeat_with(|| self.scheduler.clone()).take(HANDLE_REFILL));
        }
        handles.pop().expect("refilled above")
    }

    /// Takes back a freed task's scheduler handle.
    pub(crate) fn put_handle(&self, handle: Scheduler) {
        let excess = {
            let mut handles = self.handles.borrow_mut();
            handles.push(handle);
            if handles.len() > HANDLE_CACHE_MAX {
                handles.split_off(HANDLE_CACHE_MAX / 2)
            } else {
                Vec::new()
            }
        };
        drop(excess);
    }

    fn run(&self, owner: &RegistryOwner<'_>) {
        let shared = self.shared();
        loop {
            if shared.is_closed() {
                return;
            }
            let tick = self.processor.next_tick();
            if let Some(task) = self.next_local_task(tick) {
                self.run_task(task, owner);
                continue;
            }
            if let Some(task) = self.find_work() {
                self.run_task(task, owner);
                continue;
            }
            if shared.is_closed() {
                return;
            }
            self.park();
        }
    }

    fn next_local_task(&self, tick: u32) -> Option<Notified> {
        let shared = self.shared();
        if tick % INJECTOR_CHECK_INTERVAL == 0 {
            // I/O and timers must not wait for this worker to go idle
            // (tokio's maintenance tick). What the turn woke is new
            // stealable work: wake a parked worker for it.
            if self.poll_reactor_into_ring() {
                shared.notify_parked();
            }
            // A batch, not one task: tasks that yield go back to this ring,
            // so a ring that never empties would otherwise admit one remote
            // task per 61 polls.
            if let Some(task) = self.take_from_injector() {
                return Some(task);
            }
        }
        let p = &shared.processors[self.processor.index];
        p.lifo.take().or_else(|| self.processor.local.pop())
    }

    /// Step 3 of the loop: injector batch, then steal, then a non-blocking
    /// reactor turn if nobody is driving.
    fn find_work(&self) -> Option<Notified> {
        if let Some(task) = self.take_from_injector() {
            return Some(task);
        }
        let shared = self.shared();
        if !self.processor.is_searching.get() {
            if !shared.idle.transition_worker_to_searching() {
                return None;
            }
            self.processor.is_searching.set(true);
        }
        self.steal_work()
            .or_else(|| self.take_from_injector())
            .or_else(|| self.poll_reactor())
    }

    /// A non-blocking reactor turn, if nobody is driving; the tasks it
    /// wakes join this ring (or overflow to the injector). `true` if it
    /// woke any.
    fn poll_reactor_into_ring(&self) -> bool {
        netpoll::try_turn().is_some_and(|turn| turn.run(self, Some(std::time::Duration::ZERO)))
    }

    /// [`poll_reactor_into_ring`](Self::poll_reactor_into_ring), then one
    /// of the woken tasks to run (the rest stay stealable, and a worker is
    /// woken for them).
    fn poll_reactor(&self) -> Option<Notified> {
        self.poll_reactor_into_ring();
        let task = self.processor.local.pop()?;
        if !self.processor.local.is_empty() {
            self.shared().notify_parked();
        }
        Some(task)
    }

    /// Takes `min(128, len / P + 1)` tasks from the injector: one to run,
    /// the rest into the (empty) ring.
    fn take_from_injector(&self) -> Option<Notified> {
        let shared = self.shared();
        if shared.injector.is_empty() {
            return None;
        }
        let first = shared.injector.pop()?;
        // The ring had room for the whole batch; `first` runs now.
        self.move_injector_batch(self.processor.local.remaining(), 1);
        Some(first)
    }

    /// Moves up to `min(128, len / P + 1, room) - already` tasks from the
    /// injector to the ring tail (Go's `globrunqget`), waking a worker if
    /// any moved: the ring now holds stealable work.
    fn move_injector_batch(&self, room: usize, already: usize) {
        let shared = self.shared();
        let n = (shared.injector.len() / shared.processors.len() + 1)
            .min(INJECTOR_BATCH_MAX)
            .min(room)
            .saturating_sub(already);
        let mut moved = false;
        for _ in 0..n {
            let Some(task) = shared.injector.pop() else {
                break;
            };
            self.processor
                .local
                .push_back_or_overflow(task, &shared.injector);
            moved = true;
        }
        if moved {
            shared.notify_parked();
        }
    }

    fn steal_work(&self) -> Option<Notified> {
        let shared = self.shared();
        let me = self.processor.index;
        let n = shared.processors.len();
        const PASSES: usize = 2;
        for pass in 0..PASSES {
            for victim in random_order(n, self.processor.random()) {
                if victim == me {
                    continue;
                }
                let p = &shared.processors[victim];
                if let Some(task) = p.steal.steal_into(&self.processor.local) {
                    tracing::trace!(target: "gort::scheduler", worker = me, victim, task_id = task.id().0, "steal");
                    return Some(task);
                }
                if pass == PASSES - 1 {
                    if let Some(task) = p.lifo.take() {
                        tracing::trace!(target: "gort::scheduler", worker = me, victim, task_id = task.id().0, "steal runnext");
                        return Some(task);
                    }
                }
            }
        }
        None
    }

    fn run_task(&self, task: Notified, owner: &RegistryOwner<'_>) {
        let shared = self.shared();
        if self.processor.is_searching.replace(false)
            && shared.idle.transition_worker_from_searching()
        {
            // The last searcher found work: wake another to keep looking.
            shared.notify_parked();
        }
        task.run(Some(owner));
        let lifo = &shared.processors[self.processor.index].lifo;
        let mut polls = 0;
        while let Some(task) = lifo.take() {
            if polls == MAX_LIFO_POLLS || shared.is_closed() {
                self.push_back(task);
                break;
            }
            polls += 1;
            task.run(Some(owner));
        }
    }

    /// Makes a task runnable on this processor: into the LIFO slot (the
    /// displaced task goes to the ring) or to the ring tail.
    pub(crate) fn schedule_local(&self, task: Notified, lifo: bool) {
        // Under `--cfg gort_randomize` the LIFO slot is skipped half the
        // time, as Go's race mode randomizes `runnext`, to shake out code
        // that depends on the order in which tasks run.
        #[cfg(gort_randomize)]
        let lifo = lifo && self.processor.random() & 1 == 0;
        if lifo {
            let slot = &self.shared().processors[self.processor.index].lifo;
            if let Some(prev) = slot.push(task) {
                self.push_back(prev);
            }
        } else {
            self.push_back(task);
        }
    }

    /// A task woken during its own poll (`yield_now`): it goes behind all
    /// runnable work. Go's `Gosched` puts it on the global queue; we keep it
    /// in the ring (no shared queue on the yield path) but first move a
    /// batch of the injector's tasks in ahead of it, so that remote work
    /// is not stuck behind tasks that keep yielding.
    ///
    /// Like `Gosched`, a yield wakes nobody: this worker is running and
    /// comes back to the task itself. (Moving injector tasks in does wake a
    /// worker: that is new stealable work.)
    pub(crate) fn yield_local(&self, task: Notified) {
        let shared = self.shared();
        if !shared.injector.is_empty() {
            // Keep one slot for the yielding task itself.
            let room = self.processor.local.remaining().saturating_sub(1);
            self.move_injector_batch(room, 0);
        }
        self.processor
            .local
            .push_back_or_overflow(task, &shared.injector);
    }

    fn push_back(&self, task: Notified) {
        let shared = self.shared();
        self.processor
            .local
            .push_back_or_overflow(task, &shared.injector);
        shared.notify_parked();
    }

    fn park(&self) {
        let shared = self.shared();
        let index = self.processor.index;
        let was_searching = self.processor.is_searching.replace(false);
        let last_searcher = shared
            .idle
            .transition_worker_to_parked(index, was_searching);
        // Look once more after leaving the counts. The last searcher must
        // (nobody else would notice work pushed while it was leaving); any
        // other worker does too, because a searcher may have moved work into
        // its ring and stopped searching without waking anyone while we were
        // on our way here, and that work would wait behind a long poll. One
        // fence and one scan, on the park path only.
        fence(SeqCst);
        if shared.has_work_anywhere() {
            shared.notify_parked();
        }
        tracing::trace!(target: "gort::scheduler", worker = index, last_searcher, "park");
        loop {
            let woke_tasks = self.park_or_drive(self.trim_while_idle());
            if shared.is_closed() {
                return;
            }
            if woke_tasks {
                // Run what the reactor turn woke. Leave the sleepers (unless
                // a notifier already took us out, counting us as searching),
                // and let another worker help if there is more than one.
                let notified = !shared.idle.unpark_self(index);
                self.processor.is_searching.set(notified);
                if self.processor.local.len() > 1 || !shared.injector.is_empty() {
                    shared.notify_parked();
                }
                tracing::trace!(target: "gort::scheduler", worker = index, "unparked by the reactor");
                return;
            }
            if !shared.idle.is_parked(index) {
                // Notified: the notifier counted us as unparked and searching.
                self.processor.is_searching.set(true);
                tracing::trace!(target: "gort::scheduler", worker = index, "unparked");
                return;
            }
        }
    }

    /// While every worker is parked, gives a chunk of the task free lists'
    /// excess back to the allocator (stopping as soon as any worker runs or
    /// this one is woken). Returns how long to park before the next chunk:
    /// `None` when there is nothing more to give back.
    fn trim_while_idle(&self) -> Option<std::time::Duration> {
        #[cfg(not(loom))]
        {
            let shared = self.shared();
            let index = self.processor.index;
            let idle =
                || shared.idle.all_parked() && shared.idle.is_parked(index) && !shared.is_closed();
            if idle() && crate::task::alloc::trim_idle(crate::task::alloc::TRIM_CHUNK, idle) {
                return Some(TRIM_PAUSE);
            }
        }
        None
    }

    /// Parks (for at most `timeout`); the first idle worker drives the
    /// reactor meanwhile. Tasks the turn wakes land in this processor's
    /// ring (`schedule_driving`); `true` if there are any, for the caller
    /// to run.
    fn park_or_drive(&self, timeout: Option<std::time::Duration>) -> bool {
        let parker = &self.shared().processors[self.processor.index].parker;
        match netpoll::try_turn() {
            Some(turn) => parker.park_turning(turn, self, timeout),
            None => {
                parker.park(timeout);
                false
            }
        }
    }

    /// A task woken by this worker's reactor turn: to the ring tail, waking
    /// nobody yet (see `park`).
    pub(crate) fn schedule_driving(&self, task: Notified) {
        self.driving_woke.set(true);
        self.processor
            .local
            .push_back_or_overflow(task, &self.shared().injector);
    }

    /// Moves every task queued on this processor to the injector (a dying
    /// worker of a live runtime).
    fn requeue_local(&self) {
        let shared = self.shared();
        let lifo = &shared.processors[self.processor.index].lifo;
        while let Some(task) = lifo.take().or_else(|| self.processor.local.pop()) {
            shared.injector.push(task);
        }
        shared.notify_parked();
    }

    /// Cancels every task queued on this processor (shutdown).
    fn drain_local(&self) {
        let lifo = &self.shared().processors[self.processor.index].lifo;
        loop {
            let task = lifo.take().or_else(|| self.processor.local.pop());
            match task {
                Some(task) => drop(task),
                None => break,
            }
        }
    }
}
