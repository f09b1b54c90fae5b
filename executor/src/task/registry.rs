//! Per-processor registry of live tasks: what lets a shutdown find (and
//! drop) a task that no queue holds and only a waker or nothing points to,
//! and the goroutine dump list every task, without a lock on the spawn
//! path.
//!
//! Each processor owns one `Registry`. A task is registered by the first
//! processor that polls it (so a spawn from any thread touches no registry)
//! and the registry then holds the task's "registry reference" in a slot.
//!
//! - **Insert** (owner only): scan up to `SCAN` slots from a cursor for a
//!   null one; if none, add a chunk as large as all the others together. The
//!   slot's address goes into the task header.
//! - **Remove** (any thread, at completion): `compare_exchange(task, null)`
//!   on the slot. Whoever moves a slot from the task to null owns the
//!   registry reference, so a completion racing a shutdown drain gives it
//!   back exactly once.
//! - **Visit** (any thread: the dump): `compare_exchange(task, task | PINNED)`
//!   pins a slot, so the registry reference it holds keeps the task alive
//!   while the visitor reads the header; storing `task` back unpins it. A
//!   remove or a drain that finds a slot pinned waits for the unpin (a
//!   visit reads a few header fields, nothing that blocks).
//! - **Drain** (shutdown, after every owner has stopped): swap every slot
//!   to null and shut the tasks found down.
//!
//! Chunks never move or shrink while the registry lives, and the table of
//! chunks is a fixed array filled in order, so a slot address stays valid
//! for as long as any task can hold it (tasks hold the scheduler, which
//! holds the registries) and a visitor can walk the chunks while the owner
//! adds one.

use std::marker::PhantomData;
use std::ptr::{self, NonNull};
use std::sync::OnceLock;

use super::header::{Header, TaskRef};
use crate::loom::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::*};
use crate::loom::UnsafeCell;

/// One registry slot: null, a registered task, or a registered task with
/// the `PINNED` bit set while a visitor reads it.
pub(crate) type Slot = AtomicPtr<Header>;

/// The low bit of a slot: a visitor is reading the task (headers are
/// 8-aligned, so the bit is free).
const PINNED: usize = 1;

/// Slots looked at before the registry grows instead.
const SCAN: usize = 64;
/// Size of the first chunk.
const FIRST_CHUNK: usize = if cfg!(loom) { 2 } else { 64 };
/// Chunks a registry can have: each new chunk is as large as all the
/// others together, so 40 of them hold `FIRST_CHUNK << 39` slots.
const MAX_CHUNKS: usize = 40;

/// The owner's bookkeeping.
struct Cursor {
    /// Slots in all chunks.
    capacity: usize,
    /// Next slot to look at: (chunk index, offset).
    at: (usize, usize),
}

/// The live tasks first polled by one processor.
pub(crate) struct Registry {
    /// Chunk `i` is set once, by the owner, before `chunks_len` passes `i`.
    chunks: [OnceLock<Box<[Slot]>>; MAX_CHUNKS],
    /// Chunks set (a prefix of `chunks`).
    chunks_len: AtomicUsize,
    /// Mutated only through the one `RegistryOwner` that exists at a time.
    cursor: UnsafeCell<Cursor>,
    /// `true` while a `RegistryOwner` exists.
    claimed: AtomicBool,
}

/// The right to insert into (and drain) one registry: at most one exists
/// at a time, and it cannot leave the thread that claimed it. The worker
/// of a processor holds its registry's owner while it runs; the shutdown
/// drain claims each registry after every worker let go of it.
pub(crate) struct RegistryOwner<'a> {
    registry: &'a Registry,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: slots are atomics and chunks are published once through
// `OnceLock`; `cursor` is touched only by the holder of the single
// `RegistryOwner` (see module docs), and other threads use only slot
// addresses, which stay valid.
unsafe impl Sync for Registry {}
// SAFETY: as above; the registry owns no thread-bound data.
unsafe impl Send for Registry {}

/// Spins (then yields) until `slot` no longer holds `task` pinned; returns
/// what it holds then.
fn wait_unpinned(slot: &Slot, task: *mut Header) -> *mut Header {
    let pinned = task.map_addr(|a| a | PINNED);
    let mut spins = 0u32;
    loop {
        let now = slot.load(Acquire);
        if now != pinned {
            return now;
        }
        spins += 1;
        if spins < 64 && !cfg!(loom) {
            std::hint::spin_loop();
        } else {
            yield_thread();
        }
    }
}

fn yield_thread() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::thread::yield_now();
}

impl Registry {
    pub(crate) fn new() -> Self {
        Registry {
            chunks: [const { OnceLock::new() }; MAX_CHUNKS],
            chunks_len: AtomicUsize::new(0),
            cursor: UnsafeCell::new(Cursor {
                capacity: 0,
                at: (0, 0),
            }),
            claimed: AtomicBool::new(false),
        }
    }

    /// Claims the owner role; `None` if someone holds it.
    pub(crate) fn claim(&self) -> Option<RegistryOwner<'_>> {
        self.claimed
            .compare_exchange(false, true, Acquire, Relaxed)
            .ok()
            .map(|_| RegistryOwner {
                registry: self,
                _not_send: PhantomData,
            })
    }

    /// The chunks published so far.
    fn chunks(&self) -> impl Iterator<Item = &[Slot]> {
        let len = self.chunks_len.load(Acquire);
        self.chunks[..len]
            .iter()
            .map(|c| &**c.get().expect("chunks below chunks_len are set"))
    }

    /// Unregisters `task` from `slot`; `true` if the caller now owns the
    /// registry reference (it was still there), `false` if a drain took it.
    #[inline]
    pub(crate) fn remove(slot: &Slot, task: TaskRef) -> bool {
        let task = task.0.as_ptr();
        match slot.compare_exchange(task, ptr::null_mut(), AcqRel, Acquire) {
            Ok(_) => true,
            Err(now) if now == task.map_addr(|a| a | PINNED) => Self::remove_pinned(slot, task),
            Err(_) => false,
        }
    }

    /// [`remove`](Self::remove) of a slot a visitor has pinned.
    #[cold]
    fn remove_pinned(slot: &Slot, task: *mut Header) -> bool {
        let mut expected = wait_unpinned(slot, task);
        if expected != task {
            return false;
        }
        loop {
            match slot.compare_exchange(expected, ptr::null_mut(), AcqRel, Acquire) {
                Ok(_) => return true,
                // A visitor reads the task: wait until it is done.
                Err(now) if now == task.map_addr(|a| a | PINNED) => {
                    expected = wait_unpinned(slot, task);
                    if expected != task {
                        return false;
                    }
                }
                Err(_) => return false,
            }
        }
    }

    /// Calls `f` with each registered task, the slot pinned meanwhile: the
    /// task stays allocated while `f` runs (it may complete, and its future
    /// may be dropped, but the header is readable). `f` must not block or
    /// touch this registry. Tasks registered or removed during the walk
    /// may or may not be seen; a task present throughout is seen once.
    pub(crate) fn visit(&self, mut f: impl FnMut(&Header)) {
        for chunk in self.chunks() {
            for slot in chunk {
                let mut task = slot.load(Acquire);
                loop {
                    if task.is_null() {
                        break;
                    }
                    if task.addr() & PINNED != 0 {
                        // Another visitor: wait for it, then look again.
                        task = wait_unpinned(slot, task.map_addr(|a| a & !PINNED));
                        continue;
                    }
                    match slot.compare_exchange(
                        task,
                        task.map_addr(|a| a | PINNED),
                        AcqRel,
                        Acquire,
                    ) {
                        Ok(_) => {
                            // Pinned: no remove or drain can take the
                            // slot's registry reference until we unpin.
                            // SAFETY: that reference keeps the task allocated.
                            f(unsafe { &*task });
                            // Only the pinner changes a pinned slot.
                            slot.store(task, Release);
                            break;
                        }
                        Err(now) => task = now,
                    }
                }
            }
        }
    }
}

impl Drop for RegistryOwner<'_> {
    fn drop(&mut self) {
        // Release: the next owner sees our writes to `cursor`.
        self.registry.claimed.store(false, Release);
    }
}

impl RegistryOwner<'_> {
    /// Registers `task`; returns the slot now holding its registry reference.
    pub(crate) fn insert(&self, task: TaskRef) -> *const Slot {
        let ptr = task.0.as_ptr();
        let registry = self.registry;
        registry.cursor.with_mut(|c| {
            // SAFETY: we are the single owner, the only one touching `cursor`.
            let c = unsafe { &mut *c };
            let len = registry.chunks_len.load(Relaxed);
            let chunk = |i: usize| {
                &**registry.chunks[i]
                    .get()
                    .expect("chunks below chunks_len are set")
            };
            let mut current: (usize, &[Slot]) = (usize::MAX, &[]);
            for _ in 0..SCAN.min(c.capacity) {
                let (ci, off) = c.at;
                if current.0 != ci {
                    current = (ci, chunk(ci));
                }
                let slot: &Slot = &current.1[off];
                c.at = if off + 1 < current.1.len() {
                    (ci, off + 1)
                } else {
                    ((ci + 1) % len, 0)
                };
                // Relaxed: a null was written by a completion that is done
                // with this slot; nothing is published through it.
                if slot.load(Relaxed).is_null() {
                    slot.store(ptr, Release);
                    return slot as *const Slot;
                }
            }
            // Everything near the cursor is taken: double the capacity.
            assert!(len < MAX_CHUNKS, "a processor's task registry is full");
            let size = c.capacity.max(FIRST_CHUNK);
            let new: Box<[Slot]> = (0..size).map(|_| AtomicPtr::new(ptr::null_mut())).collect();
            new[0].store(ptr, Release);
            if registry.chunks[len].set(new).is_err() {
                unreachable!("registry chunk {len} set twice");
            }
            // Release: a visitor that reads the new length finds the chunk.
            registry.chunks_len.store(len + 1, Release);
            c.capacity += size;
            // `size >= 2`, so offset 1 exists.
            c.at = (len, 1);
            &chunk(len)[0] as *const Slot
        })
    }

    /// Empties every slot and shuts each task found down, giving back its
    /// registry reference (shutdown).
    pub(crate) fn shutdown_all(&self) {
        // Collect first: shutting down drops futures, which run user code
        // (that may even spawn onto this processor's registry later).
        let mut found = Vec::new();
        for chunk in self.registry.chunks() {
            for slot in chunk {
                let mut task = slot.load(Acquire);
                while !task.is_null() {
                    if task.addr() & PINNED != 0 {
                        task = wait_unpinned(slot, task.map_addr(|a| a & !PINNED));
                        continue;
                    }
                    match slot.compare_exchange(task, ptr::null_mut(), AcqRel, Acquire) {
                        Ok(_) => {
                            found.push(TaskRef(NonNull::new(task).expect("checked non-null")));
                            break;
                        }
                        Err(now) => task = now,
                    }
                }
            }
        }
        for task in found {
            // SAFETY: the slot held the task's registry reference, now ours
            // to give to `shutdown`, which consumes one reference.
            unsafe { (task.header().vtable.shutdown)(task) };
        }
    }

    /// Number of slots (for tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn capacity(&self) -> usize {
        // SAFETY: we are the single owner.
        self.registry.cursor.with(|c| unsafe { (*c).capacity })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::task::{new_task, Id, JoinHandle, Notified, Schedule};

    /// Runs a woken task at once, on the waking thread (enough for aborts).
    struct RunNow;
    impl Schedule for RunNow {
        fn schedule(&self, task: Notified) {
            task.run(None);
        }
        fn requeue(&self, task: Notified) {
            task.run(None);
        }
        fn count_completed(&self) {}
    }

    /// A task parked forever, registered the way a worker registers it.
    fn parked(owner: &RegistryOwner<'_>, id: u64) -> JoinHandle<()> {
        let (notified, join) = new_task(
            std::future::pending::<()>(),
            RunNow,
            Id(id),
            crate::task::SpawnSite::new(std::panic::Location::caller(), None),
        );
        notified.run(Some(owner));
        join
    }

    fn finished(join: &mut JoinHandle<()>) -> Option<Result<(), crate::JoinError>> {
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        match std::pin::Pin::new(join).poll(&mut cx) {
            std::task::Poll::Ready(r) => Some(r),
            std::task::Poll::Pending => None,
        }
    }

    use std::future::Future;

    #[test]
    fn grows_reuses_freed_slots_and_drains_everything() {
        let registry = Registry::new();
        let owner = registry.claim().unwrap();
        assert!(registry.claim().is_none(), "two owners at once");
        let mut joins: Vec<_> = (0..200).map(|i| parked(&owner, i)).collect();
        let grown = owner.capacity();
        assert!(grown >= 200);
        // Abort half: each completes (cancelled) and frees its slot.
        for j in joins.iter().step_by(2) {
            j.abort();
        }
        // Abort schedules the task; `RunNow` runs it, which cancels it.
        for (i, j) in joins.iter_mut().enumerate() {
            if i % 2 == 0 {
                assert!(finished(j).unwrap().unwrap_err().is_cancelled());
            } else {
                assert!(finished(j).is_none());
            }
        }
        // The freed slots are reused: 100 more tasks fit without growing.
        let more: Vec<_> = (200..300).map(|i| parked(&owner, i)).collect();
        assert_eq!(owner.capacity(), grown);
        joins.extend(more);
        // The drain cancels every task still registered.
        owner.shutdown_all();
        for (i, j) in joins.iter_mut().enumerate() {
            if i >= 200 || i % 2 == 1 {
                assert!(finished(j).unwrap().unwrap_err().is_cancelled(), "task {i}");
            }
        }
    }
}
