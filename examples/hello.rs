//! Hello, goroutines: spawn a million of them, join them all, check the sum.
//!
//! ```text
//! cargo run --release --example hello
//! GORT_MAXPROCS=2 cargo run --release --example hello
//! ```
//!
//! Like Go's `go f()`, `gort::spawn` starts a goroutine; awaiting its
//! `JoinHandle` gives back what it returned.

use std::time::Instant;

const N: u64 = 1_000_000;

#[gort::main]
async fn main() {
    let start = Instant::now();

    let handles: Vec<_> = (0..N).map(|i| gort::spawn(async move { i })).collect();
    let mut sum = 0u64;
    for handle in handles {
        sum += handle.await.expect("a goroutine failed");
    }

    let elapsed = start.elapsed();
    assert_eq!(sum, N * (N - 1) / 2);
    println!("spawned and joined {N} goroutines: sum = {sum}, took {elapsed:?}");
}
