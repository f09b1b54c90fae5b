//! `gort-bench-sizes`: the memory one channel takes, gort's and its peers'.
//!
//! ```text
//! cargo run --release -p gort-bench --bin gort-bench-sizes
//! ```
//!
//! Prints a Markdown table (the channel size report in BENCHMARKS.md). This
//! binary installs its own global allocator, which keeps the bytes *live*
//! on the heap (allocations minus frees), so each figure is what a channel
//! holds at that moment, not what it allocated on the way. Everything runs
//! on one thread; no figure depends on timing, and a run prints the same
//! table every time on one build.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};

/// [`System`], plus the bytes currently allocated.
struct LiveBytes;

static LIVE: AtomicI64 = AtomicI64::new(0);

// SAFETY: every call goes to `System` unchanged; the counter is a side
// effect that does not touch the memory.
unsafe impl GlobalAlloc for LiveBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: LiveBytes = LiveBytes;

/// Live heap bytes now.
fn live() -> i64 {
    LIVE.load(Ordering::Relaxed)
}

/// Values queued for the "per queued value" rows.
const QUEUED: usize = 10_000;
/// The capacities the per-slot figure is taken between.
const SMALL: usize = 128;
const LARGE: usize = 1024;

/// One implementation's channel constructors and a non-blocking send.
struct Contender {
    name: &'static str,
    /// `size_of` its sending handle for `u64`.
    sender_size: usize,
    /// Live bytes of an empty channel of capacity `cap` (`None`: unbounded),
    /// after `fill` values were sent into it and left there; `None` where
    /// it has no such channel.
    held: Box<dyn Fn(Option<usize>, usize) -> Option<i64>>,
}

/// Live bytes of `make(cap)` holding `fill` values, the handles kept alive
/// while measuring. A `make` that returns `None` has no such channel.
fn measure<S, R>(
    make: impl FnOnce() -> Option<(S, R)>,
    send: impl Fn(&S, u64) -> bool,
    fill: usize,
) -> Option<i64> {
    let before = live();
    let (tx, rx) = make()?;
    for i in 0..fill {
        assert!(
            send(&tx, i as u64),
            "the channel has room for {fill} values"
        );
    }
    let bytes = live() - before;
    drop((tx, rx));
    Some(bytes)
}

/// `held` of a crate with `bounded(n)` for every `n` (0 included) and
/// `unbounded()`, both sending with `send`.
fn both<S: 'static, R: 'static>(
    bounded: fn(usize) -> (S, R),
    unbounded: fn() -> (S, R),
    send: fn(&S, u64) -> bool,
) -> Box<dyn Fn(Option<usize>, usize) -> Option<i64>> {
    Box::new(move |cap, fill| {
        let make = || Some(cap.map_or_else(unbounded, bounded));
        measure(make, send, fill)
    })
}

fn contenders() -> Vec<Contender> {
    vec![
        Contender {
            name: "gort",
            sender_size: std::mem::size_of::<gort::chan::Sender<u64>>(),
            held: both(gort::chan::bounded, gort::chan::unbounded, |tx, v| {
                tx.try_send(v).is_ok()
            }),
        },
        Contender {
            name: "kanal",
            sender_size: std::mem::size_of::<kanal::AsyncSender<u64>>(),
            held: both(kanal::bounded_async, kanal::unbounded_async, |tx, v| {
                tx.try_send(v).unwrap_or(false)
            }),
        },
        Contender {
            name: "flume",
            sender_size: std::mem::size_of::<flume::Sender<u64>>(),
            held: both(flume::bounded, flume::unbounded, |tx, v| {
                tx.try_send(v).is_ok()
            }),
        },
        Contender {
            name: "async-channel",
            sender_size: std::mem::size_of::<async_channel::Sender<u64>>(),
            held: Box::new(|cap, fill| {
                let make = || match cap {
                    Some(0) => None,
                    Some(n) => Some(async_channel::bounded::<u64>(n)),
                    None => Some(async_channel::unbounded()),
                };
                measure(make, |tx, v| tx.try_send(v).is_ok(), fill)
            }),
        },
        Contender {
            name: "tokio mpsc",
            sender_size: std::mem::size_of::<tokio::sync::mpsc::Sender<u64>>(),
            held: Box::new(|cap, fill| match cap {
                Some(0) => None,
                Some(n) => measure(
                    || Some(tokio::sync::mpsc::channel::<u64>(n)),
                    |tx, v| tx.try_send(v).is_ok(),
                    fill,
                ),
                None => measure(
                    || Some(tokio::sync::mpsc::unbounded_channel::<u64>()),
                    |tx, v| tx.send(v).is_ok(),
                    fill,
                ),
            }),
        },
        Contender {
            name: "crossbeam-channel",
            sender_size: std::mem::size_of::<crossbeam_channel::Sender<u64>>(),
            held: both(
                crossbeam_channel::bounded,
                crossbeam_channel::unbounded,
                |tx, v| tx.try_send(v).is_ok(),
            ),
        },
        Contender {
            name: "std mpsc",
            sender_size: std::mem::size_of::<std::sync::mpsc::SyncSender<u64>>(),
            held: Box::new(|cap, fill| match cap {
                Some(n) => measure(
                    || Some(std::sync::mpsc::sync_channel::<u64>(n)),
                    |tx, v| tx.try_send(v).is_ok(),
                    fill,
                ),
                None => measure(
                    || Some(std::sync::mpsc::channel::<u64>()),
                    |tx, v| tx.send(v).is_ok(),
                    fill,
                ),
            }),
        },
    ]
}

/// One row: a label and a figure per contender (`None`: no such channel).
type Row = (String, Vec<Option<f64>>);

fn rows(cs: &[Contender]) -> Vec<Row> {
    let each = |f: &dyn Fn(&Contender) -> Option<f64>| cs.iter().map(f).collect::<Vec<_>>();
    let at = |c: &Contender, cap, fill| (c.held)(cap, fill).map(|b| b as f64);
    vec![
        (
            "`Sender<u64>` handle (size_of)".into(),
            each(&|c| Some(c.sender_size as f64)),
        ),
        ("empty `bounded(0)`".into(), each(&|c| at(c, Some(0), 0))),
        ("empty `bounded(1)`".into(), each(&|c| at(c, Some(1), 0))),
        (
            format!("empty `bounded({SMALL})`"),
            each(&|c| at(c, Some(SMALL), 0)),
        ),
        (
            format!("per slot, `bounded({SMALL})` to `bounded({LARGE})`, empty"),
            each(&|c| {
                let small = at(c, Some(SMALL), 0)?;
                let large = at(c, Some(LARGE), 0)?;
                Some((large - small) / (LARGE - SMALL) as f64)
            }),
        ),
        (
            format!("`bounded({LARGE})` full"),
            each(&|c| at(c, Some(LARGE), LARGE)),
        ),
        ("empty `unbounded()`".into(), each(&|c| at(c, None, 0))),
        (
            format!("per queued value, `unbounded()` holding {QUEUED}"),
            each(&|c| {
                let empty = at(c, None, 0)?;
                let full = at(c, None, QUEUED)?;
                Some((full - empty) / QUEUED as f64)
            }),
        ),
    ]
}

fn main() {
    let cs = contenders();
    let rows = rows(&cs);
    let mut out = String::from("| u64 channel, live heap bytes |");
    for c in &cs {
        out.push_str(&format!(" {} |", c.name));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(cs.len()));
    out.push('\n');
    for (label, cells) in rows {
        out.push_str(&format!("| {label} |"));
        for cell in cells {
            match cell {
                None => out.push_str(" n/a |"),
                Some(v) if v.fract() == 0.0 => out.push_str(&format!(" {v} |")),
                Some(v) => out.push_str(&format!(" {v:.1} |")),
            }
        }
        out.push('\n');
    }
    print!("{out}");
}
