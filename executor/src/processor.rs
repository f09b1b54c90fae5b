//! Go's P: the right to run goroutines. Each has a local ring of 256 and a
//! LIFO slot (`runnext`). The part other threads touch (the steal end of
//! the ring, the LIFO slot, the registry of tasks it first ran, its
//! parker and counters) lives in `ProcessorShared`, in the scheduler; the
//! owner-only part (`Processor`) lives on its worker thread.

use std::cell::Cell;

use crate::loom::atomic::{AtomicU64, Ordering::*};
use crate::park::Parker;
use crate::queue::{self, LifoSlot, Local, Steal};
use crate::scheduler::{next_id_block, ID_BLOCK};
use crate::task::{Id, Registry};

/// Polls of the LIFO slot in a row before the ring gets a turn. Go can
/// rely on preemption after 10 ms; futures cannot be preempted, so this
/// cap is the time slice that keeps a ping-pong pair from starving the
/// queue. 3 is tokio's choice too; nothing magic about it.
pub(crate) const MAX_LIFO_POLLS: u32 = 3;

/// Every this many ticks a processor looks at the injector before its own
/// ring (Go's `schedtick%61`): a prime, so it does not fall into step with
/// periodic workloads, and rare enough to keep the injector off the fast path.
pub(crate) const INJECTOR_CHECK_INTERVAL: u32 = 61;

/// Most tasks moved from the injector to a ring at once (Go's runq/2).
pub(crate) const INJECTOR_BATCH_MAX: usize = 128;

/// The part of a processor that other threads may touch. Aligned to 128
/// bytes so neighbours in the scheduler's array do not share cache lines
/// (the LIFO slot and the counters are written on every spawn/completion).
#[repr(align(128))]
pub(crate) struct ProcessorShared {
    /// Thieves take half of the ring through this.
    pub(crate) steal: Steal,
    /// The task to run next; thieves take it only on their last pass.
    pub(crate) lifo: LifoSlot,
    /// Live tasks first polled here.
    pub(crate) registry: Registry,
    /// Where this processor's worker sleeps.
    pub(crate) parker: Parker,
    /// Tasks spawned from this processor; written only by its worker.
    pub(crate) spawned: AtomicU64,
    /// Tasks completed on this processor; written only by its worker.
    pub(crate) completed: AtomicU64,
}

impl ProcessorShared {
    pub(crate) fn new() -> (Self, Local) {
        let (local, steal) = queue::local();
        (
            ProcessorShared {
                steal,
                lifo: LifoSlot::new(),
                registry: Registry::new(),
                parker: Parker::new(),
                spawned: AtomicU64::new(0),
                completed: AtomicU64::new(0),
            },
            local,
        )
    }

    /// Owner-only increment: a plain load and store, no read-modify-write.
    pub(crate) fn count_spawned(&self) {
        self.spawned
            .store(self.spawned.load(Relaxed).wrapping_add(1), Relaxed);
    }

    /// Owner-only increment, as `count_spawned`.
    pub(crate) fn count_completed(&self) {
        self.completed
            .store(self.completed.load(Relaxed).wrapping_add(1), Relaxed);
    }

    /// `true` if a thief could find work here.
    pub(crate) fn has_work(&self) -> bool {
        !self.steal.is_empty() || !self.lifo.is_empty()
    }
}

/// The owner-only part of a processor, held by its worker thread.
pub(crate) struct Processor {
    /// This processor's index in the scheduler.
    pub(crate) index: usize,
    /// The owner's end of the ring.
    pub(crate) local: Local,
    /// Scheduling ticks (one per task taken from a queue).
    pub(crate) tick: Cell<u32>,
    /// `true` while this worker counts as searching (see `idle.rs`).
    pub(crate) is_searching: Cell<bool>,
    /// xorshift state for victim order.
    rng: Cell<u64>,
    /// The next task id this processor hands out, and the end of its block.
    next_id: Cell<u64>,
    id_end: Cell<u64>,
}

impl Processor {
    pub(crate) fn new(index: usize, local: Local) -> Self {
        Processor {
            index,
            local,
            tick: Cell::new(0),
            is_searching: Cell::new(false),
            rng: Cell::new(
                0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
            ),
            next_id: Cell::new(0),
            id_end: Cell::new(0),
        }
    }

    /// A fresh task id from this processor's block.
    pub(crate) fn next_id(&self) -> Id {
        if self.next_id.get() == self.id_end.get() {
            let start = next_id_block();
            self.next_id.set(start);
            self.id_end.set(start + ID_BLOCK);
        }
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        Id(id)
    }

    /// Advances and returns the tick.
    pub(crate) fn next_tick(&self) -> u32 {
        let t = self.tick.get().wrapping_add(1);
        self.tick.set(t);
        t
    }

    /// A pseudo-random number (xorshift64*).
    pub(crate) fn random(&self) -> u64 {
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Visits `0..n` in a random order (Go's `randomOrder`): a random start
/// and a random stride coprime with `n`.
pub(crate) fn random_order(n: usize, random: u64) -> impl Iterator<Item = usize> {
    let start = (random as usize) % n.max(1);
    let stride = {
        let mut s = ((random >> 32) as usize % n.max(1)).max(1);
        while gcd(s, n) != 1 {
            s += 1;
        }
        s
    };
    (0..n).map(move |i| (start + i * stride) % n)
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::random_order;

    #[test]
    fn random_order_visits_each_index_once() {
        for n in 1..20 {
            for seed in [0u64, 1, 7, u64::MAX, 0xDEAD_BEEF_1234_5678] {
                let mut seen: Vec<usize> = random_order(n, seed).collect();
                seen.sort_unstable();
                assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n={n} seed={seed}");
            }
        }
    }
}
