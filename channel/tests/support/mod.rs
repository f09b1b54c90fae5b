//! Shared by the channel stress tests (`channel/tests/stress.rs`, and the
//! root package's `tests/chan_gort.rs` through `#[path]`): the hang
//! watchdog and the exactly-once / FIFO-per-producer checks.
#![allow(dead_code)] // each test binary uses part of it

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub const PRODUCERS: u64 = 4;
pub const CONSUMERS: u64 = 4;
/// A hang detector, not a speed assertion.
pub const WATCHDOG: Duration = Duration::from_secs(300);

static TURN: Mutex<()> = Mutex::new(());

/// Runs `body` on its own thread; panics with "hang" if it does not finish
/// within [`WATCHDOG`]. A panic in `body` is re-raised here. Tests take
/// turns, so that one watchdog does not count another test's time.
pub fn watchdog(name: &str, body: impl FnOnce() + Send + 'static) {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let (done_tx, done_rx) = mpsc::channel();
    let start = Instant::now();
    let t = thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            body();
            let _ = done_tx.send(());
        })
        .unwrap();
    match done_rx.recv_timeout(WATCHDOG) {
        Ok(()) => {
            t.join().unwrap();
            // For the record (not asserted).
            eprintln!("{name}: {:?}", start.elapsed());
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{name}: hang (not finished within {WATCHDOG:?})")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match t.join() {
            Err(payload) => std::panic::resume_unwind(payload),
            Ok(()) => unreachable!(),
        },
    }
}

/// Which values of `0..n` were received: a bitmap.
pub struct Seen {
    pub n: u64,
    bits: Vec<AtomicU64>,
}

impl Seen {
    pub fn new(n: u64) -> Arc<Self> {
        Arc::new(Seen {
            n,
            bits: (0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    pub fn mark(&self, v: u64) {
        assert!(v < self.n, "received {v}, which was never sent");
        let bit = 1u64 << (v % 64);
        let old = self.bits[(v / 64) as usize].fetch_or(bit, Relaxed);
        assert!(old & bit == 0, "{v} received twice");
    }

    /// Whether `v` was marked.
    pub fn contains(&self, v: u64) -> bool {
        self.bits[(v / 64) as usize].load(Relaxed) & (1 << (v % 64)) != 0
    }

    /// Every value was received (and none twice, checked by `mark`).
    pub fn assert_all(&self) {
        for (i, w) in self.bits.iter().enumerate() {
            let w = w.load(Relaxed);
            let first = i as u64 * 64;
            let expected = if self.n - first >= 64 {
                u64::MAX
            } else {
                (1u64 << (self.n - first)) - 1
            };
            if w != expected {
                let missing = (0..64).find(|b| expected & !w & (1 << b) != 0).unwrap();
                panic!("{} was sent and never received", first + missing);
            }
        }
    }
}

/// Producer `p` sends `p * per .. (p + 1) * per`, in order.
pub fn values(p: u64, n: u64) -> std::ops::Range<u64> {
    let per = n / PRODUCERS;
    let end = if p == PRODUCERS - 1 { n } else { (p + 1) * per };
    p * per..end
}

/// One consumer's view: marks each value and checks that each producer's
/// values arrive in the order it sent them.
pub struct Consumer {
    seen: Arc<Seen>,
    per: u64,
    last: [Option<u64>; PRODUCERS as usize],
    pub count: u64,
    pub check_order: bool,
}

impl Consumer {
    pub fn new(seen: &Arc<Seen>) -> Self {
        Consumer {
            per: seen.n / PRODUCERS,
            seen: seen.clone(),
            last: [None; PRODUCERS as usize],
            count: 0,
            check_order: true,
        }
    }

    pub fn take(&mut self, v: u64) {
        self.seen.mark(v);
        self.count += 1;
        if self.check_order {
            let p = (v / self.per).min(PRODUCERS - 1) as usize;
            if let Some(prev) = self.last[p] {
                assert!(
                    prev < v,
                    "producer {p}: {v} received after {prev} (FIFO per channel)"
                );
            }
            self.last[p] = Some(v);
        }
    }
}
