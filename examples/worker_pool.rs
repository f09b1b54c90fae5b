//! A worker pool, Go style: jobs go out on one channel to a fixed number of
//! worker goroutines, results come back on another, and a `WaitGroup`
//! tells when the last worker is done, so that the results channel can be
//! closed (Go's `go func() { wg.Wait(); close(results) }()`).
//!
//! ```text
//! cargo run --release --example worker_pool
//! ```

use gort::chan::{bounded, unbounded};
use gort::sync::WaitGroup;

const WORKERS: usize = 8;
const JOBS: u64 = 10_000;

/// Stand-in for real work: the sum of the digits of `n`, 1,000 times over.
fn work(n: u64) -> u64 {
    (0..1000).fold(0, |acc, _| {
        acc + n
            .to_string()
            .bytes()
            .map(|b| u64::from(b - b'0'))
            .sum::<u64>()
    }) / 1000
}

#[gort::main]
async fn main() {
    let start = std::time::Instant::now();
    let (jobs_tx, jobs_rx) = bounded::<u64>(64);
    let (results_tx, results_rx) = unbounded::<(u64, u64)>();

    // The workers share the receiving end (MPMC): each job goes to one.
    let wg = WaitGroup::new();
    for _ in 0..WORKERS {
        wg.add(1);
        let (jobs, results, wg) = (jobs_rx.clone(), results_tx.clone(), wg.clone());
        gort::spawn(async move {
            while let Ok(n) = jobs.recv().await {
                results
                    .send((n, work(n)))
                    .await
                    .expect("results stay open until every worker is done");
            }
            wg.done();
        });
    }
    drop(jobs_rx);

    // Close the results once every worker has finished.
    gort::spawn(async move {
        wg.wait().await;
        results_tx.close();
    });

    // Feed the jobs, then close: workers drain the queue and stop.
    gort::spawn(async move {
        for n in 0..JOBS {
            jobs_tx.send(n).await.expect("workers are running");
        }
    });

    // All results arrive, then the close.
    let mut count = 0;
    let mut total = 0;
    while let Ok((n, digits)) = results_rx.recv().await {
        assert_eq!(digits, work(n));
        count += 1;
        total += digits;
    }
    assert_eq!(count, JOBS);
    println!(
        "{count} jobs on {WORKERS} workers, digit sum {total}, in {:?}",
        start.elapsed()
    );
}
