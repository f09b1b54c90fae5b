//! smol's executor (async-executor) as a [`Contender`].
//!
//! smol has no runtime object: a program shares one `async_executor::Executor`
//! between as many threads as it wants, each running `ex.run(..)` under
//! `async_io::block_on`, which also drives async-io's reactor (timers, I/O)
//! while the thread has nothing to run. This is the multi-threaded setup
//! smol's documentation shows; `workers` threads do it here.
//!
//! async-executor has no "current executor": [`Contender::spawn`] finds it in
//! a thread-local set on every worker thread (and in `block_on`). Its tasks
//! are cancelled when their handle is dropped, where tokio's and gort's are
//! detached; [`SmolJoinHandle`] detaches on drop so workloads that drop
//! handles mean the same thing on every runtime.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle as ThreadHandle;
use std::time::Duration;

use async_executor::{Executor, FallibleTask};

use super::Contender;

thread_local! {
    /// The executor of the smol contender running on this thread, if any.
    static CURRENT: RefCell<Option<Arc<Executor<'static>>>> = const { RefCell::new(None) };
}

/// Sets [`CURRENT`] to `ex` until dropped, restoring the previous value.
struct Enter(Option<Arc<Executor<'static>>>);

impl Enter {
    fn new(ex: &Arc<Executor<'static>>) -> Enter {
        Enter(CURRENT.with(|c| c.borrow_mut().replace(ex.clone())))
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// smol: an `async_executor::Executor` run by `workers` threads.
pub struct Smol {
    ex: Arc<Executor<'static>>,
    /// Dropping it ends every worker's `ex.run(..)`.
    stop: Option<async_channel::Sender<()>>,
    threads: Vec<ThreadHandle<()>>,
}

/// A smol task that is detached, not cancelled, when the handle is dropped.
pub struct SmolJoinHandle<T> {
    task: Option<FallibleTask<T>>,
}

/// A smol task that ended without an output (it was cancelled: its executor
/// was dropped). A panic in the task is re-raised in the awaiter instead.
#[derive(Debug)]
pub struct Cancelled;

impl<T> Future for SmolJoinHandle<T> {
    type Output = Result<T, Cancelled>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let task = self
            .task
            .as_mut()
            .expect("SmolJoinHandle polled after completion");
        match Pin::new(task).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(out) => {
                self.task = None;
                Poll::Ready(out.ok_or(Cancelled))
            }
        }
    }
}

impl<T> Drop for SmolJoinHandle<T> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.detach();
        }
    }
}

/// Yields once: wakes itself and returns `Pending` on the first poll
/// (smol's `futures_lite::future::yield_now`).
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn spawn_on<F>(ex: &Executor<'static>, fut: F) -> SmolJoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    SmolJoinHandle {
        task: Some(ex.spawn(fut).fallible()),
    }
}

impl Contender for Smol {
    const NAME: &'static str = "smol";

    type JoinHandle<T: Send + 'static> = SmolJoinHandle<T>;
    type JoinError = Cancelled;

    fn build(workers: usize) -> std::io::Result<Self> {
        let ex = Arc::new(Executor::new());
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let mut threads = Vec::with_capacity(workers);
        for i in 0..workers {
            let ex = ex.clone();
            let stopped = stopped.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("smol-worker-{i}"))
                    .spawn(move || {
                        let _enter = Enter::new(&ex);
                        let _ = async_io::block_on(ex.run(stopped.recv()));
                    })?,
            );
        }
        Ok(Smol {
            ex,
            stop: Some(stop),
            threads,
        })
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        let _enter = Enter::new(&self.ex);
        async_io::block_on(fut)
    }

    #[inline]
    fn spawn<F>(fut: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        CURRENT.with(|c| {
            let current = c.borrow();
            let ex = current
                .as_ref()
                .expect("Smol::spawn called outside a smol worker or block_on");
            spawn_on(ex, fut)
        })
    }

    #[inline]
    fn spawn_remote<F>(&self, fut: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_on(&self.ex, fut)
    }

    #[inline]
    fn yield_now() -> impl Future<Output = ()> + Send {
        YieldNow(false)
    }

    #[inline]
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
        futures::FutureExt::map(async_io::Timer::after(duration), drop)
    }

    // The trait's future must be `Send`; an `async fn` cannot say so.
    #[allow(clippy::manual_async_fn)]
    #[inline]
    fn timeout<F: Future + Send>(
        duration: Duration,
        fut: F,
    ) -> impl Future<Output = Result<F::Output, ()>> + Send {
        async move {
            let fut = std::pin::pin!(fut);
            let timer = std::pin::pin!(async_io::Timer::after(duration));
            match futures::future::select(fut, timer).await {
                futures::future::Either::Left((out, _)) => Ok(out),
                futures::future::Either::Right(_) => Err(()),
            }
        }
    }
}

impl Drop for Smol {
    fn drop(&mut self) {
        drop(self.stop.take());
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
