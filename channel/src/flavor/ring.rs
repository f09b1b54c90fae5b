//! The buffer of `bounded(n)`, `n >= 1`: a fixed ring of `n` slots, each
//! with a sequence stamp, and two counters (head and tail) advanced by CAS
//! (Dmitry Vyukov's bounded MPMC queue).
//!
//! # Counters and stamps
//!
//! A counter packs a lap and an index: `index = x & (mark - 1)`,
//! `lap = x & !(one_lap - 1)`, where `mark` is the smallest power of two
//! above `cap` and `one_lap = 2 * mark`. Moving past the last index goes to
//! index 0 of the next lap. Bit `mark` of the tail counter is the closed
//! flag (it is never set in head, nor in any stamp).
//!
//! Slot `i` starts with stamp `i` (lap 0). For a counter value `x` pointing
//! at a slot:
//!
//! - `stamp == x`: the slot is free for this lap: a push at tail `x` may
//!   take it (CAS tail `x -> x+1`), write the value, then store stamp
//!   `x + 1`;
//! - `stamp == x + 1`: the slot holds this lap's value: a pop at head `x`
//!   may take it (CAS head), read the value, then store stamp
//!   `x + one_lap` (free for the next lap).
//!
//! A push that finds the previous lap's value still there (`stamp + one_lap
//! == tail + 1`) is either full (`head + one_lap == tail`) or racing a pop
//! that has reserved that slot and not yet freed it (`Busy`). A pop that
//! finds a free slot (`stamp == head`) is either empty (`tail == head`) or
//! racing a push that has reserved it and not yet written it (`Busy`). Any
//! other stamp means the counter we read is stale: read it again.
//!
//! The reserving CASes are `SeqCst` and the empty/full decisions read the
//! other counter with `SeqCst`: the ordering contract of the module above.

use std::cell::Cell;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

use super::{Pop, Push};
use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::{spin_hint, CachePadded, UnsafeCell};

/// Spins on a slot that another thread is between its reserve and its
/// publish before reporting `Busy` (none under loom: the model explores the
/// interleaving instead).
const BUSY_SPINS: u32 = if cfg!(loom) { 0 } else { 32 };

struct Slot<T> {
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

pub(crate) struct Ring<T> {
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<AtomicUsize>,
    slots: Box<[Slot<T>]>,
    /// The closed bit of `tail`; `mark - 1` masks the index.
    mark: usize,
    one_lap: usize,
    /// Owns `T`s (for drop check), and `Send`/`Sync` are written below.
    _owns: PhantomData<Cell<T>>,
}

// SAFETY: values move between threads through the slots, so `T: Send` is
// needed and enough: a slot's value is accessed by exactly one thread at a
// time (the one whose CAS reserved it), handed over by the stamp's
// Release/Acquire.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as above; `&Ring` only moves whole values in and out.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Ring<T> {
    /// A ring of `cap` slots.
    ///
    /// # Panics
    /// If `cap` is 0, or the ring would not fit in memory (Go's
    /// "makechan: size out of range").
    pub(crate) fn new(cap: usize) -> Self {
        assert!(cap > 0, "a ring has at least one slot");
        let too_big = cap
            .checked_mul(std::mem::size_of::<Slot<T>>())
            .is_none_or(|bytes| bytes > isize::MAX as usize)
            || cap > usize::MAX / 4;
        assert!(
            !too_big,
            "gort::chan::bounded: capacity {cap} is out of range for a buffer of this type"
        );
        let mark = (cap + 1).next_power_of_two();
        let slots = (0..cap)
            .map(|i| Slot {
                stamp: AtomicUsize::new(i),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Ring {
            head: CachePadded(AtomicUsize::new(0)),
            tail: CachePadded(AtomicUsize::new(0)),
            slots,
            mark,
            one_lap: mark * 2,
            _owns: PhantomData,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The counter after `x`: the next index, or index 0 of the next lap.
    fn next(&self, x: usize) -> usize {
        self.next_at(x, x & (self.mark - 1))
    }

    /// [`next`](Self::next) of `x`, whose index is `index`.
    #[inline(always)]
    fn next_at(&self, x: usize, index: usize) -> usize {
        if index + 1 < self.capacity() {
            x + 1
        } else {
            (x & !(self.one_lap - 1)).wrapping_add(self.one_lap)
        }
    }

    fn slot(&self, x: usize) -> &Slot<T> {
        &self.slots[x & (self.mark - 1)]
    }

    /// One attempt at the uncontended push: the tail slot is free for this
    /// lap and the CAS that reserves it wins. `Err` gives the value back
    /// with the ring unchanged (full, closed, a slot still being read, or a
    /// race lost): [`push`](Self::push) then says which, or retries.
    /// Inline, and small: it is the whole of a send with room.
    #[inline]
    pub(crate) fn try_push(&self, value: T) -> Result<(), T> {
        let tail = self.tail.load(Ordering::Relaxed);
        let index = tail & (self.mark - 1);
        let next = self.next_at(tail, index);
        let slot = &self.slots[index];
        // A closed tail never equals a stamp: stamps never have the `mark`
        // bit (an index plus one is at most `cap`, below `mark`, and laps
        // are counted above it).
        if slot.stamp.load(Ordering::Acquire) != tail
            || self
                .tail
                .compare_exchange_weak(tail, next, Ordering::SeqCst, Ordering::Relaxed)
                .is_err()
        {
            return Err(value);
        }
        // SAFETY: our CAS reserved this slot for the lap of `tail`.
        unsafe { Self::publish(slot, tail, value) };
        Ok(())
    }

    /// Writes `value` into `slot`, reserved by a push at `tail`, and
    /// publishes it to pops.
    ///
    /// # Safety
    /// This thread's CAS of the tail from `tail` reserved `slot`.
    #[inline(always)]
    unsafe fn publish(slot: &Slot<T>, tail: usize, value: T) {
        slot.value.with_mut(|v| {
            // SAFETY: our CAS reserved this slot for this lap: no other push
            // can take it (tail moved on) and no pop reads it until the
            // stamp below says so.
            unsafe { (*v).write(value) }
        });
        slot.stamp.store(tail + 1, Ordering::Release);
    }

    pub(crate) fn push(&self, value: T) -> Push<T> {
        let mut tail = self.tail.load(Ordering::Relaxed);
        let mut spins = 0;
        loop {
            if tail & self.mark != 0 {
                return Push::Closed(value);
            }
            // The index and the next counter are computed before the
            // stamp's Acquire load, after which the compiler would load the
            // ring's fields again.
            let index = tail & (self.mark - 1);
            let next = self.next_at(tail, index);
            let slot = &self.slots[index];
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == tail {
                match self.tail.compare_exchange_weak(
                    tail,
                    next,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: our CAS reserved this slot for this lap.
                        unsafe { Self::publish(slot, tail, value) };
                        return Push::Done;
                    }
                    Err(t) => {
                        tail = t;
                        spin_hint();
                    }
                }
            } else if stamp.wrapping_add(self.one_lap) == tail + 1 {
                // The previous lap's value is still here.
                if self.full_at(tail) {
                    return Push::Full(value);
                }
                // A pop reserved it and is reading it.
                if spins == BUSY_SPINS {
                    return Push::Busy(value);
                }
                spins += 1;
                spin_hint();
                tail = self.tail.load(Ordering::Relaxed);
            } else {
                // A push one lap behind reserved this slot and has not
                // written it yet: full if head is a lap behind tail (the
                // same decision as above; waiting here would spin for as
                // long as that push's thread is descheduled). Otherwise
                // our tail is stale.
                if stamp.wrapping_add(self.one_lap) == tail && self.full_at(tail) {
                    return Push::Full(value);
                }
                spin_hint();
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// One attempt at the uncontended pop: the head slot holds this lap's
    /// value and the CAS that reserves it wins. `None`: the ring is
    /// unchanged (empty, closed, a value still being written, or a race
    /// lost), and [`pop`](Self::pop) says which, or retries. Inline, as
    /// [`try_push`](Self::try_push).
    #[inline]
    pub(crate) fn try_pop(&self) -> Option<T> {
        let head = self.head.load(Ordering::Relaxed);
        let index = head & (self.mark - 1);
        let next = self.next_at(head, index);
        let lap_on = head.wrapping_add(self.one_lap);
        let slot = &self.slots[index];
        if slot.stamp.load(Ordering::Acquire) != head + 1
            || self
                .head
                .compare_exchange_weak(head, next, Ordering::SeqCst, Ordering::Relaxed)
                .is_err()
        {
            return None;
        }
        // SAFETY: our CAS reserved the slot, whose stamp says it is written.
        Some(unsafe { Self::take(slot, lap_on) })
    }

    /// Moves the value out of `slot`, reserved by a pop, and frees the slot
    /// for the push of the next lap (stamp `lap_on`).
    ///
    /// # Safety
    /// This thread's CAS of the head reserved `slot`, after an Acquire load
    /// of its stamp showed it written.
    #[inline(always)]
    unsafe fn take(slot: &Slot<T>, lap_on: usize) -> T {
        let value = slot.value.with(|v| {
            // SAFETY: our CAS reserved this slot's value, which the stamp
            // (Acquire) says was written; no other pop can take it and no
            // push overwrites it until the stamp below frees it.
            unsafe { (*v).assume_init_read() }
        });
        slot.stamp.store(lap_on, Ordering::Release);
        value
    }

    pub(crate) fn pop(&self) -> Pop<T> {
        let mut head = self.head.load(Ordering::Relaxed);
        let mut spins = 0;
        loop {
            // As in `push`: all from the ring's fields before the stamp.
            let index = head & (self.mark - 1);
            let next = self.next_at(head, index);
            let lap_on = head.wrapping_add(self.one_lap);
            let slot = &self.slots[index];
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == head + 1 {
                match self.head.compare_exchange_weak(
                    head,
                    next,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: our CAS reserved the slot, whose stamp
                        // says it is written.
                        return Pop::Value(unsafe { Self::take(slot, lap_on) });
                    }
                    Err(h) => {
                        head = h;
                        spin_hint();
                    }
                }
            } else if stamp == head {
                // Free for this lap: nothing here yet.
                if let Some(nothing) = self.nothing_at(head) {
                    return nothing;
                }
                // A push reserved it and is writing it.
                if spins == BUSY_SPINS {
                    return Pop::Busy;
                }
                spins += 1;
                spin_hint();
                head = self.head.load(Ordering::Relaxed);
            } else {
                // A pop one lap behind reserved this slot and has not
                // freed it yet: empty (or closed) if tail is at head, as
                // above. Otherwise our head is stale.
                if stamp.wrapping_add(self.one_lap) == head + 1 {
                    if let Some(nothing) = self.nothing_at(head) {
                        return nothing;
                    }
                }
                spin_hint();
                head = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// Whether a push at `tail` that found its slot taken faces a full
    /// ring: head a lap behind, read with `SeqCst` (the decision the
    /// wake-up protocol relies on).
    fn full_at(&self, tail: usize) -> bool {
        self.head.load(Ordering::SeqCst).wrapping_add(self.one_lap) == tail
    }

    /// A pop at `head` that found no value in its slot: `Empty` (or
    /// `Closed`) if tail is at head, read with `SeqCst` (the decision the
    /// wake-up protocol relies on); `None` if a push is further on.
    fn nothing_at(&self, head: usize) -> Option<Pop<T>> {
        let tail = self.tail.load(Ordering::SeqCst);
        (tail & !self.mark == head).then(|| {
            if tail & self.mark != 0 {
                Pop::Closed
            } else {
                Pop::Empty
            }
        })
    }

    /// Sets the closed bit; `true` if this call set it.
    pub(crate) fn close(&self) -> bool {
        self.tail.fetch_or(self.mark, Ordering::SeqCst) & self.mark == 0
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.tail.load(Ordering::SeqCst) & self.mark != 0
    }

    /// Whether head and tail were equal when read (each read once, with
    /// no order between them): a hint, not a decision.
    pub(crate) fn looks_empty(&self) -> bool {
        self.tail.load(Ordering::Relaxed) & !self.mark == self.head.load(Ordering::Relaxed)
    }

    /// Values buffered (reserved pushes count, reserved pops do not).
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.load(Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            // A consistent pair: tail did not move while we read head.
            if self.tail.load(Ordering::SeqCst) == tail {
                return self.distance(head, tail & !self.mark);
            }
        }
    }

    /// Values between head `head` and tail `tail` (closed bit cleared).
    fn distance(&self, head: usize, tail: usize) -> usize {
        let hix = head & (self.mark - 1);
        let tix = tail & (self.mark - 1);
        if hix < tix {
            tix - hix
        } else if hix > tix {
            self.capacity() - hix + tix
        } else if tail == head {
            0
        } else {
            self.capacity()
        }
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // `&mut self`: no push or pop is in progress, so every value
        // between head and tail is written and owned by the ring.
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed) & !self.mark;
        let mut x = head;
        for _ in 0..self.distance(head, tail) {
            let slot = self.slot(x);
            slot.value.with_mut(|v| {
                // SAFETY: as above, the slot at `x` holds a written value that
                // nobody else will read; it is dropped exactly once here.
                unsafe { (*v).assume_init_drop() }
            });
            x = self.next(x);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize as StdAtomic;
    use std::sync::Arc;

    fn value(p: Pop<u32>) -> Option<u32> {
        match p {
            Pop::Value(v) => Some(v),
            _ => None,
        }
    }

    #[test]
    fn fifo_full_empty_and_wraparound() {
        let r = Ring::new(3);
        for lap in 0..5u32 {
            for i in 0..3 {
                assert!(matches!(r.push(lap * 10 + i), Push::Done));
            }
            assert_eq!(r.len(), 3);
            assert!(matches!(r.push(99), Push::Full(99)));
            for i in 0..3 {
                assert_eq!(value(r.pop()), Some(lap * 10 + i));
            }
            assert!(matches!(r.pop(), Pop::Empty));
            assert_eq!(r.len(), 0);
        }
    }

    #[test]
    fn close_drains_then_reports_closed() {
        let r = Ring::new(2);
        assert!(matches!(r.push(1), Push::Done));
        assert!(r.close());
        assert!(!r.close());
        assert!(r.is_closed());
        assert!(matches!(r.push(2), Push::Closed(2)));
        assert_eq!(value(r.pop()), Some(1));
        assert!(matches!(r.pop(), Pop::Closed));
    }

    #[test]
    fn len_counts_across_the_wrap() {
        let r = Ring::new(4);
        for i in 0..4 {
            assert!(matches!(r.push(i), Push::Done));
        }
        assert_eq!(value(r.pop()), Some(0));
        assert_eq!(value(r.pop()), Some(1));
        assert!(matches!(r.push(4), Push::Done));
        assert_eq!(r.len(), 3);
        assert!(matches!(r.push(5), Push::Done));
        assert_eq!(r.len(), 4);
        assert!(matches!(r.push(6), Push::Full(6)));
    }

    struct Counted(Arc<StdAtomic>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    #[test]
    fn drop_drops_buffered_values_once() {
        let drops = Arc::new(StdAtomic::new(0));
        let r = Ring::new(4);
        for _ in 0..6 {
            if let Pop::Value(v) = r.pop() {
                drop(v);
            }
            let _ = r.push(Counted(drops.clone()));
            let _ = r.push(Counted(drops.clone()));
        }
        // Pushes that found it full dropped their value on the spot.
        let before = drops.load(std::sync::atomic::Ordering::Relaxed);
        let left = r.len();
        assert_eq!(left, 4);
        drop(r);
        assert_eq!(
            drops.load(std::sync::atomic::Ordering::Relaxed),
            before + left
        );
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn an_impossible_capacity_is_a_clear_panic() {
        let _ = Ring::<u64>::new(usize::MAX / 2);
    }

    #[test]
    fn mpmc_every_value_exactly_once() {
        // Under miri, enough to wrap the ring; natively, enough to race.
        const PER: u64 = if cfg!(miri) { 300 } else { 100_000 };
        let r = Arc::new(Ring::new(8));
        let seen = Arc::new((0..4 * PER).map(|_| StdAtomic::new(0)).collect::<Vec<_>>());
        let mut threads = Vec::new();
        for p in 0..4 {
            let r = r.clone();
            threads.push(std::thread::spawn(move || {
                for i in 0..PER {
                    let mut v = p * PER + i;
                    loop {
                        match r.push(v) {
                            Push::Done => break,
                            Push::Full(b) | Push::Busy(b) => {
                                v = b;
                                std::thread::yield_now();
                            }
                            Push::Closed(_) => unreachable!(),
                        }
                    }
                }
            }));
        }
        let mut consumers = Vec::new();
        for _ in 0..4 {
            let (r, seen) = (r.clone(), seen.clone());
            consumers.push(std::thread::spawn(move || loop {
                match r.pop() {
                    Pop::Value(v) => {
                        seen[v as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Pop::Empty | Pop::Busy => std::thread::yield_now(),
                    Pop::Closed => return,
                }
            }));
        }
        for t in threads {
            t.join().unwrap();
        }
        r.close();
        for t in consumers {
            t.join().unwrap();
        }
        for (v, n) in seen.iter().enumerate() {
            assert_eq!(n.load(std::sync::atomic::Ordering::Relaxed), 1, "value {v}");
        }
    }
}
