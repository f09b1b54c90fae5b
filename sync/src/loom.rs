//! The seam between std's primitives and loom's models: under `--cfg loom`
//! the state words, the waiter queues' locks, the `Arc`s and thread parking
//! are loom's, so the models in `tests/` explore every interleaving of the
//! slow paths.

#[cfg(loom)]
pub(crate) use loom::{
    sync::{atomic, Arc, Mutex, MutexGuard},
    thread,
};

#[cfg(not(loom))]
pub(crate) use std::{
    sync::{atomic, Arc, Mutex, MutexGuard},
    thread,
};

/// Locks `mutex`, taking the guard even if a panic poisoned it: the data
/// behind these locks (waiter queues) is consistent after every
/// statement, so a panic elsewhere never leaves it half-changed.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// A spin-wait hint: under loom a yield, so models make progress past a
/// spinning thread.
#[inline(always)]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}
