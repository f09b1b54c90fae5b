//! How cost per unit grows with the work: the scale suite (`scale/*`), and
//! the oversubscription table (`oversub/*`).
//!
//! Every point of the scale suite runs in a fresh child process, as the
//! seed's memory row does: `gort-bench-net park` for the parked tasks,
//! `gort-bench-net scale ...` ([`child`]) for spawn+join and timers,
//! `gort-bench-net c10k` with a server process for the connections, and a
//! fresh Go test process for Go (`benches/go/scale_test.go`,
//! `seed_test.go`). The rows are named `scale/<curve>/<N>`, so a run's
//! results hold one curve per contender, drawn by
//! [`report::scale_svgs`](crate::report::scale_svgs).
//!
//! - `scale/spawn/<N>`: N tasks spawned from one task, each returning its
//!   index, all joined (in order) and the sum checked; ns per task.
//! - `scale/park_rss/<N>`: resident bytes per parked task (and per OS
//!   thread where they fit).
//! - `scale/timer_cpu/<N>`, `scale/timer_late_p99/<N>`: N tasks spawned
//!   from one task, each sleeping a pseudo-random time below a window
//!   ([`timer_window`]) from its first poll; the process's CPU time (user +
//!   system, every thread) per timer, and the 99th percentile of the
//!   lateness (wake-up minus deadline; an early wake-up is an error). Both
//!   rows are read off the same child processes.
//! - `scale/c10k_rss/<N>`, `scale/c10k_echo/<N>`: N TCP connections to a
//!   fresh echo server process, each echoed once; the server's resident
//!   bytes per connection, then one in ten echoing back to back: ns per
//!   message. Both rows are read off the same runs.
//!
//! The oversubscription table runs `ping_pong` and `skynet` (a fresh child
//! per run, `gort-bench-net scale sched`) and the TCP echo throughput row
//! with 1, 2, 4 and 8 worker threads, gort and tokio.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::net::{self, Transport};
use super::{scheduler, seed};
use crate::contender::{join, Contender, Gort, Params, Smol, Tokio, WORKERS};
use crate::gobench::GO;
use crate::results::Column;
use crate::stats::{Measurement, Unit};
use crate::suite::{cell, Cell, Env, RunResult, Suite, Workload};

/// The task counts of the spawn, parked and timer curves (full, quick).
pub const TASKS: (&[usize], &[usize]) = (&[1_000, 10_000, 100_000, 1_000_000], &[1_000, 10_000]);
/// The largest task count, in a suite of its own with one run per point
/// ([`big_suite`]; not under `--quick`): a point takes 5-70 s per column
/// on this 2-core machine.
pub const BIG_TASKS: usize = 10_000_000;
/// The connection counts of the C10K curves (full, quick).
pub const CONNS: (&[usize], &[usize]) = (&[100, 1_000, 10_000], &[100, 1_000]);
/// One connection in this many echoes in the C10K rows; the others idle.
pub const ACTIVE_ONE_IN: usize = 10;
/// Most parked OS threads: 100,000 threads need more pids than this
/// machine's `kernel.pid_max` (32,768) and more mappings than its
/// `vm.max_map_count` (65,530) allow.
pub const MAX_THREADS: usize = 10_000;
/// Most parked goroutines: 10,000,000 goroutines take about 27 GB (a 2 KiB
/// stack and the goroutine's own struct each), more than this machine's
/// 24 GiB.
pub const MAX_GOROUTINES: usize = 1_000_000;
/// Most goroutines in the timer curve: one run of 10,000,000 sleeping
/// goroutines (sleeps below 10 s) took 86 s (3.3 GB resident) on this
/// machine, past the suite's budget.
pub const MAX_GO_TIMERS: usize = 1_000_000;
/// Measured runs per point (each a fresh process); one at [`BIG_TASKS`].
pub const RUNS: usize = 3;
/// Worker counts of the oversubscription table.
pub const OVERSUB_WORKERS: [usize; 4] = [1, 2, 4, 8];

/// The window the timer curve's sleeps are drawn from: 4 µs per timer (a
/// steady 250,000 deadlines a second, which 2 cores keep up with at the
/// 1.5-4.5 µs of CPU a timer costs; at one a microsecond every runtime fell
/// behind by seconds from N = 10^6 on), at least 100 ms; so a point of
/// 10,000,000 timers sleeps for 40 s.
pub fn timer_window(n: usize) -> Duration {
    Duration::from_micros(4 * n as u64).max(Duration::from_millis(100))
}

/// A pseudo-random 64-bit number of `x` (splitmix64; Go's scale_test.go
/// has the same function).
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `N` in a row name: `1e3` for powers of ten, the number otherwise.
pub fn label(n: usize) -> String {
    let digits = n.to_string();
    match digits.strip_prefix('1') {
        Some(zeros) if !zeros.is_empty() && zeros.bytes().all(|b| b == b'0') => {
            format!("1e{}", zeros.len())
        }
        _ => digits,
    }
}

/// The value of `key=<number>` in a child's line, finite and >= 0.
pub fn field(line: &str, key: &str) -> Result<f64, String> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("no {key}=<number> in the child's output {line:?}"))
}

/// The process's CPU time so far (user + system, every thread).
fn cpu_now() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// What one timer run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimerResult {
    /// CPU time of the process per timer, ns.
    pub cpu_ns_per_timer: f64,
    /// 99th percentile of the lateness, ns.
    pub late_p99_ns: u64,
}

/// What the sleeping tasks of [`timers`] share.
struct Sleepers {
    late_ns: Vec<AtomicU64>,
    left: AtomicUsize,
    early: AtomicUsize,
    all_woke: Mutex<Option<mpsc::SyncSender<()>>>,
}

/// From inside a root task, spawn `n` tasks that each sleep a
/// pseudo-random time below `window` on the runtime's timer and record how
/// late they woke; the last one signals. CPU time is taken from before the
/// first spawn to that signal.
pub fn timers<C: Contender>(rt: &C, n: usize, window: Duration) -> Result<TimerResult, String> {
    let window_ns = (window.as_nanos() as u64).max(1);
    let (tx, rx) = mpsc::sync_channel(1);
    let shared = Arc::new(Sleepers {
        late_ns: (0..n).map(|_| AtomicU64::new(u64::MAX)).collect(),
        left: AtomicUsize::new(n),
        early: AtomicUsize::new(0),
        all_woke: Mutex::new(Some(tx)),
    });
    let cpu = cpu_now();
    let root = {
        let shared = shared.clone();
        rt.spawn_remote(async move {
            for i in 0..n {
                let shared = shared.clone();
                drop(C::spawn(async move {
                    let d = Duration::from_nanos(splitmix64(i as u64) % window_ns);
                    let deadline = Instant::now() + d;
                    C::sleep(d).await;
                    match Instant::now().checked_duration_since(deadline) {
                        Some(late) => {
                            shared.late_ns[i].store(late.as_nanos() as u64, Ordering::Relaxed)
                        }
                        None => drop(shared.early.fetch_add(1, Ordering::Relaxed)),
                    }
                    if shared.left.fetch_sub(1, Ordering::AcqRel) == 1 {
                        let tx = shared
                            .all_woke
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .take();
                        let _ = tx.map(|tx| tx.send(()));
                    }
                }));
            }
        })
    };
    rx.recv()
        .map_err(|_| format!("timers on {}: no completion signal", C::NAME))?;
    let cpu = cpu_now().saturating_sub(cpu);
    rt.block_on(join::<C, _>(root))?;
    let early = shared.early.load(Ordering::Relaxed);
    if early != 0 {
        return Err(format!(
            "timers on {}: {early} of {n} woke before their deadline",
            C::NAME
        ));
    }
    let mut late: Vec<u64> = shared
        .late_ns
        .iter()
        .map(|l| l.load(Ordering::Relaxed))
        .collect();
    if late.contains(&u64::MAX) {
        return Err(format!(
            "timers on {}: a task signalled without recording",
            C::NAME
        ));
    }
    let i = ((n as f64 - 1.0) * 0.99).round() as usize;
    let (_, p99, _) = late.select_nth_unstable(i);
    Ok(TimerResult {
        cpu_ns_per_timer: cpu.as_nanos() as f64 / n as f64,
        late_p99_ns: *p99,
    })
}

/// Runs `$body` with `$rt` bound to a freshly built runtime of kind
/// `$kind` (`gort`, `tokio` or `smol`) with `$workers` workers, warmed up
/// by one `block_on`.
macro_rules! on_runtime {
    ($kind:expr, $workers:expr, |$rt:ident| $body:expr) => {
        match $kind {
            "gort" => {
                let $rt = built::<Gort>($workers)?;
                $body
            }
            "tokio" => {
                let $rt = built::<Tokio>($workers)?;
                $body
            }
            "smol" => {
                let $rt = built::<Smol>($workers)?;
                $body
            }
            other => return Err(format!("unknown runtime {other:?} (gort, tokio or smol)")),
        }
    };
}

fn built<C: Contender>(workers: usize) -> Result<C, String> {
    let rt = C::build(workers).map_err(|e| format!("building {}: {e}", C::NAME))?;
    rt.block_on(async {});
    Ok(rt)
}

fn number(s: Option<&String>, what: &str) -> Result<usize, String> {
    s.and_then(|s| s.parse().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{what} must be a positive integer, got {s:?}"))
}

/// Iterations of `run` in one child: one warm-up, then until `target` has
/// passed (at least 3); the mean of one, ns.
fn repeated(target: Duration, mut run: impl FnMut() -> RunResult) -> Result<(f64, u32), String> {
    run()?;
    let (start, mut total, mut k) = (Instant::now(), 0.0, 0u32);
    while k < 3 || start.elapsed() < target {
        total += run()?.value();
        k += 1;
    }
    Ok((total / f64::from(k), k))
}

/// `gort-bench-net scale ...`, the child side of the suite; returns the
/// line to print.
///
/// ```text
/// scale spawn <gort|tokio|smol> <n>            -> ns_per_task=<ns>
/// scale timers <gort|tokio|smol> <n>           -> cpu_ns_per_timer=<ns> late_p99_ns=<ns>
/// scale sched <gort|tokio|smol> <workers> <ping_pong|skynet> <quick: 0|1> <target ms>
///                                              -> ns_per_run=<ns> runs=<k>
/// ```
///
/// Every runtime has 2 workers except under `sched`.
pub fn child(args: &[String]) -> Result<String, String> {
    let what = args.first().map(String::as_str).unwrap_or_default();
    let kind = args.get(1).map(String::as_str).unwrap_or_default();
    match what {
        "spawn" => {
            let n = number(args.get(2), "n")?;
            let m = on_runtime!(kind, WORKERS, |rt| seed::create_tasks(&rt, n)?);
            Ok(format!("ns_per_task={:.2}", m.value()))
        }
        "timers" => {
            let n = number(args.get(2), "n")?;
            let r = on_runtime!(kind, WORKERS, |rt| timers(&rt, n, timer_window(n))?);
            Ok(format!(
                "cpu_ns_per_timer={:.2} late_p99_ns={}",
                r.cpu_ns_per_timer, r.late_p99_ns
            ))
        }
        "sched" => {
            let workers = number(args.get(2), "workers")?;
            let quick = args.get(4).map(String::as_str) == Some("1");
            let target = Duration::from_millis(number(args.get(5), "target ms")? as u64);
            let p = Params { workers, quick };
            let f = match args.get(3).map(String::as_str) {
                Some("ping_pong") => 0,
                Some("skynet") => 1,
                other => return Err(format!("unknown workload {other:?} (ping_pong or skynet)")),
            };
            let (ns, k) = on_runtime!(kind, workers, |rt| repeated(target, || match f {
                0 => scheduler::ping_pong(&rt, &p),
                _ => scheduler::skynet(&rt, &p),
            })?);
            Ok(format!("ns_per_run={ns:.0} runs={k}"))
        }
        _ => Err("usage: scale spawn|timers <gort|tokio|smol> <n> | scale sched <gort|tokio|smol> <workers> <ping_pong|skynet> <0|1> <ms>".to_string()),
    }
}

/// Raises this process's soft limit of open files to its hard limit (the
/// children inherit it); returns the soft limit now, `None` if unlimited.
/// The C10K points need a descriptor per connection in the server and in
/// the client process.
pub fn raise_fd_limit() -> Result<Option<u64>, String> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        setrlimit(Resource::Nofile, limit)
            .map_err(|e| format!("raising the open-files limit to {:?}: {e}", limit.maximum))?;
    }
    Ok(getrlimit(Resource::Nofile).current)
}

/// Descriptors a C10K point of `conns` connections needs per process.
fn fds_for(conns: usize) -> u64 {
    conns as u64 + 64
}

/// Results of one child run waiting for the paired row (the second row of
/// a pair reads the run the first row's cell made, so each pair of rows
/// costs one set of processes), keyed by `<curve>/<column>/<N>`.
static SPARE: Mutex<Option<HashMap<String, VecDeque<f64>>>> = Mutex::new(None);

fn keep_spare(key: &str, v: f64) {
    let mut spare = SPARE.lock().unwrap_or_else(PoisonError::into_inner);
    spare
        .get_or_insert_with(HashMap::new)
        .entry(key.to_string())
        .or_default()
        .push_back(v);
}

fn take_spare(key: &str) -> Option<f64> {
    let mut spare = SPARE.lock().unwrap_or_else(PoisonError::into_inner);
    spare.as_mut()?.get_mut(key)?.pop_front()
}

/// Both values of a pair: `first` for the first row, and the second row's,
/// kept for it under `key`.
fn pair(key: &str, run: impl FnOnce() -> Result<(f64, f64), String>) -> Result<f64, String> {
    let (first, second) = run()?;
    keep_spare(key, second);
    Ok(first)
}

/// The second row's value: the one its pair kept, or a run of its own
/// (when the first row was not selected).
fn second(key: &str, run: impl FnOnce() -> Result<(f64, f64), String>) -> Result<f64, String> {
    match take_spare(key) {
        Some(v) => Ok(v),
        None => run().map(|(_, second)| second),
    }
}

/// A timer run of `n` on `column` (a runtime's kind or Go):
/// (CPU ns per timer, lateness p99 ns).
fn timer_run(env: &Env, column: &str, n: usize) -> Result<(f64, f64), String> {
    let window = timer_window(n).as_nanos().to_string();
    let line = if column == GO {
        env.go("scale/timer")?.run_test(
            "ScaleTimers",
            &[
                ("GORT_SCALE_N", n.to_string()),
                ("GORT_SCALE_WINDOW_NS", window),
            ],
        )?
    } else {
        net::run_child(&["scale", "timers", column, &n.to_string()])?
    };
    let line = line
        .lines()
        .find(|l| l.contains("cpu_ns_per_timer="))
        .ok_or_else(|| format!("timers on {column}: no result line in {line:?}"))?;
    Ok((
        field(line, "cpu_ns_per_timer")?,
        field(line, "late_p99_ns")?,
    ))
}

/// A C10K run of `conns` on `column`: (resident bytes per connection, ns
/// per echoed message).
fn c10k_run(env: &Env, p: &Params, column: &str, conns: usize) -> Result<(f64, f64), String> {
    let go = if column == GO {
        Some(env.go("scale/c10k")?)
    } else {
        None
    };
    let r = net::run_c10k(column, go, p, conns, (conns / ACTIVE_ONE_IN).max(1))?;
    Ok((r.rss_per_conn, net::per_message(r.echo).value()))
}

/// The columns of the scale suite, in order; the last only in the
/// parked-memory rows.
const KINDS: [&str; 5] = ["gort", "tokio", "smol", GO, "threads"];

/// One row `scale/<curve>/<N>` with a cell per column that `cell_of`
/// gives one (it is called with the column's kind).
fn curve_row(
    curve: &str,
    n: usize,
    description: String,
    unit: Unit,
    cell_of: impl Fn(&'static str) -> Option<Cell>,
) -> Workload {
    Workload {
        name: format!("scale/{curve}/{}", label(n)),
        description,
        unit,
        goal: None,
        cells: KINDS.into_iter().map(cell_of).collect(),
    }
}

/// The rows at the sizes `tasks` and `conns`, and a note for each C10K
/// point left out because the open-files limit (`fd_limit`, `None`:
/// unlimited) is too low for it.
fn rows(tasks: &[usize], conns: &[usize], fd_limit: Option<u64>) -> (Vec<Workload>, Vec<String>) {
    let mut rows = Vec::new();
    let mut left_out = Vec::new();
    for &n in tasks {
        rows.push(curve_row(
            "spawn",
            n,
            format!("ns per task: {n} tasks spawned from one task, each returning its index, all joined in order (sum checked); a fresh process per run"),
            Unit::PerOp,
            |kind| match kind {
                "threads" => None,
                GO => Some(Cell::Each(Box::new(move |env, p| {
                    env.go("scale/spawn")?.run("ScaleSpawn", n as u64, p.workers)
                }))),
                _ => cell(move |_, _| {
                    let line = net::run_child(&["scale", "spawn", kind, &n.to_string()])?;
                    let ns = field(&line, "ns_per_task")?;
                    Ok(Measurement::PerOp {
                        elapsed: Duration::from_secs_f64(ns * n as f64 / 1e9),
                        ops: n as u64,
                    })
                }),
            },
        ));
    }
    for &n in tasks {
        rows.push(curve_row(
            "park_rss",
            n,
            format!("resident bytes per parked unit: {n} units parked on a gort channel receive each, in a fresh process (the seed's memory row at N)"),
            Unit::Bytes,
            |kind| match kind {
                "threads" if n > MAX_THREADS => None,
                GO if n > MAX_GOROUTINES => None,
                GO => cell(move |env, _| seed::go_rss(env, n)),
                _ => cell(move |_, _| seed::rss_per_parked(kind, n)),
            },
        ));
    }
    for &n in tasks {
        let window = timer_window(n).as_millis();
        let key = move |kind: &str| format!("timer/{kind}/{n}");
        rows.push(curve_row(
            "timer_cpu",
            n,
            format!("CPU ns (user + system, whole process) per timer: {n} tasks spawned from one task each sleep a pseudo-random time below {window} ms; a fresh process per run"),
            Unit::PerOp,
            |kind| match kind {
                "threads" => None,
                GO if n > MAX_GO_TIMERS => None,
                _ => cell(move |env, _| {
                    let cpu = pair(&key(kind), || timer_run(env, kind, n))?;
                    Ok(Measurement::PerOp {
                        elapsed: Duration::from_secs_f64(cpu * n as f64 / 1e9),
                        ops: n as u64,
                    })
                }),
            },
        ));
        rows.push(curve_row(
            "timer_late_p99",
            n,
            format!("99th percentile of the lateness (wake-up minus deadline) of the timer_cpu runs at {n} (the same processes)"),
            Unit::Time,
            |kind| match kind {
                "threads" => None,
                GO if n > MAX_GO_TIMERS => None,
                _ => cell(move |env, _| {
                    let ns = second(&key(kind), || timer_run(env, kind, n))?;
                    Ok(Measurement::Latency(Duration::from_nanos(ns as u64)))
                }),
            },
        ));
    }
    for &n in conns {
        if fd_limit.is_some_and(|l| l < fds_for(n)) {
            left_out.push(format!(
                "C10K at {n} connections left out: the open-files limit is {} and could not be raised to {}.",
                fd_limit.unwrap_or_default(),
                fds_for(n)
            ));
            continue;
        }
        let active = (n / ACTIVE_ONE_IN).max(1);
        let key = move |kind: &str| format!("c10k/{kind}/{n}");
        rows.push(curve_row(
            "c10k_rss",
            n,
            format!("resident bytes per TCP connection of a fresh echo server process: {n} connections open, each echoed once"),
            Unit::Bytes,
            |kind| match kind {
                "threads" => None,
                _ => cell(move |env, p| {
                    pair(&key(kind), || c10k_run(env, p, kind, n)).map(Measurement::Bytes)
                }),
            },
        ));
        rows.push(curve_row(
            "c10k_echo",
            n,
            format!("ns per echoed message of the {active} active connections (64 bytes back to back) while the other {} stay open and idle (the c10k_rss runs)", n - active),
            Unit::PerOp,
            |kind| match kind {
                "threads" => None,
                _ => cell(move |env, p| {
                    let ns = second(&key(kind), || c10k_run(env, p, kind, n))?;
                    Ok(Measurement::PerOp {
                        elapsed: Duration::from_secs_f64(ns / 1e9),
                        ops: 1,
                    })
                }),
            },
        ));
    }
    (rows, left_out)
}

/// The scale suite at the sizes of a run (`quick` or full), but for
/// [`BIG_TASKS`].
pub fn suite(quick: bool) -> Suite {
    let fd_limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    let (tasks, conns) = if quick {
        (TASKS.1, CONNS.1)
    } else {
        (TASKS.0, CONNS.0)
    };
    let (rows, left_out) = rows(tasks, conns, fd_limit);
    let mut about = vec![format!(
        "Cost per unit as N grows: each point in a fresh child process, {RUNS} runs (1 \
         under --quick), \
         median (min–max); runtimes with {WORKERS} workers, Go with GOMAXPROCS {WORKERS}. \
         n/a: OS threads past {MAX_THREADS} (this machine's pid_max, 32,768, and \
         max_map_count). Timers: sleeps drawn below 4N µs (at least 100 ms). C10K: one \
         connection in {ACTIVE_ONE_IN} echoes, the server's resident bytes exclude the \
         kernel's socket buffers."
    )];
    about.extend(left_out);
    // A quick run is a smoke test: one run per point keeps it within CI's
    // budget.
    let runs = if quick { 1 } else { RUNS };
    scale_suite("scale: {vs}, cost per unit as N grows", about, runs, rows)
}

/// The scale curves' points at [`BIG_TASKS`] (none under `quick`): one run
/// each.
pub fn big_suite(quick: bool) -> Suite {
    let tasks: &[usize] = if quick { &[] } else { &[BIG_TASKS] };
    let (rows, _) = rows(tasks, &[], None);
    let about = vec![format!(
        "The scale curves at N = {BIG_TASKS}: one run per point (each takes 5-50 s). n/a: \
         goroutines parked (about 2.7 KB each: 27 GB, more than this machine's 24 GiB) and \
         sleeping (one run, sleeps below 10 s, took 86 s), OS threads (pid_max)."
    )];
    scale_suite("scale at 10^7: {vs}", about, 1, rows)
}

/// A suite of scale rows, with the scale columns.
fn scale_suite(title: &str, about: Vec<String>, runs: usize, rows: Vec<Workload>) -> Suite {
    Suite {
        title: title.to_string(),
        about,
        columns: vec![
            Column::new(Gort::NAME, true, "gort's runtime, 2 workers"),
            Column::new(Tokio::NAME, true, "tokio's multi-threaded runtime, 2 workers"),
            Column::new(
                Smol::NAME,
                true,
                "async-executor run by 2 threads under async-io's block_on (the runtime table's setup)",
            ),
            Column::new(GO, true, "benches/go/scale_test.go and seed_test.go, a fresh test process per point"),
            Column::new(
                "OS thread",
                true,
                "a std::thread (2 MiB stack reserved), only in park_rss",
            ),
        ],
        baseline: None,
        runs: Some(runs),
        rows,
    }
}

/// A `ping_pong` or `skynet` run on `kind` with `workers` workers in a
/// fresh child: the mean of one iteration over about 200 ms (50 ms quick).
fn sched_run(kind: &str, workload: &str, workers: usize, p: &Params) -> RunResult {
    let target = if p.quick { "50" } else { "200" };
    let quick = if p.quick { "1" } else { "0" };
    let line = net::run_child(&[
        "scale",
        "sched",
        kind,
        &workers.to_string(),
        workload,
        quick,
        target,
    ])?;
    Ok(Measurement::Time(Duration::from_nanos(
        field(&line, "ns_per_run")? as u64,
    )))
}

/// The oversubscription table: `oversub/<row>@w<workers>` for gort and
/// tokio, on this machine's cores; 5 runs, 1 under `quick`.
pub fn oversub_suite(quick: bool) -> Suite {
    let mut rows = Vec::new();
    for (name, about) in [
        ("ping_pong", "the runtime table's ping_pong"),
        ("skynet", "the runtime table's skynet"),
    ] {
        for w in OVERSUB_WORKERS {
            let on = |kind: &'static str| cell(move |_, p| sched_run(kind, name, w, p));
            rows.push(Workload::timed(
                &format!("oversub/{name}@w{w}"),
                &format!("{about} on a runtime of {w} workers, a fresh process per run (the mean of the iterations that fill 200 ms after one warm-up)"),
                vec![on("gort"), on("tokio")],
            ));
        }
    }
    for w in OVERSUB_WORKERS {
        let on = |kind: &'static str| {
            cell(move |_, p| {
                let p = Params { workers: w, ..*p };
                net::run_echo(kind, &p, None, Transport::Tcp).map(net::per_message)
            })
        };
        rows.push(Workload {
            name: format!("oversub/tcp_echo_throughput@w{w}"),
            description: format!(
                "the runtime table's tcp_echo_throughput with a {w}-worker server; ns per message"
            ),
            unit: Unit::PerOp,
            goal: None,
            cells: vec![on("gort"), on("tokio")],
        });
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    Suite {
        title: "oversub: {vs}, more workers than cores".to_string(),
        about: vec![format!(
            "The same work with 1, 2, 4 and 8 worker threads on this machine's {cores} cores; \
             each run a fresh process. The aim: gort at 8 workers within 1.5x of gort at 2."
        )],
        columns: vec![
            Column::new(
                Gort::NAME,
                true,
                "`gort::runtime::Builder::new().worker_threads(w)`",
            ),
            Column::new(
                Tokio::NAME,
                true,
                "`new_multi_thread().worker_threads(w).enable_all()`",
            ),
        ],
        baseline: None,
        runs: Some(if quick { 1 } else { 5 }),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_fields_and_windows() {
        assert_eq!(label(1_000), "1e3");
        assert_eq!(label(10_000_000), "1e7");
        assert_eq!(label(100), "1e2");
        assert_eq!(label(1), "1");
        assert_eq!(label(3_000), "3000");
        assert_eq!(field("a=1.5 b=2", "b"), Ok(2.0));
        assert_eq!(field("ab=1 b=3", "b"), Ok(3.0));
        assert!(field("a=1", "b").is_err());
        assert!(field("a=-1", "a").is_err());
        assert!(field("a=NaN", "a").is_err());
        assert_eq!(timer_window(1_000), Duration::from_millis(100));
        assert_eq!(timer_window(10_000_000), Duration::from_secs(40));
        // The same sequence as Go's splitmix64.
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn a_pair_costs_one_run_and_a_lone_second_row_runs_its_own() {
        let runs = AtomicUsize::new(0);
        let run = || {
            runs.fetch_add(1, Ordering::Relaxed);
            Ok((1.0, 2.0))
        };
        assert_eq!(pair("test/pair", run), Ok(1.0));
        assert_eq!(second("test/pair", run), Ok(2.0));
        assert_eq!(second("test/pair", run), Ok(2.0));
        assert_eq!(runs.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn timers_wake_late_never_early_on_every_runtime() {
        crate::workload::with_deadline("timers", || {
            for r in [
                timers(&Gort::build(2).unwrap(), 2_000, Duration::from_millis(20)),
                timers(&Tokio::build(2).unwrap(), 2_000, Duration::from_millis(20)),
                timers(&Smol::build(2).unwrap(), 2_000, Duration::from_millis(20)),
            ] {
                let r = r.unwrap();
                assert!(r.cpu_ns_per_timer > 0.0, "{r:?}");
            }
        });
    }

    #[test]
    fn the_suites_have_a_cell_per_column_and_unique_names() {
        for s in [
            suite(false),
            suite(true),
            big_suite(false),
            oversub_suite(false),
        ] {
            for w in &s.rows {
                assert_eq!(w.cells.len(), s.columns.len(), "{}", w.name);
            }
        }
        assert!(big_suite(true).rows.is_empty());
        let big = big_suite(false);
        let park = big
            .rows
            .iter()
            .find(|r| r.name == "scale/park_rss/1e7")
            .unwrap();
        assert!(park.cells[3].is_none() && park.cells[4].is_none());
        let full = suite(false);
        assert!(
            full.rows.iter().any(|r| r.name == "scale/c10k_echo/1e4")
                || full.about.iter().any(|a| a.contains("left out"))
        );
    }

    /// The child processes at small sizes, when the binary is built.
    #[test]
    fn children_run_every_curve_when_the_binary_is_built() {
        let Ok(bin) = net::net_binary() else {
            eprintln!("gort-bench-net not built; skipping");
            return;
        };
        // `cargo test` does not build the binary: one left by an older
        // build (older than this test) may not know the scale commands.
        let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let exe = std::env::current_exe().ok();
        if modified(&bin) < exe.as_deref().and_then(modified) {
            eprintln!("gort-bench-net is older than this test; skipping");
            return;
        }
        let env = Env::build(1).unwrap();
        let p = Params {
            workers: 2,
            quick: true,
        };
        for kind in ["gort", "tokio", "smol"] {
            let line = net::run_child(&["scale", "spawn", kind, "1000"]).unwrap();
            assert!(field(&line, "ns_per_task").unwrap() > 0.0);
            let (cpu, _) = timer_run(&env, kind, 1_000).unwrap();
            assert!(cpu > 0.0);
            let (rss, ns) = c10k_run(&env, &p, kind, 100).unwrap();
            assert!(rss > 0.0 && ns > 0.0, "{kind}: {rss} {ns}");
        }
        for kind in ["gort", "tokio"] {
            let m = sched_run(kind, "ping_pong", 4, &p).unwrap();
            assert!(m.value() > 0.0);
        }
    }
}
