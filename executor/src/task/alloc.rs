//! Task memory: Go's free lists of dead Gs (`gfput` / `gfget`), for task
//! allocations.
//!
//! A spawn-heavy program allocates on one processor and frees on another
//! (a task spawned on P0 completes on P1), the pattern a general-purpose
//! allocator's per-thread caches serve worst: in `spawn_many_local` malloc
//! and free took about a quarter of all samples. So task blocks of up to
//! 280 bytes come in fourteen size classes and are recycled:
//!
//! - each worker thread keeps a free list per class (`LOCAL_MAX` blocks);
//! - a list that grows past that hands a batch of `BATCH` blocks to a
//!   process-wide queue of batches (at most `GLOBAL_MAX_BATCHES` per class;
//!   beyond that blocks go back to the allocator);
//! - an empty list takes a batch from that queue before asking the allocator.
//!
//! Threads that are not workers (the `block_on` thread, foreign threads)
//! use the allocator directly. A worker's list is freed when its thread
//! exits. Blocks are allocated with their class's layout whoever frees
//! them, so any block of a class can serve any task of that class.

use std::alloc::Layout;
use std::cell::Cell;
use std::ptr::{self, NonNull};

/// Block sizes: 72, 88, 104, ... 280, every size 8 less than a multiple
/// of 16 (the sizes malloc serves without waste: glibc adds an 8-byte
/// header and rounds chunks up to 16), so a task wastes at most 15 bytes
/// to its class. An empty `async {}` task is 72 bytes (class 72); the
/// task of BENCHMARKS.md's seed/rss_per_parked_unit, parked on a channel
/// receive, is 152 and takes a 152-byte block, where classes 32 bytes
/// apart would give it a 184-byte one and classes of powers of two a
/// 256-byte one.
const MIN_CLASS: usize = 72;
/// Bytes between one class and the next.
const CLASS_STEP: usize = 16;
/// How many classes there are.
const NUM_CLASSES: usize = 14;
/// The largest class.
const MAX_CLASS: usize = MIN_CLASS + (NUM_CLASSES - 1) * CLASS_STEP;
/// Alignment of every class block (malloc's own minimum on 64-bit targets).
const ALIGN: usize = 16;
/// Free blocks a worker keeps per class before spilling a batch.
const LOCAL_MAX: usize = 128;
/// Blocks moved between a worker and the global queue at once (Go moves 32).
const BATCH: usize = 32;
/// Batches the global queue keeps per class while the runtime runs
/// (4,096 x 32 = 131,072 blocks: a burst of 100,000 live tasks recycles its
/// blocks instead of going through malloc, as Go keeps every dead G). At
/// most 4,096 x 32 x 2,464 bytes (308 MiB) over all classes, held only while
/// some worker of a runtime stays busy: see [`trim_idle`] for what stays
/// once every worker has parked, and the runtime's last worker trims on
/// exit. The lists are process-wide: an idle runtime's trim also thins
/// what a busy runtime of the same process recycles.
const GLOBAL_MAX_BATCHES: usize = 4096;
/// Batches per class [`trim_idle`] leaves (32 x 32 x 2,464 B = 2.4 MiB at
/// most over all classes; a program uses a few classes).
#[cfg(not(loom))]
const GLOBAL_IDLE_BATCHES: usize = 32;

#[inline]
fn class_of(layout: Layout) -> Option<usize> {
    if cfg!(loom) || layout.align() > ALIGN || layout.size() > MAX_CLASS {
        return None;
    }
    Some(layout.size().saturating_sub(MIN_CLASS).div_ceil(CLASS_STEP))
}

/// Bytes in a block of `class`.
fn class_size(class: usize) -> usize {
    MIN_CLASS + class * CLASS_STEP
}

fn class_layout(class: usize) -> Layout {
    // Every size is non-zero and far below `isize::MAX`; 16 is a power of
    // two (a size need not be a multiple of the alignment).
    Layout::from_size_align(class_size(class), ALIGN).expect("valid class layout")
}

/// A free block, linked through its own first word.
struct FreeBlock {
    next: *mut FreeBlock,
}

/// A list of `len` free blocks.
struct Batch {
    head: NonNull<FreeBlock>,
    len: usize,
}

// SAFETY: a batch owns its blocks exclusively; they are plain memory.
unsafe impl Send for Batch {}

struct Global {
    batches: crossbeam_queue::SegQueue<Batch>,
    count: std::sync::atomic::AtomicUsize,
}

static GLOBAL: [Global; NUM_CLASSES] = [Global::NEW; NUM_CLASSES];

impl Global {
    #[allow(clippy::declare_interior_mutable_const)]
    const NEW: Global = Global {
        batches: crossbeam_queue::SegQueue::new(),
        count: std::sync::atomic::AtomicUsize::new(0),
    };
}

/// One worker thread's free lists.
struct LocalCache {
    enabled: Cell<bool>,
    heads: [Cell<*mut FreeBlock>; NUM_CLASSES],
    lens: [Cell<usize>; NUM_CLASSES],
}

thread_local! {
    static LOCAL: LocalCache = const {
        LocalCache {
            enabled: Cell::new(false),
            heads: [const { Cell::new(ptr::null_mut()) }; NUM_CLASSES],
            lens: [const { Cell::new(0) }; NUM_CLASSES],
        }
    };
}

/// Turns recycling on for the calling thread (a worker, at start).
pub(crate) fn enable_thread_cache() {
    let _ = LOCAL.try_with(|l| l.enabled.set(true));
}

impl LocalCache {
    fn pop(&self, class: usize) -> Option<NonNull<u8>> {
        if self.heads[class].get().is_null() {
            let batch = GLOBAL[class].batches.pop()?;
            GLOBAL[class]
                .count
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            self.heads[class].set(batch.head.as_ptr());
            self.lens[class].set(batch.len);
        }
        let head = self.heads[class].get();
        // SAFETY: a non-null head is a free block this thread owns; its
        // first word was written by `push` (or by the batch it came in).
        let next = unsafe { (*head).next };
        self.heads[class].set(next);
        self.lens[class].set(self.lens[class].get() - 1);
        NonNull::new(head.cast())
    }

    /// # Safety
    /// `block` is a block of class `class` that nobody else uses.
    unsafe fn push(&self, class: usize, block: NonNull<u8>) {
        let block = block.as_ptr().cast::<FreeBlock>();
        // SAFETY: the block is ours and at least one word large.
        unsafe {
            block.write(FreeBlock {
                next: self.heads[class].get(),
            })
        };
        self.heads[class].set(block);
        let len = self.lens[class].get() + 1;
        self.lens[class].set(len);
        if len > LOCAL_MAX {
            self.spill(class);
        }
    }

    /// Moves `BATCH` blocks to the global queue, or frees them if it is full.
    fn spill(&self, class: usize) {
        let head = self.heads[class].get();
        let mut tail = head;
        for _ in 1..BATCH {
            // SAFETY: the list holds more than BATCH blocks, all ours.
            tail = unsafe { (*tail).next };
        }
        // SAFETY: as above; `tail` is the BATCH-th block.
        let rest = unsafe { std::mem::replace(&mut (*tail).next, ptr::null_mut()) };
        self.heads[class].set(rest);
        self.lens[class].set(self.lens[class].get() - BATCH);
        let global = &GLOBAL[class];
        let head = NonNull::new(head).expect("non-empty list");
        if global.count.load(std::sync::atomic::Ordering::Relaxed) < GLOBAL_MAX_BATCHES {
            global
                .count
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            global.batches.push(Batch { head, len: BATCH });
        } else {
            // SAFETY: the batch's blocks are ours, allocated with the class layout.
            unsafe { free_list(head.as_ptr(), class_layout(class)) };
        }
    }
}

impl Drop for LocalCache {
    fn drop(&mut self) {
        for class in 0..NUM_CLASSES {
            // SAFETY: the thread is exiting; its lists are ours.
            unsafe { free_list(self.heads[class].get(), class_layout(class)) };
        }
    }
}

/// # Safety
/// `head` starts a list of free blocks that all have `layout` and are ours.
unsafe fn free_list(mut head: *mut FreeBlock, layout: Layout) {
    while !head.is_null() {
        // SAFETY: per the caller.
        let next = unsafe { (*head).next };
        // SAFETY: the block was allocated with `layout` and is unused.
        unsafe { std::alloc::dealloc(head.cast(), layout) };
        head = next;
    }
}

/// Batches [`trim_idle`] frees per call (at most 1,024 blocks: tens of
/// microseconds), so a worker that trims is never long away from the
/// reactor or from being woken.
#[cfg(not(loom))]
pub(crate) const TRIM_CHUNK: usize = 32;

/// Gives the global free lists back to the allocator towards
/// `GLOBAL_IDLE_BATCHES` per class: at most `max_batches` batches, one at a
/// time while `go_on()` says so. Returns `true` if there is more to give
/// back. Idle workers call it a chunk at a time, pausing in between (Go's
/// scavenger, in its simplest form), so a runtime that went idle after a
/// burst keeps what the old fixed cap kept, while a busy one recycles up
/// to `GLOBAL_MAX_BATCHES`.
#[cfg(not(loom))]
pub(crate) fn trim_idle(max_batches: usize, go_on: impl Fn() -> bool) -> bool {
    trim(&GLOBAL, max_batches, go_on)
}

/// [`trim_idle`] over the lists `lists` (the process-wide ones, or a
/// test's own).
#[cfg(not(loom))]
fn trim(lists: &[Global; NUM_CLASSES], max_batches: usize, go_on: impl Fn() -> bool) -> bool {
    let mut freed = 0;
    for (class, global) in lists.iter().enumerate() {
        while global.count.load(std::sync::atomic::Ordering::Relaxed) > GLOBAL_IDLE_BATCHES {
            if freed == max_batches || !go_on() {
                return true;
            }
            let Some(batch) = global.batches.pop() else {
                break;
            };
            global
                .count
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            // SAFETY: a popped batch's blocks are ours, allocated with the
            // class layout.
            unsafe { free_list(batch.head.as_ptr(), class_layout(class)) };
            freed += 1;
        }
    }
    false
}

/// Allocates memory for a task.
pub(crate) fn allocate(layout: Layout) -> NonNull<u8> {
    let layout = match class_of(layout) {
        Some(class) => {
            let cached = LOCAL
                .try_with(|l| if l.enabled.get() { l.pop(class) } else { None })
                .ok()
                .flatten();
            if let Some(block) = cached {
                return block;
            }
            class_layout(class)
        }
        None => layout,
    };
    // SAFETY: task layouts have non-zero size (the header alone is 48 bytes).
    let ptr = unsafe { std::alloc::alloc(layout) };
    NonNull::new(ptr).unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
}

/// Frees memory that `allocate(layout)` returned.
///
/// # Safety
/// `ptr` came from `allocate` with the same `layout` and is no longer used.
pub(crate) unsafe fn deallocate(ptr: NonNull<u8>, layout: Layout) {
    match class_of(layout) {
        Some(class) => {
            let kept = LOCAL
                .try_with(|l| {
                    if l.enabled.get() {
                        // SAFETY: per our caller, the block is ours and of this class.
                        unsafe { l.push(class, ptr) };
                        true
                    } else {
                        false
                    }
                })
                .unwrap_or(false);
            if !kept {
                // SAFETY: class blocks are allocated with the class layout.
                unsafe { std::alloc::dealloc(ptr.as_ptr(), class_layout(class)) };
            }
        }
        // SAFETY: allocated with `layout` itself.
        None => unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) },
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_small_layouts_only() {
        let class = |size, align| class_of(Layout::from_size_align(size, align).unwrap());
        assert_eq!(class(48, 8), Some(0));
        assert_eq!(class(72, 8), Some(0));
        assert_eq!(class(73, 8), Some(1));
        assert_eq!(class(80, 8), Some(1));
        assert_eq!(class(88, 8), Some(1));
        assert_eq!(class(168, 8), Some(6));
        assert_eq!(class(169, 8), Some(7));
        assert_eq!(class(272, 16), Some(NUM_CLASSES - 1));
        assert_eq!(class(280, 8), Some(NUM_CLASSES - 1));
        assert_eq!(class(281, 8), None);
        assert_eq!(class(64, 32), None);
        // Every class is 8 less than a multiple of 16 and fits what maps to it.
        for c in 0..NUM_CLASSES {
            assert_eq!((class_size(c) + 8) % 16, 0);
            assert_eq!(class(class_size(c), 8), Some(c));
        }
    }

    #[test]
    fn an_idle_trim_gives_the_excess_back_and_stops_when_told() {
        // Lists of the test's own: other tests' runtimes trim the global ones.
        #[allow(clippy::declare_interior_mutable_const)]
        const EMPTY: Global = Global::NEW;
        let lists: [Global; NUM_CLASSES] = [EMPTY; NUM_CLASSES];
        let class = NUM_CLASSES - 1;
        let filled = GLOBAL_IDLE_BATCHES + 8;
        for _ in 0..filled {
            // SAFETY: the class layout has a non-zero size.
            let block = unsafe { std::alloc::alloc(class_layout(class)) }.cast::<FreeBlock>();
            let head = NonNull::new(block).expect("allocation");
            // SAFETY: a fresh block, ours, at least a word large.
            unsafe {
                head.as_ptr().write(FreeBlock {
                    next: ptr::null_mut(),
                })
            };
            lists[class].batches.push(Batch { head, len: 1 });
            lists[class]
                .count
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let count = || {
            lists[class]
                .count
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        assert!(trim(&lists, usize::MAX, || false), "more to give back");
        assert_eq!(count(), filled, "a trim told to stop freed batches");
        assert!(trim(&lists, 3, || true), "more to give back");
        assert_eq!(count(), filled - 3, "a chunk of 3 batches");
        assert!(!trim(&lists, usize::MAX, || true), "nothing more");
        assert_eq!(count(), GLOBAL_IDLE_BATCHES);
        assert!(!trim(&lists, usize::MAX, || true));
        // What the trim leaves goes back to the allocator here.
        while let Some(batch) = lists[class].batches.pop() {
            // SAFETY: ours, allocated with the class layout.
            unsafe { free_list(batch.head.as_ptr(), class_layout(class)) };
        }
    }

    /// A burst of live tasks fills the process-wide lists beyond what an
    /// idle runtime keeps; once every worker is parked they are trimmed
    /// back, a chunk per pause, without any further spawn.
    #[test]
    #[cfg_attr(
        miri,
        ignore = "20,000 tasks and a wait for the idle trim: hours under miri"
    )]
    fn an_idle_runtime_trims_what_a_burst_left() {
        let rt = crate::runtime::Builder::new()
            .worker_threads(2)
            .build()
            .unwrap();
        // A task whose future holds 128 bytes: its class (200 bytes), which
        // no other test of this crate uses.
        let task = |i: u64| {
            let pad = [i; 16];
            async move { pad.iter().sum::<u64>() }
        };
        fn class_of_task<F: std::future::Future>(_: &F) -> usize {
            let size = crate::task::task_size::<F, crate::scheduler::Scheduler>();
            class_of(Layout::from_size_align(size, 8).unwrap()).unwrap()
        }
        let layout_class = class_of_task(&task(0));
        let count = move || {
            GLOBAL[layout_class]
                .count
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        // Spawned and joined on the workers (a thread that is not a worker
        // uses the allocator directly).
        let burst = rt.spawn(async move {
            let handles: Vec<_> = (0..20_000u64).map(|i| crate::spawn(task(i))).collect();
            for (i, h) in handles.into_iter().enumerate() {
                assert_eq!(h.await.unwrap(), 16 * i as u64);
            }
            count()
        });
        let peak = rt.block_on(burst).unwrap();
        // Another test's runtime trims the same lists when it is dropped;
        // the burst must at least have filled them past what a trim leaves.
        assert!(
            peak > GLOBAL_IDLE_BATCHES,
            "the burst left only {peak} batches: not a test of the trim"
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while count() > GLOBAL_IDLE_BATCHES {
            assert!(
                std::time::Instant::now() < deadline,
                "still {} batches after 30 s idle (peak {peak})",
                count()
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        drop(rt);
    }

    #[test]
    fn blocks_are_recycled_through_local_and_global_lists() {
        // A fresh thread so the cache starts empty and is freed at exit.
        std::thread::spawn(|| {
            enable_thread_cache();
            let layout = Layout::from_size_align(64, 8).unwrap();
            let blocks: Vec<_> = (0..LOCAL_MAX + BATCH).map(|_| allocate(layout)).collect();
            let addrs: std::collections::HashSet<usize> =
                blocks.iter().map(|b| b.as_ptr() as usize).collect();
            assert_eq!(
                addrs.len(),
                blocks.len(),
                "a live block was handed out twice"
            );
            for b in &blocks {
                // SAFETY: from `allocate(layout)`, not used again.
                unsafe { deallocate(*b, layout) };
            }
            // What was freed is handed out again before the allocator is asked.
            let again: Vec<_> = (0..LOCAL_MAX).map(|_| allocate(layout)).collect();
            assert!(again.iter().all(|b| addrs.contains(&(b.as_ptr() as usize))));
            for b in again {
                // SAFETY: as above.
                unsafe { deallocate(b, layout) };
            }
        })
        .join()
        .unwrap();
    }
}
