//! Per-processor registry of live tasks: what lets a shutdown find (and
//! drop) a task that no queue holds and only a waker or nothing points to,
//! without a lock on the spawn path.
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
//! - **Drain** (shutdown, after every owner has stopped): swap every slot
//!   to null and shut the tasks found down.
//!
//! Chunks never move or shrink while the registry lives (the `Vec` of boxes
//! may reallocate, the boxes do not), so a slot address stays valid for as
//! long as any task can hold it: tasks hold the scheduler, which holds the
//! registries.

use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use super::header::{Header, TaskRef};
use crate::loom::atomic::{AtomicBool, AtomicPtr, Ordering::*};
use crate::loom::UnsafeCell;

/// One registry slot: null, or a registered task.
pub(crate) type Slot = AtomicPtr<Header>;

/// Slots looked at before the registry grows instead.
const SCAN: usize = 64;
/// Size of the first chunk.
const FIRST_CHUNK: usize = if cfg!(loom) { 2 } else { 64 };

struct Chunks {
    chunks: Vec<Box<[Slot]>>,
    capacity: usize,
    /// Next slot to look at: (chunk index, offset).
    cursor: (usize, usize),
}

/// The live tasks first polled by one processor.
pub(crate) struct Registry {
    /// Mutated only through the one `RegistryOwner` that exists at a time.
    chunks: UnsafeCell<Chunks>,
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

// SAFETY: slots are atomics; `chunks` is touched only by the holder of the
// single `RegistryOwner` (see module docs), and other threads use only
// slot addresses, which stay valid.
unsafe impl Sync for Registry {}
// SAFETY: as above; the registry owns no thread-bound data.
unsafe impl Send for Registry {}

impl Registry {
    pub(crate) fn new() -> Self {
        Registry {
            chunks: UnsafeCell::new(Chunks {
                chunks: Vec::new(),
                capacity: 0,
                cursor: (0, 0),
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

    /// Unregisters `task` from `slot`; `true` if the caller now owns the
    /// registry reference (it was still there), `false` if a drain took it.
    pub(crate) fn remove(slot: &Slot, task: TaskRef) -> bool {
        slot.compare_exchange(task.0.as_ptr(), ptr::null_mut(), AcqRel, Relaxed)
            .is_ok()
    }
}

impl Drop for RegistryOwner<'_> {
    fn drop(&mut self) {
        // Release: the next owner sees our writes to `chunks`.
        self.registry.claimed.store(false, Release);
    }
}

impl RegistryOwner<'_> {
    /// Registers `task`; returns the slot now holding its registry reference.
    pub(crate) fn insert(&self, task: TaskRef) -> *const Slot {
        let ptr = task.0.as_ptr();
        self.registry.chunks.with_mut(|c| {
            // SAFETY: we are the single owner, the only one touching `chunks`.
            let c = unsafe { &mut *c };
            for _ in 0..SCAN.min(c.capacity) {
                let (ci, off) = c.cursor;
                let slot: *const Slot = &c.chunks[ci][off];
                c.cursor = if off + 1 < c.chunks[ci].len() {
                    (ci, off + 1)
                } else {
                    ((ci + 1) % c.chunks.len(), 0)
                };
                // SAFETY: slot points into a live chunk.
                let slot_ref = unsafe { &*slot };
                // Relaxed: a null was written by a completion that is done
                // with this slot; nothing is published through it.
                if slot_ref.load(Relaxed).is_null() {
                    slot_ref.store(ptr, Release);
                    return slot;
                }
            }
            // Everything near the cursor is taken: double the capacity.
            let len = c.capacity.max(FIRST_CHUNK);
            let chunk: Box<[Slot]> = (0..len).map(|_| AtomicPtr::new(ptr::null_mut())).collect();
            chunk[0].store(ptr, Release);
            // The pointer is taken after the move into `chunks`: moving a
            // `Box` asserts unique access, which would invalidate a
            // pointer derived before it (miri's aliasing model).
            c.chunks.push(chunk);
            let slot: *const Slot = &c.chunks.last().expect("pushed above")[0];
            c.capacity += len;
            // `len >= 2`, so offset 1 exists.
            c.cursor = (c.chunks.len() - 1, 1);
            slot
        })
    }

    /// Empties every slot and shuts each task found down, giving back its
    /// registry reference (shutdown).
    pub(crate) fn shutdown_all(&self) {
        // Collect first: shutting down drops futures, which run user code
        // (that may even spawn onto this processor's registry later).
        let mut found = Vec::new();
        self.registry.chunks.with(|c| {
            // SAFETY: we are the single owner; we only read `chunks`.
            let c = unsafe { &*c };
            for chunk in &c.chunks {
                for slot in chunk.iter() {
                    let p = slot.swap(ptr::null_mut(), AcqRel);
                    if let Some(p) = NonNull::new(p) {
                        found.push(TaskRef(p));
                    }
                }
            }
        });
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
        self.registry.chunks.with(|c| unsafe { (*c).capacity })
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
        let (notified, join) = new_task(std::future::pending::<()>(), RunNow, Id(id));
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
