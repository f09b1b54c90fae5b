//! Loom models of the slow paths: registration racing a release, hand-off,
//! cancellation passing on what it was given. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p gort-sync --release --lib`.
//!
//! The models block in `loom::future::block_on`, whose waker parks the
//! (loom) thread until it is woken, so a lost wake-up is a deadlock loom
//! reports. Futures that a model cancels are polled once by hand with a
//! no-op waker, then dropped.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

mod loom_context;
mod loom_mutex;
mod loom_semaphore;
mod loom_wait_group;

/// Runs `f` under loom with at most `preemptions` preemptions per
/// execution (unless `LOOM_MAX_PREEMPTIONS` says otherwise).
fn model(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut model = loom::model::Builder::new();
    model.preemption_bound.get_or_insert(preemptions);
    model.check(f);
}

/// Polls `future` once with a waker that does nothing.
fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
}
