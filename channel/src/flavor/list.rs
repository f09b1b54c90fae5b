//! The buffer of `unbounded()`: a singly linked list of fixed-size blocks of
//! slots, with a head and a tail position advanced by compare-and-swap, no
//! lock, and one allocation per block (never one per value).
//!
//! # Positions, laps and blocks
//!
//! Head and tail are each a pair: an index (an `AtomicUsize`) and a pointer
//! to the block that index falls in. The lowest bit of an index is a flag
//! (see below); the position proper is `index >> SHIFT`. Positions are
//! grouped in laps of `LAP` consecutive values, one lap per block:
//! `offset = position % LAP` picks the slot. A block has `BLOCK_CAP = LAP -
//! 1` slots, so the last offset of each lap, `BLOCK_CAP`, names no slot: an
//! index resting there means "the thread that took the block's last slot is
//! linking in the next block; wait a moment". The number of slots before a
//! position `p` is `p - p / LAP`, which is how [`List::len`] counts.
//!
//! - Tail: a push reserves the position under tail with a `SeqCst` CAS of
//!   `tail -> tail + 1`. The push that reserves a block's last slot (which
//!   moves tail onto the linking offset) also allocated the next block
//!   beforehand; it stores that block into `tail.block`, steps the tail
//!   index past the linking offset, and links it as `block.next`, all before
//!   writing its own value. The lowest bit of the tail index is `CLOSED`:
//!   once set, every CAS made with a clear bit fails, so a push whose CAS
//!   succeeded reserved its slot before the close.
//! - Head: a pop reserves the position under head with a `SeqCst` CAS. The
//!   pop that reserves a block's last slot (and finds it written) stores the
//!   next block into `head.block` and then the next block's first index into
//!   `head.index`. The lowest bit of the head index is `HAS_NEXT`: the head
//!   block is known not to be the last one, so every slot up to its end is
//!   reserved by some push and a pop need not read the tail to rule out
//!   `Empty`.
//!
//! No block exists until the first push: the first pusher allocates one,
//! publishes it in `head.block` (CAS from null) and then in `tail.block`;
//! a concurrent first pusher whose CAS lost keeps its block as a spare (for
//! a later block, or freed when its push ends) and waits for `tail.block`.
//!
//! # Slot states
//!
//! Each slot holds a value cell and a state word of bits:
//!
//! - `WRITE`: the push that reserved the slot has written its value
//!   (a release read-modify-write).
//! - `READ`: the pop that reserved the slot is done with it (the value is
//!   moved out); the block may be freed as far as this slot is concerned.
//! - `DESTROY`: the thread freeing the block found this slot not yet `READ`
//!   and handed it the rest of the job (below).
//! - `LEFT`: the pop that reserved the slot gave up waiting for the value
//!   and could not give its reservation back (below); the value belongs to
//!   its push again.
//!
//! Each bit is set at most once in a slot's life, by one thread (`WRITE`
//! by the slot's push, `LEFT` by its pop, `READ` by whichever of the two
//! retires it, `DESTROY` by the one walk that stops there), so setting a
//! bit that is known to be clear with `fetch_add` is the same as with
//! `fetch_or`. The two of every operation, `WRITE` and `READ`, use
//! `fetch_add`: its result is one instruction on x86 (`lock xadd`), where
//! a `fetch_or` whose result is used is a compare-and-swap loop.
//!
//! # A pop never waits for a push
//!
//! A pop cannot look at a slot before reserving it: once head has moved on,
//! the block may be freed under it. So a pop reserves first (which pins the
//! block, since the slot is not `READ`), then checks `WRITE`. If the push
//! that owns the slot has reserved it and not yet written it, the pop spins
//! a few hints and then gives up and returns [`Pop::Busy`]:
//!
//! - Usually it gives the reservation back, a CAS of head from the value it
//!   installed back to the one it found. That works while no other pop has
//!   reserved after it, and always works for a block's last slot (head then
//!   rests on the linking offset, which no other pop moves).
//! - If another pop already reserved the next slot, it sets `LEFT` on the
//!   slot instead. Exactly one of `LEFT` (from the pop) and `WRITE` (from
//!   the push) lands first: if the value was written first, the pop takes
//!   it after all; otherwise the push, seeing `LEFT` in the result of its
//!   own `WRITE`, moves its value back out, retires the slot in the pop's
//!   place (reclamation below), and pushes the value again at a fresh tail
//!   position. (If the list was closed in between, that second attempt
//!   returns [`Push::Closed`] with the value: this is the one way a push that
//!   reserved before the close does not end `Done`.)
//!
//! Pushes do wait, briefly, for another push's two-instruction step: at a
//! linking offset, and while the first block is being published. A pop
//! waits only at a linking offset of head, for the pop that is moving head
//! onto the next block (which never waits for a push there: it has seen its
//! slot written, or puts head back).
//!
//! # Reclamation
//!
//! A block is freed once every one of its slots has been retired, by
//! whichever thread finishes last, without a reference count: the thread
//! that retires the block's last slot starts the destruction (it is the
//! last slot to be reserved, so every other slot is reserved by then, for
//! good: a reservation can be given back only while no later slot is). It
//! walks slots `0..BLOCK_CAP - 1`; at a slot not yet `READ` it sets
//! `DESTROY` and, if the slot is still not `READ` (the RMW tells), stops: the
//! thread that later sets `READ` on that slot sees `DESTROY` in the result
//! and continues the walk from the following slot. The thread that reaches
//! the end of the walk frees the block. A slot is retired (`READ`) by its
//! pop after moving the value out, or by its push when the pop `LEFT`. No
//! thread touches a block after retiring its slot in it, and no thread
//! touches a block in which it holds no unretired reservation, so the block
//! outlives every access to it.
//!
//! # Ordering
//!
//! As the module above requires: reservations are `SeqCst` RMWs; a value is
//! published with a release RMW (`WRITE`) and taken after an acquire load
//! of it; `Empty` and `Closed` are decided on a `SeqCst` load of the tail
//! index that shows nothing reserved beyond head.

use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr;

use super::{Pop, Push};
use crate::loom::atomic::{AtomicPtr, AtomicUsize, Ordering};
use crate::loom::{spin_hint, CachePadded, UnsafeCell};

/// Flag bits below the position in an index.
const SHIFT: usize = 1;
/// One position, as an index delta.
const ONE: usize = 1 << SHIFT;
/// In the tail index: the list is closed.
const CLOSED: usize = 1;
/// In the head index: the head block is not the last block.
const HAS_NEXT: usize = 1;

/// Positions per block (the last one names no slot). Under loom a block has
/// two slots, so the models cross block boundaries in a few operations.
const LAP: usize = if cfg!(loom) { 3 } else { 32 };
/// Slots per block.
const BLOCK_CAP: usize = LAP - 1;

/// Slot state: the value is written.
const WRITE: usize = 1;
/// Slot state: the slot is retired (value moved out, or handed back).
const READ: usize = 2;
/// Slot state: the block's destruction waits for this slot to retire.
const DESTROY: usize = 4;
/// Slot state: the reserving pop gave up on the slot; the push keeps it.
const LEFT: usize = 8;

/// Spin hints a pop spends waiting for the value of a slot it reserved
/// before giving up with `Busy` (none under loom, where the model explores
/// the interleavings instead, nor in the unit tests, so that their stress
/// runs take the give-up paths often).
const BUSY_SPINS: u32 = if cfg!(any(loom, test)) { 0 } else { 32 };

/// The slot offset (within its block) of an index.
#[inline(always)]
fn offset(index: usize) -> usize {
    (index >> SHIFT) % LAP
}

/// The number of slots before an index's position.
#[inline(always)]
fn slots_before(index: usize) -> usize {
    let position = index >> SHIFT;
    position - position / LAP
}

struct Slot<T> {
    value: UnsafeCell<MaybeUninit<T>>,
    state: AtomicUsize,
}

struct Block<T> {
    /// The next block, set by the push that reserves this block's last slot
    /// before it writes that slot.
    next: AtomicPtr<Block<T>>,
    slots: [Slot<T>; BLOCK_CAP],
    /// Under loom: `Some` while the block is live. Freeing takes it (a
    /// tracked allocation, so loom reports a block never freed) and every
    /// access checks it, so a use after free, or a free not ordered after
    /// an access, fails the model.
    #[cfg(loom)]
    live: UnsafeCell<Option<::loom::alloc::Track<()>>>,
}

impl<T> Block<T> {
    /// A fresh block: no `next`, every slot empty with state 0.
    #[cfg(not(loom))]
    fn alloc() -> *mut Block<T> {
        use std::alloc::{alloc_zeroed, handle_alloc_error, Layout};
        let layout = Layout::new::<Block<T>>();
        // Zeroing in place avoids building a large block on the stack.
        // All-zero bytes are a valid `Block<T>`: a null `AtomicPtr`,
        // `AtomicUsize` 0, and `MaybeUninit` cells that may hold anything.
        // SAFETY: the layout is not zero-sized (a block holds an
        // `AtomicPtr`); the zeroed bytes are a valid block, as just said.
        let block = unsafe { alloc_zeroed(layout) }.cast::<Block<T>>();
        if block.is_null() {
            handle_alloc_error(layout);
        }
        block
    }

    #[cfg(loom)]
    fn alloc() -> *mut Block<T> {
        Box::into_raw(Box::new(Block {
            next: AtomicPtr::new(ptr::null_mut()),
            slots: std::array::from_fn(|_| Slot {
                value: UnsafeCell::new(MaybeUninit::uninit()),
                state: AtomicUsize::new(0),
            }),
            live: UnsafeCell::new(Some(::loom::alloc::Track::new(()))),
        }))
    }

    /// The block behind `block`; under loom, first checks that it has not
    /// been freed (and lets loom check the access against the free).
    ///
    /// # Safety
    /// `block` came from [`Block::alloc`] and is live: it has not been freed
    /// and will not be while the reference is used.
    #[inline(always)]
    unsafe fn get<'a>(block: *mut Block<T>) -> &'a Block<T> {
        // SAFETY: live (caller). Under loom a freed block's memory is kept
        // until the list is dropped, so the check itself reads valid memory.
        let b = unsafe { &*block };
        #[cfg(loom)]
        b.live.with(|live| {
            // SAFETY: a shared access to the cell, which loom tracks.
            let live = unsafe { (*live).is_some() };
            assert!(live, "a list block was used after it was freed");
        });
        b
    }
}

/// A head or tail position: an index and the block it falls in.
struct Position<T> {
    index: AtomicUsize,
    block: AtomicPtr<Block<T>>,
}

impl<T> Position<T> {
    fn new() -> Self {
        Position {
            index: AtomicUsize::new(0),
            block: AtomicPtr::new(ptr::null_mut()),
        }
    }
}

/// Backs off after a lost race or while another thread finishes a step.
struct Backoff(u32);

impl Backoff {
    /// Spins grow `1, 2, 4, ...` hints up to `1 << SPIN_LIMIT`.
    const SPIN_LIMIT: u32 = 6;
    /// `snooze` yields the thread once spinning has not helped.
    const YIELD_LIMIT: u32 = 10;

    fn new() -> Self {
        Backoff(0)
    }

    /// After losing a CAS race: the winner has moved on already. (Under
    /// loom, one yield: the model explores the interleavings.)
    #[inline]
    fn spin(&mut self) {
        if cfg!(loom) {
            spin_hint();
            return;
        }
        for _ in 0..1u32 << self.0.min(Self::SPIN_LIMIT) {
            spin_hint();
        }
        if self.0 <= Self::SPIN_LIMIT {
            self.0 += 1;
        }
    }

    /// While another thread is between two steps we need it to finish.
    /// (Under loom, one yield.)
    fn snooze(&mut self) {
        if cfg!(loom) {
            spin_hint();
            return;
        }
        if self.0 <= Self::SPIN_LIMIT {
            for _ in 0..1u32 << self.0 {
                spin_hint();
            }
        } else {
            std::thread::yield_now();
        }
        if self.0 <= Self::YIELD_LIMIT {
            self.0 += 1;
        }
    }
}

/// The unbounded MPMC queue of `unbounded()` channels.
pub(crate) struct List<T> {
    head: CachePadded<Position<T>>,
    tail: CachePadded<Position<T>>,
    /// Blocks allocated, blocks freed, and slots `LEFT`, for the tests.
    #[cfg(all(test, not(loom)))]
    counts: [std::sync::atomic::AtomicUsize; 3],
    /// Tests only: every few pushes yield between reserving and writing,
    /// so pops find unwritten slots.
    #[cfg(all(test, not(loom)))]
    stall_pushes: std::sync::atomic::AtomicBool,
    /// Under loom, freed blocks are kept here until the list is dropped, so
    /// [`Block::get`] can detect a use after free.
    #[cfg(loom)]
    freed: std::sync::Mutex<Vec<Box<Block<T>>>>,
    /// Owns `T`s (for drop check); `Send`/`Sync` are written below.
    _owns: PhantomData<T>,
}

// SAFETY: values move between threads through the slots, so `T: Send` is
// needed and enough: a slot's value is accessed by one thread at a time
// (its push until `WRITE`, then the pop whose CAS reserved it, or the push
// again after `LEFT`), handed over by release/acquire on the slot state.
// Blocks are owned by the list and freed by exactly one thread.
unsafe impl<T: Send> Send for List<T> {}
// SAFETY: as above; `&List` only moves whole values in and out.
unsafe impl<T: Send> Sync for List<T> {}

impl<T> List<T> {
    /// An empty list. Allocates nothing: the first push allocates the
    /// first block.
    pub(crate) fn new() -> Self {
        List {
            head: CachePadded(Position::new()),
            tail: CachePadded(Position::new()),
            #[cfg(all(test, not(loom)))]
            counts: Default::default(),
            #[cfg(all(test, not(loom)))]
            stall_pushes: Default::default(),
            #[cfg(loom)]
            freed: std::sync::Mutex::new(Vec::new()),
            _owns: PhantomData,
        }
    }

    fn new_block(&self) -> *mut Block<T> {
        #[cfg(all(test, not(loom)))]
        self.counts[0].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Block::alloc()
    }

    /// Frees a block.
    ///
    /// # Safety
    /// `block` came from [`List::new_block`], is freed once, and no thread
    /// accesses it afterwards.
    unsafe fn free_block(&self, block: *mut Block<T>) {
        #[cfg(all(test, not(loom)))]
        self.counts[1].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        #[cfg(not(loom))]
        // Dropping a block drops no value: the slots are `MaybeUninit`.
        // The caller guarantees it is freed once and unused afterwards.
        // SAFETY: allocated by the global allocator with `Block<T>`'s
        // layout (`Block::alloc`), as `Box::from_raw` requires.
        drop(unsafe { Box::from_raw(block) });
        #[cfg(loom)]
        {
            // SAFETY: loom blocks are boxed (`Block::alloc`) and this is
            // the one free; the memory stays allocated in `freed`.
            let block = unsafe { Box::from_raw(block) };
            block.live.with_mut(|live| {
                // SAFETY: `with_mut` is the exclusive access loom checks.
                let was_live = unsafe { (*live).take() };
                assert!(was_live.is_some(), "a list block was freed twice");
            });
            let mut freed = match self.freed.lock() {
                Ok(freed) => freed,
                Err(poisoned) => poisoned.into_inner(),
            };
            freed.push(block);
        }
    }

    /// One attempt at the uncontended push: into a slot of the tail block
    /// that is not its last one (the push of the last slot links the next
    /// block), with the CAS that reserves it won. `Err` gives the value
    /// back and nothing was pushed (closed, the first block not yet there,
    /// the last slot, a race lost, or the slot's pop left it):
    /// [`push`](Self::push) then does the rest. Inline, and small: it is
    /// the whole of all but one in `BLOCK_CAP` sends.
    #[inline]
    pub(crate) fn try_push(&self, value: T) -> Result<(), T> {
        let tail = self.tail.index.load(Ordering::Acquire);
        let block = self.tail.block.load(Ordering::Acquire);
        let offset = offset(tail);
        if tail & CLOSED != 0
            || offset + 1 >= BLOCK_CAP
            || block.is_null()
            || self
                .tail
                .index
                .compare_exchange_weak(tail, tail + ONE, Ordering::SeqCst, Ordering::Acquire)
                .is_err()
        {
            return Err(value);
        }
        // SAFETY: as in `push`: our CAS reserved position `tail`, which lies
        // in `block`, live until the slot is retired; it is not the block's
        // last slot, so no spare block is needed.
        match unsafe { self.write_reserved(block, offset, value, &mut ptr::null_mut()) } {
            None => Ok(()),
            // The pop of our slot left (and the slot is retired).
            Some(back) => Err(back),
        }
    }

    /// Pushes `value` at the tail, or gives it back if the list is closed.
    pub(crate) fn push(&self, mut value: T) -> Push<T> {
        let mut backoff = Backoff::new();
        let mut tail = self.tail.index.load(Ordering::Acquire);
        let mut block = self.tail.block.load(Ordering::Acquire);
        // The block to link after this one, allocated before reserving the
        // last slot so the reservation is not held across an allocation.
        let mut spare: *mut Block<T> = ptr::null_mut();
        loop {
            if tail & CLOSED != 0 {
                // SAFETY: `spare` is ours alone and never published.
                unsafe { self.free_spare(spare) };
                return Push::Closed(value);
            }
            let offset = offset(tail);
            if offset == BLOCK_CAP {
                // The push that took the last slot is linking the next block.
                backoff.snooze();
                tail = self.tail.index.load(Ordering::Acquire);
                block = self.tail.block.load(Ordering::Acquire);
                continue;
            }
            if offset + 1 == BLOCK_CAP && spare.is_null() {
                spare = self.new_block();
            }
            if block.is_null() {
                self.install_first_block(&mut spare);
                backoff.snooze();
                tail = self.tail.index.load(Ordering::Acquire);
                block = self.tail.block.load(Ordering::Acquire);
                continue;
            }
            match self.tail.index.compare_exchange_weak(
                tail,
                tail + ONE,
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // `block` was loaded after the index, and `tail.block`
                    // changes only while the index rests on a linking
                    // offset, which `tail` is not. The slot is not retired,
                    // so the block is live until we retire it or a pop does.
                    // SAFETY: our CAS reserved position `tail`, in `block`.
                    match unsafe { self.write_reserved(block, offset, value, &mut spare) } {
                        None => {
                            // SAFETY: `spare` is ours alone and never
                            // published (`write_reserved` took it if used).
                            unsafe { self.free_spare(spare) };
                            return Push::Done;
                        }
                        Some(back) => {
                            // The pop of our slot left: push again.
                            value = back;
                            tail = self.tail.index.load(Ordering::Acquire);
                            block = self.tail.block.load(Ordering::Acquire);
                        }
                    }
                }
                Err(current) => {
                    tail = current;
                    block = self.tail.block.load(Ordering::Acquire);
                    backoff.spin();
                }
            }
        }
    }

    /// Publishes the first block: in `head.block` first (a CAS from null,
    /// so exactly one pusher's block wins), then in `tail.block`, which is
    /// what lets pushes reserve. A loser keeps its block as `spare`.
    #[cold]
    fn install_first_block(&self, spare: &mut *mut Block<T>) {
        if !self.head.block.load(Ordering::Acquire).is_null() {
            // Another pusher won and is about to publish it in the tail.
            return;
        }
        let first = if spare.is_null() {
            self.new_block()
        } else {
            std::mem::replace(spare, ptr::null_mut())
        };
        match self.head.block.compare_exchange(
            ptr::null_mut(),
            first,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => self.tail.block.store(first, Ordering::Release),
            Err(_) => *spare = first,
        }
    }

    /// Frees a spare block a push did not use.
    ///
    /// # Safety
    /// `spare` is null or a block from [`List::new_block`] never published.
    unsafe fn free_spare(&self, spare: *mut Block<T>) {
        if !spare.is_null() {
            // SAFETY: never published, so no other thread knows of it.
            unsafe { self.free_block(spare) };
        }
    }

    /// Writes `value` into the slot `offset` of `block`, which this thread
    /// has reserved; links the next block first if it is the last slot.
    /// Returns the value back if the slot's pop `LEFT` (the slot is then
    /// retired and the caller pushes again).
    ///
    /// # Safety
    /// This thread's tail CAS reserved slot `offset` of `block`; if it is
    /// the last slot, `spare` is a fresh block.
    ///
    /// Inline (the fast path calls it), with the linking and the `LEFT`
    /// case out of line.
    #[inline]
    unsafe fn write_reserved(
        &self,
        block: *mut Block<T>,
        offset: usize,
        value: T,
        spare: &mut *mut Block<T>,
    ) -> Option<T> {
        // SAFETY: the block is live while our reserved slot is not retired
        // (caller).
        let b = unsafe { Block::get(block) };
        if offset + 1 == BLOCK_CAP {
            self.link_next(b, spare);
        }
        #[cfg(all(test, not(loom)))]
        if self.stall_pushes.load(std::sync::atomic::Ordering::Relaxed) {
            tests::maybe_stall();
        }
        let slot = &b.slots[offset];
        slot.value.with_mut(|v| {
            // SAFETY: the slot is reserved by us and not yet `WRITE`: no other
            // thread reads or writes its value.
            unsafe { (*v).write(value) }
        });
        // `fetch_add`: `WRITE` is clear (module docs, slot states).
        let state = slot.state.fetch_add(WRITE, Ordering::AcqRel);
        if state & LEFT == 0 {
            return None;
        }
        // SAFETY: as for this function, and the pop left (`state`).
        Some(unsafe { self.take_back(block, offset) })
    }

    /// The push that reserved the last slot of `b` links `spare` as the
    /// next block and moves the tail index past the linking offset.
    #[cold]
    fn link_next(&self, b: &Block<T>, spare: &mut *mut Block<T>) {
        let next = std::mem::replace(spare, ptr::null_mut());
        debug_assert!(!next.is_null());
        // Tail rests on the linking offset: no other push moves it, and
        // pushes waiting there look again after the index changes.
        self.tail.block.store(next, Ordering::Release);
        self.tail.index.fetch_add(ONE, Ordering::Release);
        b.next.store(next, Ordering::Release);
    }

    /// The push of slot `offset` of `block` found `LEFT` when it set
    /// `WRITE`: takes its value back and retires the slot.
    ///
    /// # Safety
    /// This thread reserved the slot, wrote it, and saw `LEFT` in the
    /// result of its `WRITE`.
    #[cold]
    unsafe fn take_back(&self, block: *mut Block<T>, offset: usize) -> T {
        // SAFETY: the block is live while our slot is not retired.
        let slot = &unsafe { Block::get(block) }.slots[offset];
        let value = slot.value.with(|v| {
            // SAFETY: the pop that reserved the slot set `LEFT` before our
            // `WRITE` (the RMW result says so), so it will never read the value:
            // it is ours again, as we wrote it before the `WRITE`.
            unsafe { (*v).assume_init_read() }
        });
        // SAFETY: we retire the slot in the pop's place; this is our last
        // access to the block.
        unsafe { self.retire(block, offset) };
        value
    }

    /// One attempt at the uncontended pop: from a slot of the head block
    /// that is not its last one (the pop of the last slot moves head to the
    /// next block), with the CAS that reserves it won and the value
    /// written. `None`: nothing was taken (empty, closed, the last slot, a
    /// race lost, or a value not yet written, whose slot is given back or
    /// left to its push as in `pop`); [`pop`](Self::pop) then says why, or
    /// retries. Inline, as [`try_push`](Self::try_push).
    #[inline]
    pub(crate) fn try_pop(&self) -> Option<T> {
        let head = self.head.index.load(Ordering::Acquire);
        let block = self.head.block.load(Ordering::Acquire);
        let offset = offset(head);
        if offset + 1 >= BLOCK_CAP || block.is_null() {
            return None;
        }
        let mut new_head = head + ONE;
        if head & HAS_NEXT == 0 {
            let tail = self.tail.index.load(Ordering::SeqCst);
            if head >> SHIFT == tail >> SHIFT {
                return None;
            }
            if (head >> SHIFT) / LAP != (tail >> SHIFT) / LAP {
                new_head |= HAS_NEXT;
            }
        }
        if self
            .head
            .index
            .compare_exchange_weak(head, new_head, Ordering::SeqCst, Ordering::Acquire)
            .is_err()
        {
            return None;
        }
        // SAFETY: as in `pop`: our CAS reserved position `head`, which lies
        // in `block`, live while the slot is not retired.
        match unsafe { self.take_reserved(block, offset, head, new_head) } {
            Pop::Value(v) => Some(v),
            Pop::Empty | Pop::Busy | Pop::Closed => None,
        }
    }

    /// Pops the value at the head, or says why there is none.
    pub(crate) fn pop(&self) -> Pop<T> {
        let mut backoff = Backoff::new();
        let mut head = self.head.index.load(Ordering::Acquire);
        let mut block = self.head.block.load(Ordering::Acquire);
        loop {
            let offset = offset(head);
            if offset == BLOCK_CAP {
                // The pop that took the last slot is moving head on.
                backoff.snooze();
                head = self.head.index.load(Ordering::Acquire);
                block = self.head.block.load(Ordering::Acquire);
                continue;
            }
            let mut new_head = head + ONE;
            if head & HAS_NEXT == 0 {
                let tail = self.tail.index.load(Ordering::SeqCst);
                if head >> SHIFT == tail >> SHIFT {
                    return if tail & CLOSED != 0 {
                        Pop::Closed
                    } else {
                        Pop::Empty
                    };
                }
                if (head >> SHIFT) / LAP != (tail >> SHIFT) / LAP {
                    new_head |= HAS_NEXT;
                }
                if block.is_null() {
                    // A push reserved, so the first block is published in
                    // `head.block` (before `tail.block`, before the
                    // reservation we just saw).
                    block = self.head.block.load(Ordering::Acquire);
                }
            }
            if block.is_null() {
                // Not reachable by the above; look again rather than trust it.
                backoff.snooze();
                head = self.head.index.load(Ordering::Acquire);
                block = self.head.block.load(Ordering::Acquire);
                continue;
            }
            match self.head.index.compare_exchange_weak(
                head,
                new_head,
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                // `block` was loaded after the index; `head.block` changes
                // only while the index rests on a linking offset, which
                // `head` is not. The slot is not retired: the block is live.
                // SAFETY: our CAS reserved position `head`, in `block`.
                Ok(_) => return unsafe { self.take_reserved(block, offset, head, new_head) },
                Err(current) => {
                    head = current;
                    block = self.head.block.load(Ordering::Acquire);
                    backoff.spin();
                }
            }
        }
    }

    /// Takes the value of slot `offset` of `block`, which this thread
    /// reserved by moving head from `head` to `new_head`; gives up with
    /// `Busy` if its push has not written it after a few spins.
    ///
    /// # Safety
    /// This thread's head CAS `head -> new_head` reserved that slot.
    #[inline]
    unsafe fn take_reserved(
        &self,
        block: *mut Block<T>,
        offset: usize,
        head: usize,
        new_head: usize,
    ) -> Pop<T> {
        // SAFETY: the block is live while our slot is not retired (caller).
        let slot = &unsafe { Block::get(block) }.slots[offset];
        let mut spins = 0;
        while slot.state.load(Ordering::Acquire) & WRITE == 0 {
            if spins == BUSY_SPINS {
                // SAFETY: as for this function.
                return unsafe { self.give_up(block, offset, head, new_head) };
            }
            spins += 1;
            spin_hint();
        }
        // SAFETY: reserved by us and `WRITE` seen with acquire.
        unsafe { self.read_written(block, offset, new_head) }
    }

    /// The push of our reserved slot is still writing: hand the slot back
    /// (put head back), or leave it to the push; `Busy` either way, unless
    /// the value lands in the meantime.
    ///
    /// # Safety
    /// As for [`List::take_reserved`].
    #[cold]
    unsafe fn give_up(
        &self,
        block: *mut Block<T>,
        offset: usize,
        head: usize,
        new_head: usize,
    ) -> Pop<T> {
        if offset + 1 == BLOCK_CAP {
            // Head rests on the linking offset, which no other pop moves:
            // putting it back always succeeds.
            self.head.index.store(head, Ordering::SeqCst);
            return Pop::Busy;
        }
        if self
            .head
            .index
            .compare_exchange(new_head, head, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok()
        {
            // Head is where we found it and every slot from it on is
            // unreserved again.
            return Pop::Busy;
        }
        // Another pop reserved after us: we cannot put head back.
        // SAFETY: the block is live while our slot is not retired.
        let slot = &unsafe { Block::get(block) }.slots[offset];
        if slot.state.fetch_or(LEFT, Ordering::AcqRel) & WRITE == 0 {
            #[cfg(all(test, not(loom)))]
            self.counts[2].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // The push will see `LEFT`, take its value back and retire the
            // slot; we no longer touch the block.
            return Pop::Busy;
        }
        // The value landed first: the push will not look at `LEFT`.
        // SAFETY: reserved by us and `WRITE` seen with acquire (AcqRel RMW).
        unsafe { self.read_written(block, offset, new_head) }
    }

    /// Moves the value out of our reserved, written slot and retires it; if
    /// it is the block's last slot, first moves head to the next block.
    ///
    /// # Safety
    /// This thread reserved slot `offset` of `block` (moving head to
    /// `new_head`) and has seen `WRITE` on it with acquire.
    #[inline]
    unsafe fn read_written(&self, block: *mut Block<T>, offset: usize, new_head: usize) -> Pop<T> {
        // SAFETY: the block is live while our slot is not retired.
        let b = unsafe { Block::get(block) };
        if offset + 1 == BLOCK_CAP {
            // SAFETY: as for this function, at the block's last slot.
            unsafe { self.advance_head(b, new_head) };
        }
        let slot = &b.slots[offset];
        let value = slot.value.with(|v| {
            // SAFETY: the slot is ours (reserved) and written (`WRITE` seen
            // with acquire); the value is moved out exactly once, here.
            unsafe { (*v).assume_init_read() }
        });
        // SAFETY: our last access to the block.
        unsafe { self.retire(block, offset) };
        Pop::Value(value)
    }

    /// The pop that reserved the last slot of `b` (moving head to
    /// `new_head`, the linking offset) moves head to the next block.
    ///
    /// # Safety
    /// This thread reserved the last slot of `b` and has seen it written.
    #[cold]
    unsafe fn advance_head(&self, b: &Block<T>, new_head: usize) {
        // The push of the last slot linked `next` before writing it.
        let next = b.next.load(Ordering::Acquire);
        // SAFETY: `next` is live: head has not reached it, so none of its
        // slots is retired.
        let next_block = unsafe { Block::get(next) };
        let mut next_index = (new_head & !HAS_NEXT).wrapping_add(ONE);
        if !next_block.next.load(Ordering::Relaxed).is_null() {
            next_index |= HAS_NEXT;
        }
        self.head.block.store(next, Ordering::Release);
        self.head.index.store(next_index, Ordering::Release);
    }

    /// Retires slot `offset` of `block`: the last slot starts the block's
    /// destruction, any other sets `READ` and continues a destruction that
    /// stopped at it.
    ///
    /// # Safety
    /// The caller holds the slot (its pop, or its push after `LEFT`), its
    /// value is moved out, and it does not touch the block afterwards.
    #[inline]
    unsafe fn retire(&self, block: *mut Block<T>, offset: usize) {
        if offset + 1 == BLOCK_CAP {
            // SAFETY: as for this function.
            unsafe { self.destroy(block, 0) };
            return;
        }
        // SAFETY: the block is live while this slot is not retired.
        let slot = &unsafe { Block::get(block) }.slots[offset];
        // `fetch_add`: `READ` is clear (module docs, slot states).
        if slot.state.fetch_add(READ, Ordering::AcqRel) & DESTROY != 0 {
            // SAFETY: the destruction waited for this slot, and handed us
            // the rest of it.
            unsafe { self.destroy(block, offset + 1) };
        }
    }

    /// Frees `block` once slots `start..BLOCK_CAP - 1` are retired, or
    /// hands the job to the first one that is not.
    ///
    /// # Safety
    /// The last slot is retired by the caller (or `start > 0` and the walk
    /// was handed to the caller by slot `start - 1`); slots before `start`
    /// are retired.
    #[inline(never)]
    unsafe fn destroy(&self, block: *mut Block<T>, start: usize) {
        for i in start..BLOCK_CAP - 1 {
            // SAFETY: slot `i` is not known to be retired, so the block is
            // live.
            let slot = &unsafe { Block::get(block) }.slots[i];
            if slot.state.load(Ordering::Acquire) & READ == 0
                && slot.state.fetch_or(DESTROY, Ordering::AcqRel) & READ == 0
            {
                // Its holder will see `DESTROY` when it retires it.
                return;
            }
        }
        // SAFETY: every slot is retired and each retirement (acquired
        // above, or by the thread that handed us the walk) happened before
        // this; nobody touches the block after retiring its slot.
        unsafe { self.free_block(block) };
    }

    /// Sets the closed bit; `true` if this call set it.
    pub(crate) fn close(&self) -> bool {
        self.tail.index.fetch_or(CLOSED, Ordering::SeqCst) & CLOSED == 0
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.tail.index.load(Ordering::SeqCst) & CLOSED != 0
    }

    /// Values buffered: reserved pushes count, reserved pops do not.
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.index.load(Ordering::SeqCst);
            let head = self.head.index.load(Ordering::SeqCst);
            // A consistent pair: tail did not move while we read head.
            if self.tail.index.load(Ordering::SeqCst) == tail {
                return slots_before(tail).saturating_sub(slots_before(head));
            }
        }
    }

    /// Blocks currently allocated (tests only).
    #[cfg(all(test, not(loom)))]
    fn live_blocks(&self) -> usize {
        let allocated = self.counts[0].load(std::sync::atomic::Ordering::Relaxed);
        allocated - self.counts[1].load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Slots left to their push by a pop that gave up (tests only).
    #[cfg(all(test, not(loom)))]
    fn left_slots(&self) -> usize {
        self.counts[2].load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl<T> Drop for List<T> {
    fn drop(&mut self) {
        // `&mut self`: no push or pop is in progress, so every slot between
        // head and tail holds a written value owned by the list, head and
        // tail are not on a linking offset, every block before the head
        // block is freed, and the blocks from the head block on are linked.
        let mut head = self.head.index.load(Ordering::Relaxed) & !HAS_NEXT;
        let tail = self.tail.index.load(Ordering::Relaxed) & !CLOSED;
        let mut block = self.head.block.load(Ordering::Relaxed);
        while head != tail {
            let offset = offset(head);
            // SAFETY: `block` is the live block of `head` (see above).
            let b = unsafe { Block::get(block) };
            if offset < BLOCK_CAP {
                b.slots[offset].value.with_mut(|v| {
                    // SAFETY: a written value nobody else will read, dropped
                    // exactly once here.
                    unsafe { (*v).assume_init_drop() }
                });
            } else {
                let next = b.next.load(Ordering::Relaxed);
                // SAFETY: every value of this block is gone and no other
                // thread can reach it.
                unsafe { self.free_block(block) };
                block = next;
            }
            head = head.wrapping_add(ONE);
        }
        if !block.is_null() {
            // SAFETY: the last block, drained; nobody else can reach it.
            unsafe { self.free_block(block) };
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize as StdAtomic, Ordering as Std};
    use std::sync::Arc;

    /// Yields the thread on every 8th call on this thread.
    pub(super) fn maybe_stall() {
        thread_local!(static CALLS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) });
        if CALLS.with(|c| {
            c.set(c.get().wrapping_add(1));
            c.get() % 8 == 0
        }) {
            std::thread::yield_now();
        }
    }

    fn value<T>(p: Pop<T>) -> Option<T> {
        match p {
            Pop::Value(v) => Some(v),
            _ => None,
        }
    }

    #[test]
    fn fifo_across_many_blocks() {
        let l = List::new();
        assert_eq!(l.live_blocks(), 0, "new() allocates nothing");
        assert!(matches!(l.pop(), Pop::Empty));
        let n = 10 * BLOCK_CAP as u32 + 7;
        for round in 0..3u32 {
            for i in 0..n {
                assert!(matches!(l.push(round * n + i), Push::Done));
            }
            for i in 0..n {
                assert_eq!(value(l.pop()), Some(round * n + i));
            }
            assert!(matches!(l.pop(), Pop::Empty));
        }
    }

    #[test]
    fn len_counts_values_across_blocks() {
        let l = List::new();
        assert_eq!(l.len(), 0);
        for i in 0..100 {
            let _ = l.push(i);
            assert_eq!(l.len(), i + 1);
        }
        for i in 0..100 {
            assert_eq!(value(l.pop()), Some(i));
            assert_eq!(l.len(), 99 - i);
        }
        // Interleaved, crossing block boundaries with a few values buffered.
        for i in 0..200 {
            let _ = l.push(i);
            let _ = l.push(i);
            assert_eq!(value(l.pop()), Some(i / 2));
            assert_eq!(l.len(), i + 1);
        }
    }

    #[test]
    fn close_drains_then_reports_closed() {
        let l = List::new();
        for i in 0..40 {
            assert!(matches!(l.push(i), Push::Done));
        }
        assert!(!l.is_closed());
        assert!(l.close());
        assert!(!l.close());
        assert!(l.is_closed());
        assert!(matches!(l.push(99), Push::Closed(99)));
        for i in 0..40 {
            assert_eq!(value(l.pop()), Some(i));
        }
        assert!(matches!(l.pop(), Pop::Closed));
        assert!(matches!(l.pop(), Pop::Closed));
        assert_eq!(l.len(), 0);
    }

    #[test]
    fn close_before_any_push() {
        let l = List::<String>::new();
        assert!(l.close());
        match l.push("x".to_string()) {
            Push::Closed(v) => assert_eq!(v, "x"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(l.pop(), Pop::Closed));
        assert_eq!(l.live_blocks(), 0);
    }

    struct Counted(Arc<StdAtomic>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Std::Relaxed);
        }
    }

    #[test]
    fn drop_drops_each_buffered_value_once() {
        for (pushed, popped) in [
            (0, 0),
            (1, 0),
            (1, 1),
            (BLOCK_CAP, 0),
            (BLOCK_CAP, BLOCK_CAP),
            (BLOCK_CAP + 1, BLOCK_CAP - 1),
            (5 * BLOCK_CAP + 3, 2 * BLOCK_CAP + 5),
            (5 * BLOCK_CAP + 3, 5 * BLOCK_CAP + 3),
        ] {
            let drops = Arc::new(StdAtomic::new(0));
            let l = List::new();
            for _ in 0..pushed {
                assert!(matches!(l.push(Counted(drops.clone())), Push::Done));
            }
            for _ in 0..popped {
                assert!(value(l.pop()).is_some());
            }
            assert_eq!(
                drops.load(Std::Relaxed),
                popped,
                "popped values dropped once"
            );
            assert_eq!(l.len(), pushed - popped);
            drop(l);
            assert_eq!(
                drops.load(Std::Relaxed),
                pushed,
                "{pushed} pushed, {popped} popped"
            );
        }
    }

    #[test]
    fn memory_goes_back_after_a_burst() {
        let l = List::new();
        let blocks = if cfg!(miri) { 5 } else { 100 };
        let burst = blocks * BLOCK_CAP;
        for i in 0..burst {
            let _ = l.push(i);
        }
        assert!(l.live_blocks() >= blocks);
        for _ in 0..burst {
            assert!(value(l.pop()).is_some());
        }
        // Only the current (tail) block is left.
        assert_eq!(l.live_blocks(), 1);
        // A steady trickle does not grow it.
        for i in 0..10 * burst {
            let _ = l.push(i);
            assert_eq!(value(l.pop()), Some(i));
            assert!(l.live_blocks() <= 2);
        }
        drop(l);
    }

    #[test]
    fn zero_sized_values() {
        let l = List::new();
        for _ in 0..100 {
            let _ = l.push(());
        }
        assert_eq!(l.len(), 100);
        for _ in 0..100 {
            assert!(matches!(l.pop(), Pop::Value(())));
        }
        assert!(matches!(l.pop(), Pop::Empty));
    }

    /// Reserves the next tail position as a push would, without writing it
    /// (a push stalled between its CAS and its write).
    fn reserve_tail<T>(l: &List<T>) -> (*mut Block<T>, usize) {
        let tail = l.tail.index.load(Ordering::SeqCst);
        assert!(offset(tail) + 1 < BLOCK_CAP, "test reserves mid-block");
        let block = l.tail.block.load(Ordering::SeqCst);
        assert!(!block.is_null());
        l.tail
            .index
            .compare_exchange(tail, tail + ONE, Ordering::SeqCst, Ordering::SeqCst)
            .expect("single-threaded");
        (block, offset(tail))
    }

    #[test]
    fn a_pop_of_an_unwritten_slot_gives_it_back_and_is_busy() {
        let l = List::new();
        let _ = l.push(0u32);
        assert_eq!(value(l.pop()), Some(0));
        let (block, offset) = reserve_tail(&l);
        assert!(matches!(l.pop(), Pop::Busy));
        assert!(matches!(l.pop(), Pop::Busy));
        assert_eq!(l.len(), 1);
        // The stalled push completes; its value is next.
        let mut spare = ptr::null_mut();
        // SAFETY: `reserve_tail` reserved this slot for us.
        assert!(unsafe { l.write_reserved(block, offset, 7, &mut spare) }.is_none());
        assert_eq!(value(l.pop()), Some(7));
        assert!(matches!(l.pop(), Pop::Empty));
    }

    #[test]
    fn a_pop_that_cannot_give_back_leaves_the_slot_to_its_push() {
        let drops = Arc::new(StdAtomic::new(0));
        let l = List::new();
        let _ = l.push(Counted(drops.clone()));
        assert!(value(l.pop()).is_some());
        // Two pushes reserve; only the second writes.
        let (block_a, off_a) = reserve_tail(&l);
        let (block_b, off_b) = reserve_tail(&l);
        let mut spare = ptr::null_mut();
        let written =
            // SAFETY: reserved above.
            unsafe { l.write_reserved(block_b, off_b, Counted(drops.clone()), &mut spare) };
        assert!(written.is_none());
        // Pop A reserves the first slot (as its CAS would) ...
        let head = l.head.index.load(Ordering::SeqCst);
        l.head.index.store(head + ONE, Ordering::SeqCst);
        // ... pop B takes the second ...
        assert!(value(l.pop()).is_some());
        // ... and pop A, finding its slot unwritten, cannot put head back.
        // SAFETY: the head move above reserved that slot for "pop A".
        let taken = unsafe { l.take_reserved(block_a, off_a, head, head + ONE) };
        assert!(matches!(taken, Pop::Busy));
        // The stalled push sees `LEFT` and gets its value back to push again.
        // SAFETY: reserved above.
        let back = unsafe { l.write_reserved(block_a, off_a, Counted(drops.clone()), &mut spare) };
        let back = back.expect("the pop left the slot");
        assert!(matches!(l.push(back), Push::Done));
        assert_eq!(l.len(), 1);
        assert!(value(l.pop()).is_some());
        assert!(matches!(l.pop(), Pop::Empty));
        assert_eq!(drops.load(Std::Relaxed), 3);
        // The left slot was retired: blocks are still reclaimed.
        for _ in 0..3 * BLOCK_CAP {
            let _ = l.push(Counted(drops.clone()));
            assert!(value(l.pop()).is_some());
        }
        assert_eq!(l.live_blocks(), 1);
    }

    #[test]
    fn mpmc_every_value_exactly_once_and_fifo_per_producer() {
        let (busy, left) = mpmc(false);
        eprintln!("mpmc: {busy} Busy pops, {left} slots left");
    }

    /// The same with pushes stalling between reserving and writing: pops
    /// find unwritten slots, give them back or leave them to their push.
    #[test]
    fn mpmc_with_stalled_pushes() {
        let (busy, left) = mpmc(true);
        eprintln!("mpmc, stalled pushes: {busy} Busy pops, {left} slots left");
        assert!(busy > 0);
    }

    /// 4 producers and 4 consumers, 200 000 values each; returns the Busy
    /// pops and the slots left.
    fn mpmc(stall: bool) -> (u64, usize) {
        const PRODUCERS: usize = 4;
        const CONSUMERS: usize = 4;
        // Under miri, enough to cross blocks; natively, enough to race.
        const PER: usize = if cfg!(miri) { 300 } else { 200_000 };
        let per = if stall { PER / 4 } else { PER };
        let l = Arc::new(List::new());
        l.stall_pushes.store(stall, Std::Relaxed);
        let seen = Arc::new(
            (0..PRODUCERS * per)
                .map(|_| StdAtomic::new(0))
                .collect::<Vec<_>>(),
        );
        let mut producers = Vec::new();
        for p in 0..PRODUCERS {
            let l = l.clone();
            producers.push(std::thread::spawn(move || {
                for i in 0..per {
                    assert!(matches!(l.push(p * per + i), Push::Done));
                }
            }));
        }
        let mut consumers = Vec::new();
        for _ in 0..CONSUMERS {
            let (l, seen) = (l.clone(), seen.clone());
            consumers.push(std::thread::spawn(move || {
                let mut last = [None::<usize>; PRODUCERS];
                let mut busy = 0u64;
                loop {
                    match l.pop() {
                        Pop::Value(v) => {
                            seen[v].fetch_add(1, Std::Relaxed);
                            let (p, i) = (v / per, v % per);
                            if let Some(j) = last[p] {
                                assert!(j < i, "producer {p} out of order");
                            }
                            last[p] = Some(i);
                        }
                        Pop::Busy => {
                            busy += 1;
                            std::thread::yield_now();
                        }
                        Pop::Empty => std::hint::spin_loop(),
                        Pop::Closed => return busy,
                    }
                }
            }));
        }
        for t in producers {
            t.join().unwrap();
        }
        assert!(l.close());
        let busy: u64 = consumers.into_iter().map(|t| t.join().unwrap()).sum();
        for (v, n) in seen.iter().enumerate() {
            assert_eq!(n.load(Std::Relaxed), 1, "value {v}");
        }
        assert!(matches!(l.pop(), Pop::Closed));
        assert!(l.live_blocks() <= 1, "{} blocks left", l.live_blocks());
        (busy, l.left_slots())
    }

    /// Producers and consumers racing a close: every value pushed with
    /// `Done` is popped exactly once, every other one came back.
    #[test]
    fn close_racing_pushes_loses_nothing() {
        for _ in 0..if cfg!(miri) { 2 } else { 20 } {
            let l = Arc::new(List::new());
            let pushers: Vec<_> = (0..2)
                .map(|p| {
                    let l = l.clone();
                    std::thread::spawn(move || {
                        let mut done = Vec::new();
                        for i in 0..if cfg!(miri) { 300 } else { 20_000usize } {
                            match l.push(p * 1_000_000 + i) {
                                Push::Done => done.push(p * 1_000_000 + i),
                                Push::Closed(v) => assert_eq!(v, p * 1_000_000 + i),
                                other => panic!("{other:?}"),
                            }
                        }
                        done
                    })
                })
                .collect();
            let popper = {
                let l = l.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    loop {
                        match l.pop() {
                            Pop::Value(v) => got.push(v),
                            Pop::Empty | Pop::Busy => std::hint::spin_loop(),
                            Pop::Closed => return got,
                        }
                    }
                })
            };
            std::thread::sleep(std::time::Duration::from_micros(300));
            l.close();
            let mut pushed: Vec<usize> = pushers
                .into_iter()
                .flat_map(|t| t.join().unwrap())
                .collect();
            let mut got = popper.join().unwrap();
            pushed.sort_unstable();
            got.sort_unstable();
            assert_eq!(pushed, got);
        }
    }
}
