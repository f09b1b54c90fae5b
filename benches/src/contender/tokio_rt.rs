//! tokio's multi-threaded runtime as a [`Contender`].

use std::future::Future;

use super::Contender;

/// tokio's multi-threaded runtime (`new_multi_thread().enable_all()`).
pub struct Tokio {
    rt: tokio::runtime::Runtime,
}

impl Contender for Tokio {
    const NAME: &'static str = "tokio";

    type JoinHandle<T: Send + 'static> = tokio::task::JoinHandle<T>;
    type JoinError = tokio::task::JoinError;

    fn build(workers: usize) -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()?;
        Ok(Tokio { rt })
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.rt.block_on(fut)
    }

    #[inline]
    fn spawn<F>(fut: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        tokio::spawn(fut)
    }

    #[inline]
    fn spawn_remote<F>(&self, fut: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.rt.handle().spawn(fut)
    }

    #[inline]
    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    #[inline]
    fn sleep(duration: std::time::Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }

    // The trait's future must be `Send`; an `async fn` cannot say so.
    #[allow(clippy::manual_async_fn)]
    #[inline]
    fn timeout<F: Future + Send>(
        duration: std::time::Duration,
        fut: F,
    ) -> impl Future<Output = Result<F::Output, ()>> + Send {
        async move { tokio::time::timeout(duration, fut).await.map_err(|_| ()) }
    }
}
