//! Task ids (Go's goids): process-wide, never reused.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::pad::CachePadded;

/// A task's unique id (Go's goid). Never reused within a process.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Id(pub(crate) u64);

impl Id {
    /// The raw number.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// One id, for spawns off the workers.
    pub(crate) fn next() -> Id {
        Id(NEXT.fetch_add(1, Relaxed))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The next id of the process. Processors take ids in blocks of
/// `BLOCK` (Go's `sched.goidgen` with `_GoidCacheBatch`), so a spawn on a
/// worker does not touch this shared counter; every spawn from outside
/// the runtime does. On lines of its own: a build once had the linker put
/// it on the line of the reactor's lock word, which idle workers write.
static NEXT: CachePadded<AtomicU64> = CachePadded(AtomicU64::new(1));

/// Ids a processor takes from `NEXT` at once (Go's `_GoidCacheBatch` is
/// 16; a larger block costs nothing but gaps in the sequence).
const BLOCK: u64 = 1024;

/// A processor's block of ids.
pub(crate) struct IdBlock {
    next: u64,
    end: u64,
}

impl IdBlock {
    /// An empty block: the first `next` takes one.
    pub(crate) fn new() -> Self {
        IdBlock { next: 0, end: 0 }
    }

    /// A fresh id from this block, taking a new block when it runs out.
    pub(crate) fn next(&mut self) -> Id {
        if self.next == self.end {
            self.next = NEXT.fetch_add(BLOCK, Relaxed);
            self.end = self.next + BLOCK;
        }
        let id = self.next;
        self.next += 1;
        Id(id)
    }
}
