//! The task header: the fields every task has whatever its future's type,
//! at offset 0 of the single allocation, so a `NonNull<Header>` is a
//! type-erased task.
//!
//! Layout of one allocation (`Cell<F, S>`, `#[repr(C)]`), 64 bytes for an
//! empty `async {}` on 64-bit targets:
//!
//! | field            | bytes | who touches it                                   |
//! |------------------|-------|--------------------------------------------------|
//! | `state`          | 8     | everyone, atomically (see `state.rs`)            |
//! | `vtable`         | 8     | read-only after creation                         |
//! | `id`             | 8     | read-only after creation                         |
//! | `spawn_site`     | 8     | read-only after creation                         |
//! | `wait`           | 8     | written by the poller, read by the dump          |
//! | `join_waker`     | 8     | `JoinHandle` unless `JOIN_WAKER`, then the task  |
//! | scheduler `S`    | 8     | read-only after creation                         |
//! | stage (a union)  | >= 8  | the future while not `COMPLETE`, then the output |

use std::panic::Location;
use std::ptr::{self, NonNull};

use gort_coop::WaitReason;

use super::harness::Vtable;
use super::state::State;
use super::waker::JoinWaker;
use super::Id;
use crate::loom::atomic::{AtomicU64, Ordering::Relaxed};
use crate::loom::UnsafeCell;

/// The type-erased front of every task.
#[repr(C)]
pub(crate) struct Header {
    /// Lifecycle flags and reference count.
    pub(crate) state: State,
    /// Functions that know the future's and scheduler's concrete types.
    pub(crate) vtable: &'static Vtable,
    /// Go's goid: unique for the process lifetime.
    pub(crate) id: Id,
    /// Where the task was spawned, and its name if it has one.
    pub(crate) spawn_site: SpawnSite,
    /// What the task waits on and since when, packed by [`pack_wait`]:
    /// written by the poller when a poll leaves the task asleep, read by
    /// the goroutine dump (a stale value is only shown while the state
    /// word says the task is asleep).
    pub(crate) wait: AtomicU64,
    /// The `JoinHandle`'s waker, in one word (see [`JoinWaker`]). Owned
    /// by the `JoinHandle` while `JOIN_WAKER` is clear and by the task side
    /// while it is set.
    pub(crate) join_waker: UnsafeCell<JoinWaker>,
}

// SAFETY: every field is either immutable after creation, atomic, or an
// `UnsafeCell` whose access is serialized by the state word's protocol
// (documented per field above).
unsafe impl Send for Header {}
// SAFETY: as above.
unsafe impl Sync for Header {}

impl Header {
    /// Writes every field of the header at `header` but the state word,
    /// which the caller writes after: atomically, for a block whose state
    /// word a walk of task memory may be reading (`alloc.rs`).
    ///
    /// # Safety
    /// `header` is valid for writes, aligned, and not otherwise in use.
    pub(crate) unsafe fn write_all_but_state(
        header: *mut Header,
        vtable: &'static Vtable,
        id: Id,
        spawn_site: SpawnSite,
    ) {
        // SAFETY: per the caller; each field is written once, in place.
        unsafe {
            ptr::addr_of_mut!((*header).vtable).write(vtable);
            ptr::addr_of_mut!((*header).id).write(id);
            ptr::addr_of_mut!((*header).spawn_site).write(spawn_site);
            ptr::addr_of_mut!((*header).wait).write(AtomicU64::new(0));
            ptr::addr_of_mut!((*header).join_waker).write(UnsafeCell::new(JoinWaker::new()));
        }
    }

    /// Drops the fields of a dead task's header in place, all but the
    /// state word, which a walk of task memory may be reading (no
    /// reference to the whole header is made).
    ///
    /// # Safety
    /// `header` is an initialized header whose task is gone (its last
    /// reference given back), not used again.
    pub(crate) unsafe fn drop_all_but_state(header: *mut Header) {
        // Every field by name: a field added to `Header` and not to the
        // writes above and the drops below fails to compile here.
        #[allow(dead_code)]
        fn every_field(h: Header) {
            let Header {
                state: _,
                vtable: _,
                id: _,
                spawn_site: _,
                wait: _,
                join_waker: _,
            } = h;
        }
        // SAFETY: per the caller; each field is dropped once, in place.
        unsafe {
            ptr::drop_in_place(ptr::addr_of_mut!((*header).vtable));
            ptr::drop_in_place(ptr::addr_of_mut!((*header).id));
            ptr::drop_in_place(ptr::addr_of_mut!((*header).spawn_site));
            ptr::drop_in_place(ptr::addr_of_mut!((*header).wait));
            ptr::drop_in_place(ptr::addr_of_mut!((*header).join_waker));
        }
    }
}

/// A type-erased pointer to a live task. Holding one says nothing about
/// references; the wrappers (`Notified`, `JoinHandle`, wakers) count them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct TaskRef(pub(crate) NonNull<Header>);

// SAFETY: the header is `Sync` and the pointee lives while any counted
// reference exists; a `TaskRef` is only dereferenced by holders of one.
unsafe impl Send for TaskRef {}
// SAFETY: as above.
unsafe impl Sync for TaskRef {}

impl TaskRef {
    /// The header. The caller holds a reference, so the task is alive.
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: every `TaskRef` in use is backed by a counted reference
        // held by its user (see `mod.rs`), so the allocation is live.
        unsafe { self.0.as_ref() }
    }
}

/// `reason` and a coarse-clock reading in milliseconds, in one word: the
/// reason's code in the low byte, the milliseconds above it.
pub(crate) fn pack_wait(reason: WaitReason, since_ms: u64) -> u64 {
    since_ms << 8 | u64::from(reason.code())
}

/// The reason and milliseconds [`pack_wait`] packed.
pub(crate) fn unpack_wait(word: u64) -> (WaitReason, u64) {
    (WaitReason::from_code(word as u8), word >> 8)
}

impl Header {
    /// The poller's record that the task went to sleep on `reason` at
    /// coarse-clock millisecond `now_ms`.
    #[inline]
    pub(crate) fn set_wait(&self, reason: WaitReason, now_ms: u64) {
        self.wait.store(pack_wait(reason, now_ms), Relaxed);
    }

    /// What [`set_wait`](Self::set_wait) last recorded.
    pub(crate) fn wait(&self) -> (WaitReason, u64) {
        unpack_wait(self.wait.load(Relaxed))
    }
}

/// Where a task was spawned and, if it was given one, its name, in one
/// word: a `&'static Location` (low bit clear) or a pointer to a boxed
/// [`Named`] (low bit set; both are 8-aligned, so the bit is free).
/// Immutable after creation; the box is freed with the header.
pub(crate) struct SpawnSite(NonNull<()>);

/// A named task's spawn site.
struct Named {
    name: Box<str>,
    location: &'static Location<'static>,
}

const NAMED: usize = 1;

// SAFETY: a `SpawnSite` is read-only after creation and points to a
// `'static` location or to a `Named` it owns, both `Send + Sync`.
unsafe impl Send for SpawnSite {}
// SAFETY: as above.
unsafe impl Sync for SpawnSite {}

impl SpawnSite {
    /// A task spawned at `location`, named `name` if given.
    pub(crate) fn new(location: &'static Location<'static>, name: Option<Box<str>>) -> Self {
        match name {
            None => SpawnSite(NonNull::from(location).cast()),
            Some(name) => {
                let named = NonNull::from(Box::leak(Box::new(Named { name, location })));
                debug_assert_eq!(named.as_ptr() as usize & NAMED, 0);
                SpawnSite(named.cast::<()>().map_addr(|a| a | NAMED))
            }
        }
    }

    /// The boxed `Named`, if the tag says there is one.
    fn named_ptr(&self) -> Option<*mut Named> {
        let ptr = self.0.as_ptr();
        (ptr.addr() & NAMED != 0).then(|| ptr.map_addr(|a| a & !NAMED).cast::<Named>())
    }

    fn named(&self) -> Option<&Named> {
        // SAFETY: a tagged pointer came from `Box::leak` of a `Named` in
        // `new`, freed only in `drop`, so it is live while `self` is.
        self.named_ptr().map(|p| unsafe { &*p })
    }

    /// Where the task was spawned.
    pub(crate) fn location(&self) -> &'static Location<'static> {
        match self.named() {
            Some(named) => named.location,
            // SAFETY: an untagged pointer came from a `&'static Location`.
            None => unsafe { self.0.cast::<Location<'static>>().as_ref() },
        }
    }

    /// The task's name, if it was given one.
    pub(crate) fn name(&self) -> Option<&str> {
        self.named().map(|n| &*n.name)
    }
}

impl Drop for SpawnSite {
    fn drop(&mut self) {
        if let Some(named) = self.named_ptr() {
            // SAFETY: as in `named`; this is the one place that frees it.
            drop(unsafe { Box::from_raw(named) });
        }
    }
}
