//! A coarse process clock in milliseconds, for stamping when a task went
//! to sleep (the goroutine dump's "how long") without reading the OS clock
//! on the poll path.
//!
//! Whoever reads the real clock anyway refreshes it: a worker when it
//! starts running (it took its processor or left a park) and at every
//! 61st tick, and sysmon at each round (every half blocking threshold
//! while any worker runs). A poll reads it with one relaxed load. It lags
//! the real clock by at most the time since the last refresh: while
//! workers run, a millisecond or 61 polls, whichever is shorter.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Milliseconds since [`epoch`] at the last refresh.
static NOW_MS: AtomicU64 = AtomicU64::new(0);

/// The clock's zero: the first use in the process.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Milliseconds from the epoch to `at`.
fn ms_at(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch()).as_millis()).unwrap_or(u64::MAX)
}

/// Sets the clock to `now` (a reading the caller took anyway), if that is
/// later. A load, and a store only when the millisecond changed: no
/// read-modify-write on a line every worker reads. Two refreshers racing
/// may leave the earlier of their readings, a millisecond behind at most.
pub(crate) fn refresh(now: Instant) {
    let ms = ms_at(now);
    if ms > NOW_MS.load(Relaxed) {
        NOW_MS.store(ms, Relaxed);
    }
}

/// The coarse time, in milliseconds since the epoch.
#[inline]
pub(crate) fn now_ms() -> u64 {
    NOW_MS.load(Relaxed)
}

/// Time from coarse millisecond `since_ms` to now, read from the real
/// clock (for the dump, not the hot path).
pub(crate) fn elapsed_since(since_ms: u64) -> Duration {
    Duration::from_millis(ms_at(Instant::now()).saturating_sub(since_ms))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn refresh_moves_forward_only_and_elapsed_counts_from_a_stamp() {
        let now = Instant::now();
        refresh(now);
        let stamped = now_ms();
        assert!(stamped >= ms_at(now));
        refresh(epoch());
        assert!(now_ms() >= stamped, "an older reading moved the clock back");
        assert!(elapsed_since(ms_at(now)) < Duration::from_secs(3600));
        assert_eq!(elapsed_since(u64::MAX), Duration::ZERO);
    }
}
