//! The `tokio-compat` feature: tokio's own I/O and time types inside gort
//! tasks, with no setup.
//!
//! - a `tokio::net::TcpListener` echo server and `tokio::net::TcpStream`
//!   clients, all gort tasks on a 2-worker runtime (every byte checked);
//! - `tokio::time::sleep` and `tokio::time::timeout` in a gort task and in
//!   `gort::block_on`;
//! - hyper-util's client (a tokio-based library: its connector is
//!   `tokio::net`) fetches from the gort hyper server of
//!   `examples/http_server.rs`, inside a gort task.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "../examples/http_server.rs"]
mod http_server;

fn runtime() -> gort::runtime::Runtime {
    gort::runtime::Builder::new()
        .worker_threads(2)
        .build()
        .unwrap()
}

#[test]
fn tokio_tcp_echo_in_gort_tasks() {
    runtime().block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        gort::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                gort::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    loop {
                        let n = stream.read(&mut buf).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        stream.write_all(&buf[..n]).await.unwrap();
                    }
                });
            }
        });
        let clients: Vec<_> = (0..8u8)
            .map(|c| {
                gort::spawn(async move {
                    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                    let msg: Vec<u8> = (0..100_000u32).map(|i| (i as u8) ^ c).collect();
                    let (mut rd, mut wr) = stream.split();
                    let write = async {
                        wr.write_all(&msg).await.unwrap();
                        wr.shutdown().await.unwrap();
                    };
                    let mut back = Vec::new();
                    let read = rd.read_to_end(&mut back);
                    let ((), n) = tokio::join!(write, read);
                    n.unwrap();
                    assert!(back == msg, "client {c}: bytes differ");
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
    });
}

#[test]
fn tokio_timers_in_gort_tasks_and_block_on() {
    let rt = runtime();
    rt.block_on(async {
        let t = gort::spawn(async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            tokio::time::timeout(Duration::from_millis(5), std::future::pending::<()>())
                .await
                .is_err()
        });
        assert!(t.await.unwrap(), "the tokio timeout elapsed");
    });
    // gort::block_on on a plain thread enters the context too (for the
    // futures it polls: a tokio timer is made inside the async block).
    gort::block_on(async { tokio::time::sleep(Duration::from_millis(1)).await });
}

#[test]
fn hyper_util_client_fetches_from_the_gort_server() {
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    runtime().block_on(async {
        let listener = gort::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        gort::spawn(http_server::serve(listener));
        let fetch = gort::spawn(async move {
            let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
            let uri = format!("http://{addr}/").parse().unwrap();
            let response = client.get(uri).await.unwrap();
            assert_eq!(response.status(), 200);
            response.into_body().collect().await.unwrap().to_bytes()
        });
        assert_eq!(fetch.await.unwrap(), http_server::HELLO.as_bytes());
    });
}
