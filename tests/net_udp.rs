//! `gort::net::UdpSocket` on a 2-worker gort runtime:
//!
//! - binding a taken address is `AddrInUse` with the address in the
//!   message;
//! - `send_to`/`recv_from` between two sockets (sizes up to 60,000 bytes,
//!   the sender's address reported, every byte checked);
//! - `connect` + `send`/`recv` (the connected socket takes only its peer's
//!   datagrams);
//! - two tasks sharing one socket through an `Arc`: both parked in
//!   `recv_from` at once, one datagram wakes one of them, which gets it,
//!   the other gets the next (neither hangs); then 2,000 datagrams
//!   shared by two receivers, each received exactly once;
//! - a connected socket whose peer is gone: the ICMP error comes back as
//!   `ConnectionRefused`, and the next `recv` waits (a timeout around it
//!   elapses) instead of spinning.
//!
//! Every body runs under the hang watchdog of `channel/tests/support`.

use std::collections::HashSet;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Context;
use std::time::Duration;

use gort::net::UdpSocket;
use gort::time::{sleep, timeout};

mod reactor_common;
use reactor_common::{count_pending, datagram_len, finishes_within, on_gort, Rng};

async fn bind() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.expect("bind")
}

/// Binding an address another socket holds fails with `AddrInUse`, and
/// the message names the address.
#[test]
fn binding_a_taken_address_names_it_in_the_error() {
    on_gort("udp_bind_addr_in_use", || async {
        let held = bind().await;
        let addr = held.local_addr().unwrap();
        let err = UdpSocket::bind(addr)
            .await
            .expect_err("the address is taken");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        let msg = err.to_string();
        assert!(msg.contains(&addr.to_string()), "no address in: {msg}");
    });
}

#[test]
fn send_to_and_recv_from_between_two_sockets() {
    on_gort("udp_send_to_recv_from", || async {
        let a = bind().await;
        let b = bind().await;
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let mut rng = Rng::new(7);
        let mut out = vec![0u8; 60_000];
        let mut buf = vec![0u8; 65_536];
        for i in 0..200 {
            let len = datagram_len(i, &mut rng);
            rng.fill(&mut out[..len]);
            assert_eq!(a.send_to(&out[..len], b_addr).await.unwrap(), len);
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!((n, from), (len, a_addr), "datagram {i}");
            assert!(buf[..n] == out[..len], "datagram {i}: bytes differ");
            // And back, to the address it came from.
            b.send_to(&buf[..n], from).await.unwrap();
            let (n, from) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!((n, from), (len, b_addr), "reply {i}");
            assert!(buf[..n] == out[..len], "reply {i}: bytes differ");
        }
    });
}

#[test]
fn connect_then_send_and_recv() {
    on_gort("udp_connect_send_recv", || async {
        let a = bind().await;
        let b = bind().await;
        let stranger = bind().await;
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        a.connect(b_addr).await.unwrap();
        b.connect(a_addr).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), b_addr);
        assert_eq!(b.peer_addr().unwrap(), a_addr);
        let mut buf = [0u8; 64];
        for i in 0..100u32 {
            // A datagram from someone else first: the kernel drops it for
            // a connected socket, so `recv` gets only the peer's.
            stranger.send_to(b"noise", a_addr).await.unwrap();
            b.send(&i.to_le_bytes()).await.unwrap();
            let n = a.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &i.to_le_bytes(), "round {i}");
            a.send(&(!i).to_le_bytes()).await.unwrap();
            let n = b.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &(!i).to_le_bytes(), "round {i}");
        }
    });
}

#[test]
fn two_tasks_sharing_a_socket_both_receive() {
    on_gort("udp_shared_socket", || async {
        let shared = Arc::new(bind().await);
        let addr = shared.local_addr().unwrap();
        let sender = bind().await;
        let parked = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let receivers: Vec<_> = (0..2)
            .map(|i| {
                let (socket, parked) = (shared.clone(), parked.clone());
                gort::spawn(async move {
                    let mut buf = [0u8; 16];
                    let n = {
                        let mut recv = pin!(socket.recv_from(&mut buf));
                        let recv = |cx: &mut Context<'_>| recv.as_mut().poll(cx);
                        count_pending(&parked[i], recv).await.unwrap().0
                    };
                    buf[..n].to_vec()
                })
            })
            .collect();
        // Both wait on the one registration before anything is sent.
        while parked.iter().any(|p| p.load(SeqCst) == 0) {
            sleep(Duration::from_millis(1)).await;
        }
        sender.send_to(b"first", addr).await.unwrap();
        // The datagram woke one receiver, which took it (and woke the
        // other in case more had come). Give them the time, then send the
        // second.
        sleep(Duration::from_millis(20)).await;
        sender.send_to(b"second", addr).await.unwrap();
        let mut got = Vec::new();
        for r in receivers {
            got.push(r.await.unwrap());
        }
        got.sort();
        assert_eq!(got, vec![b"first".to_vec(), b"second".to_vec()]);
    });
}

#[test]
fn two_receivers_share_2000_datagrams_each_received_once() {
    const N: u32 = 2000;
    on_gort("udp_shared_socket_stress", || async {
        let shared = Arc::new(bind().await);
        let addr = shared.local_addr().unwrap();
        let sender = bind().await;
        // Receivers report what they got; the sender waits for each report
        // before sending the next, so no datagram is ever dropped for want
        // of buffer space.
        let (tx, rx) = gort::chan::unbounded::<u32>();
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let (socket, tx) = (shared.clone(), tx.clone());
                gort::spawn(async move {
                    let mut buf = [0u8; 4];
                    let mut count = 0u32;
                    loop {
                        let (n, _) = socket.recv_from(&mut buf).await.unwrap();
                        assert_eq!(n, 4);
                        let v = u32::from_le_bytes(buf);
                        if v == u32::MAX {
                            return count; // the stop datagram: one each
                        }
                        count += 1;
                        tx.send(v).await.unwrap();
                    }
                })
            })
            .collect();
        let mut seen = HashSet::new();
        for i in 0..N {
            sender.send_to(&i.to_le_bytes(), addr).await.unwrap();
            let v = rx.recv().await.unwrap();
            assert_eq!(v, i, "datagram {i}: got {v}");
            assert!(seen.insert(v), "{v} received twice");
        }
        for _ in 0..2 {
            sender.send_to(&u32::MAX.to_le_bytes(), addr).await.unwrap();
        }
        let mut total = 0;
        for r in receivers {
            let count = r.await.unwrap();
            eprintln!("a receiver got {count} datagrams");
            total += count;
        }
        assert_eq!(total, N);
    });
}

/// A connected UDP socket whose peer is gone gets an ICMP "port
/// unreachable": `recv` reports it once as `ConnectionRefused`. After that,
/// with nothing to receive, `recv` must wait like any other `recv` (here:
/// until a timeout around it elapses).
///
/// The error also arrives as an `EPOLLERR` event, which sets the
/// registration's ERROR readiness bit; if that bit stayed set forever, every
/// later `recv` would see "ready", get `WouldBlock`, clear only READABLE,
/// see "ready" again, and spin inside one `poll` without ever returning
/// (the task never yields, the timeout never gets a chance).
///
/// The body runs on a plain thread under `futures::executor::block_on`
/// with its own 10 s limit (a spin holds a core; it is not a speed limit).
#[test]
fn connected_socket_after_icmp_error_recv_waits_instead_of_spinning() {
    let results = finishes_within("udp_icmp_error", Duration::from_secs(10), || {
        futures::executor::block_on(async {
            let gone = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let gone_addr = gone.local_addr().unwrap();
            drop(gone);
            let a = bind().await;
            a.connect(gone_addr).await.unwrap();
            a.send(b"anyone?").await.unwrap();
            let mut buf = [0u8; 16];
            let first = timeout(Duration::from_secs(2), a.recv(&mut buf)).await;
            let second = timeout(Duration::from_millis(50), a.recv(&mut buf)).await;
            let kind = |r: io::Result<usize>| r.map_err(|e| e.kind());
            (first.map(kind), second.map(kind))
        })
    });
    let Some((first, second)) = results else {
        panic!(
            "recv after the ICMP error never returned (the thread is still \
             spinning in the future's poll: the timeout could not fire)"
        )
    };
    assert_eq!(
        first,
        Ok(Err(io::ErrorKind::ConnectionRefused)),
        "the ICMP error comes back on the next recv"
    );
    assert!(
        second.is_err(),
        "nothing to receive: the recv waits until the timeout, got {second:?}"
    );
}
