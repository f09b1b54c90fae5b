//! gort's scheduler: Go's G/M/P runtime for Rust futures.
//!
//! # The map from Go
//!
//! | Go (`runtime/proc.go`) | here                                                     |
//! |------------------------|----------------------------------------------------------|
//! | G, goroutine           | a task (`task/`): one allocation, header + future/output |
//! | P, processor           | `Processor` (`processor.rs`): ring of 256, LIFO slot; its other-threads half is `ProcessorShared` |
//! | M, OS thread           | `Worker` (`worker.rs`); with its processor in hand, `Held` (the loop) |
//! | `sched`                | `Shared` (`scheduler.rs`): processors' shared halves, injector, idle set; `Scheduler` is the `Arc` to it that every task holds, `runtime::Handle` the public one |
//! | `schedtick%61` checks  | `Held::tick_maintenance`: a reactor turn and an injector batch |
//! | `goready` / `ready`    | `Schedule::schedule` (a wake)                             |
//! | `Gosched`'s requeue    | `Schedule::requeue` (a task woken during its own poll)    |
//! | global run queue       | `Injector` (`injector.rs`)                               |
//! | `runnext`              | the LIFO slot (`queue.rs`)                               |
//! | spinning Ms            | searching workers (`idle.rs`)                            |
//! | `notesleep`/`wakeup`   | `Parker` (`park.rs`)                                     |
//! | `sysmon`, `retake`, `handoffp` | `sysmon.rs`: a poll longer than the blocking threshold loses its run permit to a spare thread |
//! | `debug.SetMaxThreads`  | [`runtime::Builder::max_threads`]                        |
//! | `go f()`               | [`spawn`]                                                |
//! | `runtime.Gosched`      | [`yield_now`]                                            |
//! | `GOMAXPROCS`           | `GORT_MAXPROCS`, [`runtime::Builder::worker_threads`]    |
//! | `runtime.NumGoroutine` | [`runtime::num_goroutines`]                              |
//!
//! # A task's life
//!
//! `spawn` allocates the task (a 64-byte block for an empty `async {}`,
//! recycled through per-worker free lists) with three
//! references: its first `Notified`, the `JoinHandle`, and the registry
//! reference. On a worker the `Notified` goes to that processor's LIFO slot;
//! elsewhere to the injector. The first poll by a worker registers the task
//! (a bit in its state word: the registry is a walk of task memory), which
//! is how a shutdown finds tasks that no queue holds. Each poll runs under the `RUNNING` bit; a wake sets
//! `NOTIFIED` and, if the task was idle, queues a new `Notified`. On
//! completion the output is published, the joiner woken, and the registry
//! reference given back.
//!
//! # Constants
//!
//! | constant | value | why |
//! |---|---|---|
//! | ring capacity | 256 | Go's `runq`; a steal moves half |
//! | LIFO polls in a row | 3 | the time slice: without preemption a ping-pong pair would starve the ring (tokio's value) |
//! | injector check | every 61st tick, a batch | Go's `schedtick%61`: a prime, rare enough to stay off the fast path; a batch because yielders stay local (ARCHITECTURE.md) |
//! | injector batch | `min(128, len/P + 1)` | Go's `globrunqget` |
//! | searchers | at most half the unparked workers | Go's `nmspinning` rule, tokio's `idle.rs` |
//! | blocking threads | 512, idle exit after 10 s | tokio's defaults |
//! | blocking threshold | 2 ms | a stalled worker costs its other tasks at most about this plus sysmon's period (half of it); Go hands a P off after a 20 us-10 ms syscall and preempts after 10 ms. A false retake of a long computation costs a thread switch |
//! | worker threads | at most 10,000; a spare exits after 10 s idle | Go's `debug.SetMaxThreads` default; the blocking pool's keep-alive |
//! | cooperative budget | 128 operations per poll | tokio's value |
//! | task block classes | 88, 120, 152, 184, 216, 280 bytes | 8 less than a multiple of 16, what glibc serves without waste (an empty task is 80); larger futures use the allocator directly |
//! | free blocks per worker | 128 per class, batches of 32 | Go's `gfput` keeps 64 and moves 32 |
//! | free batches process-wide | 4,096 per class while busy; trimmed to 32 when every worker has parked, 32 batches per 30 ms | a burst of 100,000 live tasks recycles its memory (Go keeps every dead G); an idle program gives it back |
//! | scheduler handles per processor | refill 64, keep 512 | enough to absorb a burst of 10,000 spawns in a few refills |
//!
//! # Lock order
//!
//! No lock is taken on the spawn or wake path. The locks that exist are
//! leaves: the idle set's sleepers list, each parker's mutex, the blocking
//! pool's state, the shutdown flag's mutex, sysmon's spares list, the
//! processor table's retired list. None is held while another is taken,
//! and none while user code runs.
#![warn(missing_docs)]

mod block_on;
mod blocking;
mod clock;
mod context;
mod deadlock;
mod dump;
mod idle;
mod injector;
mod loom;
mod metrics;
mod netpoll;
mod pad;
mod park;
mod processor;
mod queue;
mod scheduler;
mod sysmon;
pub mod task;
#[cfg(all(feature = "tokio-compat", not(loom)))]
mod tokio_compat;
mod worker;
mod yield_now;

#[cfg(all(test, loom))]
mod tests;

pub mod runtime;
pub mod trace;

pub use block_on::block_on;
pub use context::EnterGuard;
pub use task::{JoinError, JoinHandle};
pub use yield_now::yield_now;

use std::future::Future;
use std::panic::Location;

/// Spawns a goroutine: runs `future` concurrently on the current runtime,
/// or on the global runtime (started on first use) when called outside any.
/// Drop-in for `tokio::spawn`.
///
/// On a worker thread the new task goes to that processor's LIFO slot, so a
/// task that spawns and then waits for its child runs the child next, hot
/// in cache.
///
/// If the global runtime cannot start (a `GORT_MAXPROCS` that is not a
/// positive integer), the process prints one line saying why to stderr
/// and exits with status 2.
///
/// # Examples
///
/// ```
/// // No runtime needed: this starts the global one.
/// let handle = gort::spawn(async { "from a goroutine" });
/// assert_eq!(gort::block_on(handle).unwrap(), "from a goroutine");
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_at(future, Location::caller(), None)
}

/// [`spawn`] with the spawn site and name given (`task::Builder`).
#[inline]
pub(crate) fn spawn_at<F>(
    future: F,
    location: &'static Location<'static>,
    name: Option<Box<str>>,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut future = Some(future);
    let mut name = Some(name);
    let spawned = context::with_scheduler(|s| {
        s.map(|s| s.spawn(future.take().unwrap(), location, name.take().flatten()))
    });
    match spawned {
        Some(join) => join,
        None => runtime::global().handle().scheduler.spawn(
            future.take().unwrap(),
            location,
            name.take().flatten(),
        ),
    }
}

/// Runs a blocking closure on the current runtime's blocking pool (or the
/// global runtime's), never on a worker. The pool grows on demand up to 512
/// threads; idle threads exit after 10 seconds. Starting the global
/// runtime can end the process as [`spawn`] says.
///
/// Use it for work known to block (a file read, a lookup, a C call): it
/// takes nothing from the workers. A task that blocks a worker anyway is
/// not fatal either: after the blocking threshold
/// ([`runtime::Builder::blocking_threshold`], 2 ms) sysmon hands that
/// worker's run permit to another thread, so the other tasks stall at most
/// that long, at the price of a thread switch.
///
/// # Examples
///
/// ```
/// let rt = gort::runtime::Runtime::new().unwrap();
/// let n = rt.block_on(async {
///     gort::spawn_blocking(|| std::fs::read_dir(".").map(|d| d.count()).unwrap_or(0))
///         .await
///         .unwrap()
/// });
/// assert!(n > 0);
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match context::current() {
        Some(handle) => handle.spawn_blocking(f),
        None => runtime::global().handle().spawn_blocking(f),
    }
}

#[cfg(all(test, not(loom)))]
mod size_tests {
    use crate::scheduler::Scheduler;
    use crate::task::{task_size, HEADER_SIZE};

    // The task header fits one 64-byte cache line. Checked at compile time.
    const _: () = assert!(HEADER_SIZE <= 64);

    #[test]
    fn empty_task_is_at_most_64_bytes() {
        fn size_of_task<F: std::future::Future>(_: &F) -> usize {
            task_size::<F, Scheduler>()
        }
        let fut = async {};
        let size = size_of_task(&fut);
        assert!(size <= 64, "an empty async task takes {size} bytes");
    }
}
