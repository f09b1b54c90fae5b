//! Helpers shared by the reactor tests (`net_echo`, `net_tcp`, `net_udp`,
//! `net_unix`, `time`, `time_waker_drop`, `reactor_anywhere`): a
//! deterministic generator, running a body on a 2-worker runtime under the
//! hang watchdog of `channel/tests/support` (re-exported as `support`), a
//! shorter limit for the tests of known hangs, counting the `Pending`s of
//! a poll, (from `tests/common`) `runtime` and the drop counter
//! `DropGuard`, and the stream tests' helpers ([`streams`]).
#![allow(dead_code)] // each test binary uses part of it

#[path = "../../channel/tests/support/mod.rs"]
pub mod support;

#[path = "../common/mod.rs"]
mod common;

pub mod streams;
#[allow(unused_imports)] // each test binary uses part of it
pub use common::{counter, runtime, DropGuard};

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::time::Duration;

/// SplitMix64: deterministic pseudo-random numbers (no `rand` needed).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// The length of datagram `i` of a datagram test: by turns 1 byte, up to
/// 1,500, up to 60,000, and 60,000.
pub fn datagram_len(i: usize, rng: &mut Rng) -> usize {
    match i % 4 {
        0 => 1,
        1 => 1 + rng.below(1500) as usize,
        2 => 1 + rng.below(60_000) as usize,
        _ => 60_000,
    }
}

/// Runs the future `make()` returns as a gort task on a new 2-worker
/// runtime, under the hang watchdog (`support::watchdog`, which also makes
/// the tests of a binary take turns). A panic in the task fails the test.
pub fn on_gort<F>(name: &str, make: impl FnOnce() -> F + Send + 'static)
where
    F: Future<Output = ()> + Send + 'static,
{
    let rt_name = name.to_string();
    support::watchdog(name, move || {
        let rt = runtime(2, &rt_name);
        let task = rt.spawn(make());
        if let Err(e) = rt.block_on(task) {
            match e.try_into_panic() {
                Ok(payload) => std::panic::resume_unwind(payload),
                Err(e) => panic!("the test task did not finish: {e}"),
            }
        }
    });
}

/// Runs `body` on a thread of its own: its result, or `None` if it has not
/// finished within `limit` (for the tests of known hangs, which should not
/// hold the binary for the full watchdog; the thread is left behind). A
/// panic in `body` is re-raised here.
pub fn finishes_within<T: Send + 'static>(
    name: &str,
    limit: Duration,
    body: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let _ = tx.send(body());
        })
        .expect("cannot start the test thread");
    match rx.recv_timeout(limit) {
        Ok(v) => Some(v),
        Err(mpsc::RecvTimeoutError::Timeout) => None,
        Err(mpsc::RecvTimeoutError::Disconnected) => match thread.join() {
            Err(payload) => std::panic::resume_unwind(payload),
            Ok(()) => unreachable!("the thread ended without a result"),
        },
    }
}

/// Polls `poll` to completion, adding 1 to `parked` for each `Pending`
/// (to see that an operation really waited, or to wait until it does).
pub async fn count_pending<T>(
    parked: &AtomicUsize,
    mut poll: impl FnMut(&mut Context<'_>) -> Poll<T>,
) -> T {
    std::future::poll_fn(|cx| {
        let r = poll(cx);
        if r.is_pending() {
            parked.fetch_add(1, SeqCst);
        }
        r
    })
    .await
}
