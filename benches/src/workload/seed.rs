//! The seed's table, per unit of concurrency: a gort task, a tokio task, a
//! smol task, a Go goroutine (`benches/go/seed_test.go`, when `go` is installed) and an
//! OS thread: resident memory per parked unit, create+teardown time, and
//! switch time.
//!
//! - `seed/rss_per_parked_unit`: a child process (`gort-bench-net park`)
//!   parks 1,000,000 tasks (10,000 threads) on a gort channel receive each
//!   and reports the resident memory they added, per unit. Each run is a
//!   fresh process, so no other workload's heap is counted.
//! - `seed/create_teardown`: 100,000 tasks (10,000 threads) created from
//!   one task (the bench thread for threads), each returning at once; all
//!   joined; ns per unit.
//! - `seed/switch`: two units ping-pong a counter over two unbuffered gort
//!   channels, 100,000 round trips; ns per switch (two per round trip).

use std::time::Instant;

use crate::contender::{join, Contender, Params};
use crate::gobench::GO;
use crate::results::Column;
use crate::stats::{Measurement, Unit};
use crate::suite::{cell, Env, Suite, Workload};

/// Parked tasks in the memory row (full, quick).
pub const PARKED_TASKS: (usize, usize) = (1_000_000, 10_000);
/// Parked threads in the memory row (full, quick).
pub const PARKED_THREADS: (usize, usize) = (10_000, 1_000);
/// Tasks created in the create+teardown row (full, quick).
pub const CREATED_TASKS: (usize, usize) = (100_000, 10_000);
/// Threads created in the create+teardown row (full, quick).
pub const CREATED_THREADS: (usize, usize) = (10_000, 1_000);
/// Round trips of the switch row (full, quick).
pub const ROUND_TRIPS: (usize, usize) = (100_000, 10_000);

fn size(p: &Params, (full, quick): (usize, usize)) -> usize {
    p.size(full, quick)
}

/// Parses `per_unit=<bytes>` out of the child's line.
pub fn parse_park_line(line: &str) -> Result<f64, String> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix("per_unit="))
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0)
        .ok_or_else(|| format!("bad park output {line:?}"))
}

/// One memory run in a fresh child process: `n` units of `kind` (`gort`,
/// `tokio`, `smol` or `threads`) parked; resident bytes per unit.
pub fn rss_per_parked(kind: &str, n: usize) -> Result<Measurement, String> {
    let out = super::net::run_child(&["park", kind, &n.to_string()])?;
    parse_park_line(out.trim()).map(Measurement::Bytes)
}

/// Creates `n` tasks from one task, each returning its index; joins all
/// and checks the sum.
pub fn create_tasks<C: Contender>(rt: &C, n: usize) -> Result<Measurement, String> {
    let start = Instant::now();
    let sum = rt.block_on(join::<C, _>(rt.spawn_remote(async move {
        let handles: Vec<_> = (0..n as u64).map(|i| C::spawn(async move { i })).collect();
        let mut sum = 0;
        for h in handles {
            sum += join::<C, _>(h).await?;
        }
        Ok::<u64, String>(sum)
    })))??;
    let elapsed = start.elapsed();
    let n64 = n as u64;
    if sum != n64 * (n64 - 1) / 2 {
        return Err(format!(
            "seed/create_teardown: sum {sum}, expected {}",
            n64 * (n64 - 1) / 2
        ));
    }
    Ok(Measurement::PerOp { elapsed, ops: n64 })
}

fn create_threads(n: usize) -> Result<Measurement, String> {
    let start = Instant::now();
    let handles: Vec<_> = (0..n as u64)
        .map(|i| std::thread::spawn(move || i))
        .collect();
    let mut sum = 0;
    for h in handles {
        sum += h.join().map_err(|_| "a thread panicked".to_string())?;
    }
    let elapsed = start.elapsed();
    let n64 = n as u64;
    if sum != n64 * (n64 - 1) / 2 {
        return Err(format!("seed/create_teardown (threads): sum {sum}"));
    }
    Ok(Measurement::PerOp { elapsed, ops: n64 })
}

/// Two tasks ping-pong over two unbuffered gort channels.
fn switch_tasks<C: Contender>(rt: &C, trips: usize) -> Result<Measurement, String> {
    let (ping_tx, ping_rx) = gort::chan::bounded::<u64>(0);
    let (pong_tx, pong_rx) = gort::chan::bounded::<u64>(0);
    let start = Instant::now();
    let echo = rt.spawn_remote(async move {
        while let Ok(v) = ping_rx.recv().await {
            if pong_tx.send(v + 1).await.is_err() {
                break;
            }
        }
    });
    let last = rt
        .block_on(join::<C, _>(rt.spawn_remote(async move {
            let mut v = 0;
            for _ in 0..trips {
                ping_tx.send(v).await.map_err(|_| "echo task gone")?;
                v = pong_rx.recv().await.map_err(|_| "echo task gone")?;
            }
            Ok::<u64, &'static str>(v)
        })))?
        .map_err(|e| format!("seed/switch: {e}"))?;
    rt.block_on(join::<C, _>(echo))?;
    let elapsed = start.elapsed();
    if last != trips as u64 {
        return Err(format!("seed/switch: counter {last}, expected {trips}"));
    }
    Ok(Measurement::PerOp {
        elapsed,
        ops: 2 * trips as u64,
    })
}

/// Two threads ping-pong over two unbuffered gort channels (blocking API).
fn switch_threads(trips: usize) -> Result<Measurement, String> {
    let (ping_tx, ping_rx) = gort::chan::bounded::<u64>(0);
    let (pong_tx, pong_rx) = gort::chan::bounded::<u64>(0);
    let start = Instant::now();
    let echo = std::thread::spawn(move || {
        while let Ok(v) = ping_rx.recv_blocking() {
            if pong_tx.send_blocking(v + 1).is_err() {
                break;
            }
        }
    });
    let mut v = 0;
    for _ in 0..trips {
        ping_tx
            .send_blocking(v)
            .map_err(|_| "seed/switch: echo thread gone")?;
        v = pong_rx
            .recv_blocking()
            .map_err(|_| "seed/switch: echo thread gone")?;
    }
    drop(ping_tx);
    echo.join()
        .map_err(|_| "echo thread panicked".to_string())?;
    let elapsed = start.elapsed();
    if v != trips as u64 {
        return Err(format!("seed/switch (threads): counter {v}"));
    }
    Ok(Measurement::PerOp {
        elapsed,
        ops: 2 * trips as u64,
    })
}

/// Go: `n` parked goroutines in a fresh test process; bytes per goroutine.
pub fn go_rss(env: &Env, n: usize) -> Result<Measurement, String> {
    let out = env
        .go("seed/rss_per_parked_unit")?
        .run_test("SeedParkRSS", &[("GORT_PARK_N", n.to_string())])?;
    let line = out
        .lines()
        .find(|l| l.contains("per_unit="))
        .ok_or_else(|| format!("Go TestSeedParkRSS printed no per_unit line:\n{out}"))?;
    parse_park_line(line).map(Measurement::Bytes)
}

/// The suite `seed/*`.
pub fn suite() -> Suite {
    let rows = vec![
        Workload {
            name: "seed/rss_per_parked_unit".to_string(),
            description: "resident bytes per parked unit: 1,000,000 tasks or 10,000 threads parked on a gort channel receive each, in a fresh child process".to_string(),
            unit: Unit::Bytes,
            goal: None,
            cells: vec![
                cell(|_, p| rss_per_parked("gort", size(p, PARKED_TASKS))),
                cell(|_, p| rss_per_parked("tokio", size(p, PARKED_TASKS))),
                cell(|_, p| rss_per_parked("smol", size(p, PARKED_TASKS))),
                cell(|env, p| go_rss(env, size(p, PARKED_TASKS))),
                cell(|_, p| rss_per_parked("threads", size(p, PARKED_THREADS))),
            ],
        },
        Workload {
            name: "seed/create_teardown".to_string(),
            description: "ns per unit to create and join 100,000 tasks (10,000 threads) that return at once".to_string(),
            unit: Unit::PerOp,
            goal: None,
            cells: vec![
                cell(|env, p| create_tasks(&env.gort, size(p, CREATED_TASKS))),
                cell(|env, p| create_tasks(&env.tokio, size(p, CREATED_TASKS))),
                cell(|env, p| create_tasks(&env.smol, size(p, CREATED_TASKS))),
                cell(|env, p| {
                    let n = size(p, CREATED_TASKS);
                    env.go("seed/create_teardown")?.run("SeedCreate", n as u64, p.workers)
                }),
                cell(|_, p| create_threads(size(p, CREATED_THREADS))),
            ],
        },
        Workload {
            name: "seed/switch".to_string(),
            description: "ns per switch: two units ping-pong a counter over two unbuffered gort channels, 100,000 round trips".to_string(),
            unit: Unit::PerOp,
            goal: None,
            cells: vec![
                cell(|env, p| switch_tasks(&env.gort, size(p, ROUND_TRIPS))),
                cell(|env, p| switch_tasks(&env.tokio, size(p, ROUND_TRIPS))),
                cell(|env, p| switch_tasks(&env.smol, size(p, ROUND_TRIPS))),
                cell(|env, p| {
                    // b.N switches: b.N / 2 round trips.
                    let switches = 2 * size(p, ROUND_TRIPS) as u64;
                    env.go("seed/switch")?.run("SeedSwitch", switches, p.workers)
                }),
                cell(|_, p| switch_threads(size(p, ROUND_TRIPS))),
            ],
        },
    ];
    Suite {
        title:
            "seed: per unit of concurrency (gort task, tokio task, smol task, goroutine, thread)"
                .to_string(),
        about: vec![
            "The seed's claims measured: a goroutine-like task costs bytes where a thread \
             costs kilobytes, and creating, tearing down and switching tasks is far cheaper. \
             Memory: resident bytes added per parked unit, each run a fresh child process; \
             time: ns per unit (create+teardown) or per switch. Go: benches/go/seed_test.go \
             with GOMAXPROCS=2 (its memory row a fresh test process per run)."
                .to_string(),
        ],
        columns: vec![
            Column::new(
                "gort task",
                true,
                "a gort task on gort's runtime (2 workers)",
            ),
            Column::new(
                "tokio task",
                true,
                "a tokio task on tokio's multi-threaded runtime (2 workers)",
            ),
            Column::new(
                "smol task",
                true,
                "a smol task on async-executor, run by 2 threads under async-io's block_on",
            ),
            Column::new(
                GO,
                true,
                "a goroutine (Go 1.19+, benches/go/seed_test.go; 2 KiB initial stack)",
            ),
            Column::new(
                "OS thread",
                true,
                "a std::thread with the default stack (2 MiB reserved, resident only as touched)",
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

    #[test]
    fn park_lines_parse_and_bad_ones_are_errors() {
        assert_eq!(
            parse_park_line("rss_before=1 rss_after=289 per_unit=288.0"),
            Ok(288.0)
        );
        assert!(parse_park_line("rss_before=1 rss_after=1 per_unit=0.0").is_err());
        assert!(parse_park_line("per_unit=x").is_err());
        assert!(parse_park_line("").is_err());
    }

    #[test]
    fn every_cell_runs_and_checks_its_result() {
        let gort = crate::contender::Gort::build(2).unwrap();
        let tokio = crate::contender::Tokio::build(2).unwrap();
        let smol = crate::contender::Smol::build(2).unwrap();
        for m in [
            create_tasks(&gort, 1000),
            create_tasks(&tokio, 1000),
            create_tasks(&smol, 1000),
            create_threads(100),
            switch_tasks(&gort, 1000),
            switch_tasks(&tokio, 1000),
            switch_tasks(&smol, 1000),
            switch_threads(100),
        ] {
            let m = m.unwrap();
            assert!(matches!(m, Measurement::PerOp { ops, .. } if ops >= 100));
        }
        if super::super::net::net_binary().is_ok() {
            for kind in ["gort", "tokio", "smol", "threads"] {
                let Measurement::Bytes(b) = rss_per_parked(kind, 1000).unwrap() else {
                    panic!("bytes")
                };
                assert!(b > 0.0);
            }
        }
    }
}
