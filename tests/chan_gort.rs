//! `gort::chan` on the gort runtime: the channel stress of
//! `channel/tests/stress.rs` (4 producer tasks, 4 consumer tasks, `TOTAL`
//! distinct values, every kind of channel) on a 2-worker gort runtime, and
//! Go's concurrent prime sieve as a smoke test.
//!
//! Checks: the received multiset equals the sent one exactly (a bitmap over
//! `0..TOTAL`: a value seen twice fails at once, one never seen fails at the
//! end), and every consumer sees each producer's values in that producer's
//! order (FIFO per channel).
//!
//! Scale: `TOTAL` is 10^7 in release builds (`cargo test --release`) and
//! 10^5 in debug builds (`cfg(debug_assertions)`).
//!
//! Each body runs under a hang watchdog (300 s; a lost wake-up leaves tasks
//! waiting forever). That limit is not a speed assertion. The stress tests
//! take turns (a lock), so that a watchdog counts only its own test.

use gort::chan::{self, Receiver, Sender};

#[cfg(not(debug_assertions))]
const TOTAL: u64 = 10_000_000;
#[cfg(debug_assertions)]
const TOTAL: u64 = 100_000;

#[path = "../channel/tests/support/mod.rs"]
mod support;
use support::{values, watchdog, Consumer, Seen, CONSUMERS, PRODUCERS};

fn runtime() -> gort::runtime::Runtime {
    gort::runtime::Builder::new()
        .worker_threads(2)
        .build()
        .expect("cannot build the runtime")
}

fn stress_4x4(name: &str, make: fn() -> (Sender<u64>, Receiver<u64>)) {
    watchdog(name, move || {
        let seen = Seen::new(TOTAL);
        let (tx, rx) = make();
        let rt = runtime();
        let counts = rt.block_on(async {
            let producers: Vec<_> = (0..PRODUCERS)
                .map(|p| {
                    let tx = tx.clone();
                    gort::spawn(async move {
                        for v in values(p, TOTAL) {
                            tx.send(v).await.expect("receivers alive");
                        }
                    })
                })
                .collect();
            let consumers: Vec<_> = (0..CONSUMERS)
                .map(|_| {
                    let rx = rx.clone();
                    let seen = seen.clone();
                    gort::spawn(async move {
                        let mut consumer = Consumer::new(&seen);
                        while let Ok(v) = rx.recv().await {
                            consumer.take(v);
                        }
                        consumer.count
                    })
                })
                .collect();
            drop((tx, rx));
            for p in producers {
                p.await.unwrap();
            }
            let mut counts = Vec::new();
            for c in consumers {
                counts.push(c.await.unwrap());
            }
            counts
        });
        assert_eq!(counts.iter().sum::<u64>(), TOTAL);
        seen.assert_all();
    });
}

#[test]
fn stress_4x4_unbuffered() {
    stress_4x4("stress_4x4_unbuffered", || chan::bounded(0));
}

#[test]
fn stress_4x4_cap1() {
    stress_4x4("stress_4x4_cap1", || chan::bounded(1));
}

#[test]
fn stress_4x4_cap128() {
    stress_4x4("stress_4x4_cap128", || chan::bounded(128));
}

#[test]
fn stress_4x4_unbounded() {
    stress_4x4("stress_4x4_unbounded", chan::unbounded);
}

// Go's concurrent prime sieve (the classic example from the Go tour and
// Go's test/chan/sieve1.go; the idea only): a generator task feeds 2, 3,
// 4, ... into an unbuffered channel; each prime found adds a filter task
// between the last channel and a new one. Here the chain is torn down by
// closing: dropping the last receiver makes the last filter's send fail,
// it returns and drops its receiver, and so on back to the generator.
#[test]
fn prime_sieve() {
    const PRIMES: usize = 100;
    watchdog("prime_sieve", || {
        let rt = runtime();
        let (primes, tasks) = rt.block_on(async {
            let mut tasks = Vec::new();
            let (tx, mut rx) = chan::bounded::<u64>(0);
            tasks.push(gort::spawn(async move {
                let mut i = 2;
                while tx.send(i).await.is_ok() {
                    i += 1;
                }
            }));
            let mut primes = Vec::new();
            for _ in 0..PRIMES {
                let prime = rx.recv().await.expect("the generator never stops");
                primes.push(prime);
                let (next_tx, next_rx) = chan::bounded::<u64>(0);
                let input = std::mem::replace(&mut rx, next_rx);
                tasks.push(gort::spawn(async move {
                    while let Ok(i) = input.recv().await {
                        if i % prime != 0 && next_tx.send(i).await.is_err() {
                            return;
                        }
                    }
                }));
            }
            drop(rx);
            // Every task ends once the chain is torn down.
            let n = tasks.len();
            for t in tasks {
                t.await.unwrap();
            }
            (primes, n)
        });
        assert_eq!(tasks, PRIMES + 1);
        let expected: Vec<u64> = (2u64..)
            .filter(|n| (2..*n).take_while(|d| d * d <= *n).all(|d| n % d != 0))
            .take(PRIMES)
            .collect();
        assert_eq!(expected[PRIMES - 1], 541);
        assert_eq!(primes, expected);
    });
}
