//! # gort: Go's goroutine runtime, re-created in Rust
//!
//! A goroutine is a boxed `Future` (64 bytes for an empty one, where Go
//! needs a 2 KiB stack and a thread 1 MiB). Goroutines run M:N on `P`
//! processors, as in Go: each processor has a local run queue and a LIFO
//! slot (Go's `runnext`), there is one global injector, and idle processors
//! steal half of a busy one's queue.
//!
//! ```
//! #[gort::main(worker_threads = 2)]
//! async fn main() {
//!     let handles: Vec<_> = (0..1000u64).map(|i| gort::spawn(async move { i })).collect();
//!     let mut sum = 0;
//!     for h in handles {
//!         sum += h.await.unwrap();
//!     }
//!     assert_eq!(sum, 499_500);
//! }
//! ```
//!
//! `gort::spawn` is a drop-in for `tokio::spawn` and works from any thread:
//! inside a runtime it uses that runtime, outside any it starts a global
//! one. Blocking code goes to [`spawn_blocking`]; [`yield_now`] is Go's
//! `runtime.Gosched`.
//!
//! ```
//! // No runtime, no macro: the global runtime starts on first use.
//! let h = gort::spawn(async { 40 + 2 });
//! assert_eq!(gort::block_on(h).unwrap(), 42);
//! ```
//!
//! | Go                        | gort                                        |
//! |---------------------------|---------------------------------------------|
//! | `go f()`                  | [`spawn`]`(f())`                            |
//! | `runtime.Gosched()`       | [`yield_now`]`().await`                     |
//! | `GOMAXPROCS`              | `GORT_MAXPROCS`, [`runtime::Builder::worker_threads`] |
//! | `runtime.NumGoroutine()`  | [`runtime::num_goroutines`]                 |
//! | `func main()`             | `#[gort::main] async fn main()`             |
#![warn(missing_docs)]

pub use gort_executor::{block_on, spawn, spawn_blocking, yield_now, JoinError, JoinHandle};

/// Runtime construction and control: [`Builder`](runtime::Builder),
/// [`Runtime`](runtime::Runtime), [`Handle`](runtime::Handle).
pub mod runtime {
    pub use gort_executor::runtime::*;
    pub use gort_executor::EnterGuard;
}

/// Go's channels: [`bounded`](chan::bounded) (0 = unbuffered),
/// [`unbounded`](chan::unbounded), MPMC, close that drains. They work on
/// any executor and on plain threads.
///
/// ```
/// #[gort::main(worker_threads = 2)]
/// async fn main() {
///     let (tx, rx) = gort::chan::bounded::<u64>(0);
///     let producer = gort::spawn(async move {
///         for i in 0..10 {
///             tx.send(i).await.unwrap();
///         }
///     });
///     let mut sum = 0;
///     while let Ok(v) = rx.recv().await {
///         sum += v;
///     }
///     producer.await.unwrap();
///     assert_eq!(sum, 45);
/// }
/// ```
pub mod chan {
    pub use gort_channel::*;
}

/// Task handles and ids.
pub mod task {
    pub use gort_executor::task::*;
    pub use gort_executor::{spawn, spawn_blocking, yield_now};
}

/// Runs an `async fn main` on a new gort runtime.
///
/// `#[gort::main]` uses the default worker count (`GORT_MAXPROCS`, else one
/// per CPU); `#[gort::main(worker_threads = N)]` sets it.
///
/// ```
/// #[gort::main(worker_threads = 1)]
/// async fn main() -> Result<(), gort::JoinError> {
///     let v = gort::spawn(async { 1 }).await?;
///     assert_eq!(v, 1);
///     Ok(())
/// }
/// ```
pub use gort_macros::main;

/// Runs an `async fn` test on its own gort runtime (one per test).
///
/// ```
/// #[gort::test]
/// async fn adds() {
///     assert_eq!(gort::spawn(async { 2 + 2 }).await.unwrap(), 4);
/// }
/// ```
pub use gort_macros::test;
