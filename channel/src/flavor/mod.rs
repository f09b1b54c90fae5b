//! The lock-free buffers behind buffered channels: a fixed ring of stamped
//! slots for `bounded(n)` with `n >= 1` ([`ring`]) and a linked list of
//! blocks for `unbounded()` ([`list`]). Both move values with CAS on head /
//! tail counters and no lock; parking and waking is the channel's business
//! (`buffered.rs`), which relies on the ordering contract below.
//!
//! # Ordering contract (what the channel's wake-up protocol relies on)
//!
//! - A push reserves its slot with a `SeqCst` read-modify-write of the tail
//!   counter, then writes the value and publishes it with a `Release` store.
//!   A pop reserves with a `SeqCst` read-modify-write of the head counter,
//!   then reads the value and frees the slot with a `Release` store.
//! - A pop that reports [`Pop::Empty`] has read the tail counter with
//!   `SeqCst` and seen nothing reserved beyond head; a push that reports
//!   full has read the head counter with `SeqCst`. So a waiter that
//!   registers (a `SeqCst` store) and then retries cannot miss a push whose
//!   pusher looks for waiters (a `SeqCst` load) only after reserving: one
//!   of the two sees the other.
//! - A reservation not yet published is reported as [`Pop::Busy`] (or
//!   `Push::Busy`), never as empty (full): its owner is between two
//!   instructions and will look for waiters once it has published.

pub(crate) mod list;
pub(crate) mod ring;

/// What a pop found.
#[derive(Debug)]
pub(crate) enum Pop<T> {
    /// The value at the head.
    Value(T),
    /// Nothing buffered and nothing reserved.
    Empty,
    /// A push has reserved the head slot and not yet written it.
    Busy,
    /// Closed and drained: nothing buffered, nothing reserved, no more pushes.
    Closed,
}

/// What a push found, with the value given back when it did not go in.
#[derive(Debug)]
pub(crate) enum Push<T> {
    /// The value is in.
    Done,
    /// Every slot holds a value (only a bounded ring is ever full).
    Full(T),
    /// The tail slot is still being read by a pop that reserved it.
    Busy(T),
    /// The queue is closed.
    Closed(T),
}

/// Under loom, the `SeqCst` total order that the wake-up protocol takes
/// from its `SeqCst` read-modify-writes and loads (see the module docs) is
/// modelled with a `SeqCst` fence: loom treats `SeqCst` loads and stores as
/// acquire/release and models only fences as sequentially consistent. In
/// the real build this is nothing.
#[inline(always)]
pub(crate) fn sc_fence_for_loom() {
    #[cfg(loom)]
    crate::loom::atomic::fence(crate::loom::atomic::Ordering::SeqCst);
}
