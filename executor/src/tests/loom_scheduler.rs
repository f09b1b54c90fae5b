//! The real scheduler under loom. Each model builds a runtime with
//! `Scheduler::new` and runs each processor on a loom thread in
//! `worker::run`, the body of every worker thread: the loop of
//! `Held::run`, `find_work` (injector batch, becoming a searcher,
//! `steal_work`, a non-blocking reactor turn), a task's poll and the LIFO
//! slot's after it, `Held::park` with its fence and re-check of every
//! queue, `sleep_until_woken` (a parker's condvar, or a blocking turn of
//! the reactor), the `Parker`, the `Idle` counts, the injector, the rings
//! and LIFO slots, the task states and the registry, `close` and the final
//! drain. Tasks are spawned with `Scheduler::spawn` (on a worker: into
//! the LIFO slot, displacing its task to the ring; on any other thread:
//! into the injector) and woken through their own wakers.
//!
//! Where this differs from a runtime that `Builder` starts:
//!
//! - no sysmon thread (its retakes depend on time; `loom_idle.rs` models
//!   a retake racing the poll's return). A task in a LIFO slot behind a
//!   poll that never returns therefore waits: a LIFO push wakes nobody,
//!   and it is sysmon that rescues such a task. No model asks for it;
//! - the reactor is `netpoll::model`, a stand-in with a turn, a wake flag
//!   and "I/O events" (wakers) that a model delivers, switched on in
//!   every model with two workers (one drives, the other parks on its
//!   condvar) and in those about the reactor; `close_races_remote_spawn`
//!   runs without it (no turn is granted: the one worker parks on its
//!   condvar, as under miri);
//! - no blocking pool threads; the injector is a mutex-guarded deque, a
//!   ring holds 4 tasks, a processor clones scheduler handles one at a
//!   time, and the metrics counters are std atomics, which loom does not
//!   see (`processor::Counter`);
//! - the thread-locals naming a thread's worker and runtime are loom's
//!   (`loom::thread_local_const`).
//!
//! A model ends when its last task closes the runtime; the main thread
//! joins the worker threads and waits for the final drain. A lost wake-up
//! leaves every thread blocked, which loom reports as a deadlock. Each
//! task holds a loom `Arc` of the scheduler, so loom's leak check finds a
//! task that is never freed.
//!
//! Seven models run with a preemption bound (given with each;
//! `LOOM_MAX_PREEMPTIONS` overrides it), the two smallest (one worker and
//! the main thread) exhaustively. The bounds are what keeps them short:
//! `ring_work_behind_a_blocked_poll_is_stolen` takes about 2 s at bound 2
//! and 35 s at bound 3, and `notify_races_a_turn_that_woke_a_task` did not
//! finish unbounded within two minutes. Run one after another
//! (`--release`, two cores), the nine take about 35 s.
//!
//! Each model was run against mutations of the code it guards, one at a
//! time; each doc comment names the mutations that made that model fail.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::loom::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use crate::loom::{lock, thread, Arc, Condvar, Mutex};
use crate::netpoll::model::REACTOR;
use crate::processor::Processor;
use crate::runtime::{OnDeadlock, UnhandledPanic};
use crate::scheduler::{Config, Scheduler};
use crate::task::JoinHandle;
use crate::worker::{self, Start};

/// A runtime of `workers` processors whose threads are loom threads.
struct Runtime {
    scheduler: Scheduler,
    /// Until `start`: boxed, as `Scheduler::new` makes them and as a
    /// worker thread owns its processor.
    #[allow(clippy::vec_box)]
    processors: Vec<Box<Processor>>,
    workers: Vec<thread::JoinHandle<()>>,
}

impl Runtime {
    fn new(workers: usize) -> Runtime {
        // Made here, before any worker thread runs: made on a worker, it
        // would order that worker's first use before every other thread's,
        // an edge the real reactor does not add.
        let _ = &*REACTOR;
        let config = Config {
            thread_name: "loom".into(),
            blocking_threshold: Duration::from_secs(1),
            max_threads: workers,
            keep_alive: Duration::from_secs(1),
            on_deadlock: OnDeadlock::Ignore,
            unhandled_panic: UnhandledPanic::Ignore,
            clock: None,
        };
        let (scheduler, processors) = Scheduler::new(workers, config);
        Runtime {
            scheduler,
            processors,
            workers: Vec::new(),
        }
    }

    /// Idle workers turn the reactor's stand-in (called before `start`).
    fn with_reactor(self) -> Self {
        REACTOR.switch_on();
        self
    }

    fn start(&mut self) {
        for p in self.processors.drain(..) {
            let s = self.scheduler.clone();
            self.workers
                .push(thread::spawn(move || worker::run(s, p, Start::Initial)));
        }
    }

    /// Spawns from the calling thread (into the injector: the main thread
    /// is no worker).
    #[track_caller]
    fn spawn<F>(&self, f: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.scheduler.spawn(f, Location::caller(), None)
    }

    /// Waits for every worker thread to exit and for the final drain,
    /// then drops the wakers the reactor's stand-in still holds.
    fn join(mut self) {
        for w in self.workers.drain(..) {
            w.join().unwrap();
        }
        assert!(self.scheduler.shared().wait_drained(None));
        REACTOR.drop_ready();
    }
}

/// Runs `f` under loom with at most `preemptions` preemptions per
/// execution, or exhaustively for `None` (unless `LOOM_MAX_PREEMPTIONS`
/// says otherwise).
fn model(preemptions: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
    let mut model = loom::model::Builder::new();
    if model.preemption_bound.is_none() {
        model.preemption_bound = preemptions;
    }
    // An execution passes more branch points than loom's default 1,000.
    model.max_branches = 100_000;
    model.check(f);
}

/// `n` tasks' completions: how often each ran to its end, how many did;
/// the last of them to finish closes the runtime.
#[derive(Clone)]
struct Finish {
    ran: Arc<Vec<AtomicUsize>>,
    finished: Arc<(Mutex<usize>, Condvar)>,
    /// Taken by the last task to finish, to close the runtime.
    closer: Arc<Mutex<Option<Scheduler>>>,
}

impl Finish {
    fn new(rt: &Runtime, n: usize) -> Self {
        Finish {
            ran: Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect()),
            finished: Arc::new((Mutex::new(0), Condvar::new())),
            closer: Arc::new(Mutex::new(Some(rt.scheduler.clone()))),
        }
    }

    /// Task `i` finished.
    fn done(&self, i: usize) {
        self.ran[i].fetch_add(1, SeqCst);
        let mut n = lock(&self.finished.0);
        *n += 1;
        if *n == self.ran.len() {
            let scheduler = lock(&self.closer).take().expect("closed once");
            scheduler.shared().close();
        }
        drop(n);
        self.finished.1.notify_all();
    }

    /// Blocks the calling thread (a worker, inside a poll) until `k` tasks
    /// finished.
    fn wait_for(&self, k: usize) {
        let mut n = lock(&self.finished.0);
        while *n < k {
            n = self.finished.1.wait(n).unwrap();
        }
    }

    fn assert_each_ran_once(&self) {
        for (i, c) in self.ran.iter().enumerate() {
            let n = c.load(SeqCst);
            assert_eq!(n, 1, "task {i} ran to completion {n} times");
        }
    }
}

/// Ready once `fired` is set; otherwise leaves its waker in `slot`.
#[derive(Clone)]
struct WaitFired {
    fired: Arc<AtomicBool>,
    slot: Arc<Mutex<Option<Waker>>>,
}

impl WaitFired {
    fn new() -> Self {
        WaitFired {
            fired: Arc::new(AtomicBool::new(false)),
            slot: Arc::new(Mutex::new(None)),
        }
    }

    /// The other side: sets the flag, then hands the waker (if the task
    /// left one) to `wake`.
    fn fire(&self, wake: impl FnOnce(Waker)) {
        self.fired.store(true, SeqCst);
        let waker = lock(&self.slot).take();
        if let Some(w) = waker {
            wake(w);
        }
    }
}

impl Future for WaitFired {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *lock(&self.slot) = Some(cx.waker().clone());
        if self.fired.load(SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for WaitFired {
    fn drop(&mut self) {
        // A waker left in the slot holds its task.
        drop(lock(&self.slot).take());
    }
}

/// The main thread spawns a task once the workers run; it runs once.
fn spawn_after_start(mut rt: Runtime) {
    rt.start();
    let finish = Finish::new(&rt, 1);
    let f2 = finish.clone();
    drop(rt.spawn(async move { f2.done(0) }));
    rt.join();
    finish.assert_each_ran_once();
}

/// A task waits for a [`WaitFired`]; once the workers run, the main
/// thread fires it, handing the task's waker (if it left one) to
/// `deliver`, then spawns `more` tasks. Each task runs once.
fn fire_after_start(mut rt: Runtime, deliver: impl FnOnce(Waker), more: usize) {
    let finish = Finish::new(&rt, 1 + more);
    let wait = WaitFired::new();
    let (f2, w2) = (finish.clone(), wait.clone());
    drop(rt.spawn(async move {
        w2.await;
        f2.done(0);
    }));
    rt.start();
    wait.fire(deliver);
    for i in 1..=more {
        let f2 = finish.clone();
        drop(rt.spawn(async move { f2.done(i) }));
    }
    rt.join();
    finish.assert_each_ran_once();
}

/// What became of a task after the runtime's final drain: it must have
/// ended (run or cancelled, not left queued) and been freed (`scheduler`
/// is then the last handle to it).
fn outcome<T>(mut join: JoinHandle<T>, scheduler: Scheduler) -> Result<T, crate::task::JoinError> {
    let Poll::Ready(result) = super::poll_once(&mut join) else {
        panic!("a task was left queued after the final drain");
    };
    drop(join);
    assert_eq!(Arc::strong_count(&scheduler.0), 1, "a task was not freed");
    result
}

/// Two workers start, find nothing and park (one in a turn of the
/// reactor) while the main thread spawns a task into the injector: the
/// task runs, once. No wake-up is lost between the producer's push, fence
/// and look at the idle counts and a worker's leaving the counts, fence
/// and re-check. Preemption bound 3.
///
/// Mutations that fail it: no re-check after
/// `transition_worker_to_parked` in `Held::park`; `Parker::unpark`
/// notifying the condvar without taking the parker's lock, or ignoring a
/// parker in the reactor (no `netpoll::wake`); `close` without the token
/// it leaves every processor's parker.
#[test]
fn remote_spawn_races_park() {
    model(Some(3), || {
        spawn_after_start(Runtime::new(2).with_reactor())
    });
}

/// A task waits for a flag; the main thread sets it and wakes the task
/// through its waker, racing the task's poll (a wake during the poll
/// requeues the task on its worker's ring) and the two workers' parking
/// (a later wake goes through the injector). The task runs to completion
/// once. Preemption bound 3.
///
/// Mutations that fail it: no re-check after
/// `transition_worker_to_parked`; `Parker::unpark` without the lock, or
/// ignoring a parker in the reactor; `close` without the parkers' tokens;
/// the thief's load of the victim ring's `tail` in `Steal::claim_into`
/// `Relaxed` instead of `Acquire`.
#[test]
fn wake_from_another_thread_races_park() {
    model(Some(3), || {
        fire_after_start(Runtime::new(2).with_reactor(), Waker::wake, 0)
    });
}

/// The main thread closes the runtime while its two workers start, search
/// and park, with a task that never completes spawned just before: every
/// worker exits, the final drain runs, and the task is cancelled and
/// freed, wherever the close found it (queued or registered).
/// Preemption bound 3.
///
/// Mutations that fail it: `close` without the parkers' tokens (a worker
/// that had not yet joined the sleepers when `unpark_all` ran sleeps on);
/// `Parker::unpark` without the lock, or ignoring a parker in the
/// reactor.
#[test]
fn close_races_park() {
    model(Some(3), || {
        let mut rt = Runtime::new(2).with_reactor();
        rt.start();
        let join = rt.spawn(std::future::pending::<()>());
        let sched = rt.scheduler.clone();
        sched.shared().close();
        rt.join();
        let ended = outcome(join, sched);
        assert!(ended.is_err_and(|e| e.is_cancelled()));
    });
}

/// A thread that is not a worker spawns while the main thread closes a
/// one-worker runtime without a reactor: the task runs or is cancelled,
/// and is freed, never left in the injector after the final drain.
/// Preemption bound 4.
///
/// Mutations that fail it: `schedule_remote` without its look at `closed`
/// after the push (the task stays queued and its `JoinHandle` pends);
/// `Parker::unpark` without the lock; `close` without the parkers'
/// tokens.
#[test]
fn close_races_remote_spawn() {
    model(Some(4), || {
        let mut rt = Runtime::new(1);
        rt.start();
        let s2 = rt.scheduler.clone();
        let spawner = thread::spawn(move || s2.spawn(async {}, Location::caller(), None));
        let sched = rt.scheduler.clone();
        sched.shared().close();
        rt.join();
        let ended = outcome(spawner.join().unwrap(), sched);
        assert!(ended.is_ok() || ended.is_err_and(|e| e.is_cancelled()));
    });
}

/// A task on one of two workers spawns `n` children (each into the LIFO
/// slot, displacing the one before to the ring), then blocks its worker
/// inside the poll until `n - 1` of them finished: the children that went
/// through the ring must be stolen by the other worker, woken for them
/// or finding them in its re-check before parking. (The child left in
/// the LIFO slot may wait for the poll to end, see the module docs.)
fn children_behind_a_blocked_poll(n: usize) {
    let mut rt = Runtime::new(2).with_reactor();
    let finish = Finish::new(&rt, n);
    let f2 = finish.clone();
    drop(rt.spawn(async move {
        for i in 0..n {
            let f3 = f2.clone();
            drop(crate::spawn(async move { f3.done(i) }));
        }
        f2.wait_for(n - 1);
    }));
    rt.start();
    rt.join();
    finish.assert_each_ran_once();
}

/// [`children_behind_a_blocked_poll`] with two children: one goes to
/// the ring and must be stolen. Preemption bound 2.
///
/// Mutations that fail it: `Processor::push_back` without its notify; no
/// re-check after `transition_worker_to_parked`; no `fence(SeqCst)`
/// before that re-check; no fence in `Shared::notify_parked`; the
/// thief's `tail` load `Relaxed` (loom reports the slot read racing the
/// owner's write; the ring models in `loom_queue.rs` pass with it);
/// `Parker::unpark` ignoring a parker in the reactor; `close` without the
/// parkers' tokens.
#[test]
fn ring_work_behind_a_blocked_poll_is_stolen() {
    model(Some(2), || children_behind_a_blocked_poll(2));
}

/// [`children_behind_a_blocked_poll`] with six children: the ring (4
/// tasks under loom) overflows, half of it and the displaced task going
/// to the injector, and the other worker takes five children from the
/// injector and the ring. Preemption bound 1.
///
/// Mutations that fail it: `Processor::push_back` without its notify; no
/// fence in `Shared::notify_parked`; the thief's `tail` load `Relaxed`;
/// `Parker::unpark` ignoring a parker in the reactor; `close` without the
/// parkers' tokens.
#[test]
fn ring_overflow_behind_a_blocked_poll() {
    model(Some(1), || {
        children_behind_a_blocked_poll(crate::queue::CAPACITY + 2)
    });
}

/// The one worker parks in a turn of the reactor's stand-in
/// (`park_turning`) while the main thread spawns: the notify's unpark
/// must end the turn (the parker's `IN_REACTOR` state, `netpoll::wake`).
/// Exhaustive.
///
/// Mutations that fail it: `Parker::unpark` ignoring a parker in the
/// reactor; no re-check after `transition_worker_to_parked`.
#[test]
fn remote_spawn_ends_the_drivers_turn() {
    model(None, || spawn_after_start(Runtime::new(1).with_reactor()));
}

/// A task waits for an "I/O event" that the main thread delivers through
/// the reactor's stand-in, so a turn of the one worker (blocking, in its
/// park, or non-blocking, in `find_work`) wakes the task onto that
/// worker's own ring, and a worker parked in the turn leaves the sleepers
/// by itself (`Idle::unpark_self`) to run it. It runs once. Exhaustive.
///
/// Mutations that fail it: `Worker::schedule` not recording that a turn
/// woke a task (`driving_woke`), so the worker goes back to its turn with
/// the task in its ring.
#[test]
fn io_event_wakes_a_task_onto_the_driving_worker() {
    model(None, || {
        fire_after_start(Runtime::new(1).with_reactor(), |w| REACTOR.ready(w), 0)
    });
}

/// As the model above, and then the main thread spawns two tasks. The
/// first spawn's notify may take the worker out of the sleepers while its
/// turn wakes the waiting task (then `unpark_self` finds it gone and the
/// worker counts as the searcher the notifier made it); the second spawn
/// must still find a worker, so the idle counts were left right. Each
/// task runs once. Preemption bound 4.
///
/// Mutations that fail it: the worker leaving a turn that woke tasks as
/// not searching whatever `unpark_self` says (the notifier's searcher is
/// never counted out, and a later notify wakes nobody); no re-check after
/// `transition_worker_to_parked`; `Parker::unpark` ignoring a parker in
/// the reactor.
#[test]
fn notify_races_a_turn_that_woke_a_task() {
    model(Some(4), || {
        fire_after_start(Runtime::new(1).with_reactor(), |w| REACTOR.ready(w), 2)
    });
}
