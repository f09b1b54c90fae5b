//! Operations of dropped futures leave a shared socket: 20 rounds of
//! 10,000 tasks each run `timeout(1 ms, recv_from)` on one shared
//! `Arc<UdpSocket>` that receives nothing. Every receive waits in the
//! socket's queue and leaves it when the timeout drops its future:
//!
//! - after each round no I/O operation is counted as waiting
//!   (`RuntimeMetrics::io_waiters`);
//! - the process's resident memory stays flat. It is compared with what it
//!   was after two rounds (the first rounds grow the timer wheels' and the
//!   allocator's pools to this load), with a margin for the system
//!   allocator's free lists, which here move the resident size by several
//!   MiB from round to round at a constant live heap. Wakers kept for the
//!   dead receives grew it by ~3 MiB a round (60 MiB in 20 rounds);
//! - the socket still works: one datagram sent to 100 waiting receives is
//!   received by exactly one of them.
//!
//! Alone in its test binary: it reads the whole process's resident size.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use gort::net::UdpSocket;
use gort::runtime::Handle;
use gort::time::timeout;

mod reactor_common;
use reactor_common::on_gort;

/// Resident bytes of this process (Linux: `/proc/self/statm`).
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Allowed growth of the resident size over the measured rounds.
const RSS_MARGIN: usize = 16 << 20;

#[test]
fn waiters_of_timed_out_receives_do_not_pile_up() {
    on_gort("shared_socket_waiters", || async {
        const ROUNDS: usize = 20;
        const TASKS: usize = 10_000;
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let metrics = Handle::current().metrics();
        let mut after = Vec::new();
        for round in 0..ROUNDS {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let socket = socket.clone();
                    gort::spawn(async move {
                        let mut buf = [0u8; 64];
                        timeout(Duration::from_millis(1), socket.recv_from(&mut buf))
                            .await
                            .is_err()
                    })
                })
                .collect();
            for t in tasks {
                assert!(
                    t.await.unwrap(),
                    "nothing was sent: every receive times out"
                );
            }
            assert_eq!(
                metrics.io_waiters(),
                0,
                "round {round}: receives whose futures were dropped still wait"
            );
            after.push(rss());
        }
        eprintln!(
            "resident after each round (KiB): {:?}",
            after.iter().map(|b| b / 1024).collect::<Vec<_>>()
        );
        let (warm, last) = (after[1], after[ROUNDS - 1]);
        assert!(
            last <= warm + RSS_MARGIN,
            "resident memory grew from {warm} to {last} bytes over {} rounds",
            ROUNDS - 2
        );

        // The socket still works: 100 waiters, one datagram, one receiver.
        let got = Arc::new(AtomicUsize::new(0));
        let waiting: Vec<_> = (0..100)
            .map(|_| {
                let (socket, got) = (socket.clone(), got.clone());
                gort::spawn(async move {
                    let mut buf = [0u8; 64];
                    if let Ok(Ok((n, _))) =
                        timeout(Duration::from_millis(500), socket.recv_from(&mut buf)).await
                    {
                        assert_eq!(&buf[..n], b"ping");
                        got.fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        while metrics.io_waiters() < 100 {
            gort::time::sleep(Duration::from_millis(1)).await;
        }
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sender
            .send_to(b"ping", socket.local_addr().unwrap())
            .await
            .unwrap();
        for t in waiting {
            t.await.unwrap();
        }
        assert_eq!(got.load(SeqCst), 1, "one datagram, one receiver");
        assert_eq!(metrics.io_waiters(), 0);
    });
}
