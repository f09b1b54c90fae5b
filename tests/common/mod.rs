//! Helpers shared by the `tests/rt_*.rs` integration tests. Each test file
//! is its own crate and includes this module with `mod common;`.

// Every test binary compiles this whole module but uses only some of the
// helpers (e.g. `rt_env` needs `panic_message` alone), so the rest would
// warn as dead code in that binary.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use gort::runtime::{Builder, Runtime};

pub const WATCHDOG: Duration = Duration::from_secs(120);

/// Runs `body` on its own thread and fails if it does not finish within
/// [`WATCHDOG`] (a hang detector, not a speed assertion). A panic in `body`
/// is re-raised here.
pub fn watchdog<T: Send + 'static>(name: &str, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(format!("watchdog-{name}"))
        .spawn(move || {
            let _ = tx.send(body());
        })
        .expect("cannot start the test thread");
    match rx.recv_timeout(WATCHDOG) {
        Ok(v) => {
            thread.join().expect("test thread panicked after finishing");
            v
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{name}: did not finish within {WATCHDOG:?}; the runtime hangs")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match thread.join() {
            Err(payload) => std::panic::resume_unwind(payload),
            Ok(()) => unreachable!("the test thread exited without a result"),
        },
    }
}

/// A runtime with `workers` worker threads whose thread names start with
/// `name`.
pub fn runtime(workers: usize, name: &str) -> Runtime {
    Builder::new()
        .worker_threads(workers)
        .thread_name(name)
        .build()
        .expect("cannot build the runtime")
}

/// The name of the calling thread, or `"<unnamed>"`.
pub fn thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unnamed>")
        .to_string()
}

/// Counts its own drop: proves a task's future was dropped.
pub struct DropGuard(pub Arc<AtomicUsize>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

pub fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

/// The message of a panic payload (a `String` or a `&str`), or `""`.
pub fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}
