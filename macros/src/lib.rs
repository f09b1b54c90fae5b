//! Attribute macros that run an `async fn` on a gort runtime:
//! [`#[gort::main]`](macro@main) for a program's entry point and
//! [`#[gort::test]`](macro@test) for tests; and the implementation of
//! `select!` ([`macro@select`]), which users reach as `gort_channel::select!`
//! or `gort::select!`.
//!
//! Use the attributes through the `gort` crate (`#[gort::main]`,
//! `#[gort::test]`); their expansion refers to `::gort::runtime`, so this
//! crate is not meant to be used on its own.
//!
//! Both attributes turn
//!
//! ```ignore
//! #[gort::main(worker_threads = 4)]
//! async fn main() -> R { body }
//! ```
//!
//! into a plain function that builds a runtime and blocks on the body:
//!
//! ```ignore
//! fn main() -> R {
//!     ::gort::runtime::Builder::new()
//!         .worker_threads(4usize)
//!         // `#[gort::test]`: .on_deadlock(::gort::runtime::OnDeadlock::Panic)
//!         .build()
//!         // `#[gort::test]`: .expect("gort: failed to build the runtime")
//!         .unwrap_or_else(|e| {
//!             ::std::eprintln!("gort: cannot start the runtime: {}", e);
//!             ::std::process::exit(2)
//!         })
//!         // `#[gort::test]`: .block_on(async move {
//!         .__run_main(async move {
//!             let __gort_output: R = { body };
//!             #[allow(unreachable_code)]
//!             let __gort_result = __gort_output;
//!             __gort_result
//!         })
//! }
//! ```
//!
//! The function keeps its name, visibility, attributes and return type, so
//! `?` works in the body exactly as in a synchronous `main`. Binding the
//! body to a variable of type `R` makes the compiler check it against the
//! declared return type where it is written: a wrong tail expression is
//! reported inside the body, not at the attribute. (For `-> impl Trait` and
//! `-> !`, which cannot be a variable's type, the future is just
//! `async move { body }`.) The runtime is a temporary of that one expression,
//! so it is shut down when the function returns.
//!
//! # Arguments
//!
//! | argument             | meaning                                               |
//! |----------------------|-------------------------------------------------------|
//! | `worker_threads = N` | number of processors (Go's `GOMAXPROCS`); `N >= 1`, an integer literal. Default: the builder's (`GORT_MAXPROCS` or the number of CPUs). |
//!
//! # Misuse is a compile error
//!
//! The macros never panic; every mistake is reported on the token that
//! causes it: a function that is not `async` (on `fn`), one with parameters
//! (on the parameters), generic parameters or a `where` clause, an unknown
//! argument (on its name, listing the accepted ones), and a bad or repeated
//! `worker_threads` value (on the value or the repeat).

#![warn(missing_docs)]
#![forbid(unsafe_code)]

use proc_macro::TokenStream;

mod args;
mod entry;
mod select;

/// Runs an `async fn main` on a gort runtime.
///
/// The function becomes a synchronous `main` that builds a
/// `gort::runtime::Runtime`, runs the body with `Runtime::block_on`, and
/// returns what the body returned. Then the runtime shuts down: tasks that
/// are not running are cancelled, and a task stuck inside a poll (a long
/// blocking call on a worker) is waited for at most
/// `gort::runtime::MAIN_SHUTDOWN_TIMEOUT` (100 ms), so the program ends
/// when `main` returns, as a Go program does. A runtime that cannot be
/// built (a bad `GORT_MAXPROCS`) is one line on stderr and exit status 2.
///
/// # Arguments
///
/// - `worker_threads = N`: the number of processors that run goroutines in
///   parallel (Go's `GOMAXPROCS`). `N` is a positive integer literal. Without
///   it the builder's default applies (`GORT_MAXPROCS`, else the number of
///   CPUs).
///
/// # Examples
///
/// ```ignore
/// #[gort::main]
/// async fn main() {
///     let (tx, rx) = gort::chan::bounded(0);
///     gort::spawn(async move { tx.send("hello").await.unwrap() });
///     println!("{}", rx.recv().await.unwrap());
/// }
/// ```
///
/// With a fixed number of processors, returning a `Result` so `?` works:
///
/// ```ignore
/// use std::error::Error;
///
/// #[gort::main(worker_threads = 4)]
/// async fn main() -> Result<(), Box<dyn Error>> {
///     let listener = gort::net::TcpListener::bind("127.0.0.1:0").await?;
///     println!("listening on {}", listener.local_addr()?);
///     Ok(())
/// }
/// ```
///
/// # Errors
///
/// These are compile errors, each pointing at the offending token:
///
/// ```ignore
/// #[gort::main]
/// fn main() {}                     // the `async` keyword is missing
///
/// #[gort::main]
/// async fn main(port: u16) {}      // cannot take arguments
///
/// #[gort::main(threads = 2)]       // unknown argument; accepted: `worker_threads`
/// async fn main() {}
///
/// #[gort::main(worker_threads = 0)] // must be at least 1
/// async fn main() {}
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(args::Kind::Main, args.into(), item.into()).into()
}

/// Runs an `async fn` test on its own gort runtime.
///
/// The function becomes a `#[test]` function that builds a fresh
/// `gort::runtime::Runtime` for this test alone and blocks on the body.
/// Other attributes (`#[should_panic]`, `#[ignore]`, docs, lints) and the
/// return type (e.g. `Result<(), E>` for `?`) are kept.
///
/// A test that deadlocks (it waits for something no task, timer, socket
/// or blocking call can ever deliver) fails within about 50 ms with Go's
/// "all goroutines are asleep - deadlock!" and the goroutine dump, where a
/// tokio test would hang: the runtime is built with
/// `on_deadlock(OnDeadlock::Panic)`.
///
/// # Arguments
///
/// - `worker_threads = N`: as for [`macro@main`]; useful to test with a
///   single processor (`worker_threads = 1`) or with real parallelism.
///
/// # Examples
///
/// ```ignore
/// #[gort::test]
/// async fn unbuffered_channel_hands_off() {
///     let (tx, rx) = gort::chan::bounded(0);
///     gort::spawn(async move { tx.send(7).await.unwrap() });
///     assert_eq!(rx.recv().await.unwrap(), 7);
/// }
///
/// #[gort::test(worker_threads = 1)]
/// async fn spawned_task_joins() -> Result<(), gort::JoinError> {
///     let n = gort::spawn(async { 40 + 2 }).await?;
///     assert_eq!(n, 42);
///     Ok(())
/// }
///
/// #[gort::test]
/// #[should_panic(expected = "boom")]
/// async fn panics_propagate() {
///     panic!("boom");
/// }
/// ```
///
/// # Errors
///
/// The same compile errors as [`macro@main`], plus: a test cannot take
/// arguments, and `#[gort::test]` together with `#[test]` is rejected (it
/// would define the test twice).
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(args::Kind::Test, args.into(), item.into()).into()
}

/// The implementation of `gort_channel::select!` (re-exported as
/// `gort::select!`), which is documented with examples there; use that
/// macro, not this one.
///
/// Waits on several channel operations and futures; exactly one arm takes
/// effect (Go's `select`). `gort_channel::select!` invokes it with
/// gort-channel's path first, `select! { $crate; arms... }`, and the
/// expansion refers to that path's `__private` module only, so it works
/// for a crate that depends on gort-channel alone.
///
/// ```ignore
/// gort_channel::select! {
///     v = rx.recv() => println!("got {v:?}"),
///     r = tx.send(1) => r.unwrap(),
///     _ = some_future => println!("the future completed first"),
///     default => println!("nothing was ready"),
/// }
/// ```
#[proc_macro]
pub fn select(input: TokenStream) -> TokenStream {
    select::expand(input.into()).into()
}
