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
//! | `registry_slot`  | 8     | the poller only (it holds `RUNNING`)             |
//! | `join_waker`     | 16    | `JoinHandle` unless `JOIN_WAKER`, then the task  |
//! | scheduler `S`    | 8     | read-only after creation                         |
//! | stage (a union)  | >= 8  | the future while not `COMPLETE`, then the output |

use std::ptr::NonNull;
use std::task::Waker;

use super::harness::Vtable;
use super::registry::Slot;
use super::state::State;
use super::Id;
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
    /// The registry slot that holds this task's registry reference, or
    /// null while unregistered. Written only by the poller at the first
    /// poll; read by the poller at completion.
    pub(crate) registry_slot: UnsafeCell<*const Slot>,
    /// The `JoinHandle`'s waker. Owned by the `JoinHandle` while
    /// `JOIN_WAKER` is clear and by the task side while it is set.
    pub(crate) join_waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: every field is either immutable after creation, atomic, or an
// `UnsafeCell` whose access is serialized by the state word's protocol
// (documented per field above).
unsafe impl Send for Header {}
// SAFETY: as above.
unsafe impl Sync for Header {}

impl Header {
    pub(crate) fn new(vtable: &'static Vtable, id: Id) -> Self {
        Header {
            state: State::new(),
            vtable,
            id,
            registry_slot: UnsafeCell::new(std::ptr::null()),
            join_waker: UnsafeCell::new(None),
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
