//! The runtimes under comparison, behind one small trait.
//!
//! A workload is written once as `fn run<C: Contender>(rt: &C, params: &Params)`
//! and monomorphised per runtime, so the measured loop calls each runtime's own
//! `spawn` directly (no boxing, no dynamic dispatch beyond what `spawn` does).
//!
//! Adding a contender: implement [`Contender`] in a new submodule, add a
//! variant to [`AnyContender`] (and to [`AnyContender::NAMES`] and
//! [`AnyContender::build`]), and add one arm to [`dispatch!`](crate::dispatch).

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

/// One built runtime of any contender; the set compared in a run.
pub enum AnyContender {
    /// gort, the runtime under test.
    Gort(Gort),
    /// tokio's multi-threaded runtime, the baseline.
    Tokio(Tokio),
    /// smol's executor (async-executor on as many threads).
    Smol(Smol),
}

impl AnyContender {
    /// Names of all contenders, in table order: the subject first, then the
    /// baseline, then the other peers.
    pub const NAMES: &'static [&'static str] = &[Gort::NAME, Tokio::NAME, Smol::NAME];

    /// Name of the runtime under test (numerator of the ratio column).
    pub const SUBJECT: &'static str = Gort::NAME;

    /// Name of the baseline (denominator of the ratio column).
    pub const BASELINE: &'static str = Tokio::NAME;

    /// Builds the contender called `name` with `workers` worker threads.
    pub fn build(name: &str, workers: usize) -> std::io::Result<AnyContender> {
        match name {
            n if n == Gort::NAME => Gort::build(workers).map(AnyContender::Gort),
            n if n == Tokio::NAME => Tokio::build(workers).map(AnyContender::Tokio),
            n if n == Smol::NAME => Smol::build(workers).map(AnyContender::Smol),
            other => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("unknown contender {other:?}"),
            )),
        }
    }

    /// This contender's name.
    pub fn name(&self) -> &'static str {
        match self {
            AnyContender::Gort(_) => Gort::NAME,
            AnyContender::Tokio(_) => Tokio::NAME,
            AnyContender::Smol(_) => Smol::NAME,
        }
    }

    /// The gort runtime, if this is it.
    pub fn as_gort(&self) -> Option<&Gort> {
        match self {
            AnyContender::Gort(rt) => Some(rt),
            _ => None,
        }
    }

    /// The smol executor, if this is it.
    pub fn as_smol(&self) -> Option<&Smol> {
        match self {
            AnyContender::Smol(rt) => Some(rt),
            _ => None,
        }
    }

    /// The tokio runtime, if this is it.
    pub fn as_tokio(&self) -> Option<&Tokio> {
        match self {
            AnyContender::Tokio(rt) => Some(rt),
            _ => None,
        }
    }
}

/// Turns a function generic over [`Contender`] into a
/// [`RunFn`](crate::workload::RunFn) that matches on [`AnyContender`].
///
/// `dispatch!(path::to::workload_fn)` expands to a non-capturing closure,
/// which coerces to a plain `fn` pointer; each arm calls the monomorphised
/// workload for that runtime.
#[macro_export]
macro_rules! dispatch {
    ($f:path) => {
        |rt: &$crate::contender::AnyContender,
         params: &$crate::workload::Params|
         -> ::std::result::Result<$crate::workload::Measurement, ::std::string::String> {
            match rt {
                $crate::contender::AnyContender::Gort(c) => $f(c, params),
                $crate::contender::AnyContender::Tokio(c) => $f(c, params),
                $crate::contender::AnyContender::Smol(c) => $f(c, params),
            }
        }
    };
}
