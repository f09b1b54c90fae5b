//! The timer wheel: six levels of 64 slots, 1 ms per slot at level 0 (so
//! level `l` slots are 64^l ms wide and the wheel spans 2^36 ms, about two
//! years; later deadlines are clamped). Insert and cancel are O(1); an
//! advance visits only occupied slots (one bitmap word per level), moving
//! entries of a higher-level slot down a level when its time comes, as the
//! hashed hierarchical wheels of Varghese & Lauck (and tokio's driver).
//!
//! Entries live in a slab (`Vec` plus free list) and are linked into their
//! slot by index, so there is no `unsafe` here and a cancelled timer costs
//! nothing afterwards. A `TimerKey` carries the slot's generation, so a
//! stale key (its entry freed and reused) touches nothing.
//!
//! Time is in ticks: whole milliseconds since the reactor's base instant.
//! A deadline is rounded *up* to a tick and fires once the wheel has been
//! advanced to that tick with `now` rounded *down*, so no timer fires early.

use std::task::Waker;

const LEVELS: usize = 6;
const SLOTS: usize = 64;
const SLOT_BITS: u32 = 6;
/// The furthest deadline, in ticks from now (2^36 - 1 ms); deadlines are
/// clamped to the end of the current top-level rotation, `elapsed | MAX_SPAN`.
pub(crate) const MAX_SPAN: u64 = (1 << (SLOT_BITS * LEVELS as u32)) - 1;
const NIL: u32 = u32::MAX;

/// Names a timer in the wheel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    index: u32,
    generation: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EntryState {
    Free,
    /// Linked in `levels[level].slots[slot]`.
    Waiting {
        level: u8,
        slot: u8,
    },
    Fired,
}

struct Entry {
    deadline: u64,
    generation: u32,
    state: EntryState,
    prev: u32,
    next: u32,
    waker: Option<Waker>,
}

#[derive(Clone, Copy)]
struct Slot {
    head: u32,
    tail: u32,
}

struct Level {
    /// Bit `s` set: slot `s` holds entries.
    occupied: u64,
    slots: [Slot; SLOTS],
}

/// What a poll of a timer found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TimerState {
    Waiting,
    Fired,
    /// The key names no live timer (never happens through `Sleep`).
    Gone,
}

pub(crate) struct Wheel {
    /// The tick the wheel has been advanced to.
    elapsed: u64,
    levels: Vec<Level>,
    entries: Vec<Entry>,
    free: Vec<u32>,
    /// Timers linked in the wheel (not fired, not cancelled).
    waiting: usize,
}

impl Wheel {
    pub(crate) fn new() -> Self {
        let empty = Slot {
            head: NIL,
            tail: NIL,
        };
        Wheel {
            elapsed: 0,
            levels: (0..LEVELS)
                .map(|_| Level {
                    occupied: 0,
                    slots: [empty; SLOTS],
                })
                .collect(),
            entries: Vec::new(),
            free: Vec::new(),
            waiting: 0,
        }
    }

    /// Timers waiting in the wheel.
    pub(crate) fn len(&self) -> usize {
        self.waiting
    }

    /// Adds a timer for `deadline` (a tick). A deadline at or before the
    /// wheel's time fires at the next advance.
    pub(crate) fn insert(&mut self, deadline: u64, waker: Waker) -> TimerKey {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.entries.push(Entry {
                    deadline: 0,
                    generation: 0,
                    state: EntryState::Free,
                    prev: NIL,
                    next: NIL,
                    waker: None,
                });
                (self.entries.len() - 1) as u32
            }
        };
        let e = &mut self.entries[index as usize];
        // Clamp to the end of the current top-level rotation (at most
        // 2^36 - 1 ms ahead): further out, the top-level slot would be the
        // current one and `advance` would take and re-link it forever. A
        // clamped timer fires early and `Sleep` re-inserts it (it checks
        // its own deadline).
        e.deadline = deadline.min(self.elapsed | MAX_SPAN);
        e.waker = Some(waker);
        let key = TimerKey {
            index,
            generation: e.generation,
        };
        self.link(index);
        self.waiting += 1;
        key
    }

    /// The state of `key`'s timer; a waiting one takes `waker` if it would
    /// not wake the same task. The waker it replaces is handed back, for
    /// the caller to drop after releasing its lock (dropping a waker may
    /// drop a task that owns another timer of this wheel).
    pub(crate) fn poll(&mut self, key: TimerKey, waker: &Waker) -> (TimerState, Option<Waker>) {
        let Some(e) = self.entry_mut(key) else {
            return (TimerState::Gone, None);
        };
        match e.state {
            EntryState::Fired => (TimerState::Fired, None),
            EntryState::Waiting { .. } => {
                let old = if e.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
                    None
                } else {
                    e.waker.replace(waker.clone())
                };
                (TimerState::Waiting, old)
            }
            EntryState::Free => (TimerState::Gone, None),
        }
    }

    /// Cancels (or, after it fired, frees) `key`'s timer. O(1).
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<Waker> {
        let state = self.entry_mut(key)?.state;
        if let EntryState::Waiting { .. } = state {
            self.unlink(key.index);
            self.waiting -= 1;
        }
        let e = &mut self.entries[key.index as usize];
        e.state = EntryState::Free;
        e.generation = e.generation.wrapping_add(1);
        self.free.push(key.index);
        e.waker.take()
    }

    fn entry_mut(&mut self, key: TimerKey) -> Option<&mut Entry> {
        self.entries
            .get_mut(key.index as usize)
            .filter(|e| e.generation == key.generation && e.state != EntryState::Free)
    }

    /// The level whose slot holds `deadline` as seen from `elapsed`: the
    /// highest 6-bit digit in which they differ.
    fn level_for(elapsed: u64, deadline: u64) -> usize {
        let masked = (elapsed ^ deadline) | (SLOTS as u64 - 1);
        let significant = 63 - masked.leading_zeros();
        ((significant / SLOT_BITS) as usize).min(LEVELS - 1)
    }

    fn link(&mut self, index: u32) {
        let deadline = self.entries[index as usize].deadline;
        let level = Self::level_for(self.elapsed, deadline.max(self.elapsed));
        let slot = ((deadline.max(self.elapsed) >> (level as u32 * SLOT_BITS)) & 63) as usize;
        let lv = &mut self.levels[level];
        let tail = lv.slots[slot].tail;
        {
            let e = &mut self.entries[index as usize];
            e.state = EntryState::Waiting {
                level: level as u8,
                slot: slot as u8,
            };
            e.prev = tail;
            e.next = NIL;
        }
        if tail == NIL {
            lv.slots[slot].head = index;
        } else {
            self.entries[tail as usize].next = index;
        }
        lv.slots[slot].tail = index;
        lv.occupied |= 1 << slot;
    }

    fn unlink(&mut self, index: u32) {
        let (prev, next, level, slot) = {
            let e = &self.entries[index as usize];
            let EntryState::Waiting { level, slot } = e.state else {
                unreachable!("unlinking a timer that is not in the wheel")
            };
            (e.prev, e.next, level as usize, slot as usize)
        };
        let lv = &mut self.levels[level];
        if prev == NIL {
            lv.slots[slot].head = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next == NIL {
            lv.slots[slot].tail = prev;
        } else {
            self.entries[next as usize].prev = prev;
        }
        if lv.slots[slot].head == NIL {
            lv.occupied &= !(1 << slot);
        }
    }

    /// The start tick of the next occupied slot: `(level, slot, tick)`.
    fn next_expiration(&self) -> Option<(usize, usize, u64)> {
        for (level, lv) in self.levels.iter().enumerate() {
            if lv.occupied == 0 {
                continue;
            }
            let shift = level as u32 * SLOT_BITS;
            let slot_span = 1u64 << shift;
            let level_span = slot_span << SLOT_BITS;
            let now_slot = (self.elapsed >> shift) & 63;
            let rotated = lv.occupied.rotate_right(now_slot as u32);
            let slot = (rotated.trailing_zeros() as u64 + now_slot) % SLOTS as u64;
            let level_start = self.elapsed & !(level_span - 1);
            let mut tick = level_start + slot * slot_span;
            if tick + slot_span <= self.elapsed {
                // Behind us within this level's window: the next round.
                tick += level_span;
            }
            return Some((level, slot as usize, tick.max(self.elapsed)));
        }
        None
    }

    /// The tick at which the next timer may fire, if any.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.next_expiration().map(|(_, _, t)| t)
    }

    /// Advances the wheel to `now` (a tick), pushing the wakers of every
    /// timer whose deadline is at or before `now` onto `fired`.
    pub(crate) fn advance(&mut self, now: u64, fired: &mut Vec<Waker>) {
        while let Some((level, slot, tick)) = self.next_expiration() {
            if tick > now {
                break;
            }
            self.elapsed = tick;
            // Take the whole slot, then fire or move each entry down.
            let mut index = self.levels[level].slots[slot].head;
            self.levels[level].slots[slot] = Slot {
                head: NIL,
                tail: NIL,
            };
            self.levels[level].occupied &= !(1 << slot);
            while index != NIL {
                let next = self.entries[index as usize].next;
                let e = &mut self.entries[index as usize];
                if e.deadline <= now {
                    e.state = EntryState::Fired;
                    if let Some(w) = e.waker.take() {
                        fired.push(w);
                    }
                    self.waiting -= 1;
                } else {
                    self.link(index);
                }
                index = next;
            }
        }
        self.elapsed = self.elapsed.max(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<Count>, Waker) {
        let c = Arc::new(Count(AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    /// Advances one tick at a time and records when each timer fired.
    #[test]
    fn timers_fire_at_their_deadline_never_before() {
        let mut wheel = Wheel::new();
        // Deadlines on every level, and level boundaries.
        let deadlines = [
            0u64, 1, 5, 63, 64, 65, 100, 4095, 4096, 4097, 10_000, 262_143, 262_144, 300_000,
        ];
        let keys: Vec<_> = deadlines
            .iter()
            .map(|&d| (d, wheel.insert(d, waker().1)))
            .collect();
        assert_eq!(wheel.len(), deadlines.len());
        let mut fired_at = vec![None; deadlines.len()];
        let mut now = 0;
        while fired_at.iter().any(Option::is_none) {
            let mut fired = Vec::new();
            // Jump to the next deadline when far away, as a driver would.
            let next = wheel.next_deadline().expect("timers remain");
            now = now.max(next.min(now + 1000));
            wheel.advance(now, &mut fired);
            for (i, (d, key)) in keys.iter().enumerate() {
                if fired_at[i].is_none()
                    && wheel.poll(*key, &futures::task::noop_waker()).0 == TimerState::Fired
                {
                    assert!(now >= *d, "timer for {d} fired at {now}");
                    fired_at[i] = Some(now);
                }
            }
            now += 1;
        }
        for (i, &d) in deadlines.iter().enumerate() {
            assert_eq!(fired_at[i], Some(d), "timer for {d}");
        }
        assert_eq!(wheel.len(), 0);
    }

    #[test]
    fn cancelled_timers_never_fire_and_their_slots_are_reused() {
        let mut wheel = Wheel::new();
        let (count, w) = waker();
        let a = wheel.insert(10, w.clone());
        let b = wheel.insert(10, w.clone());
        let c = wheel.insert(5000, w.clone());
        assert!(wheel.remove(a).is_some());
        assert!(wheel.remove(c).is_some());
        assert_eq!(wheel.len(), 1);
        // A stale key is ignored.
        assert!(wheel.remove(a).is_none());
        assert_eq!(wheel.poll(a, &w).0, TimerState::Gone);
        let mut fired = Vec::new();
        wheel.advance(10_000, &mut fired);
        assert_eq!(fired.len(), 1);
        fired.into_iter().for_each(Waker::wake);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(wheel.poll(b, &w).0, TimerState::Fired);
        wheel.remove(b);
        // Freed entries are reused: no growth.
        let before = wheel.entries.len();
        for _ in 0..3 {
            let k = wheel.insert(20_000, w.clone());
            wheel.remove(k);
        }
        assert_eq!(wheel.entries.len(), before);
    }

    #[test]
    fn a_large_jump_fires_everything_due_in_order_of_levels() {
        let mut wheel = Wheel::new();
        let mut fired = Vec::new();
        wheel.advance(123_456, &mut fired);
        let keys: Vec<_> = [1u64, 70, 5000, 400_000, 30_000_000]
            .iter()
            .map(|d| wheel.insert(123_456 + d, waker().1))
            .collect();
        wheel.advance(123_456 + 400_000, &mut fired);
        assert_eq!(fired.len(), 4);
        assert_eq!(wheel.len(), 1);
        assert_eq!(wheel.next_deadline(), Some(next_slot_start(&wheel)));
        let w = futures::task::noop_waker();
        assert_eq!(wheel.poll(keys[4], &w).0, TimerState::Waiting);
        wheel.advance(123_456 + 30_000_000, &mut fired);
        assert_eq!(wheel.poll(keys[4], &w).0, TimerState::Fired);
    }

    fn next_slot_start(wheel: &Wheel) -> u64 {
        wheel.next_expiration().unwrap().2
    }

    /// A far deadline inserted after the wheel has moved (so the clamp
    /// is not aligned): advancing must not loop, and the clamped timer
    /// fires no later than the end of the rotation.
    #[test]
    fn far_deadlines_after_the_wheel_moved_do_not_loop() {
        for elapsed in [1000u64, (1 << 30) + 5, (1 << 36) - 2, (1 << 36) + 7] {
            let mut wheel = Wheel::new();
            let mut fired = Vec::new();
            wheel.advance(elapsed, &mut fired);
            let k = wheel.insert(u64::MAX, waker().1);
            let near = wheel.insert(elapsed + 10, waker().1);
            let clamp = elapsed | MAX_SPAN;
            wheel.advance(elapsed + 1, &mut fired);
            wheel.advance(elapsed + 20, &mut fired);
            let w = futures::task::noop_waker();
            assert_eq!(wheel.poll(near, &w).0, TimerState::Fired);
            let far_due = clamp <= elapsed + 20;
            assert_eq!(fired.len(), 1 + far_due as usize, "elapsed {elapsed}");
            let far_state = wheel.poll(k, &w).0;
            assert_eq!(far_state == TimerState::Fired, far_due, "elapsed {elapsed}");
            wheel.advance(clamp.max(elapsed + 20), &mut fired);
            assert_eq!(wheel.poll(k, &w).0, TimerState::Fired, "elapsed {elapsed}");
        }
    }

    #[test]
    fn deadlines_beyond_the_span_are_clamped() {
        let mut wheel = Wheel::new();
        let k = wheel.insert(u64::MAX, waker().1);
        let mut fired = Vec::new();
        wheel.advance(MAX_SPAN - 1, &mut fired);
        assert!(fired.is_empty());
        wheel.advance(MAX_SPAN, &mut fired);
        assert_eq!(fired.len(), 1);
        assert_eq!(
            wheel.poll(k, &futures::task::noop_waker()).0,
            TimerState::Fired
        );
    }
}
