//! A TCP echo server on gort: one goroutine per connection, as in Go.
//!
//! ```text
//! cargo run --release --example echo_server -- 127.0.0.1:7878
//! ```
//!
//! `serve` and `echo` are also used by the tests (`tests/net_echo.rs`) and
//! the TCP benchmark.
#![allow(dead_code)] // parts are used only by the tests that include this file

use std::io;

use gort::net::{TcpListener, TcpStream};

/// Accepts connections forever, each echoed by its own goroutine.
pub async fn serve(listener: TcpListener) -> io::Result<()> {
    loop {
        let (stream, _peer) = listener.accept().await?;
        gort::spawn(echo(stream));
    }
}

/// Echoes everything read back to the peer until it shuts down writing;
/// returns the bytes echoed.
pub async fn echo(stream: TcpStream) -> io::Result<u64> {
    stream.set_nodelay(true)?;
    let (mut rd, mut wr) = stream.into_split();
    let n = futures::io::copy(&mut rd, &mut wr).await?;
    futures::AsyncWriteExt::close(&mut wr).await?;
    Ok(n)
}

#[gort::main]
async fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7878".to_string());
    let listener = TcpListener::bind(&addr).await?;
    println!("echo server on {}", listener.local_addr()?);
    serve(listener).await
}
