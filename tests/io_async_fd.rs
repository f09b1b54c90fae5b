//! `gort::io::unix::AsyncFd` on a 2-worker gort runtime, over Unix
//! socket pairs in non-blocking mode:
//!
//! - `read_with`/`write_with` move 1 MiB through a pair (every byte
//!   checked) while the writer fills the socket buffer and waits;
//! - `readable` + `try_io`: a `WouldBlock` forgets the readiness, and the
//!   next `readable` waits for new data instead of returning at once;
//! - eight tasks share one `AsyncFd` and each receives one of eight
//!   messages (a datagram pair: message boundaries kept);
//! - `into_inner` deregisters and gives the socket back, still usable;
//! - a regular file cannot be registered (the OS's error).

use std::io::{self, Read, Write};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::sync::Arc;
use std::time::Duration;

use gort::io::unix::{AsyncFd, Interest};

mod reactor_common;
use reactor_common::{on_gort, Rng};

fn pair() -> (AsyncFd<UnixStream>, AsyncFd<UnixStream>) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (AsyncFd::new(a).unwrap(), AsyncFd::new(b).unwrap())
}

#[test]
fn read_with_and_write_with_move_a_mebibyte() {
    on_gort("async_fd_stream", || async {
        let (a, b) = pair();
        let mut data = vec![0u8; 1 << 20];
        Rng::new(7).fill(&mut data);
        let sent = data.clone();
        let writer = gort::spawn(async move {
            let mut off = 0;
            while off < sent.len() {
                off += a.write_with(|mut s| s.write(&sent[off..])).await.unwrap();
            }
            // Dropping `a` closes it: the reader sees end of stream.
        });
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = b.read_with(|mut s| s.read(&mut buf)).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        writer.await.unwrap();
        assert_eq!(got.len(), data.len());
        assert!(got == data, "bytes differ");
    });
}

#[test]
fn a_would_block_try_io_waits_for_new_data() {
    on_gort("async_fd_try_io", || async {
        let (a, b) = pair();
        let b = Arc::new(b);
        a.get_ref().write_all(b"one").unwrap();
        let mut buf = [0u8; 16];
        let mut guard = b.readable().await.unwrap();
        let n = guard
            .try_io(|mut s| s.read(&mut buf))
            .expect("data is there")
            .unwrap();
        assert_eq!(&buf[..n], b"one");
        // The socket is empty now: try_io reports WouldBlock as an Err.
        assert!(guard.try_io(|mut s| s.read(&mut buf)).is_err());
        // So the next readable() waits, until the writer writes.
        let waiting = {
            let b = b.clone();
            gort::spawn(async move {
                let mut guard = b.readable().await.unwrap();
                let mut buf = [0u8; 16];
                let n = guard.try_io(|mut s| s.read(&mut buf)).unwrap().unwrap();
                buf[..n].to_vec()
            })
        };
        gort::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !waiting.is_finished(),
            "readable() returned with nothing to read"
        );
        a.get_ref().write_all(b"two").unwrap();
        assert_eq!(waiting.await.unwrap(), b"two");
    });
}

#[test]
fn tasks_sharing_an_async_fd_each_get_one_message() {
    on_gort("async_fd_shared", || async {
        let (a, b) = UnixDatagram::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let b = Arc::new(AsyncFd::with_interest(b, Interest::READABLE).unwrap());
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let b = b.clone();
                gort::spawn(async move {
                    let mut buf = [0u8; 8];
                    let n = b.read_with(|s| s.recv(&mut buf)).await.unwrap();
                    buf[0..n].to_vec()
                })
            })
            .collect();
        gort::time::sleep(Duration::from_millis(10)).await;
        for i in 0..8u8 {
            a.send(&[i]).unwrap();
        }
        let mut got: Vec<u8> = Vec::new();
        for t in tasks {
            got.extend(t.await.unwrap());
        }
        got.sort();
        assert_eq!(got, (0..8).collect::<Vec<_>>());
    });
}

#[test]
fn into_inner_gives_the_socket_back() {
    on_gort("async_fd_into_inner", || async {
        let (a, b) = pair();
        let a = a.into_inner();
        (&a).write_all(b"x").unwrap();
        let mut buf = [0u8; 1];
        b.read_with(|mut s| s.read_exact(&mut buf)).await.unwrap();
        assert_eq!(&buf, b"x");
        // Registered again after into_inner: nothing of the old
        // registration is left.
        let a = AsyncFd::new(a).unwrap();
        b.get_ref().write_all(b"y").unwrap();
        a.read_with(|mut s| s.read_exact(&mut buf)).await.unwrap();
        assert_eq!(&buf, b"y");
    });
}

#[test]
fn a_regular_file_is_refused() {
    let path = std::env::temp_dir().join(format!("gort-async-fd-{}", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    let err = AsyncFd::new(file).expect_err("epoll refuses regular files");
    assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
    std::fs::remove_file(&path).unwrap();
}
