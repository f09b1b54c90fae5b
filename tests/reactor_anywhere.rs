//! The reactor without a gort runtime: from `futures::executor::block_on`
//! on a plain thread and from a tokio multi-thread runtime, where the
//! `gort-netpoll` thread drives it. Each test checks a sleep (never early),
//! a timeout, and a TCP echo round trip (request, half-close, reply read to
//! EOF, every byte checked); under tokio, the round trip and the sleep run
//! in `tokio::spawn`ed tasks. Nothing in this binary starts a gort runtime
//! except the last test, which starts and stops gort runtimes over and
//! over while a plain thread keeps using the reactor (its driver changes
//! from the `gort-netpoll` thread to idle workers and back).
//!
//! Every body runs under the hang watchdog of `channel/tests/support`,
//! which also makes the tests take turns (so no gort runtime is alive
//! during the others).

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{AsyncReadExt, AsyncWriteExt};
use gort::net::{TcpListener, TcpStream, UdpSocket};
use gort::time::{sleep, timeout};

#[path = "../examples/echo_server.rs"]
mod echo_server;

mod reactor_common;
use reactor_common::{support::watchdog, Rng};

/// A sleep of `ms` milliseconds: never early.
async fn checked_sleep(ms: u64) {
    let start = Instant::now();
    sleep(Duration::from_millis(ms)).await;
    let slept = start.elapsed();
    assert!(
        slept >= Duration::from_millis(ms),
        "slept {slept:?} of {ms} ms"
    );
}

/// A listener on loopback and one connection to it echoed by the
/// example's `echo`: `len` random bytes out, the same back, then EOF.
async fn echo_round_trip(len: usize, seed: u64) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = async {
        let (s, _) = listener.accept().await.unwrap();
        echo_server::echo(s).await.unwrap()
    };
    let client = async {
        let mut out = vec![0u8; len];
        Rng::new(seed).fill(&mut out);
        let mut s = TcpStream::connect(addr).await.unwrap();
        let (mut rd, mut wr) = (&s, &s);
        let mut back = Vec::new();
        let (w, r) = futures::join!(
            async {
                wr.write_all(&out).await?;
                wr.close().await
            },
            rd.read_to_end(&mut back)
        );
        w.unwrap();
        r.unwrap();
        assert!(
            back == out,
            "the echo differs ({} of {len} bytes)",
            back.len()
        );
        assert_eq!(s.read(&mut [0u8; 1]).await.unwrap(), 0);
    };
    let (echoed, ()) = futures::join!(server, client);
    assert_eq!(echoed, len as u64);
}

/// A UDP datagram there and back.
async fn udp_round_trip() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    a.send_to(b"ping", b.local_addr().unwrap()).await.unwrap();
    let mut buf = [0u8; 8];
    let (n, from) = b.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr().unwrap()));
}

async fn a_timeout_elapses() {
    let r = timeout(Duration::from_millis(5), std::future::pending::<()>()).await;
    assert!(r.is_err());
}

#[test]
fn from_futures_block_on_on_a_plain_thread() {
    watchdog("anywhere_futures_block_on", || {
        assert!(gort::runtime::Handle::try_current().is_err());
        futures::executor::block_on(async {
            checked_sleep(20).await;
            a_timeout_elapses().await;
            echo_round_trip(1 << 20, 1).await;
            udp_round_trip().await;
            // Several at once on one thread.
            futures::join!(
                checked_sleep(10),
                echo_round_trip(100_000, 2),
                echo_round_trip(1, 3)
            );
        });
    });
}

#[test]
fn from_tokio_multi_thread_tasks() {
    watchdog("anywhere_tokio", || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        rt.block_on(async {
            let echoes: Vec<_> = (0..8)
                .map(|i| tokio::spawn(echo_round_trip(64 * 1024 * (i + 1), 10 + i as u64)))
                .collect();
            let sleeps: Vec<_> = (0..8).map(|i| tokio::spawn(checked_sleep(5 * i))).collect();
            let udp = tokio::spawn(udp_round_trip());
            let t = tokio::spawn(a_timeout_elapses());
            for h in echoes.into_iter().chain(sleeps).chain([udp, t]) {
                h.await.unwrap();
            }
        });
    });
}

#[test]
fn while_gort_runtimes_come_and_go() {
    watchdog("anywhere_runtimes_come_and_go", || {
        let stop = Arc::new(AtomicBool::new(false));
        let plain = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let mut rounds = 0u64;
                while !stop.load(SeqCst) || rounds < 20 {
                    futures::executor::block_on(async {
                        checked_sleep(1).await;
                        echo_round_trip(4096, rounds).await;
                    });
                    rounds += 1;
                }
                rounds
            }
        });
        for i in 0..30 {
            let rt = reactor_common::runtime(2, "anywhere-rt");
            rt.block_on(rt.spawn(async move {
                checked_sleep(2).await;
                echo_round_trip(8192, 100 + i).await;
            }))
            .unwrap();
            drop(rt);
            // Some time with no runtime at all.
            std::thread::sleep(Duration::from_millis(2));
        }
        stop.store(true, SeqCst);
        let rounds = plain.join().unwrap();
        eprintln!("the plain thread did {rounds} rounds meanwhile");
    });
}
