//! `yield_now`: Go's `runtime.Gosched`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields the processor: the task goes behind every task that is already
/// runnable on it (the tail of the local ring, never the LIFO slot), and
/// resumes when its turn comes.
///
/// # Examples
///
/// ```
/// let rt = gort::runtime::Runtime::new().unwrap();
/// rt.block_on(gort::spawn(async {
///     for _ in 0..3 {
///         gort::yield_now().await;
///     }
/// }))
/// .unwrap();
/// ```
pub async fn yield_now() {
    YieldNow { yielded: false }.await
}

struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // Woken during its own poll, a gort task is requeued at the ring's
        // tail when the poll returns (see the scheduler's `requeue`).
        cx.waker().wake_by_ref();
        gort_coop::set_wait_reason(gort_coop::WaitReason::Yield);
        Poll::Pending
    }
}
