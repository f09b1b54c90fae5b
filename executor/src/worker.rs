//! Go's M: a worker thread that holds one processor and runs its tasks.
//!
//! The loop (Go's `schedule` + `findRunnable`):
//!
//! 1. Every 61st tick, and after a task that the cooperative budget made
//!    yield (it ran a whole slice), the maintenance first: a non-blocking
//!    look at the reactor (or the due timers), then a batch from the
//!    injector (fairness for remote spawns; the batch goes to the ring
//!    tail, behind tasks that yielded). Then the LIFO slot, then the ring.
//! 2. After each task, run the LIFO slot's task, at most
//!    `MAX_LIFO_POLLS` in a row; then the LIFO task moves to the ring tail,
//!    waking a parked worker only if the ring held other tasks (if not,
//!    it runs next here).
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
//! ring and LIFO slot and counts itself out; the last one out cancels what
//! is left in the injector and every registered task of the runtime (the
//! registry's walk of task memory).

use std::cell::{Cell, RefCell};
use std::ops::{Deref, DerefMut};
use std::rc::Rc;

use crate::context;
use crate::loom::atomic::{fence, Ordering::SeqCst};
use crate::netpoll;
use crate::processor::{random_order, Processor, ProcessorShared, WorkerCounters, MAX_LIFO_POLLS};
use crate::runtime::Handle;
use crate::scheduler::{Scheduler, Shared};
use crate::sysmon::SpareWake;
use crate::task::Notified;

/// Pause between two chunks of an idle trim of the task free lists (see
/// `Held::trim_while_idle`): about 33 chunks a second per trimming
/// worker, each a few tens of microseconds.
#[cfg(not(loom))]
const TRIM_PAUSE: std::time::Duration = std::time::Duration::from_millis(30);

/// A worker thread (Go's M) as the code running on it sees it: its
/// scheduler, and its processor while the worker loop lends it out.
pub(crate) struct Worker {
    pub(crate) scheduler: Scheduler,
    /// The processor, while a task or a reactor turn runs on this thread
    /// (see [`Held::lend`]); `None` while the worker loop itself holds it.
    processor: RefCell<Option<Box<Processor>>>,
    /// Set while this worker turns the reactor: the tasks that the turn
    /// wakes go to the ring, and the worker takes itself out of the
    /// sleepers afterwards to run them (tokio's driver-owning worker does
    /// the same; going through the injector cost a self-notification).
    pub(crate) driving: Cell<bool>,
    /// Set when a task was scheduled while `driving`. Both flags are
    /// written only by `netpoll::Turn::run` and `Worker::schedule`.
    pub(crate) driving_woke: Cell<bool>,
}

crate::loom::thread_local_const! {
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

/// Calls `f` with this thread's processor if this is a worker thread of
/// `scheduler` (a [`Scheduler::id`]) with its processor lent out (a task or
/// a reactor turn is running here); with `None` otherwise: another thread,
/// another runtime, a worker between polls (shutdown dropping tasks), or a
/// call nested inside another's `f` (a destructor run there). `None` means
/// the remote path, which is always correct.
pub(crate) fn with_processor<R>(
    scheduler: *const Shared,
    f: impl FnOnce(Option<(&Worker, &mut Processor)>) -> R,
) -> R {
    with_current(|w| {
        if let Some(w) = w.filter(|w| std::ptr::eq(w.scheduler.id(), scheduler)) {
            if let Ok(mut lent) = w.processor.try_borrow_mut() {
                if let Some(p) = lent.as_deref_mut() {
                    return f(Some((w, p)));
                }
            }
        }
        f(None)
    })
}

/// `true` on a worker thread of any gort runtime.
pub(crate) fn is_worker_thread() -> bool {
    with_current(|w| w.is_some())
}

/// How a worker thread starts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// One of the runtime's first workers: unparked, not searching.
    Initial,
    /// Started by sysmon with a retaken permit: counted as searching.
    Handed,
}

/// Starts a worker thread running `processor`.
pub(crate) fn spawn_thread(
    scheduler: Scheduler,
    processor: Box<Processor>,
    start: Start,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let name = format!(
        "{}-worker-{}",
        scheduler.shared().config.thread_name,
        processor.index
    );
    std::thread::Builder::new()
        .name(name)
        .spawn(move || run(scheduler, processor, start))
}

/// The body of a worker thread.
pub(crate) fn run(scheduler: Scheduler, mut processor: Box<Processor>, start: Start) {
    let index = processor.index;
    crate::trace::set_worker_track(index);
    processor.is_searching = start == Start::Handed;
    let worker = Rc::new(Worker {
        scheduler: scheduler.clone(),
        processor: RefCell::new(Some(processor)),
        driving: Cell::new(false),
        driving_woke: Cell::new(false),
    });
    CURRENT.with(|c| *c.borrow_mut() = Some(worker.clone()));
    crate::task::alloc::enable_thread_cache();
    let _enter = context::enter(Handle::from_scheduler(scheduler.clone()));
    // A paused runtime's timers run on its virtual clock.
    let _clock =
        (scheduler.shared().config.clock.clone()).map(gort_reactor::__netpoll::enter_clock);
    #[cfg(all(feature = "tokio-compat", not(loom)))]
    let _tokio = crate::tokio_compat::enter();
    let mut exit = ExitGuard {
        worker: Some(worker.clone()),
        scheduler: scheduler.clone(),
        retired: false,
    };
    exit.retired = Held::take(&worker).run() == Exit::Retired;
}

/// Why the worker loop ended.
#[derive(PartialEq, Eq)]
enum Exit {
    /// The runtime closed.
    Closed,
    /// A spare outlived its keep-alive without a permit.
    Retired,
}

/// Leaves the worker loop, normally or (should a bug panic out of the
/// loop) by unwinding: the processor's queued tasks are cancelled at
/// shutdown, or handed to the injector if the runtime lives on, and the
/// worker always counts itself out so that the final drain still happens.
struct ExitGuard {
    worker: Option<Rc<Worker>>,
    scheduler: Scheduler,
    /// The loop ended as a retiring spare: the processor (its queues
    /// already empty) is kept for the next thread sysmon starts.
    retired: bool,
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        let shared = self.scheduler.shared();
        if let Some(worker) = self.worker.take() {
            // The loop gave the processor back on its way out (`Held`'s
            // drop), returning or unwinding.
            let processor = worker.processor.borrow_mut().take();
            if let Some(mut p) = processor {
                if self.retired {
                    // The next thread sysmon starts takes it.
                    shared.processors.retire(p);
                } else if std::thread::panicking() && !shared.is_closed() {
                    requeue_local(shared, &mut p);
                } else {
                    drain_local(&mut p);
                }
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

    /// Makes `task` runnable from this worker thread, whose processor is
    /// lent out: to the ring while a reactor turn runs here (see
    /// `driving`), else to the LIFO slot.
    pub(crate) fn schedule(&self, p: &mut Processor, task: Notified) {
        if self.driving.get() {
            self.driving_woke.set(true);
            p.schedule_driving(self.shared(), task);
        } else {
            p.schedule_local(self.shared(), task, true);
        }
    }
}

/// Moves every task queued on a processor to the injector (a dying worker
/// of a live runtime).
fn requeue_local(shared: &Shared, p: &mut Processor) {
    while let Some(task) = p.shared.lifo.take().or_else(|| p.local.pop()) {
        shared.injector.push(task);
    }
    shared.notify_parked();
}

/// Cancels every task queued on a processor (shutdown).
fn drain_local(p: &mut Processor) {
    while let Some(task) = p.shared.lifo.take().or_else(|| p.local.pop()) {
        drop(task);
    }
}

/// A worker with its processor in hand: the loop. It lends the processor
/// to its thread's [`Worker`] while a task or a reactor turn runs, and
/// gives it back to the `Worker` when the loop ends, returning or
/// unwinding, where the exit guard finds it.
struct Held<'w> {
    worker: &'w Worker,
    processor: Option<Box<Processor>>,
    /// The processor's shared half, looked up once: a lend hands the owner
    /// half away, and the lend's `PollState` writes need this one.
    me: &'w ProcessorShared,
}

impl Deref for Held<'_> {
    type Target = Processor;
    fn deref(&self) -> &Processor {
        self.processor
            .as_deref()
            .expect("the loop holds its processor")
    }
}

impl DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut Processor {
        self.processor
            .as_deref_mut()
            .expect("the loop holds its processor")
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.processor.take() {
            *self.worker.processor.borrow_mut() = Some(p);
        }
    }
}

impl<'w> Held<'w> {
    /// Takes the processor from `worker`.
    fn take(worker: &'w Worker) -> Self {
        let processor = worker.processor.borrow_mut().take();
        let Some(index) = processor.as_ref().map(|p| p.index) else {
            panic!("a worker starts with its processor");
        };
        let me = worker.shared().processors.get(index);
        let mut held = Held {
            worker,
            processor,
            me,
        };
        held.busy_start();
        held
    }

    fn shared(&self) -> &'w Shared {
        self.worker.shared()
    }

    /// Runs `f` with the processor lent to this thread's [`Worker`]: the
    /// spawns and wakes made inside find it there.
    fn lend<R>(&mut self, f: impl FnOnce(&Worker) -> R) -> R {
        let worker = self.worker;
        *worker.processor.borrow_mut() = self.processor.take();
        let result = f(worker);
        self.processor = worker.processor.borrow_mut().take();
        assert!(self.processor.is_some(), "a lent processor comes back");
        result
    }

    fn run(mut self) -> Exit {
        let shared = self.shared();
        loop {
            if shared.is_closed() {
                return Exit::Closed;
            }
            let task = if self.next_tick_is_maintenance() {
                self.tick_maintenance()
            } else {
                None
            };
            let task = match task.or_else(|| self.next_local_task()) {
                Some(task) => Some(task),
                None => self.find_work(),
            };
            if let Some(task) = task {
                if self.run_task(task) {
                    // Sysmon gave this processor's permit away.
                    match self.wait_as_spare() {
                        SpareWake::Resumed => {}
                        SpareWake::Retire => return Exit::Retired,
                        SpareWake::Wait => return Exit::Closed,
                    }
                }
                continue;
            }
            if shared.is_closed() {
                return Exit::Closed;
            }
            self.park();
        }
    }

    /// After sysmon retook the permit during a poll: hands the tasks still
    /// queued here to the injector, then parks without a permit until
    /// sysmon hands one back (`Resumed`, searching), the keep-alive
    /// passes (`Retire`) or the runtime closes (`Wait`: leave).
    fn wait_as_spare(&mut self) -> SpareWake {
        let shared = self.shared();
        let index = self.index;
        requeue_local(shared, self);
        self.busy_end();
        tracing::debug!(target: "gort::sysmon", processor = index, "retaken: the worker waits as a spare");
        shared.sysmon.add_spare(index);
        let deadline = std::time::Instant::now() + shared.config.keep_alive;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if !left.is_zero() {
                self.shared.parker.park(Some(left));
            }
            if shared.is_closed() {
                return SpareWake::Wait;
            }
            match shared.sysmon.spare_woke(index, left.is_zero()) {
                SpareWake::Resumed => {
                    tracing::debug!(target: "gort::sysmon", processor = index, "spare resumed with a permit");
                    self.is_searching = true;
                    self.busy_start();
                    return SpareWake::Resumed;
                }
                SpareWake::Retire => {
                    tracing::debug!(target: "gort::sysmon", processor = index, "spare retires");
                    return SpareWake::Retire;
                }
                SpareWake::Wait => {}
            }
        }
    }

    /// Step 1 of the loop, every 61st tick (tokio's maintenance, Go's
    /// `schedtick%61`) and after a forced yield: a non-blocking reactor
    /// turn, so I/O and timers do not wait for this worker to go idle,
    /// then a batch from the injector, one of which is returned to run.
    fn tick_maintenance(&mut self) -> Option<Notified> {
        // The coarse clock that stamps sleeping tasks lags by at most
        // this many polls while the workers run.
        crate::clock::refresh(std::time::Instant::now());
        // What the turn woke is new stealable work: wake a parked worker.
        if self.poll_reactor_into_ring() {
            self.shared().notify_parked();
        }
        // A batch, not one task: tasks that yield go back to this ring, so
        // a ring that never empties would otherwise admit one remote task
        // per 61 polls.
        self.take_from_injector()
    }

    /// Step 1 otherwise: the LIFO slot, then the ring.
    fn next_local_task(&mut self) -> Option<Notified> {
        if let Some(task) = self.shared.lifo.take() {
            WorkerCounters::add(&self.shared.counters.lifo_hits, 1);
            return Some(task);
        }
        self.local.pop()
    }

    /// Step 3 of the loop: injector batch, then steal, then a non-blocking
    /// reactor turn if nobody is driving.
    fn find_work(&mut self) -> Option<Notified> {
        if let Some(task) = self.take_from_injector() {
            return Some(task);
        }
        let shared = self.shared();
        if !self.is_searching {
            if !shared.idle.transition_worker_to_searching() {
                return None;
            }
            self.is_searching = true;
        }
        self.steal_work()
            .or_else(|| self.take_from_injector())
            .or_else(|| self.poll_reactor())
    }

    /// A non-blocking reactor turn, or, while another thread drives, the
    /// due timers; the tasks they wake join this ring (or overflow to the
    /// injector). `true` if any woke.
    fn poll_reactor_into_ring(&mut self) -> bool {
        match netpoll::try_turn() {
            Some(turn) => self.lend(|w| turn.run(w, Some(std::time::Duration::ZERO))),
            // Another thread drives, perhaps blocked in `epoll_wait` (or
            // woken and waiting for a CPU) with the lock held: the due
            // timers fire here, so a busy runtime's timers do not wait for
            // that thread (measured: a 1 ms ticker beside a ping-pong pair,
            // worst lateness 4.2 -> 1.4 ms).
            None => self.lend(netpoll::fire_timers),
        }
    }

    /// [`poll_reactor_into_ring`](Self::poll_reactor_into_ring), then one
    /// of the woken tasks to run (the rest stay stealable, and a worker is
    /// woken for them).
    fn poll_reactor(&mut self) -> Option<Notified> {
        self.poll_reactor_into_ring();
        let task = self.local.pop()?;
        if !self.local.is_empty() {
            self.shared().notify_parked();
        }
        Some(task)
    }

    /// Takes `min(128, len / P + 1)` tasks from the injector: one to run,
    /// the rest into the (empty) ring.
    fn take_from_injector(&mut self) -> Option<Notified> {
        let shared = self.shared();
        if shared.injector.is_empty() {
            return None;
        }
        let first = shared.injector.pop()?;
        // The ring had room for the whole batch; `first` runs now.
        let room = self.local.remaining();
        self.move_injector_batch(shared, room, 1);
        Some(first)
    }

    fn steal_work(&mut self) -> Option<Notified> {
        let shared = self.shared();
        let me = self.index;
        let n = shared.processors.len();
        const PASSES: usize = 2;
        for pass in 0..PASSES {
            for victim in random_order(n, self.random()) {
                if victim == me {
                    continue;
                }
                let p = shared.processors.get(victim);
                if let Some(task) = p.steal.steal_into(&mut self.local) {
                    WorkerCounters::add(&self.shared.counters.steals, 1);
                    if crate::trace::on() {
                        crate::trace::steal(victim);
                    }
                    tracing::trace!(target: "gort::scheduler", worker = me, victim, task_id = task.id().0, "steal");
                    return Some(task);
                }
                if pass == PASSES - 1 {
                    if let Some(task) = p.lifo.take() {
                        WorkerCounters::add(&self.shared.counters.steals, 1);
                        if crate::trace::on() {
                            crate::trace::steal(victim);
                        }
                        tracing::trace!(target: "gort::scheduler", worker = me, victim, task_id = task.id().0, "steal runnext");
                        return Some(task);
                    }
                }
            }
        }
        None
    }

    /// Polls `task`, then the LIFO slot's tasks, at most `MAX_LIFO_POLLS`
    /// in a row (the next one goes to the ring tail). `true` if sysmon
    /// retook the processor's permit meanwhile (see `sysmon.rs`).
    #[must_use = "a retaken worker must stop running tasks"]
    fn run_task(&mut self, task: Notified) -> bool {
        let shared = self.shared();
        if std::mem::replace(&mut self.is_searching, false)
            && shared.idle.transition_worker_from_searching()
        {
            // The last searcher found work: wake another to keep looking.
            shared.notify_parked();
        }
        let p = self.me;
        p.poll.begin(self.tick());
        let (overflow, lifo_polls) = self.lend(|_| {
            task.run(true);
            let mut polls = 0;
            while let Some(task) = p.lifo.take() {
                if polls == MAX_LIFO_POLLS || shared.is_closed() || p.poll.is_retaken() {
                    return (Some(task), polls);
                }
                polls += 1;
                p.poll.next_poll();
                task.run(true);
            }
            (None, polls)
        });
        let retaken = p.poll.end();
        if lifo_polls > 0 {
            WorkerCounters::add(&p.counters.lifo_hits, u64::from(lifo_polls));
        }
        if let Some(task) = overflow {
            if self.local.is_empty() {
                // The ring's only task runs next here (or goes to the
                // injector with a wake-up if sysmon retook us): a worker
                // woken for it could only steal it from under us. Measured
                // on ChanSync, where every fourth poll ends here: 15,000
                // park/unpark pairs per million operations before, none
                // after.
                self.local.push_back_or_overflow(task, &shared.injector);
            } else {
                self.push_back(shared, task);
            }
        }
        retaken
    }

    fn park(&mut self) {
        let shared = self.shared();
        let index = self.index;
        let was_searching = std::mem::replace(&mut self.is_searching, false);
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
        WorkerCounters::add(&self.shared.counters.parks, 1);
        self.busy_end();
        if shared.idle.all_parked() {
            // The last one down: a thread waiting in `block_on` checks
            // whether anything can still wake anything.
            shared.deadlock.last_worker_parked(shared);
        }
        let traced = crate::trace::on().then(std::time::Instant::now);
        self.sleep_until_woken();
        if let Some(start) = traced {
            crate::trace::park(start);
        }
        self.busy_start();
    }

    /// The rest of [`park`](Self::park): sleeps (or drives the reactor)
    /// until notified, woken tasks from a turn, or shutdown.
    fn sleep_until_woken(&mut self) {
        let shared = self.shared();
        let index = self.index;
        loop {
            let timeout = self.trim_while_idle();
            let woke_tasks = self.park_or_drive(timeout);
            if shared.is_closed() {
                return;
            }
            if woke_tasks {
                // Run what the reactor turn woke. Leave the sleepers (unless
                // a notifier already took us out, counting us as searching),
                // and let another worker help if there is more than one.
                self.is_searching = !shared.idle.unpark_self(index);
                shared.sysmon.worker_unparked();
                if self.local.len() > 1 || !shared.injector.is_empty() {
                    shared.notify_parked();
                }
                tracing::trace!(target: "gort::scheduler", worker = index, "unparked by the reactor");
                return;
            }
            if !shared.idle.is_parked(index) {
                // Notified: the notifier counted us as unparked and searching.
                self.is_searching = true;
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
            let index = self.index;
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
    /// ring; `true` if there are any, for the caller to run.
    fn park_or_drive(&mut self, timeout: Option<std::time::Duration>) -> bool {
        let parker = &self.shared().processors.get(self.index).parker;
        match netpoll::try_turn() {
            Some(turn) => self.lend(|w| parker.park_turning(turn, w, timeout)),
            None => {
                parker.park(timeout);
                false
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    /// The worker loop end to end, small enough for miri: spawns from a
    /// worker (LIFO slot and ring), wakes from another worker's task,
    /// yields, joins, and a shutdown that frees a task parked forever.
    #[test]
    fn spawns_wakes_yields_joins_and_shutdown_free_every_task() {
        let rt = crate::runtime::Builder::new()
            .worker_threads(2)
            .build()
            .unwrap();
        let total = rt.block_on(rt.spawn(async {
            // Never woken: only the shutdown frees it.
            drop(crate::spawn(std::future::pending::<()>()));
            let handles: Vec<_> = (0..20u64)
                .map(|i| {
                    crate::spawn(async move {
                        let (tx, rx) = futures::channel::oneshot::channel();
                        let child = crate::spawn(async move {
                            crate::yield_now().await;
                            tx.send(i * 2).unwrap();
                        });
                        let got = rx.await.unwrap();
                        child.await.unwrap();
                        got
                    })
                })
                .collect();
            let mut total = 0;
            for h in handles {
                total += h.await.unwrap();
            }
            total
        }));
        assert_eq!(total.unwrap(), (0..20u64).map(|i| i * 2).sum::<u64>());
        drop(rt);
    }
}
