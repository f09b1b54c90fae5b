//! Go's concurrent prime sieve: a chain of goroutines joined by unbuffered
//! channels. Each filter goroutine receives numbers, drops the multiples of
//! its prime and passes the rest on; the head of the chain yields primes.
//!
//! ```text
//! cargo run --release --example prime_sieve          # first 1,000 primes
//! cargo run --release --example prime_sieve -- 100   # first 100
//! ```
//!
//! After the Go program in the Go tour / `doc/play/sieve.go`.

use gort::chan::{bounded, Receiver, Sender};

/// Sends 2, 3, 4, ... until the channel closes.
async fn generate(tx: Sender<u64>) {
    let mut i = 2;
    while tx.send(i).await.is_ok() {
        i += 1;
    }
}

/// Passes on the values not divisible by `prime`.
async fn filter(rx: Receiver<u64>, tx: Sender<u64>, prime: u64) {
    while let Ok(i) = rx.recv().await {
        if i % prime != 0 && tx.send(i).await.is_err() {
            return;
        }
    }
}

#[gort::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("the argument is how many primes to print"))
        .unwrap_or(1000);
    let start = std::time::Instant::now();

    let (tx, mut rx) = bounded::<u64>(0);
    gort::spawn(generate(tx));
    let mut primes = Vec::with_capacity(n);
    for _ in 0..n {
        let prime = rx.recv().await.expect("the chain never closes");
        primes.push(prime);
        let (tx_next, rx_next) = bounded(0);
        gort::spawn(filter(rx, tx_next, prime));
        rx = rx_next;
    }
    // Dropping the last receiver closes the last channel; each filter then
    // sees its send fail and returns, closing the channel before it.
    drop(rx);

    let elapsed = start.elapsed();
    assert!(primes.windows(2).all(|w| w[0] < w[1]));
    assert!(primes
        .iter()
        .all(|&p| (2..p).take_while(|d| d * d <= p).all(|d| p % d != 0)));
    println!("{:?}", &primes[primes.len().saturating_sub(10)..]);
    println!("the first {n} primes through a chain of {n} goroutines in {elapsed:?}");
}
