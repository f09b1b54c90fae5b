//! `Runtime`, `Builder` and `Handle`: starting the processors and their
//! worker threads, entering a runtime, and shutting it down.

use std::fmt;
use std::future::Future;
use std::io;
use std::panic::Location;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use gort_reactor::__netpoll::Clock;

use crate::context::{self, EnterGuard};
pub use crate::deadlock::OnDeadlock;
pub use crate::dump::{Dump, TaskInfo, TaskState, WaitReason};
use crate::idle::MAX_WORKERS;
pub use crate::metrics::RuntimeMetrics;
use crate::scheduler::{Config, Scheduler};
use crate::task::JoinHandle;
use crate::worker;

/// The environment variable that sets the default number of worker
/// threads (Go's `GOMAXPROCS`).
pub const MAXPROCS_ENV: &str = "GORT_MAXPROCS";

/// Configures and starts a [`Runtime`].
///
/// # Examples
///
/// ```
/// use gort::runtime::Builder;
///
/// let rt = Builder::new().worker_threads(2).thread_name("app").build().unwrap();
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
///
/// // A bad setting is an error, not a panic or a hang.
/// let err = Builder::new().worker_threads(0).build().unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    worker_threads: Option<usize>,
    thread_name: String,
    blocking_threshold: Duration,
    max_threads: usize,
    thread_keep_alive: Duration,
    on_deadlock: OnDeadlock,
    unhandled_panic: UnhandledPanic,
    start_paused: bool,
}

/// What a runtime does with a task's panic that no `JoinHandle` will see
/// (see [`Builder::unhandled_panic`]; tokio's names).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub enum UnhandledPanic {
    /// The panic hook prints it; the runtime goes on (the default).
    #[default]
    Ignore,
    /// The runtime shuts down and `block_on` panics with the payload.
    ShutdownRuntime,
}

/// How long a task may hold its worker inside one poll before sysmon
/// hands the worker's processor permit to another thread (the default of
/// [`Builder::blocking_threshold`]).
pub const DEFAULT_BLOCKING_THRESHOLD: Duration = Duration::from_millis(2);

/// Most worker threads a runtime starts (the default of
/// [`Builder::max_threads`], Go's `debug.SetMaxThreads` default).
pub const DEFAULT_MAX_THREADS: usize = 10_000;

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// A builder with the defaults: one worker per CPU (or `GORT_MAXPROCS`),
    /// threads named `gort-worker-N`.
    pub fn new() -> Builder {
        Builder {
            worker_threads: None,
            thread_name: "gort".to_string(),
            blocking_threshold: DEFAULT_BLOCKING_THRESHOLD,
            max_threads: DEFAULT_MAX_THREADS,
            thread_keep_alive: crate::blocking::KEEP_ALIVE,
            on_deadlock: OnDeadlock::Warn,
            unhandled_panic: UnhandledPanic::Ignore,
            start_paused: false,
        }
    }

    /// Gives the runtime a virtual clock of its own that starts paused (Go's
    /// `testing/synctest` bubble, tokio's `start_paused`): `sleep`,
    /// `timeout` and `interval` created by its tasks (or in its
    /// `block_on`) run on it, and whenever every task is parked, the
    /// blocking pool is idle and `block_on`'s future waits, the clock jumps
    /// to the next deadline. A test of an hour-long timeout runs in
    /// microseconds; [`gort::time::advance`] moves the clock by hand and
    /// [`gort::time::now`] reads it. Other runtimes keep real time. Real
    /// I/O is not virtual: a socket read's timeout may elapse, in virtual
    /// time, while the bytes are on their way.
    ///
    /// [`gort::time::advance`]: ../time/fn.advance.html
    /// [`gort::time::now`]: ../time/fn.now.html
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let rt = gort::runtime::Builder::new().start_paused(true).build().unwrap();
    /// let real = Instant::now();
    /// rt.block_on(async {
    ///     let start = gort::time::now();
    ///     let slow = gort::spawn(gort::time::sleep(Duration::from_secs(3600)));
    ///     let r = gort::time::timeout(Duration::from_secs(60), slow).await;
    ///     assert!(r.is_err(), "the hour-long sleep outlasts the minute");
    ///     assert_eq!(gort::time::now() - start, Duration::from_secs(60));
    /// });
    /// assert!(real.elapsed() < Duration::from_secs(60));
    /// ```
    pub fn start_paused(&mut self, paused: bool) -> &mut Self {
        self.start_paused = paused;
        self
    }

    /// What a task's panic does when nobody holds its `JoinHandle` (tokio's
    /// `unhandled_panic`). [`UnhandledPanic::Ignore`] (the default): the
    /// panic is printed by the panic hook and dropped. With
    /// [`UnhandledPanic::ShutdownRuntime`] the runtime shuts down and the
    /// thread waiting in `block_on` panics with that payload, the way a Go
    /// program dies when a goroutine panics. A task whose `JoinHandle` is
    /// still held gives its panic to the handle either way; a handle
    /// dropped without being awaited after the panic leaves it unhandled.
    ///
    /// One race is inherent: a panic drops the task's future while it
    /// unwinds, before the runtime sees the panic. If that drop wakes the
    /// `block_on` future (a sender it was waiting on goes away) and it
    /// completes at once, `block_on` may return first; the runtime shuts
    /// down all the same, and the next `block_on` on it panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::runtime::{Builder, UnhandledPanic};
    ///
    /// let rt = Builder::new()
    ///     .unhandled_panic(UnhandledPanic::ShutdownRuntime)
    ///     .build()
    ///     .unwrap();
    /// let died = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    ///     rt.block_on(async {
    ///         drop(gort::spawn(async { panic!("worker failed") }));
    ///         std::future::pending::<()>().await
    ///     })
    /// }));
    /// assert_eq!(*died.unwrap_err().downcast::<&str>().unwrap(), "worker failed");
    /// ```
    pub fn unhandled_panic(&mut self, behavior: UnhandledPanic) -> &mut Self {
        self.unhandled_panic = behavior;
        self
    }

    /// What the runtime does when it is deadlocked: a thread waits in its
    /// `block_on` and nothing can wake anything (every worker parked, no
    /// task runnable, no poll running, no `spawn_blocking` work, no timer
    /// and no socket in the reactor) for 50 ms: Go's "fatal error: all
    /// goroutines are asleep - deadlock!".
    ///
    /// [`OnDeadlock::Warn`] (the default, and `#[gort::main]`'s) prints
    /// that line and the goroutine dump to stderr once and keeps waiting;
    /// [`OnDeadlock::Panic`] (`#[gort::test]`'s) panics in the `block_on`
    /// thread with them; [`OnDeadlock::Ignore`] does not check. The check
    /// runs when the last worker parks or `block_on` is about to park, and
    /// every 250 ms while the workers are parked but blocking work, a timer
    /// or a socket could still wake something: it costs nothing while any
    /// worker is busy.
    ///
    /// Unlike Go, gort cannot see every thread that may wake a task: a
    /// plain thread that will send on a gort channel or complete a foreign
    /// future, and the tasks of another runtime (the global one included),
    /// are invisible to it, and a program waiting for one looks
    /// deadlocked. Use `Warn` or `Ignore` for such programs.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::runtime::{Builder, OnDeadlock};
    ///
    /// let rt = Builder::new().on_deadlock(OnDeadlock::Panic).build().unwrap();
    /// let stuck = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    ///     rt.block_on(async {
    ///         let (_tx, rx) = gort::chan::bounded::<u32>(0);
    ///         let waiter = gort::spawn(async move { rx.recv().await });
    ///         waiter.await // nobody will ever send
    ///     })
    /// }));
    /// let message = *stuck.unwrap_err().downcast::<String>().unwrap();
    /// assert!(message.starts_with("all goroutines are asleep - deadlock!"));
    /// assert!(message.contains("[chan receive, "));
    /// ```
    pub fn on_deadlock(&mut self, on_deadlock: OnDeadlock) -> &mut Self {
        self.on_deadlock = on_deadlock;
        self
    }

    /// How long one poll of a task may hold its worker before sysmon
    /// retakes the worker's processor permit and hands it to a spare
    /// thread, so that the other tasks keep running while that one blocks
    /// its thread (a `std::thread::sleep`, a synchronous read, a long
    /// loop). Go hands a processor off after a syscall of 20 us to 10 ms
    /// and preempts after 10 ms. Default [`DEFAULT_BLOCKING_THRESHOLD`]
    /// (2 ms); zero is rejected by [`build`](Self::build).
    ///
    /// A poll that is long but does not block (heavy computation) is
    /// retaken too when other tasks wait behind it: its thread finishes
    /// the poll, then waits as a spare. `spawn_blocking` remains the
    /// cheaper place for work known to block.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let rt = gort::runtime::Builder::new()
    ///     .worker_threads(1)
    ///     .blocking_threshold(Duration::from_millis(5))
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(async {
    ///     // Blocks the only worker for 200 ms...
    ///     let blocker = gort::spawn(async { std::thread::sleep(Duration::from_millis(200)) });
    ///     gort::time::sleep(Duration::from_millis(1)).await;
    ///     // ...yet this task runs long before that.
    ///     let start = Instant::now();
    ///     gort::spawn(async {}).await.unwrap();
    ///     assert!(start.elapsed() < Duration::from_millis(150));
    ///     blocker.await.unwrap();
    /// });
    /// ```
    pub fn blocking_threshold(&mut self, threshold: Duration) -> &mut Self {
        self.blocking_threshold = threshold;
        self
    }

    /// The most worker threads the runtime may run at once, counting
    /// those whose task blocks after sysmon gave their permit away (Go's
    /// `debug.SetMaxThreads`). Blocking-pool threads are capped separately.
    /// Needing more (every thread blocked, one more retake) ends the
    /// process with "fatal error: thread exhaustion" and status 2, as in
    /// Go. Default [`DEFAULT_MAX_THREADS`]; less than the worker count is
    /// rejected by [`build`](Self::build).
    pub fn max_threads(&mut self, n: usize) -> &mut Self {
        self.max_threads = n;
        self
    }

    /// How long a thread without work waits before it exits: a spare
    /// worker thread left over from a retake, and an idle blocking-pool
    /// thread. Default 10 s.
    pub fn thread_keep_alive(&mut self, keep_alive: Duration) -> &mut Self {
        self.thread_keep_alive = keep_alive;
        self
    }

    /// Sets the number of worker threads, i.e. processors (Go's
    /// `GOMAXPROCS`). Overrides `GORT_MAXPROCS`. Zero is rejected by
    /// [`build`](Self::build).
    pub fn worker_threads(&mut self, n: usize) -> &mut Self {
        self.worker_threads = Some(n);
        self
    }

    /// Sets the prefix of the runtime's thread names (`{name}-worker-N`,
    /// `{name}-blocking`).
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.thread_name = name.into();
        self
    }

    /// Starts the worker threads.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a worker count of 0 or above the supported
    /// maximum, a `GORT_MAXPROCS` that is not a positive integer, a thread
    /// name containing a NUL byte, a zero blocking threshold or a
    /// `max_threads` below the worker count; the OS's error if a thread
    /// cannot be started.
    pub fn build(&mut self) -> io::Result<Runtime> {
        let workers =
            resolve_worker_threads(self.worker_threads, std::env::var(MAXPROCS_ENV).ok())?;
        if self.thread_name.contains('\0') {
            return Err(invalid(format!(
                "thread_name must not contain a NUL byte, got {:?}",
                self.thread_name
            )));
        }
        if self.blocking_threshold.is_zero() {
            return Err(invalid("blocking_threshold must be above zero".into()));
        }
        if self.max_threads < workers {
            return Err(invalid(format!(
                "max_threads ({}) must be at least the worker count ({workers})",
                self.max_threads
            )));
        }
        let (scheduler, processors) = Scheduler::new(
            workers,
            Config {
                thread_name: self.thread_name.clone(),
                blocking_threshold: self.blocking_threshold,
                max_threads: self.max_threads,
                keep_alive: self.thread_keep_alive,
                on_deadlock: self.on_deadlock,
                unhandled_panic: self.unhandled_panic,
                clock: self.start_paused.then(Clock::new),
            },
        );
        let mut threads = Vec::with_capacity(workers + 1);
        let spawns = processors
            .into_iter()
            .map(|p| worker::spawn_thread(scheduler.clone(), p, worker::Start::Initial))
            .chain(std::iter::once_with(|| {
                crate::scheduler::Shared::start_sysmon(&scheduler)
            }));
        for spawned in spawns {
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    // The threads not started will never count themselves
                    // out; close and let the started ones exit.
                    scheduler.shared().close();
                    for t in threads {
                        let _ = t.join();
                    }
                    return Err(e);
                }
            }
        }
        Ok(Runtime {
            handle: Handle { scheduler },
            threads: Mutex::new(threads),
            shut_down: false,
            stops_trace: crate::trace::start_from_env(),
        })
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Worker count from the builder, else `GORT_MAXPROCS`, else the CPUs.
fn resolve_worker_threads(explicit: Option<usize>, env: Option<String>) -> io::Result<usize> {
    let n = match (explicit, env) {
        (Some(0), _) => return Err(invalid("worker_threads must be at least 1, got 0".into())),
        (Some(n), _) => n,
        (None, Some(v)) => match v.trim().parse::<usize>() {
            Ok(0) => {
                return Err(invalid(format!(
                    "{MAXPROCS_ENV} must be at least 1, got {v:?}"
                )))
            }
            Ok(n) => n,
            Err(_) => {
                return Err(invalid(format!(
                    "{MAXPROCS_ENV} must be a positive integer, got {v:?}"
                )))
            }
        },
        (None, None) => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    if n > MAX_WORKERS {
        return Err(invalid(format!(
            "worker_threads must be at most {MAX_WORKERS}, got {n}"
        )));
    }
    Ok(n)
}

/// A gort runtime: `N` processors, each run by a worker thread, plus a
/// blocking pool.
///
/// Dropping it (or [`shutdown_timeout`](Self::shutdown_timeout)) stops the
/// workers after their current poll and drops every task's future; their
/// `JoinHandle`s resolve to a cancelled `JoinError`.
///
/// # Examples
///
/// ```
/// let rt = gort::runtime::Runtime::new().unwrap();
/// let total = rt.block_on(async {
///     let handles: Vec<_> = (0..10u64).map(|i| gort::spawn(async move { i * i })).collect();
///     let mut total = 0;
///     for h in handles {
///         total += h.await.unwrap();
///     }
///     total
/// });
/// assert_eq!(total, 285);
/// ```
pub struct Runtime {
    handle: Handle,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// Set by `shutdown_timeout`, so that the drop that follows does not
    /// wait again (without a deadline).
    shut_down: bool,
    /// This runtime started the `GORT_TRACE` trace and stops it when it
    /// shuts down.
    stops_trace: bool,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("handle", &self.handle)
            .finish()
    }
}

impl Runtime {
    /// A runtime with the default settings ([`Builder::new`]).
    ///
    /// # Errors
    ///
    /// As [`Builder::build`].
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// Runs `future` to completion on the calling thread (Go's main
    /// goroutine) while the workers run the tasks it spawns.
    ///
    /// # Panics
    ///
    /// When called from a worker thread of a gort runtime: blocking a
    /// processor would stall its tasks (use `.await` instead).
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Spawns a task on this runtime. See [`crate::spawn`].
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs `f` on this runtime's blocking pool. See [`crate::spawn_blocking`].
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// A handle to this runtime, to spawn from other threads.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Makes this the calling thread's current runtime until the guard drops.
    pub fn enter(&self) -> EnterGuard {
        self.handle.enter()
    }

    /// Shuts down, waiting at most `timeout` for the workers to finish their
    /// current polls and for blocking tasks to return. Threads still busy
    /// after that are left to finish on their own; the last worker to stop
    /// still cancels every remaining task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = gort::runtime::Runtime::new().unwrap();
    /// let handle = rt.spawn(std::future::pending::<()>());
    /// rt.shutdown_timeout(Duration::from_secs(5));
    /// let err = gort::block_on(handle).unwrap_err();
    /// assert!(err.is_cancelled());
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        self.shutdown(Some(deadline));
        self.shut_down = true;
    }

    /// What `#[gort::main]` expands to: runs `future` to completion, then
    /// shuts down waiting at most [`MAIN_SHUTDOWN_TIMEOUT`] for workers
    /// stuck inside a poll (a task in a long blocking call), so that the
    /// program ends when `main` returns, as a Go program does, instead of
    /// when the slowest task's blocking call returns. Not for direct use.
    #[doc(hidden)]
    #[track_caller]
    pub fn __run_main<F: Future>(self, future: F) -> F::Output {
        let output = self.block_on(future);
        self.shutdown_timeout(MAIN_SHUTDOWN_TIMEOUT);
        output
    }

    fn shutdown(&self, deadline: Option<Instant>) {
        self.shutdown_runtime(deadline);
        if self.stops_trace {
            if let Err(e) = crate::trace::stop() {
                eprintln!("gort: GORT_TRACE: {e}");
            }
        }
    }

    fn shutdown_runtime(&self, deadline: Option<Instant>) {
        // Destructors of cancelled tasks run on this thread too (queued
        // blocking tasks): inside the runtime, `Handle::current` works and
        // `spawn` goes to this (closed) runtime, not the global one.
        let _enter = self.handle.enter();
        let shared = self.handle.scheduler.shared();
        shared.close();
        let on_own_worker =
            worker::with_current(|w| w.is_some_and(|w| w.scheduler.ptr_eq(&self.handle.scheduler)));
        if on_own_worker {
            // Dropped from inside one of its own tasks: we cannot wait for
            // ourselves. The last worker out finishes the shutdown.
            return;
        }
        if shared.wait_drained(deadline) {
            let threads =
                std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
            for t in threads {
                let _ = t.join();
            }
        }
        shared.blocking.wait(deadline);
    }
}

/// How long a `#[gort::main]` program waits, once `main` has returned, for
/// tasks still inside a poll (a blocking call on a worker) before it exits
/// without them. Tasks that are not running are cancelled at once; a
/// normal shutdown takes microseconds.
pub const MAIN_SHUTDOWN_TIMEOUT: Duration = Duration::from_millis(100);

impl Drop for Runtime {
    fn drop(&mut self) {
        if !self.shut_down {
            self.shutdown(None);
        }
    }
}

/// A cheap, cloneable reference to a runtime, for spawning from anywhere.
///
/// # Examples
///
/// ```
/// let rt = gort::runtime::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// let from_thread = std::thread::spawn(move || handle.spawn(async { "hi" }))
///     .join()
///     .unwrap();
/// assert_eq!(rt.block_on(from_thread).unwrap(), "hi");
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) scheduler: Scheduler,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.scheduler.shared().num_workers())
            .finish()
    }
}

/// Returned by [`Handle::try_current`] outside a runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryCurrentError(());

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("this thread is not running inside a gort runtime")
    }
}

impl std::error::Error for TryCurrentError {}

impl Handle {
    pub(crate) fn from_scheduler(scheduler: Scheduler) -> Handle {
        Handle { scheduler }
    }

    /// The runtime this thread is in: a worker's, a blocking thread's, or
    /// the one whose `block_on`/`enter` is active.
    ///
    /// # Panics
    ///
    /// Outside any runtime; see [`try_current`](Self::try_current). (The
    /// free function [`crate::spawn`] does not need one: it falls back to
    /// the global runtime.)
    #[track_caller]
    pub fn current() -> Handle {
        match Self::try_current() {
            Ok(h) => h,
            Err(e) => {
                panic!("Handle::current(): {e}; use gort::spawn (global runtime) or Runtime::enter")
            }
        }
    }

    /// The current runtime, or an error outside any.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::runtime::Handle;
    /// assert!(Handle::try_current().is_err());
    /// ```
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        context::current().ok_or(TryCurrentError(()))
    }

    /// Spawns a task on this runtime. See [`crate::spawn`].
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.scheduler.spawn(future, Location::caller(), None)
    }

    /// Runs `f` on this runtime's blocking pool. See [`crate::spawn_blocking`].
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.scheduler
            .shared()
            .blocking
            .spawn_fn(f, self, Location::caller())
    }

    /// Runs `future` to completion on the calling thread, inside this runtime.
    /// See [`Runtime::block_on`].
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = self.enter();
        crate::block_on::block_on_thread(future, Some(&self.scheduler))
    }

    /// Makes this the calling thread's current runtime until the guard drops.
    pub fn enter(&self) -> EnterGuard {
        context::enter(self.clone())
    }

    /// Tasks of this runtime spawned and not yet completed (blocking tasks
    /// excluded).
    pub fn num_goroutines(&self) -> usize {
        self.scheduler.num_goroutines()
    }

    /// Number of worker threads (processors).
    pub fn num_workers(&self) -> usize {
        self.scheduler.shared().num_workers()
    }

    /// This runtime's counters: tasks, polls, steals, parks, queues,
    /// threads (see [`RuntimeMetrics`]).
    ///
    /// ```
    /// let rt = gort::runtime::Runtime::new().unwrap();
    /// let m = rt.handle().metrics();
    /// rt.block_on(async { gort::spawn(async {}).await.unwrap() });
    /// assert_eq!(m.spawned_tasks_count(), 1);
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics::new(self.scheduler.clone())
    }

    /// The goroutine dump: every live task of this runtime, its state,
    /// what it waits on and for how long, where it was spawned (see
    /// [`Dump`]). Synchronous and cheap enough to call from a signal
    /// handler's thread or a debug endpoint: it reads each task's header
    /// without stopping the workers.
    ///
    /// ```
    /// use gort::runtime::{TaskState, WaitReason};
    ///
    /// let rt = gort::runtime::Runtime::new().unwrap();
    /// let (tx, rx) = gort::chan::bounded::<u32>(0);
    /// let waiter = rt.spawn(async move { rx.recv().await });
    /// // Wait until the task has run and gone to sleep on the channel.
    /// let dump = loop {
    ///     let dump = rt.handle().dump();
    ///     if dump.iter().any(|t| t.state() == TaskState::Parked) {
    ///         break dump;
    ///     }
    ///     std::thread::yield_now();
    /// };
    /// let task = dump.iter().next().unwrap();
    /// assert_eq!(task.wait_reason(), Some(WaitReason::ChanReceive));
    /// assert!(dump.to_string().starts_with(&format!("goroutine {} [chan receive, ", task.id())));
    /// drop(tx);
    /// assert!(rt.block_on(waiter).unwrap().is_err()); // closed
    /// ```
    pub fn dump(&self) -> Dump {
        Dump::take(&self.scheduler)
    }
}

static GLOBAL: OnceLock<Runtime> = OnceLock::new();

/// The process-wide runtime used by [`crate::spawn`] outside any runtime,
/// started on first use with the default settings.
///
/// If it cannot be built (a bad `GORT_MAXPROCS`, no threads), there is no
/// caller to return the error to: the process prints one line to stderr
/// ("gort: cannot start the global runtime: GORT_MAXPROCS must be a
/// positive integer, got \"abc\"") and exits with status 2, as Go's
/// runtime does on a fatal error. A panic would add only a backtrace
/// into gort to a configuration mistake.
pub(crate) fn global() -> &'static Runtime {
    GLOBAL.get_or_init(|| {
        Builder::new()
            .thread_name("gort-global")
            .build()
            .unwrap_or_else(|e| {
                eprintln!("gort: cannot start the global runtime: {e}");
                std::process::exit(GLOBAL_START_FAILED)
            })
    })
}

/// The exit status of a process whose global runtime cannot start.
const GLOBAL_START_FAILED: i32 = 2;

/// Live tasks (Go's `runtime.NumGoroutine`) of the current runtime, or of
/// the global runtime outside any (0 if it never started).
///
/// # Examples
///
/// ```
/// let rt = gort::runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let (tx, rx) = futures::channel::oneshot::channel::<()>();
///     let h = gort::spawn(async move { rx.await.ok(); });
///     assert!(gort::runtime::num_goroutines() >= 1);
///     tx.send(()).unwrap();
///     h.await.unwrap();
/// });
/// ```
pub fn num_goroutines() -> usize {
    match context::current() {
        Some(h) => h.num_goroutines(),
        None => GLOBAL.get().map_or(0, |rt| rt.handle.num_goroutines()),
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn worker_count_resolution() {
        assert_eq!(
            resolve_worker_threads(Some(3), Some("9".into())).unwrap(),
            3
        );
        assert_eq!(resolve_worker_threads(None, Some(" 4 ".into())).unwrap(), 4);
        assert!(resolve_worker_threads(None, None).unwrap() >= 1);
        let e = resolve_worker_threads(Some(0), None).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("at least 1"), "{e}");
        let e = resolve_worker_threads(None, Some("two".into())).unwrap_err();
        assert!(
            e.to_string()
                .contains("GORT_MAXPROCS must be a positive integer, got \"two\""),
            "{e}"
        );
        let e = resolve_worker_threads(None, Some("0".into())).unwrap_err();
        assert!(
            e.to_string().contains("GORT_MAXPROCS must be at least 1"),
            "{e}"
        );
        let e = resolve_worker_threads(None, Some("-2".into())).unwrap_err();
        assert!(e.to_string().contains("positive integer"), "{e}");
        assert!(resolve_worker_threads(Some(MAX_WORKERS + 1), None).is_err());
    }
}
