//! A worker pool, Go style: jobs go out on one channel to a fixed number of
//! worker goroutines, results come back on another.
//!
//! ```text
//! cargo run --release --example worker_pool
//! ```

use gort::chan::{bounded, unbounded};

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
    for _ in 0..WORKERS {
        let jobs = jobs_rx.clone();
        let results = results_tx.clone();
        gort::spawn(async move {
            while let Ok(n) = jobs.recv().await {
                results
                    .send((n, work(n)))
                    .await
                    .expect("the collector outlives the workers");
            }
        });
    }
    drop((jobs_rx, results_tx));

    // Feed the jobs, then close: workers drain the queue and stop.
    gort::spawn(async move {
        for n in 0..JOBS {
            jobs_tx.send(n).await.expect("workers are running");
        }
    });

    // All results arrive; the channel closes when the last worker is done.
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
