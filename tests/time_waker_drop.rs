//! A re-entrancy case of the timer wheel, in a binary of its own: when it
//! fails it deadlocks one of the reactor's timer shards (its lock stays
//! held), which would hang later timer tests of the binary.
//!
//! `Sleep::poll` with a waker that will not wake the stored one makes the
//! wheel replace the stored waker. If that old waker is the last reference
//! to something that owns another `Sleep` (a task whose future holds a
//! timer, say), dropping it cancels that timer, and cancelling takes the
//! lock of that timer's shard: the same lock when both timers were
//! inserted by one thread (one shard per thread).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use gort::time::{sleep, Sleep};

mod reactor_common;
use reactor_common::finishes_within;

/// A waker that owns a sleep: when the last clone of the waker goes, the
/// sleep is dropped, which cancels its timer.
struct OwnsASleep(#[allow(dead_code)] Sleep);

impl Wake for OwnsASleep {
    fn wake(self: Arc<Self>) {}
}

/// Re-polling a sleep with a different waker makes the wheel replace the
/// waker it stored. If the old waker was the last reference to something
/// that owns another timer of the same shard, dropping it cancels that
/// timer, which takes the shard's lock: that must not happen while the
/// lock is held (`Reactor::poll_timer` -> `Wheel::poll`).
#[test]
fn replacing_a_stored_waker_may_cancel_another_timer() {
    let done = finishes_within("time_waker_drop_reentry", Duration::from_secs(10), || {
        let mut owned = sleep(Duration::from_secs(60));
        let noop = futures::task::noop_waker();
        let mut cx = Context::from_waker(&noop);
        assert!(Pin::new(&mut owned).poll(&mut cx).is_pending());
        let owner = Waker::from(Arc::new(OwnsASleep(owned)));
        let mut s = sleep(Duration::from_secs(60));
        assert!(Pin::new(&mut s)
            .poll(&mut Context::from_waker(&owner))
            .is_pending());
        drop(owner); // the wheel's clone is now the last one
                     // Polled by "another task": the stored waker is replaced (dropped).
        assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
        drop(s);
    });
    assert!(
        done.is_some(),
        "deadlock: the wheel dropped the replaced waker with the shard's lock held, \
         and that drop cancelled a timer (taking the same lock)"
    );
}
