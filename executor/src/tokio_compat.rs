//! tokio's I/O and time types inside gort tasks (the `tokio-compat`
//! feature): every thread that polls gort tasks or futures (the workers,
//! the blocking pool's threads, a `block_on` thread) runs inside the
//! context of one small tokio runtime, whose I/O and timer drivers a
//! background thread, `gort-tokio-compat`, drives. So `tokio::net`,
//! `tokio::time` and every library built on them (database drivers, HTTP
//! clients) work in a gort task with no setup, as with the async-compat
//! crate. gort's own types (`gort::net`, `gort::time`) need none of this.
//!
//! tokio's types find the context when they are created, so they must be
//! created inside a gort task or inside the future given to `block_on`
//! (`gort::block_on(async { tokio::time::sleep(d).await })`, not
//! `gort::block_on(tokio::time::sleep(d))`, which creates the sleep
//! before `block_on` runs).
//!
//! The cost: each tokio readiness event or timer is handled on the
//! background thread, which wakes the gort task (a cross-thread wake-up
//! per event); the tokio runtime is made on the first thread that enters.

use std::sync::OnceLock;

use tokio::runtime::{EnterGuard, Handle};

static HANDLE: OnceLock<Handle> = OnceLock::new();

/// Whether the background runtime exists. Then gort's deadlock check
/// never reports: a task may wait on a tokio socket or timer, which gort
/// cannot see.
pub(crate) fn started() -> bool {
    HANDLE.get().is_some()
}

/// The background runtime's handle, made (with its thread) on first use.
fn handle() -> &'static Handle {
    HANDLE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("gort: cannot start the tokio-compat runtime: {e}"));
        let handle = rt.handle().clone();
        std::thread::Builder::new()
            .name("gort-tokio-compat".into())
            .spawn(move || rt.block_on(std::future::pending::<()>()))
            .unwrap_or_else(|e| panic!("gort: cannot start the gort-tokio-compat thread: {e}"));
        handle
    })
}

/// Enters the tokio context for the rest of the guard's life, unless the
/// thread is already inside one (a `block_on` on a tokio thread keeps
/// tokio's own).
pub(crate) fn enter() -> Option<EnterGuard<'static>> {
    if Handle::try_current().is_ok() {
        return None;
    }
    Some(handle().enter())
}
