//! gort's runtime as a [`Contender`].

use std::future::Future;

use super::Contender;

/// gort's M:N runtime (`gort::runtime::Builder::new().worker_threads(n)`).
pub struct Gort {
    rt: gort::runtime::Runtime,
}

impl Gort {
    /// The runtime itself (its metrics, for the probes).
    pub fn runtime(&self) -> &gort::runtime::Runtime {
        &self.rt
    }
}

impl Contender for Gort {
    const NAME: &'static str = "gort";

    type JoinHandle<T: Send + 'static> = gort::JoinHandle<T>;
    type JoinError = gort::JoinError;

    fn build(workers: usize) -> std::io::Result<Self> {
        let rt = gort::runtime::Builder::new()
            .worker_threads(workers)
            .build()?;
        Ok(Gort { rt })
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
        gort::spawn(fut)
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
        gort::yield_now()
    }

    #[inline]
    fn sleep(duration: std::time::Duration) -> impl Future<Output = ()> + Send {
        gort::time::sleep(duration)
    }

    // The trait's future must be `Send`; an `async fn` cannot say so.
    #[allow(clippy::manual_async_fn)]
    #[inline]
    fn timeout<F: Future + Send>(
        duration: std::time::Duration,
        fut: F,
    ) -> impl Future<Output = Result<F::Output, ()>> + Send {
        async move { gort::time::timeout(duration, fut).await.map_err(|_| ()) }
    }
}
