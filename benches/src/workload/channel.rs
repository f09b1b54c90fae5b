//! The channel suite, after crossbeam-channel's and kanal's benchmarks:
//! `seq`, `spsc`, `mpsc` and `mpmc` at capacities 0, 1, 128 and unbounded,
//! `N` `u64` messages per run, gort's channel against its peers.
//!
//! - **Async** ([`ChannelImpl`]): every crate's async API on the same
//!   executor, tokio's multi-threaded runtime with 2 workers (gort's channel
//!   too; one reference column runs it on gort's runtime).
//! - **Blocking** ([`BlockingChannelImpl`]): plain threads, gort's
//!   `send_blocking`/`recv_blocking` against crossbeam-channel and
//!   `std::sync::mpsc`.
//!
//! Each workload is written once, generic over the channel implementation
//! (and the runtime), so the measured loops call each crate's own
//! `send`/`recv` directly: no boxing, no dynamic dispatch inside them. A
//! crate plugs in by implementing the small trait.
//!
//! Every run checks what arrived: producers send the numbers `1..=N` (each
//! once, split into contiguous ranges), consumers receive until the channel
//! is closed (all senders dropped) and the count and sum received must be
//! `N` and `N(N+1)/2`.

use std::future::Future;
use std::time::Instant;

use crate::contender::{join, Contender, Params};
use crate::results::Column;
use crate::stats::thousands;
use crate::stats::{Measurement, Unit};
use crate::suite::{cell, Cell, Env, Suite, Workload};

/// Messages per run (full size).
pub const MESSAGES: u64 = 1_000_000;
/// Messages per run under `--quick`.
pub const MESSAGES_QUICK: u64 = 5_000;
/// Messages per run of the blocking suite at capacity 0 and 1 (full size),
/// where every message (nearly) is a hand-off between parked threads: one
/// costs 10-25 us on this 2-vCPU VM for every crate, so 1,000,000 would
/// take 10-25 s per run.
pub const HANDOFF_MESSAGES: u64 = 20_000;
/// [`HANDOFF_MESSAGES`] under `--quick`.
pub const HANDOFF_MESSAGES_QUICK: u64 = 2_000;
/// Producers of `mpsc` and `mpmc`, and consumers of `mpmc` (crossbeam's and
/// kanal's `THREADS`).
pub const THREADS: usize = 4;

/// A channel's capacity in a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// `bounded(n)`; 0 is a rendezvous channel.
    Bounded(usize),
    /// `bounded(N)`: room for every message of the run (`seq` only).
    Messages,
    /// `unbounded()`.
    Unbounded,
}

impl Cap {
    /// Row-name part: `cap0`, `cap128`, `capN`, `unbounded`.
    pub fn label(self) -> String {
        match self {
            Cap::Bounded(n) => format!("cap{n}"),
            Cap::Messages => "capN".to_string(),
            Cap::Unbounded => "unbounded".to_string(),
        }
    }

    /// The capacity for a run of `n` messages: `Some(cap)`, `None` = unbounded.
    pub fn resolve(self, n: u64) -> Option<usize> {
        match self {
            Cap::Bounded(c) => Some(c),
            Cap::Messages => Some(usize::try_from(n).expect("message count fits usize")),
            Cap::Unbounded => None,
        }
    }
}

/// Who sends and who receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One task (thread) sends all `N`, then receives all `N`.
    Seq,
    /// `producers` tasks send `N / producers` each while `consumers` tasks
    /// receive until the channel is closed.
    Flow {
        /// Sending tasks.
        producers: usize,
        /// Receiving tasks.
        consumers: usize,
    },
}

impl Shape {
    /// `spsc`: one producer, one consumer.
    pub const SPSC: Shape = Shape::Flow {
        producers: 1,
        consumers: 1,
    };
    /// `mpsc`: [`THREADS`] producers, one consumer.
    pub const MPSC: Shape = Shape::Flow {
        producers: THREADS,
        consumers: 1,
    };
    /// `mpmc`: [`THREADS`] producers, [`THREADS`] consumers.
    pub const MPMC: Shape = Shape::Flow {
        producers: THREADS,
        consumers: THREADS,
    };
    /// `mpmc2x2`: 2 producers, 2 consumers (the shape the channel aims in
    /// BENCHMARKS.md are stated for).
    pub const MPMC_2X2: Shape = Shape::Flow {
        producers: 2,
        consumers: 2,
    };

    fn consumers(self) -> usize {
        match self {
            Shape::Seq => 1,
            Shape::Flow { consumers, .. } => consumers,
        }
    }
}

/// One workload of the suite: a shape at a capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    /// Who sends and receives.
    pub shape: Shape,
    /// The channel's capacity.
    pub cap: Cap,
}

/// What a channel implementation supports; a cell of a case it does not
/// support is `n/a`.
pub trait Supports {
    /// Has `bounded(0)`, a rendezvous channel.
    const RENDEZVOUS: bool;
    /// Has `bounded(n)`, `n > 0`.
    const BOUNDED: bool;
    /// Has `unbounded()`.
    const UNBOUNDED: bool;
    /// Receivers can be cloned (MPMC).
    const MULTI_CONSUMER: bool;

    /// Whether this implementation can run `case`.
    fn supports(case: Case) -> bool {
        let cap = match case.cap {
            Cap::Bounded(0) => Self::RENDEZVOUS,
            Cap::Bounded(_) | Cap::Messages => Self::BOUNDED,
            Cap::Unbounded => Self::UNBOUNDED,
        };
        cap && (case.shape.consumers() == 1 || Self::MULTI_CONSUMER)
    }
}

/// A channel crate's async API, as the suite uses it.
pub trait ChannelImpl: Supports + 'static {
    /// Column name.
    const NAME: &'static str;
    /// The sending half.
    type Tx: Clone + Send + Sync + 'static;
    /// The receiving half.
    type Rx: Send + 'static;

    /// A channel of capacity `cap` (`None`: unbounded); only called for
    /// cases [`Supports::supports`] accepts.
    fn channel(cap: Option<usize>) -> (Self::Tx, Self::Rx);
    /// Another receiver of the same channel (only when `MULTI_CONSUMER`).
    fn clone_rx(rx: &Self::Rx) -> Self::Rx;
    /// Sends `v`, waiting for room; `false` if the channel is closed.
    fn send(tx: &Self::Tx, v: u64) -> impl Future<Output = bool> + Send + '_;
    /// Receives a value; `None` once the channel is closed and empty.
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send + '_;
}

/// A channel crate's blocking API (for plain threads), as the suite uses it.
pub trait BlockingChannelImpl: Supports + 'static {
    /// Column name.
    const NAME: &'static str;
    /// The sending half.
    type Tx: Clone + Send + 'static;
    /// The receiving half.
    type Rx: Send + 'static;

    /// A channel of capacity `cap` (`None`: unbounded); only called for
    /// cases [`Supports::supports`] accepts.
    fn channel(cap: Option<usize>) -> (Self::Tx, Self::Rx);
    /// Another receiver of the same channel (only when `MULTI_CONSUMER`).
    fn clone_rx(rx: &Self::Rx) -> Self::Rx;
    /// Sends `v`, blocking for room; `false` if the channel is closed.
    fn send(tx: &Self::Tx, v: u64) -> bool;
    /// Receives a value, blocking; `None` once the channel is closed and empty.
    fn recv(rx: &mut Self::Rx) -> Option<u64>;
}

/// What the consumers of a run received.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Values received.
    pub count: u64,
    /// Their sum.
    pub sum: u64,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.count += other.count;
        self.sum = self.sum.wrapping_add(other.sum);
    }
}

impl Tally {
    /// Checks that exactly `1..=n` arrived (count `n`, sum `n(n+1)/2`).
    pub fn check(self, what: &str, n: u64) -> Result<(), String> {
        let want = Tally {
            count: n,
            sum: n * (n + 1) / 2,
        };
        if self == want {
            Ok(())
        } else {
            Err(format!(
                "{what}: wrong result: received {} values summing to {}, expected {} summing to {}",
                self.count, self.sum, want.count, want.sum
            ))
        }
    }
}

/// Messages per run of the async suite for `p`.
pub fn messages(p: &Params) -> u64 {
    p.size(MESSAGES, MESSAGES_QUICK)
}

/// Messages per run of the blocking suite for `p` and `case`: fewer at
/// capacity 0 and 1 (see [`HANDOFF_MESSAGES`]).
pub fn blocking_messages(p: &Params, case: Case) -> u64 {
    match case.cap {
        Cap::Bounded(0 | 1) => p.size(HANDOFF_MESSAGES, HANDOFF_MESSAGES_QUICK),
        _ => messages(p),
    }
}

/// Splits `1..=n` into `producers` contiguous ranges `(first, count)`.
fn ranges(n: u64, producers: usize) -> Vec<(u64, u64)> {
    let producers = producers as u64;
    let (base, extra) = (n / producers, n % producers);
    let mut next = 1;
    (0..producers)
        .map(|p| {
            let count = base + u64::from(p < extra);
            let range = (next, count);
            next += count;
            range
        })
        .collect()
}

// ---------------------------------------------------------------- async

async fn produce<Ch: ChannelImpl>(tx: Ch::Tx, first: u64, count: u64) -> Result<(), String> {
    for v in first..first + count {
        if !Ch::send(&tx, v).await {
            return Err(format!("{}: send failed: channel closed early", Ch::NAME));
        }
    }
    Ok(())
}

async fn consume<Ch: ChannelImpl>(mut rx: Ch::Rx) -> Tally {
    let mut tally = Tally::default();
    while let Some(v) = Ch::recv(&mut rx).await {
        tally.count += 1;
        tally.sum = tally.sum.wrapping_add(v);
    }
    tally
}

/// One run of `case` with `n` messages, on `Ch`'s async API, every task
/// spawned on `rt` from the bench thread, which joins them all. The clock
/// runs from before the first spawn to after the last join.
pub fn run_async<C: Contender, Ch: ChannelImpl>(
    rt: &C,
    case: Case,
    n: u64,
) -> Result<Measurement, String> {
    let what = format!("{} {case:?}", Ch::NAME);
    if !Ch::supports(case) {
        return Err(format!("{what}: not supported"));
    }
    let (tx, rx) = Ch::channel(case.cap.resolve(n));

    let start = Instant::now();
    let tally = match case.shape {
        Shape::Seq => {
            let task = rt.spawn_remote(async move {
                produce::<Ch>(tx, 1, n).await?;
                Ok::<_, String>(consume::<Ch>(rx).await)
            });
            rt.block_on(join::<C, _>(task))??
        }
        Shape::Flow {
            producers,
            consumers,
        } => {
            let mut rxs: Vec<Ch::Rx> = (1..consumers).map(|_| Ch::clone_rx(&rx)).collect();
            rxs.push(rx);
            let consumers: Vec<_> = rxs
                .into_iter()
                .map(|rx| rt.spawn_remote(consume::<Ch>(rx)))
                .collect();
            let producers: Vec<_> = ranges(n, producers)
                .into_iter()
                .map(|(first, count)| rt.spawn_remote(produce::<Ch>(tx.clone(), first, count)))
                .collect();
            drop(tx);
            rt.block_on(async {
                for p in producers {
                    join::<C, _>(p).await??;
                }
                let mut tally = Tally::default();
                for c in consumers {
                    tally += join::<C, _>(c).await?;
                }
                Ok::<_, String>(tally)
            })?
        }
    };
    let elapsed = start.elapsed();

    tally.check(&what, n)?;
    Ok(Measurement::PerOp { elapsed, ops: n })
}

// ---------------------------------------------------------------- blocking

fn produce_blocking<Ch: BlockingChannelImpl>(
    tx: Ch::Tx,
    first: u64,
    count: u64,
) -> Result<(), String> {
    for v in first..first + count {
        if !Ch::send(&tx, v) {
            return Err(format!("{}: send failed: channel closed early", Ch::NAME));
        }
    }
    Ok(())
}

fn consume_blocking<Ch: BlockingChannelImpl>(mut rx: Ch::Rx) -> Tally {
    let mut tally = Tally::default();
    while let Some(v) = Ch::recv(&mut rx) {
        tally.count += 1;
        tally.sum = tally.sum.wrapping_add(v);
    }
    tally
}

/// One run of `case` with `n` messages on `Ch`'s blocking API: `seq` on the
/// bench thread, the others on fresh threads (consumers started first),
/// all joined. The clock includes starting and joining the threads (tens
/// of microseconds, under 1% of a full-size run).
pub fn run_blocking<Ch: BlockingChannelImpl>(case: Case, n: u64) -> Result<Measurement, String> {
    let what = format!("{} (blocking) {case:?}", Ch::NAME);
    if !Ch::supports(case) {
        return Err(format!("{what}: not supported"));
    }
    let (tx, rx) = Ch::channel(case.cap.resolve(n));

    let start = Instant::now();
    let tally = match case.shape {
        Shape::Seq => {
            produce_blocking::<Ch>(tx, 1, n)?;
            consume_blocking::<Ch>(rx)
        }
        Shape::Flow {
            producers,
            consumers,
        } => std::thread::scope(|s| {
            let mut rxs: Vec<Ch::Rx> = (1..consumers).map(|_| Ch::clone_rx(&rx)).collect();
            rxs.push(rx);
            let consumers: Vec<_> = rxs
                .into_iter()
                .map(|rx| s.spawn(move || consume_blocking::<Ch>(rx)))
                .collect();
            let producers: Vec<_> = ranges(n, producers)
                .into_iter()
                .map(|(first, count)| {
                    let tx = tx.clone();
                    s.spawn(move || produce_blocking::<Ch>(tx, first, count))
                })
                .collect();
            drop(tx);
            for p in producers {
                p.join()
                    .map_err(|_| format!("{what}: a producer panicked"))??;
            }
            let mut tally = Tally::default();
            for c in consumers {
                tally += c
                    .join()
                    .map_err(|_| format!("{what}: a consumer panicked"))?;
            }
            Ok::<_, String>(tally)
        })?,
    };
    let elapsed = start.elapsed();

    tally.check(&what, n)?;
    Ok(Measurement::PerOp { elapsed, ops: n })
}

// ---------------------------------------------------------------- the crates

/// Implements [`Supports`] in one line.
macro_rules! supports {
    ($t:ty: rendezvous $r:expr, bounded $b:expr, unbounded $u:expr, mpmc $m:expr) => {
        impl Supports for $t {
            const RENDEZVOUS: bool = $r;
            const BOUNDED: bool = $b;
            const UNBOUNDED: bool = $u;
            const MULTI_CONSUMER: bool = $m;
        }
    };
}

/// Defines `$t`, a crate whose channels are `$bounded(n)` and `$unbounded()`
/// with cloneable receivers (so MPMC), sending with `$send` and receiving
/// with `$recv`: as [`ChannelImpl`] with `async`, else as
/// [`BlockingChannelImpl`].
macro_rules! mpmc_crate {
    ($(#[$doc:meta])* $t:ident $name:literal, rendezvous $r:literal, $tx:ty, $rx:ty,
     $bounded:path, $unbounded:path, $send:ident, $recv:ident $(, $async:ident)?) => {
        $(#[$doc])*
        pub struct $t;
        supports!($t: rendezvous $r, bounded true, unbounded true, mpmc true);

        mpmc_crate!(@impl $($async)? $t $name, $tx, $rx, $bounded, $unbounded, $send, $recv);
    };
    (@impl async $t:ident $name:literal, $tx:ty, $rx:ty, $bounded:path, $unbounded:path,
     $send:ident, $recv:ident) => {
        impl ChannelImpl for $t {
            const NAME: &'static str = $name;
            type Tx = $tx;
            type Rx = $rx;

            fn channel(cap: Option<usize>) -> (Self::Tx, Self::Rx) {
                cap.map_or_else($unbounded, $bounded)
            }
            fn clone_rx(rx: &Self::Rx) -> Self::Rx {
                rx.clone()
            }
            #[inline]
            async fn send(tx: &Self::Tx, v: u64) -> bool {
                tx.$send(v).await.is_ok()
            }
            #[inline]
            async fn recv(rx: &mut Self::Rx) -> Option<u64> {
                rx.$recv().await.ok()
            }
        }
    };
    (@impl $t:ident $name:literal, $tx:ty, $rx:ty, $bounded:path, $unbounded:path,
     $send:ident, $recv:ident) => {
        impl BlockingChannelImpl for $t {
            const NAME: &'static str = $name;
            type Tx = $tx;
            type Rx = $rx;

            fn channel(cap: Option<usize>) -> (Self::Tx, Self::Rx) {
                cap.map_or_else($unbounded, $bounded)
            }
            fn clone_rx(rx: &Self::Rx) -> Self::Rx {
                rx.clone()
            }
            #[inline]
            fn send(tx: &Self::Tx, v: u64) -> bool {
                tx.$send(v).is_ok()
            }
            #[inline]
            fn recv(rx: &mut Self::Rx) -> Option<u64> {
                rx.$recv().ok()
            }
        }
    };
}

mpmc_crate!(
    /// gort's channel (`gort::chan`), async API.
    GortChan "gort", rendezvous true, gort::chan::Sender<u64>, gort::chan::Receiver<u64>,
    gort::chan::bounded, gort::chan::unbounded, send, recv, async
);
mpmc_crate!(
    /// flume, async API (`send_async`/`recv_async`).
    Flume "flume", rendezvous true, flume::Sender<u64>, flume::Receiver<u64>,
    flume::bounded, flume::unbounded, send_async, recv_async, async
);
mpmc_crate!(
    /// async-channel (smol's); `bounded(0)` panics there, so no rendezvous.
    AsyncChannel "async-channel", rendezvous false, async_channel::Sender<u64>,
    async_channel::Receiver<u64>, async_channel::bounded, async_channel::unbounded, send, recv,
    async
);
mpmc_crate!(
    /// kanal, async API (`bounded_async`/`unbounded_async`).
    Kanal "kanal", rendezvous true, kanal::AsyncSender<u64>, kanal::AsyncReceiver<u64>,
    kanal::bounded_async, kanal::unbounded_async, send, recv, async
);
mpmc_crate!(
    /// gort's channel, blocking API (`send_blocking`/`recv_blocking`).
    GortBlocking "gort", rendezvous true, gort::chan::Sender<u64>, gort::chan::Receiver<u64>,
    gort::chan::bounded, gort::chan::unbounded, send_blocking, recv_blocking
);
mpmc_crate!(
    /// crossbeam-channel.
    Crossbeam "crossbeam-channel", rendezvous true, crossbeam_channel::Sender<u64>,
    crossbeam_channel::Receiver<u64>, crossbeam_channel::bounded, crossbeam_channel::unbounded,
    send, recv
);

/// `tokio::sync::mpsc::channel` (bounded, capacity > 0, one receiver).
pub struct TokioBounded;
supports!(TokioBounded: rendezvous false, bounded true, unbounded false, mpmc false);

/// Column name of tokio's mpsc (both flavours).
pub const TOKIO_MPSC: &str = "tokio mpsc";

impl ChannelImpl for TokioBounded {
    const NAME: &'static str = TOKIO_MPSC;
    type Tx = tokio::sync::mpsc::Sender<u64>;
    type Rx = tokio::sync::mpsc::Receiver<u64>;

    fn channel(cap: Option<usize>) -> (Self::Tx, Self::Rx) {
        tokio::sync::mpsc::channel(cap.expect("TokioBounded is bounded"))
    }
    fn clone_rx(_: &Self::Rx) -> Self::Rx {
        unreachable!("tokio's mpsc has one receiver")
    }
    #[inline]
    async fn send(tx: &Self::Tx, v: u64) -> bool {
        tx.send(v).await.is_ok()
    }
    #[inline]
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send + '_ {
        rx.recv()
    }
}

/// `tokio::sync::mpsc::unbounded_channel` (one receiver).
pub struct TokioUnbounded;
supports!(TokioUnbounded: rendezvous false, bounded false, unbounded true, mpmc false);

impl ChannelImpl for TokioUnbounded {
    const NAME: &'static str = TOKIO_MPSC;
    type Tx = tokio::sync::mpsc::UnboundedSender<u64>;
    type Rx = tokio::sync::mpsc::UnboundedReceiver<u64>;

    fn channel(cap: Option<usize>) -> (Self::Tx, Self::Rx) {
        assert!(cap.is_none(), "TokioUnbounded is unbounded");
        tokio::sync::mpsc::unbounded_channel()
    }
    fn clone_rx(_: &Self::Rx) -> Self::Rx {
        unreachable!("tokio's mpsc has one receiver")
    }
    #[inline]
    fn send(tx: &Self::Tx, v: u64) -> impl Future<Output = bool> + Send + '_ {
        std::future::ready(tx.send(v).is_ok())
    }
    #[inline]
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send + '_ {
        rx.recv()
    }
}

/// `std::sync::mpsc::sync_channel` (bounded, 0 included; one receiver).
pub struct StdSync;
supports!(StdSync: rendezvous true, bounded true, unbounded false, mpmc false);

/// Column name of `std::sync::mpsc` (both flavours).
pub const STD_MPSC: &str = "std mpsc";

impl BlockingChannelImpl for StdSync {
    const NAME: &'static str = STD_MPSC;
    type Tx = std::sync::mpsc::SyncSender<u64>;
    type Rx = std::sync::mpsc::Receiver<u64>;

    fn channel(cap: Option<usize>) -> (Self::Tx, Self::Rx) {
        std::sync::mpsc::sync_channel(cap.expect("StdSync is bounded"))
    }
    fn clone_rx(_: &Self::Rx) -> Self::Rx {
        unreachable!("std's mpsc has one receiver")
    }
    #[inline]
    fn send(tx: &Self::Tx, v: u64) -> bool {
        tx.send(v).is_ok()
    }
    #[inline]
    fn recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.recv().ok()
    }
}

/// `std::sync::mpsc::channel` (unbounded; one receiver).
pub struct StdUnbounded;
supports!(StdUnbounded: rendezvous false, bounded false, unbounded true, mpmc false);

impl BlockingChannelImpl for StdUnbounded {
    const NAME: &'static str = STD_MPSC;
    type Tx = std::sync::mpsc::Sender<u64>;
    type Rx = std::sync::mpsc::Receiver<u64>;

    fn channel(cap: Option<usize>) -> (Self::Tx, Self::Rx) {
        assert!(cap.is_none(), "StdUnbounded is unbounded");
        std::sync::mpsc::channel()
    }
    fn clone_rx(_: &Self::Rx) -> Self::Rx {
        unreachable!("std's mpsc has one receiver")
    }
    #[inline]
    fn send(tx: &Self::Tx, v: u64) -> bool {
        tx.send(v).is_ok()
    }
    #[inline]
    fn recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.recv().ok()
    }
}

// ---------------------------------------------------------------- the suites

/// The executor an async cell runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum On {
    Tokio,
    Gort,
}

/// The cell running `case` on `Ch`'s async API, or `None` (`n/a`).
fn async_cell<Ch: ChannelImpl>(case: Case, on: On) -> Option<Cell> {
    let run = move |env: &Env, p: &Params| match on {
        On::Tokio => run_async::<_, Ch>(&env.tokio, case, messages(p)),
        On::Gort => run_async::<_, Ch>(&env.gort, case, messages(p)),
    };
    cell(run).filter(|_| Ch::supports(case))
}

/// The cell running `case` on `Ch`'s blocking API, or `None` (`n/a`).
fn blocking_cell<Ch: BlockingChannelImpl>(case: Case) -> Option<Cell> {
    let run = move |_: &Env, p: &Params| run_blocking::<Ch>(case, blocking_messages(p, case));
    cell(run).filter(|_| Ch::supports(case))
}

/// The cases of a suite, in row order, with their row-name parts.
fn cases(shapes: &[(&'static str, Shape)]) -> Vec<(String, Case)> {
    let mut out = Vec::new();
    for &(name, shape) in shapes {
        let caps: &[Cap] = match shape {
            Shape::Seq => &[Cap::Messages, Cap::Unbounded],
            Shape::Flow { .. } => &[
                Cap::Bounded(0),
                Cap::Bounded(1),
                Cap::Bounded(128),
                Cap::Unbounded,
            ],
        };
        for &cap in caps {
            out.push((format!("{name}/{}", cap.label()), Case { shape, cap }));
        }
    }
    out
}

/// One line: what one run of `case` does (`unit`: "task" or "thread").
fn describe(case: Case, unit: &str) -> String {
    let cap = match case.cap {
        Cap::Bounded(0) => "an unbuffered (rendezvous) channel".to_string(),
        Cap::Bounded(n) => format!("a channel of capacity {n}"),
        Cap::Messages => "a channel of capacity N (holds them all)".to_string(),
        Cap::Unbounded => "an unbounded channel".to_string(),
    };
    match case.shape {
        Shape::Seq => format!("one {unit} sends N u64 into {cap}, then receives them all"),
        Shape::Flow {
            producers,
            consumers,
        } => format!(
            "{producers} {unit}(s) send N/{producers} u64 each into {cap}, \
             {consumers} {unit}(s) receive until it is closed"
        ),
    }
}

/// The async channel suite (`chan/<shape>/<cap>`): gort, flume,
/// async-channel, kanal and tokio's mpsc, all on tokio (2 workers), and
/// gort's channel on gort's runtime for reference.
pub fn async_suite() -> Suite {
    let shapes = [
        ("seq", Shape::Seq),
        ("spsc", Shape::SPSC),
        ("mpsc", Shape::MPSC),
        ("mpmc", Shape::MPMC),
        ("mpmc2x2", Shape::MPMC_2X2),
    ];
    let rows = cases(&shapes)
        .into_iter()
        .map(|(name, case)| Workload {
            name: format!("chan/{name}"),
            description: describe(case, "task"),
            unit: Unit::PerOp,
            goal: None,
            cells: vec![
                async_cell::<GortChan>(case, On::Tokio),
                async_cell::<Flume>(case, On::Tokio),
                async_cell::<AsyncChannel>(case, On::Tokio),
                async_cell::<Kanal>(case, On::Tokio),
                async_cell::<TokioBounded>(case, On::Tokio)
                    .or_else(|| async_cell::<TokioUnbounded>(case, On::Tokio)),
                async_cell::<GortChan>(case, On::Gort),
            ],
        })
        .collect();
    Suite {
        title: "chan: async channels, ns per message".to_string(),
        about: vec![
            format!(
                "N = {} u64 per run ({} under --quick); every task is \
                 spawned on tokio's multi-threaded runtime (2 workers) from the bench thread, \
                 which joins them all; the clock covers spawns to last join; ns per message = \
                 run time / N. Count and sum received are checked on every run.",
                thousands(MESSAGES),
                thousands(MESSAGES_QUICK),
            ),
            format!(
                "seq runs only where it cannot deadlock: capacity N and unbounded \
                 (as crossbeam's and kanal's suites); mpmc is {THREADS}x{THREADS}, mpsc {THREADS}x1; \
                 mpmc2x2 is the shape the channel aims are stated for."
            ),
        ],
        columns: vec![
            Column::new("gort", true, "gort::chan (send().await / recv().await) on tokio"),
            Column::new("flume", true, "flume send_async / recv_async on tokio"),
            Column::new(
                "async-channel",
                true,
                "async-channel on tokio (no capacity 0: bounded(0) panics)",
            ),
            Column::new("kanal", true, "kanal bounded_async / unbounded_async on tokio"),
            Column::new(
                TOKIO_MPSC,
                true,
                "tokio::sync::mpsc channel / unbounded_channel (one receiver: no mpmc; no capacity 0)",
            ),
            Column::new(
                "gort (gort rt)",
                false,
                "gort::chan on gort's own runtime (2 workers)",
            ),
        ],
        baseline: None,
        runs: None,
        rows,
    }
}

/// The blocking channel suite (`chan/blocking/<shape>/<cap>`): gort's
/// blocking API against crossbeam-channel and `std::sync::mpsc`, on plain threads.
pub fn blocking_suite() -> Suite {
    let shapes = [
        ("seq", Shape::Seq),
        ("spsc", Shape::SPSC),
        ("mpsc", Shape::MPSC),
        ("mpmc", Shape::MPMC),
    ];
    let rows = cases(&shapes)
        .into_iter()
        .map(|(name, case)| Workload {
            name: format!("chan/blocking/{name}"),
            description: describe(case, "thread"),
            unit: Unit::PerOp,
            goal: None,
            cells: vec![
                blocking_cell::<GortBlocking>(case),
                blocking_cell::<Crossbeam>(case),
                blocking_cell::<StdSync>(case).or_else(|| blocking_cell::<StdUnbounded>(case)),
            ],
        })
        .collect();
    Suite {
        title: "chan/blocking: blocking channels on plain threads, ns per message".to_string(),
        about: vec![
            format!(
                "N = {} u64 per run ({} under --quick); at capacity 0 and 1, N = {} ({} under \
                 --quick), since nearly every message there is a hand-off between parked \
                 threads, 10-25 us each on this VM for every crate.",
                thousands(MESSAGES),
                thousands(MESSAGES_QUICK),
                thousands(HANDOFF_MESSAGES),
                thousands(HANDOFF_MESSAGES_QUICK),
            ),
            "seq runs on the bench thread, the other shapes on fresh threads (consumers \
             started first) that are all joined; the clock covers starting to joining them; \
             ns per message = run time / N. Count and sum are checked on every run."
                .to_string(),
        ],
        columns: vec![
            Column::new("gort", true, "gort::chan send_blocking / recv_blocking"),
            Column::new("crossbeam-channel", true, "crossbeam-channel send / recv"),
            Column::new(
                STD_MPSC,
                true,
                "std::sync::mpsc sync_channel / channel (one receiver: no mpmc)",
            ),
        ],
        baseline: None,
        runs: None,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contender::{Gort, Tokio};
    use crate::workload::with_deadline;

    /// Every shape at every capacity, as the suites use them.
    fn all_cases() -> Vec<Case> {
        cases(&[
            ("seq", Shape::Seq),
            ("spsc", Shape::SPSC),
            ("mpsc", Shape::MPSC),
            ("mpmc", Shape::MPMC),
        ])
        .into_iter()
        .map(|(_, c)| c)
        .collect()
    }

    const N: u64 = 2_000;

    fn check_async<Ch: ChannelImpl, C: Contender>() {
        with_deadline(&format!("{} on {}", Ch::NAME, C::NAME), || {
            let rt = C::build(2).unwrap();
            for case in all_cases() {
                if Ch::supports(case) {
                    let m = run_async::<C, Ch>(&rt, case, N)
                        .unwrap_or_else(|e| panic!("{} on {} {case:?}: {e}", Ch::NAME, C::NAME));
                    assert!(matches!(m, Measurement::PerOp { ops: N, .. }));
                } else {
                    assert!(run_async::<C, Ch>(&rt, case, N).is_err());
                }
            }
        });
    }

    fn check_blocking<Ch: BlockingChannelImpl>() {
        with_deadline(&format!("{} (blocking)", Ch::NAME), || {
            for case in all_cases() {
                if Ch::supports(case) {
                    let m = run_blocking::<Ch>(case, N)
                        .unwrap_or_else(|e| panic!("{} {case:?}: {e}", Ch::NAME));
                    assert!(matches!(m, Measurement::PerOp { ops: N, .. }));
                }
            }
        });
    }

    #[test]
    fn every_async_channel_passes_every_case_on_tokio() {
        check_async::<GortChan, Tokio>();
        check_async::<Flume, Tokio>();
        check_async::<AsyncChannel, Tokio>();
        check_async::<Kanal, Tokio>();
        check_async::<TokioBounded, Tokio>();
        check_async::<TokioUnbounded, Tokio>();
    }

    #[test]
    fn gort_channel_passes_every_case_on_gort() {
        check_async::<GortChan, Gort>();
    }

    #[test]
    fn every_blocking_channel_passes_every_case() {
        check_blocking::<GortBlocking>();
        check_blocking::<Crossbeam>();
        check_blocking::<StdSync>();
        check_blocking::<StdUnbounded>();
    }

    /// A channel that loses one value: the check must catch it.
    struct Lossy;
    supports!(Lossy: rendezvous true, bounded true, unbounded true, mpmc true);

    impl ChannelImpl for Lossy {
        const NAME: &'static str = "lossy";
        type Tx = flume::Sender<u64>;
        type Rx = flume::Receiver<u64>;

        fn channel(cap: Option<usize>) -> (Self::Tx, Self::Rx) {
            Flume::channel(cap)
        }
        fn clone_rx(rx: &Self::Rx) -> Self::Rx {
            rx.clone()
        }
        async fn send(tx: &Self::Tx, v: u64) -> bool {
            v == 7 || tx.send_async(v).await.is_ok()
        }
        fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send + '_ {
            Flume::recv(rx)
        }
    }

    #[test]
    fn a_lost_message_is_an_error_not_a_time() {
        let rt = Tokio::build(2).unwrap();
        let case = Case {
            shape: Shape::MPMC,
            cap: Cap::Bounded(1),
        };
        let err = run_async::<_, Lossy>(&rt, case, N).unwrap_err();
        assert!(err.contains("wrong result"), "{err}");
        assert!(err.contains(&format!("received {} values", N - 1)), "{err}");
    }

    #[test]
    fn ranges_cover_one_to_n_once() {
        assert_eq!(ranges(10, 4), [(1, 3), (4, 3), (7, 2), (9, 2)]);
        assert_eq!(ranges(8, 1), [(1, 8)]);
        let total: u64 = ranges(MESSAGES, THREADS).iter().map(|r| r.1).sum();
        assert_eq!(total, MESSAGES);
    }

    #[test]
    fn tally_checks_count_and_sum() {
        let ok = Tally { count: 4, sum: 10 };
        assert!(ok.check("t", 4).is_ok());
        assert!(Tally { count: 4, sum: 11 }.check("t", 4).is_err());
        assert!(Tally { count: 3, sum: 10 }.check("t", 4).is_err());
    }

    #[test]
    fn suites_have_unique_names_and_the_expected_gaps() {
        for suite in [async_suite(), blocking_suite()] {
            let mut names: Vec<_> = suite.rows.iter().map(|r| r.name.clone()).collect();
            let n = names.len();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), n, "{}", suite.title);
            assert!(suite
                .rows
                .iter()
                .all(|r| r.cells.len() == suite.columns.len()));
        }
        let s = async_suite();
        let row = |name: &str| s.rows.iter().find(|r| r.name == name).unwrap();
        let tokio = s.column(TOKIO_MPSC).unwrap();
        let achan = s.column("async-channel").unwrap();
        assert!(row("chan/mpmc/cap128").cells[tokio].is_none());
        assert!(row("chan/mpsc/cap0").cells[tokio].is_none());
        assert!(row("chan/mpsc/cap128").cells[tokio].is_some());
        assert!(row("chan/spsc/unbounded").cells[tokio].is_some());
        assert!(row("chan/spsc/cap0").cells[achan].is_none());
        assert!(row("chan/seq/capN").cells.iter().all(Option::is_some));
        assert_eq!(s.rows.len(), 2 + 4 * 4);
        let b = blocking_suite();
        let std = b.column(STD_MPSC).unwrap();
        let brow = |name: &str| b.rows.iter().find(|r| r.name == name).unwrap();
        assert!(brow("chan/blocking/mpmc/cap0").cells[std].is_none());
        assert!(brow("chan/blocking/spsc/cap0").cells[std].is_some());
        assert!(brow("chan/blocking/mpsc/unbounded").cells[std].is_some());
    }

    /// Reproduces the lost wake-up seen in `chan/mpmc/cap0` (gort's channel,
    /// 4 producers x 4 consumers on `bounded(0)`, on tokio and on gort's
    /// runtime alike): rounds of `STRESS_N` messages (default 100,000) at
    /// capacity `STRESS_CAP` (default 0) until one makes no progress for
    /// 10 s, then reports how far it got. Ignored (it can run for minutes);
    /// run it by hand:
    /// `cargo test -p gort-bench --release --lib stress_gort_mpmc_rendezvous -- --ignored --nocapture`
    #[test]
    #[ignore = "stress reproduction of a hang, minutes long; run by hand"]
    fn stress_gort_mpmc_rendezvous() {
        use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
        use std::sync::Arc;
        use std::time::Duration;

        let env = |name: &str, default: u64| -> u64 {
            std::env::var(name).map_or(default, |v| v.parse().expect("a number"))
        };
        let rounds = env("STRESS_ROUNDS", 2_000);
        let n = env("STRESS_N", 100_000);
        let cap = env("STRESS_CAP", 0) as usize;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        for round in 0..rounds {
            let (tx, rx) = gort::chan::bounded::<u64>(cap);
            let probe = rx.clone();
            let sent = Arc::new(AtomicU64::new(0));
            let received = Arc::new(AtomicU64::new(0));
            let mut tasks = Vec::new();
            for _ in 0..THREADS {
                let (rx, received) = (rx.clone(), received.clone());
                tasks.push(rt.spawn(async move {
                    while rx.recv().await.is_ok() {
                        received.fetch_add(1, Relaxed);
                    }
                }));
            }
            drop(rx);
            for (first, count) in ranges(n, THREADS) {
                let (tx, sent) = (tx.clone(), sent.clone());
                tasks.push(rt.spawn(async move {
                    for v in first..first + count {
                        tx.send(v).await.unwrap();
                        sent.fetch_add(1, Relaxed);
                    }
                }));
            }
            drop(tx);
            let all = async {
                for t in tasks {
                    t.await.unwrap();
                }
            };
            let mut progress = (0, 0);
            let mut all = std::pin::pin!(all);
            loop {
                let done = rt.block_on(async {
                    tokio::time::timeout(Duration::from_secs(10), &mut all)
                        .await
                        .is_ok()
                });
                if done {
                    break;
                }
                let now = (sent.load(Relaxed), received.load(Relaxed));
                if now == progress {
                    panic!(
                        "round {round}: no progress for 10 s: {} sends completed, {} values \
                         received, of {n}; channel len {}, closed {}",
                        now.0,
                        now.1,
                        probe.len(),
                        probe.is_closed()
                    );
                }
                progress = now;
            }
            assert_eq!(received.load(Relaxed), n, "round {round}");
        }
    }
}
