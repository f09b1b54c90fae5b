//! # gort: Go's goroutine runtime, re-created in Rust
//!
//! A goroutine is a boxed `Future` (80 bytes for an empty one, where Go
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
//! | `sync.WaitGroup`, `sync.Mutex`, ... | [`sync`]                 |
//!
//! # Features
//!
//! - `tokio-io`: tokio's `AsyncRead`/`AsyncWrite` on [`net::TcpStream`]
//!   and `net::UnixStream` (and their halves), for crates written against
//!   tokio's I/O traits (hyper-util's `TokioIo`, for one).
//! - `hyper`: `gort::rt::hyper`, hyper 1.x's `Executor` and `Timer` on
//!   gort (turns on `tokio-io`); `examples/http_server.rs` serves HTTP/1.1
//!   with it.
#![warn(missing_docs)]

pub use gort_executor::{block_on, spawn, spawn_blocking, yield_now, JoinError, JoinHandle};

/// Runtime construction and control: [`Builder`](runtime::Builder),
/// [`Runtime`](runtime::Runtime), [`Handle`](runtime::Handle).
pub mod runtime {
    pub use gort_executor::runtime::*;
    pub use gort_executor::EnterGuard;
}

/// The execution trace (Go's `go tool trace`): [`start`](trace::start)
/// and [`stop`](trace::stop) write every poll, wake, spawn, steal, park
/// and reactor turn of the process's gort runtimes as a Chrome trace
/// event file for Perfetto; `GORT_TRACE=path` traces a whole run.
pub mod trace {
    pub use gort_executor::trace::*;
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

/// Go's `sync` package: [`WaitGroup`](sync::WaitGroup),
/// [`Mutex`](sync::Mutex) (normal and starvation modes),
/// [`RwLock`](sync::RwLock) (`RWMutex`, writer-preferring),
/// [`OnceCell`](sync::OnceCell) (`Once`, `OnceValue`) and
/// [`Semaphore`](sync::Semaphore) (`x/sync/semaphore.Weighted`, FIFO).
/// Tasks wait through their waker; threads call the `*_blocking`
/// variants. They work on any executor.
///
/// ```
/// use std::sync::Arc;
/// use gort::sync::{Mutex, OnceCell, Semaphore, WaitGroup};
///
/// static GREETING: OnceCell<String> = OnceCell::new();
///
/// #[gort::main(worker_threads = 2)]
/// async fn main() {
///     let hits = Arc::new(Mutex::new(0u64));
///     let limit = Arc::new(Semaphore::new(2)); // at most 2 at a time
///     let wg = WaitGroup::new();
///     for _ in 0..8 {
///         wg.add(1);
///         let (hits, limit, wg) = (hits.clone(), limit.clone(), wg.clone());
///         gort::spawn(async move {
///             let _permit = limit.acquire(1).await;
///             let greeting = GREETING.get_or_init(|| async { "hello".to_string() }).await;
///             assert_eq!(greeting, "hello");
///             *hits.lock().await += 1;
///             wg.done();
///         });
///     }
///     wg.wait().await;
///     assert_eq!(*hits.lock().await, 8);
/// }
/// ```
pub mod sync {
    pub use crate::errgroup::ErrGroup;
    pub use gort_sync::*;
}

mod errgroup;

/// Go's `context`: cancellation, deadlines and values passed down a tree
/// of tasks ([`Context`](context::Context)). Works on any executor.
pub mod context {
    pub use gort_sync::context::*;
}

/// Timers (Go's `time.Sleep`, `time.After`, `time.Ticker`): [`sleep`](time::sleep),
/// [`sleep_until`](time::sleep_until), [`timeout`](time::timeout),
/// [`interval`](time::interval). 1 ms resolution; a timer never fires
/// early; dropping one cancels it in O(1). They work on any executor.
///
/// ```
/// use std::time::Duration;
///
/// #[gort::main(worker_threads = 2)]
/// async fn main() {
///     let (_tx, rx) = gort::chan::bounded::<u32>(0);
///     // Go's `select { case v := <-rx: ... case <-time.After(d): ... }`
///     let got = gort::select! {
///         v = rx.recv() => Some(v),
///         _ = gort::time::sleep(Duration::from_millis(10)) => None,
///     };
///     assert!(got.is_none(), "nobody sent");
///     let slow = gort::time::timeout(Duration::from_millis(10), std::future::pending::<()>());
///     assert!(slow.await.is_err());
/// }
/// ```
pub mod time {
    pub use gort_reactor::time::*;
}

/// TCP, UDP and Unix sockets (Go's `net`), on the reactor that idle
/// workers drive: [`TcpListener`](net::TcpListener),
/// [`TcpStream`](net::TcpStream) ([`AsyncRead`](io::AsyncRead)/
/// [`AsyncWrite`](io::AsyncWrite), with the helpers of [`gort::io`](io)),
/// [`UdpSocket`](net::UdpSocket); on Unix `UnixListener`, `UnixStream`
/// (the same traits) and `UnixDatagram`.
///
/// ```
/// use gort::io::{AsyncReadExt, AsyncWriteExt};
/// use gort::net::{TcpListener, TcpStream};
///
/// #[gort::main(worker_threads = 2)]
/// async fn main() -> std::io::Result<()> {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     // An echo server: one goroutine per connection.
///     gort::spawn(async move {
///         while let Ok((stream, _)) = listener.accept().await {
///             gort::spawn(async move {
///                 let (mut rd, mut wr) = stream.into_split();
///                 gort::io::copy(&mut rd, &mut wr).await
///             });
///         }
///     });
///     let mut s = TcpStream::connect(addr).await?;
///     s.write_all(b"hello").await?;
///     let mut buf = [0u8; 5];
///     s.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hello");
///     Ok(())
/// }
/// ```
pub mod net {
    pub use gort_reactor::net::*;
}

/// Files and directories (Go's `os` file functions, std's `std::fs`),
/// async: std's functions by the same names ([`read`](fs::read),
/// [`write`](fs::write), [`read_dir`](fs::read_dir) as a stream, ...) and
/// [`File`](fs::File) ([`AsyncRead`](io::AsyncRead),
/// [`AsyncWrite`](io::AsyncWrite), [`AsyncSeek`](io::AsyncSeek)). Regular
/// files have no readiness to wait for, so each call runs on the blocking
/// pool ([`spawn_blocking`]); a `File` reads and writes up to 2 MiB per
/// trip, and a failed write's error comes back from the next operation on
/// the file.
///
/// ```
/// use gort::io::{AsyncReadExt, AsyncWriteExt};
///
/// #[gort::main(worker_threads = 2)]
/// async fn main() -> std::io::Result<()> {
///     let path = std::env::temp_dir().join(format!("gort-fs-facade-{}", std::process::id()));
///     let mut file = gort::fs::File::create(&path).await?;
///     file.write_all(b"written by a goroutine").await?;
///     file.flush().await?;
///     let mut text = String::new();
///     gort::fs::File::open(&path).await?.read_to_string(&mut text).await?;
///     assert_eq!(text, "written by a goroutine");
///     gort::fs::remove_file(&path).await
/// }
/// ```
pub mod fs {
    pub use gort_os::fs::*;
}

/// Child processes (Go's `os/exec`): [`Command`](process::Command) is
/// std's builder; [`Child::wait`](process::Child::wait) and the piped
/// stdin, stdout and stderr do not block a thread.
///
/// ```
/// # gort::block_on(async {
/// let out = gort::process::Command::new("echo").arg("hi").output().await?;
/// assert_eq!(out.stdout, b"hi\n");
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
#[cfg(unix)]
pub mod process {
    pub use gort_os::process::*;
}

/// Unix signals into channels (Go's `os/signal`): [`notify`](signal::notify)
/// returns a [`chan::Receiver`] of the listed
/// signals, [`ctrl_c`](signal::ctrl_c) waits for SIGINT.
///
/// ```no_run
/// use gort::signal::{self, Signal};
///
/// #[gort::main]
/// async fn main() -> std::io::Result<()> {
///     let stop = signal::notify(&[Signal::Interrupt, Signal::Terminate])?;
///     gort::select! {
///         sig = stop.recv() => println!("stopping on {:?}", sig.unwrap()),
///         _ = gort::time::sleep(std::time::Duration::from_secs(60)) => println!("done"),
///     }
///     Ok(())
/// }
/// ```
#[cfg(unix)]
pub mod signal {
    pub use gort_os::signal::*;
}

pub mod io;

#[cfg(feature = "hyper")]
pub mod rt;

/// Streams (async iterators): the [`Stream`](stream::Stream) trait and
/// [`StreamExt`](stream::StreamExt) (`next`, `map`, `filter`, ...), for
/// what gort hands out as streams: a [`BufReader`](io::BufReader)'s
/// [`lines`](io::AsyncBufReadExt::lines), a listener's
/// [`incoming`](net::TcpListener::incoming), an
/// [`interval`](time::interval), a channel [`Receiver`](chan::Receiver).
///
/// ```
/// use gort::stream::StreamExt;
///
/// #[gort::main(worker_threads = 1)]
/// async fn main() {
///     let (tx, rx) = gort::chan::unbounded::<u32>();
///     for i in 1..=3 {
///         tx.send(i).await.unwrap();
///     }
///     drop(tx);
///     let doubled: Vec<u32> = rx.map(|v| v * 2).collect().await;
///     assert_eq!(doubled, [2, 4, 6]);
/// }
/// ```
pub mod stream {
    pub use futures_util::stream::{Stream, StreamExt};
}

/// Task handles and ids.
pub mod task {
    pub use gort_executor::task::*;
    pub use gort_executor::{spawn, spawn_blocking, yield_now};
}

/// Go's `select` on gort tasks: gort-channel's `select!`, re-exported. The
/// syntax and the rules follow the example.
///
/// ```
/// #[gort::main(worker_threads = 2)]
/// async fn main() {
///     let (data_tx, data_rx) = gort::chan::bounded::<u32>(0);
///     let (quit_tx, quit_rx) = gort::chan::bounded::<()>(0);
///     let worker = gort::spawn(async move {
///         let mut sum = 0;
///         loop {
///             gort::select! {
///                 v = data_rx.recv() => sum += v.unwrap(),
///                 _ = quit_rx.recv() => return sum,
///             }
///         }
///     });
///     for i in 1..=4 {
///         data_tx.send(i).await.unwrap();
///     }
///     quit_tx.send(()).await.unwrap();
///     assert_eq!(worker.await.unwrap(), 10);
///
///     // A non-blocking send, as Go's `select` with `default`.
///     let (tx, _rx) = gort::chan::bounded::<u32>(0);
///     let sent = gort::select! {
///         r = tx.send(1) => r.is_ok(),
///         default => false,
///     };
///     assert!(!sent, "nobody was receiving");
/// }
/// ```
pub use gort_channel::select;

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
