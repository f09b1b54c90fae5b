//! Task memory: task blocks carved from spans, one size class per span
//! (Go's `mspan`), and Go's free lists of dead Gs (`gfput` / `gfget`).
//!
//! Task blocks of up to 288 bytes come in size classes 16 bytes apart and
//! are cut from 1 MiB spans, so a task takes its class's size and
//! nothing more: no allocator chunk header, no rounding to 16. A span's
//! header counts its blocks that are handed out; a span whose blocks have
//! all come back goes back to the allocator (one per class stays, empty,
//! for the next task). Larger or more aligned tasks use the allocator
//! directly, each behind a small link that puts it in one of a few locked
//! lists of large blocks.
//!
//! # Task memory is the registry
//!
//! [`for_each_block`] visits every block that can hold a task: each
//! class's spans (a list of all of them, full or not) up to their uncut
//! space, and the large lists. The first word of every such block is a
//! task's state word: in a span block, initialized when the block is cut
//! (0) and from then on written only atomically (by the task that holds
//! the block, and by a walker's read-modify-write); a large block's is
//! written before the block is listed, and only atomically after; the free lists link blocks through their
//! second word and never touch the first. A walker holds the class's (the
//! list's) lock while it looks, and spans are freed and large blocks
//! unlisted only under that lock, so the word stays readable while it
//! does; everything past the word is read only by a walker that found a
//! live task there and took a reference (`registry.rs`).
//!
//! A spawn-heavy program allocates on one processor and frees on another
//! (a task spawned on P0 completes on P1), the pattern a general-purpose
//! allocator's per-thread caches serve worst: in `spawn_many_local` malloc
//! and free took about a quarter of all samples. So a worker recycles the
//! blocks it frees without going back to the spans:
//!
//! - each worker thread keeps a free list per class (`LOCAL_MAX` blocks);
//! - a list that grows past that hands a batch of `BATCH` blocks to a
//!   process-wide queue of batches (at most `GLOBAL_MAX_BATCHES` per class;
//!   beyond that blocks go back to their spans);
//! - an empty list takes a batch from that queue, or else `BATCH` blocks
//!   from the class's spans at once (one lock for the batch).
//!
//! Threads that are not workers (the `block_on` thread, foreign threads)
//! take and give back one block at a time, under the class's span lock. A
//! worker's lists go back to their spans when its thread exits. Any block
//! of a class can serve any task of that class.

use std::alloc::Layout;
use std::cell::Cell;
use std::ptr::{self, NonNull};
use std::sync::atomic::AtomicUsize;
use std::sync::{Mutex, MutexGuard};

/// The smallest block: an empty `async {}` task is 64 bytes.
const MIN_CLASS: usize = 64;
/// Bytes between one class and the next (Go's classes in this range are
/// 16 apart too): a task wastes at most 15 bytes to its class (the task of
/// BENCHMARKS.md's seed/rss_per_parked_unit, parked on a channel receive,
/// is 144 bytes and takes a 144-byte block, where malloc would give it a
/// 160-byte chunk). Classes 8 apart wasted less, but blocks of the sizes
/// between (120, 184, ...) start at every 8 bytes of a cache line, and
/// the header of one in two then spans two lines: `ping_pong`, whose
/// tasks are 88, 120 and 192 bytes, ran 5-10% slower (BENCHMARKS.md).
const CLASS_STEP: usize = 16;
/// How many classes there are: 64, 80, ... 288.
const NUM_CLASSES: usize = 15;
/// The largest class.
const MAX_CLASS: usize = MIN_CLASS + (NUM_CLASSES - 1) * CLASS_STEP;
/// The largest alignment a class block serves: every class is a multiple
/// of 16, so every block is 16-aligned (spans are `SPAN`-aligned and
/// blocks start at `SPAN_HEADER`).
const ALIGN: usize = 16;
/// Bytes in a span, which is also its alignment: a block's span is its
/// address rounded down to a multiple of `SPAN`. Large, so that what an
/// over-aligned allocation costs the allocator (glibc writes a chunk
/// header in the page before the span: one more resident page) is spread
/// over thousands of blocks; only the pages blocks were cut from are
/// resident.
const SPAN: usize = 1 << 20;
/// Bytes of a span before its first block: its header, rounded up to a
/// multiple of 16 (7,281 blocks of 144 bytes in a span, 16 bytes left).
const SPAN_HEADER: usize = 64;
/// Spans with no block handed out that a class keeps (so a class whose
/// last task comes and goes does not allocate and free a span each time).
const SPARE_SPANS: usize = 1;
/// Free blocks a worker keeps per class before spilling a batch.
const LOCAL_MAX: usize = 128;
/// Blocks moved between a worker and the global queue at once (Go moves 32).
const BATCH: usize = 32;
/// Batches the global queue keeps per class while the runtime runs
/// (4,096 x 32 = 131,072 blocks: a burst of 100,000 live tasks recycles its
/// blocks instead of going back to the spans, as Go keeps every dead G).
/// 18 MiB for the 144-byte class (a program uses a few classes; 330 MiB if
/// all 15 filled), held only while some worker of a runtime stays busy:
/// see [`trim_idle`] for what stays once every worker has parked, and the
/// runtime's last worker trims on exit. The lists are process-wide: an
/// idle runtime's trim also thins what a busy runtime of the same process
/// recycles.
const GLOBAL_MAX_BATCHES: usize = 4096;
/// Batches per class [`trim_idle`] leaves (32 x 32 x 144 B = 144 KiB for
/// the 144-byte class).
#[cfg(not(loom))]
const GLOBAL_IDLE_BATCHES: usize = 32;

/// The class of a layout, if it has one (never under loom, whose models
/// see the allocator's calls only).
#[inline]
fn class_of(layout: Layout) -> Option<usize> {
    if cfg!(loom) || layout.align() > ALIGN {
        return None;
    }
    let size = layout.size();
    if size > MAX_CLASS {
        return None;
    }
    Some(size.saturating_sub(MIN_CLASS).div_ceil(CLASS_STEP))
}

/// Bytes in a block of `class`.
fn class_size(class: usize) -> usize {
    MIN_CLASS + class * CLASS_STEP
}

fn span_layout() -> Layout {
    // 1 MiB is a power of two and far below `isize::MAX`.
    Layout::from_size_align(SPAN, SPAN).expect("valid span layout")
}

/// A free block: its first word is the state word of the last task it
/// held (0 if none), which a walker may be reading; the free lists link
/// blocks through the second word.
#[repr(C)]
struct FreeBlock {
    state: AtomicUsize,
    next: *mut FreeBlock,
}

/// Links `block` in front of `next`.
///
/// # Safety
/// `block` is a free block nobody else uses (but a walker reading its
/// first word).
#[inline]
unsafe fn set_next(block: *mut FreeBlock, next: *mut FreeBlock) {
    // SAFETY: per the caller; only the second word is written.
    unsafe { ptr::addr_of_mut!((*block).next).write(next) };
}

/// The block after `block` in its list.
///
/// # Safety
/// `block` is a free block of a list the caller owns.
#[inline]
unsafe fn next_of(block: *mut FreeBlock) -> *mut FreeBlock {
    // SAFETY: per the caller; its link was written by `set_next`.
    unsafe { ptr::addr_of!((*block).next).read() }
}

/// The header at the start of a span. Touched only under its class's lock.
struct Span {
    /// Blocks handed out and not given back: in tasks, or in free lists.
    live: usize,
    /// Blocks given back, linked through their second word.
    free: *mut FreeBlock,
    /// Offset of the first block never handed out.
    bump: usize,
    /// Neighbours in the class's list of spans with room.
    prev: *mut Span,
    next: *mut Span,
    /// Whether the span is in that list.
    listed: bool,
    /// Neighbours in the class's list of all its spans (what a walk
    /// follows).
    all_prev: *mut Span,
    all_next: *mut Span,
}

const _: () = assert!(std::mem::size_of::<Span>() <= SPAN_HEADER);
const _: () = assert!(SPAN_HEADER.is_multiple_of(ALIGN));
const _: () = assert!(MIN_CLASS.is_multiple_of(ALIGN) && CLASS_STEP.is_multiple_of(ALIGN));

/// One class's spans, all of them in one list (what a walk follows);
/// those with room (a given-back block, or one never handed out) also in
/// a second, and a full span joins it again when one of its blocks comes
/// back.
struct Spans {
    /// The first span with room.
    head: *mut Span,
    /// The first of all spans.
    all: *mut Span,
    /// Spans with no block handed out (all listed).
    empty: usize,
}

// SAFETY: the spans and their blocks are plain memory owned by the class,
// touched only under its lock.
unsafe impl Send for Spans {}

static SPANS: [Mutex<Spans>; NUM_CLASSES] = [const {
    Mutex::new(Spans {
        head: ptr::null_mut(),
        all: ptr::null_mut(),
        empty: 0,
    })
}; NUM_CLASSES];

/// The spans of `class`, locked.
fn spans(class: usize) -> MutexGuard<'static, Spans> {
    // Nothing panics under the lock; a poisoned lock still holds
    // consistent lists.
    SPANS[class].lock().unwrap_or_else(|e| e.into_inner())
}

impl Spans {
    /// Hands out one block of `class`.
    fn take(&mut self, class: usize) -> NonNull<FreeBlock> {
        let size = class_size(class);
        let span = if self.head.is_null() {
            self.grow()
        } else {
            self.head
        };
        // SAFETY: a listed span is allocated, and its header is ours
        // under the lock.
        let s = unsafe { &mut *span };
        let block = if s.free.is_null() {
            // SAFETY: a listed span with no given-back block has room for
            // one more block past `bump`, inside the span.
            let block = unsafe { span.cast::<u8>().add(s.bump) }.cast::<FreeBlock>();
            // The first word of every cut block is a state word from here
            // on (module docs); a walker reads it only past this, under
            // the lock we hold.
            // SAFETY: uncut memory of the span, ours under the lock.
            unsafe { block.cast::<AtomicUsize>().write(AtomicUsize::new(0)) };
            s.bump += size;
            block
        } else {
            let block = s.free;
            // SAFETY: a given-back block is free memory of this span, its
            // link written by `give_back`.
            s.free = unsafe { next_of(block) };
            block
        };
        if s.live == 0 {
            self.empty -= 1;
        }
        s.live += 1;
        if s.free.is_null() && s.bump + size > SPAN {
            // SAFETY: listed, under the lock.
            unsafe { self.unlist(span) };
        }
        NonNull::new(block).expect("blocks are inside their span")
    }

    /// Hands out `n` blocks of `class`, linked.
    fn take_list(&mut self, class: usize, n: usize) -> *mut FreeBlock {
        let mut head = ptr::null_mut();
        for _ in 0..n {
            let block = self.take(class).as_ptr();
            // SAFETY: a block just handed out, ours.
            unsafe { set_next(block, head) };
            head = block;
        }
        head
    }

    /// Allocates and lists a new span.
    fn grow(&mut self) -> *mut Span {
        let layout = span_layout();
        // SAFETY: the layout has a non-zero size.
        let span = unsafe { std::alloc::alloc(layout) }.cast::<Span>();
        if span.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        // SAFETY: fresh memory, aligned and large enough for the header.
        unsafe {
            span.write(Span {
                live: 0,
                free: ptr::null_mut(),
                bump: SPAN_HEADER,
                prev: ptr::null_mut(),
                next: ptr::null_mut(),
                listed: false,
                all_prev: ptr::null_mut(),
                all_next: self.all,
            });
            if !self.all.is_null() {
                (*self.all).all_prev = span;
            }
            self.all = span;
            self.list(span);
        }
        self.empty += 1;
        span
    }

    /// Takes back every block of the list at `head`; frees a span whose
    /// blocks are all back, beyond `SPARE_SPANS`.
    ///
    /// # Safety
    /// Every block of the list was handed out by this class's spans, and
    /// nobody uses it any more.
    unsafe fn give_back(&mut self, mut head: *mut FreeBlock) {
        while !head.is_null() {
            let block = head;
            // SAFETY: per the caller, a block of ours in a list.
            head = unsafe { next_of(block) };
            let span = block.map_addr(|a| a & !(SPAN - 1)).cast::<Span>();
            // SAFETY: the block's span is allocated while it has a block
            // handed out (this one); its header is ours under the lock.
            let s = unsafe { &mut *span };
            // SAFETY: the block is free memory of this span.
            unsafe { set_next(block, s.free) };
            s.free = block;
            s.live -= 1;
            if !s.listed {
                // SAFETY: not listed, under the lock.
                unsafe { self.list(span) };
            }
            if s.live == 0 {
                if self.empty < SPARE_SPANS {
                    self.empty += 1;
                } else {
                    // SAFETY: listed, under the lock; no block of the span
                    // is handed out, so nothing points into it any more.
                    unsafe { self.free_span(span) };
                }
            }
        }
    }

    /// Unlists `span` from both lists and gives it back to the allocator.
    ///
    /// # Safety
    /// `span` is listed and has no block handed out; under the lock.
    unsafe fn free_span(&mut self, span: *mut Span) {
        // SAFETY: per the caller; its neighbours in the list of all spans
        // are spans of this class.
        unsafe {
            self.unlist(span);
            unlink(&mut self.all, span, |s| {
                (
                    ptr::addr_of_mut!((*s).all_prev),
                    ptr::addr_of_mut!((*s).all_next),
                )
            });
            std::alloc::dealloc(span.cast(), span_layout());
        }
    }

    /// Calls `f` with every block cut from this class's spans.
    #[cfg(not(loom))]
    fn for_each_cut(&self, class: usize, f: &mut impl FnMut(NonNull<u8>)) {
        let size = class_size(class);
        let mut span = self.all;
        while !span.is_null() {
            // SAFETY: spans in the list are allocated; their headers are
            // ours under the lock.
            let s = unsafe { &*span };
            let mut at = SPAN_HEADER;
            while at + size <= s.bump {
                // SAFETY: below `bump`: a block cut from the span.
                f(unsafe { NonNull::new_unchecked(span.cast::<u8>().add(at)) });
                at += size;
            }
            span = s.all_next;
        }
    }

    /// # Safety
    /// `span` is allocated and not listed; under the lock.
    unsafe fn list(&mut self, span: *mut Span) {
        // SAFETY: per the caller; the head, if any, is a listed span.
        unsafe {
            (*span).prev = ptr::null_mut();
            (*span).next = self.head;
            (*span).listed = true;
            if !self.head.is_null() {
                (*self.head).prev = span;
            }
        }
        self.head = span;
    }

    /// # Safety
    /// `span` is listed; under the lock.
    unsafe fn unlist(&mut self, span: *mut Span) {
        // SAFETY: per the caller; its neighbours are listed spans.
        unsafe {
            unlink(&mut self.head, span, |s| {
                (ptr::addr_of_mut!((*s).prev), ptr::addr_of_mut!((*s).next))
            });
            (*span).listed = false;
        }
    }
}

/// Unlinks `node` from the doubly linked list whose first node is `*head`;
/// `links(n)` gives the places of `n`'s previous and next pointers.
///
/// # Safety
/// `node` is in that list, and every node of it is live and ours (under
/// the list's lock); `links` only computes places inside its node.
unsafe fn unlink<N>(
    head: &mut *mut N,
    node: *mut N,
    links: impl Fn(*mut N) -> (*mut *mut N, *mut *mut N),
) {
    // SAFETY: per the caller: `node` and its neighbours are live nodes.
    unsafe {
        let (prev_at, next_at) = links(node);
        let (prev, next) = (*prev_at, *next_at);
        if prev.is_null() {
            *head = next;
        } else {
            *links(prev).1 = next;
        }
        if !next.is_null() {
            *links(next).0 = prev;
        }
    }
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
    fn pop(&self, class: usize) -> NonNull<u8> {
        if self.heads[class].get().is_null() {
            match GLOBAL[class].batches.pop() {
                Some(batch) => {
                    GLOBAL[class]
                        .count
                        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                    self.heads[class].set(batch.head.as_ptr());
                    self.lens[class].set(batch.len);
                }
                None => {
                    self.heads[class].set(spans(class).take_list(class, BATCH));
                    self.lens[class].set(BATCH);
                }
            }
        }
        let head = self.heads[class].get();
        // SAFETY: the list is not empty (refilled above): its head is a
        // free block this thread owns, its link written by `push`, by the
        // batch it came in, or by `take_list`.
        let next = unsafe { next_of(head) };
        self.heads[class].set(next);
        self.lens[class].set(self.lens[class].get() - 1);
        NonNull::new(head.cast()).expect("a non-empty list")
    }

    /// # Safety
    /// `block` is a block of class `class` that nobody else uses.
    unsafe fn push(&self, class: usize, block: NonNull<u8>) {
        let block = block.as_ptr().cast::<FreeBlock>();
        // SAFETY: the block is ours.
        unsafe { set_next(block, self.heads[class].get()) };
        self.heads[class].set(block);
        let len = self.lens[class].get() + 1;
        self.lens[class].set(len);
        if len > LOCAL_MAX {
            self.spill(class);
        }
    }

    /// Moves `BATCH` blocks to the global queue, or back to their spans if
    /// it is full.
    fn spill(&self, class: usize) {
        let head = self.heads[class].get();
        let mut tail = head;
        for _ in 1..BATCH {
            // SAFETY: the list holds more than BATCH blocks, all ours.
            tail = unsafe { next_of(tail) };
        }
        // SAFETY: as above; `tail` is the BATCH-th block.
        let rest = unsafe { next_of(tail) };
        // SAFETY: as above.
        unsafe { set_next(tail, ptr::null_mut()) };
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
            // SAFETY: the batch's blocks are ours, of this class.
            unsafe { spans(class).give_back(head.as_ptr()) };
        }
    }
}

impl Drop for LocalCache {
    fn drop(&mut self) {
        for class in 0..NUM_CLASSES {
            let head = self.heads[class].replace(ptr::null_mut());
            if !head.is_null() {
                // SAFETY: the thread is exiting; its lists are ours, of
                // their classes.
                unsafe { spans(class).give_back(head) };
            }
        }
    }
}

/// Batches [`trim_idle`] gives back per call (at most 1,024 blocks: tens
/// of microseconds), so a worker that trims is never long away from the
/// reactor or from being woken.
#[cfg(not(loom))]
pub(crate) const TRIM_CHUNK: usize = 32;

/// Gives the global free lists back to their spans towards
/// `GLOBAL_IDLE_BATCHES` per class (a span whose blocks are all back goes
/// back to the allocator): at most `max_batches` batches, one at a time
/// while `go_on()` says so. Returns `true` if there is more to give back.
/// Idle workers call it a chunk at a time, pausing in between (Go's
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
            // SAFETY: a popped batch's blocks are ours, of this class.
            unsafe { spans(class).give_back(batch.head.as_ptr()) };
            freed += 1;
        }
    }
    false
}

/// Whether a task of `layout` takes a block of a span class, whose first
/// word a walker may read from the moment the block is cut: the task's
/// state word must be written atomically, after the rest. A task that
/// does not (a large block) is listed for the walker by [`publish`] once
/// it is written. (Never under loom, whose models have no spans.)
#[cfg(not(loom))]
pub(crate) fn in_spans(layout: Layout) -> bool {
    class_of(layout).is_some()
}

/// Allocates memory for a task.
pub(crate) fn allocate(layout: Layout) -> NonNull<u8> {
    let Some(class) = class_of(layout) else {
        return large_allocate(layout);
    };
    LOCAL
        .try_with(|l| l.enabled.get().then(|| l.pop(class)))
        .ok()
        .flatten()
        .unwrap_or_else(|| spans(class).take(class).cast())
}

/// Frees memory that `allocate(layout)` returned.
///
/// # Safety
/// `ptr` came from `allocate` with the same `layout` and is no longer used
/// (a large block: [`publish`]ed, or not, as said there).
pub(crate) unsafe fn deallocate(ptr: NonNull<u8>, layout: Layout) {
    let Some(class) = class_of(layout) else {
        // SAFETY: per our caller.
        unsafe { large_deallocate(ptr, layout) };
        return;
    };
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
        let block = ptr.as_ptr().cast::<FreeBlock>();
        // SAFETY: per our caller, a block of this class's spans, unused; a
        // list of one once its link is written.
        unsafe {
            set_next(block, ptr::null_mut());
            spans(class).give_back(block);
        }
    }
}

/// Calls `f` with every block that may hold a task (module docs): its
/// first word is a task state word, readable (atomically) while `f` runs,
/// with the block's class or list locked. `f` must not allocate or free
/// task memory.
pub(crate) fn for_each_block(mut f: impl FnMut(NonNull<u8>)) {
    #[cfg(not(loom))]
    for class in 0..NUM_CLASSES {
        spans(class).for_each_cut(class, &mut f);
    }
    for shard in 0..LARGE_SHARDS {
        let list = lock_large(shard);
        let mut link = list.head;
        while !link.is_null() {
            // SAFETY: a listed link is live (unlisted under this lock
            // before its block is freed).
            let l = unsafe { &*link };
            // SAFETY: the block after a link is never null.
            f(unsafe { NonNull::new_unchecked(l.block) });
            link = l.next;
        }
    }
}

// ----- large blocks -----

/// Lists of large blocks; a block stays on the list it was put on.
const LARGE_SHARDS: usize = if cfg!(loom) { 1 } else { 8 };

/// What precedes a large block in its allocation.
#[repr(C)]
struct LargeLink {
    prev: *mut LargeLink,
    next: *mut LargeLink,
    /// The block (after padding to its alignment).
    block: *mut u8,
    /// The list it is on.
    shard: usize,
}

/// One list of large blocks.
struct LargeList {
    head: *mut LargeLink,
}

// SAFETY: the links are plain memory, touched only under the list's lock.
unsafe impl Send for LargeList {}

#[cfg(not(loom))]
static LARGE: [Mutex<LargeList>; LARGE_SHARDS] = [const {
    Mutex::new(LargeList {
        head: ptr::null_mut(),
    })
}; LARGE_SHARDS];

/// The large list `shard`, locked.
#[cfg(not(loom))]
fn lock_large(shard: usize) -> MutexGuard<'static, LargeList> {
    // Nothing panics under the lock: a poisoned lock still holds a
    // consistent list.
    LARGE[shard].lock().unwrap_or_else(|e| e.into_inner())
}

// Under loom, one list, a static of the model's execution (so its lock
// is loom's, and the models see what it orders). Models drop every task
// before the execution ends, when these statics go.
#[cfg(loom)]
loom::lazy_static! {
    static ref LARGE: crate::loom::Mutex<LargeList> =
        crate::loom::Mutex::new(LargeList { head: ptr::null_mut() });
}

/// The large list (there is one under loom), locked.
#[cfg(loom)]
fn lock_large(_shard: usize) -> crate::loom::MutexGuard<'static, LargeList> {
    LARGE.lock().unwrap_or_else(|e| e.into_inner())
}

/// The list a thread's large blocks go on.
fn large_shard() -> usize {
    #[cfg(loom)]
    return 0;
    #[cfg(not(loom))]
    {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static SHARD: usize =
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % LARGE_SHARDS;
        }
        SHARD.try_with(|s| *s).unwrap_or(0)
    }
}

/// The allocation of a large block of `layout`, and the block's offset in it.
fn large_layout(layout: Layout) -> (Layout, usize) {
    Layout::new::<LargeLink>()
        .extend(layout)
        .expect("a task's layout is far below isize::MAX")
}

/// A large block, not listed yet.
fn large_allocate(layout: Layout) -> NonNull<u8> {
    let (whole, offset) = large_layout(layout);
    // SAFETY: the layout has a non-zero size (the link alone is 32 bytes).
    let base = unsafe { std::alloc::alloc(whole) };
    if base.is_null() {
        std::alloc::handle_alloc_error(whole);
    }
    // SAFETY: `offset` is inside the allocation.
    let block = unsafe { base.add(offset) };
    // SAFETY: fresh memory, aligned for the link at its start.
    unsafe {
        base.cast::<LargeLink>().write(LargeLink {
            prev: ptr::null_mut(),
            next: ptr::null_mut(),
            block,
            shard: usize::MAX,
        })
    };
    // SAFETY: not null: inside a non-null allocation.
    unsafe { NonNull::new_unchecked(block) }
}

/// The link of a large block.
fn link_of(block: NonNull<u8>, layout: Layout) -> *mut LargeLink {
    let (_, offset) = large_layout(layout);
    block.as_ptr().wrapping_sub(offset).cast()
}

/// Lists the large block `ptr` for walkers: its task is written (state
/// word included). No-op for a span block.
///
/// # Safety
/// `ptr` came from `allocate(layout)` and holds an initialized task.
pub(crate) unsafe fn publish(ptr: NonNull<u8>, layout: Layout) {
    if class_of(layout).is_some() {
        return;
    }
    let link = link_of(ptr, layout);
    let shard = large_shard();
    let mut list = lock_large(shard);
    // SAFETY: the link of our block, not listed; the list's head (if any)
    // is a listed link; all under the list's lock.
    unsafe {
        (*link).shard = shard;
        (*link).next = list.head;
        if !list.head.is_null() {
            (*list.head).prev = link;
        }
    }
    list.head = link;
}

/// # Safety
/// As [`deallocate`], for a large block.
unsafe fn large_deallocate(ptr: NonNull<u8>, layout: Layout) {
    let link = link_of(ptr, layout);
    // SAFETY: the link of a block of ours; `shard` was written by
    // `publish` (or is still `usize::MAX`: never listed).
    let shard = unsafe { (*link).shard };
    if shard != usize::MAX {
        let mut list = lock_large(shard);
        // SAFETY: listed on `shard`, whose lock we hold; its neighbours
        // are listed links.
        unsafe {
            unlink(&mut list.head, link, |l| {
                (ptr::addr_of_mut!((*l).prev), ptr::addr_of_mut!((*l).next))
            })
        };
    }
    // SAFETY: unlisted: no walker can reach the block; allocated by
    // `large_allocate` with this layout.
    unsafe { std::alloc::dealloc(link.cast(), large_layout(layout).0) };
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_small_layouts_only() {
        let class = |size, align| class_of(Layout::from_size_align(size, align).unwrap());
        assert_eq!(class(48, 8), Some(0));
        assert_eq!(class(64, 8), Some(0));
        assert_eq!(class(65, 8), Some(1));
        assert_eq!(class(80, 8), Some(1));
        assert_eq!(class(144, 8), Some(5));
        assert_eq!(class(145, 8), Some(6));
        assert_eq!(class(288, 8), Some(NUM_CLASSES - 1));
        assert_eq!(class(289, 8), None);
        assert_eq!(class(64, 32), None);
        // 16-aligned layouts take the same classes.
        assert_eq!(class(48, 16), Some(0));
        assert_eq!(class(152, 16), Some(6));
        assert_eq!(class(288, 16), Some(NUM_CLASSES - 1));
        assert_eq!(class(289, 16), None);
        for c in 0..NUM_CLASSES {
            assert_eq!(class(class_size(c), 8), Some(c));
        }
    }

    #[test]
    fn blocks_of_a_16_aligned_class_are_16_aligned() {
        let class = class_of(Layout::from_size_align(100, 16).unwrap()).unwrap();
        assert_eq!(class_size(class), 112);
        let mut spans = spans(class);
        let head = spans.take_list(class, 1000);
        let mut block = head;
        while !block.is_null() {
            assert_eq!(block.addr() % 16, 0);
            // SAFETY: a block of the list just taken, its link written.
            block = unsafe { next_of(block) };
        }
        // SAFETY: taken from these spans, unused.
        unsafe { spans.give_back(head) };
    }

    #[test]
    fn spans_are_cut_in_order_and_freed_once_every_block_is_back() {
        // Spans of the test's own, for a class no task of these tests has.
        let class = NUM_CLASSES - 2;
        let mut spans = Spans {
            head: ptr::null_mut(),
            all: ptr::null_mut(),
            empty: 0,
        };
        let per_span = (SPAN - SPAN_HEADER) / class_size(class);
        let head = spans.take_list(class, 3 * per_span);
        let mut seen = std::collections::HashSet::new();
        let mut block = head;
        while !block.is_null() {
            let span = block.addr() & !(SPAN - 1);
            let offset = block.addr() - span;
            assert!(offset >= SPAN_HEADER && offset + class_size(class) <= SPAN);
            assert_eq!((offset - SPAN_HEADER) % class_size(class), 0);
            assert!(seen.insert(block.addr()), "a block handed out twice");
            // SAFETY: a block of the list just taken, its link written.
            block = unsafe { next_of(block) };
        }
        // Three full spans: none has room, so none is listed.
        assert!(spans.head.is_null());
        // SAFETY: taken from these spans, unused.
        unsafe { spans.give_back(head) };
        // All back: one span stays, empty and listed; the others are freed.
        assert_eq!(spans.empty, SPARE_SPANS);
        assert!(!spans.head.is_null());
        // SAFETY: the listed span, under our exclusive borrow.
        let kept = unsafe { &*spans.head };
        assert!(kept.next.is_null() && kept.live == 0);
        // Its blocks are handed out again before the span's uncut space.
        let again = spans.take(class);
        assert!(seen.contains(&again.as_ptr().addr()));
        // SAFETY: ours; then the last span goes back to the allocator.
        unsafe {
            set_next(again.as_ptr(), ptr::null_mut());
            spans.give_back(again.as_ptr());
            let span = spans.head;
            spans.free_span(span);
        }
        assert!(spans.all.is_null(), "a freed span is still walked");
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
            let head = spans(class).take(class);
            // SAFETY: a fresh block, ours.
            unsafe { set_next(head.as_ptr(), ptr::null_mut()) };
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
        // What the trim leaves goes back to the spans here.
        while let Some(batch) = lists[class].batches.pop() {
            // SAFETY: ours, of this class.
            unsafe { spans(class).give_back(batch.head.as_ptr()) };
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
        // A task whose future holds 128 bytes: its class (192 bytes), which
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
