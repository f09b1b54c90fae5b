//! gort under other crates' runtime hooks.

/// hyper 1.x's runtime hooks on gort (the `hyper` feature, which also
/// turns on `tokio-io`).
///
/// hyper asks its user for an executor (for the background tasks of
/// HTTP/2 and of client connections) and a timer (header-read timeouts,
/// keep-alive): [`GortExecutor`](hyper::GortExecutor) spawns goroutines
/// with [`crate::spawn`], [`GortTimer`](hyper::GortTimer) sleeps on
/// [`crate::time`]. The connection itself is a [`crate::net::TcpStream`],
/// which with the `tokio-io` feature implements tokio's
/// `AsyncRead`/`AsyncWrite`, so hyper-util's `TokioIo` adapts it.
///
/// ```
/// use gort::rt::hyper::{GortExecutor, GortTimer};
///
/// // An HTTP/1.1 server connection whose header-read timeout runs on gort.
/// let mut http1 = hyper::server::conn::http1::Builder::new();
/// http1
///     .timer(GortTimer)
///     .header_read_timeout(std::time::Duration::from_secs(5));
///
/// // hyper hands background futures to the executor: here, a goroutine.
/// let (tx, rx) = std::sync::mpsc::channel();
/// hyper::rt::Executor::execute(&GortExecutor, async move { tx.send(7).unwrap() });
/// assert_eq!(rx.recv().unwrap(), 7);
/// ```
pub mod hyper {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::{Duration, Instant};

    /// `hyper::rt::Executor` on gort: each future becomes a goroutine
    /// ([`crate::spawn`]; on the current runtime, or the global one).
    #[derive(Clone, Copy, Debug, Default)]
    pub struct GortExecutor;

    impl<F> ::hyper::rt::Executor<F> for GortExecutor
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        fn execute(&self, fut: F) {
            crate::spawn(fut);
        }
    }

    /// `hyper::rt::Timer` on gort's timers ([`crate::time::sleep`]).
    #[derive(Clone, Copy, Debug, Default)]
    pub struct GortTimer;

    /// A gort sleep as hyper's `Sleep`.
    struct GortSleep(crate::time::Sleep);

    impl Future for GortSleep {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            Pin::new(&mut self.0).poll(cx)
        }
    }

    impl ::hyper::rt::Sleep for GortSleep {}

    impl ::hyper::rt::Timer for GortTimer {
        fn sleep(&self, duration: Duration) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
            Box::pin(GortSleep(crate::time::sleep(duration)))
        }

        fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
            Box::pin(GortSleep(crate::time::sleep_until(deadline)))
        }
    }
}
