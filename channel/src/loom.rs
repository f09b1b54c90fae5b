//! The seam between std's primitives and loom's models: under
//! `--cfg loom` the channel's lock, atomics and cells are loom's, so the
//! models in `tests/` check every interleaving of the hand-off protocol.
//! `UnsafeCell` has loom's closure API in both builds.

#[cfg(loom)]
pub(crate) use loom::{
    cell::UnsafeCell,
    sync::{atomic, Mutex, MutexGuard},
};

#[cfg(not(loom))]
pub(crate) use std::sync::{atomic, Mutex, MutexGuard};

/// `std::cell::UnsafeCell` with loom's access API.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// A spin-wait hint: under loom a yield, so the models make progress past
/// a spinning thread.
#[inline(always)]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// Keeps a hot atomic on a cache line of its own (two, counting the
/// adjacent-line prefetcher), so head and tail do not false-share.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
