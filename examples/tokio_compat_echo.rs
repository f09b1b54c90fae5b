//! What the `tokio-compat` feature costs: a TCP echo (100 connections,
//! 64-byte messages, each connection sends its next message when the last
//! came back) measured three ways in one process, interleaved, 7 rounds:
//!
//! - `tokio::net` in gort tasks (`tokio-compat`),
//! - `tokio::net` in tokio tasks (a 2-worker tokio runtime),
//! - `gort::net` in gort tasks,
//!
//! all with 2 worker threads; prints the median ns per round trip of
//! each and the ratios.
//!
//! ```text
//! cargo run --release --features tokio-compat --example tokio_compat_echo
//! ```

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONNS: usize = 100;
const MESSAGES: usize = 2_000;
const ROUNDS: usize = 7;

/// One echo run with tokio's types, on whatever runtime polls it;
/// `spawn` starts a task there. ns per round trip.
async fn tokio_echo(
    spawn: fn(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>),
) -> f64 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    spawn(Box::pin(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            spawn(Box::pin(async move {
                let mut buf = [0u8; 64];
                while s.read_exact(&mut buf).await.is_ok() {
                    if s.write_all(&buf).await.is_err() {
                        return;
                    }
                }
            }));
        }
    }));
    // gort's channel works on any executor: it tells when all are done.
    let (tx, rx) = gort::chan::bounded(CONNS);
    let start = Instant::now();
    for _ in 0..CONNS {
        let tx = tx.clone();
        spawn(Box::pin(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut buf = [7u8; 64];
            for _ in 0..MESSAGES {
                s.write_all(&buf).await.unwrap();
                s.read_exact(&mut buf).await.unwrap();
            }
            tx.send(()).await.unwrap();
        }));
    }
    for _ in 0..CONNS {
        rx.recv().await.unwrap();
    }
    start.elapsed().as_nanos() as f64 / (CONNS * MESSAGES) as f64
}

/// The same echo on gort's own types.
async fn gort_echo() -> f64 {
    // Spelled out: with the tokio-io feature gort's TcpStream also has
    // tokio's traits.
    use gort::io::{AsyncReadExt as R, AsyncWriteExt as W};
    let listener = gort::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    gort::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            gort::spawn(async move {
                let mut buf = [0u8; 64];
                while R::read_exact(&mut s, &mut buf).await.is_ok() {
                    if W::write_all(&mut s, &buf).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let start = Instant::now();
    let clients: Vec<_> = (0..CONNS)
        .map(|_| {
            gort::spawn(async move {
                let mut s = gort::net::TcpStream::connect(addr).await.unwrap();
                s.set_nodelay(true).unwrap();
                let mut buf = [7u8; 64];
                for _ in 0..MESSAGES {
                    W::write_all(&mut s, &buf).await.unwrap();
                    R::read_exact(&mut s, &mut buf).await.unwrap();
                }
            })
        })
        .collect();
    for c in clients {
        c.await.unwrap();
    }
    start.elapsed().as_nanos() as f64 / (CONNS * MESSAGES) as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut compat = Vec::new();
    let mut native = Vec::new();
    let mut own = Vec::new();
    for _ in 0..ROUNDS {
        let rt = gort::runtime::Builder::new()
            .worker_threads(2)
            .build()
            .unwrap();
        compat.push(rt.block_on(tokio_echo(|f| {
            gort::spawn(f);
        })));
        drop(rt);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        native.push(rt.block_on(tokio_echo(|f| {
            tokio::spawn(f);
        })));
        rt.shutdown_timeout(Duration::from_secs(1));
        let rt = gort::runtime::Builder::new()
            .worker_threads(2)
            .build()
            .unwrap();
        own.push(rt.block_on(gort_echo()));
    }
    let (c, n, o) = (median(&mut compat), median(&mut native), median(&mut own));
    println!("TCP echo, {CONNS} connections x {MESSAGES} round trips of 64 B, 2 workers, median of {ROUNDS} interleaved rounds (ns per round trip)");
    println!(
        "tokio::net in gort tasks (tokio-compat): {c:8.0}  ({:.2}x tokio)",
        c / n
    );
    println!("tokio::net in tokio tasks:               {n:8.0}");
    println!(
        "gort::net in gort tasks:                 {o:8.0}  ({:.2}x tokio)",
        o / n
    );
}
