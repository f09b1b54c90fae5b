//! A global allocator that counts, per thread, the allocations it serves.
//!
//! The bench binary installs it:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: gort_bench::counting_alloc::CountingAlloc = gort_bench::counting_alloc::CountingAlloc;
//! ```
//!
//! Counters are thread-local, so a measurement taken around a loop on one
//! thread sees only that loop's allocations, not those of other workers.
//! They count allocations made (bytes requested and calls), never subtract
//! frees: a `realloc` counts as one allocation of its new size. The cost per
//! allocation is two thread-local additions, the same for every contender.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static BYTES: Cell<u64> = const { Cell::new(0) };
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

/// [`System`] plus per-thread counters of allocated bytes and allocation calls.
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAlloc;

/// The calling thread's counters at one instant.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Bytes requested from the allocator by this thread so far.
    pub bytes: u64,
    /// Allocation calls (alloc, alloc_zeroed, realloc) by this thread so far.
    pub calls: u64,
}

impl Snapshot {
    /// The counters of the calling thread now.
    pub fn now() -> Snapshot {
        Snapshot {
            bytes: BYTES.try_with(Cell::get).unwrap_or(0),
            calls: CALLS.try_with(Cell::get).unwrap_or(0),
        }
    }

    /// What was allocated between `earlier` and `self` (both on this thread).
    pub fn since(self, earlier: Snapshot) -> Snapshot {
        Snapshot {
            bytes: self.bytes.wrapping_sub(earlier.bytes),
            calls: self.calls.wrapping_sub(earlier.calls),
        }
    }
}

/// Whether [`CountingAlloc`] is the global allocator of this process (probed
/// by making one allocation and watching the counters).
pub fn is_installed() -> bool {
    let before = Snapshot::now();
    let probe = std::hint::black_box(Box::new(0u64));
    let after = Snapshot::now();
    drop(probe);
    after.since(before).calls > 0
}

fn record(bytes: usize) {
    // `try_with` on a const-initialised thread local without a destructor
    // neither allocates nor fails; ignoring an error keeps this infallible.
    let _ = BYTES.try_with(|b| b.set(b.get().wrapping_add(bytes as u64)));
    let _ = CALLS.try_with(|c| c.set(c.get().wrapping_add(1)));
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System` upholds the `GlobalAlloc` contract; the counting
// itself does not allocate and cannot unwind.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: the caller guarantees `layout` has non-zero size, as `System.alloc` requires.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: the caller guarantees `layout` has non-zero size, as `System.alloc_zeroed` requires.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator, i.e. by `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: `ptr` was allocated by `System` with `layout`, and the caller
        // guarantees `new_size` is non-zero and does not overflow when rounded to `layout.align()`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
