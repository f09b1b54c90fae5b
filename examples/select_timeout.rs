//! Go's timeout patterns with `gort::select!` and `gort::time`:
//!
//! - a request that must answer within a deadline (`select` on the reply
//!   and `time.After`);
//! - a worker loop that does its work, reports on a ticker, and stops on a
//!   quit channel or an overall deadline, whichever comes first;
//! - a non-blocking send (`select` with `default`).
//!
//! ```text
//! cargo run --release --example select_timeout
//! ```

use std::time::{Duration, Instant};

use gort::chan::{bounded, Receiver, Sender};
use gort::time::{interval, sleep};

/// Answers each request after `delay`.
async fn slow_server(requests: Receiver<(u64, Sender<u64>)>, delay: Duration) {
    while let Ok((n, reply)) = requests.recv().await {
        sleep(delay).await;
        // The client may have given up: its receiver is gone then.
        let _ = reply.send(n * n).await;
    }
}

/// Sends one request and waits at most `patience` for the answer.
async fn ask(server: &Sender<(u64, Sender<u64>)>, n: u64, patience: Duration) -> Option<u64> {
    let (reply_tx, reply_rx) = bounded(1);
    server.send((n, reply_tx)).await.ok()?;
    gort::select! {
        v = reply_rx.recv() => v.ok(),
        _ = sleep(patience) => None,
    }
}

#[gort::main]
async fn main() {
    // 1. Deadlines on requests.
    let (fast_tx, fast_rx) = bounded(0);
    let (slow_tx, slow_rx) = bounded(0);
    gort::spawn(slow_server(fast_rx, Duration::from_millis(5)));
    gort::spawn(slow_server(slow_rx, Duration::from_millis(200)));
    let fast = ask(&fast_tx, 7, Duration::from_millis(100)).await;
    let slow = ask(&slow_tx, 7, Duration::from_millis(100)).await;
    println!("fast server: {fast:?}, slow server: {slow:?}");
    assert_eq!(fast, Some(49));
    assert_eq!(slow, None, "the slow server answered within 100 ms");

    // 2. A worker with a heartbeat, a quit channel and a deadline.
    let (work_tx, work_rx) = bounded::<u64>(16);
    let (quit_tx, quit_rx) = bounded::<()>(0);
    let worker = gort::spawn(async move {
        let mut ticker = interval(Duration::from_millis(20));
        let deadline = sleep(Duration::from_secs(5));
        let mut deadline = std::pin::pin!(deadline);
        let (mut done, mut beats) = (0u64, 0u32);
        loop {
            gort::select! {
                job = work_rx.recv() => match job {
                    Ok(n) => done += n,
                    Err(_) => return (done, beats, "input closed"),
                },
                _ = ticker.tick() => beats += 1,
                _ = quit_rx.recv() => return (done, beats, "quit"),
                _ = deadline.as_mut() => return (done, beats, "deadline"),
            }
        }
    });
    let start = Instant::now();
    for n in 1..=100 {
        work_tx.send(n).await.unwrap();
        if n % 25 == 0 {
            sleep(Duration::from_millis(30)).await;
        }
    }
    sleep(Duration::from_millis(50)).await;
    quit_tx.send(()).await.unwrap();
    let (done, beats, why) = worker.await.unwrap();
    println!(
        "worker: sum {done}, {beats} heartbeats in {:?}, stopped by {why}",
        start.elapsed()
    );
    assert_eq!(done, 5050);
    assert_eq!(why, "quit");

    // 3. A non-blocking send: drop the event if nobody is listening.
    let (events_tx, _events_rx) = bounded::<&str>(0);
    let delivered = gort::select! {
        r = events_tx.send("event") => r.is_ok(),
        default => false,
    };
    println!("event delivered: {delivered}");
    assert!(!delivered);
}
