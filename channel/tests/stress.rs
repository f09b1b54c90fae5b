//! Stress: 4 producers and 4 consumers move `TOTAL` distinct `u64`s through
//! one channel of each kind (unbuffered, `bounded(1)`, `bounded(2)`, `bounded(128)`,
//! `unbounded()`), on a tokio multi-thread runtime (2 workers), on plain
//! threads with the blocking API, and mixed (async tasks on tokio, blocking
//! threads, `futures::executor::block_on` threads, timeout-and-retry
//! threads, a `Stream` consumer, all on the same channel). A last variant
//! cancels send and receive futures mid-flight and retries.
//!
//! Checks: the received multiset equals the sent one, exactly (a bitmap of
//! the values `0..TOTAL`: a value seen twice fails at once, a value never
//! seen fails at the end); and every consumer sees each producer's values
//! in the order that producer sent them (FIFO per channel).
//!
//! Scale: `TOTAL` is 10^7 in release builds (`cargo test --release`) and
//! 10^5 in debug builds (`cfg(debug_assertions)`), where 10^7 would take
//! too long.
//!
//! Each test body runs under a hang watchdog (300 s): a lost wake-up leaves
//! a task waiting forever, and the watchdog turns that into a failure
//! ("hang"). That limit is not a speed assertion; nothing here asserts
//! timing. The tests take turns (a lock) so that one test's watchdog does
//! not count another test's time on the shared cores.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use futures::StreamExt;
use gort_channel::{
    bounded, unbounded, Receiver, RecvError, RecvTimeoutError, SendError, SendTimeoutError, Sender,
};

/// Values sent in one test, in total over all producers.
#[cfg(not(debug_assertions))]
const TOTAL: u64 = 10_000_000;
/// Values sent in one test (debug build: 10^5; release: 10^7).
#[cfg(debug_assertions)]
const TOTAL: u64 = 100_000;

/// The cancellation variant retries a lot more per value: fewer values.
#[cfg(not(debug_assertions))]
const CANCEL_TOTAL: u64 = 1_000_000;
#[cfg(debug_assertions)]
const CANCEL_TOTAL: u64 = 100_000;

mod support;
use support::{values, watchdog, Consumer, Seen, CONSUMERS, PRODUCERS};

// ---------------------------------------------------------------------------
// Harness.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Kind {
    Unbuffered,
    Cap1,
    Cap2,
    Cap128,
    Unbounded,
}

impl Kind {
    fn make(self) -> (Sender<u64>, Receiver<u64>) {
        match self {
            Kind::Unbuffered => bounded(0),
            Kind::Cap1 => bounded(1),
            Kind::Cap2 => bounded(2),
            Kind::Cap128 => bounded(128),
            Kind::Unbounded => unbounded(),
        }
    }
}

macro_rules! per_kind {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn unbuffered() {
                super::run(stringify!($name), super::Kind::Unbuffered, super::$name)
            }
            #[test]
            fn cap1() {
                super::run(stringify!($name), super::Kind::Cap1, super::$name)
            }
            #[test]
            fn cap2() {
                super::run(stringify!($name), super::Kind::Cap2, super::$name)
            }
            #[test]
            fn cap128() {
                super::run(stringify!($name), super::Kind::Cap128, super::$name)
            }
            #[test]
            fn unbounded() {
                super::run(stringify!($name), super::Kind::Unbounded, super::$name)
            }
        }
    )*};
}

/// Runs `body(kind)` under the hang watchdog.
fn run(name: &str, kind: Kind, body: fn(Kind)) {
    watchdog(&format!("{name}-{kind:?}"), move || body(kind));
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------
// The variants.
// ---------------------------------------------------------------------------

// Async tasks on a 2-worker tokio runtime.
per_kind!(tokio_4x4);
fn tokio_4x4(kind: Kind) {
    let seen = Seen::new(TOTAL);
    let (tx, rx) = kind.make();
    let rt = tokio_rt();
    let counts = rt.block_on(async {
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let tx = tx.clone();
                tokio::spawn(async move {
                    for v in values(p, TOTAL) {
                        tx.send(v).await.expect("receivers alive");
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let rx = rx.clone();
                let mut c = Consumer::new(&seen);
                tokio::spawn(async move {
                    while let Ok(v) = rx.recv().await {
                        c.take(v);
                    }
                    c.count
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
}

// Plain threads, blocking API.
per_kind!(threads_blocking_4x4);
fn threads_blocking_4x4(kind: Kind) {
    let seen = Seen::new(TOTAL);
    let (tx, rx) = kind.make();
    let counts: Vec<u64> = thread::scope(|s| {
        for p in 0..PRODUCERS {
            let tx = tx.clone();
            s.spawn(move || {
                for v in values(p, TOTAL) {
                    tx.send_blocking(v).expect("receivers alive");
                }
            });
        }
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let rx = rx.clone();
                let mut c = Consumer::new(&seen);
                s.spawn(move || {
                    while let Ok(v) = rx.recv_blocking() {
                        c.take(v);
                    }
                    c.count
                })
            })
            .collect();
        drop((tx, rx));
        consumers.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(counts.iter().sum::<u64>(), TOTAL);
    seen.assert_all();
}

/// Sends with `send_timeout`, taking the value back and retrying on timeout.
fn send_with_retries(tx: &Sender<u64>, mut v: u64) {
    loop {
        match tx.send_timeout(v, Duration::from_micros(200)) {
            Ok(()) => return,
            Err(SendTimeoutError::Timeout(back)) => {
                assert_eq!(back, v, "the same value comes back");
                v = back;
            }
            Err(SendTimeoutError::Closed(_)) => panic!("receivers alive"),
        }
    }
}

// Every style at once on one channel: producer 0 is a tokio task, 1 a
// thread in send_blocking, 2 a thread in futures::executor::block_on, 3 a
// thread in send_timeout-and-retry; consumer 0 is a tokio task, 1 a thread
// in recv_blocking, 2 a Stream on futures::executor::block_on, 3 a thread
// in recv_timeout-and-retry.
per_kind!(mixed_sync_async_4x4);
fn mixed_sync_async_4x4(kind: Kind) {
    let seen = Seen::new(TOTAL);
    let (tx, rx) = kind.make();
    let rt = tokio_rt();
    let counts: Vec<u64> = thread::scope(|s| {
        let t = tx.clone();
        let p0 = rt.spawn(async move {
            for v in values(0, TOTAL) {
                t.send(v).await.expect("receivers alive");
            }
        });
        let t = tx.clone();
        s.spawn(move || {
            for v in values(1, TOTAL) {
                t.send_blocking(v).expect("receivers alive");
            }
        });
        let t = tx.clone();
        s.spawn(move || {
            futures::executor::block_on(async {
                for v in values(2, TOTAL) {
                    t.send(v).await.expect("receivers alive");
                }
            })
        });
        let t = tx.clone();
        s.spawn(move || {
            for v in values(3, TOTAL) {
                send_with_retries(&t, v);
            }
        });
        drop(tx);

        let r = rx.clone();
        let mut c = Consumer::new(&seen);
        let c0 = rt.spawn(async move {
            while let Ok(v) = r.recv().await {
                c.take(v);
            }
            c.count
        });
        let r = rx.clone();
        let mut c = Consumer::new(&seen);
        let c1 = s.spawn(move || {
            while let Ok(v) = r.recv_blocking() {
                c.take(v);
            }
            c.count
        });
        let mut r = rx.clone();
        let mut c = Consumer::new(&seen);
        let c2 = s.spawn(move || {
            futures::executor::block_on(async {
                while let Some(v) = r.next().await {
                    c.take(v);
                }
            });
            c.count
        });
        let r = rx.clone();
        let mut c = Consumer::new(&seen);
        let c3 = s.spawn(move || {
            loop {
                match r.recv_timeout(Duration::from_micros(200)) {
                    Ok(v) => c.take(v),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Closed) => break,
                }
            }
            c.count
        });
        drop(rx);
        rt.block_on(p0).unwrap();
        vec![
            rt.block_on(c0).unwrap(),
            c1.join().unwrap(),
            c2.join().unwrap(),
            c3.join().unwrap(),
        ]
    });
    assert_eq!(counts.iter().sum::<u64>(), TOTAL);
    seen.assert_all();
}

// Everyone gives up and retries under short timeouts: producers are
// threads in send_timeout (a timed-out send gets its value back and sends
// it again), consumers 0 and 1 are threads in recv_timeout, consumers 2
// and 3 are tokio tasks whose receive futures `tokio::time::timeout` drops
// mid-wait. A receive dropped while parked must lose nothing; each value
// is received exactly once (the bitmap).
per_kind!(timeouts_4x4);
fn timeouts_4x4(kind: Kind) {
    const WAIT: Duration = Duration::from_micros(50);
    let seen = Seen::new(TOTAL);
    let (tx, rx) = kind.make();
    let rt = tokio_rt();
    let counts: Vec<u64> = thread::scope(|s| {
        for p in 0..PRODUCERS {
            let t = tx.clone();
            s.spawn(move || {
                for v in values(p, TOTAL) {
                    send_with_retries(&t, v);
                }
            });
        }
        drop(tx);
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let r = rx.clone();
                let mut c = Consumer::new(&seen);
                s.spawn(move || {
                    loop {
                        match r.recv_timeout(WAIT) {
                            Ok(v) => c.take(v),
                            Err(RecvTimeoutError::Timeout) => {}
                            Err(RecvTimeoutError::Closed) => break,
                        }
                    }
                    c.count
                })
            })
            .collect();
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let r = rx.clone();
                let mut c = Consumer::new(&seen);
                rt.spawn(async move {
                    loop {
                        match tokio::time::timeout(WAIT, r.recv()).await {
                            Ok(Ok(v)) => c.take(v),
                            Ok(Err(RecvError)) => break,
                            Err(_elapsed) => {} // dropped mid-wait: try again
                        }
                    }
                    c.count
                })
            })
            .collect();
        drop(rx);
        let mut counts: Vec<u64> = threads.into_iter().map(|h| h.join().unwrap()).collect();
        for t in tasks {
            counts.push(rt.block_on(t).unwrap());
        }
        counts
    });
    assert_eq!(counts.iter().sum::<u64>(), TOTAL);
    seen.assert_all();
}

/// A small deterministic generator (xorshift64*), one per task.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Polls `fut` at most `polls` times (yielding in between, so that other
/// tasks run), then gives up: `None`, and the caller drops `fut` while it
/// is still waiting -- a cancellation, as a lost `select!` race does.
struct Attempt<F> {
    fut: Pin<Box<F>>,
    polls: u32,
}

impl<F: Future> Future for Attempt<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(v) = self.fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if self.polls <= 1 {
            return Poll::Ready(None);
        }
        self.polls -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn attempt<F: Future>(fut: F, polls: u32) -> Attempt<F> {
    Attempt {
        fut: Box::pin(fut),
        polls,
    }
}

// Cancellation under load (semantic 5): producers and consumers give up on
// most send/recv futures after a few polls and drop them, then try again.
// One attempt in 8 awaits to the end, so that every value eventually goes
// through.
//
// A dropped receive must lose nothing: every value whose send completed
// with Ok is received. A dropped send may still have been delivered: a
// receiver can take a waiting send's value between that future's last
// (Pending) poll and its drop, and the drop cannot undo that (see
// `send_taken_then_dropped_was_delivered_exactly_once` in semantics.rs).
// So every attempt sends a fresh value, and a cancelled attempt's value
// may be received at most once. Nothing is received twice.
//
// FIFO is not checked here: a cancelled receive puts its value back at the
// front, after other receivers may have taken later values.
per_kind!(cancel_mid_flight_4x4);
fn cancel_mid_flight_4x4(kind: Kind) {
    let n = CANCEL_TOTAL;
    let (tx, rx) = kind.make();
    let rt = tokio_rt();
    let (mut ok, mut cancelled, mut received) = rt.block_on(async {
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut rng = Rng::new(p + 1);
                    let (mut ok, mut cancelled) = (Vec::new(), Vec::new());
                    let mut attempts = 0u64;
                    while (ok.len() as u64) < values(p, n).end - values(p, n).start {
                        // A fresh value per attempt, unique over all producers.
                        let v = p + PRODUCERS * attempts;
                        attempts += 1;
                        let r = rng.next();
                        let res = if r.is_multiple_of(8) {
                            Some(tx.send(v).await)
                        } else {
                            attempt(tx.send(v), (r % 4) as u32 + 1).await
                        };
                        match res {
                            Some(Ok(())) => ok.push(v),
                            Some(Err(SendError(_))) => panic!("receivers alive"),
                            None => cancelled.push(v),
                        }
                    }
                    (ok, cancelled)
                })
            })
            .collect();
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|i| {
                let rx = rx.clone();
                tokio::spawn(async move {
                    let mut rng = Rng::new(100 + i);
                    let mut got = Vec::new();
                    loop {
                        let r = rng.next();
                        let res = if r.is_multiple_of(8) {
                            Some(rx.recv().await)
                        } else {
                            attempt(rx.recv(), (r % 4) as u32 + 1).await
                        };
                        match res {
                            Some(Ok(v)) => got.push(v),
                            Some(Err(RecvError)) => break,
                            None => {} // cancelled: try again
                        }
                    }
                    got
                })
            })
            .collect();
        drop((tx, rx));
        let (mut ok, mut cancelled, mut received) = (Vec::new(), Vec::new(), Vec::new());
        for p in producers {
            let (o, c) = p.await.unwrap();
            ok.extend(o);
            cancelled.extend(c);
        }
        for c in consumers {
            received.extend(c.await.unwrap());
        }
        (ok, cancelled, received)
    });
    assert_eq!(ok.len() as u64, n);
    ok.sort_unstable();
    cancelled.sort_unstable();
    received.sort_unstable();
    if let Some(w) = received.windows(2).find(|w| w[0] == w[1]) {
        panic!("{} received twice", w[0]);
    }
    // Every Ok send was received (merge walk over the sorted lists).
    let mut r = received.iter().peekable();
    let mut delivered_cancelled = 0usize;
    for &v in &ok {
        while let Some(&&x) = r.peek() {
            if x >= v {
                break;
            }
            assert!(
                cancelled.binary_search(&x).is_ok(),
                "{x} received but never sent"
            );
            delivered_cancelled += 1;
            r.next();
        }
        assert_eq!(
            r.next(),
            Some(&v),
            "{v} was sent with Ok and never received"
        );
    }
    for &x in r {
        assert!(
            cancelled.binary_search(&x).is_ok(),
            "{x} received but never sent"
        );
        delivered_cancelled += 1;
    }
    // For the record (not asserted): cancelled sends that a receiver had
    // taken before their future was dropped.
    eprintln!(
        "cancel_mid_flight {kind:?}: {} sends cancelled, {delivered_cancelled} of them delivered",
        cancelled.len()
    );
}
