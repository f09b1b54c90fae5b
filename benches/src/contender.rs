//! The runtimes under comparison, behind one small trait.
//!
//! A workload is written once as `fn run<C: Contender>(rt: &C, params: &Params)`
//! and monomorphised per runtime, so the measured loop calls each runtime's own
//! `spawn` directly (no boxing, no dynamic dispatch beyond what `spawn` does).
//!
//! Adding a contender: implement [`Contender`] in a new submodule, add it
//! to [`Env`](crate::suite::Env) and to the `runtimes!` macro of
//! [`workload`](crate::workload), and give it a column in the runtime suite.

mod gort_rt;
mod smol_rt;
mod tokio_rt;

use std::fmt::Debug;
use std::future::Future;

pub use gort_rt::Gort;
pub use smol_rt::Smol;
pub use tokio_rt::Tokio;

/// What a workload needs from a runtime.
///
/// `spawn` and `yield_now` are associated functions: like `tokio::spawn` and
/// `gort::spawn` they act on the runtime of the task that calls them and must
/// be called from inside a task of that runtime. `spawn_remote` is the
/// handle-based spawn used from outside the runtime (the bench thread).
pub trait Contender: Sized + Send + Sync + 'static {
    /// Short name, used in table headers and progress lines.
    const NAME: &'static str;

    /// The runtime's join handle; resolves to the task's output or a join error.
    type JoinHandle<T: Send + 'static>: Future<Output = Result<T, Self::JoinError>> + Send + 'static;

    /// The runtime's join error (a panicked or cancelled task).
    type JoinError: Debug + Send + 'static;

    /// Builds the runtime with `workers` worker threads.
    fn build(workers: usize) -> std::io::Result<Self>;

    /// Runs `fut` to completion on the calling thread (not a worker).
    fn block_on<F: Future>(&self, fut: F) -> F::Output;

    /// Spawns `fut` onto the current runtime; call from inside one of its tasks.
    fn spawn<F>(fut: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Spawns `fut` through the runtime's handle, from any thread.
    fn spawn_remote<F>(&self, fut: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Yields the current task back to the scheduler once.
    fn yield_now() -> impl Future<Output = ()> + Send;

    /// Sleeps for `duration` on the runtime's own timer.
    fn sleep(duration: std::time::Duration) -> impl Future<Output = ()> + Send;

    /// Runs `fut` under the runtime's own timeout; `Err(())` if it elapsed.
    fn timeout<F: Future + Send>(
        duration: std::time::Duration,
        fut: F,
    ) -> impl Future<Output = Result<F::Output, ()>> + Send;
}

/// Awaits a join handle and turns a join error into a message.
pub async fn join<C: Contender, T: Send + 'static>(handle: C::JoinHandle<T>) -> Result<T, String> {
    handle
        .await
        .map_err(|e| format!("{} task failed to join: {e:?}", C::NAME))
}

/// Worker threads of every runtime (and Go's GOMAXPROCS) in a run.
pub const WORKERS: usize = 2;

/// Parameters shared by all workloads of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Worker threads each runtime was built with.
    pub workers: usize,
    /// Smaller sizes for a quick smoke run.
    pub quick: bool,
}

impl Params {
    /// `full` normally, `quick` under `--quick`.
    pub fn size<T>(&self, full: T, quick: T) -> T {
        if self.quick {
            quick
        } else {
            full
        }
    }
}
