//! hyper 1.x on gort: a hello-world HTTP/1.1 server.
//!
//! ```text
//! cargo run --release --features tokio-io --example http_server -- 127.0.0.1:8080
//! curl http://127.0.0.1:8080/
//! ```
//!
//! gort's `TcpStream` implements tokio's `AsyncRead`/`AsyncWrite` with the
//! `tokio-io` feature, so hyper-util's `TokioIo` adapts it to hyper; this
//! file supplies hyper's two runtime hooks on gort: [`GortExecutor`]
//! (`hyper::rt::Executor`: background tasks go to `gort::spawn`) and
//! [`GortTimer`] (`hyper::rt::Timer`: header-read timeouts and keep-alive
//! on `gort::time`).
#![allow(dead_code)] // parts are used only by the test that includes this file

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use gort::net::TcpListener;

/// The body `GET /` answers with.
pub const HELLO: &str = "Hello from gort!\n";

/// `hyper::rt::Executor` on gort: each future becomes a goroutine.
#[derive(Clone, Copy, Debug, Default)]
pub struct GortExecutor;

impl<F> hyper::rt::Executor<F> for GortExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        gort::spawn(fut);
    }
}

/// `hyper::rt::Timer` on gort's timers.
#[derive(Clone, Copy, Debug, Default)]
pub struct GortTimer;

/// A gort sleep as hyper's `Sleep`.
struct GortSleep(gort::time::Sleep);

impl Future for GortSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl hyper::rt::Sleep for GortSleep {}

impl hyper::rt::Timer for GortTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(GortSleep(gort::time::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(GortSleep(gort::time::sleep_until(deadline)))
    }
}

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = if req.uri().path() == "/" {
        HELLO
    } else {
        "not found\n"
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    if req.uri().path() != "/" {
        *resp.status_mut() = hyper::StatusCode::NOT_FOUND;
    }
    Ok(resp)
}

/// Serves HTTP/1.1 on `listener` forever: one goroutine per connection.
pub async fn serve(listener: TcpListener) -> io::Result<()> {
    loop {
        let (stream, _peer) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let conn = async move {
            let served = http1::Builder::new()
                .timer(GortTimer)
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service_fn(hello))
                .await;
            if let Err(e) = served {
                eprintln!("http_server: connection error: {e}");
            }
        };
        hyper::rt::Executor::execute(&GortExecutor, conn);
    }
}

#[gort::main]
async fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let listener = TcpListener::bind(&addr).await?;
    println!("http://{}/", listener.local_addr()?);
    serve(listener).await
}
