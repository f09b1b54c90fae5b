//! hyper 1.x on gort: a hello-world HTTP/1.1 server.
//!
//! ```text
//! cargo run --release --features hyper --example http_server -- 127.0.0.1:8080
//! curl http://127.0.0.1:8080/
//! ```
//!
//! gort's `TcpStream` implements tokio's `AsyncRead`/`AsyncWrite` with the
//! `tokio-io` feature (turned on by `hyper`), so hyper-util's `TokioIo`
//! adapts it to hyper; hyper's two runtime hooks come from
//! `gort::rt::hyper`: `GortExecutor` (background tasks go to `gort::spawn`)
//! and `GortTimer` (header-read timeouts and keep-alive on `gort::time`).
#![allow(dead_code)] // parts are used only by the test that includes this file

use std::convert::Infallible;
use std::io;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use gort::net::TcpListener;
use gort::rt::hyper::{GortExecutor, GortTimer};

/// The body `GET /` answers with.
pub const HELLO: &str = "Hello from gort!\n";

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
