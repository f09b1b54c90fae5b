//! Message passing between tasks on a 2-worker runtime: 100,000 ping-pong
//! round trips between two tasks, repeated 5 times, over `futures` mpsc
//! channels and over fresh oneshot pairs; and many pairs at once, so that
//! workers steal from each other and park/unpark constantly.
//!
//! Each body runs under a 120 s watchdog. That limit detects hangs (a lost
//! wakeup leaves both tasks waiting forever); it is not a speed assertion.

use std::collections::HashSet;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use futures::channel::{mpsc as fmpsc, oneshot};
use futures::{SinkExt, StreamExt};
use gort::runtime::Runtime;

mod common;
use common::{runtime, watchdog};

const ROUND_TRIPS: u64 = 100_000;
const REPEATS: usize = 5;

type Threads = Arc<Mutex<HashSet<String>>>;

fn note_thread(threads: &Threads) {
    let name = std::thread::current().name().unwrap_or("?").to_string();
    threads.lock().unwrap().insert(name);
}

/// One run: `ping` sends n, `pong` answers n + 1, `ROUND_TRIPS` times.
/// Both are spawned from the test thread (through the injector), so either
/// worker may pick each one up; stealing moves them between workers.
fn mpsc_ping_pong(rt: &Runtime, threads: &Threads) -> u64 {
    let (mut to_pong, mut pong_rx) = fmpsc::channel::<u64>(0);
    let (mut to_ping, mut ping_rx) = fmpsc::channel::<u64>(0);
    let t = threads.clone();
    let pong = rt.spawn(async move {
        let mut answered = 0u64;
        while let Some(n) = pong_rx.next().await {
            if answered.is_multiple_of(1024) {
                note_thread(&t);
            }
            to_ping.send(n + 1).await.expect("ping hung up");
            answered += 1;
        }
        answered
    });
    let t = threads.clone();
    let ping = rt.spawn(async move {
        let mut n = 0u64;
        for i in 0..ROUND_TRIPS {
            if i % 1024 == 0 {
                note_thread(&t);
            }
            to_pong.send(n).await.expect("pong hung up");
            let reply = ping_rx.next().await.expect("pong hung up");
            assert_eq!(reply, n + 1);
            n = reply + 1;
        }
        drop(to_pong);
        n
    });
    let n = rt.block_on(ping).unwrap();
    assert_eq!(rt.block_on(pong).unwrap(), ROUND_TRIPS);
    n
}

#[test]
fn ping_pong_100k_round_trips_mpsc_repeated() {
    watchdog("pingpong_mpsc", || {
        let rt = runtime(2, "pingpong");
        let threads: Threads = Default::default();
        for run in 0..REPEATS {
            let start = Instant::now();
            let n = mpsc_ping_pong(&rt, &threads);
            assert_eq!(n, 2 * ROUND_TRIPS, "run {run}");
            eprintln!(
                "mpsc ping-pong run {run}: {ROUND_TRIPS} round trips in {:?}",
                start.elapsed()
            );
        }
        eprintln!("ran on {:?}", threads.lock().unwrap());
    });
}

/// Each round trip on a fresh pair of oneshots: the pong side gets the
/// reply sender along with the value.
#[test]
fn ping_pong_100k_round_trips_oneshot_repeated() {
    watchdog("pingpong_oneshot", || {
        let rt = runtime(2, "pingpong");
        for run in 0..REPEATS {
            let (mut requests, mut incoming) = fmpsc::unbounded::<(u64, oneshot::Sender<u64>)>();
            let pong = rt.spawn(async move {
                let mut answered = 0u64;
                while let Some((n, reply)) = incoming.next().await {
                    reply.send(n * 2).unwrap();
                    answered += 1;
                }
                answered
            });
            let ping = rt.spawn(async move {
                let mut sum = 0u64;
                for i in 0..ROUND_TRIPS {
                    let (tx, rx) = oneshot::channel();
                    requests.send((i, tx)).await.unwrap();
                    sum += rx.await.unwrap();
                }
                sum
            });
            assert_eq!(
                rt.block_on(ping).unwrap(),
                ROUND_TRIPS * (ROUND_TRIPS - 1),
                "run {run}"
            );
            assert_eq!(rt.block_on(pong).unwrap(), ROUND_TRIPS, "run {run}");
        }
    });
}

/// The two sides start on different workers: the first blocks its worker
/// thread until the second is running, which the other worker must pick
/// up. From there the exchange moves wherever the scheduler puts it.
#[test]
fn ping_pong_started_on_different_workers() {
    watchdog("pingpong_split", || {
        let rt = runtime(2, "pingpong");
        for run in 0..REPEATS {
            let (first_tx, first_rx) = mpsc::channel::<String>();
            let (second_tx, second_rx) = mpsc::channel::<String>();
            let (mut to_pong, mut pong_rx) = fmpsc::channel::<u64>(0);
            let (mut to_ping, mut ping_rx) = fmpsc::channel::<u64>(0);
            let ping = rt.spawn(async move {
                let me = std::thread::current().name().unwrap().to_string();
                first_tx.send(me.clone()).unwrap();
                // Blocks this worker until pong runs, necessarily elsewhere.
                let other = second_rx.recv().unwrap();
                assert_ne!(me, other, "two tasks ran at once on one worker");
                let mut n = 0u64;
                for _ in 0..ROUND_TRIPS {
                    to_pong.send(n).await.unwrap();
                    n = ping_rx.next().await.unwrap() + 1;
                }
                n
            });
            first_rx.recv().unwrap();
            let pong = rt.spawn(async move {
                second_tx
                    .send(std::thread::current().name().unwrap().to_string())
                    .unwrap();
                let mut answered = 0u64;
                while let Some(n) = pong_rx.next().await {
                    to_ping.send(n + 1).await.unwrap();
                    answered += 1;
                }
                answered
            });
            assert_eq!(rt.block_on(ping).unwrap(), 2 * ROUND_TRIPS, "run {run}");
            assert_eq!(rt.block_on(pong).unwrap(), ROUND_TRIPS, "run {run}");
        }
    });
}

/// 200 pairs at once, 1,000 round trips each: plenty of runnable work,
/// stealing and parking.
#[test]
fn many_ping_pong_pairs_at_once() {
    watchdog("pingpong_pairs", || {
        const PAIRS: u64 = 200;
        const TRIPS: u64 = 1_000;
        let rt = runtime(2, "pingpong");
        for _ in 0..REPEATS {
            let mut pings = Vec::new();
            for p in 0..PAIRS {
                let (mut to_pong, mut pong_rx) = fmpsc::channel::<u64>(0);
                let (mut to_ping, mut ping_rx) = fmpsc::channel::<u64>(0);
                rt.spawn(async move {
                    while let Some(n) = pong_rx.next().await {
                        if to_ping.send(n + 1).await.is_err() {
                            break;
                        }
                    }
                });
                pings.push(rt.spawn(async move {
                    let mut n = p;
                    for _ in 0..TRIPS {
                        to_pong.send(n).await.unwrap();
                        n = ping_rx.next().await.unwrap();
                    }
                    n - p
                }));
            }
            let total = rt.block_on(async move {
                let mut total = 0;
                for h in pings {
                    total += h.await.unwrap();
                }
                total
            });
            assert_eq!(total, PAIRS * TRIPS);
        }
    });
}
