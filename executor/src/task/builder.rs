//! `task::Builder`: spawning a task with a name.

use std::future::Future;
use std::panic::Location;

use super::JoinHandle;
use crate::runtime::Handle;

/// Spawns a task with options: for now, a name, shown by the goroutine
/// dump ([`Handle::dump`]) and in the `gort::task` tracing events.
///
/// ```
/// use gort::runtime::TaskState;
///
/// let rt = gort::runtime::Runtime::new().unwrap();
/// let (tx, rx) = gort::chan::bounded::<()>(0);
/// let acceptor = gort::task::Builder::new()
///     .name("acceptor")
///     .spawn_on(async move { rx.recv().await }, rt.handle());
/// let named = loop {
///     let dump = rt.handle().dump();
///     if let Some(t) = dump.iter().find(|t| t.state() == TaskState::Parked) {
///         break t.clone();
///     }
///     std::thread::yield_now();
/// };
/// assert_eq!(named.name(), Some("acceptor"));
/// assert!(named.to_string().contains("\"acceptor\" [chan receive"));
/// drop(tx);
/// rt.block_on(acceptor).unwrap().unwrap_err(); // the channel closed
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder<'a> {
    name: Option<&'a str>,
}

impl<'a> Builder<'a> {
    /// A builder with no options set: its `spawn` is [`crate::spawn`].
    pub fn new() -> Self {
        Builder::default()
    }

    /// Names the task. The name is copied into the task (one allocation
    /// per named spawn); unnamed tasks carry none.
    pub fn name(mut self, name: &'a str) -> Self {
        self.name = Some(name);
        self
    }

    /// Spawns `future` as [`crate::spawn`] does: on the current runtime,
    /// or on the global one outside any.
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        crate::spawn_at(future, Location::caller(), self.name.map(Box::from))
    }

    /// Spawns `future` on the runtime of `handle`.
    #[track_caller]
    pub fn spawn_on<F>(self, future: F, handle: &Handle) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        handle
            .scheduler
            .spawn(future, Location::caller(), self.name.map(Box::from))
    }
}
