//! An execution trace of Go's prime sieve, for Perfetto.
//!
//! ```text
//! cargo run --release --example trace_sieve                 # writes sieve-trace.json
//! cargo run --release --example trace_sieve -- out.json 200 # a path, and how many primes
//! ```
//!
//! Open the file in <https://ui.perfetto.dev> (or chrome://tracing). What
//! it shows: one track per worker (`sieve-worker-0`, `sieve-worker-1`),
//! plus one for the main thread and any blocking thread. Each poll of a
//! task is a slice named `task N` (N its id, as in the goroutine dump), so
//! the sieve's filters show up as a staircase of short slices, each
//! filter's poll handing a number to the next. Arrows (flows named
//! `wake`) go from the place a task was woken (a send on the channel it
//! waits on, on the sender's poll slice) to the poll that wake caused;
//! most stay on one track, because a woken task runs next on the waker's
//! worker (the LIFO slot), and the ones that cross tracks are steals.
//! `park` slices are the gaps where a worker slept, `netpoll` the reactor
//! turns an idle worker took. The same trace for a whole program, without
//! touching its code: `GORT_TRACE=trace.json cargo run ...`.

use std::fs::File;
use std::io::BufWriter;

use gort::chan::{bounded, Receiver, Sender};

async fn generate(tx: Sender<u64>) {
    let mut i = 2;
    while tx.send(i).await.is_ok() {
        i += 1;
    }
}

async fn filter(rx: Receiver<u64>, tx: Sender<u64>, prime: u64) {
    while let Ok(i) = rx.recv().await {
        if i % prime != 0 && tx.send(i).await.is_err() {
            return;
        }
    }
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "sieve-trace.json".into());
    let n: usize = args
        .next()
        .map(|s| s.parse().expect("the second argument is how many primes"))
        .unwrap_or(100);
    let rt = gort::runtime::Builder::new()
        .worker_threads(2)
        .thread_name("sieve")
        .build()?;
    gort::trace::start(BufWriter::new(File::create(&path)?))?;
    let primes = rt.block_on(async {
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
        primes
    });
    gort::trace::stop()?;
    println!(
        "{} primes (the last {}); trace written to {path}",
        primes.len(),
        primes.last().unwrap()
    );
    Ok(())
}
