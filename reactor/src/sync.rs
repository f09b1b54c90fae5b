//! The reactor's one way to take a `std::sync::Mutex`.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, taking the guard out of a poisoned lock: nothing panics with
/// the reactor's locks held halfway through an update.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
