//! The stall table (issue 11): what a task that blocks its thread, or one
//! that never yields, does to the other tasks of its runtime. In both
//! workloads a ticker task sleeps to every 1 ms deadline on the runtime's
//! own timer and records how late it woke; the row's value is read off the
//! ticks due in the run's window.
//!
//! - `blocking_stall/k<k>/*` (2 workers): a ping-pong pair bounces a counter
//!   over two capacity-1 channels of the runtime's own kind while `k` tasks
//!   each call `std::thread::sleep(100 ms)` (Go: a raw `nanosleep` syscall).
//!   The window runs from the first blocker's start to the last one's end;
//!   `k0` is the reference: the bench thread sleeps instead, no worker blocks.
//! - `greedy_loop/*` (1 worker): a task sends then receives on a capacity-128
//!   channel that always holds a value, 10^6 times, so every operation is
//!   ready at once and only a budget (or preemption) makes it yield. The
//!   window is the loop.
//!
//! Go's versions are `TestBlockingStall` and `TestGreedyLoop` in
//! `benches/go/stall_test.go`, one process per run; they print the same
//! [`TickRun`] as a line that [`parse_tick_line`] reads.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use super::channel::{AsyncChannel, ChannelImpl, GortChan, TokioBounded};
use crate::contender::{join, Contender, Gort, Params, Smol, Tokio, WORKERS};
use crate::gobench::GO;
use crate::results::Column;
use crate::stats::{Measurement, Unit};
use crate::suite::{cell, Env, Suite, Workload};

/// The ticker's period.
pub const TICK: Duration = Duration::from_millis(1);
/// How long each blocking task blocks its thread (full, quick).
pub const BLOCK: (Duration, Duration) = (Duration::from_millis(100), Duration::from_millis(5));
/// Unblocked time before the blocking tasks start (full, quick).
pub const LEAD: (Duration, Duration) = (Duration::from_millis(10), Duration::from_millis(2));
/// Blocking tasks per `blocking_stall` row; 0 is the unblocked reference.
pub const BLOCKERS: [usize; 4] = [0, 1, 2, 4];
/// Send+receive iterations of the greedy loop (full, quick).
pub const GREEDY_ITERATIONS: (u64, u64) = (1_000_000, 100_000);
/// Capacity of the greedy loop's channel (Go: `make(chan int64, 128)`).
pub const GREEDY_CAP: usize = 128;

/// What one run saw in its window.
#[derive(Debug, Clone, PartialEq)]
pub struct TickRun {
    /// The window's length: the block (blocking_stall) or the loop (greedy_loop).
    pub window: Duration,
    /// Operations done in the window: the pair's round trips, or the loop's iterations.
    pub ops: u64,
    /// How late each tick due in the window fired.
    pub late: Vec<Duration>,
}

impl TickRun {
    /// The latest tick (zero when no tick was due in the window).
    pub fn worst(&self) -> Measurement {
        Measurement::Latency(self.late.iter().copied().max().unwrap_or_default())
    }

    /// The 99th percentile of the ticks' lateness (nearest rank).
    pub fn p99(&self) -> Measurement {
        let mut late = self.late.clone();
        late.sort_unstable();
        let rank = (late.len() * 99).div_ceil(100);
        Measurement::Latency(
            late.get(rank.saturating_sub(1))
                .copied()
                .unwrap_or_default(),
        )
    }

    /// The window per operation; no operation at all counts as one, so a
    /// full stall shows as the window's length.
    pub fn per_op(&self) -> Measurement {
        Measurement::PerOp {
            elapsed: self.window,
            ops: self.ops.max(1),
        }
    }

    /// The window's length, read off the run like a latency (the runner
    /// never repeats a run to fill its run target for it).
    pub fn window(&self) -> Measurement {
        Measurement::Latency(self.window)
    }
}

/// Reads Go's `window_ns=<ns> ops=<n> late_ns=<ns>,<ns>,...` line.
pub fn parse_tick_line(line: &str) -> Result<TickRun, String> {
    let bad = || format!("bad tick line {line:?}");
    let field = |key: &str| {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .ok_or_else(bad)
    };
    let late = field("late_ns")?
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|ns| ns.parse().map(Duration::from_nanos).map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    Ok(TickRun {
        window: Duration::from_nanos(field("window_ns")?.parse().map_err(|_| bad())?),
        ops: field("ops")?.parse().map_err(|_| bad())?,
        late,
    })
}

/// What the ticker, the pair and the bench thread share; times are
/// nanoseconds since `base`.
struct Shared {
    base: Instant,
    /// The ticker stops at its first deadline after this; `u64::MAX` until
    /// the bench thread sets it, which also stops the pair.
    stop_at: AtomicU64,
    /// Ticks recorded so far.
    ticks: AtomicU64,
    /// Round trips of the pair so far.
    trips: AtomicU64,
}

/// One blocking task's (or the bench thread's, for k = 0) span, and the
/// pair's round trips at either end of it.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u64,
    end: u64,
    trips_at_start: u64,
    trips_at_end: u64,
}

impl Shared {
    fn new() -> Arc<Shared> {
        Arc::new(Shared {
            base: Instant::now(),
            stop_at: AtomicU64::new(u64::MAX),
            ticks: AtomicU64::new(0),
            trips: AtomicU64::new(0),
        })
    }

    fn now(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    fn stop(&self) {
        self.stop_at.store(self.now(), Ordering::Release);
    }

    fn stopped(&self) -> bool {
        self.stop_at.load(Ordering::Acquire) != u64::MAX
    }

    /// Runs `block` and returns its span.
    fn span(&self, block: impl FnOnce()) -> Span {
        let (start, trips_at_start) = (self.now(), self.trips.load(Ordering::Relaxed));
        block();
        let (end, trips_at_end) = (self.now(), self.trips.load(Ordering::Relaxed));
        Span {
            start,
            end,
            trips_at_start,
            trips_at_end,
        }
    }
}

/// Sleeps on `C`'s timer to every [`TICK`] deadline after `s.base` until one
/// falls after `s.stop_at`; returns each tick's (deadline, lateness) in ns.
async fn ticker<C: Contender>(s: Arc<Shared>) -> Vec<(u64, u64)> {
    let tick = TICK.as_nanos() as u64;
    let mut ticks = Vec::with_capacity(512);
    for due in (1..).map(|i| i * tick) {
        if due > s.stop_at.load(Ordering::Acquire) {
            break;
        }
        let now = s.now();
        if due > now {
            C::sleep(Duration::from_nanos(due - now)).await;
        }
        ticks.push((due, s.now().saturating_sub(due)));
        s.ticks.fetch_add(1, Ordering::Relaxed);
    }
    ticks
}

/// The lateness of the ticks due in `[start, end]`.
fn late_between(ticks: &[(u64, u64)], start: u64, end: u64) -> Vec<Duration> {
    ticks
        .iter()
        .filter(|(due, _)| (start..=end).contains(due))
        .map(|&(_, late)| Duration::from_nanos(late))
        .collect()
}

/// One `blocking_stall` run with `k` blocking tasks on `rt`, the pair on
/// `Ch`'s channels.
pub fn blocking_stall<C: Contender, Ch: ChannelImpl>(
    rt: &C,
    p: &Params,
    k: usize,
) -> Result<TickRun, String> {
    let block = p.size(BLOCK.0, BLOCK.1);
    let s = Shared::new();
    let ticker = rt.spawn_remote(ticker::<C>(s.clone()));
    let (ping_tx, mut ping_rx) = Ch::channel(Some(1));
    let (pong_tx, mut pong_rx) = Ch::channel(Some(1));
    let echo = rt.spawn_remote(async move {
        while let Some(v) = Ch::recv(&mut ping_rx).await {
            if !Ch::send(&pong_tx, v + 1).await {
                break;
            }
        }
    });
    let pair = s.clone();
    let pinger = rt.spawn_remote(async move {
        let (mut v, mut trips) = (0, 0);
        while !pair.stopped() {
            if !Ch::send(&ping_tx, v).await {
                return Err("the echo task's receiver is gone".to_string());
            }
            v = Ch::recv(&mut pong_rx)
                .await
                .ok_or("the echo task's sender is gone")?;
            trips += 1;
            pair.trips.store(trips, Ordering::Relaxed);
        }
        // A lost or repeated message would leave the counter off the count.
        match v == trips {
            true => Ok(trips),
            false => Err(format!("counter {v} after {trips} round trips")),
        }
    });

    std::thread::sleep(p.size(LEAD.0, LEAD.1));
    let spans = if k == 0 {
        vec![s.span(|| std::thread::sleep(block))]
    } else {
        let blockers: Vec<_> = (0..k)
            .map(|_| {
                let s = s.clone();
                rt.spawn_remote(async move { s.span(|| std::thread::sleep(block)) })
            })
            .collect();
        rt.block_on(async {
            let mut spans = Vec::with_capacity(k);
            for b in blockers {
                spans.push(join::<C, _>(b).await?);
            }
            Ok::<_, String>(spans)
        })?
    };
    s.stop();
    let (ticks, trips) = rt.block_on(async {
        let ticks = join::<C, _>(ticker).await?;
        let trips = join::<C, _>(pinger).await?;
        join::<C, _>(echo).await?;
        Ok::<_, String>((ticks, trips))
    })?;
    let what = format!("blocking_stall/k{k} on {}", C::NAME);
    trips.map_err(|e| format!("{what}: {e}"))?;

    let first = spans.iter().min_by_key(|s| s.start).expect("a span");
    let last = spans.iter().max_by_key(|s| s.end).expect("a span");
    if spans
        .iter()
        .any(|s| s.end - s.start < block.as_nanos() as u64)
    {
        return Err(format!("{what}: a blocking task slept less than {block:?}"));
    }
    let late = late_between(&ticks, first.start, last.end);
    if late.is_empty() {
        return Err(format!("{what}: no tick was due during the block"));
    }
    Ok(TickRun {
        window: Duration::from_nanos(last.end - first.start),
        ops: last.trips_at_end - first.trips_at_start,
        late,
    })
}

/// One `greedy_loop` run on a fresh 1-worker runtime `C` with `Ch`'s channel.
pub fn greedy_loop<C: Contender, Ch: ChannelImpl>(p: &Params) -> Result<TickRun, String> {
    let n = p.size(GREEDY_ITERATIONS.0, GREEDY_ITERATIONS.1);
    let what = format!("greedy_loop on {}", C::NAME);
    let rt = C::build(1).map_err(|e| format!("{what}: building a 1-worker runtime: {e}"))?;
    let s = Shared::new();
    let ticker = rt.spawn_remote(ticker::<C>(s.clone()));
    // The ticker must be running (waiting on its timer) before the loop takes the worker.
    while s.ticks.load(Ordering::Relaxed) == 0 {
        std::thread::sleep(Duration::from_micros(100));
    }
    let clock = s.clone();
    let greedy = rt.spawn_remote(async move {
        let (tx, mut rx) = Ch::channel(Some(GREEDY_CAP));
        let closed = || "the loop's channel closed".to_string();
        Ch::send(&tx, 0).await.then_some(()).ok_or_else(closed)?;
        let start = clock.now();
        let mut sum = 0u64;
        for i in 1..=n {
            Ch::send(&tx, i).await.then_some(()).ok_or_else(closed)?;
            sum += Ch::recv(&mut rx).await.ok_or_else(closed)?;
        }
        Ok::<_, String>((start, clock.now(), sum))
    });
    let (start, end, sum) = rt.block_on(join::<C, _>(greedy))??;
    s.stop();
    let ticks = rt.block_on(join::<C, _>(ticker))?;
    drop(rt);
    // Received 0..n-1: the value put in first, then every sent one but the last.
    if sum != n * (n - 1) / 2 {
        return Err(format!("{what}: received values sum to {sum}"));
    }
    Ok(TickRun {
        window: Duration::from_nanos(end - start),
        ops: n,
        late: late_between(&ticks, start, end),
    })
}

/// Which workload a row measures.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `blocking_stall` with this many blocking tasks.
    Stall(usize),
    /// `greedy_loop`.
    Greedy,
}

/// One run of `kind` on `rt` with the channel `Ch`.
fn on<C: Contender, Ch: ChannelImpl>(rt: &C, p: &Params, kind: Kind) -> Result<TickRun, String> {
    match kind {
        Kind::Stall(k) => blocking_stall::<C, Ch>(rt, p, k),
        Kind::Greedy => greedy_loop::<C, Ch>(p),
    }
}

/// One run of `kind` on Go: its test in a fresh process.
fn on_go(env: &Env, p: &Params, kind: Kind) -> Result<TickRun, String> {
    let ms = |d: (Duration, Duration)| p.size(d.0, d.1).as_millis().to_string();
    let (test, vars) = match kind {
        Kind::Stall(k) => (
            "BlockingStall",
            vec![
                ("GORT_STALL_K", k.to_string()),
                ("GORT_STALL_BLOCK_MS", ms(BLOCK)),
                ("GORT_STALL_LEAD_MS", ms(LEAD)),
                ("GOMAXPROCS", p.workers.to_string()),
            ],
        ),
        Kind::Greedy => (
            "GreedyLoop",
            vec![
                (
                    "GORT_GREEDY_N",
                    p.size(GREEDY_ITERATIONS.0, GREEDY_ITERATIONS.1).to_string(),
                ),
                ("GOMAXPROCS", "1".to_string()),
            ],
        ),
    };
    let out = env.go(test)?.run_test(test, &vars)?;
    let line = out
        .lines()
        .find(|l| l.starts_with("window_ns="))
        .ok_or_else(|| format!("Go Test{test} printed no window_ns line:\n{out}"))?;
    parse_tick_line(line)
}

/// One run of `kind` on column `column` (gort, tokio, smol, Go).
fn measure(env: &Env, p: &Params, column: usize, kind: Kind) -> Result<TickRun, String> {
    match column {
        0 => on::<_, GortChan>(&env.gort, p, kind),
        1 => on::<_, TokioBounded>(&env.tokio, p, kind),
        2 => on::<_, AsyncChannel>(&env.smol, p, kind),
        _ => on_go(env, p, kind),
    }
}

/// A value read off a run, and its row: name, description, unit.
type Metric = (&'static str, String, Unit, fn(&TickRun) -> Measurement);

/// The rows `<prefix>/<metric>` of `kind`, all read off the same runs: on
/// each column the first row measures and leaves a copy of every run to
/// each row after it, which reads its value off that copy (in the same
/// order: warm-up, then run by run). A row that finds none (run alone
/// under `--filter`) measures its own, for the rows after it.
fn rows(prefix: &str, kind: Kind, metrics: Vec<Metric>) -> Vec<Workload> {
    let n = metrics.len();
    let queues: Vec<Rc<RefCell<Vec<VecDeque<TickRun>>>>> = (0..4)
        .map(|_| Rc::new(RefCell::new(vec![VecDeque::new(); n])))
        .collect();
    let mut rows = Vec::with_capacity(n);
    for (i, (metric, description, unit, pick)) in metrics.into_iter().enumerate() {
        let cells = (0..4)
            .map(|column| {
                let queues = queues[column].clone();
                cell(move |env, p| {
                    let queued = queues.borrow_mut()[i].pop_front();
                    let run = match queued {
                        Some(run) => run,
                        None => {
                            let run = measure(env, p, column, kind)?;
                            for later in &mut queues.borrow_mut()[i + 1..] {
                                later.push_back(run.clone());
                            }
                            run
                        }
                    };
                    Ok(pick(&run))
                })
            })
            .collect();
        rows.push(Workload {
            name: format!("{prefix}/{metric}"),
            description,
            unit,
            goal: None,
            cells,
        });
    }
    rows
}

/// The suite: `blocking_stall/k{0,1,2,4}/{worst_lateness,p99_lateness,ns_per_round_trip}`
/// and `greedy_loop/{worst_lateness,loop_time}`.
pub fn suite() -> Suite {
    let mut all = Vec::new();
    for k in BLOCKERS {
        let during = match k {
            0 => "2 workers, 100 ms with no task blocking (the reference)".to_string(),
            k => format!("2 workers, {k} task(s) each block their thread for 100 ms"),
        };
        let text = |what: &str| format!("{during}, a ping-pong pair and a 1 ms ticker run: {what}");
        all.extend(rows(
            &format!("blocking_stall/k{k}"),
            Kind::Stall(k),
            vec![
                (
                    "worst_lateness",
                    text("the latest tick"),
                    Unit::Time,
                    TickRun::worst,
                ),
                (
                    "p99_lateness",
                    text("99th percentile tick lateness"),
                    Unit::Time,
                    TickRun::p99,
                ),
                (
                    "ns_per_round_trip",
                    text("the block over the pair's round trips in it (1e9 / it = round trips/s)"),
                    Unit::PerOp,
                    TickRun::per_op,
                ),
            ],
        ));
    }
    let text = |what: &str| {
        format!(
            "1 worker, a task sends then receives on an always-ready channel 10^6 times while \
             a 1 ms ticker runs: {what}"
        )
    };
    all.extend(rows(
        "greedy_loop",
        Kind::Greedy,
        vec![
            (
                "worst_lateness",
                text("the latest tick due during the loop"),
                Unit::Time,
                TickRun::worst,
            ),
            (
                "loop_time",
                text("the loop's duration"),
                Unit::Time,
                TickRun::window,
            ),
        ],
    ));
    let channels = |rt: &str, ch: &str| format!("{rt}, the pair and the loop on {ch}");
    Suite {
        title: "stall: {vs}, a blocked thread or a task that never yields (issue 11)".to_string(),
        about: vec![
            format!(
                "A ticker task sleeps to every 1 ms deadline on its runtime's timer; \
                 *_lateness is how late the ticks due in the window fired (worst, 99th \
                 percentile). blocking_stall/k<k>: {WORKERS} workers, k tasks each in \
                 std::thread::sleep(100 ms) (Go: a raw nanosleep syscall) while a ping-pong \
                 pair runs; the window is the block (k4 on 2 workers: two rounds of two when \
                 nothing hands the processor off); ns_per_round_trip = the window over the \
                 pair's round trips in it (none counts as one). The rows of one k (and \
                 greedy_loop's two) are read off the same runs. k0: nothing blocks, the \
                 reference. greedy_loop: 1 worker, 10^6 send+receive on a channel that is \
                 never empty; the window is the loop."
            ),
            format!(
                "Goals (issue 11): gort's blocking_stall worst_lateness <= 2x the blocking \
                 threshold ({:?}, gort's sysmon hands a stuck processor's permit to another \
                 thread after it) and ns_per_round_trip <= 2x the k0 row's (round trips >= \
                 50% of the unblocked rate); greedy_loop worst_lateness <= 5 ms (gort's and \
                 tokio's cooperative budgets). One run = one block (or loop); lower is better \
                 in every row.",
                gort::runtime::DEFAULT_BLOCKING_THRESHOLD
            ),
        ],
        columns: vec![
            Column::new(Gort::NAME, true, &channels("gort's runtime", "gort::chan")),
            Column::new(
                Tokio::NAME,
                true,
                &channels("tokio's multi-threaded runtime", "tokio::sync::mpsc"),
            ),
            Column::new(
                Smol::NAME,
                true,
                &channels("async-executor under async-io's block_on", "async-channel"),
            ),
            Column::new(
                GO,
                true,
                "benches/go/stall_test.go (TestBlockingStall, TestGreedyLoop), GOMAXPROCS = \
                 the workers, one process per run, Go channels",
            ),
        ],
        baseline: None,
        runs: None,
        rows: all,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gobench::{GoBench, GoSetup};

    #[test]
    fn tick_lines_parse_and_percentiles_are_nearest_rank() {
        let r = parse_tick_line("window_ns=100000000 ops=0 late_ns=5,1,3").unwrap();
        assert_eq!((r.window, r.ops), (Duration::from_millis(100), 0));
        assert_eq!(r.worst(), Measurement::Latency(Duration::from_nanos(5)));
        assert_eq!(r.p99(), Measurement::Latency(Duration::from_nanos(5)));
        assert_eq!(r.per_op().value(), 1e8, "no round trip counts as one");
        let hundred = TickRun {
            window: Duration::from_secs(1),
            ops: 4,
            late: (1..=100).rev().map(Duration::from_nanos).collect(),
        };
        assert_eq!(
            hundred.p99(),
            Measurement::Latency(Duration::from_nanos(99))
        );
        assert_eq!(hundred.per_op().value(), 2.5e8);
        let none = parse_tick_line("window_ns=7 ops=3 late_ns=").unwrap();
        assert_eq!(none.late, []);
        assert_eq!(none.worst(), Measurement::Latency(Duration::ZERO));
        assert!(parse_tick_line("window_ns=7 ops=3").is_err());
        assert!(parse_tick_line("window_ns=7 ops=x late_ns=1").is_err());
        assert!(parse_tick_line("window_ns=7 ops=3 late_ns=1,y").is_err());
    }

    /// Every workload at the quick sizes on every runtime, Go's when `go` is installed.
    #[test]
    fn every_cell_runs_and_sees_its_window() {
        let mut env = Env::build(2).unwrap();
        env.go = match GoBench::setup() {
            GoSetup::Ready(go) => Some(go),
            GoSetup::NotFound => None,
            GoSetup::Failed(e) => panic!("go is installed but the package failed: {e}"),
        };
        let p = Params {
            workers: 2,
            quick: true,
        };
        for kind in [Kind::Stall(0), Kind::Stall(2), Kind::Greedy] {
            let runs = [
                on::<_, GortChan>(&env.gort, &p, kind),
                on::<_, TokioBounded>(&env.tokio, &p, kind),
                on::<_, AsyncChannel>(&env.smol, &p, kind),
            ];
            let go = env.go.is_some().then(|| on_go(&env, &p, kind));
            for r in runs.into_iter().chain(go) {
                let r = r.unwrap_or_else(|e| panic!("{kind:?}: {e}"));
                assert!(r.window >= Duration::from_millis(1), "{kind:?}: {r:?}");
                assert!(
                    r.ops > 0 || matches!(kind, Kind::Stall(2)),
                    "{kind:?}: {r:?}"
                );
            }
        }
    }
}
