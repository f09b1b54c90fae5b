//! # gort-sync: Go's `sync` package for any executor
//!
//! | Go                                   | gort-sync                     |
//! |--------------------------------------|-------------------------------|
//! | `sync.WaitGroup`                     | [`WaitGroup`]                 |
//! | `sync.Mutex`                         | [`Mutex`]                     |
//! | `sync.RWMutex`                       | [`RwLock`]                    |
//! | `sync.Once`, `sync.OnceValue`        | [`OnceCell`]                  |
//! | `golang.org/x/sync/semaphore.Weighted` | [`Semaphore`]               |
//! | `context`                            | [`context::Context`] (`gort::context`) |
//!
//! Every type works on gort, tokio, `futures::executor` and plain threads:
//! the crate depends on no executor. A task waits through its `Waker`; a
//! thread calls the `*_blocking` variants, which park it.
//!
//! Re-exported by the `gort` crate as `gort::sync`.
//!
//! ```
//! use gort::sync::{Mutex, WaitGroup};
//! use std::sync::Arc;
//!
//! let total = Arc::new(Mutex::new(0u64));
//! let wg = WaitGroup::new();
//! for i in 0..4u64 {
//!     wg.add(1);
//!     let (total, wg) = (total.clone(), wg.clone());
//!     std::thread::spawn(move || {
//!         *total.lock_blocking() += i;
//!         wg.done();
//!     });
//! }
//! wg.wait_blocking();
//! assert_eq!(*total.lock_blocking(), 6);
//! ```
//!
//! # How they are built
//!
//! Each type has one atomic state word for its fast path (an uncontended
//! lock, unlock, `done` or permit is one atomic read-modify-write, with no
//! lock taken and nothing allocated), and a FIFO of parked waiters behind
//! a `std` mutex for its slow path (`waiter.rs`). Whatever counts or
//! uncounts a waiter in the word does so under that mutex, together with
//! linking or unlinking it, so a release that sees waiters always finds
//! them queued. A waiter whose future is dropped unlinks itself, or, if it
//! had been handed the lock, permits or a wake-up, passes them on.
//!
//! The crate has no `unsafe`. The value behind [`Mutex`] and [`RwLock`]
//! is kept in a `parking_lot` lock, which gives out `&mut T` safely and
//! whose guard may move to another thread with its task. It is only ever
//! taken with `try_lock`/`try_read`/`try_write` by the holder that the
//! state word has admitted, so it never blocks.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod context;
mod loom;
mod mutex;
mod once_cell;
mod rwlock;
mod semaphore;
mod wait_group;
mod waiter;

#[cfg(all(test, loom))]
mod tests;

pub use mutex::{Lock, Mutex, MutexGuard, STARVATION_THRESHOLD};
pub use once_cell::OnceCell;
pub use rwlock::{Read, RwLock, RwLockReadGuard, RwLockWriteGuard, Write};
pub use semaphore::{Acquire, Permit, Semaphore};
pub use wait_group::{Wait, WaitGroup};
