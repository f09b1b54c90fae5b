//! A processor's local run queue: a fixed ring that only its owner pushes
//! to and that other processors steal half of, plus the one-task LIFO slot
//! (Go's `runnext`).
//!
//! # The ring
//!
//! Single producer (the owner), multiple consumers (the owner pops, thieves
//! steal), no locks. `tail` is written only by the owner. `head` packs two
//! `u32` indices, `(steal, real)`:
//!
//! - `real` is the next slot to hand out; advancing it claims slots.
//! - `steal` trails `real` while a thief is copying slots out (it claimed
//!   `steal..real` but has not finished reading them); otherwise equal.
//!
//! A thief first moves `real` forward by half of what is queued (the
//! claim), copies the claimed slots into its own ring, then moves `steal`
//! up to `real` (the release). While `steal != real` no other thief starts,
//! and the owner does not reuse the claimed slots: it treats the ring as
//! full from `steal`. Indices wrap; `u32` differences stay below the
//! capacity, so wrapping arithmetic is exact (the ABA window would need 2^32
//! pushes during one steal).
//!
//! Ordering: the owner writes a slot, then releases `tail`; a consumer
//! acquires `tail`, then reads slots below it. A consumer's claim on `head`
//! is a CAS (AcqRel); the owner acquires `head` before reusing slots.

use std::mem::MaybeUninit;
use std::ptr::{self, NonNull};

use crate::injector::Injector;
use crate::loom::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering::*};
use crate::loom::{Arc, UnsafeCell};
use crate::task::{Header, Notified};

/// Ring capacity (Go's runq has 256; a steal moves up to half).
pub(crate) const CAPACITY: usize = if cfg!(loom) { 4 } else { 256 };
const MASK: usize = CAPACITY - 1;

/// Aligned to 128 bytes (two cache lines, the unit x86 prefetches in) so
/// that two processors' rings never share a line: each ring's head and tail
/// are written on every push and pop, and false sharing between the rings
/// halved `yield_many`'s throughput whenever the heap happened to place
/// them side by side.
#[repr(align(128))]
struct Inner {
    head: AtomicU64,
    tail: AtomicU32,
    buffer: Box<[UnsafeCell<MaybeUninit<NonNull<Header>>>]>,
}

// SAFETY: slots hold `Notified` pointers (Send); access to a slot is
// serialized by the head/tail protocol in the module docs.
unsafe impl Send for Inner {}
// SAFETY: as above.
unsafe impl Sync for Inner {}

fn pack(steal: u32, real: u32) -> u64 {
    ((steal as u64) << 32) | real as u64
}

fn unpack(head: u64) -> (u32, u32) {
    ((head >> 32) as u32, head as u32)
}

/// The owner's end of a ring: pushing and popping take `&mut self`, so
/// only its one holder (the processor) does them.
pub(crate) struct Local {
    inner: Arc<Inner>,
}

/// The thieves' end of a ring.
#[derive(Clone)]
pub(crate) struct Steal(Arc<Inner>);

/// Creates a ring: the owner's end and the stealers' end.
pub(crate) fn local() -> (Local, Steal) {
    let buffer = (0..CAPACITY)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect();
    let inner = Arc::new(Inner {
        head: AtomicU64::new(0),
        tail: AtomicU32::new(0),
        buffer,
    });
    (
        Local {
            inner: inner.clone(),
        },
        Steal(inner),
    )
}

impl Inner {
    /// # Safety
    /// The caller has exclusive right to slot `idx` (owner below `tail`
    /// not yet published, or a claimed slot).
    unsafe fn write(&self, idx: u32, task: Notified) {
        let raw = task.into_raw();
        self.buffer[idx as usize & MASK].with_mut(|p| {
            // SAFETY: per the caller, nobody else touches this slot now.
            unsafe { ptr::write(p, MaybeUninit::new(raw)) }
        });
    }

    /// # Safety
    /// The caller claimed slot `idx`, which holds a published task.
    unsafe fn read(&self, idx: u32) -> Notified {
        let raw = self.buffer[idx as usize & MASK].with(|p| {
            // SAFETY: per the caller, the slot is initialized and ours.
            unsafe { ptr::read(p).assume_init() }
        });
        // SAFETY: the slot held a pointer from `Notified::into_raw`, read once.
        unsafe { Notified::from_raw(raw) }
    }

    fn len(&self) -> usize {
        let (_, real) = unpack(self.head.load(Acquire));
        let tail = self.tail.load(Acquire);
        tail.wrapping_sub(real) as usize
    }
}

impl Local {
    /// Tasks in the ring.
    pub(crate) fn len(&self) -> usize {
        self.inner.len()
    }

    /// `true` if the ring holds no task.
    #[cfg_attr(loom, allow(dead_code))] // used by the reactor path only
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Free slots, counting slots a thief is still copying out as taken.
    pub(crate) fn remaining(&self) -> usize {
        let (steal, _) = unpack(self.inner.head.load(Acquire));
        let tail = self.inner.tail.load(Relaxed);
        CAPACITY - tail.wrapping_sub(steal) as usize
    }

    /// Pushes to the tail. When the ring is full, moves half of it plus
    /// `task` to the injector in one batch (Go's `runqputslow`); if a thief
    /// is mid-steal, sends just `task` there (the thief frees slots soon).
    /// Returns `true` if tasks went to the injector.
    pub(crate) fn push_back_or_overflow(
        &mut self,
        mut task: Notified,
        injector: &Injector,
    ) -> bool {
        let tail = loop {
            let (steal, real) = unpack(self.inner.head.load(Acquire));
            // Only the owner writes `tail`.
            let tail = self.inner.tail.load(Relaxed);
            if (tail.wrapping_sub(steal) as usize) < CAPACITY {
                break tail;
            } else if steal != real {
                injector.push(task);
                return true;
            }
            match self.push_overflow(task, real, tail, injector) {
                Ok(()) => return true,
                // A thief moved `head`; there may be room now.
                Err(t) => task = t,
            }
        };
        // SAFETY: `tail - steal < CAPACITY`, so slot `tail` is free and not
        // visible to consumers until we publish the new tail.
        unsafe { self.inner.write(tail, task) };
        self.inner.tail.store(tail.wrapping_add(1), Release);
        false
    }

    fn push_overflow(
        &mut self,
        task: Notified,
        head: u32,
        tail: u32,
        injector: &Injector,
    ) -> Result<(), Notified> {
        const HALF: u32 = (CAPACITY / 2) as u32;
        debug_assert_eq!(tail.wrapping_sub(head) as usize, CAPACITY);
        let prev = pack(head, head);
        let next = pack(head.wrapping_add(HALF), head.wrapping_add(HALF));
        // Claim the oldest half. Release pairs with nothing in particular;
        // AcqRel keeps the claim ordered against a thief's CAS.
        if self
            .inner
            .head
            .compare_exchange(prev, next, AcqRel, Relaxed)
            .is_err()
        {
            return Err(task);
        }
        let batch = (0..HALF).map(|i| {
            // SAFETY: we claimed `head .. head + HALF`, all published.
            unsafe { self.inner.read(head.wrapping_add(i)) }
        });
        injector.push_batch(batch.chain(std::iter::once(task)));
        Ok(())
    }

    /// Pops from the head (the oldest task).
    pub(crate) fn pop(&mut self) -> Option<Notified> {
        let mut head = self.inner.head.load(Acquire);
        let idx = loop {
            let (steal, real) = unpack(head);
            let tail = self.inner.tail.load(Relaxed);
            if real == tail {
                return None;
            }
            let next_real = real.wrapping_add(1);
            let next = if steal == real {
                pack(next_real, next_real)
            } else {
                debug_assert_ne!(steal, next_real);
                pack(steal, next_real)
            };
            match self
                .inner
                .head
                .compare_exchange(head, next, AcqRel, Acquire)
            {
                Ok(_) => break real,
                Err(actual) => head = actual,
            }
        };
        // SAFETY: we claimed slot `idx`, below `tail`.
        Some(unsafe { self.inner.read(idx) })
    }
}

impl Steal {
    /// Tasks queued (a racy snapshot).
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Steals half of this ring (rounded up) into `dst`, the caller's own
    /// ring, and returns one of the stolen tasks to run now.
    pub(crate) fn steal_into(&self, dst: &mut Local) -> Option<Notified> {
        let dst_tail = dst.inner.tail.load(Relaxed);
        // Do not steal more than fits; half the ring at most is claimed.
        if dst.remaining() < CAPACITY / 2 {
            return None;
        }
        let n = self.claim_into(dst, dst_tail);
        if n == 0 {
            return None;
        }
        // Run the last one stolen; publish the rest.
        let last = dst_tail.wrapping_add(n - 1);
        // SAFETY: slot `last` of our own ring was written by `claim_into`
        // and not yet published.
        let task = unsafe { dst.inner.read(last) };
        if n > 1 {
            dst.inner.tail.store(last, Release);
        }
        Some(task)
    }

    /// Moves up to half of the queued tasks into `dst` starting at
    /// `dst_tail` (unpublished). Returns how many.
    fn claim_into(&self, dst: &Local, dst_tail: u32) -> u32 {
        let src = &*self.0;
        let mut prev = src.head.load(Acquire);
        let (first, n) = loop {
            let (steal, real) = unpack(prev);
            if steal != real {
                // Another thief is copying out; try elsewhere.
                return 0;
            }
            let tail = src.tail.load(Acquire);
            let queued = tail.wrapping_sub(real);
            let n = queued - queued / 2;
            if n == 0 {
                return 0;
            }
            // The claim: move `real` forward, keep `steal`.
            let next = pack(steal, real.wrapping_add(n));
            match src.head.compare_exchange(prev, next, AcqRel, Acquire) {
                Ok(_) => break (real, n),
                Err(actual) => prev = actual,
            }
        };
        debug_assert!(n as usize <= CAPACITY / 2);
        for i in 0..n {
            // SAFETY: we claimed `first .. first + n` of `src` (published,
            // below its tail); slots `dst_tail ..` of our own ring are free
            // (checked `remaining`) and unpublished.
            unsafe {
                let task = src.read(first.wrapping_add(i));
                dst.inner.write(dst_tail.wrapping_add(i), task);
            }
        }
        // The release: let `steal` catch up with `real` (the owner may have
        // popped meanwhile, moving `real`, so loop).
        let mut prev = pack(first, first.wrapping_add(n));
        loop {
            let (steal, real) = unpack(prev);
            debug_assert_eq!(steal, first);
            match src
                .head
                .compare_exchange(prev, pack(real, real), AcqRel, Acquire)
            {
                Ok(_) => return n,
                Err(actual) => prev = actual,
            }
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        // Shut down whatever is left (normally the worker drained it).
        while let Some(task) = self.pop() {
            drop(task);
        }
    }
}

/// The LIFO slot (Go's `runnext`): the task most recently spawned or woken
/// by this processor, run next. The owner swaps tasks in and out; thieves
/// take it only on their last pass over the victims.
pub(crate) struct LifoSlot(AtomicPtr<Header>);

impl LifoSlot {
    pub(crate) fn new() -> Self {
        LifoSlot(AtomicPtr::new(ptr::null_mut()))
    }

    /// Puts `task` in the slot; returns the task it displaced.
    pub(crate) fn push(&self, task: Notified) -> Option<Notified> {
        // AcqRel: publish the new task, acquire the displaced one.
        let prev = self.0.swap(task.into_raw().as_ptr(), AcqRel);
        // SAFETY: non-null values in the slot come from `into_raw`; the swap
        // moved ownership to us.
        NonNull::new(prev).map(|p| unsafe { Notified::from_raw(p) })
    }

    /// Takes the task in the slot, if any.
    pub(crate) fn take(&self) -> Option<Notified> {
        // A plain load first keeps the common empty case free of a write.
        if self.0.load(Relaxed).is_null() {
            return None;
        }
        let prev = self.0.swap(ptr::null_mut(), Acquire);
        // SAFETY: as in `push`.
        NonNull::new(prev).map(|p| unsafe { Notified::from_raw(p) })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.load(Relaxed).is_null()
    }
}

impl Drop for LifoSlot {
    fn drop(&mut self) {
        drop(self.take());
    }
}

/// The ring and the LIFO slot on one thread; with miri, these check the
/// slot reads and writes and that every task left in a queue is freed.
#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::task::{new_task, Id, Schedule};

    /// Drops whatever is scheduled (nothing here wakes a task).
    struct NoSchedule;
    impl Schedule for NoSchedule {
        fn schedule(&self, task: Notified) {
            drop(task);
        }
        fn requeue(&self, task: Notified) {
            drop(task);
        }
        fn count_completed(&self) {}
    }

    fn task(id: u64) -> Notified {
        let (notified, join) = new_task(
            async {},
            NoSchedule,
            Id(id),
            crate::task::SpawnSite::new(std::panic::Location::caller(), None),
        );
        drop(join);
        notified
    }

    fn drain(local: &mut Local) -> Vec<u64> {
        std::iter::from_fn(|| local.pop())
            .map(|t| t.id().0)
            .collect()
    }

    #[test]
    fn pops_in_push_order() {
        let injector = Injector::new();
        let (mut local, _steal) = local();
        for id in 0..10 {
            assert!(!local.push_back_or_overflow(task(id), &injector));
        }
        assert_eq!(local.len(), 10);
        assert_eq!(drain(&mut local), (0..10).collect::<Vec<_>>());
        assert!(local.is_empty());
    }

    #[test]
    fn a_full_ring_moves_its_older_half_and_the_new_task_to_the_injector() {
        let injector = Injector::new();
        let (mut local, _steal) = local();
        let n = CAPACITY as u64;
        for id in 0..n {
            assert!(!local.push_back_or_overflow(task(id), &injector));
        }
        assert_eq!(local.remaining(), 0);
        assert!(local.push_back_or_overflow(task(n), &injector));
        let moved: Vec<u64> = std::iter::from_fn(|| injector.pop())
            .map(|t| t.id().0)
            .collect();
        let half = n / 2;
        assert_eq!(moved, (0..half).chain([n]).collect::<Vec<_>>());
        assert_eq!(drain(&mut local), (half..n).collect::<Vec<_>>());
    }

    #[test]
    fn a_steal_takes_the_older_half_and_runs_its_last() {
        let injector = Injector::new();
        let (mut victim, steal) = local();
        let (mut thief, _) = local();
        for id in 0..7 {
            victim.push_back_or_overflow(task(id), &injector);
        }
        // Half of 7, rounded up: 0..4; the thief runs 3 and queues 0..3.
        let run = steal.steal_into(&mut thief).expect("work to steal");
        assert_eq!(run.id().0, 3);
        assert_eq!(drain(&mut thief), vec![0, 1, 2]);
        assert_eq!(drain(&mut victim), vec![4, 5, 6]);
        assert!(steal.steal_into(&mut thief).is_none());
    }

    #[test]
    fn dropping_the_queues_frees_their_tasks() {
        let injector = Injector::new();
        let (mut local, steal) = local();
        for id in 0..5 {
            local.push_back_or_overflow(task(id), &injector);
        }
        let lifo = LifoSlot::new();
        assert!(lifo.push(task(10)).is_none());
        assert_eq!(lifo.push(task(11)).map(|t| t.id().0), Some(10));
        assert!(!lifo.is_empty());
        drop((local, steal, lifo));
    }
}
