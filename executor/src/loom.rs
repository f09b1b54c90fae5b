//! One seam between the real synchronization primitives and `loom`'s models.
//!
//! Code in this crate imports atomics, `Arc`, `Mutex` and `UnsafeCell` from
//! here, never from `std` directly, so that `RUSTFLAGS="--cfg loom"` swaps every
//! one of them for loom's checked versions (the metrics counters excepted:
//! `processor::Counter` is std's atomic in both builds). `UnsafeCell` exposes
//! loom's closure API (`with`, `with_mut`) in both builds so that every access
//! to a cell is visible to the model checker. The thread-locals that name a
//! thread's worker and runtime are declared through `thread_local_const!`.

#[cfg(loom)]
pub(crate) use loom::{
    cell::UnsafeCell,
    sync::{atomic, Arc, Condvar, Mutex, MutexGuard},
};

/// The models' threads (`src/tests/`).
#[cfg(all(loom, test))]
pub(crate) use loom::thread;

/// `thread_local!` with a `const` initializer, for the thread-locals that
/// say which worker and which runtime a thread is in. loom runs every
/// thread of a model on one OS thread, so under loom these are loom's, one
/// per modelled thread (loom's macro takes no `const` block); otherwise the
/// declaration is std's, token for token.
#[cfg(loom)]
macro_rules! thread_local_const {
    ($(#[$attr:meta])* static $name:ident: $t:ty = const { $($init:tt)* };) => {
        loom::thread_local! { $(#[$attr])* static $name: $t = { $($init)* }; }
    };
}
#[cfg(not(loom))]
macro_rules! thread_local_const {
    ($(#[$attr:meta])* static $name:ident: $t:ty = const { $($init:tt)* };) => {
        std::thread_local! { $(#[$attr])* static $name: $t = const { $($init)* }; }
    };
}
pub(crate) use thread_local_const;

#[cfg(not(loom))]
pub(crate) use self::std_impl::*;

#[cfg(not(loom))]
mod std_impl {
    pub(crate) use std::sync::{atomic, Arc, Condvar, Mutex, MutexGuard};

    /// `std::cell::UnsafeCell` with loom's access API.
    #[derive(Debug)]
    #[repr(transparent)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(std::cell::UnsafeCell::new(value))
        }

        /// Reads through a shared pointer; the caller upholds aliasing rules.
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Writes through a unique pointer; the caller upholds aliasing rules.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

/// Locks a mutex, ignoring poisoning: every critical section in this crate
/// leaves its data consistent before any code that could panic runs.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(loom)]
    {
        mutex.lock().unwrap()
    }
    #[cfg(not(loom))]
    {
        mutex
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
