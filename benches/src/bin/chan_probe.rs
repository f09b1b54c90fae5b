//! The channel's cost per message in small programs: on one thread with no
//! runtime, for callgrind (the instruction count is the same from run to
//! run whatever else the machine does), and on a runtime's workers, for
//! `perf` and the runtime's counters.
//!
//! `gort-bench-chan-probe WHICH [N]` (N = 100,000 by default) sends N values and
//! receives them, printing the sum and the wall-clock ns per message:
//!
//! - `gort-capN`, `gort-unb`, `kanal-capN`, `kanal-unb`: one future on
//!   `futures::executor::block_on` sends all N with `.await`, then receives
//!   all N, on `bounded(N)` or `unbounded()` (the `chan/seq` rows).
//! - `gort-blk-capN`, `gort-blk-unb`, `cb-capN`, `cb-unb`: the same with
//!   gort's `send_blocking`/`recv_blocking` and crossbeam-channel's.
//! - `gort-rdv`, `gort-cap1`: a sending and a receiving future joined on
//!   one thread, on `bounded(0)` and `bounded(1)` (every hand-off parks);
//!   `kanal-rdv`, `kanal-cap1`: the same on kanal's async channel.
//! - `gort-mt-cap1`, `gort-mt-cap128`, `kanal-mt-cap1`, `kanal-mt-cap128`:
//!   the `chan/mpmc2x2` rows' work on tokio's runtime (2 workers), for
//!   `perf` rather than callgrind; `gort-mt4-cap1`, `kanal-mt4-cap1`: the
//!   `chan/mpmc/cap1` row's (4 senders, 4 receivers).
//! - `gort-rt-seq`, `tokio-rt-seq`: the `chan/seq/capN` row's work (one
//!   task) on gort's runtime and on tokio's, 2 workers each; they also
//!   print (to stderr) the ns per message inside the runtime, without
//!   building it and without the first touch of the ring's pages.
//! - `gort-rt-mpsc`, `tokio-rt-mpsc`: the `chan/mpsc/cap128` row's work
//!   (4 sending tasks, 1 receiving, gort's `bounded(128)`), and
//!   `gort-rt-mpmc-unb`, `tokio-rt-mpmc-unb`: the `chan/mpmc/unbounded`
//!   row's (4 and 4, `unbounded()`), `gort-rt-mpmc-rdv`,
//!   `tokio-rt-mpmc-rdv`: the `chan/mpmc/cap0` row's (4 and 4,
//!   `bounded(0)`; `kanal-tokio-mpmc-rdv`, `kanal-tokio-mpmc-unb`: the
//!   rdv and unb shapes on kanal's channel), `gort-rt-mpsc1`,
//!   `tokio-rt-mpsc1`, `gort-rt-mpmc1`, `tokio-rt-mpmc1`: the
//!   `chan/mpsc/cap1` and `chan/mpmc/cap1` rows' (4 and 1, 4 and 4,
//!   `bounded(1)`), spawned from
//!   this thread on gort's runtime or tokio's, `PROBE_WORKERS` workers (2
//!   by default); they print the ns per message inside the runtime, and
//!   gort's prints its per-worker polls, steals, parks and LIFO hits and
//!   its forced yields. With `PROBE_UNCONSTRAINED` set, the tasks run
//!   outside the cooperative budget. With `PROBE_LEN` set, a thread looks
//!   at the channel's length every 50 us and prints how often it found
//!   it in each range (does the queue stay short, or do senders run ahead).
//!   With `PROBE_TICKER` set, a task on the same runtime sleeps 1 ms at a
//!   time during the run and prints its worst lateness (does the channel
//!   keep a worker from its other tasks).
//! - `base`: nothing (the program's own cost).
//!
//! Instructions per message, without the setup:
//!
//! ```text
//! a=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null gort-bench-chan-probe gort-capN 100000 2>&1 | sed -n 's/.*Collected : //p')
//! b=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null gort-bench-chan-probe gort-capN 200000 2>&1 | sed -n 's/.*Collected : //p')
//! echo $(( (b - a) / 100000 ))
//! ```
use std::hint::black_box;

use gort_bench::contender::{Contender, Gort, Tokio, WORKERS};

/// The shape of a `gort-rt-*` / `tokio-rt-*` tasks mode: gort's channel
/// capacity (`None`: unbounded), senders, receivers.
fn rt_shape(which: &str) -> (Option<usize>, u64, usize) {
    match which.split_once("-rt-").map(|(_, shape)| shape) {
        Some("mpsc") => (Some(128), 4, 1),
        Some("mpmc-unb") => (None, 4, 4),
        Some("mpmc-rdv") => (Some(0), 4, 4),
        Some("mpsc1") => (Some(1), 4, 1),
        Some("mpmc1") => (Some(1), 4, 4),
        _ => panic!("no tasks shape in {which}"),
    }
}

/// gort's channel of capacity `cap` (`None`: unbounded).
fn gort_channel(cap: Option<usize>) -> (gort::chan::Sender<u64>, gort::chan::Receiver<u64>) {
    match cap {
        Some(cap) => gort::chan::bounded(cap),
        None => gort::chan::unbounded(),
    }
}

/// `fut` outside the cooperative budget if `unc`.
fn unconstrained_if<F: std::future::Future>(
    unc: bool,
    fut: F,
) -> futures::future::Either<gort::task::Unconstrained<F>, F> {
    if unc {
        futures::future::Either::Left(gort::task::unconstrained(fut))
    } else {
        futures::future::Either::Right(fut)
    }
}

/// A channel whose length can be read from another thread.
trait HasLen: Send + 'static {
    fn queued(&self) -> usize;
}

impl HasLen for gort::chan::Receiver<u64> {
    fn queued(&self) -> usize {
        self.len()
    }
}

impl HasLen for kanal::AsyncReceiver<u64> {
    fn queued(&self) -> usize {
        self.len()
    }
}

/// The thread behind `PROBE_LEN`.
struct LenSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

/// Upper bounds of the length ranges `PROBE_LEN` counts.
const LEN_BOUNDS: [usize; 7] = [0, 8, 32, 128, 1_024, 10_000, 100_000];

fn len_sampler(rx: impl HasLen) -> LenSampler {
    use std::sync::atomic::Ordering::Relaxed;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let thread = std::thread::spawn(move || {
        let mut counts = [0u64; LEN_BOUNDS.len() + 1];
        while !stopped.load(Relaxed) {
            let len = rx.queued();
            counts[LEN_BOUNDS.iter().take_while(|&&b| len > b).count()] += 1;
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
        eprintln!("length <= {LEN_BOUNDS:?} and above: {counts:?} looks");
    });
    LenSampler { stop, thread }
}

impl LenSampler {
    fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap();
    }
}

/// The task behind `PROBE_TICKER`: on the runtime under test, it sleeps
/// 1 ms at a time until `stop`, and returns its ticks and the worst
/// lateness of a tick.
fn spawn_ticker<C: Contender>(
    rt: &C,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> C::JoinHandle<(u64, std::time::Duration)> {
    rt.spawn_remote(async move {
        let tick = std::time::Duration::from_millis(1);
        let (mut ticks, mut worst) = (0, std::time::Duration::ZERO);
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let start = std::time::Instant::now();
            C::sleep(tick).await;
            worst = worst.max(start.elapsed().saturating_sub(tick));
            ticks += 1;
        }
        (ticks, worst)
    })
}

/// Stops the ticker and prints what it saw.
fn report_ticker<C: Contender>(
    rt: &C,
    stop: &std::sync::atomic::AtomicBool,
    ticker: C::JoinHandle<(u64, std::time::Duration)>,
) {
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ticks, worst) = rt
        .block_on(gort_bench::contender::join::<C, _>(ticker))
        .unwrap();
    eprintln!("ticker: {ticks} ticks of 1 ms, worst {worst:?} late");
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().expect("which");
    let n: u64 = args.next().map_or(100_000, |s| s.parse().unwrap());
    let cap = n as usize;
    let mut sum = 0u64;
    // One future sends all `n`, then receives them.
    macro_rules! seq_async {
        ($channel:expr) => {{
            let (tx, rx) = $channel;
            futures::executor::block_on(async {
                for i in 0..n {
                    tx.send(black_box(i)).await.unwrap();
                }
                for _ in 0..n {
                    sum += rx.recv().await.unwrap();
                }
            });
        }};
    }
    // The same with a blocking API.
    macro_rules! seq_blocking {
        ($channel:expr, $send:ident, $recv:ident) => {{
            let (tx, rx) = $channel;
            for i in 0..n {
                tx.$send(black_box(i)).unwrap();
            }
            for _ in 0..n {
                sum += rx.$recv().unwrap();
            }
        }};
    }
    // Two futures on one thread hand values over.
    macro_rules! joined {
        ($channel:expr) => {{
            let (tx, rx) = $channel;
            futures::executor::block_on(async {
                let send = async {
                    for i in 0..n {
                        tx.send(black_box(i)).await.unwrap();
                    }
                };
                let recv = async {
                    for _ in 0..n {
                        sum += rx.recv().await.unwrap();
                    }
                };
                futures::join!(send, recv);
            });
        }};
    }
    // `$k` sending and `$k` receiving tasks on tokio's runtime with 2
    // workers (the `chan/mpmc2x2` and `chan/mpmc` rows), for perf.
    macro_rules! mpmc {
        ($channel:expr, $k:expr) => {{
            let k: u64 = $k;
            let (tx, rx) = $channel;
            let rt = Tokio::build(WORKERS).unwrap();
            sum = rt.block_on(async {
                let mut tasks = Vec::new();
                for p in 0..k {
                    let tx = tx.clone();
                    tasks.push(tokio::spawn(async move {
                        for i in (p * n / k)..((p + 1) * n / k) {
                            tx.send(black_box(i)).await.unwrap();
                        }
                        0
                    }));
                }
                drop(tx);
                for _ in 0..k {
                    let rx = rx.clone();
                    tasks.push(tokio::spawn(async move {
                        let mut sum = 0;
                        while let Ok(v) = rx.recv().await {
                            sum += v;
                        }
                        sum
                    }));
                }
                drop(rx);
                let mut sum = 0;
                for t in tasks {
                    sum += t.await.unwrap();
                }
                sum
            });
        }};
    }
    // The `chan/seq/capN` row's work, one task on a 2-worker runtime:
    // gort's channel on gort's runtime or on tokio's.
    macro_rules! seq_on {
        ($block_on:expr, $spawn:path) => {{
            let (tx, rx) = gort::chan::bounded::<u64>(cap);
            // The ring's pages touched before the clock starts, as in the
            // harness's repeated runs.
            for i in 0..n {
                tx.try_send(i).unwrap();
            }
            while rx.try_recv().is_ok() {}
            let start = std::time::Instant::now();
            sum = $block_on(async move {
                $spawn(async move {
                    let mut sum = 0;
                    for i in 0..n {
                        tx.send(black_box(i)).await.unwrap();
                    }
                    for _ in 0..n {
                        sum += rx.recv().await.unwrap();
                    }
                    sum
                })
                .await
                .unwrap()
            });
            let ns = start.elapsed().as_nanos() as f64 / n as f64;
            eprintln!("{which}: {ns:.1} ns/msg in the runtime");
        }};
    }
    // `$k` sending tasks and `$c` receiving tasks on `$channel` (gort's),
    // spawned from this thread on the runtime `$rt` (the `chan/mpsc/*` and
    // `chan/mpmc/*` rows' shapes); prints ns per message inside the run.
    macro_rules! tasks_on {
        ($rt:expr, $channel:expr, $k:expr, $c:expr) => {{
            let rt = $rt;
            let (k, c): (u64, usize) = ($k, $c);
            let (tx, rx) = $channel;
            let start = std::time::Instant::now();
            let unc = std::env::var_os("PROBE_UNCONSTRAINED").is_some();
            let consumers: Vec<_> = (0..c)
                .map(|_| {
                    let rx = rx.clone();
                    rt.spawn_remote(unconstrained_if(unc, async move {
                        let mut sum = 0;
                        while let Ok(v) = rx.recv().await {
                            sum += v;
                        }
                        sum
                    }))
                })
                .collect();
            let sampler = std::env::var_os("PROBE_LEN").map(|_| len_sampler(rx.clone()));
            let stop_ticker = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let ticker =
                std::env::var_os("PROBE_TICKER").map(|_| spawn_ticker(&rt, stop_ticker.clone()));
            drop(rx);
            let producers: Vec<_> = (0..k)
                .map(|p| {
                    let tx = tx.clone();
                    rt.spawn_remote(unconstrained_if(unc, async move {
                        for i in (p * n / k)..((p + 1) * n / k) {
                            tx.send(black_box(i)).await.unwrap();
                        }
                    }))
                })
                .collect();
            drop(tx);
            sum = rt.block_on(async {
                for p in producers {
                    p.await.unwrap();
                }
                let mut sum = 0;
                for c in consumers {
                    sum += c.await.unwrap();
                }
                sum
            });
            let ns = start.elapsed().as_nanos() as f64 / n as f64;
            eprintln!("{which}: {ns:.1} ns/msg in the runtime");
            if let Some(sampler) = sampler {
                sampler.stop();
            }
            if let Some(ticker) = ticker {
                report_ticker(&rt, &stop_ticker, ticker);
            }
            rt
        }};
    }
    // gort's per-worker counters after a run.
    let print_counters = |rt: &Gort| {
        let m = rt.runtime().handle().metrics();
        for w in 0..m.num_workers() {
            eprintln!(
                "worker {w}: polls {} steals {} parks {} lifo hits {}",
                m.worker_poll_count(w),
                m.worker_steal_count(w),
                m.worker_park_count(w),
                m.worker_lifo_hits(w)
            );
        }
        eprintln!("forced yields {}", m.budget_forced_yields());
    };
    let workers: usize = std::env::var("PROBE_WORKERS").map_or(WORKERS, |w| w.parse().unwrap());
    let start = std::time::Instant::now();
    match which.as_str() {
        "gort-rt-mpsc" | "gort-rt-mpmc-unb" | "gort-rt-mpmc-rdv" | "gort-rt-mpsc1"
        | "gort-rt-mpmc1" => {
            let (cap, k, c) = rt_shape(&which);
            print_counters(&tasks_on!(
                Gort::build(workers).unwrap(),
                gort_channel(cap),
                k,
                c
            ))
        }
        "tokio-rt-mpsc" | "tokio-rt-mpmc-unb" | "tokio-rt-mpmc-rdv" | "tokio-rt-mpsc1"
        | "tokio-rt-mpmc1" => {
            let (cap, k, c) = rt_shape(&which);
            tasks_on!(Tokio::build(workers).unwrap(), gort_channel(cap), k, c);
        }
        "kanal-tokio-mpmc-unb" => {
            tasks_on!(
                Tokio::build(workers).unwrap(),
                kanal::unbounded_async::<u64>(),
                4,
                4
            );
        }
        "kanal-tokio-mpmc-rdv" => {
            tasks_on!(
                Tokio::build(workers).unwrap(),
                kanal::bounded_async::<u64>(0),
                4,
                4
            );
        }
        "gort-rt-seq" => {
            let rt = Gort::build(WORKERS).unwrap();
            seq_on!(|f| rt.block_on(f), gort::spawn)
        }
        "tokio-rt-seq" => {
            let rt = Tokio::build(WORKERS).unwrap();
            seq_on!(|f| rt.block_on(f), tokio::spawn)
        }
        "gort-mt-cap1" => mpmc!(gort::chan::bounded::<u64>(1), 2),
        "kanal-mt-cap1" => mpmc!(kanal::bounded_async::<u64>(1), 2),
        "gort-mt-cap128" => mpmc!(gort::chan::bounded::<u64>(128), 2),
        "kanal-mt-cap128" => mpmc!(kanal::bounded_async::<u64>(128), 2),
        "gort-mt4-cap1" => mpmc!(gort::chan::bounded::<u64>(1), 4),
        "kanal-mt4-cap1" => mpmc!(kanal::bounded_async::<u64>(1), 4),
        "base" => {}
        "gort-capN" => seq_async!(gort::chan::bounded::<u64>(cap)),
        "gort-unb" => seq_async!(gort::chan::unbounded::<u64>()),
        "kanal-capN" => seq_async!(kanal::bounded_async::<u64>(cap)),
        "kanal-unb" => seq_async!(kanal::unbounded_async::<u64>()),
        "gort-blk-capN" => seq_blocking!(
            gort::chan::bounded::<u64>(cap),
            send_blocking,
            recv_blocking
        ),
        "gort-blk-unb" => {
            seq_blocking!(gort::chan::unbounded::<u64>(), send_blocking, recv_blocking)
        }
        "cb-capN" => seq_blocking!(crossbeam_channel::bounded::<u64>(cap), send, recv),
        "cb-unb" => seq_blocking!(crossbeam_channel::unbounded::<u64>(), send, recv),
        "gort-rdv" | "gort-cap1" => {
            // bounded(0) is a rendezvous, bounded(1) parks every other
            // operation.
            joined!(gort::chan::bounded::<u64>(usize::from(
                which == "gort-cap1"
            )))
        }
        "kanal-rdv" | "kanal-cap1" => {
            joined!(kanal::bounded_async::<u64>(usize::from(
                which == "kanal-cap1"
            )))
        }
        other => panic!("unknown {other}"),
    }
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    println!("{which} {n} {sum} {ns:.1} ns/msg");
}
